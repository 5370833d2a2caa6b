#include "gateway/loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"

enum loop_slot { LOOP_FREE, LOOP_LIVE, LOOP_DEAD };

struct loop_fd {
	enum loop_slot slot;
	int fd;
	short events;
	loop_fd_fn *fn;
	void *ctx;
};

struct loop_timer {
	enum loop_slot slot;
	int64_t at_ms;	 /* -1: off */
	int64_t wake_ms; /* when the loop wakes for it: at_ms + slack */
	loop_timer_fn *fn;
	void *ctx;
};

struct loop {
	struct loop_fd fds[LOOP_MAX_FDS];
	struct loop_timer timers[LOOP_MAX_TIMERS];
	struct {
		loop_hook_fn *fn;
		void *ctx;
	} hooks[LOOP_MAX_HOOKS];
	int n_hooks;
	int sig_fd;
	loop_signal_fn *sig_fn;
	void *sig_ctx;
	int stop;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l) {
		log_warn("loop");
		return NULL;
	}
	l->sig_fd = -1;
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->sig_fd >= 0)
		close(l->sig_fd);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn *fn, void *ctx)
{
	for (int h = 0; h < LOOP_MAX_FDS; h++)
		if (l->fds[h].slot == LOOP_FREE) {
			l->fds[h] = (struct loop_fd){LOOP_LIVE, fd, events, fn, ctx};
			return h;
		}
	log_warnx("loop: more than %d descriptors", LOOP_MAX_FDS);
	return -1;
}

void loop_set_fd(struct loop *l, int h, int fd, short events)
{
	if (h >= 0 && l->fds[h].slot == LOOP_LIVE) {
		l->fds[h].fd = fd;
		l->fds[h].events = events;
	}
}

void loop_set_events(struct loop *l, int h, short events)
{
	if (h >= 0 && l->fds[h].slot == LOOP_LIVE)
		l->fds[h].events = events;
}

/* Marked only: a round in dispatch skips it, and frees the slot after. */
void loop_del_fd(struct loop *l, int h)
{
	if (h >= 0 && l->fds[h].slot == LOOP_LIVE)
		l->fds[h].slot = LOOP_DEAD;
}

int loop_add_timer(struct loop *l, loop_timer_fn *fn, void *ctx)
{
	for (int h = 0; h < LOOP_MAX_TIMERS; h++)
		if (l->timers[h].slot == LOOP_FREE) {
			l->timers[h] = (struct loop_timer){LOOP_LIVE, -1, -1, fn, ctx};
			return h;
		}
	log_warnx("loop: more than %d timers", LOOP_MAX_TIMERS);
	return -1;
}

void loop_set_timer(struct loop *l, int h, int64_t at_ms)
{
	loop_set_timer_slack(l, h, at_ms, 0);
}

void loop_set_timer_slack(struct loop *l, int h, int64_t at_ms, int64_t slack_ms)
{
	if (h >= 0 && l->timers[h].slot == LOOP_LIVE) {
		l->timers[h].at_ms = at_ms;
		l->timers[h].wake_ms = at_ms < 0 ? -1 : at_ms + slack_ms;
	}
}

void loop_del_timer(struct loop *l, int h)
{
	if (h >= 0 && l->timers[h].slot == LOOP_LIVE)
		l->timers[h].slot = LOOP_DEAD;
}

int loop_add_hook(struct loop *l, loop_hook_fn *fn, void *ctx)
{
	if (l->n_hooks == LOOP_MAX_HOOKS) {
		log_warnx("loop: more than %d hooks", LOOP_MAX_HOOKS);
		return -1;
	}
	l->hooks[l->n_hooks].fn = fn;
	l->hooks[l->n_hooks++].ctx = ctx;
	return 0;
}

int loop_signals(struct loop *l, const sigset_t *set, loop_signal_fn *fn, void *ctx)
{
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0) {
		log_warn("signals");
		return -1;
	}
	l->sig_fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sig_fd < 0) {
		log_warn("signalfd");
		return -1;
	}
	l->sig_fn = fn;
	l->sig_ctx = ctx;
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

