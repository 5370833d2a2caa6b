/* Unit tests of gnss (libgps loaded on demand, fix mapping, validity and age, track points, the GPS
 * odometer), of the clock's GNSS time, and of restamping unsent rows in the
 * store once trusted time arrives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include <errno.h>
#include <gps.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "gateway/clock.h"
#include "gateway/gnss.h"
#include "gateway/store.h"

#define LAT0	      30.8700
#define LON0	      120.0900
#define M_PER_DEG_LAT 111195.0 /* mean earth radius 6371008.8 m */

static struct config_gnss test_cfg(void)
{
	struct config_gnss c = {
	    .enabled = 1,
	    .port = 2947,
	    .max_age_ms = 3000,
	    .period_moving_ms = 5000,
	    .period_stopped_ms = 60000,
	    .distance_m = 50,
	    .heading_deg = 20,
	    .stopped_kmh = 3,
	    .reconnect_max_s = 30,
	};

	snprintf(c.host, sizeof(c.host), "localhost");
	return c;
}

/* 1 when a file whose name has `name` in it is mapped into this process. */
static int mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			found = 1;
	fclose(f);
	return found;
}

/* A loopback TCP port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* libgps (and the libdbus it pulls) is mapped only once a [gnss] source
 * needs it; a library that cannot be loaded refuses the source, saying why.
 * Runs first: nothing before it may have loaded libgps. */
static void test_lib_on_demand(void **state)
{
	struct config_gnss cfg = test_cfg();
	struct table t;
	struct gnss *g;

	(void)state;
	assert_false(mapped("libgps.so"));
	assert_false(mapped("libdbus"));
	gnss_lib_use("libgps-absent.so.0");
	assert_null(gnss_lib());
	assert_non_null(strstr(gnss_lib_error(), "libgps-absent.so.0"));
	assert_null(gnss_open(&cfg, 0, &t));
	assert_false(mapped("libgps.so"));

	gnss_lib_use(NULL);
	table_init(&t, 5000);
	cfg.port = closed_port();
	snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
	g = gnss_open(&cfg, 0, &t); /* refused: it retries later */
	assert_non_null(g);
	assert_true(mapped("libgps.so"));
	assert_int_equal(gnss_fd(g), -1);
	assert_true(gnss_retry(g, clock_real_ms()) > 0);
	gnss_close(g);
	assert_non_null(gnss_lib()->errstr(0));
}

/* A 3D GPS fix at lat/lon, speed and course, received at mono_ms. */
static struct gnss_fix fix_at(double lat, double lon, double kmh, double course, int64_t mono_ms)
{
	struct gnss_fix f = {
	    .mode = MODE_3D,
	    .quality = GNSS_Q_GPS,
	    .lat = lat,
	    .lon = lon,
	    .alt_m = 12.5,
	    .speed_kmh = kmh,
	    .course_deg = course,
	    .hdop = 0.9,
	    .eph_m = 3.0,
	    .sats_used = 9,
	    .time_ms = 0,
	    .mono_ms = mono_ms,
	};

	return f;
}

/* The pos object as it goes out in a record. */
static json_t *pos_json(const struct gnss_track *tr, int64_t now_ms, const char *point)
{
	static struct payload_record rec;
	static const struct payload_header h = {.v = 1, .dev = "test"};
	static char buf[4096];
	json_t *all, *pos;

	payload_record_init(&rec);
	gnss_track_pos(tr, now_ms, point, &rec.pos);
	assert_true(payload_encode_record(&h, &rec, buf, sizeof(buf)) > 0);
	all = json_loads(buf, 0, NULL);
	pos = json_incref(json_object_get(all, "pos"));
	json_decref(all);
	return pos;
}

static const char *str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* ---- mapping ------------------------------------------------------------- */

