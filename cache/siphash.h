/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012),
 * written from the paper's description. A keyed 64-bit hash: with a secret key from
 * getrandom(), input chosen by someone else (names from the network, a downloaded hosts file)
 * cannot be made to collide on purpose, so hash tables keyed by it stay O(1).
 *
 * Header-only (static inline) so that each library that hashes (cache/, resolver/hosts.c)
 * uses the one implementation without a link dependency between them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void siphash_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = SIPHASH_ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = SIPHASH_ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = SIPHASH_ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = SIPHASH_ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = SIPHASH_ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = SIPHASH_ROTL(v[2], 32);
}

/*
 * The 8 bytes at @p as a little-endian number, as the paper reads each block: one load on a
 * little-endian CPU (read a byte at a time, a hit's hash took half again as many instructions).
 */
static inline uint64_t siphash_le64(const uint8_t *p)
{
	uint64_t m;

	memcpy(&m, p, sizeof(m));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	m = __builtin_bswap64(m);
#endif
	return m;
}

/** SipHash-2-4 of @len bytes at @in under the 128-bit @key (k0, k1: the key's two halves). */
static inline uint64_t siphash(const uint64_t key[2], const uint8_t *in, size_t len)
{
	uint64_t v[4] = {
		key[0] ^ 0x736f6d6570736575ull,
		key[1] ^ 0x646f72616e646f6dull,
		key[0] ^ 0x6c7967656e657261ull,
		key[1] ^ 0x7465646279746573ull,
	};
	uint64_t m, b = (uint64_t)len << 56;
	uint8_t tail[8] = {0};
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		m = siphash_le64(in + i);
		v[3] ^= m;
		siphash_round(v);
		siphash_round(v);
		v[0] ^= m;
	}
	memcpy(tail, in + i, len - i);
	b |= siphash_le64(tail);
	v[3] ^= b;
	siphash_round(v);
	siphash_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int k = 0; k < 4; k++) {
		siphash_round(v);
	}
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
