/* Unit tests for gateway/command.c: requests checked whole, refusals change
 * nothing, answers well-formed. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/command.h"
#include "gateway/config.h"
#include "gateway/log.h"

static struct config cfg;
static int period_calls, period_ms;

static json_t *fake_status(void *ctx)
{
	(void)ctx;
	return json_pack("{s:s}", "dev", "unit");
}

static const struct config *fake_config(void *ctx)
{
	(void)ctx;
	return &cfg;
}

static int fake_set_period(void *ctx, int ms)
{
	(void)ctx;
	period_calls++;
	period_ms = ms;
	return 0;
}

static uint64_t fake_snapshot(void *ctx)
{
	(void)ctx;
	return 42;
}

static int fake_devices = 1, fake_points = 2; /* what fake_modbus returns */

/* fieldbus_latest's shape: devices, each with its points. */
static json_t *fake_modbus(void *ctx)
{
	json_t *devs = json_array();

	(void)ctx;
	for (int i = 0; i < fake_devices; i++) {
		json_t *pts = json_array();

		for (int k = 0; k < fake_points; k++)
			json_array_append_new(pts,
					      json_pack("{s:s, s:i, s:f, s:b, s:f}", "point",
							"active_power_total_kw", "address", k,
							"value", 12.5, "valid", 1, "age_s", 0.25));
		json_array_append_new(devs, json_pack("{s:s, s:s, s:o}", "device", "meter", "state",
						      "responding", "points", pts));
	}
	return json_pack("{s:o}", "devices", devs);
}

static const struct command_hooks hooks = {.status = fake_status,
					   .config = fake_config,
					   .set_period = fake_set_period,
					   .snapshot = fake_snapshot,
					   .modbus = fake_modbus};

/* Run a request; the answer parsed. */
static json_t *run(const char *name, const char *payload, size_t full_len, char *id)
{
	char *text = command_run(&hooks, name, payload, strlen(payload),
				 full_len ? full_len : strlen(payload), id);
	json_t *a;

	assert_non_null(text);
	a = json_loads(text, 0, NULL);
	assert_non_null(a);
	free(text);
	return a;
}

static int setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	snprintf(cfg.mqtt.username, sizeof(cfg.mqtt.username), "secretuser");
	snprintf(cfg.mqtt.password_file, sizeof(cfg.mqtt.password_file), "/etc/emgw/pass");
	period_calls = 0;
	return 0;
}

static void test_good(void **state)
{
	char id[COMMAND_ID_MAX + 1];
	json_t *a;

	(void)state;
	a = run("ping", "{\"id\":\"p-1\"}", 0, id);
	assert_string_equal(id, "p-1");
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_string_equal(json_string_value(json_object_get(a, "result")), "pong");
	json_decref(a);

	a = run("set-sample-period", "{\"id\":\"s\",\"period\":2.5}", 0, id);
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_int_equal(period_calls, 1);
	assert_int_equal(period_ms, 2500);
	json_decref(a);

	a = run("snapshot", "{\"id\":\"n\"}", 0, id);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "result"), "seq")),
			 42);
	json_decref(a);

	a = run("status", "{\"id\":\"st\"}", 0, id);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "result"), "dev")),
			    "unit");
	json_decref(a);
}

static void test_get_config_hides_secrets(void **state)
{
	char id[COMMAND_ID_MAX + 1];
	json_t *a, *mqtt;
	char *text;

	(void)state;
	a = run("get-config", "{\"id\":\"g\"}", 0, id);
	mqtt = json_object_get(json_object_get(a, "result"), "mqtt");
	assert_non_null(mqtt);
	assert_string_equal(json_string_value(json_object_get(mqtt, "version")), "3.1.1");
	assert_null(json_object_get(mqtt, "username"));
	assert_null(json_object_get(mqtt, "password_file"));
	assert_null(json_object_get(mqtt, "key_file"));
	text = json_dumps(a, 0);
	assert_null(strstr(text, "secretuser"));
	assert_null(strstr(text, "/etc/emgw/pass"));
	free(text);
	json_decref(a);
}

