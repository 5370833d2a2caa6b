/* Unit tests for protocols/n2k.c: fast-packet reassembly (order, gaps,
 * interleaving, time-outs, lengths) and engine PGN decoding with hand-worked
 * vectors, special values of every field type, and instances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "protocols/n2k.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The worked 127489 Engine Parameters, Dynamic message (26 bytes):
 *   off  bytes        field                 raw            value
 *   0    00           instance              0
 *   1-2  A0 0F        oil pressure          0x0FA0 = 4000  (400 kPa, not mapped)
 *   3-4  30 0E        oil temp 0.1 K        0x0E30 = 3632  363.2 K - 273.15 = 90.05 C
 *   5-6  ED 8A        coolant temp 0.01 K   0x8AED = 35565 355.65 K - 273.15 = 82.5 C
 *   7-8  04 0B        alternator 0.01 V     0x0B04 = 2820  (28.2 V, not mapped)
 *   9-10 FD 00        fuel rate 0.1 L/h     0x00FD = 253   25.3 L/h
 *   11-14 28 D0 43 00 engine hours 1 s      0x0043D028 = 4444200 s / 3600 = 1234.5 h
 *   15-16 64 00       coolant pressure      (not mapped)
 *   17-18 90 01       fuel pressure         (not mapped)
 *   19   FF           reserved
 *   20-23 00 00 00 00 discrete status 1, 2  (not mapped)
 *   24   4B           engine load i8 %      75 %
 *   25   3C           engine torque i8 %    60 %
 */
static const uint8_t dyn_msg[26] = {
    0x00, 0xA0, 0x0F, 0x30, 0x0E, 0xED, 0x8A, 0x04, 0x0B, 0xFD, 0x00, 0x28, 0xD0,
    0x43, 0x00, 0x64, 0x00, 0x90, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x4B, 0x3C,
};

/*
 * The same message as 4 fast-packet frames, sequence id 2 (0x40):
 *   frame 0: 0x40 = seq 2 << 5 | counter 0, 0x1A = 26 bytes, then bytes 0-5
 *   frame 1: 0x41 = seq 2 | counter 1, bytes 6-12
 *   frame 2: 0x42, bytes 13-19
 *   frame 3: 0x43, bytes 20-25 and one 0xFF pad (6 + 7 + 7 + 6 = 26)
 */
static const uint8_t dyn_frames[4][8] = {
    {0x40, 0x1A, 0x00, 0xA0, 0x0F, 0x30, 0x0E, 0xED},
    {0x41, 0x8A, 0x04, 0x0B, 0xFD, 0x00, 0x28, 0xD0},
    {0x42, 0x43, 0x00, 0x64, 0x00, 0x90, 0x01, 0xFF},
    {0x43, 0x00, 0x00, 0x00, 0x00, 0x4B, 0x3C, 0xFF},
};

/* The decoder rounds once, so values match the literal's double; a tiny
 * relative tolerance keeps the test about decoding, not printing. */
static void check_value(const char *what, double got, double want)
{
	double tol = 1e-12 * (fabs(want) > 1 ? fabs(want) : 1);

	if (fabs(got - want) > tol) {
		print_error("%s: got %.17g, want %.17g\n", what, got, want);
		fail();
	}
}

/* Split msg into fast-packet frames of 8 bytes (last padded with 0xFF). */
static size_t make_frames(uint8_t seq, const uint8_t *msg, size_t len, uint8_t frames[32][8])
{
	size_t off = 0, n = 0;

	memset(frames, 0xFF, 32 * 8);
	frames[0][0] = (uint8_t)(seq << 5);
	frames[0][1] = (uint8_t)len;
	for (size_t i = 0; i < 6 && off < len; i++)
		frames[0][2 + i] = msg[off++];
	for (n = 1; off < len; n++) {
		frames[n][0] = (uint8_t)(seq << 5 | n);
		for (size_t i = 0; i < 7 && off < len; i++)
			frames[n][1 + i] = msg[off++];
	}
	return n;
}

