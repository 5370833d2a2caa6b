#!/bin/bash
# emgwd --selftest against the demo's parts (mosquitto, gpsd fed a route,
# mbsim on Modbus TCP, the HJ platform simulator, a replayed CAN log): all
# pass, exit 0.  Then each part broken in turn (broker stopped, a wrong CA,
# gpsd away, the Modbus slave silent, the platform refusing) fails its line
# alone, with its hint, and exit 1; the table keeps its lines and columns.
source "$TOP/tests/integration/lib.sh"

# The broker: plain, and TLS with a certificate of our CA.
C=$T/certs; mkdir -p "$C"
ssl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { echo "not ok - openssl $1"; cat "$T/openssl.log"; exit 1; }; }
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
for ca in ca otherca; do ssl req -x509 "${EC[@]}" -days 30 -subj "/CN=$ca" -keyout "$C/$ca.key" -out "$C/$ca.pem"; done
ssl req "${EC[@]}" -subj /CN=localhost -keyout "$C/server.key" -out "$C/server.csr"
echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$C/server.ext"
ssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 20 \
	-extfile "$C/server.ext" -out "$C/server.pem"
PORT=$(free_port); TLS_PORT=$(free_port)
mosq() { start_mosquitto "$PORT" "listener $TLS_PORT 127.0.0.1" "certfile $C/server.pem" "keyfile $C/server.key"; }
mosq

GPSD_PORT=$(free_port)
start_gpsd "$T/gps" "$GPSD_PORT"
spawn "$T/feed.log" /usr/bin/python3 "$TOP/tests/scripts/nmea_feed.py" --loop --now --pace 0.2 \
	"$T/gps/gps_feed" "$TOP/tests/data/huzhou-route.nmea"

hj() {
	rm -f "$T/hj.ready"
	spawn "$T/hjplatform.log" "$TOP/$B/tests/hjplatform" --port "${HJ_PORT:-0}" --variant nrmm \
		--ready "$T/hj.ready" -o "$T/platform.jsonl"
	HJ_PID=$!
	wait_for 10 test -s "$T/hj.ready" || { echo "not ok - hjplatform"; cat "$T/hjplatform.log"; exit 1; }
	HJ_PORT=$(cat "$T/hj.ready")
}
hj

MB_PORT=$(free_port)
spawn "$T/mbsim.log" "$TOP/$B/tests/mbsim" --tcp "$MB_PORT" --mute-file "$T/mute" \
	--unit "1:$TOP/config/profiles/opacity-meter.conf"
wait_for 10 port_open "$MB_PORT" || { echo "not ok - mbsim"; cat "$T/mbsim.log"; exit 1; }

mkdir -p "$T/state"
cat >"$T/emgw.conf" <<EOC
[device]
id = selftest-01
vin = LDEMXEXCAVATR0001
state_dir = $T/state
[can "engine"]
log = $TOP/tests/data/excavator.log
[mqtt]
host = 127.0.0.1
port = $PORT
prefix = emgw
[gnss]
enabled = yes
host = 127.0.0.1
port = $GPSD_PORT
[platform]
enabled = yes
host = 127.0.0.1
port = $HJ_PORT
[bus "meter"]
type = tcp
host = 127.0.0.1
port = $MB_PORT
response_timeout = 0.3
[device "opacity"]
bus = meter
unit = 1
profile = $TOP/config/profiles/opacity-meter.conf
EOC
"$EMGWD" -n -c "$T/emgw.conf" >/dev/null 2>"$T/n.err" || { echo "not ok - emgwd -n"; cat "$T/n.err"; exit 1; }

# run NAME [CONF]: emgwd --selftest; output in $T/NAME.out, exit status in $T/NAME.rc
run() {
	"$EMGWD" --selftest --seconds 5 -c "${2:-$T/emgw.conf}" >"$T/$1.out" 2>"$T/$1.err"
	echo $? >"$T/$1.rc"
	echo "# --- $1 (rc $(cat "$T/$1.rc"))"; sed 's/^/# /' "$T/$1.out"
}
rc_is() { [ "$(cat "$T/$1.rc")" -eq "$2" ]; }
verdict() { awk -v p="$2" 'substr($0, 1, 18) ~ "^"p" *$" { print substr($0, 20, 4) }' "$T/$1.out" | tr -d ' '; }
# failed_alone NAME PART HINT: PART is the one FAIL line, and it carries HINT
failed_alone() {
	[ "$(grep -v '^selftest ' "$T/$1.out" | grep -c '^.\{18\} FAIL')" -eq 1 ] && [ "$(verdict "$1" "$2")" = FAIL ] &&
		grep -q "^$2 .*FAIL.*$3" "$T/$1.out"
}
# same_shape NAME: as many lines as the good run, the verdict in column 20
same_shape() {
	[ "$(wc -l <"$T/$1.out")" -eq "$(wc -l <"$T/good.out")" ] &&
		! grep -qv '^[a-z][a-z0-9 _-]\{17\} \(ok  \|FAIL\|skip\) ' "$T/$1.out"
}

