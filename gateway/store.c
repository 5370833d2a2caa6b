/* store: records and events in SQLite until every uplink has them.
 *
 * Durability, in short:
 * - WAL with synchronous=NORMAL for ordinary commits: a power cut may lose
 *   the last commits but never corrupts the file, and a commit costs no fsync.
 * - The boot counter and every sequence block are committed with
 *   synchronous=FULL, so they are on disk before anything depends on them.
 *   The WAL is written in order, so such a commit also makes every earlier
 *   commit durable.
 * - Writes (appends, acks, evictions) go into one transaction that
 *   store_flush commits: one commit per loop turn, not one per row.
 *   store_flush_due defers that commit up to commit_interval (5 s by
 *   default: at 1 Hz five records share a commit and its WAL pages;
 *   README "Durability and flash" has what each costs), or
 *   STORE_TXN_MAX_ROWS rows, whichever comes first; durability=full
 *   makes every commit synchronous=FULL (an fsync each).  An uplink
 *   waiting for rows does not hurry the commit: the interval bounds
 *   what a power cut can take and how late a row is sent.
 * - An alarm-class row (smoke, zone violation, tamper, seal, store) is
 *   committed on the next store_flush_due whatever the interval, and that
 *   commit is synced (fdatasync of the WAL): neither a crash nor a power
 *   cut takes an alarm that was made, and it is sent at once.
 * - Rows are handed to readers only once committed: nothing leaves the box
 *   that a power cut could take back.
 *
 * Eviction when the size cap is reached (store_enforce_cap), in order:
 * routine records oldest first; then position records are thinned: in the
 * oldest half of them, every other row goes (each row is thinned at most
 * once; meta 'thinned_upto' remembers how far); then position records
 * oldest first; then events; alarms last.  Every removed row is counted, in
 * total and by class, in the same transaction as the delete. Each row removed
 * that an uplink still lacks goes to the eviction hook (store_on_evict: the
 * sealer, which declares it in an evicted event).
 *
 * Sent rows (keep_sent): a row every uplink has acknowledged is deleted at
 * once, or, with keep_sent, kept as sent for an export (emgwd --export,
 * get-events) without writing to it: in the common case (rows acknowledged
 * in seq order) a boundary moves, meta 'sent_upto', and every row up to it
 * is sent; that one meta value rides on the next commit that writes meta
 * anyway (a seal's), or goes a minute later (store_commit_meta).  A row
 * acknowledged while an older one still waits (a backlog sent newest
 * first, a second uplink behind) is marked sent instead (acked = -1), one
 * row written as its delete was.  No reader fetches a sent row again (every
 * bit of -1 is set, and fetches stay above the boundary), nor an uplink
 * added later.  Sent rows are the first to go when the size cap is reached
 * (before any unsent row, and not counted as evicted: nothing is lost), and
 * go after keep_sent days in one delete of the rows older than the first
 * young row.
 *
 * Age retention removes only rows every uplink has acknowledged, which in
 * practice means only when there is no uplink at all: an acknowledged row is
 * deleted (or marked sent) at once.  A wall clock stepped ten years ahead (a GNSS receiver's
 * week-rollover guess, a bad NTP server) must not take unsent data with it;
 * the size cap alone evicts unsent rows, by class, counted.
 *
 * Start-up faults are not fatal (store_open): a file SQLite calls corrupt or
 * not a database, that fails PRAGMA quick_check, or that is not an emgw
 * store we can use, is renamed <path>.corrupt-<UTC time> (its WAL with it)
 * and a new store started; a path we cannot write falls back to a store in
 * memory (STORE_RAM_MAX_MB at most), which a restart loses.
 */
#include "gateway/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#define ZLIB_CONST /* next_in points to const */
#include <zlib.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/shmvfs.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_MS_PER_DAY      86400000LL
#define STORE_EVICT_CHUNK_MIN 16
#define STORE_EVICT_CHUNK_MAX 4096
#define STORE_MAX_UPLINKS     32 /* bits of the unsigned uplink mask */
/* A deferred commit still happens after this many rows: the WAL, and what
 * a power cut can take, stay small even during a fast replay offline. */
#define STORE_TXN_MAX_ROWS 256
/* A transaction of acknowledgements alone waits this long for rows to ride
 * with (or STORE_TXN_MAX_ROWS acks): a crash before it commits sends those
 * rows again (duplicates the server drops), it loses nothing. */
#define STORE_ACK_HOLD_MS 30000
/* The sent boundary (keep_sent) is saved at least this often when it moves
 * (a seal's commit, every minute by default, carries it sooner): a crash
 * sends at most this much again. */
#define STORE_SENT_SAVE_MS 60000
/* A commit this close to its time (at most a twentieth of the interval)
 * goes in the wake-up at hand, a tick's, instead of waking the daemon on
 * its own a moment later. */
#define STORE_COMMIT_SLACK_MS 50
#define STORE_CAP_EVERY	      64 /* appends between size checks within a transaction */
#define STORE_RAM_PATH	      ":memory:"
/* The page cache holds what a commit and a fetch touch again (page 1, the
 * tables' and indexes' interior pages and last leaves): 32 pages missed 10
 * and 11 times in 3 minutes on the footprint jobs (16 pages: up to 55).
 * SQLite's default (2000 KiB) kept every page the file grew by: the heap
 * grew ~26 KB a minute on the 1 Hz Modbus job until it reached 2 MB.  Dirty
 * pages still spill into the WAL only past SQLite's default size, as before
 * (a large transaction writes no more than it did). */
#define STORE_CACHE_PAGES "32"
#define STORE_SPILL_KIB	  "-2000"

/*
 * Schema migrations: store_migrations[v] takes a store from version v to
 * v + 1 (version 0 is an empty file).  To add v2, append its SQL here; the
 * version written into meta follows from the array's length.
 */
static const char *const store_migrations[] = {
    /* v0 -> v1: the first schema. */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;"
    "CREATE TABLE rows(seq INTEGER PRIMARY KEY, kind INTEGER, mono_ms INTEGER,"
    " wall_ms INTEGER, acked INTEGER NOT NULL DEFAULT 0, payload TEXT);"
    /* Age eviction and the oldest-row figure must not scan the table;
     * rows of unknown time (0) are never evicted by age, so leave them out. */
    "CREATE INDEX rows_wall ON rows(wall_ms) WHERE wall_ms > 0;"
    /* seq starts at 1: everything below seq_hwm counts as possibly used. */
    "INSERT INTO meta(key, value) VALUES ('schema_version', 0), ('seq_hwm', 1),"
    " ('boot', 0), ('evicted', 0);",
    /* v1 -> v2: eviction classes (events keep their priority), counters by
     * class, and how far position rows have been thinned. */
    "ALTER TABLE rows ADD COLUMN class INTEGER NOT NULL DEFAULT 0;"
    "UPDATE rows SET class = 2 WHERE kind = 1;"
    "CREATE INDEX rows_class ON rows(class, seq);"
    "INSERT INTO meta(key, value) VALUES ('evicted_routine', 0), ('evicted_position', 0),"
    " ('evicted_event', 0), ('evicted_alarm', 0), ('thinned', 0), ('thinned_upto', 0);",
    /* v2 -> v3: no secondary indexes.  At 1 Hz every commit rewrote a leaf
     * page of each index besides the table's: most of the bytes written to
     * eMMC.  Rows are in seq order, which is time order, so age eviction
     * and the oldest row start from the first rows; eviction by class (only
     * when the store is full) walks the table in seq order. */
    "DROP INDEX IF EXISTS rows_wall;"
    "DROP INDEX IF EXISTS rows_class;",
    /* v3 -> v4: payloads may be packed (store_pack), which an older emgwd
     * would send as they are: it must refuse the store.  No SQL. */
    "",
};

/* meta keys of the eviction counters, by class */
static const char *const store_class_keys[STORE_N_CLASSES] = {
    "evicted_routine",
    "evicted_position",
    "evicted_event",
    "evicted_alarm",
};

#define STORE_SCHEMA_VERSION ((int64_t)(sizeof(store_migrations) / sizeof(store_migrations[0])))

enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_SYNC_FULL,
	ST_SYNC_NORMAL,
	ST_META_GET,
	ST_META_ADD,
	ST_META_SET,
	ST_SEQ_RESERVE,
	ST_APPEND,
	ST_FETCH,
	ST_FETCH_DESC,
	ST_ACK_DELETE,
	ST_ACK_MARK,
	ST_ACK_SENT,
	ST_ACK_GET,
	ST_UNSENT_BETWEEN,
	ST_SENT_EVICT,
	ST_SENT_BEFORE,
	ST_FIRST_YOUNG,
	ST_COUNT_SENT,
	ST_OLDEST_UNSENT,
	ST_READ,
	ST_EVICT_AGE,
	ST_EVICT_CLASS,
	ST_MEDIAN,
	ST_THIN_END,
	ST_THIN,
	ST_PAGE_COUNT,
	ST_FREELIST,
	ST_COUNT,
	ST_OLDEST,
	ST_RESTAMP,
	ST_N
};

