#include "gateway/clock.h"

#include "protocols/payload.h"

#include <stdio.h>
#include <sys/timex.h>
#include <time.h>

/* The clock is one per process by nature, so it keeps its state here. */
static struct {
	int replay;
	int64_t wall_us;  /* replay: the log time in force */
	int64_t mono_us;  /* replay: log time run forward since the first frame */
	int64_t mono0_ms; /* live: monotonic time at start */
	int gnss;	  /* GNSS time known: wall = mono + gnss_off_ms */
	int64_t gnss_off_ms;
	int64_t gnss_sync_mono_ms; /* when it was last confirmed */
	int jump_ref;		   /* the jump check has a reference */
	int64_t jump_mono_ms, jump_wall_ms, jump_sys_ms;
} clk;

#define CLOCK_GNSS_HOLDOVER_MS 3600000 /* a free-running monotonic clock stays within ~0.2 s */
#define CLOCK_GNSS_STEP_MS     1000    /* a GNSS time this far off is a step, not latency */

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
	clk.gnss = 0;
	clk.jump_ref = 0;
}

enum clock_step clock_replay_advance(int64_t log_us, struct clock_jump *j)
{
	int64_t d = log_us - clk.wall_us;
	enum clock_step step;

	if (!clk.replay) {
		clk.replay = 1;
		clk.wall_us = log_us;
		clk.mono_us = 0;
		return CLOCK_STEP_ON;
	}
	if (d >= 0 && d <= (int64_t)CLOCK_GAP_MS * 1000)
		step = CLOCK_STEP_ON;
	else if (d > 0)
		step = CLOCK_STEP_GAP;
	else if (d >= -(int64_t)CLOCK_JUMP_MS * 1000)
		return CLOCK_STEP_HELD; /* merged logs: a frame a little late */
	else
		step = CLOCK_STEP_BACK;
	if (step != CLOCK_STEP_ON && j)
		*j = (struct clock_jump){.from_ms = clk.wall_us / 1000,
					 .to_ms = log_us / 1000,
					 .mono_ms = clk.mono_us / 1000};
	if (d > 0)
		clk.mono_us += d;
	clk.wall_us = log_us;
	return step;
}

int clock_is_replay(void)
{
	return clk.replay;
}

/* Whole periods of CLOCK_MONOTONIC itself, not of the daemon's start: the
 * Modbus threads keep their polls on the same grid (gateway/fieldbus.c). */
int64_t clock_grid_next(int64_t mono_ms, int64_t period_ms)
{
	return mono_ms + period_ms - (mono_ms + clk.mono0_ms) % period_ms;
}

int64_t clock_mono_ms(void)
{
	if (clk.replay)
		return clk.mono_us / 1000;
	return mono_raw_ms() - clk.mono0_ms;
}

/* Where the system wall time comes from: the kernel knows whether NTP
 * disciplines it; otherwise a plausible time came from an RTC. */
static enum ts_src live_source(time_t wall_s)
{
	struct timex tx = {0};
	int state = adjtimex(&tx);

	if (state != -1 && state != TIME_ERROR && !(tx.status & STA_UNSYNC))
		return TS_NTP;
	return wall_s >= CLOCK_FLOOR_S ? TS_RTC : TS_UNSYNCED;
}

void clock_gnss_sync(int64_t gnss_ms, int64_t mono_ms)
{
	int64_t off = gnss_ms - mono_ms;

	if (clk.replay)
		return;
	/* A fix reaches us some latency after its time, so gnss - mono is
	 * low by that latency: keep the highest offset seen (least latency),
	 * letting it sink 1 ms per fix so it follows the monotonic clock's
	 * drift.  Far off (first time, receiver reset, week rollover fixed):
	 * step. */
	if (!clk.gnss || off > clk.gnss_off_ms + CLOCK_GNSS_STEP_MS ||
	    off < clk.gnss_off_ms - CLOCK_GNSS_STEP_MS)
		clk.gnss_off_ms = off;
	else if (off > clk.gnss_off_ms - 1)
		clk.gnss_off_ms = off;
	else
		clk.gnss_off_ms -= 1;
	clk.gnss = 1;
	clk.gnss_sync_mono_ms = mono_ms;
}

int clock_system_confirms(int64_t wall_ms)
{
	struct timespec ts;
	int64_t sys;

	if (clk.replay)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	sys = timespec_ms(&ts);
	if (wall_ms > sys + CLOCK_CONFIRM_MS || wall_ms < sys - CLOCK_CONFIRM_MS)
		return 0;
	return live_source(ts.tv_sec) == TS_NTP;
}

void clock_gnss_forget(void)
{
	clk.gnss = 0;
}

void clock_now(struct clock_now *now)
{
	struct timespec ts;

	now->mono_ms = clock_mono_ms();
	if (clk.replay) {
		now->wall_ms = clk.wall_us / 1000;
		now->src = TS_REPLAY;
		return;
	}
	if (clk.gnss && now->mono_ms - clk.gnss_sync_mono_ms <= CLOCK_GNSS_HOLDOVER_MS) {
		now->wall_ms = now->mono_ms + clk.gnss_off_ms;
		now->src = TS_GNSS;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now->wall_ms = timespec_ms(&ts);
	now->src = live_source(ts.tv_sec);
}

static int clock_jumped(int64_t expect, int64_t found)
{
	return found > expect + CLOCK_JUMP_MS || found < expect - CLOCK_JUMP_MS;
}

int clock_jump_check(const struct clock_now *now, struct clock_jump *j)
{
	struct timespec ts;
	int64_t sys, dmono;
	int ret = 0;

	if (clk.replay)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	sys = timespec_ms(&ts);
	dmono = now->mono_ms - clk.jump_mono_ms;
	if (clk.jump_ref && clock_jumped(clk.jump_wall_ms + dmono, now->wall_ms)) {
		j->from_ms = clk.jump_wall_ms + dmono;
		j->to_ms = now->wall_ms;
		j->system = now->src != TS_GNSS;
		ret = 1;
	} else if (clk.jump_ref && clock_jumped(clk.jump_sys_ms + dmono, sys)) {
		/* Our time runs on GNSS, but someone stepped the system clock. */
		j->from_ms = clk.jump_sys_ms + dmono;
		j->to_ms = sys;
		j->system = 1;
		ret = 1;
	}
	clk.jump_ref = 1;
	clk.jump_mono_ms = now->mono_ms;
	clk.jump_wall_ms = now->wall_ms;
	clk.jump_sys_ms = sys;
	return ret;
}

const char *clock_src_name(enum ts_src src)
{
	static const char *const names[] = {
	    [TS_UNSYNCED] = "unsynced", [TS_RTC] = "rtc",	[TS_NTP] = "ntp",
	    [TS_GNSS] = "gnss",		[TS_REPLAY] = "replay",
	};

	if ((unsigned)src >= sizeof(names) / sizeof(names[0]))
		return "unsynced";
	return names[src];
}

/* In 64-bit integers (gmtime would go through time_t, which is 32 bits on
 * armhf and ends in 2038): the payload codec's one implementation. */
void clock_format_iso(int64_t wall_ms, char *buf, int size)
{
	payload_format_iso(wall_ms, buf, size > 0 ? (size_t)size : 0);
}
