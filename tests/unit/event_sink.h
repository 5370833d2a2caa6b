/* event_sink: what the detector and diagnostics tests share: an event as the
 * JSON it goes out as, and a sink that keeps the events a module raised.
 * Include after <cmocka.h> and <jansson.h>. */
#ifndef EMGW_TEST_EVENT_SINK_H
#define EMGW_TEST_EVENT_SINK_H

#include "protocols/payload.h"

#define EVENT_SINK_MAX 64

struct event_sink {
	json_t *ev[EVENT_SINK_MAX];
	int n;
};

/* The event as the JSON it goes out as (header zeroed), for the checks. */
static inline json_t *ev_json(const struct payload_event *ev)
{
	static const struct payload_header h = {.v = 1, .dev = "test"};
	static char buf[65536];

	assert_true(payload_encode_event(&h, ev, buf, sizeof(buf)) > 0);
	return json_loads(buf, 0, NULL);
}

/* payload_event_fn: keep ev (as JSON) in the sink ctx. */
static inline void event_sink_collect(void *ctx, struct payload_event *ev)
{
	struct event_sink *s = ctx;

	assert_true(s->n < EVENT_SINK_MAX);
	s->ev[s->n++] = ev_json(ev);
}

/* Drop what the sink holds. */
static inline void event_sink_clear(struct event_sink *s)
{
	for (int i = 0; i < s->n; i++)
		json_decref(s->ev[i]);
	s->n = 0;
}

#endif
