/*
 * upstream: the configured upstreams and the choice of one for each try of a query.
 *
 * Among the upstreams a query has not tried yet and that are not backed off:
 *   round_robin_upstreams: 0   the first in the order configured
 *   round_robin_upstreams: 1   the next in turn
 *   upstream_selection: fastest  the lowest smoothed round-trip time; every PROBE_EVERY-th
 *                              choice goes to another at random so that their times stay
 *                              known, and an upstream not measured yet is taken first.
 * When every untried upstream is backed off, the one whose backoff ends first is taken at once:
 * dotd never answers SERVFAIL without having tried (a network that comes back is noticed by the
 * next query, not after an hour of backoff).
 */
#include <stdlib.h>
#include <sys/random.h>

#include "log.h"
#include "resolver.h"

/* A connect plus handshake that takes longer than this is given up (getdns clamps it too). */
#define HANDSHAKE_TIMEOUT_MS 4000
#define PROBE_EVERY	     16

struct upstream_set {
	uv_loop_t *loop;
	struct tls_upstream **ups; /**< owned array of n upstreams, each closed on stop */
	size_t n;
	size_t next; /**< round robin position */
	bool round_robin;
	bool fastest;
	unsigned picks;
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
	s->loop = r->loop;
	s->round_robin = cfg->round_robin;
	s->fastest = cfg->selection == CONFIG_SELECT_FASTEST;
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
			.liveness_ms = cfg->timeout_per_try_ms,
			.max_in_flight = cfg->max_in_flight,
			.max_conns = cfg->conns_per_upstream,
			.failures_before_backoff = cfg->connection_retries,
			.backoff_max_ms = cfg->backoff_max_s * 1000u,
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

size_t upstream_count(const struct upstream_set *s)
{
	return s->n;
}

struct tls_upstream *upstream_get(struct upstream_set *s, size_t i)
{
	REQUIRE(i < s->n);
	return s->ups[i];
}

static bool is_tried(const uint8_t *tried, size_t i)
{
	return (tried[i / 8] >> (i % 8)) & 1;
}

static int pick_fastest(struct upstream_set *s, const uint8_t *tried, uint64_t now)
{
	size_t best = s->n, n_cand = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (is_tried(tried, i) || tls_upstream_available_at(s->ups[i]) > now) {
			continue;
		}
		n_cand++;
		if (best == s->n ||
		    tls_upstream_srtt(s->ups[i]) < tls_upstream_srtt(s->ups[best])) {
			best = i;
		}
	}
	if (n_cand > 1 && ++s->picks % PROBE_EVERY == 0) {
		/* Probe: another candidate at random, so that its time stays current. */
		unsigned r = 0;
		size_t k;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
			r = s->picks;
		}
		k = r % (n_cand - 1);
		for (size_t i = 0; i < s->n; i++) {
			if (i == best || is_tried(tried, i) ||
			    tls_upstream_available_at(s->ups[i]) > now) {
				continue;
			}
			if (k-- == 0) {
				return (int)i;
			}
		}
	}
	return best < s->n ? (int)best : -1;
}

int upstream_pick(struct upstream_set *s, const uint8_t *tried, bool any)
{
	uint64_t now = uv_now(s->loop);
	size_t soonest = s->n;
	int pick = -1;

	if (s->fastest) {
		pick = pick_fastest(s, tried, now);
	} else {
		size_t start = s->round_robin ? s->next : 0;

		for (size_t k = 0; k < s->n; k++) {
			size_t i = (start + k) % s->n;

			if (!is_tried(tried, i) && tls_upstream_available_at(s->ups[i]) <= now) {
				pick = (int)i;
				break;
			}
		}
		if (pick >= 0 && s->round_robin) {
			s->next = ((size_t)pick + 1) % s->n;
		}
	}
	if (pick >= 0 || !any) {
		return pick;
	}
	/* Every untried upstream is backed off: the one that recovers first, now. */
	for (size_t i = 0; i < s->n; i++) {
		if (!is_tried(tried, i) &&
		    (soonest == s->n || tls_upstream_available_at(s->ups[i]) <
						tls_upstream_available_at(s->ups[soonest]))) {
			soonest = i;
		}
	}
	return soonest < s->n ? (int)soonest : -1;
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
	uint64_t now = uv_now(s->loop);

	for (size_t i = 0; i < s->n; i++) {
		uint64_t at = tls_upstream_available_at(s->ups[i]);
		struct tls_upstream_stats st;

		tls_upstream_stats_get(s->ups[i], &st);
		log_notice(
			LOG_MAIN,
			"upstream '%s': queries=%llu answers=%llu connections=%llu "
			"handshakes_full=%llu handshakes_resumed=%llu tickets=%llu "
			"auth_failures=%llu conn_failures=%llu proto_errors=%llu dead=%llu "
			"server_closes=%llu idle_closes=%llu backoffs=%llu resent=%llu srtt_ms=%u "
			"in_flight=%llu queued=%llu conns_open=%llu state=%s backoff_ms=%llu",
			tls_upstream_name(s->ups[i]), (unsigned long long)st.queries,
			(unsigned long long)st.answers, (unsigned long long)st.connections,
			(unsigned long long)st.handshakes_full,
			(unsigned long long)st.handshakes_resumed, (unsigned long long)st.tickets,
			(unsigned long long)st.auth_failures, (unsigned long long)st.conn_failures,
			(unsigned long long)st.proto_errors, (unsigned long long)st.dead,
			(unsigned long long)st.server_closes, (unsigned long long)st.idle_closes,
			(unsigned long long)st.backoffs, (unsigned long long)st.resent,
			tls_upstream_srtt(s->ups[i]), (unsigned long long)st.in_flight,
			(unsigned long long)st.queued, (unsigned long long)st.conns_open,
			tls_upstream_state_name(tls_upstream_state(s->ups[i])),
			(unsigned long long)(at > now ? at - now : 0));
	}
}
