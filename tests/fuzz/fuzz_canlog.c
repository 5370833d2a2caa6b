/* libFuzzer target: one log line (the input, NUL-terminated) through
 * canlog_parse; results go to a volatile sink so nothing is optimised out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/canlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct canlog_line l;
	char *line = malloc(size + 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	switch (canlog_parse(line, &l)) {
	case CANLOG_BAD:
		if (!l.why || !l.why[0])
			abort();
		fuzz_sink += (uint64_t)l.why[0];
		break;
	case CANLOG_FRAME:
		if (l.frame.len > sizeof(l.frame.data) || l.has_time != l.frame.has_time)
			abort();
		fuzz_sink += (uint64_t)l.t_us + l.frame.can_id;
		break;
	case CANLOG_N2K:
		if (l.msg.len > CANBOAT_MAX_DATA || l.has_time != l.msg.has_time)
			abort();
		fuzz_sink += (uint64_t)l.t_us + l.msg.pgn;
		break;
	case CANLOG_SKIP:
		break;
	}
	free(line);
	return 0;
}
