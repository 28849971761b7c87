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
 * next query, not after an hour of backoff). An upstream that has no address yet (a host name
 * upstream still resolving, resolver/hostname.c) is never taken, not even then: a try would
 * fail at once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "resolver.h"

/* A connect plus handshake that takes longer than this is given up (getdns clamps it too). */
#define HANDSHAKE_TIMEOUT_MS 4000
#define PROBE_EVERY	     16

/* A TLS client context: the trust anchors and versions shared by the upstreams that use it. */
struct upstream_ctx {
	struct upstream_ctx *next;
	struct tls_client *client; /**< owned; its parameters are the context's key */
	unsigned refs;		   /**< sets and pool entries using it */
	int ca_checked;		   /**< ctx_check(): 0 not yet, 1 its CA file loads, -1 not */
};

/*
 * One upstream of the pool: its tls_upstream (connections, tickets, health, counters) and the
 * key under which a reloaded configuration finds it again. A host name upstream is keyed by its
 * name and port, not by the addresses it has now: a reload keeps it with those addresses and
 * the lookup that keeps them fresh (hostname.c).
 */
struct pool_entry {
	struct pool_entry *next;
	struct upstream_pool *pool;
	struct tls_upstream *u;	      /**< owned; closed when the last set lets go */
	struct upstream_ctx *ctx;     /**< referenced, or NULL for a plain upstream */
	bool plain;		      /**< plain DNS (a forward zone's plain:), not DoT */
	struct sockaddr_storage addr; /**< for a host name, family AF_UNSPEC and the port only */
	socklen_t addr_len;	      /**< 0 for a host name */
	char *host;		      /**< owned or NULL: tls://HOST */
	char *auth_name;	      /**< owned or NULL */
	uint8_t (*pins)[TLS_PIN_LEN];
	size_t n_pins;
	bool strict;
	unsigned refs; /**< sets using it */
};

struct upstream_pool {
	uv_loop_t *loop;
	struct tls_tickets *tickets; /**< borrowed or NULL: the tickets all workers share */
	struct upstream_ctx *ctxs;   /**< every context not yet freed */
	struct pool_entry *entries;  /**< entries some set uses */
	size_t n_closing;	     /**< entries closing, freed in their close callback */
};

struct upstream_set {
	uv_loop_t *loop;
	struct upstream_pool *pool;
	struct upstream_ctx *ctx; /**< referenced */
	struct pool_entry **ents; /**< owned array of n referenced entries, in config order */
	size_t n;
	size_t next; /**< round robin position */
	bool round_robin;
	bool fastest;
	unsigned picks;
};

int upstream_pool_new(uv_loop_t *loop, struct tls_tickets *tickets, struct upstream_pool **out)
{
	struct upstream_pool *p = calloc(1, sizeof(*p));

	if (!p) {
		return -ENOMEM;
	}
	p->loop = loop;
	p->tickets = tickets;
	*out = p;
	return 0;
}

