/* Unit tests for protocols/hjframe.c: vectors built from the spec by an
 * independent encoder (field by field, BCC as the XOR of bytes 2..n-2) and
 * pasted here as bytes; every frame type in both variants, round trips,
 * every invalid value, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocols/hjframe.h"

#define VIN "LZYTBTD60K1000001"
#define T0  1700000000 /* 2023-11-14T22:13:20Z = 2023-11-15 06:13:20 Beijing */
#define BJ  (8 * 3600)

/* nrmm_login: 53 bytes, BCC 0x2E */
static const uint8_t nrmm_login[] = {
    0x23, 0x23, 0x01, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31,
    0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x1C, 0x17, 0x0B, 0x0F, 0x06,
    0x0D, 0x14, 0x00, 0x01, 0x38, 0x39, 0x38, 0x36, 0x30, 0x30, 0x31, 0x32, 0x33, 0x34,
    0x35, 0x36, 0x37, 0x38, 0x39, 0x30, 0x31, 0x32, 0x33, 0x34, 0x2E,
};
/* nrmm_logout: 33 bytes, BCC 0x35 */
static const uint8_t nrmm_logout[] = {
    0x23, 0x23, 0x04, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36,
    0x30, 0x4B, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01,
    0x00, 0x08, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x00, 0x01, 0x35,
};
/* nrmm_realtime: 71 bytes, BCC 0xD4 */
static const uint8_t nrmm_realtime[] = {
    0x23, 0x23, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x2E, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14,
    0x00, 0x07, 0x00, 0x07, 0x3D, 0x8A, 0xA5, 0x01, 0xDC, 0x89, 0xD0, 0x02, 0x0C, 0x80, 0xC8,
    0xAF, 0x87, 0x2E, 0xE0, 0x01, 0x33, 0x23, 0x28, 0xFF, 0xFF, 0xC8, 0x2E, 0xE0, 0x47, 0xA0,
    0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D, 0x27, 0x10, 0xFF, 0xFF, 0xD4,
};
/* nrmm_resend: 71 bytes, BCC 0xDA */
static const uint8_t nrmm_resend[] = {
    0x23, 0x23, 0x03, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x2E, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14,
    0x00, 0x08, 0x00, 0x07, 0x3D, 0x8A, 0xA5, 0x01, 0xDC, 0x89, 0xD0, 0x02, 0x0C, 0x80, 0xC8,
    0xAF, 0x87, 0x2E, 0xE0, 0x01, 0x33, 0x23, 0x28, 0xFF, 0xFF, 0xC8, 0x2E, 0xE0, 0x47, 0xA0,
    0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D, 0x27, 0x10, 0xFF, 0xFF, 0xDA,
};
/* nrmm_diag: 54 bytes, BCC 0x40 */
static const uint8_t nrmm_diag[] = {
    0x23, 0x23, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31,
    0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x1D, 0x17, 0x0B, 0x0F, 0x06,
    0x0D, 0x14, 0x00, 0x09, 0x00, 0x07, 0x3D, 0x8A, 0xA5, 0x01, 0xDC, 0x89, 0xD0, 0x01,
    0x02, 0x01, 0x02, 0x90, 0x0C, 0x02, 0x01, 0x64, 0x00, 0x01, 0x05, 0x40,
};
/* nrmm_alarm: 43 bytes, BCC 0x25 */
static const uint8_t nrmm_alarm[] = {
    0x23, 0x23, 0x05, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x12, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14,
    0x00, 0x0A, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x25,
};
/* nrmm_activate: 194 bytes, BCC 0x80 */
static const uint8_t nrmm_activate[] = {
    0x23, 0x23, 0x07, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0xA9, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14,
    0x43, 0x48, 0x49, 0x50, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30,
    0x31, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D,
    0x4E, 0x4F, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x5B, 0x5C,
    0x5D, 0x5E, 0x5F, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B,
    0x6C, 0x6D, 0x6E, 0x6F, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A,
    0x7B, 0x7C, 0x7D, 0x7E, 0x7F, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B,
    0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x20, 0x01, 0x02, 0x03, 0x04,
    0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x80,
};
/* nrmm_answer: 27 bytes, BCC 0x3F */
static const uint8_t nrmm_answer[] = {
    0x23, 0x23, 0x08, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31,
    0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x02, 0x01, 0x00, 0x3F,
};
/* road_realtime: 187 bytes, BCC 0xAA */
static const uint8_t road_realtime[] = {
    0x23, 0x23, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0xA2, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x15, 0x00, 0x03,
    0x02, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x0C, 0x80, 0xC8, 0xAF, 0x87, 0x2E, 0xE0, 0x01, 0x33,
    0x23, 0x28, 0xFF, 0xFF, 0xC8, 0x2E, 0xE0, 0x47, 0xA0, 0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D, 0x00,
    0x07, 0x3D, 0x8A, 0xA5, 0x01, 0xDC, 0x89, 0xD0, 0x00, 0x01, 0xE2, 0x40, 0x02, 0x17, 0x0B, 0x0F,
    0x06, 0x0D, 0x15, 0x0C, 0x80, 0xC8, 0xAF, 0x87, 0x2E, 0xE0, 0x01, 0x33, 0x23, 0x28, 0xFF, 0xFF,
    0xC8, 0x2E, 0xE0, 0x47, 0xA0, 0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D, 0x00, 0x07, 0x3D, 0x8A, 0xA5,
    0x01, 0xDC, 0x89, 0xD0, 0x00, 0x01, 0xE2, 0x40, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x20, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
    0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0xAA,
};
/* road_timesync: 25 bytes, BCC 0x31 */
static const uint8_t road_timesync[] = {
    0x23, 0x23, 0x05, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B,
    0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x00, 0x31,
};
/* road_timesync_answer: 31 bytes, BCC 0x3B */
static const uint8_t road_timesync_answer[] = {
    0x23, 0x23, 0x05, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x06, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x3B,
};
/* road_diag: 136 bytes, BCC 0xDB */
static const uint8_t road_diag[] = {
    0x23, 0x23, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x6F, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x00, 0x04,
    0x01, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x02, 0x00, 0x12, 0x34, 0x0F, 0x0F, 0x4C, 0x5A, 0x59,
    0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x43, 0x41,
    0x4C, 0x2D, 0x49, 0x44, 0x2D, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x58,
    0x43, 0x56, 0x4E, 0x2D, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x41, 0x42,
    0x43, 0x44, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D,
    0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D,
    0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0xFE, 0xDB,
};

/* GB 17691 Annex Q frames, field by field from the layouts (Q1: time +
 * {type + unit serial + body}; Q2: time + serial + {type + body + 0x20 r 0x20
 * s}), BCC the XOR of bytes 2..n-2.  The stream is the one of stream_fill();
 * the diagnostics unit: J1939, MIL on, support 1, readiness 2, VIN, CAL ID
 * "CAL-1", CVN "CVN-1" (zero-padded), IUPR invalid, 1 DTC 0x64000105. */
