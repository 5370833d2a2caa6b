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
#include <time.h>

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/log.h"
#include "protocols/signals.h"
#include "protocols/mbplan.h"

#define CONFIG_MAX_DEPTH 8  /* include nesting below the main file */
#define CONFIG_MAX_FILES 32 /* files read by one config_load, main one included */
/* A configuration file is small: a bigger one (include = /dev/zero, a log
 * named by mistake) is refused before it eats the memory. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)

enum config_sec {
	CONFIG_SEC_TOP, /* before the first section header */
	CONFIG_SEC_DEVICE,
	CONFIG_SEC_CAN,
	CONFIG_SEC_MQTT,
	CONFIG_SEC_STORE,
	CONFIG_SEC_SAMPLE,
	CONFIG_SEC_SMOKE,
	CONFIG_SEC_GNSS,
	CONFIG_SEC_ZONES,    /* [zones]: prohibited zones (issue 8) */
	CONFIG_SEC_WATCH,    /* [watch]: engine state, tamper and health events */
	CONFIG_SEC_PLATFORM, /* [platform]: the HJ 1239 / HJ 1322 link */
	CONFIG_SEC_FILE,     /* [file]: the file uplink */
	CONFIG_SEC_SEAL,     /* [seal]: the seal chain (issue 16) */
	CONFIG_SEC_BUS,	     /* [bus "name"]: a Modbus line or TCP endpoint */
	CONFIG_SEC_MBDEV,    /* [device "name"]: a Modbus device */
	CONFIG_SEC_POINT,    /* [point "name"], in a profile file */
	CONFIG_SEC_SKIP,     /* a bad header, already reported: ignore its keys */
};

static const char *const config_sec_names[] = {
    [CONFIG_SEC_DEVICE] = "device",	[CONFIG_SEC_MQTT] = "mqtt",
    [CONFIG_SEC_STORE] = "store",	[CONFIG_SEC_SAMPLE] = "sample",
    [CONFIG_SEC_SMOKE] = "smoke",	[CONFIG_SEC_GNSS] = "gnss",
    [CONFIG_SEC_ZONES] = "zones",	[CONFIG_SEC_WATCH] = "watch",
    [CONFIG_SEC_PLATFORM] = "platform", [CONFIG_SEC_FILE] = "file",
    [CONFIG_SEC_SEAL] = "seal",
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
	size_t bytes; /* read so far */
};

struct config_ctx;
struct config_key;

/* Parses value into dst (a field of struct config or struct config_can);
 * reports its own errors and returns -1 on one. */
typedef int (*config_parser)(struct config_ctx *ctx, const struct config_key *k, const char *v,
			     void *dst);

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
static int config_parse_double(struct config_ctx *, const struct config_key *, const char *,
			       void *);