static const char *const store_sql[ST_N] = {
    /* IMMEDIATE takes the write lock at once: a deferred transaction that
     * read first could fail with SQLITE_BUSY when it later writes. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [ST_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_ADD] = "UPDATE meta SET value = value + ?2 WHERE key = ?1",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    /* Reserve from what is stored, not from our copy: even a second process
     * on the same file (a mistake) would get a disjoint block. */
    [ST_SEQ_RESERVE] = "UPDATE meta SET value = value + ?1 WHERE key = 'seq_hwm' RETURNING value",
    [ST_APPEND] = "INSERT INTO rows(seq, kind, mono_ms, wall_ms, payload, class)"
		  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* ?5: the sent boundary (keep_sent): rows up to it are sent. */
    [ST_FETCH] = "SELECT seq, kind, mono_ms, wall_ms, emgw_text(payload) FROM rows"
		 " WHERE seq > ?1 AND seq > ?5 AND seq <= ?4 AND (acked & ?2) = 0"
		 " ORDER BY seq LIMIT ?3",
    [ST_FETCH_DESC] = "SELECT seq, kind, mono_ms, wall_ms, emgw_text(payload) FROM rows"
		      " WHERE seq < ?1 AND seq > ?5 AND seq <= ?4 AND (acked & ?2) = 0"
		      " ORDER BY seq DESC LIMIT ?3",
    /* The last uplink's ack deletes; any other marks. */
    [ST_ACK_DELETE] = "DELETE FROM rows WHERE seq = ?1 AND ((acked | ?2) & ?3) = ?3",
    [ST_ACK_MARK] = "UPDATE rows SET acked = acked | ?2 WHERE seq = ?1 AND acked != -1",
    /* keep_sent: the last uplink's ack marks the row sent instead. */
    [ST_ACK_SENT] = "UPDATE rows SET acked = -1 WHERE seq = ?1 AND acked != -1",
    [ST_ACK_GET] = "SELECT acked FROM rows WHERE seq = ?1",
    /* A row between the boundary and ?2 not yet sent: the boundary stays. */
    [ST_UNSENT_BETWEEN] = "SELECT seq FROM rows WHERE seq > ?1 AND seq < ?2 AND acked != -1"
			  " LIMIT 1",
    [ST_SENT_EVICT] = "DELETE FROM rows WHERE seq IN (SELECT seq FROM rows"
		      " WHERE seq <= ?2 OR acked = -1 ORDER BY seq LIMIT ?1)",
    [ST_SENT_BEFORE] = "DELETE FROM rows WHERE seq < ?1 AND (seq <= ?2 OR acked = -1)",
    /* Rows are in time order: the first young row bounds the old ones. */
    [ST_FIRST_YOUNG] = "SELECT seq FROM rows WHERE wall_ms >= ?1 ORDER BY seq LIMIT 1",
    [ST_COUNT_SENT] = "SELECT count(*) FROM rows WHERE seq <= ?1 OR acked = -1",
    [ST_OLDEST_UNSENT] = "SELECT seq, wall_ms FROM rows WHERE seq >= ?1 AND wall_ms > 0"
			 " AND acked != -1 ORDER BY seq LIMIT 1",
    [ST_READ] = "SELECT seq, kind, mono_ms, wall_ms, emgw_text(payload) FROM rows"
		" WHERE seq >= ?1 AND seq <= ?2 AND wall_ms >= ?3 AND wall_ms <= ?4"
		" AND (?5 < 0 OR kind = ?5)"
		" AND (?6 IS NULL OR json_extract(emgw_text(payload), '$.type') = ?6)"
		" ORDER BY seq LIMIT ?7",
    /* ?3 the uplink mask: only rows every uplink has (none, when there is
     * an uplink: those are deleted at their last ack). */
    [ST_EVICT_AGE] = "DELETE FROM rows WHERE wall_ms > 0 AND wall_ms < ?1 AND class = ?2"
		     " AND (acked & ?3) = ?3 AND acked != -1 AND seq > ?4",
    /* RETURNING: what went unsent is handed to the eviction hook. */
    [ST_EVICT_CLASS] = "DELETE FROM rows WHERE seq IN (SELECT seq FROM rows WHERE class = ?1"
		       " AND acked != -1 AND seq > ?3 ORDER BY seq LIMIT ?2)"
		       " RETURNING seq, emgw_text(payload), acked",
    /* The first row of the newer half of a class: thinning stays below it. */
    [ST_MEDIAN] = "SELECT seq FROM rows WHERE class = ?1 ORDER BY seq LIMIT 1"
		  " OFFSET (SELECT count(*) FROM rows WHERE class = ?1) / 2",
    [ST_THIN_END] = "SELECT max(seq) FROM (SELECT seq FROM rows WHERE class = ?1"
		    " AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4)",
    /* Every other row of a span: the 2nd, 4th, ... go. */
    [ST_THIN] = "DELETE FROM rows WHERE seq IN (SELECT seq FROM (SELECT seq,"
		" row_number() OVER (ORDER BY seq) AS rn FROM rows WHERE class = ?1"
		" AND seq > ?2 AND seq <= ?3) WHERE rn % 2 = 0)"
		" RETURNING seq, emgw_text(payload), acked",
    [ST_PAGE_COUNT] = "PRAGMA page_count",
    [ST_FREELIST] = "PRAGMA freelist_count",
    [ST_COUNT] = "SELECT count(*) FROM rows",
    [ST_OLDEST] = "SELECT wall_ms FROM rows WHERE wall_ms > 0 ORDER BY seq LIMIT 1",
    /* ?1 offset, ?2 source, ?3 first seq this boot may rewrite, ?4 also
     * rows stamped from the system clock (rtc, ntp).  The time text is made
     * from integers (no floating-point seconds): the same form
     * clock_format_iso writes. */
    [ST_RESTAMP] =
	"UPDATE rows SET wall_ms = mono_ms + ?1, payload = emgw_pack(json_set("
	" emgw_text(payload), '$.ts', strftime('%Y-%m-%dT%H:%M:%S',"
	" (mono_ms + ?1) / 1000, 'unixepoch') || printf('.%03dZ', (mono_ms + ?1) % 1000),"
	" '$.ts_src', ?2))"
	" WHERE seq >= ?3 AND acked = 0 AND mono_ms + ?1 >= 0"
	" AND (json_extract(emgw_text(payload), '$.ts_src') = 'unsynced' OR (?4 AND"
	" json_extract(emgw_text(payload), '$.ts_src') IN ('rtc', 'ntp')))",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	char *path;
	unsigned uplink_mask;
	int retention_days;
	int max_size_mb;
	int64_t page_size;
	uint64_t boot;
	uint64_t next_seq; /* next number to hand out */
	uint64_t seq_hwm;  /* first number not covered by a durable reservation */
	uint64_t boot_seq; /* first number of this boot */
	uint64_t fetched;  /* highest seq an uplink in the mask has fetched */
	int64_t evicted;
	int64_t evicted_class[STORE_N_CLASSES];
	int64_t thinned;
	int64_t thinned_upto;  /* position rows up to this seq were thinned once */
	int64_t unlogged;      /* evictions not yet logged */
	int64_t nsent;	       /* sent rows: up to sent_upto, or acked = -1 */
	uint64_t sent_upto;    /* keep_sent: every row up to here is sent */
	uint64_t sent_saved;   /* sent_upto as in meta */
	uint64_t unsent_from;  /* rows below are sent or of no time (status' oldest) */
	int64_t sent_saved_ms; /* CLOCK_MONOTONIC when sent_upto was last saved */
	store_evict_fn *on_evict;
	void *on_evict_ctx;
	store_commit_fn *on_commit;
	void *on_commit_ctx;
	int evict_handed; /* rows went to on_evict in this pass */
	struct store_policy policy;
	int64_t txn_since_ms;	/* when store_flush_due first saw the open transaction, or -1 */
	uint64_t appended_max;	/* highest seq appended, committed or not */
	uint64_t committed_max; /* highest seq readers may see */
	uint64_t rollbacks;	/* transactions SQLite rolled back (disk full) */
	int64_t nrows;		/* rows in the table, kept so status never counts them */
	int in_txn;
	int pending;		   /* rows appended in the open transaction */
	int alarm;		   /* the open transaction holds an alarm-class row */
	int wal_fd;		   /* the WAL, for fdatasync after an alarm's commit, or -1 */
	uint64_t alarm_syncs;	   /* commits of alarms synced to disk */
	int64_t txn_changes0;	   /* sqlite3_total_changes64 when it began */
	int64_t txn_acks;	   /* rows it deleted or marked for acks */
	int64_t txn_marks;	   /* acks that moved the sent boundary (no row written) */
	int64_t txn_meta;	   /* meta rows it wrote */
	int closing;		   /* store_close's last commit: save what waits */
	int disk_err;		   /* SQLite code of the disk trouble we are in, or 0 */
	int64_t lost;		   /* rows rolled back since that trouble began */
	int ram;		   /* in memory: nothing survives a restart */
	int corrupt;		   /* opening found the file unusable as it is (move it aside) */
	char why[256];		   /* the last error, for store_open_info */
	char id[STORE_ID_LEN + 1]; /* store id, hex */
	z_stream *deflate;	   /* store_pack's, made at the first row */
	z_stream *inflate;	   /* emgw_text's, made at the first packed row */
	int64_t unreadable;	   /* rows met that do not unpack (store_unreadable) */
	uint64_t bad[8];	   /* the last of them, each counted and logged once */
	unsigned nbad;
	struct store_open_info opened; /* what store_open had to do */
};

static sqlite3_stmt *store_st(struct store *s, enum store_stmt id);

/*
 * Log a failed call.  Disk trouble (full, I/O errors) repeats on every flush
 * until it goes away: log it when it starts, and when it ends
 * (store_commit), not once a second.
 */
