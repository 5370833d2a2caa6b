#include "gateway/diag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void diag_init(struct diag *d, const char *configured_vin, payload_event_fn *on_event, void *ctx)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->configured_vin, sizeof(d->configured_vin), "%s", configured_vin);
	d->vin_sa = -1;
	d->on_event = on_event;
	d->ctx = ctx;
}

static struct diag_ecu *diag_ecu(struct diag *d, uint8_t sa)
{
	struct diag_ecu *free_slot = NULL;

	for (int i = 0; i < DIAG_MAX_ECUS; i++) {
		if (d->ecu[i].used && d->ecu[i].sa == sa)
			return &d->ecu[i];
		if (!d->ecu[i].used && !free_slot)
			free_slot = &d->ecu[i];
	}
	if (!free_slot)
		return NULL; /* more controllers than we track: ignore the rest */
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = 1;
	free_slot->sa = sa;
	return free_slot;
}

/* A code is the same fault when SPN and FMI agree; the occurrence count
 * moves on its own. */
static int diag_has(const struct j1939dm_dm1 *dm, const struct j1939dm_dtc *c)
{
	for (int i = 0; i < dm->n_dtcs; i++)
		if (dm->dtc[i].spn == c->spn && dm->dtc[i].fmi == c->fmi)
			return 1;
	return 0;
}

/* Codes in a but not in b (every code of a when b is NULL). */
static void diag_diff(const struct j1939dm_dm1 *a, const struct j1939dm_dm1 *b,
		      struct payload_dtcs *out)
{
	out->n = 0;
	for (int i = 0; i < a->n_dtcs && out->n < PAYLOAD_MAX_DTCS; i++)
		if (!b || !diag_has(b, &a->dtc[i]))
			out->d[out->n++] =
			    (struct payload_dtc){a->dtc[i].spn, a->dtc[i].fmi, a->dtc[i].oc};
}

static void diag_lamp(char *dst, size_t size, int lamp)
{
	snprintf(dst, size, "%s", j1939dm_lamp_name(lamp));
}

void diag_dm1(struct diag *d, uint8_t sa, const struct j1939dm_dm1 *dm1)
{
	struct diag_ecu *e = diag_ecu(d, sa);
	static const struct j1939dm_dm1 none = {.mil = J1939DM_LAMP_OFF};
	const struct j1939dm_dm1 *old;
	struct payload_event ev;

	if (!e)
		return;
	old = e->have_dm1 ? &e->dm1 : &none;
	payload_event_init(&ev, PAYLOAD_EV_DTC);
	diag_diff(dm1, old, &ev.appeared);
	diag_diff(old, dm1, &ev.cleared);
	ev.mil_changed = old->mil != dm1->mil && e->have_dm1;
	if (ev.appeared.n || ev.cleared.n || ev.mil_changed) {
		ev.sa = sa;
		diag_diff(dm1, NULL, &ev.active);
		diag_lamp(ev.mil, sizeof(ev.mil), dm1->mil);
		diag_lamp(ev.red_stop, sizeof(ev.red_stop), dm1->red_stop);
		diag_lamp(ev.amber, sizeof(ev.amber), dm1->amber);
		d->on_event(d->ctx, &ev);
	}
	e->dm1 = *dm1;
	e->have_dm1 = 1;
}

void diag_vin(struct diag *d, uint8_t sa, const char *vin)
{
	int mismatch;

	snprintf(d->vin, sizeof(d->vin), "%s", vin);
	d->vin_sa = sa;
	mismatch = d->configured_vin[0] && strcmp(d->configured_vin, vin) != 0;
	/* One event per change, not one per broadcast. */
	if (mismatch && !d->vin_mismatch) {
		struct payload_event ev;

		payload_event_init(&ev, PAYLOAD_EV_VIN_MISMATCH);
		payload_strlcpy(ev.configured, sizeof(ev.configured), d->configured_vin);
		payload_strlcpy(ev.engine, sizeof(ev.engine), vin);
		ev.sa = sa;
		d->on_event(d->ctx, &ev);
	}
	d->vin_mismatch = mismatch;
}

