/*
 * The memory of ECDSA checks (tls/tls_dnssec.c): wolfCrypt built with FP_ECC, as Debian's is,
 * keeps a table of precomputed multiples (some 0.8 MB for P-256) for each point used twice, up
 * to FP_ENTRIES of them. tls_dnssec keeps the tables of the last ECDSA_TABLE_KEYS (2) zone keys
 * and drops them all when another comes. Here twelve P-256 keys of our own, each checking its
 * signature three times in turn: the heap in use (glibc's mallinfo2) must stay under what three
 * tables take, where without the bound it would hold one per key. wolfCrypt makes the keys and
 * signatures (a test of tls/ may include it); the check is tls_dnssec_verify().
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "tls_dnssec.h"
#include "unit.h"
#include "unit_heap.h"

#define N_KEYS	 12
#define ROUNDS	 3
#define ALG_P256 13 /* ECDSAP256SHA256 (RFC 6605) */

struct signed_key {
	uint8_t pub[64]; /* x | y, as a DNSKEY holds it */
	uint8_t sig[64]; /* r | s, as an RRSIG holds it */
};

static const uint8_t data[] = "the signed data of an RRset, as dns_rrsig_signed_data builds it";

/* A fresh P-256 key, its public key and its signature over @data in DNSSEC form. */
static void make_key(WC_RNG *rng, struct signed_key *out)
{
	uint8_t digest[WC_SHA256_DIGEST_SIZE], der[ECC_MAX_SIG_SIZE];
	word32 der_len = sizeof(der), xl = 32, yl = 32, rl = 32, sl = 32;
	uint8_t r[32], s[32];
	ecc_key k;

	CU_ASSERT_FATAL(wc_ecc_init(&k) == 0);
	CU_ASSERT_FATAL(wc_ecc_make_key(rng, 32, &k) == 0);
	CU_ASSERT_FATAL(wc_ecc_export_public_raw(&k, out->pub, &xl, out->pub + 32, &yl) == 0);
	CU_ASSERT_FATAL(xl == 32 && yl == 32);
	CU_ASSERT_FATAL(wc_Sha256Hash(data, sizeof(data), digest) == 0);
	CU_ASSERT_FATAL(wc_ecc_sign_hash(digest, sizeof(digest), der, &der_len, rng, &k) == 0);
	CU_ASSERT_FATAL(wc_ecc_sig_to_rs(der, der_len, r, &rl, s, &sl) == 0);
	/* r and s are big-endian and may come shorter: right-aligned in 32 octets each. */
	memset(out->sig, 0, sizeof(out->sig));
	memcpy(out->sig + 32 - rl, r, rl);
	memcpy(out->sig + 64 - sl, s, sl);
	wc_ecc_free(&k);
}

static void test_tables_bounded(void)
{
	static struct signed_key keys[N_KEYS];
	size_t base, peak = 0, one;
	WC_RNG rng;

	CU_ASSERT_FATAL(wc_InitRng(&rng) == 0);
	for (size_t i = 0; i < N_KEYS; i++) {
		make_key(&rng, &keys[i]);
	}
	wc_FreeRng(&rng);
	wc_ecc_fp_free();

	/* One key checked over and over: what one table (and the base point's) takes. */
	base = heap_in_use();
	for (int n = 0; n < 4; n++) {
		CU_ASSERT_EQUAL(tls_dnssec_verify(ALG_P256, keys[0].pub, 64, data, sizeof(data),
						  keys[0].sig, 64),
				0);
	}
	one = heap_in_use() > base ? heap_in_use() - base : 0;
	printf("\n    heap for one key's tables: %zu bytes\n", one);

	/* Every key, each checked ROUNDS times in turn. */
	for (int round = 0; round < ROUNDS; round++) {
		for (size_t i = 0; i < N_KEYS; i++) {
			size_t now;

			CU_ASSERT_EQUAL(tls_dnssec_verify(ALG_P256, keys[i].pub, 64, data,
							  sizeof(data), keys[i].sig, 64),
					0);
			CU_ASSERT_EQUAL(tls_dnssec_verify(ALG_P256, keys[i].pub, 64, data,
							  sizeof(data), keys[i].sig, 64),
					0);
			now = heap_in_use();
			if (now > base && now - base > peak) {
				peak = now - base;
			}
		}
	}
	printf("    heap at most %zu bytes over %d keys\n", peak, N_KEYS);
	/* With FP_ECC the one key took a table; twelve never hold more than three. */
#ifdef FP_ECC
	CU_ASSERT(one > 100000);
	CU_ASSERT(peak < 3 * one + 65536);
#endif
	/* A wrong signature still fails after the tables went. */
	keys[1].sig[10] ^= 1;
	CU_ASSERT_NOT_EQUAL(
		tls_dnssec_verify(ALG_P256, keys[1].pub, 64, data, sizeof(data), keys[1].sig, 64),
		0);
	wc_ecc_fp_free();
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"ECDSA tables bounded (FP_ECC)", test_tables_bounded},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dnssec_mem", tests);
}
