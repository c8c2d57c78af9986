#!/usr/bin/env bash
# izagw serve, the HTTPS intake, over loopback with certificates from certs/:
# a hospital POSTs its NDJSON and a GP practice its Patient and Encounter
# files; the store then holds exactly what `izagw ingest` of the same files
# stores (same summary counts, same KPIs); the source is the certificate's
# AGB code; GET /batches/{id} gives counts and quarantine by reason, to the
# sending source only; a repeated submission id stores nothing; a client
# without a certificate, of a foreign CA or without an AGB code is refused;
# a client that disconnects mid-upload leaves nothing; uploads from 8
# clients at once all arrive; POST /fhir/$import answers 202 and is
# polled to 200; the same submission twice at once is stored once; izagw replay of a batch after a mapping fix
# stores what the fix mends and quarantines the rest again.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
for t in curl jq sqlite3; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --provider 06010713 --provider 01058123 --insurer 3311 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 1500 --seed 6 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
expect_eq "the test PKI has the export's providers" "06010713 01058123" "$hosp $gp"

cfg="{\"k\": 1, \"test_mode\": true, \"provider_rule\": false, \"intake_cert\": \"$pki/intake-chain.pem\", \"intake_key\": \"$pki/intake.key\", \"intake_ca\": \"$pki/ca.pem\"}"
d="$E2E_TMP/gw"
gw_new "$d" "$cfg"
rm -f "$E2E_TMP/port"
(cd "$d" && exec timeout 300 "$IZAGW" --config config.json serve --port 0 --port-file "$E2E_TMP/port" 2>"$E2E_TMP/serve.log") &
srv=$!
trap 'kill -TERM $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$E2E_TMP"' EXIT
for _ in $(seq 1 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.1; done
url="https://127.0.0.1:$(cat "$E2E_TMP/port")"
post() { # WHO PATH FILE [curl args]: the answer body; status in $E2E_TMP/code
	local who=$1 path=$2 file=$3
	shift 3
	curl -s --max-time 120 --cacert "$pki/ca.pem" --cert "$pki/$who-chain.pem" --key "$pki/$who.key" \
		-o "$E2E_TMP/answer" -w '%{http_code}' --data-binary @"$file" "$@" "$url$path" >"$E2E_TMP/code"
	cat "$E2E_TMP/answer"
}
curl -s --max-time 5 --cacert "$pki/ca.pem" "$url/healthz" | grep -q ok && ok "izagw serve on 127.0.0.1" || not_ok "healthz"

post "provider-$hosp" /ndjson "$ex/hospital/Patient.ndjson" -H "X-IZA-Submission: hosp-p-1" >"$E2E_TMP/b1.json"
expect_eq "hospital patients: 201" 201 "$(cat "$E2E_TMP/code")"
expect_eq "  the source is the certificate's AGB code" "$hosp stored" "$(jq -r '"\(.source) \(.state)"' "$E2E_TMP/b1.json")"
post "provider-$hosp" /ndjson "$ex/hospital/Encounter.ndjson" -H "X-IZA-Submission: hosp-e-1" >"$E2E_TMP/b2.json"
expect_eq "hospital encounters: 201" 201 "$(cat "$E2E_TMP/code")"
b2=$(jq -r .id "$E2E_TMP/b2.json")
for f in Patient Encounter; do
	post "provider-$gp" /ndjson "$ex/gp/$f.ndjson" >"$E2E_TMP/g-$f.json"
done
expect_eq "GP uploads: 201" 201 "$(cat "$E2E_TMP/code")"

# the same files through izagw ingest in a second gateway give the same
d2="$E2E_TMP/gw2"
gw_new "$d2" '{"k": 1, "test_mode": true, "provider_rule": false}'
gw "$d2" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >"$E2E_TMP/i.out" 2>&1 || true
gw "$d2" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >>"$E2E_TMP/i.out" 2>&1 || true
cli_q=$(awk '/^ingest .*hospital\/Encounter/{t=1} t && /^  quarantined/{print $2; exit}' "$E2E_TMP/i.out")
expect_eq "quarantined in the batch = izagw ingest" "$cli_q" "$(jq -r .result.quarantined "$E2E_TMP/b2.json")"
expect_eq "events in the batch = izagw ingest" "$(awk '/^ingest .*hospital\/Encounter/{t=1} t && /events stored/{print $3; exit}' "$E2E_TMP/i.out")" "$(jq -r .result.events_stored "$E2E_TMP/b2.json")"
for p in 2025-Q1 2025; do
	a=$(gw "$d" kpis --period "$p" --format json | jq -c '[.kpis[] | {id, value}]')
	b=$(gw "$d2" kpis --period "$p" --format json | jq -c '[.kpis[] | {id, value}]')
	[ "$a" = "$b" ] && ok "KPIs $p through the intake = through izagw ingest" || not_ok "KPIs $p differ"
done

# the batch, to its own source only
curl -s --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-$hosp-chain.pem" --key "$pki/provider-$hosp.key" "$url/batches/$b2" >"$E2E_TMP/got.json"
expect_eq "GET /batches/{id}" "$b2 stored" "$(jq -r '"\(.id) \(.state)"' "$E2E_TMP/got.json")"
expect_eq "  quarantine by reason, counts only" "$cli_q" "$(jq '[.result.quarantined_by_reason[]] | add // 0' "$E2E_TMP/got.json")"
# every quarantined record by line and reason (as izagw ingest's quarantine
# file has them), never the record itself
want=$(cat "$d2"/izagw-data/quarantine/batch-*.ndjson | jq -r 'select(.file | endswith("hospital/Encounter.ndjson")) | "\(.line) \(.reason)"' | sort)
expect_eq "  quarantined records: line and reason, as izagw ingest's" "$want" "$(jq -r '.result.quarantined_records[] | "\(.line) \(.reason)"' "$E2E_TMP/got.json" | sort)"
expect_eq "  and no record text in the answer" 0 "$(jq '[.result.quarantined_records[] | select(has("record"))] | length' "$E2E_TMP/got.json")"
expect_eq "another source's batch does not exist" 404 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" "$url/batches/$b2")"

# idempotency: the same submission again stores nothing and answers the first batch
n_before=$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM batches")
post "provider-$hosp" /ndjson "$ex/hospital/Encounter.ndjson" -H "X-IZA-Submission: hosp-e-1" >"$E2E_TMP/b3.json"
expect_eq "a repeated submission: 200 with the first batch" "200 $b2" "$(cat "$E2E_TMP/code") $(jq -r .id "$E2E_TMP/b3.json")"
expect_eq "  and no new store batch" "$n_before" "$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM batches")"

