/* Unit tests for gateway/signer.c: SM2/SM3 sign and verify round trip, the
 * distinguishing id, left-padding of short r and s, and a signature made
 * here verified by OpenSSL's command line (converted to DER); Ed25519 keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gateway/log.h"
#include "gateway/signer.h"

#define ID "CHIP000000000001"

static char dir[] = "/tmp/emgw-signer.XXXXXX";
static char key_pem[256], pub_pem[256];

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	FILE *f;

	(void)state;
	if (!key || !mkdtemp(dir))
		return -1;
	snprintf(key_pem, sizeof(key_pem), "%s/key.pem", dir);
	snprintf(pub_pem, sizeof(pub_pem), "%s/pub.pem", dir);
	f = fopen(key_pem, "w");
	if (!f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		return -1;
	fclose(f);
	f = fopen(pub_pem, "w");
	if (!f || !PEM_write_PUBKEY(f, key))
		return -1;
	fclose(f);
	EVP_PKEY_free(key);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
	static const uint8_t data[] = "\x17\x0b\x0f\x06\x0d\x14 an HJ data unit";
	struct signer *sg = signer_soft_open(key_pem, ID);
	struct signer_verifier *v = signer_verifier_open(pub_pem);
	struct signer_verifier *vk = signer_verifier_open(key_pem);
	uint8_t r[32], s[32], xy1[64], xy2[64];
	uint8_t bad[sizeof(data)];

	(void)state;
	assert_non_null(sg);
	assert_non_null(v);
	assert_non_null(vk);
	assert_int_equal(sg->sign(sg, data, sizeof(data) - 1, r, s), 0);
	assert_int_equal(signer_verify(v, ID, data, sizeof(data) - 1, r, s), 1);
	assert_int_equal(signer_verify(vk, ID, data, sizeof(data) - 1, r, s), 1);
	/* Another id, other data, another signature: refused. */
	assert_int_equal(signer_verify(v, "1234567812345678", data, sizeof(data) - 1, r, s), 0);
	memcpy(bad, data, sizeof(data));
	bad[0] ^= 1;
	assert_int_equal(signer_verify(v, ID, bad, sizeof(data) - 1, r, s), 0);
	s[31] ^= 1;
	assert_int_equal(signer_verify(v, ID, data, sizeof(data) - 1, r, s), 0);
	/* The public key, both ways. */
	assert_int_equal(sg->pubkey(sg, xy1), 0);
	assert_int_equal(signer_verifier_pubkey(v, xy2), 0);
	assert_memory_equal(xy1, xy2, 64);
	sg->close(sg);
	signer_verifier_close(v);
	signer_verifier_close(vk);
}

static void test_padding(void **state)
{
	/* SEQUENCE { INTEGER 0x11, INTEGER 0x0102 }: both short. */
	static const uint8_t der[] = {0x30, 0x07, 0x02, 0x01, 0x11, 0x02, 0x02, 0x01, 0x02};
	/* An INTEGER with its top bit set gets a 0x00 in DER: 33 bytes. */
	uint8_t r[32], s[32], out[80], r2[32], s2[32];
	int n;

	(void)state;
	assert_int_equal(signer_from_der(der, sizeof(der), r, s), 0);
	for (int i = 0; i < 31; i++)
		assert_int_equal(r[i], 0);
	assert_int_equal(r[31], 0x11);
	for (int i = 0; i < 30; i++)
		assert_int_equal(s[i], 0);
	assert_int_equal(s[30], 0x01);
	assert_int_equal(s[31], 0x02);
	n = signer_to_der(r, s, out, sizeof(out));
	assert_int_equal(n, (int)sizeof(der));
	assert_memory_equal(out, der, sizeof(der));
	memset(r, 0xFF, sizeof(r));
	n = signer_to_der(r, s, out, sizeof(out));
	assert_int_equal(out[3], 33); /* 0x00 + 32 bytes */
	assert_int_equal(signer_from_der(out, (size_t)n, r2, s2), 0);
	assert_memory_equal(r2, r, 32);
	assert_memory_equal(s2, s, 32);
	assert_int_equal(signer_to_der(r, s, out, 8), -1);
	assert_int_equal(signer_from_der(der, 3, r, s), -1);
}

/* Sign until r or s has a leading zero byte (1 in 128 signatures): the
 * padded value still verifies, here and in OpenSSL's command line. */
