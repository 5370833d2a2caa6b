#include "protocols/payload.h"
#include "protocols/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

_Static_assert(SIG_COUNT <= 64, "payload_record.have holds one bit a signal");

/* ---- names --------------------------------------------------------------------- */

static const char *const payload_ts_names[PAYLOAD_TS_COUNT] = {
    [PAYLOAD_TS_UNSYNCED] = "unsynced", [PAYLOAD_TS_RTC] = "rtc",	[PAYLOAD_TS_NTP] = "ntp",
    [PAYLOAD_TS_GNSS] = "gnss",		[PAYLOAD_TS_REPLAY] = "replay",
};

const char *payload_ts_src_name(enum payload_ts_src src)
{
	if ((unsigned)src >= PAYLOAD_TS_COUNT)
		return "unsynced";
	return payload_ts_names[src];
}

const char *payload_strerror(int err)
{
	switch (err) {
	case PAYLOAD_OK:
		return "ok";
	case PAYLOAD_E_SPACE:
		return "payload too large";
	case PAYLOAD_E_VALUE:
		return "a value JSON cannot carry (not finite, not UTF-8, missing)";
	case PAYLOAD_E_JSON:
		return "not a JSON object";
	case PAYLOAD_E_FIELD:
		return "a field missing, of the wrong type or too long";
	case PAYLOAD_E_TYPE:
		return "unknown event type";
	default:
		return "unknown error";
	}
}

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Length of the UTF-8 character at s (at most n bytes), or 0 when it is not
 * one JSON may carry. */
static size_t payload_utf8_char(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2)
		return 0; /* continuation byte, or an overlong 2-byte form */
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	cp = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int payload_utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = payload_utf8_char((const unsigned char *)s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

int payload_strlcpy(char *dst, size_t size, const char *src)
{
	return utf8_trunc(dst, size, src) < strlen(src);
}

/* ---- time ---------------------------------------------------------------------------- */

/* H. Hinnant's civil_from_days / days_from_civil in 64-bit integers. */
static void payload_civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t payload_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void payload_format_iso(int64_t wall_ms, char *buf, size_t size)
{
	int64_t s = wall_ms >= 0 ? wall_ms / 1000 : -((-(wall_ms + 1) + 1000) / 1000);
	int64_t days = s >= 0 ? s / 86400 : -((-(s + 1) + 86400) / 86400);
	int64_t sod = s - days * 86400, y;
	int m, d;

	payload_civil(days, &y, &m, &d);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
		 (int)(wall_ms - s * 1000));
}

/* n decimal digits at *p: the value, or -1. */
static int64_t payload_digits(const char **p, int n)
{
	int64_t v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

int payload_parse_iso(const char *s, int64_t *wall_ms)
{
	const char *p = s;
	int neg = *p == '-', nd = 0;
	int64_t y, mo, d, hh, mi, ss, ms;
	char check[40];

	p += neg;
	while (p[nd] >= '0' && p[nd] <= '9')
		nd++;
	if (nd < 1 || nd > 7)
		return PAYLOAD_E_VALUE;
	y = payload_digits(&p, nd);
	if (*p++ != '-' || (mo = payload_digits(&p, 2)) < 1 || mo > 12 || *p++ != '-' ||
	    (d = payload_digits(&p, 2)) < 1 || d > 31 || *p++ != 'T' ||
	    (hh = payload_digits(&p, 2)) < 0 || hh > 23 || *p++ != ':' ||
	    (mi = payload_digits(&p, 2)) < 0 || mi > 59 || *p++ != ':' ||
	    (ss = payload_digits(&p, 2)) < 0 || ss > 59 || *p++ != '.' ||
	    (ms = payload_digits(&p, 3)) < 0 || *p++ != 'Z' || *p != '\0')
		return PAYLOAD_E_VALUE;
	if (neg)
		y = -y;
	*wall_ms =
	    ((payload_days(y, (int)mo, (int)d) * 86400 + hh * 3600 + mi * 60 + ss) * 1000) + ms;
	/* Only the one form this module writes (no 31 February, no -0000). */
	payload_format_iso(*wall_ms, check, sizeof(check));
	return strcmp(check, s) == 0 ? 0 : PAYLOAD_E_VALUE;
}

/* ---- the JSON writer ---------------------------------------------------------------- */

/* Appends into a caller's buffer; the first error sticks. */
struct pw {
	char *buf;
	size_t size, len;
	int err;
};

static void pw_raw(struct pw *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->len + n >= w->size) {
		w->err = PAYLOAD_E_SPACE;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void pw_lit(struct pw *w, const char *s)
{
	pw_raw(w, s, strlen(s));
}

/* As jansson escapes without JSON_ENSURE_ASCII: ", \, the short control
 * escapes, other control characters as \u00XX; UTF-8 passes through. */
static void pw_str(struct pw *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, run;

	if (!payload_utf8_valid(s, len)) {
		if (!w->err)
			w->err = PAYLOAD_E_VALUE;
		return;
	}
	pw_raw(w, "\"", 1);
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = {'\\', 0};

		for (run = i;
		     run < len && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\';
		     run++)
			;
		pw_raw(w, s + i, run - i);
		if (run == len)
			break;
		c = (unsigned char)s[run];
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			break;
		}
		pw_raw(w, esc, esc[1] == 'u' ? 6 : 2);
		i = run + 1;
	}
	pw_raw(w, "\"", 1);
}

static void pw_cstr(struct pw *w, const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	if (len == size) { /* not terminated: a broken struct */
		if (!w->err)
			w->err = PAYLOAD_E_VALUE;
		return;
	}
	pw_str(w, s, len);
}

/* jansson's real: "%.12g", ".0" when that reads as an integer, the
 * exponent without '+' and leading zeros. */
static void pw_real(struct pw *w, double v)
{
	char t[40], *e, *from;
	int n;

	if (!isfinite(v)) {
		if (!w->err)
			w->err = PAYLOAD_E_VALUE;
		return;
	}
	n = snprintf(t, sizeof(t) - 3, "%.12g", v);
	if (n < 0 || (size_t)n >= sizeof(t) - 3) {
		if (!w->err)
			w->err = PAYLOAD_E_VALUE;
		return;
	}
	if (!strchr(t, '.') && !strchr(t, 'e'))
		memcpy(t + n, ".0", 3);
	e = strchr(t, 'e');
	if (e) {
		e++;
		from = e + 1; /* past the sign, or past the first digit */
		if (*e == '-')
			e++;
		while (*from == '0')
			from++;
		if (from != e)
			memmove(e, from, strlen(from) + 1);
	}
	pw_lit(w, t);
}

