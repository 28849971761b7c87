/*
 * test_blocklist: block and allow lists (resolver/blocklist.c) read from memory and from files
 * in a temporary directory: the three formats, subdomains and the label boundary, allow
 * winning at every level, case, comments and CRLF, hostile lines (each counted as skipped, the
 * same however the reads cut the file), the hosts-file boilerplate never blocked, duplicates
 * stored once, a missing file, malformed names looked up, and the loader on a real uv loop.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "blocklist.h"
#include "blocklist_int.h"
#include "unit.h"

static char dir[] = "/tmp/dotd-blocklist.XXXXXX";

/* @text ("a.b.c", case kept, no checks) in wire format with the root label, in @out. */
static size_t wire(const char *text, uint8_t *out)
{
	size_t len = 0;

	while (*text) {
		const char *dot = strchr(text, '.');
		size_t l = dot ? (size_t)(dot - text) : strlen(text);

		out[len++] = (uint8_t)l;
		memcpy(out + len, text, l);
		len += l;
		text += l;
		if (*text == '.') {
			text++;
		}
	}
	out[len++] = 0;
	return len;
}

static enum blocklist_verdict verdict(const struct blocklist *b, const char *name, int *list)
{
	uint8_t w[512];
	size_t len = wire(name, w);

	return blocklist_lookup(b, w, len, list);
}

/* The verdict of @name and the list that decided, as one number: 100 * verdict + list. */
static int decided(const struct blocklist *b, const char *name)
{
	int list = -7;
	enum blocklist_verdict v = verdict(b, name, &list);

	return (int)v * 100 + list;
}

#define PASS	 -1
#define BLOCK(l) (100 + (l))
#define ALLOW(l) (200 + (l))

/* One list from @text; its messages in *@msgs when not NULL (caller frees). */
static struct blocklist *load_text(const char *text, size_t len, bool allow, char **msgs)
{
	struct blocklist *b = NULL;
	size_t mlen = 0;
	char *m = NULL;
	FILE *f = open_memstream(&m, &mlen);

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(blocklist_load_buffer(text, len, allow, &b, f) == 0);
	fclose(f);
	if (msgs) {
		*msgs = m;
	} else {
		free(m);
	}
	CU_ASSERT_FATAL(b != NULL);
	return b;
}

static const struct blocklist_file_stats *stats(const struct blocklist *b, size_t i)
{
	size_t n;
	const struct blocklist_file_stats *st = blocklist_files(b, &n);

	CU_ASSERT_FATAL(i < n);
	return &st[i];
}

/* @text written to @name in the temporary directory; its path (static buffer per call). */
static const char *file_write(const char *name, const char *text)
{
	static char paths[8][256];
	static int next;
	char *path = paths[next++ % 8];
	FILE *f;

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
	return path;
}

/* SipHash-2-4 against the paper's vectors: key 00..0f, messages 00..0e and empty. */
static void test_siphash(void)
{
	uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	uint8_t m[15];

	for (size_t i = 0; i < sizeof(m); i++) {
		m[i] = (uint8_t)i;
	}
	CU_ASSERT_EQUAL(blocklist_siphash(key, m, 15), 0xa129ca6149be45e5ull);
	CU_ASSERT_EQUAL(blocklist_siphash(key, m, 0), 0x726fdb47dd0e0e31ull);
}