static void test_quality_mapping(void **state)
{
	static const struct {
		int mode, status;
		const char *want;
	} cases[] = {
	    {MODE_NOT_SEEN, STATUS_FIX, "none"},
	    {MODE_NO_FIX, STATUS_FIX, "none"},
	    {MODE_2D, STATUS_NO_FIX, "gps"}, /* a TPV without "status" */
	    {MODE_3D, STATUS_FIX, "gps"},
	    {MODE_3D, STATUS_DGPS_FIX, "dgps"},
	    {MODE_3D, STATUS_RTK_FIX, "rtk_fixed"},
	    {MODE_3D, STATUS_RTK_FLT, "rtk_float"},
	    {MODE_3D, STATUS_DR, "dr"},
	    {MODE_3D, STATUS_GNSSDR, "dr"},
	    {MODE_3D, STATUS_TIME, "none"},
	    {MODE_3D, STATUS_SIM, "none"}, /* simulated counts as no fix */
	    {MODE_2D, STATUS_PPS_FIX, "gps"},
	    {MODE_3D, 42, "none"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
		    gnss_quality_name(gnss_quality_of(cases[i].mode, cases[i].status)),
		    cases[i].want);
}

static void test_fix_from_gpsd(void **state)
{
	struct gps_data_t *gd = calloc(1, sizeof(*gd));
	struct gnss_fix f;

	(void)state;
	assert_non_null(gd);
	gd->fix.mode = MODE_3D;
	gd->fix.status = STATUS_RTK_FIX;
	gd->fix.latitude = 41.574965910;
	gd->fix.longitude = -93.750571901;
	gd->fix.altMSL = 278.161;
	gd->fix.altHAE = 246.719;
	gd->fix.speed = 10.0; /* m/s */
	gd->fix.track = 124.888;
	gd->fix.eph = 0.02;
	gd->fix.time.tv_sec = 1584538099;
	gd->fix.time.tv_nsec = 600000000;
	gd->dop.hdop = 0.9;
	gd->satellites_used = 19;
	gnss_fix_from_gpsd(gd, 1234, &f);
	assert_int_equal(f.quality, GNSS_Q_RTK_FIXED);
	assert_true(fabs(f.lat - 41.574965910) < 1e-12);
	assert_true(fabs(f.lon + 93.750571901) < 1e-12);
	assert_true(fabs(f.alt_m - 278.161) < 1e-9);
	assert_true(fabs(f.speed_kmh - 36.0) < 1e-9);
	assert_int_equal(f.sats_used, 19);
	assert_true(f.time_ms == INT64_C(1584538099600));
	assert_true(f.mono_ms == 1234);

	/* The same, simulated: no fix. */
	gd->fix.status = STATUS_SIM;
	gnss_fix_from_gpsd(gd, 1234, &f);
	assert_int_equal(f.quality, GNSS_Q_NONE);
	/* A fix without a position is none either. */
	gd->fix.status = STATUS_FIX;
	gd->fix.latitude = NAN;
	gnss_fix_from_gpsd(gd, 1234, &f);
	assert_int_equal(f.quality, GNSS_Q_NONE);
	free(gd);
}

static void test_time_floor(void **state)
{
	struct config_gnss c = test_cfg();
	long long build;

	(void)state;
	c.time_floor_s = 86400;
	assert_true(gnss_time_floor(&c) == 86400);
	c.time_floor_s = 0;
	build = gnss_time_floor(&c);
	/* The build date: after this code was written, not in the future. */
	assert_true(build >= 1735689600LL);
	assert_true(build <= (long long)time(NULL) + 86400);
}

/* Issue 14: a receiver dating a 2015 capture 2034 (gpsd 3.22's guess at a
 * week rollover) does not set the clock unless the system clock confirms. */
static void test_time_ceiling(void **state)
{
	struct config_gnss c = test_cfg();
	long long floor_s, ceil_s, y2034 = 2020291200LL; /* 2034-01-08 */

	(void)state;
	floor_s = gnss_time_floor(&c);
	ceil_s = gnss_time_ceiling(&c);
	assert_true(ceil_s > floor_s + 4 * 365 * 86400LL);
	assert_true(ceil_s < floor_s + 6 * 365 * 86400LL);
	assert_true(ceil_s < y2034); /* built before 2029 */
	assert_int_equal(gnss_time_trusted(floor_s, ceil_s, y2034 * 1000, 0), 0);
	assert_int_equal(gnss_time_trusted(floor_s, ceil_s, y2034 * 1000, 1), 1);
	assert_int_equal(gnss_time_trusted(floor_s, ceil_s, (floor_s + 86400) * 1000, 0), 1);
	assert_int_equal(gnss_time_trusted(floor_s, ceil_s, (floor_s - 1) * 1000, 1), 0);
	assert_int_equal(gnss_time_trusted(floor_s, ceil_s, ceil_s * 1000, 0), 0);
	/* a 2034 date is not what the system clock says, synchronized or not */
	assert_int_equal(clock_system_confirms(y2034 * 1000), 0);
	c.time_ceiling_s = 4102444800LL; /* 2100-01-01 */
	assert_true(gnss_time_ceiling(&c) == 4102444800LL);
	/* the integer build date agrees with timegm */
	{
		struct tm tm;
		time_t t = (time_t)floor_s;

		gmtime_r(&t, &tm);
		assert_int_equal(tm.tm_hour + tm.tm_min + tm.tm_sec, 0);
		assert_true(tm.tm_year + 1900 >= 2025);
	}
}

static void test_distance(void **state)
{
	(void)state;
	assert_true(fabs(gnss_distance_m(LAT0, LON0, LAT0 + 1, LON0) - M_PER_DEG_LAT) < 1);
	assert_true(gnss_distance_m(LAT0, LON0, LAT0, LON0) == 0);
	/* Across the antimeridian: short, not around the world. */
	assert_true(gnss_distance_m(0, 179.9995, 0, -179.9995) < 112);
}

/* ---- validity and age ---------------------------------------------------- */

static void test_fix_age(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	struct gnss_fix f = fix_at(LAT0, LON0, 0, 0, 10000);
	json_t *pos;

	(void)state;
	gnss_track_init(&tr, &c, 0);
	/* Never a fix: invalid, no position at all. */
	pos = pos_json(&tr, 5000, NULL);
	assert_false(json_is_true(json_object_get(pos, "valid")));
	assert_null(json_object_get(pos, "lat"));
	assert_string_equal(str_of(pos, "fix"), "none");
	json_decref(pos);

	assert_int_equal(gnss_track_report(&tr, &f), 1);
	assert_true(gnss_track_valid(&tr, 10000 + c.max_age_ms));
	pos = pos_json(&tr, 11500, NULL);
	assert_true(json_is_true(json_object_get(pos, "valid")));
	assert_string_equal(str_of(pos, "fix"), "3d");
	assert_string_equal(str_of(pos, "quality"), "gps");
	assert_true(fabs(json_real_value(json_object_get(pos, "age_s")) - 1.5) < 1e-9);
	assert_int_equal(json_integer_value(json_object_get(pos, "sats_used")), 9);
	json_decref(pos);

	/* Older than max_age: the last position, marked invalid, with its age. */
	assert_false(gnss_track_valid(&tr, 10000 + c.max_age_ms + 1));
	pos = pos_json(&tr, 20000, NULL);
	assert_false(json_is_true(json_object_get(pos, "valid")));
	assert_true(fabs(json_real_value(json_object_get(pos, "lat")) - LAT0) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(pos, "age_s")) - 10.0) < 1e-9);
	assert_string_equal(str_of(pos, "fix"), "none");
	assert_null(json_object_get(pos, "quality"));
	assert_null(json_object_get(pos, "speed_kmh"));
	json_decref(pos);

	/* A fresh report without a fix ends validity at once. */
	f.mono_ms = 21000;
	gnss_track_report(&tr, &f);
	assert_true(gnss_track_valid(&tr, 21000));
	f = fix_at(NAN, NAN, NAN, NAN, 21500);
	f.quality = GNSS_Q_NONE;
	f.mode = MODE_NO_FIX;
	assert_int_equal(gnss_track_report(&tr, &f), 0);
	assert_false(gnss_track_valid(&tr, 21500));
	pos = pos_json(&tr, 21500, NULL);
	assert_true(fabs(json_real_value(json_object_get(pos, "lon")) - LON0) < 1e-12);
	json_decref(pos);
}

