/*
 * blocklist: block and allow lists (blocklist.h), read from files in hosts, one-domain or
 * adblock format, looked up once per query.
 *
 * Memory: each name is stored once, in wire format and lower case without its root label, in
 * one arena (a growing array) behind a 6-octet header: its length, its flags (block, allow),
 * the list that decides for it, and the last file that named it (so that a file naming it
 * twice counts it once). An open-addressing table of 8-octet slots (a 32-bit hash, a 32-bit
 * arena offset) finds it; offset 0 is never a record, so a zeroed slot is empty. The slot of a
 * hash is (hash * slots) >> 32, so the table can be any size and grows or shrinks from the
 * slots alone, without reading a name again. While loading it grows by half at 3/4 full (so
 * that old and new tables side by side stay small); once loaded, one with more than 7/4 slots
 * per name is cut to 3/2. About 6 + 23 + 12 octets per name of a typical list.
 *
 * The arena and the table are pages from mmap, not malloc: they are tens of megabytes, and
 * glibc's malloc, once a block that size has been freed (the previous list, at a reload),
 * serves the next ones from its heap, where growing copies and what is freed stays resident
 * (a second load of a million names measured +60 MB against +40 MB for the first). Pages
 * from mmap go back at munmap, the arena grows by mremap without a copy, and fresh pages are
 * zero, which is an empty table.
 *
 * The hash is SipHash-2-4 under a key drawn from getrandom() for each load, so that whoever
 * writes a list cannot choose names that pile up in one run of slots.
 *
 * Verdicts: a name is allowed when it or any parent is on an allow list (allowing example.com
 * un-blocks ads.example.com too, as an adblock @@||example.com^ exception does), else blocked
 * when it or any parent is on a block list. Allow lists therefore win at every level.
 *
 * Reading: a file is read 64 KiB at a time into one buffer and cut into lines in place; only a
 * line that straddles two reads is copied (into a line-sized carry buffer). Nothing is
 * allocated per line. A struct blocklist is immutable once loaded: lookups from any thread.
 * blocklist_load() blocks (files); blocklist_load_start() runs it on libuv's thread pool.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "blocklist.h"
#include "blocklist_int.h"
#include "dns_wire.h"
#include "siphash.h"

#define READ_CHUNK 65536
#ifndef BLOCKLIST_ARENA_START
#define BLOCKLIST_ARENA_START 65536 /* virtual: only the pages written are resident */
#endif
#ifndef BLOCKLIST_SLOTS_START
#define BLOCKLIST_SLOTS_START 1024 /* the fuzz build starts smaller, to grow on small inputs */
#endif
#define LOGGED_SKIPS  5	  /* skipped lines written to the messages per file */
#define MAX_LABELS    127 /* in a 255-octet name: one octet of length and one of text each */
#define MAX_TEXT_NAME 253 /* octets of a name as text, without the trailing dot */

/* A record in the arena: the header, then the name. */
#define REC_LEN	  0 /* octets of the name (wire, root label excluded) */
#define REC_FLAGS 1 /* BLOCKLIST_F_* */
#define REC_LIST  2 /* 16 bits: the list that decides for it */
#define REC_SEEN  4 /* 16 bits: the last file that named it (while loading) */
#define REC_NAME  6

struct slot {
	uint32_t hash; /**< the top 32 bits of the name's SipHash */
	uint32_t off;  /**< its record in the arena; 0: an empty slot */
};

struct blocklist {
	uint64_t key[2];		    /**< the SipHash key of this load */
	struct slot *slots;		    /**< owned (mmap): n_slots, in whole pages */
	size_t n_slots;			    /**< at most UINT32_MAX, always more than n_names */
	size_t n_names;			    /**< records in the arena */
	size_t n_allowed;		    /**< of which with BLOCKLIST_F_ALLOW */
	unsigned max_labels;		    /**< labels of the longest name */
	uint8_t *arena;			    /**< owned (mmap): records from offset 1 */
	size_t arena_len;		    /**< octets used */
	size_t arena_cap;		    /**< octets mapped, whole pages */
	struct blocklist_file_stats *files; /**< owned: n_files */
	size_t n_files;
	char *paths; /**< owned: the files' paths back to back; files[i].path points here */
};

/* The line reader's state for one file. */
struct reader {
	struct blocklist *b;
	struct blocklist_file_stats *st;
	uint16_t file;	  /**< index of the file */
	FILE *msgs;	  /**< borrowed, may be NULL */
	size_t line;	  /**< number of the line being read, from 1 */
	bool line_bad;	  /**< the current line has been counted as skipped */
	bool overlong;	  /**< the current line passed BLOCKLIST_LINE_MAX: the rest is dropped */
	int error;	  /**< -ENOMEM once the blocklist could not grow: reading stops */
	size_t carry_len; /**< octets of a line cut by the end of a read, in carry */
	char carry[BLOCKLIST_LINE_MAX];
};

