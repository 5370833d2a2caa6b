#!/bin/bash
# The core pipeline against a real mosquitto: every record made arrives (by
# seq); a broker restart mid-run loses nothing; a one-hour trace replayed
# fast gives 3600 records stamped with the log's times.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
MOSQ_PERSIST=("persistence true" "persistence_location $T/" "autosave_interval 1")
start_mosquitto "$PORT" "${MOSQ_PERSIST[@]}"
sed -i 's/^persistence false$//' "$T/mosquitto-$PORT.conf"

start_sub "$PORT" 'emgw/+/#' "$T/got"

conf() { # conf LOG SPEED
	cat <<EOC
[device]
id = test-01
state_dir = $T/state
[can "engine"]
log = $1
speed = $2
[mqtt]
host = 127.0.0.1
port = $PORT
backlog_rate = ${3:-200}
[sample]
period = 1
EOC
}

# 1. One hour replayed as fast as possible.
"$TOP/$B/tests/tracegen" --duration 3600 --start 1700000000 --seed 7 -o "$T/hour.log"
# backlog_rate 0 (no limit): rows made before the first connect must not be
# left behind when the backlog is called done.
conf "$T/hour.log" 0 0 >"$T/hour.conf"
"$EMGWD" -c "$T/hour.conf" --stdout --exit-when-done >"$T/hour.out" 2>"$T/hour.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 120 "$EPID"
check "emgwd exits 0 after the replay is sent (rc=$rc)" test "$rc" -eq 0
nrec=$(grep -c '"sig"' "$T/hour.out")
check "one hour gives 3600 records (got $nrec)" test "$nrec" -eq 3600
first=$(grep '"sig"' "$T/hour.out" | head -1 | sed 's/.*"ts":"\([^"]*\)".*/\1/')
last=$(grep '"sig"' "$T/hour.out" | tail -1 | sed 's/.*"ts":"\([^"]*\)".*/\1/')
check "records carry the log's times ($first .. $last)" \
	test "$first" = "2023-11-14T22:13:21.000Z" -a "$last" = "2023-11-14T23:13:20.000Z"
check "ts_src is replay" sh -c "! grep '\"sig\"' '$T/hour.out' | grep -vq '\"ts_src\":\"replay\"'"
wait_for 20 seq_arrival "$T/hour.out" "$T/got"
check "every record made arrived at the broker (missing: $MISSING)" test "$MISSING" -eq 0

# 2. The broker stops and restarts while emgw sends.
: >"$T/got"
"$TOP/$B/tests/tracegen" --duration 600 --start 1700100000 --seed 3 -o "$T/ten.log"
conf "$T/ten.log" 60 >"$T/ten.conf"
rm -rf "$T/state"
"$EMGWD" -c "$T/ten.conf" --stdout --exit-when-done >"$T/ten.out" 2>"$T/ten.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_for 20 sh -c "test \$(grep -c telemetry '$T/got') -ge 60"
stop_pid "$MOSQ_PID"
sleep 3 # the outage itself: records pile up in the store meanwhile
spawn "$T/mosquitto-2.log" mosquitto -c "$T/mosquitto-$PORT.conf"
MOSQ_PID=$!
wait_exit 60 "$EPID"
check "emgwd survives the broker restart and exits 0 (rc=$rc)" test "$rc" -eq 0
check "emgwd logged the loss and the reconnect" grep -q 'mqtt: connected' "$T/ten.err"
wait_for 20 seq_arrival "$T/ten.out" "$T/got"
check "600 records, broker restarted: none missing (made $MADE_N, missing $MISSING)" \
	test "$MISSING" -eq 0 -a "$MADE_N" -ge 600
finish
