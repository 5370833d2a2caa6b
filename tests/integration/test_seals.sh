#!/bin/bash
# Seals through a real mosquitto (README "Seals"): a replay, batched and
# compressed, cut once by kill -9 and started again, is delivered to a
# subscriber; `emgwd --verify` proves everything delivered (by --key from
# --pubkey, by -c, and from stdin), and finds the one record deleted and the
# one edited in the saved file.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT"
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
EOC

# Boot 1: killed -9 once it has sealed and sent some rows.
spawn "$T/emgw1.err" "$EMGWD" -c "$T/emgw.conf"
EPID=$!
wait_for 60 grep -q '"type":"seal"' "$T/got.ev"
kill -9 "$EPID"
wait "$EPID" 2>/dev/null
# Boot 2: the replay again, to its end.
timeout 120 "$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/made2" 2>"$T/emgw2.err"
rc=$?
check "emgwd replays to the end and exits 0 (rc=$rc)" test "$rc" -eq 0
check "boot 2 sealed the range boot 1 left open" grep -q 'boot 1 ended without a seal' "$T/emgw2.err"
# Every message sent is saved once the last row boot 2 sent (its seal made at
# the replay's end) has reached the subscribers.
lastseq=$(grep '"type":"seal"' "$T/made2" | tail -1 | sed 's/.*"seq":\([0-9]*\),.*/\1/')
wait_for 30 grep -q "\"boot\":2,\"seq\":$lastseq," "$T/got.ev"
last=$(grep -c '"type":"seal","sealed_boot":2' "$T/got.ev")
kill "$SUB_T" "$SUB_E"
wait "$SUB_T" "$SUB_E" 2>/dev/null
cat "$T/got.tel" "$T/got.ev" >"$T/got"
check "boot 2 made seals ($last)" test "$last" -ge 1
check "telemetry came batched and compressed" grep -q $'^emgw/sl-01/telemetry/z\t{"v":1,"dev":"sl-01","records":\[' "$T/got"

"$EMGWD" -c "$T/emgw.conf" --pubkey >"$T/pub.pem"
check "--pubkey prints a PEM public key" grep -q 'BEGIN PUBLIC KEY' "$T/pub.pem"
key=$(grep -o '"type":"seal".*"key":"[0-9a-f]*"' "$T/got.ev" | tail -1 | sed 's/.*"key":"//; s/"//')
check "status names the seal key ($key)" test "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seal"]["key"])' "$T/state/status.json")" = "$key"
check "the key file is 0600" test "$(stat -c %a "$T/state/seal.key")" = 600
"$EMGWD" --verify "$T/got" --key "$T/pub.pem" >"$T/v.out" 2>&1
rc=$?
check "everything delivered is proven (rc=$rc)" test "$rc" -eq 0
grep -q '^proven' "$T/v.out" || cat "$T/v.out"
check "both boots are reported" sh -c "grep -q 'boot 1: ' '$T/v.out' && grep -q 'boot 2: ' '$T/v.out'"
check "-c FILE finds the key" "$EMGWD" -c "$T/emgw.conf" --verify "$T/got"
check "--verify - reads stdin" sh -c "'$EMGWD' --verify - --key '$T/pub.pem' <'$T/got' >/dev/null"

# One record deleted: a whole event line (not a seal) goes.
n=$(grep -n '"type":"gap"\|"type":"engine"\|"type":"clock"\|"type":"restart"' "$T/got" | head -1 | cut -d: -f1)
sed "${n}d" "$T/got" >"$T/deleted"
"$EMGWD" --verify "$T/deleted" --key "$T/pub.pem" >"$T/v.del" 2>&1
rc=$?
check "a deleted record is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q ' missing' '$T/v.del'"
# One record edited inside a batch: a speed changed.
n=$(grep -n '"records":\[' "$T/got" | sed -n 20p | cut -d: -f1)
sed "${n}s/\"vehicle_speed_kmh\":\([0-9]\)/\"vehicle_speed_kmh\":9\1/" "$T/got" >"$T/edited"
check "the edit changed the file" sh -c "! cmp -s '$T/got' '$T/edited'"
"$EMGWD" --verify "$T/edited" --key "$T/pub.pem" >"$T/v.edit" 2>&1
rc=$?
check "an edited record is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q 'changed (hash differs)' '$T/v.edit'"
# One seal removed.
n=$(grep -n '"type":"seal"' "$T/got" | sed -n 2p | cut -d: -f1)
sed "${n}d" "$T/got" >"$T/noseal"
"$EMGWD" --verify "$T/noseal" --key "$T/pub.pem" >"$T/v.noseal" 2>&1
rc=$?
check "a removed seal is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q 'chain break' '$T/v.noseal'"
finish
