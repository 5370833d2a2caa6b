/* core, live: the sample tick runs in any round within its slack of its
 * time (a Modbus answer's wake-up just before it) and wakes the loop on its
 * own only that slack after it; the schedule stays on whole periods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/core.h"
#include "gateway/report.h"
#include "gateway/sources.h"
#include "gateway/store.h"

static void on_event(void *ctx, struct payload_event *ev)
{
	(void)ctx;
	(void)ev;
}

static void test_live_tick_slack(void **state)
{
	static struct config cfg;
	static struct table t;
	static struct report rep;
	char dir[] = "/tmp/emgw-core.XXXXXX", db[64], cmd[96];
	struct store *st;
	struct sources *src;
	struct core *c;
	int64_t mono0, real, first, on_grid;

	(void)state;
	clock_init_live();
	/* Start early in a second of CLOCK_MONOTONIC: a start within the
	 * slack (50 ms) of the next whole second would take the tick at once
	 * (it did once in CI); the set-up below has ~600 ms. */
	while (clock_grid_next(clock_mono_ms(), 1000) - clock_mono_ms() < 600)
		usleep(20 * 1000);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/store.db", dir);
	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	cfg.gnss.enabled = 0;
	cfg.n_can = cfg.n_bus = cfg.n_mbdev = 0;
	cfg.sample.period_ms = 1000;
	table_init(&t, cfg.sample.stale_ms);
	st = store_open(db, 1, 0, 0);
	assert_non_null(st);
	report_init(&rep, st, "t-core", 0);
	c = core_open(&cfg, &t, &rep);
	assert_non_null(c);
	src = sources_open(&cfg, &t, -1, on_event, NULL);
	assert_non_null(src);
	core_attach(c, st, src);

	mono0 = clock_mono_ms();
	real = clock_real_ms();
	/* the schedule starts on the next whole second of CLOCK_MONOTONIC,
	 * the grid the Modbus polls keep too */
	first = clock_grid_next(mono0, 1000);
	assert_true(first > mono0 && first <= mono0 + 1000);
	/* (the two clocks read a moment apart: a millisecond either way) */
	on_grid = (first + clock_real_ms() - clock_mono_ms()) % 1000;
	assert_true(on_grid <= 1 || on_grid == 999);
	core_live(c, mono0);
	assert_int_equal(core_records(c), 0);
	/* alone, the loop wakes for it only 50 ms after its time */
	assert_true(core_deadline(c, real, mono0) == real + (first - mono0) + 50);
	/* a wake-up 40 ms before it: the tick rides on it */
	core_live(c, first - 40);
	assert_int_equal(core_records(c), 1);
	/* the schedule stays on whole periods: the next at first + 1000 */
	core_live(c, first + 100);
	assert_int_equal(core_records(c), 1);
	assert_true(core_deadline(c, real, mono0) == real + (first - mono0) + 1050);
	core_live(c, first + 949);
	assert_int_equal(core_records(c), 1);
	core_live(c, first + 950);
	assert_int_equal(core_records(c), 2);

	sources_close(src);
	core_close(c);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_live_tick_slack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
