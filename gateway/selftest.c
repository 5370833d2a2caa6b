#include "gateway/selftest.h"
#include "gateway/shmvfs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <gps.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "gateway/canbus.h"
#include "gateway/clock.h"
#include "gateway/fieldbus.h"
#include "gateway/gnss.h"
#include "gateway/status.h"
#include "gateway/store.h"

#define ST_MAX_LINES   (CONFIG_MAX_CAN + CONFIG_MAX_MBDEV + 8)
#define ST_STEP_MS     5000 /* one network step (connect, handshake) at most */
#define ST_MIN_FREE_MB 64   /* less free space than this beside the store fails */
#define ST_FRESH_S     5    /* a running daemon's Modbus value older than 3 polls + this: stale */

enum st_verdict { ST_OK, ST_FAIL, ST_SKIP };

struct st_line {
	char part[40];
	enum st_verdict verdict;
	char detail[320];
	char next[256];
};

struct selftest {
	const struct config *cfg;
	int seconds;
	struct st_line line[ST_MAX_LINES];
	int n;
	int gnss_time;	/* GNSS gave a time the clock would trust */
	json_t *daemon; /* the running daemon's status object, or NULL */
};

static const char *const st_verdict_name[] = {"ok", "FAIL", "skip"};

/* Add a line; next is the step to take when it fails (NULL: none). */
static void __attribute__((format(printf, 5, 6)))
st_add(struct selftest *s, const char *part, enum st_verdict v, const char *next, const char *fmt,
       ...)
{
	struct st_line *l;
	va_list ap;

	if (s->n >= ST_MAX_LINES)
		return;
	l = &s->line[s->n++];
	snprintf(l->part, sizeof(l->part), "%s", part);
	l->verdict = v;
	snprintf(l->next, sizeof(l->next), "%s", v == ST_FAIL && next ? next : "");
	va_start(ap, fmt);
	vsnprintf(l->detail, sizeof(l->detail), fmt, ap);
	va_end(ap);
}

static int64_t st_now_ms(void)
{
	return clock_real_ms();
}

/* ---- network steps: DNS, TCP --------------------------------------------------- */

/* Blocking from now on, but no read or write waits longer than a step: a
 * server that takes the connection and says nothing must not hang us. */
static void st_blocking(int fd)
{
	struct timeval tv = {.tv_sec = ST_STEP_MS / 1000};

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Resolve host:port and connect within ST_STEP_MS.  The descriptor
 * (blocking), or -1 with why saying which step failed. */
static int st_connect(const char *host, int port, char *why, size_t len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char serv[16];
	int fd = -1, rc, err = 0;

	snprintf(serv, sizeof(serv), "%d", port);
	rc = getaddrinfo(host, serv, &hints, &res);
	if (rc != 0) {
		snprintf(why, len, "DNS: %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		struct pollfd p = {.events = POLLOUT};
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		p.fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && poll(&p, 1, ST_STEP_MS) == 1 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0))
			break;
		if (!err)
			err = errno == EINPROGRESS ? ETIMEDOUT : errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(why, len, "TCP %s:%d: %s", host, port, strerror(err));
	else
		st_blocking(fd);
	return fd;
}

/* ---- CAN ---------------------------------------------------------------------- */

struct st_can {
	uint64_t frames, err_frames;
	double span_s;
	int engine_speed, coolant; /* seen */
	char sas[96], vin[24], mil[16], bitrate[32];
	char link[64]; /* live: "bitrate N, bus STATE" */
};

/* Replay: read the log (not paced) for at most `seconds` of its time. */
static void st_can_replay(struct canbus *cb, int seconds, int64_t deadline, double *span_s)
{
	struct canbus_next n;
	int64_t first_us = -1, last_us = 0;

	while (st_now_ms() < deadline && canbus_replay_next(cb, st_now_ms(), &n)) {
		if (first_us < 0)
			first_us = n.t_us;
		if (n.t_us - first_us > (int64_t)seconds * 1000000)
			break;
		last_us = n.t_us;
		canbus_replay_apply(cb);
	}
	*span_s = first_us < 0 ? 0 : (double)(last_us - first_us) / 1e6;
}

/* Live: listen (the socket sends nothing) until the deadline. */
static void st_can_listen(struct canbus *cb, int64_t deadline, double *span_s)
{
	int64_t start = st_now_ms(), now;

	while ((now = st_now_ms()) < deadline) {
		struct pollfd p = {.fd = canbus_fd(cb), .events = POLLIN};

		if (p.fd < 0 || poll(&p, 1, (int)(deadline - now)) < 0)
			break;
		if (p.revents)
			canbus_read(cb);
	}
	*span_s = (double)(st_now_ms() - start) / 1000.0;
}

/* What the interface says of itself: "bitrate N" from `ip -details`. */
static void st_can_bitrate(const char *ifname, char *out, size_t len)
{
	char cmd[96], buf[512];
	FILE *p;

	snprintf(out, len, "bitrate ?");
	snprintf(cmd, sizeof(cmd), "ip -details link show %s 2>/dev/null", ifname);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(buf, sizeof(buf), p)) {
		char *b = strstr(buf, "bitrate ");

		if (b) {
			snprintf(out, len, "bitrate %ld", strtol(b + 8, NULL, 10));
			break;
		}
	}
	pclose(p);
}

