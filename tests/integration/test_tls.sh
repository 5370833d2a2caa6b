#!/bin/bash
# TLS against a real mosquitto with certificates made here: server
# verification, mutual TLS (over MQTT 5), a wrong CA refused (said plainly,
# nothing leaves the store), a broker restart during a TLS session, and a
# private key others can read refused at start.
source "$TOP/tests/integration/lib.sh"

C=$T/certs; mkdir -p "$C"
ssl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { echo "not ok - openssl $1"; cat "$T/openssl.log"; exit 1; }; }
mkca() { # mkca NAME
	ssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.pem"
}
mkcert() { # mkcert NAME CA DAYS [EXT]
	ssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.csr"
	printf '%s\n' "${4:-basicConstraints=CA:FALSE}" >"$C/$1.ext"
	ssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial -days "$3" \
		-extfile "$C/$1.ext" -out "$C/$1.pem"
	chmod 600 "$C/$1.key"
}
mkca ca
mkca otherca
mkcert server ca 365 "subjectAltName=DNS:localhost,IP:127.0.0.1"
mkcert client ca 10 # expires within cert_warn_days: a warning

TLS_PORT=$(free_port); PLAIN_PORT=$(free_port)
# Persistent, so the subscriber's session (and what arrives for it while it
# reconnects) survives the broker restart in part 5.
start_mosquitto "$TLS_PORT" "cafile $C/ca.pem" "certfile $C/server.pem" "keyfile $C/server.key" \
	"listener $PLAIN_PORT 127.0.0.1" "persistence true" "persistence_location $T/" "autosave_interval 1"
sed -i 's/^persistence false$//' "$T/mosquitto-$TLS_PORT.conf"
TLS_PID=$MOSQ_PID
MTLS_PORT=$(free_port); MPLAIN_PORT=$(free_port)
start_mosquitto "$MTLS_PORT" "cafile $C/ca.pem" "certfile $C/server.pem" "keyfile $C/server.key" \
	"require_certificate true" "listener $MPLAIN_PORT 127.0.0.1"
# Subscribers on plain listeners of each broker.
start_sub "$PLAIN_PORT" 'emgw/#' "$T/got" tls-sub
start_sub "$MPLAIN_PORT" 'emgw/#' "$T/got-m" mtls-sub

"$TOP/$B/tests/tracegen" --duration 120 --start 1700400000 --seed 2 -o "$T/short.log"
"$TOP/$B/tests/tracegen" --duration 600 --start 1700500000 --seed 3 -o "$T/long.log"
conf() { # conf ID PORT LOG SPEED [extra [mqtt] lines]
	local id=$1 port=$2 log=$3 speed=$4; shift 4
	printf '[device]\nid = %s\nstate_dir = %s\n[can "engine"]\nlog = %s\nspeed = %s\n' \
		"$id" "$T/state-$id" "$log" "$speed"
	printf '[mqtt]\nhost = 127.0.0.1\nport = %s\nca_file = %s\nreconnect_max = 1\n' "$port" "$C/ca.pem"
	for l in "$@"; do echo "$l"; done
}
run_done() { # run_done NAME: emgwd --stdout --exit-when-done; rc in $rc
	"$EMGWD" -c "$T/$1.conf" --stdout --exit-when-done >"$T/$1.out" 2>"$T/$1.err" &
	local pid=$!; PIDS="$PIDS $pid"
	wait_exit 60 "$pid"
}
arrived() { records_arrived "$T/$1.out" "$T/${2:-got}"; }

# 1. Server verification (the default).
conf tls-01 "$TLS_PORT" "$T/short.log" 0 >"$T/tls.conf"
run_done tls
check "TLS: emgwd sends everything and exits 0 (rc=$rc)" test "$rc" -eq 0
wait_for 10 arrived tls
check "TLS: every record arrived ($(arrived tls))" arrived tls

# 2. Mutual TLS, over MQTT 5; the client certificate expires soon: warned.
conf mtls-01 "$MTLS_PORT" "$T/short.log" 0 "cert_file = $C/client.pem" "key_file = $C/client.key" \
	"version = 5" >"$T/mtls.conf"
