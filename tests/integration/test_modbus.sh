#!/bin/bash
# Modbus: profiles are checked with file:line errors; emgwd reads mbsim over
# TCP and over RTU through a socat pty pair; reads an independent server
# (python3-pymodbus) back exactly; learns around a device that answers
# exceptions; reconnects to a TCP peer that went away; and keeps polling a
# live slave at >= 90 % of its rate while another one on the same line is
# dead (counted from the status counters).
source "$TOP/tests/integration/lib.sh"

SIM="$TOP/$B/tests/mbsim"
PROF="$TOP/config/profiles"
DATA="$TOP/tests/data"
PY=/usr/bin/python3

# sig_in FILE NAME VALUE: some record in FILE has sig NAME == VALUE
sig_in() {
	$PY - "$@" <<'EOP'
import json, sys
f, name, value = sys.argv[1], sys.argv[2], sys.argv[3]
for line in open(f):
    s = json.loads(line).get("sig")
    if s is not None and str(s.get(name)) == value:
        sys.exit(0)
sys.exit(1)
EOP
}
# last_sig FILE NAME: sig NAME of the last record ("absent" when not there)
last_sig() {
	$PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if "\"sig\"" in l]; print(r[-1]["sig"].get(sys.argv[2], "absent") if r else "no record")' "$1" "$2"
}
# st DEVICE FIELD: from the status file the daemon wrote when it stopped
st() {
	$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["sources"][sys.argv[2]][sys.argv[3]])' "$T/state/status.json" "$1" "$2"
}
# once FILE POINT: the value --poll-once printed for POINT (or its error)
once() {
	$PY -c 'import json,sys
for l in open(sys.argv[1]):
    p = json.loads(l)
    if p["point"] == sys.argv[2]:
        print(p.get("error", p.get("value")))' "$1" "$2"
}
records() { grep -c '"sig"' "$1" 2>/dev/null || echo 0; }
# wait_records FILE N: until FILE holds N records more than it does now
wait_records() {
	local want=$(( $(records "$1") + $2 ))
	wait_for 30 sh -c "test \$(grep -c '\"sig\"' '$1') -ge $want"
}

# Config: [bus], [device "NAME"] and profile files.
base() { # base STALE: the top of a configuration
	printf '[device]\nid = mb-test\nstate_dir = %s/state\n[mqtt]\nenabled = no\n[sample]\nstale = %s\n' "$T" "$1"
}
dev() { # dev NAME BUS UNIT PROFILE [INTERVAL]
	printf '[device "%s"]\nbus = %s\nunit = %s\nprofile = %s\ninterval = %s\n' "$1" "$2" "$3" "$4" "${5:-0.5}"
}

# 1. Every shipped profile loads; mistakes in a profile come as its file:line.
{
	base 5
	printf '[bus "rs485"]\ntype = rtu\ndevice = /dev/ttyUSB0\nbaud = 19200\nparity = E\n'
	dev opacity rs485 1 "$PROF/opacity-meter.conf"
	dev ecu rs485 2 "$PROF/china-ecu.conf"
	dev shore rs485 3 "$PROF/shore-power.conf"
} >"$T/all.conf"
check "the shipped profiles pass emgwd -n" "$EMGWD" -n -c "$T/all.conf"
check "config/emgw.conf still passes emgwd -n" "$EMGWD" -n -c "$TOP/config/emgw.conf"
cat >"$T/bad.conf" <<'EOF'
[point "x"]
table = holding
type = u33
[point "y"]
address = 5
type = string
[mqtt]
EOF
{ base 5; printf '[bus "b"]\ntype = tcp\nhost = 127.0.0.1\nbaud = 9600\n'; dev d b 1 bad.conf; } >"$T/badmain.conf"
"$EMGWD" -n -c "$T/badmain.conf" 2>"$T/bad.err"
rc=$?
check "a bad profile is refused with exit 78 (rc=$rc)" test "$rc" -eq 78
check "bad type reported at bad.conf:3" grep -q "^$T/bad.conf:3: type: \"u33\" is not one of" "$T/bad.err"
check "missing count reported at bad.conf:4" grep -q "^$T/bad.conf:4: \[point \"y\"\]: type = string needs count" "$T/bad.err"
check "a foreign section in a profile reported at bad.conf:7" grep -q "^$T/bad.conf:7: a profile holds only" "$T/bad.err"
check "a point without address reported at bad.conf:1" grep -q "^$T/bad.conf:1: \[point \"x\"\] needs address" "$T/bad.err"
check "an RTU key on a TCP bus reported at its line" grep -q "^$T/badmain.conf:11: baud: does not apply to a type = tcp bus" "$T/bad.err"

