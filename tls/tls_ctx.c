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
 */
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "log.h"
#include "tls_dnssec.h"
#include "tls_int.h"

/*
 * RFC 9325 §4.2: AEAD suites with forward secrecy only. Debian's wolfSSL enables far more by
 * default (RC4 and NULL among them).
 */
static const char cipher_list[] = "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
				  "TLS13-CHACHA20-POLY1305-SHA256:"
				  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
				  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
				  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

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

int tls_init(void)
{
	return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -ENOMEM;
}

void tls_cleanup(void)
{
	wolfSSL_Cleanup();
}

/*
 * What wolfCrypt keeps per thread goes with the thread: the FP_ECC tables (thread-local in
 * wolfCrypt), which wolfSSL_Cleanup() frees for the main thread only.
 */
void tls_thread_cleanup(void)
{
	tls_ecc_tables_drop();
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
	struct tls_client *c;
	int ret = -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!c->ctx) {
		ret = -ENOMEM;
		goto cleanup;
	}
	/* RFC 8310 §9 and RFC 9325 §3.1.1: TLS 1.2 at least, 1.3 preferred. */
	if (wolfSSL_CTX_SetMinVersion(c->ctx,
				      p->tls_min >= 4 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the minimum TLS version");
		goto cleanup;
	}
	if (p->tls_max == 3 &&
	    wolfSSL_CTX_set_max_proto_version(c->ctx, TLS1_2_VERSION) != WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the maximum TLS version");
		goto cleanup;
	}
	if (wolfSSL_CTX_set_cipher_list(c->ctx, cipher_list) != WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the cipher list");
		goto cleanup;
	}
	if (wolfSSL_CTX_set_groups(c->ctx, groups, (int)(sizeof(groups) / sizeof(groups[0]))) !=
	    WOLFSSL_SUCCESS) {
		log_err(LOG_TLS, "cannot set the key exchange groups");
		goto cleanup;
	}
	if (p->ca_file || p->ca_path) {
		if (wolfSSL_CTX_load_verify_locations_ex(c->ctx, p->ca_file, p->ca_path,
							 WOLFSSL_LOAD_FLAG_IGNORE_ERR) !=
		    WOLFSSL_SUCCESS) {
			log_err(LOG_TLS, "cannot load trust anchors from '%s'",
				p->ca_file ? p->ca_file : p->ca_path);
			goto cleanup;
		}
		c->has_anchors = true;
	} else if (wolfSSL_CTX_load_system_CA_certs(c->ctx) == WOLFSSL_SUCCESS) {
		c->has_anchors = true;
	} else {
		log_warn(LOG_TLS, "no system trust store found (install ca-certificates or set "
				  "tls_ca_file): only pinned upstreams can be authenticated");
	}
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, tls_auth_on_verify);
	/* Sessions are kept per upstream (tls_upstream.c), not in wolfSSL's global cache. */
	wolfSSL_CTX_set_session_cache_mode(c->ctx, WOLFSSL_SESS_CACHE_CLIENT |
							   WOLFSSL_SESS_CACHE_NO_INTERNAL_STORE);
	wolfSSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
	wolfSSL_CTX_SetIORecv(c->ctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(c->ctx, tls_io_send);
	*out = c;
	return 0;

cleanup:
	tls_client_free(c);
	return ret;
}

void tls_client_free(struct tls_client *c)
{
	if (!c) {
		return;
	}
	if (c->ctx) {
		wolfSSL_CTX_free(c->ctx);
	}
	free(c);
}
