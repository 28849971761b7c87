/*
 * query: one question on its way to an answer, and the clients waiting for it.
 *
 *   query_receive -> dns_msg_check_query -> (answer here | cache | join | forward)
 *   cache: a fresh entry is copied and patched for the client (cache/); in the last tenth of
 *     its life it also starts one background refresh (prefetch)
 *   join: an identical question (name case aside, type, class, DO, CD) already in flight takes
 *     the client as one more waiter, so that one upstream query serves them all (RFC 5452 §5)
 *   forward: the upstream frame is built once; try: upstream_pick -> tls_upstream_query
 *   a good answer is stored in the cache and passed to every waiter with its own ID and spelling
 *   a try that failed (connection refused, lost or silent, authentication, garbage) or answered
 *     SERVFAIL, REFUSED or with TC: the next upstream at once; after timeout_per_try without an
 *     answer the next one too, the earlier tries staying open: the first good answer wins
 *   serve-stale (RFC 8767): when the cache holds the question past its TTL, the waiters get that
 *     answer (TTL 30, Extended DNS Error 3) if no answer came within 1.8 s or every upstream
 *     failed, while the refresh carries on
 *   deadline (config timeout): SERVFAIL with an Extended DNS Error saying why (RFC 8906)
 *
 * Each upstream is tried at most once per query.
 *
 * Timers: queries sit in three deadline lists: overall (set at creation), try (reset when a try
 * starts) and stale (set at creation when a stale answer exists). Each list has one fixed
 * duration, so appending at the tail keeps it sorted, and one timer at the earliest head serves
 * all three.
 *
 * Memory: a query is one allocation holding the struct, its cache key's octets, the upstream
 * frame (shared by every try: tls/ writes each try's ID just before encrypting it; its length
 * reckoned first, dns_msg_upstream_query_len) and the bitmap of upstreams tried. Its first try's
 * leg is in the struct; the others, which only a query whose first try is slow or failed needs, are
 * one allocation made for the second. A query waiting on a frozen upstream is what a burst holds by
 * the thousand (queries_max), so it carries no room it does not use: 376 bytes plus its key and
 * frame, from 912. Each waiter is one allocation holding its client's origin and address and its
 * own message.
 *
 * Clients: a message comes from an origin (origin.h), and its answer goes back through it.
 * query.c does not know the transport behind: a waiter holds its origin (origin_hold, which
 * also counts it against the client limits) from arrival until it is answered or dropped.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__ /* from stdlib.h */
#include <malloc.h>
#endif

#include "blocklist.h"
#include "hosts.h"
#include "log.h"
#include "origin.h"
#include "policy.h"
#include "resolver.h"
#include "validator.h"

#define QUERY_MAX_LEGS	 4    /* tries in flight at once for one query */
#define STALE_CLIENT_MS	 1800 /* RFC 8767 §5: the client response timer */
#define STALE_TTL	 30   /* RFC 8767 §4 */
#define INFLIGHT_BUCKETS 4096 /* power of two */
#define VAL_FETCHES_MAX	 48   /* DS and DNSKEY questions one validation may ask */
#define TRIM_PEAK	 512  /* queries in flight whose end is worth a trim (query_trim) */
#define TRIM_DELAY_MS	 2000 /* and how long after their fall */

struct query;

/** A client waiting for the answer to a query. */
struct waiter {
	struct waiter *next;
	struct origin *origin; /**< held (origin_hold) until waiter_free; NULL if parent */
	struct query *parent;  /**< a validation's own question: whose it is, or NULL */
	/** The client's address (UDP: where the answer goes): an IP one, 28 bytes, not 128. */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	uint64_t received;	    /**< uv_hrtime() when its query arrived */
	struct dns_client_query cq; /**< cq.msg points to msg */
	uint8_t msg[];
};

struct query_leg {
	struct tls_query tq; /**< first: the callback finds the leg from it */
	struct query *q;
	bool active;
};

struct query {
	struct resolver *r;
	struct snapshot *snap; /**< referenced: the configuration and upstreams it runs on */
	size_t group;	       /**< its upstream group in snap (0: the default upstreams) */
	uint64_t key_hash;     /**< its cache key (cache_key_make): hash, length, octets */
	uint16_t key_len;
	uint8_t *key_data;	/**< in this allocation */
	struct query *hnext;	/**< in the in-flight table */
	struct waiter *waiters; /**< owned */
	bool stale_served;	/**< the waiters got the stale answer; refreshing on */
	bool unreachable;	/**< the waiters got SERVFAIL early: nothing was reachable */
	uint8_t *frame;		/**< the upstream query, in this allocation */
	size_t frame_len;
	uint8_t *tried;		     /**< bitmap of upstreams tried, in this allocation */
	struct query_leg leg0;	     /**< the first try's */
	struct query_leg *legs_more; /**< owned, or NULL: legs 1 .. QUERY_MAX_LEGS - 1 */
	unsigned n_active;
	int last_error;	   /**< TLS_ERR_* of the latest failed try */
	uint8_t *fail_ans; /**< owned: an upstream's SERVFAIL or REFUSED, kept while others try */
	size_t fail_len;
	struct dl_node n_deadline;
	struct dl_node n_try;
	struct dl_node n_stale;
	/* DNSSEC validation (validator.h), when the configuration asks for it. */
	bool cd;	   /**< the client set CD: no validation (RFC 4035 §3.2.2) */
	bool do_bit;	   /**< the clients set DO: they get the RRSIGs */
	bool validated;	   /**< the answer at hand was validated (or needs no validation) */
	bool val_busy;	   /**< val_step() runs: a question answered at once returns to it */
	bool val_no_dates; /**< validated without the clock (DNSSEC_NOW_UNSET): not cached */
	uint8_t *val_ans;  /**< owned: the upstream's answer being validated */
	size_t val_len;
	unsigned val_fetches;	/**< DS and DNSKEY questions asked for it */
	struct val_need *need;	/**< owned, or NULL: the latest of them (allocated for the first) */
	struct query *val_subq; /**< the query answering it, while it is in flight */
	struct waiter *val_w;	/**< our waiter in val_subq's list (val_subq frees it) */
	uint8_t data[];
};

#define QUERY_OF(node, member) DL_ENTRY(node, struct query, member)

/* @q's cache key, as the cache takes it: copied into @k (a few dozen octets, off the hit path). */
static void query_key(const struct query *q, struct cache_key *k)
{
	k->hash = q->key_hash;
	k->len = q->key_len;
	memcpy(k->data, q->key_data, q->key_len);
}

