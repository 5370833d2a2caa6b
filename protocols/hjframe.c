#include "protocols/hjframe.h"

#include <math.h>
#include <string.h>

/*
 * Field table.  The resolution is a fraction num / den so that a value is
 * one integer product and one division (rounds once).  Offsets in the two
 * data stream layouts; -1 where the variant has no such field.
 */
struct hj_field_row {
	struct hj_field_def def;
	int32_t num, den, offset;
	int8_t road_off, nrmm_off;
};

static const struct hj_field_row hj_fields[HJ_F_COUNT] = {
    [HJ_F_SPEED_KMH] = {{"vehicle_speed", "km/h", 2, 1.0 / 256, 0}, 1, 256, 0, 0, 0},
    [HJ_F_BARO_KPA] = {{"baro", "kPa", 1, 0.5, 0}, 1, 2, 0, 2, 2},
    [HJ_F_TORQUE_PCT] = {{"engine_torque", "%", 1, 1, -125}, 1, 1, -125, 3, 3},
    [HJ_F_FRICTION_PCT] = {{"friction_torque", "%", 1, 1, -125}, 1, 1, -125, 4, 4},
    [HJ_F_ENGINE_RPM] = {{"engine_speed", "rpm", 2, 0.125, 0}, 1, 8, 0, 5, 5},
    [HJ_F_FUEL_LPH] = {{"fuel_rate", "L/h", 2, 0.05, 0}, 1, 20, 0, 7, 7},
    [HJ_F_NOX_UP_PPM] = {{"nox_up", "ppm", 2, 0.05, -200}, 1, 20, -200, 9, 9},
    [HJ_F_NOX_DOWN_PPM] = {{"nox_down", "ppm", 2, 0.05, -200}, 1, 20, -200, 11, 11},
    [HJ_F_DEF_PCT] = {{"def_level", "%", 1, 0.4, 0}, 2, 5, 0, 13, 13},
    [HJ_F_INTAKE_AIR_KGPH] = {{"intake_air", "kg/h", 2, 0.05, 0}, 1, 20, 0, 14, 14},
    [HJ_F_SCR_IN_C] = {{"scr_in", "degC", 2, 0.03125, -273}, 1, 32, -273, 16, 16},
    [HJ_F_SCR_OUT_C] = {{"scr_out", "degC", 2, 0.03125, -273}, 1, 32, -273, 18, 18},
    [HJ_F_DPF_DP_KPA] = {{"dpf_dp", "kPa", 2, 0.1, 0}, 1, 10, 0, 20, 20},
    [HJ_F_COOLANT_C] = {{"coolant", "degC", 1, 1, -40}, 1, 1, -40, 22, 22},
    [HJ_F_FUEL_LEVEL_PCT] = {{"fuel_level", "%", 1, 0.4, 0}, 2, 5, 0, 23, 23},
    [HJ_F_ODOMETER_KM] = {{"odometer", "km", 4, 0.1, 0}, 1, 10, 0, 33, -1},
    [HJ_F_EGR_PCT] = {{"egr_actual", "%", 2, 0.0025, 0}, 1, 400, 0, -1, 24},
    [HJ_F_EGR_CMD_PCT] = {{"egr_commanded", "%", 2, 0.0025, 0}, 1, 400, 0, -1, 26},
};

#define HJ_ROAD_POS_OFF 24

int hj_variant_road(enum hj_variant v)
{
	return v == HJ_ROAD || v == HJ_GB17691;
}

const char *hj_variant_name(enum hj_variant v)
{
	return v == HJ_GB17691 ? "gb17691" : v == HJ_ROAD ? "road" : "nrmm";
}

/* ---- fields ------------------------------------------------------------ */

const struct hj_field_def *hj_field(enum hj_field f)
{
	if ((unsigned)f >= HJ_F_COUNT)
		return NULL;
	return &hj_fields[f].def;
}

int hj_field_in(enum hj_variant v, enum hj_field f)
{
	if ((unsigned)f >= HJ_F_COUNT)
		return 0;
	return (hj_variant_road(v) ? hj_fields[f].road_off : hj_fields[f].nrmm_off) >= 0;
}

