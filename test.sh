#!/usr/bin/env bash
# Install, build and run every test: the normal build with -Werror, then the
# same suite under AddressSanitizer + UndefinedBehaviorSanitizer, then every
# libFuzzer harness for a bounded time (scripts/fuzz.sh, clang, ASan+UBSan),
# then the unit tests and the programs once under valgrind for leaks
# (scripts/valgrind.sh), then the source checks (formatting, banned
# functions).  IZA_TEST_FUZZ_SECONDS (15) is the time per harness; 0 skips
# fuzzing, and IZA_TEST_NO_VALGRIND skips valgrind.  izamon's store tests run
# over SQLite and over PostgreSQL: a throwaway server on 127.0.0.1
# (scripts/pg-test-server.sh) runs from after the build until the end,
# IZA_TEST_PG_URL names it.
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc)

scripts/setup.sh build -DIZA_WERROR=ON

pgdir=$(mktemp -d /tmp/iza-pg-XXXXXX)
trap 'scripts/pg-test-server.sh stop "$pgdir"' EXIT
trap 'exit 130' INT TERM
IZA_TEST_PG_URL=$(scripts/pg-test-server.sh start "$pgdir")
export IZA_TEST_PG_URL
echo "test.sh: PostgreSQL test server at $IZA_TEST_PG_URL"
(cd build && ctest --output-on-failure -j"$jobs")

scripts/setup.sh build-asan -DIZA_WERROR=ON -DIZA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -j"$jobs")

fuzz_seconds=${IZA_TEST_FUZZ_SECONDS:-15}
[ "$fuzz_seconds" -gt 0 ] && scripts/fuzz.sh "$fuzz_seconds"
[ -n "${IZA_TEST_NO_VALGRIND:-}" ] || scripts/valgrind.sh build

scripts/check-source.sh
