/* enginesim: a diesel machine at work, as a J1939 candump log (`candump -l`
 * format), with the truth beside it.  Grown from tracegen's model (which
 * stays as it is, because tests/data/excavator.log must regenerate byte for
 * byte) into three machines (excavator, wheel loader, vessel), a cold start,
 * a DPF with active regenerations, and injected faults:
 *   stuck-boost     the turbo gives at most 60 kPa and the smoke limiter,
 *                   calibrated for a healthy turbo, lets full fuel through;
 *   clogged-filter  65 % of the air; the limiter (boost-based) does not see it;
 *   dpf-removed     the DPF's differential pressure reads near zero;
 *   ecu-unplugged   no frames at all for the span;
 *   nox-frozen      both NOx readings stop moving.
 * Labels (--labels): one line per fact, times in epoch seconds:
 *   smoke START END      black smoke, spec/smoke.md's truth (issue 15): lambda
 *                        < 1.20 at >= 20 % torque and >= 600 rpm, whatever the
 *                        coolant, no regeneration (post-injection fuel burns
 *                        outside the cylinder) for >= 2 s, spans < 10 s apart merged
 *   fault NAME START END an injected fault
 *   haze START END       light smoke (lambda < 1.30, the same conditions): an
 *                        alarm here is not false, nor is one required
 *   trap NAME START END  smoke-like readings: `cold` (enriched while the
 *                        coolant is below 35 C: smoke only under load), `regen`
 *   engine_s SECONDS     time the engine ran
 * --opacity FILE writes what a tailpipe opacity meter would read, 1 Hz:
 * `t_s,opacity_pct,k_m1` (optical path 0.430 m), for the Modbus simulator.
 * Same options, same bytes: own clock, own seeded generator, + - * / only
 * in the model (exp() only in the opacity file). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/simlib.h"

#define MAX_FAULTS     16
#define MAX_SPANS      512
#define AFR_STOICH     14.5
#define FUEL_KG_PER_L  0.835
#define LAMBDA_LIMIT   1.45
#define LAMBDA_BLIND   1.05
#define COLD_ENRICH    1.60 /* fuel a cold engine burns badly, beyond the torque it makes */
#define COLD_C	       35.0
#define SMOKE_LAMBDA   1.20 /* spec/smoke.md: visible from 1.15-1.20 */
#define HAZE_LAMBDA    1.30 /* between: light smoke, neither required nor false */
#define SMOKE_LOAD     20.0
#define SMOKE_RPM      600.0
#define SMOKE_MIN_S    2.0
#define SMOKE_MERGE_S  10.0
#define OPACITY_PATH_M 0.430

/* ---- machines ---------------------------------------------------------------- */

enum machine_kind { M_EXCAVATOR, M_LOADER, M_VESSEL };

struct machine {
	const char *name;
	double idle_rpm, rated_rpm, full_fuel_lph, air_k, boost_max_kpa, turbo_tau_s;
};

static const struct machine machines[] = {
    [M_EXCAVATOR] = {"excavator", 700, 2000, 38, 0.45, 200, 1.0},
    [M_LOADER] = {"loader", 750, 2200, 45, 0.48, 210, 1.1},
    [M_VESSEL] = {"vessel", 600, 1800, 120, 1.55, 190, 1.6},
};

enum fault_kind {
	F_STUCK_BOOST,
	F_CLOGGED_FILTER,
	F_DPF_REMOVED,
	F_ECU_UNPLUGGED,
	F_NOX_FROZEN,
	F_N
};

static const char *const fault_names[F_N] = {"stuck-boost", "clogged-filter", "dpf-removed",
					     "ecu-unplugged", "nox-frozen"};

struct fault {
	enum fault_kind kind;
	double at_s, len_s;
};

struct opts {
	enum machine_kind machine;
	double duration_s;
	int64_t start;
	uint64_t seed;
	int cold, dpf;
	double regen_at[8], regen_len_s;
	int n_regen;
	struct fault faults[MAX_FAULTS];
	int n_faults;
	const char *out_path, *labels_path, *opacity_path;
};

