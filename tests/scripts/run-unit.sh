#!/bin/sh
# Runs every cmocka unit test binary given; fails if any fails.
# cmocka prints its summary on stderr, hence 2>&1.
set -u
pass=0 fail=0
for t in "$@"; do
	if "$t" 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
