/* clock: the one answer to "now" for the whole daemon.  Live: monotonic time
 * plus the best wall time; replaying a log: the log's timestamps.  Owns only
 * its own time base. */
#ifndef EMGW_CLOCK_H
#define EMGW_CLOCK_H

#include <stdint.h>

enum ts_src { TS_UNSYNCED, TS_RTC, TS_NTP, TS_GNSS, TS_REPLAY };

struct clock_now {
	int64_t mono_ms; /* milliseconds since this start (replay: since the log's start) */
	int64_t wall_ms; /* milliseconds since the epoch, UTC */
	enum ts_src src;
};

/* Live mode: monotonic clock and system wall time. */
void clock_init_live(void);
/* Replay: how the log's time moved at a frame. */
enum clock_step {
	CLOCK_STEP_ON,	 /* forward by at most CLOCK_GAP_MS (or the first frame) */
	CLOCK_STEP_HELD, /* back by at most CLOCK_JUMP_MS: jitter, the clock stays */
	CLOCK_STEP_GAP,	 /* forward by more than CLOCK_GAP_MS: the log was not recording */
	CLOCK_STEP_BACK, /* back by more than CLOCK_JUMP_MS: the logger's clock stepped */
};

/* A log silent longer than this was not recording: longer than any silence
 * the detectors judge (ecu_silent 15 s, an ECU unplugged for minutes), short
 * enough that the ticks run across a silence stay bounded (3000 at 0.1 s). */
#define CLOCK_GAP_MS 300000

struct clock_jump;

/* Replay mode: from now on the log's time (microseconds since the epoch)
 * drives the clock; call with every frame's time.  Wall time follows the
 * log (also back, beyond jitter); monotonic time only moves forward, across
 * a gap too.  For CLOCK_STEP_GAP and CLOCK_STEP_BACK, *j (if not NULL) says
 * from where to where, and the monotonic time at from_ms. */
enum clock_step clock_replay_advance(int64_t log_us, struct clock_jump *j);
/* Non-zero in replay mode. */
int clock_is_replay(void);
/* Now. */
void clock_now(struct clock_now *now);
/* Monotonic milliseconds (replay: log time since the log's start). */
int64_t clock_mono_ms(void);
/* Live: the first whole period_ms of the system's monotonic clock after
 * mono_ms (a clock_mono_ms time), as a clock_mono_ms time. */
int64_t clock_grid_next(int64_t mono_ms, int64_t period_ms);
/* Real monotonic milliseconds, also in replay mode: for pacing a replay and
 * for network timers, which run on real time whatever the log says. */
int64_t clock_real_ms(void);
/* "gnss", "ntp", "rtc", "unsynced" or "replay". */
const char *clock_src_name(enum ts_src src);
/* Format wall_ms as "2026-11-28T11:21:25.123Z" into buf (>= 25 bytes). */
void clock_format_iso(int64_t wall_ms, char *buf, int size);

/* GNSS time (live mode only; ignored in replay): a trusted receiver time
 * gnss_ms (ms since the epoch, UTC) for a fix received at clock_mono_ms()
 * mono_ms.  From then on wall = mono + offset and the source is "gnss",
 * for an hour after the last call (holdover), then the system clock again. */
void clock_gnss_sync(int64_t gnss_ms, int64_t mono_ms);
/* 1 when the system clock is synchronized (NTP) and within
 * CLOCK_CONFIRM_MS of wall_ms: it confirms a GNSS time that is past the
 * trust ceiling.  0 otherwise (also in replay). */
int clock_system_confirms(int64_t wall_ms);
#define CLOCK_CONFIRM_MS 10000
/* Forget GNSS time (tests, and a reload that turns GNSS off). */
void clock_gnss_forget(void);

#define CLOCK_JUMP_MS 2000 /* wall vs monotonic drift between ticks that is a jump */

struct clock_jump {
	int64_t from_ms; /* the wall time expected from monotonic time */
	int64_t to_ms;	 /* the wall time found */
	int system;	 /* 1: the system clock jumped (even if GNSS time is in use) */
	int64_t mono_ms; /* replay: the monotonic time at from_ms */
};

/* Live, once a tick: 1 and *j when the wall time this clock reports, or the
 * system clock, moved more than CLOCK_JUMP_MS against monotonic time since
 * the last call; else 0.  The first call only takes a reference. */
int clock_jump_check(const struct clock_now *now, struct clock_jump *j);

#endif
