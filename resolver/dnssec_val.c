/*
 * dnssec_val: RRset and DNSKEY RRset validation (RFC 4035 §5.2, §5.3). See dnssec_val.h for
 * the contract.
 *
 * Each RRSIG goes through the checks of RFC 4035 §5.3.1 in the order of their cost: its fields
 * against the RRset and the zone, the key it names, its validity period, and last the
 * signature over the data dns_rrsig_signed_data() builds. The signed data needs a buffer as
 * large as the RRset uncompressed; it is allocated once per call, grown when too small, and
 * freed before returning (the miss path only: a cached answer is never validated again).
 * Nothing else allocates, and no state outlives a call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_canon.h"
#include "dns_wire.h"
#include "dnssec_val.h"
#include "tls_dnssec.h"

#define RRSIG_FIXED_LEN	 18 /* type covered .. key tag (RFC 4034 §3.1) */
#define DNSKEY_FIXED_LEN 4  /* flags, protocol, algorithm (RFC 4034 §2.1) */
#define DS_FIXED_LEN	 4  /* key tag, algorithm, digest type (RFC 4034 §5.1) */
#define DNSKEY_PROTOCOL	 3  /* RFC 4034 §2.1.2 */
#define SIGNED_DATA_MAX	 (1u << 20)

/* One RR's fields, checked to lie in the message. */
struct rr_fields {
	uint16_t type;
	uint16_t rclass;
	size_t rdata_off;
	size_t rdata_end;
};

static int rr_read(const uint8_t *msg, size_t len, size_t off, struct rr_fields *rr)
{
	size_t p;

	if (off >= len || dns_name_skip(msg, len, off, &p) < 0 || len - p < 10) {
		return -EBADMSG;
	}
	rr->type = dns_get16(msg + p);
	rr->rclass = dns_get16(msg + p + 2);
	rr->rdata_off = p + 10;
	rr->rdata_end = rr->rdata_off + dns_get16(msg + p + 8);
	if (rr->rdata_end > len) {
		return -EBADMSG;
	}
	return 0;
}

/* A name in canonical form, with its labels; a wildcard's "*" not counted (RFC 4034 §3.1.3). */
struct name {
	uint8_t b[DNS_MAX_NAME];
	size_t len;
	unsigned labels;
};

static int name_read(const uint8_t *msg, size_t len, size_t off, struct name *n)
{
	if (dns_name_canonical(msg, len, off, n->b, sizeof(n->b), &n->len, &n->labels) < 0) {
		return -EBADMSG;
	}
	if (n->labels > 0 && n->b[0] == 1 && n->b[1] == '*') {
		n->labels--;
	}
	return 0;
}

static bool name_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* Whether canonical @name is @zone or below it: @zone is its suffix at a label boundary. */
static bool name_is_below(const uint8_t *name, size_t name_len, const uint8_t *zone,
			  size_t zone_len)
{
	size_t pos = 0;

	while (name_len - pos > zone_len) {
		pos += (size_t)name[pos] + 1;
	}
	return name_equal(name + pos, name_len - pos, zone, zone_len);
}

/* The RFC 8914 code of a bogus reason. */
static int reason_ede(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_EXPIRED:
		return DNSSEC_EDE_EXPIRED;
	case DNSSEC_NOT_YET:
		return DNSSEC_EDE_NOT_YET_VALID;
	case DNSSEC_NO_KEY:
	case DNSSEC_NO_DS_MATCH:
		return DNSSEC_EDE_DNSKEY_MISSING;
	case DNSSEC_NO_RRSIG:
		return DNSSEC_EDE_RRSIGS_MISSING;
	case DNSSEC_UNSUPPORTED_ALG:
		return DNSSEC_EDE_UNSUPPORTED_ALG;
	case DNSSEC_UNSUPPORTED_DS:
		return DNSSEC_EDE_UNSUPPORTED_DS;
	case DNSSEC_OK:
		return -1;
	default:
		return DNSSEC_EDE_BOGUS;
	}
}

/* How far an RRSIG got: the reason of the one that came closest is the RRset's. */
static int reason_rank(enum dnssec_reason r)
{
	switch (r) {
	case DNSSEC_SIGNATURE:
	case DNSSEC_TOO_MUCH:
		return 4;
	case DNSSEC_EXPIRED:
	case DNSSEC_NOT_YET:
		return 3;
	case DNSSEC_NO_KEY:
		return 2;
	default:
		return 1;
	}
}

static void result_set(struct dnssec_result *out, enum dnssec_status status,
		       enum dnssec_reason reason)
{
	*out = (struct dnssec_result){
		.status = status, .reason = reason, .ede = reason_ede(reason)};
}

