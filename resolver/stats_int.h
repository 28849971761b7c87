/*
 * stats_int: the plain view of every counter that stats.c writes, so that the writers can be
 * tested without a running daemon (tests/unit/test_stats.c). Not for use outside stats.c and
 * its test.
 *
 * stats_write() gathers a view from struct resolver (its own counters, the cache's, and each
 * upstream's) at one moment, then writes it; nothing in a view is owned by it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cache.h"
#include "resolver.h"
#include "stats.h"
#include "tls.h"

/** One upstream as the writers see it. */
struct stats_upstream {
	const char *name; /**< borrowed: "IP@port", but written as arbitrary bytes */
	enum tls_upstream_state state;
	uint64_t backoff_ms; /**< backoff left, 0 unless backed off */
	unsigned srtt_ms;    /**< 0 until measured */
	struct tls_upstream_stats st;
};

/** One block or allow list file as the writers see it. */
struct stats_list {
	const char *path; /**< borrowed */
	bool allow;
	uint64_t entries; /**< domains read from it */
	uint64_t hits;	  /**< names it blocked (0 for an allow list) */
};

struct stats_view {
	const char *version; /**< borrowed */
	uint64_t uptime_ms;
	struct resolver_stats clients;
	size_t queries_in_flight; /**< upstream queries under way (struct query) */
	size_t clients_waiting;	  /**< client queries waiting for an upstream (struct waiter) */
	size_t tcp_clients_open;  /**< client TCP connections open */
	bool has_cache;
	struct cache_stats cache;
	const struct stats_upstream *upstreams; /**< borrowed array of n_upstreams */
	size_t n_upstreams;
	const struct stats_list *lists; /**< borrowed array of n_lists */
	size_t n_lists;
	const uint64_t *worker_queries; /**< borrowed: client queries per worker, 1..n_workers */
	size_t n_workers;		/**< written when more than 1 */
};

/** Write @v to @out in @fmt. 0, -ENOMEM, or -EIO if @out failed. */
int stats_view_write(const struct stats_view *v, enum stats_format fmt, FILE *out);

/** Write one line per upstream of @v (stats_upstreams_write()). 0, or -EIO. */
int stats_view_upstreams_write(const struct stats_view *v, FILE *out);
