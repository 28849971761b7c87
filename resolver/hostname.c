/*
 * hostname: the addresses of host name upstreams (tls://dns.quad9.net), looked up through the
 * other upstreams over TLS or, only when none is configured with an address, through the
 * bootstrap servers in plain DNS (docs/CONFIG.md, bootstrap: they see those names and no other).
 * The certificate of the upstream is still checked against its name (tls/, auth_name), so an
 * answer forged on the way can stop dotd from reaching it, never make it trust another server.
 *
 * One struct host_lookup per host name upstream of the current snapshot, keyed by its
 * tls_upstream (the pool keeps that across a reload: upstream.c keys it by host name, port,
 * names, pins and TLS context). A round asks A and AAAA of each candidate in turn until one
 * gives an address: a try ends with both answers, or at the timeout; an error answer, no
 * address, a failed connection or the timeout move on to the next candidate. A round that
 * found addresses gives them to the upstream (tls_upstream_set_addresses()) and waits for the
 * smallest TTL of the records used, clamped to [30 s, 1 day]; one that found none keeps the old
 * addresses and is tried again after 5 s, doubling up to 5 min.
 *
 * The candidates are borrowed from the current snapshot and from the bootstrap list; both stay
 * until the next hostname_apply(), which restarts every round under way with the new ones
 * before the old snapshot can go, or until hostname_stop(). Queries are cancelled, never left
 * to call back into a lookup that is gone.
 *
 * Lifetime: struct hostnames belongs to the resolver (r->hostnames) until hostname_stop(); it
 * is freed when the last timer and bootstrap upstream it closed report back. A lookup is freed
 * in its timer's close callback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostname.h"
#include "log.h"
#include "resolver.h"

#define MAX_CHAIN 8 /* CNAME links followed from the question's name */
#define Q_A	  0
#define Q_AAAA	  1

struct host_lookup;

/** One question (A or AAAA) of a try. */
struct host_query {
	struct tls_query tq;	/**< first: the callback casts back */
	struct host_lookup *hl; /**< borrowed: owns this */
	uint16_t qtype;
	bool active;	/**< submitted, its callback not come yet */
	int status;	/**< the try's outcome: 0 with found, or why not */
	unsigned rcode; /**< of an error answer (-EREMOTEIO), for the log */
	struct hostname_found found;
	uint8_t *frame; /**< owned: the query, with its length prefix */
	size_t frame_cap;
};

/** The lookups of one host name upstream. */
struct host_lookup {
	struct host_lookup *next;    /**< in hs->lookups */
	struct hostnames *hs;	     /**< borrowed */
	struct tls_upstream *target; /**< borrowed: a host name upstream of r->snap */
	char *host;		     /**< owned: lower case, no trailing dot */
	uint16_t port;		     /**< network byte order */
	uint8_t qname[DNS_MAX_NAME]; /**< the host name in wire form */
	size_t qname_len;
	uv_timer_t timer;	     /**< the deadline of the try under way, else the next round */
	bool trying;		     /**< a try is under way */
	bool seen;		     /**< in the snapshot hostname_apply() looks at */
	struct host_query q[2];	     /**< A, AAAA */
	struct tls_upstream **cands; /**< owned array of n_cands borrowed upstreams: this round's */
	size_t n_cands;
	size_t n_tls;	   /**< cands[0..n_tls) are DoT upstreams, the rest bootstrap servers */
	size_t cand;	   /**< the one being tried */
	unsigned failures; /**< rounds that found nothing, in a row */
	struct sockaddr_storage addrs[HOSTNAME_MAX_ADDRS]; /**< what the upstream was given */
	size_t n_addrs;
	char why[160]; /**< why the last try found nothing, for the log */
};

/** A bootstrap server, as a plain upstream of its own. */
struct boot {
	struct boot *next;
	struct hostnames *hs;
	struct tls_upstream *u; /**< owned */
};

struct hostnames {
	struct resolver *r;	     /**< borrowed */
	struct host_lookup *lookups; /**< owned */
	struct boot *boots;	     /**< owned: open only while no upstream has an address */
	unsigned n_closing;	     /**< timers and bootstrap upstreams still to call back */
	bool stopping;		     /**< hostname_stop(): freed when n_closing reaches 0 */
};