/* Source addresses heard, VIN and MIL lamp, from the bus's status object. */
static void st_can_identity(const struct canbus *cb, struct st_can *c)
{
	json_t *st = canbus_status(cb, clock_mono_ms());
	json_t *eng = json_object_get(st, "engine"), *ecu;
	const char *key, *vin = json_string_value(json_object_get(eng, "vin"));
	size_t off = 0;

	json_object_foreach(json_object_get(st, "by_sa"), key, ecu)
	{
		int n = snprintf(c->sas + off, sizeof(c->sas) - off, "%s%s", off ? "," : "", key);

		if (n < 0 || (size_t)n >= sizeof(c->sas) - off)
			break;
		off += (size_t)n;
	}
	snprintf(c->vin, sizeof(c->vin), "%s", vin ? vin : "");
	json_object_foreach(json_object_get(eng, "ecus"), key, ecu)
	{
		const char *mil = json_string_value(json_object_get(ecu, "mil"));

		if (mil && strcmp(c->mil, "on") != 0)
			snprintf(c->mil, sizeof(c->mil), "%s", mil);
	}
	json_decref(st);
}

static void st_can_verdict(struct selftest *s, const struct config_can *cc, const struct st_can *c)
{
	char part[40], vin[48];
	double fps = c->span_s > 0 ? (double)c->frames / c->span_s : 0;

	snprintf(part, sizeof(part), "can %s", cc->name);
	if (c->vin[0])
		snprintf(vin, sizeof(vin), "%s (heard)", c->vin);
	else
		snprintf(vin, sizeof(vin), "%s", s->cfg->vin[0] ? s->cfg->vin : "none");
	if (!c->vin[0] && s->cfg->vin[0])
		snprintf(vin, sizeof(vin), "%s (configured, not heard)", s->cfg->vin);
	if (!c->frames) {
		st_add(s, part, ST_FAIL,
		       cc->interface[0]
			   ? "check `ip -details link show` (up, bitrate = the engine's,"
			     " usually 250000), ignition on, CAN-H/CAN-L wiring and 120 ohm"
			     " termination"
			   : "check [can] log: it holds no candump frames",
		       "%s: no frames in %.0f s, %llu error frames%s%s",
		       cc->interface[0] ? cc->interface : "log", c->span_s,
		       (unsigned long long)c->err_frames, c->link[0] ? ", " : "", c->link);
		return;
	}
	st_add(s, part, c->engine_speed ? ST_OK : ST_FAIL,
	       "frames but no engine speed (PGN 61444): engine off, or [can] sa /"
	       " pgn_sa filters out the engine's address",
	       "%s: %.0f frames/s, %llu error frames, SA %s, engine speed %s, coolant %s,"
	       " VIN %s%s%s%s%s",
	       cc->interface[0] ? cc->interface : "log", fps, (unsigned long long)c->err_frames,
	       c->sas[0] ? c->sas : "-", c->engine_speed ? "seen" : "NOT seen",
	       c->coolant ? "seen" : "not seen", vin, c->mil[0] ? ", MIL " : "", c->mil,
	       c->link[0] ? ", " : "", c->link);
}

static void st_can_down(struct selftest *s, const struct config_can *cc)
{
	char part[40], next[160];

	snprintf(part, sizeof(part), "can %s", cc->name);
	snprintf(next, sizeof(next),
		 "ip link set %s up type can bitrate 250000, and a systemd-networkd .network"
		 " file to keep it (README)",
		 cc->interface);
	st_add(s, part, ST_FAIL, next, "%s: no such CAN interface, or down", cc->interface);
}

