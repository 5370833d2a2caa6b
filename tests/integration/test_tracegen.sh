#!/bin/bash
# tracegen: the bundled trace regenerates byte for byte; traces are candump -l
# lines at the spec's rates on the model clock; rich episodes show in the data
# (lambda from SPN 132 / SPN 183) exactly where the labels file says.
source "$TOP/tests/integration/lib.sh"

G=$B/tests/tracegen
DATA=tests/data/excavator.log
BUNDLED="--duration 300 --seed 1 --smoke-at 6,150 --warm"	# keep in step with tests/data

if [ ! -x "$G" ]; then
	echo "not ok - $G is not built (make $G)"
	exit 1
fi

# J1939 helpers for awk (mawk has no strtonum): hx("1F") = 31; b(i) = data
# byte i (1-based) of the current line, after split_frame().
AWK_LIB='
function hx(s,    i, v) {
	v = 0
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1
	return v
}
function split_frame(    f) {
	split($3, f, "#"); id = f[1]; data = f[2]
	ts = substr($1, 2, length($1) - 2) + 0
}
function b(i) { return hx(substr(data, 2 * i - 1, 2)) }
'

# Every line is `(SECONDS.USEC) can0 IIIIIIII#DDDDDDDDDDDDDDDD`, extended id
# with priority 3 or 6 from SA 0x00, timestamps strictly increasing.
well_formed() {
	awk "$AWK_LIB"'
	{
		split_frame()
		if (NF != 3 || $2 != "can0" || $1 !~ /^\([0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]\)$/ ||
		    $3 !~ /^[0-9A-F]+#[0-9A-F]+$/ || length(id) != 8 || length(data) != 16 ||
		    (substr(id, 1, 2) != "0C" && substr(id, 1, 2) != "18") || substr(id, 7, 2) != "00") {
			print "bad line " NR ": " $0; exit 1
		}
		if (NR > 1 && ts <= prev) { print "time goes back at line " NR; exit 1 }
		prev = ts
	}' "$1"
}

# first and last timestamps are START and START + SECONDS
spans() {
	awk -v start="$2" -v secs="$3" 'NR == 1 { first = substr($1, 2, 17) } { last = substr($1, 2, 17) }
	END {
		d = last - first
		printf "# first %s last %s\n", first, last
		exit !(first == start ".000000" && d > secs - 1e-6 && d < secs + 1e-6)
	}' "$1"
}

# frames per second of each PGN over the trace, rounded, against the spec
rates() {
	awk "$AWK_LIB"'
	BEGIN {
		want["0CF00400"] = 50; want["0CF00300"] = 20; want["0CF00A00"] = 20
		want["18FEF200"] = 10; want["18FEF100"] = 10; want["18FEF600"] = 2
		want["18FEEE00"] = 1; want["18FEF500"] = 1; want["18FEFC00"] = 1
	}
	{ split_frame(); n[id]++; if (NR == 1) t0 = ts; t1 = ts }
	END {
		bad = 0
		for (i in n) {
			r = int(n[i] / (t1 - t0) + 0.5)
			if (!(i in want) || r != want[i]) { print "# " i ": " r "/s"; bad = 1 }
		}
		for (i in want) if (!(i in n)) { print "# " i " missing"; bad = 1 }
		exit bad
	}' "$1"
}

# labels: one `smoke START END` line per requested episode, each starting
# within 3 s of its request and lasting about the episode's length
labels_match() {
	local file=$1 start=$2 len=$3; shift 3
	awk -v start="$start" -v len="$len" -v at="$*" '
	BEGIN { n = split(at, want, " ") }
	{
		i = NR; s = $2 - start; e = $3 - start
		if ($1 != "smoke" || NF != 3 || i > n || s < want[i] || s > want[i] + 3 ||
		    e < want[i] + len - 2 || e > want[i] + len + 2) { print "# bad label: " $0; bad = 1 }
	}
	END { exit bad || NR != n }' "$file"
}

# The engine data tells the same story: lambda = air / (fuel * 0.835) / 14.5
# never falls below 1.35 with load >= 70 % away from the episodes, and within
# each labelled span it is below 1.2 with load >= 40 % for at least 5 s.
lambda_story() {
	awk "$AWK_LIB"'
	FNR == NR { s[++n] = $2; e[n] = $3; next }
	{ split_frame() }
	id == "0CF00A00" { air = (b(3) + 256 * b(4)) * 0.05 }
	id == "0CF00300" { load = b(3) }
	id == "18FEF200" {
		fuel = (b(1) + 256 * b(2)) * 0.05
		if (fuel < 1 || air == 0)
			next
		lambda = air / (fuel * 0.835) / 14.5
		near = 0
		for (i = 1; i <= n; i++) {
			if (ts >= s[i] && ts <= e[i] && lambda < 1.2 && load >= 40)
				rich[i]++
			# a label starts up to 3 s after its fault, as boost decays
			if (ts >= s[i] - 3 && ts <= e[i] + 1)
				near = 1
		}
		if (!near && load >= 70 && (min_out == "" || lambda < min_out))
			min_out = lambda
	}
	END {
		bad = min_out == "" || min_out < 1.35
		printf "# min lambda outside episodes with load >= 70 %%: %.3f\n", min_out
		for (i = 1; i <= n; i++) {
			printf "# episode %d: %.1f s rich\n", i, rich[i] / 10
			if (rich[i] < 50) bad = 1
		}
		exit bad
	}' "$1" "$2"
}

