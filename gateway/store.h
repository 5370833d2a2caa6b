/* store: every record and event, in SQLite (WAL), until every uplink has it.
 * Owns the database handle, the sequence high-water mark and the boot counter;
 * knows nothing of MQTT or JSON beyond storing payload text. */
#ifndef EMGW_STORE_H
#define EMGW_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SEQ_BLOCK 1000 /* numbers reserved at once, synced before use */

struct store;

enum store_kind { STORE_RECORD = 0, STORE_EVENT = 1 };

/* One stored row as read back for an uplink. */
struct store_row {
	uint64_t seq;
	enum store_kind kind;
	int64_t mono_ms;
	int64_t wall_ms;
	char *payload; /* points into the reader's buffer, NUL-terminated */
	size_t len;
};

struct store_stats {
	int64_t rows;
	int64_t oldest_wall_ms; /* 0 when empty */
	int64_t evicted;        /* rows removed by retention, since the store was made */
	int64_t bytes;          /* database size */
};

/* Open or create the store at path; uplink_mask is the set of uplink bits
 * (1 << uplink id) a row needs before it is deleted.  Increments the boot
 * counter durably.  NULL on error (logged). */
struct store *store_open(const char *path, unsigned uplink_mask, int retention_days,
			 int max_size_mb);
/* Commit and close. */
void store_close(struct store *s);
/* This start's boot id (1, 2, ...: one more than the last start's). */
uint64_t store_boot(const struct store *s);
/* Next sequence number, never reused: blocks are reserved and synced first.
 * 0 on error (logged). */
uint64_t store_next_seq(struct store *s);
/* The number store_next_seq would hand out next, without taking it or doing
 * I/O; every stored row has a smaller seq. */
uint64_t store_next_seq_peek(const struct store *s);
/* Add a row in the open transaction. 0 or -1. */
int store_append(struct store *s, uint64_t seq, enum store_kind kind, int64_t mono_ms,
		 int64_t wall_ms, const char *payload, size_t len);
/* Commit the open transaction (the loop calls this before it sleeps, and
 * before anything appended is sent). 0 or -1. */
int store_flush(struct store *s);
/* Up to max rows after seq `after` (ascending) that uplink `uplink` has not
 * acknowledged.  Payloads live in buf (bufsize bytes); returns the number of
 * rows, or -1. */
int store_fetch(struct store *s, int uplink, uint64_t after, struct store_row *rows, int max,
		char *buf, size_t bufsize);
/* Uplink `uplink` has row seq; the row goes once every uplink has it. 0 or -1. */
int store_ack(struct store *s, int uplink, uint64_t seq);
/* Apply retention (age, size), counting evictions.  0 or -1. */
int store_evict(struct store *s, int64_t now_wall_ms);
/* Figures for status. */
void store_stats(struct store *s, struct store_stats *st);

#endif
