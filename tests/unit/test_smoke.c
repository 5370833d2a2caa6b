/* Unit tests of smoke: the lambda estimate, the entry and exit thresholds,
 * the minimum duration, the hysteresis and the numbers in each event, all
 * driven through a signal table at chosen times, one tick a second. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include "tests/unit/event_sink.h"

#include "gateway/report.h"
#include "gateway/smoke.h"

#define WALL0_MS INT64_C(1700000000000) /* 2023-11-14T22:13:20.000Z */
#define FUEL_LPH 20.0
#define EPS	 1e-9

/* Diesel, as in the example configuration but with round thresholds. */
static const struct config_smoke cfg_default = {
    .enabled = 1,
    .lambda_max = 1.20,
    .lambda_exit = 1.30,
    .min_load_pct = 60,
    .min_duration_ms = 5000,
    .fuel_density = 0.835,
    .afr_stoich = 14.5,
    .min_fuel_lph = 2.0,
    .lambda_enabled = 1,
    .load_hyst_pct = 10,
};

/* Events in the order raised, taken one a step as smoke_next gave them. */
static struct {
	json_t *ev[64];
	int head, n;
} queue;

static void collect(void *ctx, struct payload_event *ev)
{
	(void)ctx;
	assert_true(queue.n < 64);
	queue.ev[(queue.head + queue.n++) % 64] = ev_json(ev);
}

static json_t *next_event(void)
{
	json_t *ev;

	if (queue.n == 0)
		return NULL;
	ev = queue.ev[queue.head];
	queue.head = (queue.head + 1) % 64;
	queue.n--;
	return ev;
}

static json_t *tick(struct smoke *s, struct table *t, int64_t ms)
{
	smoke_tick(s, t, ms, WALL0_MS + ms, collect, NULL);
	return next_event();
}

struct fx {
	struct table t;
	struct smoke s;
};

static struct fx *fx_new(const struct config_smoke *c)
{
	static struct fx f;

	while (queue.n)
		json_decref(next_event());
	table_init(&f.t, 5000);
	smoke_init(&f.s, c);
	return &f;
}

/* The intake air that gives this lambda at FUEL_LPH. */
static double air_for(double lambda)
{
	return lambda * FUEL_LPH * cfg_default.fuel_density * cfg_default.afr_stoich;
}

/* Second sec: the engine reports air, fuel and load, then the detector ticks. */
static json_t *step_raw(struct fx *f, int sec, double air, double fuel, double load)
{
	int64_t ms = (int64_t)sec * 1000;

	if (air >= 0)
		table_set(&f->t, SIG_INTAKE_AIR_KGPH, 0, air, ms, 1);
	if (fuel >= 0)
		table_set(&f->t, SIG_FUEL_RATE_LPH, 0, fuel, ms, 1);
	if (load >= 0)
		table_set(&f->t, SIG_ENGINE_LOAD_PCT, 0, load, ms, 1);
	return tick(&f->s, &f->t, ms);
}

static json_t *step(struct fx *f, int sec, double lambda, double load)
{
	return step_raw(f, sec, air_for(lambda), FUEL_LPH, load);
}

/* Seconds from..to (inclusive) at this lambda and load: no event. */
static void steps_quiet(struct fx *f, int from, int to, double lambda, double load)
{
	for (int sec = from; sec <= to; sec++) {
		json_t *ev = step(f, sec, lambda, load);

		if (ev)
			fail_msg("unexpected event at %d s: %s", sec,
				 json_string_value(json_object_get(ev, "state")));
	}
}

static double num(const json_t *ev, const char *key)
{
	const json_t *v = json_object_get(ev, key);

	if (!json_is_number(v))
		fail_msg("event has no number \"%s\"", key);
	return json_number_value(v);
}

/* Checks an event's fields and frees it. */
static void expect_event(json_t *ev, const char *state, const char *since, double duration_s,
			 double lambda_min, double lambda_mean, double load_mean)
{
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "type")), "smoke");
	assert_string_equal(json_string_value(json_object_get(ev, "rule")), "lambda");
	assert_string_equal(json_string_value(json_object_get(ev, "state")), state);
	assert_string_equal(json_string_value(json_object_get(ev, "since")), since);
	assert_float_equal(num(ev, "duration_s"), duration_s, EPS);
	assert_float_equal(num(ev, "lambda_min"), lambda_min, EPS);
	assert_float_equal(num(ev, "lambda_mean"), lambda_mean, EPS);
	assert_float_equal(num(ev, "load_mean_pct"), load_mean, EPS);
	json_decref(ev);
}

/* Some event came: its fields are checked elsewhere. */
static void expect_any_event(json_t *ev)
{
	assert_non_null(ev);
	json_decref(ev);
}

static void test_estimate(void **state)
{
	double lambda = -1;

	(void)state;
	/* 300 / (20 * 0.835) / 14.5 = 300 / 16.7 / 14.5 = 300 / 242.15 */
	assert_int_equal(smoke_lambda_estimate(&cfg_default, 300, 20, &lambda), 0);
	assert_float_equal(lambda, 1.238901507330167, EPS);
	assert_float_equal(lambda, 300.0 / 242.15, EPS);
	/* At exactly min_fuel_lph there is an estimate: 29.058 / 24.215 = 1.2. */
	assert_int_equal(smoke_lambda_estimate(&cfg_default, 29.058, 2.0, &lambda), 0);
	assert_float_equal(lambda, 1.2, EPS);
}

static void test_estimate_low_fuel(void **state)
{
	double lambda = 42;

	(void)state;
	assert_int_equal(smoke_lambda_estimate(&cfg_default, 300, 1.99, &lambda), -1);
	assert_int_equal(smoke_lambda_estimate(&cfg_default, 300, 0, &lambda), -1);
	assert_float_equal(lambda, 42, 0); /* untouched */
	assert_int_equal(smoke_lambda_estimate(&cfg_default, -1, 20, &lambda), -1);
}

/* Started on zero memory (its rings left untouched), the detector is the
 * same, byte for byte, as one started over anything. */