/* Refused, answered with an error, nothing changed. */
static const struct {
	const char *name, *payload, *id;
	size_t full_len;
} bad[] = {
    {"reboot", "{\"id\":\"a\"}", "a", 0},
    {"set-sample-period", "{\"id\":\"b\",\"period\":0.05}", "b", 0},
    {"set-sample-period", "{\"id\":\"c\",\"period\":61}", "c", 0},
    {"set-sample-period", "{\"id\":\"d\",\"period\":\"2\"}", "d", 0},
    {"set-sample-period", "{\"id\":\"e\"}", "e", 0},
    {"set-sample-period", "{\"id\":\"f\",\"period\":2,\"x\":1}", "f", 0},
    {"set-sample-period", "{\"period\":2}", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "{\"id\":7,\"period\":2}", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "{\"id\":\"x/y\",\"period\":2}", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "{\"id\":\"x+\",\"period\":2}", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "{\"id\":\"\",\"period\":2}", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "{\"id\":\"g\",\"id\":\"h\",\"period\":2}", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "{\"id\":\"i\",\"period\":2}", COMMAND_INVALID_ID, 9000},
    {"set-sample-period", "nope", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "[2]", COMMAND_INVALID_ID, 0},
    {"set-sample-period", "", COMMAND_INVALID_ID, 0},
    {"set-log-level", "{\"id\":\"j\",\"level\":\"trace\"}", "j", 0},
    {"", "{\"id\":\"k\"}", "k", 0},
};

static void test_bad(void **state)
{
	char id[COMMAND_ID_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *a = run(bad[i].name, bad[i].payload, bad[i].full_len, id);

		assert_string_equal(id, bad[i].id);
		assert_true(json_is_false(json_object_get(a, "ok")));
		assert_non_null(json_string_value(json_object_get(a, "error")));
		json_decref(a);
	}
	assert_int_equal(period_calls, 0);
}

/* A Chinese name or key longer than the 40 bytes quoted back: the answer
 * is built, the quote cut between characters. */
static void test_chinese_names(void **state)
{
	/* 15 characters, 45 bytes: 40 bytes would end inside the 14th. */
	const char *name = "挖掘机发动机转速传感器读数命令";
	char id[COMMAND_ID_MAX + 1], payload[256];
	const char *e;
	json_t *a;

	(void)state;
	a = run(name, "{\"id\":\"c1\"}", 0, id);
	e = json_string_value(json_object_get(a, "error"));
	assert_non_null(e);
	assert_string_equal(e, "unknown command \"挖掘机发动机转速传感器读数\"");
	json_decref(a);

	snprintf(payload, sizeof(payload), "{\"id\":\"c2\",\"%s\":1}", name);
	a = run("ping", payload, 0, id);
	e = json_string_value(json_object_get(a, "error"));
	assert_non_null(e);
	assert_string_equal(e, "ping: unknown argument \"挖掘机发动机转速传感器读数\"");
	json_decref(a);

	/* A name that is not UTF-8 at all is quoted with '?' for its bytes. */
	a = run("bad\xff\xfe", "{\"id\":\"c3\"}", 0, id);
	assert_string_equal(json_string_value(json_object_get(a, "error")),
			    "unknown command \"bad??\"");
	json_decref(a);
}

/* A status that cannot be serialised (it holds itself) */
static json_t *cycle;

static json_t *cyclic_status(void *ctx)
{
	json_t *o = json_object();

	(void)ctx;
	cycle = json_array();
	json_array_append(cycle, o);
	json_object_set(o, "loop", cycle); /* our reference stays: the test breaks the loop */
	return o;
}

/* An answer that cannot be built is an error answer, counted: never NULL. */
static void test_unbuildable_answer(void **state)
{
	uint64_t errors = 0;
	struct command_hooks h = {.status = cyclic_status,
				  .config = fake_config,
				  .set_period = fake_set_period,
				  .snapshot = fake_snapshot,
				  .answer_errors = &errors};
	const char *req = "{\"id\":\"s-9\"}";
	char id[COMMAND_ID_MAX + 1];
	char *text;
	json_t *a;

	(void)state;
	text = command_run(&h, "status", req, strlen(req), strlen(req), id);
	json_array_clear(cycle);
	json_decref(cycle);
	assert_non_null(text);
	a = json_loads(text, 0, NULL);
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "id")), "s-9");
	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_string_equal(json_string_value(json_object_get(a, "error")),
			    "answer could not be built");
	assert_int_equal(errors, 1);
	json_decref(a);
	free(text);
}

