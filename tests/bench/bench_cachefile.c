/*
 * bench_cachefile: what the cache file costs (cache_dump(), cache_load()): a cache filled with
 * ENTRIES answers of varied names (A, AAAA, and CNAME chains ending in an A, as upstreams send
 * them, compressed), dumped into memory, then loaded into a fresh cache, RUNS times. Prints the
 * milliseconds of each and the size of the file. Run by `make bench`; it measures, it asserts
 * nothing about time (the issue asks for well under a second at 100,000 entries).
 *
 * usage: bench_cachefile [ENTRIES [RUNS]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

static uint64_t now_ms = 1000000;

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return now_ms;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The dump's destination: one buffer, grown by doubling (as a file's page cache would take it). */
struct sink {
	uint8_t *buf;
	size_t len, cap;
};

static int sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;

	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 1 << 20;
		uint8_t *b;

		while (cap < s->len + len) {
			cap *= 2;
		}
		b = realloc(s->buf, cap);
		if (!b) {
			return -ENOMEM;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	return 0;
}

static size_t put_name(uint8_t *m, const char *label, const char *zone)
{
	size_t n = strlen(label), z = strlen(zone);

	m[0] = (uint8_t)n;
	memcpy(m + 1, label, n);
	memcpy(m + 1 + n, zone, z + 1);
	return 1 + n + z + 1;
}

static size_t put_rr(uint8_t *m, uint16_t owner, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
	dns_put16(m, (uint16_t)(0xc000 | owner));
	dns_put16(m + 2, type);
	dns_put16(m + 4, DNS_CLASS_IN);
	dns_put32(m + 6, ttl);
	dns_put16(m + 10, rdlen);
	return 12;
}

/*
 * Answer number @i, for a name of its own in one of a few zones: a third A (one or two
 * records), a third AAAA, a third a CNAME to another name of the zone and that name's A.
 */
static size_t make_answer(uint8_t *m, unsigned i, uint16_t *qtype)
{
	static const char *const zones[] = {"\7example\3com", "\4cdn1\7example\3net",
					    "\6static\5video\2co\2uk", "\3api\7service\2io"};
	const char *zone = zones[i % 4];
	char label[32];
	size_t len = DNS_HDR_LEN, l;
	uint32_t ttl = 60 + (i * 7919u) % 86000;

	memset(m, 0, DNS_HDR_LEN);
	dns_put16(m + 2, DNS_QR | DNS_RD | DNS_RA);
	dns_put16(m + 4, 1);
	snprintf(label, sizeof(label), "host-%u-%x", i, i * 2654435761u);
	len += put_name(m + len, label, zone);
	*qtype = (i % 3 == 1) ? DNS_TYPE_AAAA : DNS_TYPE_A;
	dns_put16(m + len, *qtype);
	dns_put16(m + len + 2, DNS_CLASS_IN);
	len += 4;
	switch (i % 3) {
	case 0: /* one or two A */
		dns_put16(m + 6, (uint16_t)(1 + i % 2));
		for (unsigned r = 0; r < 1 + i % 2; r++) {
			len += put_rr(m + len, DNS_HDR_LEN, DNS_TYPE_A, ttl, 4);
			dns_put32(m + len, 0xc0000200u + i + r);
			len += 4;
		}
		break;
	case 1: /* AAAA */
		dns_put16(m + 6, 1);
		len += put_rr(m + len, DNS_HDR_LEN, DNS_TYPE_AAAA, ttl, 16);
		memcpy(m + len, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0", 12);
		dns_put32(m + len + 12, i);
		len += 16;
		break;
	default: /* CNAME to edge-N.<zone>, then its A */
		dns_put16(m + 6, 2);
		l = len;
		len += put_rr(m + len, DNS_HDR_LEN, DNS_TYPE_CNAME, ttl, 0);
		snprintf(label, sizeof(label), "edge-%u", i % 97);
		m[len] = (uint8_t)strlen(label);
		memcpy(m + len + 1, label, m[len]);
		len += 1 + m[len];
		dns_put16(m + len, (uint16_t)(0xc000 | (DNS_HDR_LEN + 1 + m[DNS_HDR_LEN])));
		len += 2;
		dns_put16(m + l + 10, (uint16_t)(len - l - 12));
		len += put_rr(m + len, (uint16_t)(l + 12), DNS_TYPE_A, ttl, 4);
		dns_put32(m + len, 0xc6336400u + i % 97);
		len += 4;
		break;
	}
	return len;
}

static struct cache *fresh(size_t bytes)
{
	struct cache_params p = {
		.max_bytes = bytes,
		.max_ttl = 86400,
		.max_neg_ttl = 3600,
		.stale_max = 86400,
		.now = fake_now,
	};
	struct cache *c = NULL;

	if (cache_new(&p, &c) != 0) {
		exit(1);
	}
	return c;
}

int main(int argc, char **argv)
{
	unsigned entries = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	size_t bytes = 256u << 20;
	struct cache *c = fresh(bytes);
	struct dns_opt opt = {.present = false};
	struct cache_load_stats ls;
	struct cache_stats st;
	uint8_t a[512];

	if (entries == 0 || runs <= 0) {
		fprintf(stderr, "usage: bench_cachefile [ENTRIES [RUNS]]\n");
		return 2;
	}
	for (unsigned i = 0; i < entries; i++) {
		struct dns_question q;
		struct cache_key k;
		uint16_t qtype;
		size_t len = make_answer(a, i, &qtype);

		if (dns_question_parse(a, len, &q) != 0) {
			return 1;
		}
		cache_key_make(c, a, &q, i % 5 == 0, &k);
		if (cache_insert(c, &k, a, len, &opt) != 1) {
			fprintf(stderr, "insert %u failed\n", i);
			return 1;
		}
	}
	cache_stats_get(c, &st);
	now_ms += 600000; /* ten minutes later */
	for (int r = 0; r < runs; r++) {
		struct sink s = {0};
		struct cache *d = fresh(bytes);
		size_t n = 0;
		double t0, t1, t2;

		t0 = mono_ms();
		if (cache_dump(c, 1700000000, sink_write, &s, &n) != 0) {
			fprintf(stderr, "dump failed\n");
			return 1;
		}
		t1 = mono_ms();
		if (cache_load(d, s.buf, s.len, 1700000060, &ls) != 0 || ls.loaded != n) {
			fprintf(stderr, "load failed\n");
			return 1;
		}
		t2 = mono_ms();
		printf("bench_cachefile: %zu entries (%zu bytes in the cache): dump %.1f ms, "
		       "%.1f MB (%.0f bytes per entry); load %.1f ms\n",
		       n, st.bytes, t1 - t0, (double)s.len / 1e6, (double)s.len / (double)n,
		       t2 - t1);
		free(s.buf);
		cache_free(d);
	}
	cache_free(c);
	return 0;
}
