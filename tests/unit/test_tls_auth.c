/*
 * test_tls_auth: the authentication decision (tls/tls_policy.c) as a table, without a
 * handshake: every configuration (name, pins, both) against every combination of what a
 * handshake can find (chain verified to the store or not, name matched or not, where a pin
 * matched). The same table, through real handshakes, is tests/integration/auth.sh; both are in
 * docs/ARCHITECTURE.md ("Authentication"). Then the unset clock (tls_unset_clock:
 * accept_pinned) as a second table, whose handshakes are tests/integration/clock.sh; the
 * matching of names against subjectAltName entries (RFC 9525 §6.3) and the recognition of IP
 * literals.
 */
#include <stdio.h>
#include <string.h>

#include "tls_policy.h"
#include "unit.h"

#define OK	  TLS_AUTH_OK
#define NOCONF	  TLS_AUTH_NOT_CONFIGURED
#define F_PKIX	  TLS_AUTH_FAIL_PKIX
#define F_NAME	  TLS_AUTH_FAIL_NAME
#define F_PIN	  TLS_AUTH_FAIL_PIN
#define F_NOPATH  TLS_AUTH_FAIL_PIN_NO_PATH
#define OK_CLOCK  TLS_AUTH_OK_UNSET_CLOCK
#define NONE	  TLS_PIN_NONE
#define PRESENTED TLS_PIN_PRESENTED
#define SIGNER	  TLS_PIN_SIGNER
#define LEAF	  TLS_PIN_LEAF

struct decide_row {
	const char *what;
	bool has_name, has_pins, pkix_ok, name_ok;
	enum tls_pin_pos pin;
	enum tls_auth_verdict expect;
};

/* configuration | chain verified | name matched | pin position => verdict */
static const struct decide_row decide_rows[] = {
	/* Name only: the chain and the name; pins play no part. */
	{"name: verified, matching", true, false, true, true, NONE, OK},
	{"name: verified, other name", true, false, true, false, NONE, F_NAME},
	{"name: not verified, matching", true, false, false, true, NONE, F_PKIX},
	{"name: not verified, other name", true, false, false, false, NONE, F_PKIX},

	/* Pins only: the leaf's key, or a CA on the verified path; the store is not needed. */
	{"pin: leaf, chain verified", false, true, true, false, LEAF, OK},
	{"pin: leaf, no CA at all (RFC 7858 §4.2)", false, true, false, false, LEAF, OK},
	{"pin: CA signing the path, chain verified", false, true, true, false, SIGNER, OK},
	{"pin: CA signing the path, not in the store", false, true, false, false, SIGNER, OK},
	{"pin: CA appended, not signing, chain verified", false, true, true, false, PRESENTED,
	 F_NOPATH},
	{"pin: CA appended, not signing, not verified", false, true, false, false, PRESENTED,
	 F_NOPATH},
	{"pin: no match, chain verified", false, true, true, true, NONE, F_PIN},
	{"pin: no match, not verified", false, true, false, false, NONE, F_PIN},

	/* Name and pins: everything of both (Stubby's rule). */
	{"name+pin: verified, matching, leaf", true, true, true, true, LEAF, OK},
	{"name+pin: verified, matching, CA on the path", true, true, true, true, SIGNER, OK},
	{"name+pin: verified, matching, CA appended (another CA signed)", true, true, true, true,
	 PRESENTED, F_NOPATH},
	{"name+pin: verified, matching, no pin", true, true, true, true, NONE, F_PIN},
	{"name+pin: verified, other name, leaf", true, true, true, false, LEAF, F_NAME},
	{"name+pin: not verified, matching, leaf", true, true, false, true, LEAF, F_PKIX},
	{"name+pin: not verified, matching, CA on the path", true, true, false, true, SIGNER,
	 F_PKIX},
	{"name+pin: not verified, other name, no pin", true, true, false, false, NONE, F_PKIX},

	/* Neither: nothing can authenticate (only the opportunistic profile allows it). */
	{"neither: verified", false, false, true, true, LEAF, NOCONF},
	{"neither: not verified", false, false, false, false, NONE, NOCONF},
};

static void test_decide_table(void)
{
	for (size_t i = 0; i < sizeof(decide_rows) / sizeof(decide_rows[0]); i++) {
		const struct decide_row *r = &decide_rows[i];
		struct tls_auth_facts f = {
			.has_name = r->has_name,
			.has_pins = r->has_pins,
			.pkix_ok = r->pkix_ok,
			.name_ok = r->name_ok,
			.pin = r->pin,
		};
		enum tls_auth_verdict v = tls_auth_decide(&f);

		if (v != r->expect) {
			printf("\n  row '%s': got %d (%s), expected %d (%s)", r->what, v,
			       tls_auth_verdict_str(v), r->expect, tls_auth_verdict_str(r->expect));
		}
		CU_ASSERT_EQUAL(v, r->expect);
	}
}

