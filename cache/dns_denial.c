/*
 * dns_denial: the part of a DNSSEC validator that decides what NSEC and NSEC3 records prove
 * (RFC 4035 §5.4, RFC 5155 §8, RFC 7129), over records whose signatures were already checked.
 * Pure: no I/O, no allocation, no state; every name and bit map is checked before it is read,
 * since all of it comes from the network. The canonical name helpers here are small static
 * ones of our own (lower-cased label comparison on uncompressed names); the RRSIG signed data
 * and its canonical RRsets are cache/dns_canon.c's business, not this file's.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "dns_denial.h"
#include "dns_wire.h"

#define MAX_LABELS 128 /* 255 octets hold at most 127 one-octet labels and the root */

/** An uncompressed wire name and where its labels start. */
struct name {
	const uint8_t *p; /**< borrowed */
	size_t len;	  /**< octets, root label included */
	int n;		  /**< labels, root not counted */
	uint8_t off[MAX_LABELS];
};

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 'a' - 'A') : c;
}

/* Split @p into labels; -EBADMSG unless it is exactly one uncompressed name of @len octets. */
static int name_parse(const uint8_t *p, size_t len, struct name *out)
{
	size_t off = 0;
	int n = 0;

	if (p == NULL || len == 0 || len > DNS_MAX_NAME) {
		return -EBADMSG;
	}
	while (off < len && p[off] != 0) {
		/* RFC 1035 §4.1.4: the top bits mark a pointer (or a reserved label type). */
		if (p[off] > DNS_MAX_LABEL || off + 1 + p[off] >= len || n == MAX_LABELS - 1) {
			return -EBADMSG;
		}
		out->off[n++] = (uint8_t)off;
		off += 1 + (size_t)p[off];
	}
	if (off + 1 != len) {
		return -EBADMSG;
	}
	out->p = p;
	out->len = len;
	out->n = n;
	return 0;
}

/* The name made of the last @keep labels of @a (0: the root). */
static void name_suffix(const struct name *a, int keep, struct name *out)
{
	int skip = a->n - keep;
	int i;

	out->p = a->p + (skip < a->n ? a->off[skip] : a->len - 1);
	out->len = a->len - (size_t)(out->p - a->p);
	out->n = keep;
	for (i = 0; i < keep; i++) {
		out->off[i] = (uint8_t)(a->off[skip + i] - (out->p - a->p));
	}
}

/* Compare label @i of @a with label @j of @b as lower-cased octet strings (RFC 4034 §6.1). */
static int label_cmp(const struct name *a, int i, const struct name *b, int j)
{
	const uint8_t *x = a->p + a->off[i];
	const uint8_t *y = b->p + b->off[j];
	unsigned k;

	for (k = 0; k < x[0] && k < y[0]; k++) {
		if (lower(x[1 + k]) != lower(y[1 + k])) {
			return lower(x[1 + k]) < lower(y[1 + k]) ? -1 : 1;
		}
	}
	return (int)x[0] - (int)y[0];
}

/* How many labels, counted from the root, @a and @b share. */
static int name_common(const struct name *a, const struct name *b)
{
	int k = 0;

	while (k < a->n && k < b->n && label_cmp(a, a->n - 1 - k, b, b->n - 1 - k) == 0) {
		k++;
	}
	return k;
}

/* Canonical order (RFC 4034 §6.1): the most significant label first, absent sorts first. */
static int name_cmp(const struct name *a, const struct name *b)
{
	int k = name_common(a, b);

	if (k < a->n && k < b->n) {
		return label_cmp(a, a->n - 1 - k, b, b->n - 1 - k);
	}
	return a->n - b->n;
}

/* Whether @a is @b or below it. */
static bool name_under(const struct name *a, const struct name *b)
{
	return name_common(a, b) == b->n;
}

/* *.@ce in @buf; -EBADMSG when it would pass 255 octets. */
static int name_wildcard(const struct name *ce, uint8_t buf[DNS_MAX_NAME], struct name *out)
{
	if (ce->len + 2 > DNS_MAX_NAME) {
		return -EBADMSG;
	}
	buf[0] = 1;
	buf[1] = '*';
	memcpy(buf + 2, ce->p, ce->len);
	return name_parse(buf, ce->len + 2, out);
}

