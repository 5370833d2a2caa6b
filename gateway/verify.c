/* verify: every row is kept with its exact bytes (a batch's records are cut
 * out of the message as they are, never re-encoded); the check sorts them by
 * device, store, boot and seq, then recomputes each seal's range hash and
 * chain link (gateway/seal.h defines both). */
#include "gateway/verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/log.h"
#include "gateway/seal.h"

struct verify_seal {
	int64_t sealed_boot, from, to;
	char hash[SEAL_HEX], prev[SEAL_HEX], key[SEAL_KEY_ID], sig[SEAL_SIG_HEX], alg[12];
	uint8_t digest[SEAL_HASH]; /* SM3 of its message: what the next seal names */
	int signed_ok;		   /* the signature holds under our key */
	int proven;		   /* and its range hash too */
};

struct verify_row {
	char dev[64], sid[40];
	int64_t boot, seq;
	char *bytes;
	size_t len;
	int covered; /* inside a proven seal's range */
	struct verify_seal *seal;
	/* a row an evicted event declares (no bytes): VERIFY_GONE_HASHED with
	 * the hash the chain folded, VERIFY_GONE_UNHASHED evicted before the
	 * sealer read it (in no range) */
	int gone;
	uint8_t hash[SEAL_HASH];
};

enum { VERIFY_GONE_HASHED = 1, VERIFY_GONE_UNHASHED };

struct verify {
	struct signer_verifier *keys[VERIFY_MAX_KEYS];
	char key_ids[VERIFY_MAX_KEYS][SEAL_KEY_ID];
	size_t n_keys;
	struct seal_hash *h;
	struct verify_row *rows;
	size_t n, cap;
	uint64_t bad_lines, ignored, problems;
	FILE *out;
	/* an export's first line (emgwd --export): the seq it starts at */
	char scope_dev[64], scope_sid[40];
	int64_t scope_from;
};

struct verify *verify_new(struct signer_verifier *const *keys, size_t n)
{
	struct verify *v = calloc(1, sizeof(*v));
	uint8_t xy[SIGNER_PUBKEY];

	if (!v)
		return NULL;
	v->h = seal_hash_new();
	if (!v->h || n == 0 || n > VERIFY_MAX_KEYS) {
		verify_free(v);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!keys[i] || signer_verifier_pubkey(keys[i], xy) < 0 ||
		    seal_key_id(v->h, xy, v->key_ids[i]) < 0) {
			verify_free(v);
			return NULL;
		}
		v->keys[i] = keys[i];
	}
	v->n_keys = n;
	return v;
}

void verify_free(struct verify *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->rows[i].bytes);
		free(v->rows[i].seal);
	}
	free(v->rows);
	seal_hash_free(v->h);
	free(v);
}

static int verify_str(json_t *o, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) >= size)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int verify_int(json_t *o, const char *key, int64_t *out)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j))
		return -1;
	*out = json_integer_value(j);
	return 0;
}

static struct verify_seal *verify_seal_parse(json_t *o)
{
	struct verify_seal *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (verify_int(o, "sealed_boot", &s->sealed_boot) < 0 ||
	    verify_int(o, "from", &s->from) < 0 || verify_int(o, "to", &s->to) < 0 ||
	    verify_str(o, "hash", s->hash, sizeof(s->hash)) < 0 ||
	    verify_str(o, "prev", s->prev, sizeof(s->prev)) < 0 ||
	    verify_str(o, "key", s->key, sizeof(s->key)) < 0 ||
	    verify_str(o, "signature", s->sig, sizeof(s->sig)) < 0) {
		free(s);
		return NULL;
	}
	if (!json_object_get(o, "alg"))
		memcpy(s->alg, "sm2", 4); /* seals made before they named it */
	else if (verify_str(o, "alg", s->alg, sizeof(s->alg)) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

static int verify_push(struct verify *v, const struct verify_row *r)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 1024;
		struct verify_row *n = realloc(v->rows, cap * sizeof(*n));

		if (!n)
			return -1;
		v->rows = n;
		v->cap = cap;
	}
	v->rows[v->n++] = *r;
	return 0;
}

