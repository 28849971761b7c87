/*
 * test_dnssec_val: RRset and DNSKEY RRset validation (resolver/dnssec_val.c) end to end, from
 * DS to DNSKEY to an answer, on real DNS messages that ldns packs (it compresses names).
 *
 * The RFC 6605 §6.1 (P-256) and RFC 8080 §6.1 (Ed25519) examples give a DNSKEY, its DS and an
 * RRSIG over an A or MX RRset, but no RRSIG over the DNSKEY RRset: there the DS must match the
 * key (the DNSKEY RRset is then bogus for want of an RRSIG, EDE 10, not for want of a key, EDE
 * 9) and the RRset must verify under it. A whole chain is a zone that ldns signs here (it links
 * OpenSSL: fine in a test): a KSK and a ZSK, the DNSKEY RRset signed by the KSK, RRsets by the
 * ZSK, and DS records from ldns_key_rr2ds(). Then times (the validity window, its edges, the
 * 2^32 wrap of RFC 1982), and hostile input, each with the reason and the EDE it must give.
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
#include "dnssec_val.h"
#include "tls_dnssec.h"
#include "unit.h"

#define RRS_MAX 32

/* A response whose answer section holds the given RRs, in order, as ldns wrote it. */
struct wire {
	uint8_t *b; /**< owned (ldns_pkt2wire's) */
	size_t len;
	size_t off[RRS_MAX];	   /**< each RR's owner name */
	size_t rdata_off[RRS_MAX]; /**< and its RDATA */
	uint16_t rdlen[RRS_MAX];
	size_t n;
};

static ldns_rr *rr_new(const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "cannot parse '%s'\n", text);
		CU_FAIL_FATAL("rr_new");
	}
	return rr;
}

/* Pack clones of @rrs (@n of them) into the answer section of a response in @w. */
static void wire_build(ldns_rr *const *rrs, size_t n, struct wire *w)
{
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *question = NULL;
	struct dns_walk walk;
	struct dns_rr rr;

	CU_ASSERT_FATAL(pkt != NULL && n <= RRS_MAX);
	CU_ASSERT_FATAL(ldns_rr_new_question_frm_str(&question, "example. IN A", NULL, NULL) ==
			LDNS_STATUS_OK);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
	ldns_pkt_set_qr(pkt, true);
	for (size_t i = 0; i < n; i++) {
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, ldns_rr_clone(rrs[i]));
	}
	w->b = NULL;
	CU_ASSERT_FATAL(ldns_pkt2wire(&w->b, pkt, &w->len) == LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	w->n = 0;
	CU_ASSERT_FATAL(dns_walk_init(&walk, w->b, w->len) == 0);
	while (dns_walk_next(&walk, &rr) == 1) {
		w->off[w->n] = rr.off;
		w->rdata_off[w->n] = rr.rdata_off;
		w->rdlen[w->n] = rr.rdlen;
		w->n++;
	}
	CU_ASSERT_FATAL(w->n == n);
}

static void wire_free(struct wire *w)
{
	free(w->b);
	w->b = NULL;
}

/* RRSIG RDATA fields (RFC 4034 §3.1). */
#define SIG_ALG	   2
#define SIG_LABELS 3
#define SIG_TAG	   16

/* The offsets of the RRs at the indexes @idx (@n of them, ending with -1) of @w. */
static size_t pick(const struct wire *w, const int *idx, size_t *offs)
{
	size_t n = 0;

	while (idx[n] >= 0) {
		offs[n] = w->off[idx[n]];
		n++;
	}
	return n;
}

static void expect(const struct dnssec_result *r, enum dnssec_status status,
		   enum dnssec_reason reason, int ede)
{
	CU_ASSERT_EQUAL(r->status, status);
	CU_ASSERT_EQUAL(r->reason, reason);
	CU_ASSERT_EQUAL(r->ede, ede);
	if (r->status != status || r->reason != reason || r->ede != ede) {
		fprintf(stderr, "got status %d reason %d ede %d, want %d %d %d\n", r->status,
			r->reason, r->ede, status, reason, ede);
	}
}

