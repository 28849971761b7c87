/*
 * test_config: the Stubby-compatible YAML configuration (resolver/config.c).
 *
 * Every test loads a YAML text with config_load_string() and checks the struct config, or,
 * for bad files, the exit code (-EINVAL, nothing stored) and the exact "FILE:LINE: key 'K':"
 * message written to an in-memory stream. Also: the embedded default, the notices for keys
 * accepted but ignored, and that config_print() writes YAML that loads back to the same config.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "config.h"

#define PIN_B64	 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* the bytes 0, 1, ..., 31 */
#define PIN2_B64 "foxZRnIh9gZpWnl+zEiKa0EJ2rdCGroMWm02gaxSc9Q=" /* a real SPKI pin */

/* A minimal valid upstream list, to append after the keys a test is about. */
#define ONE_UPSTREAM                                                                               \
	"upstream_recursive_servers:\n"                                                            \
	"  - address_data: 192.0.2.1\n"                                                            \
	"    tls_auth_name: \"dot.test\"\n"

/* The lab's stubby.yml, as the integration test uses it. The upstream is on line 12. */
static const char lab_yaml[] = "resolution_type: GETDNS_RESOLUTION_STUB\n"
			       "dns_transport_list:\n"
			       "  - GETDNS_TRANSPORT_TLS\n"
			       "tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n"
			       "tls_query_padding_blocksize: 128\n"
			       "edns_client_subnet_private: 1\n"
			       "idle_timeout: 10000\n"
			       "round_robin_upstreams: 0\n"
			       "listen_addresses:\n"
			       "  - 127.0.0.1@5301\n"
			       "upstream_recursive_servers:\n"
			       "  - address_data: 127.0.0.1\n"
			       "    tls_port: 8853\n"
			       "    tls_auth_name: \"dot.test\"\n"
			       "    tls_pubkey_pinset:\n"
			       "      - digest: \"sha256\"\n"
			       "        value: " PIN_B64 "\n";

/* DS and DNSKEY of the root's KSK-2017, a trust anchor file of tests/unit/anchors. */
#define TEST_ANCHORS TEST_SRCDIR "/unit/anchors/root.key"

static struct config sentinel; /* *out must keep this value when loading fails */

/* Load @yaml as "test.yml"; *@msgs (owned by the caller) gets what was printed to err. */
static int load(const char *yaml, struct config **cfg, char **msgs)
{
	size_t len = 0;
	FILE *err;
	int rc;

	*msgs = NULL;
	err = open_memstream(msgs, &len);
	CU_ASSERT_FATAL(err != NULL);
	rc = config_load_string(yaml, strlen(yaml), "test.yml", cfg, err);
	fclose(err);
	return rc;
}

static bool contains(const char *msgs, const char *needle)
{
	if (strstr(msgs, needle)) {
		return true;
	}
	fprintf(stderr, "\n  expected '%s' in:\n%s", needle, msgs);
	return false;
}

/* @yaml must load, with nothing at all printed. The caller frees the config. */
static struct config *load_ok(const char *yaml)
{
	struct config *cfg = NULL;
	char *msgs;
	int rc = load(yaml, &cfg, &msgs);

	if (rc != 0 || msgs[0]) {
		fprintf(stderr, "\n  load failed (%d):\n%s", rc, msgs);
	}
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
	return cfg;
}

/* @yaml must fail with -EINVAL, store nothing, and print @needle among its messages. */
static void expect_error(const char *yaml, const char *needle)
{
	struct config *cfg = &sentinel;
	char *msgs;
	int rc = load(yaml, &cfg, &msgs);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	CU_ASSERT(contains(msgs, needle));
	free(msgs);
}

/* @yaml must fail with -EINVAL, store nothing, and print exactly @msgs: one line per mistake. */
static void expect_only(const char *yaml, const char *expected)
{
	struct config *cfg = &sentinel;
	char *msgs;
	int rc = load(yaml, &cfg, &msgs);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	if (strcmp(msgs, expected) != 0) {
		fprintf(stderr, "\n  expected exactly:\n%s  got:\n%s", expected, msgs);
	}
	CU_ASSERT_STRING_EQUAL(msgs, expected);
	free(msgs);
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6) {
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static bool is_ip(const struct sockaddr_storage *ss, socklen_t len, const char *ip)
{
	if (ss->ss_family == AF_INET6) {
		struct in6_addr a;

		return len == sizeof(struct sockaddr_in6) && inet_pton(AF_INET6, ip, &a) == 1 &&
		       memcmp(&a, &((const struct sockaddr_in6 *)ss)->sin6_addr, sizeof(a)) == 0;
	}
	if (ss->ss_family == AF_INET) {
		struct in_addr a;

		return len == sizeof(struct sockaddr_in) && inet_pton(AF_INET, ip, &a) == 1 &&
		       a.s_addr == ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
	}
	return false;
}

static bool str_equal(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool prefixes_equal(const struct config_prefix *x, size_t n_x, const struct config_prefix *y,
			   size_t n_y)
{
	if (n_x != n_y) {
		return false;
	}
	for (size_t i = 0; i < n_x; i++) {
		if (x[i].family != y[i].family || x[i].bits != y[i].bits ||
		    memcmp(x[i].addr, y[i].addr, sizeof(x[i].addr)) != 0 ||
		    !str_equal(x[i].text, y[i].text)) {
			return false;
		}
	}
	return true;
}

/* Every field of an upstream that the resolver uses: a host name upstream has only a port. */
static bool upstreams_equal(const struct config_upstream *x, size_t n_x,
			    const struct config_upstream *y, size_t n_y)
{
	if (n_x != n_y) {
		return false;
	}
	for (size_t i = 0; i < n_x; i++) {
		if (x[i].addr_len != y[i].addr_len || x[i].addr.ss_family != y[i].addr.ss_family ||
		    port_of(&x[i].addr) != port_of(&y[i].addr) ||
		    memcmp(&x[i].addr, &y[i].addr, x[i].addr_len) != 0 ||
		    !str_equal(x[i].host, y[i].host) || !str_equal(x[i].name, y[i].name) ||
		    !str_equal(x[i].auth_name, y[i].auth_name) || x[i].n_pins != y[i].n_pins ||
		    (x[i].n_pins &&
		     memcmp(x[i].pins, y[i].pins, x[i].n_pins * sizeof(*x[i].pins)) != 0)) {
			return false;
		}
	}
	return true;
}

static bool plain_equal(const struct config_plain *x, size_t n_x, const struct config_plain *y,
			size_t n_y)
{
	if (n_x != n_y) {
		return false;
	}
	for (size_t i = 0; i < n_x; i++) {
		if (x[i].addr_len != y[i].addr_len ||
		    memcmp(&x[i].addr, &y[i].addr, x[i].addr_len) != 0 ||
		    !str_equal(x[i].name, y[i].name)) {
			return false;
		}
	}
	return true;
}

static bool paths_equal(char *const *x, size_t n_x, char *const *y, size_t n_y)
{
	if (n_x != n_y) {
		return false;
	}
	for (size_t i = 0; i < n_x; i++) {
		if (!str_equal(x[i], y[i])) {
			return false;
		}
	}
	return true;
}

static bool zones_equal(const struct config *a, const struct config *b)
{
	if (a->n_zones != b->n_zones) {
		return false;
	}
	for (size_t i = 0; i < a->n_zones; i++) {
		const struct config_zone *x = &a->zones[i], *y = &b->zones[i];

		if (!str_equal(x->zone, y->zone) || x->zone_wire_len != y->zone_wire_len ||
		    memcmp(x->zone_wire, y->zone_wire, x->zone_wire_len) != 0 ||
		    !upstreams_equal(x->upstreams, x->n_upstreams, y->upstreams, y->n_upstreams) ||
		    !plain_equal(x->plain, x->n_plain, y->plain, y->n_plain)) {
			return false;
		}
	}
	return true;
}

/* Whether @a and @b are the same configuration (the source and line numbers aside). */
static bool config_equal(const struct config *a, const struct config *b)
{
	if (!zones_equal(a, b) ||
	    !plain_equal(a->bootstrap, a->n_bootstrap, b->bootstrap, b->n_bootstrap) ||
	    a->special_zones != b->special_zones || !str_equal(a->hosts_file, b->hosts_file) ||
	    !paths_equal(a->blocklists, a->n_blocklists, b->blocklists, b->n_blocklists) ||
	    !paths_equal(a->allowlists, a->n_allowlists, b->allowlists, b->n_allowlists) ||
	    a->block_answer != b->block_answer || a->unset_clock != b->unset_clock) {
		return false;
	}
	if (a->cache_size != b->cache_size || a->cache_min_ttl != b->cache_min_ttl ||
	    a->cache_max_ttl != b->cache_max_ttl ||
	    a->cache_max_negative_ttl != b->cache_max_negative_ttl ||
	    a->serve_stale_max != b->serve_stale_max || !str_equal(a->user, b->user) ||
	    a->tcp_clients_max != b->tcp_clients_max || a->workers != b->workers ||
	    a->steering != b->steering || a->tcp_queries_per_client != b->tcp_queries_per_client ||
	    a->udp_queries_per_source != b->udp_queries_per_source ||
	    a->queries_max != b->queries_max || a->tcp_buffer_max != b->tcp_buffer_max ||
	    a->tcp_idle_timeout_ms != b->tcp_idle_timeout_ms ||
	    a->tcp_messages_per_read != b->tcp_messages_per_read ||
	    a->metrics_addr_len != b->metrics_addr_len ||
	    memcmp(&a->metrics_addr, &b->metrics_addr, a->metrics_addr_len) != 0 ||
	    !prefixes_equal(a->acl, a->n_acl, b->acl, b->n_acl) ||
	    !prefixes_equal(a->metrics_acl, a->n_metrics_acl, b->metrics_acl, b->n_metrics_acl) ||
	    !upstreams_equal(a->upstreams, a->n_upstreams, b->upstreams, b->n_upstreams)) {
		return false;
	}
	if (a->n_listen != b->n_listen || a->n_upstreams != b->n_upstreams || a->auth != b->auth ||
	    !str_equal(a->ca_file, b->ca_file) || !str_equal(a->ca_path, b->ca_path) ||
	    a->idle_timeout_ms != b->idle_timeout_ms || a->timeout_ms != b->timeout_ms ||
	    a->log_level != b->log_level || a->round_robin != b->round_robin ||
	    a->padding_blocksize != b->padding_blocksize || a->ecs_private != b->ecs_private ||
	    a->tls_min != b->tls_min || a->tls_max != b->tls_max ||
	    a->max_in_flight != b->max_in_flight ||
	    a->conns_per_upstream != b->conns_per_upstream ||
	    a->connection_retries != b->connection_retries ||
	    a->backoff_max_s != b->backoff_max_s ||
	    a->timeout_per_try_ms != b->timeout_per_try_ms || a->selection != b->selection ||
	    !str_equal(a->control_socket, b->control_socket) ||
	    !str_equal(a->cache_file, b->cache_file) ||
	    !str_equal(a->metrics_name, b->metrics_name) || a->n_metrics_acl != b->n_metrics_acl) {
		return false;
	}
	for (size_t i = 0; i < a->n_metrics_acl; i++) {
		if (!str_equal(a->metrics_acl[i].text, b->metrics_acl[i].text)) {
			return false;
		}
	}
	if (a->n_ntas != b->n_ntas || a->n_trust_anchors != b->n_trust_anchors ||
	    !a->anchors != !b->anchors || a->dnssec != b->dnssec ||
	    a->dnssec_only_secure != b->dnssec_only_secure) {
		return false;
	}
	for (size_t i = 0; i < a->n_ntas; i++) {
		if (!str_equal(a->ntas[i].zone, b->ntas[i].zone) ||
		    a->ntas[i].zone_wire_len != b->ntas[i].zone_wire_len ||
		    memcmp(a->ntas[i].zone_wire, b->ntas[i].zone_wire, a->ntas[i].zone_wire_len)) {
			return false;
		}
	}
	for (size_t i = 0; i < a->n_trust_anchors; i++) {
		if (!str_equal(a->trust_anchors[i], b->trust_anchors[i])) {
			return false;
		}
	}
	for (size_t i = 0; i < a->n_listen; i++) {
		const struct config_listen *x = &a->listen[i], *y = &b->listen[i];

		if (x->addr_len != y->addr_len || memcmp(&x->addr, &y->addr, x->addr_len) != 0 ||
		    !str_equal(x->name, y->name)) {
			return false;
		}
	}
	return true;
}

/* Print @cfg, load the text back, and check both the config and a second printing agree. */
static void check_round_trip(const struct config *cfg)
{
	struct config *again = NULL;
	char *text = NULL, *text2 = NULL, *msgs = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&text, &len);
	FILE *err = open_memstream(&msgs, &len2);
	int rc;

	CU_ASSERT_FATAL(f != NULL && err != NULL);
	config_print(cfg, f);
	fclose(f);
	rc = config_load_string(text, len, cfg->source, &again, err);
	fclose(err);
	if (rc != 0) {
		fprintf(stderr, "\n  reload failed:\n%s\n  of:\n%s", msgs, text);
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	CU_ASSERT(config_equal(cfg, again));

	f = open_memstream(&text2, &len2);
	CU_ASSERT_FATAL(f != NULL);
	config_print(again, f);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(text, text2);

	config_free(again);
	free(text);
	free(text2);
	free(msgs);
}

/*
 * dnssec_trust_anchors and dnssec_negative_trust_anchors: read, checked, printed and read
 * back, with a notice each while validation is off; their mistakes with file and line.
 */
static void test_dnssec_keys(void)
{
	static const uint8_t corp_wire[] = {4,	 'c', 'o', 'r', 'p', 7,	  'e',
					    'x', 'a', 'm', 'p', 'l', 'e', 0};
	struct config *cfg = NULL, *again = NULL;
	char *msgs, *text = NULL, *msgs2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f, *err;
	int rc;

	rc = load("dnssec_trust_anchors: " TEST_ANCHORS "\n"
		  "dnssec_negative_trust_anchors:\n"
		  "  - Corp.Example\n"
		  "  - \"_msdcs.lan.\"\n" ONE_UPSTREAM,
		  &cfg, &msgs);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(contains(msgs, "test.yml:1: notice: key 'dnssec_trust_anchors' is read and "
				 "checked, but it has no effect while DNSSEC validation is off"));
	CU_ASSERT(contains(msgs, "test.yml:2: notice: key 'dnssec_negative_trust_anchors' is "
				 "read and checked"));
	CU_ASSERT_FALSE(cfg->dnssec);
	free(msgs);
	CU_ASSERT_EQUAL_FATAL(cfg->n_trust_anchors, 1);
	CU_ASSERT_STRING_EQUAL(cfg->trust_anchors[0], TEST_ANCHORS);
	CU_ASSERT_PTR_NOT_NULL(cfg->anchors);
	CU_ASSERT_EQUAL_FATAL(cfg->n_ntas, 2);
	CU_ASSERT_STRING_EQUAL(cfg->ntas[0].zone, "corp.example.");
	CU_ASSERT_EQUAL(cfg->ntas[0].zone_wire_len, sizeof(corp_wire));
	CU_ASSERT(memcmp(cfg->ntas[0].zone_wire, corp_wire, sizeof(corp_wire)) == 0);
	CU_ASSERT_STRING_EQUAL(cfg->ntas[1].zone, "_msdcs.lan.");
	CU_ASSERT_EQUAL(cfg->ntas[1].line, 4);

	/* dotd -i prints them; what it prints loads back to the same and prints the same. */
	f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	config_print(cfg, f);
	fclose(f);
	CU_ASSERT(contains(text, "dnssec_trust_anchors:\n  - \"" TEST_ANCHORS "\"\n"));
	CU_ASSERT(contains(text, "dnssec_negative_trust_anchors:\n  - \"corp.example.\"\n  - "
				 "\"_msdcs.lan.\"\n"));
	err = open_memstream(&msgs2, &len2);
	CU_ASSERT_FATAL(err != NULL);
	CU_ASSERT_EQUAL(config_load_string(text, len, "again.yml", &again, err), 0);
	fclose(err);
	CU_ASSERT_PTR_NULL(strstr(msgs2, "error"));
	CU_ASSERT(again && config_equal(cfg, again));
	free(msgs2);
	free(text);
	config_free(again);
	config_free(cfg);

	/* Unset: the built-in file is named, nothing is read; no NTAs. */
	cfg = load_ok(ONE_UPSTREAM);
	CU_ASSERT_PTR_NULL(cfg->anchors);
	CU_ASSERT_EQUAL(cfg->n_ntas, 0);
	text = NULL;
	f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	config_print(cfg, f);
	fclose(f);
	CU_ASSERT(contains(text, "# dnssec_trust_anchors: not set ("));
	CU_ASSERT(contains(text, "dnssec_negative_trust_anchors: []\n"));
	free(text);
	check_round_trip(cfg);
	config_free(cfg);

	/* A broken anchor file: its own file and line, then the key's line. */
	expect_error("dnssec_trust_anchors: [" TEST_SRCDIR "/unit/test_config.c]\n" ONE_UPSTREAM,
		     TEST_SRCDIR "/unit/test_config.c:1: not a DS or DNSKEY record");
	expect_error("dnssec_trust_anchors: [" TEST_SRCDIR "/unit/test_config.c]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'dnssec_trust_anchors': no usable trust anchors (the errors "
		     "above)\n");
	expect_only("dnssec_trust_anchors: /nonexistent/root.key\n" ONE_UPSTREAM,
		    "/nonexistent/root.key: cannot open: No such file or directory\n"
		    "test.yml:1: key 'dnssec_trust_anchors': cannot read the trust anchors: No "
		    "such file or directory\n");
	expect_only("dnssec_trust_anchors: root.key\n" ONE_UPSTREAM,
		    "test.yml:1: key 'dnssec_trust_anchors': 'root.key' is not an absolute path "
		    "(one starting with /)\n");
	expect_error("dnssec_trust_anchors:\n  - {name: .}\n" ONE_UPSTREAM,
		     "test.yml:2: key 'dnssec_trust_anchors': expected a file name");

	/* Bad NTAs, each with its line. */
	expect_only("dnssec_negative_trust_anchors:\n"
		    "  - corp.example\n"
		    "  - bad..name\n"
		    "  - \".\"\n"
		    "  - CORP.example.\n" ONE_UPSTREAM,
		    "test.yml:3: key 'dnssec_negative_trust_anchors': 'bad..name' is not a domain "
		    "name: it has an empty label\n"
		    "test.yml:4: key 'dnssec_negative_trust_anchors': '.' would turn validation "
		    "off for every name: set dnssec to GETDNS_EXTENSION_FALSE instead\n"
		    "test.yml:5: key 'dnssec_negative_trust_anchors': 'corp.example.' is listed "
		    "twice (first at line 2)\n");
	expect_only("dnssec_negative_trust_anchors: corp.example\n" ONE_UPSTREAM,
		    "test.yml:1: key 'dnssec_negative_trust_anchors': expected a list, got "
		    "'corp.example': write a list even of one, [\"corp.example\"]\n");

	/* Validation asked for: on, with the anchors and NTAs, no notice; printed and read back. */
	rc = load("dnssec: GETDNS_EXTENSION_TRUE\n"
		  "dnssec_trust_anchors: [" TEST_ANCHORS "]\n"
		  "dnssec_negative_trust_anchors: [corp.example]\n" ONE_UPSTREAM,
		  &cfg, &msgs);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
	CU_ASSERT(cfg->dnssec);
	CU_ASSERT_FALSE(cfg->dnssec_only_secure);
	CU_ASSERT_PTR_NOT_NULL(cfg->anchors);
	CU_ASSERT_EQUAL(cfg->n_ntas, 1);
	text = NULL;
	f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	config_print(cfg, f);
	fclose(f);
	CU_ASSERT(contains(text, "dnssec: GETDNS_EXTENSION_TRUE\n"));
	free(text);
	check_round_trip(cfg);
	config_free(cfg);
}

/* ---- valid files ---- */

static void test_lab_file(void)
{
	static const uint8_t pin[CONFIG_PIN_LEN] = {0,	1,  2,	3,  4,	5,  6,	7,  8,	9,  10,
						    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
						    22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
	struct config *cfg = load_ok(lab_yaml);
	const struct sockaddr_in *sin;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->source, "test.yml");

	CU_ASSERT_EQUAL_FATAL(cfg->n_listen, 1);
	sin = (const struct sockaddr_in *)&cfg->listen[0].addr;
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(cfg->listen[0].addr_len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 5301);
	CU_ASSERT_EQUAL(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].name, "127.0.0.1@5301");

	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 1);
	sin = (const struct sockaddr_in *)&cfg->upstreams[0].addr;
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(cfg->upstreams[0].addr_len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 8853);
	CU_ASSERT_EQUAL(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].name, "127.0.0.1@8853");
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].auth_name, "dot.test");
	CU_ASSERT_EQUAL(cfg->upstreams[0].line, 12);
	CU_ASSERT_EQUAL_FATAL(cfg->upstreams[0].n_pins, 1);
	CU_ASSERT(memcmp(cfg->upstreams[0].pins[0].sha256, pin, CONFIG_PIN_LEN) == 0);

	CU_ASSERT_EQUAL(cfg->auth, CONFIG_AUTH_REQUIRED);
	CU_ASSERT_PTR_NULL(cfg->ca_file);
	CU_ASSERT_PTR_NULL(cfg->ca_path);
	CU_ASSERT_EQUAL(cfg->idle_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->log_level, 5);
	CU_ASSERT_FALSE(cfg->round_robin);
	CU_ASSERT_EQUAL(cfg->padding_blocksize, 128);
	CU_ASSERT_TRUE(cfg->ecs_private);
	CU_ASSERT_EQUAL(cfg->tls_min, CONFIG_TLS_1_2);
	CU_ASSERT_EQUAL(cfg->tls_max, CONFIG_TLS_ANY);
	check_round_trip(cfg);
	config_free(cfg);
}

