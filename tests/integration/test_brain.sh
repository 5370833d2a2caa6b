#!/bin/bash
# The emission brain end to end, through a real mosquitto and a real gpsd:
# an enginesim trace (a stuck turbo at 60 s for 25 s) replayed at 10x while
# gpsd, fed a fixed position inside a zone that prohibits stage 3, gives
# the fix.  At the broker, on emgw/<id>/event:
# - the smoke episode arrives as start, updates, end (in that order, one
#   rule's episode), the end with its evidence window (from `evidence`
#   before the start to `evidence` after the true end, 1 Hz rows);
# - the zone is entered once and the violation is exactly one event, with
#   the position; status counts it in the zone's totals;
# - engine start and the restart event came too.
source "$TOP/tests/integration/lib.sh"
for tool in gpsd socat mosquitto; do
	command -v $tool >/dev/null || { echo "skip - $tool not installed"; exit 0; }
done
PY=/usr/bin/python3

PORT=$(free_port)
start_mosquitto "$PORT"
start_sub "$PORT" 'emgw/+/#' "$T/got"

# A receiver standing still at 30.8705 N 120.0912 E (Huzhou), 3D fix.
$PY - "$T/fix.nmea" <<'EOP'
import sys
def s(body):
    c = 0
    for ch in body: c ^= ord(ch)
    return "$%s*%02X" % (body, c)
open(sys.argv[1], "w").write("\n".join([
    s("GPGGA,120000.00,3052.2300,N,12005.4720,E,1,10,0.8,8.0,M,7.0,M,,"),
    s("GPRMC,120000.00,A,3052.2300,N,12005.4720,E,0.0,0.0,281126,,,A"),
]) + "\n")
EOP
GPORT=$(free_port)
start_gpsd "$T" "$GPORT"
spawn "$T/feed.log" $PY "$TOP/tests/scripts/nmea_feed.py" --pace 0.2 --loop --now "$T/gps_feed" "$T/fix.nmea"

cat >"$T/zones.geojson" <<'EOZ'
{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"name":"huzhou-centre","prohibited_stages":[1,2,3]},
  "geometry":{"type":"Polygon","coordinates":[[[120.0,30.8],[120.2,30.8],[120.2,30.95],[120.0,30.95],[120.0,30.8]],
   [[120.15,30.9],[120.18,30.9],[120.18,30.93],[120.15,30.9]]]}},
 {"type":"Feature","properties":{"name":"elsewhere","prohibited_stages":[1,2,3,4]},
  "geometry":{"type":"MultiPolygon","coordinates":[[[[116.0,39.0],[117.0,39.0],[117.0,40.0],[116.0,39.0]]]]}}]}
EOZ
"$TOP/$B/tests/enginesim" --machine excavator --duration 150 --seed 41 --smoke-at 60 --smoke-len 25 \
	-o "$T/trace.log" --labels "$T/trace.labels"
cat >"$T/emgw.conf" <<EOC
[device]
id = brain-01
stage = 3
rated_power_kw = 90
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 10
[mqtt]
host = 127.0.0.1
port = $PORT
[gnss]
enabled = yes
host = 127.0.0.1
port = $GPORT
max_age = 3600
[smoke]
update = 5
evidence = 10
[zones]
file = $T/zones.geojson
debounce = 3
violation_after = 5
EOC
"$EMGWD" -n -c "$T/emgw.conf" >/dev/null || { echo "not ok - config"; exit 1; }
"$EMGWD" -c "$T/emgw.conf" --exit-when-done >"$T/out" 2>"$T/err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 60 "$EPID"
check "emgwd exits 0 after the replay is sent (rc=$rc)" test "$rc" -eq 0
wait_for 10 grep -q '"type":"smoke","state":"end"' "$T/got"

grep $'^emgw/brain-01/event\t' "$T/got" | cut -f2- >"$T/events"
check "smoke: start, updates, end of one episode, in order, with evidence" $PY - "$T/events" <<'EOP'
import json, sys
from datetime import datetime, timezone
def e(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
evs = [json.loads(l) for l in open(sys.argv[1])]
sm = [v for v in evs if v["type"] == "smoke" and v["rule"] == "lambda"]
states = [v["state"] for v in sm]
print("    lambda episode:", states)
assert states[0] == "start" and states[-1] == "end" and states.count("start") == 1, states
assert states.count("update") >= 2, states
assert all(v["since"] == sm[0]["since"] for v in sm)
end = sm[-1]; w = end["evidence"]
assert abs(e(end["since"]) - e(w["from"]) - 10) <= 1, (end["since"], w["from"])
last_t = e(w["from"]) + w["rows"][-1][0]
assert abs(last_t - (e(end["ended"]) + 10)) <= 1, (end["ended"], last_t)
assert len(w["rows"]) >= 20 and len(w["fields"]) == 13
assert all(v.get("pos", {}).get("valid") for v in sm), "smoke events carry the position"
EOP
check "one zone enter and exactly one zone-violation, with the position" $PY - "$T/events" <<'EOP'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
z = [v for v in evs if v["type"] == "zone"]
viol = [v for v in evs if v["type"] == "zone-violation"]
print("    zone events:", [(v["state"], v["zone"]) for v in z], "violations:", len(viol))
assert [(v["state"], v["zone"]) for v in z] == [("enter", "huzhou-centre")]
assert len(viol) == 1 and viol[0]["zone"] == "huzhou-centre" and viol[0]["stage"] == 3
assert abs(viol[0]["lat"] - 30.870500) < 1e-4 and abs(viol[0]["lon"] - 120.0912) < 1e-4
EOP
check "engine start and a clean restart event" $PY - "$T/events" <<'EOP'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert any(v["type"] == "engine" and v["state"] == "start" for v in evs)
assert any(v["type"] == "restart" and v["clean"] is True for v in evs)
EOP
check "status: the zone's totals (engine hours, fuel, smoke episodes, violation)" $PY - "$T/state/status.json" <<'EOP'
import json, sys
st = json.load(open(sys.argv[1]))
z = st["detectors"]["zones"]["huzhou-centre"]
print("    totals:", z)
assert z["inside"] and z["violations"] == 1 and z["engine_h"] > 0.02 and z["fuel_l"] > 0.1
assert z["smoke_events"] >= 1
assert st["detectors"]["zones"]["elsewhere"]["inside"] is False
EOP
finish