/* gb_q1: 71 bytes, BCC 0x40 */
static const uint8_t gb_q1[] = {
    0x23, 0x23, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x2E, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14,
    0x02, 0x00, 0x07, 0x0C, 0x80, 0xC8, 0xAF, 0x87, 0x2E, 0xE0, 0x01, 0x33, 0x23, 0x28, 0xFF,
    0xFF, 0xC8, 0x2E, 0xE0, 0x47, 0xA0, 0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D, 0x00, 0x07, 0x3D,
    0x8A, 0xA5, 0x01, 0xDC, 0x89, 0xD0, 0x00, 0x01, 0xE2, 0x40, 0x40,
};
/* gb_q1_resend: 174 bytes, BCC 0xBD */
static const uint8_t gb_q1_resend[] = {
    0x23, 0x23, 0x03, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x00, 0x95, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x01, 0x00,
    0x08, 0x02, 0x01, 0x00, 0x01, 0x00, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30,
    0x4B, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x43, 0x41, 0x4C, 0x2D, 0x31, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x43, 0x56, 0x4E, 0x2D, 0x31, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x01, 0x64, 0x00, 0x01, 0x05, 0x02, 0x00, 0x09, 0x0C, 0x80, 0xC8, 0xAF, 0x87, 0x2E, 0xE0, 0x01,
    0x33, 0x23, 0x28, 0xFF, 0xFF, 0xC8, 0x2E, 0xE0, 0x47, 0xA0, 0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D,
    0x00, 0x07, 0x3D, 0x8A, 0xA5, 0x01, 0xDC, 0x89, 0xD0, 0x00, 0x01, 0xE2, 0x40, 0xBD,
};
/* gb_q2: 304 bytes, BCC 0x36 */
static const uint8_t gb_q2[] = {
    0x23, 0x23, 0x02, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x31, 0x01, 0x01, 0x01, 0x17, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x00, 0x08,
    0x02, 0x0C, 0x80, 0xC8, 0xAF, 0x87, 0x2E, 0xE0, 0x01, 0x33, 0x23, 0x28, 0xFF, 0xFF, 0xC8, 0x2E,
    0xE0, 0x47, 0xA0, 0xFF, 0xFF, 0x00, 0x19, 0x7D, 0x7D, 0x00, 0x07, 0x3D, 0x8A, 0xA5, 0x01, 0xDC,
    0x89, 0xD0, 0x00, 0x01, 0xE2, 0x40, 0x20, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x20, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x01, 0x02, 0x01, 0x00, 0x01, 0x00, 0x02, 0x4C,
    0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36, 0x30, 0x4B, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31,
    0x43, 0x41, 0x4C, 0x2D, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x43, 0x56, 0x4E, 0x2D, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x64, 0x00, 0x01, 0x05, 0x20, 0x33, 0x33,
    0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
    0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x20, 0x44,
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x36,
};

/* PUB_P2: 198 bytes (shared/spec/hj-public-frames.md) */
#define PUB_P2                                                                                     \
	"2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C"         \
	"47444348413147384D4131323737333359435933303136352D363020202020200000EC40A1BF0000"         \
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000"         \
	"000000000000000007145600AFE00200AFE06200AFE00900AF204700AF245500AFE01200AF020001"         \
	"0000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55FE000000289F"
/* PUB_P5: 130 bytes (shared/spec/hj-public-frames.md) */
#define PUB_P5                                                                                     \
	"2323024C4349414D4D42453447303030343637310201006914051D0D341E0100010000000000004C"         \
	"4349414D4D4245344730303034363731303030303030303030303030303030303030303030303030"         \
	"30303030303030303030303030303030303030303030303030303030303030303030303030303030"         \
	"30303030303030300043"
/* PUB_P4: 300 bytes (shared/spec/hj-public-frames.md) */
#define PUB_P4                                                                                     \
	"2323024C57485445535431323334353637383935110101131306030F193B000401010000EB00804C"         \
	"574854455354313233343536373839353630313630332D4532303030303030303030545A57483030"         \
	"30305830303030303030303031303230313032300000000000000000000000000000000000000000"         \
	"00000000000000000020313130303033414242303333464641414344303338394343454431323945"         \
	"4400203232303042433033414242303333464641414344453830383943434544314544022621CA98"         \
	"B41B5601631CA8109AAA00172BAA2A2204A25B54000686C1D7020D043F00002AFD20313130303033"         \
	"41424230333346464141434430333839434345443132394544002032323030424330334142423033"         \
	"334646414143444538303839434345443145445F"

static struct hj_frame fr; /* large: keep it off the stack */

static void frame_init(struct hj_frame *f, enum hj_variant v, uint8_t cmd)
{
	memset(f, 0, sizeof(*f));
	f->variant = v;
	f->cmd = cmd;
	memcpy(f->vin, VIN, sizeof(VIN));
	f->sw_version = 1;
	f->encryption = HJ_ENC_NONE;
	assert_int_equal(hj_time_from_unix(T0, BJ, &f->time), HJ_OK);
}

/* The stream of the vectors: speed 12.5 km/h = 3200, baro 100 kPa = 200,
 * torque 50 % = 175, friction 10 % = 135, 1500 rpm = 12000, 15.35 L/h = 307,
 * NOx up 250 ppm = 9000, NOx down invalid, DEF 80 % = 200, air 600 kg/h =
 * 12000, SCR in 300 C = 18336, SCR out invalid, DPF 2.5 kPa = 25, coolant 85 C
 * = 125, fuel 50 % = 125; nrmm: EGR 25 % = 10000, commanded invalid; road:
 * position, odometer 12345.6 km = 123456. */
static void stream_fill(struct hj_stream *s)
{
	hj_stream_init(s);
	assert_int_equal(hj_stream_set(s, HJ_F_SPEED_KMH, 12.5), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_BARO_KPA, 100), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_TORQUE_PCT, 50), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_FRICTION_PCT, 10), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_ENGINE_RPM, 1500), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_FUEL_LPH, 15.35), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_NOX_UP_PPM, 250), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_DEF_PCT, 80), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_INTAKE_AIR_KGPH, 600), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_SCR_IN_C, 300), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_DPF_DP_KPA, 2.5), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_COOLANT_C, 85), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_FUEL_LEVEL_PCT, 50), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_EGR_PCT, 25), 0);
	assert_int_equal(hj_stream_set(s, HJ_F_ODOMETER_KM, 12345.6), 0);
	hj_pos_set(&s->pos, 1, 31.230416, 121.473701);
}

static void check_encode(const struct hj_frame *f, const uint8_t *want, size_t n)
{
	uint8_t buf[1024];
	int len = hj_encode(f, buf, sizeof(buf));

	assert_int_equal(len, (int)n);
	assert_memory_equal(buf, want, n);
}

