#!/bin/sh
# make fuzz: runs every libFuzzer target for N seconds (default 60) on a
# working copy of its seed corpus. Findings are left in BUILD/fuzz-findings.
set -eu
build=$1
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for t in fnr codes proto freg; do
	work="$build/fuzz-corpus/$t"
	mkdir -p "$work" "$build/fuzz-findings"
	cp -n "$here/corpus/$t/"* "$work/" 2>/dev/null || true
	echo "== fuzz_$t: $secs s"
	if ! "$build/tests/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-findings/$t-" "$work" 2>"$build/fuzz_$t.log"; then
		echo "fuzz_$t found a problem; see $build/fuzz_$t.log and $build/fuzz-findings/"
		status=1
	fi
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz_$t.log" || true
done
exit $status
