/*
 * dns_msg: the messages dotd writes, built from the ones it reads. Pure functions on wire format,
 * no I/O. The client's leg and the upstream's leg each get their own header fields and their own
 * OPT record (EDNS is hop-by-hop, RFC 6891 §6.1.1): nothing of the client's options reaches
 * the upstream (no ECS, no cookies) and nothing of the upstream's (padding, keepalive) reaches the
 * client.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

#define DNS_MSG_UDP_MAX 1232 /* our UDP answer limit and advertised size (DNS Flag Day 2020) */

/** What a client asked, as far as building its answer needs. */
struct dns_client_query {
	const uint8_t *msg; /**< borrowed: the client's query */
	size_t len;
	struct dns_question q; /**< its question */
	bool has_opt;	       /**< it carried an OPT record */
	bool do_bit;	       /**< DNSSEC OK (RFC 3225) */
	uint16_t udp_size;     /**< its EDNS payload size, if has_opt */
};

/** How queries to upstreams are dressed. */
struct dns_upstream_opts {
	unsigned padding_blocksize; /**< RFC 8467 §4.1 block padding; 0 for none */
	bool ecs_private;	    /**< add ECS with source prefix 0 (RFC 7871 §7.1.2) */
	bool keepalive;		    /**< add edns-tcp-keepalive, empty (RFC 7828 §3.2.1) */
	bool validate;		    /**< dotd validates: DO and CD set (RFC 4035 §4.9.3) */
};

enum dns_check {
	DNS_CHECK_OK,	  /**< forward it */
	DNS_CHECK_DROP,	  /**< no answer at all: shorter than a header, or QR set */
	DNS_CHECK_ANSWER, /**< answer at once with *rcode (FORMERR, NOTIMP, REFUSED, BADVERS) */
};

/**
 * Check a client's query and fill *@cq. DNS_CHECK_ANSWER gives the RCODE of the answer to send
 * in *@rcode (possibly extended: DNS_RCODE_BADVERS).
 */
enum dns_check dns_msg_check_query(const uint8_t *msg, size_t len, struct dns_client_query *cq,
				   unsigned *rcode);

/** Room for dns_msg_question()'s query. */
#define DNS_MSG_QUESTION_MAX (DNS_HDR_LEN + DNS_MAX_NAME + 4 + DNS_OPT_FIXED_LEN)

/**
 * Write a query of dotd's own into @out (DNS_MSG_QUESTION_MAX octets): ID 0, header @flags,
 * the one question @name (uncompressed wire form, at most DNS_MAX_NAME octets) @qtype IN, and,
 * with @opt_do, an OPT record with DO set (RFC 3225). Returns its length.
 */
size_t dns_msg_question(uint8_t *out, uint16_t flags, const uint8_t *name, size_t name_len,
			uint16_t qtype, bool opt_do);

/**
 * Write the query for the upstream into @out (@cap bytes), with its 2-octet length prefix (RFC
 * 7766 §8): a header with ID 0 (tls/ sets it) and the client's RD, CD and AD bits, the question,
 * and an OPT of ours (DO copied, ECS /0 and keepalive if asked, padding last, RFC 7830 §3). -ENOSPC
 * if it does not fit.
 */
int dns_msg_upstream_query(const struct dns_client_query *cq, const struct dns_upstream_opts *o,
			   uint8_t *out, size_t cap, size_t *out_len);

/** The length dns_msg_upstream_query() writes for @cq and @o, its prefix included; 0: too long. */
size_t dns_msg_upstream_query_len(const struct dns_client_query *cq,
				  const struct dns_upstream_opts *o);

/**
 * Write the client's answer from the upstream's @ans (whose OPT, found by dns_opt_find(), is
 * @aopt): the client's ID and question spelling, an OPT of ours only if the client sent one
 * (DO echoed, the upstream's extended RCODE and Extended DNS Errors kept), and cut to @max_len
 * with TC set when longer (RFC 1035 §4.2.1, RFC 6891 §7). @out must hold @alen + 64 bytes.
 */
