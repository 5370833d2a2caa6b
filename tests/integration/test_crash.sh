#!/bin/bash
# kill -9 while emgwd writes and sends: after restarts, nothing committed is
# lost (every row printed by --stdout, which prints only committed rows,
# reaches the broker), unsent rows go out, and no seq is ever reused.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT"
start_sub "$PORT" 'emgw/+/#' "$T/got"

"$TOP/$B/tests/tracegen" --duration 1200 --seed 5 --smoke-at 100,600 -o "$T/trace.log"
cat >"$T/emgw.conf" <<EOC
[device]
id = crash-01
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 100
[mqtt]
host = 127.0.0.1
port = $PORT
# Kills come 0.1-0.9 s after the start: rows must be committed well inside
# that.  test_powercut.sh kills at the default interval (5 s).
[store]
commit_interval = 0.2
EOC

# 50 cycles take about 40 s here; CRASH_CYCLES=N for more or fewer.
CYCLES=${CRASH_CYCLES:-50}
early=0
for i in $(seq "$CYCLES"); do
	"$EMGWD" -c "$T/emgw.conf" --stdout >"$T/run-$i.out" 2>"$T/run-$i.err" &
	EPID=$!
	# a random moment while it replays, writes and sends
	sleep "0.$((RANDOM % 9 + 1))"
	if ! kill -9 "$EPID" 2>/dev/null; then
		early=$((early + 1)); echo "# run $i ended before the kill:"; sed 's/^/#   /' "$T/run-$i.err"
	fi
	wait "$EPID" 2>/dev/null
done
check "every run was still running when killed ($early ended early)" test "$early" -eq 0
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/final.out" 2>"$T/final.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 120 "$EPID"
check "last run exits 0 with the store drained (rc=$rc)" test "$rc" -eq 0

cat "$T"/run-*.out "$T/final.out" >"$T/all.out"
grep -o '"boot":[0-9]*,"seq":[0-9]*' "$T/all.out" | sort >"$T/made"
check "$CYCLES crashes: rows were made in each boot" test "$(cut -d, -f1 "$T/made" | sort -u | wc -l)" -ge "$((CYCLES / 2))"
dups=$(cut -d, -f2 "$T/made" | sort | uniq -d | wc -l)
check "no seq reused across boots ($(wc -l <"$T/made") rows, $dups reused)" test "$dups" -eq 0
wait_for 10 seq_arrival "$T/all.out" "$T/got" boot
check "every committed row reached the broker (missing $MISSING)" test "$MISSING" -eq 0
finish
