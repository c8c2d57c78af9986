#!/usr/bin/env bash
# Crashes during upload: izagw push killed with SIGKILL mid-send, izamon
# killed with SIGKILL mid-write, both at random moments over 24 rounds, then
# restarted.  Afterwards every report is at the monitor exactly once, every
# outbox entry is sent, izamon's audit chain and the gateway's ledger
# verify.  A replay of a signed report under another id is refused.  An
# expired client certificate is refused at the TLS level.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in sqlite3 curl; do command -v $t >/dev/null || { echo "$t missing"; exit 1; }; done

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 --region ZK05 --expired region-ZK05 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 1200 --seed 12 --bad 0 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")

m="$E2E_TMP/mon"
mkdir -p "$m"
echo "{\"data_dir\": \"$m/data\", \"ca\": \"$pki/ca.pem\", \"server_cert\": \"$pki/monitor-chain.pem\", \"server_key\": \"$pki/monitor.key\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
mon init >/dev/null
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-zk02-front-door >/dev/null
mon regions add ZK05 --cert "$pki/region-ZK05.pem" --plans plan-zk02-front-door >/dev/null
port=0
srv_pid=""
dogs=()
# izamon itself is the background job (so SIGKILL reaches it, not a
# wrapper); a watchdog, with its output away from the test's, bounds it in
# time
start_mon() {
	rm -f "$m/port"
	"$IZAMON" --config "$m/config.json" serve --port "$port" --port-file "$m/port" 2>>"$m/serve.log" &
	srv_pid=$!
	(sleep 240; kill -KILL "$srv_pid") >/dev/null 2>&1 &
	dogs+=($!)
	for _ in $(seq 1 50); do [ -s "$m/port" ] && break; sleep 0.1; done
	port=$(cat "$m/port" 2>/dev/null || echo "$port")
}
kill_mon() { # SIGNAL
	[ -n "$srv_pid" ] && kill -"$1" "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
}
trap 'kill_mon KILL; kill "${dogs[@]}" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
start_mon

d="$E2E_TMP/gw"
gw_new "$d" "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"plan-zk02-front-door\", \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\", \"monitor_url\": \"https://127.0.0.1:$port\", \"monitor_ca\": \"$pki/ca.pem\"}"
gw "$d" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null
periods="2024-01 2024-02 2024-03 2024-04 2024-05 2024-06 2024-07 2024-08 2024-09 2024-10 2024-11 2024-12 2024-Q1 2024-Q2 2024-Q3 2024-Q4 2025-01 2025-02"
for p in $periods; do gw "$d" report --period "$p" --out /dev/null 2>/dev/null; done
n=$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) FROM reports")
expect_eq "reports queued" "$(echo $periods | wc -w)" "$n"

kills=0
mon_kills=0
for round in $(seq 1 24); do
	(cd "$d" && exec "$IZAGW" --config config.json push --all >/dev/null 2>&1) &
	pid=$!
	sleep "0.0$((RANDOM % 6))"
	kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1)) || true
	wait "$pid" 2>/dev/null || true
	if [ $((round % 4)) -eq 0 ]; then # the monitor dies mid-write too
		(cd "$d" && exec "$IZAGW" --config config.json push --all >/dev/null 2>&1) &
		pid=$!
		sleep "0.0$((RANDOM % 4))"
		kill_mon KILL
		kills=$((kills + 1))
		mon_kills=$((mon_kills + 1))
		wait "$pid" 2>/dev/null || true
		start_mon
		curl -s --max-time 5 --cacert "$pki/ca.pem" "https://127.0.0.1:$port/healthz" >/dev/null || not_ok "izamon did not come back on port $port"
	fi
done
ok "$kills SIGKILLs delivered ($mon_kills of them to izamon)"
expect_eq "izamon restarted after each kill" $((mon_kills + 1)) "$(grep -c '"event":"listening"' "$m/serve.log")"
# recovery: push until nothing is left
for _ in 1 2 3 4 5; do
	gw "$d" push --all >/dev/null 2>&1 && break || true
done
expect_eq "outbox after recovery" "0 queued $n sent 0 failed" "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT sum(state = 'queued') || ' queued ' || sum(state = 'sent') || ' sent ' || sum(state = 'failed') || ' failed' FROM reports")"
expect_eq "reports at the monitor (each once: the id is the key)" "$n" "$(sqlite3 "$m/data/izamon.db" "SELECT count(*) FROM reports")"
expect_eq "the same ids on both sides" "" "$(comm -3 <(sqlite3 "$d/izagw-data/outbox.db" "SELECT id FROM reports ORDER BY id") <(sqlite3 "$m/data/izamon.db" "SELECT id FROM reports ORDER BY id"))"
mon audit verify | grep -q 'audit log intact' && ok "izamon's audit chain verifies after the crashes" || not_ok "audit chain broken"
gw "$d" status | grep -q 'hash chain intact' && ok "the gateway's ledger verifies" || not_ok "ledger broken"

# a replay: an old signed report under a new id
sqlite3 "$d/izagw-data/outbox.db" "SELECT writefile('$E2E_TMP/body.json', body), writefile('$E2E_TMP/jws', jws) FROM reports LIMIT 1" >/dev/null
jq -c '.id = "5b7c0c57-0000-8000-8000-000000000001"' "$E2E_TMP/body.json" >"$E2E_TMP/replay.json"
code=$(curl -s -o "$E2E_TMP/answer" -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/region-ZK02-chain.pem" --key "$pki/region-ZK02.key" -H "IZA-JWS: $(cat "$E2E_TMP/jws")" --data-binary @"$E2E_TMP/replay.json" "https://127.0.0.1:$port/reports" || true)
expect_eq "a replay under a new id" 400 "$code"
# an expired (but enrolled) client certificate
code=$(curl -s -o "$E2E_TMP/answer" -w '%{http_code}' --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/region-ZK05-chain.pem" --key "$pki/region-ZK05.key" -H "IZA-JWS: x..y" --data-binary @"$E2E_TMP/body.json" "https://127.0.0.1:$port/reports" || true)
[ "$code" = 401 ] || [ "$code" = 000 ] && ok "an expired client certificate is refused ($code)" || not_ok "expired certificate: $code"
grep -q 'not trusted (or expired)' "$E2E_TMP/answer" 2>/dev/null || [ "$code" = 000 ] && ok "and told why" || not_ok "answer: $(cat "$E2E_TMP/answer")"
expect_eq "nothing more stored" "$n" "$(sqlite3 "$m/data/izamon.db" "SELECT count(*) FROM reports")"
finish