run good
check "all parts: exit 0" rc_is good 0
for p in "can engine" "modbus opacity" gnss clock store mqtt platform; do
	check "all parts: $p ok" test "$(verdict good "$p")" = ok
done
check "all parts: systemd skipped (no systemd here)" test "$(verdict good systemd)" = skip
check "CAN: engine speed, coolant and the VIN heard" \
	grep -q '^can engine .*engine speed seen, coolant seen, VIN LDEMXEXCAVATR0001 (\(heard\|configured, not heard\))' "$T/good.out"
check "GNSS: a 3D fix with the receiver's time" grep -qE '^gnss .*1 receiver, fix 3D, .*time offset [-+]0\.[0-9]{3} s$' "$T/good.out"
check "MQTT: the round trip on the selftest topic" grep -q '^mqtt .*round trip on emgw/selftest-01/selftest' "$T/good.out"
check "the last line sums up" grep -q '^selftest           ok   8 parts checked, 0 failed$' "$T/good.out"
check "the table: 9 lines" test "$(wc -l <"$T/good.out")" -eq 9
check "the table: columns" same_shape good

"$EMGWD" --selftest --seconds 5 --json -c "$T/emgw.conf" >"$T/json.out" 2>&1
check "--json: one object, ok, the same parts" test "$(jget "$T/json.out" \
	'(d["ok"], len(d["parts"]), d["parts"][0]["part"], d["parts"][5]["verdict"])')" = "(True, 8, 'can engine', 'ok')"

# TLS: the right CA passes with the certificate's expiry; a wrong one fails.
sed -e "s/^port = $PORT$/port = $TLS_PORT/" -e "/^prefix/a ca_file = $C/ca.pem" "$T/emgw.conf" >"$T/tls.conf"
run tls "$T/tls.conf"
check "TLS, our CA: exit 0" rc_is tls 0
check "TLS, our CA: the certificate's expiry" grep -qE '^mqtt .*ok .*certificate expires in (19|20) days' "$T/tls.out"
sed "s|$C/ca.pem|$C/otherca.pem|" "$T/tls.conf" >"$T/wrongca.conf"
run wrongca "$T/wrongca.conf"
check "wrong CA: exit 1" rc_is wrongca 1
check "wrong CA: mqtt alone fails, the CA named" failed_alone wrongca mqtt 'certificate.*ca_file must be the CA'
check "wrong CA: same shape" same_shape wrongca
sed -e "/^prefix/a ca_file = $C/ca.pem" "$T/emgw.conf" >"$T/plainport.conf"
run plainport "$T/plainport.conf"
check "TLS against the plain port: mqtt alone fails, asks for the TLS port" \
	failed_alone plainport mqtt "TLS handshake failed.*-> is \[mqtt\] port the broker's TLS listener"

sed 's|^log = .*|interface = emgwtest9|' "$T/emgw.conf" >"$T/nocan.conf"
run nocan "$T/nocan.conf"
check "no CAN interface: can alone fails, bring it up" \
	failed_alone nocan "can engine" 'emgwtest9: no such CAN interface, or down -> ip link set emgwtest9 up type can bitrate 250000'
check "no CAN interface: same shape" same_shape nocan

stop_pid "$MOSQ_PID"
run nobroker
check "broker stopped: exit 1" rc_is nobroker 1
check "broker stopped: mqtt alone fails, refused, is the broker up" \
	failed_alone nobroker mqtt 'Connection refused -> is the broker up'
check "broker stopped: same shape" same_shape nobroker
mosq

stop_pid "$GPSD_PID"
run nogpsd
check "gpsd away: exit 1" rc_is nogpsd 1
check "gpsd away: gnss alone fails, start gpsd" failed_alone nogpsd gnss '-> start gpsd'
check "gpsd away: same shape" same_shape nogpsd
ipcrm -M 0x47505344 2>/dev/null
start_gpsd "$T/gps2" "$GPSD_PORT"
spawn "$T/feed2.log" /usr/bin/python3 "$TOP/tests/scripts/nmea_feed.py" --loop --now --pace 0.2 \
	"$T/gps2/gps_feed" "$TOP/tests/data/huzhou-route.nmea"

echo 1 >"$T/mute"
run silent
check "Modbus slave silent: exit 1" rc_is silent 1
check "Modbus slave silent: that device alone fails, no answer at all" \
	failed_alone silent "modbus opacity" '0/[0-9]* points read.*-> no answer at all'
