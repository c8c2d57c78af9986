#!/usr/bin/env bash
# End to end on the hand-made Dutch fixture tests/data/nl-small (see its
# README): every expected value below is worked out on paper from the files.
source "$(dirname "$0")/lib.bash"
fx="$IZA_SOURCE_DIR/tests/data/nl-small"
cfg='{"k": 1, "test_mode": true, "provider_rule": false, "baseline_year": 2024}'
d="$E2E_TMP/gw"
gw_new "$d" "$cfg"

set +e
gw "$d" ingest --source 06010713 "$fx/hospital-Patient.ndjson" "$fx/hospital-Encounter.ndjson" >"$E2E_TMP/h.out" 2>"$E2E_TMP/h.err"
rc=$?
gw "$d" ingest --source 01012345 "$fx/gp-Encounter.ndjson" "$fx/gp-Patient.ndjson" >"$E2E_TMP/g.out" 2>"$E2E_TMP/g.err"
rc_gp=$?
set -e
expect_eq "ingest exit code with quarantined records" 5 "$rc"
expect_eq "ingest exit code, clean GP files" 0 "$rc_gp"
expect_eq "records read" 18 "$(awk '/^ingest .*hospital-Encounter/{t=1} t && /records read/{print $3; exit}' "$E2E_TMP/h.out")"
expect_eq "events stored (13 new incl. ER+admission, 1 replaced)" 14 "$(awk '/^ingest .*hospital-Encounter/{t=1} t && /events stored/{print $3; exit}' "$E2E_TMP/h.out")"
expect_eq "duplicates (e8 sent twice)" 1 "$(awk '/^ingest .*hospital-Encounter/{t=1} t && /duplicates/{print $2; exit}' "$E2E_TMP/h.out")"
expect_eq "updated (e7 version 2)" 1 "$(awk '/^ingest .*hospital-Encounter/{t=1} t && /updated/{print $2; exit}' "$E2E_TMP/h.out")"
expect_eq "quarantined" 4 "$(awk '/^ingest .*hospital-Encounter/{t=1} t && /quarantined/{print $2; exit}' "$E2E_TMP/h.out")"
for r in malformed unknown_code missing_field invalid_date; do
	expect_eq "quarantined as $r" 1 "$(awk -v r=$r '/^ingest .*hospital-Encounter/{t=1} t && $1 == r {print $2; exit}' "$E2E_TMP/h.out")"
done
expect_eq "excluded resource types (Organization)" 1 "$(grep -o 'other resource types [0-9]*' "$E2E_TMP/h.out" | head -1 | awk '{print $4}')"
grep -q "living elsewhere 1, residence unknown 1" "$E2E_TMP/h.out" && ok "patients elsewhere/unknown counted" || not_ok "patients elsewhere/unknown counted"