/* Decode the vector, check it is whole with a good BCC, encode it again. */
static void check_round_trip(const uint8_t *v, size_t n, enum hj_variant var)
{
	uint8_t buf[1024];

	assert_int_equal(hj_decode(v, n, var, &fr), (int)n);
	assert_true(fr.bcc_ok);
	assert_string_equal(fr.vin, VIN);
	assert_int_equal(fr.data_len, n - HJ_HDR_LEN - 1);
	assert_int_equal(hj_encode(&fr, buf, sizeof(buf)), (int)n);
	assert_memory_equal(buf, v, n);
}

static void test_bcc(void **state)
{
	uint8_t x = 0;

	(void)state;
	/* By definition: command unit .. end of data unit. */
	for (size_t i = 2; i < sizeof(nrmm_login) - 1; i++)
		x ^= nrmm_login[i];
	assert_int_equal(x, 0x2E);
	assert_int_equal(hj_bcc(nrmm_login + 2, sizeof(nrmm_login) - 3), 0x2E);
	assert_int_equal(hj_bcc(NULL, 0), 0);
	assert_int_equal(hj_bcc((const uint8_t *)"\x01\x02\x04", 3), 0x07);
}

static void test_time(void **state)
{
	struct hj_time t;
	int64_t back;

	(void)state;
	assert_int_equal(hj_time_from_unix(T0, BJ, &t), HJ_OK);
	assert_int_equal(t.year, 23);
	assert_int_equal(t.month, 11);
	assert_int_equal(t.day, 15);
	assert_int_equal(t.hour, 6);
	assert_int_equal(t.minute, 13);
	assert_int_equal(t.second, 20);
	assert_int_equal(hj_time_to_unix(&t, BJ, &back), HJ_OK);
	assert_int_equal(back, T0);
	/* UTC: the day before. */
	assert_int_equal(hj_time_from_unix(T0, 0, &t), HJ_OK);
	assert_int_equal(t.day, 14);
	assert_int_equal(t.hour, 22);
	/* 2024-02-29 23:59:59 +08:00 */
	assert_int_equal(hj_time_from_unix(1709222399, BJ, &t), HJ_OK);
	assert_int_equal(t.month, 2);
	assert_int_equal(t.day, 29);
	assert_int_equal(t.hour, 23);
	/* Out of the field's range: 1999-12-31 23:59:59 +08:00, and 2258. */
	assert_int_equal(hj_time_from_unix(946684799 - BJ, BJ, &t), HJ_EINVAL);
	assert_int_equal(hj_time_from_unix(9100000000LL, BJ, &t), HJ_EINVAL);
	/* Not a date. */
	t = (struct hj_time){23, 2, 29, 0, 0, 0};
	assert_int_equal(hj_time_to_unix(&t, BJ, &back), HJ_EINVAL);
	t = (struct hj_time){23, 13, 1, 0, 0, 0};
	assert_int_equal(hj_time_to_unix(&t, BJ, &back), HJ_EINVAL);
}

static void test_login_logout(void **state)
{
	(void)state;
	for (int v = HJ_NRMM; v <= HJ_ROAD; v++) {
		frame_init(&fr, v, HJ_CMD_LOGIN);
		fr.serial = 1;
		memcpy(fr.iccid, "89860012345678901234", 21);
		/* Login and logout are the same in both variants (only the
		 * command byte differs in what follows). */
		check_encode(&fr, nrmm_login, sizeof(nrmm_login));
		check_round_trip(nrmm_login, sizeof(nrmm_login), v);
		assert_string_equal(fr.iccid, "89860012345678901234");
		assert_int_equal(fr.serial, 1);
		frame_init(&fr, v, HJ_CMD_LOGOUT);
		fr.serial = 1;
		check_encode(&fr, nrmm_logout, sizeof(nrmm_logout));
		check_round_trip(nrmm_logout, sizeof(nrmm_logout), v);
	}
}

static void test_nrmm_realtime_resend(void **state)
{
	double val;

	(void)state;
	frame_init(&fr, HJ_NRMM, HJ_CMD_REALTIME);
	fr.serial = 7;
	hj_pos_set(&fr.pos, 1, 31.230416, 121.473701);
	fr.n_info = 1;
	fr.info[0].type = HJ_INFO_STREAM;
	stream_fill(&fr.info[0].u.stream);
	check_encode(&fr, nrmm_realtime, sizeof(nrmm_realtime));
	fr.cmd = HJ_CMD_RESEND;
	fr.serial = 8;
	check_encode(&fr, nrmm_resend, sizeof(nrmm_resend));

	check_round_trip(nrmm_realtime, sizeof(nrmm_realtime), HJ_NRMM);
	assert_int_equal(fr.n_info, 1);
	assert_int_equal(fr.pos.lon, 121473701);
	assert_int_equal(fr.pos.lat, 31230416);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_ENGINE_RPM, &val), 0);
	assert_true(val == 1500);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_FUEL_LPH, &val), 0);
	assert_true(val == 15.35);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_SCR_IN_C, &val), 0);
	assert_true(val == 300);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_EGR_PCT, &val), 0);
	assert_true(val == 25);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_EGR_CMD_PCT, &val), -1);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_NOX_DOWN_PPM, &val), -1);
	check_round_trip(nrmm_resend, sizeof(nrmm_resend), HJ_NRMM);
	assert_int_equal(fr.cmd, HJ_CMD_RESEND);
	assert_int_equal(fr.serial, 8);
}

static void test_nrmm_diag(void **state)
{
	struct hj_diag *d;

	(void)state;
	frame_init(&fr, HJ_NRMM, HJ_CMD_REALTIME);
	fr.serial = 9;
	hj_pos_set(&fr.pos, 1, 31.230416, 121.473701);
	fr.n_info = 1;
	fr.info[0].type = HJ_INFO_DIAG;
	d = &fr.info[0].u.diag;
	d->protocol = 2;
	d->mil = 1;
	d->n_dtcs = 2;
	/* SPN 3216 = 0x0C90, FMI 2, OC 1: 90 0C 02 01; SPN 100, FMI 1, OC 5: 64 00 01 05 */
	d->dtc[0] = 0x900C0201;
	d->dtc[1] = 0x64000105;
	check_encode(&fr, nrmm_diag, sizeof(nrmm_diag));
	check_round_trip(nrmm_diag, sizeof(nrmm_diag), HJ_NRMM);
	assert_int_equal(fr.info[0].u.diag.n_dtcs, 2);
	assert_int_equal(fr.info[0].u.diag.dtc[1], 0x64000105);
}

