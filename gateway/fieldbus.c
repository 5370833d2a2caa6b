/* fieldbus: Modbus buses, one thread each.
 *
 * A bus thread polls its devices, each on its own grid of `interval`; the
 * device due first goes first.  A poll cycle reads the device's plan block
 * by block.  A timeout ends the cycle at once, so a silent device costs its
 * bus one timeout per cycle; after two failed cycles in a row it is "not
 * responding" and is tried again only after a back-off that doubles (with
 * jitter, capped) at every failed attempt: one timeout per back-off step.
 * An illegal-address exception makes the plan split the block (mbplan
 * learns); the cycle goes on with the new plan at the same block.  A point
 * refused even alone is left out and tried again after refused_retry,
 * doubling to refused_retry_max: a device that refused it while booting
 * gives it back.  The main thread raises `point-lost` for it meanwhile.
 *
 * What the thread learns goes to the main thread through a bounded ring
 * (values) and a one-slot mailbox per device (counters), both under one
 * mutex, and a write to the daemon's eventfd. */
#include "gateway/fieldbus.h"

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "gateway/backoff.h"
#include "gateway/log.h"
#include "protocols/mbplan.h"

#define FB_RING_CYCLES 4  /* full cycles of every device the ring holds */
#define FB_RING_MIN    64 /* queued values per bus, at least */
/* The thread's stack: resident use measured at 12-16 KiB; the margin is for
 * getaddrinfo's NSS modules at a TCP (re)connect and the log's 5 KiB of
 * buffers.  glibc's default would reserve 8 MiB of address space. */
#define FB_STACK	  (256 * 1024)
#define FB_BACKOFF_MIN_MS 1000	 /* first back-off step, unless interval is longer */
#define FB_FAILS_DOWN	  2	 /* failed cycles in a row that make "not responding" */
#define FB_EREFUSED	  (-100) /* point refused by the device even alone */
#define FB_EREAD	  (-101) /* point not read this cycle */

enum fb_outcome { FB_OK, FB_PARTIAL, FB_DEAD };

/* A bus's libmodbus context.  Used by one thread only. */
struct fb_link {
	struct config_bus cfg;
	modbus_t *mb;
	int connected;
};

/* A device as its bus thread sees it. */
struct fb_dev {
	char name[32];
	int unit;
	int interval_ms;
	int instance;
	int n_pt;
	struct mbpoint *pt;
	struct mbplan plan;
	int64_t next_due;
	int phase_ms; /* the grid: whole intervals of CLOCK_MONOTONIC, plus this */
	int lead_ms;  /* a cycle's time, the last time: polls start this early */
	int fails;
	unsigned rng;
	int retry_min_ms, retry_max_ms; /* refused points: first retry, cap */
	int *retry_ms;			/* per point: current wait, 0 while read */
	int64_t *retry_at;		/* per point: when to try it again */
	struct backoff backoff;
	struct fieldbus_stats st;
};

/* A decoded point on its way to the main thread. */
struct fb_note {
	uint16_t dev;
	uint16_t point;
	int rc; /* MBPOINT_OK, another MBPOINT_* code, or FB_EREFUSED */
	struct mbpoint_value v;
};

/* The main thread's copy of a point's last value. */
struct fb_value {
	int sig; /* canonical signal, or -1: a custom value */
	int ok;
	int rc; /* as in struct fb_note; FB_EREAD before the first read */
	int64_t mono_ms;
	struct mbpoint_value v;
	int64_t lost_ms; /* refused by the device since (point-lost open), or -1 */
};

/* The main thread's view of a device. */
struct fb_view {
	struct fieldbus_stats st;
	int64_t last_value_ms; /* -1: none yet */
	struct fb_value *val;  /* one per point */
};

/* Called for every point a cycle decodes (or cannot). */
typedef void fb_emit_fn(void *ctx, struct fb_dev *d, int point, int rc,
			const struct mbpoint_value *v, const uint16_t *raw, int width);

struct fieldbus {
	struct fb_link link;
	int source;
	int wake_fd;
	payload_event_fn *on_event; /* main thread: point-lost */
	void *event_ctx;
	int n_dev;
	struct fb_dev *dev;
	struct fb_view *view;
	pthread_t thread;
	int started;

	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t cond;
	int stop;
	struct fb_note *ring;
	unsigned ring_size; /* a power of two, so head and tail may wrap */
	unsigned head, tail;
	uint64_t dropped;
	struct fieldbus_stats *mail; /* latest counters per device */
	int *mail_new;
};

static int64_t fb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the link ------------------------------------------------------------ */

