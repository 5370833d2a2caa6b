/* Unit tests of mbpoint: every type in every word and byte order, scale and
 * offset, validity ranges, strings, bit fields, inconsistent definitions,
 * and encode/decode round trips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocols/mbpoint.h"

static struct mbpoint pt(int table, int type, int word_swap, int byte_swap)
{
	struct mbpoint p;

	mbpoint_init(&p);
	p.table = table;
	p.type = type;
	p.word_swap = word_swap;
	p.byte_swap = byte_swap;
	return p;
}

struct num_case {
	int type, word_swap, byte_swap;
	uint16_t w[4];
	double expect;
};

/* The same numbers as the device may keep them: ABCD, CDAB, BADC, DCBA. */
static const struct num_case num_cases[] = {
    {MBPOINT_U16, 0, 0, {0x1234}, 4660},
    {MBPOINT_U16, 0, 1, {0x3412}, 4660},
    {MBPOINT_U16, 1, 0, {0x1234}, 4660}, /* one word: word swap is nothing */
    {MBPOINT_I16, 0, 0, {0xFFFE}, -2},
    {MBPOINT_I16, 0, 1, {0xFEFF}, -2},
    {MBPOINT_I16, 0, 0, {0x8000}, -32768},
    {MBPOINT_U32, 0, 0, {0x1234, 0x5678}, 305419896},
    {MBPOINT_U32, 1, 0, {0x5678, 0x1234}, 305419896},
    {MBPOINT_U32, 0, 1, {0x3412, 0x7856}, 305419896},
    {MBPOINT_U32, 1, 1, {0x7856, 0x3412}, 305419896},
    {MBPOINT_U32, 0, 0, {0xFFFF, 0xFFFF}, 4294967295.0},
    {MBPOINT_I32, 0, 0, {0xFFFF, 0xFFFE}, -2},
    {MBPOINT_I32, 1, 0, {0xFFFE, 0xFFFF}, -2},
    {MBPOINT_I32, 0, 1, {0xFFFF, 0xFEFF}, -2},
    {MBPOINT_I32, 1, 1, {0xFEFF, 0xFFFF}, -2},
    {MBPOINT_U64, 0, 0, {1, 2, 3, 4}, 281483566841860.0},
    {MBPOINT_U64, 1, 0, {4, 3, 2, 1}, 281483566841860.0},
    {MBPOINT_U64, 0, 1, {0x100, 0x200, 0x300, 0x400}, 281483566841860.0},
    {MBPOINT_U64, 1, 1, {0x400, 0x300, 0x200, 0x100}, 281483566841860.0},
    {MBPOINT_I64, 0, 0, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFF6}, -10},
    {MBPOINT_I64, 1, 1, {0xF6FF, 0xFFFF, 0xFFFF, 0xFFFF}, -10},
    {MBPOINT_F32, 0, 0, {0x3FC0, 0x0000}, 1.5},
    {MBPOINT_F32, 1, 0, {0x0000, 0x3FC0}, 1.5},
    {MBPOINT_F32, 0, 1, {0xC03F, 0x0000}, 1.5},
    {MBPOINT_F32, 1, 1, {0x0000, 0xC03F}, 1.5},
    {MBPOINT_F32, 0, 0, {0xC2F6, 0xE979}, -123.456001281738},
    {MBPOINT_F64, 0, 0, {0x3FF8, 0, 0, 0}, 1.5},
    {MBPOINT_F64, 1, 0, {0, 0, 0, 0x3FF8}, 1.5},
    {MBPOINT_F64, 0, 1, {0xF83F, 0, 0, 0}, 1.5},
    {MBPOINT_F64, 1, 1, {0, 0, 0, 0xF83F}, 1.5},
    {MBPOINT_F64, 0, 0, {0xC05E, 0xDD2F, 0x1A9F, 0xBE77}, -123.456},
};