static void store_err(struct store *s, const char *what)
{
	int code = sqlite3_extended_errcode(s->db);
	int disk = (code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR;

	if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
		s->corrupt = 1;
	snprintf(s->why, sizeof(s->why), "%s: %s", what, sqlite3_errmsg(s->db));
	if (disk && code == s->disk_err)
		log_debug("store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	else
		log_warnx("store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	if (disk)
		s->disk_err = code;
}

/* The file holds something we must not use as it is (not our schema, a
 * newer one, a broken meta table): logged, and store_open moves it aside. */
__attribute__((format(printf, 2, 3))) static void store_refuse(struct store *s, const char *fmt,
							       ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->corrupt = 1;
	log_warnx("store %s: %s", s->path, s->why);
}

static int64_t store_meta_quiet(struct store *s, const char *key)
{
	sqlite3_stmt *st = store_st(s, ST_META_GET);
	int64_t v = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* The eviction counters as stored (at open, and after a rollback). */
static void store_load_counters(struct store *s)
{
	s->evicted = store_meta_quiet(s, "evicted");
	for (int c = 0; c < STORE_N_CLASSES; c++)
		s->evicted_class[c] = store_meta_quiet(s, store_class_keys[c]);
	s->thinned = store_meta_quiet(s, "thinned");
	s->thinned_upto = store_meta_quiet(s, "thinned_upto");
	s->sent_upto = s->sent_saved = (uint64_t)store_meta_quiet(s, "sent_upto");
	s->sent_saved_ms = clock_real_ms();
}

/*
 * After a failed statement: SQLITE_FULL, SQLITE_IOERR and the like may roll
 * the whole transaction back.  Notice it, so that we begin a new one, and
 * say what was lost.
 */
static void store_recount(struct store *s);

static void store_txn_check(struct store *s)
{
	if (!s->in_txn || !sqlite3_get_autocommit(s->db))
		return;
	if (s->lost == 0)
		log_warnx("store %s: transaction rolled back, %d appended rows lost", s->path,
			  s->pending);
	else
		log_debug("store %s: transaction rolled back, %d appended rows lost", s->path,
			  s->pending);
	s->lost += s->pending;
	s->in_txn = 0;
	s->pending = 0;
	s->alarm = 0;
	s->appended_max = s->committed_max;
	s->rollbacks++;
	/* Evictions counted in that transaction are gone with it. */
	store_load_counters(s);
	store_recount(s);
}

static int store_exec_int(struct store *s, enum store_stmt id, const char *what, int64_t *v);

/* The row count from the table itself: at open and after a rollback only
 * (a full count reads every page). */
static void store_recount(struct store *s)
{
	if (store_exec_int(s, ST_COUNT, "count rows", &s->nrows) < 0)
		s->nrows = 0;
	sqlite3_bind_int64(store_st(s, ST_COUNT_SENT), 1, (int64_t)s->sent_upto);
	if (store_exec_int(s, ST_COUNT_SENT, "count sent rows", &s->nsent) < 0)
		s->nsent = 0;
	s->unsent_from = 0; /* a rolled-back ack makes a row unsent again */
}

/* Run a statement that returns no rows (or whose rows we ignore). */
static int store_exec(struct store *s, enum store_stmt id, const char *what)
{
	sqlite3_stmt *st = store_st(s, id);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_err(s, what);
		store_txn_check(s);
		return -1;
	}
	return 0;
}

/* Run a statement that returns one integer. */
static int store_exec_int(struct store *s, enum store_stmt id, const char *what, int64_t *v)
{
	sqlite3_stmt *st = store_st(s, id);
	int rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_err(s, what);
		store_txn_check(s);
		return -1;
	}
	return 0;
}

static int store_begin(struct store *s)
{
	if (s->in_txn)
		return 0;
	if (store_exec(s, ST_BEGIN, "begin") < 0)
		return -1;
	s->in_txn = 1;
	s->pending = 0;
	s->txn_changes0 = sqlite3_total_changes64(s->db);
	s->txn_acks = 0;
	s->txn_marks = 0;
	s->txn_meta = 0;
	return 0;
}

/* The open transaction holds acknowledgements and nothing else: no
 * reader waits for it, so it rides on the next commit of rows. */
static int store_acks_only(const struct store *s)
{
	return s->pending == 0 && s->txn_acks + s->txn_marks > 0 &&
	       sqlite3_total_changes64(s->db) - s->txn_changes0 == s->txn_acks;
}

/*
 * An alarm's commit is on disk before we go on, also with
 * synchronous=NORMAL: fdatasync the WAL (which makes every earlier commit
 * durable too).  Cheaper than a synchronous=FULL transaction (no extra
 * frame), and alarms are few.  The WAL file lives as long as the store.
 */
static void store_sync_wal(struct store *s)
{
	char wal[PATH_MAX];

	if (s->ram || s->policy.durability_full)
		return;
	if (s->wal_fd < 0 && snprintf(wal, sizeof(wal), "%s-wal", s->path) < (int)sizeof(wal))
		s->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (s->wal_fd < 0 || fdatasync(s->wal_fd) < 0) {
		log_warn("store %s: sync of an alarm's commit", s->path);
		return;
	}
	s->alarm_syncs++;
}

/* A meta write's result (rc), counted: store_commit_meta tells such
 * changes from rows leaving. */
static int store_meta_wrote(struct store *s, int rc)
{
	if (rc == 0)
		s->txn_meta += sqlite3_changes(s->db);
	return rc;
}

/*
 * What meta the commit carries.  A 1 Hz commit that writes the meta page
 * for nothing costs a WAL frame each time (README "Durability and flash"),
 * so: the sent boundary rides on a commit that writes meta anyway (a seal
 * saves its chain head), else goes at most every STORE_SENT_SAVE_MS; losing
 * it to a crash only sends those rows again.  The commit hook (the
 * sealer's chain head) runs whenever rows leave the sealer's reach in this
 * transaction (deleted, marked sent, or below the boundary saved now): a
 * head saved less often is recovered by folding the rows after its cursor
 * again, which must still be there.  Counted conservatively: any change
 * that is not an append or a meta write counts as rows leaving.
 */
static int store_commit_meta(struct store *s)
{
	int64_t other = sqlite3_total_changes64(s->db) - s->txn_changes0 - s->pending - s->txn_meta;
	int moved = s->sent_upto != s->sent_saved;
	int64_t now = clock_real_ms();
	int save_sent;

	save_sent = moved && (s->closing || other > 0 || s->txn_meta > 0 ||
			      now - s->sent_saved_ms >= STORE_SENT_SAVE_MS);
	if (s->on_commit && (other > 0 || save_sent) && s->on_commit(s->on_commit_ctx) < 0)
		return -1;
	if (!moved || (!save_sent && s->txn_meta == 0))
		return 0;
	if (store_meta_save(s, "sent_upto", (int64_t)s->sent_upto) < 0)
		return -1;
	s->sent_saved = s->sent_upto;
	s->sent_saved_ms = now;
	return 0;
}

/*
 * Commit the open transaction.  If the commit fails (disk full) and SQLite
 * kept the transaction, keep it too: the next flush retries, and the page
 * cache bounds what it holds meanwhile.
 */
static int store_commit(struct store *s)
{
	int alarm = s->alarm;

	if (!s->in_txn)
		return 0;
	if (store_commit_meta(s) < 0)
		return -1;
	if (store_exec(s, ST_COMMIT, "commit") < 0)
		return -1;
	if (alarm)
		store_sync_wal(s);
	s->in_txn = 0;
	s->pending = 0;
	s->alarm = 0;
	s->txn_since_ms = -1;
	s->committed_max = s->appended_max;
	if (s->disk_err) {
		log_notice("store %s: commits succeed again (%" PRId64 " appended rows lost)",
			   s->path, s->lost);
		s->disk_err = 0;
		s->lost = 0;
	}
	return 0;
}

/* A key the store itself keeps: missing is an error. */
static int store_meta_get(struct store *s, const char *key, int64_t *v)
{
	int rc = store_meta_load(s, key, v);

	if (rc == 1)
		store_refuse(s, "meta key %s missing", key);
	return rc == 0 ? 0 : -1;
}

static int store_meta_add(struct store *s, const char *key, int64_t delta)
{
	sqlite3_bind_text(store_st(s, ST_META_ADD), 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(store_st(s, ST_META_ADD), 2, delta);
	return store_meta_wrote(s, store_exec(s, ST_META_ADD, "update meta"));
}

/*
 * Commit the open transaction, then run one more write transaction with
 * synchronous=FULL: what it writes is on disk when this returns.  op runs
 * inside that transaction.
 */
static int store_durable(struct store *s, int (*op)(struct store *, void *), void *arg)
{
	int ret = -1;

	if (store_commit(s) < 0)
		return -1;
	if (store_exec(s, ST_SYNC_FULL, "synchronous=FULL") < 0)
		return -1;
	if (store_begin(s) < 0)
		goto out_sync;
	if (op(s, arg) < 0)
		goto out_rollback;
	if (store_commit(s) < 0)
		goto out_rollback;
	ret = 0;
	goto out_sync;
out_rollback:
	/* Nothing of this transaction may count as written. */
	if (s->in_txn) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = 0;
	}
out_sync:
	if (!s->policy.durability_full && store_exec(s, ST_SYNC_NORMAL, "synchronous=NORMAL") < 0)
		ret = -1;
	return ret;
}

/* 128 random bits: from getrandom, or /dev/urandom when the kernel's pool
 * is not ready yet (early boot): the id must be unique, not secret. */
static int store_random(uint64_t v[2])
{
	int fd;
	ssize_t n = getrandom(v, 2 * sizeof(v[0]), GRND_NONBLOCK);

	if (n == (ssize_t)(2 * sizeof(v[0])))
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, v, 2 * sizeof(v[0]));
	close(fd);
	return n == (ssize_t)(2 * sizeof(v[0])) ? 0 : -1;
}

static void store_format_id(struct store *s, int64_t hi, int64_t lo)
{
	snprintf(s->id, sizeof(s->id), "%016" PRIx64 "%016" PRIx64, (uint64_t)hi, (uint64_t)lo);
}

/* The store id: made once, with the store (or at the first start of a store
 * made before ids), kept in meta as two integers (meta values are integers,
 * and a hex text of digits only would turn into a number). */
static int store_id_op(struct store *s)
{
	int64_t hi = 0, lo = 0;
	uint64_t r[2];
	int rc = store_meta_load(s, "store_id_hi", &hi);

	if (rc == 0 && store_meta_get(s, "store_id_lo", &lo) < 0)
		return -1;
	if (rc == 1) {
		if (store_random(r) < 0) {
			log_warn("store %s: no random bytes for the store id", s->path);
			return -1;
		}
		hi = (int64_t)r[0];
		lo = (int64_t)r[1];
		if (store_meta_save(s, "store_id_hi", hi) < 0 ||
		    store_meta_save(s, "store_id_lo", lo) < 0)
			return -1;
	} else if (rc < 0) {
		return -1;
	}
	store_format_id(s, hi, lo);
	return 0;
}

static int store_boot_op(struct store *s, void *arg)
{
	int64_t v;

	(void)arg;
	if (store_meta_add(s, "boot", 1) < 0 || store_meta_get(s, "boot", &v) < 0)
		return -1;
	s->boot = (uint64_t)v;
	return store_id_op(s);
}

static int store_seq_op(struct store *s, void *arg)
{
	int64_t hwm = 0;

	(void)arg;
	sqlite3_bind_int64(store_st(s, ST_SEQ_RESERVE), 1, STORE_SEQ_BLOCK);
	if (store_meta_wrote(
		s, store_exec_int(s, ST_SEQ_RESERVE, "reserve sequence numbers", &hwm)) < 0)
		return -1;
	if (hwm <= STORE_SEQ_BLOCK) {
		log_warnx("store %s: bad seq_hwm %" PRId64, s->path, hwm);
		return -1;
	}
	s->next_seq = (uint64_t)hwm - STORE_SEQ_BLOCK;
	s->seq_hwm = (uint64_t)hwm;
	return 0;
}

/* Bring the schema to STORE_SCHEMA_VERSION, in one transaction. */
static int store_migrate(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int64_t version = -1, objects = 0;
	char *err = NULL;
	int rc;

	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		store_err(s, "begin");
		return -1;
	}
	/* Read the version inside the transaction: no one else migrates meanwhile. */
	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT (SELECT count(*) FROM sqlite_schema),"
	    " (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
	    -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		objects = sqlite3_column_int64(st, 0);
		if (sqlite3_column_int64(st, 1) == 0)
			version = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK) {
		store_err(s, "read schema");
		goto out_rollback;
	}
	if (version < 0) {
		rc = sqlite3_prepare_v2(
		    s->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else if (objects > 0) {
		store_refuse(s, "not an emgw store (tables but no meta)");
		goto out_rollback;
	}
	if (version < 0) {
		store_refuse(s, "no schema_version in meta");
		goto out_rollback;
	}
	if (version > STORE_SCHEMA_VERSION) {
		store_refuse(
		    s, "schema version %" PRId64 " is newer than this emgwd knows (%" PRId64 ")",
		    version, STORE_SCHEMA_VERSION);
		goto out_rollback;
	}
	for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
		char sql[96];

		snprintf(sql, sizeof(sql),
			 "UPDATE meta SET value = %" PRId64 " WHERE key = 'schema_version'", v + 1);
		if (sqlite3_exec(s->db, store_migrations[v], NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
			snprintf(sql, sizeof(sql), "migrating schema v%" PRId64 " to v%" PRId64, v,
				 v + 1);
			sqlite3_free(err);
			store_err(s, sql);
			goto out_rollback;
		}
	}
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		store_err(s, "commit schema");
		goto out_rollback;
	}
	if (version == 0)
		log_info("store %s: created (schema v%" PRId64 ")", s->path, STORE_SCHEMA_VERSION);
	else if (version < STORE_SCHEMA_VERSION)
		log_notice("store %s: schema migrated from v%" PRId64 " to v%" PRId64, s->path,
			   version, STORE_SCHEMA_VERSION);
	return 0;
out_rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Packed payloads.  A record or event (a payload that begins with the
 * envelope, STORE_PACK_PREFIX) is stored deflated with a preset dictionary
 * of the envelope and this store's id: at 1 Hz a Modbus record's ~210 bytes
 * become ~89: a commit of five writes two leaf pages instead of three, and
 * checkpoints copy half the bytes an hour (README "Durability and flash").
 * The BLOB is STORE_PACK_V1, the text's length (LEB128), its CRC-32
 * (zlib's crc32, 4 bytes little-endian), then the raw deflate stream: a
 * wrong dictionary or a flipped bit often inflates to other text of the
 * same length, the CRC tells.  (V1 got its CRC before any store in the
 * field held one: it is redefined, not bumped.)  A row that does not unpack
 * is read as NULL: counted, skipped by every reader, kept as it is.
 * Any other payload, one that would not shrink, and every row written
 * before schema v4 stay TEXT.  SQL reads either through emgw_text(payload),
 * which gives the text byte for byte (seals hash it).  The dictionary of V1
 * never changes: another dictionary is another version byte.
 */
#define STORE_PACK_V1	  1
#define STORE_PACK_PREFIX "{\"v\":"
#define STORE_PACK_WBITS  10 /* a 1 KiB window holds the dictionary and a row */
#define STORE_PACK_MEM	  2  /* zlib's memLevel: ~12 KB of deflate state */

/* What rows repeat: a seal's keys, then the envelope (nearest the row:
 * the shortest distances) with this store's id. */
static int store_pack_dict(const struct store *s, char *dict, size_t size)
{
	return snprintf(dict, size,
			"\"type\":\"seal\",\"sealed_boot\":1,\"from\":1,\"to\":1,\"hash\":\"\","
			"\"prev\":\"\",\"key\":\"\",\"alg\":\"sm2\",\"signature\":\"\"}"
			"{\"v\":1,\"dev\":\"\",\"sid\":\"%s\",\"boot\":1,\"seq\":1,"
			"\"ts\":\"2026-01-01T00:00:00.000Z\",\"ts_src\":\"rtc\",\"mono_ms\":1,"
			"\"sig\":{\"",
			s->id);
}

/* text packed into a new sqlite3_malloc'd blob: 1, with *out and *outlen;
 * 0 when it is to be stored as it is (not a row of ours, would not shrink,
 * or zlib or memory failed: storing it unpacked is always right). */
static int store_pack(struct store *s, const char *text, size_t len, unsigned char **out,
		      int *outlen)
{
	char dict[384];
	unsigned char *b;
	size_t cap, n = 0;
	int dl = store_pack_dict(s, dict, sizeof(dict));
	z_stream *z = s->deflate;

	if (!s->id[0] || !text || len < strlen(STORE_PACK_PREFIX) || len > STORE_MAX_PAYLOAD ||
	    memcmp(text, STORE_PACK_PREFIX, strlen(STORE_PACK_PREFIX)) != 0)
		return 0;
	if (!z && (z = s->deflate = calloc(1, sizeof(*z))) != NULL &&
	    deflateInit2(z, Z_BEST_COMPRESSION, Z_DEFLATED, -STORE_PACK_WBITS, STORE_PACK_MEM,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		z = s->deflate = NULL;
	}
	if (!z)
		return 0;
	cap = 1 + 5 + 4 + deflateBound(z, (uLong)len);
	if ((b = sqlite3_malloc64(cap)) == NULL)
		return 0;
	b[n++] = STORE_PACK_V1;
	for (size_t v = len;; v >>= 7) {
		b[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		if (v <= 0x7f)
			break;
	}
	for (uLong crc = crc32(0, (const Bytef *)text, (uInt)len), k = 0; k < 4; k++)
		b[n++] = (unsigned char)(crc >> (8 * k));
	z->next_in = (const Bytef *)text;
	z->avail_in = (uInt)len;
	z->next_out = b + n;
	z->avail_out = (uInt)(cap - n);
	if (deflateReset(z) != Z_OK ||
	    deflateSetDictionary(z, (const Bytef *)dict, (uInt)dl) != Z_OK ||
	    deflate(z, Z_FINISH) != Z_STREAM_END || cap - z->avail_out >= len) {
		sqlite3_free(b);
		return 0;
	}
	*out = b;
	*outlen = (int)(cap - z->avail_out);
	return 1;
}

/* A packed payload's text (sqlite3_malloc'd, *len bytes) in *out: 0; -1
 * when it does not unpack (damaged, or no store id to make the dictionary
 * from), -2 when memory ran out. */
static int store_unpack(struct store *s, const unsigned char *b, size_t n, char **out, size_t *len)
{
	char dict[384];
	int dl = store_pack_dict(s, dict, sizeof(dict));
	z_stream *z = s->inflate;
	size_t i = 1, want = 0;
	uLong crc = 0;
	char *text;

	if (!s->id[0] || n < 2 || b[0] != STORE_PACK_V1)
		return -1;
	for (int shift = 0;; shift += 7) {
		if (i >= n || shift > 28) /* 5 bytes hold 32 bits: no 6th */
			return -1;
		want |= (size_t)(b[i] & 0x7f) << shift;
		if (!(b[i++] & 0x80))
			break;
	}
	if (want > STORE_MAX_PAYLOAD || n - i < 4)
		return -1;
	for (int k = 0; k < 4; k++)
		crc |= (uLong)b[i++] << (8 * k);
	if (!z && (z = s->inflate = calloc(1, sizeof(*z))) != NULL &&
	    inflateInit2(z, -STORE_PACK_WBITS) != Z_OK) {
		free(z);
		z = s->inflate = NULL;
	}
	if (!z || (text = sqlite3_malloc64(want + 1)) == NULL)
		return -2;
	z->next_in = b + i;
	z->avail_in = (uInt)(n - i);
	z->next_out = (Bytef *)text;
	z->avail_out = (uInt)want + 1;
	if (inflateReset(z) != Z_OK ||
	    inflateSetDictionary(z, (const Bytef *)dict, (uInt)dl) != Z_OK ||
	    inflate(z, Z_FINISH) != Z_STREAM_END || z->total_out != want ||
	    crc32(0, (const Bytef *)text, (uInt)want) != crc) {
		sqlite3_free(text);
		return -1;
	}
	*out = text;
	*len = want;
	return 0;
}

/* SQL emgw_text(payload): the text, packed or not; NULL when it does not
 * unpack (the caller counts and skips the row: store_unreadable). */
static void store_sql_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	size_t len;
	char *text;
	int rc;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	rc = store_unpack(sqlite3_user_data(ctx), sqlite3_value_blob(argv[0]),
			  (size_t)sqlite3_value_bytes(argv[0]), &text, &len);
	if (rc == 0)
		sqlite3_result_text64(ctx, text, len, sqlite3_free, SQLITE_UTF8);
	else if (rc == -2)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_null(ctx);
}

/* SQL emgw_pack(text): what store_append would store. */
static void store_sql_pack(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned char *b;
	int n;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_TEXT &&
	    store_pack(sqlite3_user_data(ctx), (const char *)sqlite3_value_text(argv[0]),
		       (size_t)sqlite3_value_bytes(argv[0]), &b, &n))
		sqlite3_result_blob(ctx, b, n, sqlite3_free);
	else
		sqlite3_result_value(ctx, argv[0]);
}

/* Before any statement that names them is prepared. */
static int store_functions(struct store *s)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;

	if (sqlite3_create_function(s->db, "emgw_text", 1, flags, s, store_sql_text, NULL, NULL) !=
		SQLITE_OK ||
	    sqlite3_create_function(s->db, "emgw_pack", 1, flags, s, store_sql_pack, NULL, NULL) !=
		SQLITE_OK)
		return -1;
	return 0;
}

static int store_pragmas(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int wal = 0;

	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/* Small pages for a new file: a commit rewrites whole pages (page 1,
	 * an interior page, the last leaf), and a row's bytes land once in the
	 * WAL and once at the checkpoint whatever the size.  Measured on the
	 * 1 Hz Modbus job with the WAL index in RAM (README "Durability and
	 * flash"): 512 B pages write the least, 4 KiB half as much again as
	 * 1 KiB; a row over 477 B spills into an overflow page, written once.
	 * An existing file keeps its size. */
	sqlite3_exec(s->db, "PRAGMA page_size=512", NULL, NULL, NULL);
	if (s->ram)
		return 0; /* no journal to speak of, nothing to sync */
	/* WAL: commits append, a crash never corrupts, readers never block us. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			wal = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
		else
			store_err(s, "journal_mode=WAL");
	}
	sqlite3_finalize(st);
	if (!wal) {
		/* Our durability argument rests on WAL; do not run without it. */
		if (!s->why[0])
			store_err(s, "cannot switch to WAL journal mode");
		return -1;
	}
	/* NORMAL: no fsync per commit; a power cut loses the last commits only.
	 * journal_size_limit: after a large backlog drains, give the WAL's space
	 * back instead of keeping it at its largest. */
	if (sqlite3_exec(s->db,
			 "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=4194304;"
			 "PRAGMA cache_size=" STORE_CACHE_PAGES
			 "; PRAGMA cache_spill=" STORE_SPILL_KIB ";",
			 NULL, NULL, NULL) != SQLITE_OK) {
		store_err(s, "pragmas");
		return -1;
	}
	return 0;
}

