/*
 * test_dns_wire: the bounds-checked wire reader (cache/dns_wire.c) on valid and hostile
 * messages: compression loops, pointers forward and into the header, names over 255 octets,
 * labels over 63, counts and RDLENGTHs past the end, OPT rules (RFC 6891 §6.1.1).
 */
#include <errno.h>
#include <string.h>

#include "dns_wire.h"
#include "unit.h"

/* A header with the given counts. */
static size_t hdr(uint8_t *m, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	memset(m, 0, DNS_HDR_LEN);
	dns_put16(m, 0x1234);
	dns_put16(m + 4, qd);
	dns_put16(m + 6, an);
	dns_put16(m + 8, ns);
	dns_put16(m + 10, ar);
	return DNS_HDR_LEN;
}

static size_t put_name(uint8_t *p, const char *dotted)
{
	size_t n = 0;

	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);

		p[n++] = (uint8_t)l;
		memcpy(p + n, dotted, l);
		n += l;
		dotted += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static size_t put_rr_a(uint8_t *p, const uint8_t *name, size_t name_len, uint32_t ttl)
{
	memcpy(p, name, name_len);
	dns_put16(p + name_len, DNS_TYPE_A);
	dns_put16(p + name_len + 2, DNS_CLASS_IN);
	dns_put32(p + name_len + 4, ttl);
	dns_put16(p + name_len + 8, 4);
	memcpy(p + name_len + 10, "\xc0\x00\x02\x01", 4);
	return name_len + 14;
}

static void test_question(void)
{
	uint8_t m[512];
	struct dns_question q;
	size_t n = hdr(m, 1, 0, 0, 0);

	n += put_name(m + n, "www.example");
	dns_put16(m + n, DNS_TYPE_AAAA);
	dns_put16(m + n + 2, DNS_CLASS_IN);
	n += 4;
	CU_ASSERT_EQUAL(dns_question_parse(m, n, &q), 0);
	CU_ASSERT_EQUAL(q.name_len, 13);
	CU_ASSERT_EQUAL(q.qtype, DNS_TYPE_AAAA);
	CU_ASSERT_EQUAL(q.qclass, DNS_CLASS_IN);
	CU_ASSERT_EQUAL(q.end, n);
	/* Cut anywhere: never parses. */
	for (size_t cut = 0; cut < n; cut++) {
		CU_ASSERT_EQUAL(dns_question_parse(m, cut, &q), -EBADMSG);
	}
	/* QDCOUNT 0 and 2 are not one question (RFC 9619). */
	dns_put16(m + 4, 0);
	CU_ASSERT_EQUAL(dns_question_parse(m, n, &q), -EBADMSG);
	dns_put16(m + 4, 2);
	CU_ASSERT_EQUAL(dns_question_parse(m, n, &q), -EBADMSG);
	/* A compressed question name cannot be valid. */
	dns_put16(m + 4, 1);
	m[DNS_HDR_LEN] = 0xc0;
	m[DNS_HDR_LEN + 1] = 0x0c;
	CU_ASSERT_EQUAL(dns_question_parse(m, n, &q), -EBADMSG);
}

static void test_name_limits(void)
{
	uint8_t m[600];
	struct dns_question q;
	size_t n = hdr(m, 1, 0, 0, 0);
	size_t start = n;

	/* 255 octets exactly: 3 labels of 63, one of 61, root: 3*64 + 62 + 1 = 255. */
	for (int i = 0; i < 3; i++) {
		m[n++] = 63;
		memset(m + n, 'a', 63);
		n += 63;
	}
	m[n++] = 61;
	memset(m + n, 'b', 61);
	n += 61;
	m[n++] = 0;
	CU_ASSERT_EQUAL(n - start, 255);
	dns_put16(m + n, 1);
	dns_put16(m + n + 2, 1);
	CU_ASSERT_EQUAL(dns_question_parse(m, n + 4, &q), 0);
	CU_ASSERT_EQUAL(q.name_len, 255);

	/* 256 octets: one more in the last label. */
	n = start + 3 * 64;
	m[n++] = 62;
	memset(m + n, 'b', 62);
	n += 62;
	m[n++] = 0;
	dns_put16(m + n, 1);
	dns_put16(m + n + 2, 1);
	CU_ASSERT_EQUAL(dns_question_parse(m, n + 4, &q), -EBADMSG);

	/* A label of 64 octets: its length byte is a reserved label type. */
	n = start;
	m[n++] = 64;
	memset(m + n, 'c', 64);
	n += 64;
	m[n++] = 0;
	dns_put16(m + n, 1);
	dns_put16(m + n + 2, 1);
	CU_ASSERT_EQUAL(dns_question_parse(m, n + 4, &q), -EBADMSG);
}

