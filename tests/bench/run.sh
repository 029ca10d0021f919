#!/bin/sh
# make bench: runs every benchmark and prints one table. Figures, not verdicts.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
export JSR_CODES_DIR="$here/../../schema/codes" JSR_TEST_MODE=1 JSR_BIN="$build/bin"
printf '%-56s | %12s | %s\n' "benchmark" "value" "unit"
printf '%-56s-+-%12s-+-%s\n' "--------------------------------------------------------" "------------" "-----"
for b in "$build"/tests/bench_*; do
	[ -x "$b" ] || continue
	"$b" | while IFS='|' read -r name value unit; do
		printf '%-56s | %12s | %s\n' "$(echo $name)" "$(echo $value)" "$(echo $unit)"
	done
done
for b in "$here"/bench_*.py; do
	python3 "$b" | while IFS='|' read -r name value unit; do
		printf '%-56s | %12s | %s\n' "$(echo $name)" "$(echo $value)" "$(echo $unit)"
	done
done
