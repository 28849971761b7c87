/*
 * validator: the classification of an answer and the zone cache behind it (validator.h).
 *
 * The chain of trust is walked top down, as a stub validator must (it has no referrals to
 * follow): from the deepest trust anchor above a name, one label at a time, the DS RRset of
 * each name is asked. A signed DS set is a secure zone cut, whose DNSKEY RRset it then
 * authenticates (RFC 4035 §5.2); a signed proof of no DS at a delegation (NS without DS, or an
 * NSEC3 opt-out span) is an insecure delegation, and everything below it is insecure; a signed
 * proof of no DS at any other name says the name is inside its parent's zone. Each verdict is
 * kept per name in the zone cache for the TTL of the records it rests on.
 *
 * An RRset signed by zone Z needs the walk down to Z only; an unsigned one needs the walk down
 * to its owner, to show that an insecure delegation lies above it (else it is bogus: its
 * RRSIGs were stripped, RFC 4035 §5.3.3, EDE 10). A signer that is not at or above the owner
 * is refused at once, so a hostile answer cannot send the walk to unrelated names.
 *
 * Bounds: an answer of at most VAL_SETS_MAX RRsets, VAL_SET_RRS RRs each, a CNAME/DNAME chain
 * of VAL_CHAIN_MAX links; each RRset costs at most DNSSEC_VERIFY_MAX signature checks
 * (dnssec_val.h). Anything larger is bogus.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_canon.h"
#include "dns_denial.h"
#include "dns_text.h"
#include "dns_wire.h"
#include "dnssec_anchors.h"
#include "tls_dnssec.h"
#include "validator.h"

#define DNS_TYPE_RRSIG 46
#define DNS_TYPE_ANY   255

#define VAL_SETS_MAX  24 /* RRsets of one answer's answer and authority sections */
#define VAL_SET_RRS   64 /* RRs of one RRset */
#define VAL_SET_SIGS  8	 /* RRSIGs kept per RRset: more only cost (KeyTrap) */
#define VAL_CHAIN_MAX 9	 /* CNAME and DNAME links followed, as the scrubber does */
#define VAL_DS_MAX    16 /* DS records of one delegation */
#define VAL_PROOF_MAX 16 /* NSEC or NSEC3 records of one proof */
#define VAL_BUCKETS   256

/* How long verdicts are kept (seconds). */
#define TTL_MAX	  86400 /* records' TTLs, capped as unbound's key cache caps them */
#define TTL_BOGUS 60	/* a bogus zone, as unbound's val-bogus-ttl */
#define TTL_FETCH 5	/* no answer to a DS or DNSKEY query: ask again soon */

/* A name in canonical form (RFC 4034 §6.2) with its label count, the root not counted. */
struct vname {
	uint8_t b[DNS_MAX_NAME];
	size_t len;
	unsigned labels;
};

/* --- names --- */

/* The last @keep labels of @n into @out. */
static void name_suffix(const struct vname *n, unsigned keep, struct vname *out)
{
	size_t off = 0;

	for (unsigned i = keep; i < n->labels; i++) {
		off += 1 + (size_t)n->b[off];
	}
	out->len = n->len - off;
	memcpy(out->b, n->b + off, out->len);
	out->labels = keep < n->labels ? keep : n->labels;
}

/* Whether canonical @n is @zone or below it. */
static bool name_under(const struct vname *n, const struct vname *zone)
{
	size_t off = 0;

	if (zone->labels > n->labels) {
		return false;
	}
	for (unsigned i = zone->labels; i < n->labels; i++) {
		off += 1 + (size_t)n->b[off];
	}
	return n->len - off == zone->len && memcmp(n->b + off, zone->b, zone->len) == 0;
}

