/*
 * test_metrics: the /metrics HTTP endpoint (resolver/metrics.c) on a real libuv loop. The
 * server listens on 127.0.0.1 (and ::1) on a port the system picks; the clients are uv_tcp
 * connections on the same loop, and their answers are taken apart here by hand, not by
 * http-parser, so that the server's parser is not checked against itself. Each test opens its
 * own loop and must leave it with no handle (uv_loop_close() returns 0); the ASan build
 * (make san-build) finds what a test leaks, a closed server included.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <uv.h>

#include "metrics.h"
#include "metrics_int.h"
#include "unit.h"

#define BODY                                                                                       \
	"# HELP dotd_queries_total Queries received.\n"                                            \
	"# TYPE dotd_queries_total counter\n"                                                      \
	"dotd_queries_total{transport=\"udp\"} 42\n"                                               \
	"dotd_queries_total{transport=\"tcp\"} 7\n"

#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define GET_METRICS  "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
#define CLIENTS_MAX  64

/* A test client: one uv_tcp connection, everything it receives, how it ended. */
struct tclient {
	uv_tcp_t tcp;
	uv_connect_t connect;
	char *rx; /**< owned: what it received, NUL-terminated */
	size_t rx_len, rx_cap;
	bool connected;
	bool no_read; /**< does not read until tclient_read_start() */
	bool ended;   /**< EOF, a read error or a failed connect */
	bool closed;  /**< its close callback ran */
	int end;      /**< UV_EOF, or the error */
	uint64_t t_start, t_end;
	struct sockaddr_storage local; /**< its address, once connected */
	const char *send;	       /**< borrowed: sent once connected */
	size_t send_len;
};

struct twrite {
	uv_write_t req;
	char data[];
};

/* Everything one test has: the loop, the server, what its callbacks saw. */
static struct {
	uv_loop_t loop;
	uv_timer_t tick; /**< keeps uv_run(UV_RUN_ONCE) from blocking in run_until() */
	struct metrics_server *m;
	struct sockaddr_storage addr; /**< where m listens */
	bool allow;		      /**< what the allow callback answers */
	unsigned n_allow, n_render;
	struct sockaddr_storage peer; /**< the last one allow was asked about */
	const char *body;	      /**< borrowed: what render writes */
	size_t body_len;
	int render_ret;
	unsigned n_closed;    /**< on_closed calls */
	unsigned n_foreign;   /**< handles not the test's when on_closed ran */
	uv_handle_t *ours[8]; /**< the test's handles other than its clients */
	unsigned n_ours;
	struct tclient *clients[CLIENTS_MAX]; /**< owned */
	unsigned n_clients;
} x;

static bool on_allow(void *arg, const struct sockaddr *peer)
{
	CU_ASSERT_PTR_EQUAL(arg, &x);
	x.n_allow++;
	memcpy(&x.peer, peer,
	       peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	return x.allow;
}

static int on_render(void *arg, FILE *out)
{
	CU_ASSERT_PTR_EQUAL(arg, &x);
	x.n_render++;
	if (fwrite(x.body, 1, x.body_len, out) != x.body_len) {
		return -EIO;
	}
	return x.render_ret;
}

static bool handle_is_ours(uv_handle_t *h)
{
	for (unsigned i = 0; i < x.n_ours; i++) {
		if (x.ours[i] == h) {
			return true;
		}
	}
	for (unsigned i = 0; i < x.n_clients; i++) {
		if ((uv_handle_t *)&x.clients[i]->tcp == h) {
			return true;
		}
	}
	return false;
}

static void on_walk_count(uv_handle_t *h, void *arg)
{
	unsigned *n = arg;

	if (!handle_is_ours(h)) {
		(*n)++;
	}
}

/* The server is gone: none of its handles may be left on the loop. */
static void on_server_closed(void *arg)
{
	CU_ASSERT_PTR_EQUAL(arg, &x);
	x.n_closed++;
	uv_walk(&x.loop, on_walk_count, &x.n_foreign);
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Run the loop until @done(@arg) or @ms milliseconds have passed; whether @done. */
static bool run_until(bool (*done)(const void *arg), const void *arg, uint64_t ms)
{
	uint64_t start;

	uv_update_time(&x.loop);
	start = uv_now(&x.loop);
	uv_timer_start(&x.tick, on_tick, 5, 5);
	while (!done(arg) && uv_now(&x.loop) - start < ms) {
		uv_run(&x.loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&x.tick);
	return done(arg);
}

static void ctx_init(void)
{
	memset(&x, 0, sizeof(x));
	x.allow = true;
	x.body = BODY;
	x.body_len = strlen(BODY);
	CU_ASSERT_FATAL(uv_loop_init(&x.loop) == 0);
	uv_timer_init(&x.loop, &x.tick);
	x.ours[x.n_ours++] = (uv_handle_t *)&x.tick;
}

/* A server on @ip port 0 in x.m, its address in x.addr; the error of metrics_server_open. */
static int server_open(const char *ip)
{
	struct sockaddr_storage ss;
	int ret;

	if (strchr(ip, ':')) {
		CU_ASSERT_FATAL(uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)&ss) == 0);
	} else {
		CU_ASSERT_FATAL(uv_ip4_addr(ip, 0, (struct sockaddr_in *)&ss) == 0);
	}
	ret = metrics_server_open(&x.loop, (struct sockaddr *)&ss, on_allow, on_render, &x, &x.m);
	if (ret == 0) {
		CU_ASSERT_EQUAL_FATAL(metrics_server_address(x.m, &x.addr), 0);
	}
	return ret;
}

static bool server_clients_none(const void *arg)
{
	(void)arg;
	return metrics_server_clients(x.m) == 0;
}

static bool server_closed(const void *arg)
{
	(void)arg;
	return x.n_closed > 0;
}

static void on_tclient_closed(uv_handle_t *h)
{
	struct tclient *c = h->data;

	c->closed = true;
}

static bool tclients_closed(const void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < x.n_clients; i++) {
		if (!x.clients[i]->closed) {
			return false;
		}
	}
	return true;
}

