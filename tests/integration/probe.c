/*
 * dotd-probe: the DNS client of the integration test (tests/integration/run.sh).
 *
 * It is independent of dotd's own code: messages are built and parsed by ldns, sent over plain
 * sockets managed here. Each subcommand asks dotd something and checks the answer: the ID and
 * the question (the name byte for byte, so its case too) come back as sent, then what the
 * subcommand is about. Exit status 0 when every check passes, 1 with a message on stderr when
 * one fails, 2 on bad usage. Every read waits at most READ_TIMEOUT_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h> /* tcp_info's tcpi_data_segs_in (Linux 4.6); not <netinet/tcp.h> */

#include <ldns/ldns.h>

#define READ_TIMEOUT_MS 3000
#define MAX_MSG		65535
#define BURST_WINDOW	100 /* queries in flight at most */
#define SAMEID_ROUNDS	50
#define DNS_OPT_EDE	15
#define UDP_PLAIN_MAX	512
#define UDP_EDNS_MAX	1232
#define BIG_MIN_TXT	10

struct target {
	struct sockaddr_storage addr;
	socklen_t len;
};

/* One query: the ldns packet and its wire form, kept to check the answer against. */
struct query {
	ldns_pkt *pkt;
	uint8_t *wire;
	size_t len;
	uint16_t id;
	ldns_rr_type type;
	const ldns_rdf *qname; /* owned by pkt */
};

static const char *label = "probe"; /* the subcommand, prefixed to messages */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint16_t random_id(void)
{
	return (uint16_t)(random() & 0xffff);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* --- sockets --- */

static int target_parse(const char *host, const char *port, struct target *t)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res;
	int ret;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0) {
		say("bad address '%s' port '%s': %s", host, port, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Wait until fd is ready for events; -ETIMEDOUT after timeout_ms. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int ret;

	do {
		ret = poll(&p, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		return -errno;
	}
	if (ret == 0) {
		return -ETIMEDOUT;
	}
	return 0;
}

/* A socket connected to t: UDP, or TCP (the connect bounded by READ_TIMEOUT_MS). */
static int sock_open(const struct target *t, bool tcp, int *out)
{
	struct timeval tv = {.tv_sec = READ_TIMEOUT_MS / 1000};
	int fd, ret;

	fd = socket(t->addr.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		say("socket: %s", strerror(-ret));
		return ret;
	}
	if (!tcp) {
		if (connect(fd, (const struct sockaddr *)&t->addr, t->len) != 0) {
			ret = -errno;
			say("connect: %s", strerror(-ret));
			close(fd);
			return ret;
		}
		*out = fd;
		return 0;
	}
	/* TCP: SO_SNDTIMEO bounds the connect (EINPROGRESS when it runs out) and every send. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		ret = -errno;
		say("setsockopt: %s", strerror(-ret));
		close(fd);
		return ret;
	}
	ret = connect(fd, (const struct sockaddr *)&t->addr, t->len);
	if (ret != 0) {
		ret = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		say("TCP connect: %s", strerror(-ret));
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

static int udp_send(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int ret = -errno;

		say("UDP send: %s", strerror(-ret));
		return ret;
	}
	if ((size_t)n != len) {
		say("UDP send: short write");
		return -EIO;
	}
	return 0;
}

static int udp_recv(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	ssize_t n;
	int ret;

	ret = wait_fd(fd, POLLIN, READ_TIMEOUT_MS);
	if (ret != 0) {
		say("UDP: no answer within %d ms (%s)", READ_TIMEOUT_MS, strerror(-ret));
		return ret;
	}
	do {
		n = recv(fd, buf, cap, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = -errno;
		say("UDP recv: %s", strerror(-ret));
		return ret;
	}
	*len = (size_t)n;
	return 0;
}

/* Write the 2-octet length and the message (RFC 1035 §4.2.2), all of it. */
static int tcp_send(int fd, const uint8_t *buf, size_t len)
{
	uint8_t prefix[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	struct iovec iov[2] = {{prefix, 2}, {(void *)buf, len}};
	size_t left = len + 2;

	if (len > MAX_MSG) {
		return -EMSGSIZE;
	}
	while (left > 0) {
		ssize_t n = writev(fd, iov, 2);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			int ret = n < 0 ? -errno : -EIO;

			say("TCP send: %s", strerror(-ret));
			return ret;
		}
		left -= (size_t)n;
		for (int i = 0; i < 2; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;

			iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	return 0;
}

/* Read exactly n octets, waiting at most READ_TIMEOUT_MS for each read. */
static int tcp_read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k;
		int ret = wait_fd(fd, POLLIN, READ_TIMEOUT_MS);

		if (ret != 0) {
			say("TCP: nothing to read within %d ms (%s)", READ_TIMEOUT_MS,
			    strerror(-ret));
			return ret;
		}
		k = recv(fd, buf + got, n - got, 0);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			ret = -errno;
			say("TCP recv: %s", strerror(-ret));
			return ret;
		}
		if (k == 0) {
			say("TCP: connection closed by dotd (%zu of %zu octets read)", got, n);
			return -ECONNRESET;
		}
		got += (size_t)k;
	}
	return 0;
}

static int tcp_recv(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t prefix[2];
	size_t n;
	int ret;

	ret = tcp_read_full(fd, prefix, 2);
	if (ret != 0) {
		return ret;
	}
	n = (size_t)prefix[0] << 8 | prefix[1];
	if (n > cap) {
		return -EMSGSIZE;
	}
	ret = tcp_read_full(fd, buf, n);
	if (ret != 0) {
		return ret;
	}
	*len = n;
	return 0;
}

static int msg_send(int fd, bool tcp, const struct query *q)
{
	return tcp ? tcp_send(fd, q->wire, q->len) : udp_send(fd, q->wire, q->len);
}

static int msg_recv(int fd, bool tcp, uint8_t *buf, size_t cap, size_t *len)
{
	return tcp ? tcp_recv(fd, buf, cap, len) : udp_recv(fd, buf, cap, len);
}

/* --- messages --- */

/* A query for name/type, class IN, RD set; with an OPT record when edns_size is not 0. */
static int query_new(const char *name, ldns_rr_type type, uint16_t id, uint16_t edns_size,
		     struct query *q)
{
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	ldns_status st;

	memset(q, 0, sizeof(*q));
	if (!qname) {
		say("bad name '%s'", name);
		return -EINVAL;
	}
	q->pkt = ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, LDNS_RD);
	if (!q->pkt) {
		ldns_rdf_deep_free(qname);
		return -ENOMEM;
	}
	ldns_pkt_set_id(q->pkt, id);
	if (edns_size) {
		ldns_pkt_set_edns_udp_size(q->pkt, edns_size);
	}
	st = ldns_pkt2wire(&q->wire, q->pkt, &q->len);
	if (st != LDNS_STATUS_OK) {
		say("ldns_pkt2wire: %s", ldns_get_errorstr_by_id(st));
		ldns_pkt_free(q->pkt);
		q->pkt = NULL;
		return -EINVAL;
	}
	q->id = id;
	q->type = type;
	q->qname = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q->pkt), 0));
	return 0;
}

static void query_free(struct query *q)
{
	ldns_pkt_free(q->pkt);
	free(q->wire);
	memset(q, 0, sizeof(*q));
}

static void query_describe(const struct query *q, char *out, size_t cap)
{
	char *name = ldns_rdf2str(q->qname);
	char *type = ldns_rr_type2str(q->type);

	snprintf(out, cap, "%s %s (ID %u)", name ? name : "?", type ? type : "?", q->id);
	free(name);
	free(type);
}

