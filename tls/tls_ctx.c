/*
 * tls_ctx: the shared wolfSSL context of the daemon (trust anchors, protocol versions, cipher
 * list, the memory I/O hooks of tls_conn.c) and the session callback that keeps tickets per
 * upstream. The authentication of each connection is in tls_auth.c (wolfSSL's side) and
 * tls_policy.c (the decision).
 *
 * Sessions (RFC 8446 §4.6.1, RFC 5077): one is stored with its upstream only once its
 * connection has been authenticated (state READY, tls_auth_check() passed, not merely
 * tolerated by the opportunistic profile), so that no resumption can ever skip an
 * authentication that did not happen, whatever wolfSSL does. Under TLS 1.2 wolfSSL makes the
 * session at the end of the handshake, before we have looked at the result: the connection
 * holds it until it becomes READY and authenticated, or drops it. A connection accepted on its
 * pin alone while the clock was unset (auth.clock_exempt) never stores one: a resumption, once
 * the clock is set, would carry over an authentication whose dates were never checked.
 *
 * Nothing of wolfSSL runs at start: the library is initialised, and a context built with its
 * trust anchors read, when the first connection (or DNSSEC check) needs them. Its code is
 * shared, but what a process has run stays mapped in it, and wolfSSL's start-up code was a
 * quarter of an idle dotd's resident memory (docs/ARCHITECTURE.md, "Memory").
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "log.h"
#include "tls_dnssec.h"
#include "tls_int.h"

/*
 * RFC 9325 §4.2: AEAD suites with forward secrecy only. Debian's wolfSSL enables far more by
 * default (RC4 and NULL among them).
 *
 * The TLS 1.3 order follows what this wolfCrypt computes fast. Without AES instructions
 * (Debian's build has neither WOLFSSL_AESNI nor WOLFSSL_ARMASM; most router SoCs have no AES
 * unit) ChaCha20-Poly1305 opens a DNS answer in under half the time of AES-GCM: 2.1 µs against
 * 4.8 µs for a 490-octet record on the bench machine (docs/BENCHMARKS.md), per query. Servers
 * that keep their own preference (unbound, through OpenSSL's server preference, puts
 * AES-256-GCM first) would pick AES-256 whenever it is offered, so in that build it is not:
 * ChaCha20 and AES-128-GCM, which every TLS 1.3 server implements (RFC 8446 §9.1 MUST), are.
 * TLS 1.2 keeps all its AEAD suites: servers that old are not the fast path.
 *
 * A server may still accept AES-256-GCM alone (a hardened "ciphersuites" line): it answers the
 * narrow list with a handshake_failure alert, and that upstream's connections offer every AEAD
 * suite from then on (tls_suites_widen(), tls_conn.c). Wider means AES-256 as well, never a
 * suite outside RFC 9325 §4.2, so an alert forged on the path buys nothing but a slower cipher.
 */
#define TLS13_ALL "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
#if defined(WOLFSSL_AESNI) || defined(WOLFSSL_ARMASM) || !defined(HAVE_CHACHA) ||                  \
	!defined(HAVE_POLY1305)
#define TLS13_SUITES TLS13_ALL
#define TLS13_WIDE   TLS13_ALL
#define TLS13_NARROW false
#else
#define TLS13_SUITES "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"
#define TLS13_WIDE   TLS13_SUITES "TLS13-AES256-GCM-SHA384:"
#define TLS13_NARROW true
#endif
#define TLS12_SUITES                                                                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
static const char cipher_list[] = TLS13_SUITES TLS12_SUITES;
static const char cipher_list_wide[] = TLS13_WIDE TLS12_SUITES;

bool tls_suites_narrow(const struct tls_client *c)
{
	return TLS13_NARROW && c->tls_max != 3;
}

int tls_suites_widen(WOLFSSL *ssl)
{
	return wolfSSL_set_cipher_list(ssl, cipher_list_wide) == WOLFSSL_SUCCESS ? 0 : -EINVAL;
}

bool tls_session_is_wide(const WOLFSSL_SESSION *s)
{
	const char *name = wolfSSL_SESSION_CIPHER_get_name(s);

	/* Its IANA name in Debian's build (RFC 8446 §B.4), wolfSSL's own in others. */
	return TLS13_NARROW && name &&
	       (strcmp(name, "TLS_AES_256_GCM_SHA384") == 0 ||
		strcmp(name, "TLS13-AES256-GCM-SHA384") == 0);
}

