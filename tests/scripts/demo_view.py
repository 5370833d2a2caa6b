#!/usr/bin/python3
"""The demo's live view: subscribes to everything emgw publishes and prints a
line per record (time, rpm, load, fuel, lambda, position) and events highlighted."""
import json
import sys

import paho.mqtt.client as mqtt

host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ready = sys.argv[4] if len(sys.argv) > 4 else None
tty = sys.stdout.isatty()
RED, BOLD, DIM, END = ("\033[1;31m", "\033[1m", "\033[2m", "\033[0m") if tty else ("", "", "", "")


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "-".rjust(len(format(0, spec)))


def show_pos(p):
    if not p:
        return ""
    if not p.get("valid"):
        return "  %sno fix%s" % (DIM, END)
    return "  %s %s %s km/h%s" % (fmt(p.get("lat"), "9.5f"), fmt(p.get("lon"), "10.5f"),
                                  fmt(p.get("speed_kmh"), "4.0f"),
                                  " " + BOLD + "point" + END if p.get("point") else "")


def show_record(r):
    s = r.get("sig", {})
    print("%s  seq %-6d rpm %s  load %s %%  fuel %s L/h  lambda %s  k %s m-1%s" % (
        r.get("ts", "?")[11:19], r.get("seq", 0), fmt(s.get("engine_speed_rpm"), "6.0f"),
        fmt(s.get("engine_load_pct"), "4.0f"), fmt(s.get("fuel_rate_lph"), "5.1f"),
        fmt(s.get("lambda"), "5.2f"), fmt(s.get("opacity_k_m1"), "4.2f"),
        show_pos(r.get("pos"))), flush=True)


def show_event(e):
    details = ", ".join("%s %s" % (k, round(v, 2) if isinstance(v, float) else v)
                        for k, v in e.items()
                        if k not in ("v", "dev", "sid", "boot", "seq", "ts", "ts_src", "mono_ms", "type", "state", "pos",
                                     "evidence"))
    w = e.get("evidence")
    if w:  # a smoke end's evidence: its size, not its numbers
        raw = w.get("raw", {})
        details += ", evidence %d rows at 1 Hz, at signal rate %s" % (len(w.get("rows", [])), ", ".join(
            "%s %d" % (f, len(r)) for f, r in zip(raw.get("fields", []), raw.get("rows", []))) or "none")
    print("%s%s  EVENT %s %s: %s%s" % (RED, e.get("ts", "?")[11:19], e.get("type", "?").upper(),
                                        e.get("state", ""), details, END), flush=True)


def on_connect(c, userdata, flags, rc):
    c.subscribe(prefix + "/+/#", qos=1)


def on_subscribe(c, userdata, mid, granted):
    if ready:
        open(ready, "w").close()


def on_message(c, userdata, msg):
    try:
        p = json.loads(msg.payload)
    except ValueError:
        print("%s(unreadable message on %s)%s" % (DIM, msg.topic, END))
        return
    if msg.topic.endswith("/telemetry"):
        show_record(p)
    elif msg.topic.endswith("/event"):
        show_event(p)
    elif msg.topic.endswith("/status"):
        up = p.get("uplink", {})
        print("%s%s status: %s, store %s rows, %s records sent%s" % (
            DIM, p.get("dev", "?"), p.get("state", "?"), p.get("store", {}).get("rows", "-"),
            up.get("acked", "-"), END), flush=True)


c = mqtt.Client()
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
c.connect(host, port)
try:
    c.loop_forever()
except KeyboardInterrupt:
    pass
