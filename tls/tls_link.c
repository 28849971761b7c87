/*
 * tls_link: wolfSSL over a stream, in memory (tls_link.h). The two I/O callbacks are set on the
 * shared context (tls_ctx.c); their context is the tls_link of the connection.
 */
#include <string.h>

#include "tls_link.h"

int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_link *l = arg;
	size_t n;

	(void)ssl;
	n = stream_take(l->st, buf, (size_t)sz);
	if (n == 0) {
		if (l->st->closing || !l->st->reading) {
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		}
		return WOLFSSL_CBIO_ERR_WANT_READ; /* "no data yet", not an error */
	}
	return (int)n;
}

int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_link *l = arg;

	(void)ssl;
	/* Always accept and copy: backpressure belongs above TLS (never return WANT_WRITE). */
	if (stream_append(l->st, buf, (size_t)sz) != 0) {
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
	return sz;
}

int tls_link_init(struct tls_link *l, WOLFSSL_CTX *ctx, struct stream *st, void *app)
{
	l->st = st;
	l->ssl = wolfSSL_new(ctx);
	if (!l->ssl) {
		return -ENOMEM;
	}
	wolfSSL_SetIOReadCtx(l->ssl, l);
	wolfSSL_SetIOWriteCtx(l->ssl, l);
	wolfSSL_set_app_data(l->ssl, app);
	return 0;
}

void tls_link_free(struct tls_link *l)
{
	if (l->ssl) {
		wolfSSL_free(l->ssl);
		l->ssl = NULL;
	}
}

int tls_link_handshake(struct tls_link *l, int *err)
{
	int ret = wolfSSL_connect(l->ssl);

	if (ret == WOLFSSL_SUCCESS) {
		return 1;
	}
	ret = wolfSSL_get_error(l->ssl, ret);
	if (ret == WOLFSSL_ERROR_WANT_READ) {
		return 0;
	}
	*err = ret;
	return -1;
}

int tls_link_write(struct tls_link *l, const void *buf, size_t len, int *err)
{
	int ret = wolfSSL_write(l->ssl, buf, (int)len);

	if (ret != (int)len) {
		*err = wolfSSL_get_error(l->ssl, ret);
		return -EIO;
	}
	return 0;
}

enum tls_link_rd tls_link_read(struct tls_link *l, void *buf, size_t room, size_t *n, int *err)
{
	int ret = wolfSSL_read(l->ssl, buf, room > INT32_MAX ? INT32_MAX : (int)room);

	if (ret > 0) {
		*n = (size_t)ret;
		return TLS_LINK_DATA;
	}
	ret = wolfSSL_get_error(l->ssl, ret);
	if (ret == WOLFSSL_ERROR_WANT_READ) {
		return TLS_LINK_WANT;
	}
	if (ret == WOLFSSL_ERROR_ZERO_RETURN) {
		return TLS_LINK_CLOSED;
	}
	*err = ret;
	return TLS_LINK_ERROR;
}

void tls_link_shutdown(struct tls_link *l)
{
	wolfSSL_shutdown(l->ssl);
}

int tls_link_flush(struct tls_link *l)
{
	return stream_flush(l->st);
}

const char *tls_link_strerror(int err)
{
	return wolfSSL_ERR_reason_error_string((unsigned long)err);
}
