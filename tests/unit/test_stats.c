/*
 * test_stats: the counting of resolver/stats.c (types, RCODEs, the duration buckets) and its
 * three writers, on views built here without a daemon. Upstream names with quotes, backslashes,
 * newlines, control characters and bytes that are not UTF-8 must come out escaped; the
 * histogram cumulative; every Prometheus family declared once, before its samples, which all
 * come together; every counter that SIGUSR1 logs present in all three formats.
 *
 * With --prometheus or --json it prints that view in that format and exits, for
 * tests/unit/stats_check.py, which reads it with real parsers (prometheus_client, json).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_msg.h"
#include "stats_int.h"
#include "unit.h"

/* Hostile upstream names; the first is given twice, as two authentications of one address. */
#define NAME_QUOTE  "192.0.2.1@853\"} 1\n# TYPE x counter"
#define NAME_BSLASH "192.0.2.2@853\\"
#define NAME_CTRL   "192.0.2.3@853\n\t\x01\x7f"
#define NAME_BYTES  "192.0.2.4@853 \xc3\xa9 \xff\xc3"

static struct stats_upstream ups[5];

/*
 * A view in which every counter has a value of its own (so that a value shows where it went)
 * and every upstream a hostile name.
 */
static void view_make(struct stats_view *v)
{
	uint64_t *c = (uint64_t *)&v->clients;

	memset(v, 0, sizeof(*v));
	v->version = "0.1.0";
	v->uptime_ms = 12345;
	for (size_t i = 0; i < sizeof(v->clients) / sizeof(uint64_t); i++) {
		c[i] = 1000 + i;
	}
	memset(v->clients.duration, 0, sizeof(v->clients.duration));
	v->clients.duration[0] = 5;
	v->clients.duration[3] = 2;
	v->clients.duration[STATS_N_BUCKETS - 1] = 1;
	v->clients.duration_ns = 6123456789;
	v->queries_in_flight = 3;
	v->clients_waiting = 4;
	v->tcp_clients_open = 2;
	v->has_cache = true;
	v->cache = (struct cache_stats){
		.hits = 201,
		.misses = 202,
		.stale_hits = 203,
		.inserts = 204,
		.not_cacheable = 205,
		.evicted_expired = 206,
		.evicted_live = 207,
		.refresh_failures = 208,
		.entries = 209,
		.bytes = 210,
	};
	memset(ups, 0, sizeof(ups));
	ups[0].name = NAME_QUOTE;
	ups[1].name = NAME_QUOTE;
	ups[2].name = NAME_BSLASH;
	ups[3].name = NAME_CTRL;
	ups[4].name = NAME_BYTES;
	for (size_t i = 0; i < 5; i++) {
		uint64_t *s = (uint64_t *)&ups[i].st;

		for (size_t k = 0; k < sizeof(ups[i].st) / sizeof(uint64_t); k++) {
			s[k] = 300 + 20 * i + k;
		}
		ups[i].srtt_ms = 12 + (unsigned)i;
		ups[i].state = (enum tls_upstream_state)(i % 4);
	}
	ups[3].backoff_ms = 4250;
	ups[4].st.handshakes_full = 1;
	ups[4].st.handshakes_resumed = 3;
	v->upstreams = ups;
	v->n_upstreams = 5;
}

/* @v in @fmt, as a string to free(). */
static char *render(const struct stats_view *v, enum stats_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(stats_view_write(v, fmt, f), 0);
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n') {
			return true;
		}
	}
	return false;
}

#define ASSERT_LINE(text, line)                                                                    \
	do {                                                                                       \
		bool found_ = has_line((text), (line));                                            \
		if (!found_) {                                                                     \
			fprintf(stderr, "\nmissing line: %s\n", (line));                           \
		}                                                                                  \
		CU_ASSERT(found_);                                                                 \
	} while (0)

#define ASSERT_HAS(text, s)                                                                        \
	do {                                                                                       \
		bool found_ = strstr((text), (s)) != NULL;                                         \
		if (!found_) {                                                                     \
			fprintf(stderr, "\nmissing: %s\n", (s));                                   \
		}                                                                                  \
		CU_ASSERT(found_);                                                                 \
	} while (0)

