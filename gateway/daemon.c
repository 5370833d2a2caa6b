#include "gateway/daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <zlib.h>

#include "gateway/canbus.h"
#include "gateway/command.h"
#include "gateway/fieldbus.h"
#include "gateway/clock.h"
#include "gateway/gnss.h"
#include "gateway/health.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/report.h"
#include "gateway/sampler.h"
#include "gateway/smoke.h"
#include "gateway/status.h"
#include "gateway/store.h"
#include "gateway/table.h"
#include "gateway/uplinks.h"
#include "gateway/watch.h"
#include "gateway/zones.h"

#define DAEMON_STATUS_MS     5000
#define DAEMON_EVICT_MS	     60000
#define DAEMON_REPLAY_BUDGET 4096 /* frames and ticks a round when replaying flat out */
#define DAEMON_SOURCE_MODBUS 100  /* + bus index: a Modbus bus's tag in the table */
#define DAEMON_SOURCE_GNSS   200  /* the gnss source's tag in the table */

struct daemon {
	struct config cfg;
	struct daemon_opts opts;
	struct loop *loop;
	int wake_fd;
	int h_can[CONFIG_MAX_CAN]; /* loop handles */
	int h_gnss, h_uplink[UPLINKS_MAX];
	int t_status, t_evict;
	struct table table;
	struct store *store;
	struct report report;
	struct uplinks *uplinks;	/* MQTT, the HJ platform, a file: the back-ends in force */
	struct command_hooks cmd_hooks; /* what remote commands may reach */
	struct canbus *can[CONFIG_MAX_CAN];
	struct fieldbus *mb[CONFIG_MAX_BUS]; /* one a Modbus bus with devices */
	int n_can;
	struct smoke smoke;
	struct watch watch;   /* engine state, tamper and health events */
	struct zones *zones;  /* prohibited zones (none loaded: empty) */
	struct gnss *gnss;    /* NULL when [gnss] is off */
	enum ts_src last_src; /* time source at the last tick */
	int64_t next_tick_ms; /* live: monotonic; replay: wall time of the log */
	int64_t start_mono_ms;
	int replay_src; /* the source whose frame the replay clock is at, or -1 */
	int replay_done;
	int stop;
	int exit_status;
	uint64_t records, events;
	uint64_t cmd_answer_errors; /* command answers that could not be built */
};

/* ---- sampling ---------------------------------------------------------- */

/* Every event carries the position of its moment. */
static void daemon_emit_event(struct daemon *d, struct payload_event *ev,
			      const struct clock_now *now)
{
	if (d->gnss && !ev->pos.present)
		gnss_track_pos(gnss_track_of(d->gnss), now->mono_ms, NULL, &ev->pos);
	if (report_emit_event(&d->report, ev, now))
		d->events++;
}

/* Live time, once a tick: a jump of the wall time is a `clock` event, and
 * trusted time arriving restamps the rows still waiting with unsynced times. */
static void daemon_check_clock(struct daemon *d, const struct clock_now *now)
{
	struct clock_jump j;
	struct payload_event ev;
	char from[32], to[32];
	int n;

	if (now->src == TS_REPLAY)
		return;
	if (clock_jump_check(now, &j)) {
		clock_format_iso(j.from_ms, from, sizeof(from));
		clock_format_iso(j.to_ms, to, sizeof(to));
		log_notice("clock: %s time jumped from %s to %s", j.system ? "system" : "gnss",
			   from, to);
		payload_event_init(&ev, PAYLOAD_EV_CLOCK);
		ev.from_ms = j.from_ms;
		ev.to_ms = j.to_ms;
		ev.jump_s = (double)(j.to_ms - j.from_ms) / 1000.0;
		snprintf(ev.clock, sizeof(ev.clock), "%s", j.system ? "system" : "gnss");
		daemon_emit_event(d, &ev, now);
		if (j.system && now->src != TS_GNSS) /* an NTP step corrects rows too */
			store_restamp_system(d->store, now->wall_ms - now->mono_ms,
					     clock_src_name(now->src));
	}
	if (d->last_src == TS_UNSYNCED && now->src != TS_UNSYNCED) {
		n = store_restamp(d->store, now->wall_ms - now->mono_ms, clock_src_name(now->src));
		if (n > 0)
			log_notice("clock: %s time: %d unsent rows restamped",
				   clock_src_name(now->src), n);
	}
	d->last_src = now->src;
}

/* A detector's event, stamped with the tick being run. */
struct daemon_tick_ctx {
	struct daemon *d;
	const struct clock_now *now;
};

