#!/bin/bash
# Uplink figures for make bench (called by bench.sh): backlog drain of
# 604,800 records (7 days at 1 Hz) to a local mosquitto, bytes on the wire
# per record, and bytes written to disk per hour at 1 Hz.  Prints figures;
# asserts nothing.
set -u
B=${1:-build}
TOP=$PWD
D=$(mktemp -d /tmp/emgw-bench-uplink.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$D"' EXIT
ROWS=${BENCH_BACKLOG_ROWS:-604800}
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nmax_queued_messages 0\n' "$PORT" >"$D/m.conf"
mosquitto -c "$D/m.conf" >/dev/null 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# The backlog, once: filled straight into a store (bench_fill), copied per run.
s=$(date +%s.%N)
"$TOP/$B/bench/bench_fill" "$D/backlog.db" "$ROWS" >/dev/null 2>&1
e=$(date +%s.%N)
printf 'backlog: %d records (%s) filled in %.1f s\n' "$ROWS" "$(du -h "$D/backlog.db" | cut -f1)" "$(echo "$e - $s" | bc -l)"

drain() { # drain BATCH COMPRESS ROWS: a store of ROWS records drained; prints a line
	local batch=$1 z=$2 rows=$3
	rm -rf "$D/state"; mkdir -p "$D/state"
	if [ "$rows" -eq "$ROWS" ]; then
		cp "$D/backlog.db" "$D/state/emgw.db"
	else
		"$TOP/$B/bench/bench_fill" "$D/state/emgw.db" "$rows" >/dev/null 2>&1
	fi
	# The backlog's times are from 2026-01-01: keep them (retention_days).
	# A drain only: the one source named is a gpsd where none listens.
	printf '[device]\nid = bench\nstate_dir = %s\n[gnss]\nenabled = yes\nhost = 127.0.0.1\nport = %s\n[mqtt]\nhost = 127.0.0.1\nport = %s\nbacklog_rate = 0\ninflight = 100\nbatch_max = %s\ncompress = %s\n[store]\nmax_size_mb = 1024\nretention_days = 3650\n' \
		"$D/state" "$((PORT + 1))" "$PORT" "$batch" "$z" >"$D/drain.conf"
	s=$(date +%s.%N)
	"$TOP/$B/emgwd" -c "$D/drain.conf" --exit-when-done >/dev/null 2>"$D/drain.err"
	e=$(date +%s.%N)
	local t recs wire
	t=$(echo "$e - $s" | bc -l)
	recs=$(jget "$D/state/status.json" 'd["uplink"]["records"]')
	wire=$(jget "$D/state/status.json" 'd["uplink"]["wire_bytes"]')
	printf 'drain batch_max=%-3s compress=%-3s %7d records in %6.1f s: %8.0f records/s, %6.1f bytes/record on the wire\n' \
		"$batch" "$z" "$recs" "$t" "$(echo "$recs / $t" | bc -l)" "$(echo "$wire / $recs" | bc -l)"
}
echo "backlog drain to mosquitto on loopback (backlog_rate = 0, inflight = 100); wire bytes = MQTT PUBLISH packets (header, topic, packet id, payload; no TCP/TLS)"
drain 50 yes "$ROWS"
drain 50 no "$ROWS"
drain 1 no "${BENCH_SINGLE_ROWS:-100000}"

# Disk writes per hour at 1 Hz: emgwd replays 10 minutes of trace at 60x
# (each record still gets its own loop turn and commit, as live), MQTT up;
# write_bytes from /proc/<pid>/io, read just before it exits, times 6.
"$TOP/$B/tests/tracegen" --duration 600 --seed 11 -o "$D/ten.log"
io() { # io DURABILITY
	rm -rf "$D/state"
	printf '[device]\nid = bench\nstate_dir = %s\n[can "engine"]\nlog = %s\nspeed = 60\n[mqtt]\nhost = 127.0.0.1\nport = %s\n[store]\ndurability = %s\n' \
		"$D/state" "$D/ten.log" "$PORT" "$1" >"$D/io.conf"
	"$TOP/$B/emgwd" -c "$D/io.conf" --exit-when-done >/dev/null 2>&1 &
	local pid=$! wb=0 v
	while kill -0 "$pid" 2>/dev/null; do
		v=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io" 2>/dev/null) && [ -n "$v" ] && wb=$v
		sleep 0.2
	done
	wait "$pid"
	printf 'disk writes at 1 Hz, MQTT up, durability=%-6s %8.1f MB/hour (%d bytes in 10 min of log x 6)\n' \
		"$1" "$(echo "$wb * 6 / 1000000" | bc -l)" "$wb"
}
io normal
io full
