/*
 * dotd-plain-client: drives tls/'s plain DNS upstream (tls_upstream_new_plain) for
 * tests/integration/plain.sh, against a real server, since the resolver does not make plain
 * upstreams yet. The transport is ours; queries are built and answers read by ldns, an
 * independent implementation. Each subcommand checks what it is about, prints the upstream's
 * counters on stdout as NAME=value words, and exits 0 when every check passed, 1 with a message
 * on stderr when one failed, 2 on bad usage. The loop must close with nothing left open.
 *
 *   answers HOST PORT            A and AAAA of www.example, TXT of big.example (truncated over
 *                                UDP: it must come over TCP), at once
 *   burst HOST PORT N IN-FLIGHT  N names under bench. with max_in_flight IN-FLIGHT
 *   refused HOST PORT            a port nobody serves: TLS_ERR_CONNECT, one failure
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <stdbool.h> /* first: without it ldns/common.h makes bool a signed char */
#include <ldns/ldns.h>

#include "tls.h"

#define DEADLINE_MS 10000
#define EDNS_SIZE   1232 /* what dotd's own upstream queries announce */

/* One query: its frame, what ldns made of it, and what came back. */
struct job {
	struct tls_query q; /* first: the callback casts */
	char name[64];
	ldns_rr_type type;
	uint8_t *frame; /**< owned */
	int calls;
	int status;
	size_t len;
	ldns_pkt *ans; /**< owned, or NULL */
};

static uv_loop_t loop;
static uv_timer_t deadline;
static bool expired, closed;
static struct tls_upstream *up;
static unsigned n_called;
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("plain-client: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

static void on_deadline(uv_timer_t *t)
{
	(void)t;
	expired = true;
	uv_stop(&loop); /* else the run in which it expired could poll for ever, with no timer */
}

static void on_answer(struct tls_query *q, int status, const uint8_t *ans, size_t len,
		      const struct dns_opt *opt)
{
	struct job *j = (struct job *)q;

	(void)opt;
	j->calls++;
	j->status = status;
	n_called++;
	if (status == 0 && ldns_wire2pkt(&j->ans, ans, len) != LDNS_STATUS_OK) {
		fail("%s: ldns cannot read the answer", j->name);
	}
	j->len = len;
}

static void on_closed(void *arg)
{
	(void)arg;
	closed = true;
}

/* Build the query with ldns: RD, an OPT record announcing EDNS_SIZE, ID 0 (tls/ writes one). */
static int job_init(struct job *j, const char *name, ldns_rr_type type)
{
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	ldns_pkt *pkt;
	uint8_t *wire = NULL;
	size_t len;

	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->type = type;
	if (!qname) {
		return -EINVAL;
	}
	pkt = ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt_set_id(pkt, 0);
	ldns_pkt_set_edns_udp_size(pkt, EDNS_SIZE);
	if (ldns_pkt2wire(&wire, pkt, &len) != LDNS_STATUS_OK) {
		ldns_pkt_free(pkt);
		return -EINVAL;
	}
	ldns_pkt_free(pkt);
	j->frame = malloc(len + 2);
	if (!j->frame) {
		free(wire);
		return -ENOMEM;
	}
	j->frame[0] = (uint8_t)(len >> 8);
	j->frame[1] = (uint8_t)len;
	memcpy(j->frame + 2, wire, len);
	free(wire);
	j->q.frame = j->frame;
	j->q.frame_len = len + 2;
	j->q.cb = on_answer;
	return 0;
}

static void job_free(struct job *j)
{
	free(j->frame);
	if (j->ans) {
		ldns_pkt_free(j->ans);
	}
}

static int submit(struct job *j, const char *name, ldns_rr_type type)
{
	int ret = job_init(j, name, type);

	if (ret == 0) {
		ret = tls_upstream_query(up, &j->q);
	}
	if (ret != 0) {
		fail("%s: cannot submit: %s", name, strerror(-ret));
	}
	return ret;
}

/* Run the loop until @n callbacks have come, or the deadline. */
static void run_until_called(unsigned n)
{
	expired = false;
	uv_update_time(&loop);
	uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0);
	while (n_called < n && !expired) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&deadline);
	if (n_called < n) {
		fail("%u of %u callbacks within %d ms", n_called, n, DEADLINE_MS);
	}
}

