/* verify: rows a real sealer (gateway/seal.c over a real store) sealed are
 * proven; a changed byte, a removed row, a swapped seq, a replayed seal, a
 * removed seal and a seal from another key are each caught with their own
 * message; a boot a crash cut short is sealed by the next boot and the chain
 * holds across it; batches and topic-prefixed lines are read. */
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

#include "gateway/report.h"
#include "gateway/seal.h"
#include "gateway/signer.h"
#include "gateway/store.h"
#include "gateway/verify.h"

#define DUMP_READER 28
#define MAX_LINES   12000

static char dir[] = "/tmp/emgw-verify.XXXXXX";
static char key_pem[300], other_pem[300], ed_pem[300], db[300];
static const char *seal_pem = key_pem; /* the key run_boot seals with */
static struct report rep;
static char *lines[MAX_LINES];
static int n_lines;
static uint64_t dumped;
static char out[1 << 20];

static void reset_lines(void)
{
	for (int i = 0; i < n_lines; i++)
		free(lines[i]);
	n_lines = 0;
	dumped = 0;
	unlink(db);
}

/* Every committed row not dumped yet, as a subscriber would save it. */
static void dump(struct store *st)
{
	static struct store_row rows[64];
	static char buf[1 << 18];
	int n;

	while ((n = store_fetch(st, DUMP_READER, dumped, rows, 64, buf, sizeof(buf))) > 0)
		for (int i = 0; i < n; i++) {
			assert_true(n_lines < MAX_LINES);
			lines[n_lines++] = strdup(rows[i].payload);
			dumped = rows[i].seq;
		}
	assert_true(n >= 0);
}

/* One start of emgwd: rows gap events, sealed every 60 rows; crash: no
 * final seal (what was committed stays); max_mb: the store's size cap (0
 * none); live: dump as it goes (a subscriber online), else only at the end
 * (what the cap evicts before is never delivered). */
static void run_boot_ex(int rows, int crash, int max_mb, int live)
{
	struct store *st = store_open(db, 1, 0, max_mb);
	struct signer *sg = signer_soft_open_any(seal_pem, SEAL_SM2_ID);
	struct seal *seal;
	struct clock_now now = {0, INT64_C(1700000000000), TS_REPLAY};

	assert_non_null(st);
	assert_non_null(sg);
	report_init(&rep, st, "t-1", 0);
	seal = seal_open(st, &rep, sg, 60, 60000);
	assert_non_null(seal);
	for (int i = 0; i < rows; i++) {
		struct payload_event ev;

		payload_event_init(&ev, PAYLOAD_EV_GAP);
		ev.from_ms = now.wall_ms;
		ev.to_ms = now.wall_ms + 1000;
		ev.gap_s = (double)(i % 97);
		now.mono_ms += 1000;
		now.wall_ms += 1000;
		if (max_mb) { /* records, evicted first, as a full store's are */
			struct payload_record *rec = report_record(&rep);

			payload_record_set(rec, SIG_ENGINE_SPEED_RPM, 0, 700 + i % 997);
			assert_true(report_emit_record(&rep, rec, &now) > 0);
		} else {
			assert_true(report_emit_event(&rep, &ev, &now) > 0);
		}
		if (i % 7 == 6) {
			assert_int_equal(store_flush(st), 0);
			assert_true(seal_step(seal, &now, 0) >= 0);
			if (live)
				dump(st);
		}
	}
	assert_int_equal(store_flush(st), 0);
	assert_true(seal_step(seal, &now, !crash) >= 0);
	assert_int_equal(store_flush(st), 0);
	/* What the last commit evicted is declared in it: sealed by the next
	 * turn of the stop's drain, as emgwd does. */
	assert_true(seal_step(seal, &now, !crash) >= 0);
	assert_int_equal(store_flush(st), 0);
	if (live || !crash)
		dump(st);
	seal_close(seal);
	sg->close(sg);
	store_close(st);
}

static void run_boot(int rows, int crash)
{
	run_boot_ex(rows, crash, 0, 1);
}

