/*
 * tls_dnssec: the cryptography of DNSSEC validation (issue 12), through wolfCrypt, so that dotd
 * carries one crypto library and may use an ldns built without OpenSSL (DESIGN.md decision 11).
 * It verifies one RRSIG signature over data the caller has built, computes DS digests and key
 * tags, and says which algorithms it knows; it parses no DNS messages and keeps no state, so
 * every function may be called from any thread. No wolfSSL type appears here: tls_dnssec.c is
 * the only file that includes wolfCrypt for it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** DNSSEC algorithm numbers (RFC 4034 Appendix A.1, RFC 8624 §3.1). */
enum {
	TLS_DNSSEC_RSAMD5 = 1,		   /**< MUST NOT validate (RFC 8624 §3.1) */
	TLS_DNSSEC_DSA = 3,		   /**< MUST NOT validate */
	TLS_DNSSEC_RSASHA1 = 5,		   /**< RFC 3110 */
	TLS_DNSSEC_DSA_NSEC3_SHA1 = 6,	   /**< MUST NOT validate */
	TLS_DNSSEC_RSASHA1_NSEC3_SHA1 = 7, /**< RFC 5155: algorithm 5 under another number */
	TLS_DNSSEC_RSASHA256 = 8,	   /**< RFC 5702 */
	TLS_DNSSEC_RSASHA512 = 10,	   /**< RFC 5702 */
	TLS_DNSSEC_ECC_GOST = 12,	   /**< RFC 5933; wolfCrypt has no GOST */
	TLS_DNSSEC_ECDSAP256SHA256 = 13,   /**< RFC 6605 */
	TLS_DNSSEC_ECDSAP384SHA384 = 14,   /**< RFC 6605 */
	TLS_DNSSEC_ED25519 = 15,	   /**< RFC 8080 */
	TLS_DNSSEC_ED448 = 16,		   /**< RFC 8080 */
};

/** DS digest types (RFC 4034 §5.1.3, RFC 4509, RFC 6605). */
enum {
	TLS_DNSSEC_DS_SHA1 = 1,
	TLS_DNSSEC_DS_SHA256 = 2,
	TLS_DNSSEC_DS_GOST = 3, /**< RFC 5933: not supported */
	TLS_DNSSEC_DS_SHA384 = 4,
};

/** The largest DS digest tls_dnssec_ds_digest() writes (SHA-384). */
#define TLS_DNSSEC_DIGEST_MAX 48

/**
 * Whether tls_dnssec_verify() can check signatures of algorithm @alg with this build of
 * wolfSSL: 5, 7, 8, 10, 13, 14, 15 and 16 when wolfSSL has them. An RRSIG of an algorithm that
 * is not supported makes its zone insecure, not bogus (RFC 6840 §5.2, RFC 4035 §5.2).
 */
bool tls_dnssec_algorithm_supported(uint8_t alg);

/**
 * Verify the signature field of an RRSIG.
 *
 * @param algorithm the RRSIG's (and DNSKEY's) algorithm number
 * @param key       the DNSKEY's public key field (after flags, protocol and algorithm), in the
 *                  algorithm's wire form: RSA as RFC 3110 §2 (exponent length in 1 octet, or 0
 *                  and 2 octets; exponent; modulus), ECDSA as RFC 6605 §4 (Q = x | y, 64 or 96
 *                  octets), Ed25519 and Ed448 as RFC 8080 §3 (32 or 57 octets); borrowed
 * @param data      the signed data, built by the caller (RFC 4034 §3.1.8.1): the RRSIG RDATA
 *                  without its signature, then the RRset in canonical form and order; borrowed
 * @param sig       the RRSIG's signature field: RSA PKCS #1 v1.5 as long as the modulus (RFC
 *                  3110 §3, RFC 5702 §3), ECDSA r | s (RFC 6605 §4), EdDSA as RFC 8080 §4;
 *                  borrowed
 * @return 0 when the signature verifies; -EBADMSG when it does not; -EINVAL for a key or a
 *         signature that is malformed (a wrong length, leading zeros, an RSA modulus under
 *         1024 or over 4096 bits, an exponent over 64 bits, a point not on the curve);
 *         -ENOTSUP for an algorithm not supported (tls_dnssec_algorithm_supported());
 *         -ENOMEM. Any input is safe: lengths are checked before a byte is read.
 */
