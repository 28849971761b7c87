/*
 * tls_plain: the transport of a plain DNS upstream (tls_upstream_new_plain), for forward zones
 * on private networks. Plain DNS over UDP from one connected socket, and over TCP with the
 * 2-octet prefix when an answer comes truncated (RFC 1035 §4.2, RFC 7766 §5). There is no TLS
 * here and no call into wolfSSL: the file shares the upstream object of tls_upstream.c (health,
 * backoff, RTT, counters), the query contract of tls.h and the answer checks of tls_conn.c.
 *
 *   tls_plain_query -> udpq -> fresh ID -> uv_udp_try_send(message) ... on_udp_recv -> match
 *     -> callback | TC: a TCP connection's queue -> stream_append(frame) ... on_tcp_data ->
 *     dns_frame -> match -> callback
 *
 * Matching (RFC 5452 §9.1): the connected socket takes datagrams from the upstream's address
 * and port only, the ID selects the query, and the whole question must be the same
 * (dns_answer_check(), as over TLS; over UDP a question is required). A message that matches
 * nothing, a forgery or a late answer after a cancel, is dropped and counted, never fatal.
 *
 * Queues: a query is in exactly one struct tls_plain_queue at a time: the UDP socket's, a TCP
 * connection's, or the failures waiting to be given. A queue holds the queries written (in
 * flight, by ID in a chained table) and those waiting for a free place (FIFO). A cancelled query
 * leaves its queue at once: nothing is reserved for its answer, which will match nothing.
 *
 * Callbacks never run inside tls_upstream_query() or tls_query_cancel(): a failure found there
 * (a send refused by the socket) puts the query on the failed queue, which a zero timer gives
 * out from the loop. Answers and TCP failures are given from libuv callbacks directly.
 *
 * Lifetime: struct tls_plain is made with the upstream and owns the UDP socket, the failure
 * timer and the TCP connections. A TCP connection (over the stream layer, stream.h, as a DoT
 * connection is) is freed once its stream has reported on_closed and its timer has closed,
 * after its queries got their status. After tls_plain_close(), the last close
 * callback of all of them frees the state and then the upstream (tls_upstream_plain_freed()).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "log.h"
#include "tls_int.h"

struct plain_tcp;

/** Queries of one socket: written ones by ID, waiting ones in order. */
struct tls_plain_queue {
	struct tls_query **ids; /**< owned: n_ids chains (q->next) of the queries written; NULL
				     for the failed queue */
	unsigned n_ids;		/**< a power of two */
	unsigned n_in_flight;
	struct tls_query *head; /**< waiting, oldest first (q->next) */
	struct tls_query *tail;
	unsigned n_waiting;
	struct tls_plain *px;  /**< borrowed: the upstream's plain state */
	struct plain_tcp *tcp; /**< borrowed: the TCP connection it belongs to, or NULL */
};

/** Ordered: state >= PTCP_CLOSED means the handles are closing. */
enum ptcp_state {
	PTCP_CONNECTING,
	PTCP_READY,
	PTCP_CLOSED,
};

enum ptcp_timer {
	PTCP_TIMER_CONNECT,  /**< the connect deadline (handshake_timeout_ms) */
	PTCP_TIMER_LIVENESS, /**< queries outstanding: something must arrive in liveness_ms */
	PTCP_TIMER_IDLE,     /**< nothing outstanding: close after idle_timeout_ms */
};

/**
 * One TCP connection, for the queries whose UDP answer was truncated: DNS over TCP (framing,
 * IDs, liveness) over the stream layer (stream.h) that DoT connections use too.
 */
struct plain_tcp {
	struct stream st;     /**< the socket, its buffers, write and close deadlines */
	uv_timer_t timer;     /**< connect deadline, then liveness or idle */
	struct tls_plain *px; /**< borrowed: outlives its connections */
	enum ptcp_state state;
	enum ptcp_timer timer_mode;
	struct tls_plain_queue q;
	struct dns_frame frame; /**< answers, reassembled (RFC 7766 §8) */
	uint64_t last_rx;	/**< loop time bytes last arrived (liveness) */
	bool stream_open;	/**< the stream's on_closed has not come yet */
	bool timer_open;	/**< the timer's close callback has not come yet */
	int close_status;	/**< given to the queries still here once the handles closed */
	struct plain_tcp *next; /**< in px->tcps */
};

struct tls_plain {
	struct tls_upstream *up; /**< borrowed: owns this; NULL after a failed open */
	uv_udp_t udp;		 /**< connected to up->addr; data = this */
	uv_timer_t defer;	 /**< gives out the failed queue from the loop */
	unsigned handles_open;	 /**< 0..2 */
	unsigned sends_pending;	 /**< uv_udp_send requests not completed */
	int unreachable;	 /**< the socket's error since the failures were last counted */
	bool answered;		 /**< an answer came: up while no failure follows */
	struct tls_plain_queue udpq;
	struct tls_plain_queue failed; /**< FIFO only: queries and the status they are to get */
	struct plain_tcp *tcp;	       /**< the connection retries go to, or NULL */
	struct plain_tcp *tcps;	       /**< owned: every connection not yet freed */
	uint8_t rbuf[DNS_MAX_MSG];     /**< one datagram */
};

