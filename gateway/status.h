/* status: the daemon's state as a JSON file in the state directory, for
 * `emgwd --status` and for anyone on the box, also while the uplink is down.
 * Owns only that file. */
#ifndef EMGW_STATUS_H
#define EMGW_STATUS_H

#include <jansson.h>

#define STATUS_FILE "status.json"

/* Write st (not consumed) to dir/status.json atomically (write, rename).
 * 0 or -1 (logged once per change of outcome). */
int status_write(const char *dir, const json_t *st);
/* `emgwd --status`: print the state in dir for a person.  Exit status: 0 when
 * a running daemon wrote it, 1 when none runs, 2 when there is no file. */
int status_print(const char *dir, FILE *out);

#endif
