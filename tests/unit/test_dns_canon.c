/*
 * test_dns_canon: canonical names and the signed data of an RRSIG (cache/dns_canon.c), proved
 * by signatures that must verify (tls_dnssec_verify) and by ldns, an implementation
 * independent of ours.
 *
 * The RFC 6605 §6.1, §6.2 and RFC 8080 §6.1, §6.2 (erratum 4935) examples, as
 * tests/unit/test_dnssec.c types them in, are written here into real DNS messages by hand:
 * plainly, then upper-cased and compressed (the owner, the MX target and the signer's name all
 * pointers), then with a duplicate RR; each time the signed data we build must verify under the
 * RFC's key. RRsets with names in their RDATA (MX, SRV, NS, SOA, NSEC), and one expanded from a
 * wildcard, are signed with keys ldns makes (it links OpenSSL: fine in a test), packed into a
 * message by ldns (which compresses), and our signed data is compared with the bytes ldns signs
 * and verified. Then hostile input: RRs of another type, owner or class, a message cut at
 * every length, every capacity too small, a labels field too large.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns_canon.h"
#include "dns_wire.h"
#include "tls_dnssec.h"
#include "unit.h"

#define OUT_MAX 8192

/* Decode base64 @s (whitespace ignored) into @out; the length, or -1 (as test_dnssec.c). */
static int b64_decode(const char *s, uint8_t *out, size_t room)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t len = 0;

	for (; *s != '\0' && *s != '='; s++) {
		const char *p = strchr(alphabet, *s);

		if (p == NULL) {
			return -1;
		}
		acc = acc << 6 | (uint32_t)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == room) {
				return -1;
			}
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)len;
}

/* A DNS message written by hand. */
struct msg {
	uint8_t b[2048];
	size_t n;
};

static size_t msg_bytes(struct msg *m, const void *p, size_t len)
{
	size_t off = m->n;

	CU_ASSERT_FATAL(m->n + len <= sizeof(m->b));
	memcpy(m->b + m->n, p, len);
	m->n += len;
	return off;
}

static size_t msg_16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	return msg_bytes(m, b, 2);
}

static size_t msg_32(struct msg *m, uint32_t v)
{
	size_t off = msg_16(m, (uint16_t)(v >> 16));

	msg_16(m, (uint16_t)v);
	return off;
}

/*
 * The labels of @name (presentation form, no escapes, "." for the root), upper-cased if
 * @upper, then a pointer to @ptr if it is not 0, else the root label.
 */
static size_t msg_name(struct msg *m, const char *name, bool upper, size_t ptr)
{
	size_t off = m->n;

	while (*name != '\0' && strcmp(name, ".") != 0) {
		const char *dot = strchr(name, '.');
		size_t label = dot != NULL ? (size_t)(dot - name) : strlen(name);
		uint8_t c = (uint8_t)label;

		msg_bytes(m, &c, 1);
		for (size_t i = 0; i < label; i++) {
			c = (uint8_t)(upper && name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32
										: name[i]);
			msg_bytes(m, &c, 1);
		}
		name += label + (dot != NULL);
	}
	if (ptr != 0) {
		msg_16(m, (uint16_t)(0xc000 | ptr));
	} else {
		msg_bytes(m, "", 1);
	}
	return off;
}

