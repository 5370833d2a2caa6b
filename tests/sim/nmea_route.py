#!/usr/bin/python3
"""Makes tests/data/huzhou-route.nmea: an excavator's transfer around a work
site near Huzhou, Zhejiang (~30.87 N, 120.09 E), as a receiver reports it:
GGA + RMC at 1 Hz with checksums.  A closed loop (it ends where it starts)
so it can be played again and again: 15 s standing at the site, then
about 4 km along the roads around it at up to 30 km/h, slowing for turns.

  nmea_route.py [-o FILE]      (default: stdout)"""
import argparse
import datetime
import math
import random

# Corners of the loop (lat, lon): the site, then the roads around it.
WAYPOINTS = [
    (30.87000, 120.09000), (30.87010, 120.10000), (30.87800, 120.10020),
    (30.87790, 120.08800), (30.86990, 120.08790), (30.87000, 120.09000),
]
START = datetime.datetime(2026, 11, 28, 2, 0, 0, tzinfo=datetime.timezone.utc)
R = 6371008.8
CRUISE = 30 / 3.6  # m/s
STAND_S = 15


def checksum(body):
    c = 0
    for ch in body:
        c ^= ord(ch)
    return "%02X" % c


def sentence(body):
    return "$%s*%s" % (body, checksum(body))


def dm(value, lat):
    """Degrees as NMEA ddmm.mmmmm / dddmm.mmmmm and hemisphere."""
    hemi = ("N" if value >= 0 else "S") if lat else ("E" if value >= 0 else "W")
    v = abs(value)
    d = int(v)
    m = (v - d) * 60
    return ("%02d%08.5f" if lat else "%03d%08.5f") % (d, m), hemi


def epoch(t, lat, lon, speed, course, rnd):
    hhmmss = t.strftime("%H%M%S") + ".00"
    la, ns = dm(lat, True)
    lo, ew = dm(lon, False)
    sats = 12 + rnd.randint(0, 4)
    hdop = 0.7 + rnd.random() * 0.3
    gga = sentence("GNGGA,%s,%s,%s,%s,%s,1,%02d,%.1f,%.1f,M,7.4,M,," % (
        hhmmss, la, ns, lo, ew, sats, hdop, 6.0 + rnd.random()))
    rmc = sentence("GNRMC,%s,A,%s,%s,%s,%s,%.2f,%.1f,%s,,,A" % (
        hhmmss, la, ns, lo, ew, speed / 0.514444, course, t.strftime("%d%m%y")))
    return [gga, rmc]


def leg(a, b):
    """Length (m) and course (deg) from a to b, on a local flat earth."""
    dn = math.radians(b[0] - a[0]) * R
    de = math.radians(b[1] - a[1]) * R * math.cos(math.radians(a[0]))
    return math.hypot(dn, de), (math.degrees(math.atan2(de, dn)) + 360) % 360


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", dest="out")
    a = ap.parse_args()
    rnd = random.Random(1239)
    lines = ["# Huzhou, Zhejiang: a loop around a work site, GGA+RMC at 1 Hz.",
             "# Made by tests/sim/nmea_route.py; play with tests/scripts/nmea_feed.py."]
    t = START
    lat, lon = WAYPOINTS[0]
    for _ in range(STAND_S):  # standing: the position wanders a little
        jl = lat + rnd.gauss(0, 1.0) / R * 180 / math.pi
        jo = lon + rnd.gauss(0, 1.0) / R * 180 / math.pi
        lines += epoch(t, jl, jo, 0.05, 0.0, rnd)
        t += datetime.timedelta(seconds=1)
    for a_, b in zip(WAYPOINTS, WAYPOINTS[1:]):
        length, course = leg(a_, b)
        done = 0.0
        while done < length:
            left = length - done
            # accelerate from the corner, brake before the next
            speed = min(CRUISE, 2.0 + done * 0.25, 2.0 + left * 0.25)
            done = min(length, done + speed)
            f = done / length
            lat = a_[0] + (b[0] - a_[0]) * f
            lon = a_[1] + (b[1] - a_[1]) * f
            lines += epoch(t, lat, lon, speed, course, rnd)
            t += datetime.timedelta(seconds=1)
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
