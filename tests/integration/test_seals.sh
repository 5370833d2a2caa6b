#!/bin/bash
# Seals through a real mosquitto (README "Seals"): a replay, batched and
# compressed, cut by kill -9 four times and started again, then a broker
# outage in the last run, is delivered to a subscriber; `emgwd --verify`
# proves everything delivered (by --key from --pubkey, by -c, and from
# stdin), and finds the one record deleted, the one edited and the one seal
# removed in the saved file.  With batching, seals travel in the compressed
# telemetry batches, not on .../event.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT" "persistence true" "persistence_location $T/" "autosave_interval 1"
sed -i 's/^persistence false$//' "$T/mosquitto-$PORT.conf"
start_sub "$PORT" 'emgw/sl-01/telemetry/#' "$T/got.tel" seal-sub-t
SUB_T=$SUB_PID
start_sub "$PORT" 'emgw/sl-01/event' "$T/got.ev" seal-sub-e
SUB_E=$SUB_PID
"$TOP/$B/tests/tracegen" --duration 900 --start 1700000000 --seed 5 -o "$T/trace.log"
cat >"$T/emgw.conf" <<EOC
[device]
id = sl-01
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 30
[store]
commit_interval = 0.2
[mqtt]
host = 127.0.0.1
port = $PORT
batch_max = 10
batch_age = 0.5
compress = yes
reconnect_max = 1
EOC

# Boots 1-4: each killed -9 once a seal of its own rows has arrived.
CYCLES=4
for i in $(seq $CYCLES); do
	spawn "$T/emgw$i.err" "$EMGWD" -c "$T/emgw.conf"
	EPID=$!
	wait_for 60 grep -q "\"boot\":$i,[^{]*\"type\":\"seal\",\"sealed_boot\":$i," "$T/got.tel" ||
		echo "# boot $i: no seal of its own arrived"
	# ... and rows after it (two more batches), so the kill leaves a range
	# open even on a slow machine.
	before=$(grep -c "\"boot\":$i," "$T/got.tel")
	wait_for 20 sh -c "test \$(grep -c '\"boot\":$i,' '$T/got.tel') -ge $((before + 2))"
	kill -9 "$EPID"
	wait "$EPID" 2>/dev/null
done
# The last boot: the broker goes away for a while, then the replay ends.
L=$((CYCLES + 1))
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/made" 2>"$T/emgw$L.err" &
EPID=$!
PIDS="$PIDS $EPID"
wait_for 30 grep -q "\"boot\":$L," "$T/got.tel"
stop_pid "$MOSQ_PID"
n=$(grep -c '"sig"' "$T/made")
wait_for 60 sh -c "test \$(grep -c '\"sig\"' '$T/made') -ge $((n + 150))"
spawn "$T/mosquitto-2.log" mosquitto -c "$T/mosquitto-$PORT.conf"
MOSQ_PID=$!
wait_exit 120 "$EPID"
check "the last run replays to the end through an outage and exits 0 (rc=$rc)" test "$rc" -eq 0
# (A kill just after a seal leaves nothing open: not every kill leaves a range.)
open=$(cat "$T"/emgw[2-$L].err | grep -c 'ended without a seal')
check "boots after a kill sealed the range the kill left open ($open of $CYCLES)" test "$open" -ge 1
# Every message sent is saved once the last row the last boot sent (its seal
# made at the replay's end) has reached the subscribers.
lastseq=$(grep '"type":"seal"' "$T/made" | tail -1 | sed 's/.*"seq":\([0-9]*\),.*/\1/')
wait_for 30 grep -q "\"boot\":$L,\"seq\":$lastseq," "$T/got.tel"
last=$(grep -o "\"type\":\"seal\",\"sealed_boot\":$L" "$T/got.tel" | wc -l)
kill "$SUB_T" "$SUB_E"
wait "$SUB_T" "$SUB_E" 2>/dev/null
cat "$T/got.tel" "$T/got.ev" >"$T/got"
check "the last boot made seals ($last)" test "$last" -ge 1
check "telemetry came batched and compressed" grep -q $'^emgw/sl-01/telemetry/z\t{"v":1,"dev":"sl-01","records":\[' "$T/got"
check "seals came inside the compressed batches" grep -q $'^emgw/sl-01/telemetry/z\t.*"type":"seal"' "$T/got"
check "no seal came alone on .../event" sh -c "! grep -q '\"type\":\"seal\"' '$T/got.ev'"
check "a batch holds at most batch_max records and 2 seal rows besides" /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if "\t{" in line and "\"records\":[" in line:
        rows = json.loads(line.split("\t", 1)[1])["records"]
        proof = sum(1 for r in rows if r.get("type") in ("seal", "evicted"))
        assert len(rows) - proof <= 10 and proof <= 2, line[:200]
