/* watch: engine state, tamper and health events.  Once a tick it reads the
 * signal table and what the daemon tells it (age of the newest CAN and
 * Modbus data, the GNSS fix) and raises `engine` start/stop, `ecu-silent`,
 * `meter-lost`, `gps-lost`, `dpf-low`, `nox-frozen` (each start/end, each
 * debounced so one cause is one event), and at start `restart` and
 * `config-changed`.  Owns two small files in state_dir: `running` (present
 * while emgwd runs: left behind, the stop was not clean) and `config.hash`.
 * Reads the table; writes nothing of the daemon's. */
#ifndef EMGW_WATCH_H
#define EMGW_WATCH_H

#include <stdint.h>

#include "gateway/config.h"
#include "gateway/table.h"
#include "protocols/payload.h"

#define WATCH_MAX_METERS CONFIG_MAX_MBDEV

/* What the daemon knows this tick besides the table. */
struct watch_input {
	int64_t now_ms;
	int n_can;				 /* CAN sources configured */
	int64_t can_age_ms;			 /* since the newest CAN data, -1: none yet */
	int n_meters;				 /* Modbus devices */
	const char *meter[WATCH_MAX_METERS];	 /* device names */
	const char *meter_bus[WATCH_MAX_METERS]; /* ... and their buses */
	int64_t meter_age_ms[WATCH_MAX_METERS];	 /* since its newest value, -1: none yet */
	int gnss_enabled;
	int have_fix;
};

/* A watched condition with its debounce and its open event. */
struct watch_cond {
	int64_t since_ms; /* first tick it held, -1 */
	int64_t clear_ms; /* first tick it did not hold while open, -1 */
	int open;
};

struct watch {
	struct config_watch cfg;
	char state_dir[PATH_MAX];
	int engine_on; /* debounced */
	int64_t engine_flip_ms, engine_since_ms;
	struct watch_cond ecu, gps, dpf, nox[2], meter[WATCH_MAX_METERS];
	double nox_last[2];
	double dpf_sum, dpf_load_sum;
	int dpf_n;
	int started;	  /* the restart event went out ... */
	int64_t first_ms; /* ... at this tick: uptime for "no CAN data yet" */
	int unclean;	  /* the marker was there at start */
	char hash_old[17], hash_new[17];
};

/* Settings, and the start-up checks: the `running` marker (written now) and
 * the configuration file's hash against the last run's.  The events they
 * give go out with the first tick. */
void watch_init(struct watch *w, const struct config *cfg);
/* New settings after a reload of cfg_path: `config-changed` on the next tick
 * when the file's hash moved. */
void watch_reload(struct watch *w, const struct config *cfg);
/* One tick. */
void watch_tick(struct watch *w, const struct table *t, const struct watch_input *in,
		payload_event_fn *emit, void *ctx);
/* The engine runs (debounced). */
int watch_engine_running(const struct watch *w);
/* A clean stop: the marker goes. */
void watch_stop(struct watch *w);
/* FNV-1a 64 of a file's bytes as 16 hex digits into out[17]; -1 when it
 * cannot be read. */
int watch_file_hash(const char *path, char out[17]);

#endif
