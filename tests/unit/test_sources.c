/* Unit tests of sources: two replayed CAN logs stepped in log time order
 * across sources, the table tags they write, their descriptors, and a
 * reload that reopens only what changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/clock.h"
#include "gateway/sources.h"

static char paths[2][64];

static void write_log(int i, const char *text)
{
	FILE *fp;
	int fd;

	snprintf(paths[i], sizeof(paths[i]), "/tmp/test_sources.XXXXXX");
	fd = mkstemp(paths[i]);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void on_event(void *ctx, struct payload_event *ev)
{
	(void)ctx;
	(void)ev;
}

/* Two logs, flat out: frames come in log time order whichever log they
 * are in; the logs' end leaves nothing active. */
static void test_replay_order(void **state)
{
	static struct config cfg, fresh;
	static struct table t;
	static const int64_t want_t[] = {INT64_C(1700000000000000), INT64_C(1700000000500000),
					 INT64_C(1700000001000000)};
	static const int want_src[] = {0, 1, 0};
	struct canbus_stats st;
	struct canbus_next first;
	struct sources *s;
	struct canbus *can0;
	int64_t next;
	int active, best, n = 0;

	(void)state;
	write_log(0, "(1700000000.000000) can0 0CF00400#207D87481400F087\n"
		     "(1700000001.000000) can0 0CF00400#207D87501400F087\n");
	write_log(1, "(1700000000.500000) can1 18FEEE00#7DFFFFFFFFFFFFFF\n");
	config_defaults(&cfg);
	cfg.gnss.enabled = 0;
	cfg.n_bus = cfg.n_mbdev = 0;
	cfg.n_can = 2;
	for (int i = 0; i < 2; i++) {
		snprintf(cfg.can[i].name, sizeof(cfg.can[i].name), "can%d", i);
		snprintf(cfg.can[i].log, sizeof(cfg.can[i].log), "%s", paths[i]);
		cfg.can[i].sa = -1;
		cfg.can[i].speed = 0; /* flat out */
	}
	table_init(&t, 5000);
	s = sources_open(&cfg, &t, -1, on_event, NULL);
	assert_non_null(s);
	assert_int_equal(sources_n_can(s), 2);
	assert_null(sources_gnss(s));
	for (int i = 0; i < SOURCES_FDS; i++)
		assert_int_equal(sources_fd(s, i), -1); /* replays and no gnss: nothing to poll */
	assert_int_equal(sources_can_age(s, clock_mono_ms()), -1);
	while ((best = sources_replay_due(s, clock_real_ms(), &first, &next, &active)) >= 0) {
		assert_true(n < 3);
		assert_int_equal(best, want_src[n]);
		assert_true(first.t_us == want_t[n]);
		clock_replay_advance(first.t_us, NULL);
		sources_replay_apply(s, best);
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(active, 0);
	assert_true(next == -1);
	/* the newest CAN data, by the CAN sources' tags: the last frame's */
	assert_int_equal(sources_can_age(s, clock_mono_ms()), 0);

	/* A reload that changes nothing keeps the sources open as they are;
	 * one that drops a CAN source closes that one only. */
	can0 = sources_can(s)[0];
	fresh = cfg;
	sources_reconfigure(s, &cfg, &fresh);
	assert_ptr_equal(sources_can(s)[0], can0);
	assert_int_equal(sources_n_can(s), 2);
	fresh.n_can = 1;
	sources_reconfigure(s, &cfg, &fresh);
	assert_int_equal(sources_n_can(s), 1);
	canbus_stats(sources_can(s)[0], &st);
	assert_int_equal(st.frames, 2); /* still the source that replayed can0 */
	sources_close(s);
	unlink(paths[0]);
	unlink(paths[1]);
}

/* Two sources, two configs: a, and b with can1's key `key` changed. */
static void two_logs(struct config *a, struct config *b)
{
	write_log(0, "(1700000000.000000) can0 0CF00400#207D87481400F087\n"
		     "(1700000001.000000) can0 0CF00400#207D87501400F087\n"
		     "(1700000002.000000) can0 0CF00400#207D87581400F087\n");
	write_log(1, "(1700000000.500000) can1 18FEEE00#7DFFFFFFFFFFFFFF\n"
		     "(1700000001.500000) can1 18FEEE00#7EFFFFFFFFFFFFFF\n");
	config_defaults(a);
	a->gnss.enabled = 0;
	a->n_bus = a->n_mbdev = 0;
	a->n_can = 2;
	for (int i = 0; i < 2; i++) {
		snprintf(a->can[i].name, sizeof(a->can[i].name), "can%d", i);
		snprintf(a->can[i].log, sizeof(a->can[i].log), "%s", paths[i]);
		a->can[i].sa = -1;
		a->can[i].speed = 0;
	}
	*b = *a;
}

/* Replay flat out up to (not including) log time until_us; the number of
 * frames applied from each source into n[]. */
static void replay_until(struct sources *s, int64_t until_us, int n[2])
{
	struct canbus_next first;
	int64_t next;
	int active, best;

	while ((best = sources_replay_due(s, clock_real_ms(), &first, &next, &active)) >= 0 &&
	       first.t_us < until_us) {
		clock_replay_advance(first.t_us, NULL);
		sources_replay_apply(s, best);
		n[best]++;
	}
}

/* Two logs (two_logs) replaying: cfg in force, fresh to reload. */
struct two {
	struct config cfg, fresh;
	struct table t;
	struct sources *s;
};

static int two_setup(void **state)
{
	static struct two w;

	clock_init_live();
	two_logs(&w.cfg, &w.fresh);
	table_init(&w.t, 5000);
	w.s = sources_open(&w.cfg, &w.t, -1, on_event, NULL);
	*state = &w;
	return w.s ? 0 : -1;
}

static int two_teardown(void **state)
{
	struct two *w = *state;

	sources_close(w->s);
	unlink(paths[0]);
	unlink(paths[1]);
	return 0;
}

/* A reload that changes one CAN source's key restarts that one only: the
 * other keeps its handle, its place in the log and its counters; the
 * changed one starts its log again from the top. */
static void test_reload_keeps_unchanged(void **state)
{
	struct two *w = *state;
	struct canbus_stats st;
	struct canbus_next first;
	struct canbus *can0;
	int64_t next;
	int active, n[2] = {0, 0};

	w->fresh.can[1].sa = 0; /* can1 changes, can0 does not */
	replay_until(w->s, INT64_C(1700000001200000), n);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 1);
	can0 = sources_can(w->s)[0];
	sources_reconfigure(w->s, &w->cfg, &w->fresh);
	assert_int_equal(sources_n_can(w->s), 2);
	assert_ptr_equal(sources_can(w->s)[0], can0);
	canbus_stats(sources_can(w->s)[0], &st);
	assert_int_equal(st.frames, 2); /* no frame of can0 is seen twice */
	canbus_stats(sources_can(w->s)[1], &st);
	assert_int_equal(st.frames, 0);
	/* can1 from its top, then can0 where it was: its third frame, then
	 * can1's second (the restarted log follows on from the replay's time) */
	assert_int_equal(sources_replay_due(w->s, clock_real_ms(), &first, &next, &active), 1);
	sources_replay_apply(w->s, 1);
	assert_int_equal(sources_replay_due(w->s, clock_real_ms(), &first, &next, &active), 0);
	sources_replay_apply(w->s, 0);
	canbus_stats(sources_can(w->s)[0], &st);
	assert_int_equal(st.frames, 3);
}

