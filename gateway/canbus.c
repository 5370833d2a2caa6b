#include "gateway/canbus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/source.h"
#include "protocols/candec.h"

_Static_assert(CANDEC_MAX_OVERRIDES == CONFIG_MAX_OVERRIDES, "override tables differ in size");

/* Counters per source address: which controller sends what. */
struct canbus_sa_stats {
	uint64_t frames, decoded, na, errors, unknown;
};

#define CANBUS_CLAIM_WAIT_MS 250 /* J1939-81: no contention within 250 ms = claimed */
#define CANBUS_PGN_REQUEST   59904u
#define CANBUS_SA_NULL	     254 /* "cannot claim" */

enum canbus_claim { CLAIM_OFF, CLAIM_PENDING, CLAIM_HELD, CLAIM_FAILED };

struct canbus {
	struct config_can cfg;
	int source;
	struct table *table;
	const struct source_ops *ops;
	struct source *be; /* the back-end */
	struct canbus_stats st;
	struct canbus_sa_stats sa[256];
	struct candec dec;
	struct candec_msg msg;
	struct diag diag;
	int64_t rest_until;	   /* live: not polled until then (real ms), -1: polled */
	canbus_frame_fn *on_frame; /* live: after each data frame, or NULL */
	void *frame_ctx;
	int64_t follow_us; /* replay: its next frame comes at this log time (0: as logged) */
	int64_t shift_us;  /* replay: added to the log's times */

	/* transmit (request = yes) */
	enum canbus_claim claim;
	uint8_t my_sa;
	uint64_t my_name;
	int request_period_ms;
	int64_t claim_done_ms; /* CLAIM_PENDING: held if nobody objects by then */
	int64_t next_request_ms;
	uint64_t requests_sent;
};

static void canbus_no_event(void *ctx, struct payload_event *ev)
{
	(void)ctx;
	(void)ev;
}

/* Whether a decoded message's signals are wanted, by the profile's source
 * address settings and ignore list. */
static int canbus_wanted(const struct canbus *cb, uint32_t pgn, uint8_t sa)
{
	int want = cb->cfg.sa;

	for (int i = 0; i < cb->cfg.n_ignore; i++)
		if (cb->cfg.ignore_pgn[i] == pgn)
			return 0;
	for (int i = 0; i < cb->cfg.n_pgn_sa; i++)
		if (cb->cfg.pgn_sa[i].pgn == pgn)
			want = cb->cfg.pgn_sa[i].sa;
	return want < 0 || want == sa;
}

static void canbus_signals(struct canbus *cb, const struct candec_msg *m, int64_t mono_ms)
{
	/* NMEA 2000 engine instances map onto table instances; more
	 * engines than the table holds are dropped, never mixed up. */
	int inst = m->instance < 0 ? 0 : m->instance;

	if (inst >= TABLE_INSTANCES)
		return;
	for (int i = 0; i < m->n; i++)
		table_set(cb->table, m->v[i].sig, inst, m->v[i].value, mono_ms, cb->source);
	/* A signal now sent as not available must not keep its old number. */
	for (int i = 0; i < m->n_missing; i++)
		table_mark(cb->table, m->missing[i].sig, inst,
			   m->missing[i].error ? TABLE_ERROR : TABLE_NA, mono_ms, cb->source);
}

static void canbus_send(struct canbus *cb, uint32_t pgn, uint8_t da, const uint8_t *data, int len)
{
	struct can_frame f = {.can_dlc = (uint8_t)len};
	uint32_t pf = (pgn >> 8) & 0xFF;

	/* priority 6; PDU1 PGNs carry the destination in the PS byte */
	f.can_id =
	    CAN_EFF_FLAG | 6u << 26 | (pf < 240 ? (pgn & 0x3FF00) | da : pgn) << 8 | cb->my_sa;
	memcpy(f.data, data, (size_t)len);
	if (!cb->ops->send || cb->ops->send(cb->be, &f) < 0)
		log_debug("can %s: cannot send PGN %u", cb->cfg.name, pgn);
}

static void canbus_send_claim(struct canbus *cb)
{
	uint8_t d[8];

	for (int i = 0; i < 8; i++)
		d[i] = (uint8_t)(cb->my_name >> (8 * i));
	canbus_send(cb, J1939DM_PGN_ADDR_CLAIM, 0xFF, d, 8);
}

/* J1939-81: another node claims our address.  The lower NAME keeps it; the
 * loser, if arbitrary-address capable, tries the next address of the
 * self-configurable range (128..247), else says it cannot claim. */
