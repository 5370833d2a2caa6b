/* gnss: position and time from gpsd.
 *
 * The connection: libgps's socket sits in the daemon's poll() set and is read
 * on POLLIN only, non-blocking, until libgps has no complete line left.  When
 * gpsd goes away, reconnect with a capped exponential back-off.
 *
 * gps_open() resolves the host name and connects with blocking calls.  For
 * gpsd on this box (localhost, 127.0.0.1, ::1: the normal case) that returns
 * at once, accepted or refused, so we accept it on the main loop.  A remote
 * gpsd by name would block the loop on DNS and on a TCP connect: the
 * configuration documents host as a local gpsd (use a numeric address if it
 * must be remote; the connect may still take until the peer answers).
 *
 * What a record says: a position is valid while the latest report had a fix
 * (gpsd status not simulated or time-only, mode 2D or 3D) and it is no older
 * than max_age; otherwise the record keeps the last position marked
 * "valid":false with its age, as the China protocol wants, never as fresh.
 *
 * Track points: every record carries pos; a record that is a track point
 * (what a low-rate uplink keeps) has "point" set to its reason: "fix" (a
 * valid fix again), "distance" (moved distance_m from the last point),
 * "heading" (course changed by heading_deg while moving), "period"
 * (period_moving or period_stopped since the last point; also without a
 * fix, so a silent receiver still leaves a trace).  Events carry pos too.
 */
#include "gateway/gnss.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gps.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/backoff.h"
#include "gateway/clock.h"
#include "gateway/log.h"

/* The API this module is written against: gps_read() with a message buffer,
 * struct timespec fix.time, altMSL, STATUS_* values 0..9 (libgps 3.20 ..
 * 3.22).  Another major version changes these: check, then extend. */
#if GPSD_API_MAJOR_VERSION != 10 && GPSD_API_MAJOR_VERSION != 11
#error "gnss.c supports libgps API major 10 and 11 (gpsd 3.20 .. 3.22)"
#endif
#ifndef EMGW_LIBGPS_SONAME
#error "EMGW_LIBGPS_SONAME: the Makefile reads it from libgps.so (is libgps-dev installed?)"
#endif

#define GNSS_BACKOFF_MIN_MS 500
#define GNSS_JITTER_MIN_M   3.0	      /* smallest jitter radius while stopped */
#define GNSS_JITTER_SIGMAS  2.0	      /* radius = this many horizontal errors */
#define GNSS_UERE_M	    5.0	      /* range error behind hdop, when eph is missing */
#define GNSS_ERR_UNKNOWN_M  15.0      /* horizontal error when neither is reported */
#define GNSS_EARTH_M	    6371008.8 /* mean radius */
#define GNSS_MPS_TO_KMH	    3.6

struct gnss {
	struct config_gnss cfg;
	int source;
	struct table *table;
	char port[8];
	long long floor_s;
	long long ceiling_s;
	int time_refused; /* receiver time past the ceiling: logged once */
	const struct gnss_lib *gps;
	struct gps_data_t gd;
	int open;	     /* gd holds a connection */
	int64_t retry_at_ms; /* real ms of the next connect, -1: none due */
	struct backoff backoff;
	int down_logged; /* this outage was logged */
	struct gnss_track track;
	struct gnss_stats st;
};

/* ---- libgps, loaded at the first use -------------------------------------- */

/* The table's types are gps.h's: a libgps whose prototypes differ stops the
 * build here rather than calling through the wrong type. */
