#include "gateway/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "gateway/clock.h"
#include "gateway/command.h"
#include "gateway/core.h"
#include "gateway/fieldbus.h"
#include "gateway/health.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/pages.h"
#include "gateway/remote.h"
#include "gateway/report.h"
#include "gateway/seal.h"
#include "gateway/sources.h"
#include "gateway/shmvfs.h"
#include "gateway/status.h"
#include "gateway/store.h"
#include "gateway/table.h"
#include "gateway/uplinks.h"

#define DAEMON_STATUS_MS 5000
#define DAEMON_EVICT_MS	 60000

struct daemon {
	struct config *cfg; /* main's, the one copy: changed in place on reload */
	struct daemon_opts opts;
	struct loop *loop;
	int wake_fd;
	int h_src[SOURCES_FDS]; /* loop handles */
	int h_uplink[UPLINKS_MAX];
	int t_status, t_evict;
	struct table table;
	struct sources *src; /* CAN, Modbus, gnss */
	struct core *core;   /* the tick: clock, detectors, records */
	struct store *store;
	struct report report;
	struct seal *seal;		/* NULL: rows go unsealed (logged at start) */
	struct uplinks *uplinks;	/* MQTT, the HJ platform, a file: the back-ends in force */
	struct command_hooks cmd_hooks; /* what remote commands may reach */
	struct remote *remote;		/* pushed configurations */
	int stop;
	int draining;	     /* stopping: only the uplinks run */
	int64_t drain_until; /* real ms the drain ends, -1: when the store is empty */
	int64_t start_mono_ms;
	uint64_t cmd_answer_errors;    /* command answers that could not be built */
	struct command_limit cmd_bulk; /* get-log, poll-once: their own budget */
};

/* ---- status -------------------------------------------------------------- */

static json_t *daemon_status(struct daemon *d)
{
	struct status_parts p = {.cfg = d->cfg,
				 .store = d->store,
				 .stop = d->stop,
				 .start_mono_ms = d->start_mono_ms,
				 .records = core_records(d->core),
				 .events = core_events(d->core),
				 .cmd_answer_errors = d->cmd_answer_errors,
				 .can = sources_can(d->src),
				 .n_can = sources_n_can(d->src),
				 .mb = sources_buses(d->src),
				 .gnss = sources_gnss(d->src),
				 .uplinks = d->uplinks,
				 .smoke = core_smoke(d->core),
				 .watch = core_watch(d->core),
				 .zones = core_zones(d->core),
				 .seal = d->seal};

	json_t *st = status_build(&p);

	if (st && d->remote)
		json_object_set_new(st, "config", remote_status(d->remote, clock_real_ms()));
	return st;
}

/* One text for the file and the status topic: serialising it is most of
 * what a status costs. */
static void daemon_publish_status(struct daemon *d)
{
	json_t *st = daemon_status(d);
	char *text = st ? json_dumps(st, REPORT_JSON_FLAGS) : NULL;

	json_decref(st);
	if (!text)
		return;
	status_publish(d->cfg, text, d->stop);
	if (d->uplinks)
		uplinks_set_status(d->uplinks, text);
	free(text);
}

/* ---- remote commands ------------------------------------------------------ */

static json_t *daemon_cmd_status(void *ctx)
{
	return daemon_status(ctx);
}

static const struct config *daemon_cmd_config(void *ctx)
{
	return ((struct daemon *)ctx)->cfg;
}

/* Until the next restart or reload; live ticks move to the new period. */
static int daemon_cmd_set_period(void *ctx, int period_ms)
{
	struct daemon *d = ctx;

	log_notice("command: sample period %d ms (was %d ms)", period_ms, d->cfg->sample.period_ms);
	d->cfg->sample.period_ms = period_ms;
	core_set_period(d->core, period_ms);
	return 0;
}

