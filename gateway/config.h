/* config: the one configuration file (INI, parsed with inih), its defaults and
 * its checks.  Owns struct config; never touches running modules: a reload
 * parses into a new struct and main swaps it in only when it has no errors. */
#ifndef EMGW_CONFIG_H
#define EMGW_CONFIG_H

#include <limits.h>

#include "protocols/j1939.h"

#include "protocols/mbpoint.h"

#define CONFIG_MAX_CAN	     4
#define CONFIG_MAX_PGN_LIST  16
#define CONFIG_MAX_OVERRIDES 8
#define CONFIG_EXIT_BAD	     78	 /* EX_CONFIG */
#define CONFIG_MAX_BUS	     8	 /* Modbus lines and TCP endpoints */
#define CONFIG_MAX_MBDEV     16	 /* Modbus devices, all buses together */
#define CONFIG_MAX_PROFILES  8	 /* distinct profile files */
#define CONFIG_MAX_POINTS    512 /* points, all profiles together */

struct config_can {
	char name[32];	    /* [can "name"] */
	char interface[16]; /* SocketCAN interface, or "" */
	char log[PATH_MAX]; /* candump log to replay, or "" */
	double speed;	    /* replay speed: 1 = recorded, 0 = as fast as possible */
	int loop;	    /* replay the log again when it ends */
	int sa;		    /* take signals only from this source address, or -1: any */
	int n_pgn_sa;	    /* per-PGN source addresses, overriding sa */
	struct {
		unsigned pgn;
		int sa;
	} pgn_sa[CONFIG_MAX_PGN_LIST];
	int n_ignore; /* PGNs not to decode */
	unsigned ignore_pgn[CONFIG_MAX_PGN_LIST];
	int request; /* ask for on-request PGNs (claims an address first) */
	int request_period_ms;
	int address;		       /* preferred source address for our claim */
	unsigned long long claim_name; /* our J1939 NAME */
	int n_override;		       /* SPN layout corrections for a quirky engine */
	struct j1939_override override[CONFIG_MAX_OVERRIDES];
};

enum config_bus_type { CONFIG_BUS_RTU, CONFIG_BUS_TCP };

/* [bus "name"]: a Modbus RTU line or a Modbus TCP endpoint. */
struct config_bus {
	char name[32];
	int type;	  /* enum config_bus_type */
	char device[128]; /* RTU: serial device */
	int baud;
	int parity; /* 'N', 'E' or 'O' */
	int data_bits;
	int stop_bits;
	int rs485;	    /* ask the driver for RS-485 mode */
	int frame_delay_ms; /* quiet time between transactions */
	char host[256];	    /* TCP */
	int port;
	int response_timeout_ms;
	int byte_timeout_ms;	  /* 0: none */
	int max_gap;		  /* registers the planner reads across */
	int backoff_max_ms;	  /* cap of a silent device's back-off */
	int refused_retry_ms;	  /* first retry of a point the device refuses */
	int refused_retry_max_ms; /* ... doubling up to this */
};

/* [device "name"]: a Modbus slave on a bus, read with a profile. */
struct config_mbdev {
	char name[32];
	char bus_name[32];
	int bus;	 /* index in config.bus */
	int unit;	 /* slave address / unit id */
	int profile;	 /* index in config.profile */
	int interval_ms; /* poll period */
	int instance;	 /* engine instance its signals belong to */
};

/* A profile file: its points are config.point[first .. first + n). */
struct config_profile {
	char path[PATH_MAX];
	int first;
	int n;
};

struct config_mqtt {
	int enabled;
	char host[256];
	int port;
	char client_id[128]; /* default "emgw-<id>" */
	char prefix[64];     /* topic prefix */
	int keepalive_s;
	int qos;		/* 0 or 1 */
	char ca_file[PATH_MAX]; /* TLS when set */
	char cert_file[PATH_MAX];
	char key_file[PATH_MAX];
	int tls_verify; /* verify the server certificate (default 1) */
	char username[128];
	char password_file[PATH_MAX];
	int inflight;	     /* messages in flight at most */
	int reconnect_max_s; /* back-off cap */
	int version;	     /* MQTT protocol: 4 (3.1.1) or 5 */
	int backlog_rate;    /* backlog records sent per second at most; 0: no limit */
	int backlog_newest;  /* drain the backlog newest first */
	int batch_max;	     /* records per telemetry message; 1: one record, no batch */
	int batch_age_ms;    /* a live record waits at most this long for a batch */
	int compress;	     /* zlib-compress telemetry, on <prefix>/<id>/telemetry/z */
	int cert_warn_days;  /* warn this many days before a certificate expires */
	int max_packet;	     /* bytes of an MQTT packet the broker takes, at most; 0: no limit */
	int command_rate;    /* commands run per second, at most (more: refused) */
	char operator_key[PATH_MAX]; /* PEM public key signing set-config, or "" */
	int confirm_window_ms;	     /* a pushed configuration's time to be confirmed */
};

