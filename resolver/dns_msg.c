/*
 * dns_msg: building upstream queries and client answers on wire format. See dns_msg.h.
 *
 * The common path copies the upstream's answer and patches it: ID, question spelling, and the
 * OPT record, which servers put last (RFC 6891 does not require it, but every resolver does).
 * An answer whose OPT is not last is rebuilt through ldns instead, because cutting bytes out of
 * the middle of a message would break compression pointers that point past the cut.
 */
#include <errno.h>
#include <string.h>

#include "dns_msg.h"
#include "ldns_lib.h"

enum dns_check dns_msg_check_query(const uint8_t *msg, size_t len, struct dns_client_query *cq,
				   unsigned *rcode)
{
	struct dns_opt opt;
	bool have_q, records_ok;
	size_t end;

	memset(cq, 0, sizeof(*cq));
	/* RFC 1034 §4.3.1 / rfc-checklist M8: nothing to answer to, or an answer: silence. */
	if (len < DNS_HDR_LEN || (dns_flags(msg) & DNS_QR)) {
		return DNS_CHECK_DROP;
	}
	/*
	 * Bytes after the last record of a well-formed query are ignored, as Unbound, Stubby and
	 * dnsdist do: some clients pad datagrams. The message is what the header counts. A query
	 * with one plain question is walked once: the question, then its records.
	 */
	have_q = dns_question_parse(msg, len, &cq->q) == 0;
	if (have_q) {
		records_ok = dns_records_scan(msg, len, cq->q.end, &opt, &end) == 0;
		if (records_ok) {
			len = end;
		}
	} else {
		if (dns_msg_length(msg, len, &end) == 0) {
			len = end;
		}
		cq->q.end = 0; /* no question to echo */
		records_ok = dns_opt_find(msg, len, &opt) == 0;
	}
	cq->msg = msg;
	cq->len = len;
	if (records_ok && opt.present) {
		cq->has_opt = true;
		cq->do_bit = (opt.flags & DNS_EDNS_DO) != 0;
		cq->udp_size = opt.udp_size;
	}
	if (dns_opcode(msg) != DNS_OPCODE_QUERY) {
		*rcode = DNS_RCODE_NOTIMP; /* RFC 1035 §4.1.1, rfc-checklist M5 */
		return DNS_CHECK_ANSWER;
	}
	if (!have_q || !records_ok) {
		*rcode = DNS_RCODE_FORMERR; /* RFC 9619 (QDCOUNT), RFC 6891 §6.1.1 (two OPTs) */
		return DNS_CHECK_ANSWER;
	}
	if (opt.present && opt.version > 0) {
		*rcode = DNS_RCODE_BADVERS; /* RFC 6891 §6.1.3 */
		return DNS_CHECK_ANSWER;
	}
	if (cq->q.qtype == DNS_TYPE_AXFR || cq->q.qtype == DNS_TYPE_IXFR) {
		*rcode = DNS_RCODE_NOTIMP; /* not a zone transfer proxy (RFC 5625 §4.3) */
		return DNS_CHECK_ANSWER;
	}
	if (cq->q.qclass != DNS_CLASS_IN) {
		/* CHAOS and friends describe this server, never the upstream (RFC 5625). */
		*rcode = DNS_RCODE_REFUSED;
		return DNS_CHECK_ANSWER;
	}
	return DNS_CHECK_OK;
}

size_t dns_msg_udp_limit(const struct dns_client_query *cq)
{
	size_t limit = DNS_UDP_MIN;

	if (cq->has_opt && cq->udp_size > limit) {
		limit = cq->udp_size; /* below 512 counts as 512 (RFC 6891 §6.2.3) */
	}
	return limit < DNS_MSG_UDP_MAX ? limit : DNS_MSG_UDP_MAX;
}