/* A log restarted alone (the other has ended) keeps its own times: there
 * is nothing to stay in step with. */
static void test_reload_alone(void **state)
{
	struct two *w = *state;
	struct canbus_next first;
	int64_t next;
	int active, n[2] = {0, 0};

	w->fresh.can[0].sa = 0;
	replay_until(w->s, INT64_C(1700000001700000), n);
	assert_int_equal(n[1], 2); /* can1's log has ended */
	sources_reconfigure(w->s, &w->cfg, &w->fresh);
	assert_int_equal(sources_replay_due(w->s, clock_real_ms(), &first, &next, &active), 0);
	assert_true(first.t_us == INT64_C(1700000000000000));
}

/* A source removed ahead of another: the other moves up a place and
 * keeps its handle and its place in the log. */
static void test_reload_remove_first(void **state)
{
	struct two *w = *state;
	struct canbus_stats st;
	struct canbus *can1;
	int n[2] = {0, 0};

	w->fresh.can[0] = w->cfg.can[1];
	w->fresh.n_can = 1;
	replay_until(w->s, INT64_C(1700000001200000), n);
	can1 = sources_can(w->s)[1];
	sources_reconfigure(w->s, &w->cfg, &w->fresh);
	assert_int_equal(sources_n_can(w->s), 1);
	assert_ptr_equal(sources_can(w->s)[0], can1);
	n[0] = n[1] = 0;
	replay_until(w->s, INT64_MAX, n);
	assert_int_equal(n[0], 1); /* its second frame, not both again */
	canbus_stats(can1, &st);
	assert_int_equal(st.frames, 2);
}

