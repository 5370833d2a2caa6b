/* sources: every input of the daemon: the CAN sources (canbus), the Modbus
 * buses with devices (fieldbus, a thread a bus) and the gnss source.  Opens,
 * closes and reconfigures them, names their descriptors and deadlines, and,
 * replaying, finds the log frame due first across the CAN sources.  Owns
 * the handles; the sources write into the table themselves.  Runs no tick,
 * touches no detector, report, store or uplink. */
#ifndef EMGW_SOURCES_H
#define EMGW_SOURCES_H

#include <stdint.h>

#include "gateway/canbus.h"
#include "gateway/config.h"
#include "gateway/fieldbus.h"
#include "gateway/gnss.h"
#include "gateway/table.h"
#include "protocols/payload.h"

#define SOURCES_FDS (CONFIG_MAX_CAN + 1) /* descriptors: the CAN sources, then gnss */

struct sources;

/* Open every source cfg configures, writing into t; Modbus threads write
 * wake_fd when values wait; the sources' one-off events (DTC changes, a
 * VIN mismatch, point-lost) go to on_event(ctx, ev).  NULL on error
 * (logged), with nothing left open. */
struct sources *sources_open(const struct config *cfg, struct table *t, int wake_fd,
			     payload_event_fn *on_event, void *ctx);
/* Close every source (a gnss fix is forgotten by the clock too) and free. */
void sources_close(struct sources *s);
/* A reload from old to fresh: each CAN source and Modbus bus (by name)
 * reopens when it is new or its settings changed, the others go on
 * untouched (a log opened while replaying follows on from the replay's
 * time); the gnss source (its track starts again) reopens when [gnss]
 * changed.  Each reopening is logged with why; one that does not open is
 * logged and left out.  The CAN sources' indices may change. */
void sources_reconfigure(struct sources *s, const struct config *old, const struct config *fresh);
/* Live CAN: fn(ctx, mono_ms) after each data frame, at the frame's time
 * (also on the CAN sources a reload opens). */
void sources_set_frame_hook(struct sources *s, canbus_frame_fn *fn, void *ctx);
/* Descriptor i (< SOURCES_FDS) to poll for input, or -1 (a CAN socket
 * just read: -1 until its batch is up, see sources_deadline). */
int sources_fd(const struct sources *s, int i);
/* Descriptor i is readable: read what waits (CAN: then rest a batch). */
void sources_ready(struct sources *s, int i);
/* Main thread: write what the Modbus threads queued into the table, and
 * what waits on CAN sockets resting a batch. */
void sources_process(struct sources *s, int64_t mono_ms);
/* Run reconnects and transmit timers due at real_ms, end CAN batches that
 * are up; the next deadline or -1. */
int64_t sources_deadline(struct sources *s, int64_t real_ms);
/* Replaying: the CAN source whose frame due by real_ms comes first in log
 * time (that frame in *first), or -1; *next: when to look again for a frame
 * not yet due, at least CANBUS_BATCH_MS from real_ms (-1: none); *active:
 * 0 once every log has ended. */
int sources_replay_due(struct sources *s, int64_t real_ms, struct canbus_next *first, int64_t *next,
		       int *active);
/* Replaying: apply source i's frame, the one sources_replay_due gave. */
void sources_replay_apply(struct sources *s, int i);
/* Age of the newest CAN data in the table at now_ms, or -1 when none yet. */
int64_t sources_can_age(const struct sources *s, int64_t now_ms);
/* The handles, read only for the rest of the daemon: CAN sources open,
 * the Modbus buses (CONFIG_MAX_BUS, NULL where none), gnss (NULL: off). */
int sources_n_can(const struct sources *s);
struct canbus *const *sources_can(const struct sources *s);
struct fieldbus *const *sources_buses(const struct sources *s);
struct gnss *sources_gnss(const struct sources *s);

#endif
