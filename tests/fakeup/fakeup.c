/*
 * dotd-fakeup: a DNS-over-TLS (RFC 7858) test server that misbehaves on demand, for the tests
 * that need upstream behaviour no real server shows when asked (README.md lists the switches).
 *
 * One thread, one ppoll() loop, non-blocking sockets. wolfSSL owns each client socket through
 * wolfSSL_set_fd() and reports WANT_READ/WANT_WRITE, which become the poll events of that
 * connection. Queries are length-prefixed (RFC 7766 §8) and may come pipelined and split
 * across reads at any byte. Every answer is made with ldns from the parsed query.
 *
 * Timers: each connection keeps its pending queries in arrival order, each with the time it
 * may be answered (--delay), and the time of its last activity (--idle-close). The poll timeout
 * is the nearest of these over all connections, so nothing sleeps.
 *
 * Lifetime: a connection is created by accept, marked CONN_DEAD when it is closed (its socket
 * closed at once) and freed by the sweep at the end of the loop iteration, so a pointer held
 * during one iteration stays valid. At exit everything is freed, for valgrind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
/*
 * Not <ldns/ldns.h>: through keys.h and dnssec.h it includes OpenSSL's headers, whose types
 * clash with those of wolfSSL's OpenSSL compatibility layer (Debian builds it in). The parts
 * below need neither. They are not self-contained: buffer.h and rbtree.h come first.
 */
#include <ldns/buffer.h>
#include <ldns/rbtree.h>
#include <ldns/dname.h>
#include <ldns/edns.h>
#include <ldns/host2wire.h>
#include <ldns/packet.h>
#include <ldns/rdata.h>
#include <ldns/rr.h>
#include <ldns/wire2host.h>

#define REVERSE_WAIT_MS 200	     /* --reverse: answer what is pending after this long */
#define EDNS_UDP_SIZE	1232	     /* advertised in our OPT (DNS flag day 2020) */
#define ANSWER_TTL	60	     /* of the A and AAAA records */
#define READ_CHUNK	16384	     /* plaintext read from wolfSSL at a time */
#define OUT_HIGH	(256 * 1024) /* stop reading a client that does not read its answers */
#define MAX_PENDING	4096	     /* nor one with this many queries waiting for an answer */
#define ACCEPT_PAUSE_MS 100	     /* after EMFILE and the like */
#define NEVER		UINT64_MAX

struct options {
	const char *cert;	/**< borrowed (argv): server certificate chain, PEM */
	const char *key;	/**< borrowed (argv): its private key, PEM */
	const char *stats_path; /**< borrowed (argv): --stats FILE, or NULL */
	unsigned port;
	unsigned tag;	      /**< N of 192.0.2.N and 2001:db8::N */
	unsigned reverse;     /**< --reverse K, 0 if off */
	unsigned close_after; /**< --close-after N, 0 if off */
	unsigned delay_ms;
	unsigned idle_close_ms; /**< 0 if off */
	int keepalive;		/**< edns-tcp-keepalive TIMEOUT, -1 if off */
	int servfail_after;	/**< --servfail-after N: SERVFAIL from query N + 1 on; -1 if off */
	const char *ignore_label; /**< borrowed (argv): never answer names with this first label */
	const char *slow_label;	  /**< borrowed (argv): --delay only names with this first label */
	const char *extra_label;  /**< borrowed (argv): add a record for another name to these */
	bool refuse;
	bool stall;
	bool garbage;
	bool bad_length;
	bool wrong_id;
	bool wrong_question;
	bool tls12_only;
	bool fail_resumption;
	bool close_unanswered;
};

struct stats {
	unsigned long connections; /**< accepted */
	unsigned long handshakes;  /**< completed */
	unsigned long resumed;	   /**< of those, resumed sessions */
	unsigned long queries;	   /**< well-formed queries received */
	unsigned long answers;	   /**< answers (of any kind) queued for sending */
	unsigned long after_ka0;   /**< queries received after we sent a keepalive of 0 */
};

struct query {
	struct query *next;
	ldns_pkt *pkt; /**< owned: the query as parsed */
	uint64_t arrived_ms;
	uint64_t due_ms; /**< arrived_ms + --delay */
};

enum conn_state {
	CONN_HANDSHAKE,
	CONN_OPEN,
	CONN_DEAD,
};

struct conn {
	struct conn *next;
	unsigned id;
	int fd;	      /**< owned, -1 once closed */
	WOLFSSL *ssl; /**< owned */
	enum conn_state state;
	short hs_events;      /**< poll events the handshake waits for */
	bool tls_wants_write; /**< the last wolfSSL_read() wanted to write */
	bool read_held;	      /**< reading stopped until the client catches up */
	bool closing;	      /**< --close-after reached: TCP close once out is flushed */
	uint8_t *in;	      /**< owned: plaintext received, not yet a whole message */
	size_t in_len;
	size_t in_cap;
	uint8_t *out; /**< owned: plaintext answers not yet taken by wolfSSL_write() */
	size_t out_len;
	size_t out_cap;
	struct query *head; /**< owned: pending queries, oldest first */
	struct query *tail;
	size_t n_pending;
	uint64_t last_active_ms; /**< accept, handshake, last query or answer */
	unsigned long n_queries;
	unsigned long n_answers;
	bool sent_ka0; /**< an answer with edns-tcp-keepalive 0 was queued */
	char peer[INET_ADDRSTRLEN + 8];
};