/* SipHash-2-4, the one of cache/siphash.h (the cache and the hosts file use it too). */
uint64_t blocklist_siphash(const uint64_t key[2], const uint8_t *p, size_t len)
{
	return siphash(key, p, len);
}

/*
 * A key for this load. getrandom() without flags waits for the kernel's pool once at boot and
 * then never fails; should it (a kernel before 3.17), the clock and an address still make the
 * key differ between loads and machines, which is weaker but keeps the lists working.
 */
static void key_draw(uint64_t key[2], const void *salt)
{
	uint8_t *p = (uint8_t *)key;
	size_t got = 0;
	struct timespec ts;

	while (got < 2 * sizeof(uint64_t)) {
		ssize_t n = getrandom(p + got, 2 * sizeof(uint64_t) - got, 0);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	if (got == 2 * sizeof(uint64_t)) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	key[0] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	key[1] = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)(uintptr_t)salt ^ (uint64_t)getpid();
	key[0] = blocklist_siphash(key, (const uint8_t *)&ts, sizeof(ts));
}

/* --- the table --- */

static inline uint32_t name_hash(const struct blocklist *b, const uint8_t *wire, size_t len)
{
	return (uint32_t)(blocklist_siphash(b->key, wire, len) >> 32);
}

/* The first slot to try for @hash in a table of @n: the hash scaled to [0, n). */
static inline size_t slot_home(uint32_t hash, size_t n)
{
	return (size_t)(((uint64_t)hash * n) >> 32);
}

/*
 * The slot holding @wire (@len octets, lower case, no root label) of hash @hash, or the empty
 * slot where it would go. The table always has an empty slot, so the probe ends.
 */
static struct slot *probe(const struct blocklist *b, const uint8_t *wire, size_t len, uint32_t hash)
{
	size_t i = slot_home(hash, b->n_slots);

	for (;;) {
		struct slot *s = &b->slots[i];

		if (s->off == 0) {
			return s;
		}
		if (s->hash == hash) {
			const uint8_t *r = b->arena + s->off;

			if (r[REC_LEN] == len && memcmp(r + REC_NAME, wire, len) == 0) {
				return s;
			}
		}
		if (++i == b->n_slots) {
			i = 0;
		}
	}
}

static size_t page_round(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) / page * page;
}

/* @size octets of zeroed pages (a multiple of the page size), or NULL. */
static void *pages_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Move every slot into a new table of @n slots (more than n_names). 0 or -ENOMEM. */
static int table_resize(struct blocklist *b, size_t n)
{
	struct slot *t;

	if (n > UINT32_MAX || n <= b->n_names) {
		return -ENOMEM;
	}
	t = pages_map(page_round(n * sizeof(struct slot)));
	if (!t) {
		return -ENOMEM;
	}
	for (size_t j = 0; j < b->n_slots; j++) {
		const struct slot *s = &b->slots[j];
		size_t i;

		if (s->off == 0) {
			continue;
		}
		i = slot_home(s->hash, n);
		while (t[i].off != 0) {
			if (++i == n) {
				i = 0;
			}
		}
		t[i] = *s;
	}
	munmap(b->slots, page_round(b->n_slots * sizeof(struct slot)));
	b->slots = t;
	b->n_slots = n;
	return 0;
}

static int arena_reserve(struct blocklist *b, size_t more)
{
	size_t cap = b->arena_cap;
	uint8_t *a;

	if (b->arena_len + more <= cap) {
		return 0;
	}
	/* Offsets are 32 bits: some 150 million names of typical length. */
	if (b->arena_len + more > UINT32_MAX) {
		return -ENOMEM;
	}
	while (cap < b->arena_len + more) {
		cap *= 2;
	}
	a = mremap(b->arena, b->arena_cap, cap, MREMAP_MAYMOVE);
	if (a == MAP_FAILED) {
		return -ENOMEM;
	}
	b->arena = a;
	b->arena_cap = cap;
	return 0;
}

static inline unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static inline void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Add @wire (@len octets, lower case, no root label, @labels labels) with @flag for @file. 1
 * when @file had not named it before (a new entry of that file), 0 when it had, -ENOMEM.
 */
