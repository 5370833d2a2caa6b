/* Unit tests for protocols/j1939.c: one hand-worked vector per signal, the
 * not-available / error / reserved ranges, identifiers and short frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "protocols/j1939.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define F	 0xFF

/* The decoder rounds once, so values match the literal's double exactly;
 * a tiny relative tolerance keeps the test about decoding, not printing. */
static void check_value(const char *what, double got, double want)
{
	double tol = 1e-12 * (fabs(want) > 1 ? fabs(want) : 1);

	if (fabs(got - want) > tol) {
		print_error("%s: got %.17g, want %.17g\n", what, got, want);
		fail();
	}
}

/* One signal set in an otherwise not-available frame. */
struct sig_case {
	const char *what;
	uint32_t pgn;
	uint8_t data[8];
	enum sig_id sig;
	double want;
	int n_na; /* the PGN's other decoded SPNs, all 0xFF */
};

static const struct sig_case sig_cases[] = {
    /* EEC1: b2 0xAF = 175 - 125 = 50 % */
    {"EEC1 512 demand torque", 61444, {F, 0xAF, F, F, F, F, F, F}, SIG_DEMAND_TORQUE_PCT, 50.0, 2},
    /* EEC1: b3 0x64 = 100 - 125 = -25 % */
    {"EEC1 513 engine torque", 61444, {F, F, 0x64, F, F, F, F, F}, SIG_ENGINE_TORQUE_PCT, -25.0, 2},
    /* EEC1: b4-5 0x87 0x48 -> 0x4887 = 18567 * 0.125 = 2320.875 rpm */
    {"EEC1 190 engine speed",
     61444,
     {F, F, F, 0x87, 0x48, F, F, F},
     SIG_ENGINE_SPEED_RPM,
     2320.875,
     2},
    /* EEC2: b2 0xC8 = 200 * 0.4 = 80 % */
    {"EEC2 91 accel pedal", 61443, {F, 0xC8, F, F, F, F, F, F}, SIG_ACCEL_PEDAL_PCT, 80.0, 1},
    /* EEC2: b2 0x01 = 1 * 0.4 = 0.4 % */
    {"EEC2 91 accel pedal 1 bit", 61443, {F, 0x01, F, F, F, F, F, F}, SIG_ACCEL_PEDAL_PCT, 0.4, 1},
    /* EEC2: b3 0x4B = 75 % */
    {"EEC2 92 engine load", 61443, {F, F, 0x4B, F, F, F, F, F}, SIG_ENGINE_LOAD_PCT, 75.0, 1},
    /* EEC3: b1 0x87 = 135 - 125 = 10 % */
    {"EEC3 514 friction torque",
     65247,
     {0x87, F, F, F, F, F, F, F},
     SIG_FRICTION_TORQUE_PCT,
     10.0,
     0},
    /* ET1: b1 0x7A = 122 - 40 = 82 C */
    {"ET1 110 coolant", 65262, {0x7A, F, F, F, F, F, F, F}, SIG_COOLANT_C, 82.0, 2},
    /* ET1: b1 0x00 = 0 - 40 = -40 C */
    {"ET1 110 coolant minimum", 65262, {0x00, F, F, F, F, F, F, F}, SIG_COOLANT_C, -40.0, 2},
    /* ET1: b2 0x46 = 70 - 40 = 30 C */
    {"ET1 174 fuel temp", 65262, {F, 0x46, F, F, F, F, F, F}, SIG_FUEL_TEMP_C, 30.0, 2},
    /* ET1: b3-4 0x10 0x27 -> 0x2710 = 10000 / 32 = 312.5 - 273 = 39.5 C */
    {"ET1 175 oil temp", 65262, {F, F, 0x10, 0x27, F, F, F, F}, SIG_OIL_TEMP_C, 39.5, 2},
    /* LFE1: b1-2 0x33 0x01 -> 0x0133 = 307 * 0.05 = 15.35 L/h */
    {"LFE1 183 fuel rate", 65266, {0x33, 0x01, F, F, F, F, F, F}, SIG_FUEL_RATE_LPH, 15.35, 0},
    /* EGF1: b1-2 0x58 0x02 -> 0x0258 = 600 * 0.05 = 30 kg/h */
    {"EGF1 2659 EGR flow", 61450, {0x58, 0x02, F, F, F, F, F, F}, SIG_EGR_FLOW_KGPH, 30.0, 1},
    /* EGF1: b3-4 0x11 0x27 -> 0x2711 = 10001 * 0.05 = 500.05 kg/h */
    {"EGF1 132 intake air flow",
     61450,
     {F, F, 0x11, 0x27, F, F, F, F},
     SIG_INTAKE_AIR_KGPH,
     500.05,
     1},
    /* IC1: b2 0x5A = 90 * 2 = 180 kPa (b1, SPN 81, is not decoded or counted) */
    {"IC1 102 boost", 65270, {F, 0x5A, F, F, F, F, F, F}, SIG_BOOST_KPA, 180.0, 4},
    /* IC1: b3 0x5F = 95 - 40 = 55 C */
    {"IC1 105 intake manifold temp",
     65270,
     {F, F, 0x5F, F, F, F, F, F},
     SIG_INTAKE_MANIFOLD_C,
     55.0,
     4},
    /* IC1: b4 0x33 = 51 * 2 = 102 kPa */
    {"IC1 106 air inlet pressure", 65270, {F, F, F, 0x33, F, F, F, F}, SIG_AIR_INLET_KPA, 102.0, 4},
    /* IC1: b5 0x0F = 15 * 0.05 = 0.75 kPa */
    {"IC1 107 air filter dP", 65270, {F, F, F, F, 0x0F, F, F, F}, SIG_AIR_FILTER_DP_KPA, 0.75, 4},
    /* IC1: b6-7 0x84 0x3E -> 0x3E84 = 16004 / 32 = 500.125 - 273 = 227.125 C */
    {"IC1 173 exhaust temp", 65270, {F, F, F, F, F, 0x84, 0x3E, F}, SIG_EXHAUST_C, 227.125, 4},
    /* AMB: b1 0xCB = 203 * 0.5 = 101.5 kPa */
    {"AMB 108 baro", 65269, {0xCB, F, F, F, F, F, F, F}, SIG_BARO_KPA, 101.5, 2},
    /* AMB: b4-5 0x68 0x25 -> 0x2568 = 9576 / 32 = 299.25 - 273 = 26.25 C */
    {"AMB 171 ambient", 65269, {F, F, F, 0x68, 0x25, F, F, F}, SIG_AMBIENT_C, 26.25, 2},
    /* AMB: b4-5 0xE0 0x20 -> 0x20E0 = 8416 / 32 = 263 - 273 = -10 C */
    {"AMB 171 ambient below zero", 65269, {F, F, F, 0xE0, 0x20, F, F, F}, SIG_AMBIENT_C, -10.0, 2},
    /* AMB: b6 0x3C = 60 - 40 = 20 C */
    {"AMB 172 air inlet temp", 65269, {F, F, F, F, F, 0x3C, F, F}, SIG_AIR_INLET_C, 20.0, 2},
    /* CCVS1: b2-3 0x80 0x50 -> 0x5080 = 20608 / 256 = 80.5 km/h */
    {"CCVS1 84 vehicle speed",
     65265,
     {F, 0x80, 0x50, F, F, F, F, F},
     SIG_VEHICLE_SPEED_KMH,
     80.5,
     0},
    /* HOURS: b1-4 45 23 01 00 -> 0x00012345 = 74565 * 0.05 = 3728.25 h */
    {"HOURS 247 engine hours",
     65253,
     {0x45, 0x23, 0x01, 0x00, F, F, F, F},
     SIG_ENGINE_HOURS_H,
     3728.25,
     0},
    /* VD: b5-8 41 42 0F 00 -> 0x000F4241 = 1000001 * 0.125 = 125000.125 km */
    {"VD 245 total distance",
     65248,
     {F, F, F, F, 0x41, 0x42, 0x0F, 0x00},
     SIG_ODOMETER_KM,
     125000.125,
     0},
    /* VDHR: b1-4 41 42 0F 00 -> 1000001 * 5 m = 5000005 m = 5000.005 km */
    {"VDHR 917 total distance",
     65217,
     {0x41, 0x42, 0x0F, 0x00, F, F, F, F},
     SIG_ODOMETER_KM,
     5000.005,
     0},
    /* DD: b2 0x7D = 125 * 0.4 = 50 % */
    {"DD 96 fuel level", 65276, {F, 0x7D, F, F, F, F, F, F}, SIG_FUEL_LEVEL_PCT, 50.0, 0},
    /* AT1IG1: b1-2 0x0F 0x13 -> 0x130F = 4879 * 0.05 = 243.95 - 200 = 43.95 ppm */
    {"AT1IG1 3216 NOx upstream", 61454, {0x0F, 0x13, F, F, F, F, F, F}, SIG_NOX_UP_PPM, 43.95, 0},
    /* AT1IG1: b1-2 0x00 0x00 -> 0 * 0.05 - 200 = -200 ppm */
    {"AT1IG1 3216 NOx upstream raw 0",
     61454,
     {0x00, 0x00, F, F, F, F, F, F},
     SIG_NOX_UP_PPM,
     -200.0,
     0},
    /* AT1OG1: b1-2 0x2A 0x10 -> 0x102A = 4138 * 0.05 = 206.9 - 200 = 6.9 ppm */
    {"AT1OG1 3226 NOx downstream", 61455, {0x2A, 0x10, F, F, F, F, F, F}, SIG_NOX_DOWN_PPM, 6.9, 0},
    /* AT1IMG: b5-6 0x7B 0x00 -> 123 * 0.1 = 12.3 kPa */
    {"AT1IMG 3251 DPF dP", 64946, {F, F, F, F, 0x7B, 0x00, F, F}, SIG_DPF_DP_KPA, 12.3, 0},
    /* AT1T1I: b1 0xB4 = 180 * 0.4 = 72 % */
    {"AT1T1I 1761 DEF level", 65110, {0xB4, F, F, F, F, F, F, F}, SIG_DEF_LEVEL_PCT, 72.0, 0},
    /* AT1SCREGT: b1-2 0x48 0x47 -> 0x4748 = 18248 / 32 = 570.25 - 273 = 297.25 C */
    {"AT1SCREGT 4360 SCR inlet", 64830, {0x48, 0x47, F, F, F, F, F, F}, SIG_SCR_IN_C, 297.25, 1},
    /* AT1SCREGT: b4-5 0x00 0x46 -> 0x4600 = 17920 / 32 = 560 - 273 = 287 C */
    {"AT1SCREGT 4363 SCR outlet", 64830, {F, F, F, 0x00, 0x46, F, F, F}, SIG_SCR_OUT_C, 287.0, 1},
    /* EEC7: b1-2 0x11 0x27 -> 0x2711 = 10001 * 0.0025 = 25.0025 % */
    {"EEC7 27 EGR position", 64916, {0x11, 0x27, F, F, F, F, F, F}, SIG_EGR_POS_PCT, 25.0025, 0},
};

