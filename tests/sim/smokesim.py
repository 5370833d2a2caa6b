#!/usr/bin/python3
"""smokesim: a second engine model, written from the physics of
shared/spec/smoke.md alone (no code shared with enginesim.c), for scoring the
smoke detector on machines it was not tuned on.

usage: smokesim.py --case CASE --duration S --seed N -o LOG --labels FILE

The model, every 10 ms of true state:
  - a work cycle asks for torque (excavator dig/swing/dump, loader push/lift,
    roller steady with vibration steps);
  - speed follows the governor (first order, 0.4 s);
  - boost follows its target (load and speed) with the turbo's time constant
    (healthy 1.0 s; `slow-turbo` 3 s; `dead-turbo` at most 15 kPa);
  - intake air = swept air x (1 + boost / 101 kPa) x filter (clogged 0.6);
  - the ECU's smoke limiter caps fuel at air / (14.5 x 0.835 x lambda_lim):
    1.30 healthy, `limiter` fault 0.85; while coolant < 40 C cold
    enrichment asks 30 % more fuel and lowers the limit by 25 %;
  - actual torque follows the fuel actually injected; true lambda is
    air / (burned fuel x 0.835 x 14.5).
Labels from that true state (spec/smoke.md): `smoke A B` where lambda <
1.20 for >= 2 s at torque >= 20 % and speed >= 600 rpm; `haze A B` where
lambda < 1.30 at the same gates for >= 0.5 s (neither required nor false);
`trap NAME A B` for what must not alarm; `engine_s`; `class NAME`.

On the bus (candump log): EEC1 every 20 ms, EGF1 (air) 50 ms, LFE1 (fuel)
100 ms, IC1 (boost) 500 ms, ET1 (coolant) 1 s, DPFC1 (regen) 1 s.
Cases: clean, puff (limiter fault: 2-3 s puffs at load steps), cold (cold
heavy load), mid (dead turbo + limiter at 20-40 % torque), limiter-held
(slow turbo, healthy limiter: boost lags, no smoke), crank (cold starts),
air-na (air flow not available under load), dips (single-frame air
glitches), regen (post-injection fuel during DPF regeneration), filter
(clogged filter + limiter fault)."""
import argparse
import random
import sys

DT = 0.01
AFR, RHO = 14.5, 0.835
T0 = 1700000000.0


class Engine:
    def __init__(self, machine, rng, case):
        self.rng, self.case, self.machine = rng, case, machine
        self.rated_rpm = 1500 if machine == "roller" else 1800
        self.swept_kgph = 200.0  # air at rated speed, no boost
        self.fuel_max = 30.0  # L/h at full torque, rated speed
        self.rpm, self.boost, self.torque = 800.0, 0.0, 5.0
        self.coolant = 15.0 if case in ("cold", "crank") else 85.0
        self.running = case != "crank"
        self.crank_t = 0.0
        self.lambda_true, self.fuel, self.air = 3.0, 1.5, 200.0
        self.regen = False

    def step(self, t, demand, faults):
        if not self.running:
            return self.crank(t)
        want_rpm = 800 if demand < 15 else self.rated_rpm
        self.rpm += (want_rpm - self.rpm) * DT / 0.4
        tau = 5.0 if "slow-turbo" in faults else 2.0 if "worn-turbo" in faults else 1.0
        target = 160.0 * (demand / 100.0) ** 1.2 * (self.rpm / self.rated_rpm)
        if "dead-turbo" in faults:
            target = min(target, 15.0)
        self.boost += (target - self.boost) * DT / tau
        filt = 0.6 if "filter" in faults else 1.0
        self.air = self.swept_kgph * (self.rpm / self.rated_rpm) * (1 + self.boost / 101.0) * filt
        lam_lim = 0.85 if "limiter" in faults else 1.30
        fuel_want = 1.5 + self.fuel_max * demand / 100.0 * self.rpm / self.rated_rpm
        if self.coolant < 40:  # cold enrichment: more fuel, a looser limit
            lam_lim *= 0.75
            fuel_want *= 1.3
        fuel_cap = self.air / (AFR * RHO * lam_lim)
        self.fuel = min(fuel_want, fuel_cap)
        self.torque = max(0.0, demand * self.fuel / fuel_want) if demand > 0 else 0.0
        self.lambda_true = self.air / (self.fuel * RHO * AFR)
        self.coolant = min(85.0, self.coolant + DT * (0.02 + 0.08 * self.torque / 100.0))
        return True

    def crank(self, t):
        """Off 1 s, cranking 2.5 s (rich, slow), then running."""
        self.crank_t += DT
        if self.crank_t < 1.0:
            self.rpm, self.fuel, self.air, self.torque = 0.0, 0.0, 0.0, 0.0
            self.lambda_true = 0.0
        elif self.crank_t < 3.5:
            self.rpm, self.fuel, self.air, self.torque = 220.0, 9.0, 60.0, 35.0
            self.lambda_true = self.air / (self.fuel * RHO * AFR)
        else:
            self.running = True
            self.rpm = 1100.0  # start flare
        return True


