/*
 * hosts: the hosts file (hosts.h) read into hash tables, and the watcher that reads it again.
 *
 * A load reads the file whole (at most HOSTS_FILE_MAX bytes) and parses it line by line into
 *   - one arena of lower-case wire names, back to back;
 *   - a table from name to entry, each entry with its IPv4 and IPv6 addresses as two runs of
 *     one array of pointers (what struct hosts_answer hands out);
 *   - a table from address to the entry of the first name listed for it, for PTR.
 * The tables use open addressing and SipHash with a key drawn per load: a hosts file may be a
 * downloaded block list, and its names must not be able to make lookups linear. The (name,
 * address) pairs are collected in file order, deduplicated by a third table that lives only
 * during the load, and made into the pointer runs at the end, once the address array has
 * stopped moving. A struct hosts is immutable after that: lookups write nothing.
 *
 * The watcher runs on the loop: libuv fs events on the file's directory, filtered by the
 * file's name, then a settling timer, then hosts_load() (blocking reads of a local file of
 * at most HOSTS_FILE_MAX bytes). It owns its two handles and is freed in the second close
 * callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns_wire.h"
#include "siphash.h"

#include "hosts.h"
#include "log.h"

/* Settling: a burst of events (truncate, writes, rename) is read once, SETTLE_MS after its
 * last event, and never later than SETTLE_MAX_MS after its first (a file written without end
 * is still read). */
#define SETTLE_MS     200
#define SETTLE_MAX_MS 1000

/* --- hash tables: open addressing, linear probing, at most half full --- */

struct slot {
	uint32_t id;   /**< the item's index + 1; 0 for an empty slot */
	uint32_t hash; /**< the low 32 bits of the item's hash: its position and a quick check */
};

struct table {
	struct slot *slots; /**< owned: mask + 1 of them, a power of two */
	size_t mask;
	size_t used;
};

/* Whether item @index is the one @key stands for. */
typedef bool (*table_eq_fn)(const void *ctx, uint32_t index, const void *key);

#define TABLE_MIN 16

static int table_init(struct table *t)
{
	t->slots = calloc(TABLE_MIN, sizeof(*t->slots));
	if (!t->slots) {
		return -ENOMEM;
	}
	t->mask = TABLE_MIN - 1;
	t->used = 0;
	return 0;
}

/* The slot of @key: its own when it is there, else the empty slot where it would go. */
static struct slot *table_find(const struct table *t, uint32_t hash, table_eq_fn eq,
			       const void *ctx, const void *key)
{
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct slot *s = &t->slots[i];

		if (s->id == 0 || (s->hash == hash && eq(ctx, s->id - 1, key))) {
			return s;
		}
	}
}

/* Room for one more item, so that a probe always ends at an empty slot. */
static int table_reserve(struct table *t)
{
	size_t size = t->mask + 1;
	struct slot *slots;

	if ((t->used + 1) * 2 <= size) {
		return 0;
	}
	slots = calloc(size * 2, sizeof(*slots));
	if (!slots) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < size; i++) {
		const struct slot *s = &t->slots[i];
		size_t j;

		if (s->id == 0) {
			continue;
		}
		for (j = s->hash & (size * 2 - 1); slots[j].id != 0; j = (j + 1) & (size * 2 - 1)) {
		}
		slots[j] = *s;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = size * 2 - 1;
	return 0;
}

/*
 * @p (*@cap items of @size bytes) grown to hold @need: the array, moved or not, with *@cap
 * updated; NULL when out of memory (@p and *@cap unchanged). Counts stay below 2^32, since
 * entries refer to each other by 32-bit index.
 */
static void *array_grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap) {
		return p;
	}
	while (n < need) {
		n *= 2;
	}
	if (n > SIZE_MAX / size || n > UINT32_MAX) {
		return NULL;
	}
	q = realloc(p, n * size);
	if (q) {
		*cap = n;
	}
	return q;
}

/* --- the loaded file --- */

