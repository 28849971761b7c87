/*
 * test_plain: the plain DNS upstream (tls/tls_plain.c) on a real libuv loop, against a fake
 * server in the same loop: a UDP socket and a TCP socket bound to one port of 127.0.0.1, which
 * answer what each test tells them to. Checked: an answer reaches the callback byte for byte;
 * forged answers (another source, a wrong ID, a wrong question) are dropped and the right one
 * taken; TC leads to TCP, which closes when idle; a cancelled query gets no callback; ICMP port
 * unreachable fails the query and, repeated, backs the upstream off; close gives TLS_ERR_LOST
 * from a callback; public addresses are refused before any socket exists; and the counters;
 * the second of two TCP answers a server holds with Nagle's algorithm comes at once.
 * A bootstrap upstream (tls_upstream_new_bootstrap) takes a public address, but only A and AAAA
 * queries.
 * Each test has its own loop, which must close with no handle left.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "dns_wire.h"
#include "tls.h"
#include "unit.h"
#include "unit_loop.h"

#define MAX_CONNS 4

struct fake;
typedef void (*fake_udp_cb)(struct fake *f, const uint8_t *q, size_t len);
typedef void (*fake_tcp_cb)(struct fake *f, uv_tcp_t *conn, const uint8_t *q, size_t len);

/* The fake server: what it received, and a hook per transport that answers. */
struct fake {
	uv_udp_t udp;
	uv_udp_t spoofer; /**< another source port on the same address */
	uv_tcp_t listener;
	uv_tcp_t conns[MAX_CONNS];
	unsigned n_conns;
	unsigned n_eof; /**< TCP connections the client closed */
	struct sockaddr_in addr;
	struct sockaddr_storage peer; /**< the client's UDP address */
	uint8_t in[MAX_CONNS][4096];  /**< TCP bytes received, per connection */
	size_t in_len[MAX_CONNS];
	uint8_t udp_q[8][512]; /**< UDP queries received, the first eight */
	size_t udp_q_len[8];
	unsigned n_udp;
	uint16_t udp_ids[64];
	uint8_t tcp_q[512]; /**< the last TCP query, without its prefix */
	size_t tcp_q_len;
	uint16_t tcp_prefix; /**< its 2-octet length prefix */
	unsigned n_tcp;
	uint8_t sent[8192]; /**< the last answer it sent that should be taken */
	size_t sent_len;
	fake_udp_cb on_udp;
	fake_tcp_cb on_tcp;
};

/* One query of a test: its frame, and what its callback got. */
struct tq {
	struct tls_query q; /* first: the callback casts */
	uint8_t frame[512];
	int calls;
	int status;
	bool sync; /**< called from inside a call of ours into tls/ */
	unsigned seq;
	uint64_t at; /**< uv_hrtime() of the callback */
	uint8_t ans[8192];
	size_t len;
};

static struct {
	uv_loop_t loop;
	uv_timer_t tick;
	bool expired;
	struct fake f;
	struct tls_upstream *u;
	bool closed;
	unsigned closed_seq;
	unsigned seq;
	bool inside; /**< in tls_upstream_query(), tls_query_cancel() or tls_upstream_close() */
} ctx;

/* Run the loop until @cond holds or @ms have passed (unit_loop.h). */
#define RUN_UNTIL(cond, ms) UNIT_RUN_UNTIL(&ctx.loop, &ctx.tick, &ctx.expired, cond, ms)

/* --- messages --- */

static size_t name_wire(uint8_t *out, const char *name)
{
	size_t n = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		out[n++] = (uint8_t)l;
		memcpy(out + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

/* A query frame for @name and @type with an OPT record (ID 0: tls/ writes its own). */
static size_t make_query(uint8_t *frame, const char *name, uint16_t type)
{
	uint8_t *m = frame + 2;
	size_t n = DNS_HDR_LEN;

	memset(m, 0, DNS_HDR_LEN);
	dns_put16(m + 2, DNS_RD);
	dns_put16(m + 4, 1);
	dns_put16(m + 10, 1);
	n += name_wire(m + n, name);
	dns_put16(m + n, type);
	dns_put16(m + n + 2, DNS_CLASS_IN);
	n += 4;
	n += dns_opt_write(m + n, 1232, 0, false, 0);
	dns_put16(frame, (uint16_t)n);
	return n + 2;
}

/* The header and question of @q, as an answer with @flags added and no records yet. */
static size_t answer_start(uint8_t *out, const uint8_t *q, size_t q_len, uint16_t flags)
{
	struct dns_question qq;

	CU_ASSERT_FATAL(dns_question_parse(q, q_len, &qq) == 0);
	memcpy(out, q, qq.end);
	dns_put16(out + 2, DNS_QR | DNS_RD | DNS_RA | flags);
	dns_put16(out + 6, 0);
	dns_put16(out + 8, 0);
	dns_put16(out + 10, 0);
	return qq.end;
}

/* Append a record owned by the question's name (a pointer to offset 12). */
static size_t add_rr(uint8_t *m, size_t n, uint16_t type, const uint8_t *rdata, uint16_t rdlen)
{
	m[n] = 0xc0;
	m[n + 1] = DNS_HDR_LEN;
	dns_put16(m + n + 2, type);
	dns_put16(m + n + 4, DNS_CLASS_IN);
	dns_put32(m + n + 6, 300);
	dns_put16(m + n + 10, rdlen);
	memcpy(m + n + 12, rdata, rdlen);
	dns_put16(m + 6, (uint16_t)(dns_ancount(m) + 1));
	return n + 12 + rdlen;
}

/* An answer to @q with one A record a.b.c.d. */
static size_t answer_a(uint8_t *out, const uint8_t *q, size_t q_len, uint8_t a, uint8_t b,
		       uint8_t c, uint8_t d)
{
	const uint8_t ip[4] = {a, b, c, d};

	return add_rr(out, answer_start(out, q, q_len, 0), DNS_TYPE_A, ip, 4);
}

/* An answer to @q with a TXT record of four 250-octet strings: too big for plain UDP. */
static size_t answer_big(uint8_t *out, const uint8_t *q, size_t q_len)
{
	uint8_t txt[4 * 251];

	for (size_t i = 0; i < 4; i++) {
		txt[i * 251] = 250;
		memset(txt + i * 251 + 1, 'a' + (int)i, 250);
	}
	return add_rr(out, answer_start(out, q, q_len, 0), DNS_TYPE_TXT, txt, sizeof(txt));
}

/* The last octet of the A record of an answer (the tests put a marker there). */
static uint8_t a_marker(const struct tq *t)
{
	return t->len >= 4 ? t->ans[t->len - 1] : 0;
}

/* --- the fake server --- */

static void fake_send_udp(struct fake *f, uv_udp_t *from, const uint8_t *m, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)m, (unsigned)len);

	CU_ASSERT_EQUAL(uv_udp_try_send(from, &b, 1, (const struct sockaddr *)&f->peer), (int)len);
}