static void test_hosts(void)
{
	const char text[] = "# a hosts file\n"
			    "127.0.0.1 localhost\n"
			    "::1 localhost ip6-localhost ip6-loopback\n"
			    "0.0.0.0 ads.example\n"
			    "127.0.0.1 tracker.example metrics.example\n"
			    ":: six.example\n"
			    "::1 sixone.example\n"
			    "192.168.1.10 lan.example\n"
			    "0.0.0.0\tTab.Example\n";
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, NULL);
	const char *blocked[] = {"ads.example", "tracker.example", "metrics.example",
				 "six.example", "sixone.example",  "lan.example",
				 "tab.example"};

	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		CU_ASSERT_EQUAL(decided(b, blocked[i]), BLOCK(0));
	}
	CU_ASSERT_EQUAL(decided(b, "localhost"), PASS);
	CU_ASSERT_EQUAL(decided(b, "ip6-localhost"), PASS);
	CU_ASSERT_EQUAL(decided(b, "example"), PASS);
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 7);
	CU_ASSERT_EQUAL(stats(b, 0)->skipped, 0);
	CU_ASSERT_EQUAL(stats(b, 0)->error, 0);
	CU_ASSERT_FALSE(stats(b, 0)->allow);
	CU_ASSERT_STRING_EQUAL(stats(b, 0)->path, "(buffer)");
	CU_ASSERT_EQUAL(blocklist_size(b), 7);
	blocklist_free(b);
}

/* One domain a line: a trailing dot, punycode as plain text, '_', a single label. */
static void test_domains(void)
{
	const char text[] = "ads.example\n"
			    "dot.example.\n"
			    "xn--bcher-kva.example\n"
			    "ad_server.example\n"
			    "-odd-.example\n"
			    "tld\n";
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, NULL);

	CU_ASSERT_EQUAL(decided(b, "ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "dot.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "xn--bcher-kva.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "ad_server.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "-odd-.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "anything.tld"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "bucher.example"), PASS);
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 6);
	CU_ASSERT_EQUAL(stats(b, 0)->skipped, 0);
	blocklist_free(b);
}

static void test_adblock(void)
{
	const char text[] = "[Adblock Plus 2.0]\n"		      /* skipped */
			    "! Title: a list\n"			      /* comment */
			    "||ads.example^\n"			      /* block */
			    "||opts.example^$third-party,important\n" /* block */
			    "||empty-opts.example^$\n"		      /* block */
			    "@@||good.ads.example^\n"		      /* allow */
			    "||path.example/ads^\n"		      /* skipped: a path */
			    "||*.wild.example^\n"		      /* skipped: a wildcard */
			    "||nocaret.example\n"		      /* skipped */
			    "||trail.example^|\n"		      /* skipped */
			    "||^\n"				      /* skipped */
			    "|http://single.example^\n"		      /* skipped */
			    "example.com##.banner\n"		      /* skipped: element hiding */
			    "##.banner\n"      /* a comment, as a line of '#' */
			    "@@ads.example\n"; /* skipped */
	char *msgs;
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, &msgs);

	CU_ASSERT_EQUAL(decided(b, "ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "x.ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "opts.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "empty-opts.example"), BLOCK(0));
	/* An exception in a block list allows: its subdomains too, its parent not. */
	CU_ASSERT_EQUAL(decided(b, "good.ads.example"), ALLOW(0));
	CU_ASSERT_EQUAL(decided(b, "www.good.ads.example"), ALLOW(0));
	CU_ASSERT_EQUAL(decided(b, "path.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "x.wild.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "wild.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "nocaret.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "trail.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "single.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "example.com"), PASS);
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 4);
	CU_ASSERT_EQUAL(stats(b, 0)->skipped, 9);
	CU_ASSERT_EQUAL(blocklist_size(b), 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "(buffer):1: skipped: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "(buffer):7: skipped: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "(buffer): 9 lines skipped in all\n"));
	free(msgs);
	blocklist_free(b);

	/* In an allow list, both forms allow. */
	b = load_text("||a.example^\n@@||b.example^\n", 28, true, NULL);
	CU_ASSERT_EQUAL(decided(b, "a.example"), ALLOW(0));
	CU_ASSERT_EQUAL(decided(b, "x.b.example"), ALLOW(0));
	CU_ASSERT_TRUE(stats(b, 0)->allow);
	blocklist_free(b);
}

