#!/usr/bin/env bash
# Quick start: install, build, generate a Dutch demo region export, and run the
# gateway end to end on embedded defaults (SQLite, a fresh pseudonymisation
# key): init -> ingest hospital + GP exports -> KPI table -> FHIR report.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build

work=demo
rm -rf "$work"
mkdir -p "$work"
echo "== generating a synthetic Dutch region export (Amsterdam, ZK02) =="
build/izagen --out "$work/export" --quiet
cd "$work"
izagw=../build/izagw
echo "== izagw init =="
$izagw init --region ZK02
echo "== izagw ingest (hospital, then GP) =="
$izagw ingest --source 06010713 export/hospital/Patient.ndjson export/hospital/Encounter.ndjson
$izagw ingest --source 01058123 export/gp/Patient.ndjson export/gp/Encounter.ndjson
echo "== izagw kpis --period 2025-Q1 =="
$izagw kpis --period 2025-Q1
$izagw report --period 2025-Q1 --out report-2025-Q1.json
echo "== FHIR MeasureReport Bundle written to $work/report-2025-Q1.json =="
