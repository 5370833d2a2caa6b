#!/bin/bash
# The uplink set: the file uplink, and uplinks turned on and off by reload.
# 1. [file] alone, a 2-minute trace replayed fast with --exit-when-done:
#    every record and event emgwd made is one JSON line of the file, in seq
#    order, once; the store is drained by the file's acknowledgements.
# 2. [file] running, [mqtt] turned on by SIGHUP: MQTT's acknowledgements
#    count (no "not in mask"), then [file] turned off: the rows go as soon
#    as MQTT has them (the store's mask follows the uplinks in force).
source "$TOP/tests/integration/lib.sh"

st() { # st KEY...: a figure of status.json
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[k]
print(d)' "$T/state/status.json" "$@" 2>/dev/null
}

# ---- 1. the file uplink ------------------------------------------------------
"$TOP/$B/tests/tracegen" --duration 120 --start 1700000000 --seed 3 -o "$T/short.log"
cat >"$T/file.conf" <<EOC
[device]
id = file-01
state_dir = $T/fstate
[can "engine"]
log = $T/short.log
speed = 0
[mqtt]
enabled = no
[file]
enabled = yes
path = $T/rows.jsonl
EOC
"$EMGWD" -n -c "$T/file.conf" >/dev/null || { echo "not ok - config"; exit 1; }
timeout 60 "$EMGWD" -c "$T/file.conf" --stdout --exit-when-done >"$T/file.out" 2>"$T/file.err"
rc=$?
check "emgwd drains to the file and exits 0 (rc=$rc)" test "$rc" -eq 0
check "every row emgwd made is a line of the file, in order, once" \
	/usr/bin/python3 - "$T/file.out" "$T/rows.jsonl" <<'EOP'
import json, sys
made = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
got = [json.loads(l) for l in open(sys.argv[2])]
seqs = [r["seq"] for r in got]
print("# made %d, file %d" % (len(made), len(got)))
sys.exit(not (len(made) > 100 and made == got and seqs == sorted(set(seqs))))
EOP
check "status counts the rows written" \
	test "$(/usr/bin/python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["file"]; print(f["enabled"], f["rows"])' "$T/fstate/status.json")" = "True $(wc -l <"$T/rows.jsonl")"
# Rows every uplink has stay, as sent ([store] keep_sent): none is left unsent.
unsent="select count(*) from rows where acked != -1 and seq > coalesce((select value from meta where key = 'sent_upto'), 0)"
check "the store is empty (every row acknowledged)" \
	test "$(sqlite3 "$T/fstate/emgw.db" "$unsent")" -eq 0
cat >"$T/nopath.conf" <<EOC
[file]
enabled = yes
EOC
"$EMGWD" -n -c "$T/nopath.conf" >"$T/nopath.out" 2>&1
check "[file] enabled without path is refused with its line" grep -q ':2: \[file\] enabled needs path' "$T/nopath.out"

# ---- 2. turning uplinks on and off by reload ----------------------------------
PORT=$(free_port)
start_mosquitto "$PORT"
spawn "$T/sub.log" /usr/bin/python3 "$TOP/tests/integration/sub.py" 127.0.0.1 "$PORT" "emgw/rl-01/telemetry" "$T/got" "$T/ready" rl-sub
wait_for 10 test -e "$T/ready" || { echo "not ok - subscriber"; exit 1; }
"$TOP/$B/tests/tracegen" --duration 600 --start 1700100000 --seed 4 -o "$T/long.log"
conf() { # conf MQTT FILE
	cat <<EOC
[device]
id = rl-01
state_dir = $T/state
[can "engine"]
log = $T/long.log
speed = 5
[store]
commit_interval = 0.2
[mqtt]
enabled = $1
host = 127.0.0.1
port = $PORT
[file]
enabled = $2
path = $T/reload.jsonl
EOC
}
conf no yes >"$T/rl.conf"
spawn "$T/rl.err" "$EMGWD" -c "$T/rl.conf"
EPID=$!
wait_for 20 test -s "$T/reload.jsonl" || { echo "not ok - no rows in the file"; cat "$T/rl.err"; exit 1; }
conf yes yes >"$T/rl.conf"
kill -HUP "$EPID"
check "[mqtt] turned on by reload publishes" wait_for 20 test -s "$T/got"
check "MQTT's acknowledgements count (status acked > 0)" \
	wait_for 20 sh -c "[ \"\$(/usr/bin/python3 -c 'import json; print(json.load(open(\"$T/state/status.json\"))[\"uplink\"][\"acked\"])')\" -gt 0 ]"
