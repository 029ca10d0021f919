#!/bin/sh
# make bench: runs every benchmark and prints one table. Figures, not verdicts;
# but a benchmark that fails is named at the end, and make bench fails with it.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
export JSR_CODES_DIR="$here/../../schema/codes" JSR_TEST_MODE=1 JSR_BIN="$build/bin"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=""

# bench NAME COMMAND...: runs the command and prints its "name | value | unit" lines as rows
bench() {
	name=$1
	shift
	if ! "$@" > "$out"; then
		failed="$failed $name"
	fi
	while IFS='|' read -r name value unit; do
		printf '%-56s | %12s | %s\n' "$(echo $name)" "$(echo $value)" "$(echo $unit)"
	done < "$out"
}

printf '%-56s | %12s | %s\n' "benchmark" "value" "unit"
printf '%-56s-+-%12s-+-%s\n' "--------------------------------------------------------" "------------" "-----"
for b in "$build"/tests/bench_*; do
	[ -x "$b" ] || continue
	bench "$(basename "$b")" "$b"
done
for b in "$here"/bench_*.py; do
	bench "$(basename "$b")" python3 "$b"
done
if [ -n "$failed" ]; then
	echo "make bench: these benchmarks failed (their rows are missing or partial):$failed" >&2
	exit 1
fi
