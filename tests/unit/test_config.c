/* Unit tests of config: the example file, defaults, and that every mistake
 * comes out as the "file:line: message" a user would read. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/config.h"

#define EXAMPLE "config/emgw.conf" /* tests run from the top of the tree */

struct fixture {
	char dir[64];
	char path[PATH_MAX]; /* dir/emgw.conf */
	char err[8192];	     /* what config_load wrote to stderr */
	int n_lines;	     /* lines in err */
	struct config c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/emgw.conf", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Writes text to dir/name (name may hold a subdirectory). */
static void put(struct fixture *f, const char *name, const char *text)
{
	char path[PATH_MAX];
	char *slash;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* config_load(path) with stderr caught in f->err; returns its count. */
static int load_path(struct fixture *f, const char *path)
{
	char tmp[] = "/tmp/test_config_err.XXXXXX";
	int fd = mkstemp(tmp), saved, n;
	ssize_t len;
	char *p;

	assert_true(fd >= 0);
	unlink(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) >= 0);
	n = config_load(path, &f->c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = pread(fd, f->err, sizeof(f->err) - 1, 0);
	assert_true(len >= 0);
	f->err[len] = '\0';
	close(fd);
	f->n_lines = 0;
	for (p = f->err; (p = strchr(p, '\n')); p++)
		f->n_lines++;
	return n;
}

/* Whether text sets key in any section (a line "key =" or "key:"). */
static int sets(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		p += strspn(p, " \t");
		if (strncmp(p, key, n) == 0 &&
		    (p[n + strspn(p + n, " \t")] == '=' || p[n + strspn(p + n, " \t")] == ':'))
			return 1;
	}
	return 0;
}

/* config_load of text as emgw.conf, raw: what a user's file would give. */
static int load_raw(struct fixture *f, const char *text)
{
	put(f, "emgw.conf", text);
	return load_path(f, f->path);
}

/* The same, with what every configuration needs (a device id, a source)
 * added at the end when text lacks it: the tests of other keys stay short,
 * and their line numbers stay. */
static int load(struct fixture *f, const char *text)
{
	static char buf[65536];
	int src = strstr(text, "[can") || strstr(text, "[device \"") || strstr(text, "[gnss]");

	snprintf(buf, sizeof(buf), "%s\n%s%s", text, sets(text, "id") ? "" : "[device]\nid = t\n",
		 src ? "" : "[can \"t\"]\ninterface = can0\n");
	return load_raw(f, buf);
}

/* Asserts that one line of stderr reads "<dir>/<file>:<line>: <msg>", after
 * the log priority prefix. */
static void expect_msg(struct fixture *f, const char *file, int line, const char *msg)
{
	char want[1024];

	if (line > 0)
		snprintf(want, sizeof(want), "%s/%s:%d: %s\n", f->dir, file, line, msg);
	else
		snprintf(want, sizeof(want), "%s/%s: %s\n", f->dir, file, msg);
	if (!strstr(f->err, want))
		fail_msg("expected \"%s\" in stderr:\n%s", want, f->err);
}

/* One mistake: exactly one error, with this message on this line. */
static void expect_one(struct fixture *f, const char *text, int line, const char *msg)
{
	int n = load(f, text);

	if (n != 1 || f->n_lines != 1)
		fail_msg("%d errors, %d lines, for:\n%s\nstderr:\n%s", n, f->n_lines, text, f->err);
	expect_msg(f, "emgw.conf", line, msg);
}

static void test_example(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_path(f, EXAMPLE), 0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->c.file, EXAMPLE);
	assert_int_equal(f->c.n_can, 1);
	assert_string_equal(f->c.can[0].name, "engine");
	assert_string_equal(f->c.can[0].interface, "can0");
	assert_string_equal(f->c.can[0].log, "");
	assert_string_equal(f->c.state_dir, "/var/lib/emgw");
	assert_string_equal(f->c.store.path, "/var/lib/emgw/emgw.db");
	assert_string_equal(f->c.mqtt.client_id, "emgw-emgw");
}

/* The example must say what the code does: loading it equals the defaults
 * (with its one CAN source). */
