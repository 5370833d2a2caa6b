#include "gateway/core.h"

#include <stdio.h>
#include <stdlib.h>

#include "gateway/log.h"
#include "gateway/pages.h"
#include "gateway/sampler.h"

#define CORE_REPLAY_BUDGET 4096 /* frames and ticks a round when replaying flat out */
/* Live: a tick runs in a wake-up this close to its time, before or after,
 * instead of waking the daemon on its own (a Modbus poll's answer, a batch
 * of CAN frames); the schedule itself stays on whole periods. */
#define CORE_TICK_SLACK_MS 50

struct core {
	struct table *table;
	struct report *report;
	struct store *store;
	struct sources *src; /* NULL until core_attach */
	int period_ms, stale_ms;
	struct smoke smoke;
	struct watch watch;   /* engine state, tamper and health events */
	struct zones *zones;  /* prohibited zones (none loaded: empty) */
	enum ts_src last_src; /* time source at the last tick */
	int64_t next_tick_ms; /* live: monotonic; replay: wall time of the log */
	int replay_src;	      /* the source whose frame the replay clock is at, or -1 */
	int replay_done;
	uint64_t records, events;
	int64_t frame_off_ms, frame_off_at; /* live frames: wall - mono, and when it was taken */
	enum ts_src frame_src;
	int64_t judged_ms; /* live: the latest time the smoke rules judged at */
};

struct core *core_open(const struct config *cfg, struct table *t, struct report *r)
{
	/* The smoke detector's rings and evidence (~90 KB) fill only with an engine. */
	struct core *c = pages_alloc(sizeof(*c));

	if (!c) {
		log_warn("core");
		return NULL;
	}
	c->table = t;
	c->report = r;
	c->period_ms = cfg->sample.period_ms;
	c->stale_ms = cfg->sample.stale_ms;
	c->replay_src = -1;
	smoke_init_zeroed(&c->smoke, &cfg->smoke);
	smoke_set_machine(&c->smoke, cfg->stage, cfg->rated_power_kw);
	watch_init(&c->watch, cfg);
	c->zones = zones_open(&cfg->zones, cfg->stage);
	if (!c->zones) {
		pages_free(c, sizeof(*c));
		return NULL;
	}
	return c;
}

static void core_on_frame(void *ctx, int64_t mono_ms);

void core_attach(struct core *c, struct store *store, struct sources *src)
{
	c->store = store;
	c->src = src;
	c->frame_off_at = -1;
	sources_set_frame_hook(src, core_on_frame, c);
}

void core_close(struct core *c)
{
	if (!c)
		return;
	zones_close(c->zones);
	pages_free(c, sizeof(*c));
}

static struct gnss *core_gnss(const struct core *c)
{
	return c->src ? sources_gnss(c->src) : NULL;
}

/* ---- events ---------------------------------------------------------------- */

void core_emit_event(struct core *c, struct payload_event *ev, const struct clock_now *now)
{
	struct gnss *g = core_gnss(c);

	if (g && !ev->pos.present)
		gnss_track_pos(gnss_track_of(g), now->mono_ms, NULL, &ev->pos);
	if (report_emit_event(c->report, ev, now))
		c->events++;
}

void core_on_event(void *ctx, struct payload_event *ev)
{
	struct clock_now now;

	clock_now(&now);
	core_emit_event(ctx, ev, &now);
}

/* A detector's event, stamped with the tick being run. */
struct core_tick_ctx {
	struct core *c;
	const struct clock_now *now;
};

static void core_on_detector_event(void *ctx, struct payload_event *ev)
{
	struct core_tick_ctx *tc = ctx;

	core_emit_event(tc->c, ev, tc->now);
}

/* ---- the tick ---------------------------------------------------------------- */

/* Live time, once a tick: a jump of the wall time is a `clock` event, and
 * trusted time arriving restamps the rows still waiting with unsynced times. */
static void core_check_clock(struct core *c, const struct clock_now *now)
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
		core_emit_event(c, &ev, now);
		if (j.system && now->src != TS_GNSS) /* an NTP step corrects rows too */
			store_restamp_system(c->store, now->wall_ms - now->mono_ms,
					     clock_src_name(now->src));
	}
	if (c->last_src == TS_UNSYNCED && now->src != TS_UNSYNCED) {
		n = store_restamp(c->store, now->wall_ms - now->mono_ms, clock_src_name(now->src));
		if (n > 0)
			log_notice("clock: %s time: %d unsent rows restamped",
				   clock_src_name(now->src), n);
	}
	c->last_src = now->src;
}

