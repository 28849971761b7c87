/*
 * tls_upstream: one configured DoT upstream, its pool of connections, its stored sessions and
 * its health.
 *
 * Pool key. An upstream is one entry of the configuration: address, port, authentication name,
 * pin set, and the shared TLS parameters. Connections and session tickets belong to it alone,
 * so two upstreams on one IP with different names never share either (the Unbound fix of 2026;
 * RFC 8446 §2.2 binds a PSK to the identity it authenticated).
 *
 * Connections. Queries go to the open connection with the fewest outstanding, up to
 * max_in_flight each (RFC 7766 §6.2.1.1 pipelining); when all are full another opens, up to
 * max_conns (§6.2.2 asks for few). Beyond that they wait on the least loaded.
 *
 * Health (RFC 7858 §3.1). Failures (connect, handshake, authentication, a silent connection,
 * garbage) count up; from failures_before_backoff on, the upstream is backed off for 1 s,
 * doubling up to backoff_max_ms. An answer resets it. A server closing an idle connection is
 * not a failure. Backoff only orders the choice of upstream (resolver/upstream.c): when every
 * upstream is backed off, the one that recovers first is still tried.
 *
 * Addresses. A configured address is the upstream's one address. A host name upstream starts
 * with none ("resolving": never available, so never chosen) and gets those of its name from
 * resolver/hostname.c, again whenever their TTL runs out. New connections go to the current
 * one; a connection that fails before it is authenticated moves the current one on, round the
 * list, so that one dead address of several costs one failure, not every connection. New
 * addresses leave the connections to the ones that stay alone and drain the others.
 *
 * Plain upstreams (tls_upstream_new_plain) share this object, its health, RTT and counters; their
 * transport is tls_plain.c, to which the functions below hand over when u->plain is set. A
 * bootstrap upstream (tls_upstream_new_bootstrap) is a plain one for any address, which takes
 * address lookups only.
 *
 * Lifetime: created by tls_upstream_new(); tls_upstream_close() closes its connections, and the
 * upstream is freed when the last of them reports, from its last close callback, that it is gone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "log.h"
#include "tls_int.h"

#define MAX_IN_FLIGHT_LIMIT 32768 /* half the ID space: a free ID is always found at once */

/* What both kinds share: the address, the name, the limits. */
static struct tls_upstream *upstream_alloc(uv_loop_t *loop, const struct tls_upstream_params *p)
{
	struct tls_upstream *u = calloc(1, sizeof(*u));

	if (!u) {
		return NULL;
	}
	u->name = strdup(p->name);
	if (!u->name) {
		free(u);
		return NULL;
	}
	u->loop = loop;
	if (p->addr_len > 0) {
		u->addrs = malloc(sizeof(*u->addrs));
		if (!u->addrs) {
			free(u->name);
			free(u);
			return NULL;
		}
		memcpy(&u->addr, p->addr, p->addr_len);
		u->addr_len = p->addr_len;
		u->addrs[0] = u->addr;
		u->n_addrs = 1;
	}
	u->idle_timeout_ms = p->idle_timeout_ms;
	u->handshake_timeout_ms = p->handshake_timeout_ms;
	u->liveness_ms = p->liveness_ms;
	u->max_in_flight = p->max_in_flight;
	u->max_conns = p->max_conns;
	u->failures_before_backoff = p->failures_before_backoff;
	u->backoff_max_ms = p->backoff_max_ms;
	return u;
}

int tls_upstream_new(uv_loop_t *loop, struct tls_client *client,
		     const struct tls_upstream_params *p, struct tls_upstream **out)
{
	struct tls_upstream *u;

	if (p->addr_len > sizeof(u->addr) || (p->addr_len > 0 && !p->addr) ||
	    p->max_in_flight == 0 || p->max_in_flight > MAX_IN_FLIGHT_LIMIT || p->max_conns == 0) {
		return -EINVAL;
	}
	u = upstream_alloc(loop, p);
	if (!u) {
		return -ENOMEM;
	}
	u->client = client;
	u->auth_name = p->auth_name ? strdup(p->auth_name) : NULL;
	if (p->n_pins > 0) {
		u->pins = calloc(p->n_pins, TLS_PIN_LEN);
		if (u->pins) {
			memcpy(u->pins, p->pins, p->n_pins * TLS_PIN_LEN);
			u->n_pins = p->n_pins;
		}
	}
	if ((p->auth_name && !u->auth_name) || (p->n_pins > 0 && !u->pins)) {
		free(u->name);
		free(u->auth_name);
		free(u->pins);
		free(u->addrs);
		free(u);
		return -ENOMEM;
	}
	u->strict = p->strict;
	u->accept_pinned_unset_clock = p->accept_pinned_unset_clock;
	*out = u;
	return 0;
}

