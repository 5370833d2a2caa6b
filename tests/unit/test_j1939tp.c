/* Unit tests for protocols/j1939tp.c: scripted frame sequences (BAM,
 * overheard RTS/CTS, aborts, timeouts, bad frames), each checked for the
 * messages it completes and the counters it leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/j1939tp.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Priority 7 TP.CM / TP.DT identifiers: PF 0xEC / 0xEB, PS = destination. */
#define CM(sa, da) (0x1CEC0000u | (uint32_t)(da) << 8 | (uint32_t)(sa))
#define DT(sa, da) (0x1CEB0000u | (uint32_t)(da) << 8 | (uint32_t)(sa))
#define EEC1_ID	   0x0CF00400u

#define ENG  0x00 /* engine */
#define ACM  0x3D /* aftertreatment */
#define TOOL 0xF9 /* service tool */
#define GLOB 0xFF

/*
 * VIN "1FUJGLDR5CLBP8834*" = 18 bytes (0x12) -> ceil(18 / 7) = 3 packets;
 * PGN 65260 = 0x00FEEC -> EC FE 00.  Packet 3 carries bytes 15-18
 * ("834*") and 3 bytes of 0xFF padding.
 */
#define VIN_BAM                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x20, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00                                     \
	}
#define VIN_RTS                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x10, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00                                     \
	}
#define VIN_DT1                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x01, '1', 'F', 'U', 'J', 'G', 'L', 'D'                                            \
	}
#define VIN_DT2                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x02, 'R', '5', 'C', 'L', 'B', 'P', '8'                                            \
	}
#define VIN_DT3                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x03, '8', '3', '4', '*', 0xFF, 0xFF, 0xFF                                         \
	}
#define VIN_TEXT "1FUJGLDR5CLBP8834*"
/* CTS: 2 packets from 1; 1 packet from 3; EOMA: 18 bytes, 3 packets. */
#define VIN_CTS12                                                                                  \
	8,                                                                                         \
	{                                                                                          \
		0x11, 0x02, 0x01, 0xFF, 0xFF, 0xEC, 0xFE, 0x00                                     \
	}
#define VIN_CTS3                                                                                   \
	8,                                                                                         \
	{                                                                                          \
		0x11, 0x01, 0x03, 0xFF, 0xFF, 0xEC, 0xFE, 0x00                                     \
	}
#define VIN_EOMA                                                                                   \
	8,                                                                                         \
	{                                                                                          \
		0x13, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00                                     \
	}
/* Abort, reason 3 (timeout), PGN 65260. */
#define VIN_ABORT                                                                                  \
	8,                                                                                         \
	{                                                                                          \
		0xFF, 0x03, 0xFF, 0xFF, 0xFF, 0xEC, 0xFE, 0x00                                     \
	}

/*
 * DM1 from the ACM, 10 bytes (0x0A) -> 2 packets; PGN 65226 = 0xFECA:
 * lamps 0x04 (amber on), flash 0xFF, DTC SPN 3216 (0x0C90) FMI 2 OC 1 =
 * 90 0C 02 01, DTC SPN 5246 (0x147E) FMI 0 OC 1 = 7E 14 00 01.
 */
#define DM1_BAM                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x20, 0x0A, 0x00, 0x02, 0xFF, 0xCA, 0xFE, 0x00                                     \
	}
#define DM1_DT1                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x01, 0x04, 0xFF, 0x90, 0x0C, 0x02, 0x01, 0x7E                                     \
	}
#define DM1_DT2                                                                                    \
	8,                                                                                         \
	{                                                                                          \
		0x02, 0x14, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF                                     \
	}
#define DM1_BYTES                                                                                  \
	{                                                                                          \
		0x04, 0xFF, 0x90, 0x0C, 0x02, 0x01, 0x7E, 0x14, 0x00, 0x01                         \
	}

struct step {
	int64_t t_ms;
	uint32_t id;
	uint8_t len;
	uint8_t d[8];
	int rc;
};

struct want_msg {
	uint32_t pgn;
	uint8_t sa, da;
	int bam;
	size_t len;
	uint8_t data[24];
};

struct scenario {
	const char *what;
	struct step steps[16];	 /* ends at the first step with id 0 */
	struct want_msg msgs[2]; /* in the order the J1939TP_DONE steps produce them */
	struct j1939tp_counters want;
	int active; /* sessions still open at the end */
};

