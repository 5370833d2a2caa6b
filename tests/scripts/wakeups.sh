#!/bin/bash
# wakeups.sh [BUILD_DIR]: how often emgwd wakes, part of make bench (its own
# lines, apart from footprint.sh's table).  Two jobs, each against a local
# mosquitto (plain MQTT) with the store on:
#   full bus   a J1939 log filled to ~1,900 frames/s (a full 250 kbit/s
#              bus: tracegen's excavator plus proprietary frames) replayed
#              at recorded speed
#   Modbus     5 holding registers at 1 Hz (footprint_mbserver.py)
# and, when built (make bench), bench_canlive: the live SocketCAN read path
# at ~1,900 frames/s through a socketpair.
# A wake-up is a voluntary context switch (/proc/PID/task/TID/status): one
# per sleep.  Printed per second over WAKEUPS_SECONDS (default 20) after a
# warm-up: the main thread (the poll loop) and all threads (paho's and the
# Modbus thread included), each thread, and by role (main, Modbus, paho).
# Prints figures; asserts nothing.
set -eu
B=${1:-build}
TOP=$PWD
SECS=${WAKEUPS_SECONDS:-20}
D=$(mktemp -d /tmp/emgw-wakeups.XXXXXX)
# The run directory in RAM, as systemd's RuntimeDirectory= gives the shipped
# unit (footprint.sh does the same): status.json rewritten on a disk would
# add the file system's waits (~0.2 a second on ext4) to the loop's.
RUNDIR=$(mktemp -d /dev/shm/emgw-wakeups.XXXXXX)
EXTRA_CLEANUP=$RUNDIR
PIDS=""
source "$TOP/tests/scripts/benchlib.sh"
die() { echo "wakeups: $*" >&2; exit 1; }
[ -x "$TOP/$B/emgwd" ] || die "$B/emgwd is not built"

MQ=$(free_port)
printf 'allow_anonymous true\npersistence false\nlog_dest stderr\nuser root\nlistener %s 127.0.0.1\n' \
	"$MQ" >"$D/mosquitto.conf"
spawn "$D/mosquitto.log" mosquitto -c "$D/mosquitto.conf"
wait_for 10 port_open "$MQ" || die "mosquitto did not start"
MB=$(free_port)
spawn "$D/mbserver.log" /usr/bin/python3 "$TOP/tests/scripts/footprint_mbserver.py" "$MB"
wait_for 20 port_open "$MB" || die "Modbus server did not start"

# The full bus: tracegen's frames plus a proprietary PGN (65280, not
# decoded) every 560 us: about 1,900 frames a second in all.
"$TOP/$B/tests/tracegen" --duration $((SECS + 40)) --seed 11 --warm -o "$D/base.log"
awk -v n=$(((SECS + 40) * 1785)) 'BEGIN { for (i = 0; i < n; i++)
	printf "(%.6f) can0 18FF0017#0102030405060708\n", 1700000000 + i * 0.00056 }' >"$D/fill.log"
sort -m -t')' -k1,1 "$D/base.log" "$D/fill.log" >"$D/fullbus.log"
rate=$(awk 'NR == 1 { a = substr($1, 2, 17) } { b = substr($1, 2, 17) } END { printf "%.0f", NR / (b - a) }' "$D/fullbus.log")

{
	printf '[device]\nid = wk-can\nstate_dir = %s/can\n' "$D"
	printf '[can "engine"]\nlog = %s/fullbus.log\nspeed = 1\n' "$D"
	printf '[mqtt]\nhost = 127.0.0.1\nport = %s\n' "$MQ"
} >"$D/can.conf"
for i in 0 1 2 3 4; do printf '[point "r%d"]\ntable = holding\naddress = %d\ntype = u16\n' "$i" "$i"; done \
	>"$D/meter.profile"
{
	printf '[device]\nid = wk-modbus\nstate_dir = %s/mb\n' "$D"
	printf '[bus "sim"]\ntype = tcp\nhost = 127.0.0.1\nport = %s\n' "$MB"
	printf '[device "meter"]\nbus = sim\nunit = 1\nprofile = %s/meter.profile\ninterval = 1\n' "$D"
	printf '[mqtt]\nhost = 127.0.0.1\nport = %s\n' "$MQ"
} >"$D/mb.conf"

# Voluntary context switches: the main thread (TID = PID), all threads.
vcs_main() { awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "/proc/$1/task/$1/status"; }

per_thread() { # TID, voluntary switches, name: one line a thread
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status") $(cat "$t/comm")"
	done 2>/dev/null
}

measure() { # measure NAME TITLE: job NAME's config is $D/NAME.conf
	local name=$1 title=$2 conf=$D/$1.conf pid m0 a0 m1 a1 t0 t1
	"$TOP/$B/emgwd" -n -c "$conf" >"$D/$name.check" 2>&1 || { cat "$D/$name.check"; die "$name: config refused"; }
	spawn "$D/$name.log" env RUNTIME_DIRECTORY="$RUNDIR/$name" "$TOP/$B/emgwd" -c "$conf"
	pid=$SPAWNED
	sleep 5 # warm-up: connected, first records sent
	kill -0 "$pid" 2>/dev/null || { tail -n 20 "$D/$name.log"; die "$name: emgwd died"; }
	m0=$(vcs_main "$pid") a0=$(vcs_all "$pid") t0=$(date +%s.%N)
	per_thread "$pid" >"$D/$name.t0"
	r0=$(vcs_roles "$pid")
	sleep "$SECS"
	m1=$(vcs_main "$pid") a1=$(vcs_all "$pid") t1=$(date +%s.%N)
	per_thread "$pid" >"$D/$name.t1"
	r1=$(vcs_roles "$pid")
	kill "$pid"
	awk -v n="$title" -v m=$((m1 - m0)) -v a=$((a1 - a0)) -v t0="$t0" -v t1="$t1" -v th="$(wc -l <"$D/$name.t1")" \
		'BEGIN { printf "wake-ups %-28s main thread %6.1f/s   all %d threads %6.1f/s\n", n, m / (t1 - t0), th, a / (t1 - t0) }'
	# each thread's share (paho's threads, the Modbus thread), by TID
	awk -v t0="$t0" -v t1="$t1" 'NR == FNR { v[$1] = $2; next }
		($1 in v) { printf "%s %s %.1f/s", (n++ ? "," : "         per thread (TID name rate):"), $1 " " $3, ($2 - v[$1]) / (t1 - t0) }
		END { print "" }' "$D/$name.t0" "$D/$name.t1"
	# by role: the loop alone, the Modbus threads, paho's
	roles_rate "$r0" "$r1" "$(echo "$t1 - $t0" | bc -l)" |
		awk '{ printf "         by thread: main %.1f/s, Modbus %.1f/s, paho %.1f/s, other %.1f/s\n", $2, $4, $6, $8 }'
}
echo "wake-ups: voluntary context switches over $SECS s (emgwd $B, store on, MQTT plain)"
measure can "full bus (${rate} frames/s, speed 1)"
measure mb "Modbus only (5 regs at 1 Hz)"
# The live SocketCAN path on a full bus, through a socketpair (no CAN in
# this kernel): tests/bench/bench_canlive.c, batches then per frame.
if [ -x "$TOP/$B/bench/bench_canlive" ]; then
	"$TOP/$B/bench/bench_canlive" 10 1900 2>/dev/null | sed 's/^/wake-ups /'
fi
