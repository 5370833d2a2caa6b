/* command: the remote commands.  Every request is checked whole before
 * anything runs: JSON object, an id usable as a topic level, known command,
 * known arguments of the right type and range.  Only then does a command
 * act; a refusal changes nothing. */
#include "gateway/command.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/export.h"
#include "gateway/log.h"
#include "gateway/report.h"
#include "protocols/utf8.h"

#define COMMAND_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))
#define COMMAND_QUOTE_MAX  41 /* bytes of a name or key quoted back, with the NUL */
/* get-log's text: each byte at most two in JSON ('"' and '\\' are escaped),
 * three more a line, and room for the rest of the answer. */
#define COMMAND_LOG_TEXT    ((COMMAND_ANSWER_MAX - 3 * COMMAND_LOG_LINES - 512) / 2)
#define COMMAND_LOG_DEFAULT 50 /* get-log lines when "lines" is not given */
_Static_assert(COMMAND_LOG_LINES <= LOG_RING_LINES, "get-log asks for no more than the ring keeps");

struct command {
	const char *name;
	const char *const *args; /* keys a request may hold besides "id" */
	/* Run; *result on success (new reference), or an error in err. */
	int (*run)(const struct command_hooks *h, json_t *req, json_t **result, char *err,
		   size_t errlen);
};

/* Commands with large answers: within the hooks' bulk budget too. */
static const char *const command_bulk[] = {"get-log", "poll-once", NULL};

static int command_ping(const struct command_hooks *h, json_t *req, json_t **result, char *err,
			size_t errlen)
{
	(void)h, (void)req, (void)err, (void)errlen;
	*result = json_string("pong");
	return 0;
}

static int command_status(const struct command_hooks *h, json_t *req, json_t **result, char *err,
			  size_t errlen)
{
	(void)req;
	*result = h->status(h->ctx);
	if (!*result)
		snprintf(err, errlen, "status unavailable");
	return *result ? 0 : -1;
}

static int command_get_config(const struct command_hooks *h, json_t *req, json_t **result,
			      char *err, size_t errlen)
{
	(void)req;
	*result = config_to_json(h->config(h->ctx));
	if (!*result)
		snprintf(err, errlen, "out of memory");
	return *result ? 0 : -1;
}

/* The same range as [sample] period in the configuration. */
static int command_set_period(const struct command_hooks *h, json_t *req, json_t **result,
			      char *err, size_t errlen)
{
	json_t *v = json_object_get(req, "period");
	double s;

	if (!json_is_number(v)) {
		snprintf(err, errlen, "period: a number of seconds is required");
		return -1;
	}
	s = json_number_value(v);
	if (!isfinite(s) || s < 0.1 || s > 60) {
		snprintf(err, errlen, "period: %g is out of range (0.1..60 s)", s);
		return -1;
	}
	if (h->set_period(h->ctx, (int)lround(s * 1000)) < 0) {
		snprintf(err, errlen, "period: refused");
		return -1;
	}
	*result = json_pack("{s:f}", "period", lround(s * 1000) / 1000.0);
	return 0;
}

static int command_snapshot(const struct command_hooks *h, json_t *req, json_t **result, char *err,
			    size_t errlen)
{
	uint64_t seq;

	(void)req;
	seq = h->snapshot(h->ctx);
	if (seq == 0) {
		snprintf(err, errlen, "no record made (store trouble?)");
		return -1;
	}
	*result = json_pack("{s:I}", "seq", (json_int_t)seq);
	return 0;
}

static int command_set_log_level(const struct command_hooks *h, json_t *req, json_t **result,
				 char *err, size_t errlen)
{
	const char *level = json_string_value(json_object_get(req, "level"));

	(void)h;
	if (!level || (strcmp(level, "debug") != 0 && strcmp(level, "info") != 0)) {
		snprintf(err, errlen, "level: \"debug\" or \"info\" is required");
		return -1;
	}
	log_set_debug(strcmp(level, "debug") == 0);
	log_notice("command: log level %s", level);
	log_debug("command: debug messages on"); /* shows only if they are */
	*result = json_pack("{s:s}", "level", level);
	return 0;
}