/* The position for zones and watch: the GNSS track's fix while it is valid. */
static int core_position(const struct core *c, int64_t mono_ms, double *lat, double *lon)
{
	struct gnss *g = core_gnss(c);

	return g && gnss_track_position(gnss_track_of(g), mono_ms, lat, lon);
}

/* Engine state, tamper and health: the newest CAN and Modbus data by their
 * table tags (log time when replaying, so a gap in a log is a silence). */
static void core_watch_tick(struct core *c, const struct clock_now *now, struct core_tick_ctx *tc)
{
	struct fieldbus *const *mb = sources_buses(c->src);
	struct watch_input in = {.now_ms = now->mono_ms,
				 .n_can = sources_n_can(c->src),
				 .can_age_ms = sources_can_age(c->src, now->mono_ms),
				 .gnss_enabled = core_gnss(c) != NULL};
	double lat, lon;

	for (int b = 0; b < CONFIG_MAX_BUS; b++)
		for (int i = 0; mb[b] && i < fieldbus_devices(mb[b]); i++)
			if (in.n_meters < WATCH_MAX_METERS) {
				in.meter[in.n_meters] = fieldbus_device_name(mb[b], i);
				in.meter_bus[in.n_meters] = fieldbus_bus_name(mb[b]);
				in.meter_age_ms[in.n_meters++] =
				    fieldbus_device_age(mb[b], i, now->mono_ms);
			}
	in.have_fix = core_position(c, now->mono_ms, &lat, &lon);
	watch_tick(&c->watch, c->table, &in, core_on_detector_event, tc);
}

static void core_zones_tick(struct core *c, const struct clock_now *now, struct core_tick_ctx *tc)
{
	struct zones_input in = {.now_ms = now->mono_ms,
				 .wall_ms = now->wall_ms,
				 .engine_running = watch_engine_running(&c->watch),
				 .smoke_starts = smoke_episodes(&c->smoke)};

	if (zones_count(c->zones) == 0 && !zones_disabled(c->zones))
		return;
	in.have_pos = core_position(c, now->mono_ms, &in.lat, &in.lon);
	in.have_fuel = table_get(c->table, SIG_FUEL_RATE_LPH, 0, now->mono_ms, &in.fuel_lph);
	zones_tick(c->zones, &in, core_on_detector_event, tc);
}

/* The record of this moment: signals, custom values, the position (a track
 * point only from ticks: track_point). */
static struct payload_record *core_record(struct core *c, const struct clock_now *now,
					  int track_point)
{
	struct payload_record *rec = report_record(c->report);
	struct fieldbus *const *mb = sources_buses(c->src);
	struct gnss *g = core_gnss(c);

	sampler_record(c->table, now->mono_ms, rec);
	for (int i = 0; i < CONFIG_MAX_BUS; i++)
		if (mb[i])
			fieldbus_record(mb[i], rec, now->mono_ms, c->stale_ms);
	if (g) {
		struct gnss_track *tr = gnss_track_of(g);

		gnss_track_pos(tr, now->mono_ms,
			       track_point ? gnss_track_point(tr, now->mono_ms) : NULL, &rec->pos);
	}
	return rec;
}

/* One sample period ends at `now`: detectors first (smoke derives lambda),
 * then the record. */
static void core_tick(struct core *c, const struct clock_now *now)
{
	struct core_tick_ctx tc = {c, now};

	core_check_clock(c, now);
	smoke_tick(&c->smoke, c->table, now->mono_ms, now->wall_ms, core_on_detector_event, &tc);
	core_watch_tick(c, now, &tc);
	core_zones_tick(c, now, &tc);
	if (report_emit_record(c->report, core_record(c, now, 1), now))
		c->records++;
}

uint64_t core_snapshot(struct core *c)
{
	struct clock_now now;
	struct payload_record *rec;
	uint64_t seq;

	clock_now(&now);
	rec = core_record(c, &now, 0);
	snprintf(rec->trigger, sizeof(rec->trigger), "snapshot");
	seq = report_emit_record(c->report, rec, &now);
	if (seq)
		c->records++;
	return seq;
}

/* Signal rate: the smoke rules judge the table as the frames just applied
 * left it, at the clock's time (a replayed frame's own time). */
static void core_signal(struct core *c)
{
	struct clock_now now;
	struct core_tick_ctx tc = {c, &now};

	clock_now(&now);
	c->judged_ms = now.mono_ms;
	smoke_frame(&c->smoke, c->table, now.mono_ms, now.wall_ms, core_on_detector_event, &tc);
}

