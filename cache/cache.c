/*
 * cache: wire-format answers keyed by question. See cache.h for the contract.
 *
 * Layout of an entry: one allocation holding the struct, the key, the message without its OPT
 * record, the offsets of its TTLs (16 bits each: a message is at most 65535 octets) and the
 * Extended DNS Error options the upstream sent, kept for EDNS clients.
 *
 * Index: a chained hash table (power of two, grown at load 1), keyed by SipHash-2-4 of the key
 * with a secret drawn at creation, so that a client cannot pick names that collide. A min-heap
 * by expiry finds an entry past its TTL in O(1) for eviction; a SIEVE queue (newest at the
 * head, a hand walking from the tail, a hit only setting a bit) picks among live ones. Table
 * and heap shrink only when a reload (cache_params_set()) makes max_bytes too small for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cache.h"
#include "siphash.h"

#define TABLE_MIN	1024
#define SERVFAIL_TTL	5    /* RFC 2308 §7.1 allows up to 5 min; we only damp repeats */
#define MALLOC_OVERHEAD 16   /* counted per allocation, so that the bound is honest */
#define MAX_TTLS	4096 /* records per cached message (rfc-checklist C16) */
/*
 * A failed refresh holds the next one back: 5 s, doubling with each failure in a row, up to the
 * 30 s failure recheck timer of RFC 8767 §4 (the time a stale answer is served without asking).
 */
#define REFRESH_BACKOFF_MIN_MS 5000
#define REFRESH_BACKOFF_MAX_MS 30000
/*
 * Internal times are the injected clock plus this bias, so that an entry loaded from a cache
 * file (cache_load()) can be given a storage time before the clock's zero: the daemon's clock
 * (uv_now()) counts from boot, and a router that was just started holds entries stored hours
 * ago. Only differences of times are ever used, so the bias changes nothing else. 2^44 ms
 * (557 years) is more than any lifetime plus stale_max (2 * 2^32 s).
 */
#define CLOCK_BIAS_MS (1ull << 44)

struct entry {
	struct entry *hnext;	     /**< hash chain */
	struct entry *qprev, *qnext; /**< SIEVE queue: qprev towards the head (newer) */
	size_t heap_idx;
	uint64_t hash;
	uint64_t stored_at;  /**< ms */
	uint64_t expires_at; /**< ms: stored_at + lifetime */
	uint64_t refresh_at; /**< ms: no refresh before (after a failed one), else 0 */
	size_t cost;	     /**< bytes counted for it */
	uint16_t key_len;
	uint16_t msg_len;
	uint16_t n_ttls;
	uint16_t ede_len;
	uint8_t refresh_fails; /**< failed refreshes in a row */
	uint8_t ext_rcode;     /**< the upstream's extended RCODE bits */
	bool visited;	       /**< SIEVE: hit since the hand last passed */
	bool prefetching;      /**< a refresh was asked for */
	bool servfail;	       /**< kept only to damp repeats: never served stale */
	uint8_t data[];	       /**< key, message, TTL offsets, EDE options */
};

struct cache {
	struct cache_params p;
	uint64_t secret[2];
	struct entry **table; /**< owned: n_buckets chains */
	size_t n_buckets;
	struct entry **heap; /**< owned: by expires_at */
	size_t heap_cap;
	struct entry *q_head, *q_tail, *hand;
	struct cache_stats stats;
	uint8_t *scratch; /**< owned or NULL until needed: DNS_MAX_MSG octets, for one call */
};

static uint64_t clock_now(const struct cache *c)
{
	return c->p.now(c->p.now_arg) + CLOCK_BIAS_MS;
}

/* --- entries --- */

static inline uint8_t *entry_key(struct entry *e)
{
	return e->data;
}

static inline uint8_t *entry_msg(struct entry *e)
{
	return e->data + e->key_len;
}

static inline uint8_t *entry_ttls(struct entry *e)
{
	return e->data + e->key_len + e->msg_len;
}

static inline uint8_t *entry_ede(struct entry *e)
{
	return entry_ttls(e) + 2 * (size_t)e->n_ttls;
}

size_t cache_entry_cost(size_t msg_len, size_t n_ttls, size_t key_len)
{
	return sizeof(struct entry) + key_len + msg_len + 2 * n_ttls + MALLOC_OVERHEAD;
}

static size_t index_cost(size_t n_buckets, size_t heap_cap)
{
	return (n_buckets + heap_cap) * sizeof(void *) + 2 * MALLOC_OVERHEAD;
}

/* --- the heap by expiry --- */

static void heap_swap(struct cache *c, size_t a, size_t b)
{
	struct entry *t = c->heap[a];

	c->heap[a] = c->heap[b];
	c->heap[b] = t;
	c->heap[a]->heap_idx = a;
	c->heap[b]->heap_idx = b;
}

static void heap_up(struct cache *c, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (c->heap[parent]->expires_at <= c->heap[i]->expires_at) {
			break;
		}
		heap_swap(c, i, parent);
		i = parent;
	}
}

static void heap_down(struct cache *c, size_t i)
{
	size_t n = c->stats.entries;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && c->heap[l]->expires_at < c->heap[m]->expires_at) {
			m = l;
		}
		if (r < n && c->heap[r]->expires_at < c->heap[m]->expires_at) {
			m = r;
		}
		if (m == i) {
			return;
		}
		heap_swap(c, i, m);
		i = m;
	}
}

/* --- linking and unlinking --- */

static struct entry **bucket_of(struct cache *c, uint64_t hash)
{
	return &c->table[hash & (c->n_buckets - 1)];
}

static void entry_unlink(struct cache *c, struct entry *e)
{
	struct entry **pp = bucket_of(c, e->hash);
	size_t last;

	while (*pp != e) {
		pp = &(*pp)->hnext;
	}
	*pp = e->hnext;

	if (c->hand == e) {
		c->hand = e->qprev;
	}
	if (e->qprev) {
		e->qprev->qnext = e->qnext;
	} else {
		c->q_head = e->qnext;
	}
	if (e->qnext) {
		e->qnext->qprev = e->qprev;
	} else {
		c->q_tail = e->qprev;
	}

	last = c->stats.entries - 1;
	if (e->heap_idx != last) {
		size_t i = e->heap_idx;

		heap_swap(c, i, last);
		c->stats.entries--;
		heap_down(c, i);
		heap_up(c, i);
	} else {
		c->stats.entries--;
	}
	c->stats.bytes -= e->cost;
	free(e);
}