/* Send @m as the answer the client must take. */
static void fake_answer_udp(struct fake *f, const uint8_t *m, size_t len)
{
	memcpy(f->sent, m, len);
	f->sent_len = len;
	fake_send_udp(f, &f->udp, m, len);
}

static void fake_send_tcp(uv_tcp_t *conn, const uint8_t *m, size_t len)
{
	uint8_t buf[8192];
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len + 2);

	dns_put16(buf, (uint16_t)len);
	memcpy(buf + 2, m, len);
	CU_ASSERT_EQUAL(uv_try_write((uv_stream_t *)conn, &b, 1), (int)len + 2);
}

static void on_fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static uint8_t space[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init((char *)space, sizeof(space));
}

static void on_fake_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct fake *f = h->data;

	(void)flags;
	if (nread <= 0 || !addr) {
		return;
	}
	memcpy(&f->peer, addr, sizeof(struct sockaddr_in));
	if (f->n_udp < 8) {
		memcpy(f->udp_q[f->n_udp], buf->base, (size_t)nread);
		f->udp_q_len[f->n_udp] = (size_t)nread;
	}
	if (f->n_udp < 64) {
		f->udp_ids[f->n_udp] = dns_id((const uint8_t *)buf->base);
	}
	f->n_udp++;
	if (f->on_udp) {
		f->on_udp(f, (const uint8_t *)buf->base, (size_t)nread);
	}
}

static void on_fake_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fake *f = s->data;
	size_t i = (size_t)((uv_tcp_t *)s - f->conns);
	size_t len;

	if (nread < 0) {
		f->n_eof++;
		uv_close((uv_handle_t *)s, NULL);
		return;
	}
	CU_ASSERT_FATAL(f->in_len[i] + (size_t)nread <= sizeof(f->in[i]));
	memcpy(f->in[i] + f->in_len[i], buf->base, (size_t)nread);
	f->in_len[i] += (size_t)nread;
	/* Whole frames (RFC 7766 §8), as they complete. */
	while (f->in_len[i] >= 2 && f->in_len[i] >= 2 + (len = dns_get16(f->in[i]))) {
		f->tcp_prefix = (uint16_t)len;
		memcpy(f->tcp_q, f->in[i] + 2, len);
		f->tcp_q_len = len;
		f->n_tcp++;
		memmove(f->in[i], f->in[i] + 2 + len, f->in_len[i] - 2 - len);
		f->in_len[i] -= 2 + len;
		if (f->on_tcp) {
			f->on_tcp(f, (uv_tcp_t *)s, f->tcp_q, f->tcp_q_len);
		}
	}
}

static void on_fake_conn(uv_stream_t *server, int status)
{
	struct fake *f = server->data;
	uv_tcp_t *c;

	CU_ASSERT_EQUAL_FATAL(status, 0);
	CU_ASSERT_FATAL(f->n_conns < MAX_CONNS);
	c = &f->conns[f->n_conns++];
	uv_tcp_init(&ctx.loop, c);
	c->data = f;
	CU_ASSERT_EQUAL(uv_accept(server, (uv_stream_t *)c), 0);
	uv_read_start((uv_stream_t *)c, on_fake_alloc, on_fake_read);
}

static int bound_socket(int type, uint16_t port, uint16_t *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	*out = ntohs(a.sin_port);
	return fd;
}

/*
 * UDP and TCP on one free port of 127.0.0.1. Without @listen the TCP socket is bound but not
 * listening: a connect to it is refused, and nothing else can take the port meanwhile.
 */
static void fake_start(struct fake *f, bool listen)
{
	uint16_t port = 0, p2 = 0;
	int ufd = -1, tfd = -1;

	for (int i = 0; i < 50 && tfd < 0; i++) {
		ufd = bound_socket(SOCK_DGRAM, 0, &port);
		CU_ASSERT_FATAL(ufd >= 0);
		tfd = bound_socket(SOCK_STREAM, port, &p2);
		if (tfd < 0) {
			close(ufd);
		}
	}
	CU_ASSERT_FATAL(tfd >= 0);
	f->addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	uv_udp_init(&ctx.loop, &f->udp);
	f->udp.data = f;
	CU_ASSERT_EQUAL_FATAL(uv_udp_open(&f->udp, ufd), 0);
	uv_udp_recv_start(&f->udp, on_fake_alloc, on_fake_udp);
	uv_udp_init(&ctx.loop, &f->spoofer);
	CU_ASSERT_EQUAL_FATAL(uv_udp_bind(&f->spoofer,
					  (const struct sockaddr *)&(struct sockaddr_in){
						  .sin_family = AF_INET,
						  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					  },
					  0),
			      0);
	uv_tcp_init(&ctx.loop, &f->listener);
	f->listener.data = f;
	CU_ASSERT_EQUAL_FATAL(uv_tcp_open(&f->listener, tfd), 0);
	if (listen) {
		CU_ASSERT_EQUAL_FATAL(uv_listen((uv_stream_t *)&f->listener, 8, on_fake_conn), 0);
	}
}

static void fake_stop(struct fake *f)
{
	uv_close((uv_handle_t *)&f->udp, NULL);
	uv_close((uv_handle_t *)&f->spoofer, NULL);
	uv_close((uv_handle_t *)&f->listener, NULL);
	for (unsigned i = 0; i < f->n_conns; i++) {
		if (!uv_is_closing((uv_handle_t *)&f->conns[i])) {
			uv_close((uv_handle_t *)&f->conns[i], NULL);
		}
	}
}

/* --- the client side --- */

static void on_answer(struct tls_query *q, int status, const uint8_t *ans, size_t len,
		      const struct dns_opt *opt)
{
	struct tq *t = (struct tq *)q;

	t->calls++;
	t->status = status;
	t->sync = t->sync || ctx.inside;
	t->seq = ++ctx.seq;
	t->at = uv_hrtime();
	CU_ASSERT_EQUAL(status == 0, ans != NULL && opt != NULL);
	if (ans && len <= sizeof(t->ans)) {
		memcpy(t->ans, ans, len);
		t->len = len;
	}
}

