/* Unit tests for gateway/command.c: requests checked whole, refusals change
 * nothing, answers well-formed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gateway/command.h"
#include "gateway/config.h"

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

static const struct command_hooks hooks = {NULL,	  fake_status, fake_config, fake_set_period,
					   fake_snapshot, NULL,	       NULL};

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
	struct command_hooks h = {NULL,		 cyclic_status, fake_config, fake_set_period,
				  fake_snapshot, &errors,	NULL};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_good, setup),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test_setup(test_get_config_hides_secrets, setup),
	    cmocka_unit_test_setup(test_bad, setup),
	    cmocka_unit_test_setup(test_chinese_names, setup),
	    cmocka_unit_test_setup(test_unbuildable_answer, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
