#!/bin/bash
# A paced replay makes the same records and events as a flat-out one: the
# bundled excavator log (300 s) at speed 60, where each batch of frames
# released in one wake-up (CANBUS_BATCH_MS of real time) spans 12 s of log,
# against the same log at speed 0.  Each frame is applied at its own log
# time, so nothing may differ but the store id (random) and the seal rows
# (sealed on real time, so elsewhere in the sequence; compared as
# test_golden.sh does: seq less the seals before it).
source "$TOP/tests/integration/lib.sh"

run() { # run SPEED
	cat >"$T/$1.conf" <<EOC
[device]
id = paced
vin = LZZ1EXCA7PN654321
stage = 4
rated_power_kw = 110
state_dir = $T/state-$1
[can "engine"]
log = $TOP/tests/data/excavator.log
speed = $1
[mqtt]
enabled = no
EOC
	"$EMGWD" -c "$T/$1.conf" --stdout --exit-when-done >"$T/$1.out" 2>"$T/$1.err" || return 1
	sed 's/,"sid":"[0-9a-f]\{32\}"//' "$T/$1.out" |
		awk '/"type":"seal"/ { n++; next }
		     match($0, /"seq":[0-9]+,/) { s = substr($0, RSTART + 6, RLENGTH - 7) - n
			$0 = substr($0, 1, RSTART + 5) s substr($0, RSTART + RLENGTH - 1) } 1' >"$T/$1.jsonl"
}

check "flat out: emgwd ran" run 0
check "speed 60: emgwd ran" run 60
n=$(wc -l <"$T/0.jsonl")
check "flat out: records and events came ($n lines)" test "$n" -gt 300
check "speed 60: byte for byte the flat-out records and events" cmp -s "$T/0.jsonl" "$T/60.jsonl"
cmp -s "$T/0.jsonl" "$T/60.jsonl" || diff "$T/0.jsonl" "$T/60.jsonl" | head -6 | cut -c1-300
finish