static void test_short_values_verify(void **state)
{
	static const uint8_t data[] = "padding";
	struct signer *sg = signer_soft_open(key_pem, ID);
	struct signer_verifier *v = signer_verifier_open(pub_pem);
	uint8_t r[32], s[32];
	int found = 0;

	(void)state;
	for (int i = 0; i < 5000 && !found; i++) {
		assert_int_equal(sg->sign(sg, data, sizeof(data) - 1, r, s), 0);
		found = r[0] == 0 || s[0] == 0;
	}
	assert_true(found);
	assert_int_equal(signer_verify(v, ID, data, sizeof(data) - 1, r, s), 1);
	sg->close(sg);
	signer_verifier_close(v);
}

/* `openssl pkeyutl -verify` on a signature this code made. */
static int openssl_verify_with(const char *pub, const uint8_t *data, size_t n, const uint8_t *r,
			       const uint8_t *s, const char *id)
{
	char data_bin[300], sig_der[300], cmd[1500];
	uint8_t der[80];
	int len = signer_to_der(r, s, der, sizeof(der));

	assert_true(len > 0);
	snprintf(data_bin, sizeof(data_bin), "%s/data.bin", dir);
	snprintf(sig_der, sizeof(sig_der), "%s/sig.der", dir);
	write_file(data_bin, data, n);
	write_file(sig_der, der, (size_t)len);
	snprintf(cmd, sizeof(cmd),
		 "openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:%s -pubin -inkey %s"
		 " -in %s -sigfile %s >/dev/null 2>&1",
		 id, pub, data_bin, sig_der);
	return system(cmd);
}

static int openssl_verify(const uint8_t *data, size_t n, const uint8_t *r, const uint8_t *s,
			  const char *id)
{
	return openssl_verify_with(pub_pem, data, n, r, s, id);
}

static void test_openssl_cli(void **state)
{
	uint8_t data[200];
	struct signer *sg = signer_soft_open(key_pem, ID);
	uint8_t r[32], s[32];

	(void)state;
	if (system("openssl version >/dev/null 2>&1") != 0)
		skip();
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	assert_int_equal(sg->sign(sg, data, sizeof(data), r, s), 0);
	assert_int_equal(openssl_verify(data, sizeof(data), r, s, ID), 0);
	/* And it does refuse: the wrong id, tampered data. */
	assert_int_not_equal(openssl_verify(data, sizeof(data), r, s, "1234567812345678"), 0);
	data[5] ^= 0x80;
	assert_int_not_equal(openssl_verify(data, sizeof(data), r, s, ID), 0);
	sg->close(sg);
}

static void test_bad_keys(void **state)
{
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/none.pem", dir);
	assert_null(signer_soft_open(path, ID));
	write_file(path, "not a key\n", 10);
	assert_null(signer_soft_open(path, ID));
	assert_null(signer_verifier_open(path));
	/* A public key cannot sign. */
	assert_null(signer_soft_open(pub_pem, ID));
}