void upstream_pool_free(struct upstream_pool *p)
{
	if (!p) {
		return;
	}
	REQUIRE(!p->entries && p->n_closing == 0 && !p->ctxs);
	free(p);
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void ctx_unref(struct upstream_pool *p, struct upstream_ctx *x)
{
	REQUIRE(x->refs > 0);
	if (--x->refs > 0) {
		return;
	}
	for (struct upstream_ctx **pp = &p->ctxs; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	tls_client_free(x->client);
	free(x);
}

/*
 * The context for @cfg's trust parameters: the one in use if they are unchanged (its
 * connections stay) and did not fail to load, else a new one. The first context of the pool
 * (at start) reads its trust anchors when the first connection needs them, so that an idle
 * dotd has run no wolfSSL code (tls.h, tls_init()); config.c has checked the CA file or
 * directory already, and ctx_check() tries a CA file that upstreams need. One made while the pool
 * has others (a reload that changed them, or asks again for ones that failed) reads them now, so
 * that a reload they break is refused and the running configuration keeps serving.
 */
static int ctx_get(struct upstream_pool *p, const struct config *cfg, FILE *msgs,
		   struct upstream_ctx **out)
{
	struct tls_client_params tp = {
		.ca_file = cfg->ca_file,
		.ca_path = cfg->ca_path,
		.tls_min = cfg->tls_min,
		.tls_max = cfg->tls_max,
	};
	struct tls_client_params have;
	struct upstream_ctx *x;
	int ret;

	for (x = p->ctxs; x; x = x->next) {
		tls_client_params_get(x->client, &have);
		if (str_same(have.ca_file, tp.ca_file) && str_same(have.ca_path, tp.ca_path) &&
		    have.tls_min == tp.tls_min && have.tls_max == tp.tls_max &&
		    !tls_client_failed(x->client)) {
			x->refs++;
			*out = x;
			return 0;
		}
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		return -ENOMEM;
	}
	ret = tls_client_new(&tp, &x->client);
	if (ret != 0) {
		goto cleanup;
	}
	if (p->ctxs) {
		ret = tls_client_load(x->client);
		if (ret == 0 && tls_client_failed(x->client)) {
			if (msgs) {
				fprintf(msgs, "%s '%s': no certificate in it can be read\n",
					cfg->ca_file ? "tls_ca_file" : "tls_ca_path",
					cfg->ca_file ? cfg->ca_file : cfg->ca_path);
			}
			ret = -EINVAL;
		}
		if (ret != 0) {
			tls_client_free(x->client);
			goto cleanup;
		}
	}
	x->refs = 1;
	x->next = p->ctxs;
	p->ctxs = x;
	*out = x;
	return 0;
cleanup:
	free(x);
	return ret;
}

/* Whether one of @ups is authenticated by name alone, under the strict profile. */
static bool ca_needed(const struct config *cfg, const struct config_upstream *ups, size_t n)
{
	if (cfg->auth != CONFIG_AUTH_REQUIRED) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (ups[i].n_pins == 0) {
			return true;
		}
	}
	return false;
}

/*
 * 1 when CA file @path loads, or cannot be checked now (logged: the first connection reads it
 * then); -1 when it holds nothing wolfSSL takes, said on @msgs or in the log.
 */
static int ca_file_verdict(const char *path, FILE *msgs)
{
	bool ok = false;
	int ret = tls_ca_file_check(path, &ok);

	if (ret != 0) {
		log_warn(LOG_TLS,
			 "tls_ca_file '%s': cannot be checked now (%s): read at the first "
			 "connection",
			 path, strerror(-ret));
		return 1;
	}
	if (ok) {
		return 1;
	}
	if (msgs) {
		fprintf(msgs, "tls_ca_file '%s': no certificate in it can be read\n", path);
	} else {
		log_err(LOG_TLS,
			"tls_ca_file '%s': no certificate in it can be read, and upstreams "
			"authenticated by name need it",
			path);
	}
	return -1;
}

/*
 * A context not read yet (the first, ctx_get) whose tls_ca_file holds no certificate wolfSSL
 * can take would fail every upstream authenticated by name at its first connection, and dotd
 * would serve nothing but SERVFAIL to them: it does not start with it. The file is tried in a
 * child process (tls_ca_file_check()), once per context. Upstreams that are all pinned, or
 * opportunistic, do not need it: they start, and the error is logged at the first connection
 * (tls_ctx.c), as before.
 */
static int ctx_check(struct upstream_ctx *x, const struct config *cfg,
		     const struct config_upstream *ups, size_t n, FILE *msgs)
{
	struct tls_client_params tp;

	tls_client_params_get(x->client, &tp);
	if (!tp.ca_file || tls_client_loaded(x->client) || !ca_needed(cfg, ups, n)) {
		return 0;
	}
	if (x->ca_checked == 0) {
		x->ca_checked = ca_file_verdict(tp.ca_file, msgs); /* once for its sets */
	}
	return x->ca_checked < 0 ? -EINVAL : 0;
}

int upstream_ca_check(const struct config *cfg, FILE *msgs)
{
	bool needed = ca_needed(cfg, cfg->upstreams, cfg->n_upstreams);

	for (size_t i = 0; i < cfg->n_zones && !needed; i++) {
		needed = ca_needed(cfg, cfg->zones[i].upstreams, cfg->zones[i].n_upstreams);
	}
	if (!needed || !cfg->ca_file) {
		return 0;
	}
	return ca_file_verdict(cfg->ca_file, msgs) < 0 ? -EINVAL : 0;
}

static bool addr_same(const struct sockaddr_storage *a, socklen_t alen,
		      const struct sockaddr_storage *b, socklen_t blen)
{
	if (alen != blen || a->ss_family != b->ss_family) {
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

/* The port of a host name upstream, kept where struct sockaddr_in keeps it (config.h). */
static uint16_t host_port(const struct sockaddr_storage *a)
{
	return ((const struct sockaddr_in *)a)->sin_port;
}

/* Whether @e is the pool's upstream for @cu under @ctx: the pool key (tls_upstream.c). */
static bool entry_matches(const struct pool_entry *e, const struct config_upstream *cu,
			  const struct upstream_ctx *ctx, bool strict)
{
	bool where =
		cu->host ? e->host && strcmp(e->host, cu->host) == 0 &&
				   host_port(&e->addr) == host_port(&cu->addr)
			 : !e->host && addr_same(&e->addr, e->addr_len, &cu->addr, cu->addr_len);

	return where && !e->plain && e->ctx == ctx && e->strict == strict &&
	       str_same(e->auth_name, cu->auth_name) && e->n_pins == cu->n_pins &&
	       (e->n_pins == 0 || memcmp(e->pins, cu->pins, e->n_pins * TLS_PIN_LEN) == 0);
}

static void params_of(const struct config *cfg, const struct config_upstream *cu,
		      struct tls_upstream_params *p)
{
	unsigned hs =
		cfg->timeout_ms < HANDSHAKE_TIMEOUT_MS ? cfg->timeout_ms : HANDSHAKE_TIMEOUT_MS;

	*p = (struct tls_upstream_params){
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
		.accept_pinned_unset_clock = cfg->unset_clock == CONFIG_UNSET_CLOCK_ACCEPT_PINNED,
	};
}

/*
 * Keep the tickets of @e in @t, shared with the other workers' upstreams of the same pool key:
 * where (address, or host name), port, tls_auth_name, pins, strictness, trust anchors and TLS
 * versions, all written out, so that a ticket is only ever offered where its handshake's checks
 * hold. Out of memory, @e keeps its own tickets.
 */
static void ticket_key_share(struct pool_entry *e, const struct upstream_ctx *ctx,
			     struct tls_tickets *t)
{
	char addr[INET6_ADDRSTRLEN] = "";
	struct tls_client_params tp;
	char *key = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&key, &len);

	tls_client_params_get(ctx->client, &tp);
	if (!f) {
		return;
	}
	if (e->host) {
		fprintf(f, "host=%s", e->host);
	} else if (e->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&e->addr)->sin6_addr, addr,
			  sizeof(addr));
		fprintf(f, "addr=%s", addr);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&e->addr)->sin_addr, addr,
			  sizeof(addr));
		fprintf(f, "addr=%s", addr);
	}
	fprintf(f, " port=%u auth=%s strict=%d ca=%s capath=%s tls=%d-%d pins=",
		(unsigned)ntohs(host_port(&e->addr)), e->auth_name ? e->auth_name : "",
		(int)e->strict, tp.ca_file ? tp.ca_file : "", tp.ca_path ? tp.ca_path : "",
		tp.tls_min, tp.tls_max);
	for (size_t i = 0; i < e->n_pins; i++) {
		for (size_t j = 0; j < TLS_PIN_LEN; j++) {
			fprintf(f, "%02x", e->pins[i][j]);
		}
		fputc(i + 1 < e->n_pins ? ',' : ' ', f);
	}
	if (fclose(f) == 0 && key) {
		tls_upstream_tickets_share(e->u, t, key);
	}
	free(key);
}

