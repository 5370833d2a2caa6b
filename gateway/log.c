#include "gateway/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocols/utf8.h"

static int debug_on;
static int prefix_on = -1; /* <N> priority prefixes: only when journald reads us */

/* The newest lines, for get-log: fixed, so logging never allocates.  Bus
 * threads log too, hence the lock. */
static struct {
	pthread_mutex_t lock;
	char line[LOG_RING_LINES][LOG_RING_LINE];
	unsigned next;	/* where the next line goes */
	unsigned count; /* lines held, at most LOG_RING_LINES */
} log_ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

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

static const char *log_prio_name(int prio)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug"};

	return prio >= 0 && prio < 8 ? names[prio] : "?";
}

/* Keep the line (already escaped) in the ring, with the wall-clock time:
 * the real one, also when replaying a log, since it says when emgwd said
 * it.  Cut to whole UTF-8 characters, a stray byte as '?', so that every
 * kept line goes into a JSON answer as it is. */
static void log_keep(int prio, const char *safe, const char *errstr)
{
	char text[LOG_RING_LINE], when[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* A longer line is kept cut: the ring is for a look, the journal has it whole. */
	if (snprintf(text, sizeof(text), "%s.%03ldZ %s: %s%s%s", when, ts.tv_nsec / 1000000,
		     log_prio_name(prio), safe, errstr ? ": " : "", errstr ? errstr : "") < 0)
		return;
	pthread_mutex_lock(&log_ring.lock);
	utf8_trunc(log_ring.line[log_ring.next], LOG_RING_LINE, text);
	log_ring.next = (log_ring.next + 1) % LOG_RING_LINES;
	if (log_ring.count < LOG_RING_LINES)
		log_ring.count++;
	pthread_mutex_unlock(&log_ring.lock);
}

int log_recent(char *buf, size_t size, int max_lines, int *kept)
{
	unsigned n = 0, first;
	size_t used = 0;

	if (size == 0)
		return 0;
	pthread_mutex_lock(&log_ring.lock);
	if (kept)
		*kept = (int)log_ring.count;
	/* Count back from the newest what fits, then copy forward. */
	while (n < log_ring.count && (int)n < max_lines) {
		unsigned at = (log_ring.next + LOG_RING_LINES - 1 - n) % LOG_RING_LINES;
		size_t len = strlen(log_ring.line[at]) + 1;

		if (used + len >= size)
			break;
		used += len;
		n++;
	}
	first = (log_ring.next + LOG_RING_LINES - n) % LOG_RING_LINES;
	used = 0;
	for (unsigned i = 0; i < n; i++) {
		const char *l = log_ring.line[(first + i) % LOG_RING_LINES];
		size_t len = strlen(l);

		memcpy(buf + used, l, len);
		buf[used + len] = '\n';
		used += len + 1;
	}
	buf[used] = '\0';
	pthread_mutex_unlock(&log_ring.lock);
	return (int)n;
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
	log_keep(prio, safe, errstr);
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
