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
	/* Live: reopen when due; the next retry time, or -1. */
	int64_t (*retry)(struct source *s, int64_t real_ms);
	/* Transmit one frame; -1 when it cannot (NULL: never can). */
	int (*send)(struct source *s, const struct can_frame *f);
};

extern const struct source_ops cansock_ops;
extern const struct source_ops canreplay_ops;

/* SocketCAN on a descriptor already open (tests: a socketpair end). */
struct source *cansock_adopt(int fd, struct canbus *cb);

/* What a back-end hands to the CAN core (canbus.c). */
void canbus_frame(struct canbus *cb, uint32_t can_id, const uint8_t *data, int len,
		  int64_t mono_ms);
void canbus_n2k(struct canbus *cb, const struct canboat_msg *m, int64_t mono_ms);
/* The counters and state a back-end keeps up to date. */
struct canbus_stats *canbus_counters(struct canbus *cb);
/* A new bus state ("ok", "bus-off", ...), logged when it changes. */
void canbus_set_state(struct canbus *cb, const char *state);

#endif
