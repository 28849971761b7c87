/*
 * gen_corpus: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/), made with ldns so
 * that the seeds are well-formed messages the fuzzer then mutates. Run once when the targets
 * change; the output is committed.
 *
 * usage: fuzz_seeds DIR    (writes DIR/query, DIR/answer, DIR/frame, DIR/config, DIR/cachefile,
 *                          DIR/validator)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stdbool.h> /* first: without it ldns/common.h makes bool a signed char */
#include <ldns/ldns.h>

#include "cache.h"

static const char *dir;

static void put(const char *kind, const char *name, const uint8_t *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, kind);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, kind, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static ldns_pkt *pkt_new(const char *name, ldns_rr_type type, ldns_rr_class cls)
{
	ldns_pkt *p = NULL;

	if (ldns_pkt_query_new_frm_str(&p, name, type, cls, LDNS_RD) != LDNS_STATUS_OK) {
		exit(1);
	}
	ldns_pkt_set_id(p, 0x4242);
	return p;
}

static void add(ldns_pkt *p, ldns_pkt_section s, const char *rr)
{
	ldns_rr *r = NULL;

	if (ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "bad rr %s\n", rr);
		exit(1);
	}
	ldns_pkt_push_rr(p, s, r);
}

/* Write @p as a seed; for answers, with the clock byte in front. */
static void emit(const char *kind, const char *name, ldns_pkt *p, int clock)
{
	uint8_t *wire = NULL, *buf;
	size_t len = 0;

	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK) {
		exit(1);
	}
	buf = malloc(len + 1);
	if (clock >= 0) {
		buf[0] = (uint8_t)clock;
		memcpy(buf + 1, wire, len);
		put(kind, name, buf, len + 1);
	} else {
		put(kind, name, wire, len);
	}
	free(buf);
	free(wire);
	ldns_pkt_free(p);
}

static void edns(ldns_pkt *p, uint16_t size, bool do_bit)
{
	ldns_pkt_set_edns_udp_size(p, size);
	ldns_pkt_set_edns_do(p, do_bit);
	p->_edns_present = true;
}

/* An EDNS option list for @p (code, length, data already in wire form). */
static void edns_data(ldns_pkt *p, const uint8_t *data, size_t len)
{
	ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, len, data));
}