/* A statement, prepared at its first use and kept: the rare ones (eviction,
 * thinning, reads, restamps, the backlog newest first) cost SQLite's heap
 * nothing until needed (~48 KB on the 1 Hz Modbus job, of 87 KB for all).
 * NULL when it cannot be prepared (logged): SQLite then refuses the bind and
 * the step (SQLITE_MISUSE), the caller's error path. */
static sqlite3_stmt *store_st(struct store *s, enum store_stmt id)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, store_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &s->st[id], NULL) != SQLITE_OK)
		store_err(s, store_sql[id]);
	return s->st[id];
}

/* Every statement compiles against this file (one that does not is refused
 * at open), one at a time; each is kept only from its first use. */
static int store_prepare(struct store *s)
{
	for (int i = 0; i < ST_N; i++) {
		if (!store_st(s, i))
			return -1;
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	return 0;
}

static void store_free(struct store *s)
{
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	if (s->deflate)
		deflateEnd(s->deflate);
	if (s->inflate)
		inflateEnd(s->inflate);
	free(s->deflate);
	free(s->inflate);
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		store_err(s, "close");
	free(s->path);
	free(s);
}

/*
 * Rows that every current uplink has acknowledged but that are still here:
 * the mask lost an uplink since they were acked.  Drop them at start.
 */
static int store_sweep_acked(struct store *s)
{
	char sql[128];

	if (s->uplink_mask == 0)
		return 0;
	/* Marked sent, not deleted: with keep_sent = 0, store_drop_sent then
	 * deletes them (at open the policy is not known yet). */
	snprintf(sql, sizeof(sql),
		 "UPDATE rows SET acked = -1 WHERE acked != -1 AND (acked & %u) = %u",
		 s->uplink_mask, s->uplink_mask);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_err(s, "sweep acknowledged rows");
		return -1;
	}
	if (sqlite3_changes(s->db) > 0)
		log_info("store %s: %d rows acknowledged by every uplink marked sent", s->path,
			 sqlite3_changes(s->db));
	return 0;
}