/* Live CAN: the smoke rules judge each frame at its kernel receive time,
 * so durations are measured to frames, not to the batch's read. */
static void core_on_frame(void *ctx, int64_t mono_ms)
{
	struct core *c = ctx;
	struct clock_now now;
	struct core_tick_ctx tc = {c, &now};

	/* the wall offset moves only with a clock step or a GNSS sync */
	if (c->frame_off_at < 0 || mono_ms - c->frame_off_at > 1000 || mono_ms < c->frame_off_at) {
		clock_now(&now);
		c->frame_off_ms = now.wall_ms - now.mono_ms;
		c->frame_off_at = mono_ms;
		c->frame_src = now.src;
	}
	/* a frame that came in while the last round judged: judged then */
	if (mono_ms < c->judged_ms)
		mono_ms = c->judged_ms;
	c->judged_ms = mono_ms;
	now = (struct clock_now){mono_ms, mono_ms + c->frame_off_ms, c->frame_src};
	smoke_frame(&c->smoke, c->table, now.mono_ms, now.wall_ms, core_on_detector_event, &tc);
}

/* ---- live ---------------------------------------------------------------------- */

/* At most a twentieth of the period either way. */
static int64_t core_tick_slack(const struct core *c)
{
	return c->period_ms / 20 < CORE_TICK_SLACK_MS ? c->period_ms / 20 : CORE_TICK_SLACK_MS;
}

void core_live(struct core *c, int64_t mono_ms)
{
	struct clock_now now;

	if (clock_is_replay())
		return;
	/* Modbus values since the last round (CAN frames are judged each
	 * at its own time: core_on_frame) */
	core_signal(c);
	/* Ticks on whole periods of the system clock: a Modbus poll on the
	 * same grid delivers its values just before the tick, in its wake-up */
	if (c->next_tick_ms == 0)
		c->next_tick_ms = clock_grid_next(mono_ms, c->period_ms);
	if (mono_ms < c->next_tick_ms - core_tick_slack(c))
		return;
	clock_now(&now);
	core_tick(c, &now);
	c->next_tick_ms += c->period_ms;
	/* After a long stall, do not fire a burst of catch-up ticks. */
	if (c->next_tick_ms <= mono_ms)
		c->next_tick_ms = clock_grid_next(mono_ms, c->period_ms);
}

int64_t core_deadline(const struct core *c, int64_t real_ms, int64_t mono_ms)
{
	if (clock_is_replay() || c->next_tick_ms <= 0)
		return -1;
	return real_ms + (c->next_tick_ms + core_tick_slack(c) - mono_ms);
}

void core_set_period(struct core *c, int period_ms)
{
	c->period_ms = period_ms;
	if (!clock_is_replay() && c->next_tick_ms > 0)
		c->next_tick_ms = clock_grid_next(clock_mono_ms(), period_ms);
}

/* ---- replay -------------------------------------------------------------------- */

/* Replay: the tick at the boundary wall_ms, its monotonic time from a
 * reference moment (ref_wall_ms, ref_mono_ms) of the same stretch of log. */
static void core_tick_at(struct core *c, int64_t wall_ms, int64_t ref_wall_ms, int64_t ref_mono_ms)
{
	struct clock_now at = {
	    .wall_ms = wall_ms, .mono_ms = ref_mono_ms - (ref_wall_ms - wall_ms), .src = TS_REPLAY};

	core_tick(c, &at);
	c->next_tick_ms = wall_ms + c->period_ms;
}

/* Replay: run the ticks whose boundary the log's time has passed, at most
 * *budget of them; 1 when some are left.  Ticks sit on whole periods of the
 * log's wall time, stamped with the boundary. */
static int core_replay_ticks(struct core *c, int *budget)
{
	struct clock_now now;

	clock_now(&now);
	if (c->next_tick_ms == 0)
		c->next_tick_ms = (now.wall_ms / c->period_ms + 1) * c->period_ms;
	for (; c->next_tick_ms <= now.wall_ms; --*budget) {
		if (*budget <= 0)
			return 1;
		core_tick_at(c, c->next_tick_ms, now.wall_ms, now.mono_ms);
	}
	return 0;
}

/* A gap in the log, or its time stepping back: an event, not a record a
 * period across it; the period before it still closes with its record, and
 * the ticks go on from the frame after it. */
