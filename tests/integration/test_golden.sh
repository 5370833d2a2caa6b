#!/bin/bash
# The wire format holds: the records and events emgwd makes from a fixed set
# of traces (tests/scripts/golden.sh) are byte for byte the JSON that main
# made before the payload redesign (tests/data/golden/, made with the same
# script).  The store id (`sid`, random with each new store) is taken out
# before comparing: it came after the golden files.  So are the seal rows
# ("type":"seal" lines, gateway/seal.c): they came after the golden files and
# their signatures change with every key; each seal took a seq, so a row's
# seq is compared less the seals before it.  A deliberate change of the format
# regenerates the golden files:
#   tests/scripts/golden.sh build/emgwd build/tests DIR; gzip -9n DIR/*.jsonl
source "$TOP/tests/integration/lib.sh"

"$TOP/tests/scripts/golden.sh" "$EMGWD" "$TOP/$B/tests" "$T/out" ||
	{ echo "not ok - golden.sh ran"; exit 1; }
for g in "$TOP"/tests/data/golden/*.jsonl.gz; do
	name=$(basename "$g" .jsonl.gz)
	gunzip -c "$g" >"$T/$name.want"
	n=$(grep -c '"sid":"[0-9a-f]\{32\}",' "$T/out/$name.jsonl")
	check "$name: every line carries the store id ($n)" test "$n" -eq "$(wc -l <"$T/out/$name.jsonl")"
	sed -i 's/,"sid":"[0-9a-f]\{32\}"//' "$T/out/$name.jsonl"
	awk '/"type":"seal"/ { n++; next }
	     match($0, /"seq":[0-9]+,/) { s = substr($0, RSTART + 6, RLENGTH - 7) - n
		$0 = substr($0, 1, RSTART + 5) s substr($0, RSTART + RLENGTH - 1) } 1' \
		"$T/out/$name.jsonl" >"$T/out/$name.noseal" && mv "$T/out/$name.noseal" "$T/out/$name.jsonl"
	n=$(wc -l <"$T/$name.want")
	check "$name: $n lines, byte for byte the golden JSON" cmp -s "$T/$name.want" "$T/out/$name.jsonl"
	cmp -s "$T/$name.want" "$T/out/$name.jsonl" || diff "$T/$name.want" "$T/out/$name.jsonl" | head -6 | cut -c1-300
done
finish
