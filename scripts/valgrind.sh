#!/usr/bin/env bash
# The test suite once under valgrind, for leaks and uninitialised memory
# (ASan+UBSan run the whole suite in test.sh; this is the second opinion):
# every unit test whose size makes valgrind practical, then the gateway's
# and izamon's programs on a small generated region: init, ingest of
# every input format, kpis, report, status, izamon verify.
#
#   scripts/valgrind.sh [BUILD_DIR]      # default build/
#
# A definite leak or a memory error in any of them fails the run. Skipped
# as too slow under valgrind (minutes each; ASan covers them):
# test_cda (the 1 GB element), test_json_dom (60,000 mutations),
# test_dp_noise and test_pay_split (statistical loops).
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(cd "${1:-build}" && pwd)
command -v valgrind >/dev/null || { echo "valgrind missing (scripts/setup.sh installs it)" >&2; exit 1; }
vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)
slow=" test_cda test_json_dom test_dp_noise test_pay_split "
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
run() { # NAME CMD...: one program under valgrind
	local name=$1 t0 st=0
	shift
	t0=$(date +%s)
	"${vg[@]}" --log-file="$tmp/$name.vg" "$@" >"$tmp/$name.out" 2>&1 || st=$?
	if [ "$st" -ne 0 ] && [ "$st" -ne 5 ]; then
		echo "valgrind: $name FAILED (exit $st)" >&2
		tail -20 "$tmp/$name.vg" "$tmp/$name.out" >&2
		failed=$((failed + 1))
	elif [ -s "$tmp/$name.vg" ]; then
		echo "valgrind: $name: reports:" >&2
		cat "$tmp/$name.vg" >&2
		failed=$((failed + 1))
	else
		echo "valgrind: $name clean ($(($(date +%s) - t0)) s)"
	fi
}

for t in "$b"/tests/test_*; do
	n=$(basename "$t")
	[ -x "$t" ] && [[ $slow != *" $n "* ]] || continue
	CK_FORK=no CK_DEFAULT_TIMEOUT=600 IZA_SOURCE_DIR=$PWD run "$n" "$t"
done

# the programs on a small region (the bad lines are quarantined: exit 5)
ex="$tmp/export"
(cd "$PWD" && "$b/izagen" --out "$ex" --patients 400 --seed 3 --quiet)
"$b/izaconv" --source 01058123 --out "$tmp/conv" --quiet "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson"
bash certs/make-dev-pki.sh "$tmp/pki" --region ZK02 >/dev/null 2>&1
cat >"$tmp/gw.json" <<JSON
{"data_dir": "$tmp/gw", "provider_consent": ["06010713", "01058123"], "plan": "plan-vg",
 "signing_key": "$tmp/pki/region-ZK02.key", "signing_chain": "$tmp/pki/region-ZK02-chain.pem"}
JSON
gw=("$b/izagw" --config "$tmp/gw.json")
run init "${gw[@]}" init --region ZK02
run ingest-ndjson "${gw[@]}" ingest --source 06010713 "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson"
run ingest-threads "${gw[@]}" ingest --threads 2 --source 06010713 "$ex/hospital/Encounter.ndjson"
run ingest-er7 "${gw[@]}" ingest --source 01058123 "$tmp/conv/adt.hl7"
run ingest-v2xml "${gw[@]}" ingest --source 01058123 "$tmp/conv/adt.xml"
run ingest-cda "${gw[@]}" ingest --source 01058123 "$tmp/conv/cda.xml"
run kpis "${gw[@]}" kpis --period 2025 --format json
run report "${gw[@]}" report --period 2025-Q1 --out "$tmp/report.json"
run status "${gw[@]}" status
cat >"$tmp/mon.json" <<JSON
{"data_dir": "$tmp/mon", "ca": "$tmp/pki/ca.pem", "mapping_dir": "$PWD/mappings"}
JSON
run izamon-init "$b/izamon" --config "$tmp/mon.json" init
run izamon-enrol "$b/izamon" --config "$tmp/mon.json" regions add ZK02 --cert "$tmp/pki/region-ZK02.pem" --plans plan-vg
sqlite3 "$tmp/gw/outbox.db" "SELECT writefile('$tmp/body.json', body), writefile('$tmp/jws', jws) FROM reports LIMIT 1" >/dev/null
run izamon-verify "$b/izamon" --config "$tmp/mon.json" verify "$tmp/body.json" --jws "$tmp/jws"
[ "$failed" -eq 0 ] || { echo "valgrind: $failed run(s) with reports" >&2; exit 1; }
echo "valgrind: all clean"