/* A second's budget, then "rate limited" until tokens come back. */
static void test_rate_limit(void **state)
{
	struct command_limit l;
	char id[COMMAND_ID_MAX + 1];
	char *a;
	int ran = 0;

	(void)state;
	command_limit_init(&l, 5);
	for (int i = 0; i < 20; i++)
		ran += command_limit_take(&l, 1000);
	assert_int_equal(ran, 5);
	assert_int_equal(l.refused, 15);
	assert_int_equal(command_limit_take(&l, 1100), 0); /* half a token */
	assert_int_equal(command_limit_take(&l, 1200), 1); /* one back */
	assert_int_equal(command_limit_take(&l, 5000), 1);
	a = command_refuse("ping", "{\"id\":\"x1\"}", 11, 11, id, "rate limited");
	assert_string_equal(id, "x1");
	assert_string_equal(a, "{\"id\":\"x1\",\"ok\":false,\"error\":\"rate limited\"}");
	free(a);
	a = command_refuse("ping", "nope", 4, 4, id, "rate limited");
	assert_string_equal(id, COMMAND_INVALID_ID);
	assert_string_equal(a, "{\"id\":null,\"ok\":false,\"error\":\"rate limited\"}");
	free(a);
}

/* Run a request with hooks h; the answer's text (its size checked by the
 * caller) and, parsed, in *a. */
static char *run_with(const struct command_hooks *h, const char *name, const char *payload,
		      json_t **a)
{
	char id[COMMAND_ID_MAX + 1];
	char *text = command_run(h, name, payload, strlen(payload), strlen(payload), id);

	assert_non_null(text);
	*a = json_loads(text, 0, NULL);
	assert_non_null(*a);
	return text;
}

/* get-log: the newest lines, oldest first, as many as asked; a bad count
 * refused. */
static void test_get_log(void **state)
{
	json_t *a, *lines;
	char *text;

	(void)state;
	for (int i = 0; i < 5; i++)
		log_info("get-log test line %d", i);
	text = run_with(&hooks, "get-log", "{\"id\":\"gl1\",\"lines\":3}", &a);
	assert_true(json_is_true(json_object_get(a, "ok")));
	lines = json_object_get(json_object_get(a, "result"), "lines");
	assert_int_equal(json_array_size(lines), 3);
	assert_non_null(strstr(json_string_value(json_array_get(lines, 0)), "get-log test line 2"));
	assert_non_null(
	    strstr(json_string_value(json_array_get(lines, 2)), "info: get-log test line 4"));
	assert_true(json_is_false(json_object_get(json_object_get(a, "result"), "cut")));
	json_decref(a);
	free(text);
	static const char *const refused[] = {
	    "{\"id\":\"g\",\"lines\":0}", "{\"id\":\"g\",\"lines\":201}",
	    "{\"id\":\"g\",\"lines\":\"5\"}", "{\"id\":\"g\",\"lines\":2.5}", NULL};

	for (const char *const *req = refused; *req; req++) {
		text = run_with(&hooks, "get-log", *req, &a);
		assert_true(json_is_false(json_object_get(a, "ok")));
		assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "lines:"));
		json_decref(a);
		free(text);
	}
}

/* Lines that JSON doubles (every byte a quote): the answer stays within
 * COMMAND_ANSWER_MAX and says it was cut. */