/* A listed domain covers its subdomains, on label boundaries only. */
static void test_subdomains(void)
{
	struct blocklist *b = load_text("ads.example\n", 12, false, NULL);

	CU_ASSERT_EQUAL(decided(b, "ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "x.ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "a.b.c.d.ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "bads.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "x.bads.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "ads.example.com"), PASS);
	CU_ASSERT_EQUAL(decided(b, "ads.exampl"), PASS);
	CU_ASSERT_EQUAL(decided(b, "ads"), PASS);
	CU_ASSERT_EQUAL(decided(b, "xads.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, ""), PASS);
	blocklist_free(b);
}

/*
 * Allow wins at every level: an allowed subdomain of a blocked domain resolves, and so does a
 * blocked subdomain of an allowed domain. The list reported is that of the closest name.
 */
static void test_allow(void)
{
	struct blocklist_source src[] = {
		{.path = "block0",
		 .data = "example.com\nads.site.example\nboth.example\nsub.deep.example\n"},
		{.path = "block1", .data = "deep.example\nsub.deep.example\nonly1.example\n"},
		{.path = "allow2", .allow = true, .data = "good.example.com\nsite.example\n"},
		{.path = "allow3", .allow = true, .data = "both.example\nsite.example\n"},
	};
	struct blocklist *b = NULL;

	for (size_t i = 0; i < 4; i++) {
		src[i].len = strlen(src[i].data);
	}
	CU_ASSERT_FATAL(blocklist_load_sources(src, 4, 0, &b, NULL) == 0);
	CU_ASSERT_EQUAL(decided(b, "example.com"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "bad.example.com"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "good.example.com"), ALLOW(2));
	CU_ASSERT_EQUAL(decided(b, "x.good.example.com"), ALLOW(2));
	CU_ASSERT_EQUAL(decided(b, "goodx.example.com"), BLOCK(0));
	/* The parent allowed: the blocked child resolves. */
	CU_ASSERT_EQUAL(decided(b, "ads.site.example"), ALLOW(2));
	CU_ASSERT_EQUAL(decided(b, "x.ads.site.example"), ALLOW(2));
	CU_ASSERT_EQUAL(decided(b, "site.example"), ALLOW(2));
	/* On a block and an allow list: allowed, by the allow list. */
	CU_ASSERT_EQUAL(decided(b, "both.example"), ALLOW(3));
	/* The closest listed name decides the list; the first list naming it. */
	CU_ASSERT_EQUAL(decided(b, "deep.example"), BLOCK(1));
	CU_ASSERT_EQUAL(decided(b, "x.sub.deep.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "only1.example"), BLOCK(1));
	CU_ASSERT_EQUAL(decided(b, "other.example"), PASS);
	CU_ASSERT_EQUAL(decided(b, "example"), PASS);
	/* Each file counts what it names; the blocklist each name once. */
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 4);
	CU_ASSERT_EQUAL(stats(b, 1)->entries, 3);
	CU_ASSERT_EQUAL(stats(b, 2)->entries, 2);
	CU_ASSERT_EQUAL(stats(b, 3)->entries, 2);
	CU_ASSERT_EQUAL(blocklist_size(b), 8);
	CU_ASSERT_STRING_EQUAL(stats(b, 3)->path, "allow3");
	CU_ASSERT_TRUE(stats(b, 3)->allow);
	CU_ASSERT_FALSE(stats(b, 1)->allow);
	blocklist_free(b);
}

static void test_case(void)
{
	const char text[] = "ADS.Example.COM\n0.0.0.0 Mixed.CASE.example\n||LOUD.EXAMPLE^\n";
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, NULL);

	CU_ASSERT_EQUAL(decided(b, "ads.example.com"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "aDs.eXample.Com"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "X.ADS.EXAMPLE.COM"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "mixed.case.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "WWW.LOUD.example"), BLOCK(0));
	blocklist_free(b);
}

/* Comments, blank lines, white space of every kind, CRLF, a last line without '\n'. */
static void test_comments(void)
{
	const char text[] = "# comment\n"
			    "\n"
			    "   \n"
			    "\t\r\n"
			    "! adblock comment\r\n"
			    "   # indented comment\n"
			    "crlf.example\r\n"
			    "0.0.0.0 crlfhosts.example\r\n"
			    "  \tspaced.example \t \r\n"
			    "0.0.0.0 inline.example # a comment\n"
			    "inline2.example\t#comment\n"
			    "hash#inside.example\n" /* skipped: '#' is no character of a name */
			    "last.example";
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, NULL);

	CU_ASSERT_EQUAL(decided(b, "crlf.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "crlfhosts.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "spaced.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "inline.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "inline2.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "last.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "hash"), PASS);
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 6);
	CU_ASSERT_EQUAL(stats(b, 0)->skipped, 1);
	blocklist_free(b);
}

/* @n copies of @c, then @tail, then '\n', appended at *@p. */
static void put_line(char **p, char c, size_t n, const char *tail)
{
	memset(*p, c, n);
	*p += n;
	*p += sprintf(*p, "%s\n", tail);
}

/* A label of @n 'a's, in @out. */
static const char *label_of(size_t n, char *out)
{
	memset(out, 'a', n);
	out[n] = '\0';
	return out;
}

/*
 * Hostile lines, each skipped and counted once, and the valid names around them taken: the
 * same whether the file comes in one read or in reads that cut lines anywhere.
 */
static void test_hostile(void)
{
	static char text[16384];
	static const size_t chunks[] = {0, 1, 2, 7, 100, 1023, 1024, 1025, 4096};
	char l63[64], l64[65], name253[300], name254[300], *p = text;
	size_t skipped, len;

	/* 1024 octets before the '\n' (a '\r' counts): taken; 1025: skipped. */
	put_line(&p, ' ', 1024 - strlen("0.0.0.0 long1024.example\r"),
		 "0.0.0.0 long1024.example\r");
	put_line(&p, ' ', 1025 - strlen("0.0.0.0 long1025.example\r"),
		 "0.0.0.0 long1025.example\r");
	put_line(&p, 'x', 5000, "");
	p += sprintf(p, "after.example\n");
	/* Labels of 63 octets (taken) and 64 (skipped); names of 253 (taken) and 254 (skipped). */
	label_of(63, l63);
	label_of(64, l64);
	p += sprintf(p, "%s.example\n%s.example\n", l63, l64);
	snprintf(name253, sizeof(name253), "%s.%s.%s.%s", l63, l63, l63, label_of(61, l64));
	snprintf(name254, sizeof(name254), "%s.%s.%s.%s", l63, l63, l63, label_of(62, l64));
	CU_ASSERT_EQUAL_FATAL(strlen(name253), 253);
	p += sprintf(p, "%s\n%s.\n%s\n", name253, name253, name254);
	p += sprintf(p, "bad!.example\n"	   /* a character */
			"a..b\n"		   /* an empty label */
			".\n"			   /* the root */
			"..\n"			   /* empty labels */
			".lead.example\n"	   /* an empty first label */
			"two words\n"		   /* two words, no address */
			"\xc3\xbcnicode.example\n" /* raw UTF-8 */
			"*.wild.example\n"	   /* a wildcard */
			"0.0.0.0\n"		   /* an address without names */
			"0.0.0.0 1.2.3.4\n"	   /* an address as a name */
			"0.0.0.0 ok1.example bad!name ok2.example also$bad\n" /* counted once */
			"address=/dnsmasq.example/0.0.0.0\n");
	skipped = 2 /* the long lines */ + 2 /* 64, 254 */ + 12;
	len = (size_t)(p - text);
	/* A NUL inside a line: no terminator, an invalid character. */
	memcpy(p, "nul\0byte.example\nend.example\n", 29);
	len += 29;
	skipped++;

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct blocklist_source src = {.path = "hostile", .data = text, .len = len};
		struct blocklist *b = NULL;
		uint8_t w[300];

		CU_ASSERT_FATAL(blocklist_load_sources(&src, 1, chunks[c], &b, NULL) == 0);
		CU_ASSERT_EQUAL(decided(b, "long1024.example"), BLOCK(0));
		CU_ASSERT_EQUAL(decided(b, "long1025.example"), PASS);
		CU_ASSERT_EQUAL(decided(b, "after.example"), BLOCK(0));
		snprintf((char *)w, sizeof(w), "%s.example", l63);
		CU_ASSERT_EQUAL(decided(b, (char *)w), BLOCK(0));
		CU_ASSERT_EQUAL(decided(b, name253), BLOCK(0));
		CU_ASSERT_EQUAL(decided(b, "ok1.example"), BLOCK(0));
		CU_ASSERT_EQUAL(decided(b, "ok2.example"), BLOCK(0));
		CU_ASSERT_EQUAL(decided(b, "end.example"), BLOCK(0));
		CU_ASSERT_EQUAL(decided(b, "b"), PASS);
		CU_ASSERT_EQUAL(decided(b, "lead.example"), PASS);
		CU_ASSERT_EQUAL(decided(b, "wild.example"), PASS);
		CU_ASSERT_EQUAL(decided(b, "byte.example"), PASS);
		CU_ASSERT_EQUAL(decided(b, "4"), PASS);
		CU_ASSERT_EQUAL(stats(b, 0)->entries, 7);
		CU_ASSERT_EQUAL(stats(b, 0)->skipped, skipped);
		CU_ASSERT_EQUAL(blocklist_size(b), 7);
		blocklist_free(b);
	}
}

/* The lines every hosts file starts with: nothing blocked, nothing counted. */
static void test_boilerplate(void)
{
	const char text[] = "127.0.0.1 localhost\n"
			    "127.0.0.1 localhost.localdomain\n"
			    "127.0.0.1 local\n"
			    "255.255.255.255 broadcasthost\n"
			    "::1 localhost\n"
			    "::1 ip6-localhost\n"
			    "::1 ip6-loopback\n"
			    "fe80::1%lo0 localhost\n" /* skipped: not an address we read */
			    "ff00::0 ip6-localnet\n"
			    "ff00::0 ip6-mcastprefix\n"
			    "ff02::1 ip6-allnodes\n"
			    "ff02::2 ip6-allrouters\n"
			    "ff02::3 ip6-allhosts\n"
			    "0.0.0.0 0.0.0.0\n"
			    "127.0.0.1 LOCALHOST. Localhost\n"
			    "localhost\n"
			    "||localhost^\n";
	const char *names[] = {"localhost",	 "localhost.localdomain", "local",
			       "broadcasthost",	 "ip6-localhost",	  "ip6-loopback",
			       "ip6-localnet",	 "ip6-mcastprefix",	  "ip6-allnodes",
			       "ip6-allrouters", "ip6-allhosts",	  "x.localhost"};
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, NULL);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CU_ASSERT_EQUAL(decided(b, names[i]), PASS);
	}
	CU_ASSERT_EQUAL(blocklist_size(b), 0);
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 0);
	CU_ASSERT_EQUAL(stats(b, 0)->skipped, 1);
	blocklist_free(b);
}

