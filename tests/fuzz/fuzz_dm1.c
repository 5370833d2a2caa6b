/* libFuzzer target: the input as a DM1 payload, as a VIN (output buffer
 * size from the first byte), as DM5, DM19 and DM20 and, from 8 bytes on, as
 * a NAME. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/j1939dm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;

static void fuzz_dm1(const uint8_t *data, size_t size)
{
	struct j1939dm_dm1 dm;
	int rc = j1939dm_dm1_decode(data, size, &dm);

	fuzz_sink += j1939dm_strerror(rc)[0];
	if (rc != J1939DM_OK) {
		if (rc != J1939DM_ESHORT || size >= 6 || dm.n_dtcs != 0)
			abort();
		return;
	}
	if (dm.n_dtcs < 0 || dm.n_dtcs > J1939DM_MAX_DTCS || dm.n_truncated < 0 ||
	    (size_t)(dm.n_dtcs + dm.n_truncated) > (size - 2) / 4 ||
	    (dm.n_truncated > 0 && dm.n_dtcs != J1939DM_MAX_DTCS))
		abort();
	if ((unsigned)dm.protect > 3 || (unsigned)dm.amber > 3 || (unsigned)dm.red_stop > 3 ||
	    (unsigned)dm.mil > 3 || (unsigned)dm.flash_mil > 3)
		abort();
	for (int i = 0; i < dm.n_dtcs; i++) {
		const struct j1939dm_dtc *d = &dm.dtc[i];

		if (d->spn > 0x7FFFF || d->fmi > 31 || d->oc > 127 || d->cm > 1 ||
		    (d->spn == 0 && d->fmi == 0))
			abort();
		fuzz_sink += d->spn + d->raw[0];
	}
}

static void fuzz_vin(const uint8_t *data, size_t size)
{
	char vin[64];
	size_t vinsize;
	int rc;

	if (size < 1)
		return;
	vinsize = data[0] % sizeof(vin);
	rc = j1939dm_vin_decode(data + 1, size - 1, vin, vinsize);
	fuzz_sink += j1939dm_strerror(rc)[0];
	if (vinsize == 0) {
		if (rc != J1939DM_EINVAL)
			abort();
		return;
	}
	if (rc < 0) {
		if (vin[0] != '\0')
			abort();
		return;
	}
	if (rc == 0 || (size_t)rc >= vinsize || strlen(vin) != (size_t)rc ||
	    memcmp(vin, data + 1, (size_t)rc) != 0)
		abort();
	for (int i = 0; i < rc; i++)
		if (vin[i] < 0x20 || vin[i] > 0x7E || vin[i] == '*')
			abort();
}

static void fuzz_dm5_19_20(const uint8_t *data, size_t size)
{
	static struct j1939dm_dm19 dm19;
	static struct j1939dm_dm20 dm20;
	struct j1939dm_dm5 dm5;
	uint16_t sup, rdy;

	if (j1939dm_dm5_decode(data, size, &dm5) == J1939DM_OK) {
		j1939dm_dm5_obd_words(&dm5, &sup, &rdy);
		fuzz_sink += sup + rdy;
	} else if (size >= 8) {
		abort();
	}
	if (j1939dm_dm19_decode(data, size, &dm19) == J1939DM_OK) {
		if (dm19.n < 1 || dm19.n > J1939DM_MAX_CALS ||
		    (size_t)(dm19.n + dm19.n_truncated) != size / 20)
			abort();
		for (int i = 0; i < dm19.n; i++)
			if (strlen(dm19.cal[i].cal_id) > 16)
				abort();
	} else if (size >= 20) {
		abort();
	}
	if (j1939dm_dm20_decode(data, size, &dm20) == J1939DM_OK) {
		if (dm20.n < 0 || dm20.n > J1939DM_MAX_RATIOS ||
		    (size_t)(dm20.n + dm20.n_truncated) > (size - 4) / 7)
			abort();
		for (int i = 0; i < dm20.n; i++)
			if (dm20.r[i].spn > 0x7FFFF)
				abort();
	} else if (size >= 4) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_dm1(data, size);
	fuzz_dm5_19_20(data, size);
	fuzz_vin(data, size);
	if (size >= 8) {
		struct j1939dm_name n;

		j1939dm_name_decode(data, &n);
		if (n.identity > 0x1FFFFF || n.manufacturer > 0x7FF || n.ecu_instance > 7 ||
		    n.function_instance > 31 || n.vehicle_system > 127 ||
		    n.vehicle_system_instance > 15 || n.industry_group > 7 ||
		    n.arbitrary_address > 1 || (uint8_t)n.raw != data[0])
			abort();
		fuzz_sink += n.raw;
	}
	return 0;
}
