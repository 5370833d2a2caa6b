/* Unit tests of canbus: the live path through a socketpair carrying struct
 * can_frame records (this kernel has no CAN), and candump log replay.
 * The clock is one per process and replay mode cannot be left once it has
 * begun, so the live tests run first and each replay test uses log times
 * later than the one before it. */
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/canbus.h"
#include "gateway/clock.h"
#include "gateway/source.h"

#define EEC1_ID 0x0CF00400u /* prio 3, PGN 61444, SA 0 */
#define ET1_ID	0x18FEEE00u /* prio 6, PGN 65262, SA 0 */
#define SOURCE	1

static const uint8_t eec1_data[8] = {0x20, 0x7D, 0x87, 0x48, 0x14, 0x00, 0xF0, 0x87};

/* ---- live ------------------------------------------------------------- */

struct live {
	int sv[2]; /* sv[0] belongs to the canbus, sv[1] is the bus */
	struct table t;
	struct canbus *cb;
};

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	clock_init_live();
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, l->sv), 0);
	assert_int_equal(fcntl(l->sv[0], F_SETFL, fcntl(l->sv[0], F_GETFL) | O_NONBLOCK), 0);
	table_init(&l->t, 5000);
	l->cb = canbus_open_fd(l->sv[0], "engine", SOURCE, &l->t);
	assert_non_null(l->cb);
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	struct live *l = *state;

	canbus_close(l->cb); /* closes sv[0] */
	if (l->sv[1] >= 0)
		close(l->sv[1]);
	free(l);
	return 0;
}

static void bus_send(struct live *l, canid_t id, const uint8_t *data, uint8_t dlc)
{
	struct can_frame f;

	memset(&f, 0, sizeof(f));
	f.can_id = id;
	f.can_dlc = dlc;
	memcpy(f.data, data, dlc > 8 ? 8 : dlc);
	assert_int_equal(write(l->sv[1], &f, sizeof(f)), (ssize_t)sizeof(f));
}

static double now_value(const struct live *l, enum sig_id sig)
{
	double v = -1e9;

	if (!table_get(&l->t, sig, 0, clock_mono_ms(), &v))
		fail_msg("%s not in the table", sig_name(sig));
	return v;
}

static int now_has(const struct live *l, enum sig_id sig)
{
	double v;

	return table_get(&l->t, sig, 0, clock_mono_ms(), &v);
}

static void test_live_eec1(void **state)
{
	struct live *l = *state;
	struct canbus_stats st;

	assert_int_equal(canbus_fd(l->cb), l->sv[0]);
	assert_string_equal(canbus_name(l->cb), "engine");
	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 8);
	canbus_read(l->cb);
	/* bytes 4-5: 0x1448 = 5192 x 0.125 rpm */
	assert_float_equal(now_value(l, SIG_ENGINE_SPEED_RPM), 649.0, 0);
	/* byte 3: 0x87 = 135 - 125 */
	assert_float_equal(now_value(l, SIG_ENGINE_TORQUE_PCT), 10.0, 0);
	/* byte 2: 0x7D = 125 - 125 */
	assert_float_equal(now_value(l, SIG_DEMAND_TORQUE_PCT), 0.0, 0);
	assert_true(table_source_age(&l->t, SOURCE, clock_mono_ms()) >= 0);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.decoded, 1);
	assert_int_equal(st.bad, 0);
	assert_int_equal(st.na, 0);
	assert_int_equal(st.up, 1);
	assert_true(st.last_frame_mono_ms >= 0);
}

/* A frame that sends speed and torque as not available takes the old
 * numbers out of the table; demand torque, still valid, stays. */
static void test_live_not_available(void **state)
{
	static const uint8_t na[8] = {0x20, 0x7E, 0xFF, 0xFF, 0xFF, 0x00, 0xF0, 0x87};
	struct live *l = *state;
	struct canbus_stats st;

	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 8);
	canbus_read(l->cb);
	assert_float_equal(now_value(l, SIG_ENGINE_SPEED_RPM), 649.0, 0);
	bus_send(l, EEC1_ID | CAN_EFF_FLAG, na, 8);
	canbus_read(l->cb);
	assert_int_equal(now_has(l, SIG_ENGINE_SPEED_RPM), 0);
	assert_int_equal(now_has(l, SIG_ENGINE_TORQUE_PCT), 0);
	assert_float_equal(now_value(l, SIG_DEMAND_TORQUE_PCT), 1.0, 0);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.decoded, 2);
	assert_int_equal(st.na, 2);
}