static int name_add(struct blocklist *b, const uint8_t *wire, size_t len, unsigned labels,
		    unsigned flag, uint16_t file)
{
	uint32_t hash = name_hash(b, wire, len);
	struct slot *s = probe(b, wire, len, hash);
	uint8_t *r;

	if (s->off != 0) {
		r = b->arena + s->off;
		if (!(r[REC_FLAGS] & flag)) {
			/* Once allowed, a block list naming it changes nothing. */
			if (flag == BLOCKLIST_F_ALLOW) {
				put16(r + REC_LIST, file);
				b->n_allowed++;
			}
			r[REC_FLAGS] |= (uint8_t)flag;
		}
		if (get16(r + REC_SEEN) == file) {
			return 0;
		}
		put16(r + REC_SEEN, file);
		return 1;
	}
	if ((b->n_names + 1) * 4 > b->n_slots * 3) {
		if (table_resize(b, b->n_slots + b->n_slots / 2) != 0) {
			return -ENOMEM;
		}
		s = probe(b, wire, len, hash);
	}
	if (arena_reserve(b, REC_NAME + len) != 0) {
		return -ENOMEM;
	}
	r = b->arena + b->arena_len;
	r[REC_LEN] = (uint8_t)len;
	r[REC_FLAGS] = (uint8_t)flag;
	put16(r + REC_LIST, file);
	put16(r + REC_SEEN, file);
	memcpy(r + REC_NAME, wire, len);
	s->hash = hash;
	s->off = (uint32_t)b->arena_len;
	b->arena_len += REC_NAME + len;
	b->n_names++;
	if (flag == BLOCKLIST_F_ALLOW) {
		b->n_allowed++;
	}
	if (labels > b->max_labels) {
		b->max_labels = labels;
	}
	return 1;
}

/* --- parsing a line --- */

/*
 * What each octet can be, looked up rather than compared: a line is read an octet at a time,
 * a million lines at a load, and the fuzz build traces every comparison.
 */
#define C_SPACE 1 /* white space within a line (CRLF's '\r' too) */
#define C_NAME	2 /* in a name, as stored: a-z 0-9 - _ */
#define C_UPPER 4 /* in a name, lower-cased when stored */
#define C_ADDR	8 /* in an IPv4 or IPv6 address: hex digits, '.', ':' */

static const uint8_t char_class[256] = {
	['\t'] = C_SPACE,	  ['\v'] = C_SPACE,	    ['\f'] = C_SPACE,
	['\r'] = C_SPACE,	  [' '] = C_SPACE,	    ['-'] = C_NAME,
	['_'] = C_NAME,		  ['.'] = C_ADDR,	    [':'] = C_ADDR,
	['0'] = C_NAME | C_ADDR,  ['1'] = C_NAME | C_ADDR,  ['2'] = C_NAME | C_ADDR,
	['3'] = C_NAME | C_ADDR,  ['4'] = C_NAME | C_ADDR,  ['5'] = C_NAME | C_ADDR,
	['6'] = C_NAME | C_ADDR,  ['7'] = C_NAME | C_ADDR,  ['8'] = C_NAME | C_ADDR,
	['9'] = C_NAME | C_ADDR,  ['a'] = C_NAME | C_ADDR,  ['b'] = C_NAME | C_ADDR,
	['c'] = C_NAME | C_ADDR,  ['d'] = C_NAME | C_ADDR,  ['e'] = C_NAME | C_ADDR,
	['f'] = C_NAME | C_ADDR,  ['g'] = C_NAME,	    ['h'] = C_NAME,
	['i'] = C_NAME,		  ['j'] = C_NAME,	    ['k'] = C_NAME,
	['l'] = C_NAME,		  ['m'] = C_NAME,	    ['n'] = C_NAME,
	['o'] = C_NAME,		  ['p'] = C_NAME,	    ['q'] = C_NAME,
	['r'] = C_NAME,		  ['s'] = C_NAME,	    ['t'] = C_NAME,
	['u'] = C_NAME,		  ['v'] = C_NAME,	    ['w'] = C_NAME,
	['x'] = C_NAME,		  ['y'] = C_NAME,	    ['z'] = C_NAME,
	['A'] = C_UPPER | C_ADDR, ['B'] = C_UPPER | C_ADDR, ['C'] = C_UPPER | C_ADDR,
	['D'] = C_UPPER | C_ADDR, ['E'] = C_UPPER | C_ADDR, ['F'] = C_UPPER | C_ADDR,
	['G'] = C_UPPER,	  ['H'] = C_UPPER,	    ['I'] = C_UPPER,
	['J'] = C_UPPER,	  ['K'] = C_UPPER,	    ['L'] = C_UPPER,
	['M'] = C_UPPER,	  ['N'] = C_UPPER,	    ['O'] = C_UPPER,
	['P'] = C_UPPER,	  ['Q'] = C_UPPER,	    ['R'] = C_UPPER,
	['S'] = C_UPPER,	  ['T'] = C_UPPER,	    ['U'] = C_UPPER,
	['V'] = C_UPPER,	  ['W'] = C_UPPER,	    ['X'] = C_UPPER,
	['Y'] = C_UPPER,	  ['Z'] = C_UPPER,
};

