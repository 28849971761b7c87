/*
 * test_policy: the policy stage's zone trie (resolver/policy.c): the longest zone wins, at
 * label boundaries, in any case; the special-use zones and what a forward zone claims of them.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "config.h"
#include "policy.h"

/* "a.b." to wire format in @out; its length. */
static size_t wire(const char *text, uint8_t *out)
{
	size_t pos = 0;

	while (*text) {
		const char *dot = strchr(text, '.');
		size_t n = dot ? (size_t)(dot - text) : strlen(text);

		out[pos] = (uint8_t)n;
		memcpy(out + pos + 1, text, n);
		pos += n + 1;
		text += n + (dot ? 1 : 0);
	}
	out[pos] = 0;
	return pos + 1;
}

static const struct policy_zone *look(const struct policy *p, const char *name)
{
	uint8_t w[256];
	size_t len = wire(name, w);

	return policy_lookup(p, w, len);
}

/* The action of @name, and the apex (text) it was decided by. */
static bool is(const struct policy *p, const char *name, enum policy_action action,
	       const char *apex, size_t group)
{
	const struct policy_zone *z = look(p, name);
	uint8_t w[256];
	size_t len = wire(apex, w);

	if (z->action != action || z->apex_len != len || memcmp(z->apex, w, len) != 0 ||
	    (action == POLICY_FORWARD && z->group != group)) {
		fprintf(stderr, "\n  %s: action %d group %zu, apex length %zu\n", name, z->action,
			z->group, z->apex_len);
		return false;
	}
	return true;
}

static struct config_zone zone(const char *text)
{
	struct config_zone z = {.zone = (char *)text};
	static uint8_t bufs[8][256];
	static int next;

	z.zone_wire = bufs[next++ % 8];
	z.zone_wire_len = wire(text, z.zone_wire);
	return z;
}

static void test_empty(void)
{
	struct policy *p = NULL;

	CU_ASSERT_EQUAL_FATAL(policy_new_empty(&p), 0);
	CU_ASSERT_TRUE(is(p, "www.example.com", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "", POLICY_FORWARD, "", 0));
	CU_ASSERT_EQUAL(policy_count(p), 1);
	policy_free(p);
}

static void test_special(void)
{
	struct config cfg = {.special_zones = true};
	struct policy *p = NULL;

	CU_ASSERT_EQUAL_FATAL(policy_new(&cfg, &p), 0);
	CU_ASSERT_TRUE(is(p, "localhost", POLICY_LOCALHOST, "localhost", 0));
	CU_ASSERT_TRUE(is(p, "www.LocalHost", POLICY_LOCALHOST, "localhost", 0));
	CU_ASSERT_TRUE(is(p, "printer.local", POLICY_NXDOMAIN, "local", 0));
	CU_ASSERT_TRUE(is(p, "x.invalid", POLICY_NXDOMAIN, "invalid", 0));
	CU_ASSERT_TRUE(is(p, "nas.home.arpa", POLICY_NXDOMAIN, "home.arpa", 0));
	CU_ASSERT_TRUE(is(p, "resolver.arpa", POLICY_NODATA, "resolver.arpa", 0));
	CU_ASSERT_TRUE(
		is(p, "1.1.168.192.in-addr.arpa", POLICY_NXDOMAIN, "168.192.in-addr.arpa", 0));
	CU_ASSERT_TRUE(is(p, "9.9.9.10.IN-ADDR.ARPA", POLICY_NXDOMAIN, "10.in-addr.arpa", 0));
	CU_ASSERT_TRUE(is(p, "1.0.16.172.in-addr.arpa", POLICY_NXDOMAIN, "16.172.in-addr.arpa", 0));
	CU_ASSERT_TRUE(is(p, "1.0.31.172.in-addr.arpa", POLICY_NXDOMAIN, "31.172.in-addr.arpa", 0));
	CU_ASSERT_TRUE(is(p, "1.64.100.in-addr.arpa", POLICY_NXDOMAIN, "64.100.in-addr.arpa", 0));
	CU_ASSERT_TRUE(
		is(p, "1.1.254.169.in-addr.arpa", POLICY_NXDOMAIN, "254.169.in-addr.arpa", 0));
	CU_ASSERT_TRUE(
		is(p, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
		   POLICY_NXDOMAIN,
		   "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", 0));
	CU_ASSERT_TRUE(is(p, "3.2.1.d.f.ip6.arpa", POLICY_NXDOMAIN, "d.f.ip6.arpa", 0));
	CU_ASSERT_TRUE(is(p, "1.b.e.f.ip6.arpa", POLICY_NXDOMAIN, "b.e.f.ip6.arpa", 0));
	/* Public neighbours of the private ranges go out, and label boundaries hold. */
	CU_ASSERT_TRUE(is(p, "1.0.15.172.in-addr.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "1.0.32.172.in-addr.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "1.63.100.in-addr.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "1.128.100.in-addr.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "1.1.169.192.in-addr.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "1.c.e.f.ip6.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "notlocal", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "local.example", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "in-addr.arpa", POLICY_FORWARD, "", 0));
	policy_free(p);

	/* special_use_zones: 0 */
	cfg.special_zones = false;
	CU_ASSERT_EQUAL_FATAL(policy_new(&cfg, &p), 0);
	CU_ASSERT_TRUE(is(p, "localhost", POLICY_FORWARD, "", 0));
	CU_ASSERT_TRUE(is(p, "1.1.168.192.in-addr.arpa", POLICY_FORWARD, "", 0));
	CU_ASSERT_EQUAL(policy_count(p), 1);
	policy_free(p);
}