struct entry {
	uint32_t name_off; /**< in hosts.names */
	uint32_t name_len; /**< wire length, root label included */
	uint32_t v4_off;   /**< the IPv4 addresses: hosts.addr_ptrs[v4_off .. v4_off + n_v4) */
	uint32_t n_v4;
	uint32_t v6_off;
	uint32_t n_v6;
};

struct addr {
	uint8_t len; /**< 4 or 16 */
	uint8_t bytes[16];
	uint32_t name; /**< the entry whose name answers PTR: the first line's first name */
};

struct hosts {
	uint64_t key[2]; /**< SipHash key, drawn per load */
	uint8_t *names;	 /**< owned: wire names, lower case, back to back */
	size_t names_len, names_cap;
	struct entry *entries; /**< owned */
	size_t n_entries, entries_cap;
	struct addr *addrs; /**< owned: each address once */
	size_t n_addrs, addrs_cap;
	const uint8_t **addr_ptrs; /**< owned: the entries' runs, pointing into addrs */
	struct table by_name;	   /**< to entries */
	struct table by_addr;	   /**< to addrs */
};

static uint32_t name_hash(const struct hosts *h, const uint8_t *wire, size_t len)
{
	return (uint32_t)siphash(h->key, wire, len);
}

struct name_key {
	const uint8_t *wire;
	size_t len;
};

static bool name_eq(const void *ctx, uint32_t index, const void *key)
{
	const struct hosts *h = ctx;
	const struct name_key *k = key;
	const struct entry *e = &h->entries[index];

	return e->name_len == k->len && memcmp(h->names + e->name_off, k->wire, k->len) == 0;
}

static const struct entry *entry_find(const struct hosts *h, const uint8_t *wire, size_t len)
{
	struct name_key k = {wire, len};
	const struct slot *s = table_find(&h->by_name, name_hash(h, wire, len), name_eq, h, &k);

	return s->id ? &h->entries[s->id - 1] : NULL;
}

/* A key of 17 bytes: the length (4 or 16), then the address. */
static uint32_t addr_hash(const struct hosts *h, const uint8_t *bytes, uint8_t len)
{
	uint8_t k[17];

	k[0] = len;
	memcpy(k + 1, bytes, len);
	return (uint32_t)siphash(h->key, k, 1 + (size_t)len);
}

struct addr_key {
	const uint8_t *bytes;
	uint8_t len;
};

static bool addr_eq(const void *ctx, uint32_t index, const void *key)
{
	const struct hosts *h = ctx;
	const struct addr_key *k = key;
	const struct addr *a = &h->addrs[index];

	return a->len == k->len && memcmp(a->bytes, k->bytes, k->len) == 0;
}

static const struct addr *addr_find(const struct hosts *h, const uint8_t *bytes, uint8_t len)
{
	struct addr_key k = {bytes, len};
	const struct slot *s = table_find(&h->by_addr, addr_hash(h, bytes, len), addr_eq, h, &k);

	return s->id ? &h->addrs[s->id - 1] : NULL;
}

void hosts_free(struct hosts *h)
{
	if (!h) {
		return;
	}
	free(h->names);
	free(h->entries);
	free(h->addrs);
	free(h->addr_ptrs);
	free(h->by_name.slots);
	free(h->by_addr.slots);
	free(h);
}

size_t hosts_count(const struct hosts *h)
{
	return h ? h->n_entries + h->n_addrs : 0;
}

/* --- lookups --- */