# FHIR Bulk Data style: POST /fhir/$import answers 202 with the batch to
# poll (202 with X-Progress while queued or ingesting, then 200)
sed -n 100,199p "$ex/gp/Encounter.ndjson" >"$E2E_TMP/import.ndjson"
curl -s -D "$E2E_TMP/imp.h" --max-time 60 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" \
	-H "X-IZA-Submission: import-1" --data-binary @"$E2E_TMP/import.ndjson" "$url/fhir/\$import" >"$E2E_TMP/imp.json"
expect_eq "\$import: 202 Accepted" 202 "$(head -1 "$E2E_TMP/imp.h" | awk '{print $2}')"
loc=$(grep -i '^content-location:' "$E2E_TMP/imp.h" | tr -d '\r' | awk '{print $2}')
expect_eq "  Content-Location is the batch" "/batches/$(jq -r .id "$E2E_TMP/imp.json")" "$loc"
st=202
for _ in $(seq 1 100); do
	st=$(curl -s -o "$E2E_TMP/poll.json" -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" "$url$loc")
	[ "$st" = 202 ] || break
	sleep 0.1
done
expect_eq "  polled until 200: stored" "200 stored" "$st $(jq -r .state "$E2E_TMP/poll.json")"
expect_eq "  every line read" "$(wc -l <"$E2E_TMP/import.ndjson")" "$(jq -r .result.records "$E2E_TMP/poll.json")"
curl -s -o /dev/null -D "$E2E_TMP/imp2.h" --max-time 60 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" \
	-H "X-IZA-Submission: import-1" --data-binary @"$E2E_TMP/import.ndjson" "$url/fhir/\$import"
expect_eq "  the same submission again: 200, nothing new" "200 1" "$(head -1 "$E2E_TMP/imp2.h" | awk '{print $2}') $(sqlite3 "$d/izagw-data/intake/intake.db" "SELECT count(*) FROM batches WHERE submission = 'import-1'")"

# the same submission on two connections at once: stored once, the other
# connection is told it is being received (409)
n_before=$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM batches")
for k in 1 2; do
	(curl -s --max-time 60 --limit-rate 20k --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" \
		-o /dev/null -w '%{http_code}\n' -H "X-IZA-Submission: twice-1" --data-binary @"$E2E_TMP/import.ndjson" "$url/ndjson" >>"$E2E_TMP/twice") &
done
wait $(jobs -p | grep -v "^$srv$") 2>/dev/null || true
expect_eq "the same submission twice at once: 201 and 409" "201 409" "$(sort "$E2E_TMP/twice" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  one store batch" "$((n_before + 1))" "$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM batches")"
expect_eq "  one batch in the log" 1 "$(sqlite3 "$d/izagw-data/intake/intake.db" "SELECT count(*) FROM batches WHERE submission = 'twice-1'")"

# refusals
expect_eq "no client certificate: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" --data-binary @"$ex/gp/Patient.ndjson" "$url/ndjson")"
post insurer-3311 /ndjson "$ex/gp/Patient.ndjson" >/dev/null
expect_eq "a certificate without an AGB code: 403" 403 "$(cat "$E2E_TMP/code")"
expect_eq "an unknown route: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" --data x "$url/upload")"