/* The OPT's options of an upstream query, in octets, with @pad set to the padding's length. */
static size_t upstream_opts_len(size_t len, const struct dns_upstream_opts *o, size_t *pad)
{
	size_t opts = 0;

	*pad = 0;
	if (o->ecs_private) {
		opts += 4 + 4; /* FAMILY, SOURCE PREFIX-LENGTH 0, SCOPE 0, no address */
	}
	if (o->keepalive) {
		opts += 4; /* a client sends it empty (RFC 7828 §3.2.1) */
	}
	if (o->padding_blocksize > 0) {
		/* RFC 8467 §4.1: the whole message, padding option included, fills whole blocks. */
		size_t unpadded = len + opts + 4;

		*pad = (o->padding_blocksize - unpadded % o->padding_blocksize) %
		       o->padding_blocksize;
		opts += 4 + *pad;
	}
	return opts;
}

size_t dns_msg_upstream_query_len(const struct dns_client_query *cq,
				  const struct dns_upstream_opts *o)
{
	size_t len = cq->q.end + DNS_OPT_FIXED_LEN, pad;

	len += upstream_opts_len(len, o, &pad);
	return len > DNS_MAX_MSG ? 0 : 2 + len;
}

int dns_msg_upstream_query(const struct dns_client_query *cq, const struct dns_upstream_opts *o,
			   uint8_t *out, size_t cap, size_t *out_len)
{
	size_t qlen = cq->q.end - DNS_HDR_LEN;
	size_t len = DNS_HDR_LEN + qlen + DNS_OPT_FIXED_LEN;
	size_t pad, opts = upstream_opts_len(len, o, &pad);
	uint8_t *m = out + 2;
	uint8_t *p;

	len += opts;
	if (len > DNS_MAX_MSG || 2 + len > cap) {
		return -ENOSPC;
	}
	dns_put16(out, (uint16_t)len);
	dns_put16(m, 0);
	/*
	 * A validating stub asks with DO and CD (RFC 4035 §4.9.3, §3.2.2): it wants the RRSIGs,
	 * and the data even where the upstream's own validation would refuse it.
	 */
	dns_put16(m + 2,
		  (dns_flags(cq->msg) & (DNS_RD | DNS_CD | DNS_AD)) | (o->validate ? DNS_CD : 0));
	dns_put16(m + 4, 1);
	dns_put16(m + 6, 0);
	dns_put16(m + 8, 0);
	dns_put16(m + 10, 1);
	memcpy(m + DNS_HDR_LEN, cq->msg + DNS_HDR_LEN, qlen);
	p = m + DNS_HDR_LEN + qlen;
	p += dns_opt_write(p, DNS_MSG_UDP_MAX, 0, cq->do_bit || o->validate, (uint16_t)opts);
	if (o->ecs_private) {
		dns_put16(p, DNS_OPT_ECS);
		dns_put16(p + 2, 4);
		dns_put16(p + 4, 1); /* IPv4; with prefix 0 the family carries no address */
		p[6] = 0;
		p[7] = 0;
		p += 8;
	}
	if (o->keepalive) {
		dns_put16(p, DNS_OPT_KEEPALIVE);
		dns_put16(p + 2, 0);
		p += 4;
	}
	if (o->padding_blocksize > 0) {
		dns_put16(p, DNS_OPT_PADDING);
		dns_put16(p + 2, (uint16_t)pad);
		memset(p + 4, 0, pad); /* RFC 7830 §3: SHOULD be 0x00 */
		p += 4 + pad;
	}
	*out_len = 2 + len;
	return 0;
}

size_t dns_msg_question(uint8_t *out, uint16_t flags, const uint8_t *name, size_t name_len,
			uint16_t qtype, bool opt_do)
{
	size_t len = DNS_HDR_LEN;

	memset(out, 0, DNS_HDR_LEN);
	dns_put16(out + 2, flags);
	dns_put16(out + 4, 1);
	memcpy(out + len, name, name_len);
	len += name_len;
	dns_put16(out + len, qtype);
	dns_put16(out + len + 2, DNS_CLASS_IN);
	len += 4;
	if (opt_do) {
		dns_put16(out + 10, 1);
		len += dns_opt_write(out + len, DNS_MSG_UDP_MAX, 0, true, 0);
	}
	return len;
}

/*
 * Render @pkt into @out (@cap bytes); -ENOSPC if it does not fit, -EBADMSG if ldns fails or
 * writes what our own reader rejects (ldns's TSIG handling can leave ARCOUNT counting a record
 * it did not write, for instance): a rebuilt message must be one dotd would accept.
 */
