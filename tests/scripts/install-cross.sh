#!/bin/sh
# install-cross.sh [--compiler-only] TRIPLET: installs Debian's cross compiler
# for TRIPLET, the target's -dev packages (multiarch) and qemu-user-static to
# run its tests.  --compiler-only: the compiler (with its libc) and qemu, no
# foreign architecture: enough for the pure protocol code.
# Only what is missing is installed; safe to run again.
#
# Exit 0: ready.  Exit 2: this architecture cannot be had from the configured
# mirror (its index is broken or missing); apt and dpkg are left exactly as
# they were found, and the caller should skip the architecture.  Exit 1: error.
#
# The index is probed in a scratch apt state directory before dpkg is told
# about the architecture, so a broken index never reaches the real apt state
# (on the mirror used here, armhf's security index does not match its Release
# file, and with armhf added every `apt-get update` fails).
set -eu

COMPILER_ONLY=no
if [ "${1:-}" = --compiler-only ]; then COMPILER_ONLY=yes; shift; fi
TRIPLET=${1:?usage: install-cross.sh [--compiler-only] TRIPLET}
case $TRIPLET in
aarch64-linux-gnu)	ARCH=arm64 QEMU=qemu-aarch64-static ;;
arm-linux-gnueabihf)	ARCH=armhf QEMU=qemu-arm-static ;;
*)	echo "install-cross: unknown triplet $TRIPLET (aarch64-linux-gnu, arm-linux-gnueabihf)" >&2
	exit 1 ;;
esac
DEVS="libmodbus-dev libpaho-mqtt-dev libgps-dev libcmocka-dev libsqlite3-dev libsystemd-dev
libssl-dev libinih-dev libjansson-dev zlib1g-dev"
PKGS="gcc-$TRIPLET libc6-dev-$ARCH-cross qemu-user-static pkgconf:$ARCH"
for p in $DEVS; do PKGS="$PKGS $p:$ARCH"; done
if [ "$COMPILER_ONLY" = yes ]; then
	PKGS="gcc-$TRIPLET libc6-dev-$ARCH-cross qemu-user-static"
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do installed "$p" || missing="$missing $p"; done
if [ "$COMPILER_ONLY" = yes ]; then
	[ -n "$missing" ] || exit 0
	[ "$(id -u)" = 0 ] || { echo "install-cross: missing packages:$missing (run as root)" >&2; exit 1; }
	echo "install-cross: installing the $ARCH compiler only:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 $missing >/dev/null || exit 2
	exit 0
fi
if [ -z "$missing" ] && command -v "$TRIPLET-pkg-config" >/dev/null && command -v "$QEMU" >/dev/null; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-cross: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
APT_LOCK="-o DPkg::Lock::Timeout=600"

# probe_index: can apt fetch and verify every index for $ARCH?  Uses a
# scratch state and cache directory: the real lists are not touched.
probe_index() {
	scratch=$(mktemp -d /tmp/emgw-apt-probe.XXXXXX)
	mkdir -p "$scratch/lists/partial" "$scratch/cache/archives/partial"
	rc=0
	apt-get update -q -o APT::Architectures::="$(dpkg --print-architecture)" \
		-o APT::Architectures::="$ARCH" -o Dir::State::Lists="$scratch/lists" \
		-o Dir::Cache="$scratch/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o APT::Update::Error-Mode=any -o APT::Sandbox::User=root \
		>"$scratch/update.log" 2>&1 || rc=$?
	# apt may exit 0 while warning that an index could not be used.
	if [ "$rc" -ne 0 ] || grep -qE '^(E:|W: (Failed|Some index|GPG))' "$scratch/update.log"; then
		sed 's/^/install-cross:   /' "$scratch/update.log" | grep -E '(E:|W:|Err)' | head -n 5 >&2
		rc=1
	fi
	rm -rf "$scratch"
	return "$rc"
}

added_arch=no
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
	echo "install-cross: probing the $ARCH package index (scratch apt state)"
	if ! probe_index; then
		echo "install-cross: SKIP $ARCH: the configured mirror's $ARCH index is broken or missing;" \
			"apt and dpkg are left unchanged" >&2
		exit 2
	fi
	dpkg --add-architecture "$ARCH"
	added_arch=yes
fi

# undo: put dpkg and apt back as they were found (only what this run added).
undo() {
	[ "$added_arch" = yes ] || return 0
	echo "install-cross: undoing: removing :$ARCH packages and architecture $ARCH" >&2
	pk=$(dpkg-query -W -f='${binary:Package} ${Status}\n' "*:$ARCH" 2>/dev/null |
		awk '/install ok installed/ { print $1 }')
	[ -z "$pk" ] || apt-get purge -y -q --allow-remove-essential $APT_LOCK $pk >/dev/null 2>&1 || true
	dpkg --remove-architecture "$ARCH" || true
	apt-get update -q $APT_LOCK >/dev/null 2>&1 || true
}

echo "install-cross: installing for $ARCH:$missing"
if ! apt-get update -q $APT_LOCK >/dev/null 2>"/tmp/emgw-cross-update.$$"; then
	sed 's/^/install-cross:   /' "/tmp/emgw-cross-update.$$" | head -n 5 >&2
	rm -f "/tmp/emgw-cross-update.$$"
	echo "install-cross: SKIP $ARCH: apt-get update fails with $ARCH added" >&2
	undo
	exit 2
fi
rm -f "/tmp/emgw-cross-update.$$"
if ! apt-get install -y -q --no-install-recommends $APT_LOCK $missing >/dev/null; then
	echo "install-cross: SKIP $ARCH: its packages cannot be installed" >&2
	undo
	exit 2
fi
if ! command -v "$TRIPLET-pkg-config" >/dev/null; then
	echo "install-cross: $TRIPLET-pkg-config missing after install" >&2
	exit 1
fi
echo "install-cross: $ARCH ready ($TRIPLET-gcc $("$TRIPLET-gcc" -dumpversion), $QEMU)"