static void pkt_show(const char *what, const ldns_pkt *p)
{
	fprintf(stderr, "%s: %s:\n", label, what);
	ldns_pkt_print(stderr, p);
}

/*
 * Parse buf as the answer to q and check the header and question: a response, q's ID, one
 * question whose name is q's byte for byte (so the case too), q's type, class IN.
 */
static int answer_parse(const struct query *q, const uint8_t *buf, size_t len, ldns_pkt **out)
{
	char desc[300];
	ldns_pkt *a = NULL;
	ldns_status st;
	const ldns_rr *qr;
	const ldns_rdf *name;

	query_describe(q, desc, sizeof(desc));
	st = ldns_wire2pkt(&a, buf, len);
	if (st != LDNS_STATUS_OK) {
		say("%s: answer of %zu octets does not parse: %s", desc, len,
		    ldns_get_errorstr_by_id(st));
		return -EBADMSG;
	}
	if (!ldns_pkt_qr(a) || ldns_pkt_id(a) != q->id || ldns_pkt_qdcount(a) != 1) {
		say("%s: not a response to our query: QR=%d ID %u QDCOUNT %u", desc, ldns_pkt_qr(a),
		    ldns_pkt_id(a), ldns_pkt_qdcount(a));
		pkt_show("answer", a);
		ldns_pkt_free(a);
		return -EBADMSG;
	}
	qr = ldns_rr_list_rr(ldns_pkt_question(a), 0);
	name = ldns_rr_owner(qr);
	if (ldns_rdf_size(name) != ldns_rdf_size(q->qname) ||
	    memcmp(ldns_rdf_data(name), ldns_rdf_data(q->qname), ldns_rdf_size(name)) != 0 ||
	    ldns_rr_get_type(qr) != q->type || ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN) {
		say("%s: the question came back different", desc);
		pkt_show("answer", a);
		ldns_pkt_free(a);
		return -EBADMSG;
	}
	*out = a;
	return 0;
}

/* The rdata of rr as text, its fields separated by one space; NULL on failure. */
static char *rr_rdata_str(const ldns_rr *rr)
{
	ldns_buffer *b = ldns_buffer_new(256);
	char *s;

	if (!b) {
		return NULL;
	}
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		if (i > 0) {
			ldns_buffer_printf(b, " ");
		}
		ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, i));
	}
	s = ldns_buffer_export2str(b);
	ldns_buffer_free(b);
	return s;
}

/* True when some answer RR's rdata, as text, contains sub. */
/*
 * Case-insensitively: names in RDATA compressed against the question take the spelling the
 * client used in it (unbound does the same), and names compare without case (RFC 4343).
 */
static bool answer_has(const ldns_pkt *a, const char *sub)
{
	const ldns_rr_list *an = ldns_pkt_answer(a);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		char *s = rr_rdata_str(ldns_rr_list_rr(an, i));
		bool hit = s && strcasestr(s, sub);

		free(s);
		if (hit) {
			return true;
		}
	}
	return false;
}

static size_t answer_count_type(const ldns_pkt *a, ldns_rr_type type)
{
	const ldns_rr_list *an = ldns_pkt_answer(a);
	size_t n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		if (ldns_rr_get_type(ldns_rr_list_rr(an, i)) == type) {
			n++;
		}
	}
	return n;
}

/* Check rcode and, when sub is not NULL, an answer RR containing it (and TC clear). */
static int answer_expect(const struct query *q, const ldns_pkt *a, ldns_pkt_rcode rcode,
			 const char *sub)
{
	char desc[300];

	query_describe(q, desc, sizeof(desc));
	if (ldns_pkt_get_rcode(a) != rcode) {
		ldns_lookup_table *got = ldns_lookup_by_id(ldns_rcodes, ldns_pkt_get_rcode(a));
		ldns_lookup_table *want = ldns_lookup_by_id(ldns_rcodes, rcode);

		say("%s: RCODE %s, expected %s", desc, got ? got->name : "?",
		    want ? want->name : "?");
		pkt_show("answer", a);
		return -EBADMSG;
	}
	if (sub && ldns_pkt_tc(a)) {
		say("%s: TC set where a whole answer was expected", desc);
		pkt_show("answer", a);
		return -EBADMSG;
	}
	if (sub && !answer_has(a, sub)) {
		say("%s: no answer record contains '%s'", desc, sub);
		pkt_show("answer", a);
		return -EBADMSG;
	}
	return 0;
}

/* Put @q at @at as a TCP frame (2-octet length, then the message); its length. */
static size_t frame_put(uint8_t *at, const struct query *q)
{
	at[0] = (uint8_t)(q->len >> 8);
	at[1] = (uint8_t)q->len;
	memcpy(at + 2, q->wire, q->len);
	return 2 + q->len;
}

/* Send q on fd and read its answer, checked by answer_parse(). */
static int exchange(int fd, bool tcp, const struct query *q, uint8_t *buf, size_t *len,
		    ldns_pkt **out)
{
	int ret;

	ret = msg_send(fd, tcp, q);
	if (ret != 0) {
		return ret;
	}
	ret = msg_recv(fd, tcp, buf, MAX_MSG, len);
	if (ret != 0) {
		return ret;
	}
	return answer_parse(q, buf, *len, out);
}

/* --- arguments --- */

static int parse_transport(const char *s, bool *tcp)
{
	if (strcmp(s, "udp") == 0) {
		*tcp = false;
	} else if (strcmp(s, "tcp") == 0) {
		*tcp = true;
	} else {
		say("transport must be udp or tcp, not '%s'", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_rcode(const char *s, ldns_pkt_rcode *out)
{
	ldns_lookup_table *t = ldns_lookup_by_name(ldns_rcodes, s);
	char *end;
	unsigned long v;

	if (t) {
		*out = (ldns_pkt_rcode)t->id;
		return 0;
	}
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v > 15) {
		say("unknown RCODE '%s'", s);
		return -EINVAL;
	}
	*out = (ldns_pkt_rcode)v;
	return 0;
}

/* --- subcommands --- */

/*
 * The ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range), where a port is
 * never handed out to an outgoing connection or an unbound UDP socket: a port picked in the
 * ephemeral range is free now but may be taken by some other test's client socket before the
 * caller binds it (CI saw dotd fail to start that way). 0 when the range leaves too few below it.
 */
static int freeport_low_range(unsigned *lo, unsigned *hi)
{
	unsigned elo = 0, ehi = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f == NULL) {
		return -errno;
	}
	if (fscanf(f, "%u %u", &elo, &ehi) != 2) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	if (elo < 10000 + 1000) {
		return -ERANGE;
	}
	*lo = 10000;
	*hi = elo - 1;
	return 0;
}

/* Whether PORT (0: any) binds for both TCP and UDP on 127.0.0.1; the port bound in *OUT. */
static bool freeport_try(unsigned port, unsigned *out)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t slen = sizeof(sin);
	int t, u, ret = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t >= 0 && u >= 0 && bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(t, (struct sockaddr *)&sin, &slen) == 0) {
		ret = bind(u, (struct sockaddr *)&sin, sizeof(sin));
	}
	if (t >= 0) {
		close(t);
	}
	if (u >= 0) {
		close(u);
	}
	if (ret != 0) {
		return false;
	}
	*out = ntohs(sin.sin_port);
	return true;
}

/*
 * A port free for both TCP and UDP on 127.0.0.1 (free now; the caller binds it soon), picked at
 * random below the ephemeral range so that no client socket can take it meanwhile; two tests
 * picking the same one at once is left to chance (1 in 22,000 on Linux's default range).
 */
