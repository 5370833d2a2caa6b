#include "gateway/sources.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/loop.h"

#define SOURCES_TAG_CAN	   1   /* + CAN index: a CAN source's tag in the table */
#define SOURCES_TAG_MODBUS 100 /* + bus index: a Modbus bus's tag */
#define SOURCES_TAG_GNSS   200 /* the gnss source's tag */

struct sources {
	struct table *table;
	int wake_fd;
	payload_event_fn *on_event;
	void *ctx;
	struct canbus *can[CONFIG_MAX_CAN];
	int can_tag[CONFIG_MAX_CAN]; /* each one's tag in the table: kept by a reload */
	int n_can;
	canbus_frame_fn *on_frame; /* set on every CAN source */
	void *frame_ctx;
	struct fieldbus *mb[CONFIG_MAX_BUS]; /* one a Modbus bus with devices */
	int mb_tag[CONFIG_MAX_BUS];	     /* each one's tag in the table */
	struct gnss *gnss;		     /* NULL when [gnss] is off */
};

/* Open CAN source c of cfg with tag, as the next of s->can. */
static int sources_add_can(struct sources *s, const struct config *cfg, int c, int tag)
{
	struct canbus *cb = canbus_open(&cfg->can[c], tag, s->table);

	if (!cb)
		return -1;
	canbus_set_events(cb, cfg->vin, s->on_event, s->ctx);
	canbus_set_frame_hook(cb, s->on_frame, s->frame_ctx);
	s->can[s->n_can] = cb;
	s->can_tag[s->n_can++] = tag;
	return 0;
}

static int sources_open_can(struct sources *s, const struct config *cfg)
{
	for (int i = 0; i < cfg->n_can; i++)
		if (sources_add_can(s, cfg, i, SOURCES_TAG_CAN + i) < 0)
			return -1;
	return 0;
}

static void sources_close_can(struct sources *s)
{
	for (int i = 0; i < s->n_can; i++)
		canbus_close(s->can[i]);
	s->n_can = 0;
}

/* Has bus b of cfg devices (a thread to run)? */
static int sources_bus_used(const struct config *cfg, int b)
{
	return config_bus_next_dev(cfg, b, -1) >= 0;
}

/* Start bus b of cfg with tag. */
static int sources_add_bus(struct sources *s, const struct config *cfg, int b, int tag)
{
	s->mb[b] = fieldbus_open(cfg, b, tag, s->wake_fd);
	if (!s->mb[b])
		return -1;
	s->mb_tag[b] = tag;
	fieldbus_set_events(s->mb[b], s->on_event, s->ctx);
	return 0;
}

/* One thread a Modbus bus that has devices. */
static int sources_open_buses(struct sources *s, const struct config *cfg)
{
	for (int b = 0; b < cfg->n_bus; b++)
		if (sources_bus_used(cfg, b) &&
		    sources_add_bus(s, cfg, b, SOURCES_TAG_MODBUS + b) < 0)
			return -1;
	return 0;
}

static void sources_close_buses(struct sources *s)
{
	for (int b = 0; b < CONFIG_MAX_BUS; b++) {
		fieldbus_close(s->mb[b]);
		s->mb[b] = NULL;
	}
}

static int sources_open_gnss(struct sources *s, const struct config *cfg)
{
	if (cfg->gnss.enabled && !s->gnss)
		s->gnss = gnss_open(&cfg->gnss, SOURCES_TAG_GNSS, s->table);
	return cfg->gnss.enabled && !s->gnss ? -1 : 0;
}

static void sources_close_gnss(struct sources *s)
{
	gnss_close(s->gnss);
	s->gnss = NULL;
	clock_gnss_forget();
}

struct sources *sources_open(const struct config *cfg, struct table *t, int wake_fd,
			     payload_event_fn *on_event, void *ctx)
{
	struct sources *s = calloc(1, sizeof(*s));

	if (!s) {
		log_warn("sources");
		return NULL;
	}
	s->table = t;
	s->wake_fd = wake_fd;
	s->on_event = on_event;
	s->ctx = ctx;
	if (sources_open_can(s, cfg) < 0 || sources_open_gnss(s, cfg) < 0 ||
	    sources_open_buses(s, cfg) < 0) {
		sources_close(s);
		return NULL;
	}
	return s;
}

void sources_close(struct sources *s)
{
	if (!s)
		return;
	sources_close_can(s);
	sources_close_buses(s);
	sources_close_gnss(s);
	free(s);
}

/* The [can] section of cfg named name, or -1. */
static int sources_can_section(const struct config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_can; i++)
		if (strcmp(cfg->can[i].name, name) == 0)
			return i;
	return -1;
}

/* Why fresh's CAN source c opens anew, into why: "" when the one running
 * (open: its handle, or NULL) goes on as it is. */