static void canbus_contend(struct canbus *cb, uint8_t sa, uint64_t their_name)
{
	int next = cb->my_sa < 128 || cb->my_sa > 247 ? 128 : cb->my_sa + 1;

	if (cb->claim == CLAIM_OFF || cb->claim == CLAIM_FAILED || sa != cb->my_sa)
		return;
	if (cb->my_name < their_name) {
		canbus_send_claim(cb);
		return;
	}

	if (!(cb->my_name >> 63) || next > 247) {
		log_warnx("can %s: address %u taken by NAME %016llx: cannot claim, requests off",
			  cb->cfg.name, cb->my_sa, (unsigned long long)their_name);
		cb->my_sa = CANBUS_SA_NULL;
		canbus_send_claim(cb);
		cb->claim = CLAIM_FAILED;
		return;
	}
	cb->my_sa = (uint8_t)next;
	cb->claim = CLAIM_PENDING;
	cb->claim_done_ms = clock_real_ms() + CANBUS_CLAIM_WAIT_MS;
	canbus_send_claim(cb);
}

static void canbus_send_requests(struct canbus *cb)
{
	/* HOURS, VI, VD, VDHR; DM5, DM19, DM20 for the China OBD unit */
	static const uint32_t pgns[] = {65253, 65260, 65248, 65217, 65230, 54016, 49664};

	for (size_t i = 0; i < sizeof(pgns) / sizeof(pgns[0]); i++) {
		uint8_t d[3] = {(uint8_t)pgns[i], (uint8_t)(pgns[i] >> 8),
				(uint8_t)(pgns[i] >> 16)};

		canbus_send(cb, CANBUS_PGN_REQUEST, 0xFF, d, 3);
		cb->requests_sent++;
	}
}

void canbus_enable_requests(struct canbus *cb, int address, uint64_t name, int period_ms)
{
	cb->my_sa = (uint8_t)address;
	cb->my_name = name;
	cb->request_period_ms = period_ms;
	cb->claim = CLAIM_PENDING;
	cb->claim_done_ms = clock_real_ms() + CANBUS_CLAIM_WAIT_MS;
	canbus_send_claim(cb);
}

int64_t canbus_tick(struct canbus *cb, int64_t now_ms)
{
	if (cb->claim == CLAIM_PENDING && now_ms >= cb->claim_done_ms) {
		log_notice("can %s: claimed address %u", cb->cfg.name, cb->my_sa);
		cb->claim = CLAIM_HELD;
		cb->next_request_ms = now_ms;
	}
	if (cb->claim == CLAIM_HELD && now_ms >= cb->next_request_ms) {
		canbus_send_requests(cb);
		cb->next_request_ms = now_ms + cb->request_period_ms;
	}
	if (cb->claim == CLAIM_PENDING)
		return cb->claim_done_ms;
	return cb->claim == CLAIM_HELD ? cb->next_request_ms : -1;
}

/* A decoded message (rc from candec): into the table or the diagnostics. */
static void canbus_message(struct canbus *cb, int rc, int64_t mono_ms)
{
	const struct candec_msg *m = &cb->msg;
	struct canbus_sa_stats *sa = &cb->sa[m->sa];

	if (rc < 0) {
		cb->st.bad++;
		sa->errors++;
		return;
	}
	if (rc == 0)
		return;
	if (m->kind == CANDEC_UNKNOWN) {
		cb->st.unknown++;
		sa->unknown++;
		return;
	}
	if (!canbus_wanted(cb, m->pgn, m->sa)) {
		cb->st.filtered++;
		return;
	}
	cb->st.decoded++;
	sa->decoded++;
	cb->st.na += (uint64_t)m->n_na;
	cb->st.errors += (uint64_t)(m->n_error + m->n_reserved);
	sa->na += (uint64_t)m->n_na;
	sa->errors += (uint64_t)(m->n_error + m->n_reserved);
	switch (m->kind) {
	case CANDEC_SIGNALS:
		canbus_signals(cb, m, mono_ms);
		break;
	case CANDEC_DM1:
		diag_dm1(&cb->diag, m->sa, &m->dm1);
		break;
	case CANDEC_VIN:
		diag_vin(&cb->diag, m->sa, m->vin);
		break;
	case CANDEC_DM5:
		diag_dm5(&cb->diag, m->sa, &m->dm5);
		break;
	case CANDEC_DM19:
		diag_dm19(&cb->diag, m->sa, &m->dm19);
		break;
	case CANDEC_DM20:
		diag_dm20(&cb->diag, m->sa, &m->dm20);
		break;
	case CANDEC_CLAIM:
		diag_claim(&cb->diag, m->sa, &m->claim);
		canbus_contend(cb, m->sa, m->claim.raw);
		break;
	default:
		break;
	}
}