static void test_compression(void)
{
	uint8_t m[512];
	size_t n = hdr(m, 1, 2, 0, 0), next, qname = n;

	n += put_name(m + n, "www.example");
	dns_put16(m + n, 1);
	dns_put16(m + n + 2, 1);
	n += 4;
	/* Answer 1: pointer to the question name. */
	uint8_t ptr[2] = {0xc0, (uint8_t)qname};
	size_t rr1 = n;
	n += put_rr_a(m + n, ptr, 2, 300);
	/* Answer 2: "a" then a pointer to "example" inside the question. */
	uint8_t part[4] = {1, 'a', 0xc0, (uint8_t)(qname + 4)};
	size_t rr2 = n;
	n += put_rr_a(m + n, part, 4, 300);

	CU_ASSERT_EQUAL(dns_name_skip(m, n, rr1, &next), 0);
	CU_ASSERT_EQUAL(next, rr1 + 2);
	CU_ASSERT_EQUAL(dns_name_skip(m, n, rr2, &next), 0);
	CU_ASSERT_EQUAL(next, rr2 + 4);

	struct dns_walk w;
	struct dns_rr rr;
	CU_ASSERT_EQUAL(dns_walk_init(&w, m, n), 0);
	CU_ASSERT_EQUAL(dns_walk_next(&w, &rr), 1);
	CU_ASSERT_EQUAL(rr.type, DNS_TYPE_A);
	CU_ASSERT_EQUAL(dns_get32(m + rr.ttl_off), 300);
	CU_ASSERT_EQUAL(rr.section, 1);
	CU_ASSERT_EQUAL(dns_walk_next(&w, &rr), 1);
	CU_ASSERT_EQUAL(rr.end, n);
	CU_ASSERT_EQUAL(dns_walk_next(&w, &rr), 0);

	/* A pointer to itself. */
	m[rr1] = 0xc0;
	m[rr1 + 1] = (uint8_t)rr1;
	CU_ASSERT_EQUAL(dns_name_skip(m, n, rr1, &next), -EBADMSG);
	/* A forward pointer (to the second record's name). */
	m[rr1 + 1] = (uint8_t)rr2;
	CU_ASSERT_EQUAL(dns_name_skip(m, n, rr1, &next), -EBADMSG);
	/* Into the header. */
	m[rr1 + 1] = 4;
	CU_ASSERT_EQUAL(dns_name_skip(m, n, rr1, &next), -EBADMSG);
	/* A -> B -> A: the second record points into the question, which points back. */
	m[rr1 + 1] = (uint8_t)qname;
	m[qname + 4] = 0xc0;
	m[qname + 5] = (uint8_t)rr2;
	CU_ASSERT_EQUAL(dns_name_skip(m, n, rr2, &next), -EBADMSG);
	/* A pointer cut by the end of the message. */
	CU_ASSERT_EQUAL(dns_name_skip(m, rr1 + 1, rr1, &next), -EBADMSG);
}