static int config_parse_ms(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_bool(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_string(struct config_ctx *, const struct config_key *, const char *,
			       void *);
static int config_parse_path(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_id(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_vin(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_topic(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_date(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_zones_file(struct config_ctx *, const struct config_key *, const char *,
				   void *);
/* [can]: source addresses and PGN lists (defined with their checks below). */
static int config_parse_sa(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_pgn_sa(struct config_ctx *, const struct config_key *, const char *,
			       void *);
static int config_parse_pgn_list(struct config_ctx *, const struct config_key *, const char *,
				 void *);
static int config_parse_overrides(struct config_ctx *, const struct config_key *, const char *,
				  void *);
static int config_parse_name(struct config_ctx *, const struct config_key *, const char *, void *);
/* [platform] (defined with their checks below). */
static int config_parse_variant(struct config_ctx *, const struct config_key *, const char *,
				void *);
static int config_parse_iccid(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_chip_id(struct config_ctx *, const struct config_key *, const char *,
				void *);
static int config_parse_signal(struct config_ctx *, const struct config_key *, const char *,
			       void *);
/* [smoke]: a GB 36886 row, three limits (defined with its check below). */
static int config_parse_klist(struct config_ctx *, const struct config_key *, const char *, void *);

/* Modbus sections (defined with their parsers below). */
static int config_parse_bus_type(struct config_ctx *, const struct config_key *, const char *,
				 void *);
static int config_parse_parity(struct config_ctx *, const struct config_key *, const char *,
			       void *);
static int config_parse_profile(struct config_ctx *, const struct config_key *, const char *,
				void *);
static int config_parse_table(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_ptype(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_order(struct config_ctx *, const struct config_key *, const char *, void *);
static int config_parse_choice(struct config_ctx *, const struct config_key *, const char *,
			       void *);
static int config_mb_section(struct config_ctx *ctx, char *s);
static int config_mb_title(const struct config_ctx *ctx, char *buf, size_t len);
static struct config_origin *config_mb_origin(struct config_ctx *ctx, const struct config_key *k);
static void config_defaults_zeroed(struct config *c);
static char *config_mb_base(struct config_ctx *ctx, enum config_sec sec);
static void config_check_modbus(struct config_ctx *ctx);

#define CONFIG_BUS_FIELD(f) offsetof(struct config_bus, f), sizeof(((struct config_bus *)0)->f)
#define CONFIG_MBDEV_FIELD(f)                                                                      \
	offsetof(struct config_mbdev, f), sizeof(((struct config_mbdev *)0)->f)
#define CONFIG_POINT_FIELD(f) offsetof(struct mbpoint, f), sizeof(((struct mbpoint *)0)->f)

#define CONFIG_FIELD(f)	    offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define CONFIG_CAN_FIELD(f) offsetof(struct config_can, f), sizeof(((struct config_can *)0)->f)

#define DEV    CONFIG_SEC_DEVICE
#define CAN    CONFIG_SEC_CAN
#define MQTT   CONFIG_SEC_MQTT
#define STORE  CONFIG_SEC_STORE
#define SAMPLE CONFIG_SEC_SAMPLE
#define SMOKE  CONFIG_SEC_SMOKE
#define BUS    CONFIG_SEC_BUS
#define MBDEV  CONFIG_SEC_MBDEV
#define POINT  CONFIG_SEC_POINT
#define GNSS   CONFIG_SEC_GNSS

/* Every key the file may hold; the ranges here are the documented ones
 * (config/emgw.conf says the same). */
static const struct config_key config_keys[] = {
    {DEV, "id", config_parse_id, CONFIG_FIELD(id), 1, 0},
    {DEV, "vin", config_parse_vin, CONFIG_FIELD(vin), 0, 0},
    {DEV, "stage", config_parse_int, CONFIG_FIELD(stage), 1, 6},
    {DEV, "rated_power_kw", config_parse_double, CONFIG_FIELD(rated_power_kw), 1, 10000},
    {DEV, "state_dir", config_parse_path, CONFIG_FIELD(state_dir), 1, 0},
    {DEV, "run_dir", config_parse_path, CONFIG_FIELD(run_dir), 0, 0},

    {CAN, "interface", config_parse_string, CONFIG_CAN_FIELD(interface), 1, 0},
    {CAN, "log", config_parse_path, CONFIG_CAN_FIELD(log), 1, 0},
    {CAN, "speed", config_parse_double, CONFIG_CAN_FIELD(speed), 0, 1000},
    {CAN, "loop", config_parse_bool, CONFIG_CAN_FIELD(loop), 0, 0},
    {CAN, "sa", config_parse_sa, CONFIG_CAN_FIELD(sa), 0, 253},
    {CAN, "pgn_sa", config_parse_pgn_sa, CONFIG_CAN_FIELD(n_pgn_sa), 0, 253},
    {CAN, "ignore_pgn", config_parse_pgn_list, CONFIG_CAN_FIELD(n_ignore), 0, 0},
    {CAN, "spn_override", config_parse_overrides, CONFIG_CAN_FIELD(n_override), 0, 0},
    {CAN, "request", config_parse_bool, CONFIG_CAN_FIELD(request), 0, 0},
    {CAN, "request_period", config_parse_ms, CONFIG_CAN_FIELD(request_period_ms), 1, 86400},
    {CAN, "address", config_parse_int, CONFIG_CAN_FIELD(address), 0, 253},
    {CAN, "claim_name", config_parse_name, CONFIG_CAN_FIELD(claim_name), 0, 0},

    {MQTT, "enabled", config_parse_bool, CONFIG_FIELD(mqtt.enabled), 0, 0},
    {MQTT, "host", config_parse_string, CONFIG_FIELD(mqtt.host), 1, 0},
    {MQTT, "port", config_parse_int, CONFIG_FIELD(mqtt.port), 1, 65535},
    {MQTT, "client_id", config_parse_string, CONFIG_FIELD(mqtt.client_id), 0, 0},
    {MQTT, "prefix", config_parse_topic, CONFIG_FIELD(mqtt.prefix), 1, 0},
    {MQTT, "keepalive", config_parse_int, CONFIG_FIELD(mqtt.keepalive_s), 5, 3600},
    {MQTT, "qos", config_parse_int, CONFIG_FIELD(mqtt.qos), 0, 1},
    {MQTT, "ca_file", config_parse_path, CONFIG_FIELD(mqtt.ca_file), 0, 0},
    {MQTT, "cert_file", config_parse_path, CONFIG_FIELD(mqtt.cert_file), 0, 0},
    {MQTT, "key_file", config_parse_path, CONFIG_FIELD(mqtt.key_file), 0, 0},
    {MQTT, "tls_verify", config_parse_bool, CONFIG_FIELD(mqtt.tls_verify), 0, 0},
    {MQTT, "username", config_parse_string, CONFIG_FIELD(mqtt.username), 0, 0},
    {MQTT, "password_file", config_parse_path, CONFIG_FIELD(mqtt.password_file), 0, 0},
    {MQTT, "inflight", config_parse_int, CONFIG_FIELD(mqtt.inflight), 1, 1000},
    {MQTT, "reconnect_max", config_parse_int, CONFIG_FIELD(mqtt.reconnect_max_s), 1, 3600},
    {MQTT, "version", config_parse_choice, CONFIG_FIELD(mqtt.version), 0, 0},
    {MQTT, "backlog_rate", config_parse_int, CONFIG_FIELD(mqtt.backlog_rate), 0, 100000},
    {MQTT, "backlog_order", config_parse_choice, CONFIG_FIELD(mqtt.backlog_newest), 0, 0},
    {MQTT, "batch_max", config_parse_int, CONFIG_FIELD(mqtt.batch_max), 1, 100},
    {MQTT, "batch_age", config_parse_ms, CONFIG_FIELD(mqtt.batch_age_ms), 0, 600},
    {MQTT, "compress", config_parse_bool, CONFIG_FIELD(mqtt.compress), 0, 0},
    {MQTT, "cert_warn_days", config_parse_int, CONFIG_FIELD(mqtt.cert_warn_days), 0, 3650},
    {MQTT, "max_packet", config_parse_int, CONFIG_FIELD(mqtt.max_packet), 0, 268435455},
    {MQTT, "command_rate", config_parse_int, CONFIG_FIELD(mqtt.command_rate), 1, 100000},
    {MQTT, "operator_key", config_parse_path, CONFIG_FIELD(mqtt.operator_key), 0, 0},
    {MQTT, "confirm_window", config_parse_ms, CONFIG_FIELD(mqtt.confirm_window_ms), 5, 3600},

    {STORE, "path", config_parse_path, CONFIG_FIELD(store.path), 0, 0},
    {STORE, "retention_days", config_parse_int, CONFIG_FIELD(store.retention_days), 1, 3650},
    {STORE, "keep_sent", config_parse_int, CONFIG_FIELD(store.keep_sent_days), 0, 3650},
    {STORE, "max_size_mb", config_parse_int, CONFIG_FIELD(store.max_size_mb), 1, 1048576},
    {STORE, "durability", config_parse_choice, CONFIG_FIELD(store.durability_full), 0, 0},
    {STORE, "commit_interval", config_parse_ms, CONFIG_FIELD(store.commit_interval_ms), 0, 60},

    {CONFIG_SEC_SEAL, "rows", config_parse_int, CONFIG_FIELD(seal.rows), 1, 100000},
    {CONFIG_SEC_SEAL, "interval", config_parse_ms, CONFIG_FIELD(seal.interval_ms), 1, 86400},
    {CONFIG_SEC_SEAL, "algorithm", config_parse_choice, CONFIG_FIELD(seal.ed25519), 0, 0},
    {CONFIG_SEC_SEAL, "drain", config_parse_ms, CONFIG_FIELD(seal.drain_ms), 0, 600},

    {SAMPLE, "period", config_parse_ms, CONFIG_FIELD(sample.period_ms), 0.1, 60},
    {SAMPLE, "stale", config_parse_ms, CONFIG_FIELD(sample.stale_ms), 0.1, 3600},

    {SMOKE, "enabled", config_parse_bool, CONFIG_FIELD(smoke.enabled), 0, 0},
    {SMOKE, "lambda_max", config_parse_double, CONFIG_FIELD(smoke.lambda_max), 0.5, 3},
    {SMOKE, "lambda_exit", config_parse_double, CONFIG_FIELD(smoke.lambda_exit), 0.5, 3},
    {SMOKE, "min_load_pct", config_parse_double, CONFIG_FIELD(smoke.min_load_pct), 0, 100},
    {SMOKE, "min_duration", config_parse_ms, CONFIG_FIELD(smoke.min_duration_ms), 0, 3600},
    {SMOKE, "fuel_density", config_parse_double, CONFIG_FIELD(smoke.fuel_density), 0.3, 1.5},
    {SMOKE, "afr_stoich", config_parse_double, CONFIG_FIELD(smoke.afr_stoich), 1, 30},
    {SMOKE, "min_fuel_lph", config_parse_double, CONFIG_FIELD(smoke.min_fuel_lph), 0, 1000},
    {SMOKE, "lambda", config_parse_bool, CONFIG_FIELD(smoke.lambda_enabled), 0, 0},
    {SMOKE, "load_hysteresis_pct", config_parse_double, CONFIG_FIELD(smoke.load_hyst_pct), 0, 100},
    {SMOKE, "update", config_parse_ms, CONFIG_FIELD(smoke.update_ms), 1, 3600},
    {SMOKE, "evidence", config_parse_int, CONFIG_FIELD(smoke.evidence_s), 0, 120},
    {SMOKE, "warmup_c", config_parse_double, CONFIG_FIELD(smoke.warmup_c), -40, 120},
    {SMOKE, "crank_rpm", config_parse_double, CONFIG_FIELD(smoke.crank_rpm), 0, 3000},
    {SMOKE, "cold_load_pct", config_parse_double, CONFIG_FIELD(smoke.cold_load_pct), 0, 100},
    {SMOKE, "start_exempt", config_parse_ms, CONFIG_FIELD(smoke.start_exempt_ms), 0, 600},
    {SMOKE, "fuel_cut_exempt", config_parse_bool, CONFIG_FIELD(smoke.fuel_cut_exempt), 0, 0},
    {SMOKE, "regen_exempt", config_parse_bool, CONFIG_FIELD(smoke.regen_exempt), 0, 0},
    {SMOKE, "opacity", config_parse_bool, CONFIG_FIELD(smoke.opacity_enabled), 0, 0},
    {SMOKE, "opacity_path_m", config_parse_double, CONFIG_FIELD(smoke.opacity_path_m), 0.01, 10},
    {SMOKE, "opacity_limit_k", config_parse_double, CONFIG_FIELD(smoke.opacity_limit_k), 0, 20},
    {SMOKE, "opacity_exit_ratio", config_parse_double, CONFIG_FIELD(smoke.opacity_exit_ratio), 0.1,
     1},
    {SMOKE, "opacity_min_load_pct", config_parse_double, CONFIG_FIELD(smoke.opacity_min_load_pct),
     0, 100},
    {SMOKE, "opacity_min_duration", config_parse_ms, CONFIG_FIELD(smoke.opacity_min_duration_ms), 0,
     3600},
    {SMOKE, "gb36886_class1", config_parse_klist, CONFIG_FIELD(smoke.gb36886[0]), 0, 20},
    {SMOKE, "gb36886_class2", config_parse_klist, CONFIG_FIELD(smoke.gb36886[1]), 0, 20},
    {SMOKE, "gb36886_class3", config_parse_klist, CONFIG_FIELD(smoke.gb36886[2]), 0, 20},
    {SMOKE, "transient", config_parse_bool, CONFIG_FIELD(smoke.transient_enabled), 0, 0},
    {SMOKE, "transient_min_load_pct", config_parse_double,
     CONFIG_FIELD(smoke.transient_min_load_pct), 0, 100},
    {SMOKE, "transient_min_duration", config_parse_ms,
     CONFIG_FIELD(smoke.transient_min_duration_ms), 0, 3600},
    {SMOKE, "transient_boost_full_kpa", config_parse_double,
     CONFIG_FIELD(smoke.transient_boost_full_kpa), 10, 1000},
    {SMOKE, "transient_boost_frac", config_parse_double, CONFIG_FIELD(smoke.transient_boost_frac),
     0.05, 1},
    {SMOKE, "transient_min_rpm", config_parse_double, CONFIG_FIELD(smoke.transient_min_rpm), 0,
     5000},
    {SMOKE, "transient_lag", config_parse_ms, CONFIG_FIELD(smoke.transient_lag_ms), 0.1, 60},
    {SMOKE, "transient_repeat", config_parse_int, CONFIG_FIELD(smoke.transient_repeat), 1, 100},
    {SMOKE, "transient_window", config_parse_ms, CONFIG_FIELD(smoke.transient_window_ms), 1, 3600},
    {SMOKE, "transient_exit", config_parse_ms, CONFIG_FIELD(smoke.transient_exit_ms), 0, 3600},

#define ZONES CONFIG_SEC_ZONES
    {ZONES, "file", config_parse_zones_file, CONFIG_FIELD(zones.file), 0, 0},
    {ZONES, "debounce", config_parse_ms, CONFIG_FIELD(zones.debounce_ms), 0, 3600},
    {ZONES, "violation_after", config_parse_ms, CONFIG_FIELD(zones.violation_ms), 0, 3600},
#undef ZONES
#define WATCH CONFIG_SEC_WATCH
    {WATCH, "engine_rpm", config_parse_double, CONFIG_FIELD(watch.engine_rpm), 1, 3000},
    {WATCH, "engine_debounce", config_parse_ms, CONFIG_FIELD(watch.engine_debounce_ms), 0, 600},
    {WATCH, "ecu_silent", config_parse_ms, CONFIG_FIELD(watch.ecu_silent_ms), 1, 3600},
    {WATCH, "has_dpf", config_parse_bool, CONFIG_FIELD(watch.has_dpf), 0, 0},
    {WATCH, "dpf_min_kpa", config_parse_double, CONFIG_FIELD(watch.dpf_min_kpa), 0, 100},
    {WATCH, "dpf_min_load_pct", config_parse_double, CONFIG_FIELD(watch.dpf_min_load_pct), 0, 100},
    {WATCH, "dpf_duration", config_parse_ms, CONFIG_FIELD(watch.dpf_ms), 1, 86400},
    {WATCH, "nox_frozen", config_parse_ms, CONFIG_FIELD(watch.nox_frozen_ms), 1, 86400},
    {WATCH, "gps_lost", config_parse_ms, CONFIG_FIELD(watch.gps_lost_ms), 1, 86400},
#undef WATCH

    {GNSS, "enabled", config_parse_bool, CONFIG_FIELD(gnss.enabled), 0, 0},
    {GNSS, "host", config_parse_string, CONFIG_FIELD(gnss.host), 1, 0},
    {GNSS, "port", config_parse_int, CONFIG_FIELD(gnss.port), 1, 65535},
    {GNSS, "max_age", config_parse_ms, CONFIG_FIELD(gnss.max_age_ms), 0.1, 3600},
    {GNSS, "period_moving", config_parse_ms, CONFIG_FIELD(gnss.period_moving_ms), 0.1, 86400},
    {GNSS, "period_stopped", config_parse_ms, CONFIG_FIELD(gnss.period_stopped_ms), 0.1, 86400},
    {GNSS, "distance_m", config_parse_double, CONFIG_FIELD(gnss.distance_m), 0, 100000},
    {GNSS, "heading_deg", config_parse_double, CONFIG_FIELD(gnss.heading_deg), 0, 180},
    {GNSS, "stopped_kmh", config_parse_double, CONFIG_FIELD(gnss.stopped_kmh), 0, 50},
    {GNSS, "time_floor", config_parse_date, CONFIG_FIELD(gnss.time_floor_s), 0, 0},
    {GNSS, "time_ceiling", config_parse_date, CONFIG_FIELD(gnss.time_ceiling_s), 0, 0},
    {GNSS, "reconnect_max", config_parse_int, CONFIG_FIELD(gnss.reconnect_max_s), 1, 3600},

#define PF CONFIG_SEC_PLATFORM
    {PF, "enabled", config_parse_bool, CONFIG_FIELD(platform.enabled), 0, 0},
    {PF, "host", config_parse_string, CONFIG_FIELD(platform.host), 1, 0},
    {PF, "port", config_parse_int, CONFIG_FIELD(platform.port), 1, 65535},
    {PF, "variant", config_parse_variant, CONFIG_FIELD(platform.variant), 0, 0},
    {PF, "period", config_parse_ms, CONFIG_FIELD(platform.period_ms), 1, 3600},
    {PF, "diag_period", config_parse_ms, CONFIG_FIELD(platform.diag_period_ms), 1, 86400},
    {PF, "samples_per_frame", config_parse_int, CONFIG_FIELD(platform.samples_per_frame), 1, 15},
    {PF, "sign", config_parse_bool, CONFIG_FIELD(platform.sign), 0, 0},
    {PF, "key_file", config_parse_path, CONFIG_FIELD(platform.key_file), 1, 0},
    {PF, "chip_id", config_parse_chip_id, CONFIG_FIELD(platform.chip_id), 0, 0},
    {PF, "user_id", config_parse_string, CONFIG_FIELD(platform.user_id), 1, 0},
    {PF, "iccid", config_parse_iccid, CONFIG_FIELD(platform.iccid), 0, 0},
    {PF, "time_offset_h", config_parse_int, CONFIG_FIELD(platform.time_offset_h), -12, 14},
    {PF, "egr_cmd_signal", config_parse_signal, CONFIG_FIELD(platform.egr_cmd_signal), 0, 0},
    {PF, "reconnect_max", config_parse_int, CONFIG_FIELD(platform.reconnect_max_s), 1, 3600},
    {PF, "resend_rate", config_parse_int, CONFIG_FIELD(platform.resend_rate), 1, 1000},
    {PF, "sw_version", config_parse_int, CONFIG_FIELD(platform.sw_version), 0, 255},
    {PF, "activate", config_parse_bool, CONFIG_FIELD(platform.activate), 0, 0},
    {PF, "tls", config_parse_bool, CONFIG_FIELD(platform.tls), 0, 0},
    {PF, "tls_verify", config_parse_bool, CONFIG_FIELD(platform.tls_verify), 0, 0},
    {PF, "ca_file", config_parse_path, CONFIG_FIELD(platform.ca_file), 1, 0},
    {PF, "cert_file", config_parse_path, CONFIG_FIELD(platform.cert_file), 1, 0},
    {PF, "cert_key_file", config_parse_path, CONFIG_FIELD(platform.cert_key_file), 1, 0},
#undef PF

#define FILEOUT CONFIG_SEC_FILE
    {FILEOUT, "enabled", config_parse_bool, CONFIG_FIELD(fileout.enabled), 0, 0},
    {FILEOUT, "path", config_parse_path, CONFIG_FIELD(fileout.path), 1, 0},
    {FILEOUT, "fsync", config_parse_bool, CONFIG_FIELD(fileout.fsync), 0, 0},
#undef FILEOUT

    /* Modbus: buses and devices in the main file, points in profiles. */
    {BUS, "type", config_parse_bus_type, CONFIG_BUS_FIELD(type), 0, 0},
    {BUS, "device", config_parse_string, CONFIG_BUS_FIELD(device), 1, 0},
    {BUS, "baud", config_parse_int, CONFIG_BUS_FIELD(baud), 300, 4000000},
    {BUS, "parity", config_parse_parity, CONFIG_BUS_FIELD(parity), 0, 0},
    {BUS, "data_bits", config_parse_int, CONFIG_BUS_FIELD(data_bits), 5, 8},
    {BUS, "stop_bits", config_parse_int, CONFIG_BUS_FIELD(stop_bits), 1, 2},
    {BUS, "rs485", config_parse_bool, CONFIG_BUS_FIELD(rs485), 0, 0},
    {BUS, "frame_delay", config_parse_ms, CONFIG_BUS_FIELD(frame_delay_ms), 0, 1},
    {BUS, "host", config_parse_string, CONFIG_BUS_FIELD(host), 1, 0},
    {BUS, "port", config_parse_int, CONFIG_BUS_FIELD(port), 1, 65535},
    {BUS, "response_timeout", config_parse_ms, CONFIG_BUS_FIELD(response_timeout_ms), 0.01, 10},
    {BUS, "byte_timeout", config_parse_ms, CONFIG_BUS_FIELD(byte_timeout_ms), 0, 10},
    {BUS, "max_gap", config_parse_int, CONFIG_BUS_FIELD(max_gap), 0, MBPLAN_MAX_GAP},
    {BUS, "backoff_max", config_parse_ms, CONFIG_BUS_FIELD(backoff_max_ms), 1, 3600},
    {BUS, "refused_retry", config_parse_ms, CONFIG_BUS_FIELD(refused_retry_ms), 1, 86400},
    {BUS, "refused_retry_max", config_parse_ms, CONFIG_BUS_FIELD(refused_retry_max_ms), 1, 86400},

    {MBDEV, "bus", config_parse_string, CONFIG_MBDEV_FIELD(bus_name), 1, 0},
    {MBDEV, "unit", config_parse_int, CONFIG_MBDEV_FIELD(unit), 0, 255},
    {MBDEV, "profile", config_parse_profile, CONFIG_MBDEV_FIELD(profile), 0, 0},
    {MBDEV, "interval", config_parse_ms, CONFIG_MBDEV_FIELD(interval_ms), 0.05, 3600},
    {MBDEV, "instance", config_parse_int, CONFIG_MBDEV_FIELD(instance), 0, 3},

    {POINT, "table", config_parse_table, CONFIG_POINT_FIELD(table), 0, 0},
    {POINT, "address", config_parse_int, CONFIG_POINT_FIELD(address), 0, 65535},
    {POINT, "type", config_parse_ptype, CONFIG_POINT_FIELD(type), 0, 0},
    {POINT, "count", config_parse_int, CONFIG_POINT_FIELD(count), 1, MBPOINT_MAX_STRING},
    {POINT, "bit", config_parse_int, CONFIG_POINT_FIELD(bit), 0, 15},
    {POINT, "order", config_parse_order, 0, sizeof(struct mbpoint), 0, 0},
    {POINT, "word_swap", config_parse_bool, CONFIG_POINT_FIELD(word_swap), 0, 0},
    {POINT, "byte_swap", config_parse_bool, CONFIG_POINT_FIELD(byte_swap), 0, 0},
    {POINT, "scale", config_parse_double, CONFIG_POINT_FIELD(scale), -1e9, 1e9},
    {POINT, "offset", config_parse_double, CONFIG_POINT_FIELD(offset), -1e9, 1e9},
    {POINT, "unit", config_parse_string, CONFIG_POINT_FIELD(unit), 0, 0},
    {POINT, "min", config_parse_double, CONFIG_POINT_FIELD(min), -1e15, 1e15},
    {POINT, "max", config_parse_double, CONFIG_POINT_FIELD(max), -1e15, 1e15},
};

#undef DEV
#undef CAN
#undef MQTT
#undef STORE
#undef SAMPLE
#undef SMOKE
#undef BUS
#undef MBDEV
#undef POINT
#undef GNSS

#define CONFIG_N_KEYS  (sizeof(config_keys) / sizeof(config_keys[0]))
#define CONFIG_MB_KEYS 16 /* keys of one Modbus section, at most */

/* The parse state, reached through inih's user pointer (and the reader's). */
struct config_ctx {
	struct config *c;
	struct config_src *src;
	enum config_sec sec;
	int can; /* index of the open [can] section */
	int errors;
	int quiet;		  /* count errors without printing them (a first reading) */
	config_report_fn *report; /* errors go here instead of the log, or NULL */
	void *report_arg;
	int n_files;
	char files[CONFIG_MAX_FILES][PATH_MAX]; /* names the origins point to */
	struct stat stamp[CONFIG_MAX_FILES];	/* each file as it was opened */
	struct config_origin can_hdr[CONFIG_MAX_CAN];
	/* where each key was set: row 0 for keys outside [can] */
	struct config_origin set[CONFIG_MAX_CAN][CONFIG_N_KEYS];
	/* Modbus: the open [bus], [device "x"] and [point], the profile being
	 * read (in_profile), where each section began and each key was set */
	int bus, mbdev, point, profile, in_profile;
	struct config_origin bus_hdr[CONFIG_MAX_BUS];
	struct config_origin mbdev_hdr[CONFIG_MAX_MBDEV];
	struct config_origin point_hdr[CONFIG_MAX_POINTS];
	struct config_origin mb_set[CONFIG_MAX_BUS + CONFIG_MAX_MBDEV + CONFIG_MAX_POINTS]
				   [CONFIG_MB_KEYS];
};

__attribute__((format(printf, 4, 5))) static void
config_error_at(struct config_ctx *ctx, const char *file, int line, const char *fmt, ...)
{
	char msg[1024]; /* as long as log.c takes */
	va_list ap;

	ctx->errors++;
	if (ctx->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->report) {
		ctx->report(ctx->report_arg, file, line, msg);
		return;
	}
	if (line > 0)
		log_warnx("%s:%d: %s", file, line, msg);
	else
		log_warnx("%s: %s", file, msg);
}

/* An error on the line being read. */
#define config_error(ctx, ...)                                                                     \
	config_error_at((ctx), (ctx)->src->name, (ctx)->src->line, __VA_ARGS__)

static struct config_origin config_here(const struct config_ctx *ctx)
{
	struct config_origin o = {ctx->src->name, ctx->src->line, 0};

	return o;
}

/* Where the value of key k ends: at the next key's field of its section
 * (a list key's count is followed by its array), or at end, where the
 * section's fields end. */
static size_t config_key_end(const struct config_key *k, size_t end)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++)
		if (config_keys[i].sec == k->sec && config_keys[i].off > k->off &&
		    config_keys[i].off < end)
			end = config_keys[i].off;
	return end;
}

/* The first key of section sec whose value differs between a and b (what
 * its offsets count from: struct config_can for [can], ...), or NULL; end:
 * where the section's fields end. */
static const char *config_key_changed(enum config_sec sec, const void *a, const void *b, size_t end)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (k->sec == sec && memcmp((const char *)a + k->off, (const char *)b + k->off,
					    config_key_end(k, end) - k->off) != 0)
			return k->name;
	}
	return NULL;
}

const char *config_can_changed(const struct config_can *a, const struct config_can *b)
{
	return config_key_changed(CONFIG_SEC_CAN, a, b, sizeof(*a));
}

const char *config_gnss_changed(const struct config *a, const struct config *b)
{
	return config_key_changed(CONFIG_SEC_GNSS, a, b,
				  offsetof(struct config, gnss) + sizeof(a->gnss));
}

int config_bus_next_dev(const struct config *c, int bus, int i)
{
	while (++i < c->n_mbdev)
		if (c->mbdev[i].bus == bus)
			return i;
	return -1;
}

/* Has device j of b changed from device i of a (same name)?  Its keys but
 * `bus` (the bus is compared whole), and its profile's points, not where
 * they are in the file. */
static const char *config_mbdev_changed(const struct config *a, int i, const struct config *b,
					int j)
{
	const struct config_mbdev *da = &a->mbdev[i], *db = &b->mbdev[j];
	const struct config_profile *pa = &a->profile[da->profile], *pb = &b->profile[db->profile];

	if (da->unit != db->unit)
		return "unit";
	if (da->interval_ms != db->interval_ms)
		return "interval";
	if (da->instance != db->instance)
		return "instance";
	if (pa->n != pb->n || strcmp(pa->path, pb->path) != 0 ||
	    memcmp(&a->point[pa->first], &b->point[pb->first], (size_t)pa->n * sizeof(a->point[0])))
		return "profile";
	return NULL;
}

int config_bus_changed(const struct config *a, int ba, const struct config *b, int bb, char *why,
		       size_t size)
{
	const char *key =
	    config_key_changed(CONFIG_SEC_BUS, &a->bus[ba], &b->bus[bb], sizeof(a->bus[0]));
	int i = -1, j = -1;

	if (key) {
		snprintf(why, size, "%s changed", key);
		return 1;
	}
	for (;;) {
		i = config_bus_next_dev(a, ba, i);
		j = config_bus_next_dev(b, bb, j);
		if (i < 0 && j < 0)
			return 0;
		if (i < 0 || j < 0 || strcmp(a->mbdev[i].name, b->mbdev[j].name) != 0) {
			snprintf(why, size, "its devices changed");
			return 1;
		}
		if ((key = config_mbdev_changed(a, i, b, j))) {
			snprintf(why, size, "[device \"%s\"] %s changed", b->mbdev[j].name, key);
			return 1;
		}
	}
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
	if (k->sec == CONFIG_SEC_BUS || k->sec == CONFIG_SEC_MBDEV || k->sec == CONFIG_SEC_POINT)
		return config_mb_origin(ctx, k);
	return &ctx->set[k->sec == CONFIG_SEC_CAN ? can : 0][k - config_keys];
}

/* Where sec/name was set (file NULL: not set); for [can] keys, in section can. */
static struct config_origin *config_origin_by_name(struct config_ctx *ctx, int can,
						   enum config_sec sec, const char *name)
{
	return config_origin_of(ctx, can, config_key_find(sec, name));
}

/* Numbers --------------------------------------------------------------- */

static int config_range_error(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      const char *unit)
{
	config_error(ctx, "%s: %s is out of range (%.15g..%.15g%s)", k->name, v, k->min, k->max,
		     unit);
	return -1;
}

static int config_parse_int(struct config_ctx *ctx, const struct config_key *k, const char *v,
			    void *dst)
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
static int config_number(struct config_ctx *ctx, const struct config_key *k, const char *v,
			 const char *unit, double *out)
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

static int config_parse_double(struct config_ctx *ctx, const struct config_key *k, const char *v,
			       void *dst)
{
	return config_number(ctx, k, v, "", dst);
}

/* Seconds in the file (decimals allowed), milliseconds in struct config. */
static int config_parse_ms(struct config_ctx *ctx, const struct config_key *k, const char *v,
			   void *dst)
{
	double s;

	if (config_number(ctx, k, v, " s", &s) < 0)
		return -1;
	*(int *)dst = (int)lround(s * 1000.0);
	return 0;
}

/* A J1939 source address (0..253) or "any" (-1). */
static int config_parse_sa(struct config_ctx *ctx, const struct config_key *k, const char *v,
			   void *dst)
{
	char *end;
	long n;

	if (strcasecmp(v, "any") == 0) {
		*(int *)dst = -1;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 0);
	if (end == v || *end != '\0' || errno || n < 0 || n > 253) {
		config_error(ctx, "%s: \"%s\" is not a source address (0..253, or any)", k->name,
			     v);
		return -1;
	}
	*(int *)dst = (int)n;
	return 0;
}

/* One PGN: 0..0x3FFFF, decimal or 0x hex. */
static int config_pgn(struct config_ctx *ctx, const struct config_key *k, const char *v,
		      const char *end_of_v, unsigned *pgn)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 0);
	if (end == v || end != end_of_v || errno || n < 0 || n > 0x3FFFF) {
		config_error(ctx, "%s: \"%.*s\" is not a PGN (0..262143)", k->name,
			     (int)(end_of_v - v), v);
		return -1;
	}
	*pgn = (unsigned)n;
	return 0;
}

/* Walks a list of words separated by spaces or commas. */
static const char *config_next_word(const char *p, const char **end)
{
	p += strspn(p, " ,\t");
	*end = p + strcspn(p, " ,\t");
	return *p ? p : NULL;
}

/* "PGN PGN ...": dst is the count, followed by the array in struct config_can. */
static int config_parse_pgn_list(struct config_ctx *ctx, const struct config_key *k, const char *v,
				 void *dst)
{
	struct config_can *can =
	    (struct config_can *)((char *)dst - offsetof(struct config_can, n_ignore));
	const char *w, *end;

	can->n_ignore = 0;
	for (w = config_next_word(v, &end); w; w = config_next_word(end, &end)) {
		if (can->n_ignore == CONFIG_MAX_PGN_LIST) {
			config_error(ctx, "%s: at most %d PGNs", k->name, CONFIG_MAX_PGN_LIST);
			return -1;
		}
		if (config_pgn(ctx, k, w, end, &can->ignore_pgn[can->n_ignore]) < 0)
			return -1;
		can->n_ignore++;
	}
	return 0;
}

/* "PGN:SA PGN:SA ...", SA a number or any. */
static int config_parse_pgn_sa(struct config_ctx *ctx, const struct config_key *k, const char *v,
			       void *dst)
{
	struct config_can *can =
	    (struct config_can *)((char *)dst - offsetof(struct config_can, n_pgn_sa));
	const char *w, *end, *colon;
	char sa[16];

	can->n_pgn_sa = 0;
	for (w = config_next_word(v, &end); w; w = config_next_word(end, &end)) {
		colon = memchr(w, ':', (size_t)(end - w));
		if (!colon || end - colon - 1 <= 0 || end - colon - 1 >= (long)sizeof(sa)) {
			config_error(ctx, "%s: \"%.*s\" is not PGN:SA", k->name, (int)(end - w), w);
			return -1;
		}
		if (can->n_pgn_sa == CONFIG_MAX_PGN_LIST) {
			config_error(ctx, "%s: at most %d entries", k->name, CONFIG_MAX_PGN_LIST);
			return -1;
		}
		if (config_pgn(ctx, k, w, colon, &can->pgn_sa[can->n_pgn_sa].pgn) < 0)
			return -1;
		memcpy(sa, colon + 1, (size_t)(end - colon - 1));
		sa[end - colon - 1] = '\0';
		if (config_parse_sa(ctx, k, sa, &can->pgn_sa[can->n_pgn_sa].sa) < 0)
			return -1;
		can->n_pgn_sa++;
	}
	return 0;
}

/* A J1939 NAME: 64 bits in hex (16 digits, 0x optional). */
static int config_parse_name(struct config_ctx *ctx, const struct config_key *k, const char *v,
			     void *dst)
{
	const char *p = strncasecmp(v, "0x", 2) == 0 ? v + 2 : v;
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(p, &end, 16);
	if (end == p || *end || errno || strlen(p) != 16) {
		config_error(ctx, "%s: \"%s\" is not a J1939 NAME (16 hex digits)", k->name, v);
		return -1;
	}
	*(unsigned long long *)dst = n;
	return 0;
}

/* A resolution as an exact fraction: "0.125" -> 125/1000, "1/256", "2". */
static int config_fraction(const char *s, int32_t *num, int32_t *den)
{
	long long n = 0, d = 1;
	const char *p = s;
	char *end;

	if (strchr(s, '/')) {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (end == s || *end != '/' || errno)
			return -1;
		p = end + 1;
		d = strtoll(p, &end, 10);
		if (end == p || *end || errno || d <= 0)
			return -1;
	} else {
		int frac = 0;

		if (!*p)
			return -1;
		for (; *p; p++) {
			if (*p == '.' && !frac) {
				frac = 1;
				continue;
			}
			if (*p < '0' || *p > '9' || n > 100000000 || d > 100000000)
				return -1;
			n = n * 10 + (*p - '0');
			if (frac)
				d *= 10;
		}
	}
	if (n <= 0 || n > INT32_MAX || d > INT32_MAX)
		return -1;
	*num = (int32_t)n;
	*den = (int32_t)d;
	return 0;
}

/* "SPN:BYTE:SIZE:RES:OFFSET[:be]", several separated by spaces. */
static int config_parse_override(const char *w, size_t len, struct j1939_override *o)
{
	char buf[96], *f[6], *save = NULL, *end;
	long v[3], off;
	int n = 0;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, w, len);
	buf[len] = '\0';
	for (char *t = strtok_r(buf, ":", &save); t && n < 6; t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (n < 5 || (n == 6 && strcmp(f[5], "be") != 0 && strcmp(f[5], "le") != 0))
		return -1;
	for (int i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtol(f[i], &end, 0);
		if (end == f[i] || *end || errno)
			return -1;
	}
	errno = 0;
	off = strtol(f[4], &end, 10);
	if (end == f[4] || *end || errno || off < -100000 || off > 100000)
		return -1;
	if (v[0] < 0 || v[0] > 65535 || v[1] < 1 || v[1] > 8 ||
	    (v[2] != 1 && v[2] != 2 && v[2] != 4) || v[1] - 1 + v[2] > 8)
		return -1;
	if (config_fraction(f[3], &o->res_num, &o->res_den) < 0)
		return -1;
	o->spn = (uint16_t)v[0];
	o->start = (uint8_t)v[1];
	o->size = (uint8_t)v[2];
	o->offset = (int32_t)off;
	o->big_endian = n == 6 && strcmp(f[5], "be") == 0;
	return 0;
}

static int config_parse_overrides(struct config_ctx *ctx, const struct config_key *k, const char *v,
				  void *dst)
{
	struct config_can *can =
	    (struct config_can *)((char *)dst - offsetof(struct config_can, n_override));
	const char *w, *end;

	can->n_override = 0;
	for (w = config_next_word(v, &end); w; w = config_next_word(end, &end)) {
		if (can->n_override == CONFIG_MAX_OVERRIDES) {
			config_error(ctx, "%s: at most %d overrides", k->name,
				     CONFIG_MAX_OVERRIDES);
			return -1;
		}
		if (config_parse_override(w, (size_t)(end - w), &can->override[can->n_override]) <
		    0) {
			config_error(ctx,
				     "%s: \"%.*s\" is not SPN:BYTE:SIZE:RESOLUTION:OFFSET[:be] "
				     "(byte 1..8, size 1, 2 or 4 within 8 bytes)",
				     k->name, (int)(end - w), w);
			return -1;
		}
		can->n_override++;
	}
	return 0;
}

static int config_parse_bool(struct config_ctx *ctx, const struct config_key *k, const char *v,
			     void *dst)
{
	static const struct {
		const char *word;
		int value;
	} words[] = {
	    {"yes", 1}, {"no", 0},  {"true", 1}, {"false", 0},
	    {"on", 1},	{"off", 0}, {"1", 1},	 {"0", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(v, words[i].word) == 0) {
			*(int *)dst = words[i].value;
			return 0;
		}
	}
	config_error(ctx, "%s: \"%s\" is not a boolean (yes/no, true/false, on/off, 1/0)", k->name,
		     v);
	return -1;
}

/* Strings --------------------------------------------------------------- */

/* Copies v into dst of k->size bytes, refusing what does not fit. */
static int config_parse_string(struct config_ctx *ctx, const struct config_key *k, const char *v,
			       void *dst)
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
static int config_parse_path(struct config_ctx *ctx, const struct config_key *k, const char *v,
			     void *dst)
{
	size_t dirlen = v[0] == '/' || v[0] == '\0' ? 0 : ctx->src->dirlen;
	size_t len = dirlen + strlen(v);

	if (v[0] == '\0')
		return config_parse_string(ctx, k, v, dst);
	if (len >= k->size) {
		config_error(ctx, "%s: path too long (%zu characters, at most %zu)", k->name, len,
			     k->size - 1);
		return -1;
	}
	snprintf(dst, k->size, "%.*s%s", (int)dirlen, ctx->src->name, v);
	return 0;
}

/* [zones] file: a path, and its line for -n's check of the file itself. */
static int config_parse_zones_file(struct config_ctx *ctx, const struct config_key *k,
				   const char *v, void *dst)
{
	ctx->c->zones.file_line = v[0] ? ctx->src->line : 0;
	return config_parse_path(ctx, k, v, dst);
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

static int config_parse_id(struct config_ctx *ctx, const struct config_key *k, const char *v,
			   void *dst)
{
	if (*v != '\0' && !config_valid_name(v)) {
		config_error(ctx, "%s: \"%s\" may contain only A-Z, a-z, 0-9, '_' and '-'", k->name,
			     v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

static int config_parse_vin(struct config_ctx *ctx, const struct config_key *k, const char *v,
			    void *dst)
{
	size_t i, len = strlen(v);

	/* ISO 3779: I, O and Q are never used (they look like 1 and 0). */
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)v[i]) &&
		    !(v[i] >= 'A' && v[i] <= 'Z' && !strchr("IOQ", v[i])))
			break;
	if (len != 0 && (len != 17 || i != len)) {
		config_error(ctx,
			     "%s: \"%s\" is not a VIN (17 characters: 0-9 and A-Z but I, O, Q)",
			     k->name, v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

static int config_parse_topic(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      void *dst)
{
	/* A broker refuses to take a publication on a topic with wildcards. */
	if (strpbrk(v, "+#")) {
		config_error(ctx, "%s: \"%s\" must not contain the MQTT wildcards + and #", k->name,
			     v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

/* time_floor, time_ceiling: "YYYY-MM-DD" (UTC midnight) or seconds since
 * the epoch; 0 keeps the default (the build date, plus 5 years for the
 * ceiling). */
static int config_parse_date(struct config_ctx *ctx, const struct config_key *k, const char *v,
			     void *dst)
{
	struct tm tm = {0};
	int y, m, d, len = 0;
	char *end;
	long long n;

	if (sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &len) == 3 && v[len] == '\0') {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		if (y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
			*(long long *)dst = (long long)timegm(&tm);
			return 0;
		}
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || end == v || *end != '\0' || errno == ERANGE || n < 0 ||
	    n > 253402300799LL) {
		config_error(
		    ctx,
		    "%s: \"%s\" is neither YYYY-MM-DD nor seconds since 1970 (0..253402300799)",
		    k->name, v);
		return -1;
	}
	*(long long *)dst = n;
	return 0;
}

/* Sections -------------------------------------------------------------- */

static void config_can_defaults(struct config_can *can)
{
	memset(can, 0, sizeof(*can));
	can->speed = 1.0;
	can->loop = 0;
	can->sa = -1;
	can->request_period_ms = 60000;
	can->address = 249;
	/* Arbitrary address capable, industry group 3 (construction), function
	 * 60, identity 1: give each box its own identity if several gateways
	 * share a bus. */
	can->claim_name = 0xB0003C0000000001ULL;
}

/*
 * A slot for a new named section [KIND "name"] among n of at most max:
 * its index, or -1 after reporting a duplicate (where the first one is) or
 * one too many.  names points at the first name; stride is the size of the
 * structs that hold them.
 */
static int config_named_slot(struct config_ctx *ctx, const char *kind, const char *many,
			     const char *name, const char *names, size_t stride, int n, int max,
			     const struct config_origin *hdr)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(names + (size_t)i * stride, name) == 0) {
			config_error(ctx, "duplicate section [%s \"%s\"] (first at %s:%d)", kind,
				     name, hdr[i].file, hdr[i].line);
			return -1;
		}
	}
	if (n == max) {
		config_error(ctx, "too many [%s] sections (at most %d)", many, max);
		return -1;
	}
	return n;
}

static void config_can_open(struct config_ctx *ctx, const char *name)
{
	struct config *c = ctx->c;

	ctx->sec = CONFIG_SEC_SKIP;
	if (!config_valid_name(name) || strlen(name) >= sizeof(c->can[0].name)) {
		config_error(
		    ctx, "[can \"%s\"]: a name is 1..%zu characters of A-Z, a-z, 0-9, '_' and '-'",
		    name, sizeof(c->can[0].name) - 1);
		return;
	}
	if (config_named_slot(ctx, "can", "can", name, c->can[0].name, sizeof(c->can[0]), c->n_can,
			      CONFIG_MAX_CAN, ctx->can_hdr) < 0)
		return;
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
	if (config_mb_section(ctx, s))
		return;
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
	src->bytes += strlen(src->buf);
	if (src->bytes > CONFIG_MAX_FILE_BYTES) {
		/* it grew while we read it: stop here */
		config_error(ctx, "file grew past %d bytes while being read",
			     CONFIG_MAX_FILE_BYTES);
		return NULL;
	}
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

static int config_handler(void *user, const char *section, const char *name, const char *value);

/*
 * Open file name (to become ctx->files[ctx->n_files]) for reading: a
 * regular file of at most CONFIG_MAX_FILE_BYTES.  A FIFO would block us and
 * /dev/zero never ends.  NULL and why (for the caller's message) on error.
 */
static FILE *config_open(struct config_ctx *ctx, const char *name, char *why, size_t len)
{
	struct stat *st = &ctx->stamp[ctx->n_files < CONFIG_MAX_FILES ? ctx->n_files : 0];
	int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	FILE *fp;

	if (fd < 0 || fstat(fd, st) < 0) {
		snprintf(why, len, "%s", strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		snprintf(why, len, "not a regular file");
	} else if (st->st_size > CONFIG_MAX_FILE_BYTES) {
		snprintf(why, len, "larger than %d bytes", CONFIG_MAX_FILE_BYTES);
	} else if (fcntl(fd, F_SETFL, 0) < 0 || (fp = fdopen(fd, "r")) == NULL) {
		snprintf(why, len, "%s", strerror(errno));
	} else {
		return fp;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Whether a file read changed meanwhile (size, time or inode): a reload
 * that caught `cp` mid-write must not run on half a file. */
static int config_changed(const struct config_ctx *ctx)
{
	struct stat now;

	for (int i = 0; i < ctx->n_files; i++) {
		const struct stat *was = &ctx->stamp[i];

		if (stat(ctx->files[i], &now) < 0 || now.st_size != was->st_size ||
		    now.st_ino != was->st_ino || now.st_dev != was->st_dev ||
		    now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
		    now.st_mtim.tv_nsec != was->st_mtim.tv_nsec)
			return 1;
	}
	return 0;
}

/* Reads one opened file (closes it); the section state is the caller's. */
static void config_read(struct config_ctx *ctx, FILE *fp, const char *name, int depth)
{
	struct config_src src = {.fp = fp, .name = name, .depth = depth};
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
	const struct config_key k = {.name = "include", .size = PATH_MAX, .min = 1};
	enum config_sec sec = ctx->sec;
	int can = ctx->can, bus = ctx->bus, mbdev = ctx->mbdev, point = ctx->point;
	char *name, why[128];
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
	fp = config_open(ctx, name, why, sizeof(why));
	if (!fp) {
		config_error(ctx, "include: cannot open %s: %s", name, why);
		return;
	}
	ctx->n_files++;
	config_read(ctx, fp, name, ctx->src->depth + 1);
	ctx->sec = sec;
	ctx->can = can;
	ctx->bus = bus;
	ctx->mbdev = mbdev;
	ctx->point = point;
}

static const char *config_sec_title(const struct config_ctx *ctx, char *buf, size_t len)
{
	if (config_mb_title(ctx, buf, len))
		return buf;
	if (ctx->sec == CONFIG_SEC_CAN)
		snprintf(buf, len, "[can \"%s\"]", ctx->c->can[ctx->can].name);
	else
		snprintf(buf, len, "[%s]", config_sec_names[ctx->sec]);
	return buf;
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
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
	if (config_mb_base(ctx, k->sec))
		base = config_mb_base(ctx, k->sec);
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
	const char *base =
	    sec == CONFIG_SEC_CAN ? (const char *)&ctx->c->can[can] : (const char *)ctx->c;

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
			"lambda_exit (%.15g) must not be below lambda_max (%.15g)", s->lambda_exit,
			s->lambda_max);
}

/* Reports [mqtt] key a set while b, which it needs, is empty. */
static void config_needs(struct config_ctx *ctx, const char *a, const char *b)
{
	const struct config_key *ka = config_key_find(CONFIG_SEC_MQTT, a);
	const struct config_origin *o = config_origin_of(ctx, 0, ka);

	if (((const char *)ctx->c)[ka->off] != '\0' && !config_given(ctx, 0, CONFIG_SEC_MQTT, b))
		config_error_at(ctx, o->file, o->line, "%s is set but %s is not", a, b);
}

static void config_check_key_mode(struct config_ctx *ctx);

static void config_check_mqtt(struct config_ctx *ctx)
{
	config_needs(ctx, "cert_file", "key_file");
	config_needs(ctx, "key_file", "cert_file");
	config_needs(ctx, "cert_file", "ca_file");
	config_needs(ctx, "password_file", "username");
	config_check_key_mode(ctx);
}

/* [platform] ------------------------------------------------------------ */

static int config_parse_variant(struct config_ctx *ctx, const struct config_key *k, const char *v,
				void *dst)
{
	static const char *const names[] = {"nrmm", "road", "gb17691"}; /* enum hj_variant */

	for (int i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			*(int *)dst = i;
			return 0;
		}
	config_error(ctx, "%s: \"%s\" is not nrmm, road or gb17691", k->name, v);
	return -1;
}

/* 19 or 20 digits (a 19-digit ICCID is padded with 'F'), "mmcli", or empty
 * (unknown: sent as all ones). */
static int config_parse_iccid(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      void *dst)
{
	size_t n = strspn(v, "0123456789");

	if (*v && strcmp(v, "mmcli") != 0 && (v[n] != '\0' || n < 19 || n > 20)) {
		config_error(ctx, "%s: \"%s\" is not an ICCID (19 or 20 digits) or \"mmcli\"",
			     k->name, v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

static int config_parse_chip_id(struct config_ctx *ctx, const struct config_key *k, const char *v,
				void *dst)
{
	for (const char *p = v; *p; p++) {
		if (!isgraph((unsigned char)*p) || strlen(v) != 16) {
			config_error(ctx, "%s: \"%s\" is not 16 printable ASCII characters",
				     k->name, v);
			return -1;
		}
	}
	return config_parse_string(ctx, k, v, dst);
}

/* A canonical signal name (see emgw.conf), or empty for none. */
static int config_parse_signal(struct config_ctx *ctx, const struct config_key *k, const char *v,
			       void *dst)
{
	if (*v && sig_lookup(v) < 0) {
		config_error(ctx, "%s: \"%s\" is not a signal name", k->name, v);
		return -1;
	}
	return config_parse_string(ctx, k, v, dst);
}

/* An error about [platform] at key's line (or its enabled line). */
static void config_platform_error(struct config_ctx *ctx, const char *key, const char *msg)
{
	struct config_origin *o = config_origin_by_name(ctx, 0, CONFIG_SEC_PLATFORM, key);

	if (!o->file)
		o = config_origin_by_name(ctx, 0, CONFIG_SEC_PLATFORM, "enabled");
	config_error_at(ctx, o->file ? o->file : ctx->c->file, o->line, "[platform] %s", msg);
}

static void config_check_platform(struct config_ctx *ctx)
{
	const struct config_platform *p = &ctx->c->platform;

	if (!p->enabled)
		return;
	if (!config_given(ctx, 0, CONFIG_SEC_PLATFORM, "host"))
		config_platform_error(ctx, "host", "enabled needs host");
	if (!p->port && !config_origin_by_name(ctx, 0, CONFIG_SEC_PLATFORM, "port")->bad)
		config_platform_error(ctx, "port", "enabled needs port");
	if (!ctx->c->vin[0] && !config_origin_by_name(ctx, 0, CONFIG_SEC_DEVICE, "vin")->bad)
		config_platform_error(ctx, "enabled",
				      "needs the VIN ([device] vin): frames carry it");
	if (p->sign && !config_given(ctx, 0, CONFIG_SEC_PLATFORM, "key_file"))
		config_platform_error(ctx, "sign", "sign = yes needs key_file");
	if (p->activate && (!p->sign || !config_given(ctx, 0, CONFIG_SEC_PLATFORM, "chip_id")))
		config_platform_error(ctx, "activate",
				      "activate = yes needs sign = yes and chip_id");
	if (!p->cert_file[0] != !p->cert_key_file[0])
		config_platform_error(ctx, p->cert_file[0] ? "cert_file" : "cert_key_file",
				      "cert_file and cert_key_file go together");
}

static void config_check_file(struct config_ctx *ctx)
{
	struct config_origin *o;

	if (!ctx->c->fileout.enabled || config_given(ctx, 0, CONFIG_SEC_FILE, "path"))
		return;
	o = config_origin_by_name(ctx, 0, CONFIG_SEC_FILE, "enabled");
	config_error_at(ctx, o->file ? o->file : ctx->c->file, o->line,
			"[file] enabled needs path");
}

/* Defaults that depend on other keys. */
static void config_fill(struct config_ctx *ctx)
{
	struct config_platform *pf = &ctx->c->platform;

	if (pf->period_ms == 0)
		pf->period_ms = pf->variant ? 10000 : 60000;
	/* GM/T 0009's default id when there is no chip to name. */
	if (!pf->user_id[0])
		snprintf(pf->user_id, sizeof(pf->user_id), "%s",
			 pf->chip_id[0] ? pf->chip_id : "1234567812345678");
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

/* Modbus ---------------------------------------------------------------- */

/* A bus is an RTU line or a TCP endpoint; a device is a unit id on a bus,
 * read with a profile; a profile is a file of [point "NAME"] sections, read
 * once however many devices name it, with errors given as its own
 * file:line. */

/* Index of k among the keys of its section. */
static int config_key_rel(const struct config_key *k)
{
	const struct config_key *first = k;

	while (first > config_keys && first[-1].sec == k->sec)
		first--;
	return (int)(k - first);
}

static struct config_origin *config_mb_origin_at(struct config_ctx *ctx, enum config_sec sec, int i,
						 const char *name)
{
	const struct config_key *k = config_key_find(sec, name);
	int row = sec == CONFIG_SEC_BUS	    ? i
		  : sec == CONFIG_SEC_MBDEV ? CONFIG_MAX_BUS + i
					    : CONFIG_MAX_BUS + CONFIG_MAX_MBDEV + i;

	return &ctx->mb_set[row][config_key_rel(k)];
}

static struct config_origin *config_mb_origin(struct config_ctx *ctx, const struct config_key *k)
{
	int i = k->sec == CONFIG_SEC_BUS     ? ctx->bus
		: k->sec == CONFIG_SEC_MBDEV ? ctx->mbdev
					     : ctx->point;

	return config_mb_origin_at(ctx, k->sec, i, k->name);
}

static char *config_mb_base(struct config_ctx *ctx, enum config_sec sec)
{
	switch (sec) {
	case CONFIG_SEC_BUS:
		return (char *)&ctx->c->bus[ctx->bus];
	case CONFIG_SEC_MBDEV:
		return (char *)&ctx->c->mbdev[ctx->mbdev];
	case CONFIG_SEC_POINT:
		return (char *)&ctx->c->point[ctx->point];
	default:
		return NULL;
	}
}

static int config_mb_title(const struct config_ctx *ctx, char *buf, size_t len)
{
	if (ctx->sec == CONFIG_SEC_BUS)
		snprintf(buf, len, "[bus \"%s\"]", ctx->c->bus[ctx->bus].name);
	else if (ctx->sec == CONFIG_SEC_MBDEV)
		snprintf(buf, len, "[device \"%s\"]", ctx->c->mbdev[ctx->mbdev].name);
	else if (ctx->sec == CONFIG_SEC_POINT)
		snprintf(buf, len, "[point \"%s\"]", ctx->c->point[ctx->point].name);
	else
		return 0;
	return 1;
}

static int config_parse_bus_type(struct config_ctx *ctx, const struct config_key *k, const char *v,
				 void *dst)
{
	if (strcasecmp(v, "rtu") == 0)
		*(int *)dst = CONFIG_BUS_RTU;
	else if (strcasecmp(v, "tcp") == 0)
		*(int *)dst = CONFIG_BUS_TCP;
	else {
		config_error(ctx, "%s: \"%s\" is neither rtu nor tcp", k->name, v);
		return -1;
	}
	return 0;
}

static int config_parse_parity(struct config_ctx *ctx, const struct config_key *k, const char *v,
			       void *dst)
{
	if (strlen(v) == 1 && strchr("NEOneo", v[0]))
		*(int *)dst = toupper((unsigned char)v[0]);
	else if (strcasecmp(v, "none") == 0 || strcasecmp(v, "even") == 0 ||
		 strcasecmp(v, "odd") == 0)
		*(int *)dst = toupper((unsigned char)v[0]);
	else {
		config_error(ctx, "%s: \"%s\" is not N, E or O (none, even, odd)", k->name, v);
		return -1;
	}
	return 0;
}

static int config_parse_table(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      void *dst)
{
	if (mbpoint_table_parse(v, dst) == MBPOINT_OK)
		return 0;
	config_error(ctx, "%s: \"%s\" is not coil, discrete, input or holding", k->name, v);
	return -1;
}

static int config_parse_ptype(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      void *dst)
{
	if (mbpoint_type_parse(v, dst) == MBPOINT_OK)
		return 0;
	config_error(
	    ctx,
	    "%s: \"%s\" is not one of bool, u16, i16, u32, i32, u64, i64, f32, f64, string, bits",
	    k->name, v);
	return -1;
}

static int config_parse_order(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      void *dst)
{
	struct mbpoint *p = dst;

	if (mbpoint_order_parse(v, &p->word_swap, &p->byte_swap) == MBPOINT_OK)
		return 0;
	config_error(
	    ctx, "%s: \"%s\" is not ABCD, CDAB, BADC, DCBA, big, little, word_swap or byte_swap",
	    k->name, v);
	return -1;
}

/* [bus "NAME"], [device "NAME"], [point "NAME"]: the name between quotes,
 * or NULL (reported) when the header is malformed. */
static char *config_mb_name(struct config_ctx *ctx, char *s, const char *kind)
{
	char *end;

	s += strlen(kind);
	s += strspn(s, " \t");
	end = *s == '"' ? strchr(s + 1, '"') : NULL;
	if (!end || end[1] != '\0') {
		config_error(ctx, "malformed section header: expected [%s \"NAME\"]", kind);
		return NULL;
	}
	*end = '\0';
	if (!config_valid_name(s + 1) || strlen(s + 1) >= MBPOINT_NAME_MAX) {
		config_error(
		    ctx, "[%s \"%s\"]: a name is 1..%d characters of A-Z, a-z, 0-9, '_' and '-'",
		    kind, s + 1, MBPOINT_NAME_MAX - 1);
		return NULL;
	}
	return s + 1;
}

static int config_mb_kind(const char *s, const char *kind)
{
	size_t n = strlen(kind);

	return strncmp(s, kind, n) == 0 &&
	       (s[n] == '\0' || s[n] == '"' || isspace((unsigned char)s[n]));
}

static void config_bus_open(struct config_ctx *ctx, const char *name)
{
	struct config *c = ctx->c;
	struct config_bus *b;

	if (config_named_slot(ctx, "bus", "bus", name, c->bus[0].name, sizeof(c->bus[0]), c->n_bus,
			      CONFIG_MAX_BUS, ctx->bus_hdr) < 0)
		return;
	ctx->bus = c->n_bus++;
	b = &c->bus[ctx->bus];
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->type = CONFIG_BUS_RTU;
	b->baud = 9600;
	b->parity = 'N';
	b->data_bits = 8;
	b->stop_bits = 1;
	b->port = 502;
	b->response_timeout_ms = 500;
	b->byte_timeout_ms = 100;
	b->max_gap = 8;
	b->backoff_max_ms = 60000;
	b->refused_retry_ms = 60000;
	b->refused_retry_max_ms = 3600000;
	ctx->bus_hdr[ctx->bus] = config_here(ctx);
	ctx->sec = CONFIG_SEC_BUS;
}

static void config_mbdev_open(struct config_ctx *ctx, const char *name)
{
	struct config *c = ctx->c;
	struct config_mbdev *d;

	if (config_named_slot(ctx, "device", "device \"NAME\"", name, c->mbdev[0].name,
			      sizeof(c->mbdev[0]), c->n_mbdev, CONFIG_MAX_MBDEV,
			      ctx->mbdev_hdr) < 0)
		return;
	ctx->mbdev = c->n_mbdev++;
	d = &c->mbdev[ctx->mbdev];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->bus = d->profile = d->unit = -1;
	d->interval_ms = 1000;
	ctx->mbdev_hdr[ctx->mbdev] = config_here(ctx);
	ctx->sec = CONFIG_SEC_MBDEV;
}

static void config_point_open(struct config_ctx *ctx, const char *name)
{
	struct config *c = ctx->c;
	int first = c->profile[ctx->profile].first;

	for (int i = first; i < c->n_point; i++) {
		if (strcmp(c->point[i].name, name) == 0) {
			config_error(ctx, "duplicate section [point \"%s\"] (first at line %d)",
				     name, ctx->point_hdr[i].line);
			return;
		}
	}
	if (c->n_point == CONFIG_MAX_POINTS || c->n_point - first == MBPLAN_MAX_ITEMS) {
		config_error(ctx, "too many points (at most %d in a profile, %d in all)",
			     MBPLAN_MAX_ITEMS, CONFIG_MAX_POINTS);
		return;
	}
	ctx->point = c->n_point++;
	mbpoint_init(&c->point[ctx->point]);
	snprintf(c->point[ctx->point].name, MBPOINT_NAME_MAX, "%s", name);
	ctx->point_hdr[ctx->point] = config_here(ctx);
	ctx->sec = CONFIG_SEC_POINT;
}

/* Called for every section header: 1 if it was a Modbus one (handled,
 * errors reported), or any header in a profile (where only [point] goes). */
static int config_mb_section(struct config_ctx *ctx, char *s)
{
	char *name;

	ctx->sec = CONFIG_SEC_SKIP;
	if (ctx->in_profile) {
		if (!config_mb_kind(s, "point"))
			config_error(ctx,
				     "a profile holds only [point \"NAME\"] sections, not [%s]", s);
		else if ((name = config_mb_name(ctx, s, "point")))
			config_point_open(ctx, name);
		return 1;
	}
	if (config_mb_kind(s, "point")) {
		config_error(
		    ctx, "[point] belongs in a profile file (profile = FILE in [device \"NAME\"])");
		return 1;
	}
	if (config_mb_kind(s, "bus")) {
		if ((name = config_mb_name(ctx, s, "bus")))
			config_bus_open(ctx, name);
		return 1;
	}
	if (config_mb_kind(s, "device") && strcmp(s, "device") != 0) {
		if ((name = config_mb_name(ctx, s, "device")))
			config_mbdev_open(ctx, name);
		return 1;
	}
	return 0;
}

/* Why a point's definition does not hold together, for a person. */
static const char *config_point_problem(const struct mbpoint *p, char *buf, size_t len)
{
	int bits = p->table == MBPOINT_COIL || p->table == MBPOINT_DISCRETE;
	struct mbpoint q = *p;

	if (bits && p->type != MBPOINT_BOOL)
		return "coils and discrete inputs hold only type = bool";
	if (bits && p->bit)
		return "bit applies to registers only";
	if (p->type == MBPOINT_STRING && p->count == 0)
		return "type = string needs count (registers, 1..32)";
	if (p->type == MBPOINT_BITS && p->count == 0)
		return "type = bits needs count (the width of the field)";
	if (p->type == MBPOINT_BITS && p->bit + p->count > 16)
		return "bit + count is more than the 16 bits of a register";
	if (p->bit && p->type != MBPOINT_BOOL && p->type != MBPOINT_BITS)
		return "bit applies to type = bool or bits only";
	if (p->scale == 0)
		return "scale must not be 0";
	if (p->has_min && p->has_max && p->min > p->max) {
		snprintf(buf, len, "min (%.15g) is above max (%.15g)", p->min, p->max);
		return buf;
	}
	q.count = 0;
	if (p->type != MBPOINT_STRING && p->type != MBPOINT_BITS && mbpoint_width(&q)) {
		if (p->count != mbpoint_width(&q)) {
			snprintf(buf, len, "count must be %d for type = %s, or left out",
				 mbpoint_width(&q), mbpoint_type_name(p->type));
			return buf;
		}
	}
	return "the point runs past address 65535";
}

static void config_point_check(struct config_ctx *ctx, int i)
{
	struct mbpoint *p = &ctx->c->point[i];
	const struct config_origin *h = &ctx->point_hdr[i];
	const char *keys[] = {"table",	   "address",	"type",	 "count",  "bit", "order",
			      "word_swap", "byte_swap", "scale", "offset", "min", "max"};
	char buf[128];

	p->has_min = config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, "min")->file != NULL;
	p->has_max = config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, "max")->file != NULL;
	if (!config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, "address")->file) {
		config_error_at(ctx, h->file, h->line, "[point \"%s\"] needs address", p->name);
		return;
	}
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, keys[k])->bad)
			return; /* reported already: the rest would only confuse */
	if (config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, "order")->file &&
	    (config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, "word_swap")->file ||
	     config_mb_origin_at(ctx, CONFIG_SEC_POINT, i, "byte_swap")->file))
		config_error_at(ctx, h->file, h->line,
				"[point \"%s\"]: give either order or word_swap/byte_swap",
				p->name);
	else if (mbpoint_check(p) != MBPOINT_OK)
		config_error_at(ctx, h->file, h->line, "[point \"%s\"]: %s", p->name,
				config_point_problem(p, buf, sizeof(buf)));
	else if (p->type == MBPOINT_STRING && sig_lookup(p->name) >= 0)
		config_error_at(ctx, h->file, h->line,
				"[point \"%s\"]: a canonical signal is a number, not type = string",
				p->name);
}

/* Reads the profile file named path (already resolved) as profile index. */
static void config_profile_read(struct config_ctx *ctx, int index, const char *name)
{
	struct config_profile *pr = &ctx->c->profile[index];
	enum config_sec sec = ctx->sec;
	int point = ctx->point;
	char why[128];
	FILE *fp = config_open(ctx, name, why, sizeof(why));

	if (!fp) {
		if (ctx->src)
			config_error(ctx, "profile: cannot open %s: %s", name, why);
		else
			config_error_at(ctx, name, 0, "cannot open: %s", why);
		return;
	}
	ctx->n_files++;
	pr->first = ctx->c->n_point;
	ctx->in_profile = 1;
	ctx->profile = index;
	ctx->sec = CONFIG_SEC_TOP;
	config_read(ctx, fp, name, ctx->src ? ctx->src->depth + 1 : 0);
	ctx->in_profile = 0;
	pr->n = ctx->c->n_point - pr->first;
	if (pr->n == 0)
		config_error_at(ctx, name, 0, "a profile needs at least one [point \"NAME\"]");
	for (int i = pr->first; i < ctx->c->n_point; i++)
		config_point_check(ctx, i);
	ctx->sec = sec;
	ctx->point = point;
}

/* profile = FILE: read FILE (once, however many devices use it). */
static int config_parse_profile(struct config_ctx *ctx, const struct config_key *k, const char *v,
				void *dst)
{
	struct config *c = ctx->c;
	const struct config_key pk = {.name = k->name, .size = PATH_MAX, .min = 1};
	char *name;

	if (ctx->n_files == CONFIG_MAX_FILES) {
		config_error(ctx, "profile: too many files (at most %d)", CONFIG_MAX_FILES);
		return -1;
	}
	name = ctx->files[ctx->n_files];
	if (config_parse_path(ctx, &pk, v, name) < 0)
		return -1;
	for (int i = 0; i < c->n_profile; i++) {
		if (strcmp(c->profile[i].path, name) == 0) {
			*(int *)dst = i;
			return 0;
		}
	}
	if (c->n_profile == CONFIG_MAX_PROFILES) {
		config_error(ctx, "profile: too many profiles (at most %d)", CONFIG_MAX_PROFILES);
		return -1;
	}
	snprintf(c->profile[c->n_profile].path, PATH_MAX, "%s", name);
	*(int *)dst = c->n_profile++;
	config_profile_read(ctx, *(int *)dst, name);
	return 0;
}

/* Keys that make sense for one bus type only. */
static void config_check_bus(struct config_ctx *ctx, int i)
{
	static const char *const rtu_only[] = {"device",    "baud",  "parity",	    "data_bits",
					       "stop_bits", "rs485", "byte_timeout"};
	static const char *const tcp_only[] = {"host", "port"};
	const struct config_bus *b = &ctx->c->bus[i];
	const char *const *other = b->type == CONFIG_BUS_TCP ? rtu_only : tcp_only;
	size_t n = b->type == CONFIG_BUS_TCP ? 7 : 2;
	const struct config_origin *o, *h = &ctx->bus_hdr[i];

	for (size_t k = 0; k < n; k++) {
		o = config_mb_origin_at(ctx, CONFIG_SEC_BUS, i, other[k]);
		if (o->file)
			config_error_at(ctx, o->file, o->line,
					"%s: does not apply to a type = %s bus", other[k],
					b->type == CONFIG_BUS_TCP ? "tcp" : "rtu");
	}
	o = config_mb_origin_at(ctx, CONFIG_SEC_BUS, i,
				b->type == CONFIG_BUS_TCP ? "host" : "device");
	if (!o->file)
		config_error_at(ctx, h->file, h->line, "[bus \"%s\"] (type = %s) needs %s", b->name,
				b->type == CONFIG_BUS_TCP ? "tcp" : "rtu",
				b->type == CONFIG_BUS_TCP ? "host" : "device");
}

static void config_check_mbdev(struct config_ctx *ctx, int i)
{
	struct config *c = ctx->c;
	struct config_mbdev *d = &c->mbdev[i];
	const struct config_origin *h = &ctx->mbdev_hdr[i], *o;
	int tcp;

	for (int b = 0; b < c->n_bus; b++)
		if (strcmp(c->bus[b].name, d->bus_name) == 0)
			d->bus = b;
	o = config_mb_origin_at(ctx, CONFIG_SEC_MBDEV, i, "bus");
	if (!o->file)
		config_error_at(ctx, h->file, h->line, "[device \"%s\"] needs bus", d->name);
	else if (d->bus < 0 && !o->bad)
		config_error_at(ctx, o->file, o->line, "bus: no [bus \"%s\"]", d->bus_name);
	if (!config_mb_origin_at(ctx, CONFIG_SEC_MBDEV, i, "profile")->file)
		config_error_at(ctx, h->file, h->line, "[device \"%s\"] needs profile", d->name);
	o = config_mb_origin_at(ctx, CONFIG_SEC_MBDEV, i, "unit");
	if (!o->file && !o->bad)
		config_error_at(ctx, h->file, h->line, "[device \"%s\"] needs unit", d->name);
	tcp = d->bus >= 0 && c->bus[d->bus].type == CONFIG_BUS_TCP;
	if (o->file && !o->bad && d->bus >= 0 && !tcp && (d->unit < 1 || d->unit > 247))
		config_error_at(ctx, o->file, o->line,
				"unit: %d is out of range (1..247 on an RTU line)", d->unit);
	for (int j = 0; j < i && d->bus >= 0; j++)
		if (c->mbdev[j].bus == d->bus && c->mbdev[j].unit == d->unit && o->file)
			config_error_at(ctx, o->file, o->line,
					"unit: %d is [device \"%s\"] on the same bus too", d->unit,
					c->mbdev[j].name);
	o = config_mb_origin_at(ctx, CONFIG_SEC_MBDEV, i, "interval");
	if (d->interval_ms >= c->sample.stale_ms && !o->bad)
		config_error_at(ctx, o->file ? o->file : h->file, o->file ? o->line : h->line,
				"interval (%.15g s) must be shorter than [sample] stale (%.15g s), "
				"or every value goes stale before it is read again",
				d->interval_ms / 1000.0, c->sample.stale_ms / 1000.0);
}

static void config_check_modbus(struct config_ctx *ctx)
{
	for (int i = 0; i < ctx->c->n_bus; i++)
		config_check_bus(ctx, i);
	for (int i = 0; i < ctx->c->n_mbdev; i++)
		config_check_mbdev(ctx, i);
}

/* [smoke] beyond the lambda rule (issue 8) ------------------------------ */

/* "3.00, 2.00, 1.61": the three power bands of one GB 36886 class. */
static int config_parse_klist(struct config_ctx *ctx, const struct config_key *k, const char *v,
			      void *dst)
{
	double *out = dst, val[3];
	const char *p = v;
	char *end;

	for (int i = 0; i < 3; i++) {
		errno = 0;
		val[i] = strtod(p, &end);
		if (end == p || errno || !isfinite(val[i]) || val[i] < k->min || val[i] > k->max) {
			config_error(ctx,
				     "%s: \"%s\" is not three limits in m^-1 (%.15g..%.15g), as "
				     "\"3.00, 2.00, 1.61\"",
				     k->name, v, k->min, k->max);
			return -1;
		}
		while (*end == ' ' || *end == '\t')
			end++;
		if (i < 2 && *end++ != ',')
			end = NULL;
		if (!end || (i == 2 && *end != '\0')) {
			config_error(ctx, "%s: \"%s\": give three limits separated by commas",
				     k->name, v);
			return -1;
		}
		p = end;
	}
	memcpy(out, val, sizeof(val));
	return 0;
}

static void config_smoke_defaults(struct config_smoke *s)
{
	static const double gb[3][3] = {{3.00, 2.00, 1.61}, {2.00, 1.00, 0.80}, {0.50, 0.50, 0.50}};

	s->lambda_enabled = 1;
	s->load_hyst_pct = 10;
	s->update_ms = 30000;
	s->evidence_s = 30;
	s->warmup_c = 40;
	s->cold_load_pct = 20; /* issue 15: a cold engine under load smokes for real */
	s->crank_rpm = 600;    /* the truth of spec/smoke.md: speed at least 600 rpm */
	s->start_exempt_ms = 5000;
	s->fuel_cut_exempt = 1;
	s->regen_exempt = 1;
	s->opacity_enabled = 1;
	s->opacity_path_m = 0.430;
	s->opacity_exit_ratio = 0.8;
	s->opacity_min_load_pct = 0;
	s->opacity_min_duration_ms = 5000;
	memcpy(s->gb36886, gb, sizeof(gb));
	s->transient_enabled = 1;
	s->transient_min_load_pct = 60;
	s->transient_min_duration_ms = 5000;
	s->transient_boost_full_kpa = 150;
	s->transient_boost_frac = 0.5;
	s->transient_min_rpm = 1200;
	s->transient_lag_ms = 2000;
	s->transient_repeat = 3;
	s->transient_window_ms = 60000;
	s->transient_exit_ms = 10000;
}

/* Entry points ---------------------------------------------------------- */

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	config_defaults_zeroed(c);
}

/* Only what is not zero is written: the pages of the point, profile and bus
 * slots not configured stay untouched (~150 KB of the 180). */
static void config_defaults_zeroed(struct config *c)
{
	snprintf(c->id, sizeof(c->id), "emgw");
	c->stage = 4;
	c->rated_power_kw = 75;
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/emgw");
	/* A [can] section's defaults come with the section (config_can_open). */
	c->mqtt.enabled = 1;
	snprintf(c->mqtt.host, sizeof(c->mqtt.host), "localhost");
	c->mqtt.port = 1883;
	snprintf(c->mqtt.prefix, sizeof(c->mqtt.prefix), "emgw");
	c->mqtt.keepalive_s = 30;
	c->mqtt.qos = 1;
	c->mqtt.tls_verify = 1;
	c->mqtt.inflight = 32;
	c->mqtt.reconnect_max_s = 60;
	c->mqtt.version = 4;
	c->mqtt.backlog_rate = 200;
	c->mqtt.batch_max = 1;
	c->mqtt.batch_age_ms = 1000;
	c->mqtt.cert_warn_days = 30;
	c->mqtt.command_rate = 50;
	c->mqtt.confirm_window_ms = 120000;
	c->store.retention_days = 7;
	c->store.max_size_mb = 256;
	c->store.keep_sent_days = 7;
	c->store.commit_interval_ms = 5000;
	c->seal.rows = 60;
	c->seal.interval_ms = 60000;
	c->seal.drain_ms = 3000;
	c->sample.period_ms = 1000;
	c->sample.stale_ms = 5000;
	c->smoke.enabled = 1;
	c->smoke.lambda_max = 1.20;
	c->smoke.lambda_exit = 1.30;
	c->smoke.min_load_pct = 20;	 /* spec/smoke.md: torque at least 20 % ... */
	c->smoke.min_duration_ms = 2000; /* ... for at least 2 s */
	c->smoke.fuel_density = 0.835;
	c->smoke.afr_stoich = 14.5;
	c->smoke.min_fuel_lph = 2.0;
	config_smoke_defaults(&c->smoke);
	c->zones.debounce_ms = 5000;
	c->zones.violation_ms = 10000;
	c->watch.engine_rpm = 300;
	c->watch.engine_debounce_ms = 3000;
	c->watch.ecu_silent_ms = 15000;
	c->watch.dpf_min_kpa = 0.5;
	c->watch.dpf_min_load_pct = 50;
	c->watch.dpf_ms = 60000;
	c->watch.nox_frozen_ms = 300000;
	c->watch.gps_lost_ms = 60000;
	c->gnss.enabled = 0;
	snprintf(c->gnss.host, sizeof(c->gnss.host), "localhost");
	c->gnss.port = 2947;
	c->gnss.max_age_ms = 3000;
	c->gnss.period_moving_ms = 10000;
	c->gnss.period_stopped_ms = 300000;
	c->gnss.distance_m = 100;
	c->gnss.heading_deg = 20;
	c->gnss.stopped_kmh = 3;
	c->gnss.time_floor_s = 0;
	c->gnss.reconnect_max_s = 30;
	c->platform.variant = 0;
	c->fileout.fsync = 1;
	c->platform.diag_period_ms = 600000;
	c->platform.samples_per_frame = 10;
	c->platform.time_offset_h = 8;
	c->platform.reconnect_max_s = 60;
	c->platform.resend_rate = 5;
	c->platform.sw_version = 1;
	c->platform.tls_verify = 1;
}

/* A file that names no device or no source is not a configuration (an
 * empty file, one caught half-written): its defaults would run a gateway
 * that sends nothing, as "emgw", to localhost. */
static void config_check_required(struct config_ctx *ctx)
{
	const struct config *c = ctx->c;

	if (ctx->errors)
		return; /* refused anyway; a bad [can] header would be reported twice */
	if (!config_origin_by_name(ctx, 0, CONFIG_SEC_DEVICE, "id")->file)
		config_error_at(ctx, c->file, 0,
				"[device] id is not set: a configuration must name its device");
	if (c->n_can == 0 && c->n_mbdev == 0 && !c->gnss.enabled)
		config_error_at(ctx, c->file, 0,
				"no source: a configuration needs a [can \"NAME\"], a Modbus"
				" [device \"NAME\"] or [gnss] enabled = yes");
}

/* One reading of path into c; *changed when a file read changed meanwhile. */
static int config_load_once(const char *path, struct config *c, int zeroed, int quiet, int *changed,
			    config_report_fn *report, void *arg)
{
	struct config_ctx *ctx;
	char why[128];
	FILE *fp;
	int errors;

	*changed = 0;
	if (zeroed)
		config_defaults_zeroed(c);
	else
		config_defaults(c);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		log_warnx("%s: out of memory", path);
		return 1;
	}
	ctx->c = c;
	ctx->quiet = quiet;
	ctx->report = report;
	ctx->report_arg = arg;
	if ((size_t)snprintf(c->file, sizeof(c->file), "%s", path) >= sizeof(c->file)) {
		config_error_at(ctx, path, 0, "cannot open: file name too long");
		goto out_free_ctx;
	}
	fp = config_open(ctx, path, why, sizeof(why));
	if (!fp) {
		config_error_at(ctx, path, 0, "cannot open: %s", why);
		goto out_free_ctx;
	}
	memcpy(ctx->files[0], c->file, sizeof(c->file));
	ctx->n_files = 1;
	config_read(ctx, fp, ctx->files[0], 0);
	config_check_can(ctx);
	config_check_smoke(ctx);
	config_check_mqtt(ctx);
	config_check_modbus(ctx);
	config_check_platform(ctx);
	config_check_file(ctx);
	config_check_required(ctx);
	config_fill(ctx);
	*changed = config_changed(ctx);
out_free_ctx:
	errors = ctx->errors;
	free(ctx);
	return errors;
}

/*
 * A file being written while we read it (a reload that caught `cp` halfway)
 * reads as something else: read quietly first; when the files changed
 * meanwhile, or there are errors to print, read again, aloud.  Changed the
 * second time too: an error, and the caller keeps what it runs.
 */
static int config_load_any(const char *path, struct config *c, int zeroed, config_report_fn *report,
			   void *arg)
{
	int errors, changed;

	errors = config_load_once(path, c, zeroed, 1, &changed, NULL, NULL);
	if (errors == 0 && !changed)
		return 0;
	errors = config_load_once(path, c, 0, 0, &changed, report, arg);
	if (changed) {
		if (report)
			report(arg, path, 0, "changed while being read, twice: not used");
		else
			log_warnx("%s: changed while being read, twice: not used", path);
		errors++;
	}
	return errors;
}

int config_load_report(const char *path, struct config *c, config_report_fn *report, void *arg)
{
	return config_load_any(path, c, 0, report, arg);
}

int config_load_zeroed(const char *path, struct config *c)
{
	return config_load_any(path, c, 1, NULL, NULL);
}

int config_load(const char *path, struct config *c)
{
	return config_load_report(path, c, NULL, NULL);
}

/* Keys with a word for a value (uplink and store: issue 7) ------------- */

static const struct config_choice {
	const char *key;
	const char *word;
	int value;
} config_choices[] = {
    {"version", "3.1.1", 4},	    {"version", "5", 5},	 {"backlog_order", "oldest", 0},
    {"backlog_order", "newest", 1}, {"durability", "normal", 0}, {"durability", "full", 1},
    {"algorithm", "sm2", 0},	    {"algorithm", "ed25519", 1},
};

#define CONFIG_N_CHOICES (sizeof(config_choices) / sizeof(config_choices[0]))

static int config_parse_choice(struct config_ctx *ctx, const struct config_key *k, const char *v,
			       void *dst)
{
	char words[128] = "";
	size_t i;

	for (i = 0; i < CONFIG_N_CHOICES; i++) {
		if (strcmp(config_choices[i].key, k->name) != 0)
			continue;
		if (strcmp(config_choices[i].word, v) == 0) {
			*(int *)dst = config_choices[i].value;
			return 0;
		}
		snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s",
			 words[0] ? " or " : "", config_choices[i].word);
	}
	config_error(ctx, "%s: \"%s\" is not %s", k->name, v, words);
	return -1;
}

static const char *config_choice_word(const char *key, int value)
{
	for (size_t i = 0; i < CONFIG_N_CHOICES; i++)
		if (strcmp(config_choices[i].key, key) == 0 && config_choices[i].value == value)
			return config_choices[i].word;
	return "?";
}

/* A private key others can read is no longer private: refuse to start (or
 * to reload) with it.  A missing file is the uplink's to report. */
/* A secret (private key, password) readable by group or others is refused,
 * as ssh refuses such a key. */
static void config_check_secret(struct config_ctx *ctx, enum config_sec sec, const char *key,
				const char *path)
{
	const struct config_origin *o = config_origin_by_name(ctx, 0, sec, key);
	struct stat st;

	if (!path[0] || stat(path, &st) < 0 || (st.st_mode & 077) == 0)
		return;
	config_error_at(ctx, o->file ? o->file : ctx->c->file, o->line,
			"%s: %s is readable by group or others (mode %04o): chmod 600 it", key,
			path, (unsigned)(st.st_mode & 07777));
}

static void config_check_key_mode(struct config_ctx *ctx)
{
	config_check_secret(ctx, CONFIG_SEC_MQTT, "key_file", ctx->c->mqtt.key_file);
	config_check_secret(ctx, CONFIG_SEC_MQTT, "password_file", ctx->c->mqtt.password_file);
	config_check_secret(ctx, CONFIG_SEC_PLATFORM, "key_file", ctx->c->platform.key_file);
}

/* get-config ----------------------------------------------------------- */

static int config_secret(const char *name)
{
	return strcmp(name, "username") == 0 || strstr(name, "password") || strstr(name, "key");
}

/* One key's value as JSON, or NULL for a parser this does not know. */
static json_t *config_value_json(const struct config_key *k, const char *base)
{
	const void *p = base + k->off;

	if (k->parse == config_parse_int)
		return json_integer(*(const int *)p);
	if (k->parse == config_parse_bool)
		return json_boolean(*(const int *)p);
	if (k->parse == config_parse_ms)
		return json_real(*(const int *)p / 1000.0);
	if (k->parse == config_parse_double)
		return json_real(*(const double *)p);
	if (k->parse == config_parse_choice)
		return json_string(config_choice_word(k->name, *(const int *)p));
	if (k->parse == config_parse_string || k->parse == config_parse_path ||
	    k->parse == config_parse_id || k->parse == config_parse_vin ||
	    k->parse == config_parse_topic)
		return json_string(p);
	return NULL;
}

json_t *config_to_json(const struct config *c)
{
	const size_t n_names = sizeof(config_sec_names) / sizeof(config_sec_names[0]);
	json_t *root = json_object(), *cans = json_array();

	if (!root || !cans)
		goto out_free;
	for (int i = 0; i < c->n_can; i++)
		json_array_append_new(cans, json_pack("{s:s}", "name", c->can[i].name));
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *sec;
		json_t *v, *obj;

		if (config_secret(k->name))
			continue;
		if (k->sec == CONFIG_SEC_CAN) {
			for (int j = 0; j < c->n_can; j++)
				if ((v = config_value_json(k, (const char *)&c->can[j])))
					json_object_set_new(json_array_get(cans, j), k->name, v);
			continue;
		}
		if ((size_t)k->sec >= n_names || !(sec = config_sec_names[k->sec]))
			continue; /* named sections other than [can]: not here yet */
		if (!(v = config_value_json(k, (const char *)c)))
			continue;
		obj = json_object_get(root, sec);
		if (!obj)
			json_object_set_new(root, sec, obj = json_object());
		json_object_set_new(obj, k->name, v);
	}
	json_object_set_new(root, "can", cans);
	json_object_set_new(root, "file", json_string(c->file));
	return root;
out_free:
	json_decref(root);
	json_decref(cans);
	return NULL;
}

int config_load_profile(const char *path, struct config *c)
{
	struct config_ctx *ctx;
	int errors;

	config_defaults(c);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		log_warnx("%s: out of memory", path);
		return 1;
	}
	ctx->c = c;
	if ((size_t)snprintf(c->profile[0].path, PATH_MAX, "%s", path) >= PATH_MAX) {
		config_error_at(ctx, path, 0, "cannot open: file name too long");
	} else {
		memcpy(ctx->files[0], c->profile[0].path, PATH_MAX);
		c->n_profile = 1;
		config_profile_read(ctx, 0, ctx->files[0]);
	}
	errors = ctx->errors;
	free(ctx);
	return errors;
}
