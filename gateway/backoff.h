/* backoff: when to try a link again after a failure: exponential, capped,
 * jittered so a fleet does not reconnect in step, and reset only after a
 * session has lasted (a server that drops every session at once is backed
 * off too).  Owns one instance's step and random state; no I/O, no clock of
 * its own (times come in), safe on any thread that owns the instance. */
#ifndef EMGW_BACKOFF_H
#define EMGW_BACKOFF_H

#include <stdint.h>

#define BACKOFF_STABLE_MS 60000 /* a session this long resets the back-off */

enum backoff_jitter {
	BACKOFF_FULL,  /* a delay anywhere in [min, step] */
	BACKOFF_EQUAL, /* a delay in [step/2, step] (never below min) */
};

struct backoff {
	int min_ms, max_ms;
	int step_ms; /* the next delay's upper bound */
	enum backoff_jitter jitter;
	int stable_ms;	     /* a session this long resets the step */
	int64_t up_since_ms; /* the session's start, or -1 while down */
	uint64_t rng;	     /* xorshift64* state, never 0 */
};

/* Start at min_ms, double up to max_ms (raised to min_ms when lower);
 * random state from getrandom(), so every box draws its own jitter. */
void backoff_init(struct backoff *b, int min_ms, int max_ms, enum backoff_jitter jitter);
/* Replace the random state (tests): the same seed gives the same delays. */
void backoff_seed(struct backoff *b, uint64_t seed);
/* A session began at now_ms: the step resets once it has lasted stable_ms. */
void backoff_up(struct backoff *b, int64_t now_ms);
/* A failure at now_ms (a connect that failed or a session that ended): the
 * delay to wait before the next try, in ms; the step doubles, unless the
 * session that ended had lasted stable_ms, which starts again from min. */
int backoff_next(struct backoff *b, int64_t now_ms);
/* Back to the first step (the link is fine: e.g. a device answers again). */
void backoff_reset(struct backoff *b);
/* The current step (status). */
int backoff_step(const struct backoff *b);

#endif