/* Close the server if open, then every client; the loop must be left with nothing on it. */
static void ctx_done(void)
{
	if (x.m) {
		metrics_server_close(x.m, on_server_closed, &x);
		x.m = NULL;
		CU_ASSERT_TRUE(run_until(server_closed, NULL, 2000));
		CU_ASSERT_EQUAL(x.n_closed, 1);
		CU_ASSERT_EQUAL(x.n_foreign, 0);
	}
	for (unsigned i = 0; i < x.n_clients; i++) {
		if (!uv_is_closing((uv_handle_t *)&x.clients[i]->tcp)) {
			uv_close((uv_handle_t *)&x.clients[i]->tcp, on_tclient_closed);
		}
	}
	CU_ASSERT_TRUE(run_until(tclients_closed, NULL, 2000));
	uv_close((uv_handle_t *)&x.tick, NULL);
	uv_run(&x.loop, UV_RUN_DEFAULT);
	CU_ASSERT_EQUAL(uv_loop_close(&x.loop), 0);
	for (unsigned i = 0; i < x.n_clients; i++) {
		free(x.clients[i]->rx);
		free(x.clients[i]);
	}
	x.n_clients = 0;
}

static void tclient_end(struct tclient *c, int end)
{
	c->ended = true;
	c->end = end;
	c->t_end = uv_now(&x.loop);
	if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, on_tclient_closed);
	}
}

static void on_tclient_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tclient *c = h->data;

	(void)suggested;
	if (c->rx_cap - c->rx_len < 65536 + 1) {
		c->rx_cap = c->rx_cap * 2 + 65536 + 1;
		c->rx = realloc(c->rx, c->rx_cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c->rx);
	}
	*buf = uv_buf_init(c->rx + c->rx_len, (unsigned)(c->rx_cap - c->rx_len - 1));
}

static void on_tclient_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tclient *c = s->data;

	(void)buf;
	if (nread < 0) {
		tclient_end(c, (int)nread);
		return;
	}
	c->rx_len += (size_t)nread;
	c->rx[c->rx_len] = '\0';
}

static void tclient_read_start(struct tclient *c)
{
	c->no_read = false;
	CU_ASSERT_EQUAL(uv_read_start((uv_stream_t *)&c->tcp, on_tclient_alloc, on_tclient_read),
			0);
}

static void on_twritten(uv_write_t *req, int status)
{
	(void)status; /* the server may have closed already: what it answered is what counts */
	free(req->data);
}

static void tclient_send(struct tclient *c, const char *data, size_t len)
{
	struct twrite *w = malloc(sizeof(*w) + len);
	uv_buf_t b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	memcpy(w->data, data, len);
	w->req.data = w;
	b = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_twritten) != 0) {
		free(w);
	}
}

