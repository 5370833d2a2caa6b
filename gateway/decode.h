/* decode: `emgwd --decode FILE`, a candump log printed as one JSON line per J1939 frame.
 * Owns only its input file and output stream; touches no daemon state (signal table, store). */
#ifndef EMGW_DECODE_H
#define EMGW_DECODE_H

#include <stdio.h>

/* Decode the candump log at path ("-" = stdin) to out, one JSON object a
 * known PGN; bad lines are reported on stderr and counted.  0 when the file
 * was read to its end, -1 when it could not be opened or read, or out failed. */
int decode_file(const char *path, FILE *out);

#endif
