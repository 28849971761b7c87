/*
 * fuzz_query: a client's message, as hostile as it gets, through what dotd does with it before
 * any I/O: the checks (dns_msg_check_query), the error answer (dns_msg_error, with and without
 * an Extended DNS Error), the upstream query (dns_msg_upstream_query, padded and not), the cache
 * key under two spellings of the name, and an answer made up for the question stored in a
 * persistent cache (1 MiB: its index grows past 1024 entries, then the SIEVE evicts) and looked up
 * again. Every message built must pass our own reader and say what the client asked; a broken
 * invariant aborts.
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

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return 1000000;
}

/* The question of @m (a message we built) is byte for byte the client's. */
static bool same_question(const uint8_t *m, size_t len, const struct dns_client_query *cq)
{
	return dns_qdcount(m) == 1 && len >= cq->q.end &&
	       memcmp(m + DNS_HDR_LEN, cq->msg + DNS_HDR_LEN, cq->q.end - DNS_HDR_LEN) == 0;
}

static void check_error(const struct dns_client_query *cq, unsigned rcode, int ede)
{
	static uint8_t out[DNS_MAX_MSG];
	struct dns_opt opt;
	size_t len, off;
	uint16_t olen;

	CHECK(dns_msg_error(cq, rcode, ede, ede >= 0 ? "fuzz" : NULL, out, sizeof(out), &len) == 0);
	CHECK(len >= DNS_HDR_LEN && dns_opt_find(out, len, &opt) == 0);
	CHECK(dns_id(out) == dns_id(cq->msg) && (dns_flags(out) & DNS_QR));
	CHECK(dns_opcode(out) == dns_opcode(cq->msg) && dns_rcode(out) == (rcode & 0xf));
	/* Never AA; RA and the client's CD on a QUERY only; RD as asked (RFC 1035 §4.1.1). */
	CHECK((dns_flags(out) & (DNS_AA | DNS_RA | DNS_CD | DNS_RD)) ==
	      ((dns_flags(cq->msg) & DNS_RD) |
	       (dns_opcode(cq->msg) == DNS_OPCODE_QUERY ? DNS_RA | (dns_flags(cq->msg) & DNS_CD)
							: 0)));
	CHECK(cq->q.end == 0 || same_question(out, len, cq));
	CHECK(opt.present == cq->has_opt);
	if (opt.present) {
		CHECK(opt.ext_rcode == rcode >> 4 && opt.version == 0);
		CHECK(((opt.flags & DNS_EDNS_DO) != 0) == cq->do_bit);
		CHECK((dns_opt_option(out, &opt, DNS_OPT_EDE, &off, &olen) == 0) == (ede >= 0));
	} else {
		CHECK(rcode < 16); /* an extended RCODE needs an OPT to be said */
	}
}

static void check_upstream(const struct dns_client_query *cq, const struct dns_upstream_opts *o)
{
	static uint8_t out[2 + DNS_MAX_MSG];
	const uint8_t *m = out + 2;
	struct dns_question q;
	struct dns_opt opt;
	size_t len, off;
	uint16_t olen;

	CHECK(dns_msg_upstream_query(cq, o, out, sizeof(out), &len) == 0); /* always fits */
	CHECK(len > 2 && dns_get16(out) == len - 2);
	CHECK(o->padding_blocksize == 0 || (len - 2) % o->padding_blocksize == 0);
	CHECK(dns_opt_find(m, len - 2, &opt) == 0 && opt.present && opt.last && !opt.tsig);
	CHECK(opt.udp_size == DNS_MSG_UDP_MAX && opt.version == 0 && opt.ext_rcode == 0);
	CHECK(((opt.flags & DNS_EDNS_DO) != 0) == cq->do_bit);
	CHECK(dns_id(m) == 0);
	CHECK(dns_flags(m) == (dns_flags(cq->msg) & (DNS_RD | DNS_CD | DNS_AD)));
	CHECK(dns_question_parse(m, len - 2, &q) == 0 && q.end == cq->q.end);
	CHECK(dns_question_equal(m + DNS_HDR_LEN, q.end - DNS_HDR_LEN, cq->msg + DNS_HDR_LEN,
				 cq->q.end - DNS_HDR_LEN));
	CHECK(same_question(m, len - 2, cq));
	CHECK((dns_opt_option(m, &opt, DNS_OPT_ECS, &off, &olen) == 0) == o->ecs_private);
	CHECK((dns_opt_option(m, &opt, DNS_OPT_KEEPALIVE, &off, &olen) == 0) == o->keepalive);
	if (o->padding_blocksize) {
		/* Padding is the last option (RFC 8467 §4.1). */
		CHECK(dns_opt_option(m, &opt, DNS_OPT_PADDING, &off, &olen) == 0);
		CHECK(off + olen == len - 2);
	} else {
		CHECK(dns_opt_option(m, &opt, DNS_OPT_PADDING, &off, &olen) == -ENOENT);
	}
}

