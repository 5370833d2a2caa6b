#!/usr/bin/python3
"""What each commit wrote: walframes.py DB (a copy of a store and its -wal,
taken while emgwd was stopped with SIGSTOP, or after a kill -9).
Reads the WAL's frame headers (the frames since the last WAL restart), groups
them into commits (a frame with a database size closes one), and names every
page by its b-tree (SQLite's dbstat on a second copy, so the WAL given is not
checkpointed away). Prints frames per commit, by page kind per commit, and
the last commits page by page (README "Durability and flash")."""
import collections
import os
import shutil
import sqlite3
import struct
import sys
import tempfile

db = sys.argv[1]
wal = open(db + "-wal", "rb").read()
page_size, salt = struct.unpack(">I", wal[8:12])[0], wal[16:24]
frame = 24 + page_size
commits, cur = [], []
for off in range(32, len(wal) - frame + 1, frame):
    if wal[off + 8:off + 16] != salt:
        break  # an older generation's frame: the WAL restarted before it
    page, size = struct.unpack(">II", wal[off:off + 8])
    cur.append(page)
    if size:
        commits.append(cur)
        cur = []

with tempfile.TemporaryDirectory() as tmp:
    copy = os.path.join(tmp, "copy.db")
    shutil.copy(db, copy)
    shutil.copy(db + "-wal", copy + "-wal")
    con = sqlite3.connect(copy)
    kind = {p: f"{n} {t}" for n, p, t in con.execute("SELECT name, pageno, pagetype FROM dbstat")}
    con.close()
kind[1] = "page 1 (header, schema root)"

n = max(len(commits), 1)
frames = sum(len(c) for c in commits)
print(f"page size {page_size}: {len(commits)} commits, {frames} frames, "
      f"{frames / n:.2f} frames ({frames * frame / n:.0f} bytes) a commit")
by_kind = collections.Counter(kind.get(p, "free list") for c in commits for p in c)
for k, v in by_kind.most_common():
    print(f"  {k:32s} {v / n:.2f} a commit")
print("frames a commit: count", dict(sorted(collections.Counter(map(len, commits)).items())))
for c in commits[-6:]:
    print("  ", " ".join(f"{p}({kind.get(p, 'free')})" for p in c))
