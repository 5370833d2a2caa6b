/* Unit tests for protocols/canboat.c: the time forms and their conversion,
 * fields and their ranges, data byte counts and hex, blank lines, and the
 * auto-detection against candump lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocols/canboat.h"
#include "protocols/n2k.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The 127489 message worked out in test_n2k.c. */
#define DYN_BYTES   "00,a0,0f,30,0e,ed,8a,04,0b,fd,00,28,d0,43,00,64,00,90,01,ff,00,00,00,00,4b,3c"
#define RAPID_BYTES "01,21,1c,df,05,7f,ff,ff"

/*
 * 2016-02-28T19:57:02.825Z by hand:
 *   days 1970-01-01 .. 2016-01-01: 46 years * 365 + 11 leap days (1972 ..
 *   2012) = 16801; + 31 (January) + 27 (Feb 1-27) = 16859 days
 *   16859 * 86400 = 1456617600 s; + 19 h (68400) + 57 min (3420) + 2 s
 *   = 1456689422 s; + .825 s -> 1456689422825000 us
 */
#define T_2016 INT64_C(1456689422825000)

struct line_case {
	const char *what;
	const char *line;
	int rc;
	int has_time;
	int64_t t_us;
	uint8_t prio;
	uint32_t pgn;
	uint8_t src, dst, len;
	uint8_t first, last; /* data[0], data[len - 1] */
};

static const struct line_case good[] = {
    {"ISO with fraction and Z", "2016-02-28T19:57:02.825Z,2,127489,4,255,26," DYN_BYTES, CANBOAT_OK,
     1, T_2016, 2, 127489, 4, 255, 26, 0x00, 0x3c},
    {"ISO without fraction", "2016-02-28T19:57:02Z,2,127489,4,255,26," DYN_BYTES, CANBOAT_OK, 1,
     INT64_C(1456689422000000), 2, 127489, 4, 255, 26, 0x00, 0x3c},
    {"ISO without Z", "2016-02-28T19:57:02.825,2,127489,4,255,26," DYN_BYTES, CANBOAT_OK, 1, T_2016,
     2, 127489, 4, 255, 26, 0x00, 0x3c},
    {"space for T", "2016-02-28 19:57:02.825Z,2,127489,4,255,26," DYN_BYTES, CANBOAT_OK, 1, T_2016,
     2, 127489, 4, 255, 26, 0x00, 0x3c},
    {"older form", "2016-02-28-19:57:02.825,2,127489,4,255,26," DYN_BYTES, CANBOAT_OK, 1, T_2016, 2,
     127489, 4, 255, 26, 0x00, 0x3c},
    {"older form without fraction", "2016-02-28-19:57:02,2,127489,4,255,26," DYN_BYTES, CANBOAT_OK,
     1, INT64_C(1456689422000000), 2, 127489, 4, 255, 26, 0x00, 0x3c},
    /* 1 fraction digit .8 = 800000 us; 6 digits exact; 9 digits truncated */
    {"1 fraction digit", "2016-02-28T19:57:02.8Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_OK, 1,
     INT64_C(1456689422800000), 6, 127488, 1, 255, 8, 0x01, 0xff},
    {"6 fraction digits", "2016-02-28T19:57:02.000001Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_OK,
     1, INT64_C(1456689422000001), 6, 127488, 1, 255, 8, 0x01, 0xff},
    {"9 fraction digits", "2016-02-28T19:57:02.123456789Z,6,127488,1,255,8," RAPID_BYTES,
     CANBOAT_OK, 1, INT64_C(1456689422123456), 6, 127488, 1, 255, 8, 0x01, 0xff},
    /* the epoch itself */
    {"epoch", "1970-01-01T00:00:00Z,0,0,0,0,1,00", CANBOAT_OK, 1, 0, 0, 0, 0, 0, 1, 0, 0},
    /* 2016-02-29 = day 16860: 16860 * 86400 = 1456704000 s */
    {"leap day", "2016-02-29T00:00:00Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_OK, 1,
     INT64_C(1456704000000000), 6, 127488, 1, 255, 8, 0x01, 0xff},
    /* 2000-01-01 = day 10957 (30 * 365 + 7 leap days); + 31 + 29 (2000 is a
     * leap year: divisible by 400) = 11017 days * 86400 = 951868800 s */
    {"2000-03-01", "2000-03-01T00:00:00Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_OK, 1,
     INT64_C(951868800000000), 6, 127488, 1, 255, 8, 0x01, 0xff},
    /* 2000-02-29 exists (2000 is divisible by 400): day 11016 * 86400 */
    {"2000-02-29", "2000-02-29T00:00:00Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_OK, 1,
     INT64_C(951782400000000), 6, 127488, 1, 255, 8, 0x01, 0xff},
    /* 23:59:59.999999 on 1999-12-31 = 946684800 s - 1 us */
    {"last us of 1999", "1999-12-31T23:59:59.999999Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_OK, 1,
     INT64_C(946684799999999), 6, 127488, 1, 255, 8, 0x01, 0xff},
    /* upper-case hex, CRLF, leading blanks */
    {"upper case, CRLF", "  2016-02-28T19:57:02.825Z,2,127488,17,255,8,01,21,1C,DF,05,7F,FF,FE\r\n",
     CANBOAT_OK, 1, T_2016, 2, 127488, 17, 255, 8, 0x01, 0xfe},
    /* field edges: priority 7, PGN 0x3FFFF, source 0, destination 255 */
    {"field maxima", "2016-02-28T19:57:02.825Z,7,262143,0,255,1,ab", CANBOAT_OK, 1, T_2016, 7,
     262143, 0, 255, 1, 0xab, 0xab},
    {"no time", ",2,127488,1,255,8," RAPID_BYTES, CANBOAT_OK, 0, 0, 2, 127488, 1, 255, 8, 0x01,
     0xff},
    {"no data", "2016-02-28T19:57:02.825Z,6,59904,1,255,0", CANBOAT_OK, 1, T_2016, 6, 59904, 1, 255,
     0, 0, 0},
    {"blank", "", CANBOAT_SKIP, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"spaces", "  \t\r\n", CANBOAT_SKIP, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"comment", "# 2016-02-28T19:57:02.825Z,2,127489,4,255,26", CANBOAT_SKIP, 0, 0, 0, 0, 0, 0, 0,
     0, 0},
};

