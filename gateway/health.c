#include "gateway/health.h"

#include <malloc.h>
#include <stdint.h>

#include <stdio.h>
#include <systemd/sd-daemon.h>

/* The watchdog is one per process, as is systemd's notify socket. */
static int64_t watchdog_interval_ms = -1;
static int64_t watchdog_next_ms = -1;

void health_init(void)
{
	uint64_t usec = 0;

	/* Pet at half the period systemd expects, as sd_watchdog_enabled(3)
	 * advises. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		watchdog_interval_ms = (int64_t)(usec / 2000);
		if (watchdog_interval_ms < 1)
			watchdog_interval_ms = 1;
		watchdog_next_ms = 0;
	}
}

void health_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void health_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void health_reloaded(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void health_tick(int64_t now_ms)
{
	if (watchdog_interval_ms < 0 || now_ms < watchdog_next_ms)
		return;
	sd_notify(0, "WATCHDOG=1");
	watchdog_next_ms = now_ms + watchdog_interval_ms;
}

int64_t health_deadline(void)
{
	return watchdog_next_ms;
}

void health_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

#define HEALTH_TRIM_BYTES (128 * 1024) /* freed heap growth that is a burst */

void health_trim_heap(void)
{
	static size_t free_low = SIZE_MAX; /* least free heap seen since the last trim */
	size_t free_now = mallinfo2().fordblks;

	if (free_now < free_low)
		free_low = free_now;
	if (free_now < free_low + HEALTH_TRIM_BYTES)
		return;
	malloc_trim(0);
	free_low = mallinfo2().fordblks;
}
