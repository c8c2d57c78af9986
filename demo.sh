#!/usr/bin/env bash
# Quick start: install, build, generate a Dutch demo region export, and run
# both sides end to end on embedded defaults (SQLite, a fresh pseudonymisation
# key, a test-only PKI, both services on loopback):
#   izagw init -> ingest hospital + GP exports -> KPI table -> signed report
#   -> izamon serve (127.0.0.1) -> izagw push -> the plan's milestone decided
#   -> payment notices per insurer -> izamon's audit log verified.
#
# IZAGW, IZAMON, IZAGEN and IZAFD, when all set, name binaries to use instead of
# building; DEMO_DIR (default ./demo) is where everything goes
# (tests/e2e/quickstart.sh runs it so).
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD
if [ -z "${IZAGW:-}" ] || [ -z "${IZAGEN:-}" ] || [ -z "${IZAMON:-}" ] || [ -z "${IZAFD:-}" ]; then
	scripts/setup.sh build
	IZAGW=$root/build/izagw
	IZAGEN=$root/build/izagen
	IZAMON=$root/build/izamon
	IZAFD=$root/build/izafd
fi

work=${DEMO_DIR:-demo}
rm -rf "$work"
mkdir -p "$work"
echo "== generating a synthetic Dutch region export (Amsterdam, ZK02) =="
"$IZAGEN" --out "$work/export" --mappings "$root/mappings" --quiet
echo "== and its digital front door: a year of simulated triages (izafd) =="
"$IZAFD" --patients "$work/export/gp/Patient.ndjson" --out "$work/frontdoor" --mappings "$root/mappings"
cd "$work"
here=$PWD

echo "== a test-only PKI (certs/make-dev-pki.sh) and izamon on 127.0.0.1 =="
bash "$root/certs/make-dev-pki.sh" pki --region ZK02 --insurer 3311 2>/dev/null
cat >izamon.json <<JSON
{"data_dir": "$here/izamon-data", "ca": "$here/pki/ca.pem",
 "server_cert": "$here/pki/monitor-chain.pem", "server_key": "$here/pki/monitor.key",
 "mapping_dir": "$root/mappings"}
JSON
izamon() { "$IZAMON" --config izamon.json "$@"; }
izamon init
izamon regions add ZK02 --cert pki/region-ZK02.pem --plans plan-zk02-front-door
izamon insurers add 3311 --cert pki/insurer-3311.pem
echo "== the example plans and distribution keys (illustrative figures) =="
izamon plans load "$root"/mappings/plans/*.json
izamon keys load "$root"/mappings/distribution-keys/*.json
timeout 300 "$IZAMON" --config izamon.json serve --port 0 --port-file izamon.port 2>izamon.log &
mon_pid=$!
trap 'kill -TERM $mon_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [ -s izamon.port ] && break; sleep 0.1; done
port=$(cat izamon.port)
echo "izamon listening on https://127.0.0.1:$port (log in $work/izamon.log)"

# The demo region has one hospital, one GP practice and one front door, so
# every figure is one of them: the provider rule releases it only because the
# organisations agreed (docs/privacy-model.md). Without this list the KPIs
# are suppressed.
cat >gateway.json <<JSON
{"description": "demo region: its data suppliers agreed to release their figures",
 "provider_consent": ["06010713", "01058123", "01099999"],
 "plan": "plan-zk02-front-door",
 "signing_key": "$here/pki/region-ZK02.key", "signing_chain": "$here/pki/region-ZK02-chain.pem",
 "monitor_url": "https://127.0.0.1:$port", "monitor_ca": "$here/pki/ca.pem"}
JSON
izagw() { "$IZAGW" --config gateway.json "$@"; }
echo "== izagw init =="
izagw init --region ZK02
echo "== izagw ingest (hospital, then GP) =="
# exit status 5: finished, some records quarantined (the export holds a few
# deliberately broken lines); anything else is a failure
ingest() { izagw ingest "$@" || [ $? -eq 5 ]; }
ingest --source 06010713 export/hospital/Patient.ndjson export/hospital/Encounter.ndjson
ingest --source 01058123 export/gp/Patient.ndjson export/gp/Encounter.ndjson
echo "== izagw ingest (the front door, and the practice's own triages) =="
ingest --source 01099999 frontdoor/frontdoor/Patient.ndjson frontdoor/frontdoor/Encounter.ndjson
ingest --source 01058123 frontdoor/practice/Patient.ndjson frontdoor/practice/Encounter.ndjson
echo "== izagw kpis --period 2025-Q1 =="
izagw kpis --period 2025-Q1
echo "== izagw report --period 2025-Q1 (signed, queued) and izagw push =="
izagw report --period 2025-Q1 --out report-2025-Q1.json
izagw push
echo "== 2025-Q4 too: the plan's milestone digital-share-2025-q4 is judged on it =="
izagw report --period 2025-Q4 --out report-2025-Q4.json
izagw push
echo "== where the plan stands (izamon status) and the payment notices =="
izamon status plan-zk02-front-door | jq -r '.milestones[] | "\(.id): \(.status)\(if .final then "" else " (provisional)" end)"'
izamon notices --plan plan-zk02-front-door
izamon audit verify
echo "== FHIR MeasureReport Bundles in $work/report-2025-Q*.json, received by izamon in $work/izamon-data =="
echo "   (the dashboard: izamon --config $work/izamon.json serve, then https://127.0.0.1:8443/dashboard"
echo "    with the test-only certificate $work/pki/insurer-3311-chain.pem in the browser; docs/izamon.md)"
