/* bench_seal: the cost of the seal chain: SM3 folds of a record per second
 * (each row once), SM2 seals signed per second, and the bytes a seal adds per
 * record on the wire (a seal row goes alone on .../event, uncompressed, every
 * SEAL_EVERY_ROWS rows).  Args: a JSON line (a record as stored), a work
 * dir, folds.  Prints figures; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/seal.h"
#include "gateway/signer.h"
#include "protocols/payload.h"

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char rec[65536], key[512], msg[SEAL_MSG_MAX], row[4096];
	struct seal_hash *h = seal_hash_new();
	uint8_t acc[SEAL_HASH] = {0}, r[SIGNER_PART], s[SIGNER_PART], rs[2 * SIGNER_PART];
	struct payload_header hdr = {.v = 1,
				     .dev = "LZZ1EXCA7PN654321",
				     .boot = 12,
				     .seq = 123456,
				     .ts_ms = INT64_C(1700000000000),
				     .ts_src = PAYLOAD_TS_GNSS,
				     .mono_ms = 123456789};
	struct payload_event ev;
	struct signer *sg;
	FILE *f;
	long folds = argc > 3 ? atol(argv[3]) : 200000;
	int signs = 500, len, wire;
	double t0, t1;
	size_t n;

	if (argc < 3 || !h || !(f = fopen(argv[1], "r")) || !fgets(rec, sizeof(rec), f))
		return 1;
	fclose(f);
	n = strcspn(rec, "\n");
	snprintf(key, sizeof(key), "%s/bench-seal.key", argv[2]);
	if (signer_soft_generate(key) < 0 || !(sg = signer_soft_open(key, SEAL_SM2_ID)))
		return 1;
	t0 = bench_now();
	for (long i = 0; i < folds; i++)
		seal_fold(h, acc, rec, n);
	t1 = bench_now();
	printf("seal: SM3 fold of a %zu-byte record: %.0f records/s (%.2f us a record)\n", n,
	       folds / (t1 - t0), (t1 - t0) / folds * 1e6);
	payload_event_init(&ev, PAYLOAD_EV_SEAL);
	ev.sealed_boot = 12;
	ev.sealed_from = 123396;
	ev.sealed_to = 123455;
	seal_hex(acc, SEAL_HASH, ev.seal_hash);
	seal_hex(acc, SEAL_HASH, ev.seal_prev);
	snprintf(ev.seal_key, sizeof(ev.seal_key), "0123456789abcdef");
	t0 = bench_now();
	for (int i = 0; i < signs; i++) {
		len = seal_message(msg, sizeof(msg), hdr.dev, "0123456789abcdef0123456789abcdef",
				   ev.sealed_boot, ev.sealed_from, ev.sealed_to, ev.seal_hash,
				   ev.seal_prev, ev.seal_key);
		if (len < 0 || sg->sign(sg, (const uint8_t *)msg, (size_t)len, r, s) < 0)
			return 1;
	}
	t1 = bench_now();
	memcpy(rs, r, SIGNER_PART);
	memcpy(rs + SIGNER_PART, s, SIGNER_PART);
	seal_hex(rs, sizeof(rs), ev.seal_sig);
	snprintf(hdr.sid, sizeof(hdr.sid), "0123456789abcdef0123456789abcdef");
	len = payload_encode_event(&hdr, &ev, row, sizeof(row));
	/* MQTT PUBLISH: fixed header 3, topic length 2 + "emgw/<dev>/event", packet id 2 */
	wire = len + 3 + 2 + (int)strlen("emgw//event") + (int)strlen(hdr.dev) + 2;
	printf("seal: SM2 signature of a seal: %.0f seals/s (%.2f ms a seal)\n", signs / (t1 - t0),
	       (t1 - t0) / signs * 1e3);
	printf("seal: a seal row is %d bytes, %d on the wire: %.1f bytes a record at one seal"
	       " per %d rows\n",
	       len, wire, (double)wire / SEAL_EVERY_ROWS, SEAL_EVERY_ROWS);
	sg->close(sg);
	seal_hash_free(h);
	return 0;
}