static void test_ipv6(void)
{
	struct config *cfg = load_ok("listen_addresses:\n"
				     "  - 0::1\n"
				     "  - ::1@5353\n"
				     "  - \"::\"\n"
				     "  - 0.0.0.0@65535\n"
				     "upstream_recursive_servers:\n"
				     "  - address_data: 2001:db8::1\n"
				     "    tls_auth_name: \"dot.test\"\n"
				     "  - {address_data: \"::1\", tls_port: 8853, "
				     "tls_auth_name: dot.test}\n");
	const struct sockaddr_in6 *sin6;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_listen, 4);
	CU_ASSERT_EQUAL(cfg->listen[0].addr.ss_family, AF_INET6);
	CU_ASSERT(is_ip(&cfg->listen[0].addr, cfg->listen[0].addr_len, "::1"));
	CU_ASSERT_EQUAL(port_of(&cfg->listen[0].addr), 53);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].name, "::1@53");
	CU_ASSERT(is_ip(&cfg->listen[1].addr, cfg->listen[1].addr_len, "::1"));
	CU_ASSERT_EQUAL(port_of(&cfg->listen[1].addr), 5353);
	CU_ASSERT_STRING_EQUAL(cfg->listen[1].name, "::1@5353");
	CU_ASSERT(is_ip(&cfg->listen[2].addr, cfg->listen[2].addr_len, "::"));
	CU_ASSERT_STRING_EQUAL(cfg->listen[2].name, "::@53");
	CU_ASSERT_EQUAL(cfg->listen[3].addr.ss_family, AF_INET);
	CU_ASSERT_STRING_EQUAL(cfg->listen[3].name, "0.0.0.0@65535");

	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 2);
	sin6 = (const struct sockaddr_in6 *)&cfg->upstreams[0].addr;
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(cfg->upstreams[0].addr_len, sizeof(struct sockaddr_in6));
	CU_ASSERT(is_ip(&cfg->upstreams[0].addr, cfg->upstreams[0].addr_len, "2001:db8::1"));
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), 853);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].name, "2001:db8::1@853");
	CU_ASSERT_EQUAL(cfg->upstreams[0].line, 7);
	CU_ASSERT(is_ip(&cfg->upstreams[1].addr, cfg->upstreams[1].addr_len, "::1"));
	CU_ASSERT_EQUAL(port_of(&cfg->upstreams[1].addr), 8853);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[1].name, "::1@8853");
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[1].auth_name, "dot.test");
	CU_ASSERT_EQUAL(cfg->upstreams[1].line, 9);
	check_round_trip(cfg);
	config_free(cfg);
}

static void test_defaults(void)
{
	struct config *cfg = load_ok(ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_listen, 2);
	CU_ASSERT(is_ip(&cfg->listen[0].addr, cfg->listen[0].addr_len, "127.0.0.1"));
	CU_ASSERT_EQUAL(port_of(&cfg->listen[0].addr), 53);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].name, "127.0.0.1@53");
	CU_ASSERT(is_ip(&cfg->listen[1].addr, cfg->listen[1].addr_len, "::1"));
	CU_ASSERT_EQUAL(port_of(&cfg->listen[1].addr), 53);
	CU_ASSERT_STRING_EQUAL(cfg->listen[1].name, "::1@53");
	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 1);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].name, "192.0.2.1@853");
	CU_ASSERT_PTR_NULL(cfg->upstreams[0].pins);
	CU_ASSERT_EQUAL(cfg->upstreams[0].n_pins, 0);
	CU_ASSERT_EQUAL(cfg->auth, CONFIG_AUTH_REQUIRED);
	CU_ASSERT_EQUAL(cfg->idle_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->log_level, 5);
	CU_ASSERT_TRUE(cfg->round_robin);
	CU_ASSERT_EQUAL(cfg->padding_blocksize, 128);
	CU_ASSERT_TRUE(cfg->ecs_private);
	CU_ASSERT_EQUAL(cfg->tls_min, CONFIG_TLS_1_2);
	CU_ASSERT_EQUAL(cfg->tls_max, CONFIG_TLS_ANY);
	CU_ASSERT_EQUAL(cfg->max_in_flight, 100);
	CU_ASSERT_EQUAL(cfg->conns_per_upstream, 2);
	CU_ASSERT_EQUAL(cfg->connection_retries, 2);
	CU_ASSERT_EQUAL(cfg->backoff_max_s, 3600);
	CU_ASSERT_EQUAL(cfg->timeout_per_try_ms, 800);
	CU_ASSERT_EQUAL(cfg->selection, CONFIG_SELECT_DEFAULT);
	CU_ASSERT_EQUAL(cfg->cache_size, 4u << 20);
	CU_ASSERT_EQUAL(cfg->cache_min_ttl, 0);
	CU_ASSERT_EQUAL(cfg->cache_max_ttl, 86400);
	CU_ASSERT_EQUAL(cfg->cache_max_negative_ttl, 3600);
	CU_ASSERT_EQUAL(cfg->serve_stale_max, 86400);
	CU_ASSERT_PTR_NULL(cfg->upstreams[0].host);
	CU_ASSERT_EQUAL(cfg->n_zones, 0);
	CU_ASSERT_TRUE(cfg->special_zones);
	CU_ASSERT_PTR_NULL(cfg->hosts_file);
	CU_ASSERT_EQUAL(cfg->n_blocklists, 0);
	CU_ASSERT_EQUAL(cfg->n_allowlists, 0);
	CU_ASSERT_EQUAL(cfg->block_answer, CONFIG_BLOCK_NXDOMAIN);
	CU_ASSERT_EQUAL(cfg->n_bootstrap, 0);
	CU_ASSERT_EQUAL(cfg->unset_clock, CONFIG_UNSET_CLOCK_FAIL);
	check_round_trip(cfg);
	config_free(cfg);
}

/* The cache's keys: values, 0 for no cache, the round trip, and errors. */
static void test_cache_keys(void)
{
	struct config *cfg = load_ok("cache_size: 0\n"
				     "cache_min_ttl: 30\n"
				     "cache_max_ttl: 3600\n"
				     "cache_max_negative_ttl: 60\n"
				     "serve_stale_max: 0\n" ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->cache_size, 0);
	CU_ASSERT_EQUAL(cfg->cache_min_ttl, 30);
	CU_ASSERT_EQUAL(cfg->cache_max_ttl, 3600);
	CU_ASSERT_EQUAL(cfg->cache_max_negative_ttl, 60);
	CU_ASSERT_EQUAL(cfg->serve_stale_max, 0);
	check_round_trip(cfg);
	config_free(cfg);
	expect_error("cache_size: 1000\n" ONE_UPSTREAM,
		     "test.yml:1: key 'cache_size': '1000' is below the smallest cache");
	expect_error("cache_max_ttl: 0\n" ONE_UPSTREAM,
		     "test.yml:1: key 'cache_max_ttl': '0' is out of range 1..604800\n");
}

static bool allows(const struct config *cfg, const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return config_acl_allows(cfg, (struct sockaddr *)&ss);
}

