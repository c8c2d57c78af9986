#!/usr/bin/env bash
# izagw serve under load, over loopback with certificates from certs/:
# 1. 20 GP practices, each with its own provider certificate, POST their own
#    small NDJSON export (Patient and Encounter lines, one Observation that is
#    counted and skipped, one Encounter with an unknown class code that is
#    quarantined) at the same moment, each upload slowed so that all 20 are
#    open at once: every answer is 201 "stored" under the certificate's AGB
#    code with the counts the file gives, the event store holds exactly 20
#    new batches, one per source, and the same files through `izagw ingest`
#    in a second gateway give the same batches, events and KPIs.
# 2. One hospital streams a body of more than 2 GiB (chunked, generated on
#    the fly: no 2 GB file on the client side), mostly Observations plus a
#    known number of Patients and Encounters before and after them: the batch
#    has every line, the exact byte count and SHA-256, the izagw process's
#    peak RSS stays under 64 MiB (96 MiB in an AddressSanitizer build) and
#    grows by less than 16 MiB, the body was spooled to disk as it arrived,
#    the spool file is gone afterwards and GET /metrics counts the batch.
# Prints the measured peak RSS, the upload rate and the time of each part.
source "$(dirname "$0")/lib.bash"
for t in curl jq sqlite3 openssl pgrep; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done

t0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

gps=()
for i in $(seq -w 1 20); do gps+=("012000$i"); done # 20 GP practices (AGB 01...)
hosp=06010713                                      # the hospital of the big upload
pki="$E2E_TMP/pki"
pargs=()
for a in "${gps[@]}" "$hosp"; do pargs+=(--provider "$a"); done
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" "${pargs[@]}" 2>/dev/null
chains=("$pki"/provider-[0-9]*-chain.pem)
expect_eq "the test PKI has 21 provider certificates" 21 "${#chains[@]}"

avail_kb=$(df -Pk "$E2E_TMP" | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt $((3 * 1024 * 1024)) ]; then
	not_ok "the 2 GiB spool needs 3 GiB free under $E2E_TMP, only $((avail_kb / 1024)) MiB"
	finish
	exit 1
fi

cfg="{\"k\": 1, \"test_mode\": true, \"provider_rule\": false, \"intake_cert\": \"$pki/intake-chain.pem\", \"intake_key\": \"$pki/intake.key\", \"intake_ca\": \"$pki/ca.pem\"}"
d="$E2E_TMP/gw"
gw_new "$d" "$cfg"
db="$d/izagw-data/events.db"
rm -f "$E2E_TMP/port"
# Under AddressSanitizer (test.sh's second run) freed memory is held in a
# quarantine of up to 256 MiB, which would be measured as the service's own:
# none for this one server (a no-op in an ordinary build).
(cd "$d" && ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" exec timeout 400 "$IZAGW" --config config.json serve --port 0 --port-file "$E2E_TMP/port" 2>"$E2E_TMP/serve.log") &
srv=$!
smp=
cleanup() {
	if [ -n "$smp" ]; then
		kill "$smp" 2>/dev/null || true
		wait "$smp" 2>/dev/null || true
	fi
	kill -TERM "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	rm -rf "$E2E_TMP"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.1; done
url="https://127.0.0.1:$(cat "$E2E_TMP/port")"
curl -s --max-time 5 --cacert "$pki/ca.pem" "$url/healthz" | grep -q ok && ok "izagw serve on 127.0.0.1" || not_ok "healthz"
# the izagw process itself, not the timeout wrapper
pid=
for _ in $(seq 1 50); do pid=$(pgrep -P "$srv" | head -n 1) && [ -n "$pid" ] && break; sleep 0.1; done
[ -n "$pid" ] && grep -q izagw "/proc/$pid/cmdline" && ok "the izagw serve process found (child of timeout)" || not_ok "no izagw process under $srv"
# pcurl AGB CURL-ARGS...: curl as that provider
pcurl() {
	local a=$1
	shift
	curl --cacert "$pki/ca.pem" --cert "$pki/provider-$a-chain.pem" --key "$pki/provider-$a.key" "$@"
}

# sampler OUT: every 0.1 s one line "time VmRSS-kB VmHWM-kB threads spool-bytes"
# of the izagw process (spool-bytes: the size of its spool file, - when none)
sampler() {
	local out=$1 k v rss hwm thr f sz
	while [ -e "/proc/$pid/status" ]; do
		rss=0 hwm=0 thr=0
		while read -r k v _; do
			case $k in
			VmRSS:) rss=$v ;;
			VmHWM:) hwm=$v ;;
			Threads:) thr=$v ;;
			esac
		done <"/proc/$pid/status"
		sz=-
		for f in "$d"/izagw-data/intake/spool-*; do
			[ -e "$f" ] && sz=$(stat -c %s "$f" 2>/dev/null || echo -)
			break
		done
		echo "$(date +%s.%N) $rss $hwm $thr $sz"
		sleep 0.1
	done >"$out"
}
stop_sampler() {
	kill "$smp" 2>/dev/null || true
	wait "$smp" 2>/dev/null || true
	smp=
}

