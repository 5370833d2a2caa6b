/* platform: the link to a China emission monitoring platform (HJ 1322 for
 * non-road machinery, HJ 1239 for road vehicles) over plain TCP.  Reads the
 * store through its own cursor bit and acknowledges rows once the frames
 * carrying them have left the socket (SIOCOUTQ = 0).  Owns its socket, its
 * signer and its serial numbers (kept in the store's meta table); never
 * touches the signal table or the other uplinks.  Main thread only. */
#ifndef EMGW_PLATFORM_H
#define EMGW_PLATFORM_H

#include <jansson.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/store.h"

#define UPLINK_PLATFORM 1 /* this uplink's bit in the store's acknowledgement mask */

struct platform;

/* A link for cfg, for the machine vin; has_can says whether an engine CAN
 * source exists (diagnostics protocol, removal alarm).  Resolves the host and
 * asks ModemManager for the ICCID here, at start-up, never in the loop.
 * NULL on error (logged). */
struct platform *platform_open(const struct config_platform *cfg, const char *vin,
			       struct store *store, int has_can);
/* Log out (briefly waiting for the logout to leave), close and free. */
void platform_close(struct platform *p, const struct clock_now *now);
/* The socket to poll, or -1; and the events to poll it for. */
int platform_fd(const struct platform *p);
short platform_events(const struct platform *p);
/* The socket is ready (revents from poll). */
void platform_io(struct platform *p, short revents, const struct clock_now *now);
/* Connect when due, turn committed rows into frames, send, acknowledge.
 * real_ms is real monotonic time (pacing, timers); now is the daemon's clock
 * (frame times).  final: no more rows will come (a replay has ended): close
 * the windows still open. */
void platform_process(struct platform *p, int64_t real_ms, const struct clock_now *now, int final);
/* Real monotonic ms at which platform_process must run again, or -1. */
int64_t platform_deadline(const struct platform *p);
/* The engine ECU is silent (1) or talking (0): silence raises one removal
 * alarm per episode. */
void platform_ecu_silent(struct platform *p, int silent, const struct clock_now *now);
/* The link's state for the status JSON. */
json_t *platform_status(const struct platform *p);

#endif
