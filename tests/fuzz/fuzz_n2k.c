/* libFuzzer target: the input is a run of 13-byte CAN frames (4 bytes id,
 * little-endian; 1 byte: low nibble the data length, capped at 8, high nibble
 * the time since the previous frame in 64 ms steps; 8 bytes data).  Ids with
 * bit 31 clear pick a PGN this codec decodes (bits 8-9) and a source (bits
 * 0-1, so senders collide and interleave); others are split as J1939 ids.
 * Fast-packet PGNs go through the reassembler, the rest and every completed
 * message through n2k_decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "protocols/j1939.h"
#include "protocols/n2k.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FRAME 13

static volatile double fuzz_sink_value;
static volatile uint64_t fuzz_sink;

static const uint32_t fuzz_pgns[] = {127488, 127489, 127497, 127489};

static void fuzz_decode(uint32_t pgn, const uint8_t *data, size_t len)
{
	struct n2k_msg msg;
	int rc = n2k_decode(pgn, data, len, &msg);

	fuzz_sink += (uint64_t)(int64_t)rc;
	fuzz_sink += n2k_strerror(rc)[0];
	if (rc != N2K_OK) {
		if (msg.n != 0 || msg.n_missing != 0)
			abort();
		return;
	}
	if (!n2k_pgn_name(pgn) || msg.n < 0 || msg.n > N2K_MAX_VALUES || msg.n_na < 0 ||
	    msg.n_error < 0 || msg.n_missing != msg.n_na + msg.n_error || msg.instance != data[0])
		abort();
	for (int i = 0; i < msg.n; i++) {
		if ((unsigned)msg.v[i].sig >= SIG_COUNT)
			abort();
		fuzz_sink_value += msg.v[i].value;
	}
}

/* Every slot in a consistent state; every frame counted once somewhere. */
static void fuzz_check(const struct n2k_fp *fp)
{
	for (size_t i = 0; i < N2K_FP_SLOTS; i++) {
		const struct n2k_fp_slot *s = &fp->slot[i];

		if (s->used && (s->total == 0 || s->total > N2K_FP_MAX || s->got >= s->total ||
				s->next == 0 || s->next > 31 || s->seq > 7))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct n2k_fp fp;
	uint64_t now_ms = 1000;

	n2k_fp_init(&fp, 0);
	for (; size >= FUZZ_FRAME; data += FUZZ_FRAME, size -= FUZZ_FRAME) {
		uint32_t id = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			      (uint32_t)data[3] << 24;
		size_t len = data[4] & 0x0F;
		const uint8_t *frame = data + 5;
		struct n2k_fp_msg m;
		uint32_t pgn;
		uint8_t sa;
		int rc;

		if (len > 8)
			len = 8;
		now_ms += (uint64_t)(data[4] >> 4) * 64;
		if (id & 0x80000000u) {
			struct j1939_id jid;

			j1939_id_parse(id, &jid);
			pgn = jid.pgn;
			sa = jid.sa;
		} else {
			pgn = fuzz_pgns[(id >> 8) & 3];
			sa = (uint8_t)(id & 3);
		}
		if (!n2k_is_fast_packet(pgn)) {
			fuzz_decode(pgn, frame, len);
			continue;
		}
		rc = n2k_fp_add(&fp, pgn, sa, frame, len, now_ms, &m);
		fuzz_sink += n2k_strerror(rc)[0];
		fuzz_check(&fp);
		if (rc < N2K_EORPHAN || rc > 1)
			abort();
		if (rc != 1)
			continue;
		if (m.pgn != pgn || m.sa != sa || m.len == 0 || m.len > N2K_FP_MAX || !m.data)
			abort();
		fuzz_decode(m.pgn, m.data, m.len);
	}
	fuzz_sink += fp.stats.frames + fp.stats.messages;
	return 0;
}