static void test_example_is_defaults(void **state)
{
	struct fixture *f = *state;
	struct config d;

	assert_int_equal(load(f, "[device]\nid = emgw\n[can \"engine\"]\ninterface = can0\n"), 0);
	memcpy(&d, &f->c, sizeof(d));
	assert_int_equal(load_path(f, EXAMPLE), 0);
	memcpy(d.file, f->c.file, sizeof(d.file));
	assert_memory_equal(&d, &f->c, sizeof(d));
}

/* Loaded into zero memory (config_load_zeroed writes only what is not
 * zero), the configuration is the same, byte for byte, as loaded over
 * anything; also the example's. */
static void test_load_zeroed(void **state)
{
	struct fixture *f = *state;
	struct config *z = calloc(1, sizeof(*z));

	assert_non_null(z);
	memset(&f->c, 0xa5, sizeof(f->c));
	assert_int_equal(load_path(f, EXAMPLE), 0);
	assert_int_equal(config_load_zeroed(EXAMPLE, z), 0);
	assert_memory_equal(z, &f->c, sizeof(*z));
	free(z);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->c;

	config_defaults(c);
	assert_string_equal(c->id, "emgw");
	assert_string_equal(c->vin, "");
	assert_int_equal(c->stage, 4);
	assert_true(c->rated_power_kw == 75);
	assert_string_equal(c->state_dir, "/var/lib/emgw");
	assert_int_equal(c->n_can, 0);
	assert_int_equal(c->mqtt.enabled, 1);
	assert_string_equal(c->mqtt.host, "localhost");
	assert_int_equal(c->mqtt.port, 1883);
	assert_string_equal(c->mqtt.client_id, "");
	assert_string_equal(c->mqtt.prefix, "emgw");
	assert_int_equal(c->mqtt.keepalive_s, 30);
	assert_int_equal(c->mqtt.qos, 1);
	assert_string_equal(c->mqtt.ca_file, "");
	assert_int_equal(c->mqtt.tls_verify, 1);
	assert_int_equal(c->mqtt.inflight, 32);
	assert_int_equal(c->mqtt.reconnect_max_s, 60);
	assert_string_equal(c->store.path, "");
	assert_int_equal(c->store.retention_days, 7);
	assert_int_equal(c->seal.rows, 60);
	assert_int_equal(c->seal.interval_ms, 60000);
	assert_int_equal(c->seal.drain_ms, 3000);
	assert_int_equal(c->seal.ed25519, 0);
	assert_int_equal(c->store.max_size_mb, 256);
	assert_int_equal(c->sample.period_ms, 1000);
	assert_int_equal(c->sample.stale_ms, 5000);
	assert_int_equal(c->smoke.enabled, 1);
	assert_true(c->smoke.lambda_max == 1.20);
	assert_true(c->smoke.lambda_exit == 1.30);
	assert_true(c->smoke.min_load_pct == 20); /* issue 15: spec/smoke.md's truth */
	assert_int_equal(c->smoke.min_duration_ms, 2000);
	assert_true(c->smoke.crank_rpm == 600);
	assert_true(c->smoke.cold_load_pct == 20);
	assert_int_equal(c->smoke.start_exempt_ms, 5000);
	assert_int_equal(c->smoke.fuel_cut_exempt, 1);
	assert_true(c->smoke.fuel_density == 0.835);
	assert_true(c->smoke.afr_stoich == 14.5);
	assert_true(c->smoke.min_fuel_lph == 2.0);

	/* the least a file holds gives the defaults, with those that follow others */
	assert_int_equal(load(f, "[device]\nid = emgw\n"), 0);
	assert_string_equal(c->mqtt.client_id, "emgw-emgw");
	assert_string_equal(c->store.path, "/var/lib/emgw/emgw.db");
	assert_int_equal(c->mqtt.port, 1883);
}

static void test_derived_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->c;

	assert_int_equal(load(f, "[device]\nid = truck-7\nstate_dir = /srv/e\n"
				 "[mqtt]\nca_file = /etc/ca.pem\n"),
			 0);
	assert_string_equal(c->mqtt.client_id, "emgw-truck-7");
	assert_string_equal(c->store.path, "/srv/e/emgw.db");
	assert_int_equal(c->mqtt.port, 8883);

	assert_int_equal(load(f, "[mqtt]\nca_file = /etc/ca.pem\nport = 1884\n"
				 "client_id = me\n[store]\npath = /x.db\n"),
			 0);
	assert_int_equal(c->mqtt.port, 1884);
	assert_string_equal(c->mqtt.client_id, "me");
	assert_string_equal(c->store.path, "/x.db");
}

