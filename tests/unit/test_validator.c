/*
 * test_validator: whole answers through resolver/validator.c, driven as resolver/query.c drives
 * it: val_answer() until it gives a verdict, each DS or DNSKEY question it asks answered from a
 * small signed world in memory and handed to val_learn().
 *
 * The world: a root zone "." whose KSK is the trust anchor (its DS, written to a temporary file
 * and read with anchors_load()), secure children "example.", "other.", "third.", "revoked."
 * and "revksk." (DS records in the root), and an insecure delegation "insecure.example." (a
 * signed NSEC at it with NS and without DS). ldns makes the keys and signatures (its OpenSSL
 * crypto only makes test data); dotd checks them with wolfCrypt. Then what a hostile upstream
 * may send instead, each refused with the Extended DNS Error it must give, and what is insecure
 * rather than bogus.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config.h"
#include "dnssec_anchors.h"
#include "dnssec_val.h"
#include "unit.h"
#include "validator.h"

#define T_INCEPT 1700000000u
#define T_EXPIRE 1900000000u
#define T_NOW	 1800000000u
#define T_MONO	 1000u

#define STEPS_MAX 48 /* DS and DNSKEY questions per answer, as query.c's VAL_FETCHES_MAX */
#define ASKED_MAX 64

/* --- the signed world --- */

enum { Z_ROOT, Z_EXAMPLE, Z_OTHER, Z_THIRD, Z_REVOKED, Z_REVKSK, Z_N };

struct zone {
	const char *name;
	ldns_key *ksk, *zsk;
	ldns_rr *ksk_rr, *zsk_rr;
};

static struct zone zones[Z_N] = {
	{.name = "."},	    {.name = "example."}, {.name = "other."},
	{.name = "third."}, {.name = "revoked."}, {.name = "revksk."},
};
static ldns_key *rogue; /* a KSK of example. that its DS does not name */
static ldns_rr *rogue_rr;
static struct anchors *anchors;

static ldns_key *key_new(const char *zone, uint16_t flags, ldns_rr **rr)
{
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);

	CU_ASSERT_FATAL(k != NULL);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(zone));
	ldns_key_set_flags(k, flags);
	ldns_key_set_inception(k, T_INCEPT);
	ldns_key_set_expiration(k, T_EXPIRE);
	*rr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(*rr));
	return k;
}

/* The keys of every zone, and the root's DS as the only trust anchor. */
static void world_init(void)
{
	char path[] = "/tmp/test_validator.XXXXXX";
	ldns_rr *ds;
	char *text;
	FILE *f;
	int fd;

	if (anchors) {
		return;
	}
	for (size_t i = 0; i < Z_N; i++) {
		/* revoked.'s ZSK and revksk.'s KSK carry the REVOKE bit (RFC 5011 §2.1). */
		zones[i].ksk = key_new(zones[i].name, i == Z_REVKSK ? 257 | 0x0080 : 257,
				       &zones[i].ksk_rr);
		zones[i].zsk = key_new(zones[i].name, i == Z_REVOKED ? 256 | 0x0080 : 256,
				       &zones[i].zsk_rr);
	}
	rogue = key_new("example.", 257, &rogue_rr);
	ds = ldns_key_rr2ds(zones[Z_ROOT].ksk_rr, LDNS_SHA256);
	text = ldns_rr2str(ds);
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "; the test root's KSK\n%s", text);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(anchors_load(path, &anchors, stderr), 0);
	unlink(path);
	free(text);
	ldns_rr_free(ds);
}

static void world_free(void)
{
	for (size_t i = 0; i < Z_N; i++) {
		ldns_key_deep_free(zones[i].ksk);
		ldns_key_deep_free(zones[i].zsk);
		ldns_rr_free(zones[i].ksk_rr);
		ldns_rr_free(zones[i].zsk_rr);
	}
	ldns_key_deep_free(rogue);
	ldns_rr_free(rogue_rr);
	anchors_free(anchors);
}

static ldns_rr *rr_new(const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "cannot parse '%s'\n", text);
		CU_FAIL_FATAL("rr_new");
	}
	return rr;
}

