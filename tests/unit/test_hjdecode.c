/* Unit tests of gateway/hjdecode.c (--hj-decode): garbage between frames is
 * one error line a region, with its offset and length, and the frames
 * around it still decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/hjdecode.h"

/* The login frame of tests/unit/test_hjframe.c, as hex: 53 bytes. */
#define LOGIN                                                                                      \
	"2323014C5A595442544436304B313030303030310101001C170B0F060D140001383938363030313233343536" \
	"3738"                                                                                     \
	"3930313233342E"

/* Decode hex; the output lines parsed into an array. */
static json_t *decode(const char *hex, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	json_t *lines = json_array();
	char *line, *save = NULL;

	assert_non_null(out);
	*rc = hjdecode_run(hex, HJ_NRMM, NULL, NULL, 8 * 3600, out);
	fclose(out);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);

		assert_non_null(o);
		json_array_append_new(lines, o);
	}
	free(text);
	return lines;
}

static void test_garbage_regions(void **state)
{
	/* 200 garbage bytes, a frame, 4 garbage bytes with a lone '#', a frame. */
	char hex[1024] = "";
	json_t *lines, *e;
	int rc;

	(void)state;
	for (int i = 0; i < 200; i++)
		strcat(hex, "A5");
	strcat(hex, LOGIN "AABB23CC" LOGIN);
	lines = decode(hex, &rc);
	assert_int_equal(rc, 1);
	assert_int_equal(json_array_size(lines), 4);
	e = json_array_get(lines, 0);
	assert_string_equal(json_string_value(json_object_get(e, "error")), "no \"##\" start");
	assert_int_equal(json_integer_value(json_object_get(e, "offset")), 0);
	assert_int_equal(json_integer_value(json_object_get(e, "length")), 200);
	assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 1), "command")),
			    "login");
	e = json_array_get(lines, 2);
	assert_int_equal(json_integer_value(json_object_get(e, "offset")), 253);
	assert_int_equal(json_integer_value(json_object_get(e, "length")), 4);
	assert_string_equal(json_string_value(json_object_get(e, "bytes")), "aabb23cc");
	assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 3), "command")),
			    "login");
	json_decref(lines);
}

static void test_clean_and_cut(void **state)
{
	json_t *lines, *e;
	int rc;

	(void)state;
	lines = decode(LOGIN, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(lines), 1);
	json_decref(lines);
	/* A frame cut short at the end: one error for the rest. */
	lines = decode("0102" LOGIN "2323", &rc);
	assert_int_equal(rc, 1);
	assert_int_equal(json_array_size(lines), 3);
	e = json_array_get(lines, 2);
	assert_int_equal(json_integer_value(json_object_get(e, "offset")), 55);
	assert_int_equal(json_integer_value(json_object_get(e, "length")), 2);
	json_decref(lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_garbage_regions),
	    cmocka_unit_test(test_clean_and_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
