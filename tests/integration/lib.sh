# Shared helpers for integration tests: sourced, never run.
# Each test gets a temp dir $T, removed (with every process started through
# `spawn`) on exit.  Checks print "ok - ..." or "not ok - ..." lines.
set -u
T=$(mktemp -d /tmp/emgw-test.XXXXXX)
PIDS=""
FAILS=0

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
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

# start_mosquitto PORT [extra config lines]: a real broker on loopback.
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
