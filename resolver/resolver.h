/*
 * resolver: the daemon's state and the path of a query through it.
 *
 *   listen.c    UDP and TCP listeners and client TCP connections (RFC 7766 framing), their
 *               limits; declared in listen.h
 *   origin.h    how query.c reaches a client transport: reply, hold, release
 *   query.c     one client query: check, forward over TLS, answer, time out
 *   upstream.c  the configured upstreams and the choice among them
 *   hostname.c  the addresses of host name upstreams (tls://HOST), looked up and kept fresh
 *
 * Everything of one resolver runs on one libuv loop; with `workers: N` there are N resolvers,
 * each on its own thread and loop (worker.h), the main one owning what is process-wide. Ownership:
 * struct resolver owns the listeners, the upstream pool, the cache, the counters and every query in
 * flight; a query that waits for an upstream holds the origin of each client it answers
 * (origin_hold: its TCP client, or the UDP listener it came in on), so that a client that goes away
 * mid-query is freed only after its last query, and a listener closed by a reload after its last
 * UDP answer.
 *
 * Configuration: what was loaded is an immutable snapshot (struct snapshot: the config and the
 * upstream set built from it), reference-counted. The resolver holds the current one; each
 * query holds the one it started on and finishes on it, so that a reload (resolver_reload)
 * swaps the current snapshot without touching a query in flight. Long-lived state (cache,
 * upstream pool with its connections and tickets, counters) lives outside any snapshot.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "cache.h"
#include "config.h"
#include "dns_msg.h"
#include "stats.h"
#include "tls.h"

struct listener;
struct client_tcp;
struct origin;
struct query;
struct upstream_pool;
struct upstream_set;
struct udp_source;
struct control;
struct metrics_server;
struct hosts;
struct hosts_watch;
struct blocklist;
struct hostnames;
struct workers;
struct tls_tickets;

/**
 * One loaded configuration and what is built from it alone. Immutable once made; freed when the
 * last reference goes (the resolver's, or the last query that started on it). Freeing it lets
 * go of its upstreams: those no newer snapshot uses close then, after their last query.
 */
/**
 * An upstream group: the default upstreams (group 0) or a forward zone's. @key puts its
 * answers apart in the cache (cache_key_set_group); it is derived from the zone and its
 * servers, so that a reload that keeps them keeps the cached answers, and 0 for the default.
 */
struct upstream_group {
	struct upstream_set *ups; /**< owned */
	uint64_t key;
	const char *zone; /**< borrowed from the config: "lan.", or "." for the default */
};

struct snapshot {
	unsigned refs;
	struct config *cfg;	       /**< owned */
	struct upstream_set *ups;      /**< borrowed: groups[0].ups, the default upstreams */
	struct upstream_group *groups; /**< owned array: 0 the default, then cfg->zones' */
	size_t n_groups;
	struct policy *policy;	       /**< owned: where each name goes (policy.h) */
	struct dns_upstream_opts opts; /**< how upstream queries are written (padding, ECS) */
};

struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

/** Counters of the client side, logged on SIGUSR1 and at exit. */
/** Zones the validator keeps verdicts for (validator.h): a few hundred kB at most. */
#define RESOLVER_VAL_ZONES 1024

struct resolver_stats {
	uint64_t queries_udp;
	uint64_t queries_tcp;
	uint64_t dropped;	  /**< shorter than a header, or QR set */
	uint64_t answered_here;	  /**< FORMERR, NOTIMP, REFUSED, BADVERS without forwarding */
	uint64_t cache_answers;	  /**< answered from a fresh cache entry */
	uint64_t stale_answers;	  /**< answered from an expired entry (RFC 8767) */
	uint64_t coalesced;	  /**< joined an identical query in flight */
	uint64_t prefetches;	  /**< background refreshes started by a hit */
	uint64_t forwarded;	  /**< upstream queries started */
	uint64_t answers;	  /**< upstream answers passed on */
	uint64_t servfail;	  /**< SERVFAIL because no upstream answered */
	uint64_t tries;		  /**< upstream tries started (one or more per forwarded query) */
	uint64_t hedged;	  /**< tries started because an earlier one was slow */
	uint64_t truncated;	  /**< UDP answers cut with TC */
	uint64_t scrubbed;	  /**< upstream answers cut to what answers the question */
	uint64_t tcp_clients;	  /**< client TCP connections accepted */
	uint64_t tcp_evicted;	  /**< closed to make room for a new one (tcp_clients_max) */
	uint64_t tcp_idle_closed; /**< closed after tcp_idle_timeout without a whole message */
	uint64_t tcp_overflow_closed; /**< closed for not reading their answers (tcp_buffer_max) */
	uint64_t tcp_paused;	      /**< times a client was not read for using up its share */
	uint64_t refused;	      /**< from outside access_control (TCP: REFUSED, UDP: none) */
	uint64_t limited; /**< UDP queries dropped over udp_queries_per_source/queries_max */
	uint64_t udp_send_dropped; /**< UDP answers dropped: the socket's queue was full */
	uint64_t udp_send_calls;   /**< system calls that sent UDP answers (sendmmsg batches) */