/* keep_sent = 0: rows marked sent go (today's behaviour: deleted at ack). */
static int store_drop_sent(struct store *s)
{
	if (s->policy.keep_sent_days > 0 || s->nsent == 0)
		return 0;
	char sql[96];

	snprintf(sql, sizeof(sql), "DELETE FROM rows WHERE acked = -1 OR seq <= %" PRIu64,
		 s->sent_upto);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_err(s, "drop sent rows");
		return -1;
	}
	s->nrows -= sqlite3_changes(s->db);
	s->nsent = 0;
	return 0;
}

int store_set_mask(struct store *s, unsigned uplink_mask)
{
	if (uplink_mask == s->uplink_mask)
		return 0;
	log_info("store %s: uplink mask 0x%x (was 0x%x)", s->path, uplink_mask, s->uplink_mask);
	s->uplink_mask = uplink_mask;
	if (store_sweep_acked(s) < 0)
		return -1;
	store_recount(s);
	return store_drop_sent(s);
}

static int store_page_size(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		s->page_size = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW || s->page_size <= 0) {
		store_err(s, "page size");
		return -1;
	}
	return 0;
}

/* PRAGMA quick_check at open: a page of garbage in the middle is found now,
 * not months later by the one query that reads it. */
static int store_quick_check(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc, ok = 0;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);

		ok = r && strcmp(r, "ok") == 0;
		if (!ok)
			store_refuse(s, "quick_check: %s", r ? r : "?");
	} else {
		store_err(s, "quick_check");
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* One attempt at opening path (or a store in memory): NULL on failure, with
 * *corrupt set when the file is unusable as it is and why said. */
static struct store *store_try(const char *path, unsigned uplink_mask, int retention_days,
			       int max_size_mb, int ram, int *corrupt, char *why, size_t whylen)
{
	struct store *s;
	int64_t v;

	*corrupt = 0;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		log_warn("store %s", path);
		snprintf(why, whylen, "out of memory");
		free(s);
		return NULL;
	}
	s->ram = ram;
	s->wal_fd = -1;
	if (ram && (max_size_mb == 0 || max_size_mb > STORE_RAM_MAX_MB))
		max_size_mb = STORE_RAM_MAX_MB;
	s->uplink_mask = uplink_mask;
	s->retention_days = retention_days;
	s->max_size_mb = max_size_mb;
	s->policy.retention_days = retention_days;
	s->policy.max_size_mb = max_size_mb;
	s->txn_since_ms = -1;

	/* The directory must exist: creating it is the installer's job
	 * (tmpfiles), with the right owner and mode. */
	if (!ram)
		shmvfs_link(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    ram ? NULL : shmvfs_name()) != SQLITE_OK) {
		if (s->db)
			store_err(s, "open");
		else
			log_warnx("store %s: open: out of memory", path);
		goto out_free;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (store_pragmas(s) < 0 || (!ram && store_quick_check(s) < 0) || store_migrate(s) < 0 ||
	    store_functions(s) < 0 || store_prepare(s) < 0)
		goto out_free;
	if (store_page_size(s) < 0)
		goto out_free;
	if (store_sweep_acked(s) < 0)
		goto out_free;
	if (store_meta_get(s, "seq_hwm", &v) < 0)
		goto out_free;
	if (v < 1) {
		store_refuse(s, "bad seq_hwm %" PRId64, v);
		goto out_free;
	}
	/* Every number below the stored mark may have been handed out before a
	 * crash: start at the mark, which forces a fresh durable reservation. */
	s->next_seq = s->seq_hwm = (uint64_t)v;
	s->boot_seq = s->next_seq;
	s->committed_max = s->appended_max = s->next_seq - 1;
	if (store_meta_get(s, "evicted", &s->evicted) < 0)
		goto out_free;
	store_load_counters(s);
	store_recount(s);
	if (store_durable(s, store_boot_op, NULL) < 0)
		goto out_free;
	log_info("store %s: id %s, boot %" PRIu64 ", next seq %" PRIu64, path, s->id, s->boot,
		 s->next_seq);
	return s;
out_free:
	*corrupt = s->corrupt;
	snprintf(why, whylen, "%s", s->why[0] ? s->why : "cannot open");
	store_free(s);
	return NULL;
}

/* Rename path (and its WAL: it belongs to that file, and replayed into a
 * new one it would corrupt that) to <path>.corrupt-<UTC time>; aside gets
 * the new name.  0, or -1 with errno. */
static int store_move_aside(const char *path, char *aside, size_t size)
{
	struct timespec ts;
	char iso[32], stamp[32], from[PATH_MAX + 8], to[PATH_MAX + 80];
	size_t j = 0;
	struct stat st;

	clock_gettime(CLOCK_REALTIME, &ts);
	clock_format_iso((int64_t)ts.tv_sec * 1000, iso, sizeof(iso));
	/* "2026-11-28T11:21:25.000Z" -> "20261128T112125Z" */
	for (const char *p = iso; *p && *p != '.' && j + 2 < sizeof(stamp); p++)
		if (*p != '-' && *p != ':')
			stamp[j++] = *p;
	stamp[j++] = 'Z';
	stamp[j] = '\0';
	for (int n = 1;; n++) {
		int len = n == 1 ? snprintf(aside, size, "%s.corrupt-%s", path, stamp)
				 : snprintf(aside, size, "%s.corrupt-%s-%d", path, stamp, n);

		if (len < 0 || (size_t)len >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (lstat(aside, &st) < 0 && errno == ENOENT)
			break;
		if (n == 100) {
			errno = EEXIST;
			return -1;
		}
	}
	if (rename(path, aside) < 0)
		return -1;
	snprintf(from, sizeof(from), "%s-wal", path);
	snprintf(to, sizeof(to), "%s-wal", aside);
	if (rename(from, to) < 0 && errno != ENOENT)
		unlink(from);
	shmvfs_unlink(path); /* derived from the WAL; SQLite makes a new one */
	return 0;
}

struct store *store_open(const char *path, unsigned uplink_mask, int retention_days,
			 int max_size_mb)
{
	struct store_open_info info;
	struct store *s;
	char why[256];
	int corrupt;

	if (!path || !*path || retention_days < 0 || max_size_mb < 0) {
		log_warnx("store: bad arguments");
		return NULL;
	}
	memset(&info, 0, sizeof(info));
	s = store_try(path, uplink_mask, retention_days, max_size_mb, 0, &corrupt, why,
		      sizeof(why));
	if (!s && corrupt) {
		snprintf(info.corrupt_reason, sizeof(info.corrupt_reason), "%s", why);
		if (store_move_aside(path, info.moved_aside, sizeof(info.moved_aside)) == 0) {
			s = store_try(path, uplink_mask, retention_days, max_size_mb, 0, &corrupt,
				      why, sizeof(why));
		} else {
			snprintf(why, sizeof(why), "corrupt, and cannot be moved aside: %s",
				 strerror(errno));
			info.moved_aside[0] = '\0';
		}
	}
	if (!s) {
		info.ram = 1;
		snprintf(info.ram_reason, sizeof(info.ram_reason), "%s", why);
		s = store_try(STORE_RAM_PATH, uplink_mask, retention_days, max_size_mb, 1, &corrupt,
			      why, sizeof(why));
	}
	if (s)
		s->opened = info;
	return s;
}

const struct store_open_info *store_opened(const struct store *s)
{
	static const struct store_open_info none;

	return s ? &s->opened : &none;
}

const char *store_id(const struct store *s)
{
	return s ? s->id : "";
}

const char *store_mode(const struct store *s)
{
	return s && s->ram ? "ram" : "file";
}

int store_check(const char *path, char *why, size_t len)
{
	char uri[3 * PATH_MAX + 32], name[PATH_MAX + 8];
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	struct stat sb;
	size_t n;
	int rc, fd, ret = -1;

	if (stat(path, &sb) < 0) {
		snprintf(why, len, "%s", strerror(errno));
		return errno == ENOENT ? 1 : -1;
	}
	/* A running emgwd writes it: reading it without locks could see a
	 * half-written page and call it corrupt. */
	snprintf(name, sizeof(name), "%s.lock", path);
	fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		close(fd);
		snprintf(why, len, "in use by a running emgwd (not checked)");
		return 2;
	}
	if (fd >= 0)
		close(fd);
	/* immutable: no lock, no -wal or -shm made, nothing written */
	n = (size_t)snprintf(uri, sizeof(uri), "file:");
	for (const char *p = path; *p && n + 4 < sizeof(uri); p++)
		n += (size_t)(*p == '?' || *p == '#' || *p == '%'
				  ? snprintf(uri + n, sizeof(uri) - n, "%%%02X", (unsigned char)*p)
				  : snprintf(uri + n, sizeof(uri) - n, "%c", *p));
	snprintf(uri + n, sizeof(uri) - n, "?immutable=1");
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);

		if (r && strcmp(r, "ok") == 0)
			ret = 0;
		else
			snprintf(why, len, "quick_check: %s", r ? r : "?");
	} else {
		snprintf(why, len, "%s", db ? sqlite3_errmsg(db) : "out of memory");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

int store_lock(const char *path)
{
	char name[PATH_MAX + 8];
	int fd;

	if (snprintf(name, sizeof(name), "%s.lock", path) >= (int)sizeof(name)) {
		errno = ENAMETOOLONG;
		return -2;
	}
	fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -2;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return e == EWOULDBLOCK ? -1 : -2;
	}
	return fd;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->closing = 1;
	if (s->sent_upto != s->sent_saved)
		store_begin(s); /* the boundary's last move, alone */
	store_flush(s);
	store_free(s);
}

