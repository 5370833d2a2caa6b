#!/bin/bash
# Outage: emgwd replays a trace fast while the broker is down for the
# equivalent of more than 10 minutes of 1 Hz data; once it is back, every
# record arrives (batched, compressed), and a record that arrives twice is
# the same record (same dev+boot+seq, same payload).
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT" "persistence true" "persistence_location $T/" "autosave_interval 1"
sed -i 's/^persistence false$//' "$T/mosquitto-$PORT.conf"
start_sub "$PORT" 'emgw/+/#' "$T/got" outage-sub

"$TOP/$B/tests/tracegen" --duration 1800 --start 1700200000 --seed 9 --smoke-at 200,900 -o "$T/trace.log"
cat >"$T/emgw.conf" <<EOC
[device]
id = outage-01
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 60
[mqtt]
host = 127.0.0.1
port = $PORT
batch_max = 10
batch_age = 0.5
compress = yes
backlog_rate = 400
inflight = 16
reconnect_max = 1
EOC
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/emgw.out" 2>"$T/emgw.err" &
EPID=$!; PIDS="$PIDS $EPID"
nrec() { grep -c '"sig"' "$T/emgw.out"; }
wait_for 30 sh -c "test \$(grep -c telemetry '$T/got') -ge 10"
stop_pid "$MOSQ_PID"
at_stop=$(nrec)
# The outage: at least 650 records (10 min 50 s at 1 Hz) made meanwhile.
wait_for 60 sh -c "test \$(grep -c '\"sig\"' '$T/emgw.out') -ge $((at_stop + 650))"
during=$(( $(nrec) - at_stop ))
check "the broker was down while $during records were made (>= 600)" test "$during" -ge 600
spawn "$T/mosquitto-2.log" mosquitto -c "$T/mosquitto-$PORT.conf"
MOSQ_PID=$!
wait_exit 90 "$EPID"
check "emgwd drains the store and exits 0 (rc=$rc)" test "$rc" -eq 0
check "emgwd logged the loss and the reconnect" grep -q 'mqtt: connected' "$T/emgw.err"
check "telemetry went compressed on .../telemetry/z" grep -q '^emgw/outage-01/telemetry/z' "$T/got"
check "records went in batches" grep -q '"records":\[' "$T/got"
wait_for 20 records_arrived "$T/emgw.out" "$T/got"
echo "# $(records_arrived "$T/emgw.out" "$T/got")"
check "every record and event made arrived; duplicates identical" records_arrived "$T/emgw.out" "$T/got"
finish
