/* daemon: the running gateway.  Owns the one poll() loop, the configuration
 * in force, and every module's handle; wires sources -> table -> sampler and
 * detectors -> report -> store -> uplink, in that one direction. */
#ifndef EMGW_DAEMON_H
#define EMGW_DAEMON_H

#include "gateway/config.h"

struct daemon_opts {
	const char *config_path;
	int echo_stdout;    /* --stdout */
	int exit_when_done; /* --exit-when-done */
};

/* Run until SIGTERM/SIGINT (or, with exit_when_done, until every replay has
 * ended and everything is sent).  cfg is the checked configuration.
 * Returns the process exit status. */
int daemon_run(const struct config *cfg, const struct daemon_opts *opts);

#endif
