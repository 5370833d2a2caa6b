/* uplink: the MQTT link (paho MQTTAsync, persistence off: the store is the
 * persistence).  Reads rows through its own store cursor, publishes them
 * QoS 1, and acknowledges them to the store on PUBACK.  paho's threads only
 * queue notes for the main thread; everything else runs on the main thread. */
#ifndef EMGW_UPLINK_H
#define EMGW_UPLINK_H

#include <stdint.h>

#include "gateway/config.h"
#include "gateway/store.h"

#define UPLINK_MQTT 0 /* this uplink's bit in the store's acknowledgement mask */

struct uplink;

struct uplink_stats {
	int connected;
	uint64_t published;
	uint64_t acked;
	uint64_t failed;
	uint64_t connects;
	int64_t last_ack_mono_ms; /* -1 if none yet */
	char last_error[128];
};

/* A client for cfg, publishing for device dev; notes from paho's threads
 * wake the loop through wake_fd (an eventfd).  Starts connecting.  NULL on
 * error (logged). */
struct uplink *uplink_open(const struct config_mqtt *cfg, const char *dev, struct store *store,
			   int wake_fd);
/* Publish the offline status, disconnect and free. */
void uplink_close(struct uplink *u);
/* Main thread: handle paho's notes, reconnect when due, publish what the
 * store has.  Call after the store is flushed. */
void uplink_process(struct uplink *u, int64_t now_ms);
/* Monotonic ms at which uplink_process must run again, or -1. */
int64_t uplink_deadline(const struct uplink *u);
/* Set the retained status payload; published now if connected, and on
 * every (re)connect. */
void uplink_set_status(struct uplink *u, const char *json);
/* Figures for status. */
void uplink_stats(const struct uplink *u, struct uplink_stats *st);
/* Rows handed to paho and not yet acknowledged. */
int uplink_inflight(const struct uplink *u);

#endif