static inline bool is_space(char c)
{
	return char_class[(uint8_t)c] & C_SPACE;
}

/*
 * @s (@n octets of text) as a name in wire format, lower case, without the root label, in
 * @wire (MAX_TEXT_NAME + 1 octets). One trailing dot is allowed. Letters, digits, '-' and '_'
 * only: '_' is in real lists (and legal in DNS), and anything else (a '*' wildcard, a '/' of a
 * URL path, raw UTF-8 instead of an IDN's xn-- form) cannot be a name a client asks for.
 * 0, -EILSEQ (a character), -EINVAL (an empty label), -EMSGSIZE (a label over 63 octets),
 * -ENAMETOOLONG (over 253 octets).
 */
static int name_parse(const char *s, size_t n, uint8_t *wire, size_t *wire_len, unsigned *labels)
{
	size_t w = 1, len_at = 0, label = 0;
	unsigned count = 1;

	if (n > 0 && s[n - 1] == '.') {
		n--;
	}
	if (n == 0) {
		return -EINVAL;
	}
	if (n > MAX_TEXT_NAME) {
		return -ENAMETOOLONG; /* 255 octets in wire form with the root label */
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0) {
				return -EINVAL;
			}
			wire[len_at] = (uint8_t)label;
			len_at = w++;
			label = 0;
			count++;
			continue;
		}
		if (char_class[(uint8_t)c] & C_UPPER) {
			c = (char)(c - 'A' + 'a');
		} else if (!(char_class[(uint8_t)c] & C_NAME)) {
			return -EILSEQ;
		}
		if (++label > DNS_MAX_LABEL) {
			return -EMSGSIZE;
		}
		wire[w++] = (uint8_t)c;
	}
	if (label == 0) {
		return -EINVAL;
	}
	wire[len_at] = (uint8_t)label;
	*wire_len = w;
	*labels = count;
	return 0;
}

static const char *name_error(int err)
{
	switch (err) {
	case -EILSEQ:
		return "a character that is not a letter, digit, '-' or '_'";
	case -EINVAL:
		return "an empty label";
	case -EMSGSIZE:
		return "a label over 63 octets";
	case -ENAMETOOLONG:
		return "a name over 253 octets";
	default:
		return "not a name";
	}
}

/*
 * Names every hosts file starts with (Debian's, the well-known downloadable lists'): they are
 * not ads, and a list naming them must not stop localhost from resolving. Skipped in every
 * format, and not counted: they are expected, not errors.
 */
static const char *const boilerplate[] = {
	"localhost",	 "localhost.localdomain", "local",	  "broadcasthost",
	"ip6-localhost", "ip6-loopback",	  "ip6-localnet", "ip6-mcastprefix",
	"ip6-allnodes",	 "ip6-allrouters",	  "ip6-allhosts", "0.0.0.0",
};

static bool is_boilerplate(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '.') {
		n--;
	}
	/* Most names are none: they all start with 'l', 'b', 'i' or '0', in 5 to 21 octets. */
	if (n < 5 || n > 21 || !memchr("lLbBiI0", s[0], 7)) {
		return false;
	}
	for (size_t i = 0; i < sizeof(boilerplate) / sizeof(boilerplate[0]); i++) {
		if (strlen(boilerplate[i]) == n && strncasecmp(s, boilerplate[i], n) == 0) {
			return true;
		}
	}
	return false;
}

