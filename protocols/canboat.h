/* canboat: parse one line of CANboat's plain text format, one reassembled
 * NMEA 2000 message a line:
 *   2016-02-28T19:57:02.825Z,2,127489,4,255,26,00,a0,0f,...
 *   timestamp,priority,PGN,source,destination,length,bytes...
 * Pure: text in, message out. */
#ifndef EMGW_CANBOAT_H
#define EMGW_CANBOAT_H

#include <stdint.h>

#define CANBOAT_MAX_DATA 223

enum {
	CANBOAT_OK = 0,
	CANBOAT_SKIP = 1,     /* blank line or '#' comment: nothing to do */
	CANBOAT_EFORMAT = -1, /* not a CANboat line (wrong number or shape of fields) */
	CANBOAT_ETIME = -2,   /* bad timestamp */
	CANBOAT_ERANGE = -3,  /* priority, PGN, source, destination or length out of range */
	CANBOAT_EDATA = -4,   /* a data byte not two hex digits */
	CANBOAT_ECOUNT = -5,  /* number of data bytes differs from the length */
};

struct canboat_msg {
	int has_time; /* 0 when the timestamp field is empty */
	int64_t t_us; /* microseconds since the epoch, UTC (if has_time) */
	uint8_t prio; /* 0-7 */
	uint32_t pgn; /* 0-0x3FFFF */
	uint8_t src;
	uint8_t dst;
	uint8_t len; /* 0-223 */
	uint8_t data[CANBOAT_MAX_DATA];
};

/* Parse one line (a trailing CR/LF is fine).  CANBOAT_OK, CANBOAT_SKIP, or a
 * negative code. */
int canboat_parse_line(const char *line, struct canboat_msg *out);
/* 1 if the line starts like a CANboat line ("YYYY-MM-DD" then 'T', ' ' or
 * '-', or an empty timestamp ",<digit>") and has a comma; cheap, for telling
 * CANboat from candump lines in one file.  Blank and comment lines: 0. */
int canboat_looks_like(const char *line);
/* Text for a code. */
const char *canboat_strerror(int err);

#endif