static void st_can_one(struct selftest *s, const struct config_can *cc, int64_t deadline)
{
	static struct table t;
	struct canbus_stats cs;
	struct st_can c = {0};
	struct canbus *cb;
	char part[40];
	double v;

	table_init(&t, 24 * 3600 * 1000);
	cb = canbus_open(cc, 0, &t);
	if (!cb && cc->interface[0]) {
		st_can_down(s, cc);
		return;
	}
	if (!cb) {
		snprintf(part, sizeof(part), "can %s", cc->name);
		st_add(s, part, ST_FAIL, "[can] log: a candump log the emgw user can read",
		       "%s: cannot be read", cc->log);
		return;
	}
	if (cc->interface[0] && canbus_fd(cb) < 0) {
		canbus_close(cb);
		st_can_down(s, cc);
		return;
	}
	if (cc->interface[0]) {
		st_can_bitrate(cc->interface, c.bitrate, sizeof(c.bitrate));
		st_can_listen(cb, deadline, &c.span_s);
	} else {
		st_can_replay(cb, s->seconds, deadline, &c.span_s);
	}
	canbus_stats(cb, &cs);
	c.frames = cs.frames;
	c.err_frames = cs.err_frames;
	if (cc->interface[0])
		snprintf(c.link, sizeof(c.link), "%s, bus %s", c.bitrate,
			 cs.bus_state ? cs.bus_state : "?");
	c.engine_speed = table_get(&t, SIG_ENGINE_SPEED_RPM, 0, clock_mono_ms(), &v);
	c.coolant = table_get(&t, SIG_COOLANT_C, 0, clock_mono_ms(), &v);
	st_can_identity(cb, &c);
	canbus_close(cb);
	st_can_verdict(s, cc, &c);
}

static void st_can(struct selftest *s)
{
	if (!s->cfg->n_can) {
		st_add(s, "can", ST_SKIP, NULL, "no [can] section");
		return;
	}
	for (int i = 0; i < s->cfg->n_can; i++)
		st_can_one(s, &s->cfg->can[i], st_now_ms() + s->seconds * 1000);
}

/* ---- Modbus ------------------------------------------------------------------- */

/* The common RTU mistakes, by what the device did. */
static const char *st_modbus_hint(const struct fieldbus_probe *p)
{
	if (p->st.crc_errors)
		return "CRC errors: baud rate, parity or stop bits differ from the device's";
	if (p->st.exceptions || p->st.unreadable)
		return "the device refuses registers: the profile's map (addresses, table)"
		       " is not this device's";
	if (p->st.other_errors)
		return "cannot reach the bus: serial device or host/port in [bus], permissions"
		       " (group dialout)";
	if (p->st.timeouts)
		return "no answer at all: unit id, A/B wiring (swap them), power, termination;"
		       " or baud rate";
	return "values outside their range: scale or word order in the profile";
}

/* An RTU line is one bus: a second master on it would garble the running
 * daemon's polls and its own.  While a daemon runs, the devices of an RTU
 * line are judged by its counters instead.  1 when done so. */
static int st_modbus_from_daemon(struct selftest *s, int i, const char *part)
{
	const struct config_mbdev *m = &s->cfg->mbdev[i];
	json_t *d = json_object_get(json_object_get(s->daemon, "sources"), m->name);
	const char *state = json_string_value(json_object_get(d, "state"));
	const char *err = json_string_value(json_object_get(d, "last_error"));
	struct fieldbus_probe p = {0};
	json_t *age;
	int fresh;

	if (!state || s->cfg->bus[m->bus].type != CONFIG_BUS_RTU)
		return 0;
	p.st.timeouts = (uint64_t)json_integer_value(json_object_get(d, "timeouts"));
	p.st.crc_errors = (uint64_t)json_integer_value(json_object_get(d, "crc_errors"));
	p.st.exceptions = (uint64_t)json_integer_value(json_object_get(d, "exceptions"));
	p.st.other_errors = (uint64_t)json_integer_value(json_object_get(d, "other_errors"));
	p.st.unreadable = (int)json_integer_value(json_object_get(d, "unreadable"));
	age = json_object_get(d, "last_value_age_s");
	fresh = json_is_number(age) &&
		json_number_value(age) < 3.0 * m->interval_ms / 1000.0 + ST_FRESH_S;
	st_add(s, part, strcmp(state, "responding") == 0 && fresh ? ST_OK : ST_FAIL,
	       st_modbus_hint(&p),
	       "bus %s unit %d, the running emgwd's counters: %s, %s, %llu timeouts, %llu CRC"
	       " errors, %llu exceptions%s%s",
	       m->bus_name, m->unit, state, fresh ? "values fresh" : "NO fresh values",
	       (unsigned long long)p.st.timeouts, (unsigned long long)p.st.crc_errors,
	       (unsigned long long)p.st.exceptions, err && err[0] ? ": " : "", err ? err : "");
	return 1;
}

static void st_modbus_one(struct selftest *s, int i)
{
	const struct config_mbdev *m = &s->cfg->mbdev[i];
	struct fieldbus_probe p;
	char part[40];
	int ok;

	snprintf(part, sizeof(part), "modbus %s", m->name);
	if (st_modbus_from_daemon(s, i, part))
		return;
	if (fieldbus_probe(s->cfg, i, &p) < 0) {
		st_add(s, part, ST_FAIL, "out of memory", "cannot read");
		return;
	}
	ok = p.read == p.points;
	st_add(s, part, ok ? ST_OK : ST_FAIL, st_modbus_hint(&p),
	       "bus %s unit %d: %d/%d points read, %d out of range, %llu timeouts, %llu CRC"
	       " errors, %llu exceptions%s%s",
	       m->bus_name, m->unit, p.read, p.points, p.out_of_range,
	       (unsigned long long)p.st.timeouts, (unsigned long long)p.st.crc_errors,
	       (unsigned long long)p.st.exceptions, p.st.last_error[0] ? ": " : "",
	       p.st.last_error);
}

