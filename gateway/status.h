/* status: the daemon's state as a JSON object, assembled from every module's
 * status, and as a file in the state directory for `emgwd --status` and for
 * anyone on the box, also while the uplink is down.  Owns only that file;
 * reads the modules, changes none. */
#ifndef EMGW_STATUS_H
#define EMGW_STATUS_H

#include <jansson.h>

#include <stdint.h>
#include <stdio.h>

#include "gateway/config.h"

#define STATUS_FILE "status.json"

/* What the status object is made of: the daemon's modules, read only. */
struct status_parts {
	const struct config *cfg;
	struct store *store;
	int stop;
	int64_t start_mono_ms;
	uint64_t records, events;
	uint64_t cmd_answer_errors;
	struct canbus *const *can;
	int n_can;
	struct fieldbus *const *mb; /* CONFIG_MAX_BUS, NULL where none */
	struct gnss *gnss;
	struct uplinks *uplinks;
	struct smoke *smoke;
	struct watch *watch;
	struct zones *zones;
	struct seal *seal; /* NULL: rows are not sealed */
};

/* The status object (`emgwd --status`, the status topic, the `status`
 * command); NULL when out of memory. */
json_t *status_build(const struct status_parts *p);

/* Write text (the status as JSON) to dir/status.json atomically (write,
 * rename).  0 or -1 (logged once per change of outcome). */
int status_write(const char *dir, const char *text);
/* Write text where it lives while emgwd runs (the run directory, RAM under
 * systemd); final: a clean stop, whose last copy also goes to the state
 * directory, replacing the link to the run copy. */
void status_publish(const struct config *cfg, const char *text, int final);
/* The directory status.json is rewritten in while the daemon runs: [device]
 * run_dir, else $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=, the first
 * one), else state_dir. */
const char *status_run_dir(const struct config *cfg);
/* At start, when the run directory is not the state directory: make
 * state_dir/status.json a symbolic link to the run copy, so whoever reads
 * the state directory (also `emgwd --status` without run_dir) sees the live
 * state.  0 or -1 (logged). */
int status_link(const char *run_dir, const char *state_dir);
/* The directory `emgwd --status` reads: the run directory when it holds a
 * status.json, else state_dir (the last copy of a clean stop). */
const char *status_read_dir(const struct config *cfg);
/* `emgwd --status`: print the state in dir for a person (one line a part,
 * then every figure), or with json as the JSON object.  Exit status: 0 when
 * a running daemon wrote it, 1 when none runs, 2 when there is no file. */
int status_print(const char *dir, int json, FILE *out);

#endif
