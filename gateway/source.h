/* source: the back-end interface of a CAN source.  SocketCAN (cansock.c) and
 * log replay (canreplay.c: candump and CANboat) sit behind one ops table; a
 * back-end reads, canbus.c decodes into the table.  Neither calls the daemon:
 * a replay says when its next frame is, and the daemon applies it. */
#ifndef EMGW_SOURCE_H
#define EMGW_SOURCE_H

#include <stdint.h>

#include <linux/can.h>

#include "gateway/canbus.h"
#include "gateway/config.h"
#include "protocols/canboat.h"

struct source; /* a back-end's own state */

struct source_ops {
	/* Open for cfg, feeding cb; NULL on error (logged). */
	struct source *(*open)(const struct config_can *cfg, struct canbus *cb);
	void (*close)(struct source *s);
	/* Descriptor to poll for input, or -1. */
	int (*fd)(const struct source *s);
	/* Live: every frame waiting on the descriptor. */
	void (*read)(struct source *s);
	/* Replay: 1 and the next frame's time when there is one, 0 at the end. */
	int (*next)(struct source *s, int64_t real_ms, struct canbus_next *n);
	/* Replay: apply the frame next() returned. */
	void (*apply)(struct source *s);
	/* Live: how long input may wait unread (NULL: CANBUS_BATCH_MS). */
	int (*batch_ms)(const struct source *s);
	/* Live: reopen when due; the next retry time, or -1. */
	int64_t (*retry)(struct source *s, int64_t real_ms);
	/* Transmit one frame; -1 when it cannot (NULL: never can). */
	int (*send)(struct source *s, const struct can_frame *f);
};

extern const struct source_ops cansock_ops;
extern const struct source_ops canreplay_ops;

/* SocketCAN on a descriptor already open (tests: a socketpair end). */
struct source *cansock_adopt(int fd, struct canbus *cb);

struct msghdr;
/* What the kernel says of a received frame in its control messages. */
struct cansock_meta {
	int64_t stamp_us; /* SO_TIMESTAMP: wall time of reception, us; -1: none */
	uint32_t drops;	  /* SO_RXQ_OVFL: frames dropped so far ... */
	int has_drops;	  /* ... when the kernel said */
};
/* Read the control messages of one received frame into *m. */
void cansock_read_meta(struct msghdr *mh, struct cansock_meta *m);
/* A frame's monotonic ms from its wall-time stamp (-1: none), given the
 * wall time (us) and monotonic time (ms) of the read and the previous
 * frame's time (frames never go back). */
int64_t cansock_frame_ms(int64_t stamp_us, int64_t read_wall_us, int64_t read_mono_ms,
			 int64_t last_mono_ms);

/* What a back-end hands to the CAN core (canbus.c). */
void canbus_frame(struct canbus *cb, uint32_t can_id, const uint8_t *data, int len,
		  int64_t mono_ms);
void canbus_n2k(struct canbus *cb, const struct canboat_msg *m, int64_t mono_ms);
/* Live: a frame was applied at mono_ms (its own time, not the read's). */
void canbus_applied(struct canbus *cb, int64_t mono_ms);
/* The counters and state a back-end keeps up to date. */
struct canbus_stats *canbus_counters(struct canbus *cb);
/* A new bus state ("ok", "bus-off", ...), logged when it changes. */
void canbus_set_state(struct canbus *cb, const char *state);

#endif
