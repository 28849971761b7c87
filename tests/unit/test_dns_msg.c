/*
 * test_dns_msg: the messages dotd builds (resolver/dns_msg.c). Queries are made with ldns, an
 * independent encoder, and answers are checked with ldns's parser, so that a mistake shared by
 * our reader and our writer cannot hide.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h> /* first: without it ldns/common.h makes bool a signed char */
#include <ldns/ldns.h>

#include "dns_msg.h"
#include "unit.h"

struct wire {
	uint8_t *buf;
	size_t len;
};

/* A query for @name/@type, ID 0xbeef, RD set; EDNS with @udp_size when non-zero. */
static struct wire make_query(const char *name, ldns_rr_type type, uint16_t udp_size, bool do_bit)
{
	ldns_pkt *pkt = NULL;
	struct wire w = {0};

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&pkt, name, type, LDNS_RR_CLASS_IN, LDNS_RD) ==
			LDNS_STATUS_OK);
	ldns_pkt_set_id(pkt, 0xbeef);
	if (udp_size) {
		ldns_pkt_set_edns_udp_size(pkt, udp_size);
		ldns_pkt_set_edns_do(pkt, do_bit);
		pkt->_edns_present = true;
	}
	CU_ASSERT_FATAL(ldns_pkt2wire(&w.buf, pkt, &w.len) == LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	return w;
}

static ldns_pkt *parse(const uint8_t *m, size_t len)
{
	ldns_pkt *pkt = NULL;

	CU_ASSERT_FATAL(ldns_wire2pkt(&pkt, m, len) == LDNS_STATUS_OK);
	return pkt;
}

static void test_check_query(void)
{
	struct wire w = make_query("www.example.", LDNS_RR_TYPE_A, 0, false);
	struct dns_client_query cq;
	unsigned rcode = 99;

	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_FALSE(cq.has_opt);
	CU_ASSERT_EQUAL(cq.q.qtype, DNS_TYPE_A);
	/* Shorter than a header: silence. */
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, 11, &cq, &rcode), DNS_CHECK_DROP);
	/* QR set: an answer, never answered. */
	w.buf[2] |= 0x80;
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_DROP);
	w.buf[2] &= 0x7f;
	/* Opcode STATUS (2): NOTIMP. */
	w.buf[2] |= 2 << 3;
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL(rcode, DNS_RCODE_NOTIMP);
	w.buf[2] &= ~(0xf << 3);
	/* QDCOUNT 2: FORMERR. */
	dns_put16(w.buf + 4, 2);
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL(rcode, DNS_RCODE_FORMERR);
	free(w.buf);

	w = make_query("example.", LDNS_RR_TYPE_AXFR, 0, false);
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL(rcode, DNS_RCODE_NOTIMP);
	free(w.buf);

	/* EDNS version 1: BADVERS (RFC 6891 §6.1.3). */
	w = make_query("example.", LDNS_RR_TYPE_A, 1232, true);
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_TRUE(cq.has_opt);
	CU_ASSERT_TRUE(cq.do_bit);
	CU_ASSERT_EQUAL(cq.udp_size, 1232);
	w.buf[w.len - 11 + 6] = 1; /* the OPT is last: its TTL's second byte is the version */
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL(rcode, DNS_RCODE_BADVERS);
	free(w.buf);

	/*
	 * Bytes after the last record are ignored, as Unbound, Stubby and dnsdist do: the
	 * message is what the header counts.
	 */
	w = make_query("www.example.", LDNS_RR_TYPE_A, 1232, false);
	{
		uint8_t *longer = malloc(w.len + 7);

		memcpy(longer, w.buf, w.len);
		memcpy(longer + w.len, "trailer", 7);
		CU_ASSERT_EQUAL(dns_msg_check_query(longer, w.len + 7, &cq, &rcode), DNS_CHECK_OK);
		CU_ASSERT_EQUAL(cq.len, w.len);
		CU_ASSERT_TRUE(cq.has_opt);
		/* ... but a record that runs past the end is still FORMERR. */
		dns_put16(longer + 10, 2);
		CU_ASSERT_EQUAL(dns_msg_check_query(longer, w.len + 7, &cq, &rcode),
				DNS_CHECK_ANSWER);
		CU_ASSERT_EQUAL(rcode, DNS_RCODE_FORMERR);
		free(longer);
	}
	free(w.buf);

	/* CHAOS class: never forwarded. */
	w = make_query("version.bind.", LDNS_RR_TYPE_TXT, 0, false);
	dns_put16(w.buf + w.len - 2, DNS_CLASS_CH);
	CU_ASSERT_EQUAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL(rcode, DNS_RCODE_REFUSED);
	free(w.buf);
}

