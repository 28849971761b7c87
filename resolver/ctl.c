/*
 * dotd-ctl: the control client. It sends one request on dotd's control socket (control.h: the
 * command's words joined by TAB, ended by a newline), reads the status line and then the body
 * until dotd closes the connection, and reports: after "ok" the body goes to standard output
 * byte for byte (exit 0); after "error" each line of it goes to standard error prefixed with
 * "dotd: " (exit 1). Every other outcome (no socket, nobody listening, no permission, timeout,
 * an answer that is cut short or malformed) is a message of dotd-ctl's own that says what to
 * check, with exit 1. Usage errors exit 2 without connecting.
 *
 * Plain POSIX sockets and poll(), one deadline (-t) for the whole exchange. The answer is held
 * in memory until dotd has closed the connection: a body that was cut off is never printed as
 * if it were the whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#ifndef DOTD_VERSION
#error "DOTD_VERSION is defined by resolver/CMakeLists.txt from the project's version"
#endif

#define EXIT_USAGE	  2
#define TIMEOUT_DEFAULT_S 10.0
#define TIMEOUT_MAX_S	  86400.0
#define RESPONSE_MAX	  (64u << 20) /* a bound on memory, far above any answer dotd gives */
#define WORDS_MAX	  4	      /* "cache dump FILE" has three; one spare for checks */
#define STATUS_SHOWN_MAX  60	      /* bytes of a malformed status line quoted back */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dotd-ctl [-s PATH] [-t SECONDS] COMMAND [ARGS]\n"
		"  -s PATH     dotd's control socket (default " CONTROL_SOCKET_DEFAULT ")\n"
		"  -t SECONDS  give up after this long, for the whole exchange (default 10)\n"
		"  -V          print the version and exit\n"
		"  -h, --help  this help\n"
		"commands:\n"
		"  status                      version, pid, uptime, configuration, listeners\n"
		"  stats [--json|--prometheus] every counter\n"
		"  upstreams                   each upstream's state, RTT, backoff, connections\n"
		"  reload                      read the configuration file again\n"
		"  flush [NAME [TYPE]]         empty the cache, or drop NAME (of TYPE)\n"
		"  cache dump FILE             write the cache to FILE\n"
		"  cache load FILE             read FILE into the cache\n"
		"  network-changed             the network changed: check upstream connections "
		"now\n"
		"exit status: 0 ok, 1 dotd answered an error or could not be reached, 2 usage "
		"error\n");
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("dotd-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: the message, then the usage, on standard error. Returns the exit status. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dotd-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EXIT_USAGE;
}

/* ---- the request ---- */

struct request {
	const char *words[WORDS_MAX]; /**< borrowed from argv, or file_abs */
	size_t n_words;
	char *file_abs; /**< owned or NULL: a relative FILE made absolute */
	char line[CONTROL_REQUEST_MAX + 1];
	size_t line_len; /**< bytes of line, its final "\n" included */
};

/*
 * @file made absolute against our current directory: dotd's own is another, so a relative
 * path would name some other file there. Not resolved further (FILE need not exist yet).
 */
static int path_absolute(const char *file, char **out)
{
	char *cwd, *abs;
	int n;

	if (file[0] == '/') {
		*out = NULL;
		return 0;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		return -errno;
	}
	n = asprintf(&abs, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", file);
	free(cwd);
	if (n < 0) {
		return -ENOMEM;
	}
	*out = abs;
	return 0;
}

/*
 * The words of the request for the command in @argv (@argc words, the command first), into
 * @req. A usage error is reported here and gives -EINVAL; -ENOMEM and getcwd()'s errors are
 * the caller's to report.
 */
static int request_words(struct request *req, int argc, char **argv)
{
	const char *cmd = argv[0];
	int nargs = argc - 1;
	int rc;

	req->words[0] = cmd;
	req->n_words = 1;
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "upstreams") == 0 ||
	    strcmp(cmd, "reload") == 0 || strcmp(cmd, "network-changed") == 0) {
		if (nargs != 0) {
			usage_error("%s takes no arguments", cmd);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(cmd, "stats") == 0) {
		if (nargs == 0) {
			return 0;
		}
		if (nargs == 1 && strcmp(argv[1], "--json") == 0) {
			req->words[req->n_words++] = "json";
			return 0;
		}
		if (nargs == 1 && strcmp(argv[1], "--prometheus") == 0) {
			req->words[req->n_words++] = "prometheus";
			return 0;
		}
		usage_error("stats takes --json or --prometheus, or nothing");
		return -EINVAL;
	}
	if (strcmp(cmd, "flush") == 0) {
		if (nargs > 2) {
			usage_error("flush takes at most a NAME and a TYPE");
			return -EINVAL;
		}
		for (int i = 1; i < argc; i++) {
			req->words[req->n_words++] = argv[i];
		}
		return 0;
	}
	if (strcmp(cmd, "cache") == 0) {
		if (nargs < 1 || (strcmp(argv[1], "dump") != 0 && strcmp(argv[1], "load") != 0)) {
			usage_error("cache takes dump FILE or load FILE");
			return -EINVAL;
		}
		if (nargs != 2) {
			usage_error("cache %s takes one FILE", argv[1]);
			return -EINVAL;
		}
		req->words[req->n_words++] = argv[1];
		if (argv[2][0] == '\0') {
			usage_error("cache %s: the FILE is empty", argv[1]);
			return -EINVAL;
		}
		rc = path_absolute(argv[2], &req->file_abs);
		if (rc < 0) {
			return rc;
		}
		req->words[req->n_words++] = req->file_abs ? req->file_abs : argv[2];
		return 0;
	}
	usage_error("unknown command '%s'", cmd);
	return -EINVAL;
}