conf yes no >"$T/rl.conf"
kill -HUP "$EPID"
check "[file] turned off by reload: its bit leaves the mask" wait_for 20 grep -q 'uplink mask 0x1 (was 0x5)' "$T/rl.err"
n_file=$(wc -l <"$T/reload.jsonl")
# With MQTT alone in force, a row goes as soon as MQTT has it.
check "rows are done with once MQTT has them" \
	wait_for 20 sh -c "[ \"\$(sqlite3 '$T/state/emgw.db' \"$unsent and seq < (select max(seq) - 20 from rows)\")\" -eq 0 ]"
check "no acknowledgement was refused (\"not in mask\")" sh -c "! grep -q 'not in mask' '$T/rl.err'"
wait_for 10 sh -c "[ \$(wc -l <'$T/got') -gt \$(( $n_file / 2 )) ]"
check "the file is no longer written after [file] was turned off" test "$(wc -l <"$T/reload.jsonl")" -eq "$n_file"
stop_pid "$EPID"

# ---- 3. a platform host that does not resolve (DNS not up yet) -----------------
# Lookups go to a resolver on loopback where none listens (a mount namespace
# with its own resolv.conf): nothing leaves the machine.
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
if unshare -m sh -c "mount --bind '$T/resolv.conf' /etc/resolv.conf" 2>/dev/null; then
	echo pw >"$T/pass"
	chmod 600 "$T/pass" # a secret readable by others is refused
	cat >"$T/dns.conf" <<EOC
[device]
id = dns-01
vin = LZYTBTD60K1000001
state_dir = $T/dstate
[can "engine"]
log = $T/long.log
speed = 10
[mqtt]
host = 127.0.0.1
port = $PORT
username = u
password_file = $T/pass
[platform]
enabled = yes
host = platform.example.invalid
port = 9000
reconnect_max = 1
EOC
	spawn "$T/dns.err" unshare -m sh -c "mount --bind '$T/resolv.conf' /etc/resolv.conf && exec '$EMGWD' -c '$T/dns.conf'"
	DPID=$!
	pf_err() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["platform"]["last_error"])' "$T/dstate/status.json" 2>/dev/null; }
	check "an unresolvable platform host: emgwd runs and says why in status" \
		wait_for 20 sh -c "/usr/bin/python3 -c 'import json; print(json.load(open(\"$T/dstate/status.json\"))[\"platform\"][\"last_error\"])' | grep -qi 'name\|resolution'"
	echo "# platform last_error: $(pf_err)"
	check "emgwd is still running" kill -0 "$DPID"
	check "rows are recorded meanwhile" \
		wait_for 10 sh -c "[ \$(sqlite3 '$T/dstate/emgw.db' 'select count(*) from rows') -gt 5 ]"
	check "the failure is logged, naming the host" \
		wait_for 10 sh -c "[ \$(grep -c 'platform.example.invalid' '$T/dns.err') -ge 1 ]"
	check "one warning: the MQTT password goes over plain TCP" \
		test "$(grep -c 'password.*over plain TCP' "$T/dns.err")" -eq 1
	stop_pid "$DPID"
else
	echo "ok - # SKIP no mount namespace for a loopback resolver"
fi
finish
