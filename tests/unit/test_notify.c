/*
 * test_notify: the sd_notify protocol (resolver/notify.c) against real AF_UNIX datagram
 * sockets, one bound to a path in a temporary directory and one in the abstract namespace.
 * Each message is read back and compared octet for octet; a socket that is missing, unusable
 * or gone yields an error, never a crash, and without $NOTIFY_SOCKET nothing is sent.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "unit.h"

#define READY_TEXT "serving on 127.0.0.1@53, ::1@53 with 8 upstreams"

static char dir[] = "/tmp/dotd-notify.XXXXXX";

/* A datagram socket bound to @name ('@' for the abstract namespace); its fd. */
static int listener_bind(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd;

	CU_ASSERT_FATAL(len < sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == 0);
	return fd;
}

/* The next datagram on @fd within a second, NUL-terminated in @buf; its length, or -1. */
static ssize_t listener_recv(int fd, char *buf, size_t size)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 1000) != 1) {
		return -1;
	}
	n = recv(fd, buf, size - 1, MSG_DONTWAIT);
	if (n >= 0) {
		buf[n] = '\0';
	}
	return n;
}

/* Nothing waits on @fd. */
static bool listener_empty(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* $NOTIFY_SOCKET set to @name, read afresh by the next call. */
static void notify_use(const char *name)
{
	notify_close();
	if (name) {
		CU_ASSERT_FATAL(setenv("NOTIFY_SOCKET", name, 1) == 0);
	} else {
		unsetenv("NOTIFY_SOCKET");
	}
}

static unsigned long long monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* Every message on a socket bound to @name, as sd_notify(3) would send it. */
static void messages_check(const char *name)
{
	char buf[2 * PIPE_BUF], big[PIPE_BUF + 100];
	unsigned long long before, after, usec;
	int fd = listener_bind(name);
	char *end;

	notify_use(name);
	CU_ASSERT_EQUAL(notify_open(), 0);
	/* Read once and removed: a child could not speak for the service. */
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));

	CU_ASSERT_EQUAL(notify_ready(READY_TEXT), 0);
	CU_ASSERT_EQUAL(listener_recv(fd, buf, sizeof(buf)),
			(ssize_t)strlen("READY=1\nSTATUS=" READY_TEXT));
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=" READY_TEXT);

	CU_ASSERT_EQUAL(notify_ready(NULL), 0);
	CU_ASSERT_EQUAL(listener_recv(fd, buf, sizeof(buf)), 7);
	CU_ASSERT_STRING_EQUAL(buf, "READY=1");

	/* A newline in the text cannot start an assignment of its own. */
	CU_ASSERT_EQUAL(notify_status("%d upstreams\nREADY=1\tup", 3), 0);
	CU_ASSERT_EQUAL(listener_recv(fd, buf, sizeof(buf)),
			(ssize_t)strlen("STATUS=3 upstreams READY=1 up"));
	CU_ASSERT_STRING_EQUAL(buf, "STATUS=3 upstreams READY=1 up");

	before = monotonic_usec();
	CU_ASSERT_EQUAL(notify_reloading(), 0);
	after = monotonic_usec();
	CU_ASSERT_FATAL(listener_recv(fd, buf, sizeof(buf)) > 0);
	CU_ASSERT_EQUAL(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	usec = strtoull(buf + 27, &end, 10);
	CU_ASSERT_EQUAL(*end, '\0');
	CU_ASSERT(usec >= before && usec <= after);

	CU_ASSERT_EQUAL(notify_stopping(), 0);
	CU_ASSERT_EQUAL(listener_recv(fd, buf, sizeof(buf)),
			(ssize_t)strlen("STOPPING=1\nSTATUS=stopping"));
	CU_ASSERT_STRING_EQUAL(buf, "STOPPING=1\nSTATUS=stopping");

	/* Longer than systemd's buffer: cut to PIPE_BUF - 1 octets, still one datagram. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(notify_ready(big), 0);
	CU_ASSERT_EQUAL(listener_recv(fd, buf, sizeof(buf)), PIPE_BUF - 1);
	CU_ASSERT_EQUAL(strncmp(buf, "READY=1\nSTATUS=xxx", 18), 0);

	CU_ASSERT_TRUE(listener_empty(fd));
	notify_close();
	close(fd);
}

static void test_path(void)
{
	char name[sizeof(dir) + 16];

	snprintf(name, sizeof(name), "%s/notify", dir);
	messages_check(name);
	unlink(name);
}

static void test_abstract(void)
{
	char name[64];

	snprintf(name, sizeof(name), "@dotd-test-notify-%ld", (long)getpid());
	messages_check(name);
}

/* Without $NOTIFY_SOCKET every call is a no-op returning 0, and nothing is sent. */
static void test_unset(void)
{
	char name[sizeof(dir) + 16];
	int fd;

	snprintf(name, sizeof(name), "%s/unset", dir);
	fd = listener_bind(name);
	notify_use(NULL);
	CU_ASSERT_EQUAL(notify_open(), 0);
	CU_ASSERT_EQUAL(notify_ready("serving"), 0);
	CU_ASSERT_EQUAL(notify_status("%s", "x"), 0);
	CU_ASSERT_EQUAL(notify_reloading(), 0);
	CU_ASSERT_EQUAL(notify_stopping(), 0);
	CU_ASSERT_EQUAL(notify_send("READY=1"), 0);
	CU_ASSERT_TRUE(listener_empty(fd));
	notify_close();
	close(fd);
	unlink(name);
}

/* A socket that cannot be used: an error from every call, the same one each time. */
static void error_check(const char *name, int err)
{
	notify_use(name);
	CU_ASSERT_EQUAL(notify_open(), err);
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
	CU_ASSERT_EQUAL(notify_ready("serving"), err);
	CU_ASSERT_EQUAL(notify_status("%s", "x"), err);
	CU_ASSERT_EQUAL(notify_reloading(), err);
	CU_ASSERT_EQUAL(notify_stopping(), err);
	notify_close();
}

static void test_errors(void)
{
	char name[sizeof(dir) + 16], longname[200];

	snprintf(name, sizeof(name), "%s/missing", dir);
	error_check(name, -ENOENT);
	error_check("", -EAFNOSUPPORT);
	error_check("@", -EAFNOSUPPORT);
	error_check("notify", -EAFNOSUPPORT);
	error_check("vsock:2:1234", -EAFNOSUPPORT);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	error_check(longname, -ENAMETOOLONG);
	/* A directory is no socket. */
	error_check(dir, -ECONNREFUSED);
}

/* The listener goes away after the connect: the send fails, later ones too, nothing crashes. */
static void test_gone(void)
{
	char name[sizeof(dir) + 16];
	int fd;

	snprintf(name, sizeof(name), "%s/gone", dir);
	fd = listener_bind(name);
	notify_use(name);
	CU_ASSERT_EQUAL(notify_open(), 0);
	close(fd);
	unlink(name);
	CU_ASSERT(notify_ready("serving") < 0);
	CU_ASSERT(notify_stopping() < 0);
	notify_close();
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"a socket path: every message", test_path},
		{"an abstract socket: every message", test_abstract},
		{"NOTIFY_SOCKET unset: no-ops", test_unset},
		{"unusable NOTIFY_SOCKET: errors", test_errors},
		{"the listener gone: errors", test_gone},
		CU_TEST_INFO_NULL,
	};
	int ret;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	ret = unit_run("notify", tests);
	rmdir(dir);
	return ret;
}
