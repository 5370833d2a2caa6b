/* libFuzzer target: the input is a sequence of 13-byte records, each one CAN
 * frame fed to j1939tp: 4-byte identifier (little-endian), 1 byte (low
 * nibble: data length 0-15, fed as at most 8; high nibble: time step in
 * 100 ms), 8 data bytes.  With the identifier's top bit clear the frame is
 * made a TP.CM or TP.DT between a few addresses, so sessions meet. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "protocols/j1939.h"
#include "protocols/j1939tp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_LEN 13

static volatile uint64_t fuzz_sink;
static struct j1939tp fuzz_tp;

/* A completed message lies inside one session buffer and is readable. */
static void fuzz_check_msg(const struct j1939tp_msg *m)
{
	int inside = 0;

	if (m->len < J1939TP_MIN_SIZE || m->len > J1939TP_MAX_SIZE || !m->data)
		abort();
	for (int i = 0; i < J1939TP_MAX_SESSIONS; i++) {
		const uint8_t *b = fuzz_tp.s[i].buf;

		if (m->data >= b && m->data + m->len <= b + sizeof(fuzz_tp.s[i].buf))
			inside = 1;
	}
	if (!inside)
		abort();
	for (size_t i = 0; i < m->len; i++)
		fuzz_sink += m->data[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t opened = 0;
	int64_t now = 0;

	j1939tp_init(&fuzz_tp);
	for (size_t off = 0; size - off >= REC_LEN; off += REC_LEN) {
		const uint8_t *r = data + off;
		uint32_t id = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 |
			      (uint32_t)r[3] << 24;
		size_t len = r[4] & 0x0F;
		const struct j1939tp_counters *c;
		struct j1939tp_msg m;
		struct j1939_id jid;
		int rc;

		if (len > 8)
			len = 8;
		now += (int64_t)(r[4] >> 4) * 100;
		if (!(id & 0x80000000u)) {
			uint32_t pf = (id & 0x40000000u) ? 0xEC : 0xEB;
			uint32_t sa = r[0] & 0x03;
			uint32_t da = (r[1] & 0x04) ? 0xFF : (r[1] & 0x03);

			id = 0x1C000000u | pf << 16 | da << 8 | sa;
		}
		rc = j1939tp_feed(&fuzz_tp, id, r + 5, len, now, &m);
		fuzz_sink += j1939tp_strerror(rc)[0];
		if (rc < J1939TP_ENOSESSION || rc > J1939TP_DONE)
			abort();
		if (rc == J1939TP_DONE)
			fuzz_check_msg(&m);
		j1939_id_parse(id, &jid);
		if (rc == J1939TP_OK && jid.pgn == J1939TP_PGN_CM && len == 8 &&
		    (r[5] == 16 || r[5] == 32))
			opened++;
		/* Every session opened is still open or ended in one counter. */
		c = j1939tp_counters(&fuzz_tp);
		if (opened != c->completed + c->aborted + c->timed_out + c->dropped +
				  (uint64_t)j1939tp_active(&fuzz_tp))
			abort();
	}
	return 0;
}
