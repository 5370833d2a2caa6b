#include "gateway/smoke.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gateway/clock.h"
#include "protocols/smokecalc.h"

/* The engine signals of an evidence row, in this order. */
static const enum sig_id smoke_fields[SMOKE_FIELDS] = {
    SIG_ENGINE_SPEED_RPM,  SIG_ENGINE_LOAD_PCT, SIG_ENGINE_TORQUE_PCT, SIG_ACCEL_PEDAL_PCT,
    SIG_BOOST_KPA,	   SIG_FUEL_RATE_LPH,	SIG_INTAKE_AIR_KGPH,   SIG_LAMBDA,
    SIG_OPACITY_K_M1,	   SIG_COOLANT_C,	SIG_EXHAUST_C,	       SIG_DPF_REGEN,
    SIG_VEHICLE_SPEED_KMH,
};

static const char *const smoke_rule_names[SMOKE_N_RULES] = {"lambda", "opacity", "transient"};
/* The quantity each rule judges, as named in its events. */
static const char *const smoke_quantity[SMOKE_N_RULES] = {"lambda", "opacity_k_m1",
							  "boost_deficit_kpa"};

/* What a rule saw this tick. */
struct smoke_eval {
	int enter;	  /* the condition that starts (and continues) a candidate */
	int stay;	  /* the looser condition that keeps an episode open */
	double q, load;	  /* the rule's quantity and the engine load */
	int64_t since_ms; /* >= 0: start an episode now, dated back to this tick */
};

static void smoke_episode_reset(struct smoke_episode *e)
{
	e->state = SMOKE_IDLE;
	e->since_ms = -1;
	e->clear_ms = -1;
	e->n = 0;
	e->q_sum = e->load_sum = e->q_peak = 0;
	e->n_head = 0;
}

void smoke_init(struct smoke *s, const struct config_smoke *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->spell_ms = -1;
	for (int r = 0; r < SMOKE_N_RULES; r++)
		smoke_episode_reset(&s->ep[r]);
	smoke_set_machine(s, 4, 75);
}

int smoke_set_machine(struct smoke *s, int stage, double rated_kw)
{
	struct smokecalc_table t;
	int rc;

	memcpy(t.k, s->cfg.gb36886, sizeof(t.k));
	rc = smokecalc_limit(&t, stage, rated_kw, &s->limit_k);
	if (rc < 0)
		s->limit_k = t.k[2][2];
	if (s->cfg.opacity_limit_k > 0)
		s->limit_k = s->cfg.opacity_limit_k;
	return rc < 0 ? -1 : 0;
}

int smoke_lambda_estimate(const struct config_smoke *c, double air_kgph, double fuel_lph,
			  double *lambda)
{
	/* Near-zero fuel (idle, overrun fuel cut) would give a huge or
	 * meaningless ratio: no estimate rather than a wrong number. */
	if (fuel_lph < c->min_fuel_lph || air_kgph < 0)
		return -1;
	*lambda = air_kgph / (fuel_lph * c->fuel_density) / c->afr_stoich;
	return 0;
}

void smoke_reconfigure(struct smoke *s, const struct config *cfg, int64_t now_ms,
		       payload_event_fn *emit, void *ctx)
{
	if (memcmp(&s->cfg, &cfg->smoke, sizeof(s->cfg)) != 0) {
		/* An open episode gets its end before the rule changes. */
		smoke_finish(s, now_ms, emit, ctx);
		smoke_init(s, &cfg->smoke);
	}
	smoke_set_machine(s, cfg->stage, cfg->rated_power_kw);
}

uint64_t smoke_episodes(const struct smoke *s)
{
	return s->starts;
}

int smoke_active(const struct smoke *s)
{
	int n = 0;

	for (int r = 0; r < SMOKE_N_RULES; r++)
		n += s->ep[r].state == SMOKE_ACTIVE;
	return n;
}

/* ---- events ---------------------------------------------------------------- */

