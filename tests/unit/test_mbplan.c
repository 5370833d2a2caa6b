/* Unit tests of mbplan: contiguous points, gaps, the protocol limits, the
 * four tables, overlapping points, and learning from exceptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "protocols/mbplan.h"
#include "protocols/mbpoint.h"

#define H MBPOINT_HOLDING
#define I MBPOINT_INPUT
#define C MBPOINT_COIL
#define D MBPOINT_DISCRETE

static void expect_block(const struct mbplan *p, int b, int table, int start, int count, int n)
{
	assert_true(b < p->n_blocks);
	assert_int_equal(p->blocks[b].table, table);
	assert_int_equal(p->blocks[b].start, start);
	assert_int_equal(p->blocks[b].count, count);
	assert_int_equal(p->blocks[b].n, n);
}

static void test_contiguous(void **state)
{
	struct mbplan p;

	(void)state;
	assert_int_equal(mbplan_init(&p, 0), MBPLAN_OK);
	for (int a = 0; a < 20; a++)
		assert_int_equal(mbplan_add(&p, H, a, 1), a);
	assert_int_equal(mbplan_build(&p), 1);
	expect_block(&p, 0, H, 0, 20, 20);
}

static void test_order_of_adding_does_not_matter(void **state)
{
	struct mbplan p;

	(void)state;
	mbplan_init(&p, 0);
	mbplan_add(&p, H, 10, 2); /* item 0 */
	mbplan_add(&p, H, 2, 1);  /* item 1 */
	mbplan_add(&p, H, 3, 7);  /* item 2 */
	assert_int_equal(mbplan_build(&p), 1);
	expect_block(&p, 0, H, 2, 10, 3);
	assert_int_equal(p.order[0], 1);
	assert_int_equal(p.order[1], 2);
	assert_int_equal(p.order[2], 0);
}

static void test_gaps(void **state)
{
	struct mbplan p;

	(void)state;
	/* gap of 5 unused registers (5..9) */
	mbplan_init(&p, 5);
	mbplan_add(&p, H, 0, 5);
	mbplan_add(&p, H, 10, 2);
	assert_int_equal(mbplan_build(&p), 1);
	expect_block(&p, 0, H, 0, 12, 2);
	mbplan_init(&p, 4);
	mbplan_add(&p, H, 0, 5);
	mbplan_add(&p, H, 10, 2);
	assert_int_equal(mbplan_build(&p), 2);
	expect_block(&p, 0, H, 0, 5, 1);
	expect_block(&p, 1, H, 10, 2, 1);
	/* max_gap 0: only touching points share a read */
	mbplan_init(&p, 0);
	mbplan_add(&p, H, 0, 1);
	mbplan_add(&p, H, 1, 1);
	mbplan_add(&p, H, 3, 1);
	assert_int_equal(mbplan_build(&p), 2);
	/* bits: the gap is counted in bits, 16 a register */
	mbplan_init(&p, 1);
	mbplan_add(&p, C, 0, 1);
	mbplan_add(&p, C, 17, 1); /* 16 unused bits */
	mbplan_add(&p, C, 35, 1); /* 17 unused bits */
	assert_int_equal(mbplan_build(&p), 2);
	expect_block(&p, 0, C, 0, 18, 2);
}

static void test_limits(void **state)
{
	struct mbplan p;

	(void)state;
	mbplan_init(&p, 0);
	for (int a = 0; a < 250; a++)
		mbplan_add(&p, I, a, 1);
	assert_int_equal(mbplan_build(&p), 2);
	expect_block(&p, 0, I, 0, 125, 125);
	expect_block(&p, 1, I, 125, 125, 125);
	/* a wide point that would cross 125 starts a new read */
	mbplan_init(&p, 0);
	mbplan_add(&p, H, 0, 124);
	mbplan_add(&p, H, 124, 2);
	assert_int_equal(mbplan_build(&p), 2);
	expect_block(&p, 1, H, 124, 2, 1);
	/* 2000 bits */
	mbplan_init(&p, 0);
	mbplan_add(&p, D, 0, 1);
	mbplan_add(&p, D, 1999, 1);
	mbplan_add(&p, D, 2000, 1);
	p.max_gap = MBPLAN_MAX_GAP; /* 2000 bits of gap allowed */
	assert_int_equal(mbplan_build(&p), 2);
	expect_block(&p, 0, D, 0, 2000, 2);
	assert_int_equal(mbplan_limit(H), 125);
	assert_int_equal(mbplan_limit(C), 2000);
	/* the largest gap does not override the limit */
	mbplan_init(&p, MBPLAN_MAX_GAP);
	mbplan_add(&p, H, 0, 1);
	mbplan_add(&p, H, 200, 1);
	assert_int_equal(mbplan_build(&p), 2);
}