/* The RRSIG of @key over the @n RRs @rrs, valid from @incept to @expire. */
static ldns_rr *sign_at(ldns_key *key, ldns_rr *const *rrs, size_t n, uint32_t incept,
			uint32_t expire)
{
	ldns_key_list *list = ldns_key_list_new();
	ldns_rr_list *set = ldns_rr_list_new(), *sigs;
	ldns_rr *sig;

	for (size_t i = 0; i < n; i++) {
		ldns_rr_list_push_rr(set, rrs[i]);
	}
	ldns_key_set_inception(key, incept);
	ldns_key_set_expiration(key, expire);
	ldns_key_list_push_key(list, key);
	sigs = ldns_sign_public(set, list);
	CU_ASSERT_FATAL(sigs != NULL && ldns_rr_list_rr_count(sigs) == 1);
	sig = ldns_rr_clone(ldns_rr_list_rr(sigs, 0));
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_free(set); /* the RRs are the caller's */
	ldns_key_list_set_key_count(list, 0);
	ldns_key_list_free(list);
	ldns_key_set_inception(key, T_INCEPT);
	ldns_key_set_expiration(key, T_EXPIRE);
	return sig;
}

static ldns_rr *sign(ldns_key *key, ldns_rr *const *rrs, size_t n)
{
	return sign_at(key, rrs, n, T_INCEPT, T_EXPIRE);
}

/* --- messages --- */

struct msg {
	uint8_t *b; /**< owned (ldns_pkt2wire's) */
	size_t len;
};

static ldns_pkt *pkt_new(const char *qname, ldns_rr_type qtype, ldns_pkt_rcode rcode)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();

	CU_ASSERT_FATAL(p != NULL && q != NULL);
	ldns_rr_set_owner(q, ldns_dname_new_frm_str(qname));
	ldns_rr_set_type(q, qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, true);
	ldns_pkt_set_cd(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, rcode);
	return p;
}

/* Push clones of the @n RRs @rrs to section @s of @p. */
static void pkt_rrs(ldns_pkt *p, ldns_pkt_section s, ldns_rr *const *rrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ldns_pkt_push_rr(p, s, ldns_rr_clone(rrs[i]));
	}
}

/* The RRset of the @n texts @texts in section @s of @p, with @key's RRSIG when @key is set. */
static void pkt_set(ldns_pkt *p, ldns_pkt_section s, ldns_key *key, const char *const *texts,
		    size_t n)
{
	ldns_rr *rrs[8];

	CU_ASSERT_FATAL(n <= 8);
	for (size_t i = 0; i < n; i++) {
		rrs[i] = rr_new(texts[i]);
	}
	pkt_rrs(p, s, rrs, n);
	if (key) {
		ldns_pkt_push_rr(p, s, sign(key, rrs, n));
	}
	for (size_t i = 0; i < n; i++) {
		ldns_rr_free(rrs[i]);
	}
}

static void pkt_one(ldns_pkt *p, ldns_pkt_section s, ldns_key *key, const char *text)
{
	pkt_set(p, s, key, &text, 1);
}

static struct msg pkt_done(ldns_pkt *p)
{
	struct msg m = {0};

	CU_ASSERT_FATAL(ldns_pkt2wire(&m.b, p, &m.len) == LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return m;
}

static void msg_free(struct msg *m)
{
	free(m->b);
	m->b = NULL;
}

/* A one-RRset answer for @qname/@qtype, signed by @key (unsigned when NULL). */
static struct msg answer(const char *qname, ldns_rr_type qtype, ldns_key *key, const char *text)
{
	ldns_pkt *p = pkt_new(qname, qtype, LDNS_RCODE_NOERROR);

	pkt_one(p, LDNS_SECTION_ANSWER, key, text);
	return pkt_done(p);
}

/* --- the world's answers to the validator's questions --- */

enum fault {
	F_NONE,
	F_FAIL,	      /* no answer at all: val_learn() with NULL */
	F_UNSIGNED,   /* the RRset without its RRSIG */
	F_WRONG_KEYS, /* a DNSKEY RRset whose keys its DS does not name */
	F_TRUNCATED,  /* the answer cut in the middle */
};

struct world {
	const char *fault_name; /* the question the fault applies to */
	uint16_t fault_type;
	enum fault fault;
	struct val_need asked[ASKED_MAX];
	size_t n_asked;
};

static void wire_text(const uint8_t *w, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t off = 0; off < len && w[off] != 0 && o + 2 < cap; off += 1 + (size_t)w[off]) {
		for (size_t i = 1; i <= w[off] && o + 2 < cap; i++) {
			out[o++] = (char)w[off + i];
		}
		out[o++] = '.';
	}
	if (o == 0) {
		out[o++] = '.';
	}
	out[o] = '\0';
}

static int zone_find(const char *name)
{
	for (int i = 0; i < Z_N; i++) {
		if (strcmp(zones[i].name, name) == 0) {
			return i;
		}
	}
	return -1;
}

static struct msg dnskey_answer(const char *name, int z, enum fault fault)
{
	ldns_pkt *p = pkt_new(name, LDNS_RR_TYPE_DNSKEY, LDNS_RCODE_NOERROR);
	ldns_rr *set[2] = {zones[z].ksk_rr, zones[z].zsk_rr};
	ldns_key *signer = zones[z].ksk;

