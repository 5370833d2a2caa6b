/* libFuzzer target: one candump line (the input, NUL-terminated) through
 * candump_parse_line; results go to a volatile sink so nothing is optimised out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/candump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct candump_frame f;
	char *line = malloc(size + 1);
	int rc;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	rc = candump_parse_line(line, &f);
	fuzz_sink += (uint64_t)(int64_t)rc;
	fuzz_sink += candump_strerror(rc)[0];
	if (rc == CANDUMP_OK) {
		/* Invariants the callers rely on. */
		if (f.len > sizeof(f.data) ||
		    strnlen(f.ifname, sizeof(f.ifname)) == sizeof(f.ifname))
			abort();
		if (f.can_id > (f.extended ? 0x1FFFFFFFu : 0x7FFu))
			abort();
		fuzz_sink += (uint64_t)f.t_us + f.can_id + f.len + f.rtr;
		for (uint8_t i = 0; i < f.len; i++)
			fuzz_sink += f.data[i];
	}
	free(line);
	return 0;
}
