/*
 * test_cache: the answer cache (cache/cache.c) on an injected clock. Answers are built with
 * ldns and read back with ldns, an implementation independent of ours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h> /* first: without it ldns/common.h makes bool a signed char */
#include <ldns/ldns.h>

#include "cache.h"
#include "siphash.h"
#include "unit.h"

static uint64_t now_ms;

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return now_ms;
}

static struct cache *new_cache(size_t bytes, uint32_t min_ttl, uint32_t max_ttl, uint32_t max_neg)
{
	struct cache_params p = {
		.max_bytes = bytes,
		.min_ttl = min_ttl,
		.max_ttl = max_ttl,
		.max_neg_ttl = max_neg,
		.stale_max = 86400,
		.now = fake_now,
	};
	struct cache *c = NULL;

	now_ms = 1000000;
	CU_ASSERT_EQUAL_FATAL(cache_new(&p, &c), 0);
	return c;
}

struct msg {
	uint8_t *buf;
	size_t len;
};

/* A query, ID 0x4242, for @name/@type; with EDNS when @edns (DO as given), CD as given. */
static struct msg query(const char *name, ldns_rr_type type, bool edns, bool do_bit, bool cd)
{
	ldns_pkt *p = NULL;
	struct msg m;

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, LDNS_RD) ==
			LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 0x4242);
	ldns_pkt_set_cd(p, cd);
	if (edns) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, do_bit);
		p->_edns_present = true;
	}
	CU_ASSERT_FATAL(ldns_pkt2wire(&m.buf, p, &m.len) == LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return m;
}

/*
 * An answer for @name/@type with @rcode and the records in @rrs (zone-file lines; a line
 * starting with "ns:" goes to authority, "ar:" to additional); with an OPT carrying padding
 * and an EDE when @opt.
 */
static struct msg answer(const char *name, ldns_rr_type type, ldns_pkt_rcode rcode,
			 const char *const *rrs, bool opt, bool tc)
{
	ldns_pkt *p = NULL;
	struct msg m;

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, LDNS_RD) ==
			LDNS_STATUS_OK);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_tc(p, tc);
	ldns_pkt_set_id(p, 0x9999);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (; rrs && *rrs; rrs++) {
		ldns_pkt_section sec = LDNS_SECTION_ANSWER;
		const char *line = *rrs;
		ldns_rr *rr = NULL;

		if (strncmp(line, "ns:", 3) == 0) {
			sec = LDNS_SECTION_AUTHORITY;
			line += 3;
		} else if (strncmp(line, "ar:", 3) == 0) {
			sec = LDNS_SECTION_ADDITIONAL;
			line += 3;
		}
		CU_ASSERT_FATAL(ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) == LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, sec, rr);
	}
	CU_ASSERT_FATAL(ldns_pkt2wire(&m.buf, p, &m.len) == LDNS_STATUS_OK);
	ldns_pkt_free(p);
	if (opt) {
		/* OPT: a padding option of 8 octets, then an EDE (code 17, Filtered). */
		uint8_t o[11 + 12 + 6] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 18};

		dns_put16(o + 11, DNS_OPT_PADDING);
		dns_put16(o + 13, 8);
		dns_put16(o + 23, DNS_OPT_EDE);
		dns_put16(o + 25, 2);
		dns_put16(o + 27, 17);
		uint8_t *b = malloc(m.len + sizeof(o));

		memcpy(b, m.buf, m.len);
		memcpy(b + m.len, o, sizeof(o));
		dns_put16(b + 10, (uint16_t)(dns_arcount(b) + 1));
		free(m.buf);
		m.buf = b;
		m.len += sizeof(o);
	}
	return m;
}

struct hit {
	enum cache_state state;
	ldns_pkt *pkt; /**< the answer, parsed by ldns */
	uint8_t wire[65600];
	size_t len;
	bool prefetch;
};

static uint64_t key_group; /* the upstream group key_of() puts keys in (0: the default) */

static void key_of(struct cache *c, const struct msg *q, struct cache_key *k, bool *do_bit)
{
	struct dns_question dq;
	struct dns_opt opt;

	CU_ASSERT_EQUAL_FATAL(dns_question_parse(q->buf, q->len, &dq), 0);
	CU_ASSERT_EQUAL_FATAL(dns_opt_find(q->buf, q->len, &opt), 0);
	*do_bit = opt.present && (opt.flags & DNS_EDNS_DO);
	cache_key_make(c, q->buf, &dq, *do_bit, k);
	cache_key_set_group(c, k, key_group);
}

static int put(struct cache *c, const struct msg *q, const struct msg *a)
{
	struct cache_key k;
	struct dns_opt opt;
	bool do_bit;

	key_of(c, q, &k, &do_bit);
	CU_ASSERT_EQUAL_FATAL(dns_opt_find(a->buf, a->len, &opt), 0);
	return cache_insert(c, &k, a->buf, a->len, &opt);
}

static struct hit last; /* the last lookup's result */

static struct hit *get_last(void)
{
	return &last;
}

static struct hit *get(struct cache *c, const struct msg *q, uint32_t stale_ttl, size_t max_len)
{
	struct cache_client cl;
	struct dns_question dq;
	struct dns_opt opt;
	struct cache_key k;
	bool do_bit;

	/* The previous hit's packet is freed here: a test holds one at a time. */
	ldns_pkt_free(last.pkt);
	last.pkt = NULL;
	key_of(c, q, &k, &do_bit);
	dns_question_parse(q->buf, q->len, &dq);
	dns_opt_find(q->buf, q->len, &opt);
	cl = (struct cache_client){.query = q->buf,
				   .qend = dq.end,
				   .has_opt = opt.present,
				   .do_bit = do_bit,
				   .max_len = max_len};
	last.state = cache_lookup(c, &k, &cl, stale_ttl, last.wire, sizeof(last.wire), &last.len,
				  &last.prefetch);
	if (last.state != CACHE_MISS) {
		CU_ASSERT_FATAL(ldns_wire2pkt(&last.pkt, last.wire, last.len) == LDNS_STATUS_OK);
	}
	return &last;
}

static uint32_t ttl_of(const ldns_pkt *p, ldns_pkt_section sec, size_t i)
{
	ldns_rr_list *l = ldns_pkt_get_section_clone(p, sec);
	uint32_t ttl = ldns_rr_ttl(ldns_rr_list_rr(l, i));

	ldns_rr_list_deep_free(l);
	return ttl;
}

static void msg_free(struct msg *m)
{
	free(m->buf);
}

/* TTLs count down with the clock, to zero, then the entry is no longer fresh. */
static void test_ttl_aging(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	const char *rrs[] = {"www.example. 10 IN A 192.0.2.1", "www.example. 20 IN A 192.0.2.2",
			     NULL};
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct hit *h;

	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ldns_pkt_id(h->pkt), 0x4242);
	/* RRset TTLs: the record with 20 keeps its own TTL, aging alike. */
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 10);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 1), 20);

	now_ms += 4000;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 6);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 1), 16);

	now_ms += 5999;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 1);

	now_ms += 1;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_MISS);
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/* NXDOMAIN and NODATA live min(SOA TTL, SOA MINIMUM), capped; without SOA, not at all. */
static void test_negative(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	const char *soa[] = {
		"ns:example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 60", NULL};
	struct msg q = query("nope.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg nx =
		answer("nope.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, soa, false, false);
	struct msg nosoa =
		answer("nope.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, NULL, false, false);
	struct msg q2 = query("www.example.", LDNS_RR_TYPE_MX, false, false, false);
	struct msg nodata =
		answer("www.example.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, soa, false, false);
	struct hit *h;

	CU_ASSERT_EQUAL(put(c, &q, &nosoa), 0);
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	CU_ASSERT_EQUAL(put(c, &q, &nx), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(h->pkt), LDNS_RCODE_NXDOMAIN);
	/* The SOA is served with the negative lifetime, counting down (RFC 2308 §5). */
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_AUTHORITY, 0), 60);
	now_ms += 10000;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_AUTHORITY, 0), 50);
	now_ms += 50000;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);

	CU_ASSERT_EQUAL(put(c, &q2, &nodata), 1);
	h = get(c, &q2, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ldns_pkt_ancount(h->pkt), 0);
	cache_free(c);

	/* cache_max_negative_ttl caps it. */
	c = new_cache(1 << 20, 0, 86400, 10);
	CU_ASSERT_EQUAL(put(c, &q, &nx), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_AUTHORITY, 0), 10);
	now_ms += 10000;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	cache_free(c);
	msg_free(&q);
	msg_free(&q2);
	msg_free(&nx);
	msg_free(&nosoa);
	msg_free(&nodata);
}

/* cache_min_ttl and cache_max_ttl; a TTL of 0 or with its top bit set is not cached. */
static void test_clamps(void)
{
	const char *short_rr[] = {"www.example. 5 IN A 192.0.2.1", NULL};
	const char *long_rr[] = {"www.example. 1000000 IN A 192.0.2.1", NULL};
	const char *zero_rr[] = {"www.example. 0 IN A 192.0.2.1", NULL};
	const char *msb_rr[] = {"www.example. 2147483648 IN A 192.0.2.1", NULL};
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a;
	struct cache *c = new_cache(1 << 20, 30, 100, 3600);
	struct hit *h;

	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, short_rr, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 30);
	now_ms += 29000;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_FRESH);
	get(c, &q, 0, 65535);
	msg_free(&a);

	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, long_rr, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 100);
	now_ms += 100000;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	msg_free(&a);
	cache_free(c);

	c = new_cache(1 << 20, 0, 86400, 3600);
	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, zero_rr, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	msg_free(&a);
	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, msb_rr, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	msg_free(&a);
	cache_free(c);
	msg_free(&q);
}

/* What is never stored: TC, a question that differs, REFUSED; SERVFAIL only for 5 s. */
static void test_not_cached(void)
{
	const char *rrs[] = {"www.example. 300 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a;

	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, true);
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	msg_free(&a);
	a = answer("www.other.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	msg_free(&a);
	a = answer("www.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, rrs, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	msg_free(&a);
	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, NULL, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	msg_free(&a);
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);

	a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL, NULL, false, false);
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	now_ms += 4999;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_FRESH);
	get(c, &q, 0, 65535);
	now_ms += 1;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	/* ... and never served stale. */
	CU_ASSERT_EQUAL(get(c, &q, 30, 65535)->state, CACHE_MISS);
	msg_free(&a);
	msg_free(&q);
	cache_free(c);
}

