/* inflight: the uplink's table of publications handed to paho and not yet
 * acknowledged, each with the store rows it carries.  Owns the table and
 * the tokens that travel through paho as callback context; knows nothing
 * of MQTT, of the store or of threads (only the main thread calls it). */
#ifndef EMGW_INFLIGHT_H
#define EMGW_INFLIGHT_H

#include <stdint.h>

#define INFLIGHT_IDX_BITS  10
#define INFLIGHT_MAX_SLOTS (1 << INFLIGHT_IDX_BITS)

struct inflight;

/* A table of slots publications of at most rows_max rows each.  NULL when
 * out of memory or out of range (slots 1..INFLIGHT_MAX_SLOTS). */
struct inflight *inflight_new(int slots, int rows_max);
void inflight_free(struct inflight *t);
/* A free slot, now in use and empty, marked with tag; -1 when all are busy. */
int inflight_take(struct inflight *t, int tag);
/* Add seq to slot's rows. 0, or -1 when the slot is full. */
int inflight_add(struct inflight *t, int slot, uint64_t seq);
/* The context to give paho for slot: names the slot and its generation. */
void *inflight_token(const struct inflight *t, int slot);
/* The slot a token from paho names, or -1 when that use of the slot is over
 * (released or reset since: a stale callback). */
int inflight_resolve(const struct inflight *t, const void *token);
/* Rows of a slot in use (count in *n), and its tag. */
const uint64_t *inflight_rows(const struct inflight *t, int slot, int *n);
int inflight_tag(const struct inflight *t, int slot);
/* Free a slot; its token goes stale. */
void inflight_release(struct inflight *t, int slot);
/* Free every slot (a new connection); every token goes stale. */
void inflight_reset(struct inflight *t);
/* Slots in use. */
int inflight_used(const struct inflight *t);
/* Slots in all. */
int inflight_slots(const struct inflight *t);

#endif
