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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vin_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