static struct options opt = {
	.tag = 1,
	.keepalive = -1,
	.servfail_after = -1,
};
static struct stats stats;
static struct conn *conns;
static unsigned next_conn_id = 1;
static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1) {
		got_usr1 = 1;
	} else {
		got_stop = 1;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void __attribute__((format(printf, 1, 2))) log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fakeup: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void stats_report(void)
{
	char line[256];
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(line, sizeof(line),
		 "fakeup: connections=%lu handshakes=%lu resumed=%lu queries=%lu answers=%lu "
		 "after_keepalive0=%lu\n",
		 stats.connections, stats.handshakes, stats.resumed, stats.queries, stats.answers,
		 stats.after_ka0);
	fputs(line, stderr);
	if (!opt.stats_path) {
		return;
	}
	/* Written aside and renamed, so a reader never sees half a line. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", opt.stats_path) >= (int)sizeof(tmp)) {
		log_msg("stats file name too long");
		return;
	}
	f = fopen(tmp, "w");
	if (!f) {
		log_msg("cannot write '%s': %s", tmp, strerror(errno));
		return;
	}
	fputs(line, f);
	if (fclose(f) != 0 || rename(tmp, opt.stats_path) != 0) {
		log_msg("cannot write '%s': %s", opt.stats_path, strerror(errno));
	}
}

static int buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	size_t ncap;
	uint8_t *p;

	if (*len + n > *cap) {
		ncap = *cap ? *cap : 4096;
		while (ncap < *len + n) {
			ncap *= 2;
		}
		p = realloc(*buf, ncap);
		if (!p) {
			return -ENOMEM;
		}
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}

static void random_bytes(uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = getrandom(buf, len, 0);
		if (n <= 0) {
			/* Cannot happen for small requests; garbage need not be good. */
			memset(buf, 0xa5, len);
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static const char *tls_error(WOLFSSL *ssl, int ret)
{
	static char text[WOLFSSL_MAX_ERROR_SZ];
	int err = wolfSSL_get_error(ssl, ret);

	wolfSSL_ERR_error_string_n((unsigned long)err, text, sizeof(text));
	return text;
}

/* --- answers --- */

/* The question's name, or for --wrong-question the same name under an extra label "x". */
static ldns_rdf *answer_name(const ldns_rdf *qname)
{
	uint8_t wire[LDNS_MAX_DOMAINLEN + 2];
	size_t len = ldns_rdf_size(qname);

	if (!opt.wrong_question) {
		return ldns_rdf_clone(qname);
	}
	if (len + 2 > LDNS_MAX_DOMAINLEN) {
		return ldns_dname_new_frm_str("x.");
	}
	wire[0] = 1;
	wire[1] = 'x';
	memcpy(wire + 2, ldns_rdf_data(qname), len);
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len + 2, wire);
}

/* Our record for the question, or NULL when its type gets no records (or out of memory). */
static ldns_rr *answer_record(const ldns_rr *question, const ldns_rdf *owner)
{
	ldns_rr_type type = ldns_rr_get_type(question);
	uint8_t addr[16] = {0x20, 0x01, 0x0d, 0xb8};
	ldns_rdf *rdata;
	ldns_rr *rr;

	if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN) {
		return NULL;
	}
	if (type == LDNS_RR_TYPE_A) {
		addr[0] = 192;
		addr[1] = 0;
		addr[2] = 2;
		addr[3] = (uint8_t)opt.tag;
		rdata = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, addr);
	} else if (type == LDNS_RR_TYPE_AAAA) {
		/* The last group is N's decimal digits, so that it reads 2001:db8::N. */
		addr[14] = (uint8_t)(opt.tag / 100);
		addr[15] = (uint8_t)((opt.tag / 10 % 10) << 4 | opt.tag % 10);
		rdata = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, addr);
	} else {
		return NULL;
	}
	rr = ldns_rr_new();
	if (!rdata || !rr) {
		ldns_rdf_deep_free(rdata);
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ANSWER_TTL);
	ldns_rr_push_rdf(rr, rdata);
	return rr;
}

