#!/usr/bin/env bash
# Crash consistency over the whole chain: kill -9 at random moments during
# ingest (the hospital's and the GP's four files), during izagw serve's
# scheduled closing and push of a period, and during izamon's writes, at
# least 50 kills in all, each step run again after its kill until it
# completes. Afterwards the gateway has what a run without a single kill
# has: the same event counts and KPIs, the store's integrity check passes,
# the period was closed by one report, izamon holds that one report once
# with the same values as the clean run's, the ledger and the audit chain
# verify.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in sqlite3 curl jq; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 6000 --seed 21 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
files=("$hosp $ex/hospital/Patient.ndjson" "$hosp $ex/hospital/Encounter.ndjson" "$gp $ex/gp/Encounter.ndjson" "$gp $ex/gp/Patient.ndjson")

# izamon, run as the background job itself (so a SIGKILL reaches it), with
# a watchdog bounding it in time
m="$E2E_TMP/mon"
mkdir -p "$m"
echo "{\"data_dir\": \"$m/data\", \"ca\": \"$pki/ca.pem\", \"server_cert\": \"$pki/monitor-chain.pem\", \"server_key\": \"$pki/monitor.key\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
mon init >/dev/null
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-crash >/dev/null
port=0 mon_pid="" gw_pid="" dogs=()
start_mon() {
	rm -f "$m/port"
	"$IZAMON" --config "$m/config.json" serve --port "$port" --port-file "$m/port" 2>>"$m/serve.log" &
	mon_pid=$!
	(sleep 300; kill -KILL "$mon_pid") >/dev/null 2>&1 &
	dogs+=($!)
	for _ in $(seq 1 50); do [ -s "$m/port" ] && break; sleep 0.1; done
	port=$(cat "$m/port" 2>/dev/null || echo "$port")
}
stop() { # PIDVAR SIGNAL
	local p=${!1}
	[ -n "$p" ] && kill -"$2" "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	eval "$1=''"
}
trap 'stop mon_pid KILL; stop gw_pid KILL; kill "${dogs[@]}" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
start_mon

config() { # the gateway's configuration, with izamon's current port
	echo "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"plan-crash\",
 \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\",
 \"monitor_url\": \"https://127.0.0.1:$port\", \"monitor_ca\": \"$pki/ca.pem\",
 \"intake_cert\": \"$pki/intake-chain.pem\", \"intake_key\": \"$pki/intake.key\", \"intake_ca\": \"$pki/ca.pem\",
 \"schedule\": {\"every\": \"year\", \"from\": \"2025\", \"close_after_days\": 10, \"check_seconds\": 1}}"
}

# the clean run: every step once, nobody killed, nothing pushed; how long
# each ingest takes (ms) sets the range of the kill moments below
ref="$E2E_TMP/ref"
gw_new "$ref" "{\"provider_consent\": [\"$hosp\", \"$gp\"]}"
durs=()
for f in "${files[@]}"; do
	t0=$(date +%s%N)
	gw "$ref" ingest --threads 2 --source ${f%% *} "${f#* }" >/dev/null 2>&1 || true
	durs+=($((($(date +%s%N) - t0) / 1000000 + 1)))
done
gw "$ref" report --period 2025 --out "$E2E_TMP/ref-report.json" 2>/dev/null

d="$E2E_TMP/gw"
gw_new "$d" "$(config)"
kills=0

# a kill counts when it found the process still running (status 137)
killed() { # PID: kill -9 and reap it; 0 when it was running
	local st=0
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || st=$?
	[ "$st" -eq 137 ]
}
msleep() { sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"; }

# 1. ingest: each file killed at random moments within its clean duration,
# 9 times, then run to its end (exit 0, or 5: quarantined records)
for i in "${!files[@]}"; do
	f=${files[$i]}
	for attempt in $(seq 1 9); do
		(cd "$d" && exec "$IZAGW" --config config.json ingest --threads 2 --source ${f%% *} "${f#* }" >/dev/null 2>&1) &
		pid=$!
		msleep $((RANDOM % ${durs[$i]}))
		killed "$pid" && kills=$((kills + 1))
	done
	st=0
	gw "$d" ingest --threads 2 --source ${f%% *} "${f#* }" >/dev/null 2>&1 || st=$?
	[ "$st" -eq 0 ] || [ "$st" -eq 5 ] || not_ok "ingest of ${f#* } failed after the kills ($st)"
done
ingest_kills=$kills
expect_eq "the store's integrity check after $kills kills during ingest" ok "$(sqlite3 "$d/izagw-data/events.db" "PRAGMA integrity_check")"
for t in enc events patients; do
	expect_eq "  $t: as in the run without kills" "$(sqlite3 "$ref/izagw-data/events.db" "SELECT count(*) FROM $t")" "$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM $t")"