/* The client's spelling comes back; DO and CD make different keys. */
static void test_case_do_cd(void)
{
	const char *rrs[] = {"www.example. 300 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg mixed = query("WwW.eXaMpLe.", LDNS_RR_TYPE_A, false, false, false);
	struct msg q_do = query("www.example.", LDNS_RR_TYPE_A, true, true, false);
	struct msg q_cd = query("www.example.", LDNS_RR_TYPE_A, false, false, true);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct hit *h;

	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	h = get(c, &mixed, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(memcmp(h->wire + 12, "\3WwW\7eXaMpLe", 13), 0);
	CU_ASSERT_EQUAL(get(c, &q_do, 0, 65535)->state, CACHE_MISS);
	CU_ASSERT_EQUAL(get(c, &q_cd, 0, 65535)->state, CACHE_MISS);
	CU_ASSERT_EQUAL(put(c, &q_cd, &a), 1);
	CU_ASSERT_EQUAL(get(c, &q_do, 0, 65535)->state, CACHE_MISS);
	h = get(c, &q_cd, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	msg_free(&q);
	msg_free(&mixed);
	msg_free(&q_do);
	msg_free(&q_cd);
	msg_free(&a);
	cache_free(c);
}

/* The upstream's OPT (padding, EDE) is not served as is: none for a client without EDNS,
 * ours with the EDE (and no padding) for one with; TC when the UDP limit is exceeded. */
static void test_opt_fit(void)
{
	const char *rrs[] = {"www.example. 300 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg q_edns = query("www.example.", LDNS_RR_TYPE_A, true, true, false);
	struct msg a = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, true, false);
	struct msg a_do =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, true, false);
	struct dns_opt opt;
	struct hit *h;
	size_t off;
	uint16_t olen;

	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	CU_ASSERT_EQUAL(put(c, &q_edns, &a_do), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_FALSE(ldns_pkt_edns(h->pkt));
	CU_ASSERT_EQUAL(dns_arcount(h->wire), 0);

	h = get(c, &q_edns, 0, 65535);
	CU_ASSERT_EQUAL(dns_opt_find(h->wire, h->len, &opt), 0);
	CU_ASSERT_TRUE(opt.present);
	CU_ASSERT_EQUAL(opt.udp_size, 1232);
	CU_ASSERT_EQUAL(opt.flags, DNS_EDNS_DO);
	CU_ASSERT_EQUAL(dns_opt_option(h->wire, &opt, DNS_OPT_PADDING, &off, &olen), -ENOENT);
	CU_ASSERT_EQUAL(dns_opt_option(h->wire, &opt, DNS_OPT_EDE, &off, &olen), 0);
	CU_ASSERT_EQUAL(dns_get16(h->wire + off), 17);

	/* A 20-byte limit: header, question and OPT with TC. */
	h = get(c, &q_edns, 0, 40);
	CU_ASSERT_TRUE(ldns_pkt_tc(h->pkt));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(h->pkt), 0);
	CU_ASSERT_TRUE(ldns_pkt_edns(h->pkt));
	msg_free(&q);
	msg_free(&q_edns);
	msg_free(&a);
	msg_free(&a_do);
	cache_free(c);
}

/* Past its TTL an entry serves stale only when asked, with TTL 30 and EDE 3; until stale_max. */
static void test_stale(void)
{
	const char *rrs[] = {"www.example. 10 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, true, false, false);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct cache_key k;
	struct dns_opt opt;
	struct hit *h;
	size_t off;
	uint16_t olen;
	bool do_bit;

	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	key_of(c, &q, &k, &do_bit);
	CU_ASSERT_FALSE(cache_has_stale(c, &k));
	now_ms += 11000;
	CU_ASSERT_TRUE(cache_has_stale(c, &k));
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	h = get(c, &q, 30, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_STALE);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 30);
	CU_ASSERT_EQUAL(dns_opt_find(h->wire, h->len, &opt), 0);
	CU_ASSERT_EQUAL(dns_opt_option(h->wire, &opt, DNS_OPT_EDE, &off, &olen), 0);
	CU_ASSERT_EQUAL(dns_get16(h->wire + off), 3);
	now_ms += 86400ull * 1000;
	CU_ASSERT_FALSE(cache_has_stale(c, &k));
	CU_ASSERT_EQUAL(get(c, &q, 30, 65535)->state, CACHE_MISS);
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/* In the last tenth of its life a hit asks once for a refresh. */
static void test_prefetch(void)
{
	const char *rrs[] = {"www.example. 100 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct hit *h;

	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	now_ms += 89000;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_FALSE(h->prefetch);
	now_ms += 1000;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_TRUE(h->prefetch);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_FALSE(h->prefetch);
	/* A new answer resets it. */
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	now_ms += 95000;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_TRUE(h->prefetch);
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/*
 * How many entries of one size a test makes, to fill 40 KiB with room to spare: an entry's
 * cost counts sizeof(struct entry), smaller on a 32-bit machine, where more entries fit.
 */
#define EVICT_N 400

/* Under the byte bound, expired entries go first, then SIEVE spares the entries hit. */
static void test_eviction(void)
{
	struct cache *c = new_cache(40 * 1024, 0, 86400, 3600);
	struct cache_stats st;
	char name[64], rr[128];
	struct msg qs[EVICT_N], as[EVICT_N];
	const char *rrs[2] = {rr, NULL};
	int n;

	for (n = 0; n < EVICT_N; n++) {
		snprintf(name, sizeof(name), "n%d.example.", n);
		/* The first 10 expire after 10 s, the others live an hour. */
		snprintf(rr, sizeof(rr), "%s %d IN A 192.0.2.1", name, n < 10 ? 10 : 3600);
		qs[n] = query(name, LDNS_RR_TYPE_A, false, false, false);
		as[n] = answer(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	}
	for (n = 0; n < EVICT_N; n++) {
		cache_stats_get(c, &st);
		if (st.bytes + cache_entry_cost(as[n].len, 1, 20) > 40 * 1024) {
			break;
		}
		CU_ASSERT_EQUAL(put(c, &qs[n], &as[n]), 1);
	}
	CU_ASSERT_FATAL(n > 30 && n < EVICT_N);
	/* Hit entries 10..19, let 0..9 expire. */
	for (int i = 10; i < 20; i++) {
		get(c, &qs[i], 0, 65535);
	}
	now_ms += 11000;
	/* Fill until 20 evictions happened. */
	for (int i = n; i < EVICT_N; i++) {
		CU_ASSERT_EQUAL(put(c, &qs[i], &as[i]), 1);
		cache_stats_get(c, &st);
		CU_ASSERT(st.bytes <= 40 * 1024);
		if (st.evicted_expired + st.evicted_live >= 20) {
			break;
		}
	}
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.evicted_expired, 10);
	CU_ASSERT_EQUAL(st.evicted_live, 10);
	/* The expired ones went first, then the oldest not hit: 20..29; 10..19 stayed. */
	for (int i = 0; i < 30; i++) {
		enum cache_state s = get(c, &qs[i], 0, 65535)->state;

		if (i >= 10 && i < 20) {
			CU_ASSERT_EQUAL(s, CACHE_FRESH);
			get(c, &qs[i], 0, 65535);
			get(c, &qs[i], 0, 65535);
		} else {
			CU_ASSERT_EQUAL(s, CACHE_MISS);
		}
	}
	for (n = 0; n < EVICT_N; n++) {
		msg_free(&qs[n]);
		msg_free(&as[n]);
	}
	cache_free(c);
}

/*
 * Found by fuzz_answer: the second record's owner is a pointer into the first one's RDATA,
 * whose labels run on into the second record's own TTL. Aging that TTL in a hit would change
 * the name and break the message: such an answer is not cached.
 */
static void test_name_across_ttl(void)
{
	static const uint8_t ans[] = {
		0x42, 0x42, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x05,
		'a',  'l',  'i',  'a',	's',  0x07, 'e',  'x',	'a',  'm',  'p',  'l',	'e',
		0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00,
		0x01, 0x2c, 0x00, 0x06, 0x03, 'w',  'w',  'w',	0x06, 0x12, 0xc0, 0x2b, 0x00,
		0x01, 0x00, 0x01, 0x00, 0x02, 0x01, 0x2c, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x50,
	};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("alias.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a = {.buf = malloc(sizeof(ans)), .len = sizeof(ans)};

	memcpy(a.buf, ans, sizeof(ans));
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/*
 * Found by fuzz_answer: the SOA's owner name is a pointer into the question whose labels run
 * on over the SOA's own fields and end inside the OPT record. Without its OPT (as the cache
 * stores answers) the name runs off the end: not cached.
 */
static void test_name_into_opt(void)
{
	static const uint8_t ans[] = {
		0x42, 0x42, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x03, 0x77,
		0x77, 0x77, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x0f, 0x00,
		0x01, 0xc0, 0x1c, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x20, 0x02,
		0x6e, 0x73, 0xc2, 0x10, 0x04, 0x68, 0x6f, 0x73, 0x74, 0xc0, 0x10, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x00, 0x00, 0x00, 0xfa, 0x09, 0x3a, 0x80, 0x00,
		0x00, 0x00, 0x3c, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x04, 0x00, 0x80, 0x01, 0x00, 0x00};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_MX, false, false, false);
	struct msg a = {.buf = malloc(sizeof(ans)), .len = sizeof(ans)};

	memcpy(a.buf, ans, sizeof(ans));
	CU_ASSERT_EQUAL(put(c, &q, &a), 0);
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/*
 * A refresh that fails keeps what we have (RFC 8767 §4): a SERVFAIL or REFUSED from upstream
 * never replaces a fresh or stale answer, the entry stays fresh for its TTL and then stale,
 * and the next prefetch waits out a backoff of 5 s, doubling to 30 s.
 */
static void test_failed_refresh(void)
{
	const char *rrs[] = {"www.example. 100 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct msg sf =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL, NULL, false, false);
	struct msg rf =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, NULL, false, false);
	struct cache_stats st;
	struct cache_key k;
	struct hit *h;
	bool do_bit;

	key_of(c, &q, &k, &do_bit);
	CU_ASSERT_FALSE(cache_refresh_failed(c, &k)); /* nothing to keep */
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	now_ms += 90000;
	h = get(c, &q, 0, 65535);
	CU_ASSERT_TRUE(h->prefetch);
	/* The prefetch gets SERVFAIL: the fresh answer stays, with its aged TTL. */
	CU_ASSERT_EQUAL(put(c, &q, &sf), 0);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(h->pkt), LDNS_RCODE_NOERROR);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 10);
	/* No new prefetch before the backoff (5 s) has passed, then one. */
	CU_ASSERT_FALSE(h->prefetch);
	now_ms += 4999;
	CU_ASSERT_FALSE(get(c, &q, 0, 65535)->prefetch);
	CU_ASSERT_TRUE(cache_refresh_held(c, &k));
	now_ms += 1;
	CU_ASSERT_FALSE(cache_refresh_held(c, &k));
	CU_ASSERT_TRUE(get(c, &q, 0, 65535)->prefetch);
	/* A REFUSED (second failure): the backoff doubles to 10 s. */
	CU_ASSERT_EQUAL(put(c, &q, &rf), 0);
	now_ms += 9999;
	CU_ASSERT_TRUE(cache_refresh_held(c, &k));
	now_ms += 1;
	CU_ASSERT_FALSE(cache_refresh_held(c, &k));
	/* Past its TTL: the stale answer is still there, and a failure keeps it too. */
	now_ms += 1000;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	CU_ASSERT_TRUE(cache_has_stale(c, &k));
	CU_ASSERT_EQUAL(put(c, &q, &sf), 0);
	CU_ASSERT_TRUE(cache_has_stale(c, &k));
	CU_ASSERT_TRUE(cache_refresh_held(c, &k));
	h = get(c, &q, 30, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_STALE);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(h->pkt), LDNS_RCODE_NOERROR);
	/* A failure without an answer (connection level) counts the same; 30 s at most. */
	for (int i = 0; i < 10; i++) {
		CU_ASSERT_TRUE(cache_refresh_failed(c, &k));
	}
	now_ms += 29999;
	CU_ASSERT_TRUE(cache_refresh_held(c, &k));
	now_ms += 1;
	CU_ASSERT_FALSE(cache_refresh_held(c, &k));
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.refresh_failures, 13);
	/* A good answer replaces the entry and clears the backoff. */
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	CU_ASSERT_FALSE(cache_refresh_held(c, &k));
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 100);
	/* Without an entry to keep, a SERVFAIL is stored for 5 s as before. */
	now_ms += 86400ull * 2000;
	CU_ASSERT_EQUAL(put(c, &q, &sf), 1);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(get(c, &q, 0, 65535)->pkt), LDNS_RCODE_SERVFAIL);
	msg_free(&q);
	msg_free(&a);
	msg_free(&sf);
	msg_free(&rf);
	cache_free(c);
}

/* A stub is no authority: an upstream's AA never comes back from the cache (RFC 1035 §4.1.1). */
static void test_aa_cleared(void)
{
	const char *rrs[] = {"www.example. 100 IN A 192.0.2.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct hit *h;

	dns_put16(a.buf + 2, (uint16_t)(dns_flags(a.buf) | DNS_AA));
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	h = get(c, &q, 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_FALSE(ldns_pkt_aa(h->pkt));
	CU_ASSERT_TRUE(ldns_pkt_ra(h->pkt));
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/* --- the cache file --- */

#define WALL_NOW 1700000000ull /* the wall clock at the dump (s) */

/* A growing buffer for cache_dump(); fail_after > 0 makes the write that passes it fail. */
struct sink {
	uint8_t *buf;
	size_t len;
	size_t calls;
	size_t fail_after;
};

static int sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;

	s->calls++;
	if (s->fail_after && s->len + len > s->fail_after) {
		return -ENOSPC;
	}
	if (len == 0) {
		return 0; /* the test's own files write empty fields (buf may then be NULL) */
	}
	s->buf = realloc(s->buf, s->len + len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->buf);
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	return 0;
}

static struct sink dump(const struct cache *c, uint64_t wall, size_t *n)
{
	struct sink s = {0};

	CU_ASSERT_EQUAL_FATAL(cache_dump(c, wall, sink_write, &s, n), 0);
	return s;
}

static uint64_t be64(const uint8_t *p)
{
	return ((uint64_t)dns_get32(p) << 32) | dns_get32(p + 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	dns_put32(p, (uint32_t)(v >> 32));
	dns_put32(p + 4, (uint32_t)v);
}

/* FNV-1a 64, written here from its definition, as the format says. */
static uint64_t fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

/* Make @f whole again after an edit: the length field and the checksum. */
static void reseal(struct sink *f)
{
	put_be64(f->buf + 24, f->len);
	put_be64(f->buf + f->len - 8, fnv1a64(f->buf, f->len - 8));
}

/* One entry, for a file written by hand. */
struct fentry {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *msg;
	size_t msg_len;
	const uint8_t *ede;
	size_t ede_len;
	uint8_t ext_rcode;
	uint64_t age_ms;
};

/* A cache file written from the format's description, not by cache_dump(). */
static struct sink file_write(const struct fentry *e, size_t n, uint64_t wall)
{
	struct sink f = {0};
	uint8_t hdr[CACHE_FILE_HDR_LEN] = "DOTDCACH", eh[CACHE_FILE_ENTRY_HDR_LEN], sum[8] = {0};

	dns_put32(hdr + 8, 1);
	dns_put32(hdr + 12, (uint32_t)n);
	put_be64(hdr + 16, wall);
	sink_write(&f, hdr, sizeof(hdr));
	for (size_t i = 0; i < n; i++) {
		dns_put16(eh, (uint16_t)e[i].key_len);
		dns_put16(eh + 2, (uint16_t)e[i].msg_len);
		dns_put16(eh + 4, (uint16_t)e[i].ede_len);
		eh[6] = e[i].ext_rcode;
		put_be64(eh + 7, e[i].age_ms);
		sink_write(&f, eh, sizeof(eh));
		sink_write(&f, e[i].key, e[i].key_len);
		sink_write(&f, e[i].msg, e[i].msg_len);
		sink_write(&f, e[i].ede, e[i].ede_len);
	}
	sink_write(&f, sum, sizeof(sum));
	reseal(&f);
	return f;
}

static struct cache *new_cache_stale(size_t bytes, uint32_t stale_max)
{
	struct cache_params p = {
		.max_bytes = bytes,
		.max_ttl = 86400,
		.max_neg_ttl = 3600,
		.stale_max = stale_max,
		.now = fake_now,
	};
	struct cache *c = NULL;

	CU_ASSERT_EQUAL_FATAL(cache_new(&p, &c), 0);
	return c;
}

/* The answers of the file tests: question, answer, lookup EDNS, and how long they live. */
struct fixture {
	struct msg q[6];
	struct msg a[6];
	size_t n;
};

static void fixture_fill(struct cache *c, struct fixture *f)
{
	static const char *const a_rrs[] = {"www.example. 100 IN A 192.0.2.1",
					    "www.example. 200 IN A 192.0.2.2", NULL};
	static const char *const cname_rrs[] = {"Alias.Example. 300 IN CNAME www.example.",
						"www.example. 300 IN A 192.0.2.1", NULL};
	static const char *const nx_rrs[] = {
		"ns:example. 600 IN SOA ns.example. host.example. 1 2 3 4 60", NULL};
	static const char *const six_rrs[] = {"www.example. 500 IN AAAA 2001:db8::1", NULL};
	static const char *const stale_rrs[] = {"old.example. 10 IN A 192.0.2.9", NULL};

	f->q[0] = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	f->a[0] = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, a_rrs, false, false);
	f->q[1] = query("Alias.Example.", LDNS_RR_TYPE_A, true, true, false);
	f->a[1] = answer("Alias.Example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, cname_rrs, true,
			 false);
	f->q[2] = query("nx.example.", LDNS_RR_TYPE_A, false, false, true);
	f->a[2] = answer("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, nx_rrs, false, false);
	f->q[3] = query("www.example.", LDNS_RR_TYPE_AAAA, true, false, false);
	f->a[3] =
		answer("www.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, six_rrs, true, false);
	f->q[4] = query("old.example.", LDNS_RR_TYPE_A, false, false, false);
	f->a[4] =
		answer("old.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, stale_rrs, false, false);
	f->q[5] = query("fail.example.", LDNS_RR_TYPE_A, false, false, false);
	f->a[5] = answer("fail.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL, NULL, false, false);
	f->n = 6;
	for (size_t i = 0; i < f->n; i++) {
		CU_ASSERT_EQUAL_FATAL(put(c, &f->q[i], &f->a[i]), 1);
	}
}

static void fixture_free(struct fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		msg_free(&f->q[i]);
		msg_free(&f->a[i]);
	}
}

/* Whether @h's packet carries an EDE option of info code @code. */
static bool has_ede(const struct hit *h, uint16_t code)
{
	ldns_edns_option_list *l = ldns_pkt_edns_get_option_list(h->pkt);

	for (size_t i = 0; l && i < ldns_edns_option_list_get_count(l); i++) {
		ldns_edns_option *o = ldns_edns_option_list_get_option(l, i);

		if (ldns_edns_get_code(o) == LDNS_EDNS_EDE && ldns_edns_get_size(o) >= 2 &&
		    dns_get16(ldns_edns_get_data(o)) == code) {
			return true;
		}
	}
	return false;
}

/*
 * Dump and load: the entries come back aged by the wall-clock time between (none for a clock
 * that went back), with their EDE and their key (DO, CD), on a clock that has just started
 * (a router after a reboot); the stale one is kept within stale_max; a SERVFAIL is not
 * written. A second dump is the first byte for byte.
 */
static void test_file_round_trip(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600), *d;
	struct cache_load_stats ls;
	struct cache_stats st;
	struct fixture f;
	struct sink s, s2;
	struct hit *h;
	size_t n;

	fixture_fill(c, &f);
	now_ms += 20000; /* 20 s later: "old" is 10 s stale */
	s = dump(c, WALL_NOW, &n);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(s.len, be64(s.buf + 24));
	CU_ASSERT_EQUAL(memcmp(s.buf, "DOTDCACH\0\0\0\1\0\0\0\5", 16), 0);
	CU_ASSERT_EQUAL(be64(s.buf + 16), WALL_NOW);

	/* 30 s on the wall clock since the dump; the monotonic clock is at 5 ms. */
	d = new_cache(1 << 20, 0, 86400, 3600);
	now_ms = 5;
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW + 30, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 5);
	CU_ASSERT_EQUAL(ls.expired + ls.skipped + ls.evicted, 0);
	CU_ASSERT_EQUAL(ls.age_s, 30);
	cache_stats_get(d, &st);
	CU_ASSERT_EQUAL(st.entries, 5);
	h = get(d, &f.q[0], 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 50);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 1), 150);
	h = get(d, &f.q[1], 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_ANSWER, 0), 250);
	CU_ASSERT_TRUE(has_ede(h, 17));
	CU_ASSERT_TRUE(ldns_pkt_edns_do(h->pkt));
	h = get(d, &f.q[2], 0, 65535);
	CU_ASSERT_EQUAL(h->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(h->pkt), LDNS_RCODE_NXDOMAIN);
	CU_ASSERT_EQUAL(ttl_of(h->pkt, LDNS_SECTION_AUTHORITY, 0), 10); /* 60 - 50 */
	CU_ASSERT_EQUAL(get(d, &f.q[3], 0, 65535)->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(get(d, &f.q[4], 0, 65535)->state, CACHE_MISS);
	CU_ASSERT_TRUE(get(d, &f.q[4], 30, 65535)->state == CACHE_STALE);
	CU_ASSERT_EQUAL(get(d, &f.q[5], 0, 65535)->state, CACHE_MISS);
	/* Lifetimes go on: the A answer expires 50 s later, not 100. */
	now_ms += 49999;
	CU_ASSERT_EQUAL(get(d, &f.q[0], 0, 65535)->state, CACHE_FRESH);
	now_ms += 1;
	CU_ASSERT_EQUAL(get(d, &f.q[0], 0, 65535)->state, CACHE_MISS);
	cache_free(d);

	/* A clock that went back: nothing elapsed. A second dump is the first. */
	d = new_cache(1 << 20, 0, 86400, 3600);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW - 1000, &ls), 0);
	CU_ASSERT_EQUAL(ls.age_s, 0);
	CU_ASSERT_EQUAL(ttl_of(get(d, &f.q[0], 0, 65535)->pkt, LDNS_SECTION_ANSWER, 0), 80);
	s2 = dump(d, WALL_NOW, &n);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_TRUE(s2.len == s.len && memcmp(s.buf, s2.buf, s.len) == 0);
	cache_free(d);
	free(s2.buf);
	free(s.buf);
	fixture_free(&f);
	cache_free(c);
}