/* @name (wire, @len bytes) lower-cased into @out; false unless it is one well-formed name. */
static bool name_lower(const uint8_t *name, size_t len, uint8_t out[DNS_MAX_NAME])
{
	size_t i = 0;

	if (len == 0 || len > DNS_MAX_NAME) {
		return false;
	}
	while (i < len) {
		uint8_t l = name[i];

		if (l == 0) {
			out[i] = 0;
			return i + 1 == len;
		}
		if (l > DNS_MAX_LABEL || i + 1 + l >= len) {
			return false; /* a compression pointer, a reserved type, or past the end */
		}
		out[i] = l;
		for (size_t j = i + 1; j <= i + l; j++) {
			uint8_t c = name[j];

			out[j] = c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
		}
		i += 1 + (size_t)l;
	}
	return false;
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/*
 * The address that reverse name @n (lower case wire, @len bytes) stands for: four labels of
 * decimal octets, least significant first, under in-addr.arpa (RFC 1035 §3.5); or 32 labels of
 * one hex nibble each under ip6.arpa (RFC 3596 §2.5). Octets written with leading zeros are no
 * address: the PTR owner of 10.0.0.1 is 1.0.0.10.in-addr.arpa, not 01.0.0.10.
 */
static bool reverse_addr(const uint8_t *n, size_t len, uint8_t out[16], uint8_t *out_len)
{
	static const uint8_t v4_suffix[] = "\7in-addr\4arpa";
	static const uint8_t v6_suffix[] = "\3ip6\4arpa";
	size_t i = 0;

	if (len == 32 * 2 + sizeof(v6_suffix) &&
	    memcmp(n + 64, v6_suffix, sizeof(v6_suffix)) == 0) {
		for (int k = 0; k < 32; k++) {
			int v = n[2 * k] == 1 ? hex_value(n[2 * k + 1]) : -1;

			if (v < 0) {
				return false;
			}
			/* Label k is nibble k from the end: the low nibble of byte 15 first. */
			if (k % 2 == 0) {
				out[15 - k / 2] = (uint8_t)v;
			} else {
				out[15 - k / 2] |= (uint8_t)(v << 4);
			}
		}
		*out_len = 16;
		return true;
	}
	if (len < sizeof(v4_suffix) ||
	    memcmp(n + len - sizeof(v4_suffix), v4_suffix, sizeof(v4_suffix)) != 0) {
		return false;
	}
	for (int k = 0; k < 4; k++) {
		uint8_t l = n[i];
		unsigned v = 0;

		if (l < 1 || l > 3 || (l > 1 && n[i + 1] == '0') ||
		    i + 1 + l > len - sizeof(v4_suffix)) {
			return false;
		}
		for (size_t j = i + 1; j <= i + l; j++) {
			if (n[j] < '0' || n[j] > '9') {
				return false;
			}
			v = v * 10 + (unsigned)(n[j] - '0');
		}
		if (v > 255) {
			return false;
		}
		out[3 - k] = (uint8_t)v;
		i += 1 + (size_t)l;
	}
	if (i != len - sizeof(v4_suffix)) {
		return false;
	}
	*out_len = 4;
	return true;
}

bool hosts_lookup(const struct hosts *h, const uint8_t *name, size_t len, uint16_t qtype,
		  struct hosts_answer *out)
{
	struct hosts_answer ans = {0};
	uint8_t lower[DNS_MAX_NAME], bytes[16], alen;
	const struct entry *e;
	const struct addr *a = NULL;

	if (!h || !name_lower(name, len, lower)) {
		return false;
	}
	e = entry_find(h, lower, len);
	if (reverse_addr(lower, len, bytes, &alen)) {
		a = addr_find(h, bytes, alen);
	}
	if (!e && !a) {
		return false;
	}
	if (qtype == DNS_TYPE_A && e && e->n_v4 > 0) {
		ans.addrs = h->addr_ptrs + e->v4_off;
		ans.n_addrs = e->n_v4;
	} else if (qtype == DNS_TYPE_AAAA && e && e->n_v6 > 0) {
		ans.addrs = h->addr_ptrs + e->v6_off;
		ans.n_addrs = e->n_v6;
	} else if (qtype == DNS_TYPE_PTR && a) {
		ans.ptr_name = h->names + h->entries[a->name].name_off;
		ans.ptr_len = h->entries[a->name].name_len;
	}
	*out = ans;
	return true;
}

/* --- loading --- */

struct pair {
	uint32_t entry;
	uint32_t addr;
};

struct loader {
	struct hosts *h; /**< being built */
	const char *path;
	FILE *msgs;  /**< borrowed, or NULL */
	size_t line; /**< the line being read, from 1 */
	unsigned n_warnings;
	struct pair *pairs; /**< owned: (name, address) in file order, each once */
	size_t n_pairs, pairs_cap;
	struct table by_pair; /**< to pairs */
};

static void load_warn(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "PATH:LINE: reason" for the first HOSTS_WARNINGS_MAX of a load: a broken file of a million
 * lines must not flood the log. The others are counted, and the count written at the end. */
static void load_warn(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->n_warnings++ >= HOSTS_WARNINGS_MAX || !ld->msgs) {
		return;
	}
	fprintf(ld->msgs, "%s:%zu: ", ld->path, ld->line);
	va_start(ap, fmt);
	vfprintf(ld->msgs, fmt, ap);
	va_end(ap);
	fputc('\n', ld->msgs);
}

#define QUOTE_MAX 48

/* @s (@len bytes) fit to quote in a message: cut to QUOTE_MAX characters, and every byte that
 * is not printable ASCII shown as '?' (the file may hold anything, the log is text). */
static const char *quote(char buf[QUOTE_MAX + 4], const char *s, size_t len)
{
	size_t n = len > QUOTE_MAX ? QUOTE_MAX : len;

	for (size_t i = 0; i < n; i++) {
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	}
	memcpy(buf + n, len > n ? "..." : "", len > n ? 4 : 1);
	return buf;
}

/*
 * The wire form of host name @s (@len bytes; one trailing dot allowed), lower case, in @wire:
 * its length; or 0, with the reason in *@why. Labels of 1 to 63 letters, digits, '-' and '_'
 * ('_' for names such as _gateway), 253 characters in all (255 octets in wire form).
 */
static size_t name_wire(const char *s, size_t len, uint8_t wire[DNS_MAX_NAME], const char **why)
{
	size_t label = 0, out = 1; /* the length octet of the current label; the next octet */

	if (len > 1 && s[len - 1] == '.') {
		len--;
	}
	if (len > DNS_MAX_NAME - 2) {
		*why = "longer than 253 characters";
		return 0;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			size_t l = out - label - 1;

			if (l == 0) {
				*why = "an empty label";
				return 0;
			}
			if (l > DNS_MAX_LABEL) {
				*why = "a label longer than 63 characters";
				return 0;
			}
			wire[label] = (uint8_t)l;
			label = out++;
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			c = (char)(c | 0x20);
		} else if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' &&
			   c != '_') {
			*why = "a character other than letters, digits, '-' and '_'";
			return 0;
		}
		wire[out++] = (uint8_t)c;
	}
	wire[label] = 0; /* the root */
	return out;
}

