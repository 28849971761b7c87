/*
 * listen: the client side. One UDP socket and one TCP listening socket per listen address;
 * client TCP connections carry 2-octet length-prefixed messages (RFC 7766 §8), several per
 * connection, answered in any order (§6.2.1.1).
 *
 * Lifetime of a client connection: it holds one reference for its open socket and one per
 * query in flight. Closing the socket (peer closed, idle, error, shutdown) drops the first in
 * the last close callback; the struct is freed when the count reaches zero, so an answer that
 * arrives after the client left finds it closed and is dropped (RFC 7766 §6.2.4).
 */
#include <stdlib.h>
#include <string.h>

#include "dns_frame.h"
#include "log.h"
#include "resolver.h"

#define CLIENT_TCP_IDLE_MS 10000 /* RFC 7766 §6.2.3: seconds; reset by complete messages only */
#define CLIENT_TCP_BACKLOG 128

struct listener {
	struct resolver *r;
	uv_udp_t udp;
	uv_tcp_t tcp;
	char *name; /**< owned */
	unsigned handles_open;
	struct client_tcp *clients; /**< open client connections (borrowed: they free themselves) */
	struct listener *next;
};

struct client_tcp {
	uv_tcp_t tcp;
	uv_timer_t idle;
	struct listener *l;	/**< borrowed; NULL once the listener is gone */
	struct dns_frame frame; /**< owned */
	unsigned refs;		/**< 1 while handles are open, +1 per query in flight */
	unsigned handles_open;
	bool closing;
	struct client_tcp *prev, *next; /**< in the listener's list while open */
};

struct tcp_write {
	uv_write_t req;
	struct client_tcp *c; /**< referenced until on_tcp_write */
	uint8_t data[];
};

struct udp_send {
	uv_udp_send_t req;
	uint8_t data[];
};

/* One receive buffer for every UDP socket: libuv does not keep it past the callback. */
static uint8_t udp_buf[DNS_MAX_MSG];

/* --- client TCP connections --- */

void client_tcp_ref(struct client_tcp *c)
{
	c->refs++;
}

void client_tcp_unref(struct client_tcp *c)
{
	REQUIRE(c->refs > 0);
	if (--c->refs == 0) {
		dns_frame_free(&c->frame);
		free(c);
	}
}

static void on_client_closed(uv_handle_t *h)
{
	struct client_tcp *c = h->data;

	if (--c->handles_open == 0) {
		client_tcp_unref(c);
	}
}

static void client_tcp_close(struct client_tcp *c)
{
	if (c->closing) {
		return;
	}
	c->closing = true;
	if (c->l) {
		if (c->prev) {
			c->prev->next = c->next;
		} else {
			c->l->clients = c->next;
		}
		if (c->next) {
			c->next->prev = c->prev;
		}
		c->l = NULL;
	}
	uv_close((uv_handle_t *)&c->tcp, on_client_closed);
	uv_close((uv_handle_t *)&c->idle, on_client_closed);
}

static void on_client_idle(uv_timer_t *t)
{
	struct client_tcp *c = t->data;

	log_debug(LOG_NET, "client TCP connection idle, closing");
	client_tcp_close(c);
}

static void on_tcp_write(uv_write_t *req, int status)
{
	struct tcp_write *w = req->data;

	if (status != 0 && status != UV_ECANCELED) {
		client_tcp_close(w->c);
	}
	client_tcp_unref(w->c);
	free(w);
}

void client_tcp_send(struct client_tcp *c, const uint8_t *frame, size_t len)
{
	struct tcp_write *w;
	uv_buf_t b;
	int ret;

	if (c->closing) {
		return; /* the client has gone: its answer is dropped (RFC 7766 §6.2.4) */
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
		b = uv_buf_init((char *)frame, (unsigned)len);
		ret = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (ret == (int)len) {
			return;
		}
		if (ret < 0 && ret != UV_EAGAIN) {
			client_tcp_close(c);
			return;
		}
		if (ret > 0) {
			frame += ret;
			len -= (size_t)ret;
		}
	}
	w = malloc(sizeof(*w) + len);
	if (!w) {
		client_tcp_close(c);
		return;
	}
	memcpy(w->data, frame, len);
	w->c = c;
	w->req.data = w;
	client_tcp_ref(c);
	b = uv_buf_init((char *)w->data, (unsigned)len);
	ret = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_tcp_write);
	if (ret != 0) {
		client_tcp_unref(c);
		free(w);
		client_tcp_close(c);
	}
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct client_tcp *c = h->data;
	uint8_t *space;
	size_t n;

	(void)suggested;
	if (dns_frame_space(&c->frame, 4096, &space, &n) != 0) {
		*buf = uv_buf_init(NULL, 0); /* libuv then reports UV_ENOBUFS */
		return;
	}
	*buf = uv_buf_init((char *)space, (unsigned)n);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client_tcp *c = s->data;
	struct query_origin from = {.tcp = c};
	const uint8_t *msg;
	size_t len;
	int ret;

	(void)buf;
	if (c->closing || nread == 0) {
		return;
	}
	if (nread < 0) {
		if (nread != UV_EOF) {
			log_debug(LOG_NET, "client TCP read failed: %s", uv_strerror((int)nread));
		}
		client_tcp_close(c);
		return;
	}
	dns_frame_commit(&c->frame, (size_t)nread);
	while (!c->closing && c->l && (ret = dns_frame_next(&c->frame, &msg, &len)) != 0) {
		if (ret < 0) {
			log_debug(LOG_NET, "client TCP sent a zero-length message, closing");
			client_tcp_close(c);
			return;
		}
		/* A complete message: the connection is alive (slow readers do not count). */
		uv_timer_again(&c->idle);
		query_receive(c->l->r, &from, msg, len);
	}
}

