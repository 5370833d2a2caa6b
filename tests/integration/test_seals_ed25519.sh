#!/bin/bash
# Seals signed with Ed25519 ([seal] algorithm = ed25519) in the daemon, and a
# key rotation (README "Seals"): a replay sealed with an Ed25519 key is proven
# by --verify with the key --pubkey prints; the key is then moved aside and
# the algorithm set to sm2: the next boot makes a new SM2 key, and the two
# boots are proven together only with both keys (a seal names its key).
source "$TOP/tests/integration/lib.sh"

"$TOP/$B/tests/tracegen" --duration 300 --start 1700000000 --seed 3 -o "$T/trace.log"
conf() {
	cat <<EOC
[device]
id = ed-01
state_dir = $T/state
[can "engine"]
log = $T/trace.log
speed = 0
[mqtt]
enabled = no
[seal]
algorithm = $1
EOC
}
conf ed25519 >"$T/emgw.conf"
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/made1" 2>"$T/err1"
rc=$?
check "an Ed25519-sealed replay ends and exits 0 (rc=$rc)" test "$rc" -eq 0
n=$(grep -c '"type":"seal"' "$T/made1")
check "its seals name ed25519 ($n seals)" sh -c "test $n -ge 2 && test \$(grep -c '\"alg\":\"ed25519\"' '$T/made1') -eq $n"
"$EMGWD" -c "$T/emgw.conf" --pubkey >"$T/ed.pem"
check "--pubkey prints the Ed25519 public key" sh -c "openssl pkey -pubin -in '$T/ed.pem' -noout -text | grep -q 'ED25519 Public-Key'"
check "--verify proves the replay with it" sh -c "'$EMGWD' --verify '$T/made1' --key '$T/ed.pem' | grep -q '^proven'"

# Rotation: the old key kept aside, a new SM2 key for the next boot.
mv "$T/state/seal.key" "$T/ed.key"
conf sm2 >"$T/emgw.conf"
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/made2" 2>"$T/err2"
check "after the rotation a new sm2 key is made" grep -q 'seal: new sm2 key' "$T/err2"
"$EMGWD" -c "$T/emgw.conf" --pubkey >"$T/sm2.pem"
cat "$T/made1" "$T/made2" >"$T/both"
check "both boots are proven with both keys" sh -c "'$EMGWD' --verify '$T/both' --key '$T/ed.pem' --key '$T/sm2.pem' | grep -q '^proven'"
"$EMGWD" --verify "$T/both" --key "$T/sm2.pem" >"$T/v.one" 2>&1
rc=$?
check "with the new key alone the old boot is not proven (rc=$rc)" test "$rc" -eq 1
# An existing key wins over the configured algorithm (a key is never replaced).
cp "$T/ed.key" "$T/state/seal.key"
"$EMGWD" -c "$T/emgw.conf" --stdout --exit-when-done >"$T/made3" 2>"$T/err3"
check "an ed25519 key on disk is kept under algorithm = sm2" grep -q 'is an ed25519 key: kept' "$T/err3"
finish
