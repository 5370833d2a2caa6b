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
jget_is() { [ "$(jget "$1" "$2")" = "$3" ]; }
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

# In a run directory (systemd's RuntimeDirectory= sets $RUNTIME_DIRECTORY):
# status.json is rewritten there, in RAM, not in the state directory, whose
# status.json is a link to it; a clean stop writes the last copy to the state
# directory.  Then [device] run_dir names it in the configuration.
conf "$T/state2" >"$T/run.conf"
mkdir -p "$T/run"
spawn "$T/emgwd2.log" env RUNTIME_DIRECTORY="$T/run" "$EMGWD" -c "$T/run.conf"
EPID=$!
check "RUNTIME_DIRECTORY: status.json written there" wait_for 10 test -s "$T/run/status.json"
check "RUNTIME_DIRECTORY: state_dir/status.json links to it" \
	test "$(readlink "$T/state2/status.json")" = "$T/run/status.json"
status "$T/run2.out" "$T/run.conf"
check "RUNTIME_DIRECTORY: --status without it reads the live copy through the link" \
	has "$T/run2.out" "^emgwd running \\($T/state2/status.json\\)$"
RUNTIME_DIRECTORY="$T/run" status "$T/run3.out" "$T/run.conf"
check "RUNTIME_DIRECTORY: --status with it reads the run copy" \
	has "$T/run3.out" "^emgwd running \\($T/run/status.json\\)$"
check "RUNTIME_DIRECTORY: this daemon's pid" has "$T/run3.out" "^ +pid +$EPID$"
kill -TERM "$EPID"
wait_exit 10 "$EPID"
check "RUNTIME_DIRECTORY: the daemon stops with exit 0 (rc=$rc)" test "$rc" -eq 0
check "clean stop: the state directory holds the last copy, a file" \
	sh -c "test -f '$T/state2/status.json' && ! test -L '$T/state2/status.json'"
check "clean stop: the last copy says stopped" jget_is "$T/state2/status.json" 'd["state"]' stopped
rm -f "$T/run/status.json" # as systemd removes the run directory at stop
status "$T/stopped2.out" "$T/run.conf"
check "clean stop: --status reads the state copy: NOT running" \
	has "$T/stopped2.out" "^emgwd NOT running: last state below \\($T/state2/status.json\\)$"

sed "s|^state_dir = .*|state_dir = $T/state3\nrun_dir = $T/rundir|" "$T/emgw.conf" >"$T/rundir.conf"
spawn "$T/emgwd3.log" "$EMGWD" -c "$T/rundir.conf"
EPID=$!
check "[device] run_dir: status.json written there" wait_for 10 test -s "$T/rundir/status.json"
status "$T/run4.out" "$T/rundir.conf"
check "[device] run_dir: --status reads it" has "$T/run4.out" "^emgwd running \\($T/rundir/status.json\\)$"
stop_pid "$EPID"

for f in "$T"/run.out "$T"/stopped.out "$T"/none.out "$T"/emgwd.log "$T"/run2.out "$T"/emgwd2.log; do
	echo "--- $f"; cat "$f"
done
finish
