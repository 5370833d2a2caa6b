#!/bin/bash
# golden.sh EMGWD SIMDIR OUTDIR: replays a fixed set of traces through emgwd
# (MQTT off, --stdout) and writes one JSON-lines file per scenario to OUTDIR.
# The traces come from the deterministic simulators (fixed seeds) and the
# bundled excavator log; together they raise every event type a replay can
# (records, restart, engine, smoke start/update/end with evidence, dtc,
# vin-mismatch, ecu-silent, dpf-low, nox-frozen).  tests/data/golden/ holds
# the output of main before the payload redesign; test_golden.sh compares.
set -eu
EMGWD=$1 SIM=$2 OUT=$3
TOP=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/emgw-golden.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT"

run() { # run NAME TRACE [watch lines...]
	local name=$1 trace=$2; shift 2
	{
		echo "[device]"
		echo "id = golden-$name"
		echo "vin = LZZ1EXCA7PN654321"
		echo "stage = 4"
		echo "rated_power_kw = 110"
		echo "state_dir = $W/$name.state"
		echo "[can \"engine\"]"
		echo "log = $trace"
		echo "speed = 0"
		echo "[mqtt]"
		echo "enabled = no"
		echo "[watch]"
		for l in "$@"; do echo "$l"; done
	} >"$W/$name.conf"
	"$EMGWD" -c "$W/$name.conf" --stdout --exit-when-done >"$OUT/$name.jsonl" 2>"$W/$name.err" ||
		{ echo "golden: emgwd failed on $name" >&2; cat "$W/$name.err" >&2; exit 1; }
}

run excavator "$TOP/tests/data/excavator.log"
"$SIM/enginesim" --machine excavator --duration 400 --seed 3 --smoke-at 60,250 --smoke-len 12 -o "$W/smoke.log"
run smoke "$W/smoke.log"
"$SIM/enginesim" --machine loader --duration 400 --seed 11 --fault ecu-unplugged:120:60 -o "$W/unplug.log"
run unplug "$W/unplug.log"
"$SIM/enginesim" --machine excavator --duration 600 --seed 10 --dpf --fault dpf-removed:100:400 -o "$W/dpf.log"
run dpf "$W/dpf.log" "has_dpf = yes"
"$SIM/enginesim" --machine excavator --duration 600 --seed 12 --fault nox-frozen:100:400 -o "$W/nox.log"
run nox "$W/nox.log"
"$SIM/enginesim" --machine vessel --duration 300 --seed 34 --cold --smoke-at 200 --smoke-len 15 -o "$W/vessel.log"
run vessel "$W/vessel.log"

# DM1 faults over BAM and a VIN that differs from the configured one.
"$SIM/tracegen" --duration 30 --seed 2 -o "$W/base.log"
/usr/bin/python3 - "$W/base.log" "$W/dtc.log" <<'PY'
import sys
base = [l for l in open(sys.argv[1])]
t0 = float(base[0][1:18])
extra = []
def add(t, ident, data):
    extra.append("(%.6f) can0 %s#%s\n" % (t0 + t, ident, data))
for s in range(30):
    t = s + 0.5
    if 10 <= s < 20:
        add(t, "1CECFF00", "200A0002FFCAFE00")
        add(t + 0.05, "1CEBFF00", "0140FF9A0C02017E")
        add(t + 0.10, "1CEBFF00", "02141F03FFFFFFFF")
    else:
        add(t, "18FECA00", "00FF00000000FFFF")
    if s % 5 == 0:
        vin = b"LZZ1EXCA7PN123456*"
        pk = [vin[i:i + 7].ljust(7, b"\xff") for i in range(0, len(vin), 7)]
        add(s + 0.7, "1CECFF00", "20120003FFECFE00")
        for i, p in enumerate(pk):
            add(s + 0.72 + i * 0.02, "1CEBFF00", "%02X%s" % (i + 1, p.hex().upper()))
lines = sorted(base + extra, key=lambda l: float(l[1:18]))
open(sys.argv[2], "w").writelines(lines)
PY
run dtc "$W/dtc.log"
