/* command: remote commands from the server (arriving through the uplink):
 * checks a request, runs it through the daemon's hooks, and words the
 * answer.  Owns only the command table; changes nothing itself but the log
 * level, and never runs a shell or a program. */
#ifndef EMGW_COMMAND_H
#define EMGW_COMMAND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/remote.h"
#include "gateway/store.h"

#define COMMAND_ID_MAX	   48	       /* characters of a request id */
#define COMMAND_INVALID_ID "invalid"   /* answer topic level when the id is unusable */
#define COMMAND_ANSWER_MAX (32 * 1024) /* bytes of a get-log or poll-once answer, at most */
#define COMMAND_LOG_LINES  200	       /* get-log: lines asked for, at most */
#define COMMAND_BULK_PER_S 2	       /* get-log and poll-once a second, at most */

struct command_limit;

/* What the daemon lends the commands. */
struct command_hooks {
	void *ctx;
	json_t *(*status)(void *ctx);		     /* the status object, new reference */
	const struct config *(*config)(void *ctx);   /* the configuration in force */
	int (*set_period)(void *ctx, int period_ms); /* 0, or -1 (nothing changed) */
	uint64_t (*snapshot)(void *ctx);	     /* seq of a record made now, or 0 */
	uint64_t *answer_errors; /* answers that could not be built (NULL: not counted) */
	struct remote *remote;	 /* set-config, confirm-config (NULL: refused) */
	/* poll-once: {"devices": [...]} as fieldbus_latest words them, a new
	 * reference (NULL: unavailable). */
	json_t *(*modbus)(void *ctx);
	/* The budget of the commands with large answers (get-log, poll-once),
	 * besides the uplink's (NULL: none). */
	struct command_limit *bulk;
	struct store *store; /* read by get-events (NULL: not available) */
};

#define COMMAND_EVENTS_MAX   64	   /* events in a get-events answer, at most */
#define COMMAND_EVENTS_BYTES 49152 /* and bytes of them (an answer under 64 KiB) */

/* A per-second budget of commands (a token bucket with a second's burst):
 * a burst beyond it is answered "rate limited" instead of being run, so a
 * flood of commands costs the loop little and never starves telemetry. */
struct command_limit {
	const char *what; /* in its log lines: "commands" unless set after init */
	int per_s;
	double tokens;
	int64_t at_ms;
	uint64_t refused;   /* commands refused by the limit, in all */
	int limiting;	    /* refusing now (logged once a burst) */
	int64_t refused_ms; /* when the last was refused */
};

/* A budget of per_s commands a second. */
void command_limit_init(struct command_limit *l, int per_s);
/* May one more command run at now_ms (monotonic)?  1, or 0 (counted). */
int command_limit_take(struct command_limit *l, int64_t now_ms);
/* A command refused before it reached the budget (a full queue): counted. */
void command_limit_count_refused(struct command_limit *l);
/* Commands refused in all. */
uint64_t command_limit_refused(const struct command_limit *l);

/*
 * Run the request payload (len bytes; full_len as received, more than len
 * when it was cut off) for command name.  Writes the answer topic's last
 * level into id (COMMAND_ID_MAX + 1 bytes: the request's id, or
 * COMMAND_INVALID_ID) and returns the answer JSON text, which the caller
 * frees: {"id":..,"ok":true,"result":..} or {"id":..,"ok":false,"error":".."}
 * (with "detail":.. where a refusal has more to say, as set-config's errors).
 * A malformed or unknown request changes nothing.  An answer that cannot be
 * built is an error answer, counted in h->answer_errors.  NULL only when out
 * of memory.
 */
char *command_run(const struct command_hooks *h, const char *name, const char *payload, size_t len,
		  size_t full_len, char *id);

/* The answer refusing the request without running it, with reason as its
 * error; id as for command_run.  NULL only when out of memory. */
char *command_refuse(const char *name, const char *payload, size_t len, size_t full_len, char *id,
		     const char *reason);

#endif
