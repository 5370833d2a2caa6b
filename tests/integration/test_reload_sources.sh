#!/bin/bash
# A reload reopens only the CAN sources whose configuration changed.  Two
# logs replay side by side (engine speed and coolant, each value one step
# up a frame); halfway, SIGHUP with a changed key in [can "coolant"] only:
# the engine log goes on where it was (its speed never goes back, no
# frame twice), the coolant log starts again from its top, following on
# from the replay's time (the records' time and seq never go back).
source "$TOP/tests/integration/lib.sh"

SECONDS_OF_LOG=120

# Engine: EEC1 every 100 ms, speed 600 rpm + one a frame; coolant: ET1
# every second, 20 C + one a frame.
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
finish