struct config_store {
	char path[PATH_MAX]; /* default <state_dir>/emgw.db */
	int retention_days;
	int max_size_mb;
	int durability_full;	/* durability = full: fsync every commit */
	int commit_interval_ms; /* commit at most this often (alarms at once) */
	int keep_sent_days;	/* rows every uplink has stay this long (0: deleted) */
};

struct config_sample {
	int period_ms;
	int stale_ms; /* a value older than this is left out of records */
};

struct config_smoke {
	int enabled;
	double lambda_max;   /* smoke when lambda is below this ... */
	double lambda_exit;  /* ... and ends when it is back above this (hysteresis) */
	double min_load_pct; /* ... while load is above this */
	int min_duration_ms; /* ... for at least this long */
	double fuel_density; /* kg/L */
	double afr_stoich;   /* stoichiometric air-fuel ratio of the fuel */
	double min_fuel_lph; /* below this no lambda is estimated */
	/* issue 8: three rules, each with its own gates (lambda's are above) */
	int lambda_enabled;
	double load_hyst_pct; /* an episode ends once load is this far below its rule's min */
	int update_ms;	      /* an `update` this often while an episode lasts */
	int evidence_s;	      /* 1 Hz engine data this long before and after, with `end` */
	double warmup_c;      /* exempt while coolant is below this (cold start) ... */
	double cold_load_pct; /* ... and the load below this (cold idle, not cold smoke) */
	double crank_rpm;     /* exempt while engine speed is below this (cranking, stopped) */
	int start_exempt_ms;  /* and this long after it rose above crank_rpm */
	int fuel_cut_exempt;  /* exempt while the fuel rate is below min_fuel_lph */
	int regen_exempt;     /* exempt while dpf_regen is 1 */
	int opacity_enabled;
	double opacity_path_m;	   /* the meter's effective optical path length */
	double opacity_limit_k;	   /* m^-1; 0: from the GB 36886 table below */
	double opacity_exit_ratio; /* an episode ends below limit * this */
	double opacity_min_load_pct;
	int opacity_min_duration_ms;
	double gb36886[3][3]; /* [class I..III][< 19 kW, 19..37 kW, >= 37 kW], m^-1 */
	int transient_enabled;
	double transient_min_load_pct;
	int transient_min_duration_ms;	 /* a lag this long is an episode by itself */
	double transient_boost_full_kpa; /* boost a healthy turbo gives at 100 % load */
	double transient_boost_frac;	 /* lagging: boost below this fraction of that */
	double transient_min_rpm;	 /* below this speed boost is not expected */
	int transient_lag_ms;		 /* a lag longer than this is a failed step ... */
	int transient_repeat;		 /* ... and this many ... */
	int transient_window_ms;	 /* ... within this long are an episode */
	int transient_exit_ms;		 /* an episode ends after this long without a lag */
};

struct config_zones {
	char file[PATH_MAX]; /* GeoJSON of prohibited zones; "" for none */
	int file_line;	     /* where `file` was set, for -n's message */
	int debounce_ms;     /* inside (or outside) this long before enter (leave) counts */
	int violation_ms;    /* engine running inside a prohibiting zone this long: violation */
};

struct config_watch {
	double engine_rpm;	 /* the engine runs above this speed */
	int engine_debounce_ms;	 /* start and stop must hold this long */
	int ecu_silent_ms;	 /* no CAN frame this long: `ecu-silent` */
	int has_dpf;		 /* the machine has a DPF: watch its differential pressure */
	double dpf_min_kpa;	 /* below this ... */
	double dpf_min_load_pct; /* ... at this load or more ... */
	int dpf_ms;		 /* ... this long: `dpf-low` */
	int nox_frozen_ms;	 /* a NOx reading unchanged this long with the engine running */
	int gps_lost_ms;	 /* no valid fix this long with the engine running */
};

struct config_gnss {
	int enabled;
	char host[256]; /* gpsd host: a loopback or local name (see gnss.c) */
	int port;
	int max_age_ms;		  /* a fix older than this is not valid */
	int period_moving_ms;	  /* track point period while moving ... */
	int period_stopped_ms;	  /* ... and while stopped */
	double distance_m;	  /* track point after this distance (0: off) */
	double heading_deg;	  /* track point after this change of course (0: off) */
	double stopped_kmh;	  /* below this speed the machine stands */
	long long time_floor_s;	  /* GNSS time before this is not trusted; 0: build date */
	long long time_ceiling_s; /* ... nor from this on, unconfirmed; 0: build date + 5 y */
	int reconnect_max_s;	  /* back-off cap */
};