static bool name_eq(const struct vname *a, const struct vname *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static int name_at(const uint8_t *msg, size_t len, size_t off, struct vname *out)
{
	return dns_name_canonical(msg, len, off, out->b, sizeof(out->b), &out->len, &out->labels) ==
			       0
		       ? 0
		       : -EBADMSG;
}

static void name_from_wire(const uint8_t *wire, size_t wire_len, struct vname *out)
{
	unsigned labels = 0;

	for (size_t off = 0; off < wire_len && wire[off] != 0; off += 1 + (size_t)wire[off]) {
		labels++;
	}
	memcpy(out->b, wire, wire_len);
	out->len = wire_len;
	out->labels = labels;
}

/* Text of @n for messages ("www.example." or "."). */
static void name_text(const struct vname *n, char *out, size_t cap)
{
	size_t o = 0;

	if (n->labels == 0) {
		snprintf(out, cap, ".");
		return;
	}
	for (size_t off = 0; off < n->len && n->b[off] != 0 && o + 2 < cap;
	     off += 1 + (size_t)n->b[off]) {
		for (size_t i = 1; i <= n->b[off] && o + 2 < cap; i++) {
			uint8_t c = n->b[off + i];

			out[o++] = (char)(c > 32 && c < 127 && c != '.' ? c : '?');
		}
		out[o++] = '.';
	}
	out[o] = '\0';
}

/* Copy @a, then ": " and @b when @b is not empty, into @out, cut at @cap. */
static void why_join(char *out, size_t cap, const char *a, const char *b)
{
	size_t o = 0;

	for (const char *p = a; *p && o + 1 < cap; p++) {
		out[o++] = *p;
	}
	if (*b) {
		for (const char *p = ": "; *p && o + 1 < cap; p++) {
			out[o++] = *p;
		}
		for (const char *p = b; *p && o + 1 < cap; p++) {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

/* --- the zone cache --- */

enum vz_state {
	VZ_KEYS,     /**< a secure zone: its validated DNSKEY RRset */
	VZ_DS,	     /**< a secure zone cut: its validated DS set, the keys not yet known */
	VZ_NOT_CUT,  /**< a name inside its parent's zone */
	VZ_INSECURE, /**< an insecure delegation, or a zone of unsupported algorithms */
	VZ_BOGUS,    /**< its DS or DNSKEY RRset failed validation */
};

struct vz {
	struct vz *hnext;
	struct vz *older, *newer; /* insertion order, for eviction */
	uint64_t expires;	  /* monotonic seconds */
	enum vz_state state;
	int ede;
	char why[96];
	struct vname name;
	struct dnssec_keys *keys; /* owned, VZ_KEYS: points into blob */
	struct dnssec_ds *ds;	  /* owned, VZ_DS: points into blob */
	size_t n_ds;
	uint8_t *blob; /* owned */
	size_t bytes;
};

struct val_cache {
	struct vz *bucket[VAL_BUCKETS];
	struct vz *oldest, *newest;
	size_t n, max, bytes;
};

static uint32_t name_hash(const struct vname *n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n->len; i++) {
		h = (h ^ n->b[i]) * 16777619u;
	}
	return h;
}

int val_cache_new(size_t max, struct val_cache **out)
{
	struct val_cache *vc;

	if (max == 0) {
		return -EINVAL;
	}
	vc = calloc(1, sizeof(*vc));
	if (!vc) {
		return -ENOMEM;
	}
	vc->max = max;
	*out = vc;
	return 0;
}

static void vz_unlink(struct val_cache *vc, struct vz *z)
{
	struct vz **pp = &vc->bucket[name_hash(&z->name) % VAL_BUCKETS];

	while (*pp != z) {
		pp = &(*pp)->hnext;
	}
	*pp = z->hnext;
	if (z->older) {
		z->older->newer = z->newer;
	} else {
		vc->oldest = z->newer;
	}
	if (z->newer) {
		z->newer->older = z->older;
	} else {
		vc->newest = z->older;
	}
	vc->n--;
	vc->bytes -= z->bytes;
	free(z->keys);
	free(z->ds);
	free(z->blob);
	free(z);
}

void val_cache_clear(struct val_cache *vc)
{
	while (vc && vc->oldest) {
		vz_unlink(vc, vc->oldest);
	}
}

void val_cache_free(struct val_cache *vc)
{
	val_cache_clear(vc);
	free(vc);
}

size_t val_cache_count(const struct val_cache *vc)
{
	return vc->n;
}

size_t val_cache_bytes(const struct val_cache *vc)
{
	return vc->bytes + sizeof(*vc);
}

/* The live entry of @n, or NULL; an expired one is dropped. */
static struct vz *vz_find(struct val_cache *vc, const struct val_ctx *ctx, const struct vname *n)
{
	for (struct vz *z = vc->bucket[name_hash(n) % VAL_BUCKETS]; z; z = z->hnext) {
		if (name_eq(&z->name, n)) {
			if (z->expires <= ctx->mono) {
				vz_unlink(vc, z);
				return NULL;
			}
			return z;
		}
	}
	return NULL;
}

/* A new entry for @n in @state (replacing any), kept @ttl seconds; NULL without memory. */
static struct vz *vz_put(struct val_cache *vc, const struct val_ctx *ctx, const struct vname *n,
			 enum vz_state state, uint32_t ttl)
{
	struct vz *z = vz_find(vc, ctx, n);
	size_t b;

	if (z) {
		vz_unlink(vc, z);
	}
	while (vc->n >= vc->max) {
		vz_unlink(vc, vc->oldest);
	}
	z = calloc(1, sizeof(*z));
	if (!z) {
		return NULL;
	}
	z->name = *n;
	z->state = state;
	z->ede = -1;
	z->expires = ctx->mono + (ttl ? ttl : 1);
	z->bytes = sizeof(*z);
	b = name_hash(n) % VAL_BUCKETS;
	z->hnext = vc->bucket[b];
	vc->bucket[b] = z;
	z->older = vc->newest;
	if (vc->newest) {
		vc->newest->newer = z;
	} else {
		vc->oldest = z;
	}
	vc->newest = z;
	vc->n++;
	vc->bytes += z->bytes;
	return z;
}

static int vz_bogus(struct val_cache *vc, const struct val_ctx *ctx, const struct vname *n,
		    uint32_t ttl, int ede, const char *why)
{
	struct vz *z = vz_put(vc, ctx, n, VZ_BOGUS, ttl);

	if (!z) {
		return -ENOMEM;
	}
	z->ede = ede;
	why_join(z->why, sizeof(z->why), why, "");
	return 0;
}

/* Copy @keys (borrowing from a message) into @z, which then owns them. */
static int vz_set_keys(struct val_cache *vc, struct vz *z, const struct dnssec_keys *keys)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < keys->n_keys; i++) {
		total += keys->key[i].rdata_len;
	}
	size_t head = sizeof(*z->keys);

	z->keys = malloc(head);
	z->blob = malloc(total ? total : 1);
	if (!z->keys || !z->blob) {
		return -ENOMEM;
	}
	*z->keys = *keys;
	for (size_t i = 0; i < keys->n_keys; i++) {
		const struct dnssec_key *k = &keys->key[i];
		struct dnssec_key *c = &z->keys->key[i];

		memcpy(z->blob + off, k->rdata, k->rdata_len);
		c->rdata = z->blob + off;
		c->key = c->rdata + (k->key - k->rdata);
		off += k->rdata_len;
	}
	z->bytes += head + total;
	vc->bytes += head + total;
	return 0;
}

static int vz_set_ds(struct val_cache *vc, struct vz *z, const struct dnssec_ds *ds, size_t n)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < n; i++) {
		total += ds[i].digest_len;
	}
	z->ds = malloc(n * sizeof(*z->ds) + 1);
	z->blob = malloc(total ? total : 1);
	if (!z->ds || !z->blob) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		z->ds[i] = ds[i];
		memcpy(z->blob + off, ds[i].digest, ds[i].digest_len);
		z->ds[i].digest = z->blob + off;
		off += ds[i].digest_len;
	}
	z->n_ds = n;
	z->bytes += n * sizeof(*z->ds) + total;
	vc->bytes += n * sizeof(*z->ds) + total;
	return 0;
}

/* --- the RRsets of a message --- */

struct vset {
	struct vname owner;
	uint16_t type;
	int section;
	uint32_t ttl; /* the least TTL of its RRs and RRSIGs */
	size_t rr[VAL_SET_RRS];
	size_t n_rr;
	size_t sig[VAL_SET_SIGS];
	size_t n_sig;
};

struct vsets {
	struct vset s[VAL_SETS_MAX];
	size_t n;
	struct vname qname;
	uint16_t qtype;
	unsigned rcode;
};