static void on_closed(void *arg)
{
	(void)arg;
	ctx.closed = true;
	ctx.closed_seq = ++ctx.seq;
}

static void setup(bool listen)
{
	memset(&ctx, 0, sizeof(ctx));
	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&ctx.loop), 0);
	uv_timer_init(&ctx.loop, &ctx.tick);
	fake_start(&ctx.f, listen);
}

static struct tls_upstream_params params(const struct sockaddr *to, socklen_t to_len,
					 unsigned max_in_flight, unsigned retries)
{
	return (struct tls_upstream_params){
		.addr = to,
		.addr_len = to_len,
		.name = "plain-test",
		.idle_timeout_ms = 200,
		.handshake_timeout_ms = 1000,
		.liveness_ms = 2000,
		.max_in_flight = max_in_flight,
		.max_conns = 1,
		.failures_before_backoff = retries,
		.backoff_max_ms = 60000,
	};
}

static void upstream_make(const struct sockaddr_in *to, unsigned max_in_flight, unsigned retries)
{
	struct tls_upstream_params p =
		params((const struct sockaddr *)to, sizeof(*to), max_in_flight, retries);

	CU_ASSERT_EQUAL_FATAL(tls_upstream_new_plain(&ctx.loop, &p, &ctx.u), 0);
}

static void submit(struct tq *t, const char *name, uint16_t type)
{
	memset(t, 0, sizeof(*t));
	t->q.frame = t->frame;
	t->q.frame_len = make_query(t->frame, name, type);
	t->q.cb = on_answer;
	ctx.inside = true;
	CU_ASSERT_EQUAL(tls_upstream_query(ctx.u, &t->q), 0);
	ctx.inside = false;
}

static void cancel(struct tq *t)
{
	ctx.inside = true;
	tls_query_cancel(&t->q);
	ctx.inside = false;
}

static struct tls_upstream_stats stats(void)
{
	struct tls_upstream_stats st;

	tls_upstream_stats_get(ctx.u, &st);
	return st;
}

/* Close the upstream (if open) and the fake; every handle must be gone. */
static void teardown(void)
{
	if (ctx.u && !ctx.closed) {
		ctx.inside = true;
		tls_upstream_close(ctx.u, on_closed, NULL);
		ctx.inside = false;
		RUN_UNTIL(ctx.closed, 2000);
		CU_ASSERT_TRUE(ctx.closed);
	}
	fake_stop(&ctx.f);
	uv_close((uv_handle_t *)&ctx.tick, NULL);
	uv_run(&ctx.loop, UV_RUN_DEFAULT);
	CU_ASSERT_EQUAL(uv_loop_close(&ctx.loop), 0);
}

/* --- tests --- */

static void answer_with_a1(struct fake *f, const uint8_t *q, size_t len)
{
	uint8_t a[512];

	fake_answer_udp(f, a, answer_a(a, q, len, 192, 0, 2, 1));
}

static struct tls_upstream_stats seen_by_fake; /* the counters when the query arrived */
static enum tls_upstream_state state_seen;

static void answer_after_looking(struct fake *f, const uint8_t *q, size_t len)
{
	seen_by_fake = stats();
	state_seen = tls_upstream_state(ctx.u);
	answer_with_a1(f, q, len);
}

/* One query, one answer: the bytes on the wire both ways, and every counter. */
static void test_answer(void)
{
	struct tls_upstream_stats st;
	struct tq t;

	setup(true);
	upstream_make(&ctx.f.addr, 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_IDLE);
	ctx.f.on_udp = answer_after_looking;
	submit(&t, "www.example", DNS_TYPE_A);
	CU_ASSERT_EQUAL(t.calls, 0);
	RUN_UNTIL(t.calls > 0, 2000);
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, 0);
	CU_ASSERT_FALSE(t.sync);
	/* The datagram: the message without its prefix, OPT as written, under the ID tls/ chose. */
	CU_ASSERT_EQUAL_FATAL(ctx.f.udp_q_len[0], t.q.frame_len - 2);
	CU_ASSERT_EQUAL(memcmp(ctx.f.udp_q[0] + 2, t.frame + 4, t.q.frame_len - 4), 0);
	/* The answer: exactly what the server sent. */
	CU_ASSERT_EQUAL_FATAL(t.len, ctx.f.sent_len);
	CU_ASSERT_EQUAL(memcmp(t.ans, ctx.f.sent, t.len), 0);
	CU_ASSERT_EQUAL(dns_id(t.ans), dns_id(ctx.f.udp_q[0]));
	/* While it was out: written, not answered, the upstream not up yet. */
	CU_ASSERT_EQUAL(seen_by_fake.queries, 1);
	CU_ASSERT_EQUAL(seen_by_fake.in_flight, 1);
	CU_ASSERT_EQUAL(seen_by_fake.answers, 0);
	CU_ASSERT_EQUAL(state_seen, TLS_UPSTREAM_IDLE);
	st = stats();
	CU_ASSERT_EQUAL(st.queries, 1);
	CU_ASSERT_EQUAL(st.answers, 1);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	CU_ASSERT_EQUAL(st.queued, 0);
	CU_ASSERT_EQUAL(st.dropped, 0);
	CU_ASSERT_EQUAL(st.truncated, 0);
	CU_ASSERT_EQUAL(st.connections, 0);
	CU_ASSERT_EQUAL(st.conns_open, 0);
	CU_ASSERT_EQUAL(st.conn_failures, 0);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_UP);
	CU_ASSERT_TRUE(tls_upstream_srtt(ctx.u) >= 1);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) <= uv_now(&ctx.loop));
	teardown();
}

/*
 * Forgeries first, the answer last, all queued on the socket before the client reads any: a
 * perfect answer from another port (the connected socket never sees it), a wrong ID, a wrong
 * name, a wrong type, one without a question; then the answer, and a duplicate of it.
 */
