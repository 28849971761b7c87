/*
 * listen: the client side. One UDP socket and one TCP listening socket per listen address;
 * client TCP connections carry 2-octet length-prefixed messages (RFC 7766 §8), several per
 * connection, answered in any order (§6.2.1.1).
 *
 * Each UDP listener and each client TCP connection is an origin (origin.h): it hands its
 * messages to query_receive() and implements the operations the query pipeline answers
 * through (reply, hold, release). The client limits are kept here, in those operations.
 *
 * Limits (RFC 7766 §10, rfc-checklist T4, T6, F6; docs/CONFIG.md):
 *   - tcp_clients_max connections: when full, a new one closes the least recently active
 *     (preferring one with nothing in flight);
 *   - tcp_queries_per_client and queries_max: a client over its share stops being read until
 *     its queries come back (TCP pushes back);
 *   - udp_queries_per_source and queries_max: the UDP origin's hold refuses a query over its
 *     source address's share or over the total, and query.c drops it (the client retries);
 *   - tcp_messages_per_read: a read callback handles that many messages, and the rest waits
 *     for the next loop iteration (uv_idle), so one busy client cannot starve the others;
 *   - tcp_buffer_max: a client that does not read its answers is closed; the kernel's send
 *     buffer of a client connection is set to it as well;
 *   - tcp_idle_timeout: measured from the last *complete* message, so a client that drips a
 *     byte at a time is closed too.
 *
 * Lifetime of a client connection: it holds one reference for its open handles, one per query
 * in flight (the origin's hold) and one per pending write. Closing (idle, error, limit,
 * shutdown, or the peer's FIN once its answers are out: client_tcp_finish) drops the first in
 * the last close callback; the struct is freed when the count reaches zero, so an answer that
 * arrives after the client left finds it closed and is dropped (§6.2.4). A listener likewise
 * holds one reference per open handle and one per UDP query in flight.
 *
 * UDP is batched, as the hit path is mostly system calls (docs/BENCHMARKS.md, the profile): a
 * socket is read with recvmmsg (our own, on a second descriptor: up to 32 datagrams a call, into
 * r->udp_in), and answers are queued in r->udp_out and sent with one sendmmsg per socket:
 * once the loop has run the callbacks of what it polled (r->udp_flush, a uv_check: a socket is
 * read in up to UDP_IN_ROUNDS batches per wake-up, and their answers leave together), before it
 * next waits (r->udp_flush_late, a uv_prepare: answers made by timers), and when the queue is full
 * or the next answer leaves by another socket. A queued answer holds its listener.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dns_frame.h"
#include "listen.h"
#include "log.h"
#include "origin.h"
#include "resolver.h"
#include "steer.h"

#define CLIENT_TCP_BACKLOG 128
#define SOURCE_BUCKETS	   1024 /* power of two */

/*
 * One listen address. Freed when its handles have closed and no UDP query holds it any
 * more (a reload may close it while answers are still to be sent from its socket: those are
 * dropped, and the client asks again on the address it now uses).
 */
struct listener {
	struct origin origin; /**< the UDP socket's, for query.c */
	struct resolver *r;   /**< borrowed */
	uv_udp_t udp;	  /**< binds the socket and sends; libuv queues what the socket refuses */
	uv_poll_t udp_rx; /**< reads the socket, on rx_fd */
	int rx_fd; /**< owned: a dup() of the UDP socket, closed with udp_rx (listener_close) */
	uv_tcp_t tcp;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *name;    /**< owned */
	unsigned refs; /**< one per open handle, one per UDP query holding it (origin_hold) */
	bool closing;
	struct listener *next;
};

struct client_tcp {
	struct origin origin; /**< for query.c */
	uv_tcp_t tcp;
	uv_timer_t idle;
	struct resolver *r; /**< borrowed */
	struct sockaddr_storage peer;
	struct dns_frame frame; /**< owned */
	unsigned refs;		/**< handles open, queries in flight, pending writes */
	unsigned handles_open;
	unsigned in_flight; /**< its queries waiting for an upstream (origin holds) */
	bool closing;
	bool reading;		  /**< uv_read_start is in effect */
	bool read_closed;	  /**< the client sent its FIN: answer, then close */
	bool queued;		  /**< in r->tcp_ready or r->tcp_paused */
	struct dl_node lru;	  /**< in r->tcp_clients */
	struct client_tcp *qnext; /**< in r->tcp_ready or r->tcp_paused */
	struct tcp_cork *cork;	  /**< borrowed, or NULL: set only within client_tcp_work */
};

/*
 * The answers made while one client's messages are handled (cache hits, refusals), gathered
 * into one write: the connection has TCP_NODELAY, and without this each answer would leave as
 * a segment of its own (client_tcp_work). On client_tcp_work's stack.
 */