/*
 * Group the records of the answer and authority sections of @msg into RRsets, RRSIGs with the
 * RRset they cover. -EBADMSG for a malformed message, a class other than IN, or more RRsets
 * or RRs than the bounds.
 */
static int sets_parse(const uint8_t *msg, size_t len, struct vsets *S)
{
	struct dns_question q;
	struct dns_walk w;
	struct dns_rr rr;
	int ret;

	S->n = 0;
	if (dns_question_parse(msg, len, &q) != 0 || name_at(msg, len, q.name_off, &S->qname) ||
	    dns_walk_init(&w, msg, len) != 0) {
		return -EBADMSG;
	}
	S->qtype = q.qtype;
	S->rcode = dns_rcode(msg);
	while ((ret = dns_walk_next(&w, &rr)) == 1 && rr.section < 3) {
		struct vname owner;
		uint16_t covered = rr.type;
		uint32_t ttl = dns_get32(msg + rr.ttl_off);
		struct vset *set = NULL;

		if (rr.rclass != DNS_CLASS_IN || name_at(msg, len, rr.off, &owner) != 0) {
			return -EBADMSG;
		}
		if (rr.type == DNS_TYPE_RRSIG) {
			if (rr.rdlen < 18) {
				return -EBADMSG;
			}
			covered = dns_get16(msg + rr.rdata_off);
		}
		for (size_t i = 0; i < S->n; i++) {
			if (S->s[i].type == covered && S->s[i].section == rr.section &&
			    name_eq(&S->s[i].owner, &owner)) {
				set = &S->s[i];
				break;
			}
		}
		if (!set) {
			if (S->n == VAL_SETS_MAX) {
				return -EBADMSG;
			}
			set = &S->s[S->n++];
			set->owner = owner;
			set->type = covered;
			set->section = rr.section;
			set->ttl = ttl;
			set->n_rr = 0;
			set->n_sig = 0;
		}
		if (ttl < set->ttl) {
			set->ttl = ttl;
		}
		if (rr.type == DNS_TYPE_RRSIG) {
			if (set->n_sig < VAL_SET_SIGS) {
				set->sig[set->n_sig++] = rr.off;
			}
		} else if (set->n_rr < VAL_SET_RRS) {
			set->rr[set->n_rr++] = rr.off;
		} else {
			return -EBADMSG;
		}
	}
	return ret < 0 ? -EBADMSG : 0;
}

static struct vset *sets_find(struct vsets *S, int section, const struct vname *owner,
			      uint16_t type)
{
	for (size_t i = 0; i < S->n; i++) {
		if (S->s[i].section == section && S->s[i].type == type && S->s[i].n_rr > 0 &&
		    name_eq(&S->s[i].owner, owner)) {
			return &S->s[i];
		}
	}
	return NULL;
}

/* The first RR's RDATA of @set and its length. */
static size_t set_rdata(const uint8_t *msg, size_t len, const struct vset *set, size_t i,
			size_t *rdlen)
{
	size_t p;

	if (dns_name_skip(msg, len, set->rr[i], &p) != 0 || len - p < 10) {
		*rdlen = 0;
		return len;
	}
	*rdlen = dns_get16(msg + p + 8);
	return p + 10;
}

/* --- verdicts --- */

/* The verdict being built: the worst seen so far wins (bogus over insecure over secure). */
static void verdict_insecure(struct val_result *res, int ede, const char *why)
{
	if (res->sec == VAL_SECURE) {
		res->sec = VAL_INSECURE;
		res->ede = ede;
		snprintf(res->why, sizeof(res->why), "%s", why);
	}
}

/* Bogus, with @ede, as "@what: @reason" (the first reason found stays). */
static void verdict_bogus(struct val_result *res, int ede, const char *what, const char *reason)
{
	if (res->sec != VAL_BOGUS) {
		res->sec = VAL_BOGUS;
		res->ede = ede;
		why_join(res->why, sizeof(res->why), what, reason);
	}
}

/* --- the chain of trust --- */

enum chain {
	CHAIN_SECURE,	/* *zone_out: the keys of the deepest secure zone at or above the name */
	CHAIN_INSECURE, /* no anchor above, an NTA, or an insecure delegation on the way */
	CHAIN_BOGUS,	/* a DS or DNSKEY RRset on the way failed: *bogus_out */
	CHAIN_NEED,	/* *need filled */
};

static bool under_nta(const struct val_ctx *ctx, const struct vname *n)
{
	struct vname z;

	for (size_t i = 0; i < ctx->n_ntas; i++) {
		name_from_wire(ctx->ntas[i].zone_wire, ctx->ntas[i].zone_wire_len, &z);
		if (name_under(n, &z)) {
			return true;
		}
	}
	for (size_t i = 0; i < ctx->n_zones; i++) {
		if (ctx->zones[i].n_plain == 0) {
			continue;
		}
		name_from_wire(ctx->zones[i].zone_wire, ctx->zones[i].zone_wire_len, &z);
		if (name_under(n, &z)) {
			return true;
		}
	}
	return false;
}

static void need_set(struct val_need *need, const struct vname *n, uint16_t type)
{
	memcpy(need->name, n->b, n->len);
	need->name_len = n->len;
	need->qtype = type;
}

/* The deepest name at or above @n with trust anchors, in *@a; false when there is none. */
static bool anchor_above(const struct val_ctx *ctx, const struct vname *n, struct vname *a)
{
	if (!ctx->anchors) {
		return false;
	}
	for (unsigned k = n->labels + 1; k-- > 0;) {
		name_suffix(n, k, a);
		if (anchors_find(ctx->anchors, a->b)) {
			return true;
		}
	}
	return false;
}

/*
 * Walk from the trust anchor above @n down to @n (RFC 4035 §5): the keys of the deepest secure
 * zone at or above @n, or why there are none, or what must be asked first.
 */
static enum chain chain_walk(struct val_cache *vc, const struct val_ctx *ctx, const struct vname *n,
			     struct vz **zone_out, struct vz **bogus_out, struct val_need *need)
{
	struct vname a, step;
	struct vz *z, *zone;

