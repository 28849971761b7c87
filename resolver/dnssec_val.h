/*
 * dnssec_val: the validation of one RRset by its RRSIGs (RFC 4035 §5.3) and of a zone's DNSKEY
 * RRset by a DS set or trust anchors (RFC 4035 §5.2), the steps the validator (issue 12) chains
 * from a trust anchor down to an answer. Pure functions over a DNS message in wire format: the
 * time is the caller's (seconds, RFC 4034 §3.1.5), nothing is read from a clock or a socket,
 * and the crypto is tls_dnssec's (wolfCrypt). Any input is safe: every offset is checked, and
 * a malformed record is a bogus answer, never a crash.
 *
 * Keys and DS records borrow the bytes they point to (a message, or the trust anchors): the
 * caller keeps those alive while it uses them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"
#include "dnssec_anchors.h"

#ifndef DNS_TYPE_DS
#define DNS_TYPE_DS 43 /* RFC 4034 §5 */
#endif
#define DNS_TYPE_DNSKEY 48 /* RFC 4034 §2 */

/** The most DNSKEYs one zone may have here; a larger set is refused as bogus. */
#define DNSSEC_KEYS_MAX 32
/**
 * The most signature checks one call makes. Key tags collide, and a hostile zone can make
 * every RRSIG match many keys (KeyTrap, CVE-2023-50387): past this, the RRset is bogus.
 */
#define DNSSEC_VERIFY_MAX 8

/**
 * The time to pass as @now while the system clock is not set yet (a router without a real-time
 * clock, booted with tls_unset_clock: accept_pinned): signature validity periods are not
 * checked then, and the validator forgets what it validated so once the clock is set.
 */
#define DNSSEC_NOW_UNSET 0u

/** One DNSKEY (RFC 4034 §2.1). */
struct dnssec_key {
	uint16_t flags;	      /**< ANCHOR_FLAG_ZONE, ANCHOR_FLAG_REVOKE, ANCHOR_FLAG_SEP */
	uint8_t protocol;     /**< 3, or the key is never used (RFC 4034 §2.1.2) */
	uint8_t algorithm;    /**< RFC 4034 Appendix A.1 */
	uint16_t key_tag;     /**< RFC 4034 Appendix B */
	const uint8_t *rdata; /**< borrowed: the whole RDATA (a DS digest covers it), or NULL */
	size_t rdata_len;
	const uint8_t *key; /**< borrowed: the public key field, key_len bytes */
	size_t key_len;
};

/** The DNSKEYs of one zone. */
struct dnssec_keys {
	uint8_t zone[DNS_MAX_NAME]; /**< the owner name, canonical wire form (RFC 4034 §6.2) */
	size_t zone_len;
	unsigned zone_labels; /**< its labels, the root not counted */
	struct dnssec_key key[DNSSEC_KEYS_MAX];
	size_t n_keys;
};

/** One DS record (RFC 4034 §5.1), from the parent's answer or a trust anchor. */
struct dnssec_ds {
	uint16_t key_tag;
	uint8_t algorithm;
	uint8_t digest_type;   /**< 1 SHA-1, 2 SHA-256, 4 SHA-384 supported */
	const uint8_t *digest; /**< borrowed: digest_len bytes */
	size_t digest_len;
};

/** What a zone's keys are checked against: the parent's DS set, or the trust anchors. */
struct dnssec_trust {
	const struct dnssec_ds *ds; /**< borrowed array of n_ds, or NULL */
	size_t n_ds;
	const struct dnssec_key *keys; /**< borrowed: DNSKEY anchors, trusted as they are */
	size_t n_keys;
};

enum dnssec_status {
	DNSSEC_SECURE,	 /**< a signature verified, along a chain the caller trusts */
	DNSSEC_INSECURE, /**< only algorithms or digests we do not support (RFC 6840 §5.2) */
	DNSSEC_BOGUS,	 /**< it should have validated and did not (RFC 4033 §5) */
};

/** Why: finer than the Extended DNS Error, for logs and tests. */
enum dnssec_reason {
	DNSSEC_OK,
	DNSSEC_MALFORMED,	/**< an RRSIG, DNSKEY or RR that does not parse */
	DNSSEC_MISMATCH,	/**< RRSIG owner, class or type covered not the RRset's */
	DNSSEC_SIGNER,		/**< the signer's name is not the keys' zone */
	DNSSEC_OWNER,		/**< the owner is not at or below the signer's name */
	DNSSEC_LABELS,		/**< the labels field exceeds the owner's labels */
	DNSSEC_EXPIRED,		/**< now after the expiration */
	DNSSEC_NOT_YET,		/**< now before the inception */
	DNSSEC_NO_KEY,		/**< no usable DNSKEY of that algorithm and key tag */
	DNSSEC_SIGNATURE,	/**< the signature does not verify */
	DNSSEC_NO_RRSIG,	/**< no RRSIG, or none of the zone's supported algorithms */
	DNSSEC_TOO_MUCH,	/**< DNSSEC_VERIFY_MAX checks failed, or too many keys */
	DNSSEC_UNSUPPORTED_ALG, /**< insecure: algorithms tls_dnssec does not have */
	DNSSEC_UNSUPPORTED_DS,	/**< insecure: DS digest types it does not have */
	DNSSEC_NO_DS_MATCH,	/**< no DNSKEY matches a DS or anchor */
};

/** Extended DNS Errors (RFC 8914 §4). */
enum {
	DNSSEC_EDE_UNSUPPORTED_ALG = 1,
	DNSSEC_EDE_UNSUPPORTED_DS = 2,
	DNSSEC_EDE_BOGUS = 6,
	DNSSEC_EDE_EXPIRED = 7,
	DNSSEC_EDE_NOT_YET_VALID = 8,
	DNSSEC_EDE_DNSKEY_MISSING = 9,
	DNSSEC_EDE_RRSIGS_MISSING = 10,
	DNSSEC_EDE_NSEC_MISSING = 12,
};