static int cmd_freeport(int argc, char **argv)
{
	struct timespec ts;
	unsigned lo = 0, hi = 0, port = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	srandom((unsigned)getpid() ^ (unsigned)ts.tv_nsec);
	if (freeport_low_range(&lo, &hi) == 0) {
		for (int attempt = 0; attempt < 100; attempt++) {
			if (freeport_try(lo + (unsigned)random() % (hi - lo + 1), &port)) {
				printf("%u\n", port);
				return 0;
			}
		}
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		if (freeport_try(0, &port)) {
			printf("%u\n", port);
			return 0;
		}
	}
	say("no free port found");
	return -EADDRINUSE;
}

static int cmd_query(int argc, char **argv)
{
	struct target t;
	struct query q;
	ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
	ldns_rr_type type;
	ldns_pkt *a = NULL;
	uint8_t *buf;
	size_t len;
	bool tcp;
	int fd, ret;

	if (argc < 5 || argc > 7) {
		say("usage: query HOST PORT NAME TYPE udp|tcp [RCODE] [RDATA-SUBSTRING]");
		return -EINVAL;
	}
	type = ldns_get_rr_type_by_name(argv[3]);
	if (type == 0) {
		say("unknown type '%s'", argv[3]);
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = parse_transport(argv[4], &tcp);
	}
	if (ret == 0 && argc > 5) {
		ret = parse_rcode(argv[5], &rcode);
	}
	if (ret != 0) {
		return ret;
	}
	buf = malloc(MAX_MSG);
	if (!buf) {
		return -ENOMEM;
	}
	ret = query_new(argv[2], type, random_id(), 0, &q);
	if (ret != 0) {
		free(buf);
		return ret;
	}
	ret = sock_open(&t, tcp, &fd);
	if (ret == 0) {
		ret = exchange(fd, tcp, &q, buf, &len, &a);
		close(fd);
	}
	if (ret == 0) {
		ret = answer_expect(&q, a, rcode, argc > 6 ? argv[6] : NULL);
	}
	if (ret == 0) {
		char desc[300];

		query_describe(&q, desc, sizeof(desc));
		printf("ok: %s over %s: %zu octets, %zu answer records\n", desc,
		       tcp ? "TCP" : "UDP", len, ldns_rr_list_rr_count(ldns_pkt_answer(a)));
	}
	ldns_pkt_free(a);
	query_free(&q);
	free(buf);
	return ret;
}

/* One answer of a burst: find its query by ID, check it fully. */
static int burst_check(struct query *qs, size_t n, uint16_t base, bool *done, const uint8_t *buf,
		       size_t len)
{
	size_t i;
	ldns_pkt *a = NULL;
	int ret;

	if (len < 2) {
		say("answer of %zu octets", len);
		return -EBADMSG;
	}
	i = (uint16_t)((buf[0] << 8 | buf[1]) - base);
	if (i >= n || !qs[i].pkt || done[i]) {
		say("answer with ID %u matches no query in flight", buf[0] << 8 | buf[1]);
		return -EBADMSG;
	}
	ret = answer_parse(&qs[i], buf, len, &a);
	if (ret == 0) {
		ret = answer_expect(&qs[i], a, LDNS_RCODE_NOERROR, "192.0.2.1");
	}
	ldns_pkt_free(a);
	done[i] = true;
	query_free(&qs[i]);
	return ret;
}

