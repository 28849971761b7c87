/*
 * fuzz_canon: canonical names and RRSIG signed data (cache/dns_canon.c) on any message, as a
 * validator would call them on an upstream's answer. The first RRSIG of the answer section
 * (or, when there is none, the first record) is taken with every answer RR of the type it
 * covers, and the signed data built: it must never crash, read out of bounds or return what
 * the header does not name; what it builds must be the same bytes with the RRs given in the
 * reverse order (sorted and deduplicated, RFC 4034 §6.3), and with no more room than it took.
 * Every answer owner's canonical form must hold no upper-case letter.
 *
 * Input: a DNS message. Seeds: corpus/canon, the RFC 6605 and RFC 8080 examples in messages as
 * tests/unit/test_dns_canon.c writes them: plain, and compressed with the RR twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_canon.h"
#include "dns_wire.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define OUT_MAX 65536

static uint8_t out[OUT_MAX], again[OUT_MAX];

static void check_owner(const uint8_t *msg, size_t len, size_t off)
{
	uint8_t name[DNS_MAX_NAME];
	size_t name_len = 0;
	unsigned labels = 0;
	int ret = dns_name_canonical(msg, len, off, name, sizeof(name), &name_len, &labels);

	CHECK(ret == 0 || ret == -EBADMSG);
	if (ret == 0) {
		CHECK(name_len >= 1 && name_len <= DNS_MAX_NAME && labels <= name_len / 2);
		CHECK(name[name_len - 1] == 0);
		for (size_t i = 0; i < name_len; i++) {
			CHECK(name[i] < 'A' || name[i] > 'Z');
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t offs[DNS_CANON_MAX_RRS], rev[DNS_CANON_MAX_RRS];
	struct dns_walk w;
	struct dns_rr rr;
	size_t sig_off = 0, n = 0, out_len = 0, again_len = 0;
	uint16_t covered = 0;
	int found = 0, ret;

	if (dns_walk_init(&w, data, size) < 0) {
		return 0;
	}
	while (dns_walk_next(&w, &rr) == 1 && rr.section == 1) {
		check_owner(data, size, rr.off);
		if (found == 0 || (found == 1 && rr.type == DNS_TYPE_RRSIG)) {
			sig_off = rr.off;
			covered = rr.rdlen >= 2 ? dns_get16(data + rr.rdata_off) : 0;
			found = rr.type == DNS_TYPE_RRSIG ? 2 : 1;
		}
	}
	if (found == 0) {
		return 0;
	}
	dns_walk_init(&w, data, size);
	while (dns_walk_next(&w, &rr) == 1 && rr.section == 1 && n < DNS_CANON_MAX_RRS) {
		if (rr.type == covered && rr.off != sig_off) {
			offs[n++] = rr.off;
		}
	}
	if (n == 0) {
		offs[n++] =
			sig_off; /* the RRSIG as its own RRset: refused, unless it covers RRSIG */
	}
	ret = dns_rrsig_signed_data(data, size, sig_off, offs, n, out, sizeof(out), &out_len);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOSPC);
	if (ret != 0) {
		return 0;
	}
	CHECK(out_len <= sizeof(out));
	for (size_t i = 0; i < n; i++) {
		rev[i] = offs[n - 1 - i];
	}
	ret = dns_rrsig_signed_data(data, size, sig_off, rev, n, again, sizeof(again), &again_len);
	CHECK(ret == 0 && again_len == out_len && memcmp(out, again, out_len) == 0);
	/* Room for the result alone, and one octet less (a duplicate may need more, briefly). */
	ret = dns_rrsig_signed_data(data, size, sig_off, offs, n, again, out_len, &again_len);
	CHECK(ret == -ENOSPC || (ret == 0 && again_len == out_len));
	if (out_len > 0) {
		ret = dns_rrsig_signed_data(data, size, sig_off, offs, n, again, out_len - 1,
					    &again_len);
		CHECK(ret == -ENOSPC);
	}
	return 0;
}
