#!/usr/bin/python3
"""Modbus TCP server for the footprint bench (Debian's python3-pymodbus):
unit 1, holding and input registers 0-4 changing once a second.  Serves
emgwd and collectd alike, so both poll the same device.
usage: footprint_mbserver.py PORT"""
import logging
import sys
import threading
import time

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartTcpServer

logging.disable(logging.ERROR)  # readiness probes cancel handlers: not errors
port = int(sys.argv[1])
block = ModbusSequentialDataBlock(0, [0] * 16)
ctx = ModbusServerContext(slaves=ModbusSlaveContext(hr=block, ir=block), single=True)


def tick():
    n = 0
    while True:
        n += 1
        # counter, voltage dV, current cA, state, load %
        ctx[0].setValues(3, 0, [n % 65536, 2300 + n % 7, 500 + n % 11, 1, n % 100])
        time.sleep(1)


threading.Thread(target=tick, daemon=True).start()
StartTcpServer(context=ctx, address=("127.0.0.1", port))