static int cmd_burst(int argc, char **argv)
{
	struct target t;
	struct query *qs = NULL;
	bool *done = NULL;
	uint8_t *buf = NULL;
	uint16_t base = random_id();
	size_t n, sent = 0, answered = 0, len;
	double start, ms, *sent_at = NULL, last = 0, max_gap = 0, max_lat = 0;
	const char *prefix = "q";
	char *end;
	bool tcp;
	int fd = -1, ret;

	if (argc != 4 && argc != 5) {
		say("usage: burst HOST PORT N udp|tcp [NAME-PREFIX]");
		return -EINVAL;
	}
	if (argc == 5) {
		prefix = argv[4];
	}
	n = strtoul(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || n == 0 || n > 65536) {
		say("N must be 1 to 65536, not '%s'", argv[2]);
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = parse_transport(argv[3], &tcp);
	}
	if (ret != 0) {
		return ret;
	}
	qs = calloc(n, sizeof(*qs));
	done = calloc(n, sizeof(*done));
	sent_at = calloc(n, sizeof(*sent_at));
	buf = malloc(MAX_MSG);
	if (!qs || !done || !sent_at || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sock_open(&t, tcp, &fd);
	if (ret != 0) {
		goto out;
	}
	start = last = now_ms();
	while (answered < n) {
		double now;
		size_t i;

		/* Keep up to BURST_WINDOW in flight, then read one answer (any of them). */
		while (sent < n && sent - answered < BURST_WINDOW) {
			char name[96];

			snprintf(name, sizeof(name), "%.60s%zu.bench.", prefix, sent);
			ret = query_new(name, LDNS_RR_TYPE_A, (uint16_t)(base + sent), 0,
					&qs[sent]);
			if (ret == 0) {
				ret = msg_send(fd, tcp, &qs[sent]);
			}
			if (ret != 0) {
				goto out;
			}
			sent_at[sent] = now_ms();
			sent++;
		}
		ret = msg_recv(fd, tcp, buf, MAX_MSG, &len);
		if (ret == 0 && len >= 2) {
			/* Latency of this answer, and the longest silence between two answers. */
			now = now_ms();
			i = (uint16_t)((buf[0] << 8 | buf[1]) - base);
			if (i < n && now - sent_at[i] > max_lat) {
				max_lat = now - sent_at[i];
			}
			if (now - last > max_gap) {
				max_gap = now - last;
			}
			last = now;
		}
		if (ret == 0) {
			ret = burst_check(qs, n, base, done, buf, len);
		}
		if (ret != 0) {
			say("after %zu answers of %zu (%zu sent)", answered, n, sent);
			goto out;
		}
		answered++;
	}
	ms = now_ms() - start;
	printf("ok: %zu queries over %s up to %d in flight) in %.0f ms, %.0f queries/s, "
	       "max_latency_ms=%.0f max_gap_ms=%.0f\n",
	       n, tcp ? "TCP (one connection," : "UDP (one socket,", BURST_WINDOW, ms,
	       ms > 0 ? (double)n * 1000.0 / ms : 0.0, max_lat, max_gap);
out:
	if (fd >= 0) {
		close(fd);
	}
	for (size_t i = 0; qs && i < n; i++) {
		if (qs[i].pkt) {
			query_free(&qs[i]);
		}
	}
	free(qs);
	free(done);
	free(sent_at);
	free(buf);
	return ret;
}

/* Two clients, the same ID, different questions, sent back to back: each gets its own. */
static int sameid_round(int fds[2], bool tcp, int round, uint8_t *buf)
{
	static const struct {
		const char *name;
		ldns_rr_type type;
		const char *rdata;
	} ask[2] = {
		{"www.example.", LDNS_RR_TYPE_A, "192.0.2.80"},
		{"mail.example.", LDNS_RR_TYPE_MX, "10 mx.example."},
	};
	struct query q[2];
	uint16_t id = random_id();
	int ret = 0;

	memset(q, 0, sizeof(q));
	for (int i = 0; i < 2 && ret == 0; i++) {
		ret = query_new(ask[i].name, ask[i].type, id, 0, &q[i]);
	}
	/* Alternate which client speaks first. */
	for (int k = 0; k < 2 && ret == 0; k++) {
		int i = (round + k) % 2;

		ret = msg_send(fds[i], tcp, &q[i]);
	}
	for (int i = 0; i < 2 && ret == 0; i++) {
		ldns_pkt *a = NULL;
		size_t len;

		ret = msg_recv(fds[i], tcp, buf, MAX_MSG, &len);
		if (ret == 0) {
			ret = answer_parse(&q[i], buf, len, &a);
		}
		if (ret == 0) {
			ret = answer_expect(&q[i], a, LDNS_RCODE_NOERROR, ask[i].rdata);
		}
		ldns_pkt_free(a);
	}
	if (ret != 0) {
		say("round %d of %d, both queries with ID %u", round + 1, SAMEID_ROUNDS, id);
	}
	for (int i = 0; i < 2; i++) {
		if (q[i].pkt) {
			query_free(&q[i]);
		}
	}
	return ret;
}

static int cmd_sameid(int argc, char **argv)
{
	struct target t;
	int fds[2] = {-1, -1};
	uint8_t *buf;
	bool tcp;
	int ret;

	if (argc != 3) {
		say("usage: sameid HOST PORT udp|tcp");
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = parse_transport(argv[2], &tcp);
	}
	if (ret != 0) {
		return ret;
	}
	buf = malloc(MAX_MSG);
	if (!buf) {
		return -ENOMEM;
	}
	for (int i = 0; i < 2 && ret == 0; i++) {
		ret = sock_open(&t, tcp, &fds[i]);
	}
	for (int round = 0; round < SAMEID_ROUNDS && ret == 0; round++) {
		ret = sameid_round(fds, tcp, round, buf);
	}
	if (ret == 0) {
		printf("ok: %d rounds of two %s clients with one ID each round\n", SAMEID_ROUNDS,
		       tcp ? "TCP" : "UDP");
	}
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	free(buf);
	return ret;
}

/* big.example TXT over UDP with edns_size (0: no EDNS): cut to fit, TC set, no records. */
static int truncation_udp(const struct target *t, uint16_t edns_size, size_t max, uint8_t *buf)
{
	struct query q;
	ldns_pkt *a = NULL;
	size_t len;
	int fd, ret;

	ret = query_new("big.example.", LDNS_RR_TYPE_TXT, random_id(), edns_size, &q);
	if (ret != 0) {
		return ret;
	}
	ret = sock_open(t, false, &fd);
	if (ret == 0) {
		ret = exchange(fd, false, &q, buf, &len, &a);
		close(fd);
	}
	if (ret == 0) {
		const char *how = edns_size ? "UDP with EDNS 4096" : "UDP without EDNS";

		if (ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR || !ldns_pkt_tc(a) || len > max ||
		    ldns_pkt_ancount(a) != 0 || (edns_size && !ldns_pkt_edns(a))) {
			say("big.example TXT over %s: expected NOERROR, TC set, at most %zu "
			    "octets, "
			    "no answer records%s; got %s, TC %s, %zu octets, %u answer records%s",
			    how, max, edns_size ? ", an OPT record" : "",
			    ldns_pkt_get_rcode(a) == LDNS_RCODE_NOERROR ? "NOERROR" : "other RCODE",
			    ldns_pkt_tc(a) ? "set" : "clear", len, ldns_pkt_ancount(a),
			    ldns_pkt_edns(a) ? ", an OPT record" : ", no OPT record");
			pkt_show("answer", a);
			ret = -EBADMSG;
		} else {
			printf("ok: big.example TXT over %s: TC set, %zu octets\n", how, len);
		}
	}
	ldns_pkt_free(a);
	query_free(&q);
	return ret;
}

static int truncation_tcp(const struct target *t, uint8_t *buf)
{
	struct query q;
	ldns_pkt *a = NULL;
	size_t len, n = 0;
	int fd, ret;

	ret = query_new("big.example.", LDNS_RR_TYPE_TXT, random_id(), 0, &q);
	if (ret != 0) {
		return ret;
	}
	ret = sock_open(t, true, &fd);
	if (ret == 0) {
		ret = exchange(fd, true, &q, buf, &len, &a);
		close(fd);
	}
	if (ret == 0) {
		n = answer_count_type(a, LDNS_RR_TYPE_TXT);
		if (ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR || ldns_pkt_tc(a) ||
		    n < BIG_MIN_TXT || len <= UDP_EDNS_MAX) {
			say("big.example TXT over TCP: expected NOERROR, TC clear, at least %d TXT "
			    "records, over %d octets; got TC %s, %zu TXT records, %zu octets",
			    BIG_MIN_TXT, UDP_EDNS_MAX, ldns_pkt_tc(a) ? "set" : "clear", n, len);
			pkt_show("answer", a);
			ret = -EBADMSG;
		} else {
			printf("ok: big.example TXT over TCP: whole, %zu TXT records, %zu octets\n",
			       n, len);
		}
	}
	ldns_pkt_free(a);
	query_free(&q);
	return ret;
}

static int cmd_truncation(int argc, char **argv)
{
	struct target t;
	uint8_t *buf;
	int ret, failed = 0;

	if (argc != 2) {
		say("usage: truncation HOST PORT");
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0) {
		return ret;
	}
	buf = malloc(MAX_MSG);
	if (!buf) {
		return -ENOMEM;
	}
	/* All three, whatever fails first. */
	ret = truncation_udp(&t, 0, UDP_PLAIN_MAX, buf);
	failed = ret ? ret : failed;
	ret = truncation_udp(&t, 4096, UDP_EDNS_MAX, buf);
	failed = ret ? ret : failed;
	ret = truncation_tcp(&t, buf);
	failed = ret ? ret : failed;
	free(buf);
	return failed;
}

/* The first Extended DNS Error option of a's OPT record: 0, or -ENOENT. */
static int find_ede(const ldns_pkt *a, unsigned *code, char *text, size_t cap)
{
	const ldns_rdf *d = ldns_pkt_edns_data(a);
	const uint8_t *p;
	size_t len, off = 0;

	if (!d) {
		return -ENOENT;
	}
	p = ldns_rdf_data(d);
	len = ldns_rdf_size(d);
	while (off + 4 <= len) {
		unsigned opt = (unsigned)(p[off] << 8 | p[off + 1]);
		size_t olen = (size_t)(p[off + 2] << 8 | p[off + 3]);

		if (off + 4 + olen > len) {
			break;
		}
		if (opt == DNS_OPT_EDE && olen >= 2) {
			size_t tlen = olen - 2 < cap - 1 ? olen - 2 : cap - 1;

			*code = (unsigned)(p[off + 4] << 8 | p[off + 5]);
			memcpy(text, p + off + 6, tlen);
			text[tlen] = '\0';
			return 0;
		}
		off += 4 + olen;
	}
	return -ENOENT;
}

static int cmd_authfail(int argc, char **argv)
{
	struct target t;
	struct query q;
	ldns_pkt *a = NULL;
	uint8_t *buf;
	size_t len;
	int fd, ret;

	if (argc != 2) {
		say("usage: authfail HOST PORT");
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0) {
		return ret;
	}
	buf = malloc(MAX_MSG);
	if (!buf) {
		return -ENOMEM;
	}
	/* With EDNS, so that the Extended DNS Error has somewhere to go. */
	ret = query_new("www.example.", LDNS_RR_TYPE_A, random_id(), 1232, &q);
	if (ret != 0) {
		free(buf);
		return ret;
	}
	ret = sock_open(&t, false, &fd);
	if (ret == 0) {
		ret = exchange(fd, false, &q, buf, &len, &a);
		close(fd);
	}
	if (ret == 0) {
		unsigned code = 0;
		char text[256];

		if (ldns_pkt_get_rcode(a) != LDNS_RCODE_SERVFAIL || ldns_pkt_ancount(a) != 0) {
			say("www.example A: expected SERVFAIL with no answer records, got RCODE %d "
			    "and %u answer records",
			    ldns_pkt_get_rcode(a), ldns_pkt_ancount(a));
			pkt_show("answer", a);
			ret = -EBADMSG;
		} else if (find_ede(a, &code, text, sizeof(text)) != 0) {
			say("www.example A: SERVFAIL without an Extended DNS Error option");
			pkt_show("answer", a);
			ret = -EBADMSG;
		} else {
			printf("ok: www.example A: SERVFAIL, no answer, EDE %u \"%s\"\n", code,
			       text);
		}
	}
	ldns_pkt_free(a);
	query_free(&q);
	free(buf);
	return ret;
}

/* One query with EDNS over UDP; print "rcode=R ttl=T ede=E" (T: the smallest answer TTL). */
static int cmd_ttl(int argc, char **argv)
{
	struct target t;
	struct query q;
	ldns_pkt *a = NULL;
	ldns_rr_type type;
	uint8_t *buf;
	size_t len;
	int fd, ret;

	if (argc != 4) {
		say("usage: ttl HOST PORT NAME TYPE");
		return -EINVAL;
	}
	type = ldns_get_rr_type_by_name(argv[3]);
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0 || type == 0) {
		return ret ? ret : -EINVAL;
	}
	buf = malloc(MAX_MSG);
	if (!buf) {
		return -ENOMEM;
	}
	ret = query_new(argv[2], type, random_id(), 1232, &q);
	if (ret != 0) {
		free(buf);
		return ret;
	}
	ret = sock_open(&t, false, &fd);
	if (ret == 0) {
		ret = exchange(fd, false, &q, buf, &len, &a);
		close(fd);
	}
	if (ret == 0) {
		ldns_rr_list *ans = ldns_pkt_answer(a);
		ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, ldns_pkt_get_rcode(a));
		uint32_t ttl = UINT32_MAX;
		unsigned code = 0;
		char text[256];

		for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
			uint32_t v = ldns_rr_ttl(ldns_rr_list_rr(ans, i));

			ttl = v < ttl ? v : ttl;
		}
		if (find_ede(a, &code, text, sizeof(text)) != 0) {
			printf("rcode=%s ttl=%ld ede=none\n", rc ? rc->name : "?",
			       ttl == UINT32_MAX ? -1L : (long)ttl);
		} else {
			printf("rcode=%s ttl=%ld ede=%u\n", rc ? rc->name : "?",
			       ttl == UINT32_MAX ? -1L : (long)ttl, code);
		}
	}
	ldns_pkt_free(a);
	query_free(&q);
	free(buf);
	return ret;
}

