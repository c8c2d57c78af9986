#!/usr/bin/env bash
# Install, build and run every test: the normal build with -Werror, then the
# same suite under AddressSanitizer + UndefinedBehaviorSanitizer, then the
# source checks (formatting, banned functions).
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc)

scripts/setup.sh build -DIZA_WERROR=ON
(cd build && ctest --output-on-failure -j"$jobs")

scripts/setup.sh build-asan -DIZA_WERROR=ON -DIZA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -j"$jobs")

scripts/check-source.sh
