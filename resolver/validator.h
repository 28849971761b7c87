/*
 * validator: DNSSEC validation of upstream answers as a validating security-aware stub resolver
 * (RFC 4035 §4.9.3, §5; RFC 4033 §5; RFC 5155 §8; RFC 6840). It classifies a whole answer as
 * secure, insecure or bogus: every RRset of the answer's CNAME/DNAME chain by its RRSIGs, a
 * wildcard expansion and a denial of existence by their NSEC or NSEC3 proofs, and each signer's
 * keys by the chain of trust from a configured anchor down through DS and DNSKEY RRsets.
 *
 * It does no I/O. What it does not know yet it asks for: val_answer() returns the DS or DNSKEY
 * question it needs answered (struct val_need), the caller gets the answer (over the same pool
 * and cache as any query, with CD set) and hands it to val_learn(), which validates it and keeps
 * the verdict for the zone in the validator's zone cache; then the caller calls val_answer()
 * again. Each zone's DS and DNSKEY RRsets are thus validated once per TTL, and an answer from the
 * cache is never validated again (the caller caches the verdict with the answer).
 *
 * The zone cache is bounded (val_cache_new's @max zones, the oldest dropped first) and owns
 * copies of the keys and DS records; nothing of an answer is kept.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dnssec_val.h"

enum val_security {
	VAL_SECURE,   /**< every RRset validated along a chain from a trust anchor: AD */
	VAL_INSECURE, /**< a proven unsigned delegation, unsupported algorithms, no anchor, NTA */
	VAL_BOGUS,    /**< it should have validated and did not: SERVFAIL with ede */
};

/** What validation reads besides the answer. All borrowed. */
struct val_ctx {
	const struct anchors *anchors; /**< the trust anchors; NULL: nothing is secure */
	const struct config_nta *ntas; /**< negative trust anchors (RFC 7646) */
	size_t n_ntas;
	/**
	 * Forward zones: those with plain upstreams (a LAN's resolver, its private names) are not
	 * validated, as if negative trust anchors: no chain of trust reaches them.
	 */
	const struct config_zone *zones;
	size_t n_zones;
	uint32_t now;  /**< wall clock seconds, or DNSSEC_NOW_UNSET (no date checks) */
	uint64_t mono; /**< monotonic seconds: the zone cache's expiry */
};

/** The verdict on one answer. */
struct val_result {
	enum val_security sec;
	int ede;       /**< RFC 8914 INFO-CODE of a bogus answer (or of an insecure one), -1 */
	char why[160]; /**< what failed, for the log and the EDE's EXTRA-TEXT */
};

/** A question the validator needs answered before it can go on. */
struct val_need {
	uint8_t name[DNS_MAX_NAME]; /**< lower case, uncompressed wire form */
	size_t name_len;
	uint16_t qtype; /**< DNS_TYPE_DS or DNS_TYPE_DNSKEY */
};

struct val_cache;

/** A zone cache of at most @max zones (1 or more). 0, -EINVAL or -ENOMEM. */
int val_cache_new(size_t max, struct val_cache **out);

/** Free @vc and what it owns; NULL is allowed. */
void val_cache_free(struct val_cache *vc);

/** Forget every zone: the anchors or the clock changed. */
void val_cache_clear(struct val_cache *vc);

/** Zones held, and the bytes they take (keys, DS records, entries). */
size_t val_cache_count(const struct val_cache *vc);
size_t val_cache_bytes(const struct val_cache *vc);

/**
 * Classify @msg (@len bytes), an upstream's answer (RCODE NOERROR or NXDOMAIN, checked and
 * scrubbed: dns_msg_scrub()) to its own question.
 *
 * @return 0 with *@res filled; 1 with *@need filled: the zone cache lacks what is needed, ask
 *         it and call val_learn(), then this again; -ENOMEM. Malformed input is a bogus answer,
 *         never an error.
 */
int val_answer(struct val_cache *vc, const struct val_ctx *ctx, const uint8_t *msg, size_t len,
	       struct val_result *res, struct val_need *need);

/**
 * The answer @msg (@len bytes; NULL when none could be had: a timeout, SERVFAIL) to @need, as
 * val_answer() asked: validated against what the zone cache holds and its verdict kept (a zone's
 * keys, its DS set, no zone cut, an insecure delegation, or bogus). A failure to get an answer is
 * kept as bogus for a few seconds only. 0 or -ENOMEM.
 */
int val_learn(struct val_cache *vc, const struct val_ctx *ctx, const struct val_need *need,
	      const uint8_t *msg, size_t len);