static int pkt_render(const ldns_pkt *pkt, uint8_t *out, size_t cap, size_t *out_len)
{
	struct dns_opt opt;
	uint8_t *wire = NULL;
	size_t wire_len = 0;
	int ret = -EBADMSG;

	if (ldns_pkt2wire(&wire, pkt, &wire_len) == LDNS_STATUS_OK) {
		ret = -ENOSPC;
		if (wire_len <= cap) {
			ret = dns_opt_find(wire, wire_len, &opt) == 0 ? 0 : -EBADMSG;
		}
		if (ret == 0) {
			memcpy(out, wire, wire_len);
			*out_len = wire_len;
		}
	}
	free(wire);
	return ret;
}

/* The rare path: the upstream's OPT is not its last record. Rebuild with ldns, without OPT. */
static int strip_opt_ldns(const uint8_t *ans, size_t alen, uint8_t *out, size_t cap,
			  size_t *out_len)
{
	ldns_pkt *pkt = NULL;
	int ret = ldns_lib_load();

	if (ret != 0) {
		return ret;
	}
	ret = -EBADMSG;
	if (ldns_wire2pkt(&pkt, ans, alen) != LDNS_STATUS_OK) {
		goto cleanup;
	}
	ldns_pkt_set_edns_udp_size(pkt, 0);
	ldns_pkt_set_edns_extended_rcode(pkt, 0);
	ldns_pkt_set_edns_version(pkt, 0);
	ldns_pkt_set_edns_z(pkt, 0);
	/* ldns's setter does not free what it replaces. */
	ldns_rdf_deep_free(ldns_pkt_edns_data(pkt));
	ldns_pkt_set_edns_data(pkt, NULL);
	pkt->_edns_present = false;
	ret = pkt_render(pkt, out, cap, out_len);
cleanup:
	ldns_pkt_free(pkt);
	return ret;
}

int dns_msg_client_answer(const struct dns_client_query *cq, const uint8_t *ans, size_t alen,
			  const struct dns_opt *aopt, size_t max_len, uint8_t *out, size_t cap,
			  size_t *out_len)
{
	size_t len, opt_off, opt_len = 0;
	uint8_t ext_rcode = aopt->present ? aopt->ext_rcode : 0;
	uint16_t flags;

	if (alen > cap) {
		return -ENOSPC;
	}
	/* tls/ matched the question when there was one; one without (FORMERR) is no answer. */
	if (dns_qdcount(ans) != 1 || alen < cq->q.end) {
		return -EBADMSG;
	}
	memcpy(out, ans, alen);
	len = aopt->present ? aopt->off : alen;
	if (aopt->present) {
		struct dns_opt none;

		dns_put16(out + 10, (uint16_t)(dns_arcount(out) - 1));
		/*
		 * Cut off, the OPT must leave a message that still reads: a hostile upstream
		 * can run the labels of a name on into the OPT, and an OPT that is not last
		 * cannot be cut at all. Both are rebuilt with ldns instead.
		 */
		if (!aopt->last || dns_opt_find(out, len, &none) != 0) {
			int ret = strip_opt_ldns(ans, alen, out, cap, &len);

			if (ret != 0) {
				return ret;
			}
		}
	}
	/* The client's ID and its own spelling of the name (0x20, RFC 4343 §4). */
	memcpy(out, cq->msg, 2);
	memcpy(out + DNS_HDR_LEN, cq->msg + DNS_HDR_LEN, cq->q.end - DNS_HDR_LEN);
	/*
	 * RD and CD as the client asked (RFC 1035 §4.1.1, RFC 4035 §3.1.6: a validating stub asks
	 * upstreams with CD whatever the client set), Z clear (RFC 1035, rfc-checklist M6), and AA
	 * clear: a stub is not the zone's authority (RFC 1035 §4.1.1), whatever the upstream said.
	 */
	flags = (dns_flags(out) & ~(DNS_Z | DNS_RD | DNS_AA | DNS_CD)) |
		(dns_flags(cq->msg) & (DNS_RD | DNS_CD));
	/* AD only for a client that set DO or AD (RFC 6840 §5.7). */
	if (!cq->do_bit && !(dns_flags(cq->msg) & DNS_AD)) {
		flags &= ~DNS_AD;
	}
	if (!cq->has_opt && ext_rcode != 0) {
		/* An extended RCODE cannot be said without OPT: say the server failed. */
		flags = (uint16_t)((flags & ~0xf) | DNS_RCODE_SERVFAIL);
	}
	dns_put16(out + 2, flags);
	opt_off = len;
	if (cq->has_opt) {
		size_t room = cap - len;
		size_t n;

		if (room < DNS_OPT_FIXED_LEN) {
			return -ENOSPC;
		}
		n = aopt->present ? dns_opt_copy_options(ans, aopt, DNS_OPT_EDE,
							 out + len + DNS_OPT_FIXED_LEN,
							 room - DNS_OPT_FIXED_LEN)
				  : 0;
		opt_len = dns_opt_write(out + len, DNS_MSG_UDP_MAX, ext_rcode, cq->do_bit,
					(uint16_t)n) +
			  n;
		len += opt_len;
		dns_put16(out + 10, (uint16_t)(dns_arcount(out) + 1));
	}
	if (len > max_len) {
		dns_truncate(out, &len, cq->q.end, opt_off, opt_len);
	}
	*out_len = len;
	return 0;
}

