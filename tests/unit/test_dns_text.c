/*
 * test_dns_text: names and types as an operator types them (cache/dns_text.c), against ldns,
 * which dotd-ctl flush used before: the same wire form for every name ldns reads, the same
 * number for every mnemonic ldns knows, and a refusal, with the out-parameters untouched, for
 * what is not a name (empty labels, bad escapes, a label over 63 octets, a name over 255).
 */
#include <stdbool.h> /* before ldns: see resolver/ldns_lib.h */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns_text.h"
#include "dns_wire.h"
#include "unit.h"

/* @s read by ours and by ldns: 0 when both agree, byte for byte, or both refuse. */
static int name_both(const char *s, int *ours_ret)
{
	uint8_t wire[DNS_MAX_NAME];
	size_t len = 0;
	ldns_rdf *rdf = NULL;
	int ours = dns_name_from_text(s, strlen(s), wire, &len);
	bool theirs = ldns_str2rdf_dname(&rdf, s) == LDNS_STATUS_OK;
	int ret = 0;

	*ours_ret = ours;
	if ((ours == 0) != theirs) {
		ret = -1;
	} else if (theirs && (ldns_rdf_size(rdf) != len || memcmp(ldns_rdf_data(rdf), wire, len))) {
		ret = -1;
	}
	ldns_rdf_deep_free(rdf);
	return ret;
}

static void test_names_valid(void)
{
	static const char *const names[] = {
		".",
		"a",
		"www.example",
		"www.example.",
		"Mixed.CASE.example",
		"_dmarc.example",
		"a\\.b.example",
		"\\065bc.example.",
		"\\000.example",
		"\\255\\128.x",
		"x\\ y.example",
		"\\\\.example",
		"a\\..",
		"xn--bcher-kva.example",
	};
	char max[300];
	int ours;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CU_ASSERT_EQUAL(name_both(names[i], &ours), 0);
		CU_ASSERT_EQUAL(ours, 0);
		if (ours != 0) {
			fprintf(stderr, "refused: '%s' (%d)\n", names[i], ours);
		}
	}
	/* 63.63.63.61: 253 characters, 255 octets in wire form, the most there can be. */
	memset(max, 'a', sizeof(max));
	max[63] = max[127] = max[191] = '.';
	max[253] = '\0';
	CU_ASSERT_EQUAL(name_both(max, &ours), 0);
	CU_ASSERT_EQUAL(ours, 0);
	max[253] = '.';
	max[254] = '\0';
	CU_ASSERT_EQUAL(name_both(max, &ours), 0);
	CU_ASSERT_EQUAL(ours, 0);
	/* The same with escapes: "\097" is one octet. */
	memcpy(max, "\\097", 4);
	memmove(max + 4, max + 1, 254);
	CU_ASSERT_EQUAL(name_both(max, &ours), 0);
	CU_ASSERT_EQUAL(ours, 0);
}

static void test_names_refused(void)
{
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{"", -EINVAL},	      {"..", -EINVAL},	     {".a", -EINVAL},	 {"a..b", -EINVAL},
		{"a.b..", -EINVAL},   {"a\\", -EINVAL},	     {"a\\0", -EINVAL},	 {"a\\25", -EINVAL},
		{"\\256.x", -EINVAL}, {"a\\2x5.b", -EINVAL}, {"\\999", -EINVAL},
	};
	uint8_t wire[DNS_MAX_NAME];
	char s[300];
	size_t len = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(wire, 0xaa, sizeof(wire));
		CU_ASSERT_EQUAL(dns_name_from_text(bad[i].s, strlen(bad[i].s), wire, &len),
				bad[i].err);
		CU_ASSERT_EQUAL(len, 7);
		CU_ASSERT_EQUAL(wire[0], 0xaa);
	}
	/* A label of 64 octets, plain and with its last written as an escape. */
	memset(s, 'a', 64);
	strcpy(s + 64, ".example");
	CU_ASSERT_EQUAL(dns_name_from_text(s, strlen(s), wire, &len), -EMSGSIZE);
	memcpy(s + 63, "\\097.example", 13);
	CU_ASSERT_EQUAL(dns_name_from_text(s, strlen(s), wire, &len), -EMSGSIZE);
	/* 256 octets: 63.63.63.62, and 63.63.63.61 with one more label "b". */
	memset(s, 'a', sizeof(s));
	s[63] = s[127] = s[191] = '.';
	s[254] = '\0';
	CU_ASSERT_EQUAL(dns_name_from_text(s, strlen(s), wire, &len), -ENAMETOOLONG);
	s[253] = '.';
	s[254] = 'b';
	s[255] = '\0';
	CU_ASSERT_EQUAL(dns_name_from_text(s, strlen(s), wire, &len), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(len, 7);
	/* Only @n characters are read: the NUL of a shorter prefix is not needed. */
	CU_ASSERT_EQUAL(dns_name_from_text("www.example.x", 11, wire, &len), 0);
	CU_ASSERT_EQUAL(len, 13);
	CU_ASSERT_EQUAL(memcmp(wire, "\3www\7example\0", 13), 0);
}

