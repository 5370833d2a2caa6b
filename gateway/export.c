/* export: a seal proves its whole range and the chain links each seal to the
 * one before, so an export is one contiguous seq span: from the first row of
 * the seal range holding the first matching row to the seal of the range
 * holding the last.  Its first line says where it starts: the seals before
 * that (one, whose row lies in the span) prove only their own signature
 * (README "Evidence on site"). */
#include "gateway/export.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/clock.h"
#include "gateway/signer.h"
#include "gateway/store.h"
#include "gateway/verify.h"

#define EXPORT_BATCH 256
#define EXPORT_BUF   (1 << 20)

struct export_seal {
	uint64_t seq, from, to;
};

struct export_ctx {
	struct store *store;
	struct store_row rows[EXPORT_BATCH];
	char *buf;
	struct export_seal *seals;
	size_t n_seals, cap_seals;
	/* the range's matching rows */
	uint64_t lo, hi, matched;
	uint64_t last_end; /* --svg last: the last smoke end with evidence */
	FILE *out;
	int write_err;
};

typedef int export_row_fn(struct export_ctx *x, const struct store_row *r);

/* Every row of q, in seq order, through fn.  0 or -1. */
static int export_each(struct export_ctx *x, struct store_query q, export_row_fn *fn)
{
	int n;

	do {
		n = store_read(x->store, &q, x->rows, EXPORT_BATCH, x->buf, EXPORT_BUF);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			if (fn(x, &x->rows[i]) < 0)
				return -1;
		if (n > 0)
			q.from_seq = x->rows[n - 1].seq + 1;
	} while (n > 0);
	return 0;
}

static const struct store_query export_all = {
    .from_ms = INT64_MIN, .to_ms = INT64_MAX, .from_seq = 0, .to_seq = UINT64_MAX, .kind = -1};