/* Check a cache hit written for @cq against what it asked. */
static void check_hit(const struct dns_client_query *cq, const uint8_t *out, size_t len,
		      size_t max_len)
{
	struct dns_opt opt;

	CHECK(len <= max_len && dns_opt_find(out, len, &opt) == 0);
	CHECK(dns_id(out) == dns_id(cq->msg) && (dns_flags(out) & DNS_QR));
	CHECK((dns_flags(out) & DNS_RD) == (dns_flags(cq->msg) & DNS_RD));
	CHECK(!(dns_flags(out) & DNS_Z));
	CHECK(same_question(out, len, cq));
	CHECK(opt.present == cq->has_opt);
	CHECK(!opt.present || ((opt.flags & DNS_EDNS_DO) != 0) == cq->do_bit);
}

/*
 * An answer to the client's question, made here: one record owned by the question's name (a
 * pointer to it), of the type asked, with a TTL from the client's ID (0 is not cacheable).
 */
static size_t made_up_answer(const struct dns_client_query *cq, uint8_t *a)
{
	static const uint8_t rr_tail[] = {0, 4, 0, 0, 0, 0}; /* 0.0.0.0, or the root */
	size_t n = cq->q.end;

	memcpy(a, cq->msg, n);
	dns_put16(a + 2, DNS_QR | DNS_RD | DNS_RA);
	dns_put16(a + 4, 1);
	dns_put16(a + 6, 1);
	dns_put16(a + 8, 0);
	dns_put16(a + 10, 0);
	a[n++] = 0xc0;
	a[n++] = DNS_HDR_LEN;
	dns_put16(a + n, cq->q.qtype);
	dns_put16(a + n + 2, DNS_CLASS_IN);
	dns_put32(a + n + 4, dns_id(cq->msg));
	n += 8;
	memcpy(a + n, rr_tail, sizeof(rr_tail));
	return n + sizeof(rr_tail);
}

