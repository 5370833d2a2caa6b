/* Unit tests for gateway/uplinks.c: the acknowledgement mask, the status
 * keys, poll slots, and reloads turning back-ends on and off (the store's
 * mask follows: acknowledgements of a back-end turned on count at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gateway/fileout.h"
#include "gateway/mqtt.h"
#include "gateway/platform.h"
#include "gateway/uplinks.h"

static void test_mask(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(uplinks_mask(&c), 1u << MQTT_BIT);
	c.mqtt.enabled = 0;
	assert_int_equal(uplinks_mask(&c), 1u << MQTT_BIT); /* none: rows stay */
	c.platform.enabled = 1;
	c.fileout.enabled = 1;
	assert_int_equal(uplinks_mask(&c), 1u << PLATFORM_BIT | 1u << FILEOUT_BIT);
	/* Bits are stored in rows: they never change. */
	assert_int_equal(MQTT_BIT, 0);
	assert_int_equal(PLATFORM_BIT, 1);
	assert_int_equal(FILEOUT_BIT, 2);
}

static void test_set_and_reload(void **state)
{
	char db[64], path[64];
	struct config a, b;
	struct store *st;
	struct uplinks *s;
	struct uplink_env env = {0};
	short events;
	json_t *o;
	uint64_t seq;

	(void)state;
	snprintf(db, sizeof(db), "/tmp/test_uplinks.%d.db", (int)getpid());
	snprintf(path, sizeof(path), "/tmp/test_uplinks.%d.jsonl", (int)getpid());
	unlink(db);
	unlink(path);
	config_defaults(&a);
	a.mqtt.enabled = 0;
	a.fileout.enabled = 1;
	snprintf(a.fileout.path, sizeof(a.fileout.path), "%s", path);
	st = store_open(db, uplinks_mask(&a), 0, 0);
	assert_non_null(st);
	env.store = st;
	s = uplinks_open(&a, &env);
	assert_non_null(s);
	assert_int_equal(uplinks_count(s), 1);
	for (int i = 0; i < UPLINKS_MAX; i++) /* the file uplink polls nothing */
		assert_int_equal(uplinks_fd(s, i, &events), -1);
	o = json_object();
	uplinks_status(s, o, NULL, 0);
	assert_false(json_is_true(json_object_get(json_object_get(o, "uplink"), "enabled")));
	assert_false(json_is_true(json_object_get(json_object_get(o, "platform"), "enabled")));
	assert_true(json_is_true(json_object_get(json_object_get(o, "file"), "enabled")));
	json_decref(o);

	/* A row, then the platform turned on by reload (its host is
	 * numeric and nothing listens: it just backs off). */
	seq = store_next_seq(st);
	assert_int_equal(store_append(st, seq, STORE_RECORD, 0, 0, "{}", 2), 0);
	assert_int_equal(store_flush(st), 0);
	b = a;
	b.platform.enabled = 1;
	snprintf(b.platform.host, sizeof(b.platform.host), "127.0.0.1");
	b.platform.port = 9;
	b.platform.period_ms = 10000;
	snprintf(b.vin, sizeof(b.vin), "LZYTBTD60K1000001");
	assert_int_equal(uplinks_reload(s, &a, &b), 0);
	assert_int_equal(uplinks_count(s), 2);
	/* The platform's acknowledgements count at once (before: "not in mask"). */
	assert_int_equal(store_ack(st, PLATFORM_BIT, seq), 0);
	/* The file still has to write it: the row stays. */
	uplinks_process(s, clock_real_ms(), 0, 0);
	/* [file] off: the platform alone is in force. */
	a = b;
	b.fileout.enabled = 0;
	assert_int_equal(uplinks_reload(s, &a, &b), 0);
	assert_int_equal(uplinks_count(s), 1);
	assert_int_equal(store_ack(st, FILEOUT_BIT, seq), -1);
	uplinks_close(s);
	store_close(st);
	unlink(db);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_set_and_reload),
	};

	clock_init_live();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