static void on_tclient_connect(uv_connect_t *req, int status)
{
	struct tclient *c = req->data;
	int len = sizeof(c->local);

	if (status != 0) {
		tclient_end(c, status);
		return;
	}
	c->connected = true;
	CU_ASSERT_EQUAL(uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->local, &len), 0);
	if (!c->no_read) {
		tclient_read_start(c);
	}
	if (c->send) {
		tclient_send(c, c->send, c->send_len);
	}
}

/* A client connecting to the server, and sending @len bytes of @send once connected. */
static struct tclient *tclient_open(const char *send, size_t len)
{
	struct tclient *c = calloc(1, sizeof(*c));

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_FATAL(x.n_clients < CLIENTS_MAX);
	x.clients[x.n_clients++] = c;
	uv_tcp_init(&x.loop, &c->tcp);
	c->tcp.data = c;
	c->connect.data = c;
	c->send = send;
	c->send_len = len;
	c->t_start = uv_now(&x.loop);
	CU_ASSERT_EQUAL_FATAL(uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&x.addr,
					     on_tclient_connect),
			      0);
	return c;
}

static bool tclient_ended(const void *arg)
{
	return ((const struct tclient *)arg)->ended;
}

static bool tclient_connected(const void *arg)
{
	const struct tclient *c = arg;

	return c->connected || c->ended;
}

/* Send @len bytes of @req on a new connection; the client once the server has ended it. */
static struct tclient *exchange(const char *req, size_t len)
{
	struct tclient *c = tclient_open(req, len);

	CU_ASSERT_TRUE(run_until(tclient_ended, c, 2000));
	return c;
}

static struct tclient *exchange_str(const char *req)
{
	return exchange(req, strlen(req));
}

/* --- taking an answer apart --- */

struct answer {
	unsigned status;
	const char *head; /**< borrowed: from the status line to the empty line, included */
	size_t head_len;
	const char *body; /**< borrowed: everything after the empty line */
	size_t body_len;
};

/* Whether @c received a status line and headers; @a has them. */
static bool answer_parse(const struct tclient *c, struct answer *a)
{
	const char *end;
	char *num_end;

	if (!c->rx || strncmp(c->rx, "HTTP/1.1 ", 9) != 0) {
		return false;
	}
	end = memmem(c->rx, c->rx_len, "\r\n\r\n", 4);
	if (!end) {
		return false;
	}
	a->status = (unsigned)strtoul(c->rx + 9, &num_end, 10);
	if (num_end != c->rx + 12 || *num_end != ' ') {
		return false;
	}
	a->head = c->rx;
	a->head_len = (size_t)(end + 4 - c->rx);
	a->body = end + 4;
	a->body_len = c->rx_len - a->head_len;
	return true;
}

/*
 * How many header lines of @a are named @name (any case); the value of the first in @value.
 */
static unsigned answer_header(const struct answer *a, const char *name, char *value, size_t size)
{
	size_t name_len = strlen(name);
	const char *line = (const char *)memmem(a->head, a->head_len, "\r\n", 2) + 2;
	const char *end = a->head + a->head_len - 2; /* the empty line */
	unsigned n = 0;

	value[0] = '\0';
	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
		size_t len = (size_t)(eol - line);

		if (len > name_len + 2 && strncasecmp(line, name, name_len) == 0 &&
		    line[name_len] == ':' && line[name_len + 1] == ' ') {
			if (n++ == 0) {
				snprintf(value, size, "%.*s", (int)(len - name_len - 2),
					 line + name_len + 2);
			}
		}
		line = eol + 2;
	}
	return n;
}

/* Whether @a has exactly one header @name, and it is @value. */
static bool header_is(const struct answer *a, const char *name, const char *value)
{
	char v[256];

	return answer_header(a, name, v, sizeof(v)) == 1 && strcmp(v, value) == 0;
}

static bool content_length_is(const struct answer *a, size_t len)
{
	char want[32];

	snprintf(want, sizeof(want), "%zu", len);
	return header_is(a, "Content-Length", want);
}

/*
 * @c got the answer @status, with its reason, the headers every answer has, Content-Length
 * @body_len and (when @body) exactly that body; and the server ended the connection (EOF).
 */
