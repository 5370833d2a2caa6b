/* Unit tests for gateway/shmvfs.c: the WAL index through a link into a run
 * directory, shared by two connections (a writer and a reader, as the
 * daemon and --export), a stale index started afresh, and a clean close
 * that takes the link and the index away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/shmvfs.h"

struct dirs {
	char top[64], db[128], shm[160], run[128], index[PATH_MAX];
};

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));

	snprintf(d->top, sizeof(d->top), "/tmp/emgw-shmvfs.XXXXXX");
	assert_non_null(mkdtemp(d->top));
	snprintf(d->db, sizeof(d->db), "%s/s.db", d->top);
	snprintf(d->shm, sizeof(d->shm), "%s-shm", d->db);
	snprintf(d->run, sizeof(d->run), "%s/run", d->top);
	assert_int_equal(mkdir(d->run, 0700), 0);
	shmvfs_set_dir(d->run);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	char cmd[96];

	shmvfs_set_dir(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->top);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static sqlite3 *open_db(const char *path, int flags)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, flags, shmvfs_name()), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static int64_t count(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void exec(sqlite3 *db, const char *sql)
{
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* The store's start: the link, a writer in WAL with rows (SQL), and where
 * the link leads (the index), in target. */
static sqlite3 *open_linked(struct dirs *d, const char *sql, char *target, size_t size)
{
	sqlite3 *w;
	ssize_t n;

	assert_int_equal(shmvfs_link(d->db), 0);
	w = open_db(d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	exec(w, sql);
	n = readlink(d->shm, target, size - 1);
	assert_true(n > 0);
	target[n] = '\0';
	return w;
}

static void test_index_in_run_dir_shared(void **state)
{
	struct dirs *d = *state;
	sqlite3 *w, *r;
	char target[PATH_MAX];

	assert_non_null(shmvfs_name());
	w = open_linked(d,
			"PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)",
			target, sizeof(target));
	assert_memory_equal(target, d->run, strlen(d->run));
	snprintf(d->index, sizeof(d->index), "%s", target);
	assert_int_equal(access(d->index, F_OK), 0);

	/* A reader holds a snapshot while the writer commits and checkpoints:
	 * it keeps its rows (its read lock is seen), then sees the new ones. */
	r = open_db(d->db, SQLITE_OPEN_READONLY);
	exec(r, "BEGIN");
	assert_int_equal(count(r), 2);
	exec(w, "INSERT INTO t VALUES (3)");
	exec(w, "PRAGMA wal_checkpoint(PASSIVE)");
	exec(w, "INSERT INTO t VALUES (4)");
	assert_int_equal(count(r), 2);
	exec(r, "COMMIT");
	assert_int_equal(count(r), 4);
	sqlite3_close(r);

	/* The last connection closes cleanly: no link, no index, no WAL. */
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_not_equal(access(d->shm, F_OK), 0);
	assert_int_not_equal(access(d->index, F_OK), 0);
}

static void test_stale_index_started_afresh(void **state)
{
	struct dirs *d = *state;
	sqlite3 *w;
	FILE *f;

	w = open_db(d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	/* An index of garbage left by a crash, nobody holding it. */
	assert_int_equal(shmvfs_link(d->db), 0);
	f = fopen(d->shm, "w");
	assert_non_null(f);
	for (int i = 0; i < 32768; i++)
		fputc(0xa5, f);
	fclose(f);
	w = open_db(d->db, SQLITE_OPEN_READWRITE);
	assert_int_equal(count(w), 1);
	exec(w, "INSERT INTO t VALUES (2)");
	assert_int_equal(count(w), 2);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
}

static void test_no_dir_index_beside(void **state)
{
	struct dirs *d = *state;
	sqlite3 *w;
	struct stat st;

	shmvfs_set_dir(NULL);
	assert_int_equal(shmvfs_link(d->db), 0);
	w = open_db(d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	assert_int_equal(lstat(d->shm, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
}

/* A link left by a run with a run directory (a crash; the unit's directory
 * gone at its stop), then a start without one: the index goes back beside
 * the database instead of following the link nowhere. */
static void test_left_link_without_dir(void **state)
{
	struct dirs *d = *state;
	sqlite3 *w;
	struct stat st;
	char cmd[160];

	w = open_db(d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(shmvfs_link(d->db), 0);
	assert_int_equal(lstat(d->shm, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->run);
	assert_int_equal(system(cmd), 0);
	shmvfs_set_dir(NULL);
	assert_int_equal(shmvfs_link(d->db), 0);
	assert_int_not_equal(lstat(d->shm, &st) == 0 && S_ISLNK(st.st_mode), 1);
	w = open_db(d->db, SQLITE_OPEN_READWRITE);
	exec(w, "PRAGMA journal_mode=WAL; INSERT INTO t VALUES (2)");
	assert_int_equal(count(w), 2);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
}

/* A store moved aside takes its index along: the new store's link names
 * the same file in the run directory and must not find the old index. */
static void test_unlink_takes_index(void **state)
{
	struct dirs *d = *state;
	char target[PATH_MAX];
	sqlite3 *w;

	w = open_linked(d, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)",
			target, sizeof(target));
	assert_int_equal(access(target, F_OK), 0);
	shmvfs_unlink(d->db);
	assert_int_not_equal(access(target, F_OK), 0);
	assert_int_not_equal(access(d->shm, F_OK), 0);
	sqlite3_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_index_in_run_dir_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_index_started_afresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_dir_index_beside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_left_link_without_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unlink_takes_index, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