/*
 * Upstream groups (forward zones): an answer stored under one group is not served for the
 * default group or another, a flush of the name drops it in every group, and the cache file
 * keeps the group; a file whose key says "group" without one, or has one without saying so,
 * is refused.
 */
static void test_groups(void)
{
	const char *rrs[] = {"router.lan. 300 IN A 192.168.1.1", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600), *d;
	struct msg q = query("router.lan.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a = answer("router.lan.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct cache_load_stats ls;
	struct cache_key k;
	struct fentry e;
	struct sink s, bad;
	bool do_bit;
	size_t n;

	key_group = 0x1122334455667788ull;
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_FRESH);
	key_group = 0;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	key_group = 0x1122334455667789ull;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	/* Setting a group twice keeps the first: a key is in one group. */
	key_group = 0x1122334455667788ull;
	key_of(c, &q, &k, &do_bit);
	n = k.len;
	cache_key_set_group(c, &k, 7);
	CU_ASSERT_EQUAL(k.len, n);

	/* The file keeps the group. */
	s = dump(c, WALL_NOW, &n);
	CU_ASSERT_EQUAL(n, 1);
	d = new_cache(1 << 20, 0, 86400, 3600);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 1);
	CU_ASSERT_EQUAL(get(d, &q, 0, 65535)->state, CACHE_FRESH);
	key_group = 0;
	CU_ASSERT_EQUAL(get(d, &q, 0, 65535)->state, CACHE_MISS);
	cache_free(d);

	/* Hostile keys: the group flag without the 8 octets, and 8 octets without the flag. */
	key_group = 0x1122334455667788ull;
	key_of(c, &q, &k, &do_bit);
	e = (struct fentry){.key = k.data, .key_len = k.len - 8, .msg = a.buf, .msg_len = a.len};
	bad = file_write(&e, 1, WALL_NOW);
	d = new_cache(1 << 20, 0, 86400, 3600);
	CU_ASSERT_EQUAL(cache_load(d, bad.buf, bad.len, WALL_NOW, &ls), -EBADMSG);
	free(bad.buf);
	k.data[k.len - 9] &= (uint8_t)~CACHE_KEY_GROUP;
	e.key_len = k.len;
	bad = file_write(&e, 1, WALL_NOW);
	CU_ASSERT_EQUAL(cache_load(d, bad.buf, bad.len, WALL_NOW, &ls), -EBADMSG);
	free(bad.buf);
	cache_free(d);

	/* A flush of the name reaches every group. */
	key_group = 0;
	CU_ASSERT_EQUAL(put(c, &q, &a), 1);
	CU_ASSERT_EQUAL(cache_flush(c, (const uint8_t *)"\6router\3lan", -1), 2);
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	key_group = 0x1122334455667788ull;
	CU_ASSERT_EQUAL(get(c, &q, 0, 65535)->state, CACHE_MISS);
	key_group = 0;
	free(s.buf);
	msg_free(&q);
	msg_free(&a);
	cache_free(c);
}

