/* report: gives every record and event the common header (v, dev, boot, seq,
 * ts, ts_src, mono_ms), stores it, and echoes it on stdout when asked.
 * Owns the payload buffer; the store owns the rows, the uplinks send them. */
#ifndef EMGW_REPORT_H
#define EMGW_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/store.h"

#define REPORT_MAX_PAYLOAD 65536
#define REPORT_ECHO_READER 30 /* the store cursor bit of the stdout echo: never acked */

struct report {
	struct store *store;
	char dev[64];
	int echo;	  /* also print each committed payload on stdout */
	uint64_t echoed;  /* highest seq printed */
	uint64_t emitted; /* payloads made since start */
	uint64_t last_seq;
	char buf[REPORT_MAX_PAYLOAD];
};

/* Format numbers with this (12 significant digits: no 0.05 * 7 noise). */
#define REPORT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* Stamp body (type-specific fields, consumed) with the header, then store it
 * (echoing it when asked).  The seq used, or 0 on error (logged). */
uint64_t report_emit(struct report *r, enum store_kind kind, json_t *body,
		     const struct clock_now *now);

/* Print every payload committed since the last call as one JSON line on
 * stdout (when echo is on): only what the store holds, so a line printed is
 * a row that survives a crash. */
void report_echo_committed(struct report *r);

#endif
