/* j1939: SAE J1939 identifiers and single-frame parameter groups decoded into
 * canonical signals.  Pure: bytes in, values out; no I/O, no allocation. */
#ifndef EMGW_J1939_H
#define EMGW_J1939_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/signals.h"

#define J1939_MAX_VALUES 16

enum {
	J1939_OK = 0,
	J1939_EUNKNOWN = -1, /* PGN this codec does not decode */
	J1939_ESHORT = -2,   /* fewer data bytes than the PGN needs */
	J1939_EINVAL = -3,   /* bad argument */
};

/* A 29-bit identifier split into its parts.  For PDU1 (PF < 240) the PS
 * byte is the destination and the PGN's low byte is 0; else da = 0xFF. */
struct j1939_id {
	uint8_t prio;
	uint32_t pgn;
	uint8_t sa;
	uint8_t da;
};

/* What one SPN of a frame held. */
enum j1939_spn_state {
	J1939_SPN_VALID,
	J1939_SPN_NA,	    /* not available (all ones) */
	J1939_SPN_ERROR,    /* error indicator */
	J1939_SPN_RESERVED, /* reserved range: never a number */
};

struct j1939_value {
	enum sig_id sig;
	double value;
};

/* The decoded content of one frame: valid values, and counts of SPNs that
 * were not available, in error, or in the reserved range. */
struct j1939_frame {
	int n;
	struct j1939_value v[J1939_MAX_VALUES];
	int n_na;
	int n_error;
	int n_reserved;
	/* The signals that were sent without a number (n_na + n_error +
	 * n_reserved of them), so a reader can forget their old values. */
	int n_missing;
	struct {
		enum sig_id sig;
		enum j1939_spn_state state;
	} missing[J1939_MAX_VALUES];
};

/* A per-engine correction of one SPN's layout, for engines that deviate
 * from the standard (byte order, position, scaling): value = raw * res_num /
 * res_den + offset. */
struct j1939_override {
	uint16_t spn;
	uint8_t start; /* first byte, 1-based */
	uint8_t size;  /* 1, 2 or 4 */
	uint8_t big_endian;
	int32_t res_num, res_den, offset;
};

/* Split a 29-bit CAN identifier. */
void j1939_id_parse(uint32_t can_id, struct j1939_id *out);
/* Decode the data of one PGN into out; J1939_OK or a negative code. */
int j1939_decode(uint32_t pgn, const uint8_t *data, size_t len, struct j1939_frame *out);
/* j1939_decode with the overrides ov[0..n_ov) applied to the SPNs they name
 * (an override whose bytes fall outside the frame makes that SPN missing). */
int j1939_decode_with(uint32_t pgn, const uint8_t *data, size_t len,
		      const struct j1939_override *ov, int n_ov, struct j1939_frame *out);
/* Short name of a decoded PGN ("EEC1"), or NULL when not decoded here. */
const char *j1939_pgn_name(uint32_t pgn);
/* The i-th PGN this codec decodes (0, 1, ...), or 0 past the last: for
 * building receive filters. */
uint32_t j1939_pgn_at(int i);
/* Text for a negative code. */
const char *j1939_strerror(int err);

#endif
