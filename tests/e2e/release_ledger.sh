#!/usr/bin/env bash
# The release ledger through the CLI: `izagw report` records every release
# in izagw-data/ledger.db; a late record after a release cannot be isolated
# by re-releasing (the differencing attack: 120 -> 121 would reveal one
# visit), `izagw status` verifies the hash chain, the ledger refuses changes
# and a tampered ledger is reported.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (scripts/setup.sh installs it)"; exit 1; }

ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 4000 --seed 5 --bad 0 --quiet)
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
d="$E2E_TMP/gw"
gw_new "$d" '{"provider_consent": ["06010713", "01058123"]}'
gw "$d" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null

er() { jq -r '.kpis[] | select(.id == "er-visits") | '"$1" "$2"; }

# the provider rule: without consent, one hospital's ER visits are its own
# figure and stay in the region; the consent list above releases them
cp -a "$d" "$E2E_TMP/noconsent"
rm "$E2E_TMP/noconsent/config.json"
gw "$E2E_TMP/noconsent" kpis --period 2025-Q1 --format json >"$E2E_TMP/nc.json"
expect_eq "er-visits without consent suppressed" true "$(er .suppressed "$E2E_TMP/nc.json")"
er .reason "$E2E_TMP/nc.json" | grep -q '^provider rule' && ok "reason: the provider rule" || not_ok "reason: $(er .reason "$E2E_TMP/nc.json")"
expect_eq "rule id" provider "$(er .rule "$E2E_TMP/nc.json")"

gw "$d" status >"$E2E_TMP/status0"
grep -q '^releases  *0 (no ledger yet' "$E2E_TMP/status0" && ok "status before any release: no ledger" || not_ok "status0: $(tail -1 "$E2E_TMP/status0")"
gw "$d" kpis --period 2025-Q1 --format json >"$E2E_TMP/k0.json"
[ ! -e "$d/izagw-data/ledger.db" ] && ok "izagw kpis records nothing" || not_ok "kpis created a ledger"

gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r1.json" 2>"$E2E_TMP/r1.err"
grep -q 'release 1 of 2025-Q1 recorded' "$E2E_TMP/r1.err" && ok "report: release 1 recorded" || not_ok "report: $(cat "$E2E_TMP/r1.err")"
expect_eq "ledger mode" 600 "$(stat -c %a "$d/izagw-data/ledger.db")"
v1=$(er .value "$E2E_TMP/k0.json")
[ "$v1" -gt 10 ] && ok "er-visits 2025-Q1 released: $v1" || not_ok "er-visits 2025-Q1 not released ($v1)"
n=$(sqlite3 "$d/izagw-data/ledger.db" "SELECT count(*) FROM cells WHERE seq = 1")
[ "$n" -ge 8 ] && ok "release 1 holds $n cells" || not_ok "release 1 holds $n cells"

# one late ER visit of a resident patient: a copy of a February ER visit
# under a new id
jq -c 'select(.status == "finished" and .class.code == "EMER" and (.period.start | startswith("2025-02")) and (.classHistory | not))' \
	"$ex/hospital/Encounter.ndjson" | head -n 40 >"$E2E_TMP/feb-er.ndjson"
late="$E2E_TMP/late.ndjson"
: >"$late"
# pick one whose patient lives in the region: try each until er-visits moves
for i in $(seq 1 40); do
	sed -n "${i}p" "$E2E_TMP/feb-er.ndjson" | jq -c '.id = "late-visit-1" | .meta.lastUpdated = "2025-04-20T10:00:00Z"' >"$late"
	cp -a "$d" "$E2E_TMP/probe"
	rm -f "$E2E_TMP/probe/izagw-data/ledger.db"*
	gw "$E2E_TMP/probe" ingest --source "$hosp" "$late" >/dev/null
	vp=$(gw "$E2E_TMP/probe" kpis --period 2025-Q1 --format json | er .value /dev/stdin)
	rm -rf "$E2E_TMP/probe"
	[ "$vp" = $((v1 + 1)) ] && break
done
expect_eq "without the ledger the late visit would show as" "$((v1 + 1))" "$vp"