/* Verify RRset @rr (indexes) with RRSIGs @sig (indexes) of @w under @keys at @now. */
static struct dnssec_result rrset(const struct wire *w, const int *rr, const int *sig,
				  const struct dnssec_keys *keys, uint32_t now)
{
	size_t rr_offs[RRS_MAX], sig_offs[RRS_MAX], n_rr = pick(w, rr, rr_offs),
						    n_sig = pick(w, sig, sig_offs);
	struct dnssec_result r = {.status = 99};

	CU_ASSERT_EQUAL(
		dnssec_rrset_verify(w->b, w->len, rr_offs, n_rr, sig_offs, n_sig, keys, now, &r),
		0);
	return r;
}

/* The keys of the DNSKEY RRs @idx of @w. */
static void keys_get(const struct wire *w, const int *idx, struct dnssec_keys *keys)
{
	size_t offs[RRS_MAX], n = pick(w, idx, offs);

	CU_ASSERT_EQUAL_FATAL(dnssec_keys_from_rrset(w->b, w->len, offs, n, keys), 0);
}

/* The DS records @idx of @w. */
static size_t ds_get(const struct wire *w, const int *idx, struct dnssec_ds *ds)
{
	size_t offs[RRS_MAX], n = pick(w, idx, offs), n_ds = 0;

	CU_ASSERT_EQUAL_FATAL(dnssec_ds_from_rrset(w->b, w->len, offs, n, ds, RRS_MAX, &n_ds), 0);
	return n_ds;
}

static struct dnssec_result dnskey(const struct wire *w, const int *keys, const int *sig,
				   const struct dnssec_trust *trust, uint32_t now,
				   struct dnssec_keys *out)
{
	size_t key_offs[RRS_MAX], sig_offs[RRS_MAX], n_keys = pick(w, keys, key_offs),
						     n_sig = pick(w, sig, sig_offs);
	struct dnssec_result r = {.status = 99};

	CU_ASSERT_EQUAL(dnssec_dnskey_verify(w->b, w->len, key_offs, n_keys, sig_offs, n_sig, trust,
					     now, out, &r),
			0);
	return r;
}

#define L(...) ((const int[]){__VA_ARGS__, -1})
#define NONE   ((const int[]){-1})

/* RFC 6605 §6.1 (P-256) and RFC 8080 §6.1 (Ed25519, erratum 4935): the RR examples. */
static const char *const rfc6605[] = {
	"example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF6"
	"4cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
	"example.net. 3600 IN DS 55648 13 2 "
	"b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e3"
	"7df61d17",
	"www.example.net. 3600 IN A 192.0.2.1",
	"www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 "
	"example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7Zwm"
	"wWep666VCw==",
	/* a copy of the RRSIG, to be damaged */
	"www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 "
	"example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7Zwm"
	"wWep666VCw==",
};
#define P256_INCEPT 1281607479u /* 20100812100439 */
#define P256_EXPIRE 1284026679u /* 20100909100439 */

static void wire_from_text(const char *const *texts, size_t n, struct wire *w)
{
	ldns_rr *rrs[RRS_MAX];

	for (size_t i = 0; i < n; i++) {
		rrs[i] = rr_new(texts[i]);
	}
	wire_build(rrs, n, w);
	for (size_t i = 0; i < n; i++) {
		ldns_rr_free(rrs[i]);
	}
}

