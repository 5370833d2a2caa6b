#include "protocols/n2k.h"

#include <string.h>

/*
 * Field rows, from shared/spec/j1939-signals.md (CANboat's database).  Offsets
 * are 0-based byte offsets in the reassembled message.  value = (raw *
 * res_num + off_num) / res_den: one integer expression and one division, so
 * the result rounds once (0.1 K to degrees C is (raw * 10 - 27315) / 100).
 * Fields with no canonical signal are left out: oil, coolant and fuel
 * pressure, alternator voltage, discrete status, tilt/trim, and all of
 * 127497 (trip fuel used and average, economy and instantaneous fuel rates
 * are not instantaneous engine values; SIG_FUEL_RATE_LPH comes from 127489).
 */
struct n2k_field_def {
	uint32_t pgn;
	enum sig_id sig;
	uint8_t offset;
	enum n2k_type type;
	int32_t res_num;
	int32_t res_den;
	int32_t off_num;
};

struct n2k_pgn_def {
	uint32_t pgn;
	const char *name;
	int fast;
};

static const struct n2k_pgn_def n2k_pgns[] = {
    {127488, "Engine Parameters, Rapid Update", 0},
    {127489, "Engine Parameters, Dynamic", 1},
    {127497, "Trip Parameters, Engine", 1},
};

static const struct n2k_field_def n2k_fields[] = {
    /* pgn    signal               offset type     res         offset */
    {127488, SIG_ENGINE_SPEED_RPM, 1, N2K_U16, 1, 4, 0},   /* 0.25 rpm */
    {127488, SIG_BOOST_KPA, 3, N2K_U16, 1, 10, 0},	   /* 100 Pa */
    {127489, SIG_OIL_TEMP_C, 3, N2K_U16, 10, 100, -27315}, /* 0.1 K */
    {127489, SIG_COOLANT_C, 5, N2K_U16, 1, 100, -27315},   /* 0.01 K */
    {127489, SIG_FUEL_RATE_LPH, 9, N2K_I16, 1, 10, 0},	   /* 0.1 L/h */
    {127489, SIG_ENGINE_HOURS_H, 11, N2K_U32, 1, 3600, 0}, /* 1 s */
    {127489, SIG_ENGINE_LOAD_PCT, 24, N2K_I8, 1, 1, 0},	   /* 1 % */
    {127489, SIG_ENGINE_TORQUE_PCT, 25, N2K_I8, 1, 1, 0},  /* 1 % */
};

#define N2K_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct n2k_pgn_def *n2k_pgn_find(uint32_t pgn)
{
	for (size_t i = 0; i < N2K_NELEM(n2k_pgns); i++)
		if (n2k_pgns[i].pgn == pgn)
			return &n2k_pgns[i];
	return NULL;
}

int n2k_is_fast_packet(uint32_t pgn)
{
	const struct n2k_pgn_def *d = n2k_pgn_find(pgn);

	return d ? d->fast : 0;
}

const char *n2k_pgn_name(uint32_t pgn)
{
	const struct n2k_pgn_def *d = n2k_pgn_find(pgn);

	return d ? d->name : NULL;
}

/* ---- fast-packet reassembly ---- */

void n2k_fp_init(struct n2k_fp *fp, uint32_t timeout_ms)
{
	if (!fp)
		return;
	memset(fp, 0, sizeof(*fp));
	fp->timeout_ms = timeout_ms ? timeout_ms : N2K_FP_TIMEOUT_MS;
}

/* A clock that steps back makes a slot look new, not stale. */
static int n2k_fp_stale(const struct n2k_fp *fp, const struct n2k_fp_slot *s, uint64_t now_ms)
{
	return now_ms > s->last_ms && now_ms - s->last_ms > fp->timeout_ms;
}

void n2k_fp_expire(struct n2k_fp *fp, uint64_t now_ms)
{
	if (!fp)
		return;
	for (size_t i = 0; i < N2K_FP_SLOTS; i++) {
		struct n2k_fp_slot *s = &fp->slot[i];

		if (s->used && n2k_fp_stale(fp, s, now_ms)) {
			s->used = 0;
			fp->stats.dropped_timeout++;
		}
	}
}

