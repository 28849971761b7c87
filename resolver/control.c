/*
 * control: the daemon's side of the control socket (the protocol is in control.h).
 *
 * Ownership: struct control owns its listening pipe and every client; each client owns its
 * pipe, its timer and its response. A client is freed in the last of its two close callbacks;
 * the server when its pipe and every client have closed, and then control_close()'s callback
 * runs.
 *
 * Bounds: a client's request is read into a fixed buffer of CONTROL_REQUEST_MAX bytes; one
 * timer of CONTROL_TIMEOUT_MS covers reading the request and writing the answer (a client that
 * stops reading is closed, its queued answer freed with it); past CONTROL_CLIENTS_MAX clients a
 * new one is closed at once. Commands run to the end on the loop (reload, cache dump of 100k
 * entries: tens of milliseconds), so a client cannot hold anything open across iterations.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "dns_text.h"
#include "log.h"
#include "netwatch.h"
#include "resolver.h"
#include "stats.h"
#include "worker.h"

#define CONTROL_WORDS_MAX 8

struct control_client {
	struct control *ctl;
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t shut;
	char req[CONTROL_REQUEST_MAX];
	size_t len;
	char *resp; /**< owned: status line and body, while written */
	size_t resp_len;
	unsigned handles_open;
	bool answered; /**< the request was complete and the answer is on its way */
	bool closing;
	struct control_client *next;
};

struct control {
	struct resolver *r; /**< borrowed */
	uv_pipe_t pipe;
	char *path; /**< owned */
	struct control_client *clients;
	size_t n_clients;
	unsigned handles_open; /**< the pipe, and one per client not yet freed */
	bool closing;
	void (*on_closed)(void *arg);
	void *on_closed_arg;
};

static void control_maybe_free(struct control *ctl)
{
	if (ctl->handles_open > 0) {
		return;
	}
	void (*cb)(void *) = ctl->on_closed;
	void *arg = ctl->on_closed_arg;

	free(ctl->path);
	free(ctl);
	if (cb) {
		cb(arg);
	}
}

static void on_client_closed(uv_handle_t *h)
{
	struct control_client *c = h->data;
	struct control *ctl = c->ctl;

	if (--c->handles_open > 0) {
		return;
	}
	free(c->resp);
	free(c);
	ctl->handles_open--;
	control_maybe_free(ctl);
}

static void client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;

	if (c->closing) {
		return;
	}
	c->closing = true;
	for (struct control_client **pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl->n_clients--;
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
	uv_close((uv_handle_t *)&c->timer, on_client_closed);
}

static void on_client_timeout(uv_timer_t *t)
{
	struct control_client *c = t->data;

	log_info(LOG_MAIN, "control client too slow, closing it");
	client_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct control_client *c = req->data;

	if (status != 0) {
		client_close(c);
	}
}

/*
 * The answer is out: our side is shut (the client reads to EOF: one request per connection),
 * and what the client still sends is read and dropped until it closes, or the timer ends it.
 * Closing at once with bytes unread would send a reset, which can destroy the answer before
 * the client has read it (a request over the limit, sent whole).
 */
static void on_written(uv_write_t *req, int status)
{
	struct control_client *c = req->data;

	if (status != 0 || c->closing) {
		client_close(c);
		return;
	}
	c->shut.data = c;
	if (uv_shutdown(&c->shut, (uv_stream_t *)&c->pipe, on_shutdown) != 0) {
		client_close(c);
	}
}

/* Send @ok's status line and @body (@len bytes) and close once written. */
static void client_answer(struct control_client *c, bool ok, const char *body, size_t len)
{
	const char *status = ok ? "ok\n" : "error\n";
	size_t slen = strlen(status);
	uv_buf_t b;

	c->answered = true;
	c->resp = malloc(slen + len);
	if (!c->resp) {
		client_close(c);
		return;
	}
	memcpy(c->resp, status, slen);
	memcpy(c->resp + slen, body, len);
	c->resp_len = slen + len;
	b = uv_buf_init(c->resp, (unsigned)c->resp_len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0) {
		client_close(c);
	}
}

/* A flush in each worker's cache too (each has its own). */
struct flush_args {
	const uint8_t *name; /**< wire format, or NULL: everything */
	int type;
	size_t dropped;
};