# 2. TCP: one mbsim serves an opacity meter (1), an ECU (2) and a shore-power
#    meter (3) whose power register answers with an exception.
TPORT=$(free_port)
start_sim_tcp() {
	spawn "$T/simtcp.log" "$SIM" --tcp "$TPORT" --period 14 \
		--unit "1:$PROF/opacity-meter.conf:$DATA/opacity-meter.script" \
		--unit "2:$PROF/china-ecu.conf:$DATA/china-ecu.script" \
		--unit "3:$PROF/shore-power.conf:$DATA/shore-power.script" --hole 3:input:12
	SIM_PID=$!
	wait_for 10 port_open "$TPORT" || { echo "not ok - mbsim (tcp) did not start"; cat "$T/simtcp.log"; exit 1; }
}
start_sim_tcp
{ base 2; printf '[bus "gw"]\ntype = tcp\nhost = 127.0.0.1\nport = %s\nresponse_timeout = 0.2\n' "$TPORT"
  dev opacity gw 1 "$PROF/opacity-meter.conf"; dev ecu gw 2 "$PROF/china-ecu.conf"; } >"$T/tcp12.conf"
{ cat "$T/tcp12.conf"; dev shore gw 3 "$PROF/shore-power.conf"; } >"$T/tcp.conf"
"$EMGWD" --poll-once -c "$T/tcp12.conf" >"$T/once.out" 2>"$T/once.err"
rc=$?
check "--poll-once over TCP: every point answered (rc=$rc)" test "$rc" -eq 0
check "--poll-once prints one line per point (40)" test "$(wc -l <"$T/once.out")" -eq 40
check "ECU engine speed 1500 rpm" test "$(once "$T/once.out" engine_speed_rpm)" = 1500.0
check "ECU odometer 12345.6 km (u32, 0.1 km)" test "$(once "$T/once.out" odometer_km)" = 12345.6
check "ECU VIN as a string" test "$(once "$T/once.out" ecu_vin)" = LZZ1CCND5KW123456
check "opacity meter hours 1234.5 h" test "$(once "$T/once.out" smoke_hours_h)" = 1234.5
check "raw registers are shown" grep -q '"point":"odometer_km",.*"raw":\[1,57920\]' "$T/once.out"
check "the planner read 40 points in 3 transactions" \
	sh -c "grep -q 'opacity: 2 transactions' '$T/once.err' && grep -q 'ecu: 1 transaction ' '$T/once.err'"
"$EMGWD" --poll-once -c "$T/tcp.conf" >"$T/once3.out" 2>"$T/once3.err"
rc=$?
check "--poll-once with a refused point exits 1 (rc=$rc)" test "$rc" -eq 1
check "the refused point is reported as such" test "$(once "$T/once3.out" shore_power_kw)" = "refused by the device"
check "its neighbours are still read (energy 15873.25 kWh, u32 CDAB)" \
	test "$(once "$T/once3.out" shore_energy_counter_kwh)" = 15873.25
check "shore connected flag (discrete input)" test "$(once "$T/once3.out" shore_connected)" = 1.0

"$EMGWD" -c "$T/tcp.conf" --stdout >"$T/tcp.out" 2>"$T/tcp.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_for 30 sig_in "$T/tcp.out" opacity_pct 45.0
check "records carry the opacity episode (45 %, k 1.6 m^-1)" \
	sh -c "$(declare -f sig_in); PY=$PY; sig_in '$T/tcp.out' opacity_pct 45.0 && sig_in '$T/tcp.out' opacity_k_m1 1.6"
wait_for 30 sig_in "$T/tcp.out" opacity_pct 4.0
check "... and its end (4 %)" sig_in "$T/tcp.out" opacity_pct 4.0
check "custom points go into records under their own name" sig_in "$T/tcp.out" smoke_serial OPM-2231
check "canonical ECU signals are in records" sig_in "$T/tcp.out" engine_speed_rpm 1500.0
check "shore values are in records" sig_in "$T/tcp.out" shore_voltage_v 400.5
check "the refused point never is (in a record)" sh -c "! grep '\"sig\"' '$T/tcp.out' | grep -q shore_power_kw"
# The TCP peer goes away and comes back.
stop_pid "$SIM_PID"
wait_for 15 grep -q 'opacity: not responding' "$T/tcp.err"
check "a vanished peer is logged as not responding" grep -q 'opacity: not responding' "$T/tcp.err"
start_sim_tcp
wait_for 30 grep -q 'opacity: responding again' "$T/tcp.err"
check "emgwd reconnects to the peer: responding again" grep -q 'opacity: responding again' "$T/tcp.err"
check "'not responding' logged once per device" test "$(grep -c 'opacity: not responding' "$T/tcp.err")" -eq 1
: >"$T/tcp.out.mark"
wait_records "$T/tcp.out" 2
stop_pid "$EPID"
check "values flow again after the reconnect" test "$(last_sig "$T/tcp.out" smoke_serial)" = OPM-2231
check "shore device: exceptions counted ($(st shore exceptions))" test "$(st shore exceptions)" -ge 1
check "shore device: one point unreadable, still responding" \
	test "$(st shore unreadable)" = 1 -a "$(st shore state)" = responding
check "opacity device: the drop counted as errors ($(st opacity other_errors) other, $(st opacity timeouts) timeouts)" \
	test "$(( $(st opacity other_errors) + $(st opacity timeouts) ))" -ge 1
