/* Unit tests for gateway/platform.c through its uplink ops: a loopback
 * listener plays the platform; the frames it receives are decoded and
 * checked (login, a real-time frame carrying a stored record, the removal
 * alarm raised by watch's ecu-silent event row, logout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/platform.h"
#include "protocols/payload.h"
#include "gateway/store.h"
#include "protocols/hjframe.h"

#define VIN "LZYTBTD60K1000001"

struct fx {
	char db[64];
	struct store *store;
	int lfd, peer;
	void *p;
	struct config cfg;
	uint8_t in[16384];
	size_t in_len;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	snprintf(f->db, sizeof(f->db), "/tmp/test_platform.%d.db", (int)getpid());
	unlink(f->db);
	f->store = store_open(f->db, 1u << PLATFORM_BIT, 0, 0);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	getsockname(f->lfd, (struct sockaddr *)&a, &alen);
	config_defaults(&f->cfg);
	snprintf(f->cfg.vin, sizeof(f->cfg.vin), VIN);
	f->cfg.platform.enabled = 1;
	snprintf(f->cfg.platform.host, sizeof(f->cfg.platform.host), "127.0.0.1");
	f->cfg.platform.port = ntohs(a.sin_port);
	f->cfg.platform.period_ms = 10000;
	f->peer = -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->p) {
		struct clock_now now;

		clock_now(&now);
		platform_uplink.close(f->p, &now);
	}
	if (f->peer >= 0)
		close(f->peer);
	close(f->lfd);
	store_close(f->store);
	unlink(f->db);
	free(f);
	return 0;
}

/* Run the platform's side until cond(f) or 3 s pass. */
static int fx_run(struct fx *f, int (*cond)(struct fx *), int final)
{
	for (int i = 0; i < 300; i++) {
		struct uplink_tick t = {.real_ms = clock_real_ms(), .final = final};
		struct pollfd pfd = {.fd = platform_uplink.fd(f->p),
				     .events = platform_uplink.events(f->p)};
		ssize_t n;

		clock_now(&t.now);
		platform_uplink.process(f->p, &t);
		if (pfd.fd >= 0 && poll(&pfd, 1, 10) > 0)
			platform_uplink.io(f->p, pfd.revents, &t.now);
		else if (pfd.fd < 0)
			usleep(10000);
		if (f->peer < 0) {
			struct pollfd l = {.fd = f->lfd, .events = POLLIN};

			if (poll(&l, 1, 0) > 0)
				f->peer = accept(f->lfd, NULL, NULL);
		}
		if (f->peer >= 0) {
			n = recv(f->peer, f->in + f->in_len, sizeof(f->in) - f->in_len,
				 MSG_DONTWAIT);
			if (n > 0)
				f->in_len += (size_t)n;
		}
		if (cond(f))
			return 1;
	}
	return 0;
}

/* The k-th whole frame received, decoded into *fr: 1, or 0. */
static int fx_frame(struct fx *f, int k, struct hj_frame *fr)
{
	size_t off = 0;

	for (int i = 0; off < f->in_len; i++) {
		int len = hj_frame_len(f->in + off, f->in_len - off);

		if (len <= 0)
			return 0;
		if (i == k)
			return hj_decode(f->in + off, (size_t)len,
					 (enum hj_variant)f->cfg.platform.variant, fr) > 0;
		off += (size_t)len;
	}
	return 0;
}

static int fx_frames(struct fx *f)
{
	struct hj_frame fr;
	int n = 0;

	while (fx_frame(f, n, &fr))
		n++;
	return n;
}

static int have_1(struct fx *f)
{
	return fx_frames(f) >= 1;
}

static int have_2(struct fx *f)
{
	return fx_frames(f) >= 2;
}

/* The index of the first frame of command cmd, or -1. */
static int fx_find(struct fx *f, int cmd)
{
	struct hj_frame fr;

	for (int i = 0; fx_frame(f, i, &fr); i++)
		if (fr.cmd == cmd)
			return i;
	return -1;
}

static int have_alarm(struct fx *f)
{
	return fx_find(f, HJ_CMD_05) >= 0;
}

static int have_road_alarm(struct fx *f)
{
	return fx_find(f, HJ_CMD_ROAD_REMOVAL) >= 0;
}

