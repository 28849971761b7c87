/*
 * test_dnssec: tls_dnssec (tls/tls_dnssec.c) on published test vectors. Each vector is typed in
 * as its RFC prints it (zone-file DNSKEY, RRSIG and RRset, base64 as printed); the test builds
 * the signed data itself (RFC 4034 §3.1.8.1: the RRSIG RDATA without the signature, then the RR
 * in canonical form) and checks the key tag and DS digest against the RFC's DS record. Then,
 * for each vector, the hostile cases: a bit flipped in the signature or in the data, the key
 * cut short, the key given under another algorithm number.
 *
 * Sources: RFC 6605 §6.1 and §6.2 (ECDSA); RFC 8080 §6.1 and §6.2 (Ed25519, Ed448) as corrected
 * by its verified erratum 4935 (the printed RRSIGs count 3 labels for example.com. and do not
 * verify); RFC 5702 §6.2 (RSA/SHA-512); RFC 4034 §5.4 (key tag and SHA-1 DS). RFC 5702 §6.1
 * (RSA/SHA-256) has a 512-bit key, which tls_dnssec refuses (-EINVAL), so it is checked as
 * refused, and the RSA/SHA-256 and RSA/SHA-1 signatures that verify were made with OpenSSL 3.0
 * when this test was written (see gen_rsa below). The NSEC3 hash: the hashed owner names of
 * RFC 5155 Appendix A.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_dnssec.h"
#include "unit.h"

#define BUF_MAX 1024

/* Decode base64 @s (whitespace ignored) into @out; the length, or -1. */
static int b64_decode(const char *s, uint8_t *out, size_t room)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t len = 0;

	for (; *s != '\0' && *s != '='; s++) {
		const char *p;

		if (*s == ' ' || *s == '\n') {
			continue;
		}
		p = strchr(alphabet, *s);
		if (p == NULL) {
			return -1;
		}
		acc = acc << 6 | (uint32_t)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == room) {
				return -1;
			}
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)len;
}

static int hex_decode(const char *s, uint8_t *out, size_t room)
{
	size_t len = 0;

	for (; s[0] != '\0' && s[1] != '\0'; s += 2) {
		char pair[3] = {s[0], s[1], '\0'};

		if (len == room) {
			return -1;
		}
		out[len++] = (uint8_t)strtoul(pair, NULL, 16);
	}
	return (int)len;
}

/* A lowercase name in presentation form, no escapes, into uncompressed wire form. */
static size_t name_wire(const char *name, uint8_t *out)
{
	size_t len = 0;

	while (*name != '\0' && strcmp(name, ".") != 0) {
		const char *dot = strchr(name, '.');
		size_t label = dot != NULL ? (size_t)(dot - name) : strlen(name);

		out[len++] = (uint8_t)label;
		memcpy(out + len, name, label);
		len += label;
		name += label + (dot != NULL);
	}
	out[len++] = 0;
	return len;
}

static size_t put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
	return 4;
}

/* One signed RRset of one RR, its key, and the DS the RFC gives for the key. */
struct vector {
	const char *name;  /**< where it comes from */
	uint8_t alg;	   /**< the RRSIG's and DNSKEY's algorithm */
	uint16_t flags;	   /**< the DNSKEY's flags */
	const char *zone;  /**< the DNSKEY's owner and the RRSIG's signer */
	const char *key;   /**< the public key, base64 */
	const char *owner; /**< the RR's owner */
	uint16_t type;	   /**< the RR's type, 1 A or 15 MX */
	uint8_t labels;	   /**< the RRSIG's labels */
	uint32_t ttl;	   /**< the RR's TTL and the RRSIG's original TTL */
	uint32_t expire;   /**< the RRSIG's expiration, in seconds since 1970 */
	uint32_t incept;   /**< the RRSIG's inception */
	uint16_t tag;	   /**< the key tag the RFC gives */
	const char *sig;   /**< the signature, base64 */
	uint8_t ds_type;   /**< the DS digest type the RFC gives, or 0 */
	const char *ds;	   /**< its digest, hex */
	int want;	   /**< what tls_dnssec_verify() returns */
};