/* (a) RFC 6605 §6.1: the DS matches the DNSKEY, the A RRset verifies in its window. */
static void test_rfc6605(void)
{
	struct wire w;
	struct dnssec_keys keys, got;
	struct dnssec_ds ds[RRS_MAX];
	struct dnssec_trust trust = {.ds = ds};
	struct dnssec_result r;
	uint32_t mid = P256_INCEPT + 1000000;

	wire_from_text(rfc6605, 5, &w);
	keys_get(&w, L(0), &keys);
	CU_ASSERT_EQUAL(keys.n_keys, 1);
	CU_ASSERT_EQUAL(keys.key[0].key_tag, 55648);
	CU_ASSERT_EQUAL(keys.key[0].flags, 257);
	CU_ASSERT_EQUAL(keys.zone_len, 13);
	CU_ASSERT_EQUAL(memcmp(keys.zone, "\7example\3net", 13), 0);
	CU_ASSERT_EQUAL(keys.zone_labels, 2);
	trust.n_ds = ds_get(&w, L(1), ds);
	CU_ASSERT_EQUAL(trust.n_ds, 1);
	CU_ASSERT_EQUAL(ds[0].key_tag, 55648);
	CU_ASSERT_EQUAL(ds[0].digest_len, 32);

	/* The DS matches: what is missing is the DNSKEY RRset's RRSIG, not the key. */
	r = dnskey(&w, L(0), NONE, &trust, mid, &got);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_RRSIG, 10);
	/* ... and with one digest bit changed, no key matches (EDE 9). */
	w.b[w.rdata_off[1] + 4] ^= 1;
	trust.n_ds = ds_get(&w, L(1), ds);
	r = dnskey(&w, L(0), NONE, &trust, mid, &got);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_DS_MATCH, 9);
	w.b[w.rdata_off[1] + 4] ^= 1;

	/* The A RRset, inside the window and at its edges. */
	r = rrset(&w, L(2), L(3), &keys, mid);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.rrsig, 0);
	CU_ASSERT_EQUAL(r.labels, 3);
	CU_ASSERT_EQUAL(r.key, 0);
	r = rrset(&w, L(2), L(3), &keys, P256_INCEPT);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	r = rrset(&w, L(2), L(3), &keys, P256_EXPIRE);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	r = rrset(&w, L(2), L(3), &keys, P256_EXPIRE + 1);
	expect(&r, DNSSEC_BOGUS, DNSSEC_EXPIRED, 7);
	r = rrset(&w, L(2), L(3), &keys, P256_INCEPT - 1);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NOT_YET, 8);
	/* Far later, but within half the serial number space (RFC 1982 §3.2): expired. */
	r = rrset(&w, L(2), L(3), &keys, P256_EXPIRE + 0x70000000u);
	expect(&r, DNSSEC_BOGUS, DNSSEC_EXPIRED, 7);

	/* No RRSIG at all (EDE 10). */
	r = rrset(&w, L(2), NONE, &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_RRSIG, 10);

	/* One signature bit flipped: bogus (EDE 6); with the good copy too, secure (§5.3.3). */
	w.b[w.rdata_off[4] + w.rdlen[4] - 1] ^= 0x01;
	r = rrset(&w, L(2), L(4), &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_SIGNATURE, 6);
	r = rrset(&w, L(2), L(4, 3), &keys, mid);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.rrsig, 1);
	/* At most DNSSEC_VERIFY_MAX (8) signature checks per RRset (KeyTrap, CVE-2023-50387). */
	r = rrset(&w, L(2), L(4, 4, 4, 4, 4, 4, 4, 3), &keys, mid);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	r = rrset(&w, L(2), L(4, 4, 4, 4, 4, 4, 4, 4, 3), &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_SIGNATURE, 6);
	w.b[w.rdata_off[4] + w.rdlen[4] - 1] ^= 0x01;

	/* Another key tag: no key (EDE 9). */
	w.b[w.rdata_off[4] + SIG_TAG + 1] ^= 0x01;
	r = rrset(&w, L(2), L(4), &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_KEY, 9);
	w.b[w.rdata_off[4] + SIG_TAG + 1] ^= 0x01;

	/* A labels field over the owner's 3 labels (RFC 4035 §5.3.1). */
	w.b[w.rdata_off[4] + SIG_LABELS] = 4;
	r = rrset(&w, L(2), L(4), &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_LABELS, 6);
	w.b[w.rdata_off[4] + SIG_LABELS] = 3;

	/* Another type covered: the RRSIG is not the RRset's. */
	w.b[w.rdata_off[4] + 1] = DNS_TYPE_AAAA;
	r = rrset(&w, L(2), L(4), &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_MISMATCH, 6);
	w.b[w.rdata_off[4] + 1] = DNS_TYPE_A;
	CU_ASSERT_EQUAL(rrset(&w, L(2), L(4), &keys, mid).status, DNSSEC_SECURE);

	/* The signer is not the keys' zone. */
	got = keys;
	memcpy(got.zone, "\7example\3org", 13);
	r = rrset(&w, L(2), L(3), &got, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_SIGNER, 6);

	/* A key without the zone key bit, or of another protocol, is never used (RFC 4034 §2.1). */
	got = keys;
	got.key[0].flags = 1;
	r = rrset(&w, L(2), L(3), &got, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_KEY, 9);
	got = keys;
	got.key[0].protocol = 2;
	r = rrset(&w, L(2), L(3), &got, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_KEY, 9);

	/* The closest failure is the one reported: a bad signature over a missing key. */
	w.b[w.rdata_off[4] + SIG_TAG + 1] ^= 0x01;
	w.b[w.rdata_off[3] + w.rdlen[3] - 1] ^= 0x01;
	r = rrset(&w, L(2), L(4, 3), &keys, mid);
	expect(&r, DNSSEC_BOGUS, DNSSEC_SIGNATURE, 6);
	wire_free(&w);
}

