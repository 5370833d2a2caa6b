/* Unit tests for gateway/store.c: the real SQLite, on a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>

#include "gateway/store.h"

#define DAY_MS 86400000LL
#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static char tmpdir[] = "/tmp/emgw-test-store-XXXXXX";
static char dbpath[512];

/*
 * Count the syncs SQLite makes: these override libc's for the whole test
 * binary (the shared libsqlite3 calls through its PLT), so a test can see
 * which operations reach the disk and which only reach the page cache.
 */
static int sync_count;

int fsync(int fd)
{
	sync_count++;
	return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
	sync_count++;
	return (int)syscall(SYS_fdatasync, fd);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

static void remove_db(void)
{
	char p[600];

	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
}

/* Each test gets a fresh database path, removed afterwards. */
static int test_setup(void **state)
{
	(void)state;
	snprintf(dbpath, sizeof(dbpath), "%s/store.db", tmpdir);
	remove_db();
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	remove_db();
	return 0;
}

/* A value from the meta table of the store at path, read through a
 * connection of our own. */
static int64_t meta_value_in(const char *path, const char *key)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t meta_value(const char *key)
{
	return meta_value_in(dbpath, key);
}

/* Secondary indexes in the file: none since schema v3. */
static int64_t index_count(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM sqlite_schema WHERE"
					    " type = 'index' AND sql IS NOT NULL",
					    -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Append a row with a payload made from its seq; returns the seq. */
static uint64_t add(struct store *s, enum store_kind kind, int64_t wall_ms)
{
	char p[64];
	uint64_t seq = store_next_seq(s);

	assert_true(seq > 0);
	snprintf(p, sizeof(p), "{\"seq\":%llu}", (unsigned long long)seq);
	assert_int_equal(store_append(s, seq, kind, (int64_t)seq * 1000, wall_ms, p, strlen(p)), 0);
	return seq;
}

static int fetch(struct store *s, int uplink, uint64_t after, struct store_row *rows, int max)
{
	static char buf[65536];

	return store_fetch(s, uplink, after, rows, max, buf, sizeof(buf));
}

static void test_roundtrip(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;
	uint64_t a, b, c;

	(void)state;
	s = store_open(dbpath, 1, 30, 0);
	assert_non_null(s);
	assert_int_equal(store_boot(s), 1);
	a = store_next_seq(s);
	assert_int_equal(a, 1); /* a new store starts at 1 */
	assert_int_equal(store_append(s, a, STORE_RECORD, 11, NOW_MS, "{\"a\":1}", 7), 0);
	b = store_next_seq(s);
	assert_int_equal(store_append(s, b, STORE_EVENT, 12, NOW_MS + 1, "smoke", 5), 0);
	c = store_next_seq(s);
	assert_int_equal(store_append(s, c, STORE_RECORD, 13, 0, "", 0), 0);
	assert_true(a < b && b < c);
	assert_int_equal(store_flush(s), 0);

	assert_int_equal(fetch(s, 0, 0, rows, 8), 3);
	assert_int_equal(rows[0].seq, a);
	assert_int_equal(rows[0].kind, STORE_RECORD);
	assert_int_equal(rows[0].mono_ms, 11);
	assert_int_equal(rows[0].wall_ms, NOW_MS);
	assert_string_equal(rows[0].payload, "{\"a\":1}");
	assert_int_equal(rows[0].len, 7);
	assert_int_equal(rows[1].seq, b);
	assert_int_equal(rows[1].kind, STORE_EVENT);
	assert_string_equal(rows[1].payload, "smoke");
	assert_int_equal(rows[2].seq, c);
	assert_int_equal(rows[2].len, 0);
	assert_string_equal(rows[2].payload, "");

	store_stats(s, &st);
	assert_int_equal(st.rows, 3);
	assert_int_equal(st.oldest_wall_ms, NOW_MS);
	assert_true(st.bytes > 0);

	/* A duplicate seq is refused, and the rest of the transaction survives. */
	assert_int_equal(store_append(s, a, STORE_RECORD, 0, 0, "x", 1), -1);

	assert_int_equal(store_ack(s, 0, a), 0);
	assert_int_equal(store_ack(s, 0, b), 0);
	assert_int_equal(store_ack(s, 0, c), 0);
	assert_int_equal(store_ack(s, 0, c), 0); /* again: a no-op */
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 0);
	store_stats(s, &st);
	assert_int_equal(st.rows, 0);
	assert_int_equal(st.oldest_wall_ms, 0);
	assert_int_equal(st.evicted, 0); /* acknowledged rows are not evictions */
	store_close(s);

	/* The acks were committed: nothing comes back after a restart. */
	s = store_open(dbpath, 1, 30, 0);
	assert_non_null(s);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 0);
	store_close(s);
}

static void test_two_uplinks(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;
	uint64_t a, b;

	(void)state;
	s = store_open(dbpath, 3, 0, 0);
	assert_non_null(s);
	a = add(s, STORE_RECORD, NOW_MS);
	b = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);

	assert_int_equal(store_ack(s, 0, a), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 1); /* uplink 0 has a */
	assert_int_equal(rows[0].seq, b);
	assert_int_equal(fetch(s, 1, 0, rows, 8), 2); /* uplink 1 has neither */
	store_stats(s, &st);
	assert_int_equal(st.rows, 2);

	assert_int_equal(store_ack(s, 1, a), 0);
	store_stats(s, &st);
	assert_int_equal(st.rows, 1); /* a is gone, both have it */
	assert_int_equal(fetch(s, 1, 0, rows, 8), 1);
	assert_int_equal(rows[0].seq, b);

	/* An uplink outside the mask is a caller's bug: refused. */
	assert_int_equal(store_ack(s, 2, b), -1);
	assert_int_equal(store_fetch(s, 32, 0, rows, 8, (char[16]){0}, 16), -1);
	/* A reader outside the mask (a local echo) sees every row. */
	assert_int_equal(fetch(s, 30, 0, rows, 8), 1);
	assert_int_equal(rows[0].seq, b);
	store_close(s);

	/* Uplink 1 is dropped from the configuration: b, which uplink 0
	 * lacks, stays; rows uplink 0 had would have gone. */
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 1);
	assert_int_equal(store_ack(s, 0, b), 0);
	store_stats(s, &st);
	assert_int_equal(st.rows, 0);
	store_close(s);
}

static void test_shrunk_mask_sweeps(void **state)
{
	struct store_stats st;
	struct store *s;
	uint64_t a;

	(void)state;
	s = store_open(dbpath, 3, 0, 0);
	assert_non_null(s);
	a = add(s, STORE_RECORD, NOW_MS);
	add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_ack(s, 0, a), 0);
	store_close(s);
	/* Uplink 1 gone: a, which uplink 0 has, would otherwise stay forever. */
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_stats(s, &st);
	assert_int_equal(st.rows, 1);
	assert_int_equal(st.evicted, 0);
	store_close(s);
}

static void test_fetch_cursor(void **state)
{
	struct store_row rows[16];
	struct store *s;
	uint64_t seq[10];

	(void)state;
	s = store_open(dbpath, 3, 0, 0);
	assert_non_null(s);
	for (int i = 0; i < 10; i++)
		seq[i] = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);

	/* after is exclusive, max bounds the count, order is ascending. */
	assert_int_equal(fetch(s, 0, seq[4], rows, 3), 3);
	assert_int_equal(rows[0].seq, seq[5]);
	assert_int_equal(rows[1].seq, seq[6]);
	assert_int_equal(rows[2].seq, seq[7]);
	assert_int_equal(fetch(s, 0, seq[9], rows, 3), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 0), 0);

	/* Uplink 0 has 6 and 7; uplink 1 still sees them. */
	assert_int_equal(store_ack(s, 0, seq[5]), 0);
	assert_int_equal(store_ack(s, 0, seq[6]), 0);
	assert_int_equal(fetch(s, 0, seq[4], rows, 16), 3);
	assert_int_equal(rows[0].seq, seq[7]);
	assert_int_equal(rows[2].seq, seq[9]);
	assert_int_equal(fetch(s, 1, seq[4], rows, 16), 5);
	assert_int_equal(rows[0].seq, seq[5]);
	/* Rows before the cursor that an uplink lacks still come from 0. */
	assert_int_equal(fetch(s, 0, 0, rows, 16), 8);
	store_close(s);
}

