/*
 * metrics: the HTTP/1.1 server of metrics_listen. It answers GET and HEAD /metrics with what the
 * render callback writes, and everything else with an error (resolver/metrics.h has the
 * contract and the limits). libhttp-parser parses the request; nothing here reads HTTP itself.
 *
 * Lifetime: the server counts what still has a close callback to come (n_open): its listening
 * handle, each client, each connection closed at accept. A client owns a TCP handle and a timer
 * and is freed in the later of their close callbacks; its write and shutdown requests live in
 * it, and libuv calls them back (UV_ECANCELED when the handle closes first) before the handle's
 * close callback. The server is freed when n_open reaches zero after metrics_server_close(),
 * and on_closed is called after that.
 *
 * A client goes READ (the request parsed as it comes) -> ANSWER (the answer written, then our
 * write side shut down) -> DRAIN (what the client still sends is read and dropped until it
 * closes: bytes left unread would turn our close into a reset, which can destroy the answer
 * before the client has read it) -> CLOSED. One timer, started at accept, bounds all of it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "log.h"
#include "metrics.h"
#include "metrics_int.h"

#define METRICS_BACKLOG 64

#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_TEXT    "text/plain; charset=utf-8"

enum client_state {
	CLIENT_READ,   /**< reading and parsing the request */
	CLIENT_ANSWER, /**< the answer is being written, then the write side shut down */
	CLIENT_DRAIN,  /**< answered: reading and dropping until the peer closes */
	CLIENT_CLOSED, /**< uv_close called on both handles */
};

struct metrics_client {
	uv_tcp_t tcp;
	uv_timer_t timer; /**< from accept to the end: the whole exchange */
	uv_write_t write;
	uv_shutdown_t shutdown;
	struct metrics_server *m; /**< borrowed: the server outlives its clients */
	enum client_state state;
	unsigned handles_open;
	bool peer_eof;		 /**< the peer shut its side down while the answer was written */
	http_parser parser;	 /**< parser.data is the client */
	unsigned status;	 /**< of the answer, 0 until decided */
	bool head_only;		 /**< HEAD: the headers of the answer without its body */
	size_t url_off, url_len; /**< the request target, in buf */
	size_t buf_len;		 /**< bytes of the request in buf */
	char head[320];		 /**< status line and headers; then the body of an error answer */
	char *body;		 /**< owned (open_memstream): what render wrote, for 200 only */
	size_t body_len;
	struct metrics_client *prev, *next; /**< in m->clients */
	char buf[METRICS_HEAD_MAX];	    /**< the request line and headers, as received */
};

struct metrics_server {
	uv_tcp_t tcp;
	metrics_allow_fn allow;
	metrics_render_fn render;
	void *arg; /**< borrowed: for allow and render */
	unsigned timeout_ms;
	unsigned n_open;    /**< the listener, clients and refused connections not freed */
	unsigned n_clients; /**< clients not freed */
	struct metrics_client *clients; /**< owned: each freed in its last close callback */
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg; /**< borrowed */
};

static int on_url(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);

static const http_parser_settings parser_settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
};

/* --- the server's count of pending closes --- */

static void server_release(struct metrics_server *m)
{
	void (*on_closed)(void *arg) = m->on_closed;
	void *arg = m->closed_arg;

	REQUIRE(m->n_open > 0);
	if (--m->n_open > 0) {
		return;
	}
	REQUIRE(m->closing);
	free(m);
	if (on_closed) {
		on_closed(arg);
	}
}

static void on_listener_closed(uv_handle_t *h)
{
	server_release(h->data);
}

static void on_refused_closed(uv_handle_t *h)
{
	struct metrics_server *m = h->data;

	free(h);
	server_release(m);
}

/* Take the pending connection off the listener and close it unread. */
static void connection_refuse(struct metrics_server *m)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t) {
		/* libuv accepts nothing more on this listener until something is accepted. */
		log_warn(LOG_NET, "metrics: out of memory, cannot refuse a connection");
		return;
	}
	uv_tcp_init(m->tcp.loop, t);
	t->data = m;
	m->n_open++;
	(void)uv_accept((uv_stream_t *)&m->tcp, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, on_refused_closed);
}

