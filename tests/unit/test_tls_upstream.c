/*
 * test_tls_upstream: the addresses of a DoT upstream (tls/tls_upstream.c, tls_conn.c) on a real
 * libuv loop, against TCP listeners on 127.0.0.1 that accept and never answer the ClientHello:
 * where each connection goes is all that is checked, so no TLS peer is needed. Checked: an
 * upstream made without an address is resolving, never available, refuses queries without a
 * callback and opens nothing; its first addresses make it usable; new addresses without the
 * one a connection went to close that connection, from the loop, and its query goes to the new
 * one without failing; addresses that keep it keep the connection; a refused connect moves the
 * next connection on to the next address; bad address lists and plain upstreams are refused;
 * a local address removed closes the connections from it and only those, their queries going
 * to new ones; a network change clears a backoff and restarts a handshake under way.
 * Handshakes, names and pins against a real server are in tests/integration (hostup.sh).
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

#define N_LISTENERS 2
#define MAX_CONNS   8

/* A listener: the connections it accepted, and how many of them the client closed. */
struct listener {
	uv_tcp_t tcp;
	uv_tcp_t conns[MAX_CONNS];
	unsigned n_conns;
	unsigned n_eof;
	struct sockaddr_storage addr;
};

/* One query of a test, and what its callback got. */
struct tq {
	struct tls_query q; /* first: the callback casts */
	uint8_t frame[512];
	int calls;
	int status;
	bool sync; /**< called from inside a call of ours into tls/ */
};

static struct {
	uv_loop_t loop;
	uv_timer_t tick;
	bool expired;
	struct tls_client *client;
	struct tls_upstream *u;
	struct listener l[N_LISTENERS];
	struct sockaddr_storage dead; /**< a port that refuses connections */
	int dead_fd;
	bool closed;
	bool inside;
} ctx;

/* Run the loop until @cond holds or @ms have passed (unit_loop.h). */
#define RUN_UNTIL(cond, ms) UNIT_RUN_UNTIL(&ctx.loop, &ctx.tick, &ctx.expired, cond, ms)

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char space[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(space, sizeof(space));
}

/* The ClientHello is read and dropped; the end of the stream is counted. */
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct listener *l = s->data;

	(void)buf;
	if (nread < 0) {
		l->n_eof++;
		uv_close((uv_handle_t *)s, NULL);
	}
}

static void on_conn(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	uv_tcp_t *c;

	CU_ASSERT_EQUAL_FATAL(status, 0);
	CU_ASSERT_FATAL(l->n_conns < MAX_CONNS);
	c = &l->conns[l->n_conns++];
	uv_tcp_init(&ctx.loop, c);
	c->data = l;
	CU_ASSERT_EQUAL(uv_accept(server, (uv_stream_t *)c), 0);
	uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static struct sockaddr_storage loopback(uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return ss;
}

static void listener_start(struct listener *l)
{
	int len = sizeof(l->addr);

	memset(l, 0, sizeof(*l));
	uv_tcp_init(&ctx.loop, &l->tcp);
	l->tcp.data = l;
	l->addr = loopback(0);
	CU_ASSERT_EQUAL_FATAL(uv_tcp_bind(&l->tcp, (const struct sockaddr *)&l->addr, 0), 0);
	CU_ASSERT_EQUAL_FATAL(uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&l->addr, &len), 0);
	CU_ASSERT_EQUAL_FATAL(uv_listen((uv_stream_t *)&l->tcp, 8, on_conn), 0);
}

static void listener_stop(struct listener *l)
{
	uv_close((uv_handle_t *)&l->tcp, NULL);
	for (unsigned i = 0; i < l->n_conns; i++) {
		if (!uv_is_closing((uv_handle_t *)&l->conns[i])) {
			uv_close((uv_handle_t *)&l->conns[i], NULL);
		}
	}
}

/*
 * A TCP port of 127.0.0.1 that is bound but not listening: a connect to it is refused at once,
 * and nothing else can take the port meanwhile.
 */
static void dead_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctx.dead_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(ctx.dead_fd >= 0);
	CU_ASSERT_EQUAL_FATAL(bind(ctx.dead_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CU_ASSERT_EQUAL_FATAL(getsockname(ctx.dead_fd, (struct sockaddr *)&a, &len), 0);
	ctx.dead = loopback(ntohs(a.sin_port));
}

static void setup(void)
{
	struct tls_client_params cp = {.ca_file = TEST_SRCDIR "/certs/known-ec.pem", .tls_min = 3};

	memset(&ctx, 0, sizeof(ctx));
	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&ctx.loop), 0);
	uv_timer_init(&ctx.loop, &ctx.tick);
	CU_ASSERT_EQUAL_FATAL(tls_client_new(&cp, &ctx.client), 0);
	for (int i = 0; i < N_LISTENERS; i++) {
		listener_start(&ctx.l[i]);
	}
	dead_start();
}

