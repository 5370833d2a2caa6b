#include "gateway/zones.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/log.h"
#include "protocols/geo.h"
#include "protocols/utf8.h"

#define ZONES_MAX_GAP_MS 10000 /* a longer tick gap does not count into totals */

struct zones_poly {
	int first_ring, n_rings;
};

struct zone {
	char name[64];
	unsigned stages; /* bit s: stage s may not operate inside */
	int first_poly, n_polys;
	struct geo_bbox bb;
	/* state */
	int inside;	 /* debounced */
	int64_t flip_ms; /* first tick the raw answer differed, or -1 */
	int64_t run_ms;	 /* engine running inside since, or -1 */
	int violated;	 /* this visit's violation was raised */
	/* totals */
	double engine_h, fuel_l;
	uint64_t smoke_events, violations, entries;
};

struct zones {
	struct config_zones cfg;
	int stage;
	struct geo_point *pts;
	int n_pts;
	struct geo_ring *rings;
	int n_rings, cap_rings;
	struct zones_poly *polys;
	int n_polys, cap_polys;
	struct zone *z; /* grown as the file's features are read: none, no memory */
	int n, cap;
	int64_t last_ms; /* previous tick, or -1 */
	uint64_t smoke_seen;
	char disabled[ZONES_ERR_MAX]; /* why the file was not used, or "" */
	int disabled_told;	      /* the zones-disabled event went out */
};

/* ---- reading the file ----------------------------------------------------- */

static int zones_grow(void **p, int *cap, int need, size_t size)
{
	void *np;
	int ncap = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, (size_t)ncap * size);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

struct zones_reader {
	struct zones *z;
	const char *file;
	int feature;
	int cap_pts;
	char *err; /* ZONES_ERR_MAX bytes: what is wrong */
};

__attribute__((format(printf, 2, 3))) static int zones_bad(const struct zones_reader *rd,
							   const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(rd->err, ZONES_ERR_MAX, "%s: feature %d: %s", rd->file, rd->feature, msg);
	return -1;
}

static int zones_ring(struct zones_reader *rd, json_t *coords)
{
	struct zones *z = rd->z;
	size_t i, n = json_array_size(coords);
	json_t *pos;

	if (!json_is_array(coords) || n < 3)
		return zones_bad(rd, "a ring needs at least 3 positions");
	if (z->n_pts + (int)n > ZONES_MAX_POINTS)
		return zones_bad(rd, "more than %d positions in the file", ZONES_MAX_POINTS);
	if (zones_grow((void **)&z->pts, &rd->cap_pts, z->n_pts + (int)n, sizeof(*z->pts)) < 0 ||
	    zones_grow((void **)&z->rings, &z->cap_rings, z->n_rings + 1, sizeof(*z->rings)) < 0)
		return zones_bad(rd, "out of memory");
	z->rings[z->n_rings] = (struct geo_ring){z->n_pts, (int)n};
	json_array_foreach(coords, i, pos)
	{
		double lon = json_number_value(json_array_get(pos, 0));
		double lat = json_number_value(json_array_get(pos, 1));

		if (json_array_size(pos) < 2 || !json_is_number(json_array_get(pos, 0)) ||
		    !json_is_number(json_array_get(pos, 1)) || lon < -180 || lon > 180 ||
		    lat < -90 || lat > 90)
			return zones_bad(rd, "position %zu is not [lon, lat] in degrees", i);
		z->pts[z->n_pts + (int)i] = (struct geo_point){lon, lat};
	}
	z->n_pts += (int)n;
	z->n_rings++;
	return 0;
}

/* One Polygon's coordinates: the outer ring, then holes. */
static int zones_polygon(struct zones_reader *rd, json_t *rings, struct zone *zn)
{
	struct zones *z = rd->z;
	size_t i;
	json_t *ring;

	if (!json_is_array(rings) || json_array_size(rings) < 1)
		return zones_bad(rd, "a polygon needs an outer ring");
	if (zones_grow((void **)&z->polys, &z->cap_polys, z->n_polys + 1, sizeof(*z->polys)) < 0)
		return zones_bad(rd, "out of memory");
	z->polys[z->n_polys] = (struct zones_poly){z->n_rings, 0};
	json_array_foreach(rings, i, ring)
	{
		if (zones_ring(rd, ring) < 0)
			return -1;
		if (i == 0)
			geo_bbox_add(&zn->bb, z->pts, &z->rings[z->n_rings - 1]);
	}
	z->polys[z->n_polys].n_rings = (int)json_array_size(rings);
	z->n_polys++;
	zn->n_polys++;
	return 0;
}

