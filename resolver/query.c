/*
 * query: one client query, from its arrival to its answer.
 *
 *   query_receive -> dns_msg_check_query -> (answer here | forward)
 *   forward: build the upstream frame -> upstream_pick -> tls_upstream_query
 *   on_upstream_answer: dns_msg_client_answer -> send on the client's transport -> free
 *   deadline (config timeout): cancel upstream leg -> SERVFAIL with an Extended DNS Error
 *
 * Every query is answered (RFC 8906): with the upstream's answer, or SERVFAIL saying why.
 * Queries in flight sit in one list in arrival order; since they all get the same timeout that
 * is also deadline order, so one timer serves them all.
 *
 * Memory: one allocation per forwarded query holds the struct, the client's message and the
 * upstream frame. It is freed when the answer has been handed to the transport.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resolver.h"

struct query {
	struct resolver *r;
	struct listener *udp;	      /**< borrowed; listeners outlive queries */
	struct sockaddr_storage peer; /**< UDP peer */
	struct client_tcp *tcp;	      /**< referenced, or NULL */
	struct dns_client_query cq;   /**< cq.msg points into this allocation */
	struct tls_query up;	      /**< up.frame points into this allocation */
	uint64_t deadline;	      /**< loop time (ms) */
	struct query *prev, *next;    /**< in the resolver's list */
	uint8_t data[];		      /**< the client's message, then the upstream frame */
};

static void query_unlink(struct query *q)
{
	struct resolver *r = q->r;

	if (q->prev) {
		q->prev->next = q->next;
	} else {
		r->q_head = q->next;
	}
	if (q->next) {
		q->next->prev = q->prev;
	} else {
		r->q_tail = q->prev;
	}
	q->prev = q->next = NULL;
}

static void query_free(struct query *q)
{
	query_unlink(q);
	if (q->tcp) {
		client_tcp_unref(q->tcp);
	}
	free(q);
}

/* Send a finished answer (in r->out after a 2-octet gap) back where the query came from. */
static void answer_send(struct resolver *r, const struct query_origin *to, size_t len)
{
	uint8_t *msg = r->out + 2;

	if (to->tcp) {
		dns_put16(r->out, (uint16_t)len);
		client_tcp_send(to->tcp, r->out, 2 + len);
	} else {
		listener_udp_send(to->udp, to->peer, msg, len);
	}
}

static void answer_error(struct resolver *r, const struct query_origin *to,
			 const struct dns_client_query *cq, unsigned rcode, int ede,
			 const char *text)
{
	size_t len;

	if (dns_msg_error(cq, rcode, ede, text, r->out + 2, DNS_MAX_MSG, &len) != 0) {
		return; /* cannot happen: an error answer is at most the question plus 300 bytes */
	}
	answer_send(r, to, len);
}

static void query_origin_of(const struct query *q, struct query_origin *to)
{
	to->udp = q->udp;
	to->peer = (const struct sockaddr *)&q->peer;
	to->tcp = q->tcp;
}

static void query_fail(struct query *q, int ede, const char *text)
{
	struct query_origin to;

	query_origin_of(q, &to);
	q->r->stats.servfail++;
	answer_error(q->r, &to, &q->cq, DNS_RCODE_SERVFAIL, ede, text);
	query_free(q);
}

static void on_upstream_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			       const struct dns_opt *aopt)
{
	struct query *q = (struct query *)((char *)tq - offsetof(struct query, up));
	struct resolver *r = q->r;
	struct query_origin to;
	size_t max_len, out_len;

	switch (status) {
	case 0:
		break;
	case TLS_ERR_AUTH:
		query_fail(q, DNS_EDE_NO_REACHABLE, "upstream TLS authentication failed");
		return;
	case TLS_ERR_CONNECT:
		query_fail(q, DNS_EDE_NETWORK_ERROR, "upstream TLS connection failed");
		return;
	default:
		query_fail(q, DNS_EDE_NETWORK_ERROR, "upstream connection lost");
		return;
	}
	query_origin_of(q, &to);
	max_len = q->tcp ? DNS_MAX_MSG : dns_msg_udp_limit(&q->cq);
	if (dns_msg_client_answer(&q->cq, ans, len, aopt, max_len, r->out + 2, DNS_MAX_MSG + 64,
				  &out_len) != 0) {
		log_info(LOG_QUERY, "answer from upstream cannot be passed on");
		query_fail(q, DNS_EDE_OTHER, "upstream answer unusable");
		return;
	}
	if (out_len > DNS_MAX_MSG) {
		query_fail(q, DNS_EDE_OTHER, "upstream answer too large");
		return;
	}
	if (dns_flags(r->out + 2) & DNS_TC) {
		r->stats.truncated++;
	}
	r->stats.answers++;
	answer_send(r, &to, out_len);
	query_free(q);
}

