#!/bin/bash
# emgwd --status: while the daemon runs (uplink down: the broker port has no
# listener) it says "running" and shows the CAN source, the store rows and
# the uplink as not connected (exit 0); after the daemon stops it says NOT
# running (exit 1); with no status file at all it exits 2.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port) # nothing listens there
"$TOP/$B/tests/tracegen" --duration 60 -o "$T/t.log"
conf() { # conf STATE_DIR
	cat <<EOC
[device]
id = status-01
state_dir = $1
[can "engine"]
log = $T/t.log
speed = 1
[mqtt]
host = 127.0.0.1
port = $PORT
EOC
}
conf "$T/state" >"$T/emgw.conf"
conf "$T/nothing" >"$T/empty.conf"

# status OUT [CONF]: run emgwd --status, keep stdout+stderr and the exit status
status() {
	"$EMGWD" --status -c "${2:-$T/emgw.conf}" >"$1" 2>&1
	echo $? >"$1.rc"
}
rc_is() { [ "$(cat "$1.rc")" -eq "$2" ]; }
has() { grep -qE -- "$2" "$1"; }
# The store has rows: records pile up while the uplink is down.
has_rows() { status "$T/poll.out" && grep -qE '^ +rows +[1-9][0-9]* *$' "$T/poll.out"; }

spawn "$T/emgwd.log" "$EMGWD" -c "$T/emgw.conf"
EPID=$!
check "the status file appears at start" wait_for 10 test -s "$T/state/status.json"
# Written every 5 s: the second one has the first records.
check "a later status shows store rows" wait_for 20 has_rows

status "$T/run.out"
check "running: exit 0" rc_is "$T/run.out" 0
check "running: says running" has "$T/run.out" "^emgwd running \\($T/state/status.json\\)$"
check "running: state online" has "$T/run.out" '^ +state +"online"$'
check "running: this daemon's pid" has "$T/run.out" "^ +pid +$EPID$"
check "running: the CAN source, up" \
	sh -c "grep -A3 -E '^ +engine:$' '$T/run.out' | grep -qE '^ +type +\"can\"$' &&
	       grep -A3 -E '^ +engine:$' '$T/run.out' | grep -qE '^ +state +\"up\"$'"
check "running: frames counted" has "$T/run.out" '^ +frames +[1-9][0-9]*$'
check "running: store rows" has "$T/run.out" '^ +rows +[1-9][0-9]*$'
check "running: uplink enabled" has "$T/run.out" '^ +enabled +true$'
check "running: uplink not connected" has "$T/run.out" '^ +connected +false$'
check "running: the broker named" has "$T/run.out" '^ +broker +"127.0.0.1"$'
check "the daemon is still running" kill -0 "$EPID"

kill -TERM "$EPID"
wait_exit 10 "$EPID"
check "the daemon stops with exit 0 (rc=$rc)" test "$rc" -eq 0
status "$T/stopped.out"
check "stopped: exit 1" rc_is "$T/stopped.out" 1
check "stopped: says NOT running" has "$T/stopped.out" "^emgwd NOT running"
check "stopped: state stopped" has "$T/stopped.out" '^ +state +"stopped"$'
check "stopped: the last state still shown" has "$T/stopped.out" '^ +connected +false$'

status "$T/none.out" "$T/empty.conf"
check "no status file: exit 2" rc_is "$T/none.out" 2
check "no status file: says so" has "$T/none.out" "no status in $T/nothing/status.json"
check "no status file: no running claim" sh -c "! grep -q 'running (' '$T/none.out'"

for f in "$T"/run.out "$T"/stopped.out "$T"/none.out "$T"/emgwd.log; do
	echo "--- $f"; cat "$f"
done
finish
