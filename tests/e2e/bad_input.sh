#!/usr/bin/env bash
# Bad input never crashes, never hangs, never loses what was accepted: each
# case gives a clear error or a quarantined record that names the file, the
# line and the reason, and the good records around it are stored.
source "$(dirname "$0")/lib.bash"
d="$E2E_TMP/gw"
gw_new "$d" '{"k": 1, "test_mode": true, "provider_rule": false, "max_bundle_mib": 1}'
fx="$IZA_SOURCE_DIR/tests/data/nl-small"
good=$(head -1 "$fx/hospital-Encounter.ndjson")
good2=$(sed -n 2p "$fx/hospital-Encounter.ndjson")

run() { # run NAME ARGS... -> sets rc, out, err
	set +e
	gw "$d" ingest --source 06010713 "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	set -e
}
quarantined() { awk '/^  quarantined/{print $2; exit}' "$E2E_TMP/out"; }
stored() { awk '/events stored/{print $3; exit}' "$E2E_TMP/out"; }
reason() { cat "$d"/izagw-data/quarantine/*.ndjson | jq -r "select(.file | endswith(\"$1\")) | \"\(.line) \(.reason)\"" | sort -n | tr '\n' ';'; }

# 1. a truncated file: the last line stops mid-record
{ echo "$good"; echo "$good2" | head -c 120; } >"$E2E_TMP/truncated.ndjson"
run "$E2E_TMP/truncated.ndjson"
expect_eq "truncated: exit code" 5 "$rc"
expect_eq "truncated: good line stored" 1 "$(stored)"
expect_eq "truncated: quarantine" "2 malformed;" "$(reason truncated.ndjson)"

# 2. invalid UTF-8 inside a string, between good lines
{ echo "$good"; printf '{"resourceType":"Encounter","id":"x\xff\xfe"}\n'; echo "$good2"; } >"$E2E_TMP/utf8.ndjson"
run "$E2E_TMP/utf8.ndjson"
expect_eq "invalid UTF-8: quarantine" "2 malformed;" "$(reason utf8.ndjson)"
expect_eq "invalid UTF-8: text says so" 1 "$(cat "$d"/izagw-data/quarantine/*.ndjson | jq -r 'select(.file | endswith("utf8.ndjson")) | .text' | grep -ci utf)"

# 3. a 100 MB single line between good lines: refused by the 16 MiB line cap
{ echo "$good"; printf '{"resourceType":"Encounter","id":"'; head -c 100000000 /dev/zero | tr '\0' 'a'; printf '"}\n'; echo "$good2"; } >"$E2E_TMP/huge.ndjson"
start=$(date +%s)
run "$E2E_TMP/huge.ndjson"
expect_eq "100 MB line: quarantine" "2 record_too_large;" "$(reason huge.ndjson)"
expect_eq "100 MB line: both good lines read (already stored: 2 duplicates)" "0 2" "$(stored) $(awk '/duplicates/{print $2; exit}' "$E2E_TMP/out")"
[ $(($(date +%s) - start)) -lt 60 ] && ok "100 MB line handled in under a minute" || not_ok "100 MB line too slow"
rm -f "$E2E_TMP/huge.ndjson"

# 4. deeply nested JSON (100,000 levels) on one line
{ printf '{"a":'; head -c 100000 /dev/zero | tr '\0' '['; echo '}'; echo "$good"; } >"$E2E_TMP/deep.ndjson"
run "$E2E_TMP/deep.ndjson"
expect_eq "deep nesting: quarantine" "1 malformed;" "$(reason deep.ndjson)"
expect_eq "deep nesting: reason names the depth" 1 "$(cat "$d"/izagw-data/quarantine/*.ndjson | jq -r 'select(.file | endswith("deep.ndjson")) | .text' | grep -ci deep)"

# 5. a line that is JSON but not a FHIR resource (Synthea log lines, arrays)
{ echo '{"level":"info","msg":"export done"}'; echo '[1,2]'; echo "$good"; } >"$E2E_TMP/log.ndjson"
run "$E2E_TMP/log.ndjson"
expect_eq "non-resources: quarantine" "1 no_resource_type;2 no_resource_type;" "$(reason log.ndjson)"

# 6. a Bundle over the configured cap (1 MiB here): a clear error, nothing stored
{ printf '{"resourceType":"Bundle","type":"collection","entry":['; for i in $(seq 1 3000); do printf '{"resource":%s},' "$good"; done; printf '{"resource":%s}]}' "$good"; } >"$E2E_TMP/big-bundle.json"
run --format fhir-bundle "$E2E_TMP/big-bundle.json"
expect_eq "oversized Bundle: exit code" 1 "$rc"
grep -q "big-bundle.json.*1 MiB limit" "$E2E_TMP/err" && ok "oversized Bundle: error names file and limit" || not_ok "oversized Bundle error: $(cat "$E2E_TMP/err")"

# 7. an empty file, binary garbage, a missing file
: >"$E2E_TMP/empty.ndjson"
run "$E2E_TMP/empty.ndjson"
expect_eq "empty file: exit code" 0 "$rc"
head -c 4096 /dev/urandom >"$E2E_TMP/garbage.bin"
run --format fhir-ndjson "$E2E_TMP/garbage.bin"
[ "$rc" -eq 5 ] && ok "garbage: quarantined, no crash" || not_ok "garbage: exit $rc"
run "$E2E_TMP/does-not-exist.ndjson"
expect_eq "missing file: exit code" 1 "$rc"
grep -q "does-not-exist.ndjson: cannot open" "$E2E_TMP/err" && ok "missing file: error names it" || not_ok "missing file error: $(cat "$E2E_TMP/err")"

# 8. standard input
set +e
echo "$good" | gw "$d" ingest --source 06010713 - >"$E2E_TMP/out" 2>&1
rc=$?
set -e
expect_eq "stdin: exit code" 0 "$rc"
expect_eq "stdin: duplicate of the stored line" 1 "$(awk '/duplicates/{print $2; exit}' "$E2E_TMP/out")"

# 9. the store holds exactly the two good encounters (e1, e2)
expect_eq "encounters stored after all of this" 2 "$(gw "$d" status | awk '/^encounters/{print $2}')"
finish