uint64_t store_boot(const struct store *s)
{
	return s ? s->boot : 0;
}

uint64_t store_next_seq(struct store *s)
{
	if (!s)
		return 0;
	/* The reservation is on disk before any number of its block leaves. */
	if (s->next_seq >= s->seq_hwm && store_durable(s, store_seq_op, NULL) < 0)
		return 0;
	return s->next_seq++;
}

/* The number store_next_seq would hand out next, without taking it and
 * without I/O: every row stored so far has a smaller seq. */
uint64_t store_committed_max(const struct store *s)
{
	return s ? s->committed_max : 0;
}

uint64_t store_next_seq_peek(const struct store *s)
{
	return s ? s->next_seq : 0;
}

static int store_enforce_cap(struct store *s);

int store_append(struct store *s, uint64_t seq, enum store_kind kind, int64_t mono_ms,
		 int64_t wall_ms, const char *payload, size_t len)
{
	return store_append_class(s, seq, kind,
				  kind == STORE_EVENT ? STORE_CLASS_EVENT : STORE_CLASS_ROUTINE,
				  mono_ms, wall_ms, payload, len);
}

int store_append_class(struct store *s, uint64_t seq, enum store_kind kind, enum store_class cls,
		       int64_t mono_ms, int64_t wall_ms, const char *payload, size_t len)
{
	sqlite3_stmt *st;
	unsigned char *packed;
	int plen;

	if (!s || seq == 0 || seq > INT64_MAX || (kind != STORE_RECORD && kind != STORE_EVENT) ||
	    (unsigned)cls >= STORE_N_CLASSES || (!payload && len) || len > INT_MAX ||
	    seq <= s->sent_upto) {
		/* (a seq at or below the sent boundary would never be sent) */
		log_warnx("store%s%s: append: bad arguments", s ? " " : "", s ? s->path : "");
		return -1;
	}
	if (store_begin(s) < 0)
		return -1;
	st = store_st(s, ST_APPEND);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_int64(st, 3, mono_ms);
	sqlite3_bind_int64(st, 4, wall_ms);
	if (store_pack(s, payload, len, &packed, &plen))
		sqlite3_bind_blob(st, 5, packed, plen, sqlite3_free);
	else /* STATIC: the payload outlives the step, so SQLite need not copy it. */
		sqlite3_bind_text(st, 5, payload ? payload : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, cls);
	if (store_exec(s, ST_APPEND, "append") < 0) {
		sqlite3_bind_null(st, 5);
		return -1;
	}
	sqlite3_bind_null(st, 5);
	if (s->pending == 0)
		s->txn_since_ms = -1; /* the commit interval starts with the first row */
	s->pending++;
	s->nrows++;
	if (cls == STORE_CLASS_ALARM)
		s->alarm = 1;
	if (seq > s->appended_max)
		s->appended_max = seq;
	/* Pages freed inside a transaction are reused by it: evicting as we
	 * go keeps the file at its cap between commits too. */
	if (s->pending % STORE_CAP_EVERY == 0)
		store_enforce_cap(s);
	return 0;
}

int store_flush(struct store *s)
{
	if (!s)
		return -1;
	if (!s->in_txn)
		return 0;
	/* The cap holds at every commit, not once a minute: a fast replay
	 * with the uplink down would otherwise overshoot it by far. */
	store_enforce_cap(s);
	return store_commit(s);
}

static int64_t store_commit_slack(const struct store *s)
{
	int64_t twentieth = s->policy.commit_interval_ms / 20;

	return twentieth < STORE_COMMIT_SLACK_MS ? twentieth : STORE_COMMIT_SLACK_MS;
}

int store_flush_due(struct store *s, int64_t now_ms, int urgent)
{
	if (!s)
		return -1;
	if (!s->in_txn)
		return 1;
	if (s->txn_since_ms < 0)
		s->txn_since_ms = now_ms;
	if (store_acks_only(s))
		return s->txn_acks + s->txn_marks < STORE_TXN_MAX_ROWS &&
			       now_ms - s->txn_since_ms < STORE_ACK_HOLD_MS
			   ? 0
			   : (store_flush(s) < 0 ? -1 : 1);
	if (!urgent && !s->alarm && s->pending < STORE_TXN_MAX_ROWS &&
	    now_ms - s->txn_since_ms < s->policy.commit_interval_ms - store_commit_slack(s))
		return 0;
	return store_flush(s) < 0 ? -1 : 1;
}

int64_t store_flush_deadline(const struct store *s)
{
	if (!s || !s->in_txn || s->txn_since_ms < 0)
		return -1;
	if (store_acks_only(s))
		return s->txn_since_ms + STORE_ACK_HOLD_MS;
	return s->txn_since_ms + s->policy.commit_interval_ms;
}

void store_set_policy(struct store *s, const struct store_policy *p)
{
	int pages;

	if (!s || !p || p->retention_days < 0 || p->max_size_mb < 0 || p->commit_interval_ms < 0 ||
	    p->keep_sent_days < 0)
		return;
	store_flush(s);
	s->policy = *p;
	store_drop_sent(s);
	if (s->ram && (s->policy.max_size_mb == 0 || s->policy.max_size_mb > STORE_RAM_MAX_MB))
		s->policy.max_size_mb = STORE_RAM_MAX_MB;
	s->retention_days = s->policy.retention_days;
	s->max_size_mb = s->policy.max_size_mb;
	sqlite3_exec(s->db,
		     p->durability_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		     NULL, NULL, NULL);
	/* Keep the WAL to about a quarter of a small cap (SQLite's default
	 * of 1000 pages is 4 MB: more than a 1 MB store on a 2 MB disk). */
	pages = 1000;
	if (s->max_size_mb > 0 && s->page_size > 0 &&
	    (int64_t)s->max_size_mb * 1024 * 1024 / s->page_size / 4 < pages)
		pages = (int)((int64_t)s->max_size_mb * 1024 * 1024 / s->page_size / 4);
	sqlite3_wal_autocheckpoint(s->db, pages < 16 ? 16 : pages);
}

/*
 * Any bit may read (a reader outside the mask, such as a local echo, sees
 * every row and never acknowledges); only an uplink in the mask may ack.
 */
static int store_uplink_ok(const struct store *s, int uplink, int acking)
{
	if (uplink >= 0 && uplink < STORE_MAX_UPLINKS &&
	    (!acking || (s->uplink_mask & (1u << uplink))))
		return 1;
	log_warnx("store %s: %s: uplink %d is not in mask 0x%x", s->path, acking ? "ack" : "fetch",
		  uplink, s->uplink_mask);
	return 0;
}

/* Row seq's payload does not unpack (emgw_text gave NULL): readers skip
 * it, the BLOB stays for whoever can look at it.  Every reader meets it
 * again: counted and logged once (the last 8 such rows are remembered: with
 * more, a row is counted and logged again when a reader meets it again). */
static void store_unreadable(struct store *s, uint64_t seq)
{
	for (size_t i = 0; i < sizeof(s->bad) / sizeof(s->bad[0]); i++)
		if (s->bad[i] == seq)
			return;
	s->bad[s->nbad++ % (sizeof(s->bad) / sizeof(s->bad[0]))] = seq;
	s->unreadable++;
	log_warnx("store %s: row %" PRIu64 " does not unpack (damaged)", s->path, seq);
}

/* Copy the row st stands on (seq, kind, mono_ms, wall_ms, payload) into r,
 * its payload into buf after *used bytes: 1 when it fits, 0 when the buffer
 * is full (the row waits for the next call), -1 when not even the first row
 * of a call fits (logged), 2 when it does not unpack (skipped; r->seq set). */
static int store_take_row(struct store *s, sqlite3_stmt *st, struct store_row *r, char *buf,
			  size_t bufsize, size_t *used, int first)
{
	const unsigned char *p = sqlite3_column_text(st, 4);
	size_t len = (size_t)sqlite3_column_bytes(st, 4);

	if (!p) { /* payloads are never NULL: this is emgw_text's */
		r->seq = (uint64_t)sqlite3_column_int64(st, 0);
		store_unreadable(s, r->seq);
		return 2;
	}
	if (len + 1 > bufsize - *used) {
		if (first)
			log_warnx("store %s: row %" PRId64
				  " (%zu bytes) does not fit a %zu-byte buffer",
				  s->path, (int64_t)sqlite3_column_int64(st, 0), len, bufsize);
		return first ? -1 : 0;
	}
	r->seq = (uint64_t)sqlite3_column_int64(st, 0);
	r->kind = sqlite3_column_int(st, 1) == STORE_EVENT ? STORE_EVENT : STORE_RECORD;
	r->mono_ms = sqlite3_column_int64(st, 2);
	r->wall_ms = sqlite3_column_int64(st, 3);
	r->payload = buf + *used;
	r->len = len;
	if (len)
		memcpy(r->payload, p, len);
	r->payload[len] = '\0';
	*used += len + 1;
	return 1;
}

/* Step st (bound but for ?1, the cursor: from) into rows: how many, or -1
 * (logged).  Rows that do not unpack are skipped (counted in the next
 * row's `skipped`); a
 * batch of nothing but them is followed by the next, with ?1 the last of
 * them plus past (1 when ?1 is inclusive), or the caller's cursor would
 * stay before them for ever. */
static int store_rows(struct store *s, sqlite3_stmt *st, const char *what, uint64_t from, int past,
		      struct store_row *rows, int max, char *buf, size_t bufsize)
{
	size_t used = 0;
	int n = 0, seen, got = 1, rc;
	unsigned pending = 0;
	uint64_t skipped;

	do {
		sqlite3_bind_int64(st, 1, (int64_t)from);
		seen = 0;
		skipped = 0;
		while (got >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			seen++;
			got = store_take_row(s, st, &rows[n], buf, bufsize, &used, n == 0);
			if (got == 2) {
				skipped = rows[n].seq;
				pending++;
			} else if (got == 1) {
				rows[n++].skipped = pending;
				pending = 0;
			} else if (got == 0) {
				break;
			}
		}
		sqlite3_reset(st);
		if (got < 0)
			return -1;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			store_err(s, what);
			store_txn_check(s);
			return -1;
		}
		from = skipped + (uint64_t)past;
	} while (n == 0 && skipped && seen == max);
	return n;
}

