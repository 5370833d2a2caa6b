#include "protocols/canboat.h"

#include <stddef.h>
#include <string.h>

/*
 * Timestamps accepted (all read as UTC; 'Z' optional):
 *   2016-02-28T19:57:02.825Z   ISO 8601, as CANboat writes today
 *   2016-02-28 19:57:02.825    a space instead of 'T'
 *   2016-02-28-19:57:02.825    CANboat's older form
 * with 0-9 fraction digits (beyond microseconds truncated), years
 * 1970-9999, no leap second (:60), or an empty field (no time).  The
 * conversion is done here with integer arithmetic, not timegm(): no
 * TZ or locale, no time_t range, no allocation.
 */

static int canboat_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int canboat_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int canboat_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly n decimal digits at *pp into *v; *pp moves past them. */
static int canboat_digits(const char **pp, int n, int *v)
{
	const char *p = *pp;
	int x = 0;

	for (int i = 0; i < n; i++, p++) {
		if (!canboat_is_digit(*p))
			return -1;
		x = x * 10 + (*p - '0');
	}
	*v = x;
	*pp = p;
	return 0;
}

static int canboat_expect(const char **pp, char c)
{
	if (**pp != c)
		return -1;
	(*pp)++;
	return 0;
}

static int canboat_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int canboat_mdays(int y, int m)
{
	static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return mdays[m - 1] + (m == 2 && canboat_leap(y));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil; years here are >= 1970, so no negative-era care). */
static int64_t canboat_days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The timestamp field [p, end) into microseconds since the epoch. */
static int canboat_parse_time(const char *p, const char *end, int64_t *t_us)
{
	int y, mo, d, h, mi, s, nfrac = 0;
	int64_t frac = 0;

	if (canboat_digits(&p, 4, &y) || canboat_expect(&p, '-') || canboat_digits(&p, 2, &mo) ||
	    canboat_expect(&p, '-') || canboat_digits(&p, 2, &d))
		return CANBOAT_ETIME;
	if (*p != 'T' && *p != ' ' && *p != '-')
		return CANBOAT_ETIME;
	p++;
	if (canboat_digits(&p, 2, &h) || canboat_expect(&p, ':') || canboat_digits(&p, 2, &mi) ||
	    canboat_expect(&p, ':') || canboat_digits(&p, 2, &s))
		return CANBOAT_ETIME;
	if (p < end && *p == '.') {
		for (p++; p < end && canboat_is_digit(*p); p++, nfrac++) {
			if (nfrac == 9)
				return CANBOAT_ETIME;
			if (nfrac < 6)
				frac = frac * 10 + (*p - '0');
		}
		if (nfrac == 0)
			return CANBOAT_ETIME;
	}
	for (; nfrac < 6; nfrac++)
		frac *= 10;
	if (p < end && *p == 'Z')
		p++;
	if (p != end)
		return CANBOAT_ETIME;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > canboat_mdays(y, mo) || h > 23 ||
	    mi > 59 || s > 59)
		return CANBOAT_ETIME;
	*t_us = ((canboat_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s;
	*t_us = *t_us * 1000000 + frac;
	return CANBOAT_OK;
}

/* A decimal field [p, end): 1-7 digits, no sign or spaces, at most max. */
static int canboat_parse_uint(const char *p, const char *end, uint32_t max, uint32_t *v)
{
	uint32_t x = 0;

	if (p == end || end - p > 7)
		return CANBOAT_EFORMAT;
	for (; p < end; p++) {
		if (!canboat_is_digit(*p))
			return CANBOAT_EFORMAT;
		x = x * 10 + (uint32_t)(*p - '0');
	}
	if (x > max)
		return CANBOAT_ERANGE;
	*v = x;
	return CANBOAT_OK;
}

/* The end of the field starting at p: the next comma or lim. */
static const char *canboat_field_end(const char *p, const char *lim)
{
	while (p < lim && *p != ',')
		p++;
	return p;
}

/* The data bytes [p, lim) after the length field: exactly len fields of two
 * hex digits. */
static int canboat_parse_data(const char *p, const char *lim, struct canboat_msg *out)
{
	unsigned n = 0;

	while (p < lim) {
		const char *s = p + 1; /* p is at a comma */
		const char *e = canboat_field_end(s, lim);
		int hi, lo;

		if (n == CANBOAT_MAX_DATA || n == out->len)
			return CANBOAT_ECOUNT;
		if (e - s != 2)
			return CANBOAT_EDATA;
		hi = canboat_hex(s[0]);
		lo = canboat_hex(s[1]);
		if (hi < 0 || lo < 0)
			return CANBOAT_EDATA;
		out->data[n++] = (uint8_t)(hi << 4 | lo);
		p = e;
	}
	return n == out->len ? CANBOAT_OK : CANBOAT_ECOUNT;
}

int canboat_parse_line(const char *line, struct canboat_msg *out)
{
	static const uint32_t max[5] = {7, 0x3FFFF, 255, 255, CANBOAT_MAX_DATA};
	uint32_t v[5];
	const char *p, *e, *lim;
	int rc;

	if (!line || !out)
		return CANBOAT_EFORMAT;
	memset(out, 0, sizeof(*out));
	while (canboat_is_space(*line))
		line++;
	if (*line == '\0' || *line == '#')
		return CANBOAT_SKIP;
	/* Trailing white space (CR, LF) is not part of the last field. */
	lim = line + strlen(line);
	while (canboat_is_space(lim[-1]))
		lim--;

	p = line;
	e = canboat_field_end(p, lim);
	if (e == lim)
		return CANBOAT_EFORMAT;
	if (e > p) {
		rc = canboat_parse_time(p, e, &out->t_us);
		if (rc < 0)
			return rc;
		out->has_time = 1;
	}
	for (int i = 0; i < 5; i++) {
		p = e + 1;
		e = canboat_field_end(p, lim);
		/* Every field but the length must be followed by another. */
		if (i < 4 && e == lim)
			return CANBOAT_EFORMAT;
		rc = canboat_parse_uint(p, e, max[i], &v[i]);
		if (rc < 0)
			return rc;
	}
	out->prio = (uint8_t)v[0];
	out->pgn = v[1];
	out->src = (uint8_t)v[2];
	out->dst = (uint8_t)v[3];
	out->len = (uint8_t)v[4];
	return canboat_parse_data(e, lim, out);
}

int canboat_looks_like(const char *line)
{
	static const char shape[] = "dddd-dd-dd";
	const char *p;

	if (!line)
		return 0;
	p = line;
	while (canboat_is_space(*p))
		p++;
	if (p[0] == ',' && canboat_is_digit(p[1]))
		return 1;
	for (size_t i = 0; i < sizeof(shape) - 1; i++, p++)
		if (shape[i] == 'd' ? !canboat_is_digit(*p) : *p != shape[i])
			return 0;
	if (*p != 'T' && *p != ' ' && *p != '-')
		return 0;
	return strchr(p, ',') != NULL;
}

const char *canboat_strerror(int err)
{
	switch (err) {
	case CANBOAT_OK:
		return "ok";
	case CANBOAT_SKIP:
		return "blank line or comment";
	case CANBOAT_EFORMAT:
		return "not a CANboat line";
	case CANBOAT_ETIME:
		return "bad timestamp";
	case CANBOAT_ERANGE:
		return "field out of range";
	case CANBOAT_EDATA:
		return "bad data byte";
	case CANBOAT_ECOUNT:
		return "number of data bytes differs from the length";
	}
	return "unknown error";
}
