#include "gateway/decode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/canfile.h"
#include "protocols/candec.h"
#include "protocols/canlog.h"
#include "protocols/signals.h"

/* Bad lines reported one by one; the rest only in the summary. */
#define DECODE_MAX_REPORTS 10

struct decode_stats {
	unsigned long lines;
	unsigned long decoded;
	unsigned long unknown; /* extended frames with a PGN we do not decode */
	unsigned long other;   /* standard-id and remote frames */
	unsigned long bad;     /* unparsable lines and short frames */
};

/* Reassembly state and buffers: too large for the stack. */
struct decode_ctx {
	struct candec dec;
	struct candec_msg msg;
	struct canlog_line line;
	struct canfile file;
};

/* A bad line: the first few on stderr as FILE:LINE: why, all counted. */
static void decode_bad(struct decode_stats *st, const char *name, const char *why, uint32_t pgn)
{
	st->bad++;
	if (st->bad > DECODE_MAX_REPORTS)
		return;
	if (pgn)
		fprintf(stderr, "<4>%s:%lu: PGN %" PRIu32 ": %s\n", name, st->lines, pgn, why);
	else
		fprintf(stderr, "<4>%s:%lu: %s\n", name, st->lines, why);
}

/*
 * Twelve significant digits: every value our SPN table can produce (at most
 * 4.2e9 raw counts, three decimals) prints exactly and without the noise of
 * %.17g; ".0" keeps integral values recognisable as reals.
 */
static void decode_put_number(FILE *out, double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.12g", v);
	fputs(buf, out);
	if (!strpbrk(buf, ".eEn"))
		fputs(".0", out);
}

/* "t" from integer microseconds, so the log's time comes back digit for digit. */
static void decode_put_time(FILE *out, int has_time, int64_t t_us)
{
	if (!has_time) {
		fputs("null", out);
		return;
	}
	fprintf(out, "%" PRId64 ".%06" PRId64, t_us / 1000000, t_us % 1000000);
}

static void decode_put_signals(FILE *out, const struct candec_msg *m)
{
	fputs(",\"signals\":{", out);
	for (int i = 0; i < m->n; i++) {
		fprintf(out, "%s\"%s\":", i ? "," : "", sig_name(m->v[i].sig));
		decode_put_number(out, m->v[i].value);
	}
	fputc('}', out);
	if (m->n_na)
		fprintf(out, ",\"na\":%d", m->n_na);
	if (m->n_error)
		fprintf(out, ",\"error\":%d", m->n_error);
	if (m->n_reserved)
		fprintf(out, ",\"reserved\":%d", m->n_reserved);
}

static void decode_put_dm1(FILE *out, const struct j1939dm_dm1 *dm)
{
	fprintf(out,
		",\"lamps\":{\"mil\":\"%s\",\"red_stop\":\"%s\",\"amber\":\"%s\","
		"\"protect\":\"%s\"},\"dtcs\":[",
		j1939dm_lamp_name(dm->mil), j1939dm_lamp_name(dm->red_stop),
		j1939dm_lamp_name(dm->amber), j1939dm_lamp_name(dm->protect));
	for (int i = 0; i < dm->n_dtcs; i++)
		fprintf(out, "%s{\"spn\":%" PRIu32 ",\"fmi\":%u,\"oc\":%u,\"cm\":%u}", i ? "," : "",
			dm->dtc[i].spn, dm->dtc[i].fmi, dm->dtc[i].oc, dm->dtc[i].cm);
	fputc(']', out);
	if (dm->n_truncated)
		fprintf(out, ",\"truncated\":%d", dm->n_truncated);
}

static void decode_put_dm5(FILE *out, const struct j1939dm_dm5 *d)
{
	uint16_t support, readiness;

	j1939dm_dm5_obd_words(d, &support, &readiness);
	fprintf(out,
		",\"dm5\":{\"active\":%u,\"previously_active\":%u,\"obd_compliance\":%u,"
		"\"continuous\":%u,\"nc_support\":%u,\"nc_status\":%u,\"obd_support\":%u,"
		"\"obd_readiness\":%u}",
		d->active, d->previously_active, d->obd_compliance, d->continuous, d->nc_support,
		d->nc_status, support, readiness);
}

