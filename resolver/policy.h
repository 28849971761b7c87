/*
 * policy: where a question goes, decided once per query between the query check and the
 * cache, by the longest zone that holds its name: answered here (the special-use zones of RFC
 * 6761, RFC 6762, RFC 8375, RFC 9462 and RFC 6303), or sent to an upstream group (a forward
 * zone's, or the default one). The hosts file and the block lists are looked at after it
 * (query.c): they are per name, not per zone.
 *
 * The zones are a trie over reversed labels (the root at the top, "arpa", then "in-addr",
 * ...), each node's children sorted by label for a binary search: a lookup costs one step per
 * label of the name, whatever the number of zones. A struct policy is immutable once built; a
 * configuration snapshot owns one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

enum policy_action {
	POLICY_FORWARD,	  /**< to upstream group `group` (0: the default upstreams) */
	POLICY_NXDOMAIN,  /**< a special-use zone that has no names: NXDOMAIN with its SOA */
	POLICY_NODATA,	  /**< a zone that exists but holds nothing asked here: NODATA */
	POLICY_LOCALHOST, /**< localhost and below (RFC 6761 §6.3): 127.0.0.1 and ::1 */
};

/** What a zone of the policy says. */
struct policy_zone {
	enum policy_action action;
	size_t group;	     /**< POLICY_FORWARD: the index of the snapshot's upstream group */
	const uint8_t *apex; /**< the zone's name, wire format, lower case (owned by the policy) */
	size_t apex_len;     /**< with the root label */
	bool special;	     /**< a built-in special-use zone (for statistics) */
};

struct policy;

/**
 * The policy of @cfg: the special-use zones unless special_use_zones is 0, except those at or
 * under a forward zone (a forward zone for "lan." or "168.192.in-addr.arpa." claims its names
 * from the built-in list; the root zone claims none), then each forward zone with its group
 * (its index in cfg->zones plus one). 0 or -ENOMEM.
 */
int policy_new(const struct config *cfg, struct policy **out);

void policy_free(struct policy *p);

/**
 * The zone for @name (wire format, uncompressed, any case, @len bytes with the root label):
 * the longest one that holds it. Never NULL: the root is the default group.
 */
const struct policy_zone *policy_lookup(const struct policy *p, const uint8_t *name, size_t len);

/** Zones in the policy (the root included), for logs and tests. */
size_t policy_count(const struct policy *p);

/**
 * Add a zone (for tests and policy_new): @apex wire format, any case. An apex given twice
 * keeps the first. 0, -EINVAL for a malformed name, -ENOMEM.
 */
int policy_add(struct policy *p, const uint8_t *apex, size_t len, const struct policy_zone *z);

/** An empty policy: everything goes to the default group. */
int policy_new_empty(struct policy **out);
