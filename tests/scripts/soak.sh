#!/bin/bash
# Soak: emgwd from an ASan+UBSan build runs for DURATION seconds against
#  - a real mosquitto, restarted every 30 s (down 3 s each time);
#  - a SIGHUP every 20 s: two good files in turn that change the Modbus, MQTT
#    and gnss sections (each reload reopens them), every third a broken file
#    (refused);
#  - remote commands about three a second: ping, status, get-config, now
#    and then a snapshot, and malformed or unknown ones;
#  - a hostile gpsd: fed good NMEA mixed with garbage lines, bad checksums,
#    truncated and overlong sentences and absurd positions, and stopped for
#    5 s every 45 s;
#  - a CAN log replayed in a loop, and a Modbus simulator (tests/sim/mbsim)
#    whose ECU unit goes silent for 15 s every 40 s.
# Every 10 s it samples emgwd's RSS and open descriptors.  At the end it
# checks that what emgwd made arrived, stops it with SIGTERM (LeakSanitizer
# on) and prints the figures and the verdict: RSS growth over the second half
# below SOAK_RSS_GROWTH_KB, descriptors flat, no sanitizer report, emgwd never
# died and exited 0, every record made arrived at the broker.
#   usage: tests/scripts/soak.sh BUILD_DIR [DURATION]   (make soak)
set -u
B=${1:-build-asan}
DURATION=${2:-600}
RSS_BOUND_KB=${SOAK_RSS_GROWTH_KB:-4096}
TOP=$PWD
EMGWD=$TOP/$B/emgwd
source "$TOP/tests/integration/lib.sh"
PY=/usr/bin/python3
PROF=$TOP/config/profiles
DATA=$TOP/tests/data
DEV=soak-01

ldd "$EMGWD" | grep -q libasan || echo "# warning: $EMGWD is not an ASan build (make soak builds one)"
# A small quarantine: freed memory held back by ASan must not pass for growth.
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
echo "# soak: $DURATION s, $EMGWD, temp dir $T"

# The broker, persistent so the subscriber's session outlives restarts.
PORT=$(free_port)
start_mosquitto "$PORT" "persistence true" "persistence_location $T/" "autosave_interval 1"
sed -i 's/^persistence false$//' "$T/mosquitto-$PORT.conf"
start_sub "$PORT" "emgw/$DEV/#" "$T/got" soak-sub

# gpsd on a pty, and the hostile feeder.
GPORT=$(free_port)
start_gpsd "$T/gps" "$GPORT"
cat >"$T/nmea_hostile.py" <<'EOP'
import os, random, sys, time
rnd = random.Random(int(sys.argv[2]))
fd = os.open(sys.argv[1], os.O_WRONLY)
def s(body):
    c = 0
    for ch in body:
        c ^= ord(ch)
    return "$%s*%02X\r\n" % (body, c)
def dm(v, width):
    a = abs(v)
    return "%0*d%07.4f" % (width, int(a), (a - int(a)) * 60)
lat, lon = 30.8705, 120.0912
while True:
    t = time.gmtime()
    hms, dmy = time.strftime("%H%M%S.00", t), time.strftime("%d%m%y", t)
    lat += 0.00004
    lon += 0.00006
    good = [s("GPGGA,%s,%s,N,%s,E,1,10,0.8,8.0,M,7.0,M,," % (hms, dm(lat, 2), dm(lon, 3))),
            s("GPRMC,%s,A,%s,N,%s,E,12.0,45.0,%s,,,A" % (hms, dm(lat, 2), dm(lon, 3), dmy))]
    k = rnd.random()
    if k < 0.55:
        out = "".join(good)
    elif k < 0.65:  # absurd values with good checksums
        out = rnd.choice([
            s("GPGGA,%s,9512.0000,N,50000.0000,E,1,99,0.8,1000000000.0,M,7.0,M,," % hms),
            s("GPRMC,%s,A,%s,S,%s,W,99999.9,720.0,320299,,,A" % (hms, dm(89.99999, 2), dm(179.99999, 3))),
            s("GPGGA,%s,-3052.2300,N,12005.4720,E,9,-3,-1,-8.0,M,,M,," % hms),
            s("GPRMC,%s,A,0000.0000,N,00000.0000,E,0.0,0.0,010170,,,A" % hms),
            s("GPRMC,999999.99,A,%s,N,%s,E,nan,inf,999999,,,A" % (dm(lat, 2), dm(lon, 3))),
            s("GPGSV,9,9,99,01,99,999,99,02,-5,-1,-1"),
        ])
    elif k < 0.75:  # raw garbage
        out = os.urandom(rnd.randint(1, 300)).decode("latin-1") + "\r\n"
    elif k < 0.85:  # a good sentence with a bad checksum, or cut short
        g = good[0]
        out = rnd.choice([g[:-4] + "00\r\n", g[:rnd.randint(1, len(g) - 3)] + "\r\n", g[:-2]])
    elif k < 0.95:  # overlong
        out = "$GPGGA," + "9" * rnd.randint(80, 4000) + "\r\n"
    else:
        out = rnd.choice(["\0" * 64, "$" * 200, "\r\n" * 50, "$GP*\r\n"])
    os.write(fd, out.encode("latin-1"))
    time.sleep(0.2)
