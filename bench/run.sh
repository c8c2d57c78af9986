#!/usr/bin/env bash
# bench/run.sh - izagw against its peers on one generated export, in one run.
#
#   bench/run.sh                    # full scale: >= 1 GB of Encounter NDJSON
#   BENCH_SCALE=small bench/run.sh  # ~100 MB, about a minute
#
# Environment (all optional):
#   BENCH_SCALE         full (default) | small
#   BENCH_DIR           work dir for the export and the stores (/tmp/iza-bench)
#   BENCH_PATIENTS      izagen --patients (full 180000, small 17000)
#   BENCH_SEED          izagen --seed (42)
#   BENCH_PERIOD        KPI period (2025)
#   BENCH_STEP_TIMEOUT  seconds any one timed step may take (1200)
#   BENCH_NO_DUCKDB     set to skip DuckDB (and npm)
#   IZAGW, IZAGEN       binaries to use; without them the script builds
#                       build-bench with scripts/setup.sh
# Needs Debian packages time, jq, python3 (installed with apt-get if missing)
# and, for the DuckDB peer, Node.js + npm (bench/node_modules via npm ci).
# Prints a table and writes it to bench/out/results-<date>-<scale>.txt.
# What each peer computes and how to read the figures: bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
SCALE=${BENCH_SCALE:-full}
case $SCALE in
full) N=${BENCH_PATIENTS:-180000} ;;
small) N=${BENCH_PATIENTS:-17000} ;;
*)
	echo "bench: BENCH_SCALE must be full or small, not '$SCALE'" >&2
	exit 2
	;;
esac
SEED=${BENCH_SEED:-42}
PERIOD=${BENCH_PERIOD:-2025}
BENCH_DIR=${BENCH_DIR:-/tmp/iza-bench}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-1200}
HOSP_AGB=06010713
REGION=ZK02

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# ---------------------------------------------------------------- tools
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v python3 >/dev/null || missing+=(python3)
command -v timeout >/dev/null || missing+=(coreutils)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "${IZAGW:-}" ] || [ -z "${IZAGEN:-}" ]; then
	say "building build-bench (scripts/setup.sh build-bench)"
	"$ROOT/scripts/setup.sh" build-bench
	IZAGW=${IZAGW:-$ROOT/build-bench/izagw}
	IZAGEN=${IZAGEN:-$ROOT/build-bench/izagen}
fi
[ -x "$IZAGW" ] || die "no izagw at $IZAGW"
[ -x "$IZAGEN" ] || die "no izagen at $IZAGEN"

DUCKDB_SKIP=""
if [ -n "${BENCH_NO_DUCKDB:-}" ]; then
	DUCKDB_SKIP="BENCH_NO_DUCKDB is set: DuckDB is skipped"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	DUCKDB_SKIP="Node.js/npm not found: DuckDB is skipped (install nodejs + npm to compare with it)"
elif [ ! -f "$BENCH/node_modules/@duckdb/node-api/package.json" ] ||
	[ "$BENCH/package-lock.json" -nt "$BENCH/node_modules/.package-lock.json" ]; then
	say "npm ci (bench/node_modules: @duckdb/node-api)"
	if ! (cd "$BENCH" && npm ci --no-audit --no-fund --loglevel=error >&2); then
		DUCKDB_SKIP="npm ci of @duckdb/node-api failed: DuckDB is skipped"
	fi
fi
[ -z "$DUCKDB_SKIP" ] || say "$DUCKDB_SKIP"

# ---------------------------------------------------------------- data
EX=$BENCH_DIR/export-p$N-s$SEED
PARAMS="izagen --patients $N --seed $SEED --region $REGION (defaults otherwise)"
mkdir -p "$BENCH_DIR"
GEN_NOTE="reused"
if [ "$(cat "$EX/.bench-params" 2>/dev/null)" != "$PARAMS" ]; then
	say "generating $EX ($PARAMS)"
	rm -rf "$EX"
	mkdir -p "$EX"
	t0=$(date +%s.%N)
	(cd "$ROOT" && "$IZAGEN" --out "$EX" --patients "$N" --seed "$SEED" --region "$REGION" --mappings mappings --quiet)
	t1=$(date +%s.%N)
	GEN_NOTE=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "generated in %.1f s", b - a }')
	# The incremental run: the same files split into the first 99 % and the
	# last 1 % of their lines (base + delta = the whole export).
	for f in hospital/Patient hospital/Encounter gp/Patient gp/Encounter; do
		mkdir -p "$EX/split/base/${f%/*}" "$EX/split/delta/${f%/*}"
		n=$(wc -l <"$EX/$f.ndjson")
		k=$(((n + 99) / 100))
		head -n $((n - k)) "$EX/$f.ndjson" >"$EX/split/base/$f.ndjson"
		tail -n "$k" "$EX/$f.ndjson" >"$EX/split/delta/$f.ndjson"
	done
	echo "$PARAMS" >"$EX/.bench-params"