/* Signed (remote.h): a whole configuration or the zones file. */
static int command_set_config(const struct command_hooks *h, json_t *req, json_t **result,
			      char *err, size_t errlen)
{
	if (!h->remote) {
		snprintf(err, errlen, "set-config: unavailable");
		return -1;
	}
	return remote_set_config(h->remote, req, remote_wall_ms(), clock_real_ms(), result, err,
				 errlen);
}

/* Signed: the pushed configuration works; it stays. */
static int command_confirm_config(const struct command_hooks *h, json_t *req, json_t **result,
				  char *err, size_t errlen)
{
	if (!h->remote) {
		snprintf(err, errlen, "confirm-config: unavailable");
		return -1;
	}
	return remote_confirm(h->remote, req, remote_wall_ms(), result, err, errlen);
}

/* The newest lines of emgwd's own log, oldest first: as many as asked
 * (1..COMMAND_LOG_LINES) that fit in COMMAND_LOG_TEXT bytes. */
static int command_get_log(const struct command_hooks *h, json_t *req, json_t **result, char *err,
			   size_t errlen)
{
	char text[COMMAND_LOG_TEXT];
	json_t *v = json_object_get(req, "lines"), *lines;
	json_int_t want = COMMAND_LOG_DEFAULT;
	int kept, n;

	(void)h;
	if (v && !json_is_integer(v)) {
		snprintf(err, errlen, "lines: a whole number is required");
		return -1;
	}
	if (v)
		want = json_integer_value(v);
	if (want < 1 || want > COMMAND_LOG_LINES) {
		snprintf(err, errlen, "lines: %" JSON_INTEGER_FORMAT " is out of range (1..%d)",
			 want, COMMAND_LOG_LINES);
		return -1;
	}
	n = log_recent(text, sizeof(text), (int)want, &kept);
	lines = json_array();
	for (char *l = text, *nl; lines && (nl = strchr(l, '\n')); l = nl + 1)
		json_array_append_new(lines, json_stringn(l, (size_t)(nl - l)));
	/* "cut": the size bound gave fewer lines than asked and kept */
	*result =
	    json_pack("{s:o, s:i, s:b}", "lines", lines, "kept", kept, "cut", n < want && n < kept);
	if (!*result)
		snprintf(err, errlen, "out of memory");
	return *result ? 0 : -1;
}

/* Keep of result's devices' points, in order, as many as fit in max bytes
 * of JSON; the number left out. */
static size_t command_fit_points(json_t *result, size_t max)
{
	json_t *devs = json_object_get(result, "devices"), *dev, *all = json_array();
	size_t i, used, cut = 0;

	if (!all || json_dumpb(result, NULL, 0, COMMAND_JSON_FLAGS) <= max) {
		json_decref(all);
		return 0;
	}
	/* The result without its points, then point by point while they fit. */
	json_array_foreach(devs, i, dev)
	{
		json_array_append(all, json_object_get(dev, "points"));
		json_object_set_new(dev, "points", json_array());
	}
	used = json_dumpb(result, NULL, 0, COMMAND_JSON_FLAGS) + 64; /* + "points_left_out" */
	json_array_foreach(devs, i, dev)
	{
		json_t *pts = json_array_get(all, i), *p, *keep = json_object_get(dev, "points");
		size_t k;

		json_array_foreach(pts, k, p)
		{
			size_t len = json_dumpb(p, NULL, 0, COMMAND_JSON_FLAGS) + 1;

			if (cut == 0 && used + len <= max) {
				json_array_append(keep, p);
				used += len;
			} else {
				cut++;
			}
		}
	}
	json_decref(all);
	return cut;
}

/* The latest of every Modbus point as the bus threads last read it: no
 * request goes to a device, the answer at most COMMAND_ANSWER_MAX bytes. */
static int command_poll_once(const struct command_hooks *h, json_t *req, json_t **result, char *err,
			     size_t errlen)
{
	size_t cut;

	(void)req;
	*result = h->modbus ? h->modbus(h->ctx) : NULL;
	if (!*result) {
		snprintf(err, errlen, "Modbus values unavailable");
		return -1;
	}
	cut = command_fit_points(*result, COMMAND_ANSWER_MAX - 256);
	if (cut)
		json_object_set_new(*result, "points_left_out", json_integer((json_int_t)cut));
	return 0;
}