/* Upstream queries are padded to whole blocks for names of every length (RFC 8467 §4.1). */
static void test_upstream_padding(void)
{
	struct dns_upstream_opts o = {
		.padding_blocksize = 128, .ecs_private = true, .keepalive = true};
	char name[300];

	for (size_t labels = 1; labels <= 4; labels++) {
		for (size_t l = 1; l <= 63; l += 7) {
			struct wire w;
			struct dns_client_query cq;
			unsigned rcode;
			uint8_t out[1024];
			size_t out_len, n = 0;

			for (size_t i = 0; i < labels; i++) {
				memset(name + n, 'a' + (char)i, l);
				n += l;
				name[n++] = '.';
			}
			name[n] = 0;
			w = make_query(name, LDNS_RR_TYPE_A, 4096, true);
			CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(w.buf, w.len, &cq, &rcode),
					      DNS_CHECK_OK);
			CU_ASSERT_EQUAL_FATAL(
				dns_msg_upstream_query(&cq, &o, out, sizeof(out), &out_len), 0);
			/* The prefix says the message length, which fills whole blocks. */
			CU_ASSERT_EQUAL(dns_get16(out), out_len - 2);
			CU_ASSERT_EQUAL((out_len - 2) % 128, 0);

			ldns_pkt *p = parse(out + 2, out_len - 2);
			CU_ASSERT_TRUE(ldns_pkt_rd(p));
			CU_ASSERT_TRUE(ldns_pkt_edns_do(p));
			CU_ASSERT_EQUAL(ldns_pkt_qdcount(p), 1);

			struct dns_opt opt;
			size_t off;
			uint16_t olen;
			CU_ASSERT_EQUAL(dns_opt_find(out + 2, out_len - 2, &opt), 0);
			CU_ASSERT_EQUAL(dns_opt_option(out + 2, &opt, DNS_OPT_ECS, &off, &olen), 0);
			CU_ASSERT_EQUAL(olen, 4);
			CU_ASSERT_EQUAL(out[2 + off + 2], 0); /* source prefix 0 */
			/* RFC 7828 §3.2.1: a client's keepalive option is empty. */
			CU_ASSERT_EQUAL(
				dns_opt_option(out + 2, &opt, DNS_OPT_KEEPALIVE, &off, &olen), 0);
			CU_ASSERT_EQUAL(olen, 0);
			CU_ASSERT_EQUAL(dns_opt_option(out + 2, &opt, DNS_OPT_PADDING, &off, &olen),
					0);
			/* Padding is the last option (RFC 7830 §3). */
			CU_ASSERT_EQUAL(off + olen, opt.rdata_off + opt.rdlen);
			ldns_pkt_free(p);
			free(w.buf);
		}
	}
}

/*
 * dns_msg_upstream_query_len() is what dns_msg_upstream_query() writes, to the octet: a query
 * is allocated to that length (query_start), so one octet short must not fit.
 */
static void test_upstream_query_len(void)
{
	static const unsigned blocks[] = {0, 2, 128, 468, 4096, 65535};
	static const char *names[] = {".", "www.example.",
				      "a-rather-longer-label.and.more.example.", NULL};
	char longest[300];
	size_t n = 0;

	for (int i = 0; i < 4; i++) { /* 4 labels of 62: a name of 253 octets and the root */
		memset(longest + n, 'x', 62);
		n += 62;
		longest[n++] = '.';
	}
	longest[n] = 0;
	names[3] = longest;
	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		for (unsigned flags = 0; flags < 8; flags++) {
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				struct dns_upstream_opts o = {.padding_blocksize = blocks[b],
							      .ecs_private = (flags & 1) != 0,
							      .keepalive = (flags & 2) != 0,
							      .validate = (flags & 4) != 0};
				struct wire w = make_query(names[i], LDNS_RR_TYPE_AAAA, 1232, true);
				uint8_t *out = malloc(2 + 65536);
				struct dns_client_query cq;
				unsigned rcode;
				size_t len, out_len = 0;

				CU_ASSERT_EQUAL_FATAL(
					dns_msg_check_query(w.buf, w.len, &cq, &rcode),
					DNS_CHECK_OK);
				len = dns_msg_upstream_query_len(&cq, &o);
				CU_ASSERT_TRUE(len > 2);
				CU_ASSERT_EQUAL(
					dns_msg_upstream_query(&cq, &o, out, len - 1, &out_len),
					-ENOSPC);
				CU_ASSERT_EQUAL(dns_msg_upstream_query(&cq, &o, out, len, &out_len),
						0);
				CU_ASSERT_EQUAL(out_len, len);
				CU_ASSERT_EQUAL(dns_get16(out), len - 2);
				if (blocks[b] > 0) {
					CU_ASSERT_EQUAL((len - 2) % blocks[b], 0);
				}
				free(out);
				free(w.buf);
			}
		}
	}
}

