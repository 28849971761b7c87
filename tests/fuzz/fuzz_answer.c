/*
 * fuzz_answer: an upstream's answer, as hostile as it gets, through acceptance
 * (dns_answer_check), scrubbing (dns_msg_scrub), the cache (insert, then lookups on a clock
 * the input moves) and the client's answer (dns_msg_client_answer). Every message dotd builds
 * must pass its own reader and fit the client's limit. Invariants abort.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dns_msg.h"

static uint64_t clock_ms = 1000000;

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static void check_built(const uint8_t *m, size_t len, size_t max)
{
	struct dns_opt opt;

	if (len > max || dns_opt_find(m, len, &opt) != 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *cache;
	static uint8_t scrub[DNS_MAX_MSG], out[DNS_MAX_MSG + 2048];
	/* The query dotd sent: www.example A, or the answer's own question. */
	uint8_t query[DNS_HDR_LEN + DNS_MAX_NAME + 4 + 11];
	struct dns_client_query clients[3];
	static const size_t limits[] = {512, 1232, DNS_MAX_MSG};
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

		if (cache_new(&p, &cache) != 0) {
			abort();
		}
	}
	if (size < 1) {
		return 0;
	}
	clock_ms += 1000ull * data[0]; /* the first byte moves the clock */
	ans = data + 1;
	len = size - 1;
	if (len >= DNS_HDR_LEN && dns_question_parse(ans, len, &q) == 0) {
		memcpy(query, ans, q.end);
		qlen = q.end;
	} else {
		static const uint8_t www[] = {0,   0,	1,   0,	  0,   1,   0, 0,   0,	 0,
					      0,   0,	3,   'w', 'w', 'w', 7, 'e', 'x', 'a',
					      'm', 'p', 'l', 'e', 0,   0,   1, 0,   1};

		memcpy(query, www, sizeof(www));
		qlen = sizeof(www);
		if (len >= 2) {
			memcpy(query, ans, 2);
		}
	}
	dns_put16(query + 2, DNS_RD);
	dns_put16(query + 4, 1);
	dns_put16(query + 6, 0);
	dns_put16(query + 8, 0);
	dns_put16(query + 10, 0);
	if (dns_answer_check(query, qlen, ans, len, &opt) != 0) {
		return 0;
	}
	if (dns_msg_scrub(ans, len, scrub, sizeof(scrub), &slen) != 0) {
		return 0; /* dotd treats it as a broken answer */
	}
	if (slen > 0) {
		if (dns_opt_find(scrub, slen, &sopt) != 0) {
			abort();
		}
		ans = scrub;
		len = slen;
		opt = sopt;
	}
	/* Three clients: no EDNS, EDNS with DO, EDNS 4096; each with the query's question. */
	for (int i = 0; i < 3; i++) {
		unsigned rcode;
		uint8_t *cm = malloc(qlen + 11);
		size_t cm_len = qlen;

		memcpy(cm, query, qlen);
		if (i > 0) {
			dns_put16(cm + 10, 1);
			cm_len += dns_opt_write(cm + qlen, i == 1 ? 1232 : 4096, 0, i == 1, 0);
		}
		if (dns_msg_check_query(cm, cm_len, &clients[i], &rcode) != DNS_CHECK_OK) {
			free(cm);
			return 0; /* a question dotd would not forward (AXFR, CHAOS ...) */
		}
		{
			struct cache_key k;

			cache_key_make(cache, cm, &clients[i].q, clients[i].do_bit, &k);
			if (i == 0) {
				cache_insert(cache, &k, ans, len, &opt);
			}
			for (size_t l = 0; l < 3; l++) {
				struct cache_client cl = {.query = cm,
							  .qend = clients[i].q.end,
							  .has_opt = clients[i].has_opt,
							  .do_bit = clients[i].do_bit,
							  .max_len = limits[l]};
				size_t out_len;
				bool prefetch;

				if (cache_lookup(cache, &k, &cl, l == 2 ? 30 : 0, out, sizeof(out),
						 &out_len, &prefetch) != CACHE_MISS) {
					check_built(out, out_len, limits[l]);
				}
				if (dns_msg_client_answer(&clients[i], ans, len, &opt, limits[l],
							  out, sizeof(out), &out_len) == 0) {
					check_built(out, out_len, limits[l]);
					if (dns_id(out) != dns_id(cm)) {
						abort();
					}
				}
			}
		}
		free(cm);
	}
	return 0;
}
