#include "gateway/smoke.h"

#include <string.h>

#include "gateway/clock.h"

/* Load must fall this far below the entry level before an episode ends. */
#define SMOKE_LOAD_HYST_PCT 10.0

void smoke_init(struct smoke *s, const struct config_smoke *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->since_ms = -1;
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

/* Engine load: SPN 92 where the engine sends it, else actual torque. */
static int smoke_load(const struct table *t, int64_t now_ms, double *load)
{
	return table_get(t, SIG_ENGINE_LOAD_PCT, 0, now_ms, load) ||
	       table_get(t, SIG_ENGINE_TORQUE_PCT, 0, now_ms, load);
}

static json_t *smoke_event(const struct smoke *s, const char *state, int64_t now_ms)
{
	char since[32];

	clock_format_iso(s->since_wall_ms, since, sizeof(since));
	return json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:f}", "type", "smoke", "state",
			 state, "rule", "lambda", "since", since, "duration_s",
			 (double)(now_ms - s->since_ms) / 1000.0, "lambda_min", s->lambda_min,
			 "lambda_mean", s->lambda_sum / s->n, "load_mean_pct", s->load_sum / s->n);
}

static void smoke_accumulate(struct smoke *s, double lambda, double load)
{
	if (s->n == 0 || lambda < s->lambda_min)
		s->lambda_min = lambda;
	s->lambda_sum += lambda;
	s->load_sum += load;
	s->n++;
}

static void smoke_reset(struct smoke *s)
{
	s->active = 0;
	s->since_ms = -1;
	s->n = 0;
	s->lambda_sum = s->load_sum = 0;
}

json_t *smoke_tick(struct smoke *s, struct table *t, int64_t now_ms, int64_t wall_ms)
{
	double air, fuel, lambda = 0, load = 0;
	int have_lambda = 0, have_load;
	json_t *ev = NULL;

	if (table_get(t, SIG_INTAKE_AIR_KGPH, 0, now_ms, &air) &&
	    table_get(t, SIG_FUEL_RATE_LPH, 0, now_ms, &fuel) &&
	    smoke_lambda_estimate(&s->cfg, air, fuel, &lambda) == 0) {
		have_lambda = 1;
		table_set(t, SIG_LAMBDA, 0, lambda, now_ms, 0);
	}
	have_load = smoke_load(t, now_ms, &load);
	if (!s->cfg.enabled)
		return NULL;

	if (s->active) {
		/* Hysteresis: stay in the episode until lambda is clearly back
		 * or the load has clearly dropped. */
		if (have_lambda && have_load && lambda < s->cfg.lambda_exit &&
		    load >= s->cfg.min_load_pct - SMOKE_LOAD_HYST_PCT) {
			smoke_accumulate(s, lambda, load);
			if (now_ms - s->last_update_ms >= SMOKE_UPDATE_MS) {
				s->last_update_ms = now_ms;
				ev = smoke_event(s, "update", now_ms);
			}
			return ev;
		}
		ev = smoke_event(s, "end", now_ms);
		smoke_reset(s);
		return ev;
	}

	if (!(have_lambda && have_load && lambda < s->cfg.lambda_max &&
	      load >= s->cfg.min_load_pct)) {
		smoke_reset(s);
		return NULL;
	}
	if (s->since_ms < 0) {
		s->since_ms = now_ms;
		s->since_wall_ms = wall_ms;
	}
	smoke_accumulate(s, lambda, load);
	if (now_ms - s->since_ms >= s->cfg.min_duration_ms) {
		s->active = 1;
		s->last_update_ms = now_ms;
		ev = smoke_event(s, "start", now_ms);
	}
	return ev;
}

json_t *smoke_finish(struct smoke *s, int64_t now_ms)
{
	json_t *ev;

	if (!s->active)
		return NULL;
	ev = smoke_event(s, "end", now_ms);
	smoke_reset(s);
	return ev;
}
