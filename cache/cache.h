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

#define CACHE_KEY_MAX	(DNS_MAX_NAME + 13) /* name, type, class, flags, and a group */
#define CACHE_KEY_GROUP 4		    /* in the flags byte: a group follows (8 octets) */

/** Milliseconds on a monotonic clock. */
typedef uint64_t (*cache_now_fn)(void *arg);

struct cache_params {
	size_t max_bytes;     /**< cache_size: entries and index together */
	uint32_t min_ttl;     /**< cache_min_ttl (s) */
	uint32_t max_ttl;     /**< cache_max_ttl (s) */
	uint32_t max_neg_ttl; /**< cache_max_negative_ttl (s) */
	uint32_t stale_max;   /**< serve_stale_max (s): how long past its TTL an entry is kept */
	cache_now_fn now;     /**< the clock (cache_params_set() keeps the cache's own) */
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
 * A configuration reload: @c takes every setting of @p but its clock, and keeps its entries.
 * The clock (now, now_arg) stays, since every time stored is on it, and so does the hash
 * secret, since queries in flight hold keys made with it.
 *
 * min_ttl, max_ttl and max_neg_ttl apply to answers stored from then on: an entry already
 * stored keeps its expiry and its TTLs. stale_max applies at once to every entry, since it is
 * read whenever an entry is used.
 *
 * A smaller max_bytes evicts as cache_insert() does (entries past their TTL first, then the
 * SIEVE hand; counted in evicted_expired and evicted_live) until the entries and the index
 * fit; the index shrinks with the entries when it must, since a cache that had grown large
 * may have an index larger than the new bound. A larger one only lets the cache grow. From 0
 * the cache is set up as cache_new() does; to 0 every entry is dropped (no eviction: nothing
 * is counted but entries and bytes) and the cache is disabled just as one made with max_bytes
 * 0. The counters stay; entries and bytes are those of what is left.
 *
 * 0; -EINVAL for a max_bytes cache_new() refuses, -ENOMEM (enabling): @c is then unchanged.
 */
int cache_params_set(struct cache *c, const struct cache_params *p);

/**
 * The key of a query @msg whose question is @q: the name lower-cased, type, class, and the
 * DO and CD bits. The hash is keyed with a secret chosen at cache_new(), so that names cannot
 * be chosen to collide.
 */
void cache_key_make(const struct cache *c, const uint8_t *msg, const struct dns_question *q,
		    bool do_bit, struct cache_key *k);

/**
 * Put @k in upstream group @group (not 0): the answers of a forward zone's upstreams are kept
 * apart from the default group's and from every other zone's, so that an answer fetched from
 * one set of servers is never served for another. The group is an opaque 64-bit value that
 * the caller derives from what the servers are (so that a reload that keeps them keeps the
 * entries, and one that changes them does not serve the old servers' answers). 0 leaves @k
 * as it is (the default group).
 */
void cache_key_set_group(const struct cache *c, struct cache_key *k, uint64_t group);

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

/**
 * Drop entries (dotd-ctl flush). With @name NULL, every entry (@qtype is not read). Else @name
 * is a domain name in uncompressed wire format, as dns_wire reads it from a question, matched
 * without regard to ASCII case (keys hold it lower-cased); its entries of type @qtype are
 * dropped, or of every type when @qtype is -1, of every class, with DO and CD set or not.
 * Only @name's own entries go: a key holds one name, so the names below it (www.example.
 * under example.) stay. A malformed @name, or a @qtype outside -1..65535, matches nothing.
 *
 * The counters stay (a flush is no eviction); entries and bytes are those of what is left.
 * Returns the number of entries dropped.
 */
size_t cache_flush(struct cache *c, const uint8_t *name, int qtype);

/** The bytes one entry of @msg_len bytes with @n_ttls TTLs and key @key_len costs. */
size_t cache_entry_cost(size_t msg_len, size_t n_ttls, size_t key_len);

/*
 * The cache file: what survives a restart (cache_file). cache_dump() writes the entries,
 * cache_load() reads them back into a cache that has just been made; the daemon does the I/O
 * (a temporary file, fsync, rename) and passes the wall-clock time, since the cache's own clock
 * is monotonic and does not survive a restart.
 *
 * Format, version 1; every integer big-endian, so that a file moves between architectures:
 *
 *   header    "DOTDCACH", version (u32), entry count (u32), wall-clock time of the dump (u64,
 *             seconds since the epoch), length of the whole file (u64)
 *   entries   oldest first: key length (u16), message length (u16), EDE length (u16), the
 *             extended RCODE bits (u8), age at the dump (u64, ms since the entry was stored),
 *             then the key as cache_key_make() writes it, the message as stored (its OPT cut
 *             off, AA clear, TTLs as a client first sees them) and the EDE options
 *   checksum  FNV-1a 64 (u64) of every byte before it
 *
 * The TTL offsets and the lifetime are not written: the loader finds them again by walking the
 * message as cache_insert() does, so a file cannot point a TTL into a name. The remaining
 * lifetime at the dump is that lifetime less the age, negative for a stale entry. SERVFAIL
 * entries (kept 5 s only to damp repeats) and entries past stale_max are not written.
 *
 * The checksum detects corruption (a torn or truncated write, a bad flash block), not an
 * attacker, who can compute it as well: hostile contents are refused by validation.
 */
#define CACHE_FILE_MAGIC	 "DOTDCACH"
#define CACHE_FILE_VERSION	 1
#define CACHE_FILE_HDR_LEN	 32
#define CACHE_FILE_ENTRY_HDR_LEN 15
#define CACHE_FILE_SUM_LEN	 8

/**
 * Write the entries of @c (fresh, and stale within stale_max) as a cache file through
 * @write_cb, which gets the file in order in pieces of up to 64 KiB (more for one large
 * entry) and returns 0 or a negative errno, which stops the dump and is returned.
 * @wall_now_s is the wall-clock time (s since the epoch). *@n_entries (if not NULL) is set to
 * the entries written. 0, -ENOMEM, or the callback's error.
 */
int cache_dump(const struct cache *c, uint64_t wall_now_s,
	       int (*write_cb)(void *arg, const void *buf, size_t len), void *arg,
	       size_t *n_entries);

struct cache_load_stats {
	size_t loaded;	/**< entries stored */
	size_t expired; /**< dropped: past stale_max once aged by the time since the dump */
	size_t skipped; /**< dropped: not cacheable now (SERVFAIL, the TTL settings, size) */
	size_t evicted; /**< stored, then evicted for room by later ones (max_bytes) */
	uint64_t age_s; /**< wall-clock seconds since the dump (0 for a dump from the future) */
};

/**
 * Read the cache file @buf (@len bytes) into @c, at wall-clock time @wall_now_s. Every TTL is
 * aged by the wall-clock time since the dump (none if the clock went back); what is then past
 * stale_max is dropped, and max_bytes holds as for cache_insert(). Each entry is checked as
 * an answer from the network would be (the key is its question's, the message reads and keeps
 * its names clear of its TTLs, no OPT, no TC, an RCODE the cache keeps, whole EDE options);
 * one that is not cacheable under the current settings is skipped.
 *
 * Meant for a cache that holds nothing yet: on success @c holds the file's entries (what it
 * held is dropped; its counters stay) and *@st (if not NULL) says what happened. On failure
 * @c is unchanged: -EINVAL for a file that is not a cache file, -EPROTONOSUPPORT for another
 * version, -EBADMSG for one that is truncated, corrupted (length, checksum, count) or holds an
 * entry that fails the checks above or repeats a key (the whole file is refused: dotd wrote
 * none such), -ENOMEM.
 */
int cache_load(struct cache *c, const uint8_t *buf, size_t len, uint64_t wall_now_s,
	       struct cache_load_stats *st);