/*
 * The groups offered, the key share going to the first (RFC 8446 §4.2.7). X25519 first
 * (RFC 9325 §4.2.1 recommends it): a few hundred microseconds of Curve25519, where Debian's
 * wolfCrypt (FP_ECC) makes a P-256 exchange build a 0.8 MB table of precomputed multiples for
 * our key and one for the server's, at a millisecond or more each, which tls_ecc_tables_drop()
 * frees again after every handshake. The NIST curves and X448 stay for servers without X25519.
 */
static int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1,
		       WOLFSSL_ECC_SECP521R1, WOLFSSL_ECC_X448};

int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status = -ENOMEM; /* written once, under lib_once */
static atomic_bool lib_ready;	 /* read by threads that may never have called tls_init() */

static void lib_init(void)
{
	lib_status = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -ENOMEM;
	atomic_store(&lib_ready, lib_status == 0);
}

int tls_init(void)
{
	if (pthread_once(&lib_once, lib_init) != 0) {
		return -ENOMEM;
	}
	return lib_status;
}

bool tls_initialised(void)
{
	return atomic_load(&lib_ready);
}

void tls_cleanup(void)
{
	if (tls_initialised()) {
		wolfSSL_Cleanup();
	}
}

/*
 * What wolfCrypt keeps per thread goes with the thread: the FP_ECC tables (thread-local in
 * wolfCrypt), which wolfSSL_Cleanup() frees for the main thread only.
 */
void tls_thread_cleanup(void)
{
	if (tls_initialised()) {
		tls_ecc_tables_drop();
	}
}

/*
 * wolfSSL hands us each new session as it is made: under TLS 1.3 when a NewSessionTicket
 * arrives after the handshake (the connection is READY), under TLS 1.2 at the end of the
 * handshake (it is not yet). We keep a copy. (A session taken with wolfSSL_get1_session() from a
 * resumed TLS 1.3 connection fails its binder on the next handshake with wolfSSL 5.5.4;
 * sessions from this callback do not.) Returning 0 leaves wolfSSL's own reference to wolfSSL.
 */
static int on_new_session(WOLFSSL *ssl, WOLFSSL_SESSION *session)
{
	struct tls_conn *c = wolfSSL_get_app_data(ssl);
	WOLFSSL_SESSION *copy;

	if (!c || c->state > TLS_CONN_READY || !wolfSSL_SESSION_has_ticket(session)) {
		return 0;
	}
	if (c->state == TLS_CONN_READY && (!c->auth.authenticated || c->auth.clock_exempt)) {
		return 0; /* tolerated by the opportunistic profile, or exempt: never resumed */
	}
	copy = wolfSSL_SESSION_dup(session);
	if (!copy) {
		return 0;
	}
	if (c->state < TLS_CONN_READY) {
		/* TLS 1.2: not authenticated yet. tls_conn_session_release() decides. */
		if (c->held_session) {
			wolfSSL_SESSION_free(c->held_session);
		}
		c->held_session = copy;
		return 0;
	}
	tls_upstream_session_put(c->up, copy);
	log_debug(LOG_TLS, "upstream '%s': session ticket stored", c->up->name);
	return 0;
}

void tls_conn_session_release(struct tls_conn *c)
{
	WOLFSSL_SESSION *s = c->held_session;

	if (!s) {
		return;
	}
	c->held_session = NULL;
	if (c->state == TLS_CONN_READY && c->auth.authenticated && !c->auth.clock_exempt) {
		tls_upstream_session_put(c->up, s);
		log_debug(LOG_TLS, "upstream '%s': session ticket stored", c->up->name);
		return;
	}
	wolfSSL_SESSION_free(s);
}

int tls_client_new(const struct tls_client_params *p, struct tls_client **out)
{
	struct tls_client *c = calloc(1, sizeof(*c));

	if (!c) {
		return -ENOMEM;
	}
	c->ca_file = p->ca_file ? strdup(p->ca_file) : NULL;
	c->ca_path = p->ca_path ? strdup(p->ca_path) : NULL;
	if ((p->ca_file && !c->ca_file) || (p->ca_path && !c->ca_path)) {
		tls_client_free(c);
		return -ENOMEM;
	}
	c->tls_min = p->tls_min;
	c->tls_max = p->tls_max;
	*out = c;
	return 0;
}