/* ---- the operator ------------------------------------------------------------ */

struct plan {
	struct rng rng;
	int seg; /* index into the machine's cycle */
	int64_t end_tick;
	double demand_pct, dial_rpm, travel_kmh, wander;
	int cycles_left, idle;
};

static void plan_seg(struct plan *p, int64_t now, double len_lo, double len_hi, double d_lo,
		     double d_hi, double kmh)
{
	p->end_tick = now + s_to_ticks(rng_uniform(&p->rng, len_lo, len_hi));
	p->demand_pct = rng_uniform(&p->rng, d_lo, d_hi);
	p->travel_kmh = kmh;
}

static void plan_idle(struct plan *p, int64_t now)
{
	p->idle = 1;
	p->seg = -1;
	plan_seg(p, now, 15, 45, 5, 10, 0);
}

/* Excavator: dig, swing, dump, return; sessions of 6-12 cycles. */
static void plan_excavator(struct plan *p, int64_t now)
{
	static const double seg[4][4] = {
	    {5, 7, 80, 100}, {3.5, 5, 45, 60}, {1.5, 2.5, 25, 35}, {4, 5.5, 30, 45}};

	p->seg = (p->seg + 1) % 4;
	if (p->seg == 0 && --p->cycles_left <= 0) {
		plan_idle(p, now);
		return;
	}
	plan_seg(p, now, seg[p->seg][0], seg[p->seg][1], seg[p->seg][2], seg[p->seg][3], 0);
}

/* Wheel loader: fill the bucket, carry, dump, back. */
static void plan_loader(struct plan *p, int64_t now)
{
	static const double seg[4][5] = {
	    {4, 7, 75, 95, 2}, {10, 20, 55, 70, 12}, {2, 4, 25, 35, 0}, {10, 18, 35, 50, 14}};

	p->seg = (p->seg + 1) % 4;
	if (p->seg == 0 && --p->cycles_left <= 0) {
		plan_idle(p, now);
		return;
	}
	plan_seg(p, now, seg[p->seg][0], seg[p->seg][1], seg[p->seg][2], seg[p->seg][3],
		 seg[p->seg][4]);
}

/* Vessel: long passages at a cruise setting, manoeuvres between. */
static void plan_vessel(struct plan *p, int64_t now)
{
	p->seg = (p->seg + 1) % 2;
	if (p->seg == 0 && --p->cycles_left <= 0) {
		plan_idle(p, now);
		return;
	}
	if (p->seg == 0)
		plan_seg(p, now, 120, 360, 55, 80, 15);
	else
		plan_seg(p, now, 30, 90, 15, 35, 5);
}

static void plan_next(struct plan *p, enum machine_kind m, int64_t now)
{
	if (p->idle) {
		p->idle = 0;
		p->seg = -1;
		p->cycles_left = m == M_VESSEL ? 3 + (int)rng_uniform(&p->rng, 0, 4)
					       : 6 + (int)rng_uniform(&p->rng, 0, 7);
		p->dial_rpm = rng_uniform(&p->rng, 0.9, 1.0) * machines[m].rated_rpm;
	}
	if (m == M_EXCAVATOR)
		plan_excavator(p, now);
	else if (m == M_LOADER)
		plan_loader(p, now);
	else
		plan_vessel(p, now);
}

/* ---- the engine -------------------------------------------------------------- */

struct engine {
	const struct machine *m;
	double rpm, demand_pct, torque_pct, boost_kpa, air_kgph, fuel_lph, lambda;
	double im_c, exhaust_c, coolant_c, ambient_c, baro_kpa, speed_kmh, fuel_level_pct;
	double soot, dpf_dp_kpa, nox_up, nox_down, k_m1;
	int regen, stuck, clogged, dpf_removed, nox_frozen, unplugged, cold, has_dpf;
};