static void answer_check(const struct tclient *c, unsigned status, const char *reason,
			 const char *type, size_t body_len, const char *body)
{
	char line[64];
	struct answer a;

	CU_ASSERT_TRUE(c->ended);
	CU_ASSERT_EQUAL(c->end, UV_EOF);
	CU_ASSERT_TRUE_FATAL(answer_parse(c, &a));
	CU_ASSERT_EQUAL(a.status, status);
	snprintf(line, sizeof(line), "HTTP/1.1 %u %s\r\n", status, reason);
	CU_ASSERT_EQUAL(strncmp(a.head, line, strlen(line)), 0);
	CU_ASSERT_TRUE(header_is(&a, "Content-Type", type));
	CU_ASSERT_TRUE(content_length_is(&a, body_len));
	CU_ASSERT_TRUE(header_is(&a, "Connection", "close"));
	if (body) {
		CU_ASSERT_EQUAL_FATAL(a.body_len, body_len);
		CU_ASSERT_EQUAL(memcmp(a.body, body, body_len), 0);
	} else {
		CU_ASSERT_EQUAL(a.body_len, 0);
	}
}

/* @c got the metrics: 200 with exactly the body render wrote. */
static void metrics_check(const struct tclient *c)
{
	answer_check(c, 200, "OK", TYPE_METRICS, x.body_len, x.body);
}

/* @c got error @status: its reason as the body (none for HEAD), nothing render wrote. */
static void error_check(const struct tclient *c, unsigned status, const char *reason, bool head)
{
	char body[64];

	snprintf(body, sizeof(body), "%s\n", reason);
	answer_check(c, status, reason, "text/plain; charset=utf-8", strlen(body),
		     head ? NULL : body);
}

/* --- the tests --- */

/* GET /metrics: 200, the headers, exactly what render wrote; a query string changes nothing. */
static void test_get(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&x.addr;
	const char *reqs[] = {
		GET_METRICS,
		"GET /metrics?x=1&name[]=a HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /metrics HTTP/1.0\r\n\r\n",
		"GET http://localhost:9153/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /metrics#part HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
	};

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	CU_ASSERT_NOT_EQUAL(sin->sin_port, 0);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		metrics_check(exchange_str(reqs[i]));
		CU_ASSERT_EQUAL(x.n_render, i + 1);
	}
	CU_ASSERT_EQUAL(x.n_allow, sizeof(reqs) / sizeof(reqs[0]));
	/* Each connection is freed once the client has closed its side. */
	CU_ASSERT_TRUE(run_until(server_clients_none, NULL, 1000));
	/* An empty body is a body too. */
	x.body = "";
	x.body_len = 0;
	metrics_check(exchange_str(GET_METRICS));
	ctx_done();
}

/* A body of several hundred kilobytes arrives whole, in many reads and writes. */
static void test_get_large(void)
{
	size_t size = 600 * 1000, n = 0;
	char *big = malloc(size + 64);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	for (unsigned i = 0; n < size; i++) {
		n += (size_t)sprintf(big + n, "dotd_test_total{n=\"%u\"} %u\n", i, i * 7);
	}
	ctx_init();
	x.body = big;
	x.body_len = n;
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	metrics_check(exchange_str(GET_METRICS));
	ctx_done();
	free(big);
}

/* HEAD /metrics: the headers GET has, Content-Length of the body included, and no body. */
static void test_head(void)
{
	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	answer_check(exchange_str("HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"), 200, "OK",
		     TYPE_METRICS, x.body_len, NULL);
	CU_ASSERT_EQUAL(x.n_render, 1);
	ctx_done();
}

/* Any other path: 404, and render is not called; nothing else is served. */
static void test_not_found(void)
{
	const char *paths[] = {"/",	      "/other",	     "/metrics/", "/metricsx",
			       "/Metrics",    "/%6Detrics",  "//metrics", "/metrics/../metrics",
			       "/etc/passwd", "/../metrics", "*"};
	char req[128];

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", paths[i]);
		error_check(exchange_str(req), 404, "Not Found", false);
	}
	/* HEAD gets the headers of the 404, without its body. */
	error_check(exchange_str("HEAD /other HTTP/1.1\r\n\r\n"), 404, "Not Found", true);
	/* Not even a method we refuse elsewhere reaches another path. */
	error_check(exchange_str("POST /other HTTP/1.1\r\n\r\n"), 404, "Not Found", false);
	CU_ASSERT_EQUAL(x.n_render, 0);
	ctx_done();
}