static void test_counts_and_rdlength(void)
{
	uint8_t m[512];
	size_t n = hdr(m, 1, 1, 0, 0);
	struct dns_walk w;
	struct dns_rr rr;
	struct dns_opt opt;

	n += put_name(m + n, "x");
	dns_put16(m + n, 1);
	dns_put16(m + n + 2, 1);
	n += 4;
	uint8_t root = 0;
	size_t rr_off = n;
	n += put_rr_a(m + n, &root, 1, 60);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), 0);
	CU_ASSERT_FALSE(opt.present);

	/* ANCOUNT 65535 with one record: over the cap on records per message. */
	dns_put16(m + 6, 65535);
	CU_ASSERT_EQUAL(dns_walk_init(&w, m, n), -EBADMSG);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), -EBADMSG);
	/* ANCOUNT 2 with one record: the second runs past the end. */
	dns_put16(m + 6, 2);
	CU_ASSERT_EQUAL(dns_walk_init(&w, m, n), 0);
	CU_ASSERT_EQUAL(dns_walk_next(&w, &rr), 1);
	CU_ASSERT_EQUAL(dns_walk_next(&w, &rr), -EBADMSG);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), -EBADMSG);
	dns_put16(m + 6, 1);

	/* RDLENGTH past the end. */
	dns_put16(m + rr_off + 9, 5);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), -EBADMSG);
	dns_put16(m + rr_off + 9, 4);

	/* Trailing garbage after the last record. */
	m[n] = 0xff;
	CU_ASSERT_EQUAL(dns_opt_find(m, n + 1, &opt), -EBADMSG);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), 0);
}

static size_t put_opt(uint8_t *p, uint16_t size, uint8_t version, uint16_t flags,
		      const uint8_t *opts, uint16_t opts_len)
{
	p[0] = 0;
	dns_put16(p + 1, DNS_TYPE_OPT);
	dns_put16(p + 3, size);
	p[5] = 0;
	p[6] = version;
	dns_put16(p + 7, flags);
	dns_put16(p + 9, opts_len);
	if (opts_len > 0) {
		memcpy(p + 11, opts, opts_len);
	}
	return 11 + opts_len;
}

static void test_opt(void)
{
	uint8_t m[512];
	uint8_t opts[] = {0, 10, 0, 2, 0xab, 0xcd, 0, 12, 0, 3, 0, 0, 0};
	size_t n = hdr(m, 1, 0, 0, 1), q_end, data_off;
	struct dns_opt opt;
	uint16_t data_len;

	n += put_name(m + n, "example");
	dns_put16(m + n, 1);
	dns_put16(m + n + 2, 1);
	n += 4;
	q_end = n;
	n += put_opt(m + n, 1232, 0, DNS_EDNS_DO, opts, sizeof(opts));
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), 0);
	CU_ASSERT_TRUE(opt.present);
	CU_ASSERT_TRUE(opt.last);
	CU_ASSERT_EQUAL(opt.off, q_end);
	CU_ASSERT_EQUAL(opt.udp_size, 1232);
	CU_ASSERT_EQUAL(opt.flags, DNS_EDNS_DO);
	CU_ASSERT_EQUAL(dns_opt_option(m, &opt, DNS_OPT_PADDING, &data_off, &data_len), 0);
	CU_ASSERT_EQUAL(data_len, 3);
	CU_ASSERT_EQUAL(dns_opt_option(m, &opt, 10, &data_off, &data_len), 0);
	CU_ASSERT_EQUAL(m[data_off], 0xab);
	CU_ASSERT_EQUAL(dns_opt_option(m, &opt, DNS_OPT_EDE, &data_off, &data_len), -ENOENT);

	/* Two OPT records: malformed (RFC 6891 §6.1.1). */
	dns_put16(m + 10, 2);
	size_t n2 = n + put_opt(m + n, 512, 0, 0, NULL, 0);
	CU_ASSERT_EQUAL(dns_opt_find(m, n2, &opt), -EBADMSG);

	/* OPT in the answer section. */
	dns_put16(m + 6, 1);
	dns_put16(m + 10, 0);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), -EBADMSG);

	/* An option overrunning the OPT RDATA. */
	dns_put16(m + 6, 0);
	dns_put16(m + 10, 1);
	CU_ASSERT_EQUAL(dns_opt_find(m, n, &opt), 0);
	dns_put16(m + opt.rdata_off + 2, 200);
	CU_ASSERT_EQUAL(dns_opt_option(m, &opt, DNS_OPT_PADDING, &data_off, &data_len), -EBADMSG);
}

