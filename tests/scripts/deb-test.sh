#!/bin/bash
# deb-test.sh VERSION: installs build/deb/emgw_VERSION_<native>.deb into a
# clean Debian root (debootstrap --variant=minbase, from the mirror apt is
# configured with) and checks what a user would see:
#   round 1, no systemd in the root: dpkg -i, apt-get install -f for the
#     libraries; every file of the package in place; user, group and modes
#     made by the postinst's fallback (useradd/install); the emgw user can run
#     `emgwd -n -c /etc/emgw/emgw.conf`; purge removes files and state.
#   round 2, with systemd installed (not running) and /proc mounted: the same
#     through systemd-sysusers and systemd-tmpfiles, and the unit enabled.
#   the README's field path in round 1, as a new user would: edit the three
#     things in /etc/emgw/emgw.conf (id, the CAN source: a replayed log, as
#     there is no bus here; the broker: a mosquitto on loopback), `emgwd -n`,
#     `emgwd --selftest` as the emgw user passes and its broker line is ok.
#   round 3, systemd installed but no /proc (as in image builds), where
#     systemd-tmpfiles refuses to run: the postinst falls back.
# For the other architectures' packages, the file list (dpkg -c) must equal
# the native one, and the binary must be for that architecture.
set -eu
VERSION=${1:?usage: deb-test.sh VERSION}
TOP=$PWD
ARCH=$(dpkg --print-architecture)
DEB=$TOP/build/deb/emgw_${VERSION}_$ARCH.deb
SUITE=bookworm
CACHE=$TOP/build/deb/debootstrap-cache
FAILS=0

[ -s "$DEB" ] || { echo "deb-test: $DEB missing (make deb)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "deb-test: needs root (debootstrap, chroot)" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
	echo "deb-test: installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 debootstrap >/dev/null
fi

# The mirror apt uses for the suite itself (not -security or -updates):
# deb822 .sources first, then one-line sources.list.
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk -v s="$SUITE" '
			/^[ \t]*$/ { if (u != "" && ok) { print u; exit } u = ""; ok = 0; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			END { if (u != "" && ok) print u }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		awk -v s="$SUITE" '$1 == "deb" && $0 !~ /\[/ && $3 == s { print $2 }' "$f"
	done
}
MIRROR=$(mirror | head -n 1)
[ -n "$MIRROR" ] || { echo "deb-test: no $SUITE mirror in apt's sources" >&2; exit 1; }

T=$(mktemp -d /var/tmp/emgw-debtest.XXXXXX)
R=$T/root
unmount_proc() { ! mountpoint -q "$R/proc" || umount "$R/proc"; }
MOSQ_PID=
trap 'unmount_proc; [ -z "$MOSQ_PID" ] || kill "$MOSQ_PID"; rm -rf --one-file-system "$T"' EXIT

check() { # check "description" CMD...
	local d=$1; shift
	if "$@" >"$T/check.out" 2>&1; then
		echo "ok - $d"
	else
		echo "not ok - $d"
		sed 's/^/# /' "$T/check.out" | tail -n 20
		FAILS=$((FAILS + 1))
	fi
}
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }

echo "deb-test: debootstrap --variant=minbase $SUITE from $MIRROR"
mkdir -p "$CACHE"
start=$(date +%s)
if ! debootstrap --variant=minbase --cache-dir="$CACHE" "$SUITE" "$R" "$MIRROR" >"$T/debootstrap.log" 2>&1; then
	tail -n 20 "$T/debootstrap.log"
	echo "deb-test: debootstrap failed" >&2
	exit 1
fi
echo "deb-test: clean root in $(( $(date +%s) - start )) s ($(du -sm "$R" | cut -f1) MB)"
# Name resolution and apt's own settings for this mirror (a snapshot mirror's
# Release files are past their Valid-Until).
cp /etc/hosts "$R/etc/hosts"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' >"$R/etc/apt/apt.conf.d/99emgw-test" || true
cp "$DEB" "$R/tmp/emgw.deb"

PATHS=$(dpkg-deb -c "$DEB" | awk '{ print substr($6, 2) }' | grep -v '/$')

