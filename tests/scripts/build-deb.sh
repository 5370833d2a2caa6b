#!/bin/bash
# build-deb.sh VERSION [TRIPLET...]: builds build/deb/emgw_VERSION_ARCH.deb for
# this machine's architecture and for each cross TRIPLET whose packages can be
# had (aarch64-linux-gnu is required; others are skipped with a message),
# then runs lintian on each (errors fail the build, warnings are shown).
#
# Each package is built with Debian's hardening flags (dpkg-buildflags) into
# its own object directory build/deb/obj-ARCH, installed with `make install`
# into build/deb/root-ARCH, stripped, its man page and changelog gzipped, and
# packed with the maintainer scripts and metadata of config/packaging/.
# Depends comes from dpkg-shlibdeps on the binary; the libgps it dlopen()s is
# Recommended.
set -eu
VERSION=${1:?usage: build-deb.sh VERSION [TRIPLET...]}
shift
TOP=$PWD
PKG=$TOP/config/packaging
OUT=$TOP/build/deb
mkdir -p "$OUT"

# Packaging tools are not needed by make check: installed here when missing.
if ! command -v dpkg-shlibdeps >/dev/null || ! command -v lintian >/dev/null; then
	[ "$(id -u)" = 0 ] || { echo "build-deb: needs dpkg-dev and lintian (run as root, or install them)" >&2; exit 1; }
	echo "build-deb: installing dpkg-dev lintian"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 dpkg-dev lintian >/dev/null
fi
top_version=$(sed -n '1s/^emgw (\([^)]*\)).*/\1/p' "$PKG/changelog")
if [ "$top_version" != "$VERSION" ]; then
	echo "build-deb: config/packaging/changelog is at $top_version, the Makefile at $VERSION:" \
		"add a changelog entry" >&2
	exit 1
fi

# build_one ARCH [TRIPLET]: one .deb; prints its path on success.
build_one() {
	local arch=$1 triplet=${2:-} obj=$OUT/obj-$1 root=$OUT/root-$1 strip=strip
	local deb=$OUT/emgw_${VERSION}_$1.deb cflags ldflags depends cross=()

	if [ -n "$triplet" ]; then
		cross=(CROSS="$triplet")
		strip=$triplet-strip
	fi
	cflags="$(DEB_HOST_ARCH=$arch DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS) $(DEB_HOST_ARCH=$arch DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS)"
	ldflags=$(DEB_HOST_ARCH=$arch DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)
	rm -rf "$root"
	make --no-print-directory -j"$(nproc)" "${cross[@]}" B="$obj" \
		CFLAGS="$cflags" LDFLAGS="$ldflags" \
		install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system \
		>"$OUT/build-$arch.log" 2>&1 || {
		tail -n 30 "$OUT/build-$arch.log" >&2
		echo "build-deb: $arch: build failed (log: $OUT/build-$arch.log)" >&2
		return 1
	}

	# What make install leaves, made Debian-shaped.
	"$strip" --remove-section=.comment --remove-section=.note --strip-unneeded \
		"$root/usr/sbin/emgwd"
	gzip -9n "$root/usr/share/man/man8/emgwd.8"
	install -d "$root/usr/share/doc/emgw" "$root/DEBIAN"
	install -m 0644 "$PKG/copyright" "$root/usr/share/doc/emgw/copyright"
	gzip -9n <"$PKG/changelog" >"$root/usr/share/doc/emgw/changelog.gz"
	chmod 0644 "$root/usr/share/doc/emgw/changelog.gz"

	# Depends: from the binary's NEEDED entries and the libraries' shlibs.
	mkdir -p "$OUT/shlibs-$arch/debian"
	printf 'Source: emgw\n\nPackage: emgw\nArchitecture: any\n' >"$OUT/shlibs-$arch/debian/control"
	depends=$(cd "$OUT/shlibs-$arch" &&
		dpkg-architecture -a"$arch" -c dpkg-shlibdeps -O "$root/usr/sbin/emgwd" 2>"$OUT/shlibdeps-$arch.log" |
		sed -n 's/^shlibs:Depends=//p') || true
	if [ -z "$depends" ]; then
		cat "$OUT/shlibdeps-$arch.log" >&2
		echo "build-deb: $arch: dpkg-shlibdeps found no dependencies" >&2
		return 1
	fi
	# libgps is dlopen()ed, only with [gnss]: not in NEEDED, so recommended
	# by the soname the binary loads (Debian names libgps.so.28 libgps28).
	gps=$(grep -ao 'libgps\.so\.[0-9]*' "$root/usr/sbin/emgwd" | head -1 | sed 's/\.so\.//')
	if [ -z "$gps" ]; then
		echo "build-deb: $arch: emgwd names no libgps.so.N" >&2
		return 1
	fi
	sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" -e "s|@DEPENDS@|$depends|" \
		-e "s|@LIBGPS@|$gps|" \
		-e "s|@SIZE@|$(du -sk --exclude=DEBIAN "$root" | cut -f1)|" \
		"$PKG/control.in" >"$root/DEBIAN/control"
	install -m 0644 "$PKG/conffiles" "$root/DEBIAN/conffiles"
	install -m 0755 "$PKG/postinst" "$PKG/prerm" "$PKG/postrm" "$root/DEBIAN/"
	(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
		LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/md5sums"

	rm -f "$deb"
	dpkg-deb --build --root-owner-group -Zxz "$root" "$deb" >/dev/null
	echo "$deb"
}

debs=()
native=$(dpkg --print-architecture)
echo "build-deb: $native"
deb=$(build_one "$native") || exit 1
debs+=("$deb")
for triplet in "$@"; do
	case $triplet in
	aarch64-linux-gnu) arch=arm64 required=yes ;;
	arm-linux-gnueabihf) arch=armhf required=no ;;
	*) echo "build-deb: unknown triplet $triplet" >&2; exit 1 ;;
	esac
	[ "$arch" != "$native" ] || continue
	echo "build-deb: $arch ($triplet)"
	rc=0
	./tests/scripts/install-cross.sh "$triplet" || rc=$?
	if [ "$rc" -eq 2 ] && [ "$required" = no ]; then
		echo "build-deb: SKIP $arch: its packages cannot be installed from this mirror"
		continue
	fi
	[ "$rc" -eq 0 ] || { echo "build-deb: $arch: no cross toolchain" >&2; exit 1; }
	deb=$(build_one "$arch" "$triplet") || exit 1
	debs+=("$deb")
done

fail=0
for deb in "${debs[@]}"; do
	echo "== $(basename "$deb") ($(stat -c %s "$deb") bytes)"
	dpkg-deb --field "$deb" Depends | sed 's/^/  Depends: /'
	# lintian exits non-zero on errors only (warnings are reported).
	if lintian --tag-display-limit 0 --display-info "$deb" >"$deb.lintian" 2>&1; then
		echo "  lintian: no errors, $(grep -c '^W:' "$deb.lintian" || true) warnings," \
			"$(grep -c '^I:' "$deb.lintian" || true) info"
	else
		echo "  lintian: errors"
		fail=1
	fi
	sed 's/^/  /' "$deb.lintian"
done
exit "$fail"
