/* Unit tests for protocols/j1939dm.c: DM1 lamps and trouble codes (both SPN
 * conversion methods, no-fault and padding entries, lengths, a 5-code DM1
 * reassembled from BAM), the VIN and the address-claim NAME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/j1939dm.h"
#include "protocols/j1939tp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define F	 0xFF

/* Lamp and flash states in the order protect, amber, red stop, MIL. */
#define OFF  J1939DM_LAMP_OFF
#define ON   J1939DM_LAMP_ON
#define ERR  J1939DM_LAMP_ERROR
#define NA   J1939DM_LAMP_NA
#define SLOW J1939DM_FLASH_SLOW
#define FAST J1939DM_FLASH_FAST
#define RSVD J1939DM_FLASH_RESERVED
#define NONE J1939DM_FLASH_NONE

struct dm1_case {
	const char *what;
	size_t len;
	uint8_t data[16];
	int rc;
	enum j1939dm_lamp lamp[4];
	enum j1939dm_flash flash[4];
	int n;
	struct {
		uint32_t spn;
		uint8_t fmi, oc, cm;
	} dtc[3];
};

static const struct dm1_case dm1_cases[] = {
    /* The usual "no active fault" frame: SPN 0 / FMI 0, 2 bytes padding. */
    {"no fault",
     8,
     {0x00, F, 0x00, 0x00, 0x00, 0x00, F, F},
     J1939DM_OK,
     {OFF, OFF, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     0,
     {{0}}},
    /* SPN 0 / FMI 0 with an occurrence count is still no fault */
    {"no fault, OC 1",
     8,
     {0x00, F, 0x00, 0x00, 0x00, 0x01, F, F},
     J1939DM_OK,
     {OFF, OFF, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     0,
     {{0}}},
    /* all-0xFF entry: padding, not SPN 524287 */
    {"no fault, FF padding",
     8,
     {0x00, F, F, F, F, F, F, F},
     J1939DM_OK,
     {OFF, OFF, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     0,
     {{0}}},
    /* b1 0x04 = 00 00 01 00: amber on.  SPN 110 = 0x6E -> 6E 00, b3 0x10 =
     * SPN bits 16-18 0, FMI 16; b4 0x03 = CM 0, OC 3. */
    {"1 DTC SPN 110 FMI 16",
     8,
     {0x04, F, 0x6E, 0x00, 0x10, 0x03, F, F},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     1,
     {{110, 16, 3, 0}}},
    /* SPN 520192 = 0x7F000: b1 0x00, b2 0xF0, top 3 bits 7 -> b3 0xE0 | FMI 12
     * = 0xEC; OC 1.  Lamp byte 0x40 = MIL on. */
    {"1 DTC SPN 520192 FMI 12 (19 bits)",
     8,
     {0x40, F, 0x00, 0xF0, 0xEC, 0x01, F, F},
     J1939DM_OK,
     {OFF, OFF, OFF, ON},
     {NONE, NONE, NONE, NONE},
     1,
     {{520192, 12, 1, 0}}},
    /* b1 0xE4 = 11 10 01 00: protect off, amber on, red error, MIL n/a;
     * b2 0x1B = 00 01 10 11: protect none, amber reserved, red fast, MIL slow.
     * SPN 0 / FMI 0: no fault. */
    {"every lamp state",
     8,
     {0xE4, 0x1B, 0x00, 0x00, 0x00, 0x00, F, F},
     J1939DM_OK,
     {OFF, ON, ERR, NA},
     {NONE, RSVD, FAST, SLOW},
     0,
     {{0}}},
    /* b1 0x1B = 00 01 10 11: protect n/a, amber error, red on, MIL off;
     * b2 0x00: all slow flash. */
    {"every lamp state, other way",
     8,
     {0x1B, 0x00, 0x00, 0x00, 0x00, 0x00, F, F},
     J1939DM_OK,
     {NA, ERR, ON, OFF},
     {SLOW, SLOW, SLOW, SLOW},
     0,
     {{0}}},
    /* CM = 1 (b4 bit 8), version 1 layout: SPN 100 = 0b000 00001100 100 ->
     * b1 = bits 11-18 = 0x00, b2 = bits 3-10 = 0x0C, b3 = bits 0-2 (4) << 5 |
     * FMI 1 = 0x81; b4 = 0x80 | OC 1.  Read as CM 0 it would be
     * 0x0C00 | 4 << 16 = 265216. */
    {"CM 1: SPN 100 FMI 1",
     8,
     {0x04, F, 0x00, 0x0C, 0x81, 0x81, F, F},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     1,
     {{100, 1, 1, 1}}},
    /* CM = 1: SPN 3226 = 0xC9A: bits 11-18 = 1, bits 3-10 = 0x93, bits 0-2 = 2
     * -> 01 93 (2 << 5 | FMI 2 = 0x42) (0x80 | OC 5 = 0x85).
     * Check: 1 * 2048 + 0x93 * 8 + 2 = 2048 + 1176 + 2 = 3226. */
    {"CM 1: SPN 3226 FMI 2",
     8,
     {0x04, F, 0x01, 0x93, 0x42, 0x85, F, F},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     1,
     {{3226, 2, 5, 1}}},
    /* CM 0 and CM 1 in one message (SPN 110 FMI 16 OC 3; SPN 100 FMI 1 OC 1) */
    {"CM 0 and CM 1 mixed",
     10,
     {0x04, F, 0x6E, 0x00, 0x10, 0x03, 0x00, 0x0C, 0x81, 0x81},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     2,
     {{110, 16, 3, 0}, {100, 1, 1, 1}}},
    /* a no-fault entry between two faults is skipped, the rest kept */
    {"no-fault entry in the middle",
     14,
     {0x04, F, 0x6E, 0x00, 0x10, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x81, 0x81},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     2,
     {{110, 16, 3, 0}, {100, 1, 1, 1}}},
    /* 7 bytes: one DTC and 1 byte that is not a whole DTC (ignored) */
    {"trailing partial entry",
     7,
     {0x04, F, 0x6E, 0x00, 0x10, 0x03, 0x6E},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     1,
     {{110, 16, 3, 0}}},
    /* 6 bytes: the shortest DM1 */
    {"6 bytes",
     6,
     {0x04, F, 0x6E, 0x00, 0x10, 0x03},
     J1939DM_OK,
     {OFF, ON, OFF, OFF},
     {NONE, NONE, NONE, NONE},
     1,
     {{110, 16, 3, 0}}},
    /* truncated: lamps but no whole DTC slot; the lamps are not trusted */
    {"5 bytes",
     5,
     {0x04, F, 0x6E, 0x00, 0x10},
     J1939DM_ESHORT,
     {NA, NA, NA, NA},
     {NONE, NONE, NONE, NONE},
     0,
     {{0}}},
    {"2 bytes", 2, {0x04, F}, J1939DM_ESHORT, {NA, NA, NA, NA}, {NONE, NONE, NONE, NONE}, 0, {{0}}},
    {"0 bytes", 0, {0}, J1939DM_ESHORT, {NA, NA, NA, NA}, {NONE, NONE, NONE, NONE}, 0, {{0}}},
};

static void check_dm1(const char *what, const struct j1939dm_dm1 *got, const struct dm1_case *c)
{
	const enum j1939dm_lamp lamp[4] = {got->protect, got->amber, got->red_stop, got->mil};
	const enum j1939dm_flash flash[4] = {got->flash_protect, got->flash_amber,
					     got->flash_red_stop, got->flash_mil};

	for (int k = 0; k < 4; k++) {
		if (lamp[k] != c->lamp[k] || flash[k] != c->flash[k]) {
			print_error("%s: lamp %d: %d/%d, want %d/%d\n", what, k, lamp[k], flash[k],
				    c->lamp[k], c->flash[k]);
			fail();
		}
	}
	if (got->n_dtcs != c->n || got->n_truncated != 0) {
		print_error("%s: %d DTCs (%d truncated), want %d\n", what, got->n_dtcs,
			    got->n_truncated, c->n);
		fail();
	}
	for (int k = 0; k < c->n; k++) {
		const struct j1939dm_dtc *d = &got->dtc[k];

		if (d->spn != c->dtc[k].spn || d->fmi != c->dtc[k].fmi || d->oc != c->dtc[k].oc ||
		    d->cm != c->dtc[k].cm) {
			print_error("%s: DTC %d: SPN %u FMI %u OC %u CM %u, want %u %u %u %u\n",
				    what, k, (unsigned)d->spn, d->fmi, d->oc, d->cm,
				    (unsigned)c->dtc[k].spn, c->dtc[k].fmi, c->dtc[k].oc,
				    c->dtc[k].cm);
			fail();
		}
	}
}

static void test_dm1_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(dm1_cases); i++) {
		const struct dm1_case *c = &dm1_cases[i];
		struct j1939dm_dm1 dm;
		int rc;

		memset(&dm, 0x55, sizeof(dm));
		rc = j1939dm_dm1_decode(c->data, c->len, &dm);
		if (rc != c->rc) {
			print_error("%s: rc %d, want %d\n", c->what, rc, c->rc);
			fail();
		}
		check_dm1(c->what, &dm, c);
	}
}

/* The raw bytes are kept, for a per-engine conversion override. */
static void test_dm1_raw_kept(void **state)
{
	static const uint8_t d[8] = {0x04, F, 0x01, 0x93, 0x42, 0x85, F, F};
	struct j1939dm_dm1 dm;

	(void)state;
	assert_int_equal(j1939dm_dm1_decode(d, sizeof(d), &dm), J1939DM_OK);
	assert_int_equal(dm.n_dtcs, 1);
	assert_memory_equal(dm.dtc[0].raw, d + 2, 4);
}

/*
 * 5 DTCs in 2 + 5 * 4 = 22 bytes (0x16) -> ceil(22 / 7) = 4 packets, by BAM
 * from the engine.  Lamps 0x14 = 00 01 01 00: amber and red stop on.
 *   SPN 3216 = 0x0C90 FMI 2 OC 1   -> 90 0C 02 01
 *   SPN 3226 = 0x0C9A FMI 2 OC 1   -> 9A 0C 02 01
 *   SPN 1761 = 0x06E1 FMI 18 OC 4  -> E1 06 12 04
 *   SPN 4364 = 0x110C FMI 18 OC 2  -> 0C 11 12 02
 *   SPN 520192 = 0x7F000 FMI 12 OC 1 -> 00 F0 EC 01
 * Payload 14 FF | 90 0C 02 01 | 9A 0C 02 01 | E1 06 12 04 | 0C 11 12 02 |
 * 00 F0 EC 01, cut into 7-byte packets: bytes 0-6, 7-13, 14-20, 21 + pad.
 */
static void test_dm1_five_by_bam(void **state)
{
	static struct j1939tp tp;
	static const struct {
		uint32_t id;
		uint8_t d[8];
	} frames[] = {
	    {0x1CECFF00, {0x20, 0x16, 0x00, 0x04, 0xFF, 0xCA, 0xFE, 0x00}},
	    {0x1CEBFF00, {0x01, 0x14, 0xFF, 0x90, 0x0C, 0x02, 0x01, 0x9A}},
	    {0x1CEBFF00, {0x02, 0x0C, 0x02, 0x01, 0xE1, 0x06, 0x12, 0x04}},
	    {0x1CEBFF00, {0x03, 0x0C, 0x11, 0x12, 0x02, 0x00, 0xF0, 0xEC}},
	    {0x1CEBFF00, {0x04, 0x01, F, F, F, F, F, F}},
	};
	static const struct dm1_case want = {
	    "5 DTCs by BAM",
	    22,
	    {0},
	    J1939DM_OK,
	    {OFF, ON, ON, OFF},
	    {NONE, NONE, NONE, NONE},
	    3,
	    {{3216, 2, 1, 0}, {3226, 2, 1, 0}, {1761, 18, 4, 0}},
	};
	struct j1939tp_msg m;
	struct j1939dm_dm1 dm;
	int rc = J1939TP_OK;

	(void)state;
	j1939tp_init(&tp);
	for (size_t i = 0; i < NELEM(frames); i++)
		rc = j1939tp_feed(&tp, frames[i].id, frames[i].d, 8, (int64_t)i * 50, &m);
	assert_int_equal(rc, J1939TP_DONE);
	assert_int_equal(m.pgn, J1939DM_PGN_DM1);
	assert_int_equal(m.len, 22);
	assert_int_equal(j1939dm_dm1_decode(m.data, m.len, &dm), J1939DM_OK);
	assert_int_equal(dm.n_dtcs, 5);
	/* the first three through the table check, the last two here */
	dm.n_dtcs = 3;
	check_dm1(want.what, &dm, &want);
	assert_int_equal(dm.dtc[3].spn, 4364);
	assert_int_equal(dm.dtc[3].fmi, 18);
	assert_int_equal(dm.dtc[3].oc, 2);
	assert_int_equal(dm.dtc[4].spn, 520192);
	assert_int_equal(dm.dtc[4].fmi, 12);
	assert_int_equal(dm.dtc[4].oc, 1);
}

/* 70 faults: 64 kept in order, 6 counted as truncated. */
static void test_dm1_truncated(void **state)
{
	uint8_t d[2 + 70 * 4];
	struct j1939dm_dm1 dm;

	(void)state;
	d[0] = 0x04;
	d[1] = 0xFF;
	for (unsigned i = 0; i < 70; i++) {
		unsigned spn = 1000 + i;

		d[2 + 4 * i] = (uint8_t)spn;
		d[3 + 4 * i] = (uint8_t)(spn >> 8);
		d[4 + 4 * i] = 0x03; /* FMI 3 */
		d[5 + 4 * i] = 0x01;
	}
	assert_int_equal(j1939dm_dm1_decode(d, sizeof(d), &dm), J1939DM_OK);
	assert_int_equal(dm.n_dtcs, J1939DM_MAX_DTCS);
	assert_int_equal(dm.n_truncated, 70 - J1939DM_MAX_DTCS);
	assert_int_equal(dm.dtc[0].spn, 1000);
	assert_int_equal(dm.dtc[J1939DM_MAX_DTCS - 1].spn, 1000 + J1939DM_MAX_DTCS - 1);
}

struct vin_case {
	const char *what;
	size_t len;
	const char *data;
	size_t vinsize;
	int rc;
	const char *want;
};

static const struct vin_case vin_cases[] = {
    {"with '*'", 18, "1FUJGLDR5CLBP8834*", 32, 17, "1FUJGLDR5CLBP8834"},
    {"without '*'", 17, "1FUJGLDR5CLBP8834", 32, 17, "1FUJGLDR5CLBP8834"},
    {"bytes after '*' ignored", 20, "1FUJGLDR5CLBP8834*\xFF\x01", 32, 17, "1FUJGLDR5CLBP8834"},
    {"buffer just big enough", 18, "1FUJGLDR5CLBP8834*", 18, 17, "1FUJGLDR5CLBP8834"},
    {"buffer one short", 18, "1FUJGLDR5CLBP8834*", 17, J1939DM_ESPACE, ""},
    {"short non-standard VIN", 6, "AB 12*", 32, 5, "AB 12"},
    {"control character", 17,
     "1FUJGLDR\x01"
     "CLBP8834",
     32, J1939DM_EVIN, ""},
    {"0xFF padding without '*'", 19, "1FUJGLDR5CLBP8834\xFF\xFF", 32, J1939DM_EVIN, ""},
    {"DEL", 3, "AB\x7F", 32, J1939DM_EVIN, ""},
    {"NUL inside", 4, "AB\0C", 32, J1939DM_EVIN, ""},
    {"empty, '*' first", 3, "*AB", 32, J1939DM_EVIN, ""},
    {"empty", 0, "", 32, J1939DM_EVIN, ""},
};

static void test_vin(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(vin_cases); i++) {
		const struct vin_case *c = &vin_cases[i];
		char vin[32];
		int rc;

		memset(vin, 'x', sizeof(vin));
		rc = j1939dm_vin_decode((const uint8_t *)c->data, c->len, vin, c->vinsize);
		if (rc != c->rc || strcmp(vin, c->want) != 0) {
			print_error("%s: rc %d \"%s\", want %d \"%s\"\n", c->what, rc, vin, c->rc,
				    c->want);
			fail();
		}
	}
}

