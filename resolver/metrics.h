/*
 * metrics: the HTTP endpoint of metrics_listen (off by default). It serves exactly one thing,
 * GET /metrics, the Prometheus text exposition format, to the clients its allow callback
 * accepts (metrics_access_control: loopback by default). Requests are parsed by the Debian's
 * http-parser library (libhttp-parser), never by code of our own.
 *
 * Ownership: the server owns its listening handle and every client connection; it is freed in
 * the last close callback after metrics_server_close().
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <uv.h>

struct metrics_server;

/** Whether a client connecting from @peer may be served. */
typedef bool (*metrics_allow_fn)(void *arg, const struct sockaddr *peer);

/** Write the body of GET /metrics to @out; 0, or a negative errno (the client gets 500). */
typedef int (*metrics_render_fn)(void *arg, FILE *out);

/** Listen on @addr (IPv4 or IPv6 with port). 0, or a negative errno (e.g. UV_EADDRINUSE). */
int metrics_server_open(uv_loop_t *loop, const struct sockaddr *addr, metrics_allow_fn allow,
			metrics_render_fn render, void *arg, struct metrics_server **out);

/** Stop listening and close every client; @on_closed(@arg) after the last handle (may be NULL). */
void metrics_server_close(struct metrics_server *m, void (*on_closed)(void *arg), void *arg);