/* Check type bit maps (RFC 4034 §4.1.2): windows increasing, each 1 to 32 octets. */
static int bitmap_check(const uint8_t *map, size_t len)
{
	size_t off = 0;
	int last = -1;

	if (map == NULL && len != 0) {
		return -EBADMSG;
	}
	while (off < len) {
		if (len - off < 2 || (int)map[off] <= last || map[off + 1] == 0 ||
		    map[off + 1] > 32 || len - off - 2 < map[off + 1]) {
			return -EBADMSG;
		}
		last = map[off];
		off += 2 + (size_t)map[off + 1];
	}
	return 0;
}

/* Whether a checked bit map has @type. */
static bool bitmap_has(const uint8_t *map, size_t len, uint16_t type)
{
	size_t off = 0;
	unsigned window = type >> 8, octet = (type & 0xff) >> 3;

	while (off + 2 <= len) {
		if (map[off] == window) {
			return octet < map[off + 1] &&
			       (map[off + 2 + octet] & (0x80 >> (type & 7)));
		}
		off += 2 + (size_t)map[off + 1];
	}
	return false;
}

/* Whether a bit map is a delegation's, seen from the parent: NS without SOA. */
static bool bitmap_delegation(const uint8_t *map, size_t len)
{
	return bitmap_has(map, len, DNS_TYPE_NS) && !bitmap_has(map, len, DNS_TYPE_SOA);
}

int dns_denial_name_order(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
			  int *order)
{
	struct name x, y;

	if (name_parse(a, a_len, &x) != 0 || name_parse(b, b_len, &y) != 0) {
		return -EBADMSG;
	}
	*order = name_cmp(&x, &y);
	return 0;
}

/* ---- NSEC (RFC 4034 §4, RFC 4035 §5.4) ---- */

int dns_denial_nsec_parse(const uint8_t *owner, size_t owner_len, const uint8_t *rdata,
			  size_t rdlen, struct dns_denial_nsec *out)
{
	struct name o, x;
	size_t next_len = 0;

	if (rdata == NULL || name_parse(owner, owner_len, &o) != 0) {
		return -EBADMSG;
	}
	/* The next name is never compressed (RFC 3597 §4, RFC 4034 §4.1.1). */
	while (next_len < rdlen && rdata[next_len] != 0 && rdata[next_len] <= DNS_MAX_LABEL) {
		next_len += 1 + (size_t)rdata[next_len];
	}
	if (next_len >= rdlen || rdata[next_len] != 0 || name_parse(rdata, next_len + 1, &x) != 0 ||
	    bitmap_check(rdata + next_len + 1, rdlen - next_len - 1) != 0) {
		return -EBADMSG;
	}
	out->owner = owner;
	out->owner_len = owner_len;
	out->next = rdata;
	out->next_len = next_len + 1;
	out->bitmap = rdata + next_len + 1;
	out->bitmap_len = rdlen - next_len - 1;
	return 0;
}

/** An NSEC with its names split. */
struct nsec {
	const struct dns_denial_nsec *rr; /**< borrowed */
	struct name owner;
	struct name next;
};

/* Split the names of @n records into @out; -EBADMSG for a malformed one. */
static int nsec_load(const struct dns_denial_nsec *rr, size_t n, struct nsec *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i].rr = &rr[i];
		if (name_parse(rr[i].owner, rr[i].owner_len, &out[i].owner) != 0 ||
		    name_parse(rr[i].next, rr[i].next_len, &out[i].next) != 0 ||
		    bitmap_check(rr[i].bitmap, rr[i].bitmap_len) != 0) {
			return -EBADMSG;
		}
	}
	return 0;
}

/*
 * Whether @s proves that @q does not exist: owner < q < next in canonical order, or, for the
 * last NSEC of the zone (next is the apex, sorting first), q after the owner and in the zone.
 * An owner that is a delegation (NS without SOA) or has a DNAME above @q is not authoritative
 * for it and proves nothing (RFC 6840 §4.1, RFC 4035 §2.3 and §3.1.3.2).
 */