static void daemon_on_detector_event(void *ctx, struct payload_event *ev)
{
	struct daemon_tick_ctx *tc = ctx;

	daemon_emit_event(tc->d, ev, tc->now);
}

/* The position for zones: the GNSS track's fix while it is valid. */
static int daemon_position(struct daemon *d, int64_t mono_ms, double *lat, double *lon)
{
	struct gnss_track *tr;

	if (!d->gnss)
		return 0;
	tr = gnss_track_of(d->gnss);
	if (!tr->have_fix || !gnss_track_valid(tr, mono_ms))
		return 0;
	*lat = tr->last.lat;
	*lon = tr->last.lon;
	return 1;
}

/* Engine state, tamper and health: the newest CAN and Modbus data by their
 * table tags (log time when replaying, so a gap in a log is a silence). */
static void daemon_watch(struct daemon *d, const struct clock_now *now, struct daemon_tick_ctx *tc)
{
	struct watch_input in = {.now_ms = now->mono_ms,
				 .n_can = d->n_can,
				 .can_age_ms = -1,
				 .gnss_enabled = d->gnss != NULL};
	double lat, lon;

	for (int i = 0; i < d->n_can; i++) {
		int64_t age = table_source_age(&d->table, i + 1, now->mono_ms);

		if (age >= 0 && (in.can_age_ms < 0 || age < in.can_age_ms))
			in.can_age_ms = age;
	}
	for (int b = 0; b < CONFIG_MAX_BUS; b++)
		for (int i = 0; d->mb[b] && i < fieldbus_devices(d->mb[b]); i++)
			if (in.n_meters < WATCH_MAX_METERS) {
				in.meter[in.n_meters] = fieldbus_device_name(d->mb[b], i);
				in.meter_bus[in.n_meters] = fieldbus_bus_name(d->mb[b]);
				in.meter_age_ms[in.n_meters++] =
				    fieldbus_device_age(d->mb[b], i, now->mono_ms);
			}
	in.have_fix = daemon_position(d, now->mono_ms, &lat, &lon);
	watch_tick(&d->watch, &d->table, &in, daemon_on_detector_event, tc);
}

static void daemon_zones(struct daemon *d, const struct clock_now *now, struct daemon_tick_ctx *tc)
{
	struct zones_input in = {.now_ms = now->mono_ms,
				 .wall_ms = now->wall_ms,
				 .engine_running = watch_engine_running(&d->watch),
				 .smoke_starts = d->smoke.starts};

	if (zones_count(d->zones) == 0 && !zones_disabled(d->zones))
		return;
	in.have_pos = daemon_position(d, now->mono_ms, &in.lat, &in.lon);
	in.have_fuel = table_get(&d->table, SIG_FUEL_RATE_LPH, 0, now->mono_ms, &in.fuel_lph);
	zones_tick(d->zones, &in, daemon_on_detector_event, tc);
}

/* The record of this moment: signals, custom values, the position (a track
 * point only from ticks: track_point). */
static struct payload_record *daemon_record(struct daemon *d, const struct clock_now *now,
					    int track_point)
{
	struct payload_record *rec = report_record(&d->report);

	sampler_record(&d->table, now->mono_ms, rec);
	for (int i = 0; i < CONFIG_MAX_BUS; i++)
		if (d->mb[i])
			fieldbus_record(d->mb[i], rec, now->mono_ms, d->cfg.sample.stale_ms);
	if (d->gnss) {
		struct gnss_track *tr = gnss_track_of(d->gnss);

		gnss_track_pos(tr, now->mono_ms,
			       track_point ? gnss_track_point(tr, now->mono_ms) : NULL, &rec->pos);
	}
	return rec;
}

/* One sample period ends at `now`: detectors first (smoke derives lambda),
 * then the record. */
static void daemon_tick(struct daemon *d, const struct clock_now *now)
{
	struct daemon_tick_ctx tc = {d, now};

	daemon_check_clock(d, now);
	smoke_tick(&d->smoke, &d->table, now->mono_ms, now->wall_ms, daemon_on_detector_event, &tc);
	daemon_watch(d, now, &tc);
	daemon_zones(d, now, &tc);
	if (report_emit_record(&d->report, daemon_record(d, now, 1), now))
		d->records++;
}

/* Replay: the tick at the boundary wall_ms, its monotonic time from a
 * reference moment (ref_wall_ms, ref_mono_ms) of the same stretch of log. */
