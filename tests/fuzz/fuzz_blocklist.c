/*
 * fuzz_blocklist: block and allow lists (resolver/blocklist.c) read from fuzzed text, as
 * downloaded lists are: anyone who publishes one, or sits between it and its download, writes
 * what dotd reads. The text goes through the same line reader as a file, in reads of a size
 * the input chooses, and must give what it gives read whole: the same names, flags, lists and
 * counts. Every name stored must be a well-formed lower-case wire name that is found (its
 * verdict and list as its flags say, in any case, and for its subdomains); every name that a
 * separate, stricter reader of the simple lines sees must be found; lookups of the input's
 * bytes as wire names must stay in bounds. A broken invariant aborts.
 *
 * Input: one control byte, then the text. Control bits: 0-2 the size of each read (whole, 1,
 * 2, 3, 7, 64, 1023, 1025 octets), 3 the text is cut at its first NUL into a block list and an
 * allow list, 4 the first list is an allow list.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blocklist_int.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const size_t chunks[] = {0, 1, 2, 3, 7, 64, 1023, 1025};

/* What blocklist_foreach() shows, serialised, to compare two loads. */
struct dump {
	uint8_t *buf;
	size_t len, cap;
};

static void dump_name(void *arg, const uint8_t *name, size_t len, unsigned flags, int list)
{
	struct dump *d = arg;

	if (d->len + len + 8 > d->cap) {
		d->cap = (d->cap + len + 8) * 2;
		d->buf = realloc(d->buf, d->cap);
		CHECK(d->buf);
	}
	d->buf[d->len++] = (uint8_t)len;
	memcpy(d->buf + d->len, name, len);
	d->len += len;
	d->buf[d->len++] = (uint8_t)flags;
	memcpy(d->buf + d->len, &list, sizeof(list));
	d->len += sizeof(list);
}

struct walk {
	const struct blocklist *b;
	size_t n, n_files;
};

/* Each stored name: well formed, and found as its flags say. */
static void name_check(void *arg, const uint8_t *name, size_t len, unsigned flags, int list)
{
	struct walk *w = arg;
	uint8_t up[256], sub[258];
	enum blocklist_verdict v, v2;
	size_t pos = 0;
	int l, l2;

	w->n++;
	CHECK(len >= 2 && len <= 255 && name[len - 1] == 0);
	CHECK(flags != 0 && (flags & ~(BLOCKLIST_F_BLOCK | BLOCKLIST_F_ALLOW)) == 0);
	CHECK(list >= 0 && (size_t)list < w->n_files);
	while (name[pos] != 0) {
		CHECK(name[pos] >= 1 && name[pos] <= 63 && pos + 1 + name[pos] < len);
		for (size_t i = pos + 1; i <= pos + name[pos]; i++) {
			uint8_t c = name[i];

			CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '_');
		}
		pos += 1 + name[pos];
	}
	CHECK(pos == len - 1);

	v = blocklist_lookup(w->b, name, len, &l);
	if (flags & BLOCKLIST_F_ALLOW) {
		CHECK(v == BLOCKLIST_ALLOW && l == list);
	} else {
		/* Blocked by itself, unless a parent is allowed. */
		CHECK((v == BLOCKLIST_BLOCK && l == list) || v == BLOCKLIST_ALLOW);
	}
	/* In upper case: the same. */
	for (size_t i = 0; i < len; i++) {
		up[i] = name[i] >= 'a' && name[i] <= 'z' ? (uint8_t)(name[i] - 32) : name[i];
	}
	CHECK(blocklist_lookup(w->b, up, len, &l2) == v && l2 == l);
	/* A subdomain: allowed if the name is, else blocked or allowed (by itself, if listed). */
	if (len + 2 <= 255) {
		sub[0] = 1;
		sub[1] = 'Q';
		memcpy(sub + 2, name, len);
		v2 = blocklist_lookup(w->b, sub, len + 2, &l2);
		CHECK(v2 != BLOCKLIST_PASS);
		CHECK(v == BLOCKLIST_BLOCK || v2 == BLOCKLIST_ALLOW);
		CHECK(l2 >= 0 && (size_t)l2 < w->n_files);
	}
}