static void test_each_signal(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(sig_cases); i++) {
		const struct sig_case *c = &sig_cases[i];
		struct j1939_frame fr;
		int rc = j1939_decode(c->pgn, c->data, 8, &fr);

		if (rc != J1939_OK || fr.n != 1 || fr.v[0].sig != c->sig || fr.n_na != c->n_na ||
		    fr.n_error != 0 || fr.n_reserved != 0) {
			print_error("%s: rc %d n %d sig %s na %d err %d res %d\n", c->what, rc,
				    fr.n, fr.n > 0 ? sig_name(fr.v[0].sig) : "-", fr.n_na,
				    fr.n_error, fr.n_reserved);
			fail();
		}
		check_value(c->what, fr.v[0].value, c->want);
	}
}

/* Every signal the brief lists is covered by at least one vector above. */
static void test_every_signal_covered(void **state)
{
	static const enum sig_id wanted[] = {
	    SIG_DEMAND_TORQUE_PCT, SIG_ENGINE_TORQUE_PCT, SIG_ENGINE_SPEED_RPM,
	    SIG_ACCEL_PEDAL_PCT,   SIG_ENGINE_LOAD_PCT,	  SIG_FRICTION_TORQUE_PCT,
	    SIG_COOLANT_C,	   SIG_FUEL_TEMP_C,	  SIG_OIL_TEMP_C,
	    SIG_FUEL_RATE_LPH,	   SIG_EGR_FLOW_KGPH,	  SIG_INTAKE_AIR_KGPH,
	    SIG_BOOST_KPA,	   SIG_INTAKE_MANIFOLD_C, SIG_AIR_INLET_KPA,
	    SIG_AIR_FILTER_DP_KPA, SIG_EXHAUST_C,	  SIG_BARO_KPA,
	    SIG_AMBIENT_C,	   SIG_AIR_INLET_C,	  SIG_VEHICLE_SPEED_KMH,
	    SIG_ENGINE_HOURS_H,	   SIG_ODOMETER_KM,	  SIG_FUEL_LEVEL_PCT,
	    SIG_NOX_UP_PPM,	   SIG_NOX_DOWN_PPM,	  SIG_DPF_DP_KPA,
	    SIG_DEF_LEVEL_PCT,	   SIG_SCR_IN_C,	  SIG_SCR_OUT_C,
	    SIG_EGR_POS_PCT,
	};

	(void)state;
	for (size_t i = 0; i < NELEM(wanted); i++) {
		size_t j = 0;

		while (j < NELEM(sig_cases) && sig_cases[j].sig != wanted[i])
			j++;
		if (j == NELEM(sig_cases)) {
			print_error("no vector for %s\n", sig_name(wanted[i]));
			fail();
		}
	}
}

