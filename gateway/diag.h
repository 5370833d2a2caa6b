/* diag: what the engine's controllers say about themselves, as the CAN source
 * overhears it: DM1 lamps and active trouble codes per source address, DM5
 * readiness, DM19 calibrations, DM20 ratios, the VIN, and address claims
 * (NAMEs).  Raises `dtc`, `vin-mismatch` and `obd` events
 * through a callback; owns only this state. */
#ifndef EMGW_DIAG_H
#define EMGW_DIAG_H

#include <jansson.h>
#include <stdint.h>

#include "protocols/j1939dm.h"
#include "protocols/payload.h"

#define DIAG_MAX_ECUS 16 /* source addresses tracked */

/* What an `obd` event says of DM5, DM19 and DM20: the last one raised is
 * kept to tell a change from a repeat. */
struct diag_obd {
	int have_dm5, have_cal, have_dm20;
	int cal_is_text; /* cal_id is printable ASCII */
	uint16_t support, readiness;
	char cal_id[17], cvn[9];
	uint16_t ign_cycles, obd_conditions;
	int n;
	struct j1939dm_ratio r[PAYLOAD_MAX_RATIOS];
};

struct diag_ecu {
	int used;
	uint8_t sa;
	int have_dm1;
	struct j1939dm_dm1 dm1; /* the last DM1, as the active list */
	int have_name;
	struct j1939dm_name name;
	int have_dm5, have_dm19, have_dm20; /* the last of each, as sent */
	struct j1939dm_dm5 dm5;
	struct j1939dm_dm19 dm19;
	struct j1939dm_dm20 dm20;
	struct diag_obd obd_sent; /* what the last `obd` event said */
};

struct diag {
	char configured_vin[18];
	char vin[32];
	int vin_sa;
	int vin_mismatch;
	struct diag_ecu ecu[DIAG_MAX_ECUS];
	payload_event_fn *on_event;
	void *ctx;
};

/* Empty state; events go to on_event(ctx, ...).  configured_vin may be "". */
void diag_init(struct diag *d, const char *configured_vin, payload_event_fn *on_event, void *ctx);
/* A DM1 from sa: a `dtc` event when codes appear or clear or the MIL changes. */
void diag_dm1(struct diag *d, uint8_t sa, const struct j1939dm_dm1 *dm1);
/* The VIN from sa: a `vin-mismatch` event when it differs from the configured one. */
void diag_vin(struct diag *d, uint8_t sa, const char *vin);
/* The last DM5, DM19, DM20 from sa: kept, shown by diag_status; an `obd`
 * event when what they say differs from the last one raised for sa. */
void diag_dm5(struct diag *d, uint8_t sa, const struct j1939dm_dm5 *dm5);
void diag_dm19(struct diag *d, uint8_t sa, const struct j1939dm_dm19 *dm19);
void diag_dm20(struct diag *d, uint8_t sa, const struct j1939dm_dm20 *dm20);
/* An address claim by sa. */
void diag_claim(struct diag *d, uint8_t sa, const struct j1939dm_name *name);
/* {"vin":..., "ecus":{"0":{"name":..., "mil":..., "dtcs":[...], "obd_support":...,
 * "obd_readiness":..., "calibrations":[{"cal_id","cvn"}], "iupr":{...}}}}
 * for status. */
json_t *diag_status(const struct diag *d);

#endif
