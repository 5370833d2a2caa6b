#!/bin/bash
# Zones at start-up: a missing, malformed or huge [zones] file does not stop
# emgwd (under systemd it would restart forever): it runs with zones
# disabled, says why in status and in one zones-disabled event; `-n`
# reports the same problem as FILE:LINE of the `file` key, exit 78.  A
# 41 MB file is refused by its size before it is read.
source "$TOP/tests/integration/lib.sh"
PY=/usr/bin/python3

conf() { # conf NAME ZONESFILE
	mkdir -p "$T/$1"
	# (a source after [zones], so that `file` stays on line 7)
	printf '[device]\nid = zones-%s\nstate_dir = %s/%s/state\n[mqtt]\nenabled = no\n[zones]\nfile = %s\n[can "engine"]\nlog = %s\nloop = yes\n' \
		"$1" "$T" "$1" "$2" "$TOP/tests/data/excavator.log" >"$T/$1/emgw.conf"
}
# status_zones NAME: detectors.zones of the status file
status_zones() {
	$PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["detectors"]["zones"]))' "$T/$1/state/status.json" 2>/dev/null
}
# run_case NAME PATTERN: emgwd comes up, says PATTERN in status and an event
run_case() {
	local name=$1 pattern=$2 rc
	"$EMGWD" -n -c "$T/$name/emgw.conf" >"$T/$name/check.out" 2>"$T/$name/check.err"
	rc=$?
	check "$name: -n refuses (rc=$rc)" test "$rc" -eq 78
	check "$name: -n says $T/$name/emgw.conf:7: [zones] file: ...$pattern" \
		grep -q "^$T/$name/emgw.conf:7: \[zones\] file: .*$pattern" "$T/$name/check.err"
	EMGW_LOG_PREFIX=1 "$EMGWD" -c "$T/$name/emgw.conf" --stdout >"$T/$name/out" 2>"$T/$name/err" &
	local pid=$!
	PIDS="$PIDS $pid"
	wait_for 15 grep -q '"type":"zones-disabled"' "$T/$name/out"
	check "$name: a zones-disabled event with the reason" \
		grep -q "\"type\":\"zones-disabled\",\"reason\":\".*$pattern" "$T/$name/out"
	wait_for 15 sh -c "grep -q zones-disabled '$T/$name/state/status.json'"
	check "$name: status says zones-disabled ($(status_zones "$name" | cut -c 1-80))" \
		sh -c "grep -q 'zones-disabled.*$pattern' '$T/$name/state/status.json'"
	check "$name: emgwd runs on" kill -0 "$pid"
	check "$name: the reason logged (log_warnx)" grep -q "^<[34]>.*$pattern.*; zones disabled" "$T/$name/err"
	HWM=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")
	stop_pid "$pid"
	check "$name: one zones-disabled event" test "$(grep -c '"type":"zones-disabled"' "$T/$name/out")" = 1
}

conf missing "$T/nowhere.geojson"
run_case missing "No such file"

conf malformed "$T/bad.geojson"
printf '{"type":"FeatureCollection","features":[\n  {"type":"Feature"\n' >"$T/bad.geojson"
run_case malformed "bad.geojson:3"

# 41 MB of JSON numbers (a parse of it would cost some 200 MB).
conf huge "$T/huge.geojson"
$PY -c 'import sys; f=open(sys.argv[1], "w"); f.write("{\"type\":\"FeatureCollection\",\"features\":[],\"pad\":[" + "1234567890," * ((41 << 20) // 11) + "0]}")' "$T/huge.geojson"
run_case huge "too large"
check "huge: peak RSS stays small (${HWM} kB < 40000 kB)" test "${HWM:-999999}" -lt 40000

# A good file passes -n and is used.
conf good "$T/good.geojson"
printf '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"yard"},"geometry":{"type":"Polygon","coordinates":[[[120,30],[121,30],[121,31],[120,30]]]}}]}\n' >"$T/good.geojson"
check "good: -n passes" "$EMGWD" -n -c "$T/good/emgw.conf"
finish