/* ---- track points -------------------------------------------------------- */

/* Feed one fix a second from t0 (s) to t1, at speed/course, moving north
 * step_m a second; returns the reasons of the points made, space separated,
 * each with its second ("fix@0 period@5"). */
static void drive(struct gnss_track *tr, int t0, int t1, double kmh, double course, double step_m,
		  double *lat, char *out, size_t size)
{
	for (int t = t0; t <= t1; t++) {
		struct gnss_fix f = fix_at(*lat, LON0, kmh, course, (int64_t)t * 1000);
		const char *why;

		gnss_track_report(tr, &f);
		why = gnss_track_point(tr, (int64_t)t * 1000);
		if (why)
			snprintf(out + strlen(out), size - strlen(out), "%s%s@%d", *out ? " " : "",
				 why, t);
		*lat += step_m / M_PER_DEG_LAT;
	}
}

static void test_points_stopped(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	double lat = LAT0;
	char got[512] = "";

	(void)state;
	gnss_track_init(&tr, &c, 0);
	drive(&tr, 0, 130, 0.0, 0, 0, &lat, got, sizeof(got));
	/* Standing: the first fix, then the stopped period (60 s), never 5 s. */
	assert_string_equal(got, "fix@0 period@60 period@120");
}

static void test_points_period_moving(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	double lat = LAT0;
	char got[512] = "";

	(void)state;
	gnss_track_init(&tr, &c, 0);
	/* 20 km/h but only 5 m a second (under distance_m in 5 s): period. */
	drive(&tr, 0, 12, 20.0, 0, 5, &lat, got, sizeof(got));
	assert_string_equal(got, "fix@0 period@5 period@10");
}