static void on_tcp_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct client_tcp *c;

	if (status != 0) {
		log_warn(LOG_NET, "listener '%s': accept failed: %s", l->name, uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return;
	}
	dns_frame_init(&c->frame);
	uv_tcp_init(l->r->loop, &c->tcp);
	uv_timer_init(l->r->loop, &c->idle);
	c->tcp.data = c;
	c->idle.data = c;
	c->handles_open = 2;
	c->refs = 1;
	c->l = l;
	c->next = l->clients;
	if (c->next) {
		c->next->prev = c;
	}
	l->clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read) != 0) {
		client_tcp_close(c);
		return;
	}
	l->r->stats.tcp_clients++;
	uv_timer_start(&c->idle, on_client_idle, CLIENT_TCP_IDLE_MS, CLIENT_TCP_IDLE_MS);
}

/* --- UDP --- */

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	*buf = uv_buf_init((char *)udp_buf, sizeof(udp_buf));
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *peer, unsigned flags)
{
	struct listener *l = h->data;
	struct query_origin from = {.udp = l, .peer = peer};

	if (nread <= 0 || !peer) {
		return; /* nothing, or an error on a datagram socket: nothing to recover */
	}
	if (flags & UV_UDP_PARTIAL) {
		return; /* larger than any DNS message */
	}
	query_receive(l->r, &from, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req->data);
}

void listener_udp_send(struct listener *l, const struct sockaddr *peer, const uint8_t *msg,
		       size_t len)
{
	uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
	struct udp_send *s;
	int ret;

	ret = uv_udp_try_send(&l->udp, &b, 1, peer);
	if (ret != UV_EAGAIN) {
		return; /* sent, or lost as datagrams may be */
	}
	s = malloc(sizeof(*s) + len);
	if (!s) {
		return;
	}
	memcpy(s->data, msg, len);
	s->req.data = s;
	b = uv_buf_init((char *)s->data, (unsigned)len);
	if (uv_udp_send(&s->req, &l->udp, &b, 1, peer, on_udp_sent) != 0) {
		free(s);
	}
}

/* --- listeners --- */

static void on_listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	if (--l->handles_open == 0) {
		free(l->name);
		free(l);
	}
}

int listener_open(struct resolver *r, const struct config_listen *addr)
{
	const struct sockaddr *sa = (const struct sockaddr *)&addr->addr;
	unsigned flags = sa->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
	struct listener *l;
	int ret;

	l = calloc(1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	l->r = r;
	l->name = strdup(addr->name);
	uv_udp_init(r->loop, &l->udp);
	uv_tcp_init(r->loop, &l->tcp);
	l->udp.data = l;
	l->tcp.data = l;
	l->handles_open = 2;
	l->next = r->listeners;
	r->listeners = l;
	if (!l->name) {
		return -ENOMEM;
	}
	ret = uv_udp_bind(&l->udp, sa, flags);
	if (ret == UV_EADDRNOTAVAIL || ret == UV_EAFNOSUPPORT) {
		return ret; /* the caller decides: a host without this address */
	}
	if (ret != 0) {
		log_err(LOG_NET, "cannot bind UDP '%s': %s", addr->name, uv_strerror(ret));
		return ret;
	}
	ret = uv_tcp_bind(&l->tcp, sa, flags ? UV_TCP_IPV6ONLY : 0);
	if (ret == 0) {
		ret = uv_listen((uv_stream_t *)&l->tcp, CLIENT_TCP_BACKLOG, on_tcp_connection);
	}
	if (ret != 0) {
		log_err(LOG_NET, "cannot listen on TCP '%s': %s", addr->name, uv_strerror(ret));
		return ret;
	}
	ret = uv_udp_recv_start(&l->udp, on_udp_alloc, on_udp_recv);
	if (ret != 0) {
		log_err(LOG_NET, "cannot receive on UDP '%s': %s", addr->name, uv_strerror(ret));
		return ret;
	}
	log_notice(LOG_NET, "listening on '%s' (UDP and TCP)", addr->name);
	return 0;
}

void listener_close_all(struct resolver *r)
{
	while (r->listeners) {
		struct listener *l = r->listeners;

		r->listeners = l->next;
		while (l->clients) {
			client_tcp_close(l->clients);
		}
		uv_close((uv_handle_t *)&l->udp, on_listener_closed);
		uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
	}
}
