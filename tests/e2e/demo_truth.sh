#!/usr/bin/env bash
# The generated Dutch demo region against the generator's own ground truth
# (truth.json, from izagen's bookkeeping, independent of the gateway's code):
# ER visits, ER patients and the digital-contact share for every month,
# quarter and year, after corrections, resends, duplicates and bad lines.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
ex="$E2E_TMP/export"
mkdir -p "$ex"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 3000 --seed 7 --quiet)
hosp=$(jq -r '.sources.hospital.agb // "06010713"' "$ex/truth.json" 2>/dev/null || echo 06010713)
gp=$(jq -r '.sources.gp.agb // empty' "$ex/truth.json" 2>/dev/null)
[ -n "$gp" ] || gp=$(head -c 2000 "$ex/gp/Encounter.ndjson" | grep -o '"agb-z","value":"[0-9]*"' | head -1 | grep -o '[0-9]\{8\}')
d="$E2E_TMP/gw"
gw_new "$d" '{"k": 1, "test_mode": true, "provider_rule": false}'
set +e
gw "$d" ingest --source "$hosp" "$ex/hospital/Encounter.ndjson" "$ex/hospital/Patient.ndjson" >"$E2E_TMP/h.out"
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >"$E2E_TMP/g.out"
set -e
q=$(($(awk '/^total/{t=1} t && /^  quarantined/{print $2}' "$E2E_TMP/h.out") + $(awk '/^total/{t=1} t && /^  quarantined/{print $2}' "$E2E_TMP/g.out")))
expect_eq "quarantined records = deliberately bad lines" 10 "$q"

check() { # check PERIOD TRUTH-PATH
	local t
	t=$(jq -c "$2" "$ex/truth.json")
	gw "$d" kpis --period "$1" --format json >"$E2E_TMP/k.json"
	got=$(jq -c '{er_visits: (.kpis[] | select(.id == "er-visits") | .value // 0),
		er_patients: (.kpis[] | select(.id == "er-patients") | .value // 0),
		gp_contacts_total: (.kpis[] | select(.id == "digital-contact-share") | .denominator // 0),
		gp_contacts_digital: (.kpis[] | select(.id == "digital-contact-share") | .numerator // 0)}' "$E2E_TMP/k.json")
	want=$(echo "$t" | jq -c '{er_visits, er_patients, gp_contacts_total, gp_contacts_digital}')
	expect_eq "period $1" "$want" "$got"
}
for m in 01 02 03 04 05 06 07 08 09 10 11 12; do
	check "2025-$m" ".months[\"2025-$m\"]"
done
for qq in 1 2 3 4; do
	check "2024-Q$qq" ".quarters[\"2024-Q$qq\"]"
	check "2025-Q$qq" ".quarters[\"2025-Q$qq\"]"
done
check 2024 '.years["2024"]'
check 2025 '.years["2025"]'
finish
