/* Unit tests for gateway/remote.c: operator signatures (Ed25519, SM2), the
 * clock skew, nonces refused again (after a restart too), the pending state
 * on disk and the rollback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gateway/config.h"
#include "gateway/remote.h"
#include "tests/unit/event_sink.h"

#define NOW_MS 1800000000000LL /* the wall clock of every test */

static char dir[] = "/tmp/emgw-remote.XXXXXX";
static char conf_path[64], pub_path[64];
static struct config cfg;
static struct event_sink sink;
static EVP_PKEY *key;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *conf_text(int period)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "[device]\nid = unit-1\nstate_dir = %s/state\n[gnss]\nenabled = yes\n"
		 "[sample]\nperiod = %d\n[mqtt]\nhost = 127.0.0.1\noperator_key = %s\n"
		 "confirm_window = 10\n",
		 dir, period, pub_path);
	return buf;
}

/* A fresh key of type (ED25519, SM2), its public half as the operator key,
 * the configuration loaded. */
static void setup_key(const char *type)
{
	FILE *f;

	EVP_PKEY_free(key);
	key = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(key);
	f = fopen(pub_path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, key), 1);
	fclose(f);
	write_file(conf_path, conf_text(1));
	assert_int_equal(config_load(conf_path, &cfg), 0);
}

