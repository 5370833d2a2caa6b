/* payload: every event type and the record encode to the exact documented
 * bytes, decode back to the same struct, match jansson's own formatting,
 * cut UTF-8 between characters, and fail loudly (never silently) on what
 * JSON cannot carry or a buffer too small. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocols/payload.h"

#define H                                                                                          \
	"{\"v\":1,\"dev\":\"t-1\",\"boot\":3,\"seq\":1207,\"ts\":\"2023-11-14T22:13:28.000Z\","    \
	"\"ts_src\":\"replay\",\"mono_ms\":8000"
#define T0 INT64_C(1700000000000) /* 2023-11-14T22:13:20.000Z */

static const struct payload_header hdr = {
    .v = 1,
    .dev = "t-1",
    .boot = 3,
    .seq = 1207,
    .ts_ms = T0 + 8000,
    .ts_src = PAYLOAD_TS_REPLAY,
    .mono_ms = 8000,
};

static char buf[65536], buf2[65536];

static struct payload_evidence evidence, evidence2;

static void set(char *dst, size_t size, const char *s)
{
	assert_int_equal(payload_strlcpy(dst, size, s), 0);
}

/* ---- the cases: one a type, each with its exact bytes ---------------------------- */

static void ev_clock(struct payload_event *e)
{
	e->from_ms = T0;
	e->to_ms = T0 + 3500;
	e->jump_s = 3.5;
	set(e->clock, sizeof(e->clock), "system");
}

static void ev_gap(struct payload_event *e)
{
	e->from_ms = T0;
	e->to_ms = T0 + 86400000;
	e->gap_s = 86400.0;
}

static void ev_store(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "moved-aside");
	set(e->problem, sizeof(e->problem), "file is not a database");
	set(e->moved_to, sizeof(e->moved_to), "/var/lib/emgw/store.db.corrupt-20231114T221320Z");
}

static void ev_row_too_large(struct payload_event *e)
{
	set(e->uplink, sizeof(e->uplink), "mqtt");
	e->row_seq = 4711;
	e->packet_bytes = 6120;
	e->max_packet = 5000;
}

static void ev_evicted(struct payload_event *e)
{
	e->sealed_boot = 2;
	e->sealed_from = 900;
	e->sealed_to = 902;
	e->evicted_n = 2;
	set(e->evicted_rows, sizeof(e->evicted_rows), "900=ab01,902");
}

static void ev_seal(struct payload_event *e)
{
	e->sealed_boot = 3;
	e->sealed_from = 1140;
	e->sealed_to = 1206;
	set(e->seal_hash, sizeof(e->seal_hash), "ab01");
	set(e->seal_prev, sizeof(e->seal_prev), "cd02");
	set(e->seal_key, sizeof(e->seal_key), "0123456789abcdef");
	set(e->seal_alg, sizeof(e->seal_alg), "sm2");
	set(e->seal_sig, sizeof(e->seal_sig), "ef03");
}

static void ev_smoke_start(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	set(e->rule, sizeof(e->rule), "lambda");
	set(e->rules, sizeof(e->rules), "lambda");
	set(e->confidence, sizeof(e->confidence), "low");
	e->since_ms = T0 + 7000;
	e->duration_s = 3;
	set(e->quantity, sizeof(e->quantity), "lambda");
	e->peak = e->lambda_min = 1.05;
	e->mean = e->lambda_mean = 1.06;
	e->load_mean_pct = 85.5;
}

static void ev_turbo_lag(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "end");
	e->since_ms = T0 + 7000;
	e->duration_s = 6;
	e->boost_deficit_kpa = 62.5;
	e->load_mean_pct = 80;
	e->ended_ms = T0 + 13000;
	set(e->end_reason, sizeof(e->end_reason), "clear");
}

