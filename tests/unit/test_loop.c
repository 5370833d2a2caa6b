/* Unit tests for gateway/loop.c: I/O dispatch, removal during dispatch,
 * timers in deadline order, hooks' deadlines, signals after the I/O of the
 * same wake-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/loop.h"

struct rec {
	struct loop *l;
	char order[32]; /* one letter a callback, in call order */
	int n;
	int victim; /* handle a callback removes */
	int timer;  /* handle a timer re-arms */
};

static void note(struct rec *r, char c)
{
	if (r->n < (int)sizeof(r->order) - 1)
		r->order[r->n++] = c;
}

static void drain(int fd)
{
	uint64_t v;

	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
}

static void on_a(void *ctx, int fd, short revents)
{
	assert_true(revents & POLLIN);
	drain(fd);
	note(ctx, 'a');
}

static void on_b(void *ctx, int fd, short revents)
{
	(void)revents;
	drain(fd);
	note(ctx, 'b');
}

/* removes another descriptor, then itself */
static void on_remover(void *ctx, int fd, short revents)
{
	struct rec *r = ctx;

	(void)revents;
	drain(fd);
	note(r, 'r');
	loop_del_fd(r->l, r->victim);
}

static void poke(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void test_dispatch(void **state)
{
	struct rec r = {.l = loop_new()};
	int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(0, EFD_NONBLOCK);
	int h1, h2;

	(void)state;
	h1 = loop_add_fd(r.l, e1, POLLIN, on_a, &r);
	h2 = loop_add_fd(r.l, e2, POLLIN, on_b, &r);
	assert_true(h1 >= 0 && h2 >= 0 && h1 != h2);
	poke(e2);
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "b");
	poke(e1);
	poke(e2);
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "bab");
	/* no events asked: not dispatched, and poll does not wake for it */
	loop_set_events(r.l, h1, 0);
	poke(e1);
	poke(e2);
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "babb");
	loop_free(r.l);
	close(e1);
	close(e2);
}

static void test_remove_during_dispatch(void **state)
{
	struct rec r = {.l = loop_new()};
	int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(0, EFD_NONBLOCK);
	int h;

	(void)state;
	loop_add_fd(r.l, e1, POLLIN, on_remover, &r);
	r.victim = loop_add_fd(r.l, e2, POLLIN, on_b, &r);
	poke(e1);
	poke(e2);
	/* both ready in the same round: the removed one is not called */
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "r");
	/* its slot is free again after the round, and reused */
	h = loop_add_fd(r.l, e2, POLLIN, on_a, &r);
	assert_int_equal(h, r.victim);
	poke(e1); /* the remover's next call removes the new one again */
	r.victim = -1;
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "rra");
	loop_free(r.l);
	close(e1);
	close(e2);
}

static void on_timer_x(void *ctx, int64_t now)
{
	(void)now;
	note(ctx, 'x');
}

static void on_timer_y(void *ctx, int64_t now)
{
	(void)now;
	note(ctx, 'y');
}

/* re-arms itself for now: must wait for the next round */
static void on_timer_z(void *ctx, int64_t now)
{
	struct rec *r = ctx;

	note(r, 'z');
	loop_set_timer(r->l, r->timer, now);
}

static void test_timers(void **state)
{
	struct rec r = {.l = loop_new()};
	int64_t now = clock_real_ms();
	int64_t t0;
	int x, y;

	(void)state;
	x = loop_add_timer(r.l, on_timer_x, &r);
	y = loop_add_timer(r.l, on_timer_y, &r);
	r.timer = loop_add_timer(r.l, on_timer_z, &r);
	/* added in the order x y z, due in the order z y x */
	loop_set_timer(r.l, x, now - 1);
	loop_set_timer(r.l, y, now - 2);
	loop_set_timer(r.l, r.timer, now - 3);
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "zyx");
	/* z re-armed itself: the round after, and only z */
	assert_int_equal(loop_once(r.l), 0);
	assert_string_equal(r.order, "zyxz");
	loop_del_timer(r.l, r.timer);
	/* a timer in the future is waited for (poll's timeout) */
	loop_set_timer(r.l, x, clock_real_ms() + 30);
	t0 = clock_real_ms();
	assert_int_equal(loop_once(r.l), 0);
	assert_true(clock_real_ms() - t0 >= 29);
	assert_string_equal(r.order, "zyxzx");
	loop_free(r.l);
}

/* A timer with slack does not wake the loop at its time: it fires in the
 * first round after it that something else wakes (here a plain timer 40 ms
 * later), or at its time + slack. */
static void test_timer_slack(void **state)
{
	struct rec r = {.l = loop_new()};
	int64_t t0 = clock_real_ms();
	int x, y;

	(void)state;
	x = loop_add_timer(r.l, on_timer_x, &r);
	y = loop_add_timer(r.l, on_timer_y, &r);
	loop_set_timer_slack(r.l, x, t0 + 20, 60000);
	loop_set_timer(r.l, y, t0 + 60);
	assert_int_equal(loop_once(r.l), 0);
	assert_true(clock_real_ms() - t0 >= 59);
	assert_string_equal(r.order, "xy");
	/* alone, it wakes the loop at its time + slack */
	t0 = clock_real_ms();
	loop_set_timer_slack(r.l, x, t0, 30);
	assert_int_equal(loop_once(r.l), 0);
	assert_true(clock_real_ms() - t0 >= 29);
	assert_string_equal(r.order, "xyx");
	loop_free(r.l);
}

static int64_t hook_deadline;

static int64_t on_hook(void *ctx, int64_t now)
{
	(void)now;
	note(ctx, 'h');
	return hook_deadline;
}

static void test_hooks(void **state)
{
	struct rec r = {.l = loop_new()};
	int64_t t0;

	(void)state;
	assert_int_equal(loop_add_hook(r.l, on_hook, &r), 0);
	hook_deadline = clock_real_ms() + 30;
	t0 = clock_real_ms();
	assert_int_equal(loop_once(r.l), 0);
	assert_true(clock_real_ms() - t0 >= 29);
	assert_string_equal(r.order, "h");
	loop_free(r.l);
}

static void on_signal(void *ctx, int signo)
{
	struct rec *r = ctx;

	assert_int_equal(signo, SIGUSR1);
	note(r, 's');
	loop_stop(r->l);
}

/* A signal and I/O of the same wake-up: the I/O first (a reload in the
 * signal handler must not meet descriptors it already changed). */
static void test_signal_after_io(void **state)
{
	struct rec r = {.l = loop_new()};
	int e1 = eventfd(0, EFD_NONBLOCK);
	sigset_t set;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	assert_int_equal(loop_signals(r.l, &set, on_signal, &r), 0);
	loop_add_fd(r.l, e1, POLLIN, on_a, &r);
	assert_int_equal(raise(SIGUSR1), 0); /* blocked: waits in the signalfd */
	poke(e1);
	assert_int_equal(loop_run(r.l), 0);
	assert_string_equal(r.order, "as");
	loop_free(r.l);
	close(e1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dispatch), cmocka_unit_test(test_remove_during_dispatch),
	    cmocka_unit_test(test_timers),   cmocka_unit_test(test_timer_slack),
	    cmocka_unit_test(test_hooks),    cmocka_unit_test(test_signal_after_io),
	};

	alarm(30);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
