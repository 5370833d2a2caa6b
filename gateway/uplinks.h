/* uplinks: the set of uplink back-ends in force (uplink.h's ops tables):
 * opens every enabled one, runs them, gathers their deadlines, descriptors,
 * status and commands, follows reloads, and keeps the store's
 * acknowledgement mask equal to the back-ends in force.  Owns only the set;
 * names no back-end but in its table. */
#ifndef EMGW_UPLINKS_H
#define EMGW_UPLINKS_H

#include <jansson.h>

#include "gateway/command.h"
#include "gateway/uplink.h"

#define UPLINKS_MAX 8 /* back-ends in the table, at most */

struct uplinks;

/* The store's acknowledgement mask for cfg: the bit of every enabled
 * back-end (none: the first back-end's, so that rows stay until retention
 * takes them). */
unsigned uplinks_mask(const struct config *cfg);
/* Open every back-end cfg enables.  NULL on error (logged). */
struct uplinks *uplinks_open(const struct config *cfg, const struct uplink_env *env);
/* Close every back-end (goodbyes included) and free. */
void uplinks_close(struct uplinks *s);
/* Back-ends in force. */
int uplinks_count(const struct uplinks *s);
/* Back-end i's descriptor to poll (i < UPLINKS_MAX) and its events, or -1
 * when it has none now. */
int uplinks_fd(const struct uplinks *s, int i, short *events);
/* Back-end i's descriptor is ready (revents from poll). */
void uplinks_ready(struct uplinks *s, int i, short revents);
/* Run every back-end: real_ms real monotonic time; final: the rows have
 * ended (a replay is over); drain: the daemon waits for the store to empty
 * (a stop, --exit-when-done), so acknowledgements matter at once. */
void uplinks_process(struct uplinks *s, int64_t real_ms, int final, int drain);
/* The earliest of the back-ends' deadlines, or -1. */
int64_t uplinks_deadline(const struct uplinks *s);
/* Set each back-end's status object (disabled ones {"enabled":false}) in st. */
void uplinks_status(const struct uplinks *s, json_t *st, const struct store_stats *ss,
		    int64_t now_wall_ms);
/* Publish the daemon's status text where a back-end does that. */
void uplinks_set_status(struct uplinks *s, const char *json);
/* Run the commands the back-ends received and send the answers. */
void uplinks_commands(struct uplinks *s, const struct command_hooks *h);
/* The configuration changes from old to fresh: back-ends turned on open,
 * turned off close, changed ones reopen, and the store's mask follows.
 * Returns the back-ends that failed to open (logged). */
int uplinks_reload(struct uplinks *s, const struct config *old, const struct config *fresh);

#endif
