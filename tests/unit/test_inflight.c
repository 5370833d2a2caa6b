/* Unit tests for gateway/inflight.c: the in-flight table and its tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/inflight.h"

static void test_batch_rows(void **state)
{
	struct inflight *t = inflight_new(4, 3);
	const uint64_t *rows;
	int s, n;

	(void)state;
	assert_non_null(t);
	s = inflight_take(t, 7);
	assert_true(s >= 0);
	assert_int_equal(inflight_add(t, s, 10), 0);
	assert_int_equal(inflight_add(t, s, 12), 0);
	assert_int_equal(inflight_add(t, s, 15), 0);
	assert_int_equal(inflight_add(t, s, 16), -1); /* full: 3 rows a slot */
	assert_int_equal(inflight_resolve(t, inflight_token(t, s)), s);
	rows = inflight_rows(t, s, &n);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0], 10);
	assert_int_equal(rows[1], 12);
	assert_int_equal(rows[2], 15);
	assert_int_equal(inflight_tag(t, s), 7);
	inflight_free(t);
}

static void test_window_full(void **state)
{
	struct inflight *t = inflight_new(3, 1);

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(inflight_take(t, 0) >= 0);
	assert_int_equal(inflight_used(t), 3);
	assert_int_equal(inflight_take(t, 0), -1);
	inflight_release(t, 1);
	assert_int_equal(inflight_used(t), 2);
	assert_int_equal(inflight_take(t, 0), 1);
	inflight_free(t);
}

/* A callback after its slot was released and reused names the old use:
 * it must not resolve to the new rows. */
static void test_stale_after_release(void **state)
{
	struct inflight *t = inflight_new(1, 2);
	void *old, *fresh;
	int s;

	(void)state;
	s = inflight_take(t, 0);
	inflight_add(t, s, 100);
	old = inflight_token(t, s);
	inflight_release(t, s);
	assert_int_equal(inflight_resolve(t, old), -1); /* released: stale */
	s = inflight_take(t, 0);
	inflight_add(t, s, 200);
	fresh = inflight_token(t, s);
	assert_ptr_not_equal(old, fresh);
	assert_int_equal(inflight_resolve(t, old), -1); /* reused: still stale */
	assert_int_equal(inflight_resolve(t, fresh), s);
	inflight_free(t);
}

/* A reconnect resets the table: every token of the old session is stale,
 * even when the same slot is busy again with new rows. */
static void test_stale_after_reset(void **state)
{
	struct inflight *t = inflight_new(8, 4);
	void *tok[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		int s = inflight_take(t, 0);

		inflight_add(t, s, (uint64_t)i + 1);
		tok[i] = inflight_token(t, s);
	}
	inflight_reset(t);
	assert_int_equal(inflight_used(t), 0);
	for (int i = 0; i < 8; i++)
		assert_true(inflight_take(t, 0) >= 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(inflight_resolve(t, tok[i]), -1);
	inflight_free(t);
}

static void test_bad_tokens(void **state)
{
	struct inflight *t = inflight_new(2, 1);

	(void)state;
	assert_int_equal(inflight_resolve(t, NULL), -1);
	assert_int_equal(inflight_resolve(t, (void *)(uintptr_t)5), -1); /* slot out of range */
	assert_null(inflight_new(0, 1));
	assert_null(inflight_new(INFLIGHT_MAX_SLOTS + 1, 1));
	assert_null(inflight_new(4, 0));
	inflight_free(t);
}

/* Many reuses of one slot: every token differs from the live one. */
static void test_generations(void **state)
{
	struct inflight *t = inflight_new(1, 1);
	void *first;
	int s;

	(void)state;
	s = inflight_take(t, 0);
	first = inflight_token(t, s);
	inflight_release(t, s);
	for (int i = 0; i < 100000; i++) {
		s = inflight_take(t, 0);
		assert_int_equal(inflight_resolve(t, first), -1);
		inflight_release(t, s);
	}
	inflight_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_rows),		cmocka_unit_test(test_window_full),
	    cmocka_unit_test(test_stale_after_release), cmocka_unit_test(test_stale_after_reset),
	    cmocka_unit_test(test_bad_tokens),		cmocka_unit_test(test_generations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
