#!/usr/bin/env bash
# bench/xml.sh - izagw ingest of HL7 v2 (XML encoding, ER7) and CDA R2
# against the read limit (cat), libxml2's own streaming reader
# (xmllint --stream) and Python's xml.etree.ElementTree.iterparse doing the
# same extraction (bench/peers/py_xml_kpi.py), in one run on one generated
# data set.
#
#   bench/xml.sh                    # full scale: >= 500 MB per format
#   BENCH_SCALE=small bench/xml.sh  # ~100 MB per format
#
# Environment (all optional):
#   BENCH_SCALE         full (default) | small
#   BENCH_DIR           work dir (/tmp/iza-bench-xml)
#   BENCH_PATIENTS      izagen --patients (full 45000, small 8000)
#   BENCH_SEED          izagen --seed (42)
#   BENCH_PERIOD        KPI period (2025)
#   BENCH_STEP_TIMEOUT  seconds any one timed step may take (1200)
#   BENCH_NO_PYTHON     set to skip the Python peer
#   IZAGW, IZAGEN, IZACONV  binaries; without them build-bench is built
# The data: izagen's export of ZK02 (hospital and GP), rewritten by izaconv
# as the same encounters in each format (docs/demo-data.md).  Needs Debian
# packages time, jq, python3, libxml2-utils (installed if missing).
# Prints a table and writes it to bench/out/xml-<date>-<scale>.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
SCALE=${BENCH_SCALE:-full}
case $SCALE in
full) N=${BENCH_PATIENTS:-45000} ;;
small) N=${BENCH_PATIENTS:-8000} ;;
*)
	echo "bench: BENCH_SCALE must be full or small, not '$SCALE'" >&2
	exit 2
	;;
esac
SEED=${BENCH_SEED:-42}
PERIOD=${BENCH_PERIOD:-2025}
BENCH_DIR=${BENCH_DIR:-/tmp/iza-bench-xml}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-1200}
REGION=ZK02

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v python3 >/dev/null || missing+=(python3)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -z "${IZAGW:-}" ] || [ -z "${IZAGEN:-}" ] || [ -z "${IZACONV:-}" ]; then
	say "building build-bench (scripts/setup.sh build-bench)"
	"$ROOT/scripts/setup.sh" build-bench
	IZAGW=${IZAGW:-$ROOT/build-bench/izagw}
	IZAGEN=${IZAGEN:-$ROOT/build-bench/izagen}
	IZACONV=${IZACONV:-$ROOT/build-bench/izaconv}
fi
for b in "$IZAGW" "$IZAGEN" "$IZACONV"; do [ -x "$b" ] || die "no binary at $b"; done

# ---------------------------------------------------------------- data
EX=$BENCH_DIR/data-p$N-s$SEED
PARAMS="izagen --patients $N --seed $SEED --region $REGION --bad 0; izaconv per source"
mkdir -p "$BENCH_DIR"
if [ "$(cat "$EX/.bench-params" 2>/dev/null)" != "$PARAMS" ]; then
	say "generating $EX ($PARAMS)"
	rm -rf "$EX"
	mkdir -p "$EX"
	(cd "$ROOT" && "$IZAGEN" --out "$EX/fhir" --patients "$N" --seed "$SEED" --region "$REGION" --bad 0 --mappings mappings --quiet)
	for s in hospital gp; do
		agb=$(jq -r ".sources.$s.agb" "$EX/fhir/truth.json")
		"$IZACONV" --source "$agb" --region "$REGION" --out "$EX/$s" --quiet \
			"$EX/fhir/$s/Patient.ndjson" "$EX/fhir/$s/Encounter.ndjson"
		echo "$agb" >"$EX/$s/agb"
	done
	rm -rf "$EX/fhir"
	echo "$PARAMS" >"$EX/.bench-params"
else
	say "reusing $EX"
fi
HOSP_AGB=$(cat "$EX/hospital/agb")
GP_AGB=$(cat "$EX/gp/agb")

RUN=$BENCH_DIR/run
rm -rf "$RUN"
mkdir -p "$RUN" "$BENCH/out"
size() { stat -c %s "$@" | awk '{ s += $1 } END { print s + 0 }'; }