/* Verify the lines with the keys pem[n]: the exit code; the findings in out. */
static int check_keys(const char *const *pem, size_t n)
{
	struct signer_verifier *k[4];
	struct verify *v;
	FILE *f = fmemopen(out, sizeof(out), "w");
	int rc;

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++)
		assert_non_null(k[i] = signer_verifier_open(pem[i]));
	assert_non_null(f);
	v = verify_new(k, n);
	assert_non_null(v);
	for (int i = 0; i < n_lines; i++)
		if (lines[i])
			verify_line(v, lines[i], strlen(lines[i]));
	rc = verify_report(v, f);
	fclose(f);
	verify_free(v);
	for (size_t i = 0; i < n; i++)
		signer_verifier_close(k[i]);
	return rc;
}

static int check(const char *pem)
{
	return check_keys(&pem, 1);
}

static int is_seal(int i)
{
	return lines[i] && strstr(lines[i], "\"type\":\"seal\"") != NULL;
}

/* The i-th seal line's index. */
static int nth_seal(int nth)
{
	for (int i = 0; i < n_lines; i++)
		if (is_seal(i) && nth-- == 0)
			return i;
	fail();
	return -1;
}

static void replace(int i, const char *from, const char *to)
{
	char *p = strstr(lines[i], from), *n;
	size_t a, lf = strlen(from), lt = strlen(to);

	assert_non_null(p);
	a = (size_t)(p - lines[i]);
	n = malloc(strlen(lines[i]) - lf + lt + 1);
	assert_non_null(n);
	memcpy(n, lines[i], a);
	memcpy(n + a, to, lt);
	strcpy(n + a + lt, p + lf);
	free(lines[i]);
	lines[i] = n;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(key_pem, sizeof(key_pem), "%s/seal.key", dir);
	snprintf(other_pem, sizeof(other_pem), "%s/other.key", dir);
	snprintf(ed_pem, sizeof(ed_pem), "%s/ed.key", dir);
	snprintf(db, sizeof(db), "%s/store.db", dir);
	return signer_soft_generate(key_pem) == 1 && signer_soft_generate(other_pem) == 1 &&
		       signer_soft_generate_alg(ed_pem, SIGNER_ED25519) == 1
		   ? 0
		   : -1;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	reset_lines();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* 10,000 rows: 10,000/59 seals and more, all proven; order of lines is free;
 * then each kind of tampering, one at a time, on a copy of the saved lines. */
static void test_ten_thousand(void **state)
{
	char *saved;
	int i, j;

	(void)state;
	reset_lines();
	run_boot(10000, 0);
	assert_true(n_lines > 10000 + 10000 / 60);
	assert_int_equal(check(key_pem), 0);
	assert_non_null(strstr(out, "proven: "));

	/* a changed byte */
	for (i = 100; is_seal(i); i++)
		;
	saved = strdup(lines[i]);
	replace(i, "\"gap_s\":", "\"gap_s\":1");
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, "changed (hash differs)"));
	free(lines[i]);
	lines[i] = saved;

	/* a removed row */
	saved = lines[i];
	lines[i] = NULL;
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, " missing"));
	lines[i] = saved;

	/* a reordered pair: lines swapped is no problem, seqs swapped is */
	saved = lines[i];
	lines[i] = lines[i + 1];
	lines[i + 1] = saved;
	assert_int_equal(check(key_pem), 0);
	lines[i + 1] = lines[i];
	lines[i] = saved;
	{
		char a[32], b[32], *p;

		p = strstr(lines[i], "\"seq\":");
		snprintf(a, sizeof(a), "%.*s", (int)strcspn(p, ","), p);
		p = strstr(lines[i + 1], "\"seq\":");
		snprintf(b, sizeof(b), "%.*s", (int)strcspn(p, ","), p);
		replace(i, a, "\"seq\":X");
		replace(i + 1, b, a);
		replace(i, "\"seq\":X", b);
		assert_int_equal(check(key_pem), 1);
		assert_non_null(strstr(out, "changed (hash differs)"));
		replace(i, b, "\"seq\":X");
		replace(i + 1, a, b);
		replace(i, "\"seq\":X", a);
		assert_int_equal(check(key_pem), 0);
	}

	/* a replayed seal: the 3rd seal's content in the 4th's place */
	i = nth_seal(2);
	j = nth_seal(3);
	{
		char *p = strstr(lines[i], ",\"type\":\"seal\""),
		     *q = strstr(lines[j], ",\"type\"");
		char *n = malloc((size_t)(q - lines[j]) + strlen(p) + 1);

		assert_non_null(n);
		memcpy(n, lines[j], (size_t)(q - lines[j]));
		strcpy(n + (q - lines[j]), p);
		saved = lines[j];
		lines[j] = n;
		assert_int_equal(check(key_pem), 1);
		assert_non_null(strstr(out, "sealed again (a replayed seal"));
		free(lines[j]);
		lines[j] = saved;
	}

	/* a removed seal */
	j = nth_seal(5);
	saved = lines[j];
	lines[j] = NULL;
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, "chain break"));
	assert_non_null(strstr(out, "rows not proven by a seal"));
	lines[j] = saved;

	/* a seal from another key */
	assert_int_equal(check(other_pem), 1);
	assert_non_null(strstr(out, "not by key"));

	/* a changed seal (its hash) */
	j = nth_seal(7);
	saved = strdup(lines[j]);
	{
		char *h = strstr(lines[j], "\"hash\":\"") + 8;

		*h = *h == '0' ? '1' : '0';
	}
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, "bad signature"));
	free(lines[j]);
	lines[j] = saved;
	assert_int_equal(check(key_pem), 0);
}

