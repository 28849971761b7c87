/*
 * stats: every counter of the daemon, gathered in one place and written in three formats:
 * "name value" lines (dotd-ctl stats, SIGUSR1), JSON (dotd-ctl stats --json) and the Prometheus
 * text exposition format (dotd-ctl stats --prometheus, GET /metrics).
 *
 * The counters live in struct resolver, struct tls_upstream and struct cache, never in a
 * configuration snapshot: they survive a reload.
 */
#pragma once

#include <stdio.h>

struct resolver;

enum stats_format {
	STATS_TEXT,	  /**< "name value" per line; labels as name{label="v"} */
	STATS_JSON,	  /**< one JSON object */
	STATS_PROMETHEUS, /**< text exposition format 0.0.4 */
};

/** Write every counter of @r to @out in @fmt. 0, or -EIO if @out failed. */
int stats_write(struct resolver *r, enum stats_format fmt, FILE *out);

/**
 * Write one line per upstream: name, state (up, connecting, backed off until...), smoothed RTT,
 * backoff, connections open, queries in flight, handshakes full and resumed and the resumption
 * ratio. 0, or -EIO.
 */
int stats_upstreams_write(struct resolver *r, FILE *out);
