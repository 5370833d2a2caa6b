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

/* The inputs kept at signal rate for the episode, in this order. */
static const enum sig_id smoke_raw_fields[SMOKE_RAW_FIELDS] = {
    SIG_ENGINE_SPEED_RPM, SIG_ENGINE_TORQUE_PCT, SIG_ENGINE_LOAD_PCT, SIG_BOOST_KPA,
    SIG_INTAKE_AIR_KGPH,  SIG_FUEL_RATE_LPH,	 SIG_OPACITY_K_M1,    SIG_OPACITY_PCT,
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

/* The inputs whose freshness is judged by their own period. */
static const enum sig_id smoke_inputs[SMOKE_INPUTS] = {
    SIG_ENGINE_SPEED_RPM, SIG_ENGINE_LOAD_PCT, SIG_ENGINE_TORQUE_PCT,
    SIG_INTAKE_AIR_KGPH,  SIG_FUEL_RATE_LPH,   SIG_BOOST_KPA,
    SIG_OPACITY_K_M1,	  SIG_OPACITY_PCT,     SIG_COOLANT_C,
    SIG_DPF_REGEN,	  SIG_LAMBDA,	       SIG_EXHAUST_C,
};

static void smoke_spell_reset(struct smoke_spell *e)
{
	e->state = SMOKE_IDLE;
	e->since_ms = -1;
	e->clear_ms = -1;
	e->miss_ms = -1;
	e->lag_event = 0;
	e->n = 0;
	e->q_sum = e->load_sum = e->q_peak = 0;
}

static void smoke_episode_reset(struct smoke_episode *e)
{
	e->state = SMOKE_IDLE;
	e->rules = 0;
	e->n_load = 0;
	e->load_sum = 0;
	for (int r = 0; r < SMOKE_N_RULES; r++) {
		e->n[r] = 0;
		e->q_sum[r] = e->q_peak[r] = 0;
	}
	e->n_head = 0;
}

void smoke_init(struct smoke *s, const struct config_smoke *cfg)
{
	memset(s, 0, sizeof(*s));
	smoke_init_zeroed(s, cfg);
}

void smoke_init_zeroed(struct smoke *s, const struct config_smoke *cfg)
{
	s->cfg = *cfg;
	s->spell_ms = -1;
	s->running_ms = -1;
	memset(s->slot, -1, sizeof(s->slot));
	for (int i = 0; i < SMOKE_INPUTS; i++)
		s->slot[smoke_inputs[i]] = (int8_t)i;
	for (int r = 0; r < SMOKE_N_RULES; r++)
		smoke_spell_reset(&s->rule[r]);
	smoke_episode_reset(&s->ep);
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
	return s->ep.state == SMOKE_ACTIVE;
}

/* A table value at signal rate: valid, fresh by the table's staleness and
 * no older than three of its own periods (seen between its writes). */
static int smoke_get(struct smoke *s, const struct table *t, enum sig_id sig, int64_t now_ms,
		     double *v)
{
	int64_t at = t->e[sig][0].mono_ms;
	struct smoke_input *in = s->slot[sig] >= 0 ? &s->in[s->slot[sig]] : NULL;

	if (in && at != in->last_ms) {
		if (in->last_ms > 0 && at > in->last_ms)
			in->period_ms = at - in->last_ms;
		in->last_ms = at;
	}
	if (in && in->period_ms > 0 && now_ms - at > 3 * in->period_ms)
		return 0;
	return table_get(t, sig, 0, now_ms, v);
}

/* ---- events ---------------------------------------------------------------- */

static void smoke_rules_text(unsigned rules, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (int r = 0; r < SMOKE_N_RULES; r++)
		if (rules & (1u << r))
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "",
					      smoke_rule_names[r]);
}

/* high: two independent measurements (lambda and opacity) agree; medium:
 * one of them with boost lagging the load; low: one measurement alone. */
static const char *smoke_confidence(unsigned rules)
{
	unsigned both = (1u << SMOKE_LAMBDA) | (1u << SMOKE_OPACITY);

	if ((rules & both) == both)
		return "high";
	return rules & (1u << SMOKE_TRANSIENT) ? "medium" : "low";
}