static void test_good_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(good); i++) {
		const struct line_case *c = &good[i];
		struct canboat_msg m;
		int rc = canboat_parse_line(c->line, &m);

		if (rc != c->rc || m.has_time != c->has_time || m.t_us != c->t_us ||
		    m.prio != c->prio || m.pgn != c->pgn || m.src != c->src || m.dst != c->dst ||
		    m.len != c->len ||
		    (m.len > 0 && (m.data[0] != c->first || m.data[m.len - 1] != c->last))) {
			print_error("%s: rc %d time %d %lld prio %u pgn %u src %u dst %u len %u\n",
				    c->what, rc, m.has_time, (long long)m.t_us, m.prio,
				    (unsigned)m.pgn, m.src, m.dst, m.len);
			fail();
		}
	}
}

struct bad_case {
	const char *what;
	const char *line;
	int rc;
};

#define TS "2016-02-28T19:57:02.825Z"

static const struct bad_case bad[] = {
    /* byte count */
    {"one byte short", TS ",6,127488,1,255,8,01,21,1c,df,05,7f,ff", CANBOAT_ECOUNT},
    {"one byte over", TS ",6,127488,1,255,8," RAPID_BYTES ",00", CANBOAT_ECOUNT},
    {"no bytes for 8", TS ",6,127488,1,255,8", CANBOAT_ECOUNT},
    {"bytes for 0", TS ",6,127488,1,255,0,01", CANBOAT_ECOUNT},
    {"trailing comma", TS ",6,127488,1,255,8," RAPID_BYTES ",", CANBOAT_ECOUNT},
    /* hex */
    {"bad hex digit", TS ",6,127488,1,255,8,01,2g,1c,df,05,7f,ff,ff", CANBOAT_EDATA},
    {"one digit", TS ",6,127488,1,255,8,1,21,1c,df,05,7f,ff,ff", CANBOAT_EDATA},
    {"three digits", TS ",6,127488,1,255,8,001,21,1c,df,05,7f,ff,ff", CANBOAT_EDATA},
    {"empty byte", TS ",6,127488,1,255,8,01,,1c,df,05,7f,ff,ff", CANBOAT_EDATA},
    {"space in byte", TS ",6,127488,1,255,8,01, 2,1c,df,05,7f,ff,ff", CANBOAT_EDATA},
    {"0x prefix", TS ",6,127488,1,255,1,0x", CANBOAT_EDATA},
    /* ranges */
    {"priority 8", TS ",8,127488,1,255,8," RAPID_BYTES, CANBOAT_ERANGE},
    {"PGN 262144", TS ",6,262144,1,255,8," RAPID_BYTES, CANBOAT_ERANGE},
    {"source 256", TS ",6,127488,256,255,8," RAPID_BYTES, CANBOAT_ERANGE},
    {"destination 256", TS ",6,127488,1,256,8," RAPID_BYTES, CANBOAT_ERANGE},
    {"length 224", TS ",6,127488,1,255,224," RAPID_BYTES, CANBOAT_ERANGE},
    {"8 digits", TS ",6,12748800,1,255,8," RAPID_BYTES, CANBOAT_EFORMAT},
    /* shape of numbers and fields */
    {"negative", TS ",-1,127488,1,255,8," RAPID_BYTES, CANBOAT_EFORMAT},
    {"plus sign", TS ",+6,127488,1,255,8," RAPID_BYTES, CANBOAT_EFORMAT},
    {"space before number", TS ", 6,127488,1,255,8," RAPID_BYTES, CANBOAT_EFORMAT},
    {"hex PGN", TS ",6,0x1F200,1,255,8," RAPID_BYTES, CANBOAT_EFORMAT},
    {"empty priority", TS ",,127488,1,255,8," RAPID_BYTES, CANBOAT_EFORMAT},
    {"empty length", TS ",6,127488,1,255,", CANBOAT_EFORMAT},
    {"too few fields", TS ",2,127489", CANBOAT_EFORMAT},
    {"time only", TS, CANBOAT_EFORMAT},
    {"candump log line", "(1543509533.000838) can0 0CF00400#207D87481400F087", CANBOAT_EFORMAT},
    /* time */
    {"month 13", "2016-13-28T19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"month 0", "2016-00-28T19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"day 0", "2016-02-00T19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"April 31", "2016-04-31T19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"Feb 29 2015", "2015-02-29T19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"Feb 29 2100", "2100-02-29T19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"hour 24", "2016-02-28T24:00:00Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"minute 60", "2016-02-28T19:60:02Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"leap second", "2016-12-31T23:59:60Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"year 1969", "1969-12-31T23:59:59Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"bad separator", "2016-02-28X19:57:02.825Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"time zone offset", "2016-02-28T19:57:02.825+01:00,6,127488,1,255,8," RAPID_BYTES,
     CANBOAT_ETIME},
    {"dot without digits", "2016-02-28T19:57:02.Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"10 fraction digits", "2016-02-28T19:57:02.1234567890Z,6,127488,1,255,8," RAPID_BYTES,
     CANBOAT_ETIME},
    {"one-digit hour", "2016-02-28T9:57:02Z,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"date only", "2016-02-28,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"Z twice", "2016-02-28T19:57:02ZZ,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
    {"seconds since epoch", "1456689422.825,6,127488,1,255,8," RAPID_BYTES, CANBOAT_ETIME},
};

static void test_bad_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(bad); i++) {
		struct canboat_msg m;
		int rc = canboat_parse_line(bad[i].line, &m);

		if (rc != bad[i].rc) {
			print_error("%s: rc %d (%s), want %d\n", bad[i].what, rc,
				    canboat_strerror(rc), bad[i].rc);
			fail();
		}
	}
	assert_int_equal(canboat_parse_line(NULL, &(struct canboat_msg){0}), CANBOAT_EFORMAT);
	assert_int_equal(canboat_parse_line("", NULL), CANBOAT_EFORMAT);
}

