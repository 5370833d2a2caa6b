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