/* access_control: its default (loopback and private ranges), prefixes, and errors. */
static void test_access_control(void)
{
	struct config *cfg = load_ok(ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_acl, 6);
	CU_ASSERT_TRUE(allows(cfg, "127.0.0.1"));
	CU_ASSERT_TRUE(allows(cfg, "127.9.9.9"));
	CU_ASSERT_TRUE(allows(cfg, "::1"));
	CU_ASSERT_TRUE(allows(cfg, "10.1.2.3"));
	CU_ASSERT_TRUE(allows(cfg, "172.31.255.255"));
	CU_ASSERT_FALSE(allows(cfg, "172.32.0.1"));
	CU_ASSERT_TRUE(allows(cfg, "192.168.1.10"));
	CU_ASSERT_TRUE(allows(cfg, "fd12:3456::1"));
	CU_ASSERT_FALSE(allows(cfg, "8.8.8.8"));
	CU_ASSERT_FALSE(allows(cfg, "2001:db8::1"));
	CU_ASSERT_FALSE(allows(cfg, "fe80::1"));
	check_round_trip(cfg);
	config_free(cfg);

	/* Host bits are cleared; a single address is a /32 or /128. */
	cfg = load_ok("access_control: [192.168.7.9/24, 2001:db8::7, 203.0.113.5]\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_acl, 3);
	CU_ASSERT_STRING_EQUAL(cfg->acl[0].text, "192.168.7.0/24");
	CU_ASSERT_TRUE(allows(cfg, "192.168.7.200"));
	CU_ASSERT_FALSE(allows(cfg, "192.168.8.1"));
	CU_ASSERT_TRUE(allows(cfg, "2001:db8::7"));
	CU_ASSERT_FALSE(allows(cfg, "2001:db8::8"));
	CU_ASSERT_TRUE(allows(cfg, "203.0.113.5"));
	CU_ASSERT_FALSE(allows(cfg, "127.0.0.1")); /* given, the default no longer applies */
	check_round_trip(cfg);
	config_free(cfg);

	cfg = load_ok("access_control: []\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_FALSE(allows(cfg, "127.0.0.1"));
	config_free(cfg);

	expect_error("access_control: [10.0.0.0/33]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'access_control': bad prefix '10.0.0.0/33'");
	expect_error("access_control: [lan]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'access_control': bad prefix 'lan'");
	expect_error("access_control: 10.0.0.0/8\n" ONE_UPSTREAM,
		     "test.yml:1: key 'access_control': expected a list");
}

static bool metrics_allows(const struct config *cfg, const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return config_metrics_allows(cfg, (struct sockaddr *)&ss);
}

/* control_socket, cache_file, metrics_listen and metrics_access_control. */
static void test_ops_keys(void)
{
	struct config *cfg = load_ok(ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NULL(cfg->control_socket);
	CU_ASSERT_PTR_NULL(cfg->cache_file);
	CU_ASSERT_PTR_NULL(cfg->metrics_name);
	/* Metrics default to loopback only, though the DNS access control admits the LAN. */
	CU_ASSERT_TRUE(metrics_allows(cfg, "127.0.0.1"));
	CU_ASSERT_TRUE(metrics_allows(cfg, "::1"));
	CU_ASSERT_FALSE(metrics_allows(cfg, "192.168.1.10"));
	CU_ASSERT_TRUE(allows(cfg, "192.168.1.10"));
	check_round_trip(cfg);
	config_free(cfg);

	cfg = load_ok("control_socket: /run/dotd/control.sock\ncache_file: /tmp/dotd.cache\n"
		      "metrics_listen: \"::1@9153\"\nmetrics_access_control: "
		      "[192.168.1.0/24]\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->control_socket, "/run/dotd/control.sock");
	CU_ASSERT_STRING_EQUAL(cfg->cache_file, "/tmp/dotd.cache");
	CU_ASSERT_STRING_EQUAL(cfg->metrics_name, "::1@9153");
	CU_ASSERT_EQUAL(port_of(&cfg->metrics_addr), 9153);
	CU_ASSERT_TRUE(metrics_allows(cfg, "192.168.1.10"));
	CU_ASSERT_FALSE(
		metrics_allows(cfg, "127.0.0.1")); /* given, the default no longer applies */
	check_round_trip(cfg);
	config_free(cfg);

	expect_error("control_socket: run/dotd.sock\n" ONE_UPSTREAM,
		     "test.yml:1: key 'control_socket': 'run/dotd.sock' is not an absolute path");
	/* sun_path holds 107 bytes and a NUL: a longer path would be cut, another socket. */
	expect_error("control_socket: /"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" ONE_UPSTREAM,
		     "is longer than 107 bytes");
	expect_error("cache_file: dotd.cache\n" ONE_UPSTREAM,
		     "test.yml:1: key 'cache_file': 'dotd.cache' is not an absolute path");
	expect_error("metrics_listen: 127.0.0.1\n" ONE_UPSTREAM,
		     "test.yml:1: key 'metrics_listen': '127.0.0.1' has no port");
	expect_error("metrics_listen: localhost@9153\n" ONE_UPSTREAM,
		     "test.yml:1: key 'metrics_listen': bad address 'localhost@9153'");
	expect_error("metrics_access_control: [10.0.0.0/33]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'metrics_access_control': bad prefix '10.0.0.0/33'");
}

/* Limits and user: values, the round trip, and errors. */
static void test_limits_user(void)
{
	struct config *cfg = load_ok(ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->tcp_clients_max, 128);
	CU_ASSERT_EQUAL(cfg->tcp_queries_per_client, 128);
	CU_ASSERT_EQUAL(cfg->udp_queries_per_source, 512);
	CU_ASSERT_EQUAL(cfg->queries_max, 2048);
	CU_ASSERT_EQUAL(cfg->tcp_buffer_max, 65536);
	CU_ASSERT_EQUAL(cfg->tcp_idle_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->tcp_messages_per_read, 32);
	CU_ASSERT_PTR_NULL(cfg->user);
	config_free(cfg);

	cfg = load_ok("tcp_clients_max: 4\ntcp_queries_per_client: 2\nudp_queries_per_source: 3\n"
		      "queries_max: 10\ntcp_buffer_max: 8192\ntcp_idle_timeout: 500\n"
		      "tcp_messages_per_read: 1\nuser: dotd\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->tcp_clients_max, 4);
	CU_ASSERT_EQUAL(cfg->tcp_queries_per_client, 2);
	CU_ASSERT_EQUAL(cfg->udp_queries_per_source, 3);
	CU_ASSERT_EQUAL(cfg->queries_max, 10);
	CU_ASSERT_EQUAL(cfg->tcp_buffer_max, 8192);
	CU_ASSERT_EQUAL(cfg->tcp_idle_timeout_ms, 500);
	CU_ASSERT_EQUAL(cfg->tcp_messages_per_read, 1);
	CU_ASSERT_STRING_EQUAL(cfg->user, "dotd");
	check_round_trip(cfg);
	config_free(cfg);

	expect_error("tcp_clients_max: 0\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tcp_clients_max': '0' is out of range");
	expect_error("tcp_buffer_max: 100\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tcp_buffer_max': '100' is out of range");
	expect_error("user: [a]\n" ONE_UPSTREAM, "test.yml:1: key 'user': expected a string");
}

/*
 * workers: 1 by default, a number from 1 to 64, or auto: the CPUs this process may run on (at
 * most 64), so one under `taskset -c 0` whatever the cores online.
 */
static void test_workers(void)
{
	struct config *cfg = load_ok(ONE_UPSTREAM);
	cpu_set_t set, one;
	long cores;

	CU_ASSERT_FATAL(sched_getaffinity(0, sizeof(set), &set) == 0);
	cores = CPU_COUNT(&set);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->workers, 1);
	config_free(cfg);
	cfg = load_ok("workers: 3\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->workers, 3);
	check_round_trip(cfg);
	config_free(cfg);
	cfg = load_ok("workers: auto\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->workers, cores < 1 ? 1 : cores > 64 ? 64 : (unsigned)cores);
	config_free(cfg);
	/* Allowed one CPU (the first of those allowed): auto is 1. */
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set)) {
			CPU_SET(c, &one);
			break;
		}
	}
	CU_ASSERT_FATAL(sched_setaffinity(0, sizeof(one), &one) == 0);
	cfg = load_ok("workers: auto\n" ONE_UPSTREAM);
	CU_ASSERT_FATAL(sched_setaffinity(0, sizeof(set), &set) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->workers, 1);
	config_free(cfg);
	expect_error("workers: 0\n" ONE_UPSTREAM, "test.yml:1: key 'workers': '0' is out of range");
	expect_error("workers: 65\n" ONE_UPSTREAM,
		     "test.yml:1: key 'workers': '65' is out of range");
	expect_error("workers: many\n" ONE_UPSTREAM, "test.yml:1: key 'workers'");
	expect_error("workers: [2]\n" ONE_UPSTREAM, "test.yml:1: key 'workers'");
}

/* The upstream pool's keys: values, Stubby's 0 for "no limit", the round trip, and errors. */
static void test_pool_keys(void)
{
	struct config *cfg = load_ok("limit_outstanding_queries: 0\n"
				     "connections_per_upstream: 3\n"
				     "tls_connection_retries: 4\n"
				     "tls_backoff_time: 60\n"
				     "timeout_per_try: 500\n"
				     "upstream_selection: fastest\n" ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->max_in_flight, 32768);
	CU_ASSERT_EQUAL(cfg->conns_per_upstream, 3);
	CU_ASSERT_EQUAL(cfg->connection_retries, 4);
	CU_ASSERT_EQUAL(cfg->backoff_max_s, 60);
	CU_ASSERT_EQUAL(cfg->timeout_per_try_ms, 500);
	CU_ASSERT_EQUAL(cfg->selection, CONFIG_SELECT_FASTEST);
	check_round_trip(cfg);
	config_free(cfg);

	cfg = load_ok("limit_outstanding_queries: 7\n"
		      "upstream_selection: round_robin_upstreams\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->max_in_flight, 7);
	CU_ASSERT_EQUAL(cfg->selection, CONFIG_SELECT_DEFAULT);
	config_free(cfg);

	expect_error("limit_outstanding_queries: 40000\n" ONE_UPSTREAM,
		     "test.yml:1: key 'limit_outstanding_queries': '40000' is out of range "
		     "0..32768\n");
	expect_error("connections_per_upstream: 0\n" ONE_UPSTREAM,
		     "test.yml:1: key 'connections_per_upstream': '0' is out of range 1..16\n");
	expect_error("timeout_per_try: 0\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout_per_try': '0' is out of range");
	expect_error("upstream_selection: slowest\n" ONE_UPSTREAM,
		     "test.yml:1: key 'upstream_selection': expected round_robin_upstreams or "
		     "fastest, got 'slowest'\n");
}

/* GETDNS_* names and their numbers, YAML booleans, and the other values of each key. */
static void test_values(void)
{
	struct config *cfg = load_ok("tls_authentication: 1300\n"
				     "resolution_type: 520\n"
				     "dns_transport_list: [1202, GETDNS_TRANSPORT_TLS]\n"
				     "round_robin_upstreams: false\n"
				     "edns_client_subnet_private: FALSE\n"
				     "idle_timeout: 0\n"
				     "timeout: 1\n"
				     "log_level: 7\n"
				     "tls_query_padding_blocksize: 0\n"
				     "tls_min_version: 1404\n"
				     "tls_max_version: GETDNS_TLS1_3\n" ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->auth, CONFIG_AUTH_NONE);
	CU_ASSERT_FALSE(cfg->round_robin);
	CU_ASSERT_FALSE(cfg->ecs_private);
	CU_ASSERT_EQUAL(cfg->idle_timeout_ms, 0);
	CU_ASSERT_EQUAL(cfg->timeout_ms, 1);
	CU_ASSERT_EQUAL(cfg->log_level, 7);
	CU_ASSERT_EQUAL(cfg->padding_blocksize, 0);
	CU_ASSERT_EQUAL(cfg->tls_min, CONFIG_TLS_1_3);
	CU_ASSERT_EQUAL(cfg->tls_max, CONFIG_TLS_1_3);
	check_round_trip(cfg);
	config_free(cfg);

	cfg = load_ok("tls_authentication: 1301\n"
		      "round_robin_upstreams: true\n"
		      "edns_client_subnet_private: True\n"
		      "log_level: GETDNS_LOG_ERR\n"
		      "tls_query_padding_blocksize: 1\n"
		      "tls_min_version: GETDNS_TLS1_2\n"
		      "tls_max_version: 1403\n"
		      "timeout: 4294967295\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->auth, CONFIG_AUTH_REQUIRED);
	CU_ASSERT_TRUE(cfg->round_robin);
	CU_ASSERT_TRUE(cfg->ecs_private);
	CU_ASSERT_EQUAL(cfg->log_level, 3);
	CU_ASSERT_EQUAL(cfg->padding_blocksize, 128); /* Stubby's 1: "sensible" */
	CU_ASSERT_EQUAL(cfg->tls_min, CONFIG_TLS_1_2);
	CU_ASSERT_EQUAL(cfg->tls_max, CONFIG_TLS_1_2);
	CU_ASSERT_EQUAL(cfg->timeout_ms, 4294967295u);
	check_round_trip(cfg);
	config_free(cfg);

	cfg = load_ok("tls_query_padding_blocksize: 65535\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->padding_blocksize, 65535);
	config_free(cfg);
}

static void test_ca(void)
{
	struct config *cfg = load_ok("tls_ca_file: " TEST_SRCDIR "/certs/known-rsa.pem\n"
				     "tls_ca_path: \"" TEST_SRCDIR "/unit\"\n" ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->ca_file, TEST_SRCDIR "/certs/known-rsa.pem");
	CU_ASSERT_STRING_EQUAL(cfg->ca_path, TEST_SRCDIR "/unit");
	check_round_trip(cfg);
	config_free(cfg);
}

/* Several pins, odd but valid names, and opportunistic mode: the printer must keep them all. */
static void test_round_trip_mixed(void)
{
	struct config *cfg = load_ok("tls_authentication: GETDNS_AUTHENTICATION_NONE\n"
				     "log_level: GETDNS_LOG_DEBUG\n"
				     "tls_min_version: GETDNS_TLS1_3\n"
				     "listen_addresses: [127.0.0.2@1053, \"::1@1053\"]\n"
				     "upstream_recursive_servers:\n"
				     "  - address_data: 2001:db8::53\n"
				     "    tls_port: 443\n"
				     "    tls_auth_name: 'we\"ird\\name.'\n"
				     "    tls_pubkey_pinset:\n"
				     "      - digest: sha256\n"
				     "        value: " PIN_B64 "\n"
				     "      - {digest: \"sha256\", value: \"" PIN2_B64 "\"}\n"
				     "  - address_data: 198.51.100.7\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 2);
	/* The trailing dot is dropped: the absolute form of the same name. */
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].auth_name, "we\"ird\\name");
	CU_ASSERT_EQUAL_FATAL(cfg->upstreams[0].n_pins, 2);
	CU_ASSERT_EQUAL(cfg->upstreams[0].pins[1].sha256[0], 0x7e);
	CU_ASSERT_EQUAL(cfg->upstreams[0].pins[1].sha256[31], 0xd4);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[1].name, "198.51.100.7@853");
	CU_ASSERT_PTR_NULL(cfg->upstreams[1].auth_name);
	check_round_trip(cfg);
	config_free(cfg);
}

/* tls_auth_name: one trailing dot dropped, IP literals kept, empty labels refused. */
static void test_auth_name_normalised(void)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"dns.quad9.net.", "dns.quad9.net"}, {"dns.quad9.net", "dns.quad9.net"},
		{"localhost.", "localhost"},	     {"127.0.0.1", "127.0.0.1"},
		{"2620:fe::fe", "2620:fe::fe"},
	};
	static const char *const bad[] = {
		".", "..", "dns..quad9.net", ".dns.quad9.net", "dns.quad9.net..", "''"};
	char yaml[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct config *cfg;

		snprintf(yaml, sizeof(yaml),
			 "upstream_recursive_servers:\n"
			 "  - address_data: 192.0.2.1\n"
			 "    tls_auth_name: \"%s\"\n",
			 ok[i].in);
		cfg = load_ok(yaml);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].auth_name, ok[i].out);
		check_round_trip(cfg);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 "upstream_recursive_servers:\n"
			 "  - address_data: 192.0.2.1\n"
			 "    tls_auth_name: %s\n",
			 bad[i]);
		expect_error(yaml, "is not a host name");
	}
}

/*
 * What YAML reads as a line break (U+0085, U+2028, U+2029) or refuses (C1 controls, U+FEFF,
 * U+FFFE) inside a string: config_print escapes it, so dotd -i's output loads back the same
 * (fuzz_config found a tls_auth_name with "\\N" that came back with a space).
 */
static void test_print_unicode_breaks(void)
{
	static const char *const in[] = {"a\\Nb.example", "a\\Lb",     "a\\Pb",	    "a\\u0080b",
					 "a\\u009fb",	  "a\\ufeffb", "a\\ufffeb", "a\\uffffb"};
	char yaml[256];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct config *cfg;

		snprintf(yaml, sizeof(yaml),
			 "hosts_file: \"/etc/%s\"\n"
			 "upstream_recursive_servers:\n"
			 "  - address_data: 192.0.2.1\n"
			 "    tls_auth_name: \"%s\"\n",
			 in[i], in[i]);
		cfg = load_ok(yaml);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_TRUE(strlen(cfg->upstreams[0].auth_name) > 2);
		check_round_trip(cfg);
		config_free(cfg);
	}
}

