/*
 * dnssec_anchors: the trust anchor file (dnssec_anchors.h) read into one struct anchors.
 *
 * The file is read whole (at most ANCHORS_FILE_MAX bytes, a regular file only, no NUL byte)
 * and handed to ldns through fmemopen(): ldns_rr_new_frm_fp_l() parses one record per call,
 * skipping comments and blank lines and keeping $ORIGIN and $TTL in its out-parameters. ldns
 * counts lines as it reads but says nothing of where a record started; the reader finds that
 * line itself in the buffer (the first line not blank and not a comment since the previous
 * record), so that a message names the record's first line, also for a record in parentheses.
 *
 * The struct anchors owns one array of zones, each with its DS and DNSKEY arrays; every byte
 * is copied out of ldns's records, which are freed as soon as they are read. Trust anchor
 * files hold a handful of names (the root, maybe a private zone), so lookups are linear.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnssec_anchors.h"
#include "dns_text.h"
#include "ldns_lib.h"
#include "log.h"

#define NAME_WIRE_MAX	255 /* RFC 1035 §3.1 */
#define ERRORS_MAX	10  /* a file of junk gets this many messages, not one per line */
#define DNSKEY_PROTOCOL 3   /* RFC 4034 §2.1.2 */

struct anchors {
	struct anchor_zone *zones; /**< owned array of n_zones, in file order */
	size_t n_zones;
};

/* One anchors_load() call. */
struct reader {
	const char *path; /**< borrowed: the file's name, for messages */
	FILE *err;	  /**< borrowed, or NULL */
	const char *buf;  /**< borrowed: the file's bytes */
	size_t len;	  /**< bytes in buf */
	size_t cursor;	  /**< offset of the start of line cursor_line in buf */
	unsigned cursor_line;
	unsigned n_errors;
	unsigned n_revoked; /**< DNSKEY records skipped as revoked */
	unsigned n_added;   /**< DS and DNSKEY records kept */
};

static void reader_error(struct reader *r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "PATH:LINE: REASON", or "PATH: REASON" when @line is 0; counted. */
static void reader_error(struct reader *r, unsigned line, const char *fmt, ...)
{
	va_list ap;

	r->n_errors++;
	if (!r->err || r->n_errors > ERRORS_MAX) {
		return;
	}
	if (line) {
		fprintf(r->err, "%s:%u: ", r->path, line);
	} else {
		fprintf(r->err, "%s: ", r->path);
	}
	va_start(ap, fmt);
	vfprintf(r->err, fmt, ap);
	va_end(ap);
	fputc('\n', r->err);
}

/* Whether the line starting at offset @at of the buffer holds no record: blank or a comment. */
static bool line_is_empty(const struct reader *r, size_t at)
{
	while (at < r->len && (r->buf[at] == ' ' || r->buf[at] == '\t' || r->buf[at] == '\r')) {
		at++;
	}
	return at >= r->len || r->buf[at] == '\n' || r->buf[at] == ';';
}

/* The offset of the next line after the one starting at @at (r->len at the end). */
static size_t line_next(const struct reader *r, size_t at)
{
	const char *nl = memchr(r->buf + at, '\n', r->len - at);

	return nl ? (size_t)(nl - r->buf) + 1 : r->len;
}

/*
 * The first line at or after @line that holds something (a record or a directive): where
 * the record ldns is about to read, or has just failed to read, starts. Lines only move on.
 */
static unsigned record_line(struct reader *r, unsigned line)
{
	while (r->cursor_line < line && r->cursor < r->len) {
		r->cursor = line_next(r, r->cursor);
		r->cursor_line++;
	}
	while (r->cursor < r->len && line_is_empty(r, r->cursor)) {
		r->cursor = line_next(r, r->cursor);
		r->cursor_line++;
	}
	return r->cursor_line;
}

/*
 * The whole file @path into *@buf (owned by the caller) and *@len: a regular file (not a
 * FIFO that never ends, nor a device) of at most ANCHORS_FILE_MAX bytes.
 */
static int read_whole(struct reader *r, char **buf, size_t *len)
{
	struct stat st;
	size_t n = 0;
	char *b;
	int fd;
	int rc;

	fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		reader_error(r, 0, "cannot open: %s", strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		reader_error(r, 0, "cannot stat: %s", strerror(errno));
		goto cleanup_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		reader_error(r, 0, "not a regular file");
		goto cleanup_fd;
	}
	/* One byte more than allowed, to tell a file of exactly the limit from a longer one. */
	b = malloc(ANCHORS_FILE_MAX + 1);
	if (!b) {
		rc = -ENOMEM;
		goto cleanup_fd;
	}
	while (n <= ANCHORS_FILE_MAX) {
		ssize_t got = read(fd, b + n, ANCHORS_FILE_MAX + 1 - n);

		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got < 0) {
			rc = -errno;
			reader_error(r, 0, "cannot read: %s", strerror(errno));
			goto cleanup_buf;
		}
		if (got == 0) {
			break;
		}
		n += (size_t)got;
	}
	if (n > ANCHORS_FILE_MAX) {
		rc = -EINVAL;
		reader_error(r, 0, "larger than %u bytes: not a trust anchor file",
			     ANCHORS_FILE_MAX);
		goto cleanup_buf;
	}
	*buf = b;
	*len = n;
	close(fd);
	return 0;

cleanup_buf:
	free(b);
cleanup_fd:
	close(fd);
	return rc;
}