static int fb_link_open(struct fb_link *l, const struct config_bus *cfg)
{
	l->cfg = *cfg;
	l->connected = 0;
	if (cfg->type == CONFIG_BUS_TCP) {
		char port[16];

		snprintf(port, sizeof(port), "%d", cfg->port);
		l->mb = modbus_new_tcp_pi(cfg->host, port);
	} else {
		l->mb = modbus_new_rtu(cfg->device, cfg->baud, (char)cfg->parity, cfg->data_bits,
				       cfg->stop_bits);
	}
	if (!l->mb) {
		log_warnx("modbus bus %s: %s", cfg->name, modbus_strerror(errno));
		return -1;
	}
	modbus_set_response_timeout(l->mb, (uint32_t)cfg->response_timeout_ms / 1000,
				    (uint32_t)(cfg->response_timeout_ms % 1000) * 1000);
	modbus_set_byte_timeout(l->mb, (uint32_t)cfg->byte_timeout_ms / 1000,
				(uint32_t)(cfg->byte_timeout_ms % 1000) * 1000);
	return 0;
}

static void fb_link_drop(struct fb_link *l)
{
	if (l->connected)
		modbus_close(l->mb);
	l->connected = 0;
}

static void fb_link_free(struct fb_link *l)
{
	if (!l->mb)
		return;
	fb_link_drop(l);
	modbus_free(l->mb);
	l->mb = NULL;
}

/* Connect when not connected; err gets the reason on failure. */
static int fb_link_connect(struct fb_link *l, char *err, size_t len)
{
	if (l->connected)
		return 0;
	if (modbus_connect(l->mb) < 0) {
		snprintf(err, len, "connect: %s", modbus_strerror(errno));
		return -1;
	}
	/* RS-485 mode is the driver's business; a USB adapter or a pty
	 * refuses it and switches direction by itself. */
	if (l->cfg.type == CONFIG_BUS_RTU && l->cfg.rs485 &&
	    modbus_rtu_set_serial_mode(l->mb, MODBUS_RTU_RS485) < 0)
		log_info("modbus bus %s: %s: no RS-485 mode (%s); going on without it", l->cfg.name,
			 l->cfg.device, modbus_strerror(errno));
	l->connected = 1;
	return 0;
}

/* One read transaction into w (bits as 0/1 words); -1 with errno. */
static int fb_read(struct fb_link *l, const struct mbplan_block *b, uint16_t *w)
{
	uint8_t bits[MBPLAN_MAX_BITS];
	int rc;

	switch (b->table) {
	case MBPOINT_COIL:
		rc = modbus_read_bits(l->mb, b->start, b->count, bits);
		break;
	case MBPOINT_DISCRETE:
		rc = modbus_read_input_bits(l->mb, b->start, b->count, bits);
		break;
	case MBPOINT_INPUT:
		return modbus_read_input_registers(l->mb, b->start, b->count, w) < 0 ? -1 : 0;
	default:
		return modbus_read_registers(l->mb, b->start, b->count, w) < 0 ? -1 : 0;
	}
	if (rc < 0)
		return -1;
	for (int i = 0; i < b->count; i++)
		w[i] = bits[i];
	return 0;
}

/* ---- one poll cycle (bus thread, or --poll-once) ---------------------------- */

static int fb_dev_init(struct fb_dev *d, const struct config *cfg, int i)
{
	const struct config_mbdev *m = &cfg->mbdev[i];
	const struct config_profile *pr = &cfg->profile[m->profile];

	snprintf(d->name, sizeof(d->name), "%s", m->name);
	d->unit = m->unit;
	d->interval_ms = m->interval_ms;
	d->instance = m->instance;
	d->n_pt = pr->n;
	d->pt = calloc((size_t)pr->n, sizeof(*d->pt));
	d->retry_ms = calloc((size_t)pr->n, sizeof(*d->retry_ms));
	d->retry_at = calloc((size_t)pr->n, sizeof(*d->retry_at));
	if (!d->pt || !d->retry_ms || !d->retry_at)
		return -1;
	d->retry_min_ms = cfg->bus[m->bus].refused_retry_ms;
	d->retry_max_ms = cfg->bus[m->bus].refused_retry_max_ms;
	if (d->retry_max_ms < d->retry_min_ms)
		d->retry_max_ms = d->retry_min_ms;
	memcpy(d->pt, &cfg->point[pr->first], (size_t)pr->n * sizeof(*d->pt));
	mbplan_init(&d->plan, cfg->bus[m->bus].max_gap);
	for (int k = 0; k < d->n_pt; k++)
		if (mbplan_add(&d->plan, d->pt[k].table, d->pt[k].address,
			       mbpoint_width(&d->pt[k])) != k)
			return -1; /* config_load checked every point */
	d->st.blocks = mbplan_build(&d->plan);
	d->st.responding = -1;
	/* The first step is one interval at least: a back-off shorter than
	 * the grid would not slow anything down. */
	backoff_init(&d->backoff,
		     d->interval_ms > FB_BACKOFF_MIN_MS ? d->interval_ms : FB_BACKOFF_MIN_MS,
		     cfg->bus[m->bus].backoff_max_ms, BACKOFF_EQUAL);
	return 0;
}