/* (b) RFC 8080 §6.1: the Ed25519 DS matches, and the MX RRset verifies. */
static void test_rfc8080(void)
{
	static const char *const texts[] = {
		"example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
		"example.com. 3600 IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b196"
		"4ab55c78e79a304b",
		"example.com. 3600 IN MX 10 mail.example.com.",
		"example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. "
		"oL9krJun7xfBOIWcGHi7mag5/"
		"hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrq"
		"NAg==",
	};
	struct wire w;
	struct dnssec_keys keys, got;
	struct dnssec_ds ds[RRS_MAX];
	struct dnssec_trust trust = {.ds = ds};
	struct dnssec_result r;

	wire_from_text(texts, 4, &w);
	keys_get(&w, L(0), &keys);
	CU_ASSERT_EQUAL(keys.key[0].key_tag, 3613);
	trust.n_ds = ds_get(&w, L(1), ds);
	r = dnskey(&w, L(0), NONE, &trust, 1439000000, &got);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_RRSIG, 10);
	r = rrset(&w, L(2), L(3), &keys, 1439000000);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.labels, 2);
	r = rrset(&w, L(2), L(3), &keys, 1440021601);
	expect(&r, DNSSEC_BOGUS, DNSSEC_EXPIRED, 7);
	w.b[w.rdata_off[3] + w.rdlen[3] - 40] ^= 0x80;
	r = rrset(&w, L(2), L(3), &keys, 1439000000);
	expect(&r, DNSSEC_BOGUS, DNSSEC_SIGNATURE, 6);
	wire_free(&w);
}

/* A zone that ldns signs: a KSK and a ZSK (P-256), valid from @incept to @expire. */
struct zone {
	ldns_key *ksk, *zsk, *other; /**< other: a key of the zone never published */
	ldns_rr *ksk_rr, *zsk_rr, *other_rr;
};

static ldns_key *key_new(const char *zone, uint16_t flags, uint32_t incept, uint32_t expire,
			 ldns_rr **rr)
{
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);

	CU_ASSERT_FATAL(k != NULL);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(zone));
	ldns_key_set_flags(k, flags);
	ldns_key_set_inception(k, incept);
	ldns_key_set_expiration(k, expire);
	*rr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(*rr));
	return k;
}

static void zone_new(struct zone *z, const char *name, uint32_t incept, uint32_t expire)
{
	z->ksk = key_new(name, 257, incept, expire, &z->ksk_rr);
	z->zsk = key_new(name, 256, incept, expire, &z->zsk_rr);
	z->other = key_new(name, 257, incept, expire, &z->other_rr);
}

static void zone_free(struct zone *z)
{
	ldns_key_deep_free(z->ksk);
	ldns_key_deep_free(z->zsk);
	ldns_key_deep_free(z->other);
	ldns_rr_free(z->ksk_rr);
	ldns_rr_free(z->zsk_rr);
	ldns_rr_free(z->other_rr);
}