static void round_start(struct host_lookup *hl);
static void try_next(struct host_lookup *hl);
static void on_timer(uv_timer_t *t);

/* --- reading answers --- */

/* RFC 2181 §8: a TTL with the top bit set is read as 0. */
static uint32_t ttl_of(const uint8_t *msg, const struct dns_rr *rr)
{
	uint32_t ttl = dns_get32(msg + rr->ttl_off);

	return ttl > 0x7fffffffu ? 0 : ttl;
}

/* The CNAME in the answer section owned by the name at @name, or false. */
static bool cname_of(const uint8_t *msg, size_t len, size_t name, struct dns_rr *out)
{
	struct dns_walk w;
	struct dns_rr rr;
	size_t end;

	if (dns_walk_init(&w, msg, len) != 0) {
		return false;
	}
	while (dns_walk_next(&w, &rr) == 1 && rr.section == 1) {
		/* Its RDATA must be one name, exactly: not one that runs on into what follows. */
		if (rr.type == DNS_TYPE_CNAME && rr.rclass == DNS_CLASS_IN &&
		    dns_name_equal(msg, len, rr.off, msg, len, name) &&
		    dns_name_skip(msg, len, rr.rdata_off, &end) == 0 && end == rr.end) {
			*out = rr;
			return true;
		}
	}
	return false;
}

static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* Add the address in @rdata (A or AAAA) to @f, unless it is there, unspecified or too many. */
static void found_add(struct hostname_found *f, uint16_t type, const uint8_t *rdata, uint16_t port)
{
	static const uint8_t zero[16];
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (type == DNS_TYPE_A) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		/* 0.0.0.0 would connect to this host: never an upstream's address. */
		if (memcmp(rdata, zero, 4) == 0) {
			return;
		}
		a->sin_family = AF_INET;
		a->sin_port = port;
		memcpy(&a->sin_addr, rdata, 4);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		if (memcmp(rdata, zero, 16) == 0) {
			return;
		}
		a->sin6_family = AF_INET6;
		a->sin6_port = port;
		memcpy(&a->sin6_addr, rdata, 16);
	}
	for (size_t i = 0; i < f->n_addrs; i++) {
		if (addr_equal(&f->addrs[i], &ss)) {
			return;
		}
	}
	if (f->n_addrs < HOSTNAME_MAX_ADDRS) {
		f->addrs[f->n_addrs++] = ss;
	}
}

int hostname_answer_parse(const uint8_t *msg, size_t len, uint16_t port, struct hostname_found *out)
{
	struct hostname_found f = {.ttl = UINT32_MAX};
	uint32_t chain_ttl = UINT32_MAX;
	size_t name = DNS_HDR_LEN; /* the question's name, then each CNAME's target */
	struct dns_question q;
	struct dns_walk w;
	struct dns_rr rr;
	uint16_t rdlen;
	int ret;

	if (len < DNS_HDR_LEN || dns_question_parse(msg, len, &q) != 0 ||
	    q.qclass != DNS_CLASS_IN || (q.qtype != DNS_TYPE_A && q.qtype != DNS_TYPE_AAAA) ||
	    (dns_flags(msg) & DNS_TC)) {
		return -EBADMSG;
	}
	if (dns_rcode(msg) == DNS_RCODE_NXDOMAIN) {
		return -ENOENT;
	}
	if (dns_rcode(msg) != DNS_RCODE_NOERROR) {
		return -EREMOTEIO;
	}
	/* RFC 1034 §3.6.2: the answer to a name with a CNAME is at the end of the chain. */
	for (unsigned links = 0; cname_of(msg, len, name, &rr); links++) {
		if (links == MAX_CHAIN) {
			return -ELOOP;
		}
		chain_ttl = ttl_of(msg, &rr) < chain_ttl ? ttl_of(msg, &rr) : chain_ttl;
		name = rr.rdata_off;
	}
	rdlen = q.qtype == DNS_TYPE_A ? 4 : 16;
	if (dns_walk_init(&w, msg, len) != 0) {
		return -EBADMSG;
	}
	while ((ret = dns_walk_next(&w, &rr)) == 1 && rr.section == 1) {
		if (rr.type != q.qtype || rr.rclass != DNS_CLASS_IN || rr.rdlen != rdlen ||
		    !dns_name_equal(msg, len, rr.off, msg, len, name)) {
			continue;
		}
		found_add(&f, rr.type, msg + rr.rdata_off, port);
		f.ttl = ttl_of(msg, &rr) < f.ttl ? ttl_of(msg, &rr) : f.ttl;
	}
	if (ret < 0) {
		return -EBADMSG;
	}
	if (f.n_addrs == 0) {
		f.ttl = UINT32_MAX;
	} else if (chain_ttl < f.ttl) {
		f.ttl = chain_ttl; /* the chain may change as soon as its first link expires */
	}
	*out = f;
	return 0;
}

