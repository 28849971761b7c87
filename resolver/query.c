/*
 * query: one client query, from its arrival to its answer.
 *
 *   query_receive -> dns_msg_check_query -> (answer here | forward)
 *   forward: build the upstream frame once -> try: upstream_pick -> tls_upstream_query
 *   leg answered well: dns_msg_client_answer -> the client's transport -> free
 *   leg failed (connection refused, lost, silent, authentication, garbage), or answered
 *     SERVFAIL, REFUSED or with TC: the next upstream is tried at once
 *   no answer within timeout_per_try: the next upstream is tried too, the earlier tries stay
 *     open, and the first good answer wins (RFC 8767 §5 calls this the client response timer)
 *   deadline (config timeout): SERVFAIL with an Extended DNS Error saying why
 *
 * Each upstream is tried at most once per query. Every query is answered (RFC 8906).
 *
 * Timers: queries sit in two lists, by overall deadline (arrival order: one timeout for all)
 * and by try deadline (a query moves to the tail when it starts a try: one timeout_per_try for
 * all). Both lists are therefore sorted, and one timer at the earlier head serves them.
 *
 * Memory: one allocation per forwarded query holds the struct, the client's message, the
 * upstream frame (shared by every try: tls/ writes each try's ID just before encrypting it) and
 * the bitmap of upstreams tried. It is freed when the answer has gone to the transport.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resolver.h"

#define QUERY_MAX_LEGS 4 /* tries in flight at once for one query */

struct query;

struct query_leg {
	struct tls_query tq; /**< first: the callback finds the leg from it */
	struct query *q;
	bool active;
};

struct query {
	struct resolver *r;
	struct listener *udp;	      /**< borrowed; listeners outlive queries */
	struct sockaddr_storage peer; /**< UDP peer */
	struct client_tcp *tcp;	      /**< referenced, or NULL */
	struct dns_client_query cq;   /**< cq.msg points into this allocation */
	uint8_t *frame;		      /**< the upstream query, in this allocation */
	size_t frame_len;
	uint8_t *tried; /**< bitmap of upstreams tried, in this allocation */
	struct query_leg legs[QUERY_MAX_LEGS];
	unsigned n_active;
	int last_error;	   /**< TLS_ERR_* of the latest failed try */
	uint64_t deadline; /**< loop time (ms) */
	uint64_t try_deadline;
	bool in_try_list;
	struct query *prev, *next;   /**< in the resolver's deadline list */
	struct query *tprev, *tnext; /**< in the resolver's try list */
	uint8_t data[];
};

/* --- the two lists --- */

static void try_list_remove(struct query *q)
{
	struct resolver *r = q->r;

	if (!q->in_try_list) {
		return;
	}
	if (q->tprev) {
		q->tprev->tnext = q->tnext;
	} else {
		r->t_head = q->tnext;
	}
	if (q->tnext) {
		q->tnext->tprev = q->tprev;
	} else {
		r->t_tail = q->tprev;
	}
	q->tprev = q->tnext = NULL;
	q->in_try_list = false;
}

static void timer_arm(struct resolver *r);

static void try_list_append(struct query *q)
{
	struct resolver *r = q->r;

	try_list_remove(q);
	q->try_deadline = uv_now(r->loop) + r->cfg->timeout_per_try_ms;
	q->tprev = r->t_tail;
	if (r->t_tail) {
		r->t_tail->tnext = q;
	} else {
		r->t_head = q;
	}
	r->t_tail = q;
	q->in_try_list = true;
}

static void query_free(struct query *q)
{
	struct resolver *r = q->r;

	try_list_remove(q);
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
	if (q->tcp) {
		client_tcp_unref(q->tcp);
	}
	free(q);
}

static void legs_cancel(struct query *q)
{
	for (unsigned i = 0; i < QUERY_MAX_LEGS; i++) {
		if (q->legs[i].active) {
			tls_query_cancel(&q->legs[i].tq);
			q->legs[i].active = false;
		}
	}
	q->n_active = 0;
}