/* --- counting --- */

/* A query for www.example of @type; its length. */
static size_t query_make(uint8_t *m, uint16_t type)
{
	static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0,	 1,   0,   0,	0,   0,	  0,   0, 3,
				    'w',  'w',	'w',  7,    'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

	memcpy(m, q, sizeof(q));
	m[sizeof(q)] = (uint8_t)(type >> 8);
	m[sizeof(q) + 1] = (uint8_t)type;
	m[sizeof(q) + 2] = 0;
	m[sizeof(q) + 3] = 1;
	return sizeof(q) + 4;
}

static void test_count_query(void)
{
	struct stats_view v;
	uint8_t m[64];
	size_t len;
	char *t;

	memset(&v, 0, sizeof(v));
	v.version = "x";
	len = query_make(m, 1);
	stats_count_query(&v.clients, m, len);
	stats_count_query(&v.clients, m, len);
	stats_count_query(&v.clients, m, query_make(m, 28));
	stats_count_query(&v.clients, m, query_make(m, 65));
	stats_count_query(&v.clients, m, query_make(m, 255));
	stats_count_query(&v.clients, m, query_make(m, 666));
	stats_count_query(&v.clients, m, 11);	   /* shorter than a header */
	stats_count_query(&v.clients, m, len - 3); /* the question cut */
	m[5] = 0;				   /* QDCOUNT 0 */
	stats_count_query(&v.clients, m, len);
	t = render(&v, STATS_TEXT);
	ASSERT_LINE(t, "queries_by_type{type=\"A\"} 2");
	ASSERT_LINE(t, "queries_by_type{type=\"AAAA\"} 1");
	ASSERT_LINE(t, "queries_by_type{type=\"HTTPS\"} 1");
	ASSERT_LINE(t, "queries_by_type{type=\"ANY\"} 1");
	ASSERT_LINE(t, "queries_by_type{type=\"other\"} 1");
	ASSERT_LINE(t, "queries_by_type{type=\"none\"} 3");
	ASSERT_LINE(t, "queries_by_type{type=\"MX\"} 0");
	free(t);
}

/* An answer with @rcode (extended: its upper bits go to an OPT record); its length. */
static size_t answer_make(uint8_t *m, unsigned rcode, bool opt)
{
	size_t len = query_make(m, 1);
	static const uint8_t o[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};

	m[2] |= 0x80;
	m[3] = (uint8_t)(0x80 | (rcode & 0xf));
	if (opt) {
		m[11] = 1;
		memcpy(m + len, o, sizeof(o));
		m[len + 5] = (uint8_t)(rcode >> 4);
		len += sizeof(o);
	}
	return len;
}