	if (fault == F_WRONG_KEYS) {
		set[0] = rogue_rr;
		signer = rogue;
	}
	pkt_rrs(p, LDNS_SECTION_ANSWER, set, 2);
	if (fault != F_UNSIGNED) {
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, sign(signer, set, 2));
	}
	return pkt_done(p);
}

/*
 * The DS answer for @name: a DS RRset at each zone's cut; the signed NSEC at insecure.example.
 * (NS, no DS); and for other names of example. (between insecure.example. and www.example., as
 * the tests use them), or www.Z of each zone Z, a signed denial that shows no zone cut there.
 */
static struct msg ds_answer(const char *name, enum fault fault)
{
	static const char *const nsec_apex =
		"example. 3600 IN NSEC insecure.example. NS SOA RRSIG NSEC DNSKEY";
	static const char *const nsec_insecure =
		"insecure.example. 3600 IN NSEC www.example. NS RRSIG NSEC";
	int z = zone_find(name);
	ldns_pkt *p;
	char text[DNS_MAX_NAME * 8 + 64];

	if (z > 0) {
		ldns_rr *ds = ldns_key_rr2ds(zones[z].ksk_rr, LDNS_SHA256);

		p = pkt_new(name, LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
		pkt_rrs(p, LDNS_SECTION_ANSWER, &ds, 1);
		if (fault != F_UNSIGNED) {
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, sign(zones[Z_ROOT].zsk, &ds, 1));
		}
		ldns_rr_free(ds);
		return pkt_done(p);
	}
	if (strcmp(name, "insecure.example.") == 0) {
		p = pkt_new(name, LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
		pkt_one(p, LDNS_SECTION_AUTHORITY,
			fault == F_UNSIGNED ? NULL : zones[Z_EXAMPLE].zsk, nsec_insecure);
		return pkt_done(p);
	}
	if (strncmp(name, "www.", 4) == 0 && (z = zone_find(name + 4)) >= 0) {
		p = pkt_new(name, LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
		snprintf(text, sizeof(text), "%s 3600 IN NSEC %s A RRSIG NSEC", name, name + 4);
		pkt_one(p, LDNS_SECTION_AUTHORITY, zones[z].zsk, text);
		return pkt_done(p);
	}
	CU_ASSERT_FATAL(strlen(name) > 8 && strcmp(name + strlen(name) - 9, ".example.") == 0);
	p = pkt_new(name, LDNS_RR_TYPE_DS, LDNS_RCODE_NXDOMAIN);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk, nsec_apex);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk, nsec_insecure);
	return pkt_done(p);
}

/* Answer @need from the world into *@out; false for a failed fetch. */
static bool respond(struct world *w, const struct val_need *need, struct msg *out)
{
	enum fault fault = F_NONE;
	char name[DNS_MAX_NAME * 4];
	int z;

	wire_text(need->name, need->name_len, name, sizeof(name));
	if (w->fault_name && strcmp(name, w->fault_name) == 0 && need->qtype == w->fault_type) {
		fault = w->fault;
	}
	if (fault == F_FAIL) {
		return false;
	}
	if (need->qtype == DNS_TYPE_DNSKEY) {
		z = zone_find(name);
		CU_ASSERT_FATAL(z >= 0);
		*out = dnskey_answer(name, z, fault);
	} else {
		CU_ASSERT_FATAL(need->qtype == DNS_TYPE_DS);
		*out = ds_answer(name, fault);
	}
	if (fault == F_TRUNCATED) {
		out->len /= 2;
	}
	return true;
}

static const struct val_ctx ctx_default = {.now = T_NOW, .mono = T_MONO};

static struct val_ctx ctx_make(void)
{
	struct val_ctx ctx = ctx_default;

	world_init();
	ctx.anchors = anchors;
	return ctx;
}