static void test_nrmm_alarm(void **state)
{
	(void)state;
	frame_init(&fr, HJ_NRMM, HJ_CMD_05);
	fr.serial = 10;
	hj_pos_unknown(&fr.pos);
	fr.removal_status = 1;
	check_encode(&fr, nrmm_alarm, sizeof(nrmm_alarm));
	check_round_trip(nrmm_alarm, sizeof(nrmm_alarm), HJ_NRMM);
	assert_int_equal(fr.removal_status, 1);
	assert_int_equal(fr.pos.status, HJ_POS_INVALID);
	assert_string_equal(hj_cmd_name(HJ_NRMM, HJ_CMD_05), "removal_alarm");
	assert_string_equal(hj_cmd_name(HJ_ROAD, HJ_CMD_05), "time_sync");
}

static void fill_sig(struct hj_frame *f)
{
	memset(f->sig_r, 0, sizeof(f->sig_r));
	f->sig_r[31] = 0x11; /* a short r, left-padded */
	for (int i = 0; i < 32; i++)
		f->sig_s[i] = (uint8_t)(i + 1);
	f->has_sig = 1;
}

static void test_activation(void **state)
{
	uint8_t buf[512];
	int len;

	(void)state;
	frame_init(&fr, HJ_NRMM, HJ_CMD_ACTIVATE);
	memcpy(fr.chip_id, "CHIP000000000001", 17);
	for (int i = 0; i < 64; i++)
		fr.pubkey[i] = (uint8_t)(0x40 + i);
	memcpy(fr.act_vin, VIN, sizeof(VIN));
	fill_sig(&fr);
	check_encode(&fr, nrmm_activate, sizeof(nrmm_activate));
	assert_int_equal(sizeof(nrmm_activate) - HJ_HDR_LEN - 1, 169); /* the spec's length */
	check_round_trip(nrmm_activate, sizeof(nrmm_activate), HJ_NRMM);
	assert_true(fr.has_sig);
	assert_int_equal(fr.sig_off, HJ_HDR_LEN + 103);
	assert_string_equal(fr.chip_id, "CHIP000000000001");

	/* Sign afterwards: the same bytes. */
	fr.has_sig = 0;
	len = hj_encode(&fr, buf, sizeof(buf));
	assert_int_equal(len, (int)sizeof(nrmm_activate) - HJ_SIG_LEN);
	fill_sig(&fr);
	len = hj_append_sig(buf, sizeof(buf), (size_t)len, fr.sig_r, fr.sig_s);
	assert_int_equal(len, (int)sizeof(nrmm_activate));
	assert_memory_equal(buf, nrmm_activate, sizeof(nrmm_activate));

	frame_init(&fr, HJ_NRMM, HJ_CMD_ACTIVATE_ANSWER);
	fr.result = 1;
	check_encode(&fr, nrmm_answer, sizeof(nrmm_answer));
	check_round_trip(nrmm_answer, sizeof(nrmm_answer), HJ_NRMM);
	assert_int_equal(fr.result, 1);
	assert_int_equal(fr.reason, 0);
}

static void test_road_realtime(void **state)
{
	double lat, lon, val;

	(void)state;
	frame_init(&fr, HJ_ROAD, HJ_CMD_REALTIME);
	fr.serial = 3;
	fr.n_info = 2;
	for (int i = 0; i < 2; i++) {
		fr.info[i].type = HJ_INFO_STREAM;
		hj_time_from_unix(T0 + i, BJ, &fr.info[i].time);
		stream_fill(&fr.info[i].u.stream);
	}
	hj_time_from_unix(T0 + 1, BJ, &fr.time);
	fill_sig(&fr);
	check_encode(&fr, road_realtime, sizeof(road_realtime));
	check_round_trip(road_realtime, sizeof(road_realtime), HJ_ROAD);
	assert_int_equal(fr.n_info, 2);
	assert_int_equal(fr.info[1].time.second, 21);
	assert_int_equal(hj_pos_get(&fr.info[0].u.stream.pos, &lat, &lon), 0);
	assert_true(fabs(lat - 31.230416) < 1e-9 && fabs(lon - 121.473701) < 1e-9);
	assert_int_equal(hj_stream_get(&fr.info[1].u.stream, HJ_F_ODOMETER_KM, &val), 0);
	assert_true(fabs(val - 12345.6) < 1e-9);
	assert_true(fr.has_sig);
	/* The nrmm layout does not read a road frame. */
	assert_int_not_equal(hj_decode(road_realtime, sizeof(road_realtime), HJ_NRMM, &fr),
			     (int)sizeof(road_realtime));
}

static void test_road_timesync_diag(void **state)
{
	struct hj_diag *d;

	(void)state;
	frame_init(&fr, HJ_ROAD, HJ_CMD_05);
	check_encode(&fr, road_timesync, sizeof(road_timesync));
	check_round_trip(road_timesync, sizeof(road_timesync), HJ_ROAD);
	assert_false(fr.has_time);
	fr.has_time = 1;
	hj_time_from_unix(T0, BJ, &fr.time);
	check_encode(&fr, road_timesync_answer, sizeof(road_timesync_answer));
	check_round_trip(road_timesync_answer, sizeof(road_timesync_answer), HJ_ROAD);
	assert_true(fr.has_time);

	frame_init(&fr, HJ_ROAD, HJ_CMD_REALTIME);
	fr.serial = 4;
	fr.n_info = 1;
	fr.info[0].type = HJ_INFO_DIAG;
	fr.info[0].time = fr.time;
	d = &fr.info[0].u.diag;
	d->protocol = 2;
	d->mil = 0;
	d->support = 0x1234;
	d->readiness = 0x0F0F;
	memcpy(d->vin, VIN, 17);
	memcpy(d->cal_id, "CAL-ID-0123456789X", 18);
	memcpy(d->cvn, "CVN-0123456789ABCD", 18);
	for (int i = 0; i < 36; i++)
		d->iupr[i] = (uint8_t)i;
	d->n_dtcs = HJ_INVALID_FE; /* invalid: no code follows */
	check_encode(&fr, road_diag, sizeof(road_diag));
	check_round_trip(road_diag, sizeof(road_diag), HJ_ROAD);
	assert_int_equal(fr.info[0].u.diag.n_dtcs, HJ_INVALID_FE);
}