	if (under_nta(ctx, n) || !anchor_above(ctx, n, &a)) {
		return CHAIN_INSECURE;
	}
	zone = vz_find(vc, ctx, &a);
	if (!zone) {
		need_set(need, &a, DNS_TYPE_DNSKEY);
		return CHAIN_NEED;
	}
	if (zone->state == VZ_INSECURE) {
		return CHAIN_INSECURE;
	}
	if (zone->state != VZ_KEYS) {
		*bogus_out = zone;
		return CHAIN_BOGUS;
	}
	for (unsigned k = a.labels + 1; k <= n->labels; k++) {
		name_suffix(n, k, &step);
		z = vz_find(vc, ctx, &step);
		if (!z) {
			need_set(need, &step, DNS_TYPE_DS);
			return CHAIN_NEED;
		}
		switch (z->state) {
		case VZ_NOT_CUT:
			continue;
		case VZ_DS:
			need_set(need, &step, DNS_TYPE_DNSKEY);
			return CHAIN_NEED;
		case VZ_KEYS:
			zone = z;
			continue;
		case VZ_INSECURE:
			return CHAIN_INSECURE;
		case VZ_BOGUS:
			*bogus_out = z;
			return CHAIN_BOGUS;
		}
	}
	*zone_out = zone;
	return CHAIN_SECURE;
}

/* --- one answer --- */

struct vrun {
	struct val_cache *vc;
	const struct val_ctx *ctx;
	const uint8_t *msg;
	size_t len;
	struct vsets *S;
	struct val_result *res;
	struct val_need *need;
	bool needs; /* need is filled: the answer waits */
	unsigned n_checked;
};

static void set_what(const struct vset *set, char *buf, size_t cap)
{
	char name[DNS_MAX_NAME * 2], tb[DNS_TYPE_TEXT_MAX];

	name_text(&set->owner, name, sizeof(name));
	snprintf(buf, cap, "%s %s", name, dns_type_text(set->type, tb, sizeof(tb)));
}

/* A chain result other than secure, into the verdict. */
static void chain_verdict(struct vrun *v, enum chain c, const struct vz *bogus, const char *what)
{
	if (c == CHAIN_NEED) {
		v->needs = true;
	} else if (c == CHAIN_INSECURE) {
		verdict_insecure(v->res, -1, "insecure");
	} else if (c == CHAIN_BOGUS) {
		verdict_bogus(v->res, bogus->ede, what, bogus->why);
	}
}

static bool wildcard_proven(struct vrun *v, const struct vset *set, uint8_t labels);

/*
 * Validate one RRset as evidence about @subject: its owner for data, the name denied for a
 * proof (an NSEC, NSEC3 or SOA of a negative answer or a wildcard's). Unsigned, the RRset is
 * fine only if @subject lies below an insecure delegation (RFC 4035 §5.2): judging a proof by
 * its own owner would let an unsigned NSEC owned by some name under an insecure delegation
 * deny a signed name (a downgrade). Signed, its signer must be at or above @subject and its
 * owner. Returns true when it is secure; otherwise the verdict says why (or the run waits for
 * a need).
 */
static bool set_validate_for(struct vrun *v, const struct vset *set, const struct vname *subject)
{
	struct vz *zone = NULL, *bogus = NULL;
	struct dnssec_result r;
	struct vname signer;
	char what[DNS_MAX_NAME * 2 + 16];
	enum chain c;
	int ret;

	set_what(set, what, sizeof(what));
	if (++v->n_checked > VAL_SETS_MAX) {
		verdict_bogus(v->res, DNSSEC_EDE_BOGUS, what, "too many RRsets to validate");
		return false;
	}
	if (set->n_sig == 0) {
		c = chain_walk(v->vc, v->ctx, subject, &zone, &bogus, v->need);
		if (c == CHAIN_SECURE) {
			verdict_bogus(v->res, DNSSEC_EDE_RRSIGS_MISSING, what,
				      "no RRSIG in a signed zone");
		} else {
			chain_verdict(v, c, bogus, what);
		}
		return false;
	}
	/* The signer of the first RRSIG: it must be the owner's zone, at or above it. */
	{
		size_t p;

		if (dns_name_skip(v->msg, v->len, set->sig[0], &p) != 0 || v->len - p < 28 ||
		    name_at(v->msg, v->len, p + 10 + 18, &signer) != 0) {
			verdict_bogus(v->res, DNSSEC_EDE_BOGUS, what, "malformed RRSIG");
			return false;
		}
	}
	if (!name_under(&set->owner, &signer) || !name_under(subject, &signer)) {
		verdict_bogus(v->res, DNSSEC_EDE_BOGUS, what, "signed by a zone not above it");
		return false;
	}
	c = chain_walk(v->vc, v->ctx, &signer, &zone, &bogus, v->need);
	if (c != CHAIN_SECURE) {
		chain_verdict(v, c, bogus, what);
		return false;
	}
	ret = dnssec_rrset_verify(v->msg, v->len, set->rr, set->n_rr, set->sig, set->n_sig,
				  zone->keys, v->ctx->now, &r);
	if (ret != 0) {
		verdict_bogus(v->res, DNSSEC_EDE_BOGUS, what,
			      ret == -ENOMEM ? "out of memory" : "cannot be checked");
		return false;
	}
	if (r.status == DNSSEC_INSECURE) {
		verdict_insecure(v->res, r.ede, "unsupported algorithm");
		return false;
	}
	if (r.status == DNSSEC_BOGUS) {
		static const char *const why[] = {
			[DNSSEC_EXPIRED] = "signature expired",
			[DNSSEC_NOT_YET] = "signature not yet valid",
			[DNSSEC_NO_KEY] = "no DNSKEY for its RRSIG",
			[DNSSEC_SIGNATURE] = "signature does not verify",
			[DNSSEC_NO_RRSIG] = "no RRSIG of the zone's algorithms",
			[DNSSEC_SIGNER] = "signer is not its zone",
			[DNSSEC_TOO_MUCH] = "too many signature checks (KeyTrap bound)",
		};
		const char *w = (size_t)r.reason < sizeof(why) / sizeof(why[0]) && why[r.reason]
					? why[r.reason]
					: "RRSIG does not fit the RRset";

		verdict_bogus(v->res, r.ede, what, w);
		return false;
	}
	/* Expanded from a wildcard: the name itself must be shown not to exist (§5.3.4). */
	if (r.labels < set->owner.labels - (set->owner.b[0] == 1 && set->owner.b[1] == '*')) {
		if (set->type == DNS_TYPE_NSEC || set->type == DNS_TYPE_NSEC3) {
			/* A proof is never synthesised (RFC 4035 §2.3): and it would prove itself.
			 */
			verdict_bogus(v->res, DNSSEC_EDE_BOGUS, what,
				      "an NSEC record from a wildcard");
			return false;
		}
		return wildcard_proven(v, set, r.labels);
	}
	return true;
}