/* The client's own options (ECS with its subnet, cookies) never reach the upstream. */
static void test_upstream_strips_client_options(void)
{
	struct dns_upstream_opts o = {.padding_blocksize = 0, .ecs_private = false};
	struct wire w = make_query("www.example.", LDNS_RR_TYPE_A, 1232, false);
	uint8_t *q = malloc(w.len + 12);
	uint8_t out[512];
	struct dns_client_query cq;
	struct dns_opt opt;
	unsigned rcode;
	size_t out_len, off;
	uint16_t olen;

	/* Append an ECS option for 192.0.2.0/24 to the client's OPT. */
	memcpy(q, w.buf, w.len);
	memcpy(q + w.len, "\x00\x08\x00\x07\x00\x01\x18\x00\xc0\x00\x02", 11);
	dns_put16(q + w.len - 2, 11);
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q, w.len + 11, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_msg_upstream_query(&cq, &o, out, sizeof(out), &out_len), 0);
	CU_ASSERT_EQUAL(dns_opt_find(out + 2, out_len - 2, &opt), 0);
	CU_ASSERT_TRUE(opt.present);
	CU_ASSERT_EQUAL(dns_opt_option(out + 2, &opt, DNS_OPT_ECS, &off, &olen), -ENOENT);
	CU_ASSERT_EQUAL(opt.rdlen, 0);
	free(q);
	free(w.buf);
}

/* An upstream answer to www.example A with OPT (padding) and @n_a A records. */
static struct wire make_answer(size_t n_a, bool opt_last)
{
	ldns_pkt *pkt = NULL;
	struct wire w = {0};
	char rr[128];

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&pkt, "www.example.", LDNS_RR_TYPE_A,
						   LDNS_RR_CLASS_IN, LDNS_RD) == LDNS_STATUS_OK);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_ra(pkt, true);
	ldns_pkt_set_aa(pkt, true); /* as an authoritative upstream (unbound's local zones) says */
	ldns_pkt_set_id(pkt, 0x1111);
	for (size_t i = 0; i < n_a; i++) {
		ldns_rr *r = NULL;

		snprintf(rr, sizeof(rr), "www.example. 300 IN A 192.0.2.%zu", i % 250);
		CU_ASSERT_FATAL(ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL) == LDNS_STATUS_OK);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, r);
	}
	ldns_pkt_set_edns_udp_size(pkt, 1232);
	/* An Extended DNS Error 17 (Filtered) in the OPT: options to carry, or to free. */
	ldns_pkt_set_edns_data(
		pkt, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, 6, "\x00\x0f\x00\x02\x00\x11"));
	pkt->_edns_present = true;
	CU_ASSERT_FATAL(ldns_pkt2wire(&w.buf, pkt, &w.len) == LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	if (!opt_last) {
		/* Append one more additional record after the OPT, which ldns wrote last. */
		ldns_rr *r = NULL;
		uint8_t *rr_wire = NULL;
		size_t rr_len = 0;
		uint8_t *m = malloc(w.len + 64);

		CU_ASSERT_FATAL(ldns_rr_new_frm_str(&r, "ns.example. 60 IN A 192.0.2.53", 0, NULL,
						    NULL) == LDNS_STATUS_OK);
		CU_ASSERT_FATAL(ldns_rr2wire(&rr_wire, r, LDNS_SECTION_ADDITIONAL, &rr_len) ==
				LDNS_STATUS_OK);
		memcpy(m, w.buf, w.len);
		memcpy(m + w.len, rr_wire, rr_len);
		dns_put16(m + 10, 2);
		free(w.buf);
		w.buf = m;
		w.len += rr_len;
		free(rr_wire);
		ldns_rr_free(r);
	}
	return w;
}