/* A 192.0.2.1 (RFC 6605 §6), A 192.0.2.91 (RFC 5702 §6), MX 10 mail.example.com. (RFC 8080). */
static size_t rdata_of(const struct vector *v, uint8_t *out)
{
	if (v->type == 15) {
		put16(out, 10);
		return 2 + name_wire("mail.example.com.", out + 2);
	}
	out[0] = 192;
	out[1] = 0;
	out[2] = 2;
	out[3] = v->alg == TLS_DNSSEC_ECDSAP256SHA256 || v->alg == TLS_DNSSEC_ECDSAP384SHA384 ? 1
											      : 91;
	return 4;
}

/* RFC 4034 §3.1.8.1: RRSIG RDATA up to the signer's name, then the RR in canonical form. */
static size_t signed_data(const struct vector *v, uint8_t *out)
{
	uint8_t rdata[64];
	size_t len = 0, rdata_len = rdata_of(v, rdata);

	len += put16(out + len, v->type);
	out[len++] = v->alg;
	out[len++] = v->labels;
	len += put32(out + len, v->ttl);
	len += put32(out + len, v->expire);
	len += put32(out + len, v->incept);
	len += put16(out + len, v->tag);
	len += name_wire(v->zone, out + len);
	len += name_wire(v->owner, out + len);
	len += put16(out + len, v->type);
	len += put16(out + len, 1); /* IN */
	len += put32(out + len, v->ttl);
	len += put16(out + len, (uint32_t)rdata_len);
	memcpy(out + len, rdata, rdata_len);
	return len + rdata_len;
}

/*
 * 20100909100439 and 20100812100439, 20100909102025 and 20100812102025 (RFC 6605 §6);
 * 20300101000000 and 20000101000000 (RFC 5702 §6); RFC 8080 prints seconds.
 */
#define T_6605_P256_EXP 1284026679
#define T_6605_P256_INC 1281607479
#define T_6605_P384_EXP 1284027625
#define T_6605_P384_INC 1281608425
#define T_5702_EXP	1893456000
#define T_5702_INC	946684800

