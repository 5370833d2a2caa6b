/* config: read the INI file with inih into struct config, check every value,
 * and report every mistake as "file:line: what is wrong".
 *
 * inih (as Debian builds it) gives the handler no line number and calls it
 * only for key lines, so our reader callback does the bookkeeping inih cannot:
 * it counts lines, opens sections (so an empty [can "x"] still counts and has
 * a line), notices key lines inih rejected, and refuses lines too long for
 * inih's buffer instead of letting inih cut them in two. */
#include "gateway/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/log.h"

#define CONFIG_MAX_DEPTH 8  /* include nesting below the main file */
#define CONFIG_MAX_FILES 32 /* files read by one config_load, main one included */

enum config_sec {
	CONFIG_SEC_TOP, /* before the first section header */
	CONFIG_SEC_DEVICE,
	CONFIG_SEC_CAN,
	CONFIG_SEC_MQTT,
	CONFIG_SEC_STORE,
	CONFIG_SEC_SAMPLE,
	CONFIG_SEC_SMOKE,
	CONFIG_SEC_SKIP, /* a bad header, already reported: ignore its keys */
};

static const char *const config_sec_names[] = {
	[CONFIG_SEC_DEVICE] = "device", [CONFIG_SEC_MQTT] = "mqtt",
	[CONFIG_SEC_STORE] = "store",   [CONFIG_SEC_SAMPLE] = "sample",
	[CONFIG_SEC_SMOKE] = "smoke",
};

/* Where something was set; file is NULL while it is not. */
struct config_origin {
	const char *file;
	int line;
	int bad; /* set, but to a value already reported as wrong */
};

/* One file being read. */
struct config_src {
	FILE *fp;
	const char *name;
	size_t dirlen; /* length of name up to its last '/': base of relative paths */
	int depth;
	int line;
	int pending; /* a key line inih has not passed to the handler yet */
	char *buf;
	size_t cap;
};

struct config_ctx;
struct config_key;

/* Parses value into dst (a field of struct config or struct config_can);
 * reports its own errors and returns -1 on one. */
typedef int (*config_parser)(struct config_ctx *ctx, const struct config_key *k,
			     const char *v, void *dst);

struct config_key {
	enum config_sec sec;
	const char *name;
	config_parser parse;
	size_t off;  /* in struct config, or struct config_can for [can] */
	size_t size; /* buffer size of strings */
	double min;  /* numbers: range; strings: minimum length */
	double max;
};

