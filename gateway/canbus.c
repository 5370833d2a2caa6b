#include "gateway/canbus.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "protocols/canboat.h"
#include "protocols/candec.h"
#include "protocols/candump.h"

#define CANBUS_RCVBUF	    (2 * 1024 * 1024) /* ~1 s of a full 1 Mbit/s bus, with skb overhead */
#define CANBUS_RETRY_MS	    5000
#define CANBUS_REPLAY_BATCH 4096 /* frames per call when replaying flat out */
#define CANBUS_LOG_LINE	    1024 /* a CANboat line carries up to 223 bytes */
#define CANBUS_MAX_FILTERS  64

_Static_assert(CANDEC_MAX_OVERRIDES == CONFIG_MAX_OVERRIDES, "override tables differ in size");

/* Counters per source address: which controller sends what. */
struct canbus_sa_stats {
	uint64_t frames, decoded, na, errors, unknown;
};

#define CANBUS_CLAIM_WAIT_MS 250 /* J1939-81: no contention within 250 ms = claimed */
#define CANBUS_PGN_REQUEST   59904u
#define CANBUS_SA_NULL	     254 /* "cannot claim" */

enum canbus_claim { CLAIM_OFF, CLAIM_PENDING, CLAIM_HELD, CLAIM_FAILED };

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
	struct canbus_sa_stats sa[256];
	struct candec dec;
	struct candec_msg msg;
	struct diag diag;
	int net_down;

	/* transmit (request = yes) */
	enum canbus_claim claim;
	uint8_t my_sa;
	uint64_t my_name;
	int request_period_ms;
	int64_t claim_done_ms; /* CLAIM_PENDING: held if nobody objects by then */
	int64_t next_request_ms;
	uint64_t requests_sent;

	/* replay */
	struct candump_frame next;  /* read, not yet applied */
	struct canboat_msg next_cb; /* ... when the line was CANboat */
	int next_is_cb;
	int have_next;
	int64_t log0_us;  /* first frame's log time */
	int64_t real0_ms; /* real time it was applied */
	unsigned long line;
	int warned_bad;
	int64_t first_raw_us; /* first time in the file, unshifted */
	int64_t last_us;      /* latest time applied */
	int64_t shift_us;     /* added to the file's times when looping */
	int line_first;	      /* first_raw_us is set */
};

static void canbus_no_event(void *ctx, struct payload_event *ev)
{
	(void)ctx;
	(void)ev;
}

/* Whether a decoded message's signals are wanted, by the profile's source
 * address settings and ignore list. */
static int canbus_wanted(const struct canbus *cb, uint32_t pgn, uint8_t sa)
{
	int want = cb->cfg.sa;

	for (int i = 0; i < cb->cfg.n_ignore; i++)
		if (cb->cfg.ignore_pgn[i] == pgn)
			return 0;
	for (int i = 0; i < cb->cfg.n_pgn_sa; i++)
		if (cb->cfg.pgn_sa[i].pgn == pgn)
			want = cb->cfg.pgn_sa[i].sa;
	return want < 0 || want == sa;
}

static void canbus_signals(struct canbus *cb, const struct candec_msg *m, int64_t mono_ms)
{
	/* NMEA 2000 engine instances map onto table instances; more
	 * engines than the table holds are dropped, never mixed up. */
	int inst = m->instance < 0 ? 0 : m->instance;

	if (inst >= TABLE_INSTANCES)
		return;
	for (int i = 0; i < m->n; i++)
		table_set(cb->table, m->v[i].sig, inst, m->v[i].value, mono_ms, cb->source);
	/* A signal now sent as not available must not keep its old number. */
	for (int i = 0; i < m->n_missing; i++)
		table_mark(cb->table, m->missing[i].sig, inst,
			   m->missing[i].error ? TABLE_ERROR : TABLE_NA, mono_ms, cb->source);
}

static void canbus_send(struct canbus *cb, uint32_t pgn, uint8_t da, const uint8_t *data, int len)
{
	struct can_frame f = {.can_dlc = (uint8_t)len};
	uint32_t pf = (pgn >> 8) & 0xFF;

	/* priority 6; PDU1 PGNs carry the destination in the PS byte */
	f.can_id =
	    CAN_EFF_FLAG | 6u << 26 | (pf < 240 ? (pgn & 0x3FF00) | da : pgn) << 8 | cb->my_sa;
	memcpy(f.data, data, (size_t)len);
	if (cb->fd < 0 || write(cb->fd, &f, sizeof(f)) != (ssize_t)sizeof(f))
		log_debug("can %s: cannot send PGN %u", cb->cfg.name, pgn);
}