static void answer_after_forgeries(struct fake *f, const uint8_t *q, size_t len)
{
	uint8_t a[512], b[512];
	size_t n = answer_a(a, q, len, 6, 6, 6, 0), m;

	fake_send_udp(f, &f->spoofer, a, n);
	memcpy(b, a, n);
	dns_put16(b, (uint16_t)(dns_id(a) ^ 0x0100));
	b[n - 1] = 1;
	fake_send_udp(f, &f->udp, b, n);
	memcpy(b, a, n);
	b[DNS_HDR_LEN + 5] ^= 0x01; /* "www.example" -> "www.dxample" */
	b[n - 1] = 2;
	fake_send_udp(f, &f->udp, b, n);
	memcpy(b, a, n);
	b[DNS_HDR_LEN + 1 + 3 + 1 + 7 + 1 + 1] = DNS_TYPE_AAAA; /* QTYPE's low octet */
	b[n - 1] = 3;
	fake_send_udp(f, &f->udp, b, n);
	/* No question, one A record owned by the root: well formed, matched by ID alone. */
	memcpy(b, a, 4);
	memset(b + 4, 0, 8);
	dns_put16(b + 6, 1);
	m = DNS_HDR_LEN;
	b[m++] = 0;
	dns_put16(b + m, DNS_TYPE_A);
	dns_put16(b + m + 2, DNS_CLASS_IN);
	dns_put32(b + m + 4, 300);
	dns_put16(b + m + 8, 4);
	memcpy(b + m + 10, (const uint8_t[]){6, 6, 6, 4}, 4);
	m += 14;
	fake_send_udp(f, &f->udp, b, m);
	fake_answer_udp(f, a, answer_a(a, q, len, 192, 0, 2, 1));
	fake_send_udp(f, &f->udp, a, n);
}

static void test_spoof(void)
{
	struct tls_upstream_stats st;
	struct tq t;

	setup(true);
	upstream_make(&ctx.f.addr, 8, 2);
	ctx.f.on_udp = answer_after_forgeries;
	submit(&t, "www.example", DNS_TYPE_A);
	RUN_UNTIL(t.calls > 0 && stats().dropped >= 5, 2000);
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, 0);
	CU_ASSERT_EQUAL(a_marker(&t), 1);
	CU_ASSERT_EQUAL_FATAL(t.len, ctx.f.sent_len);
	CU_ASSERT_EQUAL(memcmp(t.ans, ctx.f.sent, t.len), 0);
	st = stats();
	/* Four forgeries and the late duplicate; the other port's never reached the socket. */
	CU_ASSERT_EQUAL(st.dropped, 5);
	CU_ASSERT_EQUAL(st.answers, 1);
	CU_ASSERT_EQUAL(st.queries, 1);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	teardown();
}

static void answer_truncated(struct fake *f, const uint8_t *q, size_t len)
{
	uint8_t a[512];

	fake_send_udp(f, &f->udp, a, answer_start(a, q, len, DNS_TC));
}

static void answer_big_tcp(struct fake *f, uv_tcp_t *conn, const uint8_t *q, size_t len)
{
	f->sent_len = answer_big(f->sent, q, len);
	fake_send_tcp(conn, f->sent, f->sent_len);
}

/* TC over UDP: the query again over TCP, whose answer is given; the connection closes idle. */
static void test_tc(void)
{
	struct tls_upstream_stats st;
	struct tq t, t2;

	setup(true);
	upstream_make(&ctx.f.addr, 8, 2);
	ctx.f.on_udp = answer_truncated;
	ctx.f.on_tcp = answer_big_tcp;
	submit(&t, "big.example", DNS_TYPE_TXT);
	RUN_UNTIL(t.calls > 0, 2000);
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, 0);
	CU_ASSERT_FALSE(t.sync);
	CU_ASSERT_EQUAL(ctx.f.n_udp, 1);
	CU_ASSERT_EQUAL(ctx.f.n_tcp, 1);
	/* Over TCP: the same message with its length prefix (RFC 7766 §8). */
	CU_ASSERT_EQUAL(ctx.f.tcp_prefix, t.q.frame_len - 2);
	CU_ASSERT_EQUAL_FATAL(ctx.f.tcp_q_len, t.q.frame_len - 2);
	CU_ASSERT_EQUAL(memcmp(ctx.f.tcp_q + 2, t.frame + 4, t.q.frame_len - 4), 0);
	CU_ASSERT_TRUE(ctx.f.sent_len > 1000);
	CU_ASSERT_EQUAL_FATAL(t.len, ctx.f.sent_len);
	CU_ASSERT_EQUAL(memcmp(t.ans, ctx.f.sent, t.len), 0);
	CU_ASSERT_FALSE(dns_flags(t.ans) & DNS_TC);
	st = stats();
	CU_ASSERT_EQUAL(st.queries, 2);
	CU_ASSERT_EQUAL(st.truncated, 1);
	CU_ASSERT_EQUAL(st.answers, 1);
	CU_ASSERT_EQUAL(st.connections, 1);
	CU_ASSERT_EQUAL(st.conns_open, 1);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	CU_ASSERT_EQUAL(st.dropped, 0);
	/* Idle for idle_timeout_ms: we close it (RFC 7766 §6.2.3), the server sees the end. */
	RUN_UNTIL(stats().idle_closes > 0 && ctx.f.n_eof > 0, 2000);
	st = stats();
	CU_ASSERT_EQUAL(st.idle_closes, 1);
	CU_ASSERT_EQUAL(st.conns_open, 0);
	CU_ASSERT_EQUAL(ctx.f.n_eof, 1);
	/* And the next truncated answer opens another. */
	submit(&t2, "big.example", DNS_TYPE_TXT);
	RUN_UNTIL(t2.calls > 0, 2000);
	CU_ASSERT_EQUAL(t2.status, 0);
	CU_ASSERT_EQUAL(t2.len, ctx.f.sent_len);
	st = stats();
	CU_ASSERT_EQUAL(st.connections, 2);
	CU_ASSERT_EQUAL(st.queries, 4);
	CU_ASSERT_EQUAL(st.truncated, 2);
	CU_ASSERT_EQUAL(st.answers, 2);
	teardown();
}

/* TC, and the server refuses TCP: a connect failure, counted against the upstream. */
static void test_tc_refused(void)
{
	struct tls_upstream_stats st;
	struct tq t;

	setup(false);
	upstream_make(&ctx.f.addr, 8, 2);
	ctx.f.on_udp = answer_truncated;
	submit(&t, "big.example", DNS_TYPE_TXT);
	RUN_UNTIL(t.calls > 0, 2000);
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, TLS_ERR_CONNECT);
	CU_ASSERT_FALSE(t.sync);
	st = stats();
	CU_ASSERT_EQUAL(st.connections, 1);
	CU_ASSERT_EQUAL(st.conn_failures, 1);
	CU_ASSERT_EQUAL(st.truncated, 1);
	CU_ASSERT_EQUAL(st.answers, 0);
	CU_ASSERT_EQUAL(st.conns_open, 0);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_IDLE);
	teardown();
}