/* The entry of name @wire, added when new: its index in *@index. */
static int entry_intern(struct loader *ld, const uint8_t *wire, size_t len, uint32_t *index)
{
	struct hosts *h = ld->h;
	struct name_key k = {wire, len};
	uint32_t hash = name_hash(h, wire, len);
	struct entry *entries;
	uint8_t *names;
	struct slot *s;

	if (table_reserve(&h->by_name) != 0) {
		return -ENOMEM;
	}
	s = table_find(&h->by_name, hash, name_eq, h, &k);
	if (s->id != 0) {
		*index = s->id - 1;
		return 0;
	}
	entries = array_grow(h->entries, &h->entries_cap, h->n_entries + 1, sizeof(*entries));
	if (!entries) {
		return -ENOMEM;
	}
	h->entries = entries;
	names = array_grow(h->names, &h->names_cap, h->names_len + len, 1);
	if (!names) {
		return -ENOMEM;
	}
	h->names = names;
	memcpy(names + h->names_len, wire, len);
	entries[h->n_entries] = (struct entry){
		.name_off = (uint32_t)h->names_len,
		.name_len = (uint32_t)len,
	};
	h->names_len += len;
	s->id = (uint32_t)++h->n_entries;
	s->hash = hash;
	h->by_name.used++;
	*index = s->id - 1;
	return 0;
}

/* The address @bytes (@len of them), added when new with entry @name for its PTR: its index in
 * *@index. An address already known keeps its name: the first line listing it wins. */