static int store_fetch_dir(struct store *s, enum store_stmt id, int uplink, uint64_t after,
			   struct store_row *rows, int max, char *buf, size_t bufsize)
{
	sqlite3_stmt *st;
	int n;

	if (!s || !rows || max < 0 || !buf || after > INT64_MAX) {
		log_warnx("store%s%s: fetch: bad arguments", s ? " " : "", s ? s->path : "");
		return -1;
	}
	if (!store_uplink_ok(s, uplink, 0))
		return -1;
	if (max == 0)
		return 0;
	st = store_st(s, id);
	sqlite3_bind_int64(st, 2, (int64_t)1 << uplink);
	sqlite3_bind_int(st, 3, max);
	sqlite3_bind_int64(st, 4, (int64_t)s->committed_max);
	sqlite3_bind_int64(st, 5, (int64_t)s->sent_upto);
	n = store_rows(s, st, "fetch", after, 0, rows, max, buf, bufsize);
	for (int i = 0; i < n; i++)
		if ((s->uplink_mask & (1u << uplink)) && rows[i].seq > s->fetched)
			s->fetched = rows[i].seq;
	return n;
}

int store_fetch(struct store *s, int uplink, uint64_t after, struct store_row *rows, int max,
		char *buf, size_t bufsize)
{
	return store_fetch_dir(s, ST_FETCH, uplink, after, rows, max, buf, bufsize);
}

int store_fetch_desc(struct store *s, int uplink, uint64_t before, struct store_row *rows, int max,
		     char *buf, size_t bufsize)
{
	return store_fetch_dir(s, ST_FETCH_DESC, uplink, before, rows, max, buf, bufsize);
}

/* keep_sent: the last uplink's ack moves the sent boundary when no older
 * row waits (nothing written but the boundary, at commit), else marks the
 * row sent; another uplink's ack marks its bit, as without keep_sent. */
static int store_ack_keep(struct store *s, int64_t bit, uint64_t seq)
{
	int64_t acked = -2, waiting = 0;
	enum store_stmt id;

	if (seq <= s->sent_upto)
		return 0;
	sqlite3_bind_int64(store_st(s, ST_ACK_GET), 1, (int64_t)seq);
	if (store_exec_int(s, ST_ACK_GET, "ack", &acked) < 0)
		return -1;
	if (acked == -2 || acked == -1 || (acked & bit))
		return 0; /* gone (evicted), or sent, or acknowledged already */
	if (((acked | bit) & (int64_t)s->uplink_mask) != (int64_t)s->uplink_mask) {
		id = ST_ACK_MARK;
	} else {
		sqlite3_bind_int64(store_st(s, ST_UNSENT_BETWEEN), 1, (int64_t)s->sent_upto);
		sqlite3_bind_int64(store_st(s, ST_UNSENT_BETWEEN), 2, (int64_t)seq);
		if (store_exec_int(s, ST_UNSENT_BETWEEN, "ack", &waiting) < 0)
			return -1;
		s->nsent++;
		if (waiting == 0) {
			s->sent_upto = seq;
			s->txn_marks++;
			return 0;
		}
		id = ST_ACK_SENT;
	}
	sqlite3_bind_int64(store_st(s, id), 1, (int64_t)seq);
	if (id == ST_ACK_MARK)
		sqlite3_bind_int64(store_st(s, id), 2, bit);
	if (store_exec(s, id, "ack") < 0)
		return -1;
	s->txn_acks += sqlite3_changes(s->db);
	return 0;
}

int store_ack(struct store *s, int uplink, uint64_t seq)
{
	sqlite3_stmt *st;
	int64_t bit;

	if (!s || seq == 0 || seq > INT64_MAX) {
		log_warnx("store%s%s: ack: bad arguments", s ? " " : "", s ? s->path : "");
		return -1;
	}
	if (!store_uplink_ok(s, uplink, 1))
		return -1;
	if (store_begin(s) < 0)
		return -1;
	bit = (int64_t)1 << uplink;
	if (s->policy.keep_sent_days > 0)
		return store_ack_keep(s, bit, seq);
	st = store_st(s, ST_ACK_DELETE);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, bit);
	sqlite3_bind_int64(st, 3, (int64_t)s->uplink_mask);
	if (store_exec(s, ST_ACK_DELETE, "ack") < 0)
		return -1;
	if (sqlite3_changes(s->db) > 0) {
		s->nrows--;
		s->txn_acks += sqlite3_changes(s->db);
		return 0;
	}
	/* Not the last uplink, or the row is gone already (evicted): mark. */
	st = store_st(s, ST_ACK_MARK);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, bit);
	if (store_exec(s, ST_ACK_MARK, "ack") < 0)
		return -1;
	s->txn_acks += sqlite3_changes(s->db);
	return 0;
}

/* Database bytes in use: pages minus the free list (the file never shrinks). */
static int store_used_bytes(struct store *s, int64_t *bytes)
{
	int64_t pages = 0, free_pages = 0;

	if (store_exec_int(s, ST_PAGE_COUNT, "page_count", &pages) < 0 ||
	    store_exec_int(s, ST_FREELIST, "freelist_count", &free_pages) < 0)
		return -1;
	*bytes = (pages - free_pages) * s->page_size;
	return 0;
}

void store_on_evict(struct store *s, store_evict_fn *fn, void *ctx)
{
	s->on_evict = fn;
	s->on_evict_ctx = ctx;
}

/* A size-cap delete (seq, payload, acked RETURNING): each row not every
 * uplink has goes to the eviction hook. */
static int store_exec_evict(struct store *s, enum store_stmt id, const char *what)
{
	sqlite3_stmt *st = store_st(s, id);
	int64_t mask = (int64_t)s->uplink_mask;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (s->on_evict && (sqlite3_column_int64(st, 2) & mask) != mask) {
			uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
			const char *p = (const char *)sqlite3_column_text(st, 1);

			if (!p)
				store_unreadable(s, seq);
			s->on_evict(s->on_evict_ctx, seq, p, (size_t)sqlite3_column_bytes(st, 1));
			s->evict_handed = 1;
		}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_err(s, what);
		store_txn_check(s);
		return -1;
	}
	return 0;
}

/* Count n rows of class cls as evicted, durably with the deletes. */
static int store_count_evicted(struct store *s, enum store_class cls, int64_t n)
{
	if (n == 0)
		return 0;
	s->nrows -= n;
	if (store_meta_add(s, "evicted", n) < 0 || store_meta_add(s, store_class_keys[cls], n) < 0)
		return -1;
	s->evicted += n;
	s->evicted_class[cls] += n;
	s->unlogged += n;
	return 0;
}

/* How many rows to remove next to reach limit, at the average row size.
 * 0 when the store fits. */
static int64_t store_excess_rows(struct store *s, int64_t limit)
{
	int64_t used, rows, chunk;

	if (store_used_bytes(s, &used) < 0 || used <= limit)
		return 0;
	rows = s->nrows;
	if (rows <= 0)
		return 0;
	chunk = (used - limit) / (used / rows + 1) + 1;
	if (chunk < STORE_EVICT_CHUNK_MIN)
		chunk = STORE_EVICT_CHUNK_MIN;
	if (chunk > STORE_EVICT_CHUNK_MAX)
		chunk = STORE_EVICT_CHUNK_MAX;
	return chunk;
}

/* Delete the oldest rows of class cls until the store fits limit. */
static int store_evict_class(struct store *s, enum store_class cls, int64_t limit)
{
	int64_t chunk;

	while ((chunk = store_excess_rows(s, limit)) > 0) {
		sqlite3_bind_int(store_st(s, ST_EVICT_CLASS), 1, cls);
		sqlite3_bind_int64(store_st(s, ST_EVICT_CLASS), 2, chunk);
		sqlite3_bind_int64(store_st(s, ST_EVICT_CLASS), 3, (int64_t)s->sent_upto);
		if (store_exec_evict(s, ST_EVICT_CLASS, "evict by size") < 0)
			return -1;
		if (sqlite3_changes(s->db) == 0)
			return 0; /* none of this class left */
		if (store_count_evicted(s, cls, sqlite3_changes(s->db)) < 0)
			return -1;
	}
	return 0;
}

/* Sent rows first, oldest first, before any unsent row (not counted as
 * evicted: every uplink has them). */
static int store_evict_sent(struct store *s, int64_t limit)
{
	int64_t chunk, n;

	while (s->nsent > 0 && (chunk = store_excess_rows(s, limit)) > 0) {
		sqlite3_bind_int64(store_st(s, ST_SENT_EVICT), 1, chunk);
		sqlite3_bind_int64(store_st(s, ST_SENT_EVICT), 2, (int64_t)s->sent_upto);
		if (store_exec(s, ST_SENT_EVICT, "evict sent rows") < 0)
			return -1;
		n = sqlite3_changes(s->db);
		s->nrows -= n;
		s->nsent = n == 0 ? 0 : s->nsent - n;
	}
	return 0;
}

/* keep_sent: sent rows older than the first row younger than cutoff go. */
static int store_age_sent(struct store *s, int64_t cutoff)
{
	int64_t young = INT64_MAX;

	if (s->nsent == 0)
		return 0;
	sqlite3_bind_int64(store_st(s, ST_FIRST_YOUNG), 1, cutoff);
	if (store_exec_int(s, ST_FIRST_YOUNG, "first young row", &young) < 0)
		return -1;
	sqlite3_bind_int64(store_st(s, ST_SENT_BEFORE), 1, young);
	sqlite3_bind_int64(store_st(s, ST_SENT_BEFORE), 2, (int64_t)s->sent_upto);
	if (store_exec(s, ST_SENT_BEFORE, "age out sent rows") < 0)
		return -1;
	s->nrows -= sqlite3_changes(s->db);
	s->nsent -= sqlite3_changes(s->db);
	if (s->nsent < 0)
		s->nsent = 0;
	return 0;
}

/* Thin the oldest half of the position rows (every other row goes), each
 * row once, before any position row is dropped whole. */