/** A datagram the socket could not take at once: a copy, since the frame may change. */
struct udp_send {
	uv_udp_send_t req;
	struct tls_plain *px;
	uint8_t buf[];
};

static void udp_send_waiting(struct tls_plain *px);
static void tcp_send_waiting(struct plain_tcp *c);
static void tcp_close(struct plain_tcp *c, int status);
static void tcp_timer_update(struct plain_tcp *c);

/* --- which addresses --- */

bool tls_upstream_plain_allowed(const struct sockaddr *addr, socklen_t addr_len)
{
	if (!addr) {
		return false;
	}
	if (addr->sa_family == AF_INET && addr_len == sizeof(struct sockaddr_in)) {
		struct sockaddr_in a;
		uint32_t ip;

		memcpy(&a, addr, sizeof(a));
		ip = ntohl(a.sin_addr.s_addr);
		return (ip >> 24) == 127 ||    /* loopback, RFC 1122 §3.2.1.3 */
		       (ip >> 24) == 10 ||     /* RFC 1918 §3 */
		       (ip >> 20) == 0xac1 ||  /* 172.16.0.0/12, RFC 1918 */
		       (ip >> 16) == 0xc0a8 || /* 192.168.0.0/16, RFC 1918 */
		       (ip >> 16) == 0xa9fe;   /* 169.254.0.0/16, RFC 3927 */
	}
	if (addr->sa_family == AF_INET6 && addr_len == sizeof(struct sockaddr_in6)) {
		static const uint8_t loopback[16] = {[15] = 1};
		struct sockaddr_in6 a;
		const uint8_t *b;

		memcpy(&a, addr, sizeof(a));
		b = a.sin6_addr.s6_addr;
		return memcmp(b, loopback, 16) == 0 ||		/* ::1, RFC 4291 §2.5.3 */
		       (b[0] & 0xfe) == 0xfc ||			/* fc00::/7, RFC 4193 */
		       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80); /* fe80::/10, RFC 4291 */
	}
	return false;
}

/* --- queues --- */

static int queue_init(struct tls_plain_queue *pq, struct tls_plain *px, struct plain_tcp *c,
		      unsigned max_in_flight)
{
	memset(pq, 0, sizeof(*pq));
	pq->px = px;
	pq->tcp = c;
	pq->n_ids = 16;
	while (pq->n_ids < max_in_flight) {
		pq->n_ids *= 2;
	}
	pq->ids = calloc(pq->n_ids, sizeof(*pq->ids));
	return pq->ids ? 0 : -ENOMEM;
}

static void queue_push(struct tls_plain_queue *pq, struct tls_query *q)
{
	q->pq = pq;
	q->next = NULL;
	q->in_flight = false;
	if (pq->tail) {
		pq->tail->next = q;
	} else {
		pq->head = q;
	}
	pq->tail = q;
	pq->n_waiting++;
}

/* The oldest waiting query, taken out of the FIFO (q->pq still names the queue). */
static struct tls_query *queue_pop(struct tls_plain_queue *pq)
{
	struct tls_query *q = pq->head;

	if (q) {
		pq->head = q->next;
		if (!pq->head) {
			pq->tail = NULL;
		}
		q->next = NULL;
		pq->n_waiting--;
	}
	return q;
}

static void queue_remove_waiting(struct tls_plain_queue *pq, struct tls_query *q)
{
	struct tls_query **pp = &pq->head;

	while (*pp && *pp != q) {
		pp = &(*pp)->next;
	}
	REQUIRE(*pp == q);
	*pp = q->next;
	pq->n_waiting--;
	if (pq->tail == q) {
		pq->tail = NULL;
		for (struct tls_query *p = pq->head; p; p = p->next) {
			pq->tail = p;
		}
	}
	q->next = NULL;
}

static struct tls_query *queue_find(const struct tls_plain_queue *pq, uint16_t id)
{
	for (struct tls_query *q = pq->ids[id & (pq->n_ids - 1)]; q; q = q->next) {
		if (q->id == id) {
			return q;
		}
	}
	return NULL;
}

/*
 * Write @q under a fresh random ID unused on this socket (RFC 5452 §9.2: all 16 bits random,
 * per try). At most max_in_flight, at most half the ID space, are in use: a free one is found
 * in about two draws.
 */
static void queue_insert(struct tls_plain_queue *pq, struct tls_query *q, uint64_t now)
{
	struct tls_query **chain;
	uint16_t id;

	do {
		id = tls_random_u16();
	} while (queue_find(pq, id));
	chain = &pq->ids[id & (pq->n_ids - 1)];
	q->id = id;
	q->sent_at = now;
	q->in_flight = true;
	q->pq = pq;
	q->next = *chain;
	*chain = q;
	pq->n_in_flight++;
}