fails_cleanly() { # fails_cleanly ARGS...: exit 2 with a message, no trace
	"$G" "$@" -o "$T/bad.log" 2>"$T/bad.err"
	[ $? -eq 2 ] && [ -s "$T/bad.err" ]
}

check "bundled options regenerate $DATA byte for byte" \
	"$G" $BUNDLED -o "$T/bundled.log" --labels "$T/bundled.labels"
check "regenerated trace equals $DATA" cmp "$T/bundled.log" "$DATA"
check "bundled trace is well-formed candump -l" well_formed "$DATA"
check "bundled trace spans 300 s" spans "$DATA" 1700000000 300
check "bundled labels: episodes at 6 s and 150 s" \
	labels_match "$T/bundled.labels" 1700000000 8 6 150
check "bundled trace: lambda agrees with the labels" \
	lambda_story "$T/bundled.labels" "$DATA"

# --opacity: the meter's script follows the same engine (trace unchanged):
# k above the 0.5 m^-1 class III limit only within a labelled episode (+1.5 s
# for the meter's delay, response and 0.5 s steps), and for at least 5 s in each.
opacity_story() {
	/usr/bin/python3 - "$1" "$2" 1700000000 <<'EOP'
import sys
labels = [tuple(float(x) - float(sys.argv[3]) for x in l.split()[1:3]) for l in open(sys.argv[1])]
steps = [l.split() for l in open(sys.argv[2]) if l[0].isdigit()]
k = [(float(s[0]), float(dict(p.split("=") for p in s[1:]).get("opacity_k_m1", "nan"))) for s in steps]
k = [(t, v) for t, v in k if v == v]
above = {i: 0.0 for i in range(len(labels))}
for (t, v), (t2, _) in zip(k, k[1:] + [(300.0, 0)]):
    if v <= 0.5:
        continue
    inside = [i for i, (a, b) in enumerate(labels) if a <= t and t2 <= b + 1.5]
    assert inside, "k %.2f at %.2f s outside the episodes %s" % (v, t, labels)
    above[inside[0]] += t2 - t
assert all(d >= 5 for d in above.values()), above
EOP
}
check "--opacity: the trace is the same bytes" \
	"$G" $BUNDLED -o "$T/bundled2.log" --opacity "$T/bundled.opacity"
check "--opacity: trace unchanged" cmp "$T/bundled2.log" "$DATA"
check "--opacity: the meter's k is above the limit in each episode, only there" \
	opacity_story "$T/bundled.labels" "$T/bundled.opacity"

t0=$(date +%s%N)
check "an hour of trace with three episodes" \
	"$G" --duration 3600 --seed 7 --start 1750000000 --smoke-at 300,1800,3500 \
	--smoke-len 10 -o "$T/hour.log" --labels "$T/hour.labels"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# hour: $(wc -l <"$T/hour.log") frames, $(wc -c <"$T/hour.log") bytes, $ms ms (a figure, not a limit: see make bench)"
check "hour trace is well-formed candump -l" well_formed "$T/hour.log"
check "hour trace: first and last timestamps 3600 s apart" spans "$T/hour.log" 1750000000 3600
check "hour trace: every PGN at the spec's rate" rates "$T/hour.log"
check "hour labels: three 10 s episodes where requested" \
	labels_match "$T/hour.labels" 1750000000 10 300 1800 3500
check "hour trace: lambda agrees with the labels" lambda_story "$T/hour.labels" "$T/hour.log"

"$G" --duration 60 --seed 2 -o "$T/seed2.log"
"$G" --duration 60 --seed 2 -o "$T/seed2b.log"
"$G" --duration 60 --seed 3 -o "$T/seed3.log"
check "same seed, same bytes" cmp "$T/seed2.log" "$T/seed2b.log"
check "another seed, another trace" eval '! cmp -s "$T/seed2.log" "$T/seed3.log"'
check "writes to stdout without -o" \
	eval '"$G" --duration 60 --seed 2 | cmp - "$T/seed2.log"'

check "rejects a negative duration" fails_cleanly --duration -5
check "rejects a bad smoke time" fails_cleanly --smoke-at 10,x
check "rejects overlapping episodes" fails_cleanly --smoke-at 10,12
check "rejects a stray argument" fails_cleanly stray

finish