/* Other methods on /metrics: 405 with Allow: GET, HEAD. */
static void test_method(void)
{
	const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"};
	char req[128];

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct tclient *c;
		struct answer a;

		snprintf(req, sizeof(req),
			 "%s /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
			 methods[i]);
		c = exchange_str(req);
		error_check(c, 405, "Method Not Allowed", false);
		CU_ASSERT_TRUE_FATAL(answer_parse(c, &a));
		CU_ASSERT_TRUE(header_is(&a, "Allow", "GET, HEAD"));
	}
	CU_ASSERT_EQUAL(x.n_render, 0);
	ctx_done();
}

/* What the parser refuses: 400, and the connection ends. */
static void test_bad_request(void)
{
	static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00";
	const char *reqs[] = {
		"hello\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost localhost\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET /met rics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\n\x01\r\n\r\n",
	};

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	error_check(exchange(tls_hello, sizeof(tls_hello) - 1), 400, "Bad Request", false);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		error_check(exchange_str(reqs[i]), 400, "Bad Request", false);
	}
	CU_ASSERT_EQUAL(x.n_render, 0);
	ctx_done();
}

/* A request with a body: 413, and the body is not read as a request. */
static void test_body(void)
{
	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	error_check(exchange_str("GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde"), 413,
		    "Content Too Large", false);
	error_check(exchange_str("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "5\r\nabcde\r\n0\r\n\r\n"),
		    413, "Content Too Large", false);
	error_check(exchange_str("GET /metrics HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 413,
		    "Content Too Large", false);
	/* Announced but not sent: answered at once, not after waiting for it. */
	error_check(exchange_str("GET /metrics HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n"), 413,
		    "Content Too Large", false);
	CU_ASSERT_EQUAL(x.n_render, 0);
	ctx_done();
}

/* A request of @size bytes with its headers padded by X-Pad; in @buf. */
static size_t padded_request(char *buf, size_t size)
{
	const char *start = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Pad: ";
	size_t n = strlen(start);

	memcpy(buf, start, n);
	memset(buf + n, 'a', size - n - 4);
	memcpy(buf + size - 4, "\r\n\r\n", 4);
	return size;
}

/* METRICS_HEAD_MAX bytes of request line and headers are served; one more is refused (431). */
static void test_header_limit(void)
{
	static char req[9 * 1024];

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	metrics_check(exchange(req, padded_request(req, METRICS_HEAD_MAX)));
	error_check(exchange(req, padded_request(req, METRICS_HEAD_MAX + 1)), 431,
		    "Request Header Fields Too Large", false);
	error_check(exchange(req, padded_request(req, sizeof(req))), 431,
		    "Request Header Fields Too Large", false);
	CU_ASSERT_EQUAL(x.n_render, 1);
	ctx_done();
}

/* A client allow refuses is closed at accept: not a byte of an answer, render not called. */
static void test_refused(void)
{
	struct sockaddr_in *peer = (struct sockaddr_in *)&x.peer;
	struct tclient *c;

	ctx_init();
	x.allow = false;
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	c = tclient_open(GET_METRICS, strlen(GET_METRICS));
	/* At once: not after METRICS_TIMEOUT_MS. */
	CU_ASSERT_TRUE(run_until(tclient_ended, c, 1000));
	CU_ASSERT_TRUE(c->connected);
	CU_ASSERT_EQUAL(c->rx_len, 0);
	CU_ASSERT(c->end == UV_EOF || c->end == UV_ECONNRESET);
	/* allow was asked once, about this client's address and port. */
	CU_ASSERT_EQUAL(x.n_allow, 1);
	CU_ASSERT_EQUAL(peer->sin_family, AF_INET);
	CU_ASSERT_EQUAL(peer->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	CU_ASSERT_EQUAL(peer->sin_port, ((struct sockaddr_in *)&c->local)->sin_port);
	CU_ASSERT_EQUAL(x.n_render, 0);
	CU_ASSERT_TRUE(run_until(server_clients_none, NULL, 1000));
	/* The same server answers the next client allow accepts. */
	x.allow = true;
	metrics_check(exchange_str(GET_METRICS));
	ctx_done();
}

/* A client that sends half a request, or nothing, is closed after the timeout, unanswered. */
static void test_timeout(void)
{
	const char *half = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n";
	struct tclient *stalled, *silent;

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	metrics_server_timeout_set(x.m, 200);
	stalled = tclient_open(half, strlen(half));
	silent = tclient_open(NULL, 0);
	CU_ASSERT_TRUE(run_until(tclient_ended, stalled, 2000));
	CU_ASSERT_TRUE(run_until(tclient_ended, silent, 2000));
	CU_ASSERT_EQUAL(stalled->rx_len, 0);
	CU_ASSERT_EQUAL(silent->rx_len, 0);
	/* Not before the timeout (a timer may fire up to a millisecond early in uv_now terms). */
	CU_ASSERT(stalled->t_end - stalled->t_start >= 199);
	CU_ASSERT(stalled->t_end - stalled->t_start < 1000);
	CU_ASSERT(silent->t_end - silent->t_start >= 199);
	CU_ASSERT(silent->t_end - silent->t_start < 1000);
	CU_ASSERT_EQUAL(x.n_render, 0);
	CU_ASSERT_TRUE(run_until(server_clients_none, NULL, 1000));
	ctx_done();
}

/* The timeout holds while the answer is sent too: a client that does not read is closed. */
static void test_timeout_write(void)
{
	size_t size = 32 * 1024 * 1024;
	char *big = malloc(size);
	struct tclient *c;
	struct answer a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '#', size);
	ctx_init();
	x.body = big;
	x.body_len = size;
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	metrics_server_timeout_set(x.m, 300);
	c = tclient_open(GET_METRICS, strlen(GET_METRICS));
	c->no_read = true;
	CU_ASSERT_TRUE(run_until(tclient_connected, c, 1000));
	/* More than the sockets hold stays queued: the server gives up on it at the timeout. */
	CU_ASSERT_TRUE(run_until(server_clients_none, NULL, 2000));
	CU_ASSERT_EQUAL(x.n_render, 1);
	tclient_read_start(c);
	CU_ASSERT_TRUE(run_until(tclient_ended, c, 5000));
	CU_ASSERT_TRUE_FATAL(answer_parse(c, &a));
	CU_ASSERT_EQUAL(a.status, 200);
	CU_ASSERT_TRUE(content_length_is(&a, size));
	CU_ASSERT(a.body_len < size);
	ctx_done();
	free(big);
}

static void on_split_send(uv_timer_t *t)
{
	static const char *pieces[] = {"GET /m", "etr", "ics?a=b HTTP/1.1\r\nHo",
				       "st: localhost\r\n", "\r\n"};
	struct tclient *c = x.clients[0];
	size_t *next = t->data;

	tclient_send(c, pieces[*next], strlen(pieces[*next]));
	if (++*next == sizeof(pieces) / sizeof(pieces[0])) {
		uv_timer_stop(t);
	}
}

static void on_split_closed(uv_handle_t *h)
{
	(void)h;
}

/* A request that arrives in pieces, the path cut in three, is put together and served. */
static void test_split(void)
{
	uv_timer_t sender;
	size_t next = 0;
	struct tclient *c;

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	c = tclient_open(NULL, 0);
	CU_ASSERT_TRUE_FATAL(run_until(tclient_connected, c, 1000));
	uv_timer_init(&x.loop, &sender);
	sender.data = &next;
	x.ours[x.n_ours++] = (uv_handle_t *)&sender;
	uv_timer_start(&sender, on_split_send, 30, 30);
	CU_ASSERT_TRUE(run_until(tclient_ended, c, 2000));
	CU_ASSERT_EQUAL(next, 5);
	metrics_check(c);
	uv_close((uv_handle_t *)&sender, on_split_closed);
	ctx_done();
}

/* Pipelined requests: the first is answered, the rest are dropped, and the connection ends. */
static void test_pipelined(void)
{
	const char *reqs = GET_METRICS "GET /other HTTP/1.1\r\n\r\n" GET_METRICS;

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	/* metrics_check: the body ends where Content-Length says, nothing follows. */
	metrics_check(exchange_str(reqs));
	CU_ASSERT_EQUAL(x.n_render, 1);
	ctx_done();
}

static bool never(const void *arg)
{
	(void)arg;
	return false;
}

/*
 * What a client sends after its request is read and dropped until it closes, while the answer
 * is still queued in the sockets. Closed with bytes coming in, the server's socket would answer
 * them with a reset and drop what it had not sent yet: the client would get part of the body
 * and an error instead of the end of the stream.
 */
static void test_drain(void)
{
	static char junk[100000];
	size_t size = 256 * 1024;
	char *big = malloc(size);
	struct tclient *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '#', size);
	memset(junk, 'j', sizeof(junk));
	ctx_init();
	x.body = big;
	x.body_len = size;
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	c = tclient_open(GET_METRICS, strlen(GET_METRICS));
	c->no_read = true;
	CU_ASSERT_TRUE_FATAL(run_until(tclient_connected, c, 1000));
	run_until(never, NULL, 100); /* answered into the sockets, the write side shut down */
	CU_ASSERT_EQUAL(x.n_render, 1);
	tclient_send(c, junk, sizeof(junk));
	run_until(never, NULL, 100);
	tclient_read_start(c);
	CU_ASSERT_TRUE(run_until(tclient_ended, c, 2000));
	metrics_check(c);
	ctx_done();
	free(big);
}

/* render fails: 500, and what it wrote before is not sent. */
static void test_render_fail(void)
{
	struct tclient *c;

	ctx_init();
	x.render_ret = -EIO;
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	c = exchange_str(GET_METRICS);
	error_check(c, 500, "Internal Server Error", false);
	CU_ASSERT_PTR_NULL(memmem(c->rx, c->rx_len, "dotd_queries_total", 18));
	CU_ASSERT_EQUAL(x.n_render, 1);
	ctx_done();
}

static bool server_clients_max(const void *arg)
{
	(void)arg;
	return metrics_server_clients(x.m) == METRICS_CLIENTS_MAX;
}

static bool tclients_ended(const void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < x.n_clients; i++) {
		if (!x.clients[i]->ended) {
			return false;
		}
	}
	return true;
}