static const struct vector vectors[] = {
	{
		.name = "RFC 6605 §6.1 ECDSAP256SHA256",
		.alg = 13,
		.flags = 257,
		.zone = "example.net.",
		.key = "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb"
		       "krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
		.owner = "www.example.net.",
		.type = 1,
		.labels = 3,
		.ttl = 3600,
		.expire = T_6605_P256_EXP,
		.incept = T_6605_P256_INC,
		.tag = 55648,
		.sig = "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA"
		       "yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==",
		.ds_type = 2,
		.ds = "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17",
	},
	{
		.name = "RFC 6605 §6.2 ECDSAP384SHA384",
		.alg = 14,
		.flags = 257,
		.zone = "example.net.",
		.key = "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1"
		       "w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8"
		       "/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
		.owner = "www.example.net.",
		.type = 1,
		.labels = 3,
		.ttl = 3600,
		.expire = T_6605_P384_EXP,
		.incept = T_6605_P384_INC,
		.tag = 10771,
		.sig = "/L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP"
		       "95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuz"
		       "WTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm",
		.ds_type = 4,
		.ds = "72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0"
		      "563a9b5f4d288405c3008a946df983d6",
	},
	{
		.name = "RFC 8080 §6.1 ED25519 (erratum 4935), first key",
		.alg = 15,
		.flags = 257,
		.zone = "example.com.",
		.key = "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
		.owner = "example.com.",
		.type = 15,
		.labels = 2,
		.ttl = 3600,
		.expire = 1440021600,
		.incept = 1438207200,
		.tag = 3613,
		.sig = "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3f"
		       "x8A4M3e23mRZ9VrbpMngwcrqNAg==",
		.ds_type = 2,
		.ds = "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
	},
	{
		.name = "RFC 8080 §6.1 ED25519 (erratum 4935), second key",
		.alg = 15,
		.flags = 257,
		.zone = "example.com.",
		.key = "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
		.owner = "example.com.",
		.type = 15,
		.labels = 2,
		.ttl = 3600,
		.expire = 1440021600,
		.incept = 1438207200,
		.tag = 35217,
		.sig = "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQ"
		       "oSm5poJ7gD7AQR0O7KuI5k2pcBg==",
		.ds_type = 2,
		.ds = "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
	},
	{
		.name = "RFC 8080 §6.2 ED448 (erratum 4935), first key",
		.alg = 16,
		.flags = 257,
		.zone = "example.com.",
		.key = "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx"
		       "1FYYUcJKm1MDpJtIA",
		.owner = "example.com.",
		.type = 15,
		.labels = 2,
		.ttl = 3600,
		.expire = 1440021600,
		.incept = 1438207200,
		.tag = 9713,
		.sig = "3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0am"
		       "xWndkmnBZ6SKiwZSAxGILn/NBtOXft0+Gj7FSvOKxE/07+4RQvE581N3Aj/"
		       "JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA",
		.ds_type = 2,
		.ds = "6ccf18d5bc5d7fc2fceb1d59d17321402f2aa8d368048db93dd811f5cb2b19c7",
	},
	{
		.name = "RFC 8080 §6.2 ED448 (erratum 4935), second key",
		.alg = 16,
		.flags = 257,
		.zone = "example.com.",
		.key = "kkreGWoccSDmUBGAe7+zsbG6ZAFQp+syPmYUurBRQc3tDjeMCJcVMRDmgcN"
		       "Lp5HlHAMy12VoISsA",
		.owner = "example.com.",
		.type = 15,
		.labels = 2,
		.ttl = 3600,
		.expire = 1440021600,
		.incept = 1438207200,
		.tag = 38353,
		.sig = "E1/oLjSGIbmLny/4fcgM1z4oL6aqo+izT3urCyHyvEp4Sp8Syg1eI+lJ57C"
		       "SnZqjJP41O/9l4m0AsQ4f7qI1gVnML8vWWiyW2KXhT9kuAICUSxv5OWbf81"
		       "Rq7Yu60npabODB0QFPb/rkW3kUZmQ0YQUA",
		.ds_type = 2,
		.ds = "645ff078b3568f5852b70cb60e8e696cc77b75bfaaffc118cf79cbda1ba28af4",
	},
	{
		.name = "RFC 5702 §6.2 RSASHA512 (1024 bits)",
		.alg = 10,
		.flags = 256,
		.zone = "example.net.",
		.key = "AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0"
		       "O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J"
		       "2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL",
		.owner = "www.example.net.",
		.type = 1,
		.labels = 3,
		.ttl = 3600,
		.expire = T_5702_EXP,
		.incept = T_5702_INC,
		.tag = 3740,
		.sig = "tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRa"
		       "eUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPl"
		       "vpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=",
	},
	{
		/* Its key has 512 bits: refused (tls_dnssec.c, RSA_MIN_BITS), whatever it signs. */
		.name = "RFC 5702 §6.1 RSASHA256 (512 bits, refused)",
		.alg = 8,
		.flags = 256,
		.zone = "example.net.",
		.key = "AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8P"
		       "kxUdp6p/DlUmObdk=",
		.owner = "www.example.net.",
		.type = 1,
		.labels = 3,
		.ttl = 3600,
		.expire = T_5702_EXP,
		.incept = T_5702_INC,
		.tag = 9033,
		.sig = "kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEa"
		       "cFYK/lPtPiVYP4bwg==",
		.want = -EINVAL,
	},
	/*
	 * Generated (no RFC has a 2048-bit RSA/SHA-256 or any RSA/SHA-1 example that we accept):
	 * the RR and RRSIG fields of RFC 5702 §6 with a fresh 2048-bit key and exponent 65537,
	 * by a Python script on OpenSSL 3.0.19: `openssl genpkey -algorithm RSA -pkeyopt
	 * rsa_keygen_bits:2048`, the signed data built as signed_data() does, and `openssl dgst
	 * -sha256` (-sha1) `-sign` over it. The key tags are the script's, computed as RFC 4034
	 * Appendix B does.
	 */
	{
		.name = "generated RSASHA256 (2048 bits)",
		.alg = 8,
		.flags = 256,
		.zone = "example.net.",
		.key = "AwEAAc5jrWBqt/Pp+PM3IiV0DwU0z13HONy3jUQkBSo/uCkJWQniixu/"
		       "MyME8vwGfSGesZR8XjeN"
		       "yx31FmP4P4NZvIBD5axt7+KgJ0YociomUWhqcnD/9+/"
		       "aWaiFtvOaE7g9tSAhtBcl8Qyg7gaAsv3H"
		       "D0pi5b3cqb9VBrDex1VwvoO+6b3SbrBmoC8MmCMyWQDtagsh8y4O75/aNcUwNspec9II0D33bM/"
		       "T"
		       "lsGxBFACACcMojea4r7FRh0X+t0haf57xbp3HmhHivTX4BAxXUpL6V4/"
		       "DNGPY1Gu9SurWa0TZomA"
		       "Z/UbFXOoq9mWG4nhh2L+cNgln5cXRJ/R37l/uo3eLSM=",
		.owner = "www.example.net.",
		.type = 1,
		.labels = 3,
		.ttl = 3600,
		.expire = T_5702_EXP,
		.incept = T_5702_INC,
		.tag = 1189,
		.sig = "v6r8qYEEQlPVNfM7Y+"
		       "EnNbcmQbWcypxkcAPSaJVT6LVpLdzyKxOEVRvASJYR2pHKNzz89wvVrKyO"
		       "nvqqeQ5zoPTXiTK8OYku11ea2sKH6nJWxldx7Kb0L5ZS9NvohThvMCX5Cid+"
		       "m3B3VSPPUg2ymqXU"
		       "KeU5qWg530lQVzb2oEepJOCYHElXtXr31HC6F7lFeJugEjLj7/"
		       "F8pjYochY7jO8D73LtNnShxec7"
		       "l2mtlPqpjoscfaRodwMmObIHKMFuuO+WatKcmeUiYitprXuvK77XnZ5N+"
		       "51vj0VOJuokKthLYE6n"
		       "IlfSa0cWBDc7Vj/oMn4mJ243QBlSUUFJP8i1Kw==",
	},
	{
		.name = "generated RSASHA1 (2048 bits)",
		.alg = 5,
		.flags = 256,
		.zone = "example.net.",
		.key = "AwEAAcoM0KnEujAxSl2frzGASzacYk3uJZYHhrmhVuPtmxp6ZKoD9tb1M1ycp4LvJLvKkAP8NxT"
		       "q"
		       "xuZl670nuwXBjJtFHMggPyZhZNhAaLWVQ2qqNbenBQLI6iY995AXBmqmAUZPIEk6G9rSXmMa+"
		       "yWX"
		       "tV5abKcHplHJBrbidSw5DHYSEDF2kBcv+pRH+KrsAvtXXkYJ2bTiN5f+Cjd+nEfn0JVUl/"
		       "U4uac7"
		       "UEBbG5piffuWRz+JjKzoFBHgYgYw4h76Rl02KiUxqx51gSc/"
		       "Wnw6D+aAA+X1hkVh154rk7WCng7t"
		       "PpTdPkvNfuqFr7LbjvMwCVa0iSQA2wLlENEP3Cd1DEk=",
		.owner = "www.example.net.",
		.type = 1,
		.labels = 3,
		.ttl = 3600,
		.expire = T_5702_EXP,
		.incept = T_5702_INC,
		.tag = 27222,
		.sig = "jaQTD7EKYATOL6D138MADXeGqM2qFa6ZAlZ4IeOQVZ7/"
		       "JVl2ze8Lm3hZc6BhgnXrZ+HQFV4EwbIm"
		       "Yj1AtmhoWok16uz4pKkpUtor2FK+tUP5bErxIo4kaioOqW6Odn+m0m//"
		       "sLqXefnexgvgRaynnNdK"
		       "KjJJkCt8yYnmLNk3ioUx0DZxWAbNacd2HZnpGixP3nEM7/ub3FCOF72DvHQw247C/"
		       "BAJ6sDePgih"
		       "LrLjBSS+8XorXM/a/"
		       "FSB15q+g2Qm5HeD+HKo6xdNigO9rAU6iO7sNa81eFSv7G5oTieRW9ouQfgF"
		       "G9Gte9gzOLg3sHN9uzsCLbgtdzrXLKj2Tyngig==",
	},
};