/* A plain upstream for @p, whatever its address: the callers below decide which they allow. */
static int plain_new(uv_loop_t *loop, const struct tls_upstream_params *p, bool bootstrap,
		     struct tls_upstream **out)
{
	struct tls_upstream *u;
	int ret;

	if (p->max_in_flight == 0 || p->max_in_flight > MAX_IN_FLIGHT_LIMIT) {
		return -EINVAL;
	}
	u = upstream_alloc(loop, p);
	if (!u) {
		return -ENOMEM;
	}
	u->plain = true;
	u->bootstrap = bootstrap;
	ret = tls_plain_open(u);
	if (ret != 0) {
		free(u->name);
		free(u->addrs);
		free(u);
		return ret;
	}
	*out = u;
	return 0;
}

int tls_upstream_new_plain(uv_loop_t *loop, const struct tls_upstream_params *p,
			   struct tls_upstream **out)
{
	/* First of all, before any socket exists: plain DNS goes nowhere but a private network. */
	if (!tls_upstream_plain_allowed(p->addr, p->addr_len)) {
		return -EPERM;
	}
	return plain_new(loop, p, false, out);
}

int tls_upstream_new_bootstrap(uv_loop_t *loop, const struct tls_upstream_params *p,
			       struct tls_upstream **out)
{
	/* Any address the user gave, but an address: a family dotd can send to. */
	if (!p->addr ||
	    !((p->addr->sa_family == AF_INET && p->addr_len == sizeof(struct sockaddr_in)) ||
	      (p->addr->sa_family == AF_INET6 && p->addr_len == sizeof(struct sockaddr_in6)))) {
		return -EINVAL;
	}
	return plain_new(loop, p, true, out);
}

void tls_upstream_tune(struct tls_upstream *u, const struct tls_upstream_params *p)
{
	if (p->max_in_flight == 0 || p->max_in_flight > MAX_IN_FLIGHT_LIMIT || p->max_conns == 0) {
		return; /* tls_upstream_new() would have refused them; config.c never gives them */
	}
	u->idle_timeout_ms = p->idle_timeout_ms;
	u->handshake_timeout_ms = p->handshake_timeout_ms;
	u->liveness_ms = p->liveness_ms;
	u->max_in_flight = p->max_in_flight;
	u->max_conns = p->max_conns;
	u->failures_before_backoff = p->failures_before_backoff;
	u->backoff_max_ms = p->backoff_max_ms;
	u->accept_pinned_unset_clock = p->accept_pinned_unset_clock;
	/* A reload that keeps it also forgets its failed resumptions: the server may be fixed. */
	u->resume_failures = 0;
	u->no_resume = false;
	if (u->tickets) {
		tls_tickets_resume_reset(u->tickets, u->ticket_key, true);
	}
}

int tls_upstream_tickets_share(struct tls_upstream *u, struct tls_tickets *t, const char *key)
{
	char *k = strdup(key);

	if (!k) {
		return -ENOMEM;
	}
	free(u->ticket_key);
	u->ticket_key = k;
	u->tickets = t;
	return 0;
}