struct dnssec_result {
	enum dnssec_status status;
	enum dnssec_reason reason;
	int ede;	/**< RFC 8914 INFO-CODE, or -1 when SECURE */
	size_t rrsig;	/**< SECURE: the index in rrsig_offs of the RRSIG that verified */
	uint8_t labels; /**< SECURE: its labels field, for the wildcard check (RFC 4035 §5.3.4) */
	size_t key;	/**< SECURE: the index of the key that verified it */
};

/**
 * Fill @out with the DNSKEY RRs at @offs (@n of them, their owner names) of @msg: they must be
 * DNSKEYs of class IN of one owner (ASCII case aside). Keys of any flags, protocol and
 * algorithm are kept; the verifiers use only zone keys of protocol 3.
 *
 * @return 0; -EBADMSG for a malformed RR, another type, class or owner, RDATA under 4 octets;
 *         -E2BIG for more than DNSSEC_KEYS_MAX; -EINVAL for @n of 0. @out is written only on
 *         success, and borrows from @msg.
 */
int dnssec_keys_from_rrset(const uint8_t *msg, size_t len, const size_t *offs, size_t n,
			   struct dnssec_keys *out);

/**
 * The DS records at @offs (@n of them) of @msg into @out (room for @cap), their number in
 * *@n_out. @return 0; -EBADMSG for a malformed RR, another type or owner, RDATA under 5
 * octets; -E2BIG when @cap is too small. Out-parameters are written only on success.
 */
int dnssec_ds_from_rrset(const uint8_t *msg, size_t len, const size_t *offs, size_t n,
			 struct dnssec_ds *out, size_t cap, size_t *n_out);

/**
 * The trust anchors @az (resolver/dnssec_anchors.h) as a struct dnssec_trust in *@out, with
 * room for @ds_cap DS records at @ds and @keys_cap keys at @keys (borrowing from @az).
 * @return 0, or -E2BIG.
 */
int dnssec_trust_from_anchor(const struct anchor_zone *az, struct dnssec_ds *ds, size_t ds_cap,
			     struct dnssec_key *keys, size_t keys_cap, struct dnssec_trust *out);

/**
 * Validate one RRset by the RRSIGs that cover it (RFC 4035 §5.3). An RRSIG counts when its
 * owner, class and type covered are the RRset's; its signer's name is the zone of @keys and
 * the owner is at or below it; its labels field is at most the owner's labels; inception <=
 * @now <= expiration in serial number arithmetic (RFC 4034 §3.1.5, RFC 1982), so across the
 * wrap of 2^32; a DNSKEY of @keys of its algorithm and key tag is a zone key of protocol 3
 * (RFC 4035 §5.3.1) and not revoked (RFC 5011 §2.1); and its signature verifies over the signed
 * data (RFC 4034 §3.1.8.1).
 *
 * SECURE when any RRSIG counts (RFC 4035 §5.3.3). INSECURE (EDE 1) exactly when there is an
 * RRSIG, every RRSIG's algorithm is one tls_dnssec_algorithm_supported() refuses, and no zone
 * key of @keys has a supported algorithm: a zone signed with a supported algorithm signs
 * every RRset with it (RFC 4035 §2.2), so its absence is bogus (EDE 10), as is no RRSIG at
 * all. Otherwise BOGUS, with the reason of the RRSIG that came closest: a signature that did
 * not verify (EDE 6), then one outside its validity period (EDE 7, 8), then no key (EDE 9),
 * then one that does not fit the RRset or the zone (EDE 6).
 *
 * @param rr_offs    the RRs of the RRset (their owner names), 1 to DNS_CANON_MAX_RRS
 * @param rrsig_offs the RRSIGs offered for it, 0 or more
 * @param keys       the zone's keys, validated by the caller
 * @return 0 with *@out filled; -EINVAL for no RR; -ENOMEM. @out is written only on success.
 */
int dnssec_rrset_verify(const uint8_t *msg, size_t len, const size_t *rr_offs, size_t n_rrs,
			const size_t *rrsig_offs, size_t n_rrsigs, const struct dnssec_keys *keys,
			uint32_t now, struct dnssec_result *out);

/**
 * Validate a zone's DNSKEY RRset (@dnskey_offs, @n_dnskeys) with its RRSIGs against @trust
 * (RFC 4035 §5.2): a DNSKEY matches a DS by algorithm, key tag and digest (RFC 4034 §5.1.4),
 * or a DNSKEY anchor by algorithm and public key, is a zone key of protocol 3, and signs the
 * RRset (dnssec_rrset_verify() with that key alone). SHA-1 DS records are ignored when the
 * set has a supported SHA-256 or SHA-384 one (RFC 4509 §3).
 *
 * INSECURE (EDE 1 or 2) when no DS and no anchor key has both a supported algorithm and a
 * supported digest type (RFC 4035 §5.2, RFC 6840 §5.2). BOGUS with EDE 9 when no DNSKEY of the
 * set matches (or the set is empty or malformed); otherwise the result of the RRset's check.
 *
 * @param keys_out the whole DNSKEY RRset as the zone's keys, written only when SECURE
 * @return 0 with *@out filled; -EINVAL when @trust holds nothing; -ENOMEM. Out-parameters are
 *         written only on success.
 */
int dnssec_dnskey_verify(const uint8_t *msg, size_t len, const size_t *dnskey_offs,
			 size_t n_dnskeys, const size_t *rrsig_offs, size_t n_rrsigs,
			 const struct dnssec_trust *trust, uint32_t now,
			 struct dnssec_keys *keys_out, struct dnssec_result *out);