static bool nsec_covers(const struct nsec *s, const struct name *q)
{
	bool below_owner = name_under(q, &s->owner) && name_cmp(q, &s->owner) != 0;

	if (below_owner && (bitmap_delegation(s->rr->bitmap, s->rr->bitmap_len) ||
			    bitmap_has(s->rr->bitmap, s->rr->bitmap_len, DNS_TYPE_DNAME))) {
		return false;
	}
	if (name_cmp(q, &s->owner) <= 0) {
		return false;
	}
	if (name_cmp(&s->owner, &s->next) < 0) {
		return name_cmp(q, &s->next) < 0;
	}
	return name_under(q, &s->next);
}

/* The closest encloser of @q that covering NSEC @s shows (RFC 7129 §5.5). */
static void nsec_closest_encloser(const struct nsec *s, const struct name *q, struct name *ce)
{
	int a = name_common(q, &s->owner), b = name_common(q, &s->next);

	name_suffix(q, a > b ? a : b, ce);
}

/* Whether a matching NSEC's bit map denies @qtype at its owner (RFC 4035 §5.4). */
static bool nsec_denies_type(const struct nsec *s, uint16_t qtype)
{
	const uint8_t *map = s->rr->bitmap;
	size_t len = s->rr->bitmap_len;

	if (bitmap_has(map, len, qtype) || bitmap_has(map, len, DNS_TYPE_CNAME)) {
		return false;
	}
	if (qtype == DNS_TYPE_DS) {
		/*
		 * DS lives on the parent side of a zone cut (RFC 4035 §3.1.4.1): the child's apex
		 * NSEC (SOA set) says nothing about it, but at the root there is no parent.
		 */
		return !bitmap_has(map, len, DNS_TYPE_SOA) || s->owner.n == 0;
	}
	/* The parent's NSEC at a delegation cannot deny the child's data (RFC 6840 §4.1). */
	return !bitmap_delegation(map, len);
}

int dns_denial_nsec_prove(const uint8_t *qname, size_t qname_len, uint16_t qtype,
			  const struct dns_denial_nsec *nsec, size_t n,
			  enum dns_denial_verdict *verdict)
{
	struct nsec s[16];
	struct name q, ce, wc;
	uint8_t wc_buf[DNS_MAX_NAME];
	size_t i, j;

	/* An answer holds a few NSEC records: two for a name error, at most. */
	if (name_parse(qname, qname_len, &q) != 0 || n > sizeof(s) / sizeof(s[0]) ||
	    (n != 0 && nsec == NULL) || nsec_load(nsec, n, s) != 0) {
		return -EBADMSG;
	}
	/* No data: an NSEC at the name itself (RFC 4035 §5.4, §3.1.3.1). */
	for (i = 0; i < n; i++) {
		if (name_cmp(&q, &s[i].owner) == 0) {
			*verdict = nsec_denies_type(&s[i], qtype) ? DENIAL_NODATA : DENIAL_NONE;
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (!nsec_covers(&s[i], &q)) {
			continue;
		}
		/* A next name below the name: an empty non-terminal (RFC 4035 §3.1.3.2). */
		if (name_under(&s[i].next, &q)) {
			*verdict = DENIAL_NODATA;
			return 0;
		}
		nsec_closest_encloser(&s[i], &q, &ce);
		if (name_wildcard(&ce, wc_buf, &wc) != 0) {
			break;
		}
		for (j = 0; j < n; j++) {
			/* Name error: no wildcard at the closest encloser either (§3.1.3.2). */
			if (nsec_covers(&s[j], &wc)) {
				*verdict = DENIAL_NXDOMAIN;
				return 0;
			}
			/* Wildcard no data: the wildcard exists without the type (§3.1.3.4). */
			if (name_cmp(&wc, &s[j].owner) == 0) {
				*verdict = nsec_denies_type(&s[j], qtype) ? DENIAL_NODATA
									  : DENIAL_NONE;
				return 0;
			}
		}
		break;
	}
	*verdict = DENIAL_NONE;
	return 0;
}

int dns_denial_nsec_wildcard(const uint8_t *qname, size_t qname_len, uint8_t labels,
			     const struct dns_denial_nsec *nsec, size_t n,
			     enum dns_denial_verdict *verdict)
{
	struct nsec s[16];
	struct name q, ce;
	size_t i;

