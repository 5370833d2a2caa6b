#!/bin/sh
# Runs libFuzzer targets over their seed corpora (tests/fuzz/corpus/<name>).
#   run-fuzz.sh check BIN...     run every corpus file once; fail on any crash
#   run-fuzz.sh SECONDS BIN...   fuzz each target SECONDS into a scratch copy of
#                                its corpus; crashes are kept in <BIN dir>/artifacts/
set -u

usage() {
	echo "usage: $0 check|SECONDS BIN..." >&2
	exit 2
}

[ $# -ge 2 ] || usage
mode=$1
shift
case $mode in
check) ;;
*[!0-9]* | '') usage ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/emgw-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM

pass=0 fail=0

# check: pass the corpus files themselves, so libFuzzer runs each once and
# does not mutate; an empty or missing corpus is a failure, not a pass.
fuzz_check() {
	bin=$1 corpus=$2
	set -- "$corpus"/*
	if [ ! -f "$1" ]; then
		echo "$name: no seed corpus in $corpus"
		return 1
	fi
	"$bin" "$@" >"$scratch/$name.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] && echo "$name: $# inputs ok" && return 0
	tail -n 30 "$scratch/$name.log"
	return 1
}

# timed: fuzz into a copy so the checked-in corpus stays small and reviewed.
fuzz_timed() {
	bin=$1 corpus=$2
	work="$scratch/$name.corpus"
	artifacts="$(cd "$(dirname "$bin")" && pwd)/artifacts/$name"
	mkdir -p "$work" "$artifacts" || return 1
	[ -d "$corpus" ] && cp -R "$corpus"/. "$work"/
	"$bin" -max_total_time="$mode" -max_len=${FUZZ_MAX_LEN:-1024} -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$work" >"$scratch/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$name.log" | tail -n 1)
	echo "$name: ${execs:-?} executions in ${mode}s"
	[ $rc -eq 0 ] && return 0
	tail -n 30 "$scratch/$name.log"
	echo "$name: crash inputs in $artifacts"
	return 1
}

for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$top/tests/fuzz/corpus/$name"
	if [ ! -x "$bin" ]; then
		echo "$name: $bin is not an executable"
		ok=1
	elif [ "$mode" = check ]; then
		fuzz_check "$bin" "$corpus"
		ok=$?
	else
		fuzz_timed "$bin" "$corpus"
		ok=$?
	fi
	if [ $ok -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name"; fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