/* @q's leg @i, or NULL when the legs past the first have not been allocated. */
static struct query_leg *query_leg(struct query *q, unsigned i)
{
	if (i == 0) {
		return &q->leg0;
	}
	return q->legs_more ? &q->legs_more[i - 1] : NULL;
}

/* A leg of @q with no try on it, or NULL: all busy, or no memory for the legs past the first. */
static struct query_leg *query_leg_idle(struct query *q)
{
	if (!q->leg0.active) {
		return &q->leg0;
	}
	if (!q->legs_more) {
		/* the first is busy: the others are needed now, and only now */
		q->legs_more = calloc(QUERY_MAX_LEGS - 1, sizeof(*q->legs_more));
		return q->legs_more;
	}
	for (unsigned i = 0; i < QUERY_MAX_LEGS - 1; i++) {
		if (!q->legs_more[i].active) {
			return &q->legs_more[i];
		}
	}
	return NULL;
}

/* End every try of @q under way; returns how many there were. */
static unsigned query_legs_cancel(struct query *q)
{
	unsigned n = 0;

	for (unsigned i = 0; i < QUERY_MAX_LEGS; i++) {
		struct query_leg *leg = query_leg(q, i);

		if (leg && leg->active) {
			tls_query_cancel(&leg->tq);
			leg->active = false;
			n++;
		}
	}
	return n;
}

static void timer_arm(struct resolver *r);

/* --- the in-flight table --- */

static struct query **inflight_bucket(struct resolver *r, uint64_t hash)
{
	return &r->inflight[hash & (INFLIGHT_BUCKETS - 1)];
}

static struct query *inflight_find(struct resolver *r, const struct cache_key *k)
{
	for (struct query *q = *inflight_bucket(r, k->hash); q; q = q->hnext) {
		if (q->key_hash == k->hash && q->key_len == k->len &&
		    memcmp(q->key_data, k->data, k->len) == 0) {
			return q;
		}
	}
	return NULL;
}

static void inflight_remove(struct query *q)
{
	struct query **pp = inflight_bucket(q->r, q->key_hash);

	while (*pp != q) {
		pp = &(*pp)->hnext;
	}
	*pp = q->hnext;
}

/* --- answering waiters --- */

/* The client @w waits for, as the answering functions take it. */
static struct query_client waiter_client(const struct waiter *w)
{
	return (struct query_client){
		.origin = w->origin,
		.peer = &w->peer.sa,
		.received = w->received,
	};
}

/*
 * Send a finished answer (in r->out after a 2-octet gap) to client @to; @src says where the
 * answer came from. Every answer passes here, so it is counted here, once.
 */
static void send_to(struct resolver *r, const struct query_client *to, size_t len,
		    enum stats_source src)
{
	stats_count_answer(&r->stats, r->out + 2, len, src, uv_hrtime() - to->received);
	origin_reply(to->origin, to->peer, r->out, len);
}

static void answer_error_to(struct resolver *r, const struct query_client *to,
			    const struct dns_client_query *cq, unsigned rcode, int ede,
			    const char *text)
{
	size_t len;

	if (dns_msg_error(cq, rcode, ede, text, r->out + 2, DNS_MAX_MSG, &len) != 0) {
		return; /* cannot happen: an error answer is at most the question plus 300 bytes */
	}
	send_to(r, to, len, rcode == DNS_RCODE_SERVFAIL ? STATS_SRC_SERVFAIL : STATS_SRC_LOCAL);
}

/* @w is answered or dropped: its origin is released (which may free it), then @w. */
static void waiter_free(struct waiter *w)
{
	if (w->origin) {
		origin_release(w->origin, &w->peer.sa);
	}
	free(w);
}

static void val_fetched(struct query *q, const uint8_t *ans, size_t len);
static bool query_start(struct resolver *r, const struct cache_key *k,
			const struct dns_client_query *cq, size_t group, struct waiter *w);

/* A validation's question is answered (@ans), or failed (NULL): back to its query. */
static void waiter_internal_done(struct waiter *w, const uint8_t *ans, size_t len)
{
	struct query *parent = w->parent;

	parent->val_subq = NULL;
	parent->val_w = NULL;
	free(w);
	val_fetched(parent, ans, len);
}

/* The cache's answer for @cq (fresh, or stale with @stale_ttl), sent; false when none. */
static bool answer_from_cache(struct resolver *r, const struct cache_key *k,
			      const struct dns_client_query *cq, const struct query_client *to,
			      uint32_t stale_ttl, bool *prefetch)
{
	struct cache_client cl = {
		.query = cq->msg,
		.qend = cq->q.end,
		.has_opt = cq->has_opt,
		.do_bit = cq->do_bit,
		.max_len = origin_answer_max(to->origin, cq),
	};
	enum cache_state st;
	size_t len;

	st = cache_lookup(r->cache, k, &cl, stale_ttl, r->out + 2, DNS_MAX_MSG + 64, &len,
			  prefetch);
	if (st == CACHE_MISS) {
		return false;
	}
	if (dns_flags(r->out + 2) & DNS_TC) {
		r->stats.truncated++;
	}
	if (st == CACHE_STALE) {
		r->stats.stale_answers++;
	} else {
		r->stats.cache_answers++;
	}
	send_to(r, to, len, st == CACHE_STALE ? STATS_SRC_STALE : STATS_SRC_CACHE);
	return true;
}

/* Every waiter gets the stale answer, if the cache still has one. */
static bool waiters_answer_stale(struct query *q)
{
	struct resolver *r = q->r;
	struct waiter **pp = &q->waiters;
	struct cache_key k;
	bool prefetch;

	if (!q->waiters || r->cfg->serve_stale_max == 0) {
		return false;
	}
	query_key(q, &k);
	if (!cache_has_stale(r->cache, &k)) {
		return false;
	}
	while (*pp) {
		struct waiter *w = *pp;
		struct query_client to = waiter_client(w);

		if (w->parent) {
			pp = &w->next; /* a validation waits for the answer itself */
			continue;
		}
		*pp = w->next;
		answer_from_cache(r, &k, &w->cq, &to, STALE_TTL, &prefetch);
		waiter_free(w);
	}
	q->stale_served = true;
	return true;
}