static void engine_init(struct engine *e, const struct machine *m, struct rng *r, int cold)
{
	memset(e, 0, sizeof(*e));
	e->m = m;
	e->ambient_c = cold ? rng_uniform(r, -5, 5) : rng_uniform(r, 10, 25);
	e->baro_kpa = rng_uniform(r, 95, 101.5);
	/* a warm machine was working an hour ago; a cold one stood overnight */
	e->coolant_c = cold ? e->ambient_c + 1 : rng_uniform(r, 70, 82);
	e->im_c = e->ambient_c + 5;
	e->exhaust_c = e->ambient_c + 80;
	e->fuel_level_pct = rng_uniform(r, 40, 90);
	e->rpm = m->idle_rpm;
	e->demand_pct = 8;
	e->soot = rng_uniform(r, 0.8, 1.3);
}

static void engine_air_fuel(struct engine *e, double rpm_set)
{
	const struct machine *m = e->m;
	double n = e->rpm / m->rated_rpm,
	       target = m->boost_max_kpa * (e->demand_pct / 100) * clamp(n * n, 0, 1.1);
	double filter = e->clogged ? 0.65 : 1.0, air_seen, lambda_lim, fuel_max, full;

	lag(&e->boost_kpa, e->stuck ? clamp(target, 0, 60) : target, m->turbo_tau_s);
	e->air_kgph =
	    m->air_k * e->rpm * (e->baro_kpa + e->boost_kpa) / (e->im_c + 273.15) * filter;
	if (e->regen)
		e->air_kgph *= 0.8; /* intake throttled to heat the exhaust */
	full = m->full_fuel_lph * (e->rpm / m->rated_rpm);
	if (e->rpm > rpm_set + 80) { /* overrun: fuel cut */
		e->fuel_lph = 0;
		e->torque_pct = 0;
		e->lambda = 0;
		return;
	}
	/* the limiter knows the boost, not the filter; a stuck turbo blinds it */
	air_seen = e->air_kgph / filter;
	lambda_lim = e->stuck ? LAMBDA_BLIND : LAMBDA_LIMIT;
	fuel_max = air_seen / (AFR_STOICH * FUEL_KG_PER_L * lambda_lim);
	e->fuel_lph = full * (e->demand_pct + 6) / 106;
	if (e->fuel_lph > fuel_max)
		e->fuel_lph = fuel_max;
	e->torque_pct = clamp(e->fuel_lph * 106 / full - 6, 0, 100);
	if (e->regen) /* post-injection: fuel that makes heat, not torque */
		e->fuel_lph += 0.10 * m->full_fuel_lph + 0.20 * e->fuel_lph;
	if (e->cold)
		e->fuel_lph *= COLD_ENRICH;
	e->lambda = e->air_kgph / (e->fuel_lph * FUEL_KG_PER_L) / AFR_STOICH;
}

static void engine_after(struct engine *e, struct rng *r)
{
	double flow = e->air_kgph / (e->m->air_k * e->m->rated_rpm * 2.8);
	double rich = e->lambda > 0 && e->lambda < 1.4 ? (1.4 - e->lambda) * 300 : 0;
	double warm = 0.01 + 0.15 * e->fuel_lph / e->m->full_fuel_lph;

	lag(&e->exhaust_c, 150 + 4.0 * e->torque_pct + rich + (e->regen ? 220 : 0), 6.0);
	lag(&e->im_c, e->ambient_c + 8 + 0.15 * e->boost_kpa, 10.0);
	if (e->coolant_c < 83)
		e->coolant_c += warm * DT;
	else
		lag(&e->coolant_c, 85 + 2 * e->fuel_lph / e->m->full_fuel_lph, 30.0);
	e->cold = e->coolant_c < COLD_C;
	e->fuel_level_pct -= e->fuel_lph * DT / 3600 / 400 * 100;
	if (e->regen)
		e->soot -= 0.8 * DT / 600;
	e->soot = clamp(e->soot, 0.3, 2.0);
	e->dpf_dp_kpa = e->dpf_removed ? 0.05 : 0.4 + 14 * flow * e->soot;
	if (!e->nox_frozen) {
		e->nox_up = 150 + 9 * e->torque_pct + 3 * rng_gauss(r);
		e->nox_down = 0.08 * e->nox_up + 2 + rng_gauss(r);
	}
	/* tailpipe opacity from lambda; a DPF holds back almost all of it */
	e->k_m1 =
	    0.03 +
	    (e->lambda > 0 && e->lambda < 1.35 ? 8 * (1.35 - e->lambda) * (1.35 - e->lambda) : 0);
	if (e->has_dpf && !e->dpf_removed)
		e->k_m1 *= 0.05;
}