/* An RRset of data: evidence about its own owner. */
static bool set_validate(struct vrun *v, const struct vset *set)
{
	return set_validate_for(v, set, &set->owner);
}

/*
 * The NSEC and NSEC3 records of the authority section, each RRset validated. The owner names
 * they borrow are their RRsets' (canonical, in the run's struct vsets).
 */
struct proofs {
	struct dns_denial_nsec nsec[VAL_PROOF_MAX];
	size_t n_nsec;
	struct dns_denial_nsec3 nsec3[VAL_PROOF_MAX];
	size_t n_nsec3;
};

/*
 * Gather and validate the proofs of what is said about @subject: with @keys (a zone's, the one
 * that must have signed them: a DS denial is the parent's) each RRset must verify with them,
 * else as set_validate_for(@subject). False when one did not validate (the verdict says why).
 */
static bool proofs_load(struct vrun *v, struct proofs *pf, const struct vname *subject,
			const struct vz *keys)
{
	pf->n_nsec = pf->n_nsec3 = 0;
	for (size_t i = 0; i < v->S->n; i++) {
		const struct vset *set = &v->S->s[i];

		if (set->section != 2 || set->n_rr == 0 ||
		    (set->type != DNS_TYPE_NSEC && set->type != DNS_TYPE_NSEC3)) {
			continue;
		}
		if (keys) {
			struct dnssec_result r = {.status = DNSSEC_BOGUS, .ede = DNSSEC_EDE_BOGUS};
			char what[DNS_MAX_NAME * 2 + 16];

			set_what(set, what, sizeof(what));
			if (set->n_sig == 0) {
				verdict_bogus(v->res, DNSSEC_EDE_RRSIGS_MISSING, what,
					      "no RRSIG in a signed zone");
				return false;
			}
			if (dnssec_rrset_verify(v->msg, v->len, set->rr, set->n_rr, set->sig,
						set->n_sig, keys->keys, v->ctx->now, &r) != 0 ||
			    r.status != DNSSEC_SECURE) {
				verdict_bogus(v->res,
					      r.status == DNSSEC_BOGUS ? r.ede
								       : DNSSEC_EDE_RRSIGS_MISSING,
					      what, "does not validate with its zone's keys");
				return false;
			}
		} else if (!set_validate_for(v, set, subject)) {
			return false;
		}
		for (size_t j = 0; j < set->n_rr; j++) {
			const struct vname *o = &set->owner;
			size_t rdlen, rd = set_rdata(v->msg, v->len, set, j, &rdlen);
			int ret;

			if (rd + rdlen > v->len ||
			    (set->type == DNS_TYPE_NSEC ? pf->n_nsec : pf->n_nsec3) ==
				    VAL_PROOF_MAX) {
				verdict_bogus(v->res, DNSSEC_EDE_BOGUS, "too many NSEC records",
					      "");
				return false;
			}
			if (set->type == DNS_TYPE_NSEC) {
				ret = dns_denial_nsec_parse(o->b, o->len, v->msg + rd, rdlen,
							    &pf->nsec[pf->n_nsec]);
				pf->n_nsec += ret == 0;
			} else {
				ret = dns_denial_nsec3_parse(o->b, o->len, v->msg + rd, rdlen,
							     &pf->nsec3[pf->n_nsec3]);
				pf->n_nsec3 += ret == 0;
			}
			if (ret != 0) {
				verdict_bogus(v->res, DNSSEC_EDE_BOGUS, "malformed NSEC record",
					      "");
				return false;
			}
		}
	}
	return true;
}

static int hash_cb(uint8_t alg, uint16_t iterations, const uint8_t *salt, size_t salt_len,
		   const uint8_t *name, size_t name_len, uint8_t out[20])
{
	return tls_dnssec_nsec3_hash(alg, iterations, salt, salt_len, name, name_len, out);
}

static bool wildcard_proven(struct vrun *v, const struct vset *set, uint8_t labels)
{
	enum dns_denial_verdict d = DENIAL_NONE;
	char what[DNS_MAX_NAME * 2 + 16];
	struct proofs pf;
	int ret = 0;

	set_what(set, what, sizeof(what));
	if (!proofs_load(v, &pf, &set->owner, NULL)) {
		return false;
	}
	if (pf.n_nsec > 0) {
		ret = dns_denial_nsec_wildcard(set->owner.b, set->owner.len, labels, pf.nsec,
					       pf.n_nsec, &d);
	}
	if (ret == 0 && d == DENIAL_NONE && pf.n_nsec3 > 0) {
		ret = dns_denial_nsec3_wildcard(hash_cb, set->owner.b, set->owner.len, labels,
						pf.nsec3, pf.n_nsec3, &d);
	}
	if (ret == 0 && d == DENIAL_WILDCARD) {
		return true;
	}
	if (ret == 0 && d == DENIAL_INSECURE_ITERATIONS) {
		verdict_insecure(v->res, -1, "NSEC3 iterations over the limit");
		return false;
	}
	verdict_bogus(v->res, pf.n_nsec + pf.n_nsec3 ? DNSSEC_EDE_BOGUS : DNSSEC_EDE_NSEC_MISSING,
		      what,
		      pf.n_nsec + pf.n_nsec3 ? "wildcard answer without a valid proof"
					     : "wildcard answer without NSEC records");
	return false;
}