static void daemon_tick_at(struct daemon *d, int64_t wall_ms, int64_t ref_wall_ms,
			   int64_t ref_mono_ms)
{
	struct clock_now at = {
	    .wall_ms = wall_ms, .mono_ms = ref_mono_ms - (ref_wall_ms - wall_ms), .src = TS_REPLAY};

	daemon_tick(d, &at);
	d->next_tick_ms = wall_ms + d->cfg.sample.period_ms;
}

/* Replay: run the ticks whose boundary the log's time has passed, at most
 * *budget of them; 1 when some are left.  Ticks sit on whole periods of the
 * log's wall time, stamped with the boundary. */
static int daemon_replay_ticks(struct daemon *d, int *budget)
{
	struct clock_now now;

	clock_now(&now);
	if (d->next_tick_ms == 0)
		d->next_tick_ms =
		    (now.wall_ms / d->cfg.sample.period_ms + 1) * d->cfg.sample.period_ms;
	for (; d->next_tick_ms <= now.wall_ms; --*budget) {
		if (*budget <= 0)
			return 1;
		daemon_tick_at(d, d->next_tick_ms, now.wall_ms, now.mono_ms);
	}
	return 0;
}

/* A gap in the log, or its time stepping back: an event, not a record a
 * period across it; the period before it still closes with its record, and
 * the ticks go on from the frame after it. */
static void daemon_replay_jump(struct daemon *d, enum clock_step step, const struct clock_jump *j)
{
	int64_t period = d->cfg.sample.period_ms;
	struct clock_now now;
	char from[32], to[32];
	struct payload_event ev;

	if (d->next_tick_ms > 0 && j->from_ms > d->next_tick_ms - period)
		daemon_tick_at(d, d->next_tick_ms, j->from_ms, j->mono_ms);
	clock_now(&now);
	d->next_tick_ms = (now.wall_ms / period + 1) * period;
	clock_format_iso(j->from_ms, from, sizeof(from));
	clock_format_iso(j->to_ms, to, sizeof(to));
	if (step == CLOCK_STEP_GAP) {
		log_notice("replay: no frame from %s to %s: a gap", from, to);
		payload_event_init(&ev, PAYLOAD_EV_GAP);
		ev.gap_s = (double)(j->to_ms - j->from_ms) / 1000.0;
	} else {
		log_notice("replay: the log's time steps back from %s to %s", from, to);
		payload_event_init(&ev, PAYLOAD_EV_CLOCK);
		ev.jump_s = (double)(j->to_ms - j->from_ms) / 1000.0;
		snprintf(ev.clock, sizeof(ev.clock), "%s", "replay");
	}
	ev.from_ms = j->from_ms;
	ev.to_ms = j->to_ms;
	daemon_emit_event(d, &ev, &now);
}

static void daemon_live_ticks(struct daemon *d, int64_t mono_ms)
{
	struct clock_now now;

	if (clock_is_replay())
		return;
	if (d->next_tick_ms == 0)
		d->next_tick_ms = mono_ms + d->cfg.sample.period_ms;
	if (mono_ms < d->next_tick_ms)
		return;
	clock_now(&now);
	daemon_tick(d, &now);
	d->next_tick_ms += d->cfg.sample.period_ms;
	/* After a long stall, do not fire a burst of catch-up ticks. */
	if (d->next_tick_ms <= mono_ms)
		d->next_tick_ms = mono_ms + d->cfg.sample.period_ms;
}

/* Shutting down: an open episode is closed with an `end` event, committed. */
static void daemon_end_episodes(struct daemon *d)
{
	struct clock_now now;
	struct daemon_tick_ctx tc = {d, &now};
	int64_t mono = clock_mono_ms();

	clock_now(&now);
	smoke_finish(&d->smoke, mono, daemon_on_detector_event, &tc);
	/* Also without one: with no uplink, the last rows are committed (and
	 * echoed) only here. */
	store_flush(d->store);
	report_echo_committed(&d->report);
}

/* ---- status -------------------------------------------------------------- */

static json_t *daemon_status(struct daemon *d)
{
	struct status_parts p = {.cfg = &d->cfg,
				 .store = d->store,
				 .stop = d->stop,
				 .start_mono_ms = d->start_mono_ms,
				 .records = d->records,
				 .events = d->events,
				 .cmd_answer_errors = d->cmd_answer_errors,
				 .can = d->can,
				 .n_can = d->n_can,
				 .mb = d->mb,
				 .gnss = d->gnss,
				 .uplinks = d->uplinks,
				 .smoke = &d->smoke,
				 .watch = &d->watch,
				 .zones = d->zones};

	return status_build(&p);
}