/* Controller error frames (linux/can/error.h) set the bus state shown in
 * status and are counted, never decoded as data. */
static void test_live_error_frames(void **state)
{
	static const uint8_t passive[8] = {0, CAN_ERR_CRTL_RX_PASSIVE, 0, 0, 0, 0, 0, 0};
	static const uint8_t none[8] = {0};
	struct live *l = *state;
	struct canbus_stats st;

	bus_send(l, CAN_ERR_FLAG | CAN_ERR_CRTL, passive, 8);
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_string_equal(st.bus_state, "error-passive");
	bus_send(l, CAN_ERR_FLAG | CAN_ERR_BUSOFF, none, 8);
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_string_equal(st.bus_state, "bus-off");
	bus_send(l, CAN_ERR_FLAG | CAN_ERR_RESTARTED, none, 8);
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_string_equal(st.bus_state, "ok");
	assert_int_equal(st.err_frames, 3);
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.decoded, 0);
}

/* Counters per source address: a second controller (SA 0x51) sending an
 * unknown PGN shows up separately from the engine (SA 0). */
static void test_live_by_sa(void **state)
{
	struct live *l = *state;
	json_t *st, *sa0, *sa81;

	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 8);
	bus_send(l, 0x18FF0051 | CAN_EFF_FLAG, eec1_data, 8);
	canbus_read(l->cb);
	st = canbus_status(l->cb, clock_mono_ms());
	sa0 = json_object_get(json_object_get(st, "by_sa"), "0");
	sa81 = json_object_get(json_object_get(st, "by_sa"), "81");
	assert_non_null(sa0);
	assert_non_null(sa81);
	assert_int_equal(json_integer_value(json_object_get(sa0, "decoded")), 1);
	assert_int_equal(json_integer_value(json_object_get(sa81, "unknown_pgn")), 1);
	assert_int_equal(json_integer_value(json_object_get(sa81, "decoded")), 0);
	json_decref(st);
}

static void peer_recv(struct live *l, struct can_frame *f)
{
	assert_int_equal(read(l->sv[1], f, sizeof(*f)), (ssize_t)sizeof(*f));
}

/* request = yes: claim 249 with our NAME (J1939-81), and once nobody
 * objected for 250 ms, request HOURS, VI, VD, VDHR, DM5, DM19 and DM20 from
 * everyone. */
static void test_live_requests(void **state)
{
	struct live *l = *state;
	struct can_frame f;
	int64_t now = clock_real_ms();
	static const uint32_t want[] = {65253, 65260, 65248, 65217, 65230, 54016, 49664};

	canbus_enable_requests(l->cb, 249, 0xB0003C0000000001ULL, 60000);
	peer_recv(l, &f);
	/* priority 6, PGN 0xEE00 to 0xFF, from 0xF9 */
	assert_int_equal(f.can_id, CAN_EFF_FLAG | 0x18EEFFF9u);
	assert_int_equal(f.can_dlc, 8);
	assert_int_equal(f.data[0], 0x01);
	assert_int_equal(f.data[7], 0xB0);
	/* within the 250 ms no request goes out */
	assert_true(canbus_tick(l->cb, now) >= now);
	assert_true(canbus_tick(l->cb, now + 300) > now + 300);
	for (int i = 0; i < 7; i++) {
		peer_recv(l, &f);
		assert_int_equal(f.can_id, CAN_EFF_FLAG | 0x18EAFFF9u); /* Request, global */
		assert_int_equal(f.can_dlc, 3);
		assert_int_equal(f.data[0] | f.data[1] << 8 | f.data[2] << 16, want[i]);
	}
}