static void pw_int(struct pw *w, int64_t v)
{
	char t[24];

	snprintf(t, sizeof(t), "%" PRId64, v);
	pw_lit(w, t);
}

static void pw_key(struct pw *w, int *first, const char *key)
{
	if (!*first)
		pw_raw(w, ",", 1);
	*first = 0;
	pw_str(w, key, strlen(key));
	pw_raw(w, ":", 1);
}

static void pw_fail(struct pw *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* ---- the field table ----------------------------------------------------------------- */

enum pl_kind { K_STR, K_REAL, K_INT, K_BOOL, K_TIME, K_STAGES, K_DTCS, K_RATIOS, K_EVIDENCE };

/* One field: its key, what it is, where it lives in its struct and whether
 * it may be absent (then as PAYLOAD_NONE / _NO_INT / _NO_TIME / "" / NULL). */
struct pl_field {
	const char *key;
	enum pl_kind kind;
	size_t off, size;
	int opt;
};

#define EF(key, kind, member, opt)                                                                 \
	{                                                                                          \
		key, kind, offsetof(struct payload_event, member),                                 \
		    sizeof(((struct payload_event *)0)->member), opt                               \
	}
#define PF(key, kind, member, opt)                                                                 \
	{                                                                                          \
		key, kind, offsetof(struct payload_pos, member),                                   \
		    sizeof(((struct payload_pos *)0)->member), opt                                 \
	}

static const struct pl_field pl_pos[] = {
    PF("valid", K_BOOL, valid, 0),
    PF("lat", K_REAL, lat, 1),
    PF("lon", K_REAL, lon, 1),
    PF("age_s", K_REAL, age_s, 1),
    PF("alt_m", K_REAL, alt_m, 1),
    PF("speed_kmh", K_REAL, speed_kmh, 1),
    PF("course_deg", K_REAL, course_deg, 1),
    PF("fix", K_STR, fix, 1),
    PF("quality", K_STR, quality, 1),
    PF("sats_used", K_INT, sats_used, 1),
    PF("hdop", K_REAL, hdop, 1),
    PF("eph_m", K_REAL, eph_m, 1),
    PF("fix_ts", K_TIME, fix_ts_ms, 1),
    PF("point", K_STR, point, 1),
};

static const struct pl_field pl_clock[] = {
    EF("from", K_TIME, from_ms, 0),
    EF("to", K_TIME, to_ms, 0),
    EF("jump_s", K_REAL, jump_s, 0),
    EF("clock", K_STR, clock, 0),
};

static const struct pl_field pl_gap[] = {
    EF("from", K_TIME, from_ms, 0),
    EF("to", K_TIME, to_ms, 0),
    EF("gap_s", K_REAL, gap_s, 0),
};

static const struct pl_field pl_store[] = {
    EF("state", K_STR, state, 0),
    EF("problem", K_STR, problem, 0),
    EF("moved_to", K_STR, moved_to, 1),
};

static const struct pl_field pl_point_lost[] = {
    EF("state", K_STR, state, 0),    EF("device", K_STR, device, 0),
    EF("bus", K_STR, bus, 0),	     EF("point", K_STR, point, 0),
    EF("table", K_STR, table, 0),    EF("address", K_INT, address, 0),
    EF("lost_s", K_REAL, lost_s, 1), EF("reason", K_STR, problem, 1),
};

static const struct pl_field pl_zones_disabled[] = {
    EF("reason", K_STR, problem, 0),
};

static const struct pl_field pl_config_rollback[] = {
    EF("reason", K_STR, problem, 0),
    EF("old", K_STR, old_sha256, 0),
    EF("new", K_STR, new_sha256, 0),
};

static const struct pl_field pl_row_too_large[] = {
    EF("uplink", K_STR, uplink, 0),
    EF("row_seq", K_INT, row_seq, 0),
    EF("packet_bytes", K_INT, packet_bytes, 0),
    EF("max_packet", K_INT, max_packet, 0),
};

static const struct pl_field pl_seal[] = {
    EF("sealed_boot", K_INT, sealed_boot, 0),
    EF("from", K_INT, sealed_from, 0),
    EF("to", K_INT, sealed_to, 0),
    EF("hash", K_STR, seal_hash, 0),
    EF("prev", K_STR, seal_prev, 0),
    EF("key", K_STR, seal_key, 0),
    EF("alg", K_STR, seal_alg, 0),
    EF("signature", K_STR, seal_sig, 0),
};

static const struct pl_field pl_evicted[] = {
    EF("evicted_boot", K_INT, sealed_boot, 0),
    EF("from", K_INT, sealed_from, 0),
    EF("to", K_INT, sealed_to, 0),
    EF("rows", K_INT, evicted_n, 0),
    EF("hashes", K_STR, evicted_rows, 0),
};

static const struct pl_field pl_smoke[] = {
    EF("state", K_STR, state, 0),
    EF("rule", K_STR, rule, 0),
    EF("rules", K_STR, rules, 0),
    EF("confidence", K_STR, confidence, 0),
    EF("since", K_TIME, since_ms, 0),
    EF("duration_s", K_REAL, duration_s, 0),
    EF("quantity", K_STR, quantity, 0),
    EF("peak", K_REAL, peak, 0),
    EF("mean", K_REAL, mean, 0),
    EF("load_mean_pct", K_REAL, load_mean_pct, 0),
    EF("lambda_min", K_REAL, lambda_min, 1),
    EF("lambda_mean", K_REAL, lambda_mean, 1),
    EF("k_max_m1", K_REAL, k_max_m1, 1),
    EF("k_mean_m1", K_REAL, k_mean_m1, 1),
    EF("limit_k_m1", K_REAL, limit_k_m1, 1),
    EF("boost_deficit_kpa", K_REAL, boost_deficit_kpa, 1),
    EF("ended", K_TIME, ended_ms, 1),
    EF("end_reason", K_STR, end_reason, 1),
    EF("evidence", K_EVIDENCE, evidence, 1),
};

/* Boost trailing a load step with neither lambda nor opacity confirming
 * smoke: a diagnostic of the turbo, not an alarm. */
static const struct pl_field pl_turbo_lag[] = {
    EF("state", K_STR, state, 0),
    EF("since", K_TIME, since_ms, 0),
    EF("duration_s", K_REAL, duration_s, 0),
    EF("boost_deficit_kpa", K_REAL, boost_deficit_kpa, 0),
    EF("load_mean_pct", K_REAL, load_mean_pct, 0),
    EF("ended", K_TIME, ended_ms, 1),
    EF("end_reason", K_STR, end_reason, 1),
};

static const struct pl_field pl_zone[] = {
    EF("state", K_STR, state, 0),
    EF("zone", K_STR, zone, 0),
    EF("prohibited", K_BOOL, prohibited, 0),
    EF("prohibited_stages", K_STAGES, prohibited_stages, 0),
    EF("lat", K_REAL, lat, 0),
    EF("lon", K_REAL, lon, 0),
};

static const struct pl_field pl_zone_violation[] = {
    EF("zone", K_STR, zone, 0),	  EF("since", K_TIME, since_ms, 0),
    EF("stage", K_INT, stage, 0), EF("prohibited_stages", K_STAGES, prohibited_stages, 0),
    EF("lat", K_REAL, lat, 0),	  EF("lon", K_REAL, lon, 0),
};

static const struct pl_field pl_engine[] = {
    EF("state", K_STR, state, 0),
    EF("engine_speed_rpm", K_REAL, engine_speed_rpm, 1),
    EF("reason", K_STR, reason, 1),
    EF("run_s", K_REAL, run_s, 1),
};

static const struct pl_field pl_ecu_silent[] = {
    EF("state", K_STR, state, 0),
    EF("last_frame_age_s", K_REAL, last_frame_age_s, 0),
    EF("engine_was_running", K_BOOL, engine_was_running, 0),
};

static const struct pl_field pl_meter_lost[] = {
    EF("state", K_STR, state, 0),
    EF("device", K_STR, device, 0),
    EF("bus", K_STR, bus, 1),
    EF("last_value_age_s", K_REAL, last_value_age_s, 0),
};

static const struct pl_field pl_gps_lost[] = {
    EF("state", K_STR, state, 0),
    EF("held_s", K_REAL, held_s, 1),
    EF("cleared_s", K_REAL, cleared_s, 1),
};

static const struct pl_field pl_dpf_low[] = {
    EF("state", K_STR, state, 0),
    EF("held_s", K_REAL, held_s, 1),
    EF("cleared_s", K_REAL, cleared_s, 1),
    EF("dpf_dp_mean_kpa", K_REAL, dpf_dp_mean_kpa, 1),
    EF("load_mean_pct", K_REAL, load_mean_pct, 1),
    EF("limit_kpa", K_REAL, limit_kpa, 1),
};

static const struct pl_field pl_nox_frozen[] = {
    EF("state", K_STR, state, 0),	   EF("held_s", K_REAL, held_s, 1),
    EF("cleared_s", K_REAL, cleared_s, 1), EF("signal", K_STR, signal, 0),
    EF("value", K_REAL, value, 0),
};

static const struct pl_field pl_restart[] = {
    EF("clean", K_BOOL, clean, 0),
};

static const struct pl_field pl_config_changed[] = {
    EF("from", K_STR, from_hash, 0),
    EF("to", K_STR, to_hash, 0),
};

static const struct pl_field pl_dtc[] = {
    EF("sa", K_INT, sa, 0),
    EF("appeared", K_DTCS, appeared, 0),
    EF("cleared", K_DTCS, cleared, 0),
    EF("active", K_DTCS, active, 0),
    EF("mil", K_STR, mil, 0),
    EF("mil_changed", K_BOOL, mil_changed, 0),
    EF("red_stop", K_STR, red_stop, 0),
    EF("amber", K_STR, amber, 0),
};

static const struct pl_field pl_vin_mismatch[] = {
    EF("configured", K_STR, configured, 0),
    EF("engine", K_STR, engine, 0),
    EF("sa", K_INT, sa, 0),
};

/* What one controller's DM5, DM19 and DM20 say, the OBD unit of the China
 * platforms (raised when one of them changes; mil and vin are the state then). */
static const struct pl_field pl_obd[] = {
    EF("sa", K_INT, sa, 0),
    EF("protocol", K_STR, protocol, 0),
    EF("mil", K_STR, mil, 1),
    EF("vin", K_STR, engine, 1),
    EF("support", K_INT, obd_support, 1),
    EF("readiness", K_INT, obd_readiness, 1),
    EF("cal_id", K_STR, cal_id, 1),
    EF("cvn", K_STR, cvn, 1),
    EF("ign_cycles", K_INT, ign_cycles, 1),
    EF("obd_conditions", K_INT, obd_conditions, 1),
    EF("ratios", K_RATIOS, ratios, 1),
};

/* The one table of event types: name, store class, fields in wire order. */
static const struct pl_type {
	const char *name;
	enum payload_class cls;
	const struct pl_field *f;
	int n;
} pl_types[PAYLOAD_TYPE_COUNT] = {
#define T(id, name, cls, list) [id] = {name, cls, list, (int)(sizeof(list) / sizeof(list[0]))}
    [PAYLOAD_RECORD] = {"record", PAYLOAD_CLASS_ROUTINE, NULL, 0},
    T(PAYLOAD_EV_CLOCK, "clock", PAYLOAD_CLASS_EVENT, pl_clock),
    T(PAYLOAD_EV_GAP, "gap", PAYLOAD_CLASS_EVENT, pl_gap),
    T(PAYLOAD_EV_STORE, "store", PAYLOAD_CLASS_ALARM, pl_store),
    T(PAYLOAD_EV_POINT_LOST, "point-lost", PAYLOAD_CLASS_EVENT, pl_point_lost),
    /* an alarm: a broken zones file must not be a way to run unwatched */
    T(PAYLOAD_EV_ZONES_DISABLED, "zones-disabled", PAYLOAD_CLASS_ALARM, pl_zones_disabled),
    T(PAYLOAD_EV_ROW_TOO_LARGE, "row-too-large", PAYLOAD_CLASS_EVENT, pl_row_too_large),
    /* an alarm: the proof of every other row is evicted last */
    T(PAYLOAD_EV_SEAL, "seal", PAYLOAD_CLASS_ALARM, pl_seal),
    /* an event, not an alarm: a store full for long fills with these
     * (86 bytes a row they name), and they must not crowd out smoke */
    T(PAYLOAD_EV_EVICTED, "evicted", PAYLOAD_CLASS_EVENT, pl_evicted),
    T(PAYLOAD_EV_SMOKE, "smoke", PAYLOAD_CLASS_ALARM, pl_smoke),
    T(PAYLOAD_EV_TURBO_LAG, "turbo-lag", PAYLOAD_CLASS_EVENT, pl_turbo_lag),
    T(PAYLOAD_EV_ZONE, "zone", PAYLOAD_CLASS_EVENT, pl_zone),
    T(PAYLOAD_EV_ZONE_VIOLATION, "zone-violation", PAYLOAD_CLASS_ALARM, pl_zone_violation),
    T(PAYLOAD_EV_ENGINE, "engine", PAYLOAD_CLASS_EVENT, pl_engine),
    T(PAYLOAD_EV_ECU_SILENT, "ecu-silent", PAYLOAD_CLASS_ALARM, pl_ecu_silent),
    T(PAYLOAD_EV_METER_LOST, "meter-lost", PAYLOAD_CLASS_EVENT, pl_meter_lost),
    T(PAYLOAD_EV_GPS_LOST, "gps-lost", PAYLOAD_CLASS_EVENT, pl_gps_lost),
    T(PAYLOAD_EV_DPF_LOW, "dpf-low", PAYLOAD_CLASS_ALARM, pl_dpf_low),
    T(PAYLOAD_EV_NOX_FROZEN, "nox-frozen", PAYLOAD_CLASS_ALARM, pl_nox_frozen),
    T(PAYLOAD_EV_RESTART, "restart", PAYLOAD_CLASS_EVENT, pl_restart),
    T(PAYLOAD_EV_CONFIG_CHANGED, "config-changed", PAYLOAD_CLASS_EVENT, pl_config_changed),
    /* an alarm: a push that broke the link must be seen */
    T(PAYLOAD_EV_CONFIG_ROLLBACK, "config-rollback", PAYLOAD_CLASS_ALARM, pl_config_rollback),
    T(PAYLOAD_EV_DTC, "dtc", PAYLOAD_CLASS_EVENT, pl_dtc),
    T(PAYLOAD_EV_VIN_MISMATCH, "vin-mismatch", PAYLOAD_CLASS_EVENT, pl_vin_mismatch),
    T(PAYLOAD_EV_OBD, "obd", PAYLOAD_CLASS_EVENT, pl_obd),
#undef T
};

const char *payload_type_name(enum payload_type type)
{
	if ((unsigned)type >= PAYLOAD_TYPE_COUNT)
		return "?";
	return pl_types[type].name;
}

int payload_type_lookup(const char *name)
{
	for (int i = 0; i < PAYLOAD_TYPE_COUNT; i++)
		if (strcmp(pl_types[i].name, name) == 0)
			return i;
	return PAYLOAD_E_TYPE;
}

enum payload_class payload_event_class(enum payload_type type)
{
	if ((unsigned)type >= PAYLOAD_TYPE_COUNT || type == PAYLOAD_RECORD)
		return PAYLOAD_CLASS_EVENT;
	return pl_types[type].cls;
}

enum payload_class payload_record_class(const struct payload_record *rec)
{
	return rec->pos.present && rec->pos.valid ? PAYLOAD_CLASS_POSITION : PAYLOAD_CLASS_ROUTINE;
}

/* ---- init and record helpers -------------------------------------------------------- */

static void pl_absent(void *base, const struct pl_field *f, int n)
{
	for (int i = 0; i < n; i++) {
		char *p = (char *)base + f[i].off;

		if (f[i].kind == K_REAL)
			*(double *)p = PAYLOAD_NONE;
		else if (f[i].kind == K_INT || f[i].kind == K_TIME)
			*(int64_t *)p = PAYLOAD_NO_INT;
	}
}

void payload_pos_init(struct payload_pos *pos)
{
	memset(pos, 0, sizeof(*pos));
	pl_absent(pos, pl_pos, (int)(sizeof(pl_pos) / sizeof(pl_pos[0])));
}

void payload_event_init(struct payload_event *ev, enum payload_type type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	for (int t = 0; t < PAYLOAD_TYPE_COUNT; t++)
		pl_absent(ev, pl_types[t].f, pl_types[t].n);
	payload_pos_init(&ev->pos);
}

void payload_record_init(struct payload_record *rec)
{
	memset(rec->have, 0, sizeof(rec->have));
	rec->n_custom = 0;
	rec->custom_dropped = 0;
	rec->trigger[0] = '\0';
	payload_pos_init(&rec->pos);
}

void payload_record_set(struct payload_record *rec, enum sig_id sig, int instance, double v)
{
	if ((unsigned)sig >= SIG_COUNT || instance < 0 || instance >= PAYLOAD_INSTANCES)
		return;
	rec->v[instance][sig] = v;
	rec->have[instance] |= UINT64_C(1) << sig;
}

int payload_record_custom(struct payload_record *rec, const char *name, int instance,
			  const char *text, double value)
{
	struct payload_custom *c = NULL;
	int s = sig_lookup(name);

	if (s >= 0 && instance >= 0 && instance < PAYLOAD_INSTANCES) {
		/* A canonical name: the value takes the signal's place. */
		if (text)
			goto out_drop;
		payload_record_set(rec, (enum sig_id)s, instance, value);
		return 0;
	}
	if (strlen(name) >= PAYLOAD_CUSTOM_NAME || instance < 0 ||
	    (text && (strlen(text) >= PAYLOAD_TEXT_MAX || !payload_utf8_valid(text, strlen(text)))))
		goto out_drop;
	for (int i = 0; i < rec->n_custom && !c; i++)
		if (rec->custom[i].instance == instance && strcmp(rec->custom[i].name, name) == 0)
			c = &rec->custom[i];
	if (!c) {
		if (rec->n_custom == PAYLOAD_MAX_CUSTOM)
			goto out_drop;
		c = &rec->custom[rec->n_custom++];
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->instance = instance;
	}
	c->is_text = text != NULL;
	c->value = text ? 0 : value;
	snprintf(c->text, sizeof(c->text), "%s", text ? text : "");
	return 0;
out_drop:
	rec->custom_dropped++;
	return -1;
}

/* "name@N" with N 1..999 written plainly: name and N; else the whole key, 0. */
static int pl_split_key(const char *key, char *name, size_t size, int *inst)
{
	const char *at = strrchr(key, '@');
	size_t n;
	int v = 0;

	*inst = 0;
	if (at && at[1] >= '1' && at[1] <= '9' && strlen(at + 1) <= 3) {
		for (const char *p = at + 1; *p; p++) {
			if (*p < '0' || *p > '9') {
				v = -1;
				break;
			}
			v = v * 10 + (*p - '0');
		}
		if (v > 0) {
			n = (size_t)(at - key);
			if (n >= size)
				return -1;
			memcpy(name, key, n);
			name[n] = '\0';
			*inst = v;
			return 0;
		}
	}
	if (strlen(key) >= size)
		return -1;
	memcpy(name, key, strlen(key) + 1);
	return 0;
}

int payload_record_value(const struct payload_record *rec, const char *key, double *v)
{
	char name[PAYLOAD_CUSTOM_NAME + 8];
	int inst, s;

	if (pl_split_key(key, name, sizeof(name), &inst) < 0)
		return 0;
	s = sig_lookup(name);
	if (s >= 0 && inst < PAYLOAD_INSTANCES) {
		if (!(rec->have[inst] & UINT64_C(1) << s))
			return 0;
		*v = rec->v[inst][s];
		return 1;
	}
	for (int i = 0; i < rec->n_custom; i++)
		if (rec->custom[i].instance == inst && !rec->custom[i].is_text &&
		    strcmp(rec->custom[i].name, name) == 0) {
			*v = rec->custom[i].value;
			return 1;
		}
	return 0;
}

/* ---- encoding ----------------------------------------------------------------------- */

static void pl_enc_time(struct pw *w, int64_t ms)
{
	char t[40];

	payload_format_iso(ms, t, sizeof(t));
	pw_lit(w, "\"");
	pw_lit(w, t);
	pw_lit(w, "\"");
}

static void pl_enc_dtcs(struct pw *w, const struct payload_dtcs *l)
{
	if (l->n < 0 || l->n > PAYLOAD_MAX_DTCS) {
		pw_fail(w, PAYLOAD_E_VALUE);
		return;
	}
	pw_lit(w, "[");
	for (int i = 0; i < l->n; i++) {
		pw_lit(w, i ? ",{\"spn\":" : "{\"spn\":");
		pw_int(w, l->d[i].spn);
		pw_lit(w, ",\"fmi\":");
		pw_int(w, l->d[i].fmi);
		pw_lit(w, ",\"oc\":");
		pw_int(w, l->d[i].oc);
		pw_lit(w, "}");
	}
	pw_lit(w, "]");
}

static void pl_enc_ratios(struct pw *w, const struct payload_ratios *l)
{
	if (l->n < 0 || l->n > PAYLOAD_MAX_RATIOS) {
		pw_fail(w, PAYLOAD_E_VALUE);
		return;
	}
	pw_lit(w, "[");
	for (int i = 0; i < l->n; i++) {
		pw_lit(w, i ? ",{\"spn\":" : "{\"spn\":");
		pw_int(w, l->r[i].spn);
		pw_lit(w, ",\"num\":");
		pw_int(w, l->r[i].num);
		pw_lit(w, ",\"den\":");
		pw_int(w, l->r[i].den);
		pw_lit(w, "}");
	}
	pw_lit(w, "]");
}

static void pl_enc_stages(struct pw *w, const struct payload_stages *l)
{
	if (l->n < 0 || l->n > PAYLOAD_MAX_STAGES) {
		pw_fail(w, PAYLOAD_E_VALUE);
		return;
	}
	pw_lit(w, "[");
	for (int i = 0; i < l->n; i++) {
		if (i)
			pw_lit(w, ",");
		pw_int(w, l->s[i]);
	}
	pw_lit(w, "]");
}

/* ,"raw":{"fields":[names],"rows":[[[t_s,v],...] a field],"received":[n]} */
static void pl_enc_raw(struct pw *w, const struct payload_raw *r)
{
	if (r->n_fields < 0 || r->n_fields > PAYLOAD_RAW_FIELDS) {
		pw_fail(w, PAYLOAD_E_VALUE);
		return;
	}
	pw_lit(w, ",\"raw\":{\"fields\":[");
	for (int i = 0; i < r->n_fields; i++) {
		if ((unsigned)r->fields[i] >= SIG_COUNT || r->n[i] < 0 ||
		    r->n[i] > PAYLOAD_RAW_POINTS) {
			pw_fail(w, PAYLOAD_E_VALUE);
			return;
		}
		pw_lit(w, i ? "," : "");
		pw_cstr(w, sig_name(r->fields[i]), 64);
	}
	pw_lit(w, "],\"rows\":[");
	for (int i = 0; i < r->n_fields; i++) {
		pw_lit(w, i ? ",[" : "[");
		for (int k = 0; k < r->n[i]; k++) {
			pw_lit(w, k ? ",[" : "[");
			pw_real(w, r->p[i][k].t_s);
			pw_lit(w, ",");
			pw_real(w, r->p[i][k].v);
			pw_lit(w, "]");
		}
		pw_lit(w, "]");
	}
	pw_lit(w, "],\"received\":[");
	for (int i = 0; i < r->n_fields; i++) {
		pw_lit(w, i ? "," : "");
		pw_int(w, r->received[i]);
	}
	pw_lit(w, "]}");
}

static void pl_enc_evidence(struct pw *w, const struct payload_evidence *e)
{
	if (e->n_fields < 0 || e->n_fields > PAYLOAD_EVIDENCE_FIELDS || e->n_rows < 0 ||
	    e->n_rows > PAYLOAD_EVIDENCE_ROWS) {
		pw_fail(w, PAYLOAD_E_VALUE);
		return;
	}
	pw_lit(w, "{\"from\":");
	pl_enc_time(w, e->from_ms);
	pw_lit(w, ",\"fields\":[");
	for (int i = 0; i < e->n_fields; i++) {
		if (i)
			pw_lit(w, ",");
		if ((unsigned)e->fields[i] >= SIG_COUNT) {
			pw_fail(w, PAYLOAD_E_VALUE);
			return;
		}
		pw_cstr(w, sig_name(e->fields[i]), 64);
	}
	pw_lit(w, "],\"rows\":[");
	for (int r = 0; r < e->n_rows; r++) {
		const struct payload_evidence_row *row = &e->rows[r];

		pw_lit(w, r ? ",[" : "[");
		pw_real(w, row->t_s);
		for (int i = 0; i < e->n_fields; i++) {
			pw_lit(w, ",");
			if (row->have & (1u << i))
				pw_real(w, row->v[i]);
			else
				pw_lit(w, "null");
		}
		pw_lit(w, "]");
	}
	pw_lit(w, "],\"skipped_s\":");
	pw_real(w, e->skipped_s);
	if (e->raw.n_fields)
		pl_enc_raw(w, &e->raw);
	pw_lit(w, "}");
}

/* The fields of f[n] that base holds, continuing an object. */
static void pl_enc_fields(struct pw *w, int *first, const void *base, const struct pl_field *f,
			  int n)
{
	for (int i = 0; i < n && !w->err; i++) {
		const char *p = (const char *)base + f[i].off;

		switch (f[i].kind) {
		case K_STR:
			if (f[i].opt && !p[0])
				continue;
			pw_key(w, first, f[i].key);
			pw_cstr(w, p, f[i].size);
			break;
		case K_REAL:
			if (f[i].opt && isnan(*(const double *)p))
				continue;
			pw_key(w, first, f[i].key);
			pw_real(w, *(const double *)p);
			break;
		case K_INT:
		case K_TIME:
			if (*(const int64_t *)p == PAYLOAD_NO_INT) {
				if (f[i].opt)
					continue;
				{
					pw_fail(w, PAYLOAD_E_VALUE);
					return;
				}
			}
			pw_key(w, first, f[i].key);
			if (f[i].kind == K_INT)
				pw_int(w, *(const int64_t *)p);
			else
				pl_enc_time(w, *(const int64_t *)p);
			break;
		case K_BOOL:
			pw_key(w, first, f[i].key);
			pw_lit(w, *(const int *)p ? "true" : "false");
			break;
		case K_STAGES:
			pw_key(w, first, f[i].key);
			pl_enc_stages(w, (const struct payload_stages *)p);
			break;
		case K_DTCS:
			pw_key(w, first, f[i].key);
			pl_enc_dtcs(w, (const struct payload_dtcs *)p);
			break;
		case K_RATIOS: /* optional: absent when empty */
			if (f[i].opt && ((const struct payload_ratios *)p)->n == 0)
				continue;
			pw_key(w, first, f[i].key);
			pl_enc_ratios(w, (const struct payload_ratios *)p);
			break;
		case K_EVIDENCE:
			if (!*(const struct payload_evidence *const *)p) {
				if (f[i].opt)
					continue;
				{
					pw_fail(w, PAYLOAD_E_VALUE);
					return;
				}
			}
			pw_key(w, first, f[i].key);
			pl_enc_evidence(w, *(const struct payload_evidence *const *)p);
			break;
		}
	}
}

static void pl_enc_pos(struct pw *w, int *first, const struct payload_pos *pos)
{
	int inner = 1;

	if (!pos->present)
		return;
	pw_key(w, first, "pos");
	pw_lit(w, "{");
	pl_enc_fields(w, &inner, pos, pl_pos, (int)(sizeof(pl_pos) / sizeof(pl_pos[0])));
	pw_lit(w, "}");
}

/* "{" and the header; the body's keys follow. */
static void pl_enc_header(struct pw *w, const struct payload_header *h)
{
	pw_lit(w, "{\"v\":");
	pw_int(w, h->v);
	pw_lit(w, ",\"dev\":");
	pw_cstr(w, h->dev, sizeof(h->dev));
	if (h->sid[0]) {
		pw_lit(w, ",\"sid\":");
		pw_cstr(w, h->sid, sizeof(h->sid));
	}
	pw_lit(w, ",\"boot\":");
	pw_int(w, (int64_t)h->boot);
	pw_lit(w, ",\"seq\":");
	pw_int(w, (int64_t)h->seq);
	pw_lit(w, ",\"ts\":");
	pl_enc_time(w, h->ts_ms);
	pw_lit(w, ",\"ts_src\":\"");
	pw_lit(w, payload_ts_src_name(h->ts_src));
	pw_lit(w, "\",\"mono_ms\":");
	pw_int(w, h->mono_ms);
}

static int pl_finish(struct pw *w)
{
	pw_lit(w, "}");
	if (w->err) {
		if (w->size)
			w->buf[0] = '\0';
		return w->err;
	}
	w->buf[w->len] = '\0';
	return (int)w->len;
}

static void pl_enc_sig(struct pw *w, const struct payload_record *rec)
{
	char key[PAYLOAD_CUSTOM_NAME + 8];
	int first = 1;

	pw_lit(w, "{");
	for (int inst = 0; inst < PAYLOAD_INSTANCES; inst++)
		for (int s = 0; s < SIG_COUNT; s++) {
			if (!(rec->have[inst] & UINT64_C(1) << s))
				continue;
			if (inst == 0)
				snprintf(key, sizeof(key), "%s", sig_name((enum sig_id)s));
			else
				snprintf(key, sizeof(key), "%s@%d", sig_name((enum sig_id)s), inst);
			pw_key(w, &first, key);
			pw_real(w, rec->v[inst][s]);
		}
	for (int i = 0; i < rec->n_custom && i < PAYLOAD_MAX_CUSTOM; i++) {
		const struct payload_custom *c = &rec->custom[i];

		if (strnlen(c->name, sizeof(c->name)) == sizeof(c->name)) {
			pw_fail(w, PAYLOAD_E_VALUE);
			return;
		}
		if (c->instance > 0)
			snprintf(key, sizeof(key), "%s@%d", c->name, c->instance);
		else
			snprintf(key, sizeof(key), "%s", c->name);
		pw_key(w, &first, key);
		if (c->is_text)
			pw_cstr(w, c->text, sizeof(c->text));
		else
			pw_real(w, c->value);
	}
	pw_lit(w, "}");
}

int payload_encode_record(const struct payload_header *h, const struct payload_record *rec,
			  char *buf, size_t size)
{
	struct pw w = {buf, size, 0, 0};
	int first = 0;

	if (size == 0)
		return PAYLOAD_E_SPACE;
	pl_enc_header(&w, h);
	pw_key(&w, &first, "sig");
	pl_enc_sig(&w, rec);
	pl_enc_pos(&w, &first, &rec->pos);
	if (rec->trigger[0]) {
		pw_key(&w, &first, "trigger");
		pw_cstr(&w, rec->trigger, sizeof(rec->trigger));
	}
	return pl_finish(&w);
}

int payload_encode_event(const struct payload_header *h, const struct payload_event *ev, char *buf,
			 size_t size)
{
	struct pw w = {buf, size, 0, 0};
	const struct pl_type *t;
	int first = 0;

	if (size == 0)
		return PAYLOAD_E_SPACE;
	if (ev->type <= PAYLOAD_RECORD || ev->type >= PAYLOAD_TYPE_COUNT)
		return PAYLOAD_E_TYPE;
	t = &pl_types[ev->type];
	pl_enc_header(&w, h);
	pw_key(&w, &first, "type");
	pw_lit(&w, "\"");
	pw_lit(&w, t->name);
	pw_lit(&w, "\"");
	pl_enc_fields(&w, &first, ev, t->f, t->n);
	pl_enc_pos(&w, &first, &ev->pos);
	return pl_finish(&w);
}

/* ---- decoding ----------------------------------------------------------------------- */

static int pl_dec_str(json_t *v, char *dst, size_t size)
{
	size_t n;

	if (!json_is_string(v))
		return PAYLOAD_E_FIELD;
	n = json_string_length(v);
	if (n >= size || strlen(json_string_value(v)) != n)
		return PAYLOAD_E_FIELD;
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

static int pl_dec_time(json_t *v, int64_t *ms)
{
	if (!json_is_string(v))
		return PAYLOAD_E_FIELD;
	return payload_parse_iso(json_string_value(v), ms);
}

static int pl_dec_int(json_t *v, int64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) == PAYLOAD_NO_INT)
		return PAYLOAD_E_FIELD;
	*out = json_integer_value(v);
	return 0;
}

