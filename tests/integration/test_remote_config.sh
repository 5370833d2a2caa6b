#!/bin/bash
# Remote configuration (set-config / confirm-config) against a real broker:
# a good configuration pushed and confirmed; one with three mistakes refused
# with three line errors, nothing changed; unsigned, wrongly signed and
# replayed commands refused; a configuration pointing MQTT at a wrong port
# rolled back within the window and a config-rollback event after
# reconnecting; kill -9 after an apply: the old or the new file whole, and
# the next start knows the pending state and rolls back.
# The broker is started by one call, start_broker PORT (START_BROKER names
# another function of lib.sh, for a second broker implementation).
source "$TOP/tests/integration/lib.sh"

start_broker() { "${START_BROKER:-start_mosquitto}" "$@"; }

PORT=$(free_port)
start_broker "$PORT"
DEV=rc-01
WINDOW=8 # s: confirm_window of every configuration here
start_sub "$PORT" "emgw/$DEV/#" "$T/got" rc-sub
pub() { mosquitto_pub -p "$PORT" -q 1 -t "emgw/$DEV/cmd/$1" -m "$2"; }
answer() { grep -P "^emgw/$DEV/cmd-result/$1\t" "$T/got" | tail -1 | cut -f2; }
answered() { [ -n "$(answer "$1")" ]; }
field() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

ALG=${KEY_ALG:-ED25519} # the operator key's algorithm: ED25519 or SM2
openssl genpkey -algorithm "$ALG" -out "$T/op.key" 2>/dev/null
openssl pkey -in "$T/op.key" -pubout -out "$T/op.pub"
openssl genpkey -algorithm "$ALG" -out "$T/other.key" 2>/dev/null
"$TOP/$B/tests/tracegen" --duration 3600 --start 1700300000 --seed 4 -o "$T/trace.log"

# conf MQTT_PORT PERIOD [EXTRA LINE]: a configuration's text.
conf() {
	cat <<EOC
[device]
id = $DEV
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 1
[sample]
period = $2
${3:-}
[mqtt]
host = 127.0.0.1
port = $1
reconnect_max = 1
operator_key = $T/op.pub
confirm_window = $WINDOW
EOC
}

