#include "gateway/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int debug_on;
static int prefix_on = -1; /* <N> priority prefixes: only when journald reads us */

/* journald sets JOURNAL_STREAM for the services whose stderr it reads; a
 * person at a terminal gets plain lines. */
static int log_prefix(void)
{
	if (prefix_on < 0)
		prefix_on = getenv("JOURNAL_STREAM") != NULL || getenv("EMGW_LOG_PREFIX") != NULL;
	return prefix_on;
}

void log_set_debug(int on)
{
	debug_on = on;
}

/*
 * Copy src into dst (size bytes, NUL-terminated, cut if need be) with every
 * control character and '\\' escaped: a newline is "\\n", another control
 * "\\xNN".  Messages carry outside text (command keys, file names, what a
 * server said); one with a newline and "<0>" in it would otherwise forge a
 * second, emergency-priority line in the journal.
 */
size_t log_escape(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (size == 0)
		return 0;
	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		char esc[4];
		size_t len = 0;

		if (c == '\\' || c == '\n') {
			esc[len++] = '\\';
			esc[len++] = c == '\n' ? 'n' : '\\';
		} else if (c < 0x20 || c == 0x7f) {
			esc[len++] = '\\';
			esc[len++] = 'x';
			esc[len++] = hex[c >> 4];
			esc[len++] = hex[c & 15];
		} else {
			esc[len++] = (char)c;
		}
		if (n + len >= size)
			break; /* never half an escape */
		memcpy(dst + n, esc, len);
		n += len;
	}
	dst[n] = '\0';
	return n;
}

/* One line, written with a single fprintf so threads do not interleave. */
static void log_line(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024];
	char safe[4 * sizeof(msg)]; /* room for every byte of msg escaped */
	char pfx[8] = "";

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_escape(safe, sizeof(safe), msg);
	if (log_prefix())
		snprintf(pfx, sizeof(pfx), "<%d>", prio);
	if (errstr)
		fprintf(stderr, "%s%s: %s\n", pfx, safe, errstr);
	else
		fprintf(stderr, "%s%s\n", pfx, safe);
}

void log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_line(3, e, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(3, NULL, fmt, ap);
	va_end(ap);
}

void log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(5, NULL, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(6, NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug_on)
		return;
	va_start(ap, fmt);
	log_line(7, NULL, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(2, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
