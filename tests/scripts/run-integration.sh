#!/bin/bash
# Runs tests/integration/test_*.sh (or the ones named after the build dir)
# with B (the build dir) in the environment, JOBS at a time (default: twice
# the cores + 1; most scripts wait on servers and replays, not on the CPU:
# 3m13s for 37 scripts on 2 cores, ~5 min at cores + 1).  Each
# script has its own temp dir and free ports and prints its own checks; its
# log goes to $B/NAME.log.  Results are printed in name order as they come:
# name, ok/FAILED, seconds, the check lines, the log's tail on failure.
# The longest scripts of the last run start first ($B/integration.times); a
# script still running after TEST_TIMEOUT seconds (600) is stopped and fails.
# None needs to run alone: two gpsd scripts at once share gpsd's
# shared-memory segment, which emgwd does not read (it talks to gpsd over
# TCP), so one script removing it harms the other's gpsd in nothing.
set -u
B=${1:-build}
shift $(($# > 0 ? 1 : 0))
JOBS=${JOBS:-$((2 * $(nproc) + 1))}
TIMEOUT=${TEST_TIMEOUT:-600} # seconds a script may take
export B EMGWD="$PWD/$B/emgwd" TOP="$PWD"
TIMES=$B/integration.times

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for t in tests/integration/test_*.sh; do names+=("$(basename "$t" .sh)"); done
fi
# Start order: longest last time first; scripts never timed first of all.
mapfile -t pending < <(for n in "${names[@]}"; do
	s=$(awk -v n="$n" '$1 == n { print $2 }' "$TIMES" 2>/dev/null)
	echo "${s:-9999} $n"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2)

declare -A job_of=() started=() rc_of=() secs_of=()
trap 'kill "${!job_of[@]}" 2>/dev/null; exit 130' INT TERM

report() { # report NAME: its line, its checks, the tail of its log on failure
	local name=$1 res=ok
	[ "${rc_of[$name]}" -eq 0 ] || res=FAILED
	printf '%-28s %-6s %3ss\n' "$name" "$res" "${secs_of[$name]}"
	grep -E '^(ok|not ok|skip)' "$B/$name.log" | sed 's/^/    /'
	[ "$res" = ok ] || tail -n 40 "$B/$name.log" | sed 's/^/    | /'
	[ "${rc_of[$name]}" -ne 124 ] || echo "    timed out after $TIMEOUT s (TEST_TIMEOUT)"
}

next=0
while [ ${#pending[@]} -gt 0 ] || [ ${#job_of[@]} -gt 0 ]; do
	while [ ${#pending[@]} -gt 0 ] && [ ${#job_of[@]} -lt "$JOBS" ]; do
		name=${pending[0]}
		pending=("${pending[@]:1}")
		timeout -k 10 "$TIMEOUT" bash "tests/integration/$name.sh" >"$B/$name.log" 2>&1 &
		job_of[$!]=$name
		started[$name]=$(date +%s)
	done
	wait -n -p pid
	rc=$?
	name=${job_of[$pid]}
	unset "job_of[$pid]"
	rc_of[$name]=$rc
	secs_of[$name]=$(($(date +%s) - started[$name]))
	while [ "$next" -lt ${#names[@]} ] && [ -n "${rc_of[${names[$next]}]:-}" ]; do
		report "${names[$next]}"
		next=$((next + 1))
	done
done

pass=0 fail=0
for name in "${names[@]}"; do
	if [ "${rc_of[$name]}" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
{
	cat "$TIMES" 2>/dev/null
	for name in "${names[@]}"; do echo "$name ${secs_of[$name]}"; done
} | awk '{ s[$1] = $2 } END { for (n in s) print n, s[n] }' | sort >"$TIMES.new" && mv "$TIMES.new" "$TIMES"
echo "integration: $pass passed, $fail failed ($JOBS at a time)"
[ "$fail" -eq 0 ]
