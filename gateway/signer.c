/* signer: the software SM2 and Ed25519 back-ends through OpenSSL 3's EVP
 * interface.  SM2 signs Z || M with SM3, where Z hashes the distinguishing id
 * and the public key: the id is set on the key context before the digest
 * starts.  Ed25519 signs M itself (no digest, no id): its 64-byte signature
 * R || S fills the same two 32-byte halves as SM2's r, s. */
#include "gateway/signer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gateway/log.h"

#define SIGNER_ID_MAX  64
#define SIGNER_DER_MAX 80 /* SEQUENCE of two INTEGERs of up to 33 bytes */

struct signer_soft {
	struct signer ops; /* first: the interface is a pointer to this */
	EVP_PKEY *key;
	EVP_MD_CTX *ready; /* initialised once (SM2: Z folded in), copied per signature */
	EVP_MD_CTX *work;  /* the copy */
};

struct signer_verifier {
	EVP_PKEY *key;
	enum signer_alg alg;
};

const char *signer_alg_name(enum signer_alg alg)
{
	return alg == SIGNER_ED25519 ? "ed25519" : "sm2";
}

/* The first error of OpenSSL's queue, for a log line; clears the queue.
 * Where the daemon has no error texts (daemon_openssl_init), the code and
 * how to read it. */
static const char *signer_ssl_err(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e && ERR_reason_error_string(e))
		ERR_error_string_n(e, buf, size);
	else if (e)
		snprintf(buf, size, "OpenSSL error %08lX (`openssl errstr %08lX` tells which)", e,
			 e);
	else
		snprintf(buf, size, "unknown error");
	ERR_clear_error();
	return buf;
}

/* Why the decoders read no key from f (logged): no PEM block at all, a
 * public key where the private one is needed, or a block they refuse. */
static void signer_why_not(FILE *f, const char *file, int private)
{
	char err[256], *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;

	signer_ssl_err(err, sizeof(err));
	rewind(f);
	if (!PEM_read(f, &name, &header, &der, &len))
		log_warnx("signer: %s: no PEM key in it (empty, cut short or not PEM)", file);
	else if (private && strcmp(name, PEM_STRING_PUBLIC) == 0)
		log_warnx("signer: %s: a public key; signing needs the private key", file);
	else
		log_warnx("signer: %s: a damaged %s, or one OpenSSL does not read (%s)", file, name,
			  err);
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(der, (size_t)len);
}

/* A key from f through OpenSSL's decoders: any format and algorithm they
 * know. */
static EVP_PKEY *signer_decode_pem(FILE *f, int private)
{
	EVP_PKEY *key;

	if (private)
		return PEM_read_PrivateKey(f, NULL, NULL, NULL);
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!key) {
		/* A private key file holds the public key too. */
		rewind(f);
		ERR_clear_error();
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	return key;
}

/* 1 when the private key's public key is the one the file holds: a
 * damaged file (the decoders do not check) would make signatures nothing
 * verifies. */
static int signer_pair_ok(EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ok = ctx && EVP_PKEY_pairwise_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* A key from a PEM file: SM2, or also Ed25519 when any is set (*alg says
 * which). */
static EVP_PKEY *signer_load(const char *file, int private, int any, enum signer_alg *alg)
{
	EVP_PKEY *key;
	FILE *f = fopen(file, "r");

	if (!f) {
		log_warn("signer: %s", file);
		return NULL;
	}
	key = signer_decode_pem(f, private);
	if (!key)
		signer_why_not(f, file, private);
	fclose(f);
	if (!key)
		return NULL;
	*alg = SIGNER_SM2;
	if (any && EVP_PKEY_is_a(key, "ED25519")) {
		*alg = SIGNER_ED25519;
	} else if (!EVP_PKEY_is_a(key, "SM2")) {
		log_warnx("signer: %s: not an SM2%s key (%s)", file, any ? " or Ed25519" : "",
			  EVP_PKEY_get0_type_name(key));
		EVP_PKEY_free(key);
		return NULL;
	}
	if (private && !signer_pair_ok(key)) {
		log_warnx("signer: %s: a damaged key (its public key is not its private key's)",
			  file);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* A digest context for SM2 with SM3 and the id set; for Ed25519 without a
 * digest (it hashes M itself) or an id. */
static EVP_MD_CTX *signer_md_ctx(EVP_PKEY *key, enum signer_alg alg, const char *id, int sign)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
	const EVP_MD *md = alg == SIGNER_ED25519 ? NULL : EVP_sm3();
	int ok;

	if (!mctx || !pctx)
		goto out_free;
	if (alg == SIGNER_SM2 && EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)) <= 0)
		goto out_free;
	EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	ok = sign ? EVP_DigestSignInit(mctx, NULL, md, NULL, key)
		  : EVP_DigestVerifyInit(mctx, NULL, md, NULL, key);
	if (ok <= 0) {
		EVP_MD_CTX_free(mctx);
		EVP_PKEY_CTX_free(pctx);
		return NULL;
	}
	return mctx; /* owns nothing of pctx: freed with signer_md_free */
out_free:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	return NULL;
}

