/* libFuzzer target: the first 4 bytes pick a PGN (mostly one we decode, else
 * any 18-bit PGN) and are parsed as a CAN id; the rest is the frame's data. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "protocols/j1939.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile double fuzz_sink_value;
static volatile uint64_t fuzz_sink;

static const uint32_t fuzz_pgns[] = {
    61444, 61443, 65247, 65262, 65266, 61450, 65270, 65269, 65265, 65253,
    65248, 65217, 65276, 61454, 61455, 64946, 65110, 64830, 64916, 64892,
};

#define FUZZ_NPGNS (sizeof(fuzz_pgns) / sizeof(fuzz_pgns[0]))

static void fuzz_decode(uint32_t pgn, const uint8_t *data, size_t len)
{
	struct j1939_frame fr;
	int rc = j1939_decode(pgn, data, len, &fr);

	fuzz_sink += (uint64_t)(int64_t)rc;
	fuzz_sink += j1939_strerror(rc)[0];
	if (rc != J1939_OK)
		return;
	if (fr.n < 0 || fr.n > J1939_MAX_VALUES || fr.n_na < 0 || fr.n_error < 0 ||
	    fr.n_reserved < 0 || !j1939_pgn_name(pgn))
		abort();
	for (int i = 0; i < fr.n; i++) {
		if ((unsigned)fr.v[i].sig >= SIG_COUNT)
			abort();
		fuzz_sink_value += fr.v[i].value;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct j1939_id id;
	uint32_t sel, pgn;

	if (size < 4)
		return 0;
	sel = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	      (uint32_t)data[3] << 24;
	/* High bit clear: a known PGN, so most inputs reach the extractor. */
	if (sel & 0x80000000u)
		pgn = sel & 0x3FFFFu;
	else
		pgn = fuzz_pgns[sel % FUZZ_NPGNS];
	j1939_id_parse(sel, &id);
	fuzz_sink += id.prio + id.pgn + id.sa + id.da;
	fuzz_decode(pgn, data + 4, size - 4);
	fuzz_decode(id.pgn, data + 4, size - 4);
	return 0;
}