#define N_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* A vector decoded: its key, its DNSKEY RDATA, its signature and its signed data. */
struct decoded {
	uint8_t key[BUF_MAX], rdata[BUF_MAX], sig[BUF_MAX], data[BUF_MAX];
	size_t key_len, rdata_len, sig_len, data_len;
};

static void vector_decode(const struct vector *v, struct decoded *d)
{
	int key_len = b64_decode(v->key, d->key, sizeof(d->key));
	int sig_len = b64_decode(v->sig, d->sig, sizeof(d->sig));

	CU_ASSERT_FATAL(key_len > 0 && sig_len > 0);
	d->key_len = (size_t)key_len;
	d->sig_len = (size_t)sig_len;
	put16(d->rdata, v->flags);
	d->rdata[2] = 3;
	d->rdata[3] = v->alg;
	memcpy(d->rdata + 4, d->key, d->key_len);
	d->rdata_len = 4 + d->key_len;
	d->data_len = signed_data(v, d->data);
}

static int verify(uint8_t alg, const struct decoded *d)
{
	return tls_dnssec_verify(alg, d->key, d->key_len, d->data, d->data_len, d->sig, d->sig_len);
}

/* Each vector verifies (or is refused as it should be) with the key tag the RFC gives. */
static void test_vectors_verify(void)
{
	for (size_t i = 0; i < N_VECTORS; i++) {
		const struct vector *v = &vectors[i];
		struct decoded d;
		int ret;

		vector_decode(v, &d);
		CU_ASSERT_EQUAL(tls_dnssec_key_tag(d.rdata, d.rdata_len), v->tag);
		CU_ASSERT_TRUE(tls_dnssec_algorithm_supported(v->alg));
		ret = verify(v->alg, &d);
		if (ret != v->want) {
			fprintf(stderr, "%s: %d, want %d\n", v->name, ret, v->want);
		}
		CU_ASSERT_EQUAL(ret, v->want);
	}
}

