#!/bin/bash
# make bench: throughput and footprint figures, medians of several runs.
# Prints figures; asserts nothing (machines here are noisy).
set -u
B=${1:-build}
TOP=$PWD
D=$(mktemp -d /tmp/emgw-bench.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$D"' EXIT
RUNS=${BENCH_RUNS:-5}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
secs() { # secs CMD...: wall seconds of one run
	local s e
	s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

"$TOP/$B/tests/tracegen" --duration 3600 --seed 11 --smoke-at 300,1800 -o "$D/hour.log"
frames=$(wc -l <"$D/hour.log")
echo "trace: one hour of an excavator's J1939 bus, $frames frames ($(du -h "$D/hour.log" | cut -f1))"

# 1. --decode: parse + decode + JSON line per frame.
t=$(for _ in $(seq "$RUNS"); do secs "$TOP/$B/emgwd" --decode "$D/hour.log"; done | median)
printf 'decode (--decode to /dev/null):      %8.0f frames/s  (median of %d, %.3f s)\n' \
	"$(echo "$frames / $t" | bc -l)" "$RUNS" "$t"

# 2. The whole daemon replaying the hour as fast as it can, MQTT off:
#    parse, decode, table, 3600 records + events, SQLite commits.
conf() {
	cat <<EOC
[device]
id = bench
state_dir = $D/state
[can "engine"]
log = $D/hour.log
speed = 0
[mqtt]
enabled = $1
host = 127.0.0.1
port = ${2:-1883}
# a flat-out replay makes everything backlog: measure throughput, not the
# default backlog rate limit (200 records/s)
backlog_rate = 0
EOC
}
conf no >"$D/off.conf"
run_off() { rm -rf "$D/state"; "$TOP/$B/emgwd" -c "$D/off.conf" --exit-when-done; }
t=$(for _ in $(seq "$RUNS"); do secs run_off; done | median)
printf 'replay, store, no MQTT:              %8.0f frames/s  (%.1f x a 250 kbit/s bus at ~1,900 frames/s; %.0f x real time)\n' \
	"$(echo "$frames / $t" | bc -l)" "$(echo "$frames / $t / 1900" | bc -l)" "$(echo "3600 / $t" | bc -l)"
rm -rf "$D/state"
rss=$(/usr/bin/time -f %M "$TOP/$B/emgwd" -c "$D/off.conf" --exit-when-done 2>&1 >/dev/null | tail -1)
echo "peak RSS of that run:                 $rss KiB"

# 3. Replay with a real mosquitto: every record acknowledged before exit.
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n' "$PORT" >"$D/m.conf"
mosquitto -c "$D/m.conf" >/dev/null 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
conf yes "$PORT" >"$D/on.conf"
run_on() { rm -rf "$D/state"; "$TOP/$B/emgwd" -c "$D/on.conf" --exit-when-done; }
t=$(for _ in $(seq "$RUNS"); do secs run_on; done | median)
printf 'replay to mosquitto, all acked:      %8.0f records/s (3600 records in %.2f s, median of %d)\n' \
	"$(echo "3600 / $t" | bc -l)" "$t" "$RUNS"
echo "binary size:                          $(stat -c %s "$TOP/$B/emgwd") bytes ($(size "$TOP/$B/emgwd" | awk 'NR==2 {print $1+$2+$3}') text+data+bss)"

# J1939 decoding alone: throughput in memory, and instructions per frame from
# callgrind (the difference between 3 passes and 1 over a 5-minute trace, so
# loading the trace does not count).
"$TOP/$B/bench/bench_decode" "$D/hour.log" 5
"$TOP/$B/tests/tracegen" --duration 300 --seed 11 -o "$D/five.log"
five=$(grep -c . "$D/five.log")
ir() { valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$TOP/$B/bench/bench_decode" "$D/five.log" "$1" 2>&1 | awk '/Collected/ {print $NF}'; }
if command -v valgrind >/dev/null; then
	i1=$(ir 1); i3=$(ir 3)
	printf 'decode cost (callgrind):              %8.0f instructions/frame\n' "$(echo "($i3 - $i1) / (2 * $five)" | bc -l)"
fi

# Detectors per sample tick (3 smoke rules, watch, 50 zones): throughput, and
# instructions per tick from callgrind (3000 ticks minus 1000).
"$TOP/$B/bench/bench_detect" 100000 "$D"
if command -v valgrind >/dev/null; then
	dt() { valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$TOP/$B/bench/bench_detect" "$1" "$D" ${2:+"$2"} 2>&1 | awk '/Collected/ {print $NF}'; }
	d1=$(dt 1000); d3=$(dt 3000)
	printf 'detector cost (callgrind):            %8.0f instructions/tick\n' "$(echo "($d3 - $d1) / 2000" | bc -l)"
	# smoke at signal rate: a full bus (1900 frames/s) against none, 300 ticks
	f0=$(dt 300 0); f1=$(dt 300 1900)
	printf 'smoke cost per CAN frame (callgrind): %8.0f instructions/frame\n' "$(echo "($f1 - $f0) / (300 * 1900)" | bc -l)"
fi

# 4. The store alone.
[ -x "$TOP/$B/bench/bench_store" ] && "$TOP/$B/bench/bench_store" "$D" 20000

# 4b. HJ 1322 / HJ 1239 platform frames: encoded, decoded, encoded + SM2-signed.
[ -x "$TOP/$B/bench/bench_hjframe" ] && "$TOP/$B/bench/bench_hjframe" 200000

# 4c. The seal chain: SM3 per record, SM2 and Ed25519 per seal, bytes seals add a
#     record (alone on .../event; in compressed batches), over the trace's records.
gunzip -c "$TOP/tests/data/golden/excavator.jsonl.gz" | grep '"sig"' >"$D/record.json"
[ -x "$TOP/$B/bench/bench_seal" ] && "$TOP/$B/bench/bench_seal" "$D/record.json" "$D" 200000

# 5. Footprint budget: the demo job and a Modbus-only job, side by side with
#    collectd (FOOTPRINT_SECONDS of data each, default 60).
"$TOP/tests/scripts/footprint.sh" "$B"

# 6. Modbus: read transactions per poll cycle for an opacity meter and an ECU
#    (40 points), emgw's planner against one transaction per point.
[ -x "$TOP/$B/bench/bench_mbplan" ] &&
	"$TOP/$B/bench/bench_mbplan" "$TOP/config/profiles/opacity-meter.conf" "$TOP/config/profiles/china-ecu.conf"

# 5. The uplink: backlog drain, bytes on the wire, disk writes per hour.
"$TOP/tests/scripts/bench_uplink.sh" "$B"