unsigned hostname_refresh_s(uint32_t ttl)
{
	if (ttl < HOSTNAME_TTL_MIN) {
		return HOSTNAME_TTL_MIN;
	}
	return ttl > HOSTNAME_TTL_MAX ? HOSTNAME_TTL_MAX : (unsigned)ttl;
}

unsigned hostname_retry_s(unsigned failures)
{
	unsigned s = HOSTNAME_RETRY_MIN;

	for (unsigned i = 1; i < failures && s < HOSTNAME_RETRY_MAX; i++) {
		s *= 2;
	}
	return s < HOSTNAME_RETRY_MAX ? s : HOSTNAME_RETRY_MAX;
}

/* --- logs --- */

/* "9.9.9.9, 2620:fe::fe" */
static const char *addrs_text(const struct sockaddr_storage *a, size_t n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off + INET6_ADDRSTRLEN + 2 < size; i++) {
		const void *ip =
			a[i].ss_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)&a[i])->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)&a[i])->sin6_addr;

		if (i > 0) {
			off += (size_t)snprintf(buf + off, size - off, ", ");
		}
		if (inet_ntop(a[i].ss_family, ip, buf + off, (socklen_t)(size - off))) {
			off += strlen(buf + off);
		}
	}
	return buf;
}

/* Why a query of a try found nothing, in words. */
static void why_of(const struct host_query *hq, char *buf, size_t size)
{
	const char *what = NULL;

	switch (hq->status) {
	case 0:
		what = "no address (NODATA)";
		break;
	case TLS_ERR_AUTH:
		what = "authentication failed";
		break;
	case TLS_ERR_CONNECT:
		what = "cannot connect";
		break;
	case TLS_ERR_LOST:
		what = "connection lost";
		break;
	case TLS_ERR_PROTO:
		what = "broken answer";
		break;
	case TLS_ERR_TIMEOUT:
		what = "connection went silent";
		break;
	case -ENOENT:
		what = "no such name (NXDOMAIN)";
		break;
	case -ELOOP:
		what = "CNAME chain too long";
		break;
	case -EBADMSG:
		what = "unusable answer";
		break;
	case -EREMOTEIO:
		snprintf(buf, size, "error answer (RCODE %u)", hq->rcode);
		return;
	default:
		what = strerror(-hq->status);
		break;
	}
	snprintf(buf, size, "%s", what);
}

/* --- one lookup --- */

static bool addrs_same(const struct sockaddr_storage *a, size_t na,
		       const struct sockaddr_storage *b, size_t nb)
{
	if (na != nb) {
		return false;
	}
	for (size_t i = 0; i < na; i++) {
		bool found = false;

		for (size_t j = 0; j < nb && !found; j++) {
			found = addr_equal(&a[i], &b[j]);
		}
		if (!found) {
			return false;
		}
	}
	return true;
}

/* Whether @u is already in cands[0..n). */
static bool cand_has(const struct host_lookup *hl, const struct tls_upstream *u)
{
	for (size_t i = 0; i < hl->n_cands; i++) {
		if (hl->cands[i] == u) {
			return true;
		}
	}
	return false;
}

/*
 * This round's candidates, in order: the DoT upstreams configured with an address (the
 * default group first; a forward zone's plain servers never), then the host name upstreams that
 * have addresses (this one too: its old ones may still answer), those not backed off before those
 * that are; then, if no upstream is configured with an address, the bootstrap servers.
 */
