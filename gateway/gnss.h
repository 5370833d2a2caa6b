/* gnss: the position source.  Reads TPV reports from gpsd through libgps
 * (loaded at the first use: a gateway without [gnss] never maps it), keeps
 * the latest fix with its age, decides track points, counts the GPS odometer
 * (gps_odometer_km) into the table and hands trusted receiver time to the
 * clock.  Knows gpsd, the table and the clock; it builds the `pos`
 * object but never touches records, the store or the uplink. */
#ifndef EMGW_GNSS_H
#define EMGW_GNSS_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/table.h"
#include "protocols/payload.h"

/* Beyond these a fix is a receiver's (or a spoofer's) garbage. */
#define GNSS_MAX_SPEED_KMH 300.0 /* no machine of ours drives faster */
#define GNSS_MIN_ALT_M	   -1000.0
#define GNSS_MAX_ALT_M	   20000.0

enum gnss_quality {
	GNSS_Q_NONE, /* no fix: none, simulated, time only, or unknown */
	GNSS_Q_GPS,
	GNSS_Q_DGPS,
	GNSS_Q_RTK_FLOAT,
	GNSS_Q_RTK_FIXED,
	GNSS_Q_DR, /* dead reckoning, alone or aiding GNSS */
};

/* One TPV report, in our units. */
struct gnss_fix {
	int mode; /* 0 not seen, 1 none, 2 2d, 3 3d (gpsd's MODE_*) */
	enum gnss_quality quality;
	double lat, lon; /* degrees; meaningful when quality != GNSS_Q_NONE */
	double alt_m;	 /* above mean sea level; NAN when not reported */
	double speed_kmh, course_deg, hdop, eph_m; /* NAN when not reported */
	int sats_used;				   /* < 1 when not reported */
	int64_t time_ms; /* receiver time, ms since the epoch; 0 when none */
	int64_t mono_ms; /* clock_mono_ms() when it arrived */
	int implausible; /* a fix by its mode, but its numbers cannot be: no fix */
};

/* Fix state, track points and odometer: no I/O, so unit tests drive it. */
struct gnss_track {
	struct config_gnss cfg;
	struct gnss_fix last;  /* latest report that had a fix */
	int have_fix;	       /* last is set */
	int fix_now;	       /* the latest report had a fix (0 after a no-fix report) */
	int64_t point_mono_ms; /* last track point (or start) */
	int point_valid;       /* it had a valid position ... */
	double point_lat, point_lon, point_course; /* ... here, heading so */
	int have_anchor;			   /* odometer: last position counted */
	double anchor_lat, anchor_lon;
	double odometer_km;
};

struct gnss_stats {
	int up; /* connected to gpsd */
	uint64_t connects;
	uint64_t reports;	  /* TPV reports */
	uint64_t fixes;		  /* of them with a fix */
	uint64_t implausible;	  /* of them with a fix whose numbers cannot be (no fix) */
	int64_t last_fix_mono_ms; /* -1 if none yet */
};

struct gps_data_t;
struct gnss;

/* The libgps calls this program makes, from the library the build linked
 * against (its soname, EMGW_LIBGPS_SONAME).  libgps pulls libdbus and
 * libstdc++ with it: dlopen()ed on first use, it is mapped only when [gnss]
 * is configured. */
struct gnss_lib { /* gps.h's prototypes (gnss.c checks they agree) */
	int (*open)(const char *host, const char *port, struct gps_data_t *gd);
	int (*close)(struct gps_data_t *gd);
	int (*read)(struct gps_data_t *gd, char *message, int message_len);
	int (*stream)(struct gps_data_t *gd, unsigned int flags, void *d);
	bool (*waiting)(const struct gps_data_t *gd, int timeout_us);
	const char *(*errstr)(const int err);
};

/* libgps's calls, loading it the first time; NULL when it cannot be loaded,
 * and then gnss_lib_error() says why. */
const struct gnss_lib *gnss_lib(void);
/* The library's name and dlerror()'s reason of the last failed gnss_lib(). */
const char *gnss_lib_error(void);
/* For tests: the library gnss_lib() loads while none is loaded yet (NULL:
 * the build's own). */
