#!/usr/bin/python3
"""Compares the positions emgwd recorded (its --stdout lines) with the TPV
reports in a capture's .chk (gpsd's own output): prints one fact a line,
`name value`, for test_gnss.sh to check.

  gnss_check.py RECORDS CHK

A recorded valid position matches a TPV when both lat and lon are within
1e-6 degrees and the TPV has a fix (mode >= 2, status not 8 = simulated);
when the record says which fix time it is (fix_ts), the TPV must have that
time too.  Matches must come in the capture's order."""
import datetime
import json
import sys

TOL = 1e-6
WEEK_ERA_MS = 1024 * 7 * 86400 * 1000


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def ms(iso):
    d = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return round(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def same_time(a, b):
    """Equal, or a whole number of GPS week-number eras (1024 weeks) apart:
    gpsd resolves the two-digit year of an old capture against its own build
    date, so the gpsd here may date a 2015 capture 2034."""
    if a is None or b is None:
        return a == b
    return (ms(a) - ms(b)) % WEEK_ERA_MS == 0


def main():
    rows, chk = load(sys.argv[1]), load(sys.argv[2])
    tpv = [t for t in chk if t.get("class") == "TPV"]
    fixes = [(i, t) for i, t in enumerate(tpv)
             if t.get("mode", 0) >= 2 and t.get("status", 1) != 8 and "lat" in t and "lon" in t]
    recs = [r for r in rows if "sig" in r]
    valid = [r for r in recs if r.get("pos", {}).get("valid") is True]
    matched, unmatched, last_idx, ordered = 0, 0, -1, 1
    qualities = set()
    for r in valid:
        p = r["pos"]
        qualities.add(p.get("quality", "?"))
        hits = [i for i, t in fixes
                if ("fix_ts" in p) == ("time" in t) and same_time(t.get("time"), p.get("fix_ts"))
                and abs(t["lat"] - p["lat"]) <= TOL and abs(t["lon"] - p["lon"]) <= TOL]
        later = [i for i in hits if i >= last_idx]
        hit = later[0] if later else (hits[0] if hits else None)
        if hit is None:
            unmatched += 1
            print("unmatched_example %s" % json.dumps(p), file=sys.stderr)
            continue
        matched += 1
        if hit < last_idx:
            ordered = 0
        last_idx = max(last_idx, hit)
    tail = recs[-1]["pos"] if recs and "pos" in recs[-1] else {}
    print("records %d" % len(recs))
    print("with_pos %d" % sum(1 for r in recs if "pos" in r))
    print("valid %d" % len(valid))
    print("matched %d" % matched)
    print("unmatched %d" % unmatched)
    print("ordered %d" % ordered)
    print("tpv_fixes %d" % len(fixes))
    print("qualities %s" % ",".join(sorted(qualities)) if qualities else "qualities -")
    print("tail_valid %d" % (1 if tail.get("valid") is True else 0))
    print("tail_age_s %s" % tail.get("age_s", -1))
    print("tail_has_lat %d" % (1 if "lat" in tail else 0))
    print("gnss_ts %d" % sum(1 for r in rows if r.get("ts_src") == "gnss"))
    print("clock_events %d" % sum(1 for r in rows if r.get("type") == "clock"))
    print("points %d" % sum(1 for r in recs if "point" in r.get("pos", {})))
    odo = [r["sig"]["gps_odometer_km"] for r in recs if "gps_odometer_km" in r.get("sig", {})]
    print("odometer_km %s" % (odo[-1] if odo else -1))


if __name__ == "__main__":
    main()
