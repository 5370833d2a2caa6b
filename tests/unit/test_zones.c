/* Unit tests of zones: a GeoJSON file (Polygon with a hole, MultiPolygon),
 * positions replayed tick by tick: enter and leave after the debounce, one
 * violation a visit only for a prohibited stage with the engine running,
 * totals, a bad file refused at reload with the old zones kept; a bad,
 * missing or huge file at start disables zones (reason in status, one
 * event) instead of stopping the gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include "tests/unit/event_sink.h"

#include "gateway/zones.h"

#define WALL0_MS INT64_C(1700000000000)

static const char geojson[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"properties\":{\"name\":\"ring5\",\"prohibited_stages\":[1,2,3]},"
    " \"geometry\":{\"type\":\"Polygon\",\"coordinates\":["
    "  [[116.0,39.0],[117.0,39.0],[117.0,40.0],[116.0,40.0],[116.0,39.0]],"
    "  [[116.4,39.4],[116.6,39.4],[116.6,39.6],[116.4,39.6],[116.4,39.4]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"name\":\"ports\",\"prohibited_stages\":[4]},"
    " \"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":["
    "  [[[120.0,30.0],[120.1,30.0],[120.1,30.1],[120.0,30.0]]],"
    "  [[[121.0,31.0],[121.1,31.0],[121.1,31.1],[121.0,31.1],[121.0,31.0]]]]}}]}";

static const char *str(const json_t *ev, const char *k)
{
	return json_string_value(json_object_get(ev, k));
}

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_zones.%d.json", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct zones *open_zones(int stage)
{
	struct config_zones c = {.debounce_ms = 3000, .violation_ms = 5000};

	snprintf(c.file, sizeof(c.file), "%s", path);
	return zones_open(&c, stage);
}

/* Seconds from..to at (lon, lat) with the engine so. */
static void run(struct zones *z, struct event_sink *r, int from, int to, double lon, double lat,
		int engine, uint64_t smoke)
{
	for (int s = from; s <= to; s++) {
		struct zones_input in = {.now_ms = s * 1000,
					 .wall_ms = WALL0_MS + s * 1000,
					 .have_pos = lon != 0,
					 .lat = lat,
					 .lon = lon,
					 .engine_running = engine,
					 .have_fuel = 1,
					 .fuel_lph = 36,
					 .smoke_starts = smoke};

		zones_tick(z, &in, event_sink_collect, r);
	}
}

/* Issue 14 item 7: a name over 63 bytes is cut between characters, and
 * its events still go out (cut inside one, the event could not be made). */