/* SQLite's heap stays bounded while the file grows (its default page cache
 * kept every page the file grew by, up to 2 MB), and a transaction larger
 * than the cache still commits whole. */
static void test_memory_bounded(void **state)
{
	char p[256];
	struct store_stats st;
	struct store *s;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	for (int i = 0; i < 4000; i++) {
		uint64_t seq = store_next_seq(s);

		snprintf(p, sizeof(p), "{\"seq\":%llu,\"pad\":\"%0180d\"}", (unsigned long long)seq,
			 i);
		assert_int_equal(store_append(s, seq, STORE_RECORD, i, NOW_MS + i, p, strlen(p)),
				 0);
		if (i % 200 == 199)
			assert_int_equal(store_flush(s), 0);
	}
	/* 4000 rows of ~200 bytes: ~1.6 MB of 512-byte pages. */
	assert_true(sqlite3_memory_used() < 256 * 1024);
	store_close(s);
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_stats(s, &st);
	assert_int_equal(st.rows, 4000);
	store_close(s);
}

static void test_buffer_limits(void **state)
{
	struct store_row rows[4];
	char big[200], buf[150];
	struct store *s;
	uint64_t a, b;

	(void)state;
	memset(big, 'x', sizeof(big));
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	a = store_next_seq(s);
	assert_int_equal(store_append(s, a, STORE_RECORD, 0, 0, big, 100), 0);
	b = store_next_seq(s);
	assert_int_equal(store_append(s, b, STORE_RECORD, 0, 0, big, 100), 0);
	assert_int_equal(store_flush(s), 0);

	/* Two 100-byte rows do not fit 150 bytes: one comes, whole. */
	assert_int_equal(store_fetch(s, 0, 0, rows, 4, buf, sizeof(buf)), 1);
	assert_int_equal(rows[0].len, 100);
	assert_int_equal(strlen(rows[0].payload), 100);
	/* The NUL needs room too. */
	assert_int_equal(store_fetch(s, 0, 0, rows, 4, buf, 100), -1);
	assert_int_equal(store_fetch(s, 0, 0, rows, 4, buf, 101), 1);
	assert_int_equal(store_ack(s, 0, a), 0);
	/* b alone is too big for a 50-byte buffer. */
	assert_int_equal(store_fetch(s, 0, 0, rows, 4, buf, 50), -1);
	store_close(s);
}

static void test_seq_across_reopen(void **state)
{
	struct store *s;
	uint64_t last = 0, seq;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(store_boot(s), 1);
	/* Exactly one block: the last number sits right below the mark. */
	for (int i = 0; i < STORE_SEQ_BLOCK; i++) {
		seq = store_next_seq(s);
		assert_int_equal(seq, last + 1);
		last = seq;
	}
	store_close(s);

	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(store_boot(s), 2);
	seq = store_next_seq(s);
	assert_true(seq > last);
	store_close(s);
}

/* A child takes numbers and dies without closing; the parent reopens. */
static void test_seq_after_crash(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;
	int pipefd[2], status;
	uint64_t child_max = 0, child_flushed = 0, seq;
	pid_t pid;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_close(s);

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t v[2] = {0, 0};

		close(pipefd[0]);
		s = store_open(dbpath, 1, 0, 0);
		if (!s)
			_exit(1);
		/* Use two blocks to their last number, flush some rows, leave
		 * the last one unflushed: its row is lost, its number must
		 * stay used. */
		for (int i = 0; i < 2 * STORE_SEQ_BLOCK - 1; i++) {
			if ((v[0] = store_next_seq(s)) == 0)
				_exit(2);
			if (i < 3 && store_append(s, v[0], STORE_RECORD, 0, NOW_MS, "c", 1) < 0)
				_exit(3);
		}
		if (store_flush(s) < 0)
			_exit(4);
		v[1] = v[0];
		if ((v[0] = store_next_seq(s)) == 0 ||
		    store_append(s, v[0], STORE_RECORD, 0, NOW_MS, "lost", 4) < 0)
			_exit(5);
		if (write(pipefd[1], v, sizeof(v)) != sizeof(v))
			_exit(6);
		_exit(0); /* no store_close */
	}
	close(pipefd[1]);
	{
		uint64_t v[2];

		assert_int_equal(read(pipefd[0], v, sizeof(v)), sizeof(v));
		child_max = v[0];
		child_flushed = v[1];
	}
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(child_max, 2 * STORE_SEQ_BLOCK);
	assert_true(child_flushed < child_max);

	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(store_boot(s), 3);
	seq = store_next_seq(s);
	assert_true(seq > child_max);
	/* The three flushed rows survive; the unflushed one does not. */
	assert_int_equal(fetch(s, 0, 0, rows, 8), 3);
	store_stats(s, &st);
	assert_int_equal(st.rows, 3);
	store_close(s);
}

/* Not in store.h yet; see store.c. */
uint64_t store_next_seq_peek(const struct store *s);

static void test_seq_peek(void **state)
{
	struct store *s;
	uint64_t last = 0, p;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	for (int i = 0; i < 3; i++) {
		p = store_next_seq_peek(s);
		assert_int_equal(store_next_seq(s), p);
		last = add(s, STORE_RECORD, NOW_MS);
	}
	store_close(s);
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	p = store_next_seq_peek(s);
	assert_true(p > last); /* every stored row is below it */
	assert_int_equal(store_next_seq(s), p);
	store_close(s);
}

/* What reaches the disk: boot and each block durably, ordinary commits not. */
static void test_durability(void **state)
{
	struct store *s;
	uint64_t seq;
	int n;

	(void)state;
	sync_count = 0;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_true(sync_count > 0); /* the boot counter */
	assert_int_equal(meta_value("boot"), 1);

	n = sync_count;
	seq = store_next_seq(s); /* reserves a block */
	assert_true(sync_count > n);
	assert_true(meta_value("seq_hwm") > (int64_t)seq);

	n = sync_count;
	for (int i = 0; i < 50; i++) {
		seq = store_next_seq(s);
		assert_int_equal(store_append(s, seq, STORE_RECORD, 0, NOW_MS, "r", 1), 0);
		assert_int_equal(store_flush(s), 0);
	}
	assert_int_equal(sync_count, n);     /* synchronous=NORMAL: no fsync per commit */
	assert_int_equal(store_flush(s), 0); /* nothing open: fine */
	store_close(s);
}

/* Without an uplink every row counts as sent: age retention keeps the store
 * to its days. */
static void test_retention_age(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;
	uint64_t old1, old2, fresh, unknown, older;

	(void)state;
	s = store_open(dbpath, 0, 7, 0);
	assert_non_null(s);
	old1 = add(s, STORE_RECORD, NOW_MS - 9 * DAY_MS);
	unknown = add(s, STORE_RECORD, 0);
	old2 = add(s, STORE_EVENT, NOW_MS - 8 * DAY_MS);
	older = add(s, STORE_RECORD, NOW_MS - 10 * DAY_MS);
	fresh = add(s, STORE_RECORD, NOW_MS - 6 * DAY_MS);
	assert_int_equal(store_flush(s), 0);

	/* No wall time yet: nothing can be judged old. */
	assert_int_equal(store_evict(s, 0), 0);
	store_stats(s, &st);
	assert_int_equal(st.rows, 5);
	assert_int_equal(st.oldest_wall_ms, NOW_MS - 9 * DAY_MS);

	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 2);
	assert_int_equal(rows[0].seq, unknown);
	assert_int_equal(rows[1].seq, fresh);
	store_stats(s, &st);
	assert_int_equal(st.rows, 2);
	assert_int_equal(st.evicted, 3);
	assert_int_equal(st.oldest_wall_ms, NOW_MS - 6 * DAY_MS);
	(void)old1;
	(void)old2;
	(void)older;

	/* Running it again evicts nothing more. */
	assert_int_equal(store_evict(s, NOW_MS), 0);
	store_stats(s, &st);
	assert_int_equal(st.evicted, 3);
	store_close(s);

	/* The count is persisted. */
	s = store_open(dbpath, 0, 7, 0);
	assert_non_null(s);
	store_stats(s, &st);
	assert_int_equal(st.evicted, 3);
	store_close(s);
	assert_int_equal(meta_value("evicted"), 3);
}

/*
 * Issue 14: a GNSS or NTP step ten years ahead made every unsent row look
 * old, and the retention sweep deleted them.  Age retention never touches a
 * row some uplink has not acknowledged; the size cap still evicts, counted.
 */
