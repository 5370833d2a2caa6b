#include "gateway/hjdecode.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/log.h"

#define HJDECODE_MAX_INPUT (16 * 1024 * 1024)

static const char *const hjdecode_protocols[] = {"ISO 15765", "ISO 27145", "SAE J1939",
						 "ISO 15031"};

/* "2023-11-15T06:13:21+08:00", or null when the field is no real time. */
static json_t *hjdecode_time(const struct hj_time *t, int offset_s)
{
	char buf[40];
	int64_t unix_s;
	int off_min = abs(offset_s) / 60;

	if (hj_time_to_unix(t, offset_s, &unix_s) < 0)
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", 2000 + t->year,
		 t->month, t->day, t->hour, t->minute, t->second, offset_s < 0 ? '-' : '+',
		 off_min / 60, off_min % 60);
	return json_string(buf);
}

static json_t *hjdecode_unix(const struct hj_time *t, int offset_s)
{
	int64_t unix_s;

	if (hj_time_to_unix(t, offset_s, &unix_s) < 0)
		return json_null();
	return json_integer((json_int_t)unix_s);
}

static json_t *hjdecode_hex(const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	size_t i;

	for (i = 0; i < n && i < 64; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * i] = '\0';
	return json_string(buf);
}

/* Every byte as hex (an encrypted body can be 64 KiB). */
static json_t *hjdecode_hex_all(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *buf = malloc(2 * n + 1);
	json_t *o;

	if (!buf)
		return json_null();
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xF];
	}
	buf[2 * n] = '\0';
	o = json_string(buf);
	free(buf);
	return o;
}

/* A fixed-width text field of the diagnostics unit (CAL ID, CVN): null when
 * all 0xFF (invalid), the text without its space/NUL padding when printable,
 * else hex. */
static json_t *hjdecode_field(const uint8_t *p, size_t n)
{
	size_t len = n;
	int all_ff = 1;

	for (size_t i = 0; i < n; i++)
		all_ff &= p[i] == 0xFF;
	if (all_ff)
		return json_null();
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\0'))
		len--;
	for (size_t i = 0; i < len; i++)
		if (!isprint(p[i]))
			return json_pack("{s:o}", "hex", hjdecode_hex_all(p, n));
	return json_stringn((const char *)p, len);
}

/* IUPR: 18 big-endian counters in the order of SAE J1979 InfoType 0x0B
 * (compression ignition); 0xFFFF is "not available".  The order is the one
 * of J1979, UNCONFIRMED against the HJ 1239 text. */
static json_t *hjdecode_iupr(const uint8_t *p)
{
	static const char *const names[18] = {
	    "obd_cond",	    "ign_cycles",   "nmhc_cat_comp", "nmhc_cat_cond", "nox_cat_comp",
	    "nox_cat_cond", "nox_ads_comp", "nox_ads_cond",  "pm_comp",	      "pm_cond",
	    "egs_comp",	    "egs_cond",	    "egr_vvt_comp",  "egr_vvt_cond",  "boost_comp",
	    "boost_cond",   "fuel_comp",    "fuel_cond"};
	json_t *o = json_object();
	int any = 0;

	for (int i = 0; i < 18; i++) {
		unsigned v = (unsigned)p[2 * i] << 8 | p[2 * i + 1];

		any |= v != 0xFFFF;
		json_object_set_new(o, names[i], v == 0xFFFF ? json_null() : json_integer(v));
	}
	if (!any) {
		json_decref(o);
		return json_null();
	}
	return o;
}

/* One DTC in the form the protocol byte says. */
static json_t *hjdecode_dtc(uint8_t protocol, uint32_t c)
{
	static const char sys[4] = {'P', 'C', 'B', 'U'};
	char raw[9], code[12];

	snprintf(raw, sizeof(raw), "%08x", c);
	if (protocol == 2) {
		/* J1939-73 byte order: SPN low, SPN mid, SPN high bits | FMI, OC. */
		uint32_t spn = (c >> 24 & 0xFF) | (c >> 16 & 0xFF) << 8 | (c >> 13 & 0x7) << 16;

		return json_pack("{s:s, s:I, s:i, s:i, s:s}", "form", "J1939", "spn",
				 (json_int_t)spn, "fmi", (int)(c >> 8 & 0x1F), "oc",
				 (int)(c & 0x7F), "raw", raw);
	}
	if (protocol == 1) {
		/* ISO 27145 (WWH-OBD): 3-byte DTC (SAE J2012 code + failure type
		 * byte), then the status byte. */
		unsigned hi = c >> 16 & 0xFFFF;

		snprintf(code, sizeof(code), "%c%04X-%02X", sys[hi >> 14], hi & 0x3FFF,
			 (unsigned)(c >> 8 & 0xFF));
		return json_pack("{s:s, s:s, s:i, s:s}", "form", "ISO 27145", "code", code,
				 "status", (int)(c & 0xFF), "raw", raw);
	}
	/* ISO 15765 / ISO 15031 / invalid: no agreed 4-byte form; the bytes. */
	return json_pack("{s:s}", "raw", raw);
}

