/*
 * upstream: the configured upstreams and the choice of one for each query.
 *
 * round_robin_upstreams: 1 takes them in turn; 0 always takes the first. Each upstream keeps
 * its own persistent connection (tls/), so either way queries ride warm connections.
 */
#include <stdlib.h>

#include "log.h"
#include "resolver.h"

/* A connect plus handshake that takes longer than this is given up (getdns clamps it too). */
#define HANDSHAKE_TIMEOUT_MS 4000
#define MAX_IN_FLIGHT	     100 /* per connection; limit_outstanding_queries comes later */

struct upstream_set {
	struct tls_upstream **ups; /**< owned array of n upstreams, each closed on stop */
	size_t n;
	size_t next; /**< round robin position */
	bool round_robin;
	size_t n_open; /**< upstreams not yet freed after close */
	void (*done)(void *arg);
	void *done_arg;
};

int upstream_set_new(struct resolver *r, struct upstream_set **out)
{
	const struct config *cfg = r->cfg;
	struct upstream_set *s;
	int ret = 0;

	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->ups = calloc(cfg->n_upstreams, sizeof(*s->ups));
	if (!s->ups) {
		free(s);
		return -ENOMEM;
	}
	s->round_robin = cfg->round_robin;
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct config_upstream *cu = &cfg->upstreams[i];
		unsigned hs = cfg->timeout_ms < HANDSHAKE_TIMEOUT_MS ? cfg->timeout_ms
								     : HANDSHAKE_TIMEOUT_MS;
		struct tls_upstream_params p = {
			.addr = (const struct sockaddr *)&cu->addr,
			.addr_len = cu->addr_len,
			.name = cu->name,
			.auth_name = cu->auth_name,
			.pins = (const uint8_t(*)[TLS_PIN_LEN])cu->pins,
			.n_pins = cu->n_pins,
			.strict = cfg->auth == CONFIG_AUTH_REQUIRED,
			.idle_timeout_ms = cfg->idle_timeout_ms,
			.handshake_timeout_ms = hs,
			.max_in_flight = MAX_IN_FLIGHT,
		};

		ret = tls_upstream_new(r->loop, r->tls, &p, &s->ups[i]);
		if (ret != 0) {
			break;
		}
		s->n++;
	}
	if (ret != 0) {
		for (size_t i = 0; i < s->n; i++) {
			tls_upstream_close(s->ups[i], NULL, NULL);
		}
		free(s->ups);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

struct tls_upstream *upstream_pick(struct upstream_set *s)
{
	size_t i = 0;

	if (s->round_robin) {
		i = s->next;
		s->next = (s->next + 1) % s->n;
	}
	return s->ups[i];
}

static void on_upstream_closed(void *arg)
{
	struct upstream_set *s = arg;

	if (--s->n_open > 0) {
		return;
	}
	if (s->done) {
		s->done(s->done_arg);
	}
	free(s->ups);
	free(s);
}

void upstream_set_close(struct upstream_set *s, void (*done)(void *arg), void *arg)
{
	size_t n = s->n;

	s->done = done;
	s->done_arg = arg;
	s->n_open = n;
	/* An upstream with no connection is freed at once, calling back synchronously. */
	for (size_t i = 0; i < n; i++) {
		tls_upstream_close(s->ups[i], on_upstream_closed, s);
	}
}

void upstream_set_stats_log(const struct upstream_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct tls_upstream_stats st;

		tls_upstream_stats_get(s->ups[i], &st);
		log_notice(LOG_MAIN,
			   "upstream '%s': queries=%llu answers=%llu connections=%llu "
			   "handshakes_full=%llu handshakes_resumed=%llu auth_failures=%llu "
			   "conn_failures=%llu proto_errors=%llu",
			   tls_upstream_name(s->ups[i]), (unsigned long long)st.queries,
			   (unsigned long long)st.answers, (unsigned long long)st.connections,
			   (unsigned long long)st.handshakes_full,
			   (unsigned long long)st.handshakes_resumed,
			   (unsigned long long)st.auth_failures,
			   (unsigned long long)st.conn_failures,
			   (unsigned long long)st.proto_errors);
	}
}