/* EVP_MD_CTX_set_pkey_ctx does not hand pctx's ownership over. */
static void signer_md_free(EVP_MD_CTX *mctx)
{
	EVP_PKEY_CTX *pctx = EVP_MD_CTX_get_pkey_ctx(mctx);

	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
}

int signer_from_der(const uint8_t *der, size_t len, uint8_t r[SIGNER_PART], uint8_t s[SIGNER_PART])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *br, *bs;
	int ret = -1;

	if (!sig)
		return -1;
	ECDSA_SIG_get0(sig, &br, &bs);
	if (BN_bn2binpad(br, r, SIGNER_PART) == SIGNER_PART &&
	    BN_bn2binpad(bs, s, SIGNER_PART) == SIGNER_PART)
		ret = 0;
	ECDSA_SIG_free(sig);
	return ret;
}

int signer_to_der(const uint8_t r[SIGNER_PART], const uint8_t s[SIGNER_PART], uint8_t *out,
		  size_t size)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r, SIGNER_PART, NULL);
	BIGNUM *bs = BN_bin2bn(s, SIGNER_PART, NULL);
	unsigned char *p = out;
	int len = -1;

	if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		BN_free(br);
		BN_free(bs);
		ECDSA_SIG_free(sig);
		return -1;
	}
	if (i2d_ECDSA_SIG(sig, NULL) <= (int)size)
		len = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	return len;
}

static int signer_soft_sign(struct signer *sg, const uint8_t *data, size_t len,
			    uint8_t r[SIGNER_PART], uint8_t s[SIGNER_PART])
{
	struct signer_soft *ss = (struct signer_soft *)sg;
	uint8_t der[SIGNER_DER_MAX];
	size_t der_len = sizeof(der);
	char err[256];
	int ret;

	/* Ed25519 signs in one pass; SM2 goes on from the copied digest of Z. */
	if (EVP_MD_CTX_copy_ex(ss->work, ss->ready) != 1 ||
	    (sg->alg == SIGNER_ED25519
		 ? EVP_DigestSign(ss->work, der, &der_len, data, len)
		 : EVP_DigestSignUpdate(ss->work, data, len) == 1 &&
		       EVP_DigestSignFinal(ss->work, der, &der_len) == 1) != 1) {
		log_warnx("signer: sign: %s", signer_ssl_err(err, sizeof(err)));
		return -1;
	}
	if (sg->alg == SIGNER_ED25519) {
		if (der_len != 2 * SIGNER_PART)
			goto out_bad;
		memcpy(r, der, SIGNER_PART);
		memcpy(s, der + SIGNER_PART, SIGNER_PART);
		return 0;
	}
	ret = signer_from_der(der, der_len, r, s);
	if (ret == 0)
		return 0;
out_bad:
	log_warnx("signer: cannot read the signature OpenSSL made");
	return -1;
}

static int signer_key_xy(EVP_PKEY *key, uint8_t xy[SIGNER_PUBKEY])
{
	uint8_t pt[1 + SIGNER_PUBKEY];
	size_t len = 0;

	if (EVP_PKEY_is_a(key, "ED25519")) {
		memset(xy, 0, SIGNER_PUBKEY);
		len = SIGNER_PUBKEY / 2;
		return EVP_PKEY_get_raw_public_key(key, xy, &len) == 1 && len == SIGNER_PUBKEY / 2
			   ? 0
			   : -1;
	}
	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) ||
	    len != sizeof(pt) || pt[0] != 0x04)
		return -1;
	memcpy(xy, pt + 1, SIGNER_PUBKEY);
	return 0;
}

static int signer_soft_pubkey(struct signer *sg, uint8_t xy[SIGNER_PUBKEY])
{
	return signer_key_xy(((struct signer_soft *)sg)->key, xy);
}

static void signer_soft_close(struct signer *sg)
{
	struct signer_soft *ss = (struct signer_soft *)sg;

	if (!ss)
		return;
	if (ss->ready)
		signer_md_free(ss->ready);
	EVP_MD_CTX_free(ss->work);
	EVP_PKEY_free(ss->key);
	free(ss);
}

/*
 * The signing context is made once (a context per signature fetched the
 * algorithms and hashed Z again each time: ~63 k instructions of an SM2
 * signature's 4.9 M, callgrind, the rest is the scalar multiplication) and
 * copied per signature.
 */
static struct signer *signer_soft_load(const char *key_file, const char *id, int any)
{
	struct signer_soft *ss;
	char err[256];