static void daemon_publish_status(struct daemon *d)
{
	json_t *st = daemon_status(d);
	char *text;

	if (!st)
		return;
	status_write(d->cfg.state_dir, st);
	if (d->uplinks) {
		text = json_dumps(st, REPORT_JSON_FLAGS);
		if (text)
			uplinks_set_status(d->uplinks, text);
		free(text);
	}
	json_decref(st);
}

/* A source's one-off event (a DTC change, a VIN mismatch), stamped now. */
static void daemon_on_source_event(void *ctx, struct payload_event *ev)
{
	struct clock_now now;

	clock_now(&now);
	daemon_emit_event(ctx, ev, &now);
}

/* ---- remote commands ------------------------------------------------------ */

static json_t *daemon_cmd_status(void *ctx)
{
	return daemon_status(ctx);
}

static const struct config *daemon_cmd_config(void *ctx)
{
	return &((struct daemon *)ctx)->cfg;
}

/* Until the next restart or reload; live ticks move to the new period. */
static int daemon_cmd_set_period(void *ctx, int period_ms)
{
	struct daemon *d = ctx;

	log_notice("command: sample period %d ms (was %d ms)", period_ms, d->cfg.sample.period_ms);
	d->cfg.sample.period_ms = period_ms;
	if (!clock_is_replay() && d->next_tick_ms > 0)
		d->next_tick_ms = clock_mono_ms() + period_ms;
	return 0;
}

/* A record now, outside the period, marked as such. */
static uint64_t daemon_cmd_snapshot(void *ctx)
{
	struct daemon *d = ctx;
	struct clock_now now;
	struct payload_record *rec;
	uint64_t seq;

	clock_now(&now);
	rec = daemon_record(d, &now, 0);
	snprintf(rec->trigger, sizeof(rec->trigger), "snapshot");
	seq = report_emit_record(&d->report, rec, &now);
	if (seq)
		d->records++;
	return seq;
}

static void daemon_store_policy(struct daemon *d)
{
	struct store_policy p = {
	    .retention_days = d->cfg.store.retention_days,
	    .max_size_mb = d->cfg.store.max_size_mb,
	    .durability_full = d->cfg.store.durability_full,
	    .commit_interval_ms = d->cfg.store.commit_interval_ms,
	};

	store_set_policy(d->store, &p);
}

/* ---- sources and uplink -------------------------------------------------- */

static int daemon_open_sources(struct daemon *d)
{
	for (int i = 0; i < d->cfg.n_can; i++) {
		d->can[i] = canbus_open(&d->cfg.can[i], i + 1, &d->table);
		if (d->can[i])
			canbus_set_events(d->can[i], d->cfg.vin, daemon_on_source_event, d);
		if (!d->can[i])
			return -1;
		d->n_can = i + 1;
	}
	if (d->cfg.gnss.enabled && !d->gnss) {
		d->gnss = gnss_open(&d->cfg.gnss, DAEMON_SOURCE_GNSS, &d->table);
		if (!d->gnss)
			return -1;
	}
	return 0;
}

static void daemon_close_gnss(struct daemon *d)
{
	gnss_close(d->gnss);
	d->gnss = NULL;
	clock_gnss_forget();
}

/* One thread a Modbus bus that has devices. */
static int daemon_open_fieldbus(struct daemon *d)
{
	for (int b = 0; b < d->cfg.n_bus; b++) {
		int used = 0;

		for (int i = 0; i < d->cfg.n_mbdev; i++)
			used |= d->cfg.mbdev[i].bus == b;
		if (!used)
			continue;
		d->mb[b] = fieldbus_open(&d->cfg, b, DAEMON_SOURCE_MODBUS + b, d->wake_fd);
		if (!d->mb[b])
			return -1;
		fieldbus_set_events(d->mb[b], daemon_on_source_event, d);
	}
	return 0;
}

static void daemon_close_fieldbus(struct daemon *d)
{
	for (int b = 0; b < CONFIG_MAX_BUS; b++) {
		fieldbus_close(d->mb[b]);
		d->mb[b] = NULL;
	}
}

/* Has anything Modbus changed between a and b? */
static int daemon_fieldbus_changed(const struct config *a, const struct config *b)
{
	return a->n_bus != b->n_bus || a->n_mbdev != b->n_mbdev || a->n_point != b->n_point ||
	       memcmp(a->bus, b->bus, sizeof(a->bus)) != 0 ||
	       memcmp(a->mbdev, b->mbdev, sizeof(a->mbdev)) != 0 ||
	       memcmp(a->profile, b->profile, sizeof(a->profile)) != 0 ||
	       memcmp(a->point, b->point, sizeof(a->point)) != 0;
}