static int export_int(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int export_add_seal(struct export_ctx *x, const struct store_row *r)
{
	json_t *o = json_loadb(r->payload, r->len, 0, NULL);
	struct export_seal s = {.seq = r->seq};
	int ok = o && export_int(o, "from", &s.from) == 0 && export_int(o, "to", &s.to) == 0;

	json_decref(o);
	if (!ok)
		return 0; /* not a seal we can read: the verifier will say */
	if (x->n_seals == x->cap_seals) {
		size_t cap = x->cap_seals ? 2 * x->cap_seals : 256;
		struct export_seal *n = realloc(x->seals, cap * sizeof(*n));

		if (!n) {
			fprintf(stderr, "emgwd: export: out of memory\n");
			return -1;
		}
		x->seals = n;
		x->cap_seals = cap;
	}
	x->seals[x->n_seals++] = s;
	return 0;
}

/* The seal whose range holds seq, or NULL (not sealed yet, or its seal gone). */
static const struct export_seal *export_covering(const struct export_ctx *x, uint64_t seq)
{
	for (size_t i = 0; i < x->n_seals; i++)
		if (x->seals[i].from <= seq && seq <= x->seals[i].to)
			return &x->seals[i];
	return NULL;
}

static int export_match(struct export_ctx *x, const struct store_row *r)
{
	if (x->matched == 0)
		x->lo = r->seq;
	x->hi = r->seq;
	x->matched++;
	return 0;
}

static int export_write_row(struct export_ctx *x, const struct store_row *r)
{
	if (fwrite(r->payload, 1, r->len, x->out) != r->len || fputc('\n', x->out) == EOF)
		x->write_err = 1;
	return 0;
}

/* The first line: what the export holds, and the seq it starts at (the
 * verifier checks the seals before it for signature only). */
static void export_header(struct export_ctx *x, const struct export_opts *o, uint64_t first,
			  uint64_t last)
{
	struct store_query q = export_all;
	char from[32], to[32];
	json_t *row = NULL, *h;
	int n;

	q.from_seq = q.to_seq = first;
	n = store_read(x->store, &q, x->rows, 1, x->buf, EXPORT_BUF);
	if (n == 1)
		row = json_loadb(x->rows[0].payload, x->rows[0].len, 0, NULL);
	clock_format_iso(o->from_ms, from, sizeof(from));
	clock_format_iso(o->to_ms, to, sizeof(to));
	h = json_pack("{s:i, s:O?, s:O?, s:I, s:I, s:s, s:s, s:s?, s:I}", "export", 1, "dev",
		      json_object_get(row, "dev"), "sid", json_object_get(row, "sid"), "from_seq",
		      (json_int_t)first, "to_seq", (json_int_t)last, "from", from, "to", to, "type",
		      o->type, "matched", (json_int_t)x->matched);
	if (!h || json_dumpf(h, x->out, JSON_COMPACT) < 0 || fputc('\n', x->out) == EOF)
		x->write_err = 1;
	json_decref(h);
	json_decref(row);
}

static int export_range(struct export_ctx *x, const struct export_opts *o)
{
	struct store_query q = export_all;
	const struct export_seal *a, *b;
	uint64_t first, last;

	q.from_ms = o->from_ms;
	q.to_ms = o->to_ms;
	q.type = o->type;
	if (export_each(x, q, export_match) < 0)
		return 2;
	if (x->matched == 0) {
		fprintf(stderr, "emgwd: export: no %s%srows in that time range\n",
			o->type ? o->type : "", o->type ? " " : "");
		return 1;
	}
	a = export_covering(x, x->lo);
	b = export_covering(x, x->hi);
	first = a ? a->from : x->lo;
	last = b ? b->seq : x->hi;
	export_header(x, o, first, last);
	q = export_all;
	q.from_seq = first;
	/* Rows committed after the last range's end and before its seal row
	 * belong to the next range: left out, the seal row itself written. */
	q.to_seq = b ? b->to : last;
	if (export_each(x, q, export_write_row) < 0)
		return 2;
	q.from_seq = q.to_seq = last;
	if (b && export_each(x, q, export_write_row) < 0)
		return 2;
	fprintf(stderr,
		"emgwd: export: %" PRIu64 " matching rows; written seq %" PRIu64 "..%" PRIu64
		" (whole seal ranges)\n",
		x->matched, first, last);
	if (!b)
		fprintf(stderr,
			"emgwd: export: rows up to seq %" PRIu64 " are not sealed yet (the open"
			" range): --verify will say so; export again after the next seal\n",
			x->hi);
	return 0;
}

/* ---- the SVG ----------------------------------------------------------------- */

static const char *svg_str(json_t *o, const char *key, const char *none);

static int export_is_drawable(json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *state = json_string_value(json_object_get(ev, "state"));

	return type && state && strcmp(type, "smoke") == 0 && strcmp(state, "end") == 0 &&
	       json_is_object(json_object_get(ev, "evidence"));
}

/* Prove the seal covering the event's seq as --verify would an export of
 * that range alone (the header line says where it starts). */
static void export_seal_status(struct export_ctx *x, const struct export_opts *o, json_t *ev,
			       char *st, size_t size)
{
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
	const struct export_seal *s = export_covering(x, seq);
	struct signer_verifier *key;
	struct store_query q = export_all;
	struct verify *v;
	FILE *devnull;
	int n, rc = -1;

	if (!s) {
		snprintf(st, size,
			 "not sealed yet (the open range): export again after the next seal");
		return;
	}
	key = o->key_path ? signer_verifier_open(o->key_path) : NULL;
	v = key ? verify_new(&key, 1) : NULL;
	devnull = fopen("/dev/null", "w");
	if (v && devnull) {
		char head[256];
		int len = snprintf(
		    head, sizeof(head),
		    "{\"export\":1,\"dev\":\"%s\",\"sid\":\"%s\",\"from_seq\":%" PRIu64 "}",
		    svg_str(ev, "dev", ""), svg_str(ev, "sid", ""), s->from);

		if (len > 0 && (size_t)len < sizeof(head))
			verify_line(v, head, (size_t)len);
		q.from_seq = s->from;
		q.to_seq = s->to;
		rc = 0;
		do {
			n = store_read(x->store, &q, x->rows, EXPORT_BATCH, x->buf, EXPORT_BUF);
			for (int i = 0; i < n; i++)
				verify_line(v, x->rows[i].payload, x->rows[i].len);
			if (n > 0)
				q.from_seq = x->rows[n - 1].seq + 1;
		} while (n > 0);
		q.from_seq = q.to_seq = s->seq;
		if (n < 0 || store_read(x->store, &q, x->rows, 1, x->buf, EXPORT_BUF) != 1)
			rc = -2;
		else
			verify_line(v, x->rows[0].payload, x->rows[0].len);
		if (rc == 0)
			rc = verify_report(v, devnull);
	}
	if (devnull)
		fclose(devnull);
	verify_free(v);
	if (key)
		signer_verifier_close(key);
	snprintf(st, size,
		 "sealed by the seal at seq %" PRIu64 " (rows %" PRIu64 "..%" PRIu64 "): %s",
		 s->seq, s->from, s->to,
		 rc == 0    ? "proven (hash and signature hold)"
		 : rc == 1  ? "NOT proven (rows changed or missing)"
		 : rc == -2 ? "not checked (the store could not be read)"
			    : "not checked (no seal key here)");
}

static int export_note_end(struct export_ctx *x, const struct store_row *r)
{
	json_t *ev = json_loadb(r->payload, r->len, 0, NULL);

	if (ev && export_is_drawable(ev))
		x->last_end = r->seq;
	json_decref(ev);
	return 0;
}

static int export_draw(struct export_ctx *x, const struct export_opts *o)
{
	struct store_query q = export_all;
	char status[256], *end;
	uint64_t seq;
	json_t *ev;
	int rc;

	if (strcmp(o->svg, "last") == 0) {
		q.kind = STORE_EVENT;
		q.type = "smoke";
		if (export_each(x, q, export_note_end) < 0)
			return 2;
		seq = x->last_end;
	} else {
		seq = strtoull(o->svg, &end, 10);
		if (end == o->svg || *end || o->svg[0] == '-')
			seq = 0;
	}
	q = export_all;
	q.from_seq = q.to_seq = seq;
	if (seq == 0 || store_read(x->store, &q, x->rows, 1, x->buf, EXPORT_BUF) != 1) {
		fprintf(stderr, "emgwd: export: --svg %s: no such %sevent in the store\n", o->svg,
			seq ? "" : "smoke end ");
		return 1;
	}
	ev = json_loadb(x->rows[0].payload, x->rows[0].len, 0, NULL);
	if (!ev || !export_is_drawable(ev)) {
		fprintf(stderr, "emgwd: export: --svg %s: not a smoke end with its evidence\n",
			o->svg);
		json_decref(ev);
		return 1;
	}
	export_seal_status(x, o, ev, status, sizeof(status));
	rc = export_svg(ev, o->lambda_max, status, x->out) < 0 ? 1 : 0;
	json_decref(ev);
	return rc;
}

int export_run(const struct export_opts *o, FILE *out)
{
	struct export_ctx *x = calloc(1, sizeof(*x));
	struct store_query q = export_all;
	char why[256];
	int rc = 2;

	if (!x || !(x->buf = malloc(EXPORT_BUF))) {
		fprintf(stderr, "emgwd: export: out of memory\n");
		goto out_free;
	}
	x->out = out;
	x->store = store_open_reader(o->store_path, why, sizeof(why));
	if (!x->store) {
		fprintf(stderr, "emgwd: export: store %s: %s\n", o->store_path, why);
		goto out_free;
	}
	q.kind = STORE_EVENT;
	q.type = "seal";
	if (export_each(x, q, export_add_seal) == 0)
		rc = o->svg ? export_draw(x, o) : export_range(x, o);
	if (fflush(out) != 0 || x->write_err) {
		fprintf(stderr, "emgwd: export: write error\n");
		rc = 2;
	}
	store_close(x->store);
out_free:
	if (x) {
		free(x->seals);
		free(x->buf);
	}
	free(x);
	return rc;
}

/* ---- times on the command line ---------------------------------------------- */

/* n digits at *p into *v, moving p on.  0 or -1. */
static int export_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

int export_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, scale = 1000;
	const char *p = s;
	char *end;
	long long v;
	time_t t;

	if (!s || !*s)
		return -1;
	v = strtoll(s, &end, 10);
	if (*end == '\0' && s[0] != '-' && s[0] != '+' && v >= 0 && v < 253402300800LL) {
		*ms = (int64_t)v * 1000; /* epoch seconds */
		return 0;
	}
	if (export_digits(&p, 4, &y) < 0 || *p++ != '-' || export_digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || export_digits(&p, 2, &d) < 0)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (export_digits(&p, 2, &h) < 0 || *p++ != ':' || export_digits(&p, 2, &mi) < 0)
			return -1;
		if (*p == ':' && (p++, export_digits(&p, 2, &sec) < 0))
			return -1;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++)
				if ((scale /= 10) > 0)
					frac += (*p - '0') * scale;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

