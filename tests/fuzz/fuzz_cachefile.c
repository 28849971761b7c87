/*
 * fuzz_cachefile: a cache file (cache_load(), what dotd reads at start from a file anyone with
 * write access to it, or a bad flash block, may have changed) loaded into a fresh cache. What
 * loads must be servable: every entry is found again under the key made from its own message
 * and its answer to clients with and without EDNS passes our reader (dns_opt_find) with the
 * client's ID and question; a dump of it loads again, whole, and dumps to the same bytes. What
 * is refused must leave the cache empty. A broken invariant aborts.
 *
 * Input: one control byte, then the file. Control bits: 0 recompute the checksum and 1 the
 * length field (so that the fuzzer gets past them), 2-4 the wall-clock time since the dump (from
 * none to a year; 7: a clock gone back), 5 a cache too small for much (eviction), 6 min_ttl 60.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define SMALL_CACHE (18 * 1024) /* the index, and a couple of KiB of entries */

static const uint64_t elapsed_s[] = {0, 1, 59, 3600, 86400, 7 * 86400, 365 * 86400};

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return 5000; /* a daemon just started */
}

struct sink {
	uint8_t *buf;
	size_t len;
};

static int sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;
	uint8_t *b = realloc(s->buf, s->len + len);

	if (!b) {
		return -ENOMEM;
	}
	memcpy(b + s->len, buf, len);
	s->buf = b;
	s->len += len;
	return 0;
}