/* A key is made once, 0600, and is a usable SM2 key; its public PEM prints. */
static void test_generate(void **state)
{
	char path[300], out[300];
	struct signer *sg;
	struct stat st;
	uint8_t xy[SIGNER_PUBKEY], xy2[SIGNER_PUBKEY];
	struct signer_verifier *v;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/gen.pem", dir);
	snprintf(out, sizeof(out), "%s/gen.pub", dir);
	assert_int_equal(signer_soft_generate(path), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(signer_soft_generate(path), 0); /* kept, not replaced */
	sg = signer_soft_open(path, ID);
	assert_non_null(sg);
	assert_int_equal(sg->pubkey(sg, xy), 0);
	sg->close(sg);
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(signer_print_pubkey(path, f), 0);
	fclose(f);
	v = signer_verifier_open(out);
	assert_non_null(v);
	assert_int_equal(signer_verifier_pubkey(v, xy2), 0);
	assert_memory_equal(xy, xy2, sizeof(xy));
	signer_verifier_close(v);
	snprintf(path, sizeof(path), "%s/no/such/dir.pem", dir);
	assert_int_equal(signer_soft_generate(path), -1);
}

/* Ed25519: made, printed, signs; the signature verifies under the public
 * key (and openssl's own Ed25519) and a changed byte does not; the platform's
 * SM2-only open refuses it. */
static void test_ed25519(void **state)
{
	static const uint8_t data[] = "emgw-seal/1\nsome message";
	char path[300], out[300];
	uint8_t r[SIGNER_PART], s[SIGNER_PART], xy[SIGNER_PUBKEY], xy2[SIGNER_PUBKEY], sig[64];
	uint8_t bad[sizeof(data)];
	struct signer *sg;
	struct signer_verifier *v;
	EVP_PKEY *pk;
	EVP_MD_CTX *m;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/ed.pem", dir);
	snprintf(out, sizeof(out), "%s/ed.pub", dir);
	assert_int_equal(signer_soft_generate_alg(path, SIGNER_ED25519), 1);
	assert_null(signer_soft_open(path, ID));
	sg = signer_soft_open_any(path, ID);
	assert_non_null(sg);
	assert_int_equal(sg->alg, SIGNER_ED25519);
	assert_string_equal(signer_alg_name(sg->alg), "ed25519");
	assert_int_equal(sg->sign(sg, data, sizeof(data), r, s), 0);
	assert_int_equal(sg->pubkey(sg, xy), 0);
	sg->close(sg);
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(signer_print_pubkey(path, f), 0);
	fclose(f);
	v = signer_verifier_open(out);
	assert_non_null(v);
	assert_int_equal(signer_verifier_alg(v), SIGNER_ED25519);
	assert_int_equal(signer_verifier_pubkey(v, xy2), 0);
	assert_memory_equal(xy, xy2, sizeof(xy));
	assert_int_equal(signer_verify(v, ID, data, sizeof(data), r, s), 1);
	memcpy(bad, data, sizeof(data));
	bad[3] ^= 1;
	assert_int_equal(signer_verify(v, ID, bad, sizeof(bad), r, s), 0);
	signer_verifier_close(v);
	/* RFC 8032 as OpenSSL checks it: R || S over the message itself */
	f = fopen(out, "r");
	assert_non_null(f);
	pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pk);
	memcpy(sig, r, SIGNER_PART);
	memcpy(sig + SIGNER_PART, s, SIGNER_PART);
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, sizeof(sig), data, sizeof(data)), 1);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pk);
}

/* A shell command's status, 0 when it ran and succeeded. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The newest log line contains want. */
static void assert_logged(const char *want)
{
	char line[2 * LOG_RING_LINE];

	assert_int_equal(log_recent(line, sizeof(line), 1, NULL), 1);
	if (!strstr(line, want))
		fail_msg("log \"%s\" lacks \"%s\"", line, want);
}

/* The SM2 key in file has the public key xy. */
static void assert_same_key(const char *file, const uint8_t xy[SIGNER_PUBKEY])
{
	struct signer *sg = signer_soft_open(file, ID);
	uint8_t xy2[SIGNER_PUBKEY];

	assert_non_null(sg);
	assert_int_equal(sg->pubkey(sg, xy2), 0);
	assert_memory_equal(xy, xy2, SIGNER_PUBKEY);
	sg->close(sg);
}

/* Keys as `openssl genpkey` writes them (PKCS#8) sign, the signatures
 * verify under `openssl pkey -pubout`'s public key and, for SM2, in
 * OpenSSL's command line. */
static void test_openssl_keys(void **state)
{
	static const uint8_t data[] = "emgw-seal/1\na message";
	static const char *const algs[] = {"SM2", "ed25519"};
	char key[300], pub[300], other[300];
	uint8_t r[SIGNER_PART], s[SIGNER_PART], xy[SIGNER_PUBKEY], xy2[SIGNER_PUBKEY];
	struct signer *sg;
	struct signer_verifier *v;

	(void)state;
	if (system("openssl version >/dev/null 2>&1") != 0)
		skip();
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(key, sizeof(key), "%s/gen-%s.pem", dir, algs[i]);
		snprintf(pub, sizeof(pub), "%s/gen-%s.pub", dir, algs[i]);
		assert_int_equal(run("openssl genpkey -algorithm %s -out %s", algs[i], key), 0);
		assert_int_equal(run("openssl pkey -in %s -pubout -out %s", key, pub), 0);
		sg = signer_soft_open_any(key, ID);
		assert_non_null(sg);
		assert_int_equal(sg->alg, i == 0 ? SIGNER_SM2 : SIGNER_ED25519);
		assert_int_equal(sg->sign(sg, data, sizeof(data), r, s), 0);
		assert_int_equal(sg->pubkey(sg, xy), 0);
		sg->close(sg);
		v = signer_verifier_open(pub);
		assert_non_null(v);
		assert_int_equal(signer_verifier_pubkey(v, xy2), 0);
		assert_memory_equal(xy, xy2, sizeof(xy));
		assert_int_equal(signer_verify(v, ID, data, sizeof(data), r, s), 1);
		s[7] ^= 1;
		assert_int_equal(signer_verify(v, ID, data, sizeof(data), r, s), 0);
		s[7] ^= 1;
		signer_verifier_close(v);
		if (i != 0)
			continue;
		assert_int_equal(openssl_verify_with(pub, data, sizeof(data), r, s, ID), 0);
		/* SEC1 (EC PRIVATE KEY) and a PKCS#8 without the point: the
		 * same key. */
		snprintf(other, sizeof(other), "%s/gen-sm2.sec1", dir);
		assert_int_equal(run("openssl ec -in %s -out %s 2>/dev/null", key, other), 0);
		assert_same_key(other, xy);
		snprintf(other, sizeof(other), "%s/gen-sm2.nopub", dir);
		assert_int_equal(
		    run("openssl ec -in %s -no_public 2>/dev/null | openssl pkcs8 -topk8"
			" -nocrypt -out %s",
			key, other),
		    0);
		assert_same_key(other, xy);
	}
}

