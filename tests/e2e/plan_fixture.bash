# plan_fixture.bash - sourced by the plan e2e tests after lib.bash: a
# test-only PKI, izamon with enrolled insurers and regions, its service on
# 127.0.0.1 (bounded in time, stopped on exit), and a region gateway fed with
# generated demo data that reports to it.
#
#   fixture_start PLAN_ID [PKI ARGS]
#                           PKI (more certificates: make-dev-pki.sh's
#                           arguments), izamon init + enrolment, serve; sets
#                           pki, m, url, and the helpers mon, q, as, code;
#                           the database is SQLite, or PostgreSQL with
#                           IZA_E2E_PG=1 (mon_db.bash)
#   fixture_gateway PLAN_ID the ZK02 gateway (demo export ingested); gw_report
#                           PERIOD then reports and pushes one period
: "${IZAGEN:?IZAGEN must point at the izagen binary}"
: "${IZAMON:?IZAMON must point at the izamon binary}"
for t in curl jq; do command -v $t >/dev/null || { echo "$t missing (scripts/setup.sh installs it)"; exit 1; }; done
source "$(dirname "${BASH_SOURCE[0]}")/mon_db.bash"

mon() { "$IZAMON" --config "$m/config.json" "$@"; }
as() { # WHO PATH [curl args...]: a request with WHO's certificate
	local who=$1 path=$2
	shift 2
	curl -s --max-time 20 --cacert "$pki/ca.pem" --cert "$pki/$who-chain.pem" --key "$pki/$who.key" "$@" "$url$path"
}
code() { # WHO PATH [curl args...]: the HTTP status only
	local who=$1 path=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$pki/ca.pem" --cert "$pki/$who-chain.pem" --key "$pki/$who.key" "$@" "$url$path"
}

fixture_start() {
	local plan=$1
	shift
	pki="$E2E_TMP/pki"
	bash "$IZA_SOURCE_DIR/certs/make-dev-pki.sh" "$pki" --region ZK02 --region ZK14 --insurer 3311 --insurer 7095 "$@" 2>/dev/null
	m="$E2E_TMP/mon"
	mkdir -p "$m"
	mondb_setup "$m/data"
	trap 'mondb_drop; rm -rf "$E2E_TMP"' EXIT
	cat >"$m/config.json" <<JSON
{"data_dir": "$m/data", $mon_dbjson "ca": "$pki/ca.pem", "server_cert": "$pki/monitor-chain.pem",
 "server_key": "$pki/monitor.key", "mapping_dir": "$IZA_SOURCE_DIR/mappings"}
JSON
	mon init >/dev/null
	mon insurers add 3311 --cert "$pki/insurer-3311.pem" >/dev/null
	mon insurers add 7095 --cert "$pki/insurer-7095.pem" >/dev/null
	mon regions add ZK02 --cert "$pki/region-ZK02.pem" --plans "$plan" >/dev/null
	mon regions add ZK14 --cert "$pki/region-ZK14.pem" --plans plan-other >/dev/null
	rm -f "$m/port"
	timeout 600 "$IZAMON" --config "$m/config.json" serve --port 0 --port-file "$m/port" 2>"$m/serve.log" &
	srv=$!
	trap 'fixture_exit' EXIT
	for _ in $(seq 1 50); do [ -s "$m/port" ] && break; sleep 0.1; done
	url="https://127.0.0.1:$(cat "$m/port")"
}
fixture_cleanup() { :; } # a test may redefine it (other servers to stop)
# on exit: stop izamon (its own exit status does not matter here), show its
# log when a check failed, remove the temporary directory
fixture_exit() {
	kill -TERM "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	fixture_cleanup || true
	mondb_drop
	if [ "$fails" -gt 0 ] && [ -f "$m/serve.log" ]; then
		echo "--- izamon serve log (last lines):"
		tail -30 "$m/serve.log"
	fi
	rm -rf "$E2E_TMP"
}

fixture_gateway() {
	local plan=$1 ex="$E2E_TMP/export" hosp gp
	(cd "$IZA_SOURCE_DIR" && "$IZAGEN" --out "$ex" --quiet)
	hosp=$(jq -r '.sources.hospital.agb' "$ex/truth.json")
	gp=$(jq -r '.sources.gp.agb' "$ex/truth.json")
	gwd="$E2E_TMP/gw"
	gw_new "$gwd" "{\"provider_consent\": [\"$hosp\", \"$gp\"], \"plan\": \"$plan\", \"signing_key\": \"$pki/region-ZK02.key\", \"signing_chain\": \"$pki/region-ZK02-chain.pem\", \"monitor_url\": \"$url\", \"monitor_ca\": \"$pki/ca.pem\"}"
	gw "$gwd" ingest --source "$hosp" "$ex/hospital/Patient.ndjson" "$ex/hospital/Encounter.ndjson" >/dev/null || true
	gw "$gwd" ingest --source "$gp" "$ex/gp/Patient.ndjson" "$ex/gp/Encounter.ndjson" >/dev/null || true
}
gw_report() { # PERIOD: report, push; the report is in $E2E_TMP/report-PERIOD.json
	gw "$gwd" report --period "$1" --out "$E2E_TMP/report-$1.json" 2>/dev/null
	gw "$gwd" push >/dev/null
}