/* Every field invalid is all ones of its size. */
static void test_invalid_all_ones(void **state)
{
	static const uint8_t ones_nrmm[HJ_STREAM_NRMM] = {
	    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};
	uint8_t buf[256];
	double val;
	int len;

	(void)state;
	frame_init(&fr, HJ_NRMM, HJ_CMD_REALTIME);
	hj_pos_unknown(&fr.pos);
	fr.n_info = 1;
	fr.info[0].type = HJ_INFO_STREAM;
	hj_stream_init(&fr.info[0].u.stream);
	len = hj_encode(&fr, buf, sizeof(buf));
	assert_int_equal(len, HJ_HDR_LEN + 17 + 1 + HJ_STREAM_NRMM + 1);
	/* header position: status 0x01 (invalid), lon and lat all ones */
	assert_int_equal(buf[HJ_HDR_LEN + 8], 0x01);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[HJ_HDR_LEN + 9 + i], 0xFF);
	assert_memory_equal(buf + HJ_HDR_LEN + 18, ones_nrmm, sizeof(ones_nrmm));
	for (int f = 0; f < HJ_F_COUNT; f++) {
		assert_int_equal(hj_stream_get(&fr.info[0].u.stream, f, &val), -1);
		assert_int_equal(fr.info[0].u.stream.raw[f], hj_field_invalid(f));
	}
	assert_int_equal(hj_field_invalid(HJ_F_BARO_KPA), 0xFF);
	assert_int_equal(hj_field_invalid(HJ_F_ENGINE_RPM), 0xFFFF);
	assert_int_equal(hj_field_invalid(HJ_F_ODOMETER_KM), 0xFFFFFFFF);
}

/* A value the field cannot hold is invalid, never clamped. */
static void test_invalid_out_of_range(void **state)
{
	static const struct {
		enum hj_field f;
		double v;
	} bad[] = {
	    {HJ_F_SPEED_KMH, -1},      {HJ_F_SPEED_KMH, 251},	  {HJ_F_BARO_KPA, 126},
	    {HJ_F_TORQUE_PCT, -126},   {HJ_F_TORQUE_PCT, 126},	  {HJ_F_FRICTION_PCT, -125.6},
	    {HJ_F_ENGINE_RPM, 8032},   {HJ_F_FUEL_LPH, -0.1},	  {HJ_F_NOX_UP_PPM, -201},
	    {HJ_F_NOX_DOWN_PPM, 3013}, {HJ_F_DEF_PCT, 100.5},	  {HJ_F_INTAKE_AIR_KGPH, 3213},
	    {HJ_F_SCR_IN_C, -274},     {HJ_F_SCR_OUT_C, 1735},	  {HJ_F_DPF_DP_KPA, -1},
	    {HJ_F_COOLANT_C, -41},     {HJ_F_COOLANT_C, 211},	  {HJ_F_FUEL_LEVEL_PCT, 101},
	    {HJ_F_ODOMETER_KM, -0.1},  {HJ_F_ODOMETER_KM, 4.3e8}, {HJ_F_EGR_PCT, 160.7},
	    {HJ_F_EGR_CMD_PCT, -0.01}, {HJ_F_SPEED_KMH, NAN},	  {HJ_F_COOLANT_C, INFINITY},
	};
	struct hj_stream s;
	double val;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hj_stream_init(&s);
		assert_int_equal(hj_stream_set(&s, bad[i].f, 1.0), 0); /* a valid one first */
		assert_int_equal(hj_stream_set(&s, bad[i].f, bad[i].v), -1);
		assert_int_equal(s.raw[bad[i].f], hj_field_invalid(bad[i].f));
	}
	/* The edges are valid: J1939's top valid raw values. */
	hj_stream_init(&s);
	assert_int_equal(hj_stream_set(&s, HJ_F_BARO_KPA, 125), 0);
	assert_int_equal(s.raw[HJ_F_BARO_KPA], 0xFA);
	assert_int_equal(hj_stream_set(&s, HJ_F_TORQUE_PCT, -125), 0);
	assert_int_equal(s.raw[HJ_F_TORQUE_PCT], 0);
	assert_int_equal(hj_stream_set(&s, HJ_F_NOX_UP_PPM, -200), 0);
	assert_int_equal(s.raw[HJ_F_NOX_UP_PPM], 0);
	assert_int_equal(hj_stream_set(&s, HJ_F_COOLANT_C, 210), 0);
	assert_int_equal(s.raw[HJ_F_COOLANT_C], 0xFA);
	assert_int_equal(hj_stream_get(&s, HJ_F_COOLANT_C, &val), 0);
	assert_true(val == 210);
	/* Raw values above the valid range never read as numbers. */
	s.raw[HJ_F_ENGINE_RPM] = 0xFB00;
	assert_int_equal(hj_stream_get(&s, HJ_F_ENGINE_RPM, &val), -1);
}

static void test_invalid_position_and_fe(void **state)
{
	struct hj_pos p;
	double lat, lon;
	uint8_t buf[256];
	int len;

	(void)state;
	hj_pos_unknown(&p);
	assert_int_equal(p.status, HJ_POS_INVALID);
	assert_int_equal(hj_pos_get(&p, &lat, &lon), -1);
	/* Lost fix: the last position, flagged invalid. */
	hj_pos_set(&p, 0, -33.5, -70.25);
	assert_int_equal(p.status, HJ_POS_INVALID | HJ_POS_SOUTH | HJ_POS_WEST);
	assert_int_equal(p.lat, 33500000);
	assert_int_equal(p.lon, 70250000);
	assert_int_equal(hj_pos_get(&p, &lat, &lon), 0);
	assert_true(lat == -33.5 && lon == -70.25);
	hj_pos_set(&p, 1, 91, 0);
	assert_int_equal(p.lat, 0xFFFFFFFF);

	/* Diagnostics: protocol and DTC count 0xFE, no codes. */
	frame_init(&fr, HJ_NRMM, HJ_CMD_REALTIME);
	hj_pos_unknown(&fr.pos);
	fr.n_info = 1;
	fr.info[0].type = HJ_INFO_DIAG;
	fr.info[0].u.diag.protocol = HJ_INVALID_FE;
	fr.info[0].u.diag.mil = HJ_INVALID_FE;
	fr.info[0].u.diag.n_dtcs = HJ_INVALID_FE;
	len = hj_encode(&fr, buf, sizeof(buf));
	assert_int_equal(len, HJ_HDR_LEN + 17 + 1 + 3 + 1);
	assert_int_equal(buf[HJ_HDR_LEN + 18], 0xFE);
	assert_int_equal(buf[HJ_HDR_LEN + 20], 0xFE);
	assert_int_equal(hj_decode(buf, (size_t)len, HJ_NRMM, &fr), len);
	assert_int_equal(fr.info[0].u.diag.n_dtcs, 0xFE);
}

