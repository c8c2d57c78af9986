#!/usr/bin/env bash
# Gateway report from generated Dutch demo data -> izamon over loopback TLS
# -> a result milestone met -> payment notices, and the rest of the plan
# API: status with evidence (the pushed report's id and value), indicators,
# effort attestation by the coordinating insurer only, notices as JSON and
# CSV whose amounts were worked out by hand, visibility for regions, a
# decision that waits for a distribution key, and many evaluations racing
# for the same milestone (izamon serve and CLI processes at once) issuing
# every notice exactly once.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/plan_fixture.bash"
plan=plan-e2e-front-door
fixture_start "$plan"

# The example front-door plan, with a result milestone on the demo data's
# period: digital-contact-share 2025-Q1 at least 0.13 by 2026-12-31 (so paid
# by the 2026 key), 123,456.79 euro over two dates (the cent that does not
# halve goes to the first).
jq --arg id "$plan" '.id = $id | .milestones[1].period = "2025-Q1" | .milestones[1].target = 0.13
  | .milestones[1].date = "2026-12-31" | .milestones[1].amount_cents = 12345679
  | .milestones[1].payments = [{"date": "2027-03-31", "share": 1}, {"date": "2027-09-30", "share": 1}]' \
	"$IZA_SOURCE_DIR/mappings/plans/zk02-digital-front-door.json" >"$E2E_TMP/plan.json"
expect_status "the plan loads (no key yet)" 0 "0 decided now" mon plans load "$E2E_TMP/plan.json"

# the region's gateway reports 2025-Q1 and pushes it
fixture_gateway "$plan"
gw_report 2025-Q1
rid=$(jq -r .id "$E2E_TMP/report-2025-Q1.json")
share=$(jq -r '.entry[].resource | select(.resourceType == "MeasureReport" and (.measure | test("/digital-contact-share[|]"))) | .group[0].measureScore.value' "$E2E_TMP/report-2025-Q1.json")
expect_eq "the report is stored" "$rid" "$(q 'SELECT id FROM reports')"
jq -n --argjson s "$share" '$s > 0.13' | grep -q true && ok "the demo's digital-contact-share $share is above the milestone's 0.13" || not_ok "digital-contact-share $share"

# met, but no distribution key is loaded: decided on this evidence, not
# recorded, no notices
as insurer-3311 "/plans/$plan" >"$E2E_TMP/s0.json"
expect_eq "met without a key: provisional" "met false" "$(jq -r '.milestones[1] | "\(.status) \(.final)"' "$E2E_TMP/s0.json")"
expect_eq "  its evidence is the pushed report" "$rid" "$(jq -r '.milestones[1].evidence[0].report' "$E2E_TMP/s0.json")"
expect_eq "  with the report's value" "$share" "$(jq -r '.milestones[1].evidence[0].value' "$E2E_TMP/s0.json")"
expect_eq "  no decision recorded" 0 "$(q 'SELECT count(*) FROM decisions')"

# Keys arrive while evaluations race: three CLI evaluations, three loads of
# the keys and a re-push, all at once, with izamon serve running.
pids=()
for _ in 1 2 3; do
	mon evaluate >/dev/null 2>>"$E2E_TMP/race.err" &
	pids+=($!)
	mon keys load "$IZA_SOURCE_DIR/mappings/distribution-keys/2025.json" "$IZA_SOURCE_DIR/mappings/distribution-keys/2026.json" >/dev/null 2>>"$E2E_TMP/race.err" &
	pids+=($!)
done
fails_race=0
for p in "${pids[@]}"; do wait "$p" || fails_race=$((fails_race + 1)); done
expect_eq "racing evaluations and key loads all succeed" "0 " "$fails_race $(cat "$E2E_TMP/race.err")"
mon evaluate >/dev/null
expect_eq "one decision for the milestone" 1 "$(q "SELECT count(*) FROM decisions WHERE milestone = 'digital-share-2025-q4'")"
expect_eq "five notices, one per insurer of the key" 5 "$(q "SELECT count(*) FROM notices WHERE milestone = 'digital-share-2025-q4'")"
expect_eq "each key version stored once" "2025:1 2026:1" "$(q "SELECT group_concat(id || ':' || n, ' ') FROM (SELECT id, count(*) n FROM documents WHERE kind = 'key' GROUP BY id ORDER BY id) k")"