static struct tls_upstream_params params(const struct sockaddr_storage *to)
{
	return (struct tls_upstream_params){
		.addr = (const struct sockaddr *)to,
		.addr_len = to ? sizeof(struct sockaddr_in) : 0,
		.name = "dot.test@853",
		.auth_name = "dot.test",
		.strict = true,
		.idle_timeout_ms = 10000,
		.handshake_timeout_ms = 10000, /* the listeners never answer: no timeout here */
		.liveness_ms = 2000,
		.max_in_flight = 8,
		.max_conns = 2,
		.failures_before_backoff = 5,
		.backoff_max_ms = 60000,
	};
}

static void upstream_make(const struct sockaddr_storage *to)
{
	struct tls_upstream_params p = params(to);

	CU_ASSERT_EQUAL_FATAL(tls_upstream_new(&ctx.loop, ctx.client, &p, &ctx.u), 0);
}

static void on_answer(struct tls_query *q, int status, const uint8_t *ans, size_t len,
		      const struct dns_opt *opt)
{
	struct tq *t = (struct tq *)q;

	(void)ans;
	(void)len;
	(void)opt;
	t->calls++;
	t->status = status;
	t->sync = t->sync || ctx.inside;
}

/* A query frame for www.example A (ID 0: tls/ writes its own). */
static void query_init(struct tq *t)
{
	static const uint8_t name[] = "\3www\7example";
	uint8_t *m = t->frame + 2;
	size_t n = DNS_HDR_LEN;

	memset(t, 0, sizeof(*t));
	dns_put16(m + 2, DNS_RD);
	dns_put16(m + 4, 1);
	memcpy(m + n, name, sizeof(name));
	n += sizeof(name);
	dns_put16(m + n, DNS_TYPE_A);
	dns_put16(m + n + 2, DNS_CLASS_IN);
	n += 4;
	dns_put16(t->frame, (uint16_t)n);
	t->q.frame = t->frame;
	t->q.frame_len = n + 2;
	t->q.cb = on_answer;
}

static int submit(struct tq *t)
{
	int ret;

	query_init(t);
	ctx.inside = true;
	ret = tls_upstream_query(ctx.u, &t->q);
	ctx.inside = false;
	return ret;
}

static int set_addresses(const struct sockaddr_storage *addrs, size_t n)
{
	int ret;

	ctx.inside = true;
	ret = tls_upstream_set_addresses(ctx.u, addrs, n);
	ctx.inside = false;
	return ret;
}

static struct tls_upstream_stats stats(void)
{
	struct tls_upstream_stats st;

	tls_upstream_stats_get(ctx.u, &st);
	return st;
}

static void on_closed(void *arg)
{
	(void)arg;
	ctx.closed = true;
}

static void count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(unsigned *)arg)++;
}

static unsigned handles(void)
{
	unsigned n = 0;

	uv_walk(&ctx.loop, count_handle, &n);
	return n;
}

/* Close the upstream (if open) and the listeners; every handle must be gone. */
static void teardown(void)
{
	if (ctx.u && !ctx.closed) {
		tls_upstream_close(ctx.u, on_closed, NULL);
		RUN_UNTIL(ctx.closed, 2000);
		CU_ASSERT_TRUE(ctx.closed);
	}
	for (int i = 0; i < N_LISTENERS; i++) {
		listener_stop(&ctx.l[i]);
	}
	close(ctx.dead_fd);
	uv_close((uv_handle_t *)&ctx.tick, NULL);
	uv_run(&ctx.loop, UV_RUN_DEFAULT);
	CU_ASSERT_EQUAL(uv_loop_close(&ctx.loop), 0);
	tls_client_free(ctx.client);
}

/*
 * Without an address: resolving, never available, a query refused without a callback and
 * without a socket. The first addresses make it idle and available, and a query connects there.
 */
