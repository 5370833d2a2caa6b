/* inflight: which store rows each unacknowledged publication carries.
 *
 * paho gives a delivery callback one pointer of context.  A row's seq fits
 * in it, but a batch does not; so the context is a token naming a slot of
 * this table, and the slot holds the rows.  Slots are reused, and paho may
 * call back late: after a connection is lost, it may report the failure (or,
 * racing, the success) of a publication of the old session after we have
 * reset the table and reused the slot for new rows.  Acting on such a stale
 * callback would acknowledge rows the broker never got: a lost record.
 *
 * So every slot has a generation, bumped whenever the slot is released or
 * reset, and the token carries (generation, slot).  A callback acts only if
 * its slot is in use with the same generation; any later use of the slot
 * has a newer one.  The generation takes the bits of a pointer the index
 * does not (54 on 64-bit, 22 on 32-bit): a stale token could only match
 * after 2^22 reuses of its slot while its callback is still on its way,
 * which paho's bounded queues do not allow.  Token 0 is never made (the
 * generation starts at 1), so a NULL context is never valid.
 */
#include "gateway/inflight.h"

#include <stdlib.h>

#define INFLIGHT_IDX_MASK ((uintptr_t)INFLIGHT_MAX_SLOTS - 1)
#define INFLIGHT_GEN_MASK (UINTPTR_MAX >> INFLIGHT_IDX_BITS)

struct inflight_slot {
	uintptr_t gen;
	int busy;
	int tag;
	int n;
};

struct inflight {
	int slots;
	int rows_max;
	int used;
	int next; /* where the search for a free slot starts */
	struct inflight_slot *slot;
	uint64_t *rows; /* slots * rows_max */
};

struct inflight *inflight_new(int slots, int rows_max)
{
	struct inflight *t;

	if (slots < 1 || slots > INFLIGHT_MAX_SLOTS || rows_max < 1)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slot = calloc((size_t)slots, sizeof(*t->slot));
	t->rows = calloc((size_t)slots * (size_t)rows_max, sizeof(*t->rows));
	if (!t->slot || !t->rows) {
		inflight_free(t);
		return NULL;
	}
	t->slots = slots;
	t->rows_max = rows_max;
	for (int i = 0; i < slots; i++)
		t->slot[i].gen = 1;
	return t;
}

void inflight_free(struct inflight *t)
{
	if (!t)
		return;
	free(t->slot);
	free(t->rows);
	free(t);
}

int inflight_take(struct inflight *t, int tag)
{
	for (int k = 0; k < t->slots; k++) {
		int i = (t->next + k) % t->slots;

		if (t->slot[i].busy)
			continue;
		t->slot[i].busy = 1;
		t->slot[i].tag = tag;
		t->slot[i].n = 0;
		t->next = (i + 1) % t->slots;
		t->used++;
		return i;
	}
	return -1;
}

int inflight_add(struct inflight *t, int slot, uint64_t seq)
{
	struct inflight_slot *s = &t->slot[slot];

	if (!s->busy || s->n >= t->rows_max)
		return -1;
	t->rows[(size_t)slot * (size_t)t->rows_max + (size_t)s->n++] = seq;
	return 0;
}

void *inflight_token(const struct inflight *t, int slot)
{
	uintptr_t v = (t->slot[slot].gen & INFLIGHT_GEN_MASK) << INFLIGHT_IDX_BITS;

	return (void *)(v | (uintptr_t)slot);
}

int inflight_resolve(const struct inflight *t, const void *token)
{
	uintptr_t v = (uintptr_t)token;
	int slot = (int)(v & INFLIGHT_IDX_MASK);

	if (slot >= t->slots || !t->slot[slot].busy)
		return -1;
	if ((t->slot[slot].gen & INFLIGHT_GEN_MASK) != v >> INFLIGHT_IDX_BITS)
		return -1;
	return slot;
}

const uint64_t *inflight_rows(const struct inflight *t, int slot, int *n)
{
	*n = t->slot[slot].n;
	return &t->rows[(size_t)slot * (size_t)t->rows_max];
}

int inflight_tag(const struct inflight *t, int slot)
{
	return t->slot[slot].tag;
}

static void inflight_bump(struct inflight_slot *s)
{
	s->gen = ((s->gen + 1) & INFLIGHT_GEN_MASK) ? s->gen + 1 : 1;
}

void inflight_release(struct inflight *t, int slot)
{
	struct inflight_slot *s = &t->slot[slot];

	if (!s->busy)
		return;
	s->busy = 0;
	s->n = 0;
	inflight_bump(s);
	t->used--;
}

void inflight_reset(struct inflight *t)
{
	for (int i = 0; i < t->slots; i++) {
		/* Idle slots too: a token of theirs may still be in flight
		 * only if released, and that bumped it already; bumping again
		 * costs nothing and keeps the rule simple. */
		inflight_bump(&t->slot[i]);
		t->slot[i].busy = 0;
		t->slot[i].n = 0;
	}
	t->used = 0;
}

int inflight_used(const struct inflight *t)
{
	return t->used;
}

int inflight_slots(const struct inflight *t)
{
	return t->slots;
}