void gnss_lib_use(const char *soname);

/* A source for cfg (enabled); `source` is its tag in the table.  Connects now
 * or, failing that, retries later: NULL (logged) when out of memory or when
 * libgps cannot be loaded. */
struct gnss *gnss_open(const struct config_gnss *cfg, int source, struct table *t);
/* Disconnect and free. */
void gnss_close(struct gnss *g);
/* The gpsd socket to poll for input, or -1 while disconnected. */
int gnss_fd(const struct gnss *g);
/* POLLIN on gnss_fd: read every report waiting. */
void gnss_read(struct gnss *g);
/* Reconnect when due (real monotonic ms); returns the next retry time, or -1. */
int64_t gnss_retry(struct gnss *g, int64_t real_ms);
/* The track state (for the pos object, and for tests). */
struct gnss_track *gnss_track_of(struct gnss *g);
/* Counters and state. */
void gnss_stats(const struct gnss *g, struct gnss_stats *st);

/* Map gpsd's fix mode and status (gps.h STATUS_*) to a quality; a simulated
 * or time-only fix, or mode below 2D, is GNSS_Q_NONE. */
enum gnss_quality gnss_quality_of(int mode, int status);
/* "none", "gps", "dgps", "rtk_float", "rtk_fixed", "dr". */
const char *gnss_quality_name(enum gnss_quality q);
/* 1 when a fix's numbers can be true: |lat| <= 90, |lon| <= 180, speed (when
 * reported) at most GNSS_MAX_SPEED_KMH, altitude (when reported) within
 * GNSS_MIN_ALT_M .. GNSS_MAX_ALT_M, all finite. */
int gnss_fix_plausible(const struct gnss_fix *fix);
/* Convert libgps's view after a TPV report, received at mono_ms.  A fix
 * that is not plausible is no fix (quality none, implausible set). */
void gnss_fix_from_gpsd(const struct gps_data_t *gd, int64_t mono_ms, struct gnss_fix *fix);
/* GNSS time before this (s since the epoch) is not trusted: cfg's
 * time_floor, or the build date when that is 0. */
long long gnss_time_floor(const struct config_gnss *cfg);
#define GNSS_CEILING_YEARS 5 /* default ceiling: the build date plus this */

/* GNSS time from this on (s since the epoch) is not trusted unless a
 * synchronized system clock confirms it: cfg's time_ceiling, or the build
 * date plus GNSS_CEILING_YEARS when that is 0.  A receiver's guess at a
 * week rollover (gpsd 3.22 dates a 2015 BeiDou capture 2034) is a jump of
 * 19.6 years ahead, past it. */
long long gnss_time_ceiling(const struct config_gnss *cfg);
/* Whether receiver time time_ms may set the clock: at or after the floor,
 * and before the ceiling or confirmed (by the system clock). */
int gnss_time_trusted(long long floor_s, long long ceiling_s, int64_t time_ms, int confirmed);

/* Fresh track state; now_ms starts the period of the first point. */
void gnss_track_init(struct gnss_track *tr, const struct config_gnss *cfg, int64_t now_ms);
/* Take one report: updates the fix and the odometer.  Returns 1 when it
 * carried a fix. */
int gnss_track_report(struct gnss_track *tr, const struct gnss_fix *fix);
/* 1 when the latest report had a fix no older than max_age at now_ms. */
int gnss_track_valid(const struct gnss_track *tr, int64_t now_ms);
/* 1 and the valid fix's position at now_ms into lat, lon; else 0. */
int gnss_track_position(const struct gnss_track *tr, int64_t now_ms, double *lat, double *lon);
/* Once a record: is this a track point?  Returns the reason ("fix",
 * "distance", "heading", "period") and makes it the last point, or NULL. */
const char *gnss_track_point(struct gnss_track *tr, int64_t now_ms);
/* The `pos` object at now_ms into pos, with "point" when point is not NULL. */
void gnss_track_pos(const struct gnss_track *tr, int64_t now_ms, const char *point,
		    struct payload_pos *pos);
/* Great-circle distance in metres. */
double gnss_distance_m(double lat1, double lon1, double lat2, double lon2);

#endif