# quarantine keeps file, line and reason
q=$(cat "$d"/izagw-data/quarantine/*.ndjson)
expect_eq "quarantine lines" 4 "$(echo "$q" | wc -l)"
expect_eq "quarantined lines by number" "11 12 13 14" "$(echo "$q" | jq -r .line | sort -n | tr '\n' ' ' | sed 's/ $//')"
expect_eq "reason of line 14" invalid_date "$(echo "$q" | jq -r 'select(.line == 14) | .reason')"
expect_eq "field of line 13" patient "$(echo "$q" | jq -r 'select(.line == 13) | .field')"

gw "$d" kpis --period 2025-Q1 --format json >"$E2E_TMP/q1.json"
k() { jq -r ".kpis[] | select(.id == \"$1\") | $2" "$E2E_TMP/q1.json"; }
# e1, e2, e3 (ER then admitted), e16 (23:30 UTC on 31 Dec = 00:30 on 1 Jan in
# Amsterdam); not e4 (entered-in-error), e5 (Deventer), e6 (no residence),
# e7 (cancelled in version 2), e15 (31 Dec 23:30 CET)
expect_eq "er-visits 2025-Q1" 4 "$(k er-visits .value)"
expect_eq "er-patients 2025-Q1 (h1, h2, h3)" 3 "$(k er-patients .value)"
# contacts e8 e9 c1 c2 c3 c4 c5; digital e9 (VR), c3 (message), c5 (Virtueel)
expect_eq "digital-contact-share numerator" 3 "$(k digital-contact-share .numerator)"
expect_eq "digital-contact-share denominator" 7 "$(k digital-contact-share .denominator)"
expect_eq "digital-contact-share value" 0.428571 "$(k digital-contact-share '.value * 1000000 | floor / 1000000')"
# e3: midnights 30 Mar, 31 Mar, 1 Apr close Q1 days; 2 Apr closes a Q2 day
expect_eq "bed-days 2025-Q1" 3 "$(k bed-days .value)"
# baseline 2024-Q1: e17 = 1 visit; population 2025 carried from 2024 -> expected 1
expect_eq "er-visits-avoided observed" 4 "$(k er-visits-avoided .observed)"
expect_eq "er-visits-avoided expected" 1 "$(k er-visits-avoided .expected)"
expect_eq "er-visits-avoided value" -3 "$(k er-visits-avoided .value)"
gw "$d" kpis --period 2025-04 --format json >"$E2E_TMP/apr.json"
expect_eq "bed-days 2025-04" 1 "$(jq -r '.kpis[] | select(.id == "bed-days") | .value' "$E2E_TMP/apr.json")"
gw "$d" kpis --period 2024 --format json >"$E2E_TMP/y24.json"
expect_eq "er-visits 2024 (e15 on 31 Dec local, e17)" 2 "$(jq -r '.kpis[] | select(.id == "er-visits") | .value' "$E2E_TMP/y24.json")"

# report: 11 Measures + 11 MeasureReports, er-visits count 4 with age strata
gw "$d" report --period 2025-Q1 --out "$E2E_TMP/report.json"
expect_eq "Measures in report" 11 "$(jq '[.entry[].resource | select(.resourceType == "Measure")] | length' "$E2E_TMP/report.json")"
expect_eq "MeasureReports in report" 11 "$(jq '[.entry[].resource | select(.resourceType == "MeasureReport")] | length' "$E2E_TMP/report.json")"
expect_eq "MeasureReport type" summary "$(jq -r '[.entry[].resource | select(.resourceType == "MeasureReport")][0].type' "$E2E_TMP/report.json")"

# table and csv
gw "$d" kpis --period 2025-Q1 --format csv >"$E2E_TMP/q1.csv"
expect_eq "csv er-visits row" "er-visits,4" "$(grep '^er-visits,' "$E2E_TMP/q1.csv" | cut -d, -f1,2)"

# With the production minimum k = 10 every cell here is suppressed, without values
d10="$E2E_TMP/gw10"
gw_new "$d10"
gw "$d10" ingest --source 06010713 "$fx/hospital-Patient.ndjson" "$fx/hospital-Encounter.ndjson" >/dev/null || true
gw "$d10" kpis --period 2025-Q1 --format json >"$E2E_TMP/k10.json"
expect_eq "released values with k=10" "" "$(jq -r '[.kpis[] | select(.value != null or .numerator != null)] | map(.id) | join(",")' "$E2E_TMP/k10.json")"
gw "$d10" report --period 2025-Q1 --out "$E2E_TMP/r10.json"
expect_eq "masked MeasureReports with k=10 (all eleven)" 11 "$(jq '[.entry[].resource | select(.resourceType == "MeasureReport") | select(tostring | contains("masked"))] | length' "$E2E_TMP/r10.json")"

# k below 10 is refused without test mode
gw_new "$E2E_TMP/k5" '{"k": 5}'
set +e
gw "$E2E_TMP/k5" kpis --period 2025-Q1 >/dev/null 2>"$E2E_TMP/k5.err"
rc=$?
set -e
expect_eq "k=5 refused (exit 3)" 3 "$rc"

# No BSN anywhere: stdout, stderr, the event store, the data directory
bsns="111222333 123456782 123456789 246813581"
leak=""
for b in $bsns "111 222 333"; do
	grep -rlF "$b" "$E2E_TMP"/*.out "$E2E_TMP"/*.err "$E2E_TMP"/*.json "$E2E_TMP"/*.csv "$d/izagw-data" "$d10/izagw-data" 2>/dev/null && leak="$leak $b"
done
expect_eq "BSNs found in outputs or store" "" "$leak"
finish
