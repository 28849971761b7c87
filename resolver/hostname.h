/*
 * hostname: the addresses of host name upstreams (tls://dns.quad9.net), looked up when they are
 * configured and again when the records' TTL runs out (resolver/hostname.c).
 *
 * A lookup asks A and AAAA of one upstream at a time, in this order: the upstreams configured
 * with an address (the default ones, then the forward zones'), then the host name upstreams
 * already resolved, over TLS, those not backed off first; and only when no upstream is
 * configured with an address, the bootstrap servers last, in plain DNS. The upstream keeps its
 * addresses until a lookup gives others: a failed one is tried again, 5 s doubling to 5 min.
 * A reload that keeps an upstream keeps its addresses and its schedule.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tls.h"

struct resolver;

#define HOSTNAME_MAX_ADDRS TLS_UPSTREAM_MAX_ADDRS
#define HOSTNAME_TTL_MIN   30	 /* s: a lookup at most this often, whatever the TTL */
#define HOSTNAME_TTL_MAX   86400 /* s: and at least once a day */
#define HOSTNAME_RETRY_MIN 5	 /* s: the first retry after a failed lookup, doubling */
#define HOSTNAME_RETRY_MAX 300	 /* s: up to this */

/**
 * Follow r->snap (resolver_start(), and resolver_reload() while the old snapshot still lives):
 * start looking up each host name upstream that is new, keep the lookups of those kept (a
 * lookup under way starts again with the new upstreams), stop those of the others. Bootstrap
 * servers are opened when needed, kept while listed. 0, or -ENOMEM (some lookup is missing).
 */
int hostname_apply(struct resolver *r);

/**
 * Stop every lookup (resolver_stop(), before the snapshot is let go): queries in flight are
 * cancelled and the timers and bootstrap upstreams closed; what is left is freed by their close
 * callbacks, after which uv_run() may return.
 */
void hostname_stop(struct resolver *r);

/**
 * The network changed (resolver_network_event()): a lookup that failed and waits to try again
 * tries now, rather than after a retry delay earned while the network was down; the
 * bootstrap upstreams' backoff is cleared. Lookups under way or waiting for a TTL are left.
 */
void hostname_network_changed(struct resolver *r);

/** What one answer gave. */
struct hostname_found {
	struct sockaddr_storage addrs[HOSTNAME_MAX_ADDRS]; /**< with the upstream's port */
	size_t n_addrs;
	uint32_t ttl; /**< the smallest TTL of the records used (CNAMEs too); UINT32_MAX if none */
};

/**
 * Read the answer @msg (@len bytes, every record checked by tls/) to an A or AAAA question: the
 * records of that type and class IN owned by the question's name, or by the end of its CNAME
 * chain (RFC 1034 §3.6.2), in the answer section. Anything else is ignored: records of other
 * names, types, classes or sections, which a hostile or confused server may add. Addresses get
 * @port (network byte order); duplicates and unspecified ones (0.0.0.0, ::) are dropped, and at
 * most HOSTNAME_MAX_ADDRS kept. 0 with *@out filled (no address: NODATA); -ENOENT for NXDOMAIN;
 * -EREMOTEIO for another RCODE; -ELOOP for a chain longer than 8 links (a loop); -EBADMSG for a
 * truncated answer or one without an A or AAAA question.
 */
int hostname_answer_parse(const uint8_t *msg, size_t len, uint16_t port,
			  struct hostname_found *out);

/** How long addresses whose records have TTL @ttl are kept: @ttl in [30 s, 1 day]. */
unsigned hostname_refresh_s(uint32_t ttl);

/** The delay before a lookup that failed @failures times in a row (1, 2...) is tried again. */
unsigned hostname_retry_s(unsigned failures);