static struct n2k_fp_slot *n2k_fp_find(struct n2k_fp *fp, uint32_t pgn, uint8_t sa, uint8_t seq)
{
	for (size_t i = 0; i < N2K_FP_SLOTS; i++) {
		struct n2k_fp_slot *s = &fp->slot[i];

		if (s->used && s->pgn == pgn && s->sa == sa && s->seq == seq)
			return s;
	}
	return NULL;
}

/* A free slot, or else the one that heard from its sender longest ago. */
static struct n2k_fp_slot *n2k_fp_alloc(struct n2k_fp *fp)
{
	struct n2k_fp_slot *oldest = &fp->slot[0];

	for (size_t i = 0; i < N2K_FP_SLOTS; i++) {
		struct n2k_fp_slot *s = &fp->slot[i];

		if (!s->used)
			return s;
		if (s->last_ms < oldest->last_ms)
			oldest = s;
	}
	oldest->used = 0;
	fp->stats.dropped_evicted++;
	return oldest;
}

/* Append the bytes a frame owes after its header of hdr bytes: all of its
 * capacity, or what is left of the message.  A frame shorter than that drops
 * the message, as the bytes would land in the wrong place. */
static int n2k_fp_take(struct n2k_fp *fp, struct n2k_fp_slot *s, const uint8_t *data, size_t len,
		       size_t hdr)
{
	size_t n = s->total - s->got;

	if (n > 8 - hdr)
		n = 8 - hdr;
	if (len < hdr + n) {
		s->used = 0;
		fp->stats.dropped_short++;
		return N2K_ESHORT;
	}
	memcpy(s->data + s->got, data + hdr, n);
	s->got = (uint8_t)(s->got + n);
	return N2K_OK;
}

/* Frame 0: (re)start the message of its key in *sp. */
static int n2k_fp_first(struct n2k_fp *fp, struct n2k_fp_slot **sp, uint32_t pgn, uint8_t sa,
			uint8_t seq, const uint8_t *data, size_t len, uint64_t now_ms)
{
	struct n2k_fp_slot *s = *sp;

	if (s) {
		s->used = 0;
		fp->stats.dropped_restart++;
	}
	if (len < 2) {
		fp->stats.dropped_short++;
		return N2K_ESHORT;
	}
	if (data[1] == 0 || data[1] > N2K_FP_MAX) {
		fp->stats.bad_length++;
		return N2K_ELENGTH;
	}
	s = n2k_fp_alloc(fp);
	s->used = 1;
	s->pgn = pgn;
	s->sa = sa;
	s->seq = seq;
	s->next = 1;
	s->total = data[1];
	s->got = 0;
	s->last_ms = now_ms;
	*sp = s;
	return n2k_fp_take(fp, s, data, len, 2);
}

/*
 * Slots are keyed by (source, PGN, sequence id), so two senders, or one
 * sender's consecutive messages, never mix.  Frame 0 always (re)starts its
 * key's message; any gap in the counters drops the message rather than
 * guessing, since a partial engine record is worse than a missing one.
 */
int n2k_fp_add(struct n2k_fp *fp, uint32_t pgn, uint8_t sa, const uint8_t *data, size_t len,
	       uint64_t now_ms, struct n2k_fp_msg *out)
{
	struct n2k_fp_slot *s;
	uint8_t seq, counter;
	int rc;

	if (!fp || !out || (!data && len > 0))
		return N2K_EINVAL;
	fp->stats.frames++;
	n2k_fp_expire(fp, now_ms);
	if (len < 1) {
		fp->stats.dropped_short++;
		return N2K_ESHORT;
	}
	seq = (uint8_t)(data[0] >> 5);
	counter = (uint8_t)(data[0] & 0x1F);
	s = n2k_fp_find(fp, pgn, sa, seq);
	if (counter == 0) {
		rc = n2k_fp_first(fp, &s, pgn, sa, seq, data, len, now_ms);
		if (rc < 0)
			return rc;
	} else {
		if (!s) {
			fp->stats.orphans++;
			return N2K_EORPHAN;
		}
		if (counter != s->next) {
			s->used = 0;
			fp->stats.dropped_seq++;
			return N2K_ESEQ;
		}
		rc = n2k_fp_take(fp, s, data, len, 1);
		if (rc < 0)
			return rc;
		s->next++;
		s->last_ms = now_ms;
	}
	if (s->got < s->total)
		return 0;
	/* Complete: the slot is free again, its bytes stay until the next call. */
	s->used = 0;
	fp->stats.messages++;
	out->pgn = s->pgn;
	out->sa = s->sa;
	out->len = s->total;
	out->data = s->data;
	return 1;
}

