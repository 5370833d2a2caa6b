/* log: messages to stderr with <N> syslog priority prefixes (journald reads them).
 * Owns the log level; touches nothing else. */
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
/* Critical error, then exit(1): only at start-up or for a broken invariant. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
