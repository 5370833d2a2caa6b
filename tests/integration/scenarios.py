#!/usr/bin/python3
"""Scores emgwd's events against a simulator's labels, scenario by scenario.

usage: scenarios.py DIR NAME[:MODEL:CLASS]...   (DIR/NAME.labels, DIR/NAME.out)

Smoke: a labelled episode (spec/smoke.md's truth, from the model's true
state) is found when a `smoke` episode overlaps it (5 s of slack each side);
its start-time error is the event's `since` minus the label's start.  A
`smoke` episode that overlaps no smoke or haze (light smoke: lambda
1.20-1.30) label (10 s of slack) is a false alarm -- traps (regenerations,
cranking, air flow N/A, single-frame dips, limiter-held lags) are not
labelled smoke, so an alarm there counts; `turbo-lag` events are
diagnostics and never count.  Faults must raise their event inside their
span (plus the detector's own delay).  Prints the table per scenario, then
per class and per model; exits 1 when recall < 0.97, false alarms > 0.5 per
10 engine hours, or a fault is missed."""
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
    """(rules, since, end) of every smoke episode (one at a time)."""
    out, since, rules = [], None, ""
    for ev in events:
        if ev.get("type") != "smoke":
            continue
        if ev["state"] == "start":
            since = epoch(ev["since"])
        elif ev["state"] == "end" and since is not None:
            out.append((ev.get("rules", ev["rule"]), since, epoch(ev["ended"])))
            since = None
    if since is not None:
        out.append(("?", since, float("inf")))
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


class Tally:
    def __init__(self):
        self.n = self.lab = self.found = self.false = 0
        self.h, self.err = 0.0, []

    def add(self, h, lab, found, false, errors):
        self.n += 1
        self.h += h
        self.lab += lab
        self.found += found
        self.false += false
        self.err += errors

    def line(self, name):
        recall = self.found / self.lab if self.lab else 1.0
        fa10 = self.false / self.h * 10 if self.h else 0.0
        mean = sum(abs(e) for e in self.err) / len(self.err) if self.err else 0.0
        worst = max(self.err, key=abs) if self.err else 0.0
        return (f"{name:<18}{self.n:4d}{self.h:7.2f}{self.lab:7d}{self.found:7d}{recall:8.3f}"
                f"{self.false:7d}{fa10:9.2f}{mean:8.2f}{worst:8.1f}")


def main():
    d, args = sys.argv[1], sys.argv[2:]
    total, per_class, per_model, missed = Tally(), {}, {}, []
    print(f"{'scenario':<24}{'h':>6}{'smoke':>7}{'found':>7}{'false':>7}{'err_s':>8}  traps / faults")
    for a in args:
        n, model, cls = (a.split(":") + ["-", "-"])[:3]
        lab, events = load(d, n)
        found, errors, false, mf = score(lab, events)
        h = lab["engine_s"] / 3600
        traps = ",".join(sorted({t[0] for t in lab["trap"]}))
        faults = ",".join(f[0] + ("(MISSED)" if f[0] in mf else "") for f in lab["fault"])
        err = max(errors, key=abs) if errors else 0.0
        print(f"{n:<24}{h:6.2f}{len(lab['smoke']):7d}{found:7d}{len(false):7d}{err:8.1f}  "
              f"{traps or '-'} / {faults or '-'}")
        for e in false:
            print(f"    false alarm: rules {e[0]} since {e[1]:.0f}")
        for t in (total, per_class.setdefault(f"{model}/{cls}", Tally()),
                  per_model.setdefault(model, Tally())):
            t.add(h, len(lab["smoke"]), found, len(false), errors)
        missed += [f"{n}:{m}" for m in mf]
    head = (f"{'':<18}{'n':>4}{'h':>7}{'smoke':>7}{'found':>7}{'recall':>8}{'false':>7}"
            f"{'fa/10h':>9}{'|err|':>8}{'worst':>8}")
    print("\nper class\n" + head)
    for k in sorted(per_class):
        print(per_class[k].line(k))
    print("per model\n" + head)
    for k in sorted(per_model):
        print(per_model[k].line(k))
    print(total.line("total"))
    recall = total.found / total.lab if total.lab else 1.0
    fa10 = total.false / total.h * 10 if total.h else 0.0
    mean_err = sum(abs(e) for e in total.err) / len(total.err) if total.err else 0.0
    print(f"total: {total.n} scenarios, {total.h:.2f} engine hours, {total.lab} smoke episodes, "
          f"recall {recall:.3f}, {total.false} false alarms ({fa10:.2f} per 10 engine hours), "
          f"start error mean |{mean_err:.2f}| s, faults missed: {len(missed)} {' '.join(missed)}")
    ok = recall >= 0.97 and fa10 <= 0.5 and not missed
    print("verdict:", "pass" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