static int pl_dec_dtcs(json_t *v, struct payload_dtcs *l)
{
	size_t i;
	json_t *c;
	int64_t spn;

	if (!json_is_array(v) || json_array_size(v) > PAYLOAD_MAX_DTCS)
		return PAYLOAD_E_FIELD;
	l->n = 0;
	json_array_foreach(v, i, c)
	{
		struct payload_dtc *d = &l->d[l->n];

		if (!json_is_object(c) || pl_dec_int(json_object_get(c, "spn"), &spn) < 0 ||
		    spn < 0 || spn > UINT32_MAX ||
		    pl_dec_int(json_object_get(c, "fmi"), &d->fmi) < 0 ||
		    pl_dec_int(json_object_get(c, "oc"), &d->oc) < 0)
			return PAYLOAD_E_FIELD;
		d->spn = (uint32_t)spn;
		l->n++;
	}
	return 0;
}

static int pl_dec_ratios(json_t *v, struct payload_ratios *l)
{
	size_t i;
	json_t *c;
	int64_t spn;

	if (!json_is_array(v) || json_array_size(v) > PAYLOAD_MAX_RATIOS)
		return PAYLOAD_E_FIELD;
	l->n = 0;
	json_array_foreach(v, i, c)
	{
		struct payload_ratio *r = &l->r[l->n];

		if (!json_is_object(c) || pl_dec_int(json_object_get(c, "spn"), &spn) < 0 ||
		    spn < 0 || spn > UINT32_MAX ||
		    pl_dec_int(json_object_get(c, "num"), &r->num) < 0 ||
		    pl_dec_int(json_object_get(c, "den"), &r->den) < 0)
			return PAYLOAD_E_FIELD;
		r->spn = (uint32_t)spn;
		l->n++;
	}
	return 0;
}

