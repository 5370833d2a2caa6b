#include "protocols/mbpoint.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#define MBPOINT_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const mbpoint_tables[] = {
    [MBPOINT_COIL] = "coil",
    [MBPOINT_DISCRETE] = "discrete",
    [MBPOINT_INPUT] = "input",
    [MBPOINT_HOLDING] = "holding",
};

/* Registers of each numeric type; string and bits depend on count. */
static const struct {
	const char *name;
	int words;
} mbpoint_types[] = {
    [MBPOINT_BOOL] = {"bool", 1},     [MBPOINT_U16] = {"u16", 1},   [MBPOINT_I16] = {"i16", 1},
    [MBPOINT_U32] = {"u32", 2},	      [MBPOINT_I32] = {"i32", 2},   [MBPOINT_U64] = {"u64", 4},
    [MBPOINT_I64] = {"i64", 4},	      [MBPOINT_F32] = {"f32", 2},   [MBPOINT_F64] = {"f64", 4},
    [MBPOINT_STRING] = {"string", 0}, [MBPOINT_BITS] = {"bits", 1},
};

void mbpoint_init(struct mbpoint *p)
{
	memset(p, 0, sizeof(*p));
	p->table = MBPOINT_HOLDING;
	p->type = MBPOINT_U16;
	p->scale = 1.0;
}

static int mbpoint_is_bit_table(int table)
{
	return table == MBPOINT_COIL || table == MBPOINT_DISCRETE;
}

static int mbpoint_check_shape(const struct mbpoint *p)
{
	if (p->table < MBPOINT_COIL || p->table > MBPOINT_HOLDING || p->type < MBPOINT_BOOL ||
	    p->type > MBPOINT_BITS)
		return MBPOINT_EINVAL;
	if (mbpoint_is_bit_table(p->table))
		return p->type == MBPOINT_BOOL && p->bit == 0 && p->count <= 1 ? MBPOINT_OK
									       : MBPOINT_EINVAL;
	switch (p->type) {
	case MBPOINT_STRING:
		return p->count >= 1 && p->count <= MBPOINT_MAX_STRING ? MBPOINT_OK
								       : MBPOINT_EINVAL;
	case MBPOINT_BITS:
		return p->count >= 1 && p->bit >= 0 && p->bit + p->count <= 16 ? MBPOINT_OK
									       : MBPOINT_EINVAL;
	case MBPOINT_BOOL:
		return p->bit >= 0 && p->bit <= 15 && p->count <= 1 ? MBPOINT_OK : MBPOINT_EINVAL;
	default:
		/* count is optional for fixed-width types, but must agree */
		if (p->bit != 0 || (p->count != 0 && p->count != mbpoint_types[p->type].words))
			return MBPOINT_EINVAL;
		return MBPOINT_OK;
	}
}

int mbpoint_check(const struct mbpoint *p)
{
	int width;

	if (!p || mbpoint_check_shape(p) != MBPOINT_OK)
		return MBPOINT_EINVAL;
	width = p->type == MBPOINT_STRING ? p->count : mbpoint_types[p->type].words;
	if (p->address < 0 || p->address + width - 1 > 65535)
		return MBPOINT_EINVAL;
	if (!isfinite(p->scale) || p->scale == 0 || !isfinite(p->offset))
		return MBPOINT_EINVAL;
	if ((p->has_min && !isfinite(p->min)) || (p->has_max && !isfinite(p->max)) ||
	    (p->has_min && p->has_max && p->min > p->max))
		return MBPOINT_EINVAL;
	return MBPOINT_OK;
}

int mbpoint_width(const struct mbpoint *p)
{
	if (mbpoint_check(p) != MBPOINT_OK)
		return 0;
	return p->type == MBPOINT_STRING ? p->count : mbpoint_types[p->type].words;
}

/* Word i of the point in protocol order ("ABCD"), whatever the device's. */
static uint16_t mbpoint_word(const struct mbpoint *p, const uint16_t *w, int n, int i)
{
	uint16_t v = w[p->word_swap ? n - 1 - i : i];

	return p->byte_swap ? (uint16_t)(v << 8 | v >> 8) : v;
}

/* The n words as one big-endian unsigned integer (n <= 4). */
static uint64_t mbpoint_join(const struct mbpoint *p, const uint16_t *w, int n)
{
	uint64_t raw = 0;

	for (int i = 0; i < n; i++)
		raw = raw << 16 | mbpoint_word(p, w, n, i);
	return raw;
}