	if (name_parse(qname, qname_len, &q) != 0 || n > sizeof(s) / sizeof(s[0]) ||
	    (n != 0 && nsec == NULL) || nsec_load(nsec, n, s) != 0) {
		return -EBADMSG;
	}
	*verdict = DENIAL_NONE;
	if (labels >= q.n) {
		return 0;
	}
	/*
	 * RFC 4035 §5.3.4: the name does not exist, and nothing closer to it than the wildcard's
	 * parent does: the covering NSEC's closest encloser is that parent.
	 */
	for (i = 0; i < n; i++) {
		if (nsec_covers(&s[i], &q) && !name_under(&s[i].next, &q)) {
			nsec_closest_encloser(&s[i], &q, &ce);
			if (ce.n == labels) {
				*verdict = DENIAL_WILDCARD;
			}
			return 0;
		}
	}
	return 0;
}

/* ---- NSEC3 (RFC 5155 §8) ---- */

int dns_denial_nsec3_parse(const uint8_t *owner, size_t owner_len, const uint8_t *rdata,
			   size_t rdlen, struct dns_denial_nsec3 *out)
{
	struct name o;
	size_t off;

	/* RFC 5155 §3.2: alg, flags, iterations (2), salt length, salt, hash length, hash. */
	if (rdata == NULL || name_parse(owner, owner_len, &o) != 0 || o.n == 0 || rdlen < 5) {
		return -EBADMSG;
	}
	off = 5 + (size_t)rdata[4];
	if (rdlen < off + 1 || rdata[off] == 0 || rdlen < off + 1 + rdata[off] ||
	    bitmap_check(rdata + off + 1 + rdata[off], rdlen - off - 1 - rdata[off]) != 0) {
		return -EBADMSG;
	}
	out->owner = owner;
	out->owner_len = owner_len;
	out->alg = rdata[0];
	out->flags = rdata[1];
	out->iterations = dns_get16(rdata + 2);
	out->salt_len = rdata[4];
	out->salt = rdata + 5;
	out->hash_len = rdata[off];
	out->next_hash = rdata + off + 1;
	out->bitmap = out->next_hash + out->hash_len;
	out->bitmap_len = rdlen - off - 1 - out->hash_len;
	return 0;
}

/** An NSEC3 with its owner's hash decoded and its zone split. */
struct nsec3 {
	const struct dns_denial_nsec3 *rr; /**< borrowed */
	uint8_t hash[DNS_NSEC3_HASH_LEN];  /**< the owner's first label, decoded */
	struct name zone;		   /**< the owner without its first label */
};

/** The NSEC3 records that count, their shared parameters, and the hash. */
struct nsec3_set {
	struct nsec3 r[16];
	size_t n;
	dns_denial_hash_cb hash;
	const struct dns_denial_nsec3 *params; /**< the first usable record; borrowed */
};

/* Decode a 32-character base32hex label (RFC 4648 §7, RFC 5155 §3.3) into 20 octets. */
static int base32hex_decode(const uint8_t *label, uint8_t out[DNS_NSEC3_HASH_LEN])
{
	uint32_t acc = 0;
	int bits = 0;
	size_t k = 0;
	unsigned i;

	if (label[0] != 32) {
		return -EBADMSG;
	}
	for (i = 1; i <= 32; i++) {
		uint8_t c = lower(label[i]);
		unsigned v;

		if (c >= '0' && c <= '9') {
			v = c - '0';
		} else if (c >= 'a' && c <= 'v') {
			v = c - 'a' + 10;
		} else {
			return -EBADMSG;
		}
		acc = (acc << 5 | v) & 0xffff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (uint8_t)(acc >> bits);
		}
	}
	return 0;
}

/*
 * Check the records and keep those that count (RFC 5155 §8.1: unknown algorithms ignored; §8.2:
 * flags other than Opt-Out ignored); -EBADMSG for a malformed one. *@verdict is set when the
 * set proves nothing (no record counts, parameters or zones differ) or is over the iteration
 * cap (RFC 9276 §3.2): nothing is hashed then.
 */