static void ev_smoke_end(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "end");
	set(e->rule, sizeof(e->rule), "opacity");
	set(e->rules, sizeof(e->rules), "opacity,transient");
	set(e->confidence, sizeof(e->confidence), "medium");
	e->boost_deficit_kpa = 40;
	e->since_ms = T0 + 7000;
	e->duration_s = 12;
	set(e->quantity, sizeof(e->quantity), "opacity_k_m1");
	e->peak = e->k_max_m1 = 3.2;
	e->mean = e->k_mean_m1 = 2.8;
	e->limit_k_m1 = 2.5;
	e->load_mean_pct = 70;
	e->ended_ms = T0 + 19000;
	set(e->end_reason, sizeof(e->end_reason), "clear");
	memset(&evidence, 0, sizeof(evidence));
	evidence.from_ms = T0 + 2000;
	evidence.n_fields = 2;
	evidence.fields[0] = SIG_ENGINE_SPEED_RPM;
	evidence.fields[1] = SIG_LAMBDA;
	evidence.n_rows = 2;
	evidence.rows[0] = (struct payload_evidence_row){0, {1800, 0}, 1};
	evidence.rows[1] = (struct payload_evidence_row){1, {1801.5, 1.1}, 3};
	evidence.skipped_s = 0;
	/* the inputs at signal rate: speed thinned (5 received, 2 kept) */
	evidence.raw.n_fields = 2;
	evidence.raw.fields[0] = SIG_ENGINE_SPEED_RPM;
	evidence.raw.fields[1] = SIG_OPACITY_K_M1;
	evidence.raw.n[0] = 2;
	evidence.raw.n[1] = 1;
	evidence.raw.received[0] = 5;
	evidence.raw.received[1] = 1;
	evidence.raw.p[0][0] = (struct payload_raw_point){5.02, 1800.125};
	evidence.raw.p[0][1] = (struct payload_raw_point){5.06, 1812};
	evidence.raw.p[1][0] = (struct payload_raw_point){5.2, 3.2};
	e->evidence = &evidence;
}

static void ev_zone(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "enter");
	set(e->zone, sizeof(e->zone), "Zon\xc3\xa9 \"1\"");
	e->prohibited = 1;
	e->prohibited_stages = (struct payload_stages){2, {3, 4}};
	e->lat = 31.05;
	e->lon = 121.05;
	/* with [gnss]: the position of the moment, here lost */
	e->pos.present = 1;
	e->pos.lat = 30.870512;
	e->pos.lon = 120.091234;
	e->pos.age_s = 12.4;
	set(e->pos.fix, sizeof(e->pos.fix), "none");
}

static void ev_zone_violation(struct payload_event *e)
{
	set(e->zone, sizeof(e->zone), "ring5");
	e->since_ms = T0;
	e->stage = 4;
	e->prohibited_stages = (struct payload_stages){1, {4}};
	e->lat = 31.05;
	e->lon = 121.05;
}

static void ev_engine_start(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	e->engine_speed_rpm = 812;
}

static void ev_engine_stop(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "stop");
	set(e->reason, sizeof(e->reason), "speed");
	e->run_s = 97;
}

static void ev_ecu_silent(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	e->last_frame_age_s = 15;
	e->engine_was_running = 1;
}

static void ev_meter_lost(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	set(e->device, sizeof(e->device), "opacity");
	set(e->bus, sizeof(e->bus), "rs485");
	e->last_value_age_s = 15.2;
}

static void ev_point_lost(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	set(e->device, sizeof(e->device), "opacity");
	set(e->bus, sizeof(e->bus), "rs485");
	set(e->point, sizeof(e->point), "opacity_k_m1");
	set(e->table, sizeof(e->table), "input");
	e->address = 12;
	set(e->problem, sizeof(e->problem), "refused by the device");
}

static void ev_zones_disabled(struct payload_event *e)
{
	set(e->problem, sizeof(e->problem), "/etc/emgw/zones.geojson: No such file or directory");
}

static void ev_config_rollback(struct payload_event *e)
{
	set(e->problem, sizeof(e->problem), "not confirmed within 120 s");
	set(e->old_sha256, sizeof(e->old_sha256),
	    "0000000000000000000000000000000000000000000000000000000000000001");
	set(e->new_sha256, sizeof(e->new_sha256),
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
}

static void ev_gps_lost(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "end");
	e->cleared_s = 0;
}

static void ev_dpf_low(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	e->held_s = 300;
	e->dpf_dp_mean_kpa = 0.12;
	e->load_mean_pct = 70;
	e->limit_kpa = 0.5;
}

static void ev_nox_frozen(struct payload_event *e)
{
	set(e->state, sizeof(e->state), "start");
	e->held_s = 120;
	set(e->signal, sizeof(e->signal), "nox_up_ppm");
	e->value = 250;
}

static void ev_restart(struct payload_event *e)
{
	e->clean = 0;
}

static void ev_config_changed(struct payload_event *e)
{
	set(e->from_hash, sizeof(e->from_hash), "0123456789abcdef");
	set(e->to_hash, sizeof(e->to_hash), "fedcba9876543210");
}

static void ev_dtc(struct payload_event *e)
{
	e->sa = 0;
	e->appeared = (struct payload_dtcs){1, {{100, 1, 3}}};
	e->cleared.n = 0;
	e->active = (struct payload_dtcs){2, {{100, 1, 3}, {524287, 31, 126}}};
	set(e->mil, sizeof(e->mil), "on");
	e->mil_changed = 1;
	set(e->red_stop, sizeof(e->red_stop), "off");
	set(e->amber, sizeof(e->amber), "na");
}