static void test_client_answer(void)
{
	struct wire q = make_query("WwW.ExAmPlE.", LDNS_RR_TYPE_A, 0, false);
	struct wire a = make_answer(2, true);
	struct dns_client_query cq;
	struct dns_opt aopt;
	uint8_t out[70000];
	size_t out_len;
	unsigned rcode;

	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_opt_find(a.buf, a.len, &aopt), 0);
	CU_ASSERT_TRUE(aopt.present);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_client_answer(&cq, a.buf, a.len, &aopt, 512, out, sizeof(out), &out_len),
		0);

	ldns_pkt *p = parse(out, out_len);
	/* The client's ID and spelling, no OPT since it sent none (RFC 6891 §7). */
	CU_ASSERT_EQUAL(ldns_pkt_id(p), 0xbeef);
	CU_ASSERT_EQUAL(memcmp(out + 12, "\3WwW\7ExAmPlE", 13), 0);
	CU_ASSERT_FALSE(ldns_pkt_edns(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 2);
	CU_ASSERT_EQUAL(ldns_pkt_arcount(p), 0);
	CU_ASSERT_FALSE(ldns_pkt_tc(p));
	/* A stub is no authority, whatever the upstream said (RFC 1035 §4.1.1); RA stays. */
	CU_ASSERT_FALSE(ldns_pkt_aa(p));
	CU_ASSERT_TRUE(ldns_pkt_ra(p));
	ldns_pkt_free(p);
	free(q.buf);

	/* A client with EDNS and DO gets our OPT with DO, size 1232. */
	q = make_query("www.example.", LDNS_RR_TYPE_A, 4096, true);
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_client_answer(&cq, a.buf, a.len, &aopt, 1232, out, sizeof(out), &out_len),
		0);
	p = parse(out, out_len);
	CU_ASSERT_TRUE(ldns_pkt_edns(p));
	CU_ASSERT_TRUE(ldns_pkt_edns_do(p));
	CU_ASSERT_EQUAL(ldns_pkt_edns_udp_size(p), 1232);
	CU_ASSERT_EQUAL(dns_arcount(out), 1); /* ldns counts the OPT out of ARCOUNT */
	ldns_pkt_free(p);
	free(q.buf);
	free(a.buf);
}

static void test_truncation(void)
{
	struct wire q = make_query("www.example.", LDNS_RR_TYPE_A, 0, false);
	struct wire a = make_answer(100, true); /* 100 A records: over 1600 bytes */
	struct dns_client_query cq;
	struct dns_opt aopt;
	uint8_t out[70000];
	size_t out_len;
	unsigned rcode;

	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_opt_find(a.buf, a.len, &aopt), 0);
	CU_ASSERT_EQUAL(dns_msg_udp_limit(&cq), 512);
	CU_ASSERT_EQUAL_FATAL(dns_msg_client_answer(&cq, a.buf, a.len, &aopt,
						    dns_msg_udp_limit(&cq), out, sizeof(out),
						    &out_len),
			      0);
	CU_ASSERT_TRUE(out_len <= 512);
	ldns_pkt *p = parse(out, out_len);
	CU_ASSERT_TRUE(ldns_pkt_tc(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 0);
	CU_ASSERT_EQUAL(ldns_pkt_qdcount(p), 1);
	ldns_pkt_free(p);
	free(q.buf);

	/* EDNS 4096 is capped at 1232; the cut answer keeps its OPT. */
	q = make_query("www.example.", LDNS_RR_TYPE_A, 4096, false);
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL(dns_msg_udp_limit(&cq), 1232);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_client_answer(&cq, a.buf, a.len, &aopt, 1232, out, sizeof(out), &out_len),
		0);
	p = parse(out, out_len);
	CU_ASSERT_TRUE(ldns_pkt_tc(p));
	CU_ASSERT_TRUE(ldns_pkt_edns(p));
	ldns_pkt_free(p);

	/* Over TCP the same answer goes whole. */
	CU_ASSERT_EQUAL_FATAL(dns_msg_client_answer(&cq, a.buf, a.len, &aopt, DNS_MAX_MSG, out,
						    sizeof(out), &out_len),
			      0);
	p = parse(out, out_len);
	CU_ASSERT_FALSE(ldns_pkt_tc(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 100);
	ldns_pkt_free(p);
	free(q.buf);
	free(a.buf);

	/* An EDNS size below 512 counts as 512 (RFC 6891 §6.2.3). */
	q = make_query("www.example.", LDNS_RR_TYPE_A, 100, false);
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL(dns_msg_udp_limit(&cq), 512);
	free(q.buf);
}

/* An upstream answer whose OPT is not last is rebuilt without it, records intact. */
static void test_opt_not_last(void)
{
	struct wire q = make_query("www.example.", LDNS_RR_TYPE_A, 0, false);
	struct wire a = make_answer(3, false);
	struct dns_client_query cq;
	struct dns_opt aopt;
	uint8_t out[70000];
	size_t out_len;
	unsigned rcode;

	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_opt_find(a.buf, a.len, &aopt), 0);
	CU_ASSERT_TRUE(aopt.present);
	CU_ASSERT_FALSE(aopt.last);
	CU_ASSERT_EQUAL_FATAL(dns_msg_client_answer(&cq, a.buf, a.len, &aopt, DNS_MAX_MSG, out,
						    sizeof(out), &out_len),
			      0);
	ldns_pkt *p = parse(out, out_len);
	CU_ASSERT_FALSE(ldns_pkt_edns(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 3);
	CU_ASSERT_EQUAL(ldns_pkt_arcount(p), 1);
	CU_ASSERT_EQUAL(ldns_pkt_id(p), 0xbeef);
	ldns_pkt_free(p);
	free(q.buf);
	free(a.buf);
}