/* Stale entries are kept within stale_max of their expiry, counted on the wall clock. */
static void test_file_stale_max(void)
{
	struct cache *c = new_cache_stale(1 << 20, 3600), *d;
	struct cache_load_stats ls;
	struct fixture f;
	struct sink s;

	now_ms = 1000000;
	fixture_fill(c, &f);
	now_ms += 20000;
	s = dump(c, WALL_NOW, NULL);
	/* "old" expired 10 s before the dump: 3589 s later it is stale within 3600 s. */
	d = new_cache_stale(1 << 20, 3600);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW + 3589, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 5);
	CU_ASSERT_EQUAL(get(d, &f.q[4], 30, 65535)->state, CACHE_STALE);
	CU_ASSERT_EQUAL(get(d, &f.q[0], 30, 65535)->state, CACHE_STALE);
	cache_free(d);
	/* A second later it is gone; the NXDOMAIN (40 s left) and the A (80 s) are stale. */
	d = new_cache_stale(1 << 20, 3600);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW + 3590, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 4);
	CU_ASSERT_EQUAL(ls.expired, 1);
	CU_ASSERT_EQUAL(get(d, &f.q[4], 30, 65535)->state, CACHE_MISS);
	CU_ASSERT_EQUAL(get(d, &f.q[0], 30, 65535)->state, CACHE_STALE);
	cache_free(d);
	/* Past every lifetime and stale_max: an empty cache, and no error. */
	d = new_cache_stale(1 << 20, 3600);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW + 3600 + 481, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 0);
	CU_ASSERT_EQUAL(ls.expired, 5);
	cache_free(d);
	free(s.buf);
	fixture_free(&f);
	cache_free(c);
}

/* A cache holding one entry of its own, to see that a refused file leaves it as it was. */
static struct cache *bystander(struct msg *q, struct msg *a)
{
	static const char *const rrs[] = {"keep.example. 300 IN A 192.0.2.7", NULL};
	struct cache *d = new_cache_stale(1 << 20, 86400);

	*q = query("keep.example.", LDNS_RR_TYPE_A, false, false, false);
	*a = answer("keep.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	CU_ASSERT_EQUAL_FATAL(put(d, q, a), 1);
	return d;
}

static void assert_unchanged(struct cache *d, const struct msg *q)
{
	struct cache_stats st;

	cache_stats_get(d, &st);
	CU_ASSERT_EQUAL(st.entries, 1);
	CU_ASSERT_EQUAL(get(d, q, 0, 65535)->state, CACHE_FRESH);
}

/* Every prefix of a dump, and every change of one byte, is refused; the cache is unchanged. */
static void test_file_truncated_corrupted(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600), *d;
	struct msg kq, ka;
	struct fixture f;
	struct sink s;
	size_t refused = 0, tried = 0;

	fixture_fill(c, &f);
	s = dump(c, WALL_NOW, NULL);
	d = bystander(&kq, &ka);
	for (size_t l = 0; l < s.len; l++) {
		CU_ASSERT(cache_load(d, s.buf, l, WALL_NOW, NULL) < 0);
	}
	for (size_t i = 0; i < s.len; i++) {
		uint8_t orig = s.buf[i];

		for (unsigned v = 0; v < 256; v++) {
			if (v == orig) {
				continue;
			}
			s.buf[i] = (uint8_t)v;
			tried++;
			refused += cache_load(d, s.buf, s.len, WALL_NOW, NULL) < 0;
		}
		s.buf[i] = orig;
	}
	CU_ASSERT_EQUAL(refused, tried);
	CU_ASSERT_EQUAL(cache_load(d, s.buf + 1, s.len - 1, WALL_NOW, NULL), -EINVAL);
	assert_unchanged(d, &kq);
	/* And the untouched file loads. */
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW, NULL), 0);
	free(s.buf);
	msg_free(&kq);
	msg_free(&ka);
	fixture_free(&f);
	cache_free(d);
	cache_free(c);
}

/* Not a cache file at all, or another version: refused. */
static void test_file_foreign(void)
{
	static const char yaml[] = "# dotd\nlisten_addresses:\n  - 127.0.0.1@53\n"
				   "cache_file: /var/cache/dotd/cache\n";
	struct cache *d, *e;
	struct msg kq, ka;
	struct sink s;
	uint8_t junk[4096];
	uint32_t x = 42;

	d = bystander(&kq, &ka);
	CU_ASSERT_EQUAL(cache_load(d, (const uint8_t *)yaml, sizeof(yaml) - 1, WALL_NOW, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(cache_load(d, (const uint8_t *)"", 0, WALL_NOW, NULL), -EBADMSG);
	for (int round = 0; round < 64; round++) {
		size_t len = (size_t)round * 61;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			junk[i] = (uint8_t)(x >> 16);
		}
		CU_ASSERT(cache_load(d, junk, len, WALL_NOW, NULL) < 0);
		/* With our magic in front, random bytes are still refused. */
		if (len >= 8) {
			memcpy(junk, "DOTDCACH", 8);
			CU_ASSERT(cache_load(d, junk, len, WALL_NOW, NULL) < 0);
		}
	}
	/* An empty file of ours loads; version 2, checksum right, is another version. */
	s = file_write(NULL, 0, WALL_NOW);
	e = new_cache_stale(1 << 20, 86400);
	CU_ASSERT_EQUAL(cache_load(e, s.buf, s.len, WALL_NOW, NULL), 0);
	cache_free(e);
	dns_put32(s.buf + 8, 2);
	reseal(&s);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW, NULL), -EPROTONOSUPPORT);
	assert_unchanged(d, &kq);
	free(s.buf);
	msg_free(&kq);
	msg_free(&ka);
	cache_free(d);
}

/* The key of @q, for a file written by hand. */
static struct cache_key key_for(struct cache *c, const struct msg *q)
{
	struct cache_key k;
	bool do_bit;

	key_of(c, q, &k, &do_bit);
	return k;
}

/* Load the one-entry file of @e into the bystander @d: the result, and *@ls. */
static int load_one(struct cache *d, const struct fentry *e, struct cache_load_stats *ls)
{
	struct sink f = file_write(e, 1, WALL_NOW);
	int ret = cache_load(d, f.buf, f.len, WALL_NOW, ls);

	free(f.buf);
	return ret;
}

/*
 * A file with the right checksum but hostile contents: the whole file is refused when an entry
 * is one cache_dump() never writes (key and message apart, a message that does not read, an
 * OPT, TC, another RCODE, a name across a TTL, EDE bytes that are not whole EDE options, a key
 * twice, lengths or a count that do not add up). An entry that is merely not cacheable now is
 * skipped (a SERVFAIL, a TTL that counts as 0, one past stale_max); TTLs are clamped again.
 */
static void test_file_hostile(void)
{
	/* test_name_across_ttl's answer: a name that runs on into a TTL. */
	static const uint8_t across[] = {
		0x42, 0x42, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x05,
		'a',  'l',  'i',  'a',	's',  0x07, 'e',  'x',	'a',  'm',  'p',  'l',	'e',
		0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00,
		0x01, 0x2c, 0x00, 0x06, 0x03, 'w',  'w',  'w',	0x06, 0x12, 0xc0, 0x2b, 0x00,
		0x01, 0x00, 0x01, 0x00, 0x02, 0x01, 0x2c, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x50,
	};
	static const uint8_t ede_ok[] = {0, 15, 0, 2, 0, 17};
	static const uint8_t ede_pad[] = {0, 12, 0, 2, 0, 0};
	static const uint8_t ede_over[] = {0, 15, 0, 9, 0, 17};
	static const char *const rrs[] = {"www.example. 100 IN A 192.0.2.1", NULL};
	static const char *const huge[] = {"www.example. 2147483647 IN A 192.0.2.1", NULL};
	static const char *const msb[] = {"www.example. 2147483648 IN A 192.0.2.1", NULL};
	struct msg q = query("www.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg q6 = query("www.example.", LDNS_RR_TYPE_AAAA, false, false, false);
	struct msg qa = query("alias.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg a =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	struct msg ao =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, true, false);
	struct msg atc =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, true);
	struct msg aref =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, NULL, false, false);
	struct msg asf =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL, NULL, false, false);
	struct msg ahuge =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, huge, false, false);
	struct msg amsb =
		answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, msb, false, false);
	struct msg kq, ka;
	struct cache *d = bystander(&kq, &ka);
	struct cache_key k = key_for(d, &q), k6 = key_for(d, &q6), kal = key_for(d, &qa), kx;
	struct fentry good = {.key = k.data, .key_len = k.len, .msg = a.buf, .msg_len = a.len};
	struct fentry e, two[2];
	struct cache_load_stats ls;
	struct sink f;
	uint8_t big_key[300] = {0};

	/* What a refusal must leave: the bystander's own entry. */
#define REFUSED(entry)                                                                             \
	do {                                                                                       \
		e = (entry);                                                                       \
		CU_ASSERT_EQUAL(load_one(d, &e, &ls), -EBADMSG);                                   \
		assert_unchanged(d, &kq);                                                          \
	} while (0)

	/* The key is not the message's question. */
	kx = k;
	kx.data[1] = 'x';
	REFUSED(((struct fentry){
		.key = kx.data, .key_len = kx.len, .msg = a.buf, .msg_len = a.len}));
	kx.data[1] = 'W'; /* keys are lower-cased */
	REFUSED(((struct fentry){
		.key = kx.data, .key_len = kx.len, .msg = a.buf, .msg_len = a.len}));
	kx = k;
	kx.data[kx.len - 1] = 4; /* flags other than DO and CD */
	REFUSED(((struct fentry){
		.key = kx.data, .key_len = kx.len, .msg = a.buf, .msg_len = a.len}));
	REFUSED(((struct fentry){
		.key = k6.data, .key_len = k6.len, .msg = a.buf, .msg_len = a.len}));
	REFUSED(((struct fentry){.key = k.data, .key_len = 0, .msg = a.buf, .msg_len = a.len}));
	REFUSED(((struct fentry){.key = big_key, .key_len = 300, .msg = a.buf, .msg_len = a.len}));
	/* The message: cut short, a name across a TTL, an OPT, TC, REFUSED. */
	REFUSED(((struct fentry){
		.key = k.data, .key_len = k.len, .msg = a.buf, .msg_len = a.len - 1}));
	REFUSED(((struct fentry){
		.key = kal.data, .key_len = kal.len, .msg = across, .msg_len = sizeof(across)}));
	REFUSED(((struct fentry){
		.key = k.data, .key_len = k.len, .msg = ao.buf, .msg_len = ao.len}));
	REFUSED(((struct fentry){
		.key = k.data, .key_len = k.len, .msg = atc.buf, .msg_len = atc.len}));
	REFUSED(((struct fentry){
		.key = k.data, .key_len = k.len, .msg = aref.buf, .msg_len = aref.len}));
	/* EDE bytes: another option, one that overruns. */
	e = good;
	e.ede = ede_pad;
	e.ede_len = sizeof(ede_pad);
	REFUSED(e);
	e.ede = ede_over;
	e.ede_len = sizeof(ede_over);
	REFUSED(e);

	/* Lengths and count that do not add up, checksum right. */
	f = file_write(&good, 1, WALL_NOW);
	dns_put16(f.buf + CACHE_FILE_HDR_LEN + 2, 0xffff); /* message past the end */
	reseal(&f);
	CU_ASSERT_EQUAL(cache_load(d, f.buf, f.len, WALL_NOW, NULL), -EBADMSG);
	dns_put16(f.buf + CACHE_FILE_HDR_LEN + 2, (uint16_t)a.len);
	dns_put32(f.buf + 12, 0xffffffff); /* a huge count */
	reseal(&f);
	CU_ASSERT_EQUAL(cache_load(d, f.buf, f.len, WALL_NOW, NULL), -EBADMSG);
	dns_put32(f.buf + 12, 0); /* an entry beyond the count */
	reseal(&f);
	CU_ASSERT_EQUAL(cache_load(d, f.buf, f.len, WALL_NOW, NULL), -EBADMSG);
	put_be64(f.buf + 24, f.len + 1); /* a length that is not the file's */
	put_be64(f.buf + f.len - 8, fnv1a64(f.buf, f.len - 8));
	CU_ASSERT_EQUAL(cache_load(d, f.buf, f.len, WALL_NOW, NULL), -EBADMSG);
	free(f.buf);
	/* The same key twice. */
	two[0] = good;
	two[1] = good;
	f = file_write(two, 2, WALL_NOW);
	CU_ASSERT_EQUAL(cache_load(d, f.buf, f.len, WALL_NOW, NULL), -EBADMSG);
	free(f.buf);
	assert_unchanged(d, &kq);

	/* Skipped, not refused: a SERVFAIL, a TTL that counts as 0, an age past stale_max. */
	e = (struct fentry){.key = k.data, .key_len = k.len, .msg = asf.buf, .msg_len = asf.len};
	CU_ASSERT_EQUAL(load_one(d, &e, &ls), 0);
	CU_ASSERT_TRUE(ls.loaded == 0 && ls.skipped == 1);
	e = (struct fentry){.key = k.data, .key_len = k.len, .msg = amsb.buf, .msg_len = amsb.len};
	CU_ASSERT_EQUAL(load_one(d, &e, &ls), 0);
	CU_ASSERT_TRUE(ls.loaded == 0 && ls.skipped == 1);
	e = good;
	e.age_ms = UINT64_MAX;
	CU_ASSERT_EQUAL(load_one(d, &e, &ls), 0);
	CU_ASSERT_TRUE(ls.loaded == 0 && ls.expired == 1);
	/* Loaded, TTLs clamped to cache_max_ttl as from the network; EDE kept. */
	e = (struct fentry){
		.key = k.data, .key_len = k.len, .msg = ahuge.buf, .msg_len = ahuge.len};
	CU_ASSERT_EQUAL(load_one(d, &e, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 1);
	CU_ASSERT_EQUAL(ttl_of(get(d, &q, 0, 65535)->pkt, LDNS_SECTION_ANSWER, 0), 86400);
	e = good;
	e.ede = ede_ok;
	e.ede_len = sizeof(ede_ok);
	CU_ASSERT_EQUAL(load_one(d, &e, &ls), 0);
	CU_ASSERT_EQUAL(ls.loaded, 1);
	CU_ASSERT_EQUAL(get(d, &q, 0, 65535)->state, CACHE_FRESH);
#undef REFUSED
	msg_free(&q);
	msg_free(&q6);
	msg_free(&qa);
	msg_free(&a);
	msg_free(&ao);
	msg_free(&atc);
	msg_free(&aref);
	msg_free(&asf);
	msg_free(&ahuge);
	msg_free(&amsb);
	msg_free(&kq);
	msg_free(&ka);
	cache_free(d);
}

