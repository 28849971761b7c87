/*
 * test_anchors: DNSSEC trust anchor files (resolver/dnssec_anchors.c).
 *
 * Debian's /usr/share/dns/root.key (dns-root-data) when it is installed, and files written
 * to a temporary directory: DS only, DNSKEY only, comments, $ORIGIN and $TTL, a record in
 * parentheses; then hostile ones, each of which must fail with -EINVAL, store nothing and
 * name the file (and the line, where there is one): garbage, a revoked key alone, an A
 * record, $INCLUDE, 2 MB of junk, a file that does not exist.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnssec_anchors.h"
#include "unit.h"

#define ROOT_KEY "/usr/share/dns/root.key"

/* The root KSK-2017 (key tag 20326), as in root.key and IANA's root-anchors.xml. */
#define KSK_20326                                                                                  \
	"AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN" \
	"7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8" \
	"efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLY" \
	"A4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="
#define DS_20326 "20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

static const uint8_t root_wire[] = {0};
static const uint8_t example_wire[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

static char dir[] = "/tmp/test_anchors.XXXXXX";
static char path[sizeof(dir) + 32];

/* Write @len bytes of @text to a new file in dir; its name is left in path. */
static const char *write_file(const char *name, const char *text, size_t len)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(text, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
	return path;
}

/* Load @file; *@msgs (owned by the caller) gets what was written to err. */
static int load(const char *file, struct anchors **out, char **msgs)
{
	size_t len = 0;
	FILE *err = open_memstream(msgs, &len);
	int rc;

	CU_ASSERT_FATAL(err != NULL);
	rc = anchors_load(file, out, err);
	fclose(err);
	return rc;
}

static bool contains(const char *msgs, const char *needle)
{
	if (strstr(msgs, needle)) {
		return true;
	}
	fprintf(stderr, "\n  expected '%s' in:\n%s", needle, msgs);
	return false;
}

/* @text (as file @name) must load with nothing printed; the caller frees the anchors. */
static struct anchors *load_ok(const char *name, const char *text)
{
	struct anchors *a = NULL;
	char *msgs;
	int rc = load(write_file(name, text, strlen(text)), &a, &msgs);

	if (rc != 0 || msgs[0]) {
		fprintf(stderr, "\n  load failed (%d):\n%s", rc, msgs);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
	CU_ASSERT_FATAL(a != NULL);
	return a;
}

/* @len bytes of @text (as file @name) must fail with -EINVAL and print "PATH@where". */
static void expect_error_len(const char *name, const char *text, size_t len, const char *where)
{
	static char sentinel; /* *out must keep this value: struct anchors is opaque */
	struct anchors *a = (struct anchors *)&sentinel;
	char needle[sizeof(path) + 200];
	char *msgs;
	int rc = load(write_file(name, text, len), &a, &msgs);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(a, (struct anchors *)&sentinel);
	snprintf(needle, sizeof(needle), "%s%s", path, where);
	CU_ASSERT(contains(msgs, needle));
	free(msgs);
}

static void expect_error(const char *name, const char *text, const char *where)
{
	expect_error_len(name, text, strlen(text), where);
}

static void test_debian_root_key(void)
{
	const struct anchor_zone *z;
	struct anchors *a = NULL;
	bool found = false;
	char *msgs;

	if (access(ROOT_KEY, R_OK) != 0) {
		fprintf(stderr, "\n  %s missing (apt-get install dns-root-data): skipped\n",
			ROOT_KEY);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(load(ROOT_KEY, &a, &msgs), 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
	CU_ASSERT_EQUAL(anchors_count(a), 1);
	z = anchors_find(a, root_wire);
	CU_ASSERT_FATAL(z != NULL);
	CU_ASSERT_EQUAL(z->name_len, 1);
	CU_ASSERT(z->n_keys >= 1);
	for (size_t i = 0; i < z->n_keys; i++) {
		const struct anchor_dnskey *k = &z->keys[i];

		CU_ASSERT(k->flags & ANCHOR_FLAG_ZONE);
		CU_ASSERT_EQUAL(k->protocol, 3);
		if (k->key_tag == 20326) {
			found = true;
			CU_ASSERT_EQUAL(k->flags, 257);
			CU_ASSERT_EQUAL(k->algorithm, 8);
			CU_ASSERT_EQUAL(k->key_len, 260); /* RSA-2048: exponent length, 3, 256 */
		}
	}
	CU_ASSERT(found);
	CU_ASSERT_PTR_NULL(anchors_find(a, example_wire));
	anchors_free(a);
}

static void test_ds_only(void)
{
	static const uint8_t digest_start[] = {0xe0, 0x6d, 0x44, 0xb8};
	struct anchors *a = load_ok("ds.key", ". 86400 IN DS " DS_20326 "\n");
	const struct anchor_zone *z = anchors_find(a, root_wire);

	CU_ASSERT_FATAL(z != NULL);
	CU_ASSERT_EQUAL(z->n_keys, 0);
	CU_ASSERT_EQUAL_FATAL(z->n_ds, 1);
	CU_ASSERT_EQUAL(z->ds[0].key_tag, 20326);
	CU_ASSERT_EQUAL(z->ds[0].algorithm, 8);
	CU_ASSERT_EQUAL(z->ds[0].digest_type, 2);
	CU_ASSERT_EQUAL_FATAL(z->ds[0].digest_len, 32);
	CU_ASSERT(memcmp(z->ds[0].digest, digest_start, sizeof(digest_start)) == 0);
	CU_ASSERT_EQUAL(z->ds[0].digest[31], 0x8d);
	anchors_free(a);
}

static void test_dnskey_only(void)
{
	struct anchors *a = load_ok("dnskey.key", ". IN DNSKEY 257 3 8 " KSK_20326 "\n");
	const struct anchor_zone *z = anchors_find(a, root_wire);

	CU_ASSERT_FATAL(z != NULL);
	CU_ASSERT_EQUAL(z->n_ds, 0);
	CU_ASSERT_EQUAL_FATAL(z->n_keys, 1);
	CU_ASSERT_EQUAL(z->keys[0].key_tag, 20326);
	CU_ASSERT_EQUAL(z->keys[0].flags, 257);
	anchors_free(a);
}

/* unbound's trust-anchor-file form: comments, $ORIGIN, $TTL, a record in parentheses. */
static void test_unbound_form(void)
{
	static const uint8_t mixed_case[] = {7, 'E', 'x', 'A', 'm', 'P', 'l', 'E', 0};
	struct anchors *a =
		load_ok("unbound.key", "; trust anchors for a lab\n"
				       "\n"
				       "$ORIGIN Example.\n"
				       "$TTL 3600\n"
				       "@ IN DS " DS_20326 " ; a comment after a record\n"
				       "   ; an indented comment\n"
				       "@ DNSKEY ( 257 3 8\n"
				       "\t" KSK_20326 " ) ; key tag 20326\n"
				       ". IN DS " DS_20326 "\n");
	const struct anchor_zone *z = anchors_find(a, mixed_case);

	CU_ASSERT_EQUAL(anchors_count(a), 2);
	CU_ASSERT_FATAL(z != NULL);
	CU_ASSERT_PTR_EQUAL(z, anchors_at(a, 0));
	CU_ASSERT_EQUAL(z->line, 5);
	CU_ASSERT_EQUAL(z->n_ds, 1);
	CU_ASSERT_EQUAL(z->n_keys, 1);
	CU_ASSERT(memcmp(z->name_wire, example_wire, sizeof(example_wire)) == 0);
	z = anchors_find(a, root_wire);
	CU_ASSERT_FATAL(z != NULL);
	CU_ASSERT_EQUAL(z->line, 9);
	anchors_free(a);
}

static void test_revoked(void)
{
	struct anchors *a = NULL;
	char *msgs;

	/* Revoked (257 | 128) alone: nothing left. */
	expect_error("revoked.key", ". IN DNSKEY 385 3 8 " KSK_20326 "\n", ": every DNSKEY");
	/* Next to a good DS: skipped, with a warning naming the line. */
	write_file("revoked2.key",
		   ". IN DS " DS_20326 "\n"
		   ". IN DNSKEY 385 3 8 " KSK_20326 "\n",
		   strlen(". IN DS " DS_20326 "\n. IN DNSKEY 385 3 8 " KSK_20326 "\n"));
	CU_ASSERT_EQUAL_FATAL(load(path, &a, &msgs), 0);
	CU_ASSERT(contains(msgs, ":2: warning: DNSKEY"));
	CU_ASSERT(contains(msgs, "revoked"));
	CU_ASSERT_EQUAL(anchors_find(a, root_wire)->n_keys, 0);
	CU_ASSERT_EQUAL(anchors_find(a, root_wire)->n_ds, 1);
	free(msgs);
	anchors_free(a);
}

static void test_hostile(void)
{
	char *junk;

	expect_error("garbage.key",
		     "; fine so far\n"
		     ". IN DS " DS_20326 "\n"
		     "this is not a record at all\n",
		     ":3: not a DS or DNSKEY record");
	expect_error("a.key", ". IN DS " DS_20326 "\nexample. IN A 192.0.2.1\n",
		     ":2: not a DS or DNSKEY record (A)");
	expect_error("include.key", "$INCLUDE /etc/passwd\n", ":1: $INCLUDE is not supported");
	expect_error("empty.key", "", ": empty");
	expect_error("comments.key", "; nothing\n\n", ": no DS or DNSKEY record");
	expect_error("zsk-bit.key", ". IN DNSKEY 1 3 8 " KSK_20326 "\n", ":1: DNSKEY");
	expect_error("protocol.key", ". IN DNSKEY 257 2 8 " KSK_20326 "\n", ":1: DNSKEY");
	expect_error("short-ds.key", ". IN DS 20326 8 2 E06D44B8\n", ":1: a DS digest of type 2");
	expect_error("ch.key", ". CH DS " DS_20326 "\n", ":1: not of class IN");
	expect_error_len("nul.key", ". IN DS\0 1 8 2 AB\n", 18, ":1: a NUL byte");
	/* 2 MB of junk: refused for its size, before any parsing. */
	junk = malloc(2u << 20);
	CU_ASSERT_FATAL(junk != NULL);
	for (size_t i = 0; i < (2u << 20); i++) {
		junk[i] = (char)(' ' + (i * 7919 + i / 13) % 95);
	}
	expect_error_len("junk.key", junk, 2u << 20, ": larger than");
	/* 512 KiB of the same junk: parsed, refused, with a bounded number of messages. */
	expect_error_len("junk2.key", junk, 512u << 10, ":1: not a DS or DNSKEY record");
	free(junk);
}

static void test_not_there(void)
{
	struct anchors *a = NULL;
	char *msgs;

	CU_ASSERT_EQUAL(load("/nonexistent/root.key", &a, &msgs), -ENOENT);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT(contains(msgs, "/nonexistent/root.key: cannot open"));
	free(msgs);
	CU_ASSERT_EQUAL(load("/tmp", &a, &msgs), -EINVAL);
	CU_ASSERT(contains(msgs, "/tmp: not a regular file"));
	CU_ASSERT_PTR_NULL(a);
	free(msgs);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"Debian's root.key", test_debian_root_key},
		{"DS only", test_ds_only},
		{"DNSKEY only", test_dnskey_only},
		{"unbound's form: comments, $ORIGIN, $TTL", test_unbound_form},
		{"revoked keys", test_revoked},
		{"hostile files", test_hostile},
		{"a file that is not there", test_not_there},
		CU_TEST_INFO_NULL,
	};
	int rc;

	if (!mkdtemp(dir)) {
		return 2;
	}
	rc = unit_run("anchors", tests);
	/* The files of the tests, then the directory. */
	{
		static const char *const names[] = {
			"ds.key",	"dnskey.key",	"unbound.key", "revoked.key",
			"revoked2.key", "garbage.key",	"a.key",       "include.key",
			"empty.key",	"comments.key", "zsk-bit.key", "protocol.key",
			"short-ds.key", "ch.key",	"nul.key",     "junk.key",
			"junk2.key",
		};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			unlink(path);
		}
	}
	rmdir(dir);
	return rc;
}
