#!/usr/bin/python3
"""A serial line with the wrong baud rate, for test_selftest.sh: two pty
pairs, DIR/rtu_dev for the client and DIR/rtu_sim for mbsim --rtu, and a
relay between them that passes requests as they are and flips the last byte
of every answer, as a line at the wrong speed garbles it: the client sees
CRC errors.

usage: rtu_garble.py DIR
"""
import os
import select
import sys
import tty

d = sys.argv[1]
ends = {}
for name in ("rtu_dev", "rtu_sim"):
    master, slave = os.openpty()
    tty.setraw(slave)
    os.symlink(os.ttyname(slave), os.path.join(d, name))
    ends[name] = master
client, sim = ends["rtu_dev"], ends["rtu_sim"]
while True:
    ready, _, _ = select.select([client, sim], [], [])
    for fd in ready:
        try:
            data = os.read(fd, 512)
        except OSError:  # no one has the other end open yet
            continue
        if fd == sim and data:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        os.write(sim if fd == client else client, data)
