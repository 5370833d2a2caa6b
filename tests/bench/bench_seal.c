/* bench_seal: the cost of the seal chain: SM3 folds of a record per second
 * (each row once), SM2 and Ed25519 seals signed per second, and the bytes
 * seals add per record on the wire: a seal row alone on .../event,
 * uncompressed (how seals went before, and still go with batch_max = 1),
 * against seal rows inside the zlib-compressed telemetry batches
 * (batch_max 10 and 50: how mqtt.c sends them with batching and
 * compression on), a seal every SEAL_EVERY_ROWS records.  Args: a file of
 * JSON lines (records as stored; the first is the one folded), a work dir,
 * folds.  Prints figures; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "gateway/seal.h"
#include "gateway/signer.h"
#include "protocols/payload.h"

#define BENCH_RECORDS 3000 /* the file's records, again and again */
#define BENCH_MAX_IN  1000
#define BENCH_DEV     "LZZ1EXCA7PN654321"
#define BENCH_SID     "0123456789abcdef0123456789abcdef"

static char *in[BENCH_MAX_IN];
static size_t in_len[BENCH_MAX_IN];

static char seal_rows[BENCH_RECORDS / SEAL_EVERY_ROWS + 1][4096];

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An MQTT 3.1.1 PUBLISH at QoS 1 of len bytes on topic: fixed header,
 * remaining length, topic, packet id, payload. */
static size_t bench_wire(const char *topic, size_t len)
{
	size_t rem = 2 + strlen(topic) + 2 + len, hdr = 2;

	for (size_t r = rem; r >= 128; r /= 128)
		hdr++;
	return hdr + rem;
}

/* The seal row after record last (its header: the seal's, seq + 1): signed
 * for real, so its hashes and signature are as incompressible as a real
 * one's. */
static int bench_seal_row(struct seal_hash *h, struct signer *sg, uint8_t acc[SEAL_HASH],
			  uint8_t prev[SEAL_HASH], const char *last, int64_t seq, char *row,
			  size_t size)
{
	static struct payload_record rec;
	struct payload_header hdr;
	struct payload_event ev;
	char msg[SEAL_MSG_MAX], hex[SEAL_HEX];
	uint8_t r[SIGNER_PART], s[SIGNER_PART], rs[2 * SIGNER_PART], xy[SIGNER_PUBKEY];
	int len;

	if (payload_decode_record(last, strlen(last), &hdr, &rec) < 0)
		return -1;
	hdr.seq++;
	payload_event_init(&ev, PAYLOAD_EV_SEAL);
	ev.sealed_boot = (int64_t)hdr.boot;
	ev.sealed_from = seq - SEAL_EVERY_ROWS + 1;
	ev.sealed_to = seq;
	seal_hex(acc, SEAL_HASH, ev.seal_hash);
	seal_hex(prev, SEAL_HASH, hex);
	snprintf(ev.seal_prev, sizeof(ev.seal_prev), "%s", hex);
	if (sg->pubkey(sg, xy) < 0 || seal_key_id(h, xy, ev.seal_key) < 0)
		return -1;
	snprintf(ev.seal_alg, sizeof(ev.seal_alg), "%s", signer_alg_name(sg->alg));
	len = seal_message(msg, sizeof(msg), hdr.dev, hdr.sid, ev.sealed_boot, ev.sealed_from,
			   ev.sealed_to, ev.seal_hash, ev.seal_prev, ev.seal_key);
	if (len < 0 || sg->sign(sg, (const uint8_t *)msg, (size_t)len, r, s) < 0 ||
	    seal_digest(h, msg, (size_t)len, prev) < 0)
		return -1;
	memcpy(rs, r, SIGNER_PART);
	memcpy(rs + SIGNER_PART, s, SIGNER_PART);
	seal_hex(rs, sizeof(rs), ev.seal_sig);
	memset(acc, 0, SEAL_HASH);
	return payload_encode_event(&hdr, &ev, row, size);
}

/* Wire bytes of BENCH_RECORDS records in compressed batches of batch
 * records, with a seal row after every SEAL_EVERY_ROWS records when seals is
 * set (in the batch of the record before it, besides its records, as mqtt.c
 * batches it). */
static size_t bench_batches(int n_in, int batch, int seals)
{
	static char msg[1 << 20];
	static unsigned char z[(1 << 20) + 1024];
	static const char *rows[BENCH_RECORDS + BENCH_RECORDS / SEAL_EVERY_ROWS + 1];
	const char *topic = "emgw/" BENCH_DEV "/telemetry/z";
	size_t total = 0;
	int n = 0, ns = 0;

	for (int i = 0; i < BENCH_RECORDS; i++) {
		rows[n++] = in[i % n_in];
		if (seals && (i + 1) % SEAL_EVERY_ROWS == 0)
			rows[n++] = seal_rows[ns++];
	}
	for (int i = 0, k; i < n; i = k) {
		size_t len = (size_t)snprintf(msg, sizeof(msg),
					      "{\"v\":1,\"dev\":\"" BENCH_DEV "\",\"records\":[");
		uLongf zl = sizeof(z);
		int recs = 0;

		for (k = i; k < n; k++) {
			size_t rl = strlen(rows[k]);
			int rec = !strstr(rows[k], "\"type\":\"seal\"");

			if (rec && recs == batch)
				break;
			recs += rec;
			if (k > i)
				msg[len++] = ',';
			memcpy(msg + len, rows[k], rl);
			len += rl;
		}
		memcpy(msg + len, "]}", 2);
		if (compress2(z, &zl, (const Bytef *)msg, len + 2, Z_DEFAULT_COMPRESSION) != Z_OK)
			return 0;
		total += bench_wire(topic, zl);
	}
	return total;
}