/* A time argument: ISO 8601 UTC text or epoch seconds (a number). */
static int command_time(json_t *req, const char *key, int64_t *ms, char *err, size_t errlen)
{
	json_t *v = json_object_get(req, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < INT64_MAX / 1000) {
		*ms = (int64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (json_is_string(v) && export_parse_time(json_string_value(v), ms) == 0)
		return 0;
	snprintf(err, errlen, "%s: an ISO 8601 UTC time or epoch seconds is required", key);
	return -1;
}

/* The events, oldest first, as objects, while they fit the answer's bounds. */
static int command_fill_events(const struct command_hooks *h, struct store_query *q, int limit,
			       json_t *events, uint64_t *last, int *more)
{
	struct store_row rows[COMMAND_EVENTS_MAX + 1];
	/* Room for the bound and one more row of the largest size: a read the
	 * buffer stops has passed the bound, so the loop below says more. */
	size_t bytes = 0,
	       bufsize = COMMAND_EVENTS_BYTES + REPORT_MAX_PAYLOAD + COMMAND_EVENTS_MAX + 1;
	char *buf = malloc(bufsize);
	int n;

	if (!buf)
		return -1;
	/* One more than asked: whether the answer is the whole range. */
	n = store_read(h->store, q, rows, limit + 1, buf, bufsize);
	*more = 0;
	for (int i = 0; i < n; i++) {
		json_t *ev;

		if (i == limit || (i > 0 && bytes + rows[i].len > COMMAND_EVENTS_BYTES)) {
			*more = 1;
			break;
		}
		ev = json_loadb(rows[i].payload, rows[i].len, 0, NULL);
		if (!ev || json_array_append_new(events, ev) < 0)
			continue;
		bytes += rows[i].len;
		*last = rows[i].seq;
	}
	free(buf);
	return n < 0 ? -1 : 0;
}

/* Events of a time range from the store (sent ones too, as [store]
 * keep_sent keeps them), bounded; a cut answer says where to go on. */
static int command_get_events(const struct command_hooks *h, json_t *req, json_t **result,
			      char *err, size_t errlen)
{
	json_t *jt = json_object_get(req, "type"), *jl = json_object_get(req, "limit"),
	       *ja = json_object_get(req, "after_seq"), *events;
	struct store_query q = {.to_seq = UINT64_MAX, .kind = STORE_EVENT};
	uint64_t last = 0;
	int limit = COMMAND_EVENTS_MAX, more = 0;

	if (!h->store) {
		snprintf(err, errlen, "the store is not available");
		return -1;
	}
	if (command_time(req, "from", &q.from_ms, err, errlen) < 0 ||
	    command_time(req, "to", &q.to_ms, err, errlen) < 0)
		return -1;
	if (jt && !(q.type = json_string_value(jt))) {
		snprintf(err, errlen, "type: a string is required");
		return -1;
	}
	if (jl && (!json_is_integer(jl) || json_integer_value(jl) < 1 ||
		   json_integer_value(jl) > COMMAND_EVENTS_MAX)) {
		snprintf(err, errlen, "limit: 1..%d", COMMAND_EVENTS_MAX);
		return -1;
	}
	if (jl)
		limit = (int)json_integer_value(jl);
	if (ja && (!json_is_integer(ja) || json_integer_value(ja) < 0)) {
		snprintf(err, errlen, "after_seq: a seq is required");
		return -1;
	}
	q.from_seq = ja ? (uint64_t)json_integer_value(ja) + 1 : 0;
	events = json_array();
	if (!events || command_fill_events(h, &q, limit, events, &last, &more) < 0) {
		json_decref(events);
		snprintf(err, errlen, "the store could not be read");
		return -1;
	}
	*result = json_pack("{s:o, s:i, s:b}", "events", events, "count",
			    (int)json_array_size(events), "truncated", more);
	if (*result && more)
		json_object_set_new(*result, "next_after_seq", json_integer((json_int_t)last));
	return *result ? 0 : -1;
}

static const char *const command_no_args[] = {NULL};
static const char *const command_events_args[] = {"from", "to", "type", "limit", "after_seq", NULL};
static const char *const command_period_args[] = {"period", NULL};
static const char *const command_level_args[] = {"level", NULL};
static const char *const command_signed_args[] = {"ts", "nonce", "payload", "sig", NULL};
static const char *const command_log_args[] = {"lines", NULL};

static const struct command command_table[] = {
    {"ping", command_no_args, command_ping},
    {"status", command_no_args, command_status},
    {"get-config", command_no_args, command_get_config},
    {"set-sample-period", command_period_args, command_set_period},
    {"snapshot", command_no_args, command_snapshot},
    {"set-log-level", command_level_args, command_set_log_level},
    {"set-config", command_signed_args, command_set_config},
    {"confirm-config", command_signed_args, command_confirm_config},
    {"get-log", command_log_args, command_get_log},
    {"poll-once", command_no_args, command_poll_once},
    {"get-events", command_events_args, command_get_events},
};

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(command_table) / sizeof(command_table[0]); i++)
		if (strcmp(command_table[i].name, name) == 0)
			return &command_table[i];
	return NULL;
}

