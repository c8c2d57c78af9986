#!/usr/bin/env bash
# izamon serve takes reports on many connections at once (a thread per
# connection, the store used one request at a time): the region gateway's
# four quarterly reports of 2025, each POSTed by 6 clients at the same
# moment (24 requests, a new TLS connection each), while the milestone the
# 2025-Q1 report decides is evaluated on arrival with its distribution key
# loaded.  Every report is stored once (one 201, the others 200 duplicate),
# the milestone is decided once with one notice per insurer of the key,
# every request is audited once and the audit chain verifies.  Also run
# with a PostgreSQL database (e2e-pg/izamon_concurrent).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/plan_fixture.bash"
plan=plan-e2e-concurrent
fixture_start "$plan"

# the example plan, its result milestone on 2025-Q1 (met by the demo data,
# as in plans_payments.sh), paid by the 2026 key
jq --arg id "$plan" '.id = $id | .milestones[1].period = "2025-Q1" | .milestones[1].target = 0.13
  | .milestones[1].date = "2026-12-31" | .milestones[1].amount_cents = 12345679
  | .milestones[1].payments = [{"date": "2027-03-31", "share": 1}, {"date": "2027-09-30", "share": 1}]' \
	"$IZA_SOURCE_DIR/mappings/plans/zk02-digital-front-door.json" >"$E2E_TMP/plan.json"
mon plans load "$E2E_TMP/plan.json" >/dev/null
mon keys load "$IZA_SOURCE_DIR/mappings/distribution-keys/2025.json" "$IZA_SOURCE_DIR/mappings/distribution-keys/2026.json" >/dev/null

# four signed reports, taken out of the gateway's outbox unsent
fixture_gateway "$plan"
periods="2025-Q1 2025-Q2 2025-Q3 2025-Q4"
for p in $periods; do gw "$gwd" report --period "$p" --out /dev/null 2>/dev/null; done
mkdir -p "$E2E_TMP/out"
sqlite3 "$gwd/izagw-data/outbox.db" "SELECT writefile('$E2E_TMP/out/' || period || '.json', body), writefile('$E2E_TMP/out/' || period || '.jws', jws) FROM reports WHERE state = 'queued'" >/dev/null
expect_eq "four reports in the outbox" 4 "$(ls "$E2E_TMP/out"/*.json | wc -l)"

# 24 clients wait for one signal, then POST at once
pids=()
for p in $periods; do
	for i in 1 2 3 4 5 6; do
		(
			while [ ! -e "$E2E_TMP/go" ]; do sleep 0.01; done
			curl -s -o "$E2E_TMP/answer-$p-$i.json" -w '%{http_code}\n' --max-time 60 \
				--cacert "$pki/ca.pem" --cert "$pki/region-ZK02-chain.pem" --key "$pki/region-ZK02.key" \
				-H 'Content-Type: application/fhir+json' -H "IZA-JWS: $(cat "$E2E_TMP/out/$p.jws")" \
				--data-binary @"$E2E_TMP/out/$p.json" "$url/reports" >"$E2E_TMP/code-$p-$i" || true
		) &
		pids+=($!)
	done
done
sleep 0.5
touch "$E2E_TMP/go"
for pid in "${pids[@]}"; do wait "$pid"; done

for p in $periods; do
	expect_eq "$p, 6 clients at once: one 201, five 200" "200 200 200 200 200 201" \
		"$(cat "$E2E_TMP"/code-"$p"-* | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
done
expect_eq "24 answers, each stored or duplicate" 24 "$(cat "$E2E_TMP"/answer-* | jq -r .status | grep -cE '^(stored|duplicate)$')"
expect_eq "four reports stored" 4 "$(q 'SELECT count(*) FROM reports')"
expect_eq "the milestone decided once" 1 "$(q "SELECT count(*) FROM decisions WHERE milestone = 'digital-share-2025-q4'")"
expect_eq "five notices, one per insurer of the 2026 key" 5 "$(q "SELECT count(*) FROM notices WHERE milestone = 'digital-share-2025-q4'")"
expect_eq "no notice twice" 5 "$(q "SELECT count(DISTINCT id) FROM notices WHERE milestone = 'digital-share-2025-q4'")"
expect_eq "audited: 4 received, 20 duplicates, 1 decision" "4 20 1" \
	"$(q "SELECT count(*) FROM audit WHERE event = 'report.received'") $(q "SELECT count(*) FROM audit WHERE event = 'report.duplicate'") $(q "SELECT count(*) FROM audit WHERE event = 'milestone.decided'")"
expect_status "the audit log verifies" 0 "audit log intact" mon audit verify
expect_eq "izamon logged no failed evaluation" 0 "$(grep -c '"evaluation.failed"' "$m/serve.log" || true)"
finish