static void test_count_answer(void)
{
	struct dns_client_query cq;
	struct stats_view v;
	uint8_t m[128], q[64];
	unsigned rcode;
	size_t len;
	char *t;

	memset(&v, 0, sizeof(v));
	v.version = "x";
	stats_count_answer(&v.clients, m, answer_make(m, 0, false), STATS_SRC_CACHE, 0);
	stats_count_answer(&v.clients, m, answer_make(m, 0, true), STATS_SRC_CACHE, 500000);
	stats_count_answer(&v.clients, m, answer_make(m, 3, true), STATS_SRC_UPSTREAM, 500001);
	stats_count_answer(&v.clients, m, answer_make(m, 2, false), STATS_SRC_SERVFAIL, 5000000000);
	stats_count_answer(&v.clients, m, answer_make(m, 2, true), STATS_SRC_UPSTREAM, 5000000001);
	stats_count_answer(&v.clients, m, answer_make(m, 9, false), STATS_SRC_STALE, 30000000);
	stats_count_answer(&v.clients, m, answer_make(m, 23, true), STATS_SRC_UPSTREAM, 1);

	/* dotd's own BADVERS, made as query.c makes it: RCODE 0 in the header, 1 in the OPT. */
	len = answer_make(q, 0, true);
	q[2] = 0x01; /* a query */
	q[3] = 0;
	q[len - 5] = 1; /* EDNS version 1 */
	CU_ASSERT_EQUAL(dns_msg_check_query(q, len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL(rcode, DNS_RCODE_BADVERS);
	CU_ASSERT_EQUAL(dns_msg_error(&cq, rcode, -1, NULL, m, sizeof(m), &len), 0);
	CU_ASSERT_EQUAL(m[3] & 0xf, 0);
	stats_count_answer(&v.clients, m, len, STATS_SRC_LOCAL, 2);

	t = render(&v, STATS_TEXT);
	ASSERT_LINE(t, "answers_by_rcode{rcode=\"NOERROR\"} 2");
	ASSERT_LINE(t, "answers_by_rcode{rcode=\"NXDOMAIN\"} 1");
	ASSERT_LINE(t, "answers_by_rcode{rcode=\"SERVFAIL\"} 2");
	ASSERT_LINE(t, "answers_by_rcode{rcode=\"BADVERS\"} 1");
	ASSERT_LINE(t, "answers_by_rcode{rcode=\"other\"} 2"); /* 9 NOTAUTH, 23 BADCOOKIE */
	ASSERT_LINE(t, "answers_by_rcode{rcode=\"FORMERR\"} 0");
	ASSERT_LINE(t, "answers_by_source{source=\"cache\"} 2");
	ASSERT_LINE(t, "answers_by_source{source=\"upstream\"} 3");
	ASSERT_LINE(t, "answers_by_source{source=\"servfail\"} 1");
	ASSERT_LINE(t, "answers_by_source{source=\"stale\"} 1");
	ASSERT_LINE(t, "answers_by_source{source=\"local\"} 1");
	/* A bucket holds what is at most its bound: 0, 500000, 1 and 2 ns in the first. */
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"0.0005\"} 4");
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"0.001\"} 5");
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"0.025\"} 5");
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"0.05\"} 6");
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"2.5\"} 6");
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"5\"} 7");
	ASSERT_LINE(t, "answer_duration_seconds_bucket{le=\"+Inf\"} 8");
	ASSERT_LINE(t, "answer_duration_seconds_count 8");
	ASSERT_LINE(t, "answer_duration_seconds_sum 10.031000005");
	free(t);
}

/* --- the writers --- */

/*
 * Every counter the SIGUSR1 lines log (their key=value names), by the value view_make() gave
 * it, in all three formats.
 */