/* The event of the episode at now_ms (evidence: the `end`'s, or NULL). */
static void smoke_event(struct smoke *s, const char *state, int64_t now_ms,
			const struct payload_evidence *evidence)
{
	const struct smoke_episode *e = &s->ep;
	struct payload_event ev;
	int r = e->first;

	payload_event_init(&ev, PAYLOAD_EV_SMOKE);
	snprintf(ev.state, sizeof(ev.state), "%s", state);
	snprintf(ev.rule, sizeof(ev.rule), "%s", smoke_rule_names[r]);
	smoke_rules_text(e->rules, ev.rules, sizeof(ev.rules));
	snprintf(ev.confidence, sizeof(ev.confidence), "%s", smoke_confidence(e->rules));
	ev.since_ms = e->since_wall_ms;
	ev.duration_s = (double)(now_ms - e->since_ms) / 1000.0;
	snprintf(ev.quantity, sizeof(ev.quantity), "%s", smoke_quantity[r]);
	ev.peak = e->q_peak[r];
	ev.mean = e->n[r] ? e->q_sum[r] / e->n[r] : 0;
	ev.load_mean_pct = e->n_load ? e->load_sum / e->n_load : 0;
	if (e->n[SMOKE_LAMBDA]) { /* the documented names of each rule's numbers */
		ev.lambda_min = e->q_peak[SMOKE_LAMBDA];
		ev.lambda_mean = e->q_sum[SMOKE_LAMBDA] / e->n[SMOKE_LAMBDA];
	}
	if (e->n[SMOKE_OPACITY]) {
		ev.k_max_m1 = e->q_peak[SMOKE_OPACITY];
		ev.k_mean_m1 = e->q_sum[SMOKE_OPACITY] / e->n[SMOKE_OPACITY];
		ev.limit_k_m1 = s->limit_k;
	}
	if (e->n[SMOKE_TRANSIENT])
		ev.boost_deficit_kpa = e->q_peak[SMOKE_TRANSIENT];
	if (evidence) {
		ev.ended_ms = e->end_wall_ms;
		snprintf(ev.end_reason, sizeof(ev.end_reason), "%s", e->end_reason);
		ev.evidence = evidence;
	}
	s->emit(s->ctx, &ev);
}

