#!/bin/bash
# Evidence on site (README "Evidence on site"): the demo trace (the
# excavator, with black smoke) replayed through a real mosquitto with a
# position from a real gpsd, [store] keep_sent on.  Afterwards every row is
# sent and still in the store; `emgwd --export` of a time range around the
# smoke episode (ISO or epoch times, with --type, and beside a running
# emgwd) is proven by `emgwd --verify`, and found out when a row is taken
# from it; `--export --svg last` draws the episode as SVG that parses as
# XML, with the threshold line and the shaded episode.
# SVG_OUT=FILE keeps the drawing (tests/data/smoke-evidence.svg is made so).
source "$TOP/tests/integration/lib.sh"
for tool in gpsd socat mosquitto; do
	command -v $tool >/dev/null || { echo "skip - $tool not installed"; exit 0; }
done
PY=/usr/bin/python3

PORT=$(free_port)
start_mosquitto "$PORT"
start_sub "$PORT" 'emgw/ex-01/#' "$T/got"

# A receiver standing still in Huzhou (as test_brain.sh).
$PY - "$T/fix.nmea" <<'EOP'
import sys
def s(body):
    c = 0
    for ch in body: c ^= ord(ch)
    return "$%s*%02X" % (body, c)
open(sys.argv[1], "w").write("\n".join([
    s("GPGGA,120000.00,3052.2300,N,12005.4720,E,1,10,0.8,8.0,M,7.0,M,,"),
    s("GPRMC,120000.00,A,3052.2300,N,12005.4720,E,0.0,0.0,281126,,,A"),
]) + "\n")
EOP
GPORT=$(free_port)
start_gpsd "$T" "$GPORT"
spawn "$T/feed.log" $PY "$TOP/tests/scripts/nmea_feed.py" --pace 0.2 --loop --now "$T/gps_feed" "$T/fix.nmea"

cat >"$T/emgw.conf" <<EOC
[device]
id = ex-01
stage = 4
rated_power_kw = 110
state_dir = $T/state
run_dir = $T/run
[can "engine"]
log = $TOP/tests/data/excavator.log
speed = 20
[mqtt]
host = 127.0.0.1
port = $PORT
[gnss]
enabled = yes
host = 127.0.0.1
port = $GPORT
max_age = 3600
[store]
commit_interval = 0.2
keep_sent = 7
EOC
"$EMGWD" -n -c "$T/emgw.conf" >/dev/null || { echo "not ok - config"; exit 1; }
"$EMGWD" -c "$T/emgw.conf" --exit-when-done >"$T/out" 2>"$T/err" &
EPID=$!; PIDS="$PIDS $EPID"
wait_exit 120 "$EPID"
check "emgwd replays the trace and exits 0 once all is sent (rc=$rc)" test "$rc" -eq 0
wait_for 10 grep -q '"type":"smoke","state":"end"' "$T/got"

check "every row was sent, and the sent rows are kept (keep_sent)" $PY - "$T/state/emgw.db" <<'EOP'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
upto = db.execute("SELECT coalesce((SELECT value FROM meta WHERE key = 'sent_upto'), 0)").fetchone()[0]
sent, unsent = db.execute("SELECT sum(acked = -1 OR seq <= ?1), sum(acked != -1 AND seq > ?1)"
                          " FROM rows", (upto,)).fetchone()
print("    rows kept as sent: %d, unsent: %d" % (sent, unsent or 0))
assert sent > 300 and not unsent
EOP