int dns_msg_error(const struct dns_client_query *cq, unsigned rcode, int ede, const char *ede_text,
		  uint8_t *out, size_t cap, size_t *out_len)
{
	size_t qend = cq->q.end ? cq->q.end : DNS_HDR_LEN;
	size_t text_len = ede_text ? strlen(ede_text) : 0;
	size_t opt_len = 0, len;
	uint16_t flags;

	if (cq->has_opt) {
		opt_len = DNS_OPT_FIXED_LEN + (ede >= 0 ? 6 + text_len : 0);
	}
	len = qend + opt_len;
	if (len > cap || len > DNS_MAX_MSG) {
		return -ENOSPC;
	}
	memcpy(out, cq->msg, qend);
	/*
	 * QR, the client's opcode and RD (RFC 1035 §4.1.1), the low RCODE bits. RA and CD only
	 * for a QUERY: recursion is what we offer for it (RFC 1035 §4.1.1), and CD means something
	 * only there (RFC 4035 §3.2.2); an unknown opcode gets neither (RFC 6895 §2).
	 */
	flags = (uint16_t)(DNS_QR | (dns_flags(cq->msg) & (0x7800 | DNS_RD)) | (rcode & 0xf));
	if (dns_opcode(cq->msg) == DNS_OPCODE_QUERY) {
		flags |= DNS_RA | (dns_flags(cq->msg) & DNS_CD);
	}
	dns_put16(out + 2, flags);
	dns_put16(out + 4, cq->q.end ? 1 : 0);
	dns_put16(out + 6, 0);
	dns_put16(out + 8, 0);
	dns_put16(out + 10, cq->has_opt ? 1 : 0);
	if (cq->has_opt) {
		uint8_t *p = out + qend;

		p += dns_opt_write(p, DNS_MSG_UDP_MAX, (uint8_t)(rcode >> 4), cq->do_bit,
				   (uint16_t)(opt_len - DNS_OPT_FIXED_LEN));
		if (ede >= 0) {
			dns_put16(p, DNS_OPT_EDE);
			dns_put16(p + 2, (uint16_t)(2 + text_len));
			dns_put16(p + 4, (uint16_t)ede);
			if (text_len > 0) {
				memcpy(p + 6, ede_text, text_len);
			}
		}
	}
	*out_len = len;
	return 0;
}

#define CHAIN_MAX 16 /* CNAME hops followed in one answer */