/* A file larger than the cache: the bound holds, the newest entries stay. */
static void test_file_bound(void)
{
	struct cache *c = new_cache_stale(1 << 20, 86400), *d;
	struct cache_load_stats ls;
	struct cache_stats st;
	struct msg q[400], a[400];
	char name[64], rr[128];
	struct sink s;

	for (int i = 0; i < 400; i++) {
		const char *rrs[] = {rr, NULL};

		snprintf(name, sizeof(name), "host%d.example.", i);
		snprintf(rr, sizeof(rr), "%s 300 IN A 192.0.2.%d", name, i % 250);
		q[i] = query(name, LDNS_RR_TYPE_A, false, false, false);
		a[i] = answer(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
		CU_ASSERT_EQUAL_FATAL(put(c, &q[i], &a[i]), 1);
	}
	s = dump(c, WALL_NOW, NULL);
	d = new_cache_stale(48 * 1024, 86400);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW, &ls), 0);
	cache_stats_get(d, &st);
	CU_ASSERT_EQUAL(ls.loaded, 400);
	CU_ASSERT(ls.evicted > 0);
	CU_ASSERT_EQUAL(st.entries, 400 - ls.evicted);
	CU_ASSERT(st.bytes <= 48 * 1024);
	CU_ASSERT_EQUAL(get(d, &q[399], 0, 65535)->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(get(d, &q[0], 0, 65535)->state, CACHE_MISS);
	cache_free(d);
	/* A disabled cache takes nothing, and that is no error. */
	d = new_cache_stale(0, 86400);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW, &ls), 0);
	CU_ASSERT_TRUE(ls.loaded == 0 && ls.skipped == 400);
	cache_free(d);
	free(s.buf);
	for (int i = 0; i < 400; i++) {
		msg_free(&q[i]);
		msg_free(&a[i]);
	}
	cache_free(c);
}

/* The largest entries round-trip (written past the dump's buffer); a write error stops it. */
static void test_file_large_and_errors(void)
{
	char name[300], *line;
	const char *rrs[244];
	struct cache *c = new_cache_stale(1 << 20, 86400), *d;
	struct msg q, a;
	struct sink s, s2 = {.fail_after = 100};
	size_t n;

	/* A 240-octet name and 243 TXT records of 255 octets: a 65 KB message. */
	snprintf(name, sizeof(name), "%.63s.%.63s.%.63s.%.47s.",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "ccccccccccccccccccccccccccccccccccccccccccccccc"
		 "cccccccccccccccccccccccccc",
		 "ddddddddddddddddddddddddddddddddddddddddddddddddddd");
	line = malloc(1024);
	snprintf(line, 1024, "%s 300 IN TXT \"%0255d\"", name, 0);
	for (int i = 0; i < 243; i++) {
		rrs[i] = line;
	}
	rrs[243] = NULL;
	q = query(name, LDNS_RR_TYPE_TXT, false, false, false);
	a = answer(name, LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, rrs, false, false);
	CU_ASSERT_FATAL(a.len > 65000 && a.len <= 65535);
	CU_ASSERT_EQUAL_FATAL(put(c, &q, &a), 1);
	s = dump(c, WALL_NOW, &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(s.len > 65536);
	d = new_cache_stale(1 << 20, 86400);
	CU_ASSERT_EQUAL(cache_load(d, s.buf, s.len, WALL_NOW, NULL), 0);
	CU_ASSERT_EQUAL(get(d, &q, 0, 65535)->state, CACHE_FRESH);
	CU_ASSERT_EQUAL(ldns_pkt_ancount(get_last()->pkt), 243);
	/* The callback's error is the dump's, and n is not written. */
	n = 7;
	CU_ASSERT_EQUAL(cache_dump(c, WALL_NOW, sink_write, &s2, &n), -ENOSPC);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_EQUAL(s2.calls, 2); /* the header, then the entry that fails: nothing after */
	free(s2.buf);
	free(s.buf);
	free(line);
	msg_free(&q);
	msg_free(&a);
	cache_free(d);
	cache_free(c);
}

/* --- flush and reload --- */

/* A question and its answer, one record and no OPT, for the tests that count entries. */
struct qa {
	struct msg q;
	struct msg a;
};

/* The query for @name/@type (@edns, @do_bit, @cd as query() takes them) and an answer. */
static struct qa qa_make(const char *name, ldns_rr_type type, uint32_t ttl, bool edns, bool do_bit,
			 bool cd)
{
	const char *rdata = "A 192.0.2.1";
	char rr[512];
	const char *rrs[] = {rr, NULL};
	struct qa x;

	if (type == LDNS_RR_TYPE_AAAA) {
		rdata = "AAAA 2001:db8::1";
	} else if (type == LDNS_RR_TYPE_MX) {
		rdata = "MX 10 mx.example.";
	}
	snprintf(rr, sizeof(rr), "%s %u IN %s", name, ttl, rdata);
	x.q = query(name, type, edns, do_bit, cd);
	x.a = answer(name, type, LDNS_RCODE_NOERROR, rrs, false, false);
	return x;
}

/* Make @x's question (of query and answer) one of class @qclass. */
static void qa_set_class(struct qa *x, uint16_t qclass)
{
	struct dns_question dq;

	CU_ASSERT_EQUAL_FATAL(dns_question_parse(x->q.buf, x->q.len, &dq), 0);
	dns_put16(x->q.buf + dq.end - 2, qclass);
	dns_put16(x->a.buf + dq.end - 2, qclass);
}

static void qa_free(struct qa *xs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		msg_free(&xs[i].q);
		msg_free(&xs[i].a);
	}
}

/* What @x's entry costs, from its parts: the message (no OPT to cut), its TTLs, its key. */
static size_t qa_cost(const struct qa *x)
{
	struct dns_question dq;
	size_t n_rrs =
		(size_t)dns_ancount(x->a.buf) + dns_nscount(x->a.buf) + dns_arcount(x->a.buf);

	CU_ASSERT_EQUAL_FATAL(dns_question_parse(x->q.buf, x->q.len, &dq), 0);
	return cache_entry_cost(x->a.len, n_rrs, dq.name_len + 5);
}

/* The bytes of a cache of @max_bytes that holds nothing: itself and its first index. */
static size_t empty_bytes(size_t max_bytes)
{
	struct cache_params p = {.max_bytes = max_bytes, .max_ttl = 86400, .now = fake_now};
	struct cache_stats st;
	struct cache *e = NULL;

	CU_ASSERT_EQUAL_FATAL(cache_new(&p, &e), 0);
	cache_stats_get(e, &st);
	cache_free(e);
	return st.bytes;
}

/*
 * Which of @xs (@n of them) @c holds, found[i] (a lookup finds it, fresh or stale; it marks
 * it hit), and whether the counts are a fresh sum of what it holds: as many entries as found,
 * and the bytes of an empty cache (@base) and of each entry found. The index must not have
 * grown (fewer than 1024 entries). Returns the number found.
 */
static size_t held(struct cache *c, struct qa *xs, size_t n, size_t base, bool *found)
{
	struct cache_stats st;
	size_t n_found = 0, bytes = base;

	for (size_t i = 0; i < n; i++) {
		found[i] = get(c, &xs[i].q, 30, 65535)->state != CACHE_MISS;
		if (found[i]) {
			n_found++;
			bytes += qa_cost(&xs[i]);
		}
	}
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.entries, n_found);
	CU_ASSERT_EQUAL(st.bytes, bytes);
	return n_found;
}

/*
 * The entries the flush tests start from: www.example. in seven variants (A without EDNS,
 * with DO, with CD, with both; AAAA; MX; A of class CH), then the names around it: another,
 * one below, one above, one that shares its first labels.
 */
enum {
	FX_A,
	FX_A_DO,
	FX_A_CD,
	FX_A_DO_CD,
	FX_AAAA,
	FX_MX,
	FX_A_CH,
	FX_OTHER,
	FX_BELOW,
	FX_ABOVE,
	FX_LONGER,
	FX_N,
};