static void test_long_utf8_name(void **state)
{
	char text[512], name[80] = "";
	struct event_sink r = {0};
	struct zones *z;

	(void)state;
	for (int i = 0; i < 35; i++)
		strcat(name, "\xc3\xa9"); /* 70 bytes */
	snprintf(text, sizeof(text),
		 "{\"type\":\"Feature\",\"properties\":{\"name\":\"%s\"},\"geometry\":"
		 "{\"type\":\"Polygon\",\"coordinates\":[[[121.0,31.0],[121.1,31.0],[121.1,31.1],"
		 "[121.0,31.1],[121.0,31.0]]]}}",
		 name);
	write_file(text);
	z = open_zones(3);
	assert_non_null(z);
	run(z, &r, 0, 4, 121.05, 31.05, 1, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(strlen(str(r.ev[0], "zone")), 62);
	assert_memory_equal(str(r.ev[0], "zone"), name, 62);
	event_sink_clear(&r);
	zones_close(z);
	unlink(path);
}

static void test_enter_violate_leave(void **state)
{
	struct event_sink r = {0};
	struct zones *z;
	json_t *st, *ring;

	(void)state;
	write_file(geojson);
	z = open_zones(3);
	assert_non_null(z);
	assert_int_equal(zones_count(z), 2);
	run(z, &r, 0, 9, 115.5, 39.5, 1, 0); /* outside */
	assert_int_equal(r.n, 0);
	run(z, &r, 10, 12, 116.2, 39.5, 1, 0); /* inside 2 s: not yet */
	assert_int_equal(r.n, 0);
	run(z, &r, 13, 13, 116.2, 39.5, 1, 0); /* 3 s: enter */
	assert_int_equal(r.n, 1);
	assert_string_equal(str(r.ev[0], "type"), "zone");
	assert_string_equal(str(r.ev[0], "state"), "enter");
	assert_string_equal(str(r.ev[0], "zone"), "ring5");
	assert_true(json_is_true(json_object_get(r.ev[0], "prohibited")));
	run(z, &r, 14, 17, 116.2, 39.5, 1, 2); /* running since 13: 5 s at 18 */
	assert_int_equal(r.n, 1);
	run(z, &r, 18, 60, 116.2, 39.5, 1, 2); /* one violation, however long */
	assert_int_equal(r.n, 2);
	assert_string_equal(str(r.ev[1], "type"), "zone-violation");
	assert_string_equal(str(r.ev[1], "since"), "2023-11-14T22:13:33.000Z");
	run(z, &r, 61, 70, 116.5, 39.5, 1, 2); /* into the hole: leave after 3 s */
	assert_int_equal(r.n, 3);
	assert_string_equal(str(r.ev[2], "state"), "leave");
	st = zones_status(z);
	ring = json_object_get(st, "ring5");
	/* running inside from the enter tick (13) to the leave tick (64) */
	assert_float_equal(json_real_value(json_object_get(ring, "engine_h")), 51 / 3600.0, 1e-9);
	assert_float_equal(json_real_value(json_object_get(ring, "fuel_l")), 51 * 36 / 3600.0,
			   1e-9);
	assert_int_equal(json_integer_value(json_object_get(ring, "smoke_events")), 2);
	assert_int_equal(json_integer_value(json_object_get(ring, "violations")), 1);
	json_decref(st);
	event_sink_clear(&r);
	zones_close(z);
	unlink(path);
}

/* Stage 4 is allowed in ring5: enter and leave only; in `ports` (a
 * MultiPolygon, second part) stage 4 violates; the engine off does not. */
static void test_stage_and_engine(void **state)
{
	struct event_sink r = {0};
	struct zones *z;

	(void)state;
	write_file(geojson);
	z = open_zones(4);
	run(z, &r, 0, 30, 116.2, 39.5, 1, 0);
	assert_int_equal(r.n, 1); /* enter, no violation */
	run(z, &r, 31, 60, 121.05, 31.05, 0, 0);
	assert_int_equal(r.n, 3); /* leave ring5, enter ports */
	assert_string_equal(str(r.ev[2], "zone"), "ports");
	run(z, &r, 61, 66, 121.05, 31.05, 1, 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(str(r.ev[3], "type"), "zone-violation");
	/* engine stops and starts again inside: a new violation */
	run(z, &r, 67, 70, 121.05, 31.05, 0, 0);
	run(z, &r, 71, 76, 121.05, 31.05, 1, 0);
	assert_int_equal(r.n, 5);
	/* no fix: the state stays, no leave */
	run(z, &r, 77, 120, 0, 0, 1, 0);
	assert_int_equal(r.n, 5);
	event_sink_clear(&r);
	zones_close(z);
	unlink(path);
}

static void test_bad_files(void **state)
{
	static const char *const bad[] = {
	    "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{},"
	    "\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1,2],[3,4]]}}]}",
	    "{\"type\":\"Feature\",\"properties\":{\"prohibited_stages\":[9]},\"geometry\":"
	    "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}}",
	    "{\"type\":\"Feature\",\"properties\":{},\"geometry\":"
	    "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,91],[0,0]]]}}",
	    "{\"type\":\"Feature\",\"properties\":{},\"geometry\":"
	    "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0]]]}}",
	    "not json",
	    "{\"type\":\"Point\"}",
	};
	struct config_zones c = {.debounce_ms = 0, .violation_ms = 0};
	struct zones *z;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i]);
		z = open_zones(4);
		assert_non_null(z); /* the gateway runs on, zones disabled */
		assert_int_equal(zones_count(z), 0);
		assert_non_null(zones_disabled(z));
		zones_close(z);
	}
	/* a reload with a bad file keeps the zones in force */
	write_file(geojson);
	z = open_zones(4);
	assert_non_null(z);
	write_file(bad[0]);
	snprintf(c.file, sizeof(c.file), "%s", path);
	assert_int_equal(zones_reload(&z, &c, 4), -1);
	assert_int_equal(zones_count(z), 2);
	zones_close(z);
	unlink(path);
	/* no file: no zones, not an error */
	c.file[0] = '\0';
	z = zones_open(&c, 4);
	assert_non_null(z);
	assert_int_equal(zones_count(z), 0);
	zones_close(z);
}