/* The zone of owner @owner (lower case already), added at the end if it is new. */
static int zone_get(struct anchors *a, const ldns_rdf *owner, unsigned line,
		    struct anchor_zone **out)
{
	const uint8_t *name = ldns_rdf_data(owner);
	size_t name_len = ldns_rdf_size(owner);
	struct anchor_zone *zones;
	struct anchor_zone *z;

	for (size_t i = 0; i < a->n_zones; i++) {
		z = &a->zones[i];
		if (z->name_len == name_len && memcmp(z->name_wire, name, name_len) == 0) {
			*out = z;
			return 0;
		}
	}
	zones = realloc(a->zones, (a->n_zones + 1) * sizeof(*zones));
	if (!zones) {
		return -ENOMEM;
	}
	a->zones = zones;
	z = &zones[a->n_zones];
	memset(z, 0, sizeof(*z));
	z->name_wire = malloc(name_len);
	if (!z->name_wire) {
		return -ENOMEM;
	}
	memcpy(z->name_wire, name, name_len);
	z->name_len = name_len;
	z->line = line;
	a->n_zones++;
	*out = z;
	return 0;
}

/* The digest length of DS digest type @type, 0 for a type we do not know (RFC 4034 §5.1.4). */
static size_t ds_digest_len(uint8_t type)
{
	switch (type) {
	case LDNS_SHA1:
		return 20; /* RFC 3658 */
	case LDNS_SHA256:
		return 32; /* RFC 4509 §2.2 */
	case LDNS_SHA384:
		return 48; /* RFC 6605 §2 */
	default:
		return 0;
	}
}

static int add_ds(struct reader *r, struct anchors *a, const ldns_rr *rr, unsigned line)
{
	struct anchor_ds ds;
	struct anchor_ds *arr;
	struct anchor_zone *z;
	const ldns_rdf *digest;
	size_t want;
	int rc;

	if (ldns_rr_rd_count(rr) != 4) {
		reader_error(r, line,
			     "a DS record has 4 fields: key tag, algorithm, digest type, "
			     "digest");
		return -EINVAL;
	}
	ds.key_tag = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
	ds.algorithm = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
	ds.digest_type = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
	digest = ldns_rr_rdf(rr, 3);
	ds.digest_len = ldns_rdf_size(digest);
	if (ds.digest_type == 0) {
		reader_error(r, line, "DS digest type 0 is reserved (RFC 4034 §5.1.3)");
		return -EINVAL;
	}
	want = ds_digest_len(ds.digest_type);
	if (want && ds.digest_len != want) {
		reader_error(r, line, "a DS digest of type %u has %zu bytes, not %zu",
			     ds.digest_type, ds.digest_len, want);
		return -EINVAL;
	}
	if (ds.digest_len == 0) {
		reader_error(r, line, "the DS digest is empty");
		return -EINVAL;
	}
	rc = zone_get(a, ldns_rr_owner(rr), line, &z);
	if (rc < 0) {
		return rc;
	}
	arr = realloc(z->ds, (z->n_ds + 1) * sizeof(*arr));
	if (!arr) {
		return -ENOMEM;
	}
	z->ds = arr;
	ds.digest = malloc(ds.digest_len);
	if (!ds.digest) {
		return -ENOMEM;
	}
	memcpy(ds.digest, ldns_rdf_data(digest), ds.digest_len);
	z->ds[z->n_ds++] = ds;
	r->n_added++;
	return 0;
}