/* The rows an evicted event declares, "SEQ=HASH" or "SEQ" each, as rows
 * without bytes of its device, store and evicted_boot. */
static int verify_gone(struct verify *v, json_t *o, const struct verify_row *hdr)
{
	const char *p = json_string_value(json_object_get(o, "hashes"));
	int64_t boot;

	if (!p || verify_int(o, "evicted_boot", &boot) < 0)
		return -1;
	while (*p) {
		struct verify_row r = {0};
		char *end;

		memcpy(r.dev, hdr->dev, sizeof(r.dev));
		memcpy(r.sid, hdr->sid, sizeof(r.sid));
		r.boot = boot;
		r.seq = strtoll(p, &end, 10);
		if (end == p)
			return -1;
		r.gone = VERIFY_GONE_UNHASHED;
		if (*end == '=') {
			char hex[SEAL_HEX];

			if (strlen(end + 1) < SEAL_HEX - 1)
				return -1;
			memcpy(hex, end + 1, SEAL_HEX - 1);
			hex[SEAL_HEX - 1] = '\0';
			if (seal_unhex(hex, r.hash, SEAL_HASH) < 0)
				return -1;
			r.gone = VERIFY_GONE_HASHED;
			end += SEAL_HEX;
		}
		if (*end != ',' && *end != '\0')
			return -1;
		p = *end ? end + 1 : end;
		if (verify_push(v, &r) < 0)
			return -1;
	}
	return 0;
}

/* One row: its exact bytes and the header fields the check needs. */
static int verify_row(struct verify *v, const char *p, size_t len)
{
	json_t *o = json_loadb(p, len, 0, NULL);
	struct verify_row r = {0};
	const char *type;

	if (json_is_object(o) && json_object_get(o, "export") && !json_object_get(o, "seq") &&
	    verify_int(o, "from_seq", &v->scope_from) == 0) {
		/* emgwd --export's first line: where the span starts */
		if (verify_str(o, "dev", v->scope_dev, sizeof(v->scope_dev)) < 0)
			v->scope_dev[0] = '\0';
		if (verify_str(o, "sid", v->scope_sid, sizeof(v->scope_sid)) < 0)
			v->scope_sid[0] = '\0';
		json_decref(o);
		return 0;
	}
	if (json_is_object(o) && !json_object_get(o, "seq")) {
		/* Status, a command answer: what `mosquitto_sub -v emgw/DEV/#` saves too. */
		json_decref(o);
		v->ignored++;
		return 0;
	}
	if (!json_is_object(o) || verify_str(o, "dev", r.dev, sizeof(r.dev)) < 0 ||
	    verify_int(o, "boot", &r.boot) < 0 || verify_int(o, "seq", &r.seq) < 0) {
		json_decref(o);
		return -1;
	}
	if (verify_str(o, "sid", r.sid, sizeof(r.sid)) < 0)
		r.sid[0] = '\0';
	type = json_string_value(json_object_get(o, "type"));
	if ((type && strcmp(type, "seal") == 0 && !(r.seal = verify_seal_parse(o))) ||
	    (type && strcmp(type, "evicted") == 0 && verify_gone(v, o, &r) < 0)) {
		json_decref(o);
		return -1;
	}
	json_decref(o);
	r.bytes = malloc(len + 1);
	if (!r.bytes)
		goto fail;
	memcpy(r.bytes, p, len);
	r.bytes[len] = '\0';
	r.len = len;
	if (verify_push(v, &r) < 0)
		goto fail;
	return 1;
fail:
	free(r.bytes);
	free(r.seal);
	log_warnx("verify: out of memory");
	return -1;
}

