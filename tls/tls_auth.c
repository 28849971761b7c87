/*
 * tls_auth: wolfSSL's side of the authentication of upstreams (RFC 8310 §8). The verify callback
 * gathers the facts of one handshake into a struct tls_auth_facts and tls_auth_decide()
 * (tls_policy.c, pure, table-tested) turns them into the decision; docs/ARCHITECTURE.md
 * ("Authentication") has the table.
 *
 * The facts, at the server's own certificate (depth 0, which wolfSSL verifies last):
 *   - pkix_ok: wolfSSL verified the leaf to a trust anchor of the store, and no certificate
 *     above it failed (one that merely lacks an issuer is tolerated: WOLFSSL_ALT_CERT_CHAINS);
 *   - name_ok: the name matches a subjectAltName entry of the leaf (ours, RFC 9525 §6.3);
 *   - pin: where a pinned key sits. The leaf's own key; or a CA certificate that signs the
 *     leaf, which we check ourselves by building the path with a certificate manager that
 *     trusts that CA alone (tls_auth_path()), whatever order the server sent its chain in;
 *     or merely a certificate the server sent, which counts for nothing.
 * Under the strict profile a failure aborts the handshake with an alert, and tls_auth_check()
 * checks the decision again when the handshake completes, so that no query is ever written
 * on a connection that is not authenticated.
 *
 * The unset clock (tls_unset_clock: accept_pinned, off by default): while the system clock is
 * before the build date (tls_clock_unset()), a connection whose leaf key is pinned may be
 * accepted although certificate dates fail (TLS_AUTH_OK_UNSET_CLOCK, tls_policy.c). It is
 * marked (auth.clock_exempt), logged at warning, never leaves a session to resume, and is
 * closed by tls_upstream_clock_changed() once the clock is set. Two more facts serve it:
 *   - dates_only: the chain verifies to the store when dates are not checked, on a path we
 *     build (tls_auth_path() without dates). wolfSSL's own verdict cannot say it: a CA
 *     certificate that failed on its dates is not kept as the leaf's issuer
 *     (WOLFSSL_ALT_CERT_CHAINS), so the leaf then fails for want of an issuer;
 *   - ca_deferred: a CA above the leaf failed on its dates, and the strict profile waited for
 *     the leaf's turn instead of aborting (tls_auth_ca_defer()).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "log.h"
#include "tls_int.h"

#define PATH_MAX_CERTS 16 /* certificates of a presented chain we look at (wolfSSL keeps 9) */

#ifndef DOTD_BUILD_EPOCH
#error "DOTD_BUILD_EPOCH, the build date in seconds since 1970, comes from CMakeLists.txt"
#endif

bool tls_clock_unset(void)
{
	struct timespec now;

	/*
	 * CLOCK_REALTIME is the clock wolfSSL checks certificate dates against (time()). It
	 * cannot fail; should it, the clock counts as set, and nothing is exempted.
	 */
	if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
		return false;
	}
	return (int64_t)now.tv_sec < (int64_t)DOTD_BUILD_EPOCH;
}

/* The build date as YYYY-MM-DD (UTC), for the log of an exempted connection. */
static const char *build_date(char buf[static 16])
{
	time_t t = (time_t)DOTD_BUILD_EPOCH;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, 16, "%Y-%m-%d", &tm) == 0) {
		snprintf(buf, 16, "@%lld", (long long)DOTD_BUILD_EPOCH);
	}
	return buf;
}

/*
 * Whether @err, as wolfSSL gives it to a verify callback, says that a certificate's dates do
 * not hold (OPENSSL_COMPATIBLE_DEFAULTS maps ASN_BEFORE_DATE_E to
 * X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, and so on). wolfSSL reports a date error only for
 * a certificate whose signature and issuer verified: a bad signature on a certificate out of
 * date comes as a signature failure, a missing issuer as such (clock.sh's forged intermediate
 * under the unset clock).
 */
static bool is_date_error(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
	case ASN_BEFORE_DATE_E:
	case ASN_AFTER_DATE_E:
		return true;
	}
	return false;
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
	if (tls_init() != 0) {
		return -ENOMEM;
	}
	x509 = wolfSSL_X509_d2i(NULL, der, (int)der_len);
	if (!x509) {
		return -EINVAL;
	}
	ret = pin_of_x509(x509, out);
	wolfSSL_X509_free(x509);
	return ret;
}

