#include "protocols/candec.h"

#include <string.h>

void candec_init(struct candec *d)
{
	d->n_override = 0;
	j1939tp_init(&d->tp);
	n2k_fp_init(&d->fp, 0);
}

static void candec_clear(struct candec_msg *out, uint32_t pgn, uint8_t sa, uint8_t da,
			 const uint8_t *data, size_t len)
{
	out->kind = CANDEC_UNKNOWN;
	out->pgn = pgn;
	out->sa = sa;
	out->da = da;
	out->instance = -1;
	out->name = NULL;
	out->err = NULL;
	out->reassembled = 0;
	out->n = out->n_na = out->n_error = out->n_reserved = out->n_missing = 0;
	out->vin[0] = '\0';
	out->data = data;
	out->len = len;
}

static int candec_bad(struct candec_msg *out, const char *why)
{
	out->err = why;
	return CANDEC_EBAD;
}

static int candec_j1939(const struct candec *d, struct candec_msg *out)
{
	struct j1939_frame fr;
	int rc = j1939_decode_with(out->pgn, out->data, out->len, d ? d->override : NULL,
				   d ? d->n_override : 0, &fr);

	if (rc == J1939_EUNKNOWN)
		return 1;
	if (rc < 0)
		return candec_bad(out, j1939_strerror(rc));
	out->kind = CANDEC_SIGNALS;
	out->name = j1939_pgn_name(out->pgn);
	for (int i = 0; i < fr.n; i++) {
		out->v[i].sig = fr.v[i].sig;
		out->v[i].value = fr.v[i].value;
	}
	out->n = fr.n;
	out->n_na = fr.n_na;
	out->n_error = fr.n_error;
	out->n_reserved = fr.n_reserved;
	for (int i = 0; i < fr.n_missing; i++) {
		out->missing[i].sig = fr.missing[i].sig;
		out->missing[i].error = fr.missing[i].state != J1939_SPN_NA;
	}
	out->n_missing = fr.n_missing;
	return 1;
}

static int candec_n2k(struct candec_msg *out)
{
	struct n2k_msg m;
	int rc = n2k_decode(out->pgn, out->data, out->len, &m);

	if (rc < 0)
		return candec_bad(out, n2k_strerror(rc));
	out->kind = CANDEC_SIGNALS;
	out->name = n2k_pgn_name(out->pgn);
	out->instance = m.instance_state == N2K_VALID ? m.instance : -1;
	for (int i = 0; i < m.n; i++) {
		out->v[i].sig = m.v[i].sig;
		out->v[i].value = m.v[i].value;
	}
	out->n = m.n;
	out->n_na = m.n_na;
	out->n_error = m.n_error;
	for (int i = 0; i < m.n_missing; i++) {
		out->missing[i].sig = m.missing[i].sig;
		out->missing[i].error = m.missing[i].state != N2K_NA;
	}
	out->n_missing = m.n_missing;
	return 1;
}

static int candec_dm(struct candec_msg *out)
{
	int rc;

	switch (out->pgn) {
	case J1939DM_PGN_DM1:
		out->name = "DM1";
		rc = j1939dm_dm1_decode(out->data, out->len, &out->dm1);
		if (rc < 0)
			return candec_bad(out, j1939dm_strerror(rc));
		out->kind = CANDEC_DM1;
		return 1;
	case J1939DM_PGN_DM5:
		out->name = "DM5";
		rc = j1939dm_dm5_decode(out->data, out->len, &out->dm5);
		if (rc < 0)
			return candec_bad(out, j1939dm_strerror(rc));
		out->kind = CANDEC_DM5;
		return 1;
	case J1939DM_PGN_DM19:
		out->name = "DM19";
		rc = j1939dm_dm19_decode(out->data, out->len, &out->dm19);
		if (rc < 0)
			return candec_bad(out, j1939dm_strerror(rc));
		out->kind = CANDEC_DM19;
		return 1;
	case J1939DM_PGN_DM20:
		out->name = "DM20";
		rc = j1939dm_dm20_decode(out->data, out->len, &out->dm20);
		if (rc < 0)
			return candec_bad(out, j1939dm_strerror(rc));
		out->kind = CANDEC_DM20;
		return 1;
	case J1939DM_PGN_VIN:
		out->name = "VI";
		rc = j1939dm_vin_decode(out->data, out->len, out->vin, sizeof(out->vin));
		if (rc < 0)
			return candec_bad(out, j1939dm_strerror(rc));
		out->kind = CANDEC_VIN;
		return 1;
	default: /* J1939DM_PGN_ADDR_CLAIM */
		out->name = "AC";
		if (out->len < 8)
			return candec_bad(out, "address claim shorter than 8 bytes");
		j1939dm_name_decode(out->data, &out->claim);
		out->kind = CANDEC_CLAIM;
		return 1;
	}
}

