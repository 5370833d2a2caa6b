/* seal: a seal every 60 rows and after 60 s, naming its range, the previous
 * seal and the key; none on a timer for a range of seals only; a sealed row
 * is frozen (a restamp leaves it, so its seal still holds); the range hash is
 * SM3 folded row by row (a known answer); hex round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gateway/report.h"
#include "gateway/seal.h"
#include "gateway/signer.h"
#include "gateway/store.h"
#include "gateway/verify.h"

static char dir[] = "/tmp/emgw-seal.XXXXXX";
static char key_pem[300], db[300];
static struct report rep;
static struct store *st;
static struct signer *sg;
static struct seal *seal;
static struct clock_now now;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(key_pem, sizeof(key_pem), "%s/seal.key", dir);
	return signer_soft_generate(key_pem) == 1 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void open_capped(const char *name, enum ts_src src, int max_mb)
{
	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	st = store_open(db, 1, 0, max_mb);
	assert_non_null(st);
	sg = signer_soft_open(key_pem, SEAL_SM2_ID);
	assert_non_null(sg);
	report_init(&rep, st, "t-1", 0);
	seal = seal_open(st, &rep, sg, 60, 60000);
	assert_non_null(seal);
	now = (struct clock_now){0, INT64_C(1700000000000), src};
}

static void open_all(const char *name, enum ts_src src)
{
	open_capped(name, src, 0);
}

static void close_all(void)
{
	seal_close(seal);
	sg->close(sg);
	store_close(st);
}

static void emit(int n)
{
	for (int i = 0; i < n; i++) {
		struct payload_event ev;

		payload_event_init(&ev, PAYLOAD_EV_GAP);
		ev.from_ms = now.wall_ms;
		ev.to_ms = now.wall_ms + 1;
		ev.gap_s = 0.001;
		now.mono_ms += 100;
		now.wall_ms += 100;
		assert_true(report_emit_event(&rep, &ev, &now) > 0);
	}
	assert_int_equal(store_flush(st), 0);
}

/* n records (routine: evicted first), committed. */
static void emit_records(int n)
{
	for (int i = 0; i < n; i++) {
		struct payload_record *rec = report_record(&rep);

		payload_record_set(rec, SIG_ENGINE_SPEED_RPM, 0, 700 + i);
		now.mono_ms += 100;
		now.wall_ms += 100;
		assert_true(report_emit_record(&rep, rec, &now) > 0);
	}
	assert_int_equal(store_flush(st), 0);
}

/* The committed row at seq. */
static void row_at(uint64_t seq, char *out, size_t size)
{
	struct store_row r;
	static char buf[1 << 16];

	assert_int_equal(store_fetch(st, 27, seq - 1, &r, 1, buf, sizeof(buf)), 1);
	assert_int_equal(r.seq, seq);
	snprintf(out, size, "%s", r.payload);
}

static void test_every_60_rows(void **state)
{
	char row[4096], hex[SEAL_HEX];
	uint8_t acc[SEAL_HASH] = {0};
	struct seal_hash *h = seal_hash_new();

	(void)state;
	open_all("n", TS_REPLAY);
	emit(59);
	assert_int_equal(seal_step(seal, &now, 0), 0);
	emit(1);
	assert_int_equal(seal_step(seal, &now, 0), 1);
	assert_int_equal(store_flush(st), 0);
	row_at(61, row, sizeof(row));
	assert_non_null(strstr(row, ",\"type\":\"seal\",\"sealed_boot\":1,\"from\":1,\"to\":60,"));
	assert_non_null(strstr(row,
			       "\"prev\":\"" /* the first seal: zeros */
			       "0000000000000000000000000000000000000000000000000000000000000000"));
	assert_non_null(strstr(row, seal_key(seal)));
	/* the hash is SM3 folded over rows 1..60 as stored */
	for (uint64_t s = 1; s <= 60; s++) {
		char r[4096];

		row_at(s, r, sizeof(r));
		assert_int_equal(seal_fold(h, acc, r, strlen(r)), 0);
	}
	seal_hex(acc, SEAL_HASH, hex);
	assert_non_null(strstr(row, hex));
	/* a range of the seal alone is not sealed on a timer, even much later */
	now.mono_ms += 600000;
	assert_int_equal(seal_step(seal, &now, 0), 0);
	assert_int_equal(seal_step(seal, &now, 1), 0);
	/* one more row: sealed once 60 s have passed since it came */
	emit(1);
	assert_int_equal(seal_step(seal, &now, 0), 0);
	now.mono_ms += 60000;
	assert_int_equal(seal_step(seal, &now, 0), 1);
	assert_int_equal(seal_count(seal), 2);
	seal_hash_free(h);
	close_all();
}

