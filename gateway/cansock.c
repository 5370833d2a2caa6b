/* cansock: the SocketCAN back-end of a CAN source (source.h).  Owns its
 * socket and its reopening; frames go to the CAN core (canbus.c). */
#define _GNU_SOURCE /* recvmmsg */
#include <errno.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/source.h"
#include "protocols/candec.h"

#define CANSOCK_RCVBUF	     (2 * 1024 * 1024) /* ~1 s of a full 1 Mbit/s bus, with skb overhead */
#define CANSOCK_RETRY_MS     5000
#define CANSOCK_MAX_FILTERS  64
#define CANSOCK_BATCH	     64	   /* frames a recvmmsg call */
#define CANSOCK_SKB_BYTES    768   /* receive buffer a queued CAN frame takes, with skb overhead */
#define CANSOCK_MAX_FPS	     4000  /* a full 500 kbit/s bus, J1939's fastest */
#define CANSOCK_STAMP_MAX_MS 10000 /* a stamp older than this: the system clock stepped */

/* One recvmmsg batch: frames, their buffers and control messages. */
struct cansock_batch {
	struct mmsghdr mh[CANSOCK_BATCH];
	struct iovec iov[CANSOCK_BATCH];
	struct can_frame f[CANSOCK_BATCH];
	_Alignas(struct cmsghdr) char ctl[CANSOCK_BATCH][CMSG_SPACE(sizeof(struct timeval)) +
							 CMSG_SPACE(sizeof(uint32_t))];
};

struct source {
	struct canbus *cb;
	struct canbus_stats *st;
	char name[32];
	char interface[IFNAMSIZ];
	int fd;
	int64_t retry_at_ms;
	int net_down;
	int batch_ms;	      /* what the receive buffer lets the socket wait unread */
	int64_t last_mono_ms; /* the latest frame time given: frames never go back */
	struct cansock_batch b;
};

/* Kernel filters: only the PGNs some decoder wants (any priority, any
 * source; for PDU1 PGNs any destination), plus every error frame. */
static void cansock_filters(int fd)
{
	struct can_filter f[CANSOCK_MAX_FILTERS];
	uint32_t pgns[CANSOCK_MAX_FILTERS];
	can_err_mask_t errs = CAN_ERR_MASK;
	int n = candec_pgns(pgns, CANSOCK_MAX_FILTERS);

	for (int i = 0; i < n; i++) {
		int pdu1 = ((pgns[i] >> 8) & 0xFF) < 240;

		f[i].can_id = (pgns[i] << 8) | CAN_EFF_FLAG;
		f[i].can_mask = ((pdu1 ? 0x3FF00u : 0x3FFFFu) << 8) | CAN_EFF_FLAG | CAN_RTR_FLAG;
	}
	setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, f, (socklen_t)(n * (int)sizeof(f[0])));
	setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errs, sizeof(errs));
}

/* Kernel receive timestamps and the drop count on every frame.  The loop
 * reads in batches (a frame may wait CANBUS_BATCH_MS unread), so the batch
 * is capped to half of what the receive buffer holds at a full 500 kbit/s
 * bus when the buffer came out smaller than asked (no CAP_NET_ADMIN and
 * net.core.rmem_max below 600 KB, which the kernel doubles: the stock
 * 208 KB gives 69 ms). */
static void cansock_options(struct source *s, int fd)
{
	int one = 1, size = 0;
	socklen_t len = sizeof(size);
	int64_t held_ms;

	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	s->batch_ms = CANBUS_BATCH_MS;
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0 && size > 0) {
		held_ms = (int64_t)size / CANSOCK_SKB_BYTES * 1000 / CANSOCK_MAX_FPS / 2;
		if (held_ms < s->batch_ms)
			s->batch_ms = (int)held_ms;
	}
}

/* A raw CAN socket on the interface, non-blocking, with a receive buffer
 * large enough that a slow loop iteration does not drop frames. */