/* A whole EEC1 frame as a truck sends it: 0CF00400#207D87481400F087. */
static void test_eec1_full_frame(void **state)
{
	static const uint8_t d[8] = {0x20, 0x7D, 0x87, 0x48, 0x14, 0x00, 0xF0, 0x87};
	struct j1939_frame fr;

	(void)state;
	assert_int_equal(j1939_decode(61444, d, sizeof(d), &fr), J1939_OK);
	assert_int_equal(fr.n, 3);
	assert_int_equal(fr.n_na + fr.n_error + fr.n_reserved, 0);
	/* b2 0x7D = 125 - 125 = 0 % */
	assert_int_equal(fr.v[0].sig, SIG_DEMAND_TORQUE_PCT);
	check_value("demand", fr.v[0].value, 0.0);
	/* b3 0x87 = 135 - 125 = 10 % */
	assert_int_equal(fr.v[1].sig, SIG_ENGINE_TORQUE_PCT);
	check_value("torque", fr.v[1].value, 10.0);
	/* b4-5 0x48 0x14 -> 0x1448 = 5192 * 0.125 = 649 rpm (0x87 is b3, not
	 * b4: counting from 1, 20 7D 87 48 14 are b1..b5) */
	assert_int_equal(fr.v[2].sig, SIG_ENGINE_SPEED_RPM);
	check_value("speed", fr.v[2].value, 649.0);
}

