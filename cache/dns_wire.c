/*
 * dns_wire: bounds-checked reading of DNS wire format. See dns_wire.h for the contract.
 *
 * The name walker follows RFC 1035 §4.1.4 with the hardening of RFC 9267: a pointer must point
 * strictly before the start of the name (or of the piece reached by the previous jump) that
 * holds it, which rules out loops without a visited set; the number of jumps is capped, and the
 * expanded name may not exceed 255 octets.
 */
#include <errno.h>
#include <string.h>

#include "dns_wire.h"

int dns_name_skip(const uint8_t *msg, size_t len, size_t off, size_t *next)
{
	size_t pos = off;
	size_t limit = off; /* a pointer must point before this: the start of the current piece */
	size_t after = 0;   /* offset after the name in the message: set at the first pointer */
	size_t name_len = 0;
	unsigned jumps = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len) {
			return -EBADMSG;
		}
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len) {
				return -EBADMSG;
			}
			target = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
			/*
			 * Before the start of the piece being read (so each jump goes strictly
			 * backwards and no loop is possible), and never into the header.
			 */
			if (target >= limit || target < DNS_HDR_LEN || ++jumps > DNS_MAX_JUMPS) {
				return -EBADMSG;
			}
			if (after == 0) {
				after = pos + 2;
			}
			pos = limit = target;
			continue;
		}
		if (c & 0xc0) {
			return -EBADMSG; /* 0x40 and 0x80 label types are reserved or obsolete */
		}
		name_len += (size_t)c + 1;
		if (name_len > DNS_MAX_NAME) {
			return -EBADMSG;
		}
		if (c == 0) {
			*next = after ? after : pos + 1;
			return 0;
		}
		pos += (size_t)c + 1;
	}
}

int dns_question_parse(const uint8_t *msg, size_t len, struct dns_question *q)
{
	size_t pos = DNS_HDR_LEN;
	size_t name_len = 0;

	if (len < DNS_HDR_LEN || dns_qdcount(msg) != 1) {
		return -EBADMSG;
	}
	for (;;) {
		uint8_t c;

		if (pos >= len) {
			return -EBADMSG;
		}
		c = msg[pos];
		if (c & 0xc0) {
			return -EBADMSG; /* nothing precedes the question: no pointer can be valid
					  */
		}
		name_len += (size_t)c + 1;
		if (name_len > DNS_MAX_NAME) {
			return -EBADMSG;
		}
		pos += (size_t)c + 1;
		if (c == 0) {
			break;
		}
	}
	if (pos + 4 > len) {
		return -EBADMSG;
	}
	q->name_off = DNS_HDR_LEN;
	q->name_len = name_len;
	q->qtype = dns_get16(msg + pos);
	q->qclass = dns_get16(msg + pos + 2);
	q->end = pos + 4;
	return 0;
}

static inline uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

bool dns_question_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	if (a_len != b_len) {
		return false;
	}
	/*
	 * Length octets are below 64 and so are never letters: lowering every byte compares the
	 * labels case-insensitively and the length octets, type and class exactly... except that
	 * the type and class bytes may happen to be letters. Compare those four exactly.
	 */
	if (a_len < 4 || memcmp(a + a_len - 4, b + b_len - 4, 4) != 0) {
		return false;
	}
	for (size_t i = 0; i + 4 < a_len; i++) {
		if (ascii_lower(a[i]) != ascii_lower(b[i])) {
			return false;
		}
	}
	return true;
}

/* A walk of the records of @msg from @pos, just past its questions. */
static int walk_at(struct dns_walk *w, const uint8_t *msg, size_t len, size_t pos)
{
	w->msg = msg;
	w->len = len;
	w->off = pos;
	w->section = 1;
	w->left[0] = 0;
	w->left[1] = dns_ancount(msg);
	w->left[2] = dns_nscount(msg);
	w->left[3] = dns_arcount(msg);
	if (w->left[1] + w->left[2] + w->left[3] > DNS_MAX_RECORDS) {
		return -EBADMSG;
	}
	return 0;
}

int dns_walk_init(struct dns_walk *w, const uint8_t *msg, size_t len)
{
	size_t pos = DNS_HDR_LEN;
	unsigned qd;

	if (len < DNS_HDR_LEN) {
		return -EBADMSG;
	}
	qd = dns_qdcount(msg);
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_skip(msg, len, pos, &pos) != 0 || pos + 4 > len) {
			return -EBADMSG;
		}
		pos += 4;
	}
	return walk_at(w, msg, len, pos);
}

