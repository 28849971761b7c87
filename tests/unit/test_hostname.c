/*
 * test_hostname: what resolver/hostname.c takes from an answer to a host name upstream's A or
 * AAAA lookup, on answers written by ldns (an independent encoder, which compresses names):
 * the addresses of the name and of the end of its CNAME chain, with the upstream's port and the
 * smallest TTL of the records used; records of other names, types, classes and sections
 * ignored, however they are placed; loops and long chains refused; RCODEs and truncation; and
 * the clamp of the TTL and the retry delays. The lookups themselves, over TLS and bootstrap, on
 * a real loop against real servers, are tests/integration/hostup.sh.
 */
#include <arpa/inet.h>
#include <stdbool.h> /* first: without it ldns/common.h makes bool a signed char */
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "hostname.h"
#include "unit.h"

#define PORT 853

struct wire {
	uint8_t *buf;
	size_t len;
};

static void push(ldns_pkt *pkt, ldns_pkt_section section, const char *const *rrs)
{
	for (; rrs && *rrs; rrs++) {
		ldns_rr *r = NULL;

		CU_ASSERT_FATAL(ldns_rr_new_frm_str(&r, *rrs, 0, NULL, NULL) == LDNS_STATUS_OK);
		ldns_pkt_push_rr(pkt, section, r);
	}
}

/* The answer to @name @type with @rcode and these records in each section (NULL-ended). */
static struct wire answer(const char *name, ldns_rr_type type, ldns_pkt_rcode rcode,
			  const char *const *an, const char *const *ns, const char *const *ar)
{
	ldns_pkt *pkt = NULL;
	struct wire w = {0};

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&pkt, name, type, LDNS_RR_CLASS_IN, LDNS_RD) ==
			LDNS_STATUS_OK);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_ra(pkt, true);
	ldns_pkt_set_rcode(pkt, rcode);
	push(pkt, LDNS_SECTION_ANSWER, an);
	push(pkt, LDNS_SECTION_AUTHORITY, ns);
	push(pkt, LDNS_SECTION_ADDITIONAL, ar);
	CU_ASSERT_FATAL(ldns_pkt2wire(&w.buf, pkt, &w.len) == LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	return w;
}

/* Parse @w, free it, and return what hostname_answer_parse() returned. */
static int parse(struct wire w, struct hostname_found *f)
{
	int ret;

	memset(f, 0xa5, sizeof(*f)); /* what is not written shows */
	ret = hostname_answer_parse(w.buf, w.len, htons(PORT), f);
	free(w.buf);
	return ret;
}

/* Address @i of @f as text, checking its port. */
static const char *addr(const struct hostname_found *f, size_t i)
{
	static char text[INET6_ADDRSTRLEN];
	const struct sockaddr_storage *ss = &f->addrs[i];

	CU_ASSERT_FATAL(i < f->n_addrs);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		CU_ASSERT_EQUAL(ntohs(a->sin_port), PORT);
		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;

		CU_ASSERT_EQUAL(ss->ss_family, AF_INET6);
		CU_ASSERT_EQUAL(ntohs(a->sin6_port), PORT);
		inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
	}
	return text;
}

