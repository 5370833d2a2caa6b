#!/bin/bash
# Modbus points a device refuses (exception 02) for a while, against an
# independent server (python3-pymodbus, tests/integration/mbflaky_server.py):
# - the refused point is left out and its neighbours still read; status lists
#   it under lost_points while the device stays "responding"; a point-lost
#   event starts; it is tried again with a doubling wait (logged once);
# - the device answers it again: it is read again (its value back in the
#   records), point-lost ends, lost_points empties;
# - meter-lost is per device: a device on a bus whose other device answers
#   still raises it when its own values stop.
source "$TOP/tests/integration/lib.sh"
PY=/usr/bin/python3

# st DEVICE FIELD: from the status file the daemon writes every 5 s
st() {
	$PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["sources"][sys.argv[2]][sys.argv[3]]))' "$T/state/status.json" "$1" "$2" 2>/dev/null
}
# ev TYPE STATE [KEY VALUE]: some event in the output is TYPE/STATE (with KEY == VALUE)
ev() {
	$PY - "$T/out" "$@" <<'EOP'
import json, sys
f, typ, state = sys.argv[1:4]
kv = sys.argv[4:6]
for line in open(f):
    if not line.startswith("{"):
        continue
    e = json.loads(line)
    e = e.get("ev", e)
    if e.get("type") == typ and e.get("state") == state and (not kv or str(e.get(kv[0])) == kv[1]):
        sys.exit(0)
sys.exit(1)
EOP
}
# newest_sig NAME: sig NAME of the newest record ("absent" when not there)
newest_sig() {
	$PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if "\"sig\"" in l]; print(r[-1]["sig"].get(sys.argv[2], "absent") if r else "no record")' "$T/out" "$1"
}

PORT=$(free_port)
touch "$T/refuse5"
spawn "$T/server.log" $PY "$TOP/tests/integration/mbflaky_server.py" "$PORT" "$T"
wait_for 20 port_open "$PORT" || { echo "not ok - pymodbus server"; cat "$T/server.log"; exit 1; }
cat >"$T/profile.conf" <<'EOF2'
[point "p_a"]
table = holding
address = 3
type = u16
[point "opacity_pct"]
table = holding
address = 5
type = u16
scale = 0.1
[point "p_b"]
table = holding
address = 7
type = u16
EOF2
cat >"$T/emgw.conf" <<EOF2
[device]
id = mb-refused
state_dir = $T/state
[mqtt]
enabled = no
[sample]
stale = 1
[watch]
ecu_silent = 2
[bus "gw"]
type = tcp
host = 127.0.0.1
port = $PORT
response_timeout = 0.3
refused_retry = 1
refused_retry_max = 2
[device "flaky"]
bus = gw
unit = 1
profile = $T/profile.conf
interval = 0.3
[device "two"]
bus = gw
unit = 2
instance = 1
profile = $T/profile.conf
interval = 0.3
EOF2
check "the configuration with refused_retry passes -n" "$EMGWD" -n -c "$T/emgw.conf"
"$EMGWD" -c "$T/emgw.conf" --stdout >"$T/out" 2>"$T/err" &
EPID=$!; PIDS="$PIDS $EPID"

# 1. Refused: left out, neighbours read, reported.
wait_for 20 ev point-lost start point opacity_pct
check "point-lost starts for the refused point" ev point-lost start point opacity_pct
wait_for 20 sh -c "grep -q '\"p_b\": 107' '$T/out' || grep -q '\"p_b\":107' '$T/out'"
check "its neighbours are still read (p_a $(newest_sig p_a), p_b $(newest_sig p_b))" \
	test "$(newest_sig p_a)" = 103.0 -a "$(newest_sig p_b)" = 107.0
check "the refused point is not in the records" test "$(newest_sig opacity_pct)" = absent
wait_for 15 sh -c "$(declare -f st); PY=$PY T=$T; test \"\$(st flaky lost_points)\" = '[\"opacity_pct\"]'"
check "status lists it under lost_points ($(st flaky lost_points)), device $(st flaky state)" \
	test "$(st flaky lost_points)" = '["opacity_pct"]' -a "$(st flaky state)" = '"responding"'
check "status counts it unreadable ($(st flaky unreadable))" test "$(st flaky unreadable)" = 1
# Retried with a doubling wait: 1 s, 2 s, 2 s ...: a few exceptions more.
ex0=$(st flaky exceptions)
wait_for 20 sh -c "$(declare -f st); PY=$PY T=$T; test \$(st flaky exceptions) -ge \$(( $ex0 + 2 ))"
check "it is tried again (exceptions $ex0 -> $(st flaky exceptions))" \
	test "$(st flaky exceptions)" -ge $(( ex0 + 2 ))
check "the refusal is logged once, not at every retry" \
	test "$(grep -c 'point opacity_pct (holding 5): the device refuses it' "$T/err")" = 1

# 2. The device answers again.
rm -f "$T/refuse5"
wait_for 20 ev point-lost end point opacity_pct
check "point-lost ends once the device answers again" ev point-lost end point opacity_pct
check "the point is read again (logged)" grep -q 'flaky: point opacity_pct (holding 5) is read again' "$T/err"
wait_for 10 sh -c "grep '\"sig\"' '$T/out' | tail -n 1 | grep -q '\"opacity_pct\":10.5'"
check "its value is back in the records ($(newest_sig opacity_pct))" test "$(newest_sig opacity_pct)" = 10.5
wait_for 15 sh -c "$(declare -f st); PY=$PY T=$T; test \"\$(st flaky lost_points)\" = '[]'"
check "lost_points is empty again ($(st flaky lost_points)), unreadable $(st flaky unreadable)" \
	test "$(st flaky lost_points)" = '[]' -a "$(st flaky unreadable)" = 0

# 3. meter-lost per device: "two" stops giving values, "flaky" on the same bus does not.
check "no meter-lost so far" sh -c "! grep -q meter-lost '$T/out'"
touch "$T/refuse2"
wait_for 20 ev meter-lost start device two
check "meter-lost starts for the device whose values stopped (two)" ev meter-lost start device two
check "... and not for its neighbour on the bus (flaky)" sh -c "$(declare -f ev); PY=$PY T=$T; ! ev meter-lost start device flaky"
rm -f "$T/refuse2"
wait_for 20 ev meter-lost end device two
check "meter-lost ends when its values come back" ev meter-lost end device two
stop_pid "$EPID"
grep -E '"(point|meter)-lost"' "$T/out" | head -n 4 | cut -c 1-300
finish
