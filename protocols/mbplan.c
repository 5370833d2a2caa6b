#include "protocols/mbplan.h"

#include <string.h>

#include "protocols/mbpoint.h"

static int mbplan_is_bits(int table)
{
	return table == MBPOINT_COIL || table == MBPOINT_DISCRETE;
}

int mbplan_limit(int table)
{
	return mbplan_is_bits(table) ? MBPLAN_MAX_BITS : MBPLAN_MAX_REGS;
}

static int mbplan_gap(const struct mbplan *p, int table)
{
	return mbplan_is_bits(table) ? 16 * p->max_gap : p->max_gap;
}

int mbplan_init(struct mbplan *p, int max_gap)
{
	if (!p || max_gap < 0 || max_gap > MBPLAN_MAX_GAP)
		return MBPLAN_EINVAL;
	memset(p, 0, sizeof(*p));
	p->max_gap = max_gap;
	return MBPLAN_OK;
}

int mbplan_add(struct mbplan *p, int table, int address, int width)
{
	struct mbplan_item *it;

	if (!p || table < MBPOINT_COIL || table > MBPOINT_HOLDING || address < 0 || width < 1 ||
	    width > mbplan_limit(table) || address + width - 1 > 65535)
		return MBPLAN_EINVAL;
	if (p->n_items == MBPLAN_MAX_ITEMS)
		return MBPLAN_EFULL;
	it = &p->items[p->n_items];
	*it = (struct mbplan_item){table, address, width, 0};
	p->sorted = 0;
	p->n_blocks = 0;
	return p->n_items++;
}

static int mbplan_before(const struct mbplan_item *a, int ia, const struct mbplan_item *b, int ib)
{
	if (a->table != b->table)
		return a->table < b->table;
	if (a->address != b->address)
		return a->address < b->address;
	return ia < ib; /* stable: the same map gives the same plan */
}

/* Insertion sort: a few hundred items, once per configuration. */
static void mbplan_sort(struct mbplan *p)
{
	for (int i = 0; i < p->n_items; i++)
		p->order[i] = (uint16_t)i;
	for (int i = 1; i < p->n_items; i++) {
		uint16_t v = p->order[i];
		int j = i;

		while (j > 0 && mbplan_before(&p->items[v], v, &p->items[p->order[j - 1]],
					      p->order[j - 1])) {
			p->order[j] = p->order[j - 1];
			j--;
		}
		p->order[j] = v;
	}
	memset(p->cut, 0, sizeof(p->cut));
	p->sorted = 1;
}

/* Can the item at sorted position k join block b? */
static int mbplan_fits(const struct mbplan *p, const struct mbplan_block *b, int k)
{
	const struct mbplan_item *it = &p->items[p->order[k]];
	int end = b->start + b->count, it_end = it->address + it->width;

	if (p->cut[k] || it->table != b->table)
		return 0;
	if (it->address - end > mbplan_gap(p, b->table))
		return 0;
	return (it_end > end ? it_end : end) - b->start <= mbplan_limit(b->table);
}

int mbplan_build(struct mbplan *p)
{
	struct mbplan_block *b = NULL;

	if (!p)
		return MBPLAN_EINVAL;
	if (!p->sorted)
		mbplan_sort(p);
	p->n_blocks = 0;
	for (int k = 0; k < p->n_items; k++) {
		const struct mbplan_item *it = &p->items[p->order[k]];
		int it_end = it->address + it->width;

		if (it->bad) {
			b = NULL; /* never read across a refused address */
			continue;
		}
		if (b && mbplan_fits(p, b, k)) {
			if (it_end > b->start + b->count)
				b->count = it_end - b->start;
			b->n++;
			continue;
		}
		b = &p->blocks[p->n_blocks++];
		*b = (struct mbplan_block){it->table, it->address, it->width, k, 1};
	}
	return p->n_blocks;
}

/* Where to cut block b: before the item after the widest unused gap, or,
 * when the items touch, in the middle (halving finds a bad register in
 * log2(n) steps). */
static int mbplan_split_at(const struct mbplan *p, const struct mbplan_block *b)
{
	int best = b->first + b->n / 2, best_gap = 0, end = -1;

	for (int k = b->first; k < b->first + b->n; k++) {
		const struct mbplan_item *it = &p->items[p->order[k]];

		if (k > b->first && it->address - end > best_gap) {
			best_gap = it->address - end;
			best = k;
		}
		if (it->address + it->width > end)
			end = it->address + it->width;
	}
	return best;
}

int mbplan_exception(struct mbplan *p, int block, int *dropped)
{
	const struct mbplan_block *b;
	int rc;

	if (!p || !dropped)
		return MBPLAN_EINVAL;
	if (block < 0 || block >= p->n_blocks)
		return MBPLAN_ERANGE;
	b = &p->blocks[block];
	*dropped = -1;
	if (b->n == 1) {
		*dropped = p->order[b->first];
		p->items[*dropped].bad = 1;
		p->dropped++;
	} else {
		p->cut[mbplan_split_at(p, b)] = 1;
		p->splits++;
	}
	rc = mbplan_build(p);
	return rc < 0 ? rc : MBPLAN_OK;
}

int mbplan_retry(struct mbplan *p, int item)
{
	int rc;

	if (!p || item < 0 || item >= p->n_items || !p->items[item].bad || !p->sorted)
		return MBPLAN_EINVAL;
	p->items[item].bad = 0;
	for (int k = 0; k < p->n_items; k++)
		if (p->order[k] == item) {
			p->cut[k] = 0;
			if (k + 1 < p->n_items)
				p->cut[k + 1] = 0;
			break;
		}
	rc = mbplan_build(p);
	return rc < 0 ? rc : MBPLAN_OK;
}

int mbplan_refused(const struct mbplan *p)
{
	int n = 0;

	for (int i = 0; p && i < p->n_items; i++)
		n += p->items[i].bad;
	return n;
}

const char *mbplan_strerror(int err)
{
	switch (err) {
	case MBPLAN_OK:
		return "ok";
	case MBPLAN_EINVAL:
		return "invalid argument";
	case MBPLAN_EFULL:
		return "too many points";
	case MBPLAN_ERANGE:
		return "no such block";
	default:
		return "unknown error";
	}
}
