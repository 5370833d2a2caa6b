/* remote: a pushed configuration is checked whole before anything changes;
 * then the order on disk is: the new text beside the file (fsync), the old
 * file linked as <file>.previous, the pending state (fsync), the rename over
 * the file (fsync the directory).  A kill at any point leaves the old or the
 * new file whole, and a pending state that says which: the next start
 * forgets a state whose new file never arrived and otherwise goes on
 * waiting for the confirmation, rolling back when it does not come. */
#include "gateway/remote.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gateway/log.h"
#include "gateway/pages.h"
#include "gateway/signer.h"
#include "gateway/zones.h"

#define REMOTE_PENDING	 "remote-pending"
#define REMOTE_NONCE	 "remote-nonces"
#define REMOTE_NONCE_MAX 64  /* characters of a nonce */
#define REMOTE_SIG_MAX	 256 /* bytes of a signature (SM2 DER: 72, Ed25519: 64) */
#define REMOTE_PATH	 (PATH_MAX + 16)

struct remote_nonce {
	int64_t ts; /* the command's, s */
	char nonce[REMOTE_NONCE_MAX + 1];
};

struct remote {
	const struct config *cfg; /* the daemon's, in force */
	payload_event_fn *event;
	void *event_ctx;
	struct signer_verifier *key; /* the operator key, or NULL */
	char running[REMOTE_HEX];    /* sha256 of the configuration file in force */
	char pending_path[REMOTE_PATH], nonce_path[REMOTE_PATH];

	int pending;	       /* a configuration waits for its confirmation */
	char target[PATH_MAX]; /* the file it replaced */
	char old_hash[REMOTE_HEX], new_hash[REMOTE_HEX];
	int64_t deadline_wall_ms, deadline_mono_ms;
	char failed[96]; /* the pushed file did not load at start (remote_rescue) */
	int reload;	 /* a reload is due */
	int rolled_back; /* ... and it is a rollback's */

	int n_nonces;
	struct remote_nonce nonces[REMOTE_NONCES];
};

int64_t remote_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- files ------------------------------------------------------------------ */