static void daemon_close_sources(struct daemon *d)
{
	for (int i = 0; i < d->n_can; i++) {
		loop_del_fd(d->loop, d->h_can[i]);
		d->h_can[i] = -1;
		canbus_close(d->can[i]);
	}
	d->n_can = 0;
}

static int daemon_open_uplinks(struct daemon *d)
{
	struct uplink_env env = {.store = d->store,
				 .wake_fd = d->wake_fd,
				 .has_can = d->cfg.n_can > 0,
				 .event = daemon_on_source_event,
				 .event_ctx = d};

	d->uplinks = uplinks_open(&d->cfg, &env);
	return d->uplinks ? 0 : -1;
}

/* ---- reload ---------------------------------------------------------------- */

static void daemon_reload(struct daemon *d)
{
	struct config *fresh = malloc(sizeof(*fresh));
	int errors;

	if (!fresh) {
		log_warn("reload");
		return;
	}
	health_reloading();
	errors = config_load(d->opts.config_path, fresh);
	if (errors) {
		log_warnx("reload: %s has %d error%s: keeping the running configuration",
			  d->opts.config_path, errors, errors == 1 ? "" : "s");
		goto out;
	}
	if (strcmp(fresh->store.path, d->cfg.store.path) != 0)
		log_notice("reload: the store stays at %s until restart", d->cfg.store.path);
	snprintf(fresh->store.path, sizeof(fresh->store.path), "%s", d->cfg.store.path);
	if (memcmp(fresh->can, d->cfg.can, sizeof(fresh->can)) != 0 ||
	    fresh->n_can != d->cfg.n_can) {
		daemon_close_sources(d);
		d->cfg.n_can = fresh->n_can;
		memcpy(d->cfg.can, fresh->can, sizeof(d->cfg.can));
		if (daemon_open_sources(d) < 0)
			log_warnx("reload: a CAN source did not open");
	}
	if (daemon_fieldbus_changed(fresh, &d->cfg)) {
		daemon_close_fieldbus(d);
		d->cfg.n_bus = fresh->n_bus;
		d->cfg.n_mbdev = fresh->n_mbdev;
		d->cfg.n_profile = fresh->n_profile;
		d->cfg.n_point = fresh->n_point;
		memcpy(d->cfg.bus, fresh->bus, sizeof(d->cfg.bus));
		memcpy(d->cfg.mbdev, fresh->mbdev, sizeof(d->cfg.mbdev));
		memcpy(d->cfg.profile, fresh->profile, sizeof(d->cfg.profile));
		memcpy(d->cfg.point, fresh->point, sizeof(d->cfg.point));
		if (daemon_open_fieldbus(d) < 0)
			log_warnx("reload: a Modbus bus did not open");
	}
	uplinks_reload(d->uplinks, &d->cfg, fresh);
	if (memcmp(&fresh->gnss, &d->cfg.gnss, sizeof(fresh->gnss)) != 0) {
		/* The track (points, odometer) starts again. */
		daemon_close_gnss(d);
		if (fresh->gnss.enabled &&
		    !(d->gnss = gnss_open(&fresh->gnss, DAEMON_SOURCE_GNSS, &d->table)))
			log_warnx("reload: the gnss source did not open");
	}
	d->cfg = *fresh;
	daemon_store_policy(d); /* the store itself stays open, untouched */
	snprintf(d->report.dev, sizeof(d->report.dev), "%s", d->cfg.id);
	d->table.stale_ms = d->cfg.sample.stale_ms;
	if (memcmp(&d->smoke.cfg, &d->cfg.smoke, sizeof(d->cfg.smoke)) != 0) {
		struct clock_now now;
		struct daemon_tick_ctx tc = {d, &now};
		int64_t mono = clock_mono_ms();

		/* An open episode gets its end before the rule changes. */
		clock_now(&now);
		smoke_finish(&d->smoke, mono, daemon_on_detector_event, &tc);
		smoke_init(&d->smoke, &d->cfg.smoke);
	}
	smoke_set_machine(&d->smoke, d->cfg.stage, d->cfg.rated_power_kw);
	/* The zones file is read again on every reload: it may have changed
	 * alone.  A bad one keeps the zones in force. */
	if (zones_reload(&d->zones, &d->cfg.zones, d->cfg.stage) < 0)
		log_warnx("reload: keeping the %d zones in force", zones_count(d->zones));
	watch_reload(&d->watch, &d->cfg);
	log_notice("reload: %s in force", d->opts.config_path);
out:
	health_reloaded("running");
	free(fresh);
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* The log's end: close the last, partial period (if frames came after the
 * last tick) so the log's final second has its record too. */