static void test_init_zeroed(void **state)
{
	struct smoke *z = calloc(1, sizeof(*z)), *d = malloc(sizeof(*d));

	(void)state;
	assert_non_null(z);
	assert_non_null(d);
	memset(d, 0xa5, sizeof(*d));
	smoke_init(d, &cfg_default);
	smoke_init_zeroed(z, &cfg_default);
	assert_memory_equal(z, d, sizeof(*z));
	free(z);
	free(d);
}

/* Below min_fuel_lph the table gets no lambda and nothing is raised. */
static void test_low_fuel_no_lambda(void **state)
{
	struct fx *f = fx_new(&cfg_default);
	double v;

	(void)state;
	for (int sec = 0; sec < 30; sec++)
		assert_null(step_raw(f, sec, 100, 1.0, 90));
	assert_int_equal(table_get(&f->t, SIG_LAMBDA, 0, 29000, &v), 0);
}

/* The tick writes the estimate into the table. */
static void test_lambda_in_table(void **state)
{
	struct fx *f = fx_new(&cfg_default);
	double v = 0;

	(void)state;
	assert_null(step_raw(f, 0, 300, 20, 30));
	assert_int_equal(table_get(&f->t, SIG_LAMBDA, 0, 0, &v), 1);
	assert_float_equal(v, 300.0 / 242.15, EPS);
}

/* Lambda exactly at lambda_max is not smoke; just below it is. */
static void test_boundary_lambda(void **state)
{
	struct config_smoke c = cfg_default;
	double lambda;
	struct fx *f;

	(void)state;
	assert_int_equal(smoke_lambda_estimate(&c, 250, 20, &lambda), 0);
	c.lambda_max = lambda; /* bit for bit what the detector computes */
	c.min_duration_ms = 0;
	f = fx_new(&c);
	for (int sec = 0; sec < 20; sec++)
		assert_null(step_raw(f, sec, 250, 20, 90));

	c.lambda_max = nextafter(lambda, 2.0);
	f = fx_new(&c);
	expect_event(step_raw(f, 0, 250, 20, 90), "start", "2023-11-14T22:13:20.000Z", 0, lambda,
		     lambda, 90);
}

/* Load exactly at min_load_pct is smoke; just below it is not. */
static void test_boundary_load(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;

	(void)state;
	c.min_duration_ms = 0;
	f = fx_new(&c);
	steps_quiet(f, 0, 10, 1.0, 59.9);
	expect_event(step(f, 11, 1.0, 60.0), "start", "2023-11-14T22:13:31.000Z", 0, 1.0, 1.0,
		     60.0);
}

/* No event before min_duration; `start` at exactly min_duration, counting
 * from the first tick of an unbroken run. */
static void test_min_duration(void **state)
{
	struct fx *f = fx_new(&cfg_default);

	(void)state;
	steps_quiet(f, 0, 9, 1.5, 80);	  /* clean */
	steps_quiet(f, 10, 14, 1.0, 80);  /* 4 s of smoke ... */
	steps_quiet(f, 15, 15, 1.25, 80); /* ... broken: the count restarts */
	steps_quiet(f, 16, 20, 1.0, 80);  /* 16..20: 4 s since 16 */
	/* 16..21: five seconds since the first tick, six samples. */
	expect_event(step(f, 21, 1.0, 80), "start", "2023-11-14T22:13:36.000Z", 5.0, 1.0, 1.0, 80);
}

/* A reload: the same rules keep the open episode; changed rules end it
 * first (its `end` event) and the detector starts again under them. */
static void test_reconfigure(void **state)
{
	static struct config cfg;
	struct fx *f = fx_new(&cfg_default);
	json_t *ev;

	(void)state;
	cfg.smoke = cfg_default;
	cfg.stage = 4;
	cfg.rated_power_kw = 75;
	steps_quiet(f, 0, 9, 1.5, 80);
	steps_quiet(f, 10, 14, 1.0, 80);
	ev = step(f, 15, 1.0, 80);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(smoke_active(&f->s), 1);
	assert_int_equal(smoke_episodes(&f->s), 1);
	smoke_reconfigure(&f->s, &cfg, 16000, collect, NULL);
	assert_null(next_event());
	assert_int_equal(smoke_active(&f->s), 1);
	cfg.smoke.lambda_max = 1.10;
	smoke_reconfigure(&f->s, &cfg, 16000, collect, NULL);
	ev = next_event();
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "state")), "end");
	json_decref(ev);
	assert_int_equal(smoke_active(&f->s), 0);
	assert_int_equal(smoke_episodes(&f->s), 0);
}

/* Field values worked by hand over a whole episode. */
static void test_episode_fields(void **state)
{
	static const double lam[] = {1.10, 1.00, 1.15, 1.05, 1.10, 1.12};
	static const double load[] = {70, 80, 90, 100, 80, 60};
	struct fx *f = fx_new(&cfg_default);

	(void)state;
	steps_quiet(f, 0, 9, 1.6, 30);
	for (int i = 0; i < 5; i++)
		assert_null(step(f, 10 + i, lam[i], load[i]));
	/* t = 15 s: since 10 s, 6 samples.  lambda sum 6.52, load sum 480. */
	expect_event(step(f, 15, lam[5], load[5]), "start", "2023-11-14T22:13:30.000Z", 5.0, 1.00,
		     6.52 / 6, 80.0);
	/* 1.25 lies between lambda_max and lambda_exit: the episode goes on.
	 * Load 55 is 5 points below min_load_pct: it goes on too. */
	assert_null(step(f, 16, 1.25, 80));
	assert_null(step(f, 17, 0.95, 55));
	/* Back above lambda_exit: `end`, with the samples 10..17 (the ending
	 * tick is not part of the episode).  lambda sum 6.52 + 1.25 + 0.95 =
	 * 8.72 over 8; load sum 480 + 80 + 55 = 615 over 8. */
	expect_event(step(f, 18, 1.31, 80), "end", "2023-11-14T22:13:30.000Z", 8.0, 0.95, 8.72 / 8,
		     615.0 / 8);
	/* Over: a new dip needs a full min_duration again. */
	steps_quiet(f, 19, 23, 1.0, 80);
	expect_any_event(step(f, 24, 1.0, 80));
}

