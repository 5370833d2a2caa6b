/* health: tells systemd how the daemon is (the sd_notify protocol, without
 * libsystemd: READY, STATUS, WATCHDOG, RELOADING, STOPPING; a no-op outside
 * systemd), and gives heap a burst freed back to the kernel.  Owns the
 * watchdog period and the heap mark. */
#ifndef EMGW_HEALTH_H
#define EMGW_HEALTH_H

#include <stdint.h>

/* Read the watchdog period from the environment (WATCHDOG_USEC, and
 * WATCHDOG_PID when set must be ours). */
void health_init(void);
/* Start-up done. */
void health_ready(const char *status);
/* A reload begins / ended. */
void health_reloading(void);
void health_reloaded(const char *status);
/* The loop is alive: pet the watchdog when due. */
void health_tick(int64_t now_ms);
/* Monotonic ms of the next watchdog message, or -1. */
int64_t health_deadline(void);
/* Shutting down. */
void health_stopping(void);

/* A burst (start-up, a backlog drain, a reload, a large answer) leaves freed
 * heap that glibc keeps resident: once free heap has grown 64 KiB over its
 * low point (over none, the first time), it goes back to the kernel.
 * Cheap: one mallinfo2 a call. */
void health_trim_heap(void);

#endif