	/* stats_count_query() and stats_count_answer(); the tables' names are in stats.c. */
	uint64_t by_qtype[STATS_N_QTYPES];   /**< client messages by the type of their question */
	uint64_t by_rcode[STATS_N_RCODES];   /**< answers sent, by RCODE */
	uint64_t by_source[STATS_N_SOURCES]; /**< answers sent, by where they came from */
	uint64_t duration[STATS_N_BUCKETS];  /**< answers sent, by time since arrival; per
						  bucket, not cumulative */
	uint64_t duration_ns;		     /**< the sum of those times */
	uint64_t special_answers;	     /**< answered from a special-use zone (policy.h) */
	uint64_t hosts_answers;		     /**< answered from hosts_file */
	uint64_t blocked;		     /**< answered as blocked (blocklists) */
	uint64_t reloads;		     /**< reloads asked for (SIGHUP, dotd-ctl reload) */
	uint64_t reload_failures; /**< of those, the ones that left something unchanged */
	uint64_t network_events;  /**< network changes acted on (resolver_network_event) */
	uint64_t dnssec_secure;	  /**< answers validated secure (validator.h) */
	uint64_t dnssec_insecure; /**< answers validated insecure */
	uint64_t dnssec_bogus;	  /**< answers found bogus: SERVFAIL */
	uint64_t dnssec_fetches;  /**< DS and DNSKEY questions validation asked */
};

/** A node of a dl_list, embedded in the object it orders (a query, a client connection). */
struct dl_node {
	struct dl_node *prev, *next;
	uint64_t at; /**< loop time (ms) it is due, for deadline lists */
	bool linked;
};

/**
 * A list of nodes, oldest at the head. For deadlines, the nodes of a list have one duration
 * (until a reload changes it), so inserting from the tail is O(1) and keeps it sorted; for the
 * client TCP connections (all at 0), appending a client when it is active keeps the least
 * recently active at the head.
 */
struct dl_list {
	struct dl_node *head, *tail;
};

#define DL_ENTRY(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

static inline void dl_remove(struct dl_list *l, struct dl_node *n)
{
	if (!n->linked) {
		return;
	}
	if (n->prev) {
		n->prev->next = n->next;
	} else {
		l->head = n->next;
	}
	if (n->next) {
		n->next->prev = n->prev;
	} else {
		l->tail = n->prev;
	}
	n->prev = n->next = NULL;
	n->linked = false;
}

/*
 * Insert @n due at @at, after every node due at or before @at. Usually that is the tail; after
 * a reload shortened a timeout, the nodes of the old, longer one are passed over.
 */
static inline void dl_append(struct dl_list *l, struct dl_node *n, uint64_t at)
{
	struct dl_node *after;

	dl_remove(l, n);
	n->at = at;
	after = l->tail;
	while (after && after->at > at) {
		after = after->prev;
	}
	n->prev = after;
	n->next = after ? after->next : l->head;
	if (n->next) {
		n->next->prev = n;
	} else {
		l->tail = n;
	}
	if (after) {
		after->next = n;
	} else {
		l->head = n;
	}
	n->linked = true;
}

/** Room for the one-line summary (STATUS= for systemd); more listeners are counted, not named. */
#define RESOLVER_SUMMARY_MAX 256

