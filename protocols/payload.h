/* payload: the records and events emgwd stores and sends, as fixed typed
 * structs (no allocation), and the one codec between them and the JSON of
 * README's payload schema: encode into a caller's buffer, byte for byte what
 * jansson's compact dump with 12 significant digits gave; decode through
 * jansson.  One table of event types: name, store class, fields in order.
 * Pure: no I/O, no logging, no globals. */
#ifndef EMGW_PAYLOAD_H
#define EMGW_PAYLOAD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/signals.h"

#define PAYLOAD_VERSION		1
#define PAYLOAD_INSTANCES	4   /* engine instances in a record: name, name@1.. */
#define PAYLOAD_MAX_CUSTOM	256 /* named (Modbus) values in one record */
#define PAYLOAD_CUSTOM_NAME	40  /* a custom value's name, with '\0' */
#define PAYLOAD_TEXT_MAX	72  /* a custom text value, with '\0' */
#define PAYLOAD_MAX_DTCS	64  /* codes in one dtc list */
#define PAYLOAD_MAX_RATIOS	16  /* monitor ratios in one obd event */
#define PAYLOAD_MAX_STAGES	6
#define PAYLOAD_EVIDENCE_FIELDS 13
#define PAYLOAD_EVIDENCE_ROWS	384 /* the head (128) and the ring (256) of smoke */
#define PAYLOAD_RAW_FIELDS	8   /* signals an evidence keeps at signal rate */
#define PAYLOAD_RAW_POINTS	64  /* values a raw field keeps (thinned beyond) */

/* An optional number, integer or time that is absent. */
#define PAYLOAD_NONE	NAN
#define PAYLOAD_NO_INT	INT64_MIN
#define PAYLOAD_NO_TIME INT64_MIN

enum payload_err {
	PAYLOAD_OK = 0,
	PAYLOAD_E_SPACE = -1, /* does not fit the buffer */
	PAYLOAD_E_VALUE = -2, /* a value JSON cannot carry: not finite, not UTF-8, out of range */
	PAYLOAD_E_JSON = -3,  /* not a JSON object */
	PAYLOAD_E_FIELD = -4, /* a field missing, of the wrong type or too long */
	PAYLOAD_E_TYPE = -5,  /* no such event type */
};

/* Where ts came from; the same order as the gateway's clock sources. */
enum payload_ts_src {
	PAYLOAD_TS_UNSYNCED,
	PAYLOAD_TS_RTC,
	PAYLOAD_TS_NTP,
	PAYLOAD_TS_GNSS,
	PAYLOAD_TS_REPLAY,
	PAYLOAD_TS_COUNT
};

/* The store's eviction classes, in the store's order. */
enum payload_class {
	PAYLOAD_CLASS_ROUTINE,	/* records without a valid position */
	PAYLOAD_CLASS_POSITION, /* records with one (the track) */
	PAYLOAD_CLASS_EVENT,
	PAYLOAD_CLASS_ALARM, /* what the box exists for: evicted last */
};