stop_pid "$SIM_PID"

# 3. RTU through a socat pty pair: one mbsim on one end serves units 1 and
#    2; emgwd on the other.  Unit 2 dies mid-run.
spawn "$T/socat.log" socat -d -d "pty,raw,echo=0,link=$T/a" "pty,raw,echo=0,link=$T/b"
wait_for 10 test -e "$T/b" || { echo "not ok - socat"; exit 1; }
spawn "$T/simrtu.log" "$SIM" --rtu "$T/a" --mute-file "$T/mute" --ready "$T/rtu.ready" \
	--unit "1:$PROF/opacity-meter.conf:$DATA/opacity-meter.script" \
	--unit "2:$PROF/china-ecu.conf:$DATA/china-ecu.script"
wait_for 10 test -e "$T/rtu.ready" || { echo "not ok - mbsim (rtu)"; cat "$T/simrtu.log"; exit 1; }
rm -rf "$T/state"
{ base 2; printf '[bus "rs485"]\ntype = rtu\ndevice = %s/b\nbaud = 9600\nrs485 = yes\nresponse_timeout = 0.2\n' "$T"
  dev opacity rs485 1 "$PROF/opacity-meter.conf"; dev ecu rs485 2 "$PROF/china-ecu.conf"; } >"$T/rtu.conf"
"$EMGWD" --poll-once -c "$T/rtu.conf" >"$T/rtuonce.out" 2>"$T/rtuonce.err"
rc=$?
check "--poll-once over RTU: every point answered (rc=$rc)" test "$rc" -eq 0
check "RTU: ECU fuel rate 20 L/h" test "$(once "$T/rtuonce.out" fuel_rate_lph)" = 20.0
"$EMGWD" -c "$T/rtu.conf" --stdout >"$T/rtu.out" 2>"$T/rtu.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_for 20 sig_in "$T/rtu.out" engine_speed_rpm 1500.0
check "RTU: records carry ECU and opacity values" \
	sh -c "$(declare -f sig_in); PY=$PY; sig_in '$T/rtu.out' engine_speed_rpm 1500.0 && sig_in '$T/rtu.out' smoke_serial OPM-2231"
echo 2 >"$T/mute" # the ECU is unplugged
wait_for 15 grep -q 'ecu: not responding' "$T/rtu.err"
check "the dead slave is logged: ecu not responding" grep -q 'ecu: not responding' "$T/rtu.err"
wait_records "$T/rtu.out" 8
stop_pid "$EPID"
sched=$(st opacity scheduled) ok=$(st opacity ok)
check "the live slave kept >= 90 % of its scheduled polls ($ok of $sched)" \
	test "$sched" -ge 10 -a $(( ok * 100 )) -ge $(( sched * 90 ))
check "the dead slave is backed off (state $(st ecu state), back-off $(st ecu backoff_s) s)" \
	$PY -c "import sys; sys.exit(not ('$(st ecu state)' == 'not responding' and float('$(st ecu backoff_s)') >= 1))"
polls=$(st ecu polls) eok=$(st ecu ok) to=$(st ecu timeouts)
check "the dead slave cost at most one timeout per attempt ($to timeouts, $(( polls - eok )) failed polls)" \
	test "$to" -ge 2 -a "$to" -le $(( polls - eok ))
check "its values went stale and left the records" test "$(last_sig "$T/rtu.out" engine_speed_rpm)" = absent
check "the live slave's values did not" test "$(last_sig "$T/rtu.out" smoke_serial)" = OPM-2231

# 4. An independent server: python3-pymodbus, with a map of every type and
#    order encoded by Python's struct module.
PPORT=$(free_port)
spawn "$T/pymodbus.log" $PY "$TOP/tests/integration/pymodbus_server.py" "$PPORT" "$T/py-profile.conf" "$T/py-expected.json"
wait_for 20 port_open "$PPORT" || { echo "not ok - pymodbus server"; cat "$T/pymodbus.log"; exit 1; }
{ base 5; printf '[bus "py"]\ntype = tcp\nhost = 127.0.0.1\nport = %s\n' "$PPORT"; dev ref py 1 "$T/py-profile.conf"; } >"$T/py.conf"
"$EMGWD" --poll-once -c "$T/py.conf" >"$T/py.out" 2>"$T/py.err"
rc=$?
check "--poll-once against pymodbus: every point answered (rc=$rc)" test "$rc" -eq 0
$PY - "$T/py.out" "$T/py-expected.json" >"$T/py.cmp" <<'EOP'
import json, sys
got = {}
for l in open(sys.argv[1]):
    p = json.loads(l)
    got[p["point"]] = p.get("value", p.get("error"))
want = json.load(open(sys.argv[2]))
bad = [(k, v, got.get(k)) for k, v in want.items() if got.get(k) != v]
print("%d points, %d differ %s" % (len(want), len(bad), bad))
sys.exit(1 if bad or len(want) < 20 else 0)
EOP
check "every value read back exactly: $(cat "$T/py.cmp")" test $? -eq 0
finish
