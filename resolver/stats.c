/*
 * stats: counting answers on the query path, and writing every counter of the daemon.
 *
 * Counting (stats_count_query, stats_count_answer) is a few additions into struct
 * resolver_stats, called by query.c for each message received and each answer handed to a
 * socket. Writing first gathers a struct stats_view (stats_int.h) from the resolver, the cache
 * and each upstream at one moment, then walks one list of metric families for all three
 * formats, so that a counter cannot be in one format and missing from another:
 *
 *   text        queries_by_type{type="A"} 7              (no prefix, no _total)
 *   Prometheus  # HELP and # TYPE once per family, then dotd_queries_by_type_total{type="A"} 7
 *   JSON        "queries_by_type":{"A":7,...}           (label values as keys)
 *
 * Label values are escaped for each format (JSON strings; the exposition format's backslash,
 * quote and newline), and bytes that are not UTF-8 become U+FFFD: both formats are UTF-8 text.
 * An upstream configured twice at one address (two authentications) is written "IP@port#2" the
 * second time, so that no two samples of a family have the same labels.
 *
 * Everything here runs on the loop's thread; a view borrows from the resolver for the time of
 * one write.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "dns_wire.h"
#include "log.h"
#include "resolver.h"
#include "stats.h"
#include "stats_int.h"
#include "worker.h"

#ifndef DOTD_VERSION
#define DOTD_VERSION "unknown"
#endif

/* --- the tables --- */

static const struct {
	uint16_t type;
	const char *name;
} qtypes[] = {
	{1, "A"},      {2, "NS"},   {5, "CNAME"},   {6, "SOA"},	  {12, "PTR"},
	{15, "MX"},    {16, "TXT"}, {28, "AAAA"},   {33, "SRV"},  {64, "SVCB"},
	{65, "HTTPS"}, {43, "DS"},  {48, "DNSKEY"}, {255, "ANY"},
};

#define N_KNOWN_QTYPES (sizeof(qtypes) / sizeof(qtypes[0]))
#define QTYPE_OTHER    N_KNOWN_QTYPES
#define QTYPE_NONE     (N_KNOWN_QTYPES + 1)
_Static_assert(N_KNOWN_QTYPES + 2 == STATS_N_QTYPES, "STATS_N_QTYPES");

static const char *qtype_name(size_t i)
{
	return i < N_KNOWN_QTYPES ? qtypes[i].name : i == QTYPE_OTHER ? "other" : "none";
}

/* RCODE 0..5 by value, then BADVERS (16, extended: RFC 6891 §6.1.3), then everything else. */
#define RCODE_BADVERS_AT 6
#define RCODE_OTHER_AT	 7
static const char *const rcode_names[STATS_N_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other",
};

static const char *const source_names[STATS_N_SOURCES] = {
	[STATS_SRC_CACHE] = "cache",	   [STATS_SRC_STALE] = "stale",
	[STATS_SRC_UPSTREAM] = "upstream", [STATS_SRC_LOCAL] = "local",
	[STATS_SRC_SERVFAIL] = "servfail",
};

/* Upper bounds of the duration buckets in ns, and as the le label spells them in seconds. */
static const uint64_t bucket_ns[STATS_N_BUCKETS - 1] = {
	500000,	   1000000,   2500000,	 5000000,    10000000,	 25000000,   50000000,
	100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000,
};
static const char *const bucket_le[STATS_N_BUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1",	  "0.25",  "0.5",    "1",     "2.5",  "5",     "+Inf",
};

#define N_STATES TLS_UPSTREAM_N_STATES

/* --- counting --- */

void stats_count_qtype(struct resolver_stats *s, int qtype)
{
	size_t i = QTYPE_NONE;

	if (qtype >= 0) {
		for (i = 0; i < N_KNOWN_QTYPES && qtypes[i].type != qtype; i++) {
		}
	}
	s->by_qtype[i]++;
}

void stats_count_query(struct resolver_stats *s, const uint8_t *msg, size_t len)
{
	struct dns_question q;

	stats_count_qtype(s, dns_question_parse(msg, len, &q) == 0 ? q.qtype : -1);
}

void stats_count_answer(struct resolver_stats *s, const uint8_t *msg, size_t len,
			enum stats_source src, uint64_t elapsed_ns)
{
	unsigned rcode = len >= DNS_HDR_LEN ? dns_rcode(msg) : 0;
	struct dns_opt opt;
	size_t b = 0;

