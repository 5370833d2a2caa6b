#!/bin/bash
# Start-up faults are never fatal (issue 14): a corrupt store (truncated, a
# garbage header, random pages in the middle) is moved aside and a new store
# started; a read-only state directory gives a store in RAM; emgwd comes up
# every time.  A second emgwd on the same store exits 75; emgwd -n warns of
# all this without touching anything.
source "$TOP/tests/integration/lib.sh"

"$TOP/$B/tests/tracegen" --duration 120 --seed 7 -o "$T/trace.log"
# conf NAME STATE [extra lines]: a fast replay, no uplink
conf() {
	local name=$1 state=$2
	shift 2
	printf '[device]\nid = start-%s\nstate_dir = %s\n[can "engine"]\nlog = %s\nspeed = 0\n' \
		"$name" "$state" "$T/trace.log"
	printf '[mqtt]\nenabled = no\n[store]\ncommit_interval = 0\n'
	for l in "$@"; do echo "$l"; done
}
# run NAME CONF [runner...]: emgwd --exit-when-done, its stdout, stderr, rc
run() {
	local name=$1 cfg=$2
	shift 2
	"$@" "$EMGWD" -c "$cfg" --stdout --exit-when-done >"$T/$name.out" 2>"$T/$name.err"
	echo $? >"$T/$name.rc"
}
rows() { grep -c '"seq":' "$T/$1.out"; }

# 1. Three ways a store file breaks.
conf corrupt "$T/state" >"$T/corrupt.conf"
DB=$T/state/emgw.db
for how in truncated header pages; do
	rm -rf "$T/state"
	run "make-$how" "$T/corrupt.conf"
	size=$(stat -c %s "$DB")
	old_id=$(jq -r .store.id "$T/state/status.json")
	case $how in
	truncated) truncate -s $((size / 2 + 100)) "$DB" ;;
	header) head -c 100 /dev/urandom | dd of="$DB" conv=notrunc status=none ;;
	pages) head -c 8192 /dev/urandom | dd of="$DB" bs=1 seek=$((size / 2 - 4096)) conv=notrunc status=none ;;
	esac
	"$EMGWD" -n -c "$T/corrupt.conf" >"$T/check-$how.out" 2>&1
	check "$how: emgwd -n warns the store would be moved aside, and still says OK" \
		sh -c "grep -q 'it would be moved aside' '$T/check-$how.out' && grep -qx 'configuration OK' '$T/check-$how.out'"
	check "$how: emgwd -n moved nothing" test "$(ls "$T/state" | grep -c corrupt)" -eq 0
	run "$how" "$T/corrupt.conf"
	check "$how: emgwd came up and ran (rc $(cat "$T/$how.rc"), $(rows "$how") rows)" \
		test "$(cat "$T/$how.rc")" -eq 0 -a "$(rows "$how")" -gt 100
	check "$how: the old file is kept as emgw.db.corrupt-<time>" \
		sh -c "ls '$T/state' | grep -Eq '^emgw\.db\.corrupt-[0-9]{8}T[0-9]{6}Z$'"
	check "$how: the log says it was moved aside and a new store started" \
		grep -q "store: $DB was unusable (.*): moved aside to $DB.corrupt-.*, a new store started" "$T/$how.err"
	check "$how: the new store starts at boot 1 with a new id ($old_id, now $(jq -r .store.id "$T/state/status.json"))" \
		sh -c "head -n 1 '$T/$how.out' | grep -q '\"boot\":1,' && test \"\$(jq -r .store.id '$T/state/status.json')\" != '$old_id'"
	check "$how: a store alarm event in the new store names the moved file" \
		grep -q '"type":"store","state":"moved-aside","problem":".*","moved_to":"'"$DB"'.corrupt-' "$T/$how.out"
	check "$how: status says store mode file" \
		test "$(jq -r .store.mode "$T/state/status.json")" = file
done

# 2. A state directory emgwd cannot write: a store in RAM, loudly.
mkdir -p "$T/ro"
conf ro "$T/ro" >"$T/ro.conf"
chmod 0555 "$T/ro"
AS=()
# root writes anywhere: drop the capability that lets it
[ "$(id -u)" -eq 0 ] && AS=(setpriv --inh-caps=-dac_override --bounding-set=-dac_override)
"${AS[@]}" "$EMGWD" -n -c "$T/ro.conf" >"$T/check-ro.out" 2>&1
check "read-only state_dir: emgwd -n warns of the store in RAM" \
	grep -q "state_dir $T/ro: not writable (Permission denied): the store would be kept in RAM" "$T/check-ro.out"
run ro "$T/ro.conf" "${AS[@]}"
check "read-only state_dir: emgwd came up and ran (rc $(cat "$T/ro.rc"), $(rows ro) rows)" \
	test "$(cat "$T/ro.rc")" -eq 0 -a "$(rows ro)" -gt 100
check "read-only state_dir: a warning says the store is in RAM" \
	grep -q "^store: $T/ro/emgw.db cannot be used (.*): the store is in RAM, a restart loses it" "$T/ro.err"
check "read-only state_dir: a store event says the store is in RAM" \
	grep -q '"type":"store","state":"ram","problem":"' "$T/ro.out"
check "read-only state_dir: nothing was written there" test -z "$(ls -A "$T/ro")"
chmod 0755 "$T/ro"

# 3. One emgwd per store.
conf lock "$T/lock" "[can \"loop\"]" "log = $T/trace.log" "loop = yes" "speed = 1" >"$T/lock.conf"
"$EMGWD" -c "$T/lock.conf" >"$T/lock1.out" 2>"$T/lock1.err" &
L1=$!
PIDS="$PIDS $L1"
wait_for 10 test -e "$T/lock/emgw.db.lock"
wait_for 10 grep -q "emgwd .*: device start-lock" "$T/lock1.err"
"$EMGWD" -c "$T/lock.conf" >"$T/lock2.out" 2>"$T/lock2.err"
rc=$?
check "a second emgwd on the same store exits 75 (rc $rc)" test "$rc" -eq 75
check "... saying why" grep -q "another emgwd is running on the store $T/lock/emgw.db" "$T/lock2.err"
check "... and the first runs on" kill -0 "$L1"
"$EMGWD" -n -c "$T/lock.conf" >"$T/check-lock.out" 2>&1
check "emgwd -n leaves a running store alone" grep -q "in use by a running emgwd (not checked)" "$T/check-lock.out"
stop_pid "$L1"

for f in "$T"/*.err; do echo "--- $f"; head -n 20 "$f"; done
finish
