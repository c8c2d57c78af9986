#!/usr/bin/env bash
# Gateway -> monitor over loopback with real TLS and certificates from
# certs/: izamon serve on 127.0.0.1 (bounded in time), izagw push with the
# region certificate.  The report arrives once (201, then nothing to send);
# the same bytes again are a duplicate (200); the server refuses a client
# without a certificate (401), a certificate of a foreign CA (TLS), another
# region's certificate (403), a changed body (400), an oversize body (413),
# malformed JSON (400); while the monitor is down reports wait in the
# outbox and arrive exactly once when it is back; a definitive refusal is
# kept with its reason in izagw status; the audit log verifies.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in sqlite3 curl; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 --region ZK14 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 1500 --seed 6 --bad 0 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")

m="$E2E_TMP/mon"
mkdir -p "$m"
echo "{\"data_dir\": \"$m/data\", \"ca\": \"$pki/ca.pem\", \"server_cert\": \"$pki/monitor-chain.pem\", \"server_key\": \"$pki/monitor.key\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
mon init >/dev/null
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-zk02-front-door >/dev/null
srv_pid=""
port=0
start_mon() { # the same port again after a restart (the gateway knows it)
	rm -f "$m/port"
	timeout 300 "$IZAMON" --config "$m/config.json" serve --port "$port" --port-file "$m/port" 2>>"$m/serve.log" &
	srv_pid=$!
	for _ in $(seq 1 50); do [ -s "$m/port" ] && break; sleep 0.1; done
	port=$(cat "$m/port")
}
stop_mon() {
	[ -n "$srv_pid" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
}
trap 'stop_mon; rm -rf "$E2E_TMP"' EXIT
start_mon
curl -s --max-time 5 --cacert "$pki/ca.pem" "https://127.0.0.1:$port/healthz" | grep -q ok && ok "izamon serves on 127.0.0.1:$port" || not_ok "healthz"

d="$E2E_TMP/gw"
gwcfg() { # PLAN CERT-REGION
	echo "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"$1\", \"signing_key\": \"$pki/region-$2.key\", \"signing_chain\": \"$pki/region-$2-chain.pem\", \"monitor_url\": \"https://127.0.0.1:$port\", \"monitor_ca\": \"$pki/ca.pem\"}"
}
gw_new "$d" "$(gwcfg plan-zk02-front-door ZK02)"
gw "$d" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null
gw "$d" report --period 2025-Q1 --out "$E2E_TMP/r1.json" 2>/dev/null
gw "$d" push >"$E2E_TMP/p1.out" && ok "push: $(head -1 "$E2E_TMP/p1.out")" || not_ok "push failed: $(cat "$E2E_TMP/p1.out")"
expect_eq "push summary" "push: 1 sent, 0 to retry, 0 refused" "$(head -1 "$E2E_TMP/p1.out")"
db="$m/data/izamon.db"
id=$(jq -r .id "$E2E_TMP/r1.json")
expect_eq "stored at the monitor" "$id" "$(sqlite3 "$db" "SELECT id FROM reports")"
gw "$d" push >"$E2E_TMP/p2.out"
expect_eq "second push" "push: 0 sent, 0 to retry, 0 refused" "$(head -1 "$E2E_TMP/p2.out")"
gw "$d" status | grep -q '^outbox  *0 queued, 1 sent, 0 failed' && ok "status: 1 sent" || not_ok "status: $(gw "$d" status | grep outbox)"

# the same bytes again by hand (a resend after a crash): a duplicate
sqlite3 "$d/izagw-data/outbox.db" "SELECT writefile('$E2E_TMP/body.json', body), writefile('$E2E_TMP/jws', jws) FROM reports" >/dev/null
post() { # CERT-NAME BODY-FILE [JWS] -> HTTP status
	local cert=()
	[ -n "$1" ] && cert=(--cert "$pki/$1-chain.pem" --key "$pki/$1.key")
	curl -s -o "$E2E_TMP/answer" -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" "${cert[@]}" \
		-H "Content-Type: application/fhir+json" -H "IZA-JWS: ${3:-$(cat "$E2E_TMP/jws")}" \
		--data-binary @"$2" "https://127.0.0.1:$port/reports" || true
}
expect_eq "the same report again" 200 "$(post region-ZK02 "$E2E_TMP/body.json")"
expect_eq "no client certificate" 401 "$(post "" "$E2E_TMP/body.json")"
code=$(post region-ZK02-other "$E2E_TMP/body.json")
[ "$code" = 000 ] || [ "$code" = 401 ] && ok "a certificate of a foreign CA is refused ($code)" || not_ok "foreign CA: $code"
expect_eq "another region's certificate" 403 "$(post region-ZK14 "$E2E_TMP/body.json")"
sed 's/"count":\([0-9]\)/"count":7\1/' "$E2E_TMP/body.json" >"$E2E_TMP/tampered.json"
expect_eq "a changed body" 400 "$(post region-ZK02 "$E2E_TMP/tampered.json")"
grep -q 'signature does not match' "$E2E_TMP/answer" && ok "the OperationOutcome says why" || not_ok "answer: $(cat "$E2E_TMP/answer")"
printf '{"resourceType": "Bundle",' >"$E2E_TMP/broken.json"
expect_eq "malformed JSON" 400 "$(post region-ZK02 "$E2E_TMP/broken.json")"
head -c 17000000 /dev/zero | tr '\0' ' ' >"$E2E_TMP/big.json"
expect_eq "an oversize body" 413 "$(post region-ZK02 "$E2E_TMP/big.json")"
expect_eq "still one report stored" 1 "$(sqlite3 "$db" "SELECT count(*) FROM reports")"

# the monitor is down: reports wait, then arrive exactly once
stop_mon
gw "$d" report --period 2025-Q2 --out "$E2E_TMP/r2.json" 2>/dev/null
set +e
gw "$d" push >"$E2E_TMP/p3.out"
rc=$?
set -e
expect_eq "push while the monitor is down (exit)" 5 "$rc"
expect_eq "push summary while down" "push: 0 sent, 1 to retry, 0 refused" "$(head -1 "$E2E_TMP/p3.out")"
expect_eq "the report waits in the outbox" 1 "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) FROM reports WHERE state = 'queued' AND attempts = 1 AND last_status = 0")"
start_mon
# the backoff has not expired: a plain push waits, --all sends now
gw "$d" push >"$E2E_TMP/p4.out" || true
expect_eq "push before the retry time" "push: 0 sent, 0 to retry, 0 refused" "$(head -1 "$E2E_TMP/p4.out")"
gw "$d" push --all >"$E2E_TMP/p5.out"
expect_eq "push --all when back" "push: 1 sent, 0 to retry, 0 refused" "$(head -1 "$E2E_TMP/p5.out")"
expect_eq "two reports stored, each once" 2 "$(sqlite3 "$db" "SELECT count(DISTINCT id) FROM reports")"

