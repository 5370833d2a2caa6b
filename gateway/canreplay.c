/* canreplay: the log replay back-end of a CAN source (source.h): candump and
 * CANboat lines, read with the line reader of --decode (canfile.c), paced on
 * real time.  Owns its file; says when its next frame is due and applies it
 * when told, never runs anything of the daemon. */
#include <stdlib.h>
#include <string.h>

#include "gateway/canfile.h"
#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/source.h"
#include "protocols/canlog.h"

struct source {
	struct canbus *cb;
	struct canbus_stats *st;
	char name[32];
	char path[sizeof(((struct config_can *)0)->log)];
	double speed;
	int loop;
	FILE *fp;
	struct canfile file;
	struct canlog_line next; /* read, not yet applied */
	int have_next;
	int warned_bad;
	int64_t log0_us;      /* pacing: this log time ... */
	int64_t real0_ms;     /* ... is due at this real time */
	int paced;	      /* log0_us/real0_ms are set */
	int64_t prev_us;      /* the frame before next */
	int64_t first_raw_us; /* first time in the file, unshifted */
	int line_first;	      /* first_raw_us is set */
	int64_t last_us;      /* latest time applied */
	int64_t shift_us;     /* added to the file's times when looping */
};

static struct source *canreplay_open(const struct config_can *cfg, struct canbus *cb)
{
	struct source *s = calloc(1, sizeof(*s));

	if (!s) {
		log_warn("can %s", cfg->name);
		return NULL;
	}
	s->fp = fopen(cfg->log, "r");
	if (!s->fp) {
		log_warn("can %s: %s", cfg->name, cfg->log);
		free(s);
		return NULL;
	}
	s->cb = cb;
	s->st = canbus_counters(cb);
	snprintf(s->name, sizeof(s->name), "%s", cfg->name);
	snprintf(s->path, sizeof(s->path), "%s", cfg->log);
	s->speed = cfg->speed;
	s->loop = cfg->loop;
	canfile_init(&s->file, s->fp);
	s->st->up = 1;
	return s;
}

static void canreplay_close(struct source *s)
{
	fclose(s->fp);
	free(s);
}

static int canreplay_fd(const struct source *s)
{
	(void)s;
	return -1;
}

static void canreplay_bad(struct source *s, const char *why)
{
	s->st->bad++;
	if (!s->warned_bad++)
		log_warnx("%s:%lu: %s (further bad lines are only counted)", s->path, s->file.line,
			  why);
}

/* Read the next timed line of the log into s->next; 0, or -1 at the end. */
static int canreplay_read(struct source *s)
{
	enum canfile_rc rc;

	while ((rc = canfile_next(&s->file)) > 0) {
		if (rc == CANFILE_LONG)
			canlog_too_long(&s->next);
		else
			canlog_parse(s->file.text, &s->next);
		if (s->next.kind == CANLOG_SKIP)
			continue;
		if (s->next.kind == CANLOG_BAD) {
			canreplay_bad(s, s->next.why);
			continue;
		}
		if (!s->next.has_time) {
			canreplay_bad(s, s->next.kind == CANLOG_N2K
					     ? canboat_strerror(CANBOAT_ETIME)
					     : candump_strerror(CANDUMP_ETIME));
			continue;
		}
		if (!s->line_first) {
			s->first_raw_us = s->next.t_us;
			s->line_first = 1;
		}
		s->next.t_us += s->shift_us;
		return 0;
	}
	if (rc < 0)
		log_warn("can %s: %s", s->name, s->path);
	else if (s->loop && s->st->frames > 0 && canfile_rewind(&s->file) == 0) {
		/* Loop: start the file again, its times shifted to follow on
		 * from the last frame, so time never runs backwards. */
		s->shift_us = s->last_us + 10000 - s->first_raw_us;
		return canreplay_read(s);
	}
	return -1;
}

/* Pacing restarts at a gap or a step back, which the clock does not follow
 * in real time either (clock.h). */
static void canreplay_pace(struct source *s, int64_t real_ms)
{
	int64_t d = s->next.t_us - s->prev_us;

	if (!s->paced || d > (int64_t)CLOCK_GAP_MS * 1000 || d < -(int64_t)CLOCK_JUMP_MS * 1000) {
		s->log0_us = s->next.t_us;
		s->real0_ms = real_ms;
		s->paced = 1;
	}
	s->prev_us = s->next.t_us;
}

static int canreplay_next(struct source *s, int64_t real_ms, struct canbus_next *n)
{
	if (s->st->done)
		return 0;
	if (!s->have_next) {
		if (canreplay_read(s) < 0) {
			s->st->done = 1;
			log_info("can %s: end of %s (%llu frames)", s->name, s->path,
				 (unsigned long long)s->st->frames);
			return 0;
		}
		s->have_next = 1;
		canreplay_pace(s, real_ms);
	}
	n->t_us = s->next.t_us;
	n->due_ms =
	    s->speed > 0
		? s->real0_ms + (int64_t)((double)(s->next.t_us - s->log0_us) / 1000.0 / s->speed)
		: real_ms;
	return 1;
}

static void canreplay_apply(struct source *s)
{
	const struct candump_frame *f = &s->next.frame;
	int64_t mono = clock_mono_ms();

	s->have_next = 0;
	s->last_us = s->next.t_us;
	if (s->next.kind == CANLOG_N2K)
		canbus_n2k(s->cb, &s->next.msg, mono);
	else if (f->extended && !f->rtr)
		canbus_frame(s->cb, f->can_id, f->data, f->len, mono);
	else
		s->st->frames++;
}

const struct source_ops canreplay_ops = {
    .open = canreplay_open,
    .close = canreplay_close,
    .fd = canreplay_fd,
    .next = canreplay_next,
    .apply = canreplay_apply,
};