/* Start with a file that cannot be used: zones disabled, said once. */
static void test_disabled_at_start(void **state)
{
	struct config_zones c = {.debounce_ms = 0, .violation_ms = 0};
	char err[ZONES_ERR_MAX];
	struct event_sink r = {.n = 0};
	struct zones *z;
	json_t *st;
	FILE *f;

	(void)state;
	snprintf(c.file, sizeof(c.file), "/nonexistent/zones.geojson");
	assert_int_equal(zones_check(&c, err), -1);
	assert_non_null(strstr(err, "/nonexistent/zones.geojson: No such file"));
	z = zones_open(&c, 4);
	assert_non_null(z);
	assert_string_equal(zones_disabled(z), err);
	st = zones_status(z);
	assert_string_equal(json_string_value(json_object_get(st, "zones-disabled")), err);
	json_decref(st);
	run(z, &r, 0, 3, 116.5, 39.2, 1, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(str(r.ev[0], "type"), "zones-disabled");
	assert_string_equal(str(r.ev[0], "reason"), err);
	event_sink_clear(&r);
	/* A good file at reload enables them. */
	write_file(geojson);
	snprintf(c.file, sizeof(c.file), "%s", path);
	assert_int_equal(zones_check(&c, err), 0);
	assert_int_equal(zones_reload(&z, &c, 4), 0);
	assert_null(zones_disabled(z));
	assert_int_equal(zones_count(z), 2);
	zones_close(z);

	/* Larger than the cap: refused before it is read (no 200 MB parse). */
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, ZONES_MAX_FILE_BYTES, SEEK_SET), 0);
	fputc(' ', f);
	fclose(f);
	assert_int_equal(zones_check(&c, err), -1);
	assert_non_null(strstr(err, "too large"));
	z = zones_open(&c, 4);
	assert_non_null(z);
	assert_non_null(zones_disabled(z));
	zones_close(z);
	/* A directory is not a zones file either. */
	snprintf(c.file, sizeof(c.file), "/tmp");
	assert_int_equal(zones_check(&c, err), -1);
	unlink(path);
}

/* A name longer than the 63 bytes kept, cut inside a character by bytes:
 * kept whole characters, so the events with it still build. */
static void test_long_chinese_name(void **state)
{
	struct event_sink r = {.n = 0};
	struct zones *z;
	json_t *st;

	(void)state;
	write_file("{\"type\":\"Feature\",\"properties\":{\"name\":"
		   "\"A湖州市中心城区高排放非道路移动机械禁止使用区域第一片区\","
		   "\"prohibited_stages\":[4]},\"geometry\":{\"type\":\"Polygon\","
		   "\"coordinates\":[[[116.0,39.0],[117.0,39.0],[117.0,40.0],[116.0,39.0]]]}}");
	z = open_zones(4);
	assert_int_equal(zones_count(z), 1);
	run(z, &r, 0, 10, 116.8, 39.1, 1, 0);
	assert_true(r.n >= 1);
	for (int i = 0; i < r.n; i++)
		assert_non_null(r.ev[i]);
	assert_string_equal(str(r.ev[0], "zone"), "A湖州市中心城区高排放非道路移动机械禁止使");
	st = zones_status(z);
	assert_int_equal(json_object_size(st), 1);
	json_decref(st);
	event_sink_clear(&r);
	zones_close(z);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_enter_violate_leave), cmocka_unit_test(test_long_utf8_name),
	    cmocka_unit_test(test_stage_and_engine),	cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_disabled_at_start),	cmocka_unit_test(test_long_chinese_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