int remote_file_sha256(const char *path, char hex[REMOTE_HEX])
{
	unsigned char buf[8192], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	FILE *f = fopen(path, "rb");
	size_t n;
	int ok;

	if (!f)
		return -1;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		ok = EVP_DigestUpdate(ctx, buf, n) == 1;
	ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	fclose(f);
	if (!ok) {
		errno = EIO;
		return -1;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static void remote_text_sha256(const char *text, size_t len, char hex[REMOTE_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* The directory holding path, synced: a rename in it is then durable. */
static int remote_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* len bytes into path (created or truncated with mode), synced. */
static int remote_write_sync(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out_close;
		done += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto out_close;
	return close(fd);
out_close:
	close(fd);
	unlink(path);
	return -1;
}

/* Replace path with len bytes whole: a temporary file, synced, renamed. */
static int remote_replace(const char *path, const char *data, size_t len)
{
	char tmp[REMOTE_PATH];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (remote_write_sync(tmp, data, len, 0600) < 0)
		return -1;
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return remote_sync_dir(path);
}

/* ---- the operator key and signed commands ------------------------------------ */

void remote_reconfigure(struct remote *r)
{
	const char *file = r->cfg->mqtt.operator_key;

	signer_verifier_close(r->key);
	r->key = NULL;
	if (remote_file_sha256(r->cfg->file, r->running) < 0)
		snprintf(r->running, sizeof(r->running), "unknown");
	if (!file[0])
		return;
	r->key = signer_verifier_open(file);
	if (!r->key)
		log_warnx("remote: operator_key %s: set-config is refused", file);
}

/* Base64 to bytes; the length, or -1. */
static int remote_base64(const char *b64, unsigned char *out, size_t size)
{
	size_t len = strlen(b64);
	int n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > size)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	n -= (b64[len - 1] == '=') + (b64[len - 2] == '=');
	return n;
}

static int remote_nonce_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 8 || n > REMOTE_NONCE_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* Forget the nonces whose ts is outside the window now: a command carrying
 * them would be refused for its ts anyway. */
static void remote_nonces_prune(struct remote *r, int64_t now_s)
{
	int j = 0;

	for (int i = 0; i < r->n_nonces; i++)
		if (r->nonces[i].ts + REMOTE_SKEW_S >= now_s)
			r->nonces[j++] = r->nonces[i];
	r->n_nonces = j;
}

static int remote_nonce_seen(const struct remote *r, const char *nonce)
{
	for (int i = 0; i < r->n_nonces; i++)
		if (strcmp(r->nonces[i].nonce, nonce) == 0)
			return 1;
	return 0;
}

/* The nonces to disk, before the command acts: a restart does not forget
 * one that could still be replayed. */
static int remote_nonces_save(const struct remote *r)
{
	char buf[REMOTE_NONCES * (REMOTE_NONCE_MAX + 24)];
	size_t n = 0;

	for (int i = 0; i < r->n_nonces; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%" PRId64 " %s\n", r->nonces[i].ts,
				      r->nonces[i].nonce);
	return remote_replace(r->nonce_path, buf, n);
}

static void remote_nonces_load(struct remote *r)
{
	char line[REMOTE_NONCE_MAX + 40], *end, *nonce;
	FILE *f = fopen(r->nonce_path, "r");

	if (!f)
		return;
	while (r->n_nonces < REMOTE_NONCES && fgets(line, sizeof(line), f)) {
		struct remote_nonce *e = &r->nonces[r->n_nonces];

		line[strcspn(line, "\n")] = '\0';
		errno = 0;
		e->ts = strtoll(line, &end, 10);
		nonce = end + (*end == ' ');
		if (errno || end == line || *end != ' ' || !remote_nonce_valid(nonce))
			continue;
		snprintf(e->nonce, sizeof(e->nonce), "%s", nonce);
		r->n_nonces++;
	}
	fclose(f);
}

/* The signed message: the magic, the device, the command, ts, nonce, each on
 * a line, then the payload's bytes.  malloc'd; NULL when out of memory. */
static char *remote_message(const char *dev, const char *cmd, json_int_t ts, const char *nonce,
			    const char *payload, size_t *len)
{
	size_t plen = strlen(payload), size = plen + strlen(dev) + strlen(cmd) + 128;
	char *msg = malloc(size);
	int n;

	if (!msg)
		return NULL;
	n = snprintf(msg, size, "%s\n%s\n%s\n%" JSON_INTEGER_FORMAT "\n%s\n", REMOTE_MSG_MAGIC, dev,
		     cmd, ts, nonce);
	if (n < 0 || (size_t)n + plen >= size) {
		free(msg);
		return NULL;
	}
	memcpy(msg + n, payload, plen + 1);
	*len = (size_t)n + plen;
	return msg;
}

json_t *remote_verify(struct remote *r, const char *cmd, json_t *req, int64_t now_wall_ms,
		      char *err, size_t errlen)
{
	json_t *jts = json_object_get(req, "ts"), *payload;
	const char *nonce = json_string_value(json_object_get(req, "nonce"));
	const char *text = json_string_value(json_object_get(req, "payload"));
	const char *b64 = json_string_value(json_object_get(req, "sig"));
	int64_t now_s = now_wall_ms / 1000, off;
	unsigned char sig[REMOTE_SIG_MAX];
	size_t len;
	char *msg;
	int siglen, ok;

	if (!r->key) {
		snprintf(err, errlen,
			 "%s refused: no operator key on this device ([mqtt] operator_key)", cmd);
		return NULL;
	}
	if (!json_is_integer(jts) || !nonce || !text || !b64) {
		snprintf(err, errlen, "%s: a signed request (ts, nonce, payload, sig) is required",
			 cmd);
		return NULL;
	}
	if (!remote_nonce_valid(nonce)) {
		snprintf(err, errlen, "nonce: 8..%d characters of A-Z a-z 0-9 - _",
			 REMOTE_NONCE_MAX);
		return NULL;
	}
	off = json_integer_value(jts) - now_s;
	if (off > REMOTE_SKEW_S || off < -REMOTE_SKEW_S) {
		snprintf(err, errlen,
			 "ts: %" PRId64 " s from the device's clock (at most %d allowed)", off,
			 REMOTE_SKEW_S);
		return NULL;
	}
	remote_nonces_prune(r, now_s);
	if (remote_nonce_seen(r, nonce)) {
		snprintf(err, errlen, "nonce already used: a replay, refused");
		return NULL;
	}
	siglen = remote_base64(b64, sig, sizeof(sig));
	msg = remote_message(r->cfg->id, cmd, json_integer_value(jts), nonce, text, &len);
	/* SM2 with OpenSSL's default distinguishing id (none set: empty), as
	 * `openssl pkeyutl -sign -rawin -digest sm3` signs. */
	ok = siglen > 0 && msg &&
	     signer_verify_sig(r->key, "", (const uint8_t *)msg, len, sig, (size_t)siglen) == 1;
	free(msg);
	if (!ok) {
		snprintf(err, errlen, "signature: not the operator key's");
		return NULL;
	}
	if (r->n_nonces >= REMOTE_NONCES) {
		snprintf(err, errlen, "more than %d signed commands within %d s: refused",
			 REMOTE_NONCES, REMOTE_SKEW_S);
		return NULL;
	}
	r->nonces[r->n_nonces].ts = json_integer_value(jts);
	snprintf(r->nonces[r->n_nonces].nonce, sizeof(r->nonces[0].nonce), "%s", nonce);
	r->n_nonces++;
	if (remote_nonces_save(r) < 0) {
		log_warn("remote: %s", r->nonce_path);
		r->n_nonces--;
		snprintf(err, errlen, "the nonce cannot be recorded (state_dir): refused");
		return NULL;
	}
	payload = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(payload)) {
		json_decref(payload);
		snprintf(err, errlen, "payload: not a JSON object");
		return NULL;
	}
	return payload;
}

/* ---- the pending state --------------------------------------------------------- */

static int remote_pending_save(const struct remote *r)
{
	char buf[PATH_MAX + 256];
	int n;

	n = snprintf(buf, sizeof(buf), "target %s\nold %s\nnew %s\ndeadline_ms %" PRId64 "\n%s%s%s",
		     r->target, r->old_hash, r->new_hash, r->deadline_wall_ms,
		     r->failed[0] ? "failed " : "", r->failed, r->failed[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return remote_replace(r->pending_path, buf, (size_t)n);
}

static int remote_pending_clear(const struct remote *r)
{
	if (unlink(r->pending_path) < 0 && errno != ENOENT)
		return -1;
	return remote_sync_dir(r->pending_path);
}

static int remote_is_hex(const char *s)
{
	if (strlen(s) != REMOTE_HEX - 1)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return 0;
	return 1;
}

/* The state a previous run left; 0 when there is one, whole. */
static int remote_pending_load(struct remote *r)
{
	char line[PATH_MAX + 32], *v, *end;
	FILE *f = fopen(r->pending_path, "r");
	int got = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		v = strchr(line, ' ');
		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(line, "target") == 0 && v[0]) {
			snprintf(r->target, sizeof(r->target), "%s", v);
			got |= 1;
		} else if (strcmp(line, "old") == 0 && remote_is_hex(v)) {
			snprintf(r->old_hash, sizeof(r->old_hash), "%s", v);
			got |= 2;
		} else if (strcmp(line, "new") == 0 && remote_is_hex(v)) {
			snprintf(r->new_hash, sizeof(r->new_hash), "%s", v);
			got |= 4;
		} else if (strcmp(line, "deadline_ms") == 0) {
			errno = 0;
			r->deadline_wall_ms = strtoll(v, &end, 10);
			if (!errno && end != v && !*end)
				got |= 8;
		} else if (strcmp(line, "failed") == 0) {
			snprintf(r->failed, sizeof(r->failed), "%s", v);
		}
	}
	fclose(f);
	return got == 15 ? 0 : -1;
}

/* The config-rollback event of the pending configuration. */
static void remote_tell_rollback(struct remote *r, struct payload_event *ev)
{
	snprintf(ev->old_sha256, sizeof(ev->old_sha256), "%s", r->old_hash);
	snprintf(ev->new_sha256, sizeof(ev->new_sha256), "%s", r->new_hash);
	r->event(r->event_ctx, ev);
}

/* At start: what a previous run left half done. */
static void remote_pending_resume(struct remote *r, int64_t now_wall_ms, int64_t now_mono_ms)
{
	char now[REMOTE_HEX];
	int64_t left;

	if (access(r->pending_path, F_OK) < 0)
		return;
	if (remote_pending_load(r) < 0 || remote_file_sha256(r->target, now) < 0) {
		log_warnx("remote: %s: unreadable pending state: removed", r->pending_path);
		remote_pending_clear(r);
		return;
	}
	if (r->failed[0] && strcmp(now, r->old_hash) == 0) {
		struct payload_event ev;

		/* remote_rescue took it back before the daemon could start. */
		payload_event_init(&ev, PAYLOAD_EV_CONFIG_ROLLBACK);
		snprintf(ev.problem, sizeof(ev.problem), "%s", r->failed);
		remote_pending_clear(r);
		remote_tell_rollback(r, &ev);
		return;
	}
	if (strcmp(now, r->new_hash) != 0) {
		/* Stopped before the rename, or rolled back before the state
		 * was removed: the old file is in force. */
		log_notice("remote: %s: %s is not the pushed %.12s: nothing pending",
			   r->pending_path, r->target, r->new_hash);
		remote_pending_clear(r);
		return;
	}
	left = r->deadline_wall_ms - now_wall_ms;
	if (left < 0)
		left = 0;
	if (left > r->cfg->mqtt.confirm_window_ms)
		left = r->cfg->mqtt.confirm_window_ms; /* a wall clock set back */
	r->pending = 1;
	r->deadline_mono_ms = now_mono_ms + left;
	log_notice("remote: configuration %.12s (replacing %.12s) still waits for its"
		   " confirmation: rolled back in %" PRId64 " s unless confirmed",
		   r->new_hash, r->old_hash, left / 1000);
}

/* ---- apply, confirm, roll back ----------------------------------------------------- */

struct remote_errors {
	json_t *list;
	const char *file; /* the checked file: its errors are quoted as "line: text" */
	int n;
};

static void remote_collect(void *arg, const char *file, int line, const char *msg)
{
	struct remote_errors *e = arg;
	char buf[1200];

	if (e->n++ >= REMOTE_ERRORS)
		return;
	if (!file[0])
		snprintf(buf, sizeof(buf), "%s", msg);
	else if (strcmp(file, e->file) == 0)
		snprintf(buf, sizeof(buf), "%d: %s", line, msg);
	else if (line > 0)
		snprintf(buf, sizeof(buf), "%s:%d: %s", file, line, msg);
	else
		snprintf(buf, sizeof(buf), "%s: %s", file, msg);
	json_array_append_new(e->list, json_string(buf));
}

/* -n's checks of the text in path, standing for target: the whole
 * configuration, or the zones file. */
static void remote_check(const struct remote *r, const char *path, int zones,
			 struct remote_errors *e)
{
	char why[ZONES_ERR_MAX];
	struct config *c;

	if (zones) {
		struct config_zones z = r->cfg->zones;

		if ((size_t)snprintf(z.file, sizeof(z.file), "%s", path) >= sizeof(z.file))
			remote_collect(e, "", 0, "path too long");
		else if (zones_check(&z, why) < 0)
			remote_collect(e, "", 0, why);
		return;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		remote_collect(e, "", 0, "out of memory");
		return;
	}
	if (config_load_report(path, c, remote_collect, e) == 0 && zones_check(&c->zones, why) < 0)
		remote_collect(e, path, c->zones.file_line, why);
	free(c);
}

/* Which file the payload replaces: the configuration, or "zones". */
static const char *remote_target(const struct remote *r, json_t *payload, int *zones, char *err,
				 size_t errlen)
{
	json_t *file = json_object_get(payload, "file");

	*zones = 0;
	if (!file)
		return r->cfg->file;
	if (!json_is_string(file) || strcmp(json_string_value(file), "zones") != 0) {
		snprintf(err, errlen, "file: only \"zones\" (the [zones] file), or none");
		return NULL;
	}
	if (!r->cfg->zones.file[0]) {
		snprintf(err, errlen, "file: the configuration names no [zones] file");
		return NULL;
	}
	*zones = 1;
	return r->cfg->zones.file;
}

/* The checked text at path.new takes the place of path. */
static int remote_install(struct remote *r, const char *path, const char *fresh, char *err,
			  size_t errlen)
{
	char prev[REMOTE_PATH], tmp[REMOTE_PATH + 8];

	snprintf(prev, sizeof(prev), "%s.previous", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", prev);
	unlink(tmp);
	if (link(path, tmp) < 0 || rename(tmp, prev) < 0) {
		snprintf(err, errlen, "%s: cannot keep the old file: %s", prev, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (remote_pending_save(r) < 0) {
		snprintf(err, errlen, "%s: %s", r->pending_path, strerror(errno));
		return -1;
	}
	if (rename(fresh, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		remote_pending_clear(r);
		return -1;
	}
	/* In place now, pending recorded: a rename not yet durable is
	 * resolved by the next start as any other crash. */
	if (remote_sync_dir(path) < 0)
		log_warn("remote: %s: sync", path);
	return 0;
}

int remote_set_config(struct remote *r, json_t *req, int64_t now_wall_ms, int64_t now_mono_ms,
		      json_t **result, char *err, size_t errlen)
{
	json_t *payload = NULL;
	const char *text, *replaces, *path;
	char fresh[REMOTE_PATH], cur[REMOTE_HEX], sum[REMOTE_HEX];
	struct remote_errors e = {0};
	struct stat st;
	int zones, rc = -1;

	*result = NULL;
	if (r->pending) {
		snprintf(err, errlen, "configuration %.12s waits for its confirmation: refused",
			 r->new_hash);
		return -1;
	}
	payload = remote_verify(r, "set-config", req, now_wall_ms, err, errlen);
	if (!payload)
		return -1;
	text = json_string_value(json_object_get(payload, "text"));
	replaces = json_string_value(json_object_get(payload, "replaces"));
	if (!text || !replaces) {
		snprintf(err, errlen, "payload: \"text\" and \"replaces\" (a sha256) are required");
		goto out;
	}
	path = remote_target(r, payload, &zones, err, errlen);
	if (!path)
		goto out;
	if (remote_file_sha256(path, cur) < 0 || stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (strcmp(cur, replaces) != 0) {
		snprintf(err, errlen,
			 "replaces: not the hash of the file in force: nothing changed");
		*result = json_pack("{s:s}", "old", cur);
		goto out;
	}
	remote_text_sha256(text, strlen(text), sum);
	snprintf(fresh, sizeof(fresh), "%s.new", path);
	if (remote_write_sync(fresh, text, strlen(text), st.st_mode & 0777) < 0) {
		snprintf(err, errlen, "%s: %s", fresh, strerror(errno));
		goto out;
	}
	e.list = json_array();
	e.file = fresh;
	remote_check(r, fresh, zones, &e);
	if (e.n > 0) {
		unlink(fresh);
		snprintf(err, errlen, "%d error%s: nothing changed", e.n, e.n == 1 ? "" : "s");
		*result = json_pack("{s:s, s:s, s:O}", "old", cur, "new", sum, "errors", e.list);
		goto out;
	}
	snprintf(r->target, sizeof(r->target), "%s", path);
	snprintf(r->old_hash, sizeof(r->old_hash), "%s", cur);
	snprintf(r->new_hash, sizeof(r->new_hash), "%s", sum);
	r->deadline_wall_ms = now_wall_ms + r->cfg->mqtt.confirm_window_ms;
	if (remote_install(r, path, fresh, err, errlen) < 0) {
		unlink(fresh);
		goto out;
	}
	r->pending = 1;
	r->deadline_mono_ms = now_mono_ms + r->cfg->mqtt.confirm_window_ms;
	r->reload = 1;
	log_notice("remote: %s replaced (%.12s -> %.12s): reloading; rolled back unless"
		   " confirmed within %d s",
		   path, cur, sum, r->cfg->mqtt.confirm_window_ms / 1000);
	*result = json_pack("{s:s, s:s, s:i}", "old", cur, "new", sum, "confirm_within_s",
			    r->cfg->mqtt.confirm_window_ms / 1000);
	rc = 0;
out:
	json_decref(e.list);
	json_decref(payload);
	return rc;
}

int remote_confirm(struct remote *r, json_t *req, int64_t now_wall_ms, json_t **result, char *err,
		   size_t errlen)
{
	json_t *payload = remote_verify(r, "confirm-config", req, now_wall_ms, err, errlen);
	const char *hash;
	int rc = -1;

	*result = NULL;
	if (!payload)
		return -1;
	hash = json_string_value(json_object_get(payload, "hash"));
	if (!r->pending) {
		snprintf(err, errlen, "no configuration waits for a confirmation");
	} else if (!hash || strcmp(hash, r->new_hash) != 0) {
		snprintf(err, errlen, "hash: not the pending configuration's (%.12s)", r->new_hash);
	} else if (r->reload) {
		snprintf(err, errlen, "not reloaded yet: confirm again");
	} else if (remote_pending_clear(r) < 0) {
		snprintf(err, errlen, "%s: %s", r->pending_path, strerror(errno));
	} else {
		r->pending = 0;
		log_notice("remote: configuration %.12s confirmed", r->new_hash);
		*result = json_pack("{s:s, s:s, s:b}", "old", r->old_hash, "new", r->new_hash,
				    "confirmed", 1);
		rc = 0;
	}
	json_decref(payload);
	return rc;
}

/* Back to <target>.previous, the event said, a reload due. */
static void remote_rollback(struct remote *r, const char *reason)
{
	struct payload_event ev;
	char prev[REMOTE_PATH];

	snprintf(prev, sizeof(prev), "%s.previous", r->target);
	payload_event_init(&ev, PAYLOAD_EV_CONFIG_ROLLBACK);
	if (rename(prev, r->target) < 0) {
		/* Said in the event too: the server must know the push stays. */
		snprintf(ev.problem, sizeof(ev.problem),
			 "%s; the previous file cannot be restored: %s", reason, strerror(errno));
		log_warnx("remote: configuration %.12s: %s (%s)", r->new_hash, ev.problem, prev);
	} else {
		snprintf(ev.problem, sizeof(ev.problem), "%s", reason);
		if (remote_sync_dir(r->target) < 0)
			log_warn("remote: %s: sync", r->target);
		log_warnx("remote: configuration %.12s taken back (%s): %.12s in force again",
			  r->new_hash, reason, r->old_hash);
	}
	remote_pending_clear(r);
	r->pending = 0;
	r->reload = 1;
	r->rolled_back = 1;
	remote_tell_rollback(r, &ev);
}

int remote_reload_due(struct remote *r, int64_t now_mono_ms)
{
	char why[64];

	if (r->pending && !r->reload && now_mono_ms >= r->deadline_mono_ms) {
		snprintf(why, sizeof(why), "not confirmed within %d s",
			 r->cfg->mqtt.confirm_window_ms / 1000);
		remote_rollback(r, why);
	}
	return r->reload;
}

void remote_reloaded(struct remote *r, int ok)
{
	int was_rollback = r->rolled_back;

	r->reload = 0;
	r->rolled_back = 0;
	remote_reconfigure(r);
	if (ok)
		return;
	if (r->pending)
		remote_rollback(r, "the reload failed");
	else if (was_rollback)
		log_warnx("remote: the previous configuration did not reload either");
}

int64_t remote_deadline(const struct remote *r)
{
	return r->pending && !r->reload ? r->deadline_mono_ms : -1;
}

json_t *remote_status(const struct remote *r, int64_t now_mono_ms)
{
	int64_t left = r->deadline_mono_ms - now_mono_ms;

	if (!r->pending)
		return json_pack("{s:s, s:n}", "hash", r->running, "pending");
	return json_pack("{s:s, s:{s:s, s:s, s:I}}", "hash", r->running, "pending", "old",
			 r->old_hash, "new", r->new_hash, "confirm_within_s",
			 (json_int_t)(left > 0 ? (left + 999) / 1000 : 0));
}

struct remote *remote_open(const struct config *cfg, payload_event_fn *event, void *event_ctx,
			   int64_t now_wall_ms, int64_t now_mono_ms)
{
	/* Its nonce ring and paths (~33 KB) are mostly idle: their own pages. */
	struct remote *r = pages_alloc(sizeof(*r));
	char fresh[REMOTE_PATH];

	if (!r) {
		log_warn("remote");
		return NULL;
	}
	r->cfg = cfg;
	r->event = event;
	r->event_ctx = event_ctx;
	snprintf(r->pending_path, sizeof(r->pending_path), "%s/%s", cfg->state_dir, REMOTE_PENDING);
	snprintf(r->nonce_path, sizeof(r->nonce_path), "%s/%s", cfg->state_dir, REMOTE_NONCE);
	/* A text written but never renamed: a push stopped halfway. */
	snprintf(fresh, sizeof(fresh), "%s.new", cfg->file);
	unlink(fresh);
	remote_reconfigure(r);
	remote_nonces_load(r);
	remote_nonces_prune(r, now_wall_ms / 1000);
	remote_pending_resume(r, now_wall_ms, now_mono_ms);
	return r;
}

void remote_close(struct remote *r)
{
	if (!r)
		return;
	signer_verifier_close(r->key);
	pages_free(r, sizeof(*r));
}

/* Quiet: remote_rescue only asks whether the previous file loads. */
static void remote_ignore(void *arg, const char *file, int line, const char *msg)
{
	(void)arg, (void)file, (void)line, (void)msg;
}

int remote_rescue(const char *path, int errors)
{
	struct config *prev_cfg = calloc(1, sizeof(*prev_cfg));
	struct remote *r = calloc(1, sizeof(*r));
	char prev[REMOTE_PATH], now[REMOTE_HEX];
	int done = -1;

	snprintf(prev, sizeof(prev), "%s.previous", path);
	if (!prev_cfg || !r || access(prev, F_OK) < 0 ||
	    config_load_report(prev, prev_cfg, remote_ignore, NULL) != 0)
		goto out;
	/* Only a push still waiting for its confirmation is taken back: a file
	 * the operator edited is theirs to mend. */
	snprintf(r->pending_path, sizeof(r->pending_path), "%s/%s", prev_cfg->state_dir,
		 REMOTE_PENDING);
	if (remote_pending_load(r) < 0 || strcmp(r->target, path) != 0 ||
	    remote_file_sha256(path, now) < 0 || strcmp(now, r->new_hash) != 0)
		goto out;
	snprintf(r->failed, sizeof(r->failed), "did not load at start (%d error%s)", errors,
		 errors == 1 ? "" : "s");
	if (remote_pending_save(r) < 0 || rename(prev, path) < 0 || remote_sync_dir(path) < 0) {
		log_warn("remote: %s: cannot take back the pushed configuration", path);
		goto out;
	}
	log_warnx("remote: configuration %.12s %s: %.12s in force again", r->new_hash, r->failed,
		  r->old_hash);
	done = 0;
out:
	free(prev_cfg);
	free(r);
	return done;
}
