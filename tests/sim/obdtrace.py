#!/usr/bin/python3
"""obdtrace.py BASE OUT EXPECT: the candump log BASE (tracegen's) with the
engine's (SA 0) diagnostics added, written to OUT, and the OBD unit a
platform must receive from it written to EXPECT (hjplatform --expect-obd).

Every payload is laid out here by hand from J1939-73 / J1939-21 (see the
comments), not through emgwd's decoder, and the expected unit follows from
the values chosen, by the mapping README's "OBD unit" section documents:
- DM1 (PGN 65226) every second: lamps byte 1 (MIL bits 7-8 = 01: on, amber
  bits 3-4 = 01), flash byte 2, one DTC SPN 3226 FMI 2 OC 1 (CM 0: SPN low
  byte, next byte, top 3 bits << 5 | FMI, CM << 7 | OC), 0xFF padding;
- VI (PGN 65260) every 5 s: "LZZ1EXCA7PN123456*" by BAM (18 bytes);
- DM5 (PGN 65230) every second, 8 bytes: active DTCs, previously active,
  OBD compliance, byte 4 continuous monitors (bits 0-2 supported: misfire,
  fuel system, comprehensive; bits 4-6 status, 1 = not complete), bytes 5-6
  non-continuous monitors supported (byte 5 bits 0-7 = monitors 0-7, byte 6
  bits 0-4 = monitors 8-12), bytes 7-8 their status;
- DM19 (PGN 54016) every 5 s by BAM, two 20-byte calibrations: CVN (4 bytes,
  least significant first), CAL ID (16 bytes, NUL padded);
- DM20 (PGN 49664) every 5 s by BAM: ignition cycles (2 bytes LE), OBD
  monitoring conditions encountered (2 bytes LE), then 7 bytes a monitor:
  SPN (19 bits, low byte first, top 3 bits in bits 5-7 of byte 3), numerator
  (LE), denominator (LE).
BAM (J1939-21): TP.CM 0x1CECFF00 [32, size LE, packets, 0xFF, PGN LE 3
bytes], then TP.DT 0x1CEBFF00 [sequence 1.., 7 bytes, last padded 0xFF].
"""
import sys

BASE, OUT, EXPECT = sys.argv[1:4]
base = open(BASE).readlines()
t0 = float(base[0][1:18])
t_end = float(base[-1][1:18])
extra = []


def add(t, ident, data):
    extra.append("(%.6f) can0 %08X#%s\n" % (t0 + t, ident, data.hex().upper()))


def bam(t, pgn, payload):
    n = (len(payload) + 6) // 7
    cm = bytes([32, len(payload) & 0xFF, len(payload) >> 8, n, 0xFF,
                pgn & 0xFF, pgn >> 8 & 0xFF, pgn >> 16])
    add(t, 0x1CECFF00, cm)
    for i in range(n):
        chunk = payload[7 * i:7 * i + 7].ljust(7, b"\xff")
        add(t + 0.05 * (i + 1), 0x1CEBFF00, bytes([i + 1]) + chunk)


def u16(v):
    return bytes([v & 0xFF, v >> 8])


def spn3(spn):
    return bytes([spn & 0xFF, spn >> 8 & 0xFF, (spn >> 16 & 7) << 5])


# DM1: MIL on, amber on; SPN 3226 (0x0C9A) FMI 2, CM 0, OC 1
dm1 = bytes([0x01 << 6 | 0x01 << 2, 0xFF, 0x9A, 0x0C, 0x00 << 5 | 2, 0 << 7 | 1, 0xFF, 0xFF])
DTC = "9A0C0201"
VIN = "LZZ1EXCA7PN123456"
# DM5: 1 active, 0 previously active, compliance 0x13; continuous: misfire
# and comprehensive supported (bits 0, 2), misfire not complete (bit 4);
# non-continuous supported: monitors 0, 3, 4 (byte 5 = 0x19) and 9 (byte 6
# bit 1 = 0x02); not complete: monitor 3 (0x08).
cont_sup, cont_nc = 0b101, 0b001
nc_sup, nc_nc = 0x0219, 0x0008
dm5 = bytes([1, 0, 0x13, cont_nc << 4 | cont_sup]) + u16(nc_sup) + u16(nc_nc)
SUPPORT = nc_sup | cont_sup << 13
READINESS = nc_nc | cont_nc << 13
# DM19: CVN 0x1A2B3C4D "ECU-CAL-A1", CVN 0xDEADBEEF "AFT-CAL-B2"
dm19 = (bytes([0x4D, 0x3C, 0x2B, 0x1A]) + b"ECU-CAL-A1".ljust(16, b"\0") +
        bytes([0xEF, 0xBE, 0xAD, 0xDE]) + b"AFT-CAL-B2".ljust(16, b"\0"))
# DM20: 1200 ignition cycles, 345 OBD conditions; SPN 3050 40/100,
# SPN 3058 7/9, SPN 3064 258/772
ratios = [(3050, 40, 100), (3058, 7, 9), (3064, 258, 772)]
dm20 = u16(1200) + u16(345) + b"".join(spn3(s) + u16(n) + u16(d) for s, n, d in ratios)
# the unit's IUPR: OBD conditions, ignition cycles, then (num, den) pairs
# in DM20's order, the rest 0xFFFF
iupr = [345, 1200] + [x for _, n, d in ratios for x in (n, d)]
iupr += [0xFFFF] * (18 - len(iupr))

s = 1
while s < t_end - t0 - 1:
    add(s + 0.1, 0x18FECA00, dm1)
    add(s + 0.2, 0x18FECE00, dm5)
    if s % 5 == 1:
        bam(s + 0.3, 65260, (VIN + "*").encode())
        bam(s + 0.5, 54016, dm19)
        bam(s + 0.85, 49664, dm20)
    s += 1

lines = sorted(base + extra, key=lambda l: float(l[1:18]))
open(OUT, "w").writelines(lines)
with open(EXPECT, "w") as f:
    f.write("# the OBD unit made from %s (tests/sim/obdtrace.py)\n" % OUT)
    f.write("protocol 2\nmil 1\ndtcs %s\n" % DTC)
    f.write("support %d\nreadiness %d\n" % (SUPPORT, READINESS))
    f.write("vin %s\ncal_id ECU-CAL-A1\ncvn 1A2B3C4D\n" % VIN)
    f.write("iupr %s\n" % ",".join(str(v) for v in iupr))
