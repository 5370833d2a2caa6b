/* diag: which DM1 changes raise `dtc` events, which DM5/DM19/DM20 changes
 * raise `obd` events, and VIN mismatches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include "tests/unit/event_sink.h"

#include "gateway/diag.h"

static struct j1939dm_dm1 dm1_with(int n, enum j1939dm_lamp mil)
{
	struct j1939dm_dm1 dm;

	memset(&dm, 0, sizeof(dm));
	dm.mil = mil;
	dm.n_dtcs = n;
	for (int i = 0; i < n; i++) {
		dm.dtc[i].spn = 3226 + (uint32_t)i;
		dm.dtc[i].fmi = 2;
		dm.dtc[i].oc = 1;
	}
	return dm;
}

static void test_dtc_changes(void **state)
{
	struct j1939dm_dm1 none = dm1_with(0, J1939DM_LAMP_OFF);
	struct j1939dm_dm1 one = dm1_with(1, J1939DM_LAMP_ON);
	struct j1939dm_dm1 one_oc = one, two_mil_off = dm1_with(2, J1939DM_LAMP_OFF);
	struct event_sink s = {.n = 0};
	static struct diag d;

	(void)state;
	diag_init(&d, "", event_sink_collect, &s);
	diag_dm1(&d, 0, &none);
	assert_int_equal(s.n, 0); /* first DM1 without faults: nothing to say */
	diag_dm1(&d, 0, &one);
	assert_int_equal(s.n, 1);
	assert_string_equal(json_string_value(json_object_get(s.ev[0], "type")), "dtc");
	assert_int_equal(json_array_size(json_object_get(s.ev[0], "appeared")), 1);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(s.ev[0], "appeared"), 0), "spn")),
			 3226);
	assert_true(json_is_true(json_object_get(s.ev[0], "mil_changed")));
	diag_dm1(&d, 0, &one); /* the same broadcast a second later */
	one_oc.dtc[0].oc = 2;  /* only the occurrence count moved */
	diag_dm1(&d, 0, &one_oc);
	assert_int_equal(s.n, 1);
	diag_dm1(&d, 0, &two_mil_off); /* a second code, MIL off */
	assert_int_equal(s.n, 2);
	assert_int_equal(json_array_size(json_object_get(s.ev[1], "appeared")), 1);
	assert_int_equal(json_array_size(json_object_get(s.ev[1], "cleared")), 0);
	assert_string_equal(json_string_value(json_object_get(s.ev[1], "mil")), "off");
	diag_dm1(&d, 0, &none);
	assert_int_equal(s.n, 3);
	assert_int_equal(json_array_size(json_object_get(s.ev[2], "cleared")), 2);
	assert_int_equal(json_array_size(json_object_get(s.ev[2], "active")), 0);
	/* Another controller's faults are its own. */
	diag_dm1(&d, 0x3D, &one);
	assert_int_equal(s.n, 4);
	assert_int_equal(json_integer_value(json_object_get(s.ev[3], "sa")), 0x3D);
	event_sink_clear(&s);
}

static void test_vin_mismatch_once(void **state)
{
	struct event_sink s = {.n = 0};
	static struct diag d;
	json_t *st;

	(void)state;
	diag_init(&d, "LZZ1EXCA7PN654321", event_sink_collect, &s);
	diag_vin(&d, 0, "LZZ1EXCA7PN654321");
	assert_int_equal(s.n, 0);
	diag_vin(&d, 0, "LZZ1EXCA7PN123456");
	diag_vin(&d, 0, "LZZ1EXCA7PN123456");
	assert_int_equal(s.n, 1);
	assert_string_equal(json_string_value(json_object_get(s.ev[0], "engine")),
			    "LZZ1EXCA7PN123456");
	st = diag_status(&d);
	assert_true(json_is_true(json_object_get(st, "vin_mismatch")));
	json_decref(st);
	diag_vin(&d, 0, "LZZ1EXCA7PN654321"); /* back to the right engine */
	diag_vin(&d, 0, "LZZ1EXCA7PN123456"); /* and away again: a new event */
	assert_int_equal(s.n, 2);
	event_sink_clear(&s);
}

