/*
 * test_dns_denial: cache/dns_denial.c on the examples of RFC 4035 Appendix B (NSEC, over the
 * zone of its Appendix A) and RFC 5155 Appendix B (NSEC3, over its Appendix A zone: SHA-1, salt
 * aabbccdd, 12 iterations, every record with Opt-Out set as printed), typed in as the RFCs print
 * them, with tls_dnssec_nsec3_hash() as the hash. Then the hostile cases: an NSEC that does not
 * cover the name, a name error without its wildcard proof, the parent's NSEC at a delegation
 * used against the child, NSEC3 records of mixed parameters, too many iterations, a hash equal
 * to an owner passed off as covered. (The NSEC3 hash itself is
 * tested on RFC 5155 Appendix A in test_dnssec.c.)
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dns_denial.h"
#include "tls_dnssec.h"
#include "unit.h"

#define A	   1
#define NS	   2
#define CNAME	   5
#define SOA	   6
#define HINFO	   13
#define MX	   15
#define AAAA	   28
#define DS	   43
#define RRSIG	   46
#define NSEC	   47
#define DNSKEY	   48
#define NSEC3PARAM 51

/* "a.example" to wire form; the length. */
static size_t wire(const char *dotted, uint8_t *out)
{
	size_t len = 0;

	while (*dotted != '\0') {
		const char *dot = strchr(dotted, '.');
		size_t n = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);

		out[len++] = (uint8_t)n;
		memcpy(out + len, dotted, n);
		len += n;
		dotted += n + (dot != NULL);
	}
	out[len++] = 0;
	return len;
}

/* Type bit maps (RFC 4034 §4.1.2) for the 0-terminated @types; the length. */
static size_t bitmap(const uint16_t *types, uint8_t *out)
{
	size_t len = 0;
	unsigned w;

	for (w = 0; w < 256; w++) {
		uint8_t bits[32] = {0};
		unsigned max = 0;
		const uint16_t *t;

		for (t = types; *t != 0; t++) {
			if ((*t >> 8) == w) {
				bits[(*t & 0xff) >> 3] |= (uint8_t)(0x80 >> (*t & 7));
				max = ((*t & 0xffu) >> 3) + 1 > max ? ((*t & 0xffu) >> 3) + 1 : max;
			}
		}
		if (max != 0) {
			out[len++] = (uint8_t)w;
			out[len++] = (uint8_t)max;
			memcpy(out + len, bits, max);
			len += max;
		}
	}
	return len;
}

struct t_nsec {
	uint8_t owner[256], next[256], map[64];
	struct dns_denial_nsec rr;
};

static void nsec_make(struct t_nsec *t, const char *owner, const char *next, const uint16_t *types)
{
	t->rr.owner = t->owner;
	t->rr.owner_len = wire(owner, t->owner);
	t->rr.next = t->next;
	t->rr.next_len = wire(next, t->next);
	t->rr.bitmap = t->map;
	t->rr.bitmap_len = bitmap(types, t->map);
}

static int b32_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

static void b32_decode(const char *s, uint8_t out[20])
{
	uint32_t acc = 0;
	int bits = 0, k = 0;

	for (; *s != '\0'; s++) {
		acc = (acc << 5 | (uint32_t)b32_value(*s)) & 0xffff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (uint8_t)(acc >> bits);
		}
	}
}

static void b32_encode(const uint8_t in[20], char out[33])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	uint32_t acc = 0;
	int bits = 0, k = 0, i;

	for (i = 0; i < 20; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[k++] = digits[(acc >> bits) & 31];
		}
	}
	out[k] = '\0';
}

static const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};

struct t_nsec3 {
	uint8_t owner[256], next[20], map[64];
	struct dns_denial_nsec3 rr;
};