static void fx_append(struct fx *f, enum store_kind kind, int64_t wall_ms, const char *payload)
{
	uint64_t seq = store_next_seq(f->store);

	assert_int_equal(
	    store_append(f->store, seq, kind, clock_mono_ms(), wall_ms, payload, strlen(payload)),
	    0);
	assert_int_equal(store_flush(f->store), 0);
}

/* An event as report stores it: header and body through the codec. */
static void fx_append_event(struct fx *f, int64_t wall_ms, const struct payload_event *ev)
{
	struct payload_header h = {.v = 1, .dev = "t", .boot = 1, .ts_ms = wall_ms};
	char buf[4096];

	h.seq = store_next_seq_peek(f->store);
	assert_true(payload_encode_event(&h, ev, buf, sizeof(buf)) > 0);
	fx_append(f, STORE_EVENT, wall_ms, buf);
}

/* watch's event. */
static void fx_append_ecu_silent(struct fx *f, int64_t wall_ms, const char *state)
{
	struct payload_event ev;

	payload_event_init(&ev, PAYLOAD_EV_ECU_SILENT);
	snprintf(ev.state, sizeof(ev.state), "%s", state);
	ev.last_frame_age_s = 15.0;
	fx_append_event(f, wall_ms, &ev);
}

/* diag's events for a source: a dtc event with one code, the MIL on. */
static void fx_append_dtc(struct fx *f, int64_t wall_ms, int sa)
{
	struct payload_event ev;

	payload_event_init(&ev, PAYLOAD_EV_DTC);
	ev.sa = sa;
	ev.appeared = ev.active = (struct payload_dtcs){1, {{3226, 2, 1}}};
	snprintf(ev.mil, sizeof(ev.mil), "on");
	snprintf(ev.red_stop, sizeof(ev.red_stop), "off");
	snprintf(ev.amber, sizeof(ev.amber), "on");
	fx_append_event(f, wall_ms, &ev);
}

/* An obd event of source sa: support and ignition cycles distinguish them. */
static void fx_append_obd(struct fx *f, int64_t wall_ms, int sa, int support, int ign)
{
	struct payload_event ev;

	payload_event_init(&ev, PAYLOAD_EV_OBD);
	ev.sa = sa;
	snprintf(ev.protocol, sizeof(ev.protocol), "sae-j1939");
	snprintf(ev.mil, sizeof(ev.mil), "on");
	snprintf(ev.engine, sizeof(ev.engine), "LZZ1EXCA7PN123456");
	ev.obd_support = support;
	ev.obd_readiness = 0x0008;
	snprintf(ev.cal_id, sizeof(ev.cal_id), "ECU-CAL-A1");
	snprintf(ev.cvn, sizeof(ev.cvn), "1A2B3C4D");
	ev.ign_cycles = ign;
	ev.obd_conditions = 345;
	ev.ratios = (struct payload_ratios){2, {{3050, 40, 100}, {3058, 7, 9}}};
	fx_append_event(f, wall_ms, &ev);
}

static void test_login_record_alarm(void **state)
{
	struct fx *f = *state;
	struct uplink_env env = {.store = f->store, .wake_fd = -1, .has_can = 1};
	struct hj_frame fr;
	struct store_stats ss;
	struct clock_now cn;
	int64_t now;

	clock_now(&cn);
	now = cn.wall_ms;
	f->p = platform_uplink.open(&f->cfg, &env);
	assert_non_null(f->p);
	assert_true(fx_run(f, have_1, 0));
	assert_true(fx_frame(f, 0, &fr));
	assert_int_equal(fr.cmd, HJ_CMD_LOGIN);
	assert_memory_equal(fr.vin, VIN, 17);

	/* A record of the last window: with final, a real-time frame. */
	fx_append(f, STORE_RECORD, now - 20000,
		  "{\"sig\":{\"engine_speed_rpm\":1500,\"coolant_c\":80},\"pos\":{}}");
	assert_true(fx_run(f, have_2, 1));
	assert_true(fx_frame(f, 1, &fr));
	assert_int_equal(fr.cmd, HJ_CMD_REALTIME);

	/* No alarm without the event ... */
	fx_run(f, have_alarm, 1);
	assert_int_equal(fx_find(f, HJ_CMD_05), -1);
	/* ... watch's ecu-silent start raises the removal alarm (nrmm 0x05). */
	fx_append_ecu_silent(f, now - 1000, "start");
	assert_true(fx_run(f, have_alarm, 1));
	assert_true(fx_frame(f, fx_find(f, HJ_CMD_05), &fr));
	assert_int_equal(fr.removal_status, 1);

	/* Once the frames left the socket, their rows are acknowledged. */
	for (int i = 0; i < 100; i++) {
		store_stats(f->store, &ss);
		if (ss.rows == 0)
			break;
		fx_run(f, have_2, 1);
	}
	assert_int_equal(ss.rows, 0);
}