/* Push option @code with @len bytes of @data on @list. */
static int edns_push(ldns_edns_option_list *list, ldns_edns_option_code code, size_t len,
		     const void *data)
{
	ldns_edns_option *o = ldns_edns_new_from_data(code, len, data);

	if (!o || !ldns_edns_option_list_push(list, o)) {
		ldns_edns_deep_free(o);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Our OPT (RFC 6891): only when the query had one; with --keepalive, RFC 7828's option; on a
 * --servfail-after SERVFAIL, an Extended DNS Error 0 "fakeup servfail" (RFC 8914).
 */
static int answer_edns(ldns_pkt *a, const ldns_pkt *q)
{
	static const uint8_t ede[] = "\0\0fakeup servfail";
	ldns_edns_option_list *list;
	uint8_t timeout[2];
	bool with_ede = ldns_pkt_get_rcode(a) == LDNS_RCODE_SERVFAIL;

	if (!ldns_pkt_edns(q)) {
		return 0;
	}
	ldns_pkt_set_edns_udp_size(a, EDNS_UDP_SIZE);
	ldns_pkt_set_edns_do(a, ldns_pkt_edns_do(q));
	if (opt.keepalive < 0 && !with_ede) {
		return 0;
	}
	timeout[0] = (uint8_t)(opt.keepalive >> 8);
	timeout[1] = (uint8_t)opt.keepalive;
	list = ldns_edns_option_list_new();
	if (!list ||
	    (opt.keepalive >= 0 &&
	     edns_push(list, LDNS_EDNS_KEEPALIVE, sizeof(timeout), timeout) != 0) ||
	    (with_ede && edns_push(list, LDNS_EDNS_EDE, sizeof(ede) - 1, ede) != 0)) {
		ldns_edns_option_list_deep_free(list);
		return -ENOMEM;
	}
	ldns_pkt_set_edns_option_list(a, list); /* the packet owns the list now */
	return 0;
}

/* The DNS answer to @q in wire format, malloc'ed, in *wire and *len. */
/* Whether the first label of @q's name is @label (case aside). */
static bool first_label_is(const ldns_pkt *q, const char *label)
{
	const ldns_rdf *name = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	const uint8_t *w = ldns_rdf_data(name);
	size_t n = strlen(label);

	return ldns_rdf_size(name) > n + 1 && w[0] == n &&
	       strncasecmp((const char *)w + 1, label, n) == 0;
}

static int answer_build(const ldns_pkt *q, uint8_t **wire, size_t *len)
{
	const ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	ldns_rdf *owner;
	ldns_rr *qrr;
	ldns_rr *rr;
	ldns_pkt *a;
	int ret = -ENOMEM;

	a = ldns_pkt_new();
	owner = answer_name(ldns_rr_owner(question));
	qrr = ldns_rr_new();
	if (!a || !owner || !qrr) {
		ldns_rr_free(qrr);
		goto out;
	}
	ldns_pkt_set_id(a, (uint16_t)(ldns_pkt_id(q) + (opt.wrong_id ? 1 : 0)));
	ldns_pkt_set_qr(a, true);
	ldns_pkt_set_aa(a, true);
	ldns_pkt_set_opcode(a, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(a, ldns_pkt_rd(q));
	ldns_pkt_set_ra(a, true);
	ldns_pkt_set_cd(a, ldns_pkt_cd(q));
	ldns_pkt_set_rcode(a, LDNS_RCODE_NOERROR);
	if (opt.refuse) {
		ldns_pkt_set_rcode(a, LDNS_RCODE_REFUSED);
	} else if (opt.servfail_after >= 0 && stats.answers >= (unsigned long)opt.servfail_after) {
		ldns_pkt_set_rcode(a, LDNS_RCODE_SERVFAIL);
	}

	/* The question as received, case included (ldns keeps it): clients may compare bytes. */
	ldns_rr_set_question(qrr, true);
	ldns_rr_set_owner(qrr, ldns_rdf_clone(owner));
	ldns_rr_set_type(qrr, ldns_rr_get_type(question));
	ldns_rr_set_class(qrr, ldns_rr_get_class(question));
	ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, qrr);
	rr = ldns_pkt_get_rcode(a) == LDNS_RCODE_NOERROR ? answer_record(question, owner) : NULL;
	if (rr) {
		ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, rr);
	}
	if (rr && opt.extra_label && first_label_is(q, opt.extra_label)) {
		/* After the answer, a record for a name not asked: a client must not take it. */
		ldns_rr *extra = NULL;

		if (ldns_rr_new_frm_str(&extra, "extra.invalid. 60 IN A 192.0.2.66", 0, NULL,
					NULL) == LDNS_STATUS_OK) {
			ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, extra);
		}
	}
	if (answer_edns(a, q) == 0 && ldns_pkt2wire(wire, a, len) == LDNS_STATUS_OK) {
		ret = 0;
	}
out:
	ldns_rdf_deep_free(owner);
	ldns_pkt_free(a);
	return ret;
}

/* --- connections --- */

static void conn_free(struct conn *c)
{
	struct query *q;

	while ((q = c->head)) {
		c->head = q->next;
		ldns_pkt_free(q->pkt);
		free(q);
	}
	if (c->fd >= 0) {
		close(c->fd);
	}
	wolfSSL_free(c->ssl);
	free(c->in);
	free(c->out);
	free(c);
}

static void conn_drop_pending(struct conn *c)
{
	struct query *q;

	while ((q = c->head)) {
		c->head = q->next;
		ldns_pkt_free(q->pkt);
		free(q);
	}
	c->tail = NULL;
	c->n_pending = 0;
}

/*
 * Close @c's socket, after a TLS close_notify if @notify. Input still unread is drained first,
 * because closing a socket with unread data makes Linux send a RST, which may reach the client
 * before the answers we sent.
 */
static void __attribute__((format(printf, 3, 4)))
conn_close(struct conn *c, bool notify, const char *fmt, ...)
{
	char reason[256];
	uint8_t sink[4096];
	va_list ap;

	if (c->state == CONN_DEAD) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_msg("conn %u: %s (queries=%lu answers=%lu)", c->id, reason, c->n_queries, c->n_answers);
	if (notify && c->state == CONN_OPEN) {
		/* Sends close_notify and does not wait for the client's. */
		wolfSSL_shutdown(c->ssl);
	}
	shutdown(c->fd, SHUT_WR);
	while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
	}
	close(c->fd);
	c->fd = -1;
	c->state = CONN_DEAD;
	conn_drop_pending(c);
}

