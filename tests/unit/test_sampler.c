/* Unit tests of the signal table and the sampler: what is fresh, what a
 * not-available mark removes, and the record body a user receives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/sampler.h"
#include "gateway/table.h"

#include <jansson.h>

#define STALE_MS 2000

/* {"sig":...} of the record sampled at now_ms, as it goes out. */
static json_t *sampler_json(const struct table *t, int64_t now_ms)
{
	static struct payload_record rec;
	static const struct payload_header h = {.v = 1, .dev = "test"};
	static char buf[65536];
	json_t *all, *body;

	payload_record_init(&rec);
	sampler_record(t, now_ms, &rec);
	assert_true(payload_encode_record(&h, &rec, buf, sizeof(buf)) > 0);
	all = json_loads(buf, 0, NULL);
	body = json_pack("{s:O}", "sig", json_object_get(all, "sig"));
	json_decref(all);
	return body;
}

/* The record as compact JSON with sorted keys, for exact comparison. */
static void expect_record(const struct table *t, int64_t now_ms, const char *want)
{
	json_t *rec = sampler_json(t, now_ms);
	char *text;

	assert_non_null(rec);
	text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
	json_decref(rec);
}

static void test_fresh_until_stale(void **state)
{
	struct table t;
	double v = 0;

	(void)state;
	table_init(&t, STALE_MS);
	table_set(&t, SIG_ENGINE_SPEED_RPM, 0, 1500, 10000, 1);
	assert_int_equal(table_get(&t, SIG_ENGINE_SPEED_RPM, 0, 10000, &v), 1);
	assert_float_equal(v, 1500, 0);
	/* exactly stale_ms old: still fresh */
	v = 0;
	assert_int_equal(table_get(&t, SIG_ENGINE_SPEED_RPM, 0, 10000 + STALE_MS, &v), 1);
	assert_float_equal(v, 1500, 0);
	expect_record(&t, 10000 + STALE_MS, "{\"sig\":{\"engine_speed_rpm\":1500.0}}");
	/* one ms later: gone */
	assert_int_equal(table_get(&t, SIG_ENGINE_SPEED_RPM, 0, 10000 + STALE_MS + 1, &v), 0);
	expect_record(&t, 10000 + STALE_MS + 1, "{\"sig\":{}}");
	/* a new write makes it fresh again */
	table_set(&t, SIG_ENGINE_SPEED_RPM, 0, 1600, 13000, 1);
	assert_int_equal(table_get(&t, SIG_ENGINE_SPEED_RPM, 0, 13000, &v), 1);
	assert_float_equal(v, 1600, 0);
}

static void test_mark_na_removes(void **state)
{
	struct table t;
	double v = 0;

	(void)state;
	table_init(&t, STALE_MS);
	table_set(&t, SIG_COOLANT_C, 0, 85, 1000, 1);
	table_set(&t, SIG_OIL_TEMP_C, 0, 95.5, 1000, 1);
	table_mark(&t, SIG_COOLANT_C, 0, TABLE_NA, 1100, 1);
	assert_int_equal(table_get(&t, SIG_COOLANT_C, 0, 1100, &v), 0);
	table_mark(&t, SIG_OIL_TEMP_C, 0, TABLE_ERROR, 1100, 1);
	assert_int_equal(table_get(&t, SIG_OIL_TEMP_C, 0, 1100, &v), 0);
	expect_record(&t, 1100, "{\"sig\":{}}");
	/* a valid value afterwards counts again */
	table_set(&t, SIG_COOLANT_C, 0, 86, 1200, 1);
	assert_int_equal(table_get(&t, SIG_COOLANT_C, 0, 1200, &v), 1);
	assert_float_equal(v, 86, 0);
}

