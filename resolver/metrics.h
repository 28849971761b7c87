/*
 * metrics: the HTTP endpoint of metrics_listen (off by default). It serves exactly one thing,
 * GET /metrics, the Prometheus text exposition format, to the clients its allow callback
 * accepts (metrics_access_control: loopback by default). Requests are parsed by the Debian's
 * http-parser library (libhttp-parser), never by code of our own.
 *
 * Ownership: the server owns its listening handle and every client connection; it is freed in
 * the last close callback after metrics_server_close().
 *
 * One request per connection: the answer says "Connection: close" and the connection ends
 * after it (bytes the client sent after its request are read and dropped, never answered).
 * Limits, so that a slow or hostile client costs only its own connection:
 *   - METRICS_HEAD_MAX bytes of request line and headers, more get 431;
 *   - METRICS_TIMEOUT_MS from accept to the answer sent, then the connection is closed;
 *   - METRICS_CLIENTS_MAX connections at once: more are closed at accept, unread;
 *   - a request with a body (Content-Length > 0, Transfer-Encoding) gets 413.
 * A client the allow callback refuses is closed at accept, unread and unanswered (no 403: a
 * refused address learns nothing, and costs no write).
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <uv.h>

#define METRICS_HEAD_MAX    8192 /**< bytes of request line and headers */
#define METRICS_TIMEOUT_MS  5000 /**< from accept to the answer written */
#define METRICS_CLIENTS_MAX 32	 /**< connections at once */

struct metrics_server;

/** Whether a client connecting from @peer may be served. */
typedef bool (*metrics_allow_fn)(void *arg, const struct sockaddr *peer);

/** Write the body of GET /metrics to @out; 0, or a negative errno (the client gets 500). */
typedef int (*metrics_render_fn)(void *arg, FILE *out);

/**
 * Listen on @addr (IPv4 or IPv6 with port). 0, or a negative errno (e.g. UV_EADDRINUSE).
 * @allow and @render are called with @arg (borrowed, until on_closed). On failure *@out is not
 * written, and the handle opened is closed and freed when @loop runs next.
 */
int metrics_server_open(uv_loop_t *loop, const struct sockaddr *addr, metrics_allow_fn allow,
			metrics_render_fn render, void *arg, struct metrics_server **out);

/** Stop listening and close every client; @on_closed(@arg) after the last handle (may be NULL). */
void metrics_server_close(struct metrics_server *m, void (*on_closed)(void *arg), void *arg);

/** The address @m listens on, with the port the system chose for port 0. 0, or a negative errno. */
int metrics_server_address(struct metrics_server *m, struct sockaddr_storage *out);