static struct n2k_fp fp;

static void test_fp_normal(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	assert_int_equal(fp.timeout_ms, N2K_FP_TIMEOUT_MS);
	assert_int_equal(n2k_fp_add(&fp, 127489, 0x10, dyn_frames[0], 8, 1000, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 0x10, dyn_frames[1], 8, 1010, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 0x10, dyn_frames[2], 8, 1020, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 0x10, dyn_frames[3], 8, 1030, &m), 1);
	assert_int_equal(m.pgn, 127489);
	assert_int_equal(m.sa, 0x10);
	assert_int_equal(m.len, 26);
	assert_memory_equal(m.data, dyn_msg, 26);
	assert_int_equal(fp.stats.frames, 4);
	assert_int_equal(fp.stats.messages, 1);
	/* The slot is free again: the next message reuses it without a drop. */
	assert_int_equal(n2k_fp_add(&fp, 127489, 0x10, dyn_frames[0], 8, 1500, &m), 0);
	assert_int_equal(fp.stats.dropped_restart + fp.stats.dropped_evicted, 0);
}

/* A message of 1-6 bytes fits in frame 0 and completes there. */
static void test_fp_single_frame(void **state)
{
	static const uint8_t f0[8] = {0xE0, 0x03, 0x11, 0x22, 0x33, 0xFF, 0xFF, 0xFF};
	static const uint8_t want[3] = {0x11, 0x22, 0x33};
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	/* 0xE0: seq 7, counter 0; the frame may stop after its 3 bytes */
	assert_int_equal(n2k_fp_add(&fp, 127497, 0x20, f0, 5, 0, &m), 1);
	assert_int_equal(m.len, 3);
	assert_memory_equal(m.data, want, 3);
}

/* Frames 0, 2, 1, 3: frame 2 drops the message, 1 and 3 are orphans; the
 * next full message arrives intact. */
static void test_fp_out_of_order(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 0, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[2], 8, 1, &m), N2K_ESEQ);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 2, &m), N2K_EORPHAN);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[3], 8, 3, &m), N2K_EORPHAN);
	assert_int_equal(fp.stats.dropped_seq, 1);
	assert_int_equal(fp.stats.orphans, 2);
	assert_int_equal(fp.stats.messages, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[i], 8, 10, &m), i == 3);
	assert_memory_equal(m.data, dyn_msg, 26);
	/* A repeated frame is out of order too. */
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 20, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 21, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 22, &m), N2K_ESEQ);
	assert_int_equal(fp.stats.dropped_seq, 2);
}

static void test_fp_missing(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	/* frame 2 lost: frame 3 drops the message */
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 0, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 1, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[3], 8, 2, &m), N2K_ESEQ);
	assert_int_equal(fp.stats.dropped_seq, 1);
	/* frame 0 lost: everything else is an orphan, nothing completes */
	for (int i = 1; i < 4; i++)
		assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[i], 8, 3, &m), N2K_EORPHAN);
	assert_int_equal(fp.stats.orphans, 3);
	/* last frame lost, then frame 0 of the same key: restart, counted */
	for (int i = 0; i < 3; i++)
		assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[i], 8, 4, &m), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[i], 8, 5, &m), i == 3);
	assert_int_equal(fp.stats.dropped_restart, 1);
	assert_int_equal(fp.stats.messages, 1);
}