/* A VIN reassembled from its BAM decodes (the bytes of test_j1939tp). */
static void test_vin_by_bam(void **state)
{
	static struct j1939tp tp;
	static const uint8_t bam[8] = {0x20, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00};
	static const uint8_t dt[3][8] = {
	    {0x01, '1', 'F', 'U', 'J', 'G', 'L', 'D'},
	    {0x02, 'R', '5', 'C', 'L', 'B', 'P', '8'},
	    {0x03, '8', '3', '4', '*', F, F, F},
	};
	struct j1939tp_msg m;
	char vin[18];

	(void)state;
	j1939tp_init(&tp);
	assert_int_equal(j1939tp_feed(&tp, 0x18ECFF00, bam, 8, 0, &m), J1939TP_OK);
	assert_int_equal(j1939tp_feed(&tp, 0x18EBFF00, dt[0], 8, 50, &m), J1939TP_OK);
	assert_int_equal(j1939tp_feed(&tp, 0x18EBFF00, dt[1], 8, 100, &m), J1939TP_OK);
	assert_int_equal(j1939tp_feed(&tp, 0x18EBFF00, dt[2], 8, 150, &m), J1939TP_DONE);
	assert_int_equal(m.pgn, J1939DM_PGN_VIN);
	assert_int_equal(j1939dm_vin_decode(m.data, m.len, vin, sizeof(vin)), 17);
	assert_string_equal(vin, "1FUJGLDR5CLBP8834");
}