/*
 * Many queries were in flight and most have ended (an upstream froze and up to queries_max
 * waited, about 0.73 KB each in tests/integration/trim.sh with their waiters and what the
 * upstream side queued for them, 1.4 KB before the query shrank): give their pages back. glibc
 * returns only the top of its heap by itself, and what was allocated after them pins it: of the 3.4
 * MB that 2,000 waiting queries took there (before val_need left struct query), 1.66 MB stayed
 * resident until the next handshake's trim (tls_ecc_tables_drop). The trim waits TRIM_DELAY_MS, for
 * the rest of the fall and what goes after the queries: run at once, with an eighth of the queries
 * still in flight, it gave back less than half. It cannot give back pages that a free chunk shares
 * with what is still in use, such as the cache's entries for answers that came as their queries
 * ended (docs/ARCHITECTURE.md, "Memory"). musl's allocator returns memory itself.
 */
static void on_trim_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;

	r->queries_peak = r->n_queries;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	log_debug(LOG_QUERY, "queries in flight fell from %zu or more to %zu: memory trimmed",
		  (size_t)TRIM_PEAK, r->n_queries);
}

static void query_trim(struct resolver *r)
{
	if (r->queries_peak < TRIM_PEAK || r->n_queries > r->queries_peak / 8 ||
	    uv_is_active((uv_handle_t *)&r->trim_timer)) {
		return;
	}
	uv_timer_start(&r->trim_timer, on_trim_timer, TRIM_DELAY_MS, 0);
}

static void query_free(struct query *q)
{
	struct resolver *r = q->r;

	query_legs_cancel(q);
	dl_remove(&r->deadlines, &q->n_deadline);
	dl_remove(&r->tries, &q->n_try);
	dl_remove(&r->stales, &q->n_stale);
	inflight_remove(q);
	while (q->waiters) {
		struct waiter *w = q->waiters;

		q->waiters = w->next;
		if (w->parent) {
			/* Its validation waits on; its own deadline ends it. */
			w->parent->val_subq = NULL;
			w->parent->val_w = NULL;
		}
		waiter_free(w);
	}
	if (q->val_subq) {
		struct waiter **pp = &q->val_subq->waiters;

		while (*pp && *pp != q->val_w) {
			pp = &(*pp)->next;
		}
		if (*pp) {
			*pp = q->val_w->next;
			free(q->val_w);
		}
	}
	r->n_queries--;
	snapshot_unref(q->snap);
	free(q->fail_ans);
	free(q->val_ans);
	free(q->need);
	free(q->legs_more);
	free(q);
	query_trim(r);
}

/* Whether a try of @q has been written on an established connection (it may be answered). */
static bool query_any_sent(struct query *q)
{
	for (unsigned i = 0; i < QUERY_MAX_LEGS; i++) {
		const struct query_leg *leg = query_leg(q, i);

		if (leg && leg->active && tls_query_sent(&leg->tq)) {
			return true;
		}
	}
	return false;
}

/* Every waiter gets the stale answer or SERVFAIL with @ede; the query itself goes on. */
static void waiters_fail(struct query *q, int ede, const char *text)
{
	struct resolver *r = q->r;
	struct waiter **pp = &q->waiters;

	/* The validations waiting get nothing: they decide what that means. */
	while (*pp) {
		struct waiter *w = *pp;

		if (w->parent) {
			*pp = w->next;
			waiter_internal_done(w, NULL, 0);
			pp = &q->waiters; /* the list may have changed meanwhile */
			continue;
		}
		pp = &w->next;
	}
	if (waiters_answer_stale(q)) {
		return;
	}
	while (q->waiters) {
		struct waiter *w = q->waiters;
		struct query_client to = waiter_client(w);

		q->waiters = w->next;
		if (w->parent) {
			waiter_internal_done(w, NULL, 0);
			continue;
		}
		r->stats.servfail++;
		answer_error_to(r, &to, &w->cq, DNS_RCODE_SERVFAIL, ede, text);
		waiter_free(w);
	}
}

static void query_answer(struct query *q, const uint8_t *ans, size_t len,
			 const struct dns_opt *aopt);

/* The Extended DNS Error (RFC 8914 §4) and text that say why a try failed with @status. */
static void fail_reason(int status, int *ede, const char **text)
{
	switch (status) {
	case TLS_ERR_AUTH:
		*ede = DNS_EDE_NO_REACHABLE;
		*text = "upstream TLS authentication failed";
		break;
	case TLS_ERR_CONNECT:
		*ede = DNS_EDE_NETWORK_ERROR;
		*text = "upstream TLS connection failed";
		break;
	case TLS_ERR_PROTO:
		*ede = DNS_EDE_NETWORK_ERROR;
		*text = "upstream sent a broken answer";
		break;
	case -ETIME:
		*ede = DNS_EDE_NO_REACHABLE;
		*text = "no answer from upstream in time";
		break;
	default:
		*ede = DNS_EDE_NETWORK_ERROR;
		*text = "upstream connection lost";
		break;
	}
}

/*
 * Every try failed: the stale answer if there is one; else the upstream's own SERVFAIL, with
 * its Extended DNS Errors, when one said so; else SERVFAIL with the Extended DNS Error that
 * says why (RFC 8914 §4). Then free. An upstream's REFUSED is not passed on: to the client it
 * would say that dotd refuses it.
 */
static void query_fail(struct query *q, int status)
{
	struct cache_key k;
	struct dns_opt opt;
	const char *text;
	int ede;

	if (q->fail_ans && dns_rcode(q->fail_ans) == DNS_RCODE_SERVFAIL &&
	    !waiters_answer_stale(q) && dns_opt_find(q->fail_ans, q->fail_len, &opt) == 0) {
		query_answer(q, q->fail_ans, q->fail_len, &opt);
		return;
	}
	/* A refresh that failed keeps the cached answer and holds the next one back. */
	query_key(q, &k);
	cache_refresh_failed(q->r->cache, &k);
	if (q->val_ans) {
		ede = DNS_EDE_DNSSEC_INDETERMINATE;
		text = "DNSSEC validation did not finish in time";
	} else if (q->fail_ans && dns_rcode(q->fail_ans) == DNS_RCODE_REFUSED) {
		ede = DNS_EDE_NO_REACHABLE; /* "...or they potentially refused to reply" */
		text = "upstreams refused the query";
	} else {
		fail_reason(status, &ede, &text);
	}
	waiters_fail(q, ede, text);
	query_free(q);
}

static bool query_validates(const struct query *q, const uint8_t *ans);
static void val_begin(struct query *q, const uint8_t *ans, size_t len);

/*
 * Store the upstream's answer and pass it on to every waiter; then free. With validation on,
 * the answer goes to the validator first and comes back here validated (val_finish).
 */

