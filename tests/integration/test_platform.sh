#!/bin/bash
# The HJ 1322 / HJ 1239 platform link against the platform simulator
# (build/tests/hjplatform), which checks every frame (BCC, lengths, VIN,
# serials, time order, SM2 signatures) and records it.
# 1. nrmm, signed: a 30-minute trace replayed at 60x; the link is cut for
#    10 minutes of data and restored: every record's window arrives, the
#    missed ones in re-send frames with their original times, no sample
#    twice, live frames not queued behind the backlog.
# 2. road, MQTT and platform together: the platform down at first, then the
#    broker down for a while: nothing lost on either, and the store keeps a
#    row until both have it.
source "$TOP/tests/integration/lib.sh"

SIM="$TOP/$B/tests/hjplatform"
VIN=LZYTBTD60K1000001
CHIP=CHIP000000000001
openssl genpkey -algorithm SM2 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"

start_sim() { # start_sim NAME ARGS...: the simulator; sets SIM_PID and SIM_PORT
	local name=$1; shift
	rm -f "$T/$name.ready"
	spawn "$T/$name.err" "$SIM" --port "${SIM_PORT:-0}" --vin "$VIN" --ready "$T/$name.ready" \
		-o "$T/$name.jsonl" "$@"
	SIM_PID=$!
	wait_for 10 test -s "$T/$name.ready" || { echo "not ok - simulator $name did not start"; exit 1; }
	SIM_PORT=$(cat "$T/$name.ready")
}