/* Two senders, and one sender's two sequence ids, frame by frame in turn. */
static void test_fp_interleaved(void **state)
{
	uint8_t a[26], b[26], c[26], fa[32][8], fb[32][8], fc[32][8];
	struct n2k_fp_msg m;
	int done = 0;

	(void)state;
	memcpy(a, dyn_msg, 26);
	memcpy(b, dyn_msg, 26);
	memcpy(c, dyn_msg, 26);
	b[0] = 1;     /* instance 1 */
	c[24] = 0x10; /* load 16 % */
	assert_int_equal(make_frames(2, a, 26, fa), 4);
	assert_memory_equal(fa, dyn_frames, sizeof(dyn_frames)); /* helper agrees */
	make_frames(2, b, 26, fb);
	make_frames(3, c, 26, fc);
	n2k_fp_init(&fp, 0);
	for (int i = 0; i < 4; i++) {
		int rc;

		rc = n2k_fp_add(&fp, 127489, 0x10, fa[i], 8, 100, &m);
		if (rc == 1) {
			assert_int_equal(m.sa, 0x10);
			assert_memory_equal(m.data, a, 26);
			done++;
		}
		rc = n2k_fp_add(&fp, 127489, 0x11, fb[i], 8, 100, &m);
		if (rc == 1) {
			assert_int_equal(m.sa, 0x11);
			assert_memory_equal(m.data, b, 26);
			done++;
		}
		rc = n2k_fp_add(&fp, 127489, 0x10, fc[i], 8, 100, &m);
		if (rc == 1) {
			assert_int_equal(m.sa, 0x10);
			assert_memory_equal(m.data, c, 26);
			done++;
		}
	}
	assert_int_equal(done, 3);
	assert_int_equal(fp.stats.messages, 3);
	assert_int_equal(fp.stats.dropped_seq + fp.stats.orphans + fp.stats.dropped_restart, 0);
}

/* The time-out runs from the last frame; exactly 750 ms is still in time. */
static void test_fp_timeout(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 10000, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 10750, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[2], 8, 11500, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[3], 8, 12251, &m), N2K_EORPHAN);
	assert_int_equal(fp.stats.dropped_timeout, 1);
	/* n2k_fp_expire alone drops it too; a clock stepping back does not */
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 20000, &m), 0);
	n2k_fp_expire(&fp, 5000);
	assert_int_equal(fp.stats.dropped_timeout, 1);
	n2k_fp_expire(&fp, 20751);
	assert_int_equal(fp.stats.dropped_timeout, 2);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 20752, &m), N2K_EORPHAN);
	/* a caller's own time-out */
	n2k_fp_init(&fp, 100);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 0, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 101, &m), N2K_EORPHAN);
}

/* Frame 0's length byte: 1-223; 223 takes all 32 frames. */
static void test_fp_length(void **state)
{
	static const struct {
		uint8_t len;
		int rc;
	} cases[] = {
	    {0, N2K_ELENGTH}, {224, N2K_ELENGTH}, {0xFF, N2K_ELENGTH}, {1, 1}, {6, 1}, {7, 0},
	    {223, 0}};
	uint8_t msg[N2K_FP_MAX], frames[32][8];
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	for (size_t i = 0; i < NELEM(cases); i++) {
		uint8_t f0[8] = {0x20, cases[i].len, 1, 2, 3, 4, 5, 6};

		assert_int_equal(n2k_fp_add(&fp, 127497, 5, f0, 8, 0, &m), cases[i].rc);
	}
	assert_int_equal(fp.stats.bad_length, 3);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(make_frames(4, msg, sizeof(msg), frames), 32);
	n2k_fp_init(&fp, 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(n2k_fp_add(&fp, 127497, 5, frames[i], 8, 0, &m), i == 31);
	assert_int_equal(m.len, 223);
	assert_memory_equal(m.data, msg, sizeof(msg));
	/* a bad frame 0 still drops what its key had */
	assert_int_equal(n2k_fp_add(&fp, 127497, 5, frames[0], 8, 0, &m), 0);
	frames[0][1] = 224;
	assert_int_equal(n2k_fp_add(&fp, 127497, 5, frames[0], 8, 0, &m), N2K_ELENGTH);
	assert_int_equal(n2k_fp_add(&fp, 127497, 5, frames[1], 8, 0, &m), N2K_EORPHAN);
}

/* A frame must carry what it owes: 6 or 7 bytes, or the rest of the message. */
static void test_fp_short_frames(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 0, 0, &m), N2K_ESHORT);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 1, 0, &m), N2K_ESHORT);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 7, 0, &m), N2K_ESHORT);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 0, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 7, 0, &m), N2K_ESHORT);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[2], 8, 0, &m), N2K_EORPHAN);
	assert_int_equal(fp.stats.dropped_short, 4);
	/* the last frame owes 6 bytes: 7 bytes of frame are enough */
	for (int i = 0; i < 3; i++)
		assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[i], 8, 0, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[3], 7, 0, &m), 1);
	assert_memory_equal(m.data, dyn_msg, 26);
}