# The last smoke episode's time (not at the start of the boot: the export
# starts after a seal), from what the broker delivered.
read -r SINCE ENDED < <(grep $'^emgw/ex-01/event\t' "$T/got" | cut -f2- | $PY -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["type"] == "smoke" and e["state"] == "end":
        last = e
print(last["since"], last["ended"])')
check "a smoke episode was delivered ($SINCE .. $ENDED)" test -n "$SINCE"
FROM=$($PY -c 'import sys,datetime as d; t=d.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%S.%fZ"); print((t-d.timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$SINCE")
TO=$($PY -c 'import sys,datetime as d; t=d.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%S.%fZ"); print((t+d.timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$ENDED")

"$EMGWD" -c "$T/emgw.conf" --export --from "$FROM" --to "$TO" -o "$T/export.jsonl" 2>"$T/export.err"
rc=$?
check "--export --from $FROM --to $TO exits 0 (rc=$rc)" test "$rc" -eq 0
check "the export holds the smoke end and seals" sh -c \
	"grep -q '\"type\":\"smoke\",\"state\":\"end\"' '$T/export.jsonl' && grep -q '\"type\":\"seal\"' '$T/export.jsonl'"
check "the export holds every row of the range (and no more than whole seal ranges)" $PY - "$T/export.jsonl" "$FROM" "$TO" "$T/got" <<'EOP'
import json, sys, datetime as d
lines = [json.loads(l) for l in open(sys.argv[1])]
head, rows = lines[0], lines[1:]
assert head["export"] == 1 and head["dev"] == "ex-01", head
seqs = [r["seq"] for r in rows]
# whole seal ranges, then the last range's seal (rows committed between that
# range's end and its seal row belong to the next range)
last = rows[-1]
assert last.get("type") == "seal" and last["seq"] == head["to_seq"], "ends with its seal"
assert seqs[:-1] == list(range(head["from_seq"], last["to"] + 1)), "a contiguous span"
f = d.datetime.strptime(sys.argv[2], "%Y-%m-%dT%H:%M:%SZ")
t = d.datetime.strptime(sys.argv[3], "%Y-%m-%dT%H:%M:%SZ")
# every message the broker got in the range is in the export
got = set()
for l in open(sys.argv[4]):
    p = l.split("\t", 1)[1]
    o = json.loads(p)
    for r in (o["records"] if isinstance(o.get("records"), list) else [o]):
        if "ts" in r and "seq" in r:
            ts = d.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
            if f <= ts <= t:
                got.add(r["seq"])
missing = got - set(seqs)
print("    %d rows exported (seq %d..%d), %d delivered in the range" %
      (len(rows), head["from_seq"], head["to_seq"], len(got)))
assert got and not missing, sorted(missing)[:5]
EOP
"$EMGWD" -c "$T/emgw.conf" --verify "$T/export.jsonl" >"$T/v.out" 2>&1
rc=$?
check "--verify proves the export (rc=$rc)" test "$rc" -eq 0
grep -q '^proven' "$T/v.out" || cat "$T/v.out"
check "the export starts after the boot's first seal (its first line matters)" sh -c \
	"tail -n +2 '$T/export.jsonl' | '$EMGWD' -c '$T/emgw.conf' --verify - | grep -q 'seal at seq .* missing'"
# One row taken out of the middle of the export: found.
n=$(( $(wc -l <"$T/export.jsonl") / 2 ))
sed "${n}d" "$T/export.jsonl" >"$T/export.cut"
"$EMGWD" -c "$T/emgw.conf" --verify "$T/export.cut" >"$T/v.cut" 2>&1
rc=$?
check "a row taken from the export is found (rc=$rc)" sh -c "test $rc -eq 1 && grep -q ' missing' '$T/v.cut'"

# Epoch seconds and --type smoke: only the seal ranges holding smoke events.
EF=$($PY -c 'import sys,datetime as d; print(int(d.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=d.timezone.utc).timestamp()))' "$FROM")
ET=$($PY -c 'import sys,datetime as d; print(int(d.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=d.timezone.utc).timestamp()))' "$TO")
"$EMGWD" -c "$T/emgw.conf" --export --from "$EF" --to "$ET" --type smoke >"$T/smoke.jsonl" 2>/dev/null
rc=$?
check "--export --type smoke with epoch seconds exits 0 (rc=$rc)" test "$rc" -eq 0
check "... and --verify proves it" sh -c "'$EMGWD' -c '$T/emgw.conf' --verify '$T/smoke.jsonl' >/dev/null"
"$EMGWD" -c "$T/emgw.conf" --export --from 2000-01-01T00:00:00Z --to 2000-01-02T00:00:00Z >/dev/null 2>&1
rc=$?
check "a range with no rows: exit 1 (rc=$rc)" test "$rc" -eq 1
"$EMGWD" -c "$T/emgw.conf" --export --from yesterday --to now >/dev/null 2>&1
rc=$?
check "a time that is not ISO 8601 or epoch seconds is refused (rc=$rc)" test "$rc" -eq 1

# The drawing of the episode.
"$EMGWD" -c "$T/emgw.conf" --export --svg last -o "$T/smoke.svg" 2>"$T/svg.err"
rc=$?
check "--export --svg last exits 0 (rc=$rc)" test "$rc" -eq 0
check "the SVG parses as XML, with the threshold line, the shaded episode, position and seal" \
	$PY - "$T/smoke.svg" <<'EOP'
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
byid = {e.get("id"): e for e in root.iter() if e.get("id")}
th, ep = byid["threshold"], byid["episode"]
assert th.tag == ns + "line" and "threshold" in th.get("class")
assert float(th.get("y1")) == float(th.get("y2")), "a level line"
assert ep.tag == ns + "rect" and float(ep.get("width")) > 10, ep.attrib
curves = [e for e in root.iter(ns + "path") if e.get("class") == "curve"]
assert len(curves) >= 4, "lambda, torque, boost, speed at least"
text = " ".join("".join(e.itertext()) for e in root.iter(ns + "text"))
assert "position 30.87" in text and "120.09" in text, text
assert "seal: sealed by the seal at seq" in text and "): proven (hash and signature hold)" in text, text
print("    %d curves, episode %.0f px wide, threshold at y=%s" %
      (len(curves), float(ep.get("width")), th.get("y1")))
EOP
[ -z "${SVG_OUT:-}" ] || cp "$T/smoke.svg" "$SVG_OUT"

# While an emgwd runs on the store (a second replay, a new boot), the
# export of the first boot's range still works and is proven.
sed -i 's/^speed = 20$/speed = 5/' "$T/emgw.conf"
"$EMGWD" -c "$T/emgw.conf" --exit-when-done >"$T/out2" 2>"$T/err2" &
EPID=$!; PIDS="$PIDS $EPID"
wait_for 20 grep -q '"boot":2,' "$T/got"
"$EMGWD" -c "$T/emgw.conf" --export --from "$FROM" --to "$TO" >"$T/export2.jsonl" 2>/dev/null
rc=$?
check "--export beside a running emgwd exits 0 (rc=$rc)" test "$rc" -eq 0
check "emgwd was running meanwhile" kill -0 "$EPID"
# The WAL index is in run_dir (RAM), through a link both emgwd processes
# follow; other SQLite programs cannot open the store meanwhile.
check "the store's WAL index is a link into run_dir while emgwd runs" sh -c \
	"test -L '$T/state/emgw.db-shm' && test -f \"\$(readlink '$T/state/emgw.db-shm')\" && readlink '$T/state/emgw.db-shm' | grep -q '^$T/run/emgw.db-'"
check "... and the sqlite3 library alone cannot open the store meanwhile" $PY - "$T/state/emgw.db" <<'EOP'
import sqlite3, sys
try:
    sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("SELECT count(*) FROM rows").fetchone()
except sqlite3.OperationalError as e:
    print("    refused: %s" % e)
else:
    raise SystemExit("read the store beside a running emgwd with an index of its own")
EOP
check "... and the export is the same, proven" sh -c \
	"cmp -s '$T/export.jsonl' '$T/export2.jsonl' && '$EMGWD' -c '$T/emgw.conf' --verify '$T/export2.jsonl' >/dev/null"
# get-events on the running emgwd, through the broker: the smoke events of
# the episode (sent, and kept), one, then the rest.
mosquitto_pub -p "$PORT" -q 1 -t emgw/ex-01/cmd/get-events \
	-m "{\"id\":\"ge-1\",\"from\":\"$FROM\",\"to\":$((ET + 120)),\"type\":\"smoke\",\"limit\":1}"
wait_for 10 grep -q $'^emgw/ex-01/cmd-result/ge-1\t' "$T/got"
grep $'^emgw/ex-01/cmd-result/ge-1\t' "$T/got" | cut -f2 >"$T/ge-1"
after=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"].get("next_after_seq", ""))' "$T/ge-1")
check "get-events answers one smoke event (limit 1), cut, with where to go on ($after)" $PY - "$T/ge-1" <<'EOP'
import json, sys
a = json.load(open(sys.argv[1]))
r = a["result"]
assert a["ok"] and r["count"] == 1 and r["truncated"] and r["next_after_seq"], a
assert all(e["type"] == "smoke" for e in r["events"]), r
EOP
mosquitto_pub -p "$PORT" -q 1 -t emgw/ex-01/cmd/get-events \
	-m "{\"id\":\"ge-2\",\"from\":\"$FROM\",\"to\":$((ET + 120)),\"type\":\"smoke\",\"after_seq\":${after:-0}}"
wait_for 10 grep -q $'^emgw/ex-01/cmd-result/ge-2\t' "$T/got"
grep $'^emgw/ex-01/cmd-result/ge-2\t' "$T/got" | cut -f2 >"$T/ge-2"
check "... and the rest, up to the smoke end" $PY - "$T/ge-2" <<'EOP'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
assert not r["truncated"] and r["count"] >= 1, r["count"]
assert any(e["state"] == "end" and "evidence" in e for e in r["events"])
EOP
stop_pid "$EPID"
check "a clean stop takes the link and the index away" sh -c \
	"test ! -e '$T/state/emgw.db-shm' && test ! -L '$T/state/emgw.db-shm' && ! ls '$T/run' | grep -q -- '-shm\$'"
finish
