/* canbus: the CAN source.  Reads J1939 frames from a SocketCAN interface (or
 * any descriptor carrying struct can_frame) or replays a candump log, and
 * writes the decoded signals into the table.  Knows its bus and the table,
 * nothing else of the daemon. */
#ifndef EMGW_CANBUS_H
#define EMGW_CANBUS_H

#include <stdint.h>

#include <jansson.h>

#include "gateway/config.h"
#include "gateway/diag.h"
#include "gateway/table.h"

struct canbus;

/* Called in replay mode after the clock moved to a frame's time and before
 * the frame is applied, so that sample ticks due before it run first. */
typedef void canbus_time_fn(void *ctx);

struct canbus_stats {
	uint64_t frames;       /* frames seen (error frames not included) */
	uint64_t decoded;      /* frames of a PGN we decode */
	uint64_t unknown;      /* frames of other PGNs */
	uint64_t na;	       /* SPNs sent as not available */
	uint64_t errors;       /* SPNs sent as error, or reserved */
	uint64_t bad;	       /* unreadable log lines or short frames */
	uint64_t filtered;     /* decoded but dropped by the sa / pgn_sa / ignore_pgn settings */
	uint64_t err_frames;   /* controller error frames */
	uint64_t overflows;    /* frames the kernel dropped: receive queue full (SO_RXQ_OVFL) */
	const char *bus_state; /* "ok", "warning", "error-passive", "bus-off", "down" */
	int up;		       /* socket open / log readable */
	int done;	       /* replay finished */
	int64_t last_frame_mono_ms; /* -1 if none yet */
};

/* Open the source configured in cfg; `source` is its tag in the table.
 * NULL on error (logged). */
struct canbus *canbus_open(const struct config_can *cfg, int source, struct table *t,
			   canbus_time_fn *on_time, void *ctx);
/* Use fd (a CAN_RAW socket, or a socketpair end in tests) as a live source. */
struct canbus *canbus_open_fd(int fd, const char *name, int source, struct table *t);
/* Close and free. */
void canbus_close(struct canbus *cb);
/* Descriptor to poll for input, or -1 (replay, or socket down). */
int canbus_fd(const struct canbus *cb);
/* Live: read every frame waiting on the descriptor. */
void canbus_read(struct canbus *cb);
/* Replay: apply every frame due by real monotonic time real_ms; returns the
 * real ms when the next frame is due (real_ms when more work is waiting now),
 * or -1 when the log has ended. */
int64_t canbus_replay(struct canbus *cb, int64_t real_ms);
/* Live: reopen a socket that went away, when due.  Timers here run on real
 * monotonic time (clock_real_ms).  Returns the next retry time, or -1. */
int64_t canbus_retry(struct canbus *cb, int64_t now_ms);
/* Send this source's `dtc` and `vin-mismatch` events to on_event(ctx, ev);
 * vin is the configured VIN ("" for none). */
void canbus_set_events(struct canbus *cb, const char *vin, payload_event_fn *on_event, void *ctx);
/* Per source address counters, reassembly counters, bus state and the
 * engine's identity and faults, for status. */
json_t *canbus_status(const struct canbus *cb, int64_t now_ms);
/* Transmit: claim `address` with `name` (J1939-81), then every period_ms
 * request the on-request PGNs (HOURS, VI, VD, VDHR) from the global address.
 * Live sources only; off unless called (config `request = yes`). */
void canbus_enable_requests(struct canbus *cb, int address, uint64_t name, int period_ms);
/* Run the claim and request timers at now_ms (clock_real_ms); returns the
 * next deadline or -1. */
int64_t canbus_tick(struct canbus *cb, int64_t now_ms);
/* The name in [can "name"]. */
const char *canbus_name(const struct canbus *cb);
/* Counters and state. */
void canbus_stats(const struct canbus *cb, struct canbus_stats *st);

#endif