static int zones_stages(struct zones_reader *rd, json_t *props, struct zone *zn)
{
	json_t *list = json_object_get(props, "prohibited_stages"), *v;
	size_t i;

	if (!list)
		return 0; /* a zone to watch, prohibiting nothing */
	if (!json_is_array(list))
		return zones_bad(rd, "prohibited_stages is not a list of stages");
	json_array_foreach(list, i, v)
	{
		json_int_t st = json_integer_value(v);

		if (!json_is_integer(v) || st < 1 || st > 6)
			return zones_bad(rd, "prohibited_stages: a stage is 1..6");
		zn->stages |= 1u << st;
	}
	return 0;
}

static int zones_feature(struct zones_reader *rd, json_t *f)
{
	struct zones *z = rd->z;
	json_t *geom = json_object_get(f, "geometry"), *props = json_object_get(f, "properties");
	json_t *coords = json_object_get(geom, "coordinates"), *poly;
	const char *type = json_string_value(json_object_get(geom, "type"));
	const char *name = json_string_value(json_object_get(props, "name"));
	struct zone *zn;
	size_t i;

	if (z->n == ZONES_MAX)
		return zones_bad(rd, "more than %d zones", ZONES_MAX);
	if (zones_grow((void **)&z->z, &z->cap, z->n + 1, sizeof(*z->z)) < 0)
		return zones_bad(rd, "out of memory");
	zn = &z->z[z->n];
	memset(zn, 0, sizeof(*zn));
	zn->bb = geo_bbox_empty();
	zn->first_poly = z->n_polys;
	zn->flip_ms = zn->run_ms = -1;
	if (!name)
		snprintf(zn->name, sizeof(zn->name), "zone%d", rd->feature);
	else if (payload_strlcpy(zn->name, sizeof(zn->name), name))
		/* Cut between characters: events carry it as JSON. */
		log_info("%s: feature %d: name cut to %zu bytes", rd->file, rd->feature,
			 strlen(zn->name));
	if (zones_stages(rd, props, zn) < 0)
		return -1;
	if (type && strcmp(type, "Polygon") == 0) {
		if (zones_polygon(rd, coords, zn) < 0)
			return -1;
	} else if (type && strcmp(type, "MultiPolygon") == 0 && json_is_array(coords)) {
		json_array_foreach(coords, i, poly) if (zones_polygon(rd, poly, zn) < 0) return -1;
	} else {
		return zones_bad(rd, "geometry is %s: only Polygon and MultiPolygon are zones",
				 type ? type : "missing");
	}
	z->n++;
	return 0;
}

int zones_parse(struct zones *z, const char *text, size_t len, const char *file, char *err)
{
	struct zones_reader rd = {.z = z, .file = file, .err = err};
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr), *features, *f;
	const char *type;
	size_t i;
	int rc = 0;

	if (!root) {
		snprintf(err, ZONES_ERR_MAX, "%s:%d: %s", file, jerr.line, jerr.text);
		return -1;
	}
	type = json_string_value(json_object_get(root, "type"));
	features = json_object_get(root, "features");
	if (type && strcmp(type, "Feature") == 0) {
		rc = zones_feature(&rd, root);
	} else if (type && strcmp(type, "FeatureCollection") == 0 && json_is_array(features)) {
		json_array_foreach(features, i, f)
		{
			rd.feature = (int)i;
			if ((rc = zones_feature(&rd, f)) < 0)
				break;
		}
	} else {
		snprintf(err, ZONES_ERR_MAX, "%s: not a GeoJSON FeatureCollection or Feature",
			 file);
		rc = -1;
	}
	json_decref(root);
	return rc;
}

/* The whole file into *text (freed by the caller), its size checked first:
 * the parser needs some five times a file's size. */
static int zones_slurp(const char *file, char **text, size_t *len, char *err)
{
	struct stat sb;
	ssize_t got = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	*text = NULL;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(err, ZONES_ERR_MAX, "%s: %s", file, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > ZONES_MAX_FILE_BYTES) {
		snprintf(err, ZONES_ERR_MAX, "%s: %s (at most %d bytes)", file,
			 S_ISREG(sb.st_mode) ? "too large" : "not a regular file",
			 ZONES_MAX_FILE_BYTES);
		goto out_close;
	}
	*text = malloc((size_t)sb.st_size + 1);
	if (!*text) {
		snprintf(err, ZONES_ERR_MAX, "%s: out of memory", file);
		goto out_close;
	}
	for (*len = 0; *len < (size_t)sb.st_size; *len += (size_t)got) {
		got = read(fd, *text + *len, (size_t)sb.st_size - *len);
		if (got <= 0)
			break; /* an error, or the file shrank: what was read is parsed */
	}
	if (got < 0) {
		snprintf(err, ZONES_ERR_MAX, "%s: %s", file, strerror(errno));
		free(*text);
		*text = NULL;
	}
out_close:
	if (fd >= 0)
		close(fd);
	return *text ? 0 : -1;
}