static void on_worker_flush(struct resolver *r, void *arg)
{
	struct flush_args *f = arg;

	f->dropped += cache_flush(r->cache, f->name, f->type);
}

/* flush [NAME [TYPE]]: the name and type read by dotd's own code (dns_text), not by ldns. */
static int cmd_flush(struct resolver *r, char **w, size_t n, FILE *out)
{
	struct flush_args f = {.type = -1};
	uint8_t name[DNS_MAX_NAME];
	size_t name_len;
	uint16_t t;
	size_t dropped;

	if (n > 3) {
		fputs("flush: expected at most a name and a type\n", out);
		return -EINVAL;
	}
	if (n >= 3) {
		if (dns_type_from_text(w[2], &t) != 0) {
			fprintf(out,
				"flush: unknown type '%s' (a mnemonic such as AAAA, or TYPE65)\n",
				w[2]);
			return -EINVAL;
		}
		f.type = t;
	}
	if (n >= 2) {
		int ret = dns_name_from_text(w[1], strlen(w[1]), name, &name_len);

		if (ret != 0) {
			fprintf(out, "flush: '%s' is not a domain name (%s)\n", w[1],
				ret == -EMSGSIZE       ? "a label over 63 octets"
				: ret == -ENAMETOOLONG ? "over 255 octets"
						       : "an empty label or a bad escape");
			return -EINVAL;
		}
		f.name = name;
	}
	dropped = cache_flush(r->cache, f.name, f.type);
	workers_each(r->workers, on_worker_flush, &f);
	dropped += f.dropped;
	fprintf(out, "%zu entr%s dropped\n", dropped, dropped == 1 ? "y" : "ies");
	return 0;
}

/* cache load FILE in each worker too; what they say is dropped, the main's says it all. */
static void on_worker_cache_load(struct resolver *r, void *arg)
{
	struct cache_load_stats st;
	FILE *null = fopen("/dev/null", "w");

	if (null) {
		cachefile_read(r, arg, &st, null);
		fclose(null);
	}
}

/*
 * cache dump FILE, cache load FILE. With workers, each has its own cache: dump writes the main
 * worker's, load fills every worker's.
 */
static int cmd_cache(struct resolver *r, char **w, size_t n, FILE *out)
{
	struct cache_load_stats st;
	size_t entries;
	int ret;

	if (n != 3 || (strcmp(w[1], "dump") != 0 && strcmp(w[1], "load") != 0)) {
		fputs("cache: expected 'dump FILE' or 'load FILE'\n", out);
		return -EINVAL;
	}
	if (w[2][0] != '/') {
		fprintf(out, "cache %s: '%s' is not an absolute path\n", w[1], w[2]);
		return -EINVAL;
	}
	if (strcmp(w[1], "dump") == 0) {
		ret = cachefile_write(r, w[2], &entries, out);
		if (ret == 0) {
			fprintf(out, "%zu entries written to '%s'\n", entries, w[2]);
		}
		return ret;
	}
	ret = cachefile_read(r, w[2], &st, out);
	if (ret == 0) {
		workers_each(r->workers, on_worker_cache_load, w[2]);
		fprintf(out,
			"%zu entries loaded from '%s' (%zu expired, %zu skipped, %zu evicted; "
			"written "
			"%llu s ago)\n",
			st.loaded, w[2], st.expired, st.skipped, st.evicted,
			(unsigned long long)st.age_s);
	}
	return ret;
}

static int cmd_status(struct resolver *r, FILE *out)
{
	uint64_t up = (uv_now(r->loop) - r->started_at) / 1000;

	fprintf(out, "version: dotd %s\n", DOTD_VERSION);
	fprintf(out, "pid: %ld\n", (long)getpid());
	fprintf(out, "uptime: %llu s\n", (unsigned long long)up);
	fprintf(out, "config: %s\n", r->config_path ? r->config_path : "<built-in default>");
	fprintf(out, "status: %s\n", resolver_summary(r));
	fprintf(out, "reloads: %llu (%llu failed)\n", (unsigned long long)r->stats.reloads,
		(unsigned long long)r->stats.reload_failures);
	fputs("upstreams:\n", out);
	return stats_upstreams_write(r, out);
}

