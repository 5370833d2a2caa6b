#!/bin/bash
# make install into a DESTDIR puts every file where a Debian system wants it;
# the unit passes `systemd-analyze verify` without a word and scores at most
# MAX_EXPOSURE in `systemd-analyze security`; sysusers and tmpfiles apply.
source "$TOP/tests/integration/lib.sh"

MAX_EXPOSURE=20		# tenths: 2.0; the unit reaches 1.7
R=$T/root

if ! command -v systemd-analyze >/dev/null; then
	echo "not ok - systemd-analyze missing (make deps installs package systemd)"
	exit 1
fi
if [ ! -x "$B/emgwd" ]; then
	echo "not ok - $B/emgwd is not built"
	exit 1
fi

install_tree() {
	make --no-print-directory install DESTDIR="$R" PREFIX=/usr B="$B" \
		>"$T/install.log" 2>&1 || { sed 's/^/# /' "$T/install.log"; return 1; }
}

# quiet CMD...: CMD succeeds and prints nothing at all (what it did print is
# shown as a comment).
quiet() {
	"$@" >"$T/quiet.out" 2>&1
	local rc=$?
	sed 's/^/# /' "$T/quiet.out"
	[ "$rc" -eq 0 ] && [ ! -s "$T/quiet.out" ]
}

# owner_mode PATH USER GROUP MODE: names resolved in the tree's own passwd
# and group files (which sysusers wrote, without root)
owner_mode() {
	local uid=0 gid=0
	[ "$2" = root ] || uid=$(awk -F: -v n="$2" '$1 == n { print $3 }' "$R/etc/passwd")
	[ "$3" = root ] || gid=$(awk -F: -v n="$3" '$1 == n { print $3 }' "$R/etc/group")
	[ -n "$uid" ] && [ -n "$gid" ] && [ "$(stat -c '%u %g %a' "$1")" = "$uid $gid $4" ]
}

check "make install DESTDIR=... PREFIX=/usr" install_tree
check "emgwd installed, executable" test -x "$R/usr/sbin/emgwd"
check "installed emgwd runs (--version)" \
	eval '"$R/usr/sbin/emgwd" --version | grep -q "^emgwd [0-9]"'
check "installed configuration passes the unit's ExecStartPre check (-n)" \
	eval '"$R/usr/sbin/emgwd" -n -c "$R/etc/emgw/emgw.conf" | grep -qx "configuration OK"'
check "man page installed" test -s "$R/usr/share/man/man8/emgwd.8"
check "example configuration installed, 0640" \
	eval 'test "$(stat -c %a "$R/etc/emgw/emgw.conf")" = 640'
check "unit installed" test -s "$R/lib/systemd/system/emgw.service"
check "sysusers.d file installed" test -s "$R/usr/lib/sysusers.d/emgw.conf"
check "tmpfiles.d file installed" test -s "$R/usr/lib/tmpfiles.d/emgw.conf"
check "unit has no @PLACEHOLDER@ left" \
	eval '! grep -qE "@[A-Z_]+@" "$R/lib/systemd/system/emgw.service"'
check "unit checks, then starts /usr/sbin/emgwd with /etc/emgw/emgw.conf" \
	eval 'grep -qx "ExecStartPre=/usr/sbin/emgwd -n -c /etc/emgw/emgw.conf" "$R/lib/systemd/system/emgw.service" &&
	grep -qx "ExecStart=/usr/sbin/emgwd -c /etc/emgw/emgw.conf" "$R/lib/systemd/system/emgw.service"'
check "unit keeps status.json in RAM: RuntimeDirectory=emgw" \
	grep -qx "RuntimeDirectory=emgw" "$R/lib/systemd/system/emgw.service"
check "man page renders without warnings" \
	quiet groff -ww -man -Tutf8 -z "$R/usr/share/man/man8/emgwd.8"

# The unit as installed names /usr/sbin/emgwd, which need not exist on this
# host: verify a copy that points into the tree.  MANPATH lets verify find
# Documentation=man:emgwd(8) in the tree too.
mkdir -p "$T/verify"
sed -e "s|/usr/sbin/emgwd|$R/usr/sbin/emgwd|g" -e "s|/etc/emgw/|$R/etc/emgw/|g" \
	"$R/lib/systemd/system/emgw.service" >"$T/verify/emgw.service"
verify_unit() { MANPATH="$R/usr/share/man" systemd-analyze verify "$@"; }
check "systemd-analyze verify prints nothing" quiet verify_unit "$T/verify/emgw.service"

systemd-analyze security --offline=yes --threshold="$MAX_EXPOSURE" \
	"$T/verify/emgw.service" >"$T/security.out" 2>&1
rc=$?
score=$(awk '/Overall exposure level/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]$/) print $i }' \
	"$T/security.out")
if [ "$rc" -eq 0 ] && [ -n "$score" ]; then
	echo "ok - exposure $score"
else
	echo "not ok - exposure ${score:-unknown} (threshold $MAX_EXPOSURE tenths)"
	grep -E '✗|Overall' "$T/security.out" | sed 's/^/# /'
	FAILS=$((FAILS + 1))
fi

# Apply sysusers and tmpfiles to the tree, as the package's postinst would.
check "systemd-sysusers applies" systemd-sysusers --root="$R"
check "systemd-tmpfiles applies" quiet systemd-tmpfiles --root="$R" --create
check "user emgw: home /var/lib/emgw, no login shell" \
	awk -F: '$1 == "emgw" && $6 == "/var/lib/emgw" && $7 ~ /nologin$/ { f = 1 } END { exit !f }' \
	"$R/etc/passwd"
check "emgw is in group dialout (RS-485 lines)" \
	awk -F: '$1 == "dialout" && ("," $4 ",") ~ /,emgw,/ { f = 1 } END { exit !f }' "$R/etc/group"
check "/var/lib/emgw is emgw:emgw 0750" owner_mode "$R/var/lib/emgw" emgw emgw 750
check "/etc/emgw is root:emgw 0750" owner_mode "$R/etc/emgw" root emgw 750
check "emgw.conf is root:emgw 0640" owner_mode "$R/etc/emgw/emgw.conf" root emgw 640

finish
