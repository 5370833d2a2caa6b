#include "gateway/status.h"

#include "gateway/seal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <zlib.h>

#include "gateway/canbus.h"
#include "gateway/clock.h"
#include "gateway/fieldbus.h"
#include "gateway/gnss.h"
#include "gateway/log.h"
#include "gateway/smoke.h"
#include "gateway/store.h"
#include "gateway/uplinks.h"
#include "gateway/watch.h"
#include "gateway/zones.h"

/* The text and a newline to path; 0 or -1. */
static int status_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fputs(text, f) < 0 || fputc('\n', f) == EOF;
	return fclose(f) != 0 || rc ? -1 : 0;
}

int status_write(const char *dir, const char *text)
{
	static int failing;
	char path[4096], tmp[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, STATUS_FILE) >= sizeof(tmp))
		return -1;
	/* No fsync: status is rewritten every few seconds and is worthless
	 * after a power cut; rename keeps readers from seeing half a file. */
	if (status_put(tmp, text) < 0 || rename(tmp, path) < 0) {
		if (!failing++)
			log_warnx("status: cannot write %s", path);
		return -1;
	}
	if (failing)
		log_notice("status: %s written again", path);
	failing = 0;
	return 0;
}

const char *status_run_dir(const struct config *cfg)
{
	static char env_dir[PATH_MAX];
	const char *env = getenv("RUNTIME_DIRECTORY");

	if (cfg->run_dir[0])
		return cfg->run_dir;
	/* systemd lists several RuntimeDirectory= joined by ':'. */
	if (env && env[0] == '/' && strcspn(env, ":") < sizeof(env_dir)) {
		snprintf(env_dir, sizeof(env_dir), "%.*s", (int)strcspn(env, ":"), env);
		return env_dir;
	}
	return cfg->state_dir;
}

int status_link(const char *run_dir, const char *state_dir)
{
	char target[PATH_MAX + 16], path[PATH_MAX + 16], tmp[PATH_MAX + 16];

	if (strcmp(run_dir, state_dir) == 0)
		return 0;
	if ((size_t)snprintf(target, sizeof(target), "%s/%s", run_dir, STATUS_FILE) >=
		sizeof(target) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, STATUS_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.lnk", state_dir, STATUS_FILE) >= sizeof(tmp))
		return -1;
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, path) < 0) {
		log_warn("status: cannot link %s to %s", path, target);
		unlink(tmp);
		return -1;
	}
	return 0;
}

const char *status_read_dir(const struct config *cfg)
{
	const char *run = status_run_dir(cfg);
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", run, STATUS_FILE);
	return access(path, R_OK) == 0 ? run : cfg->state_dir;
}

static void status_print_object(FILE *out, const char *indent, json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		if (json_is_object(v)) {
			char sub[64];

			fprintf(out, "%s%s:\n", indent, key);
			snprintf(sub, sizeof(sub), "%s    ", indent);
			status_print_object(out, sub, v);
			continue;
		}
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

		fprintf(out, "%s%-22s %s\n", indent, key, text ? text : "?");
		free(text);
	}
}

/* ---- the summary on top of --status: one line a part --------------------- */

static void status_line(FILE *out, const char *part, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void status_line(FILE *out, const char *part, int ok, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%-18s %-4s ", part, ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static const char *status_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "?";
}

/* ", last_error" when there is one, for the end of a summary line. */
static const char *status_error(json_t *o, char *buf, size_t len)
{
	const char *e = json_string_value(json_object_get(o, "last_error"));

	snprintf(buf, len, "%s%s", e && e[0] ? ", " : "", e && e[0] ? e : "");
	return buf;
}

static double status_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : -1;
}