/* METRICS_CLIENTS_MAX at once: more are closed at accept, and those admitted are all served. */
static void test_clients_max(void)
{
	struct tclient *first[METRICS_CLIENTS_MAX], *extra[2];

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	for (unsigned i = 0; i < METRICS_CLIENTS_MAX; i++) {
		first[i] = tclient_open(NULL, 0);
	}
	CU_ASSERT_TRUE_FATAL(run_until(server_clients_max, NULL, 2000));
	for (unsigned i = 0; i < 2; i++) {
		extra[i] = tclient_open(GET_METRICS, strlen(GET_METRICS));
	}
	/* Closed at once (the timeout is 5 s), unread and unanswered. */
	for (unsigned i = 0; i < 2; i++) {
		CU_ASSERT_TRUE(run_until(tclient_ended, extra[i], 1000));
		CU_ASSERT_EQUAL(extra[i]->rx_len, 0);
	}
	CU_ASSERT_EQUAL(x.n_allow, METRICS_CLIENTS_MAX);
	CU_ASSERT_EQUAL(metrics_server_clients(x.m), METRICS_CLIENTS_MAX);
	for (unsigned i = 0; i < METRICS_CLIENTS_MAX; i++) {
		CU_ASSERT_FALSE(first[i]->ended);
		tclient_send(first[i], GET_METRICS, strlen(GET_METRICS));
	}
	CU_ASSERT_TRUE(run_until(tclients_ended, NULL, 3000));
	for (unsigned i = 0; i < METRICS_CLIENTS_MAX; i++) {
		metrics_check(first[i]);
	}
	CU_ASSERT_EQUAL(x.n_render, METRICS_CLIENTS_MAX);
	/* The places are free again. */
	CU_ASSERT_TRUE(run_until(server_clients_none, NULL, 1000));
	metrics_check(exchange_str(GET_METRICS));
	ctx_done();
}

