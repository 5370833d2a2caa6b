#!/bin/bash
# CAN in full, replayed through emgwd: DM1 over BAM (a DTC appearing and
# clearing gives exactly two `dtc` events), the VIN by BAM against the
# configured one, NMEA 2000 engines (port and starboard) in CANboat format,
# and --decode showing all of it.
source "$TOP/tests/integration/lib.sh"

"$TOP/$B/tests/tracegen" --duration 30 --seed 2 -o "$T/base.log"
# Diagnostics and identity frames, merged into the trace by time:
#  DM1 no fault (SPN 0 FMI 0) at 1 Hz, except 10..19 s: MIL on and two DTCs
#  (SPN 3226 FMI 2 OC 1; SPN 5246 FMI 31 OC 3) in a 10-byte BAM;
#  the VIN "LZZ1EXCA7PN123456" + '*' (18 bytes) by BAM every 5 s.
/usr/bin/python3 - "$T/base.log" "$T/trace.log" <<'PY'
import sys
base = [l for l in open(sys.argv[1])]
t0 = float(base[0][1:18])
extra = []
def add(t, ident, data):
    extra.append("(%.6f) can0 %s#%s\n" % (t0 + t, ident, data))
for s in range(30):
    t = s + 0.5
    if 10 <= s < 20:
        add(t, "1CECFF00", "200A0002FFCAFE00")            # BAM: 10 bytes, 2 packets, PGN 65226
        add(t + 0.05, "1CEBFF00", "0140FF9A0C02017E")
        add(t + 0.10, "1CEBFF00", "02141F03FFFFFFFF")
    else:
        add(t, "18FECA00", "00FF00000000FFFF")            # single-frame DM1, no active fault
    if s % 5 == 0:
        vin = b"LZZ1EXCA7PN123456*"
        pk = [vin[i:i + 7].ljust(7, b"\xff") for i in range(0, len(vin), 7)]
        add(s + 0.7, "1CECFF00", "2012000" + "3FFECFE00")  # BAM: 18 bytes, 3 packets, PGN 65260
        for i, p in enumerate(pk):
            add(s + 0.72 + i * 0.02, "1CEBFF00", "%02X%s" % (i + 1, p.hex().upper()))
lines = sorted(base + extra, key=lambda l: float(l[1:18]))
open(sys.argv[2], "w").writelines(lines)
PY

cat >"$T/emgw.conf" <<EOC
[device]
id = can-01
vin = LZZ1EXCA7PN654321
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 0
[mqtt]
enabled = no
EOC
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/out" 2>"$T/err"
check "emgwd replays the trace (rc=$?)" test -s "$T/out"
n=$(grep -c '"type":"dtc"' "$T/out")
check "a DTC appearing and clearing gives exactly two dtc events (got $n)" test "$n" -eq 2
check "first dtc event: both codes appeared, MIL on" \
	sh -c "grep '\"type\":\"dtc\"' '$T/out' | head -1 | grep -q '\"appeared\":\[{\"spn\":3226,\"fmi\":2,\"oc\":1},{\"spn\":5246,\"fmi\":31,\"oc\":3}\].*\"mil\":\"on\"'"
check "second dtc event: both cleared, MIL off" \
	sh -c "grep '\"type\":\"dtc\"' '$T/out' | tail -1 | grep -q '\"cleared\":\[{\"spn\":3226.*\"active\":\[\],\"mil\":\"off\"'"
n=$(grep -c '"type":"vin-mismatch"' "$T/out")
check "VIN differs from the configured one: one vin-mismatch event (got $n)" test "$n" -eq 1
check "the event names both VINs" grep -q '"configured":"LZZ1EXCA7PN654321","engine":"LZZ1EXCA7PN123456"' "$T/out"
check "status shows the engine's VIN" grep -Eq '"vin": ?"LZZ1EXCA7PN123456"' "$T/state/status.json"

"$EMGWD" --decode "$T/trace.log" >"$T/decoded" 2>/dev/null
check "--decode: DM1 with two DTCs reassembled from BAM" \
	grep -q '"pgn":65226,"name":"DM1","lamps":{"mil":"on".*"dtcs":\[{"spn":3226,"fmi":2,"oc":1,"cm":0},{"spn":5246,"fmi":31,"oc":3,"cm":0}\]' "$T/decoded"
check "--decode: DM1 without faults has an empty list" grep -q '"name":"DM1","lamps":{"mil":"off".*"dtcs":\[\]' "$T/decoded"
check "--decode: the VIN" grep -q '"pgn":65260,"name":"VI","vin":"LZZ1EXCA7PN123456"' "$T/decoded"