/* Load 15 points below min_load_pct ends the episode; 10 below does not. */
static void test_hysteresis_load(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;

	(void)state;
	c.min_duration_ms = 0;
	f = fx_new(&c);
	expect_event(step(f, 0, 1.0, 70), "start", "2023-11-14T22:13:20.000Z", 0, 1.0, 1.0, 70);
	steps_quiet(f, 1, 3, 1.0, 55);
	steps_quiet(f, 4, 4, 1.0, 50); /* exactly min_load_pct - 10 */
	expect_event(step(f, 5, 1.0, 45), "end", "2023-11-14T22:13:20.000Z", 5.0, 1.0, 1.0,
		     (70 + 55 * 3 + 50) / 5.0);
}

/* An `update` every 30 s while the episode lasts. */
static void test_update(void **state)
{
	struct fx *f = fx_new(&cfg_default);

	(void)state;
	steps_quiet(f, 0, 4, 1.0, 80);
	expect_event(step(f, 5, 1.0, 80), "start", "2023-11-14T22:13:20.000Z", 5.0, 1.0, 1.0, 80);
	steps_quiet(f, 6, 34, 1.0, 80);
	/* 30 s after the start; samples 0..35: 36 of them. */
	expect_event(step(f, 35, 0.9, 80), "update", "2023-11-14T22:13:20.000Z", 35.0, 0.9,
		     (35 * 1.0 + 0.9) / 36, 80);
	steps_quiet(f, 36, 64, 1.0, 80);
	expect_any_event(step(f, 65, 1.0, 80)); /* and again */
}

/* Disabled: nothing is raised, but lambda still reaches the table. */
static void test_disabled(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;
	double v = 0;

	(void)state;
	c.enabled = 0;
	f = fx_new(&c);
	steps_quiet(f, 0, 120, 1.0, 90);
	assert_int_equal(table_get(&f->t, SIG_LAMBDA, 0, 120000, &v), 1);
	assert_float_equal(v, 1.0, EPS);
}

/* No fuel rate on the bus: no lambda, no event. */
static void test_no_fuel_signal(void **state)
{
	struct fx *f = fx_new(&cfg_default);
	double v;

	(void)state;
	for (int sec = 0; sec < 60; sec++)
		assert_null(step_raw(f, sec, 100, -1, 90));
	assert_int_equal(table_get(&f->t, SIG_LAMBDA, 0, 59000, &v), 0);
}

/* A stale fuel rate ends an episode: the estimate is gone. */
static void test_fuel_goes_stale(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;

	(void)state;
	c.min_duration_ms = 0;
	f = fx_new(&c);
	expect_any_event(step(f, 0, 1.0, 80));
	for (int sec = 1; sec <= 5; sec++) /* fuel last written at 0: fresh until 5 s */
		assert_null(step_raw(f, sec, air_for(1.0), -1, 80));
	expect_event(step_raw(f, 6, air_for(1.0), -1, 80), "end", "2023-11-14T22:13:20.000Z", 6.0,
		     1.0, 1.0, 80);
}

/* Without SPN 92 the actual torque stands in for the load. */
static void test_torque_as_load(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;

	(void)state;
	c.min_duration_ms = 0;
	f = fx_new(&c);
	table_set(&f->t, SIG_ENGINE_TORQUE_PCT, 0, 75, 0, 1);
	expect_event(step_raw(f, 0, air_for(1.0), FUEL_LPH, -1), "start",
		     "2023-11-14T22:13:20.000Z", 0, 1.0, 1.0, 75);
}

/* ---- issue 8: the opacity and transient rules, exemptions, evidence ---- */

static const struct config_smoke cfg_rules = {
    .enabled = 1,
    .lambda_max = 1.20,
    .lambda_exit = 1.30,
    .min_load_pct = 60,
    .min_duration_ms = 5000,
    .fuel_density = 0.835,
    .afr_stoich = 14.5,
    .min_fuel_lph = 2.0,
    .load_hyst_pct = 10,
    .warmup_c = 40,
    .crank_rpm = 400,
    .regen_exempt = 1,
    .opacity_path_m = 0.430,
    .opacity_exit_ratio = 0.8,
    .opacity_min_duration_ms = 5000,
    .gb36886 = {{3.00, 2.00, 1.61}, {2.00, 1.00, 0.80}, {0.50, 0.50, 0.50}},
    .transient_min_load_pct = 60,
    .transient_min_duration_ms = 5000,
    .transient_boost_full_kpa = 150,
    .transient_boost_frac = 0.5,
    .transient_min_rpm = 1200,
    .transient_lag_ms = 2000,
    .transient_repeat = 3,
    .transient_window_ms = 60000,
    .transient_exit_ms = 10000,
};

/* Opacity N % for a k at the normalised path. */
static double pct_for(double k)
{
	return 100.0 * (1.0 - exp(-k * 0.430));
}

static json_t *tick_opacity(struct fx *f, int sec, double k, int as_pct)
{
	int64_t ms = (int64_t)sec * 1000;

	if (as_pct)
		table_set(&f->t, SIG_OPACITY_PCT, 0, pct_for(k), ms, 1);
	else
		table_set(&f->t, SIG_OPACITY_K_M1, 0, k, ms, 1);
	return tick(&f->s, &f->t, ms);
}

static const char *rule_of(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "rule"));
}

static const char *type_of(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "type"));
}

static const char *state_of(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "state"));
}

/* k from N %: above the stage 4 limit (0.50) 5 s starts; the exit ratio
 * keeps it open down to 0.40; the limit itself is not smoke. */