# ---- 1. 20 clients at once ----
# Provider i (1..20): 2 + i % 5 patients, 4 + i % 9 encounters (classes AMB,
# VR by phone, HH, EMER in turn: one event each), one Observation (counted,
# skipped) and one Encounter of an unknown class (quarantined), Jan-Mar 2025.
t1=$(date +%s.%N)
ex="$E2E_TMP/export"
mkdir -p "$ex"
exp_records=0 exp_patients=0 exp_events=0
for i in $(seq 1 20); do
	a=${gps[$((i - 1))]}
	np=$((2 + i % 5)) ne=$((4 + i % 9))
	awk -v i="$i" -v np="$np" -v ne="$ne" 'BEGIN {
		m = "\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2025-04-01T08:00:00+02:00\"}"
		split("AMB VR HH EMER", cls, " ")
		for (j = 1; j <= np; j++)
			printf "{\"resourceType\":\"Patient\",\"id\":\"gp%d-p%d\",%s,\"gender\":\"%s\",\"birthDate\":\"%d-%02d-%02d\",\"address\":[{\"use\":\"home\",\"postalCode\":\"10%02d AB\"}]}\n",
				i, j, m, (j % 2 ? "female" : "male"), 1940 + (i * 7 + j * 3) % 70, 1 + j % 12, 1 + i % 28, 11 + (i + j) % 80
		for (k = 1; k <= ne; k++) {
			c = cls[1 + k % 4]
			ty = c == "VR" ? ",\"type\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"185317003\"}]}]" : ""
			printf "{\"resourceType\":\"Encounter\",\"id\":\"gp%d-e%d\",%s,\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"%s\"}%s,\"subject\":{\"reference\":\"Patient/gp%d-p%d\"},\"period\":{\"start\":\"2025-%02d-%02dT09:%02d:00+01:00\"}}\n",
				i, k, m, c, ty, i, 1 + k % np, 1 + k % 3, 1 + (i + k) % 28, k % 60
		}
		printf "{\"resourceType\":\"Observation\",\"id\":\"gp%d-o1\",\"status\":\"final\",\"code\":{\"text\":\"bp\"},\"subject\":{\"reference\":\"Patient/gp%d-p1\"}}\n", i, i
		printf "{\"resourceType\":\"Encounter\",\"id\":\"gp%d-bad\",%s,\"status\":\"finished\",\"class\":{\"code\":\"NOPE\"},\"subject\":{\"reference\":\"Patient/gp%d-p1\"},\"period\":{\"start\":\"2025-02-02T10:00:00+01:00\"}}\n", i, m, i
	}' >"$ex/$a.ndjson"
	echo "$a $((np + ne + 2)) $np $ne" >>"$ex/expected"
	exp_records=$((exp_records + np + ne + 2)) exp_patients=$((exp_patients + np)) exp_events=$((exp_events + ne))