/* Special raw values: which count goes up, and what (if anything) is valid. */
struct special_case {
	const char *what;
	uint32_t pgn;
	uint8_t data[8];
	int n, n_na, n_error, n_reserved;
	enum sig_id sig; /* when n == 1 */
	double want;
};

static const struct special_case special_cases[] = {
    /* 1 byte (ET1 b1 coolant; b2 and b3-4 are 0xFF: 2 more n/a) */
    {"1B n/a 0xFF", 65262, {0xFF, F, F, F, F, F, F, F}, 0, 3, 0, 0, SIG_COUNT, 0.0},
    {"1B error 0xFE", 65262, {0xFE, F, F, F, F, F, F, F}, 0, 2, 1, 0, SIG_COUNT, 0.0},
    {"1B reserved 0xFB", 65262, {0xFB, F, F, F, F, F, F, F}, 0, 2, 0, 1, SIG_COUNT, 0.0},
    {"1B reserved 0xFC", 65262, {0xFC, F, F, F, F, F, F, F}, 0, 2, 0, 1, SIG_COUNT, 0.0},
    {"1B reserved 0xFD", 65262, {0xFD, F, F, F, F, F, F, F}, 0, 2, 0, 1, SIG_COUNT, 0.0},
    /* 0xFA = 250 - 40 = 210 C, the largest valid value */
    {"1B valid 0xFA", 65262, {0xFA, F, F, F, F, F, F, F}, 1, 2, 0, 0, SIG_COOLANT_C, 210.0},
    /* 2 bytes (EEC1 b4-5 speed; b2, b3 0xFF: 2 more n/a) */
    {"2B n/a 0xFFFF", 61444, {F, F, F, 0xFF, 0xFF, F, F, F}, 0, 3, 0, 0, SIG_COUNT, 0.0},
    {"2B n/a 0xFF00", 61444, {F, F, F, 0x00, 0xFF, F, F, F}, 0, 3, 0, 0, SIG_COUNT, 0.0},
    {"2B error 0xFE12", 61444, {F, F, F, 0x12, 0xFE, F, F, F}, 0, 2, 1, 0, SIG_COUNT, 0.0},
    {"2B error 0xFEFF", 61444, {F, F, F, 0xFF, 0xFE, F, F, F}, 0, 2, 1, 0, SIG_COUNT, 0.0},
    {"2B reserved 0xFB00", 61444, {F, F, F, 0x00, 0xFB, F, F, F}, 0, 2, 0, 1, SIG_COUNT, 0.0},
    {"2B reserved 0xFC80", 61444, {F, F, F, 0x80, 0xFC, F, F, F}, 0, 2, 0, 1, SIG_COUNT, 0.0},
    {"2B reserved 0xFDFF", 61444, {F, F, F, 0xFF, 0xFD, F, F, F}, 0, 2, 0, 1, SIG_COUNT, 0.0},
    /* 0xFAFF = 64255 * 0.125 = 8031.875 rpm, the largest valid value */
    {"2B valid 0xFAFF",
     61444,
     {F, F, F, 0xFF, 0xFA, F, F, F},
     1,
     2,
     0,
     0,
     SIG_ENGINE_SPEED_RPM,
     8031.875},
    /* a low byte of 0xFF in a 2-byte field is an ordinary value:
     * 0x12FF = 4863 * 0.125 = 607.875 rpm */
    {"2B valid 0x12FF",
     61444,
     {F, F, F, 0xFF, 0x12, F, F, F},
     1,
     2,
     0,
     0,
     SIG_ENGINE_SPEED_RPM,
     607.875},
    /* 4 bytes (HOURS b1-4; b5-8 SPN 249 not decoded, so not counted) */
    {"4B n/a 0xFFFFFFFF", 65253, {0xFF, 0xFF, 0xFF, 0xFF, F, F, F, F}, 0, 1, 0, 0, SIG_COUNT, 0.0},
    {"4B n/a 0xFF000000", 65253, {0x00, 0x00, 0x00, 0xFF, F, F, F, F}, 0, 1, 0, 0, SIG_COUNT, 0.0},
    {"4B error 0xFE000000",
     65253,
     {0x00, 0x00, 0x00, 0xFE, F, F, F, F},
     0,
     0,
     1,
     0,
     SIG_COUNT,
     0.0},
    {"4B error 0xFEFFFFFF",
     65253,
     {0xFF, 0xFF, 0xFF, 0xFE, F, F, F, F},
     0,
     0,
     1,
     0,
     SIG_COUNT,
     0.0},
    {"4B reserved 0xFB000000",
     65253,
     {0x00, 0x00, 0x00, 0xFB, F, F, F, F},
     0,
     0,
     0,
     1,
     SIG_COUNT,
     0.0},
    {"4B reserved 0xFDFFFFFF",
     65253,
     {0xFF, 0xFF, 0xFF, 0xFD, F, F, F, F},
     0,
     0,
     0,
     1,
     SIG_COUNT,
     0.0},
    /* 0xFAFFFFFF = 4211081215 * 0.05 = 210554060.75 h */
    {"4B valid 0xFAFFFFFF",
     65253,
     {0xFF, 0xFF, 0xFF, 0xFA, F, F, F, F},
     1,
     0,
     0,
     0,
     SIG_ENGINE_HOURS_H,
     210554060.75},
    /* all three in one EEC1: b2 error, b3 reserved, b4-5 n/a */
    {"mixed", 61444, {F, 0xFE, 0xFB, 0xFF, 0xFF, F, F, F}, 0, 1, 1, 1, SIG_COUNT, 0.0},
};

