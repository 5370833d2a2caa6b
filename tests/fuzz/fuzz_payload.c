/* libFuzzer target: payload decode of arbitrary bytes, as a record and as
 * an event.  Whatever decodes must encode, and that text must decode and
 * encode again to the same bytes (the codec is its own inverse). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct payload_record rec;
static struct payload_event ev;
static struct payload_evidence evidence;
static char first[1 << 17], second[1 << 17];

static void fuzz_check(int n1, int n2)
{
	/* 12 significant digits read back print the same: same bytes */
	if (n1 < 0 || n2 != n1 || memcmp(first, second, (size_t)n1) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct payload_header h;
	int n1, n2;

	if (payload_decode_record((const char *)data, size, &h, &rec) == 0) {
		n1 = payload_encode_record(&h, &rec, first, sizeof(first));
		if (n1 < 0 || payload_decode_record(first, (size_t)n1, &h, &rec) != 0)
			abort();
		n2 = payload_encode_record(&h, &rec, second, sizeof(second));
		fuzz_check(n1, n2);
	}
	if (payload_decode_event((const char *)data, size, &h, &ev, &evidence) == 0) {
		n1 = payload_encode_event(&h, &ev, first, sizeof(first));
		if (n1 < 0 || payload_decode_event(first, (size_t)n1, &h, &ev, &evidence) != 0)
			abort();
		n2 = payload_encode_event(&h, &ev, second, sizeof(second));
		fuzz_check(n1, n2);
	}
	return 0;
}