struct clock_row {
	const char *what;
	bool has_name, has_pins, pkix_ok, name_ok;
	enum tls_pin_pos pin;
	bool clock_exempt, dates_only, ca_deferred;
	enum tls_auth_verdict expect;
};

#define T true
#define F false

/*
 * The unset clock: configuration | chain verified | name matched | pin position | exemption
 * applies (accept_pinned and the clock before the build date) | the chain fails for dates
 * alone | a CA above the leaf failed on its dates and the strict profile went on => verdict.
 * Only the server's own key counts, with the name if one is set; nothing but dates is forgiven.
 */
static const struct clock_row clock_rows[] = {
	/* Accepted on the leaf's pin while the clock is unset. */
	{"pin: leaf, a CA failed on its dates", F, T, F, F, LEAF, T, F, T, OK_CLOCK},
	{"name+pin: leaf, name matches, dates alone fail", T, T, F, T, LEAF, T, T, F, OK_CLOCK},
	{"name+pin: leaf, name matches, a CA failed on its dates", T, T, F, T, LEAF, T, T, T,
	 OK_CLOCK},

	/* No exemption needed: nothing changes, and the connection is not marked. */
	{"pin: leaf alone, out of date (a leaf pin never looks at its dates)", F, T, F, F, LEAF, T,
	 F, F, OK},
	{"name+pin: leaf, all verified", T, T, T, T, LEAF, T, F, F, OK},
	{"name: all verified", T, F, T, T, NONE, T, F, F, OK},

	/* Hostile or not covered: refused as with the clock set. */
	{"pin: another key, dates wrong", F, T, F, F, NONE, T, T, F, F_PIN},
	{"pin: another key, a CA failed on its dates", F, T, F, F, NONE, T, F, T, F_PIN},
	{"pin: CA, its path out of date (so merely presented)", F, T, F, F, PRESENTED, T, T, F,
	 F_NOPATH},
	{"pin: CA signing the path, a CA failed on its dates", F, T, F, F, SIGNER, T, T, T, F_PKIX},
	{"name+pin: CA signing the path, dates alone fail", T, T, F, T, SIGNER, T, T, F, F_PKIX},
	{"name: dates alone fail", T, F, F, T, NONE, T, T, F, F_PKIX},
	/* The dates would be forgiven, so the name is what the log must say. */
	{"name+pin: leaf, other name, dates alone fail", T, T, F, F, LEAF, T, T, F, F_NAME},
	{"name+pin: leaf, other name, a CA failed on its dates", T, T, F, F, LEAF, T, F, T, F_NAME},
	{"name+pin: leaf, other name, clock set", T, T, F, F, LEAF, F, T, F, F_PKIX},
	{"name+pin: leaf, name matches, more than dates fail (issuer, signature)", T, T, F, T, LEAF,
	 T, F, F, F_PKIX},
	{"pin: leaf, a CA failed on its dates, clock set or not configured", F, T, F, F, LEAF, F, F,
	 T, F_PKIX},
	{"name+pin: leaf, name matches, dates alone fail, clock set or not configured", T, T, F, T,
	 LEAF, F, T, F, F_PKIX},
	{"neither: clock unset", F, F, F, F, NONE, T, T, F, NOCONF},
};

static void test_clock_table(void)
{
	for (size_t i = 0; i < sizeof(clock_rows) / sizeof(clock_rows[0]); i++) {
		const struct clock_row *r = &clock_rows[i];
		struct tls_auth_facts f = {
			.has_name = r->has_name,
			.has_pins = r->has_pins,
			.pkix_ok = r->pkix_ok,
			.name_ok = r->name_ok,
			.pin = r->pin,
			.clock_exempt = r->clock_exempt,
			.dates_only = r->dates_only,
			.ca_deferred = r->ca_deferred,
		};
		enum tls_auth_verdict v = tls_auth_decide(&f);

		if (v != r->expect) {
			printf("\n  row '%s': got %d (%s), expected %d (%s)", r->what, v,
			       tls_auth_verdict_str(v), r->expect, tls_auth_verdict_str(r->expect));
		}
		CU_ASSERT_EQUAL(v, r->expect);
	}
}

/*
 * A CA certificate above the leaf that failed waits for the leaf's turn only for a date
 * error, under the exemption, with the leaf's key pinned: every other combination aborts.
 */
