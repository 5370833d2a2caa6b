# Shared helpers for integration tests: sourced, never run.
# Each test gets a temp dir $T, removed (with every process started through
# `spawn`) on exit; kept when the test fails and EMGW_KEEP_TMP is set.
# Checks print "ok - ..." or "not ok - ..." lines.
set -u
T=$(mktemp -d /tmp/emgw-test.XXXXXX)
PIDS=""
FAILS=0
AT_EXIT=""

# at_exit CMD: run CMD (a string) first thing when the test exits.
at_exit() { AT_EXIT="$AT_EXIT $1;"; }

cleanup() {
	local status=$?
	eval "$AT_EXIT"
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	[ -z "${GPSD_PID:-}" ] || ipcrm -M 0x47505344 2>/dev/null # gpsd's shared memory
	if [ "$status" -ne 0 ] && [ -n "${EMGW_KEEP_TMP:-}" ]; then
		echo "# EMGW_KEEP_TMP: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# spawn LOGFILE CMD...: start CMD in the background, remember its PID in $!
spawn() {
	local log=$1; shift
	"$@" >"$log" 2>&1 &
	PIDS="$PIDS $!"
}

# free_port: a TCP port nothing listens on, on loopback.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local n=$(( $1 * 10 )); shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_mosquitto PORT [extra config lines]: a real broker on loopback.  It
# queues without limit for a subscriber that falls behind (a test's sub.py on
# a busy machine): by default mosquitto drops QoS 1 messages past 1000
# queued, which a test would take for records lost by emgwd.
start_mosquitto() {
	local port=$1; shift
	{
		echo "listener $port 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "log_dest stderr"
		echo "user root"
		# A subscriber slowed by a loaded machine must not lose messages:
		# mosquitto drops QoS 1 messages queued beyond 1000 by default.
		echo "max_queued_messages 0"
		for l in "$@"; do echo "$l"; done
	} >"$T/mosquitto-$port.conf"
	spawn "$T/mosquitto-$port.log" mosquitto -c "$T/mosquitto-$port.conf"
	MOSQ_PID=$!
	wait_for 10 port_open "$port" || { echo "not ok - mosquitto did not start"; cat "$T/mosquitto-$port.log"; exit 1; }
}

# start_aedes PORT [tests/sim/aedes-broker.js options]: aedes, a second
# broker (MQTT 3.1.1 only; sessions and retained messages in memory), on
# loopback, installed from the npm registry by tests/scripts/install-aedes.sh
# on first use.  Where it cannot be installed, prints "skip: ..." and ends
# the test with exit 0.  PID in AEDES_PID; its output in $T/aedes-PORT.log.
start_aedes() {
	local port=$1; shift
	if [ -z "${AEDES_DIR:-}" ]; then
		AEDES_DIR=$("$TOP/tests/scripts/install-aedes.sh" 2>"$T/install-aedes.err") ||
			{ echo "skip: aedes cannot be installed ($(cat "$T/install-aedes.err"))"; exit 0; }
	fi
	spawn "$T/aedes-$port.log" node "$TOP/tests/sim/aedes-broker.js" --modules "$AEDES_DIR" --port "$port" "$@"
	AEDES_PID=$!
	wait_for 10 grep -q "^ready $port\$" "$T/aedes-$port.log" ||
		{ echo "not ok - aedes did not start"; cat "$T/aedes-$port.log"; exit 1; }
}

# start_sub PORT TOPIC OUT [CLIENT_ID]: tests/integration/sub.py on the broker
# at PORT, appending every message on TOPIC to OUT as topic<TAB>payload (a
# persistent QoS 1 session); returns once it has subscribed.  PID in SUB_PID.
start_sub() {
	rm -f "$3.ready"
	spawn "$3.sub.log" /usr/bin/python3 "$TOP/tests/integration/sub.py" 127.0.0.1 "$1" "$2" "$3" "$3.ready" ${4:+"$4"}
	SUB_PID=$!
	wait_for 10 test -e "$3.ready" || { echo "not ok - subscriber"; cat "$3.sub.log"; exit 1; }
}

# start_gpsd DIR PORT: a pty pair (write NMEA into DIR/gps_feed, gpsd reads
# DIR/gps_dev) and gpsd on it, listening on PORT.  PIDs in SOCAT_PID and
# GPSD_PID.  Another gpsd's test may remove the shared-memory segment gpsd
# exports (cleanup does): harmless, emgwd reads gpsd over TCP only.
start_gpsd() {
	local d=$1
	mkdir -p "$d"
	rm -f "$d/gps_dev" "$d/gps_feed"
	spawn "$d/socat.log" socat pty,raw,echo=0,link="$d/gps_dev" pty,raw,echo=0,link="$d/gps_feed"
	SOCAT_PID=$!
	wait_for 10 test -e "$d/gps_feed" || { echo "not ok - socat pty in $d"; exit 1; }
	spawn "$d/gpsd.log" gpsd -N -n -b -S "$2" "$d/gps_dev"
	GPSD_PID=$!
	wait_for 10 port_open "$2" || { echo "not ok - gpsd in $d"; cat "$d/gpsd.log"; exit 1; }
}

# wait_exit SECONDS PID: waits for PID (a child of this shell) to exit, at
# most SECONDS, then stops it; its exit status in rc.  False if it had to be
# stopped.
wait_exit() {
	local late=0
	wait_for "$1" sh -c "! kill -0 $2" || { late=1; stop_pid "$2"; }
	wait "$2"
	rc=$?
	[ "$late" -eq 0 ]
}

# seq_arrival MADE GOT [boot]: the records and events in MADE (emgwd --stdout
# output) against what arrived in GOT (sub.py output), by "seq" (by "boot"
# and "seq" with boot).  Sets MADE_N (distinct keys made) and MISSING (made,
# never arrived); true when nothing is missing.
seq_arrival() {
	local key='"seq":[0-9]*'
	[ "${3:-}" != boot ] || key='"boot":[0-9]*,"seq":[0-9]*'
	grep -o "$key" "$1" | sort -u >"$T/.made-keys"
	grep -o "$key" "$2" | sort -u >"$T/.got-keys"
	MADE_N=$(wc -l <"$T/.made-keys")
	MISSING=$(comm -23 "$T/.made-keys" "$T/.got-keys" | wc -l)
	[ "$MISSING" -eq 0 ]
}

# records_arrived MADE GOT: tests/integration/records.py: every record and
# event made arrived, a duplicate is the same record; prints its summary.
records_arrived() { /usr/bin/python3 "$TOP/tests/integration/records.py" "$1" "$2"; }

# jget FILE EXPR: EXPR (Python, over d) of the JSON in FILE, printed.
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@" 2>/dev/null; }

stop_pid() {
	kill "$1" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
}

check() { # check "description" CMD...
	local d=$1; shift
	if "$@"; then echo "ok - $d"; else echo "not ok - $d"; FAILS=$((FAILS + 1)); fi
}

finish() { [ "$FAILS" -eq 0 ]; }