/* The RRSIG of @key over the RRset @rrs (@n of them), pushed to @out. */
static ldns_rr *sign(ldns_key *key, ldns_rr *const *rrs, size_t n)
{
	ldns_key_list *list = ldns_key_list_new();
	ldns_rr_list *set = ldns_rr_list_new(), *sigs;
	ldns_rr *sig;

	for (size_t i = 0; i < n; i++) {
		ldns_rr_list_push_rr(set, rrs[i]);
	}
	ldns_key_list_push_key(list, key);
	sigs = ldns_sign_public(set, list);
	CU_ASSERT_FATAL(sigs != NULL && ldns_rr_list_rr_count(sigs) == 1);
	sig = ldns_rr_clone(ldns_rr_list_rr(sigs, 0));
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_free(set); /* the RRs are the caller's */
	ldns_key_list_set_key_count(list, 0);
	ldns_key_list_free(list);
	return sig;
}

/*
 * The chain's world: 0 KSK, 1 ZSK, 2 RRSIG(KSK) over them, 3 DS SHA-256 of the KSK, 4 DS SHA-1
 * of the KSK, 5 A, 6 RRSIG(ZSK) over it, 7 DS SHA-256 of the ZSK, 8 DS SHA-256 of "other".
 */
static void chain_wire(struct zone *z, struct wire *w)
{
	ldns_rr *rrs[9], *a = rr_new("www.example.test. 300 IN A 192.0.2.53");

	rrs[0] = z->ksk_rr;
	rrs[1] = z->zsk_rr;
	rrs[2] = sign(z->ksk, rrs, 2);
	rrs[3] = ldns_key_rr2ds(z->ksk_rr, LDNS_SHA256);
	rrs[4] = ldns_key_rr2ds(z->ksk_rr, LDNS_SHA1);
	rrs[5] = a;
	rrs[6] = sign(z->zsk, &a, 1);
	rrs[7] = ldns_key_rr2ds(z->zsk_rr, LDNS_SHA256);
	rrs[8] = ldns_key_rr2ds(z->other_rr, LDNS_SHA256);
	wire_build(rrs, 9, w);
	for (size_t i = 2; i < 9; i++) {
		ldns_rr_free(rrs[i]);
	}
}

#define T_INCEPT 1700000000u
#define T_EXPIRE 1900000000u
#define T_NOW	 1800000000u

/* (c) DS to DNSKEY RRset to an A RRset, on a zone ldns signs. */
static void test_chain(void)
{
	struct zone z;
	struct wire w;
	struct dnssec_keys keys, none;
	struct dnssec_ds ds[RRS_MAX];
	struct dnssec_trust trust = {.ds = ds};
	struct dnssec_result r;

	zone_new(&z, "example.test.", T_INCEPT, T_EXPIRE);
	chain_wire(&z, &w);

	/* SHA-256 DS: the DNSKEY RRset is secure, and its keys validate the A RRset. */
	trust.n_ds = ds_get(&w, L(3), ds);
	memset(&keys, 0, sizeof(keys));
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &keys);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.key, 0);
	CU_ASSERT_EQUAL(keys.n_keys, 2);
	CU_ASSERT_EQUAL(memcmp(keys.zone, "\7example\4test", 14), 0);
	r = rrset(&w, L(5), L(6), &keys, T_NOW);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.key, 1);

	/* The order of the DNSKEYs does not matter (RFC 4034 §6.3). */
	r = dnskey(&w, L(1, 0), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.key, 1);

	/* SHA-1 alone is accepted; SHA-1 right and SHA-256 wrong is not (RFC 4509 §3). */
	trust.n_ds = ds_get(&w, L(4), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	w.b[w.rdata_off[3] + 10] ^= 0x20;
	trust.n_ds = ds_get(&w, L(4, 3), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_DS_MATCH, 9);
	/* ... while SHA-256 right and SHA-1 wrong is. */
	w.b[w.rdata_off[3] + 10] ^= 0x20;
	w.b[w.rdata_off[4] + 10] ^= 0x20;
	trust.n_ds = ds_get(&w, L(4, 3), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	w.b[w.rdata_off[4] + 10] ^= 0x20;

	/* A DS of a key not in the set: no key (EDE 9); of the ZSK, which did not sign: EDE 9. */
	trust.n_ds = ds_get(&w, L(8), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_DS_MATCH, 9);
	trust.n_ds = ds_get(&w, L(7), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_KEY, 9);
	/* Both, and one of the KSK: secure. */
	trust.n_ds = ds_get(&w, L(8, 7, 3), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	/* The KSK's DS with the DNSKEY RRset's RRSIG expired. */
	trust.n_ds = ds_get(&w, L(3), ds);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_EXPIRE + 1, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_EXPIRED, 7);
	/* Eight copies of the KSK all match the DS; a ninth is past the bound (KeyTrap). */
	r = dnskey(&w, L(0, 0, 0, 0, 0, 0, 0, 0), NONE, &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_RRSIG, 10);
	r = dnskey(&w, L(0, 0, 0, 0, 0, 0, 0, 0, 0), NONE, &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_TOO_MUCH, 6);
	/* No DNSKEY at all. */
	r = dnskey(&w, NONE, L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_DS_MATCH, 9);

	/* Only algorithms (12, GOST) or digest types (3, GOST) we do not have: insecure. */
	ds[0].algorithm = TLS_DNSSEC_ECC_GOST;
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_INSECURE, DNSSEC_UNSUPPORTED_ALG, 1);
	ds[0].algorithm = TLS_DNSSEC_ECDSAP256SHA256;
	ds[0].digest_type = TLS_DNSSEC_DS_GOST;
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_INSECURE, DNSSEC_UNSUPPORTED_DS, 2);
	/* An unsupported DS next to a supported one that fails: bogus, not insecure. */
	trust.n_ds = ds_get(&w, L(3, 8), ds);
	ds[0].digest_type = TLS_DNSSEC_DS_GOST;
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &none);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_DS_MATCH, 9);
	/* Nothing to trust is the caller's error. */
	trust.n_ds = 0;
	CU_ASSERT_EQUAL(
		dnssec_dnskey_verify(w.b, w.len, w.off, 2, w.off + 2, 1, &trust, T_NOW, &none, &r),
		-EINVAL);

	wire_free(&w);
	zone_free(&z);
}