/* The DS digests of the RFCs' DS records, from the DNSKEY's owner and RDATA. */
static void test_vectors_ds(void)
{
	for (size_t i = 0; i < N_VECTORS; i++) {
		const struct vector *v = &vectors[i];
		uint8_t owner[256], want[TLS_DNSSEC_DIGEST_MAX], got[TLS_DNSSEC_DIGEST_MAX];
		size_t owner_len, got_len = sizeof(got);
		struct decoded d;
		int want_len;

		if (v->ds_type == 0) {
			continue;
		}
		vector_decode(v, &d);
		owner_len = name_wire(v->zone, owner);
		want_len = hex_decode(v->ds, want, sizeof(want));
		CU_ASSERT_EQUAL_FATAL(tls_dnssec_ds_digest(v->ds_type, owner, owner_len, d.rdata,
							   d.rdata_len, got, &got_len),
				      0);
		CU_ASSERT_EQUAL(got_len, (size_t)want_len);
		if (memcmp(got, want, got_len) != 0) {
			fprintf(stderr, "%s: DS digest differs\n", v->name);
			CU_FAIL("DS digest");
		}
	}
}

/*
 * Hostile: one bit flipped at the start, in the middle and at the end of the signature, and of
 * the signed data; the key cut short by one octet; the key under every other algorithm.
 */
static void test_vectors_hostile(void)
{
	static const uint8_t algs[] = {5, 7, 8, 10, 13, 14, 15, 16};

	for (size_t i = 0; i < N_VECTORS; i++) {
		const struct vector *v = &vectors[i];
		struct decoded d;

		if (v->want != 0) {
			continue;
		}
		vector_decode(v, &d);
		for (size_t k = 0; k < 3; k++) {
			size_t at_sig = k * (d.sig_len - 1) / 2, at_data = k * (d.data_len - 1) / 2;

			d.sig[at_sig] ^= 0x01;
			CU_ASSERT_EQUAL(verify(v->alg, &d), -EBADMSG);
			d.sig[at_sig] ^= 0x01;
			d.data[at_data] ^= 0x80;
			CU_ASSERT_EQUAL(verify(v->alg, &d), -EBADMSG);
			d.data[at_data] ^= 0x80;
		}
		CU_ASSERT_EQUAL(verify(v->alg, &d), 0);

		d.key_len--;
		CU_ASSERT_EQUAL(verify(v->alg, &d), -EINVAL);
		d.key_len++;

		for (size_t a = 0; a < sizeof(algs); a++) {
			int ret = verify(algs[a], &d);
			bool same = algs[a] == v->alg || (v->alg == 5 && algs[a] == 7);

			/* 7 is 5 under another number (RFC 5155 §2): the same key verifies. */
			if (same) {
				CU_ASSERT_EQUAL(ret, 0);
			} else {
				CU_ASSERT(ret == -EINVAL || ret == -EBADMSG);
			}
		}
	}
}