static void test_unresolved(void)
{
	struct sockaddr_storage bad[TLS_UPSTREAM_MAX_ADDRS + 1];
	struct sockaddr_storage unix_addr = {.ss_family = AF_UNIX};
	unsigned before;
	struct tq t1, t2;

	setup();
	before = handles();
	upstream_make(NULL);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_RESOLVING);
	CU_ASSERT_STRING_EQUAL(tls_upstream_state_name(tls_upstream_state(ctx.u)), "resolving");
	CU_ASSERT_EQUAL(tls_upstream_available_at(ctx.u), TLS_UPSTREAM_NEVER);
	CU_ASSERT_EQUAL(submit(&t1), -EDESTADDRREQ);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(t1.calls, 0);
	CU_ASSERT_EQUAL(stats().connections, 0);
	CU_ASSERT_EQUAL(handles(), before);

	/* No address, too many, a family that is not IP: refused, and nothing changes. */
	for (size_t i = 0; i < TLS_UPSTREAM_MAX_ADDRS + 1; i++) {
		bad[i] = ctx.l[0].addr;
	}
	CU_ASSERT_EQUAL(set_addresses(bad, 0), -EINVAL);
	CU_ASSERT_EQUAL(set_addresses(bad, TLS_UPSTREAM_MAX_ADDRS + 1), -EINVAL);
	CU_ASSERT_EQUAL(set_addresses(&unix_addr, 1), -EINVAL);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_RESOLVING);

	CU_ASSERT_EQUAL(set_addresses(&ctx.l[0].addr, 1), 0);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_IDLE);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) <= uv_now(&ctx.loop));
	CU_ASSERT_EQUAL(submit(&t2), 0);
	RUN_UNTIL(ctx.l[0].n_conns == 1, 2000);
	CU_ASSERT_EQUAL(ctx.l[0].n_conns, 1);
	CU_ASSERT_EQUAL(ctx.l[1].n_conns, 0);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_CONNECTING);
	CU_ASSERT_EQUAL(t2.calls, 0);
	/* Closing gives the waiting query its status from the loop. */
	tls_upstream_close(ctx.u, on_closed, NULL);
	CU_ASSERT_EQUAL(t2.calls, 0);
	RUN_UNTIL(ctx.closed && t2.calls > 0, 2000);
	CU_ASSERT_EQUAL(t2.calls, 1);
	CU_ASSERT_EQUAL(t2.status, TLS_ERR_LOST);
	CU_ASSERT_FALSE(t2.sync);
	teardown();
}

/*
 * New addresses without the one a connection went to: that connection closes (the listener
 * sees the end), from the loop; its query goes, unfailed, to a connection to the new address.
 * Then addresses that still hold it: the connection stays, nothing new opens.
 */
static void test_moved(void)
{
	struct sockaddr_storage both[2];
	struct tls_upstream_stats st;
	struct tq t;

	setup();
	upstream_make(&ctx.l[0].addr);
	CU_ASSERT_EQUAL(submit(&t), 0);
	RUN_UNTIL(ctx.l[0].n_conns == 1, 2000);
	CU_ASSERT_EQUAL_FATAL(ctx.l[0].n_conns, 1);

	CU_ASSERT_EQUAL(set_addresses(&ctx.l[1].addr, 1), 0);
	CU_ASSERT_EQUAL(t.calls, 0);
	RUN_UNTIL(ctx.l[0].n_eof == 1 && ctx.l[1].n_conns == 1, 2000);
	CU_ASSERT_EQUAL(ctx.l[0].n_eof, 1);
	CU_ASSERT_EQUAL(ctx.l[1].n_conns, 1);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(t.calls, 0); /* still waiting, for the new connection's handshake */
	st = stats();
	CU_ASSERT_EQUAL(st.connections, 2);
	CU_ASSERT_EQUAL(st.conns_open, 1);
	CU_ASSERT_EQUAL(st.queued, 1);
	CU_ASSERT_EQUAL(st.conn_failures, 0);
	CU_ASSERT_EQUAL(st.backoffs, 0);

	/* The address stays among the new ones (not first): so does its connection. */
	both[0] = ctx.l[0].addr;
	both[1] = ctx.l[1].addr;
	CU_ASSERT_EQUAL(set_addresses(both, 2), 0);
	RUN_UNTIL(false, 100);
	CU_ASSERT_EQUAL(ctx.l[1].n_eof, 0);
	CU_ASSERT_EQUAL(ctx.l[0].n_conns, 1);
	CU_ASSERT_EQUAL(ctx.l[1].n_conns, 1);
	CU_ASSERT_EQUAL(stats().connections, 2);
	CU_ASSERT_EQUAL(t.calls, 0);
	teardown();
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_EQUAL(t.status, TLS_ERR_LOST);
	CU_ASSERT_FALSE(t.sync);
}