/* Whether @s (@n octets) is an IPv4 or IPv6 address: the first word of a hosts line. */
static bool is_address(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t addr[16];

	if (n == 0 || n >= sizeof(buf)) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(char_class[(uint8_t)s[i]] & C_ADDR)) {
			return false;
		}
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* Text from a list, in a message: printable ASCII only, at most 64 octets. */
static void text_write(FILE *f, const char *s, size_t n)
{
	fputc('\'', f);
	for (size_t i = 0; i < n && i < 64; i++) {
		fputc(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', f);
	}
	fputs(n > 64 ? "...'" : "'", f);
}

/* The current line is skipped (counted once, however many of its names are bad). */
static void line_skip(struct reader *rd, const char *why, const char *s, size_t n)
{
	if (rd->line_bad) {
		return;
	}
	rd->line_bad = true;
	rd->st->skipped++;
	if (rd->msgs && rd->st->skipped <= LOGGED_SKIPS) {
		fprintf(rd->msgs, "%s:%zu: skipped: %s", rd->st->path, rd->line, why);
		if (s) {
			fputs(": ", rd->msgs);
			text_write(rd->msgs, s, n);
		}
		fputc('\n', rd->msgs);
	}
}

/* Take @s (@n octets) as a name of the current file with @flag, or skip the line. */
static void name_take(struct reader *rd, const char *s, size_t n, unsigned flag)
{
	uint8_t wire[MAX_TEXT_NAME + 1];
	size_t wire_len;
	unsigned labels;
	int ret;

	if (is_boilerplate(s, n)) {
		return;
	}
	ret = name_parse(s, n, wire, &wire_len, &labels);
	if (ret != 0) {
		line_skip(rd, name_error(ret), s, n);
		return;
	}
	ret = name_add(rd->b, wire, wire_len, labels, flag, rd->file);
	if (ret < 0) {
		rd->error = ret;
	} else if (ret == 1) {
		rd->st->entries++;
	}
}

/*
 * "||domain^" or "||domain^$options": the only adblock rule that names a whole domain. An
 * "@@" exception in a block list allows the domain, as an adblocker would. @p starts with "||"
 * or "@@||".
 */
static void adblock_take(struct reader *rd, const char *p, size_t n)
{
	bool exception = p[0] == '@';
	size_t start = exception ? 4 : 2, caret;
	const char *c;

	c = memchr(p + start, '^', n - start);
	if (!c) {
		line_skip(rd, "an adblock rule without '^' (a path, a wildcard, a regex)", p, n);
		return;
	}
	caret = (size_t)(c - p);
	if (caret + 1 < n && p[caret + 1] != '$') {
		line_skip(rd, "an adblock rule with more than options after '^'", p, n);
		return;
	}
	name_take(rd, p + start, caret - start,
		  rd->st->allow || exception ? BLOCKLIST_F_ALLOW : BLOCKLIST_F_BLOCK);
}

/* The next word of [*@p, @end): its start and length, or false at the end. */
static bool word_next(const char **p, const char *end, const char **w, size_t *n)
{
	const char *s = *p;

	while (s < end && is_space(*s)) {
		s++;
	}
	if (s == end) {
		return false;
	}
	*w = s;
	while (s < end && !is_space(*s)) {
		s++;
	}
	*n = (size_t)(s - *w);
	*p = s;
	return true;
}

static void line_parse(struct reader *rd, const char *p, size_t n)
{
	unsigned flag = rd->st->allow ? BLOCKLIST_F_ALLOW : BLOCKLIST_F_BLOCK;
	const char *end, *w = NULL, *first = NULL;
	size_t wn = 0, first_n = 0;

	rd->line_bad = false;
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	/* A '#' after white space ends a hosts line ("0.0.0.0 ads.example # tracker"). */
	for (const char *h = memchr(p, '#', n); h;
	     h = memchr(h + 1, '#', n - (size_t)(h + 1 - p))) {
		if (h > p && is_space(h[-1])) {
			n = (size_t)(h - p);
			break;
		}
	}
	while (n > 0 && is_space(p[n - 1])) {
		n--;
	}
	if (n == 0 || p[0] == '#' || p[0] == '!') {
		return;
	}
	if ((n >= 2 && p[0] == '|' && p[1] == '|') ||
	    (n >= 4 && p[0] == '@' && p[1] == '@' && p[2] == '|' && p[3] == '|')) {
		adblock_take(rd, p, n);
		return;
	}
	end = p + n;
	word_next(&p, end, &first, &first_n);
	if (!is_address(first, first_n)) {
		/* One domain per line, and nothing else on it. */
		if (word_next(&p, end, &w, &wn)) {
			line_skip(rd, "more than one word and no address first", first, n);
			return;
		}
		name_take(rd, first, first_n, flag);
		return;
	}
	/* Hosts format, whatever the address: lists use 0.0.0.0, 127.0.0.1, :: and others. */
	if (!word_next(&p, end, &w, &wn)) {
		line_skip(rd, "an address without names", first, first_n);
		return;
	}
	do {
		if (!is_boilerplate(w, wn) && is_address(w, wn)) {
			line_skip(rd, "an address where a name should be", w, wn);
			continue;
		}
		name_take(rd, w, wn, flag);
	} while (rd->error == 0 && word_next(&p, end, &w, &wn));
}

/* --- cutting a file into lines --- */

/* Hand @len octets of the file to the reader (any amount: lines may be cut anywhere). */
static void reader_feed(struct reader *rd, const char *data, size_t len)
{
	while (len > 0 && rd->error == 0) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;

		if (!rd->overlong) {
			if (rd->carry_len + seg > BLOCKLIST_LINE_MAX) {
				rd->overlong = true;
				rd->carry_len = 0;
			} else if (nl && rd->carry_len == 0) {
				line_parse(rd, data, seg);
			} else {
				memcpy(rd->carry + rd->carry_len, data, seg);
				rd->carry_len += seg;
				if (nl) {
					line_parse(rd, rd->carry, rd->carry_len);
					rd->carry_len = 0;
				}
			}
		}
		if (!nl) {
			return;
		}
		if (rd->overlong) {
			rd->line_bad = false;
			line_skip(rd, "a line over 1024 octets", NULL, 0);
			rd->overlong = false;
		}
		rd->line++;
		data = nl + 1;
		len -= seg + 1;
	}
}