static void test_values(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->c;

	assert_int_equal(load(f, "; comment\n# comment\n\n"
				 "[device]\n"
				 "  vin = LFV2A21K6G3012345 ; indented, trailing comment\n"
				 "stage: 6\n"
				 "[sample]\nperiod = 0.5\nstale = 2.25\n"
				 "[smoke]\nenabled = Off\nmin_duration = 0\nlambda_max = 1e0\n"
				 "[can \"a\"]\nlog = t/a.log\nloop = TRUE\nspeed = 0\n"
				 "[can \"b_2\"]\ninterface = vcan0\n"),
			 0);
	assert_string_equal(f->err, "");
	assert_string_equal(c->vin, "LFV2A21K6G3012345");
	assert_int_equal(c->stage, 6);
	assert_int_equal(c->sample.period_ms, 500);
	assert_int_equal(c->sample.stale_ms, 2250);
	assert_int_equal(c->smoke.enabled, 0);
	assert_int_equal(c->smoke.min_duration_ms, 0);
	assert_true(c->smoke.lambda_max == 1.0);
	assert_int_equal(c->n_can, 2);
	assert_string_equal(c->can[0].name, "a");
	assert_int_equal(c->can[0].loop, 1);
	assert_true(c->can[0].speed == 0);
	assert_string_equal(c->can[1].name, "b_2");
	assert_string_equal(c->can[1].interface, "vcan0");
	assert_true(c->can[1].speed == 1.0);
	/* relative to the directory of the file */
	assert_true(strncmp(c->can[0].log, f->dir, strlen(f->dir)) == 0);
	assert_string_equal(c->can[0].log + strlen(f->dir), "/t/a.log");
}

struct bad_case {
	const char *text;
	int line;
	const char *msg;
};

/* One mistake each; the message is what the user reads ('@' stands for the
 * test's directory). */