/* N identical queries at once on one UDP socket (IDs base..base+N-1): every one answered. */
static int cmd_flood(int argc, char **argv)
{
	struct target t;
	struct query *qs = NULL;
	bool *done = NULL;
	uint8_t *buf = NULL;
	uint16_t base = random_id();
	ldns_rr_type type;
	size_t n, got = 0, len;
	char *end;
	int fd = -1, ret;

	if (argc != 5) {
		say("usage: flood HOST PORT N NAME TYPE");
		return -EINVAL;
	}
	n = strtoul(argv[2], &end, 10);
	type = ldns_get_rr_type_by_name(argv[4]);
	if (*end != '\0' || n == 0 || n > 10000 || type == 0) {
		say("bad N or TYPE");
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0) {
		return ret;
	}
	qs = calloc(n, sizeof(*qs));
	done = calloc(n, sizeof(*done));
	buf = malloc(MAX_MSG);
	if (!qs || !done || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sock_open(&t, false, &fd);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = query_new(argv[3], type, (uint16_t)(base + i), 0, &qs[i]);
		if (ret == 0) {
			ret = msg_send(fd, false, &qs[i]);
		}
	}
	while (ret == 0 && got < n) {
		ldns_pkt *a = NULL;
		size_t i;

		ret = msg_recv(fd, false, buf, MAX_MSG, &len);
		if (ret != 0) {
			say("after %zu answers of %zu", got, n);
			break;
		}
		i = (uint16_t)((buf[0] << 8 | buf[1]) - base);
		if (len < 2 || i >= n || done[i]) {
			say("an answer that matches no query");
			ret = -EBADMSG;
			break;
		}
		ret = answer_parse(&qs[i], buf, len, &a);
		if (ret == 0) {
			ret = answer_expect(&qs[i], a, LDNS_RCODE_NOERROR, NULL);
		}
		ldns_pkt_free(a);
		done[i] = true;
		got++;
	}
	if (ret == 0) {
		printf("ok: %zu identical queries for %s answered\n", n, argv[3]);
	}
out:
	if (fd >= 0) {
		close(fd);
	}
	for (size_t i = 0; qs && i < n; i++) {
		if (qs[i].pkt) {
			query_free(&qs[i]);
		}
	}
	free(qs);
	free(done);
	free(buf);
	return ret;
}

/* Whether the server has closed @fd (EOF or reset), looking without blocking. */
static bool peer_closed(int fd)
{
	uint8_t b[512];
	ssize_t n;

	for (;;) {
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n > 0) {
			continue; /* answers: drain them */
		}
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
	}
}

/*
 * N silent TCP connections kept open for SECONDS: one the server closes (idle, or to make room)
 * is opened again at once, so that the server's limit stays full. Prints how many it closed.
 */
static int cmd_hold(int argc, char **argv)
{
	struct target t;
	int *fds;
	size_t n, closed = 0;
	double start;
	int secs, ret;

	if (argc != 4) {
		say("usage: hold HOST PORT N SECONDS");
		return -EINVAL;
	}
	n = strtoul(argv[2], NULL, 10);
	secs = atoi(argv[3]);
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0 || n == 0 || n > 10000) {
		return ret ? ret : -EINVAL;
	}
	fds = calloc(n, sizeof(*fds));
	if (!fds) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		ret = sock_open(&t, true, &fds[i]);
		if (ret != 0) {
			say("connection %zu of %zu", i + 1, n);
			n = i;
			break;
		}
	}
	printf("holding %zu connections\n", n);
	fflush(stdout);
	start = now_ms();
	while (ret == 0 && now_ms() - start < secs * 1000.0) {
		for (size_t i = 0; i < n; i++) {
			if (peer_closed(fds[i])) {
				close(fds[i]);
				closed++;
				ret = sock_open(&t, true, &fds[i]);
				if (ret != 0) {
					fds[i] = -1;
					break;
				}
			}
		}
		usleep(50 * 1000);
	}
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	printf("ok: %zu silent connections kept open %d s; the server closed %zu, reopened at "
	       "once\n",
	       n, secs, closed);
	free(fds);
	return ret;
}

/* A client that sends a query one byte every 200 ms; ok when the server closes it. */
static int cmd_drip(int argc, char **argv)
{
	struct target t;
	struct query q;
	int fd, secs, ret;
	double start;
	size_t sent = 0;

	if (argc != 3) {
		say("usage: drip HOST PORT SECONDS");
		return -EINVAL;
	}
	secs = atoi(argv[2]);
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = query_new("drip.example.", LDNS_RR_TYPE_A, random_id(), 0, &q);
	}
	if (ret != 0) {
		return ret;
	}
	ret = sock_open(&t, true, &fd);
	if (ret != 0) {
		query_free(&q);
		return ret;
	}
	start = now_ms();
	while (now_ms() - start < secs * 1000.0) {
		uint8_t frame[2 + 512];

		frame[0] = (uint8_t)(q.len >> 8);
		frame[1] = (uint8_t)q.len;
		memcpy(frame + 2, q.wire, q.len);
		if (peer_closed(fd) ||
		    send(fd, frame + sent % (q.len + 2), 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			printf("ok: closed by the server after %.1f s and %zu bytes\n",
			       (now_ms() - start) / 1000.0, sent);
			close(fd);
			query_free(&q);
			return 0;
		}
		sent++;
		usleep(200 * 1000);
	}
	say("still open after %d s of drip-feeding (%zu bytes)", secs, sent);
	close(fd);
	query_free(&q);
	return -ETIMEDOUT;
}

