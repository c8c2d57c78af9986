#!/usr/bin/env bash
# Source checks run by test.sh and CI: clang-format conformance and the ban
# on unsafe string functions.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h')
status=0

banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|sscanf|gets)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "check-source: banned function used (see docs/CODE_STYLE.md)" >&2
	status=1
fi

if command -v clang-format >/dev/null; then
	bad=$(for f in $files; do clang-format --dry-run "$f" 2>&1 | grep -q . && echo "$f"; done || true)
	if [ -n "$bad" ]; then
		echo "check-source: not clang-formatted (run clang-format -i):" >&2
		echo "$bad" >&2
		status=1
	fi
fi
[ $status -eq 0 ] && echo "check-source: ok"
exit $status