/* Rebuild @ans keeping answer records with rank >= 0, ordered by rank (stable). */
static int scrub_rebuild(const uint8_t *ans, size_t len, const int *rank, size_t n_rank,
			 int max_rank, uint8_t *out, size_t cap, size_t *out_len)
{
	ldns_pkt *pkt = NULL;
	ldns_rr_list *kept = NULL;
	int ret = ldns_lib_load();

	if (ret != 0) {
		return ret;
	}
	ret = -EBADMSG;
	if (ldns_wire2pkt(&pkt, ans, len) != LDNS_STATUS_OK ||
	    ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) != n_rank) {
		goto cleanup;
	}
	kept = ldns_rr_list_new();
	if (!kept) {
		goto cleanup;
	}
	for (int k = 0; k <= max_rank; k++) {
		for (size_t i = 0; i < n_rank; i++) {
			if (rank[i] == k) {
				ldns_rr_list_push_rr(kept, ldns_rr_clone(ldns_rr_list_rr(
								   ldns_pkt_answer(pkt), i)));
			}
		}
	}
	ldns_rr_list_deep_free(ldns_pkt_answer(pkt));
	ldns_pkt_set_answer(pkt, kept);
	ldns_pkt_set_ancount(pkt, (uint16_t)ldns_rr_list_rr_count(kept));
	kept = NULL;
	ret = pkt_render(pkt, out, cap, out_len) == 0 ? 0 : -EBADMSG;
cleanup:
	ldns_rr_list_deep_free(kept);
	ldns_pkt_free(pkt);
	return ret;
}

int dns_msg_scrub(const uint8_t *ans, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t chain[CHAIN_MAX + 1];
	struct dns_rr rrs[64];
	int rank[64];
	struct dns_question q;
	struct dns_walk w;
	unsigned n_chain = 1, n = 0;
	int last = -1;
	bool changed = false;

	*out_len = 0;
	if (dns_question_parse(ans, len, &q) != 0 || dns_walk_init(&w, ans, len) != 0) {
		return 0; /* no question (FORMERR): nothing to check against */
	}
	while (n < 64 && dns_walk_next(&w, &rrs[n]) == 1 && rrs[n].section == 1) {
		if (rrs[n].type == 39) {
			return 0; /* DNAME: the synthesized chain is left as the upstream sent it */
		}
		n++;
	}
	if (n == 64 || dns_ancount(ans) != n) {
		return 0; /* a large RRset: passed as it is (still walked and bounded) */
	}
	/* The chain: from the question's name, through CNAMEs found anywhere in the section. */
	chain[0] = q.name_off;
	while (q.qtype != DNS_TYPE_CNAME && n_chain <= CHAIN_MAX) {
		size_t i;

		for (i = 0; i < n; i++) {
			if (rrs[i].type == DNS_TYPE_CNAME &&
			    dns_name_equal(ans, len, rrs[i].off, ans, len, chain[n_chain - 1])) {
				break;
			}
		}
		if (i == n) {
			break;
		}
		chain[n_chain++] = rrs[i].rdata_off;
	}
	for (size_t i = 0; i < n; i++) {
		rank[i] = -1;
		for (unsigned k = 0; k < n_chain; k++) {
			bool end = k == n_chain - 1;
			uint16_t t = rrs[i].type;

			if (!dns_name_equal(ans, len, rrs[i].off, ans, len, chain[k])) {
				continue;
			}
			/* Along the chain only its CNAMEs; at its end the type asked (ANY: all). */
			if (t == 46 /* RRSIG */ || (!end && t == DNS_TYPE_CNAME) ||
			    (end && (t == q.qtype || q.qtype == 255))) {
				rank[i] = (int)k;
			}
			break;
		}
		if (rank[i] < 0 || rank[i] < last) {
			changed = true;
		}
		if (rank[i] > last) {
			last = rank[i];
		}
	}
	if (!changed) {
		return 0;
	}
	return scrub_rebuild(ans, len, rank, n, (int)n_chain - 1, out, cap, out_len);
}

/*
 * The SOA of a zone answered here: MNAME the zone itself, RNAME nobody.invalid. (RFC 6303 §3
 * suggests both), serial 1, Unbound's refresh, retry and expire, and @ttl as the minimum, which
 * is the negative TTL (RFC 2308 §4).
 */