static void query_answer(struct query *q, const uint8_t *ans, size_t len,
			 const struct dns_opt *aopt)
{
	struct resolver *r = q->r;

	if (query_validates(q, ans)) {
		val_begin(q, ans, len);
		return;
	}
	if (!q->val_no_dates) {
		struct cache_key k;

		query_key(q, &k);
		cache_insert(r->cache, &k, ans, len, aopt);
	}
	while (q->waiters) {
		struct waiter *w = q->waiters;
		struct query_client to = waiter_client(w);
		size_t out_len;

		q->waiters = w->next;
		if (w->parent) {
			waiter_internal_done(w, ans, len);
			continue;
		}
		if (dns_msg_client_answer(&w->cq, ans, len, aopt,
					  origin_answer_max(w->origin, &w->cq), r->out + 2,
					  DNS_MAX_MSG + 64, &out_len) != 0 ||
		    out_len > DNS_MAX_MSG) {
			log_info(LOG_QUERY, "answer from upstream cannot be passed on");
			r->stats.servfail++;
			answer_error_to(r, &to, &w->cq, DNS_RCODE_SERVFAIL, DNS_EDE_NETWORK_ERROR,
					"upstream answer unusable");
		} else {
			if (dns_flags(r->out + 2) & DNS_TC) {
				r->stats.truncated++;
			}
			r->stats.answers++;
			send_to(r, &to, out_len, STATS_SRC_UPSTREAM);
		}
		waiter_free(w);
	}
	query_free(q);
}

/* --- DNSSEC validation (validator.h) --- */

/* Whether @q's answer @ans is validated before the cache and the clients see it. */
static bool query_validates(const struct query *q, const uint8_t *ans)
{
	unsigned rcode = dns_rcode(ans);

	return q->snap->cfg->dnssec && !q->cd && !q->validated &&
	       (rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN);
}

/*
 * What validation reads: the query's anchors and negative anchors, the wall clock (not while it
 * is unset and tls_unset_clock lets dotd run without it: then no dates are checked, and nothing
 * so validated is kept), the loop's clock for the zone cache.
 */
static void val_ctx_make(struct query *q, struct val_ctx *ctx)
{
	const struct config *cfg = q->snap->cfg;
	bool unset = cfg->unset_clock == CONFIG_UNSET_CLOCK_ACCEPT_PINNED && tls_clock_unset();

	*ctx = (struct val_ctx){
		.anchors = cfg->anchors,
		.ntas = cfg->ntas,
		.n_ntas = cfg->n_ntas,
		.zones = cfg->zones,
		.n_zones = cfg->n_zones,
		.now = unset ? DNSSEC_NOW_UNSET : (uint32_t)time(NULL),
		.mono = uv_now(q->r->loop) / 1000,
	};
	if (unset) {
		q->val_no_dates = true;
		q->r->val_no_dates = true;
	}
}

/*
 * Ask @q->need: from the cache (CD and DO set, so the entry holds the RRSIGs as they came),
 * else by joining or starting a query for it. Answered at once, it is learnt here; otherwise
 * q->val_subq is the query that will answer it.
 */
static void val_fetch(struct query *q)
{
	struct resolver *r = q->r;
	uint8_t msg[DNS_MSG_QUESTION_MAX];
	const struct policy_zone *zone;
	struct dns_client_query cq;
	struct cache_key k;
	struct val_ctx ctx;
	struct waiter *w;
	struct query *sq;
	size_t len = dns_msg_question(msg, DNS_RD | DNS_CD, q->need->name, q->need->name_len,
				      q->need->qtype, true);
	unsigned rcode;
	bool prefetch;

	zone = policy_lookup(r->snap->policy, q->need->name, q->need->name_len);
	if (dns_msg_check_query(msg, len, &cq, &rcode) != DNS_CHECK_OK ||
	    zone->action != POLICY_FORWARD) {
		goto fail; /* a special-use zone has no DS or DNSKEY to give */
	}
	cache_key_make(r->cache, cq.msg, &cq.q, true, &k);
	cache_key_set_group(r->cache, &k, r->snap->groups[zone->group].key);
	{
		struct cache_client cl = {
			.query = msg,
			.qend = cq.q.end,
			.has_opt = true,
			.do_bit = true,
			.max_len = DNS_MAX_MSG,
		};
		size_t alen;

		if (cache_lookup(r->cache, &k, &cl, 0, r->val_buf, DNS_MAX_MSG + 64, &alen,
				 &prefetch) == CACHE_FRESH) {
			val_ctx_make(q, &ctx);
			val_learn(r->vc, &ctx, q->need, r->val_buf, alen);
			return;
		}
	}
	w = calloc(1, sizeof(*w) + len);
	if (!w) {
		goto fail;
	}
	w->parent = q;
	w->received = uv_hrtime();
	memcpy(w->msg, msg, len);
	w->cq = cq;
	w->cq.msg = w->msg;
	q->val_w = w;
	sq = inflight_find(r, &k);
	if (sq) {
		w->next = sq->waiters;
		sq->waiters = w;
		q->val_subq = sq;
		r->stats.coalesced++;
		return;
	}
	/* query_start() may answer at once (nothing reachable): then val_w is NULL again. */
	if (!query_start(r, &k, &w->cq, zone->group, w)) {
		q->val_subq = NULL;
		q->val_w = NULL;
		free(w);
		goto fail;
	}
	if (q->val_w == w) {
		q->val_subq = inflight_find(r, &k);
	}
	return;
fail:
	val_ctx_make(q, &ctx);
	val_learn(r->vc, &ctx, q->need, NULL, 0);
}

