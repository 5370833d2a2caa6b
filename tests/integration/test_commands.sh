#!/bin/bash
# Remote commands against a real mosquitto: each command is answered on
# cmd-result/<id>; 20 malformed or unknown requests get error answers and
# change nothing; a retained command is ignored; get-config shows no secret.
# Diagnostics: get-log answers emgwd's own newest log lines; poll-once the
# Modbus values as the daemon holds them (a refused point, a dead device),
# without a connection of its own; both within their own rate limit.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT"
DEV=cmd-01
start_sub "$PORT" "emgw/$DEV/#" "$T/got" cmd-sub
pub() { mosquitto_pub -p "$PORT" -q 1 -t "emgw/$DEV/cmd/$1" -m "$2"; }
answer() { grep -P "^emgw/$DEV/cmd-result/$1\t" "$T/got" | tail -1 | cut -f2; }
answered() { [ -n "$(answer "$1")" ]; }
field() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# A retained command waits at the broker before emgwd subscribes: ignored.
mosquitto_pub -p "$PORT" -q 1 -r -t "emgw/$DEV/cmd/set-sample-period" -m '{"id":"r1","period":7}'

"$TOP/$B/tests/tracegen" --duration 600 --start 1700300000 --seed 4 -o "$T/trace.log"
# A Modbus TCP server: an ECU (unit 2) and a shore-power meter (unit 3) whose
# power register answers with an exception.
MBPORT=$(free_port)
PROF="$TOP/config/profiles"
spawn "$T/mbsim.log" "$TOP/$B/tests/mbsim" --tcp "$MBPORT" --period 14 \
	--unit "2:$PROF/china-ecu.conf:$TOP/tests/data/china-ecu.script" \
	--unit "3:$PROF/shore-power.conf:$TOP/tests/data/shore-power.script" --hole 3:input:12
MBSIM_PID=$!
wait_for 10 port_open "$MBPORT" || { echo "not ok - mbsim did not start"; cat "$T/mbsim.log"; exit 1; }
echo "hunter2-secret" >"$T/pass"
chmod 600 "$T/pass" # a secret readable by others is refused
cat >"$T/emgw.conf" <<EOC
[device]
id = $DEV
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 1
[mqtt]
host = 127.0.0.1
port = $PORT
username = secretuser
password_file = $T/pass
[bus "gw"]
type = tcp
host = 127.0.0.1
port = $MBPORT
response_timeout = 0.2
[device "ecu"]
bus = gw
unit = 2
profile = $PROF/china-ecu.conf
interval = 0.5
[device "shore"]
bus = gw
unit = 3
profile = $PROF/shore-power.conf
interval = 0.5
EOC
spawn "$T/emgw.err" env EMGW_LOG_PREFIX=1 "$EMGWD" -c "$T/emgw.conf"
EPID=$!
wait_for 20 grep -q "emgw/$DEV/telemetry" "$T/got" || { echo "not ok - no telemetry"; cat "$T/emgw.err"; exit 1; }

pub ping '{"id":"p1"}'
pub status '{"id":"s1"}'
pub get-config '{"id":"g1"}'
pub snapshot '{"id":"n1"}'
pub set-log-level '{"id":"l1","level":"debug"}'
pub set-sample-period '{"id":"sp1","period":2}'
for id in p1 s1 g1 n1 l1 sp1; do wait_for 10 answered "$id"; done
check "ping answered ok with pong" test "$(field "$(answer p1)" 'd["ok"], d["result"]')" = "(True, 'pong')"
check "status answered with the status object" test "$(field "$(answer s1)" 'd["ok"], d["result"]["dev"]')" = "(True, '$DEV')"
g=$(answer g1)
check "get-config answered with the configuration" test "$(field "$g" 'd["ok"], d["result"]["mqtt"]["port"]')" = "(True, $PORT)"
check "get-config shows no secret (user name, password file)" \
	sh -c "! echo '$g' | grep -q -e secretuser -e hunter2 -e '$T/pass' -e password"