static void engine_step(struct engine *e, const struct plan *p, struct rng *r)
{
	double rpm_set = p->idle ? e->m->idle_rpm : p->dial_rpm - 60 * e->torque_pct / 100;
	double demand = clamp(p->demand_pct + 4 * p->wander, 0, 100);

	lag(&e->rpm, rpm_set, 0.5);
	lag(&e->demand_pct, demand, 0.15);
	lag(&e->speed_kmh, p->travel_kmh, 2.0);
	engine_air_fuel(e, rpm_set);
	engine_after(e, r);
}

/* ---- output ------------------------------------------------------------------ */

struct out {
	FILE *f;
	int64_t start;
	struct rng noise;
	int dpf;
};

static void out_frame(struct out *o, int64_t t_us, int prio, uint32_t pgn, uint8_t sa,
		      const uint8_t d[8])
{
	uint64_t us = (uint64_t)(o->start * 1000000 + t_us);

	sim_candump_line(o->f, us, (uint32_t)prio << 26 | pgn << 8 | sa, d);
}

static uint32_t raw(struct out *o, double v, double noise, double res, double offset, uint32_t max)
{
	return sim_raw(&o->noise, v, noise, res, offset, max);
}

static void msg_eec1(struct out *o, const struct engine *e, uint8_t *d)
{
	d[1] = (uint8_t)raw(o, e->demand_pct, 0, 1, -125, 250);
	d[2] = (uint8_t)raw(o, e->torque_pct, 0, 1, -125, 250);
	put16(d + 3, raw(o, e->rpm, 2, 0.125, 0, 0xFAFF));
}

static void msg_eec2(struct out *o, const struct engine *e, uint8_t *d)
{
	d[1] = (uint8_t)raw(o, clamp(e->demand_pct, 0, 100), 0, 0.4, 0, 250);
	d[2] = (uint8_t)raw(o, e->torque_pct, 0, 1, 0, 250);
}

static void msg_lfe1(struct out *o, const struct engine *e, uint8_t *d)
{
	put16(d, raw(o, e->fuel_lph, e->fuel_lph * 0.004, 0.05, 0, 0xFAFF));
}

static void msg_egf1(struct out *o, const struct engine *e, uint8_t *d)
{
	put16(d + 2, raw(o, e->air_kgph, e->air_kgph * 0.005, 0.05, 0, 0xFAFF));
}

static void msg_ic1(struct out *o, const struct engine *e, uint8_t *d)
{
	d[1] = (uint8_t)raw(o, e->boost_kpa, 0.5, 2, 0, 250);
	d[2] = (uint8_t)raw(o, e->im_c, 0.2, 1, -40, 250);
	put16(d + 5, raw(o, e->exhaust_c, 0.5, 0.03125, -273, 0xFAFF));
}

static void msg_et1(struct out *o, const struct engine *e, uint8_t *d)
{
	d[0] = (uint8_t)raw(o, e->coolant_c, 0.1, 1, -40, 250);
}

static void msg_amb(struct out *o, const struct engine *e, uint8_t *d)
{
	d[0] = (uint8_t)raw(o, e->baro_kpa, 0.05, 0.5, 0, 250);
	put16(d + 3, raw(o, e->ambient_c, 0.05, 0.03125, -273, 0xFAFF));
}