static int config_parse_int(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_double(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_ms(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_bool(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_string(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_path(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_id(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_vin(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_topic(struct config_ctx *, const struct config_key *, const char *, void *);

#define CONFIG_FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define CONFIG_CAN_FIELD(f) \
	offsetof(struct config_can, f), sizeof(((struct config_can *)0)->f)

#define DEV CONFIG_SEC_DEVICE
#define CAN CONFIG_SEC_CAN
#define MQTT CONFIG_SEC_MQTT
#define STORE CONFIG_SEC_STORE
#define SAMPLE CONFIG_SEC_SAMPLE
#define SMOKE CONFIG_SEC_SMOKE

/* Every key the file may hold; the ranges here are the documented ones
 * (config/emgw.conf says the same). */
static const struct config_key config_keys[] = {
	{ DEV, "id", config_parse_id, CONFIG_FIELD(id), 1, 0 },
	{ DEV, "vin", config_parse_vin, CONFIG_FIELD(vin), 0, 0 },
	{ DEV, "stage", config_parse_int, CONFIG_FIELD(stage), 1, 6 },
	{ DEV, "rated_power_kw", config_parse_double, CONFIG_FIELD(rated_power_kw), 1, 10000 },
	{ DEV, "state_dir", config_parse_path, CONFIG_FIELD(state_dir), 1, 0 },

	{ CAN, "interface", config_parse_string, CONFIG_CAN_FIELD(interface), 1, 0 },
	{ CAN, "log", config_parse_path, CONFIG_CAN_FIELD(log), 1, 0 },
	{ CAN, "speed", config_parse_double, CONFIG_CAN_FIELD(speed), 0, 1000 },
	{ CAN, "loop", config_parse_bool, CONFIG_CAN_FIELD(loop), 0, 0 },

	{ MQTT, "enabled", config_parse_bool, CONFIG_FIELD(mqtt.enabled), 0, 0 },
	{ MQTT, "host", config_parse_string, CONFIG_FIELD(mqtt.host), 1, 0 },
	{ MQTT, "port", config_parse_int, CONFIG_FIELD(mqtt.port), 1, 65535 },
	{ MQTT, "client_id", config_parse_string, CONFIG_FIELD(mqtt.client_id), 0, 0 },
	{ MQTT, "prefix", config_parse_topic, CONFIG_FIELD(mqtt.prefix), 1, 0 },
	{ MQTT, "keepalive", config_parse_int, CONFIG_FIELD(mqtt.keepalive_s), 5, 3600 },
	{ MQTT, "qos", config_parse_int, CONFIG_FIELD(mqtt.qos), 0, 1 },
	{ MQTT, "ca_file", config_parse_path, CONFIG_FIELD(mqtt.ca_file), 0, 0 },
	{ MQTT, "cert_file", config_parse_path, CONFIG_FIELD(mqtt.cert_file), 0, 0 },
	{ MQTT, "key_file", config_parse_path, CONFIG_FIELD(mqtt.key_file), 0, 0 },
	{ MQTT, "tls_verify", config_parse_bool, CONFIG_FIELD(mqtt.tls_verify), 0, 0 },
	{ MQTT, "username", config_parse_string, CONFIG_FIELD(mqtt.username), 0, 0 },
	{ MQTT, "password_file", config_parse_path, CONFIG_FIELD(mqtt.password_file), 0, 0 },
	{ MQTT, "inflight", config_parse_int, CONFIG_FIELD(mqtt.inflight), 1, 1000 },
	{ MQTT, "reconnect_max", config_parse_int, CONFIG_FIELD(mqtt.reconnect_max_s), 1, 3600 },

	{ STORE, "path", config_parse_path, CONFIG_FIELD(store.path), 0, 0 },
	{ STORE, "retention_days", config_parse_int, CONFIG_FIELD(store.retention_days), 1, 3650 },
	{ STORE, "max_size_mb", config_parse_int, CONFIG_FIELD(store.max_size_mb), 1, 1048576 },

	{ SAMPLE, "period", config_parse_ms, CONFIG_FIELD(sample.period_ms), 0.1, 60 },
	{ SAMPLE, "stale", config_parse_ms, CONFIG_FIELD(sample.stale_ms), 0.1, 3600 },

	{ SMOKE, "enabled", config_parse_bool, CONFIG_FIELD(smoke.enabled), 0, 0 },
	{ SMOKE, "lambda_max", config_parse_double, CONFIG_FIELD(smoke.lambda_max), 0.5, 3 },
	{ SMOKE, "lambda_exit", config_parse_double, CONFIG_FIELD(smoke.lambda_exit), 0.5, 3 },
	{ SMOKE, "min_load_pct", config_parse_double, CONFIG_FIELD(smoke.min_load_pct), 0, 100 },
	{ SMOKE, "min_duration", config_parse_ms, CONFIG_FIELD(smoke.min_duration_ms), 0, 3600 },
	{ SMOKE, "fuel_density", config_parse_double, CONFIG_FIELD(smoke.fuel_density), 0.3, 1.5 },
	{ SMOKE, "afr_stoich", config_parse_double, CONFIG_FIELD(smoke.afr_stoich), 1, 30 },
	{ SMOKE, "min_fuel_lph", config_parse_double, CONFIG_FIELD(smoke.min_fuel_lph), 0, 1000 },
};

#undef DEV
#undef CAN
#undef MQTT
#undef STORE
#undef SAMPLE
#undef SMOKE

#define CONFIG_N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* The parse state, reached through inih's user pointer (and the reader's). */
struct config_ctx {
	struct config *c;
	struct config_src *src;
	enum config_sec sec;
	int can; /* index of the open [can] section */
	int errors;
	int n_files;
	char files[CONFIG_MAX_FILES][PATH_MAX]; /* names the origins point to */
	struct config_origin can_hdr[CONFIG_MAX_CAN];
	/* where each key was set: row 0 for keys outside [can] */
	struct config_origin set[CONFIG_MAX_CAN][CONFIG_N_KEYS];
};

__attribute__((format(printf, 4, 5)))
static void config_error_at(struct config_ctx *ctx, const char *file, int line,
			    const char *fmt, ...)
{
	char msg[1024]; /* as long as log.c takes */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		log_warnx("%s:%d: %s", file, line, msg);
	else
		log_warnx("%s: %s", file, msg);
	ctx->errors++;
}

/* An error on the line being read. */
#define config_error(ctx, ...) \
	config_error_at((ctx), (ctx)->src->name, (ctx)->src->line, __VA_ARGS__)

static struct config_origin config_here(const struct config_ctx *ctx)
{
	struct config_origin o = { ctx->src->name, ctx->src->line, 0 };

	return o;
}

static const struct config_key *config_key_find(enum config_sec sec, const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_N_KEYS; i++)
		if (config_keys[i].sec == sec && strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

static struct config_origin *config_origin_of(struct config_ctx *ctx, int can,
					      const struct config_key *k)
{
	return &ctx->set[k->sec == CONFIG_SEC_CAN ? can : 0][k - config_keys];
}

/* Where sec/name was set (file NULL: not set); for [can] keys, in section can. */
static struct config_origin *config_origin_by_name(struct config_ctx *ctx, int can,
						   enum config_sec sec, const char *name)
{
	return config_origin_of(ctx, can, config_key_find(sec, name));
}

/* Numbers --------------------------------------------------------------- */

static int config_range_error(struct config_ctx *ctx, const struct config_key *k,
			      const char *v, const char *unit)
{
	config_error(ctx, "%s: %s is out of range (%.15g..%.15g%s)", k->name, v, k->min,
		     k->max, unit);
	return -1;
}

static int config_parse_int(struct config_ctx *ctx, const struct config_key *k,
			    const char *v, void *dst)
{
	char *end;
	long n;

	if (*v == '\0') {
		config_error(ctx, "%s: missing value", k->name);
		return -1;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0') {
		config_error(ctx, "%s: \"%s\" is not an integer", k->name, v);
		return -1;
	}
	if (errno == ERANGE || n < k->min || n > k->max)
		return config_range_error(ctx, k, v, "");
	*(int *)dst = (int)n;
	return 0;
}

/* A finite number within [min, max]; unit only shapes the message. */
static int config_number(struct config_ctx *ctx, const struct config_key *k,
			 const char *v, const char *unit, double *out)
{
	char *end;
	double d;

	if (*v == '\0') {
		config_error(ctx, "%s: missing value", k->name);
		return -1;
	}
	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end != '\0' || !isfinite(d)) {
		config_error(ctx, "%s: \"%s\" is not a number", k->name, v);
		return -1;
	}
	if (errno == ERANGE || d < k->min || d > k->max)
		return config_range_error(ctx, k, v, unit);
	*out = d;
	return 0;
}

static int config_parse_double(struct config_ctx *ctx, const struct config_key *k,
			       const char *v, void *dst)
{
	return config_number(ctx, k, v, "", dst);
}

/* Seconds in the file (decimals allowed), milliseconds in struct config. */
static int config_parse_ms(struct config_ctx *ctx, const struct config_key *k,
			   const char *v, void *dst)
{
	double s;

	if (config_number(ctx, k, v, " s", &s) < 0)
		return -1;
	*(int *)dst = (int)lround(s * 1000.0);
	return 0;
}

static int config_parse_bool(struct config_ctx *ctx, const struct config_key *k,
			     const char *v, void *dst)
{
	static const struct {
		const char *word;
		int value;
	} words[] = {
		{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
		{ "on", 1 },  { "off", 0 }, { "1", 1 },    { "0", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(v, words[i].word) == 0) {
			*(int *)dst = words[i].value;
			return 0;
		}
	}
	config_error(ctx, "%s: \"%s\" is not a boolean (yes/no, true/false, on/off, 1/0)",
		     k->name, v);
	return -1;
}

/* Strings --------------------------------------------------------------- */

/* Copies v into dst of k->size bytes, refusing what does not fit. */
static int config_parse_string(struct config_ctx *ctx, const struct config_key *k,
			       const char *v, void *dst)
{
	size_t len = strlen(v);

	if (len < (size_t)k->min) {
		config_error(ctx, "%s: must not be empty", k->name);
		return -1;
	}
	if (len >= k->size) {
		config_error(ctx, "%s: too long (%zu characters, at most %zu)", k->name, len,
			     k->size - 1);
		return -1;
	}
	memcpy(dst, v, len + 1);
	return 0;
}

/* A relative path is taken relative to the directory of the file it is
 * written in (like include), so the meaning of a file does not depend on
 * the directory the daemon was started from. */
static int config_parse_path(struct config_ctx *ctx, const struct config_key *k,
			     const char *v, void *dst)
{
	size_t dirlen = v[0] == '/' || v[0] == '\0' ? 0 : ctx->src->dirlen;
	size_t len = dirlen + strlen(v);

	if (v[0] == '\0')
		return config_parse_string(ctx, k, v, dst);
	if (len >= k->size) {
		config_error(ctx, "%s: path too long (%zu characters, at most %zu)", k->name,
			     len, k->size - 1);
		return -1;
	}
	snprintf(dst, k->size, "%.*s%s", (int)dirlen, ctx->src->name, v);
	return 0;
}

/* Names that go into topics and log lines: [A-Za-z0-9_-]. */
static int config_valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int config_parse_id(struct config_ctx *ctx, const struct config_key *k,
			   const char *v, void *dst)
{
	if (*v != '\0' && !config_valid_name(v)) {
		config_error(ctx, "%s: \"%s\" may contain only A-Z, a-z, 0-9, '_' and '-'",
			     k->name, v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

static int config_parse_vin(struct config_ctx *ctx, const struct config_key *k,
			    const char *v, void *dst)
{
	size_t i, len = strlen(v);

	/* ISO 3779: I, O and Q are never used (they look like 1 and 0). */
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)v[i]) &&
		    !(v[i] >= 'A' && v[i] <= 'Z' && !strchr("IOQ", v[i])))
			break;
	if (len != 0 && (len != 17 || i != len)) {
		config_error(ctx, "%s: \"%s\" is not a VIN (17 characters: 0-9 and A-Z but I, O, Q)",
			     k->name, v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

static int config_parse_topic(struct config_ctx *ctx, const struct config_key *k,
			      const char *v, void *dst)
{
	/* A broker refuses to take a publication on a topic with wildcards. */
	if (strpbrk(v, "+#")) {
		config_error(ctx, "%s: \"%s\" must not contain the MQTT wildcards + and #",
			     k->name, v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

/* Sections -------------------------------------------------------------- */

static void config_can_defaults(struct config_can *can)
{
	memset(can, 0, sizeof(*can));
	can->speed = 1.0;
	can->loop = 0;
}

static void config_can_open(struct config_ctx *ctx, const char *name)
{
	struct config *c = ctx->c;
	int i;

	ctx->sec = CONFIG_SEC_SKIP;
	if (!config_valid_name(name) || strlen(name) >= sizeof(c->can[0].name)) {
		config_error(ctx, "[can \"%s\"]: a name is 1..%zu characters of A-Z, a-z, 0-9, '_' and '-'",
			     name, sizeof(c->can[0].name) - 1);
		return;
	}
	for (i = 0; i < c->n_can; i++) {
		if (strcmp(c->can[i].name, name) == 0) {
			config_error(ctx, "duplicate section [can \"%s\"] (first at %s:%d)", name,
				     ctx->can_hdr[i].file, ctx->can_hdr[i].line);
			return;
		}
	}
	if (c->n_can == CONFIG_MAX_CAN) {
		config_error(ctx, "too many [can] sections (at most %d)", CONFIG_MAX_CAN);
		return;
	}
	ctx->can = c->n_can++;
	config_can_defaults(&c->can[ctx->can]);
	memcpy(c->can[ctx->can].name, name, strlen(name) + 1);
	ctx->can_hdr[ctx->can] = config_here(ctx);
	ctx->sec = CONFIG_SEC_CAN;
}

/* [can "NAME"]: s is what is between the brackets. */
static void config_can_header(struct config_ctx *ctx, char *s)
{
	char *name, *end;

	s += strspn(s + 3, " \t") + 3;
	end = *s == '"' ? strchr(s + 1, '"') : NULL;
	if (!end || end[1] != '\0') {
		ctx->sec = CONFIG_SEC_SKIP;
		config_error(ctx, "malformed section header: expected [can \"NAME\"]");
		return;
	}
	name = s + 1;
	*end = '\0';
	config_can_open(ctx, name);
}

static char *config_trim(char *s)
{
	char *e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* line starts with '['; inih sees it too, but only our reader knows its
 * number and sees sections that hold no key. */
static void config_section(struct config_ctx *ctx, char *line)
{
	char *end = strchr(line, ']');
	char *s, *rest;
	size_t i;

	ctx->sec = CONFIG_SEC_SKIP;
	if (!end) {
		config_error(ctx, "section header without ']'");
		return;
	}
	*end = '\0';
	rest = config_trim(end + 1);
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		config_error(ctx, "unexpected \"%s\" after section header", rest);
		return;
	}
	s = config_trim(line + 1);
	for (i = 0; i < sizeof(config_sec_names) / sizeof(config_sec_names[0]); i++) {
		if (config_sec_names[i] && strcmp(s, config_sec_names[i]) == 0) {
			ctx->sec = i;
			return;
		}
	}
	if (strcmp(s, "can") == 0)
		config_error(ctx, "[can] needs a name, as in [can \"engine\"]");
	else if (strncmp(s, "can", 3) == 0 && (s[3] == '"' || isspace((unsigned char)s[3])))
		config_can_header(ctx, s);
	else
		config_error(ctx, "unknown section [%s]", s);
}

/* Reading --------------------------------------------------------------- */

/* inih passes every line holding '=' or ':' to the handler; a key line that
 * did not get there was refused by inih. */
static void config_check_pending(struct config_ctx *ctx)
{
	if (ctx->src->pending) {
		ctx->src->pending = 0;
		config_error(ctx, "expected \"key = value\"");
	}
}

/* inih's fgets-like reader: hands out one line at a time and counts it. */
static char *config_reader(char *str, int num, void *stream)
{
	struct config_ctx *ctx = stream;
	struct config_src *src = ctx->src;
	const char *out;
	char *p;
	size_t len, text;

	config_check_pending(ctx);
	if (getline(&src->buf, &src->cap, src->fp) < 0)
		return NULL;
	src->line++;
	p = src->buf;
	if (src->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* UTF-8 byte order mark */
	/* inih reads an indented line as the continuation of the key above it;
	 * we allow indenting instead, so the indent never reaches inih. */
	p += strspn(p, " \t");
	out = p;
	len = strlen(p);
	text = len;
	while (text > 0 && (p[text - 1] == '\n' || p[text - 1] == '\r'))
		text--;
	/* inih needs room for '\r', '\n' and '\0', and would cut a longer line
	 * in two */
	if (text + 3 > (size_t)num) {
		config_error(ctx, "line too long (at most %d characters)", num - 3);
		if (*p == '[')
			ctx->sec = CONFIG_SEC_SKIP; /* its keys would land in the last section */
		out = "\n";
		len = 1;
	}
	memcpy(str, out, len + 1);
	if (out != p || *p == '\0' || isspace((unsigned char)*p) || *p == ';' || *p == '#')
		return str;
	if (*p == '[')
		config_section(ctx, p);
	else
		src->pending = 1;
	return str;
}

static int config_handler(void *user, const char *section, const char *name,
			  const char *value);

/* Reads one opened file (closes it); the section state is the caller's. */
static void config_read(struct config_ctx *ctx, FILE *fp, const char *name, int depth)
{
	struct config_src src = { .fp = fp, .name = name, .depth = depth };
	struct config_src *parent = ctx->src;
	const char *slash = strrchr(name, '/');

	src.dirlen = slash ? (size_t)(slash - name) + 1 : 0;
	ctx->src = &src;
	ini_parse_stream(config_reader, ctx, config_handler, ctx);
	config_check_pending(ctx);
	if (ferror(fp))
		config_error_at(ctx, name, 0, "read error: %s", strerror(errno));
	fclose(fp);
	free(src.buf);
	ctx->src = parent;
}

/* include = FILE: read FILE in the current section, then carry on here. */
static void config_include(struct config_ctx *ctx, const char *v)
{
	const struct config_key k = { .name = "include", .size = PATH_MAX, .min = 1 };
	enum config_sec sec = ctx->sec;
	int can = ctx->can;
	char *name;
	FILE *fp;

	if (ctx->src->depth >= CONFIG_MAX_DEPTH) {
		config_error(ctx, "include: nested more than %d deep (does it include itself?)",
			     CONFIG_MAX_DEPTH);
		return;
	}
	if (ctx->n_files == CONFIG_MAX_FILES) {
		config_error(ctx, "include: too many files (at most %d)", CONFIG_MAX_FILES);
		return;
	}
	name = ctx->files[ctx->n_files];
	if (config_parse_path(ctx, &k, v, name) < 0)
		return;
	fp = fopen(name, "r");
	if (!fp) {
		config_error(ctx, "include: cannot open %s: %s", name, strerror(errno));
		return;
	}
	ctx->n_files++;
	config_read(ctx, fp, name, ctx->src->depth + 1);
	ctx->sec = sec;
	ctx->can = can;
}

static const char *config_sec_title(const struct config_ctx *ctx, char *buf, size_t len)
{
	if (ctx->sec == CONFIG_SEC_CAN)
		snprintf(buf, len, "[can \"%s\"]", ctx->c->can[ctx->can].name);
	else
		snprintf(buf, len, "[%s]", config_sec_names[ctx->sec]);
	return buf;
}

static int config_handler(void *user, const char *section, const char *name,
			  const char *value)
{
	struct config_ctx *ctx = user;
	const struct config_key *k;
	struct config_origin *o;
	char title[64];
	char *base;

	(void)section; /* the reader keeps track of sections, with their lines */
	ctx->src->pending = 0;
	if (strcmp(name, "include") == 0) {
		config_include(ctx, value);
		return 1;
	}
	if (ctx->sec == CONFIG_SEC_SKIP)
		return 1;
	if (*name == '\0') {
		config_error(ctx, "missing key name before '='");
		return 1;
	}
	k = config_key_find(ctx->sec, name);
	if (!k && ctx->sec == CONFIG_SEC_TOP) {
		config_error(ctx, "key \"%s\" outside any section", name);
		return 1;
	}
	if (!k) {
		config_error(ctx, "unknown key \"%s\" in %s", name,
			     config_sec_title(ctx, title, sizeof(title)));
		return 1;
	}
	o = config_origin_of(ctx, ctx->can, k);
	if (o->file) {
		config_error(ctx, "%s: already set at %s:%d", name, o->file, o->line);
		return 1;
	}
	*o = config_here(ctx);
	base = k->sec == CONFIG_SEC_CAN ? (char *)&ctx->c->can[ctx->can] : (char *)ctx->c;
	o->bad = k->parse(ctx, k, value, base + k->off) < 0;
	return 1; /* errors are counted by us; inih's count would stop at one */
}

/* Checks across keys ---------------------------------------------------- */

/* A string key counts as given when it holds something, or when it was set
 * to something wrong: that was reported already, and saying it is missing
 * too would only confuse. */
static int config_given(struct config_ctx *ctx, int can, enum config_sec sec, const char *name)
{
	const struct config_key *k = config_key_find(sec, name);
	const char *base = sec == CONFIG_SEC_CAN ? (const char *)&ctx->c->can[can]
						 : (const char *)ctx->c;

	return base[k->off] != '\0' || config_origin_of(ctx, can, k)->bad;
}

static void config_check_can(struct config_ctx *ctx)
{
	int i;

	for (i = 0; i < ctx->c->n_can; i++) {
		if (config_given(ctx, i, CONFIG_SEC_CAN, "interface") ==
		    config_given(ctx, i, CONFIG_SEC_CAN, "log"))
			config_error_at(ctx, ctx->can_hdr[i].file, ctx->can_hdr[i].line,
					"[can \"%s\"] needs exactly one of interface and log",
					ctx->c->can[i].name);
	}
}

static void config_check_smoke(struct config_ctx *ctx)
{
	const struct config_smoke *s = &ctx->c->smoke;
	struct config_origin *o;

	if (s->lambda_exit >= s->lambda_max ||
	    config_origin_by_name(ctx, 0, CONFIG_SEC_SMOKE, "lambda_max")->bad ||
	    config_origin_by_name(ctx, 0, CONFIG_SEC_SMOKE, "lambda_exit")->bad)
		return;
	o = config_origin_by_name(ctx, 0, CONFIG_SEC_SMOKE, "lambda_exit");
	if (!o->file)
		o = config_origin_by_name(ctx, 0, CONFIG_SEC_SMOKE, "lambda_max");
	config_error_at(ctx, o->file, o->line,
			"lambda_exit (%.15g) must not be below lambda_max (%.15g)",
			s->lambda_exit, s->lambda_max);
}

/* Reports [mqtt] key a set while b, which it needs, is empty. */
static void config_needs(struct config_ctx *ctx, const char *a, const char *b)
{
	const struct config_key *ka = config_key_find(CONFIG_SEC_MQTT, a);
	const struct config_origin *o = config_origin_of(ctx, 0, ka);

	if (((const char *)ctx->c)[ka->off] != '\0' && !config_given(ctx, 0, CONFIG_SEC_MQTT, b))
		config_error_at(ctx, o->file, o->line, "%s is set but %s is not", a, b);
}

static void config_check_mqtt(struct config_ctx *ctx)
{
	config_needs(ctx, "cert_file", "key_file");
	config_needs(ctx, "key_file", "cert_file");
	config_needs(ctx, "cert_file", "ca_file");
	config_needs(ctx, "password_file", "username");
}

/* Defaults that depend on other keys. */
static void config_fill(struct config_ctx *ctx)
{
	struct config *c = ctx->c;
	struct config_origin *o;
	int n;

	if (c->mqtt.ca_file[0] && !config_origin_by_name(ctx, 0, CONFIG_SEC_MQTT, "port")->file)
		c->mqtt.port = 8883;
	if (c->mqtt.client_id[0] == '\0')
		snprintf(c->mqtt.client_id, sizeof(c->mqtt.client_id), "emgw-%s", c->id);
	if (c->store.path[0] == '\0') {
		n = snprintf(c->store.path, sizeof(c->store.path), "%s/emgw.db", c->state_dir);
		if (n < 0 || (size_t)n >= sizeof(c->store.path)) {
			o = config_origin_by_name(ctx, 0, CONFIG_SEC_DEVICE, "state_dir");
			config_error_at(ctx, o->file ? o->file : c->file, o->line,
					"state_dir: too long to hold emgw.db");
		}
	}
}

/* Entry points ---------------------------------------------------------- */

void config_defaults(struct config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "emgw");
	c->stage = 4;
	c->rated_power_kw = 75;
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/emgw");
	for (i = 0; i < CONFIG_MAX_CAN; i++)
		config_can_defaults(&c->can[i]);
	c->mqtt.enabled = 1;
	snprintf(c->mqtt.host, sizeof(c->mqtt.host), "localhost");
	c->mqtt.port = 1883;
	snprintf(c->mqtt.prefix, sizeof(c->mqtt.prefix), "emgw");
	c->mqtt.keepalive_s = 30;
	c->mqtt.qos = 1;
	c->mqtt.tls_verify = 1;
	c->mqtt.inflight = 32;
	c->mqtt.reconnect_max_s = 60;
	c->store.retention_days = 7;
	c->store.max_size_mb = 256;
	c->sample.period_ms = 1000;
	c->sample.stale_ms = 5000;
	c->smoke.enabled = 1;
	c->smoke.lambda_max = 1.20;
	c->smoke.lambda_exit = 1.30;
	c->smoke.min_load_pct = 40;
	c->smoke.min_duration_ms = 3000;
	c->smoke.fuel_density = 0.835;
	c->smoke.afr_stoich = 14.5;
	c->smoke.min_fuel_lph = 2.0;
}

int config_load(const char *path, struct config *c)
{
	struct config_ctx *ctx;
	FILE *fp;
	int errors;

	config_defaults(c);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		log_warnx("%s: out of memory", path);
		return 1;
	}
	ctx->c = c;
	if ((size_t)snprintf(c->file, sizeof(c->file), "%s", path) >= sizeof(c->file)) {
		config_error_at(ctx, path, 0, "cannot open: file name too long");
		goto out_free_ctx;
	}
	fp = fopen(path, "r");
	if (!fp) {
		config_error_at(ctx, path, 0, "cannot open: %s", strerror(errno));
		goto out_free_ctx;
	}
	memcpy(ctx->files[0], c->file, sizeof(c->file));
	ctx->n_files = 1;
	config_read(ctx, fp, ctx->files[0], 0);
	config_check_can(ctx);
	config_check_smoke(ctx);
	config_check_mqtt(ctx);
	config_fill(ctx);
out_free_ctx:
	errors = ctx->errors;
	free(ctx);
	return errors;
}
