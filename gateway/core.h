/* core: the sample tick.  Once a period (live: on the monotonic clock;
 * replaying: on whole periods of the log's time, in between its frames) it
 * checks the clock, runs the detectors (smoke, watch, zones) on the signal
 * table and makes the period's record; every event, the sources' too, goes
 * out through it with the position of its moment.  Owns the detectors, the
 * tick schedule and the record and event counts; reads the table and the
 * sources, writes only through report (and the store's restamping); opens
 * no source, store or uplink. */
#ifndef EMGW_CORE_H
#define EMGW_CORE_H

#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/store.h"
#include "gateway/config.h"
#include "gateway/report.h"
#include "gateway/smoke.h"
#include "gateway/sources.h"
#include "gateway/table.h"
#include "gateway/watch.h"
#include "gateway/zones.h"

struct core;

/* The detectors for cfg (watch's start-up checks run now), reading t and
 * reporting through r.  NULL on error (logged). */
struct core *core_open(const struct config *cfg, struct table *t, struct report *r);
/* The store (restamped when trusted time comes) and the sources (read for
 * ticks), once open; events before this carry no position. */
void core_attach(struct core *c, struct store *store, struct sources *src);
/* Free (the detectors' files stay: see core_stop). */
void core_close(struct core *c);
/* Stamp ev with the position at now, report it; counted. */
void core_emit_event(struct core *c, struct payload_event *ev, const struct clock_now *now);
/* A store that could not be used as it was (moved aside, in RAM): logged,
 * and a `store` alarm in the new store, so the server learns of it too. */
void core_store_events(struct core *c, const struct store_open_info *info, const char *path);
/* payload_event_fn for a source's one-off event (ctx: the core): stamped now. */
void core_on_event(void *ctx, struct payload_event *ev);
/* Replaying: the frames due by real_ms, in log time order across sources,
 * each after the ticks due before it; gaps and steps back are events; at the
 * logs' end the last partial period closes.  A bounded round, so signals
 * are read in between.  Returns when to come back (real_ms: work is
 * waiting), or -1. */
int64_t core_replay(struct core *c, int64_t real_ms);
/* Live: the tick when its period has passed at mono_ms. */
void core_live(struct core *c, int64_t mono_ms);
/* The next live tick as a real_ms deadline (mono_ms the daemon clock now), or -1. */
int64_t core_deadline(const struct core *c, int64_t real_ms, int64_t mono_ms);
/* Every replayed log has ended (and its last period closed). */
int core_replay_done(const struct core *c);
/* A record now, outside the period, marked "snapshot": its seq, or 0. */
uint64_t core_snapshot(struct core *c);
/* A new sample period; live ticks move to it. */
void core_set_period(struct core *c, int period_ms);
/* A reload: fresh's period and staleness, and each detector's own
 * reconfiguration against what it has in force (an open smoke episode ends
 * when its rules change; the zones file is read again, a bad one keeps the
 * zones in force; watch takes its settings and the file's hash). */
void core_reconfigure(struct core *c, const struct config *fresh);
/* Shutting down: open episodes end now, with their events. */
void core_finish(struct core *c);
/* A clean stop (watch's marker goes). */
void core_stop(struct core *c);
/* For status: records and events made, and the detectors (read only). */
uint64_t core_records(const struct core *c);
uint64_t core_events(const struct core *c);
struct smoke *core_smoke(struct core *c);
struct watch *core_watch(struct core *c);
struct zones *core_zones(struct core *c);

#endif
