/* export: evidence on site (README "Evidence on site"): emgwd --export writes
 * the rows of a time range from the store, with the seals that prove them,
 * as JSON lines; --svg draws a smoke event's evidence window.  Reads the
 * store read-only (beside a running daemon); never writes to it. */
#ifndef EMGW_EXPORT_H
#define EMGW_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct export_opts {
	const char *store_path;
	const char *key_path; /* the seal key, for the SVG's seal status */
	int64_t from_ms, to_ms;
	const char *type;  /* NULL: every type decides the range */
	const char *svg;   /* an event's seq, or "last": draw that smoke end */
	double lambda_max; /* the lambda rule's threshold ([smoke] lambda_max) */
};

/* A time from the command line: ISO 8601 UTC ("2026-12-02T06:00:00Z",
 * seconds, fraction and Z optional) or epoch seconds.  0 and *ms, or -1. */
int export_parse_time(const char *s, int64_t *ms);
/* emgwd --export: the rows of the range (or, with o->svg, the drawing) to
 * out.  0 done, 1 nothing matched, 2 the store cannot be read (said on
 * stderr). */
int export_run(const struct export_opts *o, FILE *out);
/* The SVG of one smoke `end` event (its payload, parsed), the threshold of
 * its rule (NaN: none known) and a seal status line, to out.  0, or -1 when
 * the event carries no evidence window. */
int export_svg(json_t *ev, double lambda_max, const char *seal_status, FILE *out);

#endif