static void test_everything_logged(void)
{
	static const char *const clients[] = {
		"dropped",
		"answered_here",
		"cache_answers",
		"stale_answers",
		"coalesced",
		"prefetches",
		"forwarded",
		"answers",
		"servfail",
		"tries",
		"hedged",
		"truncated",
		"scrubbed",
		"tcp_connections",
		"tcp_evicted",
		"tcp_idle_closed",
		"tcp_overflow_closed",
		"tcp_paused",
		"refused",
		"limited",
		"udp_send_dropped",
		"udp_send_calls",
	};
	static const char *const cache[] = {
		"hits", "misses", "stale_hits", "inserts", "not_cacheable", "refresh_failures",
	};
	/* In the order of struct tls_upstream_stats, which view_make() numbered. */
	static const char *const upstream[] = {
		"queries",
		"answers",
		"connections",
		"handshakes_full",
		"handshakes_resumed",
		"auth_failures",
		"conn_failures",
		"proto_errors",
		"dead",
		"server_closes",
		"idle_closes",
		"backoffs",
		"tickets",
		"resent",
	};
	struct stats_view v;
	const struct resolver_stats *s;
	char *t, *p, *j, line[256];
	uint64_t val[sizeof(clients) / sizeof(clients[0])];

	view_make(&v);
	s = &v.clients;
	/* The values view_make() gave them, in the order of struct resolver_stats. */
	{
		const uint64_t in_struct[] = {
			s->dropped,
			s->answered_here,
			s->cache_answers,
			s->stale_answers,
			s->coalesced,
			s->prefetches,
			s->forwarded,
			s->answers,
			s->servfail,
			s->tries,
			s->hedged,
			s->truncated,
			s->scrubbed,
			s->tcp_clients,
			s->tcp_evicted,
			s->tcp_idle_closed,
			s->tcp_overflow_closed,
			s->tcp_paused,
			s->refused,
			s->limited,
			s->udp_send_dropped,
			s->udp_send_calls,
		};
		memcpy(val, in_struct, sizeof(val));
	}
	t = render(&v, STATS_TEXT);
	p = render(&v, STATS_PROMETHEUS);
	j = render(&v, STATS_JSON);
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		snprintf(line, sizeof(line), "%s %llu", clients[i], (unsigned long long)val[i]);
		ASSERT_LINE(t, line);
		snprintf(line, sizeof(line), "dotd_%s_total %llu", clients[i],
			 (unsigned long long)val[i]);
		ASSERT_LINE(p, line);
		snprintf(line, sizeof(line), "\"%s\":%llu,", clients[i],
			 (unsigned long long)val[i]);
		ASSERT_HAS(j, line);
	}
	snprintf(line, sizeof(line), "queries{transport=\"udp\"} %llu",
		 (unsigned long long)s->queries_udp);
	ASSERT_LINE(t, line);
	snprintf(line, sizeof(line), "dotd_queries_total{transport=\"tcp\"} %llu",
		 (unsigned long long)s->queries_tcp);
	ASSERT_LINE(p, line);
	snprintf(line, sizeof(line), "\"queries\":{\"udp\":%llu,\"tcp\":%llu}",
		 (unsigned long long)s->queries_udp, (unsigned long long)s->queries_tcp);
	ASSERT_HAS(j, line);

	for (size_t i = 0; i < sizeof(cache) / sizeof(cache[0]); i++) {
		unsigned long long want = i < 5 ? 201 + i : 208;

		snprintf(line, sizeof(line), "cache_%s %llu", cache[i], want);
		ASSERT_LINE(t, line);
		snprintf(line, sizeof(line), "dotd_cache_%s_total %llu", cache[i], want);
		ASSERT_LINE(p, line);
		snprintf(line, sizeof(line), "\"cache_%s\":%llu", cache[i], want);
		ASSERT_HAS(j, line);
	}
	ASSERT_LINE(t, "cache_entries 209");
	ASSERT_LINE(t, "cache_bytes 210");
	ASSERT_LINE(t, "cache_evictions{reason=\"expired\"} 206");
	ASSERT_LINE(p, "dotd_cache_entries 209");
	ASSERT_LINE(p, "dotd_cache_bytes 210");
	ASSERT_LINE(p, "dotd_cache_evictions_total{reason=\"live\"} 207");
	ASSERT_HAS(j, "\"cache_entries\":209,\"cache_bytes\":210,");
	ASSERT_HAS(j, "\"cache_evictions\":{\"expired\":206,\"live\":207}");

	/* The third upstream (its name only has a backslash): counters 340 + k. */
	for (size_t k = 0; k < sizeof(upstream) / sizeof(upstream[0]); k++) {
		snprintf(line, sizeof(line), "upstream_%s{upstream=\"192.0.2.2@853\\\\\"} %zu",
			 upstream[k], 340 + k);
		ASSERT_LINE(t, line);
		snprintf(line, sizeof(line),
			 "dotd_upstream_%s_total{upstream=\"192.0.2.2@853\\\\\"} %zu", upstream[k],
			 340 + k);
		ASSERT_LINE(p, line);
		snprintf(line, sizeof(line), "\"192.0.2.2@853\\\\\":%zu", 340 + k);
		ASSERT_HAS(j, line);
	}
	/* The gauges after the counters: in_flight, queued, conns_open; srtt_ms in seconds. */
	ASSERT_LINE(t, "upstream_in_flight{upstream=\"192.0.2.2@853\\\\\"} 354");
	ASSERT_LINE(p, "dotd_upstream_queued{upstream=\"192.0.2.2@853\\\\\"} 355");
	ASSERT_LINE(p, "dotd_upstream_connections_open{upstream=\"192.0.2.2@853\\\\\"} 356");
	ASSERT_LINE(p, "dotd_upstream_srtt_seconds{upstream=\"192.0.2.2@853\\\\\"} 0.014");
	ASSERT_LINE(t, "upstream_srtt_seconds{upstream=\"192.0.2.2@853\\\\\"} 0.014");
	ASSERT_HAS(j, "\"upstream_srtt_seconds\":{");
	ASSERT_HAS(j, "\"192.0.2.2@853\\\\\":0.014");
	/* The tables after the counters of struct resolver_stats: type, RCODE, source. */
	ASSERT_LINE(t, "queries_by_type{type=\"A\"} 1024");
	ASSERT_LINE(p, "dotd_queries_by_type_total{type=\"none\"} 1039");
	ASSERT_HAS(j, "\"answers_by_rcode\":{\"NOERROR\":1040,\"FORMERR\":1041,");
	ASSERT_LINE(p, "dotd_answers_by_rcode_total{rcode=\"other\"} 1047");
	ASSERT_LINE(t, "answers_by_source{source=\"servfail\"} 1052");
	ASSERT_HAS(j, "\"answers_by_source\":{\"cache\":1048,\"stale\":1049,\"upstream\":1050,"
		      "\"local\":1051,\"servfail\":1052}");
	ASSERT_LINE(p, "dotd_info{version=\"0.1.0\"} 1");
	ASSERT_LINE(p, "dotd_uptime_seconds 12.345");
	ASSERT_LINE(t, "uptime_seconds 12.345");
	ASSERT_HAS(j, "{\"info\":{\"0.1.0\":1},\"uptime_seconds\":12.345,");
	ASSERT_LINE(p, "dotd_queries_in_flight 3");
	ASSERT_LINE(p, "dotd_clients_waiting 4");
	ASSERT_LINE(p, "dotd_tcp_connections_open 2");
	free(t);
	free(p);
	free(j);
}