/* Upstreams the short way: every form of tls://, and that each means its mapping form. */
static void test_tls_url(void)
{
	struct config *cfg = load_ok("upstream_recursive_servers:\n"
				     "  - tls://9.9.9.9#dns.quad9.net\n"
				     "  - tls://149.112.112.112:8853#dns.quad9.net.\n"
				     "  - \"tls://[2620:fe::fe]#dns.quad9.net\"\n"
				     "  - tls://[2620:fe::9]:443#2620:fe::9\n"
				     "  - TLS://DNS.Quad9.NET.\n"
				     "  - tls://dns.quad9.net:8853#Other.Example\n"
				     "  - tls://one.one.one.one^" PIN_B64 "^" PIN2_B64 "\n"
				     "  - tls://192.0.2.1^" PIN_B64 "\n"
				     "  - address_data: 192.0.2.3\n"
				     "    tls_auth_name: dot.test\n");
	struct config *same;
	const struct config_upstream *up;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 9);
	up = &cfg->upstreams[0];
	CU_ASSERT_EQUAL(up->addr.ss_family, AF_INET);
	CU_ASSERT(is_ip(&up->addr, up->addr_len, "9.9.9.9"));
	CU_ASSERT_EQUAL(port_of(&up->addr), 853);
	CU_ASSERT_PTR_NULL(up->host);
	CU_ASSERT_STRING_EQUAL(up->name, "9.9.9.9@853");
	CU_ASSERT_STRING_EQUAL(up->auth_name, "dns.quad9.net");
	CU_ASSERT_EQUAL(up->n_pins, 0);
	CU_ASSERT_EQUAL(up->line, 2);
	/* The trailing dot of an auth name is dropped, as in tls_auth_name. */
	up = &cfg->upstreams[1];
	CU_ASSERT_EQUAL(port_of(&up->addr), 8853);
	CU_ASSERT_STRING_EQUAL(up->name, "149.112.112.112@8853");
	CU_ASSERT_STRING_EQUAL(up->auth_name, "dns.quad9.net");
	/* IPv6 in brackets, without and with a port; an IP literal as the auth name. */
	up = &cfg->upstreams[2];
	CU_ASSERT_EQUAL(up->addr.ss_family, AF_INET6);
	CU_ASSERT(is_ip(&up->addr, up->addr_len, "2620:fe::fe"));
	CU_ASSERT_EQUAL(port_of(&up->addr), 853);
	CU_ASSERT_STRING_EQUAL(up->name, "2620:fe::fe@853");
	up = &cfg->upstreams[3];
	CU_ASSERT(is_ip(&up->addr, up->addr_len, "2620:fe::9"));
	CU_ASSERT_EQUAL(port_of(&up->addr), 443);
	CU_ASSERT_STRING_EQUAL(up->name, "2620:fe::9@443");
	CU_ASSERT_STRING_EQUAL(up->auth_name, "2620:fe::9");
	/* A host name: lower case, no trailing dot, only a port, and its own auth name. */
	up = &cfg->upstreams[4];
	CU_ASSERT_STRING_EQUAL(up->host, "dns.quad9.net");
	CU_ASSERT_EQUAL(up->addr.ss_family, AF_UNSPEC);
	CU_ASSERT_EQUAL(up->addr_len, 0);
	CU_ASSERT_EQUAL(ntohs(((const struct sockaddr_in *)&up->addr)->sin_port), 853);
	CU_ASSERT_STRING_EQUAL(up->name, "dns.quad9.net@853");
	CU_ASSERT_STRING_EQUAL(up->auth_name, "dns.quad9.net");
	CU_ASSERT_EQUAL(up->line, 6);
	/* #AUTH_NAME, when it differs, is the name the certificate must match, as written. */
	up = &cfg->upstreams[5];
	CU_ASSERT_STRING_EQUAL(up->host, "dns.quad9.net");
	CU_ASSERT_EQUAL(port_of(&up->addr), 8853);
	CU_ASSERT_STRING_EQUAL(up->name, "dns.quad9.net@8853");
	CU_ASSERT_STRING_EQUAL(up->auth_name, "Other.Example");
	/* Several pins, in order. */
	up = &cfg->upstreams[6];
	CU_ASSERT_STRING_EQUAL(up->host, "one.one.one.one");
	CU_ASSERT_STRING_EQUAL(up->auth_name, "one.one.one.one");
	CU_ASSERT_EQUAL_FATAL(up->n_pins, 2);
	CU_ASSERT_EQUAL(up->pins[0].sha256[31], 31);
	CU_ASSERT_EQUAL(up->pins[1].sha256[0], 0x7e);
	CU_ASSERT_EQUAL(up->pins[1].sha256[31], 0xd4);
	/* A pin alone satisfies strict authentication, as in the mapping form. */
	up = &cfg->upstreams[7];
	CU_ASSERT_PTR_NULL(up->auth_name);
	CU_ASSERT_EQUAL(up->n_pins, 1);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[8].name, "192.0.2.3@853");
	check_round_trip(cfg);

	/* Each IP form is its mapping form exactly. */
	same = load_ok("upstream_recursive_servers:\n"
		       "  - {address_data: 9.9.9.9, tls_auth_name: dns.quad9.net}\n"
		       "  - {address_data: 149.112.112.112, tls_port: 8853, "
		       "tls_auth_name: dns.quad9.net}\n"
		       "  - {address_data: \"2620:fe::fe\", tls_auth_name: dns.quad9.net}\n"
		       "  - {address_data: \"2620:fe::9\", tls_port: 443, "
		       "tls_auth_name: \"2620:fe::9\"}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(same);
	CU_ASSERT(upstreams_equal(cfg->upstreams, 4, same->upstreams, same->n_upstreams));
	config_free(same);
	config_free(cfg);

	/* Quoted, a tls:// upstream with brackets goes in a flow list too. */
	cfg = load_ok("upstream_recursive_servers: [\"tls://[::1]:8853#dot.test\", "
		      "tls://127.0.0.1#dot.test]\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 2);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].name, "::1@8853");
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[1].name, "127.0.0.1@853");
	config_free(cfg);

	/* Odd but valid auth names of a host name upstream round-trip in the tls:// form. */
	cfg = load_ok("upstream_recursive_servers:\n"
		      "  - tls://dns.example:853#we\"ird\\\\name#x\n"
		      "  - tls://192.0.2.1#dot.test\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].auth_name, "we\"ird\\\\name#x");
	check_round_trip(cfg);
	config_free(cfg);

	/* Under strict authentication a host name needs nothing more: its name is checked. */
	cfg = load_ok("upstream_recursive_servers:\n"
		      "  - tls://dns.quad9.net\n"
		      "  - tls://9.9.9.9#dns.quad9.net\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
	/* Opportunistic mode takes a bare address. */
	cfg = load_ok("tls_authentication: GETDNS_AUTHENTICATION_NONE\n"
		      "upstream_recursive_servers: [tls://192.0.2.1]\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NULL(cfg->upstreams[0].auth_name);
	check_round_trip(cfg);
	config_free(cfg);
}

/* Every mistake in a tls:// upstream: one line each, saying what is wrong. */
static void test_err_tls_url(void)
{
	static const struct {
		const char *url, *why;
	} bad[] = {
		{"192.0.2.1", "no scheme: write tls://ADDR[:PORT][#AUTH_NAME][^PIN]..., or a "
			      "mapping with address_data"},
		{"dns.quad9.net", "no scheme: write tls://ADDR[:PORT][#AUTH_NAME][^PIN]..., or a "
				  "mapping with address_data"},
		{"https://dns.quad9.net/dns-query",
		 "dotd speaks DNS over TLS only: tls://ADDR[:PORT][#AUTH_NAME][^PIN]..."},
		{"quic://dns.adguard-dns.com",
		 "dotd speaks DNS over TLS only: tls://ADDR[:PORT][#AUTH_NAME][^PIN]..."},
		{"udp://192.0.2.1",
		 "dotd speaks DNS over TLS only: tls://ADDR[:PORT][#AUTH_NAME][^PIN]..."},
		{"tls://", "no address after tls://"},
		{"tls://:853", "no address before ':'"},
		{"tls://192.0.2.1:0", "the port must be a number 1..65535"},
		{"tls://192.0.2.1:65536", "the port must be a number 1..65535"},
		{"tls://192.0.2.1:85x", "the port must be a number 1..65535"},
		{"tls://[2620:fe::fe]:99999999", "the port must be a number 1..65535"},
		{"tls://192.0.2.1@853",
		 "the port follows ':' in a tls:// upstream: write tls://192.0.2.1:853"},
		{"tls://2620:fe::fe:853", "an IPv6 address goes in brackets: write "
					  "tls://[2620:fe::fe]:853 for port 853, or "
					  "tls://[2620:fe::fe:853] for that address"},
		{"tls://2620:fe::fe",
		 "an IPv6 address goes in brackets: write tls://[2620:fe::fe]"},
		{"tls://[2620:fe::fe", "no ']' after '['"},
		{"tls://[192.0.2.1]:853",
		 "brackets are for IPv6 addresses only: write tls://192.0.2.1"},
		{"tls://[2620:fe::fg]", "'[2620:fe::fg]' is not an IPv6 address"},
		{"tls://[fe80::1%eth0]", "'[fe80::1%eth0]' is not an IPv6 address"},
		{"tls://[::1]853", "unexpected '853' after the address"},
		{"tls://192.0.2.256", "'192.0.2.256' is not an IPv4 address"},
		{"tls://192.0.2.1.", "'192.0.2.1.' is not an IPv4 address"},
		{"tls://192.0.2", "'192.0.2' is not an IPv4 address"},
		{"tls://2620:fe::fe::1:853", "neither an IP address nor a host name"},
		{"tls://dns_quad9.net", "'dns_quad9.net' is not a host name: '_' is not allowed "
					"(letters, digits, '-' and '.' only)"},
		{"tls://dns..quad9.net",
		 "'dns..quad9.net' is not a host name: it has an empty label"},
		{"tls://.quad9.net", "'.quad9.net' is not a host name: it has an empty label"},
		{"tls://-dns.quad9.net",
		 "'-dns.quad9.net' is not a host name: a label starts with '-'"},
		{"tls://dns-.quad9.net",
		 "'dns-.quad9.net' is not a host name: a label ends with '-'"},
		{"tls://dns.quad9.123", "'dns.quad9.123' is not a host name: its last label is all "
					"digits"},
		{"tls://dns.b\xc3\xbc"
		 "cher.example",
		 "'dns.b\xc3\xbc"
		 "cher.example' is not a host name: write an internationalised name in its xn-- "
		 "form"},
		{"tls://dns.quad9.net/dns-query",
		 "DNS over TLS has no path nor query: tls://ADDR[:PORT][#AUTH_NAME][^PIN]..."},
		{"tls://192.0.2.1#", "no auth name after '#' (leave the '#' out for none)"},
		{"tls://192.0.2.1#^" PIN_B64,
		 "no auth name after '#' (leave the '#' out for none)"},
		{"tls://192.0.2.1#dns..quad9.net", "'dns..quad9.net' is not a host name"},
		{"tls://192.0.2.1^", "no pin after '^'"},
		{"tls://192.0.2.1^" PIN_B64 "^", "no pin after '^'"},
		{"tls://192.0.2.1^AAECAwQFBgcICQoLDA0ODxAREhM=",
		 "the pin 'AAECAwQFBgcICQoLDA0ODxAREhM=' decodes to 20 bytes, a SHA-256 pin has "
		 "32"},
		{"tls://192.0.2.1^AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v",
		 "the pin 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v' "
		 "decodes to more than 32 bytes, a SHA-256 pin has 32"},
		{"tls://192.0.2.1^AAECAwQFBgcICQoLDA0O!xAREhMUFRYXGBkaGxwdHh8=",
		 "the pin 'AAECAwQFBgcICQoLDA0O!xAREhMUFRYXGBkaGxwdHh8=' is not valid base64"},
		{"tls://192.0.2.1^" PIN_B64 "#dot.test",
		 "the #AUTH_NAME comes before the ^PINs: tls://ADDR[:PORT][#AUTH_NAME][^PIN]..."},
	};
	char yaml[512];
	char expected[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "upstream_recursive_servers:\n  - \"%s\"\n",
			 bad[i].url);
		snprintf(expected, sizeof(expected),
			 "test.yml:2: key 'upstream_recursive_servers': bad upstream '%s': %s\n",
			 bad[i].url, bad[i].why);
		expect_only(yaml, expected);
	}

	/* A ':' at the end makes YAML read a mapping: the message is still about the port. */
	expect_only(
		"upstream_recursive_servers:\n  - tls://192.0.2.1:\n",
		"test.yml:2: key 'upstream_recursive_servers': bad upstream 'tls://192.0.2.1:': "
		"no port after ':'\n");
	/* In a flow list, YAML takes the brackets for its own. */
	expect_only(
		"upstream_recursive_servers: [tls://[2620:fe::fe]:853#dns.quad9.net]\n",
		"test.yml:1: did not find expected ',' or ']' (while parsing a flow sequence at "
		"line 1): a tls:// upstream with brackets must be quoted here, write "
		"\"tls://[2620:fe::fe]:853#dns.quad9.net\"\n");

	/* Strict authentication: an address with neither #name nor ^pin, as for a mapping. */
	expect_only("upstream_recursive_servers:\n  - tls://192.0.2.1\n",
		    "test.yml:2: key 'upstream_recursive_servers': upstream '192.0.2.1@853' has "
		    "neither #AUTH_NAME nor ^PIN, which tls_authentication "
		    "GETDNS_AUTHENTICATION_REQUIRED needs\n");
	expect_only("upstream_recursive_servers:\n  - \"tls://[2620:fe::fe]:8853\"\n",
		    "test.yml:2: key 'upstream_recursive_servers': upstream '2620:fe::fe@8853' has "
		    "neither #AUTH_NAME nor ^PIN, which tls_authentication "
		    "GETDNS_AUTHENTICATION_REQUIRED needs\n");
	/* " #" starts a YAML comment: the name is lost, and strict authentication says so. */
	expect_only("upstream_recursive_servers:\n  - tls://192.0.2.1 #dns.quad9.net\n",
		    "test.yml:2: key 'upstream_recursive_servers': upstream '192.0.2.1@853' has "
		    "neither #AUTH_NAME nor ^PIN, which tls_authentication "
		    "GETDNS_AUTHENTICATION_REQUIRED needs\n");
}

#define HOST_NOT_LOOKED_UP                                                                         \
	"is a host name, and nothing can look it up: add an upstream with an address "             \
	"(tls://IP#NAME or address_data), which looks it up over TLS, or bootstrap: [IP, ...], "   \
	"plain DNS servers that then see the upstreams' host names in clear text\n"

/* bootstrap: plain servers for the host names of upstreams, needed only when nothing else is. */
static void test_bootstrap(void)
{
	struct config *cfg = load_ok("bootstrap: [192.168.1.1, \"::1@5353\", 8.8.8.8]\n"
				     "upstream_recursive_servers:\n"
				     "  - tls://dns.quad9.net\n"
				     "  - tls://one.one.one.one:853#cloudflare-dns.com\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_bootstrap, 3);
	CU_ASSERT(is_ip(&cfg->bootstrap[0].addr, cfg->bootstrap[0].addr_len, "192.168.1.1"));
	CU_ASSERT_EQUAL(port_of(&cfg->bootstrap[0].addr), 53);
	CU_ASSERT_STRING_EQUAL(cfg->bootstrap[0].name, "192.168.1.1@53");
	CU_ASSERT(is_ip(&cfg->bootstrap[1].addr, cfg->bootstrap[1].addr_len, "::1"));
	CU_ASSERT_EQUAL(port_of(&cfg->bootstrap[1].addr), 5353);
	/* Any address: the user chose to show the upstreams' names to this one. */
	CU_ASSERT_STRING_EQUAL(cfg->bootstrap[2].name, "8.8.8.8@53");
	check_round_trip(cfg);
	config_free(cfg);

	/* An upstream with an address looks the host names up, over TLS: no bootstrap needed. */
	cfg = load_ok("upstream_recursive_servers:\n"
		      "  - tls://dns.quad9.net\n"
		      "  - address_data: 9.9.9.9\n"
		      "    tls_auth_name: dns.quad9.net\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_bootstrap, 0);
	CU_ASSERT_PTR_NULL(cfg->bootstrap);
	check_round_trip(cfg);
	config_free(cfg);
	/* Without host names it is not needed, and not an error either. */
	cfg = load_ok("bootstrap: [192.168.1.1]\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_bootstrap, 1);
	config_free(cfg);

	/* Host names only and no bootstrap: one error, at the first, that gives both ways out. */
	expect_only("upstream_recursive_servers:\n"
		    "  - tls://dns.quad9.net\n"
		    "  - tls://one.one.one.one\n",
		    "test.yml:2: key 'upstream_recursive_servers': upstream "
		    "'dns.quad9.net@853' " HOST_NOT_LOOKED_UP);
	expect_only("bootstrap: []\n"
		    "upstream_recursive_servers:\n"
		    "  - tls://dns.quad9.net:8853\n",
		    "test.yml:3: key 'upstream_recursive_servers': upstream "
		    "'dns.quad9.net@8853' " HOST_NOT_LOOKED_UP);
	/* No knock-on error when bootstrap or an upstream is wrong itself. */
	expect_only("bootstrap: [dns.google]\n"
		    "upstream_recursive_servers:\n"
		    "  - tls://dns.quad9.net\n",
		    "test.yml:1: key 'bootstrap': bad address 'dns.google': not an IPv4 or IPv6 "
		    "address (host names are not allowed)\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - tls://dns.quad9.net\n"
		    "  - tls://9.9.9.9:0#dns.quad9.net\n",
		    "test.yml:3: key 'upstream_recursive_servers': bad upstream "
		    "'tls://9.9.9.9:0#dns.quad9.net': the port must be a number 1..65535\n");
	expect_only("bootstrap: [192.168.1.1, 192.168.1.1@53]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'bootstrap': '192.168.1.1@53' is listed twice\n");
	expect_only("bootstrap: [192.168.1.1:53]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'bootstrap': bad address '192.168.1.1:53': the port follows "
		    "'@', not ':': write 192.168.1.1@53\n");
	expect_only("bootstrap: 192.168.1.1\n" ONE_UPSTREAM,
		    "test.yml:1: key 'bootstrap': expected a list, got '192.168.1.1'\n");
	expect_only("bootstrap:\n  - \"::\"\n  - ::\n" ONE_UPSTREAM,
		    "test.yml:3: key 'bootstrap': '::' must be quoted: YAML reads an unquoted "
		    "address ending in ':' as a mapping, write \"::\"\n");
}

/* forward_zones: DoT and plain zones, their names normalised and in wire format. */
static void test_forward_zones(void)
{
	static const uint8_t lan_wire[] = {3, 'l', 'a', 'n', 0};
	static const uint8_t corp_wire[] = {4,	 'c', 'o', 'r', 'p', 7,	  'e',
					    'x', 'a', 'm', 'p', 'l', 'e', 0};
	struct config *cfg =
		load_ok(ONE_UPSTREAM "forward_zones:\n"
				     "  - zone: LAN\n"
				     "    plain: [192.168.1.1, \"fd00::53@5353\"]\n"
				     "  - zone: Corp.Example.\n"
				     "    upstream_recursive_servers:\n"
				     "      - tls://dns.corp.example:8853\n"
				     "      - address_data: 10.0.0.53\n"
				     "        tls_auth_name: dns.corp.example\n"
				     "        tls_pubkey_pinset:\n"
				     "          - {digest: sha256, value: " PIN_B64 "}\n"
				     "  - zone: 168.192.in-addr.arpa\n"
				     "    plain: [\"192.168.1.1@53\"]\n"
				     "  - zone: _msdcs.corp.example\n"
				     "    plain: [10.0.0.1]\n");
	const struct config_zone *z;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_zones, 4);
	z = &cfg->zones[0];
	CU_ASSERT_STRING_EQUAL(z->zone, "lan.");
	CU_ASSERT_EQUAL_FATAL(z->zone_wire_len, sizeof(lan_wire));
	CU_ASSERT(memcmp(z->zone_wire, lan_wire, sizeof(lan_wire)) == 0);
	CU_ASSERT_EQUAL(z->line, 5);
	CU_ASSERT_EQUAL(z->n_upstreams, 0);
	CU_ASSERT_PTR_NULL(z->upstreams);
	CU_ASSERT_EQUAL_FATAL(z->n_plain, 2);
	CU_ASSERT(is_ip(&z->plain[0].addr, z->plain[0].addr_len, "192.168.1.1"));
	CU_ASSERT_EQUAL(port_of(&z->plain[0].addr), 53);
	CU_ASSERT_STRING_EQUAL(z->plain[0].name, "192.168.1.1@53");
	CU_ASSERT_EQUAL(port_of(&z->plain[1].addr), 5353);
	CU_ASSERT_STRING_EQUAL(z->plain[1].name, "fd00::53@5353");
	/* Upstreams of a zone: the same items and fields as at the top level. */
	z = &cfg->zones[1];
	CU_ASSERT_STRING_EQUAL(z->zone, "corp.example.");
	CU_ASSERT_EQUAL_FATAL(z->zone_wire_len, sizeof(corp_wire));
	CU_ASSERT(memcmp(z->zone_wire, corp_wire, sizeof(corp_wire)) == 0);
	CU_ASSERT_EQUAL(z->n_plain, 0);
	CU_ASSERT_EQUAL_FATAL(z->n_upstreams, 2);
	CU_ASSERT_STRING_EQUAL(z->upstreams[0].host, "dns.corp.example");
	CU_ASSERT_STRING_EQUAL(z->upstreams[0].name, "dns.corp.example@8853");
	CU_ASSERT_STRING_EQUAL(z->upstreams[0].auth_name, "dns.corp.example");
	CU_ASSERT_EQUAL(z->upstreams[0].line, 9);
	CU_ASSERT(is_ip(&z->upstreams[1].addr, z->upstreams[1].addr_len, "10.0.0.53"));
	CU_ASSERT_STRING_EQUAL(z->upstreams[1].name, "10.0.0.53@853");
	CU_ASSERT_STRING_EQUAL(z->upstreams[1].auth_name, "dns.corp.example");
	CU_ASSERT_EQUAL(z->upstreams[1].n_pins, 1);
	/* A domain name, not a host name: digits-only labels and '_' are allowed. */
	CU_ASSERT_STRING_EQUAL(cfg->zones[2].zone, "168.192.in-addr.arpa.");
	CU_ASSERT_EQUAL(cfg->zones[2].zone_wire_len, 22);
	CU_ASSERT_STRING_EQUAL(cfg->zones[3].zone, "_msdcs.corp.example.");
	check_round_trip(cfg);
	config_free(cfg);

	/* No zones: an empty list. */
	cfg = load_ok("forward_zones: []\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_zones, 0);
	check_round_trip(cfg);
	config_free(cfg);
}

/*
 * Zones inside zones are all kept, in file order, each with its own name and wire form, for
 * the resolver to pick the longest that matches; the root zone over DoT; the longest name.
 */
static void test_forward_zones_nested(void)
{
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters: 255 octets in wire format. */
	static const char l63[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char l61[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	static const uint8_t sub_wire[] = {7,	'p', 'r', 'i', 'n', 't', 'e',
					   'r', 3,   'l', 'a', 'n', 0};
	struct config *cfg = load_ok(ONE_UPSTREAM "forward_zones:\n"
						  "  - zone: lan\n"
						  "    plain: [192.168.1.1]\n"
						  "  - zone: printer.lan\n"
						  "    plain: [192.168.1.2]\n"
						  "  - zone: .\n"
						  "    upstream_recursive_servers:\n"
						  "      - tls://9.9.9.9#dns.quad9.net\n");
	char yaml[1024];
	char expected[1024];
	char longest[300];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_zones, 3);
	CU_ASSERT_STRING_EQUAL(cfg->zones[0].zone, "lan.");
	CU_ASSERT_STRING_EQUAL(cfg->zones[1].zone, "printer.lan.");
	CU_ASSERT_EQUAL_FATAL(cfg->zones[1].zone_wire_len, sizeof(sub_wire));
	CU_ASSERT(memcmp(cfg->zones[1].zone_wire, sub_wire, sizeof(sub_wire)) == 0);
	CU_ASSERT_STRING_EQUAL(cfg->zones[1].plain[0].name, "192.168.1.2@53");
	CU_ASSERT_STRING_EQUAL(cfg->zones[2].zone, ".");
	CU_ASSERT_EQUAL_FATAL(cfg->zones[2].zone_wire_len, 1);
	CU_ASSERT_EQUAL(cfg->zones[2].zone_wire[0], 0);
	CU_ASSERT_EQUAL(cfg->zones[2].n_upstreams, 1);
	check_round_trip(cfg);
	config_free(cfg);

	snprintf(longest, sizeof(longest), "%s.%s.%s.%s", l63, l63, l63, l61);
	CU_ASSERT_EQUAL_FATAL(strlen(longest), 253);
	snprintf(yaml, sizeof(yaml),
		 ONE_UPSTREAM "forward_zones:\n  - zone: %s.\n    plain: [10.0.0.1]\n", longest);
	cfg = load_ok(yaml);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->zones[0].zone_wire_len, 255);
	CU_ASSERT_EQUAL(cfg->zones[0].zone_wire[0], 63);
	CU_ASSERT_EQUAL(cfg->zones[0].zone_wire[192], 61);
	CU_ASSERT_EQUAL(cfg->zones[0].zone_wire[254], 0);
	CU_ASSERT_EQUAL(strlen(cfg->zones[0].zone), 254);
	check_round_trip(cfg);
	config_free(cfg);

	/* One more is a name of 256 octets, over the limit (RFC 1035 §2.3.4). */
	snprintf(yaml, sizeof(yaml),
		 ONE_UPSTREAM "forward_zones:\n  - zone: b%s\n    plain: [10.0.0.1]\n", longest);
	snprintf(expected, sizeof(expected),
		 "test.yml:5: key 'zone': 'b%s.%s.%s.%s' is not a domain "
		 "name: it is longer than 253 characters\n",
		 l63, l63, l63, l61);
	expect_only(yaml, expected);
	snprintf(yaml, sizeof(yaml),
		 ONE_UPSTREAM "forward_zones:\n  - zone: a%s.lan\n    plain: [10.0.0.1]\n", l63);
	snprintf(expected, sizeof(expected),
		 "test.yml:5: key 'zone': 'a%s.lan' is not a domain name: "
		 "a label is longer than 63 characters\n",
		 l63);
	expect_only(yaml, expected);
}

/* Plain DNS to @addr in a zone: whether it loads (nothing printed), or its exact error. */
static void check_plain(const char *addr, bool allowed, const char *hint)
{
	char yaml[256];
	char expected[512];
	struct config *cfg;

	snprintf(yaml, sizeof(yaml),
		 ONE_UPSTREAM "forward_zones:\n  - zone: lan\n    plain: [\"%s\"]\n", addr);
	if (allowed) {
		cfg = load_ok(yaml);
		CU_ASSERT_PTR_NOT_NULL(cfg);
		config_free(cfg);
		return;
	}
	snprintf(expected, sizeof(expected),
		 "test.yml:6: key 'plain': plain DNS only to private addresses: %s would carry "
		 "names in clear text across the internet; use upstream_recursive_servers with "
		 "tls:// for it%s\n",
		 addr, hint);
	expect_only(yaml, expected);
}

/* Plain DNS stays on this host or the local network: every range, and just outside each. */
static void test_forward_zones_private(void)
{
	static const char *const allowed[] = {
		"127.0.0.1",	  "127.255.255.254",	"::1",
		"10.0.0.1",	  "10.255.255.255",	"172.16.0.1",
		"172.31.255.255", "192.168.0.1",	"192.168.255.255",
		"169.254.0.1",	  "169.254.255.255",	"fc00::1",
		"fd12:3456::53",  "fdff:ffff::1",	"fe80::1",
		"febf:ffff::1",	  "::ffff:192.168.1.1", "192.168.1.1@5353",
		"fd00::53@5353",
	};
	static const char *const refused[] = {
		"8.8.8.8",		/* public IPv4 */
		"2001:4860:4860::8888", /* public IPv6 */
		"172.32.0.1",		/* just above 172.16.0.0/12 */
		"172.15.255.255",	/* just below it */
		"11.0.0.1",		/* just above 10.0.0.0/8 */
		"192.169.0.1",		/* just above 192.168.0.0/16 */
		"169.255.0.1",		/* just above 169.254.0.0/16 */
		"128.0.0.1",		/* just above 127.0.0.0/8 */
		"fe00::1",		/* between fc00::/7 and fe80::/10 */
		"fbff:ffff::1",		/* just below fc00::/7 */
		"fec0::1",		/* just above fe80::/10: the old site-local */
		"::2",			/* not ::1 */
		"::ffff:8.8.8.8",	/* IPv4-mapped: judged as 8.8.8.8 */
		"0.0.0.0",
		"::",
		"224.0.0.251", /* multicast (mDNS's) */
		"255.255.255.255",
	};

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		check_plain(allowed[i], true, "");
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		check_plain(refused[i], false, "");
	}
	/* Carrier-grade NAT is the carrier's network, not the home's: refused, and says so. */
	check_plain("100.64.0.1", false,
		    " (100.64.0.0/10 is the carrier's shared address space, RFC 6598, not the home "
		    "network)");
	check_plain("100.127.255.254", false,
		    " (100.64.0.0/10 is the carrier's shared address space, RFC 6598, not the home "
		    "network)");
	check_plain("100.128.0.1", false, "");
}

/* Every mistake in a forward zone, one line each. */
static void test_err_forward_zones(void)
{
	/* The root zone in clear text would be every query in clear text. */
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: .\n    plain: [192.168.1.1]\n",
		    "test.yml:6: key 'plain': the root zone '.' would send every query in clear "
		    "text: use upstream_recursive_servers with tls:// for it\n");
	/* The same zone twice, however it is written. */
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: lan.\n"
				 "    plain: [192.168.1.1]\n"
				 "  - zone: LAN\n"
				 "    plain: [192.168.1.2]\n",
		    "test.yml:7: key 'zone': 'lan.' is listed twice (first at line 5)\n");
	/* Exactly one of upstream_recursive_servers and plain. */
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: lan\n"
				 "    plain: [192.168.1.1]\n"
				 "    upstream_recursive_servers: [tls://192.168.1.1#router.lan]\n",
		    "test.yml:7: key 'upstream_recursive_servers': a forward zone takes "
		    "upstream_recursive_servers or plain, not both\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: lan\n",
		    "test.yml:5: key 'forward_zones': a forward zone needs "
		    "upstream_recursive_servers (DNS over TLS) or plain (plain DNS to private "
		    "addresses)\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - plain: [192.168.1.1]\n",
		    "test.yml:5: key 'zone': missing: every forward zone needs one\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: lan\n"
				 "    plain: [192.168.1.1]\n"
				 "    tls_auth_name: router.lan\n",
		    "test.yml:7: key 'tls_auth_name': unknown key in a forward zone\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: lan\n"
				 "    zone: home\n"
				 "    plain: [192.168.1.1]\n",
		    "test.yml:6: key 'zone': duplicate key (first at line 5)\n");
	/* Bad names. */
	expect_only(
		ONE_UPSTREAM "forward_zones:\n  - zone: lan..\n    plain: [192.168.1.1]\n",
		"test.yml:5: key 'zone': 'lan..' is not a domain name: it has an empty label\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: \"..\"\n    plain: [192.168.1.1]\n",
		    "test.yml:5: key 'zone': '..' is not a domain name: it has an empty label\n");
	expect_only(
		ONE_UPSTREAM "forward_zones:\n  - zone: \"\"\n    plain: [192.168.1.1]\n",
		"test.yml:5: key 'zone': '' is not a domain name: it is empty (the root zone is "
		"\".\")\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: my lan\n    plain: [192.168.1.1]\n",
		    "test.yml:5: key 'zone': 'my lan' is not a domain name: ' ' is not allowed "
		    "(letters, digits, '-', '_' and '.' only)\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: \"*.lan\"\n    plain: [192.168.1.1]\n",
		    "test.yml:5: key 'zone': '*.lan' is not a domain name: '*' is not allowed "
		    "(letters, digits, '-', '_' and '.' only)\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: [lan]\n    plain: [192.168.1.1]\n",
		    "test.yml:5: key 'zone': expected a domain name, got a list\n");
	/* Types and empty lists. */
	expect_only(ONE_UPSTREAM "forward_zones:\n  zone: lan\n",
		    "test.yml:4: key 'forward_zones': expected a list, got a mapping\n");
	expect_only(ONE_UPSTREAM "forward_zones: [lan]\n",
		    "test.yml:4: key 'forward_zones': expected a mapping with zone, and "
		    "upstream_recursive_servers or plain, got 'lan'\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: lan\n    plain: []\n",
		    "test.yml:6: key 'plain': the list is empty: a forward zone needs at least one "
		    "server\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: lan\n    plain: 192.168.1.1\n",
		    "test.yml:6: key 'plain': expected a list, got '192.168.1.1'\n");
	expect_only(ONE_UPSTREAM
		    "forward_zones:\n  - zone: lan\n    upstream_recursive_servers: []\n",
		    "test.yml:6: key 'upstream_recursive_servers': the list is empty: a forward "
		    "zone needs at least one upstream\n");
	/* plain servers: addresses, as elsewhere. */
	expect_only(
		ONE_UPSTREAM "forward_zones:\n  - zone: lan\n    plain: [router.lan]\n",
		"test.yml:6: key 'plain': bad address 'router.lan': not an IPv4 or IPv6 address "
		"(host names are not allowed)\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n  - zone: lan\n    plain: [192.168.1.1:53]\n",
		    "test.yml:6: key 'plain': bad address '192.168.1.1:53': the port follows '@', "
		    "not ':': write 192.168.1.1@53\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: lan\n"
				 "    plain: [192.168.1.1, 192.168.1.1@53]\n",
		    "test.yml:6: key 'plain': '192.168.1.1@53' is listed twice\n");
	/* Upstreams of a zone: the same item rules and the same strict authentication. */
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: corp\n"
				 "    upstream_recursive_servers: [tls://10.0.0.53]\n",
		    "test.yml:6: key 'upstream_recursive_servers': upstream '10.0.0.53@853' has "
		    "neither #AUTH_NAME nor ^PIN, which tls_authentication "
		    "GETDNS_AUTHENTICATION_REQUIRED needs\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: corp\n"
				 "    upstream_recursive_servers:\n"
				 "      - address_data: 10.0.0.53\n",
		    "test.yml:7: key 'upstream_recursive_servers': upstream '10.0.0.53@853' has "
		    "neither tls_auth_name nor tls_pubkey_pinset, which tls_authentication "
		    "GETDNS_AUTHENTICATION_REQUIRED needs\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: corp\n"
				 "    upstream_recursive_servers:\n"
				 "      - address_data: 10.0.0.53\n"
				 "        tls_auth_nam: dns.corp\n"
				 "        tls_auth_name: dns.corp\n",
		    "test.yml:8: key 'tls_auth_nam': unknown key in an upstream\n");
	expect_only(ONE_UPSTREAM
		    "forward_zones:\n"
		    "  - zone: corp\n"
		    "    upstream_recursive_servers: [\"https://dns.corp/dns-query\"]\n",
		    "test.yml:6: key 'upstream_recursive_servers': bad upstream "
		    "'https://dns.corp/dns-query': dotd speaks DNS over TLS only: "
		    "tls://ADDR[:PORT][#AUTH_NAME][^PIN]...\n");
	expect_only(ONE_UPSTREAM "forward_zones:\n"
				 "  - zone: corp\n"
				 "    upstream_recursive_servers:\n"
				 "      - address_data: 10.0.0.53\n"
				 "        tls_auth_name: dns.corp\n"
				 "        tls_min_version: GETDNS_TLS1_3\n",
		    "test.yml:9: key 'tls_min_version': GETDNS_TLS1_3 is not honoured per "
		    "upstream, and dotd's minimum for every upstream is TLS 1.2: write "
		    "tls_min_version: GETDNS_TLS1_3 at the top level\n");
	/* Opportunistic mode applies to zones too. */
	{
		struct config *cfg = load_ok("tls_authentication: GETDNS_AUTHENTICATION_NONE\n"
					     "upstream_recursive_servers: [tls://192.0.2.1]\n"
					     "forward_zones:\n"
					     "  - zone: corp\n"
					     "    upstream_recursive_servers: [tls://10.0.0.53]\n");

		CU_ASSERT_PTR_NOT_NULL(cfg);
		config_free(cfg);
	}
}

