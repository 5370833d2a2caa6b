#!/bin/bash
# The MQTT path against a second broker implementation: aedes (from the npm
# registry, tests/scripts/install-aedes.sh; skipped with a "skip:" line where
# it cannot be installed).  aedes speaks MQTT 3.1 and 3.1.1 only, so emgwd
# runs with [mqtt] version = 3.1.1; version = 5 is refused by it, and emgwd
# says so.
# 1. Retained status and commands; QoS 1 to a persistent session: the
#    subscriber goes away, emgwd is restarted meanwhile, and what was
#    published while the subscriber was away reaches it from its session.
# 2. The LWT: emgwd killed, the broker publishes the retained "offline".
# 3. Outage: aedes killed while emgwd replays fast, restarted: every record
#    and event made reached the broker (its own log of what it acknowledged:
#    a killed aedes forgets its in-memory sessions).
# 4. Mutual TLS with certificates made here; a client without a certificate
#    is refused.
# 5. MQTT 5 against aedes: refused, in emgwd's log.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_aedes "$PORT"
echo "# aedes $(node -e 'console.log(require(process.argv[1]).version)' "$AEDES_DIR/node_modules/aedes/package.json") on node $(node --version), $AEDES_DIR"
DEV=b2-01
start_sub "$PORT" "emgw/$DEV/#" "$T/got" b2-sub
pub() { mosquitto_pub -V mqttv311 -p "$PORT" -q 1 -t "emgw/$DEV/cmd/$1" -m "$2"; }
answer() { grep -P "^emgw/$DEV/cmd-result/$1\t" "$T/got" | tail -1 | cut -f2; }
answered() { [ -n "$(answer "$1")" ]; }
field() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
records() { grep -c '"sig"' "$1" 2>/dev/null; }
# retained PORT TOPIC: the retained message a new subscriber gets (3.1.1)
retained() { mosquitto_sub -V mqttv311 -p "$1" -t "$2" -C 1 -W 5 2>/dev/null; }

"$TOP/$B/tests/tracegen" --duration 240 --start 1700600000 --seed 5 -o "$T/trace.log"
conf() { # conf ID PORT SPEED [extra [mqtt] lines]
	local id=$1 port=$2 speed=$3; shift 3
	printf '[device]\nid = %s\nstate_dir = %s\n[can "engine"]\nlog = %s\nspeed = %s\n' \
		"$id" "$T/state-$id" "$T/trace.log" "$speed"
	printf '[mqtt]\nhost = 127.0.0.1\nport = %s\nversion = 3.1.1\nreconnect_max = 1\n' "$port"
	for l in "$@"; do echo "$l"; done
}

# ---- 1. retained status, commands, a persistent session ----------------------------
conf "$DEV" "$PORT" 10 >"$T/emgw.conf"
# --stdout and the log in one file: the records are its JSON lines.
spawn "$T/run1.out" "$EMGWD" -c "$T/emgw.conf" --stdout
EPID=$!
wait_for 20 grep -q "^emgw/$DEV/telemetry" "$T/got" || { echo "not ok - no telemetry"; cat "$T/run1.out"; exit 1; }
check "emgwd connected to aedes with MQTT 3.1.1" grep -q "mqtt: connecting to tcp://127.0.0.1:$PORT as .* (MQTT 3.1.1)" "$T/run1.out"
st=$(retained "$PORT" "emgw/$DEV/status")
check "a new subscriber gets the retained status: $(field "$st" 'd["state"], d["dev"]')" \
	test "$(field "$st" 'd["state"], d["dev"]')" = "('online', '$DEV')"
pub ping '{"id":"p1"}'
pub get-log '{"id":"l1","lines":3}'
wait_for 10 answered p1
wait_for 10 answered l1
check "ping answered over aedes" test "$(field "$(answer p1)" 'd["ok"], d["result"]')" = "(True, 'pong')"
check "get-log answered over aedes" test "$(field "$(answer l1)" 'd["ok"], len(d["result"]["lines"])')" = "(True, 3)"

# The subscriber goes away; emgwd publishes on, is restarted, publishes on.
stop_pid "$SUB_PID"
gone=$(grep -c '"sig"' "$T/got")
n=$(records "$T/run1.out")
wait_for 20 sh -c "test \$(grep -c '\"sig\"' '$T/run1.out') -ge $((n + 20))"
stop_pid "$EPID"
spawn "$T/run2.out" "$EMGWD" -c "$T/emgw.conf" --stdout
EPID=$!
wait_for 20 sh -c "test \$(grep -c '\"sig\"' '$T/run2.out') -ge 20"
away=$(( $(records "$T/run1.out") + $(records "$T/run2.out") - gone ))
start_sub "$PORT" "emgw/$DEV/#" "$T/got" b2-sub
stop_pid "$EPID"
cat "$T/run1.out" "$T/run2.out" >"$T/made"
wait_for 20 records_arrived "$T/made" "$T/got"
echo "# $(records_arrived "$T/made" "$T/got")"
check "QoS 1, persistent session: about $away records made while the subscriber was away and emgwd restarted, every record arrived" \
	records_arrived "$T/made" "$T/got"

# ---- 2. the last will ---------------------------------------------------------------
spawn "$T/run3.out" "$EMGWD" -c "$T/emgw.conf"
EPID=$!
wait_for 20 sh -c "test \"\$(mosquitto_sub -V mqttv311 -p $PORT -t emgw/$DEV/status -C 1 -W 5)\" != '{\"state\":\"offline\"}'"
kill -9 "$EPID"; wait "$EPID" 2>/dev/null
wait_for 10 sh -c "grep -qP '^emgw/$DEV/status\t\\{\"state\":\"offline\"\\}' '$T/got'"
check "emgwd killed: aedes published its will, {\"state\":\"offline\"}" \
	grep -qP "^emgw/$DEV/status\t\\{\"state\":\"offline\"\\}" "$T/got"
