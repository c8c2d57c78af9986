#!/usr/bin/env bash
# izamon unreachable: izagw serve's scheduler closes 22 months while izamon
# is down; the reports wait in the outbox, pushes back off, GET /metrics
# shows the depth and the growing age of the oldest unsent report and no
# successful push; when izamon is back every report arrives, once, and the
# metrics say so. Nothing is lost.
source "$(dirname "$0")/lib.bash"
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in sqlite3 curl jq; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done

pki="$E2E_TMP/pki"
bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 --provider 06010713 2>/dev/null
ex="$E2E_TMP/export"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 1500 --seed 8 --quiet)
hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")

m="$E2E_TMP/mon"
mkdir -p "$m"
echo "{\"data_dir\": \"$m/data\", \"ca\": \"$pki/ca.pem\", \"server_cert\": \"$pki/monitor-chain.pem\", \"server_key\": \"$pki/monitor.key\"}" >"$m/config.json"
mon() { "$IZAMON" --config "$m/config.json" "$@"; }
mon init >/dev/null
mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans plan-offline >/dev/null
mon_pid="" gw_pid=""
start_mon() { # PORT
	rm -f "$m/port"
	timeout 300 "$IZAMON" --config "$m/config.json" serve --port "$1" --port-file "$m/port" 2>>"$m/serve.log" &
	mon_pid=$!
	for _ in $(seq 1 50); do [ -s "$m/port" ] && break; sleep 0.1; done
}
stop() { # PIDVAR
	local p=${!1}
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	eval "$1=''"
}
trap 'stop gw_pid; stop mon_pid; rm -rf "$E2E_TMP"' EXIT
# a port izamon will have later: taken once, then left free
start_mon 0
port=$(cat "$m/port")
stop mon_pid

d="$E2E_TMP/gw"
gw_new "$d" "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"plan-offline\",
 \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\",
 \"monitor_url\": \"https://127.0.0.1:$port\", \"monitor_ca\": \"$pki/ca.pem\",
 \"intake_cert\": \"$pki/intake-chain.pem\", \"intake_key\": \"$pki/intake.key\", \"intake_ca\": \"$pki/ca.pem\",
 \"schedule\": {\"every\": \"month\", \"from\": \"2025-01\", \"close_after_days\": 10, \"check_seconds\": 1}}"
gw "$d" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null 2>&1 || true
gw "$d" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null 2>&1 || true
# the months closed by today: 2025-01 up to the last whose last day lies 10 days back
due=0
for y in 2025 2026 2027 2028; do
	for mo in 01 02 03 04 05 06 07 08 09 10 11 12; do
		last=$(date -u -d "$y-$mo-01 +1 month -1 day" +%s)
		[ $((last + 10 * 86400)) -le "$(date -u -d "$(date -u +%F)" +%s)" ] && due=$((due + 1))
	done
done

rm -f "$E2E_TMP/gwport"
(cd "$d" && exec timeout 300 "$IZAGW" --config config.json serve --port 0 --port-file "$E2E_TMP/gwport" 2>"$E2E_TMP/serve.log") &
gw_pid=$!
for _ in $(seq 1 50); do [ -s "$E2E_TMP/gwport" ] && break; sleep 0.1; done
metrics() {
	curl -s --max-time 10 --cacert "$pki/ca.pem" --cert "$pki/provider-06010713-chain.pem" --key "$pki/provider-06010713.key" \
		"https://127.0.0.1:$(cat "$E2E_TMP/gwport")/metrics"
}
metric() { awk -v k="$1" '$1 == k { print $2 }'; }
for _ in $(seq 1 150); do
	[ "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) FROM closings" 2>/dev/null)" = "$due" ] && break
	sleep 0.2
done
expect_eq "izamon down: all $due due months closed anyway" "$due" "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT count(*) FROM closings")"
for _ in $(seq 1 50); do grep -q '"event":"push"' "$E2E_TMP/serve.log" && break; sleep 0.2; done
expect_eq "  the push found izamon down: all $due to retry" "0 $due" "$(grep '"event":"push"' "$E2E_TMP/serve.log" | head -1 | jq -r '"\(.sent) \(.retry)"')"
metrics >"$E2E_TMP/m1"
sleep 2
metrics >"$E2E_TMP/m2"
expect_eq "  metrics: the outbox's depth" "$due" "$(metric 'izagw_outbox_reports{state="queued"}' <"$E2E_TMP/m2")"
a1=$(metric izagw_outbox_oldest_unsent_age_seconds <"$E2E_TMP/m1")
a2=$(metric izagw_outbox_oldest_unsent_age_seconds <"$E2E_TMP/m2")
[ "$a1" -ge 1 ] && [ "$a2" -ge $((a1 + 1)) ] && ok "  metrics: the oldest unsent report's age grows ($a1 s, then $a2 s)" || not_ok "age: $a1 then $a2"
expect_eq "  metrics: no successful push yet" 0 "$(metric izagw_last_push_success_timestamp_seconds <"$E2E_TMP/m2")"
# backing off: the next attempt at least 30 s after the failed one
# (jitter -20 %: 24 s)
wait_s=$(grep '"event":"push"' "$E2E_TMP/serve.log" | head -1 | jq '.next_attempt - .time')
[ "$wait_s" -ge 23 ] && ok "  pushes back off (the next attempt $wait_s s after the first)" || not_ok "next attempt $wait_s s after the first"
expect_eq "  one attempt each, not a storm" "1" "$(sqlite3 "$d/izagw-data/outbox.db" "SELECT max(attempts) FROM reports")"

# izamon back: the operator sends everything now (push --all) beside serve
start_mon "$port"
gw "$d" push --all >"$E2E_TMP/push.out" 2>&1 || true
expect_eq "izamon back: every report arrives" "$due" "$(sqlite3 "$m/data/izamon.db" "SELECT count(*) FROM reports")"
expect_eq "  the same ids on both sides" "" "$(comm -3 <(sqlite3 "$d/izagw-data/outbox.db" "SELECT id FROM reports ORDER BY id") <(sqlite3 "$m/data/izamon.db" "SELECT id FROM reports ORDER BY id"))"
expect_eq "  every month once" "$due" "$(sqlite3 "$m/data/izamon.db" "SELECT count(DISTINCT period) FROM reports")"
metrics >"$E2E_TMP/m3"
expect_eq "  metrics: nothing queued" 0 "$(metric 'izagw_outbox_reports{state="queued"}' <"$E2E_TMP/m3")"
expect_eq "  metrics: age 0" 0 "$(metric izagw_outbox_oldest_unsent_age_seconds <"$E2E_TMP/m3")"
[ "$(metric izagw_last_push_success_timestamp_seconds <"$E2E_TMP/m3")" -ge "$(date -u +%s -d '-60 seconds')" ] && ok "  metrics: the last successful push is recent" || not_ok "last push: $(metric izagw_last_push_success_timestamp_seconds <"$E2E_TMP/m3")"
mon audit verify | grep -q 'audit log intact' && ok "izamon's audit chain verifies" || not_ok "audit chain broken"
finish
