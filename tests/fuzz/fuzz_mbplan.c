/* libFuzzer target: the first byte is the largest gap, then 4 bytes an item
 * (table, address, width) up to a zero byte, then each byte picks a block
 * that answers with an exception, or 0xFF and a byte an item to retry.
 * The plan must keep the protocol limits, read every item that is not
 * dropped exactly once, and each inside its block. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "protocols/mbplan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fuzz_sink;

static void fuzz_check(const struct mbplan *p)
{
	int seen[MBPLAN_MAX_ITEMS] = {0};

	for (int b = 0; b < p->n_blocks; b++) {
		const struct mbplan_block *bl = &p->blocks[b];

		if (bl->count < 1 || bl->count > mbplan_limit(bl->table) || bl->n < 1)
			abort();
		for (int k = bl->first; k < bl->first + bl->n; k++) {
			const struct mbplan_item *it = &p->items[p->order[k]];

			if (it->bad || it->table != bl->table || it->address < bl->start ||
			    it->address + it->width > bl->start + bl->count)
				abort();
			seen[p->order[k]]++;
		}
	}
	for (int i = 0; i < p->n_items; i++)
		if (seen[i] != !p->items[i].bad)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbplan p;
	size_t i = 1;
	int dropped;

	if (size < 1 || mbplan_init(&p, data[0] % (MBPLAN_MAX_GAP + 1)) != MBPLAN_OK)
		return 0;
	for (; i + 4 <= size && data[i] != 0; i += 4) {
		int rc = mbplan_add(&p, data[i] & 3, (data[i + 1] << 8 | data[i + 2]) & 0x3FF,
				    1 + data[i + 3] % 130);

		fuzz_sink += (size_t)(rc < 0 ? -rc : rc);
	}
	if (mbplan_build(&p) < 0)
		abort();
	fuzz_check(&p);
	for (i++; i < size && p.n_items > 0; i++) {
		if (data[i] == 0xFF && i + 1 < size) { /* 0xFF N: retry item N */
			int it = data[++i] % p.n_items, bad = p.items[it].bad;

			if (mbplan_retry(&p, it) != (bad ? MBPLAN_OK : MBPLAN_EINVAL) ||
			    p.items[it].bad || mbplan_refused(&p) < 0)
				abort();
		} else if (p.n_blocks > 0 &&
			   mbplan_exception(&p, data[i] % p.n_blocks, &dropped) != MBPLAN_OK) {
			abort();
		}
		fuzz_check(&p);
	}
	fuzz_sink += (size_t)p.splits + p.dropped;
	return 0;
}