/* A calibration as text: the CAL ID without its NUL/space padding, and
 * the CVN in hex, most significant byte first (DM19 sends it least
 * significant first).  1 when the CAL ID is printable ASCII, else 0. */
static int diag_cal_text(const struct j1939dm_cal *c, char id[17], char cvn[9])
{
	size_t n = strnlen(c->cal_id, 16);
	int printable = 1;

	snprintf(cvn, 9, "%02X%02X%02X%02X", c->cvn[3], c->cvn[2], c->cvn[1], c->cvn[0]);
	memcpy(id, c->cal_id, n);
	while (n > 0 && id[n - 1] == ' ')
		n--;
	id[n] = '\0';
	for (size_t j = 0; j < n; j++)
		printable &= id[j] >= 0x20 && id[j] <= 0x7E;
	return printable;
}

/* What e's DM5, DM19 (its first calibration) and DM20 say, zeroed around
 * so that two of them compare with memcmp. */
static void diag_obd_of(const struct diag_ecu *e, struct diag_obd *o)
{
	memset(o, 0, sizeof(*o));
	if (e->have_dm5) {
		o->have_dm5 = 1;
		j1939dm_dm5_obd_words(&e->dm5, &o->support, &o->readiness);
	}
	if (e->have_dm19 && e->dm19.n > 0) {
		o->have_cal = 1;
		o->cal_is_text = diag_cal_text(&e->dm19.cal[0], o->cal_id, o->cvn);
	}
	if (e->have_dm20) {
		o->have_dm20 = 1;
		o->ign_cycles = e->dm20.ign_cycles;
		o->obd_conditions = e->dm20.obd_conditions;
		for (int i = 0; i < e->dm20.n && o->n < PAYLOAD_MAX_RATIOS; i++)
			o->r[o->n++] = e->dm20.r[i];
	}
}

/* The `obd` event of o, with e's MIL and the bus's VIN as they are now. */
static void diag_obd_event(struct diag *d, const struct diag_obd *o, uint8_t sa,
			   const struct diag_ecu *e)
{
	struct payload_event ev;

	payload_event_init(&ev, PAYLOAD_EV_OBD);
	ev.sa = sa;
	payload_strlcpy(ev.protocol, sizeof(ev.protocol), "sae-j1939");
	if (e->have_dm1)
		diag_lamp(ev.mil, sizeof(ev.mil), e->dm1.mil);
	payload_strlcpy(ev.engine, sizeof(ev.engine), d->vin);
	if (o->have_dm5) {
		ev.obd_support = o->support;
		ev.obd_readiness = o->readiness;
	}
	if (o->have_cal) {
		/* A CAL ID that is not text is left out rather than changed. */
		if (o->cal_is_text)
			payload_strlcpy(ev.cal_id, sizeof(ev.cal_id), o->cal_id);
		payload_strlcpy(ev.cvn, sizeof(ev.cvn), o->cvn);
	}
	if (o->have_dm20) {
		ev.ign_cycles = o->ign_cycles;
		ev.obd_conditions = o->obd_conditions;
		for (int i = 0; i < o->n; i++)
			ev.ratios.r[i] =
			    (struct payload_ratio){o->r[i].spn, o->r[i].num, o->r[i].den};
		ev.ratios.n = o->n;
	}
	d->on_event(d->ctx, &ev);
}

/* One `obd` event per change of what e's DM5/DM19/DM20 say, none for a repeat. */
static void diag_obd_changed(struct diag *d, struct diag_ecu *e)
{
	struct diag_obd now;

	diag_obd_of(e, &now);
	if (memcmp(&now, &e->obd_sent, sizeof(now)) == 0)
		return;
	memcpy(&e->obd_sent, &now, sizeof(now)); /* padding too: memcmp above */
	diag_obd_event(d, &now, e->sa, e);
}

void diag_dm5(struct diag *d, uint8_t sa, const struct j1939dm_dm5 *dm5)
{
	struct diag_ecu *e = diag_ecu(d, sa);

	if (!e)
		return;
	e->dm5 = *dm5;
	e->have_dm5 = 1;
	diag_obd_changed(d, e);
}

