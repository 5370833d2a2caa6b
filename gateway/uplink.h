/* uplink: the MQTT link (paho MQTTAsync, MQTT 3.1.1 or 5, persistence off:
 * the store is the persistence).  Reads rows through its own store cursors
 * (live rows first, the backlog behind at a bounded rate), publishes them
 * QoS 1, one record or a batch a message, and acknowledges them to the store
 * on PUBACK.  Receives remote commands and hands them out; never executes
 * one.  paho's threads only queue notes and commands for the main thread;
 * everything else runs on the main thread.  Touches no other module's state. */
#ifndef EMGW_UPLINK_H
#define EMGW_UPLINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/store.h"

#define UPLINK_MQTT	0    /* this uplink's bit in the store's acknowledgement mask */
#define UPLINK_CMD_MAX	4096 /* bytes of a command request, at most */
#define UPLINK_CMD_NAME 64

struct uplink;

struct uplink_stats {
	int connected;
	uint64_t published; /* messages handed to paho */
	uint64_t records;   /* rows in them (a batch counts each record) */
	uint64_t acked;	    /* rows acknowledged */
	uint64_t failed;    /* messages paho reported as not delivered */
	uint64_t connects;
	uint64_t bytes;		  /* payload bytes handed to paho */
	uint64_t wire_bytes;	  /* PUBLISH packets' bytes (headers + topic + payload) */
	int64_t last_ack_mono_ms; /* -1 if none yet */
	char last_error[192];
};

/* A command from the server, copied off paho's thread. */
struct uplink_command {
	char name[UPLINK_CMD_NAME]; /* the last topic level: cmd/<name> */
	char payload[UPLINK_CMD_MAX + 1];
	size_t len;	 /* bytes in payload (NUL-terminated) */
	size_t full_len; /* bytes received: more than UPLINK_CMD_MAX means cut off */
};

/* A client for cfg, publishing for device dev; notes from paho's threads
 * wake the loop through wake_fd (an eventfd).  Starts connecting (or waits
 * for a trustworthy clock first, with TLS).  NULL on error (logged). */
struct uplink *uplink_open(const struct config_mqtt *cfg, const char *dev, struct store *store,
			   int wake_fd);
/* Publish the offline status, disconnect and free. */
void uplink_close(struct uplink *u);
/* Main thread: handle paho's notes, reconnect when due, publish what the
 * store has.  Call after the store is flushed. */
void uplink_process(struct uplink *u, int64_t now_ms);
/* Monotonic ms at which uplink_process must run again, or -1. */
int64_t uplink_deadline(const struct uplink *u);
/* Non-zero when connected with room in the window: rows committed now
 * would leave at once (the store should not defer its commit). */
int uplink_wants_rows(const struct uplink *u);
/* Set the retained status payload; published now if connected, and on
 * every (re)connect. */
void uplink_set_status(struct uplink *u, const char *json);
/* The next command received, copied into *cmd: 1, or 0 when none waits. */
int uplink_next_command(struct uplink *u, struct uplink_command *cmd);
/* Publish json (QoS 1, not retained) on <prefix>/<dev>/cmd-result/<id>.
 * 0, or -1 when not connected or refused. */
int uplink_answer(struct uplink *u, const char *id, const char *json);
/* Figures for status. */
void uplink_stats(const struct uplink *u, struct uplink_stats *st);
/* The uplink's part of the status (new reference); ss gives the backlog. */
json_t *uplink_status_json(const struct uplink *u, const struct store_stats *ss,
			   int64_t now_wall_ms);

#endif