/* ---- the SVG ----------------------------------------------------------------- */

#define SVG_W	    960
#define SVG_LEFT    90
#define SVG_RIGHT   30
#define SVG_TOP	    56
#define SVG_PANEL_H 100
#define SVG_GAP	    14
#define SVG_LINE_H  20

/* The panels, top to bottom: a field of the evidence window each. */
static const struct {
	const char *field, *label, *color;
} svg_panels[] = {
    {"lambda", "lambda", "#1f77b4"},
    {"opacity_k_m1", "opacity k, 1/m", "#444444"},
    {"engine_torque_pct", "torque, %", "#2ca02c"},
    {"boost_kpa", "boost, kPa", "#9467bd"},
    {"engine_speed_rpm", "speed, rpm", "#ff7f0e"},
    {"vehicle_speed_kmh", "speed, km/h", "#8c564b"},
};
#define SVG_N_PANELS ((int)(sizeof(svg_panels) / sizeof(svg_panels[0])))

/* Text for an SVG text node: & < > escaped. */
static void svg_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else
			fputc(*s, out);
	}
}

static int64_t svg_time(json_t *ev, const char *key)
{
	int64_t ms;
	const char *s = json_string_value(json_object_get(ev, key));

	return s && export_parse_time(s, &ms) == 0 ? ms : INT64_MIN;
}