/* 223 bytes is the most a line can carry; one more is a count error. */
static void test_longest_line(void **state)
{
	char line[1024];
	struct canboat_msg m;
	size_t n;

	(void)state;
	n = (size_t)snprintf(line, sizeof(line), TS ",3,130820,9,255,223");
	for (int i = 0; i < 223; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",%02x", i);
	assert_true(n < sizeof(line));
	assert_int_equal(canboat_parse_line(line, &m), CANBOAT_OK);
	assert_int_equal(m.len, 223);
	for (int i = 0; i < 223; i++)
		assert_int_equal(m.data[i], i);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ",ff");
	assert_true(n < sizeof(line));
	assert_int_equal(canboat_parse_line(line, &m), CANBOAT_ECOUNT);
}

/* Every byte lands where it belongs, and decodes to the worked values. */
static void test_line_to_signals(void **state)
{
	static const uint8_t want[26] = {
	    0x00, 0xA0, 0x0F, 0x30, 0x0E, 0xED, 0x8A, 0x04, 0x0B, 0xFD, 0x00, 0x28, 0xD0,
	    0x43, 0x00, 0x64, 0x00, 0x90, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x4B, 0x3C,
	};
	struct canboat_msg m;
	struct n2k_msg msg;

	(void)state;
	assert_int_equal(canboat_parse_line(TS ",2,127489,4,255,26," DYN_BYTES, &m), CANBOAT_OK);
	assert_memory_equal(m.data, want, sizeof(want));
	assert_int_equal(n2k_decode(m.pgn, m.data, m.len, &msg), N2K_OK);
	assert_int_equal(msg.n, 6);
	assert_int_equal(msg.n_na + msg.n_error, 0);
}

