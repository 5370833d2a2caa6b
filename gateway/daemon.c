#include "gateway/daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
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
#define DAEMON_MAX_FDS	     (3 + CONFIG_MAX_CAN + UPLINKS_MAX) /* signals, wake, gpsd, CAN, uplinks */
#define DAEMON_SOURCE_MODBUS 100 /* + bus index: a Modbus bus's tag in the table */
#define DAEMON_SOURCE_GNSS   200 /* the gnss source's tag in the table */

struct daemon {
	struct config cfg;
	struct daemon_opts opts;
	int sig_fd;
	int wake_fd;
	struct table table;
	struct store *store;
	struct report report;
	struct uplinks *uplinks;
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
	int64_t next_status_ms;
	int64_t next_evict_ms;
	int64_t start_mono_ms;
	int replay_done;
	int stop;
	int exit_status;
	uint64_t records, events;
};

/* ---- sampling ---------------------------------------------------------- */

/* Every event carries the position of its moment. */
static void daemon_emit_event(struct daemon *d, json_t *ev, const struct clock_now *now)
{
	if (d->gnss && ev && !json_object_get(ev, "pos"))
		json_object_set_new(ev, "pos",
				    gnss_track_pos(gnss_track_of(d->gnss), now->mono_ms, NULL));
	if (report_emit(&d->report, STORE_EVENT, ev, now))
		d->events++;
}

/* Live time, once a tick: a jump of the wall time is a `clock` event, and
 * trusted time arriving restamps the rows still waiting with unsynced times. */
static void daemon_check_clock(struct daemon *d, const struct clock_now *now)
{
	struct clock_jump j;
	char from[32], to[32];
	int n;

	if (now->src == TS_REPLAY)
		return;
	if (clock_jump_check(now, &j)) {
		clock_format_iso(j.from_ms, from, sizeof(from));
		clock_format_iso(j.to_ms, to, sizeof(to));
		log_notice("clock: %s time jumped from %s to %s", j.system ? "system" : "gnss",
			   from, to);
		daemon_emit_event(d,
				  json_pack("{s:s, s:s, s:s, s:f, s:s}", "type", "clock", "from",
					    from, "to", to, "jump_s",
					    (double)(j.to_ms - j.from_ms) / 1000.0, "clock",
					    j.system ? "system" : "gnss"),
				  now);
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

static void daemon_on_detector_event(void *ctx, json_t *ev)
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
		if (d->mb[b] && in.n_meters < WATCH_MAX_METERS) {
			in.meter[in.n_meters] = d->cfg.bus[b].name;
			in.meter_age_ms[in.n_meters++] =
			    table_source_age(&d->table, DAEMON_SOURCE_MODBUS + b, now->mono_ms);
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

	if (zones_count(d->zones) == 0)
		return;
	in.have_pos = daemon_position(d, now->mono_ms, &in.lat, &in.lon);
	in.have_fuel = table_get(&d->table, SIG_FUEL_RATE_LPH, 0, now->mono_ms, &in.fuel_lph);
	zones_tick(d->zones, &in, daemon_on_detector_event, tc);
}

/* One sample period ends at `now`: detectors first (smoke derives lambda),
 * then the record. */
static void daemon_tick(struct daemon *d, const struct clock_now *now)
{
	struct daemon_tick_ctx tc = {d, now};
	json_t *ev, *rec;

	daemon_check_clock(d, now);
	for (ev = smoke_tick(&d->smoke, &d->table, now->mono_ms, now->wall_ms); ev;
	     ev = smoke_next(&d->smoke))
		daemon_emit_event(d, ev, now);
	daemon_watch(d, now, &tc);
	daemon_zones(d, now, &tc);
	rec = sampler_record(&d->table, now->mono_ms);
	if (rec && d->gnss) {
		struct gnss_track *tr = gnss_track_of(d->gnss);

		json_object_set_new(
		    rec, "pos",
		    gnss_track_pos(tr, now->mono_ms, gnss_track_point(tr, now->mono_ms)));
	}
	for (int i = 0; rec && i < CONFIG_MAX_BUS; i++)
		if (d->mb[i])
			fieldbus_record(d->mb[i], json_object_get(rec, "sig"), now->mono_ms,
					d->cfg.sample.stale_ms);
	if (rec && report_emit(&d->report, STORE_RECORD, rec, now))
		d->records++;
}

/* Replay: run every tick whose boundary the log's time has passed.  Ticks
 * sit on whole periods of the log's wall time, stamped with the boundary. */
static void daemon_replay_ticks(struct daemon *d, int64_t upto_wall_ms)
{
	struct clock_now now, at;

	clock_now(&now);
	if (d->next_tick_ms == 0)
		d->next_tick_ms =
		    (now.wall_ms / d->cfg.sample.period_ms + 1) * d->cfg.sample.period_ms;
	while (d->next_tick_ms <= upto_wall_ms) {
		at = now;
		at.wall_ms = d->next_tick_ms;
		at.mono_ms = now.mono_ms - (now.wall_ms - d->next_tick_ms);
		daemon_tick(d, &at);
		d->next_tick_ms += d->cfg.sample.period_ms;
	}
}

static void daemon_on_replay_time(void *ctx)
{
	struct daemon *d = ctx;
	struct clock_now now;

	clock_now(&now);
	daemon_replay_ticks(d, now.wall_ms);
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
	json_t *ev = smoke_finish(&d->smoke, clock_mono_ms());

	clock_now(&now);
	for (; ev; ev = smoke_next(&d->smoke))
		daemon_emit_event(d, ev, &now);
	/* Also without one: with no uplink, the last rows are committed (and
	 * echoed) only here. */
	store_flush(d->store);
	report_echo_committed(&d->report);
}

/* ---- status -------------------------------------------------------------- */

static json_t *daemon_status_gnss(struct daemon *d, int64_t mono_ms)
{
	struct gnss_stats gs;

	gnss_stats(d->gnss, &gs);
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:b, s:o}", "type", "gnss", "gpsd",
			 d->cfg.gnss.host, "state", gs.up ? "up" : "down", "port", d->cfg.gnss.port,
			 "connects", (json_int_t)gs.connects, "reports", (json_int_t)gs.reports,
			 "fixes", (json_int_t)gs.fixes, "valid",
			 gnss_track_valid(gnss_track_of(d->gnss), mono_ms), "last_fix_age_s",
			 gs.last_fix_mono_ms < 0
			     ? json_null()
			     : json_real((double)(mono_ms - gs.last_fix_mono_ms) / 1000.0));
}