static void test_types_and_orders(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		const struct num_case *c = &num_cases[i];
		struct mbpoint p = pt(MBPOINT_HOLDING, c->type, c->word_swap, c->byte_swap);
		struct mbpoint_value v;

		assert_int_equal(mbpoint_decode(&p, c->w, 4, &v), MBPOINT_OK);
		assert_false(v.is_text);
		if (fabs(v.value - c->expect) > 1e-9 * fabs(c->expect))
			fail_msg("case %zu (%s ws=%d bs=%d): got %.17g, want %.17g", i,
				 mbpoint_type_name(c->type), c->word_swap, c->byte_swap, v.value,
				 c->expect);
	}
}

static void test_order_names(void **state)
{
	static const struct {
		const char *name;
		int ws, bs;
	} names[] = {{"ABCD", 0, 0},   {"CDAB", 1, 0},	    {"BADC", 0, 1},
		     {"DCBA", 1, 1},   {"abcd", 0, 0},	    {"big", 0, 0},
		     {"little", 1, 1}, {"word_swap", 1, 0}, {"byte_swap", 0, 1}};
	int ws, bs;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(mbpoint_order_parse(names[i].name, &ws, &bs), MBPOINT_OK);
		assert_int_equal(ws, names[i].ws);
		assert_int_equal(bs, names[i].bs);
	}
	assert_int_equal(mbpoint_order_parse("ACBD", &ws, &bs), MBPOINT_EUNKNOWN);
	assert_int_equal(mbpoint_order_parse(NULL, &ws, &bs), MBPOINT_EUNKNOWN);
}

static void test_scale_offset(void **state)
{
	struct mbpoint p = pt(MBPOINT_INPUT, MBPOINT_U16, 0, 0);
	uint16_t w[2] = {1000, 0};
	struct mbpoint_value v;

	(void)state;
	p.scale = 0.1;
	p.offset = -40;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 60.0, 1e-12);
	p = pt(MBPOINT_INPUT, MBPOINT_I16, 0, 0);
	p.scale = 0.5;
	w[0] = 0xFF9C; /* -100 */
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, -50.0, 1e-12);
	/* China data stream: SCR temperature 0.03125 C, -273 */
	p = pt(MBPOINT_HOLDING, MBPOINT_U16, 0, 0);
	p.scale = 0.03125;
	p.offset = -273;
	w[0] = 18336;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 300.0, 1e-12);
	/* a negative scale turns the sign */
	p.scale = -2;
	p.offset = 0;
	w[0] = 21;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, -42.0, 1e-12);
}

static void test_validity(void **state)
{
	struct mbpoint p = pt(MBPOINT_HOLDING, MBPOINT_U16, 0, 0);
	uint16_t w[1] = {0xFFFF};
	struct mbpoint_value v;

	(void)state;
	p.scale = 0.125;
	p.has_max = 1;
	p.max = 8031.875;
	/* the standard's "not available" code lands above max: an error, with
	 * the value still there for --poll-once */
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_ERANGE);
	assert_float_equal(v.value, 8191.875, 1e-12);
	w[0] = 64255; /* exactly max */
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	p = pt(MBPOINT_HOLDING, MBPOINT_I16, 0, 0);
	p.has_min = 1;
	p.min = 0;
	w[0] = 0xFFFB; /* -5 */
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_ERANGE);
	w[0] = 0;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	/* min and max apply after scale and offset */
	p.offset = -10;
	p.has_min = 0;
	p.has_max = 1;
	p.max = -5;
	w[0] = 4;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	w[0] = 6;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_ERANGE);
}

