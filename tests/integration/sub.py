#!/usr/bin/python3
"""A test subscriber: writes every message on TOPIC to OUT as 'topic<TAB>payload'.

Persistent session (clean_session False) at QoS 1, so messages published while
it reconnects after a broker restart are kept for it.  Touches READY once
subscribed.  Payloads on topics ending in /z are inflated (zlib) first.  Runs until killed.
"""
import sys
import time
import zlib

import paho.mqtt.client as mqtt

host, port, topic, out_path, ready_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
client_id = sys.argv[6] if len(sys.argv) > 6 else "emgw-test-sub"
out = open(out_path, "a", buffering=1)


def on_connect(client, userdata, flags, rc):
    client.subscribe(topic, qos=1)


def on_subscribe(client, userdata, mid, granted):
    open(ready_path, "w").close()


def on_message(client, userdata, msg):
    payload = msg.payload
    if msg.topic.endswith("/z"):  # zlib-compressed telemetry
        payload = zlib.decompress(payload)
    out.write("%s\t%s\n" % (msg.topic, payload.decode("utf-8", "replace")))


c = mqtt.Client(client_id=client_id, clean_session=False)
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
c.reconnect_delay_set(min_delay=0.2, max_delay=1)
while True:
    try:
        c.connect(host, port, keepalive=10)
        break
    except OSError:
        time.sleep(0.2)
c.loop_forever(retry_first_connection=True)