struct resolver {
	uv_loop_t *loop;	     /**< borrowed */
	struct resolver *main;	     /**< borrowed: the main resolver; NULL in the main one */
	unsigned worker_id;	     /**< 1 for the main resolver, 2..N for the others */
	unsigned n_workers;	     /**< workers at start (a reload does not change it) */
	struct workers *workers;     /**< owned by the main resolver, or NULL: the others */
	struct steer *steer;	     /**< owned by the main resolver, or NULL: by hash (steer.h) */
	struct tls_tickets *tickets; /**< owned by the main resolver, borrowed by the others */
	struct snapshot *snap;	     /**< referenced: the current configuration */
	const struct config *cfg;    /**< borrowed from snap: what new work follows */
	char *config_path;	     /**< owned or NULL (the built-in default): what reload reads */
	int log_level_forced;	     /**< -v on the command line, kept across reloads; or -1 */
	struct upstream_pool *pool;  /**< owned: every upstream some snapshot uses */
	struct listener *listeners;  /**< owned list */
	struct cache *cache;	     /**< owned (disabled when cache_size is 0) */

	struct query **inflight;  /**< owned: queries by question, for coalescing */
	size_t n_queries;	  /**< queries in flight */
	size_t queries_peak;	  /**< the most in flight since the last trim (query_trim) */
	uv_timer_t trim_timer;	  /**< a trim after many queries ended (query_trim) */
	struct dl_list deadlines; /**< queries by overall deadline (timeout) */
	struct dl_list tries;	  /**< queries by try deadline (timeout_per_try) */
	struct dl_list stales;	  /**< queries by serve-stale deadline (1.8 s) */
	uv_timer_t q_timer;	  /**< fires at the earliest head of the three */
	uv_signal_t sig_int, sig_term, sig_usr1, sig_hup;
	uint64_t started_at;		 /**< loop time serving began, for uptime */
	enum config_steering steering;	 /**< workers_steering at start (main resolver) */
	struct control *control;	 /**< owned or NULL: the control socket */
	struct metrics_server *metrics;	 /**< owned or NULL: metrics_listen */
	struct hosts *hosts;		 /**< owned or NULL: hosts_file as last read (local.c) */
	struct hosts_watch *hosts_watch; /**< owned or NULL */
	char *hosts_path;		 /**< owned: what hosts_watch watches */
	struct blocklist *blocks;	 /**< owned or NULL: the block and allow lists in force */
	uint64_t *block_hits;		 /**< owned: names blocked, per list of blocks */
	size_t n_block_lists;
	unsigned blocks_loading;     /**< loads of the lists off the loop still running */
	uint64_t blocks_wanted;	     /**< the reload whose lists should be in force */
	char *metrics_name;	     /**< owned: what metrics is bound to, for reload */
	unsigned handles_open;	     /**< of the above: timer and signals */
	struct hostnames *hostnames; /**< owned or NULL: the host name upstreams' lookups */
	struct netwatch *netwatch;   /**< owned or NULL: network changes (netwatch.h) */

	struct dl_list tcp_clients; /**< open client TCP connections, least recently active first */
	size_t n_tcp_clients;
	struct client_tcp *tcp_ready;  /**< clients with messages left for the next iteration */
	struct client_tcp *tcp_paused; /**< clients not read until their queries come back */
	uv_idle_t tcp_work;	       /**< runs while tcp_ready is not empty */
	size_t n_waiters;	       /**< client queries waiting for an upstream (origin holds) */
	struct udp_source **sources;   /**< owned: queries in flight per UDP source (listen.c) */
	struct udp_in *udp_in;	       /**< owned: the UDP receive buffer, recvmmsg's slots */
	struct udp_out *udp_out;       /**< owned: UDP answers queued for sendmmsg (listen.c) */
	uv_check_t udp_flush;	       /**< sends r->udp_out after the loop's I/O callbacks */
	uv_prepare_t udp_flush_late;   /**< and before it waits (answers made by timers) */