static int cansock_socket(const char *ifname)
{
	struct sockaddr_can addr = {.can_family = AF_CAN};
	int size = CANSOCK_RCVBUF;
	int fd;

	fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (fd < 0)
		return -1;
	addr.can_ifindex = (int)if_nametoindex(ifname);
	if (addr.can_ifindex == 0)
		goto out_close;
	/* Without CAP_NET_ADMIN the forced size fails: then what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	cansock_filters(fd);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto out_close;
	return fd;
out_close:
	close(fd);
	return -1;
}

static int cansock_try(struct source *s, int64_t now_ms)
{
	s->fd = cansock_socket(s->interface);
	if (s->fd < 0) {
		if (s->retry_at_ms < 0 || s->st->up)
			log_warn("can %s: %s", s->name, s->interface);
		s->st->up = 0;
		s->st->bus_state = "down";
		s->retry_at_ms = now_ms + CANSOCK_RETRY_MS;
		return -1;
	}
	if (s->retry_at_ms >= 0)
		log_notice("can %s: %s open", s->name, s->interface);
	cansock_options(s, s->fd);
	s->st->up = 1;
	s->st->bus_state = "ok";
	s->retry_at_ms = -1;
	return 0;
}

static struct source *cansock_new(struct canbus *cb)
{
	struct source *s = calloc(1, sizeof(*s));

	if (!s) {
		log_warn("can %s", canbus_name(cb));
		return NULL;
	}
	s->cb = cb;
	s->st = canbus_counters(cb);
	snprintf(s->name, sizeof(s->name), "%s", canbus_name(cb));
	s->fd = -1;
	s->retry_at_ms = -1;
	s->batch_ms = CANBUS_BATCH_MS;
	s->last_mono_ms = INT64_MIN;
	for (int i = 0; i < CANSOCK_BATCH; i++) {
		s->b.iov[i] = (struct iovec){.iov_base = &s->b.f[i], .iov_len = sizeof(s->b.f[i])};
		s->b.mh[i].msg_hdr.msg_iov = &s->b.iov[i];
		s->b.mh[i].msg_hdr.msg_iovlen = 1;
	}
	return s;
}

static struct source *cansock_open(const struct config_can *cfg, struct canbus *cb)
{
	struct source *s = cansock_new(cb);

	if (!s)
		return NULL;
	snprintf(s->interface, sizeof(s->interface), "%s", cfg->interface);
	cansock_try(s, clock_real_ms());
	return s;
}

struct source *cansock_adopt(int fd, struct canbus *cb)
{
	struct source *s = cansock_new(cb);

	if (!s)
		return NULL;
	s->fd = fd;
	cansock_options(s, fd);
	s->st->up = 1;
	return s;
}

static void cansock_close(struct source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static int cansock_fd(const struct source *s)
{
	return s->fd;
}

/* A controller error frame (linux/can/error.h): counted, and the bus state
 * it reports kept for status. */
static void cansock_error_frame(struct source *s, const struct can_frame *f)
{
	s->st->err_frames++;
	if (f->can_id & CAN_ERR_BUSOFF)
		canbus_set_state(s->cb, "bus-off");
	else if (f->can_id & CAN_ERR_RESTARTED)
		canbus_set_state(s->cb, "ok");
	else if ((f->can_id & CAN_ERR_CRTL) &&
		 (f->data[1] & (CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE)))
		canbus_set_state(s->cb, "error-passive");
	else if ((f->can_id & CAN_ERR_CRTL) &&
		 (f->data[1] & (CAN_ERR_CRTL_RX_WARNING | CAN_ERR_CRTL_TX_WARNING)))
		canbus_set_state(s->cb, "warning");
	else if ((f->can_id & CAN_ERR_CRTL) && (f->data[1] & CAN_ERR_CRTL_ACTIVE))
		canbus_set_state(s->cb, "ok");
}

void cansock_read_meta(struct msghdr *mh, struct cansock_meta *m)
{
	m->stamp_us = -1;
	m->has_drops = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
			memcpy(&m->drops, CMSG_DATA(c), sizeof(m->drops));
			m->has_drops = 1;
		} else if (c->cmsg_type == SCM_TIMESTAMP &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct timeval))) {
			struct timeval tv;

			memcpy(&tv, CMSG_DATA(c), sizeof(tv));
			m->stamp_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
		}
	}
}

/* The kernel's count of frames dropped for a full receive queue rides on
 * every frame once SO_RXQ_OVFL is on. */
static void cansock_drops(struct source *s, const struct cansock_meta *m)
{
	if (!m->has_drops)
		return;
	if (m->drops > s->st->overflows)
		log_warnx("can %s: receive queue overflowed, %u frames lost so far", s->name,
			  m->drops);
	s->st->overflows = m->drops;
}