static void test_json_escaping(void)
{
	struct stats_view v;
	char *j;

	view_make(&v);
	j = render(&v, STATS_JSON);
	/* Quote and newline escaped, so that the name cannot end the string or the object. */
	ASSERT_HAS(j, "\"upstream_queries\":{\"192.0.2.1@853\\\"} 1\\n# TYPE x counter\":300,"
		      "\"192.0.2.1@853\\\"} 1\\n# TYPE x counter#2\":320,"
		      "\"192.0.2.2@853\\\\\":340,"
		      "\"192.0.2.3@853\\n\\t\\u0001\x7f\":360,"
		      "\"192.0.2.4@853 \xc3\xa9 \\ufffd\\ufffd\":380}");
	/* The state of each upstream, one object per upstream. */
	ASSERT_HAS(j, "\"upstream_state\":{\"192.0.2.1@853\\\"} 1\\n# TYPE x counter\":{\"idle\":1,"
		      "\"connecting\":0,\"up\":0,\"backed-off\":0,\"resolving\":0},");
	ASSERT_HAS(j, "\"192.0.2.4@853 \xc3\xa9 \\ufffd\\ufffd\":{\"idle\":1,\"connecting\":0,"
		      "\"up\":0,\"backed-off\":0,\"resolving\":0}}}\n");
	/* One line, and no control character: each came out escaped. */
	for (const char *c = j; *c; c++) {
		CU_ASSERT((unsigned char)*c >= 0x20 || (*c == '\n' && c[1] == '\0'));
	}
	free(j);
}