	uint8_t *out;	/**< owned scratch buffer for one answer, with prefix */
	uint8_t *scrub; /**< owned scratch buffer for an upstream answer rebuilt by dns_msg_scrub */
	uint8_t *val_buf;     /**< owned scratch buffer: a DS or DNSKEY answer from the cache */
	struct val_cache *vc; /**< owned: the validator's zone cache (validator.h) */
	bool val_no_dates;    /**< something was validated while the clock was unset */
	char summary[RESOLVER_SUMMARY_MAX]; /**< resolver_summary() */
	size_t n_listening;		    /**< listeners bound */
	size_t n_unnamed;		    /**< of those, not named in summary (no room) */
	bool serving;			    /**< resolver_start() succeeded */
	bool stopping;			    /**< resolver_stop() was called */
	uint64_t started;		    /**< uv_hrtime() at resolver_start(), for the uptime */
	struct resolver_stats stats;
};

/**
 * Set up everything from @cfg: TLS context, upstreams, listeners (bound), signals. @cfg becomes
 * the resolver's (freed with its snapshot), whether this succeeds or not; @path is the file it
 * came from (NULL: the built-in default), read again on reload.
 */
int resolver_start(struct resolver *r, uv_loop_t *loop, struct config *cfg, const char *path);

/**
 * Set up worker @id (2..N) on its own @loop, in its thread (worker.c), beside @main: the
 * configuration of @main (shared), its own upstream pool (tickets shared), listeners on the same
 * addresses, cache and queries; the hosts file and the block lists borrowed from @main. Nothing
 * process-wide: no signals, control socket, metrics or network watch.
 */
int resolver_start_worker(struct resolver *r, uv_loop_t *loop, struct resolver *main, unsigned id);

/**
 * The counters of the clients and the cache, summed over every worker (one worker: @r's own).
 * On the main resolver's thread.
 */
void resolver_stats_sum(struct resolver *r, struct resolver_stats *s, struct cache_stats *cs);

/**
 * Where and how dotd serves, in one line, once resolver_start() has succeeded: "serving on
 * 127.0.0.1@53, ::1@53 with 8 upstreams" (the listeners actually bound). systemd shows it as
 * the service's status.
 */
const char *resolver_summary(const struct resolver *r);

/**
 * Read the configuration file again and make it current (SIGHUP, dotd-ctl reload). The cache,
 * the counters and the upstreams whose pool key is unchanged (with their connections and
 * tickets) stay; queries in flight finish on the snapshot they started on. A file that does not
 * load changes nothing. What was said (errors with file and line, warnings, the outcome) is
 * logged and, if @out is not NULL, written to it. 0; -EINVAL and the like when nothing changed;
 * -EADDRNOTAVAIL when the new configuration is in effect but some listen address could not be
 * bound (the others serve).
 */
int resolver_reload(struct resolver *r, FILE *out);

struct netwatch_event;

/**
 * The network changed (netwatch.h): tell every upstream of the pool (addresses gone, links,
 * routes, a resume; the clock for the unset-clock exception), count it and log it. Called by
 * the netwatch callback and by the control socket's network-changed (NETWATCH_MANUAL).
 */
void resolver_network_event(struct resolver *r, const struct netwatch_event *ev);

/** Open, move or close the metrics endpoint as r->cfg says; problems go to @msgs (or NULL). */
int resolver_metrics_apply(struct resolver *r, FILE *msgs);

/* local.c */

/** Read hosts_file and the block lists before serving; problems are warnings. */
int local_start(struct resolver *r);

/** Apply r->cfg's hosts_file and lists after a reload (the lists off the loop). */
void local_reload(struct resolver *r, FILE *msgs);

/** Stop watching the hosts file (resolver_stop). */
void local_stop(struct resolver *r);

/** Free what is left (resolver_free). */
void local_free(struct resolver *r);

/** The hosts file or the block lists in force changed: the workers take the new ones. */
void resolver_local_changed(struct resolver *r);

/** Worker @r borrows the hosts file and the block lists in force in the main resolver. */
void local_borrow(struct resolver *r);

/* cachefile.c */

/** Write the cache to @path atomically; *@n_entries written. Problems are written to @msg. */
int cachefile_write(struct resolver *r, const char *path, size_t *n_entries, FILE *msg);

/** Read @path into the cache (what it held is replaced); problems are written to @msg. */
int cachefile_read(struct resolver *r, const char *path, struct cache_load_stats *st, FILE *msg);

