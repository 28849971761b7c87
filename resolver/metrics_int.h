/*
 * metrics_int: what tests/unit/test_metrics.c needs of resolver/metrics.c beyond its interface,
 * so that limits can be tested in milliseconds and the accept path observed.
 */
#pragma once

#include "metrics.h"

/** Use @ms instead of METRICS_TIMEOUT_MS for the connections accepted from now on. */
void metrics_server_timeout_set(struct metrics_server *m, unsigned ms);

/** Connections of @m not yet freed (served, refused at the allow callback, or closing). */
unsigned metrics_server_clients(const struct metrics_server *m);
