/* remote: configuration pushed from afar (the set-config and confirm-config
 * commands): the operator's signature and the replay guard, the apply with
 * a durable pending state, and the rollback when no proof comes.  Owns
 * <state_dir>/remote-pending and remote-nonces and the files it replaces;
 * reloads nothing itself: the daemon reloads when remote_reload_due says so. */
#ifndef EMGW_REMOTE_H
#define EMGW_REMOTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "protocols/payload.h"

#define REMOTE_SKEW_S	 300 /* a signed command's ts may be this far from our clock */
#define REMOTE_NONCES	 256 /* nonces remembered within the skew window, at most */
#define REMOTE_HEX	 65  /* a sha256 in hex, with the NUL */
#define REMOTE_ERRORS	 20  /* configuration errors quoted in an answer, at most */
#define REMOTE_MSG_MAGIC "emgw-command-v1" /* first line of every signed message */

struct remote;

/* The remote configuration of the daemon running cfg (kept as a pointer:
 * the daemon changes it in place on reload).  Reads the operator key and
 * the nonces and any pending state a previous run left (a pending
 * configuration gets what is left of its window, from now_mono_ms).
 * Rollbacks are recorded through event.  NULL when out of memory. */
struct remote *remote_open(const struct config *cfg, payload_event_fn *event, void *event_ctx,
			   int64_t now_wall_ms, int64_t now_mono_ms);
/* Free (the pending state stays on disk). */
void remote_close(struct remote *r);
/* The configuration in cfg was (re)loaded: read the operator key again. */
void remote_reconfigure(struct remote *r);

/*
 * Check a signed request of command cmd (its keys ts, nonce, payload, sig):
 * the operator key, the clock skew, the nonce not seen before, the
 * signature over REMOTE_MSG_MAGIC "\n" dev "\n" cmd "\n" ts "\n" nonce "\n"
 * payload.  The nonce is then remembered durably.  Returns the payload
 * parsed (a JSON object, new reference), or NULL with the reason in err.
 */
json_t *remote_verify(struct remote *r, const char *cmd, json_t *req, int64_t now_wall_ms,
		      char *err, size_t errlen);

/* set-config: check the payload's text exactly as -n does, write it in
 * place of the running file (the old one kept as <file>.previous), record
 * the pending state and ask for a reload.  0 with *result, or -1 with err
 * (and *result the details, when there are: the configuration's errors). */
int remote_set_config(struct remote *r, json_t *req, int64_t now_wall_ms, int64_t now_mono_ms,
		      json_t **result, char *err, size_t errlen);
/* confirm-config: the pending configuration (the payload's hash) stays.
 * 0 with *result, or -1 with err. */
int remote_confirm(struct remote *r, json_t *req, int64_t now_wall_ms, json_t **result, char *err,
		   size_t errlen);

/* Must the daemon reload now (a configuration applied or taken back)?  A
 * pending one whose window has passed at now_mono_ms is taken back first. */
int remote_reload_due(struct remote *r, int64_t now_mono_ms);
/* The daemon reloaded: ok 0 when the reload failed (a pending
 * configuration is then taken back, and another reload is due). */
void remote_reloaded(struct remote *r, int ok);
/* The real monotonic ms at which a pending window ends, or -1. */
int64_t remote_deadline(const struct remote *r);
/* {"hash":..,"pending":null|{"old","new","confirm_within_s"}}: new reference. */
json_t *remote_status(const struct remote *r, int64_t now_mono_ms);

/* At start, when the configuration file at path does not load (errors
 * of them) and it is a pushed one still waiting for its confirmation: the
 * previous file goes back in its place, and the pending state says why (the
 * next remote_open raises the config-rollback event).  0 when it did (load
 * path again), -1 when there is nothing to take back. */
int remote_rescue(const char *path, int errors);

/* The system's wall clock, ms (a replay's clock is the log's): signed
 * commands' ts and the pending window are judged against it. */
int64_t remote_wall_ms(void);
/* The sha256 of a file's bytes in hex.  0 or -1 (errno set). */
int remote_file_sha256(const char *path, char hex[REMOTE_HEX]);

#endif
