/*
 * test_tls: what tls/ can be checked on without a peer. The SPKI pin (RFC 7469 §2.4) of known
 * certificates, one EC and one RSA key: the expected values were computed by openssl, an
 * independent implementation:
 *   openssl x509 -in F.pem -pubkey -noout | openssl pkey -pubin -outform der \
 *     | openssl dgst -sha256 -binary | base64
 * RSA matters: wolfSSL's wc_GetPubKeyDerFromCert() gives the bare RSAPublicKey, whose hash is
 * not the pin. Handshakes, names and pins against a real server are in tests/integration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"
#include "unit.h"

static const char *const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
		v |= i + 2 < n ? in[i + 2] : 0;
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(65536);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

static void check_pin(const char *file, const char *expected)
{
	uint8_t pin[TLS_PIN_LEN];
	char text[64];
	size_t len;
	uint8_t *der = read_file(file, &len);

	CU_ASSERT_EQUAL_FATAL(tls_spki_pin(der, len, pin), 0);
	base64(pin, sizeof(pin), text);
	CU_ASSERT_STRING_EQUAL(text, expected);
	/* A damaged certificate gives an error, not a pin. */
	CU_ASSERT_NOT_EQUAL(tls_spki_pin(der, len / 2, pin), 0);
	free(der);
}

static void test_pin_ec(void)
{
	check_pin(TEST_SRCDIR "/certs/known-ec.der",
		  "u9SzoHp5hak5DYO8UjjHeCn1/6C9sn8Z8CIrPacd1lU=");
}

static void test_pin_rsa(void)
{
	check_pin(TEST_SRCDIR "/certs/known-rsa.der",
		  "+v5YHIE+giYHJmWGeDYJDPxGxmNpPEYpopd9XMN8eLI=");
}

/*
 * Nothing of wolfSSL runs before a connection needs it (tls.h, tls_init()): making a client
 * context reads no trust anchors and initialises nothing; loading it does both. Runs first,
 * before any other test here has called into wolfSSL.
 */