static void queue_unlink(struct tls_plain_queue *pq, struct tls_query *q)
{
	struct tls_query **pp = &pq->ids[q->id & (pq->n_ids - 1)];

	while (*pp && *pp != q) {
		pp = &(*pp)->next;
	}
	REQUIRE(*pp == q);
	*pp = q->next;
	pq->n_in_flight--;
	q->next = NULL;
	q->in_flight = false;
}

/*
 * A query written on @pq, taken out of it, or NULL when none is left. *@cursor (0 at first)
 * keeps the chain reached, so that emptying the table is one pass over it: callers add no
 * query meanwhile, and removals (cancels from a callback) do not disturb the walk.
 */
static struct tls_query *queue_take_written(struct tls_plain_queue *pq, unsigned *cursor)
{
	for (; pq->n_in_flight > 0 && *cursor < pq->n_ids; (*cursor)++) {
		struct tls_query *q = pq->ids[*cursor];

		if (q) {
			queue_unlink(pq, q);
			return q;
		}
	}
	return NULL;
}

/*
 * Give every query of @pq @status, from a close callback. A callback may cancel others of @pq
 * (they leave it) but add none: the socket is closed.
 */
static void queue_fail_all(struct tls_plain_queue *pq, int status)
{
	struct tls_query *q;
	unsigned cursor = 0;

	while ((q = queue_take_written(pq, &cursor)) != NULL || (q = queue_pop(pq)) != NULL) {
		q->pq = NULL;
		q->cb(q, status, NULL, 0, NULL);
	}
}

/*
 * Whether @msg answers @q: the ID it was written under and the whole question, every record
 * checked (dns_answer_check(), as tls_conn.c does). The frame's ID may have been overwritten by
 * a later try elsewhere since: it is put back first, which tls/ may do (tls.h).
 */
static bool answer_matches(struct tls_query *q, const uint8_t *msg, size_t len, struct dns_opt *opt)
{
	dns_put16(q->frame + 2, q->id);
	return dns_answer_check(q->frame + 2, q->qend, msg, len, opt) == 0;
}

/* --- failures given from the loop --- */

static void on_defer(uv_timer_t *t);

/* @q is to get @status, from the loop (while closing, from the last close callback). */
static void plain_defer(struct tls_plain *px, struct tls_query *q, int status)
{
	q->status = status;
	queue_push(&px->failed, q);
	if (!px->up->closing && !uv_is_active((uv_handle_t *)&px->defer)) {
		uv_timer_start(&px->defer, on_defer, 0, 0);
	}
}

static void on_defer(uv_timer_t *t)
{
	struct tls_plain *px = t->data;
	struct tls_upstream *u = px->up;
	struct tls_query *q;

	if (u->closing) {
		return; /* the close callback gives them */
	}
	if (px->unreachable) {
		/* One failure per error the socket reported, however many queries it failed. */
		u->stats.conn_failures++;
		tls_upstream_failure(u, "unreachable");
		px->unreachable = 0;
	}
	while ((q = queue_pop(&px->failed)) != NULL) {
		q->pq = NULL;
		q->cb(q, q->status, NULL, 0, NULL);
	}
	if (!u->closing) {
		udp_send_waiting(px);
	}
}

/* --- UDP --- */

static bool addr_is_upstream(const struct sockaddr *sa, const struct tls_upstream *u)
{
	if (!sa || sa->sa_family != u->addr.ss_family) {
		return false;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa, *b = (const void *)&u->addr;

		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa, *b = (const void *)&u->addr;

		return a->sin6_port == b->sin6_port &&
		       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
	}
	return false;
}

/*
 * The socket says the upstream cannot be reached: an ICMP port or host unreachable (RFC 1122
 * §4.1.3.3), reported on the connected socket at its next receive or send. It names no
 * datagram, so every query written fails with TLS_ERR_CONNECT, and those waiting with them:
 * they would fare no better. Counted as one failure of the upstream, when they are given out.
 */
static void udp_unreachable(struct tls_plain *px, int err)
{
	struct tls_query *q;
	unsigned cursor = 0;
	bool any = false;

	while ((q = queue_take_written(&px->udpq, &cursor)) != NULL ||
	       (q = queue_pop(&px->udpq)) != NULL) {
		plain_defer(px, q, TLS_ERR_CONNECT);
		any = true;
	}
	if (any) {
		log_info(LOG_TLS, "upstream '%s': %s", px->up->name, uv_strerror(err));
		px->unreachable = err;
	}
}

static bool is_unreachable(int err)
{
	return err == UV_ECONNREFUSED || err == UV_EHOSTUNREACH || err == UV_ENETUNREACH ||
	       err == UV_EHOSTDOWN || err == UV_ENETDOWN;
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	struct udp_send *s = req->data;
	struct tls_plain *px = s->px;

	free(s);
	px->sends_pending--;
	if (status < 0 && status != UV_ECANCELED && !px->up->closing) {
		udp_unreachable(px, status);
	}
}