#define GNSS_LIB_AGREES(member, fn)                                                                \
	_Static_assert(__builtin_types_compatible_p(__typeof__(((struct gnss_lib *)0)->member),    \
						    __typeof__(&fn)),                              \
		       #fn " in gps.h differs from struct gnss_lib")
GNSS_LIB_AGREES(open, gps_open);
GNSS_LIB_AGREES(close, gps_close);
GNSS_LIB_AGREES(read, gps_read);
GNSS_LIB_AGREES(stream, gps_stream);
GNSS_LIB_AGREES(waiting, gps_waiting);
GNSS_LIB_AGREES(errstr, gps_errstr);

static const char *gnss_lib_name = EMGW_LIBGPS_SONAME;
static char gnss_lib_why[256];

const struct gnss_lib *gnss_lib(void)
{
	static struct gnss_lib lib;
	static void *handle; /* kept for the process's life: never unloaded */
	static const char *const names[] = {"gps_open",	  "gps_close",	 "gps_read",
					    "gps_stream", "gps_waiting", "gps_errstr"};
	void *sym[sizeof(names) / sizeof(names[0])];

	if (handle)
		return &lib;
	handle = dlopen(gnss_lib_name, RTLD_NOW | RTLD_LOCAL);
	for (size_t i = 0; handle && i < sizeof(names) / sizeof(names[0]); i++)
		if (!(sym[i] = dlsym(handle, names[i]))) {
			dlclose(handle);
			handle = NULL;
		}
	if (!handle) {
		snprintf(gnss_lib_why, sizeof(gnss_lib_why), "%s", dlerror());
		return NULL;
	}
	lib.open = (__typeof__(lib.open))sym[0];
	lib.close = (__typeof__(lib.close))sym[1];
	lib.read = (__typeof__(lib.read))sym[2];
	lib.stream = (__typeof__(lib.stream))sym[3];
	lib.waiting = (__typeof__(lib.waiting))sym[4];
	lib.errstr = (__typeof__(lib.errstr))sym[5];
	return &lib;
}

const char *gnss_lib_error(void)
{
	return gnss_lib_why;
}

void gnss_lib_use(const char *soname)
{
	gnss_lib_name = soname ? soname : EMGW_LIBGPS_SONAME;
}

/* ---- mapping gpsd's reports ------------------------------------------ */

enum gnss_quality gnss_quality_of(int mode, int status)
{
	if (mode < MODE_2D)
		return GNSS_Q_NONE;
	switch (status) {
	case STATUS_NO_FIX: /* libgps's value when a TPV leaves status out: plain GPS */
	case STATUS_FIX:
	case STATUS_PPS_FIX:
		return GNSS_Q_GPS;
	case STATUS_DGPS_FIX:
		return GNSS_Q_DGPS;
	case STATUS_RTK_FIX:
		return GNSS_Q_RTK_FIXED;
	case STATUS_RTK_FLT:
		return GNSS_Q_RTK_FLOAT;
	case STATUS_DR:
	case STATUS_GNSSDR:
		return GNSS_Q_DR;
	default: /* STATUS_TIME, STATUS_SIM, and what we do not know */
		return GNSS_Q_NONE;
	}
}

const char *gnss_quality_name(enum gnss_quality q)
{
	static const char *const names[] = {
	    [GNSS_Q_NONE] = "none",	      [GNSS_Q_GPS] = "gps",
	    [GNSS_Q_DGPS] = "dgps",	      [GNSS_Q_RTK_FLOAT] = "rtk_float",
	    [GNSS_Q_RTK_FIXED] = "rtk_fixed", [GNSS_Q_DR] = "dr",
	};

	if ((unsigned)q >= sizeof(names) / sizeof(names[0]))
		return "none";
	return names[q];
}

int gnss_fix_plausible(const struct gnss_fix *fix)
{
	/* NAN is "not reported"; an infinity is reported garbage. */
	if (!isfinite(fix->lat) || !isfinite(fix->lon) || fabs(fix->lat) > 90 ||
	    fabs(fix->lon) > 180)
		return 0;
	if (!isnan(fix->speed_kmh) &&
	    !(fix->speed_kmh >= 0 && fix->speed_kmh <= GNSS_MAX_SPEED_KMH))
		return 0;
	if (!isnan(fix->alt_m) && !(fix->alt_m >= GNSS_MIN_ALT_M && fix->alt_m <= GNSS_MAX_ALT_M))
		return 0;
	return 1;
}

void gnss_fix_from_gpsd(const struct gps_data_t *gd, int64_t mono_ms, struct gnss_fix *fix)
{
	const struct gps_fix_t *f = &gd->fix;

	memset(fix, 0, sizeof(*fix));
	fix->mode = f->mode;
	fix->quality = gnss_quality_of(f->mode, f->status);
	if (isnan(f->latitude) || isnan(f->longitude))
		fix->quality = GNSS_Q_NONE; /* not reported (gpsd drops what is out of range) */
	fix->lat = f->latitude;
	fix->lon = f->longitude;
	fix->alt_m = f->mode >= MODE_3D ? (isfinite(f->altMSL) ? f->altMSL : f->altHAE) : NAN;
	fix->speed_kmh = isfinite(f->speed) ? f->speed * GNSS_MPS_TO_KMH : NAN;
	fix->course_deg = f->track;
	fix->eph_m = f->eph;
	/* hdop and satellites come with SKY reports; libgps keeps the latest. */
	fix->hdop = gd->dop.hdop;
	fix->sats_used = gd->satellites_used;
	if (f->time.tv_sec > 0)
		fix->time_ms = (int64_t)f->time.tv_sec * 1000 + f->time.tv_nsec / 1000000;
	fix->mono_ms = mono_ms;
	if (fix->quality != GNSS_Q_NONE && !gnss_fix_plausible(fix)) {
		fix->quality = GNSS_Q_NONE;
		fix->implausible = 1;
	}
}

/* __DATE__ ("Nov 28 2026"; SOURCE_DATE_EPOCH fixes it in reproducible
 * builds) as seconds since the epoch, in integers (timegm goes through a
 * 32-bit time_t on armhf). */
static long long gnss_build_date(void)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	const char *date = __DATE__;
	char mon[4] = {date[0], date[1], date[2], '\0'};
	const char *m = strstr(months, mon);
	int mi = m ? (int)(m - months) / 3 : 0;
	long long y = strtol(date + 7, NULL, 10), d = strtol(date + 4, NULL, 10);
	long long days = (y - 1970) * 365 + (y - 1969) / 4 - (y - 1901) / 100 + (y - 1601) / 400;

	days += before[mi] + d - 1;
	if (mi >= 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		days++;
	return days * 86400;
}

/* The default trust floor is the build date, so a receiver fooled by a GPS
 * week rollover does not take us back 19.6 years. */
long long gnss_time_floor(const struct config_gnss *cfg)
{
	return cfg->time_floor_s > 0 ? cfg->time_floor_s : gnss_build_date();
}

long long gnss_time_ceiling(const struct config_gnss *cfg)
{
	if (cfg->time_ceiling_s > 0)
		return cfg->time_ceiling_s;
	return gnss_build_date() + GNSS_CEILING_YEARS * 31556952LL; /* Gregorian years */
}

int gnss_time_trusted(long long floor_s, long long ceiling_s, int64_t time_ms, int confirmed)
{
	if (time_ms < floor_s * 1000)
		return 0;
	return time_ms < ceiling_s * 1000 || confirmed;
}

/* ---- track: validity, points, odometer ----------------------------------- */

double gnss_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180;
	double dp = p2 - p1, dl = (lon2 - lon1) * M_PI / 180;
	double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

	/* Rounding takes a just above 1 near the antipode: sqrt(1 - a) NaN. */
	a = fmin(fmax(a, 0.0), 1.0);
	return 2 * GNSS_EARTH_M * atan2(sqrt(a), sqrt(1 - a));
}