static void test_points_distance(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	double lat = LAT0;
	char got[512] = "";

	(void)state;
	c.period_moving_ms = 600000;
	gnss_track_init(&tr, &c, 0);
	/* 20 m a second: 50 m are passed every third second. */
	drive(&tr, 0, 9, 72.0, 0, 20, &lat, got, sizeof(got));
	assert_string_equal(got, "fix@0 distance@3 distance@6 distance@9");
}

static void test_points_heading(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	double lat = LAT0;
	char got[512] = "";

	(void)state;
	c.period_moving_ms = 600000;
	c.period_stopped_ms = 600000;
	c.distance_m = 0; /* off */
	gnss_track_init(&tr, &c, 0);
	drive(&tr, 0, 2, 30.0, 350, 1, &lat, got, sizeof(got));
	/* 350 -> 5 degrees is a change of 15 (across north): no point. */
	drive(&tr, 3, 4, 30.0, 5, 1, &lat, got, sizeof(got));
	/* 350 -> 15: 25 degrees. */
	drive(&tr, 5, 6, 30.0, 15, 1, &lat, got, sizeof(got));
	/* Standing, the course is noise: no heading point. */
	drive(&tr, 7, 8, 0.5, 200, 0, &lat, got, sizeof(got));
	assert_string_equal(got, "fix@0 heading@5");
}

