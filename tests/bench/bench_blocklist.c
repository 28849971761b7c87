/*
 * bench_blocklist: what a block list costs (resolver/blocklist.c): NAMES random-looking domains
 * (2 to 4 labels and a TLD, about 23 octets, as in the downloadable lists) written to a
 * temporary hosts-format file, loaded; the load time, the growth of the resident set (VmRSS
 * before and after; VmHWM for the peak while loading), the arena and table sizes, then the
 * nanoseconds per lookup for names on the list, names not on it, and subdomains of both (4 to
 * 6 labels), without and then with a 1,000-name allow list (which makes every lookup walk all
 * the parents). Run by `make bench`; it measures, it asserts nothing about time.
 *
 * usage: bench_blocklist [NAMES [LOOKUPS]]   (defaults 1000000 and 2000000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "blocklist_int.h"

/*
 * Names in each query set, looked up in a shuffled order, laid out in that order: the query
 * names stream from memory as the daemon's would come from a packet just read, and the
 * blocklist's table and arena are read at random, as they are for real queries.
 */
#define QUERIES 100000

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* splitmix64: a fixed sequence from a seed, so that a run can be repeated. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t label_make(uint64_t *s, char *out, size_t min, size_t max)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = min + rnd(s) % (max - min + 1);

	for (size_t i = 0; i < n; i++) {
		out[i] = chars[rnd(s) % 36];
	}
	/* Some lists are full of "ad-server"-like names. */
	if (n > 4 && rnd(s) % 4 == 0) {
		out[n / 2] = '-';
	}
	return n;
}

/* A random-looking name in @out (NUL-terminated); its length. */
static size_t name_make(uint64_t *s, char *out)
{
	static const char *const tlds[] = {"com", "net", "org", "io",	 "info",
					   "xyz", "de",	 "ru",	"co.uk", "top"};
	size_t n = label_make(s, out, 4, 12);

	if (rnd(s) % 10 < 4) {
		out[n++] = '.';
		n += label_make(s, out + n, 3, 8);
	}
	out[n++] = '.';
	n += label_make(s, out + n, 4, 10);
	n += (size_t)sprintf(out + n, ".%s", tlds[rnd(s) % 10]);
	return n;
}

static size_t labels_count(const char *name)
{
	size_t n = 1;

	for (; *name; name++) {
		n += *name == '.';
	}
	return n;
}

/* @text in wire format with the root label at @out; its length. */
static size_t wire(const char *text, uint8_t *out)
{
	size_t len = 0;

	while (*text) {
		const char *dot = strchr(text, '.');
		size_t l = dot ? (size_t)(dot - text) : strlen(text);

		out[len++] = (uint8_t)l;
		memcpy(out + len, text, l);
		len += l;
		text += l + (dot ? 1 : 0);
	}
	out[len++] = 0;
	return len;
}

/* A set of names to look up, in wire format, back to back (as compact as the list's). */
struct queries {
	uint8_t *buf;
	size_t *off; /**< n + 1 of them: name i is buf[off[i]] to buf[off[i + 1]] */
	size_t n, cap;
};

static int queries_new(struct queries *q, size_t n)
{
	q->cap = n * 64;
	q->buf = malloc(q->cap);
	q->off = malloc((n + 1) * sizeof(*q->off));
	q->n = 0;
	if (!q->buf || !q->off) {
		return -ENOMEM;
	}
	q->off[0] = 0;
	return 0;
}

static void queries_add(struct queries *q, const char *text)
{
	uint8_t w[300];
	size_t len = wire(text, w);

	if (q->off[q->n] + len > q->cap) {
		q->cap *= 2;
		q->buf = realloc(q->buf, q->cap);
		if (!q->buf) {
			fprintf(stderr, "bench_blocklist: out of memory\n");
			exit(1);
		}
	}
	memcpy(q->buf + q->off[q->n], w, len);
	q->off[q->n + 1] = q->off[q->n] + len;
	q->n++;
}

static void queries_free(struct queries *q)
{
	free(q->buf);
	free(q->off);
}

