/*
 * dns_text: the presentation form of names and types (RFC 1035 §5.1, RFC 3597 §5) read into
 * wire form (only what an operator types), and a type written out for messages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns_text.h"
#include "dns_wire.h"

int dns_name_from_text(const char *s, size_t n, uint8_t *wire, size_t *wire_len)
{
	uint8_t buf[DNS_MAX_NAME];
	size_t w = 1, len_at = 0, label = 0;

	if (n == 1 && s[0] == '.') {
		wire[0] = 0;
		*wire_len = 1;
		return 0;
	}
	if (n == 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned c = (uint8_t)s[i];

		if (c == '.') {
			if (label == 0) {
				return -EINVAL; /* "..", or a leading dot */
			}
			buf[len_at] = (uint8_t)label;
			label = 0;
			if (i == n - 1) {
				break; /* the trailing dot: the root label follows */
			}
			len_at = w++;
			if (w >= DNS_MAX_NAME) {
				return -ENAMETOOLONG;
			}
			continue;
		}
		if (c == '\\') {
			if (i + 1 >= n) {
				return -EINVAL;
			}
			if (s[i + 1] >= '0' && s[i + 1] <= '9') {
				/* \DDD: exactly three digits (RFC 1035 §5.1) */
				if (i + 3 >= n) {
					return -EINVAL;
				}
				c = 0;
				for (size_t k = i + 1; k <= i + 3; k++) {
					if (s[k] < '0' || s[k] > '9') {
						return -EINVAL;
					}
					c = c * 10 + (unsigned)(s[k] - '0');
				}
				if (c > 255) {
					return -EINVAL;
				}
				i += 3;
			} else {
				c = (uint8_t)s[++i];
			}
		}
		if (++label > DNS_MAX_LABEL) {
			return -EMSGSIZE;
		}
		if (w + 1 >= DNS_MAX_NAME) {
			return -ENAMETOOLONG; /* no room left for this octet and the root label */
		}
		buf[w++] = (uint8_t)c;
	}
	if (label > 0) {
		buf[len_at] = (uint8_t)label;
	}
	buf[w++] = 0;
	memcpy(wire, buf, w);
	*wire_len = w;
	return 0;
}

/* IANA's "Resource Record (RR) TYPEs" with a mnemonic in use, in number order. */
static const struct {
	uint16_t type;
	const char *name;
} types[] = {
	{1, "A"},	  {2, "NS"},	  {3, "MD"},	      {4, "MF"},
	{5, "CNAME"},	  {6, "SOA"},	  {7, "MB"},	      {8, "MG"},
	{9, "MR"},	  {10, "NULL"},	  {11, "WKS"},	      {12, "PTR"},
	{13, "HINFO"},	  {14, "MINFO"},  {15, "MX"},	      {16, "TXT"},
	{17, "RP"},	  {18, "AFSDB"},  {19, "X25"},	      {20, "ISDN"},
	{21, "RT"},	  {22, "NSAP"},	  {23, "NSAP-PTR"},   {24, "SIG"},
	{25, "KEY"},	  {26, "PX"},	  {27, "GPOS"},	      {28, "AAAA"},
	{29, "LOC"},	  {30, "NXT"},	  {31, "EID"},	      {32, "NIMLOC"},
	{33, "SRV"},	  {34, "ATMA"},	  {35, "NAPTR"},      {36, "KX"},
	{37, "CERT"},	  {38, "A6"},	  {39, "DNAME"},      {40, "SINK"},
	{41, "OPT"},	  {42, "APL"},	  {43, "DS"},	      {44, "SSHFP"},
	{45, "IPSECKEY"}, {46, "RRSIG"},  {47, "NSEC"},	      {48, "DNSKEY"},
	{49, "DHCID"},	  {50, "NSEC3"},  {51, "NSEC3PARAM"}, {52, "TLSA"},
	{53, "SMIMEA"},	  {55, "HIP"},	  {56, "NINFO"},      {57, "RKEY"},
	{58, "TALINK"},	  {59, "CDS"},	  {60, "CDNSKEY"},    {61, "OPENPGPKEY"},
	{62, "CSYNC"},	  {63, "ZONEMD"}, {64, "SVCB"},	      {65, "HTTPS"},
	{99, "SPF"},	  {100, "UINFO"}, {101, "UID"},	      {102, "GID"},
	{103, "UNSPEC"},  {104, "NID"},	  {105, "L32"},	      {106, "L64"},
	{107, "LP"},	  {108, "EUI48"}, {109, "EUI64"},     {249, "TKEY"},
	{250, "TSIG"},	  {251, "IXFR"},  {252, "AXFR"},      {253, "MAILB"},
	{254, "MAILA"},	  {255, "ANY"},	  {256, "URI"},	      {257, "CAA"},
	{258, "AVC"},	  {259, "DOA"},	  {260, "AMTRELAY"},  {32768, "TA"},
	{32769, "DLV"},
};

int dns_type_from_text(const char *s, uint16_t *type)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcasecmp(s, types[i].name) == 0) {
			*type = types[i].type;
			return 0;
		}
	}
	/* TYPEnnn: decimal digits only, no sign, no leading zero, no space (RFC 3597 §5). */
	if (strncasecmp(s, "TYPE", 4) != 0 || s[4] < '1' || s[4] > '9') {
		return -EINVAL;
	}
	for (i = 4; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i > 8) {
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535) {
		return -EINVAL;
	}
	*type = (uint16_t)v;
	return 0;
}

const char *dns_type_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (types[i].type == type) {
			return types[i].name;
		}
	}
	return NULL;
}

const char *dns_type_text(uint16_t type, char *buf, size_t cap)
{
	const char *name = dns_type_name(type);

	if (name) {
		return name;
	}
	snprintf(buf, cap, "TYPE%u", (unsigned)type);
	return buf;
}