/* ---- decoding ---- */

static size_t n2k_type_size(enum n2k_type type)
{
	switch (type) {
	case N2K_U8:
	case N2K_I8:
		return 1;
	case N2K_U16:
	case N2K_I16:
		return 2;
	case N2K_U32:
		return 4;
	}
	return 0;
}

enum n2k_state n2k_field_read(const uint8_t *p, enum n2k_type type, int64_t *raw)
{
	uint32_t u = 0, max;
	size_t size = n2k_type_size(type);

	if (!p || !raw || size == 0) {
		if (raw)
			*raw = 0;
		return N2K_ERROR;
	}
	for (size_t i = size; i > 0; i--)
		u = (u << 8) | p[i - 1];
	switch (type) {
	case N2K_U8:
	case N2K_U16:
	case N2K_U32:
		max = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
		*raw = u;
		break;
	case N2K_I8:
	case N2K_I16:
	default:
		/* Two's complement by arithmetic, not by a cast of a wider value. */
		max = (1u << (8 * size - 1)) - 1;
		*raw = u > max ? (int64_t)u - ((int64_t)1 << (8 * size)) : (int64_t)u;
		break;
	}
	if (u == max)
		return N2K_NA;
	if (u == max - 1)
		return N2K_ERROR;
	return N2K_VALID;
}

/* Bytes a PGN needs: the instance, and every mapped field in full. */
static size_t n2k_pgn_len(uint32_t pgn)
{
	size_t need = 1;

	for (size_t i = 0; i < N2K_NELEM(n2k_fields); i++) {
		const struct n2k_field_def *d = &n2k_fields[i];
		size_t end = d->offset + n2k_type_size(d->type);

		if (d->pgn == pgn && end > need)
			need = end;
	}
	return need;
}

static void n2k_extract(const struct n2k_field_def *d, const uint8_t *data, struct n2k_msg *out)
{
	int64_t raw;
	enum n2k_state state = n2k_field_read(data + d->offset, d->type, &raw);

	if (state != N2K_VALID) {
		if (out->n_missing < N2K_MAX_VALUES) {
			out->missing[out->n_missing].sig = d->sig;
			out->missing[out->n_missing].state = state;
			out->n_missing++;
		}
		if (state == N2K_NA)
			out->n_na++;
		else
			out->n_error++;
		return;
	}
	if (out->n >= N2K_MAX_VALUES)
		return; /* cannot happen with this table: at most 6 a PGN */
	out->v[out->n].sig = d->sig;
	out->v[out->n].value = (double)(raw * d->res_num + d->off_num) / d->res_den;
	out->n++;
}

/*
 * Like j1939_decode, a message shorter than its last mapped field is refused
 * as a whole (N2K_ESHORT) rather than half-decoded; longer ones are fine
 * (fields added by later versions of the standard are ignored).
 */
int n2k_decode(uint32_t pgn, const uint8_t *data, size_t len, struct n2k_msg *out)
{
	int64_t raw;

	if (!out || (!data && len > 0))
		return N2K_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!n2k_pgn_find(pgn))
		return N2K_EUNKNOWN;
	if (len < n2k_pgn_len(pgn))
		return N2K_ESHORT;
	out->instance_state = n2k_field_read(data, N2K_U8, &raw);
	out->instance = data[0];
	for (size_t i = 0; i < N2K_NELEM(n2k_fields); i++)
		if (n2k_fields[i].pgn == pgn)
			n2k_extract(&n2k_fields[i], data, out);
	return N2K_OK;
}

const char *n2k_strerror(int err)
{
	switch (err) {
	case N2K_OK:
		return "ok";
	case N2K_EUNKNOWN:
		return "PGN not decoded";
	case N2K_ESHORT:
		return "message shorter than its PGN needs";
	case N2K_EINVAL:
		return "invalid argument";
	case N2K_ELENGTH:
		return "fast packet length not 1-223";
	case N2K_ESEQ:
		return "fast packet frame out of order or missing";
	case N2K_EORPHAN:
		return "fast packet frame without its first frame";
	}
	return "unknown error";
}
