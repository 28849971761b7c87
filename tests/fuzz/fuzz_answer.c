/*
 * fuzz_answer: an upstream's answer, as hostile as it gets, through acceptance
 * (dns_answer_check), scrubbing (dns_msg_scrub), the cache (insert into a small persistent cache
 * whose clock the input moves, so that entries age, go stale, expire and are evicted; then
 * lookups) and the client's answer (dns_msg_client_answer), for three clients: no EDNS; EDNS
 * with DO and CD; EDNS without RD; each spelling the name its own way. Every message dotd builds
 * must pass its own reader, fit the client's limit (TC set when cut) and carry the client's ID,
 * spelling and RD. A broken invariant aborts.
 *
 * Input: one clock byte (seconds below 200, else hours), then the answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dns_msg.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define N_CLIENTS 3
#define QUERY_MAX (DNS_HDR_LEN + DNS_MAX_NAME + 4 + DNS_OPT_FIXED_LEN)

static uint64_t clock_ms = 1000000;

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

/* A client's query: the upstream query's question in its own spelling, its own ID and flags. */
struct client {
	uint8_t msg[QUERY_MAX];
	struct dns_client_query cq;
	struct cache_key key;
};

static const size_t limits[] = {DNS_MAX_MSG, 1232, 512}; /* the whole answer first */

/*
 * Check a message built for @c, no longer than @max; @full_len is the length of the same
 * message uncut (0 if unknown): when it exceeds @max, the message must say TC.
 */
static void check_built(const struct client *c, const uint8_t *m, size_t len, size_t max,
			size_t full_len)
{
	const struct dns_client_query *cq = &c->cq;
	struct dns_opt opt;

	CHECK(len <= max && dns_opt_find(m, len, &opt) == 0);
	CHECK(dns_id(m) == dns_id(cq->msg) && (dns_flags(m) & DNS_QR));
	CHECK((dns_flags(m) & DNS_RD) == (dns_flags(cq->msg) & DNS_RD));
	CHECK(!(dns_flags(m) & (DNS_Z | DNS_AA))); /* a stub is no authority */
	CHECK(dns_qdcount(m) == 1 && len >= cq->q.end);
	CHECK(memcmp(m + DNS_HDR_LEN, cq->msg + DNS_HDR_LEN, cq->q.end - DNS_HDR_LEN) == 0);
	CHECK(opt.present == cq->has_opt);
	if (opt.present) {
		CHECK(opt.last && opt.version == 0 && opt.udp_size == DNS_MSG_UDP_MAX);
		CHECK(((opt.flags & DNS_EDNS_DO) != 0) == cq->do_bit);
	}
	if (full_len > max) {
		CHECK(dns_flags(m) & DNS_TC);
	}
}

/* The expected RCODE: the upstream's, or SERVFAIL for an extended one a client cannot read. */
static unsigned expected_rcode(const struct client *c, const uint8_t *ans,
			       const struct dns_opt *aopt)
{
	if (!c->cq.has_opt && aopt->present && aopt->ext_rcode != 0) {
		return DNS_RCODE_SERVFAIL;
	}
	return dns_rcode(ans);
}

/* Every lookup of @c's key, whatever earlier inputs stored there. */
static void lookups(struct cache *cache, const struct client *c)
{
	static uint8_t out[DNS_MAX_MSG + 2048];
	struct cache_client cl = {.query = c->cq.msg,
				  .qend = c->cq.q.end,
				  .has_opt = c->cq.has_opt,
				  .do_bit = c->cq.do_bit};
	enum cache_state first = CACHE_MISS;
	size_t full_len = 0;

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		enum cache_state state;
		size_t len;
		bool prefetch;

		cl.max_len = limits[l];
		state = cache_lookup(cache, &c->key, &cl, 30, out, sizeof(out), &len, &prefetch);
		if (l == 0) {
			first = state;
			full_len = len;
		}
		CHECK(state == first); /* the clock stands still */
		if (state != CACHE_MISS) {
			check_built(c, out, len, limits[l], full_len);
		}
	}
	/* What the resolver asks before it serves stale (a SERVFAIL never is). */
	CHECK(cache_has_stale(cache, &c->key) == (first == CACHE_STALE));
	/* Without serve-stale: a fresh entry is still fresh, a stale one a miss. */
	cl.max_len = limits[0];
	CHECK(cache_lookup(cache, &c->key, &cl, 0, out, sizeof(out), &full_len, &(bool){0}) ==
	      (first == CACHE_FRESH ? CACHE_FRESH : CACHE_MISS));
}

static void client_answers(const struct client *c, const uint8_t *ans, size_t len,
			   const struct dns_opt *aopt)
{
	static uint8_t out[DNS_MAX_MSG + 2048];
	size_t full_len = 0;

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		size_t out_len;
		int ret = dns_msg_client_answer(&c->cq, ans, len, aopt, limits[l], out, sizeof(out),
						&out_len);

		/*
		 * Only an answer without a question (FORMERR), or one that ldns cannot redo
		 * (or redoes longer than a message), fails; whatever the limit.
		 */
		if (ret != 0) {
			CHECK((ret == -EBADMSG || ret == -ENOSPC) && l == 0);
			return;
		}
		if (l == 0) {
			full_len = out_len;
		}
		check_built(c, out, out_len, limits[l], full_len);
		CHECK(dns_rcode(out) == expected_rcode(c, ans, aopt));
	}
}