/* The socket's buffer is full: hand libuv a copy, sent when it drains. */
static int udp_send_copy(struct tls_plain *px, const struct tls_query *q)
{
	size_t len = q->frame_len - 2;
	struct udp_send *s = malloc(sizeof(*s) + len);
	uv_buf_t b;
	int ret;

	if (!s) {
		return UV_ENOMEM;
	}
	memcpy(s->buf, q->frame + 2, len);
	s->px = px;
	s->req.data = s;
	b = uv_buf_init((char *)s->buf, (unsigned)len);
	ret = uv_udp_send(&s->req, &px->udp, &b, 1, NULL, on_udp_sent);
	if (ret != 0) {
		free(s);
		return ret;
	}
	px->sends_pending++;
	return 0;
}

/* Write waiting queries while fewer than max_in_flight are outstanding. */
static void udp_send_waiting(struct tls_plain *px)
{
	struct tls_upstream *u = px->up;
	struct tls_query *q;

	while (px->udpq.n_in_flight < u->max_in_flight && (q = queue_pop(&px->udpq)) != NULL) {
		uv_buf_t b;
		int ret;

		queue_insert(&px->udpq, q, uv_now(u->loop));
		/* The frame may be shared with other tries: the ID is written, then sent at once.
		 */
		dns_put16(q->frame + 2, q->id);
		b = uv_buf_init((char *)q->frame + 2, (unsigned)(q->frame_len - 2));
		ret = uv_udp_try_send(&px->udp, &b, 1, NULL);
		if (ret == UV_EAGAIN || ret == UV_ENOBUFS) {
			ret = udp_send_copy(px, q);
		}
		if (ret == UV_ENOMEM) {
			queue_unlink(&px->udpq, q);
			plain_defer(px, q, TLS_ERR_NOMEM);
			continue;
		}
		if (ret < 0) {
			udp_unreachable(px, ret); /* q with the others; the queue is empty now */
			continue;
		}
		u->stats.queries++;
	}
}

/* Open the TCP connection if there is none, and queue @q on it (RFC 7766 §5). */
static void tcp_submit(struct tls_plain *px, struct tls_query *q);

static void udp_on_message(struct tls_plain *px, const uint8_t *msg, size_t len)
{
	struct tls_upstream *u = px->up;
	struct tls_query *q = NULL;
	struct dns_opt opt;
	size_t qlen;
	bool tc = false;

	if (len >= DNS_HDR_LEN) {
		q = queue_find(&px->udpq, dns_id(msg));
	}
	if (q) {
		/*
		 * A truncated answer is only a pointer to TCP: its ID and question must match,
		 * its records are not used and may be cut anywhere (RFC 2181 §9).
		 */
		qlen = q->qend - DNS_HDR_LEN;
		tc = (dns_flags(msg) & (DNS_QR | DNS_TC)) == (DNS_QR | DNS_TC) &&
		     dns_qdcount(msg) == 1 && len >= q->qend &&
		     dns_question_equal(msg + DNS_HDR_LEN, qlen, q->frame + 2 + DNS_HDR_LEN, qlen);
	}
	/* Over UDP the question is required (RFC 5452 §9.1): ID and port are all else. */
	if (!q || (!tc && (dns_qdcount(msg) != 1 || !answer_matches(q, msg, len, &opt)))) {
		u->stats.dropped++;
		log_debug(LOG_TLS, "upstream '%s': dropped a UDP message that answers no query",
			  u->name);
		return;
	}
	queue_unlink(&px->udpq, q);
	px->answered = true;
	tls_upstream_success(u);
	tls_upstream_rtt(u, uv_now(u->loop) - q->sent_at);
	if (tc) {
		u->stats.truncated++;
		tcp_submit(px, q);
		udp_send_waiting(px);
		return;
	}
	u->stats.answers++;
	q->pq = NULL;
	q->cb(q, 0, msg, len, &opt);
	if (!u->closing) {
		udp_send_waiting(px);
	}
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tls_plain *px = h->data;

	(void)suggested;
	/* One datagram at a time (no UV_UDP_RECVMMSG): the same buffer serves every read. */
	*buf = uv_buf_init((char *)px->rbuf, sizeof(px->rbuf));
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct tls_plain *px = h->data;
	struct tls_upstream *u = px->up;

	(void)buf;
	if (u->closing || (nread == 0 && !addr)) {
		return; /* closing, or nothing more to read */
	}
	if (nread < 0) {
		/* libuv reports the socket's pending error here (EPOLLERR wakes the reader). */
		if (is_unreachable((int)nread)) {
			udp_unreachable(px, (int)nread);
		} else {
			log_info(LOG_TLS, "upstream '%s': UDP receive failed: %s", u->name,
				 uv_strerror((int)nread));
		}
		return;
	}
	/* The kernel already filters by source on a connected socket; cheap to say so again. */
	if ((flags & UV_UDP_PARTIAL) || !addr_is_upstream(addr, u)) {
		u->stats.dropped++;
		return;
	}
	udp_on_message(px, px->rbuf, (size_t)nread);
}

