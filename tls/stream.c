/*
 * stream: one TCP socket under libuv for the layers above it (stream.h): connect, a receive
 * buffer read into without an allocation per read, writes tried on the kernel first and queued
 * in one request otherwise, the write and close deadlines, and the local address.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"

struct stream_write {
	uv_write_t req;
	struct stream *s;
	size_t len;
	uint8_t *buf; /**< owned: freed in on_write */
};

static void stream_timer_update(struct stream *s);

static void on_handle_closed(uv_handle_t *h)
{
	struct stream *s = h->data;

	if (--s->handles_open > 0) {
		return;
	}
	REQUIRE(s->writes_pending == 0);
	free(s->rx);
	free(s->tx);
	s->rx = s->tx = NULL;
	s->ops->on_closed(s);
}

void stream_close(struct stream *s)
{
	if (uv_is_closing((uv_handle_t *)&s->tcp)) {
		return;
	}
	s->closing = true;
	s->reading = false;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t)
{
	struct stream *s = t->data;

	if (uv_is_closing((uv_handle_t *)&s->tcp)) {
		return;
	}
	if (s->closing) {
		/* A peer that stopped reading never lets the close out: do not hold the fd. */
		stream_close(s);
		return;
	}
	if (s->connect_error != 0) {
		s->ops->on_connect(s, s->connect_error);
		return;
	}
	if (s->writes_pending > 0) {
		s->ops->on_error(s, UV_ETIMEDOUT);
	}
}

/* While libuv holds a write, time it: a peer that takes nothing for so long is gone. */
static void stream_timer_update(struct stream *s)
{
	if (s->closing || s->write_timeout_ms == 0) {
		return;
	}
	if (s->writes_pending == 0) {
		uv_timer_stop(&s->timer);
		return;
	}
	if (!uv_is_active((uv_handle_t *)&s->timer)) {
		uv_timer_start(&s->timer, on_timer, s->write_timeout_ms, 0);
	}
}

static void on_write(uv_write_t *req, int status)
{
	struct stream_write *w = req->data;
	struct stream *s = w->s;

	s->bytes_pending -= w->len;
	s->writes_pending--;
	free(w->buf);
	free(w);
	if (status != 0 && !s->closing) {
		s->ops->on_error(s, status);
		return;
	}
	/* The deadline runs from the oldest write still pending: restart it for the next. */
	uv_timer_stop(&s->timer);
	stream_timer_update(s);
}

int stream_append(struct stream *s, const void *buf, size_t len)
{
	if (s->tx_cap - s->tx_len < len) {
		size_t cap = s->tx_cap ? s->tx_cap : 4096;
		uint8_t *p;

		while (cap - s->tx_len < len) {
			cap *= 2;
		}
		p = realloc(s->tx, cap);
		if (!p) {
			return -ENOMEM;
		}
		s->tx = p;
		s->tx_cap = cap;
	}
	memcpy(s->tx + s->tx_len, buf, len);
	s->tx_len += len;
	return 0;
}

int stream_flush(struct stream *s)
{
	struct stream_write *w;
	uv_buf_t b;
	size_t off = 0;
	int ret;

	if (s->tx_len == 0 || uv_is_closing((uv_handle_t *)&s->tcp)) {
		return 0;
	}
	if (s->writes_pending == 0) {
		/* Nothing queued in libuv: try the kernel directly, and skip the request. */
		b = uv_buf_init((char *)s->tx, (unsigned)s->tx_len);
		ret = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
		if (ret > 0) {
			off = (size_t)ret;
		} else if (ret != UV_EAGAIN) {
			return ret;
		}
		if (off == s->tx_len) {
			s->tx_len = 0;
			return 0;
		}
	}
	/* The rest goes in a request that takes the buffer over until on_write. */
	w = malloc(sizeof(*w));
	if (!w) {
		return UV_ENOMEM;
	}
	if (off > 0) {
		memmove(s->tx, s->tx + off, s->tx_len - off);
	}
	w->s = s;
	w->buf = s->tx;
	w->len = s->tx_len - off;
	w->req.data = w;
	b = uv_buf_init((char *)w->buf, (unsigned)w->len);
	ret = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_write);
	if (ret != 0) {
		free(w);
		return ret;
	}
	s->tx = NULL;
	s->tx_len = s->tx_cap = 0;
	s->writes_pending++;
	s->bytes_pending += w->len;
	stream_timer_update(s);
	return 0;
}

/* The why is in stream.h. TCP_QUICKACK is not permanent (tcp(7)): it is asked for each time. */
void stream_ack_now(struct stream *s)
{
#ifdef TCP_QUICKACK
	int fd, one = 1;

	if (s->connected && uv_fileno((uv_handle_t *)&s->tcp, &fd) == 0) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
#else
	(void)s;
#endif
}

size_t stream_rx_avail(const struct stream *s)
{
	return s->rx_len - s->rx_head;
}

size_t stream_take(struct stream *s, void *buf, size_t n)
{
	size_t avail = s->rx_len - s->rx_head;

	n = n < avail ? n : avail;
	memcpy(buf, s->rx + s->rx_head, n);
	s->rx_head += n;
	if (s->rx_head == s->rx_len) {
		s->rx_head = s->rx_len = 0;
	}
	return n;
}