static bool pin_in_set(const struct tls_upstream *u, const uint8_t pin[TLS_PIN_LEN])
{
	for (size_t i = 0; i < u->n_pins; i++) {
		if (memcmp(u->pins[i], pin, TLS_PIN_LEN) == 0) {
			return true;
		}
	}
	return false;
}

static bool pin_matches(const struct tls_upstream *u, WOLFSSL_X509 *x509)
{
	uint8_t pin[TLS_PIN_LEN];

	return x509 && pin_of_x509(x509, pin) == 0 && pin_in_set(u, pin);
}

/* Whether the DER certificate @der is a CA certificate whose key is in @u's pin set. */
static bool der_is_pinned_ca(const struct tls_upstream *u, const uint8_t *der, unsigned len,
			     bool *pinned)
{
	WOLFSSL_X509 *x509 = wolfSSL_X509_d2i(NULL, der, (int)len);
	bool ca;

	*pinned = false;
	if (!x509) {
		return false;
	}
	*pinned = pin_matches(u, x509);
	ca = wolfSSL_X509_get_isCA(x509) == 1;
	wolfSSL_X509_free(x509);
	return ca;
}

static bool der_is_ca(const uint8_t *der, unsigned len)
{
	WOLFSSL_X509 *x509 = wolfSSL_X509_d2i(NULL, der, (int)len);
	bool ca;

	if (!x509) {
		return false;
	}
	ca = wolfSSL_X509_get_isCA(x509) == 1;
	wolfSSL_X509_free(x509);
	return ca;
}

/* A certificate manager's verify callback that forgives dates, and nothing else. */
static int on_verify_without_dates(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	return preverify || is_date_error(store->error);
}

/*
 * Verify the DER certificate @der (@len bytes) with @cm, its dates checked or not. The
 * callback is set for this call only: while one is set, wolfSSL_CertManagerLoadCABuffer()
 * consults it too, and keeps a CA certificate that failed even as it returns the failure
 * (seen with 5.5.4), so no load runs with one.
 */
static bool cm_verify(WOLFSSL_CERT_MANAGER *cm, const uint8_t *der, unsigned len, bool dates)
{
	bool ok;

	if (!dates) {
		wolfSSL_CertManagerSetVerify(cm, on_verify_without_dates);
	}
	ok = wolfSSL_CertManagerVerifyBuffer(cm, der, (long)len, WOLFSSL_FILETYPE_ASN1) ==
	     WOLFSSL_SUCCESS;
	if (!dates) {
		wolfSSL_CertManagerSetVerify(cm, NULL);
	}
	return ok;
}

/*
 * Whether the leaf @certs[0] verifies, through any of the other certificates the server sent
 * and in whatever order it sent them, to @anchor alone. A certificate manager of our own trusts
 * @anchor and nothing else; a presented CA certificate joins it once it verifies under what is
 * there already, until nothing more joins; then the leaf must verify (signatures, dates unless
 * @dates is false, CA constraints: wolfSSL_CertManagerVerifyBuffer). Loading a CA certificate
 * does not look at its dates. wolfSSL_CertManagerLoadCABuffer() accepts a certificate that is
 * no CA, so the callers check that the anchor is one.
 */