static const struct bad_case bad_cases[] = {
    {"[mqtt]\nport = 70000\n", 2, "port: 70000 is out of range (1..65535)"},
    {"[mqtt]\nport = 0\n", 2, "port: 0 is out of range (1..65535)"},
    {"[mqtt]\nport = 12x\n", 2, "port: \"12x\" is not an integer"},
    {"[mqtt]\nport = 1.5\n", 2, "port: \"1.5\" is not an integer"},
    {"[mqtt]\nport =\n", 2, "port: missing value"},
    {"[mqtt]\nkeepalive = 99999999999999999999\n", 2,
     "keepalive: 99999999999999999999 is out of range (5..3600)"},
    {"[mqtt]\nqos = 2\n", 2, "qos: 2 is out of range (0..1)"},
    {"[mqtt]\nenabled = maybe\n", 2,
     "enabled: \"maybe\" is not a boolean (yes/no, true/false, on/off, 1/0)"},
    {"[mqtt]\nprefix = a/+/b\n", 2,
     "prefix: \"a/+/b\" must not contain the MQTT wildcards + and #"},
    {"[mqtt]\nprefix =\n", 2, "prefix: must not be empty"},
    {"[mqtt]\nprefix = 0123456789012345678901234567890123456789012345678901234567890123\n", 2,
     "prefix: too long (64 characters, at most 63)"},
    {"[mqtt]\nhost =\n", 2, "host: must not be empty"},
    {"[mqtt]\nprot = 1883\n", 2, "unknown key \"prot\" in [mqtt]"},
    {"\n[device]\nstage = 7\n", 3, "stage: 7 is out of range (1..6)"},
    {"[device]\nstage = 0\n", 2, "stage: 0 is out of range (1..6)"},
    {"[device]\nrated_power_kw = abc\n", 2, "rated_power_kw: \"abc\" is not a number"},
    {"[device]\nrated_power_kw = 0.5\n", 2, "rated_power_kw: 0.5 is out of range (1..10000)"},
    {"[device]\nid = a b\n", 2, "id: \"a b\" may contain only A-Z, a-z, 0-9, '_' and '-'"},
    {"[device]\nid =\n", 2, "id: must not be empty"},
    {"[device]\nid = 0123456789012345678901234567890123456789012345678901234567890123\n", 2,
     "id: too long (64 characters, at most 63)"},
    {"[device]\nvin = LFV2A21K6G301234\n", 2,
     "vin: \"LFV2A21K6G301234\" is not a VIN (17 characters: 0-9 and A-Z but I, O, Q)"},
    {"[device]\nvin = LFV2A21K6G30I2345\n", 2,
     "vin: \"LFV2A21K6G30I2345\" is not a VIN (17 characters: 0-9 and A-Z but I, O, Q)"},
    {"[device]\nstate_dir =\n", 2, "state_dir: must not be empty"},
    {"[device]\nstage = 5\nstage = 6\n", 3, "stage: already set at @/emgw.conf:2"},
    {"[sample]\nperiod = 0.05\n", 2, "period: 0.05 is out of range (0.1..60 s)"},
    {"[seal]\nrows = 0\n", 2, "rows: 0 is out of range (1..100000)"},
    {"[seal]\ninterval = 0.5\n", 2, "interval: 0.5 is out of range (1..86400 s)"},
    {"[seal]\ndrain = 601\n", 2, "drain: 601 is out of range (0..600 s)"},
    {"[seal]\nalgorithm = rsa\n", 2, "algorithm: \"rsa\" is not sm2 or ed25519"},
    {"[sample]\nstale = inf\n", 2, "stale: \"inf\" is not a number"},
    {"[smoke]\nlambda_max = nan\n", 2, "lambda_max: \"nan\" is not a number"},
    {"[smoke]\nmin_load_pct = 101\n", 2, "min_load_pct: 101 is out of range (0..100)"},
    {"[smoke]\nfuel_density = 0.835 # diesel\n", 2,
     "fuel_density: \"0.835 # diesel\" is not a number"},
    {"[can \"e\"]\ninterface = can0\nspeed = -1\n", 3, "speed: -1 is out of range (0..1000)"},
    {"[can \"e\"]\ninterface = can0123456789abc\n", 2,
     "interface: too long (16 characters, at most 15)"},
    {"[can \"e\"]\ninterface = can0\nbitrate = 250000\n", 3,
     "unknown key \"bitrate\" in [can \"e\"]"},
    {"[can]\ninterface = can0\n", 1, "[can] needs a name, as in [can \"engine\"]"},
    {"[can engine]\ninterface = can0\n", 1, "malformed section header: expected [can \"NAME\"]"},
    {"[can \"a b\"]\ninterface = can0\n", 1,
     "[can \"a b\"]: a name is 1..31 characters of A-Z, a-z, 0-9, '_' and '-'"},
    {"[can \"e\"]\n", 1, "[can \"e\"] needs exactly one of interface and log"},
    {"[can \"e\"]\ninterface = can0\nlog = x.log\n", 1,
     "[can \"e\"] needs exactly one of interface and log"},
    {"[can \"e\"]\ninterface = can0\n[can \"e\"]\ninterface = can1\n", 3,
     "duplicate section [can \"e\"] (first at @/emgw.conf:1)"},
    {"[mqtt]\nport = 1\n[mqtx]\nport = 2\nhost = x\n", 3, "unknown section [mqtx]"},
    {"[mqtt\nport = 1\n", 1, "section header without ']'"},
    {"[mqtt] x\n", 1, "unexpected \"x\" after section header"},
    {"port = 1883\n", 1, "key \"port\" outside any section"},
    {"[mqtt]\nport 1883\n", 2, "expected \"key = value\""},
    {"[mqtt]\n= 1883\n", 2, "missing key name before '='"},
    {"[smoke]\nlambda_max = 1.3\nlambda_exit = 1.25\n", 3,
     "lambda_exit (1.25) must not be below lambda_max (1.3)"},
    {"[smoke]\nlambda_max = 1.4\n", 2, "lambda_exit (1.3) must not be below lambda_max (1.4)"},
    {"[mqtt]\nca_file = ca.pem\ncert_file = c.pem\n", 3, "cert_file is set but key_file is not"},
    {"[mqtt]\nca_file = ca.pem\nkey_file = c.key\n", 3, "key_file is set but cert_file is not"},
    {"[mqtt]\ncert_file = c.pem\nkey_file = c.key\n", 2, "cert_file is set but ca_file is not"},
    {"[mqtt]\npassword_file = pw\n", 2, "password_file is set but username is not"},
    /* a wrong value is reported once, not again as missing */
    {"[can \"e\"]\nlog =\n", 2, "log: must not be empty"},
    {"[smoke]\nlambda_max = 2.9\nlambda_exit = x\n", 3, "lambda_exit: \"x\" is not a number"},
    {"[mqtt]\nca_file = ca\ncert_file = c\nkey_file = 1\nkey_file = 2\n", 5,
     "key_file: already set at @/emgw.conf:4"},
};