static void test_points_without_fix(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	struct gnss_fix f = fix_at(LAT0, LON0, 0, 0, 0);
	const char *why;
	json_t *pos;

	(void)state;
	gnss_track_init(&tr, &c, 0);
	/* No fix: a point on the stopped period only, marked invalid. */
	assert_null(gnss_track_point(&tr, 59000));
	why = gnss_track_point(&tr, 60000);
	assert_non_null(why);
	assert_string_equal(why, "period");
	pos = pos_json(&tr, 60000, why);
	assert_false(json_is_true(json_object_get(pos, "valid")));
	assert_string_equal(str_of(pos, "point"), "period");
	json_decref(pos);
	/* A fix at last: a point at once. */
	f.mono_ms = 61000;
	gnss_track_report(&tr, &f);
	why = gnss_track_point(&tr, 61000);
	assert_non_null(why);
	assert_string_equal(why, "fix");
	/* It goes stale: the next point only after the period, invalid. */
	assert_null(gnss_track_point(&tr, 100000));
	assert_string_equal(gnss_track_point(&tr, 121000), "period");
	assert_false(tr.point_valid);
	/* Valid again: "fix" again. */
	f.mono_ms = 122000;
	gnss_track_report(&tr, &f);
	assert_string_equal(gnss_track_point(&tr, 122000), "fix");
}

/* ---- odometer ------------------------------------------------------------ */

static void test_odometer_jitter(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	unsigned seed = 7;

	(void)state;
	gnss_track_init(&tr, &c, 0);
	/* Standing for 10 minutes, the position wandering +-2.5 m (eph 3 m). */
	for (int t = 0; t < 600; t++) {
		double dn = ((double)rand_r(&seed) / RAND_MAX - 0.5) * 5.0;
		double de = ((double)rand_r(&seed) / RAND_MAX - 0.5) * 5.0;
		struct gnss_fix f = fix_at(LAT0 + dn / M_PER_DEG_LAT,
					   LON0 + de / (M_PER_DEG_LAT * cos(LAT0 * M_PI / 180)),
					   0.4, t % 360, (int64_t)t * 1000);

		gnss_track_report(&tr, &f);
	}
	assert_true(tr.odometer_km == 0.0);
}

static void test_odometer_moving(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	double lat = LAT0;

	(void)state;
	gnss_track_init(&tr, &c, 0);
	/* 1 km north in 10 m steps at 36 km/h. */
	for (int t = 0; t <= 100; t++) {
		struct gnss_fix f = fix_at(lat, LON0, 36.0, 0, (int64_t)t * 1000);

		gnss_track_report(&tr, &f);
		lat += 10.0 / M_PER_DEG_LAT;
	}
	assert_true(fabs(tr.odometer_km - 1.0) < 0.001);
}

static void test_odometer_creep(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	double lat = LAT0;

	(void)state;
	gnss_track_init(&tr, &c, 0);
	/* Creeping 0.5 m a second, speed below stopped_kmh: each step is within
	 * the jitter radius, yet the way adds up once it leaves the radius. */
	for (int t = 0; t <= 400; t++) {
		struct gnss_fix f = fix_at(lat, LON0, 1.8, 0, (int64_t)t * 1000);

		gnss_track_report(&tr, &f);
		lat += 0.5 / M_PER_DEG_LAT;
	}
	assert_true(tr.odometer_km > 0.190 && tr.odometer_km <= 0.2001);
}

/* Antipodal points: rounding must not make the distance NaN. */
static void test_distance_antipode(void **state)
{
	(void)state;
	for (double lat = -89.9; lat < 90; lat += 0.37)
		for (double lon = -179.9; lon < 0; lon += 0.53) {
			double d = gnss_distance_m(lat, lon, -lat, lon + 180);

			assert_true(isfinite(d));
			assert_true(fabs(d - M_PI * 6371008.8) < 1.0);
		}
}