static bool tls_auth_path(const uint8_t *anchor, unsigned anchor_len,
			  const WOLFSSL_BUFFER_INFO *certs, int n, bool dates)
{
	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	bool joined[PATH_MAX_CERTS] = {false};
	bool progress = true, ok = false;

	if (!cm) {
		return false;
	}
	if (wolfSSL_CertManagerLoadCABuffer(cm, anchor, (long)anchor_len, WOLFSSL_FILETYPE_ASN1) !=
	    WOLFSSL_SUCCESS) {
		goto cleanup;
	}
	while (progress) {
		progress = false;
		for (int i = 1; i < n; i++) {
			if (joined[i] || !der_is_ca(certs[i].buffer, certs[i].length)) {
				continue;
			}
			if (cm_verify(cm, certs[i].buffer, certs[i].length, dates) &&
			    wolfSSL_CertManagerLoadCABuffer(
				    cm, certs[i].buffer, (long)certs[i].length,
				    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS) {
				joined[i] = true;
				progress = true;
			}
		}
	}
	ok = cm_verify(cm, certs[0].buffer, certs[0].length, dates);
cleanup:
	wolfSSL_CertManagerFree(cm);
	return ok;
}

/*
 * Whether the leaf verifies, through the CA certificates the server sent, to a trust anchor of
 * the store that issued one of the presented certificates (servers do not send the root they
 * chain to): any anchor, or with @pinned one whose key is in @u's pin set; the certificates'
 * dates checked or not (@dates).
 */
static bool path_to_store(const struct tls_upstream *u, WOLFSSL_X509_STORE_CTX *store, bool pinned,
			  bool dates)
{
	const WOLFSSL_BUFFER_INFO *certs = store->certs;
	int n = store->totalCerts < PATH_MAX_CERTS ? store->totalCerts : PATH_MAX_CERTS;

	if (!certs || n < 1) {
		return false;
	}
	for (int i = 0; i < n; i++) {
		WOLFSSL_X509 *x509 = wolfSSL_X509_d2i(NULL, certs[i].buffer, (int)certs[i].length);
		WOLFSSL_X509 *issuer = NULL;
		const unsigned char *der;
		int der_len = 0;
		bool found = false;

		if (!x509) {
			continue;
		}
		if (wolfSSL_X509_STORE_CTX_get1_issuer(&issuer, store, x509) == WOLFSSL_SUCCESS &&
		    issuer && issuer != x509 && wolfSSL_X509_get_isCA(issuer) == 1 &&
		    (!pinned || pin_matches(u, issuer))) {
			der = wolfSSL_X509_get_der(issuer, &der_len);
			found = der && der_len > 0 &&
				tls_auth_path(der, (unsigned)der_len, certs, n, dates);
		}
		if (issuer && issuer != x509) {
			wolfSSL_X509_free(issuer);
		}
		wolfSSL_X509_free(x509);
		if (found) {
			return true;
		}
	}
	return false;
}

/*
 * Where a pin matches (struct tls_auth_facts). The candidates for a CA pin are the CA
 * certificates the server sent and the trust anchors of the store that issued one of them
 * (servers do not send the root they chain to, and a pin on that root is the common case);
 * either counts only if the leaf verifies to it.
 */
static enum tls_pin_pos pin_position(const struct tls_upstream *u, WOLFSSL_X509_STORE_CTX *store)
{
	const WOLFSSL_BUFFER_INFO *certs = store->certs;
	int n = store->totalCerts < PATH_MAX_CERTS ? store->totalCerts : PATH_MAX_CERTS;
	enum tls_pin_pos pos = TLS_PIN_NONE;

	if (pin_matches(u, store->current_cert)) {
		return TLS_PIN_LEAF;
	}
	if (!certs || n < 1) {
		return TLS_PIN_NONE;
	}
	for (int i = 1; i < n; i++) {
		bool pinned;
		bool ca = der_is_pinned_ca(u, certs[i].buffer, certs[i].length, &pinned);

		if (!pinned) {
			continue;
		}
		pos = TLS_PIN_PRESENTED;
		if (ca && tls_auth_path(certs[i].buffer, certs[i].length, certs, n, true)) {
			return TLS_PIN_SIGNER;
		}
	}
	return path_to_store(u, store, true, true) ? TLS_PIN_SIGNER : pos;
}

/*
 * Whether the leaf @x509 is valid for @name (RFC 9525 §6.3, RFC 8310 §8.1): a DNS name against
 * the dNSName entries of its subjectAltName (tls_name_match_dns), an IP literal against its
 * iPAddress entries, byte for byte, and never the other way round. The subject's common name
 * is never used (RFC 9525 drops the CN-ID): wolfSSL's own check falls back to it when there is
 * no subjectAltName at all, and does DNS wildcard matching on the text of IP addresses.
 */
static bool leaf_name_matches(struct tls_auth *a, const char *name, WOLFSSL_X509 *x509)
{
	WOLFSSL_STACK *sans;
	uint8_t ip[16];
	size_t ip_len = 0;
	bool is_ip = tls_name_is_ip(name, ip, &ip_len);
	bool match = false;

	sans = x509 ? wolfSSL_X509_get_ext_d2i(x509, NID_subject_alt_name, NULL, NULL) : NULL;
	if (!sans) {
		a->no_san = true;
		return false;
	}
	for (int i = 0; i < wolfSSL_sk_GENERAL_NAME_num(sans) && !match; i++) {
		WOLFSSL_GENERAL_NAME *gn = wolfSSL_sk_GENERAL_NAME_value(sans, i);
		WOLFSSL_ASN1_STRING *v;

		if (!gn) {
			continue;
		}
		if (gn->type == ASN_DNS_TYPE && !is_ip) {
			v = gn->d.dNSName;
			match = v && v->length > 0 &&
				tls_name_match_dns((const char *)wolfSSL_ASN1_STRING_data(v),
						   (size_t)v->length, name);
		} else if (gn->type == ASN_IP_TYPE && is_ip) {
			/* wolfSSL keeps the raw 4 or 16 octets of the iPAddress here. */
			v = gn->d.iPAddress;
			match = v && (size_t)v->length == ip_len &&
				memcmp(wolfSSL_ASN1_STRING_data(v), ip, ip_len) == 0;
		}
	}
	wolfSSL_GENERAL_NAMES_free(sans);
	return match;
}

/* Whether the server's own certificate, the first it sent, has a key in @u's pin set. */
static bool leaf_pinned(const struct tls_upstream *u, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL_X509 *leaf;
	bool pinned;

	if (u->n_pins == 0 || !store->certs || store->totalCerts < 1) {
		return false;
	}
	leaf = wolfSSL_X509_d2i(NULL, store->certs[0].buffer, (int)store->certs[0].length);
	pinned = pin_matches(u, leaf);
	wolfSSL_X509_free(leaf);
	return pinned;
}

/* tls_unset_clock: accept_pinned applies now. */
static bool clock_exempt(const struct tls_upstream *u)
{
	return u->accept_pinned_unset_clock && tls_clock_unset();
}

/*
 * Called by wolfSSL for every certificate of the server's chain, from the top down to the
 * server's own (depth 0) last (WOLFSSL_VERIFY_CB_ALL_CERTS and WOLFSSL_ALWAYS_VERIFY_CB are
 * set in Debian's build). @preverify is wolfSSL's verdict on that certificate; the name is
 * ours to check (leaf_name_matches). We record, and decide at the leaf.
 *
 * A CA certificate that failed, and that this callback let through, would be added by wolfSSL
 * to the certificate manager of the context, which every connection shares (ProcessPeerCerts
 * in 5.5.4: "If valid CA then add to Certificate Manager", after the callback), unless the
 * build has WOLFSSL_ALT_CERT_CHAINS, which skips failed CAs. Debian's has; we do not count on
 * it: one refused handshake must not plant a trust anchor for all the others. So under the
 * strict profile such a failure aborts the handshake at once, even where a pin on the leaf
 * would have sufficed, but for a date error under the unset-clock exemption with the leaf's
 * key pinned (tls_auth_ca_defer()): such a CA verified in every other respect. (A CA that only
 * lacks an issuer comes here with @preverify 1 under alternate chains and is not added.) The
 * opportunistic profile uses every connection anyway, and the profile is the daemon's.
 */
int tls_auth_on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct tls_conn *c = store->userCtx;
	struct tls_upstream *u;
	struct tls_auth *a;
	int depth = store->error_depth;

	if (!c) {
		return 0;
	}
	u = c->up;
	a = &c->auth;
	if (!preverify && a->error == 0) {
		a->error = store->error;
		a->error_depth = depth;
	}
	if (depth != 0) {
		if (!preverify) {
			a->chain_ok = false;
			/*
			 * Under the exemption, a CA that failed on its dates (and so verified
			 * otherwise: signature, issuer) waits for the leaf's turn when the leaf's
			 * key is pinned; wolfSSL keeps no such CA (alternate chains), and one it
			 * kept would be genuine, sent by the server whose key we pinned.
			 */
			if (u->strict &&
			    tls_auth_ca_defer(clock_exempt(u), is_date_error(store->error),
					      leaf_pinned(u, store))) {
				a->facts.ca_deferred = true;
			} else if (u->strict) {
				a->decided = true;
				a->verdict = TLS_AUTH_FAIL_PKIX;
				return 0;
			}
		}
		return 1; /* decide at the leaf, when the whole chain has been seen */
	}
	a->facts.has_name = u->auth_name != NULL;
	a->facts.has_pins = u->n_pins > 0;
	/* No wolfSSL_check_domain_name(): @preverify is the chain's verdict alone. */
	a->facts.pkix_ok = u->client->has_anchors && a->chain_ok && preverify;
	a->facts.name_ok = u->auth_name && leaf_name_matches(a, u->auth_name, store->current_cert);
	a->facts.pin = u->n_pins > 0 ? pin_position(u, store) : TLS_PIN_NONE;
	a->facts.clock_exempt = clock_exempt(u);
	/* Our own path, without dates, only where it can change the verdict (name and pins). */
	a->facts.dates_only = a->facts.clock_exempt && !a->facts.pkix_ok && a->facts.name_ok &&
			      a->facts.pin == TLS_PIN_LEAF && u->client->has_anchors &&
			      path_to_store(u, store, false, false);
	a->verdict = tls_auth_decide(&a->facts);
	if (a->verdict == TLS_AUTH_OK_UNSET_CLOCK) {
		/*
		 * Authenticated, and marked: tls_conn.c knows TLS_AUTH_OK alone, and what sets
		 * this connection apart (no session kept, closed once the clock is set) is
		 * tls_ctx.c's and tls_upstream_clock_changed()'s to honour.
		 */
		a->clock_exempt = true;
		a->verdict = TLS_AUTH_OK;
	}
	a->decided = true;
	if (a->verdict != TLS_AUTH_OK && u->strict) {
		return 0; /* abort the handshake with an alert */
	}
	return 1;
}

