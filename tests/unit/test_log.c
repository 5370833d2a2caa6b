/* Unit tests of log: one call is one journal line, whatever the message
 * holds (issue 14: a command key with "\n<0>" forged an emergency entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/log.h"

/* Run log_warnx("%s", text) with stderr caught into out. */
static void logged(const char *text, char *out, size_t size)
{
	char tmp[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(tmp), saved;
	ssize_t len;

	assert_true(fd >= 0);
	unlink(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) >= 0);
	log_warnx("command \"%s\": unknown", text);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = pread(fd, out, size - 1, 0);
	assert_true(len >= 0);
	out[len] = '\0';
	close(fd);
}

static void test_newline_cannot_forge_a_line(void **state)
{
	char out[512];

	(void)state;
	logged("x\n<0>emgwd: disk on fire", out, sizeof(out));
	assert_string_equal(out, "<3>command \"x\\n<0>emgwd: disk on fire\": unknown\n");
}

static void test_controls_and_backslash(void **state)
{
	char out[512];

	(void)state;
	logged("a\rb\tc\x1b[2Jd\\n\x7f", out, sizeof(out));
	assert_string_equal(out, "<3>command \"a\\x0db\\x09c\\x1b[2Jd\\\\n\\x7f\": unknown\n");
	/* plain text and UTF-8 pass unchanged */
	logged("engine0 \xe6\xb8\xa9\xe5\xba\xa6 ok", out, sizeof(out));
	assert_string_equal(out, "<3>command \"engine0 \xe6\xb8\xa9\xe5\xba\xa6 ok\": unknown\n");
}

static void test_escape_never_cuts_an_escape(void **state)
{
	char buf[6];

	(void)state;
	/* "ab\n" needs 4 bytes and the NUL; "\x01" would need 4 more */
	assert_int_equal(log_escape(buf, sizeof(buf), "ab\n\x01"), 4);
	assert_string_equal(buf, "ab\\n");
	assert_int_equal(log_escape(buf, 1, "abc"), 0);
	assert_string_equal(buf, "");
}

/* A message longer than the line buffer, every byte a control: the line
 * still ends once, with no raw control in it. */
static void test_long_message_one_line(void **state)
{
	static char text[2000], out[8192];
	char *nl;

	(void)state;
	memset(text, '\n', sizeof(text) - 1);
	logged(text, out, sizeof(out));
	nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	for (const char *p = out; p < nl; p++)
		assert_true((unsigned char)*p >= 0x20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_newline_cannot_forge_a_line),
	    cmocka_unit_test(test_controls_and_backslash),
	    cmocka_unit_test(test_escape_never_cuts_an_escape),
	    cmocka_unit_test(test_long_message_one_line),
	};

	setenv("EMGW_LOG_PREFIX", "1", 1); /* as under journald */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