int dns_walk_next(struct dns_walk *w, struct dns_rr *rr)
{
	size_t pos;

	while (w->section <= 3 && w->left[w->section] == 0) {
		w->section++;
	}
	if (w->section > 3) {
		return 0;
	}
	if (dns_name_skip(w->msg, w->len, w->off, &pos) != 0 || pos + 10 > w->len) {
		return -EBADMSG;
	}
	rr->off = w->off;
	rr->type = dns_get16(w->msg + pos);
	rr->rclass = dns_get16(w->msg + pos + 2);
	rr->ttl_off = pos + 4;
	rr->rdlen = dns_get16(w->msg + pos + 8);
	rr->rdata_off = pos + 10;
	rr->end = rr->rdata_off + rr->rdlen;
	rr->section = w->section;
	if (rr->end > w->len) {
		return -EBADMSG;
	}
	w->off = rr->end;
	w->left[w->section]--;
	return 1;
}

int dns_msg_length(const uint8_t *msg, size_t len, size_t *out)
{
	struct dns_walk w;
	struct dns_rr rr;
	int ret;

	if (dns_walk_init(&w, msg, len) != 0) {
		return -EBADMSG;
	}
	while ((ret = dns_walk_next(&w, &rr)) == 1) {
	}
	if (ret < 0) {
		return -EBADMSG;
	}
	*out = w.off;
	return 0;
}

/* The rest of walk @w, checking every record; the OPT record in *@opt. */
static int opt_scan(struct dns_walk *w, struct dns_opt *opt)
{
	struct dns_opt found = {.present = false};
	const uint8_t *msg = w->msg;
	struct dns_rr rr;
	int ret;

	while ((ret = dns_walk_next(w, &rr)) == 1) {
		if (found.present) {
			found.last = false;
		}
		if (rr.type == DNS_TYPE_TSIG) {
			found.tsig = true;
		}
		if (rr.type != DNS_TYPE_OPT) {
			continue;
		}
		/* One OPT, in the additional section, owned by the root (RFC 6891 §6.1.1). */
		if (found.present || rr.section != 3 || msg[rr.off] != 0) {
			return -EBADMSG;
		}
		found.present = true;
		found.last = true;
		found.off = rr.off;
		found.end = rr.end;
		found.udp_size = rr.rclass;
		found.ext_rcode = msg[rr.ttl_off];
		found.version = msg[rr.ttl_off + 1];
		found.flags = dns_get16(msg + rr.ttl_off + 2);
		found.rdata_off = rr.rdata_off;
		found.rdlen = rr.rdlen;
	}
	if (ret < 0) {
		return -EBADMSG;
	}
	*opt = found;
	return 0;
}

int dns_opt_find(const uint8_t *msg, size_t len, struct dns_opt *opt)
{
	struct dns_opt found;
	struct dns_walk w;

	if (dns_walk_init(&w, msg, len) != 0 || opt_scan(&w, &found) != 0 || w.off != len) {
		return -EBADMSG;
	}
	*opt = found;
	return 0;
}

int dns_records_scan(const uint8_t *msg, size_t len, size_t off, struct dns_opt *opt, size_t *end)
{
	struct dns_opt found;
	struct dns_walk w;

	if (len < DNS_HDR_LEN || off < DNS_HDR_LEN || off > len ||
	    walk_at(&w, msg, len, off) != 0 || opt_scan(&w, &found) != 0) {
		return -EBADMSG;
	}
	*opt = found;
	*end = w.off;
	return 0;
}

int dns_opt_option(const uint8_t *msg, const struct dns_opt *opt, uint16_t code, size_t *data_off,
		   uint16_t *data_len)
{
	size_t pos = opt->rdata_off;
	size_t end = opt->rdata_off + opt->rdlen;

	while (pos < end) {
		uint16_t c, l;

		if (pos + 4 > end) {
			return -EBADMSG;
		}
		c = dns_get16(msg + pos);
		l = dns_get16(msg + pos + 2);
		if (pos + 4 + l > end) {
			return -EBADMSG;
		}
		if (c == code) {
			*data_off = pos + 4;
			*data_len = l;
			return 0;
		}
		pos += 4 + (size_t)l;
	}
	return -ENOENT;
}

size_t dns_opt_write(uint8_t *p, uint16_t udp_size, uint8_t ext_rcode, bool do_bit, uint16_t rdlen)
{
	p[0] = 0; /* root */
	dns_put16(p + 1, DNS_TYPE_OPT);
	dns_put16(p + 3, udp_size);
	p[5] = ext_rcode;
	p[6] = 0; /* version 0 */
	dns_put16(p + 7, do_bit ? DNS_EDNS_DO : 0);
	dns_put16(p + 9, rdlen);
	return DNS_OPT_FIXED_LEN;
}