static void msg_ccvs1(struct out *o, const struct engine *e, uint8_t *d)
{
	put16(d + 1, raw(o, e->speed_kmh, e->speed_kmh > 0.1 ? 0.03 : 0, 1.0 / 256, 0, 0xFAFF));
}

static void msg_nox_up(struct out *o, const struct engine *e, uint8_t *d)
{
	put16(d, raw(o, e->nox_up, 0, 0.05, -200, 0xFAFF));
}

static void msg_nox_down(struct out *o, const struct engine *e, uint8_t *d)
{
	put16(d, raw(o, e->nox_down, 0, 0.05, -200, 0xFAFF));
}

static void msg_dpf(struct out *o, const struct engine *e, uint8_t *d)
{
	put16(d + 4, raw(o, e->dpf_dp_kpa, 0.02, 0.1, 0, 0xFAFF));
}

static void msg_dpfc1(struct out *o, const struct engine *e, uint8_t *d)
{
	(void)o;
	d[0] = (uint8_t)(0xFC | (e->regen ? 1 : 0)); /* SPN 3700 */
}

static const struct msg {
	uint32_t pgn;
	uint8_t sa;
	int prio, period_ticks, phase_ticks, dpf_only;
	void (*fill)(struct out *o, const struct engine *e, uint8_t *d);
} msgs[] = {
    {61444, 0x00, 3, 2, 0, 0, msg_eec1},    {61443, 0x00, 3, 5, 1, 0, msg_eec2},
    {61450, 0x00, 3, 5, 3, 0, msg_egf1},    {65266, 0x00, 6, 10, 5, 0, msg_lfe1},
    {65265, 0x00, 6, 10, 9, 0, msg_ccvs1},  {65270, 0x00, 6, 50, 13, 0, msg_ic1},
    {65262, 0x00, 6, 100, 27, 0, msg_et1},  {65269, 0x00, 6, 100, 51, 0, msg_amb},
    {61454, 0x51, 6, 20, 7, 0, msg_nox_up}, {61455, 0x52, 6, 20, 11, 0, msg_nox_down},
    {64946, 0x00, 6, 50, 33, 1, msg_dpf},   {64892, 0x00, 6, 100, 61, 1, msg_dpfc1},
};

static void emit_tick(struct out *o, const struct engine *e, int64_t tick)
{
	int slot = 0;

	if (e->unplugged)
		return;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		uint8_t d[8];

		if (tick % msgs[i].period_ticks != msgs[i].phase_ticks ||
		    (msgs[i].dpf_only && !o->dpf))
			continue;
		memset(d, 0xFF, sizeof(d));
		msgs[i].fill(o, e, d);
		out_frame(o, tick * TICK_US + slot++ * SLOT_US, msgs[i].prio, msgs[i].pgn,
			  msgs[i].sa, d);
	}
}

/* ---- labels ------------------------------------------------------------------- */

struct span {
	double a, b;
};

struct spans {
	struct span s[MAX_SPANS];
	int n;
	double open; /* start of the open run, or -1 */
};

/* Extend the runs with one tick at t where `on`. */
static void spans_note(struct spans *sp, int on, double t)
{
	if (on && sp->open < 0)
		sp->open = t;
	if (!on && sp->open >= 0) {
		if (sp->n < MAX_SPANS)
			sp->s[sp->n++] = (struct span){sp->open, t};
		sp->open = -1;
	}
}

static void print_span(FILE *f, const struct opts *op, const char *what, double a, double b)
{
	fprintf(f, "%s %.2f %.2f\n", what, (double)op->start + a, (double)op->start + b);
}