/* More partial messages than slots: the one idle longest makes room. */
static void test_fp_evict(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	for (int sa = 0; sa < N2K_FP_SLOTS; sa++)
		assert_int_equal(n2k_fp_add(&fp, 127489, (uint8_t)sa, dyn_frames[0], 8,
					    (uint64_t)(100 + sa), &m),
				 0);
	/* source 0 (t 100) is the oldest; source 1 moves on at t 200 */
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[1], 8, 200, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 99, dyn_frames[0], 8, 201, &m), 0);
	assert_int_equal(fp.stats.dropped_evicted, 1);
	assert_int_equal(n2k_fp_add(&fp, 127489, 0, dyn_frames[1], 8, 202, &m), N2K_EORPHAN);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[2], 8, 203, &m), 0);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[3], 8, 204, &m), 1);
}

static void test_fp_bad_arguments(void **state)
{
	struct n2k_fp_msg m;

	(void)state;
	n2k_fp_init(&fp, 0);
	assert_int_equal(n2k_fp_add(NULL, 127489, 1, dyn_frames[0], 8, 0, &m), N2K_EINVAL);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, NULL, 8, 0, &m), N2K_EINVAL);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, dyn_frames[0], 8, 0, NULL), N2K_EINVAL);
	assert_int_equal(n2k_fp_add(&fp, 127489, 1, NULL, 0, 0, &m), N2K_ESHORT);
	n2k_fp_init(NULL, 0);
	n2k_fp_expire(NULL, 0);
}

static void test_is_fast_packet(void **state)
{
	(void)state;
	assert_int_equal(n2k_is_fast_packet(127489), 1);
	assert_int_equal(n2k_is_fast_packet(127497), 1);
	assert_int_equal(n2k_is_fast_packet(127488), 0);
	assert_int_equal(n2k_is_fast_packet(61444), 0);
	assert_int_equal(n2k_is_fast_packet(0), 0);
}

static const struct n2k_value *find_value(const struct n2k_msg *msg, enum sig_id sig)
{
	for (int i = 0; i < msg->n; i++)
		if (msg->v[i].sig == sig)
			return &msg->v[i];
	return NULL;
}

static void test_decode_dynamic(void **state)
{
	static const struct {
		enum sig_id sig;
		double want;
	} want[] = {
	    {SIG_OIL_TEMP_C, 90.05},	 {SIG_COOLANT_C, 82.5},
	    {SIG_FUEL_RATE_LPH, 25.3},	 {SIG_ENGINE_HOURS_H, 1234.5},
	    {SIG_ENGINE_LOAD_PCT, 75.0}, {SIG_ENGINE_TORQUE_PCT, 60.0},
	};
	uint8_t d[26];
	struct n2k_msg msg;

	(void)state;
	memcpy(d, dyn_msg, sizeof(d));
	for (uint8_t inst = 0; inst < 2; inst++) {
		d[0] = inst;
		assert_int_equal(n2k_decode(127489, d, sizeof(d), &msg), N2K_OK);
		assert_int_equal(msg.instance, inst);
		assert_int_equal(msg.instance_state, N2K_VALID);
		assert_int_equal(msg.n, (int)NELEM(want));
		assert_int_equal(msg.n_na + msg.n_error + msg.n_missing, 0);
		for (size_t i = 0; i < NELEM(want); i++) {
			const struct n2k_value *v = find_value(&msg, want[i].sig);

			assert_non_null(v);
			check_value(sig_name(want[i].sig), v->value, want[i].want);
		}
	}
}

