/*
 * fuzz_validator: resolver/validator.c on whole answers and on the DS and DNSKEY answers it
 * asks for, as resolver/query.c drives it: val_answer() on the last message of the input, and
 * each question it asks answered by the next of the other messages (val_learn()), or by no
 * answer (NULL, a failed fetch) once they run out, for at most 64 steps. It must never crash,
 * leak or read out of bounds; it returns only what validator.h names; a question is a DS or
 * DNSKEY of a lower-case wire name; a verdict is one of the three, with an EDE code when bogus
 * and none when secure; the zone cache stays within its bound; and once the verdict is in, the
 * same answer classified again gives it again without a question (val_answer() only reads).
 *
 * The trust anchor is fixed: the root KSK whose private key tests/fuzz/gen_corpus.c signs the
 * seeds with. So is the clock (1800000000, inside the seeds' signatures). This target links
 * wolfSSL (uninstrumented) for the signature checks, as fuzz_dnssec does.
 *
 * FUZZ_VALIDATOR_VERBOSE=1 in the environment prints each verdict (to see what a seed or a
 * failing input does).
 *
 * Input: [length:2][message] repeated, big-endian lengths cut to what is left; the last message
 * is the answer, the others in order answer its questions.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnssec_anchors.h"
#include "dnssec_val.h"
#include "validator.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MSGS_MAX  65 /* 64 answers to questions, and the answer */
#define STEPS_MAX 64
#define ZONES_MAX 8

/* The root KSK of gen_corpus.c's validator seeds (key tag 36113). */
static const char anchor_text[] = ". 3600 IN DNSKEY 257 3 13 i3uuZOXCu0QPwK5qsCoyT9NhsjNT3I4pSNHYOh"
				  "WS3kou5k830NXv+852HHQWxPaAAxfEn+zfA3VLUp5JRpdxlA==\n";

static struct anchors *anchors;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/fuzz_validator.XXXXXX";
	int fd = mkstemp(path);

	(void)argc;
	(void)argv;
	CHECK(fd >= 0);
	CHECK(write(fd, anchor_text, sizeof(anchor_text) - 1) ==
	      (ssize_t)(sizeof(anchor_text) - 1));
	close(fd);
	CHECK(anchors_load(path, &anchors, stderr) == 0);
	unlink(path);
	return 0;
}

/* A question as validator.h says: DS or DNSKEY of a whole lower-case wire name. */
static void check_need(const struct val_need *need)
{
	size_t off = 0;

	CHECK(need->qtype == DNS_TYPE_DS || need->qtype == DNS_TYPE_DNSKEY);
	CHECK(need->name_len >= 1 && need->name_len <= DNS_MAX_NAME);
	while (need->name[off] != 0) {
		CHECK(need->name[off] <= 63);
		for (size_t i = 1; i <= need->name[off]; i++) {
			CHECK(off + i < need->name_len - 1);
			CHECK(need->name[off + i] < 'A' || need->name[off + i] > 'Z');
		}
		off += 1 + (size_t)need->name[off];
		CHECK(off < need->name_len);
	}
	CHECK(off == need->name_len - 1);
}

static void check_result(const struct val_result *res)
{
	CHECK(res->sec == VAL_SECURE || res->sec == VAL_INSECURE || res->sec == VAL_BOGUS);
	CHECK(memchr(res->why, '\0', sizeof(res->why)) != NULL);
	CHECK(res->ede >= -1 && res->ede <= 32);
	CHECK(res->sec != VAL_SECURE || res->ede == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg[MSGS_MAX];
	size_t len[MSGS_MAX], n = 0, used = 0;
	const struct val_ctx ctx = {.anchors = anchors, .now = 1800000000u, .mono = 1000};
	struct val_cache *vc = NULL;
	struct val_result res, again;
	struct val_need need;
	int ret = 1;

	while (size >= 2 && n < MSGS_MAX) {
		size_t l = (size_t)data[0] << 8 | data[1];

		data += 2;
		size -= 2;
		l = l < size ? l : size;
		msg[n] = data;
		len[n++] = l;
		data += l;
		size -= l;
	}
	if (n == 0) {
		return 0;
	}
	if (val_cache_new(ZONES_MAX, &vc) != 0) {
		return 0;
	}
	for (unsigned step = 0; step < STEPS_MAX; step++) {
		memset(&res, 0xa5, sizeof(res));
		ret = val_answer(vc, &ctx, msg[n - 1], len[n - 1], &res, &need);
		CHECK(ret == 0 || ret == 1 || ret == -ENOMEM);
		if (ret != 1) {
			break;
		}
		check_need(&need);
		if (used < n - 1) {
			ret = val_learn(vc, &ctx, &need, msg[used], len[used]);
			used++;
		} else {
			ret = val_learn(vc, &ctx, &need, NULL, 0);
		}
		CHECK(ret == 0 || ret == -ENOMEM);
		CHECK(val_cache_count(vc) <= ZONES_MAX);
		ret = 1;
	}
	if (ret == 0) {
		check_result(&res);
		if (getenv("FUZZ_VALIDATOR_VERBOSE")) {
			fprintf(stderr, "verdict %d, EDE %d, %zu of %zu answers used: %s\n",
				res.sec, res.ede, used, n - 1, res.why);
		}
		CHECK(val_answer(vc, &ctx, msg[n - 1], len[n - 1], &again, &need) == 0);
		CHECK(again.sec == res.sec && again.ede == res.ede);
	}
	CHECK(val_cache_count(vc) <= ZONES_MAX);
	CHECK(val_cache_bytes(vc) > 0);
	val_cache_free(vc);
	return 0;
}