static bool key_usable(const struct dnssec_key *k)
{
	/* A revoked key signs nothing but its own revocation (RFC 5011 §2.1). */
	return (k->flags & ANCHOR_FLAG_ZONE) && !(k->flags & ANCHOR_FLAG_REVOKE) &&
	       k->protocol == DNSKEY_PROTOCOL;
}

/* One RRSIG over one RRset, as a validation sees it. */
struct rrset_ctx {
	const uint8_t *msg;
	size_t len;
	const size_t *rr_offs;
	size_t n_rrs;
	struct name owner;
	uint16_t type;
	uint16_t rclass;
	const struct dnssec_keys *keys;
	uint32_t now;
	unsigned n_verified; /* signature checks made */
	uint8_t *data;	     /* owned: the signed data buffer */
	size_t data_cap;
};

/* The signed data of the RRSIG at @rrsig_off into ctx->data, grown as needed. */
static int signed_data(struct rrset_ctx *c, size_t rrsig_off, size_t *data_len)
{
	for (;;) {
		int ret;

		if (c->data == NULL) {
			c->data = malloc(c->data_cap);
			if (c->data == NULL) {
				return -ENOMEM;
			}
		}
		ret = dns_rrsig_signed_data(c->msg, c->len, rrsig_off, c->rr_offs, c->n_rrs,
					    c->data, c->data_cap, data_len);
		if (ret != -ENOSPC || c->data_cap >= SIGNED_DATA_MAX) {
			return ret;
		}
		free(c->data);
		c->data = NULL;
		c->data_cap *= 4;
	}
}

/*
 * Check the RRSIG at @off (RFC 4035 §5.3.1); DNSSEC_OK with the key's index in *@key when it
 * verifies. A negative return is -ENOMEM only.
 */
static int rrsig_check(struct rrset_ctx *c, size_t off, enum dnssec_reason *reason, size_t *key,
		       uint8_t *labels_out)
{
	const struct dnssec_keys *keys = c->keys;
	struct rr_fields rr;
	struct name signer;
	const uint8_t *rd;
	size_t sig_off, data_len = 0;
	uint32_t expire, incept;
	uint16_t tag;
	uint8_t alg, labels;
	bool bad_sig = false;

	*reason = DNSSEC_MALFORMED;
	if (rr_read(c->msg, c->len, off, &rr) < 0 || rr.type != DNS_TYPE_RRSIG ||
	    rr.rdata_end - rr.rdata_off < RRSIG_FIXED_LEN + 1) {
		return 0;
	}
	rd = c->msg + rr.rdata_off;
	alg = rd[2];
	labels = rd[3];
	expire = dns_get32(rd + 8);
	incept = dns_get32(rd + 12);
	tag = dns_get16(rd + 16);
	if (dns_name_skip(c->msg, c->len, rr.rdata_off + RRSIG_FIXED_LEN, &sig_off) < 0 ||
	    sig_off > rr.rdata_end ||
	    name_read(c->msg, c->len, rr.rdata_off + RRSIG_FIXED_LEN, &signer) < 0) {
		return 0;
	}

	/* RFC 4035 §5.3.1: the RRSIG belongs to this RRset, and to this zone. */
	{
		struct name owner;

		if (name_read(c->msg, c->len, off, &owner) < 0) {
			return 0;
		}
		*reason = DNSSEC_MISMATCH;
		if (!name_equal(owner.b, owner.len, c->owner.b, c->owner.len) ||
		    rr.rclass != c->rclass || dns_get16(rd) != c->type) {
			return 0;
		}
	}
	*reason = DNSSEC_SIGNER;
	if (!name_equal(signer.b, signer.len, keys->zone, keys->zone_len)) {
		return 0;
	}
	*reason = DNSSEC_OWNER;
	if (!name_is_below(c->owner.b, c->owner.len, signer.b, signer.len)) {
		return 0;
	}
	*reason = DNSSEC_LABELS;
	if (labels > c->owner.labels) {
		return 0;
	}
	*reason = DNSSEC_UNSUPPORTED_ALG;
	if (!tls_dnssec_algorithm_supported(alg)) {
		return 0;
	}

	/* RFC 4034 §3.1.5: serial number arithmetic (RFC 1982), so the times wrap at 2^32. */
	for (size_t i = 0; i < keys->n_keys; i++) {
		const struct dnssec_key *k = &keys->key[i];
		int ret;

		if (k->algorithm != alg || k->key_tag != tag || !key_usable(k)) {
			continue;
		}
		if (c->now != DNSSEC_NOW_UNSET && (int32_t)(c->now - incept) < 0) {
			*reason = DNSSEC_NOT_YET;
			return 0;
		}
		if (c->now != DNSSEC_NOW_UNSET && (int32_t)(expire - c->now) < 0) {
			*reason = DNSSEC_EXPIRED;
			return 0;
		}
		if (data_len == 0) {
			ret = signed_data(c, off, &data_len);
			if (ret == -ENOMEM) {
				return ret;
			}
			if (ret < 0) {
				*reason = DNSSEC_MALFORMED;
				return 0;
			}
		}
		if (c->n_verified == DNSSEC_VERIFY_MAX) {
			*reason = DNSSEC_TOO_MUCH;
			return 0;
		}
		c->n_verified++;
		ret = tls_dnssec_verify(alg, k->key, k->key_len, c->data, data_len,
					c->msg + sig_off, rr.rdata_end - sig_off);
		if (ret == -ENOMEM) {
			return ret;
		}
		if (ret == 0) {
			*reason = DNSSEC_OK;
			*key = i;
			*labels_out = labels;
			return 0;
		}
		bad_sig = true; /* and another key of the same tag may still verify it */
	}
	*reason = bad_sig ? DNSSEC_SIGNATURE : DNSSEC_NO_KEY;
	return 0;
}