static void queries(void)
{
	/* ECS 192.0.2.0/24 and a client cookie: options a client may send that we never pass. */
	static const uint8_t client_opts[] = {0,  8, 0, 7, 0, 1, 24, 0, 192, 0, 2, 0,
					      10, 0, 8, 1, 2, 3, 4,  5, 6,   7, 8};
	/* A query with QDCOUNT 0, and one with two OPT records (FORMERR). */
	static const uint8_t qd0[] = {0x42, 0x42, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t two_opt[] = {0x42, 0x42, 1, 0, 0,	1,  0,	0,  0, 0, 0, 2, 0,
					  0,	1,    0, 1, 0,	0,  41, 16, 0, 0, 0, 0, 0,
					  0,	0,    0, 0, 41, 16, 0,	0,  0, 0, 0, 0, 0};
	static const struct {
		const char *name;
		ldns_rr_type type;
	} qs[] = {{"www.example.", LDNS_RR_TYPE_A},
		  {"WwW.ExAmPlE.", LDNS_RR_TYPE_AAAA},
		  {"mail.example.", LDNS_RR_TYPE_MX},
		  {"txt.example.", LDNS_RR_TYPE_TXT},
		  {"example.", LDNS_RR_TYPE_ANY},
		  {"example.", LDNS_RR_TYPE_AXFR},
		  {"1.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR},
		  {".", LDNS_RR_TYPE_NS}};
	char name[64];
	ldns_pkt *p;

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		snprintf(name, sizeof(name), "q%zu", i);
		emit("query", name, pkt_new(qs[i].name, qs[i].type, LDNS_RR_CLASS_IN), -1);
		p = pkt_new(qs[i].name, qs[i].type, LDNS_RR_CLASS_IN);
		edns(p, 1232, i % 2);
		snprintf(name, sizeof(name), "q%zu-edns", i);
		emit("query", name, p, -1);
	}
	emit("query", "chaos", pkt_new("version.bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH), -1);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	ldns_pkt_set_edns_version(p, 1);
	edns(p, 4096, false);
	emit("query", "edns1", p, -1);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	ldns_pkt_set_rd(p, false);
	ldns_pkt_set_cd(p, true);
	emit("query", "norec-cd", p, -1);
	p = pkt_new("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
		    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
		    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
		    "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.",
		    LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	emit("query", "longest-name", p, -1);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	edns(p, 4096, true);
	edns_data(p, client_opts, sizeof(client_opts));
	emit("query", "ecs-cookie", p, -1);
	p = pkt_new("www.example.", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN);
	ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
	edns(p, 1232, false);
	emit("query", "notify", p, -1);
	p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
	edns(p, 100, true); /* below 512: counts as 512 */
	emit("query", "edns-small", p, -1);
	put("query", "qd0", qd0, sizeof(qd0));
	put("query", "two-opt", two_opt, sizeof(two_opt));
}

static ldns_pkt *answer(const char *name, ldns_rr_type type, ldns_pkt_rcode rcode)
{
	ldns_pkt *p = pkt_new(name, type, LDNS_RR_CLASS_IN);

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	return p;
}

static void answers(void)
{
	const char *soa = "example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 60";
	ldns_pkt *p;

	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "www.example. 300 IN A 192.0.2.80");
	emit("answer", "a", p, 0);
	p = answer("alias.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "alias.example. 300 IN CNAME www.example.");
	add(p, LDNS_SECTION_ANSWER, "www.example. 300 IN A 192.0.2.80");
	emit("answer", "cname", p, 1);
	p = answer("alias.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "www.example. 300 IN A 192.0.2.80");
	add(p, LDNS_SECTION_ANSWER, "victim.test. 300 IN A 6.6.6.6");
	add(p, LDNS_SECTION_ANSWER, "alias.example. 300 IN CNAME www.example.");
	add(p, LDNS_SECTION_ADDITIONAL, "other.test. 300 IN A 6.6.6.7");
	emit("answer", "cname-reversed-poisoned", p, 2);
	p = answer("nope.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	add(p, LDNS_SECTION_AUTHORITY, soa);
	emit("answer", "nxdomain", p, 3);
	p = answer("www.example.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_AUTHORITY, soa);
	edns(p, 1232, true);
	emit("answer", "nodata-edns", p, 10);
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL);
	emit("answer", "servfail", p, 200);
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	ldns_pkt_set_tc(p, true);
	emit("answer", "tc", p, 0);
	p = answer("big.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR);
	for (int i = 0; i < 8; i++) {
		char rr[400];

		snprintf(rr, sizeof(rr), "big.example. 300 IN TXT \"%02d%0200d\"", i, 0);
		add(p, LDNS_SECTION_ANSWER, rr);
	}
	edns(p, 4096, false);
	emit("answer", "big", p, 5);
	p = answer("www.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "www.example. 2147483648 IN AAAA 2001:db8::80");
	add(p, LDNS_SECTION_ANSWER, "www.example. 0 IN AAAA 2001:db8::81");
	emit("answer", "ttl-msb-zero", p, 255);
	{
		/* Extended DNS Error 23 (network error) with text, from the upstream. */
		static const uint8_t ede[] = {0, 15, 0, 6, 0, 23, 'f', 'u', 'z', 'z'};

		p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL);
		edns(p, 1232, false);
		edns_data(p, ede, sizeof(ede));
		emit("answer", "servfail-ede", p, 6);
	}
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	edns(p, 1232, false);
	ldns_pkt_set_edns_extended_rcode(p, 1); /* BADVERS */
	emit("answer", "ext-rcode", p, 0);
	p = answer("a.alias.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "alias.example. 300 IN DNAME www.example.");
	add(p, LDNS_SECTION_ANSWER, "a.alias.example. 300 IN CNAME a.www.example.");
	add(p, LDNS_SECTION_ANSWER, "a.www.example. 300 IN A 192.0.2.81");
	emit("answer", "dname", p, 1);
	p = answer("alias.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "alias.example. 300 IN CNAME www.example.");
	add(p, LDNS_SECTION_ANSWER,
	    "alias.example. 300 IN RRSIG CNAME 13 2 300 20300101000000 "
	    "20200101000000 12345 example. AAAA");
	add(p, LDNS_SECTION_ANSWER, "www.example. 300 IN AAAA 2001:db8::80");
	add(p, LDNS_SECTION_ANSWER,
	    "www.example. 300 IN RRSIG AAAA 13 2 300 20300101000000 "
	    "20200101000000 12345 example. AAAA");
	add(p, LDNS_SECTION_AUTHORITY, "example. 300 IN NS ns.example.");
	add(p, LDNS_SECTION_ADDITIONAL, "ns.example. 300 IN A 192.0.2.53");
	edns(p, 1232, true);
	emit("answer", "cname-rrsig-do", p, 2);
	p = answer("www.example.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "www.example. 60 IN MX 10 mail.example.");
	add(p, LDNS_SECTION_ADDITIONAL, "mail.example. 60 IN A 192.0.2.25");
	emit("answer", "mx-then-stale", p, 230); /* 31 hours on: older entries stale or gone */
}

/* A fuzz_frame seed: the control byte, the chunk sizes, then the stream. */
static void frame_seed(const char *name, uint8_t ctl, const uint8_t *sizes, size_t n_sizes,
		       const uint8_t *stream, size_t len)
{
	uint8_t buf[2048];

	buf[0] = (uint8_t)(ctl | (n_sizes - 1));
	memcpy(buf + 1, sizes, n_sizes);
	memcpy(buf + 1 + n_sizes, stream, len);
	put("frame", name, buf, 1 + n_sizes + len);
}

static void frames(void)
{
	static const uint8_t sizes[] = {0, 1, 5, 40}, drip[] = {0}, large[] = {1, 0};
	/*
	 * Expanded: a 65535-octet message of 'A', one of 512 octets of a pattern, and a zero
	 * length; then in large chunks, two largest messages back to back.
	 */
	static const uint8_t expand[] = {0xff, 0xff, 1, 'A', 2, 0, 3, 1, 2, 3, 0, 0, 0};
	static const uint8_t expand_large[] = {0xff, 0xff, 0, 0xff, 0xff, 0};
	uint8_t stream[1024], *wire = NULL;
	size_t len = 0, n = 0;
	ldns_pkt *p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);

	ldns_pkt2wire(&wire, p, &len);
	for (int i = 0; i < 3 && n + 2 + len < sizeof(stream); i++) {
		stream[n++] = (uint8_t)(len >> 8);
		stream[n++] = (uint8_t)len;
		memcpy(stream + n, wire, len);
		n += len;
	}
	frame_seed("three", 0, sizes, sizeof(sizes), stream, n);
	frame_seed("drip", 0, drip, sizeof(drip), stream, n);
	frame_seed("large-chunks", 0x20, large, sizeof(large), stream, n);
	stream[n++] = 0;
	stream[n++] = 0;
	frame_seed("zero-length", 0, sizes, sizeof(sizes), stream, n);
	frame_seed("expand", 0x10, sizes, 2, expand, sizeof(expand));
	frame_seed("expand-large", 0x30, drip, sizeof(drip), expand_large, sizeof(expand_large));
	free(wire);
	ldns_pkt_free(p);
}

static void configs(void)
{
	static const char *const texts[] = {
		"listen_addresses: [127.0.0.1@5300, 0::1]\n"
		"upstream_recursive_servers:\n"
		"  - address_data: 127.0.0.1\n"
		"    tls_port: 8853\n"
		"    tls_auth_name: \"dot.test\"\n"
		"    tls_pubkey_pinset:\n"
		"      - digest: \"sha256\"\n"
		"        value: 6Ch96RUfGi2jCcfamYKZVs698yZRhZuT8PMoO9UB48k=\n",
		"resolution_type: GETDNS_RESOLUTION_STUB\n"
		"dns_transport_list: [GETDNS_TRANSPORT_TLS]\n"
		"tls_authentication: GETDNS_AUTHENTICATION_NONE\n"
		"round_robin_upstreams: 0\nidle_timeout: 9000\ntimeout: 3000\n"
		"tls_min_version: GETDNS_TLS1_3\nlog_level: 7\n"
		"access_control: [10.0.0.0/8, fd00::/8]\ncache_size: 0\n"
		"upstream_recursive_servers:\n  - address_data: 2620:fe::fe\n",
		"limit_outstanding_queries: 0\nconnections_per_upstream: 3\n"
		"upstream_selection: fastest\ntimeout_per_try: 500\ntcp_clients_max: 4\n"
		"upstream_recursive_servers:\n  - {address_data: 9.9.9.9, tls_auth_name: "
		"dns.quad9.net}\n",
	};
	char name[32];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(name, sizeof(name), "c%zu.yml", i);
		put("config", name, (const uint8_t *)texts[i], strlen(texts[i]));
	}
}

/* --- cache files: dumps of a cache holding a few answers, with fuzz_cachefile's control byte ---
 */

static uint64_t seed_clock_ms = 1000000;

static uint64_t seed_now(void *arg)
{
	(void)arg;
	return seed_clock_ms;
}

struct seed_sink {
	uint8_t buf[8192];
	size_t len;
};

static int seed_write(void *arg, const void *buf, size_t len)
{
	struct seed_sink *s = arg;

	if (1 + s->len + len > sizeof(s->buf)) {
		return -1;
	}
	memcpy(s->buf + 1 + s->len, buf, len);
	s->len += len;
	return 0;
}

/* Store @p (freed) in @c as the answer to its own question, asked with @do_bit. */
static void seed_store(struct cache *c, ldns_pkt *p, bool do_bit, bool edns)
{
	uint8_t *wire = NULL;
	struct dns_question q;
	struct dns_opt opt;
	struct cache_key k;
	size_t len = 0;

	if (edns) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, do_bit);
		p->_edns_present = true;
	}
	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK ||
	    dns_question_parse(wire, len, &q) != 0 || dns_opt_find(wire, len, &opt) != 0) {
		exit(1);
	}
	cache_key_make(c, wire, &q, do_bit, &k);
	if (cache_insert(c, &k, wire, len, &opt) != 1) {
		fprintf(stderr, "seed answer not cached\n");
		exit(1);
	}
	free(wire);
	ldns_pkt_free(p);
}

static void cache_seed(const char *name, uint8_t ctl, const struct cache *c)
{
	static struct seed_sink s;

	s.len = 0;
	if (cache_dump(c, 1700000000, seed_write, &s, NULL) != 0) {
		exit(1);
	}
	s.buf[0] = ctl;
	put("cachefile", name, s.buf, s.len + 1);
}

static void cachefiles(void)
{
	struct cache_params cp = {.max_bytes = 1 << 20,
				  .max_ttl = 86400,
				  .max_neg_ttl = 3600,
				  .stale_max = 86400,
				  .now = seed_now};
	struct cache *c = NULL;
	ldns_pkt *p;

	if (cache_new(&cp, &c) != 0) {
		exit(1);
	}
	cache_seed("empty", 0, c);
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "www.example. 300 IN A 192.0.2.80");
	seed_store(c, p, false, false);
	cache_seed("one", 0, c);
	p = answer("Alias.Example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "alias.example. 600 IN CNAME www.example.");
	add(p, LDNS_SECTION_ANSWER, "www.example. 600 IN AAAA 2001:db8::80");
	seed_store(c, p, true, true);
	p = answer("nope.example.", LDNS_RR_TYPE_MX, LDNS_RCODE_NXDOMAIN);
	add(p, LDNS_SECTION_AUTHORITY,
	    "example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 60");
	seed_store(c, p, false, true);
	p = answer("old.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(p, LDNS_SECTION_ANSWER, "old.example. 5 IN A 192.0.2.5");
	seed_store(c, p, false, false);
	seed_clock_ms += 10000; /* "old" is stale */
	cache_seed("four", 0, c);
	cache_seed("four-aged-small", 0x04 | 0x08 | 0x20, c);
	cache_seed("four-future-minttl", 0x1c | 0x40, c);
	cache_seed("four-fix-sums", 0x03, c);
	cache_free(c);
}

/* --- validator: answers and the DS and DNSKEY answers they need, [length:2][message] each --- */

/*
 * The root KSK of the validator seeds. tests/fuzz/fuzz_validator.c trusts its DNSKEY
 * (". DNSKEY 257 3 13 i3uuZOXC...", key tag 36113): change both together.
 */
static const char root_private[] = "Private-key-format: v1.2\n"
				   "Algorithm: 13 (ECDSAP256SHA256)\n"
				   "PrivateKey: GyDB33XwZPdvwmzZVxA9dq6m6+jhLTUnKPPhj2IV9WI=\n";

#define V_INCEPT 1700000000u /* fuzz_validator's clock is 1800000000 */
#define V_EXPIRE 1900000000u

struct seq {
	uint8_t b[32768];
	size_t len;
};

struct vkeys {
	ldns_key *ksk, *zsk;
	ldns_rr *ksk_rr, *zsk_rr;
};

static ldns_key *vkey_setup(ldns_key *k, const char *zone, uint16_t flags, ldns_rr **rr)
{
	if (!k) {
		exit(1);
	}
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(zone));
	ldns_key_set_flags(k, flags);
	ldns_key_set_inception(k, V_INCEPT);
	ldns_key_set_expiration(k, V_EXPIRE);
	*rr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(*rr));
	return k;
}

/* @zone's keys: new ones, or for the root the fixed KSK above. */
static void vkeys_new(struct vkeys *z, const char *zone)
{
	ldns_key *ksk = NULL;

	if (strcmp(zone, ".") == 0) {
		FILE *f = fmemopen((void *)root_private, strlen(root_private), "r");

		if (!f || ldns_key_new_frm_fp(&ksk, f) != LDNS_STATUS_OK) {
			exit(1);
		}
		fclose(f);
	} else {
		ksk = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	}
	z->ksk = vkey_setup(ksk, zone, 257, &z->ksk_rr);
	z->zsk = vkey_setup(ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256), zone, 256,
			    &z->zsk_rr);
}

static void vkeys_free(struct vkeys *z)
{
	ldns_key_deep_free(z->ksk);
	ldns_key_deep_free(z->zsk);
	ldns_rr_free(z->ksk_rr);
	ldns_rr_free(z->zsk_rr);
}

/* Push clones of the @n RRs @rrs to @s of @p, and @key's RRSIG over them when @key is set. */
static void vpush(ldns_pkt *p, ldns_pkt_section s, ldns_key *key, ldns_rr *const *rrs, size_t n)
{
	ldns_rr_list *set = ldns_rr_list_new();

	for (size_t i = 0; i < n; i++) {
		ldns_pkt_push_rr(p, s, ldns_rr_clone(rrs[i]));
		ldns_rr_list_push_rr(set, rrs[i]);
	}
	if (key) {
		ldns_key_list *keys = ldns_key_list_new();
		ldns_rr_list *sigs;

		ldns_key_list_push_key(keys, key);
		sigs = ldns_sign_public(set, keys);
		if (!sigs || ldns_rr_list_rr_count(sigs) != 1) {
			exit(1);
		}
		ldns_pkt_push_rr(p, s, ldns_rr_clone(ldns_rr_list_rr(sigs, 0)));
		ldns_rr_list_deep_free(sigs);
		ldns_key_list_set_key_count(keys, 0);
		ldns_key_list_free(keys);
	}
	ldns_rr_list_free(set);
}

/* The RR of @text, and @key's RRSIG over it, in @s of @p. */
static void vtext(ldns_pkt *p, ldns_pkt_section s, ldns_key *key, const char *text)
{
	ldns_rr *r = NULL;

	if (ldns_rr_new_frm_str(&r, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "bad rr %s\n", text);
		exit(1);
	}
	vpush(p, s, key, &r, 1);
	ldns_rr_free(r);
}

/* Append @p to @q as [length:2][message]. */
static void seq_add(struct seq *q, ldns_pkt *p)
{
	uint8_t *wire = NULL;
	size_t len = 0;

	ldns_pkt_set_cd(p, true);
	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK || q->len + 2 + len > sizeof(q->b)) {
		exit(1);
	}
	q->b[q->len++] = (uint8_t)(len >> 8);
	q->b[q->len++] = (uint8_t)len;
	memcpy(q->b + q->len, wire, len);
	q->len += len;
	free(wire);
	ldns_pkt_free(p);
}

/* The DS answer of @name (signed by @parent) when @parent is set, then its DNSKEY answer. */
static void seq_zone(struct seq *q, const char *name, const struct vkeys *z,
		     const struct vkeys *parent)
{
	ldns_rr *keys[2] = {z->ksk_rr, z->zsk_rr};
	ldns_pkt *p;

	if (parent) {
		ldns_rr *ds = ldns_key_rr2ds(z->ksk_rr, LDNS_SHA256);

		p = answer(name, LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
		vpush(p, LDNS_SECTION_ANSWER, parent->zsk, &ds, 1);
		seq_add(q, p);
		ldns_rr_free(ds);
	}
	p = answer(name, LDNS_RR_TYPE_DNSKEY, LDNS_RCODE_NOERROR);
	vpush(p, LDNS_SECTION_ANSWER, z->ksk, keys, 2);
	seq_add(q, p);
}

static void validators(void)
{
	static const char *const soa =
		"example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 300";
	static const char *const nsec_apex =
		"example. 3600 IN NSEC insecure.example. NS SOA RRSIG NSEC DNSKEY";
	static const char *const nsec_insecure =
		"insecure.example. 3600 IN NSEC www.example. NS RRSIG NSEC";
	struct vkeys root, ex;
	struct seq *q = malloc(sizeof(*q));
	size_t base;
	ldns_pkt *p;

	if (!q) {
		exit(1);
	}
	vkeys_new(&root, ".");
	vkeys_new(&ex, "example.");
	/* The chain every seed starts with: DNSKEY ., DS example., DNSKEY example. */
	q->len = 0;
	seq_zone(q, ".", &root, NULL);
	seq_zone(q, "example.", &ex, &root);
	base = q->len;

	/* A signed A: secure. */
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_ANSWER, ex.zsk, "www.example. 300 IN A 192.0.2.1");
	seq_add(q, p);
	put("validator", "secure-a", q->b, q->len);

	/* A signed NXDOMAIN with its two NSEC records: secure. */
	q->len = base;
	p = answer("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	vtext(p, LDNS_SECTION_AUTHORITY, ex.zsk, soa);
	vtext(p, LDNS_SECTION_AUTHORITY, ex.zsk, nsec_apex);
	vtext(p, LDNS_SECTION_AUTHORITY, ex.zsk, nsec_insecure);
	seq_add(q, p);
	put("validator", "secure-nxdomain", q->b, q->len);

	/* A CNAME to a signed AAAA, both signed. */
	q->len = base;
	p = answer("alias.example.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_ANSWER, ex.zsk, "alias.example. 300 IN CNAME www.example.");
	vtext(p, LDNS_SECTION_ANSWER, ex.zsk, "www.example. 300 IN AAAA 2001:db8::1");
	seq_add(q, p);
	put("validator", "secure-cname", q->b, q->len);

	/* Unsigned data under the insecure delegation: DS insecure.example. is its NSEC. */
	q->len = base;
	p = answer("insecure.example.", LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_AUTHORITY, ex.zsk, nsec_insecure);
	seq_add(q, p);
	p = answer("host.insecure.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_ANSWER, NULL, "host.insecure.example. 300 IN A 192.0.2.20");
	seq_add(q, p);
	put("validator", "insecure-a", q->b, q->len);

	/* The A stripped of its RRSIG: DS www.example. is a signed NSEC, the answer bogus. */
	q->len = base;
	p = answer("www.example.", LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_AUTHORITY, ex.zsk, "www.example. 3600 IN NSEC example. A RRSIG NSEC");
	seq_add(q, p);
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_ANSWER, NULL, "www.example. 300 IN A 192.0.2.1");
	seq_add(q, p);
	put("validator", "bogus-stripped", q->b, q->len);

	/* A wildcard expansion with the NSEC that denies the name: secure. */
	q->len = base;
	{
		ldns_pkt *w = answer("*.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
		ldns_rr_list *an;

		vtext(w, LDNS_SECTION_ANSWER, ex.zsk, "*.example. 300 IN A 192.0.2.7");
		an = ldns_pkt_answer(w);
		p = answer("nx.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *r = ldns_rr_clone(ldns_rr_list_rr(an, i));

			ldns_rdf_deep_free(ldns_rr_owner(r));
			ldns_rr_set_owner(r, ldns_dname_new_frm_str("nx.example."));
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r);
		}
		ldns_pkt_free(w);
		vtext(p, LDNS_SECTION_AUTHORITY, ex.zsk, nsec_insecure);
		seq_add(q, p);
	}
	put("validator", "secure-wildcard", q->b, q->len);

	/* The chain alone, the A last: DNSKEY . asked and answered, the rest left unanswered. */
	q->len = 0;
	seq_zone(q, ".", &root, NULL);
	p = answer("www.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	vtext(p, LDNS_SECTION_ANSWER, ex.zsk, "www.example. 300 IN A 192.0.2.1");
	seq_add(q, p);
	put("validator", "fetch-failed", q->b, q->len);

	vkeys_free(&root);
	vkeys_free(&ex);
	free(q);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);
	queries();
	answers();
	frames();
	configs();
	cachefiles();
	validators();
	return 0;
}
