#!/usr/bin/env bash
# The README's first command, demo.sh, end to end with the built binaries:
# it must finish with status 0, print a KPI table with released figures,
# write the FHIR report, deliver it signed to izamon on loopback (a
# quarantined demo line must not stop it), and end with a decided milestone
# and its payment notices.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
: "${IZAFD:?IZAFD must point at the izafd binary}"
set +e
IZAGW="$IZAGW" IZAGEN="$IZAGEN" IZAMON="$IZAMON" IZAFD="$IZAFD" DEMO_DIR="$E2E_TMP/demo" bash "$IZA_SOURCE_DIR/demo.sh" >"$E2E_TMP/out" 2>&1
rc=$?
set -e
expect_eq "demo.sh exit status" 0 "$rc"
[ "$rc" -eq 0 ] || tail -20 "$E2E_TMP/out"
grep -Eq '^er-visits +[0-9]+ +[0-9]+' "$E2E_TMP/out" && ok "er-visits released in the table" || not_ok "no released er-visits"
grep -Eq '^digital-contact-share +[0-9.]+%' "$E2E_TMP/out" && ok "digital-contact-share released" || not_ok "no released share"
grep -Eq '^frontdoor-selfcare-share +[0-9.]+%' "$E2E_TMP/out" && ok "the front door's self-care share released" || not_ok "no front-door share"
n=$(jq '[.entry[] | select(.resource.resourceType == "MeasureReport")] | length' "$E2E_TMP/demo/report-2025-Q1.json")
expect_eq "MeasureReports in the demo report" 11 "$n"
grep -q 'release 1 of 2025-Q1 recorded' "$E2E_TMP/out" && ok "the report is release 1" || not_ok "no release recorded"
grep -q '^push: 1 sent, 0 to retry, 0 refused' "$E2E_TMP/out" && ok "pushed to izamon" || not_ok "no push"
grep -q 'audit log intact' "$E2E_TMP/out" && ok "izamon's audit log verifies" || not_ok "no audit verify"
n=$(sqlite3 "$E2E_TMP/demo/izamon-data/izamon.db" "SELECT count(*) FROM reports")
expect_eq "reports received by izamon" 2 "$n"
grep -q '^digital-share-2025-q4: met$' "$E2E_TMP/out" && ok "the plan's Q4 milestone is decided met" || not_ok "no decided milestone: $(grep -A4 'where the plan stands' "$E2E_TMP/out")"
n=$(grep -c '^plan-zk02-front-door/digital-share-2025-q4/' "$E2E_TMP/out" || true)
expect_eq "payment notices printed, one per insurer of the 2026 key" 5 "$n"
sleep 0.5
pgrep -f "izamon.json serve" >/dev/null && not_ok "izamon still running after the demo" || ok "izamon stopped with the demo"
finish