static void on_query_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;
	uint64_t now = uv_now(r->loop);

	while (r->q_head && r->q_head->deadline <= now) {
		struct query *q = r->q_head;

		tls_query_cancel(&q->up);
		log_debug(LOG_QUERY, "query timed out after %u ms", r->cfg->timeout_ms);
		query_fail(q, DNS_EDE_NO_REACHABLE, "no answer from upstream in time");
	}
	if (r->q_head) {
		uv_timer_start(&r->q_timer, on_query_timer, r->q_head->deadline - now, 0);
	}
}

int query_timer_init(struct resolver *r)
{
	int ret = uv_timer_init(r->loop, &r->q_timer);

	if (ret == 0) {
		r->q_timer.data = r;
		r->handles_open++;
	}
	return ret;
}

static void query_forward(struct resolver *r, const struct query_origin *from,
			  const struct dns_client_query *cq)
{
	size_t frame_cap = 2 + cq->q.end + 64 + r->opts.padding_blocksize;
	struct tls_upstream *u;
	struct query *q;
	int ret;

	q = malloc(sizeof(*q) + cq->len + frame_cap);
	if (!q) {
		answer_error(r, from, cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "out of memory");
		return;
	}
	memset(q, 0, sizeof(*q));
	q->r = r;
	q->udp = from->udp;
	if (from->peer) {
		memcpy(&q->peer, from->peer,
		       from->peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							 : sizeof(struct sockaddr_in));
	}
	memcpy(q->data, cq->msg, cq->len);
	q->cq = *cq;
	q->cq.msg = q->data;
	q->up.frame = q->data + cq->len;
	q->up.cb = on_upstream_answer;
	ret = dns_msg_upstream_query(&q->cq, &r->opts, q->up.frame, frame_cap, &q->up.frame_len);
	if (ret != 0) {
		answer_error(r, from, cq, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, NULL);
		free(q);
		return;
	}
	if (from->tcp) {
		q->tcp = from->tcp;
		client_tcp_ref(q->tcp);
	}
	q->deadline = uv_now(r->loop) + r->cfg->timeout_ms;
	q->prev = r->q_tail;
	if (r->q_tail) {
		r->q_tail->next = q;
	} else {
		r->q_head = q;
		uv_timer_start(&r->q_timer, on_query_timer, r->cfg->timeout_ms, 0);
	}
	r->q_tail = q;
	r->stats.forwarded++;

	u = upstream_pick(r->upstreams);
	ret = tls_upstream_query(u, &q->up);
	if (ret != 0) {
		log_info(LOG_QUERY, "upstream '%s' cannot take the query: %s", tls_upstream_name(u),
			 strerror(-ret));
		query_fail(q, DNS_EDE_NETWORK_ERROR, "upstream unreachable");
	}
}

void query_receive(struct resolver *r, const struct query_origin *from, const uint8_t *msg,
		   size_t len)
{
	struct dns_client_query cq;
	unsigned rcode;

	if (r->stopping) {
		return;
	}
	if (from->tcp) {
		r->stats.queries_tcp++;
	} else {
		r->stats.queries_udp++;
	}
	switch (dns_msg_check_query(msg, len, &cq, &rcode)) {
	case DNS_CHECK_DROP:
		r->stats.dropped++;
		return;
	case DNS_CHECK_ANSWER:
		r->stats.answered_here++;
		answer_error(r, from, &cq, rcode, -1, NULL);
		return;
	case DNS_CHECK_OK:
		query_forward(r, from, &cq);
		return;
	}
}

void query_drop_all(struct resolver *r)
{
	while (r->q_head) {
		struct query *q = r->q_head;

		tls_query_cancel(&q->up);
		query_free(q);
	}
	uv_timer_stop(&r->q_timer);
}