#define VIN_MSG(sa, da, bam)                                                                       \
	{                                                                                          \
		65260, sa, da, bam, 18, VIN_TEXT                                                   \
	}

static const struct scenario scenarios[] = {
    {"BAM VIN, 3 packets",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {60, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {110, DT(ENG, GLOB), VIN_DT2, J1939TP_OK},
      {160, DT(ENG, GLOB), VIN_DT3, J1939TP_DONE}},
     {VIN_MSG(ENG, GLOB, 1)},
     {.completed = 1},
     0},
    {"BAM gap of exactly T1 750 ms is still in time",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {750, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {1500, DT(ENG, GLOB), VIN_DT2, J1939TP_OK},
      {2250, DT(ENG, GLOB), VIN_DT3, J1939TP_DONE}},
     {VIN_MSG(ENG, GLOB, 1)},
     {.completed = 1},
     0},
    {"BAM timed out after 751 ms, late packet is an orphan",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {100, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {851, DT(ENG, GLOB), VIN_DT2, J1939TP_ENOSESSION},
      {900, DT(ENG, GLOB), VIN_DT3, J1939TP_ENOSESSION}},
     {{0}},
     {.timed_out = 1, .orphan = 2},
     0},
    {"RTS/CTS overheard between engine and tool",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {20, CM(TOOL, ENG), VIN_CTS12, J1939TP_OK},
      {30, DT(ENG, TOOL), VIN_DT1, J1939TP_OK},
      {40, DT(ENG, TOOL), VIN_DT2, J1939TP_OK},
      {60, CM(TOOL, ENG), VIN_CTS3, J1939TP_OK},
      {70, DT(ENG, TOOL), VIN_DT3, J1939TP_DONE},
      {90, CM(TOOL, ENG), VIN_EOMA, J1939TP_OK}},
     {VIN_MSG(ENG, TOOL, 0)},
     {.completed = 1},
     0},
    {"RTS/CTS waits up to T2 1250 ms for data after a CTS",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {1000, CM(TOOL, ENG), VIN_CTS12, J1939TP_OK},
      {2250, DT(ENG, TOOL), VIN_DT1, J1939TP_OK},
      {2300, DT(ENG, TOOL), VIN_DT2, J1939TP_OK},
      /* window done: the receiver's CTS may take T3 1250 ms */
      {3550, CM(TOOL, ENG), VIN_CTS3, J1939TP_OK},
      {3560, DT(ENG, TOOL), VIN_DT3, J1939TP_DONE}},
     {VIN_MSG(ENG, TOOL, 0)},
     {.completed = 1},
     0},
    {"RTS/CTS inside a CTS window packets are due within T1",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {10, CM(TOOL, ENG), VIN_CTS12, J1939TP_OK},
      {20, DT(ENG, TOOL), VIN_DT1, J1939TP_OK},
      {771, DT(ENG, TOOL), VIN_DT2, J1939TP_ENOSESSION}},
     {{0}},
     {.timed_out = 1, .orphan = 1},
     0},
    {"RTS/CTS aborted by the receiver",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {10, CM(TOOL, ENG), VIN_CTS12, J1939TP_OK},
      {20, DT(ENG, TOOL), VIN_DT1, J1939TP_OK},
      {30, CM(TOOL, ENG), VIN_ABORT, J1939TP_OK},
      {40, DT(ENG, TOOL), VIN_DT2, J1939TP_ENOSESSION}},
     {{0}},
     {.aborted = 1, .orphan = 1},
     0},
    {"RTS/CTS aborted by the sender",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK}, {10, CM(ENG, TOOL), VIN_ABORT, J1939TP_OK}},
     {{0}},
     {.aborted = 1},
     0},
    {"Abort naming another PGN is ignored",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {10, CM(TOOL, ENG), 8, {0xFF, 0x03, 0xFF, 0xFF, 0xFF, 0xCA, 0xFE, 0x00}, J1939TP_OK}},
     {{0}},
     {0},
     1},
    {"EOMA while we still miss packet 2: the message is lost",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {10, CM(TOOL, ENG), 8, {0x11, 0x03, 0x01, 0xFF, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_OK},
      {20, DT(ENG, TOOL), VIN_DT1, J1939TP_OK},
      {30, DT(ENG, TOOL), VIN_DT3, J1939TP_OK},
      {50, CM(TOOL, ENG), VIN_EOMA, J1939TP_OK}},
     {{0}},
     {.aborted = 1},
     0},
    {"interleaved BAMs from engine and ACM",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {5, CM(ACM, GLOB), DM1_BAM, J1939TP_OK},
      {55, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {60, DT(ACM, GLOB), DM1_DT1, J1939TP_OK},
      {105, DT(ENG, GLOB), VIN_DT2, J1939TP_OK},
      {110, DT(ACM, GLOB), DM1_DT2, J1939TP_DONE},
      {155, DT(ENG, GLOB), VIN_DT3, J1939TP_DONE}},
     {{65226, ACM, GLOB, 1, 10, DM1_BYTES}, VIN_MSG(ENG, GLOB, 1)},
     {.completed = 2},
     0},
    {"BAM and RTS from one sender to different receivers",
     {{0, CM(ENG, GLOB), DM1_BAM, J1939TP_OK},
      {5, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {8, CM(TOOL, ENG), VIN_CTS12, J1939TP_OK},
      {10, DT(ENG, TOOL), VIN_DT1, J1939TP_OK},
      {20, DT(ENG, GLOB), DM1_DT1, J1939TP_OK},
      {30, DT(ENG, TOOL), VIN_DT2, J1939TP_OK},
      {40, DT(ENG, GLOB), DM1_DT2, J1939TP_DONE}},
     {{65226, ENG, GLOB, 1, 10, DM1_BYTES}},
     {.completed = 1},
     1},
    {"missing packet 2: never completes, then times out",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {50, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {150, DT(ENG, GLOB), VIN_DT3, J1939TP_OK},
      {900, EEC1_ID, 8, {0}, J1939TP_OK},  /* idle 750: still open */
      {901, EEC1_ID, 8, {0}, J1939TP_OK}}, /* idle 751: gone */
     {{0}},
     {.timed_out = 1},
     0},
    {"out of order and duplicate packets",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {10, DT(ENG, GLOB), VIN_DT3, J1939TP_OK},
      {20, DT(ENG, GLOB), VIN_DT3, J1939TP_OK}, /* must not count twice */
      {30, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {40, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {50, DT(ENG, GLOB), VIN_DT2, J1939TP_DONE}},
     {VIN_MSG(ENG, GLOB, 1)},
     {.completed = 1, .duplicate = 2},
     0},
    {"new BAM from the same sender replaces an unfinished one",
     {{0, CM(ENG, GLOB), DM1_BAM, J1939TP_OK},
      {10, DT(ENG, GLOB), DM1_DT1, J1939TP_OK},
      {20, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {30, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {40, DT(ENG, GLOB), VIN_DT2, J1939TP_OK},
      {50, DT(ENG, GLOB), VIN_DT3, J1939TP_DONE}},
     {VIN_MSG(ENG, GLOB, 1)},
     {.completed = 1, .aborted = 1},
     0},
    {"sequence 0 and sequence past the count",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {10, DT(ENG, GLOB), 8, {0x00, 1, 2, 3, 4, 5, 6, 7}, J1939TP_ESEQ},
      {20, DT(ENG, GLOB), 8, {0x04, 1, 2, 3, 4, 5, 6, 7}, J1939TP_ESEQ},
      {30, DT(ENG, GLOB), 8, {0xFF, 1, 2, 3, 4, 5, 6, 7}, J1939TP_ESEQ},
      {40, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      {50, DT(ENG, GLOB), VIN_DT2, J1939TP_OK},
      {60, DT(ENG, GLOB), VIN_DT3, J1939TP_DONE}},
     {VIN_MSG(ENG, GLOB, 1)},
     {.completed = 1, .bad = 3},
     0},
    {"malformed TP.CM frames are refused",
     {
	 /* 1786 = 0x06FA bytes: one over the maximum (256 packets) */
	 {0, CM(ENG, GLOB), 8, {0x20, 0xFA, 0x06, 0xFF, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
	 /* 18 bytes need 3 packets, not 4 or 2 */
	 {1, CM(ENG, GLOB), 8, {0x20, 0x12, 0x00, 0x04, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
	 {2, CM(ENG, TOOL), 8, {0x10, 0x12, 0x00, 0x02, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
	 /* 8 bytes fit one frame: TP starts at 9 */
	 {3, CM(ENG, GLOB), 8, {0x20, 0x08, 0x00, 0x02, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
	 {4, CM(ENG, GLOB), 8, {0x20, 0x00, 0x00, 0x00, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
	 /* RTS to the global address */
	 {5, CM(ENG, GLOB), VIN_RTS, J1939TP_ECM},
	 /* reserved control byte */
	 {6, CM(ENG, GLOB), 8, {0x15, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
	 /* 7 bytes: a TP.CM always has 8 */
	 {7, CM(ENG, GLOB), 7, {0x20, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE}, J1939TP_ESHORT},
	 {8, CM(ENG, GLOB), 0, {0}, J1939TP_ESHORT},
	 {9, DT(ENG, GLOB), VIN_DT1, J1939TP_ENOSESSION},
     },
     {{0}},
     {.bad = 9, .orphan = 1},
     0},
    {"CTS asking for packet 0 or past the count",
     {{0, CM(ENG, TOOL), VIN_RTS, J1939TP_OK},
      {1, CM(TOOL, ENG), 8, {0x11, 0x01, 0x00, 0xFF, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
      {2, CM(TOOL, ENG), 8, {0x11, 0x01, 0x04, 0xFF, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_ECM},
      /* hold (0 packets): fine */
      {3, CM(TOOL, ENG), 8, {0x11, 0x00, 0xFF, 0xFF, 0xFF, 0xEC, 0xFE, 0x00}, J1939TP_OK}},
     {{0}},
     {.bad = 2},
     1},
    {"last packet without padding; a packet too short for its bytes",
     {{0, CM(ENG, GLOB), VIN_BAM, J1939TP_OK},
      {10, DT(ENG, GLOB), VIN_DT1, J1939TP_OK},
      /* packet 2 must carry bytes 8-14: 7 bytes after the sequence */
      {20, DT(ENG, GLOB), 7, {0x02, 'R', '5', 'C', 'L', 'B', 'P'}, J1939TP_ESHORT},
      {25, DT(ENG, GLOB), 0, {0}, J1939TP_ESHORT},
      {30, DT(ENG, GLOB), VIN_DT2, J1939TP_OK},
      /* packet 3 holds bytes 15-18 only: 1 + 4 bytes are enough */
      {40, DT(ENG, GLOB), 5, {0x03, '8', '3', '4', '*'}, J1939TP_DONE}},
     {VIN_MSG(ENG, GLOB, 1)},
     {.completed = 1, .bad = 2},
     0},
    {"other PGNs pass untouched; stray CTS, EOMA, Abort are ignored",
     {{0, EEC1_ID, 8, {0x20, 0x7D, 0x87, 0x48, 0x14, 0x00, 0xF0, 0x87}, J1939TP_OK},
      {1, CM(TOOL, ENG), VIN_CTS12, J1939TP_OK},
      {2, CM(TOOL, ENG), VIN_EOMA, J1939TP_OK},
      {3, CM(TOOL, ENG), VIN_ABORT, J1939TP_OK},
      /* DP = 1 makes it PGN 0x1EC00, not TP.CM */
      {4, 0x1DECFF00u, VIN_BAM, J1939TP_OK}},
     {{0}},
     {0},
     0},
};

static int counters_equal(const struct j1939tp_counters *a, const struct j1939tp_counters *b)
{
	return a->completed == b->completed && a->aborted == b->aborted &&
	       a->timed_out == b->timed_out && a->dropped == b->dropped && a->bad == b->bad &&
	       a->orphan == b->orphan && a->duplicate == b->duplicate;
}

static void print_counters(const char *label, const struct j1939tp_counters *c)
{
	print_error("  %s: completed %llu aborted %llu timed_out %llu dropped %llu bad %llu "
		    "orphan %llu duplicate %llu\n",
		    label, (unsigned long long)c->completed, (unsigned long long)c->aborted,
		    (unsigned long long)c->timed_out, (unsigned long long)c->dropped,
		    (unsigned long long)c->bad, (unsigned long long)c->orphan,
		    (unsigned long long)c->duplicate);
}

static void check_msg(const char *what, const struct j1939tp_msg *got, const struct want_msg *w)
{
	if (got->pgn != w->pgn || got->sa != w->sa || got->da != w->da || got->bam != w->bam ||
	    got->len != w->len || !got->data || memcmp(got->data, w->data, w->len) != 0) {
		print_error("%s: message pgn %u sa %u da %u bam %d len %zu, want pgn %u sa %u "
			    "da %u bam %d len %zu\n",
			    what, (unsigned)got->pgn, got->sa, got->da, got->bam, got->len,
			    (unsigned)w->pgn, w->sa, w->da, w->bam, w->len);
		fail();
	}
}

static void test_scenarios(void **state)
{
	static struct j1939tp tp; /* 30 KB: not on the stack */

	(void)state;
	for (size_t i = 0; i < NELEM(scenarios); i++) {
		const struct scenario *sc = &scenarios[i];
		size_t nmsg = 0;

		j1939tp_init(&tp);
		for (size_t k = 0; k < NELEM(sc->steps) && sc->steps[k].id != 0; k++) {
			const struct step *st = &sc->steps[k];
			struct j1939tp_msg m;
			int rc;

			memset(&m, 0, sizeof(m));
			rc = j1939tp_feed(&tp, st->id, st->d, st->len, st->t_ms, &m);
			if (rc != st->rc) {
				print_error("%s: step %zu (t %lld): rc %d (%s), want %d (%s)\n",
					    sc->what, k + 1, (long long)st->t_ms, rc,
					    j1939tp_strerror(rc), st->rc, j1939tp_strerror(st->rc));
				fail();
			}
			if (rc == J1939TP_DONE) {
				assert_true(nmsg < NELEM(sc->msgs));
				check_msg(sc->what, &m, &sc->msgs[nmsg++]);
			}
		}
		if (!counters_equal(j1939tp_counters(&tp), &sc->want) ||
		    j1939tp_active(&tp) != sc->active) {
			print_error("%s: counters or active sessions (%d, want %d)\n", sc->what,
				    j1939tp_active(&tp), sc->active);
			print_counters("got ", j1939tp_counters(&tp));
			print_counters("want", &sc->want);
			fail();
		}
	}
}

/* The largest message: 1785 bytes in 255 packets, byte i = i * 7 mod 256. */
static void test_max_size(void **state)
{
	static struct j1939tp tp;
	/* 1785 = 0x06F9, 255 = 0xFF packets, PGN 65226 */
	static const uint8_t bam[8] = {0x20, 0xF9, 0x06, 0xFF, 0xFF, 0xCA, 0xFE, 0x00};
	struct j1939tp_msg m;
	uint8_t d[8];

	(void)state;
	j1939tp_init(&tp);
	assert_int_equal(j1939tp_feed(&tp, CM(ENG, GLOB), bam, 8, 0, &m), J1939TP_OK);
	/* Sent backwards to exercise the bitmap across all 32 of its bytes. */
	for (unsigned seq = 255; seq >= 1; seq--) {
		d[0] = (uint8_t)seq;
		for (unsigned j = 0; j < 7; j++)
			d[1 + j] = (uint8_t)(((seq - 1) * 7 + j) * 7);
		assert_int_equal(j1939tp_feed(&tp, DT(ENG, GLOB), d, 8, 1000 - (int64_t)seq, &m),
				 seq == 1 ? J1939TP_DONE : J1939TP_OK);
	}
	assert_int_equal(m.len, 1785);
	assert_int_equal(m.pgn, 65226);
	for (size_t i = 0; i < m.len; i++)
		if (m.data[i] != (uint8_t)(i * 7)) {
			print_error("byte %zu: 0x%02X\n", i, m.data[i]);
			fail();
		}
	assert_int_equal(j1939tp_counters(&tp)->completed, 1);
	assert_int_equal(j1939tp_active(&tp), 0);
}

/* 16 sessions fit; the 17th drops the one quiet for longest (SA 0x01). */
static void test_table_full(void **state)
{
	static struct j1939tp tp;
	static const uint8_t vin_bam[8] = {0x20, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00};
	static const uint8_t dt1[8] = {0x01, '1', 'F', 'U', 'J', 'G', 'L', 'D'};
	struct j1939tp_msg m;

	(void)state;
	j1939tp_init(&tp);
	for (unsigned sa = 1; sa <= J1939TP_MAX_SESSIONS; sa++)
		assert_int_equal(j1939tp_feed(&tp, CM(sa, GLOB), vin_bam, 8, sa, &m), J1939TP_OK);
	assert_int_equal(j1939tp_active(&tp), J1939TP_MAX_SESSIONS);
	/* a packet to SA 0x01 at t 20 would keep it young: feed SA 0x02's */
	assert_int_equal(j1939tp_feed(&tp, DT(2, GLOB), dt1, 8, 20, &m), J1939TP_OK);
	assert_int_equal(j1939tp_counters(&tp)->dropped, 0);
	assert_int_equal(j1939tp_feed(&tp, CM(0x40, GLOB), vin_bam, 8, 21, &m), J1939TP_OK);
	assert_int_equal(j1939tp_counters(&tp)->dropped, 1);
	assert_int_equal(j1939tp_active(&tp), J1939TP_MAX_SESSIONS);
	assert_int_equal(j1939tp_feed(&tp, DT(1, GLOB), dt1, 8, 22, &m), J1939TP_ENOSESSION);
	assert_int_equal(j1939tp_feed(&tp, DT(2, GLOB), dt1, 8, 23, &m), J1939TP_OK);
	assert_int_equal(j1939tp_counters(&tp)->duplicate, 1);
	assert_int_equal(j1939tp_feed(&tp, DT(0x40, GLOB), dt1, 8, 24, &m), J1939TP_OK);
	assert_int_equal(j1939tp_counters(&tp)->orphan, 1);
}

/* j1939tp_expire alone frees idle sessions; a clock stepping back frees
 * nothing. */
static void test_expire(void **state)
{
	static struct j1939tp tp;
	static const uint8_t vin_bam[8] = {0x20, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00};
	static const uint8_t vin_rts[8] = {0x10, 0x12, 0x00, 0x03, 0xFF, 0xEC, 0xFE, 0x00};
	struct j1939tp_msg m;

	(void)state;
	j1939tp_init(&tp);
	assert_int_equal(j1939tp_feed(&tp, CM(ENG, GLOB), vin_bam, 8, 10000, &m), J1939TP_OK);
	assert_int_equal(j1939tp_feed(&tp, CM(ENG, TOOL), vin_rts, 8, 10000, &m), J1939TP_OK);
	j1939tp_expire(&tp, -5);
	j1939tp_expire(&tp, INT64_MIN);
	j1939tp_expire(&tp, 10750);
	assert_int_equal(j1939tp_active(&tp), 2);
	j1939tp_expire(&tp, 10751); /* BAM: T1 */
	assert_int_equal(j1939tp_active(&tp), 1);
	j1939tp_expire(&tp, 11250);
	assert_int_equal(j1939tp_active(&tp), 1);
	j1939tp_expire(&tp, 11251); /* RTS: T2 */
	assert_int_equal(j1939tp_active(&tp), 0);
	assert_int_equal(j1939tp_counters(&tp)->timed_out, 2);
	/* no overflow at the ends of the clock */
	assert_int_equal(j1939tp_feed(&tp, CM(ENG, GLOB), vin_bam, 8, INT64_MIN, &m), J1939TP_OK);
	j1939tp_expire(&tp, INT64_MAX);
	assert_int_equal(j1939tp_active(&tp), 0);
	assert_int_equal(j1939tp_counters(&tp)->timed_out, 3);
}

static void test_bad_arguments(void **state)
{
	static struct j1939tp tp;
	uint8_t d[8] = {0};
	struct j1939tp_msg m;

	(void)state;
	j1939tp_init(&tp);
	assert_int_equal(j1939tp_feed(NULL, CM(ENG, GLOB), d, 8, 0, &m), J1939TP_EINVAL);
	assert_int_equal(j1939tp_feed(&tp, CM(ENG, GLOB), d, 8, 0, NULL), J1939TP_EINVAL);
	assert_int_equal(j1939tp_feed(&tp, CM(ENG, GLOB), NULL, 8, 0, &m), J1939TP_EINVAL);
	j1939tp_init(NULL);
	j1939tp_expire(NULL, 0);
	assert_null(j1939tp_counters(NULL));
	assert_int_equal(j1939tp_active(NULL), 0);
	for (int rc = J1939TP_ENOSESSION; rc <= J1939TP_DONE; rc++)
		assert_string_not_equal(j1939tp_strerror(rc), "unknown error");
	assert_string_equal(j1939tp_strerror(-99), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scenarios),	  cmocka_unit_test(test_max_size),
	    cmocka_unit_test(test_table_full),	  cmocka_unit_test(test_expire),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