EOP
spawn "$T/feed.log" $PY "$T/nmea_hostile.py" "$T/gps/gps_feed" 14

# Modbus: one mbsim serving an opacity meter, an ECU and a shore-power meter.
MPORT=$(free_port)
: >"$T/mute"
spawn "$T/mbsim.log" "$TOP/$B/tests/mbsim" --tcp "$MPORT" --period 14 --mute-file "$T/mute" \
	--unit "1:$PROF/opacity-meter.conf:$DATA/opacity-meter.script" \
	--unit "2:$PROF/china-ecu.conf:$DATA/china-ecu.script" \
	--unit "3:$PROF/shore-power.conf:$DATA/shore-power.script" --hole 3:input:12
wait_for 10 port_open "$MPORT" || { echo "not ok - mbsim did not start"; cat "$T/mbsim.log"; exit 1; }

"$TOP/$B/tests/tracegen" --duration 300 --seed 12 --smoke-at 60,200 -o "$T/trace.log"

conf() { # conf INTERVAL BATCH COMPRESS MAX_AGE [extra lines]
	cat <<EOC
[device]
id = $DEV
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 2
loop = yes
[mqtt]
host = 127.0.0.1
port = $PORT
reconnect_max = 1
batch_max = $2
compress = $3
[gnss]
enabled = yes
host = 127.0.0.1
port = $GPORT
max_age = $4
reconnect_max = 1
[bus "gw"]
type = tcp
host = 127.0.0.1
port = $MPORT
response_timeout = 0.2
[device "opacity"]
bus = gw
unit = 1
profile = $PROF/opacity-meter.conf
interval = $1
[device "ecu"]
bus = gw
unit = 2
profile = $PROF/china-ecu.conf
interval = $1
[device "shore"]
bus = gw
unit = 3
profile = $PROF/shore-power.conf
interval = 1
EOC
	shift 4
	for l in "$@"; do echo "$l"; done
}
# The [can] section stays the same: a reload that changes it restarts the
# replay from the top, and records stop until the replay's time passes the
# last record's again.
conf 0.5 1 no 3 >"$T/a.conf"
conf 0.7 5 yes 4 >"$T/b.conf"
conf 0.5 1 no 3 "[sample]" "period = 99" >"$T/broken.conf"
cp "$T/a.conf" "$T/emgw.conf"
"$EMGWD" -n -c "$T/a.conf" >/dev/null && "$EMGWD" -n -c "$T/b.conf" >/dev/null ||
	{ echo "not ok - soak configuration"; exit 1; }

"$EMGWD" -c "$T/emgw.conf" --stdout >"$T/emgw.out" 2>"$T/emgw.err" &
EPID=$!
PIDS="$PIDS $EPID"
wait_for 30 grep -aq "emgw/$DEV/telemetry" "$T/got" ||
	{ echo "not ok - no telemetry at the start"; tail -20 "$T/emgw.err"; exit 1; }