static void status_summary_source(FILE *out, const char *name, json_t *src)
{
	const char *type = status_str(src, "type"), *state = status_str(src, "state");
	char part[40], err[160];
	double age = status_num(src, "last_frame_age_s");

	snprintf(part, sizeof(part), "%s %s", type, name);
	if (strcmp(type, "can") == 0)
		status_line(out, part,
			    strcmp(state, "ended") == 0 ||
				(strcmp(state, "up") == 0 && age >= 0 && age < 10),
			    "%s, bus %s, %.0f frames, last %.0f s ago", state,
			    status_str(src, "bus"), status_num(src, "frames"), age);
	else if (strcmp(type, "modbus") == 0)
		status_line(out, part, strcmp(state, "responding") == 0, "bus %s unit %.0f: %s%s",
			    status_str(src, "bus"), status_num(src, "unit"), state,
			    status_error(src, err, sizeof(err)));
	else if (strcmp(type, "gnss") == 0)
		status_line(out, "gnss", json_is_true(json_object_get(src, "valid")),
			    "gpsd %s, %s, last fix %.0f s ago", state,
			    json_is_true(json_object_get(src, "valid")) ? "valid fix" : "no fix",
			    status_num(src, "last_fix_age_s"));
}

static void status_summary_uplink(FILE *out, const char *name, json_t *u)
{
	json_t *connected = json_object_get(u, "connected");
	char err[160];

	if (!json_is_true(json_object_get(u, "enabled")))
		return;
	/* the MQTT uplink's status key is "uplink" (it came first) */
	status_line(out, strcmp(name, "uplink") == 0 ? "mqtt" : name,
		    !connected || json_is_true(connected), "%s%s",
		    connected ? (json_is_true(connected) ? "connected" : "not connected")
			      : "enabled",
		    status_error(u, err, sizeof(err)));
}

/* The status object as one line a part, for a person at a glance. */
static void status_summary(json_t *st, FILE *out)
{
	json_t *store = json_object_get(st, "store"), *src;
	const char *key, *ts = status_str(st, "ts_src");

	json_object_foreach(json_object_get(st, "sources"), key, src)
	    status_summary_source(out, key, src);
	status_line(out, "clock", strcmp(ts, "unsynced") != 0, "ts_src %s", ts);
	status_line(out, "store", 1, "%.0f rows waiting, oldest %.0f s, %s",
		    status_num(store, "rows"), status_num(store, "oldest_age_s"),
		    status_str(store, "mode"));
	json_object_foreach(st, key,
			    src) if (json_is_object(src) && json_object_get(src, "enabled"))
	    status_summary_uplink(out, key, src);
}

int status_print(const char *dir, int json, FILE *out)
{
	char path[4096];
	json_error_t err;
	json_t *st, *pid;
	int running;

	snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE);
	st = json_load_file(path, 0, &err);
	if (!st) {
		fprintf(stderr, "emgwd: no status in %s: %s (is emgwd running?)\n", path, err.text);
		return 2;
	}
	pid = json_object_get(st, "pid");
	running = json_is_integer(pid) &&
		  (kill((pid_t)json_integer_value(pid), 0) == 0 || errno == EPERM);
	if (json) {
		json_dumpf(st, out, JSON_INDENT(1) | JSON_REAL_PRECISION(12));
		fputc('\n', out);
	} else {
		fprintf(out, "emgwd %s (%s)\n",
			running ? "running" : "NOT running: last state below", path);
		status_summary(st, out);
		fputc('\n', out);
		status_print_object(out, "  ", st);
	}
	json_decref(st);
	return running ? 0 : 1;
}

/* ---- the status object (moved from daemon.c as it was) ---------------- */

static json_t *status_gnss(const struct status_parts *p, int64_t mono_ms)
{
	struct gnss_stats gs;

	gnss_stats(p->gnss, &gs);
	return json_pack(
	    "{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:b, s:o}", "type", "gnss", "gpsd",
	    p->cfg->gnss.host, "state", gs.up ? "up" : "down", "port", p->cfg->gnss.port,
	    "connects", (json_int_t)gs.connects, "reports", (json_int_t)gs.reports, "fixes",
	    (json_int_t)gs.fixes, "implausible", (json_int_t)gs.implausible, "valid",
	    gnss_track_valid(gnss_track_of(p->gnss), mono_ms), "last_fix_age_s",
	    gs.last_fix_mono_ms < 0 ? json_null()
				    : json_real((double)(mono_ms - gs.last_fix_mono_ms) / 1000.0));
}