/* Host name upstreams in zones: looked up by any upstream with an address, or by bootstrap. */
static void test_forward_zones_host_names(void)
{
	/* An address in a forward zone counts as well as one at the top level. */
	struct config *cfg =
		load_ok("upstream_recursive_servers: [tls://dns.quad9.net]\n"
			"forward_zones:\n"
			"  - zone: corp\n"
			"    upstream_recursive_servers: [tls://10.0.0.53#dns.corp]\n");

	CU_ASSERT_PTR_NOT_NULL(cfg);
	check_round_trip(cfg);
	config_free(cfg);
	cfg = load_ok(ONE_UPSTREAM "forward_zones:\n"
				   "  - zone: corp\n"
				   "    upstream_recursive_servers: [tls://dns.corp]\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
	/* Host names everywhere and no bootstrap: the first one is named. */
	expect_only("upstream_recursive_servers: [tls://dns.quad9.net]\n"
		    "forward_zones:\n"
		    "  - zone: corp\n"
		    "    upstream_recursive_servers: [tls://dns.corp]\n",
		    "test.yml:1: key 'upstream_recursive_servers': upstream "
		    "'dns.quad9.net@853' " HOST_NOT_LOOKED_UP);
	/* A plain server of a zone does not look up upstreams' names. */
	expect_only("upstream_recursive_servers: [tls://dns.quad9.net]\n"
		    "forward_zones:\n"
		    "  - zone: lan\n"
		    "    plain: [192.168.1.1]\n",
		    "test.yml:1: key 'upstream_recursive_servers': upstream "
		    "'dns.quad9.net@853' " HOST_NOT_LOOKED_UP);
	cfg = load_ok("bootstrap: [192.168.1.1]\n"
		      "upstream_recursive_servers: [tls://dns.quad9.net]\n"
		      "forward_zones:\n"
		      "  - zone: corp\n"
		      "    upstream_recursive_servers: [tls://dns.corp]\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	check_round_trip(cfg);
	config_free(cfg);
}

/* special_use_zones: on by default, off with 0, a flag like the others. */
static void test_special_use_zones(void)
{
	struct config *cfg = load_ok(ONE_UPSTREAM);

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_TRUE(cfg->special_zones);
	config_free(cfg);
	cfg = load_ok("special_use_zones: 0\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_FALSE(cfg->special_zones);
	check_round_trip(cfg);
	config_free(cfg);
	cfg = load_ok("special_use_zones: true\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_TRUE(cfg->special_zones);
	check_round_trip(cfg);
	config_free(cfg);
	expect_only("special_use_zones: 2\n" ONE_UPSTREAM,
		    "test.yml:1: key 'special_use_zones': expected 0, 1, true or false, got '2'\n");
	expect_only("special_use_zones: [localhost]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'special_use_zones': expected 0, 1, true or false, got a "
		    "list\n");
}

/* hosts_file, blocklists, allowlists and block_answer: values, defaults and mistakes. */
static void test_filter_keys(void)
{
	static const struct {
		const char *text;
		enum config_block_answer value;
	} answers[] = {
		{"nxdomain", CONFIG_BLOCK_NXDOMAIN}, {"NXDOMAIN", CONFIG_BLOCK_NXDOMAIN},
		{"nodata", CONFIG_BLOCK_NODATA},     {"NoData", CONFIG_BLOCK_NODATA},
		{"null", CONFIG_BLOCK_NULL},	     {"\"null\"", CONFIG_BLOCK_NULL},
		{"NULL", CONFIG_BLOCK_NULL},	     {"'null'", CONFIG_BLOCK_NULL},
	};
	struct config *cfg = load_ok(ONE_UPSTREAM);
	char yaml[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NULL(cfg->hosts_file);
	CU_ASSERT_EQUAL(cfg->n_blocklists, 0);
	CU_ASSERT_EQUAL(cfg->n_allowlists, 0);
	CU_ASSERT_EQUAL(cfg->block_answer, CONFIG_BLOCK_NXDOMAIN);
	config_free(cfg);

	cfg = load_ok("hosts_file: /etc/hosts\n"
		      "blocklists:\n"
		      "  - /etc/dotd/ads.txt\n"
		      "  - \"/var/lib/dotd/malware hosts\"\n"
		      "allowlists: [/etc/dotd/allow.txt]\n"
		      "block_answer: null\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->hosts_file, "/etc/hosts");
	CU_ASSERT_EQUAL_FATAL(cfg->n_blocklists, 2);
	CU_ASSERT_STRING_EQUAL(cfg->blocklists[0], "/etc/dotd/ads.txt");
	CU_ASSERT_STRING_EQUAL(cfg->blocklists[1], "/var/lib/dotd/malware hosts");
	CU_ASSERT_EQUAL_FATAL(cfg->n_allowlists, 1);
	CU_ASSERT_STRING_EQUAL(cfg->allowlists[0], "/etc/dotd/allow.txt");
	CU_ASSERT_EQUAL(cfg->block_answer, CONFIG_BLOCK_NULL);
	check_round_trip(cfg);
	config_free(cfg);

	/* Empty lists are none. */
	cfg = load_ok("blocklists: []\nallowlists: []\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_blocklists, 0);
	CU_ASSERT_EQUAL(cfg->n_allowlists, 0);
	config_free(cfg);

	/* Any case; an unquoted null is YAML's null, which here names the value. */
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		snprintf(yaml, sizeof(yaml), "block_answer: %s\n" ONE_UPSTREAM, answers[i].text);
		cfg = load_ok(yaml);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
		CU_ASSERT_EQUAL(cfg->block_answer, answers[i].value);
		check_round_trip(cfg);
		config_free(cfg);
	}

	expect_only("hosts_file: etc/hosts\n" ONE_UPSTREAM,
		    "test.yml:1: key 'hosts_file': 'etc/hosts' is not an absolute path (one "
		    "starting with /)\n");
	expect_only("hosts_file: [/etc/hosts]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'hosts_file': expected a string, got a list\n");
	expect_only("hosts_file:\n" ONE_UPSTREAM,
		    "test.yml:1: key 'hosts_file': expected a string, got nothing\n");
	/* One path without the list: the message shows the list. */
	expect_only("blocklists: /etc/dotd/ads.txt\n" ONE_UPSTREAM,
		    "test.yml:1: key 'blocklists': expected a list, got '/etc/dotd/ads.txt': write "
		    "a list even of one, [\"/etc/dotd/ads.txt\"]\n");
	expect_only("allowlists: /etc/dotd/allow.txt\n" ONE_UPSTREAM,
		    "test.yml:1: key 'allowlists': expected a list, got '/etc/dotd/allow.txt': "
		    "write a list even of one, [\"/etc/dotd/allow.txt\"]\n");
	expect_only("blocklists: {ads: /etc/dotd/ads.txt}\n" ONE_UPSTREAM,
		    "test.yml:1: key 'blocklists': expected a list, got a mapping\n");
	expect_only("blocklists:\n  - /etc/dotd/ads.txt\n  - ads.txt\n" ONE_UPSTREAM,
		    "test.yml:3: key 'blocklists': 'ads.txt' is not an absolute path (one starting "
		    "with /)\n");
	expect_only("allowlists:\n  - [/etc/dotd/allow.txt]\n" ONE_UPSTREAM,
		    "test.yml:2: key 'allowlists': expected a string, got a list\n");
	expect_only("blocklists: [/etc/dotd/ads.txt, /etc/dotd/ads.txt]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'blocklists': '/etc/dotd/ads.txt' is listed twice\n");
	expect_only("block_answer: refused\n" ONE_UPSTREAM,
		    "test.yml:1: key 'block_answer': expected nxdomain, nodata or null, got "
		    "'refused'\n");
	/* No numbers: these are not getdns constants. */
	expect_only("block_answer: 0\n" ONE_UPSTREAM,
		    "test.yml:1: key 'block_answer': expected nxdomain, nodata or null, got '0'\n");
	expect_only("block_answer: ~\n" ONE_UPSTREAM,
		    "test.yml:1: key 'block_answer': expected nxdomain, nodata or null, got "
		    "nothing\n");
	expect_only("block_answer:\n" ONE_UPSTREAM,
		    "test.yml:1: key 'block_answer': expected nxdomain, nodata or null, got "
		    "nothing\n");
}

/* What dotd -i prints for @cfg; the caller frees it. */
static char *print_config(const struct config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CU_ASSERT_FATAL(f != NULL);
	config_print(cfg, f);
	fclose(f);
	return text;
}

/*
 * workers_steering: cpu (the default) or hash, printed and read back; anything else, a near
 * miss, another case, a number or nothing, is an error naming the line.
 */
static void test_steering(void)
{
	struct config *cfg = load_ok("workers: 2\n" ONE_UPSTREAM);
	char *text;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->steering, CONFIG_STEERING_CPU);
	text = print_config(cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nworkers_steering: cpu\n"));
	free(text);
	config_free(cfg);
	cfg = load_ok("workers: 2\nworkers_steering: hash\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->steering, CONFIG_STEERING_HASH);
	text = print_config(cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nworkers_steering: hash\n"));
	free(text);
	check_round_trip(cfg);
	config_free(cfg);
	expect_only("workers_steering: random\n" ONE_UPSTREAM,
		    "test.yml:1: key 'workers_steering': expected cpu or hash, got 'random'\n");
	expect_only("\nworkers_steering: CPU\n" ONE_UPSTREAM,
		    "test.yml:2: key 'workers_steering': expected cpu or hash, got 'CPU'\n");
	expect_only("workers_steering: 1\n" ONE_UPSTREAM,
		    "test.yml:1: key 'workers_steering': expected cpu or hash, got '1'\n");
	expect_only("workers_steering:\n" ONE_UPSTREAM,
		    "test.yml:1: key 'workers_steering': expected cpu or hash, got nothing\n");
	expect_only("workers_steering: [cpu]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'workers_steering': expected cpu or hash, got a list\n");
}

/*
 * tls_unset_clock: fail (the default) or accept_pinned, printed and read back; anything else,
 * a near miss, a number or nothing, is an error naming the line, never silently "fail".
 */
static void test_unset_clock(void)
{
	struct config *cfg = load_ok("tls_unset_clock: accept_pinned\n" ONE_UPSTREAM);
	char *text;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->unset_clock, CONFIG_UNSET_CLOCK_ACCEPT_PINNED);
	text = print_config(cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\ntls_unset_clock: accept_pinned\n"));
	free(text);
	check_round_trip(cfg);
	config_free(cfg);

	cfg = load_ok("tls_unset_clock: \"fail\"\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->unset_clock, CONFIG_UNSET_CLOCK_FAIL);
	text = print_config(cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\ntls_unset_clock: fail\n"));
	free(text);
	check_round_trip(cfg);
	config_free(cfg);

	expect_only("tls_unset_clock: accept\n" ONE_UPSTREAM,
		    "test.yml:1: key 'tls_unset_clock': expected fail or accept_pinned, got "
		    "'accept'\n");
	expect_only("\ntls_unset_clock: ACCEPT_PINNED\n" ONE_UPSTREAM,
		    "test.yml:2: key 'tls_unset_clock': expected fail or accept_pinned, got "
		    "'ACCEPT_PINNED'\n");
	expect_only("tls_unset_clock: 1\n" ONE_UPSTREAM,
		    "test.yml:1: key 'tls_unset_clock': expected fail or accept_pinned, got '1'\n");
	expect_only("tls_unset_clock: true\n" ONE_UPSTREAM,
		    "test.yml:1: key 'tls_unset_clock': expected fail or accept_pinned, got "
		    "'true'\n");
	expect_only("tls_unset_clock:\n" ONE_UPSTREAM,
		    "test.yml:1: key 'tls_unset_clock': expected fail or accept_pinned, got "
		    "nothing\n");
	expect_only("tls_unset_clock: [accept_pinned]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'tls_unset_clock': expected fail or accept_pinned, got a "
		    "list\n");
}

/* Opportunistic mode allows an upstream with neither a name nor pins. */
static void test_opportunistic(void)
{
	struct config *cfg = load_ok("tls_authentication: GETDNS_AUTHENTICATION_NONE\n"
				     "upstream_recursive_servers:\n"
				     "  - address_data: 192.0.2.1\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->auth, CONFIG_AUTH_NONE);
	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 1);
	CU_ASSERT_PTR_NULL(cfg->upstreams[0].auth_name);
	CU_ASSERT_EQUAL(cfg->upstreams[0].n_pins, 0);
	config_free(cfg);

	/* Order does not matter: the mode may come after the upstreams. */
	cfg = load_ok("upstream_recursive_servers:\n"
		      "  - address_data: 192.0.2.1\n"
		      "tls_authentication: GETDNS_AUTHENTICATION_NONE\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
}

static void test_notices(void)
{
	struct config *cfg = NULL;
	char *msgs;
	int rc = load("tls_ciphersuites: TLS_AES_256_GCM_SHA384\n"
		      "tls_connection_retries: 5\n"
		      "dnssec_trust_anchors: [" TEST_ANCHORS "]\n"
		      "cache_size: 1000000\n"
		      "serve_stale_max: 0\n"
		      "upstream_recursive_servers:\n"
		      "  - address_data: 192.0.2.1\n"
		      "    port: 53\n"
		      "    tls_auth_name: \"dot.test\"\n"
		      "    tsig_name: key.\n"
		      "    tls_cipher_list: \"EECDH+AESGCM\"\n"
		      "    scope_id: eth0\n",
		      &cfg, &msgs);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	CU_ASSERT(contains(msgs, "test.yml:1: notice: key 'tls_ciphersuites' is accepted but not "
				 "implemented yet, ignored\n"));
	/* Implemented now: read, and no notice. */
	CU_ASSERT_PTR_NULL(strstr(msgs, "tls_connection_retries"));
	CU_ASSERT_EQUAL(cfg->connection_retries, 5);
	CU_ASSERT(contains(msgs, "test.yml:3: notice: key 'dnssec_trust_anchors' is read and "
				 "checked, but it has no effect while DNSSEC validation is off"));
	/* Implemented now. */
	CU_ASSERT_PTR_NULL(strstr(msgs, "cache_size"));
	CU_ASSERT_EQUAL(cfg->cache_size, 1000 * 1000);
	CU_ASSERT_PTR_NULL(strstr(msgs, "serve_stale_max"));
	CU_ASSERT_EQUAL(cfg->serve_stale_max, 0);
	CU_ASSERT(contains(msgs, "test.yml:8: notice: key 'port' is accepted and ignored: dotd "
				 "never uses clear-text UDP/TCP upstreams\n"));
	CU_ASSERT(contains(msgs, "test.yml:10: notice: key 'tsig_name' is accepted and ignored: "
				 "dotd does not do TSIG; strict TLS authentication authenticates "
				 "this upstream's answers\n"));
	CU_ASSERT(contains(msgs, "test.yml:11: notice: key 'tls_cipher_list' is accepted but not "
				 "implemented yet, ignored\n"));
	CU_ASSERT(contains(msgs, "test.yml:12: notice: key 'scope_id'"));
	CU_ASSERT_PTR_NULL(strstr(msgs, "error"));
	free(msgs);
	config_free(cfg);
}

static void test_default_config(void)
{
	static const char *const names[] = {
		"9.9.9.9@853",
		"149.112.112.112@853",
		"2620:fe::fe@853",
		"2620:fe::9@853",
		"1.1.1.1@853",
		"1.0.0.1@853",
		"2606:4700:4700::1111@853",
		"2606:4700:4700::1001@853",
	};
	struct config *cfg = NULL;
	char *msgs = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msgs, &len);
	int rc;

	CU_ASSERT_FATAL(err != NULL);
	rc = config_load_default(&cfg, err);
	fclose(err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
	CU_ASSERT_STRING_EQUAL(cfg->source, "<built-in default>");
	CU_ASSERT_EQUAL(config_default_yaml_len, strlen(config_default_yaml));

	CU_ASSERT_EQUAL_FATAL(cfg->n_listen, 2);
	CU_ASSERT_STRING_EQUAL(cfg->listen[0].name, "127.0.0.1@53");
	CU_ASSERT_STRING_EQUAL(cfg->listen[1].name, "::1@53");
	CU_ASSERT_EQUAL(port_of(&cfg->listen[0].addr), 53);
	CU_ASSERT_EQUAL(port_of(&cfg->listen[1].addr), 53);
	CU_ASSERT_EQUAL(cfg->listen[1].addr.ss_family, AF_INET6);

	CU_ASSERT_EQUAL_FATAL(cfg->n_upstreams, 8);
	for (size_t i = 0; i < 8; i++) {
		const struct config_upstream *up = &cfg->upstreams[i];

		CU_ASSERT_STRING_EQUAL(up->name, names[i]);
		CU_ASSERT_STRING_EQUAL(up->auth_name,
				       i < 4 ? "dns.quad9.net" : "cloudflare-dns.com");
		CU_ASSERT_EQUAL(up->n_pins, 0);
		CU_ASSERT_EQUAL(port_of(&up->addr), 853);
	}
	CU_ASSERT_EQUAL(cfg->auth, CONFIG_AUTH_REQUIRED);
	CU_ASSERT_EQUAL(cfg->idle_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->log_level, 5);
	CU_ASSERT_TRUE(cfg->round_robin);
	CU_ASSERT_EQUAL(cfg->padding_blocksize, 128);
	CU_ASSERT_TRUE(cfg->ecs_private);
	CU_ASSERT_EQUAL(cfg->tls_min, CONFIG_TLS_1_2);
	CU_ASSERT_EQUAL(cfg->tls_max, CONFIG_TLS_ANY);
	CU_ASSERT_PTR_NULL(cfg->ca_file);
	CU_ASSERT_PTR_NULL(cfg->ca_path);
	/* The home-network features are off until the file asks for them. */
	CU_ASSERT_EQUAL(cfg->n_zones, 0);
	CU_ASSERT_TRUE(cfg->special_zones);
	CU_ASSERT_PTR_NULL(cfg->hosts_file);
	CU_ASSERT_EQUAL(cfg->n_blocklists, 0);
	CU_ASSERT_EQUAL(cfg->n_allowlists, 0);
	CU_ASSERT_EQUAL(cfg->block_answer, CONFIG_BLOCK_NXDOMAIN);
	CU_ASSERT_EQUAL(cfg->n_bootstrap, 0);
	check_round_trip(cfg);
	config_free(cfg);
}

static void test_load_file(void)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct config *cfg = &sentinel;
	char *msgs = NULL;
	size_t len = 0;
	FILE *err;
	int fd = mkstemp(path);
	int rc;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, lab_yaml, strlen(lab_yaml)) == (ssize_t)strlen(lab_yaml));
	close(fd);
	rc = config_load_file(path, &cfg, NULL);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(cfg->source, path);
	CU_ASSERT_EQUAL(cfg->n_upstreams, 1);
	config_free(cfg);
	unlink(path);

	cfg = &sentinel;
	err = open_memstream(&msgs, &len);
	CU_ASSERT_FATAL(err != NULL);
	rc = config_load_file("/nonexistent/dotd.yml", &cfg, err);
	fclose(err);
	CU_ASSERT_EQUAL(rc, -ENOENT);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	CU_ASSERT_STRING_EQUAL(msgs, "/nonexistent/dotd.yml: cannot read: No such file or "
				     "directory\n");
	free(msgs);

	/* A directory opens but cannot be read. */
	msgs = NULL;
	err = open_memstream(&msgs, &len);
	CU_ASSERT_FATAL(err != NULL);
	rc = config_load_file(TEST_SRCDIR, &cfg, err);
	fclose(err);
	CU_ASSERT_EQUAL(rc, -EISDIR);
	CU_ASSERT(contains(msgs, TEST_SRCDIR ": cannot read: "));
	free(msgs);

	/* Errors in a file name the file. */
	cfg = &sentinel;
	msgs = NULL;
	err = open_memstream(&msgs, &len);
	CU_ASSERT_FATAL(err != NULL);
	rc = config_load_file(TEST_SRCDIR "/CMakeLists.txt", &cfg, err);
	fclose(err);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	CU_ASSERT(contains(msgs, TEST_SRCDIR "/CMakeLists.txt:"));
	free(msgs);

	config_free(NULL);
}

/* Write @yaml padded with comment lines to exactly @size bytes into a new file at @path. */
static void write_padded(char *path, const char *yaml, size_t size)
{
	FILE *f;
	int fd = mkstemp(path);
	size_t len = strlen(yaml);

	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(yaml, f);
	while (len < size) {
		size_t n = size - len > 64 ? 64 : size - len;

		/* "#xxx...\n", or a lone "\n" at the very end. */
		for (size_t i = 0; i < n; i++) {
			fputc(i == n - 1 ? '\n' : i == 0 ? '#' : 'x', f);
		}
		len += n;
	}
	CU_ASSERT_FATAL(fclose(f) == 0);
}

/* A file of 1 MiB loads; one byte more is refused with a message that states the limit. */
static void test_file_size_limit(void)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct config *cfg = NULL;
	char *msgs = NULL;
	char expected[128];
	size_t len = 0;
	FILE *err = open_memstream(&msgs, &len);
	int rc;

	CU_ASSERT_FATAL(err != NULL);
	write_padded(path, ONE_UPSTREAM, 1024 * 1024);
	rc = config_load_file(path, &cfg, err);
	fclose(err);
	unlink(path);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	config_free(cfg);
	free(msgs);

	strcpy(path, "/tmp/test_config_XXXXXX");
	cfg = &sentinel;
	msgs = NULL;
	err = open_memstream(&msgs, &len);
	CU_ASSERT_FATAL(err != NULL);
	write_padded(path, ONE_UPSTREAM, 1024 * 1024 + 1);
	rc = config_load_file(path, &cfg, err);
	fclose(err);
	CU_ASSERT_EQUAL(rc, -EFBIG);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	snprintf(expected, sizeof(expected),
		 "%s: cannot read: larger than 1048576 bytes (1 MiB), the limit for a "
		 "configuration file\n",
		 path);
	CU_ASSERT_STRING_EQUAL(msgs, expected);
	unlink(path);
	free(msgs);
}

/* ---- errors ---- */

static void test_err_unknown_keys(void)
{
	struct config *cfg = &sentinel;
	char *msgs;
	int rc = load("listen_adresses: [127.0.0.1]\n"
		      "dns_transport: GETDNS_TRANSPORT_TLS_ONLY_KEEP_CONNECTIONS_OPEN\n"
		      "upstream_recursive_servers:\n"
		      "  - address_data: 192.0.2.1\n"
		      "    tls_auth_nam: dot.test\n"
		      "    tls_auth_name: dot.test\n"
		      "    tls_pubkey_pinset:\n"
		      "      - digest: sha256\n"
		      "        value: " PIN_B64 "\n"
		      "        comment: old key\n"
		      "all_context:\n"
		      "  timeout: 1\n",
		      &cfg, &msgs);

	/* All of them, in one pass, each with its line. */
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	CU_ASSERT(contains(msgs, "test.yml:1: key 'listen_adresses': unknown key\n"));
	CU_ASSERT(contains(msgs, "test.yml:2: key 'dns_transport': unknown key\n"));
	CU_ASSERT(contains(msgs, "test.yml:5: key 'tls_auth_nam': unknown key in an upstream\n"));
	CU_ASSERT(contains(msgs, "test.yml:10: key 'comment': unknown key in a pin\n"));
	CU_ASSERT(contains(msgs, "test.yml:11: key 'all_context': unknown key\n"));
	free(msgs);
}

static void test_err_duplicate(void)
{
	expect_error("timeout: 1000\n"
		     "timeout: 2000\n" ONE_UPSTREAM,
		     "test.yml:2: key 'timeout': duplicate key (first at line 1)\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_auth_name: a.test\n"
		     "    tls_auth_name: b.test\n",
		     "test.yml:4: key 'tls_auth_name': duplicate key (first at line 3)\n");
	expect_error(ONE_UPSTREAM "upstream_recursive_servers: []\n",
		     "test.yml:4: key 'upstream_recursive_servers': duplicate key");
}

static void test_err_types(void)
{
	expect_error("timeout: [1000]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout': expected an integer, got a list\n");
	expect_error("timeout: five\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout': expected an integer, got 'five'\n");
	expect_error("timeout: 1.5\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout': expected an integer, got '1.5'\n");
	expect_error("timeout: \"\"\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout': expected an integer, got ''\n");
	expect_error("timeout:\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout': expected an integer, got nothing\n");
	expect_error("timeout: 0\n" ONE_UPSTREAM,
		     "test.yml:1: key 'timeout': '0' is out of range 1..4294967295\n");
	expect_error("timeout: 4294967296\n" ONE_UPSTREAM, "key 'timeout': '4294967296' is out of");
	expect_error("idle_timeout: -1\n" ONE_UPSTREAM,
		     "test.yml:1: key 'idle_timeout': '-1' is out of range 0..4294967295\n");
	expect_error("idle_timeout: {a: 1}\n" ONE_UPSTREAM,
		     "test.yml:1: key 'idle_timeout': expected an integer, got a mapping\n");
	expect_error("listen_addresses: 127.0.0.1\n" ONE_UPSTREAM,
		     "test.yml:1: key 'listen_addresses': expected a list, got '127.0.0.1'\n");
	expect_error(
		"upstream_recursive_servers:\n"
		"  address_data: 192.0.2.1\n",
		"test.yml:1: key 'upstream_recursive_servers': expected a list, got a mapping\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - 192.0.2.1\n",
		     "test.yml:2: key 'upstream_recursive_servers': bad upstream '192.0.2.1': no "
		     "scheme: write tls://ADDR[:PORT][#AUTH_NAME][^PIN]..., or a mapping with "
		     "address_data\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - [192.0.2.1]\n",
		     "test.yml:2: key 'upstream_recursive_servers': expected a mapping with "
		     "address_data, or a string tls://ADDR[:PORT][#AUTH_NAME][^PIN]..., got a "
		     "list\n");
	expect_error("tls_ca_file: [a, b]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_file': expected a string, got a list\n");
	expect_error("dns_transport_list: GETDNS_TRANSPORT_TLS\n" ONE_UPSTREAM,
		     "test.yml:1: key 'dns_transport_list': expected a list");
	expect_error("? [a]\n: 1\n" ONE_UPSTREAM, "test.yml:1: a key must be a name, not a list\n");
	expect_error("round_robin_upstreams: 2\n" ONE_UPSTREAM,
		     "test.yml:1: key 'round_robin_upstreams': expected 0, 1, true or false, got "
		     "'2'\n");
	expect_error("edns_client_subnet_private: yes\n" ONE_UPSTREAM,
		     "test.yml:1: key 'edns_client_subnet_private': expected 0, 1, true or false");
	expect_error("tls_query_padding_blocksize: 65536\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_query_padding_blocksize': '65536' is out of range "
		     "0..65535\n");
	expect_error("log_level: 8\n" ONE_UPSTREAM,
		     "test.yml:1: key 'log_level': expected GETDNS_LOG_EMERG..GETDNS_LOG_DEBUG or "
		     "0..7, got '8'\n");
	expect_error("log_level: GETDNS_LOG_VERBOSE\n" ONE_UPSTREAM,
		     "test.yml:1: key 'log_level': expected GETDNS_LOG_EMERG");
	expect_error(
		"tls_authentication: GETDNS_AUTHENTICATION_HOSTNAME\n" ONE_UPSTREAM,
		"test.yml:1: key 'tls_authentication': expected GETDNS_AUTHENTICATION_REQUIRED "
		"or GETDNS_AUTHENTICATION_NONE, got 'GETDNS_AUTHENTICATION_HOSTNAME'\n");
	expect_error("tls_authentication: 1302\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_authentication': expected");
}

static void test_err_listen(void)
{
	expect_error("listen_addresses:\n"
		     "  - 127.0.0.1\n"
		     "  - localhost\n" ONE_UPSTREAM,
		     "test.yml:3: key 'listen_addresses': bad address 'localhost': not an IPv4 or "
		     "IPv6 address (host names are not allowed)\n");
	expect_error("listen_addresses: [127.0.0.1@0]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'listen_addresses': bad address '127.0.0.1@0': the port must "
		     "be a number 1..65535\n");
	expect_error("listen_addresses: [127.0.0.1@65536]\n" ONE_UPSTREAM,
		     "key 'listen_addresses': bad address '127.0.0.1@65536': the port must be");
	expect_error(
		"listen_addresses: [127.0.0.1@99999999999999999999]\n" ONE_UPSTREAM,
		"key 'listen_addresses': bad address '127.0.0.1@99999999999999999999': the port");
	expect_error("listen_addresses: [127.0.0.1@53x]\n" ONE_UPSTREAM,
		     "key 'listen_addresses': bad address '127.0.0.1@53x': the port must be");
	expect_error("listen_addresses: [127.0.0.1@]\n" ONE_UPSTREAM,
		     "key 'listen_addresses': bad address '127.0.0.1@': no port after '@'\n");
	expect_error("listen_addresses: [\"@53\"]\n" ONE_UPSTREAM,
		     "key 'listen_addresses': bad address '@53'");
	expect_error("listen_addresses: [127.0.0.256]\n" ONE_UPSTREAM,
		     "key 'listen_addresses': bad address '127.0.0.256'");
	expect_error(
		"listen_addresses:\n  - \"2001:db8::1::2\"\n" ONE_UPSTREAM,
		"test.yml:2: key 'listen_addresses': bad address '2001:db8::1::2': not an IPv6 "
		"address\n");
	expect_error("listen_addresses:\n  - fe80::1%eth0\n" ONE_UPSTREAM,
		     "test.yml:2: key 'listen_addresses': bad address 'fe80::1%eth0'");
	expect_error("listen_addresses:\n  - [127.0.0.1]\n" ONE_UPSTREAM,
		     "test.yml:2: key 'listen_addresses': expected an address IP or IP@port, got a "
		     "list\n");
	expect_error("listen_addresses: []\n" ONE_UPSTREAM,
		     "test.yml:1: key 'listen_addresses': the list is empty");
	expect_error("listen_addresses:\n  - 127.0.0.1\n  - 127.0.0.1@53\n" ONE_UPSTREAM,
		     "test.yml:3: key 'listen_addresses': '127.0.0.1@53' is listed twice\n");
}

static void test_err_upstream(void)
{
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: dns.quad9.net\n"
		     "    tls_auth_name: dns.quad9.net\n",
		     "test.yml:2: key 'address_data': bad address 'dns.quad9.net': not an IPv4 or "
		     "IPv6 address (host names are not allowed)\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1@853\n"
		     "    tls_auth_name: dot.test\n",
		     "test.yml:2: key 'address_data': bad address '192.0.2.1@853': a port is not "
		     "allowed here (use tls_port)\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - tls_auth_name: dot.test\n"
		     "    tls_port: 853\n",
		     "test.yml:2: key 'address_data': missing: every upstream needs one\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_port: 0\n"
		     "    tls_auth_name: dot.test\n",
		     "test.yml:3: key 'tls_port': '0' is out of range 1..65535\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_port: 65536\n"
		     "    tls_auth_name: dot.test\n",
		     "test.yml:3: key 'tls_port': '65536' is out of range 1..65535\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_auth_name: \"dot test\"\n",
		     "test.yml:3: key 'tls_auth_name': 'dot test' is not a host name\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_auth_name: \"\"\n",
		     "test.yml:3: key 'tls_auth_name': '' is not a host name\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_auth_name: [dot.test]\n",
		     "test.yml:3: key 'tls_auth_name': expected a host name, got a list\n");
}

static void test_err_strict(void)
{
	struct config *cfg = &sentinel;
	char *msgs;
	int rc = load("tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n"
		      "upstream_recursive_servers:\n"
		      "  - address_data: 192.0.2.1\n"
		      "    tls_auth_name: \"dot.test\"\n"
		      "  - address_data: 2001:db8::2\n"
		      "    tls_port: 8853\n"
		      "  - address_data: 192.0.2.3\n",
		      &cfg, &msgs);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	CU_ASSERT(contains(msgs,
			   "test.yml:5: key 'upstream_recursive_servers': upstream "
			   "'2001:db8::2@8853' has neither tls_auth_name nor tls_pubkey_pinset, "
			   "which tls_authentication GETDNS_AUTHENTICATION_REQUIRED needs\n"));
	CU_ASSERT(contains(msgs, "test.yml:7: key 'upstream_recursive_servers': upstream "
				 "'192.0.2.3@853' has neither"));
	CU_ASSERT_PTR_NULL(strstr(msgs, "192.0.2.1"));
	free(msgs);

	/* REQUIRED is the default; a pin alone satisfies it. */
	expect_error("upstream_recursive_servers:\n  - address_data: 192.0.2.1\n",
		     "test.yml:2: key 'upstream_recursive_servers': upstream '192.0.2.1@853' has "
		     "neither");
	cfg = load_ok("upstream_recursive_servers:\n"
		      "  - address_data: 192.0.2.1\n"
		      "    tls_pubkey_pinset: [{digest: sha256, value: \"" PIN_B64 "\"}]\n");
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
}

static void test_err_transport(void)
{
	expect_error("dns_transport_list:\n"
		     "  - GETDNS_TRANSPORT_TLS\n"
		     "  - GETDNS_TRANSPORT_UDP\n"
		     "  - GETDNS_TRANSPORT_TCP\n" ONE_UPSTREAM,
		     "test.yml:3: key 'dns_transport_list': GETDNS_TRANSPORT_UDP is not allowed: "
		     "dotd never falls back to clear text");
	expect_error("dns_transport_list:\n"
		     "  - GETDNS_TRANSPORT_TLS\n"
		     "  - GETDNS_TRANSPORT_UDP\n"
		     "  - GETDNS_TRANSPORT_TCP\n" ONE_UPSTREAM,
		     "test.yml:4: key 'dns_transport_list': GETDNS_TRANSPORT_TCP is not allowed: "
		     "dotd never falls back to clear text");
	expect_error("dns_transport_list: [1200]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'dns_transport_list': GETDNS_TRANSPORT_UDP is not allowed");
	expect_error("dns_transport_list: [1201]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'dns_transport_list': GETDNS_TRANSPORT_TCP is not allowed");
	expect_error("dns_transport_list: [GETDNS_TRANSPORT_HTTPS]\n" ONE_UPSTREAM,
		     "test.yml:1: key 'dns_transport_list': expected GETDNS_TRANSPORT_TLS, got "
		     "'GETDNS_TRANSPORT_HTTPS'\n");
	expect_error("dns_transport_list: []\n" ONE_UPSTREAM,
		     "test.yml:1: key 'dns_transport_list': the list is empty");
}

static void test_err_resolution(void)
{
	expect_error("resolution_type: GETDNS_RESOLUTION_RECURSING\n" ONE_UPSTREAM,
		     "test.yml:1: key 'resolution_type': dotd is a stub resolver: only "
		     "GETDNS_RESOLUTION_STUB is supported\n");
	expect_error("resolution_type: 521\n" ONE_UPSTREAM,
		     "test.yml:1: key 'resolution_type': dotd is a stub resolver");
	expect_error("resolution_type: STUB\n" ONE_UPSTREAM,
		     "test.yml:1: key 'resolution_type': expected GETDNS_RESOLUTION_STUB, got "
		     "'STUB'\n");
}

static void test_err_tls_version(void)
{
	expect_error("tls_min_version: GETDNS_TLS1_1\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_min_version': GETDNS_TLS1_1: dotd requires TLS 1.2 or "
		     "later\n");
	expect_error("tls_min_version: 1400\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_min_version': GETDNS_SSL3: dotd requires TLS 1.2 or "
		     "later\n");
	expect_error("tls_max_version: GETDNS_TLS1\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_max_version': GETDNS_TLS1: dotd requires TLS 1.2 or "
		     "later\n");
	expect_error("tls_max_version: GETDNS_TLS1_2\n"
		     "tls_min_version: GETDNS_TLS1_3\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_max_version': is lower than tls_min_version\n");
	expect_error("tls_min_version: TLSv1.3\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_min_version': expected GETDNS_TLS1_2 or GETDNS_TLS1_3, "
		     "got 'TLSv1.3'\n");
}

static void test_err_pins(void)
{
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset:\n"
		     "      - digest: sha1\n"
		     "        value: " PIN_B64 "\n",
		     "test.yml:4: key 'digest': unsupported digest 'sha1': only sha256 is "
		     "supported\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset:\n"
		     "      - digest: sha256\n"
		     "        value: AAECAwQFBgcICQoLDA0ODxAREhM=\n",
		     "test.yml:5: key 'value': 'AAECAwQFBgcICQoLDA0ODxAREhM=' decodes to 20 bytes, "
		     "a SHA-256 pin has 32\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset:\n"
		     "      - digest: sha256\n"
		     "        value: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n",
		     "test.yml:5: key 'value': 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g' "
		     "decodes to 33 bytes, a SHA-256 pin has 32\n");
	expect_error(
		"upstream_recursive_servers:\n"
		"  - address_data: 192.0.2.1\n"
		"    tls_pubkey_pinset:\n"
		"      - digest: sha256\n"
		"        value: AAECAwQFBgcICQoLDA0O!xAREhMUFRYXGBkaGxwdHh8=\n",
		"test.yml:5: key 'value': 'AAECAwQFBgcICQoLDA0O!xAREhMUFRYXGBkaGxwdHh8=' is not "
		"valid base64\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset: [{digest: sha256, value: " PIN_B64 PIN_B64 "}]\n",
		     "test.yml:3: key 'value': '" PIN_B64 PIN_B64 "' is not valid base64\n");
	expect_error(
		"upstream_recursive_servers:\n"
		"  - address_data: 192.0.2.1\n"
		"    tls_pubkey_pinset: [{digest: sha256, value: "
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v}]\n",
		"test.yml:3: key 'value': "
		"'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v' decodes to "
		"more than 32 bytes, a SHA-256 pin has 32\n");
	/* Unpadded, padding in the middle, and data after the padding. */
	expect_error(
		"upstream_recursive_servers:\n"
		"  - address_data: 192.0.2.1\n"
		"    tls_pubkey_pinset: [{digest: sha256, value: "
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8}]\n",
		"test.yml:3: key 'value': 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8' is not "
		"valid base64\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset: [{digest: sha256, value: "
		     "\"AA==AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}]\n",
		     "is not valid base64\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset: [{digest: sha256, value: "
		     "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH=8=\"}]\n",
		     "is not valid base64\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset:\n"
		     "      - value: " PIN_B64 "\n",
		     "test.yml:4: key 'digest': missing in a pin");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset:\n"
		     "      - digest: sha256\n",
		     "test.yml:4: key 'value': missing in a pin\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset: []\n",
		     "test.yml:3: key 'tls_pubkey_pinset': the pin set is empty\n");
	expect_error("upstream_recursive_servers:\n"
		     "  - address_data: 192.0.2.1\n"
		     "    tls_pubkey_pinset:\n"
		     "      - " PIN_B64 "\n",
		     "test.yml:4: key 'tls_pubkey_pinset': expected a mapping {digest: \"sha256\", "
		     "value: ...}, got '" PIN_B64 "'\n");
}