void gnss_track_init(struct gnss_track *tr, const struct config_gnss *cfg, int64_t now_ms)
{
	memset(tr, 0, sizeof(*tr));
	tr->cfg = *cfg;
	tr->point_mono_ms = now_ms;
	tr->point_course = NAN;
}

/* How far a standing receiver wanders: a few horizontal errors. */
static double gnss_jitter_radius_m(const struct gnss_fix *f)
{
	double err = GNSS_ERR_UNKNOWN_M;

	if (isfinite(f->eph_m) && f->eph_m > 0)
		err = f->eph_m;
	else if (isfinite(f->hdop) && f->hdop > 0)
		err = f->hdop * GNSS_UERE_M;
	return fmax(GNSS_JITTER_MIN_M, GNSS_JITTER_SIGMAS * err);
}

/* Count the way from the last counted position, except jitter: while the
 * speed says stopped (or is unknown) a move within the jitter radius is not
 * counted; it is kept, so a slow creep counts once it leaves the radius. */
static void gnss_track_odometer(struct gnss_track *tr, const struct gnss_fix *f)
{
	double d;
	int moving = isfinite(f->speed_kmh) && f->speed_kmh >= tr->cfg.stopped_kmh;

	if (!tr->have_anchor) {
		tr->have_anchor = 1;
		tr->anchor_lat = f->lat;
		tr->anchor_lon = f->lon;
		return;
	}
	d = gnss_distance_m(tr->anchor_lat, tr->anchor_lon, f->lat, f->lon);
	if (!isfinite(d) || !isfinite(tr->odometer_km + d / 1000.0)) {
		/* Never NaN: a bad position starts counting afresh from here. */
		tr->anchor_lat = f->lat;
		tr->anchor_lon = f->lon;
		return;
	}
	if (!moving && d < gnss_jitter_radius_m(f))
		return;
	tr->odometer_km += d / 1000.0;
	tr->anchor_lat = f->lat;
	tr->anchor_lon = f->lon;
}

