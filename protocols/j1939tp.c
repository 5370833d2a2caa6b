#include "protocols/j1939tp.h"

#include <string.h>

#include "protocols/j1939.h"

/* TP.CM control bytes (J1939-21). */
enum {
	TP_RTS = 16,
	TP_CTS = 17,
	TP_EOMA = 19,
	TP_BAM = 32,
	TP_ABORT = 255,
};

#define TP_FRAME_LEN 8 /* TP.CM frames always carry 8 bytes */
#define TP_DT_BYTES  7 /* data bytes per TP.DT packet */

void j1939tp_init(struct j1939tp *tp)
{
	if (!tp)
		return;
	/* Only the headers need clearing; buffers are written before read. */
	for (int i = 0; i < J1939TP_MAX_SESSIONS; i++) {
		struct j1939tp_session *s = &tp->s[i];

		s->used = 0;
		s->nreceived = 0;
		memset(s->got, 0, sizeof(s->got));
	}
	memset(&tp->c, 0, sizeof(tp->c));
}

/* The open session from sender sa to receiver da, or NULL. */
static struct j1939tp_session *tp_find(struct j1939tp *tp, uint8_t sa, uint8_t da)
{
	for (int i = 0; i < J1939TP_MAX_SESSIONS; i++) {
		struct j1939tp_session *s = &tp->s[i];

		if (s->used && s->sa == sa && s->da == da)
			return s;
	}
	return NULL;
}

/*
 * A slot for a new session: a free one, else the one quiet for longest
 * (the nearest to timing out anyway), which is counted as dropped.
 */
static struct j1939tp_session *tp_slot(struct j1939tp *tp)
{
	struct j1939tp_session *oldest = &tp->s[0];

	for (int i = 0; i < J1939TP_MAX_SESSIONS; i++) {
		struct j1939tp_session *s = &tp->s[i];

		if (!s->used)
			return s;
		if (s->last_ms < oldest->last_ms)
			oldest = s;
	}
	tp->c.dropped++;
	oldest->used = 0;
	return oldest;
}

/* PGN in TP.CM bytes 6-8 (18 bits; the rest of byte 8 is reserved). */
static uint32_t tp_cm_pgn(const uint8_t *data)
{
	return ((uint32_t)data[5] | (uint32_t)data[6] << 8 | (uint32_t)data[7] << 16) & 0x3FFFFu;
}

/*
 * BAM or RTS: check size and count, then start a session, replacing an
 * unfinished one between the same two nodes (J1939-21: a sender runs one
 * session per destination at a time, so the old one is dead).
 */
static int tp_open(struct j1939tp *tp, const struct j1939_id *id, const uint8_t *data,
		   int64_t now_ms)
{
	unsigned size = (unsigned)data[1] | (unsigned)data[2] << 8;
	unsigned npackets = data[3];
	int bam = data[0] == TP_BAM;
	struct j1939tp_session *s;

	if (size < J1939TP_MIN_SIZE || size > J1939TP_MAX_SIZE ||
	    npackets != (size + TP_DT_BYTES - 1) / TP_DT_BYTES || (!bam && id->da == 0xFF)) {
		tp->c.bad++;
		return J1939TP_ECM;
	}
	s = tp_find(tp, id->sa, id->da);
	if (s)
		tp->c.aborted++;
	else
		s = tp_slot(tp);
	s->used = 1;
	s->bam = (uint8_t)bam;
	s->sa = id->sa;
	s->da = id->da;
	s->pgn = tp_cm_pgn(data);
	s->size = (uint16_t)size;
	s->npackets = (uint8_t)npackets;
	s->nreceived = 0;
	s->window_end = 0;
	s->last_ms = now_ms;
	s->timeout_ms = bam ? J1939TP_T1_MS : J1939TP_T2_MS;
	memset(s->got, 0, sizeof(s->got));
	return J1939TP_OK;
}

/*
 * CTS, sent by the receiver (id->sa) to the sender (id->da): the packets
 * next .. next + count - 1 follow; a count of 0 holds the connection open.
 */
static int tp_cts(struct j1939tp *tp, const struct j1939_id *id, const uint8_t *data,
		  int64_t now_ms)
{
	struct j1939tp_session *s = tp_find(tp, id->da, id->sa);
	unsigned count = data[1], next = data[2], end;

	/* A CTS for a session we did not see open is no business of ours. */
	if (!s || s->bam || s->pgn != tp_cm_pgn(data))
		return J1939TP_OK;
	if (count > 0 && (next == 0 || next > s->npackets)) {
		tp->c.bad++;
		return J1939TP_ECM;
	}
	end = next + count - 1;
	s->window_end = count == 0 ? 0 : (uint8_t)(end > s->npackets ? s->npackets : end);
	s->last_ms = now_ms;
	s->timeout_ms = J1939TP_T2_MS;
	return J1939TP_OK;
}

/* EndOfMsgAck from the receiver: a session still open then has packets we
 * missed, so it can never complete. */
static int tp_eoma(struct j1939tp *tp, const struct j1939_id *id, const uint8_t *data)
{
	struct j1939tp_session *s = tp_find(tp, id->da, id->sa);

	if (s && !s->bam && s->pgn == tp_cm_pgn(data)) {
		tp->c.aborted++;
		s->used = 0;
	}
	return J1939TP_OK;
}

