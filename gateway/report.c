#include "gateway/report.h"

#include <stdio.h>
#include <string.h>

#include "gateway/log.h"

static json_t *report_header(const struct report *r, uint64_t seq, const struct clock_now *now)
{
	char ts[32];

	clock_format_iso(now->wall_ms, ts, sizeof(ts));
	return json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:I}", "v", 1, "dev", r->dev, "boot",
			 (json_int_t)store_boot(r->store), "seq", (json_int_t)seq, "ts", ts,
			 "ts_src", clock_src_name(now->src), "mono_ms", (json_int_t)now->mono_ms);
}

/* What goes last when the store is full: smoke and tamper events (the
 * reason this box exists) are alarms; records with a position are the
 * track, thinned before they are dropped. */
static enum store_class report_class(enum store_kind kind, json_t *body)
{
	const char *type = json_string_value(json_object_get(body, "type"));
	json_t *pos = json_object_get(body, "pos");

	if (kind == STORE_EVENT)
		return type && (strcmp(type, "smoke") == 0 || strcmp(type, "tamper") == 0 ||
				strcmp(type, "zone-violation") == 0 ||
				strcmp(type, "ecu-silent") == 0 || strcmp(type, "dpf-low") == 0 ||
				strcmp(type, "nox-frozen") == 0)
			   ? STORE_CLASS_ALARM
			   : STORE_CLASS_EVENT;
	/* Every record carries pos once [gnss] is on; only a valid one is track. */
	return pos && json_is_true(json_object_get(pos, "valid")) ? STORE_CLASS_POSITION
								  : STORE_CLASS_ROUTINE;
}

uint64_t report_emit(struct report *r, enum store_kind kind, json_t *body,
		     const struct clock_now *now)
{
	char *buf = r->buf;
	uint64_t seq;
	json_t *payload;
	size_t len;

	seq = store_next_seq(r->store);
	if (seq == 0)
		goto out_body;
	payload = report_header(r, seq, now);
	if (!payload || json_object_update(payload, body) < 0) {
		log_warnx("report: cannot build payload %llu", (unsigned long long)seq);
		json_decref(payload);
		goto out_body;
	}
	len = json_dumpb(payload, buf, REPORT_MAX_PAYLOAD - 1, REPORT_JSON_FLAGS);
	json_decref(payload);
	if (len == 0 || len >= REPORT_MAX_PAYLOAD - 1) {
		log_warnx("report: payload %llu too large", (unsigned long long)seq);
		goto out_body;
	}
	buf[len] = '\0';
	if (store_append_class(r->store, seq, kind, report_class(kind, body), now->mono_ms,
			       now->wall_ms, buf, len) < 0)
		goto out_body;
	r->emitted++;
	r->last_seq = seq;
	json_decref(body);
	return seq;
out_body:
	json_decref(body);
	return 0;
}

void report_echo_committed(struct report *r)
{
	struct store_row rows[64];
	int n;

	if (!r->echo)
		return;
	while ((n = store_fetch(r->store, REPORT_ECHO_READER, r->echoed, rows, 64, r->buf,
				REPORT_MAX_PAYLOAD)) > 0) {
		for (int i = 0; i < n; i++) {
			fwrite(rows[i].payload, 1, rows[i].len, stdout);
			fputc('\n', stdout);
			r->echoed = rows[i].seq;
		}
	}
	fflush(stdout);
}
