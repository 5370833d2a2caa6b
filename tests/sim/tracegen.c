/* tracegen: writes a J1939 candump log (`candump -l` format) of an excavator
 * at work, from a small physical model: an operator plan (idle, dig cycles,
 * travel), an engine with a governor and a smoke limiter, a turbocharger
 * whose boost lags the torque demand, and optional "rich episodes" where a
 * sticking turbo and a limiter that does not notice make black smoke.
 *
 * The output depends only on the options: the model runs on its own clock
 * (start + t), uses only + - * / so every IEEE machine gives the same bytes,
 * and draws its randomness from a seeded generator of its own. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/simlib.h"

#define MAX_EPISODES   64
#define MAX_DURATION_S (10 * 24 * 3600)

#define AFR_STOICH	 14.5 /* diesel, kg air per kg fuel */
#define FUEL_KG_PER_L	 0.835
#define IDLE_RPM	 700.0
#define FULL_FUEL_LPH	 38.0 /* full load at 2000 rpm */
#define AIR_K		 0.45 /* fresh air, kg/h per rpm*kPa/K */
#define LAMBDA_LIMIT	 1.45 /* the smoke limiter's floor */
#define LAMBDA_LIMIT_BAD 1.05 /* full-load fuel map, no air check */
#define STUCK_BOOST_KPA	 60.0 /* all a sticking turbo gives */
#define SMOKE_LAMBDA	 1.2  /* label: lambda below this ... */
#define SMOKE_LOAD_PCT	 40.0 /* ... with at least this load */

enum seg_kind { SEG_IDLE, SEG_DIG, SEG_SWING, SEG_DUMP, SEG_RETURN, SEG_TRAVEL };

/* What the operator does: the current segment of the plan. */
struct plan {
	struct rng rng;
	enum seg_kind kind;
	int64_t end_tick;
	double demand_pct; /* hydraulic torque demand of this segment */
	double dial_rpm;   /* throttle dial for the work session */
	double travel_kmh;
	int cycles_left; /* dig cycles left in this session */
	double wander;	 /* slow random variation of the demand */
};

struct episode {
	int64_t start_tick, end_tick;
	int64_t label_end_tick;		 /* smoke this late still belongs to the episode */
	int64_t first_smoke, last_smoke; /* -1 until seen */
};

struct engine {
	double rpm, demand_pct, torque_pct, boost_kpa, air_kgph, egr_kgph;
	double fuel_lph, lambda, im_c, exhaust_c, coolant_c, fuel_level_pct;
	double speed_kmh, baro_kpa, ambient_c;
	int fault; /* turbo sticking, limiter blind */
};

struct opts {
	double duration_s;
	int64_t start;
	uint64_t seed;
	double smoke_len_s;
	double smoke_at[MAX_EPISODES];
	int n_smoke;
	const char *out_path;
	const char *labels_path;
	const char *opacity_path; /* an mbsim script of the opacity meter */
	int warm;		  /* start with the engine at working temperature */
};

static void plan_set(struct plan *p, int64_t now, enum seg_kind kind, double len_lo, double len_hi,
		     double dem_lo, double dem_hi)
{
	p->kind = kind;
	p->end_tick = now + s_to_ticks(rng_uniform(&p->rng, len_lo, len_hi));
	p->demand_pct = rng_uniform(&p->rng, dem_lo, dem_hi);
}

static void plan_start_session(struct plan *p, int64_t now)
{
	p->cycles_left = 6 + (int)rng_uniform(&p->rng, 0, 7);
	p->dial_rpm = rng_uniform(&p->rng, 1850, 2050);
	/* a dig cycle of 14-20 s: the load steps up once a cycle */
	plan_set(p, now, SEG_DIG, 5, 7, 80, 100);
}

