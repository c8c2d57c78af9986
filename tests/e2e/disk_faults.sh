#!/usr/bin/env bash
# Disk full and a read-only data directory, on small tmpfs mounts: the
# gateway's ingest and report and izamon's receipt fail with a clear error
# (naming the file and the reason), nothing half-written stays behind, the
# integrity checks pass, reads go on working, and once there is room again
# the same commands give what a gateway on a healthy disk gives; a report
# izamon could not store waits in the outbox and arrives later. Needs mount
# (root with CAP_SYS_ADMIN); without it the test is skipped (exit 77).
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in sqlite3 curl jq; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done

fs="$E2E_TMP/fs" mfs="$E2E_TMP/mfs"
mkdir -p "$fs" "$mfs"
if ! mount -t tmpfs -o size=48m tmpfs "$fs" 2>/dev/null; then
	echo "# skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"
	rm -rf "$E2E_TMP"
	exit 77
fi
mount -t tmpfs -o size=24m tmpfs "$mfs"
mon_pid=""
cleanup() {
	[ -n "$mon_pid" ] && kill -TERM "$mon_pid" 2>/dev/null && wait "$mon_pid" 2>/dev/null || true
	umount "$fs" 2>/dev/null || umount -l "$fs" 2>/dev/null || true
	umount "$mfs" 2>/dev/null || umount -l "$mfs" 2>/dev/null || true
	rm -rf "$E2E_TMP"
}
trap cleanup EXIT
fill() { # MOUNT KB: leave about KB kilobytes free
	local avail
	avail=$(df -Pk "$1" | awk 'NR == 2 { print $4 }')
	[ "$avail" -gt "$2" ] && dd if=/dev/zero of="$1/filler.$RANDOM" bs=1k count=$((avail - $2)) 2>/dev/null || true
}

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 2000 --seed 5 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")

# izamon, its data on the second mount
m="$E2E_TMP/mon"
mkdir -p "$m"
echo "{\"data_dir\": \"$mfs/data\", \"ca\": \"$pki/ca.pem\", \"server_cert\": \"$pki/monitor-chain.pem\", \"server_key\": \"$pki/monitor.key\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
mon init >/dev/null
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-disk >/dev/null
timeout 300 "$IZAMON" --config "$m/config.json" serve --port 0 --port-file "$m/port" 2>"$m/serve.log" &
mon_pid=$!
for _ in $(seq 1 50); do [ -s "$m/port" ] && break; sleep 0.1; done
url="https://127.0.0.1:$(cat "$m/port")"

cfg="{\"data_dir\": \"$fs/data\", \"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"plan-disk\",
 \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\",
 \"monitor_url\": \"$url\", \"monitor_ca\": \"$pki/ca.pem\"}"
d="$E2E_TMP/gw"
mkdir -p "$d"
echo "$cfg" >"$d/config.json"
gw "$d" init --region ZK02 >/dev/null
ref="$E2E_TMP/ref"
gw_new "$ref" "{\"provider_consent\": [\"$hosp\", \"$gp\"]}"
for r in "$ref" "$d"; do
	gw "$r" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null 2>&1 || true
done
gw "$ref" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null 2>&1 || true
store="$fs/data/events.db"
batches() { sqlite3 "$store" "SELECT count(*) FROM batches"; }

# 1. disk full during ingest
fill "$fs" 300
b0=$(batches)
st=0
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null 2>"$E2E_TMP/full.err" || st=$?
expect_eq "disk full: ingest exits 1" 1 "$st"
grep -q "events.db: cannot .*: database or disk is full" "$E2E_TMP/full.err" && ok "  the error names the store and the reason" || not_ok "  error: $(cat "$E2E_TMP/full.err")"
grep -q "Encounter.ndjson: nothing of this file was stored" "$E2E_TMP/full.err" && ok "  and says that nothing of the file was stored" || not_ok "  no word on the file"
[ "$(batches)" -le $((b0 + 1)) ] && ok "  no half batch: $(( $(batches) - b0 )) of 2 files committed whole" || not_ok "batches: $b0 -> $(batches)"
expect_eq "  the store's integrity check" ok "$(sqlite3 "$store" "PRAGMA integrity_check")"