static size_t soa_write(uint8_t *p, const uint8_t *zone, size_t zone_len, uint32_t ttl)
{
	static const uint8_t rname[] = "\6nobody\7invalid";
	size_t rdlen = zone_len + sizeof(rname) + 20;
	uint8_t *r;

	memcpy(p, zone, zone_len);
	p += zone_len;
	dns_put16(p, DNS_TYPE_SOA);
	dns_put16(p + 2, DNS_CLASS_IN);
	dns_put32(p + 4, ttl);
	dns_put16(p + 8, (uint16_t)rdlen);
	r = p + 10;
	memcpy(r, zone, zone_len);
	r += zone_len;
	memcpy(r, rname, sizeof(rname)); /* with its NUL: the root label */
	r += sizeof(rname);
	dns_put32(r, 1);
	dns_put32(r + 4, 3600);
	dns_put32(r + 8, 1200);
	dns_put32(r + 12, 604800);
	dns_put32(r + 16, ttl);
	return zone_len + 10 + rdlen;
}

int dns_msg_local(const struct dns_client_query *cq, unsigned rcode, bool aa,
		  const struct dns_local_rr *ans, size_t n_ans, const uint8_t *soa_zone,
		  size_t soa_zone_len, uint32_t soa_ttl, int ede, const char *ede_text,
		  size_t max_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t text_len = ede_text ? strlen(ede_text) : 0;
	size_t opt_len = 0, len = cq->q.end, need = cq->q.end, n_fit = 0;
	bool tc = false;
	uint16_t flags;

	if (cq->q.end <= DNS_HDR_LEN) {
		return -EINVAL; /* only a query with a question gets a local answer */
	}
	if (cq->has_opt) {
		opt_len = DNS_OPT_FIXED_LEN + (ede >= 0 ? 6 + text_len : 0);
	}
	need += opt_len;
	if (soa_zone) {
		need += 2 * soa_zone_len + 17 + 10 + 20 + 1;
	}
	for (size_t i = 0; i < n_ans; i++) {
		need += 12 + ans[i].rdlen;
	}
	if (need > cap || need > DNS_MAX_MSG) {
		return -ENOSPC;
	}
	memcpy(out, cq->msg, cq->q.end);
	/* The records that fit in @max_len with the OPT (RFC 6891 §7: the OPT is kept). */
	for (size_t i = 0; i < n_ans; i++) {
		uint8_t *p = out + len;

		if (len + 12 + ans[i].rdlen + opt_len > max_len) {
			tc = true;
			break;
		}
		dns_put16(p, 0xc000 | DNS_HDR_LEN); /* the question's name */
		dns_put16(p + 2, ans[i].type);
		dns_put16(p + 4, DNS_CLASS_IN);
		dns_put32(p + 6, ans[i].ttl);
		dns_put16(p + 10, ans[i].rdlen);
		memcpy(p + 12, ans[i].rdata, ans[i].rdlen);
		len += 12 + ans[i].rdlen;
		n_fit++;
	}
	if (soa_zone && !tc) {
		size_t soa_len = 2 * soa_zone_len + 17 + 10 + 20;

		if (len + soa_len + opt_len <= max_len) {
			len += soa_write(out + len, soa_zone, soa_zone_len, soa_ttl);
		} else {
			soa_zone = NULL;
			tc = true;
		}
	} else {
		soa_zone = NULL;
	}
	flags = (uint16_t)(DNS_QR | (dns_flags(cq->msg) & (0x7800 | DNS_RD | DNS_CD)) | DNS_RA |
			   (rcode & 0xf) | (aa ? DNS_AA : 0) | (tc ? DNS_TC : 0));
	dns_put16(out + 2, flags);
	dns_put16(out + 4, 1);
	dns_put16(out + 6, (uint16_t)n_fit);
	dns_put16(out + 8, soa_zone ? 1 : 0);
	dns_put16(out + 10, cq->has_opt ? 1 : 0);
	if (cq->has_opt) {
		uint8_t *p = out + len;

		p += dns_opt_write(p, DNS_MSG_UDP_MAX, (uint8_t)(rcode >> 4), cq->do_bit,
				   (uint16_t)(opt_len - DNS_OPT_FIXED_LEN));
		if (ede >= 0) {
			dns_put16(p, DNS_OPT_EDE);
			dns_put16(p + 2, (uint16_t)(2 + text_len));
			dns_put16(p + 4, (uint16_t)ede);
			if (text_len > 0) {
				memcpy(p + 6, ede_text, text_len);
			}
		}
		len += opt_len;
	}
	*out_len = len;
	return 0;
}