static void mbpoint_text(const struct mbpoint *p, const uint16_t *w, struct mbpoint_value *out)
{
	int len = 0;

	for (int i = 0; i < p->count; i++) {
		uint16_t v = mbpoint_word(p, w, p->count, i);

		out->text[len++] = (char)(v >> 8);
		out->text[len++] = (char)(v & 0xFF);
	}
	out->text[len] = '\0';
	len = (int)strlen(out->text); /* a NUL ends the text */
	while (len > 0 && out->text[len - 1] == ' ')
		out->text[--len] = '\0';
	/* Records are JSON and logs are text: no control bytes get through. */
	for (int i = 0; i < len; i++)
		if ((unsigned char)out->text[i] < 0x20 || (unsigned char)out->text[i] > 0x7E)
			out->text[i] = '?';
}

/* The raw number before scale and offset. */
static int mbpoint_raw(const struct mbpoint *p, const uint16_t *w, double *raw)
{
	uint64_t u;
	uint32_t u32;
	float f;
	double d;

	switch (p->type) {
	case MBPOINT_U16:
	case MBPOINT_U32:
	case MBPOINT_U64:
		*raw = (double)mbpoint_join(p, w, mbpoint_types[p->type].words);
		return MBPOINT_OK;
	case MBPOINT_I16:
		*raw = (int16_t)mbpoint_join(p, w, 1);
		return MBPOINT_OK;
	case MBPOINT_I32:
		*raw = (int32_t)(uint32_t)mbpoint_join(p, w, 2);
		return MBPOINT_OK;
	case MBPOINT_I64:
		*raw = (double)(int64_t)mbpoint_join(p, w, 4);
		return MBPOINT_OK;
	case MBPOINT_F32:
		u32 = (uint32_t)mbpoint_join(p, w, 2);
		memcpy(&f, &u32, sizeof(f));
		*raw = f;
		break;
	case MBPOINT_F64:
		u = mbpoint_join(p, w, 4);
		memcpy(&d, &u, sizeof(d));
		*raw = d;
		break;
	case MBPOINT_BITS:
		*raw = (w[0] >> p->bit) & ((1u << p->count) - 1);
		return MBPOINT_OK;
	default:
		return MBPOINT_EINVAL;
	}
	return isfinite(*raw) ? MBPOINT_OK : MBPOINT_ENAN;
}

int mbpoint_decode(const struct mbpoint *p, const uint16_t *words, size_t n,
		   struct mbpoint_value *out)
{
	int width = mbpoint_width(p), rc;
	double raw;

	if (!out || !words || width == 0)
		return MBPOINT_EINVAL;
	if (n < (size_t)width)
		return MBPOINT_ESHORT;
	memset(out, 0, sizeof(*out));
	if (p->type == MBPOINT_STRING) {
		out->is_text = 1;
		mbpoint_text(p, words, out);
		return MBPOINT_OK;
	}
	if (p->type == MBPOINT_BOOL) {
		/* A flag is 0 or 1: scale and offset do not apply. */
		out->value =
		    mbpoint_is_bit_table(p->table) ? words[0] != 0 : (words[0] >> p->bit) & 1;
		return MBPOINT_OK;
	}
	rc = mbpoint_raw(p, words, &raw);
	if (rc != MBPOINT_OK)
		return rc;
	out->value = raw * p->scale + p->offset;
	if (!isfinite(out->value)) /* a huge float times a scale */
		return MBPOINT_ENAN;
	if ((p->has_min && out->value < p->min) || (p->has_max && out->value > p->max))
		return MBPOINT_ERANGE;
	return MBPOINT_OK;
}

/* Word i in protocol order goes where the device keeps it. */
static void mbpoint_put(const struct mbpoint *p, uint16_t *w, int n, int i, uint16_t v)
{
	w[p->word_swap ? n - 1 - i : i] = p->byte_swap ? (uint16_t)(v << 8 | v >> 8) : v;
}

static void mbpoint_split(const struct mbpoint *p, uint64_t raw, uint16_t *w, int n)
{
	for (int i = n - 1; i >= 0; i--, raw >>= 16)
		mbpoint_put(p, w, n, i, (uint16_t)(raw & 0xFFFF));
}

static int64_t mbpoint_clamp(double v, double lo, double hi)
{
	if (!(v >= lo)) /* NaN too */
		return (int64_t)lo;
	if (v >= hi)
		return (int64_t)hi;
	return (int64_t)llround(v);
}

static void mbpoint_encode_text(const struct mbpoint *p, const char *text, uint16_t *w)
{
	size_t len = text ? strlen(text) : 0;

	for (int i = 0; i < p->count; i++) {
		size_t a = 2 * (size_t)i, b = a + 1;
		uint16_t v = (uint16_t)((a < len ? (uint8_t)text[a] : 0) << 8 |
					(b < len ? (uint8_t)text[b] : 0));

		mbpoint_put(p, w, p->count, i, v);
	}
}