/* Rows sealed are frozen: time arriving later does not restamp them. */
static void test_sealed_rows_frozen(void **state)
{
	char before[4096], after[4096];

	(void)state;
	open_all("frozen", TS_UNSYNCED);
	emit(5);
	row_at(3, before, sizeof(before));
	assert_non_null(strstr(before, "\"ts_src\":\"unsynced\""));
	assert_int_equal(seal_step(seal, &now, 0), 0); /* read and folded */
	assert_int_equal(store_restamp(st, 5000, "gnss"), 0);
	assert_int_equal(store_flush(st), 0);
	row_at(3, after, sizeof(after));
	assert_string_equal(before, after);
	/* rows not folded yet are restamped as before */
	emit(2);
	assert_int_equal(store_restamp(st, 5000, "gnss"), 2);
	close_all();
}

/* The first committed row after seq whose payload holds what. */
static int find_row(const char *what, char *out, size_t size)
{
	static struct store_row r[64];
	static char buf[1 << 20];
	uint64_t after = 0;
	int n;

	while ((n = store_fetch(st, 27, after, r, 64, buf, sizeof(buf))) > 0)
		for (int i = 0; i < n; i++) {
			after = r[i].seq;
			if (strstr(r[i].payload, what)) {
				snprintf(out, size, "%s", r[i].payload);
				return 1;
			}
		}
	return 0;
}

/* Rows the size cap evicts unsent are declared by evicted events in the
 * eviction's own commit: a folded row by seq and its SM3, one evicted before
 * the sealer read it by seq alone, 64 rows an event at most; a seal names
 * its algorithm. */
static void test_evicted_declared(void **state)
{
	static char row[8192], first[4096];
	uint8_t d[SEAL_HASH];
	char hex[SEAL_HEX], want[SEAL_HEX + 16];
	struct seal_hash *h = seal_hash_new();

	(void)state;
	open_capped("ev", TS_REPLAY, 1);
	emit_records(100);
	assert_int_equal(seal_step(seal, &now, 0), 1); /* rows 1..100 folded */
	row_at(1, first, sizeof(first));
	assert_int_equal(seal_digest(h, first, strlen(first), d), 0);
	seal_hex(d, SEAL_HASH, hex);
	for (int i = 0; i < 320; i++)
		emit_records(100); /* over the cap (packed rows: ~60 bytes), the sealer not told */
	/* committed with the deletes, before any step */
	assert_true(
	    find_row("\"type\":\"evicted\",\"evicted_boot\":1,\"from\":1,", row, sizeof(row)));
	snprintf(want, sizeof(want), "\"hashes\":\"1=%s,2=", hex);
	assert_non_null(strstr(row, want));
	assert_in_range(strtol(strstr(row, "\"rows\":") + 7, NULL, 10), 1, PAYLOAD_EVICTED_MAX);
	/* row 150 came after the last step: gone before it was hashed (first
	 * in its event or not, as row sizes fall) */
	assert_true(find_row(",150,", row, sizeof(row)) ||
		    find_row("\"hashes\":\"150,", row, sizeof(row)));
	assert_non_null(strstr(row, "\"type\":\"evicted\""));
	assert_true(seal_step(seal, &now, 1) > 0);
	assert_int_equal(store_flush(st), 0);
	assert_true(find_row("\"type\":\"seal\"", row, sizeof(row)));
	assert_non_null(strstr(row, "\"alg\":\"sm2\","));
	seal_hash_free(h);
	close_all();
}