static void count_name(void *arg, const uint8_t *name, size_t len, unsigned flags, int list)
{
	(*(size_t *)arg)++;
}

static void test_duplicates(void)
{
	const char text[] = "dup.example\n"
			    "DUP.example.\n"
			    "0.0.0.0 dup.example dup.example\n"
			    "||dup.example^\n";
	struct blocklist_source src[] = {
		{.path = "a", .data = text, .len = sizeof(text) - 1},
		{.path = "b", .data = text, .len = sizeof(text) - 1},
	};
	struct blocklist *b = load_text(text, sizeof(text) - 1, false, NULL);
	size_t n = 0;

	CU_ASSERT_EQUAL(stats(b, 0)->entries, 1);
	CU_ASSERT_EQUAL(blocklist_size(b), 1);
	blocklist_foreach(b, count_name, &n);
	CU_ASSERT_EQUAL(n, 1);
	blocklist_free(b);

	CU_ASSERT_FATAL(blocklist_load_sources(src, 2, 0, &b, NULL) == 0);
	CU_ASSERT_EQUAL(stats(b, 0)->entries, 1);
	CU_ASSERT_EQUAL(stats(b, 1)->entries, 1);
	CU_ASSERT_EQUAL(blocklist_size(b), 1);
	CU_ASSERT_EQUAL(decided(b, "dup.example"), BLOCK(0));
	blocklist_free(b);
}

