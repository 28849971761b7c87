/*
 * dns_denial: what NSEC (RFC 4034 §4, RFC 4035 §5.4) and NSEC3 (RFC 5155 §8) records prove about
 * a name that is not in an answer: a name error, no data, a wildcard expansion, an opt-out
 * span. Pure functions over records the caller has taken from a message and whose RRSIGs it
 * has already verified: no I/O, no allocation, no state, any thread. cache/ does not include
 * wolfSSL (DESIGN.md decision 11), so the NSEC3 hash comes in as a function pointer; the
 * validator passes tls_dnssec_nsec3_hash().
 *
 * Names are uncompressed wire names in any case (each function checks them and compares them
 * in canonical order, RFC 4034 §6.1). Functions return 0 or a negative errno and write their
 * out-parameters only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_TYPE_DNAME 39
#define DNS_TYPE_DS    43
#define DNS_TYPE_NSEC  47
#define DNS_TYPE_NSEC3 50

/** The NSEC3 Opt-Out flag (RFC 5155 §3.1.2.1). */
#define DNS_NSEC3_OPTOUT 0x01
/** SHA-1, the one NSEC3 hash algorithm (RFC 5155 §11), and its length. */
#define DNS_NSEC3_SHA1	   1
#define DNS_NSEC3_HASH_LEN 20
/*
 * The most NSEC3 iterations we hash. RFC 9276 §3.2: validators SHOULD return an insecure
 * response above 100 iterations and MAY return SERVFAIL above 500 (with EDE 27, "Unsupported
 * NSEC3 Iterations Value"), and signers SHOULD use 0 iterations and no salt (§3.1).
 */
#define DNS_NSEC3_MAX_ITERATIONS 100

/** What a set of NSEC or NSEC3 records proves. */
enum dns_denial_verdict {
	DENIAL_NONE = 0, /**< nothing: the answer is bogus */
	DENIAL_NXDOMAIN, /**< the name and any wildcard that could make it do not exist */
	DENIAL_NODATA,	 /**< the name (or the wildcard matching it) lacks the type */
	DENIAL_WILDCARD, /**< a wildcard expansion was right: the name does not exist */
	DENIAL_OPTOUT,	 /**< NSEC3: the proof rests on an opt-out span: insecure */
	DENIAL_INSECURE_ITERATIONS, /**< NSEC3 iterations over DNS_NSEC3_MAX_ITERATIONS: insecure */
};

/** One NSEC record (RFC 4034 §4.1). */
struct dns_denial_nsec {
	const uint8_t *owner;  /**< owner name, uncompressed wire form; borrowed */
	size_t owner_len;      /**< its length, root label included */
	const uint8_t *next;   /**< Next Domain Name, uncompressed (RFC 4034 §4.1.1); borrowed */
	size_t next_len;       /**< its length */
	const uint8_t *bitmap; /**< Type Bit Maps field (RFC 4034 §4.1.2); borrowed */
	size_t bitmap_len;     /**< its length */
};

/** One NSEC3 record (RFC 5155 §3.1). */
struct dns_denial_nsec3 {
	const uint8_t *owner;	  /**< owner name: base32hex hash label, then the zone; borrowed */
	size_t owner_len;	  /**< its length */
	uint8_t alg;		  /**< hash algorithm */
	uint8_t flags;		  /**< DNS_NSEC3_OPTOUT or 0 */
	uint16_t iterations;	  /**< additional hash iterations */
	const uint8_t *salt;	  /**< salt; borrowed */
	uint8_t salt_len;	  /**< its length */
	const uint8_t *next_hash; /**< Next Hashed Owner Name, raw octets; borrowed */
	uint8_t hash_len;	  /**< its length: 20 for SHA-1 */
	const uint8_t *bitmap;	  /**< Type Bit Maps field; borrowed */
	size_t bitmap_len;	  /**< its length */
};

/** The NSEC3 hash: tls_dnssec_nsec3_hash()'s signature (0, -ENOTSUP, -EINVAL, -ENOMEM). */
typedef int (*dns_denial_hash_cb)(uint8_t alg, uint16_t iterations, const uint8_t *salt,
				  size_t salt_len, const uint8_t *name_wire_lower, size_t name_len,
				  uint8_t out[20]);

/**
 * Compare two uncompressed wire names in canonical DNS name order (RFC 4034 §6.1): label by
 * label from the root, each label as a string of octets with ASCII letters lower-cased. *@order
 * is negative, 0 or positive as @a sorts before, with or after @b. -EBADMSG for a malformed name.
 */
int dns_denial_name_order(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
			  int *order);

/**
 * Fill *@out from an NSEC record: @owner (uncompressed; the caller decompresses an owner name
 * from its message) and its RDATA @rdata of @rdlen octets, all borrowed. -EBADMSG when the next
 * name is malformed or compressed or the type bit maps are (RFC 4034 §4.1.2: windows in
 * increasing order, 1 to 32 octets each).
 */
int dns_denial_nsec_parse(const uint8_t *owner, size_t owner_len, const uint8_t *rdata,
			  size_t rdlen, struct dns_denial_nsec *out);

