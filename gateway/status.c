#include "gateway/status.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "gateway/log.h"

int status_write(const char *dir, const json_t *st)
{
	static int failing;
	char path[4096], tmp[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, STATUS_FILE) >= sizeof(tmp))
		return -1;
	/* No fsync: status is rewritten every few seconds and is worthless
	 * after a power cut; rename keeps readers from seeing half a file. */
	if (json_dump_file(st, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) < 0 ||
	    rename(tmp, path) < 0) {
		if (!failing++)
			log_warnx("status: cannot write %s", path);
		return -1;
	}
	if (failing)
		log_notice("status: %s written again", path);
	failing = 0;
	return 0;
}

static void status_print_object(FILE *out, const char *indent, json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		if (json_is_object(v)) {
			char sub[64];

			fprintf(out, "%s%s:\n", indent, key);
			snprintf(sub, sizeof(sub), "%s    ", indent);
			status_print_object(out, sub, v);
			continue;
		}
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

		fprintf(out, "%s%-22s %s\n", indent, key, text ? text : "?");
		free(text);
	}
}

int status_print(const char *dir, FILE *out)
{
	char path[4096];
	json_error_t err;
	json_t *st, *pid;
	int running;

	snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE);
	st = json_load_file(path, 0, &err);
	if (!st) {
		fprintf(stderr, "emgwd: no status in %s: %s (is emgwd running?)\n", path, err.text);
		return 2;
	}
	pid = json_object_get(st, "pid");
	running = json_is_integer(pid) &&
		  (kill((pid_t)json_integer_value(pid), 0) == 0 || errno == EPERM);
	fprintf(out, "emgwd %s (%s)\n", running ? "running" : "NOT running: last state below",
		path);
	status_print_object(out, "  ", st);
	json_decref(st);
	return running ? 0 : 1;
}
