/*
 * dns_canon: canonical names, canonical RRsets and the data an RRSIG signs. See dns_canon.h
 * for the contract.
 *
 * The signed data is written straight into the caller's buffer, in one pass over the RRs: each
 * RR is appended in canonical form, then moved into its sorted place by a rotation of the bytes
 * after that place (RFC 4034 §6.3 orders RRs by their canonical RDATA), or dropped when its
 * RDATA equals one already there (§6.3: duplicates are not allowed in an RRset). All RRs share
 * the owner, type, class and TTL, so only the RDATA is compared. The only other memory is an
 * array on the stack of where each sorted RR starts: no allocation. The cost is bounded by
 * DNS_CANON_MAX_RRS rotations of at most the output's length.
 */
#include <errno.h>
#include <string.h>

#include "dns_canon.h"
#include "dns_wire.h"

#define RRSIG_FIXED_LEN 18 /* type covered .. key tag (RFC 4034 §3.1) */

static inline uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

int dns_name_canonical(const uint8_t *msg, size_t len, size_t off, uint8_t *out, size_t cap,
		       size_t *out_len, unsigned *n_labels)
{
	size_t pos = off, n = 0, next;
	unsigned labels = 0;
	int ret;

	/* Checked whole first: from here on every label and pointer lies inside the message. */
	ret = dns_name_skip(msg, len, off, &next);
	if (ret < 0) {
		return ret;
	}
	for (;;) {
		uint8_t c = msg[pos];

		if ((c & 0xc0) == 0xc0) {
			pos = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
			continue;
		}
		if ((size_t)c + 1 > cap - n) {
			return -ENOSPC;
		}
		out[n++] = c;
		for (size_t i = 1; i <= c; i++) {
			out[n++] = ascii_lower(msg[pos + i]);
		}
		if (c == 0) {
			break;
		}
		labels++;
		pos += (size_t)c + 1;
	}
	*out_len = n;
	if (n_labels != NULL) {
		*n_labels = labels;
	}
	return 0;
}

/* A cursor over one RDATA of @msg, from @pos to @end, writing its canonical form at @out. */
struct rdata_cursor {
	const uint8_t *msg; /**< borrowed */
	size_t len;
	size_t pos;
	size_t end;
	uint8_t *out; /**< borrowed */
	size_t cap;
	size_t n; /**< octets written at @out */
};

static int rdata_fixed(struct rdata_cursor *r, size_t count)
{
	if (r->end - r->pos < count) {
		return -EINVAL;
	}
	if (r->cap - r->n < count) {
		return -ENOSPC;
	}
	memcpy(r->out + r->n, r->msg + r->pos, count);
	r->pos += count;
	r->n += count;
	return 0;
}

/* A name inside the RDATA: it must end inside it, though a pointer may lead anywhere before. */
static int rdata_name(struct rdata_cursor *r)
{
	size_t next, name_len;
	int ret;

	if (dns_name_skip(r->msg, r->len, r->pos, &next) < 0 || next > r->end) {
		return -EINVAL;
	}
	ret = dns_name_canonical(r->msg, r->len, r->pos, r->out + r->n, r->cap - r->n, &name_len,
				 NULL);
	if (ret < 0) {
		return ret == -ENOSPC ? -ENOSPC : -EINVAL;
	}
	r->pos = next;
	r->n += name_len;
	return 0;
}

static int rdata_string(struct rdata_cursor *r)
{
	if (r->pos >= r->end) {
		return -EINVAL;
	}
	return rdata_fixed(r, 1 + (size_t)r->msg[r->pos]);
}

/*
 * The RDATA layout of the types whose names are canonicalized (RFC 4034 §6.2 item 3): 'n' a
 * name, 's' a character-string, '1' to '9' that many fixed octets, 'r' the rest. The types'
 * RFCs: RFC 1035 §3.3 (NS .. MX, the MD, MF, MB, MG, MR experiments), RFC 1183 (RP, AFSDB, RT),
 * RFC 2535 (SIG, NXT), RFC 2163 (PX), RFC 3403 §4.1 (NAPTR), RFC 2230 (KX), RFC 2782 (SRV),
 * RFC 6672 (DNAME), RFC 4034 §3.1 (RRSIG). A6 (RFC 2874 §3.1.1) is written out in code.
 *
 * Not NSEC: RFC 4034 listed it, but RFC 3755 §4 had already said its next domain name is not
 * lowered, implementations followed that, and RFC 6840 §5.1 corrected the list to match: the
 * next name of an NSEC is signed as it appears. Nor HINFO, listed twice by RFC 4034 but holding
 * no name. Nor any other type (RFC 3597 §7: unknown types are opaque): their RDATA is signed as
 * received; since RFC 3597 §4 forbids compression in them, a compressed name there is not ours
 * to expand.
 */