void canbus_frame(struct canbus *cb, uint32_t can_id, const uint8_t *data, int len, int64_t mono_ms)
{
	cb->st.frames++;
	cb->st.last_frame_mono_ms = mono_ms;
	cb->sa[can_id & 0xFF].frames++;
	canbus_message(cb, candec_frame(&cb->dec, can_id, data, (size_t)len, mono_ms, &cb->msg),
		       mono_ms);
}

void canbus_n2k(struct canbus *cb, const struct canboat_msg *m, int64_t mono_ms)
{
	cb->st.frames++;
	cb->st.last_frame_mono_ms = mono_ms;
	cb->sa[m->src].frames++;
	canbus_message(cb,
		       candec_message(&cb->dec, m->pgn, m->src, m->dst, m->data, m->len, &cb->msg),
		       mono_ms);
}

void canbus_applied(struct canbus *cb, int64_t mono_ms)
{
	if (cb->on_frame)
		cb->on_frame(cb->frame_ctx, mono_ms);
}

void canbus_set_frame_hook(struct canbus *cb, canbus_frame_fn *fn, void *ctx)
{
	cb->on_frame = fn;
	cb->frame_ctx = ctx;
}

int canbus_batch_ms(const struct canbus *cb)
{
	return cb->ops->batch_ms ? cb->ops->batch_ms(cb->be) : CANBUS_BATCH_MS;
}

struct canbus_stats *canbus_counters(struct canbus *cb)
{
	return &cb->st;
}

static struct canbus *canbus_new(const char *name, int source, struct table *t)
{
	struct canbus *cb = calloc(1, sizeof(*cb));

	if (!cb) {
		log_warn("can %s", name);
		return NULL;
	}
	snprintf(cb->cfg.name, sizeof(cb->cfg.name), "%s", name);
	cb->cfg.sa = -1;
	cb->source = source;
	cb->table = t;
	cb->st.last_frame_mono_ms = -1;
	cb->st.bus_state = "ok";
	cb->rest_until = -1;
	candec_init(&cb->dec);
	diag_init(&cb->diag, "", canbus_no_event, NULL);
	return cb;
}

struct canbus *canbus_open_fd(int fd, const char *name, int source, struct table *t)
{
	struct canbus *cb = canbus_new(name, source, t);

	if (!cb)
		return NULL;
	cb->ops = &cansock_ops;
	cb->be = cansock_adopt(fd, cb);
	if (!cb->be) {
		free(cb);
		return NULL;
	}
	return cb;
}

void canbus_set_events(struct canbus *cb, const char *vin, payload_event_fn *on_event, void *ctx)
{
	diag_init(&cb->diag, vin, on_event, ctx);
}

struct canbus *canbus_open(const struct config_can *cfg, int source, struct table *t)
{
	struct canbus *cb = canbus_new(cfg->name, source, t);

	if (!cb)
		return NULL;
	cb->cfg = *cfg;
	cb->dec.n_override = cfg->n_override;
	memcpy(cb->dec.override, cfg->override, sizeof(cfg->override));
	cb->ops = cfg->log[0] ? &canreplay_ops : &cansock_ops;
	cb->be = cb->ops->open(cfg, cb);
	if (!cb->be) {
		free(cb);
		return NULL;
	}
	if (cb->st.up && !cfg->log[0] && cfg->request)
		canbus_enable_requests(cb, cfg->address, cfg->claim_name, cfg->request_period_ms);
	return cb;
}

void canbus_close(struct canbus *cb)
{
	if (!cb)
		return;
	cb->ops->close(cb->be);
	free(cb);
}

int canbus_fd(const struct canbus *cb)
{
	return cb->ops->fd(cb->be);
}

int canbus_poll_fd(const struct canbus *cb)
{
	return cb->rest_until >= 0 ? -1 : canbus_fd(cb);
}

/* Drained: the kernel buffers (and stamps) what comes next until the batch
 * is up, so a full bus costs a wake-up a batch, not one a frame. */
void canbus_read(struct canbus *cb)
{
	if (!cb->ops->read)
		return;
	cb->ops->read(cb->be);
	/* gone (end of input): retry's time, not a rest */
	cb->rest_until = canbus_fd(cb) >= 0 ? clock_real_ms() + canbus_batch_ms(cb) : -1;
}

void canbus_catch_up(struct canbus *cb)
{
	if (cb->rest_until < 0 || !cb->ops->read)
		return;
	/* Up: the poll that follows reads (and rests again) if anything
	 * waits; read here, the next frame alone would wake the loop. */
	if (clock_real_ms() >= cb->rest_until) {
		cb->rest_until = -1;
		return;
	}
	cb->ops->read(cb->be);
}