/* --- a separate reader, for the simple lines only: their names must be found --- */

static bool ref_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A name as the documented rules have it (letters, digits, '-', '_'; 1-63; 253; one dot). */
static bool ref_name(const char *s, size_t n)
{
	size_t label = 0;
	char tmp[64];

	if (n > 0 && s[n - 1] == '.') {
		n--;
	}
	if (n == 0 || n > 253) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0) {
				return false;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63) {
				return false;
			}
		} else {
			return false;
		}
	}
	if (label == 0) {
		return false;
	}
	/* An address is never taken as a name. */
	if (n < sizeof(tmp)) {
		uint8_t a[16];

		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET, tmp, a) == 1) {
			return false;
		}
	}
	return true;
}

static bool ref_boilerplate(const char *s, size_t n)
{
	static const char *const names[] = {
		"localhost",	 "localhost.localdomain", "local",	  "broadcasthost",
		"ip6-localhost", "ip6-loopback",	  "ip6-localnet", "ip6-mcastprefix",
		"ip6-allnodes",	 "ip6-allrouters",	  "ip6-allhosts", "0.0.0.0"};

	if (n > 0 && s[n - 1] == '.') {
		n--;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == n && strncasecmp(s, names[i], n) == 0) {
			return true;
		}
	}
	return false;
}

/* @s (@n octets of text) must be found, whatever its verdict. */
static void ref_expect(const struct blocklist *b, const char *s, size_t n)
{
	uint8_t w[256];
	size_t len = 0, label_at = 0;

	if (ref_boilerplate(s, n)) {
		return;
	}
	if (s[n - 1] == '.') {
		n--;
	}
	w[len++] = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			label_at = len++;
			w[label_at] = 0;
		} else {
			w[len++] = (uint8_t)s[i];
			w[label_at]++;
		}
	}
	w[len++] = 0;
	CHECK(blocklist_lookup(b, w, len, NULL) != BLOCKLIST_PASS);
}

static const char *ref_word(const char **p, const char *end, size_t *n)
{
	const char *s = *p, *w;

	while (s < end && ref_space(*s)) {
		s++;
	}
	if (s == end) {
		return NULL;
	}
	w = s;
	while (s < end && !ref_space(*s)) {
		s++;
	}
	*n = (size_t)(s - w);
	*p = s;
	return w;
}

static void ref_line(const struct blocklist *b, const char *p, size_t n)
{
	const char *end = p + n, *w[64];
	size_t wn[64], count = 0;

	/* Only lines of printable ASCII, spaces and tabs, without comments. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '#' || c == '!' || (c < 0x20 && !ref_space((char)c)) || c >= 0x7f) {
			return;
		}
	}
	while (count < 64 && (w[count] = ref_word(&p, end, &wn[count])) != NULL) {
		count++;
	}
	if (count == 0 || count == 64) {
		return;
	}
	if (count == 1) {
		const char *s = w[0], *caret;
		size_t len = wn[0];

		/* An exception: found too (allowed). */
		if (len > 2 && s[0] == '@' && s[1] == '@') {
			s += 2;
			len -= 2;
			if (len < 2 || s[0] != '|' || s[1] != '|') {
				return;
			}
		}

		if (len > 3 && s[0] == '|' && s[1] == '|' && (caret = memchr(s, '^', len)) &&
		    (caret == s + len - 1 || caret[1] == '$')) {
			if (ref_name(s + 2, (size_t)(caret - s - 2))) {
				ref_expect(b, s + 2, (size_t)(caret - s - 2));
			}
			return;
		}
		if (ref_name(s, len)) {
			ref_expect(b, s, len);
		}
		return;
	}
	if ((wn[0] == 7 && memcmp(w[0], "0.0.0.0", 7) == 0) ||
	    (wn[0] == 9 && memcmp(w[0], "127.0.0.1", 9) == 0) ||
	    (wn[0] == 2 && memcmp(w[0], "::", 2) == 0) ||
	    (wn[0] == 3 && memcmp(w[0], "::1", 3) == 0)) {
		for (size_t i = 1; i < count; i++) {
			if (ref_name(w[i], wn[i])) {
				ref_expect(b, w[i], wn[i]);
			}
		}
	}
}