static void test_prometheus_escaping(void)
{
	struct stats_view v;
	char *p;

	view_make(&v);
	p = render(&v, STATS_PROMETHEUS);
	ASSERT_LINE(p, "dotd_upstream_queries_total{upstream=\"192.0.2.1@853\\\"} 1\\n# TYPE x "
		       "counter\"} 300");
	ASSERT_LINE(p, "dotd_upstream_queries_total{upstream=\"192.0.2.1@853\\\"} 1\\n# TYPE x "
		       "counter#2\"} 320");
	ASSERT_LINE(p, "dotd_upstream_queries_total{upstream=\"192.0.2.2@853\\\\\"} 340");
	/* Only the line feed is escaped here; a tab and other bytes are UTF-8 as they are. */
	ASSERT_LINE(p, "dotd_upstream_queries_total{upstream=\"192.0.2.3@853\\n\t\x01\x7f\"} 360");
	ASSERT_LINE(p, "dotd_upstream_queries_total{upstream=\"192.0.2.4@853 \xc3\xa9 "
		       "\xef\xbf\xbd\xef\xbf\xbd\"} 380");
	ASSERT_LINE(p, "dotd_upstream_state{upstream=\"192.0.2.3@853\\n\t\x01\x7f\",state="
		       "\"backed-off\"} 1");
	ASSERT_LINE(p, "dotd_upstream_backoff_seconds{upstream=\"192.0.2.3@853\\n\t\x01\x7f\"} "
		       "4.250");
	/* Every line a comment or a sample of ours: no name broke out of its quotes. */
	for (const char *l = p; *l; l = strchr(l, '\n') + 1) {
		CU_ASSERT(strncmp(l, "# HELP dotd_", 12) == 0 ||
			  strncmp(l, "# TYPE dotd_", 12) == 0 || strncmp(l, "dotd_", 5) == 0);
	}
	free(p);
}

/* The family a sample line of the exposition format belongs to. */
static void family_of(const char *line, char *out, size_t size, const char *histogram)
{
	size_t n = strcspn(line, "{ ");

	snprintf(out, size, "%.*s", (int)n, line);
	if (histogram && strncmp(out, histogram, strlen(histogram)) == 0) {
		out[strlen(histogram)] = '\0';
	}
}

static void test_prometheus_families(void)
{
	char names[256][96], cur[96] = "", fam[96];
	size_t n = 0;
	bool typed = false;
	struct stats_view v;
	char *p, *l;

	view_make(&v);
	p = render(&v, STATS_PROMETHEUS);
	for (l = p; *l; l = strchr(l, '\n') + 1) {
		if (strncmp(l, "# HELP ", 7) == 0) {
			/* A new family: never seen before, then its TYPE, then its samples. */
			family_of(l + 7, fam, sizeof(fam), NULL);
			for (size_t i = 0; i < n; i++) {
				CU_ASSERT(strcmp(names[i], fam) != 0);
			}
			CU_ASSERT_FATAL(n < 256);
			snprintf(names[n++], sizeof(names[0]), "%s", fam);
			snprintf(cur, sizeof(cur), "%s", fam);
			typed = false;
			CU_ASSERT(strncmp(strchr(l, '\n') + 1, "# TYPE ", 7) == 0);
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			const char *kind;

			family_of(l + 7, fam, sizeof(fam), NULL);
			CU_ASSERT(strcmp(fam, cur) == 0);
			CU_ASSERT(!typed);
			typed = true;
			kind = l + 7 + strlen(fam) + 1;
			/* Counters and only counters end in _total. */
			if (strncmp(kind, "counter\n", 8) == 0) {
				CU_ASSERT(strlen(fam) > 6 &&
					  strcmp(fam + strlen(fam) - 6, "_total") == 0);
			} else {
				CU_ASSERT(strlen(fam) <= 6 ||
					  strcmp(fam + strlen(fam) - 6, "_total") != 0);
				CU_ASSERT(strncmp(kind, "gauge\n", 6) == 0 ||
					  strncmp(kind, "histogram\n", 10) == 0);
			}
			continue;
		}
		family_of(l, fam, sizeof(fam), "dotd_answer_duration_seconds");
		CU_ASSERT(typed);
		CU_ASSERT(strcmp(fam, cur) == 0);
	}
	CU_ASSERT(n > 40);
	free(p);
}

