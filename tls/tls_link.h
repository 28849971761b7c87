/*
 * tls_link: the TLS layer of a DoT connection, between the stream below (stream.h) and DNS
 * over TLS above (tls_conn.c). One WOLFSSL object whose I/O callbacks read the stream's receive
 * buffer and append to its send buffer: wolfSSL never touches a socket, so TLS is testable in
 * memory and the stream's backpressure and timers stay the stream's. Not for use outside tls/.
 *
 * Every call that may make wolfSSL produce bytes (the handshake, a write, a read that answers
 * a key update, the close_notify) is followed by tls_link_flush(), which hands them to the
 * stream; the caller closes on its error.
 */
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "stream.h"

struct tls_link {
	WOLFSSL *ssl;	   /**< owned */
	struct stream *st; /**< borrowed: the stream below, embedded beside this */
};

/** What a tls_link_read() found. */
enum tls_link_rd {
	TLS_LINK_DATA,	 /**< plaintext bytes were read */
	TLS_LINK_WANT,	 /**< nothing complete: more ciphertext is needed */
	TLS_LINK_CLOSED, /**< the peer's close_notify (RFC 8446 §6.1) */
	TLS_LINK_ERROR,	 /**< a TLS error: the connection is broken (*err says which) */
};

/**
 * Make the WOLFSSL object of @l from @ctx over @st; @app is what wolfSSL_get_app_data() gives
 * the verify and session callbacks (the DoT connection). 0 or -ENOMEM.
 */
int tls_link_init(struct tls_link *l, WOLFSSL_CTX *ctx, struct stream *st, void *app);

/** Free the WOLFSSL object (after the stream's handles are closed). */
void tls_link_free(struct tls_link *l);

/**
 * Go on with the handshake on what has arrived: 1 when it is done, 0 when it waits for the
 * peer, or -1 on a failure (*err gets wolfSSL's error, for logs). Call tls_link_flush() after.
 */
int tls_link_handshake(struct tls_link *l, int *err);

/** Encrypt @len bytes as one record; 0, or -EIO (*err gets wolfSSL's error). */
int tls_link_write(struct tls_link *l, const void *buf, size_t len, int *err);

/** Decrypt into @buf (@room bytes); *n gets the bytes on TLS_LINK_DATA, *err on an error. */
enum tls_link_rd tls_link_read(struct tls_link *l, void *buf, size_t room, size_t *n, int *err);

/** Queue the close_notify (RFC 8446 §6.1); the stream's shutdown sends it. */
void tls_link_shutdown(struct tls_link *l);

/** Hand what wolfSSL wrote to the stream: 0 or the stream's error. */
int tls_link_flush(struct tls_link *l);

/** The text of wolfSSL error @err, for logs. */
const char *tls_link_strerror(int err);
