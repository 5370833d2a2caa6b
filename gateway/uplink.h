/* uplink: what every uplink back-end (MQTT, the HJ platform, a file, ...)
 * offers the daemon: an ops table.  Each back-end reads the store through
 * its own bit and cursors and acknowledges what it has delivered; it owns
 * its connection and never touches another back-end's state.  The set of
 * back-ends in force is uplinks.c's; this header defines only the shape. */
#ifndef EMGW_UPLINK_H
#define EMGW_UPLINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/store.h"
#include "protocols/payload.h"

#define UPLINK_CMD_MAX 4096 /* bytes of a command request, at most */
/* bytes of a set-config request (a whole commented configuration), at most */
#define UPLINK_CONFIG_MAX (256 * 1024)
#define UPLINK_CMD_NAME	  64

/* What the daemon lends every back-end at open. */
struct uplink_env {
	struct store *store;
	int wake_fd; /* an eventfd: threads of a back-end wake the loop with it */
	int has_can; /* an engine CAN source exists */
	/* Record a back-end's event (a row it had to give up on): stamped now,
	 * stored like any other event. */
	payload_event_fn *event;
	void *event_ctx;
};

/* One turn of the loop, as a back-end sees it. */
struct uplink_tick {
	int64_t real_ms;      /* real monotonic ms: pacing, retries, deadlines */
	struct clock_now now; /* the daemon's clock: row and frame times */
	int final;	      /* no more rows will come (a replay has ended) */
	int drain;	      /* the daemon waits for the store to empty */
};

/* A command from the server, copied off the back-end's thread. */
struct uplink_command {
	char name[UPLINK_CMD_NAME]; /* the last topic level: cmd/<name> */
	char payload[UPLINK_CMD_MAX + 1];
	size_t len;	 /* bytes in payload (NUL-terminated) */
	size_t full_len; /* bytes received: more than len means cut off */
	/* A set-config beyond UPLINK_CMD_MAX: its whole text on the heap (len
	 * bytes), freed by whoever takes the command; else NULL. */
	char *large;
	char refuse[32]; /* set: answer with this error, do not run it */
};

/*
 * A back-end.  `bit` is its bit in the store's acknowledgement mask: stored
 * in every row's acked column, so a bit is never reused for another
 * back-end.  Optional members may be NULL.  Every call is on the main thread.
 */
struct uplink_ops {
	const char *name;	/* its config section: "mqtt", "platform", "file" */
	const char *status_key; /* its key in the status object */
	int bit;
	/* Does cfg turn it on? */
	int (*enabled)(const struct config *cfg);
	/* A back-end for cfg; NULL on error (logged). */
	void *(*open)(const struct config *cfg, const struct uplink_env *env);
	/* Say goodbye (briefly waiting for it to leave), close and free. */
	void (*close)(void *u, const struct clock_now *now);
	/* The descriptor to poll, or -1, and the events (optional). */
	int (*fd)(const void *u);
	short (*events)(const void *u);
	/* The descriptor is ready (optional). */
	void (*io)(void *u, short revents, const struct clock_now *now);
	/* Connect when due, send committed rows, acknowledge what arrived. */
	void (*process)(void *u, const struct uplink_tick *t);
	/* Real monotonic ms at which process must run again, or -1. */
	int64_t (*deadline)(const void *u);
	/* Its part of the status (new reference); ss: the store's figures. */
	json_t *(*status)(const void *u, const struct store_stats *ss, int64_t now_wall_ms);
	/* The configuration changes from old to fresh: 0 when nothing of its
	 * own changed (or it took the change in place), 1 when it must be
	 * closed and opened again. */
	int (*reconfigure)(void *u, const struct config *old, const struct config *fresh);
	/* The daemon's status text, to publish (optional). */
	void (*set_status)(void *u, const char *json);
	/* The next command received: 1, or 0 when none waits or there is no
	 * room for its answer yet (optional). */
	int (*next_command)(void *u, struct uplink_command *cmd);
	/* Queue a command's answer for sending; 0, or -1 with the reason in
	 * why (optional). */
	int (*answer)(void *u, const char *id, const char *json, char *why, size_t whysize);
};

#endif