static void canbus_send_claim(struct canbus *cb)
{
	uint8_t d[8];

	for (int i = 0; i < 8; i++)
		d[i] = (uint8_t)(cb->my_name >> (8 * i));
	canbus_send(cb, J1939DM_PGN_ADDR_CLAIM, 0xFF, d, 8);
}

/* J1939-81: another node claims our address.  The lower NAME keeps it; the
 * loser, if arbitrary-address capable, tries the next address of the
 * self-configurable range (128..247), else says it cannot claim. */
static void canbus_contend(struct canbus *cb, uint8_t sa, uint64_t their_name)
{
	int next = cb->my_sa < 128 || cb->my_sa > 247 ? 128 : cb->my_sa + 1;

	if (cb->claim == CLAIM_OFF || cb->claim == CLAIM_FAILED || sa != cb->my_sa)
		return;
	if (cb->my_name < their_name) {
		canbus_send_claim(cb);
		return;
	}

	if (!(cb->my_name >> 63) || next > 247) {
		log_warnx("can %s: address %u taken by NAME %016llx: cannot claim, requests off",
			  cb->cfg.name, cb->my_sa, (unsigned long long)their_name);
		cb->my_sa = CANBUS_SA_NULL;
		canbus_send_claim(cb);
		cb->claim = CLAIM_FAILED;
		return;
	}
	cb->my_sa = (uint8_t)next;
	cb->claim = CLAIM_PENDING;
	cb->claim_done_ms = clock_real_ms() + CANBUS_CLAIM_WAIT_MS;
	canbus_send_claim(cb);
}

static void canbus_send_requests(struct canbus *cb)
{
	static const uint32_t pgns[] = {65253, 65260, 65248, 65217};

	for (size_t i = 0; i < sizeof(pgns) / sizeof(pgns[0]); i++) {
		uint8_t d[3] = {(uint8_t)pgns[i], (uint8_t)(pgns[i] >> 8),
				(uint8_t)(pgns[i] >> 16)};

		canbus_send(cb, CANBUS_PGN_REQUEST, 0xFF, d, 3);
		cb->requests_sent++;
	}
}

void canbus_enable_requests(struct canbus *cb, int address, uint64_t name, int period_ms)
{
	cb->my_sa = (uint8_t)address;
	cb->my_name = name;
	cb->request_period_ms = period_ms;
	cb->claim = CLAIM_PENDING;
	cb->claim_done_ms = clock_real_ms() + CANBUS_CLAIM_WAIT_MS;
	canbus_send_claim(cb);
}

int64_t canbus_tick(struct canbus *cb, int64_t now_ms)
{
	if (cb->claim == CLAIM_PENDING && now_ms >= cb->claim_done_ms) {
		log_notice("can %s: claimed address %u", cb->cfg.name, cb->my_sa);
		cb->claim = CLAIM_HELD;
		cb->next_request_ms = now_ms;
	}
	if (cb->claim == CLAIM_HELD && now_ms >= cb->next_request_ms) {
		canbus_send_requests(cb);
		cb->next_request_ms = now_ms + cb->request_period_ms;
	}
	if (cb->claim == CLAIM_PENDING)
		return cb->claim_done_ms;
	return cb->claim == CLAIM_HELD ? cb->next_request_ms : -1;
}

/* A decoded message (rc from candec): into the table or the diagnostics. */
static void canbus_message(struct canbus *cb, int rc, int64_t mono_ms)
{
	const struct candec_msg *m = &cb->msg;
	struct canbus_sa_stats *sa = &cb->sa[m->sa];

	if (rc < 0) {
		cb->st.bad++;
		sa->errors++;
		return;
	}
	if (rc == 0)
		return;
	if (m->kind == CANDEC_UNKNOWN) {
		cb->st.unknown++;
		sa->unknown++;
		return;
	}
	if (!canbus_wanted(cb, m->pgn, m->sa)) {
		cb->st.filtered++;
		return;
	}
	cb->st.decoded++;
	sa->decoded++;
	cb->st.na += (uint64_t)m->n_na;
	cb->st.errors += (uint64_t)(m->n_error + m->n_reserved);
	sa->na += (uint64_t)m->n_na;
	sa->errors += (uint64_t)(m->n_error + m->n_reserved);
	switch (m->kind) {
	case CANDEC_SIGNALS:
		canbus_signals(cb, m, mono_ms);
		break;
	case CANDEC_DM1:
		diag_dm1(&cb->diag, m->sa, &m->dm1);
		break;
	case CANDEC_VIN:
		diag_vin(&cb->diag, m->sa, m->vin);
		break;
	case CANDEC_CLAIM:
		diag_claim(&cb->diag, m->sa, &m->claim);
		canbus_contend(cb, m->sa, m->claim.raw);
		break;
	default:
		break;
	}
}