struct name_case {
	const char *what;
	uint8_t data[8];
	uint64_t raw;
	uint32_t identity;
	uint16_t manufacturer;
	uint8_t ecu_instance, function_instance, function, reserved, vehicle_system,
	    vehicle_system_instance, industry_group, arbitrary_address;
};

static const struct name_case name_cases[] = {
    /*
     * identity 0x1A2B3C, manufacturer 0x2C1, ECU instance 5, function
     * instance 0x13, function 0x81, reserved 1, vehicle system 0x45,
     * vehicle system instance 0xA, industry group 6, AAC 1:
     *   bits 0-31  = 0x1A2B3C | 0x2C1 << 21 = 0x001A2B3C | 0x58200000 = 0x583A2B3C
     *   byte 4     = 5 | 0x13 << 3 = 0x05 | 0x98 = 0x9D
     *   byte 5     = 0x81
     *   byte 6     = 1 | 0x45 << 1 = 0x01 | 0x8A = 0x8B
     *   byte 7     = 0xA | 6 << 4 | 1 << 7 = 0x0A | 0x60 | 0x80 = 0xEA
     * little-endian on the bus: 3C 2B 3A 58 9D 81 8B EA.
     */
    {"hand-built",
     {0x3C, 0x2B, 0x3A, 0x58, 0x9D, 0x81, 0x8B, 0xEA},
     0xEA8B819D583A2B3Cull,
     0x1A2B3C,
     0x2C1,
     5,
     0x13,
     0x81,
     1,
     0x45,
     0xA,
     6,
     1},
    {"all ones",
     {F, F, F, F, F, F, F, F},
     0xFFFFFFFFFFFFFFFFull,
     0x1FFFFF,
     0x7FF,
     7,
     31,
     255,
     1,
     127,
     15,
     7,
     1},
    {"all zeros", {0}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* one bit per field boundary: bit 21 (manufacturer LSB), bit 35
     * (function instance LSB), bit 49 (vehicle system LSB), bit 60
     * (industry group LSB) = 0x1002000800200000 */
    {"field boundaries",
     {0x00, 0x00, 0x20, 0x00, 0x08, 0x00, 0x02, 0x10},
     0x1002000800200000ull,
     0,
     1,
     0,
     1,
     0,
     0,
     1,
     0,
     1,
     0},
};

static void test_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		struct j1939dm_name n;

		memset(&n, 0x55, sizeof(n));
		j1939dm_name_decode(c->data, &n);
		if (n.raw != c->raw || n.identity != c->identity ||
		    n.manufacturer != c->manufacturer || n.ecu_instance != c->ecu_instance ||
		    n.function_instance != c->function_instance || n.function != c->function ||
		    n.reserved != c->reserved || n.vehicle_system != c->vehicle_system ||
		    n.vehicle_system_instance != c->vehicle_system_instance ||
		    n.industry_group != c->industry_group ||
		    n.arbitrary_address != c->arbitrary_address) {
			print_error("%s: raw %016llX id %X mfr %X ecu %u fi %u f %u r %u vs %u "
				    "vsi %u ig %u aac %u\n",
				    c->what, (unsigned long long)n.raw, (unsigned)n.identity,
				    (unsigned)n.manufacturer, n.ecu_instance, n.function_instance,
				    n.function, n.reserved, n.vehicle_system,
				    n.vehicle_system_instance, n.industry_group,
				    n.arbitrary_address);
			fail();
		}
	}
}

