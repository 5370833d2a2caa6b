/* Unit tests of geo: point in polygon inside, outside, on edges and
 * vertices, with holes, concave rings, and near the pole (high latitude,
 * no antimeridian). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "protocols/geo.h"

/* A 10 x 10 square at (100..110, 30..40) with a 2 x 2 hole at its centre,
 * closed as GeoJSON writes rings. */
static const struct geo_point pts[] = {
    {100, 30}, {110, 30}, {110, 40}, {100, 40}, {100, 30},
    {104, 34}, {106, 34}, {106, 36}, {104, 36}, {104, 34},
};
static const struct geo_ring rings[] = {{0, 5}, {5, 5}};

static int in(double lon, double lat)
{
	return geo_polygon_contains(pts, rings, 2, (struct geo_point){lon, lat});
}

static void test_square_with_hole(void **state)
{
	(void)state;
	assert_true(in(101, 31));
	assert_true(in(109.999, 39.999));
	assert_false(in(99.999, 35));
	assert_false(in(110.001, 35));
	assert_false(in(105, 35));    /* in the hole */
	assert_true(in(103.999, 35)); /* just outside the hole */
	assert_false(in(120, 35));
}

static void test_edges_and_vertices(void **state)
{
	(void)state;
	assert_true(in(100, 35)); /* on the outer edge */
	assert_true(in(105, 30)); /* bottom edge */
	assert_true(in(100, 30)); /* a vertex */
	assert_true(in(110, 40));
	assert_true(in(104, 35)); /* the hole's edge belongs to the zone */
	assert_true(in(106, 36)); /* the hole's vertex */
	assert_int_equal(geo_ring_where(pts, &rings[0], (struct geo_point){100, 35}), GEO_EDGE);
	assert_int_equal(geo_ring_where(pts, &rings[0], (struct geo_point){105, 35}), GEO_INSIDE);
	/* a ray through a vertex counts once: (95, 30) is level with two */
	assert_false(in(95, 30));
	assert_false(in(95, 40));
}

/* A concave "C" ring, not closed (the closing point is optional). */
static void test_concave_open_ring(void **state)
{
	static const struct geo_point c[] = {{0, 0}, {3, 0}, {3, 1}, {1, 1},
					     {1, 2}, {3, 2}, {3, 3}, {0, 3}};
	static const struct geo_ring r = {0, 8};

	(void)state;
	assert_true(geo_polygon_contains(c, &r, 1, (struct geo_point){0.5, 1.5}));
	assert_false(geo_polygon_contains(c, &r, 1, (struct geo_point){2, 1.5})); /* the mouth */
	assert_true(geo_polygon_contains(c, &r, 1, (struct geo_point){2, 0.5}));
	assert_true(geo_polygon_contains(c, &r, 1, (struct geo_point){2, 1})); /* edge */
}

/* Svalbard-like latitudes: a thin sliver 0.001 degrees high over 40
 * degrees of longitude; planar in degrees, no distortion tricks. */
static void test_high_latitude(void **state)
{
	static const struct geo_point p[] = {
	    {-20, 78.2}, {20, 78.2}, {20, 78.201}, {-20, 78.201}, {-20, 78.2}};
	static const struct geo_point polar[] = {
	    {0, 89.9}, {90, 89.9}, {180, 89.9}, {180, 89.99}, {0, 89.99}};
	static const struct geo_ring r = {0, 5};

	(void)state;
	assert_true(geo_polygon_contains(p, &r, 1, (struct geo_point){19.99, 78.2005}));
	assert_false(geo_polygon_contains(p, &r, 1, (struct geo_point){0, 78.2011}));
	assert_false(geo_polygon_contains(p, &r, 1, (struct geo_point){20.0001, 78.2005}));
	assert_true(geo_polygon_contains(polar, &r, 1, (struct geo_point){135, 89.95}));
	assert_false(geo_polygon_contains(polar, &r, 1, (struct geo_point){135, 89.995}));
}

static void test_degenerate_and_bbox(void **state)
{
	struct geo_bbox b = geo_bbox_empty();

	(void)state;
	assert_false(geo_polygon_contains(pts, rings, 0, (struct geo_point){105, 32}));
	assert_int_equal(geo_ring_where(pts, &(struct geo_ring){0, 2}, (struct geo_point){100, 30}),
			 GEO_OUTSIDE);
	assert_false(geo_bbox_contains(&b, (struct geo_point){0, 0}));
	geo_bbox_add(&b, pts, &rings[0]);
	assert_true(geo_bbox_contains(&b, (struct geo_point){100, 40}));
	assert_false(geo_bbox_contains(&b, (struct geo_point){100, 40.0001}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_square_with_hole),	cmocka_unit_test(test_edges_and_vertices),
	    cmocka_unit_test(test_concave_open_ring),	cmocka_unit_test(test_high_latitude),
	    cmocka_unit_test(test_degenerate_and_bbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