/* A record of the RFC 5155 Appendix A zone: owner hash under example., flags 1, 12 iterations. */
static void nsec3_make(struct t_nsec3 *t, const char *owner_hash, const char *next_hash,
		       const uint16_t *types)
{
	char owner[64];

	strcpy(owner, owner_hash);
	strcat(owner, ".example");
	memset(&t->rr, 0, sizeof(t->rr));
	t->rr.owner = t->owner;
	t->rr.owner_len = wire(owner, t->owner);
	t->rr.alg = 1;
	t->rr.flags = DNS_NSEC3_OPTOUT;
	t->rr.iterations = 12;
	t->rr.salt = salt;
	t->rr.salt_len = sizeof(salt);
	b32_decode(next_hash, t->next);
	t->rr.next_hash = t->next;
	t->rr.hash_len = 20;
	t->rr.bitmap = t->map;
	t->rr.bitmap_len = bitmap(types, t->map);
}

/* ---- canonical order and parsing ---- */

static void test_name_order(void)
{
	/* RFC 4034 §6.1's example, in order. */
	static const char *const names[] = {
		"example",	  "a.example",	    "yljkjljk.a.example",
		"Z.a.example",	  "zABC.a.EXAMPLE", "z.example",
		"\001.z.example", "*.z.example",    "\200.z.example",
	};
	uint8_t a[256], b[256];
	size_t i, a_len, b_len;
	int order = 7;

	for (i = 0; i + 1 < sizeof(names) / sizeof(names[0]); i++) {
		a_len = wire(names[i], a);
		b_len = wire(names[i + 1], b);
		CU_ASSERT_EQUAL(dns_denial_name_order(a, a_len, b, b_len, &order), 0);
		CU_ASSERT(order < 0);
		CU_ASSERT_EQUAL(dns_denial_name_order(b, b_len, a, a_len, &order), 0);
		CU_ASSERT(order > 0);
	}
	a_len = wire("Z.A.Example", a);
	b_len = wire("z.a.example", b);
	CU_ASSERT_EQUAL(dns_denial_name_order(a, a_len, b, b_len, &order), 0);
	CU_ASSERT_EQUAL(order, 0);
	/* Malformed: a compression pointer, a length past the end, bytes after the root. */
	order = 7;
	b[0] = 0xc0;
	CU_ASSERT_EQUAL(dns_denial_name_order(a, a_len, b, 2, &order), -EBADMSG);
	CU_ASSERT_EQUAL(dns_denial_name_order(a, a_len - 1, b, b_len, &order), -EBADMSG);
	CU_ASSERT_EQUAL(dns_denial_name_order(a, a_len + 1, a, a_len, &order), -EBADMSG);
	CU_ASSERT_EQUAL(order, 7);
}

