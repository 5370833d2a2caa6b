/* loop: the one poll() loop.  Descriptors, timers and before-sleep hooks are
 * registered with a callback and a context; signals (a signalfd) are
 * dispatched after the I/O of the same wake-up.  Owns only its
 * registrations: it knows nothing of what the callbacks do.  Times are real
 * monotonic milliseconds (clock_real_ms). */
#ifndef EMGW_LOOP_H
#define EMGW_LOOP_H

#include <signal.h>
#include <stdint.h>

#define LOOP_MAX_FDS	32
#define LOOP_MAX_TIMERS 16
#define LOOP_MAX_HOOKS	8

struct loop;

/* A descriptor is ready: revents as poll() gave them. */
typedef void loop_fd_fn(void *ctx, int fd, short revents);
/* A timer is due (it is off again unless re-armed). */
typedef void loop_timer_fn(void *ctx, int64_t now_ms);
/* Before sleeping: do queued work; return the next deadline, or -1. */
typedef int64_t loop_hook_fn(void *ctx, int64_t now_ms);
/* A signal arrived. */
typedef void loop_signal_fn(void *ctx, int signo);

/* A new loop; NULL on error (logged). */
struct loop *loop_new(void);
/* Free, closing the signalfd (registered descriptors stay open). */
void loop_free(struct loop *l);
/* Watch fd (-1: nothing yet) for events; a handle >= 0, or -1 when full. */
int loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn *fn, void *ctx);
/* Change what handle h watches: its descriptor (-1: none) and events. */
void loop_set_fd(struct loop *l, int h, int fd, short events);
/* Change only the events of handle h. */
void loop_set_events(struct loop *l, int h, short events);
/* Stop watching; safe from any callback, also h's own. */
void loop_del_fd(struct loop *l, int h);
/* A timer, off until loop_set_timer; a handle >= 0, or -1 when full. */
int loop_add_timer(struct loop *l, loop_timer_fn *fn, void *ctx);
/* Fire handle h at at_ms (-1: off).  Due timers fire in deadline order. */
void loop_set_timer(struct loop *l, int h, int64_t at_ms);
/* Fire handle h in the first round at or after at_ms, but wake the loop
 * for it only at at_ms + slack_ms: work that may wait rides on a wake-up
 * something else causes (housekeeping need not wake an idle daemon). */
void loop_set_timer_slack(struct loop *l, int h, int64_t at_ms, int64_t slack_ms);
/* Remove a timer; safe from any callback. */
void loop_del_timer(struct loop *l, int h);
/* A hook run before every sleep, in the order added; 0, or -1 when full. */
int loop_add_hook(struct loop *l, loop_hook_fn *fn, void *ctx);
/* Block the signals in set (before any thread starts, so threads inherit it)
 * and deliver them to fn after each wake-up's I/O.  0, or -1 (logged). */
int loop_signals(struct loop *l, const sigset_t *set, loop_signal_fn *fn, void *ctx);
/* One round: hooks, poll, I/O callbacks, signals, then due timers.
 * 0, or -1 when poll failed (logged). */
int loop_once(struct loop *l);
/* Run rounds until loop_stop; 0, or -1 as loop_once. */
int loop_run(struct loop *l);
/* Make loop_run return after the current round (no sleep before). */
void loop_stop(struct loop *l);

/* The earlier of two deadlines, where -1 is none. */
int64_t loop_earliest(int64_t a, int64_t b);

#endif
