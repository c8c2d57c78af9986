#!/usr/bin/env bash
# Automatic feeding end to end over loopback, nobody at a keyboard: the
# digital front door (izafd) pushes a quarter of triages over HTTPS in
# weekly batches, the hospital its NDJSON, the GP system its HL7 v2 (ER7)
# and its own triages, all at once; izagw serve's scheduler then closes the
# quarter (the last one whose last day lies 10 days back), signs the report
# and, after a kill -9 and a restart, pushes it to izamon without closing
# the quarter twice; izamon holds one verified report whose values equal
# the generators' ground truth (izafd's and izagen's truth.json). izagw
# status shows what the scheduler did; its log is JSON lines without a
# patient identifier.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/plan_fixture.bash"
: "${IZAFD:?IZAFD must point at the izafd binary}"
: "${IZACONV:?IZACONV must point at the izaconv binary}"
FD=01099999 GP=01058123 HOSP=06010713

# the quarter the scheduler closes today: the last whose last day + 10 <= today
d10=$(date -u -d "-10 days" +%Y-%m-%d)
y=${d10%%-*} mo=$((10#$(echo "$d10" | cut -d- -f2)))
qn=$(((mo - 1) / 3 + 1))
qlast=$(date -u -d "$y-$(printf %02d $((qn * 3)))-01 +1 month -1 day" +%Y-%m-%d)
[ "$qlast" = "$d10" ] || { qn=$((qn - 1)); [ $qn -eq 0 ] && { qn=4; y=$((y - 1)); }; }
P="$y-Q$qn"
from="$y-$(printf %02d $((qn * 3 - 2)))-01"
to=$(date -u -d "$y-$(printf %02d $((qn * 3)))-01 +1 month -1 day" +%Y-%m-%d)

plan=plan-e2e-feeding
fixture_start "$plan" --provider $FD --provider $GP --provider $HOSP
ex="$E2E_TMP/export" fd="$E2E_TMP/fd" v2="$E2E_TMP/v2"
(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --patients 2500 --from "$from" --to "$to" --seed 11 --quiet)
(cd "$IZA_SOURCE_DIR" && "$IZAFD" --patients "$ex/gp/Patient.ndjson" --out "$fd" --from "$from" --to "$to" --seed 4 >/dev/null)
(cd "$IZA_SOURCE_DIR" && "$IZACONV" --source $GP --out "$v2" --quiet "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson")
expect_eq "izafd's quarter is the one the scheduler closes" "$P" "$(jq -r '.quarters[0].period' "$fd/truth.json")"

gwd="$E2E_TMP/gw"
base="\"provider_consent\": [\"$FD\", \"$GP\", \"$HOSP\"], \"plan\": \"$plan\",
 \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\",
 \"intake_cert\": \"$pki/intake-chain.pem\", \"intake_key\": \"$pki/intake.key\", \"intake_ca\": \"$pki/ca.pem\""
sched="\"schedule\": {\"every\": \"quarter\", \"from\": \"$P\", \"close_after_days\": 10, \"check_seconds\": 1}"
gw_new "$gwd" "{$base}"
serve_pid=
start_serve() { # CONFIG-JSON LOG: izagw serve with that configuration
	echo "$1" >"$gwd/config.json"
	rm -f "$E2E_TMP/port"
	(cd "$gwd" && exec timeout 300 "$IZAGW" --config config.json serve --port 0 --port-file "$E2E_TMP/port" 2>>"$2") &
	serve_pid=$!
	for _ in $(seq 1 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.1; done
	gwurl="https://127.0.0.1:$(cat "$E2E_TMP/port")"
}
fixture_cleanup() {
	[ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null
	wait "$serve_pid" 2>/dev/null || true
	if [ "$fails" -gt 0 ]; then tail -20 "$E2E_TMP"/serve*.log 2>/dev/null; fi
}
post() { # AGB PATH FILE SUBMISSION: the answer's state
	curl -s --max-time 120 --cacert "$pki/ca.pem" --cert "$pki/provider-$1-chain.pem" --key "$pki/provider-$1.key" \
		-H "X-IZA-Submission: $4" --data-binary @"$3" "$gwurl$2" | jq -r '.state // .issue[0].diagnostics'
}

# 1. the providers push, all at once; nobody runs izagw ingest
start_serve "{$base}" "$E2E_TMP/serve1.log"
split -n l/13 -d "$fd/frontdoor/Encounter.ndjson" "$E2E_TMP/week-"
{
	post $FD /ndjson "$fd/frontdoor/Patient.ndjson" fd-patients
	for w in "$E2E_TMP"/week-*; do post $FD /ndjson "$w" "fd-${w##*-}"; done
} >"$E2E_TMP/fd.states" &
fdp=$!
{
	post $HOSP /ndjson "$ex/hospital/Patient.ndjson" hosp-p
	post $HOSP /ndjson "$ex/hospital/Encounter.ndjson" hosp-e
} >"$E2E_TMP/hosp.states" &
hp=$!
{
	post $GP /hl7v2 "$v2/adt.hl7" gp-adt
	post $GP /ndjson "$fd/practice/Patient.ndjson" gp-triage-p
	post $GP /ndjson "$fd/practice/Encounter.ndjson" gp-triage-e
} >"$E2E_TMP/gp.states" &
gpp=$!
wait $fdp $hp $gpp
expect_eq "the front door's 14 batches stored" "14" "$(grep -c '^stored$' "$E2E_TMP/fd.states")"
expect_eq "the hospital's 2 batches stored" "2" "$(grep -c '^stored$' "$E2E_TMP/hosp.states")"
expect_eq "the GP system's 3 batches (HL7 v2 and NDJSON) stored" "3" "$(grep -c '^stored$' "$E2E_TMP/gp.states")"
kill -TERM "$serve_pid"
wait "$serve_pid" || true

# 2. the scheduler closes the quarter; izamon is not configured yet, then
# the gateway is killed
start_serve "{$base, $sched}" "$E2E_TMP/serve2.log"
for _ in $(seq 1 100); do grep -q '"period.closed"' "$E2E_TMP/serve2.log" && break; sleep 0.2; done
kill -KILL "$(pgrep -P "$serve_pid" -x izagw)" # izagw itself, not timeout
wait "$serve_pid" 2>/dev/null || true
closed=$(grep '"period.closed"' "$E2E_TMP/serve2.log" | jq -r '"\(.period) \(.report)"')
rid=${closed#* }
expect_eq "the scheduler closed $P at start" "$P" "${closed% *}"
expect_eq "  and no other quarter" 1 "$(grep -c '"period.closed"' "$E2E_TMP/serve2.log")"
gw "$gwd" status >"$E2E_TMP/status1" 2>&1 || true
grep -q "^  $P .*closed .* by report $rid, queued for delivery" "$E2E_TMP/status1" && ok "izagw status: $P closed, queued" || not_ok "status: $(cat "$E2E_TMP/status1")"

# 3. restarted with izamon configured: the report is pushed, the quarter
# is not closed again
start_serve "{$base, $sched, \"monitor_url\": \"$url\", \"monitor_ca\": \"$pki/ca.pem\"}" "$E2E_TMP/serve3.log"
for _ in $(seq 1 100); do [ "$(q "SELECT count(*) FROM reports")" = 1 ] && break; sleep 0.2; done
for _ in $(seq 1 50); do grep -q '"event":"push"' "$E2E_TMP/serve3.log" && break; sleep 0.2; done
expect_eq "izamon holds the one report that closed $P" "$rid ZK02 $P $plan" "$(q "SELECT id || ' ' || region || ' ' || period || ' ' || plan FROM reports")"
expect_eq "  the restart closed nothing again" 0 "$(grep -c '"period.closed"' "$E2E_TMP/serve3.log")"
expect_eq "  the push is logged" "1 0 0" "$(grep '"event":"push"' "$E2E_TMP/serve3.log" | head -1 | jq -r '"\(.sent) \(.retry) \(.refused)"')"
gw "$gwd" status >"$E2E_TMP/status2" 2>&1 || true
grep -q "^  $P .*by report $rid, delivered " "$E2E_TMP/status2" && ok "izagw status: delivered" || not_ok "status: $(cat "$E2E_TMP/status2")"
grep -q "^  next .*closes on" "$E2E_TMP/status2" && ok "izagw status names the next closing" || not_ok "no next closing"

# 4. the values izamon received against the ground truth
q "SELECT body FROM reports" >"$E2E_TMP/received.json"
t() { jq -r ".quarters[0].$1" "$fd/truth.json"; }
pop() { # KPI CODE: a population count of the KPI's MeasureReport
	jq -r --arg k "$1" --arg c "$2" '.entry[].resource | select(.resourceType == "MeasureReport" and (.measure | test("/" + $k + "[|]")))
	  | .group[0].population[] | select(.code.coding[0].code == $c) | .count' "$E2E_TMP/received.json"
}
fdn=$(t frontdoor_triages)
expect_eq "frontdoor-selfcare-share = izafd's truth" "$(t selfcare)/$fdn" "$(pop frontdoor-selfcare-share numerator)/$(pop frontdoor-selfcare-share denominator)"
expect_eq "frontdoor-er-referral-share = izafd's truth" "$(t er)/$fdn" "$(pop frontdoor-er-referral-share numerator)/$(pop frontdoor-er-referral-share denominator)"
expect_eq "frontdoor-nonacute-share = izafd's truth (front door + the GP system's own)" \
	"$(t frontdoor_nonacute)/$(($(t frontdoor_nonacute) + $(t practice_nonacute)))" \
	"$(pop frontdoor-nonacute-share numerator)/$(pop frontdoor-nonacute-share denominator)"
expect_eq "frontdoor-load = izafd's truth" "$fdn" "$(pop frontdoor-load initial-population)"
expect_eq "er-visits = izagen's truth (the hospital's NDJSON)" "$(jq -r ".quarters[\"$P\"].er_visits" "$ex/truth.json")" "$(pop er-visits initial-population)"
# the GP's contacts came as HL7 v2 ER7: the same as izagw ingest of all
# the same files (the hospital's Patient records give some of the GP's
# patients their residence)
d2="$E2E_TMP/gw2"
gw_new "$d2" "{\"provider_consent\": [\"$FD\", \"$GP\", \"$HOSP\"]}"
{
	gw "$d2" ingest --source $GP "$v2/adt.hl7" "$fd/practice/Patient.ndjson" "$fd/practice/Encounter.ndjson"
	gw "$d2" ingest --source $FD "$fd/frontdoor/Patient.ndjson" "$fd/frontdoor/Encounter.ndjson"
	gw "$d2" ingest --source $HOSP "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson"
} >/dev/null 2>&1 || true
want=$(gw "$d2" kpis --period "$P" --format json | jq -r '.kpis[] | select(.id == "digital-contact-share") | "\(.numerator)/\(.denominator)"')
expect_eq "GP contacts (HL7 v2 over HTTPS) = izagw ingest of the same files" "$want" "$(pop digital-contact-share numerator)/$(pop digital-contact-share denominator)"

# a period that cannot be closed (its signing key became unreadable) is
# tried again after growing pauses (1, 2, 4 s ...), and records no release
kill -TERM "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
rel_before=$(sqlite3 "$gwd/izagw-data/ledger.db" "SELECT count(*) FROM releases")
late="\"schedule\": {\"every\": \"month\", \"from\": \"$(date -u -d "$to -1 month +1 day" +%Y-%m)\", \"close_after_days\": 10, \"check_seconds\": 1}"
start_serve "{$(echo "$base" | sed "s#region-ZK02.key#missing.key#"), $late}" "$E2E_TMP/serve4.log"
sleep 7.5
kill -TERM "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
n=$(grep '"period.failed"' "$E2E_TMP/serve4.log" | jq -r .period | sort | uniq -c | awk '{print $1}' | sort -n | tail -1)
[ "$n" -ge 3 ] && [ "$n" -le 4 ] && ok "a failing closing is retried after growing pauses ($n attempts in 7.5 s at a 1 s check)" || not_ok "failing closing attempts in 7.5 s: $n"
grep '"period.failed"' "$E2E_TMP/serve4.log" | head -1 | grep -q 'missing.key' && ok "  the log names the unreadable key" || not_ok "  reason: $(grep '"period.failed"' "$E2E_TMP/serve4.log" | head -1)"
expect_eq "  no release recorded for it" "$rel_before" "$(sqlite3 "$gwd/izagw-data/ledger.db" "SELECT count(*) FROM releases")"

# the log: JSON lines, counts and ids only
bad=0
for f in "$E2E_TMP"/serve[1234].log; do
	grep -v '^$' "$f" | while read -r l; do echo "$l" | jq -e .event >/dev/null 2>&1 || echo "$l"; done
done >"$E2E_TMP/notjson"
expect_eq "every log line is JSON with an event" "" "$(head -3 "$E2E_TMP/notjson")"
grep -ho '"value":"[0-9]\{9\}"' "$ex/hospital/Patient.ndjson" "$ex/gp/Patient.ndjson" | cut -d'"' -f4 | sort -u >"$E2E_TMP/bsns"
[ -s "$E2E_TMP/bsns" ] && ! grep -qFf "$E2E_TMP/bsns" "$E2E_TMP"/serve[1234].log && ok "no BSN in the logs" || not_ok "a BSN in the logs (or none found to check)"
finish