static void ev_vin_mismatch(struct payload_event *e)
{
	set(e->configured, sizeof(e->configured), "LZZ1EXCA7PN654321");
	set(e->engine, sizeof(e->engine), "LZZ1EXCA7PN000000");
	e->sa = 0;
}

static void ev_obd(struct payload_event *e)
{
	e->sa = 0;
	set(e->protocol, sizeof(e->protocol), "sae-j1939");
	set(e->mil, sizeof(e->mil), "on");
	set(e->engine, sizeof(e->engine), "LZZ1EXCA7PN123456");
	e->obd_support = 0x6019;
	e->obd_readiness = 0x0008;
	set(e->cal_id, sizeof(e->cal_id), "ECU-CAL-A1");
	set(e->cvn, sizeof(e->cvn), "1A2B3C4D");
	e->ign_cycles = 1200;
	e->obd_conditions = 345;
	e->ratios = (struct payload_ratios){2, {{3050, 40, 100}, {524287, 0, 65535}}};
}

static const struct ev_case {
	enum payload_type type;
	void (*fill)(struct payload_event *e);
	const char *want;
} ev_cases[] = {
    {PAYLOAD_EV_CLOCK, ev_clock,
     H ",\"type\":\"clock\",\"from\":\"2023-11-14T22:13:20.000Z\",\"to\":\"2023-11-14T22:13:23."
       "500Z\","
       "\"jump_s\":3.5,\"clock\":\"system\"}"},
    {PAYLOAD_EV_GAP, ev_gap,
     H ",\"type\":\"gap\",\"from\":\"2023-11-14T22:13:20.000Z\",\"to\":\"2023-11-15T22:13:"
       "20.000Z\",\"gap_s\":86400.0}"},
    {PAYLOAD_EV_STORE, ev_store,
     H ",\"type\":\"store\",\"state\":\"moved-aside\",\"problem\":\"file is not a database\","
       "\"moved_to\":\"/var/lib/emgw/store.db.corrupt-20231114T221320Z\"}"},
    {PAYLOAD_EV_ROW_TOO_LARGE, ev_row_too_large,
     H ",\"type\":\"row-too-large\",\"uplink\":\"mqtt\",\"row_seq\":4711,\"packet_bytes\":6120,"
       "\"max_packet\":5000}"},
    {PAYLOAD_EV_SEAL, ev_seal,
     H ",\"type\":\"seal\",\"sealed_boot\":3,\"from\":1140,\"to\":1206,\"hash\":\"ab01\","
       "\"prev\":\"cd02\",\"key\":\"0123456789abcdef\",\"alg\":\"sm2\","
       "\"signature\":\"ef03\"}"},
    {PAYLOAD_EV_EVICTED, ev_evicted,
     H ",\"type\":\"evicted\",\"evicted_boot\":2,\"from\":900,\"to\":902,\"rows\":2,"
       "\"hashes\":\"900=ab01,902\"}"},
    {PAYLOAD_EV_SMOKE, ev_smoke_start,
     H ",\"type\":\"smoke\",\"state\":\"start\",\"rule\":\"lambda\",\"rules\":\"lambda\","
       "\"confidence\":\"low\",\"since\":\"2023-11-14T22:13:"
       "27.000Z\","
       "\"duration_s\":3.0,\"quantity\":\"lambda\",\"peak\":1.05,\"mean\":1.06,\"load_mean_pct\":"
       "85.5,"
       "\"lambda_min\":1.05,\"lambda_mean\":1.06}"},
    {PAYLOAD_EV_SMOKE, ev_smoke_end,
     H ",\"type\":\"smoke\",\"state\":\"end\",\"rule\":\"opacity\",\"rules\":"
       "\"opacity,transient\",\"confidence\":\"medium\",\"since\":\"2023-11-14T22:13:27."
       "000Z\","
       "\"duration_s\":12.0,\"quantity\":\"opacity_k_m1\",\"peak\":3.2,\"mean\":2.8,\"load_mean_"
       "pct\":70.0,"
       "\"k_max_m1\":3.2,\"k_mean_m1\":2.8,\"limit_k_m1\":2.5,\"boost_deficit_kpa\":40.0,\"ended\":"
       "\"2023-11-14T22:13:39.000Z\","
       "\"end_reason\":\"clear\",\"evidence\":{\"from\":\"2023-11-14T22:13:22.000Z\","
       "\"fields\":[\"engine_speed_rpm\",\"lambda\"],\"rows\":[[0.0,1800.0,null],[1.0,1801.5,1.1]],"
       "\"skipped_s\":0.0,\"raw\":{\"fields\":[\"engine_speed_rpm\",\"opacity_k_m1\"],"
       "\"rows\":[[[5.02,1800.125],[5.06,1812.0]],[[5.2,3.2]]],\"received\":[5,1]}}}"},
    {PAYLOAD_EV_TURBO_LAG, ev_turbo_lag,
     H ",\"type\":\"turbo-lag\",\"state\":\"end\",\"since\":\"2023-11-14T22:13:27.000Z\","
       "\"duration_s\":6.0,\"boost_deficit_kpa\":62.5,\"load_mean_pct\":80.0,"
       "\"ended\":\"2023-11-14T22:13:33.000Z\",\"end_reason\":\"clear\"}"},
    {PAYLOAD_EV_ZONE, ev_zone,
     H ",\"type\":\"zone\",\"state\":\"enter\",\"zone\":\"Zon\xc3\xa9 "
       "\\\"1\\\"\",\"prohibited\":true,"
       "\"prohibited_stages\":[3,4],\"lat\":31.05,\"lon\":121.05,\"pos\":{\"valid\":false,"
       "\"lat\":30.870512,\"lon\":120.091234,\"age_s\":12.4,\"fix\":\"none\"}}"},
    {PAYLOAD_EV_ZONE_VIOLATION, ev_zone_violation,
     H ",\"type\":\"zone-violation\",\"zone\":\"ring5\",\"since\":\"2023-11-14T22:13:20.000Z\","
       "\"stage\":4,\"prohibited_stages\":[4],\"lat\":31.05,\"lon\":121.05}"},
    {PAYLOAD_EV_ENGINE, ev_engine_start,
     H ",\"type\":\"engine\",\"state\":\"start\",\"engine_speed_rpm\":812.0}"},
    {PAYLOAD_EV_ENGINE, ev_engine_stop,
     H ",\"type\":\"engine\",\"state\":\"stop\",\"reason\":\"speed\",\"run_s\":97.0}"},
    {PAYLOAD_EV_ECU_SILENT, ev_ecu_silent,
     H ",\"type\":\"ecu-silent\",\"state\":\"start\",\"last_frame_age_s\":15.0,"
       "\"engine_was_running\":true}"},
    {PAYLOAD_EV_METER_LOST, ev_meter_lost,
     H ",\"type\":\"meter-lost\",\"state\":\"start\",\"device\":\"opacity\",\"bus\":\"rs485\","
       "\"last_value_age_s\":15.2}"},
    {PAYLOAD_EV_POINT_LOST, ev_point_lost,
     H ",\"type\":\"point-lost\",\"state\":\"start\",\"device\":\"opacity\",\"bus\":\"rs485\","
       "\"point\":\"opacity_k_m1\",\"table\":\"input\",\"address\":12,\"reason\":\"refused by the "
       "device\"}"},
    {PAYLOAD_EV_ZONES_DISABLED, ev_zones_disabled,
     H ",\"type\":\"zones-disabled\",\"reason\":\"/etc/emgw/zones.geojson: No such file or "
       "directory\"}"},
    {PAYLOAD_EV_CONFIG_ROLLBACK, ev_config_rollback,
     H ",\"type\":\"config-rollback\",\"reason\":\"not confirmed within 120 s\","
       "\"old\":\"0000000000000000000000000000000000000000000000000000000000000001\","
       "\"new\":\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}"},
    {PAYLOAD_EV_GPS_LOST, ev_gps_lost,
     H ",\"type\":\"gps-lost\",\"state\":\"end\",\"cleared_s\":0.0}"},
    {PAYLOAD_EV_DPF_LOW, ev_dpf_low,
     H ",\"type\":\"dpf-low\",\"state\":\"start\",\"held_s\":300.0,\"dpf_dp_mean_kpa\":0.12,"
       "\"load_mean_pct\":70.0,\"limit_kpa\":0.5}"},
    {PAYLOAD_EV_NOX_FROZEN, ev_nox_frozen,
     H ",\"type\":\"nox-frozen\",\"state\":\"start\",\"held_s\":120.0,\"signal\":\"nox_up_ppm\","
       "\"value\":250.0}"},
    {PAYLOAD_EV_RESTART, ev_restart, H ",\"type\":\"restart\",\"clean\":false}"},
    {PAYLOAD_EV_CONFIG_CHANGED, ev_config_changed,
     H ",\"type\":\"config-changed\",\"from\":\"0123456789abcdef\",\"to\":\"fedcba9876543210\"}"},
    {PAYLOAD_EV_DTC, ev_dtc,
     H ",\"type\":\"dtc\",\"sa\":0,\"appeared\":[{\"spn\":100,\"fmi\":1,\"oc\":3}],\"cleared\":[],"
       "\"active\":[{\"spn\":100,\"fmi\":1,\"oc\":3},{\"spn\":524287,\"fmi\":31,\"oc\":126}],"
       "\"mil\":\"on\",\"mil_changed\":true,\"red_stop\":\"off\",\"amber\":\"na\"}"},
    {PAYLOAD_EV_VIN_MISMATCH, ev_vin_mismatch,
     H ",\"type\":\"vin-mismatch\",\"configured\":\"LZZ1EXCA7PN654321\","
       "\"engine\":\"LZZ1EXCA7PN000000\",\"sa\":0}"},
    {PAYLOAD_EV_OBD, ev_obd,
     H ",\"type\":\"obd\",\"sa\":0,\"protocol\":\"sae-j1939\",\"mil\":\"on\","
       "\"vin\":\"LZZ1EXCA7PN123456\",\"support\":24601,\"readiness\":8,"
       "\"cal_id\":\"ECU-CAL-A1\",\"cvn\":\"1A2B3C4D\",\"ign_cycles\":1200,"
       "\"obd_conditions\":345,\"ratios\":[{\"spn\":3050,\"num\":40,\"den\":100},"
       "{\"spn\":524287,\"num\":0,\"den\":65535}]}"},
};

