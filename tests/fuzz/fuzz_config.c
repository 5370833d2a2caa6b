/* libFuzzer target: the configuration parser (gateway/config.c, with inih)
 * on any bytes as the main file.  It must never crash, read out of bounds or
 * leak, whatever the file holds: every mistake is an error count, and a
 * file that loads has values within their documented ranges.
 * The input is a memfd, named as /proc/self/fd/N: config_load reads a path,
 * as emgwd does (includes and profiles it names are read too). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gateway/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config fuzz_cfg; /* large: not on the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(path, &fuzz_cfg) == 0) {
		/* what a clean file gives holds what the rest of emgwd relies on */
		if (!fuzz_cfg.id[0] || memchr(fuzz_cfg.id, '\0', sizeof(fuzz_cfg.id)) == NULL ||
		    fuzz_cfg.n_can < 0 || fuzz_cfg.n_can > CONFIG_MAX_CAN ||
		    fuzz_cfg.n_mbdev > CONFIG_MAX_MBDEV || fuzz_cfg.n_point > CONFIG_MAX_POINTS ||
		    fuzz_cfg.stage < 1 || fuzz_cfg.stage > 6 || fuzz_cfg.sample.period_ms <= 0 ||
		    (fuzz_cfg.n_can == 0 && fuzz_cfg.n_mbdev == 0 && !fuzz_cfg.gnss.enabled))
			abort();
	}
	close(fd);
	return 0;
}