static void flush_fixture(struct cache *c, struct qa *xs)
{
	xs[FX_A] = qa_make("www.example.", LDNS_RR_TYPE_A, 300, false, false, false);
	xs[FX_A_DO] = qa_make("www.example.", LDNS_RR_TYPE_A, 300, true, true, false);
	xs[FX_A_CD] = qa_make("www.example.", LDNS_RR_TYPE_A, 300, false, false, true);
	xs[FX_A_DO_CD] = qa_make("www.example.", LDNS_RR_TYPE_A, 300, true, true, true);
	xs[FX_AAAA] = qa_make("www.example.", LDNS_RR_TYPE_AAAA, 300, false, false, false);
	xs[FX_MX] = qa_make("www.example.", LDNS_RR_TYPE_MX, 300, false, false, false);
	xs[FX_A_CH] = qa_make("www.example.", LDNS_RR_TYPE_A, 300, false, false, false);
	qa_set_class(&xs[FX_A_CH], DNS_CLASS_CH);
	xs[FX_OTHER] = qa_make("other.example.", LDNS_RR_TYPE_A, 300, false, false, false);
	xs[FX_BELOW] = qa_make("sub.www.example.", LDNS_RR_TYPE_A, 300, false, false, false);
	xs[FX_ABOVE] = qa_make("example.", LDNS_RR_TYPE_A, 300, false, false, false);
	xs[FX_LONGER] = qa_make("www.example.com.", LDNS_RR_TYPE_A, 300, false, false, false);
	for (size_t i = 0; i < FX_N; i++) {
		CU_ASSERT_EQUAL_FATAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
}

/* Whether found[] is true exactly for the indexes in @keep (ended by -1). */
static bool found_exactly(const bool *found, size_t n, const int *keep)
{
	for (size_t i = 0; i < n; i++) {
		bool kept = false;

		for (const int *k = keep; *k >= 0; k++) {
			kept = kept || (size_t)*k == i;
		}
		if (found[i] != kept) {
			return false;
		}
	}
	return true;
}

/* The name of @m's question, in wire format, as a client spelt it. */
static const uint8_t *qname(const struct msg *m)
{
	return m->buf + DNS_HDR_LEN;
}

/* Flush with no name: every entry goes, of every type, and the counters stay. */
static void test_flush_all(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	size_t base = empty_bytes(1 << 20);
	struct cache_stats st, st2;
	struct qa xs[FX_N];
	bool found[FX_N];

	flush_fixture(c, xs);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N);
	cache_stats_get(c, &st);
	/* The type is not read without a name. */
	CU_ASSERT_EQUAL(cache_flush(c, NULL, DNS_TYPE_A), FX_N);
	cache_stats_get(c, &st2);
	CU_ASSERT_EQUAL(st2.entries, 0);
	CU_ASSERT_EQUAL(st2.bytes, base);
	CU_ASSERT_EQUAL(st2.hits, st.hits);
	CU_ASSERT_EQUAL(st2.inserts, st.inserts);
	CU_ASSERT_EQUAL(st2.evicted_live + st2.evicted_expired, 0);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), 0);
	CU_ASSERT_EQUAL(cache_flush(c, NULL, -1), 0);
	/* The index is whole and empty: entries are stored and found again. */
	CU_ASSERT_EQUAL(put(c, &xs[FX_AAAA].q, &xs[FX_AAAA].a), 1);
	CU_ASSERT_EQUAL(put(c, &xs[FX_OTHER].q, &xs[FX_OTHER].a), 1);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), 2);
	CU_ASSERT_TRUE(found_exactly(found, FX_N, (const int[]){FX_AAAA, FX_OTHER, -1}));
	qa_free(xs, FX_N);
	cache_free(c);
}

/*
 * Flush a name, spelt in mixed case, of every type: all its entries go (A and AAAA, MX, the
 * DO and CD variants, class CH); another name, the names below and above it and a longer
 * one that starts alike stay.
 */
static void test_flush_name(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	size_t base = empty_bytes(1 << 20);
	struct msg mixed = query("WwW.eXaMpLe.", LDNS_RR_TYPE_TXT, false, false, false);
	struct cache_stats st, st2;
	struct qa xs[FX_N];
	bool found[FX_N];

	flush_fixture(c, xs);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&mixed), -1), 7);
	cache_stats_get(c, &st2);
	CU_ASSERT_EQUAL(st2.entries, FX_N - 7);
	CU_ASSERT_EQUAL(st2.evicted_live + st2.evicted_expired, 0);
	CU_ASSERT_EQUAL(st2.inserts, st.inserts);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N - 7);
	CU_ASSERT_TRUE(found_exactly(found, FX_N,
				     (const int[]){FX_OTHER, FX_BELOW, FX_ABOVE, FX_LONGER, -1}));
	CU_ASSERT_EQUAL(cache_flush(c, qname(&mixed), -1), 0);
	/* What is left goes on working: stored again, flushed again. */
	CU_ASSERT_EQUAL(put(c, &xs[FX_AAAA].q, &xs[FX_AAAA].a), 1);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[FX_BELOW].q), -1), 1);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), 4);
	CU_ASSERT_TRUE(found_exactly(found, FX_N,
				     (const int[]){FX_AAAA, FX_OTHER, FX_ABOVE, FX_LONGER, -1}));
	msg_free(&mixed);
	qa_free(xs, FX_N);
	cache_free(c);
}

/*
 * Flush a name and one type: AAAA goes, A stays; then A, in every variant of the key (DO, CD,
 * both, class CH), and MX stays.
 */
static void test_flush_name_type(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	size_t base = empty_bytes(1 << 20);
	struct msg upper = query("WWW.EXAMPLE.", LDNS_RR_TYPE_A, false, false, false);
	struct qa xs[FX_N];
	bool found[FX_N];

	flush_fixture(c, xs);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&upper), DNS_TYPE_AAAA), 1);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N - 1);
	CU_ASSERT_TRUE(
		found_exactly(found, FX_N,
			      (const int[]){FX_A, FX_A_DO, FX_A_CD, FX_A_DO_CD, FX_MX, FX_A_CH,
					    FX_OTHER, FX_BELOW, FX_ABOVE, FX_LONGER, -1}));
	CU_ASSERT_EQUAL(cache_flush(c, qname(&upper), DNS_TYPE_AAAA), 0);

	CU_ASSERT_EQUAL(cache_flush(c, qname(&upper), DNS_TYPE_A), 5);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N - 6);
	CU_ASSERT_TRUE(found_exactly(
		found, FX_N, (const int[]){FX_MX, FX_OTHER, FX_BELOW, FX_ABOVE, FX_LONGER, -1}));
	msg_free(&upper);
	qa_free(xs, FX_N);
	cache_free(c);
}

/*
 * Nothing held for it: a name not present, the parent of one that is, a type not present, a
 * malformed name, a type out of range; and a disabled cache. Nothing changes.
 */
static void test_flush_absent(void)
{
	static const uint8_t pointer[] = {3, 'w', 'w', 'w', 0xc0, 0x0c};
	static const uint8_t overlong[] = {64, 'x'};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600), *d;
	size_t base = empty_bytes(1 << 20);
	struct msg absent = query("nothere.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg parent = query("example.com.", LDNS_RR_TYPE_A, false, false, false);
	struct cache_stats st, st2;
	struct qa xs[FX_N];
	bool found[FX_N];

	flush_fixture(c, xs);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&absent), -1), 0);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&parent), -1), 0);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[FX_A].q), DNS_TYPE_TXT), 0);
	CU_ASSERT_EQUAL(cache_flush(c, pointer, -1), 0);
	CU_ASSERT_EQUAL(cache_flush(c, overlong, -1), 0);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[FX_A].q), -2), 0);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[FX_A].q), 65536 + DNS_TYPE_A), 0);
	cache_stats_get(c, &st2);
	CU_ASSERT_EQUAL(st2.entries, st.entries);
	CU_ASSERT_EQUAL(st2.bytes, st.bytes);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N);

	d = new_cache(0, 0, 86400, 3600);
	CU_ASSERT_EQUAL(cache_flush(d, qname(&xs[FX_A].q), -1), 0);
	CU_ASSERT_EQUAL(cache_flush(d, NULL, -1), 0);
	cache_free(d);
	msg_free(&absent);
	msg_free(&parent);
	qa_free(xs, FX_N);
	cache_free(c);
}

#define SMALL_BYTES (40 * 1024)
#define SMALL_N	    400 /* more than fit in SMALL_BYTES on 32-bit machines too */

/*
 * Fill a cache of SMALL_BYTES with entries of one size, "n000.example." on: the first 10 live
 * 10 s, the others an hour. Fills until one more would evict; returns how many were stored.
 */
static size_t small_fill(struct cache *c, struct qa *xs)
{
	struct cache_stats st;
	char name[64];
	size_t n;

	for (size_t i = 0; i < SMALL_N; i++) {
		snprintf(name, sizeof(name), "n%03zu.example.", i);
		xs[i] = qa_make(name, LDNS_RR_TYPE_A, i < 10 ? 10 : 3600, false, false, false);
	}
	for (n = 0; n < SMALL_N; n++) {
		cache_stats_get(c, &st);
		if (st.bytes + qa_cost(&xs[n]) > SMALL_BYTES) {
			break;
		}
		CU_ASSERT_EQUAL_FATAL(put(c, &xs[n].q, &xs[n].a), 1);
	}
	CU_ASSERT_FATAL(n > 40 && n < SMALL_N - 40);
	return n;
}

/*
 * After a flush the heap and the SIEVE queue are whole: the expired entries left are evicted
 * first, then the oldest not hit; a flush of the entry under the hand moves the hand on.
 */
static void test_flush_then_evict(void)
{
	struct cache *c = new_cache(SMALL_BYTES, 0, 86400, 3600);
	size_t base = empty_bytes(SMALL_BYTES), n, i;
	struct cache_stats st;
	struct qa xs[SMALL_N];
	bool found[SMALL_N];

	n = small_fill(c, xs);
	for (i = 10; i < 20; i++) {
		get(c, &xs[i].q, 0, 65535);
	}
	/* Three that are to expire, one live in the middle of the queue. */
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[0].q), -1), 1);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[1].q), -1), 1);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[2].q), DNS_TYPE_A), 1);
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[30].q), -1), 1);
	now_ms += 11000;
	/* Four stored in their room, then 7 expired evicted, then 20..24 (10..19 were hit). */
	for (i = n; i < SMALL_N; i++) {
		CU_ASSERT_EQUAL(put(c, &xs[i].q, &xs[i].a), 1);
		cache_stats_get(c, &st);
		if (st.evicted_expired + st.evicted_live >= 12) {
			break;
		}
	}
	CU_ASSERT_EQUAL_FATAL(i, n + 4 + 12 - 1);
	CU_ASSERT_EQUAL(st.evicted_expired, 7);
	CU_ASSERT_EQUAL(st.evicted_live, 5);
	/* The hand is at 25: flushed, the next eviction takes 26. */
	CU_ASSERT_EQUAL(cache_flush(c, qname(&xs[25].q), -1), 1);
	CU_ASSERT_EQUAL(put(c, &xs[i + 1].q, &xs[i + 1].a), 1);
	CU_ASSERT_EQUAL(put(c, &xs[i + 2].q, &xs[i + 2].a), 1);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.evicted_expired, 7);
	CU_ASSERT_EQUAL(st.evicted_live, 6);
	CU_ASSERT(st.bytes <= SMALL_BYTES);
	/* As many as at the start: each flushed or evicted one was replaced by one stored. */
	CU_ASSERT_EQUAL(held(c, xs, SMALL_N, base, found), n);
	for (size_t j = 0; j < SMALL_N; j++) {
		bool gone = j < 10 || (j >= 20 && j <= 26) || j == 30 || j > i + 2;

		CU_ASSERT_EQUAL(found[j], !gone);
	}
	/* Everything flushed with the hand on an entry: filled again, evicting from the tail. */
	CU_ASSERT_EQUAL(cache_flush(c, NULL, -1), n);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.bytes, base);
	for (i = 0; i < n + 1; i++) {
		CU_ASSERT_EQUAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.evicted_expired, 7);
	CU_ASSERT_EQUAL(st.evicted_live, 7);
	CU_ASSERT_EQUAL(held(c, xs, SMALL_N, base, found), n);
	CU_ASSERT_FALSE(found[0]);
	CU_ASSERT_TRUE(found[n]);
	qa_free(xs, SMALL_N);
	cache_free(c);
}

/* The first TTL of @sec in @c's fresh answer to @q, which must be there. */
static uint32_t fresh_ttl(struct cache *c, const struct msg *q, ldns_pkt_section sec)
{
	struct hit *h = get(c, q, 0, 65535);

	CU_ASSERT_EQUAL_FATAL(h->state, CACHE_FRESH);
	return ttl_of(h->pkt, sec, 0);
}

/* The settings of a reload. */
static struct cache_params params(size_t bytes, uint32_t min_ttl, uint32_t max_ttl,
				  uint32_t max_neg, uint32_t stale_max)
{
	return (struct cache_params){
		.max_bytes = bytes,
		.min_ttl = min_ttl,
		.max_ttl = max_ttl,
		.max_neg_ttl = max_neg,
		.stale_max = stale_max,
		.now = fake_now,
	};
}

/* @n entries of one size, "s0000.example." on, TTL 3600 but the first @n_short (10 s). */
static void same_size(struct qa *xs, size_t n, size_t n_short)
{
	char name[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "s%04zu.example.", i);
		xs[i] = qa_make(name, LDNS_RR_TYPE_A, i < n_short ? 10 : 3600, false, false, false);
	}
}