/* gpsd passes on what a receiver says; numbers that cannot be are no fix. */
static void test_fix_implausible(void **state)
{
	struct gps_data_t *gd = calloc(1, sizeof(*gd));
	struct gnss_fix f;

	(void)state;
	assert_non_null(gd);
	gd->fix.mode = MODE_3D;
	gd->fix.status = STATUS_FIX;
	gd->fix.latitude = LAT0;
	gd->fix.longitude = LON0;
	gd->fix.altMSL = 12.0;
	gd->fix.speed = 10.0;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_int_equal(f.quality, GNSS_Q_GPS);
	assert_false(f.implausible);

	gd->fix.latitude = 1e308;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_int_equal(f.quality, GNSS_Q_NONE);
	assert_true(f.implausible);
	gd->fix.latitude = 90.0001;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	gd->fix.latitude = -90; /* the pole is a place */
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_false(f.implausible);
	gd->fix.latitude = LAT0;
	gd->fix.longitude = -180.5;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	gd->fix.longitude = INFINITY;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	gd->fix.longitude = LON0;
	/* 9999 knots, as a GPRMC can say and gpsd passes on */
	gd->fix.speed = 5143.93;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	gd->fix.speed = 300.0 / 3.6 + 0.01;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	gd->fix.speed = NAN; /* not reported: fine */
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_false(f.implausible);
	gd->fix.altMSL = 99999.0;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	assert_int_equal(f.quality, GNSS_Q_NONE);
	gd->fix.altMSL = -1500.0;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_true(f.implausible);
	gd->fix.altMSL = NAN; /* not reported: altHAE, also absent */
	gd->fix.altHAE = NAN;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_false(f.implausible);
	assert_int_equal(f.quality, GNSS_Q_GPS);
	/* No fix by its mode: nothing to judge. */
	gd->fix.mode = MODE_NO_FIX;
	gd->fix.latitude = 1e308;
	gnss_fix_from_gpsd(gd, 1, &f);
	assert_false(f.implausible);
	free(gd);
}

/* An absurd position (taken as a fix by whoever built it) is not a fix for
 * the track, and the odometer stays a number, also across the antipode. */
static void test_odometer_never_nan(void **state)
{
	struct config_gnss c = test_cfg();
	struct gnss_track tr;
	struct gnss_fix f;

	(void)state;
	gnss_track_init(&tr, &c, 0);
	f = fix_at(LAT0, LON0, 36.0, 0, 0);
	assert_int_equal(gnss_track_report(&tr, &f), 1);
	f = fix_at(1e308, LON0, 36.0, 0, 1000);
	assert_int_equal(gnss_track_report(&tr, &f), 0);
	assert_false(gnss_track_valid(&tr, 1000));
	assert_true(tr.last.lat == LAT0);
	f = fix_at(-LAT0, LON0 - 180, 36.0, 0, 2000);
	assert_int_equal(gnss_track_report(&tr, &f), 1);
	assert_true(isfinite(tr.odometer_km));
	f = fix_at(LAT0, LON0, 36.0, 0, 3000);
	gnss_track_report(&tr, &f);
	assert_true(isfinite(tr.odometer_km));
	assert_true(tr.odometer_km > 40000.0 && tr.odometer_km < 40100.0);
}

/* ---- clock --------------------------------------------------------------- */

static void test_clock_gnss(void **state)
{
	struct clock_now now;
	struct clock_jump j;
	int64_t gnss = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z */

	(void)state;
	clock_init_live();
	clock_now(&now);
	assert_int_not_equal(now.src, TS_GNSS);
	assert_int_equal(clock_jump_check(&now, &j), 0); /* the reference */
	clock_now(&now);
	assert_int_equal(clock_jump_check(&now, &j), 0);

	clock_gnss_sync(gnss, now.mono_ms);
	clock_now(&now);
	assert_int_equal(now.src, TS_GNSS);
	assert_true(now.wall_ms >= gnss && now.wall_ms < gnss + 1000);
	/* Switching to a time months away is a jump, of GNSS time. */
	assert_int_equal(clock_jump_check(&now, &j), 1);
	assert_int_equal(j.system, 0);
	assert_true(j.to_ms == now.wall_ms);
	clock_now(&now);
	assert_int_equal(clock_jump_check(&now, &j), 0);

	/* Later fixes with more latency do not move it back by more than 1 ms
	 * a fix; one with less latency moves it forward. */
	clock_gnss_sync(gnss - 300, now.mono_ms);
	clock_now(&now);
	assert_true(now.wall_ms >= gnss - 1);
	clock_gnss_forget();
	clock_now(&now);
	assert_int_not_equal(now.src, TS_GNSS);
}

