/*
 * test_tls_heap: what one TLS handshake leaves on dotd's heap (tls/tls_conn.c, tls_dnssec.c).
 * wolfCrypt built with FP_ECC, as Debian's is, keeps a table of precomputed multiples (some
 * 0.8 MB for P-256) for the points a handshake's verifies use: the base point, the CA's and the
 * server's keys (and a P-256 key exchange would add two). They are not needed again until the
 * next full handshake, so tls/ drops them when the handshake ends and gives their pages back to
 * the system (malloc_trim() on glibc). Checked here: after a full handshake and an answer, with the
 * connection still open as in the daemon, the heap in use (mallinfo2) and the anonymous resident
 * memory (/proc/self/status RssAnon) have grown by less than one table. The server is a real
 * wolfSSL server in a child process (its memory is not ours), on 127.0.0.1, with the throwaway
 * PKI of tests/certs/gen.sh (openssl).
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "dns_wire.h"
#include "tls.h"
#include "unit.h"
#include "unit_loop.h"
#include "unit_heap.h"

/* Less than one P-256 table (256 points of some 3.2 KB each): any table kept fails. */
#define GROWTH_MAX (512 * 1024)

/* RssAnon in bytes; 0 when it cannot be read. */
static size_t rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kb = 0;

	if (!f) {
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %zu kB", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	return kb * 1024;
}

static struct {
	uv_loop_t loop;
	uv_timer_t tick;
	bool expired;
	bool closed;
	int calls;
	int status;
	char pki[64];
	int listen_fd;
	uint16_t port;
	pid_t server;
} ctx;

/* Run the loop until @cond holds or @ms have passed (unit_loop.h). */
#define RUN_UNTIL(cond, ms) UNIT_RUN_UNTIL(&ctx.loop, &ctx.tick, &ctx.expired, cond, ms)

static int read_full(WOLFSSL *ssl, uint8_t *buf, int len)
{
	for (int got = 0; got < len;) {
		int n = wolfSSL_read(ssl, buf + got, len - got);

		if (n <= 0) {
			return -1;
		}
		got += n;
	}
	return 0;
}

/*
 * The child: one connection, its handshake, one query answered with the query itself turned
 * into a response (QR set), then wait for the client to go. Blocking wolfSSL on the socket.
 */
static int serve_one(void)
{
	char cert[96], key[96];
	uint8_t msg[2 + 512];
	WOLFSSL_CTX *sctx;
	WOLFSSL *ssl;
	int fd, len, ret = 1;

	snprintf(cert, sizeof(cert), "%s/server.pem", ctx.pki);
	snprintf(key, sizeof(key), "%s/server.key", ctx.pki);
	sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (!sctx || wolfSSL_CTX_use_certificate_chain_file(sctx, cert) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(sctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		return 1;
	}
	fd = accept(ctx.listen_fd, NULL, NULL);
	if (fd < 0) {
		return 1;
	}
	ssl = wolfSSL_new(sctx);
	if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_accept(ssl) != WOLFSSL_SUCCESS) {
		goto done;
	}
	if (read_full(ssl, msg, 2) != 0) {
		goto done;
	}
	len = dns_get16(msg);
	if (len < DNS_HDR_LEN || len > 512 || read_full(ssl, msg + 2, len) != 0) {
		goto done;
	}
	msg[2 + 2] |= 0x80; /* QR */
	if (wolfSSL_write(ssl, msg, 2 + len) != 2 + len) {
		goto done;
	}
	while (wolfSSL_read(ssl, msg, sizeof(msg)) > 0) {
	}
	ret = 0;
done:
	if (ssl) {
		wolfSSL_free(ssl);
	}
	close(fd);
	wolfSSL_CTX_free(sctx);
	return ret;
}