static void test_special_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(special_cases); i++) {
		const struct special_case *c = &special_cases[i];
		struct j1939_frame fr;
		int rc = j1939_decode(c->pgn, c->data, 8, &fr);

		if (rc != J1939_OK || fr.n != c->n || fr.n_na != c->n_na ||
		    fr.n_error != c->n_error || fr.n_reserved != c->n_reserved) {
			print_error("%s: rc %d n %d na %d err %d res %d\n", c->what, rc, fr.n,
				    fr.n_na, fr.n_error, fr.n_reserved);
			fail();
		}
		if (c->n == 1) {
			assert_int_equal(fr.v[0].sig, c->sig);
			check_value(c->what, fr.v[0].value, c->want);
		}
	}
}

struct len_case {
	uint32_t pgn;
	size_t len;
	int rc;
};

static const struct len_case len_cases[] = {
    {61444, 0, J1939_ESHORT}, /* EEC1 needs b5 (speed b4-5) */
    {61444, 4, J1939_ESHORT},	{61444, 5, J1939_OK},
    {65253, 3, J1939_ESHORT},				  /* HOURS b1-4 */
    {65253, 4, J1939_OK},	{65248, 7, J1939_ESHORT}, /* VD b5-8 */
    {65248, 8, J1939_OK},	{64946, 5, J1939_ESHORT}, /* AT1IMG b5-6 */
    {64946, 6, J1939_OK},	{65270, 6, J1939_ESHORT}, /* IC1 b6-7 */
    {65270, 7, J1939_OK},	{65247, 1, J1939_OK},	  /* EEC3 b1 */
    {65247, 12, J1939_OK},				  /* longer than 8: extra bytes ignored */
    {65260, 8, J1939_EUNKNOWN},				  /* VI: not decoded here */
    {0, 8, J1939_EUNKNOWN},	{61444 | 0x10000, 8, J1939_EUNKNOWN}, /* DP set: another PGN */
};