/* ---- restamping ---------------------------------------------------------- */

static char tmpdir[] = "/tmp/emgw-test-gnss-XXXXXX";

static void append_row(struct store *s, int64_t mono, const char *src)
{
	char buf[256];
	uint64_t seq = store_next_seq(s);
	int n;

	n = snprintf(
	    buf, sizeof(buf),
	    "{\"v\":1,\"seq\":%llu,\"ts\":\"1970-01-01T00:00:%02d.000Z\",\"ts_src\":\"%s\","
	    "\"mono_ms\":%lld,\"sig\":{\"x\":12.5,\"y\":1e-05}}",
	    (unsigned long long)seq, (int)(mono / 1000), src, (long long)mono);
	assert_int_equal(store_append(s, seq, STORE_RECORD, mono, mono, buf, (size_t)n), 0);
}

static void test_restamp(void **state)
{
	static char buf[65536];
	struct store_row rows[16];
	char path[600];
	struct store *s;
	int64_t off = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z at mono 0 */
	int n;

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/emgw.db", tmpdir);
	/* An earlier boot left an unsynced row: its monotonic time is another's. */
	s = store_open(path, 1, 0, 0);
	assert_non_null(s);
	append_row(s, 500, "unsynced");
	store_close(s);

	s = store_open(path, 1, 0, 0);
	assert_non_null(s);
	for (int i = 1; i <= 5; i++)
		append_row(s, i * 1000, "unsynced");
	append_row(s, 6000, "rtc");
	assert_int_equal(store_flush(s), 0);
	/* The uplink takes the first two of this boot: they are (maybe) at the
	 * server now and must never change. */
	assert_int_equal(store_fetch(s, 0, 1000, rows, 2, buf, sizeof(buf)), 2);

	assert_int_equal(store_restamp(s, off, "gnss"), 3);
	assert_int_equal(store_flush(s), 0);
	n = store_fetch(s, 30, 0, rows, 16, buf, sizeof(buf));
	assert_int_equal(n, 7);
	/* The earlier boot's row, and the two sent, untouched. */
	assert_non_null(strstr(rows[0].payload, "\"ts_src\":\"unsynced\""));
	assert_true(rows[0].wall_ms == 500);
	for (int i = 1; i <= 2; i++) {
		assert_non_null(strstr(rows[i].payload, "\"ts_src\":\"unsynced\""));
		assert_true(rows[i].wall_ms == rows[i].mono_ms);
	}
	/* The three waiting: from their monotonic time. */
	for (int i = 3; i <= 5; i++) {
		char want[64];

		snprintf(want, sizeof(want),
			 "\"ts\":\"2026-01-01T00:00:%02d.000Z\",\"ts_src\":\"gnss\"", i);
		assert_non_null(strstr(rows[i].payload, want));
		assert_true(rows[i].wall_ms == rows[i].mono_ms + off);
		/* The rest of the payload as it was. */
		assert_non_null(strstr(rows[i].payload, "\"sig\":{\"x\":12.5,\"y\":1e-05}"));
	}
	/* A row stamped from a trusted source stays. */
	assert_non_null(strstr(rows[6].payload, "\"ts_src\":\"rtc\""));
	assert_true(rows[6].wall_ms == 6000);
	/* Nothing left to do the second time. */
	assert_int_equal(store_restamp(s, off, "gnss"), 0);
	store_close(s);

	/* Milliseconds, and never a negative time. */
	s = store_open(path, 1, 0, 0);
	assert_non_null(s);
	append_row(s, 1234, "unsynced");
	assert_int_equal(store_restamp(s, INT64_C(1767225600000), "ntp"), 1);
	assert_int_equal(store_flush(s), 0);
	n = store_fetch(s, 30, 0, rows, 16, buf, sizeof(buf));
	assert_non_null(
	    strstr(rows[n - 1].payload, "\"ts\":\"2026-01-01T00:00:01.234Z\",\"ts_src\":\"ntp\""));
	append_row(s, 100, "unsynced");
	assert_int_equal(store_restamp(s, -1000, "ntp"), 0);
	store_close(s);

	snprintf(path, sizeof(path), "rm -rf %s", tmpdir);
	assert_int_equal(system(path), 0);
}

