/*
 * policy: the zone trie (policy.h). Each node is one label below its parent; a node with a
 * zone ends a zone's apex. A lookup walks the name's labels from the last (the TLD) and keeps
 * the deepest zone met: the longest suffix wins.
 *
 * The built-in special-use zones (special_use_zones: 1), as Unbound and Knot Resolver keep
 * them from leaving:
 *   localhost              RFC 6761 §6.3: loopback addresses, here
 *   local                  RFC 6762 §3: mDNS names, never unicast DNS
 *   invalid                RFC 6761 §6.4
 *   onion                  RFC 7686 §2: NXDOMAIN
 *   home.arpa              RFC 8375: a home network's names, not the world's
 *   resolver.arpa          RFC 9462 §3: exists (NODATA); dotd publishes no DDR records
 *   the reverse zones of RFC 6303 §4 (RFC 1918, 0/8, 127/8, 169.254/16, the documentation
 *   ranges, 255.255.255.255, ::, ::1, fd00::/8, fe80::/10, 2001:db8::/32) and of RFC 6598's
 *   100.64/10 (RFC 7793)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns_wire.h"
#include "log.h"
#include "policy.h"

#define MAX_LABELS 128

struct pnode {
	uint8_t label[63]; /**< lower case */
	uint8_t label_len;
	struct pnode **kids; /**< owned, sorted by (length, bytes) */
	size_t n_kids, cap;
	struct policy_zone *zone; /**< owned, or NULL: no zone's apex here */
};

struct policy {
	struct pnode root;
	size_t n_zones;
};

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static int label_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen) {
		return alen < blen ? -1 : 1;
	}
	return memcmp(a, b, alen);
}

/* The child of @n with @label (lower case), or where it would go in *@at. */
static struct pnode *kid_find(const struct pnode *n, const uint8_t *label, size_t len, size_t *at)
{
	size_t lo = 0, hi = n->n_kids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pnode *k = n->kids[mid];
		int c = label_cmp(k->label, k->label_len, label, len);

		if (c == 0) {
			return n->kids[mid];
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (at) {
		*at = lo;
	}
	return NULL;
}

static struct pnode *kid_add(struct pnode *n, const uint8_t *label, size_t len)
{
	struct pnode *k;
	size_t at = 0;

