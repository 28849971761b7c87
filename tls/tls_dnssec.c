/*
 * tls_dnssec: RRSIG signature checks, DS digests and key tags through wolfCrypt (DESIGN.md
 * decision 11: one crypto library on a router, and an ldns built without OpenSSL). The only
 * file that includes wolfCrypt for DNSSEC; tls_dnssec.h shows none of its types.
 *
 * Each call builds its wolfCrypt key on the stack from the DNSKEY's wire form, verifies, and
 * frees it: no state, no allocation of ours, safe from any thread. The caller (the validator,
 * still to come) builds the signed data and the canonical owner names; this file only hashes
 * and verifies, and checks every length before it reads a byte, since keys and signatures come
 * from the network.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/ed448.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha.h>

#include "tls.h"
#include "tls_dnssec.h"

/*
 * RSA moduli we accept, in bits. RFC 3110 §2 limits the modulus to 4096 bits. It allows 512, but
 * a 512-bit modulus has been factored in hours on rented machines for years, and RFC 6781
 * §3.4.2 and NIST SP 800-131A (which RFC 8624 §1 leans on) put 1024 bits at the floor of what
 * still means anything; a smaller key is refused as malformed rather than trusted.
 */
#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS 4096
/*
 * The longest public exponent: 64 bits, as OpenSSL's RSA_MAX_PUBEXP_BITS. RFC 3110 §2 allows up
 * to 4096 bits, but every real key uses 3 or 65537, and a huge exponent turns one verification
 * into the cost of a private-key operation that anyone can ask of us.
 */
#define RSA_EXP_MAX_OCTETS 8
/* DigestInfo (RFC 8017 §9.2) of a SHA-512 digest: 19 octets of prefix and 64 of digest. */
#define DIGEST_INFO_MAX 128

enum alg_kind {
	ALG_RSA,
	ALG_ECDSA,
	ALG_ED25519,
	ALG_ED448,
};

struct alg_info {
	uint8_t alg;	       /**< the DNSSEC algorithm number */
	enum alg_kind kind;    /**< how its keys and signatures look */
	enum wc_HashType hash; /**< RSA and ECDSA: the digest signed */
	int curve;	       /**< ECDSA: wolfCrypt's curve id */
	size_t key_len;	       /**< ECDSA and EdDSA: the exact public key length */
	size_t sig_len;	       /**< ECDSA and EdDSA: the exact signature length */
};

/*
 * What we validate (RFC 8624 §3.1). Not here: 1 RSAMD5, 3 DSA and 6 DSA-NSEC3-SHA1, which a
 * validator MUST NOT validate; 12 ECC-GOST, which it MAY, and which wolfCrypt does not have.
 * SHA-1 (5 and 7) is still a MUST for validation there.
 */
static const struct alg_info algs[] = {
#if !defined(NO_RSA) && !defined(NO_SHA)
	{.alg = 5, .kind = ALG_RSA, .hash = WC_HASH_TYPE_SHA},
	{.alg = 7, .kind = ALG_RSA, .hash = WC_HASH_TYPE_SHA},
#endif
#ifndef NO_RSA
	{.alg = 8, .kind = ALG_RSA, .hash = WC_HASH_TYPE_SHA256},
#ifdef WOLFSSL_SHA512
	{.alg = 10, .kind = ALG_RSA, .hash = WC_HASH_TYPE_SHA512},
#endif
#endif
#ifdef HAVE_ECC
	{.alg = 13,
	 .kind = ALG_ECDSA,
	 .hash = WC_HASH_TYPE_SHA256,
	 .curve = ECC_SECP256R1,
	 .key_len = 64,
	 .sig_len = 64},
#ifdef WOLFSSL_SHA384
	{.alg = 14,
	 .kind = ALG_ECDSA,
	 .hash = WC_HASH_TYPE_SHA384,
	 .curve = ECC_SECP384R1,
	 .key_len = 96,
	 .sig_len = 96},
#endif
#endif
#ifdef HAVE_ED25519
	{.alg = 15, .kind = ALG_ED25519, .key_len = 32, .sig_len = 64},
#endif
#ifdef HAVE_ED448
	{.alg = 16, .kind = ALG_ED448, .key_len = 57, .sig_len = 114},
#endif
};