int mbpoint_encode(const struct mbpoint *p, double value, const char *text, uint16_t *words,
		   size_t n)
{
	int width = mbpoint_width(p), w = width;
	double raw = (value - p->offset) / p->scale;
	uint16_t mask;
	uint32_t u32;
	uint64_t u64;
	float f;

	if (!words || width == 0)
		return MBPOINT_EINVAL;
	if (n < (size_t)width)
		return MBPOINT_ESHORT;
	switch (p->type) {
	case MBPOINT_STRING:
		mbpoint_encode_text(p, text, words);
		break;
	case MBPOINT_BOOL:
		if (p->table == MBPOINT_COIL || p->table == MBPOINT_DISCRETE)
			words[0] = value != 0;
		else
			words[0] = (uint16_t)((words[0] & ~(1u << p->bit)) | (unsigned)(value != 0)
										 << p->bit);
		break;
	case MBPOINT_BITS:
		mask = (uint16_t)(((1u << p->count) - 1) << p->bit);
		words[0] =
		    (uint16_t)((words[0] & ~mask) |
			       ((uint64_t)mbpoint_clamp(raw, 0, (1u << p->count) - 1) << p->bit));
		break;
	case MBPOINT_U16:
	case MBPOINT_U32:
		mbpoint_split(p, (uint64_t)mbpoint_clamp(raw, 0, w == 1 ? 65535.0 : 4294967295.0),
			      words, w);
		break;
	case MBPOINT_I16:
	case MBPOINT_I32:
		mbpoint_split(p,
			      (uint64_t)mbpoint_clamp(raw, w == 1 ? -32768.0 : -2147483648.0,
						      w == 1 ? 32767.0 : 2147483647.0),
			      words, w);
		break;
	case MBPOINT_U64:
		if (!(raw >= 0))
			u64 = 0;
		else if (raw >= 18446744073709551616.0) /* 2^64 */
			u64 = UINT64_MAX;
		else
			u64 = (uint64_t)(raw + 0.5);
		mbpoint_split(p, u64, words, w);
		break;
	case MBPOINT_I64:
		mbpoint_split(
		    p, (uint64_t)mbpoint_clamp(raw, -9223372036854775808.0, 9223372036854774784.0),
		    words, w);
		break;
	case MBPOINT_F32:
		f = (float)raw;
		memcpy(&u32, &f, sizeof(u32));
		mbpoint_split(p, u32, words, w);
		break;
	case MBPOINT_F64:
		memcpy(&u64, &raw, sizeof(u64));
		mbpoint_split(p, u64, words, w);
		break;
	default:
		return MBPOINT_EINVAL;
	}
	return MBPOINT_OK;
}

int mbpoint_table_parse(const char *s, int *table)
{
	for (size_t i = 0; s && i < MBPOINT_NELEM(mbpoint_tables); i++) {
		if (strcasecmp(s, mbpoint_tables[i]) == 0) {
			*table = (int)i;
			return MBPOINT_OK;
		}
	}
	return MBPOINT_EUNKNOWN;
}

const char *mbpoint_table_name(int table)
{
	if (table < 0 || (size_t)table >= MBPOINT_NELEM(mbpoint_tables))
		return "?";
	return mbpoint_tables[table];
}

int mbpoint_type_parse(const char *s, int *type)
{
	for (size_t i = 0; s && i < MBPOINT_NELEM(mbpoint_types); i++) {
		if (strcasecmp(s, mbpoint_types[i].name) == 0) {
			*type = (int)i;
			return MBPOINT_OK;
		}
	}
	return MBPOINT_EUNKNOWN;
}

const char *mbpoint_type_name(int type)
{
	if (type < 0 || (size_t)type >= MBPOINT_NELEM(mbpoint_types))
		return "?";
	return mbpoint_types[type].name;
}

int mbpoint_order_parse(const char *s, int *word_swap, int *byte_swap)
{
	static const struct {
		const char *name;
		int word_swap, byte_swap;
	} orders[] = {
	    {"ABCD", 0, 0}, {"CDAB", 1, 0},   {"BADC", 0, 1},	   {"DCBA", 1, 1},
	    {"big", 0, 0},  {"little", 1, 1}, {"word_swap", 1, 0}, {"byte_swap", 0, 1},
	};

	for (size_t i = 0; s && i < MBPOINT_NELEM(orders); i++) {
		if (strcasecmp(s, orders[i].name) == 0) {
			*word_swap = orders[i].word_swap;
			*byte_swap = orders[i].byte_swap;
			return MBPOINT_OK;
		}
	}
	return MBPOINT_EUNKNOWN;
}

const char *mbpoint_strerror(int err)
{
	switch (err) {
	case MBPOINT_OK:
		return "ok";
	case MBPOINT_ESHORT:
		return "fewer registers than the point needs";
	case MBPOINT_EINVAL:
		return "inconsistent point definition";
	case MBPOINT_ERANGE:
		return "outside the validity range";
	case MBPOINT_ENAN:
		return "not a number";
	case MBPOINT_EUNKNOWN:
		return "unknown name";
	default:
		return "unknown error";
	}
}