/* The segment that follows the one that just ended. */
static void plan_next(struct plan *p, int64_t now)
{
	switch (p->kind) {
	case SEG_IDLE:
		plan_start_session(p, now);
		break;
	case SEG_DIG:
		plan_set(p, now, SEG_SWING, 3.5, 5, 45, 60);
		break;
	case SEG_SWING:
		plan_set(p, now, SEG_DUMP, 1.5, 2.5, 25, 35);
		break;
	case SEG_DUMP:
		plan_set(p, now, SEG_RETURN, 4, 5.5, 30, 45);
		break;
	case SEG_RETURN:
		if (--p->cycles_left > 0) {
			plan_set(p, now, SEG_DIG, 5, 7, 80, 100);
		} else if (rng_uniform(&p->rng, 0, 1) < 0.6) {
			plan_set(p, now, SEG_TRAVEL, 25, 60, 50, 65);
			p->travel_kmh = rng_uniform(&p->rng, 2.5, 5);
		} else {
			plan_set(p, now, SEG_IDLE, 15, 40, 6, 12);
		}
		break;
	case SEG_TRAVEL:
		if (rng_uniform(&p->rng, 0, 1) < 0.7)
			plan_start_session(p, now);
		else
			plan_set(p, now, SEG_IDLE, 15, 40, 6, 12);
		break;
	}
}

/* A rich episode interrupts the plan with a heavy dig, whatever the
 * operator was doing, so that the stuck turbo shows under load. */
static void plan_force_dig(struct plan *p, int64_t end)
{
	if (p->kind == SEG_IDLE || p->kind == SEG_TRAVEL)
		p->dial_rpm = rng_uniform(&p->rng, 1850, 2050);
	if (p->cycles_left < 3)
		p->cycles_left = 3;
	p->kind = SEG_DIG;
	p->end_tick = end;
	p->demand_pct = rng_uniform(&p->rng, 92, 98);
}

static void plan_step(struct plan *p, int64_t now)
{
	if (now >= p->end_tick)
		plan_next(p, now);
	p->wander += 0.05 * rng_gauss(&p->rng);
	p->wander *= 0.995;
}

static double plan_demand(const struct plan *p)
{
	return clamp(p->demand_pct + 4 * p->wander, 0, 100);
}

/* Fuel flow at a torque: per-stroke fuel grows with torque plus friction. */
static double engine_fuel_for(double rpm, double torque_pct)
{
	return FULL_FUEL_LPH * (rpm / 2000) * (torque_pct + 6) / 106;
}

static void engine_init(struct engine *e, struct rng *r, int warm)
{
	memset(e, 0, sizeof(*e));
	e->ambient_c = rng_uniform(r, 5, 25);
	e->baro_kpa = rng_uniform(r, 94, 101.5);
	/* A cold start, or an engine that has been running (at the thermostat). */
	e->coolant_c = warm ? 83 : e->ambient_c + 2;
	e->im_c = e->ambient_c + 5;
	e->exhaust_c = e->ambient_c + 80;
	e->fuel_level_pct = rng_uniform(r, 45, 90);
	e->rpm = IDLE_RPM;
	e->demand_pct = 8;
	e->boost_kpa = 2;
}

/* The turbo: boost follows the torque demand with a lag.  A sticking turbo
 * gives little boost whatever the demand. */
static void engine_turbo(struct engine *e)
{
	double n = e->rpm / 1900;
	double target = 200 * (e->demand_pct / 100) * clamp(n * n, 0, 1.1);

	if (e->fault)
		lag(&e->boost_kpa, clamp(target, 0, STUCK_BOOST_KPA), 1.5);
	else
		lag(&e->boost_kpa, target, 1.0);
}

/* Fuel: the driver's demand at once, cut back by the smoke limiter to what
 * the air allows.  When the turbo sticks, the ECU's limiter (calibrated for
 * a healthy turbo) lets the full-load fuel map through. */
