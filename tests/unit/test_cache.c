/*
 * test_cache: the answer cache (cache/cache.c) on an injected clock. Answers are built with
 * ldns and read back with ldns, an implementation independent of ours.
 */
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "cache.h"
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

static void key_of(struct cache *c, const struct msg *q, struct cache_key *k, bool *do_bit)
{
	struct dns_question dq;
	struct dns_opt opt;

	CU_ASSERT_EQUAL_FATAL(dns_question_parse(q->buf, q->len, &dq), 0);
	CU_ASSERT_EQUAL_FATAL(dns_opt_find(q->buf, q->len, &opt), 0);
	*do_bit = opt.present && (opt.flags & DNS_EDNS_DO);
	cache_key_make(c, q->buf, &dq, *do_bit, k);
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

/* Under the byte bound, expired entries go first, then SIEVE spares the entries hit. */
static void test_eviction(void)
{
	struct cache *c = new_cache(40 * 1024, 0, 86400, 3600);
	struct cache_stats st;
	char name[64], rr[128];
	struct msg qs[200], as[200];
	const char *rrs[2] = {rr, NULL};
	int n;

	for (n = 0; n < 200; n++) {
		snprintf(name, sizeof(name), "n%d.example.", n);
		/* The first 10 expire after 10 s, the others live an hour. */
		snprintf(rr, sizeof(rr), "%s %d IN A 192.0.2.1", name, n < 10 ? 10 : 3600);
		qs[n] = query(name, LDNS_RR_TYPE_A, false, false, false);
		as[n] = answer(name, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs, false, false);
	}
	for (n = 0; n < 200; n++) {
		cache_stats_get(c, &st);
		if (st.bytes + cache_entry_cost(as[n].len, 1, 20) > 40 * 1024) {
			break;
		}
		CU_ASSERT_EQUAL(put(c, &qs[n], &as[n]), 1);
	}
	CU_ASSERT_FATAL(n > 30 && n < 200);
	/* Hit entries 10..19, let 0..9 expire. */
	for (int i = 10; i < 20; i++) {
		get(c, &qs[i], 0, 65535);
	}
	now_ms += 11000;
	/* Fill until 20 evictions happened. */
	for (int i = n; i < 200; i++) {
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
	for (n = 0; n < 200; n++) {
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
		CU_TEST_INFO_NULL,
	};

	int ret = unit_run("cache", tests);

	ldns_pkt_free(get_last()->pkt);
	return ret;
}