static void test_opacity_rule(void **state)
{
	struct config_smoke c = cfg_rules;
	struct fx *f;
	json_t *ev;

	(void)state;
	c.opacity_enabled = 1;
	f = fx_new(&c);
	smoke_set_machine(&f->s, 4, 75);
	for (int sec = 0; sec < 10; sec++)
		assert_null(tick_opacity(f, sec, 0.50, 1)); /* at the limit (within rounding) */
	for (int sec = 10; sec < 15; sec++)
		assert_null(tick_opacity(f, sec, 0.60, 1));
	ev = tick_opacity(f, 15, 0.70, 1);
	assert_non_null(ev);
	assert_string_equal(rule_of(ev), "opacity");
	assert_string_equal(state_of(ev), "start");
	assert_float_equal(num(ev, "limit_k_m1"), 0.50, 0);
	assert_float_equal(num(ev, "k_max_m1"), 0.70, 1e-9);
	assert_float_equal(num(ev, "mean"), (5 * 0.6 + 0.7) / 6, 1e-9);
	json_decref(ev);
	assert_null(tick_opacity(f, 16, 0.41, 0)); /* in the hysteresis band */
	ev = tick_opacity(f, 17, 0.39, 0);
	assert_non_null(ev);
	assert_string_equal(state_of(ev), "end");
	assert_float_equal(num(ev, "duration_s"), 7.0, EPS);
	json_decref(ev);
}

/* Stage II machine under 19 kW: class I, limit 3.00; configured limit wins. */
static void test_opacity_class(void **state)
{
	struct config_smoke c = cfg_rules;
	struct fx *f;

	(void)state;
	c.opacity_enabled = 1;
	c.opacity_min_duration_ms = 0;
	f = fx_new(&c);
	assert_int_equal(smoke_set_machine(&f->s, 2, 15), 0);
	for (int sec = 0; sec < 10; sec++)
		assert_null(tick_opacity(f, sec, 2.9, 0));
	expect_any_event(tick_opacity(f, 10, 3.1, 0));
	c.opacity_limit_k = 4.0;
	f = fx_new(&c);
	smoke_set_machine(&f->s, 2, 15);
	assert_null(tick_opacity(f, 0, 3.9, 0));
	assert_int_equal(smoke_set_machine(&f->s, 9, 15), -1); /* out of the table */
}

static json_t *tick_boost(struct fx *f, int sec, double load, double boost)
{
	int64_t ms = (int64_t)sec * 1000;

	table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, 1800, ms, 1);
	table_set(&f->t, SIG_ENGINE_LOAD_PCT, 0, load, ms, 1);
	table_set(&f->t, SIG_BOOST_KPA, 0, boost, ms, 1);
	return tick(&f->s, &f->t, ms);
}

/* One long lag: boost 50 kPa at 90 % load (a healthy turbo gives 135,
 * half is 67.5).  5 s starts; 10 s without the lag ends, at its first tick. */
static void test_transient_long(void **state)
{
	struct config_smoke c = cfg_rules;
	struct fx *f;
	json_t *ev;

	(void)state;
	c.transient_enabled = 1;
	f = fx_new(&c);
	for (int sec = 0; sec < 10; sec++)
		assert_null(tick_boost(f, sec, 90, 67.5)); /* exactly half: no lag */
	for (int sec = 10; sec < 15; sec++)
		assert_null(tick_boost(f, sec, 90, 50));
	ev = tick_boost(f, 15, 90, 50);
	assert_non_null(ev); /* no lambda or opacity confirms: a diagnostic */
	assert_string_equal(type_of(ev), "turbo-lag");
	assert_float_equal(num(ev, "boost_deficit_kpa"), 85, EPS); /* 135 - 50 */
	json_decref(ev);
	for (int sec = 16; sec < 26; sec++)
		assert_null(tick_boost(f, sec, 90, 140));
	ev = tick_boost(f, 26, 90, 140);
	assert_non_null(ev);
	assert_string_equal(type_of(ev), "turbo-lag");
	assert_string_equal(state_of(ev), "end");
	assert_string_equal(json_string_value(json_object_get(ev, "ended")),
			    "2023-11-14T22:13:36.000Z");
	json_decref(ev);
}

/* Three failed steps (lags of 3 s) within a minute: an episode dated from
 * the first; lags of 1 s (a healthy turbo) never are. */
static void test_transient_repeat(void **state)
{
	struct config_smoke c = cfg_rules;
	struct fx *f;
	json_t *ev = NULL;
	int sec;

	(void)state;
	c.transient_enabled = 1;
	f = fx_new(&c);
	for (sec = 0; sec < 120; sec++)
		assert_null(tick_boost(f, sec, sec % 10 == 0 ? 90 : 30, sec % 10 == 0 ? 30 : 40));
	for (sec = 120; sec < 150 && !ev; sec++)
		ev = tick_boost(f, sec, sec % 10 < 3 ? 90 : 30, sec % 10 < 3 ? 30 : 40);
	assert_non_null(ev);
	assert_int_equal(sec - 1, 142); /* the third lag counts at its 2nd second */
	assert_string_equal(json_string_value(json_object_get(ev, "since")),
			    "2023-11-14T22:15:20.000Z");
	json_decref(ev);
}

/* Cold, cranking or regenerating: no episode; an open one ends, saying why. */
static void test_exemptions(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;
	json_t *ev;

	(void)state;
	c.warmup_c = 40;
	c.cold_load_pct = 95; /* cold below 95 % load: this run's load is cold idle */
	c.crank_rpm = 400;
	c.regen_exempt = 1;
	c.min_duration_ms = 0;
	f = fx_new(&c);
	table_set(&f->t, SIG_COOLANT_C, 0, 39, 0, 1);
	assert_null(step(f, 0, 1.0, 90));
	table_set(&f->t, SIG_COOLANT_C, 0, 40, 1000, 1);
	table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, 350, 1000, 1);
	assert_null(step(f, 1, 1.0, 90));
	table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, 1500, 2000, 1);
	table_set(&f->t, SIG_DPF_REGEN, 0, 1, 2000, 1);
	assert_null(step(f, 2, 1.0, 90));
	table_set(&f->t, SIG_DPF_REGEN, 0, 0, 3000, 1);
	expect_any_event(step(f, 3, 1.0, 90));
	table_set(&f->t, SIG_DPF_REGEN, 0, 1, 4000, 1);
	ev = step(f, 4, 1.0, 90);
	assert_non_null(ev);
	assert_string_equal(state_of(ev), "end");
	assert_string_equal(json_string_value(json_object_get(ev, "end_reason")), "regeneration");
	json_decref(ev);
}