enum payload_type {
	PAYLOAD_RECORD, /* not an event: the sample record */
	PAYLOAD_EV_CLOCK,
	PAYLOAD_EV_SMOKE,
	PAYLOAD_EV_ZONE,
	PAYLOAD_EV_ZONE_VIOLATION,
	PAYLOAD_EV_ENGINE,
	PAYLOAD_EV_ECU_SILENT,
	PAYLOAD_EV_METER_LOST,
	PAYLOAD_EV_GPS_LOST,
	PAYLOAD_EV_DPF_LOW,
	PAYLOAD_EV_NOX_FROZEN,
	PAYLOAD_EV_RESTART,
	PAYLOAD_EV_CONFIG_CHANGED,
	PAYLOAD_EV_DTC,
	PAYLOAD_EV_VIN_MISMATCH,
	PAYLOAD_EV_GAP,		   /* a replayed log with no frame for a while */
	PAYLOAD_EV_STORE,	   /* the store was unusable: moved aside, or in RAM */
	PAYLOAD_EV_POINT_LOST,	   /* a Modbus point the device refuses */
	PAYLOAD_EV_ZONES_DISABLED, /* the zones file could not be used */
	PAYLOAD_EV_ROW_TOO_LARGE,  /* an uplink could never send a row: parked */
	PAYLOAD_EV_TURBO_LAG,	   /* boost trailing the load, no smoke confirms it */
	PAYLOAD_EV_SEAL,	   /* a signed hash of a seq range of a boot (seal.h) */
	/* a pushed configuration taken back (remote.h) */
	PAYLOAD_EV_CONFIG_ROLLBACK,
	PAYLOAD_EV_OBD,	    /* a controller's DM5/DM19/DM20 changed (diag.h) */
	PAYLOAD_EV_EVICTED, /* rows the store removed unsent, with their hashes */
	PAYLOAD_TYPE_COUNT
};

#define PAYLOAD_EVICTED_MAX 64 /* rows an evicted event lists, at most */

/* Every record and event opens with this. */
struct payload_header {
	int64_t v;
	char dev[64];
	char sid[40]; /* the store's id (hex); "" in rows made before it existed */
	uint64_t boot, seq;
	int64_t ts_ms; /* wall time, written as UTC ISO 8601 with ms */
	enum payload_ts_src ts_src;
	int64_t mono_ms;
};

/* `pos`: absent members are PAYLOAD_NONE / PAYLOAD_NO_INT / PAYLOAD_NO_TIME / "". */
struct payload_pos {
	int present;
	int valid;
	double lat, lon, age_s, alt_m, speed_kmh, course_deg;
	char fix[8];	  /* "2d", "3d", "none" */
	char quality[12]; /* "gps", "rtk_fixed", ... */
	int64_t sats_used;
	double hdop, eph_m;
	int64_t fix_ts_ms;
	char point[12]; /* "fix", "distance", "heading", "period" */
};

/* A named value from a Modbus point, "name" or "name@instance". */
struct payload_custom {
	char name[PAYLOAD_CUSTOM_NAME];
	int instance; /* 0: no suffix */
	int is_text;
	double value;
	char text[PAYLOAD_TEXT_MAX];
};

struct payload_record {
	/* sig: canonical signals (bit s of have[i]: v[i][s] is there), then
	 * the custom values in their order */
	uint64_t have[PAYLOAD_INSTANCES];
	double v[PAYLOAD_INSTANCES][SIG_COUNT];
	int n_custom;
	int custom_dropped; /* values that did not fit (counted, not sent) */
	struct payload_custom custom[PAYLOAD_MAX_CUSTOM];
	struct payload_pos pos;
	char trigger[16]; /* "snapshot", or "" */
};

struct payload_dtc {
	uint32_t spn;
	int64_t fmi, oc;
};

struct payload_dtcs {
	int n;
	struct payload_dtc d[PAYLOAD_MAX_DTCS];
};

/* A DM20 monitor's in-use performance ratio. */
struct payload_ratio {
	uint32_t spn;
	int64_t num, den;
};

struct payload_ratios {
	int n;
	struct payload_ratio r[PAYLOAD_MAX_RATIOS];
};

struct payload_stages {
	int n;
	int64_t s[PAYLOAD_MAX_STAGES];
};

/* A smoke episode's 1 Hz evidence: rows of [t_s, v...], null where the
 * bit of `have` is clear; and its raw inputs at signal rate. */
struct payload_evidence_row {
	double t_s;
	double v[PAYLOAD_EVIDENCE_FIELDS];
	uint32_t have;
};

/* One value as received, at its own time (t_s from the evidence's from). */
struct payload_raw_point {
	double t_s, v;
};

/* The episode's inputs at signal rate: per field the values kept and how
 * many were received (more than kept: thinned, extremes kept). */