/* Signatures a second of a key of alg. */
static double bench_sign(struct signer *sg, int signs)
{
	char msg[SEAL_MSG_MAX];
	uint8_t r[SIGNER_PART], s[SIGNER_PART];
	double t0 = bench_now();
	int len = seal_message(msg, sizeof(msg), BENCH_DEV, BENCH_SID, 12, 1, 60,
			       "00000000000000000000000000000000", "11", "0123456789abcdef");

	for (int i = 0; i < signs; i++)
		if (len < 0 || sg->sign(sg, (const uint8_t *)msg, (size_t)len, r, s) < 0)
			return 0;
	return signs / (bench_now() - t0);
}

int main(int argc, char **argv)
{
	static char line[65536], key[512], key_ed[512];
	struct seal_hash *h = seal_hash_new();
	uint8_t acc[SEAL_HASH] = {0}, prev[SEAL_HASH] = {0};
	struct signer *sg, *ed;
	FILE *f;
	long folds = argc > 3 ? atol(argv[3]) : 200000;
	int n_in = 0, signs = 500, seal_len = 0;
	size_t plain, sealed, alone;
	double t0, t1;

	if (argc < 3 || !h || !(f = fopen(argv[1], "r")))
		return 1;
	while (n_in < BENCH_MAX_IN && fgets(line, sizeof(line), f)) {
		in_len[n_in] = strcspn(line, "\n");
		in[n_in] = strndup(line, in_len[n_in]);
		if (in_len[n_in] > 0)
			n_in++;
	}
	fclose(f);
	if (n_in == 0)
		return 1;
	snprintf(key, sizeof(key), "%s/bench-seal.key", argv[2]);
	snprintf(key_ed, sizeof(key_ed), "%s/bench-seal-ed.key", argv[2]);
	if (signer_soft_generate(key) < 0 || !(sg = signer_soft_open(key, SEAL_SM2_ID)) ||
	    signer_soft_generate_alg(key_ed, SIGNER_ED25519) < 0 ||
	    !(ed = signer_soft_open_any(key_ed, SEAL_SM2_ID)))
		return 1;
	t0 = bench_now();
	for (long i = 0; i < folds; i++)
		seal_fold(h, acc, in[0], in_len[0]);
	t1 = bench_now();
	printf("seal: SM3 fold of a %zu-byte record: %.0f records/s (%.2f us a record)\n",
	       in_len[0], folds / (t1 - t0), (t1 - t0) / folds * 1e6);
	printf("seal: SM2 signature of a seal: %.0f seals/s\n", bench_sign(sg, signs));
	printf("seal: Ed25519 signature of a seal: %.0f seals/s\n", bench_sign(ed, signs));
	for (int i = 0; i < BENCH_RECORDS / SEAL_EVERY_ROWS; i++) {
		for (int k = 0; k < SEAL_EVERY_ROWS; k++) {
			int r = (i * SEAL_EVERY_ROWS + k) % n_in;

			seal_fold(h, acc, in[r], in_len[r]);
		}
		seal_len = bench_seal_row(
		    h, sg, acc, prev, in[((i + 1) * SEAL_EVERY_ROWS - 1) % n_in],
		    (int64_t)(i + 1) * SEAL_EVERY_ROWS, seal_rows[i], sizeof(seal_rows[i]));
		if (seal_len < 0)
			return 1;
	}
	alone = bench_wire("emgw/" BENCH_DEV "/event", (size_t)seal_len);
	printf("seal: a seal row is %d bytes, %zu on the wire alone on .../event, uncompressed:"
	       " %.2f bytes a record at one seal per %d records\n",
	       seal_len, alone, (double)alone / SEAL_EVERY_ROWS, SEAL_EVERY_ROWS);
	for (int b = 10; b <= 100; b = b == 10 ? 50 : b == 50 ? 100 : 1000) {
		plain = bench_batches(n_in, b, 0);
		sealed = bench_batches(n_in, b, 1);
		printf("seal: batch_max %d, compress yes: records %.1f bytes a record on the wire;"
		       " seals in the batches add %.2f bytes a record\n",
		       b, (double)plain / BENCH_RECORDS,
		       ((double)sealed - (double)plain) / BENCH_RECORDS);
	}
	/* What the hash and prev fields cost: a verifier could recompute both
	 * (a wire change not made; README "Seals" says why). */
	for (int i = 0; i < BENCH_RECORDS / SEAL_EVERY_ROWS; i++)
		for (const char *k = ",\"hash\":\""; k; k = k[2] == 'h' ? ",\"prev\":\"" : NULL) {
			char *p = strstr(seal_rows[i], k);
			size_t cut = strlen(k) + SEAL_HEX;

			if (p)
				memmove(p, p + cut, strlen(p + cut) + 1);
		}
	printf("seal: batch_max 10, compress yes, without hash and prev: seals would add %.2f bytes"
	       " a record\n",
	       ((double)bench_batches(n_in, 10, 1) - (double)bench_batches(n_in, 10, 0)) /
		   BENCH_RECORDS);
	sg->close(sg);
	ed->close(ed);
	seal_hash_free(h);
	for (int i = 0; i < n_in; i++)
		free(in[i]);
	return 0;
}
