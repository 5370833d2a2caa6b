/* geo: point-in-polygon on WGS84 longitude/latitude, taken as a plane
 * (edges are straight in degrees, as GeoJSON draws them when it is not
 * crossing the antimeridian).  Polygons are GeoJSON's: an outer ring and
 * holes; a point on any edge belongs to the polygon (on the outer edge:
 * inside; on a hole's edge: inside too, the hole is open).
 * Pure: arrays in, an answer out; no I/O, no globals, no allocation. */
#ifndef EMGW_GEO_H
#define EMGW_GEO_H

struct geo_point {
	double lon, lat; /* degrees: GeoJSON's [x, y] order */
};

/* A ring is pts[first .. first + n) of some point array; the closing
 * point (equal to the first) may be there or not. */
struct geo_ring {
	int first, n;
};

struct geo_bbox {
	double min_lon, min_lat, max_lon, max_lat;
};

enum geo_where { GEO_OUTSIDE = 0, GEO_INSIDE = 1, GEO_EDGE = 2 };

/* Where p lies against one ring of pts (a non-finite p is outside). */
enum geo_where geo_ring_where(const struct geo_point *pts, const struct geo_ring *r,
			      struct geo_point p);
/* 1 when p is in the polygon rings[0] (outer) minus rings[1 .. n) (holes),
 * edges included; else 0. */
int geo_polygon_contains(const struct geo_point *pts, const struct geo_ring *rings, int n,
			 struct geo_point p);
/* Grow b (start from geo_bbox_empty) by the points of a ring. */
void geo_bbox_add(struct geo_bbox *b, const struct geo_point *pts, const struct geo_ring *r);
/* A box that contains nothing. */
struct geo_bbox geo_bbox_empty(void);
/* 1 when p is in b, edges included. */
int geo_bbox_contains(const struct geo_bbox *b, struct geo_point p);

#endif