int gnss_track_report(struct gnss_track *tr, const struct gnss_fix *fix)
{
	tr->fix_now = fix->quality != GNSS_Q_NONE && !fix->implausible && gnss_fix_plausible(fix);
	if (!tr->fix_now)
		return 0;
	tr->last = *fix;
	tr->have_fix = 1;
	gnss_track_odometer(tr, fix);
	return 1;
}

int gnss_track_valid(const struct gnss_track *tr, int64_t now_ms)
{
	return tr->have_fix && tr->fix_now && now_ms - tr->last.mono_ms <= tr->cfg.max_age_ms;
}

int gnss_track_position(const struct gnss_track *tr, int64_t now_ms, double *lat, double *lon)
{
	if (!tr->have_fix || !gnss_track_valid(tr, now_ms))
		return 0;
	*lat = tr->last.lat;
	*lon = tr->last.lon;
	return 1;
}

static int gnss_track_moving(const struct gnss_track *tr)
{
	return isfinite(tr->last.speed_kmh) && tr->last.speed_kmh >= tr->cfg.stopped_kmh;
}

/* Smallest angle between two courses, 0..180. */
static double gnss_course_change(double a, double b)
{
	double d = fmod(fabs(a - b), 360.0);

	return d > 180 ? 360 - d : d;
}

static const char *gnss_track_reason(const struct gnss_track *tr, int64_t now_ms)
{
	const struct gnss_fix *f = &tr->last;
	int moving = gnss_track_moving(tr);
	int64_t period = moving ? tr->cfg.period_moving_ms : tr->cfg.period_stopped_ms;

	if (!gnss_track_valid(tr, now_ms))
		return now_ms - tr->point_mono_ms >= tr->cfg.period_stopped_ms ? "period" : NULL;
	if (!tr->point_valid)
		return "fix";
	if (tr->cfg.distance_m > 0 &&
	    gnss_distance_m(tr->point_lat, tr->point_lon, f->lat, f->lon) >= tr->cfg.distance_m)
		return "distance";
	/* A standing receiver's course is noise. */
	if (moving && tr->cfg.heading_deg > 0 && isfinite(f->course_deg) &&
	    isfinite(tr->point_course) &&
	    gnss_course_change(tr->point_course, f->course_deg) >= tr->cfg.heading_deg)
		return "heading";
	return now_ms - tr->point_mono_ms >= period ? "period" : NULL;
}

const char *gnss_track_point(struct gnss_track *tr, int64_t now_ms)
{
	const char *why = gnss_track_reason(tr, now_ms);

	if (!why)
		return NULL;
	tr->point_mono_ms = now_ms;
	tr->point_valid = gnss_track_valid(tr, now_ms);
	if (tr->point_valid) {
		tr->point_lat = tr->last.lat;
		tr->point_lon = tr->last.lon;
		/* Heading changes count from the last point taken while moving. */
		if (gnss_track_moving(tr))
			tr->point_course = tr->last.course_deg;
	}
	return why;
}