bool stream_rx_stuck(const struct stream *s)
{
	return s->rx_len == s->rx_cap && s->rx_head == 0;
}

size_t stream_backlog(const struct stream *s)
{
	return s->bytes_pending + s->tx_len;
}

const struct sockaddr_storage *stream_local(struct stream *s)
{
	if (!s->has_local && !uv_is_closing((uv_handle_t *)&s->tcp)) {
		int len = sizeof(s->local);

		if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&s->local, &len) == 0 &&
		    s->local.ss_family != AF_UNSPEC) {
			s->has_local = true;
		}
	}
	return s->has_local ? &s->local : NULL;
}

bool stream_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family) {
		return false;
	}
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		/* A link-local address is one per interface: the scopes must agree when given. */
		return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
		       (x->sin6_scope_id == 0 || y->sin6_scope_id == 0 ||
			x->sin6_scope_id == y->sin6_scope_id);
	}
	return false;
}

bool stream_uses_local(struct stream *s, const struct sockaddr *addr)
{
	const struct sockaddr_storage *l = stream_local(s);

	return l && stream_same_ip((const struct sockaddr *)l, addr);
}

bool stream_path_moved(struct stream *s)
{
	const struct sockaddr_storage *l = stream_local(s);
	struct sockaddr_storage now;
	socklen_t len = sizeof(now);
	int fd, ret;

	if (!l) {
		return false;
	}
	fd = socket(s->peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return false;
	}
	ret = connect(fd, (const struct sockaddr *)&s->peer,
		      s->peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						    : sizeof(struct sockaddr_in));
	if (ret != 0) {
		ret = errno;
		close(fd);
		return ret == ENETUNREACH || ret == EHOSTUNREACH;
	}
	ret = getsockname(fd, (struct sockaddr *)&now, &len);
	close(fd);
	return ret == 0 &&
	       !stream_same_ip((const struct sockaddr *)&now, (const struct sockaddr *)l);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct stream *s = h->data;

	(void)suggested;
	/* Read into the free tail of rx: no allocation per read. */
	if (s->rx_len == s->rx_cap && s->rx_head > 0) {
		memmove(s->rx, s->rx + s->rx_head, s->rx_len - s->rx_head);
		s->rx_len -= s->rx_head;
		s->rx_head = 0;
	}
	*buf = uv_buf_init((char *)s->rx + s->rx_len, (unsigned)(s->rx_cap - s->rx_len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct stream *s = stream->data;

	(void)buf;
	if (s->closing || !s->reading) {
		return;
	}
	if (nread == 0) {
		return; /* EAGAIN */
	}
	if (nread < 0) {
		s->reading = false;
		uv_read_stop(stream);
		s->ops->on_eof(s, (int)nread);
		return;
	}
	s->rx_len += (size_t)nread;
	s->ops->on_data(s);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct stream *s = req->data;

	if (s->closing) {
		return; /* closed meanwhile; the handles are closing */
	}
	if (status == 0) {
		s->connected = true;
		stream_local(s);
		uv_tcp_nodelay(&s->tcp, 1);
		status = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
		s->reading = status == 0;
	}
	s->ops->on_connect(s, status);
}

int stream_open(struct stream *s, uv_loop_t *loop, const struct sockaddr *peer, size_t rx_cap,
		unsigned write_timeout_ms, const struct stream_ops *ops, void *owner)
{
	socklen_t len = peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						    : sizeof(struct sockaddr_in);
	int ret;

	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->owner = owner;
	s->loop = loop;
	s->write_timeout_ms = write_timeout_ms;
	memcpy(&s->peer, peer, len);
	s->rx_cap = rx_cap;
	s->rx = malloc(rx_cap);
	if (!s->rx) {
		return -ENOMEM;
	}
	ret = uv_tcp_init(loop, &s->tcp);
	if (ret != 0) {
		free(s->rx);
		s->rx = NULL;
		return ret;
	}
	/* From here on the stream ends by closing its handles. */
	s->tcp.data = s;
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	s->handles_open = 2;
	s->connect_req.data = s;
	ret = uv_tcp_connect(&s->connect_req, &s->tcp, (const struct sockaddr *)&s->peer,
			     on_connect);
	if (ret != 0) {
		/*
		 * No route, no address of the family (a link down, an address removed): the
		 * failure is the connect's, and comes as on_connect, from the loop.
		 */
		s->connect_error = ret;
		uv_timer_start(&s->timer, on_timer, 0, 0);
	}
	return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct stream *s = req->data;

	(void)status;
	if (!uv_is_closing((uv_handle_t *)&s->tcp)) {
		uv_timer_stop(&s->timer);
		uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
		uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	}
}

void stream_shutdown(struct stream *s)
{
	if (s->closing) {
		return;
	}
	if (!s->connected || stream_flush(s) != 0) {
		stream_close(s);
		return;
	}
	s->closing = true;
	s->reading = false;
	uv_read_stop((uv_stream_t *)&s->tcp);
	uv_timer_start(&s->timer, on_timer, STREAM_CLOSE_MS, 0);
	s->shutdown_req.data = s;
	if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown) != 0) {
		stream_close(s);
	}
}
