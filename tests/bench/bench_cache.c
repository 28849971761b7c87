/*
 * bench_cache: what a cache hit costs in dotd, in nanoseconds: making the key from the client's
 * query (lower-casing, SipHash), the lookup, and the copy-and-patch of the answer (ID, 0x20
 * spelling, every TTL aged, an OPT for an EDNS client). Run by `make bench`; it measures, it
 * asserts nothing about time.
 *
 * Then the question of docs/ARCHITECTURE.md, "Workers": two threads doing hits, each on a cache
 * of its own (dotd's choice) against both on one cache behind a mutex (a shared cache), in
 * hits per second of the two together.
 *
 * usage: bench_cache [ENTRIES [HITS]]
 */
#include <pthread.h>
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

/* One thread of the two-thread part: HITS hits on @c, under @lock if not NULL. */
struct hitter {
	struct cache *c;
	pthread_mutex_t *lock;
	const unsigned *order;
	unsigned hits, entries, n_hit;
};

static void *on_hitter(void *arg)
{
	struct hitter *h = arg;
	uint8_t q[512], out[2048];
	struct dns_question dq;
	struct cache_key k;
	size_t qlen, out_len;
	bool prefetch;

	for (unsigned i = 0; i < h->hits; i++) {
		struct cache_client cl;
		enum cache_state res;

		qlen = make_query(q, h->order[i], false);
		dns_question_parse(q, qlen, &dq);
		cache_key_make(h->c, q, &dq, false, &k);
		cl = (struct cache_client){.query = q, .qend = dq.end, .max_len = 1232};
		if (h->lock) {
			pthread_mutex_lock(h->lock);
		}
		res = cache_lookup(h->c, &k, &cl, 0, out, sizeof(out), &out_len, &prefetch);
		if (h->lock) {
			pthread_mutex_unlock(h->lock);
		}
		h->n_hit += res == CACHE_FRESH;
	}
	return NULL;
}

/* A cache of @entries answers, as main() fills it. */
static struct cache *cache_filled(const struct cache_params *p, unsigned entries)
{
	uint8_t q[512], a[512];
	struct dns_opt opt = {.present = false};
	struct dns_question dq;
	struct cache_key k;
	struct cache *c;
	size_t qlen, alen;

	if (cache_new(p, &c) != 0) {
		return NULL;
	}
	for (unsigned i = 0; i < entries; i++) {
		qlen = make_query(q, i, false);
		dns_question_parse(q, qlen, &dq);
		alen = make_answer(a, q, dq.end);
		cache_key_make(c, q, &dq, false, &k);
		cache_insert(c, &k, a, alen, &opt);
	}
	return c;
}

/* Two threads, each @hits hits: on caches of their own, or on one under a mutex. */
static int two_threads(const struct cache_params *p, unsigned entries, unsigned hits,
		       const unsigned *order)
{
	for (int shared = 0; shared < 2; shared++) {
		pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
		struct hitter h[2];
		pthread_t t[2];
		double t0, t1;

		for (int i = 0; i < 2; i++) {
			h[i] = (struct hitter){
				.c = shared && i == 1 ? h[0].c : cache_filled(p, entries),
				.lock = shared ? &lock : NULL,
				.order = order,
				.hits = hits,
				.entries = entries,
			};
			if (!h[i].c) {
				return 1;
			}
		}
		t0 = mono_ns();
		for (int i = 0; i < 2; i++) {
			pthread_create(&t[i], NULL, on_hitter, &h[i]);
		}
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
		}
		t1 = mono_ns();
		printf("bench_cache: 2 threads, %s: %.0f thousand hits per second together (%u and "
		       "%u hits)\n",
		       shared ? "one cache behind a mutex" : "a cache each",
		       2.0 * hits / (t1 - t0) * 1e6, h[0].n_hit, h[1].n_hit);
		cache_free(h[0].c);
		if (!shared) {
			cache_free(h[1].c);
		}
	}
	return 0;
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
	if (two_threads(&p, entries, hits, order) != 0) {
		return 1;
	}
	free(order);
	free(queries);
	cache_free(c);
	return 0;
}
