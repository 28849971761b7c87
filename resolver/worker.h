/*
 * worker: the threads of `workers: N` (DESIGN.md, decision 12). The main thread's resolver is
 * worker 1; each other worker is a thread with its own libuv loop and its own struct resolver:
 * listeners on the same addresses (SO_REUSEPORT, the kernel spreads clients over them), cache
 * (cache_size / N each), queries, upstream connections, validator zone cache and host name
 * lookups. What they share: the configuration (one immutable, reference-counted struct config),
 * the session tickets (tls_tickets, so that a worker's first connection resumes), and, borrowed
 * from the main resolver, the hosts file and the block lists in force.
 *
 * Everything process-wide stays on the main thread: signals, the control socket, metrics,
 * netwatch, the hosts file watch, block list loading, the cache file at stop, systemd's notify.
 * The main thread reaches a worker only through worker_call(): the function runs on the worker's
 * loop while the caller waits, so it may read the main resolver (which does not change while it
 * waits) and write its own; nothing else crosses threads, so the query path takes no lock.
 * Workers never wait for the main thread, which keeps this free of deadlock.
 *
 * Ownership: the main resolver owns struct workers (r->workers); a worker's resolver is freed
 * on its own thread after its loop has ended, and the thread is joined by workers_free().
 */
#pragma once

#include <stddef.h>

struct resolver;
struct workers;

/**
 * Start workers 2..@n beside @main (started and serving): each binds its listeners before this
 * returns, so that the caller can give up root after. 0; or the first worker's error, after
 * the ones that did start were stopped again.
 */
int workers_start(struct resolver *main, unsigned n, struct workers **out);

/** How many workers there are besides the main thread. */
size_t workers_count(const struct workers *ws);

/**
 * Run @fn(worker's resolver, @arg) on each worker's loop in turn, waiting for each. Workers
 * that have stopped are passed over.
 */
void workers_each(struct workers *ws, void (*fn)(struct resolver *r, void *arg), void *arg);

/** Ask every worker to stop (resolver_stop on its loop); they end on their own. */
void workers_stop(struct workers *ws);

/** Wait for every worker's thread to end, and free them (after workers_stop). */
void workers_free(struct workers *ws);