/* RFC 4034 §5.4: dskey.example.com. 86400 IN DNSKEY 256 3 5, key id 60485, and its SHA-1 DS. */
static void test_rfc4034_ds(void)
{
	static const char key[] = "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/"
				  "2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvx"
				  "egXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9Xzc"
				  "nOf+EPbtG9DMBmADjFDc2w/rljwvFw==";
	uint8_t rdata[BUF_MAX] = {0x01, 0x00, 3, 5}, owner[256], want[20], got[64];
	size_t owner_len = name_wire("dskey.example.com.", owner), got_len = 19;
	int key_len = b64_decode(key, rdata + 4, sizeof(rdata) - 4);

	CU_ASSERT_FATAL(key_len > 0);
	CU_ASSERT_EQUAL(tls_dnssec_key_tag(rdata, 4 + (size_t)key_len), 60485);
	hex_decode("2bb183af5f22588179a53b0a98631fad1a292118", want, sizeof(want));

	/* Too little room: nothing written. */
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(1, owner, owner_len, rdata, 4 + (size_t)key_len, got,
					     &got_len),
			-ENOSPC);
	CU_ASSERT_EQUAL(got_len, 19);
	got_len = sizeof(got);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(1, owner, owner_len, rdata, 4 + (size_t)key_len, got,
					     &got_len),
			0);
	CU_ASSERT_EQUAL(got_len, 20);
	CU_ASSERT_EQUAL(memcmp(got, want, 20), 0);

	/* GOST (3) and unassigned types; bad lengths. */
	got_len = sizeof(got);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(3, owner, owner_len, rdata, 4, got, &got_len),
			-ENOTSUP);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(0, owner, owner_len, rdata, 4, got, &got_len),
			-ENOTSUP);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(5, owner, owner_len, rdata, 4, got, &got_len),
			-ENOTSUP);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(2, owner, 0, rdata, 4, got, &got_len), -EINVAL);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(2, owner, 256, rdata, 4, got, &got_len), -EINVAL);
	CU_ASSERT_EQUAL(tls_dnssec_ds_digest(2, owner, owner_len, rdata, 3, got, &got_len),
			-EINVAL);
	CU_ASSERT_EQUAL(got_len, sizeof(got));
}

/* Algorithm 1's key tag (RFC 4034 Appendix B.1), and short RDATA. */
static void test_key_tag_edges(void)
{
	static const uint8_t md5[] = {0x01, 0x00, 3, 1, 1, 3, 0xaa, 0xbb, 0x12, 0x34, 0x56};
	static const uint8_t two[] = {0x01, 0x02};

	CU_ASSERT_EQUAL(tls_dnssec_key_tag(md5, sizeof(md5)), 0x1234);
	CU_ASSERT_EQUAL(tls_dnssec_key_tag(two, sizeof(two)), 0x0102);
	CU_ASSERT_EQUAL(tls_dnssec_key_tag(NULL, 0), 0);
	CU_ASSERT_EQUAL(tls_dnssec_key_tag(two, 0), 0);
}

/* RFC 8624 §3.1: 1, 3 and 6 MUST NOT be validated; 12 (GOST) is not in wolfCrypt. */
static void test_unsupported(void)
{
	static const uint8_t refused[] = {0, 1, 2, 3, 4, 6, 9, 11, 12, 17, 252, 253, 254, 255};
	static const uint8_t known[] = {5, 7, 8, 10, 13, 14, 15, 16};
	uint8_t buf[64] = {0};

	for (size_t i = 0; i < sizeof(refused); i++) {
		CU_ASSERT_FALSE(tls_dnssec_algorithm_supported(refused[i]));
		CU_ASSERT_EQUAL(tls_dnssec_verify(refused[i], buf, 32, buf, 10, buf, 64), -ENOTSUP);
	}
	for (size_t i = 0; i < sizeof(known); i++) {
		CU_ASSERT_TRUE(tls_dnssec_algorithm_supported(known[i]));
		/* Empty and absent buffers: malformed, never a crash. */
		CU_ASSERT_EQUAL(tls_dnssec_verify(known[i], NULL, 0, NULL, 0, NULL, 0), -EINVAL);
		CU_ASSERT_EQUAL(tls_dnssec_verify(known[i], NULL, 5, buf, 1, buf, 1), -EINVAL);
	}
}