static const struct alg_info *alg_find(uint8_t alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (algs[i].alg == alg) {
			return &algs[i];
		}
	}
	return NULL;
}

bool tls_dnssec_algorithm_supported(uint8_t alg)
{
	return alg_find(alg) != NULL;
}

/* A wolfCrypt error from a verification whose inputs we already checked: the signature fails. */
static int verify_error(int ret)
{
	return ret == MEMORY_E ? -ENOMEM : -EBADMSG;
}

/* Hash @data (at most UINT32_MAX octets, checked by the caller) into @digest; its length. */
static int digest_data(enum wc_HashType hash, const uint8_t *data, size_t data_len,
		       uint8_t digest[WC_MAX_DIGEST_SIZE], word32 *digest_len)
{
	int len = wc_HashGetDigestSize(hash);

	if (len <= 0 || len > WC_MAX_DIGEST_SIZE) {
		return -ENOTSUP;
	}
	if (wc_Hash(hash, data, (word32)data_len, digest, (word32)len) != 0) {
		return -ENOMEM;
	}
	*digest_len = (word32)len;
	return 0;
}

#ifndef NO_RSA
static unsigned octet_bits(uint8_t octet)
{
	unsigned bits = 0;

	while (octet != 0) {
		bits++;
		octet >>= 1;
	}
	return bits;
}

/*
 * RSA/SHA-1 (RFC 3110), RSA/SHA-256 and RSA/SHA-512 (RFC 5702): PKCS #1 v1.5 signatures
 * (RFC 8017 §8.2.2), the DigestInfo of the hash compared whole after the public operation.
 */
static int verify_rsa(const struct alg_info *info, const uint8_t *key, size_t key_len,
		      const uint8_t *data, size_t data_len, const uint8_t *sig, size_t sig_len)
{
	uint8_t digest[WC_MAX_DIGEST_SIZE], want[DIGEST_INFO_MAX], got[RSA_MAX_BITS / 8];
	const uint8_t *exp, *mod;
	size_t exp_len, mod_len, off;
	word32 digest_len, want_len;
	unsigned bits;
	RsaKey rsa;
	int ret;

	/* RFC 3110 §2: a one-octet exponent length, or a zero octet and two of length. */
	if (key_len < 1) {
		return -EINVAL;
	}
	if (key[0] != 0) {
		exp_len = key[0];
		off = 1;
	} else {
		if (key_len < 3) {
			return -EINVAL;
		}
		exp_len = (size_t)key[1] << 8 | key[2];
		off = 3;
	}
	if (exp_len == 0 || exp_len > RSA_EXP_MAX_OCTETS || exp_len >= key_len - off) {
		return -EINVAL;
	}
	exp = key + off;
	mod = exp + exp_len;
	mod_len = key_len - off - exp_len;
	/* RFC 3110 §2: "Leading zero octets are prohibited in the exponent and modulus." */
	if (exp[0] == 0 || mod[0] == 0) {
		return -EINVAL;
	}
	if (mod_len > RSA_MAX_BITS / 8) {
		return -EINVAL;
	}
	bits = (unsigned)(mod_len - 1) * 8 + octet_bits(mod[0]);
	if (bits < RSA_MIN_BITS) {
		return -EINVAL;
	}
	/* RFC 8017 §8.2.2 step 1: the signature is exactly as long as the modulus. */
	if (sig_len != mod_len) {
		return -EINVAL;
	}

	ret = digest_data(info->hash, data, data_len, digest, &digest_len);
	if (ret < 0) {
		return ret;
	}
	want_len = wc_EncodeSignature(want, digest, digest_len, wc_GetCTC_HashOID(info->hash));
	if (want_len == 0 || want_len > sizeof(want)) {
		return -ENOTSUP;
	}

	if (wc_InitRsaKey(&rsa, NULL) != 0) {
		return -ENOMEM;
	}
	ret = wc_RsaPublicKeyDecodeRaw(mod, (word32)mod_len, exp, (word32)exp_len, &rsa);
	if (ret != 0) {
		ret = ret == MEMORY_E ? -ENOMEM : -EINVAL;
		goto cleanup;
	}
	/* The public operation and the type 1 padding check; what is left is the DigestInfo. */
	ret = wc_RsaSSL_Verify(sig, (word32)sig_len, got, sizeof(got), &rsa);
	if (ret < 0) {
		ret = verify_error(ret);
		goto cleanup;
	}
	ret = (word32)ret == want_len && memcmp(got, want, want_len) == 0 ? 0 : -EBADMSG;

cleanup:
	wc_FreeRsaKey(&rsa);
	return ret;
}
#endif