static void test_tables_apart(void **state)
{
	struct mbplan p;

	(void)state;
	mbplan_init(&p, 10);
	mbplan_add(&p, H, 0, 1);
	mbplan_add(&p, I, 1, 1);
	mbplan_add(&p, C, 2, 1);
	mbplan_add(&p, D, 3, 1);
	mbplan_add(&p, H, 1, 1);
	assert_int_equal(mbplan_build(&p), 4);
	/* by table order: coil, discrete, input, holding */
	expect_block(&p, 0, C, 2, 1, 1);
	expect_block(&p, 1, D, 3, 1, 1);
	expect_block(&p, 2, I, 1, 1, 1);
	expect_block(&p, 3, H, 0, 2, 2);
}

static void test_overlap(void **state)
{
	struct mbplan p;

	(void)state;
	/* four flags in one status register, and a u32 over two registers */
	mbplan_init(&p, 0);
	for (int i = 0; i < 4; i++)
		mbplan_add(&p, I, 5, 1);
	mbplan_add(&p, I, 4, 2);
	mbplan_add(&p, I, 6, 2);
	assert_int_equal(mbplan_build(&p), 1);
	expect_block(&p, 0, I, 4, 4, 6);
}

static void test_bad_arguments(void **state)
{
	struct mbplan p;
	int dropped;

	(void)state;
	assert_int_equal(mbplan_init(&p, -1), MBPLAN_EINVAL);
	assert_int_equal(mbplan_init(&p, MBPLAN_MAX_GAP + 1), MBPLAN_EINVAL);
	assert_int_equal(mbplan_init(NULL, 0), MBPLAN_EINVAL);
	mbplan_init(&p, 0);
	assert_int_equal(mbplan_add(&p, 4, 0, 1), MBPLAN_EINVAL);
	assert_int_equal(mbplan_add(&p, H, -1, 1), MBPLAN_EINVAL);
	assert_int_equal(mbplan_add(&p, H, 0, 0), MBPLAN_EINVAL);
	assert_int_equal(mbplan_add(&p, H, 0, 126), MBPLAN_EINVAL);
	assert_int_equal(mbplan_add(&p, H, 65535, 2), MBPLAN_EINVAL);
	assert_int_equal(mbplan_add(&p, C, 0, 2000), 0);
	for (int i = 1; i < MBPLAN_MAX_ITEMS; i++)
		assert_int_equal(mbplan_add(&p, H, i, 1), i);
	assert_int_equal(mbplan_add(&p, H, 0, 1), MBPLAN_EFULL);
	mbplan_build(&p);
	assert_int_equal(mbplan_exception(&p, p.n_blocks, &dropped), MBPLAN_ERANGE);
	assert_int_equal(mbplan_exception(&p, -1, &dropped), MBPLAN_ERANGE);
	assert_int_equal(mbplan_exception(&p, 0, NULL), MBPLAN_EINVAL);
	assert_string_equal(mbplan_strerror(MBPLAN_EFULL), "too many points");
	assert_non_null(mbplan_strerror(-42));
}

/* A device whose register 7 does not exist: reads that cover 7 get an
 * exception.  Runs the planner against it until every block works. */
static int hole = 7; /* -1: the device refuses nothing (it came back) */

static int refuses(int table, int start, int count)
{
	return hole >= 0 && table == H && start <= hole && hole < start + count;
}

static int learn(struct mbplan *p, int *exceptions)
{
	int dropped, n_dropped = 0;

	*exceptions = 0;
	for (int b = 0; b < p->n_blocks;) {
		if (!refuses(p->blocks[b].table, p->blocks[b].start, p->blocks[b].count)) {
			b++;
			continue;
		}
		(*exceptions)++;
		assert_int_equal(mbplan_exception(p, b, &dropped), MBPLAN_OK);
		n_dropped += dropped >= 0;
	}
	return n_dropped;
}

static void test_exception_split_at_gap(void **state)
{
	struct mbplan p;
	int exceptions;

	(void)state;
	/* points at 0..5 and 8..11; 6 and 7 unused, read across (gap 2) */
	mbplan_init(&p, 4);
	for (int a = 0; a < 6; a++)
		mbplan_add(&p, H, a, 1);
	mbplan_add(&p, H, 8, 4);
	assert_int_equal(mbplan_build(&p), 1);
	assert_int_equal(learn(&p, &exceptions), 0);
	/* one exception: the cut goes where the unused registers were */
	assert_int_equal(exceptions, 1);
	assert_int_equal(p.n_blocks, 2);
	expect_block(&p, 0, H, 0, 6, 6);
	expect_block(&p, 1, H, 8, 4, 1);
	assert_int_equal(p.splits, 1);
	/* learned for good: a rebuild keeps the cut */
	assert_int_equal(mbplan_build(&p), 2);
}

