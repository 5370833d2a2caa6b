/* report: gives every record and event the common header (v, dev, boot, seq,
 * ts, ts_src, mono_ms), encodes it (protocols/payload), stores it with the
 * class its type has, and echoes it on stdout when asked.  Owns the payload
 * buffer and the record being assembled; the store owns the rows, the
 * uplinks send them. */
#ifndef EMGW_REPORT_H
#define EMGW_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/store.h"
#include "protocols/payload.h"

#define REPORT_MAX_PAYLOAD STORE_MAX_PAYLOAD
#define REPORT_ECHO_READER 30 /* the store cursor bit of the stdout echo: never acked */

struct report {
	struct store *store;
	char dev[64];
	int echo;	  /* also print each committed payload on stdout */
	uint64_t echoed;  /* highest seq printed */
	uint64_t emitted; /* payloads made since start */
	uint64_t last_seq;
	uint64_t failed;	   /* payloads that could not be encoded or stored */
	uint64_t custom_dropped;   /* custom values that did not fit a record */
	struct payload_record rec; /* the record being assembled */
	char buf[REPORT_MAX_PAYLOAD];
};

/* Format status numbers with this (12 significant digits, as payloads). */
#define REPORT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* Report into store as device dev, printing each committed payload on
 * stdout when echo is set (rows left from an earlier run were printed then). */
void report_init(struct report *r, struct store *store, const char *dev, int echo);
/* The device id in the header from now on (a reload). */
void report_set_dev(struct report *r, const char *dev);
/* The record to fill for the next report_emit_record, emptied. */
struct payload_record *report_record(struct report *r);
/* Stamp rec / ev with the header, encode and store it (echoing it when
 * asked).  The seq used, or 0 on error (logged and counted in failed). */
uint64_t report_emit_record(struct report *r, const struct payload_record *rec,
			    const struct clock_now *now);
uint64_t report_emit_event(struct report *r, const struct payload_event *ev,
			   const struct clock_now *now);

/* Print every payload committed since the last call as one JSON line on
 * stdout (when echo is on): only what the store holds, so a line printed is
 * a row that survives a crash. */
void report_echo_committed(struct report *r);

#endif
