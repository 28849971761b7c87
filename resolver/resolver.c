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

#include "control.h"
#include "hostname.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "netwatch.h"
#include "notify.h"
#include "policy.h"
#include "resolver.h"
#include "stats.h"
#include "steer.h"
#include "validator.h"
#include "worker.h"

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

static void cache_file_load_at_start(struct resolver *r);
static void net_watch_start(struct resolver *r);
static void on_upstream_clock_changed(struct tls_upstream *u, void *arg);
static void on_worker_net_event(struct resolver *r, void *arg);
static void cache_file_dump_at_stop(struct resolver *r);
static void cache_params_of(const struct resolver *r, const struct config *cfg,
			    struct cache_params *cp);

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
	for (size_t i = 0; i < s->n_groups; i++) {
		upstream_set_free(s->groups[i].ups);
	}
	free(s->groups);
	policy_free(s->policy);
	config_free(s->cfg);
	free(s);
}

/* FNV-1a 64 over @len bytes, continuing from @h. */
static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ b[i]) * 0x100000001b3ull;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

/*
 * The cache group of forward zone @z: the zone and what its servers are (addresses, names,
 * pins, plain or not), so that the answers of other servers are never taken for theirs.
 * Never 0, which is the default group's.
 */
static uint64_t group_key(const struct config_zone *z)
{
	uint64_t h = fnv_str(0xcbf29ce484222325ull, z->zone);

	for (size_t i = 0; i < z->n_upstreams; i++) {
		const struct config_upstream *u = &z->upstreams[i];

		h = fnv_str(h, "tls");
		h = fnv_str(h, u->name);
		h = fnv_str(h, u->auth_name);
		h = fnv(h, u->pins, u->n_pins * sizeof(*u->pins));
	}
	for (size_t i = 0; i < z->n_plain; i++) {
		h = fnv_str(h, "plain");
		h = fnv_str(h, z->plain[i].name);
	}
	return h ? h : 1;
}

/*
 * A snapshot of @cfg (taken over, whatever the outcome) with its upstreams from the pool; what
 * refuses it also goes to @msgs, if not NULL.
 */
static int snapshot_new(struct resolver *r, struct config *cfg, FILE *msgs, struct snapshot **out)
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
	s->groups = calloc(cfg->n_zones + 1, sizeof(*s->groups));
	if (!s->groups) {
		snapshot_unref(s);
		return -ENOMEM;
	}
	ret = upstream_set_new(r->pool, cfg, msgs, &s->groups[0].ups);
	s->groups[0].zone = ".";
	if (ret == 0) {
		s->n_groups = 1;
	}
	for (size_t i = 0; ret == 0 && i < cfg->n_zones; i++) {
		struct upstream_group *g = &s->groups[i + 1];

		ret = upstream_set_new_zone(r->pool, cfg, &cfg->zones[i], msgs, &g->ups);
		g->key = group_key(&cfg->zones[i]);
		g->zone = cfg->zones[i].zone;
		if (ret == 0) {
			s->n_groups++;
		}
	}
	if (ret == 0) {
		ret = policy_new(cfg, &s->policy);
	}
	if (ret != 0) {
		snapshot_unref(s);
		return ret;
	}
	s->ups = s->groups[0].ups;
	*out = s;
	return 0;
}

/* The sums resolver_stats_sum() builds, worker by worker. */
struct stats_sum {
	struct resolver_stats *s;
	struct cache_stats *cs;
};

static void stats_add(struct resolver *r, void *arg)
{
	struct stats_sum *sum = arg;
	uint64_t *to = (uint64_t *)sum->s;
	const uint64_t *from = (const uint64_t *)&r->stats;
	struct cache_stats cs;

	_Static_assert(sizeof(struct resolver_stats) % sizeof(uint64_t) == 0,
		       "struct resolver_stats is counters only");
	for (size_t i = 0; i < sizeof(r->stats) / sizeof(uint64_t); i++) {
		to[i] += from[i];
	}
	if (r->cache) {
		cache_stats_get(r->cache, &cs);
		sum->cs->hits += cs.hits;
		sum->cs->misses += cs.misses;
		sum->cs->stale_hits += cs.stale_hits;
		sum->cs->inserts += cs.inserts;
		sum->cs->not_cacheable += cs.not_cacheable;
		sum->cs->evicted_expired += cs.evicted_expired;
		sum->cs->evicted_live += cs.evicted_live;
		sum->cs->refresh_failures += cs.refresh_failures;
		sum->cs->entries += cs.entries;
		sum->cs->bytes += cs.bytes;
	}
}