/* Calibration ids are free text from the ECU: printable ASCII kept,
 * padding (NUL, spaces) dropped, anything else as \u00XX. */
static void decode_put_calid(FILE *out, const char *s)
{
	size_t n = strnlen(s, 16);

	while (n > 0 && s[n - 1] == ' ')
		n--;
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c > 0x7E)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void decode_put_dm19(FILE *out, const struct j1939dm_dm19 *d)
{
	fputs(",\"calibrations\":[", out);
	for (int i = 0; i < d->n; i++) {
		const uint8_t *c = d->cal[i].cvn;

		/* CVN sent least significant byte first: shown as its number. */
		fprintf(out, "%s{\"cal_id\":", i ? "," : "");
		decode_put_calid(out, d->cal[i].cal_id);
		fprintf(out, ",\"cvn\":\"%02X%02X%02X%02X\"}", c[3], c[2], c[1], c[0]);
	}
	fputc(']', out);
	if (d->n_truncated)
		fprintf(out, ",\"truncated\":%d", d->n_truncated);
}

static void decode_put_dm20(FILE *out, const struct j1939dm_dm20 *d)
{
	fprintf(out, ",\"ign_cycles\":%u,\"obd_conditions\":%u,\"ratios\":[", d->ign_cycles,
		d->obd_conditions);
	for (int i = 0; i < d->n; i++)
		fprintf(out, "%s{\"spn\":%" PRIu32 ",\"num\":%u,\"den\":%u}", i ? "," : "",
			d->r[i].spn, d->r[i].num, d->r[i].den);
	fputc(']', out);
	if (d->n_truncated)
		fprintf(out, ",\"truncated\":%d", d->n_truncated);
}

static void decode_put_claim(FILE *out, const struct j1939dm_name *n)
{
	fprintf(out,
		",\"claim\":{\"name\":\"%016" PRIx64 "\",\"identity\":%" PRIu32
		",\"manufacturer\":%u,\"function\":%u,\"function_instance\":%u,"
		"\"ecu_instance\":%u,\"vehicle_system\":%u,\"industry_group\":%u,"
		"\"arbitrary_address\":%s}",
		n->raw, n->identity, n->manufacturer, n->function, n->function_instance,
		n->ecu_instance, n->vehicle_system, n->industry_group,
		n->arbitrary_address ? "true" : "false");
}

/* The VIN as a JSON string: printable ASCII (j1939dm_vin_decode checks),
 * of which '"' and '\\' need escaping. */
static void decode_put_vin(FILE *out, const char *vin)
{
	fputs(",\"vin\":\"", out);
	for (const char *c = vin; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', out);
		fputc(*c, out);
	}
	fputc('"', out);
}

/* One JSON object a decoded message.  Names are fixed identifiers from our
 * own tables, so plain stdio is enough. */
static void decode_print(FILE *out, int has_time, int64_t t_us, const struct candec_msg *m)
{
	fputs("{\"t\":", out);
	decode_put_time(out, has_time, t_us);
	fprintf(out, ",\"sa\":%u,\"pgn\":%" PRIu32 ",\"name\":\"%s\"", (unsigned)m->sa, m->pgn,
		m->name);
	if (m->instance >= 0)
		fprintf(out, ",\"instance\":%d", m->instance);
	switch (m->kind) {
	case CANDEC_SIGNALS:
		decode_put_signals(out, m);
		break;
	case CANDEC_DM1:
		decode_put_dm1(out, &m->dm1);
		break;
	case CANDEC_VIN:
		decode_put_vin(out, m->vin);
		break;
	case CANDEC_CLAIM:
		decode_put_claim(out, &m->claim);
		break;
	case CANDEC_DM5:
		decode_put_dm5(out, &m->dm5);
		break;
	case CANDEC_DM19:
		decode_put_dm19(out, &m->dm19);
		break;
	case CANDEC_DM20:
		decode_put_dm20(out, &m->dm20);
		break;
	default:
		break;
	}
	fputs("}\n", out);
}