/* A negative answer for @name (NXDOMAIN, or no data of @qtype): its proof (RFC 4035 §5.4). */
static void denial_validate(struct vrun *v, const struct vname *name, uint16_t qtype)
{
	enum dns_denial_verdict d = DENIAL_NONE;
	char what[DNS_MAX_NAME * 2 + 16], tb[DNS_TYPE_TEXT_MAX], nt[DNS_MAX_NAME * 2];
	struct vz *zone = NULL, *bogus = NULL;
	struct proofs pf;
	bool nx = v->S->rcode == DNS_RCODE_NXDOMAIN;
	int ret = 0;

	name_text(name, nt, sizeof(nt));
	snprintf(what, sizeof(what), "%s %s", nt, dns_type_text(qtype, tb, sizeof(tb)));
	/* The SOA says how long the answer is kept (RFC 2308): it must validate too. */
	for (size_t i = 0; i < v->S->n; i++) {
		const struct vset *set = &v->S->s[i];

		if (set->section == 2 && set->type == DNS_TYPE_SOA && set->n_rr > 0 &&
		    !set_validate_for(v, set, name)) {
			return;
		}
	}
	if (!proofs_load(v, &pf, name, NULL)) {
		return;
	}
	if (pf.n_nsec + pf.n_nsec3 == 0) {
		/* No proof at all: fine only where nothing is signed. */
		enum chain c = chain_walk(v->vc, v->ctx, name, &zone, &bogus, v->need);

		if (c == CHAIN_SECURE) {
			verdict_bogus(v->res, DNSSEC_EDE_NSEC_MISSING, what,
				      nx ? "NXDOMAIN without NSEC records"
					 : "no data without NSEC records");
		} else {
			chain_verdict(v, c, bogus, what);
		}
		return;
	}
	if (pf.n_nsec > 0) {
		ret = dns_denial_nsec_prove(name->b, name->len, qtype, pf.nsec, pf.n_nsec, &d);
	}
	if (ret == 0 && d == DENIAL_NONE && pf.n_nsec3 > 0) {
		ret = dns_denial_nsec3_prove(hash_cb, name->b, name->len, qtype, pf.nsec3,
					     pf.n_nsec3, &d);
	}
	if (ret == 0 && (d == DENIAL_OPTOUT || d == DENIAL_INSECURE_ITERATIONS)) {
		/* RFC 5155 §9.2, RFC 9276 §3.2: insecure, not bogus. */
		verdict_insecure(v->res, -1,
				 d == DENIAL_OPTOUT ? "NSEC3 opt-out" : "NSEC3 iterations");
		return;
	}
	if (ret == 0 && ((nx && d == DENIAL_NXDOMAIN) || (!nx && d == DENIAL_NODATA))) {
		return;
	}
	verdict_bogus(v->res, DNSSEC_EDE_BOGUS, what,
		      nx ? "NXDOMAIN not proven by its NSEC records"
			 : "no data not proven by its NSEC records");
}

/* The target name of a CNAME RRset's first RR, canonical. */
static int cname_target(const uint8_t *msg, size_t len, const struct vset *set, struct vname *t)
{
	size_t rdlen, rd = set_rdata(msg, len, set, 0, &rdlen);

	if (set->n_rr != 1 || rd >= len) {
		return -EBADMSG;
	}
	return name_at(msg, len, rd, t);
}

/*
 * A CNAME at @owner synthesised from a DNAME above it (RFC 6672 §2.2, §5.3.1: the CNAME comes
 * unsigned); its validated DNAME stands for it when the target is the substitution.
 */
static struct vset *dname_above(struct vrun *v, const struct vname *owner, const struct vset *cname,
				bool *fits)
{
	*fits = false;
	for (size_t i = 0; i < v->S->n; i++) {
		struct vset *d = &v->S->s[i];
		struct vname to, want, t;
		size_t rdlen, rd;

		if (d->section != 1 || d->type != DNS_TYPE_DNAME || d->n_rr != 1 ||
		    !name_under(owner, &d->owner) || name_eq(owner, &d->owner)) {
			continue;
		}
		rd = set_rdata(v->msg, v->len, d, 0, &rdlen);
		if (rd >= v->len || name_at(v->msg, v->len, rd, &to) != 0 || !cname ||
		    cname_target(v->msg, v->len, cname, &t) != 0) {
			return d;
		}
		/* want = owner's labels above the DNAME's owner, then the DNAME's target. */
		{
			size_t keep = owner->len - d->owner.len;

			if (keep + to.len > DNS_MAX_NAME) {
				return d;
			}
			memcpy(want.b, owner->b, keep);
			memcpy(want.b + keep, to.b, to.len);
			want.len = keep + to.len;
			want.labels = owner->labels - d->owner.labels + to.labels;
		}
		*fits = name_eq(&want, &t);
		return d;
	}
	return NULL;
}

int val_answer(struct val_cache *vc, const struct val_ctx *ctx, const uint8_t *msg, size_t len,
	       struct val_result *res, struct val_need *need)
{
	struct vsets *S = malloc(sizeof(*S));
	struct val_result out = {.sec = VAL_SECURE, .ede = -1};
	struct vrun v = {
		.vc = vc, .ctx = ctx, .msg = msg, .len = len, .S = S, .res = &out, .need = need};
	struct vname cur;
	bool done = false;

	if (!S) {
		return -ENOMEM;
	}
	if (sets_parse(msg, len, S) != 0) {
		verdict_bogus(&out, DNSSEC_EDE_BOGUS, "malformed answer", "");
		goto finish;
	}
	/* Follow the chain from the question's name (the scrubber put it in order). */
	cur = S->qname;
	for (unsigned step = 0; step <= VAL_CHAIN_MAX && !done; step++) {
		struct vset *cname;
		bool any = false;

		for (size_t i = 0; i < S->n; i++) {
			struct vset *set = &S->s[i];

			if (set->section == 1 && set->n_rr > 0 && name_eq(&set->owner, &cur) &&
			    (set->type == S->qtype ||
			     (S->qtype == DNS_TYPE_ANY && set->type != DNS_TYPE_RRSIG))) {
				any = true;
				set_validate(&v, set);
				if (v.needs || out.sec == VAL_BOGUS) {
					goto finish;
				}
			}
		}
		if (any) {
			done = true;
			break;
		}
		cname = sets_find(S, 1, &cur, DNS_TYPE_CNAME);
		{
			bool fits;
			struct vset *d = dname_above(&v, &cur, cname, &fits);

			if (d && cname && cname->n_sig == 0) {
				if (!fits) {
					verdict_bogus(&out, DNSSEC_EDE_BOGUS,
						      "CNAME does not follow from its DNAME", "");
					goto finish;
				}
				set_validate(&v, d);
				if (v.needs || out.sec == VAL_BOGUS) {
					goto finish;
				}
				if (cname_target(msg, len, cname, &cur) != 0) {
					break;
				}
				continue;
			}
		}
		if (!cname) {
			break;
		}
		set_validate(&v, cname);
		if (v.needs || out.sec == VAL_BOGUS) {
			goto finish;
		}
		if (cname_target(msg, len, cname, &cur) != 0) {
			verdict_bogus(&out, DNSSEC_EDE_BOGUS, "malformed CNAME", "");
			goto finish;
		}
	}
	if (!done) {
		if (S->rcode != DNS_RCODE_NOERROR && S->rcode != DNS_RCODE_NXDOMAIN) {
			verdict_insecure(&out, -1, "not an answer");
		} else {
			denial_validate(&v, &cur, S->qtype);
		}
	}
finish:
	free(S);
	if (v.needs && out.sec != VAL_BOGUS) {
		return 1;
	}
	*res = out;
	return 0;
}

