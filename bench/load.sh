#!/usr/bin/env bash
# bench/load.sh - izamon and izagw serve under concurrent load, over loopback
# (127.0.0.1) only, bounded in count and time (issue 8, "Load").
#
#   bench/load.sh
#
# 1. A test-only PKI (certs/make-dev-pki.sh) with a certificate for each of
#    the 31 zorgkantoorregio's (mappings/regions/regions.csv) and 20 care
#    providers; izamon init, the 31 regions enrolled for one plan
#    (plan-load-31, written for this run and loaded with the 2025 key, so
#    every stored report is evaluated as in production).
# 2. Per region a real gateway: izagen --region ZKnn (small --patients),
#    izagw ingest of both sources, izagw report for 2025-01 ... 2025-12 with
#    signing_key/signing_chain/plan: 12 signed reports in its outbox, 372 in
#    all (2 regions at a time). Body and JWS are taken out of the outbox.
# 3. izamon serve; 31 clients at once (one per region, its own client
#    certificate), each POSTing its 12 reports to /reports in sequence with
#    curl: per-request latency, errors (non-2xx), izamon's peak memory, the
#    reports izamon stored (must be 372).
# 4. izagw serve (the intake); 20 providers at once (own certificates), each
#    POSTing LOAD_UPLOADS bodies of ~1 MB NDJSON to /ndjson in sequence: the
#    same figures, and the batches the gateway stored (must be 20 x uploads).
#
# Environment (all optional):
#   LOAD_DIR             work dir (/tmp/iza-load; replaced each run)
#   LOAD_PATIENTS        izagen --patients per region (400)
#   LOAD_UPLOADS         uploads per provider in part 4 (5)
#   LOAD_BODY_BYTES      size of each upload (1000000)
#   LOAD_SERVER_TIMEOUT  seconds any server may run (420)
#   LOAD_PLAN            0: enrol the regions for the plan but do not load
#                        it (izamon then stores the reports without
#                        evaluating milestones); default 1
#   IZAMON_DATABASE_URL  postgresql://... : izamon's database instead of
#                        SQLite (an existing, empty database; izamon init
#                        makes the tables)
#   IZAGW, IZAMON, IZAGEN  binaries; without them the script builds
#                        build-bench with scripts/setup.sh
# Exits non-zero when any request was not answered 2xx or a count is wrong.
# Prints a table and writes it to bench/out/load-<date>.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
W=${LOAD_DIR:-/tmp/iza-load}
PATIENTS=${LOAD_PATIENTS:-400}
UPLOADS=${LOAD_UPLOADS:-5}
BODY_BYTES=${LOAD_BODY_BYTES:-1000000}
SRV_TIMEOUT=${LOAD_SERVER_TIMEOUT:-420}
LOAD_PLAN=${LOAD_PLAN:-1}
NPROV=20
PLAN=plan-load-31
T_START=$(date +%s.%N)

say() { printf 'load: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- tools
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for t in curl jq sqlite3 openssl timeout pgrep; do
	command -v $t >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
	pk=()
	for t in "${missing[@]}"; do
		case $t in timeout) pk+=(coreutils) ;; pgrep) pk+=(procps) ;; *) pk+=("$t") ;; esac
	done
	say "installing ${pk[*]}"
	as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${pk[@]}" >/dev/null
fi
if [ -z "${IZAGW:-}" ] || [ -z "${IZAMON:-}" ] || [ -z "${IZAGEN:-}" ]; then
	say "building build-bench (scripts/setup.sh build-bench)"
	"$ROOT/scripts/setup.sh" build-bench
	IZAGW=${IZAGW:-$ROOT/build-bench/izagw}
	IZAMON=${IZAMON:-$ROOT/build-bench/izamon}
	IZAGEN=${IZAGEN:-$ROOT/build-bench/izagen}
fi
for b in "$IZAGW" "$IZAMON" "$IZAGEN"; do [ -x "$b" ] || die "no binary at $b"; done

