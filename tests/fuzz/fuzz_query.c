/*
 * fuzz_query: a client's message, as hostile as it gets, through what dotd does with it before
 * any I/O: the checks (dns_msg_check_query), the error answer (dns_msg_error), the upstream
 * query (dns_msg_upstream_query), the cache key and a lookup. Invariants abort.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dns_msg.h"

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return 1000000;
}

static void check_built(const uint8_t *m, size_t len)
{
	struct dns_opt opt;

	if (dns_opt_find(m, len, &opt) != 0) {
		abort(); /* we wrote something our own reader rejects */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *cache;
	static uint8_t out[2 + DNS_MAX_MSG + 1024];
	struct dns_client_query cq;
	struct dns_upstream_opts opts[] = {
		{.padding_blocksize = 128, .ecs_private = true, .keepalive = true},
		{.padding_blocksize = 0},
	};
	unsigned rcode;
	size_t len;

	if (!cache) {
		struct cache_params p = {.max_bytes = 1 << 20, .max_ttl = 86400, .now = fake_now};

		if (cache_new(&p, &cache) != 0) {
			abort();
		}
	}
	switch (dns_msg_check_query(data, size, &cq, &rcode)) {
	case DNS_CHECK_DROP:
		return 0;
	case DNS_CHECK_ANSWER:
		if (dns_msg_error(&cq, rcode, DNS_EDE_OTHER, "fuzz", out, sizeof(out), &len) != 0 ||
		    dns_id(out) != dns_id(data)) {
			abort();
		}
		check_built(out, len);
		if (dns_msg_error(&cq, rcode, -1, NULL, out, sizeof(out), &len) != 0) {
			abort();
		}
		check_built(out, len);
		return 0;
	case DNS_CHECK_OK:
		break;
	}
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct dns_question q;

		if (dns_msg_upstream_query(&cq, &opts[i], out, sizeof(out), &len) != 0) {
			abort(); /* a valid question always fits */
		}
		if (dns_get16(out) != len - 2) {
			abort();
		}
		if (opts[i].padding_blocksize && (len - 2) % opts[i].padding_blocksize != 0) {
			abort();
		}
		check_built(out + 2, len - 2);
		if (dns_question_parse(out + 2, len - 2, &q) != 0 ||
		    !dns_question_equal(out + 2 + DNS_HDR_LEN, q.end - DNS_HDR_LEN,
					cq.msg + DNS_HDR_LEN, cq.q.end - DNS_HDR_LEN)) {
			abort();
		}
	}
	{
		struct cache_key k;
		struct cache_client cl = {.query = cq.msg,
					  .qend = cq.q.end,
					  .has_opt = cq.has_opt,
					  .do_bit = cq.do_bit,
					  .max_len = dns_msg_udp_limit(&cq)};
		bool prefetch;

		cache_key_make(cache, cq.msg, &cq.q, cq.do_bit, &k);
		cache_lookup(cache, &k, &cl, 30, out, sizeof(out), &len, &prefetch);
	}
	return 0;
}
