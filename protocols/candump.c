#include "protocols/candump.h"

#include <stddef.h>
#include <string.h>

/*
 * Lines this parser reads (can-utils candump):
 *   -l log:  (1543509533.000838) can0 0CF00400#207D87481400F087
 *            (1543509533.000838) can0 123#R      remote frame (optional DLC digit)
 *            ... 0CF00400#2011 T                 -x adds " T" or " R" (direction)
 *   screen:  [(1543509533.000838)]  can0  0CF00400   [8]  20 7D 87 48 14 00 F0 87
 *            can0  123   [2]  remote request
 * The timestamp is optional in both.  Identifiers: 3 hex digits standard,
 * 8 extended.  CAN FD (`##` or a two-digit `[NN]`) is refused with
 * CANDUMP_EFD, since J1939 over classic CAN is what we decode.
 */

#define CANDUMP_MAX_SEC ((INT64_MAX - 999999) / 1000000)

struct candump_tok {
	const char *s;
	size_t n;
};

static int candump_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int candump_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char *candump_skip_space(const char *p)
{
	while (candump_is_space(*p))
		p++;
	return p;
}

/* Next whitespace-delimited token at p (after spaces); p moves past it. */
static struct candump_tok candump_next(const char **p)
{
	struct candump_tok t;

	t.s = candump_skip_space(*p);
	t.n = 0;
	while (t.s[t.n] && !candump_is_space(t.s[t.n]))
		t.n++;
	*p = t.s + t.n;
	return t;
}

/* Two hex digits at s into *byte. */
static int candump_hex_byte(const char *s, uint8_t *byte)
{
	int hi = candump_hex(s[0]), lo;

	if (hi < 0)
		return -1;
	lo = candump_hex(s[1]);
	if (lo < 0)
		return -1;
	*byte = (uint8_t)(hi << 4 | lo);
	return 0;
}

/*
 * "(SEC.FRAC)" with 1-6 fraction digits, into integer microseconds: digits
 * are accumulated as integers so 1543509533.000838 stays exact (a double
 * has no room for 16 significant digits plus rounding).
 */
static int candump_parse_time(const char **pp, int64_t *t_us)
{
	const char *p = *pp + 1;
	int64_t sec = 0, frac = 0;
	int nsec = 0, nfrac = 0;

	for (; *p >= '0' && *p <= '9'; p++, nsec++) {
		int d = *p - '0';

		if (sec > (CANDUMP_MAX_SEC - d) / 10)
			return CANDUMP_ETIME;
		sec = sec * 10 + d;
	}
	if (nsec == 0 || *p != '.')
		return CANDUMP_ETIME;
	for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
		if (nfrac == 6)
			return CANDUMP_ETIME;
		frac = frac * 10 + (*p - '0');
	}
	if (nfrac == 0 || *p != ')')
		return CANDUMP_ETIME;
	for (; nfrac < 6; nfrac++)
		frac *= 10;
	*t_us = sec * 1000000 + frac;
	*pp = p + 1;
	return CANDUMP_OK;
}

/* Identifier: 3 hex digits standard (<= 0x7FF), 8 extended (29 bits). */
static int candump_parse_id(struct candump_tok t, struct candump_frame *out)
{
	uint32_t id = 0;

	if (t.n != 3 && t.n != 8)
		return CANDUMP_EID;
	for (size_t i = 0; i < t.n; i++) {
		int h = candump_hex(t.s[i]);

		if (h < 0)
			return CANDUMP_EID;
		id = id << 4 | (uint32_t)h;
	}
	out->extended = t.n == 8;
	if (id > (out->extended ? 0x1FFFFFFFu : 0x7FFu))
		return CANDUMP_EID; /* e.g. an error frame's CAN_ERR_FLAG */
	out->can_id = id;
	return CANDUMP_OK;
}

/* Only spaces left, or the single " T"/" R" direction mark of candump -x. */
static int candump_log_tail(const char *p)
{
	struct candump_tok t = candump_next(&p);

	if (t.n == 0)
		return CANDUMP_OK;
	if (t.n != 1 || (t.s[0] != 'T' && t.s[0] != 'R'))
		return CANDUMP_EFORMAT;
	return *candump_skip_space(p) ? CANDUMP_EFORMAT : CANDUMP_OK;
}

/* The part after '#' of "ID#DATA": hex pairs, or R with an optional DLC. */
static int candump_log_data(const char *s, size_t n, struct candump_frame *out)
{
	if (n > 0 && s[0] == '#')
		return CANDUMP_EFD;
	if (n > 0 && (s[0] == 'R' || s[0] == 'r')) {
		out->rtr = 1;
		if (n == 1)
			return CANDUMP_OK;
		if (n == 2 && s[1] >= '0' && s[1] <= '8') {
			out->len = (uint8_t)(s[1] - '0');
			return CANDUMP_OK;
		}
		return CANDUMP_EDATA;
	}
	if (n % 2 != 0 || n / 2 > sizeof(out->data))
		return CANDUMP_EDATA;
	for (size_t i = 0; i < n / 2; i++)
		if (candump_hex_byte(s + 2 * i, &out->data[i]) < 0)
			return CANDUMP_EDATA;
	out->len = (uint8_t)(n / 2);
	return CANDUMP_OK;
}