static void test_lengths_and_unknown(void **state)
{
	uint8_t d[12];

	(void)state;
	memset(d, 0x20, sizeof(d));
	for (size_t i = 0; i < NELEM(len_cases); i++) {
		struct j1939_frame fr;
		int rc;

		memset(&fr, 0x55, sizeof(fr));
		rc = j1939_decode(len_cases[i].pgn, d, len_cases[i].len, &fr);
		if (rc != len_cases[i].rc) {
			print_error("pgn %u len %zu: rc %d, want %d\n", (unsigned)len_cases[i].pgn,
				    len_cases[i].len, rc, len_cases[i].rc);
			fail();
		}
		/* Whatever happened, the frame says nothing stale. */
		if (rc != J1939_OK)
			assert_int_equal(fr.n, 0);
	}
}

static void test_bad_arguments(void **state)
{
	uint8_t d[8] = {0};
	struct j1939_frame fr;

	(void)state;
	assert_int_equal(j1939_decode(61444, d, 8, NULL), J1939_EINVAL);
	assert_int_equal(j1939_decode(61444, NULL, 8, &fr), J1939_EINVAL);
	assert_int_equal(j1939_decode(61444, NULL, 0, &fr), J1939_ESHORT);
	j1939_id_parse(0x0CF00400, NULL); /* must not crash */
}

struct id_case {
	uint32_t can_id;
	uint8_t prio;
	uint32_t pgn;
	uint8_t sa, da;
};

static const struct id_case id_cases[] = {
    /* PDU2 (PF 0xF0 >= 240): PS 0x04 is part of the PGN, DA global */
    {0x0CF00400, 3, 61444, 0x00, 0xFF},
    {0x18FEF100, 6, 65265, 0x00, 0xFF},
    {0x18F00E51, 6, 61454, 0x51, 0xFF}, /* PF 240: first PDU2 value */
    /* PDU1 (PF < 240): PS is the destination, PGN low byte 0 */
    {0x18EA00F9, 6, 59904, 0xF9, 0x00}, /* request to address 0 */
    {0x18EAFF17, 6, 59904, 0x17, 0xFF}, /* request to global */
    {0x0CEF2A10, 3, 61184, 0x10, 0x2A}, /* PF 239: last PDU1 value */
    /* DP (bit 24) and EDP (bit 25) are the PGN's top bits */
    {0x19FEF100, 6, 0x1FEF1, 0x00, 0xFF},
    {0x1AFECA00, 6, 0x2FECA, 0x00, 0xFF},
    {0x0DEF1234, 3, 0x1EF00, 0x34, 0x12}, /* DP + PDU1 */
    /* SocketCAN's flag bits 29-31 (CAN_EFF_FLAG...) are ignored */
    {0x9CF00400, 7, 61444, 0x00, 0xFF},
    {0x1FFFFFFF, 7, 0x3FFFF, 0xFF, 0xFF},
    {0x00000000, 0, 0, 0x00, 0x00}, /* PF 0 is PDU1: DA = PS = 0 */
};