int tls_auth_setup(struct tls_conn *c)
{
	const struct tls_upstream *u = c->up;

	memset(&c->auth, 0, sizeof(c->auth));
	c->auth.chain_ok = true;
	wolfSSL_SetCertCbCtx(c->tls.ssl, c);
	/*
	 * RFC 8310 §8.1: the name is sent as SNI, but never an IP literal (RFC 6066 §3). It is
	 * checked by the verify callback, not by wolfSSL_check_domain_name() (see
	 * leaf_name_matches()).
	 */
	if (u->auth_name && !tls_name_is_ip(u->auth_name, NULL, NULL) &&
	    wolfSSL_UseSNI(c->tls.ssl, WOLFSSL_SNI_HOST_NAME, u->auth_name,
			   (unsigned short)strlen(u->auth_name)) != WOLFSSL_SUCCESS) {
		return -ENOMEM;
	}
	return 0;
}

/*
 * What went wrong with a certificate, in words. wolfSSL_X509_verify_cert_error_string() knows
 * neither the X509_V_ERR_* values wolfSSL gives the callback (OPENSSL_COMPATIBLE_DEFAULTS maps
 * the common ones: GetX509Error()) nor its own negative codes for the rest ("unknown error
 * number"), so the usual ones are named here.
 */
static const char *cert_error_string(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
	case ASN_AFTER_DATE_E:
		return "certificate expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case ASN_BEFORE_DATE_E:
		return "certificate not yet valid";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case ASN_NO_SIGNER_E:
		return "unknown issuer (no trust anchor signed the chain)";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case ASN_SELF_SIGNED_E:
		return "self-signed certificate not among the trust anchors";
	case X509_V_ERR_INVALID_CA:
		return "invalid CA certificate";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case ASN_SIG_CONFIRM_E:
	case ASN_SIG_OID_E:
	case ASN_SIG_HASH_E:
	case ASN_SIG_KEY_E:
		return "signature failure";
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case ASN_PATHLEN_INV_E:
	case ASN_PATHLEN_SIZE_E:
		return "path length constraint exceeded";
	case DOMAIN_NAME_MISMATCH:
	case IPADDR_MISMATCH:
		return "name mismatch";
	}
	return wolfSSL_ERR_reason_error_string((unsigned long)err);
}

