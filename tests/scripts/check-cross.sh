#!/bin/bash
# check-cross.sh NATIVE_BUILD_DIR TRIPLET...: for each target, install its
# cross toolchain (install-cross.sh), build with warnings as errors into
# build-TRIPLET, then run under qemu-user (without -L, always under timeout):
#   - every cmocka unit test;
#   - the integration checks that need no server, each compared byte for
#     byte with the native build's output: config check, --decode of the
#     bundled trace, tracegen, replays with MQTT off (--stdout records and
#     events; mono_ms and boot may differ and are ignored), a trace dated
#     after 2038 (time_t width).
# aarch64-linux-gnu is required; another target whose packages cannot be
# had from the mirror (install-cross.sh exit 2) is skipped with a message.
set -eu
NB=${1:?usage: check-cross.sh NATIVE_BUILD_DIR TRIPLET...}
shift
TOP=$PWD
NATIVE=$TOP/$NB
QEMU_TIMEOUT=${QEMU_TIMEOUT:-120}
WERR=${CROSS_WERROR-1} # as make check; CROSS_WERROR= builds with warnings allowed
T=$(mktemp -d /tmp/emgw-cross.XXXXXX)
trap 'rm -rf "$T"' EXIT
summary=""
overall=0

for bin in emgwd tests/tracegen; do
	[ -x "$NATIVE/$bin" ] || { echo "check-cross: $NATIVE/$bin is not built (make all)" >&2; exit 1; }
done

# conf FILE LOG STATE: a replay of LOG as fast as possible, MQTT off, every
# row committed at once (with the default commit_interval, rows committed at
# exit are not echoed by --stdout: a daemon.c bug, reported).
conf() {
	printf '[device]\nid = cross\nstate_dir = %s\n[can "engine"]\nlog = %s\nspeed = 0\n[mqtt]\nenabled = no\n[store]\ncommit_interval = 0\n' \
		"$3" "$2" >"$1"
}

# Records and events with the fields that may differ between two runs
# (mono_ms: the clock; boot: the start counter) taken out.
stable() { sed -E 's/"mono_ms":[0-9]+,?//; s/"boot":[0-9]+,?//' "$1"; }

