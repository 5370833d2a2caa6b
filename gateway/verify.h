/* verify: emgwd --verify: proves from saved messages (JSON lines) that every
 * row a device sealed is there, unchanged, once, under its seals' chain and
 * key; reports per device and boot what is not.  Owns the rows it reads;
 * knows nothing of the store or the uplinks (README "Verifying"). */
#ifndef EMGW_VERIFY_H
#define EMGW_VERIFY_H

#include <stddef.h>
#include <stdio.h>

#include "gateway/signer.h"

#define VERIFY_MAX_KEYS 16

struct verify;

/* A verifier checking seals against keys[n] (not owned, 1..VERIFY_MAX_KEYS):
 * a seal names its key, so a device's old and new keys may be given
 * together.  NULL on error (logged). */
struct verify *verify_new(struct signer_verifier *const *keys, size_t n);
/* One input line: a payload, a batch {"v":1,"dev":..,"records":[..]}, or
 * either after "topic<TAB>" / "topic " (as a subscriber prints them).  Rows
 * taken (0: a JSON object without a seq, such as status, left out), or -1
 * when the line is not one of these (counted as a problem). */
int verify_line(struct verify *v, const char *line, size_t len);
/* Check everything read and write the findings to out, one line each:
 * 0 when all is proven, 1 when not. */
int verify_report(struct verify *v, FILE *out);
void verify_free(struct verify *v);
/* emgwd --verify: the lines of file ("-": stdin) against the public keys
 * in key_pems[n_keys]; findings to out.  0 all proven, 1 not, 2 unusable
 * input or key. */
int verify_run(const char *file, const char *const *key_pems, size_t n_keys, FILE *out);

#endif