done
for p in 2025-Q1 2025-Q3 2025; do
	a=$(gw "$ref" kpis --period $p --format json | jq -c .kpis)
	b=$(gw "$d" kpis --period $p --format json | jq -c .kpis)
	[ "$a" = "$b" ] && ok "  KPIs $p: as in the run without kills" || not_ok "KPIs $p differ after the kills"
done

# 2. the scheduled closing and its push, killed at random moments, and
# izamon killed mid-write, until izamon holds the report
for round in $(seq 1 40); do
	config >"$d/config.json"
	(cd "$d" && exec "$IZAGW" --config config.json serve --port 0 2>>"$E2E_TMP/serve.log") &
	gw_pid=$!
	(sleep 120; kill -KILL "$gw_pid") >/dev/null 2>&1 &
	dogs+=($!)
	msleep $((RANDOM % 1200))
	if [ $((round % 3)) -eq 0 ]; then
		killed "$mon_pid" && kills=$((kills + 1))
		start_mon
	fi
	killed "$gw_pid" && kills=$((kills + 1))
	gw_pid=
	[ "$kills" -ge 56 ] && [ "$(sqlite3 "$m/data/izamon.db" "SELECT count(*) FROM reports")" -ge 1 ] && break
done
# recovery: once more without a kill, until the report is delivered
config >"$d/config.json"
(cd "$d" && exec "$IZAGW" --config config.json serve --port 0 2>>"$E2E_TMP/serve.log") &
gw_pid=$!
for _ in $(seq 1 100); do
	[ "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) FROM reports WHERE state = 'sent'" 2>/dev/null)" = 1 ] && break
	sleep 0.2
done
stop gw_pid TERM
ok "$kills kills in all ($ingest_kills during ingest, $((kills - ingest_kills)) of izagw serve and izamon)"
[ "$kills" -ge 50 ] || not_ok "fewer than 50 kills"

expect_eq "2025 closed once, by one report" 1 "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) FROM closings WHERE period = '2025'")"
expect_eq "  one report in the outbox, delivered" "1 sent" "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) || ' ' || min(state) FROM reports")"
rid=$(sqlite3 "$d/izagw-data/outbox.db" "SELECT report_id FROM closings WHERE period = '2025'")
expect_eq "izamon holds that report, once" "1 $rid" "$(sqlite3 "$m/data/izamon.db" "SELECT count(*) || ' ' || min(id) FROM reports")"
scores() { jq -c '[.entry[].resource | select(.resourceType == "MeasureReport") | {m: .measure, g: [.group[] | {population, measureScore}]}]'; }
expect_eq "  with the values of the run without kills" "$(scores <"$E2E_TMP/ref-report.json" | sha256sum)" "$(sqlite3 "$m/data/izamon.db" "SELECT body FROM reports" | scores | sha256sum)"
[ "$(scores <"$E2E_TMP/ref-report.json" | jq '[.[].g[] | select(.measureScore)] | length')" -ge 5 ] && ok "  (at least 5 released values compared)" || not_ok "too few released values to compare"
rel=$(sqlite3 "$d/izagw-data/ledger.db" "SELECT count(*) FROM releases WHERE period = '2025'")
[ "$(grep -c '"period.closed"' "$E2E_TMP/serve.log")" -le 1 ] && ok "  closed at most once in the log; $rel release(s) of 2025 in the ledger (a kill between the record and the closing leaves one unsent)" || not_ok "closed twice in the log"
mon audit verify | grep -q 'audit log intact' && ok "izamon's audit chain verifies" || not_ok "izamon's audit chain broken"
gw "$d" status >"$E2E_TMP/status" 2>&1 || true
grep -q 'hash chain intact' "$E2E_TMP/status" && ok "the gateway's ledger verifies" || not_ok "ledger: $(cat "$E2E_TMP/status")"
expect_eq "izamon's database integrity" ok "$(sqlite3 "$m/data/izamon.db" "PRAGMA integrity_check")"
expect_eq "the outbox's integrity" ok "$(sqlite3 "$d/izagw-data/outbox.db" "PRAGMA integrity_check")"
finish