static void test_no_configured_vin(void **state)
{
	struct event_sink s = {.n = 0};
	static struct diag d;

	(void)state;
	diag_init(&d, "", event_sink_collect, &s);
	diag_vin(&d, 0, "LZZ1EXCA7PN123456");
	assert_int_equal(s.n, 0);
}

/* DM5, DM19, DM20 kept per source and shown in status; no event. */
static void test_obd_state(void **state)
{
	static const uint8_t dm5b[8] = {0x02, 0x01, 0x13, 0x37, 0xE1, 0x1C, 0x41, 0x08};
	static const uint8_t dm20b[11] = {0x23, 0x01, 0x45, 0x00, 0xF2, 0x0B,
					  0x00, 0x05, 0x00, 0x0A, 0x00};
	uint8_t dm19b[20];
	struct event_sink s = {.n = 0};
	static struct diag d;
	struct j1939dm_dm5 dm5;
	struct j1939dm_dm19 dm19;
	struct j1939dm_dm20 dm20;
	json_t *st, *e;

	(void)state;
	memcpy(dm19b,
	       "\xBF\xA1\x40\xEC"
	       "YCY30165-60     ",
	       20);
	assert_int_equal(j1939dm_dm5_decode(dm5b, 8, &dm5), 0);
	assert_int_equal(j1939dm_dm19_decode(dm19b, 20, &dm19), 0);
	assert_int_equal(j1939dm_dm20_decode(dm20b, 11, &dm20), 0);
	diag_init(&d, "", event_sink_collect, &s);
	st = diag_status(&d);
	assert_int_equal(json_object_size(json_object_get(st, "ecus")), 0);
	json_decref(st);
	diag_dm5(&d, 0, &dm5);
	diag_dm19(&d, 0, &dm19);
	diag_dm20(&d, 0, &dm20);
	assert_int_equal(s.n, 3); /* each one told something new: test_obd_events */
	st = diag_status(&d);
	e = json_object_get(json_object_get(st, "ecus"), "0");
	assert_int_equal(json_integer_value(json_object_get(e, "obd_support")), 0xFCE1);
	assert_int_equal(json_integer_value(json_object_get(e, "obd_readiness")), 0x6841);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(e, "calibrations"), 0), "cal_id")),
			    "YCY30165-60");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(e, "calibrations"), 0), "cvn")),
			    "EC40A1BF");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(e, "iupr"), "ign_cycles")), 0x123);
	json_decref(st);
	event_sink_clear(&s);
}

static json_int_t ev_int(json_t *ev, const char *key)
{
	json_t *v = json_object_get(ev, key);

	assert_non_null(v);
	return json_integer_value(v);
}

static const char *ev_str(json_t *ev, const char *key)
{
	json_t *v = json_object_get(ev, key);

	assert_non_null(v);
	return json_string_value(v);
}

/* An `obd` event per change of DM5, DM19 or DM20, none for a repeat or for
 * a DM1 or VIN alone; each carries everything known of its source then. */
