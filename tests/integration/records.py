#!/usr/bin/python3
"""Checks what arrived at the broker against what emgwd made.

records.py MADE GOT: MADE is emgwd --stdout output (one payload a line), GOT
is sub.py output (topic<TAB>payload; a batch carries several records).
Prints a summary line: made, arrived, missing, duplicates, and conflicting
duplicates (same dev+boot+seq, different payload); exit 1 if anything made
is missing or a duplicate differs.
"""
import json
import sys


def rows_of(payload):
    obj = json.loads(payload)
    if isinstance(obj, dict) and "records" in obj:
        return [(r, json.dumps(r, sort_keys=True)) for r in obj["records"]]
    return [(obj, json.dumps(obj, sort_keys=True))]


made = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        for r, text in rows_of(line):
            made[(r["dev"], r["boot"], r["seq"])] = text
got = {}
dups = conflicts = 0
for line in open(sys.argv[2]):
    topic, _, payload = line.rstrip("\n").partition("\t")
    if "/telemetry" not in topic and not topic.endswith("/event"):
        continue
    for r, text in rows_of(payload):
        key = (r["dev"], r["boot"], r["seq"])
        if key in got:
            dups += 1
            if got[key] != text:
                conflicts += 1
        if key in made and made[key] != text:
            conflicts += 1
        got[key] = text
missing = [k for k in made if k not in got]
print("made %d arrived %d missing %d duplicates %d conflicting %d"
      % (len(made), len(got), len(missing), dups, conflicts))
sys.exit(1 if missing or conflicts else 0)