/* --- clients --- */

static void on_client_closed(uv_handle_t *h)
{
	struct metrics_client *c = h->data;
	struct metrics_server *m = c->m;

	if (--c->handles_open > 0) {
		return;
	}
	if (c->prev) {
		c->prev->next = c->next;
	} else {
		m->clients = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	m->n_clients--;
	free(c->body);
	free(c);
	server_release(m);
}

static void client_close(struct metrics_client *c)
{
	if (c->state == CLIENT_CLOSED) {
		return;
	}
	c->state = CLIENT_CLOSED;
	uv_close((uv_handle_t *)&c->tcp, on_client_closed);
	uv_close((uv_handle_t *)&c->timer, on_client_closed);
}

static void on_client_timeout(uv_timer_t *t)
{
	struct metrics_client *c = t->data;

	if (c->state == CLIENT_CLOSED) {
		return;
	}
	log_debug(LOG_NET, "metrics: client timed out (state %d), closing", (int)c->state);
	client_close(c);
}

static const char *status_reason(unsigned status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

/* Render the body of 200 into c->body. 0, or a negative errno (c->body stays NULL). */
static int client_render(struct metrics_client *c)
{
	struct metrics_server *m = c->m;
	FILE *out = open_memstream(&c->body, &c->body_len);
	int ret;

	if (!out) {
		return -errno;
	}
	ret = m->render(m->arg, out);
	if (ret == 0 && ferror(out)) {
		ret = -EIO;
	}
	/* The buffer and its length are only valid after fclose (open_memstream(3)). */
	if (fclose(out) != 0 && ret == 0) {
		ret = -EIO;
	}
	if (ret == 0 && c->body_len > UINT_MAX) {
		ret = -EFBIG; /* uv_buf_t lengths are unsigned int */
	}
	if (ret != 0) {
		free(c->body);
		c->body = NULL;
		c->body_len = 0;
	}
	return ret;
}

/* Write the status line and headers into c->head, and for an error the short body; its length. */
static size_t client_head_write(struct metrics_client *c)
{
	const char *reason = status_reason(c->status);
	bool ok = c->status == 200;
	bool text = !ok && !c->head_only;
	int n;

	n = snprintf(c->head, sizeof(c->head),
		     "HTTP/1.1 %u %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: close\r\n"
		     "\r\n"
		     "%s%s",
		     c->status, reason, ok ? TYPE_METRICS : TYPE_TEXT,
		     ok ? c->body_len : strlen(reason) + 1,
		     c->status == 405 ? "Allow: GET, HEAD\r\n" : "", text ? reason : "",
		     text ? "\n" : "");
	REQUIRE(n > 0 && (size_t)n < sizeof(c->head));
	return (size_t)n;
}

static void on_client_written(uv_write_t *req, int status)
{
	struct metrics_client *c = req->data;

	if (c->state == CLIENT_CLOSED) {
		return;
	}
	if (status != 0) {
		log_debug(LOG_NET, "metrics: writing the answer failed: %s", uv_strerror(status));
		client_close(c);
	}
}

static void on_client_shutdown(uv_shutdown_t *req, int status)
{
	struct metrics_client *c = req->data;

	if (c->state == CLIENT_CLOSED) {
		return;
	}
	if (status != 0 || c->peer_eof) {
		client_close(c);
		return;
	}
	c->state = CLIENT_DRAIN;
}

/* Send the answer c->status calls for, then shut the write side down (libuv: after the write). */
static void client_answer(struct metrics_client *c)
{
	uv_buf_t bufs[2];
	unsigned n_bufs = 1;
	int ret;

	if (c->status == 200) {
		ret = client_render(c);
		if (c->state == CLIENT_CLOSED) {
			return; /* render closed the server */
		}
		if (ret != 0) {
			log_warn(LOG_NET, "metrics: rendering failed: %s", strerror(-ret));
			c->status = 500;
		}
	}
	log_debug(LOG_NET, "metrics: answering %u", c->status);
	bufs[0] = uv_buf_init(c->head, (unsigned)client_head_write(c));
	if (c->body_len > 0 && !c->head_only) {
		bufs[n_bufs++] = uv_buf_init(c->body, (unsigned)c->body_len);
	}
	c->state = CLIENT_ANSWER;
	ret = uv_write(&c->write, (uv_stream_t *)&c->tcp, bufs, n_bufs, on_client_written);
	if (ret == 0) {
		ret = uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_client_shutdown);
	}
	if (ret != 0) {
		log_debug(LOG_NET, "metrics: cannot answer: %s", uv_strerror(ret));
		client_close(c);
	}
}

static bool span_equal(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/*
 * The request line and headers are in: decide the answer. The parser is paused, so that it
 * reads nothing after the headers (a body or pipelined requests are never parsed).
 */
static int on_headers_complete(http_parser *p)
{
	struct metrics_client *c = p->data;
	const char *url = c->buf + c->url_off;
	bool has_body = p->uses_transfer_encoding || (p->flags & F_CHUNKED) ||
			((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
	struct http_parser_url u;

	http_parser_url_init(&u);
	c->head_only = p->method == HTTP_HEAD;
	if (http_parser_parse_url(url, c->url_len, p->method == HTTP_CONNECT, &u) != 0) {
		c->status = 400;
	} else if (!(u.field_set & (1 << UF_PATH)) ||
		   !span_equal(url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len,
			       "/metrics")) {
		c->status = 404;
	} else if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
		c->status = 405;
	} else if (has_body) {
		c->status = 413;
	} else {
		c->status = 200;
	}
	http_parser_pause(p, 1);
	return 0;
}

/* A piece of the request target: the pieces are contiguous in c->buf, which is never moved. */
static int on_url(http_parser *p, const char *at, size_t len)
{
	struct metrics_client *c = p->data;

	if (c->url_len == 0) {
		c->url_off = (size_t)(at - c->buf);
	}
	c->url_len += len;
	return 0;
}

/* @n more bytes of the request arrived at the end of c->buf. */
static void client_parse(struct metrics_client *c, size_t n)
{
	enum http_errno err;

	http_parser_execute(&c->parser, &parser_settings, c->buf + c->buf_len, n);
	c->buf_len += n;
	err = HTTP_PARSER_ERRNO(&c->parser);
	if (c->status == 0 && err != HPE_OK) {
		log_debug(LOG_NET, "metrics: bad request: %s", http_errno_description(err));
		c->status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
	} else if (c->status == 0 && c->buf_len == sizeof(c->buf)) {
		log_debug(LOG_NET, "metrics: request headers over %zu bytes", sizeof(c->buf));
		c->status = 431;
	}
	if (c->status != 0) {
		client_answer(c);
	}
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct metrics_client *c = h->data;

	(void)suggested;
	if (c->state == CLIENT_READ) {
		/* Never full here: a full buffer has been answered with 431. */
		*buf = uv_buf_init(c->buf + c->buf_len, (unsigned)(sizeof(c->buf) - c->buf_len));
	} else {
		*buf = uv_buf_init(c->buf, sizeof(c->buf)); /* after the request: dropped */
	}
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct metrics_client *c = s->data;

	(void)buf;
	if (c->state == CLIENT_CLOSED || nread == 0) {
		return;
	}
	if (nread == UV_EOF && c->state == CLIENT_ANSWER) {
		c->peer_eof = true; /* a half close: the answer still goes out */
		return;
	}
	if (nread < 0) {
		if (nread != UV_EOF) {
			log_debug(LOG_NET, "metrics: client read failed: %s",
				  uv_strerror((int)nread));
		}
		client_close(c);
		return;
	}
	if (c->state == CLIENT_READ) {
		client_parse(c, (size_t)nread);
	}
}

/* Accept the pending connection into @c, ask allow, start reading. 0, or a negative errno. */
static int client_start(struct metrics_client *c)
{
	struct metrics_server *m = c->m;
	struct sockaddr_storage peer;
	int len = sizeof(peer);
	int ret;

	ret = uv_accept((uv_stream_t *)&m->tcp, (uv_stream_t *)&c->tcp);
	if (ret == 0) {
		ret = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len);
	}
	if (ret != 0) {
		log_debug(LOG_NET, "metrics: accept failed: %s", uv_strerror(ret));
		return ret;
	}
	if (!m->allow(m->arg, (struct sockaddr *)&peer)) {
		if (log_enabled(LOG_DEBUG)) {
			char name[INET6_ADDRSTRLEN] = "?";

			uv_ip_name((struct sockaddr *)&peer, name, sizeof(name));
			log_debug(LOG_NET, "metrics: client '%s' not allowed, closing", name);
		}
		return -EACCES;
	}
	if (c->state == CLIENT_CLOSED) {
		return -ECANCELED; /* allow closed the server */
	}
	ret = uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read);
	if (ret == 0) {
		ret = uv_timer_start(&c->timer, on_client_timeout, m->timeout_ms, 0);
	}
	return ret;
}

static void on_connection(uv_stream_t *s, int status)
{
	struct metrics_server *m = s->data;
	struct metrics_client *c;

	if (m->closing) {
		return;
	}
	if (status != 0) {
		log_warn(LOG_NET, "metrics: accept failed: %s", uv_strerror(status));
		return;
	}
	if (m->n_clients >= METRICS_CLIENTS_MAX) {
		log_debug(LOG_NET, "metrics: %u clients already, closing a new one", m->n_clients);
		connection_refuse(m);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		connection_refuse(m);
		return;
	}
	uv_tcp_init(m->tcp.loop, &c->tcp);
	uv_timer_init(m->tcp.loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->write.data = c;
	c->shutdown.data = c;
	c->handles_open = 2;
	c->m = m;
	c->state = CLIENT_READ;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->next = m->clients;
	if (m->clients) {
		m->clients->prev = c;
	}
	m->clients = c;
	m->n_clients++;
	m->n_open++;
	if (client_start(c) != 0) {
		client_close(c);
	}
}

/* --- the server --- */

int metrics_server_open(uv_loop_t *loop, const struct sockaddr *addr, metrics_allow_fn allow,
			metrics_render_fn render, void *arg, struct metrics_server **out)
{
	struct metrics_server *m;
	unsigned flags;
	int ret;

	REQUIRE(allow && render);
	if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) {
		return -EAFNOSUPPORT;
	}
	flags = addr->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
	m = calloc(1, sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	m->allow = allow;
	m->render = render;
	m->arg = arg;
	m->timeout_ms = METRICS_TIMEOUT_MS;
	uv_tcp_init(loop, &m->tcp);
	m->tcp.data = m;
	m->n_open = 1;
	ret = uv_tcp_bind(&m->tcp, addr, flags);
	if (ret != 0) {
		goto cleanup;
	}
	/* libuv reports a bind's EADDRINUSE from uv_listen. */
	ret = uv_listen((uv_stream_t *)&m->tcp, METRICS_BACKLOG, on_connection);
	if (ret != 0) {
		goto cleanup;
	}
	*out = m;
	return 0;
cleanup:
	m->closing = true;
	uv_close((uv_handle_t *)&m->tcp, on_listener_closed); /* frees m */
	return ret;
}

void metrics_server_close(struct metrics_server *m, void (*on_closed)(void *arg), void *arg)
{
	REQUIRE(!m->closing);
	m->closing = true;
	m->on_closed = on_closed;
	m->closed_arg = arg;
	/* Close callbacks come later: the list stays whole while it is walked. */
	for (struct metrics_client *c = m->clients; c; c = c->next) {
		client_close(c);
	}
	uv_close((uv_handle_t *)&m->tcp, on_listener_closed);
}

int metrics_server_address(struct metrics_server *m, struct sockaddr_storage *out)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int ret;

	ret = uv_tcp_getsockname(&m->tcp, (struct sockaddr *)&ss, &len);
	if (ret == 0) {
		*out = ss;
	}
	return ret;
}

void metrics_server_timeout_set(struct metrics_server *m, unsigned ms)
{
	m->timeout_ms = ms;
}

unsigned metrics_server_clients(const struct metrics_server *m)
{
	return m->n_clients;
}
