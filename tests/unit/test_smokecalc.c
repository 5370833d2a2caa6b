/* Unit tests of smokecalc: Beer-Lambert both ways, worked by hand, and the
 * GB 36886 table lookup at its class and power-band edges. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "protocols/smokecalc.h"

static void test_k_from_n(void **state)
{
	double k = -1;

	(void)state;
	/* 50 % over 0.430 m: ln 2 / 0.43 = 1.6119... */
	assert_int_equal(smokecalc_k_from_n(50, 0.430, &k), SMOKECALC_OK);
	assert_float_equal(k, 0.6931471805599453 / 0.430, 1e-12);
	assert_int_equal(smokecalc_k_from_n(0, 0.430, &k), SMOKECALC_OK);
	assert_float_equal(k, 0, 0);
	/* 1.61 m^-1 (class I limit) is N = 50.0 % at L = 0.430 */
	assert_int_equal(smokecalc_k_from_n(49.94, 0.430, &k), SMOKECALC_OK);
	assert_float_equal(k, 1.61, 0.001);
}

static void test_n_from_k_roundtrip(void **state)
{
	(void)state;
	for (double k = 0; k < 10; k += 0.37) {
		double n, back;

		assert_int_equal(smokecalc_n_from_k(k, 0.430, &n), SMOKECALC_OK);
		assert_true(n >= 0 && n < 100);
		assert_int_equal(smokecalc_k_from_n(n, 0.430, &back), SMOKECALC_OK);
		assert_float_equal(back, k, 1e-9);
	}
}

static void test_domain(void **state)
{
	double v = 42;

	(void)state;
	assert_int_equal(smokecalc_k_from_n(100, 0.43, &v), SMOKECALC_EDOMAIN);
	assert_int_equal(smokecalc_k_from_n(-0.1, 0.43, &v), SMOKECALC_EDOMAIN);
	assert_int_equal(smokecalc_k_from_n(NAN, 0.43, &v), SMOKECALC_EDOMAIN);
	assert_int_equal(smokecalc_k_from_n(10, 0, &v), SMOKECALC_EDOMAIN);
	assert_int_equal(smokecalc_n_from_k(-1, 0.43, &v), SMOKECALC_EDOMAIN);
	assert_int_equal(smokecalc_n_from_k(INFINITY, 0.43, &v), SMOKECALC_EDOMAIN);
	assert_float_equal(v, 42, 0);
	assert_string_equal(smokecalc_strerror(SMOKECALC_EDOMAIN),
			    "value outside the domain of the formula");
}

static void test_limits(void **state)
{
	static const struct {
		int stage;
		double kw, k;
	} cases[] = {
	    {1, 18.9, 3.00}, {2, 19, 2.00}, {2, 36.9, 2.00}, {1, 37, 1.61},  {3, 10, 2.00},
	    {3, 20, 1.00},   {3, 75, 0.80}, {4, 10, 0.50},   {4, 500, 0.50}, {6, 200, 0.50},
	};
	double k;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    smokecalc_limit(&smokecalc_gb36886, cases[i].stage, cases[i].kw, &k),
		    SMOKECALC_OK);
		assert_float_equal(k, cases[i].k, 0);
	}
	assert_int_equal(smokecalc_limit(&smokecalc_gb36886, 0, 75, &k), SMOKECALC_ERANGE);
	assert_int_equal(smokecalc_limit(&smokecalc_gb36886, 7, 75, &k), SMOKECALC_ERANGE);
	assert_int_equal(smokecalc_limit(&smokecalc_gb36886, 4, 0, &k), SMOKECALC_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_k_from_n),
	    cmocka_unit_test(test_n_from_k_roundtrip),
	    cmocka_unit_test(test_domain),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