static int pl_dec_stages(json_t *v, struct payload_stages *l)
{
	size_t i;
	json_t *s;

	if (!json_is_array(v) || json_array_size(v) > PAYLOAD_MAX_STAGES)
		return PAYLOAD_E_FIELD;
	l->n = 0;
	json_array_foreach(v, i, s)
	{
		if (pl_dec_int(s, &l->s[l->n]) < 0)
			return PAYLOAD_E_FIELD;
		l->n++;
	}
	return 0;
}

static int pl_dec_row(json_t *a, int n_fields, struct payload_evidence_row *row)
{
	json_t *x;

	if (!json_is_array(a) || json_array_size(a) != (size_t)n_fields + 1 ||
	    !json_is_number(json_array_get(a, 0)))
		return PAYLOAD_E_FIELD;
	row->t_s = json_number_value(json_array_get(a, 0));
	row->have = 0;
	for (int i = 0; i < n_fields; i++) {
		x = json_array_get(a, (size_t)i + 1);
		row->v[i] = 0;
		if (json_is_null(x))
			continue;
		if (!json_is_number(x))
			return PAYLOAD_E_FIELD;
		row->v[i] = json_number_value(x);
		row->have |= 1u << i;
	}
	return 0;
}

static int pl_dec_raw_field(json_t *rows, json_t *n, struct payload_raw *r, int i)
{
	size_t k;
	json_t *x;

	if (!json_is_array(rows) || json_array_size(rows) > PAYLOAD_RAW_POINTS ||
	    pl_dec_int(n, &r->received[i]) < 0)
		return PAYLOAD_E_FIELD;
	r->n[i] = 0;
	json_array_foreach(rows, k, x)
	{
		json_t *t = json_array_get(x, 0), *v = json_array_get(x, 1);

		if (!json_is_array(x) || json_array_size(x) != 2 || !json_is_number(t) ||
		    !json_is_number(v))
			return PAYLOAD_E_FIELD;
		r->p[i][k] = (struct payload_raw_point){json_number_value(t), json_number_value(v)};
		r->n[i]++;
	}
	return 0;
}