static void fb_emit_block(struct fb_dev *d, const struct mbplan_block *b, const uint16_t *w,
			  fb_emit_fn *emit, void *ctx)
{
	struct mbpoint_value v;

	for (int k = b->first; k < b->first + b->n; k++) {
		int i = d->plan.order[k];
		const uint16_t *raw = w + (d->pt[i].address - b->start);
		int width = mbpoint_width(&d->pt[i]);
		int rc = mbpoint_decode(&d->pt[i], raw, (size_t)width, &v);

		if (d->retry_ms[i]) {
			log_notice("%s: point %s (%s %d) is read again", d->name, d->pt[i].name,
				   mbpoint_table_name(d->pt[i].table), d->pt[i].address);
			d->retry_ms[i] = 0;
		}
		emit(ctx, d, i, rc, &v, raw, width);
	}
}

static void fb_set_error(struct fb_dev *d, const char *what, int err)
{
	snprintf(d->st.last_error, sizeof(d->st.last_error), "%s%s", what, modbus_strerror(err));
}

/* Point i was refused alone: left out until its retry, the wait doubling at
 * every refusal.  Logged when it starts, not at every retry. */
static void fb_refused(struct fb_dev *d, int i, int err)
{
	int step = d->retry_ms[i] ? 2 * d->retry_ms[i] : d->retry_min_ms;

	if (step > d->retry_max_ms)
		step = d->retry_max_ms;
	if (!d->retry_ms[i])
		log_warnx("%s: point %s (%s %d): the device refuses it (%s); trying again in "
			  "%d s, then less and less often",
			  d->name, d->pt[i].name, mbpoint_table_name(d->pt[i].table),
			  d->pt[i].address, modbus_strerror(err), step / 1000);
	d->retry_ms[i] = step;
	d->retry_at[i] = fb_now_ms() + step;
}

/* An exception: illegal address or value makes the plan learn (the block is
 * split, or a point alone is dropped) and the same index is read again. */
static int fb_exception(struct fb_dev *d, int b, int err, fb_emit_fn *emit, void *ctx)
{
	int dropped;

	d->st.exceptions++;
	fb_set_error(d, "exception: ", err);
	if (err != EMBXILADD && err != EMBXILVAL)
		return b + 1;
	if (mbplan_exception(&d->plan, b, &dropped) != MBPLAN_OK)
		return b + 1;
	if (dropped >= 0) {
		fb_refused(d, dropped, err);
		emit(ctx, d, dropped, FB_EREFUSED, NULL, NULL, 0);
	}
	d->st.unreadable = mbplan_refused(&d->plan);
	d->st.blocks = d->plan.n_blocks;
	return b;
}

/* Refused points whose wait is over go back into the plan for this cycle. */
static void fb_retry_due(struct fb_dev *d, int64_t now)
{
	for (int i = 0; i < d->n_pt; i++)
		if (d->plan.items[i].bad && now >= d->retry_at[i] &&
		    mbplan_retry(&d->plan, i) == MBPLAN_OK)
			log_debug("%s: point %s: trying it again", d->name, d->pt[i].name);
	d->st.blocks = d->plan.n_blocks;
}

/* Read every block of d's plan.  FB_DEAD when the device (or the link)
 * did not answer: the cycle stops at the first timeout. */
static enum fb_outcome fb_cycle(struct fb_link *l, struct fb_dev *d, fb_emit_fn *emit, void *ctx)
{
	static _Thread_local uint16_t w[MBPLAN_MAX_BITS];
	enum fb_outcome out = FB_OK;
	int retried = 0, err;

	if (fb_link_connect(l, d->st.last_error, sizeof(d->st.last_error)) < 0) {
		d->st.other_errors++;
		return FB_DEAD;
	}
	modbus_set_slave(l->mb, d->unit);
	for (int b = 0; b < d->plan.n_blocks;) {
		if (l->cfg.frame_delay_ms > 0)
			usleep((useconds_t)l->cfg.frame_delay_ms * 1000);
		d->st.transactions++;
		if (fb_read(l, &d->plan.blocks[b], w) == 0) {
			fb_emit_block(d, &d->plan.blocks[b], w, emit, ctx);
			b++;
			continue;
		}
		err = errno;
		if (err >= EMBXILFUN && err <= EMBXGTAR) {
			b = fb_exception(d, b, err, emit, ctx);
			if (err != EMBXILADD && err != EMBXILVAL)
				out = FB_PARTIAL;
			continue;
		}
		if (err == ETIMEDOUT) {
			d->st.timeouts++;
			fb_set_error(d, "", err);
			modbus_flush(l->mb); /* a late answer must not meet the next request */
			return FB_DEAD;
		}
		if (err == EMBBADCRC || err == EMBBADDATA || err == EMBBADSLAVE ||
		    err == EMBMDATA) {
			if (err == EMBBADCRC)
				d->st.crc_errors++;
			else
				d->st.other_errors++;
			fb_set_error(d, "", err);
			modbus_flush(l->mb);
			out = FB_PARTIAL;
			b++;
			continue;
		}
		/* The connection broke (a TCP peer closed it): reconnect once,
		 * at once, since the device may well be there. */
		d->st.other_errors++;
		fb_set_error(d, "", err);
		fb_link_drop(l);
		if (retried++ || fb_link_connect(l, d->st.last_error, sizeof(d->st.last_error)) < 0)
			return FB_DEAD;
		modbus_set_slave(l->mb, d->unit);
	}
	return out;
}

