/*
 * stats: every counter of the daemon, gathered in one place and written in three formats:
 * "name value" lines (dotd-ctl stats), JSON (dotd-ctl stats --json) and the Prometheus text
 * exposition format (dotd-ctl stats --prometheus, GET /metrics). SIGUSR1 logs the same counters
 * as key=value lines (resolver_stats_log()), whose keys scripts already read.
 *
 * The counters live in struct resolver, struct tls_upstream and struct cache, never in a
 * configuration snapshot: they survive a reload.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct resolver;
struct resolver_stats;

enum stats_format {
	STATS_TEXT,	  /**< "name value" per line; labels as name{label="v"} */
	STATS_JSON,	  /**< one JSON object */
	STATS_PROMETHEUS, /**< text exposition format 0.0.4 */
};

/** Write every counter of @r to @out in @fmt. 0, -ENOMEM, or -EIO if @out failed. */
int stats_write(struct resolver *r, enum stats_format fmt, FILE *out);

/**
 * Write one line per upstream: name, state (up, connecting, backed off until...), smoothed RTT,
 * backoff, connections open, queries in flight, handshakes full and resumed and the resumption
 * ratio. 0, -ENOMEM, or -EIO.
 */
int stats_upstreams_write(struct resolver *r, FILE *out);

/* --- counting, on the query path (query.c) --- */

/**
 * Where an answer sent to a client came from. Every answer handed to a client's socket counts
 * once, in exactly one of them.
 */
enum stats_source {
	STATS_SRC_CACHE,    /**< a fresh cache entry */
	STATS_SRC_STALE,    /**< an expired cache entry (RFC 8767) */
	STATS_SRC_UPSTREAM, /**< an upstream's answer passed on (its own SERVFAIL included) */
	STATS_SRC_LOCAL, /**< made here for the query itself: FORMERR, NOTIMP, REFUSED, BADVERS */
	STATS_SRC_SERVFAIL, /**< dotd's own SERVFAIL: no upstream gave a usable answer (or no
			       memory); apart from local, since it says the upstreams failed */
	STATS_N_SOURCES,
};

/* The sizes of the tables of struct resolver_stats; the names are in stats.c. */
#define STATS_N_QTYPES	16 /**< A .. ANY, "other" type, "none" (no readable question) */
#define STATS_N_RCODES	8  /**< NOERROR .. REFUSED, BADVERS, "other" */
#define STATS_N_BUCKETS 14 /**< answer durations: 13 bounds from 0.5 ms to 5 s, then +Inf */

/**
 * Count a client's message @msg (@len bytes) by the type of its question. query_receive()
 * counts every message it takes once, by this or by stats_count_qtype(), so that the types add
 * up to every query received (queries_udp + queries_tcp).
 */
void stats_count_query(struct resolver_stats *s, const uint8_t *msg, size_t len);

/** The same for a query already parsed: @qtype its question's type, or -1 when it has none. */
void stats_count_qtype(struct resolver_stats *s, int qtype);

/**
 * Count the answer @msg (@len bytes) as it is handed to a client's socket: by its RCODE (the
 * extended one of its OPT included), by @src, and in the duration histogram with @elapsed_ns
 * since the query arrived.
 */
void stats_count_answer(struct resolver_stats *s, const uint8_t *msg, size_t len,
			enum stats_source src, uint64_t elapsed_ns);

/**
 * Log the counters by type, RCODE, source and the duration histogram (cumulative, as in the
 * exposition format) as key=value lines, for resolver_stats_log().
 */
void stats_log_answers(const struct resolver_stats *s);