#ifdef HAVE_ECC
/*
 * Debian's wolfCrypt is built with FP_ECC: a point used twice gets a table of precomputed
 * multiples, about 0.8 MB for P-256, and up to FP_ENTRIES (15) points keep one. With a table a
 * check costs a third (measured on P-256: 135 µs against 420 µs, docs/ARCHITECTURE.md), but
 * zone keys are many: 15 tables would grow dotd by some 12 MB. So the tables are kept for the
 * last ECDSA_TABLE_KEYS zone keys checked (a zone's misses come in runs) and all of them are
 * dropped when another key comes: at most that many tables, plus what TLS builds in between
 * (tls_ecc_tables_drop() takes those away when each handshake ends). Per thread, as
 * wolfCrypt's own cache is with thread-local storage.
 */
#define ECDSA_TABLE_KEYS 2

#ifdef FP_ECC
static _Thread_local uint64_t recent[ECDSA_TABLE_KEYS];
static _Thread_local size_t n_recent;
#endif

static void ecdsa_tables_bound(const uint8_t *key, size_t key_len)
{
#ifdef FP_ECC
	uint64_t h = 14695981039346656037ull; /* FNV-1a of the public key */

	for (size_t i = 0; i < key_len; i++) {
		h = (h ^ key[i]) * 1099511628211ull;
	}
	for (size_t i = 0; i < n_recent; i++) {
		if (recent[i] == h) {
			return;
		}
	}
	if (n_recent == ECDSA_TABLE_KEYS) {
		wc_ecc_fp_free();
		n_recent = 0;
	}
	recent[n_recent++] = h;
#else
	(void)key;
	(void)key_len;
#endif
}
#endif

/*
 * A full handshake with an ECDSA P-256 server builds three tables, 2.5 MB: the base point's and
 * one each for the CA's and the server's keys, in the verifies of its chain and its
 * CertificateVerify; a P-256 key exchange would add its own two (tls_ctx.c offers X25519
 * first, which builds none). The keys come again only at the next full handshake, minutes or
 * hours away on a persistent, resumed connection, so the tables would be heap kept for nothing.
 * Dropping them all when a handshake ends costs the next full handshake their rebuilding (3 to 5
 * ms, tests/bench/bench_ecc) and the next validated miss its base point's and zone key's.
 */
void tls_ecc_tables_drop(void)
{
#if defined(HAVE_ECC) && defined(FP_ECC)
	wc_ecc_fp_free();
	n_recent = 0;
#ifdef __GLIBC__
	/*
	 * A table is 256 chunks of some 3.2 KB each, and what was allocated after them (the
	 * connection's records, its session) pins the top of glibc's heap: the freed pages stay
	 * resident, since glibc gives back only a top chunk past M_TRIM_THRESHOLD. malloc_trim()
	 * also returns the free pages inside the heap (MADV_DONTNEED). musl's allocator (OpenWrt)
	 * returns freed memory itself and has no malloc_trim().
	 */
	malloc_trim(0);
#endif
#endif
}