/* dns_records_scan() gives what dns_msg_length() and dns_opt_find() on the cut message give. */
static bool scan_agrees(const uint8_t *m, size_t len)
{
	struct dns_opt a, b;
	struct dns_question q;
	size_t end = len, scan_end;
	bool old_ok, new_ok;

	if (dns_question_parse(m, len, &q) != 0) {
		return true; /* dns_msg_check_query() takes the two walks then */
	}
	if (dns_msg_length(m, len, &end) != 0) {
		end = len;
	}
	old_ok = dns_opt_find(m, end, &a) == 0;
	new_ok = dns_records_scan(m, len, q.end, &b, &scan_end) == 0;
	if (old_ok != new_ok) {
		return false;
	}
	return !old_ok ||
	       (scan_end == end && a.present == b.present && a.tsig == b.tsig &&
		(!a.present ||
		 (a.off == b.off && a.end == b.end && a.udp_size == b.udp_size &&
		  a.ext_rcode == b.ext_rcode && a.version == b.version && a.flags == b.flags &&
		  a.rdata_off == b.rdata_off && a.rdlen == b.rdlen && a.last == b.last)));
}

static void test_records_scan(void)
{
	uint8_t m[512], t[512];
	uint8_t owner[64];
	size_t n = hdr(m, 1, 0, 0, 2), q_end, owner_len, end;
	struct dns_question q;
	struct dns_opt opt;
	uint32_t x = 2463534242u;
	unsigned ok = 0, bad = 0;

	n += put_name(m + n, "h0.bench");
	dns_put16(m + n, DNS_TYPE_A);
	dns_put16(m + n + 2, DNS_CLASS_IN);
	n += 4;
	q_end = n;
	owner_len = put_name(owner, "ns.bench");
	n += put_rr_a(m + n, owner, owner_len, 300);
	n += put_opt(m + n, 1232, 0, DNS_EDNS_DO, NULL, 0);

	/* Padding after the last record: the scan ends where the header says. */
	memset(m + n, 0xee, 7);
	CU_ASSERT_EQUAL(dns_records_scan(m, n + 7, q_end, &opt, &end), 0);
	CU_ASSERT_EQUAL(end, n);
	CU_ASSERT_TRUE(opt.present && opt.last);
	CU_ASSERT_EQUAL(opt.udp_size, 1232);
	CU_ASSERT_EQUAL(opt.flags, DNS_EDNS_DO);
	/* A start outside the message, or in its header. */
	CU_ASSERT_EQUAL(dns_records_scan(m, n, n + 1, &opt, &end), -EBADMSG);
	CU_ASSERT_EQUAL(dns_records_scan(m, n, 4, &opt, &end), -EBADMSG);
	/* A record cut short; then two OPT records (RFC 6891 §6.1.1). */
	CU_ASSERT_EQUAL(dns_records_scan(m, n - 1, q_end, &opt, &end), -EBADMSG);
	dns_put16(m + 10, 3);
	memcpy(t, m, n);
	CU_ASSERT_EQUAL(
		dns_records_scan(t, n + put_opt(t + n, 512, 0, 0, NULL, 0), q_end, &opt, &end),
		-EBADMSG);
	dns_put16(m + 10, 2);

	/* Hostile variants of it: each byte changed, cut or extended, at random. */
	for (int i = 0; i < 50000; i++) {
		size_t len = n + 7;

		memcpy(t, m, len);
		for (int k = 0; k < 1 + i % 3; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			t[DNS_HDR_LEN / 2 + x % (len - DNS_HDR_LEN / 2)] = (uint8_t)(x >> 8);
		}
		if (i % 5 == 0) {
			len -= x % 16;
		}
		CU_ASSERT_TRUE(scan_agrees(t, len));
		if (dns_question_parse(t, len, &q) == 0) {
			if (dns_records_scan(t, len, q.end, &opt, &end) == 0) {
				ok++;
			} else {
				bad++;
			}
		}
	}
	/* Both outcomes were compared often, or the comparison above proves little. */
	CU_ASSERT_TRUE(ok > 1000);
	CU_ASSERT_TRUE(bad > 1000);
}