/* @text with 1 to 3 random labels in front, 4 to 6 labels in all where it can be. */
static void deepen(uint64_t *s, const char *text, char *out)
{
	size_t have = labels_count(text), want = 4 + rnd(s) % 3, n = 0;
	size_t add = want > have ? want - have : 1;

	for (size_t i = 0; i < add; i++) {
		n += label_make(s, out + n, 1, 8);
		out[n++] = '.';
	}
	strcpy(out + n, text);
}

static size_t kb_read(const char *field)
{
	char line[256];
	size_t kb = 0, len = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f) {
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, len) == 0) {
			kb = strtoul(line + len, NULL, 10);
		}
	}
	fclose(f);
	return kb;
}

/* The peak resident set (VmHWM) starts again from the current one (proc(5), clear_refs). */
static void peak_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

/* @q's names in the order of @order, into @out (made here). */
static void queries_shuffle(const struct queries *q, const uint32_t *order, struct queries *out)
{
	if (queries_new(out, q->n) != 0) {
		fprintf(stderr, "bench_blocklist: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < q->n; i++) {
		size_t k = order[i], len = q->off[k + 1] - q->off[k];

		if (out->off[i] + len > out->cap) {
			out->cap *= 2;
			out->buf = realloc(out->buf, out->cap);
			if (!out->buf) {
				exit(1);
			}
		}
		memcpy(out->buf + out->off[i], q->buf + q->off[k], len);
		out->off[i + 1] = out->off[i] + len;
		out->n++;
	}
}

/* Time @lookups lookups cycling over @q; the ns per lookup, *@hits not PASS. */
static double lookups_time(const struct blocklist *b, const struct queries *q, size_t lookups,
			   size_t *hits)
{
	double t0 = mono_ns();
	size_t n = 0, k = 0;

	for (size_t i = 0; i < lookups; i++, k++) {
		if (k == q->n) {
			k = 0;
		}

		n += blocklist_lookup(b, q->buf + q->off[k], q->off[k + 1] - q->off[k], NULL) !=
		     BLOCKLIST_PASS;
	}
	*hits = n;
	return (mono_ns() - t0) / (double)lookups;
}

static void lookups_report(const struct blocklist *b, struct queries *sets, size_t lookups,
			   const char *what)
{
	static const char *const kinds[] = {"listed names", "names not listed",
					    "subdomains of listed names (4-6 labels)",
					    "subdomains of names not listed (4-6 labels)"};

	for (int k = 0; k < 4; k++) {
		size_t hits;
		double ns = lookups_time(b, &sets[k], lookups, &hits);

		printf("bench_blocklist: %s, %s: %.0f ns per lookup (%zu of %zu not PASS)\n", what,
		       kinds[k], ns, hits, lookups);
	}
}

/* Load @paths (one block list, then an allow list if @allow); print what it cost. */
static struct blocklist *load_report(const char *block, const char *allow, size_t names)
{
	const char *const blocks[] = {block}, *const allows[] = {allow};
	size_t rss0, rss1, hwm;
	struct blocklist_mem m;
	struct blocklist *b;
	double t0, t1;

	rss0 = kb_read("VmRSS:");
	peak_reset();
	t0 = mono_ns();
	if (blocklist_load(blocks, 1, allows, allow ? 1 : 0, &b, stderr) != 0) {
		fprintf(stderr, "bench_blocklist: the load failed\n");
		exit(1);
	}
	t1 = mono_ns();
	rss1 = kb_read("VmRSS:");
	hwm = kb_read("VmHWM:");
	blocklist_mem_get(b, &m);
	printf("bench_blocklist: %zu names%s loaded in %.0f ms (%.0f ns per name); %zu stored\n",
	       names, allow ? " and a 1000-name allow list" : "", (t1 - t0) / 1e6,
	       (t1 - t0) / (double)names, blocklist_size(b));
	printf("bench_blocklist: VmRSS %zu -> %zu kB: +%.1f MiB (%.1f octets per name); peak while "
	       "loading +%.1f MiB\n",
	       rss0, rss1, (double)(rss1 - rss0) / 1024,
	       (double)(rss1 - rss0) * 1024 / (double)names, (double)(hwm - rss0) / 1024);
	printf("bench_blocklist: arena %zu octets (%.1f per name), table %zu slots, %zu octets "
	       "(%.2f full), longest name %u labels\n",
	       m.arena_bytes, (double)m.arena_bytes / (double)blocklist_size(b), m.slots,
	       m.table_bytes, (double)blocklist_size(b) / (double)m.slots, m.max_labels);
	return b;
}

int main(int argc, char **argv)
{
	size_t names = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t lookups = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000000;
	char path[] = "/tmp/dotd-bench-blocklist.XXXXXX", allow_path[sizeof(path) + 8];
	char name[300], deep[400];
	struct queries sets[4], seq[4];
	struct blocklist *b;
	uint32_t *order;
	size_t text_len = 0, nq, every;
	uint64_t s;
	FILE *f;
	int fd;

	if (names == 0 || lookups == 0) {
		fprintf(stderr, "usage: bench_blocklist [NAMES [LOOKUPS]]\n");
		return 2;
	}
	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		perror("bench_blocklist: a temporary file");
		return 1;
	}
	fputs("# bench_blocklist\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n", f);
	s = 1;
	for (size_t i = 0; i < names; i++) {
		text_len += name_make(&s, name);
		fprintf(f, "0.0.0.0 %s\n", name);
	}
	fclose(f);
	printf("bench_blocklist: %zu names of %.1f octets on average in %s (hosts format)\n", names,
	       (double)text_len / (double)names, path);

	b = load_report(path, NULL, names);

	/* Query sets, made after the load so as not to count in its memory. */
	nq = names < QUERIES ? names : QUERIES;
	every = names / nq;
	for (int k = 0; k < 4; k++) {
		if (queries_new(&sets[k], nq) != 0) {
			fprintf(stderr, "bench_blocklist: out of memory\n");
			return 1;
		}
	}
	s = 1;
	for (size_t i = 0; i < names && sets[0].n < nq; i++) {
		name_make(&s, name);
		if (i % every == 0) {
			uint64_t d = i;

			queries_add(&sets[0], name);
			deepen(&d, name, deep);
			queries_add(&sets[2], deep);
		}
	}
	s = 0x5eed;
	for (size_t i = 0; i < nq; i++) {
		name_make(&s, name);
		queries_add(&sets[1], name);
		deepen(&s, name, deep);
		queries_add(&sets[3], deep);
	}
	order = malloc(nq * sizeof(*order));
	if (!order) {
		return 1;
	}
	for (size_t i = 0; i < nq; i++) {
		order[i] = (uint32_t)i;
	}
	s = 7;
	for (size_t i = nq - 1; i > 0; i--) {
		size_t j = rnd(&s) % (i + 1);
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < 4; k++) {
		queries_shuffle(&sets[k], order, &seq[k]);
	}
	lookups_report(b, seq, lookups, "block list only");
	blocklist_free(b);

	/* An allow list of 1,000 of the listed names: every lookup then walks every parent. */
	snprintf(allow_path, sizeof(allow_path), "%s.allow", path);
	f = fopen(allow_path, "w");
	if (!f) {
		perror(allow_path);
		return 1;
	}
	for (size_t i = 0; i < 1000 && i < nq; i++) {
		const uint8_t *w = sets[0].buf + sets[0].off[order[i]];
		char text[300];
		size_t pos = 0, o = 0;

		/* Back to text: the labels of the wire name, with dots. */
		while (w[pos] != 0) {
			size_t l = w[pos];

			memcpy(text + o, w + pos + 1, l);
			o += l;
			text[o++] = '.';
			pos += l + 1;
		}
		text[o] = '\0';
		fprintf(f, "%s\n", text);
	}
	fclose(f);
	b = load_report(path, allow_path, names);
	lookups_report(b, seq, lookups, "with an allow list");
	blocklist_free(b);

	for (int k = 0; k < 4; k++) {
		queries_free(&sets[k]);
		queries_free(&seq[k]);
	}
	free(order);
	unlink(allow_path);
	unlink(path);
	return 0;
}
