/* selftest: `emgwd --selftest`, the commissioning check.  With the
 * configuration as written, tries each configured part for a bounded time
 * and says, one line a part, whether it works and what to do when not.
 * Reads only (its own connections, a selftest topic); never touches a
 * running daemon's store, sockets or state. */
#ifndef EMGW_SELFTEST_H
#define EMGW_SELFTEST_H

#include <stdio.h>

#include "gateway/config.h"

#define SELFTEST_SECONDS 15 /* default time a part may take */

/* Check every part of cfg, each for at most `seconds`, and print the table
 * (or, with json, one JSON object) to out.  0 when every configured part
 * passed, 1 otherwise. */
int selftest_run(const struct config *cfg, int seconds, int json, FILE *out);

#endif
