/* hjdecode: `emgwd --hj-decode`, HJ 1322 / HJ 1239 / GB 17691 frames printed as one JSON
 * line each, for people debugging a platform link; also the frame-to-JSON
 * rendering the platform simulator uses.  Owns only its input and output;
 * touches no daemon state. */
#ifndef EMGW_HJDECODE_H
#define EMGW_HJDECODE_H

#include <jansson.h>
#include <stdio.h>

#include "gateway/signer.h"
#include "protocols/hjframe.h"

#define HJDECODE_DEFAULT_ID "1234567812345678" /* GM/T 0009's default SM2 id */

/* f (decoded from the len bytes at buf) as a JSON object; times in the
 * platform's local time offset_s seconds ahead of UTC.  With a verifier, the
 * signature is checked under SM2 id `id`. */
json_t *hjdecode_json(const struct hj_frame *f, const uint8_t *buf, size_t len, int offset_s,
		      struct signer_verifier *v, const char *id);

/* A --variant name: nrmm, road (HJ 1239), gb17691 (Annex Q: layout Q1, or
 * Q2 when Q1 fails), gb17691-q1, gb17691-q2 (signature after each unit).
 * 0, or -1 for an unknown name. */
int hjdecode_variant(const char *name, enum hj_variant *v, int *layout);

/* Decode arg: a file of hex lines or raw bytes when such a file exists,
 * else hex on the command line, as the frames of variant (a --variant name).
 * One JSON line a frame to out.  pubkey_file
 * (may be NULL): verify signatures with it under id.  0 when every frame
 * decoded with a good BCC, 1 when some did not, -1 when arg could not be read. */
int hjdecode_run(const char *arg, const char *variant, const char *pubkey_file, const char *id,
		 int offset_s, FILE *out);

#endif