static void test_bad_arguments(void **state)
{
	uint8_t d[8] = {0};
	struct j1939dm_dm1 dm;
	char vin[4];

	(void)state;
	assert_int_equal(j1939dm_dm1_decode(d, 8, NULL), J1939DM_EINVAL);
	assert_int_equal(j1939dm_dm1_decode(NULL, 8, &dm), J1939DM_EINVAL);
	assert_int_equal(j1939dm_dm1_decode(NULL, 0, &dm), J1939DM_ESHORT);
	assert_int_equal(j1939dm_vin_decode(d, 8, NULL, 4), J1939DM_EINVAL);
	assert_int_equal(j1939dm_vin_decode(d, 8, vin, 0), J1939DM_EINVAL);
	assert_int_equal(j1939dm_vin_decode(NULL, 8, vin, sizeof(vin)), J1939DM_EINVAL);
	assert_string_equal(vin, "");
	j1939dm_name_decode(NULL, NULL); /* must not crash */
	for (int rc = J1939DM_ESPACE; rc <= J1939DM_OK; rc++)
		assert_string_not_equal(j1939dm_strerror(rc), "unknown error");
	assert_string_equal(j1939dm_strerror(1), "unknown error");
}

/* DM5 by hand: active 2, previously 1, compliance 0x13, byte 4 0x37 (misfire,
 * fuel, comprehensive supported; misfire and fuel not complete), bytes 5-6
 * E1 1C, 7-8 41 08.  HJ words: support 0x1CE1 | 7 << 13 = 0xFCE1, readiness
 * 0x0841 | 3 << 13 = 0x6841. */