def cycle(machine, t, rng, state):
    """Demand torque % at t: one machine's work cycle, with randomness."""
    if state.get("until", -1) <= t:
        if machine == "excavator":
            phases = [(90, 5), (40, 4), (25, 2), (30, 4), (8, 3)]
        elif machine == "loader":
            phases = [(95, 4), (60, 5), (40, 6), (8, 3)]
        else:
            phases = [(50, 8), (75, 4), (50, 6), (10, 2)]
        i = state.get("i", -1) + 1
        d, length = phases[i % len(phases)]
        state.update(i=i, d=min(100, max(0, d + rng.uniform(-8, 8))),
                     until=t + length * rng.uniform(0.8, 1.3))
    return state["d"]


def enc(v, res, off, nbytes):
    raw = int(round((v - off) / res))
    raw = max(0, min(raw, 0xFA if nbytes == 1 else 0xFAFF))
    return raw.to_bytes(nbytes, "little")


def frame(out, t, ident, data):
    data = data + b"\xff" * (8 - len(data))
    out.write("(%.6f) can0 %08X#%s\n" % (T0 + t, ident, data.hex().upper()))


class Spans:
    def __init__(self, min_len):
        self.min_len, self.open, self.out = min_len, None, []

    def note(self, t, on):
        if on and self.open is None:
            self.open = t
        elif not on and self.open is not None:
            if t - self.open >= self.min_len:
                self.out.append((self.open, t))
            self.open = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True)
    ap.add_argument("--machine", default="excavator")
    ap.add_argument("--duration", type=float, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", required=True)
    ap.add_argument("--labels", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    case = a.case
    eng = Engine(a.machine, rng, case)
    faults = set()
    if case == "puff":
        faults |= {"limiter", "worn-turbo"}
    if case == "mid":
        faults |= {"dead-turbo", "filter", "limiter"}
    if case == "limiter-held":
        faults.add("slow-turbo")
    if case == "filter":
        faults |= {"filter", "limiter"}
    # a fault span (or a trap span) in the middle of the run
    f0, f1 = a.duration * 0.25, a.duration * 0.75
    if case == "cold":
        f0, f1 = 0, a.duration * 0.4  # heavy work while the engine is cold
    smoke, haze = Spans(2.0), Spans(0.5)
    traps = []
    state = {}
    n = int(a.duration / DT)
    glitch_next = f0
    with open(a.o, "w") as out:
        for i in range(n):
            t = i * DT
            ms = i * 10
            active = faults if f0 <= t < f1 else set()
            demand = cycle(a.machine, t, rng, state)
            if case == "crank" and t < 20:
                demand = 0.0  # nobody loads a machine in its first seconds
            if case == "mid" and f0 <= t < f1:
                demand = min(demand, 38.0)  # light work on a broken machine
            eng.regen = case == "regen" and f0 <= t < f1
            eng.step(t, demand if eng.running else 0, active)
            gate = eng.running and eng.torque >= 20 and eng.rpm >= 600 and eng.fuel > 0
            smoke.note(t, gate and eng.lambda_true < 1.20)
            haze.note(t, gate and eng.lambda_true < 1.30)
            # what the sensors say
            fuel_seen = eng.fuel * (1.6 if eng.regen else 1.0)  # post-injection
            air_seen = eng.air
            air_na = case == "air-na" and f0 <= t < f1
            if case == "dips" and f0 <= t < f1 and t >= glitch_next and ms % 50 == 0:
                air_seen *= 0.5  # one EGF1 frame reads half
                glitch_next = t + rng.uniform(5, 15)
            if ms % 20 == 0:
                frame(out, t, 0x0CF00400, bytes([0xF0]) + enc(demand, 1, -125, 1) +
                      enc(eng.torque, 1, -125, 1) + enc(eng.rpm, 0.125, 0, 2))
            if ms % 50 == 0:
                frame(out, t, 0x0CF00A00, b"\xff\xff" +
                      (b"\xff\xff" if air_na else enc(air_seen, 0.05, 0, 2)))
            if ms % 100 == 0:
                frame(out, t, 0x18FEF200, enc(fuel_seen, 0.05, 0, 2))
            if ms % 500 == 0:
                frame(out, t, 0x18FEF600, b"\xff" + enc(eng.boost, 2, 0, 1))
            if ms % 1000 == 0:
                frame(out, t, 0x18FEEE00, enc(eng.coolant, 1, -40, 1))
                frame(out, t, 0x18FD7C00, bytes([0xFD if eng.regen else 0xFC]))
        smoke.note(a.duration, False)
        haze.note(a.duration, False)
    if case in ("crank", "air-na", "dips", "regen", "limiter-held"):
        traps.append((case, f0 if case != "crank" else 0, f1 if case != "crank" else 10))
    with open(a.labels, "w") as f:
        f.write(f"class {case}\n")
        for s0, s1 in smoke.out:
            f.write(f"smoke {T0 + s0:.3f} {T0 + s1:.3f}\n")
        for s0, s1 in haze.out:
            f.write(f"haze {T0 + s0:.3f} {T0 + s1:.3f}\n")
        for name, s0, s1 in traps:
            f.write(f"trap {name} {T0 + s0:.3f} {T0 + s1:.3f}\n")
        f.write(f"engine_s {a.duration:.1f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
