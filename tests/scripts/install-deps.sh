#!/bin/sh
# Installs the Debian packages emgw needs to build, test and run its demo.
# Only what is missing is installed; safe to run again.
set -eu
PKGS="build-essential pkg-config libmodbus-dev libpaho-mqtt-dev libgps-dev libcmocka-dev
libsqlite3-dev libssl-dev libinih-dev libjansson-dev zlib1g-dev mosquitto
mosquitto-clients gpsd gpsd-clients socat can-utils openssl clang libclang-rt-14-dev valgrind
python3-pymodbus python3-serial-asyncio python3-paho-mqtt systemd time jq bc clang-format sqlite3"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