/* The verdict is in: the answer goes to the cache and the waiters, or SERVFAIL does. */
static void val_finish(struct query *q, const struct val_result *res)
{
	struct resolver *r = q->r;
	bool refuse = res->sec == VAL_BOGUS ||
		      (res->sec == VAL_INSECURE && q->snap->cfg->dnssec_only_secure);
	struct dns_opt opt;
	uint8_t *out = NULL;
	size_t cap = q->val_len + 64, out_len;

	q->validated = true;
	if (res->sec == VAL_SECURE) {
		r->stats.dnssec_secure++;
	} else if (res->sec == VAL_INSECURE) {
		r->stats.dnssec_insecure++;
	} else {
		r->stats.dnssec_bogus++;
		log_info(LOG_QUERY, "DNSSEC validation failed: %s", res->why);
	}
	if (!refuse) {
		out = malloc(cap);
		if (out &&
		    dns_msg_dnssec_filter(q->val_ans, q->val_len, res->sec == VAL_SECURE, q->do_bit,
					  out, cap, &out_len) == 0 &&
		    dns_opt_find(out, out_len, &opt) == 0) {
			query_answer(q, out, out_len, &opt);
			free(out);
			return;
		}
		free(out);
	}
	/* Bogus: SERVFAIL with the Extended DNS Error that says why (RFC 8914 §4.7-4.13). */
	while (q->waiters) {
		struct waiter *w = q->waiters;
		struct query_client to = waiter_client(w);

		q->waiters = w->next;
		if (w->parent) {
			waiter_internal_done(w, NULL, 0);
			continue;
		}
		if (refuse && res->sec == VAL_INSECURE) {
			answer_error_to(r, &to, &w->cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
					"not DNSSEC-secure (dnssec_return_only_secure)");
		} else if (refuse) {
			answer_error_to(r, &to, &w->cq, DNS_RCODE_SERVFAIL,
					res->ede >= 0 ? res->ede : DNS_EDE_DNSSEC_BOGUS, res->why);
		} else {
			answer_error_to(r, &to, &w->cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
					"validated answer cannot be rebuilt");
		}
		waiter_free(w);
	}
	query_free(q);
}

/* Validate until the verdict is in, or a question is on its way (then val_fetched goes on). */
static void val_step(struct query *q)
{
	struct resolver *r = q->r;
	struct val_result res;
	struct val_need need;
	struct val_ctx ctx;
	int ret;

	q->val_busy = true;
	for (;;) {
		val_ctx_make(q, &ctx);
		ret = val_answer(r->vc, &ctx, q->val_ans, q->val_len, &res, &need);
		if (ret == 0) {
			break;
		}
		/* Most queries never ask one: its 272 bytes are allocated for those that do. */
		if (ret > 0 && !q->need) {
			q->need = malloc(sizeof(*q->need));
			ret = q->need ? ret : -ENOMEM;
		}
		if (ret < 0 || q->val_fetches >= VAL_FETCHES_MAX ||
		    (q->val_fetches > 0 && need.qtype == q->need->qtype &&
		     need.name_len == q->need->name_len &&
		     memcmp(need.name, q->need->name, need.name_len) == 0)) {
			/* No memory, or the chain of trust does not come together. */
			res = (struct val_result){.sec = VAL_BOGUS,
						  .ede = DNSSEC_EDE_DNSKEY_MISSING};
			snprintf(res.why, sizeof(res.why), "%s",
				 ret < 0 ? "out of memory" : "the chain of trust cannot be built");
			break;
		}
		q->val_fetches++;
		*q->need = need;
		r->stats.dnssec_fetches++;
		val_fetch(q);
		if (q->val_subq) {
			q->val_busy = false;
			return;
		}
	}
	q->val_busy = false;
	val_finish(q, &res);
}

static void val_fetched(struct query *q, const uint8_t *ans, size_t len)
{
	struct val_ctx ctx;

	val_ctx_make(q, &ctx);
	val_learn(q->r->vc, &ctx, q->need, ans, len);
	if (!q->val_busy) {
		val_step(q);
	}
}

/* The upstream answered @q: its other tries end, and validation starts. */
static void val_begin(struct query *q, const uint8_t *ans, size_t len)
{
	struct resolver *r = q->r;

	q->n_active -= query_legs_cancel(q);
	dl_remove(&r->tries, &q->n_try);
	q->val_ans = malloc(len);
	if (!q->val_ans) {
		struct val_result res = {.sec = VAL_BOGUS, .ede = DNS_EDE_OTHER};

		snprintf(res.why, sizeof(res.why), "out of memory");
		val_finish(q, &res);
		return;
	}
	memcpy(q->val_ans, ans, len);
	q->val_len = len;
	val_step(q);
}

/* --- answers made here --- */

#define SPECIAL_TTL 10800 /* of special-use zone answers and their SOA (Unbound's) */

/* Send an answer made here by dns_msg_local(); counted as a local answer. */
static void answer_local_to(struct resolver *r, const struct query_client *to,
			    const struct dns_client_query *cq, unsigned rcode,
			    const struct dns_local_rr *rrs, size_t n_rrs, const uint8_t *soa_zone,
			    size_t soa_len, uint32_t soa_ttl, int ede, const char *text)
{
	size_t len;

	if (dns_msg_local(cq, rcode, true, rrs, n_rrs, soa_zone, soa_len, soa_ttl, ede, text,
			  origin_answer_max(to->origin, cq), r->out + 2, DNS_MAX_MSG, &len) != 0) {
		answer_error_to(r, to, cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "answer too large");
		return;
	}
	send_to(r, to, len, STATS_SRC_LOCAL);
}

/*
 * A name in a special-use zone, answered without asking anyone: localhost's loopback
 * addresses (RFC 6761 §6.3), NODATA at a zone's apex and for resolver.arpa (RFC 9462),
 * NXDOMAIN below the apex of the others; with the zone's SOA when there is no answer record
 * (RFC 2308 §3), or as the answer to a question for the apex's SOA.
 */
static void answer_special(struct resolver *r, const struct query_client *to,
			   const struct dns_client_query *cq, const struct policy_zone *z)
{
	static const uint8_t v4[4] = {127, 0, 0, 1};
	static const uint8_t v6[16] = {[15] = 1};
	struct dns_local_rr rr = {.ttl = SPECIAL_TTL};
	bool apex = cq->q.name_len == z->apex_len;
	unsigned rcode = DNS_RCODE_NOERROR;

	r->stats.special_answers++;
	if (z->action == POLICY_LOCALHOST && cq->q.qtype == DNS_TYPE_A) {
		rr.type = DNS_TYPE_A;
		rr.rdata = v4;
		rr.rdlen = sizeof(v4);
		answer_local_to(r, to, cq, rcode, &rr, 1, NULL, 0, 0, -1, NULL);
		return;
	}
	if (z->action == POLICY_LOCALHOST && cq->q.qtype == DNS_TYPE_AAAA) {
		rr.type = DNS_TYPE_AAAA;
		rr.rdata = v6;
		rr.rdlen = sizeof(v6);
		answer_local_to(r, to, cq, rcode, &rr, 1, NULL, 0, 0, -1, NULL);
		return;
	}
	if (z->action == POLICY_NXDOMAIN && !apex) {
		rcode = DNS_RCODE_NXDOMAIN;
	}
	answer_local_to(r, to, cq, rcode, NULL, 0, z->apex, z->apex_len, SPECIAL_TTL, -1, NULL);
}

