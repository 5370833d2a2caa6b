/* cansock: the SocketCAN back-end of a CAN source (source.h).  Owns its
 * socket and its reopening; frames go to the CAN core (canbus.c). */
#include <errno.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/source.h"
#include "protocols/candec.h"

#define CANSOCK_RCVBUF	    (2 * 1024 * 1024) /* ~1 s of a full 1 Mbit/s bus, with skb overhead */
#define CANSOCK_RETRY_MS    5000
#define CANSOCK_MAX_FILTERS 64

struct source {
	struct canbus *cb;
	struct canbus_stats *st;
	char name[32];
	char interface[IFNAMSIZ];
	int fd;
	int64_t retry_at_ms;
	int net_down;
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

/* A raw CAN socket on the interface, non-blocking, with a receive buffer
 * large enough that a slow loop iteration does not drop frames. */
static int cansock_socket(const char *ifname)
{
	struct sockaddr_can addr = {.can_family = AF_CAN};
	int size = CANSOCK_RCVBUF, one = 1;
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
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
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

/* The kernel's count of frames dropped for a full receive queue rides on
 * every frame once SO_RXQ_OVFL is on. */
static void cansock_cmsgs(struct source *s, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		uint32_t drops;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&drops, CMSG_DATA(c), sizeof(drops));
		if (drops > s->st->overflows)
			log_warnx("can %s: receive queue overflowed, %u frames lost so far",
				  s->name, drops);
		s->st->overflows = drops;
	}
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

/* One received record; 1 to go on, 0 when drained, -1 when the source went. */
static int cansock_read_one(struct source *s)
{
	char ctl[CMSG_SPACE(sizeof(uint32_t)) * 2];
	struct can_frame f;
	struct iovec iov = {.iov_base = &f, .iov_len = sizeof(f)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(s->fd, &mh, 0);

	if (n < 0) {
		if (errno == EINTR)
			return 1;
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
	if (n == 0) {
		/* The peer went away: without this the loop would spin. */
		log_warnx("can %s: end of input", s->name);
		return -1;
	}
	if (s->net_down) {
		s->net_down = 0;
		canbus_set_state(s->cb, "ok");
	}
	cansock_cmsgs(s, &mh);
	if ((size_t)n < sizeof(f) - sizeof(f.data) || f.can_dlc > 8) {
		s->st->bad++;
		return 1;
	}
	if (f.can_id & CAN_ERR_FLAG) {
		cansock_error_frame(s, &f);
		return 1;
	}
	if (!(f.can_id & CAN_EFF_FLAG) || (f.can_id & CAN_RTR_FLAG)) {
		s->st->frames++;
		return 1;
	}
	canbus_frame(s->cb, f.can_id & CAN_EFF_MASK, f.data, f.can_dlc, clock_mono_ms());
	return 1;
}

static void cansock_read(struct source *s)
{
	int rc;

	while (s->fd >= 0 && (rc = cansock_read_one(s)) != 0) {
		if (rc < 0) {
			cansock_down(s);
			return;
		}
	}
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
    .retry = cansock_retry,
    .send = cansock_send,
};