/*
 * The end of the file: its last line may lack a '\n'. After a read error (!@whole) that line
 * is dropped, since it may be cut short: "ads.example.com" read as far as "ads.exam".
 */
static void reader_end(struct reader *rd, bool whole)
{
	if (rd->error != 0) {
		return;
	}
	if (rd->overlong) {
		rd->line_bad = false;
		line_skip(rd, "a line over 1024 octets", NULL, 0);
	} else if (rd->carry_len > 0 && whole) {
		line_parse(rd, rd->carry, rd->carry_len);
	}
	if (rd->msgs && rd->st->skipped > LOGGED_SKIPS) {
		fprintf(rd->msgs, "%s: %zu lines skipped in all\n", rd->st->path, rd->st->skipped);
	}
}

/*
 * Read the file of @rd->st->path through @buf (READ_CHUNK octets). What was read before an
 * error stays in the blocklist. 0, or the negative errno that stopped reading.
 */
static int file_read(struct reader *rd, char *buf)
{
	int fd = open(rd->st->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int err = 0;

	if (fd < 0) {
		return -errno;
	}
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0) {
			break;
		}
		reader_feed(rd, buf, (size_t)n);
		if (rd->error != 0) {
			break;
		}
	}
	close(fd);
	return err;
}

/* --- loading --- */

static struct blocklist *blocklist_new(const struct blocklist_source *src, size_t n)
{
	struct blocklist *b = calloc(1, sizeof(*b));
	size_t paths_len = 0;
	char *p;

	if (!b) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		paths_len += strlen(src[i].path) + 1;
	}
	b->files = calloc(n ? n : 1, sizeof(*b->files));
	b->paths = malloc(paths_len ? paths_len : 1);
	b->arena = pages_map(page_round(BLOCKLIST_ARENA_START));
	if (b->arena) {
		b->arena_cap = page_round(BLOCKLIST_ARENA_START);
	}
	b->slots = pages_map(page_round(BLOCKLIST_SLOTS_START * sizeof(struct slot)));
	if (b->slots) {
		b->n_slots = BLOCKLIST_SLOTS_START;
	}
	if (!b->files || !b->paths || !b->arena || !b->slots) {
		blocklist_free(b);
		return NULL;
	}
	b->n_files = n;
	p = b->paths;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(src[i].path) + 1;

		memcpy(p, src[i].path, len);
		b->files[i].path = p;
		b->files[i].allow = src[i].allow;
		p += len;
	}
	b->arena[0] = 0; /* offset 0 is no record: a zeroed slot is empty */
	b->arena_len = 1;
	key_draw(b->key, b);
	return b;
}

/*
 * A table with more than 7/4 slots per name is cut to 3/2 (a small list in the first table,
 * or a list whose growth came just before its end), and the arena to the pages it uses.
 * 0 or -ENOMEM.
 */
static int blocklist_fit(struct blocklist *b)
{
	size_t cap = page_round(b->arena_len);

	if (b->n_slots > b->n_names + b->n_names * 3 / 4 + 1 &&
	    table_resize(b, b->n_names + b->n_names / 2 + 1) != 0) {
		return -ENOMEM;
	}
	/*
	 * Unmapping the tail of a mapping cannot fail for want of memory. munmap rather than an
	 * in-place mremap: the same on Linux, and qemu-user 7.2 (Debian 12's, which runs the
	 * cross-built tests) breaks a 32-bit guest on a shrinking mremap (malloc's memory faults
	 * afterwards, under qemu-mipsel and qemu-arm; not qemu-aarch64, not natively).
	 */
	if (cap < b->arena_cap && munmap(b->arena + cap, b->arena_cap - cap) == 0) {
		b->arena_cap = cap;
	}
	return 0;
}

int blocklist_load_sources(const struct blocklist_source *src, size_t n, size_t chunk,
			   struct blocklist **out, FILE *msgs)
{
	struct reader *rd = NULL;
	struct blocklist *b;
	char *buf = NULL;
	int ret = -ENOMEM;