static void test_error_answer(void)
{
	struct wire q = make_query("www.example.", LDNS_RR_TYPE_A, 1232, true);
	struct dns_client_query cq;
	uint8_t out[1024];
	size_t out_len, off;
	uint16_t olen;
	unsigned rcode;
	struct dns_opt opt;

	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_msg_error(&cq, DNS_RCODE_SERVFAIL, DNS_EDE_NO_REACHABLE,
					    "upstream TLS authentication failed", out, sizeof(out),
					    &out_len),
			      0);
	ldns_pkt *p = parse(out, out_len);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	CU_ASSERT_EQUAL(ldns_pkt_id(p), 0xbeef);
	CU_ASSERT_TRUE(ldns_pkt_qr(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 0);
	CU_ASSERT_TRUE(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
	CU_ASSERT_EQUAL(dns_opt_find(out, out_len, &opt), 0);
	CU_ASSERT_EQUAL(dns_opt_option(out, &opt, DNS_OPT_EDE, &off, &olen), 0);
	CU_ASSERT_EQUAL(dns_get16(out + off), DNS_EDE_NO_REACHABLE);
	CU_ASSERT_EQUAL(olen, 2 + strlen("upstream TLS authentication failed"));
	free(q.buf);

	/* BADVERS needs the OPT's extended RCODE: 16 = 1 << 4, low bits 0. */
	q = make_query("www.example.", LDNS_RR_TYPE_A, 1232, false);
	q.buf[q.len - 11 + 6] = 1;
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL_FATAL(dns_msg_error(&cq, rcode, -1, NULL, out, sizeof(out), &out_len), 0);
	CU_ASSERT_EQUAL(dns_rcode(out), 0);
	CU_ASSERT_EQUAL(dns_opt_find(out, out_len, &opt), 0);
	CU_ASSERT_EQUAL(opt.ext_rcode, 1);
	CU_ASSERT_EQUAL(opt.version, 0);
	free(q.buf);

	/* No EDE without an OPT in the query (RFC 8914 §3). */
	q = make_query("www.example.", LDNS_RR_TYPE_A, 0, false);
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_msg_error(&cq, DNS_RCODE_SERVFAIL, DNS_EDE_NETWORK_ERROR, "x",
					    out, sizeof(out), &out_len),
			      0);
	CU_ASSERT_EQUAL(dns_arcount(out), 0);
	CU_ASSERT_EQUAL(out_len, q.len);
	/* A QUERY: RA (recursion is offered) and the client's CD echoed. */
	CU_ASSERT_TRUE(dns_flags(out) & DNS_RA);
	q.buf[3] |= DNS_CD;
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_error(&cq, DNS_RCODE_REFUSED, -1, NULL, out, sizeof(out), &out_len), 0);
	CU_ASSERT_EQUAL(dns_flags(out) & (DNS_RA | DNS_CD | DNS_RD | DNS_AA),
			DNS_RA | DNS_CD | DNS_RD);
	/* Another opcode (NOTIFY, 4): NOTIMP with its opcode and RD, but neither RA nor CD. */
	q.buf[2] |= 4 << 3;
	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_ANSWER);
	CU_ASSERT_EQUAL_FATAL(dns_msg_error(&cq, rcode, -1, NULL, out, sizeof(out), &out_len), 0);
	CU_ASSERT_EQUAL(dns_rcode(out), DNS_RCODE_NOTIMP);
	CU_ASSERT_EQUAL(dns_opcode(out), 4);
	CU_ASSERT_EQUAL(dns_flags(out) & (DNS_RA | DNS_CD | DNS_RD), DNS_RD);
	free(q.buf);
}

/*
 * Answers made here (dns_msg_local): records under the question's spelling, an SOA whose
 * minimum is the TTL asked for, EDE with or without text (no text: no NUL pointer copied),
 * AA, and TC with the records that fit when the client's limit is small.
 */
