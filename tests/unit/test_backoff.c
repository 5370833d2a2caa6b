/* Unit tests for gateway/backoff.c: growth, cap, jitter bounds, the reset
 * only after a session that lasted, and seeding per instance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/backoff.h"

static void test_grows_and_caps(void **state)
{
	struct backoff b;
	int steps[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};

	(void)state;
	backoff_init(&b, 500, 8000, BACKOFF_FULL);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int d;

		assert_int_equal(backoff_step(&b), steps[i]);
		d = backoff_next(&b, 0);
		assert_in_range(d, 500, steps[i]);
	}
}

static void test_equal_jitter_bounds(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b, 1000, 64000, BACKOFF_EQUAL);
	for (int i = 0; i < 200; i++) {
		int step = backoff_step(&b), d = backoff_next(&b, 0);

		assert_in_range(d, step / 2 > 1000 ? step / 2 : 1000, step);
	}
}

/* Full jitter spreads: over many draws at the cap, delays differ. */
static void test_jitter_spreads(void **state)
{
	struct backoff b;
	int lo = 1 << 30, hi = 0;

	(void)state;
	backoff_init(&b, 500, 60000, BACKOFF_FULL);
	for (int i = 0; i < 10; i++)
		backoff_next(&b, 0);
	for (int i = 0; i < 500; i++) {
		int d = backoff_next(&b, 0);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 20000);
	assert_true(hi > 40000);
}

/* A session that ends at once (a broker closing on each publish) does not
 * reset the step: the reconnects slow down. */
static void test_short_sessions_back_off(void **state)
{
	struct backoff b;
	int64_t now = 0;

	(void)state;
	backoff_init(&b, 500, 30000, BACKOFF_EQUAL);
	for (int i = 0; i < 8; i++) {
		now += backoff_next(&b, now);
		backoff_up(&b, now); /* connected ... */
		now += 1000;	     /* ... and dropped a second later */
	}
	assert_int_equal(backoff_step(&b), 30000);
	/* A session that lasted resets it. */
	backoff_up(&b, now);
	now += BACKOFF_STABLE_MS;
	assert_in_range(backoff_next(&b, now), 500, 500);
	assert_int_equal(backoff_step(&b), 1000);
}

/* Two instances are seeded apart (getrandom), the same seed repeats. */
static void test_seeding(void **state)
{
	struct backoff a, b;
	int same = 0;

	(void)state;
	backoff_init(&a, 1, 1000000, BACKOFF_FULL);
	backoff_init(&b, 1, 1000000, BACKOFF_FULL);
	for (int i = 0; i < 25; i++)
		same += backoff_next(&a, 0) == backoff_next(&b, 0);
	assert_true(same < 20);
	backoff_init(&a, 1, 1000000, BACKOFF_FULL);
	backoff_init(&b, 1, 1000000, BACKOFF_FULL);
	backoff_seed(&a, 42);
	backoff_seed(&b, 42);
	for (int i = 0; i < 25; i++)
		assert_int_equal(backoff_next(&a, 0), backoff_next(&b, 0));
}

static void test_reset(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b, 200, 800, BACKOFF_FULL);
	backoff_next(&b, 0);
	backoff_next(&b, 0);
	assert_int_equal(backoff_step(&b), 800);
	backoff_reset(&b);
	assert_int_equal(backoff_step(&b), 200);
	/* A cap below the minimum is the minimum. */
	backoff_init(&b, 1000, 10, BACKOFF_FULL);
	assert_int_equal(backoff_next(&b, 0), 1000);
	assert_int_equal(backoff_step(&b), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grows_and_caps), cmocka_unit_test(test_equal_jitter_bounds),
	    cmocka_unit_test(test_jitter_spreads), cmocka_unit_test(test_short_sessions_back_off),
	    cmocka_unit_test(test_seeding),	   cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