static void answer_tcp_later(struct fake *f, uv_tcp_t *conn, const uint8_t *q, size_t len)
{
	(void)conn;
	(void)q;
	(void)len;
	(void)f; /* kept in f->tcp_q; the test answers */
}

/* Cancelled over UDP, then over TCP: the answers come late, no callback, the sockets live on. */
static void test_cancel(void)
{
	struct tls_upstream_stats st;
	uint8_t a[8192];
	struct tq t, t2, t3;

	setup(true);
	upstream_make(&ctx.f.addr, 8, 2);
	submit(&t, "www.example", DNS_TYPE_A);
	RUN_UNTIL(ctx.f.n_udp == 1, 2000);
	CU_ASSERT_TRUE(tls_query_sent(&t.q));
	CU_ASSERT_EQUAL(stats().in_flight, 1);
	cancel(&t);
	CU_ASSERT_FALSE(tls_query_sent(&t.q));
	CU_ASSERT_EQUAL(stats().in_flight, 0);
	fake_send_udp(&ctx.f, &ctx.f.udp, a,
		      answer_a(a, ctx.f.udp_q[0], ctx.f.udp_q_len[0], 192, 0, 2, 1));
	RUN_UNTIL(stats().dropped == 1, 2000);
	CU_ASSERT_EQUAL(stats().dropped, 1);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(t.calls, 0);

	/* Over TCP: truncated first, then cancelled while the server holds it. */
	ctx.f.on_udp = answer_truncated;
	ctx.f.on_tcp = answer_tcp_later;
	submit(&t2, "big.example", DNS_TYPE_TXT);
	RUN_UNTIL(ctx.f.n_tcp == 1, 2000);
	CU_ASSERT_EQUAL(stats().in_flight, 1);
	cancel(&t2);
	CU_ASSERT_EQUAL(stats().in_flight, 0);
	fake_send_tcp(&ctx.f.conns[0], a, answer_big(a, ctx.f.tcp_q, ctx.f.tcp_q_len));
	RUN_UNTIL(stats().dropped == 2, 2000);
	CU_ASSERT_EQUAL(stats().dropped, 2);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(t2.calls, 0);
	/* The late answer broke nothing: the connection is open, and UDP answers. */
	CU_ASSERT_EQUAL(stats().conns_open, 1);
	ctx.f.on_udp = answer_with_a1;
	submit(&t3, "www.example", DNS_TYPE_A);
	RUN_UNTIL(t3.calls > 0, 2000);
	CU_ASSERT_EQUAL(t3.status, 0);
	CU_ASSERT_EQUAL(a_marker(&t3), 1);
	st = stats();
	CU_ASSERT_EQUAL(st.answers, 1);
	CU_ASSERT_EQUAL(st.queries, 4);
	CU_ASSERT_EQUAL(st.dropped, 2);
	teardown();
}

/* A port of 127.0.0.1 with nothing behind it (UDP): bound, read, closed. */
static struct sockaddr_in dead_port(void)
{
	uint16_t port = 0;
	int fd = bound_socket(SOCK_DGRAM, 0, &port);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/*
 * ICMP port unreachable: TLS_ERR_CONNECT from the loop, one failure each time; at the second,
 * with failures_before_backoff 2, the upstream is backed off. Two queries at once fail alike.
 */
static void test_refused(void)
{
	struct sockaddr_in to;
	struct tls_upstream_stats st;
	struct tq t1, t2, t3, t4;

	setup(true);
	to = dead_port();
	upstream_make(&to, 8, 2);
	submit(&t1, "www.example", DNS_TYPE_A);
	CU_ASSERT_EQUAL(t1.calls, 0);
	RUN_UNTIL(t1.calls > 0, 2000);
	CU_ASSERT_EQUAL(t1.calls, 1);
	CU_ASSERT_EQUAL(t1.status, TLS_ERR_CONNECT);
	CU_ASSERT_FALSE(t1.sync);
	st = stats();
	CU_ASSERT_EQUAL(st.queries, 1);
	CU_ASSERT_EQUAL(st.conn_failures, 1);
	CU_ASSERT_EQUAL(st.backoffs, 0);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) <= uv_now(&ctx.loop));
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_IDLE);

	submit(&t2, "www.example", DNS_TYPE_A);
	RUN_UNTIL(t2.calls > 0, 2000);
	CU_ASSERT_EQUAL(t2.calls, 1);
	CU_ASSERT_EQUAL(t2.status, TLS_ERR_CONNECT);
	CU_ASSERT_FALSE(t2.sync);
	st = stats();
	CU_ASSERT_EQUAL(st.queries, 2);
	CU_ASSERT_EQUAL(st.conn_failures, 2);
	CU_ASSERT_EQUAL(st.backoffs, 1);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) > uv_now(&ctx.loop));
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_BACKED_OFF);

	/* Back to back: the second send may meet the first one's error; neither is synchronous. */
	submit(&t3, "www.example", DNS_TYPE_A);
	submit(&t4, "mail.example", DNS_TYPE_MX);
	CU_ASSERT_EQUAL(t3.calls + t4.calls, 0);
	RUN_UNTIL(t3.calls > 0 && t4.calls > 0, 2000);
	CU_ASSERT_EQUAL(t3.calls, 1);
	CU_ASSERT_EQUAL(t4.calls, 1);
	CU_ASSERT_EQUAL(t3.status, TLS_ERR_CONNECT);
	CU_ASSERT_EQUAL(t4.status, TLS_ERR_CONNECT);
	CU_ASSERT_FALSE(t3.sync || t4.sync);
	st = stats();
	/* One error failed both: the other's, if any, found nothing left to fail. */
	CU_ASSERT_EQUAL(st.conn_failures, 3);
	CU_ASSERT_EQUAL(st.answers, 0);
	teardown();
}