#define TCP_CORK_MAX (8 * 1024)
struct tcp_cork {
	size_t len;
	uint8_t data[TCP_CORK_MAX];
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

/** Queries in flight from one UDP source address (rfc-checklist F6, DNSBomb), in r->sources. */
struct udp_source {
	struct udp_source *next;
	int family;
	uint8_t addr[16];
	unsigned n;
};

/* Bytes of answers queued on one UDP socket after EAGAIN: about 200 answers of 1232 octets. */
#define UDP_QUEUE_MAX (256 * 1024)

/*
 * The receive buffer: slots of 64 KiB (any datagram fits), read by one recvmmsg. Only the pages
 * written are resident: the first of each slot used.
 */
#define UDP_IN_SLOT   (64 * 1024)
#define UDP_IN_SLOTS  32
#define UDP_IN_ROUNDS 2	 /* full batches read per wake-up, before the loop's other sockets */
#define UDP_OUT_MAX   32 /* answers per sendmmsg */

/* The datagrams of one recvmmsg (r->udp_in); their headers point into it for good. */
struct udp_in {
	unsigned used; /**< headers recvmmsg returned, whose msg_namelen it overwrote */
	struct mmsghdr msgs[UDP_IN_SLOTS];
	struct iovec iov[UDP_IN_SLOTS];
	struct sockaddr_storage peers[UDP_IN_SLOTS];
	uint8_t data[UDP_IN_SLOTS][UDP_IN_SLOT];
};

/* The answers waiting to leave by one UDP socket (r->udp_out). */
struct udp_out {
	struct listener *l; /**< referenced while n > 0: the socket they leave by */
	unsigned n;
	struct mmsghdr msgs[UDP_OUT_MAX];
	struct iovec iov[UDP_OUT_MAX];
	struct sockaddr_storage peers[UDP_OUT_MAX];
	uint8_t data[UDP_OUT_MAX][DNS_MSG_UDP_MAX];
};

static void client_tcp_work(struct client_tcp *c);

/* --- the resolver's lists of clients --- */

/* @c was active: it moves to the tail of r->tcp_clients (its time is only for the order). */
static void lru_touch(struct client_tcp *c)
{
	dl_append(&c->r->tcp_clients, &c->lru, 0);
}

/* Remove @c from the ready or paused list it is on. */
static void queue_remove(struct client_tcp *c)
{
	struct resolver *r = c->r;
	struct client_tcp **lists[] = {&r->tcp_ready, &r->tcp_paused};

	if (!c->queued) {
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		for (struct client_tcp **pp = lists[i]; *pp; pp = &(*pp)->qnext) {
			if (*pp == c) {
				*pp = c->qnext;
				c->qnext = NULL;
				c->queued = false;
				return;
			}
		}
	}
}

static void on_tcp_work(uv_idle_t *h);

static void queue_ready(struct client_tcp *c)
{
	struct resolver *r = c->r;

	queue_remove(c);
	c->qnext = r->tcp_ready;
	r->tcp_ready = c;
	c->queued = true;
	uv_idle_start(&r->tcp_work, on_tcp_work);
}

static void queue_paused(struct client_tcp *c)
{
	struct resolver *r = c->r;

	queue_remove(c);
	c->qnext = r->tcp_paused;
	r->tcp_paused = c;
	c->queued = true;
}

/* --- client TCP connections --- */

static void client_tcp_ref(struct client_tcp *c)
{
	c->refs++;
}

static void client_tcp_unref(struct client_tcp *c)
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

/* Whether answers to @c wait unsent: in libuv's queue, or in the kernel's send buffer. */
static bool client_tcp_unsent(const struct client_tcp *c)
{
	uv_os_fd_t fd;
	int n = 0;

	if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > 0) {
		return true;
	}
	if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0) {
		return false;
	}
	return ioctl(fd, SIOCOUTQNSD, &n) == 0 && n > 0;
}

/*
 * Close @c (idle, over a limit, an error, shutdown, or its half-close done: client_tcp_finish).
 * Answers that wait unsent are abandoned with a reset: with a FIN behind them, Linux keeps them
 * in an orphaned socket (FIN-WAIT-1, or LAST-ACK after the client's FIN) for as long as a client
 * that does not read answers its zero-window probes (measured: still there 290 s after), kernel
 * memory that no limit of ours counts (tests/integration/load.sh, dotd-probe fill).
 */
static void client_tcp_close(struct client_tcp *c)
{
	if (c->closing) {
		return;
	}
	c->closing = true;
	c->r->n_tcp_clients--;
	dl_remove(&c->r->tcp_clients, &c->lru);
	queue_remove(c);
	if (!client_tcp_unsent(c) || uv_tcp_close_reset(&c->tcp, on_client_closed) != 0) {
		uv_close((uv_handle_t *)&c->tcp, on_client_closed);
	}
	uv_close((uv_handle_t *)&c->idle, on_client_closed);
}

/*
 * A client that sent its FIN after its queries (a half-close: it may still receive, RFC 9293
 * §3.6) is closed, with our FIN, once it has all its answers: none in flight, none waiting to be
 * handled, none unsent (libuv's queue, the kernel's). Called wherever one of those ends; the
 * kernel's sending has no event, so one that waits there is left to the idle timer, which
 * resets it if they are still unsent then (a client that half-closes and does not read).
 * Before, it was closed at its FIN and the answers of its misses were lost.
 */
static void client_tcp_finish(struct client_tcp *c)
{
	if (c->read_closed && !c->closing && c->in_flight == 0 && !c->queued && !c->cork &&
	    !client_tcp_unsent(c)) {
		client_tcp_close(c);
	}
}