/* The request line from the words: checked against control.h's rules. -EINVAL is reported. */
static int request_join(struct request *req)
{
	size_t len = 0;

	for (size_t i = 0; i < req->n_words; i++) {
		const char *w = req->words[i];
		size_t w_len = strlen(w);

		if (w_len == 0) {
			usage_error("an argument is empty");
			return -EINVAL;
		}
		if (strpbrk(w, "\t\n")) {
			usage_error("an argument holds a TAB or a newline, which the control "
				    "protocol cannot carry");
			return -EINVAL;
		}
		/* Each word is followed by a TAB or the final "\n". */
		if (len + w_len + 1 > CONTROL_REQUEST_MAX) {
			usage_error("the request is longer than %d bytes", CONTROL_REQUEST_MAX);
			return -EINVAL;
		}
		memcpy(req->line + len, w, w_len);
		len += w_len;
		req->line[len++] = i + 1 < req->n_words ? '\t' : '\n';
	}
	req->line[len] = '\0';
	req->line_len = len;
	return 0;
}

/* ---- the exchange ---- */

struct deadline {
	struct timespec end;
	double seconds; /**< -t, for messages */
};

static void deadline_start(struct deadline *d, double seconds)
{
	time_t whole = (time_t)seconds; /* seconds > 0: truncation is floor() */

	clock_gettime(CLOCK_MONOTONIC, &d->end);
	d->seconds = seconds;
	d->end.tv_sec += whole;
	d->end.tv_nsec += (long)((seconds - (double)whole) * 1e9);
	if (d->end.tv_nsec >= 1000000000L) {
		d->end.tv_sec++;
		d->end.tv_nsec -= 1000000000L;
	}
}

/* Milliseconds left, rounded up so that a poll() never wakes just short of the deadline. */
static int deadline_left_ms(const struct deadline *d)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(d->end.tv_sec - now.tv_sec) * 1000000000LL +
	     (d->end.tv_nsec - now.tv_nsec);
	if (ns <= 0) {
		return 0;
	}
	return (int)((ns + 999999) / 1000000);
}

/*
 * A connected socket to @path in *@out. connect() blocks only when dotd's backlog is full, and
 * then at most until the deadline (SO_SNDTIMEO; Linux gives EAGAIN when it runs out). -errno.
 */
static int ctl_connect(const char *path, const struct deadline *d, int *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int left = deadline_left_ms(d);
	struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
	int fd, rc;

	if (left == 0) {
		return -ETIMEDOUT;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		rc = errno == EINPROGRESS ? -EAGAIN : -errno;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* Wait until @fd is ready for @events or the deadline passes (-ETIMEDOUT). */
static int wait_for(int fd, short events, const struct deadline *d)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int left, n;

	for (;;) {
		left = deadline_left_ms(d);
		if (left == 0) {
			return -ETIMEDOUT;
		}
		n = poll(&pfd, 1, left);
		if (n > 0) {
			return 0;
		}
		if (n < 0 && errno != EINTR) {
			return -errno;
		}
	}
}

/*
 * Send the whole request. dotd may close early (a request it refuses): EPIPE and ECONNRESET
 * end the sending with 0, since its answer may already wait to be read.
 */
static int request_send(int fd, const struct request *req, const struct deadline *d)
{
	size_t off = 0;

	while (off < req->line_len) {
		ssize_t n = send(fd, req->line + off, req->line_len - off, MSG_NOSIGNAL);
		int rc;

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR) {
			return -errno;
		}
		rc = wait_for(fd, POLLOUT, d);
		if (rc < 0) {
			return rc;
		}
	}
	return 0;
}