static void upstream_free(struct tls_upstream *u)
{
	void (*cb)(void *) = u->on_closed;
	void *arg = u->on_closed_arg;

	/* Shared tickets stay for the other workers' upstreams; its own go with it. */
	u->tickets = NULL;
	tls_upstream_sessions_drop(u);
	free(u->ticket_key);
	free(u->name);
	free(u->auth_name);
	free(u->pins);
	free(u->addrs);
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
	if (u->plain) {
		tls_plain_close(u); /* always has a handle: freed from its close callback */
		return;
	}
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

void tls_upstream_plain_freed(struct tls_upstream *u)
{
	REQUIRE(u->plain && u->closing);
	u->px = NULL;
	upstream_free(u);
}

const char *tls_upstream_name(const struct tls_upstream *u)
{
	return u->name;
}

void tls_upstream_stats_get(const struct tls_upstream *u, struct tls_upstream_stats *out)
{
	*out = u->stats;
	if (u->plain) {
		tls_plain_stats(u, out);
		return;
	}
	/* Walked, not kept up to date on every change: there are at most max_conns. */
	for (const struct tls_conn *c = u->conns; c; c = c->next) {
		out->in_flight += c->n_slots_used;
		out->queued += c->n_waiting;
		if (c->state < TLS_CONN_CLOSED) {
			out->conns_open++;
		}
	}
}

/* A DoT upstream whose host name has not been resolved yet. */
static bool unresolved(const struct tls_upstream *u)
{
	return !u->plain && u->n_addrs == 0;
}

enum tls_upstream_state tls_upstream_state(const struct tls_upstream *u)
{
	enum tls_upstream_state st = TLS_UPSTREAM_IDLE;

	if (unresolved(u)) {
		return TLS_UPSTREAM_RESOLVING;
	}
	if (u->backoff_until > uv_now(u->loop)) {
		return TLS_UPSTREAM_BACKED_OFF;
	}
	if (u->plain) {
		return tls_plain_state(u);
	}
	for (const struct tls_conn *c = u->conns; c; c = c->next) {
		if (c->state == TLS_CONN_READY) {
			return TLS_UPSTREAM_UP;
		}
		if (c->state < TLS_CONN_READY) {
			st = TLS_UPSTREAM_CONNECTING;
		}
	}
	return st;
}

const char *tls_upstream_state_name(enum tls_upstream_state st)
{
	switch (st) {
	case TLS_UPSTREAM_IDLE:
		return "idle";
	case TLS_UPSTREAM_CONNECTING:
		return "connecting";
	case TLS_UPSTREAM_UP:
		return "up";
	case TLS_UPSTREAM_BACKED_OFF:
		return "backed-off";
	case TLS_UPSTREAM_RESOLVING:
		return "resolving";
	}
	return "unknown";
}

uint64_t tls_upstream_available_at(const struct tls_upstream *u)
{
	/* Never rather than now: a try would fail at once, so not even "any" may take it. */
	return unresolved(u) ? TLS_UPSTREAM_NEVER : u->backoff_until;
}

bool tls_upstream_may_try(const struct tls_upstream *u)
{
	uint64_t now = uv_now(u->loop);

	if (!u->tries_limited || u->backoff_until <= now || u->last_resort_at == 0 ||
	    now >= u->last_resort_at + TLS_LAST_RESORT_MS) {
		return true;
	}
	for (const struct tls_conn *c = u->conns; c; c = c->next) {
		if (tls_conn_usable(c)) {
			return true; /* the query goes there, no new connection */
		}
	}
	return false;
}

static socklen_t addr_len_of(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* Whether @a and @b are the same address and port (AF_INET or AF_INET6). */
static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static bool addr_among(const struct sockaddr_storage *a, const struct sockaddr_storage *addrs,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (addr_equal(a, &addrs[i])) {
			return true;
		}
	}
	return false;
}

/* "192.0.2.1" or "2001:db8::1", for logs. */
static const char *addr_text(const struct sockaddr_storage *a, char *buf, size_t size)
{
	const void *ip = a->ss_family == AF_INET
				 ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
				 : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;

	if (!inet_ntop(a->ss_family, ip, buf, (socklen_t)size)) {
		snprintf(buf, size, "?");
	}
	return buf;
}

int tls_upstream_set_addresses(struct tls_upstream *u, const struct sockaddr_storage *addrs,
			       size_t n)
{
	struct sockaddr_storage *copy;
	size_t cur = 0;

	if (u->plain || u->closing || n == 0 || n > TLS_UPSTREAM_MAX_ADDRS) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].ss_family != AF_INET && addrs[i].ss_family != AF_INET6) {
			return -EINVAL;
		}
	}
	copy = malloc(n * sizeof(*copy));
	if (!copy) {
		return -ENOMEM;
	}
	memcpy(copy, addrs, n * sizeof(*copy));
	/* The current address stays current if it is still there: its connections go on. */
	for (size_t i = 0; u->n_addrs > 0 && i < n; i++) {
		if (addr_equal(&copy[i], &u->addr)) {
			cur = i;
			break;
		}
	}
	free(u->addrs);
	u->addrs = copy;
	u->n_addrs = n;
	u->cur = cur;
	u->addr = copy[cur];
	u->addr_len = addr_len_of(&u->addr);
	for (struct tls_conn *c = u->conns; c; c = c->next) {
		if (c->state < TLS_CONN_CLOSING && !addr_among(&c->addr, copy, n)) {
			char text[INET6_ADDRSTRLEN];

			log_debug(LOG_TLS,
				  "upstream '%s': %s is no longer one of its addresses, "
				  "draining its connection",
				  u->name, addr_text(&c->addr, text, sizeof(text)));
			tls_conn_drain(c);
		}
	}
	return 0;
}

