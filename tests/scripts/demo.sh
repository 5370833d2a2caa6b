#!/bin/bash
# make demo: a local mosquitto, emgwd replaying the bundled excavator trace at
# recorded speed, and a live view of what arrives at the broker.  Runs until
# Ctrl-C, or DURATION seconds when given; stops everything it started.
set -u
B=${1:-build}
DURATION=${2:-0}
TOP=$PWD
source "$TOP/tests/integration/lib.sh" # $T, spawn, free_port, start_mosquitto; cleans up on exit
D=$T
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

PORT=$(free_port)
start_mosquitto "$PORT" >/dev/null

# The machine moves: gpsd reads a route near Huzhou from a pty that
# nmea_feed.py writes into (started once emgwd watches: gpsd forwards only
# what arrives while a client watches).
GPSD_PORT=$(free_port)
spawn "$D/socat.log" socat pty,raw,echo=0,link="$D/gps_dev" pty,raw,echo=0,link="$D/gps_feed"
wait_for 10 test -e "$D/gps_feed" || { echo "demo: socat did not make the GPS pty"; exit 1; }
spawn "$D/gpsd.log" gpsd -N -n -b -S "$GPSD_PORT" "$D/gps_dev"
wait_for 10 port_open "$GPSD_PORT" || { echo "demo: gpsd did not start"; exit 1; }
trap 'ipcrm -M 0x47505344 2>/dev/null; cleanup' EXIT

# The emission monitoring platform (HJ 1239 road layout, signed frames):
# the simulator checks and records every frame; the view below prints them.
openssl genpkey -algorithm SM2 -out "$D/sm2.key" 2>/dev/null
openssl pkey -in "$D/sm2.key" -pubout -out "$D/sm2.pub"
spawn "$D/hjplatform.log" "$TOP/$B/tests/hjplatform" --variant road --pubkey "$D/sm2.pub" \
	--id DEMOCHIP00000001 --ready "$D/hj.ready" -o "$D/platform.jsonl"
wait_for 10 test -s "$D/hj.ready" || { echo "demo: the platform simulator did not start"; exit 1; }
HJ_PORT=$(cat "$D/hj.ready")

# One engine run makes both the J1939 trace and the opacity meter's script
# (tracegen --opacity): the bundled excavator (the options of
# tests/data/excavator.log, the same bytes), whose stuck turbo at 6 s and
# 150 s makes black smoke that lambda and the meter both see.
"$TOP/$B/tests/tracegen" --duration 300 --seed 1 --smoke-at 6,150 --warm \
	-o "$D/excavator.log" --opacity "$D/opacity.script" || { echo "demo: tracegen failed"; exit 1; }
MB_PORT=$(free_port)

cat >"$D/emgw.conf" <<EOC
# The demo machine: an excavator whose engine speaks J1939 (replayed trace).
[device]
id = demo-excavator
stage = 4
rated_power_kw = 110
vin = LDEMXEXCAVATR0001
state_dir = $D/state
[can "engine"]
log = $D/excavator.log
speed = 1
loop = yes
[mqtt]
host = 127.0.0.1
port = $PORT
prefix = emgw
[gnss]
enabled = yes
host = 127.0.0.1
port = $GPSD_PORT
period_moving = 10
distance_m = 100
[platform]
enabled = yes
host = 127.0.0.1
port = $HJ_PORT
variant = road
period = 10
sign = yes
key_file = $D/sm2.key
chip_id = DEMOCHIP00000001
iccid = 89860012345678901234
# A short demo shows a whole episode: updates every 5 s, the end (with its
# evidence) 5 s after the smoke cleared (the defaults: 30 s and 30 s).
[smoke]
update = 5
evidence = 5
[bus "meter"]
type = tcp
host = 127.0.0.1
port = $MB_PORT
[device "opacity"]
bus = meter
unit = 1
profile = $TOP/config/profiles/opacity-meter.conf
interval = 1
EOC
"$TOP/$B/emgwd" -n -c "$D/emgw.conf" >/dev/null || exit 1

/usr/bin/python3 "$TOP/tests/scripts/demo_view.py" 127.0.0.1 "$PORT" emgw "$D/ready" &
PIDS="$PIDS $!"
wait_for 10 test -e "$D/ready"

echo "demo: mosquitto on 127.0.0.1:$PORT, emgwd replaying the excavator of tests/data/excavator.log (Ctrl-C stops)"
echo "demo: gpsd on 127.0.0.1:$GPSD_PORT playing tests/data/huzhou-route.nmea (a loop near Huzhou)"
echo "demo: HJ 1239 platform simulator on 127.0.0.1:$HJ_PORT (frames in $D/platform.jsonl)"
echo "demo: opacity meter (mbsim, Modbus TCP) on 127.0.0.1:$MB_PORT, its smoke the engine's ($D/opacity.script)"
echo "demo: smoke at about 8 s and 152 s (then every 300 s): lambda, k and the smoke event agree; try: $B/emgwd --poll-once -c $D/emgw.conf"
/usr/bin/python3 -u -c '
import json, sys, time
f = open(sys.argv[1])
while True:
    line = f.readline()
    if not line:
        time.sleep(0.2)
        continue
    o = json.loads(line)
    if "command" not in o:
        continue
    st = [i for i in o.get("info", []) if i["type"] == "stream"]
    rpm = [i["engine_speed"]["value"] for i in st]
    print("platform: %-9s serial %-5s %s%s%s%s" % (o["command"], o.get("serial", "-"),
          o.get("time", ""), " %d samples, rpm %s" % (len(st), rpm[-1]) if st else "",
          " signed, verified" if o["signature"].get("verified") else "",
          " ERRORS %s" % o["errors"] if o.get("errors") else ""))
' "$D/platform.jsonl" &
PIDS="$PIDS $!"
echo "demo: emgwd's log is in $D/emgwd.log; try: $B/emgwd --status -c $D/emgw.conf"
# The meter's script starts with the replay (its period the trace's loop:
# 300 s and the 10 ms the replay leaves between two passes).
spawn "$D/mbsim.log" "$TOP/$B/tests/mbsim" --tcp "$MB_PORT" --period 300.01 \
	--unit "1:$TOP/config/profiles/opacity-meter.conf:$D/opacity.script"
wait_for 10 port_open "$MB_PORT" || { echo "demo: mbsim did not start"; exit 1; }
"$TOP/$B/emgwd" -c "$D/emgw.conf" 2>"$D/emgwd.log" &
EPID=$!
PIDS="$EPID $PIDS"
wait_for 10 grep -q 'gnss: connected' "$D/emgwd.log"
spawn "$D/feed.log" /usr/bin/python3 "$TOP/tests/scripts/nmea_feed.py" --loop --now --pace 1 \
	"$D/gps_feed" "$TOP/tests/data/huzhou-route.nmea"

if [ "$DURATION" -gt 0 ]; then
	end=$(( $(date +%s) + DURATION ))
	while [ "$(date +%s)" -lt "$end" ] && kill -0 "$EPID" 2>/dev/null; do sleep 0.5; done
else
	wait "$EPID"
fi
kill -0 "$EPID" 2>/dev/null || { echo "demo: emgwd stopped unexpectedly:"; tail -5 "$D/emgwd.log"; exit 1; }
echo "demo: done, stopping mosquitto, emgwd and the view"