/* Someone with a lower NAME claims our address: we move to 128 and claim it. */
static void test_live_claim_contention(void **state)
{
	static const uint8_t lower[8] = {0, 0, 0, 0, 0, 0, 0, 0x10};
	struct live *l = *state;
	struct can_frame f;

	canbus_enable_requests(l->cb, 249, 0xB0003C0000000001ULL, 60000);
	peer_recv(l, &f);
	bus_send(l, CAN_EFF_FLAG | 0x18EEFFF9u, lower, 8);
	canbus_read(l->cb);
	peer_recv(l, &f);
	assert_int_equal(f.can_id, CAN_EFF_FLAG | 0x18EEFF80u);
}

/* Standard (11-bit) and remote frames are not J1939: nothing decoded. */
static void test_live_not_j1939(void **state)
{
	struct live *l = *state;
	struct canbus_stats st;

	bus_send(l, 0x400, eec1_data, 8);
	bus_send(l, EEC1_ID | CAN_EFF_FLAG | CAN_RTR_FLAG, eec1_data, 0);
	canbus_read(l->cb);
	assert_int_equal(now_has(l, SIG_ENGINE_SPEED_RPM), 0);
	assert_int_equal(table_source_age(&l->t, SOURCE, clock_mono_ms()), -1);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.decoded, 0);
	assert_int_equal(st.unknown, 0); /* not taken for a PGN at all */
	assert_int_equal(st.bad, 0);
}

/* EEC1 needs 5 bytes: a 3-byte one is bad, as is a record shorter than a
 * CAN frame header or a DLC above 8; good frames around them still count. */
static void test_live_short(void **state)
{
	struct live *l = *state;
	struct canbus_stats st;
	uint8_t stub[4] = {0};

	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 3);
	assert_int_equal(write(l->sv[1], stub, sizeof(stub)), (ssize_t)sizeof(stub));
	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 9);
	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 8);
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.bad, 3);
	assert_int_equal(st.decoded, 1);
	assert_float_equal(now_value(l, SIG_ENGINE_SPEED_RPM), 649.0, 0);
}

/* One call drains everything waiting and returns on EAGAIN. */
static void test_live_drain_eagain(void **state)
{
	struct live *l = *state;
	struct canbus_stats st;

	canbus_read(l->cb); /* nothing waiting: returns at once */
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.up, 1);
	for (int i = 0; i < 5; i++)
		bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 8);
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 5);
	assert_int_equal(st.up, 1);
	assert_int_equal(canbus_fd(l->cb), l->sv[0]);
}

/* The peer closes: frames before the end are applied, then the source is
 * down, its descriptor gone (nothing left to poll: no spin). */
static void test_live_eof(void **state)
{
	struct live *l = *state;
	struct canbus_stats st;

	bus_send(l, EEC1_ID | CAN_EFF_FLAG, eec1_data, 8);
	close(l->sv[1]);
	l->sv[1] = -1;
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.up, 0);
	assert_int_equal(st.frames, 1);
	assert_float_equal(now_value(l, SIG_ENGINE_SPEED_RPM), 649.0, 0);
	assert_int_equal(canbus_fd(l->cb), -1);
	canbus_read(l->cb); /* a second call must return too */
	/* no interface configured: no reopening */
	assert_int_equal(canbus_retry(l->cb, clock_mono_ms() + 60000), -1);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.up, 0);
	assert_int_equal(st.frames, 1);
}

/* What the detectors are handed, frame by frame (the core's frame hook). */
#define MAX_SEEN 256
struct seen {
	const struct live *l;
	int n;
	int64_t mono_ms[MAX_SEEN];
	double rpm[MAX_SEEN]; /* the table's speed at that frame's time */
};

static void on_frame(void *ctx, int64_t mono_ms)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN) {
		s->mono_ms[s->n] = mono_ms;
		if (!table_get(&s->l->t, SIG_ENGINE_SPEED_RPM, 0, mono_ms, &s->rpm[s->n]))
			s->rpm[s->n] = -1;
	}
	s->n++;
}

