/* Unit tests for protocols/canlog.c: candump and CANboat lines told apart,
 * skipped lines, bad lines with their reason, a line too long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/canlog.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *line;
	enum canlog_kind kind;
	int has_time;
	int64_t t_us;
	const char *why; /* CANLOG_BAD: the parser's text */
} cases[] = {
    {"(1543509533.000838) can0 0CF00400#207D87481400F087", CANLOG_FRAME, 1, 1543509533000838, NULL},
    {"can0 0CF00400#207D87481400F087", CANLOG_FRAME, 0, 0, NULL},
    {"2016-02-28T19:57:02.825Z,2,127489,4,255,3,00,a0,0f", CANLOG_N2K, 1, 1456689422825000, NULL},
    {",2,127489,4,255,1,00", CANLOG_N2K, 0, 0, NULL},
    {"", CANLOG_SKIP, 0, 0, NULL},
    {"# comment", CANLOG_SKIP, 0, 0, NULL},
    {"this is not candump", CANLOG_BAD, 0, 0, "not a candump line"},
    {"2016-02-28T19:57:02.825Z,2,127489,4,255,3,00,a0", CANLOG_BAD, 0, 0, NULL},
};

static void test_cases(void **state)
{
	struct canlog_line l;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		enum canlog_kind k = canlog_parse(cases[i].line, &l);

		if (k != cases[i].kind)
			fail_msg("case %zu (%s): kind %d, want %d", i, cases[i].line, k,
				 cases[i].kind);
		assert_int_equal(l.kind, k);
		if (k == CANLOG_FRAME || k == CANLOG_N2K) {
			assert_int_equal(l.has_time, cases[i].has_time);
			if (l.has_time)
				assert_int_equal(l.t_us, cases[i].t_us);
		}
		if (k == CANLOG_BAD) {
			assert_non_null(l.why);
			if (cases[i].why)
				assert_string_equal(l.why, cases[i].why);
		}
	}
	assert_int_equal(canlog_parse(cases[0].line, &l), CANLOG_FRAME);
	assert_int_equal(l.frame.can_id, 0x0CF00400);
	assert_int_equal(canlog_parse(cases[2].line, &l), CANLOG_N2K);
	assert_int_equal(l.msg.pgn, 127489);
	assert_int_equal(l.msg.len, 3);
}

static void test_too_long(void **state)
{
	struct canlog_line l;

	(void)state;
	assert_int_equal(canlog_too_long(&l), CANLOG_BAD);
	assert_string_equal(l.why, "line too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