static void engine_fuel(struct engine *e, double rpm_set)
{
	double egr_frac = 0.18 - 0.15 * clamp(e->demand_pct / 100, 0, 1);
	double total = AIR_K * e->rpm * (e->baro_kpa + e->boost_kpa) / (e->im_c + 273.15);
	double lambda_min = e->fault ? LAMBDA_LIMIT_BAD : LAMBDA_LIMIT;
	double fuel_max;

	e->air_kgph = total * (1 - egr_frac);
	e->egr_kgph = total * egr_frac;
	if (e->rpm > rpm_set + 80) { /* overrun: the governor cuts fuel */
		e->fuel_lph = 0;
		e->torque_pct = 0;
		e->lambda = 0;
		return;
	}
	fuel_max = e->air_kgph / (AFR_STOICH * FUEL_KG_PER_L * lambda_min);
	e->fuel_lph = engine_fuel_for(e->rpm, e->demand_pct);
	if (e->fuel_lph > fuel_max)
		e->fuel_lph = fuel_max;
	e->torque_pct = clamp(e->fuel_lph * 106 / (FULL_FUEL_LPH * e->rpm / 2000) - 6, 0, 100);
	e->lambda = e->air_kgph / (e->fuel_lph * FUEL_KG_PER_L) / AFR_STOICH;
}

static void engine_thermal(struct engine *e)
{
	double rich = e->lambda > 0 && e->lambda < 1.4 ? (1.4 - e->lambda) * 300 : 0;
	double warm = 0.02 + 0.4 * e->fuel_lph / FULL_FUEL_LPH;

	lag(&e->exhaust_c, 150 + 4.0 * e->torque_pct + rich, 6.0);
	lag(&e->im_c, e->ambient_c + 8 + 0.15 * e->boost_kpa, 10.0);
	/* the thermostat opens near 85 C and holds the coolant there */
	if (e->coolant_c < 83)
		e->coolant_c += warm * DT;
	else
		lag(&e->coolant_c, 85 + 2 * e->fuel_lph / FULL_FUEL_LPH, 30.0);
	e->fuel_level_pct -= e->fuel_lph * DT / 3600 / 320 * 100; /* 320 L tank */
}

static void engine_step(struct engine *e, const struct plan *p)
{
	int idle = p->kind == SEG_IDLE;
	double rpm_set = idle ? IDLE_RPM : p->dial_rpm - 60 * e->torque_pct / 100;

	lag(&e->rpm, rpm_set, 0.5);
	lag(&e->demand_pct, plan_demand(p), 0.15);
	lag(&e->speed_kmh, p->kind == SEG_TRAVEL ? p->travel_kmh : 0, 1.5);
	engine_turbo(e);
	engine_fuel(e, rpm_set);
	engine_thermal(e);
}

/* Output: one `candump -l` line a frame. */
struct out {
	FILE *f;
	int64_t start;
	struct rng noise;
};

static void out_frame(struct out *o, int64_t t_us, int prio, uint32_t pgn, const uint8_t d[8])
{
	uint64_t us = (uint64_t)(o->start * 1000000 + t_us);
	uint32_t id = (uint32_t)prio << 26 | pgn << 8 | 0x00; /* SA 0: engine #1 */

	sim_candump_line(o->f, us, id, d);
}

static uint32_t raw(struct out *o, double v, double noise, double res, double offset, uint32_t max)
{
	return sim_raw(&o->noise, v, noise, res, offset, max);
}

/* Each message fills the bytes it carries; the rest stay 0xFF. */
static void msg_eec1(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	d[0] = 0xF0 | (p->kind == SEG_IDLE ? 0 : 1); /* SPN 899: low idle governor / operator */
	d[1] = (uint8_t)raw(o, e->demand_pct, 0, 1, -125, 250);
	d[2] = (uint8_t)raw(o, e->torque_pct, 0, 1, -125, 250);
	put16(d + 3, raw(o, e->rpm, 2, 0.125, 0, 0xFAFF));
	d[7] = d[2]; /* SPN 2432 engine demand: what the limiter lets through */
}