# reading: insurers see every report, a region its own, others nothing;
# a single report comes with its exact bytes and JWS, verifiable offline
mon insurers add 3311 --cert "$pki/insurer-3311.pem" >/dev/null && ok "insurer 3311 enrolled" || not_ok "insurer enrolment"
get() { # CERT-NAME PATH -> HTTP status, answer in $E2E_TMP/answer
	local cert=()
	[ -n "$1" ] && cert=(--cert "$pki/$1-chain.pem" --key "$pki/$1.key")
	curl -s -o "$E2E_TMP/answer" -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" "${cert[@]}" "https://127.0.0.1:$port$2" || true
}
expect_eq "insurer lists reports" 200 "$(get insurer-3311 /reports)"
expect_eq "insurer sees both" 2 "$(jq '.reports | length' "$E2E_TMP/answer")"
expect_eq "insurer filters by period" 200 "$(get insurer-3311 '/reports?period=2025-Q2&region=ZK02')"
expect_eq "one report in 2025-Q2" "2025-Q2 1" "$(jq -r '.reports[0].period' "$E2E_TMP/answer") $(jq '.reports | length' "$E2E_TMP/answer")"
expect_eq "the region lists its own" 200 "$(get region-ZK02 /reports)"
expect_eq "the region sees 2" 2 "$(jq '.reports | length' "$E2E_TMP/answer")"
expect_eq "a region asking for another region" 403 "$(get region-ZK02 '/reports?region=ZK14')"
expect_eq "a certificate nobody enrolled" 403 "$(get provider-06010713 /reports)"
expect_eq "no certificate" 401 "$(get "" /reports)"
expect_eq "insurer reads one report" 200 "$(get insurer-3311 "/reports/$id")"
jq -j .report "$E2E_TMP/answer" >"$E2E_TMP/served.json"
jq -r .jws "$E2E_TMP/answer" >"$E2E_TMP/served.jws"
cmp -s "$E2E_TMP/served.json" "$E2E_TMP/body.json" && ok "the served bytes are the signed bytes" || not_ok "served bytes differ"
mon verify "$E2E_TMP/served.json" --jws "$E2E_TMP/served.jws" | grep -q "report $id, region ZK02" && ok "and verify offline" || not_ok "served report does not verify"
expect_eq "an unknown report" 404 "$(get insurer-3311 /reports/no-such-id)"

# a definitive refusal is kept, with the reason, in izagw status
sed -i 's/"plan": "plan-zk02-front-door"/"plan": "plan-not-enrolled"/' "$d/config.json"
gw "$d" report --period 2025-Q3 --out "$E2E_TMP/r3.json" 2>/dev/null
set +e
gw "$d" push >"$E2E_TMP/p6.out"
set -e
expect_eq "push of a report for a plan the region may not report for" "push: 0 sent, 0 to retry, 1 refused" "$(head -1 "$E2E_TMP/p6.out")"
gw "$d" status >"$E2E_TMP/status"
grep -q 'failed report .*HTTP 403, the region may not report for this plan' "$E2E_TMP/status" && ok "status shows the refusal and why" || not_ok "status: $(grep -A2 outbox "$E2E_TMP/status")"

stop_mon
grep -q '"event":"stopped"' "$m/serve.log" && ok "izamon stops cleanly on SIGTERM" || not_ok "no clean stop"
n=$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE event LIKE 'report.%'")
[ "$n" -ge 10 ] && ok "$n report events in the audit log" || not_ok "only $n report events audited"
mon audit verify | grep -q 'audit log intact' && ok "the audit chain verifies" || not_ok "audit chain broken"
finish