static json_t *daemon_status_sources(struct daemon *d, int64_t mono_ms)
{
	json_t *src = json_object();

	for (int i = 0; i < d->n_can; i++)
		json_object_set_new(src, canbus_name(d->can[i]), canbus_status(d->can[i], mono_ms));
	if (d->gnss)
		json_object_set_new(src, "gnss", daemon_status_gnss(d, mono_ms));
	for (int i = 0; i < CONFIG_MAX_BUS; i++)
		if (d->mb[i])
			fieldbus_status(d->mb[i], src, mono_ms);
	return src;
}

/* Evictions by class, and the versions of what emgwd runs on. */
static void daemon_status_more(json_t *st, const struct store_stats *ss)
{
	json_object_set_new(json_object_get(st, "store"), "evicted_by_class",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "routine",
				      (json_int_t)ss->evicted_class[STORE_CLASS_ROUTINE],
				      "position",
				      (json_int_t)ss->evicted_class[STORE_CLASS_POSITION],
				      "thinned", (json_int_t)ss->thinned, "event",
				      (json_int_t)ss->evicted_class[STORE_CLASS_EVENT], "alarm",
				      (json_int_t)ss->evicted_class[STORE_CLASS_ALARM]));
	json_object_set_new(st, "versions",
			    json_pack("{s:s, s:s, s:s, s:s, s:s}", "emgwd", EMGW_VERSION, "sqlite",
				      sqlite3_libversion(), "jansson", JANSSON_VERSION, "zlib",
				      zlibVersion(), "openssl", OpenSSL_version(OPENSSL_VERSION)));
}