static int addr_intern(struct loader *ld, const uint8_t *bytes, uint8_t len, uint32_t name,
		       uint32_t *index)
{
	struct hosts *h = ld->h;
	struct addr_key k = {bytes, len};
	uint32_t hash = addr_hash(h, bytes, len);
	struct addr *addrs, *a;
	struct slot *s;

	if (table_reserve(&h->by_addr) != 0) {
		return -ENOMEM;
	}
	s = table_find(&h->by_addr, hash, addr_eq, h, &k);
	if (s->id != 0) {
		*index = s->id - 1;
		return 0;
	}
	addrs = array_grow(h->addrs, &h->addrs_cap, h->n_addrs + 1, sizeof(*addrs));
	if (!addrs) {
		return -ENOMEM;
	}
	h->addrs = addrs;
	a = &addrs[h->n_addrs];
	memset(a, 0, sizeof(*a));
	a->len = len;
	memcpy(a->bytes, bytes, len);
	a->name = name;
	s->id = (uint32_t)++h->n_addrs;
	s->hash = hash;
	h->by_addr.used++;
	*index = s->id - 1;
	return 0;
}

static bool pair_eq(const void *ctx, uint32_t index, const void *key)
{
	const struct loader *ld = ctx;
	const struct pair *k = key;

	return ld->pairs[index].entry == k->entry && ld->pairs[index].addr == k->addr;
}

