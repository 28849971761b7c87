/*
 * notify: the sd_notify(3) datagram protocol, spoken without libsystemd.
 *
 * $NOTIFY_SOCKET is an AF_UNIX datagram socket: a path when it starts with '/', a name in the
 * abstract namespace when it starts with '@' (the '@' stands for the leading NUL). Each message
 * is one datagram of newline-separated assignments; systemd takes those of the main PID only
 * (NotifyAccess=main, the default for Type=notify) and reads the sender from the credentials
 * the kernel attaches, so a plain send() is enough. Its buffer is PIPE_BUF (4096) octets, so
 * our messages are cut to that.
 *
 * The socket is connected once: a connected AF_UNIX socket keeps its peer after setuid(), so
 * dotd can still speak once it runs as `user:` even when that user could not open the path.
 * systemd keeps its end of the socket across daemon-reload and daemon-reexec.
 *
 * $NOTIFY_SOCKET is unset once read (sd_notify's unset_environment): dotd runs no children
 * today, but a child run later (a hook, a helper) must not speak for the service. The socket
 * is SOCK_CLOEXEC for the same reason.
 *
 * Sends block, as sd_notify's do: they are a handful per process lifetime (start, reload,
 * stop), and systemd drains its socket at once. A lost READY=1 would cost the whole start.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define NOTIFY_MSG_MAX PIPE_BUF /* systemd's NOTIFY_BUFFER_MAX */

static bool notify_opened;	/* $NOTIFY_SOCKET has been read */
static int notify_fd = -1;	/* connected socket, or -1 */
static int notify_open_err;	/* why it could not be opened, or 0 */
static bool notify_send_warned; /* a failed send has been logged as a warning */

static int notify_connect(const char *path, int *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	socklen_t sa_len;
	int fd, ret;

	if (len < 2 || (path[0] != '/' && path[0] != '@')) {
		return -EAFNOSUPPORT; /* neither a path nor an abstract name (vsock: is not ours) */
	}
	/* A path needs its NUL inside sun_path; an abstract name is counted, without one. */
	if (len > sizeof(sa.sun_path) || (path[0] == '/' && len == sizeof(sa.sun_path))) {
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0';
	}
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (const struct sockaddr *)&sa, sa_len) != 0) {
		ret = -errno;
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

int notify_open(void)
{
	const char *path;
	int fd = -1, ret;

	if (notify_opened) {
		return notify_open_err;
	}
	notify_opened = true;
	path = getenv("NOTIFY_SOCKET");
	if (!path) {
		return 0;
	}
	ret = notify_connect(path, &fd);
	if (ret == 0) {
		notify_fd = fd;
		log_info(LOG_MAIN, "telling the service manager on '%s'", path);
	} else {
		notify_open_err = ret;
		log_warn(LOG_MAIN,
			 "NOTIFY_SOCKET '%s': %s; the service manager will not hear from us", path,
			 strerror(-ret));
	}
	unsetenv("NOTIFY_SOCKET"); /* path points into the environment: used above, not after */
	return ret;
}

void notify_close(void)
{
	if (notify_fd >= 0) {
		close(notify_fd);
	}
	notify_fd = -1;
	notify_opened = false;
	notify_open_err = 0;
	notify_send_warned = false;
}

int notify_send(const char *state)
{
	ssize_t n;
	int ret;

	ret = notify_open();
	if (ret != 0 || notify_fd < 0) {
		return ret;
	}
	do {
		n = send(notify_fd, state, strlen(state), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		return 0;
	}
	ret = -errno;
	if (!notify_send_warned) {
		log_warn(LOG_MAIN, "cannot tell the service manager: %s", strerror(-ret));
		notify_send_warned = true;
	} else {
		log_debug(LOG_MAIN, "cannot tell the service manager: %s", strerror(-ret));
	}
	return ret;
}

/* Send @head (empty, or assignments ending in a newline), then "STATUS=" and the text of @fmt
 * on one line: control characters become spaces, and the whole is cut to what systemd takes. */
static int notify_vsend(const char *head, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int notify_vsend(const char *head, const char *fmt, va_list ap)
{
	char buf[NOTIFY_MSG_MAX];
	int n;

	n = snprintf(buf, sizeof(buf), "%sSTATUS=", head);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		return -EINVAL;
	}
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	for (char *p = buf + n; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*p = ' ';
		}
	}
	return notify_send(buf);
}

static int notify_sendf(const char *head, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int notify_sendf(const char *head, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = notify_vsend(head, fmt, ap);
	va_end(ap);
	return ret;
}

int notify_ready(const char *status)
{
	if (!status) {
		return notify_send("READY=1");
	}
	return notify_sendf("READY=1\n", "%s", status);
}

int notify_reloading(void)
{
	char buf[64];
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		return -errno;
	}
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	return notify_send(buf);
}

int notify_status(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = notify_vsend("", fmt, ap);
	va_end(ap);
	return ret;
}

int notify_stopping(void)
{
	return notify_send("STOPPING=1\nSTATUS=stopping");
}