else
	say "reusing $EX"
fi
GP_AGB=$(jq -r '.sources.gp.agb' "$EX/truth.json")
HOSP_AGB=$(jq -r --arg d "$HOSP_AGB" '.sources.hospital.agb // $d' "$EX/truth.json")

FILES=("$EX/hospital/Patient.ndjson" "$EX/hospital/Encounter.ndjson" "$EX/gp/Patient.ndjson" "$EX/gp/Encounter.ndjson")
ENC_FILES=("$EX/hospital/Encounter.ndjson" "$EX/gp/Encounter.ndjson")
size() { stat -c %s "$@" | awk '{ s += $1 } END { print s + 0 }'; }
nlines() { cat "$@" | wc -l; }
BYTES=$(size "${FILES[@]}")
LINES=$(nlines "${FILES[@]}")
ENC_BYTES=$(size "${ENC_FILES[@]}")
ENC_LINES=$(nlines "${ENC_FILES[@]}")
DELTA=("$EX/split/delta/hospital/Patient.ndjson" "$EX/split/delta/hospital/Encounter.ndjson"
	"$EX/split/delta/gp/Patient.ndjson" "$EX/split/delta/gp/Encounter.ndjson")
DELTA_BYTES=$(size "${DELTA[@]}")
DELTA_LINES=$(nlines "${DELTA[@]}")
if [ "$SCALE" = full ] && [ "$ENC_BYTES" -lt 1000000000 ]; then
	say "warning: Encounter files are $ENC_BYTES bytes (< 1 GB); raise BENCH_PATIENTS"
fi
TRUTH=$(jq -c --arg p "$PERIOD" '(.years[$p] // .quarters[$p] // .months[$p]) | "\(.er_visits)/\(.er_patients)"' -r "$EX/truth.json")

# ---------------------------------------------------------------- timing
RUN=$BENCH_DIR/run
rm -rf "$RUN"
mkdir -p "$RUN"
ROWS=$RUN/rows.tsv
: >"$ROWS"

# timed NAME CMD... : runs CMD under GNU time and timeout, output in
# $RUN/NAME.out/.err; sets T_WALL (s), T_RSS (KB) and T_RC.
timed() {
	local name=$1
	shift
	say "running $name"
	local t0 t1
	set +e
	t0=$(date +%s%N)
	/usr/bin/time -o "$RUN/$name.time" -f '%e %M' timeout "$STEP_TIMEOUT" "$@" >"$RUN/$name.out" 2>"$RUN/$name.err"
	T_RC=$?
	t1=$(date +%s%N)
	set -e
	# wall from the clock in ns (GNU time's %e has 10 ms steps), peak RSS
	# (max resident set of the command and its children) from GNU time
	read -r _ T_RSS < <(tail -n 1 "$RUN/$name.time")
	T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	if [ "$T_RC" -eq 124 ]; then
		say "$name: timed out after $STEP_TIMEOUT s"
	fi
}
# row SECTION TOOL BYTES RECORDS RESULT NOTE : one table row from T_WALL/T_RSS
row() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$T_WALL" "$T_RSS" "$5" "$6" >>"$ROWS"
}
# failed SECTION TOOL WHY
failed() {
	printf '%s\t%s\t0\t0\t-\t-\t-\t%s\n' "$1" "$2" "$3" >>"$ROWS"
}