/* Files: one missing and a directory are errors of their own; the others are read. */
static void test_files(void)
{
	char missing[300], *msgs = NULL;
	const char *block[3], *allow[1];
	struct blocklist *b = NULL;
	size_t n, mlen = 0;
	const struct blocklist_file_stats *st;
	FILE *m = open_memstream(&msgs, &mlen);

	block[0] = file_write("one", "0.0.0.0 one.example\r\n0.0.0.0 two.example\r\n");
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	block[1] = missing;
	block[2] = dir;
	allow[0] = file_write("allow", "good.one.example\n");
	CU_ASSERT_FATAL(blocklist_load(block, 3, allow, 1, &b, m) == 0);
	fclose(m);
	st = blocklist_files(b, &n);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(st[0].path, block[0]);
	CU_ASSERT_EQUAL(st[0].entries, 2);
	CU_ASSERT_EQUAL(st[0].error, 0);
	CU_ASSERT_STRING_EQUAL(st[1].path, missing);
	CU_ASSERT_EQUAL(st[1].error, -ENOENT);
	CU_ASSERT_EQUAL(st[1].entries, 0);
	CU_ASSERT_EQUAL(st[2].error, -EISDIR);
	CU_ASSERT_TRUE(st[3].allow);
	CU_ASSERT_EQUAL(st[3].entries, 1);
	CU_ASSERT_EQUAL(decided(b, "one.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "two.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(b, "x.good.one.example"), ALLOW(3));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, missing));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, strerror(ENOENT)));
	free(msgs);
	blocklist_free(b);

	/* No files at all: an empty blocklist. */
	CU_ASSERT_FATAL(blocklist_load(NULL, 0, NULL, 0, &b, NULL) == 0);
	CU_ASSERT_EQUAL(blocklist_size(b), 0);
	CU_ASSERT_EQUAL(decided(b, "example"), PASS);
	blocklist_files(b, &n);
	CU_ASSERT_EQUAL(n, 0);
	blocklist_free(b);
}

