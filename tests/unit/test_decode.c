/* Unit tests of gateway/decode.c (--decode): a VIN with '"' and '\' comes
 * out as a JSON string that reads back as the VIN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/decode.h"

static void test_vin_escaped(void **state)
{
	char path[] = "/tmp/test_decode.XXXXXX", *text = NULL;
	size_t len = 0;
	int fd = mkstemp(path);
	FILE *in, *out;
	json_t *o;

	(void)state;
	assert_true(fd >= 0);
	in = fdopen(fd, "w");
	/* VI (PGN 65260) from SA 0: A " B \ C, then the '*' delimiter. */
	fputs("(1700000000.000000) can0 18FEEC00#4122425C432AFFFF\n", in);
	fclose(in);
	out = open_memstream(&text, &len);
	assert_int_equal(decode_file(path, out), 0);
	fclose(out);
	unlink(path);
	o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "vin")), "A\"B\\C");
	json_decref(o);
	free(text);
}

/* DM5 in one frame, DM19 (two calibrations, 40 bytes) and DM20 (two ratios)
 * by BAM: one JSON line each with the values worked out by hand in
 * tests/unit/test_j1939dm.c. */
static void test_dm5_dm19_dm20(void **state)
{
	static const char log[] = "(1700000000.000000) can0 18FECE00#02011337E11C4108\n"
				  "(1700000001.000000) can0 18ECFF00#20280006FF00D300\n"
				  "(1700000001.050000) can0 18EBFF00#01BFA140EC594359\n"
				  "(1700000001.100000) can0 18EBFF00#0233303136352D36\n"
				  "(1700000001.150000) can0 18EBFF00#0330202020202001\n"
				  "(1700000001.200000) can0 18EBFF00#0402030441424300\n"
				  "(1700000001.250000) can0 18EBFF00#0500000000000000\n"
				  "(1700000001.300000) can0 18EBFF00#060000000000FFFF\n"
				  "(1700000002.000000) can0 18ECFF00#20120003FF00C200\n"
				  "(1700000002.050000) can0 18EBFF00#0123014500F20B00\n"
				  "(1700000002.100000) can0 18EBFF00#0205000A00600F00\n"
				  "(1700000002.150000) can0 18EBFF00#03FFFF0000FFFFFF\n";
	char path[] = "/tmp/test_decode.XXXXXX", *text = NULL, *line, *save = NULL;
	size_t len = 0;
	int fd = mkstemp(path), n = 0;
	FILE *in, *out;
	json_t *o[3];

	(void)state;
	assert_true(fd >= 0);
	in = fdopen(fd, "w");
	fputs(log, in);
	fclose(in);
	out = open_memstream(&text, &len);
	assert_int_equal(decode_file(path, out), 0);
	fclose(out);
	unlink(path);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(n < 3);
		o[n] = json_loads(line, 0, NULL);
		assert_non_null(o[n++]);
	}
	assert_int_equal(n, 3);
	assert_string_equal(json_string_value(json_object_get(o[0], "name")), "DM5");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o[0], "dm5"), "obd_support")),
	    0xFCE1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o[0], "dm5"), "obd_readiness")),
	    0x6841);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o[0], "dm5"), "active")), 2);
	assert_string_equal(json_string_value(json_object_get(o[1], "name")), "DM19");
	assert_int_equal(json_array_size(json_object_get(o[1], "calibrations")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o[1], "calibrations"), 0), "cal_id")),
	    "YCY30165-60");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(o[1], "calibrations"), 0), "cvn")),
			    "EC40A1BF");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(o[1], "calibrations"), 1), "cal_id")),
	    "ABC");
	assert_string_equal(json_string_value(json_object_get(o[2], "name")), "DM20");
	assert_int_equal(json_integer_value(json_object_get(o[2], "ign_cycles")), 0x0123);
	assert_int_equal(json_integer_value(json_object_get(o[2], "obd_conditions")), 0x45);
	assert_int_equal(json_array_size(json_object_get(o[2], "ratios")), 2);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(o[2], "ratios"), 0), "spn")),
			 3058);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(o[2], "ratios"), 1), "num")),
			 0xFFFF);
	for (int i = 0; i < n; i++)
		json_decref(o[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vin_escaped),
	    cmocka_unit_test(test_dm5_dm19_dm20),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