static int upstream_open(const char *host, const char *port, unsigned max_in_flight)
{
	static struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	struct tls_upstream_params p = {
		.addr = (const struct sockaddr *)&ss,
		.addr_len = sizeof(*a),
		.name = "plain-client",
		.idle_timeout_ms = 2000,
		.handshake_timeout_ms = 4000,
		.liveness_ms = 4000,
		.max_in_flight = max_in_flight,
		.max_conns = 1,
		.failures_before_backoff = 2,
		.backoff_max_ms = 60000,
	};
	int ret;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
		fprintf(stderr, "plain-client: not an IPv4 address: %s\n", host);
		return -EINVAL;
	}
	ret = tls_upstream_new_plain(&loop, &p, &up);
	if (ret != 0) {
		fprintf(stderr, "plain-client: tls_upstream_new_plain: %s\n", strerror(-ret));
	}
	return ret;
}

/* The question of the answer is the job's (ldns compares names case-insensitively). */
static bool same_question(const struct job *j)
{
	const ldns_rr_list *qs = ldns_pkt_question(j->ans);
	ldns_rdf *want = ldns_dname_new_frm_str(j->name);
	bool same;

	same = ldns_rr_list_rr_count(qs) == 1 &&
	       ldns_rr_get_type(ldns_rr_list_rr(qs, 0)) == j->type &&
	       ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(qs, 0)), want) == 0;
	ldns_rdf_deep_free(want);
	return same;
}

/* @j was answered NOERROR, untruncated, for its own question, with @n records in all. */
static bool answered(const struct job *j, size_t n)
{
	if (j->calls != 1 || j->status != 0 || !j->ans) {
		fail("%s: %d callbacks, status %d (%s)", j->name, j->calls, j->status,
		     j->status ? strerror(-j->status) : "ok");
		return false;
	}
	if (ldns_pkt_get_rcode(j->ans) != LDNS_RCODE_NOERROR || ldns_pkt_tc(j->ans) ||
	    !same_question(j) || ldns_pkt_ancount(j->ans) != n) {
		fail("%s: rcode %d, TC %d, %u records, question %s", j->name,
		     ldns_pkt_get_rcode(j->ans), ldns_pkt_tc(j->ans), ldns_pkt_ancount(j->ans),
		     same_question(j) ? "same" : "different");
		return false;
	}
	return true;
}

/* The answer's only record is of @j's type and reads @text (an address). */
static void check_address(const struct job *j, const char *text)
{
	ldns_rr *rr;
	char *got;

	if (!answered(j, 1)) {
		return;
	}
	rr = ldns_rr_list_rr(ldns_pkt_answer(j->ans), 0);
	got = ldns_rdf2str(ldns_rr_rdf(rr, 0));
	if (ldns_rr_get_type(rr) != j->type || !got || strcmp(got, text) != 0) {
		fail("%s: %s instead of %s", j->name, got ? got : "(nothing)", text);
	}
	free(got);
}

/* big.example: the twelve TXT records of tests/integration/lib.sh, "00xxx..." to "11xxx...". */
static void check_big(const struct job *j)
{
	bool seen[12] = {false};
	const ldns_rr_list *an;

	if (!answered(j, 12)) {
		return;
	}
	if (j->len <= EDNS_SIZE) {
		fail("%s: %zu octets fit in UDP: nothing to truncate", j->name, j->len);
	}
	an = ldns_pkt_answer(j->ans);
	for (size_t i = 0; i < 12; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *d = ldns_rr_rdf(rr, 0);
		const uint8_t *s = ldns_rdf_data(d);
		unsigned k = 12;
		size_t x = 0;

		/* One string: its length octet, two digits, 248 x (not NUL-terminated). */
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT && ldns_rdf_size(d) == 251 &&
		    s[0] == 250 && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9') {
			k = (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
			while (x < 248 && s[3 + x] == 'x') {
				x++;
			}
		}
		if (k >= 12 || seen[k] || x != 248) {
			fail("%s: record %zu is not one of the twelve", j->name, i);
			return;
		}
		seen[k] = true;
	}
}