static json_t *daemon_status(struct daemon *d)
{
	struct store_stats ss;
	struct clock_now now;
	char ts[32];
	json_t *st;

	clock_now(&now);
	clock_format_iso(now.wall_ms, ts, sizeof(ts));
	store_stats(d->store, &ss);
	st = json_pack("{s:i, s:s, s:s, s:s, s:I, s:i, s:s, s:s, s:f, s:I, s:I, s:o, s:{s:I, s:o, "
		       "s:I, s:I}}",
		       "v", 1, "dev", d->cfg.id, "state", d->stop ? "stopped" : "online", "version",
		       EMGW_VERSION, "boot", (json_int_t)store_boot(d->store), "pid", (int)getpid(),
		       "ts", ts, "ts_src", clock_src_name(now.src), "uptime_s",
		       (double)(clock_mono_ms() - d->start_mono_ms) / 1000.0, "records",
		       (json_int_t)d->records, "events", (json_int_t)d->events, "sources",
		       daemon_status_sources(d, now.mono_ms), "store", "rows", (json_int_t)ss.rows,
		       "oldest_age_s",
		       ss.oldest_wall_ms
			   ? json_real((double)(now.wall_ms - ss.oldest_wall_ms) / 1000.0)
			   : json_null(),
		       "evicted", (json_int_t)ss.evicted, "bytes", (json_int_t)ss.bytes);
	if (st)
		uplinks_status(d->uplinks, st, &ss, now.wall_ms);
	if (st)
		json_object_set_new(
		    st, "detectors",
		    json_pack("{s:i, s:I, s:b, s:o}", "smoke_active", smoke_active(&d->smoke),
			      "smoke_episodes", (json_int_t)d->smoke.starts, "engine_running",
			      watch_engine_running(&d->watch), "zones", zones_status(d->zones)));
	if (st)
		daemon_status_more(st, &ss);
	return st;
}

static void daemon_publish_status(struct daemon *d)
{
	json_t *st = daemon_status(d);
	char *text;

	if (!st)
		return;
	status_write(d->cfg.state_dir, st);
	text = json_dumps(st, REPORT_JSON_FLAGS);
	if (text)
		uplinks_set_status(d->uplinks, text);
	free(text);
	json_decref(st);
}

/* A source's one-off event (a DTC change, a VIN mismatch), stamped now. */
static void daemon_on_source_event(void *ctx, json_t *ev)
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
	json_t *rec;
	uint64_t seq;

	clock_now(&now);
	rec = sampler_record(&d->table, now.mono_ms);
	if (!rec)
		return 0;
	json_object_set_new(rec, "trigger", json_string("snapshot"));
	seq = report_emit(&d->report, STORE_RECORD, rec, &now);
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
		d->can[i] = canbus_open(&d->cfg.can[i], i + 1, &d->table, daemon_on_replay_time, d);
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
	for (int i = 0; i < d->n_can; i++)
		canbus_close(d->can[i]);
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
		json_t *ev = smoke_finish(&d->smoke, clock_mono_ms());

		/* An open episode gets its end before the rule changes. */
		clock_now(&now);
		for (; ev; ev = smoke_next(&d->smoke))
			daemon_emit_event(d, ev, &now);
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

/* ---- the loop ---------------------------------------------------------------- */

