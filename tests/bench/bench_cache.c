/*
 * bench_cache: what a cache hit costs in dotd, in nanoseconds: making the key from the client's
 * query (lower-casing, SipHash), the lookup, and the copy-and-patch of the answer (ID, 0x20
 * spelling, every TTL aged, an OPT for an EDNS client). Run by `make bench`; it measures, it
 * asserts nothing about time.
 *
 * usage: bench_cache [ENTRIES [HITS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

static uint64_t now_ms = 1000000;

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return now_ms;
}

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A query for "wwwN.example.com" A, with EDNS when @edns; returns its length. */
static size_t make_query(uint8_t *m, unsigned n, bool edns)
{
	char label[16];
	size_t len = 12, l;

	memset(m, 0, 12);
	dns_put16(m, (uint16_t)n);
	dns_put16(m + 2, DNS_RD);
	dns_put16(m + 4, 1);
	dns_put16(m + 10, edns ? 1 : 0);
	l = (size_t)snprintf(label, sizeof(label), "WwW%u", n);
	m[len++] = (uint8_t)l;
	memcpy(m + len, label, l);
	len += l;
	memcpy(m + len, "\7example\3com\0\0\1\0\1", 17);
	len += 17;
	if (edns) {
		len += dns_opt_write(m + len, 1232, 0, false, 0);
	}
	return len;
}

/* Its answer: two A records (compressed), as an upstream sends it, without OPT. */
static size_t make_answer(uint8_t *m, const uint8_t *q, size_t qend)
{
	size_t len = qend;

	memcpy(m, q, qend);
	dns_put16(m + 2, DNS_QR | DNS_RD | DNS_RA);
	dns_put16(m + 6, 2);
	dns_put16(m + 10, 0);
	for (int i = 0; i < 2; i++) {
		m[len++] = 0xc0;
		m[len++] = 12;
		dns_put16(m + len, DNS_TYPE_A);
		dns_put16(m + len + 2, DNS_CLASS_IN);
		dns_put32(m + len + 4, 3600);
		dns_put16(m + len + 8, 4);
		memcpy(m + len + 10, "\xc0\x00\x02\x01", 4);
		m[len + 13] = (uint8_t)(i + 1);
		len += 14;
	}
	return len;
}

int main(int argc, char **argv)
{
	unsigned entries = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
	unsigned hits = argc > 2 ? (unsigned)atoi(argv[2]) : 2000000;
	struct cache_params p = {
		.max_bytes = 64u << 20,
		.max_ttl = 86400,
		.max_neg_ttl = 3600,
		.stale_max = 86400,
		.now = fake_now,
	};
	struct cache *c;
	uint8_t q[512], a[512], out[2048];
	struct dns_question dq;
	struct cache_key k;
	struct dns_opt opt = {.present = false};
	struct cache_stats st;
	size_t qlen, alen, out_len;
	unsigned *order;
	uint8_t *queries = NULL;
	double t0, t1;
	bool prefetch;

	if (entries == 0 || hits == 0 || cache_new(&p, &c) != 0) {
		fprintf(stderr, "usage: bench_cache [ENTRIES [HITS]]\n");
		return 2;
	}
	for (unsigned i = 0; i < entries; i++) {
		qlen = make_query(q, i, false);
		dns_question_parse(q, qlen, &dq);
		alen = make_answer(a, q, dq.end);
		cache_key_make(c, q, &dq, false, &k);
		if (cache_insert(c, &k, a, alen, &opt) != 1) {
			fprintf(stderr, "insert %u failed\n", i);
			return 1;
		}
	}
	/* A fixed pseudo-random order, so that hits do not walk memory in insertion order. */
	order = malloc(sizeof(*order) * hits);
	for (unsigned i = 0, x = 12345; i < hits; i++) {
		x = x * 1103515245u + 12345u;
		order[i] = (x >> 8) % entries;
	}
	now_ms += 10000; /* ten seconds later: every TTL is aged */
	for (int edns = 0; edns < 2; edns++) {
		unsigned n_hit = 0;

		t0 = mono_ns();
		for (unsigned i = 0; i < hits; i++) {
			struct cache_client cl;

			qlen = make_query(q, order[i], edns);
			t1 = 0;
			dns_question_parse(q, qlen, &dq);
			cache_key_make(c, q, &dq, false, &k);
			cl = (struct cache_client){
				.query = q, .qend = dq.end, .has_opt = edns, .max_len = 1232};
			if (cache_lookup(c, &k, &cl, 0, out, sizeof(out), &out_len, &prefetch) ==
			    CACHE_FRESH) {
				n_hit++;
			}
		}
		t1 = mono_ns();
		printf("bench_cache: %u entries, %u hits%s: %.0f ns per hit (question, key, "
		       "lookup, "
		       "copy and patch)\n",
		       entries, n_hit, edns ? " with EDNS" : "", (t1 - t0) / hits);
		if (n_hit != hits) {
			fprintf(stderr, "only %u of %u were hits\n", n_hit, hits);
			return 1;
		}
	}
	cache_stats_get(c, &st);
	printf("bench_cache: %zu entries in %zu bytes, %.0f bytes per entry with the index\n",
	       st.entries, st.bytes, (double)st.bytes / (double)st.entries);
	free(order);
	free(queries);
	cache_free(c);
	return 0;
}