static void msg_eec2(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	int idle = p->kind == SEG_IDLE;
	double pedal = idle ? 0 : (p->dial_rpm - IDLE_RPM) / (2100 - IDLE_RPM) * 100;

	d[0] = 0xFC | (idle ? 1 : 0); /* SPN 558: in low idle */
	d[1] = (uint8_t)raw(o, clamp(pedal, 0, 100), 0, 0.4, 0, 250);
	d[2] = (uint8_t)raw(o, e->torque_pct, 0, 1, 0, 250);
}

static void msg_lfe1(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	(void)p;
	put16(d, raw(o, e->fuel_lph, e->fuel_lph * 0.004, 0.05, 0, 0xFAFF));
}

static void msg_egf1(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	(void)p;
	put16(d, raw(o, e->egr_kgph, e->egr_kgph * 0.01, 0.05, 0, 0xFAFF));
	put16(d + 2, raw(o, e->air_kgph, e->air_kgph * 0.005, 0.05, 0, 0xFAFF));
}

static void msg_ic1(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	(void)p;
	d[1] = (uint8_t)raw(o, e->boost_kpa, 0.5, 2, 0, 250);
	d[2] = (uint8_t)raw(o, e->im_c, 0.2, 1, -40, 250);
	put16(d + 5, raw(o, e->exhaust_c, 0.5, 0.03125, -273, 0xFAFF));
}

static void msg_et1(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	(void)p;
	d[0] = (uint8_t)raw(o, e->coolant_c, 0.1, 1, -40, 250);
}

static void msg_amb(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	(void)p;
	d[0] = (uint8_t)raw(o, e->baro_kpa, 0.05, 0.5, 0, 250);
	put16(d + 3, raw(o, e->ambient_c, 0.05, 0.03125, -273, 0xFAFF));
}

static void msg_ccvs1(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	double noise = e->speed_kmh > 0.1 ? 0.03 : 0;

	(void)p;
	put16(d + 1, raw(o, e->speed_kmh, noise, 1.0 / 256, 0, 0xFAFF));
}

static void msg_dd(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d)
{
	(void)p;
	d[1] = (uint8_t)raw(o, e->fuel_level_pct, 0, 0.4, 0, 250);
}

/* The spec's rates, in the order frames go out within a tick; the phases
 * spread the slow messages over the second. */
static const struct msg {
	uint32_t pgn;
	int prio, period_ticks, phase_ticks;
	void (*fill)(struct out *o, const struct engine *e, const struct plan *p, uint8_t *d);
} msgs[] = {
    {.pgn = 61444, .prio = 3, .period_ticks = 2, .phase_ticks = 0, .fill = msg_eec1},
    {.pgn = 61443, .prio = 3, .period_ticks = 5, .phase_ticks = 1, .fill = msg_eec2},
    {.pgn = 61450, .prio = 3, .period_ticks = 5, .phase_ticks = 3, .fill = msg_egf1},
    {.pgn = 65266, .prio = 6, .period_ticks = 10, .phase_ticks = 5, .fill = msg_lfe1},
    {.pgn = 65265, .prio = 6, .period_ticks = 10, .phase_ticks = 9, .fill = msg_ccvs1},
    {.pgn = 65270, .prio = 6, .period_ticks = 50, .phase_ticks = 13, .fill = msg_ic1},
    {.pgn = 65262, .prio = 6, .period_ticks = 100, .phase_ticks = 27, .fill = msg_et1},
    {.pgn = 65269, .prio = 6, .period_ticks = 100, .phase_ticks = 51, .fill = msg_amb},
    {.pgn = 65276, .prio = 6, .period_ticks = 100, .phase_ticks = 77, .fill = msg_dd},
};

static void emit_tick(struct out *o, const struct engine *e, const struct plan *p, int64_t tick,
		      int64_t end_us)
{
	int slot = 0;

	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		int64_t t_us = tick * TICK_US + slot * SLOT_US;
		uint8_t d[8];

		if (tick % msgs[m].period_ticks != msgs[m].phase_ticks)
			continue;
		if (t_us > end_us)
			return;
		memset(d, 0xFF, sizeof(d));
		msgs[m].fill(o, e, p, d);
		out_frame(o, t_us, msgs[m].prio, msgs[m].pgn, d);
		slot++;
	}
}