/* gb17691: a Q1 real-time frame whose units carry the report's serial; its
 * OBD unit has the configured VIN; protocol, MIL and DTC count invalid
 * until a J1939 diagnostic said something, and everything the bus has not
 * given invalid. */
static void test_gb17691_obd_unit(void **state)
{
	struct fx *f = *state;
	struct uplink_env env = {.store = f->store, .wake_fd = -1, .has_can = 1};
	struct hj_frame fr;
	const struct hj_diag *d = NULL;
	struct clock_now cn;
	uint8_t ff[36];

	f->cfg.platform.variant = 2;
	clock_now(&cn);
	f->p = platform_uplink.open(&f->cfg, &env);
	assert_non_null(f->p);
	assert_true(fx_run(f, have_1, 0));
	fx_append(f, STORE_RECORD, cn.wall_ms - 20000,
		  "{\"sig\":{\"engine_speed_rpm\":1500,\"coolant_c\":80},\"pos\":{}}");
	assert_true(fx_run(f, have_2, 1));
	assert_true(fx_frame(f, 1, &fr));
	assert_int_equal(fr.cmd, HJ_CMD_REALTIME);
	assert_false(fr.unit_sig);
	assert_int_equal(fr.n_info, 2);
	for (int i = 0; i < fr.n_info; i++) {
		assert_int_equal(fr.info[i].serial, 1);
		if (fr.info[i].type == HJ_INFO_DIAG)
			d = &fr.info[i].u.diag;
	}
	assert_non_null(d);
	assert_memory_equal(d->vin, VIN, 17);
	assert_int_equal(d->protocol, HJ_INVALID_FE); /* no J1939 diagnostic heard */
	assert_int_equal(d->mil, HJ_INVALID_FE);
	assert_int_equal(d->n_dtcs, HJ_INVALID_FE);
	assert_int_equal(d->support, 0xFFFF);
	memset(ff, 0xFF, sizeof(ff));
	assert_memory_equal(d->cal_id, ff, 18);
	assert_memory_equal(d->cvn, ff, 18);
	assert_memory_equal(d->iupr, ff, 36);
}

/* The diagnostics unit of the k-th frame, or NULL. */
static const struct hj_diag *fx_diag(struct fx *f, int k, struct hj_frame *fr)
{
	if (!fx_frame(f, k, fr))
		return NULL;
	for (int i = 0; i < fr->n_info; i++)
		if (fr->info[i].type == HJ_INFO_DIAG)
			return &fr->info[i].u.diag;
	return NULL;
}

/* road: the OBD unit filled from diag's events, field by field: the
 * engine's (sa 0) DM5/DM19/DM20 rather than another controller's, the
 * newest event rather than an older one met later, the bus's VIN. */