static void sources_can_why(const struct config *old, const struct config *fresh, int c,
			    const struct canbus *open, char *why, size_t size)
{
	int was = sources_can_section(old, fresh->can[c].name);
	const char *key = NULL;

	if (was < 0)
		snprintf(why, size, "added");
	else if (!open)
		snprintf(why, size, "was not open");
	else if (strcmp(old->vin, fresh->vin) != 0) /* its diagnostics check it */
		snprintf(why, size, "[device] vin changed");
	else if ((key = config_can_changed(&old->can[was], &fresh->can[c])))
		snprintf(why, size, "%s changed", key);
	else
		why[0] = '\0';
}

/* The lowest tag from base not in the mask used (bit i: base + i), taken. */
static int sources_take_tag(int base, unsigned *used)
{
	int i = 0;

	while (*used & 1u << i)
		i++;
	*used |= 1u << i;
	return base + i;
}

/* Does a log the reload keeps (keep[c]: fresh's source c, or NULL) still
 * replay?  One it opens then follows on from the replay's time, to stay
 * in step with it; alone, a log keeps its own times. */
static int sources_kept_replaying(struct canbus *const *keep, const struct config *fresh)
{
	struct canbus_stats st;

	for (int c = 0; c < fresh->n_can; c++) {
		if (!keep[c] || !fresh->can[c].log[0])
			continue;
		canbus_stats(keep[c], &st);
		if (!st.done)
			return 1;
	}
	return 0;
}

/* Only the CAN sources added or changed open anew, each logged with why;
 * the others keep their socket or place in the log, their decoder and
 * their tag, and take their place in fresh's order. */
static void sources_reconfigure_can(struct sources *s, const struct config *old,
				    const struct config *fresh)
{
	struct canbus *run[CONFIG_MAX_CAN], *keep[CONFIG_MAX_CAN] = {NULL};
	int run_tag[CONFIG_MAX_CAN], keep_tag[CONFIG_MAX_CAN], n_run = s->n_can;
	char why[CONFIG_MAX_CAN][48];
	unsigned used = 0;
	struct clock_now now;
	int follow;

	memcpy(run, s->can, sizeof(run));
	memcpy(run_tag, s->can_tag, sizeof(run_tag));
	for (int c = 0; c < fresh->n_can; c++) {
		int r = 0;

		while (r < n_run && (!run[r] || strcmp(canbus_name(run[r]), fresh->can[c].name)))
			r++;
		sources_can_why(old, fresh, c, r < n_run ? run[r] : NULL, why[c], sizeof(why[c]));
		if (!why[c][0]) {
			keep[c] = run[r];
			keep_tag[c] = run_tag[r];
			used |= 1u << (run_tag[r] - SOURCES_TAG_CAN);
			run[r] = NULL;
		}
	}
	for (int r = 0; r < n_run; r++) {
		if (run[r] && sources_can_section(fresh, canbus_name(run[r])) < 0)
			log_notice("reload: can %s: removed: closes", canbus_name(run[r]));
		canbus_close(run[r]);
	}
	s->n_can = 0;
	follow = clock_is_replay() && sources_kept_replaying(keep, fresh);
	clock_now(&now);
	for (int c = 0; c < fresh->n_can; c++) {
		if (!why[c][0]) {
			s->can[s->n_can] = keep[c];
			s->can_tag[s->n_can++] = keep_tag[c];
			continue;
		}
		log_notice("reload: can %s: %s: %s", fresh->can[c].name, why[c],
			   strstr(why[c], "changed") ? "restarts" : "opens");
		if (sources_add_can(s, fresh, c, sources_take_tag(SOURCES_TAG_CAN, &used)) < 0) {
			log_warnx("reload: can %s did not open: left out", fresh->can[c].name);
			continue;
		}
		if (follow)
			canbus_replay_follow(s->can[s->n_can - 1], now.wall_ms * 1000);
	}
}

/* The [bus] section of cfg named name, or -1. */
static int sources_bus_section(const struct config *cfg, const char *name)
{
	for (int b = 0; b < cfg->n_bus; b++)
		if (strcmp(cfg->bus[b].name, name) == 0)
			return b;
	return -1;
}

/* Only the Modbus buses added or changed (a [bus] key, its devices or
 * their profiles) start anew, each logged with why; the others keep their
 * thread, connection, devices' back-off and values, and their tag. */
