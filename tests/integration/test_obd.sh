#!/bin/bash
# The platform's OBD unit filled from the bus: a J1939 trace with DM1, the
# VIN, DM5, and DM19 / DM20 by BAM (tests/sim/obdtrace.py, laid out by hand
# from J1939-73) is replayed into emgwd; the platform simulator checks every
# diagnostics unit field by field against the unit obdtrace.py worked out
# (--expect-obd), for the road (HJ 1239), GB 17691 and nrmm (protocol, MIL,
# DTCs: its unit has no more) variants.  The same trace without the
# diagnostics leaves the unit invalid: nothing is invented.
source "$TOP/tests/integration/lib.sh"

SIM="$TOP/$B/tests/hjplatform"
VIN=LZYTBTD60K1000001 # [device] vin: the engine says LZZ1EXCA7PN123456

"$TOP/$B/tests/tracegen" --duration 60 --start 1700000000 --seed 7 -o "$T/base.log"
/usr/bin/python3 "$TOP/tests/sim/obdtrace.py" "$T/base.log" "$T/obd.log" "$T/obd.expect" ||
	{ echo "not ok - obdtrace.py"; exit 1; }

# run NAME TRACE VARIANT EXPECT: emgwd replays TRACE to the simulator
# checking EXPECT; sets SIM_RC (the simulator's exit status) and leaves
# $T/NAME.jsonl (frames), $T/NAME.out (emgwd's records and events).
run() {
	local name=$1 log=$2 variant=$3 expect=$4
	rm -f "$T/$name.ready"
	"$SIM" --port 0 --variant "$variant" --vin "$VIN" --ready "$T/$name.ready" \
		--expect-obd "$expect" -o "$T/$name.jsonl" 2>"$T/$name.sim.err" &
	SIM_PID=$!; PIDS="$PIDS $SIM_PID"
	wait_for 10 test -s "$T/$name.ready" || { echo "not ok - simulator $name did not start"; exit 1; }
	cat >"$T/$name.conf" <<EOC
[device]
id = $name
vin = $VIN
state_dir = $T/$name-state
[can "engine"]
log = $log
speed = 20
[mqtt]
enabled = no
[platform]
enabled = yes
host = 127.0.0.1
port = $(cat "$T/$name.ready")
variant = $variant
period = 10
diag_period = 10
iccid = 8986001234567890123
reconnect_max = 1
EOC
	"$EMGWD" -c "$T/$name.conf" --stdout --exit-when-done >"$T/$name.out" 2>"$T/$name.emgw.err" &
	EPID=$!; PIDS="$PIDS $EPID"
	wait_exit 60 "$EPID"
	check "$name: emgwd replays the trace and exits 0 (rc=$rc)" test "$rc" -eq 0
	kill "$SIM_PID"
	wait "$SIM_PID"
	SIM_RC=$?
	sed 's/^/# /' "$T/$name.sim.err"
}

# units JSONL: "N M LAST": diagnostics units, those without a mismatch, and
# 1 when the last one has none
units() {
	/usr/bin/python3 - "$1" <<'EOP'
import json, sys
fr = [json.loads(l) for l in open(sys.argv[1]) if '"obd_mismatch"' in l]
print(len(fr), sum(1 for f in fr if not f["obd_mismatch"]), int(bool(fr) and not fr[-1]["obd_mismatch"]))
for f in fr:
    if f["obd_mismatch"]:
        print("#", f["obd_mismatch"], file=sys.stderr)
EOP
}

for variant in road gb17691 nrmm; do
	run "$variant" "$T/obd.log" "$variant" "$T/obd.expect"
	check "$variant: the simulator found every frame right and the OBD unit as expected (rc=$SIM_RC)" \
		test "$SIM_RC" -eq 0
	read -r n ok last < <(units "$T/$variant.jsonl" 2>"$T/$variant.mismatch")
	sed 's/^/# /' "$T/$variant.mismatch"
	check "$variant: diagnostics units were sent ($n)" test "${n:-0}" -ge 3
	# the first unit may leave before the DM events are read; from the
	# first full one on, every unit matches (the simulator errs otherwise)
	check "$variant: the last unit carries every field as expected ($ok of $n)" test "${last:-0}" -eq 1
	# DM5, DM19, DM20 each said something new once; their repeats did not
	check "$variant: one obd event per change, none per repeat (got $(grep -c '"type":"obd"' "$T/$variant.out"))" \
		test "$(grep -c '"type":"obd"' "$T/$variant.out")" -eq 3
done

# Without the diagnostics the unit stays invalid, and a unit that expects
# them does not match: the check can fail.
grep -E '#' "$T/obd.log" | grep -v -E '18FECA00|18FECE00|1CECFF00|1CEBFF00' >"$T/plain.log"
cat >"$T/invalid.expect" <<EOE
protocol 254
mil 254
dtcs invalid
support 65535
readiness 65535
vin $VIN
cal_id invalid
cvn invalid
iupr $(printf '65535,%.0s' $(seq 17))65535
EOE
run plain "$T/plain.log" road "$T/invalid.expect"
check "no diagnostics on the bus: the unit is invalid, the configured VIN (rc=$SIM_RC)" test "$SIM_RC" -eq 0
run plain-vs-obd "$T/plain.log" road "$T/obd.expect"
check "no diagnostics on the bus: a unit expecting them fails the simulator (rc=$SIM_RC)" \
	test "$SIM_RC" -ne 0
finish
