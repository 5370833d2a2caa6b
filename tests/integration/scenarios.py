#!/usr/bin/python3
"""Scores emgwd's events against enginesim's labels, scenario by scenario.

usage: scenarios.py DIR NAME...   (DIR/NAME.labels, DIR/NAME.out for each)

Smoke: a labelled episode is found when a `smoke` episode (any rule) overlaps
it (5 s of slack each side); its start-time error is the event's `since`
minus the label's start.  A `smoke` episode that overlaps no smoke or haze
(light smoke: lambda 1.15-1.25) label (10 s of slack) is a false alarm -- cold starts and regenerations are labelled traps,
so an alarm there counts.  Faults must raise their event inside their span
(plus the detector's own delay).  Prints the table; exits 1 when recall <
0.95, false alarms > 1 per 10 engine hours, or a fault is missed."""
import json
import sys
from datetime import datetime, timezone

# fault -> (event type, seconds after the fault's start it may take)
FAULT_EVENT = {
    "ecu-unplugged": ("ecu-silent", 30),
    "dpf-removed": ("dpf-low", 200),
    "nox-frozen": ("nox-frozen", 400),
}


def epoch(iso):
    t = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=timezone.utc).timestamp()


def load(d, name):
    lab = {"smoke": [], "haze": [], "fault": [], "trap": [], "engine_s": 0.0}
    for line in open(f"{d}/{name}.labels"):
        f = line.split()
        if f[0] in ("smoke", "haze"):
            lab[f[0]].append((float(f[1]), float(f[2])))
        elif f[0] in ("fault", "trap"):
            lab[f[0]].append((f[1], float(f[2]), float(f[3])))
        elif f[0] == "engine_s":
            lab["engine_s"] = float(f[1])
    events = [json.loads(l) for l in open(f"{d}/{name}.out") if '"type"' in l]
    return lab, events


def episodes(events):
    """(rule, since, end) of every smoke episode."""
    out, open_ = [], {}
    for ev in events:
        if ev.get("type") != "smoke":
            continue
        rule = ev["rule"]
        if ev["state"] == "start":
            open_[rule] = epoch(ev["since"])
        elif ev["state"] == "end" and rule in open_:
            out.append((rule, open_.pop(rule), epoch(ev["ended"])))
    for rule, since in open_.items():
        out.append((rule, since, float("inf")))
    return out


def overlaps(a0, a1, b0, b1):
    return a0 <= b1 and b0 <= a1


def score(lab, events):
    eps = episodes(events)
    found, errors = 0, []
    for a, b in lab["smoke"]:
        hits = [e for e in eps if overlaps(e[1], e[2], a - 5, b + 5)]
        if hits:
            found += 1
            errors.append(min((h[1] - a for h in hits), key=abs))
    false = [e for e in eps
             if not any(overlaps(e[1], e[2], a - 10, b + 10)
                        for a, b in lab["smoke"] + lab["haze"])]
    missed_faults = []
    for name, a, b in lab["fault"]:
        if name not in FAULT_EVENT:
            continue  # stuck-boost, clogged-filter: judged as smoke
        typ, delay = FAULT_EVENT[name]
        if not any(ev.get("type") == typ and ev.get("state") == "start" and
                   a - 1 <= epoch(ev["ts"]) <= b + delay for ev in events):
            missed_faults.append(name)
    return found, errors, false, missed_faults


def main():
    d, names = sys.argv[1], sys.argv[2:]
    tot_lab = tot_found = 0
    tot_false, tot_h, all_err, missed = 0, 0.0, [], []
    print(f"{'scenario':<24}{'h':>6}{'smoke':>7}{'found':>7}{'false':>7}{'err_s':>8}  traps / faults")
    for n in names:
        lab, events = load(d, n)
        found, errors, false, mf = score(lab, events)
        h = lab["engine_s"] / 3600
        traps = ",".join(sorted({t[0] for t in lab["trap"]}))
        faults = ",".join(f[0] + ("(MISSED)" if f[0] in mf else "") for f in lab["fault"])
        err = max(errors, key=abs) if errors else 0.0
        print(f"{n:<24}{h:6.2f}{len(lab['smoke']):7d}{found:7d}{len(false):7d}{err:8.1f}  "
              f"{traps or '-'} / {faults or '-'}")
        for e in false:
            print(f"    false alarm: rule {e[0]} since {e[1]:.0f}")
        tot_lab += len(lab["smoke"])
        tot_found += found
        tot_false += len(false)
        tot_h += h
        all_err += errors
        missed += [f"{n}:{m}" for m in mf]
    recall = tot_found / tot_lab if tot_lab else 1.0
    fa10 = tot_false / tot_h * 10 if tot_h else 0.0
    mean_err = sum(abs(e) for e in all_err) / len(all_err) if all_err else 0.0
    print(f"total: {len(names)} scenarios, {tot_h:.2f} engine hours, {tot_lab} smoke episodes, "
          f"recall {recall:.3f}, {tot_false} false alarms ({fa10:.2f} per 10 engine hours), "
          f"start error mean |{mean_err:.1f}| s, worst {max(all_err, key=abs) if all_err else 0:.1f} s, "
          f"faults missed: {len(missed)} {' '.join(missed)}")
    ok = recall >= 0.95 and fa10 <= 1.0 and not missed
    print("verdict:", "pass" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