static void sources_reconfigure_buses(struct sources *s, const struct config *old,
				      const struct config *fresh)
{
	struct fieldbus *run[CONFIG_MAX_BUS];
	int run_tag[CONFIG_MAX_BUS];
	char why[CONFIG_MAX_BUS][96];
	unsigned used = 0;

	memcpy(run, s->mb, sizeof(run));
	memcpy(run_tag, s->mb_tag, sizeof(run_tag));
	memset(s->mb, 0, sizeof(s->mb));
	for (int b = 0; b < fresh->n_bus; b++) {
		int was = sources_bus_section(old, fresh->bus[b].name);

		why[b][0] = '\0';
		if (!sources_bus_used(fresh, b))
			continue;
		if (was < 0 || !run[was])
			snprintf(why[b], sizeof(why[b]), "%s",
				 was < 0		       ? "added"
				 : !sources_bus_used(old, was) ? "devices added"
							       : "was not open");
		else if (!config_bus_changed(old, was, fresh, b, why[b], sizeof(why[b]))) {
			s->mb[b] = run[was];
			s->mb_tag[b] = run_tag[was];
			used |= 1u << (run_tag[was] - SOURCES_TAG_MODBUS);
			run[was] = NULL;
		}
	}
	for (int b = 0; b < CONFIG_MAX_BUS; b++) {
		int kept = run[b] ? sources_bus_section(fresh, old->bus[b].name) : -1;

		if (run[b] && (kept < 0 || !sources_bus_used(fresh, kept)))
			log_notice("reload: modbus bus %s: %s: closes", old->bus[b].name,
				   kept < 0 ? "removed" : "no device left");
		fieldbus_close(run[b]);
	}
	for (int b = 0; b < fresh->n_bus; b++) {
		if (!why[b][0])
			continue;
		log_notice("reload: modbus bus %s: %s: %s", fresh->bus[b].name, why[b],
			   strstr(why[b], "changed") ? "restarts" : "opens");
		if (sources_add_bus(s, fresh, b, sources_take_tag(SOURCES_TAG_MODBUS, &used)) < 0)
			log_warnx("reload: modbus bus %s did not open: left out",
				  fresh->bus[b].name);
	}
}

void sources_reconfigure(struct sources *s, const struct config *old, const struct config *fresh)
{
	const char *key = config_gnss_changed(old, fresh);
	const char *what = fresh->gnss.enabled ? "restarts" : "closes";

	sources_reconfigure_can(s, old, fresh);
	sources_reconfigure_buses(s, old, fresh);
	if (!key)
		return;
	log_notice("reload: gnss: %s changed: %s", key, old->gnss.enabled ? what : "opens");
	sources_close_gnss(s);
	if (sources_open_gnss(s, fresh) < 0)
		log_warnx("reload: the gnss source did not open");
}

void sources_set_frame_hook(struct sources *s, canbus_frame_fn *fn, void *ctx)
{
	s->on_frame = fn;
	s->frame_ctx = ctx;
	for (int i = 0; i < s->n_can; i++)
		canbus_set_frame_hook(s->can[i], fn, ctx);
}

int sources_fd(const struct sources *s, int i)
{
	if (i < s->n_can)
		return canbus_poll_fd(s->can[i]);
	return i == CONFIG_MAX_CAN ? gnss_fd(s->gnss) : -1;
}

void sources_ready(struct sources *s, int i)
{
	if (i < s->n_can)
		canbus_read(s->can[i]);
	else if (i == CONFIG_MAX_CAN && s->gnss)
		gnss_read(s->gnss);
}

void sources_process(struct sources *s, int64_t mono_ms)
{
	/* CAN sockets resting a batch: what they hold, so a tick sees every
	 * frame received before it */
	for (int i = 0; i < s->n_can; i++)
		canbus_catch_up(s->can[i]);
	for (int i = 0; i < CONFIG_MAX_BUS; i++)
		if (s->mb[i])
			fieldbus_process(s->mb[i], s->table, mono_ms);
}

int64_t sources_deadline(struct sources *s, int64_t real_ms)
{
	int64_t deadline = -1;

	for (int i = 0; i < s->n_can; i++)
		deadline = loop_earliest(loop_earliest(deadline, canbus_retry(s->can[i], real_ms)),
					 canbus_tick(s->can[i], real_ms));
	if (s->gnss)
		deadline = loop_earliest(deadline, gnss_retry(s->gnss, real_ms));
	return deadline;
}

int sources_replay_due(struct sources *s, int64_t real_ms, struct canbus_next *first, int64_t *next,
		       int *active)
{
	struct canbus_next n;
	int best = -1;

	*active = 0;
	*next = -1;
	for (int i = 0; i < s->n_can; i++) {
		if (!canbus_replay_next(s->can[i], real_ms, &n))
			continue;
		*active = 1;
		/* Paced: frames due within a batch of now wait for one
		 * wake-up together (each still applied at its log time). */
		if (n.due_ms > real_ms)
			*next = loop_earliest(*next, n.due_ms > real_ms + CANBUS_BATCH_MS
							 ? n.due_ms
							 : real_ms + CANBUS_BATCH_MS);
		else if (best < 0 || n.t_us < first->t_us) {
			best = i;
			*first = n;
		}
	}
	return best;
}

void sources_replay_apply(struct sources *s, int i)
{
	if (i >= 0 && i < s->n_can)
		canbus_replay_apply(s->can[i]);
}

int64_t sources_can_age(const struct sources *s, int64_t now_ms)
{
	int64_t newest = -1;

	for (int i = 0; i < s->n_can; i++) {
		int64_t age = table_source_age(s->table, s->can_tag[i], now_ms);

		if (age >= 0 && (newest < 0 || age < newest))
			newest = age;
	}
	return newest;
}

int sources_n_can(const struct sources *s)
{
	return s->n_can;
}

struct canbus *const *sources_can(const struct sources *s)
{
	return s->can;
}

struct fieldbus *const *sources_buses(const struct sources *s)
{
	return s->mb;
}

struct gnss *sources_gnss(const struct sources *s)
{
	return s->gnss;
}