# By hand: 12,345,679 = 6,172,840 (2027-03-31) + 6,172,839 (2027-09-30);
# each split over the 2026 key (3311 .285, 3332 .13, 3343 .125, 7095 .24,
# 9664 .22) by largest remainder:
#   6,172,840: floors 1759259 802469 771605 1481481 1358024 (sum 6172838),
#              remainders .4 .2 .0 .6 .8: +1 to 9664 and 7095;
#   6,172,839: floors 1759259 802469 771604 1481481 1358024 (sum 6172837),
#              remainders .115 .07 .875 .36 .58: +1 to 3343 and 9664.
as insurer-7095 "/notices.csv?plan=$plan" >"$E2E_TMP/n.csv"
expect_eq "CSV header" "notice,plan,milestone,payer_uzovi,payee,amount_cents,amount_eur,distribution_key,issued,schedule" "$(head -1 "$E2E_TMP/n.csv")"
got=$(grep ',digital-share-2025-q4,' "$E2E_TMP/n.csv" | cut -d, -f4,5,6,7,8,10 | tr '\n' ';')
expect_eq "notices by hand" "3311,AGB:01000001,3518518,35185.18,2026.1,2027-03-31:1759259 2027-09-30:1759259;3332,AGB:01000001,1604938,16049.38,2026.1,2027-03-31:802469 2027-09-30:802469;3343,AGB:01000001,1543210,15432.10,2026.1,2027-03-31:771605 2027-09-30:771605;7095,AGB:01000001,2962963,29629.63,2026.1,2027-03-31:1481482 2027-09-30:1481481;9664,AGB:01000001,2716050,27160.50,2026.1,2027-03-31:1358025 2027-09-30:1358025;" "$got"
expect_eq "notices sum to the milestone amount" 12345679 "$(q "SELECT sum(amount) FROM notices WHERE milestone = 'digital-share-2025-q4'")"

as insurer-3311 "/plans/$plan" >"$E2E_TMP/s1.json"
expect_eq "status: met, final" "met true" "$(jq -r '.milestones[1] | "\(.status) \(.final)"' "$E2E_TMP/s1.json")"
expect_eq "  the decision records the report id" "$rid" "$(jq -r '.milestones[1].decision.evidence.reports[0].report' "$E2E_TMP/s1.json")"
expect_eq "  and its value" "$share" "$(jq -r '.milestones[1].decision.evidence.reports[0].value' "$E2E_TMP/s1.json")"
expect_eq "  under key 2026.1" "2026.1" "$(jq -r '.milestones[1].decision.key' "$E2E_TMP/s1.json")"
expect_eq "the 2026 milestone is pending without evidence" "pending" "$(jq -r '.milestones[2].status' "$E2E_TMP/s1.json")"
expect_eq "  and says why" "awaiting evidence: ZK02: no report" "$(jq -r '.milestones[2].reason' "$E2E_TMP/s1.json")"

# effort milestone: only the coordinating insurer (3311) attests
expect_eq "attestation by another insurer" 403 "$(code insurer-7095 "/plans/$plan/milestones/front-door-live/attestation" -X POST --data '{"outcome": "met"}')"
expect_eq "attestation by a region" 403 "$(code region-ZK02 "/plans/$plan/milestones/front-door-live/attestation" -X POST --data '{"outcome": "met"}')"
expect_eq "attesting a result milestone" 422 "$(code insurer-3311 "/plans/$plan/milestones/digital-share-2026/attestation" -X POST --data '{"outcome": "met"}')"
expect_eq "an attestation without outcome" 400 "$(code insurer-3311 "/plans/$plan/milestones/front-door-live/attestation" -X POST --data '{}')"
expect_eq "attestation by the coordinating insurer" 201 "$(code insurer-3311 "/plans/$plan/milestones/front-door-live/attestation" -X POST --data '{"outcome": "met", "note": "live in all 41 practices"}')"
expect_eq "the same attestation again changes nothing" 200 "$(code insurer-3311 "/plans/$plan/milestones/front-door-live/attestation" -X POST --data '{"outcome": "missed"}')"
# 50,000,000 over the 2025 key (the milestone's date is in 2025): exact
expect_eq "effort notices by hand (2025 key)" "3311:14172800 3332:6617250 3343:6154450 7095:12061700 9664:10993800" \
	"$(q "SELECT group_concat(insurer || ':' || amount, ' ') FROM (SELECT insurer, amount FROM notices WHERE milestone = 'front-door-live' ORDER BY insurer) n")"