/* The optional raw part of an evidence (absent: n_fields 0). */
static int pl_dec_raw(json_t *v, struct payload_raw *r)
{
	json_t *fields = json_object_get(v, "fields"), *rows = json_object_get(v, "rows");
	json_t *received = json_object_get(v, "received"), *x;
	size_t i, n;
	int s;

	r->n_fields = 0;
	if (!v)
		return 0;
	n = json_array_size(fields);
	if (!json_is_object(v) || !json_is_array(fields) || n > PAYLOAD_RAW_FIELDS ||
	    json_array_size(rows) != n || json_array_size(received) != n)
		return PAYLOAD_E_FIELD;
	json_array_foreach(fields, i, x)
	{
		if (!json_is_string(x) || (s = sig_lookup(json_string_value(x))) < 0 ||
		    pl_dec_raw_field(json_array_get(rows, i), json_array_get(received, i), r,
				     (int)i) < 0)
			return PAYLOAD_E_FIELD;
		r->fields[i] = (enum sig_id)s;
		r->n_fields++;
	}
	return 0;
}

static int pl_dec_evidence(json_t *v, struct payload_evidence *e)
{
	json_t *fields = json_object_get(v, "fields"), *rows = json_object_get(v, "rows"), *x;
	json_t *skipped = json_object_get(v, "skipped_s");
	size_t i;
	int s;

	if (!json_is_object(v) || pl_dec_time(json_object_get(v, "from"), &e->from_ms) < 0 ||
	    !json_is_array(fields) || json_array_size(fields) > PAYLOAD_EVIDENCE_FIELDS ||
	    !json_is_array(rows) || json_array_size(rows) > PAYLOAD_EVIDENCE_ROWS ||
	    !json_is_number(skipped))
		return PAYLOAD_E_FIELD;
	e->n_fields = 0;
	json_array_foreach(fields, i, x)
	{
		if (!json_is_string(x) || (s = sig_lookup(json_string_value(x))) < 0)
			return PAYLOAD_E_FIELD;
		e->fields[e->n_fields++] = (enum sig_id)s;
	}
	e->n_rows = 0;
	json_array_foreach(rows, i, x)
	{
		if (pl_dec_row(x, e->n_fields, &e->rows[e->n_rows]) < 0)
			return PAYLOAD_E_FIELD;
		e->n_rows++;
	}
	e->skipped_s = json_number_value(skipped);
	return pl_dec_raw(json_object_get(v, "raw"), &e->raw);
}