static void test_err_yaml(void)
{
	expect_error("timeout: 5000\n"
		     "idle_timeout: 1: 2\n" ONE_UPSTREAM,
		     "test.yml:2: mapping values are not allowed in this context\n");
	expect_error(
		"timeout: 5000\n"
		"listen_addresses: [127.0.0.1\n"
		"timeout: 1\n",
		"test.yml:3: did not find expected ',' or ']' (while parsing a flow sequence at "
		"line 2)\n");
	expect_error("timeout: *nowhere\n", "test.yml:1: found undefined alias");
	expect_error(ONE_UPSTREAM "---\ntimeout: 1\n",
		     "test.yml:5: a second YAML document: dotd reads exactly one\n");

	/* Invalid UTF-8 is found by the reader, which reports a byte offset: still a line. */
	expect_error("timeout: 1\n"
		     "idle_timeout: \xff\n",
		     "test.yml:2: invalid leading UTF-8 octet\n");
}

static void test_err_top_level(void)
{
	expect_error("- timeout: 1\n",
		     "test.yml:1: the top level is a list, not a mapping of keys\n");
	expect_error("\n\njust text\n",
		     "test.yml:3: the top level is a scalar, not a mapping of keys\n");
	expect_error("", "test.yml:1: the configuration is empty: expected a mapping of keys\n");
	expect_error("# only a comment\n", "test.yml:1: the configuration is empty");
}

