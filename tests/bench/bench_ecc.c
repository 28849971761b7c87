/*
 * bench_ecc: the elliptic-curve work of one TLS 1.3 handshake with an ECDSA P-256 server, the
 * way dotd did it (a P-256 key share, wolfCrypt's FP_ECC tables kept between handshakes) and the
 * way it does it (X25519 first, the tables dropped when each handshake ends: tls_ctx.c,
 * tls_dnssec.c). A full handshake: our key, the secret with a fresh server share, and two
 * ECDSA verifies (the CA's signature on the leaf, the leaf's CertificateVerify); a resumed one:
 * the key exchange only. A bench of tls/, so it may call wolfCrypt; it asserts nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#define N 40

static struct {
	WC_RNG rng;
	ecc_key ca, leaf, share[N];
	curve25519_key xshare[N];
	uint8_t hash[32];
	uint8_t sig_ca[ECC_MAX_SIG_SIZE], sig_leaf[ECC_MAX_SIG_SIZE];
	word32 ca_len, leaf_len;
} b;

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void exchange(bool x25519, int i)
{
	uint8_t secret[66];
	word32 len = sizeof(secret);

	if (x25519) {
		curve25519_key me;

		wc_curve25519_init(&me);
		wc_curve25519_make_key(&b.rng, CURVE25519_KEYSIZE, &me);
		wc_curve25519_shared_secret(&me, &b.xshare[i], secret, &len);
		wc_curve25519_free(&me);
	} else {
		ecc_key me;

		wc_ecc_init(&me);
		wc_ecc_make_key(&b.rng, 32, &me);
		wc_ecc_set_rng(&me, &b.rng);
		wc_ecc_shared_secret(&me, &b.share[i], secret, &len);
		wc_ecc_free(&me);
	}
}

static void run(bool x25519, bool full, bool drop)
{
	double t0;
	int res;

	wc_ecc_fp_free();
	t0 = now_us();
	for (int i = 0; i < N; i++) {
		exchange(x25519, i);
		if (full) {
			wc_ecc_verify_hash(b.sig_ca, b.ca_len, b.hash, 32, &res, &b.ca);
			wc_ecc_verify_hash(b.sig_leaf, b.leaf_len, b.hash, 32, &res, &b.leaf);
		}
		if (drop) {
			wc_ecc_fp_free();
		}
	}
	printf("%-7s %-8s tables %-8s %6.0f us per handshake\n", x25519 ? "X25519" : "P-256",
	       full ? "full" : "resumed", drop ? "dropped" : "kept", (now_us() - t0) / N);
}

int main(void)
{
	b.ca_len = b.leaf_len = ECC_MAX_SIG_SIZE;
	b.hash[0] = 1;
	if (wc_InitRng(&b.rng) != 0) {
		return 1;
	}
	wc_ecc_init(&b.ca);
	wc_ecc_init(&b.leaf);
	if (wc_ecc_make_key(&b.rng, 32, &b.ca) != 0 || wc_ecc_make_key(&b.rng, 32, &b.leaf) != 0 ||
	    wc_ecc_sign_hash(b.hash, 32, b.sig_ca, &b.ca_len, &b.rng, &b.ca) != 0 ||
	    wc_ecc_sign_hash(b.hash, 32, b.sig_leaf, &b.leaf_len, &b.rng, &b.leaf) != 0) {
		return 1;
	}
	for (int i = 0; i < N; i++) {
		wc_ecc_init(&b.share[i]);
		wc_curve25519_init(&b.xshare[i]);
		if (wc_ecc_make_key(&b.rng, 32, &b.share[i]) != 0 ||
		    wc_curve25519_make_key(&b.rng, CURVE25519_KEYSIZE, &b.xshare[i]) != 0) {
			return 1;
		}
	}
	for (int round = 0; round < 2; round++) {
		run(false, true, false); /* before */
		run(true, true, true);	 /* now */
		run(false, false, false);
		run(true, false, true);
	}
	for (int i = 0; i < N; i++) {
		wc_ecc_free(&b.share[i]);
		wc_curve25519_free(&b.xshare[i]);
	}
	wc_ecc_free(&b.ca);
	wc_ecc_free(&b.leaf);
	wc_FreeRng(&b.rng);
	wc_ecc_fp_free();
	return 0;
}