static int add_dnskey(struct reader *r, struct anchors *a, const ldns_rr *rr, unsigned line)
{
	struct anchor_dnskey key;
	struct anchor_dnskey *arr;
	struct anchor_zone *z;
	const ldns_rdf *pub;
	int rc;

	if (ldns_rr_rd_count(rr) != 4) {
		reader_error(r, line,
			     "a DNSKEY record has 4 fields: flags, protocol, algorithm, "
			     "public key");
		return -EINVAL;
	}
	key.flags = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
	key.protocol = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
	key.algorithm = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
	key.key_tag = ldns_calc_keytag(rr);
	pub = ldns_rr_rdf(rr, 3);
	key.key_len = ldns_rdf_size(pub);
	/* RFC 4034 §2.1.1: without the zone key bit, the key cannot verify any RRset. */
	if (!(key.flags & ANCHOR_FLAG_ZONE)) {
		reader_error(r, line,
			     "DNSKEY %u (flags %u) is not a zone key (flags bit 7, RFC 4034 "
			     "§2.1.1): it cannot be a trust anchor",
			     key.key_tag, key.flags);
		return -EINVAL;
	}
	if (key.protocol != DNSKEY_PROTOCOL) {
		reader_error(r, line, "DNSKEY %u has protocol %u, not 3 (RFC 4034 §2.1.2)",
			     key.key_tag, key.protocol);
		return -EINVAL;
	}
	if (key.key_len == 0) {
		reader_error(r, line, "DNSKEY %u has an empty public key", key.key_tag);
		return -EINVAL;
	}
	/*
	 * RFC 5011 §2.1: a key with the REVOKE bit set must not be used as a trust anchor. It
	 * stays in files that RFC 5011 tools keep (unbound's auto-trust-anchor-file does),
	 * which are otherwise fine: skipped, with a warning.
	 */
	if (key.flags & ANCHOR_FLAG_REVOKE) {
		r->n_revoked++;
		if (r->err) {
			fprintf(r->err,
				"%s:%u: warning: DNSKEY %u is revoked (flags bit 8, RFC 5011 "
				"§2.1), "
				"skipped\n",
				r->path, line, key.key_tag);
		}
		return 0;
	}
	rc = zone_get(a, ldns_rr_owner(rr), line, &z);
	if (rc < 0) {
		return rc;
	}
	arr = realloc(z->keys, (z->n_keys + 1) * sizeof(*arr));
	if (!arr) {
		return -ENOMEM;
	}
	z->keys = arr;
	key.key = malloc(key.key_len);
	if (!key.key) {
		return -ENOMEM;
	}
	memcpy(key.key, ldns_rdf_data(pub), key.key_len);
	z->keys[z->n_keys++] = key;
	r->n_added++;
	return 0;
}

/* One record ldns read, which began on @line. */
static int add_rr(struct reader *r, struct anchors *a, ldns_rr *rr, unsigned line)
{
	ldns_rr_type type = ldns_rr_get_type(rr);
	char type_name[DNS_TYPE_TEXT_MAX];

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		reader_error(r, line, "not of class IN");
		return -EINVAL;
	}
	/*
	 * Lower case (RFC 4034 §6.2): the wire form of the owner is the key of its zone. ldns
	 * keeps the name as written otherwise.
	 */
	ldns_dname2canonical(ldns_rr_owner(rr));
	if (type == LDNS_RR_TYPE_DS) {
		return add_ds(r, a, rr, line);
	}
	if (type == LDNS_RR_TYPE_DNSKEY) {
		return add_dnskey(r, a, rr, line);
	}
	/*
	 * Another type is refused, not skipped: a file with one is not what it is said to be
	 * (root.hints, next to root.key in /usr/share/dns, is NS and A records; a whole zone
	 * file would bring its own keys and records along), and a trust anchor is the one
	 * place where dotd should not guess.
	 */
	reader_error(r, line,
		     "not a DS or DNSKEY record (%s): a trust anchor file holds only those",
		     dns_type_text(type, type_name, sizeof(type_name)));
	return -EINVAL;
}

/* The records of r->buf into @a; errors counted in r->n_errors. */
static int parse_records(struct reader *r, struct anchors *a)
{
	ldns_rdf *origin, *prev = NULL;
	uint32_t ttl = 3600;
	int line_nr = 1;
	FILE *fp;
	int rc = ldns_lib_load();

	if (rc != 0) {
		reader_error(r, 0, "cannot be read: ldns cannot be loaded (dotd's log says why)");
		return rc;
	}
	origin = ldns_dname_new_frm_str(".");
	if (!origin) {
		return -ENOMEM;
	}
	fp = fmemopen((void *)r->buf, r->len, "r");
	if (!fp) {
		rc = -errno;
		goto cleanup_origin;
	}
	while (!feof(fp) && r->n_errors < ERRORS_MAX) {
		unsigned line = record_line(r, (unsigned)line_nr);
		ldns_rr *rr = NULL;
		ldns_status s;

		if (r->cursor >= r->len) {
			break;
		}
		s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line_nr);
		if (s == LDNS_STATUS_OK && rr) {
			rc = add_rr(r, a, rr, line);
			ldns_rr_free(rr);
			if (rc == -ENOMEM) {
				goto cleanup_fp;
			}
			rc = 0;
			continue;
		}
		ldns_rr_free(rr);
		if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
		    s == LDNS_STATUS_SYNTAX_ORIGIN) {
			continue;
		}
		if (s == LDNS_STATUS_MEM_ERR) {
			rc = -ENOMEM;
			goto cleanup_fp;
		}
		if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
			reader_error(r, line, "$INCLUDE is not supported: put the records here");
		} else {
			reader_error(r, line, "not a DS or DNSKEY record (%s)",
				     ldns_get_errorstr_by_id(s));
		}
	}