/* Queue one answer (or what the switches make of it) to @q. */
static void conn_answer(struct conn *c, const ldns_pkt *q, uint64_t now)
{
	uint8_t frame[2 + 200];
	uint8_t *wire = NULL;
	size_t len = 0;
	int ret;

	if (opt.bad_length) {
		frame[0] = 0;
		frame[1] = 0;
		ret = buf_append(&c->out, &c->out_len, &c->out_cap, frame, 2);
	} else if (opt.garbage) {
		random_bytes(frame, 1);
		len = 30 + frame[0] % 171;
		frame[0] = (uint8_t)(len >> 8);
		frame[1] = (uint8_t)len;
		random_bytes(frame + 2, len);
		ret = buf_append(&c->out, &c->out_len, &c->out_cap, frame, 2 + len);
	} else {
		ret = answer_build(q, &wire, &len);
		if (ret == 0 && len > UINT16_MAX) {
			ret = -EMSGSIZE;
		}
		if (ret == 0) {
			frame[0] = (uint8_t)(len >> 8);
			frame[1] = (uint8_t)len;
			ret = buf_append(&c->out, &c->out_len, &c->out_cap, frame, 2);
		}
		if (ret == 0) {
			ret = buf_append(&c->out, &c->out_len, &c->out_cap, wire, len);
		}
		free(wire);
	}
	if (ret < 0) {
		conn_close(c, false, "cannot build an answer: %s", strerror(-ret));
		return;
	}
	c->n_answers++;
	stats.answers++;
	if (opt.keepalive == 0 && ldns_pkt_edns(q)) {
		c->sent_ka0 = true;
	}
	c->last_active_ms = now;
	if (opt.close_after && c->n_answers >= opt.close_after) {
		c->closing = true;
	}
}

/* When the pending queries may be answered (the first of them, unless --reverse). */
static uint64_t conn_release_at(const struct conn *c)
{
	uint64_t at;

	if (!c->head) {
		return NEVER;
	}
	if (!opt.reverse) {
		return c->head->due_ms;
	}
	/* All of them at once, and none before its --delay. */
	at = c->tail->due_ms;
	if (c->n_pending < opt.reverse && c->head->arrived_ms + REVERSE_WAIT_MS > at) {
		at = c->head->arrived_ms + REVERSE_WAIT_MS;
	}
	return at;
}

static void conn_reverse_pending(struct conn *c)
{
	struct query *prev = NULL;
	struct query *q = c->head;
	struct query *next;

	c->tail = q;
	while (q) {
		next = q->next;
		q->next = prev;
		prev = q;
		q = next;
	}
	c->head = prev;
}

/* Answer what is due. */
static void conn_answer_due(struct conn *c, uint64_t now)
{
	struct query *q;

	if (c->state != CONN_OPEN || c->closing || now < conn_release_at(c)) {
		return;
	}
	if (opt.reverse) {
		conn_reverse_pending(c);
	}
	while ((q = c->head) && c->state == CONN_OPEN && !c->closing &&
	       (opt.reverse || q->due_ms <= now)) {
		c->head = q->next;
		if (!c->head) {
			c->tail = NULL;
		}
		c->n_pending--;
		conn_answer(c, q->pkt, now);
		ldns_pkt_free(q->pkt);
		free(q);
	}
	if (c->closing) {
		/* --close-after: what is still pending gets no answer. */
		conn_drop_pending(c);
	}
}

/* One message from the client: parse it and queue it. */
static int conn_query(struct conn *c, const uint8_t *wire, size_t len, uint64_t now)
{
	ldns_pkt *pkt = NULL;
	struct query *q;

	if (len == 0 || ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
		conn_close(c, false, "closed: unparsable message of %zu octets", len);
		return -1;
	}
	if (ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1) {
		ldns_pkt_free(pkt);
		conn_close(c, false, "closed: message without exactly one question");
		return -1;
	}
	stats.queries++;
	c->n_queries++;
	c->last_active_ms = now;
	if (c->sent_ka0) {
		stats.after_ka0++; /* RFC 7828 §3.2.2: the client should have sent nothing more */
	}
	if (opt.ignore_label && first_label_is(pkt, opt.ignore_label)) {
		ldns_pkt_free(pkt);
		return 0;
	}
	if (opt.close_unanswered) {
		ldns_pkt_free(pkt);
		conn_close(c, false, "closed at a query, unanswered");
		return -1;
	}
	if (opt.stall || c->closing) {
		ldns_pkt_free(pkt);
		return 0;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		ldns_pkt_free(pkt);
		conn_close(c, false, "closed: out of memory");
		return -1;
	}
	q->pkt = pkt;
	q->arrived_ms = now;
	q->due_ms = now;
	if (!opt.slow_label || first_label_is(pkt, opt.slow_label)) {
		q->due_ms += opt.delay_ms;
	}
	/* In order of due time (arrival, when every query has the same delay). */
	struct query **pp = &c->head;

	while (*pp && (*pp)->due_ms <= q->due_ms) {
		pp = &(*pp)->next;
	}
	q->next = *pp;
	*pp = q;
	if (!q->next) {
		c->tail = q;
	}
	c->n_pending++;
	return 0;
}

