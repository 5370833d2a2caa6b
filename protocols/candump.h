/* candump: parse one line of a CAN log as written by can-utils' candump,
 * `-l` log format and the screen format, with or without a timestamp.
 * Pure: text in, frame out. */
#ifndef EMGW_CANDUMP_H
#define EMGW_CANDUMP_H

#include <stdint.h>

enum {
	CANDUMP_OK = 0,
	CANDUMP_SKIP = 1,     /* blank line or comment: nothing to do */
	CANDUMP_EFORMAT = -1, /* not a candump line */
	CANDUMP_EID = -2,     /* bad identifier */
	CANDUMP_EDATA = -3,   /* bad data bytes or length */
	CANDUMP_ETIME = -4,   /* bad timestamp */
	CANDUMP_EFD = -5,     /* CAN FD frame (## or [NN]): not decoded */
};

struct candump_frame {
	int has_time;
	int64_t t_us; /* log time, microseconds since the epoch (if has_time) */
	char ifname[16];
	uint32_t can_id; /* without flag bits */
	int extended;	 /* 29-bit identifier */
	int rtr;
	uint8_t len;
	uint8_t data[8];
};

/* Parse one line (no trailing newline needed).  CANDUMP_OK, CANDUMP_SKIP, or
 * a negative code. */
int candump_parse_line(const char *line, struct candump_frame *out);
/* Text for a code. */
const char *candump_strerror(int err);

#endif