/* The event of rule r's episode at now_ms (evidence: the `end`'s, or NULL). */
static void smoke_event(struct smoke *s, enum smoke_rule r, const char *state, int64_t now_ms,
			const struct payload_evidence *evidence)
{
	const struct smoke_episode *e = &s->ep[r];
	struct payload_event ev;
	double mean = e->n ? e->q_sum / e->n : 0;

	payload_event_init(&ev, PAYLOAD_EV_SMOKE);
	snprintf(ev.state, sizeof(ev.state), "%s", state);
	snprintf(ev.rule, sizeof(ev.rule), "%s", smoke_rule_names[r]);
	ev.since_ms = e->since_wall_ms;
	ev.duration_s = (double)(now_ms - e->since_ms) / 1000.0;
	snprintf(ev.quantity, sizeof(ev.quantity), "%s", smoke_quantity[r]);
	ev.peak = e->q_peak;
	ev.mean = mean;
	ev.load_mean_pct = e->n ? e->load_sum / e->n : 0;
	if (r == SMOKE_LAMBDA) { /* the documented names of the first rule */
		ev.lambda_min = e->q_peak;
		ev.lambda_mean = mean;
	} else if (r == SMOKE_OPACITY) {
		ev.k_max_m1 = e->q_peak;
		ev.k_mean_m1 = mean;
		ev.limit_k_m1 = s->limit_k;
	}
	if (evidence) {
		ev.ended_ms = e->end_wall_ms;
		snprintf(ev.end_reason, sizeof(ev.end_reason), "%s", e->end_reason);
		ev.evidence = evidence;
	}
	s->emit(s->ctx, &ev);
}

/* ---- evidence ---------------------------------------------------------------- */

static void smoke_sample_take(const struct table *t, int64_t now_ms, int64_t wall_ms,
			      struct smoke_sample *x)
{
	double v;

	x->mono_ms = now_ms;
	x->wall_ms = wall_ms;
	x->have = 0;
	for (int i = 0; i < SMOKE_FIELDS; i++) {
		x->v[i] = 0;
		if (table_get(t, smoke_fields[i], 0, now_ms, &v)) {
			x->v[i] = (float)v;
			x->have |= (uint16_t)(1u << i);
		}
	}
}

static const struct smoke_sample *smoke_ring_at(const struct smoke *s, int age)
{
	return &s->ring[(s->ring_next - 1 - age + 2 * SMOKE_RING) % SMOKE_RING];
}

static void smoke_head_add(struct smoke_episode *e, const struct smoke_sample *x)
{
	if (e->n_head < SMOKE_HEAD && x->mono_ms > e->head_last_ms) {
		e->head[e->n_head++] = *x;
		e->head_last_ms = x->mono_ms;
	}
}

/* An episode begins: its head starts evidence_s before `since`. */
static void smoke_head_begin(struct smoke *s, struct smoke_episode *e)
{
	int64_t from = e->since_ms - (int64_t)s->cfg.evidence_s * 1000;

	e->n_head = 0;
	e->head_last_ms = INT64_MIN;
	for (int age = s->ring_n - 1; age >= 0; age--) {
		const struct smoke_sample *x = smoke_ring_at(s, age);

		if (x->mono_ms >= from)
			smoke_head_add(e, x);
	}
}

static void smoke_row(const struct smoke_sample *x, int64_t from_ms, struct payload_evidence *ev)
{
	struct payload_evidence_row *row;

	if (ev->n_rows == PAYLOAD_EVIDENCE_ROWS)
		return; /* cannot happen: head and ring together fit */
	row = &ev->rows[ev->n_rows++];
	row->t_s = (double)(x->mono_ms - from_ms) / 1000.0;
	row->have = 0;
	for (int i = 0; i < SMOKE_FIELDS; i++) {
		/* Round to what the sensors resolve: shorter rows, no float
		 * noise; JSON has no inf or nan, so such a value is missing. */
		row->v[i] = round((double)x->v[i] * 100.0) / 100.0;
		if (x->have & (1u << i) && isfinite(row->v[i]))
			row->have |= 1u << i;
	}
}