static void canbus_frame(struct canbus *cb, uint32_t can_id, const uint8_t *data, int len,
			 int64_t mono_ms)
{
	cb->st.frames++;
	cb->st.last_frame_mono_ms = mono_ms;
	cb->sa[can_id & 0xFF].frames++;
	canbus_message(cb, candec_frame(&cb->dec, can_id, data, (size_t)len, mono_ms, &cb->msg),
		       mono_ms);
}

static struct canbus *canbus_new(const char *name, int source, struct table *t)
{
	struct canbus *cb = calloc(1, sizeof(*cb));

	if (!cb) {
		log_warn("can %s", name);
		return NULL;
	}
	snprintf(cb->cfg.name, sizeof(cb->cfg.name), "%s", name);
	cb->cfg.sa = -1;
	cb->source = source;
	cb->table = t;
	cb->fd = -1;
	cb->retry_at_ms = -1;
	cb->st.last_frame_mono_ms = -1;
	cb->st.bus_state = "ok";
	candec_init(&cb->dec);
	diag_init(&cb->diag, "", canbus_no_event, NULL);
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

void canbus_set_events(struct canbus *cb, const char *vin, payload_event_fn *on_event, void *ctx)
{
	diag_init(&cb->diag, vin, on_event, ctx);
}

/* Kernel filters: only the PGNs some decoder wants (any priority, any
 * source; for PDU1 PGNs any destination), plus every error frame. */
static void canbus_filters(int fd)
{
	struct can_filter f[CANBUS_MAX_FILTERS];
	uint32_t pgns[CANBUS_MAX_FILTERS];
	can_err_mask_t errs = CAN_ERR_MASK;
	int n = candec_pgns(pgns, CANBUS_MAX_FILTERS);

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
static int canbus_socket(const char *ifname)
{
	struct sockaddr_can addr = {.can_family = AF_CAN};
	int size = CANBUS_RCVBUF, one = 1;
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
	canbus_filters(fd);
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
		cb->st.bus_state = "down";
		cb->retry_at_ms = now_ms + CANBUS_RETRY_MS;
		return -1;
	}
	if (cb->retry_at_ms >= 0)
		log_notice("can %s: %s open", cb->cfg.name, cb->cfg.interface);
	cb->st.up = 1;
	cb->st.bus_state = "ok";
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
	cb->dec.n_override = cfg->n_override;
	memcpy(cb->dec.override, cfg->override, sizeof(cfg->override));
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
	if (canbus_try_socket(cb, clock_real_ms()) == 0 && cfg->request)
		canbus_enable_requests(cb, cfg->address, cfg->claim_name, cfg->request_period_ms);
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

static void canbus_set_state(struct canbus *cb, const char *state)
{
	if (strcmp(cb->st.bus_state, state) == 0)
		return;
	log_notice("can %s: bus %s (was %s)", cb->cfg.name, state, cb->st.bus_state);
	cb->st.bus_state = state;
}

/* A controller error frame (linux/can/error.h): counted, and the bus state
 * it reports kept for status. */
static void canbus_error_frame(struct canbus *cb, const struct can_frame *f)
{
	cb->st.err_frames++;
	if (f->can_id & CAN_ERR_BUSOFF)
		canbus_set_state(cb, "bus-off");
	else if (f->can_id & CAN_ERR_RESTARTED)
		canbus_set_state(cb, "ok");
	else if ((f->can_id & CAN_ERR_CRTL) &&
		 (f->data[1] & (CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE)))
		canbus_set_state(cb, "error-passive");
	else if ((f->can_id & CAN_ERR_CRTL) &&
		 (f->data[1] & (CAN_ERR_CRTL_RX_WARNING | CAN_ERR_CRTL_TX_WARNING)))
		canbus_set_state(cb, "warning");
	else if ((f->can_id & CAN_ERR_CRTL) && (f->data[1] & CAN_ERR_CRTL_ACTIVE))
		canbus_set_state(cb, "ok");
}

/* The kernel's count of frames dropped for a full receive queue rides on
 * every frame once SO_RXQ_OVFL is on. */
static void canbus_cmsgs(struct canbus *cb, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		uint32_t drops;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&drops, CMSG_DATA(c), sizeof(drops));
		if (drops > cb->st.overflows)
			log_warnx("can %s: receive queue overflowed, %u frames lost so far",
				  cb->cfg.name, drops);
		cb->st.overflows = drops;
	}
}