/* Run c unless it has a large answer and the bulk budget is spent. */
static void command_call(const struct command_hooks *h, const struct command *c, json_t *req,
			 json_t **result, char *err, size_t errlen)
{
	int bulk = 0;

	for (const char *const *b = command_bulk; *b; b++)
		bulk |= strcmp(*b, c->name) == 0;
	if (bulk && h->bulk && !command_limit_take(h->bulk, clock_real_ms()))
		snprintf(err, errlen, "rate limited");
	else
		c->run(h, req, result, err, errlen);
}

/* An id goes into a topic level: no '/', '+', '#', nothing invisible. */
static int command_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > COMMAND_ID_MAX)
		return 0;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && !strchr("-_.:", *id))
			return 0;
	return 1;
}

/* Every key but "id" must be one the command takes. */
static int command_args_ok(const struct command *c, json_t *req, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(req, key, v)
	{
		int known = strcmp(key, "id") == 0;

		for (const char *const *a = c->args; !known && *a; a++)
			known = strcmp(*a, key) == 0;
		if (!known) {
			char k[COMMAND_QUOTE_MAX];

			utf8_trunc(k, sizeof(k), key);
			snprintf(err, errlen, "%s: unknown argument \"%s\"", c->name, k);
			return 0;
		}
	}
	return 1;
}

/* The answer when the real one cannot be built: the id (checked: plain
 * characters) or null, and a fixed error. */
static char *command_fallback(const struct command_hooks *h, json_t *id, const char *name)
{
	const char *sid = json_string_value(id);
	char buf[COMMAND_ID_MAX + 96], *text;
	int n;

	if (h && h->answer_errors)
		(*h->answer_errors)++;
	log_warnx("command %s: the answer could not be built; an error answer instead", name);
	if (sid && command_id_ok(sid))
		n = snprintf(buf, sizeof(buf),
			     "{\"id\":\"%s\",\"ok\":false,\"error\":\"answer could not be built\"}",
			     sid);
	else
		n = snprintf(buf, sizeof(buf),
			     "{\"id\":null,\"ok\":false,\"error\":\"answer could not be built\"}");
	text = n > 0 && (size_t)n < sizeof(buf) ? malloc((size_t)n + 1) : NULL;
	if (text)
		memcpy(text, buf, (size_t)n + 1);
	return text;
}

/* The answer text; never NULL but when out of memory: an answer that
 * cannot be built (a string that is not UTF-8, a result that does not
 * serialise) becomes an error answer, counted.  Takes result. */
static char *command_answer(const struct command_hooks *h, const char *name, json_t *id,
			    json_t *result, const char *err)
{
	json_t *a;
	char *text;

	if (err && result)
		a = json_pack("{s:O?, s:b, s:s, s:o}", "id", id, "ok", 0, "error", err, "detail",
			      result);
	else if (err)
		a = json_pack("{s:O?, s:b, s:s}", "id", id, "ok", 0, "error", err);
	else
		a = json_pack("{s:O?, s:b, s:o}", "id", id, "ok", 1, "result", result);
	text = a ? json_dumps(a, COMMAND_JSON_FLAGS) : NULL;
	json_decref(a);
	return text ? text : command_fallback(h, id, name);
}

