/* Unit tests for gateway/export.c (times, the export's span, the SVG) and
 * the get-events command (gateway/command.c), on a real store in a
 * temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/command.h"
#include "gateway/export.h"
#include "gateway/store.h"

#define T0_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static char tmpdir[] = "/tmp/emgw-test-export-XXXXXX";
static char dbpath[512];

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/store.db", tmpdir);
	return 0;
}

static int group_teardown(void **state)
{
	char p[600];

	(void)state;
	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	return rmdir(tmpdir);
}

static void test_parse_time(void **state)
{
	int64_t ms = 0;

	(void)state;
	assert_int_equal(export_parse_time("2026-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, T0_MS);
	assert_int_equal(export_parse_time("2026-01-01T00:00:01.250Z", &ms), 0);
	assert_int_equal(ms, T0_MS + 1250);
	assert_int_equal(export_parse_time("2026-01-01T10:30", &ms), 0);
	assert_int_equal(ms, T0_MS + 37800000);
	assert_int_equal(export_parse_time("2026-01-01", &ms), 0);
	assert_int_equal(ms, T0_MS);
	assert_int_equal(export_parse_time("1767225600", &ms), 0);
	assert_int_equal(ms, T0_MS);
	assert_int_equal(export_parse_time("2026-13-01T00:00:00Z", &ms), -1);
	assert_int_equal(export_parse_time("2026-01-01T00:00:00+08:00", &ms), -1);
	assert_int_equal(export_parse_time("yesterday", &ms), -1);
	assert_int_equal(export_parse_time("-5", &ms), -1);
	assert_int_equal(export_parse_time("", &ms), -1);
}

/* Rows at 1 s steps: events of the types given (NULL: a record), a seal
 * every 4 rows covering the 4 before it (as gateway/seal.c stores them).
 * Every row is sent (keep_sent).  The seqs in seq[]. */
static struct store *make_store(const char *const *types, int n, uint64_t *seq)
{
	struct store *s;
	char p[160];
	uint64_t from = 0;