gw "$d" ingest --source "$hosp" "$late" >/dev/null
gw "$d" kpis --period 2025-Q1 --format json >"$E2E_TMP/k1.json"
expect_eq "er-visits after the late visit (release 1 stands)" "$v1" "$(er .value "$E2E_TMP/k1.json")"
expect_eq "held_since_release" 1 "$(er .held_since_release "$E2E_TMP/k1.json")"
expect_eq "rule id of a held value" re-release "$(er .rule "$E2E_TMP/k1.json")"
er .reason "$E2E_TMP/k1.json" | grep -q 'release 1 stands' && ok "the reason names the release" || not_ok "reason: $(er .reason "$E2E_TMP/k1.json")"
gw "$d" kpis --period 2025-Q1 | grep -q '^er-visits .*release 1 stands' && ok "the table says so too" || not_ok "table note missing"

gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r2.json" 2>"$E2E_TMP/r2.err"
grep -q 'release 2 of 2025-Q1 recorded' "$E2E_TMP/r2.err" && ok "report: release 2 recorded" || not_ok "report 2: $(cat "$E2E_TMP/r2.err")"
score=$(jq '[.entry[].resource | select(.resourceType == "MeasureReport" and (.measure | contains("/er-visits|")))][0].group[0].measureScore.value' "$E2E_TMP/r2.json")
expect_eq "release 2's MeasureReport carries the held value" "$v1" "$score"
expect_eq "disclosure-control extension: k, rules, test-mode" \
	'[10,"iza-disclosure/1",false]' \
	"$(jq -c '[.entry[].resource | select(.resourceType == "MeasureReport")][0].extension[] | select(.url | endswith("/disclosure-control")) | [.extension[0].valueInteger, .extension[1].valueString, .extension[2].valueBoolean]' "$E2E_TMP/r2.json")"
gw "$d" status >"$E2E_TMP/status2"
grep -q '^releases  *2 in .*(hash chain intact)' "$E2E_TMP/status2" && ok "status: 2 releases, chain intact" || not_ok "status2: $(tail -1 "$E2E_TMP/status2")"

# rounding to base 5: published counts are multiples of 5, the report and
# the JSON say so, the ledger keeps the exact numbers
cp -a "$d" "$E2E_TMP/round"
echo "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"rounding\": 5}" >"$E2E_TMP/round/config.json"
gw "$E2E_TMP/round" kpis --period 2025-Q3 --format json >"$E2E_TMP/round.json"
expect_eq "kpis JSON rounding" 5 "$(jq .rounding "$E2E_TMP/round.json")"
odd=$(jq '[.kpis[] | select(.suppressed == false and .numerator != null) | .numerator % 5] | map(select(. != 0)) | length' "$E2E_TMP/round.json")
expect_eq "released numerators that are not multiples of 5" 0 "$odd"
gw "$E2E_TMP/round" report --period 2025-Q3 --out "$E2E_TMP/round-r.json" 2>/dev/null
expect_eq "MeasureReport rounding" 5 "$(jq '[.entry[].resource | select(.resourceType == "MeasureReport")][0].extension[0].extension[] | select(.url == "rounding") | .valueInteger' "$E2E_TMP/round-r.json")"
exact=$(sqlite3 "$E2E_TMP/round/izagw-data/ledger.db" "SELECT numerator FROM cells WHERE period = '2025-Q3' AND kpi = 'er-visits' AND stratifier = ''")
plain=$(gw "$d" kpis --period 2025-Q3 --format json | er .numerator /dev/stdin)
expect_eq "the ledger keeps the exact count" "$plain" "$exact"

# append-only, tamper-evident
db="$d/izagw-data/ledger.db"
if sqlite3 "$db" "UPDATE cells SET numerator = numerator + 1 WHERE kpi = 'er-visits' AND stratifier = ''" 2>/dev/null; then
	not_ok "the ledger accepted an UPDATE"
else
	ok "the ledger refuses UPDATE"
fi
sqlite3 "$db" "DROP TRIGGER cells_no_update; UPDATE cells SET numerator = numerator + 1 WHERE seq = 1 AND kpi = 'er-visits' AND stratifier = ''"
set +e
gw "$d" status >"$E2E_TMP/status3" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && ok "status fails on a tampered ledger (exit $rc)" || not_ok "status passed a tampered ledger"
grep -q 'release 1: its cells do not match its hash' "$E2E_TMP/status3" && ok "the error names release 1" || not_ok "status3: $(tail -2 "$E2E_TMP/status3")"
finish
