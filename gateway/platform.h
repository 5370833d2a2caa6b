/* platform: the link to a China emission monitoring platform (HJ 1322 for
 * non-road machinery, HJ 1239 for road vehicles) over plain TCP, as an
 * uplink back-end.  Reads the store through its own bit and acknowledges
 * rows once the frames carrying them have left the socket (SIOCOUTQ = 0).
 * Owns its socket, its resolver thread, its signer and its serial numbers
 * (kept in the store's meta table); never touches the signal table or the
 * other uplinks.  Main thread only, but for the resolver. */
#ifndef EMGW_PLATFORM_H
#define EMGW_PLATFORM_H

#include "gateway/uplink.h"

#define PLATFORM_BIT 1 /* its bit in the store's acknowledgement mask */

extern const struct uplink_ops platform_uplink;

#endif