cleanup_fp:
	fclose(fp);
cleanup_origin:
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
}

/* The anchors of file @path added to @a: 0, -EINVAL (errors written), -ENOMEM or -errno. */
static int load_one(const char *path, struct anchors *a, FILE *err)
{
	struct reader r = {.path = path, .err = err, .cursor_line = 1};
	const char *nul;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_whole(&r, &buf, &len);
	if (rc < 0) {
		return rc;
	}
	r.buf = buf;
	r.len = len;
	/* ldns reads a C string: a NUL byte would end the file early, and silently. */
	nul = memchr(buf, '\0', len);
	if (nul) {
		unsigned line = 1;

		for (const char *c = buf; c < nul; c++) {
			line += *c == '\n';
		}
		reader_error(&r, line, "a NUL byte: not a text file");
		rc = -EINVAL;
		goto cleanup_buf;
	}
	if (len > 0) {
		rc = parse_records(&r, a);
		if (rc < 0) {
			goto cleanup_buf;
		}
	}
	if (r.n_errors > ERRORS_MAX && err) {
		fprintf(err, "%s: more errors not shown\n", path);
	}
	if (r.n_errors == 0 && r.n_added == 0) {
		if (len == 0) {
			reader_error(&r, 0, "empty: no trust anchor in it");
		} else if (r.n_revoked) {
			reader_error(&r, 0, "every DNSKEY in it is revoked: no trust anchor left");
		} else {
			reader_error(&r, 0, "no DS or DNSKEY record in it");
		}
	}
	rc = r.n_errors ? -EINVAL : 0;

cleanup_buf:
	free(buf);
	return rc;
}

int anchors_load_files(const char *const *paths, size_t n_paths, struct anchors **out, FILE *err)
{
	struct anchors *a;
	int rc = 0;

	REQUIRE(paths && n_paths > 0 && out);
	a = calloc(1, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	/* Every file is read, so that one load reports the mistakes of all of them. */
	for (size_t i = 0; i < n_paths && rc != -ENOMEM; i++) {
		int one = load_one(paths[i], a, err);

		if (one < 0 && rc == 0) {
			rc = one;
		} else if (one == -ENOMEM) {
			rc = one;
		}
	}
	if (rc < 0) {
		anchors_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int anchors_load(const char *path, struct anchors **out, FILE *err)
{
	REQUIRE(path);
	return anchors_load_files(&path, 1, out, err);
}

void anchors_free(struct anchors *a)
{
	if (!a) {
		return;
	}
	for (size_t i = 0; i < a->n_zones; i++) {
		struct anchor_zone *z = &a->zones[i];

		for (size_t j = 0; j < z->n_ds; j++) {
			free(z->ds[j].digest);
		}
		for (size_t j = 0; j < z->n_keys; j++) {
			free(z->keys[j].key);
		}
		free(z->ds);
		free(z->keys);
		free(z->name_wire);
	}
	free(a->zones);
	free(a);
}

size_t anchors_count(const struct anchors *a)
{
	REQUIRE(a);
	return a->n_zones;
}

const struct anchor_zone *anchors_at(const struct anchors *a, size_t i)
{
	REQUIRE(a && i < a->n_zones);
	return &a->zones[i];
}

const struct anchor_zone *anchors_find(const struct anchors *a, const uint8_t *name_wire)
{
	uint8_t lower[NAME_WIRE_MAX];
	size_t n = 0;

	REQUIRE(a && name_wire);
	/* Lower case, label by label (a length byte is never a letter's code, < 64). */
	for (;;) {
		size_t label = name_wire[n];

		if (label > 63 || n + 1 + label > sizeof(lower)) {
			return NULL;
		}
		lower[n] = (uint8_t)label;
		for (size_t i = 1; i <= label; i++) {
			uint8_t c = name_wire[n + i];

			lower[n + i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
		}
		n += 1 + label;
		if (label == 0) {
			break;
		}
	}
	for (size_t i = 0; i < a->n_zones; i++) {
		const struct anchor_zone *z = &a->zones[i];

		if (z->name_len == n && memcmp(z->name_wire, lower, n) == 0) {
			return z;
		}
	}
	return NULL;
}