static void test_question_equal(void)
{
	const uint8_t a[] = "\3www\7example\0\0\1\0\1";
	const uint8_t b[] = "\3WwW\7ExAmPlE\0\0\1\0\1";
	const uint8_t c[] = "\3www\7exampld\0\0\1\0\1";
	/* Type bytes 0x41 ('A') and 0x61 ('a') differ: types compare exactly. */
	const uint8_t d[] = "\3www\7example\0\x41\x41\0\1";
	const uint8_t e[] = "\3www\7example\0\x61\x61\0\1";
	size_t len = sizeof(a) - 1;

	CU_ASSERT_TRUE(dns_question_equal(a, len, b, len));
	CU_ASSERT_FALSE(dns_question_equal(a, len, c, len));
	CU_ASSERT_FALSE(dns_question_equal(a, len, b, len - 1));
	CU_ASSERT_FALSE(dns_question_equal(d, len, e, len));
	/* Bytes at 0x80 and above compare exactly, with no case folding (RFC 4343 §3). */
	const uint8_t f[] = "\3w\xc4w\7example\0\0\1\0\1";
	const uint8_t g[] = "\3w\xe4w\7example\0\0\1\0\1";
	CU_ASSERT_FALSE(dns_question_equal(f, len, g, len));
}

/* Names compare across compression and case; an answer is accepted only for its query. */
static void test_name_equal_answer_check(void)
{
	uint8_t q[64], a[128];
	size_t n = hdr(q, 1, 0, 0, 0), qend, an;
	struct dns_opt opt;

	n += put_name(q + n, "www.example");
	dns_put16(q + n, 1);
	dns_put16(q + n + 2, 1);
	qend = n + 4;
	/* The answer: the question in other case, one A record owned by a pointer to it. */
	memcpy(a, q, qend);
	dns_put16(a + 2, DNS_QR | DNS_RD | DNS_RA);
	dns_put16(a + 6, 1);
	memcpy(a + 12, "\3WWW\7ExAmPlE", 13);
	uint8_t ptr[2] = {0xc0, 12};
	an = qend + put_rr_a(a + qend, ptr, 2, 60);

	CU_ASSERT_TRUE(dns_name_equal(q, qend, 12, a, an, qend));
	CU_ASSERT_TRUE(dns_name_equal(a, an, qend, q, qend, 12));
	CU_ASSERT_FALSE(dns_name_equal(q, qend, 12, q, qend, 16)); /* example vs www.example */
	CU_ASSERT_EQUAL(dns_answer_check(q, qend, a, an, &opt), 0);
	/* Not a response; another ID; another question; a broken record. */
	dns_put16(a + 2, DNS_RD);
	CU_ASSERT_EQUAL(dns_answer_check(q, qend, a, an, &opt), -EBADMSG);
	dns_put16(a + 2, DNS_QR | DNS_RD);
	a[1] ^= 1;
	CU_ASSERT_EQUAL(dns_answer_check(q, qend, a, an, &opt), -EBADMSG);
	a[1] ^= 1;
	a[14] = 'x';
	CU_ASSERT_EQUAL(dns_answer_check(q, qend, a, an, &opt), -EBADMSG);
	a[14] = 'W';
	CU_ASSERT_EQUAL(dns_answer_check(q, qend, a, an - 1, &opt), -EBADMSG);
	/* A TSIG record: our queries are unsigned, so no answer to them may be signed. */
	{
		uint8_t t[160];
		size_t tn = an;

		memcpy(t, a, an);
		t[tn++] = 0;
		dns_put16(t + tn, DNS_TYPE_TSIG);
		dns_put16(t + tn + 2, 255);
		dns_put32(t + tn + 4, 0);
		dns_put16(t + tn + 8, 0);
		tn += 10;
		dns_put16(t + 10, 1);
		CU_ASSERT_EQUAL(dns_opt_find(t, tn, &opt), 0);
		CU_ASSERT_TRUE(opt.tsig);
		CU_ASSERT_EQUAL(dns_answer_check(q, qend, t, tn, &opt), -EBADMSG);
	}
	/* No question (FORMERR): by ID alone. */
	dns_put16(a + 4, 0);
	dns_put16(a + 6, 0);
	CU_ASSERT_EQUAL(dns_answer_check(q, qend, a, DNS_HDR_LEN, &opt), 0);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"name equal, answer check", test_name_equal_answer_check},
		{"question", test_question},
		{"name limits", test_name_limits},
		{"compression", test_compression},
		{"counts and rdlength", test_counts_and_rdlength},
		{"opt", test_opt},
		{"records scan", test_records_scan},
		{"question equal", test_question_equal},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dns_wire", tests);
}
