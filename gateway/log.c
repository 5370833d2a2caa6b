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

/* One line, written with a single fprintf so threads do not interleave. */
static void log_line(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024];

	char pfx[8] = "";

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_prefix())
		snprintf(pfx, sizeof(pfx), "<%d>", prio);
	if (errstr)
		fprintf(stderr, "%s%s: %s\n", pfx, msg, errstr);
	else
		fprintf(stderr, "%s%s\n", pfx, msg);
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
