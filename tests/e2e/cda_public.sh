#!/usr/bin/env bash
# The 20 real public C-CDA documents (../shared/data/cda-hl7-examples) go
# through `izagw ingest` without a crash, and what they contain is counted:
# expectations derived independently with xmllint over the same files.
source "$(dirname "$0")/lib.bash"
command -v xmllint >/dev/null || { echo "xmllint missing (libxml2-utils)"; exit 1; }
data="$IZA_SHARED_DATA/cda-hl7-examples"
files=("$data"/*.xml "$data"/*.XML)
count() { # count XPATH: files where count(XPATH) > 0
	local n=0 f
	for f in "${files[@]}"; do
		[ "$(xmllint --xpath "count($1)" "$f" 2>/dev/null)" != 0 ] && n=$((n + 1))
	done
	echo $n
}
enc='//*[local-name()="componentOf"]/*[local-name()="encompassingEncounter"]'
act="$enc/*[local-name()=\"code\"][@codeSystem=\"2.16.840.1.113883.5.4\"] | $enc/*[local-name()=\"code\"]/*[local-name()=\"translation\"][@codeSystem=\"2.16.840.1.113883.5.4\"]"
with_enc=$(count "$enc")
with_class=$(count "$act")
expect_eq "documents with an encompassingEncounter (xmllint)" 10 "$with_enc"

d="$E2E_TMP/gw"
gw_new "$d" '{"k": 1, "test_mode": true, "provider_rule": false, "count_unknown_residence": true}'
set +e
gw "$d" ingest --source 06010713 "${files[@]}" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
rc=$?
set -e
expect_eq "exit code (some quarantined)" 5 "$rc"
expect_eq "documents read" "${#files[@]}" "$(awk '/^total/{t=1} t && /records read/{print $3}' "$E2E_TMP/out")"
# an encounter with an ActCode class becomes events; one without a class
# (CPT 99213 only, or no code) is quarantined as a missing class
expect_eq "encounters quarantined for a missing class" "$((with_enc - with_class))" \
	"$(cat "$d"/izagw-data/quarantine/*.ndjson | jq -s '[.[] | select(.field == "class" and .reason == "missing_field")] | length')"
expect_eq "events stored (the one IMP encounter)" "$with_class" "$(awk '/^total/{t=1} t && /events stored/{print $3}' "$E2E_TMP/out")"
expect_eq "nothing on stderr" "" "$(cat "$E2E_TMP/err")"
finish