static void write_smoke(FILE *f, const struct opts *op, struct spans *sp, const char *what,
			double min_s)
{
	double a = -1, b = -1;

	/* keep runs of min_s (the truth: each run on its own), then merge
	 * those closer than SMOKE_MERGE_S */
	for (int i = 0; i <= sp->n; i++) {
		if (i < sp->n && sp->s[i].b - sp->s[i].a < min_s)
			continue;
		if (i < sp->n && a >= 0 && sp->s[i].a - b < SMOKE_MERGE_S) {
			b = sp->s[i].b;
			continue;
		}
		if (a >= 0)
			print_span(f, op, what, a, b);
		if (i < sp->n) {
			a = sp->s[i].a;
			b = sp->s[i].b;
		}
	}
}

/* ---- the run -------------------------------------------------------------------- */

/* The end (s) of the fault of kind k active at t, or 0. */
static double fault_on(const struct opts *op, enum fault_kind k, double t)
{
	for (int i = 0; i < op->n_faults; i++)
		if (op->faults[i].kind == k && t >= op->faults[i].at_s &&
		    t < op->faults[i].at_s + op->faults[i].len_s)
			return op->faults[i].at_s + op->faults[i].len_s;
	return 0;
}

static int regen_on(const struct opts *op, double t)
{
	for (int i = 0; i < op->n_regen; i++)
		if (t >= op->regen_at[i] && t < op->regen_at[i] + op->regen_len_s)
			return 1;
	return 0;
}

static void apply_faults(const struct opts *op, struct engine *e, struct plan *p, double t)
{
	double stuck_end = fault_on(op, F_STUCK_BOOST, t);

	/* a stuck turbo shows under load: the operator works hard throughout */
	if (stuck_end > 0 && !e->stuck) {
		p->idle = 0;
		p->seg = 0;
		if (p->cycles_left < 3)
			p->cycles_left = 3;
		p->demand_pct = rng_uniform(&p->rng, 90, 98);
		p->end_tick = s_to_ticks(stuck_end);
		p->dial_rpm = 0.95 * e->m->rated_rpm;
	}
	e->stuck = stuck_end > 0;
	e->clogged = fault_on(op, F_CLOGGED_FILTER, t);
	e->dpf_removed = op->dpf && fault_on(op, F_DPF_REMOVED, t);
	e->unplugged = fault_on(op, F_ECU_UNPLUGGED, t);
	e->nox_frozen = fault_on(op, F_NOX_FROZEN, t);
	e->regen = op->dpf && regen_on(op, t);
}

static int write_labels(const struct opts *op, struct spans *smoke, struct spans *haze,
			struct spans *cold, struct spans *regen, double engine_s)
{
	FILE *f = fopen(op->labels_path, "w");

	if (!f) {
		fprintf(stderr, "enginesim: %s: %s\n", op->labels_path, strerror(errno));
		return -1;
	}
	write_smoke(f, op, smoke, "smoke", SMOKE_MIN_S);
	write_smoke(f, op, haze, "haze", 0);
	for (int i = 0; i < op->n_faults; i++) {
		const struct fault *fl = &op->faults[i];
		double b =
		    fl->at_s + fl->len_s < op->duration_s ? fl->at_s + fl->len_s : op->duration_s;

		if (fl->kind == F_DPF_REMOVED && !op->dpf)
			continue;
		fprintf(f, "fault %s %.2f %.2f\n", fault_names[fl->kind],
			(double)op->start + fl->at_s, (double)op->start + b);
	}
	for (int i = 0; i < cold->n; i++)
		print_span(f, op, "trap cold", cold->s[i].a, cold->s[i].b);
	for (int i = 0; i < regen->n; i++)
		print_span(f, op, "trap regen", regen->s[i].a, regen->s[i].b);
	fprintf(f, "engine_s %.0f\n", engine_s);
	return fclose(f);
}

static void write_opacity(FILE *f, const struct engine *e, double t)
{
	double n = 100 * (1 - exp(-e->k_m1 * OPACITY_PATH_M));

	if (!e->unplugged)
		fprintf(f, "%.0f,%.2f,%.3f\n", t, n, e->k_m1);
}