/* Names as a client may send them: malformed ones pass, and nothing is read out of bounds. */
static void test_lookup_wire(void)
{
	struct blocklist *b = load_text("x\nads.example\n", 14, false, NULL);
	uint8_t big[300], *w = malloc(255);
	size_t len = 0;
	int list = 5;

	CU_ASSERT_FATAL(w != NULL);
	/* 127 labels, the longest name there is, under a listed single label. */
	for (int i = 0; i < 126; i++) {
		w[len++] = 1;
		w[len++] = 'A';
	}
	w[len++] = 1;
	w[len++] = 'X';
	w[len++] = 0;
	CU_ASSERT_EQUAL_FATAL(len, 255);
	CU_ASSERT_EQUAL(blocklist_lookup(b, w, len, &list), BLOCKLIST_BLOCK);
	CU_ASSERT_EQUAL(list, 0);
	CU_ASSERT_EQUAL(blocklist_lookup(b, w, len, NULL), BLOCKLIST_BLOCK);
	/* A label running past the end (ASan watches the heap buffer's edge). */
	CU_ASSERT_EQUAL(blocklist_lookup(b, w, len - 2, &list), BLOCKLIST_PASS);
	CU_ASSERT_EQUAL(list, -1);
	w[252] = 62; /* the last label's length: now past the end of the 255 octets */
	CU_ASSERT_EQUAL(blocklist_lookup(b, w, len, NULL), BLOCKLIST_PASS);
	free(w);

	/* No room for the root label: the last label ends at the buffer's end (ASan's redzone). */
	w = malloc(12);
	CU_ASSERT_FATAL(w != NULL);
	memcpy(w, "\3ads\7example", 12);
	CU_ASSERT_EQUAL(blocklist_lookup(b, w, 12, NULL), BLOCKLIST_PASS);
	free(w);

	CU_ASSERT_EQUAL(blocklist_lookup(b, (const uint8_t *)"", 0, NULL), BLOCKLIST_PASS);
	CU_ASSERT_EQUAL(blocklist_lookup(b, (const uint8_t *)"", 1, NULL), BLOCKLIST_PASS);
	/* No root label; bytes after the root; a compression pointer; a label over 63. */
	CU_ASSERT_EQUAL(blocklist_lookup(b, (const uint8_t *)"\3ads\7example", 12, NULL),
			BLOCKLIST_PASS);
	CU_ASSERT_EQUAL(blocklist_lookup(b, (const uint8_t *)"\3ads\7example\0\0", 14, NULL),
			BLOCKLIST_PASS);
	CU_ASSERT_EQUAL(blocklist_lookup(b, (const uint8_t *)"\3ads\xc0\x0c", 7, NULL),
			BLOCKLIST_PASS);
	memset(big, 'a', sizeof(big));
	big[0] = 64;
	big[65] = 1;
	big[66] = 'x';
	big[67] = 0;
	CU_ASSERT_EQUAL(blocklist_lookup(b, big, 68, NULL), BLOCKLIST_PASS);
	big[0] = 63;
	big[64] = 1;
	big[65] = 'x';
	big[66] = 0;
	CU_ASSERT_EQUAL(blocklist_lookup(b, big, 67, NULL), BLOCKLIST_BLOCK);
	/* Over 255 octets. */
	CU_ASSERT_EQUAL(blocklist_lookup(b, big, 256, NULL), BLOCKLIST_PASS);
	CU_ASSERT_EQUAL(blocklist_lookup(b, (const uint8_t *)"\3ads\7example", 13, NULL),
			BLOCKLIST_BLOCK);
	blocklist_free(b);
}