static void canbus_down(struct canbus *cb)
{
	close(cb->fd);
	cb->fd = -1;
	cb->st.up = 0;
	cb->st.bus_state = "down";
	if (cb->cfg.interface[0])
		cb->retry_at_ms = clock_real_ms() + CANBUS_RETRY_MS;
}

/* One received record; 1 to go on, 0 when drained, -1 when the source went. */
static int canbus_read_one(struct canbus *cb)
{
	char ctl[CMSG_SPACE(sizeof(uint32_t)) * 2];
	struct can_frame f;
	struct iovec iov = {.iov_base = &f, .iov_len = sizeof(f)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(cb->fd, &mh, 0);

	if (n < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN)
			return 0;
		if (errno == ENETDOWN) {
			/* The interface went down: the socket stays and
			 * reads again once it is back up. */
			if (!cb->net_down++)
				canbus_set_state(cb, "down");
			return 0;
		}
		log_warn("can %s: read", cb->cfg.name);
		return -1;
	}
	if (n == 0) {
		/* The peer went away: without this the loop would spin. */
		log_warnx("can %s: end of input", cb->cfg.name);
		return -1;
	}
	if (cb->net_down) {
		cb->net_down = 0;
		canbus_set_state(cb, "ok");
	}
	canbus_cmsgs(cb, &mh);
	if ((size_t)n < sizeof(f) - sizeof(f.data) || f.can_dlc > 8) {
		cb->st.bad++;
		return 1;
	}
	if (f.can_id & CAN_ERR_FLAG) {
		canbus_error_frame(cb, &f);
		return 1;
	}
	if (!(f.can_id & CAN_EFF_FLAG) || (f.can_id & CAN_RTR_FLAG)) {
		cb->st.frames++;
		return 1;
	}
	canbus_frame(cb, f.can_id & CAN_EFF_MASK, f.data, f.can_dlc, clock_mono_ms());
	return 1;
}

void canbus_read(struct canbus *cb)
{
	int rc;

	while (cb->fd >= 0 && (rc = canbus_read_one(cb)) != 0) {
		if (rc < 0) {
			canbus_down(cb);
			return;
		}
	}
}

int64_t canbus_retry(struct canbus *cb, int64_t now_ms)
{
	if (cb->log || cb->fd >= 0 || cb->retry_at_ms < 0)
		return -1;
	if (now_ms >= cb->retry_at_ms)
		canbus_try_socket(cb, now_ms);
	return cb->retry_at_ms;
}

/* Parse one log line, candump or CANboat (told apart per line), into
 * cb->next / cb->next_cb.  CANDUMP_OK, CANDUMP_SKIP or a negative code with
 * its text in *why. */
static int canbus_parse(struct canbus *cb, const char *line, const char **why)
{
	int rc;

	cb->next_is_cb = canboat_looks_like(line);
	if (cb->next_is_cb) {
		rc = canboat_parse_line(line, &cb->next_cb);
		if (rc == CANBOAT_SKIP)
			return CANDUMP_SKIP;
		if (rc == CANBOAT_OK && !cb->next_cb.has_time)
			rc = CANBOAT_ETIME;
		*why = canboat_strerror(rc);
		cb->next.t_us = cb->next_cb.t_us;
		return rc < 0 ? rc : CANDUMP_OK;
	}
	rc = candump_parse_line(line, &cb->next);
	if (rc == CANDUMP_OK && !cb->next.has_time)
		rc = CANDUMP_ETIME;
	*why = candump_strerror(rc);
	return rc;
}