/* Abort, sent by either side; it names the PGN of the session it ends. */
static int tp_abort(struct j1939tp *tp, const struct j1939_id *id, const uint8_t *data)
{
	uint32_t pgn = tp_cm_pgn(data);
	struct j1939tp_session *s[2];

	s[0] = tp_find(tp, id->sa, id->da);
	s[1] = tp_find(tp, id->da, id->sa);
	/* A node "talking to itself" (sa == da) names one session twice:
	 * end it once. */
	if (s[1] == s[0])
		s[1] = NULL;
	for (int i = 0; i < 2; i++) {
		if (s[i] && s[i]->pgn == pgn) {
			tp->c.aborted++;
			s[i]->used = 0;
		}
	}
	return J1939TP_OK;
}

static int tp_cm(struct j1939tp *tp, const struct j1939_id *id, const uint8_t *data, size_t len,
		 int64_t now_ms)
{
	if (len < TP_FRAME_LEN) {
		tp->c.bad++;
		return J1939TP_ESHORT;
	}
	switch (data[0]) {
	case TP_RTS:
	case TP_BAM:
		return tp_open(tp, id, data, now_ms);
	case TP_CTS:
		return tp_cts(tp, id, data, now_ms);
	case TP_EOMA:
		return tp_eoma(tp, id, data);
	case TP_ABORT:
		return tp_abort(tp, id, data);
	}
	tp->c.bad++;
	return J1939TP_ECM;
}

/*
 * One TP.DT packet: stored at (seq - 1) * 7 whatever order it comes in.
 * Only the bytes inside the message size are needed, so a last packet
 * sent without its 0xFF padding is accepted.
 */
static int tp_dt(struct j1939tp *tp, const struct j1939_id *id, const uint8_t *data, size_t len,
		 int64_t now_ms, struct j1939tp_msg *out)
{
	struct j1939tp_session *s;
	unsigned seq, off, n;
	uint8_t bit;

	if (len < 1) {
		tp->c.bad++;
		return J1939TP_ESHORT;
	}
	s = tp_find(tp, id->sa, id->da);
	if (!s) {
		tp->c.orphan++;
		return J1939TP_ENOSESSION;
	}
	seq = data[0];
	if (seq == 0 || seq > s->npackets) {
		tp->c.bad++;
		return J1939TP_ESEQ;
	}
	/* seq <= npackets = ceil(size / 7), so off < size <= sizeof(buf). */
	off = (seq - 1) * TP_DT_BYTES;
	n = s->size - off;
	if (n > TP_DT_BYTES)
		n = TP_DT_BYTES;
	if (len < 1 + (size_t)n) {
		tp->c.bad++;
		return J1939TP_ESHORT;
	}
	s->last_ms = now_ms;
	if (s->bam || (s->window_end != 0 && seq < s->window_end))
		s->timeout_ms = J1939TP_T1_MS; /* more packets due right away */
	else
		s->timeout_ms = J1939TP_T2_MS; /* the receiver's turn: CTS or EOMA */
	bit = (uint8_t)(1u << (seq & 7));
	if (s->got[seq >> 3] & bit) {
		tp->c.duplicate++;
		return J1939TP_OK;
	}
	s->got[seq >> 3] |= bit;
	memcpy(s->buf + off, data + 1, n);
	s->nreceived++;
	if (s->nreceived < s->npackets)
		return J1939TP_OK;
	out->pgn = s->pgn;
	out->sa = s->sa;
	out->da = s->da;
	out->bam = s->bam;
	out->len = s->size;
	out->data = s->buf;
	/* The slot is free for the next session; buf stays intact until then,
	 * which is never before the caller's next call. */
	s->used = 0;
	tp->c.completed++;
	return J1939TP_DONE;
}

int j1939tp_feed(struct j1939tp *tp, uint32_t can_id, const uint8_t *data, size_t len,
		 int64_t now_ms, struct j1939tp_msg *out)
{
	struct j1939_id id;

	if (!tp || !out || (!data && len > 0))
		return J1939TP_EINVAL;
	j1939tp_expire(tp, now_ms);
	j1939_id_parse(can_id, &id);
	if (id.pgn == J1939TP_PGN_CM)
		return tp_cm(tp, &id, data, len, now_ms);
	if (id.pgn == J1939TP_PGN_DT)
		return tp_dt(tp, &id, data, len, now_ms, out);
	return J1939TP_OK;
}

void j1939tp_expire(struct j1939tp *tp, int64_t now_ms)
{
	if (!tp)
		return;
	for (int i = 0; i < J1939TP_MAX_SESSIONS; i++) {
		struct j1939tp_session *s = &tp->s[i];

		/* Unsigned difference: no overflow whatever the clock's values;
		 * a clock that stepped back expires nothing. */
		if (s->used && now_ms > s->last_ms &&
		    (uint64_t)now_ms - (uint64_t)s->last_ms > (uint64_t)s->timeout_ms) {
			tp->c.timed_out++;
			s->used = 0;
		}
	}
}

const struct j1939tp_counters *j1939tp_counters(const struct j1939tp *tp)
{
	return tp ? &tp->c : NULL;
}

int j1939tp_active(const struct j1939tp *tp)
{
	int n = 0;

	if (!tp)
		return 0;
	for (int i = 0; i < J1939TP_MAX_SESSIONS; i++)
		n += tp->s[i].used != 0;
	return n;
}

const char *j1939tp_strerror(int err)
{
	switch (err) {
	case J1939TP_OK:
		return "ok";
	case J1939TP_DONE:
		return "message complete";
	case J1939TP_EINVAL:
		return "invalid argument";
	case J1939TP_ESHORT:
		return "transport frame too short";
	case J1939TP_ECM:
		return "malformed TP.CM frame";
	case J1939TP_ESEQ:
		return "TP.DT sequence number out of range";
	case J1939TP_ENOSESSION:
		return "TP.DT without an open session";
	}
	return "unknown error";
}