static const char *rdata_layout(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_NS:
	case 3: /* MD */
	case 4: /* MF */
	case DNS_TYPE_CNAME:
	case 7: /* MB */
	case 8: /* MG */
	case 9: /* MR */
	case DNS_TYPE_PTR:
	case 39: /* DNAME */
		return "n";
	case DNS_TYPE_SOA:
		return "nn44444";
	case 14: /* MINFO */
	case 17: /* RP */
		return "nn";
	case DNS_TYPE_MX:
	case 18: /* AFSDB */
	case 21: /* RT */
	case 36: /* KX */
		return "2n";
	case 24: /* SIG */
	case DNS_TYPE_RRSIG:
		return "99nr";
	case 26: /* PX */
		return "2nn";
	case 30: /* NXT */
		return "nr";
	case 35: /* NAPTR */
		return "22sssn";
	case 33: /* SRV */
		return "6n";
	default:
		return NULL;
	}
}

/* A6: prefix length P, the address suffix in ceil((128 - P) / 8) octets, a prefix name if P. */
static int rdata_a6(struct rdata_cursor *r)
{
	uint8_t prefix_len;
	int ret;

	if (r->pos >= r->end || r->msg[r->pos] > 128) {
		return -EINVAL;
	}
	prefix_len = r->msg[r->pos];
	ret = rdata_fixed(r, 1 + (128 - (size_t)prefix_len + 7) / 8);
	if (ret == 0 && prefix_len > 0) {
		ret = rdata_name(r);
	}
	return ret;
}

/* The canonical form of the whole RDATA under @r; it must be consumed exactly. */
static int rdata_canonical(struct rdata_cursor *r, uint16_t type)
{
	const char *layout = rdata_layout(type);
	int ret = 0;

	if (type == 38) { /* A6 */
		ret = rdata_a6(r);
	} else if (layout == NULL) {
		ret = rdata_fixed(r, r->end - r->pos);
	}
	for (; layout != NULL && *layout != '\0' && ret == 0; layout++) {
		if (*layout == 'n') {
			ret = rdata_name(r);
		} else if (*layout == 's') {
			ret = rdata_string(r);
		} else if (*layout == 'r') {
			ret = rdata_fixed(r, r->end - r->pos);
		} else {
			ret = rdata_fixed(r, (size_t)(*layout - '0'));
		}
	}
	if (ret == 0 && r->pos != r->end) {
		return -EINVAL;
	}
	return ret;
}

/* One RR's fixed fields, checked to lie in the message. */
struct rr_fields {
	uint16_t type;
	uint16_t rclass;
	size_t rdata_off;
	size_t rdata_end;
};

static int rr_read(const uint8_t *msg, size_t len, size_t off, struct rr_fields *rr)
{
	size_t p;

	if (dns_name_skip(msg, len, off, &p) < 0 || len - p < 10) {
		return -EINVAL;
	}
	rr->type = dns_get16(msg + p);
	rr->rclass = dns_get16(msg + p + 2);
	rr->rdata_off = p + 10;
	rr->rdata_end = rr->rdata_off + dns_get16(msg + p + 8);
	if (rr->rdata_end > len) {
		return -EINVAL;
	}
	return 0;
}

/* Compare the RDATA of the RRs at @a and @b of @out, each after @prefix_len octets (§6.3). */
static int rdata_compare(const uint8_t *out, size_t a, size_t b, size_t prefix_len)
{
	size_t a_len = dns_get16(out + a + prefix_len), b_len = dns_get16(out + b + prefix_len);
	int cmp = memcmp(out + a + prefix_len + 2, out + b + prefix_len + 2,
			 a_len < b_len ? a_len : b_len);

	if (cmp != 0) {
		return cmp;
	}
	return a_len < b_len ? -1 : a_len > b_len;
}

static void reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];

		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

/* Move the last @tail octets of the @n at @p to the front, in place. */
static void rotate(uint8_t *p, size_t n, size_t tail)
{
	reverse(p, n - tail);
	reverse(p + n - tail, tail);
	reverse(p, n);
}

/*
 * Insert the RR just written at @out from @start to @end among the @n_sorted sorted RRs that
 * begin at @starts[]; drop it if its RDATA is there already. Returns the new end of the data.
 */