run_done mtls
check "mutual TLS, MQTT 5: emgwd sends everything and exits 0 (rc=$rc)" test "$rc" -eq 0
wait_for 10 arrived mtls got-m
check "mutual TLS: every record arrived ($(arrived mtls got-m))" arrived mtls got-m
check "a certificate expiring within 30 days is warned of" grep -q 'client certificate .* expires in' "$T/mtls.err"
check "... and in status: $(jget "$T/state-mtls-01/status.json" 'd["uplink"]["cert"]["warning"]')" \
	test "$(jget "$T/state-mtls-01/status.json" 'd["uplink"]["cert"]["expires_in_days"] < 30')" = True

# 3. Mutual TLS broker, no client certificate: refused.
conf nocert-01 "$MTLS_PORT" "$T/short.log" 0 >"$T/nocert.conf"
"$EMGWD" -c "$T/nocert.conf" >"$T/nocert.out" 2>"$T/nocert.err" &
NPID=$!; PIDS="$PIDS $NPID"

# 4. A wrong CA: refused, said plainly, nothing leaves the store.
conf wrongca-01 "$TLS_PORT" "$T/short.log" 0 >"$T/wrongca.conf"
sed -i "s|^ca_file = .*|ca_file = $C/otherca.pem|" "$T/wrongca.conf"
"$EMGWD" -c "$T/wrongca.conf" >"$T/wrongca.out" 2>"$T/wrongca.err" &
WPID=$!; PIDS="$PIDS $WPID"
check "wrong CA: the failure is logged plainly" \
	wait_for 20 grep -q 'TLS handshake failed: .*certificate verify failed' "$T/wrongca.err"
wrongca_err() { jget "$T/state-wrongca-01/status.json" 'd["uplink"]["last_error"]' | grep -q 'TLS handshake failed'; }
check "wrong CA: status says so" wait_for 10 wrongca_err
rows=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["store"]["rows"])' "$T/state-wrongca-01/status.json")
check "wrong CA: the records stay in the store ($rows rows)" test "$rows" -gt 0
check "wrong CA: no record reached the broker" sh -c "! grep -q 'emgw/wrongca-01/' '$T/got'"
check "wrong CA: emgwd keeps running (and retrying)" kill -0 "$WPID"
check "mutual TLS without a client certificate: no record reached the broker" \
	sh -c "! grep -q 'emgw/nocert-01/' '$T/got-m'"
stop_pid "$WPID"; stop_pid "$NPID"

# 5. The broker restarts during a TLS session: emgwd reconnects, nothing lost.
conf restart-01 "$TLS_PORT" "$T/long.log" 60 >"$T/restart.conf"
"$EMGWD" -c "$T/restart.conf" --stdout --exit-when-done >"$T/restart.out" 2>"$T/restart.err" &
RPID=$!; PIDS="$PIDS $RPID"
wait_for 20 grep -q 'emgw/restart-01/telemetry' "$T/got"
stop_pid "$TLS_PID"
wait_for 10 grep -q 'mqtt: .*' "$T/restart.err"
sleep 2 # the outage: rows pile up in the store
spawn "$T/mosquitto-tls-2.log" mosquitto -c "$T/mosquitto-$TLS_PORT.conf"
wait_exit 60 "$RPID"
check "broker restart under TLS: emgwd exits 0 with the store drained (rc=$rc)" test "$rc" -eq 0
check "broker restart under TLS: emgwd reconnected" test "$(grep -c 'mqtt: connected' "$T/restart.err")" -ge 2
wait_for 20 arrived restart
check "broker restart under TLS: every record arrived ($(arrived restart))" arrived restart

# 6. A private key others can read: refused at start.
cp "$C/client.key" "$C/open.key"; chmod 644 "$C/open.key"
conf open-01 "$MTLS_PORT" "$T/short.log" 0 "cert_file = $C/client.pem" "key_file = $C/open.key" >"$T/open.conf"
"$EMGWD" -c "$T/open.conf" >"$T/open.out" 2>"$T/open.err"; rc=$?
check "a key readable by others: emgwd refuses to start (exit $rc)" test "$rc" -eq 78
check "... saying why: $(grep -m1 key_file "$T/open.err")" grep -q 'key_file: .*open.key is readable by group or others (mode 0644)' "$T/open.err"
finish