static void test_local_answer(void)
{
	static const uint8_t zone[] = "\4home\4arpa";
	static const uint8_t v4[4] = {192, 0, 2, 1}, v4b[4] = {192, 0, 2, 2};
	struct dns_local_rr rrs[2] = {
		{.type = DNS_TYPE_A, .ttl = 60, .rdata = v4, .rdlen = 4},
		{.type = DNS_TYPE_A, .ttl = 60, .rdata = v4b, .rdlen = 4},
	};
	struct wire q = make_query("NaS.Home.Arpa.", LDNS_RR_TYPE_A, 1232, false);
	struct dns_client_query cq;
	struct dns_opt opt;
	uint8_t out[1024];
	size_t out_len, off;
	uint16_t olen;
	unsigned rcode;
	ldns_pkt *p;
	ldns_rr *rr;

	CU_ASSERT_EQUAL_FATAL(dns_msg_check_query(q.buf, q.len, &cq, &rcode), DNS_CHECK_OK);
	CU_ASSERT_EQUAL_FATAL(dns_msg_local(&cq, DNS_RCODE_NXDOMAIN, true, NULL, 0, zone,
					    sizeof(zone), 10800, DNS_EDE_BLOCKED, NULL, 1232, out,
					    sizeof(out), &out_len),
			      0);
	p = parse(out, out_len);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	CU_ASSERT_EQUAL(ldns_pkt_id(p), 0xbeef);
	CU_ASSERT_TRUE(ldns_pkt_aa(p) && ldns_pkt_qr(p) && ldns_pkt_ra(p) && ldns_pkt_rd(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 0);
	CU_ASSERT_EQUAL_FATAL(ldns_pkt_nscount(p), 1);
	rr = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
	CU_ASSERT_EQUAL(ldns_rr_get_type(rr), LDNS_RR_TYPE_SOA);
	CU_ASSERT_EQUAL(ldns_rr_ttl(rr), 10800);
	CU_ASSERT_EQUAL(ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)), 10800); /* the minimum */
	ldns_pkt_free(p);
	CU_ASSERT_EQUAL(dns_opt_find(out, out_len, &opt), 0);
	CU_ASSERT_EQUAL(dns_opt_option(out, &opt, DNS_OPT_EDE, &off, &olen), 0);
	CU_ASSERT_EQUAL(dns_get16(out + off), DNS_EDE_BLOCKED);
	CU_ASSERT_EQUAL(olen, 2);

	/* Two A records under the client's spelling (a pointer to its question). */
	CU_ASSERT_EQUAL_FATAL(dns_msg_local(&cq, DNS_RCODE_NOERROR, true, rrs, 2, NULL, 0, 0, -1,
					    NULL, 1232, out, sizeof(out), &out_len),
			      0);
	p = parse(out, out_len);
	CU_ASSERT_EQUAL_FATAL(ldns_pkt_ancount(p), 2);
	rr = ldns_rr_list_rr(ldns_pkt_answer(p), 1);
	CU_ASSERT_EQUAL(ldns_rr_ttl(rr), 60);
	CU_ASSERT_EQUAL(memcmp(ldns_rdf_data(ldns_rr_rdf(rr, 0)), v4b, 4), 0);
	CU_ASSERT_EQUAL(memcmp(out + 12, "\3NaS\4Home\4Arpa", 15), 0);
	CU_ASSERT_EQUAL(dns_get16(out + q.len - 11), 0xc00c);
	ldns_pkt_free(p);

	/* A limit that leaves room for one record: TC, one record, the OPT kept. */
	CU_ASSERT_EQUAL_FATAL(dns_msg_local(&cq, DNS_RCODE_NOERROR, true, rrs, 2, NULL, 0, 0, -1,
					    NULL, q.len + 16, out, sizeof(out), &out_len),
			      0);
	CU_ASSERT_TRUE(dns_flags(out) & DNS_TC);
	CU_ASSERT_EQUAL(dns_ancount(out), 1);
	CU_ASSERT_EQUAL(dns_arcount(out), 1);
	CU_ASSERT_TRUE(out_len <= q.len + 16);
	free(q.buf);
}

/* An answer for @qname A with the answer records @rrs, in that order. */
static struct wire chain_answer(const char *qname, const char *const *rrs)
{
	ldns_pkt *pkt = NULL;
	struct wire w = {0};

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&pkt, qname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
						   LDNS_RD) == LDNS_STATUS_OK);
	ldns_pkt_set_qr(pkt, true);
	for (; *rrs; rrs++) {
		ldns_rr *r = NULL;

		CU_ASSERT_FATAL(ldns_rr_new_frm_str(&r, *rrs, 0, NULL, NULL) == LDNS_STATUS_OK);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, r);
	}
	CU_ASSERT_FATAL(ldns_pkt2wire(&w.buf, pkt, &w.len) == LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	return w;
}

/* The owners and types of the answer section of @m, as "owner/TYPE owner/TYPE". */
static void answer_summary(const uint8_t *m, size_t len, char *out, size_t cap)
{
	ldns_pkt *p = parse(m, len);
	ldns_rr_list *an = ldns_pkt_answer(p);

	out[0] = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(an, i)));
		char *type = ldns_rr_type2str(ldns_rr_get_type(ldns_rr_list_rr(an, i)));
		size_t n = strlen(out);

		snprintf(out + n, cap - n, "%s%s/%s", n ? " " : "", owner, type);
		free(owner);
		free(type);
	}
	ldns_pkt_free(p);
}