int dns_msg_client_answer(const struct dns_client_query *cq, const uint8_t *ans, size_t alen,
			  const struct dns_opt *aopt, size_t max_len, uint8_t *out, size_t cap,
			  size_t *out_len);

/**
 * Write an answer made here with @rcode (extended allowed) for the client's query: the header with
 * its ID, its question if it had a readable one, and an OPT if it sent one, carrying an Extended
 * DNS Error (RFC 8914) when @ede >= 0, with @ede_text (may be NULL).
 */
int dns_msg_error(const struct dns_client_query *cq, unsigned rcode, int ede, const char *ede_text,
		  uint8_t *out, size_t cap, size_t *out_len);

/**
 * Keep in the answer section of the upstream's @ans only what answers its question: the CNAME
 * chain from the question's name and the records of the type asked (with their RRSIGs) at the
 * chain's end, in chain order (rfc-checklist C13, C14; glibc needs CNAMEs first). Records of
 * other names or types there are dropped, so they are neither cached nor served as answers.
 * *@out_len is 0 when @ans is fine as it is, else the rebuilt message (made with ldns, the rare
 * path) is in @out. -EBADMSG if it cannot be rebuilt, -ELIBACC if ldns cannot be loaded.
 */
int dns_msg_scrub(const uint8_t *ans, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/**
 * Write the validated answer @ans for the cache and its clients into @out (@cap bytes): AD set
 * when @ad (secure) and clear otherwise, CD clear (it was ours, RFC 4035 §4.9.3); the DNSSEC
 * records (RRSIG, NSEC, NSEC3, unless of the type asked) only when @keep_dnssec, the clients having
 * set DO (RFC 4035 §3.2.1); of the authority section only the SOA of a negative answer and the
 * DNSSEC records that prove it or a wildcard; nothing of the additional section but OPT: what was
 * not validated does not go out under AD (RFC 4035 §3.2.3). 0, -ENOSPC or -EBADMSG.
 */
int dns_msg_dnssec_filter(const uint8_t *ans, size_t len, bool ad, bool keep_dnssec, uint8_t *out,
			  size_t cap, size_t *out_len);

/** The largest UDP answer the client can take: 512, or its EDNS size, at most 1232. */
size_t dns_msg_udp_limit(const struct dns_client_query *cq);

/* Extended DNS Error codes used (RFC 8914 §4). */
#define DNS_EDE_OTHER		     0
#define DNS_EDE_DNSSEC_BOGUS	     6
#define DNS_EDE_DNSSEC_INDETERMINATE 5
#define DNS_EDE_NOT_SUPPORTED	     21
#define DNS_EDE_NO_REACHABLE	     22
#define DNS_EDE_NETWORK_ERROR	     23
#define DNS_EDE_PROHIBITED	     18
#define DNS_EDE_BLOCKED		     15

/** One record of an answer made here: its owner is the question's name. */
struct dns_local_rr {
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rdata; /**< borrowed; a name in it is uncompressed */
	uint16_t rdlen;
};

/**
 * Write an answer made here (a local zone, the hosts file, a blocked name): @rcode, AA set when
 * @aa, the @n_ans records of @ans in the answer section under the client's spelling of the name
 * (a pointer to its question), and, when @soa_zone is not NULL, an SOA of that zone (wire, lower
 * case) in the authority section with @soa_ttl as its TTL and minimum (RFC 2308 §3: a negative
 * answer carries the SOA that says how long to keep it). An OPT if the client sent one, with
 * an Extended DNS Error when @ede >= 0. The answer is cut with TC set past @max_len.
 * 0, or -ENOSPC.
 */
int dns_msg_local(const struct dns_client_query *cq, unsigned rcode, bool aa,
		  const struct dns_local_rr *ans, size_t n_ans, const uint8_t *soa_zone,
		  size_t soa_zone_len, uint32_t soa_ttl, int ede, const char *ede_text,
		  size_t max_len, uint8_t *out, size_t cap, size_t *out_len);