static void decode_result(int rc, const struct candec_msg *m, int has_time, int64_t t_us,
			  const char *name, FILE *out, struct decode_stats *st)
{
	if (rc < 0) {
		decode_bad(st, name, m->err, m->pgn);
		return;
	}
	if (rc == 0)
		return; /* a packet of a longer message */
	if (m->kind == CANDEC_UNKNOWN) {
		st->unknown++;
		return;
	}
	st->decoded++;
	decode_print(out, has_time, t_us, m);
}

/* One line of the log, as canlog tells it. */
static void decode_line(struct decode_ctx *c, const char *name, FILE *out, struct decode_stats *st)
{
	struct canlog_line *l = &c->line;
	int64_t now_ms;
	int rc;

	switch (l->kind) {
	case CANLOG_SKIP:
		return;
	case CANLOG_BAD:
		decode_bad(st, name, l->why, 0);
		return;
	case CANLOG_N2K:
		rc = candec_message(&c->dec, l->msg.pgn, l->msg.src, l->msg.dst, l->msg.data,
				    l->msg.len, &c->msg);
		decode_result(rc, &c->msg, l->has_time, l->t_us, name, out, st);
		return;
	case CANLOG_FRAME:
		break;
	}
	if (!l->frame.extended || l->frame.rtr) {
		st->other++;
		return;
	}
	/* Reassembly timeouts run on the log's time; without times, lines
	 * are taken as 10 ms apart. */
	now_ms = l->has_time ? l->t_us / 1000 : (int64_t)st->lines * 10;
	rc = candec_frame(&c->dec, l->frame.can_id, l->frame.data, l->frame.len, now_ms, &c->msg);
	decode_result(rc, &c->msg, l->has_time, l->t_us, name, out, st);
}

static void decode_summary(const char *name, const struct decode_stats *st)
{
	fprintf(stderr,
		"<6>%s: %lu lines, %lu frames decoded, %lu unknown PGNs, "
		"%lu other frames, %lu bad lines\n",
		name, st->lines, st->decoded, st->unknown, st->other, st->bad);
	if (st->bad > DECODE_MAX_REPORTS)
		fprintf(stderr, "<4>%s: %lu more bad lines not shown\n", name,
			st->bad - DECODE_MAX_REPORTS);
}

int decode_file(const char *path, FILE *out)
{
	struct decode_stats st = {0};
	struct decode_ctx *ctx;
	const char *name;
	FILE *in;
	int ret = 0, rc;

	if (!path || !out) {
		errno = EINVAL;
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		in = stdin;
		name = "<stdin>";
	} else {
		in = fopen(path, "r");
		name = path;
	}
	if (!in) {
		fprintf(stderr, "<3>%s: %s\n", path, strerror(errno));
		return -1;
	}
	ctx = malloc(sizeof(*ctx));
	if (!ctx) {
		fprintf(stderr, "<3>%s: out of memory\n", name);
		if (in != stdin)
			fclose(in);
		return -1;
	}
	candec_init(&ctx->dec);
	canfile_init(&ctx->file, in);
	errno = 0;
	while ((rc = canfile_next(&ctx->file)) > 0) {
		st.lines++;
		if (rc == CANFILE_LONG)
			canlog_too_long(&ctx->line);
		else
			canlog_parse(ctx->file.text, &ctx->line);
		decode_line(ctx, name, out, &st);
		errno = 0;
	}
	free(ctx);
	if (rc < 0) {
		fprintf(stderr, "<3>%s: read error after line %lu: %s\n", name, st.lines,
			strerror(errno ? errno : EIO));
		ret = -1;
	}
	if (in != stdin)
		fclose(in);
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "<3>%s: cannot write output: %s\n", name, strerror(errno));
		ret = -1;
	}
	decode_summary(name, &st);
	return ret;
}