/* Run the request in @line (NUL-terminated, no newline); the answer goes to @out. */
static int control_run(struct resolver *r, char *line, FILE *out)
{
	char *w[CONTROL_WORDS_MAX];
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, "\t", &save); t; t = strtok_r(NULL, "\t", &save)) {
		if (n == CONTROL_WORDS_MAX) {
			fputs("too many words in the request\n", out);
			return -EINVAL;
		}
		w[n++] = t;
	}
	if (n == 0) {
		fputs("empty request\n", out);
		return -EINVAL;
	}
	if (strcmp(w[0], "status") == 0 && n == 1) {
		return cmd_status(r, out);
	}
	if (strcmp(w[0], "stats") == 0 && n <= 2) {
		if (n == 1) {
			return stats_write(r, STATS_TEXT, out);
		}
		if (strcmp(w[1], "json") == 0) {
			return stats_write(r, STATS_JSON, out);
		}
		if (strcmp(w[1], "prometheus") == 0) {
			return stats_write(r, STATS_PROMETHEUS, out);
		}
		fprintf(out, "stats: unknown format '%s' (json or prometheus)\n", w[1]);
		return -EINVAL;
	}
	if (strcmp(w[0], "upstreams") == 0 && n == 1) {
		return stats_upstreams_write(r, out);
	}
	if (strcmp(w[0], "reload") == 0 && n == 1) {
		return resolver_reload(r, out);
	}
	if (strcmp(w[0], "flush") == 0) {
		return cmd_flush(r, w, n, out);
	}
	if (strcmp(w[0], "cache") == 0) {
		return cmd_cache(r, w, n, out);
	}
	if (strcmp(w[0], "network-changed") == 0 && n == 1) {
		/* What netwatch would report for netwatch_kick(): the caller (a hotplug script, a
		 * VPN hook) knows the network changed; the resolver treats it as netwatch's own. */
		struct netwatch_event ev = {.kinds = NETWATCH_MANUAL};

		resolver_network_event(r, &ev);
		return 0;
	}
	fprintf(out, "unknown command '%s' or wrong arguments\n", w[0]);
	return -EINVAL;
}

static void client_request(struct control_client *c, size_t line_len)
{
	char what[128];
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);
	int ret;

	if (!out) {
		client_close(c);
		return;
	}
	c->req[line_len] = '\0';
	/* For the log: the words as dotd-ctl's command line had them. */
	snprintf(what, sizeof(what), "%.100s", c->req);
	for (char *p = what; *p; p++) {
		*p = (*p == '\t' || (unsigned char)*p < 0x20) ? ' ' : *p;
	}
	ret = control_run(c->ctl->r, c->req, out);
	if (fclose(out) != 0) {
		free(body);
		client_close(c);
		return;
	}
	log_info(LOG_MAIN, "control: '%s' %s", what, ret == 0 ? "done" : "failed");
	client_answer(c, ret == 0, body, len);
	free(body);
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct control_client *c = h->data;

	(void)suggested;
	if (c->answered) {
		c->len = 0; /* draining: the request is done with, its buffer takes what follows */
	}
	*buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof(c->req) - c->len));
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct control_client *c = s->data;
	char *nl;

	(void)buf;
	if (c->closing || nread == 0) {
		return;
	}
	if (nread < 0) {
		client_close(
			c); /* EOF (before a whole request, or after the answer), or an error */
		return;
	}
	if (c->answered) {
		c->len = 0; /* drained: what follows an answered request is dropped */
		return;
	}
	c->len += (size_t)nread;
	nl = memchr(c->req, '\n', c->len);
	if (nl) {
		if (memchr(c->req, '\0', (size_t)(nl - c->req))) {
			static const char msg[] = "a NUL byte in the request\n";

			client_answer(c, false, msg, sizeof(msg) - 1);
			return;
		}
		client_request(c, (size_t)(nl - c->req));
	} else if (c->len == sizeof(c->req)) {
		static const char msg[] = "request longer than 4096 bytes\n";

		client_answer(c, false, msg, sizeof(msg) - 1);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct control_client *c;

	if (status != 0) {
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return;
	}
	c->ctl = ctl;
	uv_pipe_init(server->loop, &c->pipe, 0);
	uv_timer_init(server->loop, &c->timer);
	c->pipe.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	ctl->handles_open++;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->n_clients++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
	    ctl->n_clients > CONTROL_CLIENTS_MAX) {
		client_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_client_timeout, CONTROL_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->pipe, on_client_alloc, on_client_read) != 0) {
		client_close(c);
	}
}