static void on_client_idle(uv_timer_t *t)
{
	struct client_tcp *c = t->data;

	log_debug(LOG_NET, "client TCP connection idle, closing");
	c->r->stats.tcp_idle_closed++;
	client_tcp_close(c);
}

static void on_tcp_write(uv_write_t *req, int status)
{
	struct tcp_write *w = req->data;

	if (status != 0 && status != UV_ECANCELED) {
		client_tcp_close(w->c);
	} else if (status == 0) {
		client_tcp_finish(w->c);
	}
	client_tcp_unref(w->c);
	free(w);
}

/* Write @len bytes of @frame to @c now, or queue them, if still open. */
static void client_tcp_write(struct client_tcp *c, const uint8_t *frame, size_t len)
{
	size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
	struct tcp_write *w;
	uv_buf_t b;
	int ret;

	if (c->closing) {
		return; /* the client has gone: its answer is dropped (RFC 7766 §6.2.4) */
	}
	if (queued == 0) {
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
	} else if (queued + len > c->r->cfg->tcp_buffer_max) {
		/* It sends queries and does not read the answers: memory is bounded per client. */
		log_debug(LOG_NET, "client TCP connection does not read its answers, closing");
		c->r->stats.tcp_overflow_closed++;
		client_tcp_close(c);
		return;
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

/* Write what @c's cork gathered. */
static void client_tcp_uncork(struct client_tcp *c)
{
	struct tcp_cork *k = c->cork;

	if (k->len > 0) {
		client_tcp_write(c, k->data, k->len);
		k->len = 0;
	}
}

/* Send @len bytes of @frame (starting with its 2-octet prefix) to @c, if still open. */
static void client_tcp_send(struct client_tcp *c, const uint8_t *frame, size_t len)
{
	struct tcp_cork *k = c->cork;

	if (!k) {
		client_tcp_write(c, frame, len);
		return;
	}
	if (len > TCP_CORK_MAX - k->len) {
		client_tcp_uncork(c);
	}
	if (len > TCP_CORK_MAX) {
		client_tcp_write(c, frame, len);
		return;
	}
	memcpy(k->data + k->len, frame, len);
	k->len += len;
}

/* Whether @c may send another query now: its share and the total are not used up. */
static bool client_tcp_may_query(const struct client_tcp *c)
{
	const struct resolver *r = c->r;

	return c->in_flight < r->cfg->tcp_queries_per_client && r->n_waiters < r->cfg->queries_max;
}

static void client_tcp_read_stop(struct client_tcp *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void client_tcp_read_start(struct client_tcp *c)
{
	if (!c->reading && !c->closing && !c->read_closed &&
	    uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read) == 0) {
		c->reading = true;
	}
}

/*
 * Handle the complete messages @c has sent, up to tcp_messages_per_read, while it may query.
 * What remains waits: for the next loop iteration (ready), or until its queries come back
 * (paused); reading stops meanwhile, so TCP pushes back on the client.
 */
static void client_tcp_handle(struct client_tcp *c)
{
	struct resolver *r = c->r;
	struct query_client from = {.origin = &c->origin,
				    .peer = (const struct sockaddr *)&c->peer};
	unsigned handled = 0;

	while (!c->closing) {
		const uint8_t *msg;
		size_t len;
		int ret;

		if (!client_tcp_may_query(c)) {
			client_tcp_read_stop(c);
			queue_paused(c);
			r->stats.tcp_paused++;
			return;
		}
		if (handled == r->cfg->tcp_messages_per_read) {
			client_tcp_read_stop(c);
			queue_ready(c);
			return;
		}
		ret = dns_frame_next(&c->frame, &msg, &len);
		if (ret == 0) {
			break;
		}
		if (ret < 0) {
			log_debug(LOG_NET, "client TCP sent a zero-length message, closing");
			client_tcp_close(c);
			return;
		}
		handled++;
		/* A complete message: the connection is alive (slow drips do not count). */
		uv_timer_again(&c->idle);
		lru_touch(c);
		from.received = uv_hrtime();
		query_receive(r, &from, msg, len);
	}
	queue_remove(c);
	client_tcp_read_start(c);
}

/* Handle @c's messages (client_tcp_handle); the answers made meanwhile leave in one write. */
static void client_tcp_work(struct client_tcp *c)
{
	struct tcp_cork cork; /* not zeroed: 8 KiB */

	REQUIRE(!c->cork);
	cork.len = 0;
	c->cork = &cork;
	client_tcp_handle(c);
	client_tcp_uncork(c);
	c->cork = NULL;
	client_tcp_finish(c);
}

/* Queries came back: paused clients whose share allows it go on. */
static void clients_resume(struct resolver *r)
{
	struct client_tcp **pp = &r->tcp_paused;

	while (*pp && r->n_waiters < r->cfg->queries_max) {
		struct client_tcp *c = *pp;

		if (client_tcp_may_query(c)) {
			queue_ready(c); /* unlinks it from the paused list */
			continue;
		}
		pp = &c->qnext;
	}
}

/* --- a client TCP connection as an origin --- */

static void client_tcp_reply(struct origin *o, const struct sockaddr *peer, uint8_t *buf,
			     size_t len)
{
	(void)peer;
	dns_put16(buf, (uint16_t)len);
	client_tcp_send(ORIGIN_ENTRY(o, struct client_tcp, origin), buf, 2 + len);
}

static size_t client_tcp_answer_max(const struct origin *o, const struct dns_client_query *cq)
{
	(void)o;
	(void)cq;
	return DNS_MAX_MSG;
}

/* Never refused: a client over its share is not read (client_tcp_may_query) until it may. */
static int client_tcp_hold(struct origin *o, const struct sockaddr *peer)
{
	struct client_tcp *c = ORIGIN_ENTRY(o, struct client_tcp, origin);

	(void)peer;
	c->r->n_waiters++;
	client_tcp_ref(c);
	c->in_flight++;
	return 0;
}

static void client_tcp_release(struct origin *o, const struct sockaddr *peer)
{
	struct client_tcp *c = ORIGIN_ENTRY(o, struct client_tcp, origin);
	struct resolver *r = c->r;

	(void)peer;
	REQUIRE(c->in_flight > 0);
	c->in_flight--;
	client_tcp_finish(c);
	client_tcp_unref(c); /* may free it */
	r->n_waiters--;
	clients_resume(r);
}

static const struct origin_ops client_tcp_origin_ops = {
	.transport = ORIGIN_TCP,
	.reply = client_tcp_reply,
	.answer_max = client_tcp_answer_max,
	.hold = client_tcp_hold,
	.release = client_tcp_release,
};

static void on_tcp_work(uv_idle_t *h)
{
	struct resolver *r = h->data;
	struct client_tcp *list = r->tcp_ready;

	r->tcp_ready = NULL;
	/* Held while the list is walked: a client's work may close another. */
	for (struct client_tcp *c = list; c; c = c->qnext) {
		c->queued = false;
		client_tcp_ref(c);
	}
	while (list) {
		struct client_tcp *c = list;

		list = c->qnext;
		c->qnext = NULL;
		client_tcp_work(c);
		client_tcp_unref(c);
	}
	if (!r->tcp_ready) {
		uv_idle_stop(&r->tcp_work);
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

	(void)buf;
	if (c->closing || nread == 0) {
		return;
	}
	if (nread == UV_EOF) {
		c->read_closed = true;
		client_tcp_read_stop(c);
		client_tcp_finish(c);
		return;
	}
	if (nread < 0) {
		log_debug(LOG_NET, "client TCP read failed: %s", uv_strerror((int)nread));
		client_tcp_close(c);
		return;
	}
	dns_frame_commit(&c->frame, (size_t)nread);
	client_tcp_work(c);
}

/* The least recently active client, one with nothing in flight if there is one. */
static struct client_tcp *oldest_idle(struct resolver *r)
{
	for (struct dl_node *n = r->tcp_clients.head; n; n = n->next) {
		struct client_tcp *c = DL_ENTRY(n, struct client_tcp, lru);

		if (c->in_flight == 0) {
			return c;
		}
	}
	return DL_ENTRY(r->tcp_clients.head, struct client_tcp, lru);
}

static void on_tcp_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct resolver *r = l->r;
	struct client_tcp *c;
	int len = sizeof(c->peer), sndbuf;

	if (status != 0) {
		log_warn(LOG_NET, "listener '%s': accept failed: %s", l->name, uv_strerror(status));
		return;
	}
	if (r->n_tcp_clients >= r->cfg->tcp_clients_max && r->tcp_clients.head) {
		/* Full (RFC 7766 §10): make room by closing the least recently active. */
		r->stats.tcp_evicted++;
		client_tcp_close(oldest_idle(r));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return;
	}
	c->origin.ops = &client_tcp_origin_ops;
	dns_frame_init(&c->frame);
	uv_tcp_init(r->loop, &c->tcp);
	uv_timer_init(r->loop, &c->idle);
	c->tcp.data = c;
	c->idle.data = c;
	c->handles_open = 2;
	c->refs = 1;
	c->r = r;
	r->n_tcp_clients++;
	lru_touch(c);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0) {
		client_tcp_close(c);
		return;
	}
	r->stats.tcp_clients++;
	/*
	 * Each write leaves at once. With Nagle's algorithm on, of two pipelined answers (RFC 7766
	 * §6.2.1.1) written apart (a cached one, then a miss's), the second waited for the
	 * client's ACK of the first, which Linux delays by 40 ms at least on a connection used
	 * both ways (tests/integration/run.sh, dotd-probe pair). The answers of one read still
	 * leave together: client_tcp_work gathers them (dotd-probe segs).
	 */
	uv_tcp_nodelay(&c->tcp, 1);
	/*
	 * tcp_buffer_max bounds the kernel's share too: left to itself, Linux grows the send
	 * buffer of a client that does not read to tcp_wmem's maximum (4 MiB measured) before our
	 * queue sees any of it (tests/integration/load.sh, dotd-probe fill).
	 */
	sndbuf = (int)r->cfg->tcp_buffer_max;
	uv_send_buffer_size((uv_handle_t *)&c->tcp, &sndbuf);
	client_tcp_read_start(c);
	uv_timer_start(&c->idle, on_client_idle, r->cfg->tcp_idle_timeout_ms,
		       r->cfg->tcp_idle_timeout_ms);
}

/* --- UDP --- */

static void udp_out_flush(struct resolver *r);
static void listener_ref(struct listener *l);
static void listener_unref(struct listener *l);

/*
 * The socket is readable: recvmmsg until a batch does not fill every slot (the queue was empty
 * then), or UDP_IN_ROUNDS full ones, so that a flood on one socket does not starve the others.
 * The poll is level-triggered: what is left, or came meanwhile, wakes the loop again at once.
 * libuv's own recvmmsg (UV_UDP_RECVMMSG) set up 20 headers and called back once per datagram
 * and once per batch: a quarter of the instructions of a cache hit (docs/BENCHMARKS.md).
 */
static void on_udp_readable(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	struct resolver *r = l->r;
	struct udp_in *in = r->udp_in;
	struct query_client from = {.origin = &l->origin};
	int n;

	(void)events;
	if (status < 0) {
		/*
		 * libuv stopped the poll (POLLERR: a pending socket error, which Linux does not
		 * set on an unconnected socket without IP_RECVERR). Should one come, clear it as
		 * a read would and poll on, as libuv's own UDP reading did.
		 */
		int err = 0;
		socklen_t sl = sizeof(err);

		getsockopt(l->rx_fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		log_debug(LOG_NET, "'%s': UDP socket error: %s", l->name, strerror(err));
		if (!l->closing) {
			uv_poll_start(h, UV_READABLE, on_udp_readable);
		}
		return;
	}
	for (unsigned round = 0; round < UDP_IN_ROUNDS && !l->closing; round++) {
		/* recvmmsg wrote the address lengths of the datagrams it returned last time. */
		for (unsigned i = 0; i < in->used; i++) {
			in->msgs[i].msg_hdr.msg_namelen = sizeof(in->peers[i]);
		}
		in->used = 0;
		n = recvmmsg(l->rx_fd, in->msgs, UDP_IN_SLOTS, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return; /* EAGAIN, or an error: nothing to recover on a datagram socket */
		}
		in->used = (unsigned)n;
		/* The datagrams of one batch were all there when it was read: one time for all. */
		from.received = uv_hrtime();
		for (int i = 0; i < n; i++) {
			const struct msghdr *m = &in->msgs[i].msg_hdr;

			if ((m->msg_flags & MSG_TRUNC) || m->msg_namelen == 0) {
				continue; /* larger than any DNS message, or from no address */
			}
			from.peer = (const struct sockaddr *)&in->peers[i];
			query_receive(r, &from, in->data[i], in->msgs[i].msg_len);
		}
		if (n < UDP_IN_SLOTS) {
			return;
		}
	}
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req->data);
}

/*
 * The socket's buffer is full: queue @msg in libuv, but only so much. Past that the answer is
 * dropped as the network would drop it, and the client asks again (RFC 1035 §4.2.1).
 */
static void listener_udp_queue(struct listener *l, const struct sockaddr *peer, const uint8_t *msg,
			       size_t len)
{
	struct udp_send *s;
	uv_buf_t b;

	if (uv_udp_get_send_queue_size(&l->udp) + len > UDP_QUEUE_MAX) {
		l->r->stats.udp_send_dropped++;
		return;
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

static socklen_t sockaddr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Send what r->udp_out holds with one sendmmsg (or more, if the socket takes a part). */
static void udp_out_flush(struct resolver *r)
{
	struct udp_out *o = r->udp_out;
	struct listener *l = o->l;
	unsigned i = 0;
	int fd, sent;

	if (o->n == 0) {
		return;
	}
	if (l->closing || uv_fileno((uv_handle_t *)&l->udp, &fd) != 0) {
		i = o->n; /* closed by a reload: dropped, and the client asks again */
	}
	while (i < o->n) {
		sent = sendmmsg(fd, o->msgs + i, o->n - i, MSG_DONTWAIT);
		r->stats.udp_send_calls++;
		if (sent > 0) {
			i += (unsigned)sent;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			for (; i < o->n; i++) {
				listener_udp_queue(l, (const struct sockaddr *)&o->peers[i],
						   o->data[i], o->iov[i].iov_len);
			}
		} else {
			i++; /* that one is lost, as a datagram may be; on with the next */
		}
	}
	o->n = 0;
	o->l = NULL;
	listener_unref(l); /* may free it */
}

static void on_udp_flush(uv_check_t *h)
{
	udp_out_flush(h->data);
}

static void on_udp_flush_late(uv_prepare_t *h)
{
	udp_out_flush(h->data);
}

/* Send @msg to @peer from the UDP socket of @l, if still open: queued in r->udp_out. */
static void listener_udp_send(struct listener *l, const struct sockaddr *peer, const uint8_t *msg,
			      size_t len)
{
	struct resolver *r = l->r;
	struct udp_out *o = r->udp_out;
	uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
	unsigned i;

	if (l->closing) {
		return;
	}
	if (uv_udp_get_send_queue_count(&l->udp) > 0) {
		listener_udp_queue(l, peer, msg, len); /* behind what libuv queued already */
		return;
	}
	if (len > DNS_MSG_UDP_MAX) {
		r->stats.udp_send_calls++; /* larger than a slot: not ours to batch */
		if (uv_udp_try_send(&l->udp, &b, 1, peer) == UV_EAGAIN) {
			listener_udp_queue(l, peer, msg, len);
		}
		return;
	}
	if (o->n > 0 && (o->l != l || o->n == UDP_OUT_MAX)) {
		udp_out_flush(r);
	}
	if (o->n == 0) {
		o->l = l;
		listener_ref(l);
	}
	i = o->n++;
	memcpy(o->data[i], msg, len);
	memcpy(&o->peers[i], peer, sockaddr_len(peer));
	o->iov[i] = (struct iovec){.iov_base = o->data[i], .iov_len = len};
	o->msgs[i].msg_hdr = (struct msghdr){
		.msg_name = &o->peers[i],
		.msg_namelen = sockaddr_len(peer),
		.msg_iov = &o->iov[i],
		.msg_iovlen = 1,
	};
}

/* --- listeners --- */

static void listener_ref(struct listener *l)
{
	l->refs++;
}

static void listener_unref(struct listener *l)
{
	REQUIRE(l->refs > 0);
	if (--l->refs == 0) {
		free(l->name);
		free(l);
	}
}

static void on_listener_closed(uv_handle_t *h)
{
	listener_unref(h->data);
}

/* --- UDP sources --- */

static const uint8_t *addr_bytes(const struct sockaddr *sa, size_t *len)
{
	if (sa->sa_family == AF_INET6) {
		*len = 16;
		return ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	}
	*len = 4;
	return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
}

/* The bucket of r->sources for the @len octets of address @a. */
static struct udp_source **source_bucket(struct resolver *r, const uint8_t *a, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ a[i]) * 16777619u;
	}
	return &r->sources[h & (SOURCE_BUCKETS - 1)];
}

/* The count of @sa's queries in flight, or NULL when it has none. */
static struct udp_source *source_find(struct resolver *r, const struct sockaddr *sa)
{
	size_t len;
	const uint8_t *a = addr_bytes(sa, &len);

	for (struct udp_source *s = *source_bucket(r, a, len); s; s = s->next) {
		if (s->family == sa->sa_family && memcmp(s->addr, a, len) == 0) {
			return s;
		}
	}
	return NULL;
}

/* The count of @sa's queries in flight, made if missing; NULL when out of memory. */
static struct udp_source *source_get(struct resolver *r, const struct sockaddr *sa)
{
	struct udp_source **pp, *s = source_find(r, sa);
	size_t len;
	const uint8_t *a;

	if (s) {
		return s;
	}
	a = addr_bytes(sa, &len);
	s = calloc(1, sizeof(*s));
	if (s) {
		s->family = sa->sa_family;
		memcpy(s->addr, a, len);
		pp = source_bucket(r, a, len);
		s->next = *pp;
		*pp = s;
	}
	return s;
}

/* One query of @src's fewer; @src is freed at none. */
static void source_put(struct resolver *r, struct udp_source *src)
{
	struct udp_source **pp;

	if (--src->n > 0) {
		return;
	}
	pp = source_bucket(r, src->addr, src->family == AF_INET6 ? 16 : 4);
	while (*pp != src) {
		pp = &(*pp)->next;
	}
	*pp = src->next;
	free(src);
}

/* --- a UDP listener as an origin --- */

static void listener_udp_reply(struct origin *o, const struct sockaddr *peer, uint8_t *buf,
			       size_t len)
{
	listener_udp_send(ORIGIN_ENTRY(o, struct listener, origin), peer, buf + 2, len);
}

static size_t listener_udp_answer_max(const struct origin *o, const struct dns_client_query *cq)
{
	(void)o;
	return dns_msg_udp_limit(cq);
}

/*
 * UDP cannot push back: over udp_queries_per_source (DNSBomb, rfc-checklist F6) or queries_max
 * the query is refused, and query.c drops it.
 */
static int listener_udp_hold(struct origin *o, const struct sockaddr *peer)
{
	struct listener *l = ORIGIN_ENTRY(o, struct listener, origin);
	struct resolver *r = l->r;
	struct udp_source *src = source_get(r, peer);

	if (!src) {
		return -ENOMEM;
	}
	if (src->n >= r->cfg->udp_queries_per_source || r->n_waiters >= r->cfg->queries_max) {
		src->n++;
		source_put(r, src); /* frees it if it was made just now */
		return -EBUSY;
	}
	src->n++;
	r->n_waiters++;
	listener_ref(l);
	return 0;
}

static void listener_udp_release(struct origin *o, const struct sockaddr *peer)
{
	struct listener *l = ORIGIN_ENTRY(o, struct listener, origin);
	struct resolver *r = l->r;
	struct udp_source *src = source_find(r, peer);

	REQUIRE(src && src->n > 0);
	source_put(r, src);
	listener_unref(l); /* may free it */
	r->n_waiters--;
	clients_resume(r);
}

static const struct origin_ops listener_udp_origin_ops = {
	.transport = ORIGIN_UDP,
	.reply = listener_udp_reply,
	.answer_max = listener_udp_answer_max,
	.hold = listener_udp_hold,
	.release = listener_udp_release,
};

const char *listener_name(const struct listener *l)
{
	return l->name;
}

struct listener *listener_find(struct resolver *r, const struct config_listen *addr)
{
	for (struct listener *l = r->listeners; l; l = l->next) {
		if (l->addr_len == addr->addr_len &&
		    memcmp(&l->addr, &addr->addr, l->addr_len) == 0) {
			return l;
		}
	}
	return NULL;
}

void listener_close(struct resolver *r, struct listener *l)
{
	for (struct listener **pp = &r->listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	l->closing = true;
	uv_close((uv_handle_t *)&l->udp, on_listener_closed);
	if (l->rx_fd >= 0) {
		/* Closed with it, as libuv closes its own: the port is free when this returns. */
		uv_close((uv_handle_t *)&l->udp_rx, on_listener_closed);
		close(l->rx_fd);
		l->rx_fd = -1;
	}
	uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

static void on_work_closed(uv_handle_t *h)
{
	struct resolver *r = h->data;

	r->handles_open--;
}

int listener_init(struct resolver *r)
{
	int ret;

	r->udp_out = malloc(sizeof(*r->udp_out)); /* touched as it fills: not calloc */
	r->udp_in = malloc(sizeof(*r->udp_in));	  /* the slots are touched as datagrams fill them */
	if (!r->udp_out || !r->udp_in) {
		return -ENOMEM;
	}
	r->udp_in->used = 0;
	for (unsigned i = 0; i < UDP_IN_SLOTS; i++) {
		struct udp_in *in = r->udp_in;

		in->iov[i] = (struct iovec){.iov_base = in->data[i], .iov_len = UDP_IN_SLOT};
		in->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &in->peers[i],
			.msg_namelen = sizeof(in->peers[i]),
			.msg_iov = &in->iov[i],
			.msg_iovlen = 1,
		};
	}
	r->udp_out->n = 0;
	r->udp_out->l = NULL;
	ret = uv_check_init(r->loop, &r->udp_flush);
	if (ret != 0) {
		return ret;
	}
	r->udp_flush.data = r;
	r->handles_open++;
	uv_check_start(&r->udp_flush, on_udp_flush);
	uv_unref((uv_handle_t *)&r->udp_flush); /* they keep nothing alive */
	ret = uv_prepare_init(r->loop, &r->udp_flush_late);
	if (ret != 0) {
		return ret;
	}
	r->udp_flush_late.data = r;
	r->handles_open++;
	uv_prepare_start(&r->udp_flush_late, on_udp_flush_late);
	uv_unref((uv_handle_t *)&r->udp_flush_late);
	ret = uv_idle_init(r->loop, &r->tcp_work);
	if (ret == 0) {
		r->tcp_work.data = r;
		r->handles_open++;
		r->sources = calloc(SOURCE_BUCKETS, sizeof(*r->sources));
		if (!r->sources) {
			return -ENOMEM;
		}
	}
	return ret;
}

/*
 * With workers, every worker binds the same addresses: SO_REUSEPORT lets the kernel spread the
 * datagrams and connections over their sockets, by a hash of the client's address and port.
 * Linux lets only sockets of the same effective user share a port this way.
 */
static void reuseport_set(uv_handle_t *h)
{
	int fd, on = 1;

	if (uv_fileno(h, &fd) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
		log_warn(LOG_NET, "SO_REUSEPORT: %s", strerror(errno));
	}
}

/*
 * workers_steering: cpu (steer.h): each datagram to the worker pinned to the CPU that received
 * it. The workers bind each address in the order of their numbers (worker.c starts them one
 * after the other, a reload runs them in turn), so worker N's socket is the group's N-1th, the
 * index the program returns. Without it (a kernel before 4.5), the hash steers: a warning,
 * not a failure.
 */
static void steer_set(struct resolver *r, struct listener *l)
{
	const struct steer *s = r->main ? r->main->steer : r->steer;
	int fd, ret;

	if (!s || uv_fileno((uv_handle_t *)&l->udp, &fd) != 0) {
		return;
	}
	ret = steer_attach(s, fd);
	if (ret != 0) {
		log_warn(LOG_NET, "'%s': cannot steer datagrams by CPU: %s; by hash instead",
			 l->name, strerror(-ret));
	}
}

/*
 * Read the bound UDP socket by a second descriptor of it: libuv watches one handle per
 * descriptor, and the uv_udp_t keeps its own, polled for writing while libuv queues answers.
 */
static int listener_udp_rx_start(struct listener *l)
{
	int fd, ret;

	ret = uv_fileno((uv_handle_t *)&l->udp, &fd);
	if (ret != 0) {
		return ret;
	}
	l->rx_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (l->rx_fd < 0) {
		return -errno;
	}
	ret = uv_poll_init_socket(l->r->loop, &l->udp_rx, l->rx_fd);
	if (ret != 0) {
		close(l->rx_fd);
		l->rx_fd = -1;
		return ret;
	}
	l->udp_rx.data = l;
	l->refs++;
	return uv_poll_start(&l->udp_rx, UV_READABLE, on_udp_readable);
}

/* Open and bind @addr; on failure the listener is closed again (freed in its callbacks). */
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
	l->origin.ops = &listener_udp_origin_ops;
	l->r = r;
	memcpy(&l->addr, &addr->addr, addr->addr_len);
	l->addr_len = addr->addr_len;
	l->name = strdup(addr->name);
	l->rx_fd = -1;
	ret = uv_udp_init_ex(r->loop, &l->udp, sa->sa_family);
	if (ret != 0) {
		free(l->name);
		free(l);
		return ret;
	}
	if (r->n_workers <= 1 || uv_tcp_init_ex(r->loop, &l->tcp, sa->sa_family) != 0) {
		uv_tcp_init(r->loop, &l->tcp); /* the socket is made at bind, which says why not */
	}
	if (r->n_workers > 1) {
		reuseport_set((uv_handle_t *)&l->udp);
		reuseport_set((uv_handle_t *)&l->tcp);
	}
	l->udp.data = l;
	l->tcp.data = l;
	l->refs = 2;
	l->next = r->listeners;
	r->listeners = l;
	if (!l->name) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = uv_udp_bind(&l->udp, sa, flags);
	if (ret == UV_EADDRNOTAVAIL || ret == UV_EAFNOSUPPORT) {
		goto cleanup; /* the caller decides: a host without this address */
	}
	if (ret != 0) {
		log_err(LOG_NET, "cannot bind UDP '%s': %s%s", addr->name, uv_strerror(ret),
			ret == UV_EADDRINUSE ? " (another DNS server, such as systemd-resolved or "
					       "dnsmasq? `ss -lunp` names it)"
			: ret == UV_EACCES   ? " (a port below 1024 needs root or "
					       "CAP_NET_BIND_SERVICE)"
					     : "");
		goto cleanup;
	}
	steer_set(r, l);
	ret = uv_tcp_bind(&l->tcp, sa, flags ? UV_TCP_IPV6ONLY : 0);
	if (ret == 0) {
		ret = uv_listen((uv_stream_t *)&l->tcp, CLIENT_TCP_BACKLOG, on_tcp_connection);
	}
	if (ret != 0) {
		log_err(LOG_NET, "cannot listen on TCP '%s': %s", addr->name, uv_strerror(ret));
		goto cleanup;
	}
	ret = listener_udp_rx_start(l);
	if (ret != 0) {
		log_err(LOG_NET, "cannot receive on UDP '%s': %s", addr->name, uv_strerror(ret));
		goto cleanup;
	}
	log_notice(LOG_NET, "listening on '%s' (UDP and TCP)%s", addr->name,
		   config_is_loopback(sa) ? "" : ", answering the access_control prefixes only");
	return 0;
cleanup:
	listener_close(r, l);
	return ret;
}

void listener_close_all(struct resolver *r)
{
	while (r->tcp_clients.head) {
		client_tcp_close(DL_ENTRY(r->tcp_clients.head, struct client_tcp, lru));
	}
	while (r->listeners) {
		listener_close(r, r->listeners);
	}
	if (r->tcp_work.type == UV_IDLE && !uv_is_closing((uv_handle_t *)&r->tcp_work)) {
		uv_close((uv_handle_t *)&r->tcp_work, on_work_closed);
	}
	if (r->udp_flush.type == UV_CHECK && !uv_is_closing((uv_handle_t *)&r->udp_flush)) {
		if (r->udp_out) {
			udp_out_flush(r); /* the listeners are closing: this lets go of the last */
		}
		uv_close((uv_handle_t *)&r->udp_flush, on_work_closed);
	}
	if (r->udp_flush_late.type == UV_PREPARE &&
	    !uv_is_closing((uv_handle_t *)&r->udp_flush_late)) {
		uv_close((uv_handle_t *)&r->udp_flush_late, on_work_closed);
	}
}

void listener_free(struct resolver *r)
{
	REQUIRE(!r->udp_out || r->udp_out->n == 0);
	free(r->udp_out);
	r->udp_out = NULL;
	free(r->udp_in);
	r->udp_in = NULL;
}

/*
 * Listeners: those no longer configured close (their TCP clients go on until idle), new ones
 * are bound if the process still may. Returns how many could not be bound, each named in
 * @msgs.
 */
size_t listener_apply(struct resolver *r, FILE *msgs)
{
	struct listener *l, *next;
	size_t failed = 0;

	for (l = r->listeners; l; l = next) {
		bool kept = false;

		next = l->next;
		for (size_t i = 0; i < r->cfg->n_listen && !kept; i++) {
			kept = listener_find(r, &r->cfg->listen[i]) == l;
		}
		if (!kept) {
			log_notice(LOG_NET, "no longer listening on '%s'", listener_name(l));
			listener_close(r, l);
		}
	}
	for (size_t i = 0; i < r->cfg->n_listen; i++) {
		const struct config_listen *la = &r->cfg->listen[i];
		int ret;

		if (listener_find(r, la)) {
			continue;
		}
		ret = listener_open(r, la);
		if (ret != 0) {
			failed++;
			fprintf(msgs, "cannot listen on '%s': %s%s\n", la->name, uv_strerror(ret),
				ret == UV_EACCES ? " (a port below 1024 needs root or "
						   "CAP_NET_BIND_SERVICE, which dotd gave up)"
						 : "");
		}
	}
	return failed;
}