#define HOSTS_ANSWER_MAX 32 /* addresses of one name answered from the hosts file */
#define BLOCK_TTL	 60 /* of blocked answers and their SOA: short, lists change */

/* The hosts file's answer for @cq, when the file knows the name (hosts.h). */
static bool answer_hosts(struct resolver *r, const struct query_client *to,
			 const struct dns_client_query *cq)
{
	struct dns_local_rr rrs[HOSTS_ANSWER_MAX];
	struct hosts_answer ha;
	size_t n = 0;

	if (!r->hosts ||
	    !hosts_lookup(r->hosts, cq->msg + cq->q.name_off, cq->q.name_len, cq->q.qtype, &ha)) {
		return false;
	}
	r->stats.hosts_answers++;
	if (cq->q.qtype == DNS_TYPE_A || cq->q.qtype == DNS_TYPE_AAAA) {
		for (size_t i = 0; i < ha.n_addrs && n < HOSTS_ANSWER_MAX; i++) {
			rrs[n++] = (struct dns_local_rr){
				.type = cq->q.qtype,
				.ttl = HOSTS_TTL,
				.rdata = ha.addrs[i],
				.rdlen = cq->q.qtype == DNS_TYPE_A ? 4 : 16,
			};
		}
	} else if (cq->q.qtype == DNS_TYPE_PTR && ha.ptr_name) {
		rrs[n++] = (struct dns_local_rr){
			.type = DNS_TYPE_PTR,
			.ttl = HOSTS_TTL,
			.rdata = ha.ptr_name,
			.rdlen = (uint16_t)ha.ptr_len,
		};
	}
	answer_local_to(r, to, cq, DNS_RCODE_NOERROR, rrs, n, NULL, 0, 0, -1, NULL);
	return true;
}

/*
 * A name on a block list and on no allow list: the answer block_answer says, each with
 * Extended DNS Error 15 "Blocked" (RFC 8914 §4.16) and a short TTL; a negative one carries an
 * SOA under the name itself, so that its minimum, the same short TTL, is what clients keep.
 */
static bool answer_blocked(struct resolver *r, const struct query_client *to,
			   const struct dns_client_query *cq)
{
	static const uint8_t zeros[16];
	const uint8_t *name = cq->msg + cq->q.name_off;
	struct dns_local_rr rr = {.type = cq->q.qtype, .ttl = BLOCK_TTL, .rdata = zeros};
	enum config_block_answer how = r->cfg->block_answer;
	char lower[DNS_MAX_NAME + 1];
	int list = -1;

	if (!r->blocks ||
	    blocklist_lookup(r->blocks, name, cq->q.name_len, &list) != BLOCKLIST_BLOCK) {
		return false;
	}
	r->stats.blocked++;
	if (list >= 0 && (size_t)list < r->n_block_lists) {
		r->block_hits[list]++;
	}
	for (size_t i = 0; i < cq->q.name_len; i++) {
		lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	}
	if (how == CONFIG_BLOCK_NULL &&
	    (cq->q.qtype == DNS_TYPE_A || cq->q.qtype == DNS_TYPE_AAAA)) {
		rr.rdlen = cq->q.qtype == DNS_TYPE_A ? 4 : 16;
		answer_local_to(r, to, cq, DNS_RCODE_NOERROR, &rr, 1, NULL, 0, 0, DNS_EDE_BLOCKED,
				NULL);
		return true;
	}
	answer_local_to(
		r, to, cq, how == CONFIG_BLOCK_NXDOMAIN ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR,
		NULL, 0, (const uint8_t *)lower, cq->q.name_len, BLOCK_TTL, DNS_EDE_BLOCKED, NULL);
	return true;
}

/* --- trying upstreams --- */

static void on_leg_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			  const struct dns_opt *aopt);

/*
 * Start a try on the next upstream. A backed-off upstream is taken only when no try is under
 * way: dotd never gives up without trying, but does not pile tries on dead upstreams while one
 * is still open. false when no upstream is left.
 */
static bool query_try_next(struct query *q)
{
	struct resolver *r = q->r;

	for (;;) {
		struct query_leg *leg = query_leg_idle(q);
		struct tls_upstream *u;
		int i, ret;

		if (!leg) {
			return true; /* enough tries in flight, or no memory: the timer looks again
				      */
		}
		i = upstream_pick(q->snap->groups[q->group].ups, q->tried, q->n_active == 0);
		if (i < 0) {
			dl_remove(&r->tries, &q->n_try);
			return false;
		}
		q->tried[i / 8] |= (uint8_t)(1u << (i % 8));
		u = upstream_get(q->snap->groups[q->group].ups, (size_t)i);
		memset(&leg->tq, 0, sizeof(leg->tq));
		leg->tq.frame = q->frame;
		leg->tq.frame_len = q->frame_len;
		leg->tq.cb = on_leg_answer;
		leg->q = q;
		ret = tls_upstream_query(u, &leg->tq);
		if (ret != 0) {
			log_info(LOG_QUERY, "upstream '%s' cannot take the query: %s",
				 tls_upstream_name(u), strerror(-ret));
			q->last_error = TLS_ERR_CONNECT;
			continue;
		}
		leg->active = true;
		q->n_active++;
		r->stats.tries++;
		dl_append(&r->tries, &q->n_try, uv_now(r->loop) + q->snap->cfg->timeout_per_try_ms);
		timer_arm(r);
		return true;
	}
}

/* A try failed or gave an answer not worth passing on while others may do better. */
static bool query_retry(struct query *q, int status)
{
	q->last_error = status;
	if (query_try_next(q)) {
		return true;
	}
	return q->n_active > 0; /* others still under way */
}

/* An answer that another upstream may improve on (RFC 8767 §4 counts these as failures). */
static bool answer_is_failure(const uint8_t *ans)
{
	unsigned rcode = dns_rcode(ans);

	/* TC over TLS means the upstream is broken (rfc-checklist C7). */
	return rcode == DNS_RCODE_SERVFAIL || rcode == DNS_RCODE_REFUSED ||
	       (dns_flags(ans) & DNS_TC);
}

/*
 * Keep a copy of an upstream's SERVFAIL or REFUSED (not TC: over TLS that is broken) for the
 * case that every other try fails too; a SERVFAIL, which says more, wins over a REFUSED.
 */