static void test_looks_like(void **state)
{
	static const struct {
		const char *line;
		int want;
	} cases[] = {
	    {TS ",2,127489,4,255,26," DYN_BYTES, 1},
	    {"2016-02-28 19:57:02.825,2,127489", 1},
	    {"2016-02-28-19:57:02.825,2,127489", 1},
	    {"  2016-02-28T19:57:02.825Z,2", 1},
	    {",2,127488,1,255,8," RAPID_BYTES, 1},
	    /* cheap: the shape decides, not validity */
	    {"2016-99-28T,", 1},
	    {TS, 0}, /* no comma */
	    {"2016-02-28", 0},
	    {"(1543509533.000838) can0 0CF00400#207D87481400F087", 0},
	    {"can0  0CF00400   [8]  20 7D 87 48 14 00 F0 87", 0},
	    {"(2016-02-28) can0 123#00,00", 0},
	    {"1456689422.825,2,127489", 0},
	    {"# " TS ",2", 0},
	    {"", 0},
	    {",", 0},
	    {"201", 0},
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		if (canboat_looks_like(cases[i].line) != cases[i].want) {
			print_error("\"%s\": want %d\n", cases[i].line, cases[i].want);
			fail();
		}
	}
	assert_int_equal(canboat_looks_like(NULL), 0);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = CANBOAT_ECOUNT; e <= CANBOAT_SKIP; e++)
		assert_string_not_equal(canboat_strerror(e), "unknown error");
	assert_string_equal(canboat_strerror(-99), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_lines),	 cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_longest_line), cmocka_unit_test(test_line_to_signals),
	    cmocka_unit_test(test_looks_like),	 cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests_name("canboat", tests, NULL, NULL);
}