/* (a) Names: uncompressed and lowered, pointers followed, loops and bad names refused. */
static void test_name(void)
{
	struct msg m = {.n = 0};
	uint8_t out[DNS_MAX_NAME];
	size_t www, mail, root, loop, fwd, out_len = 0;
	unsigned labels = 99;

	msg_bytes(&m, (uint8_t[DNS_HDR_LEN]){0}, DNS_HDR_LEN);
	www = msg_name(&m, "WwW.Example.NET.", false, 0);
	mail = msg_name(&m, "MAIL", false, www + 4);
	root = msg_name(&m, ".", false, 0);
	loop = msg_16(&m, (uint16_t)(0xc000 | m.n)); /* a pointer to itself */
	fwd = msg_16(&m, (uint16_t)(0xc000 | (m.n + 2)));
	msg_name(&m, "x", false, fwd); /* ... pointing to one pointing back at it */

	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, www, out, sizeof(out), &out_len, &labels), 0);
	CU_ASSERT_EQUAL(out_len, 17);
	CU_ASSERT_EQUAL(memcmp(out, "\3www\7example\3net", 17), 0);
	CU_ASSERT_EQUAL(labels, 3);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, mail, out, sizeof(out), &out_len, &labels), 0);
	CU_ASSERT_EQUAL(out_len, 18);
	CU_ASSERT_EQUAL(memcmp(out, "\4mail\7example\3net", 18), 0);
	CU_ASSERT_EQUAL(labels, 3);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, root, out, sizeof(out), &out_len, NULL), 0);
	CU_ASSERT_EQUAL(out_len, 1);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, root, out, sizeof(out), &out_len, &labels), 0);
	CU_ASSERT_EQUAL(labels, 0);

	/* Refused, and the out-parameters left alone. */
	out_len = 77;
	labels = 77;
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, loop, out, sizeof(out), &out_len, &labels),
			-EBADMSG);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, fwd, out, sizeof(out), &out_len, &labels),
			-EBADMSG);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, www + 5, www, out, sizeof(out), &out_len, &labels),
			-EBADMSG);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, m.n, out, sizeof(out), &out_len, &labels),
			-EBADMSG);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, mail, out, 17, &out_len, &labels), -ENOSPC);
	CU_ASSERT_EQUAL(dns_name_canonical(m.b, m.n, root, out, 0, &out_len, &labels), -ENOSPC);
	CU_ASSERT_EQUAL(out_len, 77);
	CU_ASSERT_EQUAL(labels, 77);
}

/* One signed RRset of one RR, as test_dnssec.c has it. */
struct vector {
	const char *name;
	uint8_t alg;
	const char *zone;  /**< the DNSKEY's owner and the RRSIG's signer */
	const char *key;   /**< the public key, base64 */
	const char *owner; /**< the RR's owner */
	uint16_t type;	   /**< 1 A 192.0.2.1, or 15 MX 10 mail.example.com. */
	uint8_t labels;
	uint32_t ttl;
	uint32_t expire;
	uint32_t incept;
	uint16_t tag;
	const char *sig; /**< base64 */
};

static const struct vector vectors[] = {
	{"RFC 6605 §6.1", 13, "example.net.",
	 "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
	 "www.example.net.", 1, 3, 3600, 1284026679, 1281607479, 55648,
	 "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw="
	 "="},
	{"RFC 6605 §6.2", 14, "example.net.",
	 "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8"
	 "/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
	 "www.example.net.", 1, 3, 3600, 1284027625, 1281608425, 10771,
	 "/L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuz"
	 "WTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm"},
	{"RFC 8080 §6.1 (erratum 4935), first key", 15, "example.com.",
	 "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=", "example.com.", 15, 2, 3600, 1440021600,
	 1438207200, 3613,
	 "oL9krJun7xfBOIWcGHi7mag5/"
	 "hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="},
	{"RFC 8080 §6.1 (erratum 4935), second key", 15, "example.com.",
	 "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=", "example.com.", 15, 2, 3600, 1440021600,
	 1438207200, 35217,
	 "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg="
	 "="},
	{"RFC 8080 §6.2 (erratum 4935), first key", 16, "example.com.",
	 "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
	 "example.com.", 15, 2, 3600, 1440021600, 1438207200, 9713,
	 "3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0amxWndkmnBZ6SKiwZSAxGILn/NBtOXf"
	 "t0+Gj7FSvOKxE/07+4RQvE581N3Aj/JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA"},
	{"RFC 8080 §6.2 (erratum 4935), second key", 16, "example.com.",
	 "kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcNLp5HlHAMy12VoISsA",
	 "example.com.", 15, 2, 3600, 1440021600, 1438207200, 38353,
	 "E1/oLjSGIbmLny/4fcgM1z4oL6aqo+izT3urCyHyvEp4Sp8Syg1eI+lJ57CSnZqjJP41O/9l4m0AsQ4f7qI1gVnM"
	 "L8vWWiyW2KXhT9kuAICUSxv5OWbf81Rq7Yu60npabODB0QFPb/rkW3kUZmQ0YQUA"},
};

enum {
	UPPER = 1,    /**< every name upper-cased */
	COMPRESS = 2, /**< owners, the MX target and the signer's name compressed */
	DUP = 4,      /**< the RR twice, the copy first among the offsets */
};