static void test_malformed(void **state)
{
	uint8_t buf[256];

	(void)state;
	assert_int_equal(hj_decode(nrmm_login, 10, HJ_NRMM, &fr), HJ_ESHORT);
	assert_int_equal(hj_decode(nrmm_login, sizeof(nrmm_login) - 1, HJ_NRMM, &fr), HJ_ESHORT);
	assert_int_equal(hj_frame_len((const uint8_t *)"#x", 2), HJ_ESTART);
	assert_int_equal(hj_frame_len((const uint8_t *)"x", 1), HJ_ESTART);
	/* A flipped bit: decoded, BCC flagged. */
	memcpy(buf, nrmm_logout, sizeof(nrmm_logout));
	buf[30] ^= 0x01;
	assert_int_equal(hj_decode(buf, sizeof(nrmm_logout), HJ_NRMM, &fr),
			 (int)sizeof(nrmm_logout));
	assert_false(fr.bcc_ok);
	/* Length that does not fit the body: logout with one byte more. */
	memcpy(buf, nrmm_logout, sizeof(nrmm_logout));
	buf[23] = 9;
	buf[32] = 0;
	buf[33] = hj_bcc(buf + 2, 31);
	assert_int_equal(hj_decode(buf, 34, HJ_NRMM, &fr), HJ_ELEN);
	/* Unknown command. */
	memcpy(buf, nrmm_logout, sizeof(nrmm_logout));
	buf[2] = 0x7F;
	assert_int_equal(hj_decode(buf, sizeof(nrmm_logout), HJ_NRMM, &fr), HJ_ECMD);
	/* Unknown information type (0x81: its length is unknown). */
	memcpy(buf, nrmm_realtime, sizeof(nrmm_realtime));
	buf[HJ_HDR_LEN + 17] = 0x81;
	assert_int_equal(hj_decode(buf, sizeof(nrmm_realtime), HJ_NRMM, &fr), HJ_ETYPE);
	/* A truncated stream. */
	memcpy(buf, nrmm_realtime, sizeof(nrmm_realtime));
	buf[23] -= 1;
	assert_int_equal(hj_decode(buf, sizeof(nrmm_realtime) - 1, HJ_NRMM, &fr), HJ_ELEN);
	/* Output too small. */
	frame_init(&fr, HJ_NRMM, HJ_CMD_LOGOUT);
	assert_int_equal(hj_encode(&fr, buf, 20), HJ_ESPACE);
	assert_int_equal(hj_encode(&fr, buf, sizeof(nrmm_logout) - 1), HJ_ESPACE);
	assert_int_equal(hj_encode(&fr, buf, sizeof(nrmm_logout)), (int)sizeof(nrmm_logout));
	/* nrmm reports carry exactly one information unit. */
	frame_init(&fr, HJ_NRMM, HJ_CMD_REALTIME);
	fr.n_info = 2;
	assert_int_equal(hj_encode(&fr, buf, sizeof(buf)), HJ_EINVAL);
	assert_string_equal(hj_strerror(HJ_ELEN), "data unit length does not match its content");
	assert_string_equal(hj_strerror(-99), "unknown error");
}

static size_t unhex(const char *h, uint8_t *out, size_t size)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= size);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void gb_diag_fill(struct hj_diag *d)
{
	memset(d, 0, sizeof(*d));
	d->protocol = 2;
	d->mil = 1;
	d->support = 1;
	d->readiness = 2;
	memcpy(d->vin, VIN, HJ_VIN_LEN);
	memcpy(d->cal_id, "CAL-1", 5);
	memcpy(d->cvn, "CVN-1", 5);
	memset(d->iupr, 0xFF, sizeof(d->iupr));
	d->n_dtcs = 1;
	d->dtc[0] = 0x64000105;
}

static void test_gb17691_q1(void **state)
{
	double val;

	(void)state;
	frame_init(&fr, HJ_GB17691, HJ_CMD_REALTIME);
	fr.n_info = 1;
	fr.info[0].type = HJ_INFO_STREAM;
	fr.info[0].serial = 7;
	stream_fill(&fr.info[0].u.stream);
	hj_pos_set(&fr.info[0].u.stream.pos, 1, 31.230416, 121.473701);
	check_encode(&fr, gb_q1, sizeof(gb_q1));
	check_round_trip(gb_q1, sizeof(gb_q1), HJ_GB17691);
	assert_int_equal(fr.n_info, 1);
	assert_int_equal(fr.info[0].serial, 7);
	assert_false(fr.unit_sig);
	assert_int_equal(hj_stream_get(&fr.info[0].u.stream, HJ_F_ODOMETER_KM, &val), 0);
	assert_true(fabs(val - 12345.6) < 1e-9);

	/* Re-send, a diagnostics unit then a stream unit, each its own serial. */
	frame_init(&fr, HJ_GB17691, HJ_CMD_RESEND);
	fr.n_info = 2;
	fr.info[0].type = HJ_INFO_DIAG;
	fr.info[0].serial = 8;
	gb_diag_fill(&fr.info[0].u.diag);
	fr.info[1].type = HJ_INFO_STREAM;
	fr.info[1].serial = 9;
	stream_fill(&fr.info[1].u.stream);
	check_encode(&fr, gb_q1_resend, sizeof(gb_q1_resend));
	check_round_trip(gb_q1_resend, sizeof(gb_q1_resend), HJ_GB17691);
	assert_int_equal(fr.info[0].u.diag.dtc[0], 0x64000105);
	assert_memory_equal(fr.info[0].u.diag.cal_id, "CAL-1\0", 6);
}

static void test_gb17691_q2(void **state)
{
	uint8_t buf[1024];

	(void)state;
	frame_init(&fr, HJ_GB17691, HJ_CMD_REALTIME);
	fr.unit_sig = 1;
	fr.serial = 8;
	fr.n_info = 2;
	fr.info[0].type = HJ_INFO_STREAM;
	stream_fill(&fr.info[0].u.stream);
	memset(fr.info[0].sig_r, 0x11, HJ_SIG_PART);
	memset(fr.info[0].sig_s, 0x22, HJ_SIG_PART);
	fr.info[1].type = HJ_INFO_DIAG;
	gb_diag_fill(&fr.info[1].u.diag);
	memset(fr.info[1].sig_r, 0x33, HJ_SIG_PART);
	memset(fr.info[1].sig_s, 0x44, HJ_SIG_PART);
	check_encode(&fr, gb_q2, sizeof(gb_q2));

	assert_int_equal(hj_decode_opt(gb_q2, sizeof(gb_q2), HJ_GB17691, HJ_DEC_UNIT_SIG, &fr),
			 (int)sizeof(gb_q2));
	assert_true(fr.bcc_ok);
	assert_true(fr.unit_sig);
	assert_int_equal(fr.serial, 8);
	assert_int_equal(fr.n_info, 2);
	assert_true(fr.info[0].has_sig && fr.info[1].has_sig);
	/* Each signature covers the data unit from its time to its unit's end. */
	assert_int_equal(fr.info[0].sig_off, HJ_HDR_LEN + 6 + 2 + 1 + 37);
	assert_int_equal(fr.info[1].sig_off, HJ_HDR_LEN + 6 + 2 + 1 + 37 + 66 + 1 + 100);
	assert_int_equal(fr.info[0].sig_r[0], 0x11);
	assert_int_equal(fr.info[1].sig_s[31], 0x44);
	assert_false(fr.has_sig);
	assert_int_equal(hj_encode(&fr, buf, sizeof(buf)), (int)sizeof(gb_q2));
	assert_memory_equal(buf, gb_q2, sizeof(gb_q2));
	/* Without the option the Q1 reader does not take it. */
	assert_true(hj_decode(gb_q2, sizeof(gb_q2), HJ_GB17691, &fr) < 0);
}

