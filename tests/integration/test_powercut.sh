#!/bin/bash
# Power cut: kill -9 at random moments while emgwd replays at recorded speed
# with [store] commit_interval at its default, a real broker and subscriber.
# After restarts, for every killed boot: the rows that survived (at the
# broker once the last run drained the store) are all rows from the boot's
# first up to its last, with no hole (no committed row lost); every row the
# killed run printed with --stdout (committed rows only) arrived; the newest
# surviving record is at most commit_interval + two record periods (+ slack
# for a loaded machine) older than the kill; and every alarm (smoke) the
# replay makes before the kill survived, also one made a moment before it.
# Every other kill also empties the run directory (the WAL index in RAM is
# lost at a power cut): the next start rebuilds the index from the WAL.
source "$TOP/tests/integration/lib.sh"

PORT=$(free_port)
start_mosquitto "$PORT"
start_sub "$PORT" 'emgw/+/#' "$T/got"

# One smoke episode: its start (an alarm) about 6 s into the replay, its end
# long after the kills; between them only records, committed by the interval.
"$TOP/$B/tests/tracegen" --duration 60 --seed 3 --warm --smoke-at 5 --smoke-len 5 -o "$T/trace.log"
conf() { # conf SPEED: the job, commit_interval left at its default
	cat <<EOC
[device]
id = powercut-01
state_dir = $T/state
run_dir = $T/run
[can "engine"]
log = $T/trace.log
speed = $1
[mqtt]
host = 127.0.0.1
port = $PORT
EOC
}
conf 1 >"$T/emgw.conf"
conf 0 >"$T/final.conf"
INTERVAL_S=5 # [store] commit_interval's default (gateway/config.c)

# The replay's alarms without any kill, seconds after its start (every boot
# replays the trace from its start): kills fall 1.2-3.5 s after the smoke
# start, inside the commit interval, or anywhere in 17-30 s, where a
# commit every record, an alarm or a full transaction does not come.
sed -e "s#^state_dir = .*#state_dir = $T/ref#" -e 's/^host = .*/enabled = no/' "$T/final.conf" >"$T/ref.conf"
"$EMGWD" -c "$T/ref.conf" --stdout --exit-when-done >"$T/ref.out" 2>"$T/ref.err"
mapfile -t ALARMS < <(grep '"type":"smoke"' "$T/ref.out" | grep -o '"mono_ms":[0-9]*' | cut -d: -f2 |
	awk '{ s = ($1 - 1000) / 1000 } s >= 3 && s <= 10 { print s }' | sort -u)