/* --- TCP --- */

static void on_tcp_timer_closed(uv_handle_t *h);

static void tcp_close(struct plain_tcp *c, int status)
{
	if (c->state >= PTCP_CLOSED) {
		return;
	}
	c->state = PTCP_CLOSED;
	c->close_status = status;
	if (c->px->tcp == c) {
		c->px->tcp = NULL;
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_tcp_timer_closed);
	stream_close(&c->st);
}

/* Close for a reason that counts against the upstream's health. */
static void tcp_fail(struct plain_tcp *c, int status, const char *why)
{
	if (c->state >= PTCP_CLOSED) {
		return;
	}
	tls_upstream_failure(c->px->up, why);
	tcp_close(c, status);
}

/* Write waiting queries, pipelined (RFC 7766 §6.2.1.1), up to max_in_flight outstanding. */
static void tcp_send_waiting(struct plain_tcp *c)
{
	struct tls_upstream *u = c->px->up;
	bool was_idle = c->q.n_in_flight == 0;
	struct tls_query *q;

	while (c->state == PTCP_READY && c->q.n_in_flight < u->max_in_flight &&
	       (q = queue_pop(&c->q)) != NULL) {
		int ret;

		queue_insert(&c->q, q, uv_now(u->loop));
		dns_put16(q->frame + 2, q->id);
		ret = stream_append(&c->st, q->frame, q->frame_len);
		if (ret == 0) {
			ret = stream_flush(&c->st);
		} else {
			ret = UV_ENOMEM;
		}
		if (ret != 0) {
			log_info(LOG_TLS, "upstream '%s': TCP write failed: %s", u->name,
				 uv_strerror(ret));
			tcp_close(c, ret == UV_ENOMEM ? TLS_ERR_NOMEM : TLS_ERR_LOST);
			return;
		}
		u->stats.queries++;
	}
	if (c->state == PTCP_READY && was_idle && c->q.n_in_flight > 0) {
		tcp_timer_update(c);
	}
}

static void tcp_on_message(struct plain_tcp *c, const uint8_t *msg, size_t len)
{
	struct tls_upstream *u = c->px->up;
	struct tls_query *q = NULL;
	struct dns_opt opt;

	if (len >= DNS_HDR_LEN) {
		q = queue_find(&c->q, dns_id(msg));
	}
	if (!q || !answer_matches(q, msg, len, &opt)) {
		/* Late (its query was cancelled) or broken: the stream itself is still sound. */
		u->stats.dropped++;
		log_debug(LOG_TLS, "upstream '%s': dropped a TCP message that answers no query",
			  u->name);
		return;
	}
	queue_unlink(&c->q, q);
	c->px->answered = true;
	tls_upstream_success(u);
	tls_upstream_rtt(u, uv_now(u->loop) - q->sent_at);
	u->stats.answers++;
	q->pq = NULL;
	q->cb(q, 0, msg, len, &opt);
}

/* Move what the stream received into the frame. -ENOMEM if the frame cannot grow. */
static int tcp_take(struct plain_tcp *c)
{
	while (stream_rx_avail(&c->st) > 0) {
		uint8_t *space;
		size_t room;

		if (dns_frame_space(&c->frame, 4096, &space, &room) != 0) {
			return -ENOMEM;
		}
		dns_frame_commit(&c->frame, stream_take(&c->st, space, room));
	}
	return 0;
}

static void on_tcp_data(struct stream *st)
{
	struct plain_tcp *c = st->owner;
	struct tls_upstream *u = c->px->up;
	unsigned before = c->q.n_in_flight;
	bool wrote = false;

	if (c->state != PTCP_READY) {
		return;
	}
	if (tcp_take(c) != 0) {
		tcp_close(c, TLS_ERR_NOMEM);
		return;
	}
	c->last_rx = uv_now(u->loop);
	for (;;) {
		const uint8_t *msg;
		size_t len;
		int ret = dns_frame_next(&c->frame, &msg, &len);

		if (ret == 0) {
			break;
		}
		if (ret < 0) {
			log_notice(LOG_TLS, "upstream '%s': zero-length DNS message over TCP",
				   u->name);
			u->stats.proto_errors++;
			tcp_fail(c, TLS_ERR_PROTO, "zero-length DNS message");
			return;
		}
		tcp_on_message(c, msg, len);
		if (c->state != PTCP_READY) {
			return; /* a callback closed the upstream */
		}
	}
	if (c->q.n_in_flight < before) {
		unsigned waiting = c->q.n_waiting;

		tcp_send_waiting(c);
		wrote = c->q.n_waiting < waiting;
	}
	/* Answers still to come and no query written to carry our ACK: now (stream_ack_now()). */
	if (c->state == PTCP_READY && c->q.n_in_flight > 0 && !wrote) {
		stream_ack_now(&c->st);
	}
	tcp_timer_update(c);
}

