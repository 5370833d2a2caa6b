#include "gateway/table.h"

#include <string.h>

void table_init(struct table *t, int stale_ms)
{
	memset(t, 0, sizeof(*t));
	t->stale_ms = stale_ms;
}

void table_set_stale(struct table *t, int stale_ms)
{
	t->stale_ms = stale_ms;
}

static struct table_entry *table_entry(struct table *t, enum sig_id sig, int instance)
{
	if ((unsigned)sig >= SIG_COUNT || instance < 0 || instance >= TABLE_INSTANCES)
		return NULL;
	return &t->e[sig][instance];
}

void table_set(struct table *t, enum sig_id sig, int instance, double value, int64_t mono_ms,
	       int source)
{
	struct table_entry *e = table_entry(t, sig, instance);

	if (!e)
		return;
	e->value = value;
	e->mono_ms = mono_ms;
	e->source = (uint8_t)source;
	e->quality = TABLE_OK;
}

void table_mark(struct table *t, enum sig_id sig, int instance, enum table_quality q,
		int64_t mono_ms, int source)
{
	struct table_entry *e = table_entry(t, sig, instance);

	if (!e)
		return;
	e->mono_ms = mono_ms;
	e->source = (uint8_t)source;
	e->quality = (uint8_t)q;
}

int table_get(const struct table *t, enum sig_id sig, int instance, int64_t now_ms, double *value)
{
	const struct table_entry *e;

	if ((unsigned)sig >= SIG_COUNT || instance < 0 || instance >= TABLE_INSTANCES)
		return 0;
	e = &t->e[sig][instance];
	if (e->quality != TABLE_OK || now_ms - e->mono_ms > t->stale_ms)
		return 0;
	*value = e->value;
	return 1;
}

int64_t table_source_age(const struct table *t, int source, int64_t now_ms)
{
	int64_t newest = -1;

	for (int s = 0; s < SIG_COUNT; s++)
		for (int i = 0; i < TABLE_INSTANCES; i++) {
			const struct table_entry *e = &t->e[s][i];

			if (e->quality != TABLE_EMPTY && e->source == source && e->mono_ms > newest)
				newest = e->mono_ms;
		}
	return newest < 0 ? -1 : now_ms - newest;
}