/* gpsd leaves what it did not report as NaN: absent, never an error. */
static double gnss_real(double v)
{
	return isfinite(v) ? v : PAYLOAD_NONE;
}

void gnss_track_pos(const struct gnss_track *tr, int64_t now_ms, const char *point,
		    struct payload_pos *pos)
{
	const struct gnss_fix *f = &tr->last;
	int valid = gnss_track_valid(tr, now_ms);

	payload_pos_init(pos);
	pos->present = 1;
	pos->valid = valid;
	if (tr->have_fix) {
		pos->lat = gnss_real(f->lat);
		pos->lon = gnss_real(f->lon);
		pos->age_s = (double)(now_ms - f->mono_ms) / 1000.0;
	}
	if (valid) {
		pos->alt_m = gnss_real(f->alt_m);
		pos->speed_kmh = gnss_real(f->speed_kmh);
		pos->course_deg = gnss_real(f->course_deg);
		snprintf(pos->fix, sizeof(pos->fix), "%s", f->mode >= MODE_3D ? "3d" : "2d");
		snprintf(pos->quality, sizeof(pos->quality), "%s", gnss_quality_name(f->quality));
		if (f->sats_used > 0)
			pos->sats_used = f->sats_used;
		pos->hdop = gnss_real(f->hdop);
		pos->eph_m = gnss_real(f->eph_m);
		if (f->time_ms > 0)
			pos->fix_ts_ms = f->time_ms;
	} else {
		snprintf(pos->fix, sizeof(pos->fix), "%s", "none");
	}
	if (point)
		snprintf(pos->point, sizeof(pos->point), "%s", point);
}

/* ---- the gpsd connection ------------------------------------------------- */

static void gnss_schedule_retry(struct gnss *g, int64_t real_ms)
{
	g->retry_at_ms = real_ms + backoff_next(&g->backoff, real_ms);
}

static void gnss_disconnect(struct gnss *g)
{
	if (!g->open)
		return;
	g->gps->close(&g->gd);
	g->open = 0;
	g->st.up = 0;
	/* Without gpsd there is no fix: the last one ages out by max_age. */
}

