/* libFuzzer target: the GeoJSON zones parser (gateway/zones.c with
 * jansson, linked with log.c and clock.c).  Whatever the text, parsing
 * ends with zones or with a message; with zones, ticks inside (120, 30:
 * where the seeds' zones are) and far away, and the status must build
 * (every event and the status object non-NULL: names stay UTF-8). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/zones.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_emit(void *ctx, json_t *ev)
{
	(void)ctx;
	if (!ev)
		abort();
	json_decref(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct config_zones cfg = {.debounce_ms = 0, .violation_ms = 0};
	char err[ZONES_ERR_MAX];
	struct zones *z = zones_new(&cfg, size > 0 ? 1 + data[0] % 6 : 4);
	struct zones_input in = {.have_pos = 1, .engine_running = 1};
	json_t *st;

	if (!z)
		return 0;
	err[0] = '\0';
	if (zones_parse(z, (const char *)data, size, "fuzz", err) < 0) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		zones_close(z);
		return 0;
	}
	/* Two ticks inside the seeds' zones (enter, violation), one far away. */
	for (int t = 0; t < 3; t++) {
		in.now_ms = in.wall_ms = 1000 * t;
		in.lon = t < 2 ? 120.0 : -60.0;
		in.lat = t < 2 ? 30.0 : -30.0;
		zones_tick(z, &in, fuzz_emit, NULL);
	}
	st = zones_status(z);
	if (!st || json_object_size(st) > (size_t)zones_count(z))
		abort();
	json_decref(st);
	zones_close(z);
	return 0;
}