# analyse JSONL STDOUT_RECORDS MODE: prints "key value" lines about the run.
analyse() {
	/usr/bin/python3 - "$@" <<'EOP'
import json, sys
frames = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
recs = [json.loads(l) for l in open(sys.argv[2]) if '"sig"' in l]
period = int(sys.argv[3])
bad = [f for f in frames if f.get("errors")]
print("errors", len(bad))
for f in bad[:3]:
    print("#", f.get("command"), f.get("serial"), f.get("errors"), file=sys.stderr)
data = [f for f in frames if f.get("command") in ("realtime", "resend")]
print("unsigned", sum(1 for f in data if not f["signature"].get("verified")))
samples = []
for f in data:
    for i in f["info"]:
        if i["type"] == "stream":
            samples.append((i["time_unix"], f["command"]))
times = [t for t, _ in samples]
print("samples", len(times))
print("twice", len(times) - len(set(times)))
import calendar, datetime
def unix(ts):
    return calendar.timegm(datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").timetuple())
rec_times = sorted(unix(r["ts"]) for r in recs)
print("records", len(rec_times))
# every record's window has a sample; with one sample a second (road), every record.
have = set(t // period for t in times)
print("windows_missing", len(set(t // period for t in rec_times) - have))
print("records_missing", len(set(rec_times) - set(times)))
# a sample's time is a record's time: original times, nothing made up
print("samples_not_records", len(set(times) - set(rec_times)))
resent = [f for f in data if f["command"] == "resend"]
print("resent", len(resent))
# HJ 1239 re-sends: the header carries the send time, after the samples
def last_sample(f):
    return max(i["time_unix"] for i in f["info"] if i["type"] == "stream")
timed = [f for f in resent if any(i["type"] == "stream" for i in f["info"])]
print("resend_send_time", sum(1 for f in timed if f["time_unix"] > last_sample(f)))
print("resend_header_early", sum(1 for f in timed if f["time_unix"] < last_sample(f)))
cut = [i for i, f in enumerate(frames) if f.get("event") == "cut"]
if cut:
    c = cut[0]
    cut_ms = frames[c]["rx_ms"]
    last_rt = max(f["time_unix"] for f in frames[:c] if f.get("command") == "realtime")
    after = frames[c:]
    rs = [i for i, f in enumerate(after) if f.get("command") == "resend"]
    rt = [i for i, f in enumerate(after) if f.get("command") == "realtime"]
    # the re-sent frames are the ones the cut made: after the last live one
    # before it (samples made before the first live frame, while the link was
    # still logging in, are the start's own backlog: re-sent too, once)
    first_rt = min(f["time_unix"] for f in frames[:c] if f.get("command") == "realtime")
    print("resend_before_cut", sum(1 for f in resent
                                   if first_rt <= f["time_unix"] <= last_rt - period))
    # live data is not queued behind the backlog: a real-time frame comes
    # before the third re-send frame (at 60 x a replay releases 12 s of log
    # in one 200 ms batch, and re-sends go 5 a second: a live frame can
    # trail the second by a batch), and real-time frames keep coming
    # between re-send frames
    print("live_first", int(bool(rt and rs and len(rs) > 2 and rt[0] < rs[2])))
    print("live_during_backlog", sum(1 for i in rt if rs and rs[0] < i < rs[-1]))
EOP
}

val() { grep "^$1 " "$2" | cut -d' ' -f2; }

conf() { # conf NAME LOG SPEED VARIANT PERIOD MQTT_ENABLED [extra platform lines]
	local name=$1 log=$2 speed=$3 variant=$4 period=$5 mqtt=$6; shift 6
	cat <<EOC
[device]
id = $name
vin = $VIN
state_dir = $T/$name-state
[can "engine"]
log = $log
speed = $speed
[store]
# the default 5 s of recorded time, at the replay's speed (at 60 x, 5 s
# would be 5 minutes of data: live frames behind the backlog)
commit_interval = $(awk -v s="$speed" 'BEGIN { printf "%.2f", 5 / s }')
[mqtt]
enabled = $mqtt
host = 127.0.0.1
port = ${MQTT_PORT:-1}
reconnect_max = 1
[platform]
enabled = yes
host = 127.0.0.1
port = $SIM_PORT
variant = $variant
period = $period
sign = yes
key_file = $T/key.pem
chip_id = $CHIP
iccid = 8986001234567890123
reconnect_max = 1
resend_rate = 5
EOC
	for l in "$@"; do echo "$l"; done
}

# ---- 1. nrmm: the link cut for 10 minutes of data ---------------------------
"$TOP/$B/tests/tracegen" --duration 1800 --start 1700000000 --seed 5 -o "$T/cut.log"
start_sim cut --pubkey "$T/pub.pem" --id "$CHIP" --cut-after 20 --cut-for 10
conf cut "$T/cut.log" 60 nrmm 10 no "activate = yes" >"$T/cut.conf"
"$EMGWD" -n -c "$T/cut.conf" >/dev/null || { echo "not ok - config"; exit 1; }
"$EMGWD" -c "$T/cut.conf" --stdout --exit-when-done >"$T/cut.out" 2>"$T/cut.emgw.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 100 "$EPID"
check "emgwd sends everything and exits 0 after the outage (rc=$rc)" test "$rc" -eq 0
stop_pid "$SIM_PID"
check "the link was cut and restored" grep -q '"event":"restored"' "$T/cut.jsonl"
check "emgwd logged in again" test "$(grep -c '"command":"login"' "$T/cut.jsonl")" -ge 2
check "the activation was answered" grep -q 'activation accepted' "$T/cut.emgw.err"
analyse "$T/cut.jsonl" "$T/cut.out" 10 >"$T/cut.res"
cat "$T/cut.res" | sed 's/^/# /'
check "every frame passed the simulator's checks" test "$(val errors "$T/cut.res")" -eq 0
check "every data frame is signed and verifies" test "$(val unsigned "$T/cut.res")" -eq 0
check "1800 records made" test "$(val records "$T/cut.res")" -eq 1800
check "every 10 s window of records reached the platform" test "$(val windows_missing "$T/cut.res")" -eq 0
check "no sample arrived twice" test "$(val twice "$T/cut.res")" -eq 0
check "every sample carries its record's original time" test "$(val samples_not_records "$T/cut.res")" -eq 0
check "about 10 minutes of data re-sent (got $(val resent "$T/cut.res") frames)" \
	test "$(val resent "$T/cut.res")" -ge 55
check "nothing from before the cut was re-sent" test "$(val resend_before_cut "$T/cut.res")" -eq 0
check "live data first: a real-time frame before the third re-send frame" \
	test "$(val live_first "$T/cut.res")" -eq 1
check "live frames kept coming while the backlog drained ($(val live_during_backlog "$T/cut.res"))" \
	test "$(val live_during_backlog "$T/cut.res")" -ge 5
# --hj-decode on a login frame worked out by hand (see tests/unit/test_hjframe.c)
LOGIN=2323014C5A595442544436304B313030303030310101001C170B0F060D14000138393836303031323334353637383930313233342E
"$EMGWD" --hj-decode "$LOGIN" >"$T/login.json"; rc=$?
check "--hj-decode: a login frame, BCC good, Beijing time (rc=$rc)" \
	sh -c "jq -e '.command == \"login\" and .bcc_ok and .iccid == \"89860012345678901234\" and .serial == 1 and .time == \"2023-11-15T06:13:20+08:00\"' '$T/login.json' >/dev/null"
"$EMGWD" --hj-decode "${LOGIN%2E}2F" >"$T/login-bad.json"; rc=$?
check "--hj-decode: a bad BCC is reported, exit 1 (rc=$rc)" \
	sh -c "test $rc -eq 1 && jq -e '.bcc_ok == false' '$T/login-bad.json' >/dev/null"
# The order the usage line prints; a public GB 17691 (Annex Q, Q1) frame, P2 of
# shared/spec/hj-public-frames.md.
P2=2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C47444348413147384D4131323737333359435933303136352D363020202020200000EC40A1BF000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000007145600AFE00200AFE06200AFE00900AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55FE000000289F
"$EMGWD" --hj-decode --variant gb17691 "$P2" >"$T/p2.json"; rc=$?
check "--hj-decode --variant gb17691 HEX: options in the usage line's order (rc=$rc)" \
	sh -c "test $rc -eq 0 && jq -e '.info[0].dtcs[0].code == \"P1456-00\" and .info[0].cal_id == \"YCY30165-60\"' '$T/p2.json' >/dev/null"
"$EMGWD" --hj-decode "$P2" --variant road >"$T/p2-road.json"; rc=$?
check "--hj-decode: a GB 17691 frame given as road is refused with a hint (rc=$rc)" \
	sh -c "test $rc -eq 1 && jq -e '.hint | contains(\"gb17691\")' '$T/p2-road.json' >/dev/null"

# ---- 2. road: MQTT and platform together ------------------------------------
MQTT_PORT=$(free_port)
SIM_PORT=$(free_port)
start_mosquitto "$MQTT_PORT"
start_sub "$MQTT_PORT" 'emgw/+/#' "$T/got"
"$TOP/$B/tests/tracegen" --duration 600 --start 1700100000 --seed 9 -o "$T/both.log"
conf both "$T/both.log" 20 road 10 yes "samples_per_frame = 10" >"$T/both.conf"
# The platform is not there yet: MQTT takes everything, the store keeps it.
"$EMGWD" -c "$T/both.conf" --stdout --exit-when-done >"$T/both.out" 2>"$T/both.emgw.err" &
EPID=$!; PIDS="$PIDS $EPID"
DB="$T/both-state/emgw.db"
kept() { # rows MQTT has acknowledged but the store keeps for the platform
	/usr/bin/python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$DB?mode=ro', uri=True); print(c.execute('select count(*) from rows where acked & 1 = 1').fetchone()[0])" 2>/dev/null
}
wait_for 30 sh -c "test \$(grep -c telemetry '$T/got') -ge 60"
wait_for 10 sh -c "test \"\$(kept)\" -gt 50" 2>/dev/null
k=$(kept)
check "with the platform down, rows MQTT has are kept ($k)" test "${k:-0}" -gt 50
start_sim both --variant road --pubkey "$T/pub.pem" --id "$CHIP"
wait_for 20 grep -q '"command":"realtime"' "$T/both.jsonl"
stop_pid "$MOSQ_PID"
wait_for 20 sh -c "test \$(grep -c '\"command\":\"realtime\"' '$T/both.jsonl') -ge 5"
spawn "$T/mosquitto-2.log" mosquitto -c "$T/mosquitto-$MQTT_PORT.conf"
MOSQ_PID=$!
wait_exit 90 "$EPID"
check "emgwd exits 0 once both uplinks have everything (rc=$rc)" test "$rc" -eq 0
check "the broker outage was seen (connected twice)" test "$(grep -c 'mqtt: connected' "$T/both.emgw.err")" -ge 2
grep '"sig"' "$T/both.out" >"$T/both.records"
wait_for 20 seq_arrival "$T/both.records" "$T/got"
check "MQTT: every record arrived (made $MADE_N, missing $MISSING)" test "$MISSING" -eq 0
stop_pid "$SIM_PID"
analyse "$T/both.jsonl" "$T/both.out" 10 >"$T/both.res"
sed 's/^/# /' "$T/both.res"
check "platform: every frame passed the simulator's checks" test "$(val errors "$T/both.res")" -eq 0
check "platform: 600 records, every one a sample (missing $(val records_missing "$T/both.res"))" \
	test "$(val records "$T/both.res")" -eq 600 -a "$(val records_missing "$T/both.res")" -eq 0
check "platform: no sample twice" test "$(val twice "$T/both.res")" -eq 0
check "platform: what it missed came as re-send frames" test "$(val resent "$T/both.res")" -ge 1
check "road: the platform's echoes were read" sh -c "jq -e '.platform.answers > 0' '$T/both-state/status.json' >/dev/null"
check "road: re-send headers carry the send time, after their samples ($(val resend_send_time "$T/both.res") of $(val resent "$T/both.res"))" \
	test "$(val resend_send_time "$T/both.res")" -ge 1 -a "$(val resend_header_early "$T/both.res")" -eq 0

# ---- 3. the simulator takes both re-send header styles -----------------------
# HJ 1239 re-send frames built field by field: one whose header is its last
# sample's time (older terminals), one whose header is the send time.
SIM_PORT=$(free_port)
start_sim styles --variant road
/usr/bin/python3 - "$SIM_PORT" "$VIN" <<'EOP'
import socket, struct, sys
port, vin = int(sys.argv[1]), sys.argv[2].encode()
def bj(y, mo, d, h, mi, s): return bytes([y, mo, d, h, mi, s])
def frame(cmd, data):
    h = b"##" + bytes([cmd]) + vin + bytes([1, 1]) + struct.pack(">H", len(data)) + data
    b = 0
    for x in h[2:]: b ^= x
    return h + bytes([b])
stream = b"\xff" * 24 + bytes([1]) + b"\xff" * 12
def unit(t): return bytes([2]) + t + stream
s = socket.create_connection(("127.0.0.1", port))
s.sendall(frame(1, bj(23, 11, 15, 8, 0, 0) + struct.pack(">H", 1) + b"8" * 20))
# samples 06:00:00, 06:00:01; header = the last sample's time
s.sendall(frame(3, bj(23, 11, 15, 6, 0, 1) + struct.pack(">H", 1) + unit(bj(23, 11, 15, 6, 0, 0)) + unit(bj(23, 11, 15, 6, 0, 1))))
# samples 06:00:02, 06:00:03; header = the send time 08:00:05
s.sendall(frame(3, bj(23, 11, 15, 8, 0, 5) + struct.pack(">H", 2) + unit(bj(23, 11, 15, 6, 0, 2)) + unit(bj(23, 11, 15, 6, 0, 3))))
# samples 06:00:04, 06:00:05; header = the send time again (same second)
s.sendall(frame(3, bj(23, 11, 15, 8, 0, 5) + struct.pack(">H", 3) + unit(bj(23, 11, 15, 6, 0, 4)) + unit(bj(23, 11, 15, 6, 0, 5))))
s.shutdown(socket.SHUT_WR)
s.recv(4096)
s.close()
EOP
wait_for 10 sh -c "test \$(grep -c '\"command\":\"resend\"' '$T/styles.jsonl') -ge 3"
stop_pid "$SIM_PID"
check "the simulator takes re-send headers with the sample time and with the send time" \
	sh -c "test \$(grep -c '\"command\":\"resend\".*\"errors\":\[\]' '$T/styles.jsonl') -eq 3"

# ---- 4. gb17691 (GB 17691 Annex Q, layout Q1), signed ------------------------
SIM_PORT=$(free_port)
"$TOP/$B/tests/tracegen" --duration 120 --start 1700200000 --seed 11 -o "$T/gb.log"
start_sim gb --variant gb17691 --pubkey "$T/pub.pem" --id "$CHIP"
conf gb "$T/gb.log" 20 gb17691 10 no >"$T/gb.conf"
"$EMGWD" -n -c "$T/gb.conf" >/dev/null || echo "not ok - gb17691 config"
"$EMGWD" -c "$T/gb.conf" --stdout --exit-when-done >"$T/gb.out" 2>"$T/gb.emgw.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 60 "$EPID"
check "gb17691: emgwd sends everything and exits 0 (rc=$rc)" test "$rc" -eq 0
stop_pid "$SIM_PID"
analyse "$T/gb.jsonl" "$T/gb.out" 10 >"$T/gb.res"
sed 's/^/# /' "$T/gb.res"
check "gb17691: every frame passed the simulator's checks" test "$(val errors "$T/gb.res")" -eq 0
check "gb17691: every data frame is signed and verifies" test "$(val unsigned "$T/gb.res")" -eq 0
check "gb17691: one Q1 frame per 10 s window, none missing" \
	test "$(val windows_missing "$T/gb.res")" -eq 0 -a "$(val twice "$T/gb.res")" -eq 0
check "gb17691: Q1 layout, unit serials, the OBD unit in the frame" \
	sh -c "jq -se '[.[] | select(.command == \"realtime\")] | (all(.layout == \"Q1\" and (.info[0].serial > 0))) and any(.info[] | .type == \"diag\")' '$T/gb.jsonl' >/dev/null"

# ---- 5. TLS: each variant over TLS with a real CA; a wrong CA is refused -----
mkcert() { # mkcert NAME: a CA NAME-ca.pem and, signed by it, a server NAME-srv.pem for 127.0.0.1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$T/$1-ca.key" -out "$T/$1-ca.pem" -subj "/CN=emgw test $1 CA" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/$1-srv.key" -out "$T/$1-srv.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1\n' >"$T/$1-ext" &&
	openssl x509 -req -in "$T/$1-srv.csr" -CA "$T/$1-ca.pem" -CAkey "$T/$1-ca.key" \
		-CAcreateserial -days 2 -extfile "$T/$1-ext" -out "$T/$1-srv.pem" 2>/dev/null
}
mkcert good && mkcert other || { echo "not ok - openssl could not make the test certificates"; exit 1; }
"$TOP/$B/tests/tracegen" --duration 60 --start 1700300000 --seed 13 -o "$T/tls.log"
for v in nrmm road gb17691; do
	SIM_PORT=$(free_port)
	start_sim "tls-$v" --variant "$v" --pubkey "$T/pub.pem" --id "$CHIP" \
		--tls-cert "$T/good-srv.pem" --tls-key "$T/good-srv.key"
	conf "tls-$v" "$T/tls.log" 20 "$v" 10 no "tls = yes" "ca_file = $T/good-ca.pem" >"$T/tls-$v.conf"
	"$EMGWD" -c "$T/tls-$v.conf" --stdout --exit-when-done >"$T/tls-$v.out" 2>"$T/tls-$v.emgw.err" &
	EPID=$!; PIDS="$PIDS $EPID"
	wait_exit 60 "$EPID"
	stop_pid "$SIM_PID"
	analyse "$T/tls-$v.jsonl" "$T/tls-$v.out" 10 >"$T/tls-$v.res"
	check "TLS $v: emgwd sends everything over TLS and exits 0 (rc=$rc)" \
		sh -c "test $rc -eq 0 && grep -q connected_tls '$T/tls-$v.jsonl' && grep -q 'platform: TLS' '$T/tls-$v.emgw.err'"
	check "TLS $v: every frame passed the simulator's checks, none missing" \
		test "$(val errors "$T/tls-$v.res")" -eq 0 -a "$(val windows_missing "$T/tls-$v.res")" -eq 0 -a "$(val samples "$T/tls-$v.res")" -gt 0
done
# The platform's certificate from another CA: refused, nothing sent.
SIM_PORT=$(free_port)
start_sim tls-wrong --tls-cert "$T/other-srv.pem" --tls-key "$T/other-srv.key"
conf tls-wrong "$T/tls.log" 20 nrmm 10 no "tls = yes" "ca_file = $T/good-ca.pem" >"$T/tls-wrong.conf"
"$EMGWD" -c "$T/tls-wrong.conf" >"$T/tls-wrong.out" 2>"$T/tls-wrong.emgw.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_for 20 grep -q 'certificate' "$T/tls-wrong.emgw.err"
stop_pid "$EPID"
stop_pid "$SIM_PID"
check "TLS: a certificate from another CA is refused ($(grep -m1 -o 'TLS handshake.*' "$T/tls-wrong.emgw.err"))" \
	sh -c "grep -q 'TLS handshake: certificate' '$T/tls-wrong.emgw.err' && ! grep -q '\"command\"' '$T/tls-wrong.jsonl'"
finish
