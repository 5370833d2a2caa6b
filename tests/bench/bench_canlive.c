/* bench_canlive: wake-ups of the live SocketCAN read path on a full bus.
 *
 *   bench_canlive [SECONDS] [FPS]
 *
 * This kernel has no CAN, so the bus is a socketpair carrying struct
 * can_frame records (as in tests/unit/test_canbus.c): a writer thread sends
 * FPS frames a second (default 1,900: a full 250 kbit/s bus) in 1 ms
 * steps; the main thread runs gateway/loop.c as the daemon wires a CAN
 * source (poll canbus_poll_fd, canbus_read when readable, canbus_retry's
 * deadline).  Printed: the main thread's voluntary context switches a
 * second (its wake-ups), frames read and the batch, first with the rest
 * after a read, then polling the socket itself (a wake-up per frame or so,
 * as before batching).  Prints figures; asserts nothing.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <fcntl.h>
#include <linux/can.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/canbus.h"
#include "gateway/clock.h"
#include "gateway/loop.h"

struct bench {
	struct loop *loop;
	struct canbus *cb;
	int h;
	int rest; /* 0: poll the socket itself, as before batching */
	int fd, bus;
	int seconds, fps;
	volatile int done;
};

static void *writer(void *arg)
{
	struct bench *b = arg;
	struct can_frame f = {.can_id = 0x0CF00400u | CAN_EFF_FLAG, .can_dlc = 8};
	struct timespec t;
	long sent = 0, due;

	clock_gettime(CLOCK_MONOTONIC, &t);
	for (long ms = 1; ms <= (long)b->seconds * 1000; ms++) {
		t.tv_nsec += 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		for (due = ms * b->fps / 1000; sent < due; sent++) {
			f.data[4] = (uint8_t)sent;
			if (write(b->bus, &f, sizeof(f)) != (ssize_t)sizeof(f))
				break;
		}
	}
	b->done = 1;
	return NULL;
}

static void on_read(void *ctx, int fd, short revents)
{
	(void)fd;
	(void)revents;
	canbus_read(((struct bench *)ctx)->cb);
}

static int64_t on_round(void *ctx, int64_t now)
{
	struct bench *b = ctx;
	int64_t d;

	canbus_catch_up(b->cb);
	d = canbus_retry(b->cb, now);
	loop_set_fd(b->loop, b->h, b->rest ? canbus_poll_fd(b->cb) : canbus_fd(b->cb), POLLIN);
	if (b->done)
		loop_stop(b->loop);
	return loop_earliest(d, now + 1000);
}

static long vcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

static int run(int rest, int seconds, int fps)
{
	struct bench b = {.rest = rest, .seconds = seconds, .fps = fps};
	struct canbus_stats st;
	struct table t;
	pthread_t th;
	int sv[2], big = 4 * 1024 * 1024;
	long v0;
	int64_t t0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -1;
	/* what a CAN socket gets with CAP_NET_ADMIN (cansock.c), so the batch
	 * is not capped by the socketpair's default buffer */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	b.fd = sv[0];
	b.bus = sv[1];
	table_init(&t, 5000);
	b.cb = canbus_open_fd(sv[0], "bench", 1, &t);
	b.loop = loop_new();
	if (!b.cb || !b.loop)
		return -1;
	b.h = loop_add_fd(b.loop, sv[0], POLLIN, on_read, &b);
	loop_add_hook(b.loop, on_round, &b);
	v0 = vcsw();
	t0 = clock_real_ms();
	pthread_create(&th, NULL, writer, &b);
	loop_run(b.loop);
	pthread_join(th, NULL);
	canbus_read(b.cb); /* the last batch */
	canbus_stats(b.cb, &st);
	printf("live CAN %-26s %7.1f wake-ups/s of the reading thread, %llu frames read (%d fps), "
	       "batch %d ms\n",
	       rest ? "(batches, socketpair):" : "(per frame, socketpair):",
	       (double)(vcsw() - v0) * 1000.0 / (double)(clock_real_ms() - t0),
	       (unsigned long long)st.frames, fps, rest ? canbus_batch_ms(b.cb) : 0);
	loop_free(b.loop);
	canbus_close(b.cb);
	close(sv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 10;
	int fps = argc > 2 ? atoi(argv[2]) : 1900;

	clock_init_live();
	if (seconds <= 0 || fps <= 0 || run(1, seconds, fps) < 0 || run(0, seconds, fps) < 0) {
		fprintf(stderr, "usage: bench_canlive [SECONDS] [FPS]\n");
		return 1;
	}
	return 0;
}