static void test_exception_halving(void **state)
{
	struct mbplan p;
	int exceptions, dropped;

	(void)state;
	/* 16 touching points, and the one at 7 is refused even alone */
	mbplan_init(&p, 0);
	for (int a = 0; a < 16; a++)
		mbplan_add(&p, H, a, 1);
	assert_int_equal(mbplan_build(&p), 1);
	dropped = learn(&p, &exceptions);
	assert_int_equal(dropped, 1);
	assert_int_equal(p.dropped, 1);
	assert_true(p.items[7].bad);
	/* halving: log2(16) splits, then the drop */
	assert_int_equal(exceptions, 5);
	for (int b = 0; b < p.n_blocks; b++) {
		assert_false(refuses(p.blocks[b].table, p.blocks[b].start, p.blocks[b].count));
		for (int k = p.blocks[b].first; k < p.blocks[b].first + p.blocks[b].n; k++)
			assert_int_not_equal(p.order[k], 7);
	}
	/* every other point is still read */
	{
		int covered = 0;

		for (int b = 0; b < p.n_blocks; b++)
			covered += p.blocks[b].n;
		assert_int_equal(covered, 15);
	}
	/* no block reads across the dropped register, even with a gap allowed */
	p.max_gap = 10;
	mbplan_build(&p);
	for (int b = 0; b < p.n_blocks; b++)
		assert_false(refuses(p.blocks[b].table, p.blocks[b].start, p.blocks[b].count));
}

static void test_exception_keeps_earlier_blocks(void **state)
{
	struct mbplan p;
	struct mbplan_block before;
	int dropped;

	(void)state;
	mbplan_init(&p, 0);
	mbplan_add(&p, I, 0, 2);
	mbplan_add(&p, H, 0, 1);
	mbplan_add(&p, H, 1, 1);
	mbplan_add(&p, H, 2, 1);
	assert_int_equal(mbplan_build(&p), 2);
	before = p.blocks[0];
	assert_int_equal(mbplan_exception(&p, 1, &dropped), MBPLAN_OK);
	assert_int_equal(dropped, -1);
	assert_int_equal(p.n_blocks, 3);
	assert_memory_equal(&p.blocks[0], &before, sizeof(before));
	/* the retried index is the first half of the split block */
	expect_block(&p, 1, H, 0, 1, 1);
	expect_block(&p, 2, H, 1, 2, 2);
	/* adding a point forgets what was learned */
	mbplan_add(&p, H, 3, 1);
	assert_int_equal(mbplan_build(&p), 2);
}

static int covered(const struct mbplan *p)
{
	int n = 0;

	for (int b = 0; b < p->n_blocks; b++)
		n += p->blocks[b].n;
	return n;
}

/* A register refused for a while (a device booting): the point is left out,
 * and taken back by mbplan_retry, read with its neighbours again. */
static void test_retry_after_recovery(void **state)
{
	struct mbplan p;
	int exceptions;

	(void)state;
	mbplan_init(&p, 0);
	for (int a = 0; a < 16; a++)
		mbplan_add(&p, H, a, 1);
	mbplan_build(&p);
	hole = 7;
	assert_int_equal(learn(&p, &exceptions), 1);
	assert_int_equal(mbplan_refused(&p), 1);
	assert_int_equal(covered(&p), 15);
	assert_int_equal(mbplan_retry(&p, 6), MBPLAN_EINVAL); /* not left out */
	assert_int_equal(mbplan_retry(&p, 99), MBPLAN_EINVAL);
	assert_int_equal(mbplan_retry(NULL, 7), MBPLAN_EINVAL);

	/* Still refused: retried, split again down to it, left out again. */
	assert_int_equal(mbplan_retry(&p, 7), MBPLAN_OK);
	assert_int_equal(mbplan_refused(&p), 0);
	assert_int_equal(covered(&p), 16);
	assert_int_equal(learn(&p, &exceptions), 1);
	assert_true(exceptions >= 1);
	assert_int_equal(mbplan_refused(&p), 1);

	/* The device answers again: 7 is read, with a neighbour in one block. */
	hole = -1;
	assert_int_equal(mbplan_retry(&p, 7), MBPLAN_OK);
	assert_int_equal(mbplan_refused(&p), 0);
	assert_int_equal(covered(&p), 16);
	assert_int_equal(learn(&p, &exceptions), 0);
	assert_int_equal(exceptions, 0);
	for (int b = 0; b < p.n_blocks; b++)
		for (int k = p.blocks[b].first; k < p.blocks[b].first + p.blocks[b].n; k++)
			if (p.order[k] == 7)
				assert_true(p.blocks[b].n > 1);
	hole = 7;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_contiguous),
	    cmocka_unit_test(test_order_of_adding_does_not_matter),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_tables_apart),
	    cmocka_unit_test(test_overlap),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_exception_split_at_gap),
	    cmocka_unit_test(test_exception_halving),
	    cmocka_unit_test(test_exception_keeps_earlier_blocks),
	    cmocka_unit_test(test_retry_after_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