void diag_dm19(struct diag *d, uint8_t sa, const struct j1939dm_dm19 *dm19)
{
	struct diag_ecu *e = diag_ecu(d, sa);

	if (!e)
		return;
	e->dm19 = *dm19;
	e->have_dm19 = 1;
	diag_obd_changed(d, e);
}

void diag_dm20(struct diag *d, uint8_t sa, const struct j1939dm_dm20 *dm20)
{
	struct diag_ecu *e = diag_ecu(d, sa);

	if (!e)
		return;
	e->dm20 = *dm20;
	e->have_dm20 = 1;
	diag_obd_changed(d, e);
}

void diag_claim(struct diag *d, uint8_t sa, const struct j1939dm_name *name)
{
	struct diag_ecu *e = diag_ecu(d, sa);

	if (!e)
		return;
	e->name = *name;
	e->have_name = 1;
}

static json_t *diag_active_json(const struct j1939dm_dm1 *dm)
{
	json_t *list = json_array();

	for (int i = 0; i < dm->n_dtcs; i++)
		json_array_append_new(list, json_pack("{s:I, s:i, s:i}", "spn",
						      (json_int_t)dm->dtc[i].spn, "fmi",
						      dm->dtc[i].fmi, "oc", dm->dtc[i].oc));
	return list;
}

/* DM5, DM19, DM20 as the GB 17691 / HJ OBD unit would carry them. */
static void diag_obd_json(const struct diag_ecu *e, json_t *o)
{
	if (e->have_dm5) {
		uint16_t support, readiness;

		j1939dm_dm5_obd_words(&e->dm5, &support, &readiness);
		json_object_set_new(o, "obd_support", json_integer(support));
		json_object_set_new(o, "obd_readiness", json_integer(readiness));
	}
	if (e->have_dm19) {
		json_t *cals = json_array();

		for (int i = 0; i < e->dm19.n; i++) {
			char cvn[9], id[17];

			if (!diag_cal_text(&e->dm19.cal[i], id, cvn))
				for (char *c = id; *c; c++)
					if (*c < 0x20 || *c > 0x7E)
						*c = '?'; /* status JSON stays text */
			json_array_append_new(cals,
					      json_pack("{s:s, s:s}", "cal_id", id, "cvn", cvn));
		}
		json_object_set_new(o, "calibrations", cals);
	}
	if (e->have_dm20) {
		json_t *r = json_array();

		for (int i = 0; i < e->dm20.n; i++)
			json_array_append_new(
			    r, json_pack("{s:I, s:i, s:i}", "spn", (json_int_t)e->dm20.r[i].spn,
					 "num", e->dm20.r[i].num, "den", e->dm20.r[i].den));
		json_object_set_new(o, "iupr",
				    json_pack("{s:i, s:i, s:o}", "ign_cycles", e->dm20.ign_cycles,
					      "obd_conditions", e->dm20.obd_conditions, "ratios",
					      r));
	}
}

static json_t *diag_ecu_json(const struct diag_ecu *e)
{
	json_t *o = json_object();
	char name[24];

	if (e->have_name) {
		snprintf(name, sizeof(name), "%016" PRIx64, e->name.raw);
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "manufacturer", json_integer(e->name.manufacturer));
		json_object_set_new(o, "function", json_integer(e->name.function));
	}
	if (e->have_dm1) {
		json_object_set_new(o, "mil", json_string(j1939dm_lamp_name(e->dm1.mil)));
		json_object_set_new(o, "dtcs", diag_active_json(&e->dm1));
	}
	diag_obd_json(e, o);
	return o;
}

json_t *diag_status(const struct diag *d)
{
	json_t *ecus = json_object();
	char key[8];

	for (int i = 0; i < DIAG_MAX_ECUS; i++) {
		if (!d->ecu[i].used)
			continue;
		snprintf(key, sizeof(key), "%u", (unsigned)d->ecu[i].sa);
		json_object_set_new(ecus, key, diag_ecu_json(&d->ecu[i]));
	}
	return json_pack("{s:s?, s:b, s:o}", "vin", d->vin[0] ? d->vin : NULL, "vin_mismatch",
			 d->vin_mismatch, "ecus", ecus);
}
