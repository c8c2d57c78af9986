#!/usr/bin/env bash
# End to end on a real public FHIR Bulk export (Synthea, 10 patients, 1,215
# Encounters; ../shared/data/fhir-bulk-synthea-10): the KPI values izagw
# computes are checked against values derived independently with jq from the
# same files; order independence; idempotent re-ingest.
# Synthea patients have US addresses, so residence is unknown: the test
# configuration counts unknown residence and lowers k (test mode only).
source "$(dirname "$0")/lib.bash"
data="$IZA_SHARED_DATA/fhir-bulk-synthea-10"
cfg='{"k": 1, "test_mode": true, "provider_rule": false, "count_unknown_residence": true}'

# 1. Patients first, then Encounters
gw_new "$E2E_TMP/a" "$cfg"
gw "$E2E_TMP/a" ingest --source 06000001 "$data/Patient.000.ndjson" "$data/Encounter.000.ndjson" >"$E2E_TMP/a.out"
expect_eq "records read" 1228 "$(awk '/^total/{t=1} t && /records read/{print $3}' "$E2E_TMP/a.out")"
expect_eq "events stored (1215 encounters, none ER->IMP)" 1215 "$(awk '/^total/{t=1} t && /events stored/{print $3}' "$E2E_TMP/a.out")"

# 2. Encounters first, then Patients: the same KPIs, byte for byte
gw_new "$E2E_TMP/b" "$cfg"
gw "$E2E_TMP/b" ingest --source 06000001 "$data/Encounter.000.ndjson" "$data/Patient.000.ndjson" >/dev/null
for y in 2018 2021 2022; do
	gw "$E2E_TMP/a" kpis --period $y --format json >"$E2E_TMP/a-$y.json"
	gw "$E2E_TMP/b" kpis --period $y --format json >"$E2E_TMP/b-$y.json"
	if cmp -s "$E2E_TMP/a-$y.json" "$E2E_TMP/b-$y.json"; then ok "order independence $y"; else not_ok "order independence $y"; fi
done

# 3. Re-ingesting the same file changes nothing
gw "$E2E_TMP/a" ingest --source 06000001 "$data/Encounter.000.ndjson" >"$E2E_TMP/re.out"
expect_eq "duplicates on re-ingest" 1215 "$(awk '/duplicates/{print $2}' "$E2E_TMP/re.out")"
gw "$E2E_TMP/a" kpis --period 2018 --format json >"$E2E_TMP/a-2018-again.json"
if cmp -s "$E2E_TMP/a-2018.json" "$E2E_TMP/a-2018-again.json"; then ok "re-ingest leaves kpis byte-identical"; else not_ok "re-ingest changed kpis"; fi

# 4. Independent expectations: per local (Europe/Amsterdam) year. Around New
# Year Amsterdam is UTC+1, so the local year of an instant is the UTC year of
# instant + 1 hour.
jq_year='def epoch: (.[0:19] + "Z" | fromdateiso8601) - (.[19:] | if . == "" or . == "Z" then 0 else ((.[1:3] | tonumber) * 3600 + (.[4:6] | tonumber) * 60) * (if .[0:1] == "-" then -1 else 1 end) end);
def localyear: (epoch + 3600 | todate | .[0:4]);'
for y in 2015 2018 2020 2021 2022; do
	er=$(jq -s "$jq_year [.[] | select(.class.code == \"EMER\" and .status == \"finished\" and (.period.start | localyear) == \"$y\")] | length" "$data/Encounter.000.ndjson")
	erp=$(jq -s "$jq_year [.[] | select(.class.code == \"EMER\" and .status == \"finished\" and (.period.start | localyear) == \"$y\") | .subject.reference] | unique | length" "$data/Encounter.000.ndjson")
	den=$(jq -s "$jq_year [.[] | select((.class.code == \"AMB\" or .class.code == \"VR\" or .class.code == \"HH\") and (.period.start | localyear) == \"$y\")] | length" "$data/Encounter.000.ndjson")
	num=$(jq -s "$jq_year [.[] | select((.class.code == \"VR\" or (.class.code == \"AMB\" and ([.type[]?.coding[]? | select(.system == \"http://snomed.info/sct\") | .code] | index(\"448337001\")))) and (.period.start | localyear) == \"$y\")] | length" "$data/Encounter.000.ndjson")
	gw "$E2E_TMP/a" kpis --period $y --format json >"$E2E_TMP/k.json"
	k() { jq -r ".kpis[] | select(.id == \"$1\") | .$2" "$E2E_TMP/k.json"; }
	if [ "$er" -gt 0 ]; then
		expect_eq "$y er-visits" "$er" "$(k er-visits numerator)"
		expect_eq "$y er-patients" "$erp" "$(k er-patients value)"
	else
		expect_eq "$y er-visits (zero cell suppressed)" true "$(k er-visits suppressed)"
	fi
	if [ "$num" -gt 0 ]; then
		expect_eq "$y digital-contact-share denominator" "$den" "$(k digital-contact-share denominator)"
		expect_eq "$y digital-contact-share numerator" "$num" "$(k digital-contact-share numerator)"
	else
		# a zero numerator discloses that every contact was in person
		expect_eq "$y digital-contact-share (zero numerator suppressed)" true "$(k digital-contact-share suppressed)"
	fi
done

# 5. Bed days, by hand: the one admission of 2018 runs from
# 2018-10-18T02:16:29-04:00 (08:16 CEST on 18 Oct) to 2018-11-06T01:31:29-05:00
# (07:31 CET on 6 Nov): midnights 19 Oct .. 6 Nov = 19, of which 19 Oct ..
# 1 Nov (14) close October days and 2 .. 6 Nov (5) close November days.
gw "$E2E_TMP/a" kpis --period 2018 --format json >"$E2E_TMP/k.json"
expect_eq "2018 bed-days" 19 "$(jq -r '.kpis[] | select(.id == "bed-days") | .value' "$E2E_TMP/k.json")"
gw "$E2E_TMP/a" kpis --period 2018-10 --format json >"$E2E_TMP/k.json"
expect_eq "2018-10 bed-days" 14 "$(jq -r '.kpis[] | select(.id == "bed-days") | .value' "$E2E_TMP/k.json")"
gw "$E2E_TMP/a" kpis --period 2018-11 --format json >"$E2E_TMP/k.json"
expect_eq "2018-11 bed-days" 5 "$(jq -r '.kpis[] | select(.id == "bed-days") | .value' "$E2E_TMP/k.json")"

# 6. With the production default k = 10 and no residence, nothing is released
gw_new "$E2E_TMP/c"
gw "$E2E_TMP/c" ingest --source 06000001 "$data/Patient.000.ndjson" "$data/Encounter.000.ndjson" >/dev/null
gw "$E2E_TMP/c" kpis --period 2021 --format json >"$E2E_TMP/k.json"
expect_eq "released values without residence in the region" "" "$(jq -r '[.kpis[] | select(.value != null)] | map(.id) | join(",")' "$E2E_TMP/k.json")"

finish