static void test_forward_zones(void)
{
	struct config_zone zones[] = {zone("lan"), zone("168.192.in-addr.arpa"), zone("Home.Arpa"),
				      zone("sub.lan"), zone("arpa")};
	struct config cfg = {.special_zones = true, .zones = zones, .n_zones = 5};
	struct policy *p = NULL;

	CU_ASSERT_EQUAL_FATAL(policy_new(&cfg, &p), 0);
	CU_ASSERT_TRUE(is(p, "router.lan", POLICY_FORWARD, "lan", 1));
	CU_ASSERT_TRUE(is(p, "LAN", POLICY_FORWARD, "lan", 1));
	CU_ASSERT_TRUE(is(p, "a.sub.lan", POLICY_FORWARD, "sub.lan", 4));
	CU_ASSERT_TRUE(is(p, "xsub.lan", POLICY_FORWARD, "lan", 1));
	/* A forward zone claims its names from the special-use list, at and under it... */
	CU_ASSERT_TRUE(
		is(p, "1.1.168.192.in-addr.arpa", POLICY_FORWARD, "168.192.in-addr.arpa", 2));
	CU_ASSERT_TRUE(is(p, "nas.home.arpa", POLICY_FORWARD, "home.arpa", 3));
	/* ... and "arpa" claims every reverse zone below it, but not localhost. */
	CU_ASSERT_TRUE(is(p, "1.1.1.10.in-addr.arpa", POLICY_FORWARD, "arpa", 5));
	CU_ASSERT_TRUE(is(p, "resolver.arpa", POLICY_FORWARD, "arpa", 5));
	CU_ASSERT_TRUE(is(p, "localhost", POLICY_LOCALHOST, "localhost", 0));
	CU_ASSERT_TRUE(is(p, "www.example", POLICY_FORWARD, "", 0));
	policy_free(p);

	/* The root as a forward zone takes the default; it claims no special-use zone. */
	struct config_zone root[] = {zone("")};
	struct config cfg2 = {.special_zones = true, .zones = root, .n_zones = 1};

	CU_ASSERT_EQUAL_FATAL(policy_new(&cfg2, &p), 0);
	CU_ASSERT_TRUE(is(p, "www.example", POLICY_FORWARD, "", 1));
	CU_ASSERT_TRUE(is(p, "x.local", POLICY_NXDOMAIN, "local", 0));
	policy_free(p);
}

/* Malformed names cannot reach a zone, and a bad apex is refused. */
static void test_malformed(void)
{
	struct config cfg = {.special_zones = true};
	struct policy *p = NULL;
	struct policy_zone z = {.action = POLICY_NODATA};
	const uint8_t bad[] = {5, 'l', 'o', 'c', 'a', 'l'}; /* no root label */
	const uint8_t ptr[] = {0xc0, 12};		    /* compressed */
	const uint8_t lng[] = {64, 'a', 'a', 0};	    /* label over 63 */
	const uint8_t ok[] = {5, 'l', 'o', 'c', 'a', 'l', 0};

	CU_ASSERT_EQUAL_FATAL(policy_new(&cfg, &p), 0);
	CU_ASSERT_EQUAL(policy_lookup(p, bad, sizeof(bad))->action, POLICY_FORWARD);
	CU_ASSERT_EQUAL(policy_lookup(p, ptr, sizeof(ptr))->action, POLICY_FORWARD);
	CU_ASSERT_EQUAL(policy_lookup(p, lng, sizeof(lng))->action, POLICY_FORWARD);
	CU_ASSERT_EQUAL(policy_lookup(p, ok, sizeof(ok))->action, POLICY_NXDOMAIN);
	CU_ASSERT_EQUAL(policy_add(p, bad, sizeof(bad), &z), -EINVAL);
	/* The first zone given for an apex stays. */
	CU_ASSERT_EQUAL(policy_add(p, ok, sizeof(ok), &z), 0);
	CU_ASSERT_EQUAL(policy_lookup(p, ok, sizeof(ok))->action, POLICY_NXDOMAIN);
	policy_free(p);
}

int main(void)
{
	CU_pSuite suite;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		return 1;
	}
	suite = CU_add_suite("policy", NULL, NULL);
	if (!suite || !CU_add_test(suite, "empty: the default group", test_empty) ||
	    !CU_add_test(suite, "special-use zones", test_special) ||
	    !CU_add_test(suite, "forward zones and what they claim", test_forward_zones) ||
	    !CU_add_test(suite, "malformed names", test_malformed)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
