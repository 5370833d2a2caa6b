#!/bin/bash
# A reload reopens only the sources whose configuration changed.
# 1. Two logs replay side by side (engine speed and coolant, each value one
#    step up a frame); halfway, SIGHUP with a changed key in [can "coolant"]
#    only: the engine log goes on where it was (its speed never goes back,
#    no frame twice), the coolant log starts again from its top, following
#    on from the replay's time (the records' time and seq never go back).
# 2. Two Modbus buses, one changed: the other keeps its connection.
# 3. One log alone, restarted after its end: it ends as the first run did.
source "$TOP/tests/integration/lib.sh"

SECONDS_OF_LOG=120

# 1. Engine: EEC1 every 100 ms, speed 600 rpm + one a frame; coolant: ET1
#    every second, 20 C + one a frame.
/usr/bin/python3 - "$T/engine.log" "$T/coolant.log" "$SECONDS_OF_LOG" <<'PY'
import sys
n = int(sys.argv[3])
with open(sys.argv[1], "w") as f:
    for i in range(n * 10):
        raw = (600 + i) * 8
        f.write("(%.6f) can0 0CF00400#207D87%02X%02X00F087\n" % (1700000000 + i / 10, raw & 255, raw >> 8))
with open(sys.argv[2], "w") as f:
    for i in range(n):
        f.write("(%.6f) can1 18FEEE00#%02XFFFFFFFFFFFFFF\n" % (1700000000.05 + i, 60 + i))
PY

conf() { # conf COOLANT_SA
	cat >"$T/emgw.conf" <<EOF
[device]
id = reload-sources
state_dir = $T/state
[can "engine"]
log = $T/engine.log
speed = 10
[can "coolant"]
log = $T/coolant.log
speed = 10
sa = $1
[store]
retention_days = 3650
[mqtt]
enabled = no
EOF
}

conf any
spawn "$T/emgwd.err" sh -c "exec '$EMGWD' -c '$T/emgw.conf' --stdout --exit-when-done >'$T/out'"
pid=$!
# a fifth of the logs replayed: the reload lands halfway through them
check "the replay runs" wait_for 30 sh -c "test \$(grep -c '\"sig\"' '$T/out') -ge $((SECONDS_OF_LOG / 5))"
conf 0
kill -HUP "$pid"
check "the reload is in force" wait_for 10 grep -q "reload: .* in force" "$T/emgwd.err"
check "emgwd ends with the logs" wait_exit 60 "$pid"
check "... cleanly (rc=$rc)" test "$rc" -eq 0

check "the changed source restarts, and the log says why" \
	grep -q "reload: can coolant: sa changed: restarts" "$T/emgwd.err"
check "the unchanged one is not reopened" sh -c "! grep -q 'reload: can engine' '$T/emgwd.err'"
check "each log replayed whole once (engine $((SECONDS_OF_LOG * 10)), coolant $SECONDS_OF_LOG frames)" sh -c \
	"grep -q 'can engine: end of $T/engine.log ($((SECONDS_OF_LOG * 10)) frames)' '$T/emgwd.err' &&
	 grep -q 'can coolant: end of $T/coolant.log ($SECONDS_OF_LOG frames)' '$T/emgwd.err'"

# The records: seq, time and engine speed never go back; the coolant goes
# back once (its log restarted); no clock event.
check "records: seq and time go on, the engine speed never goes back, the coolant restarts once" \
	/usr/bin/python3 - "$T/out" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"sig"' in l]
ok = True
def bad(why):
    global ok
    print("#", why)
    ok = False
back = [(a["seq"], b["seq"]) for a, b in zip(recs, recs[1:])
        if b["seq"] <= a["seq"] or b["ts"] <= a["ts"] or b["mono_ms"] <= a["mono_ms"]]
if back:
    bad("seq, ts or mono_ms go back at %s" % back[:3])
rpm = [r["sig"]["engine_speed_rpm"] for r in recs if "engine_speed_rpm" in r["sig"]]
if any(b < a for a, b in zip(rpm, rpm[1:])):
    bad("the engine speed goes back: the engine log restarted")
cool = [r["sig"]["coolant_c"] for r in recs if "coolant_c" in r["sig"]]
drops = sum(1 for a, b in zip(cool, cool[1:]) if b < a)
if drops != 1:
    bad("the coolant goes back %d times, not once" % drops)
print("# %d records, engine %s..%s rpm" % (len(recs), rpm[0], rpm[-1]))
sys.exit(0 if ok and len(recs) > 0 else 1)
PY
check "no clock event (the replay's time never steps back)" sh -c "! grep -q '\"type\":\"clock\"' '$T/out'"