static void pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* EEC1 with speed rpm8 / 8 rpm. */
static void send_rpm(struct live *l, unsigned rpm8)
{
	uint8_t d[8];

	memcpy(d, eec1_data, sizeof(d));
	d[3] = (uint8_t)rpm8;
	d[4] = (uint8_t)(rpm8 >> 8);
	bus_send(l, EEC1_ID | CAN_EFF_FLAG, d, 8);
}

/* Three frames sent 60 ms apart wait in the socket and come in one read:
 * all applied in order, each handed to the detectors at its kernel receive
 * time (SO_TIMESTAMP, stamped at send on a socketpair), not at the read's:
 * a rule's duration is measured between frames. */
static void test_live_batch_times(void **state)
{
	struct live *l = *state;
	struct seen s = {.l = l};
	int64_t read_ms;

	canbus_set_frame_hook(l->cb, on_frame, &s);
	send_rpm(l, 5192); /* 649 rpm */
	pause_ms(60);
	send_rpm(l, 5200); /* 650 rpm */
	pause_ms(60);
	send_rpm(l, 5208); /* 651 rpm */
	pause_ms(60);
	read_ms = clock_mono_ms();
	canbus_read(l->cb);
	assert_int_equal(s.n, 3);
	assert_float_equal(s.rpm[0], 649.0, 0);
	assert_float_equal(s.rpm[1], 650.0, 0);
	assert_float_equal(s.rpm[2], 651.0, 0);
	/* 60 ms apart, less a millisecond of rounding each side */
	assert_true(s.mono_ms[1] - s.mono_ms[0] >= 58);
	assert_true(s.mono_ms[2] - s.mono_ms[1] >= 58);
	assert_true(read_ms - s.mono_ms[2] >= 58);
	/* the table holds the last frame at its own time, not the read's */
	assert_true(table_source_age(&l->t, SOURCE, read_ms) >= 58);
}

/* More than a recvmmsg batch (64) waiting: one read takes them all, in
 * order, their times never going back. */
static void test_live_batches(void **state)
{
	struct live *l = *state;
	static struct seen s;
	struct canbus_stats st;

	s = (struct seen){.l = l};
	canbus_set_frame_hook(l->cb, on_frame, &s);
	for (unsigned i = 0; i < 150; i++)
		send_rpm(l, 4000 + i);
	canbus_read(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 150);
	assert_int_equal(s.n, 150);
	for (int i = 0; i < 150; i++) {
		assert_float_equal(s.rpm[i], (4000 + i) / 8.0, 0);
		if (i > 0)
			assert_true(s.mono_ms[i] >= s.mono_ms[i - 1]);
	}
	assert_int_equal(st.up, 1);
}

/* After a read the socket rests: not polled (the kernel buffers and stamps
 * what comes) until the batch is up; a catch-up read meanwhile takes what
 * waits without making the rest longer; a quiet bus then costs no timer.
 * (The pause: a rest runs on the real clock.) */
static void test_live_rest(void **state)
{
	struct live *l = *state;
	struct canbus_stats st;
	int64_t before = clock_real_ms(), until;

	assert_int_equal(canbus_poll_fd(l->cb), l->sv[0]);
	send_rpm(l, 5192);
	canbus_read(l->cb);
	assert_int_equal(canbus_poll_fd(l->cb), -1);
	assert_int_equal(canbus_fd(l->cb), l->sv[0]); /* the socket itself stays */
	until = canbus_retry(l->cb, before);
	assert_true(until >= before + canbus_batch_ms(l->cb));
	assert_true(canbus_batch_ms(l->cb) > 0 && canbus_batch_ms(l->cb) <= CANBUS_BATCH_MS);
	send_rpm(l, 5200);
	canbus_catch_up(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 2);
	assert_float_equal(now_value(l, SIG_ENGINE_SPEED_RPM), 650.0, 0);
	assert_true(canbus_retry(l->cb, before) == until);
	assert_int_equal(canbus_poll_fd(l->cb), -1);
	/* the batch is up: polled again, and nothing more to wake for */
	assert_int_equal(canbus_retry(l->cb, until), -1);
	assert_int_equal(canbus_poll_fd(l->cb), l->sv[0]);
	/* not resting: a catch-up reads nothing */
	send_rpm(l, 5208);
	canbus_catch_up(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 2);
	/* a rest that is up: a catch-up only ends it, the poll reads (a
	 * read here would leave the next frame alone to wake the loop) */
	canbus_read(l->cb);
	assert_int_equal(canbus_poll_fd(l->cb), -1);
	send_rpm(l, 5216);
	pause_ms(canbus_batch_ms(l->cb) + 2);
	canbus_catch_up(l->cb);
	canbus_stats(l->cb, &st);
	assert_int_equal(st.frames, 3);
	assert_int_equal(canbus_poll_fd(l->cb), l->sv[0]);
}