/* RFC 3110 §2 keys that are malformed, each on the RFC 5702 §6.2 vector. */
static void test_rsa_malformed(void)
{
	const struct vector *v = &vectors[6];
	struct decoded d;
	uint8_t key[BUF_MAX];
	size_t n_len;

	CU_ASSERT_EQUAL_FATAL(v->alg, 10);
	vector_decode(v, &d);
	CU_ASSERT_EQUAL_FATAL(d.key[0], 3); /* exponent 65537, then the modulus */
	n_len = d.key_len - 4;

	/* The three-octet exponent length: the same key, accepted. */
	key[0] = 0;
	key[1] = 0;
	key[2] = 3;
	memcpy(key + 3, d.key + 1, d.key_len - 1);
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, key, d.key_len + 2, d.data, d.data_len, d.sig, d.sig_len), 0);
	/* An exponent length with nothing after it, or past the end. */
	CU_ASSERT_EQUAL(tls_dnssec_verify(10, key, 2, d.data, d.data_len, d.sig, d.sig_len),
			-EINVAL);
	key[2] = 0;
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, key, d.key_len + 2, d.data, d.data_len, d.sig, d.sig_len),
		-EINVAL);
	key[1] = 0xff;
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, key, d.key_len + 2, d.data, d.data_len, d.sig, d.sig_len),
		-EINVAL);
	/* Exponent length 9 (over 64 bits). */
	memcpy(key, d.key, d.key_len);
	key[0] = 9;
	CU_ASSERT_EQUAL(tls_dnssec_verify(10, key, d.key_len, d.data, d.data_len, d.sig, d.sig_len),
			-EINVAL);
	/* The exponent alone, no modulus. */
	CU_ASSERT_EQUAL(tls_dnssec_verify(10, d.key, 4, d.data, d.data_len, d.sig, d.sig_len),
			-EINVAL);
	/* A leading zero octet in the modulus (RFC 3110 §2), and in the exponent. */
	memcpy(key, d.key, 4);
	key[4] = 0;
	memcpy(key + 5, d.key + 4, n_len);
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, key, d.key_len + 1, d.data, d.data_len, d.sig, d.sig_len),
		-EINVAL);
	key[0] = 4;
	key[1] = 0;
	memcpy(key + 2, d.key + 1, d.key_len - 1);
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, key, d.key_len + 1, d.data, d.data_len, d.sig, d.sig_len),
		-EINVAL);
	/* A signature one octet short, or long. */
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, d.key, d.key_len, d.data, d.data_len, d.sig, d.sig_len - 1),
		-EINVAL);
	CU_ASSERT_EQUAL(
		tls_dnssec_verify(10, d.key, d.key_len, d.data, d.data_len, d.sig, d.sig_len + 1),
		-EINVAL);
	/* A modulus of 4104 bits (RFC 3110 §2 stops at 4096), signature as long. */
	memcpy(key, d.key, 4);
	memset(key + 4, 0xff, 513);
	memset(d.sig, 0x01, 513);
	CU_ASSERT_EQUAL(tls_dnssec_verify(10, key, 4 + 513, d.data, d.data_len, d.sig, 513),
			-EINVAL);
	/* 4096 bits is allowed; a modulus of all ones signs nothing. */
	CU_ASSERT_EQUAL(tls_dnssec_verify(10, key, 4 + 512, d.data, d.data_len, d.sig, 512),
			-EBADMSG);
}

/* ECDSA and EdDSA keys of the wrong shape, a point off the curve, signatures of zeros. */
static void test_curve_malformed(void)
{
	struct decoded d;

	/* RFC 6605 §6.1: y changed in its last bit is, for this key, off the curve. */
	vector_decode(&vectors[0], &d);
	d.key[63] ^= 0x01;
	CU_ASSERT_EQUAL(verify(13, &d), -EINVAL);
	d.key[63] ^= 0x01;
	/* r = 0, s = 0: outside [1, n - 1]. */
	memset(d.sig, 0, d.sig_len);
	CU_ASSERT_EQUAL(verify(13, &d), -EBADMSG);
	memset(d.sig + 32, 0xff, 32);
	CU_ASSERT_EQUAL(verify(13, &d), -EBADMSG);
	memset(d.sig, 0xff, 64);
	CU_ASSERT_EQUAL(verify(13, &d), -EBADMSG);
	/* The P-256 key with a sig of P-384's length. */
	d.sig_len = 96;
	CU_ASSERT_EQUAL(verify(13, &d), -EINVAL);

	/* RFC 8080 §6.1: a signature of zeros, and one of 0xff (S beyond the group order). */
	vector_decode(&vectors[2], &d);
	memset(d.sig, 0, d.sig_len);
	CU_ASSERT_EQUAL(verify(15, &d), -EBADMSG);
	memset(d.sig, 0xff, d.sig_len);
	CU_ASSERT_EQUAL(verify(15, &d), -EBADMSG);
	d.sig_len--;
	CU_ASSERT_EQUAL(verify(15, &d), -EINVAL);
	vector_decode(&vectors[4], &d);
	memset(d.sig, 0xff, d.sig_len);
	CU_ASSERT_EQUAL(verify(16, &d), -EBADMSG);
	memset(d.key, 0xff, d.key_len);
	CU_ASSERT(verify(16, &d) == -EINVAL || verify(16, &d) == -EBADMSG);
}