static void query_keep_failure(struct query *q, const uint8_t *ans, size_t len)
{
	uint8_t *copy;

	if ((dns_flags(ans) & DNS_TC) ||
	    (q->fail_ans && (dns_rcode(q->fail_ans) == DNS_RCODE_SERVFAIL ||
			     dns_rcode(ans) != DNS_RCODE_SERVFAIL))) {
		return;
	}
	copy = malloc(len);
	if (!copy) {
		return;
	}
	memcpy(copy, ans, len);
	free(q->fail_ans);
	q->fail_ans = copy;
	q->fail_len = len;
}

static void on_leg_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			  const struct dns_opt *aopt)
{
	struct query_leg *leg = (struct query_leg *)tq;
	struct query *q = leg->q;
	struct resolver *r = q->r;
	struct dns_opt scrubbed_opt;
	size_t scrubbed;

	leg->active = false;
	q->n_active--;
	if (status == 0) {
		/* Only what answers the question, in chain order (rfc-checklist C13, C14). */
		if (dns_msg_scrub(ans, len, r->scrub, DNS_MAX_MSG, &scrubbed) != 0 ||
		    (scrubbed > 0 && dns_opt_find(r->scrub, scrubbed, &scrubbed_opt) != 0)) {
			status = TLS_ERR_PROTO;
		} else if (scrubbed > 0) {
			r->stats.scrubbed++;
			ans = r->scrub;
			len = scrubbed;
			aopt = &scrubbed_opt;
		}
	}
	if (status != 0) {
		log_debug(LOG_QUERY, "try failed (%s), %u tries left under way", strerror(-status),
			  q->n_active);
		if (!query_retry(q, status)) {
			query_fail(q, q->last_error);
		}
		return;
	}
	if (answer_is_failure(ans)) {
		query_keep_failure(q, ans, len);
		if (query_retry(q, TLS_ERR_PROTO)) {
			return;
		}
		query_fail(q, TLS_ERR_PROTO);
		return;
	}
	query_answer(q, ans, len, aopt);
}

/* --- timers --- */

static void on_query_timer(uv_timer_t *t);

static void timer_arm(struct resolver *r)
{
	uint64_t now = uv_now(r->loop);
	uint64_t when = UINT64_MAX;
	const struct dl_list *lists[] = {&r->deadlines, &r->tries, &r->stales};

	for (size_t i = 0; i < 3; i++) {
		if (lists[i]->head && lists[i]->head->at < when) {
			when = lists[i]->head->at;
		}
	}
	if (when == UINT64_MAX) {
		uv_timer_stop(&r->q_timer);
		return;
	}
	uv_timer_start(&r->q_timer, on_query_timer, when > now ? when - now : 0, 0);
}

static void on_query_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;
	uint64_t now = uv_now(r->loop);

	while (r->deadlines.head && r->deadlines.head->at <= now) {
		struct query *q = QUERY_OF(r->deadlines.head, n_deadline);

		log_debug(LOG_QUERY, "query timed out after %u ms", q->snap->cfg->timeout_ms);
		query_fail(q, -ETIME);
	}
	while (r->stales.head && r->stales.head->at <= now) {
		struct query *q = QUERY_OF(r->stales.head, n_stale);

		/* RFC 8767 §5: the client has waited long enough; the refresh goes on. */
		dl_remove(&r->stales, &q->n_stale);
		waiters_answer_stale(q);
	}
	while (r->tries.head && r->tries.head->at <= now) {
		struct query *q = QUERY_OF(r->tries.head, n_try);

		/* Slow: ask the next upstream too, and keep waiting for this one. */
		dl_remove(&r->tries, &q->n_try);
		if (query_try_next(q) && q->n_try.linked) {
			r->stats.hedged++;
		} else if (!query_any_sent(q) && q->waiters) {
			/*
			 * No upstream left to ask, and none of the tries under way even has a
			 * connection: nothing is reachable now. Say so well before the client's
			 * own timeout (RFC 8906, rfc-checklist F2); the tries carry on for the
			 * cache.
			 */
			waiters_fail(q, DNS_EDE_NO_REACHABLE, "no upstream reachable");
			q->unreachable = true;
		}
	}
	timer_arm(r);
}

int query_timer_init(struct resolver *r)
{
	int ret = uv_timer_init(r->loop, &r->q_timer);

	if (ret == 0) {
		r->q_timer.data = r;
		r->handles_open++;
		ret = uv_timer_init(r->loop, &r->trim_timer);
	}
	if (ret == 0) {
		r->trim_timer.data = r;
		r->handles_open++;
		r->inflight = calloc(INFLIGHT_BUCKETS, sizeof(*r->inflight));
		if (!r->inflight) {
			return -ENOMEM;
		}
	}
	return ret;
}

/* --- arrival --- */

/*
 * A waiter for @from's query @cq, holding its origin and counted against the client limits
 * there; NULL (and *@limited) when the origin is over a limit (a UDP client over its share or
 * over the total: it is dropped, and will retry).
 */
static struct waiter *waiter_new(const struct query_client *from, const struct dns_client_query *cq,
				 bool *limited)
{
	struct waiter *w;
	int ret;

	*limited = false;
	ret = origin_hold(from->origin, from->peer);
	if (ret != 0) {
		*limited = ret == -EBUSY;
		return NULL;
	}
	w = malloc(sizeof(*w) + cq->len);
	if (!w) {
		origin_release(from->origin, from->peer);
		return NULL;
	}
	w->next = NULL;
	w->parent = NULL;
	w->origin = from->origin;
	w->received = from->received;
	memset(&w->peer, 0, sizeof(w->peer));
	if (from->peer) {
		memcpy(&w->peer, from->peer,
		       from->peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							 : sizeof(struct sockaddr_in));
	}
	memcpy(w->msg, cq->msg, cq->len);
	w->cq = *cq;
	w->cq.msg = w->msg;
	return w;
}

/*
 * A new query for @k, built from @cq (its question, RD, CD, DO), with @w as its first waiter
 * (NULL for a background refresh). Returns false when it could not even start.
 */