int dnssec_rrset_verify(const uint8_t *msg, size_t len, const size_t *rr_offs, size_t n_rrs,
			const size_t *rrsig_offs, size_t n_rrsigs, const struct dnssec_keys *keys,
			uint32_t now, struct dnssec_result *out)
{
	struct rrset_ctx c = {.msg = msg,
			      .len = len,
			      .rr_offs = rr_offs,
			      .n_rrs = n_rrs,
			      .keys = keys,
			      .now = now,
			      .data_cap = 4 * (size_t)len + 1024};
	enum dnssec_reason best = DNSSEC_NO_RRSIG;
	bool all_unsupported = n_rrsigs > 0, zone_supported = false;
	struct rr_fields rr;
	int ret = 0;

	if (n_rrs == 0 || rr_offs == NULL || keys == NULL || out == NULL) {
		return -EINVAL;
	}
	if (rr_read(msg, len, rr_offs[0], &rr) < 0 ||
	    name_read(msg, len, rr_offs[0], &c.owner) < 0) {
		result_set(out, DNSSEC_BOGUS, DNSSEC_MALFORMED);
		return 0;
	}
	c.type = rr.type;
	c.rclass = rr.rclass;
	for (size_t i = 0; i < keys->n_keys; i++) {
		if (key_usable(&keys->key[i]) &&
		    tls_dnssec_algorithm_supported(keys->key[i].algorithm)) {
			zone_supported = true;
		}
	}

	for (size_t i = 0; i < n_rrsigs; i++) {
		enum dnssec_reason reason;
		size_t key = 0;
		uint8_t labels = 0;

		ret = rrsig_check(&c, rrsig_offs[i], &reason, &key, &labels);
		if (ret < 0) {
			goto out;
		}
		if (reason == DNSSEC_OK) {
			/* RFC 4035 §5.3.3: one RRSIG that validates makes the RRset secure. */
			*out = (struct dnssec_result){.status = DNSSEC_SECURE,
						      .reason = DNSSEC_OK,
						      .ede = -1,
						      .rrsig = i,
						      .labels = labels,
						      .key = key};
			goto out;
		}
		if (reason != DNSSEC_UNSUPPORTED_ALG) {
			all_unsupported = false;
			if (best == DNSSEC_NO_RRSIG || reason_rank(reason) > reason_rank(best)) {
				best = reason;
			}
		}
	}
	if (all_unsupported && !zone_supported) {
		/* RFC 6840 §5.2, RFC 4035 §5.2: nothing we could check, so no claim either way. */
		result_set(out, DNSSEC_INSECURE, DNSSEC_UNSUPPORTED_ALG);
	} else {
		result_set(out, DNSSEC_BOGUS, best);
	}
out:
	free(c.data);
	return ret;
}

int dnssec_keys_from_rrset(const uint8_t *msg, size_t len, const size_t *offs, size_t n,
			   struct dnssec_keys *out)
{
	struct dnssec_key key[DNSSEC_KEYS_MAX];
	struct name zone, owner;