struct name_check {
	const struct blocklist *b;
	size_t n;
	bool all_found;
};

static void name_found(void *arg, const uint8_t *name, size_t len, unsigned flags, int list)
{
	struct name_check *c = arg;

	c->n++;
	if (blocklist_lookup(c->b, name, len, NULL) != BLOCKLIST_BLOCK || list != 0 ||
	    flags != BLOCKLIST_F_BLOCK) {
		c->all_found = false;
	}
}

/* Enough names to grow the table many times: every one found, the table cut to fit. */
static void test_many(void)
{
	const size_t count = 50000;
	char *text = malloc(count * 32), *p = text;
	struct name_check c = {.all_found = true};
	struct blocklist_mem mem;
	struct blocklist *b;

	CU_ASSERT_FATAL(text != NULL);
	for (size_t i = 0; i < count; i++) {
		p += sprintf(p, "0.0.0.0 n%zu.x%zu.example\n", i * 7919 % 100003, i % 13);
	}
	b = load_text(text, (size_t)(p - text), false, NULL);
	CU_ASSERT_EQUAL(blocklist_size(b), count);
	c.b = b;
	blocklist_foreach(b, name_found, &c);
	CU_ASSERT_EQUAL(c.n, count);
	CU_ASSERT_TRUE(c.all_found);
	CU_ASSERT_EQUAL(decided(b, "n1.x13.example"), PASS);
	blocklist_mem_get(b, &mem);
	/* At most 3/4 full, at most 7/4 slots per name (and the rest of a page). */
	CU_ASSERT(mem.slots * 3 >= count * 4);
	CU_ASSERT(mem.slots <= count * 7 / 4 + 1 + 512);
	CU_ASSERT_EQUAL(mem.table_bytes, mem.slots * 8);
	CU_ASSERT_EQUAL(mem.max_labels, 3);
	blocklist_free(b);
	free(text);
}

