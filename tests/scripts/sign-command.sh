#!/bin/bash
# sign-command.sh KEY DEVICE COMMAND PAYLOAD_FILE ID [TS [NONCE]]
# Prints the signed request for emgwd's set-config or confirm-config (README,
# "Remote configuration"): the operator's private KEY (PEM, SM2 or Ed25519)
# signs, with openssl,
#   "emgw-command-v1\n" DEVICE "\n" COMMAND "\n" TS "\n" NONCE "\n" PAYLOAD
# where PAYLOAD is PAYLOAD_FILE's bytes (a JSON object's text).  TS defaults
# to now (Unix seconds), NONCE to 16 random hex digits.
set -eu
[ $# -ge 5 ] || { echo "usage: $0 KEY DEVICE COMMAND PAYLOAD_FILE ID [TS [NONCE]]" >&2; exit 2; }
key=$1 dev=$2 cmd=$3 payload=$4 id=$5
ts=${6:-$(date +%s)}
nonce=${7:-$(openssl rand -hex 8)}
msg=$(mktemp)
trap 'rm -f "$msg"' EXIT
{ printf 'emgw-command-v1\n%s\n%s\n%s\n%s\n' "$dev" "$cmd" "$ts" "$nonce"; cat "$payload"; } >"$msg"
# SM2 signs with SM3 (and the default id); Ed25519 signs the message itself.
digest=()
openssl pkey -in "$key" -noout -text | head -1 | grep -q ED25519 || digest=(-digest sm3)
sig=$(openssl pkeyutl -sign -rawin "${digest[@]}" -inkey "$key" -in "$msg" | base64 -w0)
jq -c -n --arg id "$id" --argjson ts "$ts" --arg nonce "$nonce" --rawfile payload "$payload" \
	--arg sig "$sig" '{id: $id, ts: $ts, nonce: $nonce, payload: $payload, sig: $sig}'