/* poll-once: every Modbus device's latest, as the bus threads read it. */
static json_t *daemon_cmd_modbus(void *ctx)
{
	struct daemon *d = ctx;
	struct fieldbus *const *mb = sources_buses(d->src);
	json_t *devices = json_array();

	for (int b = 0; devices && b < CONFIG_MAX_BUS; b++)
		if (mb[b])
			fieldbus_latest(mb[b], devices, clock_mono_ms());
	return devices ? json_pack("{s:o}", "devices", devices) : NULL;
}

/* A record now, outside the period, marked as such. */
static uint64_t daemon_cmd_snapshot(void *ctx)
{
	return core_snapshot(((struct daemon *)ctx)->core);
}

/* ---- store and uplinks ------------------------------------------------------ */

static void daemon_store_policy(struct daemon *d)
{
	struct store_policy p = {
	    .retention_days = d->cfg->store.retention_days,
	    .max_size_mb = d->cfg->store.max_size_mb,
	    .durability_full = d->cfg->store.durability_full,
	    .commit_interval_ms = d->cfg->store.commit_interval_ms,
	    .keep_sent_days = d->cfg->store.keep_sent_days,
	};

	store_set_policy(d->store, &p);
}

static int daemon_open_uplinks(struct daemon *d)
{
	struct uplink_env env = {.store = d->store,
				 .wake_fd = d->wake_fd,
				 .has_can = d->cfg->n_can > 0,
				 .event = core_on_event,
				 .event_ctx = d->core};

	d->uplinks = uplinks_open(d->cfg, &env);
	return d->uplinks ? 0 : -1;
}

/* ---- reload ---------------------------------------------------------------- */

/* Each module follows the change from the configuration in force to the
 * fresh one itself; the store stays open where it is. */
static int daemon_reload(struct daemon *d)
{
	struct config *fresh = pages_alloc(sizeof(*fresh));
	int errors;

	if (!fresh) {
		log_warn("reload");
		return -1;
	}
	health_reloading();
	errors = config_load_zeroed(d->opts.config_path, fresh);
	if (errors) {
		log_warnx("reload: %s has %d error%s: keeping the running configuration",
			  d->opts.config_path, errors, errors == 1 ? "" : "s");
		goto out;
	}
	if (strcmp(fresh->store.path, d->cfg->store.path) != 0)
		log_notice("reload: the store stays at %s until restart", d->cfg->store.path);
	snprintf(fresh->store.path, sizeof(fresh->store.path), "%s", d->cfg->store.path);
	sources_reconfigure(d->src, d->cfg, fresh);
	if (uplinks_reload(d->uplinks, d->cfg, fresh) > 0)
		errors = 1; /* in force all the same: a pushed one is taken back */
	*d->cfg = *fresh;
	daemon_store_policy(d);
	report_set_dev(&d->report, d->cfg->id);
	table_set_stale(&d->table, d->cfg->sample.stale_ms);
	core_reconfigure(d->core, d->cfg);
	status_link(status_run_dir(d->cfg), d->cfg->state_dir);
	log_notice("reload: %s in force", d->opts.config_path);
out:
	health_reloaded("running");
	pages_free(fresh, sizeof(*fresh));
	return errors ? -1 : 0;
}

/* A pushed configuration in place, or taken back: reloaded now (an apply,
 * then perhaps the rollback of a reload that failed). */
static void daemon_remote(struct daemon *d)
{
	while (d->remote && remote_reload_due(d->remote, clock_real_ms()))
		remote_reloaded(d->remote, daemon_reload(d) == 0);
}

/* --exit-when-done, and every log replayed: only the store's drain is
 * left.  Without a CAN source there is no log to wait for (a backlog
 * drain, as in the bench). */
static int daemon_done_reading(struct daemon *d)
{
	return d->opts.exit_when_done && (core_replay_done(d->core) || d->cfg->n_can == 0);
}