static void test_bad_values(void **state)
{
	struct fixture *f = *state;
	const struct bad_case *b;
	const char *at;
	char msg[512];
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		b = &bad_cases[i];
		at = strchr(b->msg, '@');
		if (at)
			snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - b->msg), b->msg, f->dir,
				 at + 1);
		else
			snprintf(msg, sizeof(msg), "%s", b->msg);
		expect_one(f, b->text, b->line, msg);
	}
}

static void test_line_too_long(void **state)
{
	struct fixture *f = *state;
	char text[600];

	snprintf(text, sizeof(text), "[mqtt]\nhost = %0300d\nport = 1\n", 0);
	assert_int_equal(load(f, text), 1);
	assert_int_equal(f->n_lines, 1);
	expect_msg(f, "emgw.conf", 2, "line too long (at most 197 characters)");
	/* the rest of the file still counts */
	assert_int_equal(f->c.mqtt.port, 1);

	/* the longest line that fits */
	snprintf(text, sizeof(text), "[mqtt]\r\nhost = %0190d\r\n", 0);
	assert_int_equal(strlen(strchr(text, 'h')), 197 + 2);
	assert_int_equal(load(f, text), 0);
	assert_int_equal(strlen(f->c.mqtt.host), 190);
}

static void test_three_mistakes(void **state)
{
	struct fixture *f = *state;
	char msg[512];

	assert_int_equal(load(f, "[device]\n"
				 "id = truck7\n"
				 "stage = 9\n" /* 3 */
				 "\n"
				 "[mqtt]\n"
				 "host = broker\n"
				 "prot = 1883\n" /* 7 */
				 "\n"
				 "[sample]\n"
				 "period = 1\n"
				 "stale = 5\n"
				 "period = 2\n"), /* 12 */
			 3);
	assert_int_equal(f->n_lines, 3);
	expect_msg(f, "emgw.conf", 3, "stage: 9 is out of range (1..6)");
	expect_msg(f, "emgw.conf", 7, "unknown key \"prot\" in [mqtt]");
	snprintf(msg, sizeof(msg), "period: already set at %s/emgw.conf:10", f->dir);
	expect_msg(f, "emgw.conf", 12, msg);
	/* good values around the mistakes still count */
	assert_string_equal(f->c.mqtt.host, "broker");
}

static void test_include(void **state)
{
	struct fixture *f = *state;

	put(f, "profiles/truck.conf",
	    "[device]\nrated_power_kw = 120\nstage = 99\n"
	    "include = tls.conf\n");
	put(f, "profiles/tls.conf", "[mqtt]\nca_file = ca.pem\n");
	put(f, "user.conf", "username = u\n");
	assert_int_equal(load(f, "include = profiles/truck.conf\n"
				 "[mqtt]\n"
				 "include = user.conf\n"
				 "password_file = pw\n"),
			 1);
	assert_int_equal(f->n_lines, 1);
	/* the error points into the included file */
	expect_msg(f, "profiles/truck.conf", 3, "stage: 99 is out of range (1..6)");
	assert_true(f->c.rated_power_kw == 120);
	/* nested include, relative to the file that includes it */
	assert_string_equal(f->c.mqtt.ca_file + strlen(f->dir), "/profiles/ca.pem");
	assert_int_equal(f->c.mqtt.port, 8883);
	/* an included file goes on in the section it is included in, and the
	 * including file carries on in its own afterwards */
	assert_string_equal(f->c.mqtt.username, "u");
	assert_string_equal(f->c.mqtt.password_file + strlen(f->dir), "/pw");
}