/* Printable ASCII as a string, anything else as hex. */
static json_t *hjdecode_text(const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)s[i]))
			return json_pack("{s:o}", "hex", hjdecode_hex((const uint8_t *)s, n));
	return json_stringn(s, len);
}

static json_t *hjdecode_pos(const struct hj_pos *p)
{
	double lat, lon;

	if (hj_pos_get(p, &lat, &lon) < 0)
		return json_pack("{s:b, s:n, s:n, s:i}", "valid", 0, "lat", "lon", "status",
				 p->status);
	return json_pack("{s:b, s:f, s:f, s:i}", "valid", !(p->status & HJ_POS_INVALID), "lat", lat,
			 "lon", lon, "status", p->status);
}

static json_t *hjdecode_stream(enum hj_variant v, const struct hj_stream *s)
{
	json_t *o = json_object();
	double val;

	for (int f = 0; f < HJ_F_COUNT; f++) {
		const struct hj_field_def *d = hj_field((enum hj_field)f);

		if (!hj_field_in(v, (enum hj_field)f))
			continue;
		json_object_set_new(o, d->name,
				    json_pack("{s:o, s:s}", "value",
					      hj_stream_get(s, (enum hj_field)f, &val) == 0
						  ? json_real(val)
						  : json_null(),
					      "unit", d->unit));
	}
	if (hj_variant_road(v))
		json_object_set_new(o, "position", hjdecode_pos(&s->pos));
	return o;
}

static json_t *hjdecode_diag(enum hj_variant v, const struct hj_diag *d)
{
	json_t *dtcs = json_array();
	json_t *o;
	int n = d->n_dtcs == HJ_INVALID_FE ? 0 : d->n_dtcs;

	for (int i = 0; i < n; i++)
		json_array_append_new(dtcs, hjdecode_dtc(d->protocol, d->dtc[i]));
	o = json_pack(
	    "{s:o, s:o, s:o, s:o}", "protocol",
	    d->protocol < 4 ? json_string(hjdecode_protocols[d->protocol]) : json_null(), "mil",
	    d->mil == 0	  ? json_string("off")
	    : d->mil == 1 ? json_string("on")
	    : d->mil == 2 ? json_string("flashing")
			  : json_null(),
	    "dtc_count", d->n_dtcs == HJ_INVALID_FE ? json_null() : json_integer(d->n_dtcs), "dtcs",
	    dtcs);
	if (hj_variant_road(v)) {
		json_object_set_new(o, "diag_support", json_integer(d->support));
		json_object_set_new(o, "diag_readiness", json_integer(d->readiness));
		json_object_set_new(o, "vin", hjdecode_field(d->vin, sizeof(d->vin)));
		json_object_set_new(o, "cal_id", hjdecode_field(d->cal_id, sizeof(d->cal_id)));
		json_object_set_new(o, "cvn", hjdecode_field(d->cvn, sizeof(d->cvn)));
		json_object_set_new(o, "iupr", hjdecode_iupr(d->iupr));
	}
	return o;
}

static json_t *hjdecode_unit_sig(const struct hj_info *in, const uint8_t *buf,
				 struct signer_verifier *v, const char *id)
{
	int ok;

	if (!v)
		return json_pack("{s:b, s:n}", "present", 1, "verified");
	ok = signer_verify(v, id, buf + HJ_HDR_LEN, in->sig_off - HJ_HDR_LEN, in->sig_r, in->sig_s);
	return json_pack("{s:b, s:b}", "present", 1, "verified", ok == 1);
}

static json_t *hjdecode_infos(const struct hj_frame *f, const uint8_t *buf, int offset_s,
			      struct signer_verifier *v, const char *id)
{
	json_t *a = json_array();