static const char *svg_str(json_t *o, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : none;
}

static double svg_num(json_t *o, const char *key)
{
	json_t *j = json_object_get(o, key);

	return json_is_number(j) ? json_number_value(j) : NAN;
}

/* The column of field in the evidence rows (0 is t_s), or -1. */
static int svg_column(json_t *fields, const char *field)
{
	for (size_t i = 0; i < json_array_size(fields); i++) {
		const char *f = json_string_value(json_array_get(fields, i));

		if (f && strcmp(f, field) == 0)
			return (int)i + 1;
	}
	return -1;
}

struct svg_frame {
	double t_max, x_scale;
	double y_top, lo, hi;
};

static double svg_x(const struct svg_frame *f, double t)
{
	return SVG_LEFT + t * f->x_scale;
}

static double svg_y(const struct svg_frame *f, double v)
{
	return f->y_top + SVG_PANEL_H - (v - f->lo) / (f->hi - f->lo) * SVG_PANEL_H;
}

/* One panel: frame, scale, the curve (broken where a value is missing),
 * the threshold when given. */
static void svg_panel(FILE *out, json_t *rows, int col, int k, struct svg_frame *f,
		      double threshold, int threshold_id)
{
	int pen = 0;

	f->lo = INFINITY;
	f->hi = -INFINITY;
	for (size_t r = 0; col > 0 && r < json_array_size(rows); r++) {
		json_t *v = json_array_get(json_array_get(rows, r), (size_t)col);

		if (json_is_number(v)) {
			f->lo = fmin(f->lo, json_number_value(v));
			f->hi = fmax(f->hi, json_number_value(v));
		}
	}
	if (isfinite(threshold) && isfinite(f->lo)) {
		f->lo = fmin(f->lo, threshold);
		f->hi = fmax(f->hi, threshold);
	}
	fprintf(
	    out,
	    "<g class=\"panel\" id=\"panel-%s\">\n<rect class=\"frame\" x=\"%d\" y=\"%.1f\""
	    " width=\"%d\" height=\"%d\"/>\n<text class=\"label\" x=\"8\" y=\"%.1f\">%s</text>\n",
	    svg_panels[k].field, SVG_LEFT, f->y_top, SVG_W - SVG_LEFT - SVG_RIGHT, SVG_PANEL_H,
	    f->y_top + 14, svg_panels[k].label);
	if (!isfinite(f->lo)) {
		fprintf(out, "<text class=\"nodata\" x=\"%d\" y=\"%.1f\">no data</text>\n</g>\n",
			SVG_LEFT + 10, f->y_top + SVG_PANEL_H / 2.0);
		return;
	}
	if (f->hi - f->lo < 1e-9) {
		f->lo -= 0.5;
		f->hi += 0.5;
	} else {
		double pad = (f->hi - f->lo) * 0.08;

		f->lo -= pad;
		f->hi += pad;
	}
	fprintf(out,
		"<text class=\"tick\" x=\"%d\" y=\"%.1f\">%.4g</text>\n"
		"<text class=\"tick\" x=\"%d\" y=\"%.1f\">%.4g</text>\n",
		SVG_LEFT - 4, f->y_top + 10, f->hi, SVG_LEFT - 4, f->y_top + SVG_PANEL_H, f->lo);
	fprintf(out, "<path class=\"curve\" stroke=\"%s\" d=\"", svg_panels[k].color);
	for (size_t r = 0; r < json_array_size(rows); r++) {
		json_t *row = json_array_get(rows, r);
		json_t *v = json_array_get(row, (size_t)col);
		double t = json_number_value(json_array_get(row, 0));

		if (!json_is_number(v)) {
			pen = 0;
			continue;
		}
		fprintf(out, "%s%.1f %.1f ", pen ? "L" : "M", svg_x(f, t),
			svg_y(f, json_number_value(v)));
		pen = 1;
	}
	fputs("\"/>\n", out);
	if (isfinite(threshold)) {
		double y = svg_y(f, threshold);

		fprintf(
		    out,
		    "<line class=\"threshold\"%s x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n"
		    "<text class=\"threshold-label\" x=\"%d\" y=\"%.1f\">threshold %.4g</text>\n",
		    threshold_id ? " id=\"threshold\"" : "", SVG_LEFT, y, SVG_W - SVG_RIGHT, y,
		    SVG_W - SVG_RIGHT - 110, y - 3, threshold);
	}
	fputs("</g>\n", out);
}