' "$T/got.tel"

"$EMGWD" -c "$T/emgw.conf" --pubkey >"$T/pub.pem"
check "--pubkey prints a PEM public key" grep -q 'BEGIN PUBLIC KEY' "$T/pub.pem"
key=$(grep -o '"type":"seal"[^}]*"key":"[0-9a-f]*"' "$T/got.tel" | tail -1 | sed 's/.*"key":"//; s/"//')
check "status names the seal key ($key)" test "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seal"]["key"])' "$T/state/status.json")" = "$key"
check "the key file is 0600" test "$(stat -c %a "$T/state/seal.key")" = 600
"$EMGWD" --verify "$T/got" --key "$T/pub.pem" >"$T/v.out" 2>&1
rc=$?
check "everything delivered is proven (rc=$rc)" test "$rc" -eq 0
grep -q '^proven' "$T/v.out" || cat "$T/v.out"
check "every boot is reported" test "$(grep -c ' boot [0-9]*: [0-9]* rows' "$T/v.out")" -eq "$L"
"$EMGWD" --verify "$T/got" --key "$T/none.pem" >/dev/null 2>&1
rc=$?
check "a key that cannot be read: exit 2 (rc=$rc)" test "$rc" -eq 2
check "-c FILE finds the key" "$EMGWD" -c "$T/emgw.conf" --verify "$T/got"
check "--verify - reads stdin" sh -c "'$EMGWD' --verify - --key '$T/pub.pem' <'$T/got' >/dev/null"

# One record deleted: a whole event line (not a seal) goes.
n=$(grep -n '"type":"gap"\|"type":"engine"\|"type":"clock"\|"type":"restart"' "$T/got" | head -1 | cut -d: -f1)
sed "${n}d" "$T/got" >"$T/deleted"
"$EMGWD" --verify "$T/deleted" --key "$T/pub.pem" >"$T/v.del" 2>&1
rc=$?
check "a deleted record is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q ' missing' '$T/v.del'"
# One record edited inside a batch: a speed changed.  The batch is the 20th
# with a speed (as sed finds it) whose records came once: a kill leaves rows
# sent twice (more on a slow machine), and an edited copy of one is found as
# "the copies differ", not by its seal.
n=$(/usr/bin/python3 -c '
import collections, json, re, sys
batches, seen = [], collections.Counter()
for i, line in enumerate(open(sys.argv[1]), 1):
    if "\t{" in line and "\"records\":[" in line:
        rows = json.loads(line.split("\t", 1)[1])["records"]
        seen.update((r.get("boot"), r.get("seq")) for r in rows)
        batches.append((i, line, rows))
once = [i for i, line, rows in batches if re.search("\"vehicle_speed_kmh\":[0-9]", line)
        and all(seen[(r.get("boot"), r.get("seq"))] == 1 for r in rows)]
print(once[min(19, len(once) - 1)])
' "$T/got")
sed "${n}s/\"vehicle_speed_kmh\":\([0-9]\)/\"vehicle_speed_kmh\":9\1/" "$T/got" >"$T/edited"
check "the edit changed the file" sh -c "! cmp -s '$T/got' '$T/edited'"
"$EMGWD" --verify "$T/edited" --key "$T/pub.pem" >"$T/v.edit" 2>&1
rc=$?
check "an edited record is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q 'changed (hash differs)' '$T/v.edit'"
# One seal removed: the last boot's second, so later seals of its boot chain
# from it (whatever the kills above left), and every copy of it (a seal may
# arrive twice, like any row, after an outage), cut out of its batch.
sseq=$(grep -o "\"boot\":$L,\"seq\":[0-9]*,[^{]*\"type\":\"seal\",\"sealed_boot\":$L," "$T/got" |
	sed 's/.*"seq":\([0-9]*\),.*/\1/' | sort -un | sed -n 2p)
/usr/bin/python3 - "$T/got" "$T/noseal" "$L" "$sseq" <<'EOP'
import re, sys
src, dst, boot, seq = sys.argv[1:]
seal = re.compile(r',?\{[^{}]*"boot":%s,"seq":%s,[^{}]*"type":"seal"[^{}]*\}' % (boot, seq))
with open(dst, "w") as out:
    for line in open(src):
        out.write(seal.sub("", line).replace("[,", "["))
EOP
check "the seal was cut out" sh -c "! cmp -s '$T/got' '$T/noseal'"
"$EMGWD" --verify "$T/noseal" --key "$T/pub.pem" >"$T/v.noseal" 2>&1
rc=$?
check "a removed seal is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q 'chain break' '$T/v.noseal'"
finish