check "... retained: a new subscriber gets it" test "$(retained "$PORT" "emgw/$DEV/status")" = '{"state":"offline"}'

# ---- 3. broker outage ---------------------------------------------------------------
OPORT=$(free_port)
start_aedes "$OPORT" --log "$T/broker.got"
"$TOP/$B/tests/tracegen" --duration 1800 --start 1700700000 --seed 9 --smoke-at 200,900 -o "$T/long.log"
{
	conf outage-02 "$OPORT" 60 "batch_max = 10" "batch_age = 0.5" "compress = yes" \
		"backlog_rate = 400" "inflight = 16"
} | sed "s|^log = .*|log = $T/long.log|" >"$T/outage.conf"
"$EMGWD" -c "$T/outage.conf" --stdout --exit-when-done >"$T/outage.out" 2>"$T/outage.err" &
OPID=$!; PIDS="$PIDS $OPID"
wait_for 30 sh -c "test \$(grep -c telemetry '$T/broker.got') -ge 10"
kill -9 "$AEDES_PID"; wait "$AEDES_PID" 2>/dev/null
at_stop=$(records "$T/outage.out")
wait_for 60 sh -c "test \$(grep -c '\"sig\"' '$T/outage.out') -ge $((at_stop + 650))"
during=$(( $(records "$T/outage.out") - at_stop ))
check "aedes was down while $during records were made (>= 600)" test "$during" -ge 600
start_aedes "$OPORT" --log "$T/broker.got"
wait_exit 90 "$OPID"
check "emgwd drains the store and exits 0 (rc=$rc)" test "$rc" -eq 0
check "emgwd reconnected to the restarted aedes" test "$(grep -c 'mqtt: connected' "$T/outage.err")" -ge 2
check "telemetry went compressed in batches" grep -q '^emgw/outage-02/telemetry/z	{.*"records":\[' "$T/broker.got"
wait_for 20 records_arrived "$T/outage.out" "$T/broker.got"
echo "# $(records_arrived "$T/outage.out" "$T/broker.got")"
check "every record and event made reached aedes; duplicates identical" records_arrived "$T/outage.out" "$T/broker.got"

# ---- 4. mutual TLS ------------------------------------------------------------------
C=$T/certs; mkdir -p "$C"
ssl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { echo "not ok - openssl $1"; cat "$T/openssl.log"; exit 1; }; }
mkcert() { # mkcert NAME EXT: a certificate signed by the test CA
	ssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.csr"
	printf '%s\n' "$2" >"$C/$1.ext"
	ssl x509 -req -in "$C/$1.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 365 \
		-extfile "$C/$1.ext" -out "$C/$1.pem"
	chmod 600 "$C/$1.key"
}
ssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ca" -keyout "$C/ca.key" -out "$C/ca.pem"
mkcert server "subjectAltName=DNS:localhost,IP:127.0.0.1"
mkcert client "basicConstraints=CA:FALSE"
TPORT=$(free_port)
start_aedes "$TPORT" --log "$T/tls.got" --tls-cert "$C/server.pem" --tls-key "$C/server.key" \
	--tls-ca "$C/ca.pem" --require-cert
conf tls-02 "$TPORT" 0 "ca_file = $C/ca.pem" "cert_file = $C/client.pem" "key_file = $C/client.key" >"$T/tls.conf"
"$EMGWD" -c "$T/tls.conf" --stdout --exit-when-done >"$T/tls.out" 2>"$T/tls.err" &
TPID=$!; PIDS="$PIDS $TPID"
wait_exit 60 "$TPID"
check "mutual TLS: emgwd sends everything and exits 0 (rc=$rc)" test "$rc" -eq 0
wait_for 10 records_arrived "$T/tls.out" "$T/tls.got"
check "mutual TLS: every record reached aedes ($(records_arrived "$T/tls.out" "$T/tls.got"))" \
	records_arrived "$T/tls.out" "$T/tls.got"
conf nocert-02 "$TPORT" 0 "ca_file = $C/ca.pem" >"$T/nocert.conf"
spawn "$T/nocert.err" "$EMGWD" -c "$T/nocert.conf"
NPID=$!
wait_for 20 grep -q "mqtt: 127.0.0.1:$TPORT: " "$T/nocert.err"
check "mutual TLS without a client certificate: refused ($(grep -m1 -o "mqtt: 127.0.0.1:$TPORT: .*" "$T/nocert.err"))" \
	sh -c "! grep -q 'mqtt: connected' '$T/nocert.err' && ! grep -q '^emgw/nocert-02/' '$T/tls.got'"
stop_pid "$NPID"

# ---- 5. MQTT 5 against aedes ----------------------------------------------------------
conf v5-02 "$PORT" 0 >"$T/v5.conf"
sed -i 's/^version = 3.1.1$/version = 5/' "$T/v5.conf"
spawn "$T/v5.err" "$EMGWD" -c "$T/v5.conf"
VPID=$!
wait_for 20 grep -q "mqtt: 127.0.0.1:$PORT: " "$T/v5.err"
check "version = 5: aedes refuses the connection, emgwd says so ($(grep -m1 -o "mqtt: 127.0.0.1:$PORT: .*" "$T/v5.err"))" \
	sh -c "! grep -q 'mqtt: connected' '$T/v5.err' && grep -q 'mqtt: 127.0.0.1:$PORT: ' '$T/v5.err'"
stop_pid "$VPID"
check "aedes ran throughout" kill -0 "$AEDES_PID"
finish
