/*
 * tls_policy: the authentication decision of an upstream (RFC 8310 §8, RFC 7858 §4.2) as pure
 * functions of what the handshake found, and the matching of an authentication name against
 * a certificate's subjectAltName entries (RFC 9525 §6.3). No wolfSSL, no I/O: tls_auth.c
 * gathers the facts from wolfSSL, and tests/unit/test_tls_auth.c checks every row of the
 * table in docs/ARCHITECTURE.md ("Authentication") without a handshake.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Where a key of the pin set was found, weakest first. */
enum tls_pin_pos {
	TLS_PIN_NONE,	   /**< no certificate the server sent, nor its anchor, matches */
	TLS_PIN_PRESENTED, /**< a certificate the server sent matches, but it signs no path to
				the leaf: it was merely appended, which anyone can do */
	TLS_PIN_SIGNER,	   /**< a CA certificate that matches signs the leaf, directly or through
				intermediates that verify under it (a verified path) */
	TLS_PIN_LEAF,	   /**< the server's own key matches */
};

/** What one handshake found, and what the upstream's configuration asks for. */
struct tls_auth_facts {
	bool has_name;	      /**< configured: tls_auth_name */
	bool has_pins;	      /**< configured: tls_pubkey_pinset */
	bool pkix_ok;	      /**< the leaf verifies to a trust anchor of the store (signatures,
				   dates, CA constraints on the path wolfSSL built) */
	bool name_ok;	      /**< the leaf's subjectAltName matches the name (RFC 9525 §6.3) */
	enum tls_pin_pos pin; /**< the strongest position of a pin match */
	bool clock_exempt;    /**< tls_unset_clock: accept_pinned is configured, and the system
				   clock is before the build date (tls_clock_unset()) */
	bool dates_only;      /**< the chain does not verify for its dates alone: with the dates
				   of its certificates not checked, the leaf verifies to a trust
				   anchor of the store (tls_auth.c looks only under clock_exempt) */
	bool ca_deferred;     /**< a CA certificate above the leaf failed on its dates, and the
				   strict profile went on to the leaf's turn rather than abort
				   (tls_auth_ca_defer()) */
};

/**
 * The outcome; everything but TLS_AUTH_OK and TLS_AUTH_OK_UNSET_CLOCK says why the upstream is
 * not authenticated.
 */
enum tls_auth_verdict {
	TLS_AUTH_OK,
	TLS_AUTH_NOT_CONFIGURED,   /**< neither name nor pins (opportunistic profile only) */
	TLS_AUTH_FAIL_PKIX,	   /**< a name is set, and the chain does not verify */
	TLS_AUTH_FAIL_NAME,	   /**< a name is set, and the certificate is for another */
	TLS_AUTH_FAIL_PIN,	   /**< pins are set, and no key matches */
	TLS_AUTH_FAIL_PIN_NO_PATH, /**< pins are set, and the only match signs no path */
	TLS_AUTH_OK_UNSET_CLOCK,   /**< accepted on the leaf's pin alone while the clock is
					unset: certificate dates not checked (tls_unset_clock) */
};

/**
 * The decision (docs/ARCHITECTURE.md, "Authentication"):
 *   name only      pkix_ok and name_ok;
 *   pins only      the pin is the leaf's, or a CA's on a verified path to the leaf (that CA is
 *                  then the trust anchor: no store is needed);
 *   name and pins  both of the above, as Stubby does;
 * a pin on a certificate the server sent but that signs nothing on the path never counts.
 *
 * While the clock is unset (clock_exempt), what fails only for the dates of certificates is
 * TLS_AUTH_OK_UNSET_CLOCK when the server's own key is pinned (TLS_PIN_LEAF: a key matches
 * whatever the date; a CA pin counts only on a path verified with dates): pins only, although
 * a CA above the leaf failed on its dates (ca_deferred); name and pins, when the name matches
 * (the subjectAltName does not depend on dates either) and the chain fails for dates alone
 * (dates_only). A name alone never qualifies, nor does any failure other than dates; a pinned
 * leaf for another name then fails as TLS_AUTH_FAIL_NAME, the failure that was not forgiven.
 */
enum tls_auth_verdict tls_auth_decide(const struct tls_auth_facts *f);

/**
 * Under the strict profile, a CA certificate above the leaf that fails verification aborts the
 * handshake at once (tls_auth.c says why), unless this says that it may wait for the leaf's
 * turn: the clock is unset and the exemption configured (@clock_exempt), the failure is one of
 * dates (@date_error), and the server's own key is in the pin set (@leaf_pinned).
 */
bool tls_auth_ca_defer(bool clock_exempt, bool date_error, bool leaf_pinned);

/** A short text for logs: "name mismatch", "no key matches the pin set", ... */
const char *tls_auth_verdict_str(enum tls_auth_verdict v);

/**
 * Whether the DNS-ID @pattern (@len bytes, from a subjectAltName dNSName, not NUL-terminated)
 * matches the host name @name (NUL-terminated, no trailing dot), RFC 9525 §6.3: case-insensitive
 * comparison; a wildcard only as the whole leftmost label, matching exactly one non-empty label,
 * and only with at least two labels after it (so "*.test" or "*.com" match nothing, as OpenSSL
 * and browsers do). Partial wildcards ("d*.test") and wildcards elsewhere match nothing, and
 * an IP literal @name matches no DNS-ID at all.
 */
bool tls_name_match_dns(const char *pattern, size_t len, const char *name);

/**
 * Whether @name is an IP address literal (IPv4 dotted quad or IPv6); if so, and @out is not
 * NULL, its 4 or 16 bytes go to @out and their count to @out_len.
 */
bool tls_name_is_ip(const char *name, uint8_t out[16], size_t *out_len);
