#!/usr/bin/env bash
# izafd's simulated front door (and the practices' own triages) for the
# residents of an izagen export, through izagw ingest and kpis: every
# front-door KPI of both quarters equals izafd's ground truth, the load
# profile hour by hour (every released hour; the others are suppressed),
# the same load profile in a recorded report,
# and the same seed gives the same files.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAFD:?IZAFD must point at the izafd binary}"
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 1500 --seed 6 --bad 0 --quiet)
fd="$E2E_TMP/fd"
(cd "$IZA_SOURCE_DIR" && "$IZAFD" --patients "$ex/gp/Patient.ndjson" --out "$fd" --from 2025-01-01 --to 2025-06-30 --seed 3 >/dev/null)
(cd "$IZA_SOURCE_DIR" && "$IZAFD" --patients "$ex/gp/Patient.ndjson" --out "$E2E_TMP/fd2" --from 2025-01-01 --to 2025-06-30 --seed 3 >/dev/null)
cmp -s "$fd/frontdoor/Encounter.ndjson" "$E2E_TMP/fd2/frontdoor/Encounter.ndjson" && cmp -s "$fd/truth.json" "$E2E_TMP/fd2/truth.json" &&
	ok "the same seed gives the same files" || not_ok "izafd is not deterministic"

d="$E2E_TMP/gw"
gw_new "$d" '{"k": 1, "test_mode": true, "provider_rule": false}'
gw "$d" ingest --source 01099999 "$fd/frontdoor/Patient.ndjson" "$fd/frontdoor/Encounter.ndjson" >"$E2E_TMP/i1" 2>&1
gw "$d" ingest --source 01058123 "$fd/practice/Patient.ndjson" "$fd/practice/Encounter.ndjson" >"$E2E_TMP/i2" 2>&1
expect_eq "nothing quarantined" "" "$(grep -h '^  quarantined' "$E2E_TMP/i1" "$E2E_TMP/i2" | awk '$2 != 0')"
for qi in 0 1; do
	p=$(jq -r ".quarters[$qi].period" "$fd/truth.json")
	t() { jq -r ".quarters[$qi].$1" "$fd/truth.json"; }
	gw "$d" kpis --period "$p" --format json >"$E2E_TMP/k.json"
	k() { jq -r --arg id "$1" '.kpis[] | select(.id == $id) | "\(.numerator)/\(.denominator)"' "$E2E_TMP/k.json"; }
	fdn=$(t frontdoor_triages)
	expect_eq "$p frontdoor-nonacute-share" "$(t frontdoor_nonacute)/$(($(t frontdoor_nonacute) + $(t practice_nonacute)))" "$(k frontdoor-nonacute-share)"
	expect_eq "$p frontdoor-selfcare-share" "$(t selfcare)/$fdn" "$(k frontdoor-selfcare-share)"
	expect_eq "$p frontdoor-er-referral-share" "$(t er)/$fdn" "$(k frontdoor-er-referral-share)"
	expect_eq "$p frontdoor-load" "$fdn" "$(jq -r '.kpis[] | select(.id == "frontdoor-load") | .value' "$E2E_TMP/k.json")"
	# every released hour equals the truth (index: day from Monday * 24 + hour)
	jq -r '.kpis[] | select(.id == "frontdoor-load") | .strata[] | select(.suppressed | not) | "\(.stratum) \(.value)"' "$E2E_TMP/k.json" >"$E2E_TMP/hours"
	bad=0
	while read -r h v; do
		day=$(echo "mon tue wed thu fri sat sun" | tr ' ' '\n' | grep -nx "${h%-*}" | cut -d: -f1)
		want=$(jq -r ".quarters[$qi].load_per_hour_of_week[$(((day - 1) * 24 + 10#${h#*-}))]" "$fd/truth.json")
		[ "$v" = "$want" ] || bad=$((bad + 1))
	done <"$E2E_TMP/hours"
	n=$(wc -l <"$E2E_TMP/hours")
	[ "$n" -gt 150 ] && [ "$bad" -eq 0 ] && ok "$p: all $n released hours equal the truth" || not_ok "$p: $bad of $n released hours differ"
	# a report (recorded in the ledger, so the linked-periods audit runs
	# over the year's 17 x 169 cells) releases the same load profile
	gw "$d" report --period "$p" --out "$E2E_TMP/r.json" 2>/dev/null
	expect_eq "$p: the report releases the load profile's total and hours" "$fdn $n" "$(jq -r '.entry[].resource | select(.resourceType == "MeasureReport" and (.measure | test("/frontdoor-load[|]"))) | .group[0] | "\(.population[0].count) \([.stratifier[0].stratum[] | select(.population)] | length)"' "$E2E_TMP/r.json")"
done
finish