cat >"$T/commander.py" <<'EOP'
import json, random, sys, time
import paho.mqtt.client as mqtt
port, dev, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(7)
bad = [("reboot", '{"id":"e1"}'), ("shell", '{"id":"e2","cmd":"rm -rf /"}'),
       ("set-sample-period", '{"id":"e3","period":0}'), ("set-sample-period", '{"id":"e5","period":"5"}'),
       ("set-sample-period", '{"id":"e7","period":5,"extra":1}'), ("ping", '{"id":"e9","x":true}'),
       ("status", '{"id":"e10","id":"e10b"}'), ("ping", '{"id":"' + "x" * 5000 + '"}'),
       ("set-sample-period", '{"period":5}'), ("set-sample-period", '{"id":"a/b","period":5}'),
       ("set-sample-period", "not json"), ("set-sample-period", "[1,2,3]"), ("ping", ""),
       ("ping", '{"id":"e20"'), ("ping", "\x00\xff\xfe"), ("x" * 200, '{"id":"e21"}')]
c = mqtt.Client(client_id="soak-cmd")
c.reconnect_delay_set(min_delay=0.2, max_delay=1)
c.connect_async("127.0.0.1", port, keepalive=10)
c.loop_start()
n = sent = 0
while True:
    n += 1
    k = n % 10
    if k in (0, 3, 6):
        name, body = "ping", json.dumps({"id": "p%d" % n})
    elif k in (1, 7):
        name, body = "status", json.dumps({"id": "s%d" % n})
    elif k == 4:
        name, body = "get-config", json.dumps({"id": "g%d" % n})
    elif k == 9 and n % 100 == 99:
        name, body = "snapshot", json.dumps({"id": "n%d" % n})
    else:
        name, body = rnd.choice(bad)
    if c.publish("emgw/%s/cmd/%s" % (dev, name), body, qos=0).rc == mqtt.MQTT_ERR_SUCCESS:
        sent += 1
    if n % 10 == 0:
        open(out, "w").write("%d\n" % sent)
    time.sleep(0.3)
EOP
spawn "$T/commander.log" $PY "$T/commander.py" "$PORT" "$DEV" "$T/commands.sent"

# The timeline, one step a second.
t0=$(date +%s)
died="" reloads=0 restarts=0 gpsd_stops=0 mutes=0
: >"$T/samples"
for t in $(seq 0 "$DURATION"); do
	while [ "$(date +%s)" -lt $((t0 + t)) ]; do sleep 0.2; done
	if ! kill -0 "$EPID" 2>/dev/null; then
		died=$t
		break
	fi
	if [ $((t % 10)) -eq 0 ]; then
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$EPID/status")
		fds=$(ls "/proc/$EPID/fd" | wc -l)
		echo "$t $rss $fds" >>"$T/samples"
	fi
	[ "$t" -gt 0 ] && [ "$t" -lt "$DURATION" ] || continue
	case $((t % 30)) in
	0)
		stop_pid "$MOSQ_PID"
		restarts=$((restarts + 1))
		;;
	3)
		spawn "$T/mosquitto-$restarts.log" mosquitto -c "$T/mosquitto-$PORT.conf"
		MOSQ_PID=$!
		;;
	esac
	if [ $((t % 20)) -eq 0 ]; then
		case $((reloads % 3)) in
		0) cp "$T/b.conf" "$T/emgw.conf" ;;
		1) cp "$T/broken.conf" "$T/emgw.conf" ;;
		2) cp "$T/a.conf" "$T/emgw.conf" ;;
		esac
		kill -HUP "$EPID"
		reloads=$((reloads + 1))
	fi
	case $((t % 45)) in
	0)
		stop_pid "$GPSD_PID"
		gpsd_stops=$((gpsd_stops + 1))
		;;
	5)
		spawn "$T/gps/gpsd-$gpsd_stops.log" gpsd -N -n -b -S "$GPORT" "$T/gps/gps_dev"
		GPSD_PID=$!
		;;
	esac
	case $((t % 40)) in
	0)
		echo 2 >"$T/mute"
		mutes=$((mutes + 1))
		;;
	15) : >"$T/mute" ;;
	esac
done

# The end: the broker up, what was made so far arrives; then SIGTERM.
kill -0 "$MOSQ_PID" 2>/dev/null || {
	spawn "$T/mosquitto-end.log" mosquitto -c "$T/mosquitto-$PORT.conf"
	MOSQ_PID=$!
}
if [ -z "$died" ]; then
	cp "$T/emgw.out" "$T/made"
	wait_for 60 records_arrived "$T/made" "$T/got"
	kill -TERM "$EPID"
	wait_exit 60 "$EPID"
else
	wait "$EPID"
	rc=$?
	cp "$T/emgw.out" "$T/made"