/*
 * 127488 Rapid Update, instance 1:
 *   01        instance 1
 *   21 1C     speed 0x1C21 = 7201 * 0.25 = 1800.25 rpm
 *   DF 05     boost 0x05DF = 1503 * 100 Pa = 150.3 kPa
 *   7F        tilt/trim unknown (ignored, not counted)
 *   FF FF     reserved
 */
static void test_decode_rapid(void **state)
{
	static const uint8_t d[8] = {0x01, 0x21, 0x1C, 0xDF, 0x05, 0x7F, 0xFF, 0xFF};
	struct n2k_msg msg;

	(void)state;
	assert_int_equal(n2k_decode(127488, d, sizeof(d), &msg), N2K_OK);
	assert_int_equal(msg.instance, 1);
	assert_int_equal(msg.n, 2);
	assert_int_equal(msg.n_na + msg.n_error, 0);
	assert_int_equal(msg.v[0].sig, SIG_ENGINE_SPEED_RPM);
	check_value("speed", msg.v[0].value, 1800.25);
	assert_int_equal(msg.v[1].sig, SIG_BOOST_KPA);
	check_value("boost", msg.v[1].value, 150.3);
}

/* 127497: the instance only (nothing maps to a canonical signal). */
static void test_decode_trip(void **state)
{
	static const uint8_t d[9] = {0x01, 0x10, 0x00, 0x64, 0x00, 0x50, 0x00, 0xFF, 0x7F};
	struct n2k_msg msg;

	(void)state;
	assert_int_equal(n2k_decode(127497, d, sizeof(d), &msg), N2K_OK);
	assert_int_equal(msg.instance, 1);
	assert_int_equal(msg.n + msg.n_na + msg.n_error, 0);
}

/* One field of the base message changed: what it becomes. */
struct special_case {
	const char *what;
	uint32_t pgn;
	uint8_t off;
	uint8_t bytes[4];
	uint8_t nbytes;
	enum sig_id sig;
	enum n2k_state state;
	double want; /* when valid */
};