/* The `end` waits evidence_s after the true end; its window runs from
 * evidence_s before `since` to evidence_s after the end, one row a tick. */
static void test_evidence(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;
	json_t *ev, *w, *rows;

	(void)state;
	c.evidence_s = 5;
	f = fx_new(&c);
	steps_quiet(f, 0, 19, 1.6, 80);
	steps_quiet(f, 20, 24, 1.0, 80);
	expect_any_event(step(f, 25, 1.0, 80)); /* since 20 */
	steps_quiet(f, 26, 29, 1.0, 80);
	steps_quiet(f, 30, 34, 1.6, 80); /* ends at 30: end held back ... */
	ev = step(f, 35, 1.6, 80);	 /* ... until 35 */
	assert_non_null(ev);
	assert_string_equal(state_of(ev), "end");
	assert_float_equal(num(ev, "duration_s"), 10, EPS);
	assert_string_equal(json_string_value(json_object_get(ev, "ended")),
			    "2023-11-14T22:13:50.000Z");
	w = json_object_get(ev, "evidence");
	assert_string_equal(json_string_value(json_object_get(w, "from")),
			    "2023-11-14T22:13:35.000Z");
	rows = json_object_get(w, "rows");
	assert_int_equal(json_array_size(rows), 21); /* 15..35 */
	assert_int_equal(json_array_size(json_object_get(w, "fields")), SMOKE_FIELDS);
	assert_float_equal(json_real_value(json_array_get(json_array_get(rows, 20), 0)), 20, 0);
	/* lambda is field 8 (after t): 1.6 before, 1.0 during */
	assert_float_equal(json_real_value(json_array_get(json_array_get(rows, 0), 8)), 1.6, 1e-9);
	assert_float_equal(json_real_value(json_array_get(json_array_get(rows, 5), 8)), 1.0, 1e-9);
	json_decref(ev);
}

/* A long episode keeps its head and its tail; the rows fit the payload. */
static void test_evidence_bounded(void **state)
{
	struct config_smoke c = cfg_default;
	struct fx *f;
	json_t *ev, *w;
	char *text;

	(void)state;
	c.evidence_s = 30;
	c.update_ms = 3600000;
	f = fx_new(&c);
	steps_quiet(f, 0, 99, 1.6, 80);
	steps_quiet(f, 100, 104, 1.0, 80);
	expect_any_event(step(f, 105, 1.0, 80));
	steps_quiet(f, 106, 1099, 1.0, 80);
	steps_quiet(f, 1100, 1129, 1.6, 80);
	ev = step(f, 1130, 1.6, 80);
	assert_non_null(ev);
	w = json_object_get(ev, "evidence");
	assert_int_equal(json_array_size(json_object_get(w, "rows")), SMOKE_HEAD + SMOKE_RING);
	/* head 70..197, ring 875..1130 */
	assert_float_equal(num(w, "skipped_s"), 875 - 197 - 1, EPS);
	text = json_dumps(ev, JSON_COMPACT);
	assert_true(strlen(text) < 40000);
	free(text);
	json_decref(ev);
}

/* ---- issue 15: signal rate, truth-based defaults, one event an episode ---- */

/* The defaults of config.c (spec/smoke.md's truth), evidence off. */
static const struct config_smoke cfg_truth = {
    .enabled = 1,
    .lambda_max = 1.20,
    .lambda_exit = 1.30,
    .min_load_pct = 20,
    .min_duration_ms = 2000,
    .fuel_density = 0.835,
    .afr_stoich = 14.5,
    .min_fuel_lph = 2.0,
    .lambda_enabled = 1,
    .load_hyst_pct = 10,
    .warmup_c = 40,
    .cold_load_pct = 20,
    .crank_rpm = 600,
    .start_exempt_ms = 5000,
    .fuel_cut_exempt = 1,
    .regen_exempt = 1,
    .opacity_enabled = 1,
    .opacity_path_m = 0.430,
    .opacity_limit_k = 0.5,
    .opacity_exit_ratio = 0.8,
    .opacity_min_duration_ms = 2000,
    .gb36886 = {{3.00, 2.00, 1.61}, {2.00, 1.00, 0.80}, {0.50, 0.50, 0.50}},
};

/* What the engine does at one moment. */
struct engine {
	double lambda, load, rpm, coolant, k; /* k < 0: no opacity meter */
};

/* One EEC1-rate frame at ms: every input written, then the rules judge. */
static void frame(struct fx *f, int64_t ms, const struct engine *e)
{
	table_set(&f->t, SIG_INTAKE_AIR_KGPH, 0, air_for(e->lambda), ms, 1);
	table_set(&f->t, SIG_FUEL_RATE_LPH, 0, FUEL_LPH, ms, 1);
	table_set(&f->t, SIG_ENGINE_TORQUE_PCT, 0, e->load, ms, 1);
	table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, e->rpm, ms, 1);
	table_set(&f->t, SIG_COOLANT_C, 0, e->coolant, ms, 1);
	if (e->k >= 0)
		table_set(&f->t, SIG_OPACITY_K_M1, 0, e->k, ms, 1);
	smoke_frame(&f->s, &f->t, ms, WALL0_MS + ms, collect, NULL);
}

/* 20 ms frames over [from_ms, to_ms) of engine e. */
static void frames(struct fx *f, int64_t from_ms, int64_t to_ms, const struct engine *e)
{
	for (int64_t ms = from_ms; ms < to_ms; ms += 20)
		frame(f, ms, e);
}