/* Validate @m as query.c does: each need answered by the world and learnt, until a verdict. */
static struct val_result validate(struct world *w, struct val_cache *vc, const struct val_ctx *ctx,
				  const struct msg *m)
{
	struct val_result res = {.sec = VAL_BOGUS, .ede = -1};

	for (unsigned step = 0; step <= STEPS_MAX; step++) {
		struct val_need need;
		struct msg a = {0};
		bool got;
		int ret = val_answer(vc, ctx, m->b, m->len, &res, &need);

		if (ret == 0) {
			return res;
		}
		CU_ASSERT_EQUAL_FATAL(ret, 1);
		/* query.c gives up when the same question comes twice in a row. */
		if (w->n_asked > 0 && need.qtype == w->asked[w->n_asked - 1].qtype &&
		    need.name_len == w->asked[w->n_asked - 1].name_len &&
		    memcmp(need.name, w->asked[w->n_asked - 1].name, need.name_len) == 0) {
			CU_FAIL("the same question asked twice in a row");
			fprintf(stderr, "\nasked again: qtype %u after %zu questions\n", need.qtype,
				w->n_asked);
			return (struct val_result){.sec = VAL_BOGUS,
						   .ede = DNSSEC_EDE_DNSKEY_MISSING};
		}
		if (w->n_asked < ASKED_MAX) {
			w->asked[w->n_asked++] = need;
		}
		got = respond(w, &need, &a);
		CU_ASSERT_EQUAL(val_learn(vc, ctx, &need, got ? a.b : NULL, got ? a.len : 0), 0);
		msg_free(&a);
	}
	CU_FAIL("no verdict within the bound");
	return (struct val_result){.sec = VAL_BOGUS, .ede = -2};
}

static bool expect_at(const struct val_result *r, enum val_security sec, int ede, int line)
{
	if (r->sec != sec || r->ede != ede) {
		fprintf(stderr, "\nline %d: got sec %d ede %d (%s), want sec %d ede %d\n", line,
			r->sec, r->ede, r->why, sec, ede);
		return false;
	}
	return true;
}

/* The verdict is @sec with EDE @ede (-1: none). */
#define EXPECT(r, sec, ede) CU_ASSERT(expect_at(&(r), (sec), (ede), __LINE__))
/* The verdict is @sec, whatever the EDE. */
#define EXPECT_SEC(r, sec) CU_ASSERT(expect_at(&(r), (sec), (r).ede, __LINE__))

/* Whether the @i-th question asked was @name (text) of @qtype. */
static bool asked(const struct world *w, size_t i, const char *name, uint16_t qtype)
{
	char got[DNS_MAX_NAME * 4];

	if (i >= w->n_asked) {
		return false;
	}
	wire_text(w->asked[i].name, w->asked[i].name_len, got, sizeof(got));
	return strcmp(got, name) == 0 && w->asked[i].qtype == qtype;
}

/* Validate @m with a new zone cache and the world as it is (@fault on one question). */
static struct val_result validate_new(const struct val_ctx *ctx, const struct msg *m,
				      const char *fault_name, uint16_t fault_type, enum fault fault)
{
	struct world w = {.fault_name = fault_name, .fault_type = fault_type, .fault = fault};
	struct val_cache *vc = NULL;
	struct val_result r;

	CU_ASSERT_EQUAL_FATAL(val_cache_new(16, &vc), 0);
	r = validate(&w, vc, ctx, m);
	val_cache_free(vc);
	return r;
}

static struct val_result validate_one(const struct val_ctx *ctx, const struct msg *m)
{
	return validate_new(ctx, m, NULL, 0, F_NONE);
}

/* --- the cases --- */

static struct msg www_a(void)
{
	return answer("www.example.", LDNS_RR_TYPE_A, zones[Z_EXAMPLE].zsk,
		      "www.example. 300 IN A 192.0.2.1");
}

/* A signed A in a signed child of the anchored root. */
static void test_secure(void)
{
	struct val_ctx ctx = ctx_make();
	struct world w = {0};
	struct val_cache *vc = NULL;
	struct msg m = www_a(), m2;
	struct val_result r;

	CU_ASSERT_EQUAL_FATAL(val_cache_new(16, &vc), 0);
	r = validate(&w, vc, &ctx, &m);
	/* Secure, along root DNSKEY (the anchor) -> DS example. -> DNSKEY example. */
	EXPECT(r, VAL_SECURE, -1);
	/* Exactly those three questions, top down: the signer's zone is as far as it walks. */
	CU_ASSERT_EQUAL(w.n_asked, 3);
	CU_ASSERT(asked(&w, 0, ".", DNS_TYPE_DNSKEY));
	CU_ASSERT(asked(&w, 1, "example.", DNS_TYPE_DS));
	CU_ASSERT(asked(&w, 2, "example.", DNS_TYPE_DNSKEY));
	CU_ASSERT(val_cache_count(vc) >= 2);

	/* Another name in example.: the zone cache holds its keys, nothing is asked. */
	m2 = answer("mail.example.", LDNS_RR_TYPE_AAAA, zones[Z_EXAMPLE].zsk,
		    "mail.example. 300 IN AAAA 2001:db8::25");
	w.n_asked = 0;
	r = validate(&w, vc, &ctx, &m2);
	EXPECT(r, VAL_SECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 0);
	/* The same answer again: the same verdict, still nothing asked. */
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 0);
	CU_ASSERT(val_cache_bytes(vc) > 0);

	/* val_cache_clear() forgets it all: the three questions come again. */
	val_cache_clear(vc);
	CU_ASSERT_EQUAL(val_cache_count(vc), 0);
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 3);
	msg_free(&m);
	msg_free(&m2);
	val_cache_free(vc);
}

