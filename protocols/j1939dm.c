#include "protocols/j1939dm.h"

#include <limits.h>
#include <string.h>

#define DM1_HEAD    2 /* lamp byte, flash byte */
#define DM1_DTC_LEN 4

/*
 * The SPN of one DTC.  The CM bit (byte 4 bit 8, J1939-73) tells the two
 * layouts apart:
 *   CM = 0, version 4 (current): SPN bits 0-7 in byte 1, 8-15 in byte 2,
 *           16-18 in the top 3 bits of byte 3.
 *   CM = 1, versions 1-3 (before J1939-73 2001): here decoded as version 1,
 *           the 19-bit SPN stored most significant byte first: bits 11-18 in
 *           byte 1, 3-10 in byte 2, 0-2 in the top 3 bits of byte 3.  That is
 *           the "big-endian SPN" seen on engines such as MAN D2862.
 * CM = 1 cannot say which of versions 1, 2 (bits 3-10 in byte 1, 11-18 in
 * byte 2) or 3 (same bytes as version 4) was meant; version 1 is the one
 * our spec names, and raw[] keeps the bytes for a per-engine override.
 */
static uint32_t dm1_spn(const uint8_t *b, int cm)
{
	if (cm)
		return (uint32_t)b[0] << 11 | (uint32_t)b[1] << 3 | (uint32_t)(b[2] >> 5);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)(b[2] >> 5) << 16;
}

int j1939dm_dm1_decode(const uint8_t *data, size_t len, struct j1939dm_dm1 *out)
{
	if (!out)
		return J1939DM_EINVAL;
	memset(out, 0, sizeof(*out));
	out->protect = out->amber = out->red_stop = out->mil = J1939DM_LAMP_NA;
	out->flash_protect = out->flash_amber = out->flash_red_stop = out->flash_mil =
	    J1939DM_FLASH_NONE;
	if (!data && len > 0)
		return J1939DM_EINVAL;
	/* Even "no fault" carries one DTC slot: 2 + 4 bytes at least. */
	if (len < DM1_HEAD + DM1_DTC_LEN)
		return J1939DM_ESHORT;
	out->protect = (enum j1939dm_lamp)(data[0] & 3);
	out->amber = (enum j1939dm_lamp)(data[0] >> 2 & 3);
	out->red_stop = (enum j1939dm_lamp)(data[0] >> 4 & 3);
	out->mil = (enum j1939dm_lamp)(data[0] >> 6 & 3);
	out->flash_protect = (enum j1939dm_flash)(data[1] & 3);
	out->flash_amber = (enum j1939dm_flash)(data[1] >> 2 & 3);
	out->flash_red_stop = (enum j1939dm_flash)(data[1] >> 4 & 3);
	out->flash_mil = (enum j1939dm_flash)(data[1] >> 6 & 3);
	/* The loop bound keeps every read inside len: a partial last entry
	 * (such as the 2 padding bytes of a single-frame DM1) is not read. */
	for (size_t off = DM1_HEAD; len - off >= DM1_DTC_LEN; off += DM1_DTC_LEN) {
		const uint8_t *b = data + off;
		int cm = b[3] >> 7;
		uint32_t spn = dm1_spn(b, cm);
		uint8_t fmi = b[2] & 0x1F;
		struct j1939dm_dtc *d;

		if ((spn == 0 && fmi == 0) ||
		    (b[0] == 0xFF && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF))
			continue;
		if (out->n_dtcs >= J1939DM_MAX_DTCS) {
			out->n_truncated++;
			continue;
		}
		d = &out->dtc[out->n_dtcs++];
		d->spn = spn;
		d->fmi = fmi;
		d->oc = b[3] & 0x7F;
		d->cm = (uint8_t)cm;
		memcpy(d->raw, b, DM1_DTC_LEN);
	}
	return J1939DM_OK;
}

int j1939dm_dm5_decode(const uint8_t *data, size_t len, struct j1939dm_dm5 *out)
{
	if (!out || (!data && len > 0))
		return J1939DM_EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < 8)
		return J1939DM_ESHORT;
	out->active = data[0];
	out->previously_active = data[1];
	out->obd_compliance = data[2];
	out->continuous = data[3];
	out->nc_support = (uint16_t)(data[4] | data[5] << 8);
	out->nc_status = (uint16_t)(data[6] | data[7] << 8);
	return J1939DM_OK;
}

