#!/bin/sh
# Installs aedes, the second MQTT broker test_broker2.sh runs emgwd against,
# from the npm registry into a cache outside the source tree (one directory
# per version, reused while it holds that version), and prints that
# directory.  Quiet unless it fails; exit 1 with the reason on stderr where
# it cannot (no node >= 20, no npm, no registry).
# EMGW_AEDES_DIR overrides the directory.
set -eu
AEDES_VERSION=1.2.0
DIR=${EMGW_AEDES_DIR:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/emgw/aedes-$AEDES_VERSION}

have() { # the cached install holds aedes $AEDES_VERSION
	[ -f "$DIR/node_modules/aedes/package.json" ] &&
		grep -q "\"version\": \"$AEDES_VERSION\"" "$DIR/node_modules/aedes/package.json"
}
have && { echo "$DIR"; exit 0; }
command -v node >/dev/null 2>&1 || { echo "install-aedes: no node (aedes needs node >= 20)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
	{ echo "install-aedes: node $(node --version) is older than 20" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "install-aedes: no npm" >&2; exit 1; }
mkdir -p "$DIR"
# A package.json of its own: npm installs here, not into a parent project.
[ -f "$DIR/package.json" ] || echo '{"private": true}' >"$DIR/package.json"
if ! npm install --prefix "$DIR" --no-audit --no-fund --no-update-notifier --save-exact \
	"aedes@$AEDES_VERSION" >"$DIR/npm.log" 2>&1 || ! have; then
	echo "install-aedes: npm install aedes@$AEDES_VERSION failed: $(tail -n 3 "$DIR/npm.log" | tr '\n' ' ')" >&2
	exit 1
fi
echo "$DIR"