static int setup(void **state)
{
	char sub[PATH_MAX];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%.30s/emgw.conf", dir);
	snprintf(pub_path, sizeof(pub_path), "%.30s/op.pub", dir);
	snprintf(sub, sizeof(sub), "%s/state", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	EVP_PKEY_free(key);
	event_sink_clear(&sink);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The request for cmd: payload signed with k as the README says. */
static json_t *sign_with(EVP_PKEY *k, const char *cmd, int64_t ts, const char *nonce,
			 const char *payload)
{
	char msg[8192], b64[512];
	unsigned char sig[256];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int n;

	n = snprintf(msg, sizeof(msg), "emgw-command-v1\nunit-1\n%s\n%lld\n%s\n%s", cmd,
		     (long long)ts, nonce, payload);
	assert_true(n > 0 && (size_t)n < sizeof(msg));
	assert_int_equal(
	    EVP_DigestSignInit(m, NULL, EVP_PKEY_is_a(k, "SM2") ? EVP_sm3() : NULL, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &siglen, (unsigned char *)msg, (size_t)n), 1);
	EVP_MD_CTX_free(m);
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	return json_pack("{s:I, s:s, s:s, s:s}", "ts", (json_int_t)ts, "nonce", nonce, "payload",
			 payload, "sig", b64);
}

static json_t *sign(const char *cmd, int64_t ts, const char *nonce, const char *payload)
{
	return sign_with(key, cmd, ts, nonce, payload);
}

/* remote_verify's answer: 1 accepted, else 0 with err. */
static int verify(struct remote *r, json_t *req, char *err)
{
	json_t *p = remote_verify(r, "set-config", req, NOW_MS, err, 160);

	json_decref(req);
	json_decref(p);
	return p != NULL;
}

static struct remote *open_remote(int64_t mono_ms)
{
	struct remote *r = remote_open(&cfg, event_sink_collect, &sink, NOW_MS, mono_ms);

	assert_non_null(r);
	return r;
}

static void check_signatures(const char *type)
{
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, type);
	struct remote *r;
	char err[160] = "", nonce[32];
	json_t *req;

	setup_key(type);
	r = open_remote(0);
	/* Nonces of its own: the state directory remembers the other test's. */
	snprintf(nonce, sizeof(nonce), "%s-0001", type);
	assert_true(verify(r, sign("set-config", NOW_MS / 1000, nonce, "{}"), err));
	/* The payload changed after signing. */
	req = sign("set-config", NOW_MS / 1000, "nonce-0002", "{}");
	json_object_set_new(req, "payload", json_string("{\"x\":1}"));
	assert_false(verify(r, req, err));
	assert_non_null(strstr(err, "signature"));
	/* Signed for another command. */
	req = sign("confirm-config", NOW_MS / 1000, "nonce-0003", "{}");
	assert_false(verify(r, req, err));
	assert_non_null(strstr(err, "signature"));
	/* Another key. */
	assert_false(
	    verify(r, sign_with(other, "set-config", NOW_MS / 1000, "nonce-0004", "{}"), err));
	assert_non_null(strstr(err, "signature"));
	/* Unsigned. */
	assert_false(verify(r, json_pack("{s:s}", "payload", "{}"), err));
	assert_non_null(strstr(err, "signed request"));
	remote_close(r);
	EVP_PKEY_free(other);
}

static void test_signature_ed25519(void **state)
{
	(void)state;
	check_signatures("ED25519");
}

static void test_signature_sm2(void **state)
{
	(void)state;
	check_signatures("SM2");
}

/* ±REMOTE_SKEW_S of the device's clock, no more. */
static void test_skew(void **state)
{
	struct remote *r;
	char err[160];
	int64_t now = NOW_MS / 1000;

	(void)state;
	setup_key("ED25519");
	r = open_remote(0);
	assert_true(verify(r, sign("set-config", now - REMOTE_SKEW_S, "skew-0001", "{}"), err));
	assert_true(verify(r, sign("set-config", now + REMOTE_SKEW_S, "skew-0002", "{}"), err));
	assert_false(
	    verify(r, sign("set-config", now - REMOTE_SKEW_S - 1, "skew-0003", "{}"), err));
	assert_non_null(strstr(err, "ts:"));
	assert_false(
	    verify(r, sign("set-config", now + REMOTE_SKEW_S + 1, "skew-0004", "{}"), err));
	remote_close(r);
}

/* A nonce once: refused again in the same run and after a restart. */
static void test_nonce_replay(void **state)
{
	struct remote *r;
	char err[160];
	int64_t now = NOW_MS / 1000;

	(void)state;
	setup_key("ED25519");
	r = open_remote(0);
	assert_true(verify(r, sign("set-config", now, "replay-01", "{}"), err));
	assert_false(verify(r, sign("set-config", now, "replay-01", "{}"), err));
	assert_non_null(strstr(err, "replay"));
	remote_close(r);
	r = open_remote(0);
	assert_false(verify(r, sign("set-config", now, "replay-01", "{}"), err));
	assert_non_null(strstr(err, "replay"));
	assert_true(verify(r, sign("set-config", now, "replay-02", "{}"), err));
	assert_false(verify(r, sign("set-config", now, "short", "{}"), err));
	remote_close(r);
}

static void test_no_key(void **state)
{
	struct remote *r;
	char err[160];

	(void)state;
	setup_key("ED25519");
	cfg.mqtt.operator_key[0] = '\0';
	r = open_remote(0);
	assert_false(verify(r, sign("set-config", NOW_MS / 1000, "nokey-001", "{}"), err));
	assert_non_null(strstr(err, "no operator key"));
	remote_close(r);
}

/* set-config of conf_text(period), signed; the result's fields. */
static int push(struct remote *r, int period, const char *nonce, json_t **result, char *err)
{
	char old[REMOTE_HEX];
	json_t *payload, *req;
	char *text;
	int rc;

	assert_int_equal(remote_file_sha256(conf_path, old), 0);
	payload = json_pack("{s:s, s:s}", "text", conf_text(period), "replaces", old);
	text = json_dumps(payload, JSON_COMPACT);
	req = sign("set-config", NOW_MS / 1000, nonce, text);
	rc = remote_set_config(r, req, NOW_MS, 0, result, err, 160);
	free(text);
	json_decref(payload);
	json_decref(req);
	return rc;
}

static const char *pending_new(struct remote *r, int64_t mono)
{
	static char buf[REMOTE_HEX];
	json_t *st = remote_status(r, mono);
	const char *h = json_string_value(json_object_get(json_object_get(st, "pending"), "new"));

	snprintf(buf, sizeof(buf), "%s", h ? h : "");
	json_decref(st);
	return buf;
}

/* Applied, a restart, the window passes: back to the previous file. */
static void test_pending_survives_restart(void **state)
{
	char old[REMOTE_HEX], fresh[REMOTE_HEX], now[REMOTE_HEX], err[160], path[PATH_MAX + 16];
	struct remote *r;
	json_t *result;

	(void)state;
	setup_key("ED25519");
	event_sink_clear(&sink);
	assert_int_equal(remote_file_sha256(conf_path, old), 0);
	r = open_remote(0);
	assert_int_equal(push(r, 2, "apply-001", &result, err), 0);
	snprintf(fresh, sizeof(fresh), "%s", json_string_value(json_object_get(result, "new")));
	json_decref(result);
	assert_int_equal(remote_file_sha256(conf_path, now), 0);
	assert_string_equal(now, fresh);
	assert_true(remote_reload_due(r, 0));
	remote_close(r); /* killed before the reload */

	r = open_remote(1000);
	assert_string_equal(pending_new(r, 1000), fresh);
	assert_int_equal(remote_deadline(r), 1000 + 10000);
	assert_false(remote_reload_due(r, 10999));
	assert_true(remote_reload_due(r, 11000));
	assert_int_equal(sink.n, 1);
	assert_string_equal(json_string_value(json_object_get(sink.ev[0], "type")),
			    "config-rollback");
	assert_string_equal(json_string_value(json_object_get(sink.ev[0], "old")), old);
	assert_string_equal(json_string_value(json_object_get(sink.ev[0], "new")), fresh);
	assert_int_equal(remote_file_sha256(conf_path, now), 0);
	assert_string_equal(now, old);
	snprintf(path, sizeof(path), "%s/state/remote-pending", dir);
	assert_int_equal(access(path, F_OK), -1);
	remote_reloaded(r, 1);
	assert_string_equal(pending_new(r, 11000), "");
	remote_close(r);
}

/* A state whose new file never arrived (killed before the rename) is
 * forgotten at the next start. */
static void test_pending_forgotten(void **state)
{
	char path[PATH_MAX + 16], text[512];
	struct remote *r;

	(void)state;
	setup_key("ED25519");
	snprintf(path, sizeof(path), "%s/state/remote-pending", dir);
	snprintf(text, sizeof(text), "target %s\nold %064d\nnew %064d\ndeadline_ms %lld\n",
		 conf_path, 0, 1, (long long)NOW_MS + 5000);
	write_file(path, text);
	r = open_remote(0);
	assert_string_equal(pending_new(r, 0), "");
	assert_int_equal(access(path, F_OK), -1);
	remote_close(r);
}

/* Confirmed after the reload: nothing is taken back; a reload that failed
 * is taken back at once. */
static void test_confirm_and_failed_reload(void **state)
{
	char fresh[REMOTE_HEX], old[REMOTE_HEX], now[REMOTE_HEX], err[160], body[128];
	struct remote *r;
	json_t *result, *req;

	(void)state;
	setup_key("ED25519");
	event_sink_clear(&sink);
	r = open_remote(0);
	assert_int_equal(push(r, 3, "conf-0001", &result, err), 0);
	snprintf(fresh, sizeof(fresh), "%s", json_string_value(json_object_get(result, "new")));
	json_decref(result);
	remote_reloaded(r, 1);
	snprintf(body, sizeof(body), "{\"hash\":\"%s\"}", fresh);
	req = sign("confirm-config", NOW_MS / 1000, "conf-0002", body);
	assert_int_equal(remote_confirm(r, req, NOW_MS, &result, err, sizeof(err)), 0);
	json_decref(req);
	json_decref(result);
	assert_false(remote_reload_due(r, 1000000));
	assert_int_equal(sink.n, 0);

	assert_int_equal(remote_file_sha256(conf_path, old), 0);
	assert_int_equal(push(r, 4, "conf-0003", &result, err), 0);
	json_decref(result);
	remote_reloaded(r, 0);
	assert_int_equal(sink.n, 1);
	assert_string_equal(json_string_value(json_object_get(sink.ev[0], "reason")),
			    "the reload failed");
	assert_true(remote_reload_due(r, 0));
	assert_int_equal(remote_file_sha256(conf_path, now), 0);
	assert_string_equal(now, old);
	remote_close(r);
}

/* Three mistakes: three "line: text" errors, nothing changed. */
static void test_refused_config(void **state)
{
	char old[REMOTE_HEX], now[REMOTE_HEX], err[160];
	const char *bad =
	    "[device]\nid = unit-1\nbogus = 1\n[sample]\nperiod = x\n[mqtt]\nport = 0\n"
	    "[gnss]\nenabled = yes\n";
	json_t *payload, *req, *result;
	struct remote *r;
	char *text;

	(void)state;
	setup_key("ED25519");
	r = open_remote(0);
	assert_int_equal(remote_file_sha256(conf_path, old), 0);
	payload = json_pack("{s:s, s:s}", "text", bad, "replaces", old);
	text = json_dumps(payload, JSON_COMPACT);
	req = sign("set-config", NOW_MS / 1000, "bad-00001", text);
	assert_int_equal(remote_set_config(r, req, NOW_MS, 0, &result, err, sizeof(err)), -1);
	assert_string_equal(err, "3 errors: nothing changed");
	assert_int_equal(json_array_size(json_object_get(result, "errors")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(result, "errors"), 0)),
			    "3: unknown key \"bogus\" in [device]");
	assert_int_equal(remote_file_sha256(conf_path, now), 0);
	assert_string_equal(now, old);
	assert_false(remote_reload_due(r, 0));
	json_decref(result);
	json_decref(req);
	json_decref(payload);
	free(text);
	remote_close(r);
}

