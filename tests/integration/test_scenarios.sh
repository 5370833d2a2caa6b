#!/bin/bash
# The emission brain measured: 22 scenarios from tests/sim/enginesim (three
# machines; clean runs; smoke from a stuck turbo or a clogged air filter;
# cold starts and DPF regenerations as traps; a removed DPF, an unplugged
# ECU, frozen NOx readings), each replayed as fast as it goes through
# emgwd (MQTT off, --stdout) and scored against the simulator's labels by
# scenarios.py: recall of smoke episodes >= 0.95, at most 1 false alarm per
# 10 engine hours, every fault's event raised.  Prints the table.
source "$TOP/tests/integration/lib.sh"
SIM="$TOP/$B/tests/enginesim"
[ -x "$SIM" ] || { echo "not ok - $SIM not built"; exit 1; }

# name | machine | duration | enginesim options | extra config lines (; separated)
SCENARIOS=$(cat <<'EOS'
exc-clean-1|excavator|1800|--seed 1|
exc-clean-2|excavator|1800|--seed 2|
exc-smoke-2|excavator|1800|--seed 3 --smoke-at 300,900 --smoke-len 12|
exc-smoke-5|excavator|1800|--seed 4 --smoke-at 200,500,800,1100,1500 --smoke-len 8|
exc-cold|excavator|1800|--seed 5 --cold|
exc-cold-smoke|excavator|1800|--seed 6 --cold --smoke-at 1200|
exc-regen|excavator|1800|--seed 7 --dpf --regen-at 300,1200 --regen-len 400|has_dpf = yes
exc-regen-smoke|excavator|1800|--seed 8 --dpf --regen-at 200 --smoke-at 900,1400|has_dpf = yes
exc-filter|excavator|1800|--seed 9 --fault clogged-filter:600:900|
exc-dpf-removed|excavator|1800|--seed 10 --dpf --fault dpf-removed:300:1500|has_dpf = yes
exc-ecu-unplugged|excavator|1200|--seed 11 --fault ecu-unplugged:500:120|
exc-nox-frozen|excavator|1500|--seed 12 --fault nox-frozen:400:700|
ldr-clean|loader|1800|--seed 21|
ldr-smoke|loader|1800|--seed 22 --smoke-at 400,1000,1600|
ldr-cold|loader|1800|--seed 23 --cold|
ldr-regen|loader|1800|--seed 24 --dpf --regen-at 600 --regen-len 600|has_dpf = yes
ldr-filter|loader|1800|--seed 25 --fault clogged-filter:300:1200|
ldr-unplug-smoke|loader|1500|--seed 26 --fault ecu-unplugged:300:60 --smoke-at 900|
ves-clean|vessel|1800|--seed 31|
ves-smoke|vessel|1800|--seed 32 --smoke-at 500,1300 --smoke-len 20|
ves-regen|vessel|1800|--seed 33 --dpf --regen-at 400 --regen-len 600|has_dpf = yes
ves-cold-smoke|vessel|1800|--seed 34 --cold --smoke-at 1500 --smoke-len 15|
EOS
)

names=""
while IFS='|' read -r name machine dur opts extra; do
	[ -n "$name" ] || continue
	# shellcheck disable=SC2086
	"$SIM" --machine "$machine" --duration "$dur" $opts -o "$T/$name.log" --labels "$T/$name.labels" ||
		{ echo "not ok - enginesim $name"; exit 1; }
	{
		echo "[device]"
		echo "id = $name"
		echo "state_dir = $T/$name.state"
		echo "[can \"engine\"]"
		echo "log = $T/$name.log"
		echo "speed = 0"
		echo "[mqtt]"
		echo "enabled = no"
		echo "[watch]"
		echo "$extra"
	} >"$T/$name.conf"
	"$EMGWD" -c "$T/$name.conf" --stdout --exit-when-done >"$T/$name.out" 2>"$T/$name.err" ||
		{ echo "not ok - emgwd on $name"; tail "$T/$name.err"; exit 1; }
	rm -f "$T/$name.log"
	names="$names $name"
done <<<"$SCENARIOS"

n=$(echo $names | wc -w)
check "at least 20 scenarios ($n)" test "$n" -ge 20
# shellcheck disable=SC2086
/usr/bin/python3 "$TOP/tests/integration/scenarios.py" "$T" $names | tee "$T/table"
check "recall >= 0.95, <= 1 false alarm per 10 engine hours, every fault seen" \
	grep -q '^verdict: pass' "$T/table"
check "cold starts and regenerations were traps for nothing" \
	sh -c "! grep -E '^(exc|ldr|ves)-(cold|regen)[^ ]* ' '$T/table' | awk '\$5 != 0' | grep -q ."
# Evidence: every smoke end carries its 1 Hz window, and it reaches back
# evidence (30 s) before the start.
check "every smoke end has an evidence window from 30 s before its start" /usr/bin/python3 -c "
import json, sys, glob
from datetime import datetime, timezone
def e(s): return datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=timezone.utc).timestamp()
n = 0
for f in glob.glob('$T/*.out'):
    for l in open(f):
        if '\"smoke\"' not in l or '\"end\"' not in l: continue
        ev = json.loads(l); w = ev['evidence']; n += 1
        assert len(w['rows']) >= 30 and len(w['fields']) == 13, f
        assert abs(e(ev['since']) - e(w['from']) - 30) <= 1, (f, ev['since'], w['from'])
assert n > 0
"
finish
