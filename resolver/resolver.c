/*
 * resolver: setting up and tearing down the daemon's state on one libuv loop.
 *
 * Stop order matters for ownership: queries first (they reference TCP clients and sit on
 * upstream connections), then listeners and clients, then upstreams, then our own handles.
 * uv_run() returns once every handle has closed; resolver_free() then frees the rest.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "resolver.h"

/* The cache's clock: the loop's time, in ms (cache/ does no I/O of its own). */
static uint64_t loop_now(void *arg)
{
	return uv_now((uv_loop_t *)arg);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct resolver *r = h->data;

	r->handles_open--;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	s->refs++;
	return s;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s) {
		return;
	}
	REQUIRE(s->refs > 0);
	if (--s->refs > 0) {
		return;
	}
	upstream_set_free(s->ups);
	config_free(s->cfg);
	free(s);
}

/* A snapshot of @cfg (taken over, whatever the outcome) with its upstreams from the pool. */
static int snapshot_new(struct resolver *r, struct config *cfg, struct snapshot **out)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	int ret;

	if (!s) {
		config_free(cfg);
		return -ENOMEM;
	}
	s->refs = 1;
	s->cfg = cfg;
	s->opts.padding_blocksize = cfg->padding_blocksize;
	s->opts.ecs_private = cfg->ecs_private;
	s->opts.keepalive = true;
	ret = upstream_set_new(r->pool, cfg, &s->ups);
	if (ret != 0) {
		snapshot_unref(s);
		return ret;
	}
	*out = s;
	return 0;
}