static void check_cache(struct cache *cache, const struct dns_client_query *cq)
{
	static uint8_t out[DNS_MAX_MSG + 2048];
	uint8_t ans[DNS_HDR_LEN + DNS_MAX_NAME + 4 + 16];
	uint8_t other[DNS_HDR_LEN + DNS_MAX_NAME + 4];
	struct dns_client_query ocq = *cq;
	struct cache_key k, ok;
	struct cache_client cl = {.query = cq->msg,
				  .qend = cq->q.end,
				  .has_opt = cq->has_opt,
				  .do_bit = cq->do_bit,
				  .max_len = dns_msg_udp_limit(cq)};
	struct dns_opt aopt;
	enum cache_state state;
	size_t alen, len;
	bool prefetch;
	int ret;

	/* The key ignores the spelling: the name with every letter's case turned over. */
	memcpy(other, cq->msg, cq->q.end);
	for (size_t i = DNS_HDR_LEN; i < cq->q.end - 4; i++) {
		if ((other[i] | 0x20) >= 'a' && (other[i] | 0x20) <= 'z') {
			other[i] ^= 0x20;
		}
	}
	ocq.msg = other;
	ocq.len = cq->q.end;
	ocq.has_opt = false;
	ocq.do_bit = false;
	cache_key_make(cache, cq->msg, &cq->q, cq->do_bit, &k);
	cache_key_make(cache, other, &cq->q, cq->do_bit, &ok);
	CHECK(k.len == ok.len && k.hash == ok.hash && memcmp(k.data, ok.data, k.len) == 0);

	/* Whatever an earlier input left under this key, then our own answer. */
	state = cache_lookup(cache, &k, &cl, 30, out, sizeof(out), &len, &prefetch);
	if (state != CACHE_MISS) {
		check_hit(cq, out, len, cl.max_len);
	}
	alen = made_up_answer(cq, ans);
	if (dns_answer_check(cq->msg, cq->q.end, ans, alen, &aopt) != 0) {
		/* A record of type OPT in the answer section, or a TSIG: no answer at all. */
		CHECK(cq->q.qtype == DNS_TYPE_OPT || cq->q.qtype == DNS_TYPE_TSIG);
		return;
	}
	ret = cache_insert(cache, &k, ans, alen, &aopt);
	CHECK(ret >= 0);
	if (ret == 0) {
		return;
	}
	CHECK(cache_lookup(cache, &k, &cl, 0, out, sizeof(out), &len, &prefetch) == CACHE_FRESH);
	CHECK(!cache_has_stale(cache, &k));
	check_hit(cq, out, len, cl.max_len);
	CHECK(dns_ancount(out) == 1 || (dns_flags(out) & DNS_TC));
	/* The other spelling, without EDNS: the whole answer, its TTL as stored. */
	cl.query = other;
	cl.has_opt = false;
	cl.max_len = DNS_MAX_MSG;
	CHECK(cache_lookup(cache, &ok, &cl, 0, out, sizeof(out), &len, &prefetch) == CACHE_FRESH);
	check_hit(&ocq, out, len, cl.max_len);
	CHECK(dns_ancount(out) == 1 && dns_get32(out + len - 10) == dns_id(cq->msg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *cache;
	static const struct dns_upstream_opts opts[] = {
		{.padding_blocksize = 128, .ecs_private = true, .keepalive = true},
		{.padding_blocksize = 468},
		{.padding_blocksize = 0},
	};
	struct dns_client_query cq;
	unsigned rcode;

	if (!cache) {
		struct cache_params p = {.max_bytes = 1024 * 1024,
					 .max_ttl = 86400,
					 .max_neg_ttl = 3600,
					 .stale_max = 86400,
					 .now = fake_now};

		CHECK(cache_new(&p, &cache) == 0);
	}
	switch (dns_msg_check_query(data, size, &cq, &rcode)) {
	case DNS_CHECK_DROP:
		CHECK(size < DNS_HDR_LEN || (dns_flags(data) & DNS_QR));
		return 0;
	case DNS_CHECK_ANSWER:
		check_error(&cq, rcode, DNS_EDE_OTHER);
		check_error(&cq, rcode, -1);
		return 0;
	case DNS_CHECK_OK:
		break;
	}
	/* What dotd forwards: a query with one IN question, not a zone transfer. */
	CHECK(cq.q.end > DNS_HDR_LEN && cq.q.qclass == DNS_CLASS_IN);
	CHECK(cq.q.qtype != DNS_TYPE_AXFR && cq.q.qtype != DNS_TYPE_IXFR);
	CHECK(dns_opcode(data) == DNS_OPCODE_QUERY);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		check_upstream(&cq, &opts[i]);
	}
	/* SERVFAIL with an EDE, as dotd answers when every upstream failed. */
	check_error(&cq, DNS_RCODE_SERVFAIL, DNS_EDE_NETWORK_ERROR);
	check_cache(cache, &cq);
	return 0;
}