size_t dns_opt_copy_options(const uint8_t *msg, const struct dns_opt *opt, uint16_t code,
			    uint8_t *out, size_t room)
{
	size_t pos = opt->rdata_off, end = opt->rdata_off + opt->rdlen, n = 0;

	while (pos + 4 <= end) {
		size_t olen = 4 + (size_t)dns_get16(msg + pos + 2);

		if (pos + olen > end) {
			break;
		}
		if (dns_get16(msg + pos) == code && n + olen <= room) {
			memcpy(out + n, msg + pos, olen);
			n += olen;
		}
		pos += olen;
	}
	return n;
}

void dns_truncate(uint8_t *m, size_t *len, size_t qend, size_t opt_off, size_t opt_len)
{
	if (opt_len > 0) {
		memmove(m + qend, m + opt_off, DNS_OPT_FIXED_LEN);
		dns_put16(m + qend + 9, 0);
		opt_len = DNS_OPT_FIXED_LEN;
	}
	dns_put16(m + 2, dns_flags(m) | DNS_TC);
	dns_put16(m + 6, 0);
	dns_put16(m + 8, 0);
	dns_put16(m + 10, opt_len > 0 ? 1 : 0);
	*len = qend + opt_len;
}

/* The next label of the name at *@pos (following pointers): its length, or -1 if malformed. */
static int next_label(const uint8_t *m, size_t len, size_t *pos, unsigned *jumps,
		      const uint8_t **label)
{
	while (*pos < len && (m[*pos] & 0xc0) == 0xc0) {
		if (*pos + 1 >= len || ++*jumps > DNS_MAX_JUMPS) {
			return -1;
		}
		*pos = ((size_t)(m[*pos] & 0x3f) << 8) | m[*pos + 1];
	}
	if (*pos >= len || (m[*pos] & 0xc0) || *pos + 1 + m[*pos] > len) {
		return -1;
	}
	*label = m + *pos + 1;
	return m[(*pos)++];
}

bool dns_name_equal(const uint8_t *a, size_t a_len, size_t a_off, const uint8_t *b, size_t b_len,
		    size_t b_off)
{
	unsigned ja = 0, jb = 0, total = 0;

	for (;;) {
		const uint8_t *la, *lb;
		int na = next_label(a, a_len, &a_off, &ja, &la);
		int nb = next_label(b, b_len, &b_off, &jb, &lb);

		if (na < 0 || nb < 0 || na != nb) {
			return false;
		}
		if (na == 0) {
			return true;
		}
		for (int i = 0; i < na; i++) {
			if (ascii_lower(la[i]) != ascii_lower(lb[i])) {
				return false;
			}
		}
		a_off += (size_t)na;
		b_off += (size_t)nb;
		total += (unsigned)na + 1;
		if (total > DNS_MAX_NAME) {
			return false;
		}
	}
}

int dns_answer_check(const uint8_t *query, size_t qend, const uint8_t *ans, size_t len,
		     struct dns_opt *opt)
{
	size_t qlen = qend - DNS_HDR_LEN;

	if (len < DNS_HDR_LEN || !(dns_flags(ans) & DNS_QR) || dns_id(ans) != dns_id(query)) {
		return -EBADMSG;
	}
	if (dns_qdcount(ans) != 0 &&
	    (dns_qdcount(ans) != 1 || len < qend ||
	     !dns_question_equal(ans + DNS_HDR_LEN, qlen, query + DNS_HDR_LEN, qlen))) {
		return -EBADMSG;
	}
	if (dns_opt_find(ans, len, opt) != 0 || opt->tsig) {
		return -EBADMSG;
	}
	return 0;
}

static bool marked(const uint8_t *bitmap, size_t i)
{
	return (bitmap[i / 8] >> (i % 8)) & 1;
}

bool dns_name_avoids(const uint8_t *msg, size_t len, size_t off, const uint8_t *bitmap)
{
	unsigned jumps = 0;

	for (;;) {
		uint8_t c;

		if (off >= len || marked(bitmap, off)) {
			return false;
		}
		c = msg[off];
		if ((c & 0xc0) == 0xc0) {
			if (off + 1 >= len || marked(bitmap, off + 1) || ++jumps > DNS_MAX_JUMPS) {
				return false;
			}
			off = ((size_t)(c & 0x3f) << 8) | msg[off + 1];
			continue;
		}
		if (c == 0) {
			return true;
		}
		if ((c & 0xc0) || off + 1 + c > len) {
			return false;
		}
		for (size_t i = off + 1; i <= off + c; i++) {
			if (marked(bitmap, i)) {
				return false;
			}
		}
		off += 1 + (size_t)c;
	}
}

int dns_rdata_name_offset(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_SOA:
	case 12: /* PTR */
	case 39: /* DNAME */
		return 0;
	case DNS_TYPE_MX:
	case 18: /* AFSDB */
	case 21: /* RT */
	case 36: /* KX */
		return 2;
	case 33: /* SRV */
		return 6;
	default:
		return -1;
	}
}
