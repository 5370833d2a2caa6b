/* fieldbus: the Modbus source.  One thread per bus (an RTU line or a TCP
 * endpoint) owns that bus's libmodbus context and polls its devices by their
 * read plans; decoded values reach the main thread through a bounded queue
 * and the daemon's eventfd, and the main thread writes them into the table.
 * Owns its threads, their modbus_t, the devices' counters and the custom
 * values (points whose name is not a canonical signal).  A bus thread never
 * touches the table, the clock or anything else of the daemon. */
#ifndef EMGW_FIELDBUS_H
#define EMGW_FIELDBUS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "gateway/config.h"
#include "gateway/table.h"
#include "protocols/payload.h"

struct fieldbus;

/* An event for the daemon (point-lost), a new reference it takes. */

/* One device's counters, as its bus thread last reported them. */
struct fieldbus_stats {
	uint64_t scheduled;    /* polls due on the device's grid while it answered */
	uint64_t polls;	       /* poll cycles started (back-off attempts too) */
	uint64_t ok;	       /* cycles in which every block was read */
	uint64_t transactions; /* requests sent */
	uint64_t exceptions;   /* exception responses */
	uint64_t timeouts;
	uint64_t crc_errors;
	uint64_t other_errors; /* connection lost or refused, garbled answers */
	int responding;	       /* 0 after two failed cycles in a row */
	int backoff_ms;	       /* current back-off step; 0 while responding */
	int blocks;	       /* read transactions per cycle in the plan in force */
	int unreadable;	       /* points the device refuses even alone, now */
	char last_error[64];
};

/* Start the thread of bus `bus` of cfg (cfg is copied).  Values are tagged
 * `source` in the table; wake_fd is written when something is queued.
 * NULL on error (logged). */
struct fieldbus *fieldbus_open(const struct config *cfg, int bus, int source, int wake_fd);
/* Stop the thread (waits for at most one response timeout) and free. */
void fieldbus_close(struct fieldbus *fb);
/* Main thread: apply what the bus thread queued; values are stamped now_ms. */
void fieldbus_process(struct fieldbus *fb, struct table *t, int64_t now_ms);
/* Main thread: add the fresh custom values to a record, as "name" (engine
 * instance 0) or "name@N"; text that is not UTF-8 is left out. */
void fieldbus_record(const struct fieldbus *fb, struct payload_record *rec, int64_t now_ms,
		     int stale_ms);
/* Main thread: one status object per device, added to obj under its name. */
void fieldbus_status(struct fieldbus *fb, json_t *obj, int64_t now_ms);
/* Main thread: where `point-lost` events go (start when a point the device
 * refuses alone is left out, end when it is read again); none before. */
void fieldbus_set_events(struct fieldbus *fb, payload_event_fn *on_event, void *ctx);
/* Main thread: the bus's devices, 0 .. fieldbus_devices() - 1: name, the
 * bus's name, and ms since the device's newest value (-1: none yet). */
int fieldbus_devices(const struct fieldbus *fb);
const char *fieldbus_device_name(const struct fieldbus *fb, int i);
const char *fieldbus_bus_name(const struct fieldbus *fb);
int64_t fieldbus_device_age(const struct fieldbus *fb, int i, int64_t now_ms);
/* Main thread: what the bus thread last read, appended to devices (an
 * array), a device an object: name, bus, unit, state, last_error,
 * last_value_age_s and its points as --poll-once words them (no raw
 * registers: the main thread has only the values), each with "valid" and
 * "age_s" (null before the first read).  Opens no connection. */
void fieldbus_latest(const struct fieldbus *fb, json_t *devices, int64_t now_ms);
/* --poll-once: read every configured device once, print one JSON line per
 * point (value and raw registers, or the error).  0 when every device
 * answered every point, 1 otherwise. */
int fieldbus_poll_once(const struct config *cfg, FILE *out);

/* What one read of a device gave (--selftest). */
struct fieldbus_probe {
	int points;	  /* in its profile */
	int read;	  /* read, in range */
	int out_of_range; /* read, outside their validity range */
	struct fieldbus_stats st;
};
/* --selftest: read device `dev` of cfg once (its own connection, reads
 * only).  0 and *p (st.last_error says what failed), -1 out of memory. */
int fieldbus_probe(const struct config *cfg, int dev, struct fieldbus_probe *p);

#endif