	unlink(dbpath);
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	store_set_policy(s, &(struct store_policy){.keep_sent_days = 7});
	for (int i = 0; i < n; i++) {
		seq[i] = store_next_seq(s);
		if (from == 0)
			from = seq[i];
		snprintf(p, sizeof(p), "{\"dev\":\"u-1\",\"seq\":%llu,\"type\":\"%s\"}",
			 (unsigned long long)seq[i], types[i] ? types[i] : "record");
		assert_int_equal(store_append(s, seq[i], types[i] ? STORE_EVENT : STORE_RECORD,
					      i * 1000, T0_MS + i * 1000, p, strlen(p)),
				 0);
		if (i % 4 == 3) {
			uint64_t sq = store_next_seq(s);

			snprintf(p, sizeof(p),
				 "{\"dev\":\"u-1\",\"seq\":%llu,\"type\":\"seal\",\"from\":%llu,"
				 "\"to\":%llu}",
				 (unsigned long long)sq, (unsigned long long)from,
				 (unsigned long long)seq[i]);
			assert_int_equal(store_append(s, sq, STORE_EVENT, i * 1000,
						      T0_MS + i * 1000, p, strlen(p)),
					 0);
			from = sq;
		}
	}
	assert_int_equal(store_flush(s), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(store_ack(s, 0, seq[i]), 0);
	assert_int_equal(store_flush(s), 0);
	return s;
}

/* The export of a range is widened to whole seal ranges: from the first row
 * of the range holding the first match to the seal of the last. */
static void test_export_span(void **state)
{
	static const char *const types[12] = {NULL, NULL, NULL,	  NULL, NULL, "smoke",
					      NULL, NULL, "zone", NULL, NULL, NULL};
	struct export_opts o = {.store_path = dbpath, .lambda_max = NAN};
	uint64_t seq[12];
	char *text = NULL, *line;
	size_t size = 0;
	json_t *head;
	FILE *f;
	int rc, lines = 0;

	(void)state;
	store_close(make_store(types, 12, seq));
	/* rows 5 and 6 (seq 6, 7): sealed in the range 5..8 (rows 4..7), whose
	 * seal follows row 7 */
	o.from_ms = T0_MS + 5000;
	o.to_ms = T0_MS + 6000;
	f = open_memstream(&text, &size);
	rc = export_run(&o, f);
	fclose(f);
	assert_int_equal(rc, 0);
	head = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(head);
	assert_int_equal(json_integer_value(json_object_get(head, "from_seq")), 5);
	assert_int_equal(json_integer_value(json_object_get(head, "to_seq")), 10);
	assert_int_equal(json_integer_value(json_object_get(head, "matched")), 2);
	json_decref(head);
	for (line = text; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, 1 + 6); /* the header and seq 5..10 */
	assert_non_null(strstr(text, "\"seq\":10,\"type\":\"seal\""));
	free(text);

	/* --type zone: only the range holding the zone event (row 8: seq 11) */
	o.from_ms = T0_MS;
	o.to_ms = T0_MS + 11000;
	o.type = "zone";
	text = NULL;
	f = open_memstream(&text, &size);
	assert_int_equal(export_run(&o, f), 0);
	fclose(f);
	head = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
	assert_int_equal(json_integer_value(json_object_get(head, "from_seq")), 10);
	assert_int_equal(json_integer_value(json_object_get(head, "to_seq")), 15);
	json_decref(head);
	free(text);

	/* nothing in the range: 1; no store: 2 */
	o.type = NULL;
	o.from_ms = T0_MS - 10000;
	o.to_ms = T0_MS - 5000;
	f = open_memstream(&text, &size);
	assert_int_equal(export_run(&o, f), 1);
	o.store_path = "/nonexistent/store.db";
	assert_int_equal(export_run(&o, f), 2);
	fclose(f);
	free(text);
}

static json_t *get_events(struct store *s, const char *req)
{
	struct command_hooks h = {.store = s};
	char id[COMMAND_ID_MAX + 1];
	char *text = command_run(&h, "get-events", req, strlen(req), strlen(req), id);
	json_t *a;

	assert_non_null(text);
	a = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(a);
	return a;
}

/* get-events: events of a range (sent ones too), bounded, with where to go on. */
static void test_get_events(void **state)
{
	static const char *const types[8] = {"smoke", NULL, "zone", "smoke",
					     NULL,    NULL, "gap",  "smoke"};
	json_t *a, *r;
	uint64_t seq[8];
	struct store *s;

	(void)state;
	s = make_store(types, 8, seq);
	a = get_events(s, "{\"id\":\"g-1\",\"from\":\"2026-01-01T00:00:00Z\",\"to\":1767225603}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	r = json_object_get(a, "result");
	/* rows 0..3: smoke, zone, smoke, and the seal after row 3 */
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 4);
	assert_true(json_is_false(json_object_get(r, "truncated")));
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(r, "events"), 1), "type")),
			    "zone");
	json_decref(a);

	/* type smoke, two at a time: cut, then go on after the last */
	a = get_events(s,
		       "{\"id\":\"g-2\",\"from\":1767225600,\"to\":1767225700,\"type\":\"smoke\","
		       "\"limit\":2}");
	r = json_object_get(a, "result");
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 2);
	assert_true(json_is_true(json_object_get(r, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(r, "next_after_seq")), seq[3]);
	json_decref(a);
	a = get_events(s,
		       "{\"id\":\"g-3\",\"from\":1767225600,\"to\":1767225700,\"type\":\"smoke\","
		       "\"limit\":2,\"after_seq\":4}");
	r = json_object_get(a, "result");
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
	assert_true(json_is_false(json_object_get(r, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(r, "events"), 0), "seq")),
			 seq[7]);
	json_decref(a);

	/* refusals */
	a = get_events(s, "{\"id\":\"g-4\",\"to\":1767225700}");
	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "from:"));
	json_decref(a);
	a = get_events(s, "{\"id\":\"g-5\",\"from\":0,\"to\":1,\"limit\":65}");
	assert_true(json_is_false(json_object_get(a, "ok")));
	json_decref(a);
	a = get_events(NULL, "{\"id\":\"g-6\",\"from\":0,\"to\":1}");
	assert_true(json_is_false(json_object_get(a, "ok")));
	json_decref(a);
	store_close(s);
}