/*
 * Queries for NAME over one TCP connection, sent for up to N seconds and never reading an
 * answer: ok when the server closes the connection (a send fails with EPIPE or ECONNRESET).
 * Nothing is read, so nothing relieves the server's queue of answers.
 */
static int cmd_noread(int argc, char **argv)
{
	struct target t;
	struct query q;
	uint8_t batch[64 * 1024];
	size_t frame_len, n_frames, sent = 0;
	double start;
	int fd, ret, secs, small = 4096;

	if (argc != 4) {
		say("usage: noread HOST PORT SECONDS NAME");
		return -EINVAL;
	}
	secs = atoi(argv[2]);
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = query_new(argv[3], LDNS_RR_TYPE_A, random_id(), 0, &q);
	}
	if (ret != 0) {
		return ret;
	}
	ret = sock_open(&t, true, &fd);
	if (ret != 0) {
		query_free(&q);
		return ret;
	}
	/* A small receive window, so that the answers pile up at the server soon. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	frame_len = 2 + q.len;
	n_frames = sizeof(batch) / frame_len;
	for (size_t i = 0; i < n_frames; i++) {
		frame_put(batch + i * frame_len, &q);
	}
	start = now_ms();
	ret = -EBUSY;
	while (now_ms() - start < secs * 1000.0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		ssize_t n;

		if (poll(&p, 1, 200) <= 0) {
			continue;
		}
		n = send(fd, batch, n_frames * frame_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			printf("ok: closed by the server after %zu octets of queries, no answer "
			       "read\n",
			       sent);
			ret = 0;
			break;
		}
	}
	if (ret != 0) {
		say("still open after %d s and %zu octets of queries, no answer read", secs, sent);
	}
	close(fd);
	query_free(&q);
	return ret;
}

/*
 * fill: one answer read, then N queries of that name in one write, and nothing more: neither
 * read nor sent. Ok when the server resets the connection within SECONDS; a FIN would wait
 * behind the unread answers and never show here. Many queries: their answers pass what the
 * server keeps for a client (its queue and the kernel's send buffer), and a server that lets
 * its kernel buffer them without bound never closes it. Fewer, whose answers pass the kernel's
 * buffer only: the server closes it when idle, with answers still unsent. With "halfclose",
 * the write is followed by shutdown(SHUT_WR): a server that answers a half-closed client and
 * then closes with a FIN behind what the client did not read fails too.
 */
static int cmd_fill(int argc, char **argv)
{
	struct target t;
	struct query q = {0};
	ldns_rr_type type;
	ldns_pkt *a = NULL;
	uint8_t *buf = NULL, *all = NULL;
	size_t len, frame_len = 0;
	int fd = -1, n, secs, ret, small = 4096, err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd p;

	if ((argc != 6 && argc != 7) || (argc == 7 && strcmp(argv[6], "halfclose") != 0)) {
		say("usage: fill HOST PORT N NAME TYPE SECONDS [halfclose]");
		return -EINVAL;
	}
	n = atoi(argv[2]);
	type = ldns_get_rr_type_by_name(argv[4]);
	secs = atoi(argv[5]);
	if (n < 1 || n > 10000 || type == 0 || secs < 1) {
		say("bad N '%s', type '%s' or SECONDS '%s'", argv[2], argv[4], argv[5]);
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = query_new(argv[3], type, random_id(), 0, &q);
	}
	if (ret != 0) {
		return ret;
	}
	buf = malloc(MAX_MSG);
	ret = buf ? sock_open(&t, true, &fd) : -ENOMEM;
	if (ret == 0) {
		/* The name is cached after this: the N answers are made at once. */
		ret = exchange(fd, true, &q, buf, &len, &a);
		ldns_pkt_free(a);
	}
	if (ret == 0) {
		/* A small receive window: the answers stay at the server. */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		frame_len = 2 + q.len;
		all = malloc(frame_len * (size_t)n);
		ret = all ? 0 : -ENOMEM;
	}
	if (ret == 0) {
		for (int i = 0; i < n; i++) {
			frame_put(all + i * frame_len, &q);
		}
		if (write(fd, all, frame_len * (size_t)n) != (ssize_t)(frame_len * (size_t)n) ||
		    (argc == 7 && shutdown(fd, SHUT_WR) != 0)) {
			say("TCP send of %d queries: %s", n, strerror(errno));
			ret = -EIO;
		}
	}
	if (ret == 0) {
		p = (struct pollfd){.fd = fd, .events = 0};
		if (poll(&p, 1, secs * 1000) < 0 || !(p.revents & (POLLERR | POLLHUP))) {
			say("not reset within %d s of %d queries (%zu octets of answers unread)",
			    secs, n, len * (size_t)n);
			ret = -ETIMEDOUT;
		}
	}
	if (ret == 0) {
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err != ECONNRESET) {
			say("closed, but not reset: %s", strerror(err));
			ret = -EPROTO;
		} else {
			printf("ok: reset by the server, %d answers of %zu octets left unread\n", n,
			       len);
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	query_free(&q);
	free(all);
	free(buf);
	return ret;
}

/*
 * A raw message (hex) over UDP: "none" expects no answer at all; an RCODE expects an answer
 * with the message's ID and that RCODE (the question may be absent).
 */
static int cmd_raw(int argc, char **argv)
{
	struct target t;
	uint8_t msg[1024], buf[MAX_MSG];
	size_t len = 0, got;
	const char *hex;
	int fd, ret;

	if (argc != 4) {
		say("usage: raw HOST PORT HEX none|RCODE");
		return -EINVAL;
	}
	for (hex = argv[2]; hex[0] && hex[1] && len < sizeof(msg); hex += 2) {
		unsigned v;

		if (sscanf(hex, "%2x", &v) != 1) {
			say("bad hex at '%s'", hex);
			return -EINVAL;
		}
		msg[len++] = (uint8_t)v;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = sock_open(&t, false, &fd);
	}
	if (ret != 0) {
		return ret;
	}
	ret = udp_send(fd, msg, len);
	if (ret == 0) {
		if (strcmp(argv[3], "none") == 0) {
			struct timeval tv = {.tv_sec = 1};

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (recv(fd, buf, sizeof(buf), 0) >= 0) {
				say("an answer came to a message that deserves none");
				ret = -EBADMSG;
			} else {
				printf("ok: no answer\n");
			}
		} else {
			ldns_pkt_rcode want;

			ret = parse_rcode(argv[3], &want);
			if (ret == 0) {
				ret = udp_recv(fd, buf, sizeof(buf), &got);
			}
			if (ret == 0 && (got < 12 || buf[0] != msg[0] || buf[1] != msg[1] ||
					 (buf[3] & 0xf) != want || !(buf[2] & 0x80))) {
				say("answer: %zu octets, ID %02x%02x, RCODE %u; expected ID "
				    "%02x%02x, "
				    "RCODE %d",
				    got, buf[0], buf[1], got >= 4 ? buf[3] & 0xf : 99, msg[0],
				    msg[1], want);
				ret = -EBADMSG;
			} else if (ret == 0) {
				printf("ok: RCODE %s with the client's ID\n", argv[3]);
			}
		}
	}
	close(fd);
	return ret;
}

/*
 * A TCP port on loopback that never completes a connection, for SECONDS: it listens with a
 * backlog of 0 and fills its own accept queue, so that the kernel drops further SYNs and a
 * client's connect hangs, as behind a firewall that drops packets.
 */
static int cmd_blackhole(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int lfd, fill[4], n_fill = 0, secs;

	if (argc != 2) {
		say("usage: blackhole PORT SECONDS");
		return -EINVAL;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[0]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	secs = atoi(argv[1]);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 0) != 0) {
		say("cannot listen on port %s: %s", argv[0], strerror(errno));
		return -errno;
	}
	for (int i = 0; i < 4; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd >= 0) {
			connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			fill[n_fill++] = fd;
		}
	}
	printf("blackhole on %s\n", argv[0]);
	fflush(stdout);
	sleep((unsigned)secs);
	for (int i = 0; i < n_fill; i++) {
		close(fill[i]);
	}
	close(lfd);
	return 0;
}

