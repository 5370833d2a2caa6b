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
#include <limits.h>
#include <stdint.h>

#include "gateway/config.h"
#include "protocols/payload.h"

#define ZONES_MAX	     256	      /* features in a file */
#define ZONES_MAX_POINTS     200000	      /* vertices, all zones together */
#define ZONES_MAX_FILE_BYTES (4 << 20)	      /* checked before reading: parsing costs ~5x */
#define ZONES_ERR_MAX	     (PATH_MAX + 256) /* bytes of a message on what is wrong with a file */

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
 * A file that cannot be used (missing, larger than ZONES_MAX_FILE_BYTES,
 * not GeoJSON zones) disables zones: logged at warning, its reason in
 * status ("zones-disabled") and a `zones-disabled` event on the first tick;
 * the gateway runs on.  NULL only when out of memory. */
struct zones *zones_open(const struct config_zones *cfg, int stage);
/* What `emgwd -n` checks: 0 when cfg's file is usable (or none), else -1
 * with "file: what is wrong" in err (ZONES_ERR_MAX bytes). */
int zones_check(const struct config_zones *cfg, char *err);
/* Why zones are disabled, or NULL. */
const char *zones_disabled(const struct zones *z);
/* Empty zones for cfg (the fuzzer's start); NULL when out of memory. */
struct zones *zones_new(const struct config_zones *cfg, int stage);
/* Parse GeoJSON text (len bytes, named file in messages) into z, which is
 * empty; -1 with err (ZONES_ERR_MAX bytes) set on the first problem. */
int zones_parse(struct zones *z, const char *text, size_t len, const char *file, char *err);
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
 * violations; "zones-disabled": why, when disabled.  New reference. */
json_t *zones_status(const struct zones *z);

#endif