/* A signed NXDOMAIN and a signed wildcard expansion, with their NSEC proofs: secure. */
static void test_secure_denial(void)
{
	struct val_ctx ctx = ctx_make();
	static const char *const soa =
		"example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 300";
	ldns_pkt *p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	ldns_rr *wild[2];
	struct msg m;
	struct val_result r;

	/* NXDOMAIN: one NSEC covers nx.example., one covers *.example. (RFC 4035 §5.4). */
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk, soa);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"example. 3600 IN NSEC insecure.example. NS SOA RRSIG NSEC DNSKEY");
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"insecure.example. 3600 IN NSEC www.example. NS RRSIG NSEC");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	msg_free(&m);

	/* nx.example. from *.example. (RRSIG labels 1 under the owner's 2), nx.example. denied. */
	wild[0] = rr_new("*.example. 300 IN A 192.0.2.7");
	wild[1] = sign(zones[Z_EXAMPLE].zsk, wild, 1);
	for (size_t i = 0; i < 2; i++) {
		ldns_rdf_deep_free(ldns_rr_owner(wild[i]));
		ldns_rr_set_owner(wild[i], ldns_dname_new_frm_str("nx.example."));
	}
	p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, wild, 2);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"insecure.example. 3600 IN NSEC www.example. NS RRSIG NSEC");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	msg_free(&m);

	/* Adversarial: the same expansion without the NSEC proof (RFC 4035 §5.3.4): bogus. */
	p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, wild, 2);
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_NSEC_MISSING);
	msg_free(&m);

	/* Adversarial: with an NSEC that does not cover nx.example.: bogus too. */
	p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, wild, 2);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"www.example. 3600 IN NSEC example. A RRSIG NSEC");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_BOGUS);
	msg_free(&m);
	ldns_rr_free(wild[0]);
	ldns_rr_free(wild[1]);
}

/* An A RRset of @text signed by @key, then its address changed to 192.0.2.66. */
static struct msg forged(const char *qname, ldns_key *key, const char *text)
{
	ldns_rr *rrs[2];
	ldns_pkt *p;

	rrs[0] = rr_new(text);
	rrs[1] = sign(key, rrs, 1);
	ldns_rdf_deep_free(ldns_rr_pop_rdf(rrs[0]));
	ldns_rr_push_rdf(rrs[0], ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.66"));
	p = pkt_new(qname, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, rrs, 2);
	ldns_rr_free(rrs[0]);
	ldns_rr_free(rrs[1]);
	return pkt_done(p);
}

/* What a hostile upstream may send in place of a secure answer: each refused. */
static void test_adversarial(void)
{
	struct val_ctx ctx = ctx_make();
	ldns_rr *rrs[2];
	ldns_pkt *p;
	struct msg m;
	struct val_result r;
	struct world w = {0};
	struct val_cache *vc = NULL;

	/* The A with its RRSIG stripped, in a signed zone (RFC 4035 §5.3.3): EDE 10. */
	m = answer("www.example.", LDNS_RR_TYPE_A, NULL, "www.example. 300 IN A 192.0.2.1");
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	msg_free(&m);

	/* The address changed after signing: the signature does not verify, EDE 6. */
	m = forged("www.example.", zones[Z_EXAMPLE].zsk, "www.example. 300 IN A 192.0.2.1");
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_BOGUS);
	msg_free(&m);