static int run(const struct opts *op, FILE *f)
{
	static struct spans smoke, haze, cold, regen;
	struct plan plan = {.rng = {op->seed ^ 0x5eedULL}};
	struct out o = {.f = f, .start = op->start, .noise = {op->seed * 31 + 7}, .dpf = op->dpf};
	struct rng sensor = {op->seed * 77 + 1};
	struct engine e;
	FILE *opf = NULL;
	int64_t last = s_to_ticks(op->duration_s);
	double engine_s = 0;

	smoke.open = haze.open = cold.open = regen.open = -1;
	if (op->opacity_path && !(opf = fopen(op->opacity_path, "w"))) {
		fprintf(stderr, "enginesim: %s: %s\n", op->opacity_path, strerror(errno));
		return -1;
	}
	engine_init(&e, &machines[op->machine], &plan.rng, op->cold);
	e.cold = e.coolant_c < COLD_C;
	e.has_dpf = op->dpf;
	plan_idle(&plan, 0);
	for (int64_t tick = 0; tick <= last; tick++) {
		double t = tick * DT;

		if (tick >= plan.end_tick)
			plan_next(&plan, op->machine, tick);
		plan.wander = (plan.wander + 0.05 * rng_gauss(&plan.rng)) * 0.995;
		apply_faults(op, &e, &plan, t);
		engine_step(&e, &plan, &sensor);
		emit_tick(&o, &e, tick);
		engine_s += DT;
		spans_note(&smoke,
			   e.fuel_lph > 0 && e.lambda < SMOKE_LAMBDA &&
			       e.torque_pct >= SMOKE_LOAD && e.rpm >= SMOKE_RPM && !e.regen,
			   t);
		spans_note(&haze,
			   e.fuel_lph > 0 && e.lambda < HAZE_LAMBDA && e.torque_pct >= SMOKE_LOAD &&
			       e.rpm >= SMOKE_RPM && !e.regen,
			   t);
		spans_note(&cold, e.cold, t);
		spans_note(&regen, e.regen, t);
		if (opf && tick % 100 == 0)
			write_opacity(opf, &e, t);
	}
	spans_note(&smoke, 0, op->duration_s);
	spans_note(&haze, 0, op->duration_s);
	spans_note(&cold, 0, op->duration_s);
	spans_note(&regen, 0, op->duration_s);
	if (opf && fclose(opf) != 0)
		return -1;
	if (fflush(f) != 0 || ferror(f))
		return -1;
	if (op->labels_path && write_labels(op, &smoke, &haze, &cold, &regen, engine_s) != 0)
		return -1;
	return 0;
}

/* ---- options -------------------------------------------------------------------- */

/* NAME:START:LEN */
static int parse_fault(const char *s, struct opts *op)
{
	char buf[128], *a, *b;
	struct fault *fl;

	if (op->n_faults == MAX_FAULTS || snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	a = strchr(buf, ':');
	b = a ? strchr(a + 1, ':') : NULL;
	if (!a || !b)
		return -1;
	*a++ = '\0';
	*b++ = '\0';
	fl = &op->faults[op->n_faults];
	for (fl->kind = 0; fl->kind < F_N && strcmp(buf, fault_names[fl->kind]) != 0; fl->kind++)
		;
	if (fl->kind == F_N || parse_double(a, 0, 1e7, &fl->at_s) < 0 ||
	    parse_double(b, 1, 1e7, &fl->len_s) < 0)
		return -1;
	op->n_faults++;
	return 0;
}

static int parse_list(const char *s, double *out, int max, int *n)
{
	char buf[256], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (*n == max || parse_double(tok, 0, 1e7, &out[(*n)++]) < 0)
			return -1;
	return *n ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: enginesim [options]\n"
		   "  --machine excavator|loader|vessel  (default excavator)\n"
		   "  --duration S          length (default 1200)\n"
		   "  --start EPOCH         time of the first frame (default 1700000000)\n"
		   "  --seed N              random seed (default 1)\n"
		   "  --cold                start from a cold engine\n"
		   "  --dpf                 the machine has a DPF (AT1IMG and DPFC1 on the bus)\n"
		   "  --regen-at S[,S...]   active DPF regenerations (with --dpf)\n"
		   "  --regen-len S         their length (default 300)\n"
		   "  --fault NAME:START:LEN  stuck-boost, clogged-filter, dpf-removed,\n"
		   "                        ecu-unplugged, nox-frozen (repeatable)\n"
		   "  --smoke-at S[,S...]   stuck-boost faults of --smoke-len (default 10) s\n"
		   "  -o FILE               the trace (default stdout)\n"
		   "  --labels FILE         the truth (see the head of enginesim.c)\n"
		   "  --opacity FILE        1 Hz tailpipe opacity: t_s,opacity_pct,k_m1\n");
}