	for (int i = 0; i < f->n_info; i++) {
		const struct hj_info *in = &f->info[i];
		json_t *o = in->type == HJ_INFO_STREAM ? hjdecode_stream(f->variant, &in->u.stream)
						       : hjdecode_diag(f->variant, &in->u.diag);

		json_object_set_new(o, "type",
				    json_string(in->type == HJ_INFO_STREAM ? "stream" : "diag"));
		json_object_set_new(o, "time", hjdecode_time(&in->time, offset_s));
		json_object_set_new(o, "time_unix", hjdecode_unix(&in->time, offset_s));
		if (f->variant == HJ_GB17691 && !f->unit_sig)
			json_object_set_new(o, "serial", json_integer(in->serial));
		if (in->has_sig)
			json_object_set_new(o, "signature", hjdecode_unit_sig(in, buf, v, id));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *hjdecode_sig(const struct hj_frame *f, const uint8_t *buf, struct signer_verifier *v,
			    const char *id)
{
	int ok;

	if (!f->has_sig)
		return json_pack("{s:b}", "present", 0);
	if (!v)
		return json_pack("{s:b, s:n}", "present", 1, "verified");
	ok = signer_verify(v, id, buf + HJ_HDR_LEN, f->sig_off - HJ_HDR_LEN, f->sig_r, f->sig_s);
	return json_pack("{s:b, s:b}", "present", 1, "verified", ok == 1);
}

json_t *hjdecode_json(const struct hj_frame *f, const uint8_t *buf, size_t len, int offset_s,
		      struct signer_verifier *v, const char *id)
{
	json_t *o = json_pack(
	    "{s:s, s:i, s:o, s:i, s:i, s:i, s:b}", "command", hj_cmd_name(f->variant, f->cmd),
	    "command_code", f->cmd, "vin", hjdecode_text(f->vin, HJ_VIN_LEN), "sw_version",
	    f->sw_version, "encryption", f->encryption, "length", f->data_len, "bcc_ok", f->bcc_ok);
	int timed =
	    !(f->cmd == HJ_CMD_ACTIVATE_ANSWER || (f->cmd == HJ_CMD_ROAD_REMOVAL && !f->has_time) ||
	      (f->cmd == HJ_CMD_05 && hj_variant_road(f->variant) && !f->has_time));

	(void)len;
	json_object_set_new(o, "variant", json_string(hj_variant_name(f->variant)));
	if (f->encrypted) {
		/* Not decodable without the key: say so and give the bytes. */
		json_object_set_new(o, "encrypted", json_true());
		json_object_set_new(o, "body", hjdecode_hex_all(f->raw_body, f->raw_len));
		return o;
	}
	if (timed) {
		json_object_set_new(o, "time", hjdecode_time(&f->time, offset_s));
		json_object_set_new(o, "time_unix", hjdecode_unix(&f->time, offset_s));
	}
	switch (f->cmd) {
	case HJ_CMD_LOGIN:
		json_object_set_new(o, "iccid", hjdecode_text(f->iccid, HJ_ICCID_LEN));
		/* fall through */
	case HJ_CMD_LOGOUT:
		json_object_set_new(o, "serial", json_integer(f->serial));
		break;
	case HJ_CMD_REALTIME:
	case HJ_CMD_RESEND:
		if (f->variant == HJ_GB17691)
			json_object_set_new(o, "layout", json_string(f->unit_sig ? "Q2" : "Q1"));
		if (!(f->variant == HJ_GB17691 && !f->unit_sig))
			json_object_set_new(o, "serial", json_integer(f->serial));
		if (f->variant == HJ_NRMM)
			json_object_set_new(o, "position", hjdecode_pos(&f->pos));
		json_object_set_new(o, "info", hjdecode_infos(f, buf, offset_s, v, id));
		break;
	case HJ_CMD_05:
		if (f->variant == HJ_NRMM) {
			json_object_set_new(o, "serial", json_integer(f->serial));
			json_object_set_new(o, "position", hjdecode_pos(&f->pos));
			json_object_set_new(o, "diagnostics_readable",
					    json_boolean(!f->removal_status));
		}
		break;
	case HJ_CMD_ACTIVATE:
		json_object_set_new(o, "chip_id", hjdecode_text(f->chip_id, HJ_CHIPID_LEN));
		{
			char hex[2 * HJ_PUBKEY_LEN + 1];

			for (int i = 0; i < HJ_PUBKEY_LEN; i++)
				snprintf(hex + 2 * i, 3, "%02x", f->pubkey[i]);
			json_object_set_new(o, "public_key", json_string(hex));
		}
		json_object_set_new(o, "machine_vin", hjdecode_text(f->act_vin, HJ_VIN_LEN));
		break;
	case HJ_CMD_ACTIVATE_ANSWER:
		json_object_set_new(o, "result",
				    json_string(f->result == 1 ? "success" : "failure"));
		json_object_set_new(o, "reason", json_integer(f->reason));
		break;
	case HJ_CMD_ROAD_REMOVAL:
		if (f->has_time) {
			json_object_set_new(o, "serial", json_integer(f->serial));
			json_object_set_new(o, "position", hjdecode_pos(&f->pos));
			json_object_set_new(o, "diagnostics_readable",
					    json_boolean(!f->removal_status));
		}
		/* fall through - the bytes too: the layout is our choice */
	default:
		json_object_set_new(o, "body", hjdecode_hex(f->raw_body, f->raw_len));
		break;
	}
	json_object_set_new(o, "signature", hjdecode_sig(f, buf, v, id));
	return o;
}

/* ---- input ---------------------------------------------------------------- */

static int hjdecode_xdigit(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Hex digits (spaces, colons and a 0x prefix allowed) to bytes; -1 on
 * anything else. */
static long hjdecode_unhex(const char *s, size_t n, uint8_t *out, size_t size)
{
	size_t len = 0;
	int half = -1;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (isspace(c) || c == ':')
			continue;
		if (c == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X') && half < 0) {
			i++;
			continue;
		}
		if (!isxdigit(c) || len >= size)
			return -1;
		if (half < 0) {
			half = hjdecode_xdigit(c);
		} else {
			out[len++] = (uint8_t)(half << 4 | hjdecode_xdigit(c));
			half = -1;
		}
	}
	return half < 0 ? (long)len : -1;
}

struct hjdecode_ctx {
	enum hj_variant variant;
	int layout; /* gb17691: 0 either (Q1 first), 1 Q1 only, 2 Q2 only */
	struct signer_verifier *v;
	const char *id;
	int offset_s;
	FILE *out;
	int bad;
	struct hj_frame f;
};

static void hjdecode_print(struct hjdecode_ctx *c, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));