/* The RR of @v at the end of @m: its owner written out, or a pointer to the question's. */
static size_t vector_rr(struct msg *m, const struct vector *v, int how, size_t zone_off)
{
	size_t off = msg_name(m, v->owner, how & UPPER, 0), rdlen_off;

	if (how & COMPRESS) {
		m->n = off;
		msg_16(m, 0xc000 | DNS_HDR_LEN);
	}
	msg_16(m, v->type);
	msg_16(m, DNS_CLASS_IN);
	msg_32(m, v->ttl);
	rdlen_off = msg_16(m, 0);
	if (v->type == DNS_TYPE_MX) {
		msg_16(m, 10);
		msg_name(m, (how & COMPRESS) ? "mail" : "mail.example.com.", how & UPPER,
			 (how & COMPRESS) ? zone_off : 0);
	} else {
		msg_bytes(m, (uint8_t[]){192, 0, 2, 1}, 4);
	}
	dns_put16(m->b + rdlen_off, (uint16_t)(m->n - rdlen_off - 2));
	return off;
}

/*
 * A response holding @v's RR (twice with DUP) and its RRSIG in the answer section; the
 * offsets of the RRs in @rr_offs, their number in *@n_rrs, the RRSIG's in *@sig_off.
 */
static void vector_msg(const struct vector *v, int how, struct msg *m, size_t *rr_offs,
		       size_t *n_rrs, size_t *sig_off)
{
	uint8_t sig[256];
	int sig_len = b64_decode(v->sig, sig, sizeof(sig));
	size_t zone_off = DNS_HDR_LEN + strlen(v->owner) - strlen(v->zone), rdlen_off;

	CU_ASSERT_FATAL(sig_len > 0);
	m->n = 0;
	msg_16(m, 0);
	msg_16(m, DNS_QR | DNS_RD | DNS_RA);
	msg_16(m, 1);
	msg_16(m, (how & DUP) ? 3 : 2);
	msg_32(m, 0);
	msg_name(m, v->owner, false, 0);
	msg_16(m, v->type);
	msg_16(m, DNS_CLASS_IN);

	*n_rrs = 0;
	rr_offs[1] = vector_rr(m, v, how, zone_off);
	if (how & DUP) {
		rr_offs[0] = vector_rr(m, v, how ^ COMPRESS, zone_off);
		*n_rrs = 2;
	} else {
		rr_offs[0] = rr_offs[1];
		*n_rrs = 1;
	}

	*sig_off = msg_name(m, v->owner, how & UPPER, (how & COMPRESS) ? DNS_HDR_LEN : 0);
	if (how & COMPRESS) {
		m->n = *sig_off;
		msg_16(m, 0xc000 | DNS_HDR_LEN);
	}
	msg_16(m, DNS_TYPE_RRSIG);
	msg_16(m, DNS_CLASS_IN);
	msg_32(m, v->ttl);
	rdlen_off = msg_16(m, 0);
	msg_16(m, v->type);
	msg_bytes(m, &v->alg, 1);
	msg_bytes(m, &v->labels, 1);
	msg_32(m, v->ttl);
	msg_32(m, v->expire);
	msg_32(m, v->incept);
	msg_16(m, v->tag);
	if (how & COMPRESS) {
		msg_16(m, (uint16_t)(0xc000 | zone_off));
	} else {
		msg_name(m, v->zone, how & UPPER, 0);
	}
	msg_bytes(m, sig, (size_t)sig_len);
	dns_put16(m->b + rdlen_off, (uint16_t)(m->n - rdlen_off - 2));
}

/* Whether @v's signature verifies over the signed data we build from @m. */
static int vector_verify(const struct vector *v, const struct msg *m, const size_t *rr_offs,
			 size_t n_rrs, size_t sig_off, size_t *data_len)
{
	uint8_t key[128], sig[256], data[OUT_MAX];
	int key_len = b64_decode(v->key, key, sizeof(key));
	int sig_len = b64_decode(v->sig, sig, sizeof(sig));
	int ret = dns_rrsig_signed_data(m->b, m->n, sig_off, rr_offs, n_rrs, data, sizeof(data),
					data_len);

	if (ret < 0) {
		return ret;
	}
	return tls_dnssec_verify(v->alg, key, (size_t)key_len, data, *data_len, sig,
				 (size_t)sig_len);
}

