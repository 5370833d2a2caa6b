#include "protocols/j1939.h"

/*
 * One row per SPN: where it sits in the frame and how raw becomes a value.
 * The resolution is a fraction res_num / res_den so that the value can be
 * computed as one integer expression and one division: that rounds once,
 * giving the double nearest to the true value (0.05 * 3 would not).
 */
struct j1939_spn_def {
	uint32_t pgn;
	uint16_t spn;
	enum sig_id sig;
	uint8_t start; /* first byte, 1-based as in the standard */
	uint8_t size;  /* 1, 2 or 4 bytes, little-endian */
	int32_t res_num;
	int32_t res_den;
	int32_t offset;
};

/* A discrete: `bits` bits from bit `shift` (0 = least significant) of byte
 * `start`; all ones is not available, all ones but the last bit error. */
struct j1939_bits_def {
	uint32_t pgn;
	uint16_t spn;
	enum sig_id sig;
	uint8_t start, shift, bits;
};

/* SPN 3700 DPF active regeneration status: 00 not active, 01 active, 10
 * regeneration needed (not running: 0 too). */
static const struct j1939_bits_def j1939_bits[] = {
    {64892, 3700, SIG_DPF_REGEN, 1, 0, 2},
};

struct j1939_pgn_def {
	uint32_t pgn;
	const char *name;
};

static const struct j1939_pgn_def j1939_pgns[] = {
    {61444, "EEC1"},   {61443, "EEC2"},	     {65247, "EEC3"},	{65262, "ET1"},
    {65266, "LFE1"},   {61450, "EGF1"},	     {65270, "IC1"},	{65269, "AMB"},
    {65265, "CCVS1"},  {65253, "HOURS"},     {65248, "VD"},	{65217, "VDHR"},
    {65276, "DD"},     {61454, "AT1IG1"},    {61455, "AT1OG1"}, {64946, "AT1IMG"},
    {65110, "AT1T1I"}, {64830, "AT1SCREGT"}, {64916, "EEC7"},	{64892, "DPFC1"},
};

/* From shared/spec/j1939-signals.md; IC1 SPN 81 (DPF inlet) has no signal. */
static const struct j1939_spn_def j1939_spns[] = {
    /* pgn    spn   signal                  byte size  res      offset */
    {61444, 512, SIG_DEMAND_TORQUE_PCT, 2, 1, 1, 1, -125},
    {61444, 513, SIG_ENGINE_TORQUE_PCT, 3, 1, 1, 1, -125},
    {61444, 190, SIG_ENGINE_SPEED_RPM, 4, 2, 1, 8, 0},
    {61443, 91, SIG_ACCEL_PEDAL_PCT, 2, 1, 2, 5, 0},
    {61443, 92, SIG_ENGINE_LOAD_PCT, 3, 1, 1, 1, 0},
    {65247, 514, SIG_FRICTION_TORQUE_PCT, 1, 1, 1, 1, -125},
    {65262, 110, SIG_COOLANT_C, 1, 1, 1, 1, -40},
    {65262, 174, SIG_FUEL_TEMP_C, 2, 1, 1, 1, -40},
    {65262, 175, SIG_OIL_TEMP_C, 3, 2, 1, 32, -273},
    {65266, 183, SIG_FUEL_RATE_LPH, 1, 2, 1, 20, 0},
    {61450, 2659, SIG_EGR_FLOW_KGPH, 1, 2, 1, 20, 0},
    {61450, 132, SIG_INTAKE_AIR_KGPH, 3, 2, 1, 20, 0},
    {65270, 102, SIG_BOOST_KPA, 2, 1, 2, 1, 0},
    {65270, 105, SIG_INTAKE_MANIFOLD_C, 3, 1, 1, 1, -40},
    {65270, 106, SIG_AIR_INLET_KPA, 4, 1, 2, 1, 0},
    {65270, 107, SIG_AIR_FILTER_DP_KPA, 5, 1, 1, 20, 0},
    {65270, 173, SIG_EXHAUST_C, 6, 2, 1, 32, -273},
    {65269, 108, SIG_BARO_KPA, 1, 1, 1, 2, 0},
    {65269, 171, SIG_AMBIENT_C, 4, 2, 1, 32, -273},
    {65269, 172, SIG_AIR_INLET_C, 6, 1, 1, 1, -40},
    {65265, 84, SIG_VEHICLE_SPEED_KMH, 2, 2, 1, 256, 0},
    {65253, 247, SIG_ENGINE_HOURS_H, 1, 4, 1, 20, 0},
    {65248, 245, SIG_ODOMETER_KM, 5, 4, 1, 8, 0},
    {65217, 917, SIG_ODOMETER_KM, 1, 4, 1, 200, 0}, /* 5 m */
    {65276, 96, SIG_FUEL_LEVEL_PCT, 2, 1, 2, 5, 0},
    {61454, 3216, SIG_NOX_UP_PPM, 1, 2, 1, 20, -200},
    {61455, 3226, SIG_NOX_DOWN_PPM, 1, 2, 1, 20, -200},
    {64946, 3251, SIG_DPF_DP_KPA, 5, 2, 1, 10, 0},
    {65110, 1761, SIG_DEF_LEVEL_PCT, 1, 1, 2, 5, 0},
    {64830, 4360, SIG_SCR_IN_C, 1, 2, 1, 32, -273},
    {64830, 4363, SIG_SCR_OUT_C, 4, 2, 1, 32, -273},
    {64916, 27, SIG_EGR_POS_PCT, 1, 2, 1, 400, 0},
};