/* The end of the JSON object that opens at p[0] == '{', or NULL. */
static const char *verify_object_end(const char *p, const char *end)
{
	int depth = 0, in_str = 0;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"') {
			in_str = 1;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

/* A batch: each record's bytes exactly as the batch carries them. */
static int verify_batch(struct verify *v, const char *p, size_t len)
{
	static const char key[] = "\"records\":[";
	const char *end = p + len, *q = strstr(p, key);
	int n = 0;

	if (!q)
		return -1;
	for (q += sizeof(key) - 1; q < end && *q != ']';) {
		const char *e;

		if (*q == ',') {
			q++;
			continue;
		}
		if (*q != '{' || !(e = verify_object_end(q, end)) ||
		    verify_row(v, q, (size_t)(e - q)) < 0)
			return -1;
		n++;
		q = e;
	}
	return n;
}

/* A batch has "records" before any "seq" (a row has its seq in the header). */
static int verify_is_batch(const char *p)
{
	const char *rec = strstr(p, "\"records\":["), *seq = strstr(p, "\"seq\":");

	return *p == '{' && rec && (!seq || rec < seq);
}

int verify_line(struct verify *v, const char *line, size_t len)
{
	char *copy;
	const char *p;
	int n;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return 0;
	copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, line, len);
	copy[len] = '\0';
	p = copy;
	if (*p != '{') { /* "topic<TAB>payload" or "topic payload" */
		p = strpbrk(copy, "\t ");
		p = p ? p + 1 : copy + len;
	}
	len -= (size_t)(p - copy);
	if (len > 0 && verify_is_batch(p))
		n = verify_batch(v, p, len);
	else
		n = len > 0 ? verify_row(v, p, len) : -1;
	free(copy);
	if (n < 0)
		v->bad_lines++;
	return n;
}

/* ---- the check ----------------------------------------------------------------------- */

static int verify_cmp(const void *a, const void *b)
{
	const struct verify_row *x = a, *y = b;
	int c = strcmp(x->dev, y->dev);

	if (c == 0)
		c = strcmp(x->sid, y->sid);
	if (c == 0)
		c = x->boot < y->boot ? -1 : x->boot > y->boot;
	if (c == 0)
		c = x->seq < y->seq ? -1 : x->seq > y->seq;
	if (c == 0) /* a row before what an evicted event says of it */
		c = x->gone < y->gone ? -1 : x->gone > y->gone;
	return c;
}

/* The same row (device, store, boot, seq), whatever it holds. */
static int verify_same(const struct verify_row *x, const struct verify_row *y)
{
	return strcmp(x->dev, y->dev) == 0 && strcmp(x->sid, y->sid) == 0 && x->boot == y->boot &&
	       x->seq == y->seq;
}

