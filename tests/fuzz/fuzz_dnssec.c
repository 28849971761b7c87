/*
 * fuzz_dnssec: tls_dnssec (tls/tls_dnssec.c) on keys, signatures and signed data from the
 * input, as a zone's DNSKEY and RRSIG records come from whoever answers. It must never crash,
 * read out of bounds or leak, and must say only what its header says: 0, -EBADMSG, -EINVAL or
 * -ENOTSUP (-ENOMEM aside), -ENOTSUP exactly for the algorithms tls_dnssec_algorithm_supported()
 * refuses. The DS digest and the key tag are taken of the same bytes; a digest is never longer
 * than TLS_DNSSEC_DIGEST_MAX.
 *
 * Input: [algorithm:1][key length:2][data length:2][key][data][signature: the rest]; lengths
 * beyond what is left are cut to it. The algorithm octet's low 3 bits are also the DS digest
 * type, over the key as owner name and the input as DNSKEY RDATA.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "tls_dnssec.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static size_t take(const uint8_t **p, size_t *left, size_t want)
{
	size_t n = want < *left ? want : *left;

	*p += n;
	*left -= n;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	uint8_t digest[TLS_DNSSEC_DIGEST_MAX + 1];
	size_t left = len, key_len, data_len, sig_len, digest_len = TLS_DNSSEC_DIGEST_MAX;
	const uint8_t *p = in, *key, *data, *sig;
	uint8_t alg;
	int ret;

	if (len < 5) {
		return 0;
	}
	alg = in[0];
	key_len = (size_t)in[1] << 8 | in[2];
	data_len = (size_t)in[3] << 8 | in[4];
	take(&p, &left, 5);
	key = p;
	key_len = take(&p, &left, key_len);
	data = p;
	data_len = take(&p, &left, data_len);
	sig = p;
	sig_len = left;

	ret = tls_dnssec_verify(alg, key, key_len, data, data_len, sig, sig_len);
	CHECK(ret == 0 || ret == -EBADMSG || ret == -EINVAL || ret == -ENOTSUP || ret == -ENOMEM);
	CHECK((ret == -ENOTSUP) == !tls_dnssec_algorithm_supported(alg));

	ret = tls_dnssec_ds_digest(alg & 7, key, key_len, in, len, digest, &digest_len);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOTSUP || ret == -ENOMEM);
	CHECK(ret != 0 || digest_len <= TLS_DNSSEC_DIGEST_MAX);
	(void)tls_dnssec_key_tag(in, len);
	return 0;
}