static void server_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctx.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(ctx.listen_fd >= 0);
	CU_ASSERT_EQUAL_FATAL(bind(ctx.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CU_ASSERT_EQUAL_FATAL(getsockname(ctx.listen_fd, (struct sockaddr *)&a, &len), 0);
	CU_ASSERT_EQUAL_FATAL(listen(ctx.listen_fd, 1), 0);
	ctx.port = ntohs(a.sin_port);
	fflush(NULL);
	ctx.server = fork();
	CU_ASSERT_FATAL(ctx.server >= 0);
	if (ctx.server == 0) {
		_exit(serve_one());
	}
	close(ctx.listen_fd);
}

static void on_answer(struct tls_query *q, int status, const uint8_t *ans, size_t len,
		      const struct dns_opt *opt)
{
	(void)q;
	(void)ans;
	(void)len;
	(void)opt;
	ctx.calls++;
	ctx.status = status;
}

static void on_closed(void *arg)
{
	(void)arg;
	ctx.closed = true;
}

static void test_handshake_leaves_no_tables(void)
{
	static const uint8_t name[] = "\3www\7example";
	char cmd[256], ca[96];
	struct tls_client_params cp = {.ca_file = ca, .tls_min = 3};
	struct sockaddr_in to = {.sin_family = AF_INET};
	struct tls_upstream_params p = {
		.addr = (const struct sockaddr *)&to,
		.addr_len = sizeof(to),
		.name = "dot.test@heap",
		.auth_name = "dot.test",
		.strict = true,
		.idle_timeout_ms = 10000,
		.handshake_timeout_ms = 10000,
		.liveness_ms = 10000,
		.max_in_flight = 8,
		.max_conns = 1,
		.failures_before_backoff = 5,
		.backoff_max_ms = 60000,
	};
	struct tls_client *client;
	struct tls_upstream *u;
	struct tls_query q = {0};
	uint8_t frame[2 + 64] = {0};
	size_t n = DNS_HDR_LEN, heap0, heap1, rss0, rss1;
	int st = -1;

	snprintf(ctx.pki, sizeof(ctx.pki), "%s", "/tmp/dotd-heap.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(ctx.pki));
	snprintf(cmd, sizeof(cmd), "sh '%s/certs/gen.sh' '%s' > /dev/null 2>&1", TEST_SRCDIR,
		 ctx.pki);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", ctx.pki);
	server_start();

	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&ctx.loop), 0);
	uv_timer_init(&ctx.loop, &ctx.tick);
	CU_ASSERT_EQUAL_FATAL(tls_client_new(&cp, &client), 0);
	to.sin_port = htons(ctx.port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_EQUAL_FATAL(tls_upstream_new(&ctx.loop, client, &p, &u), 0);

	dns_put16(frame + 2 + 2, DNS_RD);
	dns_put16(frame + 2 + 4, 1);
	memcpy(frame + 2 + n, name, sizeof(name));
	n += sizeof(name);
	dns_put16(frame + 2 + n, DNS_TYPE_A);
	dns_put16(frame + 2 + n + 2, DNS_CLASS_IN);
	n += 4;
	dns_put16(frame, (uint16_t)n);
	q.frame = frame;
	q.frame_len = n + 2;
	q.cb = on_answer;

	heap0 = heap_in_use();
	rss0 = rss_anon();
	CU_ASSERT_EQUAL_FATAL(tls_upstream_query(u, &q), 0);
	RUN_UNTIL(ctx.calls > 0, 10000);
	CU_ASSERT_EQUAL(ctx.calls, 1);
	CU_ASSERT_EQUAL(ctx.status, 0);
	heap1 = heap_in_use();
	rss1 = rss_anon();
	printf("\n    after one handshake, connection open: heap +%zd bytes, RssAnon +%zd kB\n",
	       (ssize_t)(heap1 - heap0), ((ssize_t)rss1 - (ssize_t)rss0) / 1024);
	CU_ASSERT(heap1 < heap0 + GROWTH_MAX);
#ifndef HEAP_SANITIZER
	/* Under qemu-user RssAnon is the emulator's, its translation cache included. */
	if (rss0 && !getenv("DOTD_TEST_EMULATOR")) {
		CU_ASSERT(rss1 < rss0 + GROWTH_MAX);
	}
#endif

	tls_upstream_close(u, on_closed, NULL);
	RUN_UNTIL(ctx.closed, 2000);
	CU_ASSERT_TRUE(ctx.closed);
	CU_ASSERT_EQUAL(waitpid(ctx.server, &st, 0), ctx.server);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	uv_close((uv_handle_t *)&ctx.tick, NULL);
	uv_run(&ctx.loop, UV_RUN_DEFAULT);
	CU_ASSERT_EQUAL(uv_loop_close(&ctx.loop), 0);
	tls_client_free(client);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ctx.pki);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"a handshake leaves no ECC tables", test_handshake_leaves_no_tables},
		CU_TEST_INFO_NULL,
	};
	int ret;

	if (tls_init() != 0) {
		return 2;
	}
	ret = unit_run("tls_heap", tests);
	tls_cleanup();
	return ret;
}