/* Client @i's query for the question that ends at @qend of @query. */
static bool client_make(struct cache *cache, struct client *c, int i, const uint8_t *query,
			size_t qend)
{
	static const uint16_t flags[N_CLIENTS] = {DNS_RD, DNS_RD | DNS_CD, 0};
	size_t len = qend;
	unsigned rcode;

	memcpy(c->msg, query, qend);
	dns_put16(c->msg, (uint16_t)(dns_id(query) ^ (0x5a5a + i)));
	dns_put16(c->msg + 2, flags[i]);
	for (size_t j = DNS_HDR_LEN; j + 4 < qend; j++) {
		uint8_t lower = c->msg[j] | 0x20;

		if (lower >= 'a' && lower <= 'z') {
			c->msg[j] = i == 1 ? (uint8_t)(lower - 0x20) : i == 2 ? lower : c->msg[j];
		}
	}
	if (i > 0) {
		dns_put16(c->msg + 10, 1);
		len += dns_opt_write(c->msg + qend, i == 1 ? 1232 : 4096, 0, i == 1, 0);
	}
	if (dns_msg_check_query(c->msg, len, &c->cq, &rcode) != DNS_CHECK_OK) {
		/* Only a question dotd does not forward: AXFR, IXFR, CHAOS ... */
		CHECK(c->cq.q.end == qend &&
		      (c->cq.q.qclass != DNS_CLASS_IN || c->cq.q.qtype == DNS_TYPE_AXFR ||
		       c->cq.q.qtype == DNS_TYPE_IXFR));
		return false;
	}
	CHECK(c->cq.q.end == qend);
	cache_key_make(cache, c->msg, &c->cq.q, c->cq.do_bit, &c->key);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *cache;
	static uint8_t scrub[DNS_MAX_MSG];
	static struct client clients[N_CLIENTS];
	/* The query dotd sent: the answer's own question, or www.example A. */
	static const uint8_t www[] = {0,   0,	1,   0,	  0,   1,   0, 0,   0,	 0,
				      0,   0,	3,   'w', 'w', 'w', 7, 'e', 'x', 'a',
				      'm', 'p', 'l', 'e', 0,   0,   1, 0,   1};
	uint8_t query[DNS_HDR_LEN + DNS_MAX_NAME + 4];
	struct dns_question q;
	struct dns_opt opt, sopt;
	const uint8_t *ans;
	size_t qlen, len, slen;

	if (!cache) {
		struct cache_params p = {.max_bytes = 64 * 1024,
					 .max_ttl = 86400,
					 .max_neg_ttl = 3600,
					 .stale_max = 86400,
					 .now = fake_now};

		CHECK(cache_new(&p, &cache) == 0);
	}
	if (size < 1) {
		return 0;
	}
	clock_ms += 1000ull * (data[0] < 200 ? data[0] : (data[0] - 199u) * 3600u);
	ans = data + 1;
	len = size - 1;
	if (len > DNS_MAX_MSG) {
		return 0; /* the 2-octet length prefix says no more */
	}
	if (dns_question_parse(ans, len, &q) == 0) {
		memcpy(query, ans, q.end);
		qlen = q.end;
	} else {
		memcpy(query, www, sizeof(www));
		qlen = sizeof(www);
		if (len >= 2) {
			memcpy(query, ans, 2);
		}
	}
	/* Our query: one question, no records (the answer's header was copied). */
	dns_put16(query + 2, DNS_RD);
	dns_put16(query + 4, 1);
	dns_put16(query + 6, 0);
	dns_put16(query + 8, 0);
	dns_put16(query + 10, 0);
	if (dns_answer_check(query, qlen, ans, len, &opt) != 0) {
		return 0;
	}
	CHECK(len >= DNS_HDR_LEN && (dns_flags(ans) & DNS_QR) && !opt.tsig);
	CHECK(dns_id(ans) == dns_id(query));
	if (dns_msg_scrub(ans, len, scrub, sizeof(scrub), &slen) != 0) {
		return 0; /* dotd treats it as a broken answer */
	}
	if (slen > 0) {
		/* Rebuilt: it must read, and keep the question (clients' spellings go over it). */
		CHECK(dns_opt_find(scrub, slen, &sopt) == 0);
		CHECK(dns_question_parse(scrub, slen, &q) == 0 && q.end == qlen);
		CHECK(dns_question_equal(scrub + DNS_HDR_LEN, qlen - DNS_HDR_LEN,
					 query + DNS_HDR_LEN, qlen - DNS_HDR_LEN));
		CHECK(dns_id(scrub) == dns_id(ans) && dns_rcode(scrub) == dns_rcode(ans));
		ans = scrub;
		len = slen;
		opt = sopt;
	}
	for (int i = 0; i < N_CLIENTS; i++) {
		if (!client_make(cache, &clients[i], i, query, qlen)) {
			return 0;
		}
	}
	/* Stored under each client's key (clients 0 and 2 share one: a replacement). */
	for (int i = 0; i < N_CLIENTS; i++) {
		static uint8_t out[DNS_MAX_MSG + 2048];
		const struct client *c = &clients[i];
		struct cache_client cl = {.query = c->cq.msg,
					  .qend = c->cq.q.end,
					  .has_opt = c->cq.has_opt,
					  .do_bit = c->cq.do_bit,
					  .max_len = DNS_MAX_MSG};
		size_t out_len;
		int ret = cache_insert(cache, &c->key, ans, len, &opt);

		CHECK(ret >= 0);
		if (ret == 1) {
			CHECK(cache_lookup(cache, &c->key, &cl, 0, out, sizeof(out), &out_len,
					   &(bool){0}) == CACHE_FRESH);
			check_built(c, out, out_len, DNS_MAX_MSG, 0);
			CHECK(dns_rcode(out) == expected_rcode(c, ans, &opt));
			CHECK(dns_ancount(out) == dns_ancount(ans) || (dns_flags(out) & DNS_TC));
		}
	}
	for (int i = 0; i < N_CLIENTS; i++) {
		lookups(cache, &clients[i]);
		client_answers(&clients[i], ans, len, &opt);
	}
	return 0;
}
