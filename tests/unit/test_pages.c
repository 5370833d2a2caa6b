/* Unit tests of pages: what pages_alloc gives is zero, writable to its last
 * byte, and its own (two allocations do not share a page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/pages.h"

static void test_zero_and_writable(void **state)
{
	size_t n = 3 * (size_t)sysconf(_SC_PAGESIZE) + 100;
	unsigned char *p = pages_alloc(n), *q = pages_alloc(n);

	(void)state;
	assert_non_null(p);
	assert_non_null(q);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xa5, n);
	assert_int_equal(p[n - 1], 0xa5);
	/* page-aligned, so nothing else lives in p's pages */
	assert_int_equal((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	assert_int_equal(q[0], 0);
	pages_free(p, n);
	pages_free(q, n);
	pages_free(NULL, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zero_and_writable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