static void test_scrub(void)
{
	const char *canonical[] = {"alias.example. 60 IN CNAME www.example.",
				   "www.example. 60 IN A 192.0.2.80", NULL};
	const char *reversed[] = {"www.example. 60 IN A 192.0.2.80",
				  "alias.example. 60 IN CNAME www.example.", NULL};
	const char *poisoned[] = {"alias.example. 60 IN CNAME www.example.",
				  "victim.test. 60 IN A 6.6.6.6", "www.example. 60 IN A 192.0.2.80",
				  "alias.example. 60 IN A 6.6.6.7", NULL};
	uint8_t out[4096];
	char sum[512];
	size_t out_len = 99;
	struct wire w;

	w = chain_answer("alias.example.", canonical);
	CU_ASSERT_EQUAL(dns_msg_scrub(w.buf, w.len, out, sizeof(out), &out_len), 0);
	CU_ASSERT_EQUAL(out_len, 0); /* as it is */
	free(w.buf);

	w = chain_answer("alias.example.", reversed);
	CU_ASSERT_EQUAL(dns_msg_scrub(w.buf, w.len, out, sizeof(out), &out_len), 0);
	CU_ASSERT_FATAL(out_len > 0);
	answer_summary(out, out_len, sum, sizeof(sum));
	CU_ASSERT_STRING_EQUAL(sum, "alias.example./CNAME www.example./A");
	free(w.buf);

	w = chain_answer("alias.example.", poisoned);
	CU_ASSERT_EQUAL(dns_msg_scrub(w.buf, w.len, out, sizeof(out), &out_len), 0);
	CU_ASSERT_FATAL(out_len > 0);
	answer_summary(out, out_len, sum, sizeof(sum));
	CU_ASSERT_STRING_EQUAL(sum, "alias.example./CNAME www.example./A");
	free(w.buf);
}

/* dotd's own question: what ldns reads back, with and without OPT. */
static void test_question(void)
{
	static const uint8_t name[] = "\3www\7example";
	uint8_t m[DNS_MSG_QUESTION_MAX];
	ldns_pkt *p;
	size_t len;

	len = dns_msg_question(m, DNS_RD | DNS_CD, name, sizeof(name), 43, true);
	CU_ASSERT_EQUAL(len, DNS_HDR_LEN + sizeof(name) + 4 + DNS_OPT_FIXED_LEN);
	p = parse(m, len);
	CU_ASSERT(ldns_pkt_rd(p) && ldns_pkt_cd(p) && !ldns_pkt_qr(p) && !ldns_pkt_ad(p));
	CU_ASSERT_EQUAL(ldns_pkt_qdcount(p), 1);
	CU_ASSERT_EQUAL(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)),
			LDNS_RR_TYPE_DS);
	CU_ASSERT(ldns_pkt_edns(p) && ldns_pkt_edns_do(p));
	ldns_pkt_free(p);
	len = dns_msg_question(m, DNS_RD, name, sizeof(name), DNS_TYPE_A, false);
	CU_ASSERT_EQUAL(len, DNS_HDR_LEN + sizeof(name) + 4);
	p = parse(m, len);
	CU_ASSERT(!ldns_pkt_edns(p) && !ldns_pkt_cd(p));
	ldns_pkt_free(p);
}

/* An answer from texts: @an in the answer section, @ns in the authority section, an OPT. */
static struct wire sectioned(const char *qname, ldns_pkt_rcode rcode, const char *const *an,
			     const char *const *ns)
{
	ldns_pkt *pkt = NULL;
	struct wire w = {0};

	CU_ASSERT_FATAL(ldns_pkt_query_new_frm_str(&pkt, qname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
						   LDNS_RD | LDNS_CD) == LDNS_STATUS_OK);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_rcode(pkt, rcode);
	ldns_pkt_set_edns_udp_size(pkt, 1232);
	ldns_pkt_set_edns_do(pkt, true);
	pkt->_edns_present = true;
	for (int s = 0; s < 2; s++) {
		for (const char *const *t = s ? ns : an; t && *t; t++) {
			ldns_rr *r = NULL;

			CU_ASSERT_FATAL(ldns_rr_new_frm_str(&r, *t, 0, NULL, NULL) ==
					LDNS_STATUS_OK);
			ldns_pkt_push_rr(pkt, s ? LDNS_SECTION_AUTHORITY : LDNS_SECTION_ANSWER, r);
		}
	}
	CU_ASSERT_FATAL(ldns_pkt2wire(&w.buf, pkt, &w.len) == LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	return w;
}

/* How many records of @type section @s of @p holds. */
static size_t count_type(ldns_pkt *p, ldns_pkt_section s, ldns_rr_type type)
{
	ldns_rr_list *l = ldns_pkt_get_section_clone(p, s);
	size_t n = 0;

	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++) {
		n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == type;
	}
	ldns_rr_list_deep_free(l);
	return n;
}