/* --- answering --- */

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

/* SERVFAIL with the Extended DNS Error that says why (RFC 8914 §4), then free. */
static void query_fail(struct query *q, int status)
{
	struct query_origin to;
	const char *text;
	int ede;

	switch (status) {
	case TLS_ERR_AUTH:
		ede = DNS_EDE_NO_REACHABLE;
		text = "upstream TLS authentication failed";
		break;
	case TLS_ERR_CONNECT:
		ede = DNS_EDE_NETWORK_ERROR;
		text = "upstream TLS connection failed";
		break;
	case TLS_ERR_PROTO:
		ede = DNS_EDE_NETWORK_ERROR;
		text = "upstream sent a broken answer";
		break;
	case -ETIME:
		ede = DNS_EDE_NO_REACHABLE;
		text = "no answer from upstream in time";
		break;
	default:
		ede = DNS_EDE_NETWORK_ERROR;
		text = "upstream connection lost";
		break;
	}
	legs_cancel(q);
	query_origin_of(q, &to);
	q->r->stats.servfail++;
	answer_error(q->r, &to, &q->cq, DNS_RCODE_SERVFAIL, ede, text);
	query_free(q);
}

/* Pass the upstream's answer on to the client, then free. */
static void query_answer(struct query *q, const uint8_t *ans, size_t len,
			 const struct dns_opt *aopt)
{
	struct resolver *r = q->r;
	struct query_origin to;
	size_t max_len, out_len;

	legs_cancel(q);
	query_origin_of(q, &to);
	max_len = q->tcp ? DNS_MAX_MSG : dns_msg_udp_limit(&q->cq);
	if (dns_msg_client_answer(&q->cq, ans, len, aopt, max_len, r->out + 2, DNS_MAX_MSG + 64,
				  &out_len) != 0 ||
	    out_len > DNS_MAX_MSG) {
		log_info(LOG_QUERY, "answer from upstream cannot be passed on");
		query_fail(q, TLS_ERR_PROTO);
		return;
	}
	if (dns_flags(r->out + 2) & DNS_TC) {
		r->stats.truncated++;
	}
	r->stats.answers++;
	answer_send(r, &to, out_len);
	query_free(q);
}

/* --- trying upstreams --- */

static void on_leg_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			  const struct dns_opt *aopt);

/* Start a try on the next upstream. false when every upstream has been tried. */
static bool query_try_next(struct query *q)
{
	struct resolver *r = q->r;

	for (;;) {
		struct query_leg *leg = NULL;
		struct tls_upstream *u;
		int i, ret;

		for (unsigned k = 0; k < QUERY_MAX_LEGS; k++) {
			if (!q->legs[k].active) {
				leg = &q->legs[k];
				break;
			}
		}
		if (!leg) {
			return true; /* enough tries in flight; the next timer looks again */
		}
		i = upstream_pick(r->upstreams, q->tried);
		if (i < 0) {
			try_list_remove(q);
			return false;
		}
		q->tried[i / 8] |= (uint8_t)(1u << (i % 8));
		u = upstream_get(r->upstreams, (size_t)i);
		memset(&leg->tq, 0, sizeof(leg->tq));
		leg->tq.frame = q->frame;
		leg->tq.frame_len = q->frame_len;
		leg->tq.cb = on_leg_answer;
		leg->q = q;
		ret = tls_upstream_query(u, &leg->tq);
		if (ret != 0) {
			log_info(LOG_QUERY, "upstream '%s' cannot take the query: %s",
				 tls_upstream_name(u), strerror(-ret));
			q->last_error = TLS_ERR_CONNECT;
			continue;
		}
		leg->active = true;
		q->n_active++;
		r->stats.tries++;
		try_list_append(q);
		timer_arm(r);
		return true;
	}
}