DBJSON=""
DBKIND=sqlite
if [ -n "${IZAMON_DATABASE_URL:-}" ]; then
	[[ $IZAMON_DATABASE_URL == postgresql://* ]] || die "IZAMON_DATABASE_URL must be a postgresql:// URL"
	DBJSON="\"database\": $(jq -Rn --arg u "$IZAMON_DATABASE_URL" '$u'),"
	DBKIND=postgresql
fi

mapfile -t REGIONS < <(tail -n +2 "$ROOT/mappings/regions/regions.csv" | cut -d, -f1 | grep -E '^ZK[0-9]{2}$')
[ ${#REGIONS[@]} -eq 31 ] || die "expected 31 zorgkantoorregio codes in mappings/regions/regions.csv, found ${#REGIONS[@]}"
PROVS=()
for i in $(seq -w 1 $NPROV); do PROVS+=("013000$i"); done

case $W in "" | / | "$ROOT" | "$HOME") die "LOAD_DIR=$W: refusing to replace it" ;; esac
rm -rf "$W"
mkdir -p "$W"
LOG=$W/logs
mkdir -p "$LOG"

# ---------------------------------------------------------------- servers
# start_server NAME CMD... : CMD under timeout in the background, with
# --port 0 --port-file; sets SRV_WRAP (the timeout process), SRV_PID (the
# server itself) and SRV_URL
MON_WRAP="" GW_WRAP="" CLIENTS=() WRAPS=()
start_server() {
	local name=$1
	shift
	rm -f "$W/$name.port"
	timeout "$SRV_TIMEOUT" "$@" --port 0 --port-file "$W/$name.port" 2>"$LOG/$name.log" &
	SRV_WRAP=$!
	WRAPS+=("$SRV_WRAP")
	for _ in $(seq 1 100); do [ -s "$W/$name.port" ] && break; sleep 0.1; done
	[ -s "$W/$name.port" ] || die "$name did not start (log: $LOG/$name.log)"
	SRV_PID=""
	for _ in $(seq 1 50); do
		SRV_PID=$(pgrep -P "$SRV_WRAP" | head -n 1 || true)
		[ -n "$SRV_PID" ] && break
		sleep 0.1
	done
	[ -n "$SRV_PID" ] && grep -qa "$(basename "$1")" "/proc/$SRV_PID/cmdline" || die "no $name process under timeout ($SRV_WRAP)"
	SRV_URL="https://127.0.0.1:$(cat "$W/$name.port")"
}
stop_server() { # WRAPPER-PID
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	local c
	for c in "${CLIENTS[@]}"; do kill "$c" 2>/dev/null || true; done
	# the servers' timeout wrappers still running (jobs -p: only this
	# script's own background jobs, so a reused pid is never hit)
	for c in "${WRAPS[@]}"; do
		if jobs -p | grep -qx "$c"; then stop_server "$c"; fi
	done
	rm -rf "$W/bodies" "$W"/gw/*/ex
}
trap cleanup EXIT
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# stats FILE : "n p50 p99 max errors" from lines "HTTP-CODE SECONDS"
# (errors: answers that are not 2xx, 000 = no answer; p50/p99 by nearest rank)
stats() {
	sort -k2,2g "$1" | awk '{ n++; t[n] = $2 * 1000; if ($1 !~ /^2[0-9][0-9]$/) e++ }
	END {
		if (!n) { print "0 - - - 0"; exit }
		i50 = int(0.50 * n); if (i50 < 0.50 * n) i50++
		i99 = int(0.99 * n); if (i99 < 0.99 * n) i99++
		printf "%d %.1f %.1f %.1f %d\n", n, t[i50], t[i99], t[n], e + 0
	}'
}

# ---------------------------------------------------------------- 1. PKI, izamon
t1=$(date +%s.%N)
pargs=()
for r in "${REGIONS[@]}"; do pargs+=(--region "$r"); done
for a in "${PROVS[@]}"; do pargs+=(--provider "$a"); done
say "test PKI: 31 regions, $NPROV providers"
bash "$ROOT/certs/make-dev-pki.sh" "$W/pki" "${pargs[@]}" --insurer 3311 >"$LOG/pki.log" 2>&1 || die "make-dev-pki.sh failed ($LOG/pki.log)"
PKI=$W/pki

M=$W/mon
mkdir -p "$M"
cat >"$M/config.json" <<JSON
{"data_dir": "$M/data", $DBJSON "ca": "$PKI/ca.pem", "server_cert": "$PKI/monitor-chain.pem",
 "server_key": "$PKI/monitor.key", "mapping_dir": "$ROOT/mappings", "bind": "127.0.0.1"}
JSON
mon() { "$IZAMON" --config "$M/config.json" "$@"; }
# one plan for all 31 regions: the digital-contact share, decided on 2025-12
jq -n --argjson regions "$(printf '%s\n' "${REGIONS[@]}" | jq -R . | jq -s .)" '{
	format: "iza-plan/1", id: "'$PLAN'", name: "Load test plan (bench/load.sh, not a real plan)",
	description: "Written by bench/load.sh: every region, one KPI, one result milestone.",
	regions: $regions, parties: ["AGB:01000001", "AGB:06010713"], payee: "AGB:01000001",
	coordinating_insurer: "3311", sectors: ["huisartsenzorg", "msz"], budget_cents: 100000000,
	kpis: [{kpi: "digital-contact-share", baseline: {period: "2024", value: 0.12}, target: 0.25,
		bandwidth: {lower: 0.02, upper: 0}, direction: "increase", due: "2026-12-31"}],
	milestones: [{id: "digital-share-2025-12", kind: "result", kpi: "digital-contact-share",
		period: "2025-12", target: 0.18, date: "2026-01-31", amount_cents: 50000000,
		payments: [{date: "2026-03-31", share: 1}]}]}' >"$W/plan-load-31.json"
{
	mon init
	mon insurers add 3311 --cert "$PKI/insurer-3311.pem"
	for r in "${REGIONS[@]}"; do mon regions add "$r" --cert "$PKI/region-$r.pem" --plans "$PLAN"; done
	if [ "$LOAD_PLAN" != 0 ]; then
		mon plans load "$W/plan-load-31.json"
		# the milestone's payments fall in 2026: that year's key decides
		mon keys load "$ROOT/mappings/distribution-keys/2025.json" "$ROOT/mappings/distribution-keys/2026.json"
	fi
} >"$LOG/izamon-setup.log" 2>&1 || die "izamon init/enrolment failed ($LOG/izamon-setup.log)"
say "izamon ($DBKIND): 31 regions enrolled for $PLAN ($(since "$t1") s)"

# ---------------------------------------------------------------- 2. gateways
t2=$(date +%s.%N)
cat >"$W/prep.sh" <<'EOF'
#!/usr/bin/env bash
# prep.sh REGION SEED : one region's gateway with 12 signed monthly reports,
# taken out of its outbox as W/gw/REGION/out/2025-MM.json and .jws
set -euo pipefail
r=$1 seed=$2
d=$W/gw/$r
mkdir -p "$d/out"
cd "$ROOT"
"$IZAGEN" --out "$d/ex" --region "$r" --patients "$PATIENTS" --seed "$seed" --bad 0 --mappings mappings --quiet
hosp=$(jq -r '.sources.hospital.agb' "$d/ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$d/ex/truth.json")
jq -n --arg d "$d" --arg m "$ROOT/mappings" --arg k "$PKI/region-$r.key" --arg c "$PKI/region-$r-chain.pem" \
	--arg p "$PLAN" --arg h "$hosp" --arg g "$gp" \
	'{data_dir: ($d + "/data"), mapping_dir: $m, provider_consent: [$h, $g], plan: $p, signing_key: $k, signing_chain: $c}' >"$d/config.json"
gw() { "$IZAGW" --config "$d/config.json" "$@"; }
gw init --region "$r" >/dev/null
for s in "hospital $hosp" "gp $gp"; do
	set -- $s
	rc=0
	gw ingest --source "$2" "$d/ex/$1/Patient.ndjson" "$d/ex/$1/Encounter.ndjson" >/dev/null || rc=$?
	[ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || { echo "$r: ingest $1 exit $rc" >&2; exit 1; }
done
for mm in 01 02 03 04 05 06 07 08 09 10 11 12; do
	gw report --period "2025-$mm" --out /dev/null 2>/dev/null
done
sqlite3 "$d/data/outbox.db" "SELECT writefile('$d/out/' || period || '.json', body), writefile('$d/out/' || period || '.jws', jws) FROM reports WHERE state = 'queued'" >/dev/null
n=$(ls "$d/out"/*.json | wc -l)
[ "$n" -eq 12 ] || { echo "$r: $n reports in the outbox, not 12" >&2; exit 1; }
rm -rf "$d/ex"
EOF
chmod +x "$W/prep.sh"
export W ROOT IZAGW IZAGEN PKI PLAN PATIENTS
say "31 gateways: izagen --patients $PATIENTS, ingest, 12 signed monthly reports each (2 at a time)"
i=0
for r in "${REGIONS[@]}"; do
	i=$((i + 1))
	echo "$r $((100 + i))"
done | xargs -P 2 -L 1 sh -c 'timeout 120 "$0/prep.sh" "$1" "$2" >"$0/logs/prep-$1.log" 2>&1 || { echo "prep $1 failed"; exit 255; }' "$W" ||
	die "preparing the gateways failed (logs: $LOG/prep-*.log)"
NREP=$(ls "$W"/gw/*/out/*.json | wc -l)
[ "$NREP" -eq 372 ] || die "$NREP signed reports prepared, not 372"
REP_BYTES=$(cat "$W"/gw/*/out/*.json | wc -c)
PREP_S=$(since "$t2")
say "372 signed reports ready ($(awk -v b="$REP_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB of bodies, $PREP_S s)"

# ---------------------------------------------------------------- 3. izamon under load
metric_sum() { # CERT-NAME URL METRIC : the sum of a Prometheus metric's samples
	curl -s --max-time 20 --cacert "$PKI/ca.pem" --cert "$PKI/$1-chain.pem" --key "$PKI/$1.key" "$2/metrics" |
		awk -v m="$3" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}
start_server izamon "$IZAMON" --config "$M/config.json" serve
MON_WRAP=$SRV_WRAP MON_PID=$SRV_PID MON_URL=$SRV_URL
curl -s --max-time 5 --cacert "$PKI/ca.pem" "$MON_URL/healthz" | grep -q ok || die "izamon /healthz failed"
stored_before=$(metric_sum region-ZK01 "$MON_URL" izamon_reports_stored)
say "izamon serve on $MON_URL (pid $MON_PID); 31 clients x 12 reports"
P3=$W/push
mkdir -p "$P3"
go=$W/go-push
CLIENTS=()
LOAD3_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in "${REGIONS[@]}"; do
	(
		while [ ! -e "$go" ]; do sleep 0.01; done
		for f in "$W/gw/$r/out"/*.json; do
			curl -s --max-time 120 -o "$P3/answer-$r-$(basename "$f")" -w '%{http_code} %{time_total}\n' \
				--cacert "$PKI/ca.pem" --cert "$PKI/region-$r-chain.pem" --key "$PKI/region-$r.key" \
				-H 'Content-Type: application/fhir+json' -H "IZA-JWS: $(cat "${f%.json}.jws")" \
				--data-binary @"$f" "$MON_URL/reports" >>"$P3/lat-$r" 2>/dev/null || true
		done
	) &
	CLIENTS+=($!)
done
sleep 0.3
tp=$(date +%s.%N)
touch "$go"
for c in "${CLIENTS[@]}"; do wait "$c" || true; done
CLIENTS=()
PUSH_WALL=$(since "$tp")
cat "$P3"/lat-* >"$P3/all"
read -r PUSH_N PUSH_P50 PUSH_P99 PUSH_MAX PUSH_ERR < <(stats "$P3/all")
PUSH_STORED_STATUS=$(cat "$P3"/answer-* 2>/dev/null | jq -r '.status // empty' 2>/dev/null | grep -c '^stored$' || true)
stored_after=$(metric_sum region-ZK01 "$MON_URL" izamon_reports_stored)
refused=$(metric_sum region-ZK01 "$MON_URL" izamon_reports_refused_total)
MON_STORED=$((stored_after - stored_before))
MON_DB_COUNT="-"
[ "$DBKIND" != sqlite ] || MON_DB_COUNT=$(sqlite3 "$M/data/izamon.db" "SELECT count(*) FROM reports")
MON_HWM=$(hwm_kb "$MON_PID")
# reports stored per second in the first and the last fifth of the push
# (izamon's log lines, 1 s steps): does the rate hold as the store fills?
MON_DRIFT=$(grep '"event":"report.received"' "$LOG/izamon.log" | jq -r .time | awk '
	{ t[NR] = $1 } END { if (!NR) { print "-"; exit }
		d = t[NR] - t[1] + 1; f = d / 5; if (f < 1) f = 1
		for (i = 1; i <= NR; i++) { if (t[i] < t[1] + f) a++; if (t[i] > t[NR] - f) b++ }
		printf "%.1f/s in the first fifth, %.1f/s in the last fifth (%d s in all, %.0f s each)", a / f, b / f, d, f }')
MON_THREADS=$(awk '/^Threads:/ { print $2 }' "/proc/$MON_PID/status")
MON_DECISIONS=$(mon status "$PLAN" 2>/dev/null | jq -r '[.milestones[] | "\(.id): \(.status)\(if .final then " (decided)" else " (not decided)" end)"] | join(", ")' 2>/dev/null || echo "-")
LOAD3_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
stop_server "$MON_WRAP"
MON_WRAP=""
MON_AUDIT=$(mon audit verify 2>&1 | tail -n 1 || true)
say "pushed in $PUSH_WALL s: $PUSH_N requests, $PUSH_ERR errors, izamon holds $MON_STORED new reports"

# ---------------------------------------------------------------- 4. izagw serve under load
t4=$(date +%s.%N)
B=$W/bodies
mkdir -p "$B"
# Body u of provider i: Patients then Encounters (classes AMB, VR by phone,
# HH, EMER in turn), synthetic ids of this run only, until BODY_BYTES.
for i in $(seq 1 $NPROV); do
	a=${PROVS[$((i - 1))]}
	for u in $(seq 1 "$UPLOADS"); do
		awk -v i="$i" -v u="$u" -v max="$BODY_BYTES" 'BEGIN {
			m = "\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2025-06-01T08:00:00+02:00\"}"
			split("AMB VR HH EMER", cls, " ")
			np = 300; bytes = 0
			for (j = 1; j <= np; j++) {
				s = sprintf("{\"resourceType\":\"Patient\",\"id\":\"l%d-%d-p%d\",%s,\"gender\":\"%s\",\"birthDate\":\"%d-%02d-%02d\",\"address\":[{\"use\":\"home\",\"postalCode\":\"10%02d AB\"}]}",
					i, u, j, m, (j % 2 ? "female" : "male"), 1940 + (i * 7 + j * 3) % 70, 1 + j % 12, 1 + (i + j) % 28, 11 + (i + j) % 80)
				print s; bytes += length(s) + 1
			}
			for (k = 1; bytes < max; k++) {
				c = cls[1 + k % 4]
				ty = c == "VR" ? ",\"type\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"185317003\"}]}]" : ""
				s = sprintf("{\"resourceType\":\"Encounter\",\"id\":\"l%d-%d-e%d\",%s,\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"%s\"}%s,\"subject\":{\"reference\":\"Patient/l%d-%d-p%d\"},\"period\":{\"start\":\"2025-%02d-%02dT09:%02d:00+01:00\"}}",
					i, u, k, m, c, ty, i, u, 1 + k % np, 1 + k % 12, 1 + (i + k) % 28, k % 60)
				print s; bytes += length(s) + 1
			}
		}' >"$B/$a-$u.ndjson"
	done
done
UP_BYTES=$(cat "$B"/*.ndjson | wc -c)
UP_LINES=$(cat "$B"/*.ndjson | wc -l)
G=$W/intake
mkdir -p "$G"
jq -n --arg d "$G/data" --arg m "$ROOT/mappings" --arg p "$PKI" \
	'{data_dir: $d, mapping_dir: $m, intake_cert: ($p + "/intake-chain.pem"), intake_key: ($p + "/intake.key"),
	  intake_ca: ($p + "/ca.pem"), intake_bind: "127.0.0.1"}' >"$G/config.json"
"$IZAGW" --config "$G/config.json" init --region ZK02 >/dev/null
start_server izagw-serve "$IZAGW" --config "$G/config.json" serve
GW_WRAP=$SRV_WRAP GW_PID=$SRV_PID GW_URL=$SRV_URL
curl -s --max-time 5 --cacert "$PKI/ca.pem" "$GW_URL/healthz" | grep -q ok || die "izagw serve /healthz failed"
batches_before=$(sqlite3 "$G/data/events.db" "SELECT count(*) FROM batches")
say "izagw serve on $GW_URL (pid $GW_PID); $NPROV providers x $UPLOADS uploads of ~$BODY_BYTES bytes"
P4=$W/upload
mkdir -p "$P4"
go=$W/go-upload
LOAD4_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for a in "${PROVS[@]}"; do
	(
		while [ ! -e "$go" ]; do sleep 0.01; done
		for u in $(seq 1 "$UPLOADS"); do
			curl -s --max-time 120 -o "$P4/answer-$a-$u" -w '%{http_code} %{time_total}\n' \
				--cacert "$PKI/ca.pem" --cert "$PKI/provider-$a-chain.pem" --key "$PKI/provider-$a.key" \
				-H 'Content-Type: application/fhir+ndjson' -H "X-IZA-Submission: load-$a-$u" \
				--data-binary @"$B/$a-$u.ndjson" "$GW_URL/ndjson" >>"$P4/lat-$a" 2>/dev/null || true
		done
	) &
	CLIENTS+=($!)
done
sleep 0.3
tu=$(date +%s.%N)
touch "$go"
for c in "${CLIENTS[@]}"; do wait "$c" || true; done
CLIENTS=()
UP_WALL=$(since "$tu")
cat "$P4"/lat-* >"$P4/all"
read -r UP_N UP_P50 UP_P99 UP_MAX UP_ERR < <(stats "$P4/all")
GW_BATCHES=$(($(sqlite3 "$G/data/events.db" "SELECT count(*) FROM batches") - batches_before))
GW_RECORDS=$(sqlite3 "$G/data/events.db" "SELECT coalesce(sum(records), 0) FROM batches")
GW_STORED_LOG=$(sqlite3 "$G/data/intake/intake.db" "SELECT count(*) FROM batches WHERE state = 'stored'")
GW_HWM=$(hwm_kb "$GW_PID")
GW_THREADS_END=$(awk '/^Threads:/ { print $2 }' "/proc/$GW_PID/status")
LOAD4_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
stop_server "$GW_WRAP"
GW_WRAP=""
say "uploaded in $UP_WALL s: $UP_N requests, $UP_ERR errors, $GW_BATCHES batches stored ($(since "$t4") s with the bodies)"

# ---------------------------------------------------------------- report
mkdir -p "$BENCH/out"
OUT=$BENCH/out/load-$(date +%F-%H%M).txt
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no -- '*.c' '*.h' 2>/dev/null | wc -l)
EXP_BATCHES=$((NPROV * UPLOADS))
fail=0
[ "$PUSH_ERR" -eq 0 ] && [ "$PUSH_N" -eq 372 ] || fail=1
[ "$MON_STORED" -eq 372 ] || fail=1
[ "$DBKIND" != sqlite ] || [ "$MON_DB_COUNT" -eq 372 ] || fail=1
[ "$UP_ERR" -eq 0 ] && [ "$UP_N" -eq "$EXP_BATCHES" ] || fail=1
[ "$GW_BATCHES" -eq "$EXP_BATCHES" ] && [ "$GW_STORED_LOG" -eq "$EXP_BATCHES" ] && [ "$GW_RECORDS" -eq "$UP_LINES" ] || fail=1
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'; }
{
	echo "IZA load test (bench/load.sh), $(date '+%F %H:%M %Z'), loopback 127.0.0.1"
	echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
	echo "binaries: izamon $IZAMON, izagw $IZAGW (built $(date -r "$IZAGW" '+%F %H:%M')); source tree at git $rev$([ "$dirty" -gt 0 ] && echo ", $dirty C files modified")"
	if [ "$LOAD_PLAN" != 0 ]; then
		echo "izamon database: $DBKIND; plan $PLAN (31 regions) loaded with the 2025 and 2026 distribution keys: every stored report is evaluated"
	else
		echo "izamon database: $DBKIND; plan $PLAN NOT loaded (LOAD_PLAN=0): reports are stored without milestone evaluation"
	fi
	echo "prepared: 31 gateways (izagen --patients $PATIENTS), 372 signed monthly reports 2025-01..2025-12, $(awk -v b="$REP_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB of bodies, in $PREP_S s (2 at a time)"
	echo "uploads: $EXP_BATCHES NDJSON bodies, $(awk -v b="$UP_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $UP_LINES lines"
	echo
	printf '%-44s %8s %7s %8s %7s %7s %8s %6s %9s  %s\n' "part" "requests" "wall s" "req/s" "p50 ms" "p99 ms" "max ms" "errors" "peak MB" "stored on the server"
	printf '%-44s %8s %7s %8s %7s %7s %8s %6s %9.1f  %s\n' "izamon POST /reports, 31 clients x 12" "$PUSH_N" "$PUSH_WALL" "$(rate "$PUSH_N" "$PUSH_WALL")" \
		"$PUSH_P50" "$PUSH_P99" "$PUSH_MAX" "$PUSH_ERR" "$(awk -v k="$MON_HWM" 'BEGIN { print k / 1024 }')" \
		"$MON_STORED reports (want 372; 201 stored: $PUSH_STORED_STATUS; db rows: $MON_DB_COUNT; refused: $refused)"
	printf '%-44s %8s %7s %8s %7s %7s %8s %6s %9.1f  %s\n' "izagw serve POST /ndjson, $NPROV clients x $UPLOADS x 1 MB" "$UP_N" "$UP_WALL" "$(rate "$UP_N" "$UP_WALL")" \
		"$UP_P50" "$UP_P99" "$UP_MAX" "$UP_ERR" "$(awk -v k="$GW_HWM" 'BEGIN { print k / 1024 }')" \
		"$GW_BATCHES batches (want $EXP_BATCHES; intake log stored: $GW_STORED_LOG; records $GW_RECORDS of $UP_LINES lines)"
	echo
	echo "upload throughput: $(awk -v b="$UP_BYTES" -v s="$UP_WALL" 'BEGIN { printf "%.1f", b / 1e6 / s }') MB/s over loopback TLS, spooled and ingested (one ingest at a time)"
	echo "izamon reports stored over time: $MON_DRIFT"
	[ "$LOAD_PLAN" = 0 ] || echo "plan $PLAN after the load: $MON_DECISIONS"
	echo "peak MB = VmHWM of the server process itself (not its timeout wrapper); izamon threads at the end: $MON_THREADS, izagw serve: $GW_THREADS_END"
	echo "izamon audit verify after the load: $MON_AUDIT"
	echo "load average: push $LOAD3_BEFORE -> $LOAD3_AFTER; upload $LOAD4_BEFORE -> $LOAD4_AFTER"
	echo "latency: curl time_total per request (new TLS connection each, client certificate); p50/p99 by nearest rank"
	echo "result: $([ "$fail" -eq 0 ] && echo "PASS (every answer 2xx, every count right)" || echo "FAIL (see errors/counts above; logs in $LOG)")"
	echo "whole script: $(since "$T_START") s"
} | tee "$OUT"
say "written to $OUT (logs and answers in $W)"
exit "$fail"