/* {"from", "fields", "rows":[[t_s, v...]], "skipped_s"}: the head, then what
 * the ring still holds after it, up to evidence_s past the true end. */
static void smoke_evidence(struct smoke *s, const struct smoke_episode *e)
{
	int64_t upto = e->end_ms + (int64_t)s->cfg.evidence_s * 1000, from_ms, last;
	struct payload_evidence *ev = &s->evidence;
	double skipped = 0;

	from_ms = e->n_head ? e->head[0].mono_ms : e->since_ms;
	ev->from_ms = e->n_head ? e->head[0].wall_ms : e->since_wall_ms;
	ev->n_fields = SMOKE_FIELDS;
	memcpy(ev->fields, smoke_fields, sizeof(smoke_fields));
	ev->n_rows = 0;
	for (int i = 0; i < e->n_head; i++)
		smoke_row(&e->head[i], from_ms, ev);
	last = e->n_head ? e->head_last_ms : INT64_MIN;
	for (int age = s->ring_n - 1; age >= 0; age--) {
		const struct smoke_sample *x = smoke_ring_at(s, age);

		if (x->mono_ms <= last || x->mono_ms > upto)
			continue;
		if (last != INT64_MIN && x->mono_ms - last > 1500 && !skipped)
			skipped = (double)(x->mono_ms - last) / 1000.0 - 1;
		smoke_row(x, from_ms, ev);
		last = x->mono_ms;
	}
	ev->skipped_s = skipped;
}

/* The `end` of a closing episode, with its evidence; the rule is idle again. */
static void smoke_send_end(struct smoke *s, enum smoke_rule r)
{
	struct smoke_episode *e = &s->ep[r];

	smoke_evidence(s, e);
	smoke_event(s, r, "end", e->end_ms, &s->evidence);
	smoke_episode_reset(e);
}

/* The episode is over at end_ms; its `end` waits for evidence_s more. */
static void smoke_close(struct smoke *s, enum smoke_rule r, int64_t end_ms, const char *why)
{
	struct smoke_episode *e = &s->ep[r];

	e->state = SMOKE_CLOSING;
	e->end_ms = end_ms;
	e->end_wall_ms = e->since_wall_ms + (end_ms - e->since_ms);
	e->end_reason = why;
	if (r == SMOKE_TRANSIENT)
		s->n_steps = 0; /* the failed steps belonged to this episode */
	if (s->cfg.evidence_s == 0)
		smoke_send_end(s, r);
}

/* ---- the rules ------------------------------------------------------------ */

/* Engine load: SPN 92 where the engine sends it, else actual torque. */
static int smoke_load(const struct table *t, int64_t now_ms, double *load)
{
	return table_get(t, SIG_ENGINE_LOAD_PCT, 0, now_ms, load) ||
	       table_get(t, SIG_ENGINE_TORQUE_PCT, 0, now_ms, load);
}

/* Why no rule may judge now: cranking or stopped, a cold engine, an active
 * DPF regeneration (each only where the signal is there), or NULL. */
static const char *smoke_exempt(const struct smoke *s, const struct table *t, int64_t now_ms)
{
	double v;

	if (s->cfg.crank_rpm > 0 && table_get(t, SIG_ENGINE_SPEED_RPM, 0, now_ms, &v) &&
	    v < s->cfg.crank_rpm)
		return "cranking";
	if (table_get(t, SIG_COOLANT_C, 0, now_ms, &v) && v < s->cfg.warmup_c)
		return "warmup";
	if (s->cfg.regen_exempt && table_get(t, SIG_DPF_REGEN, 0, now_ms, &v) && v >= 0.5)
		return "regeneration";
	return NULL;
}