/* Boost trailing the load with no smoke to confirm it: a diagnostic. */
static void smoke_lag_event(struct smoke *s, const char *state, int64_t now_ms, const char *why)
{
	const struct smoke_spell *e = &s->rule[SMOKE_TRANSIENT];
	struct payload_event ev;

	payload_event_init(&ev, PAYLOAD_EV_TURBO_LAG);
	snprintf(ev.state, sizeof(ev.state), "%s", state);
	ev.since_ms = e->since_wall_ms;
	ev.duration_s = (double)(now_ms - e->since_ms) / 1000.0;
	ev.boost_deficit_kpa = e->q_peak;
	ev.load_mean_pct = e->n ? e->load_sum / e->n : 0;
	if (why) {
		ev.ended_ms = e->since_wall_ms + (now_ms - e->since_ms);
		snprintf(ev.end_reason, sizeof(ev.end_reason), "%s", why);
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
	for (int i = 0; i < ev->raw.n_fields; i++)
		for (int k = 0; k < ev->raw.n[i]; k++)
			ev->raw.p[i][k].t_s = (ev->raw.p[i][k].t_s - (double)from_ms) / 1000.0;
}

/* ---- evidence at signal rate ------------------------------------------------ */

/* Every four points kept become their lowest and highest, in time order. */
static void smoke_raw_compact(struct smoke_raw *r)
{
	int kept = 0;

	for (int g = 0; g < r->n; g += 4) {
		int lo = g, hi = g, end = g + 4 < r->n ? g + 4 : r->n;

		for (int i = g + 1; i < end; i++) {
			if (r->p[i].v < r->p[lo].v)
				lo = i;
			if (r->p[i].v > r->p[hi].v)
				hi = i;
		}
		r->p[kept++] = r->p[lo < hi ? lo : hi];
		if (lo != hi)
			r->p[kept++] = r->p[lo < hi ? hi : lo];
	}
	r->n = kept;
	r->per *= 2;
}

static void smoke_raw_append(struct smoke_raw *r, const struct smoke_raw_point *x)
{
	if (r->n == SMOKE_RAW_POINTS)
		smoke_raw_compact(r);
	r->p[r->n++] = *x;
}

/* The open bucket's extremes join the points kept. */
static void smoke_raw_flush(struct smoke_raw *r)
{
	if (r->in_bucket == 0)
		return;
	r->in_bucket = 0;
	smoke_raw_append(r, r->lo.mono_ms <= r->hi.mono_ms ? &r->lo : &r->hi);
	if (r->lo.mono_ms != r->hi.mono_ms)
		smoke_raw_append(r, r->lo.mono_ms <= r->hi.mono_ms ? &r->hi : &r->lo);
}

static void smoke_raw_add(struct smoke_raw *r, int64_t mono_ms, double v)
{
	struct smoke_raw_point x = {mono_ms, v};

	r->received++;
	if (r->per == 1) {
		smoke_raw_append(r, &x);
		return;
	}
	if (r->in_bucket == 0 || v < r->lo.v)
		r->lo = x;
	if (r->in_bucket == 0 || v > r->hi.v)
		r->hi = x;
	if (++r->in_bucket == 2 * r->per)
		smoke_raw_flush(r);
}

/* Recording starts: each input from its newest value. */
static void smoke_raw_begin(struct smoke *s, const struct table *t)
{
	for (int i = 0; i < SMOKE_RAW_FIELDS; i++) {
		struct smoke_raw *r = &s->raw[i];
		const struct table_entry *x = &t->e[smoke_raw_fields[i]][0];

		r->n = r->in_bucket = 0;
		r->received = 0;
		r->per = 1;
		if (x->quality == TABLE_OK && x->mono_ms > 0)
			smoke_raw_add(r, x->mono_ms, x->value);
	}
	s->raw_on = 1;
}

/* The values written since the last look, each with its table time. */
static void smoke_raw_take(struct smoke *s, const struct table *t)
{
	for (int i = 0; i < SMOKE_RAW_FIELDS; i++) {
		struct smoke_raw *r = &s->raw[i];
		const struct table_entry *x = &t->e[smoke_raw_fields[i]][0];

		if (x->mono_ms == r->seen_ms)
			continue;
		r->seen_ms = x->mono_ms;
		if (s->raw_on && x->quality == TABLE_OK)
			smoke_raw_add(r, x->mono_ms, x->value);
	}
}

/* Record while a confirming rule's candidate or an episode is open. */
static void smoke_raw_follow(struct smoke *s, const struct table *t)
{
	int on = s->ep.state == SMOKE_ACTIVE || s->rule[SMOKE_LAMBDA].since_ms >= 0 ||
		 s->rule[SMOKE_OPACITY].since_ms >= 0;

	if (on && !s->raw_on)
		smoke_raw_begin(s, t);
	s->raw_on = on;
}

/* The episode starts at since_ms: what came before its start goes. */
static void smoke_raw_trim(struct smoke *s, int64_t since_ms)
{
	for (int i = 0; i < SMOKE_RAW_FIELDS; i++) {
		struct smoke_raw *r = &s->raw[i];
		int drop = 0;

		while (drop < r->n && r->p[drop].mono_ms < since_ms)
			drop++;
		memmove(r->p, r->p + drop, sizeof(r->p[0]) * (size_t)(r->n - drop));
		r->n -= drop;
		r->received -= (int64_t)drop * r->per;
		if (r->received < r->n)
			r->received = r->n;
	}
}

/* The episode closed at end_ms: its raw values into the evidence of its
 * `end` (t_s holds the monotonic ms until smoke_evidence knows `from`). */
static void smoke_raw_close(struct smoke *s, const struct smoke_episode *e)
{
	struct payload_raw *out = &s->evidence.raw;

	out->n_fields = 0;
	for (int i = 0; i < SMOKE_RAW_FIELDS; i++) {
		struct smoke_raw *r = &s->raw[i];
		int f = out->n_fields, n = 0;

		smoke_raw_flush(r);
		for (int k = 0; k < r->n; k++)
			if (r->p[k].mono_ms >= e->since_ms && r->p[k].mono_ms <= e->end_ms)
				out->p[f][n++] =
				    (struct payload_raw_point){(double)r->p[k].mono_ms, r->p[k].v};
		if (n == 0)
			continue;
		out->fields[f] = smoke_raw_fields[i];
		out->n[f] = n;
		out->received[f] = r->received < n ? n : r->received;
		out->n_fields++;
	}
	s->raw_on = 0; /* a new candidate records afresh */
}

/* The `end` of the closing episode, with its evidence; none is open again. */
static void smoke_send_end(struct smoke *s)
{
	struct smoke_episode *e = &s->ep;

	smoke_evidence(s, e);
	smoke_event(s, "end", e->end_ms, &s->evidence);
	smoke_episode_reset(e);
}

/* Rule r has left at end_ms.  A turbo-lag it announced ends; the episode
 * ends once no confirming rule (lambda, opacity) is left in it, its `end`
 * waiting for evidence_s more. */
static void smoke_close(struct smoke *s, enum smoke_rule r, int64_t end_ms, const char *why)
{
	struct smoke_spell *sp = &s->rule[r];
	struct smoke_episode *e = &s->ep;

	if (sp->lag_event)
		smoke_lag_event(s, "end", end_ms, why);
	if (r == SMOKE_TRANSIENT)
		s->n_steps = 0; /* the failed steps belonged to this spell */
	smoke_spell_reset(sp);
	if (e->state != SMOKE_ACTIVE || s->rule[SMOKE_LAMBDA].state == SMOKE_ACTIVE ||
	    s->rule[SMOKE_OPACITY].state == SMOKE_ACTIVE || r == SMOKE_TRANSIENT)
		return;
	e->state = SMOKE_CLOSING;
	e->end_ms = end_ms;
	e->end_wall_ms = e->since_wall_ms + (end_ms - e->since_ms);
	e->end_reason = why;
	smoke_raw_close(s, e);
	if (s->cfg.evidence_s == 0)
		smoke_send_end(s);
}

/* ---- the rules ------------------------------------------------------------ */

/* Engine load: SPN 92 where the engine sends it, else actual torque. */
static int smoke_load(struct smoke *s, const struct table *t, int64_t now_ms, double *load)
{
	return smoke_get(s, t, SIG_ENGINE_LOAD_PCT, now_ms, load) ||
	       smoke_get(s, t, SIG_ENGINE_TORQUE_PCT, now_ms, load);
}

/* The engine's start: below crank_rpm it is cranking or stopped; once above,
 * the first start_exempt_ms are still the start (rich by design). */
static const char *smoke_starting(struct smoke *s, const struct table *t, int64_t now_ms)
{
	double rpm;

	if (s->cfg.crank_rpm <= 0 || !smoke_get(s, t, SIG_ENGINE_SPEED_RPM, now_ms, &rpm))
		return NULL;
	if (rpm < s->cfg.crank_rpm) {
		s->was_stopped = 1;
		s->running_ms = -1;
		return "cranking";
	}
	if (s->was_stopped && s->running_ms < 0)
		s->running_ms = now_ms;
	if (s->running_ms >= 0 && now_ms - s->running_ms < s->cfg.start_exempt_ms)
		return "start";
	return NULL;
}

/* Why no rule may judge now: cranking or the first seconds after start,
 * fuel cut, a cold engine at low load (cold-idle enrichment; under load a
 * cold engine's smoke is real), an active DPF regeneration (each only where
 * the signal is there), or NULL. */
static const char *smoke_exempt(struct smoke *s, const struct table *t, int64_t now_ms,
				int have_load, double load)
{
	const char *why = smoke_starting(s, t, now_ms);
	double v;

	if (why)
		return why;
	if (s->cfg.fuel_cut_exempt && smoke_get(s, t, SIG_FUEL_RATE_LPH, now_ms, &v) &&
	    v < s->cfg.min_fuel_lph)
		return "fuel-cut";
	if (smoke_get(s, t, SIG_COOLANT_C, now_ms, &v) && v < s->cfg.warmup_c &&
	    (!have_load || load < s->cfg.cold_load_pct))
		return "warmup";
	if (s->cfg.regen_exempt && smoke_get(s, t, SIG_DPF_REGEN, now_ms, &v) && v >= 0.5)
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
static int smoke_opacity_k(struct smoke *s, const struct table *t, int64_t now_ms, double *k)
{
	double n;

	if (smoke_get(s, t, SIG_OPACITY_K_M1, now_ms, k))
		return 1;
	return smoke_get(s, t, SIG_OPACITY_PCT, now_ms, &n) &&
	       smokecalc_k_from_n(n, s->cfg.opacity_path_m, k) == SMOKECALC_OK;
}

static void smoke_eval_opacity(struct smoke *s, const struct table *t, int64_t now_ms,
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

/* Lagging: above transient_min_rpm and the load (or the demand), boost is below
 * boost_frac of what a healthy turbo gives at this load.  A normal turbo lag
 * lasts a second or two after a step; a lag longer than transient_lag is a
 * failed step; `repeat` of them within the window, or one lasting
 * transient_min_duration, is a spell. */
static void smoke_eval_transient(struct smoke *s, const struct table *t, int64_t now_ms,
				 int have_load, double load, struct smoke_eval *ev)
{
	const struct config_smoke *c = &s->cfg;
	double rpm, boost, want, demand;
	int ok, lag, lag_loose;

	/* What was asked for (driver's demand, SPN 512) where it is sent: a
	 * smoke limiter holding the torque back hides the step in the load. */
	if (smoke_get(s, t, SIG_DEMAND_TORQUE_PCT, now_ms, &demand) &&
	    (!have_load || demand > load)) {
		load = demand;
		have_load = 1;
	}
	ok = have_load && smoke_get(s, t, SIG_ENGINE_SPEED_RPM, now_ms, &rpm) &&
	     smoke_get(s, t, SIG_BOOST_KPA, now_ms, &boost) && rpm >= c->transient_min_rpm;

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

/* ---- the spell machine, the same for every rule, and the episode ---------- */

static void smoke_peak(double *peak, int n, enum smoke_rule r, double q)
{
	int lower = r == SMOKE_LAMBDA; /* lambda's worst is its minimum */

	if (n == 0 || (lower ? q < *peak : q > *peak))
		*peak = q;
}

/* Rule r holds with q at load: its spell's numbers (from its candidate's
 * first moment), and the episode's when it is a member. */
static void smoke_accumulate(struct smoke *s, enum smoke_rule r, double q, double load)
{
	struct smoke_episode *e = &s->ep;
	struct smoke_spell *sp = &s->rule[r];

	smoke_peak(&sp->q_peak, sp->n, r, q);
	sp->q_sum += q;
	sp->load_sum += load;
	sp->n++;
	if (e->state != SMOKE_ACTIVE || !(e->rules & (1u << r)))
		return;
	smoke_peak(&e->q_peak[r], e->n[r], r, q);
	e->q_sum[r] += q;
	e->n[r]++;
	if (r != SMOKE_TRANSIENT) {
		e->load_sum += load;
		e->n_load++;
	}
}

/* Rule r joins the open episode with what its spell has seen so far. */
static void smoke_join(struct smoke *s, enum smoke_rule r)
{
	struct smoke_episode *e = &s->ep;
	const struct smoke_spell *sp = &s->rule[r];

	if (e->rules & (1u << r) || sp->n == 0)
		return;
	e->rules |= 1u << r;
	e->q_peak[r] = sp->q_peak;
	e->q_sum[r] = sp->q_sum;
	e->n[r] = sp->n;
	if (r != SMOKE_TRANSIENT) {
		e->load_sum += sp->load_sum;
		e->n_load += sp->n;
	}
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

/* A confirming rule holds and no episode is open: one starts, dated from
 * the rule's first moment; a turbo-lag running alone ends into it. */
static void smoke_episode_start(struct smoke *s, enum smoke_rule r, int64_t now_ms)
{
	struct smoke_episode *e = &s->ep;
	struct smoke_spell *lag = &s->rule[SMOKE_TRANSIENT];

	if (e->state == SMOKE_CLOSING)
		smoke_send_end(s); /* the old end goes now */
	e->state = SMOKE_ACTIVE;
	e->first = r;
	e->since_ms = s->rule[r].since_ms;
	e->since_wall_ms = s->rule[r].since_wall_ms;
	e->last_update_ms = now_ms;
	if (lag->state == SMOKE_ACTIVE) {
		smoke_join(s, SMOKE_TRANSIENT);
		if (lag->lag_event) {
			smoke_lag_event(s, "end", now_ms, "smoke");
			lag->lag_event = 0;
		}
	}
	smoke_head_begin(s, e);
	smoke_raw_trim(s, e->since_ms);
	s->starts++;
}

static void smoke_activate(struct smoke *s, enum smoke_rule r, int64_t now_ms)
{
	struct smoke_spell *sp = &s->rule[r];
	int fresh;

	sp->state = SMOKE_ACTIVE;
	sp->clear_ms = -1;
	if (r == SMOKE_TRANSIENT && s->ep.state != SMOKE_ACTIVE) {
		/* evidence, not proof: a diagnostic until lambda or opacity agree */
		sp->lag_event = 1;
		smoke_lag_event(s, "start", now_ms, NULL);
		return;
	}
	fresh = s->ep.state != SMOKE_ACTIVE;
	if (fresh)
		smoke_episode_start(s, r, now_ms);
	smoke_join(s, r);
	if (fresh)
		smoke_event(s, "start", now_ms, NULL);
}

static void smoke_candidate(struct smoke *s, enum smoke_rule r, const struct smoke_eval *ev,
			    const char *exempt, int64_t now_ms, int64_t wall_ms)
{
	struct smoke_spell *sp = &s->rule[r];

	if (!exempt && !ev->enter && sp->since_ms >= 0) {
		if (sp->miss_ms < 0)
			sp->miss_ms = now_ms;
		if (now_ms - sp->miss_ms < SMOKE_GAP_MS)
			return; /* a frame or two of noise: the candidate holds */
	}
	if (exempt || !ev->enter) {
		sp->since_ms = -1;
		sp->miss_ms = -1;
		sp->n = 0;
		sp->q_sum = sp->load_sum = 0;
		return;
	}
	if (sp->miss_ms >= 0 && now_ms - sp->miss_ms >= SMOKE_GAP_MS) {
		sp->since_ms = -1; /* it failed longer than noise: a new candidate */
		sp->n = 0;
		sp->q_sum = sp->load_sum = 0;
	}
	sp->miss_ms = -1;
	if (ev->since_ms >= 0 && (sp->since_ms < 0 || ev->since_ms < sp->since_ms)) {
		sp->since_ms = ev->since_ms;
		sp->since_wall_ms = wall_ms - (now_ms - ev->since_ms);
	} else if (sp->since_ms < 0) {
		sp->since_ms = now_ms;
		sp->since_wall_ms = wall_ms;
	}
	smoke_accumulate(s, r, ev->q, ev->load);
	if (ev->since_ms >= 0 || now_ms - sp->since_ms >= smoke_min_ms(s, r))
		smoke_activate(s, r, now_ms);
}

static void smoke_active_eval(struct smoke *s, enum smoke_rule r, const struct smoke_eval *ev,
			      const char *exempt, int64_t now_ms)
{
	struct smoke_spell *sp = &s->rule[r];

	if (!exempt && ev->stay) {
		sp->clear_ms = -1;
		smoke_accumulate(s, r, ev->q, ev->load);
		return;
	}
	if (sp->clear_ms < 0)
		sp->clear_ms = now_ms;
	if (exempt)
		smoke_close(s, r, sp->clear_ms, exempt);
	else if (now_ms - sp->clear_ms >= smoke_exit_ms(s, r))
		smoke_close(s, r, sp->clear_ms, "clear");
}

static void smoke_rule_eval(struct smoke *s, enum smoke_rule r, const struct smoke_eval *ev,
			    const char *exempt, int64_t now_ms, int64_t wall_ms)
{
	if (s->rule[r].state == SMOKE_ACTIVE)
		smoke_active_eval(s, r, ev, exempt, now_ms);
	else
		smoke_candidate(s, r, ev, exempt, now_ms, wall_ms);
}

static void smoke_ring_push(struct smoke *s, const struct table *t, int64_t now_ms, int64_t wall_ms)
{
	smoke_sample_take(t, now_ms, wall_ms, &s->ring[s->ring_next]);
	s->ring_next = (s->ring_next + 1) % SMOKE_RING;
	if (s->ring_n < SMOKE_RING)
		s->ring_n++;
	if (s->ep.state != SMOKE_IDLE)
		smoke_head_add(&s->ep, smoke_ring_at(s, 0));
}

/* Lambda from the table's air and fuel at now_ms; 1 and *lambda, or 0. */
static int smoke_lambda_now(struct smoke *s, const struct table *t, int64_t now_ms, double *lambda)
{
	double air, fuel;

	return smoke_get(s, t, SIG_INTAKE_AIR_KGPH, now_ms, &air) &&
	       smoke_get(s, t, SIG_FUEL_RATE_LPH, now_ms, &fuel) &&
	       smoke_lambda_estimate(&s->cfg, air, fuel, lambda) == 0;
}

/* Every rule judges the table at now_ms. */
static void smoke_judge(struct smoke *s, const struct table *t, int64_t now_ms, int64_t wall_ms)
{
	struct smoke_eval ev[SMOKE_N_RULES];
	double lambda = 0, load = 0;
	int have_lambda = smoke_lambda_now(s, t, now_ms, &lambda), have_load;
	const char *exempt;
	const int on[SMOKE_N_RULES] = {s->cfg.lambda_enabled, s->cfg.opacity_enabled,
				       s->cfg.transient_enabled};
	int update_ms = s->cfg.update_ms > 0 ? s->cfg.update_ms : SMOKE_UPDATE_MS;

	if (s->ep.state == SMOKE_CLOSING &&
	    now_ms >= s->ep.end_ms + (int64_t)s->cfg.evidence_s * 1000)
		smoke_send_end(s);
	smoke_raw_take(s, t);
	have_load = smoke_load(s, t, now_ms, &load);
	exempt = smoke_exempt(s, t, now_ms, have_load, load);
	for (int r = 0; r < SMOKE_N_RULES; r++)
		ev[r] = (struct smoke_eval){.since_ms = -1};
	smoke_eval_lambda(s, have_lambda, lambda, have_load, load, &ev[SMOKE_LAMBDA]);
	smoke_eval_opacity(s, t, now_ms, have_load, load, &ev[SMOKE_OPACITY]);
	smoke_eval_transient(s, t, now_ms, have_load, load, &ev[SMOKE_TRANSIENT]);
	for (int r = 0; r < SMOKE_N_RULES; r++)
		if (on[r] || s->rule[r].state != SMOKE_IDLE)
			smoke_rule_eval(s, (enum smoke_rule)r, &ev[r], on[r] ? exempt : "disabled",
					now_ms, wall_ms);
	smoke_raw_follow(s, t);
	if (s->ep.state == SMOKE_ACTIVE && now_ms - s->ep.last_update_ms >= update_ms) {
		s->ep.last_update_ms = now_ms;
		smoke_event(s, "update", now_ms, NULL);
	}
}

void smoke_frame(struct smoke *s, const struct table *t, int64_t now_ms, int64_t wall_ms,
		 payload_event_fn *emit, void *ctx)
{
	if (!s->cfg.enabled)
		return;
	s->emit = emit;
	s->ctx = ctx;
	smoke_judge(s, t, now_ms, wall_ms);
}

void smoke_tick(struct smoke *s, struct table *t, int64_t now_ms, int64_t wall_ms,
		payload_event_fn *emit, void *ctx)
{
	double lambda;

	if (smoke_lambda_now(s, t, now_ms, &lambda))
		table_set(t, SIG_LAMBDA, 0, lambda, now_ms, 0);
	if (!s->cfg.enabled)
		return;
	s->emit = emit;
	s->ctx = ctx;
	smoke_ring_push(s, t, now_ms, wall_ms);
	smoke_judge(s, t, now_ms, wall_ms);
}

void smoke_finish(struct smoke *s, int64_t now_ms, payload_event_fn *emit, void *ctx)
{
	s->emit = emit;
	s->ctx = ctx;
	for (int r = 0; r < SMOKE_N_RULES; r++)
		if (s->rule[r].state == SMOKE_ACTIVE)
			smoke_close(s, (enum smoke_rule)r, now_ms, "shutdown");
	if (s->ep.state == SMOKE_CLOSING)
		smoke_send_end(s);
}
