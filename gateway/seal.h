/* seal: the chain of signed hashes over every stored row (README "Seals").
 * Reads each committed row back once, before an uplink fetches it, folds it
 * into the open range's SM3 hash and stores a seal row every N rows or T s and
 * at a stop.  Owns the chain head (in the store's meta); sends nothing. */
#ifndef EMGW_SEAL_H
#define EMGW_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/report.h"
#include "gateway/signer.h"
#include "gateway/store.h"

#define SEAL_HASH	32 /* SM3 */
#define SEAL_HEX	(2 * SEAL_HASH + 1)
#define SEAL_KEY_ID	17 /* 16 hex digits and '\0' */
#define SEAL_SIG_HEX	(4 * SIGNER_PART + 1)
#define SEAL_MSG_MAX	512
#define SEAL_SM2_ID	"1234567812345678" /* GB/T 32918's default id */
#define SEAL_READER	29		   /* the store cursor bit of the sealer: never acked */
#define SEAL_EVERY_ROWS 60
#define SEAL_EVERY_MS	60000
#define SEAL_KEY_FILE	"seal.key" /* under the state dir */

/* SM3 with one fetched method and context, reused for every row. */
struct seal_hash;

/* NULL on error (logged). */
struct seal_hash *seal_hash_new(void);
void seal_hash_free(struct seal_hash *h);
/* acc = SM3(acc || SM3(row)): a row's canonical bytes are its payload
 * exactly as stored and sent.  A range's hash starts from 32 zero bytes.
 * The row's own hash in between lets a row that is gone (evicted) be
 * stood for by its hash.  0 or -1. */
int seal_fold(struct seal_hash *h, uint8_t acc[SEAL_HASH], const char *row, size_t len);
/* The same with the row's hash, SM3(row), already made.  0 or -1. */
int seal_fold_hash(struct seal_hash *h, uint8_t acc[SEAL_HASH], const uint8_t row_hash[SEAL_HASH]);
/* out = SM3(p[n]).  0 or -1. */
int seal_digest(struct seal_hash *h, const void *p, size_t n, uint8_t out[SEAL_HASH]);

/* Lower-case hex of p[n] into out[2n+1]. */
void seal_hex(const uint8_t *p, size_t n, char *out);
/* n bytes from exactly 2n hex digits.  0 or -1. */
int seal_unhex(const char *hex, uint8_t *out, size_t n);
/* The key id a seal names: the first 8 bytes of SM3(X || Y), in hex. */
int seal_key_id(struct seal_hash *h, const uint8_t xy[SIGNER_PUBKEY], char id[SEAL_KEY_ID]);
/* The bytes a seal signs, and whose SM3 the next seal names as prev:
 * "emgw-seal/1\n" dev "\n" sid "\n" sealed_boot "\n" from "\n" to "\n" hash
 * "\n" prev "\n" key.  Its length, or -1 when it does not fit. */
int seal_message(char *buf, size_t size, const char *dev, const char *sid, int64_t sealed_boot,
		 int64_t from, int64_t to, const char *hash, const char *prev, const char *key);

/* 1 when a stored row is one of the chain's own (a seal or an evicted
 * event): with batching they travel in the telemetry batches. */
int seal_row_is_proof(const char *payload, size_t len);

struct seal;

/* A sealer for the rows of store, stored through report, signed by sg (not
 * owned); every_rows / every_ms: when a range is sealed.  Loads the chain
 * head; a range a crash left open is sealed by the first seal_step.  NULL on
 * error (logged). */
struct seal *seal_open(struct store *store, struct report *report, struct signer *sg,
		       int every_rows, int64_t every_ms);
/* The same with the key at <state_dir>/seal.key, made on the first start (of
 * cfg's algorithm) and owned by the sealer (closed with it); cfg: when to
 * seal.  NULL when there is no key: rows then go unsealed (logged).  The
 * sealer is the store's eviction hook: rows evicted unsent are declared by
 * evicted events.  Close it before the store. */
struct seal *seal_open_keyed(struct store *store, struct report *report, const char *state_dir,
			     const struct config_seal *cfg);
/* Fold the rows committed since the last step (and freeze them), then seal
 * the range when it is due, or now when force is set and it holds a row
 * other than a seal.  Call after every commit, before the uplinks fetch.
 * Seals made, or -1. */
int seal_step(struct seal *s, const struct clock_now *now, int force);
/* The key id, for status. */
const char *seal_key(const struct seal *s);
/* Seals made since start. */
uint64_t seal_count(const struct seal *s);
void seal_close(struct seal *s);

#endif