/* Name @entry has address @addr, unless a line before said so already. */
static int pair_add(struct loader *ld, uint32_t entry, uint32_t addr)
{
	struct pair p = {entry, addr}, *pairs;
	uint8_t k[8];
	uint32_t hash;
	struct slot *s;

	dns_put32(k, entry);
	dns_put32(k + 4, addr);
	hash = (uint32_t)siphash(ld->h->key, k, sizeof(k));
	if (table_reserve(&ld->by_pair) != 0) {
		return -ENOMEM;
	}
	s = table_find(&ld->by_pair, hash, pair_eq, ld, &p);
	if (s->id != 0) {
		return 0;
	}
	pairs = array_grow(ld->pairs, &ld->pairs_cap, ld->n_pairs + 1, sizeof(*pairs));
	if (!pairs) {
		return -ENOMEM;
	}
	ld->pairs = pairs;
	pairs[ld->n_pairs] = p;
	s->id = (uint32_t)++ld->n_pairs;
	s->hash = hash;
	ld->by_pair.used++;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The next token of @p (@len bytes) from *@pos on: its start and length; false at the end. */
static bool token_next(const char *p, size_t len, size_t *pos, const char **tok, size_t *tok_len)
{
	size_t i = *pos, start;

	while (i < len && is_blank(p[i])) {
		i++;
	}
	if (i == len) {
		return false;
	}
	start = i;
	while (i < len && !is_blank(p[i])) {
		i++;
	}
	*tok = p + start;
	*tok_len = i - start;
	*pos = i;
	return true;
}

/* The address @tok (@len bytes) in @bytes, *@alen of them (4 or 16); false with a warning. */
static bool addr_parse(struct loader *ld, const char *tok, size_t len, uint8_t bytes[16],
		       uint8_t *alen)
{
	const char *zone = memchr(tok, '%', len);
	char text[INET6_ADDRSTRLEN], q[QUOTE_MAX + 4];
	size_t n = zone ? (size_t)(zone - tok) : len;

	if (n < sizeof(text)) {
		memcpy(text, tok, n);
		text[n] = '\0';
		if (!zone && inet_pton(AF_INET, text, bytes) == 1) {
			*alen = 4;
			return true;
		}
		if (inet_pton(AF_INET6, text, bytes) == 1) {
			if (!zone) {
				*alen = 16;
				return true;
			}
			/* A link-local address is of one interface: an answer cannot say which. */
			load_warn(ld,
				  "'%s' has a zone index, which a DNS answer cannot carry: line "
				  "skipped",
				  quote(q, tok, len));
			return false;
		}
	}
	load_warn(ld, "'%s' is not an IPv4 or IPv6 address: line skipped", quote(q, tok, len));
	return false;
}

/* One line, without its end of line: "ADDRESS NAME [ALIAS...]", a comment, or nothing. */
static int line_parse(struct loader *ld, const char *p, size_t len)
{
	const char *comment = memchr(p, '#', len), *tok;
	uint8_t bytes[16], alen, wire[DNS_MAX_NAME];
	bool have_addr = false, have_name = false;
	size_t pos = 0, tok_len;
	uint32_t addr = 0;
	int ret;

	if (comment) {
		len = (size_t)(comment - p);
	}
	if (!token_next(p, len, &pos, &tok, &tok_len)) {
		return 0;
	}
	if (!addr_parse(ld, tok, tok_len, bytes, &alen)) {
		return 0;
	}
	while (token_next(p, len, &pos, &tok, &tok_len)) {
		char q[QUOTE_MAX + 4];
		const char *why = NULL;
		size_t wire_len = name_wire(tok, tok_len, wire, &why);
		uint32_t entry;

		have_name = true;
		if (wire_len == 0) {
			load_warn(ld, "name '%s' skipped: %s", quote(q, tok, tok_len), why);
			continue;
		}
		ret = entry_intern(ld, wire, wire_len, &entry);
		if (ret != 0) {
			return ret;
		}
		/* The first name that can be used is the canonical one, the PTR answer. */
		if (!have_addr) {
			ret = addr_intern(ld, bytes, alen, entry, &addr);
			if (ret != 0) {
				return ret;
			}
			have_addr = true;
		}
		ret = pair_add(ld, entry, addr);
		if (ret != 0) {
			return ret;
		}
	}
	if (!have_name) {
		load_warn(ld, "an address without a name: line skipped");
	}
	return 0;
}

/* The pairs, in file order, made into each entry's two runs of address pointers. */
static int runs_build(struct loader *ld)
{
	struct hosts *h = ld->h;
	size_t off = 0;

	h->addr_ptrs = malloc((ld->n_pairs ? ld->n_pairs : 1) * sizeof(*h->addr_ptrs));
	if (!h->addr_ptrs) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < ld->n_pairs; i++) {
		struct entry *e = &h->entries[ld->pairs[i].entry];

		if (h->addrs[ld->pairs[i].addr].len == 4) {
			e->n_v4++;
		} else {
			e->n_v6++;
		}
	}
	for (size_t i = 0; i < h->n_entries; i++) {
		struct entry *e = &h->entries[i];

		e->v4_off = (uint32_t)off;
		off += e->n_v4;
		e->v6_off = (uint32_t)off;
		off += e->n_v6;
		e->n_v4 = 0;
		e->n_v6 = 0;
	}
	for (size_t i = 0; i < ld->n_pairs; i++) {
		struct entry *e = &h->entries[ld->pairs[i].entry];
		const struct addr *a = &h->addrs[ld->pairs[i].addr];

		if (a->len == 4) {
			h->addr_ptrs[e->v4_off + e->n_v4++] = a->bytes;
		} else {
			h->addr_ptrs[e->v6_off + e->n_v6++] = a->bytes;
		}
	}
	return 0;
}

/*
 * The regular file @path, at most HOSTS_FILE_MAX bytes of it, in *@out (malloc'd, *@len bytes);
 * *@cut when there was more. A FIFO or a device could block the loop, and is refused.
 */