int tls_dnssec_verify(uint8_t algorithm, const uint8_t *key, size_t key_len, const uint8_t *data,
		      size_t data_len, const uint8_t *sig, size_t sig_len);

/**
 * The digest of a DS record for a DNSKEY (RFC 4034 §5.1.4): hash(owner | DNSKEY RDATA).
 *
 * @param digest_type  1 SHA-1, 2 SHA-256 (RFC 4509), 4 SHA-384 (RFC 6605)
 * @param owner_wire   the DNSKEY's owner name in canonical wire form, uncompressed, 1 to 255
 *                     octets: the caller lowercases it (RFC 4034 §6.2); borrowed
 * @param dnskey_rdata the whole DNSKEY RDATA (flags, protocol, algorithm, public key), at least
 *                     4 octets; borrowed
 * @param out          where the digest goes (TLS_DNSSEC_DIGEST_MAX octets always suffice)
 * @param out_len      in: the room at @out; out: the digest's length (20, 32 or 48)
 * @return 0; -ENOTSUP for another digest type (3, GOST, included); -EINVAL for a bad length;
 *         -ENOSPC when @out is too small; -ENOMEM. @out and @out_len are written only on
 *         success.
 */
int tls_dnssec_ds_digest(uint8_t digest_type, const uint8_t *owner_wire, size_t owner_len,
			 const uint8_t *dnskey_rdata, size_t rdata_len, uint8_t *out,
			 size_t *out_len);

/**
 * The key tag of a DNSKEY (RFC 4034 Appendix B) from its whole RDATA, algorithm 1's special
 * case (Appendix B.1) included. Any length is safe; RDATA shorter than 4 octets (no DNSKEY at
 * all) gives what the sum of its octets gives.
 */
uint16_t tls_dnssec_key_tag(const uint8_t *dnskey_rdata, size_t len);

/** NSEC3 hash algorithms (RFC 5155 §11): SHA-1 is the only one defined. */
#define TLS_DNSSEC_NSEC3_SHA1 1
/** The length of an NSEC3 SHA-1 hash. */
#define TLS_DNSSEC_NSEC3_HASH_LEN 20

/**
 * The NSEC3 hash of a name (RFC 5155 §5): IH(salt, x, 0) = H(x || salt), IH(salt, x, k) =
 * H(IH(salt, x, k - 1) || salt), and the hash is IH(salt, owner, iterations).
 *
 * @param alg             the NSEC3 hash algorithm: 1 (SHA-1) only
 * @param iterations      additional iterations, as the NSEC3 record says; the caller caps them
 *                        (RFC 9276 §3.2), this function computes whatever it is asked
 * @param salt            the salt, 0 to 255 octets (may be NULL when @salt_len is 0); borrowed
 * @param name_wire_lower the name in canonical wire form (uncompressed, lower case, RFC 4034
 *                        §6.2), 1 to 255 octets; borrowed
 * @param out             the 20-octet hash
 * @return 0; -ENOTSUP for another algorithm; -EINVAL for a bad length; -ENOMEM. @out is written
 *         only on success.
 */
int tls_dnssec_nsec3_hash(uint8_t alg, uint16_t iterations, const uint8_t *salt, size_t salt_len,
			  const uint8_t *name_wire_lower, size_t name_len, uint8_t out[20]);

/**
 * Free wolfCrypt's tables of precomputed ECC multiples (FP_ECC) of the calling thread: those
 * of the zone keys checked last (tls_dnssec_verify() keeps two) and whatever a TLS handshake
 * built. tls_conn.c calls it when a handshake ends. Nothing without FP_ECC.
 */
void tls_ecc_tables_drop(void);
