#!/usr/bin/python3
"""An independent Modbus TCP server for emgw's tests (python3-pymodbus 3.0).

Serves unit 1 with a map of every point type and word/byte order, encoded
here with Python's struct module (not with emgw's code), and writes the emgw
profile of that map and the values emgw must read back exactly.

usage: pymodbus_server.py PORT PROFILE_OUT EXPECTED_OUT
"""
import json
import struct
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartTcpServer

port, profile_out, expected_out = int(sys.argv[1]), sys.argv[2], sys.argv[3]

# name, table, address, type, order, packed big-endian bytes, expected value, extra keys
FMT = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i", "u64": ">Q", "i64": ">q",
       "f32": ">f", "f64": ">d"}


def words(raw, order):
    """Big-endian bytes as registers, in the device's order."""
    w = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if order in ("BADC", "DCBA"):
        w = [x[::-1] for x in w]
    if order in ("CDAB", "DCBA"):
        w = w[::-1]
    return [int.from_bytes(x, "big") for x in w]


POINTS = []
holding = {}
inputs = {}
coils = {}
discrete = {}


def num(name, table, addr, typ, order, raw_value, expect, extra=None):
    regs = words(struct.pack(FMT[typ], raw_value), order)
    target = holding if table == "holding" else inputs
    for i, r in enumerate(regs):
        target[addr + i] = r
    POINTS.append((name, table, addr, typ, order, expect, extra or {}))


num("p_u16", "holding", 0, "u16", "ABCD", 54321, 54321)
num("p_i16", "holding", 1, "i16", "ABCD", -1234, -1234)
num("p_i16_ba", "holding", 2, "i16", "BADC", -2, -2)
num("p_u32_abcd", "holding", 4, "u32", "ABCD", 3000000000, 3000000000)
num("p_u32_cdab", "holding", 6, "u32", "CDAB", 305419896, 305419896)
num("p_i32_badc", "holding", 8, "i32", "BADC", -123456789, -123456789)
num("p_i32_dcba", "holding", 10, "i32", "DCBA", -7, -7)
num("p_f32_abcd", "holding", 12, "f32", "ABCD", 1.5, 1.5)
num("p_f32_cdab", "holding", 14, "f32", "CDAB", -273.25, -273.25)
num("p_f32_badc", "holding", 16, "f32", "BADC", 0.125, 0.125)
num("p_f32_dcba", "holding", 18, "f32", "DCBA", 12345.5, 12345.5)
num("p_u64", "holding", 20, "u64", "ABCD", 1234567890123, 1234567890123)
num("p_i64_cdab", "holding", 24, "i64", "CDAB", -9876543210, -9876543210)
num("p_f64", "holding", 28, "f64", "ABCD", 3.141592653589793, 3.141592653589793)
num("p_f64_dcba", "holding", 32, "f64", "DCBA", -0.001, -0.001)
# scaled, with an offset, in input registers
num("engine_speed_rpm", "input", 0, "u16", "ABCD", 12000, 1500.0, {"scale": "0.125"})
num("coolant_c", "input", 1, "u16", "ABCD", 125, 85.0, {"offset": "-40"})
num("p_scaled_i32", "input", 2, "i32", "CDAB", -2500, -25.0, {"scale": "0.01"})
# a string of 5 registers, a bit field and a flag in one status register
for i, r in enumerate(words(b"EMGW-TEST\0", "ABCD")):
    holding[40 + i] = r
POINTS.append(("p_string", "holding", 40, "string", "ABCD", "EMGW-TEST", {"count": "5"}))
holding[50] = 0b1010_0000_1100_1000
POINTS.append(("p_bits", "holding", 50, "bits", "ABCD", 0b0110, {"bit": "5", "count": "4"}))
POINTS.append(("p_flag", "holding", 50, "bool", "ABCD", 1, {"bit": "3"}))
POINTS.append(("p_flag_off", "holding", 50, "bool", "ABCD", 0, {"bit": "4"}))
coils[3] = 1
POINTS.append(("p_coil", "coil", 3, "bool", "ABCD", 1, {}))
discrete[7] = 1
POINTS.append(("p_discrete", "discrete", 7, "bool", "ABCD", 1, {}))
discrete[8] = 0
POINTS.append(("p_discrete_off", "discrete", 8, "bool", "ABCD", 0, {}))


def block(values, size=100):
    return ModbusSequentialDataBlock(0, [values.get(i, 0) for i in range(size)])


with open(profile_out, "w") as f:
    f.write("# written by pymodbus_server.py\n")
    for name, table, addr, typ, order, _, extra in POINTS:
        f.write('[point "%s"]\ntable = %s\naddress = %d\ntype = %s\n' % (name, table, addr, typ))
        if order != "ABCD":
            f.write("order = %s\n" % order)
        for k, v in extra.items():
            f.write("%s = %s\n" % (k, v))
with open(expected_out, "w") as f:
    json.dump({p[0]: p[5] for p in POINTS}, f)

store = ModbusSlaveContext(di=block(discrete), co=block(coils), hr=block(holding),
                           ir=block(inputs), zero_mode=True)
context = ModbusServerContext(slaves={1: store}, single=False)
StartTcpServer(context=context, address=("127.0.0.1", port))