static void on_tcp_eof(struct stream *st, int status)
{
	struct plain_tcp *c = st->owner;
	struct tls_upstream *u = c->px->up;

	if (c->state != PTCP_READY) {
		return;
	}
	/* Closed or reset by the server: not a failure (RFC 7766 §6.2.3). */
	log_debug(LOG_TLS, "upstream '%s': TCP connection closed by the server: %s", u->name,
		  uv_strerror(status));
	u->stats.server_closes++;
	tcp_close(c, TLS_ERR_LOST);
}

static void on_tcp_error(struct stream *st, int status)
{
	struct plain_tcp *c = st->owner;

	if (c->state >= PTCP_CLOSED) {
		return;
	}
	log_info(LOG_TLS, "upstream '%s': TCP write failed: %s", c->px->up->name,
		 uv_strerror(status));
	tcp_close(c, TLS_ERR_LOST);
}

static void on_tcp_timer(uv_timer_t *t)
{
	struct plain_tcp *c = t->data;
	struct tls_upstream *u = c->px->up;
	uint64_t now = uv_now(u->loop), oldest = UINT64_MAX, due;

	if (c->state >= PTCP_CLOSED) {
		return;
	}
	switch (c->timer_mode) {
	case PTCP_TIMER_CONNECT:
		log_msg(tls_upstream_failure_level(u), LOG_TLS,
			"upstream '%s': TCP connect timed out", u->name);
		u->stats.conn_failures++;
		tcp_fail(c, TLS_ERR_CONNECT, "TCP connect timed out");
		return;
	case PTCP_TIMER_LIVENESS:
		for (unsigned i = 0; i < c->q.n_ids; i++) {
			for (const struct tls_query *q = c->q.ids[i]; q; q = q->next) {
				oldest = q->sent_at < oldest ? q->sent_at : oldest;
			}
		}
		if (oldest == UINT64_MAX) {
			tcp_timer_update(c); /* everything answered or cancelled: idle */
			return;
		}
		due = (oldest > c->last_rx ? oldest : c->last_rx) + u->liveness_ms;
		if (now < due) {
			uv_timer_start(&c->timer, on_tcp_timer, due - now, 0);
			return;
		}
		log_notice(LOG_TLS,
			   "upstream '%s': nothing received over TCP for %u ms with %u queries "
			   "outstanding, dropping the connection",
			   u->name, u->liveness_ms, c->q.n_in_flight);
		u->stats.dead++;
		tcp_fail(c, TLS_ERR_TIMEOUT, "TCP connection went silent");
		return;
	case PTCP_TIMER_IDLE:
		if (c->q.n_in_flight == 0 && c->q.n_waiting == 0) {
			/* RFC 7766 §6.2.3: the client closes an idle connection. */
			log_debug(LOG_TLS, "upstream '%s': TCP idle, closing", u->name);
			u->stats.idle_closes++;
			tcp_close(c, TLS_ERR_LOST);
		}
		return;
	}
}

/* Time what @c waits for: an answer while queries are outstanding, else its idle close. */
static void tcp_timer_update(struct plain_tcp *c)
{
	struct tls_upstream *u = c->px->up;

	if (c->state != PTCP_READY) {
		return;
	}
	if (c->q.n_in_flight > 0) {
		if (c->timer_mode != PTCP_TIMER_LIVENESS) {
			c->timer_mode = PTCP_TIMER_LIVENESS;
			uv_timer_start(&c->timer, on_tcp_timer, u->liveness_ms, 0);
		}
		return;
	}
	c->timer_mode = PTCP_TIMER_IDLE;
	uv_timer_start(&c->timer, on_tcp_timer, u->idle_timeout_ms, 0);
}

static void on_tcp_connect(struct stream *st, int status)
{
	struct plain_tcp *c = st->owner;
	struct tls_upstream *u = c->px->up;

	if (c->state != PTCP_CONNECTING) {
		return; /* closed meanwhile */
	}
	if (status != 0) {
		log_msg(tls_upstream_failure_level(u), LOG_TLS,
			"upstream '%s': TCP connect failed: %s", u->name, uv_strerror(status));
		u->stats.conn_failures++;
		tcp_fail(c, TLS_ERR_CONNECT, "TCP connect failed");
		return;
	}
	c->state = PTCP_READY;
	c->last_rx = uv_now(u->loop);
	c->timer_mode = PTCP_TIMER_IDLE; /* so that the update below arms liveness afresh */
	tcp_send_waiting(c);
	tcp_timer_update(c);
}

static void plain_release(struct tls_plain *px);