/* Close with a query out over UDP and one over TCP: TLS_ERR_LOST from the loop, then on_closed. */
static void test_close(void)
{
	struct tq t1, t2;
	unsigned eof;

	setup(true);
	upstream_make(&ctx.f.addr, 8, 2);
	ctx.f.on_tcp = answer_tcp_later;
	submit(&t1, "www.example", DNS_TYPE_A);
	RUN_UNTIL(ctx.f.n_udp == 1, 2000);
	ctx.f.on_udp = answer_truncated;
	submit(&t2, "big.example", DNS_TYPE_TXT);
	RUN_UNTIL(ctx.f.n_tcp == 1, 2000);
	CU_ASSERT_EQUAL_FATAL(ctx.f.n_tcp, 1);
	CU_ASSERT_EQUAL(stats().in_flight, 2);
	eof = ctx.f.n_eof;
	ctx.inside = true;
	tls_upstream_close(ctx.u, on_closed, NULL);
	ctx.inside = false;
	CU_ASSERT_EQUAL(t1.calls + t2.calls, 0);
	CU_ASSERT_FALSE(ctx.closed);
	RUN_UNTIL(ctx.closed, 2000);
	CU_ASSERT_TRUE(ctx.closed);
	CU_ASSERT_EQUAL(t1.calls, 1);
	CU_ASSERT_EQUAL(t2.calls, 1);
	CU_ASSERT_EQUAL(t1.status, TLS_ERR_LOST);
	CU_ASSERT_EQUAL(t2.status, TLS_ERR_LOST);
	CU_ASSERT_FALSE(t1.sync || t2.sync);
	CU_ASSERT_TRUE(ctx.closed_seq > t1.seq && ctx.closed_seq > t2.seq);
	RUN_UNTIL(ctx.f.n_eof > eof, 2000);
	CU_ASSERT_EQUAL(ctx.f.n_eof, eof + 1);
	teardown();
}

static void count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(unsigned *)arg)++;
}

static struct sockaddr_in v4(const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};

	CU_ASSERT_FATAL(inet_pton(AF_INET, ip, &a.sin_addr) == 1);
	return a;
}

static struct sockaddr_in6 v6(const char *ip)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(53)};

	CU_ASSERT_FATAL(inet_pton(AF_INET6, ip, &a.sin6_addr) == 1);
	return a;
}

/* Public addresses: -EPERM, nothing written to *out, and no socket (no handle) made. */
static void test_public(void)
{
	struct sockaddr_in a4 = v4("8.8.8.8");
	struct sockaddr_in6 a6 = v6("2001:4860::8888");
	struct sockaddr_in6 mapped = v6("::ffff:127.0.0.1");
	struct tls_upstream_params p;
	struct tls_upstream *sentinel = (struct tls_upstream *)&a4, *u = sentinel;
	unsigned before = 0, after = 0;

	memset(&ctx, 0, sizeof(ctx));
	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&ctx.loop), 0);
	uv_walk(&ctx.loop, count_handle, &before);
	p = params((const struct sockaddr *)&a4, sizeof(a4), 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_plain(&ctx.loop, &p, &u), -EPERM);
	p = params((const struct sockaddr *)&a6, sizeof(a6), 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_plain(&ctx.loop, &p, &u), -EPERM);
	p = params((const struct sockaddr *)&mapped, sizeof(mapped), 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_plain(&ctx.loop, &p, &u), -EPERM);
	CU_ASSERT_PTR_EQUAL(u, sentinel);
	uv_walk(&ctx.loop, count_handle, &after);
	CU_ASSERT_EQUAL(before, 0);
	CU_ASSERT_EQUAL(after, 0);
	CU_ASSERT_FALSE(uv_loop_alive(&ctx.loop));
	CU_ASSERT_EQUAL(uv_loop_close(&ctx.loop), 0);
}

/* The allowed ranges at their edges, both sides. */
static void test_allowed(void)
{
	static const char *const yes4[] = {
		"127.0.0.1",   "127.255.255.255", "10.0.0.0",	 "10.255.255.255",
		"172.16.0.0",  "172.31.255.255",  "192.168.0.0", "192.168.255.255",
		"169.254.0.0", "169.254.255.255",
	};
	static const char *const no4[] = {
		"8.8.8.8",	   "9.255.255.255",   "11.0.0.0",    "126.255.255.255",
		"128.0.0.0",	   "172.15.255.255",  "172.32.0.0",  "192.167.255.255",
		"192.169.0.0",	   "169.253.255.255", "169.255.0.0", "0.0.0.0",
		"255.255.255.255", "100.64.0.1",      "224.0.0.251",
	};
	static const char *const yes6[] = {
		"::1", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1", "febf::1",
	};
	static const char *const no6[] = {
		"::",
		"::2",
		"fbff:ffff::1",
		"fe00::1",
		"fec0::1",
		"ff02::fb",
		"2001:4860::8888",
		"::ffff:127.0.0.1",
		"::ffff:10.0.0.1",
		"64:ff9b::a00:1",
	};
	struct sockaddr_in a;
	struct sockaddr_in6 b;
	struct sockaddr_storage un = {.ss_family = AF_UNIX};

	for (size_t i = 0; i < sizeof(yes4) / sizeof(yes4[0]); i++) {
		a = v4(yes4[i]);
		CU_ASSERT_TRUE(tls_upstream_plain_allowed((const struct sockaddr *)&a, sizeof(a)));
		/* The right family with the wrong length is refused all the same. */
		CU_ASSERT_FALSE(tls_upstream_plain_allowed((const struct sockaddr *)&a, 8));
	}
	for (size_t i = 0; i < sizeof(no4) / sizeof(no4[0]); i++) {
		a = v4(no4[i]);
		if (tls_upstream_plain_allowed((const struct sockaddr *)&a, sizeof(a))) {
			CU_FAIL("a public IPv4 address was allowed");
			printf("\n    allowed: %s\n", no4[i]);
		}
	}
	for (size_t i = 0; i < sizeof(yes6) / sizeof(yes6[0]); i++) {
		b = v6(yes6[i]);
		CU_ASSERT_TRUE(tls_upstream_plain_allowed((const struct sockaddr *)&b, sizeof(b)));
	}
	for (size_t i = 0; i < sizeof(no6) / sizeof(no6[0]); i++) {
		b = v6(no6[i]);
		if (tls_upstream_plain_allowed((const struct sockaddr *)&b, sizeof(b))) {
			CU_FAIL("a public IPv6 address was allowed");
			printf("\n    allowed: %s\n", no6[i]);
		}
	}
	CU_ASSERT_FALSE(tls_upstream_plain_allowed((const struct sockaddr *)&un, sizeof(un)));
	CU_ASSERT_FALSE(tls_upstream_plain_allowed(NULL, 0));
}