struct done_state {
	int calls, status;
	struct blocklist *b;
	char *msgs;
};

static void on_done(void *arg, int status, struct blocklist *b, char *msgs)
{
	struct done_state *d = arg;

	d->calls++;
	d->status = status;
	d->b = b;
	d->msgs = msgs;
}

/* The loader on the thread pool of a real loop: done once, on the loop, with the lists. */
static void test_async(void)
{
	char block0[256], missing[256], allow0[256];
	const char *block[2] = {block0, missing}, *allow[1] = {allow0};
	struct done_state d = {0};
	uv_loop_t loop;

	snprintf(block0, sizeof(block0), "%s", file_write("async", "ads.example\nbad!\n"));
	snprintf(missing, sizeof(missing), "%s/not-there", dir);
	snprintf(allow0, sizeof(allow0), "%s", file_write("async-allow", "ok.ads.example\n"));
	CU_ASSERT_FATAL(uv_loop_init(&loop) == 0);
	CU_ASSERT_FATAL(blocklist_load_start(&loop, block, 2, allow, 1, on_done, &d) == 0);
	/* The paths were copied: the caller's buffers may change at once. */
	strcpy(block0, "/nonexistent");
	strcpy(allow0, "/nonexistent");
	CU_ASSERT_EQUAL(d.calls, 0);
	CU_ASSERT_EQUAL(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CU_ASSERT_EQUAL(d.calls, 1);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_FATAL(d.b != NULL);
	CU_ASSERT_EQUAL(decided(d.b, "x.ads.example"), BLOCK(0));
	CU_ASSERT_EQUAL(decided(d.b, "ok.ads.example"), ALLOW(2));
	CU_ASSERT_EQUAL(stats(d.b, 0)->skipped, 1);
	CU_ASSERT_EQUAL(stats(d.b, 1)->error, -ENOENT);
	CU_ASSERT_FATAL(d.msgs != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.msgs, "async:2: skipped: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(d.msgs, "not-there"));
	blocklist_free(d.b);
	free(d.msgs);

	/* Nothing to say: no messages string. */
	d = (struct done_state){0};
	CU_ASSERT_FATAL(blocklist_load_start(&loop, NULL, 0, NULL, 0, on_done, &d) == 0);
	CU_ASSERT_EQUAL(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CU_ASSERT_EQUAL(d.calls, 1);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_PTR_NULL(d.msgs);
	CU_ASSERT_FATAL(d.b != NULL);
	CU_ASSERT_EQUAL(blocklist_size(d.b), 0);
	blocklist_free(d.b);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"SipHash-2-4 test vectors", test_siphash},
		{"hosts format, any address", test_hosts},
		{"one domain per line", test_domains},
		{"adblock subset and exceptions", test_adblock},
		{"subdomains, on label boundaries", test_subdomains},
		{"allow wins at every level", test_allow},
		{"names in any case", test_case},
		{"comments, blank lines, CRLF", test_comments},
		{"hostile lines skipped and counted, any read size", test_hostile},
		{"hosts boilerplate never blocked", test_boilerplate},
		{"duplicates stored once", test_duplicates},
		{"files: missing, a directory, the rest read", test_files},
		{"malformed names looked up", test_lookup_wire},
		{"50,000 names all found", test_many},
		{"the loader on a uv loop", test_async},
		CU_TEST_INFO_NULL,
	};
	char cmd[sizeof(dir) + 16];
	int ret;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	ret = unit_run("blocklist", tests);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "could not remove %s\n", dir);
	}
	return ret;
}