static int daemon_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	/* Blocked before any thread starts, so paho's threads inherit it. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	sigdelset(&set, SIGPIPE);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->sig_fd < 0 ? -1 : 0;
}

static void daemon_read_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_notice("SIGHUP: reloading %s", d->opts.config_path);
			daemon_reload(d);
		} else {
			log_notice("%s: stopping", strsignal((int)si.ssi_signo));
			d->stop = 1;
		}
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Replay sources run on real time; returns the earliest next due time. */
static int64_t daemon_run_replays(struct daemon *d, int64_t real_ms)
{
	int64_t next = -1;
	int active = 0;
	struct clock_now now;

	for (int i = 0; i < d->n_can; i++) {
		int64_t due = canbus_replay(d->can[i], real_ms);

		if (due >= 0)
			active = 1;
		next = earliest(next, due);
	}
	if (!active && clock_is_replay() && !d->replay_done) {
		/* Close the last, partial period (if frames came after the
		 * last tick) so the log's final second has its record too. */
		clock_now(&now);
		if (now.wall_ms > d->next_tick_ms - d->cfg.sample.period_ms)
			daemon_replay_ticks(d, d->next_tick_ms);
		d->replay_done = 1;
	}
	return next;
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

static int daemon_poll(struct daemon *d, int64_t deadline, int64_t mono_ms)
{
	struct pollfd pfd[DAEMON_MAX_FDS];
	int n = 0, timeout, rc, up_slot, up_n;
	uint64_t junk;

	pfd[n++] = (struct pollfd){.fd = d->sig_fd, .events = POLLIN};
	pfd[n++] = (struct pollfd){.fd = d->wake_fd, .events = POLLIN};
	for (int i = 0; i < d->n_can; i++)
		pfd[n++] = (struct pollfd){.fd = canbus_fd(d->can[i]), .events = POLLIN};
	/* Always a slot (fd -1 while disconnected: poll ignores it). */
	pfd[n++] = (struct pollfd){.fd = gnss_fd(d->gnss), .events = POLLIN};
	up_slot = n;
	n += up_n = uplinks_pollfds(d->uplinks, pfd + n);
	timeout = deadline < 0 ? -1 : deadline <= mono_ms ? 0 : (int)(deadline - mono_ms);
	rc = poll(pfd, (nfds_t)n, timeout);
	if (rc < 0 && errno != EINTR) {
		log_warn("poll");
		return -1;
	}
	if (rc <= 0)
		return 0;
	if (pfd[0].revents)
		daemon_read_signals(d);
	if (pfd[1].revents && read(d->wake_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		log_warn("eventfd");
	for (int i = 0; i < d->n_can; i++)
		if (pfd[2 + i].revents)
			canbus_read(d->can[i]);
	if (pfd[2 + d->n_can].revents && d->gnss)
		gnss_read(d->gnss);
	uplinks_io(d->uplinks, pfd + up_slot, up_n);
	return 0;
}

static int daemon_loop(struct daemon *d)
{
	while (!d->stop) {
		int64_t real = clock_real_ms(), mono, deadline;

		deadline = daemon_run_replays(d, real);
		mono = clock_mono_ms();
		for (int i = 0; i < CONFIG_MAX_BUS; i++)
			if (d->mb[i])
				fieldbus_process(d->mb[i], &d->table, mono);
		daemon_live_ticks(d, mono);
		if (real >= d->next_evict_ms) {
			struct clock_now now;

			clock_now(&now);
			store_evict(d->store, now.wall_ms);
			d->next_evict_ms = real + DAEMON_EVICT_MS;
		}
		/* Before anything is sent, it is committed (at once when an
		 * uplink waits for rows, else at most every commit_interval). */
		store_flush_due(d->store, real, uplinks_wants_rows(d->uplinks));
		/* Readers see committed rows only, so the echo prints exactly
		 * what a crash cannot take back, before the uplink sends it. */
		report_echo_committed(&d->report);
		uplinks_process(d->uplinks, real, d->replay_done);
		uplinks_commands(d->uplinks, &d->cmd_hooks);
		store_flush_due(d->store, real, 0);
		if (real >= d->next_status_ms) {
			daemon_publish_status(d);
			d->next_status_ms = real + DAEMON_STATUS_MS;
		}
		health_tick(real);
		if (daemon_finished(d))
			break;
		/* Deadlines on the real monotonic clock (replay pacing,
		 * reconnects, status); live ticks on the daemon clock, which
		 * is the same clock when not replaying. */
		deadline = earliest(deadline, d->next_status_ms);
		deadline = earliest(deadline, d->next_evict_ms);
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
		if (daemon_poll(d, deadline, real) < 0)
			return -1;
	}
	return 0;
}

static int daemon_init(struct daemon *d)
{
	clock_init_live();
	d->start_mono_ms = clock_mono_ms();
	health_init();
	if (daemon_signals(d) < 0) {
		log_warn("signals");
		return -1;
	}
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wake_fd < 0) {
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
	d->cmd_hooks = (struct command_hooks){d, daemon_cmd_status, daemon_cmd_config,
					      daemon_cmd_set_period, daemon_cmd_snapshot};
	d->report.store = d->store;
	d->report.echo = d->opts.echo_stdout;
	/* Rows left from an earlier run were printed then. */
	d->report.echoed = store_next_seq_peek(d->store) - 1;
	snprintf(d->report.dev, sizeof(d->report.dev), "%s", d->cfg.id);
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
	if (d->sig_fd >= 0)
		close(d->sig_fd);
}

int daemon_run(const struct config *cfg, const struct daemon_opts *opts)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int status = 1;

	if (!d)
		fatal("out of memory");
	d->cfg = *cfg;
	d->opts = *opts;
	d->sig_fd = d->wake_fd = -1;
	if (opts->echo_stdout)
		setvbuf(stdout, NULL, _IOLBF, 0);
	if (daemon_init(d) == 0) {
		log_notice("emgwd %s: device %s, boot %llu, %d CAN source%s, mqtt %s", EMGW_VERSION,
			   cfg->id, (unsigned long long)store_boot(d->store), d->n_can,
			   d->n_can == 1 ? "" : "s", cfg->mqtt.enabled ? cfg->mqtt.host : "off");
		health_ready("running");
		if (daemon_loop(d) == 0)
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