static int store_thin(struct store *s, int64_t limit)
{
	sqlite3_stmt *st;
	int64_t chunk, median, end, n;

	while ((chunk = store_excess_rows(s, limit)) > 0) {
		median = 0;
		sqlite3_bind_int(store_st(s, ST_MEDIAN), 1, STORE_CLASS_POSITION);
		if (store_exec_int(s, ST_MEDIAN, "median position", &median) < 0)
			return -1;
		if (median <= s->thinned_upto)
			return 0; /* the older half is thinned already */
		st = store_st(s, ST_THIN_END);
		end = 0;
		sqlite3_bind_int(st, 1, STORE_CLASS_POSITION);
		sqlite3_bind_int64(st, 2, s->thinned_upto);
		sqlite3_bind_int64(st, 3, median);
		sqlite3_bind_int64(st, 4, 2 * chunk);
		if (store_exec_int(s, ST_THIN_END, "thin span", &end) < 0)
			return -1;
		if (end <= s->thinned_upto)
			return 0;
		st = store_st(s, ST_THIN);
		sqlite3_bind_int(st, 1, STORE_CLASS_POSITION);
		sqlite3_bind_int64(st, 2, s->thinned_upto);
		sqlite3_bind_int64(st, 3, end);
		if (store_exec_evict(s, ST_THIN, "thin positions") < 0)
			return -1;
		n = sqlite3_changes(s->db);
		if (store_count_evicted(s, STORE_CLASS_POSITION, n) < 0 ||
		    store_meta_add(s, "thinned", n) < 0 ||
		    store_meta_add(s, "thinned_upto", end - s->thinned_upto) < 0)
			return -1;
		s->thinned += n;
		s->thinned_upto = end;
	}
	return 0;
}

/* The size cap, in priority order (see the head of this file). */
static int store_enforce_cap(struct store *s)
{
	int64_t limit;

	if (s->max_size_mb <= 0)
		return 0;
	limit = (int64_t)s->max_size_mb * 1024 * 1024;
	if (store_excess_rows(s, limit) == 0)
		return 0;
	if (store_begin(s) < 0)
		return -1;
	if (store_evict_sent(s, limit) < 0 ||
	    store_evict_class(s, STORE_CLASS_ROUTINE, limit) < 0 || store_thin(s, limit) < 0)
		return -1;
	for (int c = STORE_CLASS_POSITION; c < STORE_N_CLASSES; c++)
		if (store_evict_class(s, c, limit) < 0)
			return -1;
	/* The pass is over: the hook may append (its declaration) in this
	 * transaction, with the deletes. */
	if (s->evict_handed && s->on_evict) {
		s->evict_handed = 0;
		s->on_evict(s->on_evict_ctx, 0, NULL, 0);
	}
	return 0;
}

/* Whether the oldest row (in seq order, which is time order) is older than
 * cutoff: the common answer, no, costs one page instead of a table scan. */
static int store_has_older(struct store *s, int64_t cutoff)
{
	int64_t oldest = 0;

	return store_exec_int(s, ST_OLDEST, "oldest row", &oldest) == 0 && oldest > 0 &&
	       oldest < cutoff;
}

int store_evict(struct store *s, int64_t now_wall_ms)
{
	int ret = 0;

	if (!s)
		return -1;
	if (s->retention_days == 0 && s->max_size_mb == 0 &&
	    (s->policy.keep_sent_days == 0 || s->nsent == 0))
		return 0;
	if (store_begin(s) < 0)
		return -1;
	if (s->policy.keep_sent_days > 0 && now_wall_ms > 0 &&
	    store_age_sent(s, now_wall_ms - s->policy.keep_sent_days * STORE_MS_PER_DAY) < 0)
		return -1;
	/* Without a wall time we cannot tell age; the size cap still holds. */
	if (s->retention_days > 0 && now_wall_ms > 0 &&
	    store_has_older(s, now_wall_ms - s->retention_days * STORE_MS_PER_DAY)) {
		for (int c = 0; c < STORE_N_CLASSES; c++) {
			sqlite3_bind_int64(store_st(s, ST_EVICT_AGE), 1,
					   now_wall_ms - s->retention_days * STORE_MS_PER_DAY);
			sqlite3_bind_int(store_st(s, ST_EVICT_AGE), 2, c);
			sqlite3_bind_int64(store_st(s, ST_EVICT_AGE), 3, (int64_t)s->uplink_mask);
			sqlite3_bind_int64(store_st(s, ST_EVICT_AGE), 4, (int64_t)s->sent_upto);
			if (store_exec(s, ST_EVICT_AGE, "evict by age") < 0)
				return -1;
			if (store_count_evicted(s, c, sqlite3_changes(s->db)) < 0)
				return -1;
		}
	}
	if (store_enforce_cap(s) < 0)
		ret = -1;
	if (s->unlogged > 0) {
		log_info("store %s: evicted %" PRId64 " rows (%" PRId64 " in all: routine %" PRId64
			 ", position %" PRId64 " of which %" PRId64 " thinned, event %" PRId64
			 ", alarm %" PRId64 ")",
			 s->path, s->unlogged, s->evicted, s->evicted_class[STORE_CLASS_ROUTINE],
			 s->evicted_class[STORE_CLASS_POSITION], s->thinned,
			 s->evicted_class[STORE_CLASS_EVENT], s->evicted_class[STORE_CLASS_ALARM]);
		s->unlogged = 0;
	}
	return ret;
}

/* The oldest row still needed, from where the last look found it (rows
 * become sent, never unsent but by a rollback, which resets unsent_from):
 * a week of sent rows before it is not read again at every status. */
static void store_oldest_unsent(struct store *s, int64_t *wall_ms)
{
	sqlite3_stmt *st = store_st(s, ST_OLDEST_UNSENT);
	int rc;

	sqlite3_bind_int64(
	    st, 1, (int64_t)(s->unsent_from > s->sent_upto ? s->unsent_from : s->sent_upto + 1));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->unsent_from = (uint64_t)sqlite3_column_int64(st, 0);
		*wall_ms = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_err(s, "oldest unsent row");
		store_txn_check(s);
	}
}

void store_stats(struct store *s, struct store_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	st->evicted = s->evicted;
	memcpy(st->evicted_class, s->evicted_class, sizeof(st->evicted_class));
	st->thinned = s->thinned;
	st->rows = s->nrows - s->nsent;
	st->sent = s->nsent;
	st->alarm_syncs = s->alarm_syncs;
	st->unreadable = s->unreadable;
	store_oldest_unsent(s, &st->oldest_wall_ms);
	store_used_bytes(s, &st->bytes);
}

static int store_restamp_rows(struct store *s, int64_t offset_ms, const char *src, int system)
{
	sqlite3_stmt *st;
	uint64_t first;

	if (!s || !src) {
		log_warnx("store%s%s: restamp: bad arguments", s ? " " : "", s ? s->path : "");
		return -1;
	}
	first = s->fetched >= s->boot_seq ? s->fetched + 1 : s->boot_seq;
	if (first > INT64_MAX || store_begin(s) < 0)
		return -1;
	st = store_st(s, ST_RESTAMP);
	sqlite3_bind_int64(st, 1, offset_ms);
	sqlite3_bind_text(st, 2, src, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (int64_t)first);
	sqlite3_bind_int(st, 4, system);
	if (store_exec(s, ST_RESTAMP, "restamp") < 0)
		return -1;
	s->unsent_from = 0; /* a row of no time may have one now */
	return sqlite3_changes(s->db);
}

int store_restamp(struct store *s, int64_t offset_ms, const char *src)
{
	return store_restamp_rows(s, offset_ms, src, 0);
}

int store_restamp_system(struct store *s, int64_t offset_ms, const char *src)
{
	int n = store_restamp_rows(s, offset_ms, src, 1);

	if (n > 0)
		log_notice("store %s: the system clock was stepped: %d unsent rows restamped"
			   " (%s time)",
			   s->path, n, src);
	return n;
}

void store_freeze(struct store *s, uint64_t seq)
{
	if (s && seq > s->fetched)
		s->fetched = seq;
}

int store_meta_load(struct store *s, const char *key, int64_t *v)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !key || !v)
		return -1;
	st = store_st(s, ST_META_GET);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	store_err(s, "read meta");
	return -1;
}

int store_meta_save(struct store *s, const char *key, int64_t v)
{
	if (!s || !key || store_begin(s) < 0)
		return -1;
	sqlite3_bind_text(store_st(s, ST_META_SET), 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(store_st(s, ST_META_SET), 2, v);
	return store_meta_wrote(s, store_exec(s, ST_META_SET, "write meta"));
}

void store_on_commit(struct store *s, store_commit_fn *fn, void *ctx)
{
	s->on_commit = fn;
	s->on_commit_ctx = ctx;
}

uint64_t store_rollbacks(const struct store *s)
{
	return s ? s->rollbacks : 0;
}

int store_read(struct store *s, const struct store_query *q, struct store_row *rows, int max,
	       char *buf, size_t bufsize)
{
	sqlite3_stmt *st;
	uint64_t to;
	int n;

	if (!s || !q || !rows || max < 0 || !buf || q->from_seq > INT64_MAX) {
		log_warnx("store%s%s: read: bad arguments", s ? " " : "", s ? s->path : "");
		return -1;
	}
	/* Only committed rows: what a power cut cannot take back. */
	to = q->to_seq < s->committed_max ? q->to_seq : s->committed_max;
	if (max == 0 || to > INT64_MAX || q->from_seq > to)
		return 0;
	st = store_st(s, ST_READ);
	sqlite3_bind_int64(st, 2, (int64_t)to);
	sqlite3_bind_int64(st, 3, q->from_ms);
	sqlite3_bind_int64(st, 4, q->to_ms);
	sqlite3_bind_int(st, 5, q->kind);
	if (q->type)
		sqlite3_bind_text(st, 6, q->type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int(st, 7, max);
	n = store_rows(s, st, "read", q->from_seq, 1, rows, max, buf, bufsize);
	sqlite3_bind_null(st, 6);
	return n;
}

struct store *store_open_reader(const char *path, char *why, size_t len)
{
	struct store *s = NULL;
	int64_t hi, lo;
	int rc;

	if (!path || (s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		snprintf(why, len, "%s", path ? "out of memory" : "no path");
		free(s);
		return NULL;
	}
	s->committed_max = INT64_MAX; /* the daemon's commits are what we see */
	s->wal_fd = -1;
	/* READONLY: nothing written, no lock taken; WAL lets the daemon write
	 * meanwhile, and the busy timeout covers its checkpoints. */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, shmvfs_name()) != SQLITE_OK ||
	    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
	    store_functions(s) < 0 ||
	    sqlite3_prepare_v3(s->db, store_sql[ST_READ], -1, SQLITE_PREPARE_PERSISTENT,
			       &s->st[ST_READ], NULL) != SQLITE_OK) {
		snprintf(why, len, "%s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_free(s);
		return NULL;
	}
	/* The id is the packed rows' dictionary (a store from before ids has
	 * no packed rows). */
	if ((rc = store_meta_load(s, "store_id_hi", &hi)) == 0 &&
	    (rc = store_meta_load(s, "store_id_lo", &lo)) == 0)
		store_format_id(s, hi, lo);
	if (rc < 0) {
		snprintf(why, len, "%s", sqlite3_errmsg(s->db));
		store_free(s);
		return NULL;
	}
	return s;
}