static int nsec3_load(struct nsec3_set *set, dns_denial_hash_cb hash,
		      const struct dns_denial_nsec3 *rr, size_t n, enum dns_denial_verdict *verdict)
{
	const struct dns_denial_nsec3 *p = NULL;
	struct name owner;
	size_t i;

	if (hash == NULL || n > sizeof(set->r) / sizeof(set->r[0]) || (n != 0 && rr == NULL)) {
		return -EBADMSG;
	}
	set->n = 0;
	set->hash = hash;
	*verdict = DENIAL_NONE;
	for (i = 0; i < n; i++) {
		struct nsec3 *r = &set->r[set->n];

		if (name_parse(rr[i].owner, rr[i].owner_len, &owner) != 0 || owner.n == 0 ||
		    (rr[i].salt == NULL && rr[i].salt_len != 0) ||
		    (rr[i].next_hash == NULL && rr[i].hash_len != 0) ||
		    bitmap_check(rr[i].bitmap, rr[i].bitmap_len) != 0) {
			return -EBADMSG;
		}
		if (rr[i].alg != DNS_NSEC3_SHA1 || (rr[i].flags & ~DNS_NSEC3_OPTOUT) != 0) {
			continue;
		}
		if (rr[i].hash_len != DNS_NSEC3_HASH_LEN ||
		    base32hex_decode(owner.p, r->hash) != 0) {
			return -EBADMSG;
		}
		r->rr = &rr[i];
		name_suffix(&owner, owner.n - 1, &r->zone);
		if (p == NULL) {
			p = &rr[i];
		} else if (rr[i].iterations != p->iterations || rr[i].salt_len != p->salt_len ||
			   (p->salt_len != 0 && memcmp(rr[i].salt, p->salt, p->salt_len) != 0) ||
			   name_cmp(&r->zone, &set->r[0].zone) != 0) {
			/* One zone's chain has one set of parameters (RFC 5155 §7.1). */
			return 1;
		}
		set->n++;
	}
	if (p == NULL) {
		return 1;
	}
	set->params = p;
	if (p->iterations > DNS_NSEC3_MAX_ITERATIONS) {
		*verdict = DENIAL_INSECURE_ITERATIONS;
		return 1;
	}
	return 0;
}

/* The hash of @a (lower-cased here: RFC 5155 §5 hashes the canonical form). */
static int nsec3_hash_name(const struct nsec3_set *set, const struct name *a,
			   uint8_t out[DNS_NSEC3_HASH_LEN])
{
	uint8_t buf[DNS_MAX_NAME];
	size_t i;

	for (i = 0; i < a->len; i++) {
		buf[i] = lower(a->p[i]);
	}
	/* Label lengths are under 'A', so lower-casing every octet leaves them alone. */
	return set->hash(set->params->alg, set->params->iterations, set->params->salt,
			 set->params->salt_len, buf, a->len, out);
}

/* The record whose owner hash is @h, or NULL. */
static const struct nsec3 *nsec3_match(const struct nsec3_set *set, const uint8_t *h)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (memcmp(set->r[i].hash, h, DNS_NSEC3_HASH_LEN) == 0) {
			return &set->r[i];
		}
	}
	return NULL;
}

/*
 * The record covering hash @h: owner < h < next, or, for the last in the chain (next at or
 * before owner), h after the owner or before the next (RFC 5155 §3.1.7). Equality is a match,
 * never a cover.
 */
static const struct nsec3 *nsec3_cover(const struct nsec3_set *set, const uint8_t *h)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const uint8_t *o = set->r[i].hash, *x = set->r[i].rr->next_hash;
		int ho = memcmp(h, o, DNS_NSEC3_HASH_LEN), hx = memcmp(h, x, DNS_NSEC3_HASH_LEN);

		if (memcmp(o, x, DNS_NSEC3_HASH_LEN) < 0 ? (ho > 0 && hx < 0)
							 : (ho > 0 || hx < 0)) {
			return &set->r[i];
		}
	}
	return NULL;
}