void resolver_stats_log(struct resolver *r)
{
	const struct resolver_stats *s = &r->stats;

	struct cache_stats cs;

	log_notice(LOG_MAIN,
		   "clients: queries_udp=%llu queries_tcp=%llu tcp_connections=%llu dropped=%llu "
		   "answered_here=%llu cache_answers=%llu stale_answers=%llu coalesced=%llu "
		   "prefetches=%llu forwarded=%llu tries=%llu hedged=%llu answers=%llu "
		   "servfail=%llu truncated=%llu scrubbed=%llu refused=%llu limited=%llu "
		   "tcp_evicted=%llu tcp_idle_closed=%llu tcp_overflow_closed=%llu tcp_paused=%llu "
		   "udp_send_dropped=%llu",
		   (unsigned long long)s->queries_udp, (unsigned long long)s->queries_tcp,
		   (unsigned long long)s->tcp_clients, (unsigned long long)s->dropped,
		   (unsigned long long)s->answered_here, (unsigned long long)s->cache_answers,
		   (unsigned long long)s->stale_answers, (unsigned long long)s->coalesced,
		   (unsigned long long)s->prefetches, (unsigned long long)s->forwarded,
		   (unsigned long long)s->tries, (unsigned long long)s->hedged,
		   (unsigned long long)s->answers, (unsigned long long)s->servfail,
		   (unsigned long long)s->truncated, (unsigned long long)s->scrubbed,
		   (unsigned long long)s->refused, (unsigned long long)s->limited,
		   (unsigned long long)s->tcp_evicted, (unsigned long long)s->tcp_idle_closed,
		   (unsigned long long)s->tcp_overflow_closed, (unsigned long long)s->tcp_paused,
		   (unsigned long long)s->udp_send_dropped);
	stats_log_answers(s);
	if (r->cache) {
		cache_stats_get(r->cache, &cs);
		log_notice(LOG_MAIN,
			   "cache: entries=%zu bytes=%zu hits=%llu misses=%llu stale_hits=%llu "
			   "inserts=%llu not_cacheable=%llu evicted_expired=%llu evicted_live=%llu "
			   "refresh_failures=%llu",
			   cs.entries, cs.bytes, (unsigned long long)cs.hits,
			   (unsigned long long)cs.misses, (unsigned long long)cs.stale_hits,
			   (unsigned long long)cs.inserts, (unsigned long long)cs.not_cacheable,
			   (unsigned long long)cs.evicted_expired,
			   (unsigned long long)cs.evicted_live,
			   (unsigned long long)cs.refresh_failures);
	}
	if (r->snap) {
		upstream_set_stats_log(r->snap->ups);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct resolver *r = s->data;

	if (signum == SIGUSR1) {
		resolver_stats_log(r);
		return;
	}
	log_notice(LOG_MAIN, "%s received, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	notify_stopping();
	resolver_stop(r);
}

/* Name listener @name in the summary while there is room; count it in any case. */
static void summary_add(struct resolver *r, const char *name)
{
	size_t len = strlen(r->summary), need = strlen(name) + 2;

	r->n_listening++;
	/* Keep room for " and N more with N upstreams". */
	if (r->n_unnamed == 0 && len + need + 64 < sizeof(r->summary)) {
		snprintf(r->summary + len, sizeof(r->summary) - len, "%s%s",
			 r->n_listening == 1 ? "serving on " : ", ", name);
	} else {
		r->n_unnamed++;
	}
}

static void summary_finish(struct resolver *r)
{
	size_t len = strlen(r->summary);

	if (len == 0) { /* no name fitted: a count alone */
		len = (size_t)snprintf(r->summary, sizeof(r->summary), "serving on %zu addresses",
				       r->n_unnamed);
	} else if (r->n_unnamed > 0) {
		len += (size_t)snprintf(r->summary + len, sizeof(r->summary) - len, " and %zu more",
					r->n_unnamed);
	}
	snprintf(r->summary + len, sizeof(r->summary) - len, " with %zu upstream%s",
		 r->cfg->n_upstreams, r->cfg->n_upstreams == 1 ? "" : "s");
}

const char *resolver_summary(const struct resolver *r)
{
	return r->summary;
}

static int signal_start(struct resolver *r, uv_signal_t *s, int signum)
{
	int ret = uv_signal_init(r->loop, s);

	if (ret != 0) {
		return ret;
	}
	s->data = r;
	r->handles_open++;
	return uv_signal_start(s, on_signal, signum);
}

int resolver_start(struct resolver *r, uv_loop_t *loop, struct config *cfg, const char *path)
{
	struct cache_params cp = {
		.max_bytes = cfg->cache_size,
		.min_ttl = cfg->cache_min_ttl,
		.max_ttl = cfg->cache_max_ttl,
		.max_neg_ttl = cfg->cache_max_negative_ttl,
		.stale_max = cfg->serve_stale_max,
		.now = loop_now,
		.now_arg = loop,
	};
	int ret;

	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->log_level_forced = -1;
	r->started = uv_hrtime();
	r->out = malloc(2 + DNS_MAX_MSG + 128);
	r->scrub = malloc(DNS_MAX_MSG);
	r->config_path = path ? strdup(path) : NULL;
	ret = upstream_pool_new(loop, &r->pool);
	if (!r->out || !r->scrub || (path && !r->config_path) || ret != 0) {
		config_free(cfg);
		return -ENOMEM;
	}
	/* The snapshot is made before anything can fail, so that cfg has its owner from here. */
	ret = snapshot_new(r, cfg, &r->snap);
	if (ret != 0) {
		return ret;
	}
	r->cfg = cfg;
	r->q_timer.data = r;
	ret = query_timer_init(r);
	if (ret == 0) {
		ret = listener_init(r);
	}
	if (ret != 0) {
		return ret;
	}
	ret = signal_start(r, &r->sig_int, SIGINT);
	if (ret == 0) {
		ret = signal_start(r, &r->sig_term, SIGTERM);
	}
	if (ret == 0) {
		ret = signal_start(r, &r->sig_usr1, SIGUSR1);
	}
	if (ret != 0) {
		return ret;
	}
	ret = cache_new(&cp, &r->cache);
	if (ret != 0) {
		return ret;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		ret = listener_open(r, &cfg->listen[i]);
		if (ret == UV_EADDRNOTAVAIL || ret == UV_EAFNOSUPPORT) {
			/* A host without IPv6 (or that address): serve on the others. */
			log_warn(LOG_NET, "skipping '%s': address not available on this host",
				 cfg->listen[i].name);
			continue;
		}
		if (ret != 0) {
			return ret;
		}
		summary_add(r, cfg->listen[i].name);
	}
	if (r->n_listening == 0) {
		log_err(LOG_NET, "no listen address could be used");
		return -EADDRNOTAVAIL;
	}
	summary_finish(r);
	r->serving = true;
	return 0;
}

void resolver_stop(struct resolver *r)
{
	if (r->stopping) {
		return;
	}
	r->stopping = true;
	if (r->serving) {
		resolver_stats_log(r);
	}
	query_drop_all(r);
	listener_close_all(r);
	/* The queries are gone: this was the last reference, and the upstreams close now. */
	snapshot_unref(r->snap);
	r->snap = NULL;
	uv_handle_t *handles[] = {
		(uv_handle_t *)&r->q_timer,
		(uv_handle_t *)&r->sig_int,
		(uv_handle_t *)&r->sig_term,
		(uv_handle_t *)&r->sig_usr1,
	};
	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
		if (handles[i]->type != UV_UNKNOWN_HANDLE && !uv_is_closing(handles[i])) {
			handles[i]->data = r;
			uv_close(handles[i], on_handle_closed);
		}
	}
}

void resolver_free(struct resolver *r)
{
	REQUIRE(r->snap == NULL && r->listeners == NULL && r->deadlines.head == NULL);
	upstream_pool_free(r->pool);
	r->pool = NULL;
	free(r->config_path);
	r->config_path = NULL;
	cache_free(r->cache);
	r->cache = NULL;
	free(r->inflight);
	r->inflight = NULL;
	free(r->sources); /* empty: every waiter has been freed */
	r->sources = NULL;
	free(r->out);
	r->out = NULL;
	free(r->scrub);
	r->scrub = NULL;
}
