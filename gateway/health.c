#include "gateway/health.h"

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/log.h"

/* The watchdog is one per process, as is systemd's notify socket. */
static int64_t watchdog_interval_ms = -1;
static int64_t watchdog_next_ms = -1;

/* The notify protocol of sd_notify(3), done here: libsystemd would map seven
 * more libraries (2.2 MB RSS) for this one datagram.  $NOTIFY_SOCKET names an
 * AF_UNIX datagram socket, a path or, after '@', an abstract name.  0 when
 * sent or not under systemd, -1 when it could not be sent (logged once). */
static int health_notify(const char *msg)
{
	static int failed_logged;
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = name ? strlen(name) : 0;
	socklen_t sa_len;
	ssize_t sent;
	int fd, err;

	if (len == 0)
		return 0;
	if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		goto fail;
	}
	memcpy(sa.sun_path, name, len);
	/* An abstract name has no terminating NUL: its length is the address's. */
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
	err = errno;
	close(fd);
	if (sent >= 0) {
		failed_logged = 0;
		return 0;
	}
	errno = err; /* sendto's, for the log */
fail:
	if (!failed_logged)
		log_warn("health: NOTIFY_SOCKET=%s: cannot tell systemd", name);
	failed_logged = 1;
	return -1;
}

/* sd_watchdog_enabled(3)'s reading of the environment: WATCHDOG_USEC, a
 * positive count, for this process when WATCHDOG_PID is unset or ours.  The
 * period in us, or 0 when there is no watchdog for us. */
static uint64_t health_watchdog_usec(void)
{
	const char *usec_s = getenv("WATCHDOG_USEC"), *pid_s = getenv("WATCHDOG_PID");
	unsigned long long usec, pid;
	char *end;

	if (!usec_s || !*usec_s)
		return 0;
	errno = 0;
	usec = strtoull(usec_s, &end, 10);
	if (errno || *end || usec == 0 || usec_s[0] == '-' || usec == UINT64_MAX)
		return 0;
	if (pid_s && *pid_s) {
		errno = 0;
		pid = strtoull(pid_s, &end, 10);
		if (errno || *end || pid_s[0] == '-' || pid != (unsigned long long)getpid())
			return 0;
	}
	return usec;
}

void health_init(void)
{
	uint64_t usec = health_watchdog_usec();

	watchdog_interval_ms = -1;
	watchdog_next_ms = -1;
	/* Pet at half the period systemd expects, as sd_watchdog_enabled(3)
	 * advises. */
	if (usec > 0) {
		watchdog_interval_ms = (int64_t)(usec / 2000);
		if (watchdog_interval_ms < 1)
			watchdog_interval_ms = 1;
		watchdog_next_ms = 0;
	}
}

/* READY=1 with a status line. */
static void health_notify_ready(const char *status)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	health_notify(msg);
}

void health_ready(const char *status)
{
	health_notify_ready(status);
}

void health_reloading(void)
{
	health_notify("RELOADING=1");
}

void health_reloaded(const char *status)
{
	health_notify_ready(status);
}

void health_tick(int64_t now_ms)
{
	if (watchdog_interval_ms < 0 || now_ms < watchdog_next_ms)
		return;
	health_notify("WATCHDOG=1");
	watchdog_next_ms = now_ms + watchdog_interval_ms;
}

int64_t health_deadline(void)
{
	return watchdog_next_ms;
}

void health_stopping(void)
{
	health_notify("STOPPING=1");
}

#define HEALTH_TRIM_BYTES (64 * 1024) /* freed heap growth that is a burst */

void health_trim_heap(void)
{
	/* Least free heap seen since the last trim; none at first, so what
	 * start-up freed (TLS and the MQTT connection after the first status
	 * too) goes back once it is 64 KiB. */
	static size_t free_low;
	size_t free_now = mallinfo2().fordblks;

	if (free_now < free_low)
		free_low = free_now;
	if (free_now < free_low + HEALTH_TRIM_BYTES)
		return;
	malloc_trim(0);
	free_low = mallinfo2().fordblks;
}
