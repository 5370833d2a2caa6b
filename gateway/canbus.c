#include "gateway/canbus.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "protocols/candump.h"
#include "protocols/j1939.h"

#define CANBUS_RCVBUF (2 * 1024 * 1024) /* ~1 s of a full 1 Mbit/s bus, with skb overhead */
#define CANBUS_RETRY_MS 5000
#define CANBUS_REPLAY_BATCH 4096        /* frames per call when replaying flat out */
#define CANBUS_LOG_LINE 256

struct canbus {
	struct config_can cfg;
	int source;
	struct table *table;
	canbus_time_fn *on_time;
	void *ctx;
	int fd;
	FILE *log;
	int64_t retry_at_ms;
	struct canbus_stats st;

	/* replay */
	struct candump_frame next;  /* read, not yet applied */
	int have_next;
	int64_t log0_us;            /* first frame's log time */
	int64_t real0_ms;           /* real time it was applied */
	unsigned long line;
	int warned_bad;
	int64_t first_raw_us;       /* first time in the file, unshifted */
	int64_t last_us;            /* latest time applied */
	int64_t shift_us;           /* added to the file's times when looping */
	int line_first;             /* first_raw_us is set */
};

static void canbus_apply(struct canbus *cb, uint32_t can_id, const uint8_t *data, int len,
			 int64_t mono_ms)
{
	struct j1939_frame fr;
	struct j1939_id id;

	cb->st.frames++;
	cb->st.last_frame_mono_ms = mono_ms;
	j1939_id_parse(can_id, &id);
	switch (j1939_decode(id.pgn, data, (size_t)len, &fr)) {
	case J1939_OK:
		break;
	case J1939_EUNKNOWN:
		cb->st.unknown++;
		return;
	default:
		cb->st.bad++;
		return;
	}
	cb->st.decoded++;
	cb->st.na += (uint64_t)fr.n_na;
	cb->st.errors += (uint64_t)(fr.n_error + fr.n_reserved);
	for (int i = 0; i < fr.n; i++)
		table_set(cb->table, fr.v[i].sig, 0, fr.v[i].value, mono_ms, cb->source);
	/* A signal now sent as not available must not keep its old number. */
	for (int i = 0; i < fr.n_missing; i++)
		table_mark(cb->table, fr.missing[i].sig, 0,
			   fr.missing[i].state == J1939_SPN_NA ? TABLE_NA : TABLE_ERROR, mono_ms,
			   cb->source);
}

static struct canbus *canbus_new(const char *name, int source, struct table *t)
{
	struct canbus *cb = calloc(1, sizeof(*cb));

	if (!cb) {
		log_warn("can %s", name);
		return NULL;
	}
	snprintf(cb->cfg.name, sizeof(cb->cfg.name), "%s", name);
	cb->source = source;
	cb->table = t;
	cb->fd = -1;
	cb->retry_at_ms = -1;
	cb->st.last_frame_mono_ms = -1;
	return cb;
}

struct canbus *canbus_open_fd(int fd, const char *name, int source, struct table *t)
{
	struct canbus *cb = canbus_new(name, source, t);

	if (!cb)
		return NULL;
	cb->fd = fd;
	cb->st.up = 1;
	return cb;
}

/* A raw CAN socket on the interface, non-blocking, with a receive buffer
 * large enough that a slow loop iteration does not drop frames. */
static int canbus_socket(const char *ifname)
{
	struct sockaddr_can addr = { .can_family = AF_CAN };
	int size = CANBUS_RCVBUF;
	int fd;

	fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (fd < 0)
		return -1;
	addr.can_ifindex = (int)if_nametoindex(ifname);
	if (addr.can_ifindex == 0)
		goto out_close;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto out_close;
	return fd;
out_close:
	close(fd);
	return -1;
}

static int canbus_try_socket(struct canbus *cb, int64_t now_ms)
{
	cb->fd = canbus_socket(cb->cfg.interface);
	if (cb->fd < 0) {
		if (cb->retry_at_ms < 0 || cb->st.up)
			log_warn("can %s: %s", cb->cfg.name, cb->cfg.interface);
		cb->st.up = 0;
		cb->retry_at_ms = now_ms + CANBUS_RETRY_MS;
		return -1;
	}
	if (cb->retry_at_ms >= 0)
		log_notice("can %s: %s open", cb->cfg.name, cb->cfg.interface);
	cb->st.up = 1;
	cb->retry_at_ms = -1;
	return 0;
}

struct canbus *canbus_open(const struct config_can *cfg, int source, struct table *t,
			   canbus_time_fn *on_time, void *ctx)
{
	struct canbus *cb = canbus_new(cfg->name, source, t);

	if (!cb)
		return NULL;
	cb->cfg = *cfg;
	cb->on_time = on_time;
	cb->ctx = ctx;
	if (cfg->log[0]) {
		cb->log = fopen(cfg->log, "r");
		if (!cb->log) {
			log_warn("can %s: %s", cfg->name, cfg->log);
			free(cb);
			return NULL;
		}
		cb->st.up = 1;
		return cb;
	}
	canbus_try_socket(cb, clock_mono_ms());
	return cb;
}

