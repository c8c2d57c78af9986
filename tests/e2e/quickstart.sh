#!/usr/bin/env bash
# The README's first command, demo.sh, end to end with the built binaries:
# it must finish with status 0, print a KPI table with released figures and
# write the FHIR report (a quarantined demo line must not stop it).
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
set +e
IZAGW="$IZAGW" IZAGEN="$IZAGEN" DEMO_DIR="$E2E_TMP/demo" bash "$IZA_SOURCE_DIR/demo.sh" >"$E2E_TMP/out" 2>&1
rc=$?
set -e
expect_eq "demo.sh exit status" 0 "$rc"
[ "$rc" -eq 0 ] || tail -20 "$E2E_TMP/out"
grep -Eq '^er-visits +[0-9]+ +[0-9]+' "$E2E_TMP/out" && ok "er-visits released in the table" || not_ok "no released er-visits"
grep -Eq '^digital-contact-share +[0-9.]+%' "$E2E_TMP/out" && ok "digital-contact-share released" || not_ok "no released share"
n=$(jq '[.entry[] | select(.resource.resourceType == "MeasureReport")] | length' "$E2E_TMP/demo/report-2025-Q1.json")
expect_eq "MeasureReports in the demo report" 5 "$n"
grep -q 'release 1 of 2025-Q1 recorded' "$E2E_TMP/out" && ok "the report is release 1" || not_ok "no release recorded"
finish
