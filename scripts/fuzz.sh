#!/usr/bin/env bash
# Run every libFuzzer harness (tests/fuzz/fuzz_*.c) for a bounded time
# under AddressSanitizer + UndefinedBehaviorSanitizer, each on a scratch
# copy of its committed corpus, so a CI run explores and the repository's
# corpus only changes when someone adds an input on purpose.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]   # default 20 s each, all
#
# Needs clang with libFuzzer (Debian: clang); builds build-fuzz/ with
# -DIZA_FUZZ=ON. A crash, leak, timeout or sanitizer report fails the run:
# the input that triggered it is kept in build-fuzz/findings/ and printed,
# to be fixed and then added to tests/fuzz/corpus/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
command -v clang >/dev/null || { echo "fuzz: clang missing (scripts/setup.sh installs it)" >&2; exit 1; }

CC=clang cmake -S . -B build-fuzz -DIZA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		n=$(basename "$f" .c)
		[ -d "tests/fuzz/corpus/${n#fuzz_}" ] && harnesses+=("$n")
	done
fi
cmake --build build-fuzz -j"$(nproc)" --target "${harnesses[@]}" >/dev/null

mkdir -p build-fuzz/findings
failed=0
for h in "${harnesses[@]}"; do
	short=${h#fuzz_}
	scratch=$(mktemp -d)
	cp -r "tests/fuzz/corpus/$short/." "$scratch/"
	log="build-fuzz/findings/$h.log"
	# -timeout: one input may take 10 s; -rss_limit_mb: the gateway's
	# memory cap with room for the sanitizers
	if build-fuzz/tests/fuzz/"$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="build-fuzz/findings/$h-" -print_final_stats=1 "$scratch" >"$log" 2>&1; then
		runs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log")
		echo "fuzz: $h: ${runs:-?} runs in ${secs} s, no findings"
	else
		echo "fuzz: $h: FAILED (log: $log)" >&2
		tail -30 "$log" >&2
		ls build-fuzz/findings/"$h"-* 2>/dev/null >&2 || true
		failed=$((failed + 1))
	fi
	rm -rf "$scratch"
done
[ "$failed" -eq 0 ] || { echo "fuzz: $failed harness(es) found something" >&2; exit 1; }
