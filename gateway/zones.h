/* zones: prohibited zones from a GeoJSON file (Polygon and MultiPolygon,
 * holes included; each feature's properties say which emission stages may
 * not operate inside).  Given the position and the engine state once a
 * tick, it raises `zone` enter / leave and `zone-violation`, and keeps
 * per-zone totals (engine hours, fuel, smoke episodes) for status.
 * Owns the zone geometry and totals; reads nothing of the daemon but what
 * zones_tick is given; the geometry itself is protocols/geo. */
#ifndef EMGW_ZONES_H
#define EMGW_ZONES_H

#include <jansson.h>
#include <stdint.h>

#include "gateway/config.h"
#include "protocols/payload.h"

#define ZONES_MAX	 256	/* features in a file */
#define ZONES_MAX_POINTS 200000 /* vertices, all zones together */

/* What the rest of the daemon knows this tick. */
struct zones_input {
	int64_t now_ms, wall_ms;
	int have_pos; /* a valid fix: lat, lon */
	double lat, lon;
	int engine_running; /* debounced (watch) */
	int have_fuel;
	double fuel_lph;
	uint64_t smoke_starts; /* smoke episodes started since start (smoke.starts) */
};

struct zones;

/* Read cfg->file (none when ""); `stage` is this machine's emission stage.
 * NULL on error: every problem is printed as "file: what is wrong". */
struct zones *zones_open(const struct config_zones *cfg, int stage);
/* A new file or settings: read it; on success replace *zp (totals and state
 * of zones with the same name carry over) and return 0; on error keep *zp
 * and return -1. */
int zones_reload(struct zones **zp, const struct config_zones *cfg, int stage);
/* Free. */
void zones_close(struct zones *z);
/* One tick: events go to emit(ctx, ev). */
void zones_tick(struct zones *z, const struct zones_input *in, payload_event_fn *emit, void *ctx);
/* Zones loaded. */
int zones_count(const struct zones *z);
/* Per zone: inside, prohibited, engine_h, fuel_l, smoke_events,
 * violations.  New reference. */
json_t *zones_status(const struct zones *z);

#endif
