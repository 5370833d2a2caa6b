#!/usr/bin/python3
"""A Modbus TCP server (python3-pymodbus) whose devices refuse reads while a
control file exists, for test_modbus_refused.sh.

Unit 1 holds registers 0..19 (register a holds 100 + a); while DIR/refuse5
exists, any read of holding registers covering address 5 is answered with
exception 02 (illegal data address), as a device booting or reconfigured
does.  Unit 2 holds the same; while DIR/refuse2 exists it refuses every
read.

usage: mbflaky_server.py PORT DIR
"""
import os
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartTcpServer

port, ctl = int(sys.argv[1]), sys.argv[2]


class Flaky(ModbusSequentialDataBlock):
    """Refuses (validate False: exception 02) while the control file exists."""

    def __init__(self, refused, whole):
        super().__init__(0, [100 + a for a in range(20)])
        self.refused, self.whole = refused, whole

    def validate(self, address, count=1):
        if os.path.exists(os.path.join(ctl, self.refused)):
            if self.whole or address <= 5 < address + count:
                return False
        return super().validate(address, count)


def unit(refused, whole):
    return ModbusSlaveContext(hr=Flaky(refused, whole), zero_mode=True)


context = ModbusServerContext(slaves={1: unit("refuse5", False), 2: unit("refuse2", True)},
                             single=False)
StartTcpServer(context=context, address=("127.0.0.1", port))