/* Checks up to the id; the request (new reference) or NULL with err set. */
static json_t *command_parse(const char *payload, size_t len, size_t full_len, json_t **id,
			     char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *req;

	*id = NULL;
	if (full_len > len) {
		snprintf(err, errlen, "request too large (%zu bytes)", full_len);
		return NULL;
	}
	req = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		char why[81];

		utf8_trunc(why, sizeof(why), jerr.text);
		snprintf(err, errlen, "bad JSON: %s", why);
		return NULL;
	}
	if (!json_is_object(req)) {
		snprintf(err, errlen, "a request is a JSON object");
		goto out_free;
	}
	*id = json_object_get(req, "id");
	if (!json_is_string(*id)) {
		snprintf(err, errlen, "\"id\": a string is required");
		goto out_free;
	}
	if (!command_id_ok(json_string_value(*id))) {
		snprintf(err, errlen,
			 "\"id\": 1..%d characters of A-Z a-z 0-9 - _ . :", COMMAND_ID_MAX);
		goto out_free;
	}
	return req;
out_free:
	/* Keep a string id for the answer, unusable as a topic level or not. */
	*id = json_is_string(*id) ? json_incref(*id) : NULL;
	json_decref(req);
	return NULL;
}

char *command_run(const struct command_hooks *h, const char *name, const char *payload, size_t len,
		  size_t full_len, char *id)
{
	const struct command *c;
	json_t *req, *jid, *result = NULL;
	char err[160] = "", shown[COMMAND_QUOTE_MAX];
	char *text;

	/* A name cut inside a character would make the answer unbuildable. */
	utf8_trunc(shown, sizeof(shown), name);
	snprintf(id, COMMAND_ID_MAX + 1, "%s", COMMAND_INVALID_ID);
	req = command_parse(payload, len, full_len, &jid, err, sizeof(err));
	if (!req) {
		log_info("command %s: refused: %s", shown, err);
		text = command_answer(h, shown, jid, NULL, err);
		json_decref(jid);
		return text;
	}
	snprintf(id, COMMAND_ID_MAX + 1, "%s", json_string_value(jid));
	c = command_find(name);
	if (!c)
		snprintf(err, sizeof(err), "unknown command \"%s\"", shown);
	else if (command_args_ok(c, req, err, sizeof(err)))
		command_call(h, c, req, &result, err, sizeof(err));
	if (err[0])
		log_info("command %s (id %s): refused: %s", shown, id, err);
	else
		log_info("command %s (id %s): done", shown, id);
	text = command_answer(h, shown, jid, result, err[0] ? err : NULL);
	json_decref(req);
	return text;
}

void command_limit_init(struct command_limit *l, int per_s)
{
	memset(l, 0, sizeof(*l));
	l->what = "commands";
	l->per_s = per_s > 0 ? per_s : 1;
	l->tokens = l->per_s;
	l->at_ms = -1;
}

int command_limit_take(struct command_limit *l, int64_t now_ms)
{
	if (l->at_ms >= 0 && now_ms > l->at_ms)
		l->tokens += (double)(now_ms - l->at_ms) * l->per_s / 1000.0;
	if (l->tokens > l->per_s)
		l->tokens = l->per_s;
	l->at_ms = now_ms;
	if (l->tokens >= 1) {
		l->tokens -= 1;
		/* A second without a refusal ends the burst. */
		if (l->limiting && now_ms - l->refused_ms >= 1000)
			log_notice("%s: below %d a second again (%" PRIu64
				   " refused as rate limited so far)",
				   l->what, l->per_s, l->refused);
		if (now_ms - l->refused_ms >= 1000)
			l->limiting = 0;
		return 1;
	}
	if (!l->limiting)
		log_warnx("%s: more than %d a second: refusing (\"rate limited\")", l->what,
			  l->per_s);
	l->limiting = 1;
	l->refused_ms = now_ms;
	l->refused++;
	return 0;
}

void command_limit_count_refused(struct command_limit *l)
{
	l->refused++;
}

uint64_t command_limit_refused(const struct command_limit *l)
{
	return l->refused;
}

char *command_refuse(const char *name, const char *payload, size_t len, size_t full_len, char *id,
		     const char *reason)
{
	json_t *req, *jid;
	char err[160] = "", shown[41];
	char *text;

	utf8_trunc(shown, sizeof(shown), name);
	snprintf(id, COMMAND_ID_MAX + 1, "%s", COMMAND_INVALID_ID);
	req = command_parse(payload, len, full_len, &jid, err, sizeof(err));
	if (req)
		snprintf(id, COMMAND_ID_MAX + 1, "%s", json_string_value(jid));
	text = command_answer(NULL, shown, jid, NULL, reason);
	if (req)
		json_decref(req);
	else
		json_decref(jid);
	return text;
}