/* The control messages of a received frame: the receive time and the
 * kernel's count of frames dropped (SO_RXQ_OVFL: a socketpair never
 * drops, so the message is built here). */
static void test_live_cmsgs(void **state)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timeval)) + CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct timeval tv = {1700000000, 250000};
	uint32_t drops = 7;
	struct cansock_meta m;
	struct cmsghdr *c;

	(void)state;
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_TIMESTAMP;
	c->cmsg_len = CMSG_LEN(sizeof(tv));
	memcpy(CMSG_DATA(c), &tv, sizeof(tv));
	c = CMSG_NXTHDR(&mh, c);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SO_RXQ_OVFL;
	c->cmsg_len = CMSG_LEN(sizeof(drops));
	memcpy(CMSG_DATA(c), &drops, sizeof(drops));
	cansock_read_meta(&mh, &m);
	assert_int_equal(m.stamp_us, INT64_C(1700000000250000));
	assert_int_equal(m.has_drops, 1);
	assert_int_equal(m.drops, 7);
	/* none: no stamp, no count */
	mh.msg_controllen = 0;
	cansock_read_meta(&mh, &m);
	assert_int_equal(m.stamp_us, -1);
	assert_int_equal(m.has_drops, 0);
}

/* A stamp's wall time mapped onto the monotonic clock at the read. */
static void test_live_frame_ms(void **state)
{
	const int64_t wall = INT64_C(1700000000000000), mono = 50000;

	(void)state;
	assert_int_equal(cansock_frame_ms(wall - 120000, wall, mono, 0), mono - 120);
	assert_int_equal(cansock_frame_ms(-1, wall, mono, 0), mono);	      /* none */
	assert_int_equal(cansock_frame_ms(wall + 5000, wall, mono, 0), mono); /* future */
	/* older than any batch: the system clock stepped */
	assert_int_equal(cansock_frame_ms(wall - INT64_C(60000000), wall, mono, 0), mono);
	/* never before the frame before */
	assert_int_equal(cansock_frame_ms(wall - 120000, wall, mono, mono - 100), mono - 100);
}

/* ---- replay ----------------------------------------------------------- */

#define MAX_CALLS 8

struct replay {
	char path[64];
	struct config_can cfg;
	struct table t;
	struct canbus *cb;
	int calls;
	int64_t wall_ms[MAX_CALLS]; /* the clock at each on_time call */
	uint64_t frames_before[MAX_CALLS];
	int64_t last_wall_ms; /* loop test: every call */
	int backwards;
};

/* Each frame's time, after the clock moved to it and before it is applied
 * (where the daemon runs the ticks due before it). */
static void on_time(struct replay *r)
{
	struct clock_now now;
	struct canbus_stats st;

	clock_now(&now);
	assert_int_equal(now.src, TS_REPLAY);
	if (now.wall_ms < r->last_wall_ms)
		r->backwards++;
	r->last_wall_ms = now.wall_ms;
	if (r->calls < MAX_CALLS) {
		canbus_stats(r->cb, &st);
		r->wall_ms[r->calls] = now.wall_ms;
		r->frames_before[r->calls] = st.frames;
	}
	r->calls++;
}

static struct replay *replay_open(const char *log, double speed, int loop)
{
	struct replay *r = calloc(1, sizeof(*r));
	FILE *fp;
	int fd;

