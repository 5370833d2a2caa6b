/* Unit tests of clock: ISO 8601 formatting, source names, live mode, and
 * replay mode (which, once begun, stays on: the replay tests run last). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gateway/clock.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void test_format_iso(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {999, "1970-01-01T00:00:00.999Z"},
	    {1000, "1970-01-01T00:00:01.000Z"},
	    {INT64_C(1700000000000), "2023-11-14T22:13:20.000Z"},
	    {INT64_C(1700000000007), "2023-11-14T22:13:20.007Z"},
	    {INT64_C(1582979696789), "2020-02-29T12:34:56.789Z"}, /* leap day */
	    {INT64_C(1709251199999), "2024-02-29T23:59:59.999Z"}, /* its last ms */
	    {INT64_C(1709251200000), "2024-03-01T00:00:00.000Z"}, /* and the next */
	    {INT64_C(951782400000), "2000-02-29T00:00:00.000Z"},  /* 2000 is leap */
	    {INT64_C(4102444800000), "2100-01-01T00:00:00.000Z"}, /* beyond 2038 */
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		clock_format_iso(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

/* 25 bytes hold the text exactly; a smaller buffer is cut, never overrun. */
static void test_format_iso_size(void **state)
{
	char buf[32];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	clock_format_iso(INT64_C(1582979696789), buf, 25);
	assert_string_equal(buf, "2020-02-29T12:34:56.789Z");
	memset(buf, 'x', sizeof(buf));
	clock_format_iso(INT64_C(1582979696789), buf, 11);
	assert_string_equal(buf, "2020-02-29");
	assert_int_equal(buf[11], 'x');
}

static void test_src_names(void **state)
{
	(void)state;
	assert_string_equal(clock_src_name(TS_UNSYNCED), "unsynced");
	assert_string_equal(clock_src_name(TS_RTC), "rtc");
	assert_string_equal(clock_src_name(TS_NTP), "ntp");
	assert_string_equal(clock_src_name(TS_GNSS), "gnss");
	assert_string_equal(clock_src_name(TS_REPLAY), "replay");
	assert_string_equal(clock_src_name((enum ts_src)99), "unsynced");
	assert_string_equal(clock_src_name((enum ts_src) - 1), "unsynced");
}

static void test_live(void **state)
{
	struct clock_now a, b;
	int64_t m0, m1, r0, r1;
	time_t before, after;

	(void)state;
	clock_init_live();
	assert_int_equal(clock_is_replay(), 0);
	m0 = clock_mono_ms();
	r0 = clock_real_ms();
	assert_true(m0 >= 0 && m0 < 1000); /* counted from clock_init_live */
	before = time(NULL);
	clock_now(&a);
	after = time(NULL);
	assert_true(a.src != TS_REPLAY);
	assert_true(a.src == TS_NTP || a.src == TS_RTC || a.src == TS_UNSYNCED);
	assert_true(a.wall_ms >= (int64_t)before * 1000 && a.wall_ms < ((int64_t)after + 1) * 1000);
	sleep_ms(30);
	m1 = clock_mono_ms();
	r1 = clock_real_ms();
	clock_now(&b);
	assert_true(m1 - m0 >= 30 && m1 - m0 < 5000);
	assert_true(r1 - r0 >= 30 && r1 - r0 < 5000);
	assert_true(b.mono_ms >= m1);
	assert_true(b.wall_ms >= a.wall_ms);
	assert_true(b.src != TS_REPLAY);
}

static void test_replay(void **state)
{
	const int64_t t0 = INT64_C(1700000000123456);
	struct clock_now now;
	int64_t real0;

	(void)state;
	clock_init_live();
	assert_int_equal(clock_replay_advance(t0, NULL), CLOCK_STEP_ON);
	assert_int_equal(clock_is_replay(), 1);
	clock_now(&now);
	assert_int_equal(now.src, TS_REPLAY);
	assert_int_equal(now.wall_ms, INT64_C(1700000000123));
	assert_int_equal(now.mono_ms, 0);

	/* real time does not move the replay clock */
	real0 = clock_real_ms();
	sleep_ms(20);
	assert_int_equal(clock_mono_ms(), 0);
	assert_true(clock_real_ms() - real0 >= 20);

	assert_int_equal(clock_replay_advance(t0 + 1500000, NULL), CLOCK_STEP_ON);
	clock_now(&now);
	assert_int_equal(now.mono_ms, 1500);
	assert_int_equal(now.wall_ms, INT64_C(1700000001623));

	/* a log that steps back (jitter, up to 2 s) does not move time backwards */
	assert_int_equal(clock_replay_advance(t0 + 1000000, NULL), CLOCK_STEP_HELD);
	clock_now(&now);
	assert_int_equal(now.mono_ms, 1500);
	assert_int_equal(now.wall_ms, INT64_C(1700000001623));
	assert_int_equal(clock_replay_advance(t0, NULL), CLOCK_STEP_HELD);
	assert_int_equal(clock_mono_ms(), 1500);

	/* and forward again from there */
	assert_int_equal(clock_replay_advance(t0 + 2000999, NULL), CLOCK_STEP_ON);
	clock_now(&now);
	assert_int_equal(now.mono_ms, 2000);
	assert_int_equal(now.wall_ms, INT64_C(1700000002124));
	assert_int_equal(now.src, TS_REPLAY);
	assert_int_equal(clock_is_replay(), 1);
}

/* Beyond jitter the wall time follows the log back, and a silence longer
 * than CLOCK_GAP_MS is a gap; monotonic time never runs back. */
static void test_replay_steps(void **state)
{
	const int64_t t0 = INT64_C(1700000100000000);
	struct clock_jump j;
	struct clock_now now;
	int64_t m0;

	(void)state;
	assert_int_not_equal(clock_replay_advance(t0, NULL), CLOCK_STEP_GAP);
	m0 = clock_mono_ms();
	/* 10 s back: the logger's clock stepped */
	assert_int_equal(clock_replay_advance(t0 - 10000000, &j), CLOCK_STEP_BACK);
	assert_int_equal(j.from_ms, t0 / 1000);
	assert_int_equal(j.to_ms, t0 / 1000 - 10000);
	assert_int_equal(j.mono_ms, m0);
	clock_now(&now);
	assert_int_equal(now.wall_ms, t0 / 1000 - 10000);
	assert_int_equal(now.mono_ms, m0);
	/* on from the new time */
	assert_int_equal(clock_replay_advance(t0 - 9000000, NULL), CLOCK_STEP_ON);
	assert_int_equal(clock_mono_ms(), m0 + 1000);
	/* exactly CLOCK_GAP_MS is still a silence; one more microsecond a gap */
	assert_int_equal(clock_replay_advance(t0 - 9000000 + CLOCK_GAP_MS * INT64_C(1000), NULL),
			 CLOCK_STEP_ON);
	assert_int_equal(clock_replay_advance(t0 - 9000000 + CLOCK_GAP_MS * INT64_C(2000) + 1, &j),
			 CLOCK_STEP_GAP);
	assert_int_equal(j.from_ms, t0 / 1000 - 9000 + CLOCK_GAP_MS);
	assert_int_equal(j.mono_ms, m0 + 1000 + CLOCK_GAP_MS);
	/* monotonic time counts the gap: what was fresh before it is stale */
	assert_int_equal(clock_mono_ms(), m0 + 1000 + 2 * CLOCK_GAP_MS);
	/* 10^8 s on: one gap, no more */
	assert_int_equal(clock_replay_advance(t0 + INT64_C(100000000000000), &j), CLOCK_STEP_GAP);
	clock_now(&now);
	assert_int_equal(now.wall_ms, t0 / 1000 + INT64_C(100000000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_iso),	 cmocka_unit_test(test_format_iso_size),
	    cmocka_unit_test(test_src_names),	 cmocka_unit_test(test_live),
	    cmocka_unit_test(test_replay), /* last: replay mode stays on */
	    cmocka_unit_test(test_replay_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