	/*
	 * The upper 8 bits are in the OPT record, if there is one (RFC 6891 §6.1.3). Finding it
	 * walks the records; an answer without additional records is not walked.
	 */
	if (len >= DNS_HDR_LEN && dns_arcount(msg) > 0 && dns_opt_find(msg, len, &opt) == 0 &&
	    opt.present) {
		rcode |= (unsigned)opt.ext_rcode << 4;
	}
	if (rcode <= DNS_RCODE_REFUSED) {
		s->by_rcode[rcode]++;
	} else {
		s->by_rcode[rcode == DNS_RCODE_BADVERS ? RCODE_BADVERS_AT : RCODE_OTHER_AT]++;
	}
	REQUIRE(src < STATS_N_SOURCES);
	s->by_source[src]++;
	while (b < STATS_N_BUCKETS - 1 && elapsed_ns > bucket_ns[b]) {
		b++;
	}
	s->duration[b]++;
	s->duration_ns += elapsed_ns;
}

/* --- the log lines (SIGUSR1 and exit) --- */

struct line {
	char buf[1024];
	size_t len;
};

static void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf)) {
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0) {
		l->len += (size_t)n;
	}
}

void stats_log_answers(const struct resolver_stats *s)
{
	struct line l = {.len = 0};
	uint64_t cum = 0;

	for (size_t i = 0; i < STATS_N_QTYPES; i++) {
		line_add(&l, " %s=%llu", qtype_name(i), (unsigned long long)s->by_qtype[i]);
	}
	log_notice(LOG_MAIN, "queries by type:%s", l.buf);
	l.len = 0;
	for (size_t i = 0; i < STATS_N_RCODES; i++) {
		line_add(&l, " %s=%llu", rcode_names[i], (unsigned long long)s->by_rcode[i]);
	}
	log_notice(LOG_MAIN, "answers by rcode:%s", l.buf);
	l.len = 0;
	for (size_t i = 0; i < STATS_N_SOURCES; i++) {
		line_add(&l, " %s=%llu", source_names[i], (unsigned long long)s->by_source[i]);
	}
	log_notice(LOG_MAIN, "answers by source:%s", l.buf);
	l.len = 0;
	for (size_t i = 0; i < STATS_N_BUCKETS; i++) {
		cum += s->duration[i];
		line_add(&l, " le_%s=%llu", bucket_le[i], (unsigned long long)cum);
	}
	log_notice(LOG_MAIN, "answer duration: count=%llu sum_us=%llu%s", (unsigned long long)cum,
		   (unsigned long long)(s->duration_ns / 1000), l.buf);
}

/* --- escaping --- */

