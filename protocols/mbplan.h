/* mbplan: the read plan of one Modbus device.  Groups its points into the
 * fewest read transactions the protocol allows (125 registers, 2000 bits),
 * reading across gaps of at most max_gap unused registers, and learns from
 * illegal-address exceptions: a block the device refuses is split, and the
 * cut is remembered so that later plans keep it; an item refused alone is
 * left out until the reader tries it again (mbplan_retry: when is the
 * reader's business).
 * Pure: no I/O, no allocation, no globals. */
#ifndef EMGW_MBPLAN_H
#define EMGW_MBPLAN_H

#include <stdint.h>

#define MBPLAN_MAX_ITEMS 256
#define MBPLAN_MAX_REGS	 125  /* registers in one read (functions 3, 4) */
#define MBPLAN_MAX_BITS	 2000 /* bits in one read (functions 1, 2) */
#define MBPLAN_MAX_GAP	 MBPLAN_MAX_REGS

enum {
	MBPLAN_OK = 0,
	MBPLAN_EINVAL = -1, /* bad argument: table, address, width, gap */
	MBPLAN_EFULL = -2,  /* more than MBPLAN_MAX_ITEMS items */
	MBPLAN_ERANGE = -3, /* block index out of range */
};

/* A thing to read: a point's table (enum mbpoint_table), first address and
 * width in registers or bits. */
struct mbplan_item {
	int table;
	int address;
	int width;
	int bad; /* refused even when read alone: left out of every plan */
};

/* One read transaction: `count` registers or bits from `start`, covering
 * the items order[first .. first + n). */
struct mbplan_block {
	int table;
	int start;
	int count;
	int first;
	int n;
};

struct mbplan {
	int max_gap; /* registers read across; bits: 16 x this (the same bytes) */
	int n_items;
	struct mbplan_item items[MBPLAN_MAX_ITEMS];
	uint16_t order[MBPLAN_MAX_ITEMS]; /* item indices by table, address */
	uint8_t cut[MBPLAN_MAX_ITEMS];	  /* learned: order[k] starts a new block */
	int sorted;
	int n_blocks;
	struct mbplan_block blocks[MBPLAN_MAX_ITEMS];
	unsigned splits;  /* blocks split after an exception */
	unsigned dropped; /* items refused alone */
};

/* An empty plan reading across at most max_gap (0..MBPLAN_MAX_GAP) unused
 * registers. */
int mbplan_init(struct mbplan *p, int max_gap);
/* Add an item; its index (the order of adding) or a negative code.
 * Adding forgets what was learned. */
int mbplan_add(struct mbplan *p, int table, int address, int width);
/* Make the blocks; their number or a negative code.  Greedy in address order,
 * which is optimal here: any part of a readable block is readable. */
int mbplan_build(struct mbplan *p);
/* Block `block` was answered with an illegal-address (or illegal-value)
 * exception: split it where the largest unused gap is (or in the middle),
 * or, if it holds one item, drop that item; then rebuild.  Blocks before
 * `block` keep their indices, so a reader can retry at the same index.
 * *dropped is the item dropped, or -1.  MBPLAN_OK or a negative code. */
int mbplan_exception(struct mbplan *p, int block, int *dropped);
/* Take item (refused alone, left out) back into the plan, reading it with
 * its neighbours again as far as the limits allow: the cuts that isolated
 * it are forgotten (if the device still refuses, mbplan_exception splits
 * again).  MBPLAN_OK, MBPLAN_EINVAL when the item is not left out. */
int mbplan_retry(struct mbplan *p, int item);
/* Items left out (refused alone) now. */
int mbplan_refused(const struct mbplan *p);
/* Largest read of a table: 125 registers or 2000 bits. */
int mbplan_limit(int table);
/* Text for a negative code. */
const char *mbplan_strerror(int err);

#endif