/* (d) DNSKEY trust anchors, from a struct anchor_zone as dnssec_anchors.c loads them. */
static void test_anchor_keys(void)
{
	struct zone z;
	struct wire w;
	struct dnssec_keys keys, from;
	struct dnssec_ds ds[4];
	struct dnssec_key anchor_keys[4];
	struct anchor_dnskey ak;
	struct anchor_ds ad;
	struct anchor_zone az = {.keys = &ak, .n_keys = 1};
	struct dnssec_trust trust;
	struct dnssec_result r;

	zone_new(&z, "example.test.", T_INCEPT, T_EXPIRE);
	chain_wire(&z, &w);
	keys_get(&w, L(0, 1), &from);
	ak = (struct anchor_dnskey){.flags = 257,
				    .protocol = 3,
				    .algorithm = 13,
				    .key_tag = from.key[0].key_tag,
				    .key = (uint8_t *)from.key[0].key,
				    .key_len = from.key[0].key_len};
	CU_ASSERT_EQUAL_FATAL(dnssec_trust_from_anchor(&az, ds, 4, anchor_keys, 4, &trust), 0);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &keys);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(keys.n_keys, 2);

	/* The ZSK as the anchor: it is in the set but did not sign it. */
	ak.key = (uint8_t *)from.key[1].key;
	ak.key_tag = from.key[1].key_tag;
	ak.flags = 256;
	CU_ASSERT_EQUAL_FATAL(dnssec_trust_from_anchor(&az, ds, 4, anchor_keys, 4, &trust), 0);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &keys);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_KEY, 9);

	/* A DS anchor, with a DNSKEY anchor of an unsupported algorithm beside it. */
	ds_get(&w, L(3), ds);
	ad = (struct anchor_ds){.key_tag = ds[0].key_tag,
				.algorithm = ds[0].algorithm,
				.digest_type = ds[0].digest_type,
				.digest = (uint8_t *)ds[0].digest,
				.digest_len = ds[0].digest_len};
	ak.algorithm = TLS_DNSSEC_ECC_GOST;
	az.ds = &ad;
	az.n_ds = 1;
	CU_ASSERT_EQUAL(dnssec_trust_from_anchor(&az, ds, 0, anchor_keys, 4, &trust), -E2BIG);
	CU_ASSERT_EQUAL_FATAL(dnssec_trust_from_anchor(&az, ds, 4, anchor_keys, 4, &trust), 0);
	r = dnskey(&w, L(0, 1), L(2), &trust, T_NOW, &keys);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);

	wire_free(&w);
	zone_free(&z);
}