static void daemon_replay_end(struct daemon *d)
{
	struct clock_now now;

	clock_now(&now);
	if (now.wall_ms > d->next_tick_ms - d->cfg.sample.period_ms)
		daemon_tick_at(d, d->next_tick_ms, now.wall_ms, now.mono_ms);
	d->replay_done = 1;
}

/* Replay: the frames due by real time, in log time order across sources,
 * each after the ticks due before it; at most DAEMON_REPLAY_BUDGET frames
 * and ticks a round, so that signals are read in between.  Returns when to
 * come back (real_ms: work is waiting), or -1. */
static int64_t daemon_replay(struct daemon *d, int64_t real_ms)
{
	int budget = DAEMON_REPLAY_BUDGET, best, active;
	struct canbus_next n, first = {0};
	struct clock_jump j;
	enum clock_step step;
	int64_t next;

	while (budget > 0) {
		if (d->replay_src >= 0) {
			/* the clock is at this frame's time: ticks first */
			if (daemon_replay_ticks(d, &budget))
				break;
			canbus_replay_apply(d->can[d->replay_src]);
			d->replay_src = -1;
			budget--;
		}
		best = -1;
		active = 0;
		next = -1;
		for (int i = 0; i < d->n_can; i++) {
			if (!canbus_replay_next(d->can[i], real_ms, &n))
				continue;
			active = 1;
			if (n.due_ms > real_ms)
				next = earliest(next, n.due_ms);
			else if (best < 0 || n.t_us < first.t_us) {
				best = i;
				first = n;
			}
		}
		if (best < 0) {
			if (!active && clock_is_replay() && !d->replay_done)
				daemon_replay_end(d);
			return next;
		}
		step = clock_replay_advance(first.t_us, &j);
		if (step == CLOCK_STEP_GAP || step == CLOCK_STEP_BACK)
			daemon_replay_jump(d, step, &j);
		d->replay_src = best;
	}
	return real_ms;
}

static int daemon_finished(struct daemon *d)
{
	struct store_stats ss;

	/* Without a CAN source there is no log to wait for: done once the
	 * store is drained (a backlog drain, as in the bench). */
	if (!d->opts.exit_when_done || (!d->replay_done && d->cfg.n_can > 0))
		return 0;
	if (uplinks_count(d->uplinks) == 0)
		return 1;
	store_stats(d->store, &ss);
	return ss.rows == 0;
}

/* ---- the loop ---------------------------------------------------------------- */

/* After the round's I/O, so a reload never meets a stale descriptor. */
static void daemon_on_signal(void *ctx, int signo)
{
	struct daemon *d = ctx;

	if (signo == SIGHUP) {
		log_notice("SIGHUP: reloading %s", d->opts.config_path);
		daemon_reload(d);
		return;
	}
	log_notice("%s: stopping", strsignal(signo));
	d->stop = 1;
	loop_stop(d->loop);
}