fi
summary=$(records_arrived "$T/made" "$T/got")
arrived=$?

in_force=$(grep -c 'reload: .* in force' "$T/emgw.err")
refused=$(grep -c 'keeping the running configuration' "$T/emgw.err")
answered=$(grep -ac "^emgw/$DEV/cmd-result/" "$T/got")
echo "# $restarts broker restarts ($(grep -c 'mqtt: connected' "$T/emgw.err") connects), $reloads reloads" \
	"($in_force in force, $refused refused), $gpsd_stops gpsd stops ($(grep -c 'gnss: connected' "$T/emgw.err")" \
	"connects), $mutes ECU silences ($(grep -c 'ecu: responding again' "$T/emgw.err") returns)"
echo "# commands: $(cat "$T/commands.sent" 2>/dev/null || echo 0) sent, $answered answered" \
	"($(grep -a "^emgw/$DEV/cmd-result/" "$T/got" | grep -ac '"ok":false') errors)"
echo "# records: $summary"
echo "# samples (s, RSS kB, fds):"
sed 's/^/#   /' "$T/samples"
$PY - "$T/samples" "$RSS_BOUND_KB" >"$T/figures" <<'EOP'
import statistics, sys
rows = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1]) if len(l.split()) == 3]
rss = [r[1] for r in rows]
fds = [r[2] for r in rows]
h = len(rows) // 2
# Growth over the second half: the least-squares slope of its samples times
# its length, so that the allocator's ups and downs of a few MB do not count.
t2, r2 = [r[0] for r in rows[h:]], rss[h:]
growth = 0
if len(t2) >= 3:
    mt, mr = statistics.mean(t2), statistics.mean(r2)
    slope = sum((a - mt) * (b - mr) for a, b in zip(t2, r2)) / sum((a - mt) ** 2 for a in t2)
    growth = slope * (t2[-1] - t2[0])
print("rss_first", rss[0]); print("rss_median", int(statistics.median(rss))); print("rss_last", rss[-1])
print("rss_half", rss[h]); print("rss_growth", int(round(growth)))
print("fd_first", fds[0]); print("fd_last", fds[-1])
print("fd_max_first_half", max(fds[:h] or fds)); print("fd_max_second_half", max(fds[h:]))
print("samples", len(rows))
EOP
fig() { sed -n "s/^$1 //p" "$T/figures"; }
echo "RSS kB: first $(fig rss_first), median $(fig rss_median), last $(fig rss_last); at half time" \
	"$(fig rss_half), growth over the second half $(fig rss_growth) kB (least squares)"
echo "fds: first $(fig fd_first), last $(fig fd_last); most in the first half $(fig fd_max_first_half)," \
	"in the second $(fig fd_max_second_half)"
asan=$(grep -c 'ERROR: AddressSanitizer' "$T/emgw.err")
lsan=$(grep -c 'ERROR: LeakSanitizer' "$T/emgw.err")
ubsan=$(grep -c 'runtime error:' "$T/emgw.err")
echo "sanitizers: $asan ASan, $lsan LSan, $ubsan UBSan reports"
grep -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/emgw.err" | head -80 | sed 's/^/#   /'

check "emgwd never died (${died:-ran all $DURATION s}, $(fig samples) samples)" test -z "$died"
check "emgwd exits 0 at SIGTERM, leak check included (rc=$rc)" test "$rc" -eq 0
check "RSS growth over the second half $(fig rss_growth) kB < $RSS_BOUND_KB kB" \
	test "$(fig rss_growth)" -lt "$RSS_BOUND_KB"
check "fd count flat (second half at most $(fig fd_max_second_half), first half $(fig fd_max_first_half))" \
	test "$(fig fd_max_second_half)" -le $(($(fig fd_max_first_half) + 2))
check "no sanitizer report" test $((asan + lsan + ubsan)) -eq 0
if [ "$DURATION" -ge 60 ] && [ -z "$died" ]; then
	check "the stress happened: reloads in force and refused, commands answered, broker reconnects" \
		test "$in_force" -ge 1 -a "$refused" -ge 1 -a "$answered" -ge 100 -a \
		"$(grep -c 'mqtt: connected' "$T/emgw.err")" -gt "$restarts"
fi
check "every record made arrived at the broker ($summary)" test "$arrived" -eq 0
finish