done
expect_eq "20 exports, lines in all" "$exp_records" "$(cat "$ex"/0*.ndjson | wc -l)"
min_bytes=$(stat -c %s "$ex"/0*.ndjson | sort -n | head -n 1)

n_before=$(sqlite3 "$db" "SELECT count(*) FROM batches")
id_before=$(sqlite3 "$db" "SELECT coalesce(max(id), 0) FROM batches")
sampler "$E2E_TMP/samples1" &
smp=$!
# every client waits for the same start signal, then uploads at 2 kB/s, so
# each upload lasts a second or more and all 20 are open at the same time
go="$E2E_TMP/go"
jobs_=()
for a in "${gps[@]}"; do
	(
		while [ ! -e "$go" ]; do sleep 0.01; done
		pcurl "$a" -s --max-time 60 --limit-rate 2k -o "$ex/answer-$a.json" -w '%{http_code} %{time_total}' \
			--data-binary @"$ex/$a.ndjson" "$url/ndjson" >"$ex/code-$a" 2>/dev/null || true
	) &
	jobs_+=($!)
done
sleep 0.2
tc=$(date +%s.%N)
touch "$go"
for j in "${jobs_[@]}"; do wait "$j" || true; done
wall1=$(since "$tc")
stop_sampler
n201=0 nstored=0 nmatch=0 slowest=0
while read -r a rec np ne; do
	read -r code secs <"$ex/code-$a" || true
	[ "$code" = 201 ] && n201=$((n201 + 1))
	got=$(jq -r '"\(.state) \(.source) \(.result.records) \(.result.patients) \(.result.events_stored) \(.result.excluded) \(.result.quarantined)"' "$ex/answer-$a.json" 2>/dev/null || echo unreadable)
	[ "${got%% *}" = stored ] && nstored=$((nstored + 1))
	if [ "$got" = "stored $a $rec $np $ne 1 1" ]; then nmatch=$((nmatch + 1)); else echo "# $a: expected 'stored $a $rec $np $ne 1 1', got '$got' (HTTP ${code:-none})"; fi
	slowest=$(awk -v a="$slowest" -v b="${secs:-0}" 'BEGIN { print (b > a ? b : a) }')
done <"$ex/expected"
expect_eq "20 concurrent uploads: all answered 201" 20 "$n201"
expect_eq "  all in state stored" 20 "$nstored"
expect_eq "  each under its certificate's AGB code with its file's counts (records, patients, events, 1 skipped, 1 quarantined)" 20 "$nmatch"
max_thr=$(awk '{ if ($4 > m) m = $4 } END { print m + 0 }' "$E2E_TMP/samples1")
echo "# 20 uploads of $min_bytes bytes or more at 2 kB/s: slowest ${slowest}s, all done after ${wall1}s; up to $max_thr izagw threads"
[ "$max_thr" -ge 12 ] && ok "the uploads were open at the same time (up to $max_thr threads in izagw serve, one per connection)" ||
	not_ok "at most $max_thr threads in izagw serve: the uploads did not overlap"
awk -v w="$wall1" 'BEGIN { exit !(w < 20) }' && ok "20 uploads of a second or more each done in ${wall1}s (not one after the other)" ||
	not_ok "20 uploads took ${wall1}s: serialised?"