static int cands_build(struct host_lookup *hl)
{
	const struct snapshot *snap = hl->hs->r->snap;
	uint64_t now = uv_now(hl->hs->r->loop);
	size_t cap = 0, n_addr = 0, k = 0;
	struct tls_upstream **c;

	for (size_t g = 0; g < snap->n_groups; g++) {
		cap += upstream_count(snap->groups[g].ups);
	}
	for (const struct boot *b = hl->hs->boots; b; b = b->next) {
		cap++;
	}
	c = calloc(cap ? cap : 1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	free(hl->cands);
	hl->cands = c;
	hl->n_cands = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t g = 0; g < snap->n_groups; g++) {
			struct upstream_set *s = snap->groups[g].ups;

			for (size_t i = 0; i < upstream_count(s); i++) {
				struct tls_upstream *u = upstream_get(s, i);
				bool host = upstream_host(s, i, NULL) != NULL;

				/* Never a forward zone's plain server: the name would go out
				 * in clear text to a server not chosen for it. */
				if (host != (pass == 1) || cand_has(hl, u) ||
				    upstream_plain(s, i) ||
				    tls_upstream_state(u) == TLS_UPSTREAM_RESOLVING) {
					continue;
				}
				c[hl->n_cands++] = u;
				n_addr += !host;
			}
		}
	}
	/* Stable: those available now first, each part in the order above. */
	for (size_t i = 0; i < hl->n_cands; i++) {
		if (tls_upstream_available_at(c[i]) <= now) {
			struct tls_upstream *u = c[i];

			memmove(c + k + 1, c + k, (i - k) * sizeof(*c));
			c[k++] = u;
		}
	}
	hl->n_tls = hl->n_cands;
	for (const struct boot *b = hl->hs->boots; b && n_addr == 0; b = b->next) {
		c[hl->n_cands++] = b->u;
	}
	return 0;
}

/* The query of @hq for the try on a @plain or DoT upstream, into hq->frame. */
static int frame_make(struct host_lookup *hl, struct host_query *hq, bool plain)
{
	const struct snapshot *snap = hl->hs->r->snap;
	/* Bootstrap: plain DNS, where padding hides nothing and keepalive means nothing. */
	struct dns_upstream_opts o = plain ? (struct dns_upstream_opts){
						     .ecs_private = snap->opts.ecs_private,
					     }
					   : snap->opts;
	uint8_t msg[DNS_MSG_QUESTION_MAX];
	struct dns_client_query cq = {.msg = msg};
	size_t cap = 2 + sizeof(msg) + 64 + o.padding_blocksize;

	cq.len = dns_msg_question(msg, DNS_RD, hl->qname, hl->qname_len, hq->qtype, false);
	if (dns_question_parse(msg, cq.len, &cq.q) != 0) {
		return -EINVAL;
	}
	if (hq->frame_cap < cap) {
		uint8_t *f = realloc(hq->frame, cap);

		if (!f) {
			return -ENOMEM;
		}
		hq->frame = f;
		hq->frame_cap = cap;
	}
	return dns_msg_upstream_query(&cq, &o, hq->frame, hq->frame_cap, &hq->tq.frame_len);
}

static void on_query_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			    const struct dns_opt *opt);

/* Ask both questions of upstream @u; 0 when at least one is under way. */
static int try_start(struct host_lookup *hl, struct tls_upstream *u, bool plain)
{
	unsigned n = 0;

	for (int k = Q_A; k <= Q_AAAA; k++) {
		struct host_query *hq = &hl->q[k];
		int ret;

		memset(&hq->tq, 0, sizeof(hq->tq));
		hq->status = 0;
		ret = frame_make(hl, hq, plain);
		if (ret == 0) {
			hq->tq.frame = hq->frame;
			hq->tq.cb = on_query_answer;
			ret = tls_upstream_query(u, &hq->tq);
		}
		if (ret != 0) {
			hq->status = ret;
			why_of(hq, hl->why, sizeof(hl->why));
			continue;
		}
		hq->active = true;
		n++;
	}
	if (n == 0) {
		return -EAGAIN;
	}
	hl->trying = true;
	log_debug(LOG_MAIN, "upstream '%s': looking up '%s' through '%s'",
		  tls_upstream_name(hl->target), hl->host, tls_upstream_name(u));
	uv_timer_start(&hl->timer, on_timer, hl->hs->r->cfg->timeout_ms, 0);
	return 0;
}

