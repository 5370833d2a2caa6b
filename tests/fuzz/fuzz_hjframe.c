/* libFuzzer target: the first byte picks the variant (nrmm, road, gb17691,
 * gb17691 with unit signatures), the rest is a stream of frames, decoded one after another as the
 * platform link reads them; every decoded frame is encoded again and must decode to the same length
 * and, after that one round, to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/hjframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;
static struct hj_frame fuzz_f, fuzz_g;
static uint8_t fuzz_buf[HJ_HDR_LEN + HJ_MAX_DATA + 1], fuzz_buf2[HJ_HDR_LEN + HJ_MAX_DATA + 1];

static void fuzz_check(const uint8_t *p, size_t n, enum hj_variant v, unsigned flags)
{
	double val;
	int len;

	for (int i = 0; i < fuzz_f.n_info; i++)
		for (int f = 0; f < HJ_F_COUNT; f++)
			if (hj_stream_get(&fuzz_f.info[i].u.stream, f, &val) == 0)
				fuzz_sink += (uint64_t)val;
	fuzz_sink += hj_cmd_name(v, fuzz_f.cmd)[0];
	len = hj_encode(&fuzz_f, fuzz_buf, sizeof(fuzz_buf));
	if (len < 0)
		return; /* e.g. an nrmm report with no information unit */
	/* Same length (text fields are fixed width); decodes again, and that
	 * encodes to the very same bytes (a NUL inside a text field is the
	 * only thing one round may change). */
	if ((size_t)len != n)
		abort();
	if (hj_decode_opt(fuzz_buf, (size_t)len, v, flags, &fuzz_g) != len || !fuzz_g.bcc_ok)
		abort();
	if (hj_encode(&fuzz_g, fuzz_buf2, sizeof(fuzz_buf2)) != len ||
	    memcmp(fuzz_buf, fuzz_buf2, (size_t)len) != 0)
		abort();
	(void)p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum hj_variant vs[4] = {HJ_NRMM, HJ_ROAD, HJ_GB17691, HJ_GB17691};
	enum hj_variant v;
	unsigned flags;
	size_t off = 1;

	if (size < 1)
		return 0;
	v = vs[data[0] & 3];
	flags = (data[0] & 3) == 3 ? HJ_DEC_UNIT_SIG : 0;
	while (off < size) {
		int len = hj_frame_len(data + off, size - off);
		int rc;

		if (len == HJ_ESHORT || len == HJ_ETOOLONG)
			break;
		if (len < 0) {
			off++;
			continue;
		}
		rc = hj_decode_opt(data + off, (size_t)len, v, flags, &fuzz_f);
		fuzz_sink += (uint64_t)(int64_t)rc + hj_strerror(rc)[0];
		if (rc > 0)
			fuzz_check(data + off, (size_t)len, v, flags);
		off += (size_t)len;
	}
	return 0;
}