static int daemon_finished(struct daemon *d)
{
	struct store_stats ss;

	if (!daemon_done_reading(d))
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
		remote_reloaded(d->remote, daemon_reload(d) == 0);
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

/* A source's descriptor: the source whose it is. */
static void daemon_on_source(void *ctx, int fd, short revents)
{
	struct daemon *d = ctx;

	(void)revents;
	for (int i = 0; i < SOURCES_FDS; i++)
		if (sources_fd(d->src, i) == fd) {
			sources_ready(d->src, i);
			return;
		}
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
	for (int i = 0; i < SOURCES_FDS; i++)
		loop_set_fd(d->loop, d->h_src[i], sources_fd(d->src, i), POLLIN);
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
	health_trim_heap();
	/* Rides on the next wake-up within the slack (a tick, a batch of
	 * frames); an idle daemon wakes for it at most every 1.5 periods. */
	loop_set_timer_slack(d->loop, d->t_status, now_ms + DAEMON_STATUS_MS, DAEMON_STATUS_MS / 2);
}

static void daemon_on_evict(void *ctx, int64_t now_ms)
{
	struct daemon *d = ctx;
	struct clock_now now;

	clock_now(&now);
	store_evict(d->store, now.wall_ms);
	loop_set_timer_slack(d->loop, d->t_evict, now_ms + DAEMON_EVICT_MS, DAEMON_EVICT_MS);
}

/* Seal what was committed, before an uplink can fetch it; force: the
 * open range now (a replay's end, a stop). */
static void daemon_seal(struct daemon *d, int force)
{
	struct clock_now now;

	if (!d->seal)
		return;
	clock_now(&now);
	seal_step(d->seal, &now, force);
}

/* Before every sleep: sources, ticks, store, uplinks; the next deadline.
 * Deadlines on the real monotonic clock (replay pacing, reconnects,
 * status); live ticks on the daemon clock, the same clock when not
 * replaying. */
/* A stop's drain: no source read, no tick; the uplinks send what is
 * committed until the store is empty or the drain's time is up. */
static int64_t daemon_drain(struct daemon *d, int64_t real)
{
	struct store_stats ss;
	int64_t deadline;

	store_flush_due(d->store, real, 1);
	daemon_seal(d, 1);
	uplinks_process(d->uplinks, real, 1, 1);
	store_flush_due(d->store, real, 0);
	store_stats(d->store, &ss);
	if (ss.rows == 0 || (d->drain_until >= 0 && real >= d->drain_until)) {
		if (ss.rows)
			log_notice("stopping with %llu rows unsent (sent on the next start)",
				   (unsigned long long)ss.rows);
		loop_stop(d->loop);
		return -1;
	}
	deadline = loop_earliest(uplinks_deadline(d->uplinks), store_flush_deadline(d->store));
	return loop_earliest(deadline, d->drain_until >= 0 ? d->drain_until : real + 100);
}

static int64_t daemon_work(void *ctx, int64_t real)
{
	struct daemon *d = ctx;
	int64_t mono, deadline;

	if (d->draining)
		return daemon_drain(d, real);
	deadline = core_replay(d->core, real);
	mono = clock_mono_ms();
	sources_process(d->src, mono);
	core_live(d->core, mono);
	/* Before anything is sent, it is committed: alarms at once, the
	 * rest every commit_interval (which also bounds the send latency:
	 * a commit per record when an uplink waits would undo the interval);
	 * at once in --exit-when-done's drain, which waits for an empty store. */
	store_flush_due(d->store, real, daemon_done_reading(d));
	/* Readers see committed rows only, so the echo prints exactly
	 * what a crash cannot take back, before the uplink sends it. */
	report_echo_committed(&d->report);
	daemon_seal(d, core_replay_done(d->core) && d->cfg->n_can > 0);
	uplinks_process(d->uplinks, real, core_replay_done(d->core), daemon_done_reading(d));
	uplinks_commands(d->uplinks, &d->cmd_hooks);
	daemon_remote(d);
	store_flush_due(d->store, real, 0);
	health_tick(real);
	if (daemon_finished(d))
		loop_stop(d->loop);
	deadline = loop_earliest(deadline, health_deadline());
	deadline = loop_earliest(deadline, uplinks_deadline(d->uplinks));
	deadline = loop_earliest(deadline, store_flush_deadline(d->store));
	deadline = loop_earliest(deadline, core_deadline(d->core, real, mono));
	deadline = loop_earliest(deadline, sources_deadline(d->src, real));
	deadline = loop_earliest(deadline, remote_deadline(d->remote));
	if (core_replay_done(d->core) && d->opts.exit_when_done)
		deadline = loop_earliest(deadline, real + 100);
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
	d->t_status = loop_add_timer(d->loop, daemon_on_status, d);
	d->t_evict = loop_add_timer(d->loop, daemon_on_evict, d);
	/* Both after the first round: a replay's rows are judged on its clock. */
	loop_set_timer(d->loop, d->t_status, clock_real_ms());
	loop_set_timer(d->loop, d->t_evict, clock_real_ms());
	for (int i = 0; i < SOURCES_FDS; i++)
		d->h_src[i] = loop_add_fd(d->loop, -1, POLLIN, daemon_on_source, d);
	for (int i = 0; i < UPLINKS_MAX; i++)
		d->h_uplink[i] = loop_add_fd(d->loop, -1, 0, daemon_on_uplink, d);
	return loop_add_hook(d->loop, daemon_work, d);
}

/*
 * OpenSSL's error texts (measured: ~320 KB of RSS) only for a gateway with
 * TLS configured at start, whose handshake failures are told in OpenSSL's
 * words.  Without, an OpenSSL error reads as its code ("error:1E08010C:
 * lib(60)::reason(268)", `openssl errstr 1E08010C` gives the text); the
 * texts cannot be loaded later, so a reload that turns TLS on gets codes
 * until the next start.  Before OpenSSL's first use: it decides once.
 *
 * The random generator is a Hash_DRBG (SP 800-90A's construction) with SM3
 * as its hash instead of OpenSSL's default CTR_DRBG on AES: the first
 * signature's nonce then does not build OpenSSL's store of every cipher
 * (measured: 143 KB of heap for a gateway without TLS, which needs no
 * cipher; a signature costs 0.6 % more instructions).  Set before the
 * generator is first used, which is the seal key's generation or first
 * signature.
 */
static void daemon_openssl_init(const struct config *c)
{
	int tls =
	    (c->mqtt.enabled && c->mqtt.ca_file[0]) || (c->platform.enabled && c->platform.tls);

	OPENSSL_init_crypto(tls ? 0 : OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	if (RAND_set_DRBG_type(NULL, "HASH-DRBG", NULL, NULL, SN_sm3) != 1) {
		ERR_clear_error();
		log_warnx("OpenSSL's random generator was already in use: it stays CTR_DRBG");
	}
}

static int daemon_init(struct daemon *d)
{
	daemon_openssl_init(d->cfg);
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
	if (mkdir(d->cfg->state_dir, 0750) < 0 && errno != EEXIST)
		log_warn("%s", d->cfg->state_dir);
	if (mkdir(status_run_dir(d->cfg), 0755) < 0 && errno != EEXIST)
		log_warn("%s", status_run_dir(d->cfg));
	status_link(status_run_dir(d->cfg), d->cfg->state_dir);
	/* The store's WAL index is rewritten at every commit: in RAM too. */
	shmvfs_set_dir(
	    strcmp(status_run_dir(d->cfg), d->cfg->state_dir) != 0 ? status_run_dir(d->cfg) : NULL);
	table_init(&d->table, d->cfg->sample.stale_ms);
	d->core = core_open(d->cfg, &d->table, &d->report);
	if (!d->core)
		return -1;
	d->store = store_open(d->cfg->store.path, uplinks_mask(d->cfg),
			      d->cfg->store.retention_days, d->cfg->store.max_size_mb);
	if (!d->store)
		return -1;
	daemon_store_policy(d);
	d->cmd_hooks = (struct command_hooks){d,
					      daemon_cmd_status,
					      daemon_cmd_config,
					      daemon_cmd_set_period,
					      daemon_cmd_snapshot,
					      &d->cmd_answer_errors,
					      NULL,
					      daemon_cmd_modbus,
					      &d->cmd_bulk,
					      d->store};
	command_limit_init(&d->cmd_bulk, COMMAND_BULK_PER_S);
	d->cmd_bulk.what = "get-log and poll-once";
	report_init(&d->report, d->store, d->cfg->id, d->opts.echo_stdout);
	d->seal = seal_open_keyed(d->store, &d->report, d->cfg->state_dir, &d->cfg->seal);
	core_store_events(d->core, store_opened(d->store), d->cfg->store.path);
	d->src = sources_open(d->cfg, &d->table, d->wake_fd, core_on_event, d->core);
	if (!d->src)
		return -1;
	core_attach(d->core, d->store, d->src);
	if (daemon_open_uplinks(d) < 0)
		return -1;
	/* After the uplinks: a rollback's event is stored like any other. */
	d->remote = remote_open(d->cfg, core_on_event, d->core, remote_wall_ms(), clock_real_ms());
	d->cmd_hooks.remote = d->remote;
	return d->remote ? 0 : -1;
}

static void daemon_fini(struct daemon *d)
{
	health_stopping();
	sources_close(d->src);
	uplinks_close(d->uplinks); /* goodbyes: MQTT offline status, platform logout */
	seal_close(d->seal);	   /* before the store: it is the store's eviction hook */
	d->seal = NULL;
	if (d->store) {
		store_flush(d->store);
		/* What the last commit made durable is printed too. */
		report_echo_committed(&d->report);
		store_close(d->store);
	}
	remote_close(d->remote);
	core_close(d->core);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	loop_free(d->loop);
}

int daemon_run(struct config *cfg, const struct daemon_opts *opts)
{
	/* The report's record and payload buffer are sized for the worst case. */
	struct daemon *d = pages_alloc(sizeof(*d));
	int status = 1;

	if (!d)
		fatal("out of memory");
	/* One malloc arena: the adapter threads (paho, Modbus) allocate little,
	 * and an arena each kept its own partly used heap (measured: USS -30 KiB
	 * on both footprint jobs).  Before any thread starts. */
	mallopt(M_ARENA_MAX, 1);
	d->cfg = cfg;
	d->opts = *opts;
	d->wake_fd = -1;
	if (opts->echo_stdout)
		setvbuf(stdout, NULL, _IOLBF, 0);
	if (daemon_init(d) == 0) {
		log_notice("emgwd %s: device %s, boot %llu, %d CAN source%s, mqtt %s", EMGW_VERSION,
			   cfg->id, (unsigned long long)store_boot(d->store), sources_n_can(d->src),
			   sources_n_can(d->src) == 1 ? "" : "s",
			   cfg->mqtt.enabled ? cfg->mqtt.host : "off");
		health_ready("running");
		if (loop_run(d->loop) == 0)
			status = 0;
		/* A signal gives the drain [seal] drain; --exit-when-done's
		 * own end waits until everything is sent. */
		d->drain_until = d->opts.exit_when_done && !d->stop
				     ? -1
				     : clock_real_ms() + d->cfg->seal.drain_ms;
		d->stop = 1;
		/* Open episodes end; also without an uplink, the last rows are
		 * committed (and echoed) here. */
		core_finish(d->core);
		store_flush(d->store);
		daemon_seal(d, 1); /* every stop ends with a seal */
		store_flush(d->store);
		report_echo_committed(&d->report);
		if (uplinks_count(d->uplinks) > 0) {
			d->draining = 1;
			loop_run(d->loop);
		}
		daemon_publish_status(d);
		core_stop(d->core); /* a clean stop */
	}
	daemon_fini(d);
	pages_free(d, sizeof(*d));
	return status;
}
