#!/usr/bin/env bash
# izamon plans: the example plans of mappings/plans/ load against the real
# KPI catalogue; loading the same file again changes nothing, a changed file
# becomes the next version, an invalid file is refused naming the file, the
# JSON path and the reason and stores nothing; "plans show" gives back the
# exact bytes; every load is in the audit log, which verifies.
source "$(dirname "$0")/lib.bash"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in jq; do command -v $t >/dev/null || { echo "$t missing"; exit 1; }; done
source "$(dirname "$0")/mon_db.bash"

m="$E2E_TMP/mon"
mkdir -p "$m"
mondb_setup "$m/data" # SQLite, or PostgreSQL with IZA_E2E_PG=1
trap 'mondb_drop; rm -rf "$E2E_TMP"' EXIT
echo "{\"data_dir\": \"$m/data\", $mon_dbjson \"mapping_dir\": \"$IZA_SOURCE_DIR/mappings\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
versions() { q "SELECT count(*) FROM documents WHERE kind = 'plan' AND id = '$1'"; }

mon init >/dev/null
plans="$IZA_SOURCE_DIR/mappings/plans"
fd="$plans/zk02-digital-front-door.json"
expect_status "the example plans load" 0 "plan plan-zk23-ggz-access loaded as version 1 (2 KPIs, 3 milestones)" mon plans load "$plans"/*.json
expect_eq "plans stored" 3 "$(q "SELECT count(*) FROM documents WHERE kind = 'plan'")"
expect_status "the same file again is no new version" 0 "plan-zk02-front-door unchanged, version 1" mon plans load "$fd"
expect_eq "versions of the front-door plan" 1 "$(versions plan-zk02-front-door)"

mon plans show plan-zk02-front-door >"$E2E_TMP/shown.json"
cmp -s "$fd" "$E2E_TMP/shown.json" && ok "plans show gives back the exact bytes" || not_ok "plans show differs"

jq '.milestones[1].target = 0.19' "$fd" >"$E2E_TMP/v2.json"
expect_status "a changed plan becomes version 2" 0 "loaded as version 2" mon plans load "$E2E_TMP/v2.json"
mon plans show plan-zk02-front-door | jq -e '.milestones[1].target == 0.19' >/dev/null && ok "show gives the latest version" || not_ok "show is not the latest"

# refusals: file, JSON path and reason; nothing stored
refuse() { # WHAT JQ-FILTER GREP
	jq "$2" "$fd" >"$E2E_TMP/bad.json"
	local before
	before=$(versions plan-zk02-front-door)
	expect_status "$1" 3 "bad.json: $3" mon plans load "$E2E_TMP/bad.json"
	expect_eq "  and stores nothing" "$before" "$(versions plan-zk02-front-door)"
}
refuse "an unknown KPI" '.kpis[0].kpi = "waiting-time"' 'kpis\[0\].kpi: not a KPI of the gateway'"'"'s catalogue'
refuse "milestones over budget" '.milestones[2].amount_cents = 50000001' 'milestones\[2\].amount_cents: the milestones add up to more than budget_cents'
refuse "an impossible date" '.milestones[0].date = "2025-02-29"' 'milestones\[0\].date: not a calendar date'
refuse "a target that is no improvement" '.kpis[0].target = 0.1' 'kpis\[0\].target: does not improve'
refuse "an unknown member" '.kpis[0].weight = 2' 'kpis\[0\]: unknown member "weight"'
printf '{"format": "iza-plan/1",\n "id": ' >"$E2E_TMP/bad.json"
expect_status "malformed JSON names the line" 3 "bad.json:2: not valid JSON" mon plans load "$E2E_TMP/bad.json"
expect_status "an unknown plan" 1 "nope: no such plan" mon plans show nope

expect_eq "plan.loaded audit entries" 4 "$(q "SELECT count(*) FROM audit WHERE event = 'plan.loaded'")"
expect_status "the audit log verifies" 0 "audit log intact" mon audit verify
finish
