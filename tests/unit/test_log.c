/* Unit tests of log: one call is one journal line, whatever the message
 * holds (issue 14: a command key with "\n<0>" forged an emergency entry). */
#include <fcntl.h>
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

/* get-log's ring: the newest lines, oldest first, whole lines within the
 * buffer, at most LOG_RING_LINES kept, each valid UTF-8 and cut to a line. */
static void test_ring_keeps_the_newest(void **state)
{
	static char buf[LOG_RING_LINES * LOG_RING_LINE + 1], big[1000];
	char small[100];
	int kept, n;

	(void)state;
	int null = open("/dev/null", O_WRONLY), saved = dup(2);

	assert_true(null >= 0 && saved >= 0);
	fflush(stderr);
	dup2(null, 2);
	for (int i = 0; i < LOG_RING_LINES + 50; i++)
		log_info("ring line %d", i);
	n = log_recent(buf, sizeof(buf), 3, &kept);
	assert_int_equal(kept, LOG_RING_LINES);
	assert_int_equal(n, 3);
	assert_non_null(strstr(buf, "Z info: ring line 247\n"));
	assert_non_null(strstr(buf, "ring line 248\n"));
	assert_int_equal(strstr(buf, "ring line 247") < strstr(buf, "ring line 249"), 1);
	assert_non_null(strstr(buf, "ring line 249\n"));
	assert_null(strstr(buf, "ring line 246"));
	/* all: the oldest kept is 50 */
	n = log_recent(buf, sizeof(buf), 1000, NULL);
	assert_int_equal(n, LOG_RING_LINES);
	assert_non_null(strstr(buf, "ring line 50\n"));
	assert_null(strstr(buf, "ring line 49\n"));
	/* a small buffer: only whole lines, the newest */
	n = log_recent(small, sizeof(small), 10, NULL);
	assert_true(n >= 1 && n < 3);
	assert_non_null(strstr(small, "ring line 249\n"));
	assert_true(strlen(small) < sizeof(small));
	/* a long line with a stray byte: cut, still UTF-8, one line */
	memset(big, 'x', sizeof(big) - 1);
	big[3] = '\xff';
	log_warnx("%s", big);
	n = log_recent(small, sizeof(small), 1, NULL);
	assert_int_equal(n, 0); /* does not fit whole */
	n = log_recent(buf, sizeof(buf), 1, NULL);
	assert_int_equal(n, 1);
	assert_true(strlen(buf) <= LOG_RING_LINE);
	assert_non_null(strstr(buf, " err: xxx?xxx"));
	assert_null(strchr(buf, '\xff'));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(null);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_newline_cannot_forge_a_line),
	    cmocka_unit_test(test_controls_and_backslash),
	    cmocka_unit_test(test_escape_never_cuts_an_escape),
	    cmocka_unit_test(test_long_message_one_line),
	    cmocka_unit_test(test_ring_keeps_the_newest),
	};

	setenv("EMGW_LOG_PREFIX", "1", 1); /* as under journald */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