seq=$(field "$(answer n1)" 'd["result"]["seq"]')
check "snapshot answered with a seq ($seq)" test "$(field "$(answer n1)" 'd["ok"]')" = True
wait_for 10 grep -q "\"seq\":$seq,.*\"trigger\":\"snapshot\"" "$T/got"
check "the snapshot record arrived" grep -q "\"seq\":$seq,.*\"trigger\":\"snapshot\"" "$T/got"
check "set-log-level answered ok" test "$(field "$(answer l1)" 'd["ok"]')" = True
check "debug logging is on" wait_for 10 grep -q '^<7>command: debug messages on' "$T/emgw.err"
pub set-log-level '{"id":"l2","level":"info"}'
check "set-sample-period answered ok" test "$(field "$(answer sp1)" 'd["ok"], d["result"]["period"]')" = "(True, 2.0)"
check "the retained command was not run" sh -c "! grep -q 'cmd-result/r1' '$T/got'"

# Records now come every 2 s of log time.
n0=$(grep -c '"sig"' "$T/got")
wait_for 20 sh -c "test \$(grep -c '\"sig\"' '$T/got') -ge $((n0 + 4))"
spacing() {
	grep '"sig"' "$T/got" | grep -v snapshot | tail -3 | grep -o '"ts":"[^"]*"' | cut -d'"' -f4 |
		while read -r t; do date -d "$t" +%s; done | awk 'NR > 1 {print $1 - p} {p = $1}' | sort -u
}
check "records are 2 s apart after set-sample-period 2 ($(spacing | tr '\n' ' '))" test "$(spacing)" = 2

# 20 malformed or unknown requests: every one answered with an error.
big=$(head -c 5000 /dev/zero | tr '\0' 'x')
pub reboot '{"id":"e1"}'
pub shell '{"id":"e2","cmd":"rm -rf /"}'
pub set-sample-period '{"id":"e3","period":0}'
pub set-sample-period '{"id":"e4","period":1000}'
pub set-sample-period '{"id":"e5","period":"5"}'
pub set-sample-period '{"id":"e6"}'
pub set-sample-period '{"id":"e7","period":5,"extra":1}'
pub set-log-level '{"id":"e8","level":"trace"}'
pub ping '{"id":"e9","x":true}'
pub status '{"id":"e10","id":"e10b"}'
pub set-sample-period "{\"id\":\"e11\",\"period\":5,\"pad\":\"$big\"}"
pub set-sample-period '{"period":5}'
pub set-sample-period '{"id":12,"period":5}'
pub set-sample-period '{"id":"a/b","period":5}'
pub set-sample-period '{"id":"a#b","period":5}'
pub set-sample-period '{"id":"","period":5}'
pub set-sample-period 'not json'
pub set-sample-period '[1,2,3]'
pub set-sample-period ''
pub ping '{"id":"e20"'
errs() { grep -P "^emgw/$DEV/cmd-result/" "$T/got" | grep -c '"ok":false'; }
wait_for 15 sh -c "test \$(grep -P '^emgw/$DEV/cmd-result/' '$T/got' | grep -c '\"ok\":false') -ge 20"
check "20 malformed or unknown requests, 20 error answers (got $(errs))" test "$(errs)" -eq 20
for id in e1 e2 e3 e4 e5 e6 e7 e8 e9; do
	check "error answer on cmd-result/$id: $(field "$(answer $id)" 'd["error"]')" \
		test "$(field "$(answer $id)" 'd["ok"]')" = False
done
check "requests without a usable id are answered on cmd-result/invalid" \
	test "$(grep -cP "^emgw/$DEV/cmd-result/invalid\t" "$T/got")" -ge 9
pub get-config '{"id":"g2"}'
wait_for 10 answered g2
check "nothing changed: the sample period is still 2 s" \
	test "$(field "$(answer g2)" 'd["result"]["sample"]["period"]')" = 2.0
check "emgwd still runs" kill -0 "$EPID"
received() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uplink"]["commands"]["received"])' "$T/state/status.json"; }
wait_for 10 sh -c "test \$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"uplink\"][\"commands\"][\"received\"])' '$T/state/status.json') -ge 28"
check "status counts the commands received ($(received))" test "$(received)" -ge 28