/* The key in src as DER, cut short by cut bytes and with byte flip changed
 * (unless negative), written back in the same PEM block at path. */
static void write_edited_key(const char *src, const char *path, long cut, long flip)
{
	char *name, *header;
	unsigned char *der;
	long len;
	FILE *f = fopen(src, "r");

	assert_non_null(f);
	assert_int_equal(PEM_read(f, &name, &header, &der, &len), 1);
	fclose(f);
	if (flip >= 0)
		der[flip] ^= 0x01;
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(PEM_write(f, name, header, der, len - cut) > 0);
	fclose(f);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
}

/* Damaged keys are refused, each with a line that says what is wrong. */
static void test_damaged_keys(void **state)
{
	/* The daemon's SM2 PKCS#8 (key_pem): the scalar starts at byte 36, the
	 * point's last byte is the file's last; SEC1's scalar starts at byte 7.
	 * A changed scalar leaves a public key that still verifies. */
	static const struct {
		int sec1;
		long cut, flip;
		const char *why;
		int pub_ok;
	} edits[] = {
	    {0, 20, -1, "damaged PRIVATE KEY", 0},	/* DER cut short */
	    {0, 0, 40, "its public key is not its", 1}, /* scalar changed: not the point's */
	    {0, 0, 137, "damaged PRIVATE KEY", 0},	/* point changed: off the curve */
	    {0, 0, 1, "damaged PRIVATE KEY", 0},	/* outer length wrong */
	    {1, 0, 10, "its public key is not its", 1}, /* the same in SEC1 (EC PRIVATE KEY) */
	};
	char path[300], sec1[300], text[4096];
	struct signer_verifier *v;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/damaged.pem", dir);
	snprintf(sec1, sizeof(sec1), "%s/key.sec1", dir);
	if (system("openssl version >/dev/null 2>&1") != 0)
		skip();
	assert_int_equal(run("openssl ec -in %s -out %s 2>/dev/null", key_pem, sec1), 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		write_edited_key(edits[i].sec1 ? sec1 : key_pem, path, edits[i].cut, edits[i].flip);
		assert_null(signer_soft_open_any(path, ID));
		assert_logged(edits[i].why);
		v = signer_verifier_open(path);
		assert_int_equal(v != NULL, edits[i].pub_ok);
		signer_verifier_close(v);
	}
	/* The file cut in the middle of its base64: no PEM block at all. */
	f = fopen(key_pem, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	write_file(path, text, n / 2);
	assert_null(signer_soft_open_any(path, ID));
	assert_logged("no PEM key in it");
	/* Armour around garbage. */
	write_file(path, "-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n", 62);
	assert_null(signer_soft_open_any(path, ID));
	assert_logged("damaged PRIVATE KEY");
	/* A public key where the private one is needed. */
	assert_null(signer_soft_open_any(pub_pem, ID));
	assert_logged("a public key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_padding),
	    cmocka_unit_test(test_short_values_verify),
	    cmocka_unit_test(test_openssl_cli),
	    cmocka_unit_test(test_bad_keys),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_ed25519),
	    cmocka_unit_test(test_openssl_keys),
	    cmocka_unit_test(test_damaged_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