static void test_instances(void **state)
{
	struct table t;
	double v = 0;

	(void)state;
	table_init(&t, STALE_MS);
	table_set(&t, SIG_ENGINE_SPEED_RPM, 0, 1200, 500, 1);
	table_set(&t, SIG_ENGINE_SPEED_RPM, 1, 900, 500, 2);
	table_set(&t, SIG_COOLANT_C, 3, 70, 500, 2);
	/* out of range: ignored, never written anywhere */
	table_set(&t, SIG_COOLANT_C, TABLE_INSTANCES, 1, 500, 2);
	table_set(&t, SIG_COOLANT_C, -1, 1, 500, 2);
	table_set(&t, SIG_COUNT, 0, 1, 500, 2);
	assert_int_equal(table_get(&t, SIG_ENGINE_SPEED_RPM, 1, 500, &v), 1);
	assert_float_equal(v, 900, 0);
	assert_int_equal(table_get(&t, SIG_COOLANT_C, TABLE_INSTANCES, 500, &v), 0);
	expect_record(&t, 500,
		      "{\"sig\":{\"coolant_c@3\":70.0,\"engine_speed_rpm\":1200.0,"
		      "\"engine_speed_rpm@1\":900.0}}");
}

static void test_empty(void **state)
{
	struct table t;
	double v;

	(void)state;
	table_init(&t, STALE_MS);
	expect_record(&t, 0, "{\"sig\":{}}");
	expect_record(&t, 123456, "{\"sig\":{}}");
	/* an empty entry is not a value 0 written at time 0 */
	assert_int_equal(table_get(&t, SIG_VEHICLE_SPEED_KMH, 0, 0, &v), 0);
}

/* Records keep the signal values exactly, in the signals' own names. */
static void test_record_values(void **state)
{
	struct table t;
	json_t *rec, *sig;

	(void)state;
	table_init(&t, STALE_MS);
	table_set(&t, SIG_FUEL_RATE_LPH, 0, 12.35, 0, 1);
	table_set(&t, SIG_ENGINE_TORQUE_PCT, 0, -10, 0, 1);
	table_set(&t, SIG_LAMBDA, 0, 1.2389, 0, 0);
	rec = sampler_json(&t, 1000);
	assert_non_null(rec);
	sig = json_object_get(rec, "sig");
	assert_true(json_is_object(sig));
	assert_int_equal(json_object_size(sig), 3);
	assert_float_equal(json_real_value(json_object_get(sig, "fuel_rate_lph")), 12.35, 0);
	assert_float_equal(json_real_value(json_object_get(sig, "engine_torque_pct")), -10, 0);
	assert_float_equal(json_real_value(json_object_get(sig, "lambda")), 1.2389, 0);
	json_decref(rec);
}

static void test_source_age(void **state)
{
	struct table t;

	(void)state;
	table_init(&t, STALE_MS);
	assert_int_equal(table_source_age(&t, 1, 5000), -1);
	table_set(&t, SIG_ENGINE_SPEED_RPM, 0, 1200, 1000, 1);
	table_set(&t, SIG_COOLANT_C, 0, 80, 3000, 1);
	table_set(&t, SIG_NOX_UP_PPM, 0, 300, 4000, 2);
	assert_int_equal(table_source_age(&t, 1, 5000), 2000); /* the newest of source 1 */
	assert_int_equal(table_source_age(&t, 2, 5000), 1000);
	assert_int_equal(table_source_age(&t, 3, 5000), -1);
	/* empty entries (source 0, time 0) are nobody's writes */
	assert_int_equal(table_source_age(&t, 0, 5000), -1);
	/* a not-available mark still shows the source is talking */
	table_mark(&t, SIG_COOLANT_C, 0, TABLE_NA, 4500, 1);
	assert_int_equal(table_source_age(&t, 1, 5000), 500);
	/* a write at time 0 counts: age is not -1 */
	table_init(&t, STALE_MS);
	table_set(&t, SIG_BARO_KPA, 0, 100, 0, 4);
	assert_int_equal(table_source_age(&t, 4, 700), 700);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_until_stale), cmocka_unit_test(test_mark_na_removes),
	    cmocka_unit_test(test_instances),	      cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_record_values),     cmocka_unit_test(test_source_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
