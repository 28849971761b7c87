/*
 * dns_text: names and record types in their presentation form (RFC 1035 §5.1, RFC 3597 §5),
 * read into wire form, for what an operator types (dotd-ctl flush NAME TYPE). dotd's own so
 * that such a command does not load ldns (resolver/ldns_lib.h). No I/O, no allocation.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/**
 * The name @s (@n characters) in uncompressed wire form, case kept, in @wire (DNS_MAX_NAME
 * octets): labels split at unescaped dots, "\X" the character X, "\DDD" the octet of three
 * decimal digits (at most 255); one trailing dot or none, a lone "." the root.
 * @return its length (root label included) in *@wire_len, 0; -EINVAL for an empty label, a
 * name that is empty or a bad escape, -EMSGSIZE for a label over 63 octets, -ENAMETOOLONG over
 * 255 octets in all.
 */
int dns_name_from_text(const char *s, size_t n, uint8_t *wire, size_t *wire_len);

/**
 * The type of mnemonic @s (NUL-terminated, case aside: "AAAA", "https") or of its generic form
 * "TYPEnnn" (1 to 65535): 0 and the number in *@type; -EINVAL when it is neither.
 */
int dns_type_from_text(const char *s, uint16_t *type);

/** The mnemonic of @type, or NULL when it has none here. */
const char *dns_type_name(uint16_t type);

#define DNS_TYPE_TEXT_MAX sizeof("TYPE65535")

/** @type for messages: its mnemonic, or "TYPEnnn" (RFC 3597 §5) written in @buf of @cap. */
const char *dns_type_text(uint16_t type, char *buf, size_t cap);
