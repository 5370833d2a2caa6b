/* health: tells systemd how the daemon is (sd_notify READY, STATUS, WATCHDOG,
 * RELOADING, STOPPING).  A no-op outside systemd.  Owns the watchdog period. */
#ifndef EMGW_HEALTH_H
#define EMGW_HEALTH_H

#include <stdint.h>

/* Read the watchdog period from the environment. */
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

#endif
