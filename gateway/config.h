/* config: the one configuration file (INI, parsed with inih), its defaults and
 * its checks.  Owns struct config; never touches running modules: a reload
 * parses into a new struct and main swaps it in only when it has no errors. */
#ifndef EMGW_CONFIG_H
#define EMGW_CONFIG_H

#include <limits.h>

#define CONFIG_MAX_CAN 4
#define CONFIG_EXIT_BAD 78 /* EX_CONFIG */

struct config_can {
	char name[32];           /* [can "name"] */
	char interface[16];      /* SocketCAN interface, or "" */
	char log[PATH_MAX];      /* candump log to replay, or "" */
	double speed;            /* replay speed: 1 = recorded, 0 = as fast as possible */
	int loop;                /* replay the log again when it ends */
};

struct config_mqtt {
	int enabled;
	char host[256];
	int port;
	char client_id[128];     /* default "emgw-<id>" */
	char prefix[64];         /* topic prefix */
	int keepalive_s;
	int qos;                 /* 0 or 1 */
	char ca_file[PATH_MAX];  /* TLS when set */
	char cert_file[PATH_MAX];
	char key_file[PATH_MAX];
	int tls_verify;          /* verify the server certificate (default 1) */
	char username[128];
	char password_file[PATH_MAX];
	int inflight;            /* messages in flight at most */
	int reconnect_max_s;     /* back-off cap */
};

struct config_store {
	char path[PATH_MAX];     /* default <state_dir>/emgw.db */
	int retention_days;
	int max_size_mb;
};

struct config_sample {
	int period_ms;
	int stale_ms;            /* a value older than this is left out of records */
};

struct config_smoke {
	int enabled;
	double lambda_max;       /* smoke when lambda is below this ... */
	double lambda_exit;      /* ... and ends when it is back above this (hysteresis) */
	double min_load_pct;     /* ... while load is above this */
	int min_duration_ms;     /* ... for at least this long */
	double fuel_density;     /* kg/L */
	double afr_stoich;       /* stoichiometric air-fuel ratio of the fuel */
	double min_fuel_lph;     /* below this no lambda is estimated */
};

struct config {
	char file[PATH_MAX];     /* the file this came from */
	char id[64];             /* device id: [A-Za-z0-9_-], goes into topics */
	char vin[18];
	int stage;               /* emission stage, 1..4 (China non-road) or 5..6 road */
	double rated_power_kw;
	char state_dir[PATH_MAX];
	struct config_can can[CONFIG_MAX_CAN];
	int n_can;
	struct config_mqtt mqtt;
	struct config_store store;
	struct config_sample sample;
	struct config_smoke smoke;
};

/* Fill c with the defaults. */
void config_defaults(struct config *c);
/* Parse path into c (defaults first).  Every error is printed to stderr as
 * "file:line: what is wrong"; returns the number of errors (0: usable). */
int config_load(const char *path, struct config *c);

#endif