static bool nsec3_has(const struct nsec3 *r, uint16_t type)
{
	return bitmap_has(r->rr->bitmap, r->rr->bitmap_len, type);
}

/** A closest encloser proof (RFC 5155 §8.3). */
struct nsec3_ce {
	struct name ce;		/**< the closest provable encloser */
	const struct nsec3 *nc; /**< the record covering the next closer name */
};

/*
 * The closest provable encloser of @q: its longest ancestor whose hash a record matches, with
 * the next closer name (one label longer) covered. 1 when there is no proof, 0, or an error.
 */
static int nsec3_closest_encloser(const struct nsec3_set *set, const struct name *q,
				  struct nsec3_ce *out)
{
	const struct name *zone = &set->r[0].zone;
	uint8_t h[DNS_NSEC3_HASH_LEN];
	struct name a, nc;
	int keep, ret;

	for (keep = q->n - 1; keep >= zone->n; keep--) {
		const struct nsec3 *m;

		name_suffix(q, keep, &a);
		ret = nsec3_hash_name(set, &a, h);
		if (ret != 0) {
			return ret;
		}
		m = nsec3_match(set, h);
		if (m == NULL) {
			continue;
		}
		/*
		 * §8.3: the encloser's NSEC3 must not have DNAME, nor NS without SOA: from the
		 * parent's side of a cut it would deny what only the child can.
		 */
		if (nsec3_has(m, DNS_TYPE_DNAME) ||
		    (nsec3_has(m, DNS_TYPE_NS) && !nsec3_has(m, DNS_TYPE_SOA))) {
			return 1;
		}
		name_suffix(q, keep + 1, &nc);
		ret = nsec3_hash_name(set, &nc, h);
		if (ret != 0) {
			return ret;
		}
		out->nc = nsec3_cover(set, h);
		if (out->nc == NULL) {
			return 1;
		}
		out->ce = a;
		return 0;
	}
	return 1;
}

static bool nsec3_optout(const struct nsec3 *r)
{
	return (r->rr->flags & DNS_NSEC3_OPTOUT) != 0;
}

/* Whether a record matching the name denies @qtype there (§8.5, §8.6; RFC 6840 §4.1). */
static bool nsec3_denies_type(const struct nsec3 *m, const struct name *q, uint16_t qtype)
{
	if (nsec3_has(m, qtype) || nsec3_has(m, DNS_TYPE_CNAME)) {
		return false;
	}
	if (qtype == DNS_TYPE_DS) {
		return !nsec3_has(m, DNS_TYPE_SOA) || q->n == 0;
	}
	return !(nsec3_has(m, DNS_TYPE_NS) && !nsec3_has(m, DNS_TYPE_SOA));
}

int dns_denial_nsec3_prove(dns_denial_hash_cb hash, const uint8_t *qname, size_t qname_len,
			   uint16_t qtype, const struct dns_denial_nsec3 *nsec3, size_t n,
			   enum dns_denial_verdict *verdict)
{
	struct nsec3_set set;
	enum dns_denial_verdict v;
	uint8_t h[DNS_NSEC3_HASH_LEN], wc_buf[DNS_MAX_NAME];
	const struct nsec3 *m;
	struct nsec3_ce ce;
	struct name q, wc;
	int ret;