/* Evict one entry: one past its TTL if any (RFC 8767 keeps them only while room allows), else
 * the first not visited under the SIEVE hand. */
static void evict_one(struct cache *c, uint64_t now)
{
	struct entry *e;

	if (c->stats.entries == 0) {
		return;
	}
	if (c->heap[0]->expires_at <= now) {
		c->stats.evicted_expired++;
		entry_unlink(c, c->heap[0]);
		return;
	}
	e = c->hand ? c->hand : c->q_tail;
	while (e->visited) {
		e->visited = false;
		e = e->qprev ? e->qprev : c->q_tail;
	}
	c->hand = e->qprev;
	c->stats.evicted_live++;
	entry_unlink(c, e);
}

static int table_grow(struct cache *c)
{
	size_t n = c->n_buckets * 2;
	struct entry **t = calloc(n, sizeof(*t));

	if (!t) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_buckets; i++) {
		struct entry *e = c->table[i];

		while (e) {
			struct entry *next = e->hnext;

			e->hnext = t[e->hash & (n - 1)];
			t[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(c->table);
	c->table = t;
	c->stats.bytes += (n - c->n_buckets) * sizeof(void *);
	c->n_buckets = n;
	return 0;
}

static int heap_grow(struct cache *c)
{
	size_t cap = c->heap_cap * 2;
	struct entry **h = realloc(c->heap, cap * sizeof(*h));

	if (!h) {
		return -ENOMEM;
	}
	c->heap = h;
	c->stats.bytes += (cap - c->heap_cap) * sizeof(void *);
	c->heap_cap = cap;
	return 0;
}

/* Drop every entry; the index stays as it is, empty. The number dropped. */
static size_t entries_drop_all(struct cache *c)
{
	size_t n = c->stats.entries;
	struct entry *e = c->q_head;

	while (e) {
		struct entry *next = e->qnext;

		c->stats.bytes -= e->cost;
		free(e);
		e = next;
	}
	if (c->table) {
		memset(c->table, 0, c->n_buckets * sizeof(*c->table));
	}
	c->q_head = NULL;
	c->q_tail = NULL;
	c->hand = NULL;
	c->stats.entries = 0;
	return n;
}

/* The index capacity, a power of two as the index grows, that holds @n entries at load 1. */
static size_t cap_for(size_t n)
{
	size_t cap = TABLE_MIN;

	while (cap < n) {
		cap *= 2;
	}
	return cap;
}

/*
 * Halve the table: bucket i + n/2 joins bucket i, the hash bit that told them apart no longer
 * read. Should realloc refuse to shrink the block (C allows it), the larger one serves on,
 * counted as the smaller: a shrink never fails.
 */
static void table_halve(struct cache *c)
{
	size_t half = c->n_buckets / 2;
	struct entry **t;

	for (size_t i = 0; i < half; i++) {
		struct entry **pp = &c->table[i];

		while (*pp) {
			pp = &(*pp)->hnext;
		}
		*pp = c->table[half + i];
	}
	t = realloc(c->table, half * sizeof(*t));
	if (t) {
		c->table = t;
	}
	c->stats.bytes -= half * sizeof(void *);
	c->n_buckets = half;
}

/* Halve the heap's capacity; it must still hold every entry. A refused realloc as above. */
static void heap_halve(struct cache *c)
{
	size_t cap = c->heap_cap / 2;
	struct entry **h = realloc(c->heap, cap * sizeof(*h));

	if (h) {
		c->heap = h;
	}
	c->stats.bytes -= cap * sizeof(void *);
	c->heap_cap = cap;
}

/*
 * Bring @c, which has an index, within a max_bytes made smaller. Evicting alone may not do:
 * the index of a cache that had grown large can exceed a small bound by itself. So entries go
 * as for an insertion (evict_one()) until they fit with the index an insertion would have
 * grown for as many (load 1; the table as it is if smaller, since it grows only when there is
 * room), and then the index is cut down to it as far as the bound asks, the heap's spare slots
 * before the table's buckets. With no entries left that index is the smallest, which
 * max_bytes_valid() makes sure fits.
 */
static void fit(struct cache *c, uint64_t now)
{
	size_t max = c->p.max_bytes;

	while (c->stats.entries > 0) {
		size_t cap = cap_for(c->stats.entries);
		size_t buckets = c->n_buckets < cap ? c->n_buckets : cap;
		size_t but_index = c->stats.bytes - index_cost(c->n_buckets, c->heap_cap);

		if (but_index + index_cost(buckets, cap) <= max) {
			break;
		}
		evict_one(c, now);
	}
	while (c->stats.bytes > max && c->heap_cap > cap_for(c->stats.entries)) {
		heap_halve(c);
	}
	while (c->stats.bytes > max && c->n_buckets > cap_for(c->stats.entries)) {
		table_halve(c);
	}
}

/* --- the public functions --- */

/* Whether @max_bytes holds the cache and its smallest index; 0 (disabled) holds nothing. */
static bool max_bytes_valid(size_t max_bytes)
{
	return max_bytes == 0 ||
	       max_bytes >= sizeof(struct cache) + index_cost(TABLE_MIN, TABLE_MIN);
}

/*
 * Give @c, which holds no entries and no index (a disabled cache), the smallest index, as an
 * enabled cache starts with. -ENOMEM leaves @c as it was.
 */
static int index_new(struct cache *c)
{
	struct entry **table = calloc(TABLE_MIN, sizeof(*table));
	struct entry **heap = calloc(TABLE_MIN, sizeof(*heap));

	if (!table || !heap) {
		free(table);
		free(heap);
		return -ENOMEM;
	}
	c->table = table;
	c->n_buckets = TABLE_MIN;
	c->heap = heap;
	c->heap_cap = TABLE_MIN;
	c->stats.bytes = sizeof(*c) + index_cost(c->n_buckets, c->heap_cap);
	return 0;
}

/* Drop every entry and the index: @c is then as cache_new() makes a disabled cache. */
static void index_free(struct cache *c)
{
	entries_drop_all(c);
	free(c->table);
	c->table = NULL;
	c->n_buckets = 0;
	free(c->heap);
	c->heap = NULL;
	c->heap_cap = 0;
	c->stats.bytes = 0;
}

int cache_new(const struct cache_params *p, struct cache **out)
{
	struct cache *c;

	if (!max_bytes_valid(p->max_bytes) || !p->now) {
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->p = *p;
	if (getrandom(c->secret, sizeof(c->secret), 0) != (ssize_t)sizeof(c->secret)) {
		c->secret[0] = (uint64_t)(uintptr_t)c ^ p->now(p->now_arg);
		c->secret[1] = ~c->secret[0] * 0x9e3779b97f4a7c15ull;
	}
	/* With max_bytes 0, disabled: keys are made, nothing is stored (no index). */
	if (p->max_bytes > 0 && index_new(c) != 0) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void cache_free(struct cache *c)
{
	if (!c) {
		return;
	}
	free(c->scratch);
	for (size_t i = 0; c->table && i < c->n_buckets; i++) {
		struct entry *e = c->table[i];

		while (e) {
			struct entry *next = e->hnext;

			free(e);
			e = next;
		}
	}
	free(c->table);
	free(c->heap);
	free(c);
}

int cache_params_set(struct cache *c, const struct cache_params *p)
{
	struct cache_params np = *p;
	int ret;

	if (!max_bytes_valid(p->max_bytes)) {
		return -EINVAL;
	}
	if (c->p.max_bytes == 0 && p->max_bytes > 0) {
		ret = index_new(c);
		if (ret != 0) {
			return ret;
		}
	} else if (c->p.max_bytes > 0 && p->max_bytes == 0) {
		index_free(c);
	}
	/* The clock stays: every time stored is on it. */
	np.now = c->p.now;
	np.now_arg = c->p.now_arg;
	c->p = np;
	if (c->table && c->stats.bytes > c->p.max_bytes) {
		fit(c, clock_now(c));
	}
	return 0;
}

static inline uint8_t ascii_lower(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + ('a' - 'A')) : ch;
}

void cache_key_make(const struct cache *c, const uint8_t *msg, const struct dns_question *q,
		    bool do_bit, struct cache_key *k)
{
	const uint8_t *name = msg + q->name_off;
	size_t n = q->name_len;

	for (size_t i = 0; i < n; i++) {
		k->data[i] = ascii_lower(name[i]);
	}
	dns_put16(k->data + n, q->qtype);
	dns_put16(k->data + n + 2, q->qclass);
	k->data[n + 4] = (uint8_t)((do_bit ? 1 : 0) | ((dns_flags(msg) & DNS_CD) ? 2 : 0));
	k->len = (uint16_t)(n + 5);
	k->hash = siphash(c->secret, k->data, k->len);
}

static struct entry *find(struct cache *c, const struct cache_key *k)
{
	if (!c->table) {
		return NULL;
	}
	for (struct entry *e = *bucket_of(c, k->hash); e; e = e->hnext) {
		if (e->hash == k->hash && e->key_len == k->len &&
		    memcmp(entry_key(e), k->data, k->len) == 0) {
			return e;
		}
	}
	return NULL;
}

/* A TTL as a cache sees it: the top bit set means 0 (RFC 2181 §8). */
static uint32_t ttl_value(uint32_t ttl)
{
	return (ttl & 0x80000000u) ? 0 : ttl;
}

/*
 * Whether every name a client reads in @msg stays clear of the TTL fields the cache rewrites:
 * owner names, and the names at the start of the RDATA of the usual types (the second name of
 * an SOA too). A message where one runs across a TTL is a hostile upstream's trick; it is passed
 * on as it came but not cached, since aging its TTLs would change its names.
 */
static bool names_clear_of_ttls(const uint8_t *msg, size_t len)
{
	uint8_t bitmap[(DNS_MAX_MSG + 8) / 8];
	struct dns_walk w;
	struct dns_rr rr;
	int ret;

	memset(bitmap, 0, (len + 7) / 8 + 1);
	if (dns_walk_init(&w, msg, len) != 0) {
		return false;
	}
	while ((ret = dns_walk_next(&w, &rr)) == 1) {
		for (size_t i = rr.ttl_off; i < rr.ttl_off + 4; i++) {
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}
	if (ret != 0) {
		return false;
	}
	dns_walk_init(&w, msg, len);
	while (dns_walk_next(&w, &rr) == 1) {
		int at = dns_rdata_name_offset(rr.type);

		if (!dns_name_avoids(msg, len, rr.off, bitmap)) {
			return false;
		}
		if (at >= 0 && rr.rdlen > at) {
			size_t next;

			if (!dns_name_avoids(msg, len, rr.rdata_off + (size_t)at, bitmap)) {
				return false;
			}
			if (rr.type == DNS_TYPE_SOA &&
			    (dns_name_skip(msg, len, rr.rdata_off, &next) != 0 ||
			     !dns_name_avoids(msg, len, next, bitmap))) {
				return false;
			}
		}
	}
	return true;
}

/*
 * Whether @ans, cut to @msg_len octets without its OPT record, still reads and keeps its names
 * clear of the TTLs a hit rewrites. A hostile upstream can make labels run on over record
 * boundaries, into the OPT that is cut off or over a TTL: such an answer is not cached. The
 * check runs on a copy, in the cache's scratch buffer: a cache belongs to one thread, and each
 * worker has its own (resolver/worker.c).
 */
static bool servable_without_opt(struct cache *c, const uint8_t *ans, size_t msg_len, bool had_opt)
{
	uint8_t *copy;
	struct dns_opt none;

	if (!c->scratch) {
		c->scratch = malloc(DNS_MAX_MSG); /* touched as far as answers reach */
		if (!c->scratch) {
			return false; /* not cached, for want of memory */
		}
	}
	copy = c->scratch;
	memcpy(copy, ans, msg_len);
	if (had_opt) {
		dns_put16(copy + 10, (uint16_t)(dns_arcount(ans) - 1));
	}
	return dns_opt_find(copy, msg_len, &none) == 0 && !none.present &&
	       names_clear_of_ttls(copy, msg_len);
}

/* What kind of answer, and for how long it may live (s); 0: not cacheable. */
static uint32_t answer_lifetime(const struct cache *c, const uint8_t *ans, size_t len,
				uint16_t *n_ttls, bool *negative)
{
	unsigned rcode = dns_rcode(ans);
	uint32_t min_ttl = UINT32_MAX, neg = UINT32_MAX;
	struct dns_walk w;
	struct dns_rr rr;
	unsigned n = 0;
	int ret;

	*negative = false;
	if ((dns_flags(ans) & DNS_TC) || dns_walk_init(&w, ans, len) != 0) {
		return 0; /* rfc-checklist C7: a TC answer is never stored */
	}
	while ((ret = dns_walk_next(&w, &rr)) == 1) {
		uint32_t ttl;

		if (rr.type == DNS_TYPE_OPT) {
			continue;
		}
		if (++n > MAX_TTLS) {
			return 0;
		}
		ttl = ttl_value(dns_get32(ans + rr.ttl_off));
		if (ttl < min_ttl) {
			min_ttl = ttl;
		}
		/* RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM). */
		if (rr.section == 2 && rr.type == DNS_TYPE_SOA && rr.rdlen >= 20) {
			uint32_t minimum = ttl_value(dns_get32(ans + rr.rdata_off + rr.rdlen - 4));
			uint32_t t = ttl < minimum ? ttl : minimum;

			if (t < neg) {
				neg = t;
			}
		}
	}
	if (ret < 0) {
		return 0;
	}
	*n_ttls = (uint16_t)n;
	if (rcode == DNS_RCODE_SERVFAIL) {
		return SERVFAIL_TTL;
	}
	if (rcode == DNS_RCODE_NXDOMAIN || (rcode == DNS_RCODE_NOERROR && dns_ancount(ans) == 0)) {
		*negative = true;
		if (neg == UINT32_MAX) {
			return 0; /* no SOA: not cached (RFC 2308 §5) */
		}
		return neg < c->p.max_neg_ttl ? neg : c->p.max_neg_ttl;
	}
	if (rcode != DNS_RCODE_NOERROR) {
		return 0;
	}
	if (min_ttl < c->p.min_ttl) {
		min_ttl = c->p.min_ttl;
	}
	if (min_ttl > c->p.max_ttl) {
		min_ttl = c->p.max_ttl;
	}
	return min_ttl;
}

/* An entry worth keeping for @k: fresh, or stale within stale_max, and not a SERVFAIL. */
static struct entry *find_usable(struct cache *c, const struct cache_key *k, uint64_t now)
{
	struct entry *e = find(c, k);

	if (!e || e->servfail || now >= e->expires_at + 1000ull * c->p.stale_max) {
		return NULL;
	}
	return e;
}

static void refresh_failed(struct cache *c, struct entry *e, uint64_t now)
{
	uint64_t backoff = REFRESH_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < e->refresh_fails && backoff < REFRESH_BACKOFF_MAX_MS; i++) {
		backoff *= 2;
	}
	if (backoff > REFRESH_BACKOFF_MAX_MS) {
		backoff = REFRESH_BACKOFF_MAX_MS;
	}
	if (e->refresh_fails < UINT8_MAX) {
		e->refresh_fails++;
	}
	e->refresh_at = now + backoff;
	e->prefetching = false;
	c->stats.refresh_failures++;
}

bool cache_refresh_failed(struct cache *c, const struct cache_key *k)
{
	uint64_t now = clock_now(c);
	struct entry *e = find_usable(c, k, now);

	if (!e) {
		return false;
	}
	refresh_failed(c, e, now);
	return true;
}

bool cache_refresh_held(struct cache *c, const struct cache_key *k)
{
	uint64_t now = clock_now(c);
	struct entry *e = find_usable(c, k, now);

	return e && now < e->refresh_at;
}

/* Whether the question of @ans (@len bytes) is @k's, the name's case aside. */
void cache_key_set_group(const struct cache *c, struct cache_key *k, uint64_t group)
{
	size_t flags = 0;

	/* The flags byte follows the name (its labels walked: the key starts with it) and the
	 * type and class. */
	while (flags < k->len && k->data[flags] != 0) {
		flags += 1 + (size_t)k->data[flags];
	}
	flags += 5; /* the root label, type, class: the flags byte */
	if (group == 0 || flags + 1 != k->len || (k->data[flags] & CACHE_KEY_GROUP)) {
		return;
	}
	k->data[flags] |= CACHE_KEY_GROUP;
	for (int i = 0; i < 8; i++) {
		k->data[k->len + i] = (uint8_t)(group >> (56 - 8 * i));
	}
	k->len = (uint16_t)(k->len + 8);
	k->hash = siphash(c->secret, k->data, k->len);
}

/* The length of @k's name, type, class and flags: what is left without its group. */
static size_t key_base_len(const uint8_t *key, size_t len, size_t name_len)
{
	if (len == name_len + 13 && (key[name_len + 4] & CACHE_KEY_GROUP)) {
		return name_len + 5;
	}
	return len;
}

/*
 * Whether @k is the key of @ans's question: its name lower-cased, type, class, a flags byte of
 * DO, CD and CACHE_KEY_GROUP only, and a group exactly when that flag says so.
 */
static bool question_is_key(const uint8_t *ans, size_t len, const struct cache_key *k)
{
	struct dns_question q;
	uint8_t flags;

	if (dns_question_parse(ans, len, &q) != 0 || k->len < q.name_len + 5) {
		return false;
	}
	flags = k->data[q.name_len + 4];
	if ((flags & ~(3 | CACHE_KEY_GROUP)) ||
	    k->len != q.name_len + ((flags & CACHE_KEY_GROUP) ? 13 : 5)) {
		return false;
	}
	for (size_t i = 0; i < q.name_len; i++) {
		if (ascii_lower(ans[q.name_off + i]) != k->data[i]) {
			return false;
		}
	}
	return memcmp(ans + q.name_off + q.name_len, k->data + q.name_len, 4) == 0;
}

/* What an entry is made of, checked: cache_insert() and cache_load() fill it in. */
struct entry_src {
	const uint8_t *msg; /**< borrowed: the message, its OPT cut off (or still behind msg_len) */
	size_t msg_len;
	bool had_opt; /**< ARCOUNT still counts the OPT cut off */
	uint8_t ext_rcode;
	const uint8_t *ede; /**< borrowed: the EDE options to keep */
	uint16_t ede_len;
	uint32_t life; /**< s, from answer_lifetime() */
	uint16_t n_ttls;
	bool negative;
	uint64_t age; /**< ms the answer has already lived */
};

/*
 * Store @s under @k in place of what was there, evicting as the bound asks. 1 when stored, 0
 * when larger than the whole cache, -ENOMEM.
 */
static int entry_add(struct cache *c, const struct cache_key *k, const struct entry_src *s,
		     uint64_t now)
{
	struct dns_walk w;
	struct dns_rr rr;
	struct entry *e, *old;
	size_t cost, n = 0;

	cost = cache_entry_cost(s->msg_len, s->n_ttls, k->len) + s->ede_len;
	if (cost + c->stats.bytes > c->p.max_bytes &&
	    cost > c->p.max_bytes - index_cost(c->n_buckets, c->heap_cap) - sizeof(*c)) {
		return 0; /* larger than the whole cache */
	}
	old = find(c, k);
	if (old) {
		entry_unlink(c, old);
	}
	while (c->stats.bytes + cost > c->p.max_bytes && c->stats.entries > 0) {
		evict_one(c, now);
	}
	if (c->stats.entries + 1 > c->n_buckets &&
	    c->stats.bytes + cost + c->n_buckets * sizeof(void *) <= c->p.max_bytes) {
		table_grow(c);
	}
	if (c->stats.entries + 1 > c->heap_cap) {
		while (c->stats.bytes + cost + c->heap_cap * sizeof(void *) > c->p.max_bytes &&
		       c->stats.entries > 0) {
			evict_one(c, now);
		}
		if (c->stats.entries + 1 > c->heap_cap && heap_grow(c) != 0) {
			return -ENOMEM;
		}
	}
	e = malloc(cost - MALLOC_OVERHEAD);
	if (!e) {
		return -ENOMEM;
	}
	memset(e, 0, sizeof(*e));
	e->hash = k->hash;
	e->key_len = k->len;
	e->msg_len = (uint16_t)s->msg_len;
	e->n_ttls = s->n_ttls;
	e->ede_len = s->ede_len;
	e->ext_rcode = s->ext_rcode;
	e->servfail = dns_rcode(s->msg) == DNS_RCODE_SERVFAIL;
	e->stored_at = now - s->age;
	e->expires_at = e->stored_at + 1000ull * s->life;
	e->cost = cost;
	memcpy(entry_key(e), k->data, k->len);
	memcpy(entry_msg(e), s->msg, s->msg_len);
	if (s->had_opt) {
		dns_put16(entry_msg(e) + 10, (uint16_t)(dns_arcount(s->msg) - 1));
	}
	/* A stub is no authority (RFC 1035 §4.1.1): hits never say AA. */
	dns_put16(entry_msg(e) + 2, (uint16_t)(dns_flags(s->msg) & ~DNS_AA));
	memcpy(entry_ede(e), s->ede, s->ede_len);

	/*
	 * Record every TTL and store it as the client should first see it: no more than the
	 * entry lives for a negative answer (the SOA's TTL then counts down to its expiry), and
	 * within [lifetime, max_ttl] for a positive one. (Done again on a stored message, this
	 * changes nothing: cache_load() relies on it.)
	 */
	dns_walk_init(&w, entry_msg(e), s->msg_len);
	while (dns_walk_next(&w, &rr) == 1) {
		uint8_t *t = entry_msg(e) + rr.ttl_off;
		uint32_t ttl = ttl_value(dns_get32(t));

		if (s->negative ? ttl > s->life : ttl < s->life) {
			ttl = s->life;
		}
		if (ttl > c->p.max_ttl) {
			ttl = c->p.max_ttl;
		}
		dns_put32(t, ttl);
		dns_put16(entry_ttls(e) + 2 * n, (uint16_t)rr.ttl_off);
		n++;
	}

	e->hnext = *bucket_of(c, e->hash);
	*bucket_of(c, e->hash) = e;
	e->qnext = c->q_head;
	if (c->q_head) {
		c->q_head->qprev = e;
	} else {
		c->q_tail = e;
	}
	c->q_head = e;
	e->heap_idx = c->stats.entries;
	c->heap[c->stats.entries++] = e;
	heap_up(c, e->heap_idx);
	c->stats.bytes += cost;
	return 1;
}

int cache_insert(struct cache *c, const struct cache_key *k, const uint8_t *ans, size_t len,
		 const struct dns_opt *opt)
{
	uint64_t now = clock_now(c);
	struct entry_src s = {
		.msg = ans,
		.msg_len = opt->present ? opt->off : len,
		.had_opt = opt->present,
		.ext_rcode = opt->present ? opt->ext_rcode : 0,
	};
	uint8_t ede[512];
	struct entry *old;
	int ret;

	if (c->p.max_bytes == 0) {
		return 0;
	}
	/* The question must be the key's (case aside), and OPT last: else not cached. */
	if (!question_is_key(ans, len, k) || (opt->present && !opt->last)) {
		c->stats.not_cacheable++;
		return 0;
	}
	/*
	 * An error answer never replaces one worth keeping: a refresh (a prefetch, or one that
	 * goes on after the clients got the stale answer) that fails keeps the answer we have,
	 * fresh for its TTL and then stale (RFC 8767 §4), and holds the next refresh back.
	 */
	if (dns_rcode(ans) != DNS_RCODE_NOERROR && dns_rcode(ans) != DNS_RCODE_NXDOMAIN) {
		old = find_usable(c, k, now);
		if (old) {
			refresh_failed(c, old, now);
			return 0;
		}
	}
	s.life = answer_lifetime(c, ans, len, &s.n_ttls, &s.negative);
	if (s.life == 0 || !servable_without_opt(c, ans, s.msg_len, opt->present)) {
		c->stats.not_cacheable++;
		return 0;
	}
	if (opt->present) {
		s.ede_len = (uint16_t)dns_opt_copy_options(ans, opt, DNS_OPT_EDE, ede, sizeof(ede));
	}
	s.ede = ede;
	ret = entry_add(c, k, &s, now);
	if (ret == 0) {
		c->stats.not_cacheable++;
	} else if (ret == 1) {
		c->stats.inserts++;
	}
	return ret;
}

enum cache_state cache_lookup(struct cache *c, const struct cache_key *k,
			      const struct cache_client *cl, uint32_t stale_ttl, uint8_t *out,
			      size_t cap, size_t *out_len, bool *prefetch)
{
	uint64_t now = clock_now(c);
	struct entry *e = find(c, k);
	enum cache_state state;
	uint32_t elapsed;
	size_t len, opt_off = 0, opt_len = 0;
	const uint8_t *ttls;
	uint8_t *m;

	*prefetch = false;
	if (!e) {
		c->stats.misses++;
		return CACHE_MISS;
	}
	if (now >= e->expires_at) {
		if (now >= e->expires_at + 1000ull * c->p.stale_max || stale_ttl == 0 ||
		    e->servfail) {
			if (now >= e->expires_at + 1000ull * c->p.stale_max) {
				entry_unlink(c, e);
			}
			c->stats.misses++;
			return CACHE_MISS;
		}
		state = CACHE_STALE;
	} else {
		state = CACHE_FRESH;
		stale_ttl = 0;
	}
	len = e->msg_len;
	if (len + DNS_OPT_FIXED_LEN + e->ede_len + 6 > cap) {
		c->stats.misses++;
		return CACHE_MISS;
	}
	m = out;
	memcpy(m, entry_msg(e), len);
	/* The client's ID and spelling of the question (the lengths are equal: same key). */
	memcpy(m, cl->query, 2);
	/*
	 * RD and CD as this client asked (RFC 1035 §4.1.1), Z clear (rfc-checklist M6), AD only for
	 * a client that set DO or AD (RFC 6840 §5.7).
	 */
	dns_put16(m + 2,
		  (uint16_t)((dns_flags(m) &
			      ~(DNS_Z | DNS_RD | DNS_CD |
				(cl->do_bit || (dns_flags(cl->query) & DNS_AD) ? 0 : DNS_AD))) |
			     (dns_flags(cl->query) & (DNS_RD | DNS_CD))));
	memcpy(m + DNS_HDR_LEN, cl->query + DNS_HDR_LEN, cl->qend - DNS_HDR_LEN);
	elapsed = (uint32_t)((now - e->stored_at) / 1000);
	ttls = entry_ttls(e);
	for (unsigned i = 0; i < e->n_ttls; i++) {
		uint8_t *t = m + dns_get16(ttls + 2 * i);
		uint32_t ttl = dns_get32(t);

		dns_put32(t, stale_ttl ? stale_ttl : (ttl > elapsed ? ttl - elapsed : 0));
	}
	if (cl->has_opt) {
		uint16_t opts = (uint16_t)(e->ede_len + (stale_ttl ? 6 : 0));

		opt_off = len;
		len += dns_opt_write(m + len, 1232, e->ext_rcode, cl->do_bit, opts);
		memcpy(m + len, entry_ede(e), e->ede_len);
		len += e->ede_len;
		if (stale_ttl) {
			/* RFC 8914 §4.4: Extended DNS Error 3, Stale Answer. */
			dns_put16(m + len, DNS_OPT_EDE);
			dns_put16(m + len + 2, 2);
			dns_put16(m + len + 4, 3);
			len += 6;
		}
		opt_len = len - opt_off;
		dns_put16(m + 10, (uint16_t)(dns_arcount(m) + 1));
	} else if (e->ext_rcode) {
		dns_put16(m + 2, (uint16_t)((dns_flags(m) & ~0xf) | DNS_RCODE_SERVFAIL));
	}
	if (len > cl->max_len) {
		dns_truncate(m, &len, cl->qend, opt_off, opt_len);
	}
	*out_len = len;
	if (state == CACHE_FRESH) {
		uint64_t life = e->expires_at - e->stored_at;

		e->visited = true;
		c->stats.hits++;
		/* The last tenth of its life: ask for one refresh (prefetch). */
		if (!e->prefetching && now >= e->refresh_at &&
		    now - e->stored_at >= life - life / 10) {
			e->prefetching = true;
			*prefetch = true;
		}
	} else {
		c->stats.stale_hits++;
	}
	return state;
}

bool cache_has_stale(struct cache *c, const struct cache_key *k)
{
	uint64_t now = clock_now(c);
	struct entry *e = find(c, k);

	return e && !e->servfail && now >= e->expires_at &&
	       now < e->expires_at + 1000ull * c->p.stale_max;
}

void cache_stats_get(const struct cache *c, struct cache_stats *out)
{
	*out = c->stats;
}

/* The length of @name, an uncompressed name in wire format; 0 if it is not one. */
static size_t wire_name_len(const uint8_t *name)
{
	size_t pos = 0;

	while (pos < DNS_MAX_NAME) {
		if (name[pos] == 0) {
			return pos + 1;
		}
		if (name[pos] > DNS_MAX_LABEL) {
			return 0; /* a pointer or a reserved label type */
		}
		pos += 1 + (size_t)name[pos];
	}
	return 0;
}

size_t cache_flush(struct cache *c, const uint8_t *name, int qtype)
{
	uint8_t lower[DNS_MAX_NAME];
	struct entry *e, *next;
	size_t name_len, n = 0;

	if (!name) {
		return entries_drop_all(c);
	}
	name_len = wire_name_len(name);
	if (name_len == 0) {
		return 0;
	}
	/* As cache_key_make() lowers it: a length octet (at most 63) is below 'A', and stays. */
	for (size_t i = 0; i < name_len; i++) {
		lower[i] = ascii_lower(name[i]);
	}
	/*
	 * The class and the DO and CD bits are in the hash as well, so the entries of one name
	 * are in no one bucket: a walk of all of them, which a control command can afford. A
	 * @qtype out of range equals no key's type.
	 */
	for (e = c->q_head; e; e = next) {
		const uint8_t *key = entry_key(e);

		next = e->qnext;
		if (key_base_len(key, e->key_len, name_len) == name_len + 5 &&
		    memcmp(key, lower, name_len) == 0 &&
		    (qtype == -1 || dns_get16(key + name_len) == qtype)) {
			entry_unlink(c, e);
			n++;
		}
	}
	return n;
}

/* --- the cache file (see cache.h for the format) --- */

#define FILE_WRITE_BUF (64 * 1024)
#define FILE_EDE_MAX   512 /* cache_insert()'s buffer */
#define FNV_OFFSET     0xcbf29ce484222325ull
#define FNV_PRIME      0x100000001b3ull

static void put64(uint8_t *p, uint64_t v)
{
	dns_put32(p, (uint32_t)(v >> 32));
	dns_put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return ((uint64_t)dns_get32(p) << 32) | dns_get32(p + 4);
}

/* FNV-1a, 64 bits: a change of any one byte always changes it. */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * FNV_PRIME;
	}
	return h;
}

/* Whether @e goes into a dump: a SERVFAIL does not outlive a restart, nor one past stale_max. */
static bool entry_dumped(const struct cache *c, const struct entry *e, uint64_t now)
{
	return !e->servfail && now < e->expires_at + 1000ull * c->p.stale_max;
}

/* The dump's output: a buffer, so that the callback is not called for every field. */
struct file_writer {
	int (*write_cb)(void *arg, const void *buf, size_t len);
	void *arg;
	uint8_t *buf; /**< owned: FILE_WRITE_BUF bytes */
	size_t used;
	uint64_t sum;
	int err; /**< the first error: nothing is written after it */
};

static void writer_call(struct file_writer *w, const void *p, size_t len)
{
	int ret;

	if (w->err != 0 || len == 0) {
		return;
	}
	ret = w->write_cb(w->arg, p, len);
	if (ret != 0) {
		w->err = ret < 0 ? ret : -EIO;
	}
}

static void writer_flush(struct file_writer *w)
{
	writer_call(w, w->buf, w->used);
	w->used = 0;
}

static void writer_put(struct file_writer *w, const void *p, size_t len)
{
	w->sum = fnv1a(w->sum, p, len);
	if (w->used + len > FILE_WRITE_BUF) {
		writer_flush(w);
	}
	if (len > FILE_WRITE_BUF) {
		writer_call(w, p, len);
		return;
	}
	memcpy(w->buf + w->used, p, len);
	w->used += len;
}

int cache_dump(const struct cache *c, uint64_t wall_now_s,
	       int (*write_cb)(void *arg, const void *buf, size_t len), void *arg,
	       size_t *n_entries)
{
	struct file_writer w = {.write_cb = write_cb, .arg = arg, .sum = FNV_OFFSET};
	uint64_t now = clock_now(c), total = CACHE_FILE_HDR_LEN + CACHE_FILE_SUM_LEN;
	uint8_t hdr[CACHE_FILE_HDR_LEN], eh[CACHE_FILE_ENTRY_HDR_LEN], sum[CACHE_FILE_SUM_LEN];
	struct entry *e;
	size_t n = 0;

	/* The count and the length go first: one pass to know them (nothing changes between). */
	for (e = c->q_tail; e; e = e->qprev) {
		if (entry_dumped(c, e, now)) {
			n++;
			total += CACHE_FILE_ENTRY_HDR_LEN + e->key_len + e->msg_len + e->ede_len;
		}
	}
	w.buf = malloc(FILE_WRITE_BUF);
	if (!w.buf) {
		return -ENOMEM;
	}
	memcpy(hdr, CACHE_FILE_MAGIC, 8);
	dns_put32(hdr + 8, CACHE_FILE_VERSION);
	dns_put32(hdr + 12, (uint32_t)n);
	put64(hdr + 16, wall_now_s);
	put64(hdr + 24, total);
	writer_put(&w, hdr, sizeof(hdr));
	/* Oldest first: cache_load() puts each at the head, and the SIEVE order comes back. */
	for (e = c->q_tail; e && w.err == 0; e = e->qprev) {
		if (!entry_dumped(c, e, now)) {
			continue;
		}
		dns_put16(eh, e->key_len);
		dns_put16(eh + 2, e->msg_len);
		dns_put16(eh + 4, e->ede_len);
		eh[6] = e->ext_rcode;
		put64(eh + 7, now > e->stored_at ? now - e->stored_at : 0);
		writer_put(&w, eh, sizeof(eh));
		writer_put(&w, e->data, (size_t)e->key_len + e->msg_len); /* key, message */
		writer_put(&w, entry_ede(e), e->ede_len);
	}
	put64(sum, w.sum);
	writer_put(&w, sum, sizeof(sum));
	writer_flush(&w);
	free(w.buf);
	if (w.err != 0) {
		return w.err;
	}
	if (n_entries) {
		*n_entries = n;
	}
	return 0;
}

/* Whether @len bytes at @p are whole EDE options (RFC 8914 §2), as cache_insert() keeps. */
static bool ede_valid(const uint8_t *p, size_t len)
{
	size_t pos = 0;

	if (len > FILE_EDE_MAX) {
		return false;
	}
	while (pos < len) {
		if (len - pos < 4 || dns_get16(p + pos) != DNS_OPT_EDE ||
		    dns_get16(p + pos + 2) > len - pos - 4) {
			return false;
		}
		pos += 4 + (size_t)dns_get16(p + pos + 2);
	}
	return true;
}

/*
 * Read the entry at *@pos (the entries end at @end) into @t, aged by @elapsed_s. 0 when stored
 * or dropped (counted in @st), -EBADMSG when the entry is not one cache_dump() writes,
 * -ENOMEM.
 */
static int load_entry(struct cache *t, const uint8_t *buf, size_t end, size_t *pos,
		      uint64_t elapsed_s, uint64_t now, struct cache_load_stats *st)
{
	const uint8_t *p = buf + *pos;
	struct entry_src s = {0};
	struct cache_key k;
	size_t key_len, msg_len, ede_len;
	uint64_t age, window;
	unsigned rcode;
	int ret;

	if (end - *pos < CACHE_FILE_ENTRY_HDR_LEN) {
		return -EBADMSG;
	}
	key_len = dns_get16(p);
	msg_len = dns_get16(p + 2);
	ede_len = dns_get16(p + 4);
	s.ext_rcode = p[6];
	age = get64(p + 7);
	if (end - *pos - CACHE_FILE_ENTRY_HDR_LEN < key_len + msg_len + ede_len) {
		return -EBADMSG;
	}
	p += CACHE_FILE_ENTRY_HDR_LEN;
	*pos += CACHE_FILE_ENTRY_HDR_LEN + key_len + msg_len + ede_len;

	/* The key as cache_key_make() writes it (name lower-cased, DO and CD), of this question. */
	if (key_len < 6 || key_len > CACHE_KEY_MAX) {
		return -EBADMSG;
	}
	/* Its flags byte and group, if any, are checked against the question below. */
	memcpy(k.data, p, key_len);
	k.len = (uint16_t)key_len;
	k.hash = siphash(t->secret, k.data, k.len);
	s.msg = p + key_len;
	s.msg_len = msg_len;
	s.ede = s.msg + msg_len;
	s.ede_len = (uint16_t)ede_len;
	if (!question_is_key(s.msg, msg_len, &k) || find(t, &k)) {
		return -EBADMSG;
	}
	/* The message as stored: it reads again, without OPT or TC, names clear of its TTLs. */
	rcode = dns_rcode(s.msg);
	if (!servable_without_opt(t, s.msg, msg_len, false) || (dns_flags(s.msg) & DNS_TC) ||
	    (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN &&
	     rcode != DNS_RCODE_SERVFAIL) ||
	    !ede_valid(s.ede, ede_len)) {
		return -EBADMSG;
	}
	/* Its lifetime as the settings now give it (the same, if they did not change). */
	s.life = answer_lifetime(t, s.msg, msg_len, &s.n_ttls, &s.negative);
	if (rcode == DNS_RCODE_SERVFAIL || s.life == 0 || t->p.max_bytes == 0) {
		st->skipped++;
		return 0;
	}
	/* Aged by the time since the dump; kept while within its lifetime and stale_max. */
	window = 1000ull * s.life + 1000ull * t->p.stale_max;
	if (age >= window || elapsed_s >= (window - age + 999) / 1000) {
		st->expired++;
		return 0;
	}
	s.age = age + 1000 * elapsed_s;
	ret = entry_add(t, &k, &s, now);
	if (ret < 0) {
		return ret;
	}
	if (ret == 0) {
		st->skipped++;
	} else {
		st->loaded++;
	}
	return 0;
}

/* Exchange the entries of @a and @b, with their index; the counters stay. */
static void cache_entries_swap(struct cache *a, struct cache *b)
{
	struct cache tmp = *a;

	a->table = b->table;
	a->n_buckets = b->n_buckets;
	a->heap = b->heap;
	a->heap_cap = b->heap_cap;
	a->q_head = b->q_head;
	a->q_tail = b->q_tail;
	a->hand = b->hand;
	a->stats.entries = b->stats.entries;
	a->stats.bytes = b->stats.bytes;
	b->table = tmp.table;
	b->n_buckets = tmp.n_buckets;
	b->heap = tmp.heap;
	b->heap_cap = tmp.heap_cap;
	b->q_head = tmp.q_head;
	b->q_tail = tmp.q_tail;
	b->hand = tmp.hand;
	b->stats.entries = tmp.stats.entries;
	b->stats.bytes = tmp.stats.bytes;
}

int cache_load(struct cache *c, const uint8_t *buf, size_t len, uint64_t wall_now_s,
	       struct cache_load_stats *st)
{
	struct cache_load_stats s = {0};
	struct cache *t = NULL;
	uint64_t dumped_at, now;
	size_t pos = CACHE_FILE_HDR_LEN, end;
	uint32_t count;
	int ret;

	if (len < 8) {
		return -EBADMSG;
	}
	if (memcmp(buf, CACHE_FILE_MAGIC, 8) != 0) {
		return -EINVAL;
	}
	if (len < CACHE_FILE_HDR_LEN + CACHE_FILE_SUM_LEN) {
		return -EBADMSG;
	}
	if (dns_get32(buf + 8) != CACHE_FILE_VERSION) {
		return -EPROTONOSUPPORT;
	}
	end = len - CACHE_FILE_SUM_LEN;
	if (get64(buf + 24) != len || fnv1a(FNV_OFFSET, buf, end) != get64(buf + end)) {
		return -EBADMSG;
	}
	count = dns_get32(buf + 12);
	dumped_at = get64(buf + 16);
	s.age_s = wall_now_s > dumped_at ? wall_now_s - dumped_at : 0;

	/* Into a cache of its own, swapped in at the end: a refused file leaves @c as it was. */
	ret = cache_new(&c->p, &t);
	if (ret != 0) {
		return ret;
	}
	memcpy(t->secret, c->secret, sizeof(t->secret));
	now = clock_now(t);
	for (uint32_t i = 0; i < count; i++) {
		ret = load_entry(t, buf, end, &pos, s.age_s, now, &s);
		if (ret != 0) {
			goto fail;
		}
	}
	if (pos != end) {
		ret = -EBADMSG;
		goto fail;
	}
	s.evicted = (size_t)(t->stats.evicted_expired + t->stats.evicted_live);
	cache_entries_swap(c, t);
	cache_free(t);
	if (st) {
		*st = s;
	}
	return 0;
fail:
	cache_free(t);
	return ret;
}