/*
 * What is at @path may be replaced: nothing, or a socket nobody listens on (a dotd that did
 * not stop cleanly). A socket with a listener is another daemon's; anything else is not ours.
 */
static int path_check(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) != 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err(LOG_MAIN,
			"control_socket '%s' exists and is not a socket: refusing to "
			"replace it",
			path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (ret == 0) {
		log_err(LOG_MAIN,
			"control_socket '%s' is in use by another process (another dotd?)", path);
		return -EADDRINUSE;
	}
	if (unlink(path) != 0) {
		return -errno;
	}
	return 0;
}

/*
 * The socket's directory, when it is missing: made 0755 and given to @uid, as systemd's
 * RuntimeDirectory= would (dotd run by hand as root, /run/dotd gone after a reboot). Only the
 * last component is made: a missing /run is not ours to make.
 */
static int dir_make(const char *path, uid_t uid, gid_t gid)
{
	char *copy = strdup(path), *dir;
	int ret = 0;

	if (!copy) {
		return -ENOMEM;
	}
	dir = dirname(copy);
	if (mkdir(dir, 0755) == 0) {
		if (uid != (uid_t)-1 && chown(dir, uid, gid) != 0) {
			ret = -errno;
		}
		log_info(LOG_MAIN, "made directory '%s' for the control socket", dir);
	} else if (errno != EEXIST) {
		ret = -errno;
		log_err(LOG_MAIN, "control_socket '%s': cannot make its directory: %s", path,
			strerror(errno));
	}
	free(copy);
	return ret;
}

int control_open(struct resolver *r, const char *path, uid_t uid, gid_t gid, struct control **out)
{
	struct control *ctl;
	mode_t old_mask;
	int ret;

	ret = dir_make(path, uid, gid);
	if (ret != 0) {
		return ret;
	}
	ret = path_check(path);
	if (ret != 0) {
		if (ret != -EEXIST && ret != -EADDRINUSE) {
			log_err(LOG_MAIN, "control_socket '%s': %s", path, strerror(-ret));
		}
		return ret;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		return -ENOMEM;
	}
	ctl->r = r;
	ctl->path = strdup(path);
	uv_pipe_init(r->loop, &ctl->pipe, 0);
	ctl->pipe.data = ctl;
	ctl->handles_open = 1;
	/* Made 0660 from the start: no moment in which others could connect. */
	old_mask = umask(0117);
	ret = ctl->path ? uv_pipe_bind(&ctl->pipe, path) : -ENOMEM;
	umask(old_mask);
	if (ret == 0 && uid != (uid_t)-1 && chown(path, uid, gid) != 0) {
		ret = -errno;
	}
	if (ret == 0) {
		ret = uv_listen((uv_stream_t *)&ctl->pipe, CONTROL_CLIENTS_MAX, on_connection);
	}
	if (ret != 0) {
		log_err(LOG_MAIN, "control_socket '%s': %s", path, uv_strerror(ret));
		if (ctl->path) {
			unlink(path);
		}
		control_close(ctl, NULL, NULL);
		return ret;
	}
	log_notice(LOG_MAIN, "control socket on '%s'", path);
	*out = ctl;
	return 0;
}

static void on_server_closed(uv_handle_t *h)
{
	struct control *ctl = h->data;

	ctl->handles_open--;
	control_maybe_free(ctl);
}

void control_close(struct control *ctl, void (*on_closed)(void *arg), void *arg)
{
	if (ctl->closing) {
		return;
	}
	ctl->closing = true;
	ctl->on_closed = on_closed;
	ctl->on_closed_arg = arg;
	/* Removed while the process may still: after a privilege drop it may not, and the next
	 * start replaces a socket nobody listens on. */
	if (ctl->path && uv_is_active((uv_handle_t *)&ctl->pipe)) {
		unlink(ctl->path);
	}
	while (ctl->clients) {
		client_close(ctl->clients);
	}
	uv_close((uv_handle_t *)&ctl->pipe, on_server_closed);
}