/* --- learning a DS or DNSKEY RRset --- */

/* The least of @ttl and the TTL cap. */
static uint32_t ttl_cap(uint32_t ttl)
{
	return ttl > TTL_MAX ? TTL_MAX : ttl;
}

/* Keep the RRSIG expiration of @set's RRSIG @sig in view: no verdict outlives it. */
static uint32_t ttl_sig(const struct val_ctx *ctx, const uint8_t *msg, size_t len,
			const struct vset *set, size_t sig, uint32_t ttl)
{
	size_t p;

	if (ctx->now == DNSSEC_NOW_UNSET || sig >= set->n_sig ||
	    dns_name_skip(msg, len, set->sig[sig], &p) != 0 || len - p < 10 + 12) {
		return ttl;
	}
	{
		uint32_t expire = dns_get32(msg + p + 10 + 8);
		int32_t left = (int32_t)(expire - ctx->now);

		if (left > 0 && (uint32_t)left < ttl) {
			return (uint32_t)left;
		}
	}
	return ttl;
}

static int learn_ds(struct vrun *v, const struct vname *n)
{
	struct vz *zone = NULL, *bogus = NULL, *z;
	struct val_need ignored;
	struct vname parent;
	struct vset *set;
	struct dnssec_result r;
	char what[DNS_MAX_NAME * 2 + 16], nt[DNS_MAX_NAME * 2];
	int ret;

	name_text(n, nt, sizeof(nt));
	snprintf(what, sizeof(what), "%s DS", nt);
	name_suffix(n, n->labels - 1, &parent);
	if (chain_walk(v->vc, v->ctx, &parent, &zone, &bogus, &ignored) != CHAIN_SECURE) {
		return 0; /* nothing to learn: the walk above changed meanwhile */
	}
	set = sets_find(v->S, 1, n, DNS_TYPE_DS);
	if (set) {
		struct dnssec_ds ds[VAL_DS_MAX];
		size_t n_ds;

		ret = dnssec_rrset_verify(v->msg, v->len, set->rr, set->n_rr, set->sig, set->n_sig,
					  zone->keys, v->ctx->now, &r);
		if (ret == -ENOMEM) {
			return ret;
		}
		if (ret != 0 || r.status == DNSSEC_BOGUS) {
			return vz_bogus(v->vc, v->ctx, n, TTL_BOGUS, ret ? DNSSEC_EDE_BOGUS : r.ede,
					ret ? "its DS RRset is malformed"
					    : "its DS RRset does not validate");
		}
		if (r.status == DNSSEC_INSECURE) {
			return vz_put(v->vc, v->ctx, n, VZ_INSECURE, ttl_cap(set->ttl)) ? 0
											: -ENOMEM;
		}
		if (dnssec_ds_from_rrset(v->msg, v->len, set->rr, set->n_rr, ds, VAL_DS_MAX,
					 &n_ds) != 0) {
			return vz_bogus(v->vc, v->ctx, n, TTL_BOGUS, DNSSEC_EDE_BOGUS,
					"its DS RRset is malformed");
		}
		z = vz_put(v->vc, v->ctx, n, VZ_DS,
			   ttl_sig(v->ctx, v->msg, v->len, set, r.rrsig, ttl_cap(set->ttl)));
		return z ? vz_set_ds(v->vc, z, ds, n_ds) : -ENOMEM;
	}
	/* A CNAME there: no zone cut (RFC 2181 §10.1), once the CNAME validates. */
	set = sets_find(v->S, 1, n, DNS_TYPE_CNAME);
	if (set) {
		v->res->sec = VAL_SECURE;
		if (!set_validate(v, set)) {
			return v->needs ? 0
					: vz_bogus(v->vc, v->ctx, n, TTL_BOGUS, v->res->ede,
						   v->res->why);
		}
		return vz_put(v->vc, v->ctx, n, VZ_NOT_CUT, ttl_cap(set->ttl)) ? 0 : -ENOMEM;
	}
	/* No DS: the denial must validate, and then says whether @n is a cut. */
	{
		struct proofs pf;
		enum dns_denial_verdict d = DENIAL_NONE;
		uint32_t ttl = TTL_MAX;
		bool cut = false;

		v->res->sec = VAL_SECURE;
		if (v->S->rcode != DNS_RCODE_NOERROR && v->S->rcode != DNS_RCODE_NXDOMAIN) {
			return vz_bogus(v->vc, v->ctx, n, TTL_FETCH, DNSSEC_EDE_DNSKEY_MISSING,
					"its DS query failed");
		}
		/* The parent's denial: signed with the parent's keys, which the walk has. */
		if (!proofs_load(v, &pf, n, zone)) {
			return vz_bogus(v->vc, v->ctx, n, TTL_BOGUS,
					v->res->ede >= 0 ? v->res->ede : DNSSEC_EDE_BOGUS,
					v->res->why);
		}
		if (pf.n_nsec + pf.n_nsec3 == 0) {
			return vz_bogus(v->vc, v->ctx, n, TTL_BOGUS, DNSSEC_EDE_NSEC_MISSING,
					"no DS and no NSEC records to prove it");
		}
		ret = 0;
		if (pf.n_nsec > 0) {
			ret = dns_denial_nsec_prove(n->b, n->len, DNS_TYPE_DS, pf.nsec, pf.n_nsec,
						    &d);
		}
		if (ret == 0 && d == DENIAL_NONE && pf.n_nsec3 > 0) {
			ret = dns_denial_nsec3_prove(hash_cb, n->b, n->len, DNS_TYPE_DS, pf.nsec3,
						     pf.n_nsec3, &d);
		}
		for (size_t i = 0; i < v->S->n; i++) {
			if (v->S->s[i].section == 2 && v->S->s[i].ttl < ttl) {
				ttl = v->S->s[i].ttl;
			}
		}
		ttl = ttl_cap(ttl);
		if (ret != 0 || d == DENIAL_NONE) {
			return vz_bogus(v->vc, v->ctx, n, TTL_BOGUS, DNSSEC_EDE_BOGUS,
					"no DS, and its NSEC records do not prove it");
		}
		if (d == DENIAL_OPTOUT || d == DENIAL_INSECURE_ITERATIONS) {
			return vz_put(v->vc, v->ctx, n, VZ_INSECURE, ttl) ? 0 : -ENOMEM;
		}
		if (d == DENIAL_NODATA &&
		    dns_denial_delegation(hash_cb, n->b, n->len, pf.nsec, pf.n_nsec, pf.nsec3,
					  pf.n_nsec3, &cut) == 0 &&
		    cut) {
			/* A delegation without DS: an insecure one (RFC 4035 §5.2). */
			return vz_put(v->vc, v->ctx, n, VZ_INSECURE, ttl) ? 0 : -ENOMEM;
		}
		return vz_put(v->vc, v->ctx, n, VZ_NOT_CUT, ttl) ? 0 : -ENOMEM;
	}
}

