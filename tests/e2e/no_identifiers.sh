#!/usr/bin/env bash
# Nothing that identifies a person leaves the gateway, and nothing of the
# kind is stored where it should not be.  One region's export in every input
# format (FHIR NDJSON, HL7 v2 XML and ER7, CDA with names and a free-text
# body), through every command that writes something (ingest, kpis as table,
# JSON and CSV, report, status), and then a scan:
#   - the input's BSNs (valid and invalid) appear nowhere: not in any output,
#     log, store, ledger or report;
#   - local patient ids and record ids appear in no output, report or ledger;
#   - the pseudonyms and patient keys of the store (hex) appear in no output,
#     report or ledger;
#   - the free text of the inputs (names, the CDA body) appears nowhere, the
#     store and the ledger included.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZACONV:?IZACONV must point at the izaconv binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (scripts/setup.sh installs it)"; exit 1; }

ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 400 --seed 9 --bad 3 --quiet)
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
for s in hospital gp; do
	agb=$hosp
	[ "$s" = gp ] && agb=$gp
	"$IZACONV" --source "$agb" --out "$E2E_TMP/conv/$s" --quiet "$ex/$s/Patient.ndjson" "$ex/$s/Encounter.ndjson"
done
d="$E2E_TMP/gw"
gw_new "$d" "{\"provider_consent\": [\"$hosp\", \"$gp\"]}"
out="$E2E_TMP/out"
mkdir -p "$out"
set +e
for s in hospital gp; do
	agb=$hosp
	[ "$s" = gp ] && agb=$gp
	gw "$d" ingest --source "$agb" "$ex/$s/Patient.ndjson" "$ex/$s/Encounter.ndjson" >>"$out/ingest.txt" 2>&1
	gw "$d" ingest --source "$agb" "$E2E_TMP/conv/$s/adt.xml" "$E2E_TMP/conv/$s/adt.hl7" "$E2E_TMP/conv/$s/cda.xml" >>"$out/ingest.txt" 2>&1
done
for p in 2024 2025-Q1 2025-02; do
	gw "$d" kpis --period "$p" >"$out/kpis-$p.txt" 2>&1
	gw "$d" kpis --period "$p" --format json >"$out/kpis-$p.json" 2>&1
	gw "$d" kpis --period "$p" --format csv >"$out/kpis-$p.csv" 2>&1
	gw "$d" report --period "$p" --out "$out/report-$p.json" >"$out/report-$p.log" 2>&1
done
gw "$d" status >"$out/status.txt" 2>&1
set -e
sqlite3 "$d/izagw-data/ledger.db" .dump >"$out/ledger.sql"
db="$d/izagw-data/events.db"
sqlite3 "$db" .dump >"$E2E_TMP/store.sql"

# the scan is not vacuous: figures were released and recorded
n=$(jq '[.kpis[] | select(.suppressed == false)] | length' "$out/kpis-2024.json")
[ "$n" -ge 3 ] && ok "$n KPIs released for 2024" || not_ok "only $n KPIs released"
grep -q '^releases  *3 ' "$out/status.txt" && ok "three releases recorded" || not_ok "status: $(tail -1 "$out/status.txt")"
grep -q 'records read' "$out/ingest.txt" && ok "ingest summaries written" || not_ok "no ingest output"

# needles
jq -r '.identifier[]? | select(.system == "http://fhir.nl/fhir/NamingSystem/bsn") | .value' "$ex"/*/Patient.ndjson | sort -u >"$E2E_TMP/bsns"
jq -r '.id' "$ex"/*/Patient.ndjson | sort -u >"$E2E_TMP/pids"
jq -r '.id' "$ex"/*/Encounter.ndjson 2>/dev/null | sort -u >"$E2E_TMP/eids" || true
sqlite3 "$db" "SELECT DISTINCT lower(hex(pseudonym)) FROM patients UNION SELECT DISTINCT lower(hex(patient_key)) FROM patients" >"$E2E_TMP/pseudos"
expect_eq "BSNs to look for > 300" 1 "$([ "$(wc -l <"$E2E_TMP/bsns")" -gt 300 ] && echo 1 || echo 0)"

scan() { # scan WHAT NEEDLE-FILE FILES...: count needles found in the files
	local what=$1 needles=$2
	shift 2
	local hits
	hits=$(grep -rFaoh -f "$needles" "$@" 2>/dev/null | sort -u | wc -l || true)
	expect_eq "$what found" 0 "$hits"
	# where, to tell a leak from a chance match in binary pages (the
	# needles are synthetic test values, safe to show)
	[ "$hits" -eq 0 ] || grep -rFab -o -f "$needles" "$@" 2>/dev/null | head -5 | sed 's/^/    at /' || true
}
# the scan finds what it looks for: every kind of needle is in the inputs
for k in bsns pids eids10; do
	[ "$k" = eids10 ] && awk 'length($0) >= 10' "$E2E_TMP/eids" >"$E2E_TMP/eids10"
	h=$(grep -rFaoh -f "$E2E_TMP/$k" "$ex" | sort -u | wc -l)
	[ "$h" -gt 100 ] && ok "control: $h $k found in the export" || not_ok "control: only $h $k found in the export"
done
h=$(grep -rFaoh -e Testpati -e 'geen echte' "$E2E_TMP/conv" | wc -l)
[ "$h" -gt 100 ] && ok "control: the names and CDA body text are in the converted inputs ($h)" || not_ok "control: no free text in the inputs"
scan "BSNs in outputs, logs, reports and the ledger" "$E2E_TMP/bsns" "$out"
scan "BSNs in the data directory (store, ledger, quarantine)" "$E2E_TMP/bsns" "$d/izagw-data" "$E2E_TMP/store.sql"
scan "local patient ids in outputs, reports and the ledger" "$E2E_TMP/pids" "$out"
# record ids only where they are long enough not to match by chance
scan "record ids in outputs, reports and the ledger" "$E2E_TMP/eids10" "$out"
scan "pseudonyms and patient keys (hex) in outputs, reports and the ledger" "$E2E_TMP/pseudos" "$out"
printf '%s\n' 'Testpati' 'Synthetisch' 'synthetisch' 'Synthetische contactsamenvatting' 'geen echte' >"$E2E_TMP/text"
scan "free text of the inputs in outputs" "$E2E_TMP/text" "$out"
scan "free text of the inputs in the store" "$E2E_TMP/text" "$E2E_TMP/store.sql" "$d/izagw-data/events.db" "$d/izagw-data/ledger.db"
finish