static void answer_by_name(struct fake *f, const uint8_t *q, size_t len)
{
	uint8_t a[512];

	/* q1..q9.example: the digit is the marker of the answer. */
	fake_answer_udp(f, a, answer_a(a, q, len, 192, 0, 2, (uint8_t)(q[DNS_HDR_LEN + 2] - '0')));
}

/*
 * max_in_flight 2: the third and fourth wait, in order; the third is cancelled while waiting;
 * the fourth goes out when a place frees. Each answer reaches its own query.
 */
static void test_queue(void)
{
	struct tls_upstream_stats st;
	struct tq t[4];
	uint8_t a[512];

	setup(true);
	upstream_make(&ctx.f.addr, 2, 2);
	submit(&t[0], "q1.example", DNS_TYPE_A);
	submit(&t[1], "q2.example", DNS_TYPE_A);
	submit(&t[2], "q3.example", DNS_TYPE_A);
	submit(&t[3], "q4.example", DNS_TYPE_A);
	RUN_UNTIL(ctx.f.n_udp == 2, 2000);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(ctx.f.n_udp, 2);
	st = stats();
	CU_ASSERT_EQUAL(st.in_flight, 2);
	CU_ASSERT_EQUAL(st.queued, 2);
	CU_ASSERT_FALSE(tls_query_sent(&t[2].q));
	cancel(&t[2]);
	CU_ASSERT_EQUAL(stats().queued, 1);
	/* The server answers the two it has, the second first; then it answers as they come. */
	ctx.f.on_udp = answer_by_name;
	fake_send_udp(&ctx.f, &ctx.f.udp, a,
		      answer_a(a, ctx.f.udp_q[1], ctx.f.udp_q_len[1], 192, 0, 2, 2));
	fake_send_udp(&ctx.f, &ctx.f.udp, a,
		      answer_a(a, ctx.f.udp_q[0], ctx.f.udp_q_len[0], 192, 0, 2, 1));
	RUN_UNTIL(t[0].calls && t[1].calls && t[3].calls, 2000);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(t[i].calls, i == 2 ? 0 : 1);
		CU_ASSERT_FALSE(t[i].sync);
		if (i != 2) {
			CU_ASSERT_EQUAL(t[i].status, 0);
			CU_ASSERT_EQUAL(a_marker(&t[i]), i + 1);
		}
	}
	CU_ASSERT_EQUAL(ctx.f.n_udp, 3);
	CU_ASSERT_EQUAL(memcmp(ctx.f.udp_q[2] + DNS_HDR_LEN, "\x02q4", 3), 0);
	st = stats();
	CU_ASSERT_EQUAL(st.queries, 3);
	CU_ASSERT_EQUAL(st.answers, 3);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	CU_ASSERT_EQUAL(st.queued, 0);
	teardown();
}

/* 32 queries at once: 32 distinct IDs, not a sequence and not a narrow range (RFC 5452 §9.2). */
static void test_ids(void)
{
	struct tq *t = calloc(32, sizeof(*t));
	uint8_t high[256] = {0};
	unsigned n_high = 0, steps = 0, answered = 0;
	char name[16];

	CU_ASSERT_FATAL(t != NULL);
	setup(true);
	upstream_make(&ctx.f.addr, 64, 2);
	ctx.f.on_udp = answer_with_a1;
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		submit(&t[i], name, DNS_TYPE_A);
	}
	RUN_UNTIL(stats().answers == 32, 2000);
	for (int i = 0; i < 32; i++) {
		answered += t[i].calls == 1 && t[i].status == 0;
	}
	CU_ASSERT_EQUAL(answered, 32);
	CU_ASSERT_EQUAL_FATAL(ctx.f.n_udp, 32);
	for (unsigned i = 0; i < 32; i++) {
		for (unsigned k = 0; k < i; k++) {
			CU_ASSERT_NOT_EQUAL(ctx.f.udp_ids[i], ctx.f.udp_ids[k]);
		}
		if (i > 0 && (uint16_t)(ctx.f.udp_ids[i] - ctx.f.udp_ids[i - 1]) == 1) {
			steps++;
		}
		if (!high[ctx.f.udp_ids[i] >> 8]++) {
			n_high++;
		}
	}
	CU_ASSERT_TRUE(steps < 4);
	CU_ASSERT_TRUE(n_high >= 16);
	teardown();
	free(t);
}

/* A query frame for @name, @type in class @qclass, without OPT. */
static size_t make_query_class(uint8_t *frame, const char *name, uint16_t type, uint16_t qclass)
{
	uint8_t *m = frame + 2;
	size_t n = DNS_HDR_LEN;

	memset(m, 0, DNS_HDR_LEN);
	dns_put16(m + 2, DNS_RD);
	dns_put16(m + 4, 1);
	n += name_wire(m + n, name);
	dns_put16(m + n, type);
	dns_put16(m + n + 2, qclass);
	n += 4;
	dns_put16(frame, (uint16_t)n);
	return n + 2;
}

/* Submit @name @type @qclass to ctx.u: what tls_upstream_query() returned. */
static int submit_class(struct tq *t, const char *name, uint16_t type, uint16_t qclass)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->q.frame = t->frame;
	t->q.frame_len = make_query_class(t->frame, name, type, qclass);
	t->q.cb = on_answer;
	ctx.inside = true;
	ret = tls_upstream_query(ctx.u, &t->q);
	ctx.inside = false;
	return ret;
}

static void answer_aaaa(struct fake *f, const uint8_t *q, size_t len)
{
	static const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x53};
	uint8_t a[512];

	fake_answer_udp(f, a, add_rr(a, answer_start(a, q, len, 0), DNS_TYPE_AAAA, ip, 16));
}

/*
 * Bootstrap: a public address that tls_upstream_new_plain() refuses is taken (a UDP socket is
 * connected to it, which sends nothing); on the fake server A and AAAA are answered as over any
 * plain upstream, and every other type or class is refused with -EPERM, no callback, nothing
 * sent. No address, or one that is not IP: -EINVAL. It keeps its one address.
 */