# 2. Modbus: bus "a" (an opacity meter) and bus "b" (an ECU), each its own
#    mbsim; SIGHUP with a key of [bus "b"] changed.
SIM="$TOP/$B/tests/mbsim"
PROF="$TOP/config/profiles"
PA=$(free_port)
PB=$(free_port)
spawn "$T/sima.log" "$SIM" --tcp "$PA" --unit "1:$PROF/opacity-meter.conf"
spawn "$T/simb.log" "$SIM" --tcp "$PB" --unit "2:$PROF/china-ecu.conf"
wait_for 10 port_open "$PA" && wait_for 10 port_open "$PB" ||
	{ echo "not ok - mbsim did not start"; cat "$T/sima.log" "$T/simb.log"; exit 1; }
mbconf() { # mbconf RESPONSE_TIMEOUT_OF_B
	cat >"$T/mb.conf" <<EOF
[device]
id = reload-modbus
state_dir = $T/mbstate
[bus "a"]
type = tcp
host = 127.0.0.1
port = $PA
[bus "b"]
type = tcp
host = 127.0.0.1
port = $PB
response_timeout = $1
[device "opacity"]
bus = a
unit = 1
profile = $PROF/opacity-meter.conf
interval = 0.2
[device "ecu"]
bus = b
unit = 2
profile = $PROF/china-ecu.conf
interval = 0.2
[mqtt]
enabled = no
EOF
}
# peer PORT: emgwd's end (its local port) of the connection to PORT
peer() { ss -Htn state established "( dport = :$1 )" | awk '{ n = split($3, a, ":"); print a[n] }'; }
# polls DEVICE: its poll cycles in the status file
polls() { jget "$T/mbstate/status.json" "d['sources']['$1']['polls']"; }
connected() { test -n "$(peer "$PA")" && test -n "$(peer "$PB")"; }
polled() { test "$(polls opacity)" -ge 10 && test "$(polls ecu)" -ge 10; } 2>/dev/null
b_moved() { test -n "$(peer "$PB")" && test "$(peer "$PB")" != "$b_port"; }

mbconf 0.5
spawn "$T/mb.err" "$EMGWD" -c "$T/mb.conf"
mpid=$!
check "both buses connect" wait_for 20 connected
check "the status shows both devices polled" wait_for 20 polled
a_port=$(peer "$PA")
b_port=$(peer "$PB")
a_polls=$(polls opacity)
mbconf 0.4
kill -HUP "$mpid"
check "the Modbus reload is in force" wait_for 10 grep -q "reload: .* in force" "$T/mb.err"
check "bus b restarts, and the log says why" \
	grep -q "reload: modbus bus b: response_timeout changed: restarts" "$T/mb.err"
check "bus a is not restarted" sh -c "! grep -q 'reload: modbus bus a' '$T/mb.err'"
check "bus b reconnects (a new connection)" wait_for 10 b_moved
check "bus a keeps its connection (local port $a_port)" test "$(peer "$PA")" = "$a_port"
stop_pid "$mpid"
a_end=$(polls opacity)
b_end=$(polls ecu)
# Both poll at the same rate from the same start: the ECU's count, begun
# again at the reload, is short of the meter's by what came before it.
check "the meter's counters went on, the ECU's began again ($a_polls polls before; at the end $a_end and $b_end)" \
	test "$b_end" -lt "$((a_end - a_polls / 2))"

# 3. One log alone, replayed to its end; SIGHUP with its section changed:
#    it replays again (its own times: a clock event) and its end closes its
#    last, partial period again, as the first end did.
/usr/bin/python3 - "$T/alone.log" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(55):
        f.write("(%.6f) can0 0CF00400#207D87481400F087\n" % (1700000000 + i / 10))
PY
aconf() { # aconf EXTRA-LINE
	printf '[device]\nid = reload-alone\nstate_dir = %s/astate\n[can "engine"]\nlog = %s\nspeed = 0\n%s\n[mqtt]\nenabled = no\n' \
		"$T" "$T/alone.log" "$1" >"$T/alone.conf"
}
aconf ""
spawn "$T/alone.err" sh -c "exec '$EMGWD' -c '$T/alone.conf' --stdout >'$T/alone.out'"
apid=$!
check "the log alone replays to its end" wait_for 10 grep -q "can engine: end of" "$T/alone.err"
aconf "sa = 0"
kill -HUP "$apid"
check "after the reload it replays again, to its end" \
	wait_for 10 sh -c "test \$(grep -c 'can engine: end of' '$T/alone.err') -eq 2"
stop_pid "$apid"
check "the second end closes the last period too (records end at 22:13:26 both times)" /usr/bin/python3 - "$T/alone.out" <<'PY'
import json, sys
ts = [json.loads(l)["ts"] for l in open(sys.argv[1]) if '"sig"' in l]
ends = [a for a, b in zip(ts, ts[1:]) if b < a] + ts[-1:]
print("# ends of the two runs: %s" % ends)
sys.exit(0 if ends == ["2023-11-14T22:13:26.000Z"] * 2 else 1)
PY
finish