static void verify_problem(struct verify *v, const struct verify_row *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verify_problem(struct verify *v, const struct verify_row *r, const char *fmt, ...)
{
	va_list ap;

	v->problems++;
	fprintf(v->out, "%s %s boot %" PRId64 ": ", r->dev, r->sid, r->boot);
	va_start(ap, fmt);
	vfprintf(v->out, fmt, ap);
	va_end(ap);
	fputc('\n', v->out);
}

/* Signature and key of one seal row. */
static void verify_seal_sig(struct verify *v, const struct verify_row *r)
{
	struct verify_seal *s = r->seal;
	char msg[SEAL_MSG_MAX];
	uint8_t rs[2 * SIGNER_PART];
	size_t k;
	int len = seal_message(msg, sizeof(msg), r->dev, r->sid, s->sealed_boot, s->from, s->to,
			       s->hash, s->prev, s->key);

	if (len < 0 || seal_digest(v->h, msg, (size_t)len, s->digest) < 0) {
		verify_problem(v, r, "seal at seq %" PRId64 ": unreadable", r->seq);
		return;
	}
	for (k = 0; k < v->n_keys && strcmp(s->key, v->key_ids[k]) != 0; k++)
		;
	if (k == v->n_keys) {
		verify_problem(v, r, "seal at seq %" PRId64 ": signed by key %s, not by key %s%s",
			       r->seq, s->key, v->key_ids[0],
			       v->n_keys > 1 ? " or the others" : "");
		return;
	}
	if (strcmp(s->alg, signer_alg_name(signer_verifier_alg(v->keys[k]))) != 0 ||
	    seal_unhex(s->sig, rs, sizeof(rs)) < 0 ||
	    signer_verify(v->keys[k], SEAL_SM2_ID, (const uint8_t *)msg, (size_t)len, rs,
			  rs + SIGNER_PART) != 1) {
		verify_problem(v, r, "seal at seq %" PRId64 ": bad signature", r->seq);
		return;
	}
	s->signed_ok = 1;
}

/* Rows [a, b) are one device and store, sorted; r the seal row. */
static void verify_seal_range(struct verify *v, struct verify_row *rows, size_t a, size_t b,
			      const struct verify_row *r)
{
	struct verify_seal *s = r->seal;
	uint8_t acc[SEAL_HASH] = {0};
	char hex[SEAL_HEX];
	int64_t expect = s->from, missing = -1;

	for (size_t i = a; i < b; i++) {
		struct verify_row *x = &rows[i];

		if (x->boot != s->sealed_boot || x->seq < s->from || x->seq > s->to)
			continue;
		if (x->seq != expect && missing < 0)
			missing = expect;
		expect = x->seq + 1;
		if (x->gone == VERIFY_GONE_HASHED)
			seal_fold_hash(v->h, acc, x->hash);
		else if (!x->gone)
			seal_fold(v->h, acc, x->bytes, x->len);
	}
	seal_hex(acc, SEAL_HASH, hex);
	if (strcmp(hex, s->hash) == 0) {
		s->proven = 1;
		for (size_t i = a; i < b; i++)
			if (rows[i].boot == s->sealed_boot && rows[i].seq >= s->from &&
			    rows[i].seq <= s->to)
				rows[i].covered = 1;
		return;
	}
	if (missing < 0 && expect <= s->to)
		missing = expect;
	if (missing >= 0)
		verify_problem(v, r,
			       "seal at seq %" PRId64 ": rows %" PRId64 "..%" PRId64
			       " of boot %" PRId64 ": row %" PRId64 " missing",
			       r->seq, s->from, s->to, s->sealed_boot, missing);
	else
		verify_problem(v, r,
			       "seal at seq %" PRId64 ": rows %" PRId64 "..%" PRId64
			       " of boot %" PRId64 ": changed (hash differs)",
			       r->seq, s->from, s->to, s->sealed_boot);
}

static int verify_seal_cmp(const void *a, const void *b)
{
	const struct verify_row *x = *(const struct verify_row *const *)a,
				*y = *(const struct verify_row *const *)b;

	if (x->seal->sealed_boot != y->seal->sealed_boot)
		return x->seal->sealed_boot < y->seal->sealed_boot ? -1 : 1;
	if (x->seal->from != y->seal->from)
		return x->seal->from < y->seal->from ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The chain: each signed seal names the one before it. */
static void verify_chain(struct verify *v, struct verify_row **seals, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		const struct verify_seal *p = seals[i - 1]->seal, *s = seals[i]->seal;
		char hex[SEAL_HEX];

		if (s->sealed_boot == p->sealed_boot && s->from <= p->to) {
			verify_problem(v, seals[i],
				       "seal at seq %" PRId64 ": rows %" PRId64 "..%" PRId64
				       " sealed again (a replayed seal; first at seq %" PRId64 ")",
				       seals[i]->seq, s->from, s->to, seals[i - 1]->seq);
			continue;
		}
		seal_hex(p->digest, SEAL_HASH, hex);
		if (strcmp(hex, s->prev) != 0)
			verify_problem(v, seals[i],
				       "seal at seq %" PRId64
				       ": chain break: it does not name the seal"
				       " at seq %" PRId64 " (a seal between them is missing)",
				       seals[i]->seq, seals[i - 1]->seq);
	}
}

/* One boot's summary and its rows outside every proven seal. */
static void verify_boot(struct verify *v, struct verify_row *rows, size_t a, size_t b)
{
	int64_t unsealed = 0, first_un = -1, gaps = 0, seals = 0, gone = 0;

	for (size_t i = a; i < b; i++) {
		if (i > a && rows[i].seq > rows[i - 1].seq + 1)
			gaps += rows[i].seq - rows[i - 1].seq - 1;
		if (rows[i].seal)
			seals++;
		if (rows[i].gone) {
			/* Proven by the evicted event that names it (a row). */
			gone++;
			continue;
		}
		/* A seal outside every range (the last of a run) proves itself. */
		if (!rows[i].covered && !(rows[i].seal && rows[i].seal->signed_ok)) {
			if (first_un < 0)
				first_un = rows[i].seq;
			unsealed++;
		}
	}
	fprintf(v->out,
		"%s %s boot %" PRId64 ": %zu rows (seq %" PRId64 "..%" PRId64 "), %" PRId64
		" seals, %" PRId64 " seq missing between them",
		rows[a].dev, rows[a].sid, rows[a].boot, (size_t)((int64_t)(b - a) - gone),
		rows[a].seq, rows[b - 1].seq, seals, gaps);
	if (gone)
		fprintf(v->out, ", %" PRId64 " evicted (declared)", gone);
	fputc('\n', v->out);
	if (unsealed)
		verify_problem(v, &rows[a],
			       "%" PRId64 " rows not proven by a seal (first seq %" PRId64 ")",
			       unsealed, first_un);
}

/* Rows [a, b): one device and store. */
static void verify_device(struct verify *v, struct verify_row *rows, size_t a, size_t b)
{
	struct verify_row **seals = calloc(b - a, sizeof(*seals));
	size_t n = 0;

	if (!seals) {
		v->problems++;
		return;
	}
	for (size_t i = a; i < b; i++)
		if (rows[i].seal) {
			verify_seal_sig(v, &rows[i]);
			if (rows[i].seal->signed_ok)
				seals[n++] = &rows[i];
		}
	qsort(seals, n, sizeof(*seals), verify_seal_cmp);
	verify_chain(v, seals, n);
	for (size_t i = 0; i < n; i++) {
		/* An export starts at a seal range: the seal before it is a row of
		 * that range (proven there), its own range is not in the file. */
		if (v->scope_from > 0 && seals[i]->seal->to < v->scope_from &&
		    strcmp(rows[a].dev, v->scope_dev) == 0 &&
		    strcmp(rows[a].sid, v->scope_sid) == 0) {
			fprintf(v->out,
				"%s %s: export from seq %" PRId64 ": the seal at seq %" PRId64
				" (rows %" PRId64 "..%" PRId64 ", before the export) proves only"
				" its signature and the chain\n",
				rows[a].dev, rows[a].sid, v->scope_from, seals[i]->seq,
				seals[i]->seal->from, seals[i]->seal->to);
			continue;
		}
		verify_seal_range(v, rows, a, b, seals[i]);
	}
	free(seals);
	for (size_t i = a, j; i < b; i = j) {
		for (j = i + 1; j < b && rows[j].boot == rows[i].boot; j++)
			;
		verify_boot(v, rows, i, j);
	}
}

/* Duplicates go (the first copy stays); a copy that differs is a problem. */
static void verify_dups(struct verify *v)
{
	size_t w = 0;
	uint64_t same = 0;

	for (size_t i = 0; i < v->n; i++) {
		struct verify_row *r = &v->rows[i];

		if (w > 0 && r->gone && verify_same(&v->rows[w - 1], r)) {
			/* Declared evicted and delivered too (sent, not acknowledged):
			 * the row stays; a hash that differs is a problem. */
			const struct verify_row *x = &v->rows[w - 1];
			uint8_t d[SEAL_HASH];

			if (r->gone == VERIFY_GONE_HASHED &&
			    (x->gone ? x->gone == VERIFY_GONE_HASHED &&
					   memcmp(x->hash, r->hash, SEAL_HASH)
				     : seal_digest(v->h, x->bytes, x->len, d) < 0 ||
					   memcmp(d, r->hash, SEAL_HASH)))
				verify_problem(v, r, "seq %" PRId64 ": evicted with another hash",
					       r->seq);
			continue;
		}
		if (w > 0 && verify_cmp(&v->rows[w - 1], r) == 0) {
			if (r->len == v->rows[w - 1].len &&
			    memcmp(r->bytes, v->rows[w - 1].bytes, r->len) == 0)
				same++;
			else
				verify_problem(v, r, "seq %" PRId64 " twice, and the copies differ",
					       r->seq);
			free(r->bytes);
			free(r->seal);
			continue;
		}
		v->rows[w++] = *r;
	}
	v->n = w;
	if (same)
		fprintf(v->out, "%" PRIu64 " identical duplicates left out\n", same);
}

int verify_report(struct verify *v, FILE *out)
{
	size_t gone = 0;

	v->out = out;
	v->problems = 0;
	if (v->bad_lines) {
		v->problems += v->bad_lines;
		fprintf(out, "%" PRIu64 " lines are not rows or batches of rows\n", v->bad_lines);
	}
	if (v->ignored)
		fprintf(out, "%" PRIu64 " JSON objects without a seq left out (status, answers)\n",
			v->ignored);
	qsort(v->rows, v->n, sizeof(*v->rows), verify_cmp);
	verify_dups(v);
	for (size_t i = 0, j; i < v->n; i = j) {
		for (j = i + 1; j < v->n && strcmp(v->rows[j].dev, v->rows[i].dev) == 0 &&
				strcmp(v->rows[j].sid, v->rows[i].sid) == 0;
		     j++)
			;
		verify_device(v, v->rows, i, j);
	}
	if (v->n == 0) {
		v->problems++;
		fprintf(out, "no rows\n");
	}
	for (size_t i = 0; i < v->n; i++)
		gone += v->rows[i].gone != 0;
	if (v->problems)
		fprintf(out, "NOT proven: %" PRIu64 " problems in %zu rows\n", v->problems,
			v->n - gone);
	else
		fprintf(out, "proven: %zu rows, every one sealed, chained and unchanged%s\n",
			v->n - gone, gone ? " (evicted rows declared)" : "");
	return v->problems ? 1 : 0;
}

int verify_run(const char *file, const char *const *key_pems, size_t n_keys, FILE *out)
{
	struct signer_verifier *keys[VERIFY_MAX_KEYS] = {0};
	struct verify *v = NULL;
	FILE *f;
	char *line = NULL;
	size_t size = 0, k;
	ssize_t n;
	int rc = 2;

	for (k = 0; k < n_keys && k < VERIFY_MAX_KEYS; k++)
		if (!(keys[k] = signer_verifier_open(key_pems[k])))
			break;
	if (k == n_keys)
		v = verify_new(keys, n_keys);
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");

	if (!f)
		log_warn("verify: %s", file);
	if (f && v) {
		while ((n = getline(&line, &size, f)) >= 0)
			verify_line(v, line, (size_t)n);
		rc = ferror(f) ? 2 : verify_report(v, out);
	}
	free(line);
	if (f && f != stdin)
		fclose(f);
	verify_free(v);
	for (k = 0; k < VERIFY_MAX_KEYS; k++)
		signer_verifier_close(keys[k]);
	return rc;
}
