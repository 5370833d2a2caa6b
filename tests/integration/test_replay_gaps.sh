#!/bin/bash
# Replayed logs whose time is not smooth: a forward gap is a `gap` event, not
# a record a period across it; the replay stays stoppable however long the
# log's time runs; a step back in the log's time is a `clock` event and the
# records go on; a line longer than any CAN log line is one bad line and no
# part of it replays.
source "$TOP/tests/integration/lib.sh"

# gen FILE SPEC...: EEC1 frames every 100 ms; SPEC is start:end[:seconds
# offset] in seconds of log time from 1700000000.
gen() {
	/usr/bin/python3 - "$@" <<'PY'
import sys
out = open(sys.argv[1], "w")
for spec in sys.argv[2:]:
    a, b = (float(x) for x in spec.split(":"))
    n = int(round((b - a) * 10))
    for i in range(n):
        out.write("(%.6f) can0 0CF00400#207D87481400F087\n" % (1700000000 + a + i * 0.1))
PY
}

conf() { # conf NAME LOG [extra can lines]
	local name=$1 log=$2; shift 2
	{
		echo "[device]"
		echo "id = gaps-$name"
		echo "state_dir = $T/$name.state"
		echo "[can \"engine\"]"
		echo "log = $log"
		echo "speed = 0"
		for l in "$@"; do echo "$l"; done
		# retention runs on the log's time: keep what is before the gap
		echo "[store]"
		echo "retention_days = 3650"
		echo "[mqtt]"
		echo "enabled = no"
	} >"$T/$name.conf"
}

# 1. Two seconds of frames, 10^8 s of nothing, two seconds of frames.
gen "$T/gap.log" 0:2 100000000:100000002
conf gap "$T/gap.log"
timeout -s KILL 20 "$EMGWD" -c "$T/gap.conf" --stdout --exit-when-done >"$T/gap.out" 2>"$T/gap.err"
rc=$?
check "a 10^8 s gap: the replay ends by itself, fast (rc=$rc)" test "$rc" -eq 0
n=$(grep -c '"sig"' "$T/gap.out")
check "a 10^8 s gap: a handful of records, no catch-up (got $n)" test "$n" -ge 3 -a "$n" -le 8
n=$(grep -c '"type":"gap"' "$T/gap.out")
check "a 10^8 s gap: one gap event (got $n)" test "$n" -eq 1
check "the gap event says from where to where and how long" \
	grep -q '"type":"gap","from":"2023-11-14T22:13:21.900Z","to":"2027-01-15T08:00:00.000Z","gap_s":99999998.1' "$T/gap.out"

# 2. SIGTERM while a long replay runs (the gapped log, looping for ever).
conf term "$T/gap.log" "loop = yes"
spawn "$T/term.err" sh -c "exec '$EMGWD' -c '$T/term.conf' --stdout >'$T/term.out'"
pid=$!
check "a looping gapped replay runs (its gap events appear)" wait_for 10 grep -q '"type":"gap"' "$T/term.out"
kill -TERM "$pid"
check "SIGTERM during the replay: emgwd exits within 5 s" wait_for 5 sh -c "! kill -0 $pid"
check "... with a clean stop" grep -q 'Terminated: stopping' "$T/term.err"

# 3. Twenty seconds, then the log's time steps back ten seconds and runs
#    twenty more: forty seconds of the engine, forty records.
gen "$T/back.log" 0:20 10:30
conf back "$T/back.log"
timeout -s KILL 20 "$EMGWD" -c "$T/back.conf" --stdout --exit-when-done >"$T/back.out" 2>"$T/back.err"
n=$(grep -c '"sig"' "$T/back.out")
check "a step back of 10 s: the records go on (40 expected, got $n)" test "$n" -ge 39 -a "$n" -le 41
check "a step back of 10 s: one clock event, clock replay, jump_s -9.9" \
	sh -c "test \$(grep -c '\"type\":\"clock\"' '$T/back.out') -eq 1 && grep -q '\"type\":\"clock\",\"from\":\"2023-11-14T22:13:39.900Z\",\"to\":\"2023-11-14T22:13:30.000Z\",\"jump_s\":-9.9,\"clock\":\"replay\"' '$T/back.out'"
n=$(grep -c '"type":"gap"' "$T/back.out")
check "a step back is no gap (got $n gap events)" test "$n" -eq 0

# 4. A 5000-character line whose tail, cut at any 1023 bytes, would be an ET1
#    frame (coolant 2 C): one bad line, and no coolant in any record.
gen "$T/long.head" 0:5
gen "$T/long.tail" 5.05:10
/usr/bin/python3 - "$T/long.mid" <<'PY'
import sys
frame = "(1700000005.000000) can0 18FEEE00#2AFFFFFFFFFFFFFF"
line = "X" * 4092 + frame
open(sys.argv[1], "w").write(line + " " * (5000 - len(line)) + "\n")
PY
cat "$T/long.head" "$T/long.mid" "$T/long.tail" >"$T/long.log"
conf long "$T/long.log"
timeout -s KILL 20 "$EMGWD" -c "$T/long.conf" --stdout --exit-when-done >"$T/long.out" 2>"$T/long.err"
n=$(grep -c '"coolant_c"' "$T/long.out")
check "a 5000-char line: nothing of it replays (records with coolant: $n)" test "$n" -eq 0
check "a 5000-char line: counted as one bad line" /usr/bin/python3 -c "
import json, sys
s = json.load(open('$T/long.state/status.json'))
sys.exit(0 if s['sources']['engine']['bad'] == 1 else 1)"
check "the long line is reported with its number" grep -q "long.log:51: line too long" "$T/long.err"
"$EMGWD" --decode "$T/long.log" >"$T/long.dec" 2>"$T/long.decerr"
check "--decode counts it bad the same way" grep -q ", 1 bad lines" "$T/long.decerr"
check "--decode prints no coolant from it" sh -c "! grep -q coolant '$T/long.dec'"
finish