# NMEA 2000: two engines in CANboat's plain format (already reassembled).
# 127488: instance, speed 0.25 rpm (1800 rpm = 7200 = 0x1C20), boost 100 Pa.
# 127489: instance 1, oil pressure/temperature unknown, coolant 0.01 K
#         (85 C = 35815 = 0x8BE7), alternator unknown (i16 0x7FFF), fuel
#         rate i16 0xFFFF = -0.1 L/h (valid: -1, not unknown), the rest
#         unknown, load 50 %, torque 60 %.
{
	for s in $(seq 0 9); do
		printf '2023-11-14T22:13:%02d.100Z,2,127488,16,255,8,00,20,1c,e8,03,ff,ff,ff\n' "$s"
		printf '2023-11-14T22:13:%02d.200Z,2,127488,17,255,8,01,40,1f,d0,07,ff,ff,ff\n' "$s"
		printf '2023-11-14T22:13:%02d.300Z,2,127489,17,255,26,01,ff,ff,ff,ff,e7,8b,ff,7f,ff,ff,ff,ff,ff,ff,ff,ff,ff,ff,ff,ff,ff,ff,ff,32,3c\n' "$s"
	done
} >"$T/n2k.log"
"$EMGWD" --decode "$T/n2k.log" >"$T/n2k.decoded" 2>/dev/null
check "--decode: N2K port engine, instance 0, 1800 rpm, boost 100 kPa" \
	grep -q '"pgn":127488,"name":"Engine Parameters, Rapid Update","instance":0,"signals":{"engine_speed_rpm":1800.0,"boost_kpa":100.0}' "$T/n2k.decoded"
check "--decode: N2K starboard engine, instance 1, coolant 85 C, load and torque" \
	grep -q '"pgn":127489,"name":"Engine Parameters, Dynamic","instance":1,"signals":{.*"coolant_c":85.0.*"engine_load_pct":50.0,"engine_torque_pct":60.0}' "$T/n2k.decoded"
check "--decode: an i16 of 0xFFFF is -0.1 L/h, not unknown" grep -q '"fuel_rate_lph":-0.1' "$T/n2k.decoded"
sed -i "s|^log = .*|log = $T/n2k.log|" "$T/emgw.conf"
rm -rf "$T/state"
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/n2k.out" 2>"$T/n2k.err"
check "records carry the second engine as name@1" \
	grep -q '"engine_speed_rpm":1800.0.*"engine_speed_rpm@1":2000.0' "$T/n2k.out"
# Per-engine profile: EEC1 taken only from SA 5 (the trace's engine is SA 0),
# ET1 ignored: neither speed nor coolant may appear.
sed -i "s|^log = .*|log = $T/trace.log\npgn_sa = 61444:5\nignore_pgn = 65262|" "$T/emgw.conf"
check "pgn_sa and ignore_pgn pass -n" "$EMGWD" -n -c "$T/emgw.conf"
rm -rf "$T/state"
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/prof.out" 2>/dev/null
check "EEC1 from another source address is not taken" sh -c "! grep -q engine_speed_rpm '$T/prof.out'"
check "an ignored PGN is not decoded" sh -c "! grep -q coolant_c '$T/prof.out'"
check "the rest still is" grep -q '"engine_load_pct"' "$T/prof.out"
printf '[can "x"]\nlog = /dev/null\nspn_override = 190:4:2:0.125:0:be 190:9:2:1:0\n' >"$T/bad.conf"
"$EMGWD" -n -c "$T/bad.conf" >/dev/null 2>"$T/bad.err"; rc=$?
check "a bad spn_override is refused with file:line (rc=$rc)" \
	sh -c "test $rc -eq 78 && grep -q 'bad.conf:3: spn_override: \"190:9:2:1:0\"' '$T/bad.err'"

# A real SocketCAN interface where the kernel has vcan.
if modprobe vcan 2>/dev/null && ip link add dev emgwvcan0 type vcan 2>/dev/null; then
	at_exit 'ip link del emgwvcan0 2>/dev/null'
	ip link set up emgwvcan0
	cat >"$T/vcan.conf" <<EOC
[device]
id = vcan-01
state_dir = $T/vstate
[can "engine"]
interface = emgwvcan0
[mqtt]
enabled = no
EOC
	spawn "$T/vcan.out" "$EMGWD" -c "$T/vcan.conf" --stdout
	for _ in $(seq 30); do cansend emgwvcan0 0CF00400#207D87481400F087; sleep 0.1; done
	wait_for 5 grep -q '"engine_speed_rpm":649.0' "$T/vcan.out"
	check "vcan: frames sent with cansend reach the records" grep -q '"engine_speed_rpm":649.0' "$T/vcan.out"
else
	echo "skip - vcan: this kernel has no vcan (modprobe/ip link failed); the SocketCAN read path is tested through a socketpair in tests/unit/test_canbus.c"
fi
finish