/* (b) The RFC examples verify from a real message, whatever its case, compression, repeats. */
static void test_vectors(void)
{
	static const int hows[] = {
		0, UPPER, COMPRESS, UPPER | COMPRESS, DUP, DUP | UPPER, DUP | COMPRESS | UPPER};

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t plain_len = 0;

		for (size_t h = 0; h < sizeof(hows) / sizeof(hows[0]); h++) {
			struct msg m;
			size_t rr_offs[2], n_rrs, sig_off, data_len = 0;
			int ret;

			CU_ASSERT_TRUE(tls_dnssec_algorithm_supported(vectors[i].alg));
			vector_msg(&vectors[i], hows[h], &m, rr_offs, &n_rrs, &sig_off);
			ret = vector_verify(&vectors[i], &m, rr_offs, n_rrs, sig_off, &data_len);
			if (ret != 0) {
				printf("\n%s, case %d: %d\n", vectors[i].name, hows[h], ret);
			}
			CU_ASSERT_EQUAL(ret, 0);
			if (h == 0) {
				plain_len = data_len;
			}
			CU_ASSERT_EQUAL(data_len, plain_len); /* the duplicate is gone */
		}
	}
}

/* (e) Hostile input on the RFC 8080 §6.1 message (MX): every refusal the header names. */
static void test_hostile(void)
{
	const struct vector *v = &vectors[2]; /* MX: a name in the RDATA */
	struct msg m;
	uint8_t out[OUT_MAX];
	size_t rr_offs[DNS_CANON_MAX_RRS + 1], n_rrs, sig_off, full = 0, out_len = 0;

	vector_msg(v, COMPRESS, &m, rr_offs, &n_rrs, &sig_off);
	CU_ASSERT_EQUAL_FATAL(
		dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 1, out, sizeof(out), &full), 0);

	/* Not of the RRset: the RRSIG itself (another type), the question (no RR at all). */
	rr_offs[1] = sig_off;
	CU_ASSERT_EQUAL(
		dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 2, out, sizeof(out), &out_len),
		-EINVAL);
	rr_offs[1] = rr_offs[0];
	CU_ASSERT_EQUAL(
		dns_rrsig_signed_data(m.b, m.n, rr_offs[0], rr_offs, 1, out, sizeof(out), &out_len),
		-EINVAL); /* an MX given as the RRSIG */
	CU_ASSERT_EQUAL(
		dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 0, out, sizeof(out), &out_len),
		-EINVAL);
	for (size_t i = 0; i <= DNS_CANON_MAX_RRS; i++) {
		rr_offs[i] = rr_offs[0];
	}
	CU_ASSERT_EQUAL(dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, DNS_CANON_MAX_RRS, out,
					      sizeof(out), &out_len),
			0); /* as many as allowed, all the same RR */
	CU_ASSERT_EQUAL(out_len, full);
	CU_ASSERT_EQUAL(dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, DNS_CANON_MAX_RRS + 1,
					      out, sizeof(out), &out_len),
			-E2BIG);
	out_len = 0;

	/* The message cut anywhere (the RRSIG is last), every capacity too small. */
	for (size_t cut = 0; cut < m.n; cut++) {
		CU_ASSERT_EQUAL(dns_rrsig_signed_data(m.b, cut, sig_off, rr_offs, 1, out,
						      sizeof(out), &out_len),
				-EINVAL);
	}
	for (size_t cap = 0; cap < full; cap++) {
		CU_ASSERT_EQUAL(
			dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 1, out, cap, &out_len),
			-ENOSPC);
	}
	CU_ASSERT_EQUAL(out_len, 0);

	/* Another class; more labels in the RRSIG than in its owner (RFC 4035 §5.3.1). */
	m.b[rr_offs[0] + 4]++; /* the MX's class, after a 2-octet pointer and the type */
	CU_ASSERT_EQUAL(
		dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 1, out, sizeof(out), &out_len),
		-EINVAL);
	m.b[rr_offs[0] + 4]--;
	m.b[sig_off + 2 + 10 + 3]++; /* labels: past the pointer and the fixed fields */
	CU_ASSERT_EQUAL(
		dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 1, out, sizeof(out), &out_len),
		-EINVAL);
	m.b[sig_off + 2 + 10 + 3]--;

	/* Another owner: the MX read as if it were owned by its question's name's parent. */
	vector_msg(&vectors[0], COMPRESS, &m, rr_offs, &n_rrs, &sig_off);
	m.b[rr_offs[0] + 1] += 4; /* the pointer to www.example.net. now points to example.net. */
	CU_ASSERT_EQUAL(
		dns_rrsig_signed_data(m.b, m.n, sig_off, rr_offs, 1, out, sizeof(out), &out_len),
		-EINVAL);
	CU_ASSERT_EQUAL(out_len, 0);
}

