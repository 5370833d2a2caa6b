/* table: the latest value of every canonical signal, per engine instance, with
 * its time, source and quality.  Only the main thread writes it; it knows
 * nothing of where values come from beyond a source tag. */
#ifndef EMGW_TABLE_H
#define EMGW_TABLE_H

#include <stdint.h>

#include "protocols/signals.h"

#define TABLE_INSTANCES 4 /* engine instances: 0 is the main engine */

enum table_quality { TABLE_EMPTY = 0, TABLE_OK, TABLE_NA, TABLE_ERROR };

struct table_entry {
	double value;
	int64_t mono_ms; /* when last written */
	uint8_t source;	 /* index of the source that wrote it */
	uint8_t quality;
};

struct table {
	struct table_entry e[SIG_COUNT][TABLE_INSTANCES];
	int stale_ms;
};

/* Empty table; values older than stale_ms are not fresh. */
void table_init(struct table *t, int stale_ms);
/* Values older than stale_ms are not fresh from now on (a reload). */
void table_set_stale(struct table *t, int stale_ms);
/* Store a valid value. */
void table_set(struct table *t, enum sig_id sig, int instance, double value, int64_t mono_ms,
	       int source);
/* Record that a signal was sent as not available or in error (no number). */
void table_mark(struct table *t, enum sig_id sig, int instance, enum table_quality q,
		int64_t mono_ms, int source);
/* 1 and *value when the signal is valid and fresh at now_ms; else 0. */
int table_get(const struct table *t, enum sig_id sig, int instance, int64_t now_ms, double *value);
/* Age in ms of the newest write by source, or -1 if it never wrote. */
int64_t table_source_age(const struct table *t, int source, int64_t now_ms);

#endif
