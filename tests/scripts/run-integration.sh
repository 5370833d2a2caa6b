#!/bin/bash
# Runs every tests/integration/test_*.sh with B (the build dir) in the
# environment; each prints its own checks and exits non-zero on failure.
set -u
B=${1:-build}
export B EMGWD="$PWD/$B/emgwd" TOP="$PWD"
pass=0 fail=0 failed=""
for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	if bash "$t" >"$B/$name.log" 2>&1; then
		pass=$((pass + 1)); res=ok
	else
		fail=$((fail + 1)); res=FAILED; failed="$failed $name"
	fi
	printf '%-28s %-6s %3ss\n' "$name" "$res" $(( $(date +%s) - start ))
	grep -E '^(ok|not ok|skip)' "$B/$name.log" | sed 's/^/    /'
	[ "$res" = ok ] || tail -n 40 "$B/$name.log" | sed 's/^/    | /'
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