static void test_float_not_a_number(void **state)
{
	struct mbpoint p = pt(MBPOINT_INPUT, MBPOINT_F32, 0, 0);
	uint16_t nan32[2] = {0x7FC0, 0}, inf32[2] = {0x7F80, 0};
	uint16_t nan64[4] = {0x7FF8, 0, 0, 0};
	struct mbpoint_value v;

	(void)state;
	assert_int_equal(mbpoint_decode(&p, nan32, 2, &v), MBPOINT_ENAN);
	assert_int_equal(mbpoint_decode(&p, inf32, 2, &v), MBPOINT_ENAN);
	p.type = MBPOINT_F64;
	assert_int_equal(mbpoint_decode(&p, nan64, 4, &v), MBPOINT_ENAN);
}

static void test_bool_and_bits(void **state)
{
	struct mbpoint p = pt(MBPOINT_COIL, MBPOINT_BOOL, 0, 0);
	uint16_t w[1] = {1};
	struct mbpoint_value v;

	(void)state;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 1, 0);
	w[0] = 0;
	p.table = MBPOINT_DISCRETE;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 0, 0);
	p = pt(MBPOINT_HOLDING, MBPOINT_BOOL, 0, 0);
	p.bit = 3;
	p.scale = 10; /* a flag stays 0/1 */
	w[0] = 0x0008;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 1, 0);
	p.bit = 2;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 0, 0);
	p.bit = 15;
	w[0] = 0x8000;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 1, 0);
	p.byte_swap = 1; /* bit 15 of the register as the device means it */
	w[0] = 0x0080;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 0, 0); /* bools read the raw word */
	p = pt(MBPOINT_INPUT, MBPOINT_BITS, 0, 0);
	p.bit = 4;
	p.count = 4;
	w[0] = 0x00B0;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 11, 0);
	p.bit = 12;
	w[0] = 0xF000;
	p.scale = 2;
	assert_int_equal(mbpoint_decode(&p, w, 1, &v), MBPOINT_OK);
	assert_float_equal(v.value, 30, 0);
}

static void test_strings(void **state)
{
	struct mbpoint p = pt(MBPOINT_HOLDING, MBPOINT_STRING, 0, 0);
	uint16_t w[4] = {0x4142, 0x4344, 0x2020, 0x0000}; /* "ABCD  " */
	uint16_t sw[3] = {0x4241, 0x4443, 0x0045};	  /* "ABCDE", bytes swapped */
	uint16_t bad[2] = {0x4101, 0x42FF};
	struct mbpoint_value v;

	(void)state;
	p.count = 4;
	assert_int_equal(mbpoint_decode(&p, w, 4, &v), MBPOINT_OK);
	assert_true(v.is_text);
	assert_string_equal(v.text, "ABCD");
	p.count = 3;
	p.byte_swap = 1;
	assert_int_equal(mbpoint_decode(&p, sw, 3, &v), MBPOINT_OK);
	assert_string_equal(v.text, "ABCDE");
	p.byte_swap = 0;
	p.count = 2;
	assert_int_equal(mbpoint_decode(&p, bad, 2, &v), MBPOINT_OK);
	assert_string_equal(v.text, "A?B?");
	p.count = 2;
	p.word_swap = 1;
	assert_int_equal(mbpoint_decode(&p, w, 2, &v), MBPOINT_OK);
	assert_string_equal(v.text, "CDAB");
}

static void test_width_and_short(void **state)
{
	static const struct {
		int type, count, width;
	} widths[] = {{MBPOINT_BOOL, 0, 1},   {MBPOINT_U16, 0, 1}, {MBPOINT_I16, 0, 1},
		      {MBPOINT_U32, 0, 2},    {MBPOINT_I32, 2, 2}, {MBPOINT_F32, 0, 2},
		      {MBPOINT_U64, 0, 4},    {MBPOINT_I64, 0, 4}, {MBPOINT_F64, 4, 4},
		      {MBPOINT_STRING, 9, 9}, {MBPOINT_BITS, 3, 1}};
	uint16_t w[4] = {0};
	struct mbpoint_value v;

	(void)state;
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		struct mbpoint p = pt(MBPOINT_HOLDING, widths[i].type, 0, 0);

		p.count = widths[i].count;
		assert_int_equal(mbpoint_width(&p), widths[i].width);
		if (widths[i].width > 1)
			assert_int_equal(mbpoint_decode(&p, w, (size_t)widths[i].width - 1, &v),
					 MBPOINT_ESHORT);
	}
}