# owner_mode PATH USER GROUP MODE, names resolved in the root.
owner_mode() {
	[ "$(in_root stat -c '%U %G %a' "$1")" = "$2 $3 $4" ] ||
		{ echo "$1: $(in_root stat -c '%U %G %a' "$1"), want $2 $3 $4"; return 1; }
}
files_in_place() {
	local p bad=0
	for p in $PATHS; do [ -e "$R$p" ] || { echo "missing: $p"; bad=1; }; done
	[ "$bad" -eq 0 ]
}
user_ok() {
	in_root getent passwd emgw | awk -F: '$6 == "/var/lib/emgw" && $7 ~ /nologin$/ { f = 1 } END { exit !f }' &&
		in_root id -nG emgw | tr ' ' '\n' | grep -qx dialout
}

# installed_checks ROUND: what a user sees after installing.
installed_checks() {
	check "$1: package installed" eval \
		'[ "$(in_root dpkg-query -W -f="\${Status}" emgw)" = "install ok installed" ]'
	check "$1: every file of the package in place ($(echo "$PATHS" | wc -l) files)" files_in_place
	check "$1: every library found (ldd)" eval '! in_root ldd /usr/sbin/emgwd | grep -q "not found"'
	check "$1: emgwd --version" eval 'in_root emgwd --version | grep -q "^emgwd '"$VERSION"'"'
	check "$1: emgwd -n -c /etc/emgw/emgw.conf: configuration OK" \
		eval 'in_root emgwd -n -c /etc/emgw/emgw.conf | grep -qx "configuration OK"'
	check "$1: ... also as user emgw" eval \
		'chroot --userspec=emgw:emgw "$R" /usr/sbin/emgwd -n -c /etc/emgw/emgw.conf | grep -qx "configuration OK"'
	check "$1: user emgw: home /var/lib/emgw, no login shell, in dialout" user_ok
	check "$1: /var/lib/emgw emgw:emgw 0750" owner_mode /var/lib/emgw emgw emgw 750
	check "$1: /etc/emgw root:emgw 0750" owner_mode /etc/emgw root emgw 750
	check "$1: /etc/emgw/emgw.conf root:emgw 0640, a conffile" eval \
		'owner_mode /etc/emgw/emgw.conf root emgw 640 &&
		in_root dpkg-query -W -f="\${Conffiles}" emgw | grep -q "/etc/emgw/emgw.conf"'
	check "$1: unit names /usr/sbin/emgwd and /etc/emgw/emgw.conf" eval \
		'grep -qx "ExecStart=/usr/sbin/emgwd -c /etc/emgw/emgw.conf" "$R/lib/systemd/system/emgw.service"'
	check "$1: man page readable" eval 'zcat "$R/usr/share/man/man8/emgwd.8.gz" | grep -q "^\.TH EMGWD 8"'
}
purge_checks() {
	check "$1: dpkg --purge emgw" in_root dpkg --purge emgw
	check "$1: purge removed binary, conffile and state" eval \
		'[ ! -e "$R/usr/sbin/emgwd" ] && [ ! -e "$R/etc/emgw/emgw.conf" ] && [ ! -e "$R/var/lib/emgw" ]'
}

# The README's field path, steps 7 and 8, against a broker on loopback (the
# root shares this machine's network): the three edits, -n, --selftest.
field_path() {
	local port
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$T/mosquitto.conf"
	mosquitto -c "$T/mosquitto.conf" >"$T/mosquitto.log" 2>&1 &
	MOSQ_PID=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
	cp "$TOP/tests/data/excavator.log" "$R/tmp/engine.log"
	chmod 644 "$R/tmp/engine.log"
	sed -i -e 's/^id = emgw$/id = field-01/' -e 's/^vin =$/vin = LDEMXEXCAVATR0001/' \
		-e 's|^interface = can0$|;interface = can0|' -e 's|^;log = .*|log = /tmp/engine.log|' \
		-e "/^\[mqtt\]/,/^\[/ s/^port = 1883\$/port = $port/" "$R/etc/emgw/emgw.conf"
	check "field path: emgwd -n after the three edits: configuration OK" eval \
		'in_root emgwd -n | grep -qx "configuration OK"'
	check "field path: emgwd --selftest as user emgw: exit 0" eval \
		'chroot --userspec=emgw:emgw "$R" /usr/sbin/emgwd --selftest --seconds 3 >"$T/selftest.out" 2>&1 ||
		{ cat "$T/selftest.out"; false; }'
	check "field path: the engine heard, the broker's round trip on emgw/field-01/selftest" eval \
		'grep -q "^can engine .* ok .*engine speed seen" "$T/selftest.out" &&
		grep -q "^mqtt .* ok .*localhost:$port: plain TCP, CONNACK ok, round trip on emgw/field-01/selftest" "$T/selftest.out" ||
		{ cat "$T/selftest.out"; false; }'
	kill "$MOSQ_PID"
	wait "$MOSQ_PID" 2>/dev/null
	MOSQ_PID=
}