	k = kid_find(n, label, len, &at);
	if (k) {
		return k;
	}
	if (n->n_kids == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 4;
		struct pnode **kids = realloc(n->kids, cap * sizeof(*kids));

		if (!kids) {
			return NULL;
		}
		n->kids = kids;
		n->cap = cap;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		return NULL;
	}
	memcpy(k->label, label, len);
	k->label_len = (uint8_t)len;
	memmove(n->kids + at + 1, n->kids + at, (n->n_kids - at) * sizeof(*n->kids));
	n->kids[at] = k;
	n->n_kids++;
	return k;
}

/*
 * The offsets of @name's labels in *@offs (at most MAX_LABELS, the root label not counted);
 * the number, or -1 if @name is not a well-formed uncompressed name of @len bytes.
 */
static int labels_of(const uint8_t *name, size_t len, size_t offs[MAX_LABELS])
{
	size_t pos = 0;
	int n = 0;

	while (pos < len && name[pos] != 0) {
		if (name[pos] > 63 || n == MAX_LABELS || pos + 1 + name[pos] >= len) {
			return -1;
		}
		offs[n++] = pos;
		pos += 1 + (size_t)name[pos];
	}
	return pos + 1 == len ? n : -1;
}

int policy_add(struct policy *p, const uint8_t *apex, size_t len, const struct policy_zone *z)
{
	size_t offs[MAX_LABELS];
	struct pnode *n = &p->root;
	uint8_t *copy;
	int count = labels_of(apex, len, offs);

	if (count < 0) {
		return -EINVAL;
	}
	for (int i = count - 1; i >= 0; i--) {
		uint8_t label[63];
		size_t llen = apex[offs[i]];

		for (size_t j = 0; j < llen; j++) {
			label[j] = lower(apex[offs[i] + 1 + j]);
		}
		n = kid_add(n, label, llen);
		if (!n) {
			return -ENOMEM;
		}
	}
	if (n->zone) {
		return 0; /* the first one given stays */
	}
	n->zone = calloc(1, sizeof(*n->zone));
	copy = malloc(len);
	if (!n->zone || !copy) {
		free(n->zone);
		n->zone = NULL;
		free(copy);
		return -ENOMEM;
	}
	for (size_t j = 0; j < len; j++) {
		copy[j] = lower(apex[j]);
	}
	*n->zone = *z;
	n->zone->apex = copy;
	n->zone->apex_len = len;
	p->n_zones++;
	return 0;
}

const struct policy_zone *policy_lookup(const struct policy *p, const uint8_t *name, size_t len)
{
	size_t offs[MAX_LABELS];
	const struct pnode *n = &p->root;
	const struct policy_zone *best = p->root.zone;
	int count = labels_of(name, len, offs);

	for (int i = count - 1; i >= 0 && n; i--) {
		uint8_t label[63];
		size_t llen = name[offs[i]];

		for (size_t j = 0; j < llen; j++) {
			label[j] = lower(name[offs[i] + 1 + j]);
		}
		n = kid_find(n, label, llen, NULL);
		if (n && n->zone) {
			best = n->zone;
		}
	}
	return best;
}

size_t policy_count(const struct policy *p)
{
	return p->n_zones;
}

static void node_free(struct pnode *n)
{
	for (size_t i = 0; i < n->n_kids; i++) {
		node_free(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	if (n->zone) {
		free((uint8_t *)n->zone->apex);
		free(n->zone);
	}
}

void policy_free(struct policy *p)
{
	if (!p) {
		return;
	}
	node_free(&p->root);
	free(p);
}

int policy_new_empty(struct policy **out)
{
	static const uint8_t root[] = {0};
	struct policy_zone z = {.action = POLICY_FORWARD, .group = 0};
	struct policy *p = calloc(1, sizeof(*p));
	int ret;

	if (!p) {
		return -ENOMEM;
	}
	ret = policy_add(p, root, sizeof(root), &z);
	if (ret != 0) {
		policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

/* "home.arpa." to wire format in @out (at least 255 bytes); its length, or 0. */
static size_t text_to_wire(const char *text, uint8_t *out)
{
	size_t pos = 0;

	while (*text) {
		const char *dot = strchr(text, '.');
		size_t n = dot ? (size_t)(dot - text) : strlen(text);

		if (n == 0 || n > 63 || pos + n + 2 > DNS_MAX_NAME) {
			return 0;
		}
		out[pos] = (uint8_t)n;
		memcpy(out + pos + 1, text, n);
		pos += n + 1;
		text += n + (dot ? 1 : 0);
	}
	out[pos] = 0;
	return pos + 1;
}

/* Whether zone @a (wire, lower case) is @b or under it; the root is under nothing here. */
static bool wire_at_or_under(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t offs[MAX_LABELS];
	int n = labels_of(a, alen, offs);

	if (blen <= 1) {
		return false;
	}
	if (blen == alen) {
		return memcmp(a, b, alen) == 0;
	}
	for (int i = 0; i < n; i++) {
		if (alen - offs[i] == blen && memcmp(a + offs[i], b, blen) == 0) {
			return true;
		}
	}
	return false;
}

static int special_add(struct policy *p, const struct config *cfg, const char *text,
		       enum policy_action action)
{
	uint8_t wire[DNS_MAX_NAME + 1];
	size_t len = text_to_wire(text, wire);
	struct policy_zone z = {.action = action, .special = true};

	REQUIRE(len > 0);
	for (size_t i = 0; i < cfg->n_zones; i++) {
		if (wire_at_or_under(wire, len, cfg->zones[i].zone_wire,
				     cfg->zones[i].zone_wire_len)) {
			return 0; /* claimed by a forward zone */
		}
	}
	return policy_add(p, wire, len, &z);
}

static int specials_add(struct policy *p, const struct config *cfg)
{
	static const char *const nxdomain[] = {
		"local",
		"invalid",
		"onion",
		"home.arpa",
		"10.in-addr.arpa",
		"168.192.in-addr.arpa",
		"0.in-addr.arpa",
		"127.in-addr.arpa",
		"254.169.in-addr.arpa",
		"2.0.192.in-addr.arpa",
		"100.51.198.in-addr.arpa",
		"113.0.203.in-addr.arpa",
		"255.255.255.255.in-addr.arpa",
		"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
		"d.f.ip6.arpa",
		"8.e.f.ip6.arpa",
		"9.e.f.ip6.arpa",
		"a.e.f.ip6.arpa",
		"b.e.f.ip6.arpa",
		"8.b.d.0.1.0.0.2.ip6.arpa",
	};
	char name[64];
	int ret = special_add(p, cfg, "localhost", POLICY_LOCALHOST);

	if (ret == 0) {
		ret = special_add(p, cfg, "resolver.arpa", POLICY_NODATA);
	}
	for (size_t i = 0; ret == 0 && i < sizeof(nxdomain) / sizeof(nxdomain[0]); i++) {
		ret = special_add(p, cfg, nxdomain[i], POLICY_NXDOMAIN);
	}
	/* 172.16.0.0/12 (RFC 1918) and 100.64.0.0/10 (RFC 6598), one zone per second octet. */
	for (unsigned o = 16; ret == 0 && o <= 31; o++) {
		snprintf(name, sizeof(name), "%u.172.in-addr.arpa", o);
		ret = special_add(p, cfg, name, POLICY_NXDOMAIN);
	}
	for (unsigned o = 64; ret == 0 && o <= 127; o++) {
		snprintf(name, sizeof(name), "%u.100.in-addr.arpa", o);
		ret = special_add(p, cfg, name, POLICY_NXDOMAIN);
	}
	return ret;
}

int policy_new(const struct config *cfg, struct policy **out)
{
	struct policy *p = NULL;
	int ret = policy_new_empty(&p);

	/* Forward zones first: a zone of the file and a built-in one on the same apex cannot
	 * both be, and special_add() leaves out what a forward zone claims. */
	for (size_t i = 0; ret == 0 && i < cfg->n_zones; i++) {
		struct policy_zone z = {.action = POLICY_FORWARD, .group = i + 1};

		if (cfg->zones[i].zone_wire_len == 1) {
			/* The root as a forward zone: every name not in a longer zone goes there.
			 */
			p->root.zone->group = i + 1;
			continue;
		}
		ret = policy_add(p, cfg->zones[i].zone_wire, cfg->zones[i].zone_wire_len, &z);
	}
	if (ret == 0 && cfg->special_zones) {
		ret = specials_add(p, cfg);
	}
	if (ret != 0) {
		policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}