	if (n > BLOCKLIST_MAX_LISTS) {
		return -EINVAL;
	}
	b = blocklist_new(src, n);
	rd = malloc(sizeof(*rd));
	if (!b || !rd) {
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		*rd = (struct reader){
			.b = b, .st = &b->files[i], .file = (uint16_t)i, .msgs = msgs};
		rd->line = 1;
		if (src[i].data) {
			size_t step = chunk ? chunk : src[i].len;

			for (size_t off = 0; off < src[i].len; off += step) {
				size_t left = src[i].len - off;

				reader_feed(rd, src[i].data + off, left < step ? left : step);
			}
		} else {
			if (!buf) {
				buf = malloc(READ_CHUNK);
				if (!buf) {
					goto fail;
				}
			}
			b->files[i].error = file_read(rd, buf);
		}
		if (rd->error != 0) {
			goto fail;
		}
		reader_end(rd, b->files[i].error == 0);
		if (b->files[i].error != 0 && msgs) {
			fprintf(msgs, "%s: %s\n", b->files[i].path, strerror(-b->files[i].error));
		}
	}
	if (blocklist_fit(b) != 0) {
		goto fail;
	}
	free(buf);
	free(rd);
	*out = b;
	return 0;
fail:
	free(buf);
	free(rd);
	blocklist_free(b);
	return ret;
}

int blocklist_load_buffer(const char *data, size_t len, bool allow, struct blocklist **out,
			  FILE *msgs)
{
	struct blocklist_source s = {.path = "(buffer)", .allow = allow, .data = data, .len = len};

	if (!s.data) {
		s.data = "";
	}
	return blocklist_load_sources(&s, 1, 0, out, msgs);
}

int blocklist_load(const char *const *block, size_t n_block, const char *const *allow,
		   size_t n_allow, struct blocklist **out, FILE *msgs)
{
	struct blocklist_source *src;
	size_t n = n_block + n_allow;
	int ret;

	if (n > BLOCKLIST_MAX_LISTS) {
		return -EINVAL;
	}
	src = calloc(n ? n : 1, sizeof(*src));
	if (!src) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		src[i].path = i < n_block ? block[i] : allow[i - n_block];
		src[i].allow = i >= n_block;
	}
	ret = blocklist_load_sources(src, n, 0, out, msgs);
	free(src);
	return ret;
}

void blocklist_free(struct blocklist *b)
{
	if (!b) {
		return;
	}
	if (b->slots) {
		munmap(b->slots, page_round(b->n_slots * sizeof(struct slot)));
	}
	if (b->arena) {
		munmap(b->arena, b->arena_cap);
	}
	free(b->files);
	free(b->paths);
	free(b);
}

/* --- lookups --- */