static int zones_read(struct zones *z, const char *file, char *err)
{
	char *text;
	size_t len;
	int rc;

	if (zones_slurp(file, &text, &len, err) < 0)
		return -1;
	rc = zones_parse(z, text, len, file, err);
	free(text);
	return rc;
}

void zones_close(struct zones *z)
{
	if (!z)
		return;
	free(z->pts);
	free(z->rings);
	free(z->polys);
	free(z->z);
	free(z);
}

struct zones *zones_new(const struct config_zones *cfg, int stage)
{
	struct zones *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	z->cfg = *cfg;
	z->stage = stage;
	z->last_ms = -1;
	return z;
}

/* The zones of cfg's file, or NULL with err set. */
static struct zones *zones_load(const struct config_zones *cfg, int stage, char *err)
{
	struct zones *z = zones_new(cfg, stage);

	if (!z) {
		snprintf(err, ZONES_ERR_MAX, "zones: out of memory");
		return NULL;
	}
	if (cfg->file[0] && zones_read(z, cfg->file, err) < 0) {
		zones_close(z);
		return NULL;
	}
	return z;
}

struct zones *zones_open(const struct config_zones *cfg, int stage)
{
	char err[ZONES_ERR_MAX];
	struct zones *z = zones_load(cfg, stage, err);

	if (z && cfg->file[0])
		log_info("zones: %d from %s", z->n, cfg->file);
	if (z)
		return z;
	/* A bad zones file must not keep the gateway (and its records) down. */
	log_warnx("%s; zones disabled", err);
	z = zones_new(cfg, stage);
	if (!z) {
		log_warnx("zones: out of memory");
		return NULL;
	}
	snprintf(z->disabled, sizeof(z->disabled), "%s", err);
	return z;
}

int zones_check(const struct config_zones *cfg, char *err)
{
	struct zones *z = zones_load(cfg, 0, err);

	zones_close(z);
	return z ? 0 : -1;
}

const char *zones_disabled(const struct zones *z)
{
	return z && z->disabled[0] ? z->disabled : NULL;
}

int zones_reload(struct zones **zp, const struct config_zones *cfg, int stage)
{
	char err[ZONES_ERR_MAX];
	struct zones *old = *zp, *z = zones_load(cfg, stage, err);

	if (!z) {
		log_warnx("%s", err);
		return -1;
	}
	if (cfg->file[0])
		log_info("zones: %d from %s", z->n, cfg->file);
	for (int i = 0; old && i < z->n; i++)
		for (int j = 0; j < old->n; j++) {
			struct zone *a = &z->z[i];
			const struct zone *b = &old->z[j];

			if (strcmp(a->name, b->name) != 0)
				continue;
			a->inside = b->inside;
			a->run_ms = b->run_ms;
			a->violated = b->violated;
			a->engine_h = b->engine_h;
			a->fuel_l = b->fuel_l;
			a->smoke_events = b->smoke_events;
			a->violations = b->violations;
			a->entries = b->entries;
		}
	if (old) {
		z->last_ms = old->last_ms;
		z->smoke_seen = old->smoke_seen;
	}
	zones_close(old);
	*zp = z;
	return 0;
}

int zones_count(const struct zones *z)
{
	return z ? z->n : 0;
}

/* ---- the tick ------------------------------------------------------------------ */

static int zones_contains(const struct zones *z, const struct zone *zn, struct geo_point p)
{
	if (!geo_bbox_contains(&zn->bb, p))
		return 0;
	for (int i = 0; i < zn->n_polys; i++) {
		const struct zones_poly *pl = &z->polys[zn->first_poly + i];

		if (geo_polygon_contains(z->pts, &z->rings[pl->first_ring], pl->n_rings, p))
			return 1;
	}
	return 0;
}

static int zones_prohibits(const struct zones *z, const struct zone *zn)
{
	return z->stage >= 1 && z->stage <= 6 && (zn->stages & (1u << z->stage));
}

static void zones_stage_list(const struct zone *zn, struct payload_stages *out)
{
	out->n = 0;
	for (int st = 1; st <= 6 && out->n < PAYLOAD_MAX_STAGES; st++)
		if (zn->stages & (1u << st))
			out->s[out->n++] = st;
}