void j1939dm_dm5_obd_words(const struct j1939dm_dm5 *dm5, uint16_t *support, uint16_t *readiness)
{
	/* 13 non-continuous monitors (byte 5 bits 1-8, byte 6 bits 1-5), then
	 * the 3 continuous ones (byte 4 bits 1-3 supported, 5-7 status). */
	*support = (uint16_t)((dm5->nc_support & 0x1FFF) | (dm5->continuous & 7) << 13);
	*readiness = (uint16_t)((dm5->nc_status & 0x1FFF) | (dm5->continuous >> 4 & 7) << 13);
}

int j1939dm_dm19_decode(const uint8_t *data, size_t len, struct j1939dm_dm19 *out)
{
	if (!out || (!data && len > 0))
		return J1939DM_EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < 20)
		return J1939DM_ESHORT;
	for (size_t off = 0; len - off >= 20; off += 20) {
		struct j1939dm_cal *c;

		if (out->n >= J1939DM_MAX_CALS) {
			out->n_truncated++;
			continue;
		}
		c = &out->cal[out->n++];
		memcpy(c->cvn, data + off, 4);
		memcpy(c->cal_id, data + off + 4, 16);
		c->cal_id[16] = '\0';
	}
	return J1939DM_OK;
}

int j1939dm_dm20_decode(const uint8_t *data, size_t len, struct j1939dm_dm20 *out)
{
	if (!out || (!data && len > 0))
		return J1939DM_EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return J1939DM_ESHORT;
	out->ign_cycles = (uint16_t)(data[0] | data[1] << 8);
	out->obd_conditions = (uint16_t)(data[2] | data[3] << 8);
	for (size_t off = 4; len - off >= 7; off += 7) {
		const uint8_t *b = data + off;
		struct j1939dm_ratio *r;

		if (b[0] == 0xFF && b[1] == 0xFF && b[2] == 0xFF)
			continue; /* padding */
		if (out->n >= J1939DM_MAX_RATIOS) {
			out->n_truncated++;
			continue;
		}
		r = &out->r[out->n++];
		r->spn = dm1_spn(b, 0);
		r->num = (uint16_t)(b[3] | b[4] << 8);
		r->den = (uint16_t)(b[5] | b[6] << 8);
	}
	return J1939DM_OK;
}

int j1939dm_vin_decode(const uint8_t *data, size_t len, char *vin, size_t vinsize)
{
	size_t n = 0;

	if (!vin || vinsize == 0)
		return J1939DM_EINVAL;
	vin[0] = '\0';
	if (!data && len > 0)
		return J1939DM_EINVAL;
	while (n < len && data[n] != '*')
		n++;
	if (n == 0)
		return J1939DM_EVIN;
	if (n > INT_MAX)
		return J1939DM_ESPACE;
	for (size_t i = 0; i < n; i++)
		if (data[i] < 0x20 || data[i] > 0x7E)
			return J1939DM_EVIN;
	if (n >= vinsize)
		return J1939DM_ESPACE;
	memcpy(vin, data, n);
	vin[n] = '\0';
	return (int)n;
}

void j1939dm_name_decode(const uint8_t data[8], struct j1939dm_name *out)
{
	uint64_t v = 0;

	if (!data || !out)
		return;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | data[i];
	out->raw = v;
	out->identity = (uint32_t)(v & 0x1FFFFF);
	out->manufacturer = (uint16_t)(v >> 21 & 0x7FF);
	out->ecu_instance = (uint8_t)(v >> 32 & 0x7);
	out->function_instance = (uint8_t)(v >> 35 & 0x1F);
	out->function = (uint8_t)(v >> 40 & 0xFF);
	out->reserved = (uint8_t)(v >> 48 & 0x1);
	out->vehicle_system = (uint8_t)(v >> 49 & 0x7F);
	out->vehicle_system_instance = (uint8_t)(v >> 56 & 0xF);
	out->industry_group = (uint8_t)(v >> 60 & 0x7);
	out->arbitrary_address = (uint8_t)(v >> 63 & 0x1);
}

const char *j1939dm_strerror(int err)
{
	switch (err) {
	case J1939DM_OK:
		return "ok";
	case J1939DM_EINVAL:
		return "invalid argument";
	case J1939DM_ESHORT:
		return "diagnostic message too short";
	case J1939DM_EVIN:
		return "VIN empty or not printable ASCII";
	case J1939DM_ESPACE:
		return "output buffer too small";
	}
	return "unknown error";
}

const char *j1939dm_lamp_name(enum j1939dm_lamp l)
{
	static const char *const names[] = {"off", "on", "error", "na"};

	return names[l & 3];
}