void canbus_close(struct canbus *cb)
{
	if (!cb)
		return;
	if (cb->fd >= 0)
		close(cb->fd);
	if (cb->log)
		fclose(cb->log);
	free(cb);
}

int canbus_fd(const struct canbus *cb)
{
	return cb->log ? -1 : cb->fd;
}

void canbus_read(struct canbus *cb)
{
	struct can_frame f;
	ssize_t n;

	while (cb->fd >= 0) {
		n = read(cb->fd, &f, sizeof(f));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			log_warn("can %s: read", cb->cfg.name);
			goto out_down;
		}
		if (n == 0) {
			/* The peer went away: without this the loop would spin. */
			log_warnx("can %s: end of input", cb->cfg.name);
			goto out_down;
		}
		if ((size_t)n < sizeof(f) - sizeof(f.data) || f.can_dlc > 8) {
			cb->st.bad++;
			continue;
		}
		if (!(f.can_id & CAN_EFF_FLAG) || (f.can_id & (CAN_RTR_FLAG | CAN_ERR_FLAG))) {
			cb->st.frames++;
			continue;
		}
		canbus_apply(cb, f.can_id & CAN_EFF_MASK, f.data, f.can_dlc, clock_mono_ms());
	}
	return;
out_down:
	close(cb->fd);
	cb->fd = -1;
	cb->st.up = 0;
	if (cb->cfg.interface[0])
		cb->retry_at_ms = clock_mono_ms() + CANBUS_RETRY_MS;
}

int64_t canbus_retry(struct canbus *cb, int64_t now_ms)
{
	if (cb->log || cb->fd >= 0 || cb->retry_at_ms < 0)
		return -1;
	if (now_ms >= cb->retry_at_ms)
		canbus_try_socket(cb, now_ms);
	return cb->retry_at_ms;
}

/* Read the next timed frame of the log into cb->next; 0, or -1 at the end. */
static int canbus_read_next(struct canbus *cb)
{
	char line[CANBUS_LOG_LINE];
	int rc;

	while (fgets(line, sizeof(line), cb->log)) {
		cb->line++;
		line[strcspn(line, "\r\n")] = '\0';
		rc = candump_parse_line(line, &cb->next);
		if (rc == CANDUMP_SKIP)
			continue;
		if (rc == CANDUMP_OK && !cb->next.has_time)
			rc = CANDUMP_ETIME;
		if (rc < 0) {
			cb->st.bad++;
			if (!cb->warned_bad++)
				log_warnx("%s:%lu: %s (further bad lines are only counted)",
					  cb->cfg.log, cb->line, candump_strerror(rc));
			continue;
		}
		if (!cb->line_first) {
			cb->first_raw_us = cb->next.t_us;
			cb->line_first = 1;
		}
		cb->next.t_us += cb->shift_us;
		return 0;
	}
	if (cb->cfg.loop && cb->st.frames > 0) {
		/* Loop: start the file again, its times shifted to follow on
		 * from the last frame, so time never runs backwards. */
		rewind(cb->log);
		cb->line = 0;
		cb->shift_us = cb->last_us + 10000 - cb->first_raw_us;
		return canbus_read_next(cb);
	}
	return -1;
}

int64_t canbus_replay(struct canbus *cb, int64_t real_ms)
{
	int budget = CANBUS_REPLAY_BATCH;

	if (!cb->log || cb->st.done)
		return -1;
	for (;;) {
		if (!cb->have_next) {
			if (canbus_read_next(cb) < 0) {
				cb->st.done = 1;
				log_info("can %s: end of %s (%llu frames)", cb->cfg.name, cb->cfg.log,
					 (unsigned long long)cb->st.frames);
				return -1;
			}
			cb->have_next = 1;
			if (cb->st.frames == 0 && cb->real0_ms == 0) {
				cb->log0_us = cb->next.t_us;
				cb->real0_ms = real_ms;
			}
		}
		if (cb->cfg.speed > 0) {
			int64_t due = cb->real0_ms +
				      (int64_t)((double)(cb->next.t_us - cb->log0_us) / 1000.0 /
						cb->cfg.speed);
			if (due > real_ms)
				return due;
		} else if (budget-- == 0) {
			return real_ms;
		}
		cb->have_next = 0;
		cb->last_us = cb->next.t_us;
		clock_replay_advance(cb->next.t_us);
		if (cb->on_time)
			cb->on_time(cb->ctx);
		if (cb->next.extended && !cb->next.rtr)
			canbus_apply(cb, cb->next.can_id, cb->next.data, cb->next.len,
				     clock_mono_ms());
		else
			cb->st.frames++;
	}
}

const char *canbus_name(const struct canbus *cb)
{
	return cb->cfg.name;
}

void canbus_stats(const struct canbus *cb, struct canbus_stats *st)
{
	*st = cb->st;
}
