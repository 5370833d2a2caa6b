/* clock: the one answer to "now" for the whole daemon.  Live: monotonic time
 * plus the best wall time; replaying a log: the log's timestamps.  Owns only
 * its own time base. */
#ifndef EMGW_CLOCK_H
#define EMGW_CLOCK_H

#include <stdint.h>

enum ts_src { TS_UNSYNCED, TS_RTC, TS_NTP, TS_GNSS, TS_REPLAY };

struct clock_now {
	int64_t mono_ms;   /* milliseconds since this start (replay: since the log's start) */
	int64_t wall_ms;   /* milliseconds since the epoch, UTC */
	enum ts_src src;
};

/* Live mode: monotonic clock and system wall time. */
void clock_init_live(void);
/* Replay mode: from now on the log's time (microseconds since the epoch)
 * drives the clock; call with every frame's time. */
void clock_replay_advance(int64_t log_us);
/* Non-zero in replay mode. */
int clock_is_replay(void);
/* Now. */
void clock_now(struct clock_now *now);
/* Monotonic milliseconds (replay: log time since the log's start). */
int64_t clock_mono_ms(void);
/* Real monotonic milliseconds, also in replay mode: for pacing a replay and
 * for network timers, which run on real time whatever the log says. */
int64_t clock_real_ms(void);
/* "gnss", "ntp", "rtc", "unsynced" or "replay". */
const char *clock_src_name(enum ts_src src);
/* Format wall_ms as "2026-11-28T11:21:25.123Z" into buf (>= 25 bytes). */
void clock_format_iso(int64_t wall_ms, char *buf, int size);

#endif