# timed NAME CMD...: wall seconds and peak RSS (KB) of CMD into $RUN/NAME.t
timed() {
	local name=$1
	shift
	local t0 t1 rc=0
	t0=$(date +%s.%N)
	timeout "$STEP_TIMEOUT" /usr/bin/time -f "%M" -o "$RUN/$name.rss" "$@" >"$RUN/$name.out" 2>"$RUN/$name.err" || rc=$?
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >"$RUN/$name.t"
	[ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || { say "$name failed (exit $rc), see $RUN/$name.err"; echo fail >"$RUN/$name.t"; }
}
rss_mb() { awk '/^[0-9]+$/ { m = $1 > m ? $1 : m } END { printf "%.1f", m / 1024 }' "$@"; }

ROWS=()
row() { # row LABEL SECONDS BYTES RECORDS RSS_MB REF_SECONDS
	ROWS+=("$(awk -v l="$1" -v t="$2" -v b="$3" -v r="$4" -v m="$5" -v ref="$6" 'BEGIN {
		if (t == "fail") { printf "| %s | failed | | | | |", l; exit }
		printf "| %s | %.2f | %.1f | %d | %s | %.2f |", l, t, b / t / 1e6, r / t, m, t / ref }')")
}

CHECK=()
for fmt in v2xml er7 cda; do
	case $fmt in
	v2xml) file=adt.xml label="HL7 v2 XML" ;;
	er7) file=adt.hl7 label="HL7 v2 ER7" ;;
	cda) file=cda.xml label="CDA R2" ;;
	esac
	H=$EX/hospital/$file
	G=$EX/gp/$file
	BYTES=$(size "$H" "$G")
	cat "$H" "$G" >/dev/null # page cache
	say "$label: $(awk -v b="$BYTES" 'BEGIN { printf "%.0f MB", b / 1e6 }') in two files"

	# izagw: a fresh store, both sources, then the KPIs of the period
	gw=$RUN/gw-$fmt
	mkdir -p "$gw"
	# both organisations consent to figures that reveal their own (the
	# provider rule would otherwise mask a region's one hospital's ER visits)
	printf '{"data_dir": "%s/data", "mapping_dir": "%s/mappings", "provider_consent": ["%s", "%s"]}\n' \
		"$gw" "$ROOT" "$HOSP_AGB" "$GP_AGB" >"$gw/config.json"
	"$IZAGW" --config "$gw/config.json" init --region "$REGION" >/dev/null
	timed "$fmt-ingest-h" "$IZAGW" --config "$gw/config.json" ingest --source "$HOSP_AGB" "$H"
	timed "$fmt-ingest-g" "$IZAGW" --config "$gw/config.json" ingest --source "$GP_AGB" "$G"
	timed "$fmt-kpis" "$IZAGW" --config "$gw/config.json" kpis --period "$PERIOD" --format json
	RECORDS=$(awk '/^  records read/ { s += $3 } END { print s + 0 }' "$RUN/$fmt-ingest-h.out" "$RUN/$fmt-ingest-g.out")
	if grep -q fail "$RUN/$fmt-ingest-h.t" "$RUN/$fmt-ingest-g.t"; then
		T_ING=fail
	else
		T_ING=$(cat "$RUN/$fmt-ingest-h.t" "$RUN/$fmt-ingest-g.t" | awk '{ s += $1 } END { printf "%.3f", s }')
	fi
	REF=$T_ING
	[ "$REF" = fail ] && REF=1

	# cat: three passes, the read limit
	timed "$fmt-cat" bash -c "for i in 1 2 3; do cat '$H' '$G' >/dev/null; done"
	T_CAT=$(awk '{ printf "%.3f", $1 / 3 }' "$RUN/$fmt-cat.t")

	ROWS+=("" "### $label: $(awk -v b="$BYTES" 'BEGIN { printf "%.0f MB", b / 1e6 }'), $RECORDS records" ""
		"| tool | wall s | MB/s | records/s | peak RSS MB | time vs izagw ingest |"
		"|---|---:|---:|---:|---:|---:|")
	row "cat (page cache, one pass of three)" "$T_CAT" "$BYTES" "$RECORDS" "$(rss_mb "$RUN/$fmt-cat.rss")" "$REF"
	if [ "$fmt" != er7 ]; then
		timed "$fmt-xmllint" xmllint --stream --noout "$H" "$G"
		row "xmllint --stream (libxml2 reader, no extraction)" "$(cat "$RUN/$fmt-xmllint.t")" "$BYTES" "$RECORDS" "$(rss_mb "$RUN/$fmt-xmllint.rss")" "$REF"
	fi
	row "**izagw ingest** (parse, map, pseudonymise, store)" "$T_ING" "$BYTES" "$RECORDS" "$(rss_mb "$RUN/$fmt-ingest-h.rss" "$RUN/$fmt-ingest-g.rss")" "$REF"
	ROWS+=("$(awk -v t="$(cat "$RUN/$fmt-kpis.t")" -v m="$(rss_mb "$RUN/$fmt-kpis.rss")" 'BEGIN { printf "| izagw kpis --period '"$PERIOD"' | %.2f | | | %s | |", t, m }')")
	GW_ER=$(jq -c '[.kpis[] | select(.id == "er-visits" or .id == "er-patients") | .value]' "$RUN/$fmt-kpis.out" 2>/dev/null || echo "?")
	if [ "$fmt" != er7 ] && [ -z "${BENCH_NO_PYTHON:-}" ]; then
		timed "$fmt-python" python3 "$BENCH/peers/py_xml_kpi.py" --format "$fmt" --mappings "$ROOT/mappings" \
			--region "$REGION" --period "$PERIOD" "$HOSP_AGB=$H" "$GP_AGB=$G"
		row "Python iterparse (same extraction + ER KPIs)" "$(cat "$RUN/$fmt-python.t")" "$BYTES" "$RECORDS" "$(rss_mb "$RUN/$fmt-python.rss")" "$REF"
		PY_ER=$(jq -c '[.er_visits, .er_patients]' "$RUN/$fmt-python.out" 2>/dev/null || echo "?")
		CHECK+=("$label: er-visits/er-patients $PERIOD izagw $GW_ER, Python $PY_ER: $([ "$GW_ER" = "$PY_ER" ] && echo agree || echo DIFFER)")
	else
		CHECK+=("$label: er-visits/er-patients $PERIOD izagw $GW_ER")
	fi
done

OUT=$BENCH/out/xml-$(date +%Y%m%d-%H%M)-$SCALE.txt
{
	echo "# bench/xml.sh $SCALE: $PARAMS (N=$N), period $PERIOD"
	echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), izagw built $(stat -c %y "$IZAGW" | cut -d. -f1)"
	printf '%s\n' "${ROWS[@]}"
	echo
	printf '%s\n' "${CHECK[@]}"
} | tee "$OUT"
say "written to $OUT"