	/* An RRSIG that expired before now: EDE 7. */
	rrs[0] = rr_new("www.example. 300 IN A 192.0.2.1");
	rrs[1] = sign_at(zones[Z_EXAMPLE].zsk, rrs, 1, T_INCEPT, T_NOW - 3600);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, rrs, 2);
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_EXPIRED);
	/* DNSSEC_NOW_UNSET: no dates are checked, and the expired answer validates. */
	ctx.now = DNSSEC_NOW_UNSET;
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	ctx.now = T_NOW;
	/* ... and so does it with now passed back inside its window. */
	ctx.now = T_NOW - 7200;
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	ctx.now = T_NOW;
	msg_free(&m);
	ldns_rr_free(rrs[1]);

	/* An RRSIG whose inception is still ahead: EDE 8. */
	rrs[1] = sign_at(zones[Z_EXAMPLE].zsk, rrs, 1, T_NOW + 3600, T_EXPIRE);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, rrs, 2);
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_NOT_YET_VALID);
	msg_free(&m);
	ldns_rr_free(rrs[1]);

	/* Signed by "other.", a zone not above www.example.: refused at once, nothing asked. */
	rrs[1] = sign(zones[Z_OTHER].zsk, rrs, 1);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pkt_rrs(p, LDNS_SECTION_ANSWER, rrs, 2);
	m = pkt_done(p);
	CU_ASSERT_EQUAL_FATAL(val_cache_new(16, &vc), 0);
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_BOGUS);
	CU_ASSERT_EQUAL(w.n_asked, 0);
	val_cache_free(vc);
	msg_free(&m);
	ldns_rr_free(rrs[1]);
	ldns_rr_free(rrs[0]);

	/* The DS RRset of example. unsigned in the signed root: the chain is bogus (EDE 10). */
	m = www_a();
	r = validate_new(&ctx, &m, "example.", DNS_TYPE_DS, F_UNSIGNED);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	/* A DNSKEY RRset of example. whose keys its DS does not name: EDE 9. */
	r = validate_new(&ctx, &m, "example.", DNS_TYPE_DNSKEY, F_WRONG_KEYS);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING);
	/* The DNSKEY RRset of example. with its RRSIG stripped: EDE 10. */
	r = validate_new(&ctx, &m, "example.", DNS_TYPE_DNSKEY, F_UNSIGNED);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	/* The root's DNSKEY RRset unsigned: the anchor authenticates nothing, EDE 10. */
	r = validate_new(&ctx, &m, ".", DNS_TYPE_DNSKEY, F_UNSIGNED);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	/* No answer to DNSKEY . (a timeout, SERVFAIL): bogus, EDE 9 (no key to be had). */
	r = validate_new(&ctx, &m, ".", DNS_TYPE_DNSKEY, F_FAIL);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING);
	/* No answer to DS example.: bogus too. */
	r = validate_new(&ctx, &m, "example.", DNS_TYPE_DS, F_FAIL);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING);
	/* A DNSKEY answer cut in half: malformed, the zone bogus (EDE 6). */
	r = validate_new(&ctx, &m, "example.", DNS_TYPE_DNSKEY, F_TRUNCATED);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_BOGUS);
	msg_free(&m);

	/* An NXDOMAIN in example. without any NSEC record: EDE 12. */
	p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 300");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_NSEC_MISSING);
	msg_free(&m);

	/* An NXDOMAIN whose signed NSEC covers another span (www.example. to the apex): EDE 6. */
	p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 300");
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"www.example. 3600 IN NSEC example. A RRSIG NSEC");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_BOGUS);
	msg_free(&m);

	/*
	 * An NXDOMAIN for nx.example., a name of the signed zone example., whose NSEC comes
	 * unsigned, owned by insecure.example. (below which unsigned data is insecure). A proof
	 * is judged by the name it denies, not its own owner: bogus, EDE 10. (Before the fix it
	 * was judged by its owner and counted as insecure.)
	 */
	p = pkt_new("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	pkt_one(p, LDNS_SECTION_AUTHORITY, zones[Z_EXAMPLE].zsk,
		"example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 300");
	pkt_one(p, LDNS_SECTION_AUTHORITY, NULL,
		"insecure.example. 3600 IN NSEC www.example. NS RRSIG NSEC");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	msg_free(&m);
	/*
	 * The downgrade that would allow: www.example. exists and is signed; a hostile upstream
	 * denies it with an unsigned NSEC owned by a name under insecure.example. (not even
	 * covering www.example.) and an unsigned SOA there. Refused: bogus.
	 */
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	pkt_one(p, LDNS_SECTION_AUTHORITY, NULL,
		"insecure.example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 300");
	pkt_one(p, LDNS_SECTION_AUTHORITY, NULL,
		"host.insecure.example. 3600 IN NSEC zzz.insecure.example. A RRSIG NSEC");
	m = pkt_done(p);
	r = validate_one(&ctx, &m);
	EXPECT_SEC(r, VAL_BOGUS);
	msg_free(&m);
}