/* (e) RFC 1982 across 2^32: inception 0xFFFFFF00, expiration 0x00000100. */
static void test_wrap(void)
{
	struct zone z;
	ldns_rr *rrs[3];
	struct wire w;
	struct dnssec_keys keys;
	struct dnssec_result r;

	zone_new(&z, "example.test.", 0xffffff00u, 0x00000100u);
	rrs[0] = z.zsk_rr;
	rrs[1] = rr_new("www.example.test. 300 IN A 192.0.2.53");
	rrs[2] = sign(z.zsk, &rrs[1], 1);
	wire_build(rrs, 3, &w);
	CU_ASSERT_EQUAL(ldns_rdf2native_time_t(ldns_rr_rrsig_inception(rrs[2])), 0xffffff00u);
	keys_get(&w, L(0), &keys);

	r = rrset(&w, L(1), L(2), &keys, 0x00000010u);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	r = rrset(&w, L(1), L(2), &keys, 0xffffff80u);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	r = rrset(&w, L(1), L(2), &keys, 0x00000200u);
	expect(&r, DNSSEC_BOGUS, DNSSEC_EXPIRED, 7);
	r = rrset(&w, L(1), L(2), &keys, 0xfffffe00u);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NOT_YET, 8);

	ldns_rr_free(rrs[1]);
	ldns_rr_free(rrs[2]);
	wire_free(&w);
	zone_free(&z);
}

/*
 * (f) What the zone's signature does not make right: an owner outside the signer's zone, a
 * key without the zone key bit; and a wildcard expansion, which is secure and says so by its
 * labels field.
 */
static void test_signed_hostile(void)
{
	struct zone z;
	ldns_key *nonzone;
	ldns_rr *rrs[8], *nonzone_rr, *wild;
	struct wire w;
	struct dnssec_keys keys;
	struct dnssec_result r;

	zone_new(&z, "example.test.", T_INCEPT, T_EXPIRE);
	/* ldns signs with zone keys only: the DNSKEY (and key tag) say 0, the signing key 256. */
	nonzone = key_new("example.test.", 0, T_INCEPT, T_EXPIRE, &nonzone_rr);
	ldns_key_set_flags(nonzone, 256);
	rrs[0] = z.zsk_rr;
	rrs[1] = nonzone_rr;
	rrs[2] = rr_new("www.example.org. 300 IN A 192.0.2.9");
	rrs[3] = sign(z.zsk, &rrs[2], 1); /* signer example.test. over example.org. */
	rrs[4] = rr_new("www.example.test. 300 IN A 192.0.2.10");
	rrs[5] = sign(nonzone, &rrs[4], 1);
	wild = rr_new("*.example.test. 300 IN TXT \"wild\"");
	rrs[7] = sign(z.zsk, &wild, 1);
	rrs[6] = rr_new("a.b.example.test. 300 IN TXT \"wild\"");
	ldns_rdf_deep_free(ldns_rr_owner(rrs[7]));
	ldns_rr_set_owner(rrs[7], ldns_dname_new_frm_str("a.b.example.test."));
	wire_build(rrs, 8, &w);
	keys_get(&w, L(0, 1), &keys);

	r = rrset(&w, L(2), L(3), &keys, T_NOW);
	expect(&r, DNSSEC_BOGUS, DNSSEC_OWNER, 6);
	r = rrset(&w, L(4), L(5), &keys, T_NOW);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_KEY, 9);
	keys.key[1].flags = 256; /* the same key with the bit: its signature is good */
	r = rrset(&w, L(4), L(5), &keys, T_NOW);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	r = rrset(&w, L(6), L(7), &keys, T_NOW);
	expect(&r, DNSSEC_SECURE, DNSSEC_OK, -1);
	CU_ASSERT_EQUAL(r.labels, 2); /* under 4: the caller checks the wildcard (§5.3.4) */

	/* Only an algorithm we do not have (3, DSA) on key and RRSIG: insecure (RFC 6840 §5.2). */
	w.b[w.rdata_off[0] + 3] = TLS_DNSSEC_DSA;
	keys_get(&w, L(0), &keys);
	w.b[w.rdata_off[3] + SIG_ALG] = TLS_DNSSEC_DSA;
	dns_put16(w.b + w.rdata_off[3] + SIG_TAG, keys.key[0].key_tag);
	r = rrset(&w, L(2), L(3), &keys, T_NOW);
	CU_ASSERT_EQUAL(r.status, DNSSEC_BOGUS); /* still outside the zone: that comes first */
	w.b[w.rdata_off[7] + SIG_ALG] = TLS_DNSSEC_DSA;
	dns_put16(w.b + w.rdata_off[7] + SIG_TAG, keys.key[0].key_tag);
	r = rrset(&w, L(6), L(7), &keys, T_NOW);
	expect(&r, DNSSEC_INSECURE, DNSSEC_UNSUPPORTED_ALG, 1);
	/* ... but next to a zone key we support, the missing supported RRSIG is bogus (§2.2). */
	keys_get(&w, L(0, 1), &keys);
	keys.key[1].flags = 257;
	r = rrset(&w, L(6), L(7), &keys, T_NOW);
	expect(&r, DNSSEC_BOGUS, DNSSEC_NO_RRSIG, 10);

	for (size_t i = 2; i < 8; i++) {
		ldns_rr_free(rrs[i]);
	}
	ldns_rr_free(wild);
	wire_free(&w);
	ldns_key_deep_free(nonzone);
	ldns_rr_free(nonzone_rr);
	zone_free(&z);
}