# a client that disconnects mid-upload: nothing stored, no spool file left
n_before=$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM batches")
head -c 3000000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
timeout 2 curl -s --limit-rate 200k --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" --data-binary @"$E2E_TMP/big" "$url/ndjson" >/dev/null 2>&1 || true
sleep 1
expect_eq "disconnected mid-upload: no batch" "$n_before" "$(sqlite3 "$d/izagw-data/events.db" "SELECT count(*) FROM batches")"
expect_eq "  and no spool file left" "" "$(ls "$d/izagw-data/intake" | grep spool || true)"

# 8 clients at once, each a small NDJSON of its own encounters
for i in $(seq 1 8); do
	sed -n "$((i * 10)),$((i * 10 + 9))p" "$ex/gp/Encounter.ndjson" >"$E2E_TMP/part$i.ndjson"
	(curl -s --max-time 60 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" \
		-o /dev/null -w '%{http_code}\n' --data-binary @"$E2E_TMP/part$i.ndjson" -H "X-IZA-Submission: part-$i" "$url/ndjson" >>"$E2E_TMP/codes") &
done
wait $(jobs -p | grep -v "^$srv$") 2>/dev/null || true
expect_eq "8 concurrent uploads: all 201" "8" "$(grep -c '^201$' "$E2E_TMP/codes")"
expect_eq "  8 batches recorded" 8 "$(sqlite3 "$d/izagw-data/intake/intake.db" "SELECT count(*) FROM batches WHERE submission LIKE 'part-%'")"
# metrics for the region's monitoring: counts only
curl -s --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-$gp-chain.pem" --key "$pki/provider-$gp.key" "$url/metrics" >"$E2E_TMP/metrics.txt"
expect_eq "metrics: stored batches of the hospital" "izagw_intake_batches{source=\"$hosp\",state=\"stored\"} 2" "$(grep "^izagw_intake_batches{source=\"$hosp\"" "$E2E_TMP/metrics.txt")"
expect_eq "metrics: the hospital's records accepted = read - quarantined" "$(($(jq -r .result.records "$E2E_TMP/b1.json") + $(jq -r .result.records "$E2E_TMP/b2.json") - cli_q))" "$(grep "^izagw_intake_records_accepted{source=\"$hosp\"}" "$E2E_TMP/metrics.txt" | awk '{print $2}')"
expect_eq "metrics: quarantined by reason add up to the batch's" "$cli_q" "$(grep "^izagw_intake_quarantined{source=\"$hosp\"" "$E2E_TMP/metrics.txt" | awk '{s += $2} END {print s + 0}')"
expect_eq "metrics: the outbox (no upload configured)" 'izagw_outbox_reports{state="queued"} 0' "$(grep '^izagw_outbox_reports{state="queued"}' "$E2E_TMP/metrics.txt")"
expect_eq "metrics without a certificate: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" "$url/metrics")"
grep -q '"event":"batch.stored"' "$E2E_TMP/serve.log" && ok "one JSON log line per batch" || not_ok "no batch log lines"
! grep -qi 'bsn\|"postalCode"' "$E2E_TMP/serve.log" && ok "the log holds no patient data" || not_ok "patient data in the log"

