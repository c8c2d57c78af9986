#!/usr/bin/env bash
# The dashboard in headless Chromium, from a running izamon seeded through
# the real path: the ZK02 gateway reports 2025-Q1, Q3 and Q4 of the demo
# data, a second gateway whose providers did not agree to release reports
# Q2 (every value suppressed), the distribution keys are loaded and the
# coordinating insurer attests the effort milestone.  Chromium reaches
# izamon's mutual-TLS port through socat holding the insurer's certificate
# (the browser itself has no certificate store here), renders the overview
# and the plan page, and the rendered DOM is checked against the values the
# JSON API gives; screenshots are kept as test artefacts.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/plan_fixture.bash"
for t in chromium socat; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done
art="${IZA_ARTIFACT_DIR:-$PWD/test-artifacts}"
mkdir -p "$art"

plan=plan-zk02-front-door
fixture_start "$plan"
mon plans load "$IZA_SOURCE_DIR/mappings/plans/zk02-digital-front-door.json" >/dev/null
mon keys load "$IZA_SOURCE_DIR"/mappings/distribution-keys/*.json >/dev/null
fixture_gateway "$plan"
for p in 2025-Q1 2025-Q3 2025-Q4; do gw_report "$p"; done
# the second gateway: same region, no provider consent, so the provider rule
# suppresses every value
gw2="$E2E_TMP/gw2"
gw_new "$gw2" "{\"plan\": \"$plan\", \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\", \"monitor_url\": \"$url\", \"monitor_ca\": \"$pki/ca.pem\"}"
gw "$gw2" ingest --source "$(jq -r '.sources.hospital.agb' "$E2E_TMP/export/truth.json")" "$E2E_TMP/export/hospital/Patient.ndjson" "$E2E_TMP/export/hospital/Encounter.ndjson" >/dev/null || true
gw "$gw2" report --period 2025-Q2 --out "$E2E_TMP/report-2025-Q2.json" 2>/dev/null
gw "$gw2" push >/dev/null
expect_eq "four reports stored" 4 "$(q 'SELECT count(*) FROM reports')"
expect_eq "attestation" 201 "$(code insurer-3311 "/plans/$plan/milestones/front-door-live/attestation" -X POST --data '{"outcome": "met", "note": "live <everywhere> & on time"}')"

# what the API says, to compare the page with
as insurer-3311 "/plans/$plan" >"$E2E_TMP/status.json"
as insurer-3311 "/plans/$plan/indicators" >"$E2E_TMP/ind.json"
q4=$(jq -r '.kpis[0].points[] | select(.period == "2025-Q4") | .value' "$E2E_TMP/ind.json")
q2=$(jq -r '.kpis[0].points[] | select(.period == "2025-Q2") | .absent' "$E2E_TMP/ind.json")
st=$(jq -r '.milestones[1].status' "$E2E_TMP/status.json")
expect_eq "Q2 is suppressed in the API" masked "$q2"
ok "Q4 digital-contact-share $q4: milestone digital-share-2025-q4 $st"

expect_eq "GET /dashboard over mutual TLS" 200 "$(code insurer-3311 /dashboard)"
expect_eq "GET /dashboard/plans/ID" 200 "$(code insurer-3311 "/dashboard/plans/$plan")"

# socat: plain HTTP on a loopback port for the browser, mutual TLS with the
# insurer's certificate to izamon
# a free loopback port for socat (it exits when it cannot bind: try another)
for _ in 1 2 3 4 5; do
	pport=$(shuf -i 20000-60999 -n 1)
	timeout 300 socat -d -d "TCP-LISTEN:$pport,bind=127.0.0.1,reuseaddr,fork" \
		"OPENSSL:127.0.0.1:${url##*:},cert=$pki/insurer-3311-chain.pem,key=$pki/insurer-3311.key,cafile=$pki/ca.pem,verify=1,commonname=127.0.0.1" 2>"$E2E_TMP/socat.log" &
	proxy=$!
	sleep 0.3
	kill -0 "$proxy" 2>/dev/null && break
done
fixture_cleanup() { kill "$proxy" 2>/dev/null || true; }
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$pport/dashboard" && break; sleep 0.1; done

browse() { # URL-PATH OUT-STEM: the rendered DOM and a screenshot
	local prof
	prof=$(mktemp -d "$E2E_TMP/chromium.XXXXXX")
	local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$prof" --window-size=1366,2200 --hide-scrollbars)
	timeout 90 chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$pport$1" >"$E2E_TMP/$2.html" 2>>"$E2E_TMP/chromium.log"
	timeout 90 chromium "${flags[@]}" --screenshot="$art/$2.png" "http://127.0.0.1:$pport$1" >/dev/null 2>>"$E2E_TMP/chromium.log"
}
browse /dashboard dashboard-overview
browse "/dashboard/plans/$plan" dashboard-plan
page="$E2E_TMP/dashboard-plan.html"
has() { grep -qF -- "$2" "$3" && ok "$1" || not_ok "$1: '$2' not in $(basename "$3")"; }

has "overview links the plan" "href=\"/dashboard/plans/$plan\"" "$E2E_TMP/dashboard-overview.html"
has "overview shows the plan's name" "Digitale voordeur huisartsenzorg (example plan)" "$E2E_TMP/dashboard-overview.html"
has "plan page title" "<h1>Digitale voordeur huisartsenzorg (example plan)</h1>" "$page"
expect_eq "one chart per KPI, with a title" 1 "$(grep -c '<title id="t0">digital-contact-share over time</title>' "$page")"
has "the chart is described for screen readers" 'aria-labelledby="t0 d0"' "$page"
has "Q4 value in the chart's data table" "<td>2025-Q4</td><td>ZK02</td><td class=\"n\">$q4</td>" "$page"
has "Q2 is a gap with its reason" "<td>2025-Q2</td><td>ZK02</td><td class=\"n\">no value: suppressed (disclosure control)</td>" "$page"
has "the gap is marked in the chart" "ZK02 2025-Q2: no value (masked)" "$page"
expect_eq "three drawn points (Q1, Q3, Q4)" 3 "$(grep -o '<circle ' "$page" | wc -l)"
has "baseline and target lines" "baseline 0.12" "$page"
has "target line" "target 0.25" "$page"
has "the Q4 milestone's own target in the chart" "milestone digital-share-2025-q4: target 0.18 for 2025-Q4" "$page"
case "$st" in
met) label="met" ;;
met-within-bandwidth) label="met within bandwidth" ;;
missed) label="missed" ;;
*) label="$st" ;;
esac
has "milestone status as text" "<span class=\"badge" "$page"
has "  the Q4 milestone's status" ">$label</span>" "$page"
has "the attestation note, escaped" "live &lt;everywhere&gt; &amp; on time" "$page"
# the attested milestone's notice for 3311: 50,000,000 cents x 0.283456
has "3311's notice for the effort milestone" "<td>front-door-live</td><td>3311</td><td>AGB:01000001</td><td class=\"n\">€&nbsp;141.728,00</td>" "$page"
has "the key version" "<td>2025.1</td>" "$page"
expect_eq "no script on the page" 0 "$(grep -c '<script' "$page")"
expect_eq "nothing loaded from elsewhere" 0 "$(grep -Ec '(src|href)="(https?:)?//' "$page")"
for f in dashboard-overview dashboard-plan; do
	[ -s "$art/$f.png" ] && [ "$(head -c 8 "$art/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
		ok "screenshot $f.png ($(stat -c %s "$art/$f.png") bytes) in $art" || not_ok "no screenshot $f.png"
done
if [ "$fails" -gt 0 ]; then
	echo "--- socat:"; grep -v "childdied\|at EOF\|exiting with" "$E2E_TMP/socat.log" | tail -25; :  "$E2E_TMP/socat.log"
	echo "--- chromium:"; tail -15 "$E2E_TMP/chromium.log"
	echo "--- serve:"; tail -5 "$m/serve.log"
	echo "--- page:"; head -c 600 "$page"
fi
finish