# Round 1: a minbase root has no systemd.
echo "# round 1: no systemd in the root (postinst fallbacks)"
in_root dpkg -i /tmp/emgw.deb >"$T/dpkg1.log" 2>&1 || true
check "round 1: dpkg -i reports only missing dependencies" eval \
	'grep -q "dependency problems" "$T/dpkg1.log" || grep -q "Setting up emgw" "$T/dpkg1.log" || { cat "$T/dpkg1.log"; false; }'
check "round 1: apt-get update in the root" in_root apt-get update -q
check "round 1: apt-get install -f pulls the libraries and configures emgw" \
	in_root apt-get install -f -y -q --no-install-recommends
installed_checks "round 1"
check "round 1: systemd not in the root (fallback path taken)" eval '! in_root sh -c "command -v systemd-sysusers"'
field_path
purge_checks "round 1"

# Round 2: with systemd (not running): sysusers and tmpfiles work offline.
echo "# round 2: systemd installed, not running; /proc mounted"
check "round 2: apt-get install systemd" in_root apt-get install -y -q --no-install-recommends systemd
mount -t proc proc "$R/proc"
in_root userdel emgw >/dev/null 2>&1 || true
in_root groupdel emgw >/dev/null 2>&1 || true
check "round 2: dpkg -i" eval 'in_root dpkg -i /tmp/emgw.deb >"$T/dpkg2.log" 2>&1 || { cat "$T/dpkg2.log"; false; }'
check "round 2: systemd-tmpfiles made the directories (no fallback)" \
	eval '! grep -q "making the directories directly" "$T/dpkg2.log"'
installed_checks "round 2"
check "round 2: unit enabled (multi-user.target.wants)" \
	test -L "$R/etc/systemd/system/multi-user.target.wants/emgw.service"
check "round 2: reinstall (upgrade path) keeps the configuration" eval \
	'echo "# local edit" >>"$R/etc/emgw/emgw.conf" && in_root dpkg -i --force-confold /tmp/emgw.deb &&
	grep -qx "# local edit" "$R/etc/emgw/emgw.conf"'
purge_checks "round 2"

echo "# round 3: systemd installed, /proc not mounted (image build)"
unmount_proc
in_root userdel emgw >/dev/null 2>&1 || true
in_root groupdel emgw >/dev/null 2>&1 || true
check "round 3: dpkg -i, the postinst says it falls back" eval \
	'in_root dpkg -i /tmp/emgw.deb >"$T/dpkg3.log" 2>&1 && grep -q "making the directories directly" "$T/dpkg3.log" ||
	{ cat "$T/dpkg3.log"; false; }'
installed_checks "round 3"
purge_checks "round 3"

# Other architectures: the same files, a binary for the right machine.
for other in "$TOP"/build/deb/emgw_"${VERSION}"_*.deb; do
	a=$(dpkg-deb --field "$other" Architecture)
	[ "$a" != "$ARCH" ] || continue
	same_list() { diff <(echo "$PATHS") <(dpkg-deb -c "$other" | awk '{ print substr($6, 2) }' | grep -v '/$'); }
	check "$a: dpkg -c lists the same files as $ARCH" same_list
	machine() {
		mkdir -p "$T/x-$a" && dpkg-deb -x "$other" "$T/x-$a" &&
			file -b "$T/x-$a/usr/sbin/emgwd" | grep -E "$(case $a in arm64) echo aarch64 ;; armhf) echo 'ARM, EABI5' ;; *) echo "$a" ;; esac)" &&
			file -b "$T/x-$a/usr/sbin/emgwd" | grep -q ', stripped'
	}
	check "$a: usr/sbin/emgwd is a stripped $a binary" machine
done

if [ "$FAILS" -eq 0 ]; then echo "deb-test: all passed"; else echo "deb-test: $FAILS failed"; fi
[ "$FAILS" -eq 0 ]