/**
 * What @n NSEC records prove about @qname and @qtype (RFC 4035 §5.4, RFC 7129): DENIAL_NXDOMAIN
 * (an NSEC covers the name and one covers the wildcard at its closest encloser), DENIAL_NODATA
 * (an NSEC matches the name and has neither the type nor CNAME; or covers the name as an empty
 * non-terminal; or the name does not exist and an NSEC matches the wildcard at its closest
 * encloser without the type), or DENIAL_NONE. For a DS query an NSEC with NS and without SOA
 * or DS proves an insecure delegation (RFC 4035 §5.2), and one with SOA (the child's) proves
 * nothing. An NSEC with NS and without SOA, or with DNAME, proves nothing about the names below
 * it, and with NS and without SOA nothing but DS at its owner (RFC 6840 §4.1).
 * 0 with *@verdict, or -EBADMSG for a malformed name or record.
 */
int dns_denial_nsec_prove(const uint8_t *qname, size_t qname_len, uint16_t qtype,
			  const struct dns_denial_nsec *nsec, size_t n,
			  enum dns_denial_verdict *verdict);

/**
 * Whether an answer to @qname synthesised from a wildcard is right (RFC 4035 §5.3.4): @labels is
 * the RRSIG's Labels field, fewer than @qname's labels, so the source of synthesis was
 * *.<the last @labels labels of qname>; an NSEC must cover @qname and show that this wildcard's
 * parent is its closest encloser. DENIAL_WILDCARD or DENIAL_NONE in *@verdict; -EBADMSG.
 */
int dns_denial_nsec_wildcard(const uint8_t *qname, size_t qname_len, uint8_t labels,
			     const struct dns_denial_nsec *nsec, size_t n,
			     enum dns_denial_verdict *verdict);

/**
 * Fill *@out from an NSEC3 record's @owner and RDATA (RFC 5155 §3.2), all borrowed. -EBADMSG when
 * the RDATA is short or long, the hash is empty or the bit maps are malformed.
 */
int dns_denial_nsec3_parse(const uint8_t *owner, size_t owner_len, const uint8_t *rdata,
			   size_t rdlen, struct dns_denial_nsec3 *out);

/**
 * What @n NSEC3 records prove about @qname and @qtype (RFC 5155 §8): records of another hash
 * algorithm or with flags other than Opt-Out are ignored (§8.1, §8.2); the rest must share
 * algorithm, iterations, salt and zone, else DENIAL_NONE; over DNS_NSEC3_MAX_ITERATIONS they give
 * DENIAL_INSECURE_ITERATIONS before any hashing. Then: DENIAL_NODATA when one matches the name
 * without the type or CNAME (§8.5, §8.6) or a closest encloser proof (§8.3) comes with a match
 * of its wildcard without the type (§8.7); DENIAL_NXDOMAIN for the proof and a cover of the
 * wildcard (§8.4); DENIAL_OPTOUT for a DS query whose next closer name is covered by an opt-out
 * NSEC3 (§8.6), and for a name error or wildcard no data whose next closer is (RFC 5155 §6:
 * an unsigned delegation may be there: the answer is insecure). @hash computes the hashes.
 * 0 with *@verdict; -EBADMSG for a malformed name or record; @hash's error.
 */
int dns_denial_nsec3_prove(dns_denial_hash_cb hash, const uint8_t *qname, size_t qname_len,
			   uint16_t qtype, const struct dns_denial_nsec3 *nsec3, size_t n,
			   enum dns_denial_verdict *verdict);

/**
 * Whether a wildcard answer to @qname with RRSIG Labels @labels is right (RFC 5155 §8.8): an
 * NSEC3 covers the next closer name, one label longer than the wildcard's parent. Parameters
 * as dns_denial_nsec3_prove(); DENIAL_WILDCARD, DENIAL_INSECURE_ITERATIONS or DENIAL_NONE.
 */
int dns_denial_nsec3_wildcard(dns_denial_hash_cb hash, const uint8_t *qname, size_t qname_len,
			      uint8_t labels, const struct dns_denial_nsec3 *nsec3, size_t n,
			      enum dns_denial_verdict *verdict);

/**
 * Whether the records show @qname to be a zone cut seen from the parent: an NSEC at @qname, or
 * an NSEC3 matching it, with NS and without SOA (RFC 4035 §5.2, RFC 5155 §8.6). A validator
 * walking down from a trust anchor asks this of a DS no-data answer that
 * dns_denial_*_prove() accepted: a cut without DS is an insecure delegation, any other name is
 * just a name inside the parent zone. *@cut false when no record is at @qname (an empty
 * non-terminal, a wildcard's no data, an opt-out span). 0 or -EBADMSG, or @hash's error.
 */
int dns_denial_delegation(dns_denial_hash_cb hash, const uint8_t *qname, size_t qname_len,
			  const struct dns_denial_nsec *nsec, size_t n_nsec,
			  const struct dns_denial_nsec3 *nsec3, size_t n_nsec3, bool *cut);