static void test_dm5(void **state)
{
	static const uint8_t d[8] = {0x02, 0x01, 0x13, 0x37, 0xE1, 0x1C, 0x41, 0x08};
	struct j1939dm_dm5 dm5;
	uint16_t sup, rdy;

	(void)state;
	assert_int_equal(j1939dm_dm5_decode(d, 8, &dm5), J1939DM_OK);
	assert_int_equal(dm5.active, 2);
	assert_int_equal(dm5.previously_active, 1);
	assert_int_equal(dm5.obd_compliance, 0x13);
	assert_int_equal(dm5.nc_support, 0x1CE1);
	assert_int_equal(dm5.nc_status, 0x0841);
	j1939dm_dm5_obd_words(&dm5, &sup, &rdy);
	assert_int_equal(sup, 0xFCE1);
	assert_int_equal(rdy, 0x6841);
	assert_int_equal(j1939dm_dm5_decode(d, 7, &dm5), J1939DM_ESHORT);
}

/* DM19: two 20-byte entries (as reassembled by TP) and 5 stray bytes. */
static void test_dm19(void **state)
{
	uint8_t d[45];
	struct j1939dm_dm19 dm19;

	(void)state;
	memset(d, 0, sizeof(d));
	memcpy(d,
	       "\xBF\xA1\x40\xEC"
	       "YCY30165-60     ",
	       20);
	memcpy(d + 20,
	       "\x01\x02\x03\x04"
	       "ABC",
	       7);
	memset(d + 40, 0xAA, 5);
	assert_int_equal(j1939dm_dm19_decode(d, sizeof(d), &dm19), J1939DM_OK);
	assert_int_equal(dm19.n, 2);
	assert_memory_equal(dm19.cal[0].cvn, "\xBF\xA1\x40\xEC", 4);
	assert_string_equal(dm19.cal[0].cal_id, "YCY30165-60     ");
	assert_memory_equal(dm19.cal[1].cvn, "\x01\x02\x03\x04", 4);
	assert_string_equal(dm19.cal[1].cal_id, "ABC");
	assert_int_equal(j1939dm_dm19_decode(d, 19, &dm19), J1939DM_ESHORT);
}