static const struct special_case special_cases[] = {
    /* u16 (127488 speed at 1, 0.25 rpm; 127489 oil temp at 3, 0.1 K) */
    {"u16 n/a", 127488, 1, {0xFF, 0xFF}, 2, SIG_ENGINE_SPEED_RPM, N2K_NA, 0},
    {"u16 error", 127488, 1, {0xFE, 0xFF}, 2, SIG_ENGINE_SPEED_RPM, N2K_ERROR, 0},
    /* 0xFFFD = 65533 * 0.25 = 16383.25 rpm, the largest number */
    {"u16 max valid", 127488, 1, {0xFD, 0xFF}, 2, SIG_ENGINE_SPEED_RPM, N2K_VALID, 16383.25},
    /* only the whole value counts: 0xFF00 = 65280 * 0.25 = 16320 rpm */
    {"u16 0xFF00", 127488, 1, {0x00, 0xFF}, 2, SIG_ENGINE_SPEED_RPM, N2K_VALID, 16320.0},
    {"u16 boost n/a", 127488, 3, {0xFF, 0xFF}, 2, SIG_BOOST_KPA, N2K_NA, 0},
    {"u16 oil n/a", 127489, 3, {0xFF, 0xFF}, 2, SIG_OIL_TEMP_C, N2K_NA, 0},
    {"u16 oil error", 127489, 3, {0xFE, 0xFF}, 2, SIG_OIL_TEMP_C, N2K_ERROR, 0},
    /* 0xFFFD = 65533 * 0.1 = 6553.3 K - 273.15 = 6280.15 C */
    {"u16 oil max valid", 127489, 3, {0xFD, 0xFF}, 2, SIG_OIL_TEMP_C, N2K_VALID, 6280.15},
    /* 0 K = -273.15 C */
    {"u16 coolant 0", 127489, 5, {0x00, 0x00}, 2, SIG_COOLANT_C, N2K_VALID, -273.15},
    /* u32 (127489 hours at 11, 1 s) */
    {"u32 n/a", 127489, 11, {0xFF, 0xFF, 0xFF, 0xFF}, 4, SIG_ENGINE_HOURS_H, N2K_NA, 0},
    {"u32 error", 127489, 11, {0xFE, 0xFF, 0xFF, 0xFF}, 4, SIG_ENGINE_HOURS_H, N2K_ERROR, 0},
    /* 0xFFFFFFFD = 4294967293 s / 3600 */
    {"u32 max valid",
     127489,
     11,
     {0xFD, 0xFF, 0xFF, 0xFF},
     4,
     SIG_ENGINE_HOURS_H,
     N2K_VALID,
     4294967293.0 / 3600},
    /* 0xFF000000 = 4278190080 s / 3600 = 1188386.1333... h */
    {"u32 0xFF000000",
     127489,
     11,
     {0x00, 0x00, 0x00, 0xFF},
     4,
     SIG_ENGINE_HOURS_H,
     N2K_VALID,
     4278190080.0 / 3600},
    /* i16 (127489 fuel rate at 9, 0.1 L/h) */
    {"i16 n/a", 127489, 9, {0xFF, 0x7F}, 2, SIG_FUEL_RATE_LPH, N2K_NA, 0},
    {"i16 error", 127489, 9, {0xFE, 0x7F}, 2, SIG_FUEL_RATE_LPH, N2K_ERROR, 0},
    /* 0xFFFF = -1 * 0.1 = -0.1 L/h: a number, not "unknown" */
    {"i16 -1", 127489, 9, {0xFF, 0xFF}, 2, SIG_FUEL_RATE_LPH, N2K_VALID, -0.1},
    /* 0xFFFE = -2 -> -0.2 L/h */
    {"i16 -2", 127489, 9, {0xFE, 0xFF}, 2, SIG_FUEL_RATE_LPH, N2K_VALID, -0.2},
    /* 0x8000 = -32768 -> -3276.8 L/h */
    {"i16 min", 127489, 9, {0x00, 0x80}, 2, SIG_FUEL_RATE_LPH, N2K_VALID, -3276.8},
    /* 0x7FFD = 32765 -> 3276.5 L/h, the largest number */
    {"i16 max valid", 127489, 9, {0xFD, 0x7F}, 2, SIG_FUEL_RATE_LPH, N2K_VALID, 3276.5},
    /* i8 (127489 load at 24, torque at 25, 1 %) */
    {"i8 n/a", 127489, 24, {0x7F}, 1, SIG_ENGINE_LOAD_PCT, N2K_NA, 0},
    {"i8 error", 127489, 24, {0x7E}, 1, SIG_ENGINE_LOAD_PCT, N2K_ERROR, 0},
    {"i8 -1", 127489, 24, {0xFF}, 1, SIG_ENGINE_LOAD_PCT, N2K_VALID, -1.0},
    {"i8 min", 127489, 24, {0x80}, 1, SIG_ENGINE_LOAD_PCT, N2K_VALID, -128.0},
    {"i8 max valid", 127489, 24, {0x7D}, 1, SIG_ENGINE_LOAD_PCT, N2K_VALID, 125.0},
    {"i8 torque n/a", 127489, 25, {0x7F}, 1, SIG_ENGINE_TORQUE_PCT, N2K_NA, 0},
    /* 0xF6 = -10 % */
    {"i8 torque -10", 127489, 25, {0xF6}, 1, SIG_ENGINE_TORQUE_PCT, N2K_VALID, -10.0},
};