/* The fields of f[n] from obj into base (evidence into evb, or skipped). */
static int pl_dec_fields(json_t *obj, void *base, const struct pl_field *f, int n,
			 struct payload_evidence *evb)
{
	for (int i = 0; i < n; i++) {
		char *p = (char *)base + f[i].off;
		json_t *v = json_object_get(obj, f[i].key);
		int rc = 0;

		if (!v) {
			if (!f[i].opt)
				return PAYLOAD_E_FIELD;
			continue; /* left absent by the init */
		}
		switch (f[i].kind) {
		case K_STR:
			rc = pl_dec_str(v, p, f[i].size);
			if (rc == 0 && f[i].opt && !p[0])
				rc = PAYLOAD_E_FIELD; /* "" is how absence is kept */
			break;
		case K_REAL:
			if (!json_is_number(v))
				return PAYLOAD_E_FIELD;
			*(double *)p = json_number_value(v);
			break;
		case K_INT:
			rc = pl_dec_int(v, (int64_t *)p);
			break;
		case K_TIME:
			rc = pl_dec_time(v, (int64_t *)p);
			break;
		case K_BOOL:
			if (!json_is_boolean(v))
				return PAYLOAD_E_FIELD;
			*(int *)p = json_is_true(v);
			break;
		case K_STAGES:
			rc = pl_dec_stages(v, (struct payload_stages *)p);
			break;
		case K_DTCS:
			rc = pl_dec_dtcs(v, (struct payload_dtcs *)p);
			break;
		case K_RATIOS:
			rc = pl_dec_ratios(v, (struct payload_ratios *)p);
			break;
		case K_EVIDENCE:
			if (!evb)
				break;
			rc = pl_dec_evidence(v, evb);
			if (rc == 0)
				*(const struct payload_evidence **)p = evb;
			break;
		}
		if (rc < 0)
			return rc < PAYLOAD_E_FIELD ? rc : PAYLOAD_E_FIELD;
	}
	return 0;
}

