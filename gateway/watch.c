#include "gateway/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"

#define WATCH_MARKER "running"
#define WATCH_HASH   "config.hash"

/* ---- start-up: marker and configuration hash ------------------------------ */

int watch_file_hash(const char *path, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned char buf[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	fclose(f);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
	return 0;
}

static int watch_path(const struct watch *w, const char *name, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/%s", w->state_dir, name) < len ? 0 : -1;
}

/* Write a small file whole: temp file, then rename. */
static void watch_write(const struct watch *w, const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	if (watch_path(w, name, path, sizeof(path)) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		log_warn("%s", path);
		if (f)
			unlink(tmp);
	}
}

/* The hash of the file in force against the one remembered: the event waits
 * in hash_old/hash_new for the next tick. */
static void watch_check_config(struct watch *w, const char *file)
{
	char path[PATH_MAX], old[32] = "", now[17];
	FILE *f;

	if (!file[0] || watch_file_hash(file, now) < 0 ||
	    watch_path(w, WATCH_HASH, path, sizeof(path)) < 0)
		return;
	f = fopen(path, "r");
	if (f) {
		if (!fgets(old, sizeof(old), f))
			old[0] = '\0';
		fclose(f);
		old[strcspn(old, "\n")] = '\0';
	}
	if (old[0] && strcmp(old, now) != 0) {
		snprintf(w->hash_old, sizeof(w->hash_old), "%.16s", old);
		snprintf(w->hash_new, sizeof(w->hash_new), "%s", now);
	}
	if (strcmp(old, now) != 0) {
		char line[20];

		snprintf(line, sizeof(line), "%s\n", now);
		watch_write(w, WATCH_HASH, line);
	}
}

static void watch_settings(struct watch *w, const struct config *cfg)
{
	w->cfg = cfg->watch;
	snprintf(w->state_dir, sizeof(w->state_dir), "%s", cfg->state_dir);
}

void watch_init(struct watch *w, const struct config *cfg)
{
	char path[PATH_MAX], pid[24];

	memset(w, 0, sizeof(*w));
	watch_settings(w, cfg);
	w->engine_flip_ms = w->engine_since_ms = -1;
	w->ecu = w->gps = w->dpf = (struct watch_cond){-1, -1, 0};
	for (int i = 0; i < 2; i++)
		w->nox[i] = (struct watch_cond){-1, -1, 0};
	for (int i = 0; i < WATCH_MAX_METERS; i++)
		w->meter[i] = (struct watch_cond){-1, -1, 0};
	if (watch_path(w, WATCH_MARKER, path, sizeof(path)) == 0)
		w->unclean = access(path, F_OK) == 0;
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	watch_write(w, WATCH_MARKER, pid);
	watch_check_config(w, cfg->file);
}

void watch_reload(struct watch *w, const struct config *cfg)
{
	watch_settings(w, cfg);
	watch_check_config(w, cfg->file);
}

void watch_stop(struct watch *w)
{
	char path[PATH_MAX];

	if (watch_path(w, WATCH_MARKER, path, sizeof(path)) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		log_warn("%s", path);
}

int watch_engine_running(const struct watch *w)
{
	return w->engine_on;
}

/* ---- conditions ------------------------------------------------------------ */

enum { WATCH_CLEAR = 0, WATCH_HOLDS = 1, WATCH_UNKNOWN = -1 };

/* +1: the event starts now; -1: it ends now; 0: nothing.  It starts after
 * the condition held on_ms and ends after it was clear off_ms; unknown
 * (no data, engine off) changes nothing once open, and drops a candidate. */
static int watch_step(struct watch_cond *c, int state, int64_t now, int64_t on_ms, int64_t off_ms)
{
	if (state == WATCH_UNKNOWN) {
		if (!c->open)
			c->since_ms = -1;
		return 0;
	}
	if (state == WATCH_HOLDS) {
		c->clear_ms = -1;
		if (c->since_ms < 0)
			c->since_ms = now;
		if (!c->open && now - c->since_ms >= on_ms) {
			c->open = 1;
			return 1;
		}
		return 0;
	}
	if (!c->open) {
		c->since_ms = -1;
		return 0;
	}
	if (c->clear_ms < 0)
		c->clear_ms = now;
	if (now - c->clear_ms < off_ms)
		return 0;
	c->open = 0;
	c->since_ms = c->clear_ms = -1;
	return -1;
}

/* A start with how long the condition held, or an end with how long it
 * was clear. */
static void watch_event(struct payload_event *ev, enum payload_type type, int edge,
			const struct watch_cond *c, int64_t now)
{
	payload_event_init(ev, type);
	snprintf(ev->state, sizeof(ev->state), "%s", edge > 0 ? "start" : "end");
	if (edge > 0)
		ev->held_s = (double)(now - c->since_ms) / 1000.0;
	else
		ev->cleared_s = (double)(now - c->clear_ms) / 1000.0;
}

static void watch_engine(struct watch *w, const struct table *t, const struct watch_input *in,
			 payload_event_fn *emit, void *ctx)
{
	double rpm = 0;
	int fresh = table_get(t, SIG_ENGINE_SPEED_RPM, 0, in->now_ms, &rpm);
	int raw = fresh && rpm > w->cfg.engine_rpm;
	struct payload_event ev;

	if (raw == w->engine_on) {
		w->engine_flip_ms = -1;
		return;
	}
	if (w->engine_flip_ms < 0)
		w->engine_flip_ms = in->now_ms;
	if (in->now_ms - w->engine_flip_ms < w->cfg.engine_debounce_ms)
		return;
	w->engine_on = raw;
	payload_event_init(&ev, PAYLOAD_EV_ENGINE);
	if (raw) {
		w->engine_since_ms = w->engine_flip_ms;
		snprintf(ev.state, sizeof(ev.state), "start");
		ev.engine_speed_rpm = rpm;
	} else {
		snprintf(ev.state, sizeof(ev.state), "stop");
		snprintf(ev.reason, sizeof(ev.reason), "%s", fresh ? "speed" : "no-data");
		ev.run_s = (double)(w->engine_flip_ms - w->engine_since_ms) / 1000.0;
	}
	emit(ctx, &ev);
	w->engine_flip_ms = -1;
}

/* No CAN data this long while the gateway runs: the ECU is unplugged,
 * removed or off (the China removal alarm). */
static void watch_ecu(struct watch *w, const struct watch_input *in, int64_t up_ms,
		      payload_event_fn *emit, void *ctx)
{
	int64_t age = in->can_age_ms < 0 ? up_ms : in->can_age_ms;
	int edge;
	struct payload_event ev;

	if (in->n_can == 0)
		return;
	edge = watch_step(&w->ecu, age >= w->cfg.ecu_silent_ms, in->now_ms, 0, 0);
	if (!edge)
		return;
	payload_event_init(&ev, PAYLOAD_EV_ECU_SILENT);
	snprintf(ev.state, sizeof(ev.state), "%s", edge > 0 ? "start" : "end");
	ev.last_frame_age_s = (double)age / 1000.0;
	ev.engine_was_running = w->engine_on;
	emit(ctx, &ev);
}

static void watch_meters(struct watch *w, const struct watch_input *in, payload_event_fn *emit,
			 void *ctx)
{
	for (int i = 0; i < in->n_meters && i < WATCH_MAX_METERS; i++) {
		int64_t age = in->meter_age_ms[i];
		int st = age < 0 ? WATCH_UNKNOWN : age >= w->cfg.ecu_silent_ms;
		int edge = watch_step(&w->meter[i], st, in->now_ms, 0, 0);
		struct payload_event ev;

		if (!edge)
			continue;
		payload_event_init(&ev, PAYLOAD_EV_METER_LOST);
		snprintf(ev.state, sizeof(ev.state), "%s", edge > 0 ? "start" : "end");
		payload_strlcpy(ev.device, sizeof(ev.device), in->meter[i]);
		if (in->meter_bus[i])
			payload_strlcpy(ev.bus, sizeof(ev.bus), in->meter_bus[i]);
		ev.last_value_age_s = (double)age / 1000.0;
		emit(ctx, &ev);
	}
}

static void watch_gps(struct watch *w, const struct watch_input *in, payload_event_fn *emit,
		      void *ctx)
{
	int st, edge;
	struct payload_event ev;

	if (!in->gnss_enabled)
		return;
	st = in->have_fix ? WATCH_CLEAR : w->engine_on ? WATCH_HOLDS : WATCH_UNKNOWN;
	edge = watch_step(&w->gps, st, in->now_ms, w->cfg.gps_lost_ms, 0);
	if (!edge)
		return;
	watch_event(&ev, PAYLOAD_EV_GPS_LOST, edge, &w->gps, in->now_ms);
	emit(ctx, &ev);
}

/* A DPF's differential pressure near zero under load: removed or cracked.
 * Only loaded seconds are evidence either way. */
static void watch_dpf(struct watch *w, const struct table *t, const struct watch_input *in,
		      payload_event_fn *emit, void *ctx)
{
	double dp, load;
	int st = WATCH_UNKNOWN, edge;
	struct payload_event ev;

	if (!w->cfg.has_dpf)
		return;
	if (w->engine_on && table_get(t, SIG_DPF_DP_KPA, 0, in->now_ms, &dp) &&
	    (table_get(t, SIG_ENGINE_LOAD_PCT, 0, in->now_ms, &load) ||
	     table_get(t, SIG_ENGINE_TORQUE_PCT, 0, in->now_ms, &load)) &&
	    load >= w->cfg.dpf_min_load_pct) {
		st = dp < w->cfg.dpf_min_kpa	    ? WATCH_HOLDS
		     : dp >= 2 * w->cfg.dpf_min_kpa ? WATCH_CLEAR
						    : WATCH_UNKNOWN;
		if (st == WATCH_HOLDS && !w->dpf.open) {
			w->dpf_sum += dp;
			w->dpf_load_sum += load;
			w->dpf_n++;
		}
	}
	if (st == WATCH_UNKNOWN && !w->dpf.open && w->dpf.since_ms >= 0)
		return; /* a pause in the load keeps the candidate */
	if (st != WATCH_HOLDS && !w->dpf.open)
		w->dpf_sum = w->dpf_load_sum = w->dpf_n = 0;
	edge = watch_step(&w->dpf, st, in->now_ms, w->cfg.dpf_ms, w->cfg.dpf_ms);
	if (!edge)
		return;
	watch_event(&ev, PAYLOAD_EV_DPF_LOW, edge, &w->dpf, in->now_ms);
	if (edge > 0 && w->dpf_n) {
		ev.dpf_dp_mean_kpa = w->dpf_sum / w->dpf_n;
		ev.load_mean_pct = w->dpf_load_sum / w->dpf_n;
		ev.limit_kpa = w->cfg.dpf_min_kpa;
	}
	w->dpf_sum = w->dpf_load_sum = w->dpf_n = 0;
	emit(ctx, &ev);
}

/* A NOx sensor whose reading does not move at all with the engine running
 * is stuck or replaced by a fixed value (an emulator). */
static void watch_nox(struct watch *w, const struct table *t, const struct watch_input *in,
		      payload_event_fn *emit, void *ctx)
{
	static const enum sig_id sig[2] = {SIG_NOX_UP_PPM, SIG_NOX_DOWN_PPM};

	for (int i = 0; i < 2; i++) {
		double v;
		int st = WATCH_UNKNOWN, edge;
		struct payload_event ev;

		if (w->engine_on && table_get(t, sig[i], 0, in->now_ms, &v)) {
			st = v == w->nox_last[i] ? WATCH_HOLDS : WATCH_CLEAR;
			w->nox_last[i] = v;
		}
		edge = watch_step(&w->nox[i], st, in->now_ms, w->cfg.nox_frozen_ms, 0);
		if (!edge)
			continue;
		watch_event(&ev, PAYLOAD_EV_NOX_FROZEN, edge, &w->nox[i], in->now_ms);
		snprintf(ev.signal, sizeof(ev.signal), "%s", sig_name(sig[i]));
		ev.value = w->nox_last[i];
		emit(ctx, &ev);
	}
}

static void watch_start_events(struct watch *w, payload_event_fn *emit, void *ctx)
{
	struct payload_event ev;

	if (!w->started) {
		w->started = 1;
		payload_event_init(&ev, PAYLOAD_EV_RESTART);
		ev.clean = !w->unclean;
		emit(ctx, &ev);
	}
	if (w->hash_new[0]) {
		payload_event_init(&ev, PAYLOAD_EV_CONFIG_CHANGED);
		snprintf(ev.from_hash, sizeof(ev.from_hash), "%s", w->hash_old);
		snprintf(ev.to_hash, sizeof(ev.to_hash), "%s", w->hash_new);
		emit(ctx, &ev);
		w->hash_new[0] = '\0';
	}
}

void watch_tick(struct watch *w, const struct table *t, const struct watch_input *in,
		payload_event_fn *emit, void *ctx)
{
	if (!w->started)
		w->first_ms = in->now_ms;
	watch_start_events(w, emit, ctx);
	watch_engine(w, t, in, emit, ctx);
	watch_ecu(w, in, in->now_ms - w->first_ms, emit, ctx);
	watch_meters(w, in, emit, ctx);
	watch_gps(w, in, emit, ctx);
	watch_dpf(w, t, in, emit, ctx);
	watch_nox(w, t, in, emit, ctx);
}