/* Below a proven insecure delegation unsigned data is insecure; elsewhere it is bogus. */
static void test_insecure(void)
{
	struct val_ctx ctx = ctx_make();
	struct world w = {0};
	struct val_cache *vc = NULL;
	struct msg m;
	struct val_result r;

	/* host.insecure.example.: the signed NSEC at insecure.example. shows NS and no DS. */
	m = answer("host.insecure.example.", LDNS_RR_TYPE_A, NULL,
		   "host.insecure.example. 300 IN A 192.0.2.20");
	CU_ASSERT_EQUAL_FATAL(val_cache_new(16, &vc), 0);
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_INSECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 4);
	CU_ASSERT(asked(&w, 3, "insecure.example.", DNS_TYPE_DS));
	msg_free(&m);
	/* Deeper still, with the delegation known: insecure, nothing asked. */
	m = answer("a.b.insecure.example.", LDNS_RR_TYPE_TXT, NULL,
		   "a.b.insecure.example. 300 IN TXT \"unsigned\"");
	w.n_asked = 0;
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_INSECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 0);
	msg_free(&m);
	val_cache_free(vc);

	/* Adversarial: the same unsigned data claimed at plain.example., no delegation: EDE 10. */
	m = answer("plain.example.", LDNS_RR_TYPE_A, NULL, "plain.example. 300 IN A 192.0.2.20");
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	msg_free(&m);

	/*
	 * The NSEC at insecure.example. unsigned in the answer to DS insecure.example.: the
	 * parent's denial must verify with the parent's keys, so the zone is kept as bogus (EDE
	 * 10, an unsigned denial from a signed parent) and nothing is asked twice. (Before the
	 * fix the walk to the NSEC's owner needed this very DS again, and nothing was kept.)
	 */
	m = answer("host.insecure.example.", LDNS_RR_TYPE_A, NULL,
		   "host.insecure.example. 300 IN A 192.0.2.20");
	r = validate_new(&ctx, &m, "insecure.example.", DNS_TYPE_DS, F_UNSIGNED);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
	/* No answer to DS insecure.example.: bogus, not insecure. */
	r = validate_new(&ctx, &m, "insecure.example.", DNS_TYPE_DS, F_FAIL);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING);
	msg_free(&m);
}

/* Without an anchor nothing is secure; a negative trust anchor makes its zone insecure. */
static void test_no_anchor_nta(void)
{
	struct val_ctx ctx = ctx_make();
	struct config_nta nta = {.zone = (char *)"example.",
				 .zone_wire = (uint8_t *)"\7example",
				 .zone_wire_len = 9};
	struct world w = {0};
	struct val_cache *vc = NULL;
	struct msg good = www_a(), stripped = answer("www.example.", LDNS_RR_TYPE_A, NULL,
						     "www.example. 300 IN A 192.0.2.1");
	struct val_result r;

	CU_ASSERT_EQUAL_FATAL(val_cache_new(16, &vc), 0);
	/* ctx.anchors NULL: insecure, and nothing is asked. */
	ctx.anchors = NULL;
	r = validate(&w, vc, &ctx, &good);
	EXPECT(r, VAL_INSECURE, -1);
	r = validate(&w, vc, &ctx, &stripped);
	EXPECT(r, VAL_INSECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 0);

	/* An NTA for example. (RFC 7646): the answer and the bogus one are both insecure. */
	ctx.anchors = anchors;
	ctx.ntas = &nta;
	ctx.n_ntas = 1;
	r = validate(&w, vc, &ctx, &good);
	EXPECT(r, VAL_INSECURE, -1);
	r = validate(&w, vc, &ctx, &stripped);
	EXPECT(r, VAL_INSECURE, -1);
	CU_ASSERT_EQUAL(w.n_asked, 0);
	/* ... while other.'s names are still validated (the NTA covers example. only). */
	{
		struct msg o = answer("www.other.", LDNS_RR_TYPE_A, NULL,
				      "www.other. 300 IN A 192.0.2.30");

		r = validate(&w, vc, &ctx, &o);
		EXPECT(r, VAL_BOGUS, DNSSEC_EDE_RRSIGS_MISSING);
		msg_free(&o);
	}
	msg_free(&good);
	msg_free(&stripped);
	val_cache_free(vc);
}

/* A revoked key (RFC 5011 §2.1) signs nothing, even in its zone's validated DNSKEY RRset. */
static void test_revoked(void)
{
	struct val_ctx ctx = ctx_make();
	struct msg m;
	struct val_result r;

	/* revoked.'s ZSK (flags 384) is the only key that signed: bogus, no usable key. */
	m = answer("www.revoked.", LDNS_RR_TYPE_A, zones[Z_REVOKED].zsk,
		   "www.revoked. 300 IN A 192.0.2.40");
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING);
	msg_free(&m);
	/* The same zone's KSK signing it instead: secure (the zone itself is fine). */
	m = answer("www.revoked.", LDNS_RR_TYPE_A, zones[Z_REVOKED].ksk,
		   "www.revoked. 300 IN A 192.0.2.40");
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	msg_free(&m);
	/*
	 * revksk.'s KSK (flags 385) is the only key that signed its DNSKEY RRset, and the root's
	 * DS names it: the DNSKEY RRset does not validate, and the answer is bogus (EDE 9).
	 */
	m = answer("www.revksk.", LDNS_RR_TYPE_A, zones[Z_REVKSK].zsk,
		   "www.revksk. 300 IN A 192.0.2.41");
	r = validate_one(&ctx, &m);
	EXPECT(r, VAL_BOGUS, DNSSEC_EDE_DNSKEY_MISSING);
	msg_free(&m);
}