static void st_modbus(struct selftest *s)
{
	if (!s->cfg->n_mbdev) {
		st_add(s, "modbus", ST_SKIP, NULL, "no [device] section");
		return;
	}
	for (int i = 0; i < s->cfg->n_mbdev; i++)
		st_modbus_one(s, i);
}

/* ---- GNSS --------------------------------------------------------------------- */

#define ST_SKY_WAIT_MS 2000 /* after a fix, wait this long for a SKY report */

struct st_gnss {
	int version, devices; /* gpsd answered; receivers it has */
	int sky;	      /* a SKY report came: satellites and DOP */
	int64_t fix_at_ms;    /* when the first fix came, or 0 */
	struct gnss_fix fix;
	int64_t offset_ms; /* receiver time - system time at arrival */
};

static void st_gnss_report(struct gps_data_t *gd, struct st_gnss *g)
{
	struct timespec ts;

	if (gd->set & VERSION_SET)
		g->version = 1;
	if (gd->set & DEVICELIST_SET)
		g->devices = gd->devices.ndevices;
	if (gd->set & (DEVICE_SET | MODE_SET))
		g->devices = g->devices ? g->devices : 1;
	if (gd->set & SATELLITE_SET) {
		g->sky = 1;
		g->fix.sats_used = gd->satellites_used;
		g->fix.hdop = gd->dop.hdop;
	}
	if (!(gd->set & MODE_SET))
		return;
	gnss_fix_from_gpsd(gd, clock_real_ms(), &g->fix);
	if (g->fix.quality != GNSS_Q_NONE && !g->fix_at_ms)
		g->fix_at_ms = clock_real_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	if (g->fix.time_ms)
		g->offset_ms = g->fix.time_ms - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Watch gpsd until a fix with satellites, or the deadline.  0, or -1 when
 * gpsd cannot be reached. */
static int st_gnss_watch(const struct gnss_lib *gps, const struct config_gnss *cfg,
			 int64_t deadline, struct st_gnss *g)
{
	struct gps_data_t gd;
	char port[16];
	int64_t now;

	snprintf(port, sizeof(port), "%d", cfg->port);
	if (gps->open(cfg->host, port, &gd) != 0)
		return -1;
	gps->stream(&gd, WATCH_ENABLE | WATCH_JSON, NULL);
	while ((now = st_now_ms()) < deadline &&
	       !(g->fix_at_ms && (g->sky || now - g->fix_at_ms > ST_SKY_WAIT_MS))) {
		if (!gps->waiting(&gd, (int)((deadline - now) * 1000)))
			continue;
		if (gps->read(&gd, NULL, 0) < 0)
			break;
		st_gnss_report(&gd, g);
	}
	gps->close(&gd);
	return 0;
}

static void st_gnss_verdict(struct selftest *s, const struct st_gnss *g)
{
	static const char *const modes[] = {"not seen", "no fix", "2D", "3D"};
	const struct gnss_fix *f = &g->fix;
	char sats[24] = "sats n/a", hdop[24] = "HDOP n/a", offset[40] = "no time";
	const char *next;

	if (!g->devices)
		next = "gpsd has no receiver: set DEVICES=\"/dev/ttyXXX\" in /etc/default/gpsd"
		       " (the receiver's tty) and restart gpsd";
	else if (!f->mode)
		next = "the receiver sends nothing gpsd understands: its baud rate, or the"
		       " wrong tty (gpsmon shows what arrives)";
	else
		next = "no fix yet: antenna with open sky, cable; a cold start takes minutes"
		       " (cgps shows satellites)";
	if (f->sats_used > 0)
		snprintf(sats, sizeof(sats), "%d sats", f->sats_used);
	if (isfinite(f->hdop) && f->hdop > 0)
		snprintf(hdop, sizeof(hdop), "HDOP %.1f", f->hdop);
	if (f->time_ms)
		snprintf(offset, sizeof(offset), "time offset %+.3f s",
			 (double)g->offset_ms / 1000.0);
	st_add(s, "gnss", f->quality != GNSS_Q_NONE ? ST_OK : ST_FAIL, next,
	       "gpsd %s:%d, %d receiver%s, fix %s, %s, %s, %s", s->cfg->gnss.host,
	       s->cfg->gnss.port, g->devices, g->devices == 1 ? "" : "s",
	       modes[f->mode >= 0 && f->mode <= 3 ? f->mode : 0], sats, hdop, offset);
}

static void st_gnss(struct selftest *s)
{
	const struct config_gnss *cfg = &s->cfg->gnss;
	struct st_gnss g = {.fix.hdop = NAN};
	const struct gnss_lib *gps;

	if (!cfg->enabled) {
		st_add(s, "gnss", ST_SKIP, NULL, "[gnss] enabled = no");
		return;
	}
	gps = gnss_lib();
	if (!gps) {
		st_add(s, "gnss", ST_FAIL,
		       "install gpsd's client library (Debian's libgpsNN package)",
		       "libgps cannot be loaded: %s", gnss_lib_error());
		return;
	}
	if (st_gnss_watch(gps, cfg, st_now_ms() + s->seconds * 1000, &g) < 0) {
		st_add(s, "gnss", ST_FAIL,
		       "start gpsd (systemctl status gpsd) or fix [gnss] host and port",
		       "gpsd %s:%d: %s", cfg->host, cfg->port, gps->errstr(errno));
		return;
	}
	s->gnss_time = g.fix.time_ms && gnss_time_trusted(gnss_time_floor(cfg),
							  gnss_time_ceiling(cfg), g.fix.time_ms, 0);
	st_gnss_verdict(s, &g);
}

/* ---- clock -------------------------------------------------------------------- */

static void st_clock(struct selftest *s)
{
	struct clock_now now;
	const char *src;

	clock_now(&now);
	src = s->gnss_time ? "gnss" : clock_src_name(now.src);
	st_add(s, "clock", now.src == TS_UNSYNCED && !s->gnss_time ? ST_FAIL : ST_OK,
	       "records are stamped \"unsynced\" until time comes: check chronyc tracking"
	       " (NTP over the modem) or the GNSS fix",
	       "ts_src %s, system clock %s", src,
	       now.src == TS_NTP   ? "synchronized (NTP)"
	       : now.src == TS_RTC ? "not synchronized (RTC time)"
				   : "not set");
}

/* ---- store -------------------------------------------------------------------- */

/* Rows waiting and the oldest one's age, read-only (a running daemon keeps
 * writing).  0, or -1 (a store not made yet, or unreadable). */
static int st_store_rows(const char *path, int64_t *rows, double *oldest_s)
{
	sqlite3 *db;
	sqlite3_stmt *q = NULL;
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, shmvfs_name()) != SQLITE_OK)
		goto out_close;
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*), (SELECT min(wall_ms) FROM rows WHERE wall_ms > 0)"
			       " FROM rows",
			       -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		struct timespec ts;
		int64_t oldest = sqlite3_column_int64(q, 1);

		clock_gettime(CLOCK_REALTIME, &ts);
		*rows = sqlite3_column_int64(q, 0);
		*oldest_s = oldest ? (double)ts.tv_sec - (double)oldest / 1000.0 : 0;
		rc = 0;
	}
	sqlite3_finalize(q);