/* The lines under the drawing: the event, the episode, where, the seal. */
static void svg_caption(FILE *out, json_t *ev, double y, const char *seal_status)
{
	json_t *pos = json_object_get(ev, "pos");
	char line[4][320];

	snprintf(line[0], sizeof(line[0]),
		 "%s  boot %" JSON_INTEGER_FORMAT "  seq %" JSON_INTEGER_FORMAT
		 "  rule %s (rules %s, confidence %s)",
		 svg_str(ev, "dev", "?"), json_integer_value(json_object_get(ev, "boot")),
		 json_integer_value(json_object_get(ev, "seq")), svg_str(ev, "rule", "?"),
		 svg_str(ev, "rules", "?"), svg_str(ev, "confidence", "?"));
	snprintf(line[1], sizeof(line[1]), "episode %s to %s, %.1f s; %s peak %.3g, mean %.3g",
		 svg_str(ev, "since", "?"), svg_str(ev, "ended", "?"), svg_num(ev, "duration_s"),
		 svg_str(ev, "quantity", ""), svg_num(ev, "peak"), svg_num(ev, "mean"));
	if (json_is_true(json_object_get(pos, "valid")))
		snprintf(line[2], sizeof(line[2]), "position %.6f, %.6f (%s fix of %s)",
			 svg_num(pos, "lat"), svg_num(pos, "lon"), svg_str(pos, "fix", "a"),
			 svg_str(pos, "fix_ts", "unknown time"));
	else
		snprintf(line[2], sizeof(line[2]), "position unknown (no valid GNSS fix)");
	snprintf(line[3], sizeof(line[3]), "seal: %s", seal_status);
	for (int i = 0; i < 4; i++) {
		fprintf(out, "<text class=\"caption\" id=\"caption-%d\" x=\"8\" y=\"%.1f\">", i,
			y + i * SVG_LINE_H);
		svg_text(out, line[i]);
		fputs("</text>\n", out);
	}
}