/* Read the next timed frame of the log into cb->next; 0, or -1 at the end. */
static int canbus_read_next(struct canbus *cb)
{
	char line[CANBUS_LOG_LINE];
	const char *why;
	int rc;

	while (fgets(line, sizeof(line), cb->log)) {
		cb->line++;
		line[strcspn(line, "\r\n")] = '\0';
		rc = canbus_parse(cb, line, &why);
		if (rc == CANDUMP_SKIP)
			continue;
		if (rc < 0) {
			cb->st.bad++;
			if (!cb->warned_bad++)
				log_warnx("%s:%lu: %s (further bad lines are only counted)",
					  cb->cfg.log, cb->line, why);
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

static void canbus_apply_next(struct canbus *cb)
{
	int64_t mono;

	cb->last_us = cb->next.t_us;
	clock_replay_advance(cb->next.t_us);
	if (cb->on_time)
		cb->on_time(cb->ctx);
	mono = clock_mono_ms();
	if (cb->next_is_cb) {
		const struct canboat_msg *m = &cb->next_cb;

		cb->st.frames++;
		cb->st.last_frame_mono_ms = mono;
		cb->sa[m->src].frames++;
		canbus_message(
		    cb, candec_message(&cb->dec, m->pgn, m->src, m->dst, m->data, m->len, &cb->msg),
		    mono);
	} else if (cb->next.extended && !cb->next.rtr) {
		canbus_frame(cb, cb->next.can_id, cb->next.data, cb->next.len, mono);
	} else {
		cb->st.frames++;
	}
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
				log_info("can %s: end of %s (%llu frames)", cb->cfg.name,
					 cb->cfg.log, (unsigned long long)cb->st.frames);
				return -1;
			}
			cb->have_next = 1;
			if (cb->st.frames == 0 && cb->real0_ms == 0) {
				cb->log0_us = cb->next.t_us;
				cb->real0_ms = real_ms;
			}
		}
		if (cb->cfg.speed > 0) {
			int64_t due =
			    cb->real0_ms + (int64_t)((double)(cb->next.t_us - cb->log0_us) /
						     1000.0 / cb->cfg.speed);
			if (due > real_ms)
				return due;
		} else if (budget-- == 0) {
			return real_ms;
		}
		cb->have_next = 0;
		canbus_apply_next(cb);
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

static json_t *canbus_sa_status(const struct canbus *cb)
{
	json_t *o = json_object();
	char key[8];

	for (int sa = 0; sa < 256; sa++) {
		const struct canbus_sa_stats *s = &cb->sa[sa];

		if (!s->frames)
			continue;
		snprintf(key, sizeof(key), "%d", sa);
		json_object_set_new(o, key,
				    json_pack("{s:I, s:I, s:I, s:I, s:I}", "frames",
					      (json_int_t)s->frames, "decoded",
					      (json_int_t)s->decoded, "not_available",
					      (json_int_t)s->na, "errors", (json_int_t)s->errors,
					      "unknown_pgn", (json_int_t)s->unknown));
	}
	return o;
}

static json_t *canbus_claim_status(const struct canbus *cb)
{
	static const char *const states[] = {"silent", "claiming", "held", "failed"};

	if (cb->claim == CLAIM_OFF)
		return json_pack("{s:s}", "state", "silent");
	return json_pack("{s:s, s:i, s:I}", "state", states[cb->claim], "address", cb->my_sa,
			 "requests", (json_int_t)cb->requests_sent);
}

json_t *canbus_status(const struct canbus *cb, int64_t now_ms)
{
	const struct j1939tp_counters *tp = candec_tp_counters(&cb->dec);
	const struct n2k_fp_stats *fp = candec_fp_stats(&cb->dec);
	const struct canbus_stats *s = &cb->st;

	return json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o,"
	    " s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I}, s:o, s:o}",
	    "type", "can", "state",
	    s->done ? "ended"
	    : s->up ? "up"
		    : "down",
	    "bus", s->bus_state, "frames", (json_int_t)s->frames, "decoded", (json_int_t)s->decoded,
	    "unknown_pgn", (json_int_t)s->unknown, "not_available", (json_int_t)s->na, "errors",
	    (json_int_t)s->errors, "bad", (json_int_t)s->bad, "filtered", (json_int_t)s->filtered,
	    "error_frames", (json_int_t)s->err_frames, "overflows", (json_int_t)s->overflows,
	    "last_frame_age_s",
	    s->last_frame_mono_ms < 0
		? json_null()
		: json_real((double)(now_ms - s->last_frame_mono_ms) / 1000.0),
	    "by_sa", canbus_sa_status(cb), "transport", "completed", (json_int_t)tp->completed,
	    "aborted", (json_int_t)tp->aborted, "timed_out", (json_int_t)tp->timed_out, "bad",
	    (json_int_t)tp->bad, "orphan", (json_int_t)tp->orphan, "fast_packet", "messages",
	    (json_int_t)fp->messages, "dropped",
	    (json_int_t)(fp->dropped_seq + fp->dropped_timeout + fp->dropped_restart +
			 fp->dropped_evicted + fp->dropped_short),
	    "engine", diag_status(&cb->diag), "transmit", canbus_claim_status(cb));
}