static uint64_t get64(const uint8_t *p)
{
	return ((uint64_t)dns_get32(p) << 32) | dns_get32(p + 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	dns_put32(p, (uint32_t)(v >> 32));
	dns_put32(p + 4, (uint32_t)v);
}

static uint64_t fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

/* Look up the entry of @key (@key_len) and @msg as a client would, with and without EDNS. */
static void lookup_entry(struct cache *c, const uint8_t *key, size_t key_len, const uint8_t *msg,
			 size_t msg_len)
{
	static uint8_t out[DNS_MAX_MSG + 2048];
	uint8_t q[DNS_HDR_LEN + DNS_MAX_NAME + 4 + DNS_OPT_FIXED_LEN];
	bool do_bit = key[key_len - 1] & 1, cd = key[key_len - 1] & 2;
	struct dns_question dq;
	struct cache_key k;

	CHECK(dns_question_parse(msg, msg_len, &dq) == 0);
	for (int edns = do_bit ? 1 : 0; edns < 2; edns++) {
		struct cache_client cl;
		struct dns_opt opt;
		size_t qlen = dq.end, len;
		bool prefetch;

		memset(q, 0, DNS_HDR_LEN);
		dns_put16(q, 0x1234);
		dns_put16(q + 2, (uint16_t)(DNS_RD | (cd ? DNS_CD : 0)));
		dns_put16(q + 4, 1);
		memcpy(q + DNS_HDR_LEN, msg + DNS_HDR_LEN, dq.end - DNS_HDR_LEN);
		if (edns) {
			dns_put16(q + 10, 1);
			qlen += dns_opt_write(q + qlen, 1232, 0, do_bit, 0);
		}
		cache_key_make(c, q, &dq, do_bit, &k);
		CHECK(k.len == key_len && memcmp(k.data, key, key_len) == 0);
		for (size_t max = 512; max <= DNS_MAX_MSG; max += DNS_MAX_MSG - 512) {
			cl = (struct cache_client){.query = q,
						   .qend = dq.end,
						   .has_opt = edns,
						   .do_bit = do_bit,
						   .max_len = max};
			CHECK(cache_lookup(c, &k, &cl, 30, out, sizeof(out), &len, &prefetch) !=
			      CACHE_MISS);
			CHECK(len <= max && dns_opt_find(out, len, &opt) == 0);
			CHECK(dns_id(out) == 0x1234 && opt.present == (edns == 1));
			CHECK(memcmp(out + DNS_HDR_LEN, q + DNS_HDR_LEN, dq.end - DNS_HDR_LEN) ==
			      0);
		}
	}
}

/* Every entry of @d, a dump of ours (trusted: its lengths are not checked again). */
static size_t lookup_all(struct cache *c, const struct sink *d)
{
	size_t pos = CACHE_FILE_HDR_LEN, n = 0;

	while (pos < d->len - CACHE_FILE_SUM_LEN) {
		const uint8_t *e = d->buf + pos;
		size_t key_len = dns_get16(e), msg_len = dns_get16(e + 2);

		e += CACHE_FILE_ENTRY_HDR_LEN;
		lookup_entry(c, e, key_len, e + key_len, msg_len);
		pos += CACHE_FILE_ENTRY_HDR_LEN + key_len + msg_len + dns_get16(d->buf + pos + 4);
		n++;
	}
	CHECK(pos == d->len - CACHE_FILE_SUM_LEN);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_params p = {.max_ttl = 86400, .max_neg_ttl = 3600, .stale_max = 86400};
	struct cache_load_stats st, st2;
	struct sink d1 = {0}, d2 = {0};
	struct cache_stats cs;
	struct cache *c = NULL, *c2 = NULL;
	uint64_t dumped_at = 1700000000, wall;
	uint8_t ctl, *file;
	size_t len, n1, n2;
	int ret;

	if (size < 1) {
		return 0;
	}
	ctl = data[0];
	len = size - 1;
	file = malloc(len ? len : 1);
	CHECK(file);
	memcpy(file, data + 1, len);
	if (len >= CACHE_FILE_HDR_LEN + CACHE_FILE_SUM_LEN) {
		dumped_at = get64(file + 16);
		if (ctl & 2) {
			put64(file + 24, len);
		}
		if (ctl & 1) {
			put64(file + len - 8, fnv1a64(file, len - 8));
		}
	}
	wall = dumped_at;
	if (((ctl >> 2) & 7) == 7) {
		wall -= 1000; /* the clock went back: a dump from the future */
	} else if (dumped_at <= UINT64_MAX - elapsed_s[(ctl >> 2) & 7]) {
		wall += elapsed_s[(ctl >> 2) & 7];
	}
	p.max_bytes = (ctl & 0x20) ? SMALL_CACHE : 1u << 20;
	p.min_ttl = (ctl & 0x40) ? 60 : 0;
	p.now = fake_now;
	CHECK(cache_new(&p, &c) == 0);

	ret = cache_load(c, file, len, wall, &st);
	cache_stats_get(c, &cs);
	if (ret != 0) {
		CHECK(ret == -EINVAL || ret == -EBADMSG || ret == -EPROTONOSUPPORT);
		CHECK(cs.entries == 0);
		goto done;
	}
	CHECK(cs.bytes <= p.max_bytes && cs.entries == st.loaded - st.evicted);

	/* What loaded is servable, and dumps whole. */
	CHECK(cache_dump(c, wall, sink_write, &d1, &n1) == 0);
	CHECK(n1 == cs.entries && lookup_all(c, &d1) == n1);
	CHECK(d1.len == get64(d1.buf + 24));

	/* The dump loads again, every entry, and dumps to the same bytes. */
	CHECK(cache_new(&p, &c2) == 0);
	CHECK(cache_load(c2, d1.buf, d1.len, wall, &st2) == 0);
	CHECK(st2.loaded == n1 && st2.expired == 0 && st2.skipped == 0 && st2.evicted == 0);
	CHECK(cache_dump(c2, wall, sink_write, &d2, &n2) == 0);
	CHECK(n2 == n1 && d2.len == d1.len && memcmp(d1.buf, d2.buf, d1.len) == 0);
done:
	free(d1.buf);
	free(d2.buf);
	cache_free(c2);
	cache_free(c);
	free(file);
	return 0;
}