static void test_parse(void)
{
	/* RFC 4035 Appendix A: example. NSEC a.example. NS SOA MX RRSIG NSEC DNSKEY. */
	static const uint8_t nsec_rdata[] = {1,	   'a',	 7,    'e',  'x',  'a',	 'm',
					     'p',  'l',	 'e',  0,    0x00, 0x07, 0x22,
					     0x01, 0x00, 0x00, 0x00, 0x03, 0x80};
	/* RFC 5155 Appendix A: the apex NSEC3, 1 1 12 aabbccdd 2t7b4g4v... */
	static const uint8_t nsec3_rdata[] = {
		0x01, 0x01, 0x00, 0x0c, 0x04, 0xaa, 0xbb, 0xcc, 0xdd, 0x14, 0x17, 0x4e, 0xb2,
		0x40, 0x9f, 0xe2, 0x8b, 0xcb, 0x48, 0x87, 0xa1, 0x83, 0x6f, 0x95, 0x7f, 0x0a,
		0x84, 0x25, 0xe2, 0x7b, 0x00, 0x07, 0x22, 0x01, 0x00, 0x00, 0x00, 0x02, 0x90,
	};
	uint8_t owner[256], bad[sizeof(nsec_rdata)], n2[20];
	struct dns_denial_nsec nsec = {0};
	struct dns_denial_nsec3 nsec3 = {0};
	size_t len = wire("example", owner);

	CU_ASSERT_EQUAL(dns_denial_nsec_parse(owner, len, nsec_rdata, sizeof(nsec_rdata), &nsec),
			0);
	CU_ASSERT_EQUAL(nsec.next_len, 11);
	CU_ASSERT_EQUAL(nsec.bitmap_len, 9);
	/* Cut short, a window of 33 octets, a compressed next name. */
	CU_ASSERT_EQUAL(dns_denial_nsec_parse(owner, len, nsec_rdata, 10, &nsec), -EBADMSG);
	CU_ASSERT_EQUAL(dns_denial_nsec_parse(owner, len, nsec_rdata, 13, &nsec), -EBADMSG);
	memcpy(bad, nsec_rdata, sizeof(bad));
	bad[12] = 33;
	CU_ASSERT_EQUAL(dns_denial_nsec_parse(owner, len, bad, sizeof(bad), &nsec), -EBADMSG);
	bad[0] = 0xc0;
	CU_ASSERT_EQUAL(dns_denial_nsec_parse(owner, len, bad, sizeof(bad), &nsec), -EBADMSG);

	len = wire("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example", owner);
	CU_ASSERT_EQUAL(
		dns_denial_nsec3_parse(owner, len, nsec3_rdata, sizeof(nsec3_rdata), &nsec3), 0);
	b32_decode("2t7b4g4vsa5smi47k61mv5bv1a22bojr", n2);
	CU_ASSERT_EQUAL(nsec3.alg, 1);
	CU_ASSERT_EQUAL(nsec3.flags, 1);
	CU_ASSERT_EQUAL(nsec3.iterations, 12);
	CU_ASSERT_EQUAL(nsec3.salt_len, 4);
	CU_ASSERT_EQUAL(nsec3.hash_len, 20);
	CU_ASSERT_EQUAL(memcmp(nsec3.next_hash, n2, 20), 0);
	CU_ASSERT_EQUAL(nsec3.bitmap_len, 9);
	CU_ASSERT_EQUAL(dns_denial_nsec3_parse(owner, len, nsec3_rdata, 29, &nsec3), -EBADMSG);
	CU_ASSERT_EQUAL(dns_denial_nsec3_parse(owner, len, nsec3_rdata, 4, &nsec3), -EBADMSG);
}

/* ---- NSEC: RFC 4035 Appendix B ---- */

static const uint16_t t_apex[] = {NS, SOA, MX, RRSIG, NSEC, DNSKEY, 0};
static const uint16_t t_a_deleg[] = {NS, DS, RRSIG, NSEC, 0};
static const uint16_t t_b_deleg[] = {NS, RRSIG, NSEC, 0};
static const uint16_t t_host[] = {A, RRSIG, NSEC, 0};
static const uint16_t t_mx[] = {MX, RRSIG, NSEC, 0};

static enum dns_denial_verdict nsec_verdict(const char *qname, uint16_t qtype,
					    const struct t_nsec *t, size_t n)
{
	struct dns_denial_nsec rr[4];
	enum dns_denial_verdict v = 99;
	uint8_t q[256];
	size_t i, len = wire(qname, q);

	for (i = 0; i < n; i++) {
		rr[i] = t[i].rr;
	}
	CU_ASSERT_EQUAL_FATAL(dns_denial_nsec_prove(q, len, qtype, rr, n, &v), 0);
	return v;
}

static enum dns_denial_verdict nsec_wildcard(const char *qname, uint8_t labels,
					     const struct t_nsec *t, size_t n)
{
	struct dns_denial_nsec rr[4];
	enum dns_denial_verdict v = 99;
	uint8_t q[256];
	size_t i, len = wire(qname, q);

	for (i = 0; i < n; i++) {
		rr[i] = t[i].rr;
	}
	CU_ASSERT_EQUAL_FATAL(dns_denial_nsec_wildcard(q, len, labels, rr, n, &v), 0);
	return v;
}

