#!/bin/bash
# GNSS plausibility with a real gpsd: a receiver that says 99999 m altitude
# and 9999 knots (gpsd passes both on; a latitude of 99 degrees it drops
# itself) is no fix: records say valid:false meanwhile and never carry those
# numbers, status counts the reports as implausible, the GPS odometer stays
# a number, and good fixes are valid again after them.
source "$TOP/tests/integration/lib.sh"
trap 'cleanup; ipcrm -M 0x47505344 2>/dev/null' EXIT
for tool in gpsd socat; do
	command -v $tool >/dev/null || { echo "skip - $tool not installed"; exit 0; }
done
PY=/usr/bin/python3

# The capture: 8 good epochs, 10 absurd ones, 8 good ones (1 s apart).
$PY - >"$T/feed.nmea" <<'EOP'
def ck(b):
    c = 0
    for ch in b:
        c ^= ord(ch)
    return "%02X" % c
def s(body):
    print("$%s*%s" % (body, ck(body)))
for t in range(26):
    hh = "1200%02d.00" % t
    bad = 8 <= t < 18
    alt, kn = ("99999.0", "9999.0") if bad else ("10.0", "5.0")
    lat = "3052.%03d" % (200 + t)  # creeping north, about 1.9 m a second
    s("GPGGA,%s,%s,N,12005.400,E,1,08,1.0,%s,M,0.0,M,," % (hh, lat, alt))
    s("GPRMC,%s,A,%s,N,12005.400,E,%s,0.0,010124,,,A" % (hh, lat, kn))
EOP

spawn "$T/socat.log" socat pty,raw,echo=0,link="$T/gps_dev" pty,raw,echo=0,link="$T/gps_feed"
wait_for 10 test -e "$T/gps_feed" || { echo "not ok - socat pty"; exit 1; }
PORT=$(free_port)
spawn "$T/gpsd.log" gpsd -N -n -b -S "$PORT" "$T/gps_dev"
wait_for 10 port_open "$PORT" || { echo "not ok - gpsd"; cat "$T/gpsd.log"; exit 1; }
cat >"$T/emgw.conf" <<EOC
[device]
id = gnss-implausible
state_dir = $T/state
[mqtt]
enabled = no
[sample]
period = 0.2
[gnss]
enabled = yes
host = 127.0.0.1
port = $PORT
max_age = 1
EOC
"$EMGWD" -c "$T/emgw.conf" --stdout >"$T/out" 2>"$T/err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_for 10 grep -q 'gnss: connected' "$T/err" || { echo "not ok - emgwd did not connect"; cat "$T/err"; exit 1; }
spawn "$T/feed.log" $PY "$TOP/tests/scripts/nmea_feed.py" --pace 0.3 "$T/gps_feed" "$T/feed.nmea"
FEED=$!
wait_for 30 sh -c "! kill -0 $FEED"
stop_pid "$EPID"

$PY - "$T/out" "$T/state/status.json" >"$T/facts" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"sig"' in l]
pos = [r.get("pos", {}) for r in recs]
seq = "".join("v" if p.get("valid") else "-" for p in pos).strip("-")
st = json.load(open(sys.argv[2]))["sources"]["gnss"]
odo = [r["sig"].get("gps_odometer_km") for r in recs if "gps_odometer_km" in r["sig"]]
print("valid_runs", len([x for x in seq.split("-") if x]))
print("absurd", sum(1 for p in pos if p.get("alt_m", 0) > 20000 or p.get("speed_kmh", 0) > 300))
print("implausible", st.get("implausible", -1))
print("fixes", st["fixes"])
print("odometer_ok", int(bool(odo) and all(isinstance(x, (int, float)) for x in odo)))
print("last_valid", int(bool(pos) and pos[-1].get("valid", False)))
EOP
fact() { sed -n "s/^$1 //p" "$T/facts"; }
cat "$T/facts" | tr '\n' ' '; echo
check "no record carries the absurd altitude or speed ($(fact absurd))" test "$(fact absurd)" = 0
check "the absurd reports count as implausible in status ($(fact implausible), >= 8)" test "$(fact implausible)" -ge 8
check "they were no fix: valid positions, a gap, valid again ($(fact valid_runs) runs)" test "$(fact valid_runs)" = 2
check "the good reports are fixes ($(fact fixes), >= 12)" test "$(fact fixes)" -ge 12
check "the GPS odometer stayed a number in every record" test "$(fact odometer_ok)" = 1
check "one warning for the first implausible fix" test "$(grep -c 'implausible fix' "$T/err")" = 1
finish