static void test_retention_never_unsent(void **state)
{
	static struct store_row rows[512];
	static char buf[1 << 20];
	char payload[900];
	struct store_stats st;
	struct store *s;
	uint64_t half, seq;

	(void)state;
	s = store_open(dbpath, 3, 7, 0);
	assert_non_null(s);
	for (int i = 0; i < 200; i++)
		add(s, i % 2 ? STORE_EVENT : STORE_RECORD, NOW_MS - (200 - i) * 60000);
	half = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_ack(s, 0, half), 0); /* one uplink of two has it */
	assert_int_equal(store_flush(s), 0);

	assert_int_equal(store_evict(s, NOW_MS + 3650 * DAY_MS), 0); /* ten years on */
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_int_equal(st.rows, 201);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(store_fetch(s, 1, 0, rows, 512, buf, sizeof(buf)), 201);
	store_close(s);

	/* The size cap alone evicts unsent rows, oldest routine first, counted. */
	s = store_open(dbpath, 3, 7, 1);
	assert_non_null(s);
	memset(payload, 'x', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	for (int i = 0; i < 1500; i++) {
		seq = store_next_seq(s);
		assert_int_equal(
		    store_append(s, seq, STORE_RECORD, 0, NOW_MS, payload, strlen(payload)), 0);
	}
	assert_int_equal(store_evict(s, NOW_MS + 3650 * DAY_MS), 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.evicted > 0);
	assert_int_equal(st.evicted, st.evicted_class[STORE_CLASS_ROUTINE]);
	assert_true(st.bytes <= 1024 * 1024);
	store_close(s);
}

static void test_size_cap(void **state)
{
	static struct store_row rows[4096];
	static char buf[4 << 20];
	char payload[1000];
	struct store_stats st;
	struct store *s;
	uint64_t ev[3], first_rec, last_rec = 0;
	int n, nrec = 0, nev = 0;

	(void)state;
	memset(payload, 'p', sizeof(payload));
	/* No cap while filling: store_flush enforces the cap at every commit. */
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	ev[0] = add(s, STORE_EVENT, NOW_MS);
	first_rec = store_next_seq(s);
	assert_int_equal(store_append(s, first_rec, STORE_RECORD, 0, NOW_MS, payload, 1000), 0);
	ev[1] = add(s, STORE_EVENT, NOW_MS);
	/* About 2 MB of records against a 1 MB cap. */
	for (int i = 0; i < 2000; i++) {
		last_rec = store_next_seq(s);
		assert_int_equal(store_append(s, last_rec, STORE_RECORD, 0, NOW_MS, payload, 1000),
				 0);
	}
	ev[2] = add(s, STORE_EVENT, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes > 2 * 1024 * 1024);

	store_set_policy(s, &(struct store_policy){.max_size_mb = 1});
	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes <= 1024 * 1024);
	assert_true(st.bytes > 1024 * 1024 / 2); /* not everything thrown away */
	assert_true(st.evicted > 0);
	assert_int_equal(st.evicted, 2001 + 3 - st.rows);

	/* Every event stays, the oldest records went, the newest stayed. */
	n = store_fetch(s, 0, 0, rows, 4096, buf, sizeof(buf));
	assert_int_equal(n, st.rows);
	for (int i = 0; i < n; i++) {
		if (rows[i].kind == STORE_EVENT)
			nev++;
		else
			nrec++;
		assert_true(rows[i].seq != first_rec);
	}
	assert_int_equal(nev, 3);
	assert_int_equal(rows[0].seq, ev[0]);
	assert_int_equal(rows[1].seq, ev[1]);
	assert_int_equal(rows[n - 1].seq, ev[2]);
	assert_int_equal(rows[n - 2].seq, last_rec);
	assert_true(nrec > 0);
	store_close(s);
}

static void test_size_cap_events(void **state)
{
	static struct store_row rows[4096];
	static char buf[4 << 20];
	char payload[1000];
	struct store_stats st;
	struct store *s;
	uint64_t last = 0;
	int n;

	(void)state;
	memset(payload, 'e', sizeof(payload));
	s = store_open(dbpath, 1, 0, 1);
	assert_non_null(s);
	for (int i = 0; i < 2000; i++) {
		last = store_next_seq(s);
		assert_int_equal(store_append(s, last, STORE_EVENT, 0, NOW_MS, payload, 1000), 0);
	}
	/* Only events: they go too, oldest first, once no record is left. */
	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes <= 1024 * 1024);
	assert_true(st.rows > 0 && st.rows < 2000);
	assert_int_equal(st.evicted, 2000 - st.rows);
	n = store_fetch(s, 0, 0, rows, 4096, buf, sizeof(buf));
	assert_int_equal(n, st.rows);
	assert_int_equal(rows[n - 1].seq, last);
	assert_int_equal(rows[0].seq, last - (uint64_t)n + 1);
	store_close(s);
}

/* A path that cannot be written gives a store in memory that works (and
 * says so), instead of no emgwd at all. */
static void test_unwritable_path_ram(void **state)
{
	static const char *const bad[] = {"no/such/dir/store.db", "afile/store.db"};
	struct store_row rows[4];
	struct store_stats st;
	struct store *s;
	char p[600];
	FILE *f;

	(void)state;
	snprintf(p, sizeof(p), "%s/afile", tmpdir);
	f = fopen(p, "w"); /* a file where a directory should be: ENOTDIR */
	assert_non_null(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, bad[i]);
		s = store_open(p, 1, 7, 256);
		assert_non_null(s);
		assert_string_equal(store_mode(s), "ram");
		assert_int_equal(store_opened(s)->ram, 1);
		assert_true(strstr(store_opened(s)->ram_reason, "unable to open") != NULL);
		assert_string_equal(store_opened(s)->moved_aside, "");
		assert_int_equal(store_boot(s), 1);
		assert_int_equal(strlen(store_id(s)), STORE_ID_LEN);
		add(s, STORE_RECORD, NOW_MS);
		assert_int_equal(store_flush(s), 0);
		assert_int_equal(fetch(s, 0, 0, rows, 4), 1);
		store_stats(s, &st);
		assert_int_equal(st.rows, 1);
		store_close(s);
	}
	snprintf(p, sizeof(p), "%s/no", tmpdir);
	assert_int_equal(access(p, F_OK), -1); /* nor was the directory created */
	snprintf(p, sizeof(p), "%s/afile", tmpdir);
	unlink(p);
}

/* The file store_open moved dbpath aside to, checked and removed. */
static void expect_moved_aside(struct store *s, const char *reason)
{
	const struct store_open_info *in = store_opened(s);
	char want[600];

	snprintf(want, sizeof(want), "%s.corrupt-", dbpath);
	if (strncmp(in->moved_aside, want, strlen(want)) != 0)
		fail_msg("moved_aside \"%s\", reason \"%s\"", in->moved_aside, in->corrupt_reason);
	if (!strstr(in->corrupt_reason, reason))
		fail_msg("reason \"%s\" lacks \"%s\"", in->corrupt_reason, reason);
	assert_int_equal(access(in->moved_aside, F_OK), 0); /* kept for forensics */
	assert_string_equal(store_mode(s), "file");
	assert_int_equal(in->ram, 0);
	assert_int_equal(store_boot(s), 1); /* a new store */
	assert_int_equal(store_next_seq_peek(s), 1);
}

static void remove_aside(struct store *s)
{
	char p[PATH_MAX + 80];

	unlink(store_opened(s)->moved_aside);
	snprintf(p, sizeof(p), "%s-wal", store_opened(s)->moved_aside);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", store_opened(s)->moved_aside);
	unlink(p);
}

/* Not our store, or a newer one: moved aside, untouched, and a new store
 * started (a newer emgwd can still read the old file). */
static void test_foreign_and_newer_moved_aside(void **state)
{
	struct store *s;
	FILE *f;

	(void)state;
	store_close(store_open(dbpath, 1, 0, 0));
	sql_exec(dbpath, "UPDATE meta SET value = 99 WHERE key = 'schema_version'");
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	expect_moved_aside(s, "schema version 99 is newer");
	/* the aside file is as it was */
	assert_int_equal(meta_value_in(store_opened(s)->moved_aside, "schema_version"), 99);
	assert_int_equal(meta_value_in(store_opened(s)->moved_aside, "boot"), 1);
	remove_aside(s);
	store_close(s);
	remove_db();

	/* Somebody else's database. */
	sql_exec(dbpath, "CREATE TABLE t(x)");
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	expect_moved_aside(s, "not an emgw store");
	remove_aside(s);
	store_close(s);
	remove_db();

	/* Not a database at all. */
	f = fopen(dbpath, "w");
	assert_non_null(f);
	fputs("this is not an SQLite file, but long enough to look at its header......\n"
	      "................................................................\n",
	      f);
	fclose(f);
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	expect_moved_aside(s, "not a database");
	remove_aside(s);
	store_close(s);
}