static void test_gb17691_public(void **state)
{
	static uint8_t buf[512];
	const struct hj_diag *d;
	const struct hj_stream *st;
	double val, lat, lon;
	size_t n;

	(void)state;
	/* P2 (Q1): OBD unit with 7 ISO 27145 DTCs, stream unit. */
	n = unhex(PUB_P2, buf, sizeof(buf));
	assert_int_equal(hj_decode(buf, n, HJ_GB17691, &fr), (int)n);
	assert_true(fr.bcc_ok);
	assert_int_equal(fr.data_len, 173);
	assert_int_equal(fr.time.year, 21);
	assert_int_equal(fr.time.month, 8);
	assert_int_equal(fr.time.day, 14);
	assert_int_equal(fr.time.hour, 8);
	assert_int_equal(fr.time.minute, 47);
	assert_int_equal(fr.time.second, 35);
	assert_int_equal(fr.n_info, 2);
	d = &fr.info[0].u.diag;
	assert_int_equal(fr.info[0].type, HJ_INFO_DIAG);
	assert_int_equal(fr.info[0].serial, 1);
	assert_int_equal(d->protocol, 1);
	assert_int_equal(d->mil, 0);
	assert_int_equal(d->support, 0xABDE);
	assert_int_equal(d->readiness, 0xA9D6);
	assert_memory_equal(d->vin, "LGDCHA1G8MA127733", 17);
	assert_memory_equal(d->cal_id, "YCY30165-60     \0\0", 18);
	assert_int_equal(d->n_dtcs, 7);
	assert_int_equal(d->dtc[0], 0x145600AF);
	st = &fr.info[1].u.stream;
	assert_int_equal(fr.info[1].type, HJ_INFO_STREAM);
	assert_int_equal(fr.info[1].serial, 1);
	assert_int_equal(hj_stream_get(st, HJ_F_SPEED_KMH, &val), 0);
	assert_true(val == 0);
	assert_int_equal(hj_stream_get(st, HJ_F_BARO_KPA, &val), 0);
	assert_true(fabs(val - 98.5) < 1e-9);
	assert_int_equal(hj_stream_get(st, HJ_F_FRICTION_PCT, &val), 0);
	assert_true(fabs(val - 6) < 1e-9);
	assert_int_equal(hj_stream_get(st, HJ_F_DEF_PCT, &val), 0);
	assert_true(fabs(val - 38.8) < 1e-9);
	assert_int_equal(hj_stream_get(st, HJ_F_SCR_IN_C, &val), -1);
	assert_int_equal(hj_stream_get(st, HJ_F_SCR_OUT_C, &val), -1);
	assert_int_equal(hj_stream_get(st, HJ_F_DPF_DP_KPA, &val), -1);
	assert_int_equal(hj_stream_get(st, HJ_F_COOLANT_C, &val), 0);
	assert_true(fabs(val - 21) < 1e-9);
	assert_int_equal(st->pos.status, 0);
	assert_int_equal(hj_pos_get(&st->pos, &lat, &lon), 0);
	assert_true(fabs(lon - 112.186135) < 1e-9 && fabs(lat - 32.134654) < 1e-9);
	assert_int_equal(hj_stream_get(st, HJ_F_ODOMETER_KM, &val), 0);
	assert_true(fabs(val - 4.0) < 1e-9);
	/* HJ 1239's layout refuses it. */
	assert_true(hj_decode(buf, n, HJ_ROAD, &fr) < 0);
	assert_true(hj_decode(buf, n, HJ_NRMM, &fr) < 0);

	/* P5 (Q1): one OBD unit. */
	n = unhex(PUB_P5, buf, sizeof(buf));
	assert_int_equal(hj_decode(buf, n, HJ_GB17691, &fr), (int)n);
	assert_true(fr.bcc_ok);
	assert_int_equal(fr.time.year, 20);
	assert_int_equal(fr.time.month, 5);
	assert_int_equal(fr.time.day, 29);
	assert_int_equal(fr.time.hour, 13);
	assert_int_equal(fr.time.minute, 52);
	assert_int_equal(fr.time.second, 30);
	assert_int_equal(fr.n_info, 1);
	assert_int_equal(fr.info[0].serial, 1);
	d = &fr.info[0].u.diag;
	assert_memory_equal(d->vin, "LCIAMMBE4G0004671", 17);
	assert_memory_equal(d->cal_id, "000000000000000000", 18);
	assert_memory_equal(d->cvn, "000000000000000000", 18);
	assert_int_equal(d->n_dtcs, 0);
	assert_true(hj_decode(buf, n, HJ_ROAD, &fr) < 0);

	/* P4 (Q2): OBD unit + signature, stream unit + signature; 275 bytes. */
	n = unhex(PUB_P4, buf, sizeof(buf));
	assert_true(hj_decode(buf, n, HJ_GB17691, &fr) < 0);
	assert_int_equal(hj_decode_opt(buf, n, HJ_GB17691, HJ_DEC_UNIT_SIG, &fr), (int)n);
	assert_true(fr.bcc_ok);
	assert_int_equal(fr.data_len, 275);
	assert_int_equal(fr.time.year, 19);
	assert_int_equal(fr.time.month, 6);
	assert_int_equal(fr.time.day, 3);
	assert_int_equal(fr.time.hour, 15);
	assert_int_equal(fr.time.minute, 25);
	assert_int_equal(fr.time.second, 59);
	assert_int_equal(fr.serial, 4);
	assert_int_equal(fr.n_info, 2);
	d = &fr.info[0].u.diag;
	assert_memory_equal(d->vin, "LWHTEST1234567895", 17);
	assert_memory_equal(d->cal_id, "601603-E2000000000", 18);
	assert_memory_equal(d->cvn, "TZWH0000X000000000", 18);
	assert_int_equal(d->support, 0x00EB);
	assert_int_equal(d->readiness, 0x0080);
	assert_true(fr.info[0].has_sig && fr.info[1].has_sig);
	assert_int_equal(fr.info[0].sig_r[0], '1');
	assert_int_equal(fr.info[1].type, HJ_INFO_STREAM);
	assert_true(hj_decode(buf, n, HJ_ROAD, &fr) < 0);
	assert_true(hj_decode(buf, n, HJ_NRMM, &fr) < 0);
}