expect_eq "the store: exactly 20 new batches" 20 "$(($(sqlite3 "$db" "SELECT count(*) FROM batches") - n_before))"
expect_eq "  one per source" "20 1 1" "$(sqlite3 "$db" "SELECT count(*), min(n), max(n) FROM (SELECT source, count(*) AS n FROM batches WHERE id > $id_before GROUP BY source)" | tr '|' ' ')"
expect_eq "  the 20 sources are the certificates' AGB codes" "$(printf '%s\n' "${gps[@]}" | sort | tr '\n' ' ')" "$(sqlite3 "$db" "SELECT source FROM batches WHERE id > $id_before ORDER BY source" | tr '\n' ' ')"
expect_eq "  records read in all (counted by hand)" "$exp_records" "$(sqlite3 "$db" "SELECT sum(records) FROM batches WHERE id > $id_before")"
expect_eq "  events stored in all (one per encounter, counted by hand)" "$exp_events" "$(sqlite3 "$db" "SELECT sum(events_stored) FROM batches WHERE id > $id_before")"
expect_eq "  events in the events table" "$exp_events" "$(sqlite3 "$db" "SELECT count(*) FROM events WHERE live = 1 AND source LIKE '012000%'")"
expect_eq "  patients in all (counted by hand)" "$exp_patients" "$(sqlite3 "$db" "SELECT sum(patients) FROM batches WHERE id > $id_before")"
expect_eq "  quarantined: one a source" 20 "$(sqlite3 "$db" "SELECT sum(quarantined) FROM batches WHERE id > $id_before")"
expect_eq "the batch log (intake.db): 20 stored" 20 "$(sqlite3 "$d/izagw-data/intake/intake.db" "SELECT count(*) FROM batches WHERE state = 'stored' AND source LIKE '012000%'")"

# the same files through izagw ingest in a second gateway
d2="$E2E_TMP/gw2"
gw_new "$d2" '{"k": 1, "test_mode": true, "provider_rule": false}'
rcs=
for a in "${gps[@]}"; do
	rc=0
	gw "$d2" ingest --source "$a" "$ex/$a.ndjson" >>"$E2E_TMP/ingest.out" 2>&1 || rc=$?
	rcs="$rcs$rc "
done
expect_eq "izagw ingest of the 20 files: exit 5 each (one quarantined)" "$(printf '5 %.0s' $(seq 1 20))" "$rcs"
q="SELECT source, format, records, events_stored, duplicates, updated, stale, excluded, quarantined, patients FROM batches WHERE source LIKE '012000%' ORDER BY source"
sqlite3 "$db" "$q" >"$E2E_TMP/rows-serve"
sqlite3 "$d2/izagw-data/events.db" "$q" >"$E2E_TMP/rows-ingest"
cmp -s "$E2E_TMP/rows-serve" "$E2E_TMP/rows-ingest" && ok "the 20 batches (counts per source) = izagw ingest's" ||
	{ not_ok "the batches differ from izagw ingest's"; diff "$E2E_TMP/rows-ingest" "$E2E_TMP/rows-serve" | head -n 10; }
expect_eq "events stored: through the intake = through izagw ingest" \
	"$(sqlite3 "$d2/izagw-data/events.db" "SELECT sum(events_stored) FROM batches")" \
	"$(sqlite3 "$db" "SELECT sum(events_stored) FROM batches WHERE id > $id_before")"
a=$(gw "$d" kpis --period 2025-Q1 --format json | jq -c '[.kpis[] | {id, value}]')
b=$(gw "$d2" kpis --period 2025-Q1 --format json | jq -c '[.kpis[] | {id, value}]')
[ "$a" = "$b" ] && ok "KPIs 2025-Q1 through the intake = through izagw ingest" || not_ok "KPIs 2025-Q1 differ"
hwm1=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
echo "# part 1: ${hwm1} kB peak RSS of izagw serve so far, $(since "$t1")s"