/* A store of a few hundred pages, closed cleanly (WAL checkpointed). */
static void make_store(void)
{
	char payload[700];
	struct store *s = store_open(dbpath, 1, 0, 0);
	uint64_t seq;

	assert_non_null(s);
	memset(payload, 'p', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	for (int i = 0; i < 400; i++) {
		seq = store_next_seq(s);
		assert_int_equal(
		    store_append(s, seq, STORE_RECORD, 0, NOW_MS, payload, strlen(payload)), 0);
	}
	store_close(s);
}

/* Overwrite len bytes at off with bytes from a fixed-seed generator. */
static void scribble(off_t off, size_t len)
{
	FILE *f = fopen(dbpath, "r+b");
	unsigned x = 12345;

	assert_non_null(f);
	assert_int_equal(fseeko(f, off, SEEK_SET), 0);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		fputc((int)(x >> 16) & 0xff, f);
	}
	assert_int_equal(fclose(f), 0);
}

/* Issue 14: a corrupt store never keeps emgwd down: truncated, a garbage
 * header, random pages in the middle.  Each is moved aside, a new store
 * starts, and store_opened says what happened. */
static void test_corrupt_moved_aside(void **state)
{
	struct store_row rows[4];
	struct store *s;
	struct stat sb;

	(void)state;
	for (int how = 0; how < 3; how++) {
		make_store();
		assert_int_equal(stat(dbpath, &sb), 0);
		assert_true(sb.st_size > 200 * 1024);
		if (how == 0)
			assert_int_equal(truncate(dbpath, sb.st_size / 2 + 100), 0);
		else if (how == 1)
			scribble(0, 100); /* the header */
		else
			scribble(sb.st_size / 2 - 4 * 1024, 8 * 1024); /* pages mid-file */
		s = store_open(dbpath, 1, 0, 0);
		assert_non_null(s);
		expect_moved_aside(s, how == 1 ? "not a database" : "");
		/* and the new store works */
		add(s, STORE_RECORD, NOW_MS);
		assert_int_equal(store_flush(s), 0);
		assert_int_equal(fetch(s, 0, 0, rows, 4), 1);
		remove_aside(s);
		store_close(s);
		remove_db();
	}
}

/* The store id: 128 random bits in hex, made with the store, kept across
 * starts, new for a new store (a lost store restarts boot and seq at 1). */
static void test_store_id(void **state)
{
	char first[STORE_ID_LEN + 1];
	struct store *s;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(strlen(store_id(s)), STORE_ID_LEN);
	assert_int_equal(strspn(store_id(s), "0123456789abcdef"), STORE_ID_LEN);
	memcpy(first, store_id(s), sizeof(first));
	store_close(s);
	assert_true(meta_value("store_id_hi") != -1);

	s = store_open(dbpath, 1, 0, 0);
	assert_string_equal(store_id(s), first);
	assert_int_equal(store_boot(s), 2);
	store_close(s);

	remove_db();
	s = store_open(dbpath, 1, 0, 0);
	assert_int_equal(store_boot(s), 1);
	assert_string_not_equal(store_id(s), first);
	store_close(s);
}

/* One emgwd per store: the second lock fails while the first is held. */
static void test_lock(void **state)
{
	char p[600];
	int fd, fd2;

	(void)state;
	fd = store_lock(dbpath);
	assert_true(fd >= 0);
	assert_int_equal(store_lock(dbpath), -1);
	close(fd);
	fd2 = store_lock(dbpath);
	assert_true(fd2 >= 0);
	close(fd2);
	snprintf(p, sizeof(p), "%s/no/such/dir/store.db", tmpdir);
	assert_int_equal(store_lock(p), -2);
	snprintf(p, sizeof(p), "%s.lock", dbpath);
	unlink(p);
}

/* emgwd -n: the check reads without touching (no -wal, -shm or lock made). */
static void test_check(void **state)
{
	char why[256], p[600];

	(void)state;
	assert_int_equal(store_check(dbpath, why, sizeof(why)), 1);
	make_store();
	assert_int_equal(store_check(dbpath, why, sizeof(why)), 0);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s.lock", dbpath);
	assert_int_equal(access(p, F_OK), -1);
	scribble(0, 100);
	assert_int_equal(store_check(dbpath, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not a database"));
}

/*
 * A full disk, made with RLIMIT_FSIZE: writes past the limit fail (SIGXFSZ
 * ignored), which SQLite reports as SQLITE_FULL or an I/O error.  The store
 * must fail calls, not crash, and keep what was committed before.
 */
static void test_disk_full(void **state)
{
	struct store_row rows[8];
	struct rlimit old, lim;
	struct store_stats st;
	char payload[4000];
	struct store *s;
	int failed = 0, i;
	void (*oldsig)(int);

	(void)state;
	memset(payload, 'f', sizeof(payload));
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	for (i = 0; i < 3; i++)
		add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 256 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 1000 && !failed; i++) {
		uint64_t seq = store_next_seq(s);

		if (seq == 0 ||
		    store_append(s, seq, STORE_RECORD, 0, NOW_MS, payload, sizeof(payload)) < 0 ||
		    (i % 10 == 9 && store_flush(s) < 0))
			failed = 1;
	}
	if (!failed && store_flush(s) < 0)
		failed = 1;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	assert_true(failed);

	/* Space again: the same store works on. */
	add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	store_close(s);

	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(fetch(s, 0, 0, rows, 3), 3);
	assert_int_equal(rows[0].seq, 1);
	store_stats(s, &st);
	assert_true(st.rows >= 4);
	store_close(s);
}

static void test_bad_arguments(void **state)
{
	struct store *s;

	(void)state;
	assert_null(store_open(NULL, 1, 0, 0));
	assert_null(store_open(dbpath, 1, -1, 0));
	assert_int_equal(store_next_seq(NULL), 0);
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(store_append(s, 0, STORE_RECORD, 0, 0, "x", 1), -1);
	assert_int_equal(store_append(s, 5, (enum store_kind)7, 0, 0, "x", 1), -1);
	assert_int_equal(store_ack(s, -1, 1), -1);
	assert_int_equal(store_ack(s, 40, 1), -1);
	store_close(s);
}

/* Append n rows of class cls with 1000-byte payloads; returns the last seq. */
static uint64_t add_class(struct store *s, enum store_kind kind, enum store_class cls, int n)
{
	static char payload[1000];
	uint64_t seq = 0;

	memset(payload, 'c', sizeof(payload));
	for (int i = 0; i < n; i++) {
		seq = store_next_seq(s);
		assert_int_equal(
		    store_append_class(s, seq, kind, cls, 0, NOW_MS, payload, sizeof(payload)), 0);
	}
	return seq;
}

/* Over the cap: routine records go first, then positions are thinned
 * (every other one of the older half) before any is dropped, and events
 * and alarms stay. */
static void test_evict_by_class(void **state)
{
	static struct store_row rows[4096];
	static char buf[4 << 20];
	struct store_stats st;
	struct store *s;
	int n, pos = 0, ev = 0;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	add_class(s, STORE_EVENT, STORE_CLASS_ALARM, 10);
	add_class(s, STORE_RECORD, STORE_CLASS_POSITION, 1000);
	add_class(s, STORE_RECORD, STORE_CLASS_ROUTINE, 300);
	add_class(s, STORE_EVENT, STORE_CLASS_EVENT, 10);
	assert_int_equal(store_flush(s), 0);
	/* About 1.35 MB against 1 MB: the routine rows (0.3 MB) and some
	 * thinning of the positions make it fit. */
	store_set_policy(s, &(struct store_policy){.max_size_mb = 1});
	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes <= 1024 * 1024);
	assert_int_equal(st.evicted_class[STORE_CLASS_ROUTINE], 300);
	assert_true(st.thinned > 0);
	/* Thinning stops at the middle of what is left; then whole rows go,
	 * oldest first. */
	assert_true(st.evicted_class[STORE_CLASS_POSITION] >= st.thinned);
	assert_int_equal(st.evicted_class[STORE_CLASS_EVENT], 0);
	assert_int_equal(st.evicted_class[STORE_CLASS_ALARM], 0);
	assert_int_equal(st.evicted, 300 + st.evicted_class[STORE_CLASS_POSITION]);
	n = store_fetch(s, 0, 0, rows, 4096, buf, sizeof(buf));
	for (int i = 0; i < n; i++) {
		if (rows[i].kind == STORE_EVENT)
			ev++;
		else
			pos++;
	}
	assert_int_equal(ev, 20);
	assert_int_equal(pos, 1000 - st.evicted_class[STORE_CLASS_POSITION]);
	/* Thinned rows were every other one among the oldest positions: the
	 * newest half is whole. */
	assert_true(st.thinned <= 500);
	store_close(s);

	/* The counters are in the file. */
	assert_int_equal(meta_value("evicted_routine"), 300);
	assert_int_equal(meta_value("thinned"), st.thinned);
}