/* Boot 2 crashes with an open range; boot 3 seals it first, naming boot 2's
 * last seal; the chain runs over all three boots. */
static void test_boots(void **state)
{
	int j, found = 0;

	(void)state;
	reset_lines();
	run_boot(100, 0);
	run_boot(90, 1);
	run_boot(20, 0);
	assert_int_equal(check(key_pem), 0);
	assert_non_null(strstr(out, "boot 3: "));
	for (j = 0; j < n_lines; j++)
		if (is_seal(j) && strstr(lines[j], "\"boot\":3,") &&
		    strstr(lines[j], "\"sealed_boot\":2,"))
			found = 1;
	assert_true(found);
	/* without that seal, boot 2's tail is unproven and boot 3's chain breaks */
	for (j = 0; j < n_lines; j++)
		if (is_seal(j) && strstr(lines[j], "\"sealed_boot\":2,") &&
		    strstr(lines[j], "\"boot\":3,"))
			break;
	free(lines[j]);
	lines[j] = NULL;
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, "rows not proven by a seal"));
	assert_non_null(strstr(out, "chain break"));
}

/* Batches and "topic<TAB>" / "topic " prefixes are read as rows. */
static void test_batches(void **state)
{
	char *batch;
	size_t len = 64;
	int k = 0;

	(void)state;
	reset_lines();
	run_boot(30, 0);
	for (int i = 0; i < 10; i++)
		len += strlen(lines[i]) + 1;
	batch = malloc(len);
	assert_non_null(batch);
	k = snprintf(batch, len, "emgw/t-1/telemetry\t{\"v\":1,\"dev\":\"t-1\",\"records\":[");
	for (int i = 0; i < 10; i++) {
		k += snprintf(batch + k, len - (size_t)k, "%s%s", i ? "," : "", lines[i]);
		free(lines[i]);
		lines[i] = NULL;
	}
	snprintf(batch + k, len - (size_t)k, "]}");
	lines[0] = batch;
	replace(12, "{", "emgw/t-1/event {");
	free(lines[1]);
	lines[1] = strdup("emgw/t-1/status\t{\"v\":1,\"dev\":\"t-1\",\"state\":\"running\"}");
	assert_int_equal(check(key_pem), 0);
	assert_non_null(strstr(out, "1 JSON objects without a seq left out"));
	free(lines[2]);
	lines[2] = strdup("emgw/t-1/status\t{\"v\":1,");
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, "1 lines are not rows"));
	free(lines[2]);
	lines[2] = NULL;
	replace(0, "\"gap_s\":3", "\"gap_s\":4");
	assert_int_equal(check(key_pem), 1);
}

/* The first evicted event of boot `boot` (evicted_boot): its last seq, or -1. */
static int64_t evicted_to(int boot, int *line)
{
	char key[48];

	snprintf(key, sizeof(key), "\"type\":\"evicted\",\"evicted_boot\":%d,", boot);
	for (int i = 0; i < n_lines; i++) {
		const char *p = lines[i] ? strstr(lines[i], key) : NULL;

		if (p) {
			*line = i;
			return strtoll(strstr(p, "\"to\":") + 5, NULL, 10);
		}
	}
	return -1;
}