	if (name_parse(qname, qname_len, &q) != 0) {
		return -EBADMSG;
	}
	ret = nsec3_load(&set, hash, nsec3, n, &v);
	if (ret < 0) {
		return ret;
	}
	if (ret > 0 || !name_under(&q, &set.r[0].zone)) {
		*verdict = v;
		return 0;
	}
	ret = nsec3_hash_name(&set, &q, h);
	if (ret != 0) {
		return ret;
	}
	/* No data (§8.5), and DS no data (§8.6): a record matches the name. */
	m = nsec3_match(&set, h);
	if (m != NULL) {
		*verdict = nsec3_denies_type(m, &q, qtype) ? DENIAL_NODATA : DENIAL_NONE;
		return 0;
	}
	ret = nsec3_closest_encloser(&set, &q, &ce);
	if (ret < 0) {
		return ret;
	}
	*verdict = DENIAL_NONE;
	if (ret > 0) {
		return 0;
	}
	/* §8.6: no DS at an unsigned delegation an opt-out span may hide. */
	if (qtype == DNS_TYPE_DS && nsec3_optout(ce.nc)) {
		*verdict = DENIAL_OPTOUT;
		return 0;
	}
	if (name_wildcard(&ce.ce, wc_buf, &wc) != 0) {
		return 0;
	}
	ret = nsec3_hash_name(&set, &wc, h);
	if (ret != 0) {
		return ret;
	}
	if (nsec3_cover(&set, h) != NULL) {
		v = DENIAL_NXDOMAIN; /* §8.4 */
	} else if ((m = nsec3_match(&set, h)) != NULL && !nsec3_has(m, qtype) &&
		   !nsec3_has(m, DNS_TYPE_CNAME)) {
		v = DENIAL_NODATA; /* §8.7 */
	} else {
		return 0;
	}
	/*
	 * An opt-out span over the next closer name may hide an unsigned delegation there
	 * (RFC 5155 §6, §9.2), which would have answered instead: insecure, as unbound and BIND
	 * treat it.
	 */
	*verdict = nsec3_optout(ce.nc) ? DENIAL_OPTOUT : v;
	return 0;
}

int dns_denial_nsec3_wildcard(dns_denial_hash_cb hash, const uint8_t *qname, size_t qname_len,
			      uint8_t labels, const struct dns_denial_nsec3 *nsec3, size_t n,
			      enum dns_denial_verdict *verdict)
{
	struct nsec3_set set;
	enum dns_denial_verdict v;
	uint8_t h[DNS_NSEC3_HASH_LEN];
	struct name q, nc;
	int ret;

	if (name_parse(qname, qname_len, &q) != 0) {
		return -EBADMSG;
	}
	ret = nsec3_load(&set, hash, nsec3, n, &v);
	if (ret < 0) {
		return ret;
	}
	if (ret > 0) {
		*verdict = v;
		return 0;
	}
	if (labels >= q.n || labels < set.r[0].zone.n || !name_under(&q, &set.r[0].zone)) {
		*verdict = DENIAL_NONE;
		return 0;
	}
	/* §8.8: the next closer name, one label below the wildcard's parent, is covered. */
	name_suffix(&q, labels + 1, &nc);
	ret = nsec3_hash_name(&set, &nc, h);
	if (ret != 0) {
		return ret;
	}
	*verdict = nsec3_cover(&set, h) != NULL ? DENIAL_WILDCARD : DENIAL_NONE;
	return 0;
}

int dns_denial_delegation(dns_denial_hash_cb hash, const uint8_t *qname, size_t qname_len,
			  const struct dns_denial_nsec *nsec, size_t n_nsec,
			  const struct dns_denial_nsec3 *nsec3, size_t n_nsec3, bool *cut)
{
	struct nsec s[16];
	struct nsec3_set set;
	enum dns_denial_verdict v;
	uint8_t h[DNS_NSEC3_HASH_LEN];
	const struct nsec3 *m;
	struct name q;
	int ret;

	if (name_parse(qname, qname_len, &q) != 0 || n_nsec > sizeof(s) / sizeof(s[0]) ||
	    (n_nsec != 0 && nsec == NULL) || nsec_load(nsec, n_nsec, s) != 0) {
		return -EBADMSG;
	}
	for (size_t i = 0; i < n_nsec; i++) {
		if (name_cmp(&q, &s[i].owner) == 0) {
			*cut = bitmap_delegation(nsec[i].bitmap, nsec[i].bitmap_len);
			return 0;
		}
	}
	if (n_nsec3 > 0) {
		ret = nsec3_load(&set, hash, nsec3, n_nsec3, &v);
		if (ret < 0) {
			return ret;
		}
		if (ret == 0 && name_under(&q, &set.r[0].zone)) {
			ret = nsec3_hash_name(&set, &q, h);
			if (ret != 0) {
				return ret;
			}
			m = nsec3_match(&set, h);
			if (m != NULL) {
				*cut = nsec3_has(m, DNS_TYPE_NS) && !nsec3_has(m, DNS_TYPE_SOA);
				return 0;
			}
		}
	}
	*cut = false;
	return 0;
}