int64_t cansock_frame_ms(int64_t stamp_us, int64_t read_wall_us, int64_t read_mono_ms,
			 int64_t last_mono_ms)
{
	int64_t age_ms = (read_wall_us - stamp_us) / 1000;
	int64_t t = read_mono_ms;

	/* SO_TIMESTAMP is wall time: its age at the read, taken back from
	 * the monotonic read time.  No stamp, one from the future or one
	 * older than any batch (the system clock stepped): the read time. */
	if (stamp_us >= 0 && age_ms >= 0 && age_ms <= CANSOCK_STAMP_MAX_MS)
		t = read_mono_ms - age_ms;
	return t < last_mono_ms ? last_mono_ms : t;
}

static void cansock_down(struct source *s)
{
	close(s->fd);
	s->fd = -1;
	s->st->up = 0;
	s->st->bus_state = "down";
	if (s->interface[0])
		s->retry_at_ms = clock_real_ms() + CANSOCK_RETRY_MS;
}

/* One received record at its frame time. */
static void cansock_record(struct source *s, const struct can_frame *f, size_t n, int64_t mono_ms)
{
	if (n < sizeof(*f) - sizeof(f->data) || f->can_dlc > 8) {
		s->st->bad++;
		return;
	}
	if (f->can_id & CAN_ERR_FLAG) {
		cansock_error_frame(s, f);
		return;
	}
	if (!(f->can_id & CAN_EFF_FLAG) || (f->can_id & CAN_RTR_FLAG)) {
		s->st->frames++;
		return;
	}
	canbus_frame(s->cb, f->can_id & CAN_EFF_MASK, f->data, f->can_dlc, mono_ms);
	canbus_applied(s->cb, mono_ms);
}

/* One recvmmsg call: the frames it got applied in order, each at its
 * kernel time.  The count (a full batch: more may wait), 0 when drained,
 * -1 when the source went. */
static int cansock_read_batch(struct source *s)
{
	struct timespec wall;
	int64_t wall_us, mono_ms;
	int n;

	for (int i = 0; i < CANSOCK_BATCH; i++) {
		s->b.mh[i].msg_hdr.msg_control = s->b.ctl[i];
		s->b.mh[i].msg_hdr.msg_controllen = sizeof(s->b.ctl[i]);
	}
	n = recvmmsg(s->fd, s->b.mh, CANSOCK_BATCH, 0, NULL);
	if (n < 0) {
		if (errno == EINTR)
			return CANSOCK_BATCH;
		if (errno == EAGAIN)
			return 0;
		if (errno == ENETDOWN) {
			/* The interface went down: the socket stays and
			 * reads again once it is back up. */
			if (!s->net_down++)
				canbus_set_state(s->cb, "down");
			return 0;
		}
		log_warn("can %s: read", s->name);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	wall_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000;
	mono_ms = clock_mono_ms();
	for (int i = 0; i < n; i++) {
		struct cansock_meta m;

		if (s->b.mh[i].msg_len == 0) {
			/* The peer went away: without this the loop would spin. */
			log_warnx("can %s: end of input", s->name);
			return -1;
		}
		if (s->net_down) {
			s->net_down = 0;
			canbus_set_state(s->cb, "ok");
		}
		cansock_read_meta(&s->b.mh[i].msg_hdr, &m);
		cansock_drops(s, &m);
		s->last_mono_ms = cansock_frame_ms(m.stamp_us, wall_us, mono_ms, s->last_mono_ms);
		cansock_record(s, &s->b.f[i], s->b.mh[i].msg_len, s->last_mono_ms);
	}
	return n;
}

/* Everything waiting, a batch a call, until a short batch says drained. */
static void cansock_read(struct source *s)
{
	int rc;

	while (s->fd >= 0 && (rc = cansock_read_batch(s)) != 0) {
		if (rc < 0) {
			cansock_down(s);
			return;
		}
		if (rc < CANSOCK_BATCH)
			return;
	}
}

static int cansock_batch_ms(const struct source *s)
{
	return s->batch_ms;
}

static int64_t cansock_retry(struct source *s, int64_t now_ms)
{
	if (s->fd >= 0 || s->retry_at_ms < 0)
		return -1;
	if (now_ms >= s->retry_at_ms)
		cansock_try(s, now_ms);
	return s->retry_at_ms;
}

static int cansock_send(struct source *s, const struct can_frame *f)
{
	if (s->fd < 0 || write(s->fd, f, sizeof(*f)) != (ssize_t)sizeof(*f))
		return -1;
	return 0;
}

const struct source_ops cansock_ops = {
    .open = cansock_open,
    .close = cansock_close,
    .fd = cansock_fd,
    .read = cansock_read,
    .batch_ms = cansock_batch_ms,
    .retry = cansock_retry,
    .send = cansock_send,
};