# A fresh gateway: gw_init DIR
gw_init() {
	mkdir -p "$1"
	# both organisations consent to figures that reveal their own (the
	# provider rule would otherwise mask a region's one hospital's ER visits)
	printf '{"data_dir": "%s/data", "mapping_dir": "%s/mappings", "provider_consent": ["%s", "%s"]}\n' \
		"$1" "$ROOT" "$HOSP_AGB" "$GP_AGB" >"$1/config.json"
	"$IZAGW" --config "$1/config.json" init --region "$REGION" >/dev/null
}
# ingest_all DIR [--threads N] : both sources, hospital then GP; exit 5
# (some records quarantined: the deliberately bad lines) is success here.
cat >"$RUN/ingest.sh" <<'EOF'
#!/usr/bin/env bash
# ingest.sh IZAGW CONFIG HOSP_AGB GP_AGB DIR [extra ingest flags...]
izagw=$1 cfg=$2 h=$3 g=$4 d=$5
shift 5
"$izagw" --config "$cfg" ingest --source "$h" "$@" "$d/hospital/Patient.ndjson" "$d/hospital/Encounter.ndjson"
r1=$?
"$izagw" --config "$cfg" ingest --source "$g" "$@" "$d/gp/Patient.ndjson" "$d/gp/Encounter.ndjson"
r2=$?
for r in $r1 $r2; do [ "$r" -eq 0 ] || [ "$r" -eq 5 ] || exit "$r"; done
exit 0
EOF
chmod +x "$RUN/ingest.sh"
er_of() { # er_of KPIS.JSON -> "visits/patients"
	jq -r '[(.kpis[] | select(.id == "er-visits") | .value), (.kpis[] | select(.id == "er-patients") | .value)] | map(tostring) | join("/")' "$1" 2>/dev/null || echo "?"
}

THREADS=(1)
probe=$RUN/probe
mkdir -p "$probe"
echo "{\"data_dir\": \"$probe/none\"}" >"$probe/config.json"
probe_out=$("$IZAGW" --config "$probe/config.json" ingest --threads 1 /dev/null 2>&1 || true)
if ! grep -q -i 'unrecognized option\|invalid option\|unknown option' <<<"$probe_out"; then
	THREADS=(1 2)
fi
say "izagw ingest --threads: $([ ${#THREADS[@]} -gt 1 ] && echo supported, runs with 1 and 2 || echo not supported, default only)"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
cat "${FILES[@]}" "$EX"/split/*/*/*.ndjson >/dev/null # page cache: every tool reads from memory

# 1. the read limit
timed cat sh -c 'cat "$@" "$@" "$@" >/dev/null' sh "${FILES[@]}"
row main cat "$((3 * BYTES))" "$((3 * LINES))" "-" "read limit (3 passes, page cache)"