static void test_include_errors(void **state)
{
	struct fixture *f = *state;
	char msg[512];

	snprintf(msg, sizeof(msg), "include: cannot open %s/nope.conf: No such file or directory",
		 f->dir);
	expect_one(f, "[mqtt]\ninclude = nope.conf\n", 2, msg);

	put(f, "loop.conf", "\ninclude = emgw.conf\n");
	assert_int_equal(load_raw(f, "include = loop.conf\n"), 1);
	/* main (depth 0) -> loop -> main ... -> main at depth 8 */
	expect_msg(f, "emgw.conf", 1, "include: nested more than 8 deep (does it include itself?)");

	/* a key set in an included file and again in the including one */
	put(f, "p.conf", "[device]\nstage = 3\n");
	snprintf(msg, sizeof(msg), "stage: already set at %s/p.conf:2", f->dir);
	expect_one(f, "include = p.conf\n[device]\nstage = 4\n", 3, msg);
}

static void test_too_many_can(void **state)
{
	struct fixture *f = *state;
	char text[1024] = "";
	char sec[64];
	int i;

	for (i = 0; i < CONFIG_MAX_CAN + 1; i++) {
		snprintf(sec, sizeof(sec), "[can \"c%d\"]\ninterface = can%d\n", i, i);
		strcat(text, sec);
	}
	snprintf(sec, sizeof(sec), "too many [can] sections (at most %d)", CONFIG_MAX_CAN);
	expect_one(f, text, 2 * CONFIG_MAX_CAN + 1, sec);
	assert_int_equal(f->c.n_can, CONFIG_MAX_CAN);
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/missing.conf", f->dir);
	assert_int_equal(load_path(f, path), 1);
	expect_msg(f, "missing.conf", 0, "cannot open: No such file or directory");
}

/* Issue 14: an empty file (a reload that caught `cp` at its start) was
 * "configuration OK" and ran the defaults: localhost, no CAN source. */
static void test_required(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_raw(f, ""), 2);
	expect_msg(f, "emgw.conf", 0,
		   "[device] id is not set: a configuration must name its device");
	expect_msg(f, "emgw.conf", 0,
		   "no source: a configuration needs a [can \"NAME\"], a Modbus [device \"NAME\"]"
		   " or [gnss] enabled = yes");
	assert_int_equal(load_raw(f, "[device]\nid = x\n[mqtt]\nhost = b\n"), 1);
	expect_msg(f, "emgw.conf", 0,
		   "no source: a configuration needs a [can \"NAME\"], a Modbus"
		   " [device \"NAME\"] or [gnss] enabled = yes");
	assert_int_equal(load_raw(f, "[can \"a\"]\ninterface = can0\n"), 1);
	expect_msg(f, "emgw.conf", 0,
		   "[device] id is not set: a configuration must name its device");
	assert_int_equal(load_raw(f, "[device]\nid = x\n[gnss]\nenabled = yes\n"), 0);
	assert_int_equal(load_raw(f, "[device]\nid = x\n[gnss]\nenabled = no\n"), 1);
}