struct payload_raw {
	int n_fields; /* 0: no raw part */
	enum sig_id fields[PAYLOAD_RAW_FIELDS];
	int n[PAYLOAD_RAW_FIELDS];
	int64_t received[PAYLOAD_RAW_FIELDS];
	struct payload_raw_point p[PAYLOAD_RAW_FIELDS][PAYLOAD_RAW_POINTS];
};

struct payload_evidence {
	int64_t from_ms;
	int n_fields;
	enum sig_id fields[PAYLOAD_EVIDENCE_FIELDS];
	int n_rows;
	struct payload_evidence_row rows[PAYLOAD_EVIDENCE_ROWS];
	double skipped_s;
	struct payload_raw raw;
};

/* One event: `type` says which members are its fields (payload.c's table);
 * absent optional members are PAYLOAD_NONE / PAYLOAD_NO_INT /
 * PAYLOAD_NO_TIME / "" / a NULL evidence, as payload_event_init leaves them. */
struct payload_event {
	enum payload_type type;
	char state[12]; /* start, update, end, stop, enter, leave, moved-aside, ram */
	/* clock */
	int64_t from_ms, to_ms;
	double jump_s;
	char clock[8];
	/* gap (from_ms, to_ms too) */
	double gap_s;
	/* store (state: moved-aside, ram) */
	char problem[256]; /* store, zones-disabled: why; point-lost: reason */
	char moved_to[256];
	/* meter-lost, point-lost */
	char device[32];
	char point[40];
	char table[20];
	int64_t address;
	double lost_s;
	/* row-too-large */
	char uplink[16];
	int64_t row_seq, packet_bytes, max_packet;
	/* smoke */
	char rule[12];
	int64_t since_ms; /* smoke, zone-violation */
	double duration_s;
	char quantity[20];
	double peak, mean, load_mean_pct; /* load_mean_pct: smoke, dpf-low */
	double lambda_min, lambda_mean, k_max_m1, k_mean_m1, limit_k_m1;
	int64_t ended_ms;
	char end_reason[16];
	const struct payload_evidence *evidence; /* not owned */
	char rules[32];		  /* smoke: every rule that agreed, comma-separated */
	char confidence[8];	  /* smoke: high, medium, low */
	double boost_deficit_kpa; /* smoke (transient agreed), turbo-lag */
	/* zone, zone-violation */
	char zone[64];
	int prohibited;
	int64_t stage;
	struct payload_stages prohibited_stages;
	double lat, lon;
	/* engine, watch */
	double engine_speed_rpm, run_s;
	char reason[12];
	double last_frame_age_s;
	int engine_was_running;
	char bus[32];
	double last_value_age_s, held_s, cleared_s, dpf_dp_mean_kpa, limit_kpa;
	char signal[32];
	double value;
	int clean;
	char from_hash[20], to_hash[20];
	/* dtc, vin-mismatch */
	int64_t sa;
	struct payload_dtcs appeared, cleared, active;
	char mil[8], red_stop[8], amber[8];
	int mil_changed;
	char configured[20], engine[32];
	/* obd (sa, mil too; engine: the bus VIN): a controller's OBD data */
	char protocol[12];
	int64_t obd_support, obd_readiness;
	char cal_id[20], cvn[12];
	int64_t ign_cycles, obd_conditions;
	struct payload_ratios ratios;
	/* seal: rows sealed_from..sealed_to of boot sealed_boot; hex hashes,
	 * key id, its algorithm (sm2, ed25519), hex r || s */
	int64_t sealed_boot, sealed_from, sealed_to;
	char seal_hash[72], seal_prev[72], seal_key[24], seal_alg[12], seal_sig[136];
	/* config-rollback (problem: why): sha256 of the file in force
	 * before and of the one taken back, hex */
	char old_sha256[65], new_sha256[65];
	/* evicted: evicted_n rows of boot sealed_boot, seq sealed_from..
	 * sealed_to, as "SEQ=HASH" (hex SM3 of the row) or "SEQ" (gone before
	 * it was hashed), comma-separated, in seq order */
	int64_t evicted_n;
	char evicted_rows[PAYLOAD_EVICTED_MAX * 86 + 1];
	/* every event, with [gnss] */
	struct payload_pos pos;
};