static bool query_start(struct resolver *r, const struct cache_key *k,
			const struct dns_client_query *cq, size_t group, struct waiter *w)
{
	struct snapshot *snap = r->snap;
	size_t tried_len = (upstream_count(snap->groups[group].ups) + 7) / 8;
	uint64_t now = uv_now(r->loop);
	struct dns_upstream_opts opts = snap->opts;
	size_t frame_len;
	struct query *q;

	opts.validate = snap->cfg->dnssec && !(dns_flags(cq->msg) & DNS_CD);
	frame_len = dns_msg_upstream_query_len(cq, &opts);
	if (frame_len == 0) {
		return false;
	}
	q = calloc(1, sizeof(*q) + k->len + frame_len + tried_len);
	if (!q) {
		return false;
	}
	q->r = r;
	q->key_hash = k->hash;
	q->key_len = k->len;
	q->key_data = q->data;
	memcpy(q->key_data, k->data, k->len);
	q->group = group;
	q->frame = q->key_data + k->len;
	q->tried = q->frame + frame_len;
	q->cd = (dns_flags(cq->msg) & DNS_CD) != 0;
	q->do_bit = cq->do_bit;
	if (dns_msg_upstream_query(cq, &opts, q->frame, frame_len, &q->frame_len) != 0) {
		free(q);
		return false;
	}
	q->snap = snapshot_ref(snap);
	q->waiters = w;
	q->hnext = *inflight_bucket(r, k->hash);
	*inflight_bucket(r, k->hash) = q;
	r->n_queries++;
	if (r->n_queries > r->queries_peak) {
		r->queries_peak = r->n_queries;
	}
	dl_append(&r->deadlines, &q->n_deadline, now + snap->cfg->timeout_ms);
	if (w && r->cfg->serve_stale_max > 0 && cache_has_stale(r->cache, k)) {
		dl_append(&r->stales, &q->n_stale, now + STALE_CLIENT_MS);
	}
	r->stats.forwarded++;
	if (!query_try_next(q)) {
		query_fail(q, q->last_error ? q->last_error : TLS_ERR_CONNECT);
		return true; /* answered, with SERVFAIL or stale */
	}
	timer_arm(r);
	return true;
}

void query_receive(struct resolver *r, const struct query_client *from, const uint8_t *msg,
		   size_t len)
{
	const struct policy_zone *zone;
	struct dns_client_query cq;
	struct cache_key k;
	enum dns_check check;
	struct query *q;
	struct waiter *w;
	unsigned rcode;
	bool prefetch, limited;

	if (r->stopping) {
		return;
	}
	if (origin_transport(from->origin) == ORIGIN_TCP) {
		r->stats.queries_tcp++;
	} else {
		r->stats.queries_udp++;
	}
	/* Not an open resolver (RFC 5358): outside access_control, UDP gets nothing at all. */
	if (!config_acl_allows(r->cfg, from->peer)) {
		r->stats.refused++;
		stats_count_query(&r->stats, msg, len);
		if (origin_transport(from->origin) == ORIGIN_UDP) {
			return;
		}
		if (dns_msg_check_query(msg, len, &cq, &rcode) != DNS_CHECK_DROP) {
			answer_error_to(r, from, &cq, DNS_RCODE_REFUSED, DNS_EDE_PROHIBITED, NULL);
		}
		return;
	}
	check = dns_msg_check_query(msg, len, &cq, &rcode);
	if (check == DNS_CHECK_DROP) {
		stats_count_query(&r->stats, msg, len); /* a response or a runt: not parsed yet */
	} else {
		stats_count_qtype(&r->stats, cq.q.end ? cq.q.qtype : -1);
	}
	switch (check) {
	case DNS_CHECK_DROP:
		r->stats.dropped++;
		return;
	case DNS_CHECK_ANSWER:
		r->stats.answered_here++;
		answer_error_to(r, from, &cq, rcode, -1, NULL);
		return;
	case DNS_CHECK_OK:
		break;
	}
	/*
	 * The policy stage. The hosts file first, as the system's resolver reads it before DNS;
	 * then the zones: a special-use zone is answered here, the others go to an upstream
	 * group, unless a block list has the name.
	 */
	if (answer_hosts(r, from, &cq)) {
		return;
	}
	zone = policy_lookup(r->snap->policy, cq.msg + cq.q.name_off, cq.q.name_len);
	if (zone->action != POLICY_FORWARD) {
		answer_special(r, from, &cq, zone);
		return;
	}
	if (answer_blocked(r, from, &cq)) {
		return;
	}
	cache_key_make(r->cache, cq.msg, &cq.q, cq.do_bit, &k);
	cache_key_set_group(r->cache, &k, r->snap->groups[zone->group].key);
	if (answer_from_cache(r, &k, &cq, from, 0, &prefetch)) {
		if (prefetch && !inflight_find(r, &k)) {
			r->stats.prefetches++;
			query_start(r, &k, &cq, zone->group, NULL);
		}
		return;
	}
	q = inflight_find(r, &k);
	if (((q && q->stale_served) ||
	     (r->cfg->serve_stale_max > 0 && cache_refresh_held(r->cache, &k))) &&
	    answer_from_cache(r, &k, &cq, from, STALE_TTL, &prefetch)) {
		/*
		 * Its refresh is late already, or failed a moment ago: stale at once (RFC 8767
		 * §4, §5), without asking again before the failure recheck time.
		 */
		return;
	}
	if (q && q->unreachable) {
		/* Its tries have no connection yet: say so now rather than at the deadline. */
		r->stats.servfail++;
		answer_error_to(r, from, &cq, DNS_RCODE_SERVFAIL, DNS_EDE_NO_REACHABLE,
				"no upstream reachable");
		return;
	}
	if (!(dns_flags(cq.msg) & DNS_RD)) {
		/* RFC 1034 §4.3.1: no recursion wanted, and it is not in the cache. */
		r->stats.answered_here++;
		answer_error_to(r, from, &cq, DNS_RCODE_REFUSED, DNS_EDE_NOT_SUPPORTED,
				"recursion not desired: cache only");
		return;
	}
	w = waiter_new(from, &cq, &limited);
	if (!w) {
		if (limited) {
			r->stats.limited++;
			return;
		}
		answer_error_to(r, from, &cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "out of memory");
		return;
	}
	if (q) {
		/* The same question is on its way: wait for it (RFC 5452 §5). */
		w->next = q->waiters;
		q->waiters = w;
		r->stats.coalesced++;
		return;
	}
	if (!query_start(r, &k, &cq, zone->group, w)) {
		answer_error_to(r, from, &cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "out of memory");
		waiter_free(w);
	}
}

void query_drop_all(struct resolver *r)
{
	while (r->deadlines.head) {
		query_free(QUERY_OF(r->deadlines.head, n_deadline));
	}
	uv_timer_stop(&r->q_timer);
	uv_timer_stop(&r->trim_timer);
}