static void smoke_eval_lambda(const struct smoke *s, int have_lambda, double lambda, int have_load,
			      double load, struct smoke_eval *ev)
{
	const struct config_smoke *c = &s->cfg;

	ev->q = lambda;
	ev->load = load;
	ev->enter = have_lambda && have_load && lambda < c->lambda_max && load >= c->min_load_pct;
	ev->stay = have_lambda && have_load && lambda < c->lambda_exit &&
		   load >= c->min_load_pct - c->load_hyst_pct;
}

/* k from the meter's k, else from its N % and the path length. */
static int smoke_opacity_k(const struct smoke *s, const struct table *t, int64_t now_ms, double *k)
{
	double n;

	if (table_get(t, SIG_OPACITY_K_M1, 0, now_ms, k))
		return 1;
	return table_get(t, SIG_OPACITY_PCT, 0, now_ms, &n) &&
	       smokecalc_k_from_n(n, s->cfg.opacity_path_m, k) == SMOKECALC_OK;
}

static void smoke_eval_opacity(const struct smoke *s, const struct table *t, int64_t now_ms,
			       int have_load, double load, struct smoke_eval *ev)
{
	const struct config_smoke *c = &s->cfg;
	double k = 0;
	int have_k = smoke_opacity_k(s, t, now_ms, &k);
	int loaded = c->opacity_min_load_pct <= 0 || (have_load && load >= c->opacity_min_load_pct);
	int still = c->opacity_min_load_pct <= 0 ||
		    (have_load && load >= c->opacity_min_load_pct - c->load_hyst_pct);

	ev->q = k;
	ev->load = have_load ? load : 0;
	ev->enter = have_k && loaded && k > s->limit_k;
	ev->stay = have_k && still && k >= s->limit_k * c->opacity_exit_ratio;
}

/* Seconds-old failed steps drop out of the window. */
static int smoke_steps_recent(struct smoke *s, int64_t now_ms)
{
	int keep = 0;

	for (int i = 0; i < s->n_steps; i++)
		if (now_ms - s->steps[i] <= s->cfg.transient_window_ms)
			s->steps[keep++] = s->steps[i];
	s->n_steps = keep;
	return keep;
}

static void smoke_step_failed(struct smoke *s, int64_t at_ms)
{
	if (s->n_steps == SMOKE_STEPS) {
		memmove(s->steps, s->steps + 1, sizeof(s->steps[0]) * (SMOKE_STEPS - 1));
		s->n_steps--;
	}
	s->steps[s->n_steps++] = at_ms;
}

/* Lagging: above transient_min_rpm and the load, boost is below
 * boost_frac of what a healthy turbo gives at this load.  A normal turbo lag
 * lasts a second or two after a step; a lag longer than transient_lag is a
 * failed step; `repeat` of them within the window, or one lasting
 * transient_min_duration, is an episode. */
static void smoke_eval_transient(struct smoke *s, const struct table *t, int64_t now_ms,
				 int have_load, double load, struct smoke_eval *ev)
{
	const struct config_smoke *c = &s->cfg;
	double rpm, boost, want;
	int ok = have_load && table_get(t, SIG_ENGINE_SPEED_RPM, 0, now_ms, &rpm) &&
		 table_get(t, SIG_BOOST_KPA, 0, now_ms, &boost) && rpm >= c->transient_min_rpm;
	int lag, lag_loose;

	want = ok ? c->transient_boost_full_kpa * load / 100.0 * c->transient_boost_frac : 0;
	lag = ok && load >= c->transient_min_load_pct && boost < want;
	lag_loose = ok && load >= c->transient_min_load_pct - c->load_hyst_pct && boost < want;
	ev->q = ok && want > boost ? want / c->transient_boost_frac - boost : 0;
	ev->load = have_load ? load : 0;
	ev->stay = lag_loose;
	ev->enter = lag;
	if (!lag) {
		s->spell_ms = -1;
		s->spell_counted = 0;
		return;
	}
	if (s->spell_ms < 0)
		s->spell_ms = now_ms;
	if (!s->spell_counted && now_ms - s->spell_ms >= c->transient_lag_ms) {
		s->spell_counted = 1;
		smoke_step_failed(s, s->spell_ms);
	}
	if (smoke_steps_recent(s, now_ms) >= c->transient_repeat)
		ev->since_ms = s->steps[s->n_steps - c->transient_repeat];
}