/* Every line of @data (@len octets) as the separate reader sees it; the number of lines. */
static size_t ref_check(const struct blocklist *b, const char *data, size_t len)
{
	size_t lines = 0;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (n <= BLOCKLIST_LINE_MAX) {
			ref_line(b, data, n);
		}
		lines++;
		if (!nl) {
			break;
		}
		data += n + 1;
		len -= n + 1;
	}
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct blocklist_source src[2];
	struct blocklist *whole = NULL, *cut = NULL;
	const struct blocklist_file_stats *st, *st2;
	struct dump d1 = {0}, d2 = {0};
	struct walk w;
	size_t n_src = 1, n, n2, entries = 0;
	const char *text;
	uint8_t ctl;

	if (size < 1) {
		return 0;
	}
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
	}
	ctl = data[0];
	text = (const char *)data + 1;
	src[0] = (struct blocklist_source){
		.path = "fuzz0", .allow = ctl & 0x10, .data = text, .len = size - 1};
	if (ctl & 0x08) {
		const char *nul = memchr(text, '\0', size - 1);

		if (nul) {
			src[0].len = (size_t)(nul - text);
			src[1] = (struct blocklist_source){.path = "fuzz1",
							   .allow = true,
							   .data = nul + 1,
							   .len = size - 1 - src[0].len - 1};
			n_src = 2;
		}
	}
	CHECK(blocklist_load_sources(src, n_src, 0, &whole, devnull) == 0);
	CHECK(blocklist_load_sources(src, n_src, chunks[ctl & 7], &cut, NULL) == 0);

	/* However the reads cut the text: the same names, flags, lists and counts. */
	blocklist_foreach(whole, dump_name, &d1);
	blocklist_foreach(cut, dump_name, &d2);
	CHECK(d1.len == d2.len && (d1.len == 0 || memcmp(d1.buf, d2.buf, d1.len) == 0));
	st = blocklist_files(whole, &n);
	st2 = blocklist_files(cut, &n2);
	CHECK(n == n_src && n2 == n_src && blocklist_size(whole) == blocklist_size(cut));
	for (size_t i = 0; i < n; i++) {
		CHECK(st[i].entries == st2[i].entries && st[i].skipped == st2[i].skipped);
		CHECK(st[i].error == 0 && st[i].allow == src[i].allow);
		CHECK(strcmp(st[i].path, src[i].path) == 0);
		entries += st[i].entries;
	}
	CHECK(entries >= blocklist_size(whole));

	/* Every name stored is found, as its flags say. */
	w = (struct walk){.b = whole, .n_files = n};
	blocklist_foreach(whole, name_check, &w);
	CHECK(w.n == blocklist_size(whole));

	/*
	 * Every name of a simple line is found. A file skips at most each of its lines, and has
	 * at most a name for every two octets (one and a separator).
	 */
	for (size_t i = 0; i < n_src; i++) {
		size_t lines = ref_check(whole, src[i].data, src[i].len);

		CHECK(st[i].skipped <= lines);
		CHECK(st[i].entries * 2 <= src[i].len + 1);
	}

	/* The input's octets as wire names, of every length up to 255: in bounds, a verdict. */
	for (size_t len = 0; len <= 255 && len < size; len += 1 + len / 8) {
		int list = 0;
		enum blocklist_verdict v = blocklist_lookup(whole, data + size - len, len, &list);

		CHECK(v == BLOCKLIST_PASS || v == BLOCKLIST_BLOCK || v == BLOCKLIST_ALLOW);
		CHECK(v == BLOCKLIST_PASS ? list == -1 : list >= 0 && (size_t)list < n);
	}

	free(d1.buf);
	free(d2.buf);
	blocklist_free(cut);
	blocklist_free(whole);
	return 0;
}