#ifdef HAVE_ECC
/*
 * ECDSA (RFC 6605 §4): the key is Q = x | y, the signature r | s, each of the curve's size; the
 * signature goes to wolfCrypt as the DER it expects.
 */
static int verify_ecdsa(const struct alg_info *info, const uint8_t *key, size_t key_len,
			const uint8_t *data, size_t data_len, const uint8_t *sig, size_t sig_len)
{
	uint8_t digest[WC_MAX_DIGEST_SIZE], der[ECC_MAX_SIG_SIZE];
	word32 digest_len, der_len = sizeof(der);
	size_t half = info->key_len / 2;
	ecc_key ecc;
	int ret, res = 0;

	if (key_len != info->key_len || sig_len != info->sig_len) {
		return -EINVAL;
	}
	ret = digest_data(info->hash, data, data_len, digest, &digest_len);
	if (ret < 0) {
		return ret;
	}
	/*
	 * r or s of zero (which wolfCrypt cannot encode) is out of [1, n - 1]: no signature at
	 * all (FIPS 186-4 §6.4.2 step 1), so it fails as a wrong one does.
	 */
	ret = wc_ecc_rs_raw_to_sig(sig, (word32)half, sig + half, (word32)half, der, &der_len);
	if (ret != 0) {
		return verify_error(ret);
	}

	if (wc_ecc_init(&ecc) != 0) {
		return -ENOMEM;
	}
	ret = wc_ecc_import_unsigned(&ecc, key, key + half, NULL, info->curve);
	if (ret != 0) {
		ret = ret == MEMORY_E ? -ENOMEM : -EINVAL;
		goto cleanup;
	}
	/* wolfCrypt does not check an imported point (WOLFSSL_VALIDATE_ECC_IMPORT is off). */
	ret = wc_ecc_point_is_on_curve(&ecc.pubkey, ecc.idx);
	if (ret != 0) {
		ret = ret == MEMORY_E ? -ENOMEM : -EINVAL;
		goto cleanup;
	}
	ret = wc_ecc_verify_hash(der, der_len, digest, digest_len, &res, &ecc);
	if (ret != 0) {
		ret = verify_error(ret);
		goto cleanup;
	}
	ret = res == 1 ? 0 : -EBADMSG;

cleanup:
	wc_ecc_free(&ecc);
	ecdsa_tables_bound(key, key_len);
	return ret;
}
#endif

#ifdef HAVE_ED25519
/* Ed25519 (RFC 8080 §3, §4): PureEdDSA over the signed data itself (RFC 8032 §5.1). */
static int verify_ed25519(const uint8_t *key, const uint8_t *data, size_t data_len,
			  const uint8_t *sig)
{
	ed25519_key ed;
	int ret, res = 0;

	if (wc_ed25519_init(&ed) != 0) {
		return -ENOMEM;
	}
	ret = wc_ed25519_import_public(key, ED25519_PUB_KEY_SIZE, &ed);
	if (ret != 0) {
		ret = -EINVAL;
		goto cleanup;
	}
	ret = wc_ed25519_verify_msg(sig, ED25519_SIG_SIZE, data, (word32)data_len, &res, &ed);
	if (ret != 0) {
		ret = verify_error(ret);
		goto cleanup;
	}
	ret = res == 1 ? 0 : -EBADMSG;

cleanup:
	wc_ed25519_free(&ed);
	return ret;
}
#endif