	if (text)
		fprintf(c->out, "%s\n", text);
	free(text);
	json_decref(o);
}

/* Where the bytes from off that start no frame end: the next "##" (or a
 * '#' cut off by the end), or n. */
static size_t hjdecode_skip(const uint8_t *p, size_t n, size_t off)
{
	size_t end = off + 1;

	while (end < n && hj_frame_len(p + end, n - end) == HJ_ESTART)
		end++;
	return end;
}

/* Decode one frame of len bytes at p as the context's variant. */
static int hjdecode_one(struct hjdecode_ctx *c, const uint8_t *p, size_t len)
{
	int rc;

	if (c->variant != HJ_GB17691)
		return hj_decode(p, len, c->variant, &c->f);
	rc = c->layout == 2 ? HJ_ETYPE : hj_decode_opt(p, len, HJ_GB17691, 0, &c->f);
	if (rc < 0 && c->layout != 1) {
		int rc2 = hj_decode_opt(p, len, HJ_GB17691, HJ_DEC_UNIT_SIG, &c->f);

		if (rc2 > 0 || c->layout == 2)
			rc = rc2;
	}
	return rc;
}

/* A frame that fails as the chosen variant: which other one takes it. */
static const char *hjdecode_other(struct hjdecode_ctx *c, const uint8_t *p, size_t len)
{
	static const struct {
		enum hj_variant v;
		unsigned flags;
		const char *name;
	} tries[] = {{HJ_NRMM, 0, "nrmm"},
		     {HJ_ROAD, 0, "road"},
		     {HJ_GB17691, 0, "gb17691"},
		     {HJ_GB17691, HJ_DEC_UNIT_SIG, "gb17691"}};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if (tries[i].v != c->variant &&
		    hj_decode_opt(p, len, tries[i].v, tries[i].flags, &c->f) > 0 && c->f.bcc_ok)
			return tries[i].name;
	return NULL;
}