#define N_CASES (sizeof(ev_cases) / sizeof(ev_cases[0]))

/* jansson's own dump of what it reads from text: byte for byte the text
 * when the text is formatted as jansson formats. */
static void expect_jansson_form(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	char *again;

	assert_non_null(j);
	again = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
	assert_non_null(again);
	assert_string_equal(again, text);
	free(again);
	json_decref(j);
}

static void test_every_type_has_a_case(void **state)
{
	int seen[PAYLOAD_TYPE_COUNT] = {0};

	(void)state;
	for (size_t i = 0; i < N_CASES; i++)
		seen[ev_cases[i].type] = 1;
	for (int t = PAYLOAD_EV_CLOCK; t < PAYLOAD_TYPE_COUNT; t++)
		if (!seen[t])
			fail_msg("no case for %s", payload_type_name((enum payload_type)t));
}

static void test_events_encode_exactly(void **state)
{
	struct payload_event ev;

	(void)state;
	for (size_t i = 0; i < N_CASES; i++) {
		int n;

		payload_event_init(&ev, ev_cases[i].type);
		ev_cases[i].fill(&ev);
		n = payload_encode_event(&hdr, &ev, buf, sizeof(buf));
		if (n < 0)
			fail_msg("case %zu: %s", i, payload_strerror(n));
		assert_string_equal(buf, ev_cases[i].want);
		assert_int_equal(n, (int)strlen(ev_cases[i].want));
		expect_jansson_form(buf);
	}
}