#ifdef HAVE_ED448
/* Ed448 (RFC 8080 §3, §4): PureEdDSA with an empty context (RFC 8032 §5.2). */
static int verify_ed448(const uint8_t *key, const uint8_t *data, size_t data_len,
			const uint8_t *sig)
{
	ed448_key ed;
	int ret, res = 0;

	if (wc_ed448_init(&ed) != 0) {
		return -ENOMEM;
	}
	ret = wc_ed448_import_public(key, ED448_PUB_KEY_SIZE, &ed);
	if (ret != 0) {
		ret = -EINVAL;
		goto cleanup;
	}
	ret = wc_ed448_verify_msg(sig, ED448_SIG_SIZE, data, (word32)data_len, &res, &ed, NULL, 0);
	if (ret != 0) {
		ret = verify_error(ret);
		goto cleanup;
	}
	ret = res == 1 ? 0 : -EBADMSG;

cleanup:
	wc_ed448_free(&ed);
	return ret;
}
#endif

int tls_dnssec_verify(uint8_t algorithm, const uint8_t *key, size_t key_len, const uint8_t *data,
		      size_t data_len, const uint8_t *sig, size_t sig_len)
{
	static const uint8_t empty[1];
	const struct alg_info *info = alg_find(algorithm);

	if (info == NULL) {
		return -ENOTSUP;
	}
	if ((key == NULL && key_len != 0) || (sig == NULL && sig_len != 0) ||
	    (data == NULL && data_len != 0) || data_len > UINT32_MAX) {
		return -EINVAL;
	}
	if (data == NULL) {
		data = empty;
	}
	if (tls_init() != 0) {
		return -ENOMEM;
	}
	switch (info->kind) {
#ifndef NO_RSA
	case ALG_RSA:
		return verify_rsa(info, key, key_len, data, data_len, sig, sig_len);
#endif
#ifdef HAVE_ECC
	case ALG_ECDSA:
		return verify_ecdsa(info, key, key_len, data, data_len, sig, sig_len);
#endif
#ifdef HAVE_ED25519
	case ALG_ED25519:
		if (key_len != info->key_len || sig_len != info->sig_len) {
			return -EINVAL;
		}
		return verify_ed25519(key, data, data_len, sig);
#endif
#ifdef HAVE_ED448
	case ALG_ED448:
		if (key_len != info->key_len || sig_len != info->sig_len) {
			return -EINVAL;
		}
		return verify_ed448(key, data, data_len, sig);
#endif
	default:
		return -ENOTSUP;
	}
}

int tls_dnssec_ds_digest(uint8_t digest_type, const uint8_t *owner_wire, size_t owner_len,
			 const uint8_t *dnskey_rdata, size_t rdata_len, uint8_t *out,
			 size_t *out_len)
{
	uint8_t digest[WC_MAX_DIGEST_SIZE];
	enum wc_HashType hash;
	wc_HashAlg alg;
	int len, ret;

	switch (digest_type) {
#ifndef NO_SHA
	case TLS_DNSSEC_DS_SHA1:
		hash = WC_HASH_TYPE_SHA;
		break;
#endif
	case TLS_DNSSEC_DS_SHA256:
		hash = WC_HASH_TYPE_SHA256;
		break;
#ifdef WOLFSSL_SHA384
	case TLS_DNSSEC_DS_SHA384:
		hash = WC_HASH_TYPE_SHA384;
		break;
#endif
	default:
		return -ENOTSUP;
	}
	/* RFC 1035 §2.3.4: a name is at most 255 octets; RFC 4034 §2.1: RDATA has 4 before the key.
	 */
	if (owner_wire == NULL || owner_len == 0 || owner_len > 255 || dnskey_rdata == NULL ||
	    rdata_len < 4 || rdata_len > UINT16_MAX || out == NULL || out_len == NULL) {
		return -EINVAL;
	}
	if (tls_init() != 0) {
		return -ENOMEM;
	}
	len = wc_HashGetDigestSize(hash);
	if (len <= 0 || len > TLS_DNSSEC_DIGEST_MAX) {
		return -ENOTSUP;
	}
	if (*out_len < (size_t)len) {
		return -ENOSPC;
	}

	if (wc_HashInit(&alg, hash) != 0) {
		return -ENOMEM;
	}
	if (wc_HashUpdate(&alg, hash, owner_wire, (word32)owner_len) != 0 ||
	    wc_HashUpdate(&alg, hash, dnskey_rdata, (word32)rdata_len) != 0 ||
	    wc_HashFinal(&alg, hash, digest) != 0) {
		ret = -ENOMEM;
		goto cleanup;
	}
	memcpy(out, digest, (size_t)len);
	*out_len = (size_t)len;
	ret = 0;

cleanup:
	wc_HashFree(&alg, hash);
	return ret;
}