/* At recorded speed, frames are released a batch at a time: a frame due
 * 50 ms after the first waits for the wake-up a batch later (it is still
 * applied at its own log time), one due later than a batch is looked for
 * at its own time. */
static void test_replay_batches(void **state)
{
	static struct config cfg;
	static struct table t;
	struct canbus_next first;
	struct sources *s;
	int64_t next, real = 1000000;
	int active;

	(void)state;
	write_log(0, "(1700000010.000000) can0 0CF00400#207D87481400F087\n"
		     "(1700000010.050000) can0 0CF00400#207D87501400F087\n"
		     "(1700000010.950000) can0 0CF00400#207D87581400F087\n");
	config_defaults(&cfg);
	cfg.gnss.enabled = 0;
	cfg.n_bus = cfg.n_mbdev = 0;
	cfg.n_can = 1;
	snprintf(cfg.can[0].name, sizeof(cfg.can[0].name), "can0");
	snprintf(cfg.can[0].log, sizeof(cfg.can[0].log), "%s", paths[0]);
	cfg.can[0].sa = -1;
	cfg.can[0].speed = 1;
	table_init(&t, 5000);
	s = sources_open(&cfg, &t, -1, on_event, NULL);
	assert_non_null(s);
	assert_int_equal(sources_replay_due(s, real, &first, &next, &active), 0);
	sources_replay_apply(s, 0);
	/* the second is due at +50 ms: looked for a batch from now */
	assert_int_equal(sources_replay_due(s, real, &first, &next, &active), -1);
	assert_int_equal(active, 1);
	assert_true(next == real + CANBUS_BATCH_MS);
	assert_int_equal(sources_replay_due(s, real + CANBUS_BATCH_MS, &first, &next, &active), 0);
	assert_true(first.t_us == INT64_C(1700000010050000));
	sources_replay_apply(s, 0);
	/* the third, due beyond a batch: at its own time */
	assert_int_equal(sources_replay_due(s, real + CANBUS_BATCH_MS, &first, &next, &active), -1);
	assert_true(next == real + 950);
	sources_close(s);
	unlink(paths[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_order),
	    cmocka_unit_test(test_replay_batches),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_unchanged, two_setup, two_teardown),
	    cmocka_unit_test_setup_teardown(test_reload_remove_first, two_setup, two_teardown),
	    cmocka_unit_test_setup_teardown(test_reload_alone, two_setup, two_teardown),
	};

	clock_init_live();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