uint32_t hj_field_invalid(enum hj_field f)
{
	unsigned size = (unsigned)f < HJ_F_COUNT ? hj_fields[f].def.size : 4;

	return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

/* The largest valid raw value: J1939's valid range (0xFA, 0xFAFF, ...);
 * what lies above means error or not available, never a measurement. */
static uint32_t hj_field_max(enum hj_field f)
{
	switch (hj_fields[f].def.size) {
	case 1:
		return 0xFAu;
	case 2:
		return 0xFAFFu;
	default:
		return 0xFAFFFFFFu;
	}
}

void hj_stream_init(struct hj_stream *s)
{
	for (int f = 0; f < HJ_F_COUNT; f++)
		s->raw[f] = hj_field_invalid((enum hj_field)f);
	hj_pos_unknown(&s->pos);
}

int hj_stream_set(struct hj_stream *s, enum hj_field f, double value)
{
	const struct hj_field_row *r;
	double raw;

	if (!s || (unsigned)f >= HJ_F_COUNT)
		return -1;
	r = &hj_fields[f];
	raw = (value - r->offset) * r->den / r->num;
	if (!isfinite(raw) || raw < -0.5 || raw >= (double)hj_field_max(f) + 0.5) {
		s->raw[f] = hj_field_invalid(f);
		return -1;
	}
	s->raw[f] = (uint32_t)llround(raw); /* long is 32 bits on armhf */
	return 0;
}

int hj_stream_get(const struct hj_stream *s, enum hj_field f, double *value)
{
	const struct hj_field_row *r;

	if (!s || (unsigned)f >= HJ_F_COUNT || s->raw[f] > hj_field_max(f))
		return -1;
	r = &hj_fields[f];
	*value = (double)s->raw[f] * r->num / r->den + r->offset;
	return 0;
}

/* ---- position ------------------------------------------------------------ */

void hj_diag_text(uint8_t *field, size_t n, const char *text)
{
	size_t len = text ? strnlen(text, n) : 0;

	memset(field, text ? 0x00 : 0xFF, n);
	if (len)
		memcpy(field, text, len);
}

void hj_diag_iupr_set(struct hj_diag *d, int i, uint16_t v)
{
	if (i < 0 || i >= HJ_IUPR_COUNTERS)
		return;
	d->iupr[2 * i] = (uint8_t)(v >> 8);
	d->iupr[2 * i + 1] = (uint8_t)v;
}

void hj_pos_unknown(struct hj_pos *p)
{
	p->status = HJ_POS_INVALID;
	p->lon = p->lat = 0xFFFFFFFFu;
}

void hj_pos_set(struct hj_pos *p, int valid, double lat, double lon)
{
	if (!isfinite(lat) || !isfinite(lon) || fabs(lat) > 90 || fabs(lon) > 180) {
		hj_pos_unknown(p);
		return;
	}
	p->status = (valid ? 0 : HJ_POS_INVALID) | (lat < 0 ? HJ_POS_SOUTH : 0) |
		    (lon < 0 ? HJ_POS_WEST : 0);
	p->lat = (uint32_t)lround(fabs(lat) * 1e6);
	p->lon = (uint32_t)lround(fabs(lon) * 1e6);
}

int hj_pos_get(const struct hj_pos *p, double *lat, double *lon)
{
	if (p->lat == 0xFFFFFFFFu || p->lon == 0xFFFFFFFFu)
		return -1;
	*lat = p->lat / 1e6 * (p->status & HJ_POS_SOUTH ? -1 : 1);
	*lon = p->lon / 1e6 * (p->status & HJ_POS_WEST ? -1 : 1);
	return 0;
}

/* ---- time -------------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t hj_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void hj_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int hj_time_from_unix(int64_t unix_s, int offset_s, struct hj_time *t)
{
	int64_t s = unix_s + offset_s, days, y;
	int64_t sod;
	unsigned m, d;

	if (!t)
		return HJ_EINVAL;
	days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
	sod = s - days * 86400;
	hj_civil_from_days(days, &y, &m, &d);
	if (y < 2000 || y > 2255)
		return HJ_EINVAL;
	t->year = (uint8_t)(y - 2000);
	t->month = (uint8_t)m;
	t->day = (uint8_t)d;
	t->hour = (uint8_t)(sod / 3600);
	t->minute = (uint8_t)(sod / 60 % 60);
	t->second = (uint8_t)(sod % 60);
	return HJ_OK;
}

int hj_time_to_unix(const struct hj_time *t, int offset_s, int64_t *unix_s)
{
	static const uint8_t mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = 2000 + t->year;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > mdays[t->month - 1] ||
	    (t->month == 2 && t->day == 29 && !leap) || t->hour > 23 || t->minute > 59 ||
	    t->second > 59)
		return HJ_EINVAL;
	*unix_s = hj_days_from_civil(y, t->month, t->day) * 86400 + t->hour * 3600 +
		  t->minute * 60 + t->second - offset_s;
	return HJ_OK;
}

/* ---- writer ---------------------------------------------------------------- */

/* A bounded output cursor: writes past the end only set the overflow flag. */
struct hj_out {
	uint8_t *p;
	size_t size, len;
	int over;
};

static void out_bytes(struct hj_out *o, const void *src, size_t n)
{
	if (o->over || n > o->size - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}

static void out_u8(struct hj_out *o, uint32_t v)
{
	uint8_t b = (uint8_t)v;

	out_bytes(o, &b, 1);
}

static void out_be(struct hj_out *o, uint32_t v, unsigned size)
{
	uint8_t b[4];

	for (unsigned i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * (size - 1 - i)));
	out_bytes(o, b, size);
}

/* A fixed-width text field: the string's bytes, zero-padded. */
static void out_text(struct hj_out *o, const char *s, size_t width)
{
	uint8_t buf[32] = {0};
	size_t n = strnlen(s, width);

	memcpy(buf, s, n);
	out_bytes(o, buf, width);
}

static void out_time(struct hj_out *o, const struct hj_time *t)
{
	uint8_t b[HJ_TIME_LEN] = {t->year, t->month, t->day, t->hour, t->minute, t->second};

	out_bytes(o, b, sizeof(b));
}

static void out_pos(struct hj_out *o, const struct hj_pos *p)
{
	out_u8(o, p->status);
	out_be(o, p->lon, 4);
	out_be(o, p->lat, 4);
}

static void out_stream(struct hj_out *o, enum hj_variant v, const struct hj_stream *s)
{
	for (int f = 0; f <= HJ_F_FUEL_LEVEL_PCT; f++)
		out_be(o, s->raw[f], hj_fields[f].def.size);
	if (hj_variant_road(v)) {
		out_pos(o, &s->pos);
		out_be(o, s->raw[HJ_F_ODOMETER_KM], 4);
	} else {
		out_be(o, s->raw[HJ_F_EGR_PCT], 2);
		out_be(o, s->raw[HJ_F_EGR_CMD_PCT], 2);
	}
}

static void out_diag(struct hj_out *o, enum hj_variant v, const struct hj_diag *d)
{
	int n = d->n_dtcs == HJ_INVALID_FE ? 0 : d->n_dtcs;

	out_u8(o, d->protocol);
	out_u8(o, d->mil);
	if (hj_variant_road(v)) {
		out_be(o, d->support, 2);
		out_be(o, d->readiness, 2);
		out_bytes(o, d->vin, sizeof(d->vin));
		out_bytes(o, d->cal_id, sizeof(d->cal_id));
		out_bytes(o, d->cvn, sizeof(d->cvn));
		out_bytes(o, d->iupr, sizeof(d->iupr));
	}
	out_u8(o, d->n_dtcs);
	if (n > HJ_MAX_DTCS) {
		o->over = 1;
		return;
	}
	for (int i = 0; i < n; i++)
		out_be(o, d->dtc[i], 4);
}

static void hj_put_sig(struct hj_out *o, const uint8_t *r, const uint8_t *s);

static int hj_encode_report(const struct hj_frame *f, struct hj_out *o)
{
	int q1 = f->variant == HJ_GB17691 && !f->unit_sig;

	if (f->n_info < 0 || f->n_info > HJ_MAX_INFO || (f->variant == HJ_NRMM && f->n_info != 1))
		return HJ_EINVAL;
	out_time(o, &f->time);
	if (!q1)
		out_be(o, f->serial, 2);
	if (f->variant == HJ_NRMM)
		out_pos(o, &f->pos);
	for (int i = 0; i < f->n_info; i++) {
		const struct hj_info *in = &f->info[i];

		out_u8(o, in->type);
		if (f->variant == HJ_ROAD)
			out_time(o, &in->time);
		if (q1)
			out_be(o, in->serial, 2);
		if (in->type == HJ_INFO_STREAM)
			out_stream(o, f->variant, &in->u.stream);
		else if (in->type == HJ_INFO_DIAG)
			out_diag(o, f->variant, &in->u.diag);
		else
			return HJ_ETYPE;
		if (f->variant == HJ_GB17691 && f->unit_sig)
			hj_put_sig(o, in->sig_r, in->sig_s);
	}
	return HJ_OK;
}

static int hj_encode_body(const struct hj_frame *f, struct hj_out *o)
{
	switch (f->cmd) {
	case HJ_CMD_LOGIN:
		out_time(o, &f->time);
		out_be(o, f->serial, 2);
		out_text(o, f->iccid, HJ_ICCID_LEN);
		return HJ_OK;
	case HJ_CMD_LOGOUT:
		out_time(o, &f->time);
		out_be(o, f->serial, 2);
		return HJ_OK;
	case HJ_CMD_REALTIME:
	case HJ_CMD_RESEND:
		return hj_encode_report(f, o);
	case HJ_CMD_05:
		if (hj_variant_road(f->variant)) {
			if (f->has_time)
				out_time(o, &f->time);
			return HJ_OK;
		}
		out_time(o, &f->time);
		out_be(o, f->serial, 2);
		out_pos(o, &f->pos);
		out_u8(o, f->removal_status);
		return HJ_OK;
	case HJ_CMD_ACTIVATE:
		out_time(o, &f->time);
		out_text(o, f->chip_id, HJ_CHIPID_LEN);
		out_bytes(o, f->pubkey, HJ_PUBKEY_LEN);
		out_text(o, f->act_vin, HJ_VIN_LEN);
		return HJ_OK;
	case HJ_CMD_ACTIVATE_ANSWER:
		out_u8(o, f->result);
		out_u8(o, f->reason);
		return HJ_OK;
	case HJ_CMD_ROAD_REMOVAL:
		if (!hj_variant_road(f->variant) || (!f->raw_body && f->raw_len))
			return HJ_ECMD;
		if (f->raw_body) { /* as decoded, or a platform's echo */
			out_bytes(o, f->raw_body, f->raw_len);
			return HJ_OK;
		}
		/* Our alarm: the HJ 1322 removal alarm's body (see the header). */
		out_time(o, &f->time);
		out_be(o, f->serial, 2);
		out_pos(o, &f->pos);
		out_u8(o, f->removal_status);
		return HJ_OK;
	default:
		return HJ_ECMD;
	}
}

static void hj_put_sig(struct hj_out *o, const uint8_t *r, const uint8_t *s)
{
	out_u8(o, HJ_SIG_PART);
	out_bytes(o, r, HJ_SIG_PART);
	out_u8(o, HJ_SIG_PART);
	out_bytes(o, s, HJ_SIG_PART);
}

int hj_encode(const struct hj_frame *f, uint8_t *out, size_t size)
{
	struct hj_out o = {out, size, 0, 0};
	size_t data_len;
	int rc;

	if (!f || !out)
		return HJ_EINVAL;
	out_u8(&o, 0x23);
	out_u8(&o, 0x23);
	out_u8(&o, f->cmd);
	out_text(&o, f->vin, HJ_VIN_LEN);
	out_u8(&o, f->sw_version);
	out_u8(&o, f->encryption);
	out_be(&o, 0, 2); /* the length, filled in below */
	if (f->encrypted) {
		if (!f->raw_body && f->raw_len)
			return HJ_EINVAL;
		if (f->raw_len)
			out_bytes(&o, f->raw_body, f->raw_len); /* ciphertext as it came */
	} else {
		rc = hj_encode_body(f, &o);
		if (rc < 0)
			return rc;
	}
	if (f->has_sig && !f->encrypted)
		hj_put_sig(&o, f->sig_r, f->sig_s);
	if (o.over || o.len + 1 > size)
		return HJ_ESPACE;
	data_len = o.len - HJ_HDR_LEN;
	if (data_len > HJ_MAX_DATA)
		return HJ_ETOOLONG;
	out[22] = (uint8_t)(data_len >> 8);
	out[23] = (uint8_t)data_len;
	out[o.len] = hj_bcc(out + 2, o.len - 2);
	return (int)(o.len + 1);
}

int hj_append_sig(uint8_t *buf, size_t size, size_t len, const uint8_t r[HJ_SIG_PART],
		  const uint8_t s[HJ_SIG_PART])
{
	struct hj_out o;
	size_t data_len;

	if (!buf || !r || !s || len < HJ_HDR_LEN + 1 || len > size)
		return HJ_EINVAL;
	o = (struct hj_out){buf, size, len - 1, 0}; /* overwrite the BCC */
	hj_put_sig(&o, r, s);
	if (o.over || o.len + 1 > size)
		return HJ_ESPACE;
	data_len = o.len - HJ_HDR_LEN;
	if (data_len > HJ_MAX_DATA)
		return HJ_ETOOLONG;
	buf[22] = (uint8_t)(data_len >> 8);
	buf[23] = (uint8_t)data_len;
	buf[o.len] = hj_bcc(buf + 2, o.len - 2);
	return (int)(o.len + 1);
}

uint8_t hj_bcc(const uint8_t *p, size_t n)
{
	uint8_t x = 0;

	while (n--)
		x ^= *p++;
	return x;
}

/* ---- reader ---------------------------------------------------------------- */

struct hj_in {
	const uint8_t *p;
	size_t len, pos;
};

static size_t in_left(const struct hj_in *in)
{
	return in->len - in->pos;
}

static uint32_t in_be(struct hj_in *in, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v = v << 8 | in->p[in->pos++];
	return v;
}

static void in_bytes(struct hj_in *in, void *dst, size_t n)
{
	memcpy(dst, in->p + in->pos, n);
	in->pos += n;
}

static void in_text(struct hj_in *in, char *dst, size_t n)
{
	in_bytes(in, dst, n);
	dst[n] = '\0';
}

static void in_time(struct hj_in *in, struct hj_time *t)
{
	t->year = in->p[in->pos];
	t->month = in->p[in->pos + 1];
	t->day = in->p[in->pos + 2];
	t->hour = in->p[in->pos + 3];
	t->minute = in->p[in->pos + 4];
	t->second = in->p[in->pos + 5];
	in->pos += HJ_TIME_LEN;
}

static void in_pos(struct hj_in *in, struct hj_pos *p)
{
	p->status = (uint8_t)in_be(in, 1);
	p->lon = in_be(in, 4);
	p->lat = in_be(in, 4);
}

static int in_stream(struct hj_in *in, enum hj_variant v, struct hj_stream *s)
{
	if (in_left(in) < (hj_variant_road(v) ? HJ_STREAM_ROAD : HJ_STREAM_NRMM))
		return HJ_ELEN;
	hj_stream_init(s);
	for (int f = 0; f <= HJ_F_FUEL_LEVEL_PCT; f++)
		s->raw[f] = in_be(in, hj_fields[f].def.size);
	if (hj_variant_road(v)) {
		in_pos(in, &s->pos);
		s->raw[HJ_F_ODOMETER_KM] = in_be(in, 4);
	} else {
		s->raw[HJ_F_EGR_PCT] = in_be(in, 2);
		s->raw[HJ_F_EGR_CMD_PCT] = in_be(in, 2);
	}
	return HJ_OK;
}

static int in_diag(struct hj_in *in, enum hj_variant v, struct hj_diag *d)
{
	size_t fixed = hj_variant_road(v) ? 2 + 4 + 17 + 18 + 18 + 36 + 1 : 3;
	int n;

	memset(d, 0, sizeof(*d));
	if (in_left(in) < fixed)
		return HJ_ELEN;
	d->protocol = (uint8_t)in_be(in, 1);
	d->mil = (uint8_t)in_be(in, 1);
	if (hj_variant_road(v)) {
		d->support = (uint16_t)in_be(in, 2);
		d->readiness = (uint16_t)in_be(in, 2);
		in_bytes(in, d->vin, sizeof(d->vin));
		in_bytes(in, d->cal_id, sizeof(d->cal_id));
		in_bytes(in, d->cvn, sizeof(d->cvn));
		in_bytes(in, d->iupr, sizeof(d->iupr));
	}
	d->n_dtcs = (uint8_t)in_be(in, 1);
	n = d->n_dtcs == HJ_INVALID_FE ? 0 : d->n_dtcs;
	if (n > HJ_MAX_DTCS || in_left(in) < (size_t)n * 4)
		return HJ_ELEN;
	for (int i = 0; i < n; i++)
		d->dtc[i] = in_be(in, 4);
	return HJ_OK;
}

/* The rest of a report is information units, then perhaps a signature:
 * 0x20 is no information type, so a 66-byte tail starting with it is one. */
static int hj_is_sig(const struct hj_in *in)
{
	return in_left(in) == HJ_SIG_LEN && in->p[in->pos] == HJ_SIG_PART &&
	       in->p[in->pos + 1 + HJ_SIG_PART] == HJ_SIG_PART;
}

static void in_sig(struct hj_in *in, struct hj_frame *f, size_t base)
{
	f->sig_off = base + in->pos;
	in->pos++;
	in_bytes(in, f->sig_r, HJ_SIG_PART);
	in->pos++;
	in_bytes(in, f->sig_s, HJ_SIG_PART);
	f->has_sig = 1;
}

/* A signature block at the cursor (anywhere, not only at the end). */
static int hj_at_sig(const struct hj_in *in)
{
	return in_left(in) >= HJ_SIG_LEN && in->p[in->pos] == HJ_SIG_PART &&
	       in->p[in->pos + 1 + HJ_SIG_PART] == HJ_SIG_PART;
}

/* Q2: the signature block that must follow a unit. */
static int in_unit_sig(struct hj_in *in, struct hj_info *info, size_t base)
{
	if (!hj_at_sig(in))
		return HJ_ELEN;
	info->sig_off = base + in->pos;
	in->pos++;
	in_bytes(in, info->sig_r, HJ_SIG_PART);
	in->pos++;
	in_bytes(in, info->sig_s, HJ_SIG_PART);
	info->has_sig = 1;
	return HJ_OK;
}

static int hj_decode_report(struct hj_in *in, struct hj_frame *f, size_t base)
{
	int q1 = f->variant == HJ_GB17691 && !f->unit_sig;
	size_t head = f->variant == HJ_NRMM ? 17 : q1 ? 6 : 8;
	int rc;

	if (in_left(in) < head)
		return HJ_ELEN;
	in_time(in, &f->time);
	if (!q1)
		f->serial = (uint16_t)in_be(in, 2);
	if (f->variant == HJ_NRMM)
		in_pos(in, &f->pos);
	while (in_left(in) > 0 && !hj_is_sig(in)) {
		struct hj_info *info = &f->info[f->n_info];

		if (f->n_info == HJ_MAX_INFO)
			return HJ_ELEN;
		info->type = (uint8_t)in_be(in, 1);
		info->time = f->time;
		if (f->variant == HJ_ROAD) {
			if (in_left(in) < HJ_TIME_LEN)
				return HJ_ELEN;
			in_time(in, &info->time);
		}
		if (q1) {
			if (in_left(in) < 2)
				return HJ_ELEN;
			info->serial = (uint16_t)in_be(in, 2);
		}
		if (info->type == HJ_INFO_STREAM)
			rc = in_stream(in, f->variant, &info->u.stream);
		else if (info->type == HJ_INFO_DIAG)
			rc = in_diag(in, f->variant, &info->u.diag);
		else
			rc = HJ_ETYPE;
		if (rc == HJ_OK && f->variant == HJ_GB17691 && f->unit_sig)
			rc = in_unit_sig(in, info, base);
		if (rc < 0)
			return rc;
		f->n_info++;
	}
	if (hj_is_sig(in))
		in_sig(in, f, base);
	return HJ_OK;
}

/* Bodies of a fixed length n (plus an optional signature when sig). */
static int hj_need(const struct hj_in *in, size_t n, int sig)
{
	if (in_left(in) == n || (sig && in_left(in) == n + HJ_SIG_LEN))
		return HJ_OK;
	return HJ_ELEN;
}

static int hj_decode_body(struct hj_in *in, struct hj_frame *f, size_t base)
{
	switch (f->cmd) {
	case HJ_CMD_LOGIN:
		if (hj_need(in, 8 + HJ_ICCID_LEN, 0) < 0)
			return HJ_ELEN;
		in_time(in, &f->time);
		f->serial = (uint16_t)in_be(in, 2);
		in_text(in, f->iccid, HJ_ICCID_LEN);
		return HJ_OK;
	case HJ_CMD_LOGOUT:
		if (hj_need(in, 8, 0) < 0)
			return HJ_ELEN;
		in_time(in, &f->time);
		f->serial = (uint16_t)in_be(in, 2);
		return HJ_OK;
	case HJ_CMD_REALTIME:
	case HJ_CMD_RESEND:
		return hj_decode_report(in, f, base);
	case HJ_CMD_05:
		if (hj_variant_road(f->variant)) {
			if (in_left(in) != 0 && in_left(in) != HJ_TIME_LEN)
				return HJ_ELEN;
			f->has_time = in_left(in) == HJ_TIME_LEN;
			if (f->has_time)
				in_time(in, &f->time);
			return HJ_OK;
		}
		if (hj_need(in, 18, 0) < 0)
			return HJ_ELEN;
		in_time(in, &f->time);
		f->serial = (uint16_t)in_be(in, 2);
		in_pos(in, &f->pos);
		f->removal_status = (uint8_t)in_be(in, 1);
		return HJ_OK;
	case HJ_CMD_ACTIVATE:
		if (hj_need(in, HJ_TIME_LEN + HJ_CHIPID_LEN + HJ_PUBKEY_LEN + HJ_VIN_LEN, 1) < 0)
			return HJ_ELEN;
		in_time(in, &f->time);
		in_text(in, f->chip_id, HJ_CHIPID_LEN);
		in_bytes(in, f->pubkey, HJ_PUBKEY_LEN);
		in_text(in, f->act_vin, HJ_VIN_LEN);
		if (hj_is_sig(in))
			in_sig(in, f, base);
		return HJ_OK;
	case HJ_CMD_ACTIVATE_ANSWER:
		if (hj_need(in, 2, 0) < 0)
			return HJ_ELEN;
		f->result = (uint8_t)in_be(in, 1);
		f->reason = (uint8_t)in_be(in, 1);
		return HJ_OK;
	case HJ_CMD_ROAD_REMOVAL:
		if (!hj_variant_road(f->variant))
			return HJ_ECMD;
		f->raw_body = in->p + in->pos;
		f->raw_len = in_left(in);
		if (f->raw_len == HJ_ALARM_LEN) {
			in_time(in, &f->time);
			f->has_time = 1;
			f->serial = (uint16_t)in_be(in, 2);
			in_pos(in, &f->pos);
			f->removal_status = (uint8_t)in_be(in, 1);
		}
		in->pos = in->len;
		return HJ_OK;
	default:
		return HJ_ECMD;
	}
}

int hj_frame_len(const uint8_t *buf, size_t len)
{
	if (!buf)
		return HJ_EINVAL;
	if (len >= 1 && buf[0] != 0x23)
		return HJ_ESTART;
	if (len >= 2 && buf[1] != 0x23)
		return HJ_ESTART;
	if (len < HJ_HDR_LEN)
		return HJ_ESHORT;
	{
		size_t total = HJ_HDR_LEN + ((size_t)buf[22] << 8 | buf[23]) + 1;

		if (total - HJ_HDR_LEN - 1 > HJ_MAX_DATA)
			return HJ_ETOOLONG;
		return len < total ? HJ_ESHORT : (int)total;
	}
}

int hj_decode(const uint8_t *buf, size_t len, enum hj_variant v, struct hj_frame *f)
{
	return hj_decode_opt(buf, len, v, 0, f);
}

int hj_decode_opt(const uint8_t *buf, size_t len, enum hj_variant v, unsigned flags,
		  struct hj_frame *f)
{
	struct hj_in in;
	int total, rc;

	if (!buf || !f)
		return HJ_EINVAL;
	total = hj_frame_len(buf, len);
	if (total < 0)
		return total;
	memset(f, 0, sizeof(*f));
	f->variant = v;
	f->unit_sig = v == HJ_GB17691 && (flags & HJ_DEC_UNIT_SIG);
	f->cmd = buf[2];
	memcpy(f->vin, buf + 3, HJ_VIN_LEN);
	f->vin[HJ_VIN_LEN] = '\0';
	f->sw_version = buf[20];
	f->encryption = buf[21];
	f->data_len = (uint16_t)(buf[22] << 8 | buf[23]);
	f->bcc_ok = hj_bcc(buf + 2, (size_t)total - 3) == buf[total - 1];
	in = (struct hj_in){buf + HJ_HDR_LEN, f->data_len, 0};
	if (HJ_ENC_ENCRYPTED(f->encryption)) {
		/* Ciphertext: parsing it as plain would print noise as values. */
		f->encrypted = 1;
		f->raw_body = in.p;
		f->raw_len = f->data_len;
		return total;
	}
	rc = hj_decode_body(&in, f, HJ_HDR_LEN);
	if (rc < 0)
		return rc;
	if (in_left(&in) != 0)
		return HJ_ELEN;
	return total;
}

const char *hj_cmd_name(enum hj_variant v, uint8_t cmd)
{
	switch (cmd) {
	case HJ_CMD_LOGIN:
		return "login";
	case HJ_CMD_REALTIME:
		return "realtime";
	case HJ_CMD_RESEND:
		return "resend";
	case HJ_CMD_LOGOUT:
		return "logout";
	case HJ_CMD_05:
		return hj_variant_road(v) ? "time_sync" : "removal_alarm";
	case HJ_CMD_ROAD_REMOVAL:
		return hj_variant_road(v) ? "removal_alarm" : "unknown";
	case HJ_CMD_ACTIVATE:
		return "activation";
	case HJ_CMD_ACTIVATE_ANSWER:
		return "activation_answer";
	default:
		return "unknown";
	}
}

const char *hj_strerror(int err)
{
	switch (err) {
	case HJ_OK:
		return "ok";
	case HJ_ESHORT:
		return "frame incomplete";
	case HJ_ESTART:
		return "no \"##\" start";
	case HJ_ELEN:
		return "data unit length does not match its content";
	case HJ_ECMD:
		return "unknown command";
	case HJ_ETYPE:
		return "unknown information type";
	case HJ_ESPACE:
		return "output buffer too small";
	case HJ_EINVAL:
		return "invalid argument";
	case HJ_ETOOLONG:
		return "data unit longer than 65531 bytes";
	default:
		return "unknown error";
	}
}