/* The length of the valid UTF-8 sequence at @p (at most @left bytes), or 0 (RFC 3629 §4). */
static size_t utf8_len(const uint8_t *p, size_t left)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80) {
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = p[0] == 0xed ? 0x9f : 0xbf; /* no surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (left < n || p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			return 0;
		}
	}
	return n;
}

/* @s as the inside of a JSON string (RFC 8259 §7). */
static void put_json_string(FILE *f, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t left = strlen(s);

	while (left > 0) {
		size_t n = utf8_len(p, left);

		if (n == 0) {
			fputs("\\ufffd", f);
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p == '\r') {
			fputs("\\r", f);
		} else if (*p < 0x20) {
			fprintf(f, "\\u%04x", *p);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
		left -= n;
	}
}

/*
 * @s as a label value of the exposition format: backslash, double quote and line feed are the
 * only escapes it has; everything else is UTF-8 as it is.
 */
static void put_label_value(FILE *f, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t left = strlen(s);

	while (left > 0) {
		size_t n = utf8_len(p, left);

		if (n == 0) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
		left -= n;
	}
}

/* --- the writer: families and samples, in the three formats --- */

enum kind {
	COUNTER,
	GAUGE,
};

/* A value with a fixed number of decimals: n / 10^decimals, written exactly. */
struct value {
	uint64_t n;
	unsigned decimals; /**< 0, 3 (ms) or 9 (ns) */
};

static struct value count_of(uint64_t n)
{
	return (struct value){.n = n, .decimals = 0};
}

static struct value ms_of(uint64_t ms)
{
	return (struct value){.n = ms, .decimals = 3};
}

struct writer {
	FILE *f; /**< borrowed */
	enum stats_format fmt;
	const char *name; /**< the family being written */
	enum kind kind;
	const char *label; /**< its label names, or NULL */
	const char *label2;
	size_t n_families;     /**< JSON: members written in the top object */
	size_t n_samples;      /**< JSON: members written in the family's object */
	const char *open;      /**< JSON, two labels: the first value whose object is open */
	size_t n_inner;	       /**< JSON, two labels: members written in that object */
	const char **up_names; /**< owned: the upstreams' names, made unique */
};

static void put_value(FILE *f, struct value v)
{
	uint64_t scale = 1;

	if (v.decimals == 0) {
		fprintf(f, "%llu", (unsigned long long)v.n);
		return;
	}
	for (unsigned i = 0; i < v.decimals; i++) {
		scale *= 10;
	}
	fprintf(f, "%llu.%0*llu", (unsigned long long)(v.n / scale), (int)v.decimals,
		(unsigned long long)(v.n % scale));
}

/* The name of the family's samples: dotd_ and _total for a counter in the exposition format. */
static void put_name(const struct writer *w, const char *suffix)
{
	if (w->fmt == STATS_PROMETHEUS) {
		fprintf(w->f, "dotd_%s%s%s", w->name, w->kind == COUNTER ? "_total" : "", suffix);
	} else {
		fprintf(w->f, "%s%s", w->name, suffix);
	}
}

static void json_member(struct writer *w, const char *key)
{
	fputs(w->n_families++ ? ",\"" : "\"", w->f);
	put_json_string(w->f, key);
	fputs("\":", w->f);
}

/* Start the family @name; @label and @label2 name its labels (NULL: fewer). */
static void family(struct writer *w, const char *name, enum kind kind, const char *help,
		   const char *label, const char *label2)
{
	w->name = name;
	w->kind = kind;
	w->label = label;
	w->label2 = label2;
	w->n_samples = 0;
	w->open = NULL;
	switch (w->fmt) {
	case STATS_PROMETHEUS:
		fputs("# HELP ", w->f);
		put_name(w, "");
		fprintf(w->f, " %s\n# TYPE ", help);
		put_name(w, "");
		fprintf(w->f, " %s\n", kind == COUNTER ? "counter" : "gauge");
		break;
	case STATS_JSON:
		json_member(w, name);
		if (label) {
			fputc('{', w->f);
		}
		break;
	case STATS_TEXT:
		break;
	}
}

static void family_end(struct writer *w)
{
	if (w->fmt == STATS_JSON) {
		if (w->open) {
			fputc('}', w->f);
		}
		if (w->label) {
			fputc('}', w->f);
		}
	}
}

/* One sample of the family, with the label values @lv and @lv2 its labels need. */
static void sample2(struct writer *w, const char *lv, const char *lv2, struct value v)
{
	if (w->fmt != STATS_JSON) {
		put_name(w, "");
		if (w->label) {
			fprintf(w->f, "{%s=\"", w->label);
			put_label_value(w->f, lv);
			if (w->label2) {
				fprintf(w->f, "\",%s=\"", w->label2);
				put_label_value(w->f, lv2);
			}
			fputs("\"}", w->f);
		}
		fputc(' ', w->f);
		put_value(w->f, v);
		fputc('\n', w->f);
		return;
	}
	if (w->label2 && w->open != lv) {
		/* The samples of one first label value come together: one object for them. */
		if (w->open) {
			fputc('}', w->f);
		}
		fputs(w->n_samples++ ? ",\"" : "\"", w->f);
		put_json_string(w->f, lv);
		fputs("\":{", w->f);
		w->open = lv;
		w->n_inner = 0;
	}
	if (w->label2) {
		fputs(w->n_inner++ ? ",\"" : "\"", w->f);
		put_json_string(w->f, lv2);
		fputs("\":", w->f);
	} else if (w->label) {
		fputs(w->n_samples++ ? ",\"" : "\"", w->f);
		put_json_string(w->f, lv);
		fputs("\":", w->f);
	}
	put_value(w->f, v);
}

static void sample(struct writer *w, const char *lv, struct value v)
{
	sample2(w, lv, NULL, v);
}

/* A family of one sample and no labels. */
static void single(struct writer *w, const char *name, enum kind kind, const char *help,
		   struct value v)
{
	family(w, name, kind, help, NULL, NULL);
	sample(w, NULL, v);
	family_end(w);
}

/* The duration histogram: cumulative buckets, their sum and count. */
static void histogram(struct writer *w, const struct resolver_stats *s)
{
	struct value sum = {.n = s->duration_ns, .decimals = 9};
	uint64_t cum = 0;

	w->name = "answer_duration_seconds";
	w->kind = GAUGE; /* no _total */
	if (w->fmt == STATS_JSON) {
		json_member(w, w->name);
		fputs("{\"buckets\":{", w->f);
		for (size_t i = 0; i < STATS_N_BUCKETS; i++) {
			cum += s->duration[i];
			fprintf(w->f, "%s\"%s\":%llu", i ? "," : "", bucket_le[i],
				(unsigned long long)cum);
		}
		fputs("},\"sum\":", w->f);
		put_value(w->f, sum);
		fprintf(w->f, ",\"count\":%llu}", (unsigned long long)cum);
		return;
	}
	if (w->fmt == STATS_PROMETHEUS) {
		fputs("# HELP dotd_answer_duration_seconds time from a query's arrival to its "
		      "answer "
		      "handed to the socket\n"
		      "# TYPE dotd_answer_duration_seconds histogram\n",
		      w->f);
	}
	for (size_t i = 0; i < STATS_N_BUCKETS; i++) {
		cum += s->duration[i];
		put_name(w, "_bucket");
		fprintf(w->f, "{le=\"%s\"} %llu\n", bucket_le[i], (unsigned long long)cum);
	}
	put_name(w, "_sum");
	fputc(' ', w->f);
	put_value(w->f, sum);
	fputc('\n', w->f);
	put_name(w, "_count");
	fprintf(w->f, " %llu\n", (unsigned long long)cum);
}

/* Counters of one struct, by name and offset; every one is a uint64_t. */
struct field {
	const char *name;
	const char *help;
	size_t off;
};

#define CLIENT(f, name, help)                                                                      \
	{                                                                                          \
		name, help, offsetof(struct resolver_stats, f)                                     \
	}
#define UPSTREAM(f, help)                                                                          \
	{                                                                                          \
		"upstream_" #f, help, offsetof(struct tls_upstream_stats, f)                       \
	}

/* Named as resolver_stats_log() names them, so that the log and the statistics agree. */
static const struct field client_fields[] = {
	CLIENT(dropped, "dropped", "client messages dropped: shorter than a header, or QR set"),
	CLIENT(answered_here, "answered_here",
	       "FORMERR, NOTIMP, REFUSED and BADVERS answers to queries not forwarded"),
	CLIENT(cache_answers, "cache_answers", "answers from a fresh cache entry"),
	CLIENT(stale_answers, "stale_answers", "answers from an expired cache entry (RFC 8767)"),
	CLIENT(coalesced, "coalesced", "client queries that joined an identical one in flight"),
	CLIENT(prefetches, "prefetches", "background refreshes started by a cache hit"),
	CLIENT(forwarded, "forwarded", "upstream queries started"),
	CLIENT(tries, "tries", "upstream tries started (one or more per forwarded query)"),
	CLIENT(hedged, "hedged", "tries started because an earlier one was slow"),
	CLIENT(answers, "answers", "upstream answers passed on to clients"),
	CLIENT(servfail, "servfail", "SERVFAIL answers because no upstream answered"),
	CLIENT(truncated, "truncated", "UDP answers cut with TC"),
	CLIENT(scrubbed, "scrubbed", "upstream answers cut to what answers the question"),
	CLIENT(refused, "refused", "client messages from outside access_control"),
	CLIENT(limited, "limited",
	       "UDP queries dropped over udp_queries_per_source or queries_max"),
	CLIENT(udp_send_dropped, "udp_send_dropped",
	       "UDP answers dropped: the socket's queue was full"),
	CLIENT(udp_send_calls, "udp_send_calls",
	       "system calls that sent UDP answers: fewer than the answers when batched"),
	CLIENT(tcp_clients, "tcp_connections", "client TCP connections accepted"),
	CLIENT(tcp_evicted, "tcp_evicted",
	       "client TCP connections closed to make room (tcp_clients_max)"),
	CLIENT(tcp_idle_closed, "tcp_idle_closed",
	       "client TCP connections closed after tcp_idle_timeout without a whole message"),
	CLIENT(tcp_overflow_closed, "tcp_overflow_closed",
	       "client TCP connections closed for not reading their answers (tcp_buffer_max)"),
	CLIENT(tcp_paused, "tcp_paused",
	       "times a client TCP connection was not read for using up its share"),
	CLIENT(special_answers, "special_answers",
	       "answers from a special-use zone: localhost, local, home.arpa, RFC 6303 reverse"),
	CLIENT(hosts_answers, "hosts_answers", "answers from hosts_file"),
	CLIENT(blocked, "blocked", "names answered as blocked (blocklists, block_answer)"),
	CLIENT(reloads, "reloads", "configuration reloads asked for (SIGHUP, dotd-ctl reload)"),
	CLIENT(reload_failures, "reload_failures",
	       "reloads that left the configuration, a listen address or a worker unchanged"),
	CLIENT(network_events, "network_events",
	       "network changes acted on: addresses, links, default routes, resumes, the clock"),
	CLIENT(dnssec_secure, "dnssec_secure", "answers DNSSEC-validated as secure (AD)"),
	CLIENT(dnssec_insecure, "dnssec_insecure",
	       "answers DNSSEC-validated as insecure: unsigned delegation, unsupported algorithm"),
	CLIENT(dnssec_bogus, "dnssec_bogus", "answers that failed DNSSEC validation: SERVFAIL"),
	CLIENT(dnssec_fetches, "dnssec_fetches", "DS and DNSKEY questions DNSSEC validation asked"),
};

static const struct field upstream_counters[] = {
	UPSTREAM(queries, "queries written to the upstream"),
	UPSTREAM(answers, "answers from the upstream matched to a query"),
	UPSTREAM(connections, "TCP connections attempted to the upstream"),
	UPSTREAM(handshakes_full, "TLS handshakes completed without resumption"),
	UPSTREAM(handshakes_resumed, "TLS handshakes completed by resumption"),
	UPSTREAM(tickets, "TLS session tickets received and stored"),
	UPSTREAM(auth_failures, "connections closed for failed authentication"),
	UPSTREAM(conn_failures, "connect or handshake failures and timeouts"),
	UPSTREAM(proto_errors, "connections closed for a protocol violation"),
	UPSTREAM(dead, "connections closed for silence with queries outstanding"),
	UPSTREAM(server_closes, "connections the upstream closed"),
	UPSTREAM(idle_closes, "connections closed for idleness or the upstream's keepalive"),
	UPSTREAM(backoffs, "times the upstream was backed off"),
	UPSTREAM(resent, "queries sent again after their connection was lost"),
};

static uint64_t field_of(const void *base, const struct field *f)
{
	uint64_t v;

	memcpy(&v, (const char *)base + f->off, sizeof(v));
	return v;
}

static void write_clients(struct writer *w, const struct stats_view *v)
{
	const struct resolver_stats *s = &v->clients;

	family(w, "queries", COUNTER, "client queries received, by transport", "transport", NULL);
	sample(w, "udp", count_of(s->queries_udp));
	sample(w, "tcp", count_of(s->queries_tcp));
	family_end(w);
	family(w, "queries_by_type", COUNTER,
	       "client queries received, by the type of their question (none: no readable "
	       "question)",
	       "type", NULL);
	for (size_t i = 0; i < STATS_N_QTYPES; i++) {
		sample(w, qtype_name(i), count_of(s->by_qtype[i]));
	}
	family_end(w);
	family(w, "answers_by_rcode", COUNTER, "answers sent to clients, by RCODE", "rcode", NULL);
	for (size_t i = 0; i < STATS_N_RCODES; i++) {
		sample(w, rcode_names[i], count_of(s->by_rcode[i]));
	}
	family_end(w);
	family(w, "answers_by_source", COUNTER,
	       "answers sent to clients, by where they came from (local: refused or malformed "
	       "queries; servfail: dotd's own SERVFAIL)",
	       "source", NULL);
	for (size_t i = 0; i < STATS_N_SOURCES; i++) {
		sample(w, source_names[i], count_of(s->by_source[i]));
	}
	family_end(w);
	histogram(w, s);
	for (size_t i = 0; i < sizeof(client_fields) / sizeof(client_fields[0]); i++) {
		single(w, client_fields[i].name, COUNTER, client_fields[i].help,
		       count_of(field_of(s, &client_fields[i])));
	}
	single(w, "queries_in_flight", GAUGE, "upstream queries under way",
	       count_of(v->queries_in_flight));
	single(w, "clients_waiting", GAUGE, "client queries waiting for an upstream",
	       count_of(v->clients_waiting));
	single(w, "tcp_connections_open", GAUGE, "client TCP connections open",
	       count_of(v->tcp_clients_open));
}

static void write_cache(struct writer *w, const struct cache_stats *c)
{
	single(w, "cache_entries", GAUGE, "answers in the cache", count_of(c->entries));
	single(w, "cache_bytes", GAUGE,
	       "bytes the cache uses, entries and index, against cache_size", count_of(c->bytes));
	single(w, "cache_hits", COUNTER, "cache lookups that found a fresh answer",
	       count_of(c->hits));
	single(w, "cache_misses", COUNTER, "cache lookups that found nothing usable",
	       count_of(c->misses));
	single(w, "cache_stale_hits", COUNTER, "cache lookups answered with an expired answer",
	       count_of(c->stale_hits));
	single(w, "cache_inserts", COUNTER, "answers stored", count_of(c->inserts));
	single(w, "cache_not_cacheable", COUNTER, "answers not stored: not cacheable",
	       count_of(c->not_cacheable));
	family(w, "cache_evictions", COUNTER,
	       "entries evicted: expired (past their TTL) or live (by the SIEVE hand)", "reason",
	       NULL);
	sample(w, "expired", count_of(c->evicted_expired));
	sample(w, "live", count_of(c->evicted_live));
	family_end(w);
	single(w, "cache_refresh_failures", COUNTER,
	       "refreshes that failed while the cached answer was kept",
	       count_of(c->refresh_failures));
}

static void write_upstreams(struct writer *w, const struct stats_view *v)
{
	size_t n = v->n_upstreams;

	for (size_t k = 0; k < sizeof(upstream_counters) / sizeof(upstream_counters[0]); k++) {
		family(w, upstream_counters[k].name, COUNTER, upstream_counters[k].help, "upstream",
		       NULL);
		for (size_t i = 0; i < n; i++) {
			sample(w, w->up_names[i],
			       count_of(field_of(&v->upstreams[i].st, &upstream_counters[k])));
		}
		family_end(w);
	}
	family(w, "upstream_in_flight", GAUGE,
	       "queries written to the upstream and not answered yet", "upstream", NULL);
	for (size_t i = 0; i < n; i++) {
		sample(w, w->up_names[i], count_of(v->upstreams[i].st.in_flight));
	}
	family_end(w);
	family(w, "upstream_queued", GAUGE, "queries waiting for a handshake or a free slot",
	       "upstream", NULL);
	for (size_t i = 0; i < n; i++) {
		sample(w, w->up_names[i], count_of(v->upstreams[i].st.queued));
	}
	family_end(w);
	family(w, "upstream_connections_open", GAUGE, "connections to the upstream open now",
	       "upstream", NULL);
	for (size_t i = 0; i < n; i++) {
		sample(w, w->up_names[i], count_of(v->upstreams[i].st.conns_open));
	}
	family_end(w);
	family(w, "upstream_srtt_seconds", GAUGE,
	       "smoothed round-trip time of the upstream's answers (0 until measured)", "upstream",
	       NULL);
	for (size_t i = 0; i < n; i++) {
		sample(w, w->up_names[i], ms_of(v->upstreams[i].srtt_ms));
	}
	family_end(w);
	family(w, "upstream_backoff_seconds", GAUGE,
	       "time left until a backed-off upstream is chosen again (0 when not backed off)",
	       "upstream", NULL);
	for (size_t i = 0; i < n; i++) {
		sample(w, w->up_names[i], ms_of(v->upstreams[i].backoff_ms));
	}
	family_end(w);
	family(w, "upstream_state", GAUGE, "the upstream's state now: 1 for the one it is in",
	       "upstream", "state");
	for (size_t i = 0; i < n; i++) {
		for (size_t st = 0; st < N_STATES; st++) {
			sample2(w, w->up_names[i],
				tls_upstream_state_name((enum tls_upstream_state)st),
				count_of(v->upstreams[i].state == st));
		}
	}
	family_end(w);
}

/* With workers: how the clients' queries spread over them (SO_REUSEPORT). */
static void write_workers(struct writer *w, const struct stats_view *v)
{
	char id[24];

	if (v->n_workers <= 1) {
		return;
	}
	family(w, "worker_queries", COUNTER, "client queries each worker received", "worker", NULL);
	for (size_t i = 0; i < v->n_workers; i++) {
		snprintf(id, sizeof(id), "%zu", i + 1);
		sample(w, id, count_of(v->worker_queries[i]));
	}
	family_end(w);
}

/* The block and allow lists: domains read from each, names each blocked. */
static void write_lists(struct writer *w, const struct stats_view *v)
{
	if (v->n_lists == 0) {
		return;
	}
	family(w, "list_entries", GAUGE, "domains read from each block or allow list", "list",
	       NULL);
	for (size_t i = 0; i < v->n_lists; i++) {
		sample(w, v->lists[i].path, count_of(v->lists[i].entries));
	}
	family_end(w);
	family(w, "list_blocked", COUNTER,
	       "names each block list blocked, since the lists were last read", "list", NULL);
	for (size_t i = 0; i < v->n_lists; i++) {
		sample(w, v->lists[i].path, count_of(v->lists[i].hits));
	}
	family_end(w);
}

/*
 * The upstreams' names, made unique: the k-th upstream of a name that came before gets "#k".
 * The array and each changed name are allocated in one block, freed with free().
 */
static int unique_names(const struct stats_view *v, const char ***out)
{
	size_t n = v->n_upstreams, extra = 0;
	const char **names;
	char *p;

	for (size_t i = 0; i < n; i++) {
		extra += strlen(v->upstreams[i].name) + 24;
	}
	names = malloc(n * sizeof(*names) + extra + 1);
	if (!names) {
		return -ENOMEM;
	}
	p = (char *)(names + n);
	for (size_t i = 0; i < n; i++) {
		unsigned k = 1;

		for (size_t j = 0; j < i; j++) {
			k += strcmp(v->upstreams[j].name, v->upstreams[i].name) == 0;
		}
		if (k == 1) {
			names[i] = v->upstreams[i].name;
			continue;
		}
		names[i] = p;
		p += sprintf(p, "%s#%u", v->upstreams[i].name, k) + 1;
	}
	*out = names;
	return 0;
}

static int finish(FILE *out)
{
	return fflush(out) != 0 || ferror(out) ? -EIO : 0;
}

int stats_view_write(const struct stats_view *v, enum stats_format fmt, FILE *out)
{
	struct writer w = {.f = out, .fmt = fmt};
	int ret;

	ret = unique_names(v, &w.up_names);
	if (ret != 0) {
		return ret;
	}
	if (fmt == STATS_JSON) {
		fputc('{', out);
	}
	family(&w, "info", GAUGE, "the version of dotd that runs", "version", NULL);
	sample(&w, v->version, count_of(1));
	family_end(&w);
	single(&w, "uptime_seconds", GAUGE, "time since dotd started", ms_of(v->uptime_ms));
	write_clients(&w, v);
	if (v->has_cache) {
		write_cache(&w, &v->cache);
	}
	write_upstreams(&w, v);
	write_lists(&w, v);
	write_workers(&w, v);
	if (fmt == STATS_JSON) {
		fputs("}\n", out);
	}
	free(w.up_names);
	return finish(out);
}

int stats_view_upstreams_write(const struct stats_view *v, FILE *out)
{
	for (size_t i = 0; i < v->n_upstreams; i++) {
		const struct stats_upstream *u = &v->upstreams[i];
		uint64_t full = u->st.handshakes_full, resumed = u->st.handshakes_resumed;

		fputc('"', out);
		put_label_value(out, u->name);
		fprintf(out, "\" state=%s srtt_ms=%u backoff_s=", tls_upstream_state_name(u->state),
			u->srtt_ms);
		if (u->state == TLS_UPSTREAM_BACKED_OFF) {
			put_value(out, ms_of(u->backoff_ms));
		} else {
			fputc('-', out);
		}
		fprintf(out,
			" conns_open=%llu in_flight=%llu queued=%llu handshakes_full=%llu "
			"handshakes_resumed=%llu resumption=",
			(unsigned long long)u->st.conns_open, (unsigned long long)u->st.in_flight,
			(unsigned long long)u->st.queued, (unsigned long long)full,
			(unsigned long long)resumed);
		if (full + resumed == 0) {
			fputs("-\n", out);
		} else {
			/* Two decimals, rounded: resumed / (full + resumed). */
			uint64_t pct = (resumed * 100 + (full + resumed) / 2) / (full + resumed);

			fprintf(out, "%llu.%02llu\n", (unsigned long long)(pct / 100),
				(unsigned long long)(pct % 100));
		}
	}
	return finish(out);
}

/* --- gathering --- */

/* A view of @r now; *@ups is the array of its upstreams, to be freed with free(). */
/* Every upstream of the current snapshot, the forward zones' too, each once. */
static size_t upstreams_all(struct resolver *r, struct tls_upstream **out, size_t cap)
{
	size_t n = 0;

	for (size_t g = 0; r->snap && g < r->snap->n_groups; g++) {
		const struct upstream_set *s = r->snap->groups[g].ups;

		for (size_t i = 0; i < upstream_count(s); i++) {
			struct tls_upstream *u = upstream_get((struct upstream_set *)s, i);
			bool seen = false;

			for (size_t j = 0; j < n && !seen; j++) {
				seen = out && out[j] == u;
			}
			if (!seen) {
				if (out && n < cap) {
					out[n] = u;
				}
				n++;
			}
		}
	}
	return n;
}

/* What a worker adds to the view the main resolver gathers (gather()). */
struct gather_more {
	struct stats_view *v;
	struct stats_upstream *ups; /**< the main's upstreams, v->n_upstreams */
	uint64_t *block_hits;	    /**< the main's, n_block_lists, or NULL */
	size_t n_block_lists;
	uint64_t *worker_queries; /**< by worker id - 1, or NULL */
};

/*
 * On worker @r's loop: its gauges, and its upstreams' counters onto those of the same name (each
 * worker has its own connections to every upstream), its block list hits onto the lists'.
 */
static void gather_worker(struct resolver *r, void *arg)
{
	struct gather_more *g = arg;
	size_t n = upstreams_all(r, NULL, 0);
	struct tls_upstream **list = n ? calloc(n, sizeof(*list)) : NULL;

	if (g->worker_queries) {
		g->worker_queries[r->worker_id - 1] = r->stats.queries_udp + r->stats.queries_tcp;
	}
	g->v->queries_in_flight += r->n_queries;
	g->v->clients_waiting += r->n_waiters;
	g->v->tcp_clients_open += r->n_tcp_clients;
	if (list) {
		upstreams_all(r, list, n);
	}
	for (size_t i = 0; list && i < n; i++) {
		struct tls_upstream_stats st;
		uint64_t *to, *from = (uint64_t *)&st;

		tls_upstream_stats_get(list[i], &st);
		for (size_t j = 0; j < g->v->n_upstreams; j++) {
			if (strcmp(g->ups[j].name, tls_upstream_name(list[i])) != 0) {
				continue;
			}
			to = (uint64_t *)&g->ups[j].st;
			for (size_t k = 0; k < sizeof(st) / sizeof(uint64_t); k++) {
				to[k] += from[k];
			}
			break;
		}
	}
	free(list);
	for (size_t i = 0;
	     r->blocks == r->main->blocks && i < g->n_block_lists && i < r->n_block_lists; i++) {
		g->block_hits[i] += r->block_hits[i];
	}
}

_Static_assert(sizeof(struct tls_upstream_stats) % sizeof(uint64_t) == 0,
	       "struct tls_upstream_stats is counters only");

static int gather(struct resolver *r, struct stats_view *v, struct stats_upstream **ups)
{
	size_t cap = 0, n;
	struct tls_upstream **list = NULL;
	uint64_t now = uv_now(r->loop);

	memset(v, 0, sizeof(*v));
	*ups = NULL;
	for (size_t g = 0; r->snap && g < r->snap->n_groups; g++) {
		cap += upstream_count(r->snap->groups[g].ups);
	}
	if (cap > 0) {
		*ups = calloc(cap, sizeof(**ups));
		list = calloc(cap, sizeof(*list));
		if (!*ups || !list) {
			free(*ups);
			free(list);
			*ups = NULL;
			return -ENOMEM;
		}
	}
	n = cap > 0 ? upstreams_all(r, list, cap) : 0;
	v->version = DOTD_VERSION;
	v->uptime_ms = r->started ? (uv_hrtime() - r->started) / 1000000 : 0;
	/* With workers, the sums of all of them: each has its own clients, cache and queries. */
	resolver_stats_sum(r, &v->clients, &v->cache);
	v->queries_in_flight = r->n_queries;
	v->clients_waiting = r->n_waiters;
	v->tcp_clients_open = r->n_tcp_clients;
	v->has_cache = r->cache != NULL;
	for (size_t i = 0; i < n; i++) {
		struct tls_upstream *u = list[i];
		uint64_t at = tls_upstream_available_at(u);

		(*ups)[i].name = tls_upstream_name(u);
		(*ups)[i].state = tls_upstream_state(u);
		/* Resolving is not a backoff: it ends with an address, not at a time. */
		(*ups)[i].backoff_ms = at > now && at != TLS_UPSTREAM_NEVER ? at - now : 0;
		(*ups)[i].srtt_ms = tls_upstream_srtt(u);
		tls_upstream_stats_get(u, &(*ups)[i].st);
	}
	free(list);
	v->upstreams = *ups;
	v->n_upstreams = n;
	return 0;
}

/* The other workers' part of @v (gather()) and of the main's @hits, summed into a copy. */
static void gather_workers(struct resolver *r, struct stats_view *v, struct stats_upstream *ups,
			   uint64_t *hits, size_t n_hits, uint64_t *by_worker)
{
	struct gather_more g = {
		.v = v,
		.ups = ups,
		.block_hits = hits,
		.n_block_lists = n_hits,
		.worker_queries = by_worker,
	};

	if (by_worker) {
		by_worker[0] = r->stats.queries_udp + r->stats.queries_tcp;
		v->worker_queries = by_worker;
		v->n_workers = 1 + workers_count(r->workers);
	}
	workers_each(r->workers, gather_worker, &g);
}

/* The lists in force, in *@out (the caller frees it). */
static int gather_lists(struct resolver *r, struct stats_view *v, struct stats_list **out)
{
	const struct blocklist_file_stats *f;
	size_t n = 0;

	*out = NULL;
	if (!r->blocks) {
		return 0;
	}
	f = blocklist_files(r->blocks, &n);
	if (n == 0) {
		return 0;
	}
	*out = calloc(n, sizeof(**out));
	if (!*out) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		(*out)[i] = (struct stats_list){
			.path = f[i].path,
			.allow = f[i].allow,
			.entries = f[i].entries,
			.hits = i < r->n_block_lists ? r->block_hits[i] : 0,
		};
	}
	v->lists = *out;
	v->n_lists = n;
	return 0;
}

int stats_write(struct resolver *r, enum stats_format fmt, FILE *out)
{
	struct stats_list *lists = NULL;
	struct stats_upstream *ups = NULL;
	struct stats_view v;
	uint64_t *hits = NULL, *by_worker = calloc(1 + workers_count(r->workers), sizeof(uint64_t));
	int ret = by_worker ? gather(r, &v, &ups) : -ENOMEM;

	if (ret == 0) {
		ret = gather_lists(r, &v, &lists);
	}
	if (ret == 0 && v.n_lists > 0) {
		hits = calloc(v.n_lists, sizeof(*hits));
		ret = hits ? 0 : -ENOMEM;
	}
	if (ret == 0) {
		for (size_t i = 0; i < v.n_lists; i++) {
			hits[i] = lists[i].hits;
		}
		gather_workers(r, &v, ups, hits, v.n_lists, by_worker);
		for (size_t i = 0; i < v.n_lists; i++) {
			lists[i].hits = hits[i];
		}
		ret = stats_view_write(&v, fmt, out);
	}
	free(hits);
	free(by_worker);
	free(lists);
	free(ups);
	return ret;
}

int stats_upstreams_write(struct resolver *r, FILE *out)
{
	struct stats_upstream *ups;
	struct stats_view v;
	int ret = gather(r, &v, &ups);

	if (ret == 0) {
		gather_workers(r, &v, ups, NULL, 0, NULL);
		ret = stats_view_upstreams_write(&v, out);
	}
	free(ups);
	return ret;
}
