/* Unit tests for protocols/candump.c: log and screen formats, with and
 * without time, standard and extended ids, RTR, and every error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <string.h>

#include "protocols/candump.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct ok_case {
	const char *line;
	int has_time;
	int64_t t_us;
	const char *ifname;
	uint32_t can_id;
	int extended;
	int rtr;
	uint8_t len;
	uint8_t data[8];
};

#define EEC1_DATA                                                                                  \
	{                                                                                          \
		0x20, 0x7D, 0x87, 0x48, 0x14, 0x00, 0xF0, 0x87                                     \
	}

static const struct ok_case ok_cases[] = {
    /* candump -l */
    {"(1543509533.000838) can0 0CF00400#207D87481400F087", 1, 1543509533000838, "can0", 0x0CF00400,
     1, 0, 8, EEC1_DATA},
    {"(1543509533.5) can0 123#DEADBEEF",
     1,
     1543509533500000,
     "can0",
     0x123,
     0,
     0,
     4,
     {0xDE, 0xAD, 0xBE, 0xEF}},
    {"(1543509533.05) can0 123#01", 1, 1543509533050000, "can0", 0x123, 0, 0, 1, {1}},
    {"(0.000001) vcan1 7FF#", 1, 1, "vcan1", 0x7FF, 0, 0, 0, {0}},
    {"(1543509533.000838) can0 123#R", 1, 1543509533000838, "can0", 0x123, 0, 1, 0, {0}},
    {"(1543509533.000838) can0 18EA00F9#R3", 1, 1543509533000838, "can0", 0x18EA00F9, 1, 1, 3, {0}},
    {"can0 0cf00400#207d87481400f087", 0, 0, "can0", 0x0CF00400, 1, 0, 8, EEC1_DATA},
    {"(1543509533.000838) can0 1FFFFFFF#2011 R",
     1,
     1543509533000838,
     "can0",
     0x1FFFFFFF,
     1,
     0,
     2,
     {0x20, 0x11}},
    {"(1543509533.000838)  can0 000#00 T", 1, 1543509533000838, "can0", 0, 0, 0, 1, {0}},
    {"(1543509533.000838) can0 0CF00400#207D87481400F087\r\n", 1, 1543509533000838, "can0",
     0x0CF00400, 1, 0, 8, EEC1_DATA},
    /* the largest time that fits int64 microseconds */
    {"(9223372036853.999999) can0 123#",
     1,
     INT64_C(9223372036853999999),
     "can0",
     0x123,
     0,
     0,
     0,
     {0}},
    /* screen format */
    {"  can0  0CF00400   [8]  20 7D 87 48 14 00 F0 87", 0, 0, "can0", 0x0CF00400, 1, 0, 8,
     EEC1_DATA},
    {"(1543509533.000838)  can0  0CF00400   [8]  20 7D 87 48 14 00 F0 87", 1, 1543509533000838,
     "can0", 0x0CF00400, 1, 0, 8, EEC1_DATA},
    {" (1543509533.000838)  can0  0CF00400   [8]  20 7D 87 48 14 00 F0 87", 1, 1543509533000838,
     "can0", 0x0CF00400, 1, 0, 8, EEC1_DATA},
    {"  can0  123   [2]  remote request", 0, 0, "can0", 0x123, 0, 1, 2, {0}},
    {" (000.000120)  can1  18EAFF17   [0]  remote request",
     1,
     120,
     "can1",
     0x18EAFF17,
     1,
     1,
     0,
     {0}},
    {"  can0  123   [0]", 0, 0, "can0", 0x123, 0, 0, 0, {0}},
    {"\tcan0\t7ff\t[1]\tab\n", 0, 0, "can0", 0x7FF, 0, 0, 1, {0xAB}},
    {"  abcdefghijklmno  123   [1]  01", 0, 0, "abcdefghijklmno", 0x123, 0, 0, 1, {1}},
};

static void test_ok_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(ok_cases); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct candump_frame f;
		int rc;

		memset(&f, 0x55, sizeof(f));
		rc = candump_parse_line(c->line, &f);
		if (rc != CANDUMP_OK || f.has_time != c->has_time || f.t_us != c->t_us ||
		    strcmp(f.ifname, c->ifname) != 0 || f.can_id != c->can_id ||
		    f.extended != c->extended || f.rtr != c->rtr || f.len != c->len ||
		    memcmp(f.data, c->data, sizeof(f.data)) != 0) {
			print_error("'%s': rc %d time %d/%" PRId64 " if '%.16s' id %X ext %d "
				    "rtr %d len %u\n",
				    c->line, rc, f.has_time, f.t_us, f.ifname, (unsigned)f.can_id,
				    f.extended, f.rtr, f.len);
			fail();
		}
	}
}

struct rc_case {
	const char *line;
	int rc;
};

