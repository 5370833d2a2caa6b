#!/bin/bash
# systemd notification and reload, against a test-owned NOTIFY_SOCKET: READY=1
# at start, WATCHDOG=1 at half the WATCHDOG_USEC period, a SIGHUP with a
# broken file keeps the running configuration, a good one comes in force,
# SIGTERM gives STOPPING=1 and exit status 0.
source "$TOP/tests/integration/lib.sh"

# A datagram server standing in for systemd: every message it receives is
# appended to $T/notify.log, one datagram after another, each ending in a
# newline.
cat >"$T/notify.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        f.write(msg if msg.endswith("\n") else msg + "\n")
EOF
: >"$T/notify.log"
spawn "$T/notify-server.log" /usr/bin/python3 "$T/notify.py" "$T/notify" "$T/notify.log"
wait_for 10 test -S "$T/notify" || { echo "not ok - notify server did not start"; cat "$T/notify-server.log"; exit 1; }

"$TOP/$B/tests/tracegen" --duration 60 -o "$T/t.log"
conf() { # conf [extra lines...]
	cat <<EOC
[device]
id = notify-01
state_dir = $T/state
[can "engine"]
log = $T/t.log
speed = 1
[mqtt]
enabled = no
EOC
	for l in "$@"; do echo "$l"; done
}
conf >"$T/good.conf"
conf "[sample]" "period = 2" >"$T/good2.conf"
conf "[sample]" "period = 99" >"$T/broken.conf"
cp "$T/good.conf" "$T/emgw.conf"

count() { grep -cx -- "$1" "$T/notify.log"; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
alive() { kill -0 "$EPID" 2>/dev/null; }
logged() { grep -qF -- "$1" "$T/emgwd.log"; }

# WATCHDOG_PID is left out: sd_watchdog_enabled() then accepts any process.
spawn "$T/emgwd.log" env NOTIFY_SOCKET="$T/notify" WATCHDOG_USEC=400000 \
	"$EMGWD" -c "$T/emgw.conf"
EPID=$!

check "READY=1 arrives" wait_for 10 at_least READY=1 1
check "STATUS comes with it" grep -qx "STATUS=running" "$T/notify.log"
check "at least two WATCHDOG=1 (every 200 ms)" wait_for 10 at_least WATCHDOG=1 2
wd=$(count WATCHDOG=1)
check "no STOPPING=1 while running" test "$(count STOPPING=1)" -eq 0

# A broken file: refused, the daemon goes on as it was.
cp "$T/broken.conf" "$T/emgw.conf"
kill -HUP "$EPID"
check "broken reload: the running configuration is kept" \
	wait_for 10 logged "has 1 error: keeping the running configuration"
check "broken reload: the error is named" logged "$T/emgw.conf:10: period: 99 is out of range"
check "broken reload: RELOADING=1 then READY=1 again" \
	wait_for 10 sh -c "[ \$(grep -cx RELOADING=1 '$T/notify.log') -ge 1 ] && [ \$(grep -cx READY=1 '$T/notify.log') -ge 2 ]"
check "broken reload: nothing said in force" sh -c "! grep -qF 'in force' '$T/emgwd.log'"
check "broken reload: still running" alive
check "broken reload: the watchdog goes on" wait_for 10 at_least WATCHDOG=1 $((wd + 2))

# A good file: in force.
cp "$T/good2.conf" "$T/emgw.conf"
kill -HUP "$EPID"
check "good reload: in force" wait_for 10 logged "reload: $T/emgw.conf in force"
check "good reload: READY=1 a third time" wait_for 10 at_least READY=1 3
check "good reload: still running" alive

kill -TERM "$EPID"
wait_exit 10 "$EPID"
check "SIGTERM: exit status 0 (rc=$rc)" test "$rc" -eq 0
check "SIGTERM: STOPPING=1" wait_for 5 at_least STOPPING=1 1
check "SIGTERM: logged" logged "stopping"

echo "--- notifications"; sort "$T/notify.log" | uniq -c
echo "--- emgwd log"; cat "$T/emgwd.log"
finish