/* Commits wait for the interval unless urgent; readers never see rows
 * of the open transaction. */
static void test_flush_due(void **state)
{
	struct store_row rows[8];
	struct store *s;
	uint64_t seq;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &(struct store_policy){.commit_interval_ms = 5000});
	seq = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 0); /* not committed yet */
	assert_int_equal(store_flush_due(s, 1000, 0), 0);
	assert_int_equal(store_flush_deadline(s), 6000);
	assert_int_equal(store_flush_due(s, 3000, 0), 0);
	assert_int_equal(store_flush_due(s, 6000, 0), 1);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 1);
	assert_int_equal(rows[0].seq, seq);
	add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush_due(s, 6001, 1), 1); /* urgent: at once */
	assert_int_equal(fetch(s, 0, 0, rows, 8), 2);
	assert_int_equal(store_flush_deadline(s), -1);
	store_close(s);
}

/* An alarm-class row is committed on the next store_flush_due whatever the
 * interval, with the rows appended before it, and that commit is synced to
 * disk (routine ones are not); the interval then starts again for what
 * follows.  Many rows commit before the interval too. */
static void test_flush_alarm(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &(struct store_policy){.commit_interval_ms = 5000});
	add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush_due(s, 1000, 0), 0);
	add_class(s, STORE_EVENT, STORE_CLASS_EVENT, 1);
	assert_int_equal(store_flush_due(s, 1001, 0), 0); /* an event is no alarm */
	add_class(s, STORE_EVENT, STORE_CLASS_ALARM, 1);
	store_stats(s, &st);
	assert_int_equal(st.alarm_syncs, 0);
	assert_int_equal(store_flush_due(s, 1002, 0), 1); /* the alarm: at once */
	assert_int_equal(fetch(s, 0, 0, rows, 8), 3);
	store_stats(s, &st);
	assert_int_equal(st.alarm_syncs, 1);
	add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush_due(s, 1003, 0), 0); /* routine waits again */
	assert_int_equal(store_flush_deadline(s), 6003);
	for (int i = 0; i < 255; i++)
		add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush_due(s, 1004, 0), 1); /* 256 rows: no more wait */
	store_stats(s, &st);
	assert_int_equal(st.alarm_syncs, 1); /* routine commits are not synced */
	store_close(s);
}

/* Rows in the file as another process sees it: committed ones only. */
static int64_t rows_on_disk(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM rows", -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Acknowledgements alone are no reason to commit, also when an uplink waits
 * (urgent): their deletes ride on the next commit of rows, or go after
 * 30 s; nothing acked is handed out again meanwhile. */
static void test_acks_ride(void **state)
{
	struct store_row rows[8];
	struct store *s;
	uint64_t a, b;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &(struct store_policy){.commit_interval_ms = 1000});
	a = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush_due(s, 1000, 1), 1);
	assert_int_equal(rows_on_disk(), 1);
	assert_int_equal(store_ack(s, 0, a), 0);
	assert_int_equal(store_flush_due(s, 1001, 1), 0); /* acks only: held */
	assert_int_equal(store_flush_deadline(s), 1001 + 30000);
	assert_int_equal(store_flush_due(s, 5000, 1), 0);
	assert_int_equal(rows_on_disk(), 1);	      /* the delete is not on disk */
	assert_int_equal(fetch(s, 0, 0, rows, 8), 0); /* but a is not sent again */
	b = add(s, STORE_RECORD, NOW_MS);	      /* a row: the usual interval */
	assert_int_equal(store_flush_due(s, 5001, 0), 0);
	assert_int_equal(store_flush_deadline(s), 6001);
	assert_int_equal(store_flush_due(s, 6001, 0), 1); /* one commit: b, a's delete */
	assert_int_equal(rows_on_disk(), 1);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 1);
	assert_int_equal(rows[0].seq, b);
	assert_int_equal(store_ack(s, 0, b), 0);
	assert_int_equal(store_flush_due(s, 7000, 1), 0);
	assert_int_equal(store_flush_due(s, 7000 + 30000, 0), 1); /* at most 30 s held */
	assert_int_equal(rows_on_disk(), 0);
	store_close(s);
}

static void test_fetch_desc(void **state)
{
	struct store_row rows[8];
	struct store *s;
	uint64_t a, b, c;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	a = add(s, STORE_RECORD, NOW_MS);
	b = add(s, STORE_EVENT, NOW_MS);
	c = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_fetch_desc(s, 0, c + 1, rows, 8, (char[4096]){0}, 4096), 3);
	assert_int_equal(rows[0].seq, c);
	assert_int_equal(rows[1].seq, b);
	assert_int_equal(rows[2].seq, a);
	assert_int_equal(store_fetch_desc(s, 0, c, rows, 1, (char[4096]){0}, 4096), 1);
	assert_int_equal(rows[0].seq, b);
	store_close(s);
}

/* A v1 store (before eviction classes) is migrated: its events become
 * class event, its rows stay. */
static void test_migrate_v1(void **state)
{
	struct store_stats st;
	struct store *s;

	(void)state;
	sql_exec(dbpath,
		 "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;"
		 "CREATE TABLE rows(seq INTEGER PRIMARY KEY, kind INTEGER, mono_ms INTEGER,"
		 " wall_ms INTEGER, acked INTEGER NOT NULL DEFAULT 0, payload TEXT);"
		 "CREATE INDEX rows_wall ON rows(wall_ms) WHERE wall_ms > 0;"
		 "INSERT INTO meta(key, value) VALUES ('schema_version', 1), ('seq_hwm', 1001),"
		 " ('boot', 3), ('evicted', 5);"
		 "INSERT INTO rows(seq, kind, mono_ms, wall_ms, payload) VALUES"
		 " (1, 0, 0, 1, '{}'), (2, 1, 0, 1, '{}');");
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	assert_int_equal(store_boot(s), 4);
	store_stats(s, &st);
	assert_int_equal(st.rows, 2);
	assert_int_equal(st.evicted, 5);
	store_close(s);
	/* v1 -> ... -> v4: the class column came and the indexes went. */
	assert_int_equal(meta_value("schema_version"), 4);
	assert_int_equal(meta_value("thinned_upto"), 0);
	assert_int_equal(index_count(), 0);
}

/* How row seq's payload is stored: "blob" (packed) or "text", and its bytes. */
static void stored_as(uint64_t seq, char *type, size_t size, int64_t *bytes)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT typeof(payload), length(CAST(payload AS BLOB))"
					    " FROM rows WHERE seq = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(type, size, "%s", (const char *)sqlite3_column_text(st, 0));
	*bytes = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Records and events (the envelope) are stored packed, anything else as
 * it is; every reader gets the text byte for byte: fetch, read with a type,
 * an export's reader, a restamp (which packs again), and a TEXT row of an
 * older store beside packed ones. */