enum blocklist_verdict blocklist_lookup(const struct blocklist *b, const uint8_t *name, size_t len,
					int *list)
{
	uint8_t low[DNS_MAX_NAME];
	uint8_t starts[MAX_LABELS];
	uint32_t hashes[MAX_LABELS];
	unsigned n = 0, first;
	size_t pos = 0;
	int blocked = -1;

	if (list) {
		*list = -1;
	}
	if (len == 0 || len > DNS_MAX_NAME || b->n_names == 0) {
		return BLOCKLIST_PASS;
	}
	/* Check the name as we copy it in lower case: it may come straight from a client. */
	while (name[pos] != 0) {
		size_t l = name[pos];

		if (l > DNS_MAX_LABEL || pos + 1 + l >= len || n == MAX_LABELS) {
			return BLOCKLIST_PASS;
		}
		starts[n++] = (uint8_t)pos;
		low[pos] = (uint8_t)l;
		for (size_t i = pos + 1; i <= pos + l; i++) {
			uint8_t c = name[i];

			low[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
		pos += 1 + l;
	}
	if (pos != len - 1) {
		return BLOCKLIST_PASS;
	}
	/*
	 * The name, then each parent; none with more labels than the longest name listed. The
	 * slots are fetched from memory all at once before any is read: each is a cache miss in a
	 * table of megabytes, and they are independent.
	 */
	first = n > b->max_labels ? n - b->max_labels : 0;
	for (unsigned i = first; i < n; i++) {
		hashes[i] = name_hash(b, low + starts[i], pos - starts[i]);
		__builtin_prefetch(&b->slots[slot_home(hashes[i], b->n_slots)]);
	}
	for (unsigned i = first; i < n; i++) {
		size_t off = starts[i];
		const struct slot *s = probe(b, low + off, pos - off, hashes[i]);
		const uint8_t *r;

		if (s->off == 0) {
			continue;
		}
		r = b->arena + s->off;
		if (r[REC_FLAGS] & BLOCKLIST_F_ALLOW) {
			if (list) {
				*list = (int)get16(r + REC_LIST);
			}
			return BLOCKLIST_ALLOW;
		}
		if (blocked < 0) {
			blocked = (int)get16(r + REC_LIST);
			/* Only an allowed parent could change the verdict now. */
			if (b->n_allowed == 0) {
				break;
			}
		}
	}
	if (blocked < 0) {
		return BLOCKLIST_PASS;
	}
	if (list) {
		*list = blocked;
	}
	return BLOCKLIST_BLOCK;
}

const struct blocklist_file_stats *blocklist_files(const struct blocklist *b, size_t *n)
{
	*n = b->n_files;
	return b->files;
}

size_t blocklist_size(const struct blocklist *b)
{
	return b->n_names;
}

void blocklist_foreach(const struct blocklist *b, blocklist_name_fn fn, void *arg)
{
	uint8_t wire[DNS_MAX_NAME];

	for (size_t off = 1; off < b->arena_len;) {
		const uint8_t *r = b->arena + off;
		size_t len = r[REC_LEN];

		memcpy(wire, r + REC_NAME, len);
		wire[len] = 0;
		fn(arg, wire, len + 1, r[REC_FLAGS], (int)get16(r + REC_LIST));
		off += REC_NAME + len;
	}
}

void blocklist_mem_get(const struct blocklist *b, struct blocklist_mem *m)
{
	m->arena_bytes = b->arena_len;
	m->slots = b->n_slots;
	m->table_bytes = b->n_slots * sizeof(struct slot);
	m->max_labels = b->max_labels;
}

/* --- loading off the loop --- */

/* A load in libuv's thread pool; freed in its after-work callback. */
struct load_req {
	uv_work_t work;
	blocklist_done_fn done;
	void *arg;
	const char **paths; /**< owned, one allocation with the strings: block, then allow */
	size_t n_block, n_allow;
	int status;	     /**< of blocklist_load(), set by the worker */
	struct blocklist *b; /**< the worker's result, handed to done */
	char *msgs;	     /**< the worker's messages (open_memstream), handed to done */
};

static void on_load_work(uv_work_t *w)
{
	struct load_req *r = w->data;
	size_t len = 0;
	FILE *m = open_memstream(&r->msgs, &len);

	r->status =
		blocklist_load(r->paths, r->n_block, r->paths + r->n_block, r->n_allow, &r->b, m);
	if (m) {
		/* The buffer and its length are only valid after fclose (open_memstream(3)). */
		fclose(m);
		if (len == 0) {
			free(r->msgs);
			r->msgs = NULL;
		}
	}
}

static void on_load_done(uv_work_t *w, int status)
{
	struct load_req *r = w->data;

	/* Cancelled (uv_cancel) before a worker took it: nothing was read. */
	if (status == UV_ECANCELED) {
		r->done(r->arg, -ECANCELED, NULL, NULL);
	} else {
		r->done(r->arg, r->status, r->b, r->msgs);
	}
	free(r->paths);
	free(r);
}

/* @block and @allow copied into one allocation: the pointers, then the strings. */
static const char **paths_copy(const char *const *block, size_t n_block, const char *const *allow,
			       size_t n_allow)
{
	size_t n = n_block + n_allow, size = n * sizeof(char *);
	const char **v;
	char *s;

	for (size_t i = 0; i < n; i++) {
		size += strlen(i < n_block ? block[i] : allow[i - n_block]) + 1;
	}
	v = malloc(size ? size : 1);
	if (!v) {
		return NULL;
	}
	s = (char *)(v + n);
	for (size_t i = 0; i < n; i++) {
		const char *p = i < n_block ? block[i] : allow[i - n_block];
		size_t len = strlen(p) + 1;

		memcpy(s, p, len);
		v[i] = s;
		s += len;
	}
	return v;
}

int blocklist_load_start(uv_loop_t *loop, const char *const *block, size_t n_block,
			 const char *const *allow, size_t n_allow, blocklist_done_fn done,
			 void *arg)
{
	struct load_req *r;
	int ret;

	if (n_block + n_allow > BLOCKLIST_MAX_LISTS) {
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	r->paths = paths_copy(block, n_block, allow, n_allow);
	if (!r->paths) {
		free(r);
		return -ENOMEM;
	}
	r->n_block = n_block;
	r->n_allow = n_allow;
	r->done = done;
	r->arg = arg;
	r->work.data = r;
	ret = uv_queue_work(loop, &r->work, on_load_work, on_load_done);
	if (ret != 0) {
		free(r->paths);
		free(r);
		return ret; /* libuv's errors are negative errnos on Unix */
	}
	return 0;
}