static void test_err_no_upstreams(void)
{
	expect_error(
		"timeout: 1000\n",
		"test.yml:1: key 'upstream_recursive_servers': missing: dotd needs at least one "
		"upstream\n");
	expect_error(
		"timeout: 1000\nupstream_recursive_servers: []\n",
		"test.yml:2: key 'upstream_recursive_servers': the list is empty: dotd needs at "
		"least one upstream\n");
	expect_error(
		"upstream_recursive_servers:\n",
		"test.yml:1: key 'upstream_recursive_servers': expected a list, got nothing\n");
}

static void test_err_ca(void)
{
	expect_error("tls_ca_file: /nonexistent/ca.pem\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_file': cannot read '/nonexistent/ca.pem': No such "
		     "file or directory\n");
	expect_error(
		"tls_ca_path: /nonexistent/certs\n" ONE_UPSTREAM,
		"test.yml:1: key 'tls_ca_path': cannot read '/nonexistent/certs': No such file "
		"or directory\n");
	expect_error("tls_ca_file: " TEST_SRCDIR "\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_file': '" TEST_SRCDIR "' is a directory");
	expect_error("tls_ca_path: " TEST_SRCDIR "/CMakeLists.txt\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_path': '" TEST_SRCDIR "/CMakeLists.txt' is not a "
		     "directory\n");
	/* A readable file that is no CA file: its certificates are parsed at the first connection
	 * only, so this is what start can find without wolfSSL. A DER certificate is not read. */
	expect_error("tls_ca_file: " TEST_SRCDIR "/CMakeLists.txt\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_file': '" TEST_SRCDIR
		     "/CMakeLists.txt' holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n");
	expect_error(
		"tls_ca_file: " TEST_SRCDIR "/certs/known-rsa.der\n" ONE_UPSTREAM,
		"test.yml:1: key 'tls_ca_file': '" TEST_SRCDIR
		"/certs/known-rsa.der' holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n");
	expect_error("tls_ca_file: /dev/null\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_file': '/dev/null' is not a regular file\n");
	/* Read to its end, /dev/zero would never end: refused before it is opened. */
	expect_error("tls_ca_file: /dev/zero\n" ONE_UPSTREAM,
		     "test.yml:1: key 'tls_ca_file': '/dev/zero' is not a regular file\n");
}

/* @text in a new temporary file, whose path goes to @path. */
static void temp_file(char path[32], const char *text)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/test_config_XXXXXX");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/*
 * The start's look for a PEM certificate in tls_ca_file: a header counts only at the start of
 * a line, however long the line before it, and through the 4 kB buffer's edges; a file whose
 * first 16 MiB hold none is refused without reading on.
 */