static void test_ca_defer(void)
{
	for (int m = 0; m < 8; m++) {
		bool exempt = m & 1, date = m & 2, pinned = m & 4;

		CU_ASSERT_EQUAL(tls_auth_ca_defer(exempt, date, pinned), m == 7);
	}
}

/* Every verdict has its own words for the log. */
static void test_verdict_strings(void)
{
	for (int v = TLS_AUTH_OK; v <= TLS_AUTH_OK_UNSET_CLOCK; v++) {
		for (int w = v + 1; w <= TLS_AUTH_OK_UNSET_CLOCK; w++) {
			CU_ASSERT_STRING_NOT_EQUAL(tls_auth_verdict_str(v),
						   tls_auth_verdict_str(w));
		}
	}
}

struct name_row {
	const char *pattern; /* the dNSName of a subjectAltName */
	const char *name;    /* tls_auth_name, normalised */
	bool expect;
};

static const struct name_row name_rows[] = {
	{"dot.test", "dot.test", true},
	{"DOT.Test", "dot.TEST", true},
	{"dot.test.", "dot.test", true}, /* an absolute presented identifier */
	{"dot.test", "other.test", false},
	{"dot.test", "dot.test.example", false},
	{"dot.test-other", "dot.test", false},
	{"ot.test", "dot.test", false},
	/* RFC 9525 §6.3: the wildcard is the whole leftmost label and matches exactly one. */
	{"*.dns.test", "dot.dns.test", true},
	{"*.DNS.test", "Dot.dns.TEST", true},
	{"*.dns.test", "dns.test", false},
	{"*.dns.test", "a.dot.dns.test", false},
	{"*.dns.test", ".dns.test", false},
	/* ... with at least two labels after it: *.test would cover a whole top-level domain. */
	{"*.test", "dot.test", false},
	{"*.", "dot.test", false},
	{"*", "test", false},
	/* Partial and inner wildcards are refused. */
	{"d*.dns.test", "dot.dns.test", false},
	{"*t.dns.test", "dot.dns.test", false},
	{"dot.*.test", "dot.dns.test", false},
	{"*.*.test", "dot.dns.test", false},
	{"**.dns.test", "dot.dns.test", false},
	/* A DNS-ID never matches an IP literal by DNS rules (RFC 9525 §6.3). */
	{"*.0.0.1", "127.0.0.1", false},
	{"", "dot.test", false},
};

static void test_name_match(void)
{
	for (size_t i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++) {
		const struct name_row *r = &name_rows[i];
		bool got = tls_name_match_dns(r->pattern, strlen(r->pattern), r->name);

		if (got != r->expect) {
			printf("\n  '%s' vs '%s': got %d", r->pattern, r->name, got);
		}
		CU_ASSERT_EQUAL(got, r->expect);
	}
	/* An embedded NUL never matches (a classic of certificate forgery). */
	CU_ASSERT_FALSE(tls_name_match_dns("dot.test\0.evil", 14, "dot.test"));
}

static void test_name_is_ip(void)
{
	uint8_t ip[16] = {0};
	size_t len = 0;

	CU_ASSERT_TRUE(tls_name_is_ip("127.0.0.1", ip, &len));
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT_EQUAL(ip[0], 127);
	CU_ASSERT_EQUAL(ip[3], 1);
	CU_ASSERT_TRUE(tls_name_is_ip("2620:fe::fe", ip, &len));
	CU_ASSERT_EQUAL(len, 16);
	CU_ASSERT_EQUAL(ip[0], 0x26);
	CU_ASSERT_EQUAL(ip[15], 0xfe);
	CU_ASSERT_TRUE(tls_name_is_ip("::1", NULL, NULL));
	CU_ASSERT_FALSE(tls_name_is_ip("dns.quad9.net", NULL, NULL));
	CU_ASSERT_FALSE(tls_name_is_ip("9.9.9", NULL, NULL));
	CU_ASSERT_FALSE(tls_name_is_ip("1.1.1.1.in-addr.arpa", NULL, NULL));
	/* Out-parameters stay as they were when the answer is no. */
	len = 99;
	CU_ASSERT_FALSE(tls_name_is_ip("dot.test", ip, &len));
	CU_ASSERT_EQUAL(len, 99);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"decision table", test_decide_table},
		{"decision table, the clock unset", test_clock_table},
		{"a CA failing above the leaf under the exemption", test_ca_defer},
		{"verdict strings", test_verdict_strings},
		{"names against subjectAltName dNSName", test_name_match},
		{"IP literals", test_name_is_ip},
		CU_TEST_INFO_NULL,
	};

	return unit_run("tls_auth", tests);
}
