/* libFuzzer target: the first 8 bytes define a point (table, type, order,
 * count, bit, scale, range), the rest are its registers, big-endian.
 * Decoding must never read past them, and what it gives must be sane: a
 * finite number, or printable text; an encoded value must decode. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/mbpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile double fuzz_sink_value;
static volatile size_t fuzz_sink;

static const double fuzz_scales[] = {1, 0.1, 0.05, 0.03125, -2, 1e-6, 1000, 0};

static void fuzz_point(struct mbpoint *p, const uint8_t *d)
{
	mbpoint_init(p);
	p->table = d[0] & 3;
	p->type = d[1] % 12; /* 11 is no type at all */
	p->word_swap = d[2] & 1;
	p->byte_swap = (d[2] >> 1) & 1;
	p->count = d[3] % 40;
	p->bit = d[4] % 18;
	p->scale = fuzz_scales[d[5] % 8];
	p->offset = (int8_t)d[6];
	p->has_min = d[7] & 1;
	p->has_max = (d[7] >> 1) & 1;
	p->min = -(double)(d[7] >> 2);
	p->max = (double)(d[7] >> 2) * 100;
	p->address = (d[4] & 0x80) ? 65530 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t w[64], back[64];
	struct mbpoint p;
	struct mbpoint_value v, v2;
	size_t n;
	int rc;

	if (size < 8)
		return 0;
	fuzz_point(&p, data);
	n = (size - 8) / 2;
	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		w[i] = (uint16_t)(data[8 + 2 * i] << 8 | data[9 + 2 * i]);
	rc = mbpoint_decode(&p, w, n, &v);
	fuzz_sink += strlen(mbpoint_strerror(rc));
	if (rc == MBPOINT_OK || rc == MBPOINT_ERANGE) {
		if (v.is_text) {
			for (size_t i = 0; v.text[i]; i++)
				if (v.text[i] < 0x20 || v.text[i] > 0x7E)
					abort();
		} else if (!isfinite(v.value) && rc == MBPOINT_OK) {
			abort();
		}
		fuzz_sink_value += v.value;
		/* what decoded encodes back into the same number of registers */
		memcpy(back, w, n * sizeof(w[0]));
		if (mbpoint_encode(&p, v.value, v.text, back, n) != MBPOINT_OK)
			abort();
		rc = mbpoint_decode(&p, back, n, &v2);
		if (rc == MBPOINT_ESHORT || rc == MBPOINT_EINVAL)
			abort();
	}
	if (mbpoint_width(&p) > (int)MBPOINT_MAX_WIDTH)
		abort();
	return 0;
}