void tls_upstream_addr_failed(struct tls_upstream *u, const struct sockaddr_storage *addr)
{
	char was[INET6_ADDRSTRLEN], next[INET6_ADDRSTRLEN];

	/* Another connection to it may have failed first and moved on already. */
	if (u->n_addrs < 2 || !addr_equal(addr, &u->addr)) {
		return;
	}
	u->cur = (u->cur + 1) % u->n_addrs;
	u->addr = u->addrs[u->cur];
	u->addr_len = addr_len_of(&u->addr);
	log_info(LOG_TLS, "upstream '%s': %s failed, trying %s next", u->name,
		 addr_text(addr, was, sizeof(was)), addr_text(&u->addr, next, sizeof(next)));
}

unsigned tls_upstream_srtt(const struct tls_upstream *u)
{
	return u->srtt_ms;
}

/*
 * A failure while @u is backed off comes from a try made because every upstream is (the last
 * resort of resolver/upstream.c): one per query while nothing answers, so that an upstream
 * refusing connections (a firewall's reset on port 853) made two warnings per query, 3,996 for
 * 2,000 misses, enough to push everything else out of a router's log ring. Those are logged
 * at debug; the failures before the backoff, the first after it ran out, and each backoff
 * longer than the last are warnings, and the counters count every one.
 */
int tls_upstream_failure_level(const struct tls_upstream *u)
{
	return u->backoff_until > uv_now(u->loop) ? LOG_DEBUG : LOG_WARNING;
}

/*
 * The backoff after @failures in a row: none before failures_before_backoff, then 1 s, 2 s,
 * 4 s ... up to the cap (Stubby's tls_backoff_time).
 */
static uint64_t backoff_delay(const struct tls_upstream *u, unsigned failures)
{
	unsigned over;
	uint64_t delay;

	if (failures < u->failures_before_backoff) {
		return 0;
	}
	over = failures - u->failures_before_backoff;
	delay = over >= 32 ? u->backoff_max_ms : 1000ull << over;
	return delay > u->backoff_max_ms ? u->backoff_max_ms : delay;
}

void tls_upstream_failure(struct tls_upstream *u, const char *why)
{
	int level = tls_upstream_failure_level(u);
	uint64_t delay;

	u->failures++;
	delay = backoff_delay(u, u->failures);
	if (delay == 0) {
		return;
	}
	if (delay > backoff_delay(u, u->failures - 1)) {
		level = LOG_WARNING; /* a longer backoff than the last: said once */
	}
	u->backoff_until = uv_now(u->loop) + delay;
	u->stats.backoffs++;
	log_msg(level, LOG_TLS, "upstream '%s': %s, %u failures in a row, backing off for %llu ms",
		u->name, why, u->failures, (unsigned long long)delay);
}

void tls_upstream_success(struct tls_upstream *u)
{
	if (u->backoff_until) {
		log_notice(LOG_TLS, "upstream '%s': answering again after %u failures", u->name,
			   u->failures);
	}
	u->failures = 0;
	u->backoff_until = 0;
}

