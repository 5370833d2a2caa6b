/* store: every record and event, in SQLite (WAL), until every uplink has it
 * (and keep_sent days more, as sent, for an export).
 * Owns the database handle, the sequence high-water mark and the boot counter;
 * knows nothing of MQTT or JSON beyond storing payload text. */
#ifndef EMGW_STORE_H
#define EMGW_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SEQ_BLOCK	  1000	/* numbers reserved at once, synced before use */
#define STORE_ID_LEN	  32	/* hex digits of the store id (128 bits) */
#define STORE_MAX_PAYLOAD 65536 /* the largest payload stored (report's buffer) */
#define STORE_RAM_MAX_MB  16	/* size cap of a store in memory */
#define STORE_LOCK_EXIT	  75	/* EX_TEMPFAIL: another emgwd holds the store */

struct store;

enum store_kind { STORE_RECORD = 0, STORE_EVENT = 1 };

/* Eviction priority when the store is full: lower classes go first.
 * Routine records go oldest first; position records are thinned (every
 * other one in the oldest half) before any is dropped; events, then alarms,
 * go last.  Values are stored: append only. */
enum store_class {
	STORE_CLASS_ROUTINE = 0,  /* records without a position */
	STORE_CLASS_POSITION = 1, /* records carrying a position (the track) */
	STORE_CLASS_EVENT = 2,
	STORE_CLASS_ALARM = 3,
	STORE_N_CLASSES
};

/* What may change while the store is open (reload). */
struct store_policy {
	int retention_days;	/* 0: no age limit */
	int max_size_mb;	/* 0: no size limit */
	int durability_full;	/* fsync every commit (synchronous=FULL) */
	int commit_interval_ms; /* store_flush_due commits at most this often */
	int keep_sent_days;	/* rows every uplink has are kept this long (0: deleted) */
};

/* One stored row as read back for an uplink. */
struct store_row {
	uint64_t seq;
	enum store_kind kind;
	int64_t mono_ms;
	int64_t wall_ms;
	char *payload; /* points into the reader's buffer, NUL-terminated */
	size_t len;
	unsigned skipped; /* rows just before it, after the previous one read, that do
			   * not unpack (store_stats' unreadable) */
};

struct store_stats {
	int64_t rows;		/* rows some uplink still needs */
	int64_t sent;		/* rows every uplink has, kept for keep_sent */
	int64_t oldest_wall_ms; /* of the rows still needed; 0 when none */
	int64_t evicted;	/* rows removed by retention, since the store was made */
	int64_t evicted_class[STORE_N_CLASSES]; /* the same, by class (since schema v2) */
	int64_t thinned; /* position rows removed by thinning (counted in evicted too) */
	int64_t bytes;	 /* database size */
	uint64_t
	    alarm_syncs; /* commits holding an alarm synced to disk (not under durability=full) */
	int64_t unreadable; /* rows met since start that do not unpack: skipped, kept */
};

/* What store_open had to do to come up (for the daemon to report). */
struct store_open_info {
	char moved_aside[PATH_MAX + 64]; /* the unusable file's new name, or "" */
	char corrupt_reason[256];	 /* why it was unusable, or "" */
	int ram;			 /* the store is in memory: a restart loses it */
	char ram_reason[256];		 /* why the file could not be used */
};

/* Open or create the store at path; uplink_mask is the set of uplink bits
 * (1 << uplink id) a row needs before it is deleted.  Increments the boot
 * counter durably.  Never fails for the file's sake: a corrupt file (SQLite
 * says corrupt or not a database, quick_check fails, not our schema) is
 * renamed <path>.corrupt-<time> and a new store made; a path that cannot be
 * written gives a store in memory (store_opened says which).  NULL only for
 * bad arguments or no memory (logged). */
struct store *store_open(const char *path, unsigned uplink_mask, int retention_days,
			 int max_size_mb);
/* What store_open did: moved a file aside, fell back to memory. */
const struct store_open_info *store_opened(const struct store *s);
/* The store id: STORE_ID_LEN hex digits, random, made with the store and
 * never changed.  A new store (lost, recreated, in memory) restarts boot and
 * seq at 1 but has a new id: (dev, id, boot, seq) never repeats. */
const char *store_id(const struct store *s);
/* "file", or "ram" for a store in memory. */
const char *store_mode(const struct store *s);
/* emgwd -n: whether the store at path could be opened as it is, without
 * touching it (read-only, no lock taken, no file made): 0 yes, 1 it does not
 * exist (a new one will be made), 2 a running emgwd holds it (not checked),
 * -1 unusable (store_open would move it aside); why says what. */
int store_check(const char *path, char *why, size_t len);
/* Take the lock that keeps a second emgwd off the store at path: an
 * exclusive flock on <path>.lock, held until the process exits.  The
 * descriptor, -1 when another process holds it, -2 when the lock file
 * cannot be made (errno; the store will likely be in memory anyway). */
int store_lock(const char *path);
/* Change the acknowledgement mask (an uplink turned on or off by reload):
 * rows every uplink of the new mask has acknowledged go at once.  0 or -1. */
int store_set_mask(struct store *s, unsigned uplink_mask);
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
/* The highest seq committed (what readers can see); rows above it are
 * appended but not yet committed. */
uint64_t store_committed_max(const struct store *s);
/* Add a row in the open transaction, of the default class of its kind
 * (records routine, events event). 0 or -1. */
int store_append(struct store *s, uint64_t seq, enum store_kind kind, int64_t mono_ms,
		 int64_t wall_ms, const char *payload, size_t len);
/* The same with an explicit eviction class. 0 or -1. */
int store_append_class(struct store *s, uint64_t seq, enum store_kind kind, enum store_class cls,
		       int64_t mono_ms, int64_t wall_ms, const char *payload, size_t len);
