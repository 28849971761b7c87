/*
 * stream: the bottom layer of an upstream connection: one TCP socket under libuv, the bytes
 * received and not yet taken, the bytes to send, backpressure, and the close. It knows nothing
 * of TLS or DNS: the DoT connection (tls_conn.c, through the TLS layer of tls_link.c) and the
 * plain DNS TCP connection (tls_plain.c) sit on it alike.
 *
 *   connect -> on_connect -> reads into rx -> on_data (the layer above takes with stream_take)
 *   stream_append (copy into tx) -> stream_flush (uv_try_write, then one uv_write request)
 *
 * The stream keeps its local address once connected (stream_local()), so that an event that
 * concerns a path, an address removed from the host, can find the connections that use it.
 *
 * Timers: a write that libuv has not completed within write_timeout_ms means the peer stopped
 * reading or the path is gone (on_error with UV_ETIMEDOUT); a graceful close (stream_shutdown)
 * that has not drained within STREAM_CLOSE_MS is made hard.
 *
 * Lifetime: the stream is embedded in its owner. From a successful stream_open() on, it owns two
 * libuv handles (socket, timer); stream_close() (or the hard end of a shutdown) closes them and
 * on_closed runs from the last close callback: only then may the owner free the memory. No
 * callback runs from inside a stream_*() call, and none after on_closed. After on_error or on_eof
 * the stream reads nothing more; the owner closes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define STREAM_CLOSE_MS 2000 /* a polite close that has not drained by then is made hard */

struct stream;

struct stream_ops {
	/** The connect finished: @status 0, or a libuv error (the owner closes). */
	void (*on_connect)(struct stream *s, int status);
	/** Bytes were added to the receive buffer: take them with stream_take() / stream_peek(). */
	void (*on_data)(struct stream *s);
	/** The peer closed (@status UV_EOF) or the socket failed (a libuv error), reading. */
	void (*on_eof)(struct stream *s, int status);
	/** A write failed or timed out (UV_ETIMEDOUT); the owner closes. */
	void (*on_error)(struct stream *s, int status);
	/** The last handle closed: the owner may free the memory now. */
	void (*on_closed)(struct stream *s);
};

struct stream {
	uv_tcp_t tcp;	  /**< handle->data = this */
	uv_timer_t timer; /**< write deadline, then the close deadline */
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	const struct stream_ops *ops;
	void *owner; /**< for the callbacks: the object the stream is embedded in */
	uv_loop_t *loop;
	struct sockaddr_storage peer;  /**< where it connects */
	struct sockaddr_storage local; /**< its local address, once connected (has_local) */
	bool has_local;
	int connect_error; /**< uv_tcp_connect() failed at once: given from the timer */
	bool connected;
	bool reading;
	bool closing;		   /**< stream_close() or stream_shutdown() was called */
	unsigned handles_open;	   /**< 0..2 */
	unsigned write_timeout_ms; /**< 0: none */

	uint8_t *rx; /**< owned: received, not yet taken */
	size_t rx_head, rx_len, rx_cap;
	uint8_t *tx; /**< owned: appended, not yet handed to libuv */
	size_t tx_len, tx_cap;
	unsigned writes_pending; /**< uv_write requests not completed */
	size_t bytes_pending;	 /**< their bytes: what libuv holds for us (backpressure) */
	uint64_t write_since;	 /**< loop time the oldest pending request was made */
};

/**
 * Connect @s (embedded in @owner) to @peer on @loop, with a receive buffer of @rx_cap bytes.
 * Returns 0: on_connect follows, with the connect's error if it failed at once (no route); the
 * handles are open, so the stream is ended with stream_close() and on_closed. Or a negative
 * errno (no memory, no socket): nothing is open, and the memory may be freed at once.
 */
int stream_open(struct stream *s, uv_loop_t *loop, const struct sockaddr *peer, size_t rx_cap,
		unsigned write_timeout_ms, const struct stream_ops *ops, void *owner);

/** Copy @len bytes to send; 0, or -ENOMEM. They go out at the next stream_flush(). */
int stream_append(struct stream *s, const void *buf, size_t len);

/**
 * Hand what was appended to the socket: to the kernel at once if libuv holds nothing, the rest
 * in one write request. Returns 0, or a libuv error (the caller closes; no callback comes for
 * it); a write request that fails later is reported with on_error.
 */
int stream_flush(struct stream *s);

/**
 * Acknowledge what has been read at once, not with the next write. For a layer that read an
 * answer and awaits more with nothing to write: a server that leaves Nagle's algorithm on
 * (RFC 896; unbound 1.17 does on its DoT connections, libuv by default) holds a small answer
 * while an earlier one is unacknowledged, and Linux delays the ACK of what it read while data
 * flows both ways (RFC 1122 §4.2.3.2), to ride on the next write, which is the next query: so
 * each pipelined answer waited for the query after it (docs/BENCHMARKS.md, "The upstream's
 * Nagle"; tests/bench/upstream_hold.py shows it with no dotd in the way). A failure costs only
 * latency.
 */
void stream_ack_now(struct stream *s);

/** Bytes received and not yet taken. */
size_t stream_rx_avail(const struct stream *s);

/** Take up to @n received bytes into @buf; returns how many. */
size_t stream_take(struct stream *s, void *buf, size_t n);

/** Whether the receive buffer is full and nothing has been taken (the layer above is stuck). */
bool stream_rx_stuck(const struct stream *s);

/** Bytes written and not yet taken by the kernel, appended ones included (backpressure). */
size_t stream_backlog(const struct stream *s);

/**
 * The local address of @s (port included) once the socket has one, else NULL. For a connect
 * still under way it is read from the socket, which the kernel bound at connect().
 */
const struct sockaddr_storage *stream_local(struct stream *s);

/** Whether @a and @b are the same IP address (ports ignored; IPv6 scopes when both given). */
bool stream_same_ip(const struct sockaddr *a, const struct sockaddr *b);

/** Whether @addr (port ignored) is the local address of @s. */
bool stream_uses_local(struct stream *s, const struct sockaddr *addr);

/**
 * Whether the path of @s has moved off it: the kernel would now send to its peer from another
 * local address, or has no route to it at all (a UDP socket connected to the peer says which
 * source it would pick; nothing is sent). False while that cannot be told (no local address
 * yet, no socket).
 */
bool stream_path_moved(struct stream *s);

/**
 * Close politely: stop reading, flush, FIN once the writes are out, then close; hard after
 * STREAM_CLOSE_MS if the peer does not let them out. on_closed follows.
 */
void stream_shutdown(struct stream *s);

/** Close at once (pending writes are cancelled); on_closed follows. Idempotent. */
void stream_close(struct stream *s);