static int learn_dnskey(struct vrun *v, const struct vname *n)
{
	struct dnssec_ds ds_buf[VAL_DS_MAX];
	struct dnssec_key key_buf[DNSSEC_KEYS_MAX];
	struct dnssec_trust trust;
	struct dnssec_keys *keys;
	struct dnssec_result r;
	const struct anchor_zone *az = v->ctx->anchors ? anchors_find(v->ctx->anchors, n->b) : NULL;
	struct vset *set;
	struct vz *z;
	int ret;

	if (az) {
		if (dnssec_trust_from_anchor(az, ds_buf, VAL_DS_MAX, key_buf, DNSSEC_KEYS_MAX,
					     &trust) != 0) {
			return vz_bogus(v->vc, v->ctx, n, TTL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING,
					"too many trust anchors");
		}
	} else {
		z = vz_find(v->vc, v->ctx, n);
		if (!z || z->state != VZ_DS) {
			return 0; /* its DS is gone meanwhile: the next walk asks again */
		}
		trust = (struct dnssec_trust){.ds = z->ds, .n_ds = z->n_ds};
	}
	set = sets_find(v->S, 1, n, DNS_TYPE_DNSKEY);
	if (!set) {
		return vz_bogus(v->vc, v->ctx, n,
				v->S->rcode == DNS_RCODE_NOERROR ? TTL_BOGUS : TTL_FETCH,
				DNSSEC_EDE_DNSKEY_MISSING, "no DNSKEY RRset");
	}
	keys = malloc(sizeof(*keys));
	if (!keys) {
		return -ENOMEM;
	}
	ret = dnssec_dnskey_verify(v->msg, v->len, set->rr, set->n_rr, set->sig, set->n_sig, &trust,
				   v->ctx->now, keys, &r);
	if (ret == 0 && r.status == DNSSEC_SECURE) {
		z = vz_put(v->vc, v->ctx, n, VZ_KEYS,
			   ttl_sig(v->ctx, v->msg, v->len, set, r.rrsig, ttl_cap(set->ttl)));
		ret = z ? vz_set_keys(v->vc, z, keys) : -ENOMEM;
	} else if (ret == 0 && r.status == DNSSEC_INSECURE) {
		ret = vz_put(v->vc, v->ctx, n, VZ_INSECURE, ttl_cap(set->ttl)) ? 0 : -ENOMEM;
	} else if (ret != -ENOMEM) {
		static const char *const why[] = {
			[DNSSEC_EXPIRED] = "its DNSKEY RRset's signature expired",
			[DNSSEC_NOT_YET] = "its DNSKEY RRset's signature is not yet valid",
			[DNSSEC_NO_DS_MATCH] = "no DNSKEY matches its DS",
			[DNSSEC_SIGNATURE] = "its DNSKEY RRset's signature does not verify",
		};
		const char *w =
			ret == 0 && (size_t)r.reason < sizeof(why) / sizeof(why[0]) && why[r.reason]
				? why[r.reason]
				: "its DNSKEY RRset does not validate";

		ret = vz_bogus(v->vc, v->ctx, n, TTL_BOGUS,
			       ret == 0 ? r.ede : DNSSEC_EDE_DNSKEY_MISSING, w);
	}
	free(keys);
	return ret;
}

int val_learn(struct val_cache *vc, const struct val_ctx *ctx, const struct val_need *need,
	      const uint8_t *msg, size_t len)
{
	struct val_result res = {.sec = VAL_SECURE, .ede = -1};
	struct val_need ignored;
	struct vsets *S;
	struct vname n;
	struct vrun v = {
		.vc = vc, .ctx = ctx, .msg = msg, .len = len, .res = &res, .need = &ignored};
	int ret;

	name_from_wire(need->name, need->name_len, &n);
	if (!msg) {
		return vz_bogus(vc, ctx, &n, TTL_FETCH, DNSSEC_EDE_DNSKEY_MISSING,
				need->qtype == DNS_TYPE_DS ? "its DS query got no answer"
							   : "its DNSKEY query got no answer");
	}
	S = malloc(sizeof(*S));
	if (!S) {
		return -ENOMEM;
	}
	v.S = S;
	if (sets_parse(msg, len, S) != 0 || !name_eq(&S->qname, &n) || S->qtype != need->qtype) {
		ret = vz_bogus(vc, ctx, &n, TTL_FETCH, DNSSEC_EDE_BOGUS,
			       "the answer to its DS or DNSKEY query is malformed");
	} else if (need->qtype == DNS_TYPE_DS) {
		ret = n.labels == 0 ? 0 : learn_ds(&v, &n);
	} else {
		ret = learn_dnskey(&v, &n);
	}
	free(S);
	return ret;
}
