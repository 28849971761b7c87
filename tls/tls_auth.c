/*
 * tls_auth: the shared wolfSSL context and the authentication of upstreams (RFC 8310 §8).
 *
 * Rules (docs/ARCHITECTURE.md, "Authentication"):
 *   - name only: the chain must verify to a trust anchor and the name must match (wolfSSL's
 *     domain check, which it reports to the verify callback as a failure of the leaf);
 *   - name and pins: both, as Stubby does (rfc-checklist A7);
 *   - pins only: the server's own key matches a pin, or the chain verifies and a key higher in
 *     it matches. A pin on a CA key counts only in a verified chain, otherwise any server could
 *     append that CA's certificate to its own chain;
 *   - strict profile: a connection that is not authenticated is closed before any query is
 *     written. Opportunistic profile: it is used, and the outcome is logged.
 * The decision is taken in the verify callback for the leaf, so that a failure aborts the
 * handshake with an alert, and checked again when the handshake completes.
 */
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "log.h"
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

static int pin_of_x509(WOLFSSL_X509 *x509, uint8_t out[TLS_PIN_LEN])
{
	unsigned char spki[2048];
	int spki_len = sizeof(spki);

	/*
	 * wolfSSL_X509_get_pubkey_buffer() gives the whole DER SubjectPublicKeyInfo for RSA and
	 * EC keys alike; wc_GetPubKeyDerFromCert() does not (it gives the bare RSAPublicKey),
	 * which would make every RSA pin fail. test_tls checks both key types against openssl.
	 */
	if (wolfSSL_X509_get_pubkey_buffer(x509, spki, &spki_len) != WOLFSSL_SUCCESS ||
	    spki_len <= 0) {
		return -EINVAL;
	}
	if (wc_Sha256Hash(spki, (word32)spki_len, out) != 0) {
		return -EINVAL;
	}
	return 0;
}

int tls_spki_pin(const uint8_t *der, size_t der_len, uint8_t out[TLS_PIN_LEN])
{
	WOLFSSL_X509 *x509;
	int ret;

	if (der_len > INT32_MAX) {
		return -EINVAL;
	}
	x509 = wolfSSL_X509_d2i(NULL, der, (int)der_len);
	if (!x509) {
		return -EINVAL;
	}
	ret = pin_of_x509(x509, out);
	wolfSSL_X509_free(x509);
	return ret;
}

static bool pin_matches(const struct tls_upstream *u, WOLFSSL_X509 *x509)
{
	uint8_t pin[TLS_PIN_LEN];

	if (!x509 || pin_of_x509(x509, pin) != 0) {
		return false;
	}
	for (size_t i = 0; i < u->n_pins; i++) {
		if (memcmp(u->pins[i], pin, TLS_PIN_LEN) == 0) {
			return true;
		}
	}
	return false;
}

static bool auth_decide(const struct tls_upstream *u, const struct tls_auth *a)
{
	if (u->auth_name) {
		return a->pkix_ok && (u->n_pins == 0 || a->pin_leaf || a->pin_chain);
	}
	if (u->n_pins > 0) {
		return a->pin_leaf || (a->pkix_ok && a->pin_chain);
	}
	/* Neither: only the opportunistic profile allows such an upstream (config checks it). */
	return false;
}

/*
 * Called by wolfSSL for every certificate of the server's chain, from the top down to the
 * server's own (depth 0) last (WOLFSSL_VERIFY_CB_ALL_CERTS and WOLFSSL_ALWAYS_VERIFY_CB are
 * set in Debian's build). @preverify is wolfSSL's verdict on that certificate, the name check
 * included for the leaf. We record, and decide at the leaf.
 */