/* Buckets cumulative and in order, +Inf the count, in the exposition and in JSON. */
static void test_histogram(void)
{
	struct stats_view v;
	char *p, *j, *l;
	unsigned long long prev = 0, count = 0, inf = 0;
	double prev_le = 0;
	int n = 0;

	view_make(&v);
	p = render(&v, STATS_PROMETHEUS);
	static const char bucket[] = "dotd_answer_duration_seconds_bucket";

	for (l = strstr(p, bucket); l && strncmp(l, bucket, sizeof(bucket) - 1) == 0;
	     l = strchr(l, '\n') + 1) {
		char le[16];
		unsigned long long c;

		CU_ASSERT_FATAL(sscanf(l,
				       "dotd_answer_duration_seconds_bucket{le=\"%15[^\"]\"} %llu",
				       le, &c) == 2);
		CU_ASSERT(c >= prev);
		prev = c;
		if (strcmp(le, "+Inf") == 0) {
			inf = c;
		} else {
			CU_ASSERT(strtod(le, NULL) > prev_le);
			prev_le = strtod(le, NULL);
		}
		n++;
	}
	CU_ASSERT_EQUAL(n, STATS_N_BUCKETS);
	CU_ASSERT_EQUAL(prev, inf);
	CU_ASSERT(sscanf(strstr(p, "\ndotd_answer_duration_seconds_count "),
			 "\ndotd_answer_duration_seconds_count %llu", &count) == 1);
	CU_ASSERT_EQUAL(count, 8);
	CU_ASSERT_EQUAL(inf, 8);
	ASSERT_LINE(p, "dotd_answer_duration_seconds_bucket{le=\"0.0005\"} 5");
	ASSERT_LINE(p, "dotd_answer_duration_seconds_bucket{le=\"0.0025\"} 5");
	ASSERT_LINE(p, "dotd_answer_duration_seconds_bucket{le=\"0.005\"} 7");
	ASSERT_LINE(p, "dotd_answer_duration_seconds_bucket{le=\"5\"} 7");
	ASSERT_LINE(p, "dotd_answer_duration_seconds_sum 6.123456789");
	j = render(&v, STATS_JSON);
	ASSERT_HAS(j, "\"answer_duration_seconds\":{\"buckets\":{\"0.0005\":5,\"0.001\":5,"
		      "\"0.0025\":5,\"0.005\":7,");
	ASSERT_HAS(j, "\"5\":7,\"+Inf\":8},\"sum\":6.123456789,\"count\":8}");
	free(p);
	free(j);
}

static void test_upstreams_write(void)
{
	struct stats_view v;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	view_make(&v);
	f = open_memstream(&buf, &len);
	CU_ASSERT_FATAL(f != NULL);
	ups[0].st.handshakes_full = 0;
	ups[0].st.handshakes_resumed = 0;
	CU_ASSERT_EQUAL(stats_view_upstreams_write(&v, f), 0);
	fclose(f);
	/* One line per upstream, the newline of a name escaped. */
	ASSERT_LINE(buf, "\"192.0.2.1@853\\\"} 1\\n# TYPE x counter\" state=idle srtt_ms=12 "
			 "backoff_s=- conns_open=316 in_flight=314 queued=315 handshakes_full=0 "
			 "handshakes_resumed=0 resumption=-");
	ASSERT_LINE(buf, "\"192.0.2.3@853\\n\t\x01\x7f\" state=backed-off srtt_ms=15 "
			 "backoff_s=4.250 conns_open=376 in_flight=374 queued=375 "
			 "handshakes_full=363 handshakes_resumed=364 resumption=0.50");
	ASSERT_LINE(buf, "\"192.0.2.4@853 \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\" state=idle "
			 "srtt_ms=16 backoff_s=- conns_open=396 in_flight=394 queued=395 "
			 "handshakes_full=1 handshakes_resumed=3 resumption=0.75");
	ASSERT_HAS(buf, "\" state=connecting srtt_ms=13 ");
	ASSERT_HAS(buf, "\" state=up srtt_ms=14 ");
	len = 0;
	for (const char *c = buf; *c; c++) {
		len += *c == '\n';
	}
	CU_ASSERT_EQUAL(len, 5);
	free(buf);
}

/* A stream that fails gives -EIO, in every format. */
static void test_write_error(void)
{
	struct stats_view v;
	FILE *f = fopen("/dev/null", "r");

	CU_ASSERT_FATAL(f != NULL);
	view_make(&v);
	CU_ASSERT_EQUAL(stats_view_write(&v, STATS_TEXT, f), -EIO);
	CU_ASSERT_EQUAL(stats_view_write(&v, STATS_JSON, f), -EIO);
	CU_ASSERT_EQUAL(stats_view_write(&v, STATS_PROMETHEUS, f), -EIO);
	CU_ASSERT_EQUAL(stats_view_upstreams_write(&v, f), -EIO);
	fclose(f);
}

