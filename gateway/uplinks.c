/* uplinks: the set of uplink back-ends.
 *
 * A back-end is one file with an ops table (uplink.h) and one line in
 * uplinks_table below: its bit, its config section, its status key come with
 * it.  The store's acknowledgement mask is the set of bits in force: a row
 * is deleted once every back-end in force has it.  A reload that turns a
 * back-end on adds its bit before it opens (its first acks count); one that
 * turns a back-end off closes it, then drops its bit, and the rows every
 * remaining back-end had already acknowledged go at once.
 */
#include "gateway/uplinks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/fileout.h"
#include "gateway/log.h"
#include "gateway/mqtt.h"
#include "gateway/platform.h"

static const struct uplink_ops *const uplinks_table[] = {
    &mqtt_uplink,
    &platform_uplink,
    &fileout_uplink,
};

#define UPLINKS_N ((int)(sizeof(uplinks_table) / sizeof(uplinks_table[0])))

struct uplinks {
	struct uplink_env env;
	void *u[UPLINKS_N]; /* the back-end in force, or NULL */
	struct uplink_command cmd;
};

unsigned uplinks_mask(const struct config *cfg)
{
	unsigned mask = 0;

	for (int i = 0; i < UPLINKS_N; i++)
		if (uplinks_table[i]->enabled(cfg))
			mask |= 1u << uplinks_table[i]->bit;
	return mask ? mask : 1u << uplinks_table[0]->bit;
}

static int uplinks_open_one(struct uplinks *s, int i, const struct config *cfg)
{
	s->u[i] = uplinks_table[i]->open(cfg, &s->env);
	return s->u[i] ? 0 : -1;
}

static void uplinks_close_one(struct uplinks *s, int i)
{
	struct clock_now now;

	if (!s->u[i])
		return;
	clock_now(&now);
	uplinks_table[i]->close(s->u[i], &now);
	s->u[i] = NULL;
}

struct uplinks *uplinks_open(const struct config *cfg, const struct uplink_env *env)
{
	struct uplinks *s = calloc(1, sizeof(*s));

	_Static_assert(UPLINKS_N <= UPLINKS_MAX, "UPLINKS_MAX is too small");
	if (!s) {
		log_warn("uplinks");
		return NULL;
	}
	s->env = *env;
	for (int i = 0; i < UPLINKS_N; i++)
		if (uplinks_table[i]->enabled(cfg) && uplinks_open_one(s, i, cfg) < 0) {
			uplinks_close(s);
			return NULL;
		}
	return s;
}

void uplinks_close(struct uplinks *s)
{
	if (!s)
		return;
	for (int i = 0; i < UPLINKS_N; i++)
		uplinks_close_one(s, i);
	free(s);
}

int uplinks_count(const struct uplinks *s)
{
	int n = 0;

	for (int i = 0; s && i < UPLINKS_N; i++)
		n += s->u[i] != NULL;
	return n;
}

int uplinks_fd(const struct uplinks *s, int i, short *events)
{
	const struct uplink_ops *o = i >= 0 && i < UPLINKS_N ? uplinks_table[i] : NULL;

	*events = 0;
	if (!s || !o || !s->u[i] || !o->fd)
		return -1;
	*events = o->events ? o->events(s->u[i]) : 0;
	return o->fd(s->u[i]);
}

void uplinks_ready(struct uplinks *s, int i, short revents)
{
	struct clock_now now;

	if (!s || i < 0 || i >= UPLINKS_N || !s->u[i] || !uplinks_table[i]->io)
		return;
	clock_now(&now);
	uplinks_table[i]->io(s->u[i], revents, &now);
}

void uplinks_process(struct uplinks *s, int64_t real_ms, int final, int drain)
{
	struct uplink_tick t = {.real_ms = real_ms, .final = final, .drain = drain};

	clock_now(&t.now);
	for (int i = 0; s && i < UPLINKS_N; i++)
		if (s->u[i])
			uplinks_table[i]->process(s->u[i], &t);
}

int64_t uplinks_deadline(const struct uplinks *s)
{
	int64_t d = -1;

	for (int i = 0; s && i < UPLINKS_N; i++) {
		int64_t e;

		if (!s->u[i])
			continue;
		e = uplinks_table[i]->deadline(s->u[i]);
		if (e >= 0 && (d < 0 || e < d))
			d = e;
	}
	return d;
}

void uplinks_status(const struct uplinks *s, json_t *st, const struct store_stats *ss,
		    int64_t now_wall_ms)
{
	for (int i = 0; i < UPLINKS_N; i++) {
		const struct uplink_ops *o = uplinks_table[i];

		json_object_set_new(st, o->status_key,
				    s && s->u[i] ? o->status(s->u[i], ss, now_wall_ms)
						 : json_pack("{s:b}", "enabled", 0));
	}
}

void uplinks_set_status(struct uplinks *s, const char *json)
{
	for (int i = 0; s && i < UPLINKS_N; i++)
		if (s->u[i] && uplinks_table[i]->set_status)
			uplinks_table[i]->set_status(s->u[i], json);
}

void uplinks_commands(struct uplinks *s, const struct command_hooks *h)
{
	char id[COMMAND_ID_MAX + 1], why[128];
	char *answer;

	for (int i = 0; s && i < UPLINKS_N; i++) {
		const struct uplink_ops *o = uplinks_table[i];

		if (!s->u[i] || !o->next_command || !o->answer)
			continue;
		while (o->next_command(s->u[i], &s->cmd)) {
			const char *text = s->cmd.large ? s->cmd.large : s->cmd.payload;

			if (s->cmd.refuse[0])
				answer = command_refuse(s->cmd.name, text, s->cmd.len,
							s->cmd.full_len, id, s->cmd.refuse);
			else
				answer = command_run(h, s->cmd.name, text, s->cmd.len,
						     s->cmd.full_len, id);
			free(s->cmd.large);
			s->cmd.large = NULL;
			if (answer && o->answer(s->u[i], id, answer, why, sizeof(why)) < 0)
				log_info("command %s: answer not sent (%s: %s)", s->cmd.name,
					 o->name, why);
			free(answer);
		}
	}
}

int uplinks_reload(struct uplinks *s, const struct config *old, const struct config *fresh)
{
	int reopen[UPLINKS_N] = {0}, failed = 0;

	for (int i = 0; i < UPLINKS_N; i++) {
		const struct uplink_ops *o = uplinks_table[i];
		int on = o->enabled(fresh);

		if (s->u[i] && (!on || o->reconfigure(s->u[i], old, fresh))) {
			if (!on)
				log_notice("reload: [%s] off", o->name);
			uplinks_close_one(s, i);
			reopen[i] = on;
		} else if (!s->u[i] && on) {
			log_notice("reload: [%s] on", o->name);
			reopen[i] = 1;
		}
	}
	store_set_mask(s->env.store, uplinks_mask(fresh));
	for (int i = 0; i < UPLINKS_N; i++)
		if (reopen[i] && uplinks_open_one(s, i, fresh) < 0) {
			log_warnx("reload: the %s uplink did not open", uplinks_table[i]->name);
			failed++;
		}
	return failed;
}