	assert_non_null(r);
	snprintf(r->path, sizeof(r->path), "/tmp/test_canbus.XXXXXX");
	fd = mkstemp(r->path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(log, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	snprintf(r->cfg.name, sizeof(r->cfg.name), "replay");
	snprintf(r->cfg.log, sizeof(r->cfg.log), "%s", r->path);
	r->cfg.speed = speed;
	r->cfg.loop = loop;
	table_init(&r->t, 5000);
	r->cb = canbus_open(&r->cfg, SOURCE, &r->t);
	assert_non_null(r->cb);
	assert_int_equal(canbus_fd(r->cb), -1);
	return r;
}

static void replay_close(struct replay *r)
{
	canbus_close(r->cb);
	unlink(r->path);
	free(r);
}

/* What the daemon does: every frame due by real_ms, the clock moved to its
 * time first; at most `batch` frames.  The next due time (real_ms when the
 * batch ran out), or -1 at the end. */
static int64_t canbus_replay(struct replay *r, int64_t real_ms, int batch)
{
	struct canbus_next n;

	while (canbus_replay_next(r->cb, real_ms, &n)) {
		if (n.due_ms > real_ms)
			return n.due_ms;
		if (batch-- == 0)
			return real_ms;
		clock_replay_advance(n.t_us, NULL);
		on_time(r);
		canbus_replay_apply(r->cb);
	}
	return -1;
}

static double replay_value(const struct replay *r, enum sig_id sig)
{
	double v = -1e9;

	if (!table_get(&r->t, sig, 0, clock_mono_ms(), &v))
		fail_msg("%s not in the table", sig_name(sig));
	return v;
}

static void test_replay_flat_out(void **state)
{
	struct replay *r = replay_open("(1700000000.000000) can0 0CF00400#207D87481400F087\n"
				       "(1700000000.500000) can0 18FEEE00#7DFFFFFFFFFFFFFF\n"
				       "(1700000001.250000) can0 0CF00400#207D87501400F087\n",
				       0, 0);
	struct canbus_stats st;
	struct clock_now now;

	(void)state;
	assert_int_equal(canbus_replay(r, clock_real_ms(), 4096), -1);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.frames, 3);
	assert_int_equal(st.decoded, 3);
	assert_int_equal(st.bad, 0);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.up, 1);
	/* the clock is at the log's last time */
	assert_true(clock_is_replay());
	clock_now(&now);
	assert_int_equal(now.src, TS_REPLAY);
	assert_int_equal(now.wall_ms, INT64_C(1700000001250));
	/* once per frame, after the clock moved and before the frame applied */
	assert_int_equal(r->calls, 3);
	assert_int_equal(r->wall_ms[0], INT64_C(1700000000000));
	assert_int_equal(r->wall_ms[1], INT64_C(1700000000500));
	assert_int_equal(r->wall_ms[2], INT64_C(1700000001250));
	assert_int_equal(r->frames_before[0], 0);
	assert_int_equal(r->frames_before[2], 2);
	/* 0x1450 x 0.125 = 650 rpm; coolant 0x7D - 40 = 85 C */
	assert_float_equal(replay_value(r, SIG_ENGINE_SPEED_RPM), 650.0, 0);
	assert_float_equal(replay_value(r, SIG_COOLANT_C), 85.0, 0);
	/* ended: further calls do nothing */
	assert_int_equal(canbus_replay(r, clock_real_ms(), 4096), -1);
	assert_int_equal(r->calls, 3);
	replay_close(r);
}

static void test_replay_bad_lines(void **state)
{
	struct replay *r = replay_open("# a comment\n"
				       "(1700000100.000000) can0 0CF00400#207D87481400F087\n"
				       "this is not candump\n"
				       "can0 0CF00400#207D87481400F087\n"	    /* no time */
				       "(1700000100.100000) can0 0CF00400#207D87\n" /* short */
				       "(1700000100.200000) can0 123#1122\n" /* standard id */
				       "(1700000100.300000) can0 0CF00400#207D87501400F087\n",
				       0, 0);
	struct canbus_stats st;
	struct clock_now now;

	(void)state;
	assert_int_equal(canbus_replay(r, clock_real_ms(), 4096), -1);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.bad, 3); /* two unreadable lines, one short frame */
	assert_int_equal(st.frames, 4);
	assert_int_equal(st.decoded, 2);
	assert_int_equal(r->calls, 4);
	clock_now(&now);
	assert_int_equal(now.wall_ms, INT64_C(1700000100300));
	assert_float_equal(replay_value(r, SIG_ENGINE_SPEED_RPM), 650.0, 0);
	replay_close(r);
}