/*
 * pair: two queries pipelined over one TCP connection, in one write; their answers must come
 * together. A server that leaves Nagle's algorithm on holds the second small answer until the
 * client acknowledges the first, and Linux delays that ACK (40 ms at least) on a connection
 * where data has flowed both ways, which the warm-up of PAIR_WARMUP exchanges makes it. The
 * bound, 20 ms, is half that minimum; a try over it is made again, up to three times, so that a
 * stalled machine does not fail it (a server holding the answer is 40 ms late in all three).
 * With MISS-SUFFIX, the second query of each pair asks a fresh name under it: a cache miss, so
 * its answer is written on its own, after the first has left (a server that gathers the answers
 * of one read into one write passes the first form even with Nagle on, not this one).
 */
#define PAIR_WARMUP 24
#define PAIR_MS	    20.0

static int pair_try(int fd, const char *name, const char *miss, ldns_rr_type type, uint8_t *buf,
		    double *gap)
{
	char fresh[300];
	struct query q[2] = {0};
	double at[2] = {0};
	uint8_t *both = NULL;
	size_t len;
	int ret;

	for (int i = 0; i < PAIR_WARMUP; i++) {
		ldns_pkt *a = NULL;

		ret = query_new(name, type, random_id(), 0, &q[0]);
		if (ret != 0) {
			return ret;
		}
		ret = exchange(fd, true, &q[0], buf, &len, &a);
		ldns_pkt_free(a);
		query_free(&q[0]);
		if (ret != 0) {
			return ret;
		}
	}
	snprintf(fresh, sizeof(fresh), "p%08lx.%s", (unsigned long)random(), miss ? miss : "");
	ret = query_new(name, type, random_id(), 0, &q[0]);
	if (ret == 0) {
		ret = query_new(miss ? fresh : name, type, (uint16_t)(q[0].id + 1), 0, &q[1]);
	}
	if (ret == 0) {
		both = malloc(q[0].len + q[1].len + 4);
		ret = both ? 0 : -ENOMEM;
	}
	if (ret == 0) {
		size_t off = 0;

		for (int i = 0; i < 2; i++) {
			off += frame_put(both + off, &q[i]);
		}
		if (write(fd, both, off) != (ssize_t)off) {
			say("TCP send of the pair: %s", strerror(errno));
			ret = -EIO;
		}
	}
	for (int i = 0; ret == 0 && i < 2; i++) {
		ldns_pkt *a = NULL;

		ret = tcp_recv(fd, buf, MAX_MSG, &len);
		at[i] = now_ms();
		if (ret == 0 && len >= 2) {
			/* Either order (RFC 7766 §7): the ID says which. */
			uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);

			ret = answer_parse(id == q[1].id ? &q[1] : &q[0], buf, len, &a);
		}
		ldns_pkt_free(a);
	}
	if (ret == 0) {
		*gap = at[1] - at[0];
	}
	free(both);
	query_free(&q[0]);
	query_free(&q[1]);
	return ret;
}

static int cmd_pair(int argc, char **argv)
{
	struct target t;
	ldns_rr_type type;
	uint8_t *buf;
	double gap = 0;
	int fd, ret;

	if (argc != 4 && argc != 5) {
		say("usage: pair HOST PORT NAME TYPE [MISS-SUFFIX]");
		return -EINVAL;
	}
	type = ldns_get_rr_type_by_name(argv[3]);
	if (type == 0) {
		say("unknown type '%s'", argv[3]);
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0) {
		return ret;
	}
	buf = malloc(MAX_MSG);
	if (!buf) {
		return -ENOMEM;
	}
	ret = sock_open(&t, true, &fd);
	if (ret != 0) {
		free(buf);
		return ret;
	}
	for (int i = 1; i <= 3; i++) {
		ret = pair_try(fd, argv[2], argc == 5 ? argv[4] : NULL, type, buf, &gap);
		if (ret != 0 || gap < PAIR_MS) {
			break;
		}
		say("try %d: the second answer came %.1f ms after the first", i, gap);
	}
	close(fd);
	free(buf);
	if (ret == 0 && gap >= PAIR_MS) {
		say("two pipelined answers %.1f ms apart (at most %.0f)", gap, PAIR_MS);
		return -ETIMEDOUT;
	}
	if (ret == 0) {
		printf("ok: two pipelined answers over TCP %.2f ms apart\n", gap);
	}
	return ret;
}

/*
 * segs: N queries of one cached name in one TCP write; their N answers, made in one read of the
 * server's, must come in at most SEGS_MAX TCP segments (tcp_info's tcpi_data_segs_in). A server
 * with TCP_NODELAY that writes each answer as it is made sends N segments.
 */
#define SEGS_MAX 4

static int segs_count(int fd, uint32_t *n)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
		say("TCP_INFO: %s", strerror(errno));
		return -errno;
	}
	if (len < offsetof(struct tcp_info, tcpi_data_segs_in) + sizeof(ti.tcpi_data_segs_in)) {
		say("TCP_INFO has no tcpi_data_segs_in (Linux before 4.6)");
		return -ENOTSUP;
	}
	*n = ti.tcpi_data_segs_in;
	return 0;
}