/*
 * A connect refused. qemu-user 7.2 hands a connect's SO_ERROR to the guest untranslated, so a
 * MIPS dotd under it sees the host's ECONNREFUSED (111) and not its own (146): accepted only
 * when DOTD_TEST_EMULATOR says the test runs under an emulator (cmake/cross.cmake).
 */
static bool refused(int end)
{
	return end == UV_ECONNREFUSED || (getenv("DOTD_TEST_EMULATOR") && end == -111);
}

static bool render_called(const void *arg)
{
	(void)arg;
	return x.n_render > 0 && metrics_server_clients(x.m) == 3;
}

/*
 * metrics_server_close() with clients mid-request and one mid-answer: each is closed, the
 * server is freed after its last handle, on_closed once, then no one connects any more.
 */
static void test_close_busy(void)
{
	const char *half = "GET /metrics HTTP/1.1\r\nHost: loc";
	size_t size = 32 * 1024 * 1024;
	char *big = malloc(size);
	struct tclient *stalled, *silent, *reader, *late;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '#', size);
	ctx_init();
	x.body = big;
	x.body_len = size;
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	stalled = tclient_open(half, strlen(half));
	silent = tclient_open(NULL, 0);
	reader = tclient_open(GET_METRICS, strlen(GET_METRICS));
	reader->no_read = true; /* its answer stays queued in the server */
	CU_ASSERT_TRUE_FATAL(run_until(render_called, NULL, 2000));

	metrics_server_close(x.m, on_server_closed, &x);
	x.m = NULL;
	CU_ASSERT_TRUE(run_until(server_closed, NULL, 1000));
	CU_ASSERT_EQUAL(x.n_closed, 1);
	CU_ASSERT_EQUAL(x.n_foreign, 0);
	CU_ASSERT_TRUE(run_until(tclient_ended, stalled, 1000));
	CU_ASSERT_TRUE(run_until(tclient_ended, silent, 1000));
	CU_ASSERT_EQUAL(stalled->rx_len, 0);
	CU_ASSERT_EQUAL(silent->rx_len, 0);
	tclient_read_start(reader);
	CU_ASSERT_TRUE(run_until(tclient_ended, reader, 5000));
	CU_ASSERT(reader->rx_len < size);
	/* Nothing listens any more. */
	late = exchange_str(GET_METRICS);
	CU_ASSERT(refused(late->end));
	CU_ASSERT_EQUAL(x.n_closed, 1);
	ctx_done();
	free(big);
}

