/* seal: rows are hashed after their commit, not when made, because a row
 * may be restamped (store_restamp) until it is fetched or frozen; the sealer
 * reads each row back before the uplinks of the same loop turn fetch it, and
 * freezes it.  The chain head (range, running hash, cursor) is saved in the
 * meta table when a range begins (with the seal row that ends the last one,
 * so the chain never forks) and, through the store's commit hook, in every
 * transaction that takes rows out of the sealer's reach (deletes, sent
 * marks, the sent boundary): between those, a crash leaves an older head
 * whose rows after its cursor are all still there, and seal_recover folds
 * them again.  Not every commit writes the meta page (README "Durability
 * and flash"). */
#define _GNU_SOURCE /* memmem */
#include "gateway/seal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gateway/log.h"
#include "gateway/pages.h"

#define SEAL_BATCH	64
#define SEAL_BUF	(4 * REPORT_MAX_PAYLOAD)
#define SEAL_GONE_FIRST 256
#define SEAL_GONE_MAX	(1 << 20) /* evicted rows kept for one declaration, at most */

/* A row the store evicted unsent, until an evicted event declares it. */
struct seal_gone {
	uint64_t boot, seq;
	uint8_t hash[SEAL_HASH];
	int ok; /* hash made */
};

struct seal_hash {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

struct seal {
	struct store *store;
	struct report *report;
	struct signer *sg;
	struct seal_hash *h;
	char key[SEAL_KEY_ID];
	int every_rows;
	int64_t every_ms;
	uint64_t boot, first_seq; /* this start's boot and its first seq */
	/* the open range: rows from..last of boot r_boot, n of them (data of
	 * them not seals), hashed into acc; cursor: the last row read back */
	uint64_t r_boot, from, last, cursor;
	int64_t n, data, since_ms;
	uint8_t acc[SEAL_HASH];
	uint8_t prev[SEAL_HASH]; /* SM3 of the last seal's message */
	uint64_t made;
	int dirty;		/* the head differs from the saved one */
	int fresh;		/* a range began: save the head in this transaction */
	int owns_sg;		/* seal_open_keyed's signer: closed with the sealer */
	struct seal_gone *gone; /* evicted, not declared yet */
	size_t n_gone, cap_gone;
	uint64_t gone_lost;    /* more than SEAL_GONE_MAX: their hashes are lost */
	uint64_t fetched_upto; /* rows up to here are read: folded, or will be */
	int declaring;
	struct clock_now now; /* the last step's: evicted events are stamped so */
	struct store_row rows[SEAL_BATCH];
	char buf[SEAL_BUF];
};

struct seal_hash *seal_hash_new(void)
{
	struct seal_hash *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->md = EVP_MD_fetch(NULL, "SM3", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (!h->md || !h->ctx) {
		log_warnx("seal: no SM3 in this OpenSSL");
		seal_hash_free(h);
		return NULL;
	}
	return h;
}

void seal_hash_free(struct seal_hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

static int seal_sm3(struct seal_hash *h, const void *a, size_t na, const void *b, size_t nb,
		    uint8_t out[SEAL_HASH])
{
	unsigned int len = 0;

	if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 ||
	    (na && EVP_DigestUpdate(h->ctx, a, na) != 1) ||
	    (nb && EVP_DigestUpdate(h->ctx, b, nb) != 1) ||
	    EVP_DigestFinal_ex(h->ctx, out, &len) != 1 || len != SEAL_HASH)
		return -1;
	return 0;
}

int seal_fold_hash(struct seal_hash *h, uint8_t acc[SEAL_HASH], const uint8_t row_hash[SEAL_HASH])
{
	uint8_t in[SEAL_HASH];

	memcpy(in, acc, SEAL_HASH);
	return seal_sm3(h, in, SEAL_HASH, row_hash, SEAL_HASH, acc);
}

int seal_fold(struct seal_hash *h, uint8_t acc[SEAL_HASH], const char *row, size_t len)
{
	uint8_t d[SEAL_HASH];

	if (seal_sm3(h, row, len, NULL, 0, d) < 0)
		return -1;
	return seal_fold_hash(h, acc, d);
}

int seal_digest(struct seal_hash *h, const void *p, size_t n, uint8_t out[SEAL_HASH])
{
	return seal_sm3(h, p, n, NULL, 0, out);
}

void seal_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int seal_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int seal_unhex(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = seal_nibble(hex[2 * i]), b = seal_nibble(hex[2 * i + 1]);

		if (a < 0 || b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

int seal_key_id(struct seal_hash *h, const uint8_t xy[SIGNER_PUBKEY], char id[SEAL_KEY_ID])
{
	uint8_t d[SEAL_HASH];

	if (seal_digest(h, xy, SIGNER_PUBKEY, d) < 0)
		return -1;
	seal_hex(d, (SEAL_KEY_ID - 1) / 2, id);
	return 0;
}

int seal_message(char *buf, size_t size, const char *dev, const char *sid, int64_t sealed_boot,
		 int64_t from, int64_t to, const char *hash, const char *prev, const char *key)
{
	int n = snprintf(buf, size,
			 "emgw-seal/1\n%s\n%s\n%" PRId64 "\n%" PRId64 "\n%" PRId64 "\n%s\n%s\n%s",
			 dev, sid, sealed_boot, from, to, hash, prev, key);

	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* ---- the chain head in the store's meta table ---------------------------------------- */

static void seal_get(struct seal *s, const char *key, int64_t *v)
{
	if (store_meta_load(s->store, key, v) != 0)
		*v = 0;
}

static void seal_get_hash(struct seal *s, const char *key, uint8_t out[SEAL_HASH])
{
	char k[32];
	int64_t v;

	for (int i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "%s.%d", key, i);
		seal_get(s, k, &v);
		for (int b = 0; b < 8; b++)
			out[8 * i + b] = (uint8_t)((uint64_t)v >> (56 - 8 * b));
	}
}

static int seal_put_hash(struct seal *s, const char *key, const uint8_t in[SEAL_HASH])
{
	char k[32];
	int rc = 0;

	for (int i = 0; i < 4; i++) {
		uint64_t v = 0;

		for (int b = 0; b < 8; b++)
			v = v << 8 | in[8 * i + b];
		snprintf(k, sizeof(k), "%s.%d", key, i);
		rc |= store_meta_save(s->store, k, (int64_t)v);
	}
	return rc;
}

static int seal_save(struct seal *s)
{
	int rc = store_meta_save(s->store, "seal.boot", (int64_t)s->r_boot) |
		 store_meta_save(s->store, "seal.from", (int64_t)s->from) |
		 store_meta_save(s->store, "seal.last", (int64_t)s->last) |
		 store_meta_save(s->store, "seal.cursor", (int64_t)s->cursor) |
		 store_meta_save(s->store, "seal.n", s->n) |
		 store_meta_save(s->store, "seal.data", s->data) |
		 seal_put_hash(s, "seal.acc", s->acc) | seal_put_hash(s, "seal.prev", s->prev);

	s->dirty = 0;
	s->fresh = 0;
	return rc ? -1 : 0;
}

/* The store's commit hook: rows leave our reach, the head goes with them. */
static int seal_on_commit(void *ctx)
{
	struct seal *s = ctx;

	return s->dirty ? seal_save(s) : 0;
}

static void seal_range_reset(struct seal *s, uint64_t boot)
{
	s->r_boot = boot;
	s->from = s->last = 0;
	s->n = s->data = 0;
	s->since_ms = -1;
	memset(s->acc, 0, sizeof(s->acc));
	s->dirty = 1;
	s->fresh = 1;
}

static void seal_load(struct seal *s)
{
	int64_t v, boot = 0, from, last, cursor, n, data;

	if (store_meta_load(s->store, "seal.boot", &boot) != 0 || boot <= 0) {
		/* The first sealing start: rows older than it stay unsealed. */
		memset(s->prev, 0, sizeof(s->prev));
		s->cursor = s->first_seq - 1;
		seal_range_reset(s, s->boot);
		return;
	}
	seal_get(s, "seal.from", &from);
	seal_get(s, "seal.last", &last);
	seal_get(s, "seal.cursor", &cursor);
	seal_get(s, "seal.n", &n);
	seal_get(s, "seal.data", &data);
	seal_get_hash(s, "seal.acc", s->acc);
	seal_get_hash(s, "seal.prev", s->prev);
	s->r_boot = (uint64_t)boot;
	s->from = (uint64_t)from;
	s->last = (uint64_t)last;
	s->cursor = (uint64_t)cursor;
	s->n = n;
	s->data = data;
	s->since_ms = -1;
	v = (int64_t)s->first_seq - 1;
	if (s->r_boot == s->boot && (int64_t)s->cursor < v)
		s->cursor = (uint64_t)v;
}

/* ---- sealing ------------------------------------------------------------------------- */

static int seal_is_seal(const struct store_row *r)
{
	return r->kind == STORE_EVENT && memmem(r->payload, r->len, ",\"type\":\"seal\",", 15);
}

int seal_row_is_proof(const char *payload, size_t len)
{
	return memmem(payload, len, ",\"type\":\"seal\",", 15) ||
	       memmem(payload, len, ",\"type\":\"evicted\",", 18);
}

static int seal_emit(struct seal *s, const struct clock_now *now)
{
	struct payload_event ev;
	char msg[SEAL_MSG_MAX], prev[SEAL_HEX];
	uint8_t r[SIGNER_PART], sg[SIGNER_PART], rs[2 * SIGNER_PART];
	int len;

	payload_event_init(&ev, PAYLOAD_EV_SEAL);
	ev.sealed_boot = (int64_t)s->r_boot;
	ev.sealed_from = (int64_t)s->from;
	ev.sealed_to = (int64_t)s->last;
	seal_hex(s->acc, SEAL_HASH, ev.seal_hash);
	seal_hex(s->prev, SEAL_HASH, prev);
	snprintf(ev.seal_prev, sizeof(ev.seal_prev), "%s", prev);
	snprintf(ev.seal_key, sizeof(ev.seal_key), "%s", s->key);
	snprintf(ev.seal_alg, sizeof(ev.seal_alg), "%s", signer_alg_name(s->sg->alg));
	len = seal_message(msg, sizeof(msg), s->report->dev, store_id(s->store), ev.sealed_boot,
			   ev.sealed_from, ev.sealed_to, ev.seal_hash, ev.seal_prev, ev.seal_key);
	if (len < 0 || s->sg->sign(s->sg, (const uint8_t *)msg, (size_t)len, r, sg) < 0)
		return -1;
	memcpy(rs, r, SIGNER_PART);
	memcpy(rs + SIGNER_PART, sg, SIGNER_PART);
	seal_hex(rs, sizeof(rs), ev.seal_sig);
	if (report_emit_event(s->report, &ev, now) == 0)
		return -1; /* the range stays open: the next step tries again */
	if (seal_digest(s->h, msg, (size_t)len, s->prev) < 0)
		return -1;
	s->made++;
	seal_range_reset(s, s->boot);
	return 1;
}

/* Fold one row into the open range.  A row the fetch skipped just before
 * it (it does not unpack) has no text to fold: what is folded for it is no
 * row's, so no export proves the range. */
static int seal_take(struct seal *s, const struct store_row *row, int64_t mono_ms)
{
	static const char unreadable[] = "unreadable";

	if (row->skipped && seal_fold(s->h, s->acc, unreadable, sizeof(unreadable) - 1) < 0)
		return -1;
	if (seal_fold(s->h, s->acc, row->payload, row->len) < 0)
		return -1;
	if (s->n == 0) {
		s->from = row->seq;
		s->since_ms = mono_ms;
	}
	s->last = row->seq;
	s->n++;
	if (!seal_is_seal(row))
		s->data++;
	s->dirty = 1;
	return 0;
}

/* Rows of the boot a crash cut short (below this start's first seq): the
 * range it left open is completed and sealed first. */
static int seal_recover(struct seal *s, const struct clock_now *now)
{
	int n, made = 0;

	while ((n = store_fetch(s->store, SEAL_READER, s->cursor, s->rows, SEAL_BATCH, s->buf,
				sizeof(s->buf))) > 0) {
		int i;

		for (i = 0; i < n && s->rows[i].seq < s->first_seq; i++) {
			if (seal_take(s, &s->rows[i], now->mono_ms) < 0)
				return -1;
			s->cursor = s->rows[i].seq;
		}
		if (i < n)
			break;
	}
	if (n < 0)
		return -1;
	if (s->data > 0) {
		log_notice("seal: boot %" PRIu64 " ended without a seal: rows %" PRIu64 "..%" PRIu64
			   " sealed now",
			   s->r_boot, s->from, s->last);
		if (seal_emit(s, now) < 0)
			return -1;
		made = 1;
	}
	seal_range_reset(s, s->boot);
	if (s->cursor < s->first_seq - 1)
		s->cursor = s->first_seq - 1;
	return made;
}

/* ---- rows evicted unsent ------------------------------------------------------------- */

static int seal_declare(struct seal *s, const struct clock_now *now);

/* The store's eviction hook: keep the row's boot, seq and hash; at the end
 * of the pass, declare them in the same transaction.  Whether the chain
 * needs a hash is told then: a row the sealer has read is folded (from the
 * batch it holds, if it went meanwhile), one it has not never will be. */
static void seal_on_evict(void *ctx, uint64_t seq, const char *payload, size_t len)
{
	struct seal *s = ctx;
	struct seal_gone *g;
	const char *b;

	if (seq == 0) {
		if (!s->declaring)
			seal_declare(s, &s->now); /* what fails goes with the next step */
		return;
	}
	b = payload ? strstr(payload, ",\"boot\":") : NULL;
	if (s->n_gone == s->cap_gone) {
		size_t cap = s->cap_gone ? 2 * s->cap_gone : SEAL_GONE_FIRST;

		if (cap > SEAL_GONE_MAX || !(g = realloc(s->gone, cap * sizeof(*g)))) {
			s->gone_lost++;
			return;
		}
		s->gone = g;
		s->cap_gone = cap;
	}
	g = &s->gone[s->n_gone];
	g->seq = seq;
	g->boot = b ? strtoull(b + 8, NULL, 10) : 0;
	/* A row that does not unpack has no hash to give: not proven. */
	g->ok = payload && seal_digest(s->h, payload, len, g->hash) == 0;
	s->n_gone++;
}

static int seal_gone_cmp(const void *a, const void *b)
{
	const struct seal_gone *x = a, *y = b;

	if (x->boot != y->boot)
		return x->boot < y->boot ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One evicted event: gone[a, b), one boot. */
static int seal_declare_one(struct seal *s, size_t a, size_t b, const struct clock_now *now)
{
	struct payload_event ev;
	size_t used = 0;

	payload_event_init(&ev, PAYLOAD_EV_EVICTED);
	ev.sealed_boot = (int64_t)s->gone[a].boot;
	ev.sealed_from = (int64_t)s->gone[a].seq;
	ev.sealed_to = (int64_t)s->gone[b - 1].seq;
	ev.evicted_n = (int64_t)(b - a);
	for (size_t i = a; i < b; i++) {
		/* Folded, or never will be: the rows after those read are gone. */
		int folded = s->gone[i].ok &&
			     (s->gone[i].seq <= s->cursor || s->gone[i].seq <= s->fetched_upto);
		char hex[SEAL_HEX];
		int n;

		seal_hex(s->gone[i].hash, SEAL_HASH, hex);
		n = snprintf(ev.evicted_rows + used, sizeof(ev.evicted_rows) - used,
			     "%s%" PRIu64 "%s%s", i > a ? "," : "", s->gone[i].seq,
			     folded ? "=" : "", folded ? hex : "");
		if (n < 0 || (size_t)n >= sizeof(ev.evicted_rows) - used)
			return -1; /* cannot be: PAYLOAD_EVICTED_MAX rows fit */
		used += (size_t)n;
	}
	return report_emit_event(s->report, &ev, now) == 0 ? -1 : 0;
}

/* The rows gone[0, n) as evicted events, one boot each,
 * PAYLOAD_EVICTED_MAX rows at most.  0 or -1 (the rest stays). */
static int seal_declare_round(struct seal *s, const struct clock_now *now)
{
	size_t a = 0, b, n = s->n_gone;
	int rc = 0;

	qsort(s->gone, n, sizeof(*s->gone), seal_gone_cmp);
	while (a < n) {
		for (b = a + 1;
		     b < n && b - a < PAYLOAD_EVICTED_MAX && s->gone[b].boot == s->gone[a].boot;
		     b++)
			;
		if (seal_declare_one(s, a, b, now) < 0) {
			rc = -1;
			break;
		}
		a = b;
	}
	/* What appending them evicted came after n: it stays for a round. */
	memmove(s->gone, s->gone + a, (s->n_gone - a) * sizeof(*s->gone));
	s->n_gone -= a;
	return rc;
}

/* Declare what the store evicted: evicted events, rows of the open range,
 * so a seal proves them, and the rows they name are proven by the hashes
 * they carry.  A few rounds (appending may evict more); the rest goes with
 * the next step. */
static int seal_declare(struct seal *s, const struct clock_now *now)
{
	int rc = 0;

	if (s->gone_lost) {
		log_warnx("seal: %" PRIu64 " evicted rows could not be declared", s->gone_lost);
		s->gone_lost = 0;
	}
	s->declaring = 1;
	for (int round = 0; rc == 0 && s->n_gone > 0 && round < 4; round++)
		rc = seal_declare_round(s, now);
	s->declaring = 0;
	return rc;
}

int seal_step(struct seal *s, const struct clock_now *now, int force)
{
	int n, made = 0;

	s->now = *now;
	if (seal_declare(s, now) < 0)
		return -1;
	if (s->r_boot != s->boot && (made = seal_recover(s, now)) < 0)
		return -1;
	/* Most loop turns commit nothing: no query then. */
	n = 0;
	while (store_committed_max(s->store) > s->cursor &&
	       (n = store_fetch(s->store, SEAL_READER, s->cursor, s->rows, SEAL_BATCH, s->buf,
				sizeof(s->buf))) > 0) {
		s->fetched_upto = s->rows[n - 1].seq;
		for (int i = 0; i < n; i++) {
			if (seal_take(s, &s->rows[i], now->mono_ms) < 0)
				return -1;
			s->cursor = s->rows[i].seq;
			if (s->n >= s->every_rows) {
				if (seal_emit(s, now) < 0)
					return -1;
				made++;
			}
		}
		store_freeze(s->store, s->cursor);
	}
	if (n < 0)
		return -1;
	/* A range of nothing but seals is not sealed on a timer: an idle box
	 * would seal its own seals for ever. */
	if (s->data > 0 && (force || now->mono_ms - s->since_ms >= s->every_ms)) {
		if (seal_emit(s, now) < 0)
			return -1;
		made++;
	}
	if (s->fresh && seal_save(s) < 0)
		return -1;
	return made;
}

struct seal *seal_open(struct store *store, struct report *report, struct signer *sg,
		       int every_rows, int64_t every_ms)
{
	/* buf holds a batch of the largest rows: small rows touch a page or two of it. */
	struct seal *s = pages_alloc(sizeof(*s));
	uint8_t xy[SIGNER_PUBKEY];

	if (!s) {
		log_warnx("seal: out of memory");
		return NULL;
	}
	s->store = store;
	s->report = report;
	s->sg = sg;
	s->every_rows = every_rows > 0 ? every_rows : SEAL_EVERY_ROWS;
	s->every_ms = every_ms > 0 ? every_ms : SEAL_EVERY_MS;
	s->boot = store_boot(store);
	s->first_seq = store_next_seq_peek(store);
	s->h = seal_hash_new();
	if (!s->h || sg->pubkey(sg, xy) < 0 || seal_key_id(s->h, xy, s->key) < 0) {
		seal_close(s);
		return NULL;
	}
	seal_load(s);
	clock_now(&s->now);
	store_on_evict(store, seal_on_evict, s);
	store_on_commit(store, seal_on_commit, s);
	return s;
}

const char *seal_key(const struct seal *s)
{
	return s ? s->key : "";
}

uint64_t seal_count(const struct seal *s)
{
	return s ? s->made : 0;
}

struct seal *seal_open_keyed(struct store *store, struct report *report, const char *state_dir,
			     const struct config_seal *cfg)
{
	enum signer_alg alg = cfg->ed25519 ? SIGNER_ED25519 : SIGNER_SM2;
	char path[PATH_MAX + 16];
	struct signer *sg;
	struct seal *s = NULL;

	snprintf(path, sizeof(path), "%s/%s", state_dir, SEAL_KEY_FILE);
	if (signer_soft_generate_alg(path, alg) == 1)
		log_notice("seal: new %s key %s", signer_alg_name(alg), path);
	sg = signer_soft_open_any(path, SEAL_SM2_ID);
	if (sg && sg->alg != alg)
		log_notice("seal: %s is an %s key: kept (algorithm = %s is for a new key)", path,
			   signer_alg_name(sg->alg), signer_alg_name(alg));
	if (sg)
		s = seal_open(store, report, sg, cfg->rows, cfg->interval_ms);
	if (!s) {
		log_warnx("seal: no seal key: rows are not sealed");
		if (sg)
			sg->close(sg);
		return NULL;
	}
	s->owns_sg = 1;
	log_info("seal: %s key %s", signer_alg_name(sg->alg), seal_key(s));
	return s;
}

void seal_close(struct seal *s)
{
	if (!s)
		return;
	if (s->n_gone)
		log_warnx("seal: %zu evicted rows not declared at the close", s->n_gone);
	if (s->store && s->h) { /* opened: the hooks are set */
		/* The head is in the store's last commit (after this, rows
		 * go below the sent boundary without it). */
		if (s->dirty && seal_save(s) < 0)
			log_warnx("seal: chain head not saved at the close");
		store_on_evict(s->store, NULL, NULL);
		store_on_commit(s->store, NULL, NULL);
	}
	if (s->owns_sg)
		s->sg->close(s->sg);
	seal_hash_free(s->h);
	free(s->gone);
	pages_free(s, sizeof(*s));
}