static void test_road_obd_unit_filled(void **state)
{
	static const uint8_t iupr[36] = {0x01, 0x59, 0x04, 0xB0, 0x00, 0x28, 0x00, 0x64, 0x00,
					 0x07, 0x00, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	struct fx *f = *state;
	struct uplink_env env = {.store = f->store, .wake_fd = -1, .has_can = 1};
	struct hj_frame fr;
	const struct hj_diag *d;
	struct clock_now cn;

	f->cfg.platform.variant = 1;
	clock_now(&cn);
	f->p = platform_uplink.open(&f->cfg, &env);
	assert_non_null(f->p);
	assert_true(fx_run(f, have_1, 0));
	fx_append_dtc(f, cn.wall_ms - 25000, 0);
	fx_append_obd(f, cn.wall_ms - 24000, 0x3D, 0x1111, 1);
	fx_append_obd(f, cn.wall_ms - 23000, 0, 0xE019, 1200);
	fx_append_obd(f, cn.wall_ms - 24500, 0, 0x2222, 2); /* older, met later */
	fx_append(f, STORE_RECORD, cn.wall_ms - 20000,
		  "{\"sig\":{\"engine_speed_rpm\":1500,\"coolant_c\":80},\"pos\":{}}");
	assert_true(fx_run(f, have_2, 1));
	d = fx_diag(f, 1, &fr);
	assert_non_null(d);
	assert_int_equal(d->protocol, 2);
	assert_int_equal(d->mil, 1);
	assert_int_equal(d->support, 0xE019);
	assert_int_equal(d->readiness, 0x0008);
	assert_memory_equal(d->vin, "LZZ1EXCA7PN123456", 17);
	assert_memory_equal(d->cal_id, "ECU-CAL-A1\0\0\0\0\0\0\0\0", 18);
	assert_memory_equal(d->cvn, "1A2B3C4D\0\0\0\0\0\0\0\0\0\0", 18);
	assert_memory_equal(d->iupr, iupr, 36);
	assert_int_equal(d->n_dtcs, 1);
	/* SPN 3226 = 0x000C9A, FMI 2, OC 1 in DM1's byte order */
	assert_int_equal(d->dtc[0], 0x9A0C0201u);
}

/* nrmm: its diagnostics frame carries protocol, lamp and codes from the bus. */
static void test_nrmm_obd_unit_filled(void **state)
{
	struct fx *f = *state;
	struct uplink_env env = {.store = f->store, .wake_fd = -1, .has_can = 1};
	struct hj_frame fr;
	const struct hj_diag *d = NULL;
	struct clock_now cn;

	clock_now(&cn);
	f->p = platform_uplink.open(&f->cfg, &env);
	assert_non_null(f->p);
	assert_true(fx_run(f, have_1, 0));
	fx_append_dtc(f, cn.wall_ms - 25000, 0);
	fx_append(f, STORE_RECORD, cn.wall_ms - 20000,
		  "{\"sig\":{\"engine_speed_rpm\":1500,\"coolant_c\":80},\"pos\":{}}");
	for (int i = 0; i < 50 && !d; i++) {
		fx_run(f, have_2, 1);
		for (int k = 1; !d && fx_frame(f, k, &fr); k++)
			d = fx_diag(f, k, &fr);
	}
	assert_non_null(d);
	assert_int_equal(d->protocol, 2);
	assert_int_equal(d->mil, 1);
	assert_int_equal(d->n_dtcs, 1);
	assert_int_equal(d->dtc[0], 0x9A0C0201u);
}

/* road: watch's ecu-silent start sends the removal alarm 0x06. */
static void test_road_removal_alarm(void **state)
{
	struct fx *f = *state;
	struct uplink_env env = {.store = f->store, .wake_fd = -1, .has_can = 1};
	struct hj_frame fr;
	struct clock_now cn;

	f->cfg.platform.variant = 1;
	clock_now(&cn);
	f->p = platform_uplink.open(&f->cfg, &env);
	assert_non_null(f->p);
	assert_true(fx_run(f, have_1, 0));
	fx_append_ecu_silent(f, cn.wall_ms - 1000, "start");
	assert_true(fx_run(f, have_road_alarm, 1));
	assert_true(fx_frame(f, fx_find(f, HJ_CMD_ROAD_REMOVAL), &fr));
	assert_true(fr.has_time);
	assert_int_equal(fr.removal_status, 1);
	assert_int_equal(fr.serial, 1);
}

/* A link that cannot connect does not fail the open: it backs off and says
 * why.  (An unresolvable name is tested in test_uplinks.sh, where lookups go
 * to a resolver on loopback: here one would leave the machine.) */
static void test_open_without_peer(void **state)
{
	struct fx *f = *state;
	struct uplink_env env = {.store = f->store, .wake_fd = -1, .has_can = 0};
	json_t *st;

	snprintf(f->cfg.platform.host, sizeof(f->cfg.platform.host), "localhost");
	close(f->lfd); /* nothing listens on the port now */
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	f->p = platform_uplink.open(&f->cfg, &env);
	assert_non_null(f->p);
	fx_run(f, have_1, 0);
	st = platform_uplink.status(f->p, NULL, 0);
	assert_string_not_equal(json_string_value(json_object_get(st, "last_error")), "");
	assert_false(json_is_true(json_object_get(st, "connected")));
	/* A retry (or the resolver's poll) is scheduled: not given up.  Its time
	 * is not compared with now: on a loaded machine the poll may be due. */
	assert_true(platform_uplink.deadline(f->p) >= 0);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_login_record_alarm, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_open_without_peer, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gb17691_obd_unit, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_road_removal_alarm, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_road_obd_unit_filled, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_nrmm_obd_unit_filled, fx_setup, fx_teardown),
	};

	clock_init_live();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