/* Closing an idle server, on_closed NULL: freed all the same (ASan would say otherwise). */
static void test_close_idle(void)
{
	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	metrics_server_close(x.m, NULL, NULL);
	x.m = NULL;
	ctx_done();
}

/* The errors of open: the address in use, a family that is not IP; *out stays as it was. */
static void test_open_errors(void)
{
	struct metrics_server *m = (struct metrics_server *)&x; /* must stay untouched */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	ctx_init();
	CU_ASSERT_EQUAL_FATAL(server_open("127.0.0.1"), 0);
	CU_ASSERT_EQUAL(metrics_server_open(&x.loop, (struct sockaddr *)&x.addr, on_allow,
					    on_render, &x, &m),
			UV_EADDRINUSE);
	CU_ASSERT_PTR_EQUAL(m, &x);
	CU_ASSERT_EQUAL(
		metrics_server_open(&x.loop, (struct sockaddr *)&sun, on_allow, on_render, &x, &m),
		-EAFNOSUPPORT);
	CU_ASSERT_PTR_EQUAL(m, &x);
	/* The first server is unharmed. */
	metrics_check(exchange_str(GET_METRICS));
	ctx_done();
}

/* IPv6: served on ::1, and allow sees the IPv6 peer (skipped on a host without ::1). */
static void test_ipv6(void)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&x.addr;
	struct sockaddr_in6 *peer = (struct sockaddr_in6 *)&x.peer;
	int ret;

	ctx_init();
	ret = server_open("::1");
	if (ret == UV_EADDRNOTAVAIL || ret == UV_EAFNOSUPPORT) {
		printf("(no ::1 here, skipped) ");
		ctx_done();
		return;
	}
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_NOT_EQUAL(sin6->sin6_port, 0);
	CU_ASSERT_EQUAL(memcmp(&sin6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)), 0);
	metrics_check(exchange_str(GET_METRICS));
	CU_ASSERT_EQUAL(peer->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(memcmp(&peer->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)), 0);
	ctx_done();
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"GET /metrics: 200 and the body", test_get},
		{"GET /metrics: a large body whole", test_get_large},
		{"HEAD /metrics: headers only", test_head},
		{"other paths: 404", test_not_found},
		{"other methods: 405", test_method},
		{"malformed requests: 400", test_bad_request},
		{"a request body: 413", test_body},
		{"request headers over 8 KiB: 431", test_header_limit},
		{"a client allow refuses: closed", test_refused},
		{"a stalled client: closed at the timeout", test_timeout},
		{"a client not reading: closed at the timeout", test_timeout_write},
		{"a request in pieces", test_split},
		{"pipelined requests: the first answered", test_pipelined},
		{"bytes after the request: dropped, answer whole", test_drain},
		{"render fails: 500", test_render_fail},
		{"more than 32 clients: the extra closed", test_clients_max},
		{"close with busy clients", test_close_busy},
		{"close an idle server", test_close_idle},
		{"open: EADDRINUSE, EAFNOSUPPORT", test_open_errors},
		{"IPv6", test_ipv6},
		CU_TEST_INFO_NULL,
	};

	return unit_run("metrics", tests);
}
