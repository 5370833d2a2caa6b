/* bench_detect: the cost of the detectors per sample tick: the smoke
 * detector with its three rules, watch, and 50 zones (20-vertex polygons
 * with a hole each, a MultiPolygon among them) on a moving position.
 *
 *   bench_detect TICKS [DIR [FRAMES]]
 *
 * Builds the zones file in DIR (default /tmp), a signal table whose values
 * change every tick (an engine at work with smoke episodes), then runs
 * TICKS ticks and prints ticks per second.  With FRAMES, that many CAN
 * frames a tick (1900: a full bus) each write one engine signal and the
 * smoke rules judge at signal rate after it (smoke_frame).  Under callgrind,
 * the difference between two tick counts divided by the difference in ticks
 * is the cost of one tick (set-up does not count); between FRAMES and 0 at
 * the same ticks, divided by TICKS x FRAMES, the cost of one frame. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/smoke.h"
#include "gateway/watch.h"
#include "gateway/zones.h"

#define N_ZONES 50
#define N_VERTS 20

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A ring of n vertices around (lon, lat), radius r degrees, closed. */
static void ring(FILE *f, double lon, double lat, double r, int n)
{
	fputc('[', f);
	for (int i = 0; i <= n; i++) {
		double a = 2 * M_PI * (i % n) / n;

		fprintf(f, "%s[%.6f,%.6f]", i ? "," : "", lon + r * cos(a), lat + r * sin(a));
	}
	fputc(']', f);
}

static void write_zones(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs("{\"type\":\"FeatureCollection\",\"features\":[", f);
	for (int z = 0; z < N_ZONES; z++) {
		double lon = 120 + 0.05 * (z % 10), lat = 30 + 0.05 * (z / 10);

		fprintf(f,
			"%s{\"type\":\"Feature\",\"properties\":{\"name\":\"z%d\","
			"\"prohibited_stages\":[1,2,3]},\"geometry\":{\"type\":\"%s\","
			"\"coordinates\":[",
			z ? "," : "", z, z == 0 ? "MultiPolygon" : "Polygon");
		if (z == 0)
			fputc('[', f);
		ring(f, lon, lat, 0.03, N_VERTS);
		fputc(',', f);
		ring(f, lon, lat, 0.005, N_VERTS);
		if (z == 0)
			fputc(']', f);
		fputs("]}}", f);
	}
	fputs("]}\n", f);
	fclose(f);
}

static void on_event(void *ctx, struct payload_event *ev)
{
	(void)ev;
	(*(unsigned long *)ctx)++;
}

int main(int argc, char **argv)
{
	static struct smoke s;
	struct config cfg;
	struct table t;
	struct watch w;
	struct zones *zs;
	unsigned long events = 0;
	long ticks = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	long frames = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
	double t0, t1;

	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	snprintf(cfg.zones.file, sizeof(cfg.zones.file), "%s/bench_zones.%d.json", dir,
		 (int)getpid());
	cfg.stage = 3;
	cfg.watch.has_dpf = 1;
	write_zones(cfg.zones.file);
	zs = zones_open(&cfg.zones, cfg.stage);
	if (!zs || zones_count(zs) != N_ZONES)
		return 1;
	table_init(&t, 5000);
	smoke_init(&s, &cfg.smoke);
	smoke_set_machine(&s, cfg.stage, cfg.rated_power_kw);
	watch_init(&w, &cfg);
	t0 = now_s();
	for (long i = 0; i < ticks; i++) {
		int64_t ms = i * 1000;
		int smoky = i % 300 > 250;	      /* an episode every 5 minutes */
		double load = 40 + 50 * (i % 17 < 6); /* dig cycles */
		struct watch_input wi = {
		    .now_ms = ms, .n_can = 1, .can_age_ms = 10, .gnss_enabled = 1, .have_fix = 1};
		struct zones_input zi = {.now_ms = ms,
					 .wall_ms = ms,
					 .have_pos = 1,
					 .lat = 30 + 0.25 * (double)(i % 1000) / 1000,
					 .lon = 120 + 0.5 * (double)(i % 997) / 997,
					 .have_fuel = 1,
					 .fuel_lph = 30};

		table_set(&t, SIG_ENGINE_SPEED_RPM, 0, 1800 + (double)(i % 50), ms, 1);
		table_set(&t, SIG_ENGINE_LOAD_PCT, 0, load, ms, 1);
		table_set(&t, SIG_FUEL_RATE_LPH, 0, 0.4 * load, ms, 1);
		table_set(&t, SIG_INTAKE_AIR_KGPH, 0, smoky ? 4.6 * load : 7.5 * load, ms, 1);
		table_set(&t, SIG_BOOST_KPA, 0, smoky ? 50 : 2 * load, ms, 1);
		table_set(&t, SIG_OPACITY_PCT, 0, smoky ? 30 : 5, ms, 1);
		table_set(&t, SIG_COOLANT_C, 0, 85, ms, 1);
		table_set(&t, SIG_DPF_DP_KPA, 0, 0.1 * load, ms, 1);
		table_set(&t, SIG_NOX_UP_PPM, 0, 300 + (double)(i % 7), ms, 1);
		for (long f = 0; f < frames; f++) { /* EEC1, EGF1, LFE1 in turn */
			int64_t fms = ms + f * 1000 / frames;

			if (f % 3 == 0)
				table_set(&t, SIG_ENGINE_TORQUE_PCT, 0, load, fms, 1);
			else if (f % 3 == 1)
				table_set(&t, SIG_INTAKE_AIR_KGPH, 0,
					  smoky ? 4.6 * load : 7.5 * load, fms, 1);
			else
				table_set(&t, SIG_FUEL_RATE_LPH, 0, 0.4 * load, fms, 1);
			smoke_frame(&s, &t, fms, fms, on_event, &events);
		}
		smoke_tick(&s, &t, ms, ms, on_event, &events);
		watch_tick(&w, &t, &wi, on_event, &events);
		zi.engine_running = watch_engine_running(&w);
		zi.smoke_starts = s.starts;
		zones_tick(zs, &zi, on_event, &events);
	}
	t1 = now_s();
	printf("detectors (3 smoke rules, watch, %d zones, %ld frames a tick): %.0f ticks/s (%ld "
	       "ticks, %lu events)\n",
	       N_ZONES, frames, (double)ticks / (t1 - t0), ticks, events);
	watch_stop(&w);
	zones_close(zs);
	unlink(cfg.zones.file);
	return 0;
}