/* Both the stream and the timer are closed: queries still here learn now. */
static void tcp_free(struct plain_tcp *c)
{
	struct tls_plain *px = c->px;
	struct plain_tcp **pp = &px->tcps;

	queue_fail_all(&c->q, c->close_status);
	while (*pp != c) {
		pp = &(*pp)->next;
	}
	*pp = c->next;
	dns_frame_free(&c->frame);
	free(c->q.ids);
	free(c);
	plain_release(px);
}

static void on_tcp_timer_closed(uv_handle_t *h)
{
	struct plain_tcp *c = h->data;

	c->timer_open = false;
	if (!c->stream_open) {
		tcp_free(c);
	}
}

static void on_tcp_closed(struct stream *st)
{
	struct plain_tcp *c = st->owner;

	c->stream_open = false;
	if (!c->timer_open) {
		tcp_free(c);
	}
}

static const struct stream_ops tcp_stream_ops = {
	.on_connect = on_tcp_connect,
	.on_data = on_tcp_data,
	.on_eof = on_tcp_eof,
	.on_error = on_tcp_error,
	.on_closed = on_tcp_closed,
};

static int tcp_open(struct tls_plain *px, struct plain_tcp **out)
{
	struct tls_upstream *u = px->up;
	struct plain_tcp *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		return -ENOMEM;
	}
	c->px = px;
	c->close_status = TLS_ERR_LOST;
	dns_frame_init(&c->frame);
	if (queue_init(&c->q, px, c, u->max_in_flight) != 0) {
		free(c);
		return -ENOMEM;
	}
	/* Answers of up to 64 KiB are reassembled in the frame; the stream reads 16 KiB at once. */
	ret = stream_open(&c->st, u->loop, (const struct sockaddr *)&u->addr, 16 * 1024,
			  u->liveness_ms, &tcp_stream_ops, c);
	if (ret != 0) {
		log_msg(tls_upstream_failure_level(u), LOG_TLS,
			"upstream '%s': TCP connect failed: %s", u->name, uv_strerror(ret));
		free(c->q.ids);
		free(c);
		return ret;
	}
	/* From here on the connection is freed by closing its stream and timer. */
	c->stream_open = true;
	uv_timer_init(u->loop, &c->timer);
	c->timer.data = c;
	c->timer_open = true;
	c->next = px->tcps;
	px->tcps = c;
	u->stats.connections++;
	c->timer_mode = PTCP_TIMER_CONNECT;
	uv_timer_start(&c->timer, on_tcp_timer, u->handshake_timeout_ms, 0);
	log_debug(LOG_TLS, "upstream '%s': truncated over UDP, connecting over TCP", u->name);
	*out = c;
	return 0;
}

static void tcp_submit(struct tls_plain *px, struct tls_query *q)
{
	struct plain_tcp *c = px->tcp;

	if (!c) {
		if (tcp_open(px, &c) != 0) {
			plain_defer(px, q, TLS_ERR_CONNECT);
			return;
		}
		px->tcp = c;
	}
	queue_push(&c->q, q);
	if (c->state == PTCP_READY) {
		tcp_send_waiting(c);
	}
}

/* --- the upstream's side --- */

/* Once the UDP socket, the timer and every TCP connection have closed: free, then the upstream. */
static void plain_release(struct tls_plain *px)
{
	struct tls_upstream *u = px->up;

	if (px->handles_open > 0 || px->tcps || !u || !u->closing) {
		return;
	}
	free(px->udpq.ids);
	free(px);
	tls_upstream_plain_freed(u);
}

static void on_plain_closed(uv_handle_t *h)
{
	struct tls_plain *px = h->data;
	struct tls_query *q;

	if (--px->handles_open > 0) {
		return;
	}
	REQUIRE(px->sends_pending == 0);
	if (!px->up) {
		free(px->udpq.ids); /* the open failed: nobody else knows of it */
		free(px);
		return;
	}
	while ((q = queue_pop(&px->failed)) != NULL) {
		q->pq = NULL;
		q->cb(q, q->status, NULL, 0, NULL);
	}
	queue_fail_all(&px->udpq, TLS_ERR_LOST);
	plain_release(px);
}

int tls_plain_open(struct tls_upstream *u)
{
	struct tls_plain *px = calloc(1, sizeof(*px));
	int ret;

	if (!px) {
		return -ENOMEM;
	}
	px->up = u;
	px->failed.px = px;
	if (queue_init(&px->udpq, px, NULL, u->max_in_flight) != 0) {
		free(px);
		return -ENOMEM;
	}
	ret = uv_udp_init(u->loop, &px->udp);
	if (ret != 0) {
		free(px->udpq.ids);
		free(px);
		return ret;
	}
	/* From here on the state is freed by closing its handles. */
	px->udp.data = px;
	uv_timer_init(u->loop, &px->defer);
	px->defer.data = px;
	px->handles_open = 2;
	/* Connected: the kernel picks a random source port and takes datagrams from u only. */
	ret = uv_udp_connect(&px->udp, (const struct sockaddr *)&u->addr);
	if (ret == 0) {
		ret = uv_udp_recv_start(&px->udp, on_udp_alloc, on_udp_recv);
	}
	if (ret != 0) {
		log_warn(LOG_TLS, "upstream '%s': UDP socket: %s", u->name, uv_strerror(ret));
		px->up = NULL;
		uv_close((uv_handle_t *)&px->udp, on_plain_closed);
		uv_close((uv_handle_t *)&px->defer, on_plain_closed);
		return ret;
	}
	u->px = px;
	return 0;
}

