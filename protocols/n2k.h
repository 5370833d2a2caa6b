/* n2k: NMEA 2000 fast-packet reassembly and engine parameter groups decoded
 * into canonical signals.  Pure: bytes in, values out; no I/O, no allocation,
 * no globals (the reassembler's state is a caller-allocated struct n2k_fp).
 * NMEA 2000 identifiers use the J1939 29-bit layout: split them with
 * j1939_id_parse (protocols/j1939.h). */
#ifndef EMGW_N2K_H
#define EMGW_N2K_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/signals.h"

#define N2K_MAX_VALUES	  16
#define N2K_FP_MAX	  223 /* 6 bytes in frame 0 + 31 frames of 7 */
#define N2K_FP_SLOTS	  16  /* messages reassembled at the same time */
#define N2K_FP_TIMEOUT_MS 750 /* longest gap between two frames of a message */

enum {
	N2K_OK = 0,
	N2K_EUNKNOWN = -1, /* PGN this codec does not decode */
	N2K_ESHORT = -2,   /* fewer data bytes than needed */
	N2K_EINVAL = -3,   /* bad argument */
	N2K_ELENGTH = -4,  /* fast packet announcing 0 or more than 223 bytes */
	N2K_ESEQ = -5,	   /* frame out of order or one missing: partial dropped */
	N2K_EORPHAN = -6,  /* continuation frame with no message in progress */
};

/* Field types as CANboat names them; all little-endian. */
enum n2k_type {
	N2K_U8,
	N2K_U16,
	N2K_U32,
	N2K_I8,
	N2K_I16,
};

/* What one field held: the highest value is "unknown" (not available), the
 * one below it "error"; for signed fields the highest positive value. */
enum n2k_state {
	N2K_VALID,
	N2K_NA,
	N2K_ERROR,
};

/* One message being reassembled.  Private to n2k.c. */
struct n2k_fp_slot {
	int used;
	uint32_t pgn;
	uint8_t sa;
	uint8_t seq;   /* sequence id, 0-7 */
	uint8_t next;  /* frame counter expected next */
	uint8_t total; /* announced length */
	uint8_t got;   /* bytes received */
	uint64_t last_ms;
	uint8_t data[N2K_FP_MAX];
};

/* Counters since n2k_fp_init; every partial message dropped is counted once,
 * under the reason it was dropped. */
struct n2k_fp_stats {
	uint64_t frames;	  /* frames given to n2k_fp_add */
	uint64_t messages;	  /* messages completed */
	uint64_t dropped_seq;	  /* frame out of order or missing */
	uint64_t dropped_timeout; /* no frame for timeout_ms */
	uint64_t dropped_restart; /* a new frame 0 for the same key */
	uint64_t dropped_evicted; /* all slots busy: the oldest made room */
	uint64_t dropped_short;	  /* a frame carried fewer bytes than due */
	uint64_t bad_length;	  /* frame 0 announcing 0 or > 223 bytes */
	uint64_t orphans;	  /* continuation frames with no message */
};

/* Reassembler state: allocate it (static or on the heap), n2k_fp_init it,
 * then read only stats. */
struct n2k_fp {
	uint32_t timeout_ms;
	struct n2k_fp_stats stats;
	struct n2k_fp_slot slot[N2K_FP_SLOTS];
};

/* A reassembled message; data points into the struct n2k_fp and stays valid
 * until the next call on it. */
struct n2k_fp_msg {
	uint32_t pgn;
	uint8_t sa;
	uint8_t len;
	const uint8_t *data;
};

struct n2k_value {
	enum sig_id sig;
	double value;
};

/* The decoded content of one message: the engine instance, valid values, and
 * counts of mapped fields that were unknown or in error.  Fields without a
 * canonical signal are neither decoded nor counted. */
struct n2k_msg {
	uint8_t instance;
	enum n2k_state instance_state; /* 0xFF unknown, 0xFE error */
	int n;
	struct n2k_value v[N2K_MAX_VALUES];
	int n_na;
	int n_error;
	/* The signals sent without a number (n_na + n_error of them), so a
	 * reader can forget their old values. */
	int n_missing;
	struct {
		enum sig_id sig;
		enum n2k_state state;
	} missing[N2K_MAX_VALUES];
};

/* 1 if the PGN travels as a fast packet (among those decoded here), else 0. */
int n2k_is_fast_packet(uint32_t pgn);
/* Empty every slot and zero the counters; timeout_ms 0 means N2K_FP_TIMEOUT_MS. */
void n2k_fp_init(struct n2k_fp *fp, uint32_t timeout_ms);
/* Drop partial messages that had no frame for more than timeout_ms. */
void n2k_fp_expire(struct n2k_fp *fp, uint64_t now_ms);
/* Add one CAN frame of a fast-packet PGN from source sa at now_ms (any
 * monotonic millisecond clock).  1 and *out filled when it completed a
 * message, 0 when it was taken, or a negative code when it was refused. */
int n2k_fp_add(struct n2k_fp *fp, uint32_t pgn, uint8_t sa, const uint8_t *data, size_t len,
	       uint64_t now_ms, struct n2k_fp_msg *out);
/* Read a field of the given type at p into *raw (sign-extended for signed
 * types) and say whether it is a number. */
enum n2k_state n2k_field_read(const uint8_t *p, enum n2k_type type, int64_t *raw);
/* Decode one (reassembled) message into out; N2K_OK or a negative code. */
int n2k_decode(uint32_t pgn, const uint8_t *data, size_t len, struct n2k_msg *out);
/* CANboat's name of a decoded PGN ("Engine Parameters, Rapid Update"), or
 * NULL when not decoded here. */
const char *n2k_pgn_name(uint32_t pgn);
/* Text for a negative code. */
const char *n2k_strerror(int err);

#endif