# 2. disk full during a report: refused, the ledger intact, nothing queued
fill "$fs" 0
st=0
gw "$d" report --period 2025 --out /dev/null 2>"$E2E_TMP/rep.err" || st=$?
expect_eq "disk full: report exits 1" 1 "$st"
grep -qi "full\|space" "$E2E_TMP/rep.err" && ok "  the error says the disk is full" || not_ok "  error: $(cat "$E2E_TMP/rep.err")"
rm -f "$fs"/filler.*
gw "$d" status >"$E2E_TMP/status" 2>&1 || true
grep -q "releases          0\|hash chain intact" "$E2E_TMP/status" && ok "  the ledger is intact" || not_ok "  status: $(cat "$E2E_TMP/status")"
expect_eq "  nothing queued" "" "$(sqlite3 "$fs/data/outbox.db" "SELECT id FROM reports" 2>/dev/null)"

# 3. room again: the same as on a healthy disk
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null 2>&1 || true
for p in 2025-Q2 2025; do
	a=$(gw "$ref" kpis --period $p --format json | jq -c .kpis)
	b=$(gw "$d" kpis --period $p --format json | jq -c .kpis)
	[ "$a" = "$b" ] && ok "room again: KPIs $p as on a healthy disk" || not_ok "KPIs $p differ"
done

# 4. a read-only data directory: writes refused clearly, reads work
mount -o remount,ro "$fs"
st=0
gw "$d" ingest --source "$gp" "$ex/gp/Encounter.ndjson" >/dev/null 2>"$E2E_TMP/ro.err" || st=$?
expect_eq "read-only: ingest exits 1" 1 "$st"
grep -q "$fs/data/.*\(Read-only file system\|readonly database\)" "$E2E_TMP/ro.err" && ok "  the error names the file in the data directory and says read-only" || not_ok "  error: $(cat "$E2E_TMP/ro.err")"
a=$(gw "$ref" kpis --period 2025 --format json | jq -c .kpis)
[ "$a" = "$(gw "$d" kpis --period 2025 --format json 2>/dev/null | jq -c .kpis)" ] && ok "  kpis still work, with the same values" || not_ok "  kpis on a read-only store"
gw "$d" status >"$E2E_TMP/ro-status" 2>&1 && ok "  status still works" || not_ok "  status on a read-only store: $(cat "$E2E_TMP/ro-status")"
st=0
gw "$d" report --period 2025 --out /dev/null 2>"$E2E_TMP/ro2.err" || st=$?
expect_eq "  report exits 1" 1 "$st"
grep -q "ledger.db: .*\(Read-only file system\|readonly database\)" "$E2E_TMP/ro2.err" && ok "  naming the ledger and saying read-only" || not_ok "  error: $(cat "$E2E_TMP/ro2.err")"
mount -o remount,rw "$fs"
expect_eq "  the store's integrity check afterwards" ok "$(sqlite3 "$store" "PRAGMA integrity_check")"

# 5. izamon's disk full: the report waits in the outbox, arrives later
gw "$d" report --period 2025 --out /dev/null 2>/dev/null
fill "$mfs" 40
st=0
gw "$d" push >"$E2E_TMP/push.out" 2>&1 || st=$?
expect_eq "izamon's disk full: push says to retry (exit 5)" "5 1" "$st $(awk '/^push:/{print $4; exit}' "$E2E_TMP/push.out")"
expect_eq "  the report waits in the outbox" queued "$(sqlite3 "$fs/data/outbox.db" "SELECT state FROM reports")"
expect_eq "  izamon stored nothing" 0 "$(sqlite3 "$mfs/data/izamon.db" "SELECT count(*) FROM reports")"
curl -s --max-time 5 --cacert "$pki/ca.pem" "$url/healthz" | grep -q ok && ok "  izamon keeps running" || not_ok "izamon died on a full disk"
rm -f "$mfs"/filler.*
gw "$d" push --all >/dev/null 2>&1 || true
expect_eq "room again: the report arrives" "sent 1" "$(sqlite3 "$fs/data/outbox.db" "SELECT state FROM reports") $(sqlite3 "$mfs/data/izamon.db" "SELECT count(*) FROM reports")"
mon audit verify | grep -q 'audit log intact' && ok "izamon's audit chain verifies" || not_ok "audit chain broken"
expect_eq "izamon's integrity check" ok "$(sqlite3 "$mfs/data/izamon.db" "PRAGMA integrity_check")"
finish