/* ---- the episode machine, the same for every rule ------------------------- */

static void smoke_accumulate(struct smoke_episode *e, enum smoke_rule r, double q, double load)
{
	int lower = r == SMOKE_LAMBDA; /* lambda's worst is its minimum */

	if (e->n == 0 || (lower ? q < e->q_peak : q > e->q_peak))
		e->q_peak = q;
	e->q_sum += q;
	e->load_sum += load;
	e->n++;
}

static int smoke_exit_ms(const struct smoke *s, enum smoke_rule r)
{
	return r == SMOKE_TRANSIENT ? s->cfg.transient_exit_ms : 0;
}

static int smoke_min_ms(const struct smoke *s, enum smoke_rule r)
{
	switch (r) {
	case SMOKE_OPACITY:
		return s->cfg.opacity_min_duration_ms;
	case SMOKE_TRANSIENT:
		return s->cfg.transient_min_duration_ms;
	default:
		return s->cfg.min_duration_ms;
	}
}

static void smoke_activate(struct smoke *s, enum smoke_rule r, int64_t now_ms)
{
	struct smoke_episode *e = &s->ep[r];

	e->state = SMOKE_ACTIVE;
	e->last_update_ms = now_ms;
	e->clear_ms = -1;
	smoke_head_begin(s, e);
	s->starts++;
	smoke_event(s, r, "start", now_ms, NULL);
}

static void smoke_candidate(struct smoke *s, enum smoke_rule r, const struct smoke_eval *ev,
			    const char *exempt, int64_t now_ms, int64_t wall_ms)
{
	struct smoke_episode *e = &s->ep[r];
	int quiet = exempt || !ev->enter;

	if (e->state == SMOKE_CLOSING) {
		if (quiet)
			return;	      /* the `end` waits for its evidence */
		smoke_send_end(s, r); /* a new candidate: the old end goes now */
	}
	if (quiet) {
		e->since_ms = -1;
		e->n = 0;
		e->q_sum = e->load_sum = 0;
		return;
	}
	if (ev->since_ms >= 0 && (e->since_ms < 0 || ev->since_ms < e->since_ms)) {
		e->since_ms = ev->since_ms;
		e->since_wall_ms = wall_ms - (now_ms - ev->since_ms);
	} else if (e->since_ms < 0) {
		e->since_ms = now_ms;
		e->since_wall_ms = wall_ms;
	}
	if (ev->enter)
		smoke_accumulate(e, r, ev->q, ev->load);
	if (ev->since_ms >= 0 || now_ms - e->since_ms >= smoke_min_ms(s, r)) {
		if (e->n == 0)
			smoke_accumulate(e, r, ev->q, ev->load);
		smoke_activate(s, r, now_ms);
	}
}

static void smoke_active_tick(struct smoke *s, enum smoke_rule r, const struct smoke_eval *ev,
			      const char *exempt, int64_t now_ms)
{
	struct smoke_episode *e = &s->ep[r];
	int update_ms = s->cfg.update_ms > 0 ? s->cfg.update_ms : SMOKE_UPDATE_MS;

	if (!exempt && ev->stay) {
		e->clear_ms = -1;
		smoke_accumulate(e, r, ev->q, ev->load);
		if (now_ms - e->last_update_ms >= update_ms) {
			e->last_update_ms = now_ms;
			smoke_event(s, r, "update", now_ms, NULL);
		}
		return;
	}
	if (e->clear_ms < 0)
		e->clear_ms = now_ms;
	if (exempt)
		smoke_close(s, r, e->clear_ms, exempt);
	else if (now_ms - e->clear_ms >= smoke_exit_ms(s, r))
		smoke_close(s, r, e->clear_ms, "clear");
}