/* "a.example" to wire form; the length. */
static size_t wire(const char *dotted, uint8_t *out)
{
	size_t len = 0;

	while (*dotted != '\0') {
		const char *dot = strchr(dotted, '.');
		size_t n = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);

		out[len++] = (uint8_t)n;
		memcpy(out + len, dotted, n);
		len += n;
		dotted += n + (dot != NULL);
	}
	out[len++] = 0;
	return len;
}

/* Base32hex without padding (RFC 4648 §7), as NSEC3 owner labels are written. */
static void b32_encode(const uint8_t in[20], char out[33])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	uint32_t acc = 0;
	int bits = 0, k = 0, i;

	for (i = 0; i < 20; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[k++] = digits[(acc >> bits) & 31];
		}
	}
	out[k] = '\0';
}

static const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};

/* RFC 5155 Appendix A: the zone's names and their hashes (SHA-1, salt aabbccdd, 12 iterations). */
static const struct {
	const char *name, *hash;
} hashes[] = {
	{"example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
	{"a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
	{"ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"},
	{"ns1.example", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
	{"ns2.example", "q04jkcevqvmu85r014c7dkba38o0ji5r"},
	{"w.example", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
	{"*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
	{"x.w.example", "b4um86eghhds6nea196smvmlo4ors995"},
	{"y.w.example", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"},
	{"x.y.w.example", "2vptu5timamqttgl4luu9kg21e0aor3s"},
	{"xx.example", "t644ebqk9bibcna874givr6joj62mlhv"},
	{"2t7b4g4vsa5smi47k61mv5bv1a22bojr.example", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi"},
};

static void test_nsec3_hash(void)
{
	uint8_t name[256], h[20], keep[20];
	char text[33];
	size_t i, len;

	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		len = wire(hashes[i].name, name);
		CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(1, 12, salt, 4, name, len, h), 0);
		b32_encode(h, text);
		CU_ASSERT_STRING_EQUAL(text, hashes[i].hash);
	}
	/* Errors leave the output alone. */
	len = wire("example", name);
	memcpy(keep, h, sizeof(h));
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(2, 12, salt, 4, name, len, h), -ENOTSUP);
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(0, 12, salt, 4, name, len, h), -ENOTSUP);
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(1, 12, NULL, 4, name, len, h), -EINVAL);
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(1, 12, salt, 4, name, 0, h), -EINVAL);
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(1, 12, salt, 4, name, 256, h), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(h, keep, sizeof(h)), 0);
	/* No salt and no iterations (RFC 9276 §3.1): SHA-1 of the name alone, not the same. */
	CU_ASSERT_EQUAL(tls_dnssec_nsec3_hash(1, 0, NULL, 0, name, len, h), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(h, keep, sizeof(h)), 0);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"vectors verify, key tags", test_vectors_verify},
		{"vectors: DS digests", test_vectors_ds},
		{"vectors: flipped bits, short keys, other algorithms", test_vectors_hostile},
		{"RFC 4034 §5.4 DS, digest types and lengths", test_rfc4034_ds},
		{"key tag: algorithm 1, short RDATA", test_key_tag_edges},
		{"unsupported algorithms, empty buffers", test_unsupported},
		{"NSEC3 hash, RFC 5155 Appendix A", test_nsec3_hash},
		{"RSA keys malformed (RFC 3110 §2)", test_rsa_malformed},
		{"ECDSA and EdDSA keys and signatures malformed", test_curve_malformed},
		CU_TEST_INFO_NULL,
	};

	return unit_run("dnssec", tests);
}
