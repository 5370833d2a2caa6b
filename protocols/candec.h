/* candec: the one place where CAN traffic becomes decoded messages.  One CAN
 * frame (or one message already reassembled, as CANboat logs carry them) in,
 * at most one message out: J1939 signals, DM1, VIN, address claim, or NMEA
 * 2000 engine parameters.  Holds the J1939 transport and NMEA 2000 fast-packet
 * reassembly state in a caller-allocated struct.  Pure: no I/O, no malloc. */
#ifndef EMGW_CANDEC_H
#define EMGW_CANDEC_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/j1939.h"
#include "protocols/j1939dm.h"
#include "protocols/j1939tp.h"
#include "protocols/n2k.h"
#include "protocols/signals.h"

#define CANDEC_MAX_VALUES 16

enum candec_kind {
	CANDEC_NONE = 0, /* frame taken (a packet of a longer message), nothing complete */
	CANDEC_SIGNALS,	 /* values of canonical signals (J1939 or NMEA 2000) */
	CANDEC_DM1,	 /* active trouble codes and lamps */
	CANDEC_VIN,	 /* vehicle identification number */
	CANDEC_CLAIM,	 /* address claim: the sender's NAME */
	CANDEC_DM5,	 /* diagnostic readiness */
	CANDEC_DM19,	 /* calibration ids and CVNs */
	CANDEC_DM20,	 /* monitor performance ratios (IUPR) */
	CANDEC_UNKNOWN,	 /* a PGN we do not decode */
};

enum {
	CANDEC_EBAD = -1, /* malformed frame or message: see err */
};

/* A decoded message.  Valid until the next call on the same context. */
struct candec_msg {
	enum candec_kind kind;
	uint32_t pgn;
	uint8_t sa, da;
	int instance;	  /* NMEA 2000 engine instance, or -1 */
	const char *name; /* short PGN name, NULL if unknown */
	const char *err;  /* why a frame was refused (CANDEC_EBAD) */
	int reassembled;  /* came through the transport protocol or fast packet */
	/* CANDEC_SIGNALS */
	int n;
	struct {
		enum sig_id sig;
		double value;
	} v[CANDEC_MAX_VALUES];
	int n_na, n_error, n_reserved;
	int n_missing; /* signals sent without a number */
	struct {
		enum sig_id sig;
		int error; /* 0 not available, 1 error or reserved */
	} missing[CANDEC_MAX_VALUES];
	/* CANDEC_DM1, CANDEC_VIN, CANDEC_CLAIM */
	struct j1939dm_dm1 dm1;
	char vin[32];
	struct j1939dm_name claim;
	/* CANDEC_DM5, CANDEC_DM19, CANDEC_DM20 */
	struct j1939dm_dm5 dm5;
	struct j1939dm_dm19 dm19;
	struct j1939dm_dm20 dm20;
	/* the payload */
	const uint8_t *data;
	size_t len;
};

#define CANDEC_MAX_OVERRIDES 8

struct candec {
	struct j1939tp tp;
	struct n2k_fp fp;
	int n_override; /* per-engine SPN corrections (see j1939_decode_with) */
	struct j1939_override override[CANDEC_MAX_OVERRIDES];
};

/* Empty reassembly state. */
void candec_init(struct candec *d);
/* One frame with a 29-bit identifier at now_ms: 1 with *out filled, 0 when
 * nothing is complete yet, CANDEC_EBAD (out->err says why). */
int candec_frame(struct candec *d, uint32_t can_id, const uint8_t *data, size_t len, int64_t now_ms,
		 struct candec_msg *out);
/* A complete message of pgn from sa to da (CANboat lines carry these):
 * 1 with *out filled, or CANDEC_EBAD.  d may be NULL (no SPN overrides). */
int candec_message(const struct candec *d, uint32_t pgn, uint8_t sa, uint8_t da,
		   const uint8_t *data, size_t len, struct candec_msg *out);
/* Every PGN some decoder here wants (for kernel receive filters); returns
 * how many were written to pgns (at most max). */
int candec_pgns(uint32_t *pgns, int max);
/* Reassembly counters: J1939 transport, then NMEA 2000 fast packet. */
const struct j1939tp_counters *candec_tp_counters(const struct candec *d);
const struct n2k_fp_stats *candec_fp_stats(const struct candec *d);

#endif
