# benchlib.sh: what the bench scripts (footprint.sh, wakeups.sh) share.
# Sourced; the caller sets D (its scratch directory), PIDS (""), and may add
# to EXTRA_CLEANUP.  Every process started with spawn is stopped at exit.
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$D" ${EXTRA_CLEANUP:-}
}
trap cleanup EXIT
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # wait_for SECONDS CMD...: poll every 0.1 s
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
spawn() { # spawn LOG CMD...: background, PID in $SPAWNED
	local log=$1; shift
	"$@" >"$log" 2>&1 &
	SPAWNED=$!
	PIDS="$SPAWNED $PIDS"
}
# Voluntary context switches (one per sleep) of all of PID's threads.
vcs_all() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '$1 == "voluntary_ctxt_switches:" { n += $2 } END { print n + 0 }'; }
# The same by role, one line "main N modbus N paho N other N": main is the
# poll loop (TID = PID), modbus the bus threads (emgw-modbus), paho its
# MQTTAsync_send and MQTTAsync_rcv.
vcs_roles() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(cat "$t/comm") $(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status")"
	done 2>/dev/null | awk -v pid="$1" '{ r = $1 == pid ? "main" : $2 ~ /^emgw-modbus/ ? "modbus" : $2 ~ /^MQTTAsync/ ? "paho" : "other"; n[r] += $3 }
		END { printf "main %d modbus %d paho %d other %d\n", n["main"], n["modbus"], n["paho"], n["other"] }'
}
# roles_rate "ROLES0" "ROLES1" SECONDS: "main X modbus X paho X other X", a second
roles_rate() {
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i < n; i += 2) printf "%s%s %.2f", (i > 1 ? " " : ""), x[i], (y[i + 1] - x[i + 1]) / s
		print "" }'
}