void tls_plain_query(struct tls_upstream *u, struct tls_query *q)
{
	queue_push(&u->px->udpq, q);
	udp_send_waiting(u->px);
}

void tls_plain_cancel(struct tls_query *q)
{
	struct tls_plain_queue *pq = q->pq;

	if (q->in_flight) {
		queue_unlink(pq, q);
	} else {
		queue_remove_waiting(pq, q);
	}
	q->pq = NULL;
	/* Its place is free: a waiting query may take it (any failure is deferred). */
	if (pq->px->up->closing) {
		return;
	}
	if (pq == &pq->px->udpq) {
		udp_send_waiting(pq->px);
	} else if (pq->tcp) {
		tcp_send_waiting(pq->tcp);
	}
}

void tls_plain_close(struct tls_upstream *u)
{
	struct tls_plain *px = u->px;

	uv_udp_recv_stop(&px->udp);
	uv_close((uv_handle_t *)&px->udp, on_plain_closed);
	uv_close((uv_handle_t *)&px->defer, on_plain_closed);
	for (struct plain_tcp *c = px->tcps; c; c = c->next) {
		tcp_close(c, TLS_ERR_LOST);
	}
}

void tls_plain_stats(const struct tls_upstream *u, struct tls_upstream_stats *out)
{
	const struct tls_plain *px = u->px;

	out->in_flight += px->udpq.n_in_flight;
	out->queued += px->udpq.n_waiting;
	for (const struct plain_tcp *c = px->tcps; c; c = c->next) {
		out->in_flight += c->q.n_in_flight;
		out->queued += c->q.n_waiting;
		if (c->state < PTCP_CLOSED) {
			out->conns_open++;
		}
	}
}

enum tls_upstream_state tls_plain_state(const struct tls_upstream *u)
{
	return u->px->answered && u->failures == 0 ? TLS_UPSTREAM_UP : TLS_UPSTREAM_IDLE;
}

/* --- events of the path (tls_upstream_network_changed, tls_upstream_addr_gone) --- */

/*
 * Connect the UDP socket again: the kernel chose its source address at connect() and keeps it,
 * so after a renumbering it would go on sending from an address that is gone. Disconnecting
 * (connect() with AF_UNSPEC) forgets it; the port stays, so answers still due arrive.
 */
static void udp_reconnect(struct tls_plain *px)
{
	struct tls_upstream *u = px->up;
	int ret;

	uv_udp_connect(&px->udp, NULL);
	ret = uv_udp_connect(&px->udp, (const struct sockaddr *)&u->addr);
	if (ret != 0) {
		/* No route now (a link down): the next send says so and fails over. */
		log_info(LOG_TLS, "upstream '%s': UDP socket: %s", u->name, uv_strerror(ret));
	}
}

static bool tcp_uses_local(struct plain_tcp *c, const struct sockaddr *addr)
{
	return c->state < PTCP_CLOSED && stream_uses_local(&c->st, addr);
}

void tls_plain_network_changed(struct tls_upstream *u)
{
	struct tls_plain *px = u->px;

	udp_reconnect(px);
	/* An idle TCP connection is dropped; a busy one is timed by liveness as before. */
	for (struct plain_tcp *c = px->tcps; c; c = c->next) {
		if (c->state == PTCP_READY && c->q.n_in_flight == 0 && c->q.n_waiting == 0) {
			tcp_close(c, TLS_ERR_LOST);
		}
	}
}

void tls_plain_addr_gone(struct tls_upstream *u, const struct sockaddr *addr)
{
	struct tls_plain *px = u->px;
	struct sockaddr_storage l;
	struct tls_query *q;
	unsigned cursor = 0;
	int len = sizeof(l);

	if (uv_udp_getsockname(&px->udp, (struct sockaddr *)&l, &len) == 0 &&
	    stream_same_ip((const struct sockaddr *)&l, addr)) {
		udp_reconnect(px);
		/* What was sent from the removed address is lost: send it again, fresh IDs. */
		while ((q = queue_take_written(&px->udpq, &cursor)) != NULL) {
			queue_push(&px->udpq, q);
		}
		udp_send_waiting(px);
	}
	for (struct plain_tcp *c = px->tcps; c; c = c->next) {
		if (tcp_uses_local(c, addr)) {
			tcp_close(c, TLS_ERR_LOST);
		}
	}
}