/* Every frame in a byte buffer. */
static void hjdecode_bytes(struct hjdecode_ctx *c, const uint8_t *p, size_t n)
{
	size_t off = 0, end;

	while (off < n) {
		int len = hj_frame_len(p + off, n - off);
		int rc = len > 0 ? hjdecode_one(c, p + off, (size_t)len) : len;
		const char *other;
		json_t *err;

		if (rc > 0) {
			c->bad += !c->f.bcc_ok;
			hjdecode_print(c, hjdecode_json(&c->f, p + off, (size_t)len, c->offset_s,
							c->v, c->id));
			off += (size_t)len;
			continue;
		}
		c->bad++;
		/* Garbage is one region up to the next "##": one error for it. */
		end = len > 0 ? off + (size_t)len : len == HJ_ESTART ? hjdecode_skip(p, n, off) : n;
		err = json_pack("{s:s, s:s, s:I, s:I, s:o}", "error", hj_strerror(rc), "variant",
				hj_variant_name(c->variant), "offset", (json_int_t)off, "length",
				(json_int_t)(end - off), "bytes", hjdecode_hex(p + off, end - off));
		other = len > 0 ? hjdecode_other(c, p + off, (size_t)len) : NULL;
		if (other) {
			char hint[96];

			snprintf(hint, sizeof(hint),
				 "not a %s frame: it decodes as %s (--variant %s)",
				 hj_variant_name(c->variant), other, other);
			json_object_set_new(err, "hint", json_string(hint));
		}
		hjdecode_print(c, err);
		if (len <= 0 && len != HJ_ESTART)
			break; /* cut short: nothing more to find */
		off = end;
	}
}

static int hjdecode_read_file(const char *path, uint8_t **data, size_t *n)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || size > HJDECODE_MAX_INPUT ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -1;
	}
	*data = malloc((size_t)size + 1);
	if (!*data || fread(*data, 1, (size_t)size, f) != (size_t)size) {
		free(*data);
		fclose(f);
		return -1;
	}
	fclose(f);
	(*data)[size] = '\0';
	*n = (size_t)size;
	return 0;
}

/* A text file of hex lines, or raw frames. */
static void hjdecode_file(struct hjdecode_ctx *c, uint8_t *data, size_t n)
{
	uint8_t *bytes = malloc(n / 2 + 1);
	const char *s = (const char *)data, *end = s + n;
	int is_hex = n > 0 && data[0] != '#';

	if (!bytes)
		return;
	while (is_hex && s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		long got = hjdecode_unhex(s, len, bytes, n / 2 + 1);

		if (got < 0) {
			is_hex = 0;
			break;
		}
		s += len + 1;
	}
	if (!is_hex) {
		hjdecode_bytes(c, data, n);
		free(bytes);
		return;
	}
	for (s = (const char *)data; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		long got = hjdecode_unhex(s, len, bytes, n / 2 + 1);

		if (got > 0)
			hjdecode_bytes(c, bytes, (size_t)got);
		s += len + 1;
	}
	free(bytes);
}

int hjdecode_variant(const char *name, enum hj_variant *v, int *layout)
{
	static const struct {
		const char *name;
		enum hj_variant v;
		int layout;
	} names[] = {{"nrmm", HJ_NRMM, 0},
		     {"road", HJ_ROAD, 0},
		     {"gb17691", HJ_GB17691, 0},
		     {"gb17691-q1", HJ_GB17691, 1},
		     {"gb17691-q2", HJ_GB17691, 2}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0) {
			*v = names[i].v;
			*layout = names[i].layout;
			return 0;
		}
	return -1;
}

int hjdecode_run(const char *arg, const char *variant, const char *pubkey_file, const char *id,
		 int offset_s, FILE *out)
{
	struct hjdecode_ctx *c = calloc(1, sizeof(*c));
	struct stat sb;
	uint8_t *data = NULL;
	size_t n = 0;
	int ret = 0;

	if (!c)
		return -1;
	if (hjdecode_variant(variant, &c->variant, &c->layout) < 0) {
		log_warnx("--variant: \"%s\" is not nrmm, road, gb17691, gb17691-q1 or gb17691-q2",
			  variant);
		free(c);
		return -1;
	}
	c->id = id ? id : HJDECODE_DEFAULT_ID;
	c->offset_s = offset_s;
	c->out = out;
	if (pubkey_file && !(c->v = signer_verifier_open(pubkey_file))) {
		free(c);
		return -1;
	}
	if (stat(arg, &sb) == 0) {
		if (hjdecode_read_file(arg, &data, &n) < 0) {
			log_warn("%s", arg);
			ret = -1;
			goto out;
		}
		hjdecode_file(c, data, n);
	} else {
		size_t len = strlen(arg);
		long got;

		data = malloc(len / 2 + 1);
		got = data ? hjdecode_unhex(arg, len, data, len / 2 + 1) : -1;
		if (got < 0) {
			log_warnx("--hj-decode: \"%s\" is neither a file nor hex", arg);
			ret = -1;
			goto out;
		}
		hjdecode_bytes(c, data, (size_t)got);
	}
	ret = c->bad ? 1 : 0;
out:
	if (fflush(out) != 0)
		ret = -1;
	free(data);
	signer_verifier_close(c->v);
	free(c);
	return ret;
}