# ---- diagnostics: get-log, poll-once -----------------------------------------
# bulk NAME ARGS: get-log or poll-once (ARGS: more JSON keys, ",..."), tried
# again with a new id (b1, b2, ...) while refused "rate limited" (2 a
# second); the answer in $ans.
N=0
bulk_try() { N=$((N + 1)); pub "$1" "{\"id\":\"b$N\"${2:-}}"; wait_for 10 answered "b$N" && ans=$(answer "b$N") && ! echo "$ans" | grep -q '"error":"rate limited"'; }
bulk() { wait_for 10 bulk_try "$@"; }
bulk get-log ',"lines":5'
check "get-log answered ok with 5 lines" test "$(field "$ans" 'd["ok"], len(d["result"]["lines"])')" = "(True, 5)"
pub ping '{"id":"p-log"}'
wait_for 10 answered p-log
bulk get-log ',"lines":200'
check "get-log holds emgwd's own line for ping p-log, with time and priority" \
	test "$(field "$ans" '[l for l in d["result"]["lines"] if "command ping (id p-log): done" in l][0].split(" ",1)[1]')" = "info: command ping (id p-log): done"
check "... the same line emgwd wrote to its log" grep -q '^<6>command ping (id p-log): done$' "$T/emgw.err"
check "get-log of 200 lines: at most 32 KiB ($(echo "$ans" | wc -c) bytes)" test "$(echo "$ans" | wc -c)" -le 32768
bulk get-log ',"lines":500'
check "get-log of 500 lines refused: $(field "$ans" 'd["error"]')" test "$(field "$ans" 'd["ok"]')" = False

# poll-once: the values the daemon polled (once the ECU has been read).
point() { field "$ans" "(lambda p: ($3))([p for v in d['result']['devices'] if v['device'] == '$1' for p in v['points'] if p['point'] == '$2'][0])"; }
states() { field "$ans" '[v["state"] for v in d["result"]["devices"]]'; }
wait_for 20 sh -c "test \"\$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"sources\"][\"ecu\"][\"last_value_age_s\"])' '$T/state/status.json')\" != None"
bulk poll-once
check "poll-once: ECU engine speed 1500 rpm, valid, a fresh age ($(point ecu engine_speed_rpm 'p["age_s"]') s)" \
	test "$(point ecu engine_speed_rpm 'p["value"], p["valid"], p["age_s"] < 5')" = "(1500.0, True, True)"
check "poll-once: the VIN as --poll-once words it" test "$(point ecu ecu_vin 'p["value"]')" = LZZ1CCND5KW123456
check "poll-once: the refused point says so, not valid" \
	test "$(point shore shore_power_kw 'p["error"], p["valid"]')" = "('refused by the device', False)"
check "poll-once: the device states ($(states))" test "$(states)" = "['responding', 'responding']"
conns() { ss -Htn state established "( dport = :$MBPORT )" | wc -l; }
check "poll-once opened no Modbus connection of its own ($(conns) to the server)" test "$(conns)" -eq 1
# The server gone: poll-once says what the daemon knows, at once.
stop_pid "$MBSIM_PID"
wait_for 20 sh -c "grep -q '\"ecu\":{[^}]*\"state\":\"not responding\"' '$T/state/status.json'"
dead_known() { bulk poll-once && test "$(states)" = "['not responding', 'not responding']"; }
wait_for 10 dead_known
check "poll-once after the server went: both devices not responding ($(states))" \
	test "$(states)" = "['not responding', 'not responding']"

# get-log and poll-once: 2 a second; 10 at once are answered, most "rate limited".
for i in $(seq 10); do pub get-log "{\"id\":\"rl$i\",\"lines\":1}"; done
for i in $(seq 10); do wait_for 10 answered "rl$i"; done
limited=$(for i in $(seq 10); do answer "rl$i"; done | grep -c '"error":"rate limited"')
ran=$(for i in $(seq 10); do answer "rl$i"; done | grep -c '"ok":true')
check "10 get-log at once: $ran ran, $limited refused \"rate limited\"" test "$limited" -ge 7 -a $((ran + limited)) -eq 10
check "the limit was logged as get-log's and poll-once's" grep -q 'get-log and poll-once: more than 2 a second' "$T/emgw.err"
check "a moment later get-log runs again" bulk get-log ',"lines":1'
pub ping '{"id":"p-after"}'
wait_for 10 answered p-after
check "ping is not held by that limit" test "$(field "$(answer p-after)" 'd["ok"]')" = True
mosquitto_pub -p "$PORT" -q 1 -r -t "emgw/$DEV/cmd/set-sample-period" -n
finish