/* Withdraw the questions of the try under way. */
static void try_cancel(struct host_lookup *hl)
{
	for (int k = Q_A; k <= Q_AAAA; k++) {
		if (hl->q[k].active) {
			tls_query_cancel(&hl->q[k].tq);
			hl->q[k].active = false;
		}
	}
	hl->trying = false;
}

/* No candidate gave an address: keep what the upstream has, and try again later. */
static void round_failed(struct host_lookup *hl)
{
	unsigned delay = hostname_retry_s(++hl->failures);
	char list[HOSTNAME_MAX_ADDRS * (INET6_ADDRSTRLEN + 2)];

	if (hl->n_addrs > 0) {
		log_warn(
			LOG_MAIN,
			"upstream '%s': cannot look up '%s' (%s); keeping %s, trying again in %u s",
			tls_upstream_name(hl->target), hl->host, hl->why,
			addrs_text(hl->addrs, hl->n_addrs, list, sizeof(list)), delay);
	} else {
		log_warn(LOG_MAIN,
			 "upstream '%s': cannot look up '%s' (%s); not used until it is, trying "
			 "again in %u s",
			 tls_upstream_name(hl->target), hl->host, hl->why, delay);
	}
	uv_timer_start(&hl->timer, on_timer, delay * 1000ull, 0);
}

/* The try through @via gave @n addresses, whose records have TTL @ttl. */
static void round_done(struct host_lookup *hl, const struct tls_upstream *via,
		       const struct sockaddr_storage *addrs, size_t n, uint32_t ttl)
{
	char list[HOSTNAME_MAX_ADDRS * (INET6_ADDRSTRLEN + 2)], kept[48] = "";
	unsigned refresh = hostname_refresh_s(ttl);
	bool same = addrs_same(addrs, n, hl->addrs, hl->n_addrs);
	int ret;

	if (!same) {
		ret = tls_upstream_set_addresses(hl->target, addrs, n);
		if (ret != 0) {
			snprintf(hl->why, sizeof(hl->why), "%s", strerror(-ret));
			round_failed(hl);
			return;
		}
		memcpy(hl->addrs, addrs, n * sizeof(*addrs));
		hl->n_addrs = n;
	}
	if (refresh != ttl) {
		snprintf(kept, sizeof(kept), ", kept %u s", refresh);
	}
	log_msg(same ? LOG_INFO : LOG_NOTICE, LOG_MAIN,
		"upstream '%s' resolved to %s (TTL %u s%s) through '%s'%s",
		tls_upstream_name(hl->target), addrs_text(addrs, n, list, sizeof(list)), ttl, kept,
		tls_upstream_name(via), same ? ", unchanged" : "");
	hl->failures = 0;
	uv_timer_start(&hl->timer, on_timer, refresh * 1000ull, 0);
}

/* Both questions of the try are answered (or failed): done, or the next candidate. */
static void try_done(struct host_lookup *hl)
{
	struct sockaddr_storage addrs[HOSTNAME_MAX_ADDRS];
	uint32_t ttl = UINT32_MAX;
	size_t n = 0;

	uv_timer_stop(&hl->timer);
	hl->trying = false;
	/* IPv4 first: the first address is the one connected to, and most networks have v4. */
	for (int k = Q_A; k <= Q_AAAA; k++) {
		const struct hostname_found *f = &hl->q[k].found;

		if (hl->q[k].status != 0) {
			continue;
		}
		for (size_t i = 0; i < f->n_addrs && n < HOSTNAME_MAX_ADDRS; i++) {
			addrs[n++] = f->addrs[i];
		}
		ttl = f->ttl < ttl ? f->ttl : ttl;
	}
	if (n > 0) {
		round_done(hl, hl->cands[hl->cand], addrs, n, ttl);
		return;
	}
	/* The first reason there is: an A that failed says more than an AAAA with no data. */
	why_of(hl->q[Q_A].status != 0 || hl->q[Q_AAAA].status == 0 ? &hl->q[Q_A] : &hl->q[Q_AAAA],
	       hl->why, sizeof(hl->why));
	log_info(LOG_MAIN, "upstream '%s': looking up '%s' through '%s': %s",
		 tls_upstream_name(hl->target), hl->host, tls_upstream_name(hl->cands[hl->cand]),
		 hl->why);
	hl->cand++;
	try_next(hl);
}