static void test_special_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(special_cases); i++) {
		const struct special_case *c = &special_cases[i];
		uint8_t d[26];
		size_t len = c->pgn == 127488 ? 8 : 26;
		int all = c->pgn == 127488 ? 2 : 6;
		struct n2k_msg msg;
		const struct n2k_value *v;

		if (c->pgn == 127488)
			memcpy(d, (const uint8_t[8]){1, 0x21, 0x1C, 0xDF, 0x05, 0x7F, 0xFF, 0xFF},
			       8);
		else
			memcpy(d, dyn_msg, 26);
		memcpy(d + c->off, c->bytes, c->nbytes);
		assert_int_equal(n2k_decode(c->pgn, d, len, &msg), N2K_OK);
		v = find_value(&msg, c->sig);
		if (c->state == N2K_VALID) {
			if (!v || msg.n != all || msg.n_missing != 0) {
				print_error("%s: n %d missing %d\n", c->what, msg.n, msg.n_missing);
				fail();
			}
			check_value(c->what, v->value, c->want);
			continue;
		}
		if (v || msg.n != all - 1 || msg.n_missing != 1 || msg.missing[0].sig != c->sig ||
		    msg.missing[0].state != c->state || msg.n_na != (c->state == N2K_NA) ||
		    msg.n_error != (c->state == N2K_ERROR)) {
			print_error("%s: n %d na %d err %d missing %d\n", c->what, msg.n, msg.n_na,
				    msg.n_error, msg.n_missing);
			fail();
		}
	}
}

/* u8, the instance: 0xFF unknown, 0xFE error, the values still decoded. */
static void test_instance_special(void **state)
{
	static const struct {
		uint8_t raw;
		enum n2k_state state;
	} cases[] = {{0x00, N2K_VALID},
		     {0x01, N2K_VALID},
		     {0xFD, N2K_VALID},
		     {0xFE, N2K_ERROR},
		     {0xFF, N2K_NA}};
	uint8_t d[26];
	struct n2k_msg msg;

	(void)state;
	memcpy(d, dyn_msg, sizeof(d));
	for (size_t i = 0; i < NELEM(cases); i++) {
		d[0] = cases[i].raw;
		assert_int_equal(n2k_decode(127489, d, sizeof(d), &msg), N2K_OK);
		assert_int_equal(msg.instance, cases[i].raw);
		assert_int_equal(msg.instance_state, cases[i].state);
		assert_int_equal(msg.n, 6);
	}
}

/* The field reader on its own, for every type at its edges. */
static void test_field_read(void **state)
{
	static const struct {
		enum n2k_type type;
		uint8_t b[4];
		enum n2k_state state;
		int64_t raw;
	} cases[] = {
	    {N2K_U8, {0xFF}, N2K_NA, 255},
	    {N2K_U8, {0xFE}, N2K_ERROR, 254},
	    {N2K_U8, {0xFD}, N2K_VALID, 253},
	    {N2K_U8, {0x00}, N2K_VALID, 0},
	    {N2K_U16, {0xFF, 0xFF}, N2K_NA, 65535},
	    {N2K_U16, {0xFE, 0xFF}, N2K_ERROR, 65534},
	    {N2K_U16, {0x34, 0x12}, N2K_VALID, 0x1234},
	    {N2K_U32, {0xFF, 0xFF, 0xFF, 0xFF}, N2K_NA, 0xFFFFFFFF},
	    {N2K_U32, {0xFE, 0xFF, 0xFF, 0xFF}, N2K_ERROR, 0xFFFFFFFE},
	    {N2K_U32, {0x78, 0x56, 0x34, 0x12}, N2K_VALID, 0x12345678},
	    {N2K_I8, {0x7F}, N2K_NA, 127},
	    {N2K_I8, {0x7E}, N2K_ERROR, 126},
	    {N2K_I8, {0xFF}, N2K_VALID, -1},
	    {N2K_I8, {0xFE}, N2K_VALID, -2},
	    {N2K_I8, {0x80}, N2K_VALID, -128},
	    {N2K_I16, {0xFF, 0x7F}, N2K_NA, 32767},
	    {N2K_I16, {0xFE, 0x7F}, N2K_ERROR, 32766},
	    {N2K_I16, {0xFF, 0xFF}, N2K_VALID, -1},
	    {N2K_I16, {0x00, 0x80}, N2K_VALID, -32768},
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t raw = 12345;

		assert_int_equal(n2k_field_read(cases[i].b, cases[i].type, &raw), cases[i].state);
		assert_int_equal(raw, cases[i].raw);
	}
}