/* The validated answer: AD as the verdict says, CD ours, DNSSEC records for DO clients only. */
static void test_dnssec_filter(void)
{
	static const char *const an[] = {
		"www.example. 60 IN A 192.0.2.80",
		"www.example. 60 IN RRSIG A 13 2 60 20300101000000 20200101000000 1 example. "
		"AAAA",
		NULL,
	};
	static const char *const ns_pos[] = {"example. 60 IN NS ns.example.", NULL};
	static const char *const ns_neg[] = {
		"example. 60 IN SOA ns.example. h.example. 1 2 3 4 5",
		"example. 60 IN NSEC zzz.example. SOA NS RRSIG NSEC",
		"example. 60 IN NS ns.example.",
		NULL,
	};
	uint8_t out[4096];
	size_t out_len;
	struct wire w;
	ldns_pkt *p;

	/* DO, positive, secure: AD set, CD cleared, RRSIG kept, the unvalidated NS left out. */
	w = sectioned("www.example.", LDNS_RCODE_NOERROR, an, ns_pos);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_dnssec_filter(w.buf, w.len, true, true, out, sizeof(out), &out_len), 0);
	p = parse(out, out_len);
	CU_ASSERT(ldns_pkt_ad(p) && !ldns_pkt_cd(p) && ldns_pkt_edns(p));
	CU_ASSERT_EQUAL(count_type(p, LDNS_SECTION_ANSWER, LDNS_RR_TYPE_RRSIG), 1);
	CU_ASSERT_EQUAL(ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);
	/* No DO, insecure: AD clear, no RRSIG. */
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_dnssec_filter(w.buf, w.len, false, false, out, sizeof(out), &out_len), 0);
	p = parse(out, out_len);
	CU_ASSERT(!ldns_pkt_ad(p) && !ldns_pkt_cd(p));
	CU_ASSERT_EQUAL(ldns_pkt_ancount(p), 1);
	CU_ASSERT_EQUAL(count_type(p, LDNS_SECTION_ANSWER, LDNS_RR_TYPE_A), 1);
	ldns_pkt_free(p);
	free(w.buf);
	/* Nothing to drop: copied as it is, but for the flags. */
	w = sectioned("www.example.", LDNS_RCODE_NOERROR, an, NULL);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_dnssec_filter(w.buf, w.len, true, true, out, sizeof(out), &out_len), 0);
	CU_ASSERT_EQUAL(out_len, w.len);
	CU_ASSERT_EQUAL(memcmp(out + 4, w.buf + 4, w.len - 4), 0);
	CU_ASSERT(dns_flags(out) & DNS_AD);
	CU_ASSERT_FALSE(dns_flags(out) & DNS_CD);
	free(w.buf);
	/* Negative, no DO: the SOA stays (RFC 2308), the NSEC and the NS go. */
	w = sectioned("nx.example.", LDNS_RCODE_NXDOMAIN, NULL, ns_neg);
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_dnssec_filter(w.buf, w.len, true, false, out, sizeof(out), &out_len), 0);
	p = parse(out, out_len);
	CU_ASSERT_EQUAL(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	CU_ASSERT_EQUAL(ldns_pkt_nscount(p), 1);
	CU_ASSERT_EQUAL(count_type(p, LDNS_SECTION_AUTHORITY, LDNS_RR_TYPE_SOA), 1);
	ldns_pkt_free(p);
	/* With DO the NSEC stays too. */
	CU_ASSERT_EQUAL_FATAL(
		dns_msg_dnssec_filter(w.buf, w.len, true, true, out, sizeof(out), &out_len), 0);
	p = parse(out, out_len);
	CU_ASSERT_EQUAL(count_type(p, LDNS_SECTION_AUTHORITY, LDNS_RR_TYPE_NSEC), 1);
	CU_ASSERT_EQUAL(count_type(p, LDNS_SECTION_AUTHORITY, LDNS_RR_TYPE_NS), 0);
	ldns_pkt_free(p);
	/* Malformed: refused, not read past its end. */
	CU_ASSERT_EQUAL(dns_msg_dnssec_filter(w.buf, 20, true, true, out, sizeof(out), &out_len),
			-EBADMSG);
	free(w.buf);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"own question", test_question},
		{"DNSSEC filter of a validated answer", test_dnssec_filter},
		{"scrub: chain order, unrelated records", test_scrub},
		{"check query", test_check_query},
		{"upstream padding", test_upstream_padding},
		{"upstream query length", test_upstream_query_len},
		{"client options stay", test_upstream_strips_client_options},
		{"client answer", test_client_answer},
		{"truncation", test_truncation},
		{"opt not last", test_opt_not_last},
		{"error answer", test_error_answer},
		{"local answer", test_local_answer},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dns_msg", tests);
}