/* decode(encode(x)) is x, member for member, and encodes to the same bytes. */
static void test_events_round_trip(void **state)
{
	static struct payload_event ev, back;
	struct payload_header h;

	(void)state;
	for (size_t i = 0; i < N_CASES; i++) {
		int n;

		payload_event_init(&ev, ev_cases[i].type);
		ev_cases[i].fill(&ev);
		n = payload_encode_event(&hdr, &ev, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(payload_decode_event(buf, (size_t)n, &h, &back, &evidence2), 0);
		assert_memory_equal(&h, &hdr, sizeof(h));
		if (ev.evidence) {
			assert_ptr_equal(back.evidence, &evidence2);
			assert_memory_equal(&evidence2, &evidence, sizeof(evidence));
			back.evidence = ev.evidence;
		}
		assert_memory_equal(&back, &ev, sizeof(ev));
		assert_int_equal(payload_encode_event(&h, &back, buf2, sizeof(buf2)), n);
		assert_string_equal(buf2, buf);
	}
}

static void fill_record(struct payload_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	payload_record_init(rec);
	payload_record_set(rec, SIG_LAMBDA, 0, 1.06);
	payload_record_set(rec, SIG_ENGINE_TORQUE_PCT, 0, 85);
	payload_record_set(rec, SIG_ENGINE_SPEED_RPM, 0, 1781);
	payload_record_set(rec, SIG_ENGINE_SPEED_RPM, 1, 900.5);
	assert_int_equal(payload_record_custom(rec, "pump_bar", 0, NULL, 12.5), 0);
	assert_int_equal(payload_record_custom(rec, "label", 2, "a\"b\n\x01", 0), 0);
	rec->pos.present = 1;
	rec->pos.valid = 1;
	rec->pos.lat = 30.870512;
	rec->pos.lon = 120.091234;
	rec->pos.age_s = 0.21;
	set(rec->pos.fix, sizeof(rec->pos.fix), "3d");
	set(rec->pos.quality, sizeof(rec->pos.quality), "rtk_fixed");
	rec->pos.sats_used = 19;
	assert_int_equal(payload_parse_iso("2026-11-28T11:21:24.000Z", &rec->pos.fix_ts_ms), 0);
	set(rec->pos.point, sizeof(rec->pos.point), "distance");
	set(rec->trigger, sizeof(rec->trigger), "snapshot");
}

static void test_record(void **state)
{
	static struct payload_record rec, back;
	static const char want[] =
	    H ",\"sig\":{\"engine_torque_pct\":85.0,\"engine_speed_rpm\":1781.0,\"lambda\":1.06,"
	      "\"engine_speed_rpm@1\":900.5,\"pump_bar\":12.5,\"label@2\":\"a\\\"b\\n\\u0001\"},"
	      "\"pos\":{\"valid\":true,\"lat\":30.870512,\"lon\":120.091234,\"age_s\":0.21,"
	      "\"fix\":\"3d\",\"quality\":\"rtk_fixed\",\"sats_used\":19,"
	      "\"fix_ts\":\"2026-11-28T11:21:24.000Z\",\"point\":\"distance\"},\"trigger\":"
	      "\"snapshot\"}";
	struct payload_header h;
	double v;
	int n;

	(void)state;
	fill_record(&rec);
	n = payload_encode_record(&hdr, &rec, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, want);
	expect_jansson_form(buf);
	assert_int_equal(payload_record_class(&rec), PAYLOAD_CLASS_POSITION);
	memset(&back, 0, sizeof(back));
	assert_int_equal(payload_decode_record(buf, (size_t)n, &h, &back), 0);
	assert_memory_equal(&back, &rec, sizeof(rec));
	/* what the platform reads: canonical, instance and custom names */
	assert_int_equal(payload_record_value(&back, "engine_speed_rpm@1", &v), 1);
	assert_float_equal(v, 900.5, 0);
	assert_int_equal(payload_record_value(&back, "pump_bar", &v), 1);
	assert_float_equal(v, 12.5, 0);
	assert_int_equal(payload_record_value(&back, "label@2", &v), 0); /* text */
	assert_int_equal(payload_record_value(&back, "fuel_rate_lph", &v), 0);
	/* the same custom name again replaces the value in its place */
	assert_int_equal(payload_record_custom(&rec, "pump_bar", 0, NULL, 13), 0);
	assert_int_equal(rec.n_custom, 2);
	/* an empty record, as with no data yet */
	payload_record_init(&rec);
	assert_true(payload_encode_record(&hdr, &rec, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, H ",\"sig\":{}}");
	assert_int_equal(payload_record_class(&rec), PAYLOAD_CLASS_ROUTINE);
}

/* Reals and strings as jansson writes them, over many values. */
static void test_jansson_formatting(void **state)
{
	static struct payload_record rec;
	static const double fixed[] = {0,
				       -0.0,
				       1,
				       -1,
				       0.1,
				       1e-7,
				       1.5e-300,
				       1e20,
				       1e21,
				       123456789012.0,
				       1234567890123.0,
				       0.05 * 7,
				       1.0 / 3,
				       -2.5e-5,
				       1e300,
				       4.9e-324};
	char text[16];
	unsigned seed = 7;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		double v;

		if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
			v = fixed[i];
		} else {
			seed = seed * 1103515245u + 12345u;
			v = ldexp((double)(seed >> 8) / (1 << 24) - 0.5, (int)(seed % 200) - 100);
		}
		payload_record_init(&rec);
		payload_record_set(&rec, SIG_LAMBDA, 0, v);
		assert_true(payload_encode_record(&hdr, &rec, buf, sizeof(buf)) > 0);
		expect_jansson_form(buf);
	}
	/* every ASCII character, and UTF-8 of 2, 3 and 4 bytes */
	for (int c = 1; c < 0x80; c++) {
		snprintf(text, sizeof(text), "%c%s", c, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5");
		payload_record_init(&rec);
		assert_int_equal(payload_record_custom(&rec, "t", 0, text, 0), 0);
		assert_true(payload_encode_record(&hdr, &rec, buf, sizeof(buf)) > 0);
		expect_jansson_form(buf);
	}
}

static void test_utf8_cut(void **state)
{
	char name[64], small[4];
	char long_name[200] = "";
	struct payload_event ev;

	(void)state;
	/* "aé€": 1 + 2 + 3 bytes; cuts never split a character */
	assert_int_equal(payload_strlcpy(small, 3, "a\xc3\xa9\xe2\x82\xac"), 1);
	assert_string_equal(small, "a");
	assert_int_equal(payload_strlcpy(small, 4, "a\xc3\xa9\xe2\x82\xac"), 1);
	assert_string_equal(small, "a\xc3\xa9");
	assert_int_equal(payload_strlcpy(small, 4, "abc"), 0);
	assert_string_equal(small, "abc");
	/* issue 14 item 7: a zone name of 35 two-byte characters (70 bytes) */
	for (int i = 0; i < 35; i++)
		strcat(long_name, "\xc3\xa9");
	assert_int_equal(payload_strlcpy(name, sizeof(name), long_name), 1);
	assert_int_equal(strlen(name), 62);
	payload_event_init(&ev, PAYLOAD_EV_ZONE_VIOLATION);
	ev_zone_violation(&ev);
	memcpy(ev.zone, name, sizeof(name));
	assert_true(payload_encode_event(&hdr, &ev, buf, sizeof(buf)) > 0);
	/* cut inside a character (as snprintf did), the event cannot be made:
	 * an error the caller counts */
	snprintf(ev.zone, sizeof(ev.zone), "%s", long_name);
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, sizeof(buf)), PAYLOAD_E_VALUE);
	assert_int_equal(payload_utf8_valid("\xed\xa0\x80", 3), 0); /* a surrogate */
	assert_int_equal(payload_utf8_valid("\xc0\xaf", 2), 0);	    /* overlong */
	assert_int_equal(payload_utf8_valid("\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(payload_utf8_valid("\xf0\x9f\x94\xa5", 4), 1);
}

static void test_errors(void **state)
{
	struct payload_event ev;
	int n;

	(void)state;
	payload_event_init(&ev, PAYLOAD_EV_DTC);
	ev_dtc(&ev);
	n = payload_encode_event(&hdr, &ev, buf, sizeof(buf));
	assert_true(n > 0);
	/* too large for the buffer: an error, and nothing usable in it */
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, (size_t)n), PAYLOAD_E_SPACE);
	assert_string_equal(buf, "");
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, (size_t)n + 1), n);
	/* a required field left unset, a number JSON cannot carry */
	payload_event_init(&ev, PAYLOAD_EV_ENGINE);
	ev_engine_stop(&ev);
	ev.run_s = INFINITY;
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, sizeof(buf)), PAYLOAD_E_VALUE);
	payload_event_init(&ev, PAYLOAD_EV_ECU_SILENT);
	set(ev.state, sizeof(ev.state), "start");
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, sizeof(buf)), PAYLOAD_E_VALUE);
	payload_event_init(&ev, PAYLOAD_EV_DTC);
	ev_dtc(&ev);
	ev.sa = PAYLOAD_NO_INT;
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, sizeof(buf)), PAYLOAD_E_VALUE);
	ev.type = PAYLOAD_RECORD;
	assert_int_equal(payload_encode_event(&hdr, &ev, buf, sizeof(buf)), PAYLOAD_E_TYPE);
}