/*
 * The failures counted so far were on a path that no longer is: the first query after the
 * change goes out at once rather than wait out a backoff earned on the old one.
 */
static void upstream_path_changed(struct tls_upstream *u)
{
	if (u->backoff_until || u->failures) {
		log_info(LOG_TLS, "upstream '%s': the network changed, backoff cleared", u->name);
	}
	u->failures = 0;
	u->backoff_until = 0;
	u->changed_at = uv_now(u->loop);
	/*
	 * A link that just came back may drop SYNs for a few hundred ms (its neighbour entries,
	 * the far end's queues); each free reconnect waits 100 ms at least or follows a refusal
	 * by the host, so this bounds them to about the window.
	 */
	u->settle_left = TLS_SETTLE_RETRIES;
}

bool tls_upstream_settle_window(const struct tls_upstream *u)
{
	return u->settle_left > 0 && u->changed_at &&
	       uv_now(u->loop) - u->changed_at < TLS_SETTLE_MS;
}

bool tls_upstream_settling(struct tls_upstream *u, int status)
{
	bool ok = tls_upstream_settle_window(u) &&
		  (status == UV_EHOSTUNREACH || status == UV_ENETUNREACH || status == UV_ETIMEDOUT);

	if (ok) {
		u->settle_left--;
	}
	return ok;
}

void tls_upstream_backoff_clear(struct tls_upstream *u)
{
	if (!u->closing) {
		upstream_path_changed(u);
	}
}

void tls_upstream_network_changed(struct tls_upstream *u)
{
	struct tls_conn *c, *next;

	if (u->closing) {
		return;
	}
	upstream_path_changed(u);
	if (u->plain) {
		tls_plain_network_changed(u);
		return;
	}
	/* Connections leave the list only when freed, from a close callback: none is, here. */
	for (c = u->conns; c; c = next) {
		next = c->next;
		tls_conn_suspect(c);
	}
}

void tls_upstream_addr_gone(struct tls_upstream *u, const struct sockaddr *addr)
{
	struct tls_conn *c, *next;
	unsigned n = 0;

	if (u->closing) {
		return;
	}
	upstream_path_changed(u);
	if (u->plain) {
		tls_plain_addr_gone(u, addr);
		return;
	}
	for (c = u->conns; c; c = next) {
		next = c->next;
		n += tls_conn_addr_gone(c, addr);
	}
	if (n > 0) {
		log_info(LOG_TLS,
			 "upstream '%s': %u connection%s from a removed local address "
			 "closed, their queries sent again",
			 u->name, n, n == 1 ? "" : "s");
	}
}

void tls_upstream_rtt(struct tls_upstream *u, uint64_t rtt_ms)
{
	unsigned rtt = rtt_ms > 60000 ? 60000 : (unsigned)rtt_ms;

	/* RFC 6298 §2: SRTT <- 7/8 SRTT + 1/8 R; the first sample is taken whole. */
	if (u->srtt_ms == 0) {
		u->srtt_ms = rtt > 0 ? rtt : 1;
	} else {
		u->srtt_ms = (7 * u->srtt_ms + rtt) / 8;
		if (u->srtt_ms == 0) {
			u->srtt_ms = 1;
		}
	}
}

WOLFSSL_SESSION *tls_upstream_session_take(struct tls_upstream *u)
{
	/*
	 * The newest first: its ticket has the most lifetime left, and each is offered once
	 * (RFC 8446 App. C.4) while others remain. The last one is offered again rather than
	 * paying a full handshake: servers such as unbound (OpenSSL) issue no new ticket on a
	 * resumed connection, and connections from one address to one server are linkable by
	 * that address anyway.
	 */
	if (u->no_resume) {
		return NULL;
	}
	if (u->tickets) {
		if (tls_tickets_resume_refused(u->tickets, u->ticket_key)) {
			u->no_resume = true; /* another worker found it out */
			return NULL;
		}
		return tls_tickets_take(u->tickets, u->ticket_key);
	}
	return tls_sessions_take(&u->sessions);
}