int export_svg(json_t *ev, double lambda_max, const char *seal_status, FILE *out)
{
	json_t *w = json_object_get(ev, "evidence");
	json_t *rows = json_object_get(w, "rows"), *fields = json_object_get(w, "fields");
	int64_t from = svg_time(w, "from"), since = svg_time(ev, "since"),
		ended = svg_time(ev, "ended");
	const char *rule = json_string_value(json_object_get(ev, "rule"));
	int opacity_rule = rule && strcmp(rule, "opacity") == 0;
	double limit_k = svg_num(ev, "limit_k_m1");
	struct svg_frame f = {0};
	double e0, e1, bottom;
	int height;

	if (!json_is_array(rows) || json_array_size(rows) == 0 || !json_is_array(fields) ||
	    from == INT64_MIN)
		return -1;
	f.t_max =
	    json_number_value(json_array_get(json_array_get(rows, json_array_size(rows) - 1), 0));
	if (f.t_max <= 0)
		f.t_max = 1;
	f.x_scale = (SVG_W - SVG_LEFT - SVG_RIGHT) / f.t_max;
	bottom = SVG_TOP + SVG_N_PANELS * (SVG_PANEL_H + SVG_GAP);
	height = (int)bottom + 30 + 4 * SVG_LINE_H + 10;
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
		" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<style>.frame{fill:none;stroke:#bbb}.curve{fill:none;stroke-width:1.5}"
		".episode{fill:#d62728;fill-opacity:0.15;stroke:none}"
		".threshold{stroke:#d62728;stroke-width:1.2;stroke-dasharray:6 4}"
		".threshold-label{fill:#d62728}.tick{text-anchor:end;fill:#555}"
		".nodata{fill:#999}.title{font-size:16px;font-weight:bold}</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		SVG_W, height, SVG_W, height);
	fprintf(out, "<text class=\"title\" x=\"8\" y=\"24\">Black smoke: evidence window from ");
	svg_text(out, svg_str(w, "from", "?"));
	fputs(" (UTC)</text>\n", out);
	/* The episode, shaded across every panel, behind the curves. */
	e0 = since == INT64_MIN ? 0 : (double)(since - from) / 1000.0;
	e1 = ended == INT64_MIN ? f.t_max : (double)(ended - from) / 1000.0;
	e0 = fmax(0, fmin(e0, f.t_max));
	e1 = fmax(e0, fmin(e1, f.t_max));
	fprintf(out,
		"<rect class=\"episode\" id=\"episode\" x=\"%.1f\" y=\"%d\" width=\"%.1f\""
		" height=\"%.1f\"><title>smoke episode</title></rect>\n"
		"<text x=\"%.1f\" y=\"%d\" fill=\"#d62728\">episode</text>\n",
		svg_x(&f, e0), SVG_TOP, (e1 - e0) * f.x_scale, bottom - SVG_TOP - SVG_GAP,
		svg_x(&f, e0) + 2, SVG_TOP - 4);
	for (int k = 0; k < SVG_N_PANELS; k++) {
		double th = NAN;
		int is_rule = 0;

		if (k == 0 && isfinite(lambda_max)) {
			th = lambda_max;
			is_rule = !opacity_rule || !isfinite(limit_k);
		} else if (k == 1 && isfinite(limit_k)) {
			th = limit_k;
			is_rule = opacity_rule;
		}
		f.y_top = SVG_TOP + k * (SVG_PANEL_H + SVG_GAP);
		svg_panel(out, rows, svg_column(fields, svg_panels[k].field), k, &f, th, is_rule);
	}
	for (int t = 0; t <= (int)f.t_max; t += f.t_max > 120 ? 30 : 10)
		fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%d s</text>\n",
			svg_x(&f, t) + 8, bottom - SVG_GAP + 14, t);
	svg_caption(out, ev, bottom + 30, seal_status);
	fputs("</svg>\n", out);
	return ferror(out) ? -1 : 0;
}
