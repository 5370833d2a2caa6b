#!/usr/bin/python3
"""Plays NMEA 0183 files into a serial device (a socat pty end) the way a
receiver sends them: one epoch (the sentences sharing a time) at a time,
`--pace` seconds apart.  Used by the gnss integration test and the demo.

  nmea_feed.py [--pace S] [--loop] [--now] DEVICE FILE...

--now rewrites every sentence's time (and RMC/ZDA date) to the current UTC
time and fixes the checksums, so a looped route reads as live.
'#' lines and blank lines are skipped; lines are sent with CR LF."""
import argparse
import datetime
import os
import sys
import time

TIME_FIELD = {"GGA": 1, "RMC": 1, "GNS": 1, "ZDA": 1, "GLL": 5, "GST": 1}


def checksum(body):
    c = 0
    for ch in body:
        c ^= ord(ch)
    return "%02X" % c


def split(line):
    """(body without $ and checksum, fields) or None when not a sentence."""
    if not line.startswith("$"):
        return None
    body = line[1:].split("*")[0]
    return body, body.split(",")


def epoch_time(line):
    s = split(line)
    if not s:
        return None
    fields = s[1]
    idx = TIME_FIELD.get(fields[0][2:5])
    if idx is None or idx >= len(fields) or not fields[idx]:
        return None
    return fields[idx]


def restamp(line, now):
    s = split(line)
    if not s:
        return line
    fields = s[1]
    kind = fields[0][2:5]
    idx = TIME_FIELD.get(kind)
    if idx is not None and idx < len(fields) and fields[idx]:
        fields[idx] = now.strftime("%H%M%S.") + "%02d" % (now.microsecond // 10000)
    if kind == "RMC" and len(fields) > 9 and fields[9]:
        fields[9] = now.strftime("%d%m%y")
    if kind == "ZDA" and len(fields) > 4:
        fields[2:5] = [now.strftime("%d"), now.strftime("%m"), now.strftime("%Y")]
    body = ",".join(fields)
    return "$%s*%s" % (body, checksum(body))


def epochs(paths):
    """Lists of lines, one per epoch."""
    out, cur, cur_t = [], [], None
    for p in paths:
        with open(p, errors="replace") as f:
            for raw in f:
                line = raw.strip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                t = epoch_time(line)
                if t is not None and cur_t is not None and t != cur_t and cur:
                    out.append(cur)
                    cur = []
                if t is not None:
                    cur_t = t
                cur.append(line)
    if cur:
        out.append(cur)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pace", type=float, default=1.0)
    ap.add_argument("--loop", action="store_true")
    ap.add_argument("--now", action="store_true")
    ap.add_argument("device")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    eps = epochs(a.files)
    fd = os.open(a.device, os.O_WRONLY | os.O_NOCTTY)
    nxt = time.monotonic()
    while True:
        for ep in eps:
            now = datetime.datetime.now(datetime.timezone.utc)
            data = "".join((restamp(l, now) if a.now else l) + "\r\n" for l in ep)
            os.write(fd, data.encode("ascii", "replace"))
            nxt += a.pace
            time.sleep(max(0.0, nxt - time.monotonic()))
        if not a.loop:
            break
    os.close(fd)


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(0)
