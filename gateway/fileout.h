/* fileout: the file uplink: appends each row's JSON as one line to [file]
 * path, fsyncs, and acknowledges the rows to the store through its own bit.
 * Owns its descriptor and cursor; touches nothing else.  Main thread only.
 * Also the example of how small an uplink back-end can be (README). */
#ifndef EMGW_FILEOUT_H
#define EMGW_FILEOUT_H

#include "gateway/uplink.h"

#define FILEOUT_BIT 2 /* its bit in the store's acknowledgement mask */

extern const struct uplink_ops fileout_uplink;

#endif