/*
 * A smaller cache_size evicts as an insertion does: the expired entries, then from the SIEVE
 * hand, sparing those hit; just as many go as the new size asks. What is left is served and
 * the counters go on.
 */
static void test_params_shrink(void)
{
	enum { N = 400 }; /* as SMALL_N: more than SMALL_BYTES holds, even on 32-bit machines */
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct cache_params p = params(SMALL_BYTES, 0, 86400, 3600, 86400);
	size_t base = empty_bytes(SMALL_BYTES), kept;
	struct cache_stats st0, st;
	struct qa xs[N];
	bool found[N];

	same_size(xs, N, 10);
	for (size_t i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	for (size_t i = 100; i < 110; i++) {
		CU_ASSERT_EQUAL(get(c, &xs[i].q, 0, 65535)->state, CACHE_FRESH);
	}
	now_ms += 11000;
	cache_stats_get(c, &st0);
	CU_ASSERT_EQUAL(cache_params_set(c, &p), 0);
	cache_stats_get(c, &st);
	CU_ASSERT(st.bytes <= SMALL_BYTES);
	CU_ASSERT(st.bytes + qa_cost(&xs[0]) > SMALL_BYTES); /* no more went than had to */
	CU_ASSERT_EQUAL(st.evicted_expired, 10);
	CU_ASSERT_EQUAL(st.evicted_live, N - 10 - st.entries);
	CU_ASSERT_EQUAL(st.hits, st0.hits);
	CU_ASSERT_EQUAL(st.misses, st0.misses);
	CU_ASSERT_EQUAL(st.inserts, st0.inserts);
	/* Kept: the ten hit, and the newest. */
	kept = held(c, xs, N, base, found);
	CU_ASSERT_FATAL(kept > 20 && kept < N - 100);
	for (size_t i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(found[i], (i >= 100 && i < 110) || i >= N - (kept - 10));
	}
	CU_ASSERT_EQUAL(fresh_ttl(c, &xs[N - 1].q, LDNS_SECTION_ANSWER), 3600 - 11);
	/* Insertions go on under the new bound. */
	CU_ASSERT_EQUAL(put(c, &xs[0].q, &xs[0].a), 1);
	cache_stats_get(c, &st);
	CU_ASSERT(st.bytes <= SMALL_BYTES);
	CU_ASSERT_EQUAL(st.entries, kept);
	qa_free(xs, N);
	cache_free(c);
}

/*
 * A cache whose index has grown (4096 buckets and heap slots: 64 KiB) cut down, first to room
 * for 1500 entries, then to SMALL_BYTES: evicting alone would not fit, the index shrinks with
 * the entries. It holds as many as fit with the index an insertion grows for them, the
 * newest; grown again it takes thousands once more.
 */
static void test_params_shrink_index(void)
{
	enum { N = 3000 };
	struct cache *c = new_cache(4 << 20, 0, 86400, 3600);
	struct cache_params small = params(SMALL_BYTES, 0, 86400, 3600, 86400);
	struct cache_params big = params(4 << 20, 0, 86400, 3600, 86400), medium;
	size_t base = empty_bytes(SMALL_BYTES), fits, n_found, cost;
	struct cache_stats st;
	struct qa *xs = calloc(N, sizeof(*xs));
	bool *found = calloc(N, sizeof(*found));

	CU_ASSERT_FATAL(xs && found);
	same_size(xs, N, 0);
	cost = qa_cost(&xs[0]);
	fits = (SMALL_BYTES - base) / cost;
	for (size_t i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	cache_stats_get(c, &st);
	/* The index has grown from 1024 buckets and heap slots to 4096 each. */
	CU_ASSERT_EQUAL_FATAL(st.bytes, base + N * cost + 2 * 3072 * sizeof(void *));
	/*
	 * Room for 1500 entries and an index of 2048 each (load 1), and half an entry: the index
	 * halves, and as many stay as fit with it, the newest.
	 */
	medium = params(base + 2 * 1024 * sizeof(void *) + 1500 * cost + cost / 2, 0, 86400, 3600,
			86400);
	CU_ASSERT_EQUAL(cache_params_set(c, &medium), 0);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.entries, 1500);
	CU_ASSERT_EQUAL(st.bytes, base + 2 * 1024 * sizeof(void *) + 1500 * cost);
	n_found = 0;
	for (size_t i = 0; i < N; i++) {
		bool hit = get(c, &xs[i].q, 0, 65535)->state == CACHE_FRESH;

		CU_ASSERT_EQUAL(hit, i >= N - 1500);
		n_found += hit;
	}
	CU_ASSERT_EQUAL(n_found, 1500);
	CU_ASSERT_EQUAL(cache_params_set(c, &small), 0);
	cache_stats_get(c, &st);
	CU_ASSERT(st.bytes <= SMALL_BYTES);
	CU_ASSERT_EQUAL(st.entries, fits);
	CU_ASSERT_EQUAL(st.evicted_live, N - fits);
	/* The bytes are those of a new cache's index and the entries: the index is its first. */
	n_found = held(c, xs, N, base, found);
	CU_ASSERT_EQUAL(n_found, fits);
	for (size_t i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(found[i], i >= N - fits);
	}
	/* The shrunk index serves: insertions evict in turn, the bound holds. */
	for (size_t i = 0; i < 50; i++) {
		CU_ASSERT_EQUAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	cache_stats_get(c, &st);
	CU_ASSERT(st.bytes <= SMALL_BYTES);
	CU_ASSERT_EQUAL(st.entries, fits);
	CU_ASSERT_EQUAL(get(c, &xs[49].q, 0, 65535)->state, CACHE_FRESH);
	/* Grown again, it takes all of them, its index growing again. */
	CU_ASSERT_EQUAL(cache_params_set(c, &big), 0);
	for (size_t i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.entries, N);
	CU_ASSERT_EQUAL(st.evicted_live, N - fits + 50);
	n_found = 0;
	for (size_t i = 0; i < N; i++) {
		n_found += get(c, &xs[i].q, 0, 65535)->state == CACHE_FRESH;
	}
	CU_ASSERT_EQUAL(n_found, N);
	qa_free(xs, N);
	free(xs);
	free(found);
	cache_free(c);
}

/* A larger cache_size: nothing goes, and the cache grows past the old size without evicting. */
static void test_params_grow(void)
{
	struct cache *c = new_cache(SMALL_BYTES, 0, 86400, 3600);
	struct cache_params p = params(1 << 20, 0, 86400, 3600, 86400);
	size_t base = empty_bytes(SMALL_BYTES), n, i;
	struct cache_stats st0, st;
	struct qa xs[SMALL_N];
	bool found[SMALL_N];

	n = small_fill(c, xs);
	for (i = n; i < n + 20; i++) {
		CU_ASSERT_EQUAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	cache_stats_get(c, &st0);
	CU_ASSERT_EQUAL_FATAL(st0.evicted_live, 20);
	CU_ASSERT_EQUAL(cache_params_set(c, &p), 0);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.entries, st0.entries);
	CU_ASSERT_EQUAL(st.bytes, st0.bytes);
	for (; i < SMALL_N; i++) {
		CU_ASSERT_EQUAL(put(c, &xs[i].q, &xs[i].a), 1);
	}
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.evicted_live + st.evicted_expired, 20);
	CU_ASSERT(st.bytes > SMALL_BYTES);
	CU_ASSERT_EQUAL(held(c, xs, SMALL_N, base, found), SMALL_N - 20);
	for (i = 0; i < SMALL_N; i++) {
		CU_ASSERT_EQUAL(found[i], i >= 20);
	}
	qa_free(xs, SMALL_N);
	cache_free(c);
}

/* Each counter of @a1 less @a0 equals that of @b1 less @b0: the same operations counted alike. */
static bool same_counts(const struct cache_stats *a0, const struct cache_stats *a1,
			const struct cache_stats *b0, const struct cache_stats *b1)
{
	return a1->hits - a0->hits == b1->hits - b0->hits &&
	       a1->misses - a0->misses == b1->misses - b0->misses &&
	       a1->stale_hits - a0->stale_hits == b1->stale_hits - b0->stale_hits &&
	       a1->inserts - a0->inserts == b1->inserts - b0->inserts &&
	       a1->not_cacheable - a0->not_cacheable == b1->not_cacheable - b0->not_cacheable &&
	       a1->evicted_expired - a0->evicted_expired ==
		       b1->evicted_expired - b0->evicted_expired &&
	       a1->evicted_live - a0->evicted_live == b1->evicted_live - b0->evicted_live &&
	       a1->refresh_failures - a0->refresh_failures ==
		       b1->refresh_failures - b0->refresh_failures &&
	       a1->entries == b1->entries && a1->bytes == b1->bytes;
}

/*
 * What a disabled cache does, on @c: nothing is stored (an insertion says 0, counts nothing),
 * lookups miss, nothing is stale or held, a flush drops nothing, a dump holds no entry and a
 * load (of @f, the flush fixture's dump) takes none. The same dump as @ref's, a cache made
 * disabled, which gets the same calls: they count alike.
 */
static void disabled_alike(struct cache *c, struct cache *ref, struct qa *x, const struct sink *f)
{
	struct cache *both[2] = {c, ref};
	struct cache_stats st0[2], st1[2];
	struct sink dumps[2];
	struct cache_load_stats ls;
	struct cache_key k;
	size_t n;

	for (int i = 0; i < 2; i++) {
		cache_stats_get(both[i], &st0[i]);
		k = key_for(both[i], &x->q);
		CU_ASSERT_EQUAL(put(both[i], &x->q, &x->a), 0);
		CU_ASSERT_EQUAL(get(both[i], &x->q, 30, 65535)->state, CACHE_MISS);
		CU_ASSERT_FALSE(cache_has_stale(both[i], &k));
		CU_ASSERT_FALSE(cache_refresh_failed(both[i], &k));
		CU_ASSERT_FALSE(cache_refresh_held(both[i], &k));
		CU_ASSERT_EQUAL(cache_flush(both[i], qname(&x->q), -1), 0);
		CU_ASSERT_EQUAL(cache_flush(both[i], NULL, -1), 0);
		dumps[i] = dump(both[i], WALL_NOW, &n);
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_EQUAL(cache_load(both[i], f->buf, f->len, WALL_NOW, &ls), 0);
		CU_ASSERT_TRUE(ls.loaded == 0 && ls.skipped == FX_N);
		cache_stats_get(both[i], &st1[i]);
		CU_ASSERT_EQUAL(st1[i].entries, 0);
		CU_ASSERT_EQUAL(st1[i].bytes, 0);
	}
	CU_ASSERT_TRUE(same_counts(&st0[0], &st1[0], &st0[1], &st1[1]));
	CU_ASSERT_TRUE(dumps[0].len == dumps[1].len &&
		       memcmp(dumps[0].buf, dumps[1].buf, dumps[0].len) == 0);
	free(dumps[0].buf);
	free(dumps[1].buf);
}

/*
 * cache_size 0: every entry dropped (no eviction counted), the cache disabled as one made so;
 * the other counters stay. Enabled again it stores, and keys made before still find entries:
 * the hash secret did not change.
 */
static void test_params_disable(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600), *ref = new_cache(0, 0, 86400, 3600);
	struct cache_params off = params(0, 0, 86400, 3600, 86400);
	struct cache_params on = params(1 << 20, 0, 86400, 3600, 86400);
	size_t base = empty_bytes(1 << 20);
	struct cache_stats st0, st;
	struct cache_key k_before;
	struct cache_client cl;
	struct dns_question dq;
	struct qa xs[FX_N];
	bool found[FX_N], prefetch;
	struct sink f;
	size_t len;

	flush_fixture(c, xs);
	k_before = key_for(c, &xs[FX_OTHER].q);
	f = dump(c, WALL_NOW, NULL); /* the fixture's entries, for a load into the disabled */
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N);
	cache_stats_get(c, &st0);
	CU_ASSERT_EQUAL(cache_params_set(c, &off), 0);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.entries, 0);
	CU_ASSERT_EQUAL(st.bytes, 0);
	CU_ASSERT_EQUAL(st.hits, st0.hits);
	CU_ASSERT_EQUAL(st.inserts, st0.inserts);
	CU_ASSERT_EQUAL(st.evicted_live + st.evicted_expired, 0);
	disabled_alike(c, ref, &xs[FX_A], &f);
	/* Disabled again: no change. */
	CU_ASSERT_EQUAL(cache_params_set(c, &off), 0);
	disabled_alike(c, ref, &xs[FX_AAAA], &f);

	/* Enabled: as a new cache, it stores again, found by a key made before. */
	CU_ASSERT_EQUAL(cache_params_set(c, &on), 0);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.bytes, base);
	CU_ASSERT_EQUAL(put(c, &xs[FX_OTHER].q, &xs[FX_OTHER].a), 1);
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), 1);
	CU_ASSERT_TRUE(found[FX_OTHER]);
	dns_question_parse(xs[FX_OTHER].q.buf, xs[FX_OTHER].q.len, &dq);
	cl = (struct cache_client){.query = xs[FX_OTHER].q.buf, .qend = dq.end, .max_len = 65535};
	CU_ASSERT_EQUAL(
		cache_lookup(c, &k_before, &cl, 0, last.wire, sizeof(last.wire), &len, &prefetch),
		CACHE_FRESH);
	free(f.buf);
	qa_free(xs, FX_N);
	cache_free(ref);
	cache_free(c);
}