/* include = /dev/zero read until memory ran out; a FIFO would block. */
static void test_not_regular_or_too_big(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], msg[PATH_MAX + 64];
	FILE *fp;

	expect_one(f, "[device]\ninclude = /dev/zero\n", 2,
		   "include: cannot open /dev/zero: not a regular file");
	snprintf(path, sizeof(path), "%s/fifo.conf", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(load_path(f, path), 1);
	expect_msg(f, "fifo.conf", 0, "cannot open: not a regular file");

	snprintf(path, sizeof(path), "%s/big.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	while (ftell(fp) <= 1024 * 1024)
		fputs("# a comment line, one of many, to make a file of more than 1 MiB\n", fp);
	fclose(fp);
	snprintf(msg, sizeof(msg), "include: cannot open %s: larger than 1048576 bytes", path);
	expect_one(f, "[device]\ninclude = big.conf\n", 2, msg);
}

/* A private key or a password file readable by others is refused, the
 * platform's and the MQTT password's as the MQTT key was. */
static void test_secret_modes(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], msg[PATH_MAX + 128];

	put(f, "sm2.pem", "key\n");
	put(f, "pass", "secret\n");
	snprintf(path, sizeof(path), "%s/sm2.pem", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(msg, sizeof(msg),
		 "key_file: %s is readable by group or others (mode 0644): chmod 600 it", path);
	expect_one(f, "[platform]\nkey_file = sm2.pem\n", 2, msg);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(load(f, "[platform]\nkey_file = sm2.pem\n"), 0);

	snprintf(path, sizeof(path), "%s/pass", f->dir);
	assert_int_equal(chmod(path, 0640), 0);
	snprintf(msg, sizeof(msg),
		 "password_file: %s is readable by group or others (mode 0640): chmod 600 it",
		 path);
	expect_one(f, "[mqtt]\nusername = u\npassword_file = pass\n", 3, msg);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(load(f, "[mqtt]\nusername = u\npassword_file = pass\n"), 0);
}

/* [platform] variant: the three layouts by name, anything else refused. */
static void test_platform_variant(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[platform]\nvariant = gb17691\n"), 0);
	assert_int_equal(f->c.platform.variant, 2);
	assert_int_equal(f->c.platform.period_ms, 10000);
	assert_int_equal(load(f, "[platform]\nvariant = road\n"), 0);
	assert_int_equal(f->c.platform.variant, 1);
	expect_one(f, "[platform]\nvariant = gb\n", 2,
		   "variant: \"gb\" is not nrmm, road or gb17691");
	assert_int_equal(f->c.platform.tls_verify, 1); /* verification on by default */
}

struct writer {
	const char *path;
	volatile int stop;
	int rounds;
};

/* Rewrites the file, as cp does (truncate, then write), with one of two
 * valid contents, until told to stop. */
static void *rewrite(void *arg)
{
	struct writer *w = arg;
	static char text[2][200000];

	for (int k = 0; k < 2; k++) {
		int n = snprintf(text[k], sizeof(text[k]), "[device]\nid = dev%d\n", k);

		for (int i = 0; n < 150000; i++)
			n += snprintf(text[k] + n, sizeof(text[k]) - (size_t)n, "# filler %d\n", i);
		snprintf(text[k] + n, sizeof(text[k]) - (size_t)n,
			 "[can \"engine\"]\ninterface = can%d\n", k);
	}
	while (!w->stop) {
		const char *t = text[w->rounds++ % 2];
		int fd = open(w->path, O_WRONLY | O_TRUNC);

		if (fd < 0)
			break;
		for (size_t off = 0, len = strlen(t); off < len; off += 4096)
			if (write(fd, t + off, len - off < 4096 ? len - off : 4096) < 0)
				break;
		close(fd);
	}
	return NULL;
}

/* A reload restarts a CAN source when a key of its section changed: the
 * key named is the one that did, a list's entries included. */
static void test_can_changed(void **state)
{
	static const struct {
		const char *text, *key; /* key: NULL when none changed */
	} cases[] = {
	    {"interface = can0\nignore_pgn = 65262\n", NULL},
	    {"interface = can1\nignore_pgn = 65262\n", "interface"},
	    {"interface = can0\nignore_pgn = 65263\n", "ignore_pgn"},
	    {"interface = can0\nignore_pgn = 65262 65263\n", "ignore_pgn"},
	    {"interface = can0\nignore_pgn = 65262\nsa = 3\n", "sa"},
	    {"interface = can0\nignore_pgn = 65262\npgn_sa = 61444:0\n", "pgn_sa"},
	    {"interface = can0\nignore_pgn = 65262\nrequest = yes\n", "request"},
	};
	static struct config base;
	struct fixture *f = *state;
	char text[256];

	assert_int_equal(load(f, "[can \"e\"]\ninterface = can0\nignore_pgn = 65262\n"), 0);
	base = f->c;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *key;

		snprintf(text, sizeof(text), "[can \"e\"]\n%s", cases[i].text);
		assert_int_equal(load(f, text), 0);
		key = config_can_changed(&base.can[0], &f->c.can[0]);
		if (cases[i].key)
			assert_string_equal(key, cases[i].key);
		else
			assert_null(key);
	}
}

/* gnss restarts on a [gnss] key only, not on the section after it. */
static void test_gnss_changed(void **state)
{
	static struct config base;
	struct fixture *f = *state;

	assert_int_equal(load(f, "[gnss]\nenabled = yes\n"), 0);
	base = f->c;
	assert_int_equal(load(f, "[gnss]\nenabled = yes\n"), 0);
	assert_null(config_gnss_changed(&base, &f->c));
	assert_int_equal(load(f, "[gnss]\nenabled = yes\nreconnect_max = 7\n"), 0);
	assert_string_equal(config_gnss_changed(&base, &f->c), "reconnect_max");
	assert_int_equal(load(f, "[gnss]\nenabled = yes\n[platform]\nvariant = road\n"), 0);
	assert_null(config_gnss_changed(&base, &f->c));
}