static void core_replay_jump(struct core *c, enum clock_step step, const struct clock_jump *j)
{
	int64_t period = c->period_ms;
	struct clock_now now;
	char from[32], to[32];
	struct payload_event ev;

	if (c->next_tick_ms > 0 && j->from_ms > c->next_tick_ms - period)
		core_tick_at(c, c->next_tick_ms, j->from_ms, j->mono_ms);
	clock_now(&now);
	c->next_tick_ms = (now.wall_ms / period + 1) * period;
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
	core_emit_event(c, &ev, &now);
}

/* The log's end: close the last, partial period (if frames came after the
 * last tick) so the log's final second has its record too. */
static void core_replay_end(struct core *c)
{
	struct clock_now now;

	clock_now(&now);
	if (now.wall_ms > c->next_tick_ms - c->period_ms)
		core_tick_at(c, c->next_tick_ms, now.wall_ms, now.mono_ms);
	c->replay_done = 1;
}

int64_t core_replay(struct core *c, int64_t real_ms)
{
	int budget = CORE_REPLAY_BUDGET, best, active;
	struct canbus_next first = {0};
	struct clock_jump j;
	enum clock_step step;
	int64_t next;

	while (budget > 0) {
		if (c->replay_src >= 0) {
			/* the clock is at this frame's time: ticks first */
			if (core_replay_ticks(c, &budget))
				break;
			sources_replay_apply(c->src, c->replay_src);
			core_signal(c);
			c->replay_src = -1;
			budget--;
		}
		best = sources_replay_due(c->src, real_ms, &first, &next, &active);
		if (active)
			c->replay_done = 0; /* a reload restarted a log that had ended */
		if (best < 0) {
			if (!active && clock_is_replay() && !c->replay_done)
				core_replay_end(c);
			return next;
		}
		step = clock_replay_advance(first.t_us, &j);
		if (step == CLOCK_STEP_GAP || step == CLOCK_STEP_BACK)
			core_replay_jump(c, step, &j);
		c->replay_src = best;
	}
	return real_ms;
}

int core_replay_done(const struct core *c)
{
	return c->replay_done;
}

/* ---- reload and stop ---------------------------------------------------------- */

void core_reconfigure(struct core *c, const struct config *fresh)
{
	struct clock_now now;
	struct core_tick_ctx tc = {c, &now};
	int64_t mono = clock_mono_ms();

	clock_now(&now);
	/* the sources may have moved: the frame due is looked for again */
	c->replay_src = -1;
	c->period_ms = fresh->sample.period_ms;
	c->stale_ms = fresh->sample.stale_ms;
	smoke_reconfigure(&c->smoke, fresh, mono, core_on_detector_event, &tc);
	if (zones_reload(&c->zones, &fresh->zones, fresh->stage) < 0)
		log_warnx("reload: keeping the %d zones in force", zones_count(c->zones));
	watch_reload(&c->watch, fresh);
}

void core_finish(struct core *c)
{
	struct clock_now now;
	struct core_tick_ctx tc = {c, &now};
	int64_t mono = clock_mono_ms();

	clock_now(&now);
	smoke_finish(&c->smoke, mono, core_on_detector_event, &tc);
}

void core_stop(struct core *c)
{
	watch_stop(&c->watch);
}

uint64_t core_records(const struct core *c)
{
	return c->records;
}

uint64_t core_events(const struct core *c)
{
	return c->events;
}

struct smoke *core_smoke(struct core *c)
{
	return &c->smoke;
}

struct watch *core_watch(struct core *c)
{
	return &c->watch;
}

struct zones *core_zones(struct core *c)
{
	return c->zones;
}

void core_store_events(struct core *c, const struct store_open_info *info, const char *path)
{
	struct payload_event ev;
	struct clock_now now;

	clock_now(&now);
	if (info->moved_aside[0]) {
		log_warnx("store: %s was unusable (%s): moved aside to %s, a new store started",
			  path, info->corrupt_reason, info->moved_aside);
		payload_event_init(&ev, PAYLOAD_EV_STORE);
		snprintf(ev.state, sizeof(ev.state), "moved-aside");
		payload_strlcpy(ev.problem, sizeof(ev.problem), info->corrupt_reason);
		payload_strlcpy(ev.moved_to, sizeof(ev.moved_to), info->moved_aside);
		core_emit_event(c, &ev, &now);
	}
	if (info->ram) {
		log_warnx("store: %s cannot be used (%s): the store is in RAM, a restart loses it",
			  path, info->ram_reason);
		payload_event_init(&ev, PAYLOAD_EV_STORE);
		snprintf(ev.state, sizeof(ev.state), "ram");
		payload_strlcpy(ev.problem, sizeof(ev.problem), info->ram_reason);
		core_emit_event(c, &ev, &now);
	}
}
