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
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
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

/*
 * Keys are read without OpenSSL 3's decoders (PEM_read_PrivateKey builds a
 * store of every decoder: measured 27 KB of heap and 64 KiB of libcrypto's
 * pages for one SM2 key): PEM_read gives the DER bytes, the fixed layouts
 * below give the key's numbers, and EVP_PKEY_fromdata or the raw-key calls
 * make the key.  The layouts are what OpenSSL writes (signer_soft_generate,
 * `openssl genpkey`, `openssl pkey -pubout`): PKCS#8 PRIVATE KEY (RFC 5208;
 * SM2's private key inside is SEC1's ECPrivateKey, RFC 5915; Ed25519's an
 * OCTET STRING, RFC 8410) and SubjectPublicKeyInfo PUBLIC KEY.  Any other
 * PEM block (EC PRIVATE KEY, an encrypted key, another algorithm) is left to
 * the decoders as before.
 */
#define SIGNER_DER_SEQ 0x10
#define SIGNER_DER_INT 0x02
#define SIGNER_DER_BIT 0x03
#define SIGNER_DER_OCT 0x04
#define SIGNER_DER_OID 0x06
#define SIGNER_SM2_PUB 65 /* 04 || X || Y */

/* The DER of the algorithm identifiers (OID values). */
static const uint8_t signer_oid_ec[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t signer_oid_sm2[] = {0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D};
static const uint8_t signer_oid_ed25519[] = {0x2B, 0x65, 0x70};

/* A DER element being read: what is left of its parent, and the last
 * element's contents. */
struct signer_der {
	const unsigned char *p, *v;
	long left, len;
};

/* The next element must have this tag (universal, or context-specific when
 * cls says so): its contents in d->v, d->len.  0, or -1. */
static int signer_der_next(struct signer_der *d, int tag, int cls)
{
	const unsigned char *q = d->p;
	int t, c;

	if (d->left <= 0 || (ASN1_get_object(&q, &d->len, &t, &c, d->left) & 0x80) || t != tag ||
	    c != cls)
		return -1;
	d->v = q;
	d->left -= (long)(q - d->p) + d->len;
	d->p = q + d->len;
	return 0;
}

/* Into the element just read. */
static struct signer_der signer_der_in(const struct signer_der *d)
{
	struct signer_der in = {d->v, NULL, d->len, 0};

	return in;
}

static int signer_der_is(const struct signer_der *d, const uint8_t *v, size_t len)
{
	return (size_t)d->len == len && memcmp(d->v, v, len) == 0;
}

/* An AlgorithmIdentifier: 1 when SM2 (ecPublicKey on the SM2 curve) or
 * Ed25519 (*alg says which), 0 another. */
static int signer_der_alg(struct signer_der *d, enum signer_alg *alg)
{
	struct signer_der a;

	if (signer_der_next(d, SIGNER_DER_SEQ, V_ASN1_UNIVERSAL) < 0)
		return 0;
	a = signer_der_in(d);
	if (signer_der_next(&a, SIGNER_DER_OID, V_ASN1_UNIVERSAL) < 0)
		return 0;
	if (signer_der_is(&a, signer_oid_ed25519, sizeof(signer_oid_ed25519)) && a.left == 0) {
		*alg = SIGNER_ED25519;
		return 1;
	}
	if (!signer_der_is(&a, signer_oid_ec, sizeof(signer_oid_ec)) ||
	    signer_der_next(&a, SIGNER_DER_OID, V_ASN1_UNIVERSAL) < 0 ||
	    !signer_der_is(&a, signer_oid_sm2, sizeof(signer_oid_sm2)) || a.left != 0)
		return 0;
	*alg = SIGNER_SM2;
	return 1;
}

/* An SM2 key from its point (04 || X || Y) and, for a private key, the
 * scalar. */
static EVP_PKEY *signer_sm2_key(const uint8_t *pub, const uint8_t *priv, size_t priv_len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	BIGNUM *d = priv ? BN_bin2bn(priv, (int)priv_len, NULL) : NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;

	if (bld && ctx && (!priv || d) &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_sm2, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, SIGNER_SM2_PUB) &&
	    (!d || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &key, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	OSSL_PARAM_free(params);
	BN_clear_free(d);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/* A PKCS#8 PrivateKeyInfo: 1 read (*key, *alg), 0 another algorithm or
 * layout, -1 damaged. */
static int signer_der_private(const unsigned char *der, long len, EVP_PKEY **key,
			      enum signer_alg *alg)
{
	struct signer_der top = {der, NULL, len, 0}, d, ec, scalar, opt;

	if (signer_der_next(&top, SIGNER_DER_SEQ, V_ASN1_UNIVERSAL) < 0)
		return -1;
	d = signer_der_in(&top);
	if (signer_der_next(&d, SIGNER_DER_INT, V_ASN1_UNIVERSAL) < 0)
		return -1;
	if (!signer_der_alg(&d, alg))
		return 0;
	if (signer_der_next(&d, SIGNER_DER_OCT, V_ASN1_UNIVERSAL) < 0)
		return -1;
	ec = signer_der_in(&d);
	if (*alg == SIGNER_ED25519) {
		if (signer_der_next(&ec, SIGNER_DER_OCT, V_ASN1_UNIVERSAL) < 0 || ec.len != 32)
			return -1;
		*key = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, ec.v, 32);
		return *key ? 1 : -1;
	}
	/* ECPrivateKey: version 1, the scalar, [0] the curve (optional: PKCS#8
	 * names it, checked above), [1] the point (optional: without it, left
	 * to the decoders, which compute it). */
	if (signer_der_next(&ec, SIGNER_DER_SEQ, V_ASN1_UNIVERSAL) < 0)
		return -1;
	ec = signer_der_in(&ec);
	if (signer_der_next(&ec, SIGNER_DER_INT, V_ASN1_UNIVERSAL) < 0 ||
	    signer_der_next(&ec, SIGNER_DER_OCT, V_ASN1_UNIVERSAL) < 0 || ec.len < 1 || ec.len > 32)
		return -1;
	scalar = ec;
	opt = ec;
	if (signer_der_next(&opt, 0, V_ASN1_CONTEXT_SPECIFIC) == 0)
		ec = opt;
	if (signer_der_next(&ec, 1, V_ASN1_CONTEXT_SPECIFIC) < 0)
		return ec.left == 0 ? 0 : -1;
	ec = signer_der_in(&ec);
	if (signer_der_next(&ec, SIGNER_DER_BIT, V_ASN1_UNIVERSAL) < 0 ||
	    ec.len != 1 + SIGNER_SM2_PUB || ec.v[0] != 0)
		return -1;
	*key = signer_sm2_key(ec.v + 1, scalar.v, (size_t)scalar.len);
	return *key ? 1 : -1;
}

/* A SubjectPublicKeyInfo: 1 read, 0 another algorithm, -1 damaged. */
static int signer_der_public(const unsigned char *der, long len, EVP_PKEY **key,
			     enum signer_alg *alg)
{
	struct signer_der top = {der, NULL, len, 0}, d;

	if (signer_der_next(&top, SIGNER_DER_SEQ, V_ASN1_UNIVERSAL) < 0)
		return -1;
	d = signer_der_in(&top);
	if (!signer_der_alg(&d, alg))
		return 0;
	if (signer_der_next(&d, SIGNER_DER_BIT, V_ASN1_UNIVERSAL) < 0 || d.len < 1 || d.v[0] != 0)
		return -1;
	if (*alg == SIGNER_ED25519)
		*key = d.len == 33
			   ? EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, d.v + 1, 32)
			   : NULL;
	else
		*key = d.len == 1 + SIGNER_SM2_PUB ? signer_sm2_key(d.v + 1, NULL, 0) : NULL;
	return *key ? 1 : -1;
}

/* A key from the first PEM block of f: a PRIVATE KEY, or (unless private
 * is set) a PUBLIC KEY.  1 read, 0 another kind of block (f rewound, for
 * the decoders), -1 no block or a damaged key (logged). */
static int signer_read_pem(FILE *f, const char *file, int private, EVP_PKEY **key,
			   enum signer_alg *alg)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	int rc = 0, public;

	if (!PEM_read(f, &name, &header, &der, &len)) {
		ERR_clear_error();
		log_warnx("signer: %s: no PEM key in it (empty, cut short or not PEM)", file);
		return -1;
	}
	public = strcmp(name, PEM_STRING_PUBLIC) == 0;
	if (strcmp(name, PEM_STRING_PKCS8INF) == 0)
		rc = signer_der_private(der, len, key, alg);
	else if (public)
		rc = private ? -1 : signer_der_public(der, len, key, alg);
	if (rc < 0) {
		ERR_clear_error();
		if (public && private)
			log_warnx("signer: %s: a public key; signing needs the private key", file);
		else
			log_warnx("signer: %s: a damaged %s (not a whole SM2 or Ed25519 key)", file,
				  name);
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(der, (size_t)len);
	if (rc == 0)
		rewind(f);
	return rc;
}

/* The same through OpenSSL's decoders: any format and algorithm they know. */
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
 * damaged file (read here or by the decoders, which do not check) would
 * make signatures nothing verifies. */
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
	char err[256];
	EVP_PKEY *key = NULL;
	FILE *f = fopen(file, "r");
	int rc;

	if (!f) {
		log_warn("signer: %s", file);
		return NULL;
	}
	rc = signer_read_pem(f, file, private, &key, alg);
	if (rc == 0)
		key = signer_decode_pem(f, private);
	fclose(f);
	if (rc < 0)
		return NULL;
	if (!key) {
		log_warnx("signer: %s: %s", file, signer_ssl_err(err, sizeof(err)));
		return NULL;
	}
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

/*
 * The PKCS#8 PRIVATE KEY, byte for byte as PEM_write_PrivateKey writes it,
 * without OpenSSL's encoders (measured: 63 KB of heap at a first start):
 * for SM2 the fixed bytes before the scalar and between it and the point
 * (the layout signer_der_private reads), for Ed25519 those before the key.
 */
static const uint8_t signer_p8_sm2_head[] = {0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06,
					     0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06,
					     0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D,
					     0x04, 0x6D, 0x30, 0x6B, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t signer_p8_sm2_mid[] = {0xA1, 0x44, 0x03, 0x42, 0x00};
static const uint8_t signer_p8_ed25519_head[] = {0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
						 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
#define SIGNER_P8_MAX (sizeof(signer_p8_sm2_head) + 32 + sizeof(signer_p8_sm2_mid) + SIGNER_SM2_PUB)

/* key as a PRIVATE KEY PEM to f.  1, or 0. */
static int signer_write_pem(FILE *f, EVP_PKEY *key, enum signer_alg alg)
{
	uint8_t der[SIGNER_P8_MAX], *p = der;
	size_t len = 32;
	BIGNUM *d = NULL;
	int ok;

	if (alg == SIGNER_ED25519) {
		memcpy(p, signer_p8_ed25519_head, sizeof(signer_p8_ed25519_head));
		p += sizeof(signer_p8_ed25519_head);
		ok = EVP_PKEY_get_raw_private_key(key, p, &len) == 1 && len == 32;
		p += 32;
	} else {
		memcpy(p, signer_p8_sm2_head, sizeof(signer_p8_sm2_head));
		p += sizeof(signer_p8_sm2_head);
		ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
		     BN_bn2binpad(d, p, 32) == 32;
		p += 32;
		memcpy(p, signer_p8_sm2_mid, sizeof(signer_p8_sm2_mid));
		p += sizeof(signer_p8_sm2_mid);
		ok = ok &&
		     EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, p,
						     SIGNER_SM2_PUB, &len) == 1 &&
		     len == SIGNER_SM2_PUB;
		p += SIGNER_SM2_PUB;
	}
	ok = ok && PEM_write(f, PEM_STRING_PKCS8INF, "", der, (long)(p - der)) > 0;
	BN_clear_free(d);
	OPENSSL_cleanse(der, sizeof(der));
	return ok;
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
	ok = f && signer_write_pem(f, key, alg);
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