struct response {
	char *buf; /**< owned: everything dotd sent, status line included */
	size_t len;
	size_t cap;
};

/*
 * Read until dotd closes the connection. ECONNRESET counts as the close: Linux reports it
 * instead of EOF, after the data, when dotd closed without reading all we sent. -EFBIG past
 * RESPONSE_MAX, -ETIMEDOUT at the deadline.
 */
static int response_read(int fd, struct response *resp, const struct deadline *d)
{
	for (;;) {
		ssize_t n;
		int rc;

		if (resp->cap - resp->len < 4096) {
			size_t cap = resp->cap ? resp->cap * 2 : 16384;
			char *buf;

			if (cap > RESPONSE_MAX) {
				return -EFBIG;
			}
			buf = realloc(resp->buf, cap);
			if (!buf) {
				return -ENOMEM;
			}
			resp->buf = buf;
			resp->cap = cap;
		}
		n = recv(fd, resp->buf + resp->len, resp->cap - resp->len, 0);
		if (n > 0) {
			resp->len += (size_t)n;
			continue;
		}
		if (n == 0 || errno == ECONNRESET) {
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR) {
			return -errno;
		}
		rc = wait_for(fd, POLLIN, d);
		if (rc < 0) {
			return rc;
		}
	}
}

/* ---- reporting ---- */

static const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode)) {
		return "a regular file";
	}
	if (S_ISDIR(mode)) {
		return "a directory";
	}
	if (S_ISFIFO(mode)) {
		return "a FIFO";
	}
	if (S_ISCHR(mode) || S_ISBLK(mode)) {
		return "a device";
	}
	return "not a socket either";
}

/* EACCES: say who may use the socket, from its owner and group if we can see them. */
static void report_denied(const char *path)
{
	char user[32], group[32];
	struct passwd *pw;
	struct group *gr;
	struct stat st;

	if (stat(path, &st) != 0) {
		say("%s: permission denied: a directory on the way to the socket cannot be "
		    "searched by this user; the socket is mode 0660, owned by the user dotd runs "
		    "as: run dotd-ctl as root or as a member of dotd's group",
		    path);
		return;
	}
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	if (pw) {
		snprintf(user, sizeof(user), "'%s'", pw->pw_name);
	} else {
		snprintf(user, sizeof(user), "%u", (unsigned)st.st_uid);
	}
	if (gr) {
		snprintf(group, sizeof(group), "'%s'", gr->gr_name);
	} else {
		snprintf(group, sizeof(group), "%u", (unsigned)st.st_gid);
	}
	say("%s: permission denied: the socket belongs to user %s and group %s, mode %04o; run "
	    "dotd-ctl as root, as user %s or as a member of group %s",
	    path, user, group, (unsigned)(st.st_mode & 07777), user, group);
}

static void report_connect(const char *path, int err, const struct deadline *d)
{
	struct stat st;

	if (err == -ENOENT || err == -ENOTDIR) {
		say("%s: no such socket: is dotd running with control_socket set?", path);
		return;
	}
	/* Linux refuses a connect() to a file that is not a socket with ECONNREFUSED (or EACCES
	 * without write permission): tell it from a socket nobody listens on. */
	if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		say("%s: not a socket (%s): is control_socket set to this path?", path,
		    file_kind(st.st_mode));
		return;
	}
	switch (err) {
	case -ECONNREFUSED:
		say("%s: connection refused: dotd is not running (nothing listens on this socket)",
		    path);
		break;
	case -EACCES:
	case -EPERM:
		report_denied(path);
		break;
	case -EAGAIN:
	case -ETIMEDOUT:
		say("%s: timed out after %g s waiting to connect: dotd is busy", path, d->seconds);
		break;
	default:
		say("%s: cannot connect: %s", path, strerror(-err));
		break;
	}
}

/* Write all of @buf to @fd. -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* dotd's error message, each line as "dotd: LINE" on standard error. */
static void report_daemon_error(const char *cmd, const char *body, size_t len)
{
	size_t start = 0;

	if (len == 0) {
		say("%s failed (dotd gave no message)", cmd);
		return;
	}
	while (start < len) {
		const char *nl = memchr(body + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - body) : len;

		fprintf(stderr, "dotd: %.*s\n", (int)(end - start), body + start);
		start = end + 1;
	}
}

