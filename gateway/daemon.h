/* daemon: the running gateway, wiring only.  Owns the one poll() loop, the
 * configuration in force, and every module's handle; wires sources -> table
 * -> core (sampler and detectors) -> report -> store -> uplinks, in that one
 * direction.  Sets no other module's fields: a reload hands each module the
 * old and new configuration and it reconfigures itself. */
#ifndef EMGW_DAEMON_H
#define EMGW_DAEMON_H

#include "gateway/config.h"

struct daemon_opts {
	const char *config_path;
	int echo_stdout;    /* --stdout */
	int exit_when_done; /* --exit-when-done */
};

/* Run until SIGTERM/SIGINT (or, with exit_when_done, until every replay has
 * ended and everything is sent).  cfg is the checked configuration; the
 * daemon uses it in place (no copy of the large struct) and rewrites it on
 * reload, so it must outlive the call.  Returns the process exit status. */
int daemon_run(struct config *cfg, const struct daemon_opts *opts);

#endif