static void test_decode_errors(void **state)
{
	static const struct {
		const char *text;
		int rc;
	} bad[] = {
	    {"", PAYLOAD_E_JSON},
	    {"[1,2]", PAYLOAD_E_JSON},
	    {"{\"v\":1}", PAYLOAD_E_FIELD},
	    {H ",\"type\":\"tamper\"}", PAYLOAD_E_TYPE},
	    {H ",\"type\":\"record\"}", PAYLOAD_E_TYPE},
	    {H ",\"type\":\"restart\"}", PAYLOAD_E_FIELD},
	    {H ",\"type\":\"restart\",\"clean\":1}", PAYLOAD_E_FIELD},
	    {H ",\"type\":\"clock\",\"from\":\"2023-02-31T00:00:00.000Z\",\"to\":\"2023-11-14T22:"
	       "13:23."
	       "500Z\",\"jump_s\":1.0,\"clock\":\"gnss\"}",
	     PAYLOAD_E_FIELD},
	    {H ",\"type\":\"engine\",\"state\":\"stop\",\"reason\":\"\"}", PAYLOAD_E_FIELD},
	    {H ",\"type\":\"obd\",\"sa\":0,\"protocol\":\"sae-j1939\",\"ratios\":[1]}",
	     PAYLOAD_E_FIELD},
	    {H ",\"type\":\"obd\",\"sa\":0,\"protocol\":\"sae-j1939\",\"ratios\":[{\"spn\":-1,"
	       "\"num\":0,\"den\":0}]}",
	     PAYLOAD_E_FIELD},
	    {H ",\"type\":\"obd\",\"sa\":0}", PAYLOAD_E_FIELD},
	};
	static struct payload_event ev;
	static struct payload_record rec;
	struct payload_header h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (payload_decode_event(bad[i].text, strlen(bad[i].text), &h, &ev, NULL) !=
		    bad[i].rc)
			fail_msg("case %zu: not %d", i, bad[i].rc);
	assert_int_equal(payload_decode_record(H ",\"sig\":{\"lambda\":\"x\"}}",
					       strlen(H ",\"sig\":{\"lambda\":\"x\"}}"), &h, &rec),
			 PAYLOAD_E_FIELD);
	assert_int_equal(payload_decode_record(H "}", strlen(H "}"), &h, &rec), PAYLOAD_E_FIELD);
}