/* Label bookkeeping: the span of each episode where the engine smoked. */
static void episodes_note(struct episode *ep, int n, int64_t tick, const struct engine *e)
{
	int smoking =
	    e->fuel_lph > 0 && e->lambda < SMOKE_LAMBDA && e->torque_pct >= SMOKE_LOAD_PCT;

	if (!smoking)
		return;
	for (int i = 0; i < n; i++) {
		if (tick < ep[i].start_tick || tick > ep[i].label_end_tick)
			continue;
		if (ep[i].first_smoke < 0)
			ep[i].first_smoke = tick;
		ep[i].last_smoke = tick;
	}
}

static int write_labels(const struct opts *op, const struct episode *ep, int n)
{
	FILE *f = fopen(op->labels_path, "w");

	if (!f) {
		fprintf(stderr, "tracegen: %s: %s\n", op->labels_path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int64_t a = ep[i].first_smoke * TICK_US, b = ep[i].last_smoke * TICK_US;

		if (ep[i].first_smoke < 0)
			continue;
		fprintf(f, "smoke %" PRId64 ".%06" PRId64 " %" PRId64 ".%06" PRId64 "\n",
			op->start + a / 1000000, a % 1000000, op->start + b / 1000000, b % 1000000);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "tracegen: %s: %s\n", op->labels_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The opacity meter on this engine's exhaust (--opacity): an mbsim script
 * for config/profiles/opacity-meter.conf, so that the meter's smoke comes
 * with the engine's.  Soot rises steeply as lambda falls (spec/smoke.md:
 * visible from lambda 1.15-1.20, none at 1.30 and above): k = clean + 20 x
 * (1.30 - lambda)^2, about 0.5 m^-1 at 1.15.  The meter reads it through a
 * METER_TAU_S response, METER_DELAY_S after the cylinder made it (the gas
 * reaches the cell).  A line when k moved by 0.03 or more (0.5 s steps),
 * else every 30 s.  Not part of the byte-for-byte trace: exp() is used. */
#define METER_PATH_M	 0.430 /* effective optical path, N % <-> k */
#define METER_DELAY_S	 0.5
#define METER_TAU_S	 0.3
#define METER_K_CLEAN	 0.05
#define METER_STEP_TICKS 50
#define METER_REFRESH_S	 30

struct meter {
	FILE *f;
	double k, written_k;
	int64_t written_tick;
};

static double meter_soot_k(const struct engine *e)
{
	double d = 1.30 - e->lambda, k;

	if (e->fuel_lph <= 0 || d <= 0)
		return METER_K_CLEAN;
	k = METER_K_CLEAN + 20 * d * d;
	return k > 9.99 ? 9.99 : k;
}

static void meter_line(struct meter *m, int64_t tick, double k)
{
	double n = 100 * (1 - exp(-k * METER_PATH_M));

	fprintf(m->f, "%.2f opacity_pct=%.1f opacity_k_m1=%.2f\n",
		(double)tick * DT + (tick ? METER_DELAY_S : 0), n, k);
	m->written_k = k;
	m->written_tick = tick;
}

static void meter_step(struct meter *m, int64_t tick, const struct engine *e)
{
	double k;

	if (!m->f)
		return;
	m->k += (meter_soot_k(e) - m->k) * DT / METER_TAU_S;
	if (tick % METER_STEP_TICKS)
		return;
	k = round(m->k * 100) / 100;
	if (fabs(k - m->written_k) >= 0.03 || tick - m->written_tick >= s_to_ticks(METER_REFRESH_S))
		meter_line(m, tick, k);
}

/* The script's first line: the meter warm and ready, the exhaust clean. */
static int meter_open(struct meter *m, const char *path)
{
	if (!path)
		return 0;
	if (!(m->f = fopen(path, "w"))) {
		fprintf(stderr, "tracegen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(m->f, "# mbsim script for config/profiles/opacity-meter.conf, made by tracegen\n"
		      "# --opacity: the meter on the exhaust of the engine in the trace\n"
		      "0 smoke_gas_kpa=101.3 smoke_ready=1 smoke_warming_up=0 smoke_fault=0 "
		      "smoke_lens_dirty=0 smoke_hours_h=1234.5 smoke_detector_c=41.5 "
		      "smoke_serial=OPM-2231 smoke_firmware=301\n");
	m->k = METER_K_CLEAN;
	meter_line(m, 0, METER_K_CLEAN);
	return 0;
}

static int meter_close(struct meter *m, const char *path)
{
	if (!m->f)
		return 0;
	if (fclose(m->f) != 0) {
		fprintf(stderr, "tracegen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int run(const struct opts *op, FILE *f)
{
	struct meter meter = {0};
	struct episode ep[MAX_EPISODES];
	struct plan plan = {.rng = {op->seed ^ 0x5eedULL}};
	struct out o = {.f = f, .start = op->start, .noise = {op->seed * 31 + 7}};
	struct engine e;
	int64_t last = s_to_ticks(op->duration_s), end_us = last * TICK_US;
	int next_ep = 0;

	for (int i = 0; i < op->n_smoke; i++) {
		ep[i].start_tick = s_to_ticks(op->smoke_at[i]);
		ep[i].end_tick = ep[i].start_tick + s_to_ticks(op->smoke_len_s);
		ep[i].first_smoke = ep[i].last_smoke = -1;
	}
	/* 2 s past the episode for the boost to recover, up to the next one */
	for (int i = 0; i < op->n_smoke; i++) {
		ep[i].label_end_tick = ep[i].end_tick + s_to_ticks(2);
		if (i + 1 < op->n_smoke && ep[i].label_end_tick >= ep[i + 1].start_tick)
			ep[i].label_end_tick = ep[i + 1].start_tick - 1;
	}
	if (meter_open(&meter, op->opacity_path) < 0)
		return -1;
	engine_init(&e, &plan.rng, op->warm);
	plan_set(&plan, 0, SEG_IDLE, 10, 20, 6, 12);
	plan.dial_rpm = 1950;
	for (int64_t tick = 0; tick <= last; tick++) {
		if (next_ep < op->n_smoke && tick == ep[next_ep].start_tick) {
			plan_force_dig(&plan, ep[next_ep].end_tick);
			next_ep++;
		}
		e.fault = next_ep > 0 && tick < ep[next_ep - 1].end_tick;
		plan_step(&plan, tick);
		engine_step(&e, &plan);
		episodes_note(ep, op->n_smoke, tick, &e);
		emit_tick(&o, &e, &plan, tick, end_us);
		meter_step(&meter, tick, &e);
	}
	if (meter_close(&meter, op->opacity_path) < 0)
		return -1;
	if (fflush(f) != 0 || ferror(f)) {
		fprintf(stderr, "tracegen: write: %s\n", strerror(errno));
		return -1;
	}
	if (op->labels_path && write_labels(op, ep, op->n_smoke) < 0)
		return -1;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/* A comma-separated list of increasing times, none inside the previous
 * episode, checked again once the episode length is known. */
static int parse_smoke_at(const char *s, struct opts *op)
{
	char buf[1024], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	op->n_smoke = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (op->n_smoke == MAX_EPISODES)
			return -1;
		if (parse_double(tok, 0, MAX_DURATION_S, &op->smoke_at[op->n_smoke]) < 0)
			return -1;
		op->n_smoke++;
	}
	return op->n_smoke > 0 ? 0 : -1;
}

static int check_episodes(const struct opts *op)
{
	for (int i = 1; i < op->n_smoke; i++) {
		if (op->smoke_at[i] < op->smoke_at[i - 1] + op->smoke_len_s) {
			fprintf(stderr,
				"tracegen: --smoke-at: episodes must be increasing and "
				"at least --smoke-len (%g s) apart\n",
				op->smoke_len_s);
			return -1;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tracegen [options]\n"
		"Writes a J1939 candump log (candump -l format) of an excavator work cycle.\n"
		"  --duration SECONDS   length of the trace (default 600)\n"
		"  --start EPOCH        time of the first frame, seconds (default 1700000000)\n"
		"  --seed N             random seed (default 1); same options, same bytes\n"
		"  --smoke-at S[,S...]  start rich episodes (stuck turbo under load) at these\n"
		"                       seconds from the start\n"
		"  --smoke-len SECONDS  length of each episode (default 8)\n"
		"  --warm               start with the engine warm (default: a cold start)\n"
		"  --opacity FILE       write an mbsim script of an opacity meter on this\n"
		"                       engine's exhaust (config/profiles/opacity-meter.conf)\n"
		"  -o FILE              write the trace to FILE (default stdout)\n"
		"  --labels FILE        write `smoke START END` (epoch seconds) for each\n"
		"                       episode: where lambda < %.1f with load >= %.0f %%\n"
		"  -h, --help           this text\n"
		"The bundled tests/data/excavator.log is: --duration 300 --seed 1 --smoke-at 6,150 "
		"--warm\n",
		SMOKE_LAMBDA, SMOKE_LOAD_PCT);
}

static int parse_opts(int argc, char **argv, struct opts *op)
{
	static const struct option longopts[] = {
	    {"duration", required_argument, NULL, 'D'},
	    {"start", required_argument, NULL, 'S'},
	    {"seed", required_argument, NULL, 's'},
	    {"smoke-at", required_argument, NULL, 'a'},
	    {"smoke-len", required_argument, NULL, 'l'},
	    {"labels", required_argument, NULL, 'L'},
	    {"warm", no_argument, NULL, 'W'},
	    {"opacity", required_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, idx = -1;
	double v;

	while ((c = getopt_long(argc, argv, "o:h", longopts, &idx)) != -1) {
		switch (c) {
		case 'D':
			if (parse_double(optarg, 0.01, MAX_DURATION_S, &op->duration_s) < 0)
				goto bad;
			break;
		case 'S':
			if (parse_double(optarg, 0, 4e9, &v) < 0 || v != (double)(int64_t)v)
				goto bad;
			op->start = (int64_t)v;
			break;
		case 's':
			if (parse_u64(optarg, &op->seed) < 0)
				goto bad;
			break;
		case 'a':
			if (parse_smoke_at(optarg, op) < 0)
				goto bad;
			break;
		case 'l':
			if (parse_double(optarg, 1, 600, &op->smoke_len_s) < 0)
				goto bad;
			break;
		case 'L':
			op->labels_path = optarg;
			break;
		case 'W':
			op->warm = 1;
			break;
		case 'O':
			op->opacity_path = optarg;
			break;
		case 'o':
			op->out_path = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return check_episodes(op);
bad:
	fprintf(stderr, "tracegen: --%s: bad value '%s'\n", longopts[idx].name, optarg);
	return -1;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct opts op = {
	    .duration_s = 600,
	    .start = 1700000000,
	    .seed = 1,
	    .smoke_len_s = 8,
	};
	FILE *f = stdout;
	int rc;

	if (parse_opts(argc, argv, &op) < 0)
		return 2;
	if (op.out_path && !(f = fopen(op.out_path, "w"))) {
		fprintf(stderr, "tracegen: %s: %s\n", op.out_path, strerror(errno));
		return 1;
	}
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	rc = run(&op, f);
	if (f != stdout && fclose(f) != 0) {
		fprintf(stderr, "tracegen: %s: %s\n", op.out_path, strerror(errno));
		rc = -1;
	}
	return rc < 0 ? 1 : 0;
}