/* Names made at random from an alphabet of what matters (dots, escapes, digits): as ldns. */
static void test_names_random(void)
{
	static const char alphabet[] = "ab.\\0123459Z-_";
	unsigned seed = 20261202, differ = 0, accepted = 0;
	char s[300];

	for (int round = 0; round < 200000; round++) {
		size_t n;
		int ours;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % (round % 50 == 0 ? 290 : 24);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			s[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		s[n] = '\0';
		if (name_both(s, &ours) != 0) {
			if (differ++ < 5) {
				fprintf(stderr, "differs from ldns: '%s' (ours %d)\n", s, ours);
			}
		}
		accepted += ours == 0;
	}
	CU_ASSERT_EQUAL(differ, 0);
	CU_ASSERT_TRUE(accepted > 10000); /* the comparison was not only of refusals */
}

static void test_types(void)
{
	static const struct {
		const char *s;
		uint16_t type;
	} good[] = {
		{"A", 1},     {"aaaa", 28},   {"Https", 65},	    {"NSAP-PTR", 23},
		{"TYPE1", 1}, {"type65", 65}, {"TYPE65535", 65535}, {"TYPE4660", 4660},
		{"ANY", 255}, {"CAA", 257},   {"DLV", 32769},
	};
	static const char *const bad[] = {
		"",	  "AAAAA",  "TYPE",	  "TYPE0", "TYPE01", "TYPE65536", "TYPE-1",
		"TYPE 1", "TYPE1x", "TYPE100000", " A",	   "A ",     "CLASS1",	  "IN",
	};
	unsigned known = 0;
	uint16_t t = 7;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = 0;
		CU_ASSERT_EQUAL(dns_type_from_text(good[i].s, &t), 0);
		CU_ASSERT_EQUAL(t, good[i].type);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 7;
		CU_ASSERT_EQUAL(dns_type_from_text(bad[i], &t), -EINVAL);
		CU_ASSERT_EQUAL(t, 7);
	}
	/* Every mnemonic ldns knows, we know, with the same number; and ours are ldns's. */
	for (unsigned v = 1; v <= 65535; v++) {
		const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)v);
		const char *ours = dns_type_name((uint16_t)v);

		if (d && d->_name && ldns_get_rr_type_by_name(d->_name) == v &&
		    strncmp(d->_name, "TYPE", 4) != 0) {
			known++;
			t = 0;
			CU_ASSERT_EQUAL(dns_type_from_text(d->_name, &t), 0);
			CU_ASSERT_EQUAL(t, v);
			if (t != v) {
				fprintf(stderr, "ldns knows %s = %u, ours %u\n", d->_name, v, t);
			}
		}
		if (ours) {
			ldns_rr_type theirs = ldns_get_rr_type_by_name(ours);

			CU_ASSERT_TRUE(theirs == 0 || theirs == v);
			CU_ASSERT_EQUAL(dns_type_from_text(ours, &t), 0);
			CU_ASSERT_EQUAL(t, v);
		}
	}
	CU_ASSERT_TRUE(known > 60);
}

static void test_type_text(void)
{
	char buf[DNS_TYPE_TEXT_MAX];

	CU_ASSERT_STRING_EQUAL(dns_type_text(15, buf, sizeof(buf)), "MX");
	CU_ASSERT_STRING_EQUAL(dns_type_text(65, buf, sizeof(buf)), "HTTPS");
	CU_ASSERT_STRING_EQUAL(dns_type_text(0, buf, sizeof(buf)), "TYPE0");
	CU_ASSERT_STRING_EQUAL(dns_type_text(54, buf, sizeof(buf)), "TYPE54");
	CU_ASSERT_STRING_EQUAL(dns_type_text(65535, buf, sizeof(buf)), "TYPE65535");
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"names ldns reads", test_names_valid},
		{"names refused", test_names_refused},
		{"random names, as ldns", test_names_random},
		{"types", test_types},
		{"type text", test_type_text},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dns_text", tests);
}