static json_t *status_sources(const struct status_parts *p, int64_t mono_ms)
{
	json_t *src = json_object();

	for (int i = 0; i < p->n_can; i++)
		json_object_set_new(src, canbus_name(p->can[i]), canbus_status(p->can[i], mono_ms));
	if (p->gnss)
		json_object_set_new(src, "gnss", status_gnss(p, mono_ms));
	for (int i = 0; i < CONFIG_MAX_BUS; i++)
		if (p->mb[i])
			fieldbus_status(p->mb[i], src, mono_ms);
	return src;
}

/* Evictions by class, and the versions of what emgwd runs on. */
static void status_more(const struct status_parts *p, json_t *st, const struct store_stats *ss)
{
	json_object_set_new(json_object_get(st, "store"), "id", json_string(store_id(p->store)));
	json_object_set_new(json_object_get(st, "store"), "mode",
			    json_string(store_mode(p->store)));
	json_object_set_new(json_object_get(st, "store"), "unreadable",
			    json_integer((json_int_t)ss->unreadable));
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

void status_publish(const struct config *cfg, const char *text, int final)
{
	const char *run_dir = status_run_dir(cfg);

	status_write(run_dir, text);
	if (final && strcmp(run_dir, cfg->state_dir) != 0)
		status_write(cfg->state_dir, text);
}

json_t *status_build(const struct status_parts *p)
{
	struct store_stats ss;
	struct clock_now now;
	char ts[32];
	json_t *st;

	clock_now(&now);
	clock_format_iso(now.wall_ms, ts, sizeof(ts));
	store_stats(p->store, &ss);
	st = json_pack(
	    "{s:i, s:s, s:s, s:s, s:I, s:i, s:s, s:s, s:f, s:I, s:I, s:o, s:{s:I, s:o, "
	    "s:I, s:I}}",
	    "v", 1, "dev", p->cfg->id, "state", p->stop ? "stopped" : "online", "version",
	    EMGW_VERSION, "boot", (json_int_t)store_boot(p->store), "pid", (int)getpid(), "ts", ts,
	    "ts_src", clock_src_name(now.src), "uptime_s",
	    (double)(clock_mono_ms() - p->start_mono_ms) / 1000.0, "records",
	    (json_int_t)p->records, "events", (json_int_t)p->events, "sources",
	    status_sources(p, now.mono_ms), "store", "rows", (json_int_t)ss.rows, "oldest_age_s",
	    ss.oldest_wall_ms ? json_real((double)(now.wall_ms - ss.oldest_wall_ms) / 1000.0)
			      : json_null(),
	    "evicted", (json_int_t)ss.evicted, "bytes", (json_int_t)ss.bytes);
	if (st)
		uplinks_status(p->uplinks, st, &ss, now.wall_ms);
	if (st)
		json_object_set_new(st, "command_answer_errors",
				    json_integer((json_int_t)p->cmd_answer_errors));
	if (st)
		json_object_set_new(st, "detectors",
				    json_pack("{s:i, s:I, s:b, s:o}", "smoke_active",
					      smoke_active(p->smoke), "smoke_episodes",
					      (json_int_t)smoke_episodes(p->smoke),
					      "engine_running", watch_engine_running(p->watch),
					      "zones", zones_status(p->zones)));
	if (st)
		status_more(p, st, &ss);
	/* The seal key's id: what the server's copy of the public key must give. */
	if (st && p->seal)
		json_object_set_new(st, "seal",
				    json_pack("{s:s, s:I}", "key", seal_key(p->seal), "seals",
					      (json_int_t)seal_count(p->seal)));
	return st;
}