static void test_id_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(id_cases); i++) {
		const struct id_case *c = &id_cases[i];
		struct j1939_id id;

		memset(&id, 0x55, sizeof(id));
		j1939_id_parse(c->can_id, &id);
		if (id.prio != c->prio || id.pgn != c->pgn || id.sa != c->sa || id.da != c->da) {
			print_error("%08X: prio %u pgn %u sa %u da %u\n", (unsigned)c->can_id,
				    id.prio, (unsigned)id.pgn, id.sa, id.da);
			fail();
		}
	}
}

static void test_names(void **state)
{
	static const struct {
		uint32_t pgn;
		const char *name;
	} names[] = {
	    {61444, "EEC1"},   {61443, "EEC2"},	     {65247, "EEC3"},	{65262, "ET1"},
	    {65266, "LFE1"},   {61450, "EGF1"},	     {65270, "IC1"},	{65269, "AMB"},
	    {65265, "CCVS1"},  {65253, "HOURS"},     {65248, "VD"},	{65217, "VDHR"},
	    {65276, "DD"},     {61454, "AT1IG1"},    {61455, "AT1OG1"}, {64946, "AT1IMG"},
	    {65110, "AT1T1I"}, {64830, "AT1SCREGT"}, {64916, "EEC7"},
	};

	(void)state;
	for (size_t i = 0; i < NELEM(names); i++) {
		const char *n = j1939_pgn_name(names[i].pgn);

		assert_non_null(n);
		assert_string_equal(n, names[i].name);
	}
	assert_null(j1939_pgn_name(65260));
	assert_null(j1939_pgn_name(0));
	assert_string_equal(j1939_strerror(J1939_OK), "ok");
	assert_string_not_equal(j1939_strerror(J1939_EUNKNOWN), j1939_strerror(J1939_ESHORT));
	assert_string_not_equal(j1939_strerror(J1939_ESHORT), j1939_strerror(J1939_EINVAL));
	assert_string_not_equal(j1939_strerror(J1939_EINVAL), j1939_strerror(-99));
	assert_string_equal(j1939_strerror(-99), "unknown error");
}

/* A per-engine override: engine speed big-endian in bytes 4-5 (as some
 * marine engines send it): 0x14 0x48 -> 0x1448 = 5192 x 0.125 = 649 rpm;
 * torque keeps the standard layout.  An override past the frame's end makes
 * the SPN an error, never a number. */
static void test_override(void **state)
{
	static const uint8_t be[8] = {0x20, 0x7D, 0x87, 0x14, 0x48, 0x00, 0xF0, 0x87};
	const struct j1939_override ov[] = {
	    {.spn = 190, .start = 4, .size = 2, .big_endian = 1, .res_num = 1, .res_den = 8},
	};
	const struct j1939_override bad[] = {
	    {.spn = 190, .start = 8, .size = 2, .res_num = 1, .res_den = 8},
	};
	struct j1939_frame fr;

	(void)state;
	assert_int_equal(j1939_decode_with(61444, be, 8, ov, 1, &fr), J1939_OK);
	assert_int_equal(fr.n, 3);
	for (int i = 0; i < fr.n; i++) {
		if (fr.v[i].sig == SIG_ENGINE_SPEED_RPM)
			assert_float_equal(fr.v[i].value, 649.0, 0);
		if (fr.v[i].sig == SIG_ENGINE_TORQUE_PCT)
			assert_float_equal(fr.v[i].value, 10.0, 0);
	}
	assert_int_equal(j1939_decode_with(61444, be, 8, bad, 1, &fr), J1939_OK);
	assert_int_equal(fr.n, 2);
	assert_int_equal(fr.n_error, 1);
	assert_int_equal(fr.missing[0].sig, SIG_ENGINE_SPEED_RPM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_override),
	    cmocka_unit_test(test_each_signal),
	    cmocka_unit_test(test_every_signal_covered),
	    cmocka_unit_test(test_eec1_full_frame),
	    cmocka_unit_test(test_special_values),
	    cmocka_unit_test(test_lengths_and_unknown),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_id_parse),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