/* DM20: ignition cycles 0x0123, conditions 0x0045; SPN 3058 (F2 0B 00) 5/10,
 * a padding entry, SPN 3936 (60 0F 00) 0xFFFF/0, 3 stray bytes. */
static void test_dm20(void **state)
{
	static const uint8_t d[] = {0x23, 0x01, 0x45, 0x00, 0xF2, 0x0B, 0x00, 0x05, 0x00, 0x0A,
				    0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x60, 0x0F,
				    0x00, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x02, 0x03};
	struct j1939dm_dm20 dm20;

	(void)state;
	assert_int_equal(j1939dm_dm20_decode(d, sizeof(d), &dm20), J1939DM_OK);
	assert_int_equal(dm20.ign_cycles, 0x0123);
	assert_int_equal(dm20.obd_conditions, 0x45);
	assert_int_equal(dm20.n, 2);
	assert_int_equal(dm20.r[0].spn, 3058);
	assert_int_equal(dm20.r[0].num, 5);
	assert_int_equal(dm20.r[0].den, 10);
	assert_int_equal(dm20.r[1].spn, 3936);
	assert_int_equal(dm20.r[1].num, 0xFFFF);
	assert_int_equal(dm20.r[1].den, 0);
	assert_int_equal(j1939dm_dm20_decode(d, 3, &dm20), J1939DM_ESHORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dm1_cases),
	    cmocka_unit_test(test_dm1_raw_kept),
	    cmocka_unit_test(test_dm1_five_by_bam),
	    cmocka_unit_test(test_dm1_truncated),
	    cmocka_unit_test(test_vin),
	    cmocka_unit_test(test_vin_by_bam),
	    cmocka_unit_test(test_name),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_dm5),
	    cmocka_unit_test(test_dm19),
	    cmocka_unit_test(test_dm20),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