/* Take the whole messages out of c->in (RFC 7766 §8 framing). */
static int conn_parse(struct conn *c, uint64_t now)
{
	size_t off = 0;
	size_t len;

	while (c->in_len - off >= 2) {
		len = (size_t)c->in[off] << 8 | c->in[off + 1];
		if (c->in_len - off - 2 < len) {
			break;
		}
		if (conn_query(c, c->in + off + 2, len, now) < 0) {
			return -1;
		}
		off += 2 + len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static bool conn_full(const struct conn *c)
{
	return c->out_len >= OUT_HIGH || c->n_pending >= MAX_PENDING;
}

/* Read what wolfSSL has for us, until it would block. */
static void conn_read(struct conn *c, uint64_t now)
{
	uint8_t buf[READ_CHUNK];
	int n;
	int err;

	c->tls_wants_write = false;
	c->read_held = false;
	for (;;) {
		if (c->closing) {
			return;
		}
		if (conn_full(c)) {
			c->read_held = true;
			return;
		}
		n = wolfSSL_read(c->ssl, buf, sizeof(buf));
		if (n > 0) {
			if (buf_append(&c->in, &c->in_len, &c->in_cap, buf, (size_t)n) < 0) {
				conn_close(c, false, "closed: out of memory");
				return;
			}
			if (conn_parse(c, now) < 0) {
				return;
			}
			continue;
		}
		err = wolfSSL_get_error(c->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ) {
			return;
		}
		if (err == WOLFSSL_ERROR_WANT_WRITE) {
			c->tls_wants_write = true;
			return;
		}
		if (err == WOLFSSL_ERROR_ZERO_RETURN) {
			conn_close(c, true, "closed by the client (close_notify)");
		} else if (err == SOCKET_PEER_CLOSED_E) {
			conn_close(c, false, "closed by the client (no close_notify)");
		} else {
			conn_close(c, false, "closed: read: %s", tls_error(c->ssl, n));
		}
		return;
	}
}

/* Hand the queued answers to wolfSSL. */
static void conn_flush(struct conn *c)
{
	int n;
	int err;

	if (c->state != CONN_OPEN) {
		return;
	}
	if (c->out_len > 0) {
		/*
		 * After WANT_WRITE wolfSSL wants the same call again; it remembers how much of
		 * the buffer it has already encrypted, so answers appended since are fine.
		 */
		n = wolfSSL_write(c->ssl, c->out, (int)c->out_len);
		if (n <= 0) {
			err = wolfSSL_get_error(c->ssl, n);
			if (err != WOLFSSL_ERROR_WANT_WRITE && err != WOLFSSL_ERROR_WANT_READ) {
				conn_close(c, false, "closed: write: %s", tls_error(c->ssl, n));
			}
			return;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->closing && c->out_len == 0) {
		conn_close(c, false, "closed after %u answers, no close_notify", opt.close_after);
	}
}

static void conn_handshake(struct conn *c, uint64_t now)
{
	int ret;
	int err;
	bool reused;
	void *sni = NULL;
	unsigned short sni_len;

	ret = wolfSSL_accept(c->ssl);
	if (ret == WOLFSSL_SUCCESS) {
		reused = wolfSSL_session_reused(c->ssl) != 0;
		c->state = CONN_OPEN;
		c->last_active_ms = now;
		stats.handshakes++;
		if (reused) {
			stats.resumed++;
		}
		/* WOLFSSL_ALWAYS_KEEP_SNI (Debian): the client's SNI is kept with no SNI of ours.
		 */
		sni_len = wolfSSL_SNI_GetRequest(c->ssl, WOLFSSL_SNI_HOST_NAME, &sni);
		log_msg("conn %u: handshake done, %s %s, %s, sni '%.*s'", c->id,
			wolfSSL_get_version(c->ssl), wolfSSL_get_cipher_name(c->ssl),
			reused ? "resumed" : "full", sni ? (int)sni_len : 0,
			sni ? (char *)sni : "");
		return;
	}
	err = wolfSSL_get_error(c->ssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ) {
		c->hs_events = POLLIN;
	} else if (err == WOLFSSL_ERROR_WANT_WRITE) {
		c->hs_events = POLLOUT;
	} else {
		conn_close(c, false, "closed: handshake failed: %s", tls_error(c->ssl, ret));
	}
}

/*
 * When --idle-close closes @c: a while after its last activity, once nothing is owed to it.
 * A connection still in its handshake counts from its accept.
 */
static uint64_t conn_idle_at(const struct conn *c)
{
	if (!opt.idle_close_ms || c->state == CONN_DEAD || c->head || c->out_len > 0 ||
	    c->closing) {
		return NEVER;
	}
	return c->last_active_ms + opt.idle_close_ms;
}

/* Everything one connection does in one loop iteration; @revents may be 0 (timers only). */
static void conn_service(struct conn *c, short revents, uint64_t now)
{
	if (c->state == CONN_HANDSHAKE && revents) {
		conn_handshake(c, now);
		if (c->state == CONN_OPEN) {
			/* wolfSSL may already hold queries sent right behind the client's Finished.
			 */
			revents = POLLIN;
		}
	}
	if (c->state == CONN_HANDSHAKE && now >= conn_idle_at(c)) {
		conn_close(c, false, "closed: no handshake after %u ms", opt.idle_close_ms);
	}
	if (c->state != CONN_OPEN) {
		return;
	}
	if (revents || (c->read_held && !conn_full(c))) {
		conn_read(c, now);
	}
	conn_answer_due(c, now);
	conn_flush(c);
	if (c->state == CONN_OPEN && now >= conn_idle_at(c)) {
		conn_close(c, true, "closed after %u ms idle", opt.idle_close_ms);
	}
}

static short conn_events(const struct conn *c)
{
	short ev = 0;

	if (c->state == CONN_HANDSHAKE) {
		return c->hs_events;
	}
	if (!c->read_held && !c->closing) {
		ev |= POLLIN;
	}
	if (c->out_len > 0 || c->tls_wants_write) {
		ev |= POLLOUT;
	}
	return ev;
}

/* The next time something must happen on @c without any I/O. */
static uint64_t conn_deadline(const struct conn *c)
{
	uint64_t at = conn_idle_at(c);

	if (c->state != CONN_OPEN) {
		return at;
	}
	if (c->read_held && !conn_full(c)) {
		return 0; /* answers went out: read again at once */
	}
	if (!c->closing && conn_release_at(c) < at) {
		at = conn_release_at(c);
	}
	return at;
}

static void conn_accept(WOLFSSL_CTX *ctx, int fd, const struct sockaddr_in *sa, uint64_t now)
{
	char addr[INET_ADDRSTRLEN];
	struct conn *c;
	int one = 1;

	stats.connections++;
	c = calloc(1, sizeof(*c));
	if (c) {
		c->ssl = wolfSSL_new(ctx);
	}
	if (!c || !c->ssl || wolfSSL_set_fd(c->ssl, fd) != WOLFSSL_SUCCESS) {
		log_msg("connection refused: out of memory");
		if (c) {
			wolfSSL_free(c->ssl);
		}
		free(c);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->id = next_conn_id++;
	c->fd = fd;
	c->state = CONN_HANDSHAKE;
	c->hs_events = POLLIN;
	c->last_active_ms = now;
	inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof(addr));
	snprintf(c->peer, sizeof(c->peer), "%s:%u", addr, ntohs(sa->sin_port));
	c->next = conns;
	conns = c;
	log_msg("conn %u: accepted from %s", c->id, c->peer);
}

/* Accept every connection waiting; returns when to try again after running out of files. */
static uint64_t accept_all(WOLFSSL_CTX *ctx, int lfd, uint64_t now)
{
	struct sockaddr_in sa;
	socklen_t sa_len;
	int fd;

	for (;;) {
		sa_len = sizeof(sa);
		fd = accept4(lfd, (struct sockaddr *)&sa, &sa_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_accept(ctx, fd, &sa, now);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return 0;
		}
		if (errno == EINTR || errno == ECONNABORTED) {
			continue;
		}
		log_msg("accept: %s", strerror(errno));
		return now + ACCEPT_PAUSE_MS;
	}
}

static void conns_sweep(void)
{
	struct conn **pp = &conns;
	struct conn *c;

	while ((c = *pp)) {
		if (c->state == CONN_DEAD) {
			*pp = c->next;
			conn_free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* --- setup and the loop --- */

static int listen_on(unsigned port, unsigned *bound)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sa_len = sizeof(sa);
	int one = 1;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_msg("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sa_len) < 0) {
		log_msg("cannot listen on 127.0.0.1:%u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

/*
 * --fail-resumption: tickets are issued (masked, not sealed: this is a test server; wolfSSL
 * refuses a ticket left as it was, or a zero name, IV or MAC, as a callback that forgot them), and
 * a ClientHello that offers one back fails the handshake with a fatal alert rather than falling
 * back to a full handshake, as wolfSSL does when a ticket callback says WOLFSSL_TICKET_RET_FATAL.
 */
static int on_ticket_fail_resumption(WOLFSSL *ssl, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
				     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
				     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc,
				     unsigned char *ticket, int in_len, int *out_len, void *arg)
{
	(void)ssl;
	(void)arg;
	if (!enc) {
		return WOLFSSL_TICKET_RET_FATAL;
	}
	for (int i = 0; i < in_len; i++) {
		ticket[i] ^= 0x5a;
	}
	memset(name, 0x5a, WOLFSSL_TICKET_NAME_SZ);
	memset(iv, 0x5a, WOLFSSL_TICKET_IV_SZ);
	memset(mac, 0x5a, WOLFSSL_TICKET_MAC_SZ);
	*out_len = in_len;
	return WOLFSSL_TICKET_RET_OK;
}

static WOLFSSL_CTX *tls_setup(void)
{
	WOLFSSL_CTX *ctx;

	/*
	 * Session resumption: Debian's wolfSSL 5.5.4 has HAVE_SESSION_TICKET, and a server
	 * context then comes with wolfSSL's own ticket encryption callback (random key made at
	 * context creation), used for TLS 1.3 tickets and for TLS 1.2 tickets (RFC 5077) when
	 * the client asks for them. TLS 1.2 session IDs go through the internal session cache.
	 */
	ctx = wolfSSL_CTX_new(opt.tls12_only ? wolfTLSv1_2_server_method()
					     : wolfSSLv23_server_method());
	if (!ctx) {
		log_msg("cannot create the TLS context");
		return NULL;
	}
	if (!opt.tls12_only && wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
		log_msg("cannot set TLS 1.2 as the minimum version");
		goto fail;
	}
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, opt.cert) != WOLFSSL_SUCCESS) {
		log_msg("cannot load the certificate '%s'", opt.cert);
		goto fail;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(ctx, opt.key, WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		log_msg("cannot load the key '%s'", opt.key);
		goto fail;
	}
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
		log_msg("the key '%s' does not match the certificate '%s'", opt.key, opt.cert);
		goto fail;
	}
	if (opt.fail_resumption &&
	    wolfSSL_CTX_set_TicketEncCb(ctx, on_ticket_fail_resumption) != WOLFSSL_SUCCESS) {
		log_msg("cannot set the ticket callback");
		goto fail;
	}
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

static int run(WOLFSSL_CTX *ctx, int lfd, const sigset_t *waitmask)
{
	struct pollfd *pfds = NULL;
	struct conn **pconns = NULL;
	size_t cap = 0;
	size_t n;
	size_t i;
	uint64_t accept_paused_until = 0;
	uint64_t now;
	uint64_t next;
	struct timespec ts;
	struct conn *c;
	int ret = 0;
	void *p;

	while (!got_stop) {
		if (got_usr1) {
			got_usr1 = 0;
			stats_report();
		}
		now = now_ms();
		n = 1;
		for (c = conns; c; c = c->next) {
			n++;
		}
		if (n > cap) {
			cap = n * 2;
			p = realloc(pfds, cap * sizeof(*pfds));
			if (!p) {
				ret = -1;
				break;
			}
			pfds = p;
			p = realloc(pconns, cap * sizeof(*pconns));
			if (!p) {
				ret = -1;
				break;
			}
			pconns = p;
		}
		pfds[0].fd = now >= accept_paused_until ? lfd : -1;
		pfds[0].events = POLLIN;
		next = accept_paused_until > now ? accept_paused_until : NEVER;
		for (i = 1, c = conns; c; c = c->next, i++) {
			pconns[i] = c;
			pfds[i].fd = c->fd;
			pfds[i].events = conn_events(c);
			pfds[i].revents = 0;
			if (conn_deadline(c) < next) {
				next = conn_deadline(c);
			}
		}
		if (next != NEVER) {
			next = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(next / 1000);
			ts.tv_nsec = (long)(next % 1000) * 1000000;
		}
		if (ppoll(pfds, n, next == NEVER ? NULL : &ts, waitmask) < 0) {
			if (errno == EINTR) {
				continue;
			}
			log_msg("poll: %s", strerror(errno));
			ret = -1;
			break;
		}
		now = now_ms();
		if (pfds[0].revents) {
			accept_paused_until = accept_all(ctx, lfd, now);
		}
		/* Connections accepted just now are not in pconns: their turn comes next time. */
		for (i = 1; i < n; i++) {
			conn_service(pconns[i], pfds[i].revents, now);
		}
		conns_sweep();
	}
	free(pfds);
	free(pconns);
	return ret;
}

static void usage(FILE *f)
{
	fputs("usage: dotd-fakeup --port P --cert FILE --key FILE [switches]\n"
	      "  --tag N             answer 192.0.2.N and 2001:db8::N (default 1)\n"
	      "  --stats FILE        write the counters there on SIGUSR1 and at exit\n"
	      "  --reverse K         hold queries until K pending (or 200 ms), answer in reverse\n"
	      "  --stall             handshake and read, never answer\n"
	      "  --close-after N     TCP close (no close_notify) after N answers\n"
	      "  --garbage           answer random bytes in a valid frame\n"
	      "  --bad-length        answer a frame of length 0\n"
	      "  --wrong-id          answer with ID + 1\n"
	      "  --wrong-question    answer for the name under an extra label 'x'\n"
	      "  --delay MS          answer each query MS ms after it arrived\n"
	      "  --tls12-only        accept TLS 1.2 only\n"
	      "  --keepalive T       edns-tcp-keepalive TIMEOUT T (100 ms units) in answers' OPT\n"
	      "  --idle-close MS     close (with close_notify) after MS ms without a query\n"
	      "  --servfail-after N  answer SERVFAIL (EDE 0 'fakeup servfail') after N answers\n"
	      "  --refuse            answer REFUSED to every query\n"
	      "  --ignore-label L    never answer names whose first label is L\n"
	      "  --slow-label L      apply --delay only to names whose first label is L\n"
	      "  --extra-label L     answer names whose first label is L with a second\n"
	      "                      record, for extra.invalid (a name not asked)\n"
	      "  --fail-resumption   issue tickets, fail (fatal alert) a handshake offering one\n"
	      "  --close-unanswered  TCP close (no close_notify) at the first query, unanswered\n",
	      f);
}

static int parse_uint(const char *name, const char *s, unsigned long max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max) {
		fprintf(stderr, "dotd-fakeup: %s: '%s' is not a number from 0 to %lu\n", name, s,
			max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	enum {
		OPT_PORT = 256,
		OPT_CERT,
		OPT_KEY,
		OPT_TAG,
		OPT_STATS,
		OPT_REVERSE,
		OPT_STALL,
		OPT_CLOSE_AFTER,
		OPT_GARBAGE,
		OPT_BAD_LENGTH,
		OPT_WRONG_ID,
		OPT_WRONG_QUESTION,
		OPT_DELAY,
		OPT_TLS12_ONLY,
		OPT_KEEPALIVE,
		OPT_IDLE_CLOSE,
		OPT_SERVFAIL_AFTER,
		OPT_REFUSE,
		OPT_IGNORE_LABEL,
		OPT_SLOW_LABEL,
		OPT_EXTRA_LABEL,
		OPT_FAIL_RESUMPTION,
		OPT_CLOSE_UNANSWERED,
		OPT_HELP,
	};
	static const struct option longopts[] = {
		{"port", required_argument, NULL, OPT_PORT},
		{"cert", required_argument, NULL, OPT_CERT},
		{"key", required_argument, NULL, OPT_KEY},
		{"tag", required_argument, NULL, OPT_TAG},
		{"stats", required_argument, NULL, OPT_STATS},
		{"reverse", required_argument, NULL, OPT_REVERSE},
		{"stall", no_argument, NULL, OPT_STALL},
		{"close-after", required_argument, NULL, OPT_CLOSE_AFTER},
		{"garbage", no_argument, NULL, OPT_GARBAGE},
		{"bad-length", no_argument, NULL, OPT_BAD_LENGTH},
		{"wrong-id", no_argument, NULL, OPT_WRONG_ID},
		{"wrong-question", no_argument, NULL, OPT_WRONG_QUESTION},
		{"delay", required_argument, NULL, OPT_DELAY},
		{"tls12-only", no_argument, NULL, OPT_TLS12_ONLY},
		{"keepalive", required_argument, NULL, OPT_KEEPALIVE},
		{"idle-close", required_argument, NULL, OPT_IDLE_CLOSE},
		{"servfail-after", required_argument, NULL, OPT_SERVFAIL_AFTER},
		{"refuse", no_argument, NULL, OPT_REFUSE},
		{"ignore-label", required_argument, NULL, OPT_IGNORE_LABEL},
		{"slow-label", required_argument, NULL, OPT_SLOW_LABEL},
		{"extra-label", required_argument, NULL, OPT_EXTRA_LABEL},
		{"fail-resumption", no_argument, NULL, OPT_FAIL_RESUMPTION},
		{"close-unanswered", no_argument, NULL, OPT_CLOSE_UNANSWERED},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	bool have_port = false;
	unsigned v;
	int ch;
	int ret = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1 && ret == 0) {
		switch (ch) {
		case OPT_PORT:
			ret = parse_uint("--port", optarg, 65535, &opt.port);
			have_port = true;
			break;
		case OPT_CERT:
			opt.cert = optarg;
			break;
		case OPT_KEY:
			opt.key = optarg;
			break;
		case OPT_TAG:
			ret = parse_uint("--tag", optarg, 255, &opt.tag);
			break;
		case OPT_STATS:
			opt.stats_path = optarg;
			break;
		case OPT_REVERSE:
			ret = parse_uint("--reverse", optarg, MAX_PENDING, &opt.reverse);
			break;
		case OPT_STALL:
			opt.stall = true;
			break;
		case OPT_CLOSE_AFTER:
			ret = parse_uint("--close-after", optarg, UINT_MAX, &opt.close_after);
			break;
		case OPT_GARBAGE:
			opt.garbage = true;
			break;
		case OPT_BAD_LENGTH:
			opt.bad_length = true;
			break;
		case OPT_WRONG_ID:
			opt.wrong_id = true;
			break;
		case OPT_WRONG_QUESTION:
			opt.wrong_question = true;
			break;
		case OPT_DELAY:
			ret = parse_uint("--delay", optarg, 3600000, &opt.delay_ms);
			break;
		case OPT_TLS12_ONLY:
			opt.tls12_only = true;
			break;
		case OPT_KEEPALIVE:
			ret = parse_uint("--keepalive", optarg, 65535, &v);
			opt.keepalive = (int)v;
			break;
		case OPT_IDLE_CLOSE:
			ret = parse_uint("--idle-close", optarg, 3600000, &opt.idle_close_ms);
			break;
		case OPT_SERVFAIL_AFTER:
			ret = parse_uint("--servfail-after", optarg, INT_MAX, &v);
			opt.servfail_after = (int)v;
			break;
		case OPT_REFUSE:
			opt.refuse = true;
			break;
		case OPT_IGNORE_LABEL:
			opt.ignore_label = optarg;
			break;
		case OPT_SLOW_LABEL:
			opt.slow_label = optarg;
			break;
		case OPT_EXTRA_LABEL:
			opt.extra_label = optarg;
			break;
		case OPT_FAIL_RESUMPTION:
			opt.fail_resumption = true;
			break;
		case OPT_CLOSE_UNANSWERED:
			opt.close_unanswered = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			ret = -1;
			break;
		}
	}
	if (ret == 0 && (optind != argc || !have_port || !opt.cert || !opt.key)) {
		ret = -1;
	}
	if (ret < 0) {
		usage(stderr);
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block;
	sigset_t waitmask;
	WOLFSSL_CTX *ctx = NULL;
	unsigned port = 0;
	int lfd = -1;
	int ret = 1;

	if (parse_args(argc, argv) < 0) {
		return 2;
	}

	/* The signals are blocked except inside ppoll(), so none is missed between checks. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGUSR1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		log_msg("cannot initialise wolfSSL");
		return 1;
	}
	ctx = tls_setup();
	if (ctx) {
		lfd = listen_on(opt.port, &port);
	}
	if (lfd >= 0) {
		printf("listening on 127.0.0.1:%u\n", port);
		fflush(stdout);
		log_msg("listening on 127.0.0.1:%u, tag %u", port, opt.tag);
		ret = run(ctx, lfd, &waitmask) < 0 ? 1 : 0;
		log_msg("stopping");
		while (conns) {
			struct conn *c = conns;

			conns = c->next;
			conn_free(c);
		}
		close(lfd);
		stats_report();
	}
	wolfSSL_CTX_free(ctx);
	wolfSSL_Cleanup();
	return ret;
}