/* Smoke starts among the events queued (all freed); the first's since. */
static int smoke_starts(char *since, size_t size)
{
	json_t *ev;
	int n = 0;

	while ((ev = next_event())) {
		if (!strcmp(type_of(ev), "smoke") && !strcmp(state_of(ev), "start")) {
			if (n++ == 0 && since)
				snprintf(since, size, "%s",
					 json_string_value(json_object_get(ev, "since")));
		}
		json_decref(ev);
	}
	return n;
}

/* A warm engine at 60 %, clean; a dip of dip_ms to lambda 1.0 at 10 s. */
static int dip_starts(int64_t dip_ms, char *since, size_t size)
{
	struct fx *f = fx_new(&cfg_truth);
	struct engine clean = {1.6, 60, 1500, 85, -1}, rich = {1.0, 60, 1500, 85, -1};

	frames(f, 0, 10000, &clean);
	frames(f, 10000, 10000 + dip_ms, &rich);
	frames(f, 10000 + dip_ms, 20000, &clean);
	return smoke_starts(since, size);
}

/* At 20 ms frames: 2.1 s of smoke is found, dated to its first frame; 1.8 s
 * is not; one frame never is. */
static void test_signal_rate_duration(void **state)
{
	char since[32] = "";

	(void)state;
	assert_int_equal(dip_starts(2100, since, sizeof(since)), 1);
	assert_string_equal(since, "2023-11-14T22:13:30.000Z");
	assert_int_equal(dip_starts(1800, NULL, 0), 0);
	assert_int_equal(dip_starts(20, NULL, 0), 0);
}

/* A cold engine under heavy load smokes for real: found; cranking and the
 * first seconds after start at the same coolant are not. */
static void test_cold_heavy_load(void **state)
{
	struct fx *f = fx_new(&cfg_truth);
	struct engine crank = {0.9, 40, 250, 20, -1}, started = {0.9, 30, 900, 20, -1},
		      idle = {1.1, 10, 800, 20, -1}, heavy = {0.8, 85, 1600, 20, -1};

	(void)state;
	frames(f, 0, 3000, &crank);
	frames(f, 3000, 7000, &started); /* rich, loaded, but within start_exempt */
	frames(f, 7000, 20000, &idle);	 /* cold idle, rich: below the load */
	assert_int_equal(smoke_starts(NULL, 0), 0);
	frames(f, 20000, 26000, &heavy);
	assert_int_equal(smoke_starts(NULL, 0), 1);
}

/* An input older than three of its periods is not there: fuel rate that
 * stopped (LFE every 100 ms) gives no lambda, though the table still holds
 * it for its 5 s. */
static void test_stale_input(void **state)
{
	struct fx *f = fx_new(&cfg_truth);
	int64_t ms;

	(void)state;
	for (ms = 0; ms < 8000; ms += 20) {
		if (ms < 1000 && ms % 100 == 0)
			table_set(&f->t, SIG_FUEL_RATE_LPH, 0, FUEL_LPH, ms, 1);
		table_set(&f->t, SIG_INTAKE_AIR_KGPH, 0, air_for(ms < 1000 ? 1.6 : 0.9), ms, 1);
		table_set(&f->t, SIG_ENGINE_TORQUE_PCT, 0, 70, ms, 1);
		table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, 1500, ms, 1);
		smoke_frame(&f->s, &f->t, ms, WALL0_MS + ms, collect, NULL);
	}
	assert_int_equal(smoke_starts(NULL, 0), 0);
}

/* Lambda and opacity on one puff: one `smoke` episode naming both, high
 * confidence; its end after both left. */
static void test_one_event_per_episode(void **state)
{
	struct fx *f = fx_new(&cfg_truth);
	struct engine clean = {1.6, 60, 1500, 85, 0.1}, puff = {1.0, 80, 1500, 85, 1.2};
	json_t *ev;
	int starts = 0, ends = 0;

	(void)state;
	frames(f, 0, 5000, &clean);
	frames(f, 5000, 10000, &puff);
	frames(f, 10000, 15000, &clean);
	while ((ev = next_event())) {
		assert_string_equal(type_of(ev), "smoke");
		if (!strcmp(state_of(ev), "start"))
			starts++;
		if (!strcmp(state_of(ev), "end")) {
			ends++;
			assert_string_equal(json_string_value(json_object_get(ev, "rules")),
					    "lambda,opacity");
			assert_string_equal(json_string_value(json_object_get(ev, "confidence")),
					    "high");
			assert_string_equal(json_string_value(json_object_get(ev, "ended")),
					    "2023-11-14T22:13:30.000Z");
		}
		json_decref(ev);
	}
	assert_int_equal(starts, 1);
	assert_int_equal(ends, 1);
}

/* Boost lagging alone is a `turbo-lag` diagnostic; when lambda then
 * confirms, the lag ends into one `smoke` episode naming both rules. */
static void test_turbo_lag_then_smoke(void **state)
{
	struct config_smoke c = cfg_truth;
	struct fx *f;
	struct engine lag = {1.4, 80, 1800, 85, -1}, rich = {1.0, 80, 1800, 85, -1};
	const char *want[][3] = {
	    {"turbo-lag", "start", NULL}, {"turbo-lag", "end", "smoke"}, {"smoke", "start", NULL}};
	json_t *ev;
	int n = 0;

	(void)state;
	c.transient_enabled = 1;
	c.transient_min_load_pct = 60;
	c.transient_min_duration_ms = 5000;
	c.transient_boost_full_kpa = 150;
	c.transient_boost_frac = 0.5;
	c.transient_min_rpm = 1200;
	c.transient_lag_ms = 2000;
	c.transient_repeat = 3;
	c.transient_window_ms = 60000;
	c.transient_exit_ms = 10000;
	f = fx_new(&c);
	table_set(&f->t, SIG_BOOST_KPA, 0, 20, 0, 1); /* far below 0.5 x 120 */
	for (int64_t ms = 0; ms < 15000; ms += 20) {
		if (ms % 500 == 0)
			table_set(&f->t, SIG_BOOST_KPA, 0, 20, ms, 1);
		frame(f, ms, ms < 8000 ? &lag : &rich);
	}
	while ((ev = next_event())) {
		assert_true(n < 3);
		assert_string_equal(type_of(ev), want[n][0]);
		assert_string_equal(state_of(ev), want[n][1]);
		if (want[n][2])
			assert_string_equal(json_string_value(json_object_get(ev, "end_reason")),
					    want[n][2]);
		if (n == 2)
			assert_string_equal(json_string_value(json_object_get(ev, "rules")),
					    "lambda,transient");
		json_decref(ev);
		n++;
	}
	assert_int_equal(n, 3);
}

