/* Unit tests of watch: engine start/stop debounce, the ECU going silent,
 * a DPF reading near zero under load, a frozen NOx reading, a lost GPS fix,
 * and the start-up events (restart clean or not, configuration changed),
 * each raised once per cause. */
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

#include "gateway/watch.h"

static const char *str(const json_t *ev, const char *k)
{
	return json_string_value(json_object_get(ev, k));
}

/* Events of this type and state so far. */
static int count(const struct event_sink *r, const char *type, const char *st)
{
	int n = 0;

	for (int i = 0; i < r->n; i++)
		n += strcmp(str(r->ev[i], "type"), type) == 0 &&
		     (!st || (str(r->ev[i], "state") && strcmp(str(r->ev[i], "state"), st) == 0));
	return n;
}

struct fx {
	struct config cfg;
	struct watch w;
	struct table t;
	struct event_sink r;
	char dir[64];
};

static struct fx *fx_new(void)
{
	static struct fx f;

	event_sink_clear(&f.r);
	memset(&f, 0, sizeof(f));
	config_defaults(&f.cfg);
	snprintf(f.dir, sizeof(f.dir), "/tmp/test_watch.XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.cfg.state_dir, sizeof(f.cfg.state_dir), "%s", f.dir);
	f.cfg.watch.has_dpf = 1;
	f.cfg.watch.dpf_ms = 10000;
	f.cfg.watch.nox_frozen_ms = 20000;
	f.cfg.watch.gps_lost_ms = 10000;
	table_init(&f.t, 5000);
	watch_init(&f.w, &f.cfg);
	return &f;
}

static void fx_done(struct fx *f)
{
	char cmd[128];

	event_sink_clear(&f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* Seconds from..to: the engine at rpm (0: no speed signal), frames from CAN
 * unless `silent`, a GPS fix when fix. */
static void run(struct fx *f, int from, int to, double rpm, int silent, int fix)
{
	for (int s = from; s <= to; s++) {
		int64_t ms = s * 1000;
		struct watch_input in = {
		    .now_ms = ms, .n_can = 1, .gnss_enabled = 1, .have_fix = fix};

		if (!silent && rpm > 0)
			table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, rpm, ms, 1);
		in.can_age_ms = table_source_age(&f->t, 1, ms);
		watch_tick(&f->w, &f->t, &in, event_sink_collect, &f->r);
	}
}

static void test_engine_debounce(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	run(f, 0, 0, 0, 0, 1);
	assert_int_equal(count(&f->r, "restart", NULL), 1);
	assert_true(json_is_true(json_object_get(f->r.ev[0], "clean")));
	run(f, 1, 2, 800, 0, 1); /* 2 s: a blip, not a start */
	run(f, 3, 3, 100, 0, 1);
	assert_int_equal(count(&f->r, "engine", "start"), 0);
	run(f, 4, 7, 800, 0, 1); /* 4..7: 3 s held: start at 7 */
	assert_int_equal(count(&f->r, "engine", "start"), 1);
	assert_true(watch_engine_running(&f->w));
	run(f, 8, 100, 1500, 0, 1);
	run(f, 101, 103, 200, 0, 1); /* 2 s below 300 rpm: not yet */
	assert_int_equal(count(&f->r, "engine", "stop"), 0);
	run(f, 104, 104, 200, 0, 1); /* 3 s: stop, dated from 101 */
	assert_int_equal(count(&f->r, "engine", "stop"), 1);
	assert_string_equal(str(f->r.ev[f->r.n - 1], "reason"), "speed");
	assert_float_equal(json_real_value(json_object_get(f->r.ev[f->r.n - 1], "run_s")), 97, 0);
	assert_int_equal(count(&f->r, "ecu-silent", NULL), 0);
	fx_done(f);
}

static void test_ecu_silent(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	run(f, 0, 20, 1500, 0, 1);
	run(f, 21, 35, 1500, 1, 1); /* last frame at 20: 15 s at 35 */
	assert_int_equal(count(&f->r, "ecu-silent", "start"), 1);
	assert_true(json_is_true(json_object_get(f->r.ev[f->r.n - 2], "engine_was_running")) ||
		    count(&f->r, "engine", "stop") == 1);
	run(f, 36, 80, 1500, 1, 1); /* still silent: nothing more */
	assert_int_equal(count(&f->r, "ecu-silent", "start"), 1);
	run(f, 81, 82, 1500, 0, 1);
	assert_int_equal(count(&f->r, "ecu-silent", "end"), 1);
	fx_done(f);
}

static void test_dpf_low(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	run(f, 0, 10, 1500, 0, 1);
	for (int s = 11; s <= 100; s++) {
		/* loaded every other 10 s: only loaded seconds count */
		double load = (s / 10) % 2 ? 80 : 20;

		table_set(&f->t, SIG_ENGINE_LOAD_PCT, 0, load, s * 1000, 1);
		table_set(&f->t, SIG_DPF_DP_KPA, 0, 0.1, s * 1000, 1);
		run(f, s, s, 1500, 0, 1);
		if (s == 29)
			assert_int_equal(count(&f->r, "dpf-low", "start"), 0);
	}
	assert_int_equal(count(&f->r, "dpf-low", "start"), 1);
	for (int s = 101; s <= 130; s++) {
		table_set(&f->t, SIG_ENGINE_LOAD_PCT, 0, 80, s * 1000, 1);
		table_set(&f->t, SIG_DPF_DP_KPA, 0, 8, s * 1000, 1);
		run(f, s, s, 1500, 0, 1);
	}
	assert_int_equal(count(&f->r, "dpf-low", "end"), 1);
	fx_done(f);
}

static void test_nox_frozen_and_gps(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	run(f, 0, 10, 1500, 0, 1);
	for (int s = 11; s <= 60; s++) {
		table_set(&f->t, SIG_NOX_UP_PPM, 0, s < 30 ? 300 + s : 412.5, s * 1000, 0x51);
		run(f, s, s, 1500, 0, s < 40);
	}
	/* unchanged from 30: 20 s at 50 */
	assert_int_equal(count(&f->r, "nox-frozen", "start"), 1);
	assert_int_equal(count(&f->r, "gps-lost", "start"), 1);
	table_set(&f->t, SIG_NOX_UP_PPM, 0, 400, 61000, 0x51);
	run(f, 61, 61, 1500, 0, 1);
	assert_int_equal(count(&f->r, "nox-frozen", "end"), 1);
	assert_int_equal(count(&f->r, "gps-lost", "end"), 1);
	fx_done(f);
}

/* The marker left by a run that did not stop cleanly; a changed file. */
static void test_restart_and_config(void **state)
{
	struct fx *f = fx_new();
	char conf[128];
	FILE *fp;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/emgw.conf", f->dir);
	fp = fopen(conf, "w");
	fputs("[device]\nid = a\n", fp);
	fclose(fp);
	snprintf(f->cfg.file, sizeof(f->cfg.file), "%s", conf);
	watch_init(&f->w, &f->cfg); /* the first init's marker is still there */
	run(f, 0, 0, 0, 0, 1);
	assert_false(json_is_true(json_object_get(f->r.ev[0], "clean")));
	assert_int_equal(count(&f->r, "config-changed", NULL), 0); /* first hash */
	watch_stop(&f->w);
	fp = fopen(conf, "w");
	fputs("[device]\nid = b\n", fp);
	fclose(fp);
	event_sink_clear(&f->r);
	watch_init(&f->w, &f->cfg);
	run(f, 1, 1, 0, 0, 1);
	assert_true(json_is_true(json_object_get(f->r.ev[0], "clean")));
	assert_int_equal(count(&f->r, "config-changed", NULL), 1);
	run(f, 2, 5, 0, 0, 1);
	assert_int_equal(count(&f->r, "config-changed", NULL), 1);
	watch_reload(&f->w, &f->cfg); /* same file: nothing */
	run(f, 6, 6, 0, 0, 1);
	assert_int_equal(count(&f->r, "config-changed", NULL), 1);
	fx_done(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_debounce),
	    cmocka_unit_test(test_ecu_silent),
	    cmocka_unit_test(test_dpf_low),
	    cmocka_unit_test(test_nox_frozen_and_gps),
	    cmocka_unit_test(test_restart_and_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