/* What both zone events carry. */
static void zones_event(struct payload_event *ev, enum payload_type type, const struct zone *zn,
			const struct zones_input *in)
{
	payload_event_init(ev, type);
	snprintf(ev->zone, sizeof(ev->zone), "%s", zn->name);
	zones_stage_list(zn, &ev->prohibited_stages);
	ev->lat = in->lat;
	ev->lon = in->lon;
}

static void zones_edge(struct zones *z, struct zone *zn, const struct zones_input *in,
		       payload_event_fn *emit, void *ctx)
{
	zn->inside = !zn->inside;
	zn->flip_ms = -1;
	if (zn->inside) {
		zn->entries++;
	} else {
		zn->run_ms = -1;
		zn->violated = 0;
	}
	struct payload_event ev;

	zones_event(&ev, PAYLOAD_EV_ZONE, zn, in);
	snprintf(ev.state, sizeof(ev.state), "%s", zn->inside ? "enter" : "leave");
	ev.prohibited = zones_prohibits(z, zn);
	emit(ctx, &ev);
}

/* Running inside a zone that prohibits this stage, violation_after long:
 * one event a visit (a new one after leaving, or after the engine stopped). */
static void zones_violation(struct zones *z, struct zone *zn, const struct zones_input *in,
			    payload_event_fn *emit, void *ctx)
{
	struct payload_event ev;

	if (!zn->inside || !in->engine_running || !zones_prohibits(z, zn)) {
		zn->run_ms = -1;
		if (!in->engine_running)
			zn->violated = 0;
		return;
	}
	if (zn->run_ms < 0)
		zn->run_ms = in->now_ms;
	if (zn->violated || in->now_ms - zn->run_ms < z->cfg.violation_ms)
		return;
	zn->violated = 1;
	zn->violations++;
	zones_event(&ev, PAYLOAD_EV_ZONE_VIOLATION, zn, in);
	ev.since_ms = in->wall_ms - (in->now_ms - zn->run_ms);
	ev.stage = z->stage;
	emit(ctx, &ev);
}

static void zones_totals(struct zone *zn, const struct zones_input *in, int64_t dt_ms,
			 uint64_t new_smoke)
{
	if (!zn->inside)
		return;
	zn->smoke_events += new_smoke;
	if (!in->engine_running || dt_ms <= 0 || dt_ms > ZONES_MAX_GAP_MS)
		return;
	zn->engine_h += (double)dt_ms / 3600000.0;
	if (in->have_fuel)
		zn->fuel_l += in->fuel_lph * (double)dt_ms / 3600000.0;
}

void zones_tick(struct zones *z, const struct zones_input *in, payload_event_fn *emit, void *ctx)
{
	struct geo_point p = {in->lon, in->lat};
	int64_t dt = z->last_ms < 0 ? 0 : in->now_ms - z->last_ms;
	uint64_t new_smoke = in->smoke_starts - z->smoke_seen;

	if (z->disabled[0] && !z->disabled_told) {
		z->disabled_told = 1;
		struct payload_event ev;

		payload_event_init(&ev, PAYLOAD_EV_ZONES_DISABLED);
		payload_strlcpy(ev.problem, sizeof(ev.problem), z->disabled);
		emit(ctx, &ev);
	}
	z->last_ms = in->now_ms;
	z->smoke_seen = in->smoke_starts;
	for (int i = 0; i < z->n; i++) {
		struct zone *zn = &z->z[i];

		/* Without a fix the zone keeps its state: never an edge by loss. */
		if (in->have_pos && zones_contains(z, zn, p) != zn->inside) {
			if (zn->flip_ms < 0)
				zn->flip_ms = in->now_ms;
			if (in->now_ms - zn->flip_ms >= z->cfg.debounce_ms)
				zones_edge(z, zn, in, emit, ctx);
		} else if (in->have_pos) {
			zn->flip_ms = -1;
		}
		zones_violation(z, zn, in, emit, ctx);
		zones_totals(zn, in, dt, new_smoke);
	}
}

json_t *zones_status(const struct zones *z)
{
	json_t *o = json_object();

	if (z && z->disabled[0])
		json_object_set_new(o, "zones-disabled", json_string(z->disabled));
	for (int i = 0; z && i < z->n; i++) {
		const struct zone *zn = &z->z[i];

		json_object_set_new(o, zn->name,
				    json_pack("{s:b, s:b, s:f, s:f, s:I, s:I, s:I}", "inside",
					      zn->inside, "prohibited", zones_prohibits(z, zn),
					      "engine_h", zn->engine_h, "fuel_l", zn->fuel_l,
					      "smoke_events", (json_int_t)zn->smoke_events,
					      "violations", (json_int_t)zn->violations, "entries",
					      (json_int_t)zn->entries));
	}
	return o;
}
