/* smoke: the black-smoke detector.  Three rules read the signal table at
 * signal rate (after every applied frame, smoke_frame) and on the sample
 * tick: `lambda` (excess-air ratio from intake air and fuel rate, written
 * into the table as SIG_LAMBDA on the tick), `opacity` (an opacity meter's k,
 * or N % converted, against the GB 36886 limit of the machine's class) and
 * `transient` (boost that fails to follow the load).  One physical episode
 * is one `smoke` event (start, update, end) naming every rule that agreed;
 * transient alone is evidence, not proof: a `turbo-lag` event.  Keeps the
 * 1 Hz evidence that goes with the `end`, and the episode's raw inputs at
 * signal rate.  Reads the table and its
 * settings; writes only SIG_LAMBDA; hands its events to the callback it is
 * given, sends nothing. */
#ifndef EMGW_SMOKE_H
#define EMGW_SMOKE_H

#include <stdint.h>

#include "gateway/config.h"
#include "gateway/table.h"
#include "protocols/payload.h"

#define SMOKE_UPDATE_MS 30000 /* default `update` period (config update = 0) */
#define SMOKE_FIELDS	13    /* engine signals in an evidence row */
/* Evidence memory, fixed: the last SMOKE_RING ticks of every field, and per
 * rule the first SMOKE_HEAD rows of its episode (from evidence_s before the
 * start).  An episode longer than fits keeps its head and its tail; the
 * `end` event says how many seconds in between were left out (skipped_s).
 * At 1 Hz and 13 fields, about 60 bytes a row: an `end` stays under 30 KB. */
#define SMOKE_RING  256
#define SMOKE_HEAD  128
#define SMOKE_STEPS 16 /* failed load steps remembered (transient rule) */
/* A candidate survives its condition failing this briefly: sensor noise
 * around a threshold (a frame or two), not a new episode. */
#define SMOKE_GAP_MS 250

/* The episode's inputs at signal rate, each value with its own time, from
 * its start to its end: at most SMOKE_RAW_POINTS a field.  When full, every
 * four kept become their lowest and highest (in time order), and from then
 * on each 2 x `per` values received give their lowest and highest: bounded,
 * evenly thinned, the extremes kept.  At most ~11 KB in an `end`, which
 * then still fits REPORT_MAX_PAYLOAD with every 1 Hz row kept. */
#define SMOKE_RAW_FIELDS 8
#define SMOKE_RAW_POINTS PAYLOAD_RAW_POINTS

_Static_assert(SMOKE_FIELDS == PAYLOAD_EVIDENCE_FIELDS, "an evidence row holds every field");
_Static_assert(SMOKE_RAW_FIELDS <= PAYLOAD_RAW_FIELDS, "evidence holds every raw field");
_Static_assert(SMOKE_HEAD + SMOKE_RING <= PAYLOAD_EVIDENCE_ROWS, "evidence holds head and ring");

enum smoke_rule { SMOKE_LAMBDA, SMOKE_OPACITY, SMOKE_TRANSIENT, SMOKE_N_RULES };

/* One 1 Hz row of engine signals; `have` has bit i set when v[i] is a value. */
struct smoke_sample {
	int64_t mono_ms, wall_ms;
	float v[SMOKE_FIELDS];
	uint16_t have;
};

enum smoke_state { SMOKE_IDLE, SMOKE_ACTIVE, SMOKE_CLOSING };

/* One rule's spell: a candidate (IDLE with since_ms >= 0) or ACTIVE. */
struct smoke_spell {
	enum smoke_state state;		 /* IDLE or ACTIVE */
	int64_t since_ms, since_wall_ms; /* first evaluation the condition held */
	int64_t clear_ms;		 /* first evaluation of the current clear spell, or -1 */
	int64_t miss_ms;		 /* candidate: first evaluation it did not hold, or -1 */
	int lag_event;			 /* transient: a `turbo-lag` start went out */
	double q_peak, q_sum, load_sum;	 /* turbo-lag's numbers */
	int n;
};

/* The physical episode: one `smoke` event from the first rule that holds to
 * the last that leaves; per rule the numbers it saw while a member. */
struct smoke_episode {
	enum smoke_state state;
	int first;	/* the rule that started it */
	unsigned rules; /* bit r: rule r agreed at some point */
	int64_t since_ms, since_wall_ms;
	int64_t last_update_ms;
	int64_t end_ms, end_wall_ms; /* CLOSING: the true end */
	const char *end_reason;
	double q_peak[SMOKE_N_RULES], q_sum[SMOKE_N_RULES];
	int n[SMOKE_N_RULES];
	double load_sum;
	int n_load;
	int64_t head_last_ms; /* newest row in head */
	int n_head;
	struct smoke_sample head[SMOKE_HEAD];
};