static void on_query_answer(struct tls_query *tq, int status, const uint8_t *ans, size_t len,
			    const struct dns_opt *opt)
{
	struct host_query *hq = (struct host_query *)tq;
	struct host_lookup *hl = hq->hl;

	(void)opt;
	hq->active = false;
	if (status == 0) {
		status = hostname_answer_parse(ans, len, hl->port, &hq->found);
		hq->rcode = dns_rcode(ans);
	}
	hq->status = status;
	if (hl->q[Q_A].active || hl->q[Q_AAAA].active) {
		return;
	}
	try_done(hl);
}

/* From the candidate hl->cand on, the first that takes the questions; none: the round failed. */
static void try_next(struct host_lookup *hl)
{
	while (hl->cand < hl->n_cands) {
		if (try_start(hl, hl->cands[hl->cand], hl->cand >= hl->n_tls) == 0) {
			return;
		}
		hl->cand++;
	}
	round_failed(hl);
}

static void round_start(struct host_lookup *hl)
{
	try_cancel(hl);
	uv_timer_stop(&hl->timer);
	hl->cand = 0;
	if (cands_build(hl) != 0) {
		snprintf(hl->why, sizeof(hl->why), "out of memory");
		hl->n_cands = 0;
	} else if (hl->n_cands == 0) {
		snprintf(hl->why, sizeof(hl->why), "no upstream to look it up through");
	}
	try_next(hl);
}

static void on_timer(uv_timer_t *t)
{
	struct host_lookup *hl = t->data;

	if (!hl->trying) {
		round_start(hl); /* the TTL ran out, or the retry is due */
		return;
	}
	/* The try's deadline: the next candidate. */
	try_cancel(hl);
	snprintf(hl->why, sizeof(hl->why), "no answer within %u ms", hl->hs->r->cfg->timeout_ms);
	log_info(LOG_MAIN, "upstream '%s': looking up '%s' through '%s': %s",
		 tls_upstream_name(hl->target), hl->host, tls_upstream_name(hl->cands[hl->cand]),
		 hl->why);
	hl->cand++;
	try_next(hl);
}

/* --- lookups and bootstrap servers --- */

static void hostnames_release(struct hostnames *hs)
{
	if (hs->stopping && hs->n_closing == 0) {
		free(hs);
	}
}

static void on_lookup_closed(uv_handle_t *h)
{
	struct host_lookup *hl = h->data;
	struct hostnames *hs = hl->hs;

	for (int k = Q_A; k <= Q_AAAA; k++) {
		free(hl->q[k].frame);
	}
	free(hl->cands);
	free(hl->host);
	free(hl);
	hs->n_closing--;
	hostnames_release(hs);
}

/* Unlink @hl, withdraw its questions and close its timer, which frees it. */
static void lookup_remove(struct host_lookup *hl)
{
	struct hostnames *hs = hl->hs;

	for (struct host_lookup **pp = &hs->lookups; *pp; pp = &(*pp)->next) {
		if (*pp == hl) {
			*pp = hl->next;
			break;
		}
	}
	try_cancel(hl);
	hs->n_closing++;
	uv_close((uv_handle_t *)&hl->timer, on_lookup_closed);
}