/* A status line that is neither "ok" nor "error", quoted with what cannot be printed as '?'. */
static void report_malformed(const char *line, size_t len)
{
	char shown[STATUS_SHOWN_MAX + 1];
	size_t n = len < STATUS_SHOWN_MAX ? len : STATUS_SHOWN_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		shown[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	shown[n] = '\0';
	say("malformed answer from dotd: status line '%s%s', expected 'ok' or 'error'", shown,
	    len > n ? "..." : "");
}

/* Act on the whole answer: the exit status. */
static int response_report(const char *cmd, const struct response *resp)
{
	const char *nl = resp->len ? memchr(resp->buf, '\n', resp->len) : NULL;
	size_t status_len, body_off;
	int rc;

	if (resp->len == 0) {
		say("dotd closed the connection without answering");
		return 1;
	}
	if (!nl) {
		say("dotd's answer was cut short: no complete status line");
		return 1;
	}
	status_len = (size_t)(nl - resp->buf);
	body_off = status_len + 1;
	if (status_len == 2 && memcmp(resp->buf, "ok", 2) == 0) {
		rc = write_all(STDOUT_FILENO, resp->buf + body_off, resp->len - body_off);
		if (rc < 0) {
			say("writing the output: %s", strerror(-rc));
			return 1;
		}
		return 0;
	}
	if (status_len == 5 && memcmp(resp->buf, "error", 5) == 0) {
		report_daemon_error(cmd, resp->buf + body_off, resp->len - body_off);
		return 1;
	}
	report_malformed(resp->buf, status_len);
	return 1;
}

/* The exchange with dotd on @path: the exit status, everything reported. */
static int exchange(const char *path, const struct request *req, double timeout_s)
{
	struct response resp = {0};
	struct deadline d;
	int fd = -1, rc, status = 1;

	deadline_start(&d, timeout_s);
	rc = ctl_connect(path, &d, &fd);
	if (rc < 0) {
		report_connect(path, rc, &d);
		return 1;
	}
	rc = request_send(fd, req, &d);
	if (rc == -ETIMEDOUT) {
		say("%s: timed out after %g s sending the request", path, d.seconds);
		goto out;
	}
	if (rc < 0) {
		say("%s: sending the request: %s", path, strerror(-rc));
		goto out;
	}
	rc = response_read(fd, &resp, &d);
	if (rc == -ETIMEDOUT) {
		say("%s: timed out after %g s waiting for dotd's answer%s (-t SECONDS allows more)",
		    path, d.seconds, resp.len ? ", which was not complete" : "");
		goto out;
	}
	if (rc == -EFBIG) {
		say("%s: dotd's answer is larger than %u bytes", path, RESPONSE_MAX);
		goto out;
	}
	if (rc < 0) {
		say("%s: reading the answer: %s", path, strerror(-rc));
		goto out;
	}
	status = response_report(req->words[0], &resp);
out:
	free(resp.buf);
	close(fd);
	return status;
}

/* -t: seconds above 0, a fraction allowed. -EINVAL. */
static int parse_timeout(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > TIMEOUT_MAX_S) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = CONTROL_SOCKET_DEFAULT;
	double timeout_s = TIMEOUT_DEFAULT_S;
	struct request req = {0};
	int opt, rc, status;

	opterr = 0;
	/* "+": options end at the command, so that "stats --json" is the command's. */
	while ((opt = getopt_long(argc, argv, "+:s:t:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &timeout_s) < 0) {
				return usage_error(
					"-t: '%s' is not a number of seconds above 0 (at "
					"most %g)",
					optarg, TIMEOUT_MAX_S);
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dotd-ctl %s\n", DOTD_VERSION);
			return 0;
		case ':':
			return usage_error("option -%c needs an argument", optopt);
		default:
			if (optopt) {
				return usage_error("unknown option -%c", optopt);
			}
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (path[0] == '\0') {
		return usage_error("-s: the socket path is empty");
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		return usage_error("-s: '%s' is longer than a socket path may be (%zu bytes)", path,
				   sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	}
	if (optind == argc) {
		return usage_error("no command");
	}
	rc = request_words(&req, argc - optind, argv + optind);
	if (rc == -EINVAL) {
		return EXIT_USAGE;
	}
	if (rc < 0) {
		say("cannot make the FILE absolute: %s", strerror(-rc));
		return 1;
	}
	if (request_join(&req) < 0) {
		free(req.file_abs);
		return EXIT_USAGE;
	}
	status = exchange(path, &req, timeout_s);
	free(req.file_abs);
	return status;
}
