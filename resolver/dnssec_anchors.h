/*
 * dnssec_anchors: DNSSEC trust anchors (RFC 4033 §3.1, RFC 4035 §4.3) read from a file in
 * zone-file form, as Debian's dns-root-data ships the root's (/usr/share/dns/root.key) and as
 * unbound's trust-anchor-file takes them: DS and DNSKEY records, ';' comments, $ORIGIN and
 * $TTL, records spread over lines in parentheses. ldns parses the records; nothing here checks
 * a signature or computes a digest (that is the validator's, with wolfSSL).
 *
 * A struct anchors is immutable once loaded and owned by whoever loaded it (the configuration
 * snapshot); lookups write nothing, so workers may share it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A trust anchor file is a few records; anything much larger is not one. */
#define ANCHORS_FILE_MAX (1u << 20)

/* DNSKEY flags (RFC 4034 §2.1.1, RFC 5011 §2.1). */
#define ANCHOR_FLAG_ZONE   0x0100 /* bit 7: a zone key, the only kind that signs RRsets */
#define ANCHOR_FLAG_REVOKE 0x0080 /* bit 8: revoked by the zone (RFC 5011 §2.1) */
#define ANCHOR_FLAG_SEP	   0x0001 /* bit 15: secure entry point, a hint only */

/** A DS anchor (RFC 4034 §5.1): the digest of the DNSKEY the zone's apex must hold. */
struct anchor_ds {
	uint16_t key_tag;    /**< of the DNSKEY it stands for (RFC 4034 Appendix B) */
	uint8_t algorithm;   /**< that DNSKEY's algorithm */
	uint8_t digest_type; /**< 1 SHA-1, 2 SHA-256, 4 SHA-384; others kept as written */
	uint8_t *digest;     /**< owned: digest_len bytes */
	size_t digest_len;
};

/** A DNSKEY anchor (RFC 4034 §2.1): a zone key, never a revoked one. */
struct anchor_dnskey {
	uint16_t flags;	   /**< ANCHOR_FLAG_ZONE always set, ANCHOR_FLAG_REVOKE never */
	uint8_t protocol;  /**< always 3 (RFC 4034 §2.1.2) */
	uint8_t algorithm; /**< kept as written: the validator decides what it supports */
	uint16_t key_tag;  /**< computed from the record (RFC 4034 Appendix B) */
	uint8_t *key;	   /**< owned: the public key, key_len bytes */
	size_t key_len;
};

/** The anchors of one owner name: the DS and DNSKEY records the file gives for it. */
struct anchor_zone {
	uint8_t *name_wire;   /**< owned: the owner name, lower case, in wire format */
	size_t name_len;      /**< bytes of name_wire, the root label included */
	struct anchor_ds *ds; /**< owned array of n_ds, or NULL */
	size_t n_ds;
	struct anchor_dnskey *keys; /**< owned array of n_keys, or NULL */
	size_t n_keys;
	unsigned line; /**< line of the zone's first record in the file */
};

struct anchors;

/**
 * Read the trust anchors of file @path into a new struct anchors in *@out and return 0.
 * Errors are written to @err (may be NULL) as "PATH:LINE: REASON", or "PATH: REASON" for the
 * file as a whole, and the load returns -EINVAL (-ENOMEM, or -errno when the file cannot be
 * read); *@out is then left alone. Refused: a record of another type than DS or DNSKEY, a
 * class other than IN, $INCLUDE, a DNSKEY that is no zone key or not of protocol 3, a DS whose
 * digest has the wrong length for its type, a file larger than ANCHORS_FILE_MAX, and a file
 * with no usable anchor. A revoked DNSKEY (RFC 5011 §2.1) is skipped with a warning to @err.
 */
int anchors_load(const char *path, struct anchors **out, FILE *err);

/**
 * As anchors_load() on each of the @n_paths files @paths (at least one), into one struct
 * anchors: the anchors of an owner name are those of all the files. Every file is read, and
 * each must hold a usable anchor; the first error is returned.
 */
int anchors_load_files(const char *const *paths, size_t n_paths, struct anchors **out, FILE *err);

/** Free @a and everything it owns; NULL is allowed. */
void anchors_free(struct anchors *a);

/** How many owner names have anchors. */
size_t anchors_count(const struct anchors *a);

/** The anchors of the @i-th owner name (in file order), @i < anchors_count(). */
const struct anchor_zone *anchors_at(const struct anchors *a, size_t i);

/**
 * The anchors for exactly the owner name @name_wire (wire format, any case), or NULL. Finding
 * the closest enclosing anchor of a name is the caller's walk up its labels.
 */
const struct anchor_zone *anchors_find(const struct anchors *a, const uint8_t *name_wire);