/* speed 1: each frame waits for its time, measured from the first. */
static void test_replay_paced(void **state)
{
	struct replay *r = replay_open("(1700000200.000000) can0 0CF00400#207D87481400F087\n"
				       "(1700000200.500000) can0 0CF00400#207D87501400F087\n",
				       1, 0);
	struct canbus_stats st;

	(void)state;
	assert_int_equal(canbus_replay(r, 1000, 4096), 1500);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.frames, 1);
	assert_int_equal(canbus_replay(r, 1499, 4096), 1500);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.frames, 1);
	assert_int_equal(canbus_replay(r, 1500, 4096), -1);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.done, 1);
	replay_close(r);
}

/* loop: the log plays again with its times shifted forward; time never
 * runs backwards, and flat out a call stops after a batch. */
static void test_replay_loop(void **state)
{
	struct replay *r = replay_open("(1700000300.000000) can0 0CF00400#207D87481400F087\n"
				       "(1700000300.500000) can0 0CF00400#207D87501400F087\n",
				       0, 1);
	struct canbus_stats st;
	int64_t real = clock_real_ms();

	(void)state;
	assert_int_equal(canbus_replay(r, real, 4096), real);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.done, 0);
	assert_true(st.frames > 2);
	assert_int_equal((uint64_t)r->calls, st.frames);
	assert_int_equal(r->backwards, 0);
	/* the second pass starts 10 ms after the first pass's last frame */
	assert_int_equal(r->wall_ms[2], INT64_C(1700000300510));
	assert_int_equal(r->wall_ms[3], INT64_C(1700000301010));
	replay_close(r);
}

/* A line longer than any CAN log line is one bad line: no cut of it, at
 * any buffer size, replays as a frame (the ET1 below would set coolant). */
static void test_replay_long_line(void **state)
{
	static char log[8192];
	struct canbus_stats st;
	double v;
	int n;

	(void)state;
	n = snprintf(log, sizeof(log), "(1700000400.000000) can0 0CF00400#207D87481400F087\n");
	memset(log + n, 'X', 4092);
	n += 4092;
	n += snprintf(log + n, sizeof(log) - (size_t)n,
		      "(1700000400.100000) can0 18FEEE00#2AFFFFFFFFFFFFFF%*s\n"
		      "(1700000400.200000) can0 0CF00400#207D87501400F087\n",
		      900, "");
	struct replay *r = replay_open(log, 0, 0);
	assert_int_equal(canbus_replay(r, clock_real_ms(), 4096), -1);
	canbus_stats(r->cb, &st);
	assert_int_equal(st.bad, 1);
	assert_int_equal(st.frames, 2);
	assert_false(table_get(&r->t, SIG_COOLANT_C, 0, clock_mono_ms(), &v));
	replay_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    /* live first: replay mode, once on, stays on in this process */
	    cmocka_unit_test_setup_teardown(test_live_eec1, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_not_available, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_not_j1939, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_error_frames, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_by_sa, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_requests, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_claim_contention, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_short, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_drain_eagain, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_eof, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_batch_times, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_batches, live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_live_rest, live_setup, live_teardown),
	    cmocka_unit_test(test_live_cmsgs),
	    cmocka_unit_test(test_live_frame_ms),
	    cmocka_unit_test(test_replay_flat_out),
	    cmocka_unit_test(test_replay_bad_lines),
	    cmocka_unit_test(test_replay_paced),
	    cmocka_unit_test(test_replay_loop),
	    cmocka_unit_test(test_replay_long_line),
	};

	/* A read loop that spins instead of returning fails the run. */
	alarm(30);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
