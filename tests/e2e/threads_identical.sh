#!/usr/bin/env bash
# `izagw ingest --threads 2` (a worker reads, parses and maps while the main
# thread stores, in input order) must give exactly what --threads 1 gives:
# the same store contents (sqlite3 .dump, batch timestamps aside), the same
# ingest summaries, the same quarantine records and the same KPIs.  The
# default (auto: two threads for files of 8 MB or more) is checked too.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (scripts/setup.sh installs it)"; exit 1; }
ex="$E2E_TMP/export"
mkdir -p "$ex"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 3000 --seed 11 --quiet)
gp=$(jq -r '.sources.gp.agb // "01058123"' "$ex/truth.json" 2>/dev/null || echo 01058123)

# one gateway (one pseudonymisation key), copied before any ingest
gw_new "$E2E_TMP/gw0" '{"k": 1, "test_mode": true, "provider_rule": false}'
run() { # run NAME THREAD-ARGS...: ingest everything into a copy of gw0
	local d="$E2E_TMP/$1"
	shift
	cp -a "$E2E_TMP/gw0" "$d"
	set +e
	# the hospital files twice: the second time every record is a resend
	gw "$d" ingest "$@" --source 06010713 "$ex/hospital/Encounter.ndjson" "$ex/hospital/Patient.ndjson" >"$d/ingest.out"
	gw "$d" ingest "$@" --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >>"$d/ingest.out"
	gw "$d" ingest "$@" --source 06010713 "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >>"$d/ingest.out"
	gw "$d" ingest "$@" --source "$gp" - <"$ex/gp/Encounter.ndjson" >>"$d/ingest.out"
	set -e
	local db="$d/izagw-data/events.db"
	sqlite3 "$db" .dump | grep -v '^INSERT INTO batches' >"$d/dump.sql"
	sqlite3 "$db" "SELECT id, file, sha256, source, format, records, events_stored, duplicates, updated, stale, excluded, quarantined, patients FROM batches ORDER BY id" >"$d/batches.txt"
	cat $(ls "$d"/izagw-data/quarantine/* | sort) >"$d/quarantine.ndjson"
	for p in 2024 2025 2024-Q4 2025-Q1 2025-Q3 2025-02 2025-07 2025-12; do
		gw "$d" kpis --period "$p" --format json
	done >"$d/kpis.json"
}
run t1 --threads 1
run t2 --threads 2
run auto

same() { # same WHAT FILE
	if cmp -s "$E2E_TMP/t1/$2" "$E2E_TMP/$3/$2"; then
		ok "$1: --threads 1 and $3 identical"
	else
		not_ok "$1: --threads 1 and $3 differ"
		diff "$E2E_TMP/t1/$2" "$E2E_TMP/$3/$2" | head -5 || true
	fi
}
for v in t2 auto; do
	same "store contents" dump.sql "$v"
	same "batches" batches.txt "$v"
	same "ingest summaries" ingest.out "$v"
	same "quarantine records" quarantine.ndjson "$v"
	same "kpis" kpis.json "$v"
done
# the comparison must not be vacuous
n=$(grep -c '^INSERT INTO events' "$E2E_TMP/t1/dump.sql" || true)
[ "$n" -gt 1000 ] && ok "store holds $n events" || not_ok "store holds only $n events"
q=$(wc -l <"$E2E_TMP/t1/quarantine.ndjson")
[ "$q" -gt 0 ] && ok "$q quarantine records compared" || not_ok "no quarantine records"
grep -q '^  updated  *[1-9]' "$E2E_TMP/t1/ingest.out" && ok "corrections present" || not_ok "no corrections in the data"
grep -q '^  duplicates  *[1-9]' "$E2E_TMP/t1/ingest.out" && ok "duplicates present" || not_ok "no duplicates in the data"
sz=$(stat -c %s "$ex/gp/Encounter.ndjson")
[ "$sz" -ge $((8 << 20)) ] && ok "GP encounters ($sz bytes) take the two-thread path by default" || not_ok "GP encounter file too small for the default two-thread path ($sz bytes)"
finish