static void test_classes_and_names(void **state)
{
	(void)state;
	for (int t = PAYLOAD_EV_CLOCK; t < PAYLOAD_TYPE_COUNT; t++) {
		const char *n = payload_type_name((enum payload_type)t);
		int alarm = !strcmp(n, "smoke") || !strcmp(n, "zone-violation") ||
			    !strcmp(n, "ecu-silent") || !strcmp(n, "dpf-low") ||
			    !strcmp(n, "nox-frozen") || !strcmp(n, "store") ||
			    !strcmp(n, "zones-disabled") || !strcmp(n, "seal") ||
			    !strcmp(n, "config-rollback");

		assert_int_equal(payload_type_lookup(n), t);
		assert_int_equal(payload_event_class((enum payload_type)t),
				 alarm ? PAYLOAD_CLASS_ALARM : PAYLOAD_CLASS_EVENT);
	}
	assert_int_equal(payload_type_lookup("nope"), PAYLOAD_E_TYPE);
}

/* The store id goes after dev when there is one, and comes back. */
static void test_header_sid(void **state)
{
	struct payload_header h = hdr, back;
	struct payload_event ev, ev2;
	int n;

	(void)state;
	snprintf(h.sid, sizeof(h.sid), "%s", "0123456789abcdef0123456789abcdef");
	payload_event_init(&ev, PAYLOAD_EV_GAP);
	ev_gap(&ev);
	n = payload_encode_event(&h, &ev, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(
	    strstr(buf, "{\"v\":1,\"dev\":\"t-1\",\"sid\":\"0123456789abcdef0123456789abcdef\","
			"\"boot\":3,"));
	assert_int_equal(payload_decode_event(buf, (size_t)n, &back, &ev2, NULL), 0);
	assert_string_equal(back.sid, h.sid);
}

static void test_iso(void **state)
{
	static const char *const good[] = {"1970-01-01T00:00:00.000Z", "2023-11-14T22:13:20.000Z",
					   "2024-02-29T23:59:59.999Z", "1969-12-31T23:59:59.999Z",
					   "10000-01-01T00:00:00.000Z"};
	int64_t ms;
	char t[40];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(payload_parse_iso(good[i], &ms), 0);
		payload_format_iso(ms, t, sizeof(t));
		assert_string_equal(t, good[i]);
	}
	assert_int_equal(payload_parse_iso("2023-11-14T22:13:20.000Z", &ms), 0);
	assert_true(ms == T0);
	assert_int_equal(payload_parse_iso("2023-11-14T22:13:20Z", &ms), PAYLOAD_E_VALUE);
	assert_int_equal(payload_parse_iso("2023-13-14T22:13:20.000Z", &ms), PAYLOAD_E_VALUE);
	assert_int_equal(payload_parse_iso("2023-11-14T22:13:20.000Zx", &ms), PAYLOAD_E_VALUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_type_has_a_case),
	    cmocka_unit_test(test_header_sid),
	    cmocka_unit_test(test_events_encode_exactly),
	    cmocka_unit_test(test_events_round_trip),
	    cmocka_unit_test(test_record),
	    cmocka_unit_test(test_jansson_formatting),
	    cmocka_unit_test(test_utf8_cut),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_decode_errors),
	    cmocka_unit_test(test_classes_and_names),
	    cmocka_unit_test(test_iso),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
