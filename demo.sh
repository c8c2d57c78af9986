#!/usr/bin/env bash
# Quick start: install, build, generate a Dutch demo region export, and run the
# gateway end to end on embedded defaults (SQLite, a fresh pseudonymisation
# key): init -> ingest hospital + GP exports -> KPI table -> FHIR report.
#
# IZAGW and IZAGEN, when both set, name binaries to use instead of building;
# DEMO_DIR (default ./demo) is where the export, the data directory and the
# report go (tests/e2e/quickstart.sh runs it so).
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD
if [ -z "${IZAGW:-}" ] || [ -z "${IZAGEN:-}" ]; then
	scripts/setup.sh build
	IZAGW=$root/build/izagw
	IZAGEN=$root/build/izagen
fi

work=${DEMO_DIR:-demo}
rm -rf "$work"
mkdir -p "$work"
echo "== generating a synthetic Dutch region export (Amsterdam, ZK02) =="
"$IZAGEN" --out "$work/export" --mappings "$root/mappings" --quiet
cd "$work"
# The demo region has one hospital and one GP practice, so every figure is
# one of them: the provider rule releases it only because both organisations
# agreed (docs/privacy-model.md). Without this list the KPIs are suppressed.
cat >gateway.json <<'JSON'
{"description": "demo region: both data suppliers agreed to release their figures",
 "provider_consent": ["06010713", "01058123"]}
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
echo "== izagw kpis --period 2025-Q1 =="
izagw kpis --period 2025-Q1
izagw report --period 2025-Q1 --out report-2025-Q1.json
echo "== FHIR MeasureReport Bundle written to $work/report-2025-Q1.json =="