out_close:
	sqlite3_close(db);
	return rc;
}

static void st_store(struct selftest *s)
{
	const char *path = s->cfg->store.path;
	struct statvfs vfs;
	double free_mb = -1, oldest_s = 0;
	int64_t rows = 0;
	char why[256];
	int rc = store_check(path, why, sizeof(why));

	if (statvfs(s->cfg->state_dir, &vfs) == 0)
		free_mb = (double)vfs.f_bavail * (double)vfs.f_frsize / 1048576.0;
	if (rc < 0) {
		st_add(s, "store", ST_FAIL,
		       "emgwd will move it aside and start a new one; keep the file for analysis",
		       "%s: %s", path, why);
		return;
	}
	if (free_mb < 0) {
		st_add(s, "store", ST_FAIL,
		       "create the state directory (the package does: /var/lib/emgw) or fix"
		       " [device] state_dir",
		       "%s: state_dir %s: %s", path, s->cfg->state_dir, strerror(errno));
		return;
	}
	if (rc == 1)
		snprintf(why, sizeof(why), "not made yet (emgwd makes it)");
	else if (st_store_rows(path, &rows, &oldest_s) == 0)
		snprintf(why, sizeof(why), "%lld rows waiting, oldest %.0f s", (long long)rows,
			 oldest_s);
	st_add(s, "store", free_mb >= ST_MIN_FREE_MB ? ST_OK : ST_FAIL,
	       "free space: the store evicts old rows when full; clean up the disk",
	       "%s: %.0f MB free, %s", path, free_mb, why);
}

/* ---- MQTT --------------------------------------------------------------------- */

