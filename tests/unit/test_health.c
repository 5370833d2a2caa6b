/* Unit tests of health: the sd_notify protocol spoken without libsystemd (a
 * path or an abstract NOTIFY_SOCKET, the messages the daemon sends), the
 * watchdog period from WATCHDOG_USEC and WATCHDOG_PID, and that libsystemd
 * is not mapped at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/health.h"

/* A datagram socket bound to name (a path, or '@' and an abstract name)
 * with a receive timeout, and NOTIFY_SOCKET naming it. */
static int listen_as(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	size_t len = strlen(name);
	socklen_t sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sa_len), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	return fd;
}

/* The next datagram on fd equals want. */
static void expect_msg(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/* Nothing is waiting on fd. */
static void expect_none(int fd)
{
	char buf[16];

	assert_true(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);
}

static void test_notify_path(void **state)
{
	char dir[] = "/tmp/test_health.XXXXXX", path[64];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listen_as(path);
	health_ready("running, 3 sources");
	expect_msg(fd, "READY=1\nSTATUS=running, 3 sources");
	health_reloading();
	expect_msg(fd, "RELOADING=1");
	health_reloaded("running");
	expect_msg(fd, "READY=1\nSTATUS=running");
	health_stopping();
	expect_msg(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	rmdir(dir);
	unsetenv("NOTIFY_SOCKET");
}

static void test_notify_abstract(void **state)
{
	char name[64];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@emgw-test-health-%ld", (long)getpid());
	fd = listen_as(name);
	health_stopping();
	expect_msg(fd, "STOPPING=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

/* Outside systemd, or with a socket name that is none, nothing breaks. */
static void test_notify_absent(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	health_ready("running");
	setenv("NOTIFY_SOCKET", "relative/name", 1);
	health_ready("running");
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog(void **state)
{
	char name[64], pid[24];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@emgw-test-watchdog-%ld", (long)getpid());
	fd = listen_as(name);

	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "400000", 1);
	health_init();
	assert_int_equal(health_deadline(), 0);
	health_tick(1000);
	expect_msg(fd, "WATCHDOG=1");
	assert_int_equal(health_deadline(), 1200); /* half the period */
	health_tick(1199);
	expect_none(fd);
	health_tick(1200);
	expect_msg(fd, "WATCHDOG=1");

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	health_init();
	assert_int_equal(health_deadline(), 0);

	/* Another process's watchdog, or none, or nonsense: no watchdog. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	health_init();
	assert_int_equal(health_deadline(), -1);
	health_tick(5000);
	expect_none(fd);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "0", 1);
	health_init();
	assert_int_equal(health_deadline(), -1);
	setenv("WATCHDOG_USEC", "12x", 1);
	health_init();
	assert_int_equal(health_deadline(), -1);
	unsetenv("WATCHDOG_USEC");
	health_init();
	assert_int_equal(health_deadline(), -1);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

/* libsystemd (and the seven libraries it pulls) is not needed to notify. */
static void test_no_libsystemd(void **state)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		assert_null(strstr(line, "libsystemd"));
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_notify_path),	  cmocka_unit_test(test_notify_abstract),
	    cmocka_unit_test(test_notify_absent), cmocka_unit_test(test_watchdog),
	    cmocka_unit_test(test_no_libsystemd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