static int cmd_segs(int argc, char **argv)
{
	struct target t;
	struct query *q = NULL;
	ldns_rr_type type;
	uint8_t *buf = NULL, *all = NULL;
	size_t len, off = 0;
	uint32_t before = 0, after = 0;
	int fd = -1, n, ret;

	if (argc != 5) {
		say("usage: segs HOST PORT N NAME TYPE");
		return -EINVAL;
	}
	n = atoi(argv[2]);
	type = ldns_get_rr_type_by_name(argv[4]);
	if (n < 1 || n > 1000 || type == 0) {
		say("bad N '%s' or type '%s'", argv[2], argv[4]);
		return -EINVAL;
	}
	ret = target_parse(argv[0], argv[1], &t);
	if (ret != 0) {
		return ret;
	}
	q = calloc((size_t)n, sizeof(*q));
	buf = malloc(MAX_MSG);
	if (!q || !buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = sock_open(&t, true, &fd);
	for (int i = 0; ret == 0 && i < n; i++) {
		ret = query_new(argv[3], type, (uint16_t)(i == 0 ? random_id() : q[0].id + i), 0,
				&q[i]);
		off += 2 + (ret == 0 ? q[i].len : 0);
	}
	if (ret == 0) {
		ldns_pkt *a = NULL;

		/* The first alone: the name is cached after it. */
		ret = exchange(fd, true, &q[0], buf, &len, &a);
		ldns_pkt_free(a);
	}
	if (ret == 0) {
		all = malloc(off);
		ret = all ? segs_count(fd, &before) : -ENOMEM;
	}
	if (ret == 0) {
		off = 0;
		for (int i = 0; i < n; i++) {
			off += frame_put(all + off, &q[i]);
		}
		if (write(fd, all, off) != (ssize_t)off) {
			say("TCP send of %d queries: %s", n, strerror(errno));
			ret = -EIO;
		}
	}
	for (int i = 0; ret == 0 && i < n; i++) {
		ldns_pkt *a = NULL;
		unsigned k;

		ret = tcp_recv(fd, buf, MAX_MSG, &len);
		if (ret != 0) {
			break;
		}
		k = len >= 2 ? (uint16_t)((buf[0] << 8 | buf[1]) - q[0].id) : (unsigned)n;
		if (k >= (unsigned)n) {
			say("answer %d has an ID of no query", i + 1);
			ret = -EPROTO;
			break;
		}
		ret = answer_parse(&q[k], buf, len, &a);
		ldns_pkt_free(a);
	}
	if (ret == 0) {
		ret = segs_count(fd, &after);
	}
	if (ret == 0 && after - before > SEGS_MAX) {
		say("%d answers to one write came in %u TCP segments (at most %d)", n,
		    after - before, SEGS_MAX);
		ret = -EMSGSIZE;
	} else if (ret == 0) {
		printf("ok: %d answers to one write in %u TCP segment(s)\n", n, after - before);
	}
cleanup:
	if (fd >= 0) {
		close(fd);
	}
	for (int i = 0; q && i < n; i++) {
		query_free(&q[i]);
	}
	free(q);
	free(all);
	free(buf);
	return ret;
}

/* One per line: clang-format would pack this many into columns. */
/*
 * halfclose: a query for NAME (cached by a first exchange) and one for a fresh name under
 * MISS-SUFFIX, in one write, then shutdown(SHUT_WR): the client's FIN, after which it may still
 * receive (RFC 9293 §3.6). Ok when both answers come, NOERROR, and then the server's FIN, all
 * within 5 s. A server that closes at the client's FIN loses the miss's answer.
 */
static int cmd_halfclose(int argc, char **argv)
{
	struct target t;
	struct query q[2] = {0};
	ldns_rr_type type;
	uint8_t *buf = NULL, both[2 * (2 + 512)];
	char fresh[300];
	struct timeval tv = {.tv_sec = 5};
	size_t len, off = 0;
	int fd = -1, ret, got = 0;

	if (argc != 5) {
		say("usage: halfclose HOST PORT NAME TYPE MISS-SUFFIX");
		return -EINVAL;
	}
	type = ldns_get_rr_type_by_name(argv[3]);
	if (type == 0) {
		say("unknown type '%s'", argv[3]);
		return -EINVAL;
	}
	snprintf(fresh, sizeof(fresh), "h%08lx.%s", (unsigned long)random(), argv[4]);
	ret = target_parse(argv[0], argv[1], &t);
	if (ret == 0) {
		ret = query_new(argv[2], type, random_id(), 0, &q[0]);
	}
	if (ret == 0) {
		ret = query_new(fresh, type, (uint16_t)(q[0].id + 1), 0, &q[1]);
	}
	if (ret == 0 && q[0].len + q[1].len > sizeof(both) - 4) {
		ret = -EMSGSIZE;
	}
	buf = ret == 0 ? malloc(MAX_MSG) : NULL;
	if (ret == 0) {
		ret = buf ? sock_open(&t, true, &fd) : -ENOMEM;
	}
	if (ret == 0) {
		ldns_pkt *a = NULL;

		/* NAME is cached after this: its answer is made at once, the miss's later. */
		ret = exchange(fd, true, &q[0], buf, &len, &a);
		ldns_pkt_free(a);
	}
	if (ret == 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		for (int i = 0; i < 2; i++) {
			off += frame_put(both + off, &q[i]);
		}
		if (write(fd, both, off) != (ssize_t)off || shutdown(fd, SHUT_WR) != 0) {
			say("TCP send of two queries and the FIN: %s", strerror(errno));
			ret = -EIO;
		}
	}
	for (; ret == 0 && got < 2; got++) {
		ldns_pkt *a = NULL;

		ret = tcp_recv(fd, buf, MAX_MSG, &len);
		if (ret != 0) {
			say("after our FIN, %d answer(s) of 2 came, then: %s", got, strerror(-ret));
			break;
		}
		if (len >= 2) {
			uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);

			ret = answer_parse(id == q[1].id ? &q[1] : &q[0], buf, len, &a);
		}
		if (ret == 0 && (!a || ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR)) {
			say("answer %d after our FIN is not NOERROR", got + 1);
			ret = -EPROTO;
		}
		ldns_pkt_free(a);
	}
	if (ret == 0) {
		ssize_t n = read(fd, buf, 1);

		if (n != 0) {
			say("after both answers, no FIN from the server: %s",
			    n < 0 ? strerror(errno) : "more data");
			ret = -EPROTO;
		} else {
			printf("ok: both answers after our FIN (one a miss, %s), then the server's "
			       "FIN\n",
			       fresh);
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	free(buf);
	query_free(&q[0]);
	query_free(&q[1]);
	return ret;
}

/* clang-format off */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} cmds[] = {
	{"freeport", cmd_freeport},
	{"query", cmd_query},
	{"burst", cmd_burst},
	{"sameid", cmd_sameid},
	{"truncation", cmd_truncation},
	{"authfail", cmd_authfail},
	{"ttl", cmd_ttl},
	{"flood", cmd_flood},
	{"hold", cmd_hold},
	{"drip", cmd_drip},
	{"noread", cmd_noread},
	{"fill", cmd_fill},
	{"raw", cmd_raw},
	{"blackhole", cmd_blackhole},
	{"pair", cmd_pair},
	{"segs", cmd_segs},
	{"halfclose", cmd_halfclose},
};
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f, "usage: dotd-probe freeport\n"
		   "       dotd-probe query HOST PORT NAME TYPE udp|tcp [RCODE] [RDATA-SUBSTRING]\n"
		   "       dotd-probe burst HOST PORT N udp|tcp [NAME-PREFIX]\n"
		   "       dotd-probe sameid HOST PORT udp|tcp\n"
		   "       dotd-probe truncation HOST PORT\n"
		   "       dotd-probe authfail HOST PORT\n"
		   "       dotd-probe ttl HOST PORT NAME TYPE\n"
		   "       dotd-probe flood HOST PORT N NAME TYPE\n"
		   "       dotd-probe hold HOST PORT N SECONDS\n"
		   "       dotd-probe drip HOST PORT SECONDS\n"
		   "       dotd-probe noread HOST PORT SECONDS NAME\n"
		   "       dotd-probe fill HOST PORT N NAME TYPE SECONDS [halfclose]\n"
		   "       dotd-probe raw HOST PORT HEX none|RCODE\n"
		   "       dotd-probe blackhole PORT SECONDS\n"
		   "       dotd-probe pair HOST PORT NAME TYPE [MISS-SUFFIX]\n"
		   "       dotd-probe segs HOST PORT N NAME TYPE\n"
		   "       dotd-probe halfclose HOST PORT NAME TYPE MISS-SUFFIX\n");
}

int main(int argc, char **argv)
{
	struct timespec ts;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)(ts.tv_nsec ^ ts.tv_sec ^ getpid()));
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			int ret;

			label = cmds[i].name;
			ret = cmds[i].run(argc - 2, argv + 2);
			if (ret == -EINVAL) {
				return 2;
			}
			return ret == 0 ? 0 : 1;
		}
	}
	usage(stderr);
	return 2;
}