static void test_client_lazy(void)
{
	struct tls_client_params p = {.ca_file = TEST_SRCDIR "/certs/known-ec.pem", .tls_min = 3};
	struct tls_client *c = NULL;

	CU_ASSERT_FALSE_FATAL(tls_initialised());
	CU_ASSERT_EQUAL_FATAL(tls_client_new(&p, &c), 0);
	CU_ASSERT_FALSE(tls_initialised());
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	CU_ASSERT_TRUE(tls_initialised());
	CU_ASSERT_FALSE(tls_client_failed(c));
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	tls_client_free(c);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/*
 * Trust anchors that do not load: the context is still made, without them (pins can still
 * authenticate), and says it failed; a later load does not read the file again, even once it
 * has been mended (a reload makes a new context for that: resolver/upstream.c).
 */
static void test_client_bad_ca(void)
{
	char path[] = "/tmp/test_tls_ca_XXXXXX";
	struct tls_client_params p = {.ca_file = TEST_SRCDIR "/certs/missing.pem", .tls_min = 3};
	struct tls_client *c = NULL;
	FILE *good;
	char pem[4096];
	size_t n;
	int fd;

	CU_ASSERT_EQUAL_FATAL(tls_client_new(&p, &c), 0);
	CU_ASSERT_FALSE(tls_client_failed(c));
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	CU_ASSERT_TRUE(tls_client_failed(c));
	tls_client_free(c);

	/* What config.c lets through: a PEM header over a body that is not a certificate. */
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	write_file(path, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
			 "-----END CERTIFICATE-----\n");
	p.ca_file = path;
	CU_ASSERT_EQUAL_FATAL(tls_client_new(&p, &c), 0);
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	CU_ASSERT_TRUE(tls_client_failed(c));
	good = fopen(TEST_SRCDIR "/certs/known-ec.pem", "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(good);
	n = fread(pem, 1, sizeof(pem) - 1, good);
	fclose(good);
	pem[n] = 0;
	write_file(path, pem);
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	CU_ASSERT_TRUE(tls_client_failed(c));
	tls_client_free(c);
	/* The same file, mended, in a new context. */
	CU_ASSERT_EQUAL_FATAL(tls_client_new(&p, &c), 0);
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	CU_ASSERT_FALSE(tls_client_failed(c));
	tls_client_free(c);
	unlink(path);

	/* No CA file: the system's store, or none; never a failure of what was configured. */
	p.ca_file = NULL;
	CU_ASSERT_EQUAL(tls_client_new(&p, &c), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(tls_client_load(c), 0);
	CU_ASSERT_FALSE(tls_client_failed(c));
	tls_client_free(c);
}

/*
 * A CA file tried at start (tls_ca_file_check(), resolver/upstream.c): taken when one
 * certificate in it is, as the context's load takes it; refused when none is; and all of it in
 * a child process, so that this one has run no wolfSSL code after it.
 */
static void test_ca_file_check(void)
{
	char path[] = "/tmp/test_tls_cacheck_XXXXXX";
	static const char bad[] = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
				  "-----END CERTIFICATE-----\n";
	char pem[4096], text[16384];
	bool ok = false;
	FILE *good;
	size_t n;
	int fd;

	CU_ASSERT_FALSE(tls_initialised());
	CU_ASSERT_EQUAL(tls_ca_file_check(TEST_SRCDIR "/certs/known-ec.pem", &ok), 0);
	CU_ASSERT_TRUE(ok);
	ok = false;
	CU_ASSERT_EQUAL(tls_ca_file_check(TEST_SRCDIR "/certs/known-rsa.pem", &ok), 0);
	CU_ASSERT_TRUE(ok);
	/* No file: nothing taken (config.c says why first). */
	ok = true;
	CU_ASSERT_EQUAL(tls_ca_file_check(TEST_SRCDIR "/certs/missing.pem", &ok), 0);
	CU_ASSERT_FALSE(ok);

	good = fopen(TEST_SRCDIR "/certs/known-ec.pem", "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(good);
	n = fread(pem, 1, sizeof(pem) - 1, good);
	fclose(good);
	pem[n] = 0;
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);

	/* A body that is not a certificate; then a real one whose DER length is changed. */
	write_file(path, bad);
	ok = true;
	CU_ASSERT_EQUAL(tls_ca_file_check(path, &ok), 0);
	CU_ASSERT_FALSE(ok);
	snprintf(text, sizeof(text), "%s", pem);
	text[strlen("-----BEGIN CERTIFICATE-----\n") + 2] ^= 0x01; /* 30 82 01 86: 30 81 c1 */
	write_file(path, text);
	ok = true;
	CU_ASSERT_EQUAL(tls_ca_file_check(path, &ok), 0);
	CU_ASSERT_FALSE(ok);
	/* Cut short before its END line. */
	snprintf(text, sizeof(text), "%.*s", (int)(n - 30), pem);
	write_file(path, text);
	ok = true;
	CU_ASSERT_EQUAL(tls_ca_file_check(path, &ok), 0);
	CU_ASSERT_FALSE(ok);
	/* A damaged one before a good one: taken, as the context's load skips the damaged. */
	snprintf(text, sizeof(text), "%s%s", bad, pem);
	write_file(path, text);
	ok = false;
	CU_ASSERT_EQUAL(tls_ca_file_check(path, &ok), 0);
	CU_ASSERT_TRUE(ok);
	unlink(path);
	CU_ASSERT_FALSE(tls_initialised());
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"CA file check, in a child process", test_ca_file_check},
		{"client context, made before wolfSSL runs", test_client_lazy},
		{"SPKI pin, EC key", test_pin_ec},
		{"SPKI pin, RSA key", test_pin_rsa},
		{"client context, trust anchors that do not load", test_client_bad_ca},
		CU_TEST_INFO_NULL,
	};
	int ret;

	ret = unit_run("tls", tests);
	tls_cleanup();
	return ret;
}