int candec_message(const struct candec *d, uint32_t pgn, uint8_t sa, uint8_t da,
		   const uint8_t *data, size_t len, struct candec_msg *out)
{
	candec_clear(out, pgn, sa, da, data, len);
	if (pgn == J1939DM_PGN_DM1 || pgn == J1939DM_PGN_VIN || pgn == J1939DM_PGN_ADDR_CLAIM ||
	    pgn == J1939DM_PGN_DM5 || pgn == J1939DM_PGN_DM19 || pgn == J1939DM_PGN_DM20)
		return candec_dm(out);
	if (n2k_pgn_name(pgn))
		return candec_n2k(out);
	return candec_j1939(d, out);
}

int candec_frame(struct candec *d, uint32_t can_id, const uint8_t *data, size_t len, int64_t now_ms,
		 struct candec_msg *out)
{
	struct j1939tp_msg tm;
	struct n2k_fp_msg fm;
	struct j1939_id id;
	int rc;

	j1939_id_parse(can_id, &id);
	candec_clear(out, id.pgn, id.sa, id.da, data, len);
	if (id.pgn == J1939TP_PGN_CM || id.pgn == J1939TP_PGN_DT) {
		rc = j1939tp_feed(&d->tp, can_id, data, len, now_ms, &tm);
		if (rc < 0)
			return candec_bad(out, j1939tp_strerror(rc));
		if (rc != J1939TP_DONE)
			return 0;
		rc = candec_message(d, tm.pgn, tm.sa, tm.da, tm.data, tm.len, out);
		out->reassembled = 1;
		return rc;
	}
	if (n2k_is_fast_packet(id.pgn)) {
		rc = n2k_fp_add(&d->fp, id.pgn, id.sa, data, len, (uint64_t)now_ms, &fm);
		if (rc < 0)
			return candec_bad(out, n2k_strerror(rc));
		if (rc == 0)
			return 0;
		rc = candec_message(d, fm.pgn, fm.sa, 0xFF, fm.data, fm.len, out);
		out->reassembled = 1;
		return rc;
	}
	return candec_message(d, id.pgn, id.sa, id.da, data, len, out);
}

const struct j1939tp_counters *candec_tp_counters(const struct candec *d)
{
	return j1939tp_counters(&d->tp);
}

const struct n2k_fp_stats *candec_fp_stats(const struct candec *d)
{
	return &d->fp.stats;
}

int candec_pgns(uint32_t *pgns, int max)
{
	static const uint32_t extra[] = {
	    J1939TP_PGN_CM,	    J1939TP_PGN_DT,   J1939DM_PGN_DM1,	J1939DM_PGN_VIN,
	    J1939DM_PGN_ADDR_CLAIM, 127488,	      127489,		127497,
	    J1939DM_PGN_DM5,	    J1939DM_PGN_DM19, J1939DM_PGN_DM20,
	};
	int n = 0;
	uint32_t pgn;

	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]) && n < max; i++)
		pgns[n++] = extra[i];
	for (int i = 0; (pgn = j1939_pgn_at(i)) != 0 && n < max; i++)
		pgns[n++] = pgn;
	return n;
}