static uint64_t far_now(void *arg)
{
	(void)arg;
	return now_ms + 86400ull * 1000 * 365;
}

/*
 * The TTL limits of a reload apply to answers stored after it: cache_max_ttl lowered, then
 * cache_min_ttl raised and cache_max_negative_ttl lowered. What was stored keeps its expiry;
 * serve_stale_max applies at once. The clock given is not taken: the cache keeps its own.
 */
static void test_params_ttl(void)
{
	static const char *const soa[] = {
		"ns:example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 60", NULL};
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600);
	struct cache_params p = params(1 << 20, 30, 100, 10, 86400);
	struct qa old = qa_make("old.example.", LDNS_RR_TYPE_A, 1000, false, false, false);
	struct qa fresh = qa_make("new.example.", LDNS_RR_TYPE_A, 1000, false, false, false);
	struct qa shorter = qa_make("short.example.", LDNS_RR_TYPE_A, 5, false, false, false);
	struct qa stale = qa_make("stale.example.", LDNS_RR_TYPE_A, 10, false, false, false);
	struct msg nq = query("nx.example.", LDNS_RR_TYPE_A, false, false, false);
	struct msg nx =
		answer("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, soa, false, false);
	struct cache_key k_stale;

	CU_ASSERT_EQUAL(put(c, &old.q, &old.a), 1);
	CU_ASSERT_EQUAL(put(c, &stale.q, &stale.a), 1);
	k_stale = key_for(c, &stale.q);
	now_ms += 20000; /* stale is 10 s past its TTL */
	CU_ASSERT_TRUE(cache_has_stale(c, &k_stale));
	p.now = far_now;
	CU_ASSERT_EQUAL(cache_params_set(c, &p), 0);
	/* Stored before: its TTL and expiry as they were, on the cache's own clock. */
	CU_ASSERT_EQUAL(fresh_ttl(c, &old.q, LDNS_SECTION_ANSWER), 980);
	/* Stored after: 1000 capped at 100, 5 raised to 30, the NXDOMAIN's 60 capped at 10. */
	CU_ASSERT_EQUAL(put(c, &fresh.q, &fresh.a), 1);
	CU_ASSERT_EQUAL(put(c, &shorter.q, &shorter.a), 1);
	CU_ASSERT_EQUAL(put(c, &nq, &nx), 1);
	CU_ASSERT_EQUAL(fresh_ttl(c, &fresh.q, LDNS_SECTION_ANSWER), 100);
	CU_ASSERT_EQUAL(fresh_ttl(c, &shorter.q, LDNS_SECTION_ANSWER), 30);
	CU_ASSERT_EQUAL(fresh_ttl(c, &nq, LDNS_SECTION_AUTHORITY), 10);
	now_ms += 10000;
	CU_ASSERT_EQUAL(get(c, &nq, 0, 65535)->state, CACHE_MISS);
	now_ms += 90000;
	CU_ASSERT_EQUAL(get(c, &fresh.q, 0, 65535)->state, CACHE_MISS);
	CU_ASSERT_EQUAL(fresh_ttl(c, &old.q, LDNS_SECTION_ANSWER), 880);
	now_ms += 880000 - 1;
	CU_ASSERT_EQUAL(get(c, &old.q, 0, 65535)->state, CACHE_FRESH);
	now_ms += 1;
	CU_ASSERT_EQUAL(get(c, &old.q, 0, 65535)->state, CACHE_MISS);

	/* serve_stale_max: an entry 20 s past its TTL, stale within 30 s, not within 10. */
	CU_ASSERT_EQUAL(put(c, &stale.q, &stale.a), 1); /* 30 s now (cache_min_ttl) */
	now_ms += 50000;
	CU_ASSERT_TRUE(cache_has_stale(c, &k_stale));
	p = params(1 << 20, 30, 100, 10, 30);
	CU_ASSERT_EQUAL(cache_params_set(c, &p), 0);
	CU_ASSERT_TRUE(cache_has_stale(c, &k_stale));
	p.stale_max = 10;
	CU_ASSERT_EQUAL(cache_params_set(c, &p), 0);
	CU_ASSERT_FALSE(cache_has_stale(c, &k_stale));
	CU_ASSERT_EQUAL(get(c, &stale.q, 30, 65535)->state, CACHE_MISS);
	qa_free(&old, 1);
	qa_free(&fresh, 1);
	qa_free(&shorter, 1);
	qa_free(&stale, 1);
	msg_free(&nq);
	msg_free(&nx);
	cache_free(c);
}

/*
 * A cache_size that cache_new() refuses (too small for the index) is refused, and nothing
 * changes: not the entries, not the counters, not the TTL limits given with it. The smallest
 * size cache_new() takes is taken, and holds no entry.
 */
static void test_params_invalid(void)
{
	struct cache *c = new_cache(1 << 20, 0, 86400, 3600), *d;
	size_t base = empty_bytes(1 << 20);
	struct cache_params p = params(1, 0, 5, 5, 5), q;
	struct qa later = qa_make("later.example.", LDNS_RR_TYPE_A, 1000, false, false, false);
	struct cache_stats st0, st;
	struct qa xs[FX_N];
	bool found[FX_N];

	flush_fixture(c, xs);
	cache_stats_get(c, &st0);
	CU_ASSERT_EQUAL(cache_params_set(c, &p), -EINVAL);
	p.max_bytes = base - 1;
	CU_ASSERT_EQUAL(cache_params_set(c, &p), -EINVAL);
	CU_ASSERT_EQUAL(cache_new(&p, &d), -EINVAL);
	cache_stats_get(c, &st);
	CU_ASSERT_TRUE(same_counts(&st0, &st, &st0, &st0));
	CU_ASSERT_EQUAL(held(c, xs, FX_N, base, found), FX_N);
	CU_ASSERT_EQUAL(put(c, &later.q, &later.a), 1);
	CU_ASSERT_EQUAL(fresh_ttl(c, &later.q, LDNS_SECTION_ANSWER), 1000);

	/* Disabled, it stays so. */
	d = new_cache(0, 0, 86400, 3600);
	p.max_bytes = 1;
	CU_ASSERT_EQUAL(cache_params_set(d, &p), -EINVAL);
	CU_ASSERT_EQUAL(put(d, &later.q, &later.a), 0);
	cache_stats_get(d, &st);
	CU_ASSERT_EQUAL(st.bytes, 0);
	cache_free(d);

	/* The smallest: every entry goes, and no entry fits. */
	q = params(base, 0, 86400, 3600, 86400);
	CU_ASSERT_EQUAL(cache_new(&q, &d), 0);
	cache_free(d);
	CU_ASSERT_EQUAL(cache_params_set(c, &q), 0);
	cache_stats_get(c, &st);
	CU_ASSERT_EQUAL(st.entries, 0);
	CU_ASSERT_EQUAL(st.bytes, base);
	CU_ASSERT_EQUAL(st.evicted_live, FX_N + 1);
	CU_ASSERT_EQUAL(put(c, &later.q, &later.a), 0);
	qa_free(&later, 1);
	qa_free(xs, FX_N);
	cache_free(c);
}

/* SipHash-2-4 read a byte at a time, as the paper words it: the reference for the one below. */
static uint64_t siphash_bytewise(const uint64_t key[2], const uint8_t *in, size_t len)
{
	uint64_t v[4] = {
		key[0] ^ 0x736f6d6570736575ull,
		key[1] ^ 0x646f72616e646f6dull,
		key[0] ^ 0x6c7967656e657261ull,
		key[1] ^ 0x7465646279746573ull,
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		m = 0;
		for (int k = 7; k >= 0; k--) {
			m = (m << 8) | in[i + (size_t)k];
		}
		v[3] ^= m;
		siphash_round(v);
		siphash_round(v);
		v[0] ^= m;
	}
	for (int k = (int)(len - i) - 1; k >= 0; k--) {
		b |= (uint64_t)in[i + (size_t)k] << (8 * k);
	}
	v[3] ^= b;
	siphash_round(v);
	siphash_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int k = 0; k < 4; k++) {
		siphash_round(v);
	}
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * siphash() reads whole words: every length from 0 to 64, at every alignment of the input
 * (names sit at odd offsets in a message), gives what the byte-wise reading gives.
 */
static void test_siphash_words(void)
{
	uint64_t key[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
	uint8_t buf[80];
	unsigned differ = 0;

	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)(i * 37 + 11);
	}
	for (size_t align = 0; align < 8; align++) {
		for (size_t len = 0; len <= 64; len++) {
			if (siphash(key, buf + align, len) !=
			    siphash_bytewise(key, buf + align, len)) {
				differ++;
			}
		}
	}
	CU_ASSERT_EQUAL(differ, 0);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"a name running into the OPT is not cached", test_name_into_opt},
		{"a name across a TTL is not cached", test_name_across_ttl},
		{"TTLs age to zero", test_ttl_aging},
		{"negative caching by SOA", test_negative},
		{"TTL clamps, 0 and top bit", test_clamps},
		{"not cached: TC, other question, REFUSED; SERVFAIL 5 s", test_not_cached},
		{"0x20 case, DO and CD apart", test_case_do_cd},
		{"OPT fitted to the client", test_opt_fit},
		{"stale window", test_stale},
		{"prefetch mark", test_prefetch},
		{"a failed refresh keeps the answer, backs off", test_failed_refresh},
		{"AA cleared on hits", test_aa_cleared},
		{"eviction order under the byte bound", test_eviction},
		{"cache file: round trip, aged by the wall clock", test_file_round_trip},
		{"upstream groups: kept apart, flushed, in the file", test_groups},
		{"cache file: stale within stale_max", test_file_stale_max},
		{"cache file: truncated or corrupted, refused", test_file_truncated_corrupted},
		{"cache file: foreign, another version", test_file_foreign},
		{"cache file: hostile contents", test_file_hostile},
		{"cache file: larger than the cache", test_file_bound},
		{"cache file: largest entries, write errors", test_file_large_and_errors},
		{"flush: every entry", test_flush_all},
		{"flush: a name, every type, any case", test_flush_name},
		{"flush: a name and a type, every DO/CD and class", test_flush_name_type},
		{"flush: nothing held, nothing changes", test_flush_absent},
		{"flush: heap and SIEVE whole after it", test_flush_then_evict},
		{"reload: a smaller size evicts, as an insertion does", test_params_shrink},
		{"reload: a smaller size shrinks a grown index", test_params_shrink_index},
		{"reload: a larger size lets the cache grow", test_params_grow},
		{"reload: size 0 disables, as a cache made so; enabled again", test_params_disable},
		{"reload: TTL limits for what is stored after", test_params_ttl},
		{"reload: an invalid size changes nothing", test_params_invalid},
		{"SipHash-2-4 by words, every length and alignment", test_siphash_words},
		CU_TEST_INFO_NULL,
	};

	int ret = unit_run("cache", tests);

	ldns_pkt_free(get_last()->pkt);
	return ret;
}