/* An RR from its presentation form. */
static ldns_rr *rr_new(const char *text)
{
	ldns_rr *rr = NULL;

	CU_ASSERT_FATAL(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) == LDNS_STATUS_OK);
	return rr;
}

/*
 * Sign the RRset @texts (@n_rrs RRs of one owner, type and class) with a new P-256 key of
 * example.com. that ldns makes; pack the RRs in reverse order, with records of another owner
 * and another type among them, and the RRSIG into a response (ldns compresses its names); with
 * @owner, the RRs and RRSIG carry that owner instead, as when a wildcard is expanded. Then our
 * signed data must be the bytes ldns signs (RFC 4034 §3.1.8.1 as ldns builds it in
 * ldns_verify_rrsig_buffers' callers: ldns_rrsig2buffer_wire, then the set canonical with the
 * original TTL, sorted, ldns_rr_list2buffer_wire), and verify under the key.
 */
static void ldns_check(const char *const *texts, size_t n_rrs, const char *owner)
{
	ldns_key *key = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	ldns_key_list *keys = ldns_key_list_new();
	ldns_rr_list *set = ldns_rr_list_new(), *sigs, *canon;
	ldns_buffer *want = ldns_buffer_new(OUT_MAX);
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *dnskey, *rrsig, *question = NULL;
	ldns_rdf *pub, *sig;
	uint8_t *wire = NULL, out[OUT_MAX];
	size_t wire_len = 0, out_len = 0, rr_offs[16], n = 0, sig_off = 0;
	struct dns_walk w;
	struct dns_rr rr;

	CU_ASSERT_FATAL(key != NULL && keys != NULL && set != NULL && want != NULL && pkt != NULL);
	ldns_key_set_pubkey_owner(key, ldns_dname_new_frm_str("example.com."));
	ldns_key_set_inception(key, 1700000000);
	ldns_key_set_expiration(key, 1900000000);
	dnskey = ldns_key2rr(key);
	ldns_key_set_keytag(key, ldns_calc_keytag(dnskey));
	ldns_key_list_push_key(keys, key);
	for (size_t i = 0; i < n_rrs; i++) {
		ldns_rr_list_push_rr(set, rr_new(texts[i]));
	}
	sigs = ldns_sign_public(set, keys);
	CU_ASSERT_FATAL(sigs != NULL && ldns_rr_list_rr_count(sigs) == 1);
	rrsig = ldns_rr_list_rr(sigs, 0);

	/* What ldns signs. */
	canon = ldns_rr_list_clone(set);
	for (size_t i = 0; i < n_rrs; i++) {
		ldns_rr_set_ttl(ldns_rr_list_rr(canon, i),
				ldns_rdf2native_int32(ldns_rr_rrsig_origttl(rrsig)));
	}
	ldns_rr_list2canonical(canon);
	ldns_rr_list_sort(canon);
	CU_ASSERT_FATAL(ldns_rrsig2buffer_wire(want, rrsig) == LDNS_STATUS_OK);
	CU_ASSERT_FATAL(ldns_rr_list2buffer_wire(want, canon) == LDNS_STATUS_OK);

	/* The response. */
	CU_ASSERT_FATAL(ldns_rr_new_question_frm_str(&question, "example.com. IN A", NULL, NULL) ==
			LDNS_STATUS_OK);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr_new("other.example.com. 60 IN A 192.0.2.7"));
	for (size_t i = n_rrs; i-- > 0;) {
		ldns_rr *copy = ldns_rr_clone(ldns_rr_list_rr(set, i));

		if (owner != NULL) {
			ldns_rdf_deep_free(ldns_rr_owner(copy));
			ldns_rr_set_owner(copy, ldns_dname_new_frm_str(owner));
		}
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, copy);
		if (i == n_rrs / 2) {
			ldns_rr *noise = ldns_rr_clone(ldns_rr_list_rr(set, i));

			ldns_rr_set_type(noise, LDNS_RR_TYPE_TXT); /* same owner, another type */
			ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, noise);
		}
	}
	rrsig = ldns_rr_clone(rrsig);
	if (owner != NULL) {
		ldns_rdf_deep_free(ldns_rr_owner(rrsig));
		ldns_rr_set_owner(rrsig, ldns_dname_new_frm_str(owner));
	}
	ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rrsig);
	CU_ASSERT_FATAL(ldns_pkt2wire(&wire, pkt, &wire_len) == LDNS_STATUS_OK);

	/* The RRset and its RRSIG, as a validator finds them. */
	CU_ASSERT_FATAL(dns_walk_init(&w, wire, wire_len) == 0);
	while (dns_walk_next(&w, &rr) == 1) {
		if (rr.type == DNS_TYPE_RRSIG) {
			sig_off = rr.off;
		} else if (rr.type == ldns_rr_get_type(ldns_rr_list_rr(set, 0)) && n < 16) {
			rr_offs[n++] = rr.off;
		}
	}
	CU_ASSERT_EQUAL_FATAL(n, n_rrs);
	CU_ASSERT_EQUAL_FATAL(dns_rrsig_signed_data(wire, wire_len, sig_off, rr_offs, n, out,
						    sizeof(out), &out_len),
			      0);
	CU_ASSERT_EQUAL(out_len, ldns_buffer_position(want));
	CU_ASSERT(out_len == ldns_buffer_position(want) &&
		  memcmp(out, ldns_buffer_begin(want), out_len) == 0);

	pub = ldns_rr_rdf(dnskey, 3);
	sig = ldns_rr_rdf(rrsig, 8);
	CU_ASSERT_EQUAL(tls_dnssec_verify(TLS_DNSSEC_ECDSAP256SHA256, ldns_rdf_data(pub),
					  ldns_rdf_size(pub), out, out_len, ldns_rdf_data(sig),
					  ldns_rdf_size(sig)),
			0);

	free(wire);
	ldns_pkt_free(pkt);
	ldns_buffer_free(want);
	ldns_rr_list_deep_free(canon);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(set);
	ldns_rr_free(dnskey);
	ldns_key_list_free(keys); /* and the key in it */
}