# 2. izagw: ingest into a fresh store, then kpis
IZ_RESULT="?"
for t in "${THREADS[@]}"; do
	d=$RUN/gw-$t
	gw_init "$d"
	flags=()
	label="izagw ingest"
	if [ ${#THREADS[@]} -gt 1 ]; then
		flags=(--threads "$t")
		label="izagw ingest --threads $t"
	fi
	timed "ingest-$t" "$RUN/ingest.sh" "$IZAGW" "$d/config.json" "$HOSP_AGB" "$GP_AGB" "$EX" "${flags[@]}"
	if [ "$T_RC" -ne 0 ]; then
		failed main "$label" "FAILED (exit $T_RC, see $RUN/ingest-$t.err)"
		continue
	fi
	row main "$label" "$BYTES" "$LINES" "-" "store $(du -sm "$d/data" | cut -f1) MB"
	ingest_wall=$T_WALL
	ingest_rss=$T_RSS
	timed "kpis-$t" "$IZAGW" --config "$d/config.json" kpis --period "$PERIOD" --format json
	if [ "$T_RC" -ne 0 ]; then
		failed main "izagw kpis (after $t)" "FAILED (exit $T_RC)"
		continue
	fi
	res=$(er_of "$RUN/kpis-$t.out")
	[ "$IZ_RESULT" != "?" ] || IZ_RESULT=$res
	row main "izagw kpis --period $PERIOD" "-" "-" "$res" "from the store"
	T_WALL=$(awk -v a="$ingest_wall" -v b="$T_WALL" 'BEGIN { printf "%.3f", a + b }')
	if [ "$ingest_rss" -gt "$T_RSS" ]; then T_RSS=$ingest_rss; fi
	note="files to KPI"
	[ "$t" != "${THREADS[0]}" ] || note="reference for the ratios"
	row main "izagw ingest+kpis${flags[*]:+ (${flags[*]})}" "$BYTES" "$LINES" "$res" "$note"
	rm -rf "$d"
done

# 3. DuckDB
DUCK_RESULT="-"
if [ -z "$DUCKDB_SKIP" ]; then
	for t in 1 2; do
		timed "duckdb-$t" node "$BENCH/peers/duckdb_kpi.mjs" --export "$EX" --hospital-agb "$HOSP_AGB" --gp-agb "$GP_AGB" \
			--mappings "$ROOT/mappings" --region "$REGION" --period "$PERIOD" --threads "$t"
		if [ "$T_RC" -ne 0 ]; then
			failed main "DuckDB threads=$t" "FAILED (exit $T_RC, see $RUN/duckdb-$t.err)"
			continue
		fi
		DUCK_RESULT=$(jq -r '"\(.er_visits)/\(.er_patients)"' "$RUN/duckdb-$t.out")
		row main "DuckDB threads=$t" "$BYTES" "$LINES" "$DUCK_RESULT" "$(jq -r .duckdb "$RUN/duckdb-$t.out") read_ndjson"
	done
else
	failed main "DuckDB" "$DUCKDB_SKIP"
fi

# 3b. The baselines issue 2 states its target against ("jansson's per-line
# DOM parse alone does about 64 MB/s per core on this machine kind, DuckDB
# about 1,300 MB/s on 2 threads"), measured in the same run, so that the
# 250 MB/s target can be scaled to the machine at hand (see the report).
if [ -z "$DUCKDB_SKIP" ]; then
	for t in 1 2; do
		timed "duckscan-$t" node "$BENCH/peers/duckdb_kpi.mjs" --export "$EX" --hospital-agb "$HOSP_AGB" --gp-agb "$GP_AGB" \
			--mappings "$ROOT/mappings" --threads "$t" --scan-only 1
		if [ "$T_RC" -eq 0 ]; then
			row main "DuckDB scan threads=$t" "$BYTES" "$LINES" "-" "read_ndjson, count only: the issue's baseline"
		else
			failed main "DuckDB scan threads=$t" "FAILED (exit $T_RC, see $RUN/duckscan-$t.err)"
		fi
	done
fi
if cc -O2 -o "$RUN/jansson_lines" "$BENCH/peers/jansson_lines.c" $(pkg-config --cflags --libs jansson) 2>"$RUN/jansson-cc.err"; then
	timed jansson "$RUN/jansson_lines" "${FILES[@]}"
	if [ "$T_RC" -eq 0 ]; then
		row main "jansson per-line DOM (1 core)" "$BYTES" "$LINES" "-" "json_loadb per line, no extraction: the issue's baseline"
	else
		failed main "jansson per-line DOM (1 core)" "FAILED (exit $T_RC)"
	fi
else
	failed main "jansson per-line DOM (1 core)" "cannot compile peers/jansson_lines.c (see $RUN/jansson-cc.err)"
fi

# 4. jq: ER visits only, an approximation (no dedup, no residence)
timed jq jq -nR --arg p "$PERIOD" 'def inperiod: if ($p | test("Q")) then .[0:4] == $p[0:4]
		and ((.[5:7] | tonumber) + 2) / 3 == ($p[6:7] | tonumber) else startswith($p) end;
	reduce (inputs | fromjson?
	| select(.resourceType == "Encounter"
		and (.status | IN("finished", "in-progress", "arrived", "triaged", "onleave"))
		and ((.class.code | IN("EMER", "SEH")) or any(.classHistory[]?; .class.code | IN("EMER", "SEH")))
		and ((.period.start // "0000-00") | inperiod))) as $e (0; . + 1)' "${ENC_FILES[@]}"
if [ "$T_RC" -eq 0 ]; then
	row main "jq (approximation)" "$ENC_BYTES" "$ENC_LINES" "$(cat "$RUN/jq.out")/-" "Encounter files only; no dedup/residence"
else
	failed main "jq (approximation)" "FAILED (exit $T_RC)"
fi

# 5. Python json
timed python python3 "$BENCH/peers/py_kpi.py" --export "$EX" --hospital-agb "$HOSP_AGB" --gp-agb "$GP_AGB" \
	--mappings "$ROOT/mappings" --region "$REGION" --period "$PERIOD"
if [ "$T_RC" -eq 0 ]; then
	row main "Python json" "$BYTES" "$LINES" "$(jq -r '"\(.er_visits)/\(.er_patients)"' "$RUN/python.out")" "python $(jq -r .python "$RUN/python.out")"
else
	failed main "Python json" "FAILED (exit $T_RC)"
fi

# 6. incremental: 99 % already loaded, then the last 1 % arrives
d=$RUN/gw-inc
gw_init "$d"
timed inc-base "$RUN/ingest.sh" "$IZAGW" "$d/config.json" "$HOSP_AGB" "$GP_AGB" "$EX/split/base"
if [ "$T_RC" -eq 0 ]; then
	row inc "izagw ingest 99 % (setup)" "$((BYTES - DELTA_BYTES))" "$((LINES - DELTA_LINES))" "-" "not part of the comparison"
	timed inc-delta "$RUN/ingest.sh" "$IZAGW" "$d/config.json" "$HOSP_AGB" "$GP_AGB" "$EX/split/delta"
	delta_rc=$T_RC
	delta_wall=$T_WALL
	delta_rss=$T_RSS
	timed inc-kpis "$IZAGW" --config "$d/config.json" kpis --period "$PERIOD" --format json
	if [ "$delta_rc" -eq 0 ] && [ "$T_RC" -eq 0 ]; then
		kw=$T_WALL kr=$T_RSS
		T_WALL=$delta_wall T_RSS=$delta_rss
		row inc "izagw ingest 1 %" "$DELTA_BYTES" "$DELTA_LINES" "-" "into the 99 % store"
		T_WALL=$kw T_RSS=$kr
		row inc "izagw kpis --period $PERIOD" "-" "-" "$(er_of "$RUN/inc-kpis.out")" "from the store"
		T_WALL=$(awk -v a="$delta_wall" -v b="$T_WALL" 'BEGIN { printf "%.3f", a + b }')
		if [ "$delta_rss" -gt "$T_RSS" ]; then T_RSS=$delta_rss; fi
		row inc "izagw ingest 1 % + kpis" "$DELTA_BYTES" "$DELTA_LINES" "$(er_of "$RUN/inc-kpis.out")" "reference; default threads"
	else
		failed inc "izagw ingest 1 % + kpis" "FAILED (exit $delta_rc/$T_RC)"
	fi
else
	failed inc "izagw ingest 99 % (setup)" "FAILED (exit $T_RC)"
fi
rm -rf "$d"
if [ -z "$DUCKDB_SKIP" ]; then
	timed duckdb-inc node "$BENCH/peers/duckdb_kpi.mjs" --export "$EX" --hospital-agb "$HOSP_AGB" --gp-agb "$GP_AGB" \
		--mappings "$ROOT/mappings" --region "$REGION" --period "$PERIOD" --threads 2
	if [ "$T_RC" -eq 0 ]; then
		row inc "DuckDB threads=2, re-reads all" "$BYTES" "$LINES" "$(jq -r '"\(.er_visits)/\(.er_patients)"' "$RUN/duckdb-inc.out")" "has no store: reads 100 %"
	else
		failed inc "DuckDB threads=2, re-reads all" "FAILED (exit $T_RC)"
	fi
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
mkdir -p "$BENCH/out"
OUT=$BENCH/out/results-$(date +%F-%H%M)-$SCALE.txt
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no -- '*.c' '*.h' 2>/dev/null | wc -l)
{
	echo "IZA gateway bench, $(date '+%F %H:%M %Z'), scale $SCALE"
	echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr); load before $LOAD_BEFORE, after $LOAD_AFTER"
	echo "izagw: $IZAGW, built $(date -r "$IZAGW" '+%F %H:%M'); source tree now at git $rev$([ "$dirty" -gt 0 ] && echo ", $dirty C files modified")"
	echo "export: $EX ($PARAMS, $GEN_NOTE)"
	awk -v b="$BYTES" -v l="$LINES" -v eb="$ENC_BYTES" -v el="$ENC_LINES" -v db="$DELTA_BYTES" -v dl="$DELTA_LINES" 'BEGIN {
		printf "input: 4 files, %.1f MB, %d lines (Encounter: %.1f MB, %d lines); incremental delta: %.2f MB, %d lines\n",
			b / 1e6, l, eb / 1e6, el, db / 1e6, dl }'
	echo "period $PERIOD: truth.json er_visits/er_patients = $TRUTH"
	echo
	awk -F'\t' '
	function mbs(r) { return (r[3] > 0 && r[5] > 0) ? r[3] / 1e6 / r[5] : 0 }
	{ n++; for (i = 1; i <= 8; i++) c[n, i] = $i }
	$1 == "main" && $2 ~ /^izagw ingest\+kpis/ && !ref { ref = ($5 > 0) ? $3 / 1e6 / $5 : 0 }
	$1 == "inc" && $2 ~ /^izagw ingest 1 % \+ kpis/ { iref = $5 }
	$1 == "main" && $5 > 0 { rate[$2] = $3 / 1e6 / $5 }
	END {
		hdr = sprintf("%-34s %8s %9s %11s %8s %8s  %-15s %s", "tool", "wall s", "MB/s", "records/s", "RSS MB", "ratio", "ER visits/pat", "note")
		print "Full load (ratio = MB/s / izagw ingest+kpis MB/s; > 1 is faster than izagw)"
		print hdr
		for (i = 1; i <= n; i++) if (c[i, 1] == "main") line(i, 0)
		print ""
		print "Incremental: 1 % new lines after 99 % are loaded (ratio = wall / izagw wall; > 1 is slower than izagw)"
		print hdr
		for (i = 1; i <= n; i++) if (c[i, 1] == "inc") line(i, 1)
		# issue 2: ingest >= 250 MB/s on 2 cores, stated where jansson
		# parsed 64 MB/s per core and DuckDB scanned 1,300 MB/s on 2 threads
		ing = rate["izagw ingest --threads 2"]; if (!ing) ing = rate["izagw ingest --threads 1"]
		print ""
		print "Issue 2 target (ingest >= 250 MB/s where jansson per-line = 64 MB/s and DuckDB scan (2 threads) = 1,300 MB/s), scaled to this run:"
		if (rate["jansson per-line DOM (1 core)"])
			printf "  by jansson: %.1f MB/s here -> target %.0f MB/s; izagw ingest %.1f MB/s = %.2f of it\n",
				rate["jansson per-line DOM (1 core)"], 250 * rate["jansson per-line DOM (1 core)"] / 64, ing,
				ing / (250 * rate["jansson per-line DOM (1 core)"] / 64)
		if (rate["DuckDB scan threads=2"])
			printf "  by DuckDB scan: %.1f MB/s here -> target %.0f MB/s; izagw ingest %.1f MB/s = %.2f of it\n",
				rate["DuckDB scan threads=2"], 250 * rate["DuckDB scan threads=2"] / 1300, ing,
				ing / (250 * rate["DuckDB scan threads=2"] / 1300)
		printf "  unscaled: izagw ingest %.1f MB/s = %.2f of 250 MB/s\n", ing, ing / 250
	}
	function line(i, inc,    w, m, rs, rss, ratio) {
		w = c[i, 5]; rss = c[i, 6]
		if (w == "-" || w == "") { printf "%-34s %8s %9s %11s %8s %8s  %-15s %s\n", c[i, 2], "-", "-", "-", "-", "-", "-", c[i, 8]; return }
		m = (c[i, 3] > 0 && w > 0) ? sprintf("%.1f", c[i, 3] / 1e6 / w) : "-"
		rs = (c[i, 4] > 0 && w > 0) ? sprintf("%.0f", c[i, 4] / w) : "-"
		if (inc) ratio = (iref > 0 && c[i, 2] ~ /(\+ kpis|DuckDB)/) ? sprintf("%.2f", w / iref) : "-"
		else ratio = (ref > 0 && m != "-") ? sprintf("%.2f", m / ref) : "-"
		printf "%-34s %8.3f %9s %11s %8.1f %8s  %-15s %s\n", c[i, 2], w, m, rs, rss / 1024, ratio, c[i, 7], c[i, 8]
	}' "$ROWS"
	echo
	check="izagw $IZ_RESULT, DuckDB $DUCK_RESULT, truth.json $TRUTH"
	if [ "$IZ_RESULT" = "$TRUTH" ] && { [ -n "$DUCKDB_SKIP" ] || [ "$DUCK_RESULT" = "$IZ_RESULT" ]; }; then
		echo "check: ER visits/patients agree ($check)"
	else
		echo "check: MISMATCH ($check)"
	fi
	[ -z "$DUCKDB_SKIP" ] || echo "note: $DUCKDB_SKIP"
	echo "noisy shared 2-core machine: compare ratios, not absolute seconds (bench/README.md)"
} | tee "$OUT"
say "written to $OUT (logs in $RUN)"