static int ctx_build(const struct tls_client *c, WOLFSSL_CTX **out, bool *has_anchors, bool *failed)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	bool anchors = false, bad = false;
	int ret = -EINVAL;

	if (!ctx) {
		return -ENOMEM;
	}
	/* RFC 8310 §9 and RFC 9325 §3.1.1: TLS 1.2 at least, 1.3 preferred. */
	if (wolfSSL_CTX_SetMinVersion(ctx, c->tls_min >= 4 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the minimum TLS version");
		goto cleanup;
	}
	if (c->tls_max == 3 &&
	    wolfSSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the maximum TLS version");
		goto cleanup;
	}
	if (wolfSSL_CTX_set_cipher_list(ctx, cipher_list) != WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the cipher list");
		goto cleanup;
	}
	if (wolfSSL_CTX_set_groups(ctx, groups, (int)(sizeof(groups) / sizeof(groups[0]))) !=
	    WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the key exchange groups");
		goto cleanup;
	}
	if (c->ca_file || c->ca_path) {
		if (wolfSSL_CTX_load_verify_locations_ex(ctx, c->ca_file, c->ca_path,
							 WOLFSSL_LOAD_FLAG_IGNORE_ERR) ==
		    WOLFSSL_SUCCESS) {
			anchors = true;
		} else {
			log_err(LOG_TLS,
				"cannot load trust anchors from '%s': no certificate in it can be "
				"read",
				c->ca_file ? c->ca_file : c->ca_path);
			bad = true;
		}
	} else if (wolfSSL_CTX_load_system_CA_certs(ctx) == WOLFSSL_SUCCESS) {
		anchors = true;
	} else {
		log_warn(LOG_TLS, "no system trust store found (install ca-certificates or set "
				  "tls_ca_file): only pinned upstreams can be authenticated");
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, tls_auth_on_verify);
	/* Sessions are kept per upstream (tls_upstream.c), not in wolfSSL's global cache. */
	wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_CLIENT |
							WOLFSSL_SESS_CACHE_NO_INTERNAL_STORE);
	wolfSSL_CTX_sess_set_new_cb(ctx, on_new_session);
	wolfSSL_CTX_SetIORecv(ctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(ctx, tls_io_send);
	*out = ctx;
	*has_anchors = anchors;
	*failed = bad;
	return 0;

cleanup:
	wolfSSL_CTX_free(ctx);
	return ret;
}

int tls_client_load(struct tls_client *c)
{
	bool has_anchors, failed;
	WOLFSSL_CTX *ctx;
	int ret;

	if (c->ctx) {
		return 0;
	}
	ret = tls_init();
	if (ret != 0) {
		log_err(LOG_TLS, "cannot initialise wolfSSL");
		return ret;
	}
	ret = ctx_build(c, &ctx, &has_anchors, &failed);
	if (ret != 0) {
		return ret;
	}
	c->ctx = ctx;
	c->has_anchors = has_anchors;
	c->failed = failed;
	if (c->ca_file || c->ca_path) {
		if (!failed) {
			log_info(LOG_TLS, "TLS client context made: trust anchors from '%s'",
				 c->ca_file ? c->ca_file : c->ca_path);
		}
	} else {
		log_info(LOG_TLS, "TLS client context made: trust anchors from %s",
			 has_anchors ? "the system store" : "nowhere");
	}
	return 0;
}

/*
 * The context's own build (ctx_build(), the same flags) on a scratch client, so that the check
 * takes what the first connection will take, in a child process: wolfSSL's start-up and
 * certificate code, run here, would stay resident in a dotd that has not connected yet (1.2 MB
 * measured with a certificate manager in process: 3.36 MB at start, 4.54 MB with it), which is
 * why the first context reads its anchors at the first connection.
 */
int tls_ca_file_check(const char *path, bool *ok)
{
	int status;
	pid_t pid;

	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		return -errno;
	}
	if (pid == 0) {
		struct tls_client c = {.ca_file = (char *)path, .tls_min = 3, .tls_max = 4};
		bool has_anchors = false, failed = true;
		WOLFSSL_CTX *ctx;

		log_level_set(LOG_CRIT); /* the parent says what failed */
		if (tls_init() != 0 || ctx_build(&c, &ctx, &has_anchors, &failed) != 0) {
			_exit(2);
		}
		_exit(failed ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			return -errno;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
		return -EIO;
	}
	*ok = WEXITSTATUS(status) == 0;
	return 0;
}

bool tls_client_loaded(const struct tls_client *c)
{
	return c->ctx != NULL;
}

bool tls_client_failed(const struct tls_client *c)
{
	return c->failed;
}

void tls_client_params_get(const struct tls_client *c, struct tls_client_params *out)
{
	*out = (struct tls_client_params){
		.ca_file = c->ca_file,
		.ca_path = c->ca_path,
		.tls_min = c->tls_min,
		.tls_max = c->tls_max,
	};
}

void tls_client_free(struct tls_client *c)
{
	if (!c) {
		return;
	}
	if (c->ctx) {
		wolfSSL_CTX_free(c->ctx);
	}
	free(c->ca_file);
	free(c->ca_path);
	free(c);
}