static void daemon_on_wake(void *ctx, int fd, short revents)
{
	uint64_t junk;

	(void)ctx;
	(void)revents;
	if (read(fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		log_warn("eventfd");
}

static void daemon_on_can(void *ctx, int fd, short revents)
{
	(void)fd;
	(void)revents;
	canbus_read(ctx);
}

static void daemon_on_gnss(void *ctx, int fd, short revents)
{
	struct daemon *d = ctx;

	(void)fd;
	(void)revents;
	if (d->gnss)
		gnss_read(d->gnss);
}

/* An uplink's descriptor: the back-end whose it is. */
static void daemon_on_uplink(void *ctx, int fd, short revents)
{
	struct daemon *d = ctx;
	short events;

	for (int i = 0; i < UPLINKS_MAX; i++)
		if (uplinks_fd(d->uplinks, i, &events) == fd) {
			uplinks_ready(d->uplinks, i, revents);
			return;
		}
}

/* Descriptors that come and go (a CAN socket reopened, gpsd and the
 * platform reconnecting): what the loop watches follows them every round. */
static void daemon_watch_fds(struct daemon *d)
{
	for (int i = 0; i < CONFIG_MAX_CAN; i++) {
		if (i < d->n_can && d->h_can[i] < 0)
			d->h_can[i] = loop_add_fd(d->loop, -1, POLLIN, daemon_on_can, d->can[i]);
		if (i < d->n_can)
			loop_set_fd(d->loop, d->h_can[i], canbus_fd(d->can[i]), POLLIN);
		else if (d->h_can[i] >= 0) {
			loop_del_fd(d->loop, d->h_can[i]);
			d->h_can[i] = -1;
		}
	}
	loop_set_fd(d->loop, d->h_gnss, gnss_fd(d->gnss), POLLIN);
	for (int i = 0; i < UPLINKS_MAX; i++) {
		short events;
		int fd = uplinks_fd(d->uplinks, i, &events);

		loop_set_fd(d->loop, d->h_uplink[i], fd, events);
	}
}

static void daemon_on_status(void *ctx, int64_t now_ms)
{
	struct daemon *d = ctx;

	daemon_publish_status(d);
	loop_set_timer(d->loop, d->t_status, now_ms + DAEMON_STATUS_MS);
}

static void daemon_on_evict(void *ctx, int64_t now_ms)
{
	struct daemon *d = ctx;
	struct clock_now now;

	clock_now(&now);
	store_evict(d->store, now.wall_ms);
	loop_set_timer(d->loop, d->t_evict, now_ms + DAEMON_EVICT_MS);
}

/* Before every sleep: sources, ticks, store, uplinks; the next deadline.
 * Deadlines on the real monotonic clock (replay pacing, reconnects,
 * status); live ticks on the daemon clock, the same clock when not
 * replaying. */
static int64_t daemon_work(void *ctx, int64_t real)
{
	struct daemon *d = ctx;
	int64_t mono, deadline;

	deadline = daemon_replay(d, real);
	mono = clock_mono_ms();
	for (int i = 0; i < CONFIG_MAX_BUS; i++)
		if (d->mb[i])
			fieldbus_process(d->mb[i], &d->table, mono);
	daemon_live_ticks(d, mono);
	/* Before anything is sent, it is committed (at once when an
	 * uplink waits for rows, else at most every commit_interval). */
	store_flush_due(d->store, real, uplinks_wants_rows(d->uplinks));
	/* Readers see committed rows only, so the echo prints exactly
	 * what a crash cannot take back, before the uplink sends it. */
	report_echo_committed(&d->report);
	uplinks_process(d->uplinks, real, d->replay_done);
	uplinks_commands(d->uplinks, &d->cmd_hooks);
	store_flush_due(d->store, real, 0);
	health_tick(real);
	if (daemon_finished(d))
		loop_stop(d->loop);
	deadline = earliest(deadline, health_deadline());
	deadline = earliest(deadline, uplinks_deadline(d->uplinks));
	deadline = earliest(deadline, store_flush_deadline(d->store));
	if (!clock_is_replay() && d->next_tick_ms > 0)
		deadline = earliest(deadline, real + (d->next_tick_ms - mono));
	for (int i = 0; i < d->n_can; i++)
		deadline = earliest(earliest(deadline, canbus_retry(d->can[i], real)),
				    canbus_tick(d->can[i], real));
	if (d->gnss)
		deadline = earliest(deadline, gnss_retry(d->gnss, real));
	if (d->replay_done && d->opts.exit_when_done)
		deadline = earliest(deadline, real + 100);
	daemon_watch_fds(d);
	return deadline;
}

/* Signals blocked before any thread starts, so paho's threads inherit it;
 * SIGPIPE stays blocked and unread. */
static int daemon_loop_init(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		log_warn("signals");
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	d->loop = loop_new();
	if (!d->loop || loop_signals(d->loop, &set, daemon_on_signal, d) < 0)
		return -1;
	for (int i = 0; i < CONFIG_MAX_CAN; i++)
		d->h_can[i] = -1;
	d->t_status = loop_add_timer(d->loop, daemon_on_status, d);
	d->t_evict = loop_add_timer(d->loop, daemon_on_evict, d);
	/* Both after the first round: a replay's rows are judged on its clock. */
	loop_set_timer(d->loop, d->t_status, clock_real_ms());
	loop_set_timer(d->loop, d->t_evict, clock_real_ms());
	d->h_gnss = loop_add_fd(d->loop, -1, POLLIN, daemon_on_gnss, d);
	for (int i = 0; i < UPLINKS_MAX; i++)
		d->h_uplink[i] = loop_add_fd(d->loop, -1, 0, daemon_on_uplink, d);
	return loop_add_hook(d->loop, daemon_work, d);
}

/* A store that could not be used as it was is said in the log and, as an
 * alarm, in the new store: the server learns of it too. */
static void daemon_store_events(struct daemon *d)
{
	const struct store_open_info *info = store_opened(d->store);
	struct payload_event ev;
	struct clock_now now;

	clock_now(&now);
	if (info->moved_aside[0]) {
		log_warnx("store: %s was unusable (%s): moved aside to %s, a new store started",
			  d->cfg.store.path, info->corrupt_reason, info->moved_aside);
		payload_event_init(&ev, PAYLOAD_EV_STORE);
		snprintf(ev.state, sizeof(ev.state), "moved-aside");
		payload_strlcpy(ev.problem, sizeof(ev.problem), info->corrupt_reason);
		payload_strlcpy(ev.moved_to, sizeof(ev.moved_to), info->moved_aside);
		daemon_emit_event(d, &ev, &now);
	}
	if (info->ram) {
		log_warnx("store: %s cannot be used (%s): the store is in RAM, a restart loses it",
			  d->cfg.store.path, info->ram_reason);
		payload_event_init(&ev, PAYLOAD_EV_STORE);
		snprintf(ev.state, sizeof(ev.state), "ram");
		payload_strlcpy(ev.problem, sizeof(ev.problem), info->ram_reason);
		daemon_emit_event(d, &ev, &now);
	}
}

static int daemon_init(struct daemon *d)
{
	clock_init_live();
	d->start_mono_ms = clock_mono_ms();
	health_init();
	if (daemon_loop_init(d) < 0)
		return -1;
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wake_fd < 0 || loop_add_fd(d->loop, d->wake_fd, POLLIN, daemon_on_wake, d) < 0) {
		log_warn("eventfd");
		return -1;
	}
	if (mkdir(d->cfg.state_dir, 0750) < 0 && errno != EEXIST)
		log_warn("%s", d->cfg.state_dir);
	table_init(&d->table, d->cfg.sample.stale_ms);
	smoke_init(&d->smoke, &d->cfg.smoke);
	smoke_set_machine(&d->smoke, d->cfg.stage, d->cfg.rated_power_kw);
	watch_init(&d->watch, &d->cfg);
	d->zones = zones_open(&d->cfg.zones, d->cfg.stage);
	if (!d->zones)
		return -1;
	d->store = store_open(d->cfg.store.path, uplinks_mask(&d->cfg), d->cfg.store.retention_days,
			      d->cfg.store.max_size_mb);
	if (!d->store)
		return -1;
	daemon_store_policy(d);
	d->cmd_hooks = (struct command_hooks){d,
					      daemon_cmd_status,
					      daemon_cmd_config,
					      daemon_cmd_set_period,
					      daemon_cmd_snapshot,
					      &d->cmd_answer_errors};
	d->report.store = d->store;
	d->report.echo = d->opts.echo_stdout;
	/* Rows left from an earlier run were printed then. */
	d->report.echoed = store_next_seq_peek(d->store) - 1;
	snprintf(d->report.dev, sizeof(d->report.dev), "%s", d->cfg.id);
	daemon_store_events(d);
	if (daemon_open_sources(d) < 0 || daemon_open_fieldbus(d) < 0 || daemon_open_uplinks(d) < 0)
		return -1;
	return 0;
}

static void daemon_fini(struct daemon *d)
{
	health_stopping();
	daemon_close_sources(d);
	daemon_close_fieldbus(d);
	daemon_close_gnss(d);
	uplinks_close(d->uplinks); /* goodbyes: MQTT offline status, platform logout */
	if (d->store) {
		store_flush(d->store);
		/* What the last commit made durable is printed too. */
		report_echo_committed(&d->report);
		store_close(d->store);
	}
	zones_close(d->zones);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	loop_free(d->loop);
}

int daemon_run(const struct config *cfg, const struct daemon_opts *opts)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int status = 1;

	if (!d)
		fatal("out of memory");
	d->cfg = *cfg;
	d->opts = *opts;
	d->wake_fd = -1;
	d->replay_src = -1;
	if (opts->echo_stdout)
		setvbuf(stdout, NULL, _IOLBF, 0);
	if (daemon_init(d) == 0) {
		log_notice("emgwd %s: device %s, boot %llu, %d CAN source%s, mqtt %s", EMGW_VERSION,
			   cfg->id, (unsigned long long)store_boot(d->store), d->n_can,
			   d->n_can == 1 ? "" : "s", cfg->mqtt.enabled ? cfg->mqtt.host : "off");
		health_ready("running");
		if (loop_run(d->loop) == 0)
			status = 0;
		d->stop = 1;
		daemon_end_episodes(d);
		daemon_publish_status(d);
		watch_stop(&d->watch); /* a clean stop */
	}
	daemon_fini(d);
	free(d);
	return status;
}