int64_t canbus_retry(struct canbus *cb, int64_t now_ms)
{
	int64_t retry = cb->ops->retry ? cb->ops->retry(cb->be, now_ms) : -1;

	if (cb->rest_until >= 0 && now_ms >= cb->rest_until)
		cb->rest_until = -1;
	if (cb->rest_until >= 0 && (retry < 0 || cb->rest_until < retry))
		return cb->rest_until;
	return retry;
}

int canbus_replay_next(struct canbus *cb, int64_t real_ms, struct canbus_next *n)
{
	if (!cb->ops->next || !cb->ops->next(cb->be, real_ms, n))
		return 0;
	if (cb->follow_us) {
		cb->shift_us = cb->follow_us - n->t_us;
		cb->follow_us = 0;
	}
	n->t_us += cb->shift_us;
	return 1;
}

void canbus_replay_follow(struct canbus *cb, int64_t log_us)
{
	cb->follow_us = log_us;
}

void canbus_replay_apply(struct canbus *cb)
{
	cb->ops->apply(cb->be);
}

void canbus_set_state(struct canbus *cb, const char *state)
{
	if (strcmp(cb->st.bus_state, state) == 0)
		return;
	log_notice("can %s: bus %s (was %s)", cb->cfg.name, state, cb->st.bus_state);
	cb->st.bus_state = state;
}

const char *canbus_name(const struct canbus *cb)
{
	return cb->cfg.name;
}

void canbus_stats(const struct canbus *cb, struct canbus_stats *st)
{
	*st = cb->st;
}

static json_t *canbus_sa_status(const struct canbus *cb)
{
	json_t *o = json_object();
	char key[8];

	for (int sa = 0; sa < 256; sa++) {
		const struct canbus_sa_stats *s = &cb->sa[sa];

		if (!s->frames)
			continue;
		snprintf(key, sizeof(key), "%d", sa);
		json_object_set_new(o, key,
				    json_pack("{s:I, s:I, s:I, s:I, s:I}", "frames",
					      (json_int_t)s->frames, "decoded",
					      (json_int_t)s->decoded, "not_available",
					      (json_int_t)s->na, "errors", (json_int_t)s->errors,
					      "unknown_pgn", (json_int_t)s->unknown));
	}
	return o;
}

static json_t *canbus_claim_status(const struct canbus *cb)
{
	static const char *const states[] = {"silent", "claiming", "held", "failed"};

	if (cb->claim == CLAIM_OFF)
		return json_pack("{s:s}", "state", "silent");
	return json_pack("{s:s, s:i, s:I}", "state", states[cb->claim], "address", cb->my_sa,
			 "requests", (json_int_t)cb->requests_sent);
}

json_t *canbus_status(const struct canbus *cb, int64_t now_ms)
{
	const struct j1939tp_counters *tp = candec_tp_counters(&cb->dec);
	const struct n2k_fp_stats *fp = candec_fp_stats(&cb->dec);
	const struct canbus_stats *s = &cb->st;

	return json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o,"
	    " s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:o, s:o}",
	    "type", "can", "state",
	    s->done ? "ended"
	    : s->up ? "up"
		    : "down",
	    "bus", s->bus_state, "frames", (json_int_t)s->frames, "decoded", (json_int_t)s->decoded,
	    "unknown_pgn", (json_int_t)s->unknown, "not_available", (json_int_t)s->na, "errors",
	    (json_int_t)s->errors, "bad", (json_int_t)s->bad, "filtered", (json_int_t)s->filtered,
	    "error_frames", (json_int_t)s->err_frames, "overflows", (json_int_t)s->overflows,
	    "last_frame_age_s",
	    s->last_frame_mono_ms < 0
		? json_null()
		: json_real((double)(now_ms - s->last_frame_mono_ms) / 1000.0),
	    "by_sa", canbus_sa_status(cb), "transport", "completed", (json_int_t)tp->completed,
	    "aborted", (json_int_t)tp->aborted, "timed_out", (json_int_t)tp->timed_out, "bad",
	    (json_int_t)tp->bad, "orphan", (json_int_t)tp->orphan, "fast_packet", "messages",
	    (json_int_t)fp->messages, "dropped",
	    (json_int_t)(fp->dropped_seq + fp->dropped_timeout + fp->dropped_restart +
			 fp->dropped_evicted + fp->dropped_short),
	    "engine", diag_status(&cb->diag), "transmit", canbus_claim_status(cb));
}