#define ZONE_FMT                                                                                   \
	"{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","                     \
	"\"properties\":{\"name\":\"z%d\",\"prohibited_stages\":[1]},"                             \
	"\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[116.0,39.0],"                       \
	"[117.0,39.0],[117.0,40.0],[116.0,39.0]]]}}]}"

/* The [zones] file, pushed with "file":"zones": checked as -n checks it,
 * replaced, and taken back like the configuration. */
static void test_zones_push(void **state)
{
	char zpath[96], text[1024], old[REMOTE_HEX], now[REMOTE_HEX], err[160];
	const char *bodies[2] = {"{\"type\":\"Point\"}", text};
	struct remote *r;
	int rc[2];

	(void)state;
	setup_key("ED25519");
	snprintf(zpath, sizeof(zpath), "%s/zones.json", dir);
	snprintf(text, sizeof(text), ZONE_FMT, 1);
	write_file(zpath, text);
	snprintf(text, sizeof(text), "%s[zones]\nfile = %s\n", conf_text(1), zpath);
	write_file(conf_path, text);
	assert_int_equal(config_load(conf_path, &cfg), 0);
	assert_int_equal(remote_file_sha256(zpath, old), 0);
	r = open_remote(0);
	snprintf(text, sizeof(text), ZONE_FMT, 2);
	for (int i = 0; i < 2; i++) {
		json_t *payload = json_pack("{s:s, s:s, s:s}", "file", "zones", "text", bodies[i],
					    "replaces", old);
		char *p = json_dumps(payload, JSON_COMPACT), nonce[16];
		json_t *req, *result = NULL;

		snprintf(nonce, sizeof(nonce), "zones-%03d", i);
		req = sign("set-config", NOW_MS / 1000, nonce, p);
		rc[i] = remote_set_config(r, req, NOW_MS, 0, &result, err, sizeof(err));
		if (i == 0)
			assert_int_equal(json_array_size(json_object_get(result, "errors")), 1);
		json_decref(result);
		json_decref(req);
		json_decref(payload);
		free(p);
	}
	assert_int_equal(rc[0], -1);
	assert_int_equal(rc[1], 0);
	assert_int_equal(remote_file_sha256(zpath, now), 0);
	assert_string_not_equal(now, old);
	remote_reloaded(r, 1);
	assert_true(remote_reload_due(r, 10000));
	assert_int_equal(remote_file_sha256(zpath, now), 0);
	assert_string_equal(now, old);
	remote_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signature_ed25519),
	    cmocka_unit_test(test_signature_sm2),
	    cmocka_unit_test(test_skew),
	    cmocka_unit_test(test_nonce_replay),
	    cmocka_unit_test(test_no_key),
	    cmocka_unit_test(test_pending_survives_restart),
	    cmocka_unit_test(test_pending_forgotten),
	    cmocka_unit_test(test_confirm_and_failed_reload),
	    cmocka_unit_test(test_refused_config),
	    cmocka_unit_test(test_zones_push),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