static int gnss_connect(struct gnss *g)
{
	int flags;

	if (g->gps->open(g->cfg.host, g->port, &g->gd) != 0) {
		if (!g->down_logged)
			log_warnx("gnss: gpsd at %s:%s: %s (retrying)", g->cfg.host, g->port,
				  g->gps->errstr(errno));
		g->down_logged = 1;
		return -1;
	}
	g->open = 1;
	/* libgps would block in recv() on a partial line: never on our loop. */
	flags = fcntl(g->gd.gps_fd, F_GETFL);
	if (flags < 0 || fcntl(g->gd.gps_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    g->gps->stream(&g->gd, WATCH_ENABLE | WATCH_JSON, NULL) != 0) {
		log_warn("gnss: gpsd at %s:%s: cannot start watching", g->cfg.host, g->port);
		gnss_disconnect(g);
		return -1;
	}
	log_notice("gnss: connected to gpsd at %s:%s", g->cfg.host, g->port);
	g->st.up = 1;
	g->st.connects++;
	g->down_logged = 0;
	backoff_up(&g->backoff, clock_real_ms());
	return 0;
}

struct gnss *gnss_open(const struct config_gnss *cfg, int source, struct table *t)
{
	const struct gnss_lib *gps = gnss_lib();
	struct gnss *g;

	if (!gps) {
		log_warnx("gnss: [gnss] is enabled but libgps cannot be loaded: %s (install gpsd's"
			  " client library, Debian's libgpsNN package)",
			  gnss_lib_error());
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		log_warn("gnss");
		return NULL;
	}
	g->gps = gps;
	g->cfg = *cfg;
	g->source = source;
	g->table = t;
	snprintf(g->port, sizeof(g->port), "%d", cfg->port);
	g->floor_s = gnss_time_floor(cfg);
	g->ceiling_s = gnss_time_ceiling(cfg);
	backoff_init(&g->backoff, GNSS_BACKOFF_MIN_MS, cfg->reconnect_max_s * 1000, BACKOFF_FULL);
	g->retry_at_ms = -1;
	g->st.last_fix_mono_ms = -1;
	gnss_track_init(&g->track, cfg, clock_mono_ms());
	if (gnss_connect(g) < 0)
		gnss_schedule_retry(g, clock_real_ms());
	return g;
}

void gnss_close(struct gnss *g)
{
	if (!g)
		return;
	gnss_disconnect(g);
	free(g);
}

int gnss_fd(const struct gnss *g)
{
	return g && g->open ? (int)g->gd.gps_fd : -1;
}

/* One TPV report: the fix, the odometer, and (when good and after the floor)
 * the clock. */
static void gnss_on_tpv(struct gnss *g)
{
	struct gnss_fix fix;
	int64_t mono = clock_mono_ms();

	g->st.reports++;
	gnss_fix_from_gpsd(&g->gd, mono, &fix);
	if (fix.implausible && g->st.implausible++ == 0)
		log_warnx("gnss: an implausible fix (lat %g, lon %g, %g km/h, alt %g m) taken as "
			  "no fix; further ones counted in status",
			  fix.lat, fix.lon, fix.speed_kmh, fix.alt_m);
	if (!gnss_track_report(&g->track, &fix))
		return;
	g->st.fixes++;
	g->st.last_fix_mono_ms = mono;
	table_set(g->table, SIG_GPS_ODOMETER_KM, 0, g->track.odometer_km, mono, g->source);
	if (gnss_time_trusted(g->floor_s, g->ceiling_s, fix.time_ms,
			      fix.time_ms >= g->ceiling_s * 1000 &&
				  clock_system_confirms(fix.time_ms))) {
		if (g->time_refused)
			log_notice("gnss: receiver time trusted again");
		g->time_refused = 0;
		clock_gnss_sync(fix.time_ms, mono);
	} else if (fix.time_ms >= g->ceiling_s * 1000 && !g->time_refused) {
		char ts[32], ceil[32];

		clock_format_iso(fix.time_ms, ts, sizeof(ts));
		clock_format_iso(g->ceiling_s * 1000, ceil, sizeof(ceil));
		log_warnx("gnss: receiver time %s is past the trust ceiling %s ([gnss]"
			  " time_ceiling) and no synchronized system clock confirms it:"
			  " not used",
			  ts, ceil);
		g->time_refused = 1;
	}
}

void gnss_read(struct gnss *g)
{
	int rc;

	if (!g->open)
		return;
	/* Each call hands out one line, reading the socket only when no whole
	 * line is buffered: go on until it has nothing (0: EAGAIN), since
	 * poll() cannot see lines already in libgps's buffer. */
	while ((rc = g->gps->read(&g->gd, NULL, 0)) > 0)
		if (g->gd.set & MODE_SET)
			gnss_on_tpv(g);
	if (rc < 0) {
		log_warnx("gnss: gpsd at %s:%s went away (reconnecting)", g->cfg.host, g->port);
		g->down_logged = 1;
		gnss_disconnect(g);
		gnss_schedule_retry(g, clock_real_ms());
	}
}

int64_t gnss_retry(struct gnss *g, int64_t real_ms)
{
	if (g->open || g->retry_at_ms < 0)
		return -1;
	if (real_ms < g->retry_at_ms)
		return g->retry_at_ms;
	g->retry_at_ms = -1;
	if (gnss_connect(g) == 0)
		return -1;
	gnss_schedule_retry(g, real_ms);
	return g->retry_at_ms;
}

struct gnss_track *gnss_track_of(struct gnss *g)
{
	return &g->track;
}

void gnss_stats(const struct gnss *g, struct gnss_stats *st)
{
	*st = g->st;
}