/* "ID#DATA" then the tail. */
static int candump_parse_log(struct candump_tok t, const char *rest, struct candump_frame *out)
{
	const char *hash = memchr(t.s, '#', t.n);
	struct candump_tok id = {t.s, (size_t)(hash - t.s)};
	int rc;

	rc = candump_parse_id(id, out);
	if (rc < 0)
		return rc;
	rc = candump_log_data(hash + 1, t.n - id.n - 1, out);
	if (rc < 0)
		return rc;
	return candump_log_tail(rest);
}

/* "[N]" after the identifier: one digit 0-8; two digits is CAN FD. */
static int candump_screen_len(struct candump_tok t, struct candump_frame *out)
{
	if (t.n < 2 || t.s[0] != '[' || t.s[t.n - 1] != ']')
		return CANDUMP_EFORMAT;
	if (t.n == 4 && t.s[1] >= '0' && t.s[1] <= '9' && t.s[2] >= '0' && t.s[2] <= '9')
		return CANDUMP_EFD;
	if (t.n != 3 || t.s[1] < '0' || t.s[1] > '8')
		return CANDUMP_EDATA;
	out->len = (uint8_t)(t.s[1] - '0');
	return CANDUMP_OK;
}

/* "ID  [N]  B0 B1 ..." or "ID  [N]  remote request". */
static int candump_parse_screen(struct candump_tok t, const char *p, struct candump_frame *out)
{
	static const char remote[] = "remote request";
	struct candump_tok b;
	int rc;

	/* Check the shape before the identifier, so that prose is EFORMAT. */
	rc = candump_screen_len(candump_next(&p), out);
	if (rc < 0)
		return rc;
	rc = candump_parse_id(t, out);
	if (rc < 0)
		return rc;
	p = candump_skip_space(p);
	if (strncmp(p, remote, sizeof(remote) - 1) == 0) {
		out->rtr = 1;
		p += sizeof(remote) - 1;
		return *candump_skip_space(p) ? CANDUMP_EFORMAT : CANDUMP_OK;
	}
	for (uint8_t i = 0; i < out->len; i++) {
		b = candump_next(&p);
		if (b.n != 2 || candump_hex_byte(b.s, &out->data[i]) < 0)
			return CANDUMP_EDATA;
	}
	b = candump_next(&p);
	if (b.n == 0)
		return CANDUMP_OK;
	/* One more byte-shaped token is a count mismatch, anything else garbage. */
	if (b.n == 2 && candump_hex(b.s[0]) >= 0 && candump_hex(b.s[1]) >= 0)
		return CANDUMP_EDATA;
	return CANDUMP_EFORMAT;
}

int candump_parse_line(const char *line, struct candump_frame *out)
{
	struct candump_tok ifn, t;
	const char *p;
	int rc;

	if (!line || !out)
		return CANDUMP_EFORMAT;
	memset(out, 0, sizeof(*out));
	p = candump_skip_space(line);
	if (*p == '\0' || *p == '#')
		return CANDUMP_SKIP;
	if (*p == '(') {
		rc = candump_parse_time(&p, &out->t_us);
		if (rc < 0)
			return rc;
		if (!candump_is_space(*p))
			return CANDUMP_EFORMAT;
		out->has_time = 1;
	}
	ifn = candump_next(&p);
	if (ifn.n == 0 || ifn.n >= sizeof(out->ifname) || memchr(ifn.s, '#', ifn.n))
		return CANDUMP_EFORMAT;
	memcpy(out->ifname, ifn.s, ifn.n);
	out->ifname[ifn.n] = '\0';
	t = candump_next(&p);
	if (t.n == 0)
		return CANDUMP_EFORMAT;
	if (memchr(t.s, '#', t.n))
		return candump_parse_log(t, p, out);
	return candump_parse_screen(t, p, out);
}

const char *candump_strerror(int err)
{
	switch (err) {
	case CANDUMP_OK:
		return "ok";
	case CANDUMP_SKIP:
		return "blank line or comment";
	case CANDUMP_EFORMAT:
		return "not a candump line";
	case CANDUMP_EID:
		return "bad CAN identifier";
	case CANDUMP_EDATA:
		return "bad data bytes or length";
	case CANDUMP_ETIME:
		return "bad timestamp";
	case CANDUMP_EFD:
		return "CAN FD frame not supported";
	}
	return "unknown error";
}