/* 2.5 s of smoke with a break of break_ms (lambda 1.25) 1.2 s in. */
static int broken_starts(int64_t break_ms)
{
	struct fx *f = fx_new(&cfg_truth);
	struct engine clean = {1.6, 60, 1500, 85, -1}, rich = {1.0, 60, 1500, 85, -1},
		      noise = {1.25, 60, 1500, 85, -1};

	frames(f, 0, 10000, &clean);
	frames(f, 10000, 11200, &rich);
	frames(f, 11200, 11200 + break_ms, &noise);
	frames(f, 11200 + break_ms, 12500 + break_ms, &rich);
	frames(f, 12500 + break_ms, 20000, &clean);
	return smoke_starts(NULL, 0);
}

/* Sensor noise around the threshold (a frame above it) does not split an
 * episode; a break of 400 ms does, and neither half is 2 s. */
static void test_noise_gap(void **state)
{
	(void)state;
	assert_int_equal(broken_starts(20), 1);
	assert_int_equal(broken_starts(400), 0);
}

/* ---- the episode's inputs at signal rate ---------------------------------- */

/* Engine speed at frame k: a different value every frame, a spike and a
 * dip where asked (k < 0: none). */
static double rpm_at(int k, int spike, int dip)
{
	if (k == spike)
		return 2500;
	if (k == dip)
		return 900;
	return 1500 + (k % 50) * 0.125;
}

/* Clean 10 s, rich for rich_ms, clean 2 s: speed and torque at 20 ms
 * frames (frame k at 20 k ms, speed as rpm_at), air and fuel at 100 ms (as
 * LFE).  The `end` (evidence_s 0: at the first clean frame). */
static json_t *raw_episode(int64_t rich_ms, int spike, int dip)
{
	struct fx *f = fx_new(&cfg_truth);
	json_t *ev, *end = NULL;
	int k = 0;

	for (int64_t ms = 0; ms < 12000 + rich_ms; ms += 20, k++) {
		int rich = ms >= 10000 && ms < 10000 + rich_ms;

		if (ms % 100 == 0) {
			table_set(&f->t, SIG_INTAKE_AIR_KGPH, 0, air_for(rich ? 1.0 : 1.6), ms, 1);
			table_set(&f->t, SIG_FUEL_RATE_LPH, 0, FUEL_LPH + k % 7, ms, 1);
		}
		table_set(&f->t, SIG_ENGINE_TORQUE_PCT, 0, 70, ms, 1);
		table_set(&f->t, SIG_ENGINE_SPEED_RPM, 0, rpm_at(k, spike, dip), ms, 1);
		smoke_frame(&f->s, &f->t, ms, WALL0_MS + ms, collect, NULL);
	}
	while ((ev = next_event())) {
		if (!strcmp(state_of(ev), "end") && !end)
			end = ev;
		else
			json_decref(ev);
	}
	assert_non_null(end);
	return end;
}

/* The raw part of an end's evidence: the rows of field name, *received. */
static json_t *raw_rows(json_t *end, const char *name, int64_t *received)
{
	json_t *raw = json_object_get(json_object_get(end, "evidence"), "raw");
	json_t *fields = json_object_get(raw, "fields"), *x;
	size_t i;

	assert_non_null(raw);
	json_array_foreach(fields, i, x)
	{
		if (!strcmp(json_string_value(x), name)) {
			*received =
			    json_integer_value(json_array_get(json_object_get(raw, "received"), i));
			return json_array_get(json_object_get(raw, "rows"), i);
		}
	}
	fail_msg("no raw field %s", name);
	return NULL;
}

/* Every kept value of a raw field is a frame's: its time and its value
 * (value_at the frame number), in time order; how many are kept. */
static int raw_check(json_t *rows, double (*value_at)(int k))
{
	double last = -1;
	json_t *x;
	size_t i;

	json_array_foreach(rows, i, x)
	{
		double t = json_number_value(json_array_get(x, 0));
		int k = (int)lround(t / 0.02) + 500; /* from = the start, frame 500 */

		assert_float_equal(t, (k - 500) * 0.02, 1e-9);
		assert_true(t > last);
		last = t;
		assert_float_equal(json_number_value(json_array_get(x, 1)), value_at(k), 1e-9);
	}
	return (int)json_array_size(rows);
}

static double fuel_at(int k)
{
	return FUEL_LPH + k % 7;
}

static double rpm_plain(int k)
{
	return rpm_at(k, -1, -1);
}

/* A 2.1 s episode: the fuel rate (100 ms) is every value from the start to
 * the end, at its frame's time; the speed (20 ms, 106 values) is thinned to
 * the bound, every one kept still a frame's time and value. */
static void test_raw_signal_rate(void **state)
{
	json_t *end = raw_episode(2100, -1, -1), *rows, *raw;
	int64_t received = 0;

	(void)state;
	rows = raw_rows(end, "fuel_rate_lph", &received);
	/* frames 500 (10.00 s, the start) .. 605 (12.10 s, the end): 22 at 100 ms */
	assert_int_equal(received, 22);
	assert_int_equal(raw_check(rows, fuel_at), 22);
	assert_float_equal(json_number_value(json_array_get(json_array_get(rows, 21), 0)), 2.1,
			   1e-9);
	rows = raw_rows(end, "intake_air_kgph", &received);
	assert_float_equal(json_number_value(json_array_get(json_array_get(rows, 0), 1)),
			   air_for(1.0), 1e-9);
	assert_float_equal(json_number_value(json_array_get(json_array_get(rows, 21), 1)),
			   air_for(1.6), 1e-9);
	rows = raw_rows(end, "engine_speed_rpm", &received);
	assert_int_equal(received, 106);
	assert_in_range(raw_check(rows, rpm_plain), SMOKE_RAW_POINTS / 2, SMOKE_RAW_POINTS);
	/* inputs that never came have no field */
	raw = json_object_get(json_object_get(end, "evidence"), "raw");
	assert_int_equal(json_array_size(json_object_get(raw, "fields")), 4);
	json_decref(end);
}

