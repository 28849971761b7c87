/*
 * tls_policy: the pure half of authentication. Given what the handshake found (tls_auth.c
 * walks the chain with wolfSSL), decide whether the upstream is authenticated, and match a
 * name against subjectAltName entries. Nothing here keeps state or calls a library, so every
 * row of the decision table is a unit test (tests/unit/test_tls_auth.c).
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "tls_policy.h"

/* The decision with every date checked: RFC 8310 §8 and RFC 7858 §4.2. */
static enum tls_auth_verdict decide_verified(const struct tls_auth_facts *f)
{
	if (f->has_name) {
		/* RFC 8310 §8.1: the name is only as good as the chain that vouches for it. */
		if (!f->pkix_ok) {
			return TLS_AUTH_FAIL_PKIX;
		}
		if (!f->name_ok) {
			return TLS_AUTH_FAIL_NAME;
		}
	}
	if (f->has_pins) {
		/*
		 * RFC 7858 §4.2: a pin on the leaf needs no CA at all. A pin on a CA counts only
		 * when that CA signs the path to the leaf: its certificate is public, and any
		 * server can append it to a chain of its own.
		 */
		if (f->pin == TLS_PIN_PRESENTED) {
			return TLS_AUTH_FAIL_PIN_NO_PATH;
		}
		if (f->pin == TLS_PIN_NONE) {
			return TLS_AUTH_FAIL_PIN;
		}
	}
	return TLS_AUTH_OK;
}

/*
 * Whether what failed may be accepted while the clock is unset (tls_unset_clock:
 * accept_pinned). A router has no clock until NTP runs, NTP needs DNS, and every certificate
 * is "not yet valid" until then (openwrt/packages #19531, #21318). The server's own key
 * matching a pin does not depend on the date; nor does its subjectAltName. What the exemption
 * gives up is the dates alone: a pinned key whose certificate expired is accepted while the
 * clock is unset. A CA pin does not qualify: without dates it would accept every certificate
 * that CA ever signed, for retired and leaked keys too, where a leaf pin accepts one key.
 */
static bool unset_clock_ok(const struct tls_auth_facts *f)
{
	if (!f->clock_exempt || !f->has_pins || f->pin != TLS_PIN_LEAF) {
		return false;
	}
	return !f->has_name || (f->name_ok && (f->pkix_ok || f->dates_only));
}

enum tls_auth_verdict tls_auth_decide(const struct tls_auth_facts *f)
{
	enum tls_auth_verdict v;

	if (!f->has_name && !f->has_pins) {
		return TLS_AUTH_NOT_CONFIGURED;
	}
	v = decide_verified(f);
	if (v == TLS_AUTH_OK && !f->ca_deferred) {
		return TLS_AUTH_OK;
	}
	if (unset_clock_ok(f)) {
		return TLS_AUTH_OK_UNSET_CLOCK;
	}
	/* The dates would have been forgiven, the name is not: say so rather than the chain. */
	if (f->clock_exempt && f->has_name && f->has_pins && f->pin == TLS_PIN_LEAF &&
	    !f->name_ok) {
		return TLS_AUTH_FAIL_NAME;
	}
	/* A CA that failed on its dates fails the chain, once the exemption does not apply. */
	return v == TLS_AUTH_OK ? TLS_AUTH_FAIL_PKIX : v;
}

bool tls_auth_ca_defer(bool clock_exempt, bool date_error, bool leaf_pinned)
{
	return clock_exempt && date_error && leaf_pinned;
}

const char *tls_auth_verdict_str(enum tls_auth_verdict v)
{
	switch (v) {
	case TLS_AUTH_OK:
		return "authenticated";
	case TLS_AUTH_NOT_CONFIGURED:
		return "neither a name nor pins to authenticate with";
	case TLS_AUTH_FAIL_PKIX:
		return "certificate chain not verified";
	case TLS_AUTH_FAIL_NAME:
		return "name mismatch";
	case TLS_AUTH_FAIL_PIN:
		return "no key in the certificate chain matches the pin set";
	case TLS_AUTH_FAIL_PIN_NO_PATH:
		return "the pinned CA certificate was sent but does not sign the server's "
		       "certificate";
	case TLS_AUTH_OK_UNSET_CLOCK:
		return "accepted on its pin alone: the system clock is unset; certificate dates "
		       "not checked";
	}
	return "unknown";
}

/* Compare @n bytes case-insensitively (ASCII only: A-labels, RFC 9525 §6.3). */
static bool same_ci(const char *a, const char *b, size_t n)
{
	return strncasecmp(a, b, n) == 0;
}

bool tls_name_match_dns(const char *pattern, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	const char *dot, *pdot;
	size_t rest_len;

	if (len == 0 || name_len == 0 || memchr(pattern, 0, len)) {
		return false;
	}
	/* An IP literal is matched against iPAddress entries only, never by DNS rules. */
	if (tls_name_is_ip(name, NULL, NULL)) {
		return false;
	}
	/* A presented identifier may be written absolute; ours never is (config strips it). */
	if (pattern[len - 1] == '.') {
		len--;
	}
	if (len == 0) {
		return false;
	}
	if (pattern[0] != '*') {
		return !memchr(pattern, '*', len) && len == name_len && same_ci(pattern, name, len);
	}
	/* "*." then at least two labels, no other '*' (RFC 9525 §6.3 and §7.1). */
	if (len < 3 || pattern[1] != '.' || memchr(pattern + 1, '*', len - 1)) {
		return false;
	}
	pdot = memchr(pattern + 2, '.', len - 2);
	if (!pdot || pdot == pattern + 2 || pdot == pattern + len - 1) {
		return false;
	}
	/* The wildcard takes exactly the first label of the name, which must not be empty. */
	dot = strchr(name, '.');
	if (!dot || dot == name) {
		return false;
	}
	rest_len = name_len - (size_t)(dot - name);
	return rest_len == len - 1 && same_ci(pattern + 1, dot, rest_len);
}

bool tls_name_is_ip(const char *name, uint8_t out[16], size_t *out_len)
{
	uint8_t buf[16];

	if (inet_pton(AF_INET, name, buf) == 1) {
		if (out) {
			memcpy(out, buf, 4);
			*out_len = 4;
		}
		return true;
	}
	if (inet_pton(AF_INET6, name, buf) == 1) {
		if (out) {
			memcpy(out, buf, 16);
			*out_len = 16;
		}
		return true;
	}
	return false;
}
