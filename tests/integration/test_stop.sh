#!/bin/bash
# Nothing committed is left behind at a stop (issue 16, item 5): a smoke
# episode still open when the replay ends is closed by the stop, and that
# `end` (and the last seal) reach the broker before emgwd exits:
# 1. --exit-when-done exits only with the store empty;
# 2. SIGTERM in the middle of an episode: the uplink gets a bounded time to
#    send the end, then emgwd exits.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT"
start_sub "$PORT" 'emgw/+/event' "$T/got" stop-sub
"$TOP/$B/tests/enginesim" --machine excavator --duration 120 --seed 3 --smoke-at 90 --smoke-len 60 -o "$T/open.log"
conf() { # conf ID SPEED
	cat <<EOC
[device]
id = $1
vin = LZZ1EXCA7PN654321
stage = 4
rated_power_kw = 110
state_dir = $T/state-$1
[can "engine"]
log = $T/open.log
speed = $2
[store]
commit_interval = 0.2
[mqtt]
host = 127.0.0.1
port = $PORT
EOC
}

# ---- 1. the replay's end ------------------------------------------------------
conf st-1 0 >"$T/1.conf"
timeout 60 "$EMGWD" -c "$T/1.conf" --stdout --exit-when-done >"$T/1.out" 2>"$T/1.err"
rc=$?
check "emgwd exits 0 (rc=$rc)" test "$rc" -eq 0
check "the replay ended inside a smoke episode: the stop closed it" grep -q '"type":"smoke","state":"end"' "$T/1.out"
# Nothing left to send: rows every uplink has stay, as sent ([store] keep_sent).
unsent="select count(*) from rows where acked != -1 and seq > coalesce((select value from meta where key = 'sent_upto'), 0)"
check "the store is empty at exit" test "$(sqlite3 "$T/state-st-1/emgw.db" "$unsent")" -eq 0
wait_for 10 grep -q '^emgw/st-1/event.*"type":"smoke","state":"end"' "$T/got"
check "the smoke end reached the broker" grep -q '^emgw/st-1/event.*"type":"smoke","state":"end"' "$T/got"

# ---- 2. SIGTERM inside an episode ---------------------------------------------------
conf st-2 10 >"$T/2.conf"
spawn "$T/2.err" "$EMGWD" -c "$T/2.conf"
EPID=$!
wait_for 60 grep -q '^emgw/st-2/event.*"type":"smoke","state":"start"' "$T/got" ||
	echo "# no smoke start seen"
kill -TERM "$EPID"
wait_exit 10 "$EPID"
check "emgwd stops on SIGTERM within the drain time (rc=$rc)" test "$rc" -eq 0
wait_for 10 grep -q '^emgw/st-2/event.*"type":"smoke","state":"end"' "$T/got"
check "the smoke end made at the stop reached the broker" grep -q '^emgw/st-2/event.*"type":"smoke","state":"end"' "$T/got"
check "the store is empty after the stop" test "$(sqlite3 "$T/state-st-2/emgw.db" "$unsent")" -eq 0
finish
