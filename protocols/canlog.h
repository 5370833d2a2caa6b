/* canlog: one line of a CAN log in, what it carries out: a CAN frame
 * (candump, either format) or a reassembled NMEA 2000 message (CANboat),
 * told apart per line, with its time; or a bad line and why.  The one line
 * dispatch for replay and --decode.  Pure: text in, values out. */
#ifndef EMGW_CANLOG_H
#define EMGW_CANLOG_H

#include <stdint.h>

#include "protocols/canboat.h"
#include "protocols/candump.h"

/* The longest line taken: a CANboat line of 223 bytes is ~720 characters. */
#define CANLOG_LINE_MAX 1024

enum canlog_kind {
	CANLOG_SKIP,  /* blank line or comment: nothing to do */
	CANLOG_FRAME, /* a CAN frame in .frame */
	CANLOG_N2K,   /* a CANboat message in .msg */
	CANLOG_BAD,   /* not readable: .why says why */
};

struct canlog_line {
	enum canlog_kind kind;
	int has_time;
	int64_t t_us; /* log time, microseconds since the epoch (if has_time) */
	const char *why;
	struct candump_frame frame;
	struct canboat_msg msg;
};

/* Parse one line (no newline needed) into *out; returns out->kind. */
enum canlog_kind canlog_parse(const char *line, struct canlog_line *out);
/* A line longer than CANLOG_LINE_MAX, cut by the reader: out is a bad line. */
enum canlog_kind canlog_too_long(struct canlog_line *out);

#endif