/* Row seq's packed payload cut short: it no longer unpacks. */
static void damage(uint64_t seq)
{
	sqlite3 *h;
	char sql[128];

	snprintf(sql, sizeof(sql),
		 "UPDATE rows SET payload = substr(payload, 1, length(payload) - 2)"
		 " WHERE seq = %" PRIu64 " AND typeof(payload) = 'blob'",
		 seq);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(h), 1);
	sqlite3_close(h);
}

/* A row that does not unpack is not sealed: the sealer goes past it, its
 * seal names the range around it, and --verify of what a reader gets says
 * the range is not proven (the row is missing). */
static void test_unreadable_not_sealed(void **state)
{
	static char buf[1 << 16];
	struct store_query q = {.to_ms = INT64_MAX, .to_seq = UINT64_MAX, .kind = -1};
	struct store_row rows[64];
	struct signer_verifier *key;
	struct verify *v;
	FILE *out = fopen("/dev/null", "w");
	int n;

	(void)state;
	open_all("bad", TS_REPLAY);
	emit_records(10);
	damage(5);
	emit_records(50);
	assert_int_equal(seal_step(seal, &now, 1), 1);
	assert_int_equal(store_flush(st), 0);
	n = store_read(st, &q, rows, 64, buf, sizeof(buf));
	assert_int_equal(n, 60); /* 1..61 but 5 */
	assert_non_null(strstr(rows[59].payload, "\"type\":\"seal\",\"sealed_boot\":1,\"from\":1,"
						 "\"to\":60,"));
	assert_non_null(key = signer_verifier_open(key_pem));
	assert_non_null(v = verify_new(&key, 1));
	for (int i = 0; i < n; i++)
		assert_int_equal(verify_line(v, rows[i].payload, rows[i].len), 1);
	assert_int_equal(verify_report(v, out), 1);
	verify_free(v);
	signer_verifier_close(key);
	fclose(out);
	close_all();
}

/* The size cap evicts a row that does not unpack: declared by seq alone
 * (no hash to prove it by), not taken for the end of the pass. */
static void test_unreadable_evicted(void **state)
{
	static char row[8192];

	(void)state;
	open_capped("bad-ev", TS_REPLAY, 1);
	emit_records(100);
	assert_int_equal(seal_step(seal, &now, 0), 1); /* rows 1..100 folded */
	assert_int_equal(store_flush(st), 0);
	damage(2);
	for (int i = 0; i < 320; i++)
		emit_records(100);
	/* its boot is in the text it lost: declared apart, with boot 0 */
	assert_true(find_row("\"type\":\"evicted\",\"evicted_boot\":0,\"from\":2,\"to\":2,", row,
			     sizeof(row)));
	assert_non_null(strstr(row, "\"hashes\":\"2\""));
	close_all();
}

static void test_hex(void **state)
{
	uint8_t b[4] = {0x00, 0xab, 0x7f, 0xff}, c[4];
	char hex[9];

	(void)state;
	seal_hex(b, 4, hex);
	assert_string_equal(hex, "00ab7fff");
	assert_int_equal(seal_unhex(hex, c, 4), 0);
	assert_memory_equal(b, c, 4);
	assert_int_equal(seal_unhex("00AB7FFF", c, 4), -1);
	assert_int_equal(seal_unhex("00ab7ff", c, 4), -1);
}

/* SM3("abc"), GB/T 32905's example. */
static void test_sm3_known_answer(void **state)
{
	struct seal_hash *h = seal_hash_new();
	uint8_t d[SEAL_HASH];
	char hex[SEAL_HEX];

	(void)state;
	assert_non_null(h);
	assert_int_equal(seal_digest(h, "abc", 3, d), 0);
	seal_hex(d, SEAL_HASH, hex);
	assert_string_equal(hex,
			    "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
	seal_hash_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_60_rows),	  cmocka_unit_test(test_sealed_rows_frozen),
	    cmocka_unit_test(test_evicted_declared),	  cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_unreadable_not_sealed), cmocka_unit_test(test_unreadable_evicted),
	    cmocka_unit_test(test_sm3_known_answer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