static int pl_dec_pos(json_t *obj, struct payload_pos *pos)
{
	json_t *v = json_object_get(obj, "pos");
	int rc;

	payload_pos_init(pos);
	if (!v)
		return 0;
	if (!json_is_object(v))
		return PAYLOAD_E_FIELD;
	rc = pl_dec_fields(v, pos, pl_pos, (int)(sizeof(pl_pos) / sizeof(pl_pos[0])), NULL);
	pos->present = rc == 0;
	return rc;
}

static int pl_dec_header(json_t *o, struct payload_header *h)
{
	int64_t v;
	const char *src;

	memset(h, 0, sizeof(*h));
	if (pl_dec_int(json_object_get(o, "v"), &h->v) < 0 ||
	    pl_dec_str(json_object_get(o, "dev"), h->dev, sizeof(h->dev)) < 0 ||
	    pl_dec_int(json_object_get(o, "boot"), &v) < 0 || v < 0)
		return PAYLOAD_E_FIELD;
	h->boot = (uint64_t)v;
	/* optional: rows stored before the store had an id carry none */
	if (json_object_get(o, "sid") &&
	    pl_dec_str(json_object_get(o, "sid"), h->sid, sizeof(h->sid)) < 0)
		return PAYLOAD_E_FIELD;
	if (pl_dec_int(json_object_get(o, "seq"), &v) < 0 || v < 0)
		return PAYLOAD_E_FIELD;
	h->seq = (uint64_t)v;
	if (pl_dec_time(json_object_get(o, "ts"), &h->ts_ms) < 0 ||
	    pl_dec_int(json_object_get(o, "mono_ms"), &h->mono_ms) < 0)
		return PAYLOAD_E_FIELD;
	src = json_string_value(json_object_get(o, "ts_src"));
	for (h->ts_src = 0; src && h->ts_src < PAYLOAD_TS_COUNT; h->ts_src++)
		if (strcmp(payload_ts_names[h->ts_src], src) == 0)
			return 0;
	return PAYLOAD_E_FIELD;
}