/* @host in wire form (RFC 1035 §3.1); config.c checked it is a host name. */
static int qname_make(const char *host, uint8_t *out, size_t *out_len)
{
	size_t n = 0;

	while (*host) {
		const char *dot = strchr(host, '.');
		size_t l = dot ? (size_t)(dot - host) : strlen(host);

		if (l == 0 || l > DNS_MAX_LABEL || n + 1 + l + 1 > DNS_MAX_NAME) {
			return -EINVAL;
		}
		out[n++] = (uint8_t)l;
		memcpy(out + n, host, l);
		n += l;
		host += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	*out_len = n;
	return 0;
}

static int lookup_new(struct hostnames *hs, struct tls_upstream *u, const char *host, uint16_t port,
		      struct host_lookup **out)
{
	struct host_lookup *hl = calloc(1, sizeof(*hl));
	int ret = -ENOMEM;

	if (!hl) {
		return -ENOMEM;
	}

	hl->host = strdup(host);
	if (!hl->host || (ret = qname_make(host, hl->qname, &hl->qname_len)) != 0) {
		free(hl->host);
		free(hl);
		return ret;
	}
	hl->hs = hs;
	hl->target = u;
	hl->port = port;
	hl->q[Q_A].hl = hl;
	hl->q[Q_A].qtype = DNS_TYPE_A;
	hl->q[Q_AAAA].hl = hl;
	hl->q[Q_AAAA].qtype = DNS_TYPE_AAAA;
	uv_timer_init(hs->r->loop, &hl->timer);
	hl->timer.data = hl;
	hl->seen = true;
	hl->next = hs->lookups;
	hs->lookups = hl;
	*out = hl;
	return 0;
}

static void on_boot_closed(void *arg)
{
	struct boot *b = arg;
	struct hostnames *hs = b->hs;

	free(b);
	hs->n_closing--;
	hostnames_release(hs);
}

static void boot_close(struct boot *b)
{
	b->hs->n_closing++;
	tls_upstream_close(b->u, on_boot_closed, b); /* plain: always calls back from the loop */
}

static void boot_params(const struct config *cfg, const struct config_plain *bp,
			struct tls_upstream_params *p)
{
	*p = (struct tls_upstream_params){
		.addr = (const struct sockaddr *)&bp->addr,
		.addr_len = bp->addr_len,
		.name = bp->name,
		.idle_timeout_ms = cfg->idle_timeout_ms,
		.handshake_timeout_ms = cfg->timeout_ms,
		.liveness_ms = cfg->timeout_per_try_ms,
		.max_in_flight = cfg->max_in_flight,
		.max_conns = 1,
		.failures_before_backoff = cfg->connection_retries,
		.backoff_max_ms = cfg->backoff_max_s * 1000u,
	};
}

/*
 * The bootstrap servers of r->cfg in its order when @wanted, those already open kept (and
 * retuned); what is no longer wanted is left in *@gone, to close once no lookup uses it.
 */
static void boots_apply(struct hostnames *hs, bool wanted, struct boot **gone)
{
	const struct config *cfg = hs->r->cfg;
	struct boot *list = NULL, **tail = &list;

	for (size_t i = 0; wanted && i < cfg->n_bootstrap; i++) {
		const struct config_plain *bp = &cfg->bootstrap[i];
		struct tls_upstream_params p;
		struct boot **pp, *b = NULL;
		int ret;

		boot_params(cfg, bp, &p);
		for (pp = &hs->boots; *pp; pp = &(*pp)->next) {
			if (strcmp(tls_upstream_name((*pp)->u), bp->name) == 0) {
				b = *pp;
				*pp = b->next;
				tls_upstream_tune(b->u, &p);
				break;
			}
		}
		if (!b) {
			b = calloc(1, sizeof(*b));
			ret = b ? tls_upstream_new_bootstrap(hs->r->loop, &p, &b->u) : -ENOMEM;
			if (ret != 0) {
				log_err(LOG_MAIN, "bootstrap server '%s' cannot be used: %s",
					bp->name, strerror(-ret));
				free(b);
				continue;
			}
			b->hs = hs;
		}
		b->next = NULL;
		*tail = b;
		tail = &b->next;
	}
	*gone = hs->boots;
	hs->boots = list;
}

static struct host_lookup *lookup_of(struct hostnames *hs, const struct tls_upstream *u)
{
	for (struct host_lookup *hl = hs->lookups; hl; hl = hl->next) {
		if (hl->target == u) {
			return hl;
		}
	}
	return NULL;
}

/*
 * A new lookup for @hl's name and port whose upstream was made anew (a reload changed its pins,
 * say): the addresses of the one it replaces, so that it is usable at once.
 */
static void lookup_seed(struct hostnames *hs, struct host_lookup *hl)
{
	for (struct host_lookup *old = hs->lookups; old; old = old->next) {
		if (!old->seen && old->n_addrs > 0 && old->port == hl->port &&
		    strcmp(old->host, hl->host) == 0 &&
		    tls_upstream_set_addresses(hl->target, old->addrs, old->n_addrs) == 0) {
			memcpy(hl->addrs, old->addrs, old->n_addrs * sizeof(*old->addrs));
			hl->n_addrs = old->n_addrs;
			return;
		}
	}
}

int hostname_apply(struct resolver *r)
{
	struct hostnames *hs = r->hostnames;
	const struct snapshot *snap = r->snap;
	bool any_addr = false, any_host = false;
	struct host_lookup *hl, *next, *fresh = NULL;
	struct boot *gone;
	int ret = 0;

	if (!hs) {
		hs = calloc(1, sizeof(*hs));
		if (!hs) {
			return -ENOMEM;
		}
		hs->r = r;
		r->hostnames = hs;
	}
	for (hl = hs->lookups; hl; hl = hl->next) {
		hl->seen = false;
	}
	/* Those kept, by their upstream: the pool kept it, with its addresses. */
	for (size_t g = 0; g < snap->n_groups; g++) {
		struct upstream_set *s = snap->groups[g].ups;

		for (size_t i = 0; i < upstream_count(s); i++) {
			bool host = upstream_host(s, i, NULL) != NULL;

			any_host = any_host || host;
			any_addr = any_addr || !host;
			hl = host ? lookup_of(hs, upstream_get(s, i)) : NULL;
			if (hl) {
				hl->seen = true;
			}
		}
	}
	boots_apply(hs, any_host && !any_addr, &gone);
	/* The new ones, listed apart until the others are looked at. */
	for (size_t g = 0; g < snap->n_groups; g++) {
		struct upstream_set *s = snap->groups[g].ups;

		for (size_t i = 0; i < upstream_count(s); i++) {
			struct tls_upstream *u = upstream_get(s, i);
			uint16_t port = 0;
			const char *host = upstream_host(s, i, &port);
			int err;

			if (!host || lookup_of(hs, u)) {
				continue;
			}
			for (hl = fresh; hl && hl->target != u; hl = hl->next) {
			}
			if (hl) {
				continue; /* in two groups: one lookup */
			}
			/* lookup_new() links it into hs->lookups: move it to fresh. */
			err = lookup_new(hs, u, host, port, &hl);
			if (err != 0) {
				log_err(LOG_MAIN, "upstream '%s': cannot look up '%s': %s",
					tls_upstream_name(u), host, strerror(-err));
				ret = err;
				continue;
			}
			hs->lookups = hl->next;
			lookup_seed(hs, hl);
			hl->next = fresh;
			fresh = hl;
		}
	}
	for (hl = hs->lookups; hl; hl = next) {
		next = hl->next;
		if (!hl->seen) {
			lookup_remove(hl);
		} else if (hl->trying || hl->failures > 0) {
			/* Under way with the old candidates, or failing: again, with the new. */
			round_start(hl);
		}
	}
	for (hl = fresh; hl; hl = next) {
		next = hl->next;
		hl->next = hs->lookups;
		hs->lookups = hl;
		round_start(hl);
	}
	while (gone) {
		struct boot *b = gone;

		gone = b->next;
		boot_close(b);
	}
	return ret;
}

void hostname_stop(struct resolver *r)
{
	struct hostnames *hs = r->hostnames;

	if (!hs) {
		return;
	}
	r->hostnames = NULL;
	hs->stopping = true;
	while (hs->lookups) {
		lookup_remove(hs->lookups);
	}
	while (hs->boots) {
		struct boot *b = hs->boots;

		hs->boots = b->next;
		boot_close(b);
	}
	hostnames_release(hs);
}

void hostname_network_changed(struct resolver *r)
{
	struct hostnames *hs = r->hostnames;

	if (!hs || hs->stopping) {
		return;
	}
	for (struct boot *b = hs->boots; b; b = b->next) {
		tls_upstream_network_changed(b->u);
	}
	for (struct host_lookup *hl = hs->lookups; hl; hl = hl->next) {
		if (hl->failures > 0 && !hl->trying) {
			/* From the loop: the caller is in the middle of telling the upstreams. */
			uv_timer_start(&hl->timer, on_timer, 0, 0);
		}
	}
}