static const struct rc_case rc_cases[] = {
    {"", CANDUMP_SKIP},
    {"   \t", CANDUMP_SKIP},
    {"\n", CANDUMP_SKIP},
    {"# candump log", CANDUMP_SKIP},
    {"   # indented comment", CANDUMP_SKIP},
    /* not a candump line */
    {"hello", CANDUMP_EFORMAT},
    {"hello world", CANDUMP_EFORMAT},
    {"can0", CANDUMP_EFORMAT},
    {"(1543509533.000838)", CANDUMP_EFORMAT},
    {"(1543509533.000838) can0", CANDUMP_EFORMAT},
    {"(1543509533.000838)can0 123#11", CANDUMP_EFORMAT},
    {"123#11", CANDUMP_EFORMAT},
    {"(1.0) can0 123#11 extra", CANDUMP_EFORMAT},
    {"(1.0) can0 123#11 T X", CANDUMP_EFORMAT},
    {"(1.0) can0 123#11 TX", CANDUMP_EFORMAT},
    {"(1.0) abcdefghijklmnop 123#11", CANDUMP_EFORMAT}, /* 16 > IFNAMSIZ - 1 */
    {"  can0  123   [1]  11 xyz", CANDUMP_EFORMAT},
    {"  can0  123   [8", CANDUMP_EFORMAT},
    {"  can0  123   8]  11", CANDUMP_EFORMAT},
    {"  can0  123   [2]  remote requests", CANDUMP_EFORMAT},
    {"  can0  123   [2]  remote request 11", CANDUMP_EFORMAT},
    /* bad identifier */
    {"can0 12#11", CANDUMP_EID},
    {"can0 1234#11", CANDUMP_EID},
    {"can0 0CF0040#11", CANDUMP_EID},
    {"can0 800#11", CANDUMP_EID},		     /* > 11 bits */
    {"can0 20000080#0000000000000000", CANDUMP_EID}, /* error frame flag */
    {"can0 0CF0040G#11", CANDUMP_EID},
    {"can0 #11", CANDUMP_EID},
    {"  can0  12G   [1]  11", CANDUMP_EID},
    {"  can0  0CF0040   [1]  11", CANDUMP_EID},
    {"  can0  0CF004000   [1]  11", CANDUMP_EID},
    /* bad data or length */
    {"can0 123#1", CANDUMP_EDATA},
    {"can0 123#112233445566778899", CANDUMP_EDATA}, /* 9 bytes */
    {"can0 123#1G", CANDUMP_EDATA},
    {"can0 123#11.22", CANDUMP_EDATA},
    {"can0 123#R9", CANDUMP_EDATA},
    {"can0 123#RX", CANDUMP_EDATA},
    {"can0 123#R11", CANDUMP_EDATA},
    {"  can0  123   [9]  11 22 33 44 55 66 77 88 99", CANDUMP_EDATA},
    {"  can0  123   [3]  11 22", CANDUMP_EDATA}, /* fewer than [len] */
    {"  can0  123   [1]  11 22", CANDUMP_EDATA}, /* more than [len] */
    {"  can0  123   [1]  1G", CANDUMP_EDATA},
    {"  can0  123   [1]  112", CANDUMP_EDATA},
    {"  can0  123   [1]  1", CANDUMP_EDATA},
    {"  can0  123   []", CANDUMP_EDATA},
    {"  can0  123   [x]", CANDUMP_EDATA},
    {"  can0  123   [123]", CANDUMP_EDATA},
    /* bad timestamp */
    {"(1543509533) can0 123#11", CANDUMP_ETIME},
    {"(1543509533.) can0 123#11", CANDUMP_ETIME},
    {"(.5) can0 123#11", CANDUMP_ETIME},
    {"(1543509533.0008381) can0 123#11", CANDUMP_ETIME}, /* 7 digits */
    {"(1543509533.000838 can0 123#11", CANDUMP_ETIME},
    {"(2018-11-29 17:38:53.000838) can0 123#11", CANDUMP_ETIME},
    {"(9223372036854.000000) can0 123#", CANDUMP_ETIME}, /* overflows int64 us */
    {"(99999999999999999999.0) can0 123#", CANDUMP_ETIME},
    {"(-1.0) can0 123#11", CANDUMP_ETIME},
    {"(1.5x) can0 123#11", CANDUMP_ETIME},
    {"(1,5) can0 123#11", CANDUMP_ETIME},
    /* CAN FD */
    {"(1.0) can0 123##311223344", CANDUMP_EFD},
    {"  can0  123  [08]  11 22 33 44 55 66 77 88", CANDUMP_EFD},
};

static void test_rc_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(rc_cases); i++) {
		struct candump_frame f;
		int rc = candump_parse_line(rc_cases[i].line, &f);

		if (rc != rc_cases[i].rc) {
			print_error("'%s': rc %d (%s), want %d (%s)\n", rc_cases[i].line, rc,
				    candump_strerror(rc), rc_cases[i].rc,
				    candump_strerror(rc_cases[i].rc));
			fail();
		}
	}
}

static void test_null_arguments(void **state)
{
	struct candump_frame f;

	(void)state;
	assert_int_equal(candump_parse_line(NULL, &f), CANDUMP_EFORMAT);
	assert_int_equal(candump_parse_line("can0 123#11", NULL), CANDUMP_EFORMAT);
}

static void test_strerror(void **state)
{
	static const int codes[] = {CANDUMP_OK,	   CANDUMP_SKIP,  CANDUMP_EFORMAT, CANDUMP_EID,
				    CANDUMP_EDATA, CANDUMP_ETIME, CANDUMP_EFD};

	(void)state;
	for (size_t i = 0; i < NELEM(codes); i++) {
		assert_string_not_equal(candump_strerror(codes[i]), "unknown error");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(candump_strerror(codes[i]),
						candump_strerror(codes[j]));
	}
	assert_string_equal(candump_strerror(-42), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok_lines),
	    cmocka_unit_test(test_rc_lines),
	    cmocka_unit_test(test_null_arguments),
	    cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
