/*
 * fuzz_denial: cache/dns_denial.c on names and NSEC/NSEC3 records from the input, as an
 * upstream's authority section brings them. It must never crash or read out of bounds, must
 * return only 0 or -EBADMSG, a verdict the function can give (never an NSEC3 verdict from
 * NSEC), and must not hash at all when the NSEC3 iterations are over the RFC 9276 cap. The
 * hash is a cheap stand-in (not SHA-1), so that this target stays pure: no wolfSSL.
 *
 * Input: [qtype:2][labels:1][qname length:1][qname], then records, each [owner length:1]
 * [owner][RDATA length:1][RDATA], every one parsed both as NSEC and as NSEC3; lengths beyond
 * what is left are cut to it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_denial.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_RR 8

static unsigned hashes;

/* FNV-1a spread over 20 octets: deterministic, so that matches and covers can happen. */
static int fake_hash(uint8_t alg, uint16_t iterations, const uint8_t *salt, size_t salt_len,
		     const uint8_t *name, size_t name_len, uint8_t out[20])
{
	uint32_t h = 2166136261u ^ alg ^ iterations;
	size_t i;

	hashes++;
	CHECK(name_len >= 1 && name_len <= 255 && salt_len <= 255);
	for (i = 0; i < name_len; i++) {
		CHECK(name[i] < 'A' || name[i] > 'Z');
		h = (h ^ name[i]) * 16777619u;
	}
	for (i = 0; i < salt_len; i++) {
		h = (h ^ salt[i]) * 16777619u;
	}
	for (i = 0; i < 20; i++) {
		h = (h ^ (uint32_t)i) * 16777619u;
		out[i] = (uint8_t)(h >> 24);
	}
	return 0;
}

static const uint8_t *take(const uint8_t **p, size_t *left, size_t want, size_t *got)
{
	const uint8_t *at = *p;

	*got = want < *left ? want : *left;
	*p += *got;
	*left -= *got;
	return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_denial_nsec nsec[MAX_RR];
	struct dns_denial_nsec3 nsec3[MAX_RR];
	size_t n_nsec = 0, n_nsec3 = 0, i, qlen, len;
	enum dns_denial_verdict v;
	const uint8_t *qname;
	uint16_t qtype;
	uint8_t labels;
	bool over_cap = false;
	int ret, order;

	if (size < 4) {
		return 0;
	}
	qtype = (uint16_t)(data[0] << 8 | data[1]);
	labels = data[2];
	qlen = data[3];
	data += 4;
	size -= 4;
	qname = take(&data, &size, qlen, &qlen);
	while (size > 0 && n_nsec < MAX_RR && n_nsec3 < MAX_RR) {
		const uint8_t *owner, *rdata;
		size_t owner_len, rdlen;

		owner_len = data[0];
		data++;
		size--;
		owner = take(&data, &size, owner_len, &owner_len);
		if (size == 0) {
			break;
		}
		rdlen = data[0];
		data++;
		size--;
		rdata = take(&data, &size, rdlen, &rdlen);
		if (dns_denial_nsec_parse(owner, owner_len, rdata, rdlen, &nsec[n_nsec]) == 0) {
			CHECK(nsec[n_nsec].next_len + nsec[n_nsec].bitmap_len == rdlen);
			n_nsec++;
		}
		if (dns_denial_nsec3_parse(owner, owner_len, rdata, rdlen, &nsec3[n_nsec3]) == 0) {
			if (nsec3[n_nsec3].iterations > DNS_NSEC3_MAX_ITERATIONS) {
				over_cap = true;
			}
			n_nsec3++;
		}
	}

	ret = dns_denial_nsec_prove(qname, qlen, qtype, nsec, n_nsec, &v);
	CHECK(ret == 0 || ret == -EBADMSG);
	CHECK(ret != 0 || v == DENIAL_NONE || v == DENIAL_NXDOMAIN || v == DENIAL_NODATA);
	ret = dns_denial_nsec_wildcard(qname, qlen, labels, nsec, n_nsec, &v);
	CHECK(ret == 0 || ret == -EBADMSG);
	CHECK(ret != 0 || v == DENIAL_NONE || v == DENIAL_WILDCARD);

	hashes = 0;
	ret = dns_denial_nsec3_prove(fake_hash, qname, qlen, qtype, nsec3, n_nsec3, &v);
	CHECK(ret == 0 || ret == -EBADMSG);
	CHECK(ret != 0 ||
	      (v >= DENIAL_NONE && v <= DENIAL_INSECURE_ITERATIONS && v != DENIAL_WILDCARD));
	CHECK(ret != 0 || v != DENIAL_INSECURE_ITERATIONS || over_cap);
	CHECK(ret != 0 || v != DENIAL_INSECURE_ITERATIONS || hashes == 0);
	ret = dns_denial_nsec3_wildcard(fake_hash, qname, qlen, labels, nsec3, n_nsec3, &v);
	CHECK(ret == 0 || ret == -EBADMSG);
	CHECK(ret != 0 || v == DENIAL_NONE || v == DENIAL_WILDCARD ||
	      v == DENIAL_INSECURE_ITERATIONS);

	/* Canonical order: antisymmetric, and a name equals itself. */
	for (i = 0; i < n_nsec; i++) {
		int back;

		len = nsec[i].owner_len;
		if (dns_denial_name_order(qname, qlen, nsec[i].owner, len, &order) == 0) {
			CHECK(dns_denial_name_order(nsec[i].owner, len, qname, qlen, &back) == 0);
			CHECK((order < 0) == (back > 0) && (order == 0) == (back == 0));
		}
		CHECK(dns_denial_name_order(nsec[i].next, nsec[i].next_len, nsec[i].next,
					    nsec[i].next_len, &order) == 0 &&
		      order == 0);
	}
	return 0;
}