static void test_packed(void **state)
{
	char rec[512], ev[512], type[8], why[128], want[512];
	static char buf[1 << 16];
	struct store_row rows[8];
	struct store_query q = {
	    .to_ms = INT64_MAX, .to_seq = UINT64_MAX, .kind = -1, .type = "gap"};
	struct store *s, *r;
	uint64_t a, b, c;
	int64_t bytes;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	a = store_next_seq(s);
	b = store_next_seq(s);
	c = store_next_seq(s);
	snprintf(rec, sizeof(rec),
		 "{\"v\":1,\"dev\":\"t-1\",\"sid\":\"%s\",\"boot\":1,\"seq\":%" PRIu64
		 ",\"ts\":\"1970-01-01T00:00:00.005Z\",\"ts_src\":\"unsynced\",\"mono_ms\":5,"
		 "\"sig\":{\"rpm\":700.0,\"torque_pct\":41.0}}",
		 store_id(s), a);
	snprintf(ev, sizeof(ev),
		 "{\"v\":1,\"dev\":\"t-1\",\"sid\":\"%s\",\"boot\":1,\"seq\":%" PRIu64
		 ",\"ts\":\"2026-01-01T00:00:00.000Z\",\"ts_src\":\"rtc\",\"mono_ms\":6,"
		 "\"type\":\"gap\",\"gap_s\":2.5}",
		 store_id(s), b);
	assert_int_equal(store_append(s, a, STORE_RECORD, 5, 5, rec, strlen(rec)), 0);
	assert_int_equal(store_append(s, b, STORE_EVENT, 6, NOW_MS, ev, strlen(ev)), 0);
	assert_int_equal(store_append(s, c, STORE_RECORD, 7, NOW_MS, "{\"a\":1}", 7), 0);
	assert_int_equal(store_flush(s), 0);
	stored_as(a, type, sizeof(type), &bytes);
	assert_string_equal(type, "blob");
	assert_in_range(bytes, 1, (int64_t)strlen(rec) / 2);
	stored_as(c, type, sizeof(type), &bytes);
	assert_string_equal(type, "text");
	/* an older store's row, as it was written */
	sql_exec(dbpath, "INSERT INTO rows(seq, kind, mono_ms, wall_ms, payload)"
			 " VALUES (999, 0, 8, 8, '{\"v\":1,\"old\":true}')");

	assert_int_equal(store_read(s, &q, rows, 8, buf, sizeof(buf)), 1);
	assert_string_equal(rows[0].payload, ev);
	q.type = NULL;
	assert_int_equal(store_read(s, &q, rows, 8, buf, sizeof(buf)), 3);
	assert_string_equal(rows[0].payload, rec);
	assert_int_equal(rows[0].len, strlen(rec));

	/* a restamp rewrites the time and packs the row again */
	assert_int_equal(store_restamp(s, NOW_MS, "gnss"), 1);
	assert_int_equal(store_flush(s), 0);
	stored_as(a, type, sizeof(type), &bytes);
	assert_string_equal(type, "blob");
	snprintf(want, sizeof(want),
		 "{\"v\":1,\"dev\":\"t-1\",\"sid\":\"%s\",\"boot\":1,\"seq\":%" PRIu64
		 ",\"ts\":\"2026-01-01T00:00:00.005Z\",\"ts_src\":\"gnss\",\"mono_ms\":5,"
		 "\"sig\":{\"rpm\":700.0,\"torque_pct\":41.0}}",
		 store_id(s), a);
	assert_int_equal(store_fetch(s, 0, 0, rows, 8, buf, sizeof(buf)), 3);
	assert_string_equal(rows[0].payload, want);
	assert_string_equal(rows[1].payload, ev);
	assert_string_equal(rows[2].payload, "{\"a\":1}");
	r = store_open_reader(dbpath, why, sizeof(why));
	assert_non_null(r);
	assert_int_equal(store_read(r, &q, rows, 8, buf, sizeof(buf)), 4);
	assert_string_equal(rows[0].payload, want);
	assert_string_equal(rows[1].payload, ev);
	assert_string_equal(rows[3].payload, "{\"v\":1,\"old\":true}");
	store_close(r);
	store_close(s);
}

/* Append an envelope row (a record, or an event of type) that is stored
 * packed; its text in text (size bytes).  Returns its seq. */
static uint64_t add_env(struct store *s, const char *type, const char *pad, char *text, size_t size)
{
	uint64_t seq = store_next_seq(s);
	int n = snprintf(text, size,
			 "{\"v\":1,\"dev\":\"t-1\",\"sid\":\"%s\",\"boot\":1,\"seq\":%" PRIu64
			 ",\"ts\":\"1970-01-01T00:00:00.005Z\",\"ts_src\":\"unsynced\","
			 "\"mono_ms\":5%s%s%s,\"pad\":\"%s\"}",
			 store_id(s), seq, type ? ",\"type\":\"" : "", type ? type : "",
			 type ? "\"" : "", pad);

	assert_in_range(n, 1, (int64_t)size - 1);
	assert_int_equal(
	    store_append(s, seq, type ? STORE_EVENT : STORE_RECORD, 5, NOW_MS, text, (size_t)n), 0);
	return seq;
}

/* Row seq's stored payload (a BLOB) into b: its bytes. */
static size_t blob_get(uint64_t seq, unsigned char *b, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t n;

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT payload FROM rows WHERE seq = ?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(st, 0), SQLITE_BLOB);
	n = (size_t)sqlite3_column_bytes(st, 0);
	assert_true(n <= size);
	memcpy(b, sqlite3_column_blob(st, 0), n);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Row seq's payload becomes b (a record, made if there is none). */
static void blob_put(uint64_t seq, const unsigned char *b, size_t n)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "INSERT OR REPLACE INTO rows(seq, kind, mono_ms,"
					    " wall_ms, payload) VALUES (?1, 0, 5, ?2, ?3)",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, NOW_MS);
	sqlite3_bind_blob(st, 3, b, (int)n, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The row seq as store_read gives it to a reader: 1 with its text, 0 when
 * it is skipped. */
static int read_one(struct store *s, uint64_t seq, char *buf, size_t size)
{
	struct store_query q = {.from_seq = seq, .to_seq = seq, .to_ms = INT64_MAX, .kind = -1};
	struct store_row row;

	return store_read(s, &q, &row, 1, buf, size);
}

/* A packed row that does not unpack (cut short) is skipped by every
 * reader, counted once, and kept: fetches return the good rows around it
 * and move past it (even in batches of one), reads with and without a
 * type, a restamp and an export's reader go on. */
static void test_unreadable(void **state)
{
	static char buf[1 << 16];
	char text[4][512], why[128], type[8];
	unsigned char b[512];
	struct store_row rows[8];
	struct store_query q = {
	    .to_ms = INT64_MAX, .to_seq = UINT64_MAX, .kind = -1, .type = "gap"};
	struct store_stats st;
	struct store *s, *r;
	uint64_t seq[4];
	int64_t bytes;
	size_t n;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	for (int i = 0; i < 4; i++)
		seq[i] = add_env(s, i % 2 ? "gap" : NULL, "x", text[i], sizeof(text[i]));
	assert_int_equal(store_flush(s), 0);
	n = blob_get(seq[1], b, sizeof(b));
	blob_put(seq[1], b, n - 2);

	assert_int_equal(store_restamp(s, NOW_MS, "gnss"), 3);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 3);
	assert_int_equal(rows[0].seq, seq[0]);
	assert_int_equal(rows[1].seq, seq[2]);
	assert_non_null(strstr(rows[1].payload, "\"ts_src\":\"gnss\""));
	assert_int_equal(rows[2].seq, seq[3]);
	assert_int_equal(fetch(s, 0, seq[0], rows, 1), 1);
	assert_int_equal(rows[0].seq, seq[2]);
	assert_int_equal(store_fetch_desc(s, 0, seq[2], rows, 1, buf, sizeof(buf)), 1);
	assert_int_equal(rows[0].seq, seq[0]);
	assert_int_equal(store_read(s, &q, rows, 8, buf, sizeof(buf)), 1);
	assert_int_equal(rows[0].seq, seq[3]);
	q.type = NULL;
	assert_int_equal(store_read(s, &q, rows, 8, buf, sizeof(buf)), 3);
	store_stats(s, &st);
	assert_int_equal(st.unreadable, 1);
	assert_int_equal(st.rows, 4);
	stored_as(seq[1], type, sizeof(type), &bytes);
	assert_string_equal(type, "blob");
	assert_int_equal(bytes, (int64_t)n - 2);

	r = store_open_reader(dbpath, why, sizeof(why));
	assert_non_null(r);
	assert_int_equal(store_read(r, &q, rows, 8, buf, sizeof(buf)), 3);
	store_stats(r, &st);
	assert_int_equal(st.unreadable, 1);
	store_close(r);
	store_close(s);
}

struct gone {
	int rows, unreadable, ends;
	uint64_t bad;
};