as insurer-3311 "/plans/$plan" >"$E2E_TMP/s2.json"
expect_eq "the attestation is the evidence" "3311 met live in all 41 practices" "$(jq -r '.milestones[0].decision.evidence | "\(.attested_by) \(.outcome) \(.note)"' "$E2E_TMP/s2.json")"
as insurer-3311 "/notices" | jq -r '.notices | length' >"$E2E_TMP/nn"
expect_eq "notices in JSON" 10 "$(cat "$E2E_TMP/nn")"

# indicators over time
as region-ZK02 "/plans/$plan/indicators" >"$E2E_TMP/ind.json"
expect_eq "indicators: the region sees its plan's series" "2025-Q1 ZK02 $share" "$(jq -r '.kpis[0].points[0] | "\(.period) \(.region) \(.value)"' "$E2E_TMP/ind.json")"

# visibility: a region sees only plans naming it; unknown and foreign plans
# are the same 404
expect_eq "region ZK02 lists its plan" "$plan" "$(as region-ZK02 /plans | jq -r '[.plans[].id] | join(",")')"
expect_eq "region ZK14 lists none" "" "$(as region-ZK14 /plans | jq -r '[.plans[].id] | join(",")')"
expect_eq "region ZK14 cannot read the plan" 404 "$(code region-ZK14 "/plans/$plan")"
expect_eq "region ZK14 cannot read its notices" 404 "$(code region-ZK14 "/notices?plan=$plan")"
expect_eq "an unknown plan" 404 "$(code insurer-3311 /plans/nope)"
expect_eq "without a client certificate" 401 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" "$url/plans")"

# metrics for a monitoring system: counts only
as insurer-7095 /metrics >"$E2E_TMP/metrics.txt"
expect_eq "metrics: reports of ZK02" 'izamon_reports_stored{region="ZK02"} 1' "$(grep '^izamon_reports_stored' "$E2E_TMP/metrics.txt")"
expect_eq "metrics: decisions met" 'izamon_decisions{status="met"} 2' "$(grep '^izamon_decisions' "$E2E_TMP/metrics.txt")"
expect_eq "metrics: notices and their sum (12,345,679 + 50,000,000)" "izamon_notices 10 izamon_notices_amount_cents 62345679" "$(grep -E '^izamon_notices(_amount_cents)? ' "$E2E_TMP/metrics.txt" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "metrics without a certificate" 401 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" "$url/metrics")"

# the CLI gives the same notices; the decisions stand in the database
mon notices --plan "$plan" >"$E2E_TMP/cli.csv"
cmp -s "$E2E_TMP/cli.csv" <(as insurer-3311 "/notices.csv?plan=$plan") && ok "izamon notices = GET /notices.csv" || not_ok "CLI and API notices differ"
set +e
q "UPDATE notices SET amount = 1" 2>"$E2E_TMP/upd.err"
q "DELETE FROM decisions" 2>>"$E2E_TMP/upd.err"
set -e
expect_eq "notices and decisions cannot be changed" 2 "$(grep -c 'never changed\|a decision stands' "$E2E_TMP/upd.err")"
expect_status "the audit log verifies" 0 "audit log intact" mon audit verify
expect_eq "decisions audited" 2 "$(q "SELECT count(*) FROM audit WHERE event = 'milestone.decided'")"
finish