#define J1939_NELEM(a) (sizeof(a) / sizeof((a)[0]))

void j1939_id_parse(uint32_t can_id, struct j1939_id *out)
{
	uint32_t edp_dp, pf, ps;

	if (!out)
		return;
	/* Each field is masked, so SocketCAN's flag bits 29-31 drop out. */
	out->prio = (uint8_t)((can_id >> 26) & 0x7);
	edp_dp = (can_id >> 24) & 0x3;
	pf = (can_id >> 16) & 0xFF;
	ps = (can_id >> 8) & 0xFF;
	out->sa = (uint8_t)(can_id & 0xFF);
	if (pf < 240) {
		/* PDU1: PS is the destination, not part of the PGN. */
		out->pgn = (edp_dp << 16) | (pf << 8);
		out->da = (uint8_t)ps;
	} else {
		out->pgn = (edp_dp << 16) | (pf << 8) | ps;
		out->da = 0xFF;
	}
}

const char *j1939_pgn_name(uint32_t pgn)
{
	for (size_t i = 0; i < J1939_NELEM(j1939_pgns); i++)
		if (j1939_pgns[i].pgn == pgn)
			return j1939_pgns[i].name;
	return NULL;
}

uint32_t j1939_pgn_at(int i)
{
	if (i < 0 || (size_t)i >= J1939_NELEM(j1939_pgns))
		return 0;
	return j1939_pgns[i].pgn;
}

/* Bytes the PGN's SPNs need: the last byte any of them uses. */
static size_t j1939_pgn_len(uint32_t pgn)
{
	size_t need = 0;

	for (size_t i = 0; i < J1939_NELEM(j1939_spns); i++) {
		const struct j1939_spn_def *d = &j1939_spns[i];
		size_t end = (size_t)d->start - 1 + d->size;

		if (d->pgn == pgn && end > need)
			need = end;
	}
	for (size_t i = 0; i < J1939_NELEM(j1939_bits); i++)
		if (j1939_bits[i].pgn == pgn && j1939_bits[i].start > need)
			need = j1939_bits[i].start;
	return need;
}

/* Little-endian unsigned read, byte by byte: no alignment or endian
 * assumptions. */