/* Two A records of the name: both, in order, with the port; the smaller TTL. */
static void test_a(void)
{
	static const char *const an[] = {
		"dns.quad9.net. 3600 IN A 9.9.9.9",
		"dns.quad9.net. 1200 IN A 149.112.112.112",
		NULL,
	};
	struct hostname_found f;

	CU_ASSERT_EQUAL_FATAL(
		parse(answer("dns.quad9.net.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL),
		      &f),
		0);
	CU_ASSERT_EQUAL_FATAL(f.n_addrs, 2);
	CU_ASSERT_STRING_EQUAL(addr(&f, 0), "9.9.9.9");
	CU_ASSERT_STRING_EQUAL(addr(&f, 1), "149.112.112.112");
	CU_ASSERT_EQUAL(f.ttl, 1200);
}

/* AAAA, the owner in another case (RFC 4343): the same name. */
static void test_aaaa(void)
{
	static const char *const an[] = {
		"DNS.Quad9.NET. 300 IN AAAA 2620:fe::fe",
		"dns.quad9.net. 600 IN AAAA 2620:fe::9",
		NULL,
	};
	struct hostname_found f;

	CU_ASSERT_EQUAL_FATAL(parse(answer("dns.quad9.net.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
					   an, NULL, NULL),
				    &f),
			      0);
	CU_ASSERT_EQUAL_FATAL(f.n_addrs, 2);
	CU_ASSERT_STRING_EQUAL(addr(&f, 0), "2620:fe::fe");
	CU_ASSERT_STRING_EQUAL(addr(&f, 1), "2620:fe::9");
	CU_ASSERT_EQUAL(f.ttl, 300);
}

/*
 * A CNAME chain, out of order: the addresses at its end, the TTL the smallest of every link
 * and address. An address of a name on the way (a.example) is not the answer.
 */
static void test_cname_chain(void)
{
	static const char *const an[] = {
		"b.example. 300 IN A 192.0.2.7",     "dot.example. 600 IN CNAME a.example.",
		"a.example. 3600 IN A 203.0.113.66", "a.example. 120 IN CNAME b.example.",
		"b.example. 900 IN A 192.0.2.8",     NULL,
	};
	struct hostname_found f;

	CU_ASSERT_EQUAL_FATAL(
		parse(answer("dot.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL),
		      &f),
		0);
	CU_ASSERT_EQUAL_FATAL(f.n_addrs, 2);
	CU_ASSERT_STRING_EQUAL(addr(&f, 0), "192.0.2.7");
	CU_ASSERT_STRING_EQUAL(addr(&f, 1), "192.0.2.8");
	CU_ASSERT_EQUAL(f.ttl, 120);
}

/*
 * A hostile answer: addresses for other names (a suffix, a prefix, a sibling), a CNAME of
 * another name pointing to an attacker's, the name's own address in class CH, as AAAA in an A
 * answer, and in the authority and additional sections: all ignored. The one true record is
 * taken, and its TTL alone counts.
 */
static void test_hostile(void)
{
	static const char *const an[] = {
		"evil.example. 5 IN A 203.0.113.1",
		"quad9.net. 5 IN A 203.0.113.2",
		"x.dns.quad9.net. 5 IN A 203.0.113.3",
		"dns.quad9.ne. 5 IN A 203.0.113.4",
		"www.quad9.net. 5 IN CNAME evil.example.",
		"dns.quad9.net. 5 CH A 203.0.113.5",
		"dns.quad9.net. 5 IN AAAA 2001:db8::bad",
		"dns.quad9.net. 3600 IN A 9.9.9.9",
		NULL,
	};
	static const char *const ns[] = {"dns.quad9.net. 5 IN A 203.0.113.6", NULL};
	static const char *const ar[] = {
		"dns.quad9.net. 5 IN A 203.0.113.7",
		"dns.quad9.net. 5 IN CNAME evil.example.",
		NULL,
	};
	struct hostname_found f;

	CU_ASSERT_EQUAL_FATAL(
		parse(answer("dns.quad9.net.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, ns, ar), &f),
		0);
	CU_ASSERT_EQUAL_FATAL(f.n_addrs, 1);
	CU_ASSERT_STRING_EQUAL(addr(&f, 0), "9.9.9.9");
	CU_ASSERT_EQUAL(f.ttl, 3600);
}

/* Only records of another name, or none at all: no address (NODATA), no TTL. */
static void test_nodata(void)
{
	static const char *const an[] = {"evil.example. 300 IN A 203.0.113.1", NULL};
	static const char *const soa[] = {
		"quad9.net. 60 IN SOA ns.quad9.net. h.quad9.net. 1 3600 900 604800 60",
		NULL,
	};
	struct hostname_found f;

	CU_ASSERT_EQUAL_FATAL(
		parse(answer("dns.quad9.net.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL),
		      &f),
		0);
	CU_ASSERT_EQUAL(f.n_addrs, 0);
	CU_ASSERT_EQUAL(f.ttl, UINT32_MAX);
	CU_ASSERT_EQUAL_FATAL(parse(answer("dns.quad9.net.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
					   NULL, soa, NULL),
				    &f),
			      0);
	CU_ASSERT_EQUAL(f.n_addrs, 0);
	CU_ASSERT_EQUAL(f.ttl, UINT32_MAX);
}

/* Duplicates once; 0.0.0.0 and :: never; TTLs with the top bit set as 0 (RFC 2181 §8). */
static void test_duplicates_unspecified(void)
{
	static const char *const a[] = {
		"h.example. 300 IN A 192.0.2.1",
		"h.example. 300 IN A 0.0.0.0",
		"h.example. 2147483648 IN A 192.0.2.1",
		"h.example. 300 IN A 192.0.2.2",
		NULL,
	};
	static const char *const aaaa[] = {"h.example. 300 IN AAAA ::", NULL};
	struct hostname_found f;

	CU_ASSERT_EQUAL_FATAL(
		parse(answer("h.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, a, NULL, NULL), &f),
		0);
	CU_ASSERT_EQUAL_FATAL(f.n_addrs, 2);
	CU_ASSERT_STRING_EQUAL(addr(&f, 0), "192.0.2.1");
	CU_ASSERT_STRING_EQUAL(addr(&f, 1), "192.0.2.2");
	CU_ASSERT_EQUAL(f.ttl, 0);
	CU_ASSERT_EQUAL_FATAL(
		parse(answer("h.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, aaaa, NULL, NULL),
		      &f),
		0);
	CU_ASSERT_EQUAL(f.n_addrs, 0);
}

/* More addresses than an upstream takes: the first HOSTNAME_MAX_ADDRS. */
static void test_many(void)
{
	char rrs[HOSTNAME_MAX_ADDRS + 4][64];
	const char *an[HOSTNAME_MAX_ADDRS + 5];
	struct hostname_found f;

	for (size_t i = 0; i < HOSTNAME_MAX_ADDRS + 4; i++) {
		snprintf(rrs[i], sizeof(rrs[i]), "m.example. 300 IN A 192.0.2.%zu", i + 1);
		an[i] = rrs[i];
	}
	an[HOSTNAME_MAX_ADDRS + 4] = NULL;
	CU_ASSERT_EQUAL_FATAL(
		parse(answer("m.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL), &f),
		0);
	CU_ASSERT_EQUAL_FATAL(f.n_addrs, HOSTNAME_MAX_ADDRS);
	CU_ASSERT_STRING_EQUAL(addr(&f, HOSTNAME_MAX_ADDRS - 1), "192.0.2.16");
}

/* A CNAME loop, and a chain of 9 links: refused, without looping. 8 links are followed. */
static void test_loops(void)
{
	static const char *const loop[] = {
		"a.example. 300 IN CNAME b.example.",
		"b.example. 300 IN CNAME a.example.",
		"a.example. 300 IN A 192.0.2.1",
		NULL,
	};
	char rrs[10][64];
	const char *chain[11];
	struct hostname_found f;

	CU_ASSERT_EQUAL(
		parse(answer("a.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, loop, NULL, NULL),
		      &f),
		-ELOOP);
	for (int links = 8; links <= 9; links++) {
		for (int i = 0; i < links; i++) {
			snprintf(rrs[i], sizeof(rrs[i]), "c%d.example. 300 IN CNAME c%d.example.",
				 i, i + 1);
			chain[i] = rrs[i];
		}
		snprintf(rrs[links], sizeof(rrs[links]), "c%d.example. 300 IN A 192.0.2.9", links);
		chain[links] = rrs[links];
		chain[links + 1] = NULL;
		if (links == 8) {
			CU_ASSERT_EQUAL_FATAL(parse(answer("c0.example.", LDNS_RR_TYPE_A,
							   LDNS_RCODE_NOERROR, chain, NULL, NULL),
						    &f),
					      0);
			CU_ASSERT_EQUAL(f.n_addrs, 1);
		} else {
			CU_ASSERT_EQUAL(parse(answer("c0.example.", LDNS_RR_TYPE_A,
						     LDNS_RCODE_NOERROR, chain, NULL, NULL),
					      &f),
					-ELOOP);
		}
	}
}

/* NXDOMAIN, SERVFAIL, REFUSED, TC, a question of another type: errors, nothing written. */
static void test_errors(void)
{
	static const char *const an[] = {"h.example. 300 IN A 192.0.2.1", NULL};
	struct hostname_found f;
	struct wire w;

	CU_ASSERT_EQUAL(
		parse(answer("h.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, NULL, NULL, NULL),
		      &f),
		-ENOENT);
	CU_ASSERT_EQUAL(
		parse(answer("h.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL, an, NULL, NULL),
		      &f),
		-EREMOTEIO);
	CU_ASSERT_EQUAL(
		parse(answer("h.example.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, an, NULL, NULL), &f),
		-EREMOTEIO);
	w = answer("h.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an, NULL, NULL);
	dns_put16(w.buf + 2, dns_flags(w.buf) | DNS_TC);
	CU_ASSERT_EQUAL(parse(w, &f), -EBADMSG);
	CU_ASSERT_EQUAL(
		parse(answer("h.example.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, an, NULL, NULL),
		      &f),
		-EBADMSG);
	/* No question at all (a FORMERR-style answer). */
	w = answer("h.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, NULL, NULL, NULL);
	dns_put16(w.buf + 4, 0);
	CU_ASSERT_EQUAL(parse(w, &f), -EBADMSG);
	CU_ASSERT_EQUAL(hostname_answer_parse((const uint8_t *)"", 0, htons(PORT), &f), -EBADMSG);
}

/* The TTL kept: at least 30 s, at most a day. The retries: 5 s doubling to 5 min. */
static void test_clamps(void)
{
	static const unsigned retries[] = {5, 10, 20, 40, 80, 160, 300, 300};

	CU_ASSERT_EQUAL(hostname_refresh_s(0), 30);
	CU_ASSERT_EQUAL(hostname_refresh_s(5), 30);
	CU_ASSERT_EQUAL(hostname_refresh_s(29), 30);
	CU_ASSERT_EQUAL(hostname_refresh_s(30), 30);
	CU_ASSERT_EQUAL(hostname_refresh_s(3600), 3600);
	CU_ASSERT_EQUAL(hostname_refresh_s(86400), 86400);
	CU_ASSERT_EQUAL(hostname_refresh_s(86401), 86400);
	CU_ASSERT_EQUAL(hostname_refresh_s(UINT32_MAX), 86400);
	for (unsigned i = 0; i < sizeof(retries) / sizeof(retries[0]); i++) {
		CU_ASSERT_EQUAL(hostname_retry_s(i + 1), retries[i]);
	}
	CU_ASSERT_EQUAL(hostname_retry_s(1000), 300);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"A records", test_a},
		{"AAAA records, owner in another case", test_aaaa},
		{"a CNAME chain", test_cname_chain},
		{"a hostile answer", test_hostile},
		{"no address", test_nodata},
		{"duplicates, unspecified, TTL top bit", test_duplicates_unspecified},
		{"more addresses than kept", test_many},
		{"CNAME loops and long chains", test_loops},
		{"RCODEs, TC, other questions", test_errors},
		{"TTL clamp and retry delays", test_clamps},
		CU_TEST_INFO_NULL,
	};

	return unit_run("hostname", tests);
}