static void test_nsec_rfc4035(void)
{
	struct t_nsec t[3];

	/* B.2 name error, ml.example. A: b.example covers it, example. covers *.example. */
	nsec_make(&t[0], "b.example", "ns1.example", t_b_deleg);
	nsec_make(&t[1], "example", "a.example", t_apex);
	CU_ASSERT_EQUAL(nsec_verdict("ml.example", A, t, 2), DENIAL_NXDOMAIN);
	CU_ASSERT_EQUAL(nsec_verdict("ML.Example", A, t, 2), DENIAL_NXDOMAIN);

	/* B.3 no data, ns1.example. MX. */
	nsec_make(&t[0], "ns1.example", "ns2.example", t_host);
	CU_ASSERT_EQUAL(nsec_verdict("ns1.example", MX, t, 1), DENIAL_NODATA);
	CU_ASSERT_EQUAL(nsec_verdict("ns1.example", A, t, 1), DENIAL_NONE);

	/* B.4 referral to a signed zone: a.example.'s NSEC shows DS, and denies nothing else. */
	nsec_make(&t[0], "a.example", "ai.example", t_a_deleg);
	CU_ASSERT_EQUAL(nsec_verdict("a.example", DS, t, 1), DENIAL_NONE);

	/* B.5 referral to an unsigned zone: b.example.'s NSEC, NS without SOA or DS. */
	nsec_make(&t[0], "b.example", "ns1.example", t_b_deleg);
	CU_ASSERT_EQUAL(nsec_verdict("b.example", DS, t, 1), DENIAL_NODATA);

	/* B.6 wildcard expansion, a.z.w.example. MX from *.w.example. (RRSIG labels 2). */
	nsec_make(&t[0], "x.y.w.example", "xx.example", t_mx);
	CU_ASSERT_EQUAL(nsec_wildcard("a.z.w.example", 2, t, 1), DENIAL_WILDCARD);
	/* A wildcard further up, or further down, than the NSEC shows. */
	CU_ASSERT_EQUAL(nsec_wildcard("a.z.w.example", 1, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_wildcard("a.z.w.example", 3, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_wildcard("a.z.w.example", 4, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_wildcard("a.z.w.example", 2, t, 0), DENIAL_NONE);

	/* B.7 wildcard no data, a.z.w.example. AAAA: *.w.example. has MX only. */
	nsec_make(&t[1], "*.w.example", "x.w.example", t_mx);
	CU_ASSERT_EQUAL(nsec_verdict("a.z.w.example", AAAA, t, 2), DENIAL_NODATA);
	CU_ASSERT_EQUAL(nsec_verdict("a.z.w.example", MX, t, 2), DENIAL_NONE);

	/* Empty non-terminals of the same zone: w.example. and y.w.example. */
	nsec_make(&t[0], "ns2.example", "*.w.example", t_host);
	CU_ASSERT_EQUAL(nsec_verdict("w.example", A, t, 1), DENIAL_NODATA);
	nsec_make(&t[0], "x.w.example", "x.y.w.example", t_mx);
	CU_ASSERT_EQUAL(nsec_verdict("y.w.example", A, t, 1), DENIAL_NODATA);

	/* The zone's last NSEC wraps to the apex: zz.example. is after xx.example. */
	nsec_make(&t[0], "xx.example", "example",
		  (const uint16_t[]){A, HINFO, AAAA, RRSIG, NSEC, 0});
	nsec_make(&t[1], "example", "a.example", t_apex);
	CU_ASSERT_EQUAL(nsec_verdict("zz.example", A, t, 2), DENIAL_NXDOMAIN);
	/* ...but says nothing of a name outside the zone. */
	CU_ASSERT_EQUAL(nsec_verdict("zz.other", A, t, 2), DENIAL_NONE);
}

static void test_nsec_hostile(void)
{
	struct t_nsec t[3];
	struct dns_denial_nsec bad;
	enum dns_denial_verdict v = 99;
	uint8_t q[256];
	size_t len;

	/* An NSEC that does not cover the name, with a good wildcard proof. */
	nsec_make(&t[0], "ns1.example", "ns2.example", t_host);
	nsec_make(&t[1], "example", "a.example", t_apex);
	CU_ASSERT_EQUAL(nsec_verdict("ml.example", A, t, 2), DENIAL_NONE);
	/* The name is the NSEC's next name: it exists, so it is not covered. */
	CU_ASSERT_EQUAL(nsec_verdict("ns2.example", A, t, 2), DENIAL_NONE);
	/* A name error without the wildcard proof (B.2 without example.'s NSEC). */
	nsec_make(&t[0], "b.example", "ns1.example", t_b_deleg);
	CU_ASSERT_EQUAL(nsec_verdict("ml.example", A, t, 1), DENIAL_NONE);

	/*
	 * The parent's NSEC at a delegation (RFC 6840 §4.1): a.example.'s denies neither an
	 * A at the child's apex nor a name below it, and the child's apex NSEC (SOA set)
	 * does not deny the DS the parent holds.
	 */
	nsec_make(&t[0], "a.example", "ai.example", t_a_deleg);
	nsec_make(&t[1], "example", "a.example", t_apex);
	CU_ASSERT_EQUAL(nsec_verdict("a.example", A, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_verdict("mc.a.example", A, t, 2), DENIAL_NONE);
	nsec_make(&t[0], "b.example", "ns1.example", t_b_deleg);
	CU_ASSERT_EQUAL(nsec_verdict("b.example", A, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_verdict("b.example", MX, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_verdict("example", DS, &t[1], 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec_wildcard("x.mc.b.example", 2, t, 1), DENIAL_NONE);
	/* A CNAME at the name denies nothing. */
	nsec_make(&t[0], "ns1.example", "ns2.example", (const uint16_t[]){CNAME, RRSIG, NSEC, 0});
	CU_ASSERT_EQUAL(nsec_verdict("ns1.example", A, t, 1), DENIAL_NONE);
	/* A DNAME owner proves nothing below it. */
	nsec_make(&t[0], "b.example", "ns1.example", (const uint16_t[]){39, RRSIG, NSEC, 0});
	CU_ASSERT_EQUAL(nsec_verdict("ml.b.example", A, t, 2), DENIAL_NONE);

	/* Malformed input. */
	len = wire("ml.example", q);
	bad = t[0].rr;
	bad.next_len--;
	CU_ASSERT_EQUAL(dns_denial_nsec_prove(q, len, A, &bad, 1, &v), -EBADMSG);
	bad = t[0].rr;
	bad.bitmap_len = 1;
	CU_ASSERT_EQUAL(dns_denial_nsec_prove(q, len, A, &bad, 1, &v), -EBADMSG);
	CU_ASSERT_EQUAL(dns_denial_nsec_prove(q, len - 1, A, &t[0].rr, 1, &v), -EBADMSG);
	CU_ASSERT_EQUAL(v, 99);
	CU_ASSERT_EQUAL(dns_denial_nsec_prove(q, len, A, NULL, 0, &v), 0);
	CU_ASSERT_EQUAL(v, DENIAL_NONE);
}

/* ---- NSEC3: RFC 5155 Appendix B ---- */

#define H_APEX "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
#define H_NS1  "2t7b4g4vsa5smi47k61mv5bv1a22bojr"
#define H_XYW  "2vptu5timamqttgl4luu9kg21e0aor3s"
#define H_A    "35mthgpgcu1qg68fab165klnsnk3dpvl"
#define H_XW   "b4um86eghhds6nea196smvmlo4ors995"
#define H_AI   "gjeqe526plbf1g8mklp59enfd789njgi"
#define H_YW   "ji6neoaepv8b5o6k4ev33abha8ht9fgc"
#define H_W    "k8udemvp1j2f7eg6jebps17vp3n8i58h"
#define H_KO   "kohar7mbb8dc2ce8a9qvl8hon4k53uhi"
#define H_NS2  "q04jkcevqvmu85r014c7dkba38o0ji5r"
#define H_WC   "r53bq7cc2uvmubfu5ocmm6pers9tk9en"
#define H_XX   "t644ebqk9bibcna874givr6joj62mlhv"

static const uint16_t n3_apex[] = {NS, SOA, MX, RRSIG, DNSKEY, NSEC3PARAM, 0};
static const uint16_t n3_host[] = {A, RRSIG, 0};
static const uint16_t n3_mx[] = {MX, RRSIG, 0};
static const uint16_t n3_deleg[] = {NS, DS, RRSIG, 0};
static const uint16_t n3_none[] = {0};

static enum dns_denial_verdict nsec3_verdict(const char *qname, uint16_t qtype,
					     const struct t_nsec3 *t, size_t n)
{
	struct dns_denial_nsec3 rr[4];
	enum dns_denial_verdict v = 99;
	uint8_t q[256];
	size_t i, len = wire(qname, q);

	for (i = 0; i < n; i++) {
		rr[i] = t[i].rr;
	}
	CU_ASSERT_EQUAL_FATAL(
		dns_denial_nsec3_prove(tls_dnssec_nsec3_hash, q, len, qtype, rr, n, &v), 0);
	return v;
}

static enum dns_denial_verdict nsec3_wildcard(const char *qname, uint8_t labels,
					      const struct t_nsec3 *t, size_t n)
{
	struct dns_denial_nsec3 rr[4];
	enum dns_denial_verdict v = 99;
	uint8_t q[256];
	size_t i, len = wire(qname, q);

	for (i = 0; i < n; i++) {
		rr[i] = t[i].rr;
	}
	CU_ASSERT_EQUAL_FATAL(
		dns_denial_nsec3_wildcard(tls_dnssec_nsec3_hash, q, len, labels, rr, n, &v), 0);
	return v;
}

static void optout_clear(struct t_nsec3 *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		t[i].rr.flags = 0;
	}
}

static void test_nsec3_rfc5155(void)
{
	struct t_nsec3 t[3];

	/*
	 * B.1 name error, a.c.x.w.example.: 0p9m... covers the next closer c.x.w.example.,
	 * b4um... matches the closest encloser x.w.example., 35mt... covers *.x.w.example. The
	 * covering record has Opt-Out, as the appendix prints it: insecure; without, a name error.
	 */
	nsec3_make(&t[0], H_APEX, H_NS1, n3_apex);
	nsec3_make(&t[1], H_XW, H_AI, n3_mx);
	nsec3_make(&t[2], H_A, H_XW, n3_deleg);
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 3), DENIAL_OPTOUT);
	optout_clear(t, 3);
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 3), DENIAL_NXDOMAIN);
	CU_ASSERT_EQUAL(nsec3_verdict("A.C.X.W.Example", A, t, 3), DENIAL_NXDOMAIN);

	/* B.2 no data, ns1.example. MX. */
	nsec3_make(&t[0], H_NS1, H_XYW, n3_host);
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example", MX, t, 1), DENIAL_NODATA);
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example", A, t, 1), DENIAL_NONE);

	/* B.2.1 no data at an empty non-terminal, y.w.example. A. */
	nsec3_make(&t[0], H_YW, H_W, n3_none);
	CU_ASSERT_EQUAL(nsec3_verdict("y.w.example", A, t, 1), DENIAL_NODATA);

	/*
	 * B.3 referral to an opt-out unsigned zone, mc.c.example.: no DS at c.example.:
	 * 35mt... (Opt-Out) covers the next closer c.example., 0p9m... matches example.
	 */
	nsec3_make(&t[0], H_A, H_XW, n3_deleg);
	nsec3_make(&t[1], H_APEX, H_NS1, n3_apex);
	CU_ASSERT_EQUAL(nsec3_verdict("c.example", DS, t, 2), DENIAL_OPTOUT);
	/* Without Opt-Out the span says c.example. does not exist: no unsigned delegation. */
	optout_clear(t, 2);
	CU_ASSERT_NOT_EQUAL(nsec3_verdict("c.example", DS, t, 2), DENIAL_OPTOUT);
	/* DS no data at a.example. (§8.6) would need DS clear: 35mt... has it. */
	CU_ASSERT_EQUAL(nsec3_verdict("a.example", DS, t, 2), DENIAL_NONE);

	/* B.4 wildcard expansion, a.z.w.example. MX: q04j... covers the next closer z.w. */
	nsec3_make(&t[0], H_NS2, H_WC, n3_host);
	CU_ASSERT_EQUAL(nsec3_wildcard("a.z.w.example", 2, t, 1), DENIAL_WILDCARD);
	CU_ASSERT_EQUAL(nsec3_wildcard("a.z.w.example", 1, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec3_wildcard("a.z.w.example", 4, t, 1), DENIAL_NONE);

	/*
	 * B.5 wildcard no data, a.z.w.example. AAAA: k8ud... matches w.example., q04j... covers
	 * z.w.example. (with Opt-Out as printed: insecure), r53b... matches *.w.example.
	 */
	nsec3_make(&t[0], H_W, H_KO, n3_none);
	nsec3_make(&t[1], H_NS2, H_WC, n3_host);
	nsec3_make(&t[2], H_WC, H_XX, n3_mx);
	CU_ASSERT_EQUAL(nsec3_verdict("a.z.w.example", AAAA, t, 3), DENIAL_OPTOUT);
	optout_clear(t, 3);
	CU_ASSERT_EQUAL(nsec3_verdict("a.z.w.example", AAAA, t, 3), DENIAL_NODATA);
	CU_ASSERT_EQUAL(nsec3_verdict("a.z.w.example", MX, t, 3), DENIAL_NONE);

	/*
	 * B.6 DS at the child's apex, example. DS, answered by the child: its apex NSEC3 (SOA
	 * set) is not the parent's, so it proves nothing (RFC 4035 §3.1.4.1; unbound too).
	 */
	nsec3_make(&t[0], H_APEX, H_NS1, n3_apex);
	CU_ASSERT_EQUAL(nsec3_verdict("example", DS, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec3_verdict("example", A, t, 1), DENIAL_NODATA);
}

static void test_nsec3_hostile(void)
{
	struct t_nsec3 t[3];
	struct dns_denial_nsec3 bad;
	enum dns_denial_verdict v = 99;
	uint8_t q[256], h[20];
	char text[33];
	size_t len;

	/* B.1 without the wildcard's cover. */
	nsec3_make(&t[0], H_APEX, H_NS1, n3_apex);
	nsec3_make(&t[1], H_XW, H_AI, n3_mx);
	optout_clear(t, 2);
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 2), DENIAL_NONE);
	/* B.1 without the closest encloser's match. */
	nsec3_make(&t[1], H_A, H_XW, n3_deleg);
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 2), DENIAL_NONE);

	/* Mixed parameters: B.1's records, one with another salt or iteration count. */
	nsec3_make(&t[0], H_APEX, H_NS1, n3_apex);
	nsec3_make(&t[1], H_XW, H_AI, n3_mx);
	nsec3_make(&t[2], H_A, H_XW, n3_deleg);
	optout_clear(t, 3);
	t[2].rr.iterations = 11;
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 3), DENIAL_NONE);
	t[2].rr.iterations = 12;
	t[2].rr.salt_len = 3;
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 3), DENIAL_NONE);
	t[2].rr.salt_len = 4;
	/* Another zone's record in the set. */
	nsec3_make(&t[2], H_A, H_XW, n3_deleg);
	t[2].rr.owner_len = wire(H_A ".other", t[2].owner);
	t[2].rr.flags = 0;
	CU_ASSERT_EQUAL(nsec3_verdict("a.c.x.w.example", A, t, 3), DENIAL_NONE);
	/* Another hash algorithm, or unknown flags: ignored (§8.1, §8.2), and so no proof. */
	nsec3_make(&t[0], H_NS1, H_XYW, n3_host);
	t[0].rr.alg = 2;
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example", MX, t, 1), DENIAL_NONE);
	t[0].rr.alg = 1;
	t[0].rr.flags = 0x81;
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example", MX, t, 1), DENIAL_NONE);

	/* 150 iterations (RFC 9276 §3.2): insecure, before any hashing; 100 still hashed. */
	nsec3_make(&t[0], H_NS1, H_XYW, n3_host);
	t[0].rr.iterations = 150;
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example", MX, t, 1), DENIAL_INSECURE_ITERATIONS);
	CU_ASSERT_EQUAL(nsec3_wildcard("a.z.w.example", 2, t, 1), DENIAL_INSECURE_ITERATIONS);
	t[0].rr.iterations = 100;
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example", MX, t, 1), DENIAL_NONE);

	/*
	 * A hash equal to an owner is a match, never a cover: x.w.example. exists (b4um...),
	 * so a wildcard answer for it is bogus even from a record spanning the whole chain.
	 */
	nsec3_make(&t[0], H_XW, H_AI, n3_mx);
	CU_ASSERT_EQUAL(nsec3_wildcard("x.w.example", 2, t, 1), DENIAL_NONE);
	nsec3_make(&t[0], H_XW, H_XW, n3_mx);
	CU_ASSERT_EQUAL(nsec3_wildcard("x.w.example", 2, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec3_wildcard("q.w.example", 2, t, 1), DENIAL_WILDCARD);
	/* And the next hashed name is not covered either: it exists too. */
	len = wire("c.x.w.example", q);
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(1, 12, salt, 4, q, len, h), 0);
	b32_encode(h, text);
	nsec3_make(&t[0], H_APEX, text, n3_apex);
	t[0].rr.flags = 0;
	CU_ASSERT_EQUAL(nsec3_wildcard("a.c.x.w.example", 3, t, 1), DENIAL_NONE);

	/* The parent's NSEC3 at a delegation denies nothing at the child's apex. */
	nsec3_make(&t[0], H_A, H_XW, n3_deleg);
	CU_ASSERT_EQUAL(nsec3_verdict("a.example", A, t, 1), DENIAL_NONE);
	CU_ASSERT_EQUAL(nsec3_verdict("a.example", SOA, t, 1), DENIAL_NONE);
	/* ...nor is a closest encloser for a name below it (§8.3). */
	nsec3_make(&t[1], H_APEX, H_NS1, n3_apex);
	CU_ASSERT_EQUAL(nsec3_verdict("mc.a.example", A, t, 2), DENIAL_NONE);

	/* Malformed: an owner label that is not base32hex, a short hash, a bad name. */
	len = wire("ns1.example", q);
	nsec3_make(&t[0], H_NS1, H_XYW, n3_host);
	bad = t[0].rr;
	bad.hash_len = 19;
	CU_ASSERT_EQUAL(dns_denial_nsec3_prove(tls_dnssec_nsec3_hash, q, len, MX, &bad, 1, &v),
			-EBADMSG);
	t[0].owner[1] = 'w';
	CU_ASSERT_EQUAL(dns_denial_nsec3_prove(tls_dnssec_nsec3_hash, q, len, MX, &t[0].rr, 1, &v),
			-EBADMSG);
	CU_ASSERT_EQUAL(dns_denial_nsec3_prove(NULL, q, len, MX, &t[0].rr, 1, &v), -EBADMSG);
	CU_ASSERT_EQUAL(v, 99);
	/* Out of the zone. */
	nsec3_make(&t[0], H_NS1, H_XYW, n3_host);
	CU_ASSERT_EQUAL(nsec3_verdict("ns1.example.net", MX, t, 1), DENIAL_NONE);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"canonical order, RFC 4034 §6.1", test_name_order},
		{"NSEC and NSEC3 RDATA", test_parse},
		{"NSEC, RFC 4035 Appendix B", test_nsec_rfc4035},
		{"NSEC hostile", test_nsec_hostile},
		{"NSEC3, RFC 5155 Appendix B", test_nsec3_rfc5155},
		{"NSEC3 hostile", test_nsec3_hostile},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dns_denial", tests);
}
