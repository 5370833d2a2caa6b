/* libFuzzer target: the key reader of gateway/signer.c (OpenSSL's PEM
 * decoders, the check that a private key's public key is its own, the
 * message saying why a file holds no key), linked with log.c.  Whatever the
 * file, reading ends with a key or with a message; a private key read signs,
 * and the signature verifies under the same file read as a public key. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gateway/signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t msg[] = "emgw-seal/1\nfuzz";
	uint8_t r[SIGNER_PART], s[SIGNER_PART];
	char path[64];
	struct signer *sg;
	struct signer_verifier *v;
	int fd = memfd_create("key", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	v = signer_verifier_open(path);
	sg = signer_soft_open_any(path, "1234567812345678");
	if (sg) {
		/* A private key is a public key too. */
		if (!v || sg->sign(sg, msg, sizeof(msg), r, s) < 0 ||
		    signer_verify(v, "1234567812345678", msg, sizeof(msg), r, s) != 1)
			abort();
		sg->close(sg);
	}
	signer_verifier_close(v);
	close(fd);
	return 0;
}
