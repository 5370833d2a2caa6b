/* signer: SM2 signatures (SM3 digest) for the HJ 1239 / HJ 1322 platform link
 * and the seals, Ed25519 as the seals' option, behind a small interface so
 * that a hardware security chip can replace the software key.  Owns its key;
 * knows nothing of frames or sockets. */
#ifndef EMGW_SIGNER_H
#define EMGW_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIGNER_PART   32 /* r and s, each left-padded to 32 bytes */
#define SIGNER_PUBKEY 64 /* X || Y; an Ed25519 key's 32 bytes and 32 zero bytes */

enum signer_alg {
	SIGNER_SM2,	/* r, s over SM3(Z || M), Z from the id and the key */
	SIGNER_ED25519, /* R, S over M itself (RFC 8032); no id */
};

/* A signer back-end: a software key now, a security chip later. */
struct signer {
	/* Sign len bytes of data: r and s, raw, left-padded.  0 or -1 (logged). */
	int (*sign)(struct signer *sg, const uint8_t *data, size_t len, uint8_t r[SIGNER_PART],
		    uint8_t s[SIGNER_PART]);
	/* The public key as X || Y.  0 or -1. */
	int (*pubkey)(struct signer *sg, uint8_t xy[SIGNER_PUBKEY]);
	/* Free. */
	void (*close)(struct signer *sg);
	enum signer_alg alg;
};

/* Software back-end: an SM2 private key from a PEM file; id is the SM2
 * distinguishing identifier (the security chip's id).  NULL on error (logged). */
struct signer *signer_soft_open(const char *key_file, const char *id);
/* The same for an SM2 or an Ed25519 key: the file says which. */
struct signer *signer_soft_open_any(const char *key_file, const char *id);

/* Make a new SM2 private key in PEM at key_file (mode 0600, created
 * exclusively) unless the file exists.  1 made, 0 it was there, -1 on error
 * (logged). */
int signer_soft_generate(const char *key_file);
/* The same for an alg key. */
int signer_soft_generate_alg(const char *key_file, enum signer_alg alg);
/* "sm2" or "ed25519". */
const char *signer_alg_name(enum signer_alg alg);
/* Write the public key of a PEM file (public or private key) as a PUBLIC
 * KEY PEM to f.  0 or -1 (logged). */
int signer_print_pubkey(const char *pem_file, FILE *f);

struct signer_verifier;

/* An SM2 or Ed25519 public key from a PEM file (public or private key).
 * NULL on error (logged). */
struct signer_verifier *signer_verifier_open(const char *pem_file);
/* Its algorithm. */
enum signer_alg signer_verifier_alg(const struct signer_verifier *v);
/* 1 when r, s is a valid signature of data under id (SM2; Ed25519 has no
 * id), 0 when not, -1 on error. */
int signer_verify(struct signer_verifier *v, const char *id, const uint8_t *data, size_t len,
		  const uint8_t r[SIGNER_PART], const uint8_t s[SIGNER_PART]);
/* The same for a signature as OpenSSL makes it: SM2's DER ECDSA-Sig-Value,
 * Ed25519's R || S. */
int signer_verify_sig(struct signer_verifier *v, const char *id, const uint8_t *data, size_t len,
		      const uint8_t *sig, size_t sig_len);
/* The verifier's public key as X || Y.  0 or -1. */
int signer_verifier_pubkey(struct signer_verifier *v, uint8_t xy[SIGNER_PUBKEY]);
/* Free. */
void signer_verifier_close(struct signer_verifier *v);

/* r, s to a DER ECDSA-Sig-Value (what `openssl pkeyutl -verify` reads) in
 * out; returns its length, or -1. */
int signer_to_der(const uint8_t r[SIGNER_PART], const uint8_t s[SIGNER_PART], uint8_t *out,
		  size_t size);
/* A DER signature to r, s, left-padded.  0 or -1. */
int signer_from_der(const uint8_t *der, size_t len, uint8_t r[SIGNER_PART], uint8_t s[SIGNER_PART]);

#endif
