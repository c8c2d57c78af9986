#!/usr/bin/env bash
# izamon's database, enrolment, audit log and offline verification, on a
# report the gateway really signed and queued: a good report verifies; a
# changed byte, a foreign CA, a region that is not enrolled, a certificate
# that is not the enrolled one and a plan the region may not report for are
# each refused (exit 6); the audit log records init and enrolment and
# detects a changed entry.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 1; }

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 --region ZK14 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 1500 --seed 8 --bad 0 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")

# a gateway signing as ZK02, and one (wrongly) signing ZK02's reports with
# ZK14's certificate
mk_gw() { # DIR CERT-REGION
	gw_new "$1" "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"plan-zk02-front-door\", \"signing_key\": \"$pki/region-$2.key\", \"signing_chain\": \"$pki/region-$2-chain.pem\"}"
	gw "$1" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
	gw "$1" report --period 2025-Q1 --out "$1/report.json" 2>/dev/null
	sqlite3 "$1/izagw-data/outbox.db" "SELECT writefile('$1/body.json', body), writefile('$1/report.jws', jws) FROM reports" >/dev/null
}
mk_gw "$E2E_TMP/gw" ZK02
mk_gw "$E2E_TMP/gw-wrong" ZK14

m="$E2E_TMP/mon"
mkdir -p "$m"
echo "{\"data_dir\": \"$m/data\", \"ca\": \"$pki/ca.pem\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
body="$E2E_TMP/gw/body.json"
jws="$E2E_TMP/gw/report.jws"

# offline, before any database: the signature and the report alone
mon verify "$body" --jws "$jws" >"$E2E_TMP/v0.out" 2>&1 && ok "verifies without a database" || not_ok "v0: $(cat "$E2E_TMP/v0.out")"
grep -q 'enrolment not checked' "$E2E_TMP/v0.out" && ok "and says enrolment was not checked" || not_ok "v0 note missing"

mon init >/dev/null && ok "izamon init" || not_ok "init failed"
expect_eq "database mode" 600 "$(stat -c %a "$m/data/izamon.db")"
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-zk02-front-door,plan-zk02-acute >/dev/null && ok "ZK02 enrolled" || not_ok "enrolment failed"

id=$(jq -r .id "$body")
expect_status "the signed report verifies against the enrolment" 0 "report $id, region ZK02, plan plan-zk02-front-door, period 2025-Q1" mon verify "$body" --jws "$jws"
sed 's/"count":\([0-9]\)/"count":9\1/' "$body" >"$E2E_TMP/tampered.json"
cmp -s "$body" "$E2E_TMP/tampered.json" && not_ok "tampering changed nothing" || true
expect_status "a changed count is refused" 6 "signature does not match" mon verify "$E2E_TMP/tampered.json" --jws "$jws"
expect_status "a foreign CA is refused" 6 "not trusted" mon verify "$body" --jws "$jws" --ca "$pki/other-ca.pem"
expect_status "ZK14's certificate signing for ZK02 is refused" 6 "not the one enrolled for region ZK02" mon verify "$E2E_TMP/gw-wrong/body.json" --jws "$E2E_TMP/gw-wrong/report.jws"
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-zk02-acute >/dev/null
expect_status "a plan the region may not report for is refused" 6 "may not report for plan plan-zk02-front-door" mon verify "$body" --jws "$jws"
sqlite3 "$m/data/izamon.db" "DELETE FROM regions"
expect_status "a region that is not enrolled is refused" 6 "region ZK02 is not enrolled" mon verify "$body" --jws "$jws"

expect_status "audit log intact" 0 "audit log intact (3 entries)" mon audit verify
n=$(sqlite3 "$m/data/izamon.db" "SELECT count(*) FROM audit WHERE event = 'region.enrolled' AND on_behalf = 'ZK02'")
expect_eq "enrolments in the audit log" 2 "$n"
if sqlite3 "$m/data/izamon.db" "DELETE FROM audit WHERE seq = 2" 2>/dev/null; then
	not_ok "the audit log accepted a DELETE"
else
	ok "the audit log refuses DELETE"
fi
sqlite3 "$m/data/izamon.db" "DROP TRIGGER audit_no_update; UPDATE audit SET what = 'ZK02 plans everything' WHERE seq = 2"
expect_status "a changed audit entry is detected" 6 "audit entry 2 was changed" mon audit verify
finish