static json_t *pl_load(const char *text, size_t len)
{
	json_t *o = json_loadb(text, len, 0, NULL);

	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One key of sig into rec. */
static int pl_dec_sig_value(struct payload_record *rec, const char *key, json_t *v)
{
	char name[PAYLOAD_CUSTOM_NAME];
	int inst, s;

	if (pl_split_key(key, name, sizeof(name), &inst) < 0)
		return PAYLOAD_E_FIELD;
	s = sig_lookup(name);
	if (s >= 0 && inst < PAYLOAD_INSTANCES) {
		if (!json_is_number(v))
			return PAYLOAD_E_FIELD;
		payload_record_set(rec, (enum sig_id)s, inst, json_number_value(v));
		return 0;
	}
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
		return payload_record_custom(rec, name, inst, json_string_value(v), 0) < 0
			   ? PAYLOAD_E_FIELD
			   : 0;
	if (!json_is_number(v))
		return PAYLOAD_E_FIELD;
	return payload_record_custom(rec, name, inst, NULL, json_number_value(v)) < 0
		   ? PAYLOAD_E_FIELD
		   : 0;
}

int payload_decode_record(const char *text, size_t len, struct payload_header *h,
			  struct payload_record *rec)
{
	json_t *o = pl_load(text, len), *sig, *v;
	const char *key;
	int rc;

	if (!o)
		return PAYLOAD_E_JSON;
	payload_record_init(rec);
	rc = pl_dec_header(o, h);
	sig = json_object_get(o, "sig");
	if (rc == 0 && !json_is_object(sig))
		rc = PAYLOAD_E_FIELD;
	if (rc == 0)
		json_object_foreach(sig, key,
				    v) if ((rc = pl_dec_sig_value(rec, key, v)) < 0) break;
	if (rc == 0)
		rc = pl_dec_pos(o, &rec->pos);
	v = json_object_get(o, "trigger");
	if (rc == 0 && v &&
	    (pl_dec_str(v, rec->trigger, sizeof(rec->trigger)) < 0 || !rec->trigger[0]))
		rc = PAYLOAD_E_FIELD;
	json_decref(o);
	return rc;
}

int payload_decode_event(const char *text, size_t len, struct payload_header *h,
			 struct payload_event *ev, struct payload_evidence *evidence)
{
	json_t *o = pl_load(text, len);
	const char *type;
	int rc, t;

	if (!o)
		return PAYLOAD_E_JSON;
	rc = pl_dec_header(o, h);
	type = json_string_value(json_object_get(o, "type"));
	t = type ? payload_type_lookup(type) : PAYLOAD_E_FIELD;
	if (rc == 0 && (t < 0 || t == PAYLOAD_RECORD))
		rc = t == PAYLOAD_E_FIELD ? t : PAYLOAD_E_TYPE;
	if (rc == 0) {
		payload_event_init(ev, (enum payload_type)t);
		rc = pl_dec_fields(o, ev, pl_types[t].f, pl_types[t].n, evidence);
	}
	if (rc == 0)
		rc = pl_dec_pos(o, &ev->pos);
	json_decref(o);
	return rc;
}