static int on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct tls_conn *c = store->userCtx;
	struct tls_auth *a;
	int depth = store->error_depth;

	if (!c) {
		return 0;
	}
	a = &c->auth;
	if (!preverify) {
		if (a->pkix_ok) {
			a->error = store->error;
			a->error_depth = depth;
		}
		a->pkix_ok = false;
	}
	if (c->up->n_pins > 0 && pin_matches(c->up, store->current_cert)) {
		if (depth == 0) {
			a->pin_leaf = true;
		} else {
			a->pin_chain = true;
		}
	}
	if (depth != 0) {
		return 1; /* decide at the leaf, when the whole chain has been seen */
	}
	a->leaf_seen = true;
	a->ok = auth_decide(c->up, a);
	if (!a->ok && c->up->strict) {
		return 0; /* abort the handshake with an alert */
	}
	return 1;
}

/*
 * wolfSSL hands us each new session as it is made: under TLS 1.3 when a NewSessionTicket
 * arrives after the handshake, under TLS 1.2 at its end. We keep a copy with the connection's
 * upstream. (A session taken with wolfSSL_get1_session() from a resumed TLS 1.3 connection fails
 * its binder on the next handshake with wolfSSL 5.5.4; sessions from this callback do not.)
 * Returning 0 leaves wolfSSL's own reference to wolfSSL.
 */
static int on_new_session(WOLFSSL *ssl, WOLFSSL_SESSION *session)
{
	struct tls_conn *c = wolfSSL_get_app_data(ssl);
	WOLFSSL_SESSION *copy;

	if (!c || c->state >= TLS_CONN_CLOSING || !wolfSSL_SESSION_has_ticket(session)) {
		return 0;
	}
	copy = wolfSSL_SESSION_dup(session);
	if (copy) {
		tls_upstream_session_put(c->up, copy);
		log_debug(LOG_TLS, "upstream '%s': session ticket stored", c->up->name);
	}
	return 0;
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
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, on_verify);
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

int tls_auth_setup(struct tls_conn *c)
{
	const struct tls_upstream *u = c->up;

	memset(&c->auth, 0, sizeof(c->auth));
	c->auth.pkix_ok = c->up->client->has_anchors;
	wolfSSL_SetCertCbCtx(c->ssl, c);
	if (u->auth_name) {
		/* RFC 8310 §8.1: the name is checked and sent as SNI (never an IP literal). */
		if (wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, u->auth_name,
				   (unsigned short)strlen(u->auth_name)) != WOLFSSL_SUCCESS ||
		    wolfSSL_check_domain_name(c->ssl, u->auth_name) != WOLFSSL_SUCCESS) {
			return -ENOMEM;
		}
	}
	return 0;
}

bool tls_auth_check(struct tls_conn *c)
{
	struct tls_upstream *u = c->up;
	struct tls_auth *a = &c->auth;
	const char *profile = u->strict ? "strict" : "opportunistic";

	if (wolfSSL_session_reused(c->ssl)) {
		/*
		 * A resumed session carries the authentication of the handshake that made it;
		 * sessions are only ever offered to the upstream they came from.
		 */
		return true;
	}
	if (a->leaf_seen && a->ok) {
		log_debug(LOG_TLS, "upstream '%s': authenticated (%s%s%s)", u->name,
			  u->auth_name ? "name" : "", u->auth_name && u->n_pins ? " and " : "",
			  u->n_pins ? "pin" : "");
		return true;
	}
	if (!a->leaf_seen) {
		log_warn(LOG_TLS, "upstream '%s': no certificate was verified (%s profile)",
			 u->name, profile);
	} else if (!a->pkix_ok && a->error) {
		log_warn(LOG_TLS,
			 "upstream '%s': certificate verification failed at depth %d: %s (%s "
			 "profile)",
			 u->name, a->error_depth, wolfSSL_X509_verify_cert_error_string(a->error),
			 profile);
	} else if (!a->pkix_ok) {
		log_warn(LOG_TLS,
			 "upstream '%s': certificate not verified: no trust anchors (%s "
			 "profile)",
			 u->name, profile);
	} else {
		log_warn(LOG_TLS,
			 "upstream '%s': no key in the certificate chain matches the pin set "
			 "(%s profile)",
			 u->name, profile);
	}
	if (!u->strict) {
		log_notice(LOG_TLS,
			   "upstream '%s': using an unauthenticated connection, tolerated "
			   "by the opportunistic profile",
			   u->name);
		return true;
	}
	return false;
}
