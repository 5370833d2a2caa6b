/* simlib: what the trace simulators (tracegen, enginesim) share: the model
 * clock, a seeded generator, and `candump -l` output formatted by hand.
 * Header-only (static inline), because the Makefile builds every
 * tests/sim/X.c into a program of its own.  Nothing here may change the
 * bytes a simulator writes: tests/data/excavator.log must regenerate. */
#ifndef EMGW_TESTS_SIM_SIMLIB_H
#define EMGW_TESTS_SIM_SIMLIB_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US 10000 /* model step: every rate is a multiple */
#define DT	(TICK_US / 1e6)
#define SLOT_US 600 /* bus time of one 8-byte extended frame */

/* splitmix64: small, good enough, and the same everywhere. */
struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline double rng_uniform(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(rng_next(r) >> 11) * 0x1.0p-53);
}

/* About N(0, 1): a sum of four uniforms, which avoids log() and cos() whose
 * last bit may differ between C libraries. */
static inline double rng_gauss(struct rng *r)
{
	double s = 0;

	for (int i = 0; i < 4; i++)
		s += rng_uniform(r, 0, 1);
	return (s - 2.0) * 1.7320508075688772;
}

static inline double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* One step of a first-order lag with time constant tau seconds. */
static inline void lag(double *state, double target, double tau)
{
	*state += (target - *state) * (DT / tau);
}

static inline int64_t s_to_ticks(double s)
{
	return (int64_t)(s * (1e6 / TICK_US) + 0.5);
}

/* A measured value: v plus sensor noise from r, as a raw J1939 value
 * clamped to the valid range (never into the error or n/a codes). */
static inline uint32_t sim_raw(struct rng *r, double v, double noise, double res, double offset,
			       uint32_t max)
{
	double x = (v + noise * rng_gauss(r) - offset) / res + 0.5;

	return x < 0 ? 0 : x > max ? max : (uint32_t)x;
}

/* A 16-bit J1939 value, little-endian. */
static inline void put16(uint8_t *d, uint32_t v)
{
	d[0] = (uint8_t)v;
	d[1] = (uint8_t)(v >> 8);
}

static inline char *put_hex(char *p, uint32_t v, int digits)
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = digits - 1; i >= 0; i--)
		*p++ = hex[(v >> (4 * i)) & 0xf];
	return p;
}

static inline char *put_dec(char *p, uint64_t v, int min_digits)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v || n < min_digits);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* One `candump -l` line, "(SEC.USEC) can0 ID#DATA": by hand, because an
 * hour of trace is half a million lines. */
static inline void sim_candump_line(FILE *f, uint64_t us, uint32_t id, const uint8_t d[8])
{
	char line[64], *p = line;

	*p++ = '(';
	p = put_dec(p, us / 1000000, 1);
	*p++ = '.';
	p = put_dec(p, us % 1000000, 6);
	memcpy(p, ") can0 ", 7);
	p += 7;
	p = put_hex(p, id, 8);
	*p++ = '#';
	for (int i = 0; i < 8; i++)
		p = put_hex(p, d[i], 2);
	*p++ = '\n';
	fwrite(line, 1, (size_t)(p - line), f);
}

/* A number in [min, max] with nothing after it. */
static inline int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

#endif