	if (!id || strlen(id) >= SIGNER_ID_MAX) {
		log_warnx("signer: the SM2 id must be 0..%d characters", SIGNER_ID_MAX - 1);
		return NULL;
	}
	ss = calloc(1, sizeof(*ss));
	if (!ss) {
		log_warn("signer");
		return NULL;
	}
	ss->ops.sign = signer_soft_sign;
	ss->ops.pubkey = signer_soft_pubkey;
	ss->ops.close = signer_soft_close;
	ss->key = signer_load(key_file, 1, any, &ss->ops.alg);
	if (!ss->key) {
		free(ss);
		return NULL;
	}
	/* An update of nothing makes OpenSSL hash Z into SM2's digest now. */
	ss->ready = signer_md_ctx(ss->key, ss->ops.alg, id, 1);
	ss->work = EVP_MD_CTX_new();
	if (!ss->ready || !ss->work ||
	    (ss->ops.alg == SIGNER_SM2 && EVP_DigestSignUpdate(ss->ready, NULL, 0) != 1)) {
		log_warnx("signer: %s: %s", key_file, signer_ssl_err(err, sizeof(err)));
		signer_soft_close(&ss->ops);
		return NULL;
	}
	return &ss->ops;
}

struct signer *signer_soft_open(const char *key_file, const char *id)
{
	return signer_soft_load(key_file, id, 0);
}

struct signer *signer_soft_open_any(const char *key_file, const char *id)
{
	return signer_soft_load(key_file, id, 1);
}

struct signer_verifier *signer_verifier_open(const char *pem_file)
{
	struct signer_verifier *v = calloc(1, sizeof(*v));

	if (!v) {
		log_warn("signer");
		return NULL;
	}
	v->key = signer_load(pem_file, 0, 1, &v->alg);
	if (!v->key) {
		free(v);
		return NULL;
	}
	return v;
}

enum signer_alg signer_verifier_alg(const struct signer_verifier *v)
{
	return v->alg;
}

int signer_verify(struct signer_verifier *v, const char *id, const uint8_t *data, size_t len,
		  const uint8_t r[SIGNER_PART], const uint8_t s[SIGNER_PART])
{
	uint8_t der[SIGNER_DER_MAX];
	int der_len;

	if (v->alg == SIGNER_ED25519) {
		memcpy(der, r, SIGNER_PART);
		memcpy(der + SIGNER_PART, s, SIGNER_PART);
		der_len = 2 * SIGNER_PART;
	} else {
		der_len = signer_to_der(r, s, der, sizeof(der));
	}
	if (der_len < 0)
		return -1;
	return signer_verify_sig(v, id, data, len, der, (size_t)der_len);
}

int signer_verify_sig(struct signer_verifier *v, const char *id, const uint8_t *data, size_t len,
		      const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *mctx = signer_md_ctx(v->key, v->alg, id, 0);
	int rc;

	if (!mctx) {
		ERR_clear_error();
		return -1;
	}
	rc = EVP_DigestVerify(mctx, sig, sig_len, data, len);
	signer_md_free(mctx);
	ERR_clear_error();
	return rc == 1 ? 1 : rc == 0 ? 0 : -1;
}

int signer_verifier_pubkey(struct signer_verifier *v, uint8_t xy[SIGNER_PUBKEY])
{
	return signer_key_xy(v->key, xy);
}

void signer_verifier_close(struct signer_verifier *v)
{
	if (!v)
		return;
	EVP_PKEY_free(v->key);
	free(v);
}

int signer_soft_generate(const char *key_file)
{
	return signer_soft_generate_alg(key_file, SIGNER_SM2);
}

int signer_soft_generate_alg(const char *key_file, enum signer_alg alg)
{
	char err[256];
	EVP_PKEY *key;
	FILE *f;
	int fd, ok;

	if (access(key_file, F_OK) == 0)
		return 0;
	key = EVP_PKEY_Q_keygen(NULL, NULL, alg == SIGNER_ED25519 ? "ED25519" : "SM2");
	if (!key) {
		log_warnx("signer: %s: key generation: %s", key_file,
			  signer_ssl_err(err, sizeof(err)));
		return -1;
	}
	/* O_EXCL: two starts never write one file; 0600 from the first byte. */
	fd = open(key_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		EVP_PKEY_free(key);
		if (errno == EEXIST)
			return 0;
		log_warn("signer: %s", key_file);
		return -1;
	}
	f = fdopen(fd, "w");
	ok = f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (f ? fclose(f) != 0 : close(fd) != 0)
		ok = 0;
	EVP_PKEY_free(key);
	if (!ok) {
		log_warnx("signer: %s: could not be written", key_file);
		unlink(key_file);
		return -1;
	}
	return 1;
}

int signer_print_pubkey(const char *pem_file, FILE *f)
{
	enum signer_alg alg;
	EVP_PKEY *key = signer_load(pem_file, 0, 1, &alg);
	int ok;

	if (!key)
		return -1;
	ok = PEM_write_PUBKEY(f, key) == 1;
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}