static void test_get_log_bounded(void **state)
{
	char quotes[300];
	json_t *a, *r;
	char *text;

	(void)state;
	memset(quotes, '"', sizeof(quotes) - 1);
	quotes[sizeof(quotes) - 1] = '\0';
	int null = open("/dev/null", O_WRONLY), saved = dup(2);

	assert_true(null >= 0 && saved >= 0);
	fflush(stderr);
	dup2(null, 2); /* 400 lines of quotes are for the ring, not the test's output */
	for (int i = 0; i < 2 * LOG_RING_LINES; i++)
		log_info("%s", quotes);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(null);
	text = run_with(&hooks, "get-log", "{\"id\":\"gl2\",\"lines\":200}", &a);
	r = json_object_get(a, "result");
	printf("# get-log of 200 lines of quotes: %zu bytes, %zu lines\n", strlen(text),
	       json_array_size(json_object_get(r, "lines")));
	assert_true(strlen(text) <= COMMAND_ANSWER_MAX);
	assert_true(json_array_size(json_object_get(r, "lines")) > 10);
	assert_true(json_array_size(json_object_get(r, "lines")) < 200);
	assert_true(json_is_true(json_object_get(r, "cut")));
	json_decref(a);
	free(text);
}

/* poll-once: the Modbus view as it is; a large one cut to the bound, the
 * points kept in order and the rest counted. */
static void test_poll_once(void **state)
{
	struct command_hooks none = hooks;
	json_t *a, *r, *pts;
	char *text;

	(void)state;
	fake_devices = 2, fake_points = 3;
	text = run_with(&hooks, "poll-once", "{\"id\":\"po1\"}", &a);
	r = json_object_get(a, "result");
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_int_equal(json_array_size(json_object_get(r, "devices")), 2);
	assert_null(json_object_get(r, "points_left_out"));
	json_decref(a);
	free(text);

	fake_devices = 16, fake_points = 32; /* 512 points, the configuration's most */
	text = run_with(&hooks, "poll-once", "{\"id\":\"po2\"}", &a);
	r = json_object_get(a, "result");
	printf("# poll-once of 512 points: %zu bytes, %" JSON_INTEGER_FORMAT " left out\n",
	       strlen(text), json_integer_value(json_object_get(r, "points_left_out")));
	assert_true(strlen(text) <= COMMAND_ANSWER_MAX);
	assert_true(json_integer_value(json_object_get(r, "points_left_out")) > 0);
	assert_int_equal(json_array_size(json_object_get(r, "devices")), 16);
	pts = json_object_get(json_array_get(json_object_get(r, "devices"), 0), "points");
	assert_int_equal(json_array_size(pts), 32); /* the first devices whole */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(pts, 31), "address")),
			 31);
	json_decref(a);
	free(text);

	none.modbus = NULL;
	text = run_with(&none, "poll-once", "{\"id\":\"po3\"}", &a);
	assert_true(json_is_false(json_object_get(a, "ok")));
	json_decref(a);
	free(text);
	fake_devices = 1, fake_points = 2;
}

/* get-log and poll-once share a budget of their own: beyond it "rate
 * limited"; other commands are not held by it. */
static void test_bulk_limit(void **state)
{
	struct command_limit bulk;
	struct command_hooks h = hooks;
	const char *names[] = {"get-log", "poll-once", "get-log"};
	json_t *a;
	char *text;

	(void)state;
	command_limit_init(&bulk, 2);
	h.bulk = &bulk;
	for (int i = 0; i < 3; i++) {
		text = run_with(&h, names[i], "{\"id\":\"b1\"}", &a);
		if (i < 2) {
			assert_true(json_is_true(json_object_get(a, "ok")));
		} else {
			assert_true(json_is_false(json_object_get(a, "ok")));
			assert_string_equal(json_string_value(json_object_get(a, "error")),
					    "rate limited");
		}
		json_decref(a);
		free(text);
	}
	text = run_with(&h, "ping", "{\"id\":\"b2\"}", &a);
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	free(text);
	assert_int_equal(command_limit_refused(&bulk), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_good, setup),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test_setup(test_get_config_hides_secrets, setup),
	    cmocka_unit_test_setup(test_bad, setup),
	    cmocka_unit_test_setup(test_chinese_names, setup),
	    cmocka_unit_test_setup(test_unbuildable_answer, setup),
	    cmocka_unit_test_setup(test_get_log, setup),
	    cmocka_unit_test_setup(test_get_log_bounded, setup),
	    cmocka_unit_test_setup(test_poll_once, setup),
	    cmocka_unit_test_setup(test_bulk_limit, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
