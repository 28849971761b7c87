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
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		m = 0;
		for (int k = 7; k >= 0; k--) {
			m = (m << 8) | in[i + (size_t)k];
		}
		v[3] ^= m;
		siphash_round(v);
		siphash_round(v);
		v[0] ^= m;
	}
	for (int k = (int)(len - i) - 1; k >= 0; k--) {
		b |= (uint64_t)in[i + (size_t)k] << (8 * k);
	}
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