/* A big answer is cut at COMMAND_EVENTS_BYTES. */
static void test_get_events_bytes(void **state)
{
	static char p[8192];
	struct store *s;
	json_t *a, *r;
	uint64_t seq;
	int n;

	(void)state;
	unlink(dbpath);
	s = store_open(dbpath, 1, 0, 0);
	assert_non_null(s);
	for (int i = 0; i < 20; i++) {
		seq = store_next_seq(s);
		n = snprintf(p, sizeof(p), "{\"seq\":%llu,\"type\":\"smoke\",\"pad\":\"%06000d\"}",
			     (unsigned long long)seq, 0);
		assert_int_equal(store_append(s, seq, STORE_EVENT, 0, T0_MS, p, (size_t)n), 0);
	}
	assert_int_equal(store_flush(s), 0);
	a = get_events(s, "{\"id\":\"b-1\",\"from\":0,\"to\":1767225700}");
	r = json_object_get(a, "result");
	assert_int_equal(json_integer_value(json_object_get(r, "count")), COMMAND_EVENTS_BYTES / n);
	assert_true(json_is_true(json_object_get(r, "truncated")));
	json_decref(a);
	store_close(s);
}

/* The drawing: the episode shaded, the threshold line, the caption. */
static void test_svg(void **state)
{
	const char *ev_text =
	    "{\"dev\":\"u-1\",\"boot\":2,\"seq\":77,\"type\":\"smoke\",\"state\":\"end\","
	    "\"rule\":\"lambda\",\"rules\":\"lambda\",\"confidence\":\"high\","
	    "\"since\":\"2026-01-01T00:00:10.000Z\",\"ended\":\"2026-01-01T00:00:20.000Z\","
	    "\"duration_s\":10,\"quantity\":\"lambda\",\"peak\":1.05,\"mean\":1.1,"
	    "\"pos\":{\"valid\":true,\"lat\":30.8705,\"lon\":120.0912,\"fix\":\"3d\"},"
	    "\"evidence\":{\"from\":\"2026-01-01T00:00:00.000Z\",\"fields\":[\"lambda\","
	    "\"engine_torque_pct\"],\"rows\":[[0,1.4,30],[10,1.05,null],[20,1.1,80],[30,1.4,"
	    "40]]}}";
	json_t *ev = json_loads(ev_text, 0, NULL);
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	(void)state;
	assert_non_null(ev);
	f = open_memstream(&text, &size);
	assert_int_equal(export_svg(ev, 1.2, "sealed & <proven>", f), 0);
	fclose(f);
	assert_non_null(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	assert_non_null(strstr(text, "id=\"threshold\""));
	/* episode 10..20 s of 30 s, 840 px wide: from x 90+280 = 370, 280 wide */
	assert_non_null(strstr(text, "id=\"episode\" x=\"370.0\" y=\"56\" width=\"280.0\""));
	assert_non_null(strstr(text, "position 30.870500, 120.091200"));
	assert_non_null(strstr(text, "seal: sealed &amp; &lt;proven&gt;"));
	/* the torque curve is broken where a value is missing */
	assert_non_null(strstr(text, "<path class=\"curve\" stroke=\"#2ca02c\" d=\"M90.0"));
	assert_non_null(strstr(text, " M650.0"));
	assert_non_null(strstr(text, "id=\"panel-opacity_k_m1\""));
	assert_non_null(strstr(text, "no data"));
	free(text);

	/* no evidence window: nothing drawn */
	json_object_del(ev, "evidence");
	text = NULL;
	f = open_memstream(&text, &size);
	assert_int_equal(export_svg(ev, 1.2, "", f), -1);
	fclose(f);
	free(text);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_time), cmocka_unit_test(test_export_span),
	    cmocka_unit_test(test_get_events), cmocka_unit_test(test_get_events_bytes),
	    cmocka_unit_test(test_svg),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