uint16_t tls_dnssec_key_tag(const uint8_t *dnskey_rdata, size_t len)
{
	uint32_t ac = 0;

	if (dnskey_rdata == NULL) {
		return 0;
	}
	/*
	 * RFC 4034 Appendix B.1: for algorithm 1 the tag is the most significant 16 of the least
	 * significant 24 bits of the modulus, which ends the key: the third and second octets from
	 * the end. Such keys are never validated; the tag still names them.
	 */
	if (len >= 7 && dnskey_rdata[3] == TLS_DNSSEC_RSAMD5) {
		return (uint16_t)(dnskey_rdata[len - 3] << 8 | dnskey_rdata[len - 2]);
	}
	/* RFC 4034 Appendix B: octets summed as 16-bit words, the carry folded in once. */
	for (size_t i = 0; i < len; i++) {
		ac += (i & 1) ? dnskey_rdata[i] : (uint32_t)dnskey_rdata[i] << 8;
	}
	ac += ac >> 16 & 0xffff;
	return (uint16_t)(ac & 0xffff);
}

int tls_dnssec_nsec3_hash(uint8_t alg, uint16_t iterations, const uint8_t *salt, size_t salt_len,
			  const uint8_t *name_wire_lower, size_t name_len, uint8_t out[20])
{
#ifdef NO_SHA
	(void)alg;
	(void)iterations;
	(void)salt;
	(void)salt_len;
	(void)name_wire_lower;
	(void)name_len;
	(void)out;
	return -ENOTSUP;
#else
	uint8_t digest[WC_SHA_DIGEST_SIZE];
	wc_Sha sha;
	unsigned i;
	int ret = 0;

	if (alg != TLS_DNSSEC_NSEC3_SHA1) {
		return -ENOTSUP;
	}
	/* RFC 5155 §3.2: the salt length is one octet; RFC 1035 §2.3.4: a name is 255 at most. */
	if ((salt == NULL && salt_len != 0) || salt_len > 255 || name_wire_lower == NULL ||
	    name_len == 0 || name_len > 255 || out == NULL) {
		return -EINVAL;
	}
	if (tls_init() != 0) {
		return -ENOMEM;
	}
	if (wc_InitSha(&sha) != 0) {
		return -ENOMEM;
	}
	/*
	 * IH(salt, x, 0) = H(x || salt), then each iteration hashes the last digest with the salt.
	 * wc_ShaFinal() leaves &sha initialised again (wolfCrypt resets it), so one init serves.
	 */
	for (i = 0; i <= iterations && ret == 0; i++) {
		const uint8_t *in = i == 0 ? name_wire_lower : digest;
		word32 in_len = i == 0 ? (word32)name_len : (word32)sizeof(digest);

		if (wc_ShaUpdate(&sha, in, in_len) != 0 ||
		    (salt_len != 0 && wc_ShaUpdate(&sha, salt, (word32)salt_len) != 0) ||
		    wc_ShaFinal(&sha, digest) != 0) {
			ret = -ENOMEM;
		}
	}
	wc_ShaFree(&sha);
	if (ret == 0) {
		memcpy(out, digest, sizeof(digest));
	}
	return ret;
#endif
}