void tls_upstream_resumption_failed(struct tls_upstream *u)
{
	bool now;

	tls_sessions_drop(&u->sessions);
	if (u->tickets) {
		/* Counted with the other workers' (tls_tickets.c), which drops the tickets too. */
		u->no_resume = tls_tickets_resume_failed(u->tickets, u->ticket_key,
							 TLS_RESUME_FAILURES_MAX, &now);
	} else {
		now = ++u->resume_failures == TLS_RESUME_FAILURES_MAX;
		u->no_resume = u->no_resume || now;
	}
	if (!now) {
		return; /* the one that reaches it says */
	}
	log_warn(LOG_TLS,
		 "upstream '%s': %u resumed handshakes failed in a row: no more tickets "
		 "offered to it (until a reload)",
		 u->name, (unsigned)TLS_RESUME_FAILURES_MAX);
}

void tls_upstream_sessions_drop(struct tls_upstream *u)
{
	if (u->tickets) {
		tls_tickets_drop(u->tickets, u->ticket_key);
	}
	tls_sessions_drop(&u->sessions);
}

void tls_upstream_session_put(struct tls_upstream *u, WOLFSSL_SESSION *s)
{
	if (u->no_resume) {
		/* Not for another worker either: it would fail there the same way. */
		wolfSSL_SESSION_free(s);
		return;
	}
	if (u->tickets) {
		if (tls_tickets_put(u->tickets, u->ticket_key, s)) {
			u->stats.tickets++;
		}
		return;
	}
	tls_sessions_put(&u->sessions, s);
	u->stats.tickets++;
}

int tls_upstream_query(struct tls_upstream *u, struct tls_query *q)
{
	struct dns_question question;
	struct tls_conn *best = NULL;
	unsigned n_usable = 0;
	int ret;

	if (u->closing) {
		return -ESHUTDOWN;
	}
	if (unresolved(u)) {
		return -EDESTADDRREQ;
	}
	if (q->frame_len < 2 + DNS_HDR_LEN || dns_get16(q->frame) != q->frame_len - 2 ||
	    dns_question_parse(q->frame + 2, q->frame_len - 2, &question) != 0) {
		return -EINVAL;
	}
	/* A bootstrap server is told the names of upstreams and nothing else (tls.h). */
	if (u->bootstrap && (question.qclass != DNS_CLASS_IN ||
			     (question.qtype != DNS_TYPE_A && question.qtype != DNS_TYPE_AAAA))) {
		return -EPERM;
	}
	q->qend = question.end;
	q->conn = NULL;
	q->pq = NULL;
	q->in_flight = false;
	if (u->plain) {
		tls_plain_query(u, q);
		return 0;
	}
	for (struct tls_conn *c = u->conns; c; c = c->next) {
		if (!tls_conn_usable(c)) {
			continue;
		}
		n_usable++;
		if (!best || tls_conn_load(c) < tls_conn_load(best)) {
			best = c;
		}
	}
	if (!best || (tls_conn_load(best) >= u->max_in_flight && n_usable < u->max_conns)) {
		struct tls_conn *c;

		ret = tls_conn_open(u, &c);
		if (ret != 0) {
			if (!best) {
				return ret;
			}
		} else {
			best = c;
		}
	}
	tls_conn_submit(best, q);
	return 0;
}

void tls_upstream_requeue(struct tls_upstream *u, struct tls_query *q, int status)
{
	struct tls_conn *best = NULL, *fresh = NULL, *c;
	unsigned n_usable = 0;

	if (!u->closing) {
		for (c = u->conns; c; c = c->next) {
			if (!tls_conn_usable(c)) {
				continue;
			}
			n_usable++;
			/* One still being set up is fresh: several lost queries share it. */
			if (c->state < TLS_CONN_READY && tls_conn_load(c) < u->max_in_flight) {
				fresh = c;
			}
			if (!best || tls_conn_load(c) < tls_conn_load(best)) {
				best = c;
			}
		}
		if (!fresh && n_usable < u->max_conns && tls_conn_open(u, &c) == 0) {
			fresh = c;
		}
		if (fresh) {
			best = fresh;
		}
	}
	if (!best) {
		q->cb(q, status, NULL, 0, NULL);
		return;
	}
	log_debug(LOG_TLS, "upstream '%s': connection lost before an answer, sending again",
		  u->name);
	u->stats.resent++;
	tls_conn_submit(best, q);
}