static int parse_opts(int argc, char **argv, struct opts *op)
{
	static const struct option lo[] = {
	    {"machine", 1, NULL, 'm'},	{"duration", 1, NULL, 'D'},  {"start", 1, NULL, 'S'},
	    {"seed", 1, NULL, 's'},	{"cold", 0, NULL, 'c'},	     {"dpf", 0, NULL, 'd'},
	    {"regen-at", 1, NULL, 'r'}, {"regen-len", 1, NULL, 'R'}, {"fault", 1, NULL, 'f'},
	    {"smoke-at", 1, NULL, 'a'}, {"smoke-len", 1, NULL, 'l'}, {"labels", 1, NULL, 'L'},
	    {"opacity", 1, NULL, 'O'},	{"help", 0, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	double smoke_at[32], smoke_len = 10, v;
	int c, n_smoke = 0;

	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'm':
			op->machine = strcmp(optarg, "loader") == 0   ? M_LOADER
				      : strcmp(optarg, "vessel") == 0 ? M_VESSEL
								      : M_EXCAVATOR;
			bad = op->machine == M_EXCAVATOR && strcmp(optarg, "excavator") != 0;
			break;
		case 'D':
			bad = parse_double(optarg, 1, 864000, &op->duration_s) < 0;
			break;
		case 'S':
			bad = parse_double(optarg, 0, 4e9, &v) < 0;
			op->start = (int64_t)v;
			break;
		case 's':
			bad = parse_double(optarg, 0, 1e15, &v) < 0;
			op->seed = (uint64_t)v;
			break;
		case 'c':
			op->cold = 1;
			break;
		case 'd':
			op->dpf = 1;
			break;
		case 'r':
			bad = parse_list(optarg, op->regen_at, 8, &op->n_regen) < 0;
			break;
		case 'R':
			bad = parse_double(optarg, 1, 1e5, &op->regen_len_s) < 0;
			break;
		case 'f':
			bad = parse_fault(optarg, op) < 0;
			break;
		case 'a':
			bad = parse_list(optarg, smoke_at, 32, &n_smoke) < 0;
			break;
		case 'l':
			bad = parse_double(optarg, 1, 600, &smoke_len) < 0;
			break;
		case 'L':
			op->labels_path = optarg;
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
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "enginesim: bad option or value%s%s\n", optarg ? ": " : "",
				optarg ? optarg : "");
			usage(stderr);
			return -1;
		}
	}
	for (int i = 0; i < n_smoke && op->n_faults < MAX_FAULTS; i++)
		op->faults[op->n_faults++] = (struct fault){F_STUCK_BOOST, smoke_at[i], smoke_len};
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct opts op = {.duration_s = 1200, .start = 1700000000, .seed = 1, .regen_len_s = 300};
	FILE *f = stdout;
	int rc;

	if (parse_opts(argc, argv, &op) < 0)
		return 2;
	if (op.out_path && !(f = fopen(op.out_path, "w"))) {
		fprintf(stderr, "enginesim: %s: %s\n", op.out_path, strerror(errno));
		return 1;
	}
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	rc = run(&op, f);
	if (f != stdout && fclose(f) != 0)
		rc = -1;
	return rc < 0 ? 1 : 0;
}
