#!/usr/bin/env bash
# Differential privacy through the CLI: er-visits declared with "dp"
# (epsilon 0.5, bound 3) in a copy of the mappings.  Its released counts
# carry discrete Laplace noise, asking again returns the same values (so
# repeated answers cannot be averaged), a report charges the privacy budget
# only when the published values change, and once the quarter's budget
# (epsilon 1) is spent a further changed release is refused and nothing is
# recorded.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (scripts/setup.sh installs it)"; exit 1; }

ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 4000 --seed 5 --bad 0 --quiet)
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
maps="$E2E_TMP/mappings"
cp -r "$IZA_SOURCE_DIR/mappings" "$maps"
jq '(.kpis[] | select(.id == "er-visits")) += {"dp": {"epsilon": 0.5, "bound": 3}}' \
	"$IZA_SOURCE_DIR/mappings/kpis.json" >"$maps/kpis.json"
consent="\"provider_consent\": [\"$hosp\", \"$gp\"]"
d="$E2E_TMP/gw"
gw_new "$d" "{\"mapping_dir\": \"$maps\", $consent}"
plain="$E2E_TMP/plain" # the same data without noise, for the true values
gw_new "$plain" "{$consent}"
for g in "$d" "$plain"; do
	gw "$g" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
	gw "$g" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null
done
er() { jq -r '.kpis[] | select(.id == "er-visits") | '"$1" "$2"; }

gw "$d" kpis --period 2025-Q1 --format json >"$E2E_TMP/a.json"
gw "$d" kpis --period 2025-Q1 --format json >"$E2E_TMP/b.json"
cmp -s "$E2E_TMP/a.json" "$E2E_TMP/b.json" && ok "asking again gives the same noisy values" || not_ok "two kpis runs differ"
expect_eq "er-visits noise" discrete-laplace "$(er .noise "$E2E_TMP/a.json")"
noisy=$(er .value "$E2E_TMP/a.json")
true_v=$(gw "$plain" kpis --period 2025-Q1 --format json | er .value /dev/stdin)
diff=$((noisy > true_v ? noisy - true_v : true_v - noisy))
# scale 3 x 2 / 0.5 = 12: |noise| >= 100 has probability about 2e-4
[ "$diff" -lt 100 ] && ok "noisy er-visits $noisy near the true $true_v" || not_ok "noisy $noisy far from $true_v"
jq -e '.kpis[] | select(.id == "er-patients") | has("noise") | not' "$E2E_TMP/a.json" >/dev/null && ok "KPIs without dp carry no noise" || not_ok "er-patients noised"
n=$(jq '[.kpis[] | select(.id == "er-visits") | .strata[] | select(.noise == "discrete-laplace")] | length' "$E2E_TMP/a.json")
[ "$n" -ge 1 ] && ok "$n released strata noised too" || not_ok "no noised strata"

spent() { sqlite3 "$d/izagw-data/ledger.db" "SELECT coalesce(sum(milli), 0) FROM budget WHERE scope = '$1'"; }
gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r1.json" 2>"$E2E_TMP/r1.err"
grep -q 'release 1 of 2025-Q1 recorded.*privacy budget charged' "$E2E_TMP/r1.err" && ok "release 1 charged" || not_ok "r1: $(cat "$E2E_TMP/r1.err")"
expect_eq "spent on 2025-Q1 after release 1" 500 "$(spent 2025-Q1)"
expect_eq "spent on 2025 after release 1" 500 "$(spent 2025)"
eps=$(jq '[.entry[].resource | select(.resourceType == "MeasureReport" and (.measure | contains("/er-visits|")))][0].extension[0].extension[] | select(.url == "epsilon") | .valueDecimal' "$E2E_TMP/r1.json")
expect_eq "the MeasureReport names epsilon" 0.5 "$eps"
gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r2.json" 2>"$E2E_TMP/r2.err"
grep -q 'release 2 of 2025-Q1 recorded' "$E2E_TMP/r2.err" && ! grep -q charged "$E2E_TMP/r2.err" && ok "the same values again: release 2, not charged" || not_ok "r2: $(cat "$E2E_TMP/r2.err")"
expect_eq "spent after release 2" 500 "$(spent 2025-Q1)"

# late visits until the quarter's budget (epsilon 1) is used up: one more
# charged release fits, the next changed one is refused
jq -c 'select(.status == "finished" and .class.code == "EMER" and (.period.start | startswith("2025-02")) and (.classHistory | not))' \
	"$ex/hospital/Encounter.ndjson" | head -n 30 >"$E2E_TMP/feb-er.ndjson"
refused=0
charged=1
for i in $(seq 1 30); do
	sed -n "${i}p" "$E2E_TMP/feb-er.ndjson" | jq -c --arg id "late-$i" '.id = $id | .meta.lastUpdated = "2025-04-20T10:00:00Z"' >"$E2E_TMP/late.ndjson"
	gw "$d" ingest --source "$hosp" "$E2E_TMP/late.ndjson" >/dev/null
	set +e
	gw "$d" report --period 2025-Q1 --out "$E2E_TMP/rl.json" 2>"$E2E_TMP/rl.err"
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		refused=$i
		break
	fi
	grep -q charged "$E2E_TMP/rl.err" && charged=$((charged + 1))
done
[ "$refused" -gt 0 ] && ok "a release was refused after $((refused - 1)) more late visits" || not_ok "never refused"
expect_eq "charged releases before the refusal" 2 "$charged"
grep -q 'privacy budget of 2025-Q1 would be exceeded (epsilon 1.000 spent + 0.500 > 1.000); nothing was released' "$E2E_TMP/rl.err" && ok "the refusal says why" || not_ok "refusal: $(cat "$E2E_TMP/rl.err")"
expect_eq "spent on 2025-Q1 at the refusal" 1000 "$(spent 2025-Q1)"
releases=$(sqlite3 "$d/izagw-data/ledger.db" "SELECT count(*) FROM releases")
gw "$d" status | grep -q "^releases  *$releases in .*(hash chain intact)" && ok "the refused release left no trace ($releases releases, chain intact)" || not_ok "status after refusal"
# another quarter has its own budget
gw "$d" report --period 2025-Q2 --out "$E2E_TMP/q2.json" 2>"$E2E_TMP/q2.err" && ok "2025-Q2 can still be released" || not_ok "q2: $(cat "$E2E_TMP/q2.err")"
finish