static void smoke_rule_tick(struct smoke *s, enum smoke_rule r, const struct smoke_eval *ev,
			    const char *exempt, int64_t now_ms, int64_t wall_ms)
{
	struct smoke_episode *e = &s->ep[r];

	if (e->state == SMOKE_ACTIVE) {
		smoke_active_tick(s, r, ev, exempt, now_ms);
		return;
	}
	if (e->state == SMOKE_CLOSING && now_ms >= e->end_ms + (int64_t)s->cfg.evidence_s * 1000)
		smoke_send_end(s, r);
	smoke_candidate(s, r, ev, exempt, now_ms, wall_ms);
}

static void smoke_ring_push(struct smoke *s, const struct table *t, int64_t now_ms, int64_t wall_ms)
{
	smoke_sample_take(t, now_ms, wall_ms, &s->ring[s->ring_next]);
	s->ring_next = (s->ring_next + 1) % SMOKE_RING;
	if (s->ring_n < SMOKE_RING)
		s->ring_n++;
	for (int r = 0; r < SMOKE_N_RULES; r++)
		if (s->ep[r].state != SMOKE_IDLE)
			smoke_head_add(&s->ep[r], smoke_ring_at(s, 0));
}

void smoke_tick(struct smoke *s, struct table *t, int64_t now_ms, int64_t wall_ms,
		payload_event_fn *emit, void *ctx)
{
	struct smoke_eval ev[SMOKE_N_RULES];
	double air, fuel, lambda = 0, load = 0;
	int have_lambda = 0, have_load;
	const char *exempt;
	const int on[SMOKE_N_RULES] = {s->cfg.lambda_enabled, s->cfg.opacity_enabled,
				       s->cfg.transient_enabled};

	if (table_get(t, SIG_INTAKE_AIR_KGPH, 0, now_ms, &air) &&
	    table_get(t, SIG_FUEL_RATE_LPH, 0, now_ms, &fuel) &&
	    smoke_lambda_estimate(&s->cfg, air, fuel, &lambda) == 0) {
		have_lambda = 1;
		table_set(t, SIG_LAMBDA, 0, lambda, now_ms, 0);
	}
	if (!s->cfg.enabled)
		return;
	s->emit = emit;
	s->ctx = ctx;
	have_load = smoke_load(t, now_ms, &load);
	smoke_ring_push(s, t, now_ms, wall_ms);
	exempt = smoke_exempt(s, t, now_ms);
	for (int r = 0; r < SMOKE_N_RULES; r++)
		ev[r] = (struct smoke_eval){.since_ms = -1};
	smoke_eval_lambda(s, have_lambda, lambda, have_load, load, &ev[SMOKE_LAMBDA]);
	smoke_eval_opacity(s, t, now_ms, have_load, load, &ev[SMOKE_OPACITY]);
	smoke_eval_transient(s, t, now_ms, have_load, load, &ev[SMOKE_TRANSIENT]);
	for (int r = 0; r < SMOKE_N_RULES; r++)
		if (on[r] || s->ep[r].state != SMOKE_IDLE)
			smoke_rule_tick(s, (enum smoke_rule)r, &ev[r], on[r] ? exempt : "disabled",
					now_ms, wall_ms);
}

void smoke_finish(struct smoke *s, int64_t now_ms, payload_event_fn *emit, void *ctx)
{
	s->emit = emit;
	s->ctx = ctx;
	for (int r = 0; r < SMOKE_N_RULES; r++) {
		if (s->ep[r].state == SMOKE_ACTIVE)
			smoke_close(s, (enum smoke_rule)r, now_ms, "shutdown");
		if (s->ep[r].state == SMOKE_CLOSING)
			smoke_send_end(s, (enum smoke_rule)r);
	}
}
