#include "gateway/clock.h"

#include <stdio.h>
#include <sys/timex.h>
#include <time.h>

/* The clock is one per process by nature, so it keeps its state here. */
static struct {
	int replay;
	int64_t base_us;   /* replay: the log's first time */
	int64_t now_us;    /* replay: the latest log time */
	int64_t mono0_ms;  /* live: monotonic time at start */
} clk;

/* A wall clock earlier than this was never set (no RTC, no NTP yet). */
#define CLOCK_FLOOR_S 1735689600 /* 2025-01-01 */

static int64_t timespec_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static int64_t mono_raw_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return timespec_ms(&ts);
}

int64_t clock_real_ms(void)
{
	return mono_raw_ms();
}

void clock_init_live(void)
{
	clk.replay = 0;
	clk.mono0_ms = mono_raw_ms();
}

void clock_replay_advance(int64_t log_us)
{
	if (!clk.replay) {
		clk.replay = 1;
		clk.base_us = log_us;
		clk.now_us = log_us;
	}
	/* A log that steps back in time must not make time run backwards. */
	if (log_us > clk.now_us)
		clk.now_us = log_us;
}

int clock_is_replay(void)
{
	return clk.replay;
}

int64_t clock_mono_ms(void)
{
	if (clk.replay)
		return (clk.now_us - clk.base_us) / 1000;
	return mono_raw_ms() - clk.mono0_ms;
}

/* Where the system wall time comes from: the kernel knows whether NTP
 * disciplines it; otherwise a plausible time came from an RTC. */
static enum ts_src live_source(time_t wall_s)
{
	struct timex tx = { 0 };
	int state = adjtimex(&tx);

	if (state != -1 && state != TIME_ERROR && !(tx.status & STA_UNSYNC))
		return TS_NTP;
	return wall_s >= CLOCK_FLOOR_S ? TS_RTC : TS_UNSYNCED;
}

void clock_now(struct clock_now *now)
{
	struct timespec ts;

	now->mono_ms = clock_mono_ms();
	if (clk.replay) {
		now->wall_ms = clk.now_us / 1000;
		now->src = TS_REPLAY;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now->wall_ms = timespec_ms(&ts);
	now->src = live_source(ts.tv_sec);
}

const char *clock_src_name(enum ts_src src)
{
	static const char *const names[] = {
		[TS_UNSYNCED] = "unsynced", [TS_RTC] = "rtc", [TS_NTP] = "ntp",
		[TS_GNSS] = "gnss",         [TS_REPLAY] = "replay",
	};

	if ((unsigned)src >= sizeof(names) / sizeof(names[0]))
		return "unsynced";
	return names[src];
}

void clock_format_iso(int64_t wall_ms, char *buf, int size)
{
	time_t s = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, (size_t)size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(wall_ms % 1000));
}