static void gone_hook(void *ctx, uint64_t seq, const char *payload, size_t len)
{
	struct gone *g = ctx;

	(void)len;
	if (seq == 0)
		g->ends++;
	else if (!payload && seq == g->bad)
		g->unreadable++;
	else if (payload)
		g->rows++;
}

/* The size cap evicts a row that does not unpack like any other: the
 * hook gets it (payload NULL, not the end of the pass), the cap holds. */
static void test_unreadable_evicted(void **state)
{
	static char pad[1001];
	char text[1200];
	unsigned char b[1200];
	struct gone g = {0};
	struct store_stats st;
	struct store *s;
	uint64_t first;
	uint32_t x = 1;
	size_t n;

	(void)state;
	/* digits that do not repeat: a row packs to a few hundred bytes */
	for (size_t i = 0; i < sizeof(pad) - 1; i++) {
		x = x * 1103515245u + 12345u;
		pad[i] = (char)('0' + (x >> 16) % 10);
	}
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	first = add_env(s, NULL, pad, text, sizeof(text));
	for (int i = 0; i < 3000; i++)
		add_env(s, NULL, pad, text, sizeof(text));
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes > 1024 * 1024);
	n = blob_get(first, b, sizeof(b));
	blob_put(first, b, n - 2);

	g.bad = first;
	store_on_evict(s, gone_hook, &g);
	store_set_policy(s, &(struct store_policy){.max_size_mb = 1});
	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes <= 1024 * 1024);
	assert_int_equal(g.unreadable, 1);
	assert_true(g.rows > 0);
	assert_true(g.ends >= 1);
	assert_int_equal(st.unreadable, 1);
	store_close(s);
}

/* A flipped bit anywhere in a packed row, or another store's id (the
 * dictionary), never reads back as other text: the row reads as it was
 * written, or is skipped. */
static void test_packed_crc(void **state)
{
	static char buf[1 << 16];
	char text[512], why[128];
	unsigned char b[512];
	struct store_query q = {.to_ms = INT64_MAX, .to_seq = UINT64_MAX, .kind = -1};
	struct store_row rows[2];
	struct store *s, *r;
	uint64_t a;
	int wrong = 0, skipped = 0;
	size_t n;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	a = add_env(s, NULL, "0123456789abcdef", text, sizeof(text));
	assert_int_equal(store_flush(s), 0);
	n = blob_get(a, b, sizeof(b));
	for (size_t i = 1; i < n; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			b[i] ^= (unsigned char)(1u << bit);
			blob_put(a, b, n);
			if (read_one(s, a, buf, sizeof(buf)) == 0)
				skipped++;
			else if (strcmp(buf, text) != 0)
				wrong++;
			b[i] ^= (unsigned char)(1u << bit);
		}
	assert_int_equal(wrong, 0);
	assert_true(skipped > 0);
	blob_put(a, b, n);
	assert_int_equal(read_one(s, a, buf, sizeof(buf)), 1);

	/* another id: the sid the dictionary gives is not this row's */
	sql_exec(dbpath, "UPDATE meta SET value = value + 1 WHERE key = 'store_id_lo'");
	r = store_open_reader(dbpath, why, sizeof(why));
	assert_non_null(r);
	assert_int_equal(store_read(r, &q, rows, 2, buf, sizeof(buf)), 0);
	store_close(r);
	store_close(s);
}

/* A packed row made here: STORE_PACK_V1, the length as leb (n bytes), the
 * CRC, the text deflated raw (no dictionary: a stream need not use it). */
static size_t craft(unsigned char *b, size_t size, const char *text, size_t len,
		    const unsigned char *leb, size_t nleb)
{
	z_stream z = {0};
	uLong crc = crc32(0, (const Bytef *)text, (uInt)len);
	size_t n = 0;

	b[n++] = 1;
	memcpy(b + n, leb, nleb);
	n += nleb;
	for (int k = 0; k < 4; k++)
		b[n++] = (unsigned char)(crc >> (8 * k));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -10, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)text;
	z.avail_in = (uInt)len;
	z.next_out = b + n;
	z.avail_out = (uInt)(size - n);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = size - z.avail_out;
	deflateEnd(&z);
	return n;
}

/* The export's reader: no store id (a store from before ids) unpacks
 * nothing; an id it could not read fails the open. */
static void test_reader_id(void **state)
{
	static char buf[1 << 16];
	char text[512], why[128];
	struct store_query q = {.to_ms = INT64_MAX, .to_seq = UINT64_MAX, .kind = -1};
	unsigned char b[512], leb[2];
	struct store_row rows[4];
	struct store *s, *r;
	uint64_t seq;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	add_env(s, NULL, "x", text, sizeof(text));
	add(s, STORE_RECORD, NOW_MS);
	seq = add(s, STORE_RECORD, NOW_MS);
	store_close(s);
	sql_exec(dbpath, "DELETE FROM meta WHERE key IN ('store_id_hi', 'store_id_lo')");
	/* one that would unpack with any dictionary */
	leb[0] = (unsigned char)(0x80 | (strlen(text) & 0x7f));
	leb[1] = (unsigned char)(strlen(text) >> 7);
	blob_put(seq, b, craft(b, sizeof(b), text, strlen(text), leb, 2));
	r = store_open_reader(dbpath, why, sizeof(why));
	assert_non_null(r);
	assert_int_equal(store_read(r, &q, rows, 4, buf, sizeof(buf)), 1);
	assert_string_not_equal(rows[0].payload, text);
	store_close(r);

	sql_exec(dbpath, "ALTER TABLE meta RENAME TO meta_gone");
	why[0] = '\0';
	assert_null(store_open_reader(dbpath, why, sizeof(why)));
	assert_true(why[0] != '\0');
}

/* The length field: at most 5 bytes, at most STORE_MAX_PAYLOAD. */
static void test_packed_length(void **state)
{
	static char text[STORE_MAX_PAYLOAD + 2], buf[1 << 18];
	static unsigned char b[1 << 16];
	unsigned char leb[6];
	struct store *s;
	size_t len = 40;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	for (int i = 0; i < 12; i++) /* rows 10..12 are committed: a reader sees them */
		add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	memset(text, 'a', sizeof(text) - 1);
	memcpy(text, "{\"v\":", 5);
	leb[0] = (unsigned char)len;
	blob_put(10, b, craft(b, sizeof(b), text, len, leb, 1));
	assert_int_equal(read_one(s, 10, buf, sizeof(buf)), 1);
	assert_int_equal(strlen(buf), len);
	/* the same length with a 5th byte that says more follow */
	leb[0] = (unsigned char)(0x80 | len);
	leb[1] = leb[2] = leb[3] = leb[4] = 0x80;
	leb[5] = 0;
	blob_put(11, b, craft(b, sizeof(b), text, len, leb, 6));
	assert_int_equal(read_one(s, 11, buf, sizeof(buf)), 0);
	/* the largest payload stored, then one byte more */
	for (len = STORE_MAX_PAYLOAD; len <= STORE_MAX_PAYLOAD + 1; len++) {
		leb[0] = (unsigned char)(0x80 | (len & 0x7f));
		leb[1] = (unsigned char)(0x80 | ((len >> 7) & 0x7f));
		leb[2] = (unsigned char)(len >> 14);
		blob_put(12, b, craft(b, sizeof(b), text, len, leb, 3));
		assert_int_equal(read_one(s, 12, buf, sizeof(buf)), len == STORE_MAX_PAYLOAD);
	}
	store_close(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

static const struct store_policy keep7 = {.keep_sent_days = 7};

/* The acked column of a row, read through a connection of our own; -2
 * when there is no such row. */
static int64_t row_acked(uint64_t seq)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -2;

	assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT acked FROM rows WHERE seq = ?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Every row matching q (store_read), from the start. */
static int read_all(struct store *s, int64_t from_ms, int64_t to_ms, struct store_row *rows,
		    int max)
{
	static char buf[1 << 20];
	struct store_query q = {
	    .from_ms = from_ms, .to_ms = to_ms, .from_seq = 0, .to_seq = UINT64_MAX, .kind = -1};

	return store_read(s, &q, rows, max, buf, sizeof(buf));
}

/* keep_sent: a row every uplink has is marked sent, not deleted: no uplink
 * (nor one added later, nor a local reader) fetches it again, status does
 * not count it as waiting, an export still reads it; after keep_sent days
 * it goes. */
static void test_keep_sent(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;
	uint64_t a, b, c;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &keep7);
	a = add(s, STORE_RECORD, NOW_MS - 10 * DAY_MS);
	b = add(s, STORE_EVENT, NOW_MS - 1 * DAY_MS);
	c = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_ack(s, 0, a), 0);
	assert_int_equal(store_ack(s, 0, b), 0);
	assert_int_equal(store_ack(s, 0, b), 0); /* again: a no-op */
	assert_int_equal(store_flush(s), 0);
	/* In seq order: the sent boundary moved, no row was written (nor
	 * meta: the boundary waits for a commit that writes meta anyway). */
	assert_int_equal(meta_value("sent_upto"), -1);
	assert_int_equal(row_acked(a), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 1);
	assert_int_equal(rows[0].seq, c);
	assert_int_equal(fetch(s, 30, 0, rows, 8), 1); /* a local reader neither */
	assert_int_equal(store_fetch_desc(s, 0, UINT64_MAX >> 1, rows, 8, (char[4096]){0}, 4096),
			 1);
	store_stats(s, &st);
	assert_int_equal(st.rows, 1);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.oldest_wall_ms, NOW_MS); /* of what still waits */
	assert_int_equal(read_all(s, 0, INT64_MAX, rows, 8), 3);
	assert_int_equal(read_all(s, NOW_MS - 2 * DAY_MS, NOW_MS - 1, rows, 8), 1);
	assert_int_equal(rows[0].seq, b);
	assert_int_equal(rows[0].kind, STORE_EVENT);
	store_close(s);
	assert_int_equal(meta_value("sent_upto"), (int64_t)b); /* saved at the close */

	/* A restart, and a second uplink added: sent rows stay sent. */
	s = store_open(dbpath, 3, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &keep7);
	assert_int_equal(fetch(s, 1, 0, rows, 8), 1);
	assert_int_equal(rows[0].seq, c);
	assert_int_equal(read_all(s, 0, INT64_MAX, rows, 8), 3);
	/* Age: a (10 days old) goes, b (1 day) stays; nothing counts as evicted. */
	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(read_all(s, 0, INT64_MAX, rows, 8), 2);
	assert_int_equal(rows[0].seq, b);
	store_stats(s, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.evicted, 0);
	/* keep_sent = 0 (reload): sent rows go, and the next ack deletes. */
	store_set_policy(s, &(struct store_policy){0});
	assert_int_equal(store_ack(s, 0, c), 0);
	assert_int_equal(store_ack(s, 1, c), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(read_all(s, 0, INT64_MAX, rows, 8), 0);
	store_close(s);
}

