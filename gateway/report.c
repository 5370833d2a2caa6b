#include "gateway/report.h"

#include <stdio.h>
#include <string.h>

#include "gateway/log.h"

_Static_assert((int)TS_UNSYNCED == (int)PAYLOAD_TS_UNSYNCED && (int)TS_RTC == (int)PAYLOAD_TS_RTC &&
		   (int)TS_NTP == (int)PAYLOAD_TS_NTP && (int)TS_GNSS == (int)PAYLOAD_TS_GNSS &&
		   (int)TS_REPLAY == (int)PAYLOAD_TS_REPLAY,
	       "clock sources and payload ts_src agree");
_Static_assert((int)STORE_CLASS_ROUTINE == (int)PAYLOAD_CLASS_ROUTINE &&
		   (int)STORE_CLASS_POSITION == (int)PAYLOAD_CLASS_POSITION &&
		   (int)STORE_CLASS_EVENT == (int)PAYLOAD_CLASS_EVENT &&
		   (int)STORE_CLASS_ALARM == (int)PAYLOAD_CLASS_ALARM,
	       "store classes and payload classes agree");

void report_init(struct report *r, struct store *store, const char *dev, int echo)
{
	r->store = store;
	r->echo = echo;
	r->echoed = store_next_seq_peek(store) - 1;
	report_set_dev(r, dev);
}

void report_set_dev(struct report *r, const char *dev)
{
	snprintf(r->dev, sizeof(r->dev), "%s", dev);
}

struct payload_record *report_record(struct report *r)
{
	payload_record_init(&r->rec);
	return &r->rec;
}

static void report_header(const struct report *r, uint64_t seq, const struct clock_now *now,
			  struct payload_header *h)
{
	h->v = PAYLOAD_VERSION;
	snprintf(h->dev, sizeof(h->dev), "%s", r->dev);
	snprintf(h->sid, sizeof(h->sid), "%s", store_id(r->store));
	h->boot = store_boot(r->store);
	h->seq = seq;
	h->ts_ms = now->wall_ms;
	h->ts_src = (enum payload_ts_src)now->src;
	h->mono_ms = now->mono_ms;
}

/* The encoded payload (len, or a negative payload error) into the store. */
static uint64_t report_store(struct report *r, uint64_t seq, enum store_kind kind,
			     enum payload_class cls, const char *what, int len,
			     const struct clock_now *now)
{
	if (len < 0) {
		log_warnx("report: %s %llu not made: %s", what, (unsigned long long)seq,
			  payload_strerror(len));
		r->failed++;
		return 0;
	}
	if (store_append_class(r->store, seq, kind, (enum store_class)cls, now->mono_ms,
			       now->wall_ms, r->buf, (size_t)len) < 0) {
		r->failed++;
		return 0;
	}
	r->emitted++;
	r->last_seq = seq;
	return seq;
}

/* The next seq and the header for it; 0 (counted) when no seq is left. */
static uint64_t report_begin(struct report *r, const struct clock_now *now,
			     struct payload_header *h)
{
	uint64_t seq = store_next_seq(r->store);

	if (seq == 0)
		r->failed++;
	else
		report_header(r, seq, now, h);
	return seq;
}

uint64_t report_emit_record(struct report *r, const struct payload_record *rec,
			    const struct clock_now *now)
{
	struct payload_header h;
	uint64_t seq = report_begin(r, now, &h);

	if (seq == 0)
		return 0;
	if (rec->custom_dropped) {
		/* Once, not every record: the configuration will not change. */
		if (r->custom_dropped == 0)
			log_warnx("report: record %llu: %d named values did not fit (at most %d)",
				  (unsigned long long)seq, rec->custom_dropped, PAYLOAD_MAX_CUSTOM);
		r->custom_dropped += (uint64_t)rec->custom_dropped;
	}
	return report_store(r, seq, STORE_RECORD, payload_record_class(rec), "record",
			    payload_encode_record(&h, rec, r->buf, sizeof(r->buf)), now);
}

uint64_t report_emit_event(struct report *r, const struct payload_event *ev,
			   const struct clock_now *now)
{
	struct payload_header h;
	uint64_t seq = report_begin(r, now, &h);

	if (seq == 0)
		return 0;
	return report_store(r, seq, STORE_EVENT, payload_event_class(ev->type),
			    payload_type_name(ev->type),
			    payload_encode_event(&h, ev, r->buf, sizeof(r->buf)), now);
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
