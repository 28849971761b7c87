/*
 * tls_upstream: one configured DoT upstream and its connection.
 *
 * The upstream keeps one connection open and sends every query over it, pipelined (RFC 7766
 * §6.2.1.1, §6.2.2: one connection per upstream is RECOMMENDED). When the connection closes
 * (idle, server close, error) the next query opens a new one.
 *
 * Lifetime: created by tls_upstream_new(); tls_upstream_close() closes its connections, and the
 * upstream is freed when the last of them reports, from its last close callback, that it is gone.
 */
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "log.h"
#include "tls_int.h"

int tls_upstream_new(uv_loop_t *loop, struct tls_client *client,
		     const struct tls_upstream_params *p, struct tls_upstream **out)
{
	struct tls_upstream *u;

	if (p->addr_len > sizeof(u->addr) || p->max_in_flight == 0 ||
	    p->max_in_flight > TLS_SLOTS / 2) {
		return -EINVAL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		return -ENOMEM;
	}
	u->loop = loop;
	u->client = client;
	memcpy(&u->addr, p->addr, p->addr_len);
	u->addr_len = p->addr_len;
	u->name = strdup(p->name);
	u->auth_name = p->auth_name ? strdup(p->auth_name) : NULL;
	if (p->n_pins > 0) {
		u->pins = calloc(p->n_pins, TLS_PIN_LEN);
		if (u->pins) {
			memcpy(u->pins, p->pins, p->n_pins * TLS_PIN_LEN);
			u->n_pins = p->n_pins;
		}
	}
	if (!u->name || (p->auth_name && !u->auth_name) || (p->n_pins > 0 && !u->pins)) {
		free(u->name);
		free(u->auth_name);
		free(u->pins);
		free(u);
		return -ENOMEM;
	}
	u->strict = p->strict;
	u->idle_timeout_ms = p->idle_timeout_ms;
	u->handshake_timeout_ms = p->handshake_timeout_ms;
	u->max_in_flight = p->max_in_flight;
	*out = u;
	return 0;
}

static void upstream_free(struct tls_upstream *u)
{
	void (*cb)(void *) = u->on_closed;
	void *arg = u->on_closed_arg;

	free(u->name);
	free(u->auth_name);
	free(u->pins);
	free(u);
	if (cb) {
		cb(arg);
	}
}

void tls_upstream_close(struct tls_upstream *u, void (*on_closed)(void *arg), void *arg)
{
	REQUIRE(!u->closing);
	u->closing = true;
	u->on_closed = on_closed;
	u->on_closed_arg = arg;
	if (!u->conns) {
		upstream_free(u);
		return;
	}
	for (struct tls_conn *c = u->conns; c; c = c->next) {
		tls_conn_abort(c, TLS_ERR_LOST);
	}
}

void tls_upstream_conn_freed(struct tls_upstream *u, struct tls_conn *c)
{
	struct tls_conn **pp = &u->conns;

	while (*pp && *pp != c) {
		pp = &(*pp)->next;
	}
	REQUIRE(*pp == c);
	*pp = c->next;
	if (u->closing && !u->conns) {
		upstream_free(u);
	}
}

const char *tls_upstream_name(const struct tls_upstream *u)
{
	return u->name;
}

void tls_upstream_stats_get(const struct tls_upstream *u, struct tls_upstream_stats *out)
{
	*out = u->stats;
}

int tls_upstream_query(struct tls_upstream *u, struct tls_query *q)
{
	struct dns_question question;
	struct tls_conn *c;
	int ret;

	if (u->closing) {
		return -ESHUTDOWN;
	}
	if (q->frame_len < 2 + DNS_HDR_LEN || dns_get16(q->frame) != q->frame_len - 2 ||
	    dns_question_parse(q->frame + 2, q->frame_len - 2, &question) != 0) {
		return -EINVAL;
	}
	q->qend = question.end;
	q->conn = NULL;
	q->in_flight = false;
	for (c = u->conns; c; c = c->next) {
		if (tls_conn_usable(c)) {
			break;
		}
	}
	if (!c) {
		ret = tls_conn_open(u, &c);
		if (ret != 0) {
			return ret;
		}
	}
	tls_conn_submit(c, q);
	return 0;
}