/*
 * (c) RRsets with names in their RDATA, in mixed case, against ldns. The MX set sorts by
 * RDATA, not by length: "10 mx" before "10 zzzz" before "20 a" (RFC 4034 §6.3).
 */
static void test_ldns(void)
{
	static const char *const mx[] = {
		"Example.COM. 3600 IN MX 20 A.example.com.",
		"example.com. 3600 IN MX 10 ZZZZ.Example.com.",
		"EXAMPLE.com. 3600 IN MX 10 mx.example.com.",
	};
	static const char *const srv[] = {
		"_sip._tcp.example.com. 600 IN SRV 10 60 5060 BigBox.Example.com.",
		"_SIP._tcp.example.com. 600 IN SRV 10 20 5060 SmallBox.example.com.",
		"_sip._TCP.example.com. 600 IN SRV 0 0 0 .",
	};
	static const char *const ns[] = {
		"example.com. 86400 IN NS NS1.Example.COM.",
		"example.com. 86400 IN NS ns2.example.NET.",
		"example.com. 86400 IN NS a.iana-servers.net.",
		"example.com. 86400 IN NS b.IANA-servers.net.",
	};
	static const char *const soa[] = {
		"example.com. 3600 IN SOA NS1.Example.com. HostMaster.Example.com. 2024010101 7200 "
		"3600 1209600 3600",
	};

	ldns_check(mx, 3, NULL);
	ldns_check(srv, 3, NULL);
	ldns_check(ns, 4, NULL);
	ldns_check(soa, 1, NULL);
}

/*
 * (d) An answer expanded from *.example.com.: owned by a.B.example.com. with an RRSIG of 2
 * labels, it was signed as "*.example.com." (RFC 4035 §5.3.2), which our signed data must say.
 */
static void test_wildcard(void)
{
	static const char *const mx[] = {
		"*.example.com. 3600 IN MX 10 mail.example.com.",
		"*.example.com. 3600 IN MX 20 Mail2.Example.com.",
	};

	ldns_check(mx, 2, "a.B.example.com.");
}

static CU_TestInfo tests[] = {
	{"names", test_name},
	{"RFC 6605 and RFC 8080 examples", test_vectors},
	{"against ldns: MX, SRV, NS, SOA", test_ldns},
	{"wildcard expansion", test_wildcard},
	{"hostile input", test_hostile},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_run("dns_canon", tests);
}
