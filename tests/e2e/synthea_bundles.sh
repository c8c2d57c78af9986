#!/usr/bin/env bash
# End to end on real public FHIR transaction Bundles (Synthea 2.4, one per
# patient, references as urn:uuid:, ../shared/data/fhir-bundles-synthea):
# ER visits and contacts per year against jq over the same files. Older
# Synthea marks telemedicine as AMB with SNOMED 448337001: counted as video.
source "$(dirname "$0")/lib.bash"
data="$IZA_SHARED_DATA/fhir-bundles-synthea"
d="$E2E_TMP/gw"
gw_new "$d" '{"k": 1, "test_mode": true, "provider_rule": false, "count_unknown_residence": true}'
gw "$d" ingest --source 06000002 "$data"/*.json >"$E2E_TMP/out"
all=$(jq -s '[.[].entry[]] | length' "$data"/*.json)
expect_eq "records read = all Bundle entries" "$all" "$(awk '/^total/{t=1} t && /records read/{print $3}' "$E2E_TMP/out")"
pts=$(jq -s '[.[].entry[].resource | select(.resourceType == "Patient")] | length' "$data"/*.json)
expect_eq "patients stored" "$pts" "$(awk '/^total/{t=1} t && /patients stored/{print $3}' "$E2E_TMP/out")"
others=$(jq -s '[.[].entry[].resource | select(.resourceType != "Patient" and .resourceType != "Encounter")] | length' "$data"/*.json)
expect_eq "other resource types excluded" "$others" "$(awk '/^total/{t=1} t && /^  excluded/{print $2}' "$E2E_TMP/out")"
jq_year='def epoch: (.[0:19] + "Z" | fromdateiso8601) - (.[19:] | if . == "" or . == "Z" then 0 else ((.[1:3] | tonumber) * 3600 + (.[4:6] | tonumber) * 60) * (if .[0:1] == "-" then -1 else 1 end) end);
def localyear: (epoch + 3600 | todate | .[0:4]);'
years=$(jq -rs "$jq_year [.[].entry[].resource | select(.resourceType == \"Encounter\" and .class.code == \"EMER\") | .period.start | localyear] | unique | .[]" "$data"/*.json | tail -4)
for y in $years; do
	er=$(jq -s "$jq_year [.[].entry[].resource | select(.resourceType == \"Encounter\" and .class.code == \"EMER\" and .status == \"finished\" and (.period.start | localyear) == \"$y\")] | length" "$data"/*.json)
	den=$(jq -s "$jq_year [.[].entry[].resource | select(.resourceType == \"Encounter\" and (.class.code == \"AMB\" or .class.code == \"VR\" or .class.code == \"HH\") and (.period.start | localyear) == \"$y\")] | length" "$data"/*.json)
	gw "$d" kpis --period "$y" --format json >"$E2E_TMP/k.json"
	expect_eq "$y er-visits" "$er" "$(jq -r '.kpis[] | select(.id == "er-visits") | .value' "$E2E_TMP/k.json")"
	got_den=$(jq -r '.kpis[] | select(.id == "digital-contact-share") | .denominator // "suppressed"' "$E2E_TMP/k.json")
	if [ "$got_den" != suppressed ]; then expect_eq "$y contacts" "$den" "$got_den"; else ok "$y contacts suppressed (no digital contact)"; fi
done
finish