static void print_stats(void)
{
	struct tls_upstream_stats st;

	tls_upstream_stats_get(up, &st);
	printf("queries=%llu answers=%llu truncated=%llu connections=%llu dropped=%llu "
	       "conn_failures=%llu backoffs=%llu in_flight=%llu queued=%llu state=%s\n",
	       (unsigned long long)st.queries, (unsigned long long)st.answers,
	       (unsigned long long)st.truncated, (unsigned long long)st.connections,
	       (unsigned long long)st.dropped, (unsigned long long)st.conn_failures,
	       (unsigned long long)st.backoffs, (unsigned long long)st.in_flight,
	       (unsigned long long)st.queued, tls_upstream_state_name(tls_upstream_state(up)));
}

static void cmd_answers(void)
{
	struct job j[3];

	if (submit(&j[0], "www.example.", LDNS_RR_TYPE_A) != 0 ||
	    submit(&j[1], "www.example.", LDNS_RR_TYPE_AAAA) != 0 ||
	    submit(&j[2], "big.example.", LDNS_RR_TYPE_TXT) != 0) {
		return;
	}
	run_until_called(3);
	check_address(&j[0], "192.0.2.80");
	check_address(&j[1], "2001:db8::80");
	check_big(&j[2]);
	for (int i = 0; i < 3; i++) {
		job_free(&j[i]);
	}
}

static void cmd_burst(unsigned n, unsigned in_flight)
{
	struct job *j = calloc(n, sizeof(*j));
	struct tls_upstream_stats st;
	char name[64];

	if (!j) {
		fail("out of memory");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "b%u.plain.bench.", i);
		if (submit(&j[i], name, LDNS_RR_TYPE_A) != 0) {
			return;
		}
	}
	/* All submitted before the loop runs: max_in_flight out, the rest waiting in order. */
	tls_upstream_stats_get(up, &st);
	if (st.in_flight != (n < in_flight ? n : in_flight) ||
	    st.queued != (n < in_flight ? 0 : n - in_flight)) {
		fail("%llu in flight and %llu queued after %u queries with max_in_flight %u",
		     (unsigned long long)st.in_flight, (unsigned long long)st.queued, n, in_flight);
	}
	run_until_called(n);
	for (unsigned i = 0; i < n && failures < 10; i++) {
		check_address(&j[i], "192.0.2.1");
	}
	for (unsigned i = 0; i < n; i++) {
		job_free(&j[i]);
	}
	free(j);
}

static void cmd_refused(void)
{
	struct tls_upstream_stats st;
	struct job j;

	if (submit(&j, "www.example.", LDNS_RR_TYPE_A) != 0) {
		return;
	}
	if (j.calls != 0) {
		fail("the callback came from inside tls_upstream_query()");
	}
	run_until_called(1);
	if (j.calls != 1 || j.status != TLS_ERR_CONNECT) {
		fail("%d callbacks, status %d (%s) instead of TLS_ERR_CONNECT", j.calls, j.status,
		     strerror(-j.status));
	}
	tls_upstream_stats_get(up, &st);
	if (st.conn_failures != 1) {
		fail("%llu failures counted instead of 1", (unsigned long long)st.conn_failures);
	}
	job_free(&j);
}

static int usage(void)
{
	fputs("usage: dotd-plain-client answers HOST PORT\n"
	      "       dotd-plain-client burst HOST PORT N IN-FLIGHT\n"
	      "       dotd-plain-client refused HOST PORT\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	bool burst = argc == 6 && strcmp(argv[1], "burst") == 0;
	unsigned n = burst ? (unsigned)atoi(argv[4]) : 0;
	unsigned in_flight = burst ? (unsigned)atoi(argv[5]) : 8;

	if (!burst &&
	    (argc != 4 || (strcmp(argv[1], "answers") != 0 && strcmp(argv[1], "refused") != 0))) {
		return usage();
	}
	if (burst && (n == 0 || in_flight == 0)) {
		return usage();
	}
	uv_loop_init(&loop);
	uv_timer_init(&loop, &deadline);
	if (upstream_open(argv[2], argv[3], in_flight) != 0) {
		return 1;
	}
	if (burst) {
		cmd_burst(n, in_flight);
	} else if (strcmp(argv[1], "answers") == 0) {
		cmd_answers();
	} else {
		cmd_refused();
	}
	print_stats();
	tls_upstream_close(up, on_closed, NULL);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (!closed) {
		fail("the upstream's on_closed did not come");
	}
	if (uv_loop_close(&loop) != 0) {
		fail("handles left open on the loop");
	}
	return failures ? 1 : 0;
}