static void test_inconsistent(void **state)
{
	struct mbpoint p;
	uint16_t w[4] = {0};
	struct mbpoint_value v;

	(void)state;
#define BAD(setup)                                                                                 \
	do {                                                                                       \
		p = pt(MBPOINT_HOLDING, MBPOINT_U16, 0, 0);                                        \
		setup;                                                                             \
		assert_int_equal(mbpoint_check(&p), MBPOINT_EINVAL);                               \
		assert_int_equal(mbpoint_width(&p), 0);                                            \
		assert_int_equal(mbpoint_decode(&p, w, 4, &v), MBPOINT_EINVAL);                    \
	} while (0)
	BAD(p.table = MBPOINT_COIL); /* a coil is a bool */
	BAD((p.table = MBPOINT_DISCRETE, p.type = MBPOINT_BOOL, p.bit = 1));
	BAD(p.type = MBPOINT_STRING); /* no count */
	BAD((p.type = MBPOINT_STRING, p.count = MBPOINT_MAX_STRING + 1));
	BAD(p.type = MBPOINT_BITS);			       /* no width */
	BAD((p.type = MBPOINT_BITS, p.bit = 14, p.count = 4)); /* past bit 15 */
	BAD(p.bit = 2);					       /* bit of a u16 */
	BAD((p.type = MBPOINT_U32, p.count = 3));
	BAD(p.scale = 0);
	BAD(p.scale = NAN);
	BAD((p.has_min = p.has_max = 1, p.min = 2, p.max = 1));
	BAD((p.type = MBPOINT_U32, p.address = 65535));
	BAD(p.address = -1);
	BAD(p.table = 7);
	BAD(p.type = 42);
#undef BAD
	p = pt(MBPOINT_HOLDING, MBPOINT_U32, 0, 0);
	p.address = 65534;
	assert_int_equal(mbpoint_check(&p), MBPOINT_OK);
	assert_int_equal(mbpoint_decode(&p, NULL, 4, &v), MBPOINT_EINVAL);
	assert_int_equal(mbpoint_decode(&p, w, 4, NULL), MBPOINT_EINVAL);
}

/* decode(encode(x)) == x for every type in every order. */
static void test_round_trip(void **state)
{
	static const double values[] = {0,  1,	2,	100,	 1234.5, 65535, 70000, 4294967295.0,
					-1, -2, -32768, -100000, 0.25,	 -0.75};
	static const int types[] = {MBPOINT_U16, MBPOINT_I16, MBPOINT_U32, MBPOINT_I32,
				    MBPOINT_U64, MBPOINT_I64, MBPOINT_F32, MBPOINT_F64};

	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		for (int o = 0; o < 4; o++)
			for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
				struct mbpoint p = pt(MBPOINT_INPUT, types[t], o & 1, o >> 1);
				uint16_t w[4] = {0};
				struct mbpoint_value v;
				double x = values[i], lo = 0, hi = 0;

				switch (types[t]) {
				case MBPOINT_U16:
					lo = 0;
					hi = 65535;
					x = round(x);
					break;
				case MBPOINT_I16:
					lo = -32768;
					hi = 32767;
					x = round(x);
					break;
				case MBPOINT_U32:
					lo = 0;
					hi = 4294967295.0;
					x = round(x);
					break;
				case MBPOINT_I32:
					lo = -2147483648.0;
					hi = 2147483647.0;
					x = round(x);
					break;
				case MBPOINT_U64:
					lo = 0;
					hi = 1e19;
					x = round(x);
					break;
				case MBPOINT_I64:
					lo = -1e18;
					hi = 1e18;
					x = round(x);
					break;
				case MBPOINT_F32:
					lo = -1e30;
					hi = 1e30;
					x = (float)x;
					break;
				default:
					lo = -1e30;
					hi = 1e30;
				}
				x = x < lo ? lo : x > hi ? hi : x;
				assert_int_equal(mbpoint_encode(&p, values[i], NULL, w, 4),
						 MBPOINT_OK);
				assert_int_equal(mbpoint_decode(&p, w, 4, &v), MBPOINT_OK);
				if (fabs(v.value - x) > 1e-9)
					fail_msg("%s order %d: %g came back as %.17g (want %.17g)",
						 mbpoint_type_name(types[t]), o, values[i], v.value,
						 x);
			}
}