/* An ack while an older row still waits (a backlog sent newest first):
 * that row is marked sent, the boundary stays below the waiting one, and
 * moves past both once it is sent. */
static void test_keep_sent_out_of_order(void **state)
{
	struct store_row rows[8];
	struct store_stats st;
	struct store *s;
	uint64_t a, b, c;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &keep7);
	a = add(s, STORE_RECORD, NOW_MS);
	b = add(s, STORE_RECORD, NOW_MS);
	c = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_ack(s, 0, c), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(row_acked(c), -1);
	assert_true(meta_value("sent_upto") < (int64_t)a);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 2);
	assert_int_equal(store_ack(s, 0, a), 0);
	assert_int_equal(store_ack(s, 0, b), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(fetch(s, 0, 0, rows, 8), 0);
	store_stats(s, &st);
	assert_int_equal(st.rows, 0);
	assert_int_equal(st.sent, 3);
	/* An ack of a sent row again changes nothing. */
	assert_int_equal(store_ack(s, 0, c), 0);
	assert_int_equal(store_ack(s, 0, a), 0);
	store_stats(s, &st);
	assert_int_equal(st.sent, 3);
	store_close(s);
	assert_int_equal(meta_value("sent_upto"), (int64_t)b);
	/* Counted again at open, boundary and marks together. */
	s = store_open(dbpath, 1, 0, 0);
	store_stats(s, &st);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.rows, 0);
	store_close(s);
}

static int hook_calls;
static int count_hook(void *ctx)
{
	(void)ctx;
	hook_calls++;
	return 0;
}

/* Flash: a commit of appends and of acks that only move the sent boundary
 * writes no meta and leaves the sealer's chain head alone (the meta page
 * would be a WAL frame each commit); a commit that writes meta anyway takes
 * the boundary along, with the head; rows leaving (marked sent, deleted)
 * always take the head; the close saves both. */
static void test_commit_meta_lazy(void **state)
{
	struct store *s;
	uint64_t a, b, c, d;

	(void)state;
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &keep7);
	store_on_commit(s, count_hook, NULL);
	hook_calls = 0;
	a = add(s, STORE_RECORD, NOW_MS);
	b = add(s, STORE_RECORD, NOW_MS);
	c = add(s, STORE_RECORD, NOW_MS);
	d = add(s, STORE_RECORD, NOW_MS);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(hook_calls, 0);
	assert_int_equal(store_ack(s, 0, a), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(hook_calls, 0);
	assert_int_equal(meta_value("sent_upto"), -1);
	/* Another meta write in the transaction: the boundary rides on it. */
	assert_int_equal(store_meta_save(s, "x", 1), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(meta_value("sent_upto"), (int64_t)a);
	/* A row marked sent (an older one waits): the head goes with it. */
	assert_int_equal(store_ack(s, 0, c), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(row_acked(c), -1);
	assert_int_equal(hook_calls, 2);
	/* keep_sent = 0: a delete takes the head too. */
	store_set_policy(s, &(struct store_policy){0});
	hook_calls = 0;
	assert_int_equal(store_ack(s, 0, d), 0);
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(hook_calls, 1);
	store_close(s);
	assert_int_equal(hook_calls, 1); /* nothing waited */
	(void)b;
}

/* The size cap takes sent rows first, even when they are newer than
 * every unsent row, and counts them as no eviction. */
static void test_keep_sent_evicted_first(void **state)
{
	static struct store_row rows[2048];
	static char buf[4 << 20];
	char payload[1000];
	struct store_stats st;
	struct store *s;
	uint64_t seq;
	int n;

	(void)state;
	memset(payload, 'k', sizeof(payload));
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &keep7);
	for (int i = 0; i < 1200; i++) {
		seq = store_next_seq(s);
		assert_int_equal(store_append(s, seq, STORE_RECORD, 0, NOW_MS + i, payload, 1000),
				 0);
		/* the older half waits (an outage), the newer half was sent */
		if (i >= 600)
			assert_int_equal(store_ack(s, 0, seq), 0);
	}
	assert_int_equal(store_flush(s), 0);
	store_set_policy(s, &(struct store_policy){.keep_sent_days = 7, .max_size_mb = 1});
	assert_int_equal(store_evict(s, NOW_MS), 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_true(st.bytes <= 1024 * 1024);
	assert_int_equal(st.rows, 600); /* every unsent row is still there */
	assert_true(st.sent < 600);
	assert_int_equal(st.evicted, 0);
	n = store_fetch(s, 0, 0, rows, 2048, buf, sizeof(buf));
	assert_int_equal(n, 600);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_roundtrip),
	    T(test_memory_bounded),
	    T(test_two_uplinks),
	    T(test_keep_sent),
	    T(test_keep_sent_out_of_order),
	    T(test_commit_meta_lazy),
	    T(test_keep_sent_evicted_first),
	    T(test_shrunk_mask_sweeps),
	    T(test_fetch_cursor),
	    T(test_buffer_limits),
	    T(test_seq_across_reopen),
	    T(test_seq_after_crash),
	    T(test_seq_peek),
	    T(test_durability),
	    T(test_retention_age),
	    T(test_size_cap),
	    T(test_size_cap_events),
	    T(test_unwritable_path_ram),
	    T(test_foreign_and_newer_moved_aside),
	    T(test_retention_never_unsent),
	    T(test_corrupt_moved_aside),
	    T(test_store_id),
	    T(test_lock),
	    T(test_check),
	    T(test_disk_full),
	    T(test_bad_arguments),
	    T(test_evict_by_class),
	    T(test_flush_due),
	    T(test_flush_alarm),
	    T(test_acks_ride),
	    T(test_fetch_desc),
	    T(test_migrate_v1),
	    T(test_packed),
	    T(test_unreadable),
	    T(test_unreadable_evicted),
	    T(test_packed_crc),
	    T(test_reader_id),
	    T(test_packed_length),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