static void test_obd_events(void **state)
{
	static const uint8_t dm5b[8] = {0x00, 0x00, 0x13, 0x07, 0x19, 0x00, 0x08, 0x00};
	/* ign 1200, cond 345, SPN 3050 40/100, SPN 3058 7/9 */
	static const uint8_t dm20b[18] = {0xB0, 0x04, 0x59, 0x01, 0xEA, 0x0B, 0x00, 0x28, 0x00,
					  0x64, 0x00, 0xF2, 0x0B, 0x00, 0x07, 0x00, 0x09, 0x00};
	struct j1939dm_dm1 mil_on = dm1_with(1, J1939DM_LAMP_ON);
	struct event_sink s = {.n = 0};
	static struct diag d;
	struct j1939dm_dm5 dm5;
	struct j1939dm_dm19 dm19;
	struct j1939dm_dm20 dm20;
	uint8_t dm19b[20];
	json_t *r;

	(void)state;
	memcpy(dm19b,
	       "\x4D\x3C\x2B\x1A"
	       "ECU-CAL-A1\0\0\0\0\0\0",
	       20);
	assert_int_equal(j1939dm_dm5_decode(dm5b, 8, &dm5), 0);
	assert_int_equal(j1939dm_dm19_decode(dm19b, 20, &dm19), 0);
	assert_int_equal(j1939dm_dm20_decode(dm20b, 18, &dm20), 0);
	diag_init(&d, "", event_sink_collect, &s);
	diag_dm1(&d, 0, &mil_on);
	diag_vin(&d, 0, "LZZ1EXCA7PN123456");
	assert_int_equal(s.n, 1); /* the dtc event; no obd event yet */
	event_sink_clear(&s);

	diag_dm5(&d, 0, &dm5);
	assert_int_equal(s.n, 1);
	assert_string_equal(ev_str(s.ev[0], "type"), "obd");
	assert_int_equal(ev_int(s.ev[0], "sa"), 0);
	assert_string_equal(ev_str(s.ev[0], "protocol"), "sae-j1939");
	assert_string_equal(ev_str(s.ev[0], "mil"), "on");
	assert_string_equal(ev_str(s.ev[0], "vin"), "LZZ1EXCA7PN123456");
	/* bits 0-12 from bytes 5-6, 13-15 from byte 4's low (support) and
	 * high (status) bits: 0x0019 | 7 << 13; 0x0008 | 0 << 13 */
	assert_int_equal(ev_int(s.ev[0], "support"), 0xE019);
	assert_int_equal(ev_int(s.ev[0], "readiness"), 0x0008);
	assert_null(json_object_get(s.ev[0], "cal_id"));
	assert_null(json_object_get(s.ev[0], "ign_cycles"));
	assert_null(json_object_get(s.ev[0], "ratios"));
	diag_dm5(&d, 0, &dm5); /* the same DM5 again */
	assert_int_equal(s.n, 1);

	diag_dm19(&d, 0, &dm19);
	assert_int_equal(s.n, 2);
	assert_string_equal(ev_str(s.ev[1], "cal_id"), "ECU-CAL-A1");
	assert_string_equal(ev_str(s.ev[1], "cvn"), "1A2B3C4D");
	assert_int_equal(ev_int(s.ev[1], "support"), 0xE019);
	diag_dm19(&d, 0, &dm19);
	assert_int_equal(s.n, 2);

	diag_dm20(&d, 0, &dm20);
	assert_int_equal(s.n, 3);
	assert_int_equal(ev_int(s.ev[2], "ign_cycles"), 1200);
	assert_int_equal(ev_int(s.ev[2], "obd_conditions"), 345);
	r = json_object_get(s.ev[2], "ratios");
	assert_int_equal(json_array_size(r), 2);
	assert_int_equal(ev_int(json_array_get(r, 0), "spn"), 3050);
	assert_int_equal(ev_int(json_array_get(r, 0), "num"), 40);
	assert_int_equal(ev_int(json_array_get(r, 0), "den"), 100);
	assert_int_equal(ev_int(json_array_get(r, 1), "spn"), 3058);
	diag_dm20(&d, 0, &dm20);
	diag_dm1(&d, 0, &mil_on);
	assert_int_equal(s.n, 3);

	dm20.ign_cycles++; /* a counter moved: news */
	diag_dm20(&d, 0, &dm20);
	assert_int_equal(s.n, 4);
	assert_int_equal(ev_int(s.ev[3], "ign_cycles"), 1201);
	/* another controller's DM5 is its own */
	diag_dm5(&d, 0x3D, &dm5);
	assert_int_equal(s.n, 5);
	assert_int_equal(ev_int(s.ev[4], "sa"), 0x3D);
	assert_null(json_object_get(s.ev[4], "mil"));
	/* a CAL ID that is not text is left out, its CVN kept */
	dm19.cal[0].cal_id[3] = (char)0x80;
	diag_dm19(&d, 0, &dm19);
	assert_int_equal(s.n, 6);
	assert_null(json_object_get(s.ev[5], "cal_id"));
	assert_string_equal(ev_str(s.ev[5], "cvn"), "1A2B3C4D");
	event_sink_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dtc_changes),	      cmocka_unit_test(test_vin_mismatch_once),
	    cmocka_unit_test(test_no_configured_vin), cmocka_unit_test(test_obd_state),
	    cmocka_unit_test(test_obd_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
