#!/usr/bin/env bash
# izagw report signs the exact bytes of every release (detached ES256 JWS
# with the region certificate's chain in x5c) and queues them in the
# outbox.  The signature is checked here independently of the gateway's
# code, with the openssl command line: the chain against the test CA, the
# ES256 signature over BASE64URL(header) "." BASE64URL(bytes).  The
# protected claims, the Bundle id and the outbox id agree; status counts
# the queue; without a signing key nothing is queued.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 1; }
command -v openssl >/dev/null || { echo "openssl CLI missing (scripts/setup.sh installs it)"; exit 1; }

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 2000 --seed 4 --bad 0 --quiet)
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
d="$E2E_TMP/gw"
gw_new "$d" "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"plan-zk02-front-door\", \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\"}"
gw "$d" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null

gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r1.json" 2>"$E2E_TMP/r1.err"
grep -q 'signed and queued for upload as report' "$E2E_TMP/r1.err" && ok "report signed and queued" || not_ok "r1: $(cat "$E2E_TMP/r1.err")"
ob="$d/izagw-data/outbox.db"
expect_eq "outbox mode" 600 "$(stat -c %a "$ob")"
gw "$d" status | grep -q '^outbox  *1 queued, 0 sent, 0 failed' && ok "status: 1 queued" || not_ok "status: $(gw "$d" status | grep outbox)"

id=$(sqlite3 "$ob" "SELECT id FROM reports")
sqlite3 "$ob" "SELECT writefile('$E2E_TMP/body', body) FROM reports WHERE id = '$id'" >/dev/null
jws=$(sqlite3 "$ob" "SELECT jws FROM reports WHERE id = '$id'")
expect_eq "Bundle id is the report id" "$id" "$(jq -r .id "$E2E_TMP/body")"
cmp -s <(jq -S . "$E2E_TMP/body") <(jq -S . "$E2E_TMP/r1.json") && ok "the queued bytes are the written report" || not_ok "outbox body and report file differ"

# independent verification with openssl
b64url_dec() { local s=$1; s=${s//-/+}; s=${s//_//}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s" | base64 -d; }
b64url_enc() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
h=${jws%%.*}
sig=${jws##*.}
[ "${jws#*.}" = ".$sig" ] && ok "the JWS is detached (empty payload part)" || not_ok "not detached"
b64url_dec "$h" >"$E2E_TMP/header.json"
expect_eq "alg" ES256 "$(jq -r .alg "$E2E_TMP/header.json")"
expect_eq "crit" '["iza"]' "$(jq -c .crit "$E2E_TMP/header.json")"
expect_eq "claims" "{\"report\":\"$id\",\"region\":\"ZK02\",\"plan\":\"plan-zk02-front-door\",\"period\":\"2025-Q1\"}" "$(jq -c .iza "$E2E_TMP/header.json")"
jq -r '.x5c[0]' "$E2E_TMP/header.json" | base64 -d >"$E2E_TMP/leaf.der"
openssl x509 -inform DER -in "$E2E_TMP/leaf.der" -out "$E2E_TMP/leaf.pem"
openssl verify -CAfile "$pki/ca.pem" "$E2E_TMP/leaf.pem" >/dev/null 2>&1 && ok "x5c leaf chains to the test CA (openssl verify)" || not_ok "x5c leaf not trusted"
expect_eq "x5c leaf is the region certificate" "$(openssl x509 -in "$pki/region-ZK02.pem" -noout -fingerprint -sha256)" "$(openssl x509 -in "$E2E_TMP/leaf.pem" -noout -fingerprint -sha256)"
openssl x509 -in "$E2E_TMP/leaf.pem" -noout -pubkey >"$E2E_TMP/pub.pem"
printf '%s.%s' "$h" "$(b64url_enc <"$E2E_TMP/body")" >"$E2E_TMP/input"
hex=$(b64url_dec "$sig" | od -An -v -tx1 | tr -d ' \n')
expect_eq "signature length (bytes)" 64 $(( ${#hex} / 2 ))
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:64}" "${hex:64:64}" >"$E2E_TMP/sig.cnf"
openssl asn1parse -genconf "$E2E_TMP/sig.cnf" -out "$E2E_TMP/sig.der" >/dev/null
openssl dgst -sha256 -verify "$E2E_TMP/pub.pem" -signature "$E2E_TMP/sig.der" "$E2E_TMP/input" >/dev/null 2>&1 && ok "ES256 signature verifies (openssl dgst)" || not_ok "signature does not verify"
printf ' ' >>"$E2E_TMP/body"
printf '%s.%s' "$h" "$(b64url_enc <"$E2E_TMP/body")" >"$E2E_TMP/input2"
if openssl dgst -sha256 -verify "$E2E_TMP/pub.pem" -signature "$E2E_TMP/sig.der" "$E2E_TMP/input2" >/dev/null 2>&1; then
	not_ok "a changed body still verifies"
else
	ok "one byte more and the signature fails"
fi

# a second release is another report
gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r2.json" 2>/dev/null
expect_eq "two releases queued" 2 "$(sqlite3 "$ob" "SELECT count(DISTINCT id) FROM reports WHERE state = 'queued'")"
# without signing configuration: written, not queued
d2="$E2E_TMP/gw2"
gw_new "$d2" "{\"provider_consent\": [\"$hosp\", \"$gp\"]}"
gw "$d2" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
gw "$d2" report --period 2025-Q1 --out "$E2E_TMP/r3.json" 2>"$E2E_TMP/r3.err"
grep -q 'not queued for upload' "$E2E_TMP/r3.err" && ok "no signing key: not queued" || not_ok "r3: $(cat "$E2E_TMP/r3.err")"
[ ! -e "$d2/izagw-data/outbox.db" ] && ok "no outbox made" || not_ok "an outbox appeared"
finish