static void test_lengths_and_unknown(void **state)
{
	static const struct {
		uint32_t pgn;
		size_t len;
		int rc;
	} cases[] = {
	    {127488, 0, N2K_ESHORT},  {127488, 4, N2K_ESHORT}, /* boost at 3-4 */
	    {127488, 5, N2K_OK},      {127488, 8, N2K_OK},
	    {127489, 25, N2K_ESHORT}, /* torque at 25 */
	    {127489, 26, N2K_OK},     {127489, 40, N2K_OK},
	    {127497, 0, N2K_ESHORT},  {127497, 1, N2K_OK},
	    {61444, 8, N2K_EUNKNOWN}, {127490, 8, N2K_EUNKNOWN},
	};
	uint8_t d[40];

	(void)state;
	memset(d, 0x20, sizeof(d));
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct n2k_msg msg;
		int rc;

		memset(&msg, 0x55, sizeof(msg));
		rc = n2k_decode(cases[i].pgn, d, cases[i].len, &msg);
		if (rc != cases[i].rc) {
			print_error("pgn %u len %zu: rc %d, want %d\n", (unsigned)cases[i].pgn,
				    cases[i].len, rc, cases[i].rc);
			fail();
		}
		if (rc != N2K_OK)
			assert_int_equal(msg.n + msg.n_na + msg.n_error + msg.n_missing, 0);
	}
	assert_int_equal(n2k_decode(127488, d, 8, NULL), N2K_EINVAL);
	assert_int_equal(n2k_decode(127488, NULL, 8, &(struct n2k_msg){0}), N2K_EINVAL);
}

/* The whole path: frames in, signals out. */
static void test_frames_to_signals(void **state)
{
	struct n2k_fp_msg m;
	struct n2k_msg msg;
	int rc = 0;

	(void)state;
	n2k_fp_init(&fp, 0);
	for (int i = 0; i < 4; i++)
		rc = n2k_fp_add(&fp, 127489, 0x10, dyn_frames[i], 8, 0, &m);
	assert_int_equal(rc, 1);
	assert_int_equal(n2k_decode(m.pgn, m.data, m.len, &msg), N2K_OK);
	assert_int_equal(msg.n, 6);
	check_value("hours", find_value(&msg, SIG_ENGINE_HOURS_H)->value, 1234.5);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(n2k_pgn_name(127488), "Engine Parameters, Rapid Update");
	assert_string_equal(n2k_pgn_name(127489), "Engine Parameters, Dynamic");
	assert_string_equal(n2k_pgn_name(127497), "Trip Parameters, Engine");
	assert_null(n2k_pgn_name(61444));
	for (int e = N2K_EORPHAN; e <= N2K_OK; e++)
		assert_string_not_equal(n2k_strerror(e), "unknown error");
	assert_string_equal(n2k_strerror(-99), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fp_normal),	      cmocka_unit_test(test_fp_single_frame),
	    cmocka_unit_test(test_fp_out_of_order),   cmocka_unit_test(test_fp_missing),
	    cmocka_unit_test(test_fp_interleaved),    cmocka_unit_test(test_fp_timeout),
	    cmocka_unit_test(test_fp_length),	      cmocka_unit_test(test_fp_short_frames),
	    cmocka_unit_test(test_fp_evict),	      cmocka_unit_test(test_fp_bad_arguments),
	    cmocka_unit_test(test_is_fast_packet),    cmocka_unit_test(test_decode_dynamic),
	    cmocka_unit_test(test_decode_rapid),      cmocka_unit_test(test_decode_trip),
	    cmocka_unit_test(test_special_values),    cmocka_unit_test(test_instance_special),
	    cmocka_unit_test(test_field_read),	      cmocka_unit_test(test_lengths_and_unknown),
	    cmocka_unit_test(test_frames_to_signals), cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("n2k", tests, NULL, NULL);
}