# izagw replay of the hospital's encounter batch after a mapping fix: the
# region's mapping learns the class code XYZ (as an ER visit), the batch's
# quarantined records go in again as a new batch of the same source; the
# one with that code is stored now, the others are quarantined again
kill -TERM $srv
wait $srv 2>/dev/null || true
cp -r "$IZA_SOURCE_DIR/mappings" "$E2E_TMP/mappings"
jq '.maps["contact-class"].values.XYZ = "EMER"' "$IZA_SOURCE_DIR/mappings/fhir-r4.json" >"$E2E_TMP/mappings/fhir-r4.json"
jq --arg m "$E2E_TMP/mappings" '.mapping_dir = $m' "$d/config.json" >"$E2E_TMP/c.json" && mv "$E2E_TMP/c.json" "$d/config.json"
unknown=$(jq -r '.result.quarantined_by_reason.unknown_code // 0' "$E2E_TMP/b2.json")
expect_eq "the batch had one unknown class code" 1 "$unknown"
er_before=$(gw "$d" kpis --period 2025 --format json | jq '.kpis[] | select(.id == "er-visits") | .value')
set +e
gw "$d" replay "$b2" >"$E2E_TMP/replay.out" 2>&1
rrc=$?
set -e
expect_eq "izagw replay BATCH: exit 5 (some still quarantined)" 5 "$rrc"
expect_eq "  every quarantined record of the batch read" "replay $b2: $cli_q quarantined records" "$(head -1 "$E2E_TMP/replay.out" | cut -d, -f1)"
expect_eq "  the fixed one stored" 1 "$(awk '/events stored/{print $3}' "$E2E_TMP/replay.out")"
expect_eq "  the others quarantined again, without the unknown code" "" "$(grep '^    unknown_code' "$E2E_TMP/replay.out")"
expect_eq "  one more ER visit in 2025" "$((er_before + 1))" "$(gw "$d" kpis --period 2025 --format json | jq '.kpis[] | select(.id == "er-visits") | .value')"
expect_eq "  the new batch is the source's" "$hosp" "$(sqlite3 "$d/izagw-data/events.db" "SELECT source FROM batches ORDER BY rowid DESC LIMIT 1")"
set +e
gw "$d" replay "$b2" >"$E2E_TMP/replay2.out" 2>&1
rrc=$?
set -e
expect_eq "a second replay of the batch is refused" "1 replayed before" "$rrc $(grep -o 'replayed before' "$E2E_TMP/replay2.out")"
finish