/* ---- the bus thread -------------------------------------------------------- */

static void fb_wake(struct fieldbus *fb)
{
	uint64_t one = 1;

	if (write(fb->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* the loop wakes on its next deadline anyway */
}

/* fb_emit_fn of the thread: queue the value. */
static void fb_note(void *ctx, struct fb_dev *d, int point, int rc, const struct mbpoint_value *v,
		    const uint16_t *raw, int width)
{
	struct fieldbus *fb = ctx;
	struct fb_note *n;

	(void)raw;
	(void)width;
	pthread_mutex_lock(&fb->lock);
	if (fb->head - fb->tail >= fb->ring_size) {
		fb->dropped++;
	} else {
		n = &fb->ring[fb->head++ & (fb->ring_size - 1)];
		n->dev = (uint16_t)(d - fb->dev);
		n->point = (uint16_t)point;
		n->rc = rc;
		if (v)
			n->v = *v;
	}
	pthread_mutex_unlock(&fb->lock);
}

/* The point of d's grid nearest t.  The grid is on whole intervals of
 * CLOCK_MONOTONIC, as the main thread's sample ticks are on whole periods
 * (clock_grid_next), less the time the last cycle took: the values arrive
 * just before the tick, ride on its wake-up (one a second, not two) and are
 * as fresh in the record as they can be. */
static int64_t fb_grid_point(const struct fb_dev *d, int64_t t)
{
	int64_t off = d->phase_ms - d->lead_ms;

	return (t - off + d->interval_ms / 2) / d->interval_ms * d->interval_ms + off;
}

/* Count the polls due on d's grid up to now (those skipped while the bus
 * was busy too) and move the grid past now. */
static void fb_grid(struct fb_dev *d, int64_t now)
{
	int64_t missed = (now - d->next_due) / d->interval_ms;

	d->st.scheduled += (uint64_t)(1 + missed);
	d->next_due = fb_grid_point(d, d->next_due + (1 + missed) * d->interval_ms);
}

static void fb_after(struct fieldbus *fb, struct fb_dev *d, enum fb_outcome out, int64_t now)
{
	if (out == FB_DEAD) {
		if (++d->fails < FB_FAILS_DOWN)
			return; /* one lost answer is line noise: keep the grid */
		if (d->fails == FB_FAILS_DOWN)
			log_warnx("%s: not responding (%s, unit %d: %s)", d->name,
				  fb->link.cfg.name, d->unit, d->st.last_error);
		d->st.responding = 0;
		d->st.backoff_ms = backoff_next(&d->backoff, now);
		d->next_due = now + d->st.backoff_ms;
		return;
	}
	if (d->st.responding == 0) {
		log_notice("%s: responding again", d->name);
		d->next_due = now + d->interval_ms; /* a new grid */
	}
	d->st.responding = 1;
	d->st.backoff_ms = 0;
	backoff_reset(&d->backoff);
	d->fails = 0;
	if (out == FB_OK)
		d->st.ok++;
}

static void fb_poll(struct fieldbus *fb, struct fb_dev *d, int64_t now)
{
	enum fb_outcome out;
	int i = (int)(d - fb->dev);
	int64_t end;

	if (d->fails < FB_FAILS_DOWN)
		fb_grid(d, now);
	d->st.polls++;
	fb_retry_due(d, now);
	out = fb_cycle(&fb->link, d, fb_note, fb);
	d->st.unreadable = mbplan_refused(&d->plan);
	end = fb_now_ms();
	if (out != FB_DEAD)
		d->lead_ms = end - now < d->interval_ms / 2 ? (int)(end - now) : d->interval_ms / 2;
	fb_after(fb, d, out, end);
	pthread_mutex_lock(&fb->lock);
	fb->mail[i] = d->st;
	fb->mail_new[i] = 1;
	pthread_mutex_unlock(&fb->lock);
	fb_wake(fb);
}

static struct fb_dev *fb_next(struct fieldbus *fb)
{
	struct fb_dev *next = &fb->dev[0];

	for (int i = 1; i < fb->n_dev; i++)
		if (fb->dev[i].next_due < next->next_due)
			next = &fb->dev[i];
	return next;
}

static void *fb_thread(void *arg)
{
	struct fieldbus *fb = arg;
	struct timespec ts;

	/* named for ps and the benches' count of wake-ups by thread */
	prctl(PR_SET_NAME, "emgw-modbus");
	pthread_mutex_lock(&fb->lock);
	while (!fb->stop) {
		struct fb_dev *d = fb_next(fb);
		int64_t now = fb_now_ms();

		if (d->next_due > now) {
			ts.tv_sec = (time_t)(d->next_due / 1000);
			ts.tv_nsec = (long)(d->next_due % 1000) * 1000000;
			pthread_cond_timedwait(&fb->cond, &fb->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&fb->lock);
		fb_poll(fb, d, now);
		pthread_mutex_lock(&fb->lock);
	}
	pthread_mutex_unlock(&fb->lock);
	return NULL;
}

/* ---- the main thread's side -------------------------------------------------- */

/* The ring holds FB_RING_CYCLES full cycles of every device on the bus: the
 * main thread drains it at each wake-up, so more would only sit unused
 * (1024 slots for 5 points cost ~100 KB). */
static int fb_ring_alloc(struct fieldbus *fb)
{
	size_t need = FB_RING_MIN / FB_RING_CYCLES;
	size_t pts = 0;

	for (int i = 0; i < fb->n_dev; i++)
		pts += (size_t)fb->dev[i].n_pt;
	if (pts > need)
		need = pts;
	fb->ring_size = 1;
	while (fb->ring_size < need * FB_RING_CYCLES)
		fb->ring_size <<= 1;
	fb->ring = calloc(fb->ring_size, sizeof(*fb->ring));
	return fb->ring ? 0 : -1;
}

static int fb_alloc(struct fieldbus *fb, const struct config *cfg, int bus)
{
	int64_t now = fb_now_ms();

	for (int i = 0; i < cfg->n_mbdev; i++)
		if (cfg->mbdev[i].bus == bus)
			fb->n_dev++;
	fb->dev = calloc((size_t)fb->n_dev, sizeof(*fb->dev));
	fb->view = calloc((size_t)fb->n_dev, sizeof(*fb->view));
	fb->mail = calloc((size_t)fb->n_dev, sizeof(*fb->mail));
	fb->mail_new = calloc((size_t)fb->n_dev, sizeof(*fb->mail_new));
	if (!fb->dev || !fb->view || !fb->mail || !fb->mail_new)
		return -1;
	for (int i = 0, n = 0; i < cfg->n_mbdev; i++) {
		struct fb_dev *d = &fb->dev[n];
		struct fb_view *v = &fb->view[n];

		if (cfg->mbdev[i].bus != bus)
			continue;
		if (fb_dev_init(d, cfg, i) < 0)
			return -1;
		/* Devices start spread over the first interval, not in a burst,
		 * and stay so on their grids. */
		d->phase_ms = (int)((int64_t)n * d->interval_ms / fb->n_dev);
		d->next_due = now + d->phase_ms;
		v->st = d->st;
		v->last_value_ms = -1;
		v->val = calloc((size_t)d->n_pt, sizeof(*v->val));
		if (!v->val)
			return -1;
		for (int k = 0; k < d->n_pt; k++) {
			v->val[k].sig = sig_lookup(d->pt[k].name);
			v->val[k].rc = FB_EREAD;
			v->val[k].lost_ms = -1;
		}
		n++;
	}
	return fb_ring_alloc(fb);
}

static void fb_dev_free(struct fb_dev *d)
{
	free(d->pt);
	free(d->retry_ms);
	free(d->retry_at);
}

static void fb_free(struct fieldbus *fb)
{
	for (int i = 0; fb->dev && i < fb->n_dev; i++)
		fb_dev_free(&fb->dev[i]);
	for (int i = 0; fb->view && i < fb->n_dev; i++)
		free(fb->view[i].val);
	free(fb->dev);
	free(fb->view);
	free(fb->mail);
	free(fb->mail_new);
	free(fb->ring);
	fb_link_free(&fb->link);
	pthread_cond_destroy(&fb->cond);
	pthread_mutex_destroy(&fb->lock);
	free(fb);
}

static int fb_start(struct fieldbus *fb)
{
	pthread_attr_t attr;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	rc = pthread_attr_setstacksize(&attr, FB_STACK);
	if (rc == 0)
		rc = pthread_create(&fb->thread, &attr, fb_thread, fb);
	pthread_attr_destroy(&attr);
	return rc;
}

struct fieldbus *fieldbus_open(const struct config *cfg, int bus, int source, int wake_fd)
{
	struct fieldbus *fb = calloc(1, sizeof(*fb));
	pthread_condattr_t ca;

	if (!fb) {
		log_warn("modbus bus %s", cfg->bus[bus].name);
		return NULL;
	}
	fb->source = source;
	fb->wake_fd = wake_fd;
	pthread_mutex_init(&fb->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fb->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (fb_alloc(fb, cfg, bus) < 0 || fb->n_dev == 0) {
		log_warnx("modbus bus %s: no device to poll, or out of memory", cfg->bus[bus].name);
		goto out_free;
	}
	if (fb_link_open(&fb->link, &cfg->bus[bus]) < 0)
		goto out_free;
	if (fb_start(fb) != 0) {
		log_warnx("modbus bus %s: cannot start its thread", cfg->bus[bus].name);
		goto out_free;
	}
	fb->started = 1;
	log_info("modbus bus %s: %d device%s", cfg->bus[bus].name, fb->n_dev,
		 fb->n_dev == 1 ? "" : "s");
	return fb;
out_free:
	fb_free(fb);
	return NULL;
}

void fieldbus_close(struct fieldbus *fb)
{
	if (!fb)
		return;
	if (fb->started) {
		pthread_mutex_lock(&fb->lock);
		fb->stop = 1;
		pthread_cond_signal(&fb->cond);
		pthread_mutex_unlock(&fb->lock);
		pthread_join(fb->thread, NULL);
	}
	fb_free(fb);
}

/* point-lost start (the device refused the point) or end (read again). */
static void fb_point_event(struct fieldbus *fb, const struct fb_note *n, struct fb_value *val,
			   int64_t now)
{
	const struct fb_dev *d = &fb->dev[n->dev];
	const struct mbpoint *p = &d->pt[n->point];
	int start = n->rc == FB_EREFUSED;
	struct payload_event ev;

	if (start == (val->lost_ms >= 0))
		return;
	payload_event_init(&ev, PAYLOAD_EV_POINT_LOST);
	snprintf(ev.state, sizeof(ev.state), "%s", start ? "start" : "end");
	payload_strlcpy(ev.device, sizeof(ev.device), d->name);
	payload_strlcpy(ev.bus, sizeof(ev.bus), fb->link.cfg.name);
	payload_strlcpy(ev.point, sizeof(ev.point), p->name);
	payload_strlcpy(ev.table, sizeof(ev.table), mbpoint_table_name(p->table));
	ev.address = p->address;
	if (start)
		payload_strlcpy(ev.problem, sizeof(ev.problem), "refused by the device");
	else
		ev.lost_s = (double)(now - val->lost_ms) / 1000.0;
	val->lost_ms = start ? now : -1;
	if (fb->on_event)
		fb->on_event(fb->event_ctx, &ev);
}

static void fb_apply(struct fieldbus *fb, const struct fb_note *n, struct table *t, int64_t now)
{
	struct fb_view *view = &fb->view[n->dev];
	struct fb_value *val = &view->val[n->point];
	int inst = fb->dev[n->dev].instance;

	fb_point_event(fb, n, val, now);
	val->ok = n->rc == MBPOINT_OK;
	val->rc = n->rc;
	val->mono_ms = now;
	val->v = n->v;
	if (val->ok)
		view->last_value_ms = now;
	if (val->sig < 0)
		return;
	if (val->ok)
		table_set(t, (enum sig_id)val->sig, inst, n->v.value, now, fb->source);
	else
		table_mark(t, (enum sig_id)val->sig, inst, TABLE_ERROR, now, fb->source);
}

void fieldbus_process(struct fieldbus *fb, struct table *t, int64_t now_ms)
{
	struct fb_note batch[64];
	int n;

	do {
		n = 0;
		pthread_mutex_lock(&fb->lock);
		while (n < 64 && fb->tail != fb->head)
			batch[n++] = fb->ring[fb->tail++ & (fb->ring_size - 1)];
		for (int i = 0; i < fb->n_dev; i++) {
			if (fb->mail_new[i])
				fb->view[i].st = fb->mail[i];
			fb->mail_new[i] = 0;
		}
		pthread_mutex_unlock(&fb->lock);
		for (int i = 0; i < n; i++)
			fb_apply(fb, &batch[i], t, now_ms);
	} while (n == 64);
}

void fieldbus_record(const struct fieldbus *fb, struct payload_record *rec, int64_t now_ms,
		     int stale_ms)
{
	for (int i = 0; i < fb->n_dev; i++) {
		const struct fb_dev *d = &fb->dev[i];

		for (int k = 0; k < d->n_pt; k++) {
			const struct fb_value *val = &fb->view[i].val[k];

			if (val->sig >= 0 || !val->ok || now_ms - val->mono_ms > stale_ms)
				continue;
			/* JSON carries neither text that is not UTF-8 nor inf or
			 * nan: such a value is absent, as a stale one. */
			if (val->v.is_text ? !payload_utf8_valid(val->v.text, strlen(val->v.text))
					   : !isfinite(val->v.value))
				continue;
			payload_record_custom(rec, d->pt[k].name, d->instance,
					      val->v.is_text ? val->v.text : NULL,
					      val->v.is_text ? 0 : val->v.value);
		}
	}
}

static const char *fb_state(const struct fieldbus_stats *st)
{
	return st->responding < 0 ? "starting" : st->responding ? "responding" : "not responding";
}

void fieldbus_status(struct fieldbus *fb, json_t *obj, int64_t now_ms)
{
	uint64_t dropped;

	pthread_mutex_lock(&fb->lock);
	dropped = fb->dropped;
	pthread_mutex_unlock(&fb->lock);
	for (int i = 0; i < fb->n_dev; i++) {
		const struct fieldbus_stats *st = &fb->view[i].st;
		int64_t last = fb->view[i].last_value_ms;
		json_t *lost = json_array();

		for (int k = 0; k < fb->dev[i].n_pt; k++)
			if (fb->view[i].val[k].lost_ms >= 0)
				json_array_append_new(lost, json_string(fb->dev[i].pt[k].name));
		json_object_set_new(
		    obj, fb->dev[i].name,
		    json_pack(
			"{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:i, "
			"s:i, s:i, s:o, s:s, s:I, s:o}",
			"type", "modbus", "bus", fb->link.cfg.name, "unit", fb->dev[i].unit,
			"state", fb_state(st), "scheduled", (json_int_t)st->scheduled, "polls",
			(json_int_t)st->polls, "ok", (json_int_t)st->ok, "transactions",
			(json_int_t)st->transactions, "exceptions", (json_int_t)st->exceptions,
			"timeouts", (json_int_t)st->timeouts, "crc_errors",
			(json_int_t)st->crc_errors, "other_errors", (json_int_t)st->other_errors,
			"backoff_s", st->backoff_ms / 1000.0, "blocks", st->blocks, "points",
			fb->dev[i].n_pt, "unreadable", st->unreadable, "lost_points", lost,
			"last_error", st->last_error, "queue_dropped", (json_int_t)dropped,
			"last_value_age_s",
			last < 0 ? json_null() : json_real((double)(now_ms - last) / 1000.0)));
	}
}

void fieldbus_set_events(struct fieldbus *fb, payload_event_fn *on_event, void *ctx)
{
	fb->on_event = on_event;
	fb->event_ctx = ctx;
}

int fieldbus_devices(const struct fieldbus *fb)
{
	return fb->n_dev;
}

const char *fieldbus_device_name(const struct fieldbus *fb, int i)
{
	return fb->dev[i].name;
}

const char *fieldbus_bus_name(const struct fieldbus *fb)
{
	return fb->link.cfg.name;
}

int64_t fieldbus_device_age(const struct fieldbus *fb, int i, int64_t now_ms)
{
	int64_t last = fb->view[i].last_value_ms;

	return last < 0 ? -1 : now_ms - last;
}

/* ---- --poll-once -------------------------------------------------------------- */

/* A point as --poll-once and the poll-once command word it: where it is,
 * its raw registers (when raw is not NULL), its value (also one outside its
 * validity range) and unit, the error. */
static json_t *fb_point_json(const struct fb_dev *d, int point, int rc,
			     const struct mbpoint_value *v, const uint16_t *raw, int width)
{
	const struct mbpoint *p = &d->pt[point];
	json_t *line = json_pack("{s:s, s:s, s:s, s:i}", "device", d->name, "point", p->name,
				 "table", mbpoint_table_name(p->table), "address", p->address);

	if (raw) {
		json_t *regs = json_array();

		for (int i = 0; i < width; i++)
			json_array_append_new(regs, json_integer(raw[i]));
		json_object_set_new(line, "raw", regs);
	}

	if (rc == MBPOINT_OK || rc == MBPOINT_ERANGE)
		json_object_set_new(line, "value",
				    v->is_text ? json_string(v->text) : json_real(v->value));
	if (p->unit[0])
		json_object_set_new(line, "unit", json_string(p->unit));
	if (rc != MBPOINT_OK)
		json_object_set_new(line, "error",
				    json_string(rc == FB_EREFUSED ? "refused by the device"
						: rc == FB_EREAD  ? "not read yet"
								  : mbpoint_strerror(rc)));
	return line;
}

void fieldbus_latest(const struct fieldbus *fb, json_t *devices, int64_t now_ms)
{
	for (int i = 0; i < fb->n_dev; i++) {
		const struct fb_dev *d = &fb->dev[i];
		const struct fb_view *view = &fb->view[i];
		json_t *points = json_array();

		for (int k = 0; k < d->n_pt; k++) {
			const struct fb_value *val = &view->val[k];
			json_t *p = fb_point_json(d, k, val->rc, &val->v, NULL, 0);

			json_object_del(p, "device"); /* said once, by the device */
			json_object_set_new(p, "valid", json_boolean(val->rc == MBPOINT_OK));
			json_object_set_new(
			    p, "age_s",
			    val->rc == FB_EREAD
				? json_null()
				: json_real((double)(now_ms - val->mono_ms) / 1000.0));
			json_array_append_new(points, p);
		}
		json_array_append_new(
		    devices,
		    json_pack("{s:s, s:s, s:i, s:s, s:s, s:o, s:o}", "device", d->name, "bus",
			      fb->link.cfg.name, "unit", d->unit, "state", fb_state(&view->st),
			      "last_error", view->st.last_error, "last_value_age_s",
			      view->last_value_ms < 0
				  ? json_null()
				  : json_real((double)(now_ms - view->last_value_ms) / 1000.0),
			      "points", points));
	}
}

struct fb_once {
	FILE *out;
	int errors;
	char *done; /* per point of the device being read */
};

static void fb_once_print(struct fb_once *o, int point, json_t *line)
{
	/* 17 digits: what the device holds, to the last bit of the double */
	char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(17));

	if (text)
		fprintf(o->out, "%s\n", text);
	free(text);
	json_decref(line);
	o->done[point] = 1;
}

static void fb_once_emit(void *ctx, struct fb_dev *d, int point, int rc,
			 const struct mbpoint_value *v, const uint16_t *raw, int width)
{
	struct fb_once *o = ctx;
	json_t *line = fb_point_json(d, point, rc, v, raw, width);

	if (rc != MBPOINT_OK)
		o->errors++;
	fb_once_print(o, point, line);
}

static void fb_once_device(struct fb_link *l, struct fb_dev *d, struct fb_once *o)
{
	enum fb_outcome out;

	o->done = calloc((size_t)d->n_pt, 1);
	if (!o->done) {
		o->errors++;
		return;
	}
	out = fb_cycle(l, d, fb_once_emit, o);
	for (int k = 0; k < d->n_pt; k++) {
		if (o->done[k])
			continue;
		o->errors++;
		fb_once_print(o, k,
			      json_pack("{s:s, s:s, s:s, s:i, s:s}", "device", d->name, "point",
					d->pt[k].name, "table", mbpoint_table_name(d->pt[k].table),
					"address", d->pt[k].address, "error",
					d->st.last_error[0] ? d->st.last_error : "not read"));
	}
	if (out != FB_OK)
		o->errors++;
	free(o->done);
}

int fieldbus_poll_once(const struct config *cfg, FILE *out)
{
	struct fb_once o = {.out = out};

	for (int b = 0; b < cfg->n_bus; b++) {
		struct fb_link l = {0};

		if (fb_link_open(&l, &cfg->bus[b]) < 0) {
			o.errors++;
			continue;
		}
		for (int i = 0; i < cfg->n_mbdev; i++) {
			struct fb_dev *d;

			if (cfg->mbdev[i].bus != b)
				continue;
			d = calloc(1, sizeof(*d));
			if (!d || fb_dev_init(d, cfg, i) < 0) {
				o.errors++;
			} else {
				fb_once_device(&l, d, &o);
				fprintf(stderr, "%s: %llu transaction%s for %d points, %s\n",
					d->name, (unsigned long long)d->st.transactions,
					d->st.transactions == 1 ? "" : "s", d->n_pt,
					d->st.last_error[0] ? d->st.last_error : "all read");
			}
			if (d)
				fb_dev_free(d);
			free(d);
		}
		fb_link_free(&l);
	}
	fflush(out);
	return o.errors ? 1 : 0;
}

/* ---- --selftest ------------------------------------------------------------- */

static void fb_probe_emit(void *ctx, struct fb_dev *d, int point, int rc,
			  const struct mbpoint_value *v, const uint16_t *raw, int width)
{
	struct fieldbus_probe *p = ctx;

	(void)d, (void)point, (void)v, (void)raw, (void)width;
	if (rc == MBPOINT_OK)
		p->read++;
	else if (rc == MBPOINT_ERANGE)
		p->out_of_range++;
}

int fieldbus_probe(const struct config *cfg, int dev, struct fieldbus_probe *p)
{
	struct fb_link l = {0};
	struct fb_dev *d;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	if (fb_link_open(&l, &cfg->bus[cfg->mbdev[dev].bus]) < 0) {
		snprintf(p->st.last_error, sizeof(p->st.last_error), "cannot open the bus");
		goto out_free_dev;
	}
	if (fb_dev_init(d, cfg, dev) == 0) {
		p->points = d->n_pt;
		fb_cycle(&l, d, fb_probe_emit, p);
		p->st = d->st;
		rc = 0;
	}
	fb_dev_free(d);
	fb_link_free(&l);
out_free_dev:
	free(d);
	return rc;
}
