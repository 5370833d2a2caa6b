/* log: messages to stderr with <N> syslog priority prefixes (journald reads them).
 * Owns the log level and a small ring of the newest lines (get-log); touches
 * nothing else. */
#ifndef EMGW_LOG_H
#define EMGW_LOG_H

#include <stddef.h>
#include <stdnoreturn.h>

/* Show debug messages when on is non-zero. */
void log_set_debug(int on);
/* Error with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Error without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Notice: normal but significant (state changes). */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug, shown only with -d. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Copy src into dst (size bytes, always NUL-terminated) with control
 * characters and '\\' escaped ("\\n", "\\xNN", "\\\\"), as every log line is;
 * returns the length written. */
size_t log_escape(char *dst, size_t size, const char *src);
#define LOG_RING_LINES 200 /* newest lines kept for get-log */
#define LOG_RING_LINE  256 /* bytes kept of a line (time, priority, text), with the NUL */

/* Copy the newest lines kept (at most max_lines), oldest first, each
 * ended by '\n', into buf (size bytes, NUL-terminated): as many of the
 * newest as fit whole.  Each line is UTF-8 without control characters:
 * "2026-12-02T06:01:33.123Z notice: text".  Returns the lines copied; *kept
 * (if not NULL) is how many the ring holds.  Any thread. */
int log_recent(char *buf, size_t size, int max_lines, int *kept);
/* Critical error, then exit(1): only at start-up or for a broken invariant. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