static void test_bootstrap(void)
{
	struct sockaddr_in pub = v4("198.51.100.53"); /* TEST-NET-2 (RFC 5737): nobody's */
	struct sockaddr_storage un = {.ss_family = AF_UNIX};
	struct tls_upstream_params p;
	struct tls_upstream *u = NULL;
	struct tq t;
	int ret;

	setup(true);
	p = params((const struct sockaddr *)&pub, sizeof(pub), 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_plain(&ctx.loop, &p, &u), -EPERM);
	ret = tls_upstream_new_bootstrap(&ctx.loop, &p, &u);
	/* A host without a route there cannot connect the socket; the guard did not refuse. */
	CU_ASSERT(ret == 0 || ret == UV_ENETUNREACH);
	if (ret == 0) {
		ctx.u = u;
		CU_ASSERT_EQUAL(submit_class(&t, "www.example", DNS_TYPE_MX, DNS_CLASS_IN), -EPERM);
		CU_ASSERT_EQUAL(stats().queries, 0);
		ctx.inside = true;
		tls_upstream_close(u, on_closed, NULL);
		ctx.inside = false;
		RUN_UNTIL(ctx.closed, 2000);
		CU_ASSERT_TRUE(ctx.closed);
		CU_ASSERT_EQUAL(t.calls, 0);
		ctx.closed = false;
	}
	p = params(NULL, 0, 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_bootstrap(&ctx.loop, &p, &u), -EINVAL);
	p = params((const struct sockaddr *)&un, sizeof(un), 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_bootstrap(&ctx.loop, &p, &u), -EINVAL);
	p = params((const struct sockaddr *)&pub, 8, 8, 2);
	CU_ASSERT_EQUAL(tls_upstream_new_bootstrap(&ctx.loop, &p, &u), -EINVAL);

	p = params((const struct sockaddr *)&ctx.f.addr, sizeof(ctx.f.addr), 8, 2);
	CU_ASSERT_EQUAL_FATAL(tls_upstream_new_bootstrap(&ctx.loop, &p, &ctx.u), 0);
	ctx.f.on_udp = answer_with_a1;
	CU_ASSERT_EQUAL(submit_class(&t, "dns.example", DNS_TYPE_A, DNS_CLASS_IN), 0);
	RUN_UNTIL(t.calls > 0, 2000);
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, 0);
	CU_ASSERT_EQUAL(a_marker(&t), 1);
	CU_ASSERT_FALSE(t.sync);
	ctx.f.on_udp = answer_aaaa;
	CU_ASSERT_EQUAL(submit_class(&t, "dns.example", DNS_TYPE_AAAA, DNS_CLASS_IN), 0);
	RUN_UNTIL(t.calls > 0, 2000);
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, 0);
	CU_ASSERT_EQUAL(a_marker(&t), 0x53);
	/* Anything else: refused before it is sent. */
	CU_ASSERT_EQUAL(submit_class(&t, "dns.example", DNS_TYPE_TXT, DNS_CLASS_IN), -EPERM);
	CU_ASSERT_EQUAL(submit_class(&t, "dns.example", 12, DNS_CLASS_IN), -EPERM);
	CU_ASSERT_EQUAL(submit_class(&t, "dns.example", DNS_TYPE_A, DNS_CLASS_CH), -EPERM);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(t.calls, 0);
	CU_ASSERT_EQUAL(ctx.f.n_udp, 2);
	CU_ASSERT_EQUAL(stats().queries, 2);
	CU_ASSERT_EQUAL(stats().answers, 2);
	CU_ASSERT_EQUAL(tls_upstream_set_addresses(ctx.u, &(struct sockaddr_storage){0}, 1),
			-EINVAL);
	teardown();
}

static void answer_small_tcp(struct fake *f, uv_tcp_t *conn, const uint8_t *q, size_t len)
{
	uint8_t a[512];

	(void)f;
	fake_send_tcp(conn, a, answer_start(a, q, len, 0));
}

/*
 * Over TCP the fake server answers at once, with Nagle's algorithm on (libuv's default): of two
 * answers written back to back the second waits for the client's ACK of the first, which Linux
 * delays (40 ms at least) on a connection used both ways, to send it with the next query. With
 * answers still awaited and nothing written, the client acknowledges at once
 * (stream_ack_now()), so the second comes within 20 ms; warmed up with single queries first, as
 * in test_tls_batch.c, and tried three times against a stalled machine.
 */
static void test_nagle(void)
{
	static struct tq t[3 * 26];
	uint64_t gap_ns = 0;
	unsigned i = 0;

	setup(true);
	upstream_make(&ctx.f.addr, 8, 2);
	ctx.f.on_udp = answer_truncated;
	ctx.f.on_tcp = answer_small_tcp;
	for (int attempt = 0; attempt < 3; attempt++) {
		for (unsigned k = 0; k < 24; k++, i++) {
			submit(&t[i], "www.example", DNS_TYPE_A);
			RUN_UNTIL(t[i].calls > 0, 2000);
			CU_ASSERT_EQUAL_FATAL(t[i].status, 0);
		}
		submit(&t[i], "www.example", DNS_TYPE_A);
		submit(&t[i + 1], "www.example", DNS_TYPE_AAAA);
		RUN_UNTIL(t[i].calls > 0 && t[i + 1].calls > 0, 2000);
		CU_ASSERT_EQUAL_FATAL(t[i].status, 0);
		CU_ASSERT_EQUAL_FATAL(t[i + 1].status, 0);
		gap_ns = t[i].at > t[i + 1].at ? t[i].at - t[i + 1].at : t[i + 1].at - t[i].at;
		i += 2;
		if (gap_ns < 20 * 1000 * 1000) {
			break;
		}
		printf("  (try %d: the second answer came %.1f ms after the first)\n", attempt + 1,
		       (double)gap_ns / 1e6);
	}
	CU_ASSERT(gap_ns < 20 * 1000 * 1000);
	CU_ASSERT_EQUAL(stats().connections, 1);
	teardown();
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"an answer, byte for byte", test_answer},
		{"forged answers dropped", test_spoof},
		{"TC: again over TCP, closed when idle", test_tc},
		{"TC and TCP refused", test_tc_refused},
		{"cancel, then the answer", test_cancel},
		{"port unreachable and backoff", test_refused},
		{"close with queries out", test_close},
		{"public addresses refused", test_public},
		{"the allowed ranges", test_allowed},
		{"beyond max_in_flight", test_queue},
		{"random IDs", test_ids},
		{"bootstrap: any address, A and AAAA only", test_bootstrap},
		{"an answer held by the server's Nagle (TCP)", test_nagle},
		CU_TEST_INFO_NULL,
	};

	return unit_run("plain", tests);
}