/*
 * The first address refuses: that query fails (TLS_ERR_CONNECT, from the loop), and the next
 * query connects to the second address; a third stays with it.
 */
static void test_next_address(void)
{
	struct sockaddr_storage addrs[2];
	struct tq t1, t2;

	setup();
	upstream_make(NULL);
	addrs[0] = ctx.dead;
	addrs[1] = ctx.l[1].addr;
	CU_ASSERT_EQUAL(set_addresses(addrs, 2), 0);
	CU_ASSERT_EQUAL(submit(&t1), 0);
	RUN_UNTIL(t1.calls > 0, 2000);
	CU_ASSERT_EQUAL(t1.calls, 1);
	CU_ASSERT_EQUAL(t1.status, TLS_ERR_CONNECT);
	CU_ASSERT_FALSE(t1.sync);
	CU_ASSERT_EQUAL(stats().conn_failures, 1);
	CU_ASSERT_EQUAL(ctx.l[1].n_conns, 0);

	CU_ASSERT_EQUAL(submit(&t2), 0);
	RUN_UNTIL(ctx.l[1].n_conns == 1, 2000);
	CU_ASSERT_EQUAL(ctx.l[1].n_conns, 1);
	CU_ASSERT_EQUAL(t2.calls, 0);
	CU_ASSERT_EQUAL(stats().connections, 2);
	CU_ASSERT_EQUAL(stats().conn_failures, 1);
	teardown();
}

/* A plain upstream has its one address: new ones are refused. */
static void test_plain_refused(void)
{
	struct tls_upstream_params p;

	setup();
	p = params(&ctx.l[0].addr);
	CU_ASSERT_EQUAL_FATAL(tls_upstream_new_plain(&ctx.loop, &p, &ctx.u), 0);
	CU_ASSERT_EQUAL(set_addresses(&ctx.l[1].addr, 1), -EINVAL);
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_IDLE);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) <= uv_now(&ctx.loop));
	teardown();
}

/* The local address of the connections to the listeners, 127.0.0.1, or another (port 0). */
static struct sockaddr_storage local_ip(uint32_t ip)
{
	struct sockaddr_storage ss = loopback(0);