/* A frame of each variant given to the others is refused. */
static void test_cross_variant(void **state)
{
	static const struct {
		const uint8_t *v;
		size_t n;
		enum hj_variant var;
	} frames[] = {
	    {nrmm_realtime, sizeof(nrmm_realtime), HJ_NRMM},
	    {nrmm_diag, sizeof(nrmm_diag), HJ_NRMM},
	    {road_realtime, sizeof(road_realtime), HJ_ROAD},
	    {road_diag, sizeof(road_diag), HJ_ROAD},
	    {gb_q1, sizeof(gb_q1), HJ_GB17691},
	    {gb_q1_resend, sizeof(gb_q1_resend), HJ_GB17691},
	};
	static const enum hj_variant all[] = {HJ_NRMM, HJ_ROAD, HJ_GB17691};

	(void)state;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		for (size_t j = 0; j < 3; j++) {
			int rc = hj_decode(frames[i].v, frames[i].n, all[j], &fr);

			if (all[j] == frames[i].var)
				assert_int_equal(rc, (int)frames[i].n);
			else
				assert_true(rc < 0);
			if (all[j] == HJ_GB17691 && frames[i].var != HJ_GB17691)
				assert_true(hj_decode_opt(frames[i].v, frames[i].n, HJ_GB17691,
							  HJ_DEC_UNIT_SIG, &fr) < 0);
		}
	assert_string_equal(hj_variant_name(HJ_GB17691), "gb17691");
	assert_true(hj_variant_road(HJ_GB17691) && hj_variant_road(HJ_ROAD));
	assert_false(hj_variant_road(HJ_NRMM));
}

/* Encryption flags 0x02..0x05: the body is not parsed, it is handed back. */
static void test_encrypted(void **state)
{
	uint8_t buf[sizeof(nrmm_login)];

	(void)state;
	memcpy(buf, nrmm_login, sizeof(buf));
	buf[21] = 0x03;
	buf[sizeof(buf) - 1] ^= 0x01 ^ 0x03; /* the BCC, by hand */
	buf[30] = 0xEE;			     /* would be a serial: anything goes in ciphertext */
	buf[sizeof(buf) - 1] ^= 0x00 ^ 0xEE;
	assert_int_equal(hj_decode(buf, sizeof(buf), HJ_NRMM, &fr), (int)sizeof(buf));
	assert_true(fr.bcc_ok);
	assert_true(fr.encrypted);
	assert_int_equal(fr.raw_len, 28);
	assert_ptr_equal(fr.raw_body, buf + HJ_HDR_LEN);
	assert_int_equal(fr.serial, 0); /* not parsed */
	{
		uint8_t out[sizeof(buf)];

		/* Encoded again: the ciphertext as it came, BCC and all. */
		assert_int_equal(hj_encode(&fr, out, sizeof(out)), (int)sizeof(buf));
		assert_memory_equal(out, buf, sizeof(buf));
	}
	/* 0x01 and 0xFE/0xFF are not "encrypted". */
	assert_int_equal(hj_decode(nrmm_login, sizeof(nrmm_login), HJ_NRMM, &fr),
			 (int)sizeof(nrmm_login));
	assert_false(fr.encrypted);
}

/* Road removal alarm 0x06: the HJ 1322 alarm body (our choice, hjframe.h),
 * serial 5, position never known, diagnostics not readable; 43 bytes, BCC
 * 0x29 worked by hand. */
static void test_road_removal_alarm(void **state)
{
	static const uint8_t want[] = {
	    0x23, 0x23, 0x06, 0x4C, 0x5A, 0x59, 0x54, 0x42, 0x54, 0x44, 0x36,
	    0x30, 0x4B, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x01, 0x01,
	    0x00, 0x12, 0x17, 0x0B, 0x0F, 0x06, 0x0D, 0x14, 0x00, 0x05, 0x01,
	    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x29,
	};

	(void)state;
	for (int v = HJ_ROAD; v <= HJ_GB17691; v++) {
		frame_init(&fr, (enum hj_variant)v, HJ_CMD_ROAD_REMOVAL);
		fr.serial = 5;
		hj_pos_unknown(&fr.pos);
		fr.removal_status = 1;
		check_encode(&fr, want, sizeof(want));
		assert_int_equal(hj_decode(want, sizeof(want), (enum hj_variant)v, &fr),
				 (int)sizeof(want));
		assert_true(fr.bcc_ok && fr.has_time);
		assert_int_equal(fr.serial, 5);
		assert_int_equal(fr.removal_status, 1);
		assert_int_equal(fr.time.second, 20);
		assert_int_equal(fr.raw_len, HJ_ALARM_LEN);
	}
	/* nrmm has no 0x06. */
	assert_int_equal(hj_decode(want, sizeof(want), HJ_NRMM, &fr), HJ_ECMD);
}

/* The OBD unit's text fields and IUPR counters as the wire has them. */
static void test_diag_fields(void **state)
{
	struct hj_diag d;
	uint8_t want[18];

	(void)state;
	memset(&d, 0xFF, sizeof(d));
	hj_diag_text(d.cvn, sizeof(d.cvn), "1A2B3C4D");
	memset(want, 0, sizeof(want));
	memcpy(want, "1A2B3C4D", 8);
	assert_memory_equal(d.cvn, want, 18);
	hj_diag_text(d.cal_id, sizeof(d.cal_id), "ABCDEFGHIJKLMNOPQRSTUVWXYZ"); /* cut at 18 */
	assert_memory_equal(d.cal_id, "ABCDEFGHIJKLMNOPQR", 18);
	hj_diag_text(d.cal_id, sizeof(d.cal_id), NULL);
	memset(want, 0xFF, sizeof(want));
	assert_memory_equal(d.cal_id, want, 18);
	hj_diag_iupr_set(&d, HJ_IUPR_IGN_CYCLES, 0x04B0);
	hj_diag_iupr_set(&d, HJ_IUPR_COUNTERS, 0); /* out of range: ignored */
	assert_int_equal(d.iupr[0], 0xFF);
	assert_int_equal(d.iupr[2], 0x04);
	assert_int_equal(d.iupr[3], 0xB0);
	assert_int_equal(d.iupr[35], 0xFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bcc),
	    cmocka_unit_test(test_diag_fields),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_login_logout),
	    cmocka_unit_test(test_nrmm_realtime_resend),
	    cmocka_unit_test(test_nrmm_diag),
	    cmocka_unit_test(test_nrmm_alarm),
	    cmocka_unit_test(test_activation),
	    cmocka_unit_test(test_road_realtime),
	    cmocka_unit_test(test_road_timesync_diag),
	    cmocka_unit_test(test_invalid_all_ones),
	    cmocka_unit_test(test_invalid_out_of_range),
	    cmocka_unit_test(test_invalid_position_and_fe),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_gb17691_q1),
	    cmocka_unit_test(test_gb17691_q2),
	    cmocka_unit_test(test_gb17691_public),
	    cmocka_unit_test(test_cross_variant),
	    cmocka_unit_test(test_encrypted),
	    cmocka_unit_test(test_road_removal_alarm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