	if (n == 0) {
		return -EINVAL;
	}
	if (n > DNSSEC_KEYS_MAX) {
		return -E2BIG;
	}
	if (name_read(msg, len, offs[0], &zone) < 0) {
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		struct rr_fields rr;
		const uint8_t *rd;

		if (rr_read(msg, len, offs[i], &rr) < 0 || rr.type != DNS_TYPE_DNSKEY ||
		    rr.rclass != DNS_CLASS_IN || rr.rdata_end - rr.rdata_off < DNSKEY_FIXED_LEN ||
		    name_read(msg, len, offs[i], &owner) < 0 ||
		    !name_equal(owner.b, owner.len, zone.b, zone.len)) {
			return -EBADMSG;
		}
		rd = msg + rr.rdata_off;
		key[i] = (struct dnssec_key){
			.flags = dns_get16(rd),
			.protocol = rd[2],
			.algorithm = rd[3],
			.key_tag = tls_dnssec_key_tag(rd, rr.rdata_end - rr.rdata_off),
			.rdata = rd,
			.rdata_len = rr.rdata_end - rr.rdata_off,
			.key = rd + DNSKEY_FIXED_LEN,
			.key_len = rr.rdata_end - rr.rdata_off - DNSKEY_FIXED_LEN,
		};
	}
	memcpy(out->zone, zone.b, zone.len);
	out->zone_len = zone.len;
	out->zone_labels = zone.labels;
	memcpy(out->key, key, n * sizeof(key[0]));
	out->n_keys = n;
	return 0;
}

int dnssec_ds_from_rrset(const uint8_t *msg, size_t len, const size_t *offs, size_t n,
			 struct dnssec_ds *out, size_t cap, size_t *n_out)
{
	struct name first, owner;

	if (n > cap) {
		return -E2BIG;
	}
	if (n > 0 && name_read(msg, len, offs[0], &first) < 0) {
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		struct rr_fields rr;

		if (rr_read(msg, len, offs[i], &rr) < 0 || rr.type != DNS_TYPE_DS ||
		    rr.rdata_end - rr.rdata_off <= DS_FIXED_LEN ||
		    name_read(msg, len, offs[i], &owner) < 0 ||
		    !name_equal(owner.b, owner.len, first.b, first.len)) {
			return -EBADMSG;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct rr_fields rr;
		const uint8_t *rd;

		rr_read(msg, len, offs[i], &rr);
		rd = msg + rr.rdata_off;
		out[i] = (struct dnssec_ds){
			.key_tag = dns_get16(rd),
			.algorithm = rd[2],
			.digest_type = rd[3],
			.digest = rd + DS_FIXED_LEN,
			.digest_len = rr.rdata_end - rr.rdata_off - DS_FIXED_LEN,
		};
	}
	*n_out = n;
	return 0;
}

int dnssec_trust_from_anchor(const struct anchor_zone *az, struct dnssec_ds *ds, size_t ds_cap,
			     struct dnssec_key *keys, size_t keys_cap, struct dnssec_trust *out)
{
	if (az->n_ds > ds_cap || az->n_keys > keys_cap) {
		return -E2BIG;
	}
	for (size_t i = 0; i < az->n_ds; i++) {
		const struct anchor_ds *a = &az->ds[i];

		ds[i] = (struct dnssec_ds){.key_tag = a->key_tag,
					   .algorithm = a->algorithm,
					   .digest_type = a->digest_type,
					   .digest = a->digest,
					   .digest_len = a->digest_len};
	}
	for (size_t i = 0; i < az->n_keys; i++) {
		const struct anchor_dnskey *a = &az->keys[i];

		keys[i] = (struct dnssec_key){.flags = a->flags,
					      .protocol = a->protocol,
					      .algorithm = a->algorithm,
					      .key_tag = a->key_tag,
					      .key = a->key,
					      .key_len = a->key_len};
	}
	*out = (struct dnssec_trust){
		.ds = ds, .n_ds = az->n_ds, .keys = keys, .n_keys = az->n_keys};
	return 0;
}

static bool digest_supported(uint8_t type)
{
	return type == TLS_DNSSEC_DS_SHA1 || type == TLS_DNSSEC_DS_SHA256 ||
	       type == TLS_DNSSEC_DS_SHA384;
}

/* Whether DNSKEY @k of zone @keys is the one DS @ds stands for (RFC 4034 §5.1.4). */
static bool ds_matches(const struct dnssec_ds *ds, const struct dnssec_keys *keys,
		       const struct dnssec_key *k)
{
	uint8_t digest[TLS_DNSSEC_DIGEST_MAX];
	size_t digest_len = sizeof(digest);

	if (ds->algorithm != k->algorithm || ds->key_tag != k->key_tag || k->rdata == NULL) {
		return false;
	}
	if (tls_dnssec_ds_digest(ds->digest_type, keys->zone, keys->zone_len, k->rdata,
				 k->rdata_len, digest, &digest_len) < 0) {
		return false;
	}
	return name_equal(digest, digest_len, ds->digest, ds->digest_len);
}

/* Whether DNSKEY @k is the anchor @a: the same algorithm and public key. */
static bool anchor_matches(const struct dnssec_key *a, const struct dnssec_key *k)
{
	return a->algorithm == k->algorithm && key_usable(a) &&
	       name_equal(a->key, a->key_len, k->key, k->key_len);
}

int dnssec_dnskey_verify(const uint8_t *msg, size_t len, const size_t *dnskey_offs,
			 size_t n_dnskeys, const size_t *rrsig_offs, size_t n_rrsigs,
			 const struct dnssec_trust *trust, uint32_t now,
			 struct dnssec_keys *keys_out, struct dnssec_result *out)
{
	struct dnssec_keys keys, one;
	enum dnssec_reason best = DNSSEC_NO_DS_MATCH;
	bool strong = false, any = false, alg_ok = false;
	unsigned n_matched = 0;