static uint32_t j1939_get_le(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = size; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

/* The range of a J1939 parameter is decided by its most significant byte
 * (J1939-71): FB-FD reserved, FE error, FF not available. */
static enum j1939_spn_state j1939_classify(uint32_t raw, unsigned size)
{
	uint8_t top = (uint8_t)(raw >> (8 * (size - 1)));

	if (top == 0xFF)
		return J1939_SPN_NA;
	if (top == 0xFE)
		return J1939_SPN_ERROR;
	if (top >= 0xFB)
		return J1939_SPN_RESERVED;
	return J1939_SPN_VALID;
}

static uint32_t j1939_get_be(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Extract one SPN into out: a value, or one more count. */
static void j1939_extract(const struct j1939_spn_def *d, const uint8_t *data, int big_endian,
			  struct j1939_frame *out)
{
	uint32_t raw = big_endian ? j1939_get_be(data + d->start - 1, d->size)
				  : j1939_get_le(data + d->start - 1, d->size);
	enum j1939_spn_state state = j1939_classify(raw, d->size);
	int64_t num;

	if (state != J1939_SPN_VALID && out->n_missing < J1939_MAX_VALUES) {
		out->missing[out->n_missing].sig = d->sig;
		out->missing[out->n_missing].state = state;
		out->n_missing++;
	}
	switch (state) {
	case J1939_SPN_NA:
		out->n_na++;
		return;
	case J1939_SPN_ERROR:
		out->n_error++;
		return;
	case J1939_SPN_RESERVED:
		out->n_reserved++;
		return;
	case J1939_SPN_VALID:
		break;
	}
	if (out->n >= J1939_MAX_VALUES)
		return; /* cannot happen with this table: at most 5 a PGN */
	num = (int64_t)raw * d->res_num + (int64_t)d->offset * d->res_den;
	out->v[out->n].sig = d->sig;
	out->v[out->n].value = (double)num / d->res_den;
	out->n++;
}

/*
 * A frame shorter than the last byte the PGN's SPNs use is refused as a
 * whole (J1939_ESHORT) rather than half-decoded: J1939 single frames are
 * 8 bytes, so a short one is damaged or not what we think it is.
 */
int j1939_decode(uint32_t pgn, const uint8_t *data, size_t len, struct j1939_frame *out)
{
	return j1939_decode_with(pgn, data, len, NULL, 0, out);
}

static const struct j1939_override *j1939_find_override(const struct j1939_override *ov, int n,
							uint16_t spn)
{
	for (int i = 0; i < n; i++)
		if (ov[i].spn == spn)
			return &ov[i];
	return NULL;
}

/* One SPN of the table, or its override. */
static void j1939_extract_spn(const struct j1939_spn_def *d, const struct j1939_override *o,
			      const uint8_t *data, size_t len, struct j1939_frame *out)
{
	struct j1939_spn_def custom;

	if (!o) {
		j1939_extract(d, data, 0, out);
		return;
	}
	custom = *d;
	custom.start = o->start;
	custom.size = o->size;
	custom.res_num = o->res_num;
	custom.res_den = o->res_den;
	custom.offset = o->offset;
	if (o->start < 1 || (o->size != 1 && o->size != 2 && o->size != 4) || o->res_den == 0 ||
	    (size_t)o->start - 1 + o->size > len) {
		if (out->n_missing < J1939_MAX_VALUES) {
			out->missing[out->n_missing].sig = d->sig;
			out->missing[out->n_missing].state = J1939_SPN_ERROR;
			out->n_missing++;
		}
		out->n_error++;
		return;
	}
	j1939_extract(&custom, data, o->big_endian, out);
}

static void j1939_extract_bits(const struct j1939_bits_def *d, const uint8_t *data,
			       struct j1939_frame *out)
{
	uint32_t all = (1u << d->bits) - 1, raw = (uint32_t)(data[d->start - 1] >> d->shift) & all;
	enum j1939_spn_state state = raw == all				? J1939_SPN_NA
				     : raw == all - 1 && d->spn != 3700 ? J1939_SPN_ERROR
									: J1939_SPN_VALID;

	if (state != J1939_SPN_VALID) {
		if (out->n_missing < J1939_MAX_VALUES) {
			out->missing[out->n_missing].sig = d->sig;
			out->missing[out->n_missing].state = state;
			out->n_missing++;
		}
		if (state == J1939_SPN_NA)
			out->n_na++;
		else
			out->n_error++;
		return;
	}
	if (out->n >= J1939_MAX_VALUES)
		return;
	out->v[out->n].sig = d->sig;
	out->v[out->n].value = d->spn == 3700 ? (raw == 1) : raw; /* "needed" is not active */
	out->n++;
}

int j1939_decode_with(uint32_t pgn, const uint8_t *data, size_t len,
		      const struct j1939_override *ov, int n_ov, struct j1939_frame *out)
{
	size_t need;

	if (!out || (!data && len > 0))
		return J1939_EINVAL;
	out->n = 0;
	out->n_na = 0;
	out->n_error = 0;
	out->n_reserved = 0;
	out->n_missing = 0;
	if (!j1939_pgn_name(pgn))
		return J1939_EUNKNOWN;
	need = j1939_pgn_len(pgn);
	if (len < need)
		return J1939_ESHORT;
	for (size_t i = 0; i < J1939_NELEM(j1939_spns); i++)
		if (j1939_spns[i].pgn == pgn)
			j1939_extract_spn(&j1939_spns[i],
					  j1939_find_override(ov, n_ov, j1939_spns[i].spn), data,
					  len, out);
	for (size_t i = 0; i < J1939_NELEM(j1939_bits); i++)
		if (j1939_bits[i].pgn == pgn)
			j1939_extract_bits(&j1939_bits[i], data, out);
	return J1939_OK;
}

const char *j1939_strerror(int err)
{
	switch (err) {
	case J1939_OK:
		return "ok";
	case J1939_EUNKNOWN:
		return "PGN not decoded";
	case J1939_ESHORT:
		return "frame shorter than its PGN needs";
	case J1939_EINVAL:
		return "invalid argument";
	}
	return "unknown error";
}