/* Commit the open transaction now (enforcing the size cap first). 0 or -1. */
int store_flush(struct store *s);
/* Commit if urgent (a stop's drain), if the open transaction holds an
 * alarm-class row, if STORE_TXN_MAX_ROWS rows wait, or if the commit
 * interval has passed since the first row of the open transaction was seen
 * here.  1: nothing is left uncommitted; 0: the commit is deferred
 * (store_flush_deadline says until when); -1: error. */
int store_flush_due(struct store *s, int64_t now_ms, int urgent);
/* Monotonic ms by which store_flush_due wants to run again, or -1. */
int64_t store_flush_deadline(const struct store *s);
/* Apply a policy (at start and on reload; the open store stays as it is). */
void store_set_policy(struct store *s, const struct store_policy *p);
/* Up to max committed rows after seq `after` (ascending) that uplink `uplink`
 * has not acknowledged (rows of the open transaction are not handed out: a
 * row is on disk before it is sent).  Payloads live in buf (bufsize bytes); returns the number of
 * rows, or -1. */
int store_fetch(struct store *s, int uplink, uint64_t after, struct store_row *rows, int max,
		char *buf, size_t bufsize);
/* The same, newest first: up to max rows before seq `before` (descending). */
int store_fetch_desc(struct store *s, int uplink, uint64_t before, struct store_row *rows, int max,
		     char *buf, size_t bufsize);
/* Uplink `uplink` has row seq; once every uplink has it the row goes, or,
 * with keep_sent, is kept as sent (no reader fetches it again): below the
 * sent boundary when no older row waits, else marked.  0 or -1. */
int store_ack(struct store *s, int uplink, uint64_t seq);
/* Called for each row the size cap removes before every uplink has it,
 * while it is removed (the store must not be touched from here; payload
 * NULL: the row did not unpack); then once with seq 0 when the pass is over, in its open
 * transaction (rows may be appended from there: they commit with the deletes). */
typedef void store_evict_fn(void *ctx, uint64_t seq, const char *payload, size_t len);
/* Set the one eviction hook (the sealer's: it declares what went); fn NULL:
 * none. */
void store_on_evict(struct store *s, store_evict_fn *fn, void *ctx);
/* Called in the open transaction just before its commit when rows leave
 * the reach of a reader that folds them (deleted, marked sent, or below the
 * sent boundary that commit saves), and at store_close: the sealer saves its
 * chain head there.  0 or -1 (the commit fails and is retried). */
typedef int store_commit_fn(void *ctx);
/* Set the one commit hook; fn NULL: none. */
void store_on_commit(struct store *s, store_commit_fn *fn, void *ctx);
/* Apply retention (age, size), counting evictions by class.  Age removes only
 * rows every uplink has acknowledged (an unsent row is never old enough: the
 * wall clock may be wrong); sent rows go after keep_sent days.  The size cap
 * takes sent rows first (not counted as evicted: nothing is lost), then
 * unsent rows by class.  0 or -1. */
int store_evict(struct store *s, int64_t now_wall_ms);
/* Figures for status. */
void store_stats(struct store *s, struct store_stats *st);
/* Transactions SQLite rolled back so far (disk full, I/O error): acks in
 * them are undone, so a reader that moved past those rows must go back. */
uint64_t store_rollbacks(const struct store *s);
/* Trusted time has arrived: every row of this boot still stamped
 * "ts_src":"unsynced" that no uplink has fetched yet (a fetched row may be at
 * the server already, which de-duplicates by boot+seq: it must not change)
 * gets wall_ms = mono_ms + offset_ms, and its payload's ts and ts_src (to
 * src) rewritten, in the open transaction.  Rows changed, or -1. */
int store_restamp(struct store *s, int64_t offset_ms, const char *src);
/* The system clock was stepped (NTP corrected it, someone set it): the same
 * for rows of this boot stamped from it ("unsynced", "rtc" or "ntp"), not
 * yet fetched; the time after the step is taken as the right one.  Rows
 * stamped "gnss" keep their time.  Rows changed (logged), or -1. */
int store_restamp_system(struct store *s, int64_t offset_ms, const char *src);
/* Rows up to seq are sealed (gateway/seal.c has hashed them): the restamps
 * leave them as they are, as they leave a row an uplink has fetched. */
void store_freeze(struct store *s, uint64_t seq);
/* Which rows store_read returns: wall time from_ms..to_ms (inclusive) and
 * seq from_seq..to_seq (inclusive); kind -1 any; type NULL any, else the
 * payload's "type" (events: "smoke", "seal", ...).  Sent rows too. */
struct store_query {
	int64_t from_ms, to_ms;
	uint64_t from_seq, to_seq;
	int kind;
	const char *type;
};

/* Up to max committed rows matching q, ascending by seq, payloads in buf as
 * store_fetch.  The number of rows (fewer than max when buf is full: go on
 * after the last seq), or -1. */
int store_read(struct store *s, const struct store_query *q, struct store_row *rows, int max,
	       char *buf, size_t bufsize);
/* A store opened read-only for store_read alone (emgwd --export, beside a
 * running daemon: WAL lets it read while the daemon writes).  NULL when it
 * cannot be opened (why says). */
struct store *store_open_reader(const char *path, char *why, size_t len);

/* A named integer of an uplink's own (e.g. serial numbers) in the meta
 * table: 0 and *v, 1 when never saved, -1 on error (logged). */
int store_meta_load(struct store *s, const char *key, int64_t *v);
/* Save it in the open transaction: on disk with the next commit.  0 or -1. */
int store_meta_save(struct store *s, const char *key, int64_t v);

#endif