	if (trust == NULL || trust->n_ds + trust->n_keys == 0 || out == NULL) {
		return -EINVAL;
	}

	/* RFC 4035 §5.2, RFC 6840 §5.2: only what we cannot check is insecure, not bogus. */
	for (size_t i = 0; i < trust->n_ds; i++) {
		const struct dnssec_ds *ds = &trust->ds[i];

		if (tls_dnssec_algorithm_supported(ds->algorithm)) {
			alg_ok = true;
			if (digest_supported(ds->digest_type)) {
				any = true;
				strong |= ds->digest_type != TLS_DNSSEC_DS_SHA1;
			}
		}
	}
	for (size_t i = 0; i < trust->n_keys; i++) {
		if (tls_dnssec_algorithm_supported(trust->keys[i].algorithm)) {
			alg_ok = any = true;
		}
	}
	if (!any) {
		result_set(out, DNSSEC_INSECURE,
			   alg_ok ? DNSSEC_UNSUPPORTED_DS : DNSSEC_UNSUPPORTED_ALG);
		return 0;
	}

	if (n_dnskeys == 0 || dnssec_keys_from_rrset(msg, len, dnskey_offs, n_dnskeys, &keys) < 0) {
		result_set(out, DNSSEC_BOGUS,
			   n_dnskeys == 0 ? DNSSEC_NO_DS_MATCH : DNSSEC_MALFORMED);
		return 0;
	}

	for (size_t k = 0; k < keys.n_keys; k++) {
		const struct dnssec_key *key = &keys.key[k];
		bool matched = false;
		struct dnssec_result r;
		int ret;

		if (!key_usable(key) || !tls_dnssec_algorithm_supported(key->algorithm)) {
			continue;
		}
		for (size_t i = 0; i < trust->n_ds && !matched; i++) {
			const struct dnssec_ds *ds = &trust->ds[i];

			/* RFC 4509 §3: a SHA-1 DS is ignored when a stronger one is there. */
			if (strong && ds->digest_type == TLS_DNSSEC_DS_SHA1) {
				continue;
			}
			matched = ds_matches(ds, &keys, key);
		}
		for (size_t i = 0; i < trust->n_keys && !matched; i++) {
			matched = anchor_matches(&trust->keys[i], key);
		}
		if (!matched) {
			continue;
		}
		/* Each matching key costs up to DNSSEC_VERIFY_MAX checks: bound them (KeyTrap). */
		if (n_matched++ == DNSSEC_VERIFY_MAX) {
			best = DNSSEC_TOO_MUCH;
			break;
		}

		/* The key the parent vouches for must sign its own RRset (RFC 4035 §5.2). */
		memcpy(one.zone, keys.zone, keys.zone_len);
		one.zone_len = keys.zone_len;
		one.zone_labels = keys.zone_labels;
		one.key[0] = *key;
		one.n_keys = 1;
		ret = dnssec_rrset_verify(msg, len, dnskey_offs, n_dnskeys, rrsig_offs, n_rrsigs,
					  &one, now, &r);
		if (ret < 0) {
			return ret;
		}
		if (r.status == DNSSEC_SECURE) {
			r.key = k;
			*keys_out = keys;
			*out = r;
			return 0;
		}
		if (best == DNSSEC_NO_DS_MATCH || reason_rank(r.reason) > reason_rank(best)) {
			best = r.reason;
		}
	}
	result_set(out, DNSSEC_BOGUS, best);
	return 0;
}
