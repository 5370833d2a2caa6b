#include "gateway/decode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/candump.h"
#include "protocols/j1939.h"
#include "protocols/signals.h"

/* Bad lines reported one by one; the rest only in the summary. */
#define DECODE_MAX_REPORTS 10

struct decode_stats {
	unsigned long lines;
	unsigned long decoded;
	unsigned long unknown;   /* extended frames with a PGN we do not decode */
	unsigned long other;     /* standard-id and remote frames */
	unsigned long bad;       /* unparsable lines and short frames */
};

/* A bad line: the first few on stderr as FILE:LINE: why, all counted. */
static void decode_bad(struct decode_stats *st, const char *name, const char *why,
		       uint32_t pgn)
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
static void decode_put_time(FILE *out, const struct candump_frame *f)
{
	if (!f->has_time) {
		fputs("null", out);
		return;
	}
	fprintf(out, "%" PRId64 ".%06" PRId64, f->t_us / 1000000, f->t_us % 1000000);
}

/* One JSON object a frame.  Names are fixed identifiers from our own tables
 * and need no escaping, so plain stdio is enough. */
static void decode_print(FILE *out, const struct candump_frame *f,
			 const struct j1939_id *id, const struct j1939_frame *fr)
{
	fputs("{\"t\":", out);
	decode_put_time(out, f);
	fprintf(out, ",\"sa\":%u,\"pgn\":%" PRIu32 ",\"name\":\"%s\",\"signals\":{",
		(unsigned)id->sa, id->pgn, j1939_pgn_name(id->pgn));
	for (int i = 0; i < fr->n; i++) {
		fprintf(out, "%s\"%s\":", i ? "," : "", sig_name(fr->v[i].sig));
		decode_put_number(out, fr->v[i].value);
	}
	fputc('}', out);
	if (fr->n_na)
		fprintf(out, ",\"na\":%d", fr->n_na);
	if (fr->n_error)
		fprintf(out, ",\"error\":%d", fr->n_error);
	if (fr->n_reserved)
		fprintf(out, ",\"reserved\":%d", fr->n_reserved);
	fputs("}\n", out);
}

/* One line of the log. */
static void decode_line(const char *line, const char *name, FILE *out,
			struct decode_stats *st)
{
	struct candump_frame f;
	struct j1939_frame fr;
	struct j1939_id id;
	int rc;

	rc = candump_parse_line(line, &f);
	if (rc == CANDUMP_SKIP)
		return;
	if (rc < 0) {
		decode_bad(st, name, candump_strerror(rc), 0);
		return;
	}
	if (!f.extended || f.rtr) {
		st->other++;
		return;
	}
	j1939_id_parse(f.can_id, &id);
	rc = j1939_decode(id.pgn, f.data, f.len, &fr);
	if (rc == J1939_EUNKNOWN) {
		st->unknown++;
		return;
	}
	if (rc < 0) {
		decode_bad(st, name, j1939_strerror(rc), id.pgn);
		return;
	}
	st->decoded++;
	decode_print(out, &f, &id, &fr);
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
	struct decode_stats st = { 0 };
	const char *name;
	char *line = NULL;
	size_t cap = 0;
	FILE *in;
	int ret = 0;

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
	errno = 0;
	while (getline(&line, &cap, in) != -1) {
		st.lines++;
		line[strcspn(line, "\r\n")] = '\0';
		decode_line(line, name, out, &st);
		errno = 0;
	}
	/* getline also returns -1 when it cannot allocate: not only at EOF. */
	if (ferror(in) || !feof(in)) {
		fprintf(stderr, "<3>%s: read error after line %lu: %s\n", name, st.lines,
			strerror(errno ? errno : EIO));
		ret = -1;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "<3>%s: cannot write output: %s\n", name, strerror(errno));
		ret = -1;
	}
	decode_summary(name, &st);
	return ret;
}