static int file_read(const char *path, FILE *msgs, char **out, size_t *len, bool *cut)
{
	size_t got = 0, cap;
	struct stat st;
	char *buf, *more;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		if (msgs) {
			fprintf(msgs, "%s: cannot open: %s\n", path, strerror(-ret));
		}
		return ret;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		if (msgs) {
			fprintf(msgs, "%s: cannot stat: %s\n", path, strerror(-ret));
		}
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		if (msgs) {
			fprintf(msgs, "%s: not a regular file\n", path);
		}
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	/* One byte more than the file's size: reading to EOF then needs no second buffer. */
	cap = (st.st_size > 0 && (uint64_t)st.st_size < HOSTS_FILE_MAX ? (size_t)st.st_size
								       : HOSTS_FILE_MAX) +
	      1;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (got == cap) {
			if (cap > HOSTS_FILE_MAX) {
				break;
			}
			cap = cap > HOSTS_FILE_MAX / 2 ? HOSTS_FILE_MAX + 1 : cap * 2;
			more = realloc(buf, cap);
			if (!more) {
				ret = -ENOMEM;
				goto fail;
			}
			buf = more;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			ret = -errno;
			if (msgs) {
				fprintf(msgs, "%s: cannot read: %s\n", path, strerror(-ret));
			}
			goto fail;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*cut = got > HOSTS_FILE_MAX;
	*len = *cut ? HOSTS_FILE_MAX : got;
	*out = buf;
	return 0;
fail:
	free(buf);
	close(fd);
	return ret;
}

/* A key that names in the file cannot be chosen against. */
static void key_draw(uint64_t key[2])
{
	struct timespec ts;

	/* GRND_NONBLOCK: at early boot, before the pool is ready, a start must not wait for it. */
	if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(key[0]))) {
		return;
	}
	/* The file is local configuration: a guessable key then costs little. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	key[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)key;
	key[1] = ~key[0] * 0x9e3779b97f4a7c15ull;
}

int hosts_load(const char *path, struct hosts **out, FILE *msgs)
{
	struct loader ld = {.path = path, .msgs = msgs};
	struct hosts *h = NULL;
	size_t len = 0, off = 0;
	char *buf = NULL;
	bool cut = false;
	int ret;

	ret = file_read(path, msgs, &buf, &len, &cut);
	if (ret != 0) {
		return ret;
	}
	h = calloc(1, sizeof(*h));
	if (!h || table_init(&h->by_name) != 0 || table_init(&h->by_addr) != 0 ||
	    table_init(&ld.by_pair) != 0) {
		ret = -ENOMEM;
		goto cleanup;
	}
	key_draw(h->key);
	ld.h = h;
	if (cut) {
		/* The line across the limit is cut: it is not read, nor anything after it. */
		const char *nl = memrchr(buf, '\n', len);

		len = nl ? (size_t)(nl - buf) + 1 : 0;
		if (msgs) {
			fprintf(msgs,
				"%s: larger than %u MiB: only the lines in its first %u MiB read\n",
				path, HOSTS_FILE_MAX >> 20, HOSTS_FILE_MAX >> 20);
		}
	}
	while (off < len && ret == 0) {
		const char *p = buf + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;

		off += n + (nl ? 1 : 0);
		ld.line++;
		if (n > 0 && p[n - 1] == '\r') {
			n--; /* CRLF: a file from Windows */
		}
		if (n > HOSTS_LINE_MAX) {
			load_warn(&ld, "line longer than %u bytes: skipped", HOSTS_LINE_MAX);
			continue;
		}
		ret = line_parse(&ld, p, n);
	}
	if (ret == 0) {
		ret = runs_build(&ld);
	}
	if (msgs && ld.n_warnings > HOSTS_WARNINGS_MAX) {
		fprintf(msgs, "%s: %u more warnings not shown\n", path,
			ld.n_warnings - HOSTS_WARNINGS_MAX);
	}
cleanup:
	free(buf);
	free(ld.pairs);
	free(ld.by_pair.slots);
	if (ret != 0) {
		hosts_free(h);
		return ret;
	}
	*out = h;
	return 0;
}

/* --- watching --- */

struct hosts_watch {
	uv_fs_event_t event; /**< on the directory: a replaced file is a new inode */
	uv_timer_t settle;
	unsigned handles_open; /**< freed when the last one's close callback has run */
	bool closing;
	uint64_t first_event; /**< loop time of the first event of the burst not yet read */
	char *path;	      /**< owned */
	char *dir;	      /**< owned: the directory of path */
	const char *base;     /**< in path: the file's name in dir */
	hosts_changed_fn changed;
	void *arg; /**< borrowed: changed's */
};

static void on_watch_closed(uv_handle_t *handle)
{
	struct hosts_watch *w = handle->data;

	if (--w->handles_open == 0) {
		free(w->dir);
		free(w->path);
		free(w);
	}
}