/* A zone cache of 2 zones across three zones: bounded, and the verdicts still right. */
static void test_cache_bound(void)
{
	static const int zs[] = {Z_EXAMPLE, Z_OTHER, Z_THIRD, Z_EXAMPLE, Z_OTHER};
	struct val_ctx ctx = ctx_make();
	struct world w = {0};
	struct val_cache *vc = NULL;
	struct val_result r;

	CU_ASSERT_EQUAL(val_cache_new(0, &vc), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(val_cache_new(2, &vc), 0);
	for (size_t i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
		char name[64], text[128];
		struct msg m;

		snprintf(name, sizeof(name), "www.%s", zones[zs[i]].name);
		snprintf(text, sizeof(text), "%s 300 IN A 192.0.2.%zu", name, 50 + i);
		m = answer(name, LDNS_RR_TYPE_A, zones[zs[i]].zsk, text);
		r = validate(&w, vc, &ctx, &m);
		EXPECT(r, VAL_SECURE, -1);
		CU_ASSERT(val_cache_count(vc) <= 2);
		msg_free(&m);
		/*
		 * A forged answer in between (signed, then its address changed): still bogus with
		 * the cache full. (A stripped one would need the walk down to www.Z too: three
		 * zone entries, more than this cache holds, and the walk would evict its own top.)
		 */
		m = forged(name, zones[zs[i]].zsk, text);
		r = validate(&w, vc, &ctx, &m);
		EXPECT(r, VAL_BOGUS, DNSSEC_EDE_BOGUS);
		CU_ASSERT(val_cache_count(vc) <= 2);
		msg_free(&m);
	}
	val_cache_free(vc);
	val_cache_free(NULL);
}

/* Malformed input is a bogus answer, never a crash nor a question. */
static void test_malformed(void)
{
	struct val_ctx ctx = ctx_make();
	struct world w = {0};
	struct val_cache *vc = NULL;
	struct msg m = www_a();
	struct val_need need;
	struct val_result r;
	uint8_t buf[600];
	unsigned seed = 12345;

	CU_ASSERT_EQUAL_FATAL(val_cache_new(16, &vc), 0);
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	/* Every cut of the secure answer short of its end: bogus, nothing asked. */
	for (size_t cut = 0; cut < m.len; cut++) {
		r.sec = VAL_SECURE;
		CU_ASSERT_EQUAL(val_answer(vc, &ctx, m.b, cut, &r, &need), 0);
		CU_ASSERT_EQUAL(r.sec, VAL_BOGUS);
	}
	/* Random bytes, with and without a valid header's counts: the same. */
	for (unsigned i = 0; i < 2000; i++) {
		size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));

		for (size_t j = 0; j < len; j++) {
			buf[j] = (uint8_t)rand_r(&seed);
		}
		r.sec = VAL_SECURE;
		CU_ASSERT_EQUAL(val_answer(vc, &ctx, buf, len, &r, &need), 0);
		CU_ASSERT_EQUAL(r.sec, VAL_BOGUS);
		/* As the answer to a question, too: no crash, no error. */
		need = (struct val_need){.name = "\7example", .name_len = 9, .qtype = DNS_TYPE_DS};
		CU_ASSERT_EQUAL(val_learn(vc, &ctx, &need, buf, len), 0);
	}
	/* The secure answer is still secure: those answers made example.'s DS bogus for a while.
	 */
	val_cache_clear(vc);
	r = validate(&w, vc, &ctx, &m);
	EXPECT(r, VAL_SECURE, -1);
	msg_free(&m);
	val_cache_free(vc);
}

static CU_TestInfo tests[] = {
	{"secure answer: the questions asked, the zone cache", test_secure},
	{"secure NXDOMAIN and wildcard; wildcard without proof", test_secure_denial},
	{"adversarial: stripped, altered, dates, signer, chain, denial", test_adversarial},
	{"insecure delegation; unsigned data in a signed zone", test_insecure},
	{"no trust anchor; negative trust anchor", test_no_anchor_nta},
	{"revoked key", test_revoked},
	{"zone cache bound", test_cache_bound},
	{"malformed input", test_malformed},
	CU_TEST_INFO_NULL,
};

int main(void)
{
	int ret = unit_run("validator", tests);

	world_free();
	return ret;
}
