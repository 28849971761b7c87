/*
 * cache: the answer cache. Pure: no I/O, no libuv, no wolfSSL; its clock is injected.
 *
 * Entries are upstream answers in wire format (their OPT removed), keyed by the question with
 * the name lower-cased, QTYPE, QCLASS, and the DO and CD bits (rfc-checklist C1, C2). An entry
 * keeps the offset of every TTL, so that a hit is a copy, the client's ID and spelling of the
 * name (0x20, RFC 4343 §4) written in, every TTL aged in place, and the OPT record fitted to the
 * client: no parse on the hit path.
 *
 * Lifetimes (RFC 1035 §3.2.1, RFC 2181 §5.2, §8, RFC 2308 §5): a positive answer lives for the
 * smallest TTL of its records, clamped to [min_ttl, max_ttl]; NXDOMAIN and NODATA for
 * min(SOA TTL, SOA MINIMUM) of the SOA in the authority section, capped by max_neg_ttl, and are
 * not cached without one; SERVFAIL for at most 5 s, only to damp repeats. Answers with TC, with
 * another RCODE, or a TTL of 0 are not cached. A TTL with its top bit set counts as 0 (RFC 2181
 * §8). Expired entries are kept for serve-stale (RFC 8767) up to stale_max seconds.
 *
 * Bounded: every byte of entries and index counts against max_bytes. Eviction takes an entry
 * past its TTL first (a heap by expiry), then the SIEVE hand (a hit only sets a bit).
 *
 * Single-threaded: one cache per event loop.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

#define CACHE_KEY_MAX (DNS_MAX_NAME + 5) /* name, type, class, flags */

/** Milliseconds on a monotonic clock. */
typedef uint64_t (*cache_now_fn)(void *arg);

struct cache_params {
	size_t max_bytes;     /**< cache_size: entries and index together */
	uint32_t min_ttl;     /**< cache_min_ttl (s) */
	uint32_t max_ttl;     /**< cache_max_ttl (s) */
	uint32_t max_neg_ttl; /**< cache_max_negative_ttl (s) */
	uint32_t stale_max;   /**< serve_stale_max (s): how long past its TTL an entry is kept */
	cache_now_fn now;     /**< the clock */
	void *now_arg;
};

/** A lookup key: the question, name lower-cased, and the DO and CD bits. */
struct cache_key {
	uint8_t data[CACHE_KEY_MAX];
	uint16_t len;
	uint64_t hash;
};

/** What the client asked, as far as building its answer needs. */
struct cache_client {
	const uint8_t *query; /**< borrowed: its message (for the ID and the name's spelling) */
	size_t qend;	      /**< end of its question */
	bool has_opt;	      /**< it sent an OPT record */
	bool do_bit;
	size_t max_len; /**< the largest answer it takes (UDP limit, or 65535) */
};

enum cache_state {
	CACHE_MISS,  /**< nothing usable */
	CACHE_FRESH, /**< within its TTL */
	CACHE_STALE, /**< past its TTL, within stale_max: for RFC 8767 use only */
};

struct cache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t stale_hits;
	uint64_t inserts;
	uint64_t not_cacheable;
	uint64_t evicted_expired;  /**< evicted while past their TTL */
	uint64_t evicted_live;	   /**< evicted by the SIEVE hand */
	uint64_t refresh_failures; /**< refreshes that failed while an answer was kept */
	size_t entries;
	size_t bytes; /**< entries and index, against max_bytes */
};

struct cache;

/**
 * Create a cache; -EINVAL if max_bytes cannot hold even the index. A max_bytes of 0 gives a
 * disabled cache: keys are made (for coalescing), nothing is stored.
 */
int cache_new(const struct cache_params *p, struct cache **out);

void cache_free(struct cache *c);

/**
 * The key of a query @msg whose question is @q: the name lower-cased, type, class, and the
 * DO and CD bits. The hash is keyed with a secret chosen at cache_new(), so that names cannot
 * be chosen to collide.
 */
void cache_key_make(const struct cache *c, const uint8_t *msg, const struct dns_question *q,
		    bool do_bit, struct cache_key *k);

/**
 * Store the upstream answer @ans (@len bytes, every record checked by dns_opt_find(), which gave
 * @opt) under @k, replacing what was there, if it is cacheable. An error answer (an RCODE other
 * than NOERROR and NXDOMAIN) never replaces an entry that is fresh or stale within stale_max:
 * that counts as cache_refresh_failed(). Returns 1 when stored, 0 when not, -ENOMEM.
 */
int cache_insert(struct cache *c, const struct cache_key *k, const uint8_t *ans, size_t len,
		 const struct dns_opt *opt);

/**
 * Look @k up and, unless CACHE_MISS, write the client's answer into @out (@cap bytes, at least
 * the client's max_len): with @stale_ttl > 0, every TTL is set to it and an Extended DNS Error
 * 3 (Stale Answer, RFC 8914) is added for an EDNS client (RFC 8767 §4 recommends 30 s).
 * *@prefetch is set when a fresh entry is in the last tenth of its lifetime and no refresh was
 * started for it yet (the caller starts one: cache_insert() clears the mark).
 */
enum cache_state cache_lookup(struct cache *c, const struct cache_key *k,
			      const struct cache_client *cl, uint32_t stale_ttl, uint8_t *out,
			      size_t cap, size_t *out_len, bool *prefetch);

/**
 * A refresh of @k failed (no answer, or an error answer): the entry is kept, and no prefetch is
 * asked for it, nor cache_refresh_held() false, until a backoff (5 s doubling to 30 s, RFC 8767
 * §4) has passed. false when there is no entry worth keeping.
 */
bool cache_refresh_failed(struct cache *c, const struct cache_key *k);

/**
 * Whether the refresh of @k's entry is held back after a failure: a stale entry is then to be
 * served at once, without asking upstream (RFC 8767 §4, the failure recheck timer).
 */
bool cache_refresh_held(struct cache *c, const struct cache_key *k);

/** Whether an entry past its TTL but within stale_max exists for @k. */
bool cache_has_stale(struct cache *c, const struct cache_key *k);

void cache_stats_get(const struct cache *c, struct cache_stats *out);

/** The bytes one entry of @msg_len bytes with @n_ttls TTLs and key @key_len costs. */
size_t cache_entry_cost(size_t msg_len, size_t n_ttls, size_t key_len);