static void test_ca_pem_scan(void)
{
	char line[1100], yaml[512], path[32];
	struct config *cfg;
	FILE *f;

	memset(line, 'a', 1000);
	strcpy(line + 1000, "\n-----BEGIN CERTIFICATE-----\n");
	temp_file(path, line);
	snprintf(yaml, sizeof(yaml), "tls_ca_file: %s\n" ONE_UPSTREAM, path);
	cfg = load_ok(yaml);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
	unlink(path);
	/* The same header in the middle of a line. */
	memset(line, 'a', 300);
	strcpy(line + 300, "-----BEGIN CERTIFICATE-----\n");
	temp_file(path, line);
	snprintf(yaml, sizeof(yaml), "tls_ca_file: %s\n" ONE_UPSTREAM, path);
	expect_error(yaml, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n");
	unlink(path);
	/* A header that straddles the buffer's edge: 4,090 octets of lines before it. */
	temp_file(path, "");
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int i = 0; i < 409; i++) {
		fputs("#########\n", f);
	}
	fputs("-----BEGIN CERTIFICATE-----\n", f);
	fclose(f);
	snprintf(yaml, sizeof(yaml), "tls_ca_file: %s\n" ONE_UPSTREAM, path);
	cfg = load_ok(yaml);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
	/* 17 MiB of zeros (a sparse file) and then a header: past the look. */
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fseek(f, 17L << 20, SEEK_SET), 0);
	fputs("\n-----BEGIN CERTIFICATE-----\n", f);
	fclose(f);
	expect_error(yaml, "holds no PEM certificate in its first 16 MiB\n");
	unlink(path);
}

/* An error report must not need a second run: everything wrong is listed at once. */
static void test_err_collects_all(void)
{
	struct config *cfg = &sentinel;
	char *msgs;
	unsigned n_lines = 0;
	int rc = load("timeout: 0\n"
		      "bogus: 1\n"
		      "dns_transport_list: [GETDNS_TRANSPORT_UDP]\n"
		      "listen_addresses: [nowhere]\n"
		      "upstream_recursive_servers:\n"
		      "  - address_data: 192.0.2.1\n",
		      &cfg, &msgs);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
	for (const char *c = msgs; *c; c++) {
		n_lines += *c == '\n';
	}
	CU_ASSERT_EQUAL(n_lines, 5);
	CU_ASSERT(contains(msgs, "test.yml:1: key 'timeout'"));
	CU_ASSERT(contains(msgs, "test.yml:2: key 'bogus'"));
	CU_ASSERT(contains(msgs, "test.yml:3: key 'dns_transport_list'"));
	CU_ASSERT(contains(msgs, "test.yml:4: key 'listen_addresses'"));
	CU_ASSERT(contains(msgs, "test.yml:6: key 'upstream_recursive_servers': upstream "
				 "'192.0.2.1@853'"));
	free(msgs);

	/* err may be NULL: the result is the same, silently. */
	rc = config_load_string("bogus: 1\n", 9, "test.yml", &cfg, NULL);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_EQUAL(cfg, &sentinel);
}

/* One mistake, one line: no knock-on "missing" or strict-authentication error after it. */
static void test_err_one_per_mistake(void)
{
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: dns.quad9.net\n"
		    "    tls_auth_name: dot.test\n",
		    "test.yml:2: key 'address_data': bad address 'dns.quad9.net': not an IPv4 or "
		    "IPv6 address (host names are not allowed)\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: [192.0.2.1]\n"
		    "    tls_auth_name: dot.test\n",
		    "test.yml:2: key 'address_data': expected an IP address, got a list\n");
	/* A pin set or name that is there but wrong is its own error, not "neither". */
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1\n"
		    "    tls_pubkey_pinset: []\n",
		    "test.yml:3: key 'tls_pubkey_pinset': the pin set is empty\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1\n"
		    "    tls_pubkey_pinset: " PIN_B64 "\n",
		    "test.yml:3: key 'tls_pubkey_pinset': expected a list, got '" PIN_B64 "'\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1\n"
		    "    tls_auth_name: \"dot test\"\n",
		    "test.yml:3: key 'tls_auth_name': 'dot test' is not a host name\n");
	/* A misspelt mode is one error, not one more per upstream without a name. */
	expect_only("tls_authentication: STRICT\n"
		    "upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1\n"
		    "  - address_data: 192.0.2.2\n",
		    "test.yml:1: key 'tls_authentication': expected GETDNS_AUTHENTICATION_REQUIRED "
		    "or GETDNS_AUTHENTICATION_NONE, got 'STRICT'\n");
}

/* The address syntaxes of other programs, and IPv6 addresses that YAML takes for syntax. */
static void test_err_address_syntax(void)
{
	struct config *cfg;

	expect_only("listen_addresses:\n  - 127.0.0.1:53\n" ONE_UPSTREAM,
		    "test.yml:2: key 'listen_addresses': bad address '127.0.0.1:53': the port "
		    "follows '@', not ':': write 127.0.0.1@53\n");
	expect_only("listen_addresses:\n  - \"[::1]:5353\"\n" ONE_UPSTREAM,
		    "test.yml:2: key 'listen_addresses': bad address '[::1]:5353': write "
		    "::1@5353, without brackets\n");
	expect_only("listen_addresses:\n  - \"[2001:db8::1]\"\n" ONE_UPSTREAM,
		    "test.yml:2: key 'listen_addresses': bad address '[2001:db8::1]': write "
		    "2001:db8::1, without brackets\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1:853\n"
		    "    tls_auth_name: dot.test\n",
		    "test.yml:2: key 'address_data': bad address '192.0.2.1:853': a port is not "
		    "allowed here (use tls_port: 853)\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: \"[2001:db8::1]:853\"\n"
		    "    tls_auth_name: dot.test\n",
		    "test.yml:2: key 'address_data': bad address '[2001:db8::1]:853': write "
		    "2001:db8::1, without brackets, and tls_port: 853\n");

	/* "::1:6050" is a valid address, but more likely ::1 on port 6050 written with ':'. */
	expect_only("listen_addresses:\n  - ::1:6050\n" ONE_UPSTREAM,
		    "test.yml:2: key 'listen_addresses': bad address '::1:6050': ambiguous: write "
		    "::1@6050 for port 6050, or ::1:6050@53 for that address\n");
	expect_only("listen_addresses: [\"fd00::1:53\"]\n" ONE_UPSTREAM,
		    "test.yml:1: key 'listen_addresses': bad address 'fd00::1:53': ambiguous: "
		    "write fd00::1@53 for port 53, or fd00::1:53@53 for that address\n");
	/* With '@', written out in full, or with one group after "::", it is not ambiguous. */
	cfg = load_ok("listen_addresses:\n"
		      "  - ::1:6050@53\n"
		      "  - 0:0:0:0:0:0:2:6050\n"
		      "  - 2606:4700:4700::1111\n"
		      "  - 2001:db8::a:b\n"
		      "upstream_recursive_servers:\n"
		      "  - address_data: 2620:fe::fe:10\n"
		      "    tls_auth_name: dns.quad9.net\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_listen, 4);
	CU_ASSERT(is_ip(&cfg->listen[0].addr, cfg->listen[0].addr_len, "::1:6050"));
	CU_ASSERT_EQUAL(port_of(&cfg->listen[0].addr), 53);
	CU_ASSERT(is_ip(&cfg->listen[1].addr, cfg->listen[1].addr_len, "::2:6050"));
	check_round_trip(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->upstreams[0].name, "2620:fe::fe:10@853");
	config_free(cfg);

	/* YAML reads a plain "- ::" as a mapping, and a ':' in a flow list or after a key as
	 * syntax: the message says to quote the address. */
	expect_only("listen_addresses:\n  - ::\n" ONE_UPSTREAM,
		    "test.yml:2: key 'listen_addresses': '::' must be quoted: YAML reads an "
		    "unquoted address ending in ':' as a mapping, write \"::\"\n");
	expect_only("listen_addresses:\n  - 127.0.0.1\n  - 2001:db8::\n" ONE_UPSTREAM,
		    "test.yml:3: key 'listen_addresses': '2001:db8::' must be quoted: YAML reads "
		    "an unquoted address ending in ':' as a mapping, write \"2001:db8::\"\n");
	expect_only("access_control:\n  - ::\n" ONE_UPSTREAM,
		    "test.yml:2: key 'access_control': '::' must be quoted: YAML reads an "
		    "unquoted address ending in ':' as a mapping, write \"::\"\n");
	expect_only("listen_addresses: [::1]\n" ONE_UPSTREAM,
		    "test.yml:1: did not find expected node content (while parsing a flow node at "
		    "line 1): an IPv6 address must be quoted here, write \"::1\"\n");
	expect_only("listen_addresses: [127.0.0.1, 2001:db8::]\n" ONE_UPSTREAM,
		    "test.yml:1: found unexpected ':' (while scanning a plain scalar at line 1): "
		    "an IPv6 address must be quoted here, write \"2001:db8::\"\n");
	expect_only("listen_addresses:\n  - [::1]:5353\n" ONE_UPSTREAM,
		    "test.yml:2: did not find expected node content (while parsing a flow node at "
		    "line 2): an IPv6 address must be quoted here, write \"::1@5353\"\n");
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 2001:db8::\n"
		    "    tls_auth_name: dot.test\n",
		    "test.yml:2: mapping values are not allowed in this context: an IPv6 address "
		    "must be quoted here, write \"2001:db8::\"\n");
}

/* The DNSSEC keys turn validation on; ignored keys that would weaken security refuse to load. */
static void test_security_keys(void)
{
	static const char *const dnssec_keys[] = {
		"dnssec",
		"dnssec_return_status",
		"dnssec_return_only_secure",
		"dnssec_return_validation_chain",
	};
	struct config *cfg = NULL;
	char *msgs;
	int rc;

	for (size_t i = 0; i < sizeof(dnssec_keys) / sizeof(dnssec_keys[0]); i++) {
		static const char *const values[] = {"GETDNS_EXTENSION_TRUE", "1000", "true"};

		/* Each turns validation on, by name, by number and as a YAML boolean. */
		for (size_t v = 0; v < 3; v++) {
			char yaml[256];

			snprintf(yaml, sizeof(yaml), "%s: %s\n" ONE_UPSTREAM, dnssec_keys[i],
				 values[v]);
			if (!config_root_anchor[0]) {
				/* Without a built-in anchor file, validation needs one named. */
				expect_only(yaml, "test.yml:1: key 'dnssec': this dotd was built "
						  "without a default trust anchor file "
						  "(DOTD_ROOT_ANCHOR, Debian's dns-root-data): set "
						  "dnssec_trust_anchors\n");
				continue;
			}
			cfg = load_ok(yaml);
			CU_ASSERT(cfg && cfg->dnssec);
			/* The built-in anchors, read and checked. */
			CU_ASSERT(cfg && cfg->anchors != NULL);
			CU_ASSERT(cfg && cfg->dnssec_only_secure == (i == 2));
			config_free(cfg);
		}
	}
	cfg = load_ok("dnssec: GETDNS_EXTENSION_FALSE\n"
		      "dnssec_return_status: 1001\n"
		      "dnssec_return_only_secure: false\n" ONE_UPSTREAM);
	CU_ASSERT_PTR_NOT_NULL(cfg);
	config_free(cfg);
	expect_only("dnssec: GETDNS_EXTENSION_MAYBE\n" ONE_UPSTREAM,
		    "test.yml:1: key 'dnssec': expected GETDNS_EXTENSION_TRUE or "
		    "GETDNS_EXTENSION_FALSE, got 'GETDNS_EXTENSION_MAYBE'\n");

	/* Trust anchors without validation: read, checked, and a notice. */
	rc = load("dnssec_trust_anchors: [" TEST_ANCHORS "]\n" ONE_UPSTREAM, &cfg, &msgs);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "test.yml:1: notice: key 'dnssec_trust_anchors' is read and "
				     "checked, but it has no effect while DNSSEC validation is off "
				     "(set dnssec to GETDNS_EXTENSION_TRUE to turn it on)\n");
	free(msgs);
	config_free(cfg);

	/* A per-upstream minimum above dotd's own would be lost. */
	expect_only(
		"upstream_recursive_servers:\n"
		"  - address_data: 192.0.2.1\n"
		"    tls_auth_name: dot.test\n"
		"    tls_min_version: GETDNS_TLS1_3\n",
		"test.yml:4: key 'tls_min_version': GETDNS_TLS1_3 is not honoured per upstream, "
		"and dotd's minimum for every upstream is TLS 1.2: write tls_min_version: "
		"GETDNS_TLS1_3 at the top level\n");
	rc = load("upstream_recursive_servers:\n"
		  "  - address_data: 192.0.2.1\n"
		  "    tls_auth_name: dot.test\n"
		  "    tls_min_version: GETDNS_TLS1_3\n"
		  "  - address_data: 192.0.2.2\n"
		  "    tls_auth_name: dot.test\n"
		  "    tls_min_version: 1403\n"
		  "tls_min_version: GETDNS_TLS1_3\n",
		  &cfg, &msgs);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "test.yml:4: notice: key 'tls_min_version' is accepted and "
				     "ignored: the top-level minimum, TLS 1.3, applies to every "
				     "upstream and is not lower\n"
				     "test.yml:7: notice: key 'tls_min_version' is accepted and "
				     "ignored: the top-level minimum, TLS 1.3, applies to every "
				     "upstream and is not lower\n");
	free(msgs);
	config_free(cfg);
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1\n"
		    "    tls_auth_name: dot.test\n"
		    "    tls_min_version: TLSv1.3\n",
		    "test.yml:4: key 'tls_min_version': expected GETDNS_TLS1_2 or GETDNS_TLS1_3, "
		    "got 'TLSv1.3'\n");

	/* TSIG: under opportunistic TLS it would be the only authentication of the answers. */
	expect_only("upstream_recursive_servers:\n"
		    "  - address_data: 192.0.2.1\n"
		    "    tsig_name: key.\n"
		    "    tsig_algorithm: hmac-sha256\n"
		    "    tsig_secret: c2VjcmV0\n"
		    "tls_authentication: GETDNS_AUTHENTICATION_NONE\n",
		    "test.yml:3: key 'tsig_name': dotd does not do TSIG, and under "
		    "tls_authentication GETDNS_AUTHENTICATION_NONE nothing else would authenticate "
		    "this upstream's answers: use GETDNS_AUTHENTICATION_REQUIRED with "
		    "tls_auth_name or tls_pubkey_pinset, or remove the tsig_* keys\n");
	rc = load("upstream_recursive_servers:\n"
		  "  - address_data: 192.0.2.1\n"
		  "    tls_auth_name: dot.test\n"
		  "    tsig_secret: c2VjcmV0\n"
		  "    tsig_name: key.\n",
		  &cfg, &msgs);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msgs, "test.yml:4: notice: key 'tsig_secret' is accepted and "
				     "ignored: dotd does not do TSIG; strict TLS authentication "
				     "authenticates this upstream's answers\n");
	free(msgs);
	config_free(cfg);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{"lab stubby.yml", test_lab_file},
		{"IPv6 addresses", test_ipv6},
		{"defaults", test_defaults},
		{"upstream pool keys", test_pool_keys},
		{"cache keys", test_cache_keys},
		{"access control", test_access_control},
		{"limits and user", test_limits_user},
		{"workers", test_workers},
		{"workers_steering", test_steering},
		{"control socket, cache file, metrics", test_ops_keys},
		{"names, numbers and booleans", test_values},
		{"tls_ca_file and tls_ca_path", test_ca},
		{"tls_ca_file: a PEM header at a line's start only", test_ca_pem_scan},
		{"round trip of names and pins", test_round_trip_mixed},
		{"tls_auth_name normalised", test_auth_name_normalised},
		{"unicode line breaks printed escaped", test_print_unicode_breaks},
		{"tls:// upstreams", test_tls_url},
		{"error: tls:// upstreams", test_err_tls_url},
		{"bootstrap", test_bootstrap},
		{"forward zones", test_forward_zones},
		{"forward zones: nested, root, longest", test_forward_zones_nested},
		{"forward zones: plain DNS to private addresses only", test_forward_zones_private},
		{"forward zones: host name upstreams", test_forward_zones_host_names},
		{"error: forward zones", test_err_forward_zones},
		{"special_use_zones", test_special_use_zones},
		{"hosts file, block and allow lists, block_answer", test_filter_keys},
		{"tls_unset_clock", test_unset_clock},
		{"opportunistic mode", test_opportunistic},
		{"notices for ignored keys", test_notices},
		{"built-in default", test_default_config},
		{"config_load_file", test_load_file},
		{"file size limit", test_file_size_limit},
		{"error: unknown keys", test_err_unknown_keys},
		{"error: duplicate keys", test_err_duplicate},
		{"error: wrong types and values", test_err_types},
		{"error: listen addresses", test_err_listen},
		{"error: upstreams", test_err_upstream},
		{"error: strict authentication", test_err_strict},
		{"error: clear-text transports", test_err_transport},
		{"error: resolution_type", test_err_resolution},
		{"error: TLS versions", test_err_tls_version},
		{"error: pins", test_err_pins},
		{"error: YAML syntax", test_err_yaml},
		{"error: top level", test_err_top_level},
		{"error: no upstreams", test_err_no_upstreams},
		{"error: CA file and path", test_err_ca},
		{"error: all reported in one pass", test_err_collects_all},
		{"error: one line per mistake", test_err_one_per_mistake},
		{"error: address syntax", test_err_address_syntax},
		{"error: ignored keys that weaken security", test_security_keys},
		{"dnssec_trust_anchors and dnssec_negative_trust_anchors", test_dnssec_keys},
	};
	CU_pSuite suite;
	int failed;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	suite = CU_add_suite("config", NULL, NULL);
	if (!suite) {
		CU_cleanup_registry();
		return 1;
	}
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (!CU_add_test(suite, tests[i].name, tests[i].fn)) {
			CU_cleanup_registry();
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() != 0;
	CU_cleanup_registry();
	return failed;
}
