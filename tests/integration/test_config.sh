#!/bin/bash
# emgwd -n checks a configuration file: the shipped example passes, and a file
# with three mistakes gets all three as "file:line: ..." and exit 78.
source "$TOP/tests/integration/lib.sh"

# run_emgwd OUT CMD-ARGS...: run the daemon, keep its output and exit status
run_emgwd() {
	local out=$1; shift
	"$EMGWD" "$@" >"$out" 2>&1
	echo $? >"$out.rc"
}

rc_is() { [ "$(cat "$1.rc")" -eq "$2" ]; }
has() { grep -qF -- "$2" "$1"; }
lacks() { ! has "$@"; }
count_is() { [ "$(grep -cE -- "$2" "$1")" -eq "$3" ]; }

run_emgwd "$T/example.out" -n -c "$TOP/config/emgw.conf"
check "example config: exit 0" rc_is "$T/example.out" 0
check "example config: prints configuration OK" has "$T/example.out" "configuration OK"

cat >"$T/bad.conf" <<'EOF'
[device]
id = truck7
stage = 9

[mqtt]
host = broker
prot = 1883

[sample]
period = 1
stale = 5
period = 2
EOF
run_emgwd "$T/bad.out" -n -c "$T/bad.conf"
check "three mistakes: exit 78" rc_is "$T/bad.out" 78
check "three mistakes: line 3" has "$T/bad.out" "$T/bad.conf:3: stage: 9 is out of range (1..6)"
check "three mistakes: line 7" has "$T/bad.out" "$T/bad.conf:7: unknown key \"prot\" in [mqtt]"
check "three mistakes: line 12" has "$T/bad.out" "$T/bad.conf:12: period: already set at $T/bad.conf:10"
check "three mistakes: exactly three" count_is "$T/bad.out" "$T/bad.conf:[0-9]+: " 3
check "three mistakes: no configuration OK" lacks "$T/bad.out" "configuration OK"

run_emgwd "$T/missing.out" -n -c "$T/missing.conf"
check "missing file: exit 78" rc_is "$T/missing.out" 78
check "missing file: says so" has "$T/missing.out" "$T/missing.conf: cannot open: No such file or directory"

# What failed is worth seeing in the log.
for f in "$T"/*.out; do echo "--- $f (exit $(cat "$f.rc"))"; cat "$f"; done

finish