/* Certificate expiry as "expires in N days"; -1 when it has expired. */
static int st_cert_days(SSL *ssl, char *out, size_t len)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	int days = 0, secs = 0;

	if (!cert) {
		snprintf(out, len, "no server certificate");
		return -1;
	}
	ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert));
	X509_free(cert);
	snprintf(out, len, "certificate expires in %d days", days);
	return days < 0 || (days == 0 && secs < 0) ? -1 : days;
}

static const char *st_tls_handshake(SSL *ssl, char *out, size_t len)
{
	long v;

	if (SSL_connect(ssl) == 1)
		return st_cert_days(ssl, out, len) < 0 ? "the broker's certificate has expired: "
							 "renew it (or set the clock right)"
						       : NULL;
	v = SSL_get_verify_result(ssl);
	if (v == X509_V_OK) {
		snprintf(out, len, "TLS handshake failed (no TLS answer)");
		return "is [mqtt] port the broker's TLS listener (usually 8883)?";
	}
	snprintf(out, len, "TLS handshake: %s", X509_verify_cert_error_string(v));
	return "[mqtt] ca_file must be the CA that signed the broker's certificate, for the name"
	       " in [mqtt] host; the clock must be right";
}

/* The TLS handshake with the configured CA and client certificate: NULL
 * and the expiry in out, or the next step and why in out. */
static const char *st_tls(const struct config_mqtt *m, int fd, char *out, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	const char *next = "out of memory";

	if (!ctx || SSL_CTX_load_verify_locations(ctx, m->ca_file, NULL) != 1) {
		snprintf(out, len, "TLS: cannot load ca_file %.300s", m->ca_file);
		next = "[mqtt] ca_file: a PEM file the emgw user can read";
		goto out_free;
	}
	if (m->cert_file[0] &&
	    (SSL_CTX_use_certificate_chain_file(ctx, m->cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, m->key_file, SSL_FILETYPE_PEM) != 1)) {
		snprintf(out, len, "TLS: cannot load cert_file / key_file");
		next = "[mqtt] cert_file and key_file: the client's PEM certificate and its key";
		goto out_free;
	}
	SSL_CTX_set_verify(ctx, m->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, m->host) != 1 ||
	    (m->tls_verify && SSL_set1_host(ssl, m->host) != 1))
		goto out_free;
	next = st_tls_handshake(ssl, out, len);
	SSL_shutdown(ssl);
out_free:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return next;
}

struct st_mqtt {
	atomic_int connected; /* 1 CONNACK accepted, -1 refused */
	atomic_int code;      /* the refusal's code */
	atomic_int subscribed, received;
	char nonce[40];
};

static void st_mqtt_on_connect(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	((struct st_mqtt *)ctx)->connected = 1;
}

static void st_mqtt_on_refused(void *ctx, MQTTAsync_failureData *r)
{
	struct st_mqtt *m = ctx;

	m->code = r ? r->code : -1;
	m->connected = -1;
}

static void st_mqtt_on_sub(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	((struct st_mqtt *)ctx)->subscribed = 1;
}

static int st_mqtt_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct st_mqtt *m = ctx;

	(void)topic_len;
	if ((size_t)msg->payloadlen == strlen(m->nonce) &&
	    memcmp(msg->payload, m->nonce, (size_t)msg->payloadlen) == 0)
		m->received = 1;
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

/* Poll *flag (set by paho's thread) until it is non-zero or the deadline. */
static int st_wait(atomic_int *flag, int64_t deadline)
{
	struct timespec step = {0, 20 * 1000000};

	while (!*flag && st_now_ms() < deadline)
		nanosleep(&step, NULL);
	return *flag;
}

static void st_mqtt_read_password(const char *file, char *pw, size_t len)
{
	FILE *f = file[0] ? fopen(file, "r") : NULL;
	size_t n;

	pw[0] = '\0';
	if (!f)
		return;
	n = fread(pw, 1, len - 1, f);
	fclose(f);
	pw[n] = '\0';
	pw[strcspn(pw, "\r\n")] = '\0';
}

/* Connect with our own client id (not the daemon's: that would throw it
 * off), subscribe to the selftest topic, publish a nonce, wait for it. */