struct smoke_raw_point {
	int64_t mono_ms;
	double v;
};

/* One input's values while a candidate or an episode is open. */
struct smoke_raw {
	int64_t seen_ms;	       /* the table's time of the newest value seen */
	int64_t received;	       /* values received while recording */
	int n, per;		       /* points kept; values received a point (1, 2, 4 ...) */
	int in_bucket;		       /* values in the open bucket (per > 1) ... */
	struct smoke_raw_point lo, hi; /* ... and its extremes */
	struct smoke_raw_point p[SMOKE_RAW_POINTS];
};

/* An input's freshness at signal rate: its period seen between writes. */
#define SMOKE_INPUTS 12
struct smoke_input {
	int64_t last_ms, period_ms;
};

struct smoke {
	struct config_smoke cfg;
	double limit_k; /* opacity limit in force, m^-1 */
	struct smoke_spell rule[SMOKE_N_RULES];
	struct smoke_episode ep; /* the physical episode */
	struct smoke_input in[SMOKE_INPUTS];
	int8_t slot[SIG_COUNT]; /* a signal's index in `in`, or -1 */
	int was_stopped;	/* the engine was seen below crank_rpm ... */
	int64_t running_ms;	/* ... and has run since (start exemption), or -1 */
	/* transient rule: the lag spell now, and recent failed steps */
	int64_t spell_ms; /* first tick of the current lag spell, or -1 */
	int spell_counted;
	int64_t steps[SMOKE_STEPS];
	int n_steps;
	/* signal-rate evidence, recorded while raw_on */
	struct smoke_raw raw[SMOKE_RAW_FIELDS];
	int raw_on;
	/* evidence ring */
	struct smoke_sample ring[SMOKE_RING];
	int ring_next, ring_n;
	/* where this tick's events go (set for the call) */
	payload_event_fn *emit;
	void *ctx;
	struct payload_evidence evidence; /* of the `end` being sent */
	uint64_t starts;		  /* episodes started since init */
};

/* Start with no episode; the opacity limit of a stage 4, 75 kW machine until
 * smoke_set_machine. */
void smoke_init(struct smoke *s, const struct config_smoke *cfg);
/* The same on memory already zero (calloc, pages_alloc): the rings and the
 * evidence (~90 KB) stay untouched, out of RSS, until an engine fills them. */
void smoke_init_zeroed(struct smoke *s, const struct config_smoke *cfg);
/* The machine's emission stage and rated power pick the GB 36886 limit
 * (unless the configuration sets opacity_limit_k).  0, or -1 when they fall
 * outside the table (the class III limit is used then). */
int smoke_set_machine(struct smoke *s, int stage, double rated_kw);
/* Excess-air ratio from intake air (kg/h) and fuel (L/h); 0 and *lambda set,
 * or -1 when the fuel rate is too small for an estimate (idle, fuel cut). */
int smoke_lambda_estimate(const struct config_smoke *c, double air_kgph, double fuel_lph,
			  double *lambda);
/* One sample tick: writes SIG_LAMBDA into t, keeps the 1 Hz evidence row
 * and judges; hands the `smoke` / `turbo-lag` events it raises to
 * emit(ctx, ev), in order. */
void smoke_tick(struct smoke *s, struct table *t, int64_t now_ms, int64_t wall_ms,
		payload_event_fn *emit, void *ctx);
/* Signal rate: the rules judge the table as it is after a frame applied
 * at now_ms (signal time); durations are measured to the frame.  Events as
 * smoke_tick; writes nothing into t. */
void smoke_frame(struct smoke *s, const struct table *t, int64_t now_ms, int64_t wall_ms,
		 payload_event_fn *emit, void *ctx);
/* End every open episode now (reconfiguration, shutdown), and send the ends
 * still waiting for their evidence to emit(ctx, ev). */
void smoke_finish(struct smoke *s, int64_t now_ms, payload_event_fn *emit, void *ctx);
/* A reload: when the rules (cfg->smoke) differ from those in force, every
 * open episode ends now (its events to emit(ctx, ev)) and the detector
 * starts again under the new rules; the machine's limit follows cfg. */
void smoke_reconfigure(struct smoke *s, const struct config *cfg, int64_t now_ms,
		       payload_event_fn *emit, void *ctx);
/* Episodes open now (for status). */
int smoke_active(const struct smoke *s);
/* Episodes started since smoke_init (for status and zones). */
uint64_t smoke_episodes(const struct smoke *s);

#endif