	((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(ip);
	return ss;
}

/*
 * A local address removed (tls_upstream_addr_gone()): another one than the connection's
 * changes nothing; its own closes the connection at once, from the loop (the listener sees the
 * end), and the query waiting on it goes, unfailed, to a new connection; no failure is counted.
 */
static void test_addr_gone(void)
{
	struct sockaddr_storage other = local_ip(0x7f000002), mine = local_ip(INADDR_LOOPBACK);
	struct tls_upstream_stats st;
	struct tq t;

	setup();
	upstream_make(&ctx.l[0].addr);
	CU_ASSERT_EQUAL(submit(&t), 0);
	RUN_UNTIL(ctx.l[0].n_conns == 1, 2000);
	CU_ASSERT_EQUAL_FATAL(ctx.l[0].n_conns, 1);

	ctx.inside = true;
	tls_upstream_addr_gone(ctx.u, (const struct sockaddr *)&other);
	ctx.inside = false;
	RUN_UNTIL(false, 100);
	CU_ASSERT_EQUAL(ctx.l[0].n_eof, 0);
	CU_ASSERT_EQUAL(ctx.l[0].n_conns, 1);

	ctx.inside = true;
	tls_upstream_addr_gone(ctx.u, (const struct sockaddr *)&mine);
	ctx.inside = false;
	CU_ASSERT_EQUAL(t.calls, 0);
	RUN_UNTIL(ctx.l[0].n_eof == 1 && ctx.l[0].n_conns == 2, 2000);
	CU_ASSERT_EQUAL(ctx.l[0].n_eof, 1);
	CU_ASSERT_EQUAL(ctx.l[0].n_conns, 2);
	RUN_UNTIL(false, 50);
	CU_ASSERT_EQUAL(t.calls, 0); /* waiting for the new connection's handshake */
	st = stats();
	CU_ASSERT_EQUAL(st.conns_open, 1);
	CU_ASSERT_EQUAL(st.queued, 1);
	CU_ASSERT_EQUAL(st.conn_failures, 0);
	teardown();
	CU_ASSERT_EQUAL(t.calls, 1);
	CU_ASSERT_FALSE(t.sync);
}

/*
 * A new upstream at the port that refuses connections, sent queries (@t, up to @n: they must
 * outlive the upstream) one at a time until it is backed off; each refused connect fails its
 * query with TLS_ERR_CONNECT.
 */
static void back_off_by_refusals(struct tq *t, int n)
{
	upstream_make(&ctx.dead);
	for (int i = 0; i < n && tls_upstream_state(ctx.u) != TLS_UPSTREAM_BACKED_OFF; i++) {
		CU_ASSERT_EQUAL(submit(&t[i]), 0);
		RUN_UNTIL(t[i].calls > 0, 2000);
		CU_ASSERT_EQUAL(t[i].status, TLS_ERR_CONNECT);
	}
	CU_ASSERT_EQUAL_FATAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_BACKED_OFF);
}

/*
 * Backed off after refused connects, the upstream still takes a query (the resolver's last
 * resort), which opens a connection, refused at once; for TLS_LAST_RESORT_MS after it
 * tls_upstream_may_try() says no, then yes, while the backoff (2 s by then) still runs.
 */
static void test_last_resort_limited(void)
{
	struct tq t[8], last;
	uint64_t tried_at;

	setup();
	back_off_by_refusals(t, 8);
	CU_ASSERT_TRUE(tls_upstream_may_try(ctx.u)); /* not tried during this backoff yet */
	CU_ASSERT_EQUAL(submit(&last), 0);
	tried_at = uv_now(&ctx.loop);
	RUN_UNTIL(last.calls > 0, 2000);
	CU_ASSERT_EQUAL(last.status, TLS_ERR_CONNECT);
	CU_ASSERT_FALSE(tls_upstream_may_try(ctx.u));
	/* Nothing else runs in the loop: run it for the time, not until a condition on it. */
	uv_update_time(&ctx.loop);
	CU_ASSERT_FATAL(uv_now(&ctx.loop) < tried_at + TLS_LAST_RESORT_MS - 100);
	RUN_UNTIL(false, tried_at + TLS_LAST_RESORT_MS - 100 - uv_now(&ctx.loop));
	CU_ASSERT_FALSE(tls_upstream_may_try(ctx.u));
	RUN_UNTIL(false, 100);
	CU_ASSERT_TRUE(tls_upstream_may_try(ctx.u));
	CU_ASSERT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_BACKED_OFF);
	teardown();
}

/*
 * The network changed (tls_upstream_network_changed()): an upstream backed off after refused
 * connects is available again at once; a connection still in its handshake starts again
 * (closed, its query on a new one, unfailed).
 */
static void test_network_changed(void)
{
	struct tq t[6], w;

	setup();
	back_off_by_refusals(t, 6);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) > uv_now(&ctx.loop));
	tls_upstream_network_changed(ctx.u);
	CU_ASSERT_TRUE(tls_upstream_available_at(ctx.u) <= uv_now(&ctx.loop));
	CU_ASSERT_NOT_EQUAL(tls_upstream_state(ctx.u), TLS_UPSTREAM_BACKED_OFF);
	teardown();

	setup();
	upstream_make(&ctx.l[0].addr);
	CU_ASSERT_EQUAL(submit(&w), 0);
	RUN_UNTIL(ctx.l[0].n_conns == 1, 2000);
	CU_ASSERT_EQUAL_FATAL(ctx.l[0].n_conns, 1);
	ctx.inside = true;
	tls_upstream_network_changed(ctx.u);
	ctx.inside = false;
	RUN_UNTIL(ctx.l[0].n_eof == 1 && ctx.l[0].n_conns == 2, 2000);
	CU_ASSERT_EQUAL(ctx.l[0].n_eof, 1);
	CU_ASSERT_EQUAL(ctx.l[0].n_conns, 2);
	CU_ASSERT_EQUAL(w.calls, 0);
	CU_ASSERT_EQUAL(stats().conn_failures, 0);
	teardown();
	CU_ASSERT_EQUAL(w.calls, 1);
	CU_ASSERT_FALSE(w.sync);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"no address yet: resolving", test_unresolved},
		{"new addresses move the connection", test_moved},
		{"a refused address: the next one", test_next_address},
		{"plain: one address", test_plain_refused},
		{"a local address removed", test_addr_gone},
		{"the network changed", test_network_changed},
		{"backed off: one last-resort connection a second", test_last_resort_limited},
		CU_TEST_INFO_NULL,
	};
	int ret;

	tls_init();
	ret = unit_run("tls_upstream", tests);
	tls_cleanup();
	return ret;
}