static int st_mqtt_session(MQTTAsync c, const struct config_mqtt *m, struct st_mqtt *st,
			   const char *topic, int64_t deadline)
{
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char pw[256];

	st_mqtt_read_password(m->password_file, pw, sizeof(pw));
	o.keepAliveInterval = 30;
	o.connectTimeout = ST_STEP_MS / 1000;
	o.context = st;
	o.onSuccess = st_mqtt_on_connect;
	o.onFailure = st_mqtt_on_refused;
	o.username = m->username[0] ? m->username : NULL;
	o.password = pw[0] ? pw : NULL;
	if (m->ca_file[0]) {
		ssl.trustStore = m->ca_file;
		ssl.keyStore = m->cert_file[0] ? m->cert_file : NULL;
		ssl.privateKey = m->key_file[0] ? m->key_file : NULL;
		ssl.enableServerCertAuth = m->tls_verify;
		ssl.verify = m->tls_verify;
		o.ssl = &ssl;
	}
	if (MQTTAsync_connect(c, &o) != MQTTASYNC_SUCCESS || st_wait(&st->connected, deadline) <= 0)
		return -1;
	ro.context = st;
	ro.onSuccess = st_mqtt_on_sub;
	if (MQTTAsync_subscribe(c, topic, 1, &ro) != MQTTASYNC_SUCCESS ||
	    !st_wait(&st->subscribed, deadline) ||
	    MQTTAsync_send(c, topic, (int)strlen(st->nonce), st->nonce, 1, 0, NULL) !=
		MQTTASYNC_SUCCESS)
		return -2;
	return st_wait(&st->received, deadline) ? 0 : -2;
}

/* CONNACK and the round trip: 0, or -1 with why. */
static int st_mqtt_roundtrip(struct selftest *s, int64_t t0, char *why, size_t len)
{
	const struct config_mqtt *m = &s->cfg->mqtt;
	struct st_mqtt st = {0};
	char uri[300], id[160], topic[200];
	MQTTAsync c;
	int rc;

	snprintf(uri, sizeof(uri), "%s://%s:%d", m->ca_file[0] ? "ssl" : "tcp", m->host, m->port);
	snprintf(id, sizeof(id), "%s-selftest-%d", m->client_id[0] ? m->client_id : s->cfg->id,
		 (int)getpid());
	snprintf(topic, sizeof(topic), "%s/%s/selftest", m->prefix, s->cfg->id);
	snprintf(st.nonce, sizeof(st.nonce), "selftest %d %lld", (int)getpid(), (long long)t0);
	if (MQTTAsync_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS) {
		snprintf(why, len, "MQTT: cannot make a client for %.200s", uri);
		return -1;
	}
	MQTTAsync_setCallbacks(c, &st, NULL, st_mqtt_on_message, NULL);
	rc = st_mqtt_session(c, m, &st, topic, st_now_ms() + s->seconds * 1000);
	if (rc == -1 && st.connected < 0)
		snprintf(why, len, "CONNACK refused (code %d): %s", (int)st.code,
			 st.code == 4 || st.code == 5 ? "bad username/password or not authorized"
						      : "see the broker's log");
	else if (rc == -1)
		snprintf(why, len, "no CONNACK within %d s", s->seconds);
	else if (rc == -2)
		snprintf(why, len, "connected, but nothing came back on %s", topic);
	else
		snprintf(why, len, "round trip on %s in %lld ms", topic,
			 (long long)(st_now_ms() - t0));
	if (st.connected > 0)
		MQTTAsync_disconnect(c, NULL);
	MQTTAsync_destroy(&c);
	return rc;
}

static void st_mqtt(struct selftest *s)
{
	const struct config_mqtt *m = &s->cfg->mqtt;
	char why[256], tls[400] = "plain TCP", rt[256];
	const char *next;
	int64_t t0 = st_now_ms();
	int fd;

	if (!m->enabled) {
		st_add(s, "mqtt", ST_SKIP, NULL, "[mqtt] enabled = no");
		return;
	}
	fd = st_connect(m->host, m->port, why, sizeof(why));
	if (fd < 0) {
		st_add(s, "mqtt", ST_FAIL,
		       strncmp(why, "DNS", 3) == 0
			   ? "check [mqtt] host, the modem's data connection (mmcli -m 0) and"
			     " DNS (resolvectl status)"
			   : "is the broker up? check [mqtt] host and port, the APN and any"
			     " firewall",
		       "%s", why);
		return;
	}
	next = m->ca_file[0] ? st_tls(m, fd, tls, sizeof(tls)) : NULL;
	if (next) {
		close(fd);
		st_add(s, "mqtt", ST_FAIL, next, "%s:%d: %s", m->host, m->port, tls);
		return;
	}
	close(fd);
	if (st_mqtt_roundtrip(s, t0, rt, sizeof(rt)) < 0) {
		st_add(s, "mqtt", ST_FAIL,
		       "check [mqtt] username/password_file and the broker's ACL for"
		       " <prefix>/<dev>/#",
		       "%s:%d: %s, %s", m->host, m->port, tls, rt);
		return;
	}
	st_add(s, "mqtt", ST_OK, NULL, "%s:%d: %s, CONNACK ok, %s", m->host, m->port, tls, rt);
}

/* ---- platform ----------------------------------------------------------------- */

/* DNS and TCP only: a second login with the same VIN would take over the
 * running daemon's session at the platform. */
