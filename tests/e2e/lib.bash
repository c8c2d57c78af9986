# Shared helpers for the end-to-end tests (sourced, not run).
set -euo pipefail
: "${IZAGW:?IZAGW must point at the izagw binary}"
: "${IZA_SOURCE_DIR:?}"
: "${IZA_SHARED_DATA:=$IZA_SOURCE_DIR/../shared/data}"

E2E_TMP=$(mktemp -d /tmp/iza-e2e-XXXXXX)
trap 'rm -rf "$E2E_TMP"' EXIT
fails=0
passes=0

ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1 = $2"; else not_ok "$1: expected '$2', got '$3'"; fi
}

# expect_status WHAT WANT-EXIT GREP CMD ARGS...: CMD exits WANT-EXIT and its
# output (stdout and stderr) matches GREP
expect_status() {
	local what=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$E2E_TMP/status.out" 2>&1 || rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$E2E_TMP/status.out"; then
		ok "$what (exit $rc)"
	else
		not_ok "$what: exit $rc, $(cat "$E2E_TMP/status.out")"
	fi
}

# finish: the plain closing line and the exit status
finish() {
	echo "$passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}

# A gateway in a fresh directory: gw_new DIR [config-json]
gw_new() {
	mkdir -p "$1"
	if [ -n "${2:-}" ]; then echo "$2" >"$1/config.json"; fi
	(cd "$1" && "$IZAGW" ${2:+--config config.json} init --region "${REGION:-ZK02}" >/dev/null)
}
# gw DIR ARGS...: run izagw in DIR with its config (if any)
gw() {
	local d=$1
	shift
	if [ -f "$d/config.json" ]; then
		(cd "$d" && "$IZAGW" --config config.json "$@")
	else
		(cd "$d" && "$IZAGW" "$@")
	fi
}