# ---- 2. more than 2 GiB in one upload ----
# Body: 40 Patients and 60 Encounters, N one-kilobyte Observations (counted
# and skipped), 60 more Encounters: more than 2 GiB in all, known exactly.
t2=$(date +%s.%N)
awk 'BEGIN {
	m = "\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2025-04-01T08:00:00+02:00\"}"
	for (j = 1; j <= 40; j++)
		printf "{\"resourceType\":\"Patient\",\"id\":\"h-p%d\",%s,\"gender\":\"%s\",\"birthDate\":\"%d-06-15\",\"address\":[{\"use\":\"home\",\"postalCode\":\"10%02d CD\"}]}\n",
			j, m, (j % 2 ? "male" : "female"), 1945 + j, 11 + j
	for (k = 1; k <= 60; k++)
		printf "{\"resourceType\":\"Encounter\",\"id\":\"h-e%d\",%s,\"status\":\"finished\",\"class\":{\"code\":\"%s\"},\"subject\":{\"reference\":\"Patient/h-p%d\"},\"period\":{\"start\":\"2025-03-%02dT14:00:00+01:00\"}}\n",
			k, m, (k % 3 ? "AMB" : "EMER"), 1 + k % 40, 1 + k % 28
}' >"$E2E_TMP/head.ndjson"
awk 'BEGIN {
	m = "\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2025-04-01T08:00:00+02:00\"}"
	for (k = 61; k <= 120; k++)
		printf "{\"resourceType\":\"Encounter\",\"id\":\"h-e%d\",%s,\"status\":\"finished\",\"class\":{\"code\":\"%s\"},\"subject\":{\"reference\":\"Patient/h-p%d\"},\"period\":{\"start\":\"2025-02-%02dT14:00:00+01:00\"}}\n",
			k, m, (k % 3 ? "AMB" : "EMER"), 1 + k % 40, 1 + k % 28
}' >"$E2E_TMP/tail.ndjson"
pad=$(printf '%0900d' 0 | tr 0 x)
obs="{\"resourceType\":\"Observation\",\"id\":\"load\",\"status\":\"final\",\"code\":{\"text\":\"load\"},\"note\":[{\"text\":\"$pad\"}]}"
hb=$(stat -c %s "$E2E_TMP/head.ndjson") tb=$(stat -c %s "$E2E_TMP/tail.ndjson")
min=2147483648
nobs=$(((min - hb - tb + ${#obs}) / (${#obs} + 1)))
total=$((hb + tb + nobs * (${#obs} + 1)))
lines=$((40 + 120 + nobs))
[ "$total" -ge "$min" ] && ok "the body: $total bytes (>= 2 GiB), $lines lines, $nobs of them Observations" || not_ok "the body is only $total bytes"
body() { cat "$E2E_TMP/head.ndjson"; { yes "$obs" || true; } | head -n "$nobs"; cat "$E2E_TMP/tail.ndjson"; }

# the peak from here on (VmHWM back to the current RSS), when the kernel lets us
echo 5 >"/proc/$pid/clear_refs" 2>/dev/null && reset=yes || reset=no
rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
sampler "$E2E_TMP/samples2" &
smp=$!
tu=$(date +%s.%N)
# -T - streams stdin with chunked transfer encoding: nothing is held in memory or on disk on this side
{ body || true; } | pcurl "$hosp" -s --max-time 170 -X POST -T - -H 'Content-Type: application/fhir+ndjson' \
	-o "$E2E_TMP/big.json" -w '%{http_code}' "$url/ndjson" >"$E2E_TMP/big.code" 2>"$E2E_TMP/big.err" || true
te=$(date +%s.%N)
sleep 0.3
stop_sampler
hwm2=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
expect_eq "the 2 GiB upload: 201" 201 "$(cat "$E2E_TMP/big.code")"
expect_eq "  stored under the hospital's AGB code" "stored $hosp" "$(jq -r '"\(.state) \(.source)"' "$E2E_TMP/big.json" 2>/dev/null)"
expect_eq "  every byte" "$total" "$(jq -r .result.bytes "$E2E_TMP/big.json")"
expect_eq "  every line a record" "$lines" "$(jq -r .result.records "$E2E_TMP/big.json")"
expect_eq "  the Observations counted and skipped" "$nobs" "$(jq -r .result.excluded "$E2E_TMP/big.json")"
expect_eq "  patients, events stored (before and after the 2 GiB), quarantined" "40 120 0" "$(jq -r '"\(.result.patients) \(.result.events_stored) \(.result.quarantined)"' "$E2E_TMP/big.json")"
expect_eq "  the store's batch (records, events, excluded)" "$lines 120 $nobs" "$(sqlite3 -separator ' ' "$db" "SELECT records, events_stored, excluded FROM batches WHERE source = '$hosp'")"
expect_eq "  the SHA-256 of what was sent" "$(body | openssl dgst -sha256 -r | cut -d' ' -f1)" "$(jq -r .result.sha256 "$E2E_TMP/big.json")"

# memory: the whole time of the upload and its ingest
max_rss=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$E2E_TMP/samples2")
peak=$hwm2
[ "$max_rss" -gt "$peak" ] && peak=$max_rss
echo "# peak RSS of izagw serve during the 2 GiB upload: $peak kB (VmHWM $hwm2 kB, reset before: $reset; highest VmRSS sampled $max_rss kB; $rss0 kB before)"
# 64 MiB; an AddressSanitizer build carries its shadow memory and allocator
# caches on top (about 58 MiB before this upload, measured): 96 MiB there
limit=64
if ldd "$IZAGW" 2>/dev/null | grep -q libasan; then limit=96; fi
[ "$peak" -lt $((limit * 1024)) ] && ok "peak RSS $((peak / 1024)) MiB < $limit MiB while 2 GiB went through" || not_ok "peak RSS $((peak / 1024)) MiB >= $limit MiB"
[ $((peak - rss0)) -lt $((16 * 1024)) ] && ok "  the upload and its ingest added $(((peak - rss0) / 1024)) MiB (< 16 MiB) to what the service held before" ||
	not_ok "the upload and its ingest added $(((peak - rss0) / 1024)) MiB to the service's RSS"
# the body went to the spool file as it arrived, and the file is gone
spool_max=$(awk '$5 != "-" { print $5 }' "$E2E_TMP/samples2" | sort -n | tail -n 1)
spool_part=$(awk -v t="$total" '$5 != "-" && $5 + 0 > 0 && $5 + 0 < t { n++ } END { print n + 0 }' "$E2E_TMP/samples2")
expect_eq "the spool file reached the body's size" "$total" "$spool_max"
[ "$spool_part" -ge 5 ] && ok "  and grew while the body arrived ($spool_part samples in between)" || not_ok "the spool file was seen growing only $spool_part times"
expect_eq "  no spool file left" "" "$(compgen -G "$d/izagw-data/intake/spool-*" || true)"
# rates: the upload ends when the spool file has every byte
tfull=$(awk -v t="$total" '$5 == t { print $1; exit }' "$E2E_TMP/samples2")
up_s=$(awk -v a="$tu" -v b="${tfull:-$te}" 'BEGIN { printf "%.1f", b - a }')
ing_s=$(awk -v a="${tfull:-$te}" -v b="$te" 'BEGIN { printf "%.1f", b - a }')
echo "# 2 GiB upload: $total bytes in ${up_s}s ($(awk -v n="$total" -v s="$up_s" 'BEGIN { printf "%.0f", n / 1e6 / (s > 0 ? s : 1) }') MB/s), then ingested in ${ing_s}s; answer after $(awk -v a="$tu" -v b="$te" 'BEGIN { printf "%.1f", b - a }')s"

pcurl "$hosp" -s --max-time 10 "$url/metrics" >"$E2E_TMP/metrics.txt"
expect_eq "metrics: the hospital's batch" "izagw_intake_batches{source=\"$hosp\",state=\"stored\"} 1" "$(grep "^izagw_intake_batches{source=\"$hosp\"" "$E2E_TMP/metrics.txt")"
expect_eq "metrics: its records" "izagw_intake_records{source=\"$hosp\"} $lines" "$(grep "^izagw_intake_records{source=\"$hosp\"}" "$E2E_TMP/metrics.txt")"
expect_eq "metrics: one stored batch for each of the 20 practices" 20 "$(grep -c '^izagw_intake_batches{source="012000[0-9][0-9]",state="stored"} 1$' "$E2E_TMP/metrics.txt")"
expect_eq "one batch.stored log line per batch" 21 "$(grep -c '"event":"batch.stored"' "$E2E_TMP/serve.log")"
echo "# part 2: $(since "$t2")s; the whole test: $(since "$t0")s"
finish