/** Close everything; uv_run() returns when the last handle has closed. */
void resolver_stop(struct resolver *r);

/** Free what resolver_stop() could not (after uv_run() has returned). */
void resolver_free(struct resolver *r);

/** Log the counters of the resolver and of every upstream. */
void resolver_stats_log(struct resolver *r);

/* query.c */

/**
 * The sender of a client message, as query.c sees it: the origin its answer goes back through
 * (origin.h), its address and when it came.
 */
struct query_client {
	struct origin *origin;	     /**< borrowed for the call; a query that waits holds it */
	const struct sockaddr *peer; /**< the client's address (UDP: where to answer); copied */
	uint64_t received;	     /**< uv_hrtime() when the message was read, for its answer's
					  duration */
};

/** Handle one DNS message from a client (listen.c, for each origin). */
void query_receive(struct resolver *r, const struct query_client *from, const uint8_t *msg,
		   size_t len);

/** Drop every query in flight without answering (shutdown). */
void query_drop_all(struct resolver *r);

/** Set up the query timer and the in-flight table; part of resolver_start(). */
int query_timer_init(struct resolver *r);

/* upstream.c */

/**
 * A pool of upstreams on @loop; their tickets are kept in @tickets (shared by the workers), or
 * by each upstream when it is NULL.
 */
int upstream_pool_new(uv_loop_t *loop, struct tls_tickets *tickets, struct upstream_pool **out);

/** Free the pool, once every set is freed and every upstream closed (after the loop ends). */
void upstream_pool_free(struct upstream_pool *p);

/**
 * The check of @cfg's tls_ca_file that a start makes (upstream.c, ctx_check()), for `dotd -i`:
 * 0, or -EINVAL when an upstream needs the file (strict, no pin) and no certificate in it can
 * be read, said on @msgs (-errno, said too, when the check cannot be made).
 */
int upstream_ca_check(const struct config *cfg, FILE *msgs);

/**
 * The upstreams of @cfg, from @pool: an upstream whose pool key (address, port, tls_auth_name,
 * pins, strictness, trust anchors and TLS versions; a host name instead of the address) is
 * already there is shared, with its connections and tickets (and a host name's addresses),
 * and takes @cfg's limits; the others are made, a host name upstream without an address.
 * What refuses @cfg is also written to @msgs, if not NULL (a reload's reply).
 */
int upstream_set_new(struct upstream_pool *pool, const struct config *cfg, FILE *msgs,
		     struct upstream_set **out);

/** The upstreams of forward zone @z (its own list, @cfg's TLS settings), as above. */
int upstream_set_new_zone(struct upstream_pool *pool, const struct config *cfg,
			  const struct config_zone *z, FILE *msgs, struct upstream_set **out);

/** Let go of the upstreams of @s; those no other set uses close. */
void upstream_set_free(struct upstream_set *s);

/** Whether upstream @i of @s is also in @old (a reload kept it). */
bool upstream_set_shares(const struct upstream_set *s, size_t i, const struct upstream_set *old);

size_t upstream_count(const struct upstream_set *s);

struct tls_upstream *upstream_get(struct upstream_set *s, size_t i);

/**
 * The host name of upstream @i of @s (tls://HOST, lower case) and its port (network byte order,
 * into *@port if not NULL), or NULL when it was configured with an address.
 */
const char *upstream_host(const struct upstream_set *s, size_t i, uint16_t *port);

/** Whether upstream @i of @s is a forward zone's plain DNS server. */
bool upstream_plain(const struct upstream_set *s, size_t i);

/**
 * The upstream for the next try of a query, as an index, among those not set in @tried (a
 * bitmap of upstream_count() bits) and not backed off; when @any and every untried one is
 * backed off, the one whose backoff ends first. Never one without an address yet (resolving).
 * -1 when there is none.
 */
int upstream_pick(struct upstream_set *s, const uint8_t *tried, bool any);

void upstream_set_stats_log(const struct upstream_set *s);

/** Call @fn on every upstream of @p (every set's, DoT and plain), in no particular order. */
void upstream_pool_each(struct upstream_pool *p, void (*fn)(struct tls_upstream *u, void *arg),
			void *arg);