/* (g) The message cut at every length, and keys and DS records that do not parse. */
static void test_truncated(void)
{
	struct wire w;
	struct dnssec_keys keys;
	struct dnssec_ds ds[2];
	size_t n = 0;

	wire_from_text(rfc6605, 5, &w);
	keys_get(&w, L(0), &keys);
	for (size_t cut = 0; cut <= w.len; cut++) {
		struct dnssec_result r = {.status = 99};

		CU_ASSERT_EQUAL(dnssec_rrset_verify(w.b, cut, &w.off[2], 1, &w.off[3], 1, &keys,
						    P256_INCEPT + 10, &r),
				0);
		/* Secure once the A RR and its RRSIG are whole, bogus before. */
		CU_ASSERT_EQUAL(r.status,
				cut >= w.rdata_off[3] + w.rdlen[3] ? DNSSEC_SECURE : DNSSEC_BOGUS);
	}
	CU_ASSERT_EQUAL(dnssec_keys_from_rrset(w.b, w.len, &w.off[2], 1, &keys), -EBADMSG);
	CU_ASSERT_EQUAL(dnssec_keys_from_rrset(w.b, w.len, w.off, 0, &keys), -EINVAL);
	CU_ASSERT_EQUAL(dnssec_keys_from_rrset(w.b, w.rdata_off[0] + 3, w.off, 1, &keys), -EBADMSG);
	CU_ASSERT_EQUAL(dnssec_ds_from_rrset(w.b, w.len, &w.off[0], 1, ds, 2, &n), -EBADMSG);
	CU_ASSERT_EQUAL(dnssec_ds_from_rrset(w.b, w.len, &w.off[1], 1, ds, 0, &n), -E2BIG);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(dnssec_rrset_verify(w.b, w.len, w.off, 0, NULL, 0, &keys, 0,
					    &(struct dnssec_result){0}),
			-EINVAL);
	wire_free(&w);
}

static CU_TestInfo tests[] = {
	{"RFC 6605 §6.1: DS, DNSKEY, A; times; hostile RRSIGs", test_rfc6605},
	{"RFC 8080 §6.1: Ed25519", test_rfc8080},
	{"chain: DS to DNSKEY RRset to RRset, digest preference, insecure", test_chain},
	{"DNSKEY and DS trust anchors", test_anchor_keys},
	{"serial number arithmetic across 2^32", test_wrap},
	{"signed but wrong: owner, zone key bit; wildcard; unsupported", test_signed_hostile},
	{"truncated and malformed input", test_truncated},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_run("dnssec_val", tests);
}
