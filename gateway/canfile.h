/* canfile: a CAN log file read line by line, lines of at most CANLOG_LINE_MAX
 * characters (a longer one is skipped to its end and reported as such).  The
 * one line reader for replay and --decode.  Owns only its FILE. */
#ifndef EMGW_CANFILE_H
#define EMGW_CANFILE_H

#include <stdio.h>

#include "protocols/canlog.h"

enum canfile_rc {
	CANFILE_END = 0,   /* end of the file */
	CANFILE_LINE = 1,  /* a line in cf->text, without its CR/LF */
	CANFILE_LONG = 2,  /* a line too long to be a CAN log line, skipped */
	CANFILE_ERROR = -1 /* read error (errno) */
};

struct canfile {
	FILE *fp;
	unsigned long line; /* number of the line just read */
	char text[CANLOG_LINE_MAX + 2];
};

/* Read from fp (not taken over). */
void canfile_init(struct canfile *cf, FILE *fp);
/* The next line. */
enum canfile_rc canfile_next(struct canfile *cf);
/* Back to the start (loop = yes); -1 when the file cannot seek. */
int canfile_rewind(struct canfile *cf);

#endif
