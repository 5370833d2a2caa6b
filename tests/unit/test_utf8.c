/* Unit tests of utf8: cuts fall between characters (Chinese text, 3 bytes a
 * character; 4-byte emoji), malformed bytes become '?', and what comes out
 * is a string jansson accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocols/utf8.h"

static void test_char_len(void **state)
{
	(void)state;
	assert_int_equal(utf8_char_len("a", 1), 1);
	assert_int_equal(utf8_char_len("\xc3\xa9", 2), 2);	   /* é */
	assert_int_equal(utf8_char_len("\xe4\xb8\xad", 3), 3);	   /* 中 */
	assert_int_equal(utf8_char_len("\xf0\x9f\x9a\x9c", 4), 4); /* tractor */
	assert_int_equal(utf8_char_len("\xe4\xb8", 2), 0);	   /* cut */
	assert_int_equal(utf8_char_len("\xb8\xad", 2), 0);	   /* continuation */
	assert_int_equal(utf8_char_len("\xc0\xaf", 2), 0);	   /* overlong '/' */
	assert_int_equal(utf8_char_len("\xe0\x80\xaf", 3), 0);	   /* overlong */
	assert_int_equal(utf8_char_len("\xed\xa0\x80", 3), 0);	   /* surrogate */
	assert_int_equal(utf8_char_len("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	assert_int_equal(utf8_char_len("\xff", 1), 0);
}

/* Every cut of a Chinese name is whole characters and valid JSON text. */
static void test_trunc_chinese(void **state)
{
	const char *name = "挖掘机发动机转速传感器"; /* 11 characters, 33 bytes */
	char buf[64];

	(void)state;
	for (size_t n = 1; n <= sizeof(buf); n++) {
		size_t got = utf8_trunc(buf, n, name);
		json_t *s = json_string(buf);

		assert_int_equal(got, strlen(buf));
		assert_true(got <= n - 1);
		assert_int_equal(got % 3, 0);
		assert_true(got == strlen(name) || got + 3 > n - 1); /* as many as fit */
		assert_memory_equal(buf, name, got);
		assert_non_null(s);
		json_decref(s);
	}
	assert_int_equal(utf8_trunc(buf, 41, name), 33);
	assert_string_equal(buf, name);
	assert_int_equal(utf8_trunc(buf, 11, name), 9);
	assert_string_equal(buf, "挖掘机");
}

static void test_trunc_mixed(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(utf8_trunc(buf, 7,
				    "ab\xf0\x9f\x9a\x9c"
				    "cd"),
			 6);
	assert_string_equal(buf, "ab\xf0\x9f\x9a\x9c");
	assert_int_equal(utf8_trunc(buf, 5, "ab\xf0\x9f\x9a\x9c"), 2);
	assert_string_equal(buf, "ab");
	/* Malformed bytes: each a '?', never copied. */
	assert_int_equal(utf8_trunc(buf, sizeof(buf),
				    "a\xe4\xb8"
				    "b\xff"),
			 5);
	assert_string_equal(buf, "a??b?");
	assert_int_equal(utf8_trunc(buf, 1, "abc"), 0);
	assert_string_equal(buf, "");
	assert_int_equal(utf8_trunc(buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "");
	assert_int_equal(utf8_trunc(NULL, 4, "abc"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_char_len),
	    cmocka_unit_test(test_trunc_chinese),
	    cmocka_unit_test(test_trunc_mixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