static void st_platform(struct selftest *s)
{
	const struct config_platform *p = &s->cfg->platform;
	char why[256];
	int fd;

	if (!p->enabled) {
		st_add(s, "platform", ST_SKIP, NULL, "[platform] enabled = no");
		return;
	}
	fd = st_connect(p->host, p->port, why, sizeof(why));
	if (fd < 0) {
		st_add(s, "platform", ST_FAIL,
		       "check [platform] host and port with the platform's operator, the APN"
		       " (a private APN may be needed) and the modem's data connection",
		       "%s", why);
		return;
	}
	close(fd);
	st_add(s, "platform", ST_OK, NULL, "%s:%d: TCP connected (%s); login not tried", p->host,
	       p->port, p->variant ? "HJ 1239 road" : "HJ 1322 nrmm");
}

/* ---- systemd ------------------------------------------------------------------ */

static void st_systemd(struct selftest *s)
{
	char state[64] = "";
	FILE *p;

	if (access("/run/systemd/system", F_OK) != 0) {
		st_add(s, "systemd", ST_SKIP, NULL, "not running under systemd");
		return;
	}
	p = popen("systemctl is-active emgw.service 2>/dev/null", "r");
	if (p) {
		if (fgets(state, sizeof(state), p))
			state[strcspn(state, "\n")] = '\0';
		pclose(p);
	}
	if (strcmp(state, "active") == 0)
		st_add(s, "systemd", ST_OK, NULL, "emgw.service active");
	else if (strcmp(state, "failed") == 0)
		st_add(s, "systemd", ST_FAIL, "journalctl -u emgw -n 50 says why",
		       "emgw.service failed");
	else
		st_add(s, "systemd", ST_SKIP, NULL,
		       "emgw.service %s (start it: systemctl enable --now emgw)",
		       state[0] ? state : "unknown");
}

/* ---- output ------------------------------------------------------------------- */

/* The part column: 18 wide, wider when a configured name needs it, so that
 * the verdicts stay in one column. */
static int st_part_width(const struct selftest *s)
{
	int w = 18;

	for (int i = 0; i < s->n; i++)
		if ((int)strlen(s->line[i].part) > w)
			w = (int)strlen(s->line[i].part);
	return w;
}

static void st_print_text(const struct selftest *s, int fails, FILE *out)
{
	int w = st_part_width(s);

	for (int i = 0; i < s->n; i++) {
		const struct st_line *l = &s->line[i];

		fprintf(out, "%-*s %-4s %s%s%s\n", w, l->part, st_verdict_name[l->verdict],
			l->detail, l->next[0] ? " -> " : "", l->next);
	}
	fprintf(out, "%-*s %-4s %d part%s checked, %d failed\n", w, "selftest",
		fails ? "FAIL" : "ok", s->n, s->n == 1 ? "" : "s", fails);
}

static void st_print_json(const struct selftest *s, int fails, FILE *out)
{
	json_t *parts = json_array();

	for (int i = 0; i < s->n; i++) {
		const struct st_line *l = &s->line[i];

		json_array_append_new(parts,
				      json_pack("{s:s, s:s, s:s, s:s?}", "part", l->part, "verdict",
						st_verdict_name[l->verdict], "detail", l->detail,
						"next", l->next[0] ? l->next : NULL));
	}
	json_t *o =
	    json_pack("{s:s, s:s, s:i, s:b, s:i, s:o}", "dev", s->cfg->id, "config", s->cfg->file,
		      "seconds", s->seconds, "ok", !fails, "failed", fails, "parts", parts);

	json_dumpf(o, out, JSON_INDENT(1));
	fputc('\n', out);
	json_decref(o);
}

/* The running daemon's status object, or NULL when none runs. */
static json_t *st_daemon_status(const struct config *cfg)
{
	char path[PATH_MAX + 16];
	json_t *st, *pid;

	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, STATUS_FILE);
	st = json_load_file(path, 0, NULL);
	pid = json_object_get(st, "pid");
	if (json_is_integer(pid) &&
	    (kill((pid_t)json_integer_value(pid), 0) == 0 || errno == EPERM))
		return st;
	json_decref(st);
	return NULL;
}

int selftest_run(const struct config *cfg, int seconds, int json, FILE *out)
{
	static struct selftest s;
	int fails = 0;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.seconds = seconds > 0 ? seconds : SELFTEST_SECONDS;
	clock_init_live();
	s.daemon = st_daemon_status(cfg);
	st_can(&s);
	st_modbus(&s);
	st_gnss(&s);
	st_clock(&s);
	st_store(&s);
	st_mqtt(&s);
	st_platform(&s);
	st_systemd(&s);
	for (int i = 0; i < s.n; i++)
		fails += s.line[i].verdict == ST_FAIL;
	if (json)
		st_print_json(&s, fails, out);
	else
		st_print_text(&s, fails, out);
	fflush(out);
	json_decref(s.daemon);
	return fails ? 1 : 0;
}