# signed CMD ID PAYLOAD [KEY [TS]]: the signed request (tests/scripts/sign-command.sh).
signed() {
	printf '%s' "$3" >"$T/payload.json"
	bash "$TOP/tests/scripts/sign-command.sh" "${4:-$T/op.key}" "$DEV" "$1" "$T/payload.json" "$2" ${5:+"$5"}
}
# push ID FILE: set-config of FILE's text, replacing the running file.
push() {
	local p
	p=$(jq -c -n --rawfile text "$2" --arg r "$(sha "$T/emgw.conf")" '{text: $text, replaces: $r}')
	PUSHED=$(signed set-config "$1" "$p")
	pub set-config "$PUSHED"
}
confirm() { pub confirm-config "$(signed confirm-config "$1" "{\"hash\":\"$2\"}")"; }
status_of() { # status_of ID EXPR: EXPR over the status command's result
	pub status "{\"id\":\"$1\"}"
	wait_for 10 answered "$1" && field "$(answer "$1")" "$2"
}
start_emgwd() {
	spawn "$T/emgw.err.$1" env EMGW_LOG_PREFIX=1 "$EMGWD" -c "$T/emgw.conf"
	EPID=$!
	wait_for 20 grep -q "mqtt: connected" "$T/emgw.err.$1" || { echo "not ok - emgwd did not connect"; cat "$T/emgw.err.$1"; exit 1; }
}

conf "$PORT" 1 >"$T/emgw.conf"
start_emgwd 1
H0=$(sha "$T/emgw.conf")

# -- unsigned, wrongly signed: refused, nothing changed --------------------
conf "$PORT" 2 >"$T/good.conf"
pub set-config "{\"id\":\"u1\",\"payload\":\"{}\"}"
wait_for 10 answered u1
check "an unsigned set-config is refused ($(field "$(answer u1)" 'd["error"]'))" \
	test "$(field "$(answer u1)" 'd["ok"]')" = False
p=$(jq -c -n --rawfile text "$T/good.conf" --arg r "$H0" '{text: $text, replaces: $r}')
pub set-config "$(signed set-config w1 "$p" "$T/other.key")"
wait_for 10 answered w1
check "a set-config signed by another key is refused ($(field "$(answer w1)" 'd["error"]'))" \
	test "$(field "$(answer w1)" 'd["ok"], "signature" in d["error"]')" = "(False, True)"
pub set-config "$(signed set-config k1 "$p" "" $(($(date +%s) - 1000)))"
wait_for 10 answered k1
check "a set-config 1000 s old is refused ($(field "$(answer k1)" 'd["error"]'))" \
	test "$(field "$(answer k1)" 'd["ok"], d["error"].startswith("ts:")')" = "(False, True)"
check "nothing changed" test "$(sha "$T/emgw.conf")" = "$H0"

# -- a good configuration, pushed and confirmed ----------------------------
# Commented as a shipped file is (~50 KB): beyond the 4 KiB of other commands.
for i in $(seq 800); do echo "# comment $i: what a shipped configuration explains, line by line"; done >>"$T/good.conf"
H1=$(sha "$T/good.conf")
push g1 "$T/good.conf"
wait_for 10 answered g1
check "set-config of $(wc -c <"$T/good.conf") bytes answered ok with the old and new hashes" \
	test "$(field "$(answer g1)" 'd["ok"], d["result"]["old"], d["result"]["new"]')" = "(True, '$H0', '$H1')"
check "the file is the pushed one, the old one kept as .previous" \
	test "$(sha "$T/emgw.conf") $(sha "$T/emgw.conf.previous")" = "$H1 $H0"
check "status shows the new hash, pending" \
	test "$(status_of s1 'd["result"]["config"]["hash"], d["result"]["config"]["pending"]["new"]')" = "('$H1', '$H1')"
confirm c1 "$H1"
wait_for 10 answered c1
check "confirm-config answered ok" test "$(field "$(answer c1)" 'd["ok"], d["result"]["new"]')" = "(True, '$H1')"
check "status shows the new hash, nothing pending" \
	test "$(status_of s2 'd["result"]["config"]["hash"], d["result"]["config"]["pending"]')" = "('$H1', None)"
check "the new sample period is in force" \
	test "$(pub get-config '{"id":"gc1"}'; wait_for 10 answered gc1; field "$(answer gc1)" 'd["result"]["sample"]["period"]')" = 2.0
pub set-config "$PUSHED"
wait_for 10 answered g1
check "the same signed command again is refused as a replay" \
	wait_for 10 sh -c "grep -P '^emgw/$DEV/cmd-result/g1\t' '$T/got' | tail -1 | grep -q 'replay'"

# -- three mistakes: three line errors, nothing changed ---------------------
conf "$PORT" 2 "bogus_key = 1" | sed -e 's/^period = 2/period = abc/' -e "s/^port = $PORT/port = 99999/" >"$T/bad.conf"
push b1 "$T/bad.conf"
wait_for 10 answered b1
errs=$(field "$(answer b1)" '"|".join(d["detail"]["errors"])')
check "a configuration with three mistakes is refused with three line errors ($errs)" \
	test "$(field "$(answer b1)" 'd["ok"], len(d["detail"]["errors"]), all(e.split(":")[0].isdigit() for e in d["detail"]["errors"])')" = "(False, 3, True)"
check "nothing changed" test "$(sha "$T/emgw.conf") $(sha "$T/emgw.conf.previous")" = "$H1 $H0"
check "nothing pending" test "$(ls "$T/state/remote-pending" 2>/dev/null)" = ""

# -- MQTT pointed at a wrong port: rolled back within the window ------------
conf "$(free_port)" 2 >"$T/wrong.conf"
H2=$(sha "$T/wrong.conf")
t0=$(date +%s)
push x1 "$T/wrong.conf"
check "the wrong-port configuration is in place" wait_for 10 sh -c "sha256sum '$T/emgw.conf' | grep -q $H2"
rolled() { grep -P "^emgw/$DEV/event\t" "$T/got" | grep '"config-rollback"' | grep -q "$H2"; }
wait_for $((WINDOW + 30)) rolled
check "config-rollback arrived after reconnecting, $(($(date +%s) - t0)) s after the push" rolled
ev=$(grep -P "^emgw/$DEV/event\t" "$T/got" | grep '"config-rollback"' | grep "$H2" | tail -1 | cut -f2)
check "the event names the reason and the old and new hashes" \
	test "$(field "$ev" 'd["reason"], d["old"], d["new"]')" = "('not confirmed within $WINDOW s', '$H1', '$H2')"
check "the file in force is the previous one again" test "$(sha "$T/emgw.conf")" = "$H1"
check "status: the previous hash, nothing pending" \
	test "$(status_of s3 'd["result"]["config"]["hash"], d["result"]["config"]["pending"]')" = "('$H1', None)"

# -- kill -9 between the apply and the confirmation ------------------------
conf "$PORT" 3 >"$T/k.conf"
H3=$(sha "$T/k.conf")
push k2 "$T/k.conf"
wait_for 10 answered k2
kill -9 "$EPID"
wait "$EPID" 2>/dev/null
now=$(sha "$T/emgw.conf")
check "after kill -9 the file is the old or the new one, whole" \
	sh -c "[ '$now' = '$H1' ] || [ '$now' = '$H3' ]"
check "the pending state survived the kill" grep -q "new $H3" "$T/state/remote-pending"
start_emgwd 2
check "the next start knows the configuration is pending" \
	grep -q "remote: configuration ${H3:0:12} .* still waits for its confirmation" "$T/emgw.err.2"
check "status after the restart: pending $H3" \
	test "$(status_of s4 'd["result"]["config"]["pending"]["new"]')" = "$H3"
rolled3() { grep -P "^emgw/$DEV/event\t" "$T/got" | grep '"config-rollback"' | grep -q "$H3"; }
wait_for $((WINDOW + 30)) rolled3
check "unconfirmed after the restart: rolled back, config-rollback arrived" rolled3
check "the file in force is the previous one again" test "$(sha "$T/emgw.conf")" = "$H1"

# -- a pushed configuration that no longer loads at the next start ---------
# It passes the check when pushed; before a restart its password file becomes
# readable by others, which refuses the file: the previous one must start.
printf 'secret\n' >"$T/pw" && chmod 600 "$T/pw"
conf "$PORT" 3 | sed "/^\[mqtt\]\$/a username = u\npassword_file = $T/pw" >"$T/f.conf"
H4=$(sha "$T/f.conf")
push f1 "$T/f.conf"
wait_for 10 answered f1
check "a configuration with a password file is applied, pending" \
	test "$(field "$(answer f1)" 'd["ok"], d["result"]["new"]')" = "(True, '$H4')"
kill -9 "$EPID"
wait "$EPID" 2>/dev/null
chmod 644 "$T/pw"
check "the pushed file does not load any more" sh -c "! '$EMGWD' -n -c '$T/emgw.conf' 2>/dev/null"
start_emgwd 3
check "the next start took the previous file back" test "$(sha "$T/emgw.conf")" = "$H1"
rolled4() { grep -P "^emgw/$DEV/event\t" "$T/got" | grep '"config-rollback"' | grep "$H4" | grep -q "did not load at start"; }
wait_for 20 rolled4
check "config-rollback says it did not load at start" rolled4
check "status: the previous hash, nothing pending" \
	test "$(status_of s5 'd["result"]["config"]["hash"], d["result"]["config"]["pending"]')" = "('$H1', None)"

stop_pid "$EPID"
finish
