/* j1939tp: listen-only SAE J1939-21 transport protocol reassembly (BAM and
 * overheard RTS/CTS sessions) into whole messages of up to 1785 bytes.
 * Pure: frames and times in, messages out; no I/O, no allocation, no globals. */
#ifndef EMGW_J1939TP_H
#define EMGW_J1939TP_H

#include <stddef.h>
#include <stdint.h>

#define J1939TP_PGN_CM	     60416u /* 0xEC00 connection management */
#define J1939TP_PGN_DT	     60160u /* 0xEB00 data transfer */
#define J1939TP_MIN_SIZE     9
#define J1939TP_MAX_SIZE     1785 /* 255 packets of 7 bytes */
#define J1939TP_MAX_SESSIONS 16
#define J1939TP_T1_MS	     750  /* BAM, and between packets of a CTS window */
#define J1939TP_T2_MS	     1250 /* RTS/CTS: waiting for data, CTS or EOMA */

enum {
	J1939TP_OK = 0,
	J1939TP_DONE = 1,	 /* a message is complete in *out */
	J1939TP_EINVAL = -1,	 /* bad argument */
	J1939TP_ESHORT = -2,	 /* frame has fewer data bytes than it needs */
	J1939TP_ECM = -3,	 /* malformed TP.CM: control, size or count */
	J1939TP_ESEQ = -4,	 /* TP.DT sequence 0 or past the packet count */
	J1939TP_ENOSESSION = -5, /* TP.DT with no open session (orphan) */
};

/* Counted events since j1939tp_init.  A session ends in exactly one of
 * completed, aborted, timed_out or dropped. */
struct j1939tp_counters {
	uint64_t completed;
	/* ended by an Abort frame, replaced by a new BAM/RTS, or closed by an
	 * EndOfMsgAck while packets were still missing */
	uint64_t aborted;
	uint64_t timed_out;
	uint64_t dropped;   /* evicted because every session slot was in use */
	uint64_t bad;	    /* malformed TP.CM, short frame, bad sequence */
	uint64_t orphan;    /* TP.DT with no open session */
	uint64_t duplicate; /* TP.DT for a packet already received (ignored) */
};

/* A reassembled message.  data points into the context and stays valid
 * until the next call of j1939tp_feed, j1939tp_expire or j1939tp_init. */
struct j1939tp_msg {
	uint32_t pgn; /* from the TP.CM frame */
	uint8_t sa;   /* sender */
	uint8_t da;   /* receiver, 0xFF for BAM */
	int bam;      /* 1: broadcast (BAM), 0: overheard RTS/CTS */
	size_t len;
	const uint8_t *data;
};

/* Private: the caller allocates struct j1939tp (about 30 KB) but uses its
 * fields only through the functions below. */
struct j1939tp_session {
	uint8_t used;
	uint8_t bam;
	uint8_t sa, da;
	uint32_t pgn;
	uint16_t size;
	uint8_t npackets;
	uint8_t nreceived;
	uint8_t window_end; /* last sequence of the current CTS window, 0 unknown */
	int64_t last_ms;    /* time of the last frame of this session */
	int64_t timeout_ms; /* idle time after which it is dropped */
	uint8_t got[32];    /* bitmap of received sequences 1..255 */
	uint8_t buf[J1939TP_MAX_SIZE];
};

struct j1939tp {
	struct j1939tp_session s[J1939TP_MAX_SESSIONS];
	struct j1939tp_counters c;
};

/* Empty every session and zero the counters. */
void j1939tp_init(struct j1939tp *tp);

/*
 * Feed one CAN frame (29-bit can_id, SocketCAN flag bits ignored) seen at
 * now_ms (any monotonic millisecond clock).  Frames other than TP.CM and
 * TP.DT return J1939TP_OK untouched.  Returns J1939TP_DONE with *out filled
 * when the frame completed a message, J1939TP_OK when it did not, or a
 * negative code for a frame that was refused (and counted).
 */
int j1939tp_feed(struct j1939tp *tp, uint32_t can_id, const uint8_t *data, size_t len,
		 int64_t now_ms, struct j1939tp_msg *out);

/* Drop sessions idle longer than their timeout at now_ms (counted as
 * timed_out).  j1939tp_feed calls it first, so a caller needs it only to
 * free sessions while the bus is quiet. */
void j1939tp_expire(struct j1939tp *tp, int64_t now_ms);

/* The counters so far. */
const struct j1939tp_counters *j1939tp_counters(const struct j1939tp *tp);

/* Number of sessions open now. */
int j1939tp_active(const struct j1939tp *tp);

/* Text for a code. */
const char *j1939tp_strerror(int err);

#endif