static void test_encode_scaled_and_flags(void **state)
{
	struct mbpoint p = pt(MBPOINT_HOLDING, MBPOINT_U16, 0, 0);
	uint16_t w[9] = {0};
	struct mbpoint_value v;

	(void)state;
	p.scale = 0.05;
	p.offset = -200;
	assert_int_equal(mbpoint_encode(&p, 800, NULL, w, 1), MBPOINT_OK);
	assert_int_equal(w[0], 20000);
	p = pt(MBPOINT_HOLDING, MBPOINT_BOOL, 0, 0);
	p.bit = 3;
	w[0] = 0x0101;
	assert_int_equal(mbpoint_encode(&p, 1, NULL, w, 1), MBPOINT_OK);
	assert_int_equal(w[0], 0x0109); /* the other bits are kept */
	p = pt(MBPOINT_HOLDING, MBPOINT_BITS, 0, 0);
	p.bit = 4;
	p.count = 4;
	assert_int_equal(mbpoint_encode(&p, 99, NULL, w, 1), MBPOINT_OK); /* clamped to the field */
	assert_int_equal(w[0], 0x01F9);
	p = pt(MBPOINT_HOLDING, MBPOINT_STRING, 0, 0);
	p.count = 9;
	assert_int_equal(mbpoint_encode(&p, 0, "LZZ1CCND5KW123456", w, 9), MBPOINT_OK);
	assert_int_equal(mbpoint_decode(&p, w, 9, &v), MBPOINT_OK);
	assert_string_equal(v.text, "LZZ1CCND5KW123456");
	assert_int_equal(mbpoint_encode(&p, 0, "x", w, 8), MBPOINT_ESHORT);
}

static void test_names(void **state)
{
	int x;

	(void)state;
	for (int t = MBPOINT_COIL; t <= MBPOINT_HOLDING; t++) {
		assert_int_equal(mbpoint_table_parse(mbpoint_table_name(t), &x), MBPOINT_OK);
		assert_int_equal(x, t);
	}
	for (int t = MBPOINT_BOOL; t <= MBPOINT_BITS; t++) {
		assert_int_equal(mbpoint_type_parse(mbpoint_type_name(t), &x), MBPOINT_OK);
		assert_int_equal(x, t);
	}
	assert_int_equal(mbpoint_table_parse("register", &x), MBPOINT_EUNKNOWN);
	assert_int_equal(mbpoint_type_parse("u8", &x), MBPOINT_EUNKNOWN);
	assert_string_equal(mbpoint_table_name(9), "?");
	assert_string_equal(mbpoint_type_name(-1), "?");
	for (int e = 0; e >= -6; e--)
		assert_non_null(mbpoint_strerror(e));
	assert_string_equal(mbpoint_strerror(MBPOINT_ERANGE), "outside the validity range");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_types_and_orders),
	    cmocka_unit_test(test_order_names),
	    cmocka_unit_test(test_scale_offset),
	    cmocka_unit_test(test_validity),
	    cmocka_unit_test(test_float_not_a_number),
	    cmocka_unit_test(test_bool_and_bits),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_width_and_short),
	    cmocka_unit_test(test_inconsistent),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_encode_scaled_and_flags),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