/* A try failed or gave an answer not worth passing on while others may do better. */
static bool query_retry(struct query *q, int status)
{
	q->last_error = status;
	if (query_try_next(q)) {
		return true;
	}
	return q->n_active > 0; /* others still under way */
}

/* An answer that another upstream may improve on (RFC 8767 §4 counts these as failures). */
static bool answer_is_failure(const uint8_t *ans)
{
	unsigned rcode = dns_rcode(ans);

	/* TC over TLS means the upstream is broken (rfc-checklist C7). */
	return rcode == DNS_RCODE_SERVFAIL || rcode == DNS_RCODE_REFUSED ||
	       (dns_flags(ans) & DNS_TC);
}

static void on_leg_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			  const struct dns_opt *aopt)
{
	struct query_leg *leg = (struct query_leg *)tq;
	struct query *q = leg->q;

	leg->active = false;
	q->n_active--;
	if (status != 0) {
		log_debug(LOG_QUERY, "try failed (%s), %u tries left under way", strerror(-status),
			  q->n_active);
		if (!query_retry(q, status)) {
			query_fail(q, q->last_error);
		}
		return;
	}
	if (answer_is_failure(ans)) {
		if (query_retry(q, TLS_ERR_PROTO)) {
			return;
		}
		if (!(dns_flags(ans) & DNS_TC)) {
			/* The last word: the upstream's own SERVFAIL or REFUSED, with its EDE. */
			query_answer(q, ans, len, aopt);
			return;
		}
		query_fail(q, TLS_ERR_PROTO);
		return;
	}
	query_answer(q, ans, len, aopt);
}

/* --- timers --- */

static void on_query_timer(uv_timer_t *t);

static void timer_arm(struct resolver *r)
{
	uint64_t now = uv_now(r->loop);
	uint64_t when = UINT64_MAX;

	if (r->q_head) {
		when = r->q_head->deadline;
	}
	if (r->t_head && r->t_head->try_deadline < when) {
		when = r->t_head->try_deadline;
	}
	if (when == UINT64_MAX) {
		uv_timer_stop(&r->q_timer);
		return;
	}
	uv_timer_start(&r->q_timer, on_query_timer, when > now ? when - now : 0, 0);
}

static void on_query_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;
	uint64_t now = uv_now(r->loop);

	while (r->q_head && r->q_head->deadline <= now) {
		log_debug(LOG_QUERY, "query timed out after %u ms", r->cfg->timeout_ms);
		query_fail(r->q_head, -ETIME);
	}
	while (r->t_head && r->t_head->try_deadline <= now) {
		struct query *q = r->t_head;

		/* Slow: ask the next upstream too, and keep waiting for this one. */
		try_list_remove(q);
		if (query_try_next(q) && q->in_try_list) {
			r->stats.hedged++;
		}
	}
	timer_arm(r);
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

/* --- arrival --- */

static void query_forward(struct resolver *r, const struct query_origin *from,
			  const struct dns_client_query *cq)
{
	size_t frame_cap = 2 + cq->q.end + 64 + r->opts.padding_blocksize;
	size_t tried_len = (upstream_count(r->upstreams) + 7) / 8;
	struct query *q;
	int ret;

	q = malloc(sizeof(*q) + cq->len + frame_cap + tried_len);
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
	q->frame = q->data + cq->len;
	q->tried = q->frame + frame_cap;
	memset(q->tried, 0, tried_len);
	ret = dns_msg_upstream_query(&q->cq, &r->opts, q->frame, frame_cap, &q->frame_len);
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
	}
	r->q_tail = q;
	r->stats.forwarded++;
	if (!query_try_next(q)) {
		query_fail(q, q->last_error ? q->last_error : TLS_ERR_CONNECT);
		return;
	}
	timer_arm(r);
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

		legs_cancel(q);
		query_free(q);
	}
	uv_timer_stop(&r->q_timer);
}