/*
 * Issue 14: an NTP step corrects the system clock; the rows this boot
 * stamped from it before (unsynced, rtc or ntp) and not yet fetched take the
 * new time from their monotonic time.  GNSS-stamped rows, earlier boots'
 * rows and fetched rows keep theirs.
 */
static void test_restamp_system(void **state)
{
	static char buf[65536];
	static char dir[] = "/tmp/emgw-test-gnss-sys-XXXXXX";
	struct store_row rows[16];
	char path[600];
	struct store *s;
	int64_t off = INT64_C(1767225600000);
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/emgw.db", dir);
	s = store_open(path, 1, 0, 0);
	append_row(s, 500, "ntp"); /* an earlier boot's */
	store_close(s);
	s = store_open(path, 1, 0, 0);
	assert_non_null(s);
	append_row(s, 1000, "ntp"); /* fetched below */
	append_row(s, 2000, "ntp");
	append_row(s, 3000, "rtc");
	append_row(s, 4000, "unsynced");
	append_row(s, 5000, "gnss");
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_fetch(s, 0, 1000, rows, 1, buf, sizeof(buf)), 1);

	assert_int_equal(store_restamp_system(s, off, "ntp"), 3);
	assert_int_equal(store_flush(s), 0);
	n = store_fetch(s, 30, 0, rows, 16, buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_true(rows[0].wall_ms == 500);
	assert_true(rows[1].wall_ms == 1000);
	for (int i = 2; i <= 4; i++) {
		char want[64];

		snprintf(want, sizeof(want),
			 "\"ts\":\"2026-01-01T00:00:%02d.000Z\",\"ts_src\":\"ntp\"", i);
		assert_non_null(strstr(rows[i].payload, want));
		assert_true(rows[i].wall_ms == rows[i].mono_ms + off);
	}
	assert_non_null(strstr(rows[5].payload, "\"ts_src\":\"gnss\""));
	assert_true(rows[5].wall_ms == 5000);
	/* store_restamp (leaving unsynced) still touches only unsynced rows */
	append_row(s, 6000, "rtc");
	assert_int_equal(store_restamp(s, off, "gnss"), 0);
	store_close(s);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lib_on_demand),
	    cmocka_unit_test(test_quality_mapping),
	    cmocka_unit_test(test_fix_from_gpsd),
	    cmocka_unit_test(test_time_floor),
	    cmocka_unit_test(test_time_ceiling),
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_fix_age),
	    cmocka_unit_test(test_points_stopped),
	    cmocka_unit_test(test_points_period_moving),
	    cmocka_unit_test(test_points_distance),
	    cmocka_unit_test(test_points_heading),
	    cmocka_unit_test(test_points_without_fix),
	    cmocka_unit_test(test_odometer_jitter),
	    cmocka_unit_test(test_odometer_moving),
	    cmocka_unit_test(test_odometer_creep),
	    cmocka_unit_test(test_clock_gnss),
	    cmocka_unit_test(test_restamp),
	    cmocka_unit_test(test_restamp_system),
	    cmocka_unit_test(test_distance_antipode),
	    cmocka_unit_test(test_fix_implausible),
	    cmocka_unit_test(test_odometer_never_nan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