/* What a validated answer keeps of the record of @type in @section (dns_msg_dnssec_filter). */
static bool dnssec_keep(int section, uint16_t type, bool positive, bool keep_dnssec, uint16_t qtype)
{
	bool dnssec = type == 46 || type == 47 || type == 50; /* RRSIG, NSEC, NSEC3 */

	if (section == 1) {
		return !dnssec || keep_dnssec || type == qtype;
	}
	if (section == 2) {
		if (dnssec) {
			return keep_dnssec;
		}
		return !positive && type == DNS_TYPE_SOA;
	}
	return false;
}

int dns_msg_dnssec_filter(const uint8_t *ans, size_t len, bool ad, bool keep_dnssec, uint8_t *out,
			  size_t cap, size_t *out_len)
{
	struct dns_question q;
	struct dns_walk w;
	struct dns_rr rr;
	ldns_pkt *pkt = NULL;
	ldns_rr_list *lists[3] = {NULL, NULL, NULL};
	bool positive = dns_ancount(ans) > 0, changed = false;
	int ret;

	if (dns_question_parse(ans, len, &q) != 0 || dns_walk_init(&w, ans, len) != 0) {
		return -EBADMSG;
	}
	while ((ret = dns_walk_next(&w, &rr)) == 1) {
		if (rr.type != DNS_TYPE_OPT &&
		    !dnssec_keep(rr.section, rr.type, positive, keep_dnssec, q.qtype)) {
			changed = true;
		}
	}
	if (ret < 0) {
		return -EBADMSG;
	}
	if (!changed) {
		if (len > cap) {
			return -ENOSPC;
		}
		memcpy(out, ans, len);
		dns_put16(out + 2,
			  (uint16_t)((dns_flags(out) & ~(DNS_AD | DNS_CD)) | (ad ? DNS_AD : 0)));
		*out_len = len;
		return 0;
	}
	/* The rare path for DO clients, the usual one for the others: rebuilt with ldns. */
	ret = ldns_lib_load();
	if (ret != 0) {
		return ret;
	}
	ret = -EBADMSG;
	if (ldns_wire2pkt(&pkt, ans, len) != LDNS_STATUS_OK) {
		goto cleanup;
	}
	for (int s = 0; s < 3; s++) {
		ldns_rr_list *from = s == 0   ? ldns_pkt_answer(pkt)
				     : s == 1 ? ldns_pkt_authority(pkt)
					      : ldns_pkt_additional(pkt);

		lists[s] = ldns_rr_list_new();
		if (!lists[s]) {
			goto cleanup;
		}
		for (size_t i = 0; from && i < ldns_rr_list_rr_count(from); i++) {
			ldns_rr *one = ldns_rr_list_rr(from, i);

			if (dnssec_keep(s + 1, (uint16_t)ldns_rr_get_type(one), positive,
					keep_dnssec, q.qtype)) {
				ldns_rr_list_push_rr(lists[s], ldns_rr_clone(one));
			}
		}
	}
	ldns_rr_list_deep_free(ldns_pkt_answer(pkt));
	ldns_pkt_set_answer(pkt, lists[0]);
	ldns_pkt_set_ancount(pkt, (uint16_t)ldns_rr_list_rr_count(lists[0]));
	ldns_rr_list_deep_free(ldns_pkt_authority(pkt));
	ldns_pkt_set_authority(pkt, lists[1]);
	ldns_pkt_set_nscount(pkt, (uint16_t)ldns_rr_list_rr_count(lists[1]));
	ldns_rr_list_deep_free(ldns_pkt_additional(pkt));
	ldns_pkt_set_additional(pkt, lists[2]);
	ldns_pkt_set_arcount(pkt, (uint16_t)ldns_rr_list_rr_count(lists[2]));
	lists[0] = lists[1] = lists[2] = NULL;
	ldns_pkt_set_ad(pkt, ad);
	ldns_pkt_set_cd(pkt, false);
	ret = pkt_render(pkt, out, cap, out_len);
cleanup:
	for (int s = 0; s < 3; s++) {
		ldns_rr_list_deep_free(lists[s]);
	}
	ldns_pkt_free(pkt);
	return ret;
}