static double rpm_spiky(int k)
{
	return rpm_at(k, 500 + 1234, 500 + 2345);
}

/* A 60 s episode (3001 frames): at most SMOKE_RAW_POINTS a field, each a
 * frame's own time and value, in time order, its spike and dip kept. */
static void test_raw_bounded(void **state)
{
	json_t *end = raw_episode(60000, 500 + 1234, 500 + 2345), *rows, *x;
	int64_t received = 0;
	int spike = 0, dip = 0;
	size_t i;

	(void)state;
	rows = raw_rows(end, "engine_speed_rpm", &received);
	assert_int_equal(received, 3001);
	assert_in_range(raw_check(rows, rpm_spiky), SMOKE_RAW_POINTS / 2, SMOKE_RAW_POINTS);
	json_array_foreach(rows, i, x)
	{
		spike += json_number_value(json_array_get(x, 1)) == 2500;
		dip += json_number_value(json_array_get(x, 1)) == 900;
	}
	assert_int_equal(spike, 1);
	assert_int_equal(dip, 1);
	json_decref(end);
}

/* The largest `end` there can be (every 1 Hz row and raw point kept, wide
 * values, a long episode's times) fits a stored row with room to spare. */
static void test_largest_end_fits(void **state)
{
	static struct payload_evidence w;
	static char out[REPORT_MAX_PAYLOAD];
	static const struct payload_header h = {.v = 1, .dev = "a-device-id-of-32-characters-xx"};
	struct payload_event ev;
	int n;

	(void)state;
	payload_event_init(&ev, PAYLOAD_EV_SMOKE);
	snprintf(ev.state, sizeof(ev.state), "end");
	snprintf(ev.rule, sizeof(ev.rule), "lambda");
	snprintf(ev.rules, sizeof(ev.rules), "lambda,opacity,transient");
	snprintf(ev.confidence, sizeof(ev.confidence), "high");
	snprintf(ev.quantity, sizeof(ev.quantity), "lambda");
	snprintf(ev.end_reason, sizeof(ev.end_reason), "regeneration");
	ev.since_ms = WALL0_MS;
	ev.ended_ms = WALL0_MS + 99000000;
	ev.duration_s = ev.peak = ev.mean = ev.load_mean_pct = 99000.125;
	ev.lambda_min = ev.lambda_mean = ev.k_max_m1 = ev.k_mean_m1 = ev.limit_k_m1 = 1.23456;
	ev.boost_deficit_kpa = 123.456;
	w.from_ms = WALL0_MS;
	w.n_fields = SMOKE_FIELDS;
	for (int i = 0; i < SMOKE_FIELDS; i++)
		w.fields[i] = SIG_ENGINE_SPEED_RPM;
	w.n_rows = PAYLOAD_EVIDENCE_ROWS;
	for (int r = 0; r < w.n_rows; r++) {
		w.rows[r].t_s = 99000 + r;
		w.rows[r].have = (1u << SMOKE_FIELDS) - 1;
		for (int i = 0; i < SMOKE_FIELDS; i++)
			w.rows[r].v[i] = -1234.56;
	}
	w.raw.n_fields = SMOKE_RAW_FIELDS;
	for (int i = 0; i < SMOKE_RAW_FIELDS; i++) {
		w.raw.fields[i] = SIG_INTAKE_AIR_KGPH;
		w.raw.n[i] = SMOKE_RAW_POINTS;
		w.raw.received[i] = INT64_C(9999999);
		for (int k = 0; k < SMOKE_RAW_POINTS; k++)
			w.raw.p[i][k] = (struct payload_raw_point){99000.123 + k, 1234.875};
	}
	ev.evidence = &w;
	n = payload_encode_event(&h, &ev, out, sizeof(out));
	print_message("largest smoke end: %d bytes\n", n);
	assert_true(n > 0 && n < REPORT_MAX_PAYLOAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_estimate),
	    cmocka_unit_test(test_estimate_low_fuel),
	    cmocka_unit_test(test_init_zeroed),
	    cmocka_unit_test(test_low_fuel_no_lambda),
	    cmocka_unit_test(test_lambda_in_table),
	    cmocka_unit_test(test_boundary_lambda),
	    cmocka_unit_test(test_boundary_load),
	    cmocka_unit_test(test_min_duration),
	    cmocka_unit_test(test_episode_fields),
	    cmocka_unit_test(test_hysteresis_load),
	    cmocka_unit_test(test_update),
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_no_fuel_signal),
	    cmocka_unit_test(test_fuel_goes_stale),
	    cmocka_unit_test(test_torque_as_load),
	    cmocka_unit_test(test_opacity_rule),
	    cmocka_unit_test(test_opacity_class),
	    cmocka_unit_test(test_transient_long),
	    cmocka_unit_test(test_transient_repeat),
	    cmocka_unit_test(test_exemptions),
	    cmocka_unit_test(test_evidence),
	    cmocka_unit_test(test_evidence_bounded),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_signal_rate_duration),
	    cmocka_unit_test(test_cold_heavy_load),
	    cmocka_unit_test(test_stale_input),
	    cmocka_unit_test(test_one_event_per_episode),
	    cmocka_unit_test(test_turbo_lag_then_smoke),
	    cmocka_unit_test(test_noise_gap),
	    cmocka_unit_test(test_raw_signal_rate),
	    cmocka_unit_test(test_raw_bounded),
	    cmocka_unit_test(test_largest_end_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