/* Without a cache and without upstreams: their families are empty or absent, still valid. */
static void test_empty(void)
{
	struct stats_view v;
	char *p, *j;

	memset(&v, 0, sizeof(v));
	v.version = "0.1.0";
	v.upstreams = ups;
	p = render(&v, STATS_PROMETHEUS);
	CU_ASSERT(strstr(p, "dotd_cache_entries") == NULL);
	CU_ASSERT(strstr(p, "dotd_cache_hits_total") == NULL);
	ASSERT_LINE(p, "# TYPE dotd_upstream_queries_total counter");
	CU_ASSERT(strstr(p, "dotd_upstream_queries_total{") == NULL);
	ASSERT_LINE(p, "dotd_answer_duration_seconds_bucket{le=\"+Inf\"} 0");
	j = render(&v, STATS_JSON);
	ASSERT_HAS(j, "\"upstream_queries\":{},");
	ASSERT_HAS(j, "\"upstream_state\":{}}\n");
	free(p);
	free(j);
}

/*
 * A host name upstream not resolved yet: "resolving" by name in the three formats and the
 * upstreams line, and no backoff (it is not one: it ends with an address, not at a time).
 */
static void test_resolving(void)
{
	struct stats_view v;
	char *p, *j, *buf = NULL;
	size_t len = 0;
	FILE *f;

	view_make(&v);
	ups[2].state = TLS_UPSTREAM_RESOLVING;
	p = render(&v, STATS_PROMETHEUS);
	ASSERT_LINE(p, "dotd_upstream_state{upstream=\"192.0.2.2@853\\\\\",state=\"resolving\"} 1");
	ASSERT_LINE(p, "dotd_upstream_state{upstream=\"192.0.2.2@853\\\\\",state=\"idle\"} 0");
	ASSERT_LINE(p, "dotd_upstream_state{upstream=\"192.0.2.1@853\\\"} 1\\n# TYPE x "
		       "counter\",state=\"resolving\"} 0");
	j = render(&v, STATS_JSON);
	ASSERT_HAS(j, "\"192.0.2.2@853\\\\\":{\"idle\":0,\"connecting\":0,\"up\":0,"
		      "\"backed-off\":0,\"resolving\":1}");
	f = open_memstream(&buf, &len);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(stats_view_upstreams_write(&v, f), 0);
	fclose(f);
	ASSERT_HAS(buf, "\"192.0.2.2@853\\\\\" state=resolving srtt_ms=14 backoff_s=- ");
	CU_ASSERT_STRING_EQUAL(tls_upstream_state_name(TLS_UPSTREAM_RESOLVING), "resolving");
	ups[2].state = TLS_UPSTREAM_UP;
	free(p);
	free(j);
	free(buf);
}

int main(int argc, char **argv)
{
	CU_TestInfo tests[] = {
		{"count by type", test_count_query},
		{"count by rcode, source, duration", test_count_answer},
		{"every logged counter in every format", test_everything_logged},
		{"json: names escaped", test_json_escaping},
		{"prometheus: names escaped", test_prometheus_escaping},
		{"prometheus: each family once, then its samples", test_prometheus_families},
		{"histogram cumulative", test_histogram},
		{"one line per upstream", test_upstreams_write},
		{"write errors", test_write_error},
		{"no cache, no upstreams", test_empty},
		{"an upstream resolving", test_resolving},
		CU_TEST_INFO_NULL,
	};

	if (argc == 2 && (strcmp(argv[1], "--prometheus") == 0 || strcmp(argv[1], "--json") == 0)) {
		struct stats_view v;

		view_make(&v);
		return stats_view_write(&v, argv[1][2] == 'p' ? STATS_PROMETHEUS : STATS_JSON,
					stdout) != 0;
	}
	return unit_run("stats", tests);
}
