/* backoff: capped exponential back-off with jitter.
 *
 * Jitter needs a random source per box: rand() unseeded gives every box the
 * same sequence, so a fleet restarted together would still retry in step.
 * Each instance seeds a small xorshift64* generator from getrandom() (the
 * kernel's pool; falls back on time and address when that fails), which is
 * also safe on threads: no shared state.
 */
#include "gateway/backoff.h"

#include <stddef.h>
#include <sys/random.h>
#include <time.h>

static uint64_t backoff_rand(struct backoff *b)
{
	uint64_t x = b->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]. */
static int backoff_between(struct backoff *b, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)(backoff_rand(b) % (uint64_t)(hi - lo + 1));
}

void backoff_seed(struct backoff *b, uint64_t seed)
{
	b->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

void backoff_init(struct backoff *b, int min_ms, int max_ms, enum backoff_jitter jitter)
{
	uint64_t seed = 0;
	struct timespec ts;

	b->min_ms = min_ms > 0 ? min_ms : 1;
	b->max_ms = max_ms > b->min_ms ? max_ms : b->min_ms;
	b->step_ms = b->min_ms;
	b->jitter = jitter;
	b->stable_ms = BACKOFF_STABLE_MS;
	b->up_since_ms = -1;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)(uintptr_t)b;
	}
	backoff_seed(b, seed);
}

void backoff_up(struct backoff *b, int64_t now_ms)
{
	b->up_since_ms = now_ms;
}

int backoff_next(struct backoff *b, int64_t now_ms)
{
	int step, delay;

	if (b->up_since_ms >= 0 && now_ms - b->up_since_ms >= b->stable_ms)
		b->step_ms = b->min_ms;
	b->up_since_ms = -1;
	step = b->step_ms;
	if (b->jitter == BACKOFF_EQUAL)
		delay = backoff_between(b, step / 2 > b->min_ms ? step / 2 : b->min_ms, step);
	else
		delay = backoff_between(b, b->min_ms, step);
	b->step_ms = step > b->max_ms / 2 ? b->max_ms : step * 2;
	return delay;
}

void backoff_reset(struct backoff *b)
{
	b->step_ms = b->min_ms;
	b->up_since_ms = -1;
}

int backoff_step(const struct backoff *b)
{
	return b->step_ms;
}