struct config_platform {
	int enabled;
	char host[256]; /* numeric address, or a name resolved once at start */
	int port;
	int variant;		      /* 0 nrmm (HJ 1322), 1 road (HJ 1239), 2 gb17691 (Annex Q) */
	int period_ms;		      /* data stream period; 0: 60 s nrmm, 10 s road */
	int diag_period_ms;	      /* diagnostics period */
	int samples_per_frame;	      /* road: samples in one frame */
	int sign;		      /* sign reports with the SM2 key */
	char key_file[PATH_MAX];      /* PEM SM2 private key */
	char chip_id[17];	      /* security chip id, 16 characters */
	char user_id[65];	      /* SM2 distinguishing id; empty: chip_id */
	char iccid[21];		      /* SIM ICCID, or "mmcli" to ask ModemManager */
	int time_offset_h;	      /* platform time = UTC + this */
	char egr_cmd_signal[64];      /* signal of the commanded EGR opening, or "" */
	int reconnect_max_s;	      /* back-off cap */
	int resend_rate;	      /* re-send frames per second at most */
	int sw_version;		      /* terminal software version byte */
	int activate;		      /* send the activation frame (0x07) after login */
	int tls;		      /* TLS on the link */
	int tls_verify;		      /* verify the platform's certificate (default yes) */
	char ca_file[PATH_MAX];	      /* CA certificates (PEM); empty: the system's */
	char cert_file[PATH_MAX];     /* client certificate (PEM), optional */
	char cert_key_file[PATH_MAX]; /* its private key */
};

struct config_fileout {
	int enabled;
	char path[PATH_MAX]; /* each row's JSON appended as one line */
	int fsync;	     /* fsync before acknowledging (default yes) */
};

/* [seal]: the chain of signed hashes over every row (gateway/seal.h) */
struct config_seal {
	int rows;	 /* a seal every this many rows ... */
	int interval_ms; /* ... or this often, whichever comes first */
	int ed25519;	 /* algorithm = ed25519 (default sm2) */
	int drain_ms;	 /* at a stop, the uplinks send what is committed this long at most */
};

struct config {
	char file[PATH_MAX]; /* the file this came from */
	char id[64];	     /* device id: [A-Za-z0-9_-], goes into topics */
	char vin[18];
	int stage; /* emission stage, 1..4 (China non-road) or 5..6 road */
	double rated_power_kw;
	char state_dir[PATH_MAX];
	char run_dir[PATH_MAX]; /* live status.json; "": $RUNTIME_DIRECTORY or state_dir */
	struct config_can can[CONFIG_MAX_CAN];
	int n_can;
	struct config_bus bus[CONFIG_MAX_BUS];
	int n_bus;
	struct config_mbdev mbdev[CONFIG_MAX_MBDEV];
	int n_mbdev;
	struct config_profile profile[CONFIG_MAX_PROFILES];
	int n_profile;
	struct mbpoint point[CONFIG_MAX_POINTS];
	int n_point;
	struct config_mqtt mqtt;
	struct config_store store;
	struct config_sample sample;
	struct config_smoke smoke;
	struct config_zones zones;
	struct config_watch watch;
	struct config_gnss gnss;
	struct config_platform platform;
	struct config_fileout fileout;
	struct config_seal seal;
};

/* Fill c with the defaults. */
void config_defaults(struct config *c);
/* Parse path into c (defaults first).  Every error is printed to stderr as
 * "file:line: what is wrong"; returns the number of errors (0: usable). */
int config_load(const char *path, struct config *c);
/* The same into a c that is all zero (static, pages_alloc): the slots not
 * configured are never written, so their pages stay out of RSS. */
int config_load_zeroed(const char *path, struct config *c);
/* Where config_load_report hands each error (file, line (0: none), message). */
typedef void config_report_fn(void *arg, const char *file, int line, const char *msg);
/* config_load, each error handed to report instead of printed (NULL:
 * printed): a remote set-config answers with them. */
int config_load_report(const char *path, struct config *c, config_report_fn *report, void *arg);
/* Read one Modbus profile file alone into c->profile[0] and c->point (for
 * the simulator and tools); errors as config_load. */
int config_load_profile(const char *path, struct config *c);
/* The first [can] key (its name in the file) whose value differs between
 * a and b, or NULL when they are the same source. */
const char *config_can_changed(const struct config_can *a, const struct config_can *b);
/* The first [gnss] key whose value differs between a and b, or NULL. */
const char *config_gnss_changed(const struct config *a, const struct config *b);
/* The device after device i (-1: the first) on bus `bus` of c, or -1. */
int config_bus_next_dev(const struct config *c, int bus, int i);
/* 1 when bus ba of a and bus bb of b (the same name) differ: a [bus] key,
 * its devices (which, in which order, their keys and profiles' points);
 * why says what ("baud changed").  0 when they are the same. */
int config_bus_changed(const struct config *a, int ba, const struct config *b, int bb, char *why,
		       size_t size);
/* The configuration c as JSON (for the get-config command), without
 * secrets: username, password_file and key files are left out.  New
 * reference, NULL when out of memory. */
struct json_t;
struct json_t *config_to_json(const struct config *c);

#endif
