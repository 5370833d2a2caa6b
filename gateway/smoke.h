/* smoke: the black-smoke detector's lambda rule.  Estimates the excess-air
 * ratio into the signal table and raises `smoke` events (start, update, end).
 * Reads the table and its own settings; sends nothing itself. */
#ifndef EMGW_SMOKE_H
#define EMGW_SMOKE_H

#include <jansson.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/table.h"

#define SMOKE_UPDATE_MS 30000 /* an `update` event every this long while active */

struct smoke {
	struct config_smoke cfg;
	int active;
	int64_t since_ms;   /* first tick the condition held (candidate or active) */
	int64_t since_wall_ms;
	int64_t last_update_ms;
	double lambda_min, lambda_sum, load_sum;
	int n;
};

/* Start with no episode. */
void smoke_init(struct smoke *s, const struct config_smoke *cfg);
/* Excess-air ratio from intake air (kg/h) and fuel (L/h); 0 and *lambda set,
 * or -1 when the fuel rate is too small for an estimate (idle, fuel cut). */
int smoke_lambda_estimate(const struct config_smoke *c, double air_kgph, double fuel_lph,
			  double *lambda);
/* One sample tick: writes SIG_LAMBDA into t and returns an event body
 * ({"type":"smoke",...}) when an episode starts, updates or ends, else NULL. */
json_t *smoke_tick(struct smoke *s, struct table *t, int64_t now_ms, int64_t wall_ms);

/* End an open episode now (reconfiguration, shutdown): its `end` event, or
 * NULL when none is open. */
json_t *smoke_finish(struct smoke *s, int64_t now_ms);

#endif