/* The one callback type for events: the receiver may add pos, then stores
 * or copies it; the event is the sender's again when it returns. */
typedef void payload_event_fn(void *ctx, struct payload_event *ev);

/* An empty event of this type: every optional member absent. */
void payload_event_init(struct payload_event *ev, enum payload_type type);
/* An empty record: no signal, no custom value, no pos, no trigger. */
void payload_record_init(struct payload_record *rec);
/* An absent pos. */
void payload_pos_init(struct payload_pos *pos);

/* A canonical signal value (instance 0..PAYLOAD_INSTANCES-1). */
void payload_record_set(struct payload_record *rec, enum sig_id sig, int instance, double v);
/* A custom value, numeric (text NULL) or text; a second value of the same
 * name and instance replaces the first in its place.  0, or -1 when it does
 * not fit (counted in custom_dropped), is not UTF-8 or its name is too long. */
int payload_record_custom(struct payload_record *rec, const char *name, int instance,
			  const char *text, double value);
/* The numeric value under a record key ("fuel_rate_lph", "name@1", a
 * custom name): 1 and *v, or 0. */
int payload_record_value(const struct payload_record *rec, const char *key, double *v);

/* Copy src into dst[size], cut on a UTF-8 character boundary when it is too
 * long.  1 when cut, else 0. */
int payload_strlcpy(char *dst, size_t size, const char *src);
/* 1 when s (len bytes) is UTF-8 as JSON strings must be (no surrogates,
 * nothing above U+10FFFF, no overlong forms, no NUL). */
int payload_utf8_valid(const char *s, size_t len);

/* "smoke", "zone-violation", ...; "record" for PAYLOAD_RECORD; "?" when out of range. */
const char *payload_type_name(enum payload_type type);
/* The type of that name, or PAYLOAD_E_TYPE. */
int payload_type_lookup(const char *name);
/* Where an event of this type goes when the store is full. */
enum payload_class payload_event_class(enum payload_type type);
/* A record's class: with a valid pos it is the track. */
enum payload_class payload_record_class(const struct payload_record *rec);
/* "unsynced", "rtc", "ntp", "gnss", "replay". */
const char *payload_ts_src_name(enum payload_ts_src src);

/* UTC ISO 8601 with milliseconds, "2023-11-14T22:13:20.000Z", into buf
 * (32 bytes are enough for every int64). */
void payload_format_iso(int64_t wall_ms, char *buf, size_t size);
/* The inverse for exactly that form: 0 and *wall_ms, or PAYLOAD_E_VALUE. */
int payload_parse_iso(const char *s, int64_t *wall_ms);

/* The JSON text of h + rec, or of h + ev, into buf[size] with a '\0':
 * its length, or a negative enum payload_err (buf then holds nothing
 * usable). */
int payload_encode_record(const struct payload_header *h, const struct payload_record *rec,
			  char *buf, size_t size);
int payload_encode_event(const struct payload_header *h, const struct payload_event *ev, char *buf,
			 size_t size);
/* Decode what payload_encode_* made (key order free, unknown keys ignored).
 * evidence receives a smoke end's evidence (ev->evidence then points at
 * it); with evidence NULL it is skipped.  0 or a negative enum payload_err. */
int payload_decode_record(const char *text, size_t len, struct payload_header *h,
			  struct payload_record *rec);
int payload_decode_event(const char *text, size_t len, struct payload_header *h,
			 struct payload_event *ev, struct payload_evidence *evidence);
/* A message for a negative code. */
const char *payload_strerror(int err);

#endif