/* Whether a seal of boot covers seq and seq + 1 (a range cut by eviction). */
static int sealed_across(int boot, int64_t seq)
{
	char key[48];

	snprintf(key, sizeof(key), "\"sealed_boot\":%d,", boot);
	for (int i = 0; i < n_lines; i++) {
		const char *p = lines[i] ? strstr(lines[i], key) : NULL;

		if (p && strtoll(strstr(p, "\"from\":") + 7, NULL, 10) <= seq &&
		    strtoll(strstr(p, "\"to\":") + 5, NULL, 10) > seq)
			return 1;
	}
	return 0;
}

static int has_seq(int64_t seq)
{
	char key[32];

	snprintf(key, sizeof(key), "\"seq\":%" PRId64 ",", seq);
	for (int i = 0; i < n_lines; i++)
		if (lines[i] && strstr(lines[i], key))
			return 1;
	return 0;
}

/* The store's size cap evicts rows no subscriber got, across a boot: the
 * evicted events declare them with their hashes, every seal over them still
 * verifies and they are reported as evicted, not missing; a row removed
 * without such an event, or the event itself, is still caught. */
static void test_evicted(void **state)
{
	int64_t last1, last2;
	int ev1 = -1, ev2 = -1, i;
	char *saved;

	(void)state;
	reset_lines();
	/* a little over the 1 MB cap (packed records: ~60 bytes each) */
	run_boot_ex(6000, 1, 1, 0); /* a crash: boot 2 seals its open range */
	run_boot_ex(8000, 0, 1, 0);
	last1 = evicted_to(1, &ev1);
	last2 = evicted_to(2, &ev2);
	assert_true(last1 > 0);
	assert_true(last2 > 0);
	assert_false(has_seq(last2)); /* really gone */
	assert_true(sealed_across(2, last2) || sealed_across(1, last1));
	assert_int_equal(check(key_pem), 0);
	assert_non_null(strstr(out, "proven: "));
	assert_non_null(strstr(out, "evicted (declared)"));
	assert_non_null(strstr(out, "boot 1: "));
	assert_non_null(strstr(strstr(out, "boot 1: "), "evicted (declared)\nt-1"));
	assert_non_null(strstr(strstr(out, "boot 2: "), "evicted (declared)\n"));

	/* a row removed on the way, next to the evicted ones: missing */
	for (i = 0; i < n_lines &&
		    !(lines[i] && strstr(lines[i], "\"sig\"") && strstr(lines[i], "\"boot\":2,"));
	     i++)
		;
	assert_true(i < n_lines);
	saved = lines[i];
	lines[i] = NULL;
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, " missing"));
	lines[i] = saved;

	/* the evicted event removed: its rows are missing, it is not proven */
	saved = lines[ev2];
	lines[ev2] = NULL;
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, " missing"));
	lines[ev2] = saved;
	assert_int_equal(check(key_pem), 0);
}

/* A key rotated to Ed25519 between two boots: each seal names its key and
 * algorithm; with both keys the chain is proven across the change, with
 * either alone the other's seals are foreign; a changed row under an
 * Ed25519 seal is caught. */
static void test_ed25519_rotation(void **state)
{
	const char *both[] = {key_pem, ed_pem};
	int i;

	(void)state;
	reset_lines();
	run_boot(150, 0);
	seal_pem = ed_pem;
	run_boot(150, 0);
	seal_pem = key_pem;
	assert_int_equal(check_keys(both, 2), 0);
	for (i = 0; i < n_lines && !(is_seal(i) && strstr(lines[i], "\"alg\":\"ed25519\"")); i++)
		;
	assert_true(i < n_lines);
	assert_int_equal(check(key_pem), 1);
	assert_non_null(strstr(out, "not by key"));
	assert_int_equal(check(ed_pem), 1);
	assert_non_null(strstr(out, "not by key"));
	for (i = n_lines - 1; i > 0 && (is_seal(i) || !strstr(lines[i], "\"boot\":2,")); i--)
		;
	replace(i - 3, "\"gap_s\":", "\"gap_s\":1");
	assert_int_equal(check_keys(both, 2), 1);
	assert_non_null(strstr(out, "changed (hash differs)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ten_thousand),     cmocka_unit_test(test_boots),
	    cmocka_unit_test(test_batches),	     cmocka_unit_test(test_evicted),
	    cmocka_unit_test(test_ed25519_rotation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
