#include "protocols/geo.h"

#include <math.h>

/* Is p on the segment a-b?  Exact for points on axis-parallel edges and for
 * vertices; within rounding of the cross product otherwise. */
static int geo_on_segment(struct geo_point a, struct geo_point b, struct geo_point p)
{
	double cross = (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon);
	double scale = (b.lon - a.lon) * (b.lon - a.lon) + (b.lat - a.lat) * (b.lat - a.lat);

	if (cross * cross > 1e-24 * scale)
		return 0;
	return p.lon >= (a.lon < b.lon ? a.lon : b.lon) &&
	       p.lon <= (a.lon > b.lon ? a.lon : b.lon) &&
	       p.lat >= (a.lat < b.lat ? a.lat : b.lat) && p.lat <= (a.lat > b.lat ? a.lat : b.lat);
}

enum geo_where geo_ring_where(const struct geo_point *pts, const struct geo_ring *r,
			      struct geo_point p)
{
	int inside = 0;

	if (!pts || !r || r->n < 3 || !isfinite(p.lon) || !isfinite(p.lat))
		return GEO_OUTSIDE;
	/* Crossing number with the half-open rule on latitude, so a ray
	 * through a vertex counts once; edges are tested first. */
	for (int i = 0, j = r->n - 1; i < r->n; j = i++) {
		struct geo_point a = pts[r->first + j], b = pts[r->first + i];

		if (geo_on_segment(a, b, p))
			return GEO_EDGE;
		/* p is west of the edge when the cross product has the sign
		 * of the edge's direction: no division, no cancellation. */
		if ((b.lat > p.lat) != (a.lat > p.lat)) {
			double c =
			    (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon);

			if ((c > 0) == (b.lat > a.lat))
				inside = !inside;
		}
	}
	return inside ? GEO_INSIDE : GEO_OUTSIDE;
}

int geo_polygon_contains(const struct geo_point *pts, const struct geo_ring *rings, int n,
			 struct geo_point p)
{
	if (n < 1 || geo_ring_where(pts, &rings[0], p) == GEO_OUTSIDE)
		return 0;
	for (int h = 1; h < n; h++)
		if (geo_ring_where(pts, &rings[h], p) == GEO_INSIDE)
			return 0;
	return 1;
}

struct geo_bbox geo_bbox_empty(void)
{
	return (struct geo_bbox){1e9, 1e9, -1e9, -1e9};
}

void geo_bbox_add(struct geo_bbox *b, const struct geo_point *pts, const struct geo_ring *r)
{
	for (int i = 0; i < r->n; i++) {
		struct geo_point q = pts[r->first + i];

		if (q.lon < b->min_lon)
			b->min_lon = q.lon;
		if (q.lon > b->max_lon)
			b->max_lon = q.lon;
		if (q.lat < b->min_lat)
			b->min_lat = q.lat;
		if (q.lat > b->max_lat)
			b->max_lat = q.lat;
	}
}

int geo_bbox_contains(const struct geo_bbox *b, struct geo_point p)
{
	return p.lon >= b->min_lon && p.lon <= b->max_lon && p.lat >= b->min_lat &&
	       p.lat <= b->max_lat;
}
