/*
 * dns_canon: the canonical form of names and RRsets and the data an RRSIG signs (RFC 4034
 * §3.1.8.1, §6.1-6.3, as corrected by RFC 6840 §5.1), read from a DNS message in wire format.
 * The validator (issue 12) hands what dns_rrsig_signed_data() builds to tls_dnssec_verify().
 *
 * Pure wire code, like dns_wire: no I/O, no allocation, no crypto; every offset is checked
 * against the end of the message, compression pointers are followed under dns_wire's rules
 * (strictly backwards, at most DNS_MAX_JUMPS, 255 octets), and out-parameters are written only
 * on success. Any input is safe: these functions run on what an upstream sent.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define DNS_TYPE_RRSIG 46

/** The most RRs one RRset may hold for dns_rrsig_signed_data(). */
#define DNS_CANON_MAX_RRS 512

/**
 * The (possibly compressed) name at @off of @msg (@len bytes) in canonical form (RFC 4034
 * §6.2): uncompressed, every US-ASCII upper-case letter lowered, root label included.
 *
 * @param out      where the name goes; DNS_MAX_NAME octets always suffice
 * @param cap      the room at @out
 * @param out_len  the name's length in octets (1 for the root)
 * @param n_labels if not NULL, the number of its labels, the root not counted (RFC 4034
 *                 §3.1.3): 0 for the root, 2 for "example.com."
 * @return 0; -EBADMSG for a malformed name (as dns_name_skip() refuses it: a label past the
 *         end, a pointer that does not point strictly backwards, so no loop, too many jumps, a
 *         reserved label type, over 255 octets); -ENOSPC when @cap is too small. @out may be
 *         written on failure; @out_len and @n_labels are written only on success.
 */
int dns_name_canonical(const uint8_t *msg, size_t len, size_t off, uint8_t *out, size_t cap,
		       size_t *out_len, unsigned *n_labels);

/**
 * The signed data of an RRSIG over an RRset (RFC 4034 §3.1.8.1): the RRSIG RDATA from the type
 * covered to the signer's name (in canonical form), the signature left out; then each RR of the
 * set as owner | type | class | the RRSIG's original TTL | RDLENGTH | RDATA, in canonical form
 * (§6.2) and order (§6.3), duplicates removed.
 *
 * Canonical form: the owner uncompressed and lowered, or, when the RRSIG's labels field is less
 * than the owner's label count, "*." and the owner's rightmost labels (RFC 4035 §5.3.2); names
 * in the RDATA of NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX, RP, AFSDB, RT, SIG, PX,
 * NXT, NAPTR, KX, SRV, DNAME, A6 and RRSIG uncompressed and lowered (RFC 4034 §6.2 as RFC 6840
 * §5.1 corrects it: not NSEC's next name, see dns_canon.c); any other RDATA as it is.
 *
 * @param rrsig_off the offset of the RRSIG RR (its owner name) in @msg
 * @param rr_offs   the offsets of the RRs of the RRset in @msg (their owner names), in any
 *                  order; each must have the RRSIG's owner (ASCII case aside), class and type
 *                  covered; borrowed
 * @param n_rrs     1 to DNS_CANON_MAX_RRS
 * @param out       where the signed data goes; it also holds, for a moment, an RR found to be
 *                  a duplicate, so @cap must leave room for one RR more than the result when
 *                  the set holds duplicates
 * @param out_len   the signed data's length
 * @return 0; -EINVAL when the message, the RRSIG or an RR is malformed or truncated, an RR is
 *         not of the RRset (another owner, class or type), or the labels field exceeds the
 *         owner's label count (RFC 4035 §5.3.1); -E2BIG for more than DNS_CANON_MAX_RRS RRs;
 *         -ENOSPC when @cap is too small. @out may be written on failure; @out_len only on
 *         success.
 */
int dns_rrsig_signed_data(const uint8_t *msg, size_t len, size_t rrsig_off, const size_t *rr_offs,
			  size_t n_rrs, uint8_t *out, size_t cap, size_t *out_len);