check "Modbus slave silent: same shape" same_shape silent
rm -f "$T/mute"

# A wrong baud rate on an RTU line: answers arrive garbled (CRC errors).
spawn "$T/garble.log" /usr/bin/python3 "$TOP/tests/integration/rtu_garble.py" "$T"
wait_for 10 test -e "$T/rtu_sim" || { echo "not ok - rtu_garble.py"; cat "$T/garble.log"; exit 1; }
spawn "$T/mbrtu.log" "$TOP/$B/tests/mbsim" --rtu "$T/rtu_sim" --ready "$T/rtu.ready" \
	--unit "1:$TOP/config/profiles/opacity-meter.conf"
wait_for 10 test -e "$T/rtu.ready" || { echo "not ok - mbsim --rtu"; cat "$T/mbrtu.log"; exit 1; }
sed -e "s/^type = tcp$/type = rtu\ndevice = $(echo "$T" | sed 's|/|\\/|g')\/rtu_dev\nbaud = 9600/" \
	-e '/^host = 127.0.0.1$/{N;/\nport = '"$MB_PORT"'$/d}' "$T/emgw.conf" >"$T/rtu.conf"
run crc "$T/rtu.conf"
check "RTU at the wrong baud rate: the device alone fails, CRC errors, baud or parity" \
	failed_alone crc "modbus opacity" '[1-9][0-9]* CRC errors.*-> CRC errors: baud rate, parity'

# A register the profile names but the device does not have: an exception.
MB2_PORT=$(free_port)
spawn "$T/mbsim2.log" "$TOP/$B/tests/mbsim" --tcp "$MB2_PORT" --hole 1:input:1 \
	--unit "1:$TOP/config/profiles/opacity-meter.conf"
wait_for 10 port_open "$MB2_PORT" || { echo "not ok - mbsim --hole"; cat "$T/mbsim2.log"; exit 1; }
sed "s/^port = $MB_PORT$/port = $MB2_PORT/" "$T/emgw.conf" >"$T/hole.conf"
run hole "$T/hole.conf"
check "a register the device refuses: the device alone fails, the profile's map" \
	failed_alone hole "modbus opacity" '[1-9][0-9]* exceptions.*-> the device refuses registers'

stop_pid "$HJ_PID"
run noplatform
check "platform refusing: exit 1" rc_is noplatform 1
check "platform refusing: platform alone fails, refused, check host and port" \
	failed_alone noplatform platform 'Connection refused -> check \[platform\] host and port'
check "platform refusing: same shape" same_shape noplatform
hj

run again
check "everything back: exit 0 again" rc_is again 0

# --status opens with the same one-line-a-part summary; --json is the object.
spawn "$T/emgwd.log" "$EMGWD" -c "$T/emgw.conf"
EPID=$!
connected() { [ "$(jget "$T/state/status.json" '(d["uplink"]["connected"], d["sources"]["gnss"]["valid"], d["sources"]["opacity"]["state"])')" = "(True, True, 'responding')" ]; }
check "the daemon's status: broker connected, a fix, the meter responding" wait_for 20 connected
"$EMGWD" --status -c "$T/emgw.conf" >"$T/status.out" 2>&1
sed 's/^/# /' "$T/status.out" | head -12
check "--status: the summary first, one line a part" \
	sh -c "sed -n 2,8p '$T/status.out' | cut -c1-23 | tr -s ' ' | paste -sd'|' |
	       grep -qx 'can engine ok |gnss ok |modbus opacity ok |clock ok |store ok |mqtt ok |platform ok '"
check "--status: the figures below it as before" grep -qE '^ +state +"online"$' "$T/status.out"
"$EMGWD" --status --json -c "$T/emgw.conf" >"$T/status.json.out" 2>&1
check "--status --json: the status object" test "$(jget "$T/status.json.out" 'd["dev"]')" = selftest-01
stop_pid "$EPID"

# While emgwd runs, an RTU line is not polled by a second master (it would
# garble the daemon's polls): its devices are judged by the daemon's counters.
spawn "$T/emgwd-rtu.log" "$EMGWD" -c "$T/rtu.conf"
EPID=$!
crc_seen() { [ "$(jget "$T/state/status.json" '(d["pid"], d["sources"]["opacity"]["crc_errors"] > 0)')" = "($EPID, True)" ]; }
check "the daemon on the garbled RTU line counts CRC errors" wait_for 20 crc_seen
run rtudaemon "$T/rtu.conf"
check "RTU while emgwd runs: the daemon's counters, the CRC hint" \
	failed_alone rtudaemon "modbus opacity" "the running emgwd's counters: .*NO fresh values, .*[1-9][0-9]* CRC errors.*-> CRC errors: baud rate"
stop_pid "$EPID"
finish