bool tls_auth_check(struct tls_conn *c)
{
	struct tls_upstream *u = c->up;
	struct tls_auth *a = &c->auth;
	const char *profile = u->strict ? "strict" : "opportunistic";
	int level;

	if (wolfSSL_session_reused(c->tls.ssl)) {
		/*
		 * A resumed session carries the authentication of the handshake that made it;
		 * sessions are only ever offered to the upstream they came from, and only
		 * authenticated connections store them (tls_ctx.c).
		 */
		a->authenticated = true;
		return true;
	}
	if (a->decided && a->verdict == TLS_AUTH_OK && a->clock_exempt) {
		char date[16];

		/* Loud: an operator must see that certificate dates were not checked. */
		a->authenticated = true;
		log_warn(LOG_TLS,
			 "upstream '%s': accepted on its pin alone: the system clock is unset "
			 "(before the build date %s); certificate dates not checked (%s at depth "
			 "%d; tls_unset_clock: accept_pinned, %s profile)",
			 u->name, build_date(date), cert_error_string(a->error), a->error_depth,
			 profile);
		return true;
	}
	if (a->decided && a->verdict == TLS_AUTH_OK) {
		a->authenticated = true;
		log_debug(LOG_TLS, "upstream '%s': authenticated (%s%s%s)", u->name,
			  u->auth_name ? "name" : "", u->auth_name && u->n_pins ? " and " : "",
			  u->n_pins ? a->facts.pin == TLS_PIN_LEAF ? "pin on the server's key"
								   : "pin on a CA of the path"
				    : "");
		return true;
	}
	/* A refusal while backed off is a repeat, one per query (tls_upstream_failure_level()). */
	level = u->strict ? tls_upstream_failure_level(u) : LOG_WARNING;
	if (!a->decided) {
		log_msg(level, LOG_TLS, "upstream '%s': no certificate was verified (%s profile)",
			u->name, profile);
	} else if (a->verdict == TLS_AUTH_FAIL_PKIX && a->error) {
		log_msg(level, LOG_TLS,
			"upstream '%s': certificate verification failed at depth %d: %s (%s "
			"profile)",
			u->name, a->error_depth, cert_error_string(a->error), profile);
	} else if (a->verdict == TLS_AUTH_FAIL_PKIX) {
		log_msg(level, LOG_TLS,
			"upstream '%s': certificate not verified: no trust anchors (%s "
			"profile)",
			u->name, profile);
	} else if (a->verdict == TLS_AUTH_FAIL_NAME) {
		log_msg(level, LOG_TLS,
			"upstream '%s': name mismatch: the certificate is not valid for '%s'%s "
			"(%s profile)",
			u->name, u->auth_name,
			a->no_san ? " (it has no subjectAltName, and the common name is not used)"
				  : "",
			profile);
	} else {
		log_msg(level, LOG_TLS, "upstream '%s': %s (%s profile)", u->name,
			tls_auth_verdict_str(a->verdict), profile);
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

void tls_upstream_clock_changed(struct tls_upstream *u)
{
	const char *why = u->accept_pinned_unset_clock
				  ? "the clock has been set"
				  : "tls_unset_clock is no longer accept_pinned";

	if (u->plain || u->closing || clock_exempt(u)) {
		return;
	}
	/*
	 * tls_conn_abort() only starts the close: the connection stays in the list until its
	 * last close callback, and its queries learn from there (TLS_ERR_LOST: those written on
	 * it once ready go once more to a fresh connection, verified in full this time).
	 */
	for (struct tls_conn *c = u->conns; c; c = c->next) {
		if (!c->auth.clock_exempt || c->state >= TLS_CONN_CLOSED) {
			continue;
		}
		log_notice(
			LOG_TLS,
			"upstream '%s': closing a connection accepted on its pin alone while the "
			"clock was unset: %s",
			u->name, why);
		tls_conn_abort(c, TLS_ERR_LOST);
	}
}
