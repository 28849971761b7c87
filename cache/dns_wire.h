/*
 * dns_wire: reading DNS messages in wire format (RFC 1035 §4.1) without copying or allocating.
 *
 * Everything here checks every offset against the end of the message: names (label lengths,
 * compression pointers that must point strictly backwards, a cap on jumps, the 255-octet limit,
 * RFC 9267), record counts and RDLENGTHs. Functions return 0 or a negative errno (-EBADMSG for
 * malformed input) and write their out-parameters only on success. No I/O, no allocation: this
 * code runs on both the cache-hit path and on hostile input.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN	12
#define DNS_MAX_NAME	255 /* octets in wire form, root label included (RFC 1035 §3.1) */
#define DNS_MAX_LABEL	63
#define DNS_MAX_MSG	65535 /* the 2-byte length prefix of RFC 7766 §8 */
#define DNS_MAX_JUMPS	64    /* compression pointers followed per name (RFC 9267 §2) */
#define DNS_UDP_MIN	512 /* RFC 1035 §4.2.1, and the floor of an EDNS size (RFC 6891 §6.2.3) */
#define DNS_MAX_RECORDS 4096 /* records per message accepted (rfc-checklist C16) */

/* Header flag bits (second 16-bit word). */
#define DNS_QR 0x8000
#define DNS_AA 0x0400
#define DNS_TC 0x0200
#define DNS_RD 0x0100
#define DNS_RA 0x0080
#define DNS_Z  0x0040
#define DNS_AD 0x0020
#define DNS_CD 0x0010

#define DNS_OPCODE_QUERY 0

#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_FORMERR  1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP   4
#define DNS_RCODE_REFUSED  5
#define DNS_RCODE_BADVERS  16 /* extended: upper 8 bits in the OPT TTL (RFC 6891 §6.1.3) */

#define DNS_TYPE_A     1
#define DNS_TYPE_NS    2
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA   6
#define DNS_TYPE_PTR   12
#define DNS_TYPE_MX    15
#define DNS_TYPE_TXT   16
#define DNS_TYPE_AAAA  28
#define DNS_TYPE_OPT   41
#define DNS_TYPE_TSIG  250
#define DNS_TYPE_IXFR  251
#define DNS_TYPE_AXFR  252

#define DNS_CLASS_IN 1
#define DNS_CLASS_CH 3

#define DNS_EDNS_DO 0x8000 /* in the OPT flags (RFC 3225) */

/* EDNS(0) option codes. */
#define DNS_OPT_ECS	  8  /* RFC 7871 */
#define DNS_OPT_KEEPALIVE 11 /* RFC 7828 */
#define DNS_OPT_PADDING	  12 /* RFC 7830 */
#define DNS_OPT_EDE	  15 /* RFC 8914 */

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Header fields; the caller has checked that the message holds a header. */
static inline uint16_t dns_id(const uint8_t *m)
{
	return dns_get16(m);
}

static inline uint16_t dns_flags(const uint8_t *m)
{
	return dns_get16(m + 2);
}

static inline unsigned dns_opcode(const uint8_t *m)
{
	return (dns_flags(m) >> 11) & 0xf;
}

static inline unsigned dns_rcode(const uint8_t *m)
{
	return dns_flags(m) & 0xf;
}

static inline uint16_t dns_qdcount(const uint8_t *m)
{
	return dns_get16(m + 4);
}

static inline uint16_t dns_ancount(const uint8_t *m)
{
	return dns_get16(m + 6);
}

static inline uint16_t dns_nscount(const uint8_t *m)
{
	return dns_get16(m + 8);
}

static inline uint16_t dns_arcount(const uint8_t *m)
{
	return dns_get16(m + 10);
}

/**
 * Check the (possibly compressed) name at @off of @msg (@len bytes) and store in *@next the
 * offset just past it in the message (past the first pointer if compressed). -EBADMSG when a
 * label runs past the end, a pointer does not point strictly backwards, too many jumps are
 * taken, a label type is reserved (0x40, 0x80) or the name exceeds 255 octets.
 */
int dns_name_skip(const uint8_t *msg, size_t len, size_t off, size_t *next);

/** The question of a message. A question name is never compressed (nothing precedes it). */
struct dns_question {
	size_t name_off; /**< always DNS_HDR_LEN */
	size_t name_len; /**< wire length of the name, root label included */
	uint16_t qtype;
	uint16_t qclass;
	size_t end; /**< offset just past QCLASS */
};

/**
 * Parse the single question of @msg. -EBADMSG if QDCOUNT is not 1 or the question is malformed
 * or compressed.
 */
int dns_question_parse(const uint8_t *msg, size_t len, struct dns_question *q);

/**
 * Whether two questions in wire form (name, type, class: the bytes from DNS_HDR_LEN to
 * question.end) are the same: equal lengths, and equal bytes with ASCII letters compared
 * case-insensitively (RFC 4343 §3). Bytes of 0x80 and above compare exactly.
 */
bool dns_question_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/** One resource record, as offsets into its message. */
struct dns_rr {
	size_t off; /**< start of the owner name */
	uint16_t type;
	uint16_t rclass;
	size_t ttl_off; /**< offset of the 32-bit TTL */
	uint16_t rdlen;
	size_t rdata_off;
	size_t end;  /**< offset just past RDATA */
	int section; /**< 1 answer, 2 authority, 3 additional */
};

