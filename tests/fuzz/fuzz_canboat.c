/* libFuzzer target: one CANboat line (the input, NUL-terminated) through
 * canboat_parse_line and canboat_looks_like.  A line that parses is printed
 * back with its own timestamp text and must parse to the same message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/canboat.h"
#include "protocols/n2k.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;

static void fuzz_roundtrip(const char *line, const struct canboat_msg *m)
{
	static char buf[64 + 3 * CANBOAT_MAX_DATA + 64];
	struct canboat_msg again;
	const char *p = line, *comma;
	size_t n;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	comma = strchr(p, ',');
	if (!comma || comma - p > 64)
		abort(); /* a line that parsed has a timestamp field of <= 35 chars */
	n = (size_t)snprintf(buf, sizeof(buf), "%.*s,%u,%u,%u,%u,%u", (int)(comma - p), p, m->prio,
			     (unsigned)m->pgn, m->src, m->dst, m->len);
	for (unsigned i = 0; i < m->len && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",%02x", m->data[i]);
	if (n >= sizeof(buf))
		abort();
	if (canboat_parse_line(buf, &again) != CANBOAT_OK || again.has_time != m->has_time ||
	    again.t_us != m->t_us || again.prio != m->prio || again.pgn != m->pgn ||
	    again.src != m->src || again.dst != m->dst || again.len != m->len ||
	    memcmp(again.data, m->data, m->len) != 0)
		abort();
	if (canboat_looks_like(buf) != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct canboat_msg m;
	struct n2k_msg msg;
	char *line = malloc(size + 1);
	int rc;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	rc = canboat_parse_line(line, &m);
	fuzz_sink += (uint64_t)(int64_t)rc;
	fuzz_sink += canboat_strerror(rc)[0];
	fuzz_sink += (uint64_t)canboat_looks_like(line);
	if (rc == CANBOAT_OK) {
		/* Invariants the callers rely on. */
		if (m.prio > 7 || m.pgn > 0x3FFFF || m.len > CANBOAT_MAX_DATA ||
		    (m.has_time && m.t_us < 0) || (!m.has_time && m.t_us != 0) ||
		    canboat_looks_like(line) != 1)
			abort();
		fuzz_roundtrip(line, &m);
		rc = n2k_decode(m.pgn, m.data, m.len, &msg);
		fuzz_sink += (uint64_t)(int64_t)rc + (uint64_t)msg.n;
	}
	free(line);
	return 0;
}
