/* canbus: the CAN source.  Decodes J1939 and NMEA 2000 from a back-end
 * (source.h: SocketCAN, or a candump/CANboat log replayed) into the table,
 * and keeps the counters, diagnostics and transmit state of its bus.  Knows
 * its bus and the table, nothing else of the daemon. */
#ifndef EMGW_CANBUS_H
#define EMGW_CANBUS_H

#include <stdint.h>

#include <jansson.h>

#include "gateway/config.h"
#include "gateway/diag.h"
#include "gateway/table.h"

struct canbus;

/* Input waits this long unread at most: the loop reads a live socket and
 * releases a paced replay's frames in batches, each frame at its own
 * time, so a full bus wakes the daemon a few times a second, not per frame. */
#define CANBUS_BATCH_MS 200

/* Live: a frame was applied at mono_ms, its kernel receive time. */
typedef void canbus_frame_fn(void *ctx, int64_t mono_ms);

/* Replay: the next frame of a log. */
struct canbus_next {
	int64_t t_us;	/* its log time, microseconds since the epoch */
	int64_t due_ms; /* real monotonic ms when it is due (<= now: due now) */
};

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
struct canbus *canbus_open(const struct config_can *cfg, int source, struct table *t);
/* Use fd (a CAN_RAW socket, or a socketpair end in tests) as a live source. */
struct canbus *canbus_open_fd(int fd, const char *name, int source, struct table *t);
/* Close and free. */
void canbus_close(struct canbus *cb);
/* Descriptor to poll for input, or -1 (replay, or socket down). */
int canbus_fd(const struct canbus *cb);
/* Live: the descriptor for the loop to poll: canbus_fd, but -1 while the
 * socket rests after a read (until canbus_retry ends the rest). */
int canbus_poll_fd(const struct canbus *cb);
/* Live: read every frame waiting on the descriptor, each applied at its
 * kernel receive time; then the socket rests canbus_batch_ms. */
void canbus_read(struct canbus *cb);
/* Live: while the socket rests, read what waits all the same (a wake-up
 * for something else, before a tick); the rest ends when it would have,
 * and once it is up this only ends it (the poll reads what waits). */
void canbus_catch_up(struct canbus *cb);
/* How long input may wait unread (ms): CANBUS_BATCH_MS, less when a live
 * socket's receive buffer would not hold that much of a full bus. */
int canbus_batch_ms(const struct canbus *cb);
/* Live: call fn(ctx, mono_ms) after each data frame applied, with the
 * frame's own time (signal-rate detectors judge at it); NULL: none. */
void canbus_set_frame_hook(struct canbus *cb, canbus_frame_fn *fn, void *ctx);
/* Replay: 1 and *n for the log's next frame (read, not applied; the same
 * until canbus_replay_apply), 0 when the log has ended or this is no replay.
 * real_ms is clock_real_ms(), for pacing. */
int canbus_replay_next(struct canbus *cb, int64_t real_ms, struct canbus_next *n);
/* Replay: the log's times moved so that its next frame comes at log_us
 * (microseconds since the epoch): a log opened beside others already
 * replaying follows on from their time, as a looping log does. */
void canbus_replay_follow(struct canbus *cb, int64_t log_us);
/* Replay: apply the frame canbus_replay_next returned, at clock_mono_ms()
 * (the caller moved the clock to its time). */
void canbus_replay_apply(struct canbus *cb);
/* Live: reopen a socket that went away, end a rest after a read, when
 * due.  Timers here run on real monotonic time (clock_real_ms).  Returns
 * the next such time, or -1. */
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