/** A cursor over the records of a message, section by section. */
struct dns_walk {
	const uint8_t *msg;
	size_t len;
	size_t off;
	int section;
	unsigned left[4]; /**< records left in each section; [0] unused */
};

/** Start a walk after the question section; -EBADMSG if the header or questions are bad. */
int dns_walk_init(struct dns_walk *w, const uint8_t *msg, size_t len);

/** The next record in *@rr: 1 when one was read, 0 at the end, -EBADMSG if malformed. */
int dns_walk_next(struct dns_walk *w, struct dns_rr *rr);

/** The EDNS(0) OPT record of a message (RFC 6891 §6.1). */
struct dns_opt {
	bool present;
	size_t off;	   /**< start of the OPT RR */
	size_t end;	   /**< just past it */
	uint16_t udp_size; /**< requestor's payload size (CLASS) */
	uint8_t ext_rcode; /**< upper 8 bits of the 12-bit RCODE */
	uint8_t version;
	uint16_t flags; /**< DO and Z */
	size_t rdata_off;
	uint16_t rdlen;
	bool last; /**< it is the last record of the message */
	bool tsig; /**< the message carries a TSIG record (type 250) somewhere */
};

/**
 * Walk the whole of @msg, checking every record, and find its OPT record. -EBADMSG when a
 * record is malformed, the message has bytes past its last record, there are two OPT
 * records, or an OPT is outside the additional section or not owned by the root (RFC 6891
 * §6.1.1). A message without OPT gives opt->present == false.
 */
int dns_opt_find(const uint8_t *msg, size_t len, struct dns_opt *opt);

/**
 * The length of the message that starts @msg: the end of its last record as the header counts
 * them, which may be less than @len when bytes follow. -EBADMSG when a record is malformed.
 */
int dns_msg_length(const uint8_t *msg, size_t len, size_t *out);

/**
 * dns_msg_length() and dns_opt_find() in one walk, for a message whose question section ends
 * at @off (dns_question_parse()'s q.end): *@end is the end of its last record and *@opt its
 * OPT record, as dns_opt_find() finds it in the first *@end bytes. -EBADMSG as they fail.
 */
int dns_records_scan(const uint8_t *msg, size_t len, size_t off, struct dns_opt *opt, size_t *end);

/**
 * Find option @code in the RDATA of @opt; store its data offset and length. -ENOENT if absent,
 * -EBADMSG if the option list is malformed.
 */
int dns_opt_option(const uint8_t *msg, const struct dns_opt *opt, uint16_t code, size_t *data_off,
		   uint16_t *data_len);

#define DNS_OPT_FIXED_LEN 11 /* an OPT record without options: root, type, class, TTL, RDLENGTH */

/**
 * Write an OPT record at @p announcing @udp_size, with @ext_rcode (the upper 8 bits of a 12-bit
 * RCODE), version 0, DO as given and Z clear (RFC 6891 §6.1.4), and RDLENGTH @rdlen for the
 * options the caller writes after it. Returns DNS_OPT_FIXED_LEN.
 */
size_t dns_opt_write(uint8_t *p, uint16_t udp_size, uint8_t ext_rcode, bool do_bit, uint16_t rdlen);

/**
 * Copy every option @code of @opt (in @msg) to @out, at most @room bytes, whole options only;
 * returns the bytes written. Stops at an option that overruns the OPT (upstream input).
 */
size_t dns_opt_copy_options(const uint8_t *msg, const struct dns_opt *opt, uint16_t code,
			    uint8_t *out, size_t room);

/**
 * Cut the answer @m (*@len bytes, question ending at @qend) to its header, question and the OPT
 * record of @opt_len bytes at @opt_off (0 for none), with TC set and the record counts to match
 * (RFC 2181 §9, RFC 6891 §7). Options of the OPT are dropped.
 */
void dns_truncate(uint8_t *m, size_t *len, size_t qend, size_t opt_off, size_t opt_len);

/**
 * Whether the (possibly compressed) names at @a_off in @a and @b_off in @b are the same,
 * ASCII case-insensitively (RFC 4343). Both messages must have been checked (dns_opt_find());
 * a malformed name compares unequal.
 */
bool dns_name_equal(const uint8_t *a, size_t a_len, size_t a_off, const uint8_t *b, size_t b_len,
		    size_t b_off);

/**
 * Accept @ans (@len bytes) as the answer to @query, whose question ends at @qend: a response
 * (QR), with the query's ID, and the same question compared byte for byte but for ASCII case
 * (never a hash, RFC 5452 §9.1); one without a question (FORMERR) matches by ID alone (RFC
 * 7766 §7). Every record is then checked (dns_opt_find(), which fills *@opt), and a TSIG
 * record refused: our queries are not signed, so no answer to them may be (RFC 8945 §5.3).
 * 0, or -EBADMSG.
 */
int dns_answer_check(const uint8_t *query, size_t qend, const uint8_t *ans, size_t len,
		     struct dns_opt *opt);

/**
 * Whether reading the (possibly compressed) name at @off of @msg stays clear of every octet
 * marked in @bitmap (bit i of byte i / 8 for offset i). A checked message may still hold a name
 * whose labels run across the fixed fields of another record (a hostile upstream's compression
 * trick): then a rewrite of those fields (TTLs, by the cache) would change the name.
 */
bool dns_name_avoids(const uint8_t *msg, size_t len, size_t off, const uint8_t *bitmap);

/** The offset of the first name in the RDATA of a record of @type, or -1 if it holds none. */
int dns_rdata_name_offset(uint16_t type);