int64_t loop_earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Each timer due at the start fires once, earliest first: one that re-arms
 * itself for now waits for the next round, so a round stays bounded. */
static void loop_timers(struct loop *l, int64_t now)
{
	int due[LOOP_MAX_TIMERS], n = 0;

	for (int h = 0; h < LOOP_MAX_TIMERS; h++)
		if (l->timers[h].slot == LOOP_LIVE && l->timers[h].at_ms >= 0 &&
		    l->timers[h].at_ms <= now)
			due[n++] = h;
	while (n > 0) {
		int k = 0;

		for (int i = 1; i < n; i++)
			if (l->timers[due[i]].at_ms < l->timers[due[k]].at_ms)
				k = i;
		struct loop_timer *t = &l->timers[due[k]];
		due[k] = due[--n];
		/* deleted or re-armed by an earlier callback of this round */
		if (t->slot != LOOP_LIVE || t->at_ms < 0 || t->at_ms > now)
			continue;
		t->at_ms = -1;
		t->fn(t->ctx, now);
	}
}

static int64_t loop_deadline(struct loop *l, int64_t now)
{
	int64_t deadline = -1;

	for (int i = 0; i < l->n_hooks; i++)
		deadline = loop_earliest(deadline, l->hooks[i].fn(l->hooks[i].ctx, now));
	for (int h = 0; h < LOOP_MAX_TIMERS; h++)
		if (l->timers[h].slot == LOOP_LIVE && l->timers[h].at_ms >= 0)
			deadline = loop_earliest(deadline, l->timers[h].wake_ms);
	return deadline;
}

static void loop_read_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig_fd, &si, sizeof(si)) == sizeof(si))
		l->sig_fn(l->sig_ctx, (int)si.ssi_signo);
}

/* Slots removed during this round become free only now. */
static void loop_sweep(struct loop *l)
{
	for (int h = 0; h < LOOP_MAX_FDS; h++)
		if (l->fds[h].slot == LOOP_DEAD)
			l->fds[h].slot = LOOP_FREE;
	for (int h = 0; h < LOOP_MAX_TIMERS; h++)
		if (l->timers[h].slot == LOOP_DEAD)
			l->timers[h].slot = LOOP_FREE;
}

int loop_once(struct loop *l)
{
	struct pollfd pfd[LOOP_MAX_FDS + 1];
	int slot[LOOP_MAX_FDS];
	int64_t now = clock_real_ms(), deadline;
	int n = 0, timeout, rc;

	deadline = loop_deadline(l, now);
	loop_sweep(l);
	for (int h = 0; h < LOOP_MAX_FDS; h++)
		if (l->fds[h].slot == LOOP_LIVE && l->fds[h].fd >= 0) {
			pfd[n] = (struct pollfd){.fd = l->fds[h].fd, .events = l->fds[h].events};
			slot[n++] = h;
		}
	pfd[n] = (struct pollfd){.fd = l->sig_fd, .events = POLLIN};
	if (l->stop)
		timeout = 0;
	else
		timeout = deadline < 0 ? -1 : deadline <= now ? 0 : (int)(deadline - now);
	rc = poll(pfd, (nfds_t)n + 1, timeout);
	if (rc < 0 && errno != EINTR) {
		log_warn("poll");
		return -1;
	}
	for (int i = 0; rc > 0 && i < n; i++) {
		struct loop_fd *f = &l->fds[slot[i]];

		/* removed, or given another descriptor, by an earlier callback */
		if (pfd[i].revents && f->slot == LOOP_LIVE && f->fd == pfd[i].fd)
			f->fn(f->ctx, f->fd, pfd[i].revents);
	}
	if (rc > 0 && pfd[n].revents && l->sig_fn)
		loop_read_signals(l);
	loop_timers(l, clock_real_ms());
	loop_sweep(l);
	return 0;
}

int loop_run(struct loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (loop_once(l) < 0)
			return -1;
	return 0;
}