void resolver_stats_sum(struct resolver *r, struct resolver_stats *s, struct cache_stats *cs)
{
	struct stats_sum sum = {.s = s, .cs = cs};

	memset(s, 0, sizeof(*s));
	memset(cs, 0, sizeof(*cs));
	stats_add(r, &sum);
	workers_each(r->workers, stats_add, &sum);
}

/* A worker's upstream lines (SIGUSR1): each worker has its own connections to each. */
static void upstreams_log(struct resolver *r, void *arg)
{
	(void)arg;
	if (r->main) {
		log_notice(LOG_MAIN, "worker %u: its upstreams:", r->worker_id);
	}
	for (size_t g = 0; r->snap && g < r->snap->n_groups; g++) {
		upstream_set_stats_log(r->snap->groups[g].ups);
	}
}

void resolver_stats_log(struct resolver *r)
{
	struct resolver_stats sum;
	const struct resolver_stats *s = &sum;
	struct cache_stats cs;

	resolver_stats_sum(r, &sum, &cs);

	log_notice(LOG_MAIN,
		   "clients: queries_udp=%llu queries_tcp=%llu tcp_connections=%llu dropped=%llu "
		   "answered_here=%llu cache_answers=%llu stale_answers=%llu coalesced=%llu "
		   "prefetches=%llu forwarded=%llu tries=%llu hedged=%llu answers=%llu "
		   "servfail=%llu truncated=%llu scrubbed=%llu refused=%llu limited=%llu "
		   "tcp_evicted=%llu tcp_idle_closed=%llu tcp_overflow_closed=%llu tcp_paused=%llu "
		   "udp_send_dropped=%llu udp_send_calls=%llu",
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
		   (unsigned long long)s->udp_send_dropped, (unsigned long long)s->udp_send_calls);
	stats_log_answers(s);
	log_notice(LOG_MAIN,
		   "dnssec: secure=%llu insecure=%llu bogus=%llu fetches=%llu zones=%zu "
		   "zone_bytes=%zu",
		   (unsigned long long)s->dnssec_secure, (unsigned long long)s->dnssec_insecure,
		   (unsigned long long)s->dnssec_bogus, (unsigned long long)s->dnssec_fetches,
		   val_cache_count(r->vc), val_cache_bytes(r->vc));
	if (r->cache) {
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
	/* The main worker's last, so that "the last line of an upstream" stays worker 1's. */
	workers_each(r->workers, upstreams_log, NULL);
	upstreams_log(r, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct resolver *r = s->data;

	if (signum == SIGUSR1) {
		resolver_stats_log(r);
		return;
	}
	if (signum == SIGHUP) {
		log_notice(LOG_MAIN, "SIGHUP received, reloading");
		resolver_reload(r, NULL);
		return;
	}
	log_notice(LOG_MAIN, "%s received, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	notify_stopping();
	resolver_stop(r);
}

static void summary_add(struct resolver *r, const char *name);
static void summary_finish(struct resolver *r);

/* The summary of what is bound now, in the order of listen_addresses. */
static void summary_make(struct resolver *r)
{
	r->summary[0] = '\0';
	r->n_listening = 0;
	r->n_unnamed = 0;
	for (size_t i = 0; i < r->cfg->n_listen; i++) {
		if (listener_find(r, &r->cfg->listen[i])) {
			summary_add(r, r->cfg->listen[i].name);
		}
	}
	summary_finish(r);
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
	len += (size_t)snprintf(r->summary + len, sizeof(r->summary) - len, " with %zu upstream%s",
				r->cfg->n_upstreams, r->cfg->n_upstreams == 1 ? "" : "s");
	if (r->n_workers > 1 && len < sizeof(r->summary)) {
		snprintf(r->summary + len, sizeof(r->summary) - len, " and %u workers",
			 r->n_workers);
	}
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

/*
 * What every worker sets up for itself on @loop: scratch buffers, its upstream pool (tickets in
 * @tickets), the snapshot of @cfg (taken over, whatever the outcome), the query timer, the
 * cache and the listeners, each of which is named in the summary.
 */
static int resolver_setup(struct resolver *r, uv_loop_t *loop, struct config *cfg,
			  struct tls_tickets *tickets)
{
	struct cache_params cp;
	int ret;

	r->loop = loop;
	r->log_level_forced = -1;
	r->started = uv_hrtime();
	r->out = malloc(2 + DNS_MAX_MSG + 128);
	r->scrub = malloc(DNS_MAX_MSG);
	r->val_buf = malloc(DNS_MAX_MSG + 64);
	ret = upstream_pool_new(loop, tickets, &r->pool);
	if (ret == 0) {
		ret = val_cache_new(RESOLVER_VAL_ZONES, &r->vc);
	}
	if (!r->out || !r->scrub || !r->val_buf || ret != 0) {
		config_free(cfg);
		return -ENOMEM;
	}
	/* The snapshot is made before anything can fail, so that cfg has its owner from here. */
	ret = snapshot_new(r, cfg, NULL, &r->snap);
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
	cache_params_of(r, cfg, &cp);
	ret = cache_new(&cp, &r->cache);
	if (ret != 0) {
		return ret;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		ret = listener_open(r, &cfg->listen[i]);
		if (ret == UV_EADDRNOTAVAIL || ret == UV_EAFNOSUPPORT) {
			/* A host without IPv6 (or that address): serve on the others. */
			if (!r->main) {
				log_warn(LOG_NET,
					 "skipping '%s': address not available on this host",
					 cfg->listen[i].name);
			}
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
	return 0;
}

/*
 * With workers and workers_steering: cpu, the plan (steer.h), made before any thread is pinned;
 * then the main thread, worker 1, pinned to its CPUs. Without a CPU for each worker the kernel's
 * hash steers, as with workers_steering: hash.
 */
static int steer_start(struct resolver *r)
{
	int ret;

	if (r->n_workers < 2 || r->steering != CONFIG_STEERING_CPU) {
		return 0;
	}
	r->steer = malloc(sizeof(*r->steer));
	if (!r->steer) {
		return -ENOMEM;
	}
	ret = steer_plan_current(r->n_workers, r->steer);
	if (ret == 0) {
		ret = steer_pin_self(r->steer, 0);
	}
	if (ret != 0) {
		log_warn(LOG_MAIN, "workers_steering: cpu: %s; the kernel's hash steers instead",
			 ret == -ERANGE ? "fewer CPUs than workers" : strerror(-ret));
		free(r->steer);
		r->steer = NULL;
		return 0;
	}
	log_info(LOG_MAIN, "workers_steering: cpu: %u workers over %zu CPUs", r->n_workers,
		 r->steer->n_cpus);
	return 0;
}

int resolver_start(struct resolver *r, uv_loop_t *loop, struct config *cfg, const char *path)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->worker_id = 1;
	r->n_workers = cfg->workers ? cfg->workers : 1;
	r->steering = cfg->steering;
	if (steer_start(r) != 0) {
		config_free(cfg);
		return -ENOMEM;
	}
	r->config_path = path ? strdup(path) : NULL;
	if ((path && !r->config_path) || tls_tickets_new(&r->tickets) != 0) {
		config_free(cfg);
		return -ENOMEM;
	}
	ret = resolver_setup(r, loop, cfg, r->tickets);
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
	if (ret == 0) {
		ret = signal_start(r, &r->sig_hup, SIGHUP);
	}
	if (ret != 0) {
		return ret;
	}
	if (cfg->metrics_name) {
		ret = resolver_metrics_apply(r, NULL);
		if (ret != 0) {
			return ret;
		}
	}
	ret = local_start(r);
	if (ret != 0) {
		return ret;
	}
	if (cfg->cache_file) {
		cache_file_load_at_start(r);
	}
	ret = hostname_apply(r);
	if (ret != 0) {
		return ret;
	}
	net_watch_start(r);
	/* The others last: they borrow the hosts file and the lists loaded above. */
	if (r->n_workers > 1) {
		ret = workers_start(r, r->n_workers, &r->workers);
		if (ret != 0) {
			return ret;
		}
	}
	r->serving = true;
	r->started_at = uv_now(loop);
	return 0;
}

int resolver_start_worker(struct resolver *r, uv_loop_t *loop, struct resolver *main, unsigned id)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->main = main;
	r->worker_id = id;
	r->n_workers = main->n_workers;
	r->log_level_forced = main->log_level_forced;
	if (main->steer) {
		ret = steer_pin_self(main->steer, id - 1);
		if (ret != 0) {
			log_warn(LOG_MAIN, "worker %u: cannot pin to its CPUs: %s", id,
				 strerror(-ret));
		}
	}
	ret = resolver_setup(r, loop, config_ref(main->snap->cfg), main->tickets);
	if (ret != 0) {
		return ret;
	}
	local_borrow(r);
	if (r->cfg->cache_file) {
		cache_file_load_at_start(r);
	}
	ret = hostname_apply(r);
	if (ret != 0) {
		return ret;
	}
	r->serving = true;
	r->started_at = uv_now(loop);
	return 0;
}

static void on_local_changed(struct resolver *r, void *arg)
{
	(void)arg;
	local_borrow(r);
}

void resolver_local_changed(struct resolver *r)
{
	workers_each(r->workers, on_local_changed, NULL);
}

/* --- network changes (netwatch.h) --- */

static void on_upstream_addr_gone(struct tls_upstream *u, void *arg)
{
	const struct netwatch_event *ev = arg;

	for (size_t i = 0; i < ev->n_gone; i++) {
		tls_upstream_addr_gone(u, (const struct sockaddr *)&ev->gone[i]);
	}
}

static void on_upstream_net_changed(struct tls_upstream *u, void *arg)
{
	(void)arg;
	tls_upstream_network_changed(u);
}

static void on_upstream_clock_changed(struct tls_upstream *u, void *arg)
{
	(void)arg;
	tls_upstream_clock_changed(u);
}

static void on_upstream_backoff_clear(struct tls_upstream *u, void *arg)
{
	(void)arg;
	tls_upstream_backoff_clear(u);
}

/*
 * What each kind of change costs (docs/ARCHITECTURE.md, "Network changes"):
 *   an address removed   the connections from it close now, their queries go out again;
 *   link, default route, resume, dotd-ctl network-changed, the wall clock set
 *                        every connection is suspect (idle: closed; busy: probed), and
 *                        backoff is cleared, so that the next query goes out at once;
 *   an address added     backoff only: the connections that work are left alone.
 * The wall clock set also ends connections accepted while it was unset (tls_unset_clock).
 */
void resolver_network_event(struct resolver *r, const struct netwatch_event *ev)
{
	unsigned path = NETWATCH_LINK | NETWATCH_ROUTE | NETWATCH_SUSPEND | NETWATCH_CLOCK |
			NETWATCH_MANUAL;
	char kinds[128];

	if (!r->snap || r->stopping) {
		return;
	}
	netwatch_kinds_str(ev->kinds, kinds, sizeof(kinds));
	if (ev->kinds & NETWATCH_SUSPEND) {
		log_notice(LOG_NET, "network changed (%s): resumed after %llu ms asleep", kinds,
			   (unsigned long long)ev->slept_ms);
	} else if (ev->kinds & NETWATCH_CLOCK) {
		log_notice(LOG_NET, "network changed (%s): the wall clock moved by %lld ms", kinds,
			   (long long)ev->clock_jump_ms);
	} else {
		log_info(LOG_NET, "network changed (%s)", kinds);
	}
	r->stats.network_events++;
	if (ev->kinds & NETWATCH_ADDR_GONE) {
		upstream_pool_each(r->pool, on_upstream_addr_gone, (void *)ev);
	}
	if (ev->kinds & path) {
		upstream_pool_each(r->pool, on_upstream_net_changed, NULL);
		hostname_network_changed(r);
	} else if (ev->kinds & NETWATCH_ADDR_NEW) {
		upstream_pool_each(r->pool, on_upstream_backoff_clear, NULL);
	}
	if (ev->kinds & NETWATCH_CLOCK) {
		upstream_pool_each(r->pool, on_upstream_clock_changed, NULL);
		/* What was validated without the clock is validated again with it. */
		if (r->val_no_dates && !tls_clock_unset()) {
			val_cache_clear(r->vc);
			r->val_no_dates = false;
		}
	}
	/* Each worker has its own connections to tell (the event is read while we wait). */
	workers_each(r->workers, on_worker_net_event, (void *)ev);
}

static void on_worker_net_event(struct resolver *r, void *arg)
{
	resolver_network_event(r, arg);
}

static void on_net_event(void *arg, const struct netwatch_event *ev)
{
	resolver_network_event(arg, ev);
}

/* Without netlink (another OS, a sandbox) dotd-ctl network-changed still works. */
static void net_watch_start(struct resolver *r)
{
	struct netwatch_params p = {.netlink = true, .clocks = true};
	int ret = netwatch_new(r->loop, &p, on_net_event, r, &r->netwatch);

	if (ret != 0) {
		log_warn(LOG_NET, "not watching the network: %s", strerror(-ret));
		r->netwatch = NULL;
	}
}

/* Read cache_file before serving; any problem is a warning and the cache starts empty. */
static void cache_file_load_at_start(struct resolver *r)
{
	struct cache_load_stats st;
	char *msg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&msg, &len);
	int ret;

	if (!f) {
		return;
	}
	ret = cachefile_read(r, r->cfg->cache_file, &st, f);
	fclose(f);
	if (ret == -ENOENT) {
		log_info(LOG_MAIN, "cache file '%s' does not exist yet: the cache starts empty",
			 r->cfg->cache_file);
	} else if (ret != 0) {
		log_warn(LOG_MAIN, "cache file: %.*s; the cache starts empty",
			 (int)(len && msg[len - 1] == '\n' ? len - 1 : len), msg);
	} else {
		log_notice(LOG_MAIN,
			   "cache file '%s': %zu entries loaded, %zu expired, %zu skipped, %zu "
			   "evicted; written %llu s ago",
			   r->cfg->cache_file, st.loaded, st.expired, st.skipped, st.evicted,
			   (unsigned long long)st.age_s);
	}
	free(msg);
}

/* Write cache_file on a clean stop; a failure is logged, the stop goes on. */
static void cache_file_dump_at_stop(struct resolver *r)
{
	char *msg = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&msg, &len);
	int ret;

	if (!f) {
		return;
	}
	ret = cachefile_write(r, r->cfg->cache_file, &n, f);
	fclose(f);
	if (ret == 0) {
		log_notice(LOG_MAIN, "cache file '%s': %zu entries written", r->cfg->cache_file, n);
	} else {
		log_warn(LOG_MAIN, "cache file: %.*s",
			 (int)(len && msg[len - 1] == '\n' ? len - 1 : len), msg);
	}
	free(msg);
}

/* Log the lines of @text (messages of a config load) at @level, one record each. */
static void log_lines(int level, const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		int n = nl ? (int)(nl - text) : (int)strlen(text);

		log_msg(level, LOG_MAIN, "%.*s", n, text);
		text += n + (nl ? 1 : 0);
	}
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* What a reload cannot change without a restart: said, and the old value stays in effect. */
static void reload_check_fixed(struct resolver *r, const struct config *cfg, FILE *msgs)
{
	if (!str_same(cfg->user, r->cfg->user)) {
		fprintf(msgs,
			"warning: user: takes effect at the next start (dotd gave up root)\n");
	}
	if (!str_same(cfg->control_socket, r->cfg->control_socket)) {
		fprintf(msgs, "warning: control_socket: takes effect at the next start\n");
	}
	if (cfg->workers != r->n_workers) {
		fprintf(msgs, "warning: workers: takes effect at the next start (%u serving)\n",
			r->n_workers);
	}
	if (cfg->steering != r->steering) {
		fprintf(msgs, "warning: workers_steering: takes effect at the next start\n");
	}
}

/* With workers, each has its own cache and cache_size is shared out: the bound stays the bound. */
static void cache_params_of(const struct resolver *r, const struct config *cfg,
			    struct cache_params *cp)
{
	*cp = (struct cache_params){
		.max_bytes = cfg->cache_size / (r->n_workers ? r->n_workers : 1),
		.min_ttl = cfg->cache_min_ttl,
		.max_ttl = cfg->cache_max_ttl,
		.max_neg_ttl = cfg->cache_max_negative_ttl,
		.stale_max = cfg->serve_stale_max,
		.now = loop_now,
		.now_arg = r->loop,
	};
}

static bool on_metrics_allow(void *arg, const struct sockaddr *peer)
{
	struct resolver *r = arg;

	return config_metrics_allows(r->cfg, peer);
}

static int on_metrics_render(void *arg, FILE *out)
{
	return stats_write(arg, STATS_PROMETHEUS, out);
}

int resolver_metrics_apply(struct resolver *r, FILE *msgs)
{
	const char *want = r->cfg->metrics_name;
	int ret;

	if (str_same(want, r->metrics_name)) {
		return 0;
	}
	if (r->metrics) {
		log_notice(LOG_NET, "no longer serving metrics on '%s'", r->metrics_name);
		metrics_server_close(r->metrics, NULL, NULL);
		r->metrics = NULL;
		free(r->metrics_name);
		r->metrics_name = NULL;
	}
	if (!want) {
		return 0;
	}
	ret = metrics_server_open(r->loop, (const struct sockaddr *)&r->cfg->metrics_addr,
				  on_metrics_allow, on_metrics_render, r, &r->metrics);
	if (ret == 0) {
		r->metrics_name = strdup(want);
		if (!r->metrics_name) {
			metrics_server_close(r->metrics, NULL, NULL);
			r->metrics = NULL;
			ret = -ENOMEM;
		}
	}
	if (ret != 0) {
		log_err(LOG_NET, "cannot serve metrics on '%s': %s", want, uv_strerror(ret));
		if (msgs) {
			fprintf(msgs, "cannot serve metrics on '%s': %s\n", want, uv_strerror(ret));
		}
		return ret;
	}
	log_notice(LOG_NET, "serving metrics on '%s' (HTTP GET /metrics)", want);
	return 0;
}

/*
 * Worker @r takes the configuration the main resolver @arg has just made current: a snapshot
 * of its own from it, and what resolver_reload() does with it, but for what is process-wide.
 */
/*
 * Make @snap current in @r, as a reload does in every worker: the host name lookups move to it,
 * what tls_unset_clock let in goes, the validator's zones go, the listeners become its. How many
 * listen addresses could not be bound, each named in @msgs.
 */
static size_t snapshot_install(struct resolver *r, struct snapshot *snap, FILE *msgs)
{
	r->snap = snap;
	r->cfg = snap->cfg;
	hostname_apply(r); /* before the old snapshot goes: its lookups move to the new one */
	/* tls_unset_clock may have been turned off: what it let in goes (tls.h). */
	upstream_pool_each(r->pool, on_upstream_clock_changed, NULL);
	/* The trust anchors may have changed: zones are validated again from them. */
	val_cache_clear(r->vc);
	return listener_apply(r, msgs);
}

/* What resolver_reload() hands each worker, and what the workers tell it back. */
struct worker_reload {
	struct resolver *main;
	FILE *msgs;    /**< the reload's messages: a worker that cannot take it says why here */
	size_t failed; /**< workers serving on with the configuration before */
};

/*
 * Runs on the worker's loop while the main thread waits in worker_call(), so it may write
 * @arg's fields and stream. A worker that cannot build its snapshot keeps the one it has: it is
 * whole, just older, and the reload's answer says so (resolver_reload()).
 */
static void on_worker_reload(struct resolver *r, void *arg)
{
	struct worker_reload *wr = arg;
	struct resolver *m = wr->main;
	struct snapshot *snap = NULL, *old = r->snap;
	struct cache_params cp;
	char *why = NULL, *msgs = NULL;
	size_t why_len = 0, len = 0;
	FILE *w, *f;
	int ret;

	if (r->stopping) {
		return;
	}
	cache_params_of(r, m->cfg, &cp);
	/* What snapshot_new() says matters only if it fails: the main worker said the rest. */
	w = open_memstream(&why, &why_len);
	f = open_memstream(&msgs, &len);
	ret = w && f ? snapshot_new(r, config_ref(m->snap->cfg), w, &snap) : -ENOMEM;
	if (ret == 0) {
		ret = cache_params_set(r->cache, &cp);
	}
	if (w) {
		fclose(w);
	}
	if (ret != 0) {
		if (f) {
			fclose(f);
		}
		free(msgs);
		if (why_len > 0 && why[why_len - 1] == '\n') {
			why[--why_len] = '\0';
		}
		/* What the main worker took can still fail here: memory, or trust anchors changed
		 * on disk since it read them (upstream.c, ctx_get()). resolver_reload() logs it
		 * with the rest of the reload's messages. */
		fprintf(wr->msgs, "worker %u: %s; it serves on with the configuration before\n",
			r->worker_id, why_len > 0 ? why : strerror(-ret));
		free(why);
		snapshot_unref(snap);
		wr->failed++;
		return;
	}
	free(why);
	snapshot_install(r, snap, f);
	fclose(f);
	if (len > 0) {
		log_warn(LOG_NET, "worker %u: %.*s", r->worker_id,
			 (int)(msgs[len - 1] == '\n' ? len - 1 : len), msgs);
	}
	free(msgs);
	local_borrow(r);
	summary_make(r);
	snapshot_unref(old);
}

int resolver_reload(struct resolver *r, FILE *out)
{
	const char *what = r->config_path ? r->config_path : "the built-in default";
	struct snapshot *snap = NULL, *old = r->snap;
	struct config *cfg = NULL;
	char *msgs = NULL;
	size_t len = 0, failed, kept = 0;
	FILE *m = open_memstream(&msgs, &len);
	struct worker_reload wr = {0};
	struct cache_params cp;
	int ret;

	if (!m || r->stopping) {
		if (m) {
			fclose(m);
			free(msgs);
		}
		return r->stopping ? -ESHUTDOWN : -ENOMEM;
	}
	notify_reloading();
	ret = r->config_path ? config_load_file(r->config_path, &cfg, m)
			     : config_load_default(&cfg, m);
	if (ret != 0) {
		fflush(m);
		log_lines(LOG_ERR, msgs);
		log_err(LOG_MAIN,
			"reload: %s does not load; the running configuration is unchanged", what);
		fprintf(m, "%s does not load; the running configuration is unchanged\n", what);
		goto cleanup;
	}
	reload_check_fixed(r, cfg, m);
	cache_params_of(r, cfg, &cp);
	ret = snapshot_new(r, cfg, m, &snap); /* takes cfg */
	if (ret == 0) {
		ret = cache_params_set(r->cache, &cp);
	}
	if (ret != 0) {
		fprintf(m, "cannot use %s: %s; the running configuration is unchanged\n", what,
			strerror(-ret));
		fflush(m);
		log_lines(LOG_ERR, msgs);
		snapshot_unref(snap);
		goto cleanup;
	}
	failed = snapshot_install(r, snap, m);
	if (r->log_level_forced < 0) {
		log_level_set(r->cfg->log_level);
	}
	for (size_t i = 0; i < upstream_count(snap->ups); i++) {
		if (upstream_set_shares(snap->ups, i, old->ups)) {
			kept++;
		}
	}
	local_reload(r, m);
	if (resolver_metrics_apply(r, m) != 0) {
		failed++;
	}
	/* The other workers take the same configuration, each on its own loop. */
	wr.main = r;
	wr.msgs = m;
	workers_each(r->workers, on_worker_reload, &wr);
	summary_make(r);
	fflush(m);
	log_lines(failed || wr.failed ? LOG_WARNING : LOG_NOTICE, msgs);
	log_notice(LOG_MAIN,
		   "reloaded %s: %zu upstream%s (%zu kept with their connections, %zu new), %s",
		   what, upstream_count(snap->ups), upstream_count(snap->ups) == 1 ? "" : "s", kept,
		   upstream_count(snap->ups) - kept, r->summary);
	/* Queries in flight finish on the old snapshot; its removed upstreams close after them. */
	snapshot_unref(old);
	ret = failed ? -EADDRNOTAVAIL : wr.failed ? -EIO : 0;
	if (failed) {
		fprintf(m,
			"reloaded %s, but %zu address%s could not be bound (above); serving on the "
			"others\n",
			what, failed, failed == 1 ? "" : "es");
	}
	if (wr.failed) {
		fprintf(m,
			"reloaded %s, but %zu worker%s could not take it (above) and serve%s on "
			"with the configuration before\n",
			what, wr.failed, wr.failed == 1 ? "" : "s", wr.failed == 1 ? "s" : "");
	}
	if (!failed && !wr.failed) {
		fprintf(m, "reloaded %s: %s\n", what, r->summary);
	}
cleanup:
	fclose(m);
	if (out && msgs) {
		fputs(msgs, out);
	}
	free(msgs);
	notify_ready(r->summary);
	r->stats.reloads++;
	if (ret != 0) {
		r->stats.reload_failures++;
	}
	return ret;
}

void resolver_stop(struct resolver *r)
{
	if (r->stopping) {
		return;
	}
	if (r->serving && !r->main) {
		resolver_stats_log(r); /* the sums, before the workers go */
		if (r->cfg->cache_file) {
			cache_file_dump_at_stop(r);
		}
	}
	r->stopping = true;
	workers_stop(r->workers);
	if (r->control) {
		control_close(r->control, NULL, NULL);
		r->control = NULL;
	}
	if (r->metrics) {
		metrics_server_close(r->metrics, NULL, NULL);
		r->metrics = NULL;
	}
	if (r->netwatch) {
		netwatch_close(r->netwatch);
		r->netwatch = NULL;
	}
	free(r->metrics_name);
	r->metrics_name = NULL;
	local_stop(r);
	query_drop_all(r);
	listener_close_all(r);
	hostname_stop(r); /* its queries on the upstreams are cancelled */
	/* The queries are gone: this was the last reference, and the upstreams close now. */
	snapshot_unref(r->snap);
	r->snap = NULL;
	uv_handle_t *handles[] = {
		(uv_handle_t *)&r->q_timer,  (uv_handle_t *)&r->trim_timer,
		(uv_handle_t *)&r->sig_int,  (uv_handle_t *)&r->sig_term,
		(uv_handle_t *)&r->sig_usr1, (uv_handle_t *)&r->sig_hup,
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
	/* The workers' threads end after their loops: their upstreams let go of the tickets. */
	workers_free(r->workers);
	r->workers = NULL;
	free(r->steer); /* the main resolver's; the workers that borrowed it have ended */
	r->steer = NULL;
	upstream_pool_free(r->pool);
	r->pool = NULL;
	local_free(r);
	free(r->config_path);
	r->config_path = NULL;
	cache_free(r->cache);
	r->cache = NULL;
	free(r->inflight);
	r->inflight = NULL;
	listener_free(r);
	free(r->sources); /* empty: every waiter has been freed */
	r->sources = NULL;
	free(r->out);
	r->out = NULL;
	free(r->scrub);
	r->scrub = NULL;
	free(r->val_buf);
	r->val_buf = NULL;
	val_cache_free(r->vc);
	r->vc = NULL;
	if (!r->main) {
		tls_tickets_free(r->tickets);
	}
	r->tickets = NULL;
}