# proto_only TRIPLET ARCH QEMU: where a target's -dev packages cannot be had,
# its compiler alone (and a static libc) still builds the pure protocol code:
# tests/cross/protodump.c over the same logs must print the same bytes.
proto_only() {
	local triplet=$1 arch=$2 qemu=$3 pass=0 fail=0 out=build-$1/proto log
	if ! ./tests/scripts/install-cross.sh --compiler-only "$triplet"; then
		summary="$summary$(printf '%-6s skipped (neither packages nor compiler)' "$arch")\n"
		return 0
	fi
	mkdir -p "$out"
	local flags="-std=c11 -D_DEFAULT_SOURCE -O2 -I. -Wall -Wextra -Wshadow -Wstrict-prototypes
		-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2${WERR:+ -Werror}"
	# shellcheck disable=SC2086
	if ! cc $flags -o "$T/protodump.native" tests/cross/protodump.c protocols/*.c -lm ||
		! "$triplet-gcc" $flags -static -o "$out/protodump" tests/cross/protodump.c protocols/*.c -lm; then
		echo "check-cross: FAIL $arch: protocols do not build"
		summary="$summary$(printf '%-6s FAILED (protocols build)' "$arch")\n"
		overall=1
		return 0
	fi
	echo "  $arch ABI: $(timeout "$QEMU_TIMEOUT" "$qemu" "$out/protodump" --abi)"
	"$NATIVE/tests/tracegen" --duration 600 --seed 11 --smoke-at 100,400 -o "$T/proto-trace.log"
	"$NATIVE/tests/tracegen" --duration 60 --seed 3 --start 2200000000 -o "$T/proto-2039.log"
	{
		for f in tests/fuzz/corpus/fuzz_candump/*; do [ ! -f "$f" ] || { cat "$f"; echo; }; done
		printf '%s\n' '(4294967296.000001) can0 0CF00400#F08585DB15FFFF85' \
			'(9223372036854.775807) can0 0CF00400#F08585DB15FFFF85' \
			'(9223372036855.000000) can0 0CF00400#F08585DB15FFFF85' \
			'(1700000000.5) can0 18FEE500#FFFFFFFAFFFFFFFF' '(1700000000.5) can0 18FEC100#FEFFFFFAFAFFFFFF' \
			'can0 1FFFFFFF#FFFFFFFFFFFFFFFF' 'can0 20000000#00' $'can0 0CF00400#\xff\x80'
	} >"$T/proto-edge.log"
	for log in tests/data/excavator.log "$T/proto-trace.log" "$T/proto-2039.log" "$T/proto-edge.log"; do
		"$T/protodump.native" <"$log" >"$T/pd.native"
		if timeout "$QEMU_TIMEOUT" "$qemu" "$out/protodump" <"$log" >"$T/pd.target" &&
			cmp -s "$T/pd.native" "$T/pd.target"; then
			pass=$((pass + 1)); echo "  ok - protocols over $(basename "$log") ($(wc -l <"$log") lines): same output as native"
		else
			fail=$((fail + 1)); echo "  not ok - protocols over $(basename "$log"): output differs from native"
			diff "$T/pd.native" "$T/pd.target" | head -n 10 | sed 's/^/    | /'
		fi
	done
	local res=ok
	[ "$fail" -eq 0 ] || { res=FAILED; overall=1; }
	line=$(printf '%-6s %-6s protocols only (no -dev packages): %d logs compared, %d failed; unit tests not run' \
		"$arch" "$res" "$pass" "$fail")
	echo "$line"
	summary="$summary$line\n"
}

for triplet in "$@"; do
	case $triplet in
	aarch64-linux-gnu) arch=arm64 qemu=qemu-aarch64-static required=yes ;;
	arm-linux-gnueabihf) arch=armhf qemu=qemu-arm-static required=no ;;
	*) echo "check-cross: unknown triplet $triplet" >&2; exit 1 ;;
	esac
	echo "== $arch ($triplet)"
	rc=0
	./tests/scripts/install-cross.sh "$triplet" || rc=$?
	if [ "$rc" -eq 2 ] && [ "$required" = no ]; then
		echo "check-cross: SKIP $arch full build: its -dev packages cannot be installed from this mirror"
		proto_only "$triplet" "$arch" "$qemu"
		continue
	elif [ "$rc" -ne 0 ]; then
		echo "check-cross: FAIL $arch: cross toolchain not installed" >&2
		summary="$summary$(printf '%-6s FAILED (no toolchain)' "$arch")\n"
		overall=1
		continue
	fi

	XB=build-$triplet
	units=""
	for f in tests/unit/test_*.c; do units="$units $XB/tests/$(basename "$f" .c)"; done
	if ! make --no-print-directory -j"$(nproc)" CROSS="$triplet" WERROR="$WERR" all $units \
		>"$T/build-$arch.log" 2>&1; then
		tail -n 30 "$T/build-$arch.log"
		echo "check-cross: FAIL $arch: build failed" >&2
		summary="$summary$(printf '%-6s FAILED (build)' "$arch")\n"
		overall=1
		continue
	fi
	file -b "$XB/emgwd" | grep -q "$(case $arch in arm64) echo aarch64 ;; armhf) echo 'ARM, EABI5' ;; esac)" || {
		echo "check-cross: $XB/emgwd is not a $arch binary: $(file -b "$XB/emgwd")" >&2
		overall=1
		continue
	}
	run() { timeout "$QEMU_TIMEOUT" "$qemu" "$@"; }

	# Unit tests: cmocka's summary is on stderr.
	u_bins=0 u_fail=0 u_tests=0
	for t in $units; do
		u_bins=$((u_bins + 1))
		if run "$t" >"$T/unit.out" 2>&1; then
			n=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$T/unit.out" | tail -n 1)
			u_tests=$((u_tests + ${n:-0}))
			printf '  %-24s ok   %s tests\n' "$(basename "$t")" "${n:-?}"
		else
			u_fail=$((u_fail + 1))
			printf '  %-24s FAILED\n' "$(basename "$t")"
			sed 's/^/    | /' "$T/unit.out" | tail -n 30
		fi
	done

	# Integration checks without services.
	i_pass=0 i_fail=0
	check() { # check "description" CMD...
		local d=$1; shift
		if "$@" >"$T/check.out" 2>&1; then
			i_pass=$((i_pass + 1)); echo "  ok - $d"
		else
			i_fail=$((i_fail + 1)); echo "  not ok - $d"
			sed 's/^/    | /' "$T/check.out" | tail -n 20
		fi
	}
	X=$TOP/$XB
	W=$T/$arch
	mkdir -p "$W"

	check "emgwd --version" eval 'run "$X/emgwd" --version | grep -q "^emgwd [0-9]"'
	check "emgwd -n -c config/emgw.conf: configuration OK" \
		eval 'run "$X/emgwd" -n -c config/emgw.conf | grep -qx "configuration OK"'
	printf '[device]\nid = bad id\nstage = 9\n[nope]\n[mqtt]\nport = 70000\n' >"$W/bad.conf"
	same_bad_conf() {
		local rn=0 rx=0
		"$NATIVE/emgwd" -n -c "$W/bad.conf" >"$W/bad.native" 2>&1 || rn=$?
		run "$X/emgwd" -n -c "$W/bad.conf" >"$W/bad.target" 2>&1 || rx=$?
		[ "$rn" -eq 78 ] && [ "$rx" -eq 78 ] && diff "$W/bad.native" "$W/bad.target"
	}
	check "emgwd -n on a bad file: exit 78, same file:line errors as native" same_bad_conf
	same_decode() {
		"$NATIVE/emgwd" --decode "$1" >"$W/dec.native" 2>"$W/dec.native.err"
		run "$X/emgwd" --decode "$1" >"$W/dec.target" 2>"$W/dec.target.err"
		[ -s "$W/dec.native" ] && cmp "$W/dec.native" "$W/dec.target" &&
			diff "$W/dec.native.err" "$W/dec.target.err"
	}
	check "--decode tests/data/excavator.log: same bytes as native" same_decode tests/data/excavator.log
	same_tracegen() {
		"$NATIVE/tests/tracegen" "$@" -o "$W/trace.native" --labels "$W/labels.native"
		run "$X/tests/tracegen" "$@" -o "$W/trace.target" --labels "$W/labels.target"
		cmp "$W/trace.native" "$W/trace.target" && cmp "$W/labels.native" "$W/labels.target"
	}
	check "tracegen (600 s, seed 11, 2 smoke episodes): same bytes as native" \
		same_tracegen --duration 600 --seed 11 --smoke-at 100,400
	same_replay() { # same_replay LOG: --stdout records and events match native
		rm -rf "$W/st.native" "$W/st.target"
		conf "$W/native.conf" "$1" "$W/st.native"
		conf "$W/target.conf" "$1" "$W/st.target"
		"$NATIVE/emgwd" -c "$W/native.conf" --stdout --exit-when-done >"$W/rec.native" 2>/dev/null
		run "$X/emgwd" -c "$W/target.conf" --stdout --exit-when-done >"$W/rec.target" 2>"$W/rec.target.err" ||
			{ cat "$W/rec.target.err"; return 1; }
		[ "$(wc -l <"$W/rec.native")" -gt 10 ] || { echo "native replay gave too few records"; return 1; }
		diff <(stable "$W/rec.native") <(stable "$W/rec.target")
	}
	check "replay of excavator.log, MQTT off: same records and events as native" \
		same_replay "$TOP/tests/data/excavator.log"
	check "replay of the tracegen trace: same records and events as native" \
		same_replay "$W/trace.native"
	check "the replay found the smoke episodes (events in the output)" \
		grep -q '"smoke' "$W/rec.target"
	# A log dated 2039-09 tests time_t width (32 bits on armhf's bookworm ABI).
	check "trace dated after 2038: same records as native" eval \
		'"$NATIVE/tests/tracegen" --duration 120 --seed 3 --start 2200000000 -o "$W/y2038.log" &&
		same_replay "$W/y2038.log" && grep -q "\"ts\":\"2039-" "$W/rec.target"'
	# --status after the last replay: counters and store figures must agree;
	# the path, pid and ages may not.
	status_stable() { sed -E '1d; /^ *pid /d; /_age_s /d' "$1"; }
	check "--status after the replay: same counters as native" eval \
		'"$NATIVE/emgwd" --status -c "$W/native.conf" >"$W/status.native" 2>&1;
		run "$X/emgwd" --status -c "$W/target.conf" >"$W/status.target" 2>&1;
		grep -q "records" "$W/status.target" &&
		diff <(status_stable "$W/status.native") <(status_stable "$W/status.target")'

	res=ok
	if [ "$u_fail" -ne 0 ] || [ "$i_fail" -ne 0 ]; then res=FAILED; overall=1; fi
	line=$(printf '%-6s %-6s unit: %d binaries, %d tests, %d failed; integration: %d passed, %d failed' \
		"$arch" "$res" "$u_bins" "$u_tests" "$u_fail" "$i_pass" "$i_fail")
	echo "$line"
	summary="$summary$line\n"
done

echo "check-cross summary:"
printf "%b" "$summary" | sed 's/^/  /'
exit "$overall"