static void entry_free(struct pool_entry *e)
{
	free(e->host);
	free(e->auth_name);
	free(e->pins);
	free(e);
}

/* The pool's entry for @cu: the one in use, retuned to @cfg's limits, or a new one. */
static int entry_get(struct upstream_pool *pool, const struct config *cfg,
		     const struct config_upstream *cu, struct upstream_ctx *ctx,
		     struct pool_entry **out)
{
	bool strict = cfg->auth == CONFIG_AUTH_REQUIRED;
	struct tls_upstream_params tp;
	struct pool_entry *e;
	int ret;

	params_of(cfg, cu, &tp);
	for (e = pool->entries; e; e = e->next) {
		if (entry_matches(e, cu, ctx, strict)) {
			tls_upstream_tune(e->u, &tp);
			e->refs++;
			*out = e;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	e->addr = cu->addr; /* a host name's port too */
	e->addr_len = cu->addr_len;
	e->host = cu->host ? strdup(cu->host) : NULL;
	e->auth_name = cu->auth_name ? strdup(cu->auth_name) : NULL;
	e->pins = cu->n_pins ? calloc(cu->n_pins, TLS_PIN_LEN) : NULL;
	if ((cu->host && !e->host) || (cu->auth_name && !e->auth_name) ||
	    (cu->n_pins && !e->pins)) {
		entry_free(e);
		return -ENOMEM;
	}
	if (cu->n_pins) {
		memcpy(e->pins, cu->pins, cu->n_pins * TLS_PIN_LEN);
	}
	e->n_pins = cu->n_pins;
	e->strict = strict;
	ret = tls_upstream_new(pool->loop, ctx->client, &tp, &e->u);
	if (ret != 0) {
		entry_free(e);
		return ret;
	}
	if (pool->tickets) {
		ticket_key_share(e, ctx, pool->tickets);
	}
	e->pool = pool;
	e->ctx = ctx;
	ctx->refs++;
	e->refs = 1;
	e->next = pool->entries;
	pool->entries = e;
	*out = e;
	return 0;
}

/*
 * The pool's plain entry for @cp (a forward zone's plain: server): keyed by its address alone,
 * never shared with a DoT entry on the same address.
 */
static int entry_get_plain(struct upstream_pool *pool, const struct config *cfg,
			   const struct config_plain *cp, struct pool_entry **out)
{
	struct config_upstream cu = {
		.addr = cp->addr,
		.addr_len = cp->addr_len,
		.name = cp->name,
	};
	struct tls_upstream_params tp;
	struct pool_entry *e;
	int ret;

	params_of(cfg, &cu, &tp);
	tp.strict = false;
	for (e = pool->entries; e; e = e->next) {
		if (e->plain && addr_same(&e->addr, e->addr_len, &cp->addr, cp->addr_len)) {
			tls_upstream_tune(e->u, &tp);
			e->refs++;
			*out = e;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	memcpy(&e->addr, &cp->addr, cp->addr_len);
	e->addr_len = cp->addr_len;
	e->plain = true;
	ret = tls_upstream_new_plain(pool->loop, &tp, &e->u);
	if (ret != 0) {
		log_err(LOG_MAIN, "plain upstream '%s': %s", cp->name, strerror(-ret));
		entry_free(e);
		return ret;
	}
	e->pool = pool;
	e->refs = 1;
	e->next = pool->entries;
	pool->entries = e;
	*out = e;
	return 0;
}

static void on_entry_closed(void *arg)
{
	struct pool_entry *e = arg;
	struct upstream_pool *pool = e->pool;

	pool->n_closing--;
	if (e->ctx) {
		ctx_unref(pool, e->ctx);
	}
	entry_free(e);
}

/*
 * A set lets go of @e. The last one closes it: queries still on it get TLS_ERR_LOST, which
 * cannot happen in practice, since the set is freed only when the snapshot's last query is.
 */
static void entry_unref(struct pool_entry *e)
{
	struct upstream_pool *pool = e->pool;

	REQUIRE(e->refs > 0);
	if (--e->refs > 0) {
		return;
	}
	for (struct pool_entry **pp = &pool->entries; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	log_debug(LOG_MAIN, "closing upstream '%s'", tls_upstream_name(e->u));
	pool->n_closing++;
	/* An upstream with no connection is freed at once, calling back synchronously. */
	tls_upstream_close(e->u, on_entry_closed, e);
}

/* The set of the @n upstreams @ups under @cfg's TLS settings, or of @n_plain plain ones. */
static int set_new(struct upstream_pool *pool, const struct config *cfg,
		   const struct config_upstream *ups, size_t n, const struct config_plain *plain,
		   size_t n_plain, FILE *msgs, struct upstream_set **out)
{
	struct upstream_set *s;
	int ret = 0;

	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->ents = calloc(n + n_plain ? n + n_plain : 1, sizeof(*s->ents));
	if (!s->ents) {
		free(s);
		return -ENOMEM;
	}
	s->loop = pool->loop;
	s->pool = pool;
	s->round_robin = cfg->round_robin;
	s->fastest = cfg->selection == CONFIG_SELECT_FASTEST;
	if (n > 0 || n_plain == 0) {
		ret = ctx_get(pool, cfg, msgs, &s->ctx);
		if (ret == 0) {
			ret = ctx_check(s->ctx, cfg, ups, n, msgs);
		}
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = entry_get(pool, cfg, &ups[i], s->ctx, &s->ents[s->n]);
		if (ret == 0) {
			s->n++;
		}
	}
	for (size_t i = 0; ret == 0 && i < n_plain; i++) {
		ret = entry_get_plain(pool, cfg, &plain[i], &s->ents[s->n]);
		if (ret == 0) {
			s->n++;
		}
	}
	if (ret != 0) {
		upstream_set_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

int upstream_set_new(struct upstream_pool *pool, const struct config *cfg, FILE *msgs,
		     struct upstream_set **out)
{
	return set_new(pool, cfg, cfg->upstreams, cfg->n_upstreams, NULL, 0, msgs, out);
}

int upstream_set_new_zone(struct upstream_pool *pool, const struct config *cfg,
			  const struct config_zone *z, FILE *msgs, struct upstream_set **out)
{
	return set_new(pool, cfg, z->upstreams, z->n_upstreams, z->plain, z->n_plain, msgs, out);
}

void upstream_set_free(struct upstream_set *s)
{
	if (!s) {
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		entry_unref(s->ents[i]);
	}
	if (s->ctx) {
		ctx_unref(s->pool, s->ctx);
	}
	free(s->ents);
	free(s);
}

bool upstream_set_shares(const struct upstream_set *s, size_t i, const struct upstream_set *old)
{
	for (size_t j = 0; old && j < old->n; j++) {
		if (old->ents[j] == s->ents[i]) {
			return true;
		}
	}
	return false;
}

size_t upstream_count(const struct upstream_set *s)
{
	return s->n;
}

struct tls_upstream *upstream_get(struct upstream_set *s, size_t i)
{
	REQUIRE(i < s->n);
	return s->ents[i]->u;
}

bool upstream_plain(const struct upstream_set *s, size_t i)
{
	REQUIRE(i < s->n);
	return s->ents[i]->plain;
}

const char *upstream_host(const struct upstream_set *s, size_t i, uint16_t *port)
{
	REQUIRE(i < s->n);
	if (s->ents[i]->host && port) {
		*port = host_port(&s->ents[i]->addr);
	}
	return s->ents[i]->host;
}

static bool is_tried(const uint8_t *tried, size_t i)
{
	return (tried[i / 8] >> (i % 8)) & 1;
}

static int pick_fastest(struct upstream_set *s, const uint8_t *tried, uint64_t now)
{
	size_t best = s->n, n_cand = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (is_tried(tried, i) || tls_upstream_available_at(s->ents[i]->u) > now) {
			continue;
		}
		n_cand++;
		if (best == s->n ||
		    tls_upstream_srtt(s->ents[i]->u) < tls_upstream_srtt(s->ents[best]->u)) {
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
			    tls_upstream_available_at(s->ents[i]->u) > now) {
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

			if (!is_tried(tried, i) &&
			    tls_upstream_available_at(s->ents[i]->u) <= now) {
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
	/*
	 * Every untried upstream is backed off: the one that recovers first, now, among those not
	 * tried that way less than a second ago (tls_upstream_may_try()); none if every one was.
	 */
	for (size_t i = 0; i < s->n; i++) {
		uint64_t at = tls_upstream_available_at(s->ents[i]->u);

		if (!is_tried(tried, i) && at != TLS_UPSTREAM_NEVER &&
		    tls_upstream_may_try(s->ents[i]->u) &&
		    (soonest == s->n || at < tls_upstream_available_at(s->ents[soonest]->u))) {
			soonest = i;
		}
	}
	return soonest < s->n ? (int)soonest : -1;
}

void upstream_set_stats_log(const struct upstream_set *s)
{
	uint64_t now = uv_now(s->loop);

	for (size_t i = 0; i < s->n; i++) {
		uint64_t at = tls_upstream_available_at(s->ents[i]->u);
		struct tls_upstream_stats st;

		tls_upstream_stats_get(s->ents[i]->u, &st);
		log_notice(
			LOG_MAIN,
			"upstream '%s': queries=%llu records=%llu answers=%llu connections=%llu "
			"handshakes_full=%llu handshakes_resumed=%llu tickets=%llu "
			"auth_failures=%llu conn_failures=%llu proto_errors=%llu dead=%llu "
			"server_closes=%llu idle_closes=%llu backoffs=%llu resent=%llu srtt_ms=%u "
			"in_flight=%llu queued=%llu conns_open=%llu state=%s backoff_ms=%llu",
			tls_upstream_name(s->ents[i]->u), (unsigned long long)st.queries,
			(unsigned long long)st.records, (unsigned long long)st.answers,
			(unsigned long long)st.connections, (unsigned long long)st.handshakes_full,
			(unsigned long long)st.handshakes_resumed, (unsigned long long)st.tickets,
			(unsigned long long)st.auth_failures, (unsigned long long)st.conn_failures,
			(unsigned long long)st.proto_errors, (unsigned long long)st.dead,
			(unsigned long long)st.server_closes, (unsigned long long)st.idle_closes,
			(unsigned long long)st.backoffs, (unsigned long long)st.resent,
			tls_upstream_srtt(s->ents[i]->u), (unsigned long long)st.in_flight,
			(unsigned long long)st.queued, (unsigned long long)st.conns_open,
			tls_upstream_state_name(tls_upstream_state(s->ents[i]->u)),
			(unsigned long long)(at > now && at != TLS_UPSTREAM_NEVER ? at - now : 0));
	}
}

void upstream_pool_each(struct upstream_pool *p, void (*fn)(struct tls_upstream *u, void *arg),
			void *arg)
{
	for (struct pool_entry *e = p->entries; e; e = e->next) {
		fn(e->u, arg);
	}
}