check "the trace makes a smoke alarm in 3-10 s (${ALARMS[*]})" test "${#ALARMS[@]}" -ge 1
[ "${#ALARMS[@]}" -ge 1 ] || ALARMS=(6)
CYCLES=${POWERCUT_CYCLES:-4}
: >"$T/kills"
for i in $(seq "$CYCLES"); do
	if [ $((i % 2)) -eq 1 ]; then
		k=$(awk -v a="${ALARMS[$(((i / 2) % ${#ALARMS[@]}))]}" -v r="$RANDOM" \
			'BEGIN { printf "%.2f", a + 1.2 + (r % 230) / 100 }')
	else
		k=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 17 + (r % 1300) / 100 }')
	fi
	t0=$(date +%s.%N)
	"$EMGWD" -c "$T/emgw.conf" --stdout >"$T/run-$i.out" 2>"$T/run-$i.err" &
	EPID=$!
	# the random moment: a delay, not a wait for a condition
	sleep "$(awk -v k="$k" -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { d = k - (now - t0); print (d > 0 ? d : 0) }')"
	if kill -9 "$EPID" 2>/dev/null; then
		t1=$(date +%s.%N)
		boot=$(sed -n 's/^.*: device [^,]*, boot \([0-9]*\),.*$/\1/p' "$T/run-$i.err" | head -n 1)
		echo "${boot:-?} $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" >>"$T/kills"
	else
		echo "# run $i ended before the kill:"; sed 's/^/#   /' "$T/run-$i.err"
	fi
	wait "$EPID" 2>/dev/null
	# A power cut also takes the RAM: after every other kill the run
	# directory (the WAL index, status.json) is gone, as after a reboot, and
	# the next start must rebuild the index from the WAL.
	[ $((i % 2)) -eq 1 ] || rm -rf "${T:?}/run"/*
done
check "every run was killed while it replayed ($(wc -l <"$T/kills") of $CYCLES)" test "$(wc -l <"$T/kills")" -eq "$CYCLES"
"$EMGWD" -c "$T/final.conf" --stdout --exit-when-done >"$T/final.out" 2>"$T/final.err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 120 "$EPID"
check "the last run drains the store and exits 0 (rc=$rc)" test "$rc" -eq 0
cat "$T"/run-*.out "$T/final.out" >"$T/all.out"
wait_for 20 seq_arrival "$T/all.out" "$T/got" boot
check "every committed row (--stdout) reached the broker (missing $MISSING of $MADE_N)" test "$MISSING" -eq 0

# The final run replayed the whole trace: its alarms are the reference.
/usr/bin/python3 - "$T/got" "$T/kills" "$T/final.out" "$INTERVAL_S" >"$T/verdict" <<'EOF'
import json, sys
got_path, kills_path, ref_path, interval = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
SLACK = 2.0  # a loaded machine: the loop late, the replay started late
def rows(line):
    i = line.find("{")
    if i < 0:
        return []
    try:
        d = json.loads(line[i:])
    except ValueError:
        return []
    return d["records"] if isinstance(d, dict) and "records" in d else [d]
got = {}
for line in open(got_path, encoding="utf-8", errors="replace"):
    if "/status" in line.split("\t", 1)[0]:
        continue
    for r in rows(line):
        if isinstance(r, dict) and "boot" in r and "seq" in r:
            got[(r["boot"], r["seq"])] = r
ref = []
for line in open(ref_path, encoding="utf-8"):
    r = json.loads(line)
    if r.get("type") == "smoke":
        ref.append((r["mono_ms"], r["type"], r.get("state")))
fails = 0
def say(ok, what):
    global fails
    print(("ok - " if ok else "not ok - ") + what)
    fails += 0 if ok else 1
say(len(ref) >= 1, "the reference run made %d smoke alarms" % len(ref))
for line in open(kills_path):
    boot, k = line.split()
    boot, k = int(boot), float(k)
    mine = sorted(s for (b, s) in got if b == boot)
    first = mine[0] if mine else 0
    recs = [got[(boot, s)] for s in mine if "sig" in got[(boot, s)]]
    hole = [s for s in range(first, (mine[-1] if mine else 0) + 1) if (boot, s) not in got]
    say(mine and not hole, "boot %d: rows %d..%d survived without a hole (missing %s)" % (boot, first, mine[-1] if mine else 0, hole[:5]))
    last = (recs[-1]["mono_ms"] - 1000) / 1000.0 if recs else -1.0
    lost = k - last
    # the interval starts with the first record after a commit (up to one
    # period late), and the newest kept record is up to one period old
    say(lost <= interval + 2 + SLACK,
        "boot %d: killed at %.2f s, newest record kept %.2f s: %.2f s lost <= commit_interval %.0f s + 2 periods + %.0f s slack"
        % (boot, k, last, lost, interval, SLACK))
    have = {(r.get("mono_ms"), r.get("type"), r.get("state")) for (b, s), r in got.items() if b == boot}
    due = [a for a in ref if (a[0] - 1000) / 1000.0 <= k - 1.0]
    missing = [a for a in due if a not in have]
    say(due and not missing, "boot %d: the %d smoke alarms made before the kill survived (missing %s)" % (boot, len(due), missing))
sys.exit(1 if fails else 0)
EOF
vrc=$?
sed 's/^/  /' "$T/verdict"
check "what was lost is only samples of the last interval, no committed row, no alarm" test "$vrc" -eq 0
finish
