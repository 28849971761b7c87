/*
 * test_dns_frame: RFC 7766 §8 stream reassembly (cache/dns_frame.c) under every chunking:
 * one byte at a time, random cuts, many messages in one chunk, the largest message (65535),
 * and a zero length prefix, which is a protocol error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_frame.h"
#include "unit.h"

#define N_MSGS 200

/* A stream of N_MSGS messages of varied sizes; message i is filled with byte i. */
static uint8_t *make_stream(size_t *len, size_t *sizes)
{
	size_t total = 0;
	uint8_t *s, *p;

	for (int i = 0; i < N_MSGS; i++) {
		sizes[i] = 12 + (size_t)((i * 7919) % 1500);
		total += 2 + sizes[i];
	}
	s = malloc(total);
	p = s;
	for (int i = 0; i < N_MSGS; i++) {
		p[0] = (uint8_t)(sizes[i] >> 8);
		p[1] = (uint8_t)sizes[i];
		memset(p + 2, i & 0xff, sizes[i]);
		p += 2 + sizes[i];
	}
	*len = total;
	return s;
}

/* Feed the stream in chunks chosen by @next_chunk; check every message comes out whole. */
static void feed(size_t (*next_chunk)(size_t left, unsigned *state))
{
	size_t sizes[N_MSGS], len, off = 0;
	uint8_t *s = make_stream(&len, sizes);
	struct dns_frame f;
	unsigned state = 1;
	int got = 0;

	dns_frame_init(&f);
	while (off < len) {
		size_t n = next_chunk(len - off, &state);
		const uint8_t *msg;
		size_t mlen;
		int ret;

		CU_ASSERT_EQUAL_FATAL(dns_frame_push(&f, s + off, n), 0);
		off += n;
		while ((ret = dns_frame_next(&f, &msg, &mlen)) == 1) {
			CU_ASSERT_EQUAL(mlen, sizes[got]);
			CU_ASSERT_EQUAL(msg[0], got & 0xff);
			CU_ASSERT_EQUAL(msg[mlen - 1], got & 0xff);
			got++;
		}
		CU_ASSERT_EQUAL(ret, 0);
	}
	CU_ASSERT_EQUAL(got, N_MSGS);
	CU_ASSERT_EQUAL(dns_frame_pending(&f), 0);
	dns_frame_free(&f);
	free(s);
}

static size_t one_byte(size_t left, unsigned *state)
{
	(void)left;
	(void)state;
	return 1;
}

static size_t random_cut(size_t left, unsigned *state)
{
	size_t n = 1 + rand_r(state) % 3000;

	return n < left ? n : left;
}

static size_t everything(size_t left, unsigned *state)
{
	(void)state;
	return left < 60000 ? left : 60000;
}

static void test_one_byte(void)
{
	feed(one_byte);
}

static void test_random(void)
{
	for (int i = 0; i < 20; i++) {
		feed(random_cut);
	}
}

static void test_large_chunks(void)
{
	feed(everything);
}

static void test_largest_message(void)
{
	static uint8_t buf[2 + 65535];
	struct dns_frame f;
	const uint8_t *msg;
	size_t mlen;

	buf[0] = 0xff;
	buf[1] = 0xff;
	memset(buf + 2, 0x5a, 65535);
	dns_frame_init(&f);
	CU_ASSERT_EQUAL(dns_frame_push(&f, buf, 1000), 0);
	CU_ASSERT_EQUAL(dns_frame_next(&f, &msg, &mlen), 0);
	CU_ASSERT_EQUAL(dns_frame_push(&f, buf + 1000, sizeof(buf) - 1000), 0);
	CU_ASSERT_EQUAL(dns_frame_next(&f, &msg, &mlen), 1);
	CU_ASSERT_EQUAL(mlen, 65535);
	CU_ASSERT_EQUAL(msg[65534], 0x5a);
	dns_frame_free(&f);
}

static void test_zero_length(void)
{
	const uint8_t s[] = {0, 2, 0xaa, 0xbb, 0, 0, 0, 5};
	struct dns_frame f;
	const uint8_t *msg;
	size_t mlen;

	dns_frame_init(&f);
	CU_ASSERT_EQUAL(dns_frame_push(&f, s, sizeof(s)), 0);
	CU_ASSERT_EQUAL(dns_frame_next(&f, &msg, &mlen), 1);
	CU_ASSERT_EQUAL(mlen, 2);
	CU_ASSERT_EQUAL(dns_frame_next(&f, &msg, &mlen), -EBADMSG);
	dns_frame_free(&f);
}

/* The free tail handed to a reader (libuv's alloc callback) is written in place. */
static void test_space_commit(void)
{
	struct dns_frame f;
	uint8_t *space;
	size_t room, mlen;
	const uint8_t *msg;

	dns_frame_init(&f);
	CU_ASSERT_EQUAL(dns_frame_space(&f, 100, &space, &room), 0);
	CU_ASSERT_TRUE(room >= 100);
	space[0] = 0;
	space[1] = 3;
	memcpy(space + 2, "abc", 3);
	dns_frame_commit(&f, 5);
	CU_ASSERT_EQUAL(dns_frame_next(&f, &msg, &mlen), 1);
	CU_ASSERT_EQUAL(mlen, 3);
	CU_ASSERT_EQUAL(memcmp(msg, "abc", 3), 0);
	dns_frame_free(&f);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"one byte at a time", test_one_byte},
		{"random chunking", test_random},
		{"large chunks", test_large_chunks},
		{"largest message", test_largest_message},
		{"zero length prefix", test_zero_length},
		{"space and commit", test_space_commit},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dns_frame", tests);
}