static size_t rr_insert(uint8_t *out, size_t start, size_t end, size_t prefix_len, size_t *starts,
			size_t *n_sorted)
{
	size_t lo = 0, hi = *n_sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = rdata_compare(out, starts[mid], start, prefix_len);

		if (cmp == 0) {
			return start;
		}
		if (cmp < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo < *n_sorted) {
		rotate(out + starts[lo], end - starts[lo], end - start);
	} else {
		starts[lo] = start;
	}
	for (size_t i = *n_sorted; i > lo; i--) {
		starts[i] = starts[i - 1] + (end - start);
	}
	(*n_sorted)++;
	return end;
}

int dns_rrsig_signed_data(const uint8_t *msg, size_t len, size_t rrsig_off, const size_t *rr_offs,
			  size_t n_rrs, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t prefix[DNS_MAX_NAME + 8]; /* owner | type | class | original TTL, shared by all */
	size_t starts[DNS_CANON_MAX_RRS];
	size_t n_sorted = 0, prefix_len, owner_len, sig_labels;
	struct rr_fields sig;
	struct rdata_cursor r;
	unsigned owner_labels;
	int ret;

	if (n_rrs == 0) {
		return -EINVAL;
	}
	if (n_rrs > DNS_CANON_MAX_RRS) {
		return -E2BIG;
	}
	if (rr_read(msg, len, rrsig_off, &sig) < 0 || sig.type != DNS_TYPE_RRSIG ||
	    sig.rdata_end - sig.rdata_off < RRSIG_FIXED_LEN) {
		return -EINVAL;
	}

	/* RRSIG_RDATA: the fixed fields and the signer's name, not the signature (§3.1.8.1). */
	r = (struct rdata_cursor){.msg = msg,
				  .len = len,
				  .pos = sig.rdata_off,
				  .end = sig.rdata_end,
				  .out = out,
				  .cap = cap};
	ret = rdata_fixed(&r, RRSIG_FIXED_LEN);
	if (ret == 0) {
		ret = rdata_name(&r);
	}
	if (ret < 0) {
		return ret;
	}

	/*
	 * The owner, as the signer saw it: with fewer labels in the RRSIG than in the owner, the
	 * RRset was expanded from a wildcard, "*." and the rightmost labels (RFC 4035 §5.3.2);
	 * with more, the RRSIG cannot be for it (§5.3.1).
	 */
	if (dns_name_canonical(msg, len, rrsig_off, prefix, DNS_MAX_NAME, &owner_len,
			       &owner_labels) < 0) {
		return -EINVAL;
	}
	sig_labels = msg[sig.rdata_off + 3];
	if (sig_labels > owner_labels) {
		return -EINVAL;
	}
	if (sig_labels < owner_labels) {
		size_t skip = 0;

		for (unsigned i = 0; i < owner_labels - sig_labels; i++) {
			skip += (size_t)prefix[skip] + 1;
		}
		prefix[0] = 1;
		prefix[1] = '*';
		memmove(prefix + 2, prefix + skip, owner_len - skip);
		owner_len = owner_len - skip + 2;
	}
	prefix_len = owner_len;
	memcpy(prefix + prefix_len, msg + sig.rdata_off, 2); /* the type covered */
	dns_put16(prefix + prefix_len + 2, sig.rclass);
	memcpy(prefix + prefix_len + 4, msg + sig.rdata_off + 4, 4); /* the original TTL */
	prefix_len += 8;

	for (size_t i = 0; i < n_rrs; i++) {
		struct rr_fields rr;
		size_t start = r.n;

		if (rr_read(msg, len, rr_offs[i], &rr) < 0 ||
		    rr.type != dns_get16(msg + sig.rdata_off) || rr.rclass != sig.rclass ||
		    !dns_name_equal(msg, len, rr_offs[i], msg, len, rrsig_off)) {
			return -EINVAL;
		}
		if (cap - r.n < prefix_len + 2) {
			return -ENOSPC;
		}
		memcpy(out + r.n, prefix, prefix_len);
		r.n += prefix_len + 2;
		r.pos = rr.rdata_off;
		r.end = rr.rdata_end;
		ret = rdata_canonical(&r, rr.type);
		if (ret < 0) {
			return ret;
		}
		if (r.n - start - prefix_len - 2 > UINT16_MAX) {
			return -EINVAL; /* names expanded past what an RDLENGTH can say */
		}
		dns_put16(out + start + prefix_len, (uint16_t)(r.n - start - prefix_len - 2));
		r.n = rr_insert(out, start, r.n, prefix_len, starts, &n_sorted);
	}
	*out_len = r.n;
	return 0;
}
