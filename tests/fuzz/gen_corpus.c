/*
 * gen_corpus: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/), made with ldns so
 * that the seeds are well-formed messages the fuzzer then mutates. Run once when the targets
 * change; the output is committed.
 *
 * usage: fuzz_seeds DIR    (writes DIR/query, DIR/answer, DIR/frame, DIR/config)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

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

static void queries(void)
{
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
}

static void frames(void)
{
	uint8_t buf[1024], *wire = NULL;
	size_t len = 0, n = 0;
	ldns_pkt *p = pkt_new("www.example.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);

	ldns_pkt2wire(&wire, p, &len);
	buf[n++] = 3; /* four chunk sizes follow */
	buf[n++] = 0;
	buf[n++] = 1;
	buf[n++] = 5;
	buf[n++] = 40;
	for (int i = 0; i < 3 && n + 2 + len < sizeof(buf); i++) {
		buf[n++] = (uint8_t)(len >> 8);
		buf[n++] = (uint8_t)len;
		memcpy(buf + n, wire, len);
		n += len;
	}
	put("frame", "three", buf, n);
	buf[n++] = 0;
	buf[n++] = 0;
	put("frame", "zero-length", buf, n);
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
	return 0;
}
