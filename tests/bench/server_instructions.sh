#!/bin/bash
# server_instructions.sh BUILD PART [PARTICIPANTS]: the instructions jsr-server
# (and, with CLIENT=1, bench_sync's client as well) executes during one part
# of bench_sync (push, pull or edits), counted by valgrind's callgrind. Unlike wall or CPU time on a shared VM (±20 % from
# run to run), the count is the same from run to run within a fraction of a
# per cent, so two builds can be compared by one run each. PARTICIPANTS
# (default 1000) is bench_sync's BENCH_P: callgrind runs the server about
# 50 times slower. Prints the totals and the heaviest functions. The
# Folkeregister lookups the server works through in the background fall
# into the push's window by timing: compare the part's own functions (for
# the push: ss_merge_changes, sh_wire_changes_decode, sh_box_open,
# sh_msg_parse), not its totals. KEEP=1 keeps the counts' files.
# Needs valgrind (not installed by `make`: apt-get install valgrind).
set -euo pipefail
build=$(realpath "${1:?build directory}")
part=${2:?push, pull or edits}
n=${3:-1000}
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v valgrind >/dev/null || { echo "server_instructions: valgrind is not installed" >&2; exit 2; }

work=$(mktemp -d /tmp/jsr-instr-XXXXXX)
trap 'kill "${reader:-0}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir "$work/bin"
for f in "$build"/bin/*; do ln -s "$f" "$work/bin/"; done
rm "$work/bin/jsr-server"
# the server under callgrind, counting nothing until told to
cat > "$work/bin/jsr-server" <<EOF
#!/bin/sh
if [ "\$1" = run ]; then
	exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$work/cg.%p.out "$build/bin/jsr-server" "\$@"
fi
exec "$build/bin/jsr-server" "\$@"
EOF
chmod +x "$work/bin/jsr-server"

# bench_sync writes enable/disable around the part (bench_perf in bench_util.h)
mkfifo "$work/ctl"
(
	while true; do
		if read -r line < "$work/ctl"; then
			# the server is killed at the end, so its counts are dumped now;
			# the client's are written when it exits
			for pid in $(pgrep -f "callgrind-out-file=$work"); do
				case $line in
				enable) callgrind_control -i on "$pid" >/dev/null 2>&1 ;;
				disable)
					if pgrep -f "callgrind-out-file=$work/cg" | grep -qx "$pid"; then
						callgrind_control -d "$part" "$pid" >/dev/null 2>&1
					fi
					callgrind_control -i off "$pid" >/dev/null 2>&1
					;;
				esac
			done
		fi
	done
) &
reader=$!

client=()
[ "${CLIENT:-0}" = 1 ] && client=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$work/client.cg.%p.out")
BENCH_P=$n BENCH_PERF_CTL="$work/ctl" BENCH_PERF_PART="$part" JSR_CODES_DIR="$src/schema/codes" \
	JSR_TEST_MODE=1 ${client[@]+"${client[@]}"} "$build/tests/bench_sync" "$work/bin" > "$work/bench.txt" 2>&1 ||
	{ cat "$work/bench.txt" >&2; exit 1; }
show() { # OUT-FILE BINARY
	echo "$2, part $part, $n participants ($build), with what they call:"
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		grep -E "PROGRAM TOTALS|\[$2\]" | grep -v "???" | head -25 || true
	echo "... and in themselves (libraries too):"
	callgrind_annotate "$1" 2>/dev/null | grep -E "^ *[0-9,]+ \(" | grep -v "PROGRAM TOTALS" | head -20 || true
}
out=$(ls "$work"/cg.*.out.* 2>/dev/null | head -1)
[ -n "$out" ] || { echo "server_instructions: no counts were dumped" >&2; exit 1; }
show "$out" "$build/bin/jsr-server"
if [ "${CLIENT:-0}" = 1 ]; then
	out=$(ls "$work"/client.cg.*.out 2>/dev/null | head -1)
	[ -n "$out" ] || { echo "server_instructions: the client's counts were not written" >&2; exit 1; }
	show "$out" "$build/tests/bench_sync"
fi