static int bus_index(const struct config *c, const char *name)
{
	for (int b = 0; b < c->n_bus; b++)
		if (strcmp(c->bus[b].name, name) == 0)
			return b;
	return -1;
}

/* A reload restarts a Modbus bus when a key of its [bus], a device on it or
 * its profile's points changed; not when another bus did, nor when it only
 * moved in the file. */
static void test_bus_changed(void **state)
{
#define BUS_A		   "[bus \"a\"]\ntype = tcp\nhost = 127.0.0.1\nport = 1502\n"
#define BUS_B		   "[bus \"b\"]\ntype = tcp\nhost = 127.0.0.1\nport = 1503\n"
#define DEV_W		   "[device \"w\"]\nbus = a\nunit = 1\nprofile = p1.conf\n"
#define DEV_X_(unit, prof) "[device \"x\"]\nbus = b\nunit = " unit "\nprofile = " prof "\n"
#define DEV_X		   DEV_X_("1", "p1.conf")
	static const struct {
		const char *text, *why; /* why bus b changed, or NULL */
	} cases[] = {
	    {BUS_A BUS_B DEV_W DEV_X, NULL},
	    {BUS_B BUS_A DEV_X DEV_W, NULL},
	    {BUS_A "response_timeout = 1\n" BUS_B DEV_W DEV_X, NULL},
	    {BUS_A BUS_B "response_timeout = 1\n" DEV_W DEV_X, "response_timeout changed"},
	    {BUS_A BUS_B DEV_W DEV_X_("2", "p1.conf"), "[device \"x\"] unit changed"},
	    {BUS_A BUS_B DEV_W DEV_X_("1", "p2.conf"), "[device \"x\"] profile changed"},
	    {BUS_A BUS_B DEV_W DEV_X "[device \"y\"]\nbus = b\nunit = 2\nprofile = p1.conf\n",
	     "its devices changed"},
	};
	static struct config base;
	struct fixture *f = *state;
	char why[96];

	put(f, "p1.conf", "[point \"opacity_pct\"]\naddress = 0\n");
	put(f, "p2.conf", "[point \"opacity_pct\"]\naddress = 0\n");
	assert_int_equal(load(f, cases[0].text), 0);
	base = f->c;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int changed;

		assert_int_equal(load(f, cases[i].text), 0);
		changed = config_bus_changed(&base, bus_index(&base, "b"), &f->c,
					     bus_index(&f->c, "b"), why, sizeof(why));
		assert_int_equal(changed, cases[i].why != NULL);
		if (changed)
			assert_string_equal(why, cases[i].why);
	}
	/* the profile's file rewritten: its points changed */
	put(f, "p1.conf", "[point \"opacity_pct\"]\naddress = 1\n");
	assert_int_equal(load(f, cases[0].text), 0);
	assert_int_equal(config_bus_changed(&base, 1, &f->c, 1, why, sizeof(why)), 1);
	assert_string_equal(why, "[device \"x\"] profile changed");
#undef BUS_A
#undef BUS_B
#undef DEV_W
#undef DEV_X
#undef DEV_X_
}

/* A reload that caught `cp` mid-write ran on half a file: now a file that
 * changes while it is read is read again, and refused if it keeps changing;
 * what is accepted is always one whole version. */
static void test_changing_file(void **state)
{
	struct fixture *f = *state;
	struct writer w = {.path = f->path};
	pthread_t t;
	int refused = 0;

	put(f, "emgw.conf", "");
	assert_int_equal(pthread_create(&t, NULL, rewrite, &w), 0);
	while (w.rounds < 4)
		sched_yield();
	for (int i = 0; i < 20; i++) {
		int n = load_path(f, f->path);

		if (n == 0) {
			int k = f->c.id[3] - '0';

			assert_true(strcmp(f->c.id, "dev0") == 0 || strcmp(f->c.id, "dev1") == 0);
			assert_int_equal(f->c.n_can, 1);
			assert_int_equal(f->c.can[0].interface[3] - '0', k);
		} else {
			/* changed while read, or read whole but cut short (the writer
			 * paused mid-file): no source, refused either way */
			refused++;
		}
	}
	w.stop = 1;
	pthread_join(t, NULL);
	assert_true(refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_example, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_example_is_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_zeroed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_derived_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_three_mistakes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_include_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_can, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_required, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_regular_or_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_platform_variant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_can_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bus_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnss_changed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