void hosts_watch_stop(struct hosts_watch *w)
{
	if (!w || w->closing) {
		return;
	}
	w->closing = true;
	uv_close((uv_handle_t *)&w->event, on_watch_closed);
	uv_close((uv_handle_t *)&w->settle, on_watch_closed);
}

/* Each line of @text (what hosts_load wrote) as a warning of its own. */
static void log_lines(char *text)
{
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl) {
			*nl = '\0';
		}
		log_warn(LOG_MAIN, "%s", line);
	}
}

static void on_settled(uv_timer_t *t)
{
	struct hosts_watch *w = t->data;
	struct hosts *h;
	char *text = NULL;
	size_t len = 0;
	FILE *msgs;
	int ret;

	if (w->closing) {
		return;
	}
	msgs = open_memstream(&text, &len);
	ret = hosts_load(w->path, &h, msgs);
	if (msgs) {
		fclose(msgs);
		log_lines(text);
		free(text);
	}
	if (ret != 0) {
		/* Half-written, or being replaced: the next event reads it again. */
		log_warn(LOG_MAIN,
			 "hosts file '%s' not read again (%s): the names read before stay", w->path,
			 strerror(-ret));
		return;
	}
	log_notice(LOG_MAIN, "hosts file '%s' read again: %zu names and addresses", w->path,
		   hosts_count(h));
	/* Last: the callee may stop the watch, which frees nothing before the close callbacks. */
	w->changed(w->arg, h);
}

static void on_dir_event(uv_fs_event_t *e, const char *filename, int events, int status)
{
	struct hosts_watch *w = e->data;
	uint64_t now = uv_now(e->loop), delay = SETTLE_MS;

	(void)events;
	if (w->closing) {
		return;
	}
	if (status < 0) {
		log_warn(LOG_MAIN, "hosts file '%s': watching '%s' failed: %s", w->path, w->dir,
			 uv_strerror(status));
		return;
	}
	/* Other files of the directory (/etc has many) are not ours. Without a name libuv could
	 * not say which file it was: reading ours once too often is harmless. */
	if (filename && strcmp(filename, w->base) != 0) {
		return;
	}
	if (!uv_is_active((uv_handle_t *)&w->settle)) {
		w->first_event = now;
	} else if (now + SETTLE_MS > w->first_event + SETTLE_MAX_MS) {
		delay = w->first_event + SETTLE_MAX_MS > now ? w->first_event + SETTLE_MAX_MS - now
							     : 0;
	}
	uv_timer_start(&w->settle, on_settled, delay, 0);
}

int hosts_watch_start(uv_loop_t *loop, const char *path, hosts_changed_fn changed, void *arg,
		      struct hosts_watch **out)
{
	const char *slash = strrchr(path, '/');
	struct hosts_watch *w;
	int ret;

	if (!changed || !*path || (slash && !slash[1])) {
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	w->path = strdup(path);
	/* "/hosts" is in "/", "hosts" in ".". */
	w->dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, slash - path);
	if (!w->path || !w->dir) {
		free(w->path);
		free(w->dir);
		free(w);
		return -ENOMEM;
	}
	w->base = w->path + (slash ? slash - path + 1 : 0);
	w->changed = changed;
	w->arg = arg;
	uv_timer_init(loop, &w->settle);
	w->settle.data = w;
	w->handles_open = 1;
	ret = uv_fs_event_init(loop, &w->event);
	if (ret != 0) {
		w->closing = true;
		uv_close((uv_handle_t *)&w->settle, on_watch_closed);
		return ret;
	}
	w->event.data = w;
	w->handles_open = 2;
	/* The directory, not the file: an editor's save renames a new file over the old, and a
	 * watch on the old inode would hear nothing more. A missing file is seen when created. */
	ret = uv_fs_event_start(&w->event, on_dir_event, w->dir, 0);
	if (ret != 0) {
		hosts_watch_stop(w);
		return ret;
	}
	*out = w;
	return 0;
}
