/*
 * config: dotd's Stubby-compatible YAML configuration. See config.h for the contract and
 * docs/CONFIG.md for every key.
 *
 * The text is loaded with libyaml's document API into a node tree that keeps each node's line
 * (mark.line + 1) for messages. One pass over the tree fills a new struct config and reports
 * every problem it finds instead of stopping at the first. Checks that involve several keys
 * (strict authentication, tls_min_version <= tls_max_version) and the defaults of absent keys
 * run after the walk, so the order of keys in the file does not matter. The caller gets the
 * config only if there was no error; otherwise everything built so far is freed here.
 *
 * No global state: loading is reentrant. The YAML document lives only inside
 * config_load_string(); the config copies every string it keeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "dnssec_anchors.h"
#include "log.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* a config is a few kB: refuse to slurp anything else */
#define DNS_PORT	53
#define DOT_PORT	853 /* RFC 7858 §3.1 */
#define PADDING_SENSIBLE                                                                           \
	128 /* Stubby's "1": pad queries to blocks of 128 octets (RFC 8467 §4.1)                  \
	     */
#define NAME_MAX_LEN	    253	  /* a host name in text form, without the trailing dot */
#define MAX_IN_FLIGHT_LIMIT 32768 /* queries in flight per connection: half the ID space */

/* getdns's constants, which Stubby files use by name or by number. */
enum {
	GETDNS_RESOLUTION_STUB = 520,
	GETDNS_RESOLUTION_RECURSING = 521,
	GETDNS_TRANSPORT_UDP = 1200,
	GETDNS_TRANSPORT_TCP = 1201,
	GETDNS_TRANSPORT_TLS = 1202,
	GETDNS_AUTHENTICATION_NONE = 1300,
	GETDNS_AUTHENTICATION_REQUIRED = 1301,
	GETDNS_SSL3 = 1400,
	GETDNS_TLS1 = 1401,
	GETDNS_TLS1_1 = 1402,
	GETDNS_TLS1_2 = 1403,
	GETDNS_TLS1_3 = 1404,
	GETDNS_EXTENSION_TRUE = 1000,
	GETDNS_EXTENSION_FALSE = 1001,
};

struct enum_name {
	const char *name;
	int value;
};

static const struct enum_name resolution_names[] = {
	{"GETDNS_RESOLUTION_STUB", GETDNS_RESOLUTION_STUB},
	{"GETDNS_RESOLUTION_RECURSING", GETDNS_RESOLUTION_RECURSING},
};

static const struct enum_name transport_names[] = {
	{"GETDNS_TRANSPORT_UDP", GETDNS_TRANSPORT_UDP},
	{"GETDNS_TRANSPORT_TCP", GETDNS_TRANSPORT_TCP},
	{"GETDNS_TRANSPORT_TLS", GETDNS_TRANSPORT_TLS},
};

static const struct enum_name auth_names[] = {
	{"GETDNS_AUTHENTICATION_NONE", GETDNS_AUTHENTICATION_NONE},
	{"GETDNS_AUTHENTICATION_REQUIRED", GETDNS_AUTHENTICATION_REQUIRED},
};

static const struct enum_name tls_version_names[] = {
	{"GETDNS_SSL3", GETDNS_SSL3},	  {"GETDNS_TLS1", GETDNS_TLS1},
	{"GETDNS_TLS1_1", GETDNS_TLS1_1}, {"GETDNS_TLS1_2", GETDNS_TLS1_2},
	{"GETDNS_TLS1_3", GETDNS_TLS1_3},
};

/* Also the YAML booleans and 0/1: whoever writes "dnssec: true" asks for validation too. */
static const struct enum_name extension_names[] = {
	{"GETDNS_EXTENSION_TRUE", GETDNS_EXTENSION_TRUE},
	{"GETDNS_EXTENSION_FALSE", GETDNS_EXTENSION_FALSE},
	{"true", GETDNS_EXTENSION_TRUE},
	{"True", GETDNS_EXTENSION_TRUE},
	{"TRUE", GETDNS_EXTENSION_TRUE},
	{"1", GETDNS_EXTENSION_TRUE},
	{"false", GETDNS_EXTENSION_FALSE},
	{"False", GETDNS_EXTENSION_FALSE},
	{"FALSE", GETDNS_EXTENSION_FALSE},
	{"0", GETDNS_EXTENSION_FALSE},
};

static const struct enum_name log_level_names[] = {
	{"GETDNS_LOG_EMERG", 0}, {"GETDNS_LOG_ALERT", 1},   {"GETDNS_LOG_CRIT", 2},
	{"GETDNS_LOG_ERR", 3},	 {"GETDNS_LOG_WARNING", 4}, {"GETDNS_LOG_NOTICE", 5},
	{"GETDNS_LOG_INFO", 6},	 {"GETDNS_LOG_DEBUG", 7},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#ifndef DOTD_ROOT_ANCHOR
#define DOTD_ROOT_ANCHOR ""
#endif
const char config_root_anchor[] = DOTD_ROOT_ANCHOR;

/* What the checks after the walk need to know of one upstream, beyond its config_upstream. */
struct upstream_extra {
	bool has_auth_key;     /**< tls_auth_name or tls_pubkey_pinset is written, valid or not */
	bool short_form;       /**< written as a tls:// string, for the strict check's message */
	unsigned tls_min_line; /**< line of its own tls_min_version, 0 while absent */
	int tls_min;	       /**< that tls_min_version, a GETDNS_TLS* value */
	unsigned tsig_line;    /**< line of its first tsig_* key, 0 while absent */
	const char *tsig_key;  /**< borrowed from the document: that key's name */
};

/* State of one config_load_string() call. */
struct parse {
	yaml_document_t *doc; /**< borrowed: the loaded document */
	const char *source;   /**< borrowed: the name used in messages */
	FILE *err;	      /**< borrowed, or NULL: where errors and notices go */
	struct config *cfg;   /**< borrowed: the config being filled, owned by the caller */
	unsigned n_errors;
	bool oom;			 /**< an allocation failed: the load returns -ENOMEM */
	unsigned listen_line;		 /**< line of listen_addresses, 0 while absent */
	unsigned upstream_line;		 /**< line of upstream_recursive_servers, 0 while absent */
	unsigned tls_max_line;		 /**< line of tls_max_version, 0 while absent */
	unsigned acl_line;		 /**< line of access_control, 0 while absent */
	unsigned metrics_acl_line;	 /**< line of metrics_access_control, 0 while absent */
	bool bootstrap_bad;		 /**< bootstrap has an error of its own */
	bool auth_bad;			 /**< tls_authentication was given but unusable */
	unsigned dnssec_line;		 /**< line of a dnssec* key asking for validation, or 0 */
	unsigned anchors_line;		 /**< line of dnssec_trust_anchors, 0 while absent */
	unsigned ntas_line;		 /**< line of dnssec_negative_trust_anchors, or 0 */
	struct upstream_extra *up_extra; /**< owned: one per cfg->upstreams entry */
	struct upstream_extra **zone_extra; /**< owned: per cfg->zones entry, one per upstream */
	size_t n_zone_extra;
};

/* One upstream_recursive_servers entry while its keys are read. */
struct upstream_parse {
	struct config_upstream *up;   /**< borrowed: the entry being filled */
	struct upstream_extra *extra; /**< borrowed: its entry in parse.up_extra */
	bool addr_seen; /**< address_data is written: its own error says what is wrong */
	bool has_addr;
	unsigned port;
};

/* One tls_pubkey_pinset entry while its keys are read. */
struct pin_parse {
	struct config_pin *pin; /**< borrowed: the entry being filled */
	bool has_digest;
	bool has_value;
};

/*
 * A key of a mapping: set() reads its value into obj. A rule without set() is a key that is
 * accepted and ignored with a notice; ignored says why if the generic reason does not fit.
 */
struct key_rule {
	const char *name;
	void (*set)(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj);
	const char *ignored;
};

/* ---- messages ---- */

static void report(struct parse *p, unsigned line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void vreport(struct parse *p, unsigned line, const char *key, const char *what,
		    const char *text, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

/*
 * Count an error and print it as "SOURCE:LINE: key 'K': REASON" (no key part if @key is NULL),
 * or "SOURCE:LINE: key 'K': bad WHAT 'TEXT': REASON" if @what is set.
 */
static void vreport(struct parse *p, unsigned line, const char *key, const char *what,
		    const char *text, const char *fmt, va_list ap)
{
	p->n_errors++;
	if (!p->err) {
		return;
	}
	fprintf(p->err, "%s:%u: ", p->source, line);
	if (key) {
		fprintf(p->err, "key '%s': ", key);
	}
	if (what) {
		fprintf(p->err, "bad %s '%s': ", what, text);
	}
	vfprintf(p->err, fmt, ap);
	fputc('\n', p->err);
}

static void report(struct parse *p, unsigned line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, line, key, NULL, NULL, fmt, ap);
	va_end(ap);
}

static void report_bad(struct parse *p, unsigned line, const char *key, const char *what,
		       const char *text, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* "key 'K': bad WHAT 'TEXT': REASON": for a value whose reason quotes only a part of it. */
static void report_bad(struct parse *p, unsigned line, const char *key, const char *what,
		       const char *text, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, line, key, what, text, fmt, ap);
	va_end(ap);
}

static void notice_ignored(struct parse *p, unsigned line, const char *key, const char *why)
{
	if (!p->err) {
		return;
	}
	if (why) {
		fprintf(p->err, "%s:%u: notice: key '%s' is accepted and ignored: %s\n", p->source,
			line, key, why);
	} else {
		fprintf(p->err,
			"%s:%u: notice: key '%s' is accepted but not implemented yet, ignored\n",
			p->source, line, key);
	}
}

/* ---- nodes ---- */

static unsigned node_line(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static const char *node_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An empty value, or YAML's null written out: "key:" or "key: ~". */
static bool node_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	for (size_t i = 0; i < N_ELEMS(nulls); i++) {
		if (strcmp(node_text(n), nulls[i]) == 0) {
			return true;
		}
	}
	return false;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct parse *p, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
}

/* Whether mapping @map has the key @name, whatever its value. */
static bool mapping_has_key(struct parse *p, const yaml_node_t *map, const char *name)
{
	for (const yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);

		if (k->type == YAML_SCALAR_NODE && strcmp(node_text(k), name) == 0) {
			return true;
		}
	}
	return false;
}

/* "expected WHAT, got a list": for a value of the wrong type or with an unusable text. */
static void report_type(struct parse *p, const char *key, unsigned line, const char *what,
			const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE) {
		report(p, line, key, "expected %s, got a mapping", what);
	} else if (n->type == YAML_SEQUENCE_NODE) {
		report(p, line, key, "expected %s, got a list", what);
	} else if (node_is_null(n)) {
		report(p, line, key, "expected %s, got nothing", what);
	} else {
		report(p, line, key, "expected %s, got '%s'", what, node_text(n));
	}
}

/* The text of a scalar that is not null, or NULL after reporting what it is instead. */
static const char *get_scalar(struct parse *p, const char *key, unsigned line, const char *what,
			      const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || node_is_null(n)) {
		report_type(p, key, line, what, n);
		return NULL;
	}
	return node_text(n);
}

static bool get_list(struct parse *p, const char *key, unsigned line, const yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		report_type(p, key, line, "a list", n);
		return false;
	}
	return true;
}

/*
 * The list @n and an array for its items, @size bytes each, zeroed (one item's worth for an
 * empty list, so that it too has an array). An empty list is refused with the message
 * @empty unless it is NULL. Returns NULL when there is nothing to read (not a list, refused, or
 * out of memory: p->oom); *@len is written only with an array.
 */
static void *get_list_array(struct parse *p, const char *key, unsigned line, const yaml_node_t *n,
			    size_t size, const char *empty, size_t *len)
{
	size_t count;
	void *a;

	if (!get_list(p, key, line, n)) {
		return NULL;
	}
	count = seq_len(n);
	if (count == 0 && empty) {
		report(p, line, key, "%s", empty);
		return NULL;
	}
	a = calloc(count ? count : 1, size);
	if (!a) {
		p->oom = true;
		return NULL;
	}
	*len = count;
	return a;
}

/* A decimal integer in [min, max]. */
static bool get_uint(struct parse *p, const char *key, unsigned line, const yaml_node_t *n,
		     unsigned long min, unsigned long max, unsigned *out)
{
	const char *s = get_scalar(p, key, line, "an integer", n);
	unsigned long long v = 0;

	if (!s) {
		return false;
	}
	if (!*s) {
		report_type(p, key, line, "an integer", n);
		return false;
	}
	if (s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
		report(p, line, key, "'%s' is out of range %lu..%lu", s, min, max);
		return false;
	}
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9') {
			report_type(p, key, line, "an integer", n);
			return false;
		}
		v = v * 10 + (unsigned)(*c - '0');
		if (v > max) {
			break;
		}
	}
	if (v < min || v > max) {
		report(p, line, key, "'%s' is out of range %lu..%lu", s, min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

/* 0/1, as Stubby writes them, or a YAML boolean. */
static bool get_flag(struct parse *p, const char *key, unsigned line, const yaml_node_t *n,
		     bool *out)
{
	static const char *const yes[] = {"1", "true", "True", "TRUE"};
	static const char *const no[] = {"0", "false", "False", "FALSE"};
	const char *s = get_scalar(p, key, line, "0, 1, true or false", n);

	if (!s) {
		return false;
	}
	for (size_t i = 0; i < N_ELEMS(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	report_type(p, key, line, "0, 1, true or false", n);
	return false;
}

/* A getdns constant, by name or by number; *out is its number. */
static bool get_enum(struct parse *p, const char *key, unsigned line, const yaml_node_t *n,
		     const struct enum_name *names, size_t n_names, const char *what, int *out)
{
	const char *s = get_scalar(p, key, line, what, n);

	if (!s) {
		return false;
	}
	for (size_t i = 0; i < n_names; i++) {
		char num[16];

		snprintf(num, sizeof(num), "%d", names[i].value);
		if (strcmp(s, names[i].name) == 0 || strcmp(s, num) == 0) {
			*out = names[i].value;
			return true;
		}
	}
	report_type(p, key, line, what, n);
	return false;
}

/*
 * One of @names (@n_names, indexed by the enum's value), as written: for dotd's own keys, which
 * take no getdns constant and so no number. Its index into *@out.
 */
static bool get_word(struct parse *p, const char *key, unsigned line, const yaml_node_t *n,
		     const char *const *names, size_t n_names, const char *what, size_t *out)
{
	const char *s = get_scalar(p, key, line, what, n);

	if (!s) {
		return false;
	}
	for (size_t i = 0; i < n_names; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return true;
		}
	}
	report_type(p, key, line, what, n);
	return false;
}

static const char *enum_to_name(const struct enum_name *names, size_t n_names, int value)
{
	for (size_t i = 0; i < n_names; i++) {
		if (names[i].value == value) {
			return names[i].name;
		}
	}
	return "?";
}

/* A non-empty string, copied into *out (owned by the config). */
static bool get_string(struct parse *p, const char *key, unsigned line, const yaml_node_t *n,
		       char **out)
{
	const char *s = get_scalar(p, key, line, "a string", n);
	char *copy;

	if (!s) {
		return false;
	}
	copy = strdup(s);
	if (!copy) {
		p->oom = true;
		return false;
	}
	free(*out);
	*out = copy;
	return true;
}

/*
 * Read the keys of mapping @map by @rules into @obj. Reports keys that are not scalars,
 * duplicates and unknown keys (@where completes "unknown key"), and notes ignored keys.
 */
static void walk_mapping(struct parse *p, const yaml_node_t *map, const struct key_rule *rules,
			 size_t n_rules, const char *where, void *obj)
{
	const yaml_node_pair_t *start = map->data.mapping.pairs.start;
	const yaml_node_pair_t *top = map->data.mapping.pairs.top;

	for (const yaml_node_pair_t *pair = start; pair < top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const struct key_rule *rule = NULL;
		unsigned line = node_line(k);
		const char *key;
		bool dup = false;

		if (k->type != YAML_SCALAR_NODE) {
			report(p, line, NULL, "a key must be a name, not a %s",
			       k->type == YAML_MAPPING_NODE ? "mapping" : "list");
			continue;
		}
		key = node_text(k);
		for (const yaml_node_pair_t *prev = start; prev < pair && !dup; prev++) {
			yaml_node_t *pk = yaml_document_get_node(p->doc, prev->key);

			if (pk->type == YAML_SCALAR_NODE && strcmp(node_text(pk), key) == 0) {
				report(p, line, key, "duplicate key (first at line %u)",
				       node_line(pk));
				dup = true;
			}
		}
		if (dup) {
			continue;
		}
		for (size_t i = 0; i < n_rules && !rule; i++) {
			if (strcmp(rules[i].name, key) == 0) {
				rule = &rules[i];
			}
		}
		if (!rule) {
			report(p, line, key, "unknown key%s", where);
		} else if (!rule->set) {
			notice_ignored(p, line, key, rule->ignored);
		} else {
			rule->set(p, key, line, v, obj);
		}
	}
}

/*
 * YAML reads a plain "- ::" or "- 2001:db8::" as a mapping of "2001:db8:" to nothing, because a
 * ':' before the end of the line starts a value. If @n is such a mapping, report that the
 * address must be quoted and return true.
 */
static bool report_unquoted_ipv6(struct parse *p, const char *key, unsigned line,
				 const yaml_node_t *n)
{
	const yaml_node_t *k;
	const yaml_node_t *v;
	char text[INET6_ADDRSTRLEN + 8];
	uint8_t addr[16];

	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
		return false;
	}
	k = yaml_document_get_node(p->doc, n->data.mapping.pairs.start->key);
	v = yaml_document_get_node(p->doc, n->data.mapping.pairs.start->value);
	if (k->type != YAML_SCALAR_NODE || k->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    !node_is_null(v) || strlen(node_text(k)) + 2 > sizeof(text)) {
		return false;
	}
	snprintf(text, sizeof(text), "%s:", node_text(k));
	if (inet_pton(AF_INET6, text, addr) != 1) {
		return false;
	}
	report(p, line, key,
	       "'%s' must be quoted: YAML reads an unquoted address ending in ':' as a mapping, "
	       "write \"%s\"",
	       text, text);
	return true;
}

/* ---- addresses ---- */

#define WHY_LEN 200 /* room for a reason that quotes the address twice */

/* 1 to 5 decimal digits, as a port is written. */
static bool is_port_text(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n >= 1 && n <= 5 && s[n] == '\0';
}

static bool is_ip(int family, const char *s)
{
	uint8_t addr[16];

	return inet_pton(family, s, addr) == 1;
}

/*
 * @buf (the text before any '@port') is an address in another program's syntax: an IPv4
 * "IP:port", or an IPv6 address in brackets, "[IP]" or "[IP]:port". Write how dotd spells it
 * into @why and return true; @at_port is the port written after '@', or NULL.
 */
static bool explain_other_syntax(const char *buf, const char *at_port, bool port_allowed, char *why,
				 size_t why_len)
{
	char ip[INET6_ADDRSTRLEN + 8];
	const char *port = at_port;
	const char *colon = strchr(buf, ':');

	if (buf[0] == '[') {
		const char *close = strchr(buf, ']');

		if (!close || (size_t)(close - buf - 1) >= sizeof(ip)) {
			return false;
		}
		memcpy(ip, buf + 1, (size_t)(close - buf - 1));
		ip[close - buf - 1] = '\0';
		if (close[1] == ':' && !at_port && is_port_text(close + 2)) {
			port = close + 2;
		} else if (close[1] != '\0') {
			return false;
		}
		if (!is_ip(AF_INET6, ip)) {
			return false;
		}
		if (!port) {
			snprintf(why, why_len, "write %s, without brackets", ip);
		} else if (port_allowed) {
			snprintf(why, why_len, "write %s@%s, without brackets", ip, port);
		} else {
			snprintf(why, why_len, "write %s, without brackets, and tls_port: %s", ip,
				 port);
		}
		return true;
	}
	if (!colon || strchr(colon + 1, ':') || at_port || !is_port_text(colon + 1) ||
	    (size_t)(colon - buf) >= sizeof(ip)) {
		return false;
	}
	memcpy(ip, buf, (size_t)(colon - buf));
	ip[colon - buf] = '\0';
	if (!is_ip(AF_INET, ip)) {
		return false;
	}
	if (port_allowed) {
		snprintf(why, why_len, "the port follows '@', not ':': write %s@%s", ip, colon + 1);
	} else {
		snprintf(why, why_len, "a port is not allowed here (use tls_port: %s)", colon + 1);
	}
	return true;
}

/*
 * Whether the IPv6 literal @ip ends as "::1:6050" does: a group of decimal digits after at
 * least one more group after "::". Without it the address is still complete ("::1"), so the
 * last group may be a port written with ':' (the syntax of other programs), and the address is
 * ambiguous. One group after "::" ("2606:4700:4700::1111") or none is not, nor is an address
 * written without "::".
 */
static bool ends_like_port(const char *ip)
{
	const char *dc = strstr(ip, "::");
	const char *last = strrchr(ip, ':');

	return dc && last > dc + 1 && is_port_text(last + 1);
}

/*
 * Parse "IP" or, if @port_allowed, "IP@port" into @ss with @default_port. On error return
 * -EINVAL and write the reason into @why (@why_len bytes, WHY_LEN is enough).
 */
static int parse_endpoint(const char *text, bool port_allowed, unsigned default_port,
			  struct sockaddr_storage *ss, socklen_t *ss_len, char *why, size_t why_len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned port = default_port;
	const char *at_port = NULL;
	char *at;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, why_len, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	strcpy(buf, text);
	at = strrchr(buf, '@');
	if (at) {
		unsigned long v = 0;
		const char *c = at + 1;

		if (!port_allowed) {
			snprintf(why, why_len, "a port is not allowed here (use tls_port)");
			return -EINVAL;
		}
		*at = '\0';
		at_port = c;
		if (!*c) {
			snprintf(why, why_len, "no port after '@'");
			return -EINVAL;
		}
		for (; *c; c++) {
			if (*c < '0' || *c > '9' || v > 65535) {
				break;
			}
			v = v * 10 + (unsigned)(*c - '0');
		}
		if (*c || v < 1 || v > 65535) {
			snprintf(why, why_len, "the port must be a number 1..65535");
			return -EINVAL;
		}
		port = (unsigned)v;
	}
	if (explain_other_syntax(buf, at_port, port_allowed, why, why_len)) {
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (strchr(buf, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
			snprintf(why, why_len, "not an IPv6 address");
			return -EINVAL;
		}
		/* Only where a port may follow: address_data takes none, and real upstreams
		 * such as 2620:fe::fe:10 end this way. */
		if (port_allowed && !at && ends_like_port(buf)) {
			const char *last = strrchr(buf, ':');

			snprintf(why, why_len,
				 "ambiguous: write %.*s@%s for port %s, or %s@%u for that address",
				 (int)(last - buf), buf, last + 1, last + 1, buf, default_port);
			return -EINVAL;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*ss_len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1) {
			snprintf(why, why_len,
				 "not an IPv4 or IPv6 address (host names are not allowed)");
			return -EINVAL;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*ss_len = sizeof(*sin);
	}
	return 0;
}

/* "IP@port", owned by the caller; NULL if out of memory. */
static char *endpoint_name(const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN];
	char name[INET6_ADDRSTRLEN + 8];
	unsigned port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
	} else {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	}
	snprintf(name, sizeof(name), "%s@%u", ip, port);
	return strdup(name);
}

static void endpoint_set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET6) {
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	} else {
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	}
}

static bool endpoint_equal(const struct sockaddr_storage *a, socklen_t a_len,
			   const struct sockaddr_storage *b, socklen_t b_len)
{
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* ---- base64 (RFC 4648 §4), for pins ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	const char *pos = c ? strchr(b64_alphabet, c) : NULL;

	return pos ? (int)(pos - b64_alphabet) : -1;
}

/*
 * Decode the padded base64 @text into @out (room for @out_size bytes). Returns the decoded
 * length, -EINVAL for bad characters or bad padding, or -EMSGSIZE if @out is too small.
 */
static int b64_decode(const char *text, uint8_t *out, size_t out_size)
{
	size_t len = strlen(text);
	size_t n = 0;

	if (len == 0 || len % 4 != 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int n_pad = 0;
		uint32_t bits = 0;

		for (int j = 0; j < 4; j++) {
			char c = text[i + j];

			if (c == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				n_pad++;
				continue;
			}
			v[j] = b64_value(c);
			if (v[j] < 0 || n_pad > 0) {
				return -EINVAL; /* a bad character, or data after '=' */
			}
		}
		bits = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) |
		       (uint32_t)v[3];
		if (n + 3 - (size_t)n_pad > out_size) {
			return -EMSGSIZE;
		}
		out[n++] = (uint8_t)(bits >> 16);
		if (n_pad < 2) {
			out[n++] = (uint8_t)(bits >> 8);
		}
		if (n_pad < 1) {
			out[n++] = (uint8_t)bits;
		}
	}
	return (int)n;
}

/* Encode @len bytes of @in into @out, which has room for 4 * ((len + 2) / 3) + 1 chars. */
static void b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t bits = (uint32_t)in[i] << 16;

		if (i + 1 < len) {
			bits |= (uint32_t)in[i + 1] << 8;
		}
		if (i + 2 < len) {
			bits |= in[i + 2];
		}
		out[o++] = b64_alphabet[(bits >> 18) & 63];
		out[o++] = b64_alphabet[(bits >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(bits >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[bits & 63] : '=';
	}
	out[o] = '\0';
}

/* ---- per-pin keys ---- */

static void pin_digest(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct pin_parse *pp = obj;
	const char *s = get_scalar(p, key, line, "\"sha256\"", val);

	pp->has_digest = true;
	if (s && strcmp(s, "sha256") != 0) {
		report(p, line, key, "unsupported digest '%s': only sha256 is supported", s);
	}
}

/*
 * Decode the base64 SHA-256 pin @s into @pin. Returns 0; -EINVAL if @s is not base64;
 * -EMSGSIZE if it decodes to more than a pin; -ERANGE if to less, *@n_bytes of them.
 */
static int decode_pin(const char *s, struct config_pin *pin, int *n_bytes)
{
	uint8_t buf[CONFIG_PIN_LEN + 3];
	int n = b64_decode(s, buf, sizeof(buf));

	if (n < 0) {
		return n;
	}
	if (n != CONFIG_PIN_LEN) {
		*n_bytes = n;
		return -ERANGE;
	}
	memcpy(pin->sha256, buf, CONFIG_PIN_LEN);
	return 0;
}

static void pin_value(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct pin_parse *pp = obj;
	const char *s = get_scalar(p, key, line, "the base64 of a SHA-256 digest", val);
	int n = 0;
	int rc;

	pp->has_value = true;
	if (!s) {
		return;
	}
	rc = decode_pin(s, pp->pin, &n);
	if (rc == -EMSGSIZE) {
		report(p, line, key, "'%s' decodes to more than %d bytes, a SHA-256 pin has %d", s,
		       CONFIG_PIN_LEN, CONFIG_PIN_LEN);
	} else if (rc == -ERANGE) {
		report(p, line, key, "'%s' decodes to %d bytes, a SHA-256 pin has %d", s, n,
		       CONFIG_PIN_LEN);
	} else if (rc < 0) {
		report(p, line, key, "'%s' is not valid base64", s);
	}
}

static const struct key_rule pin_rules[] = {
	{"digest", pin_digest, NULL},
	{"value", pin_value, NULL},
};

/* ---- per-upstream keys ---- */

static void up_address(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct upstream_parse *upp = obj;
	const char *s;
	char why[WHY_LEN];

	upp->addr_seen = true;
	s = get_scalar(p, key, line, "an IP address", val);
	if (!s) {
		return;
	}
	if (parse_endpoint(s, false, DOT_PORT, &upp->up->addr, &upp->up->addr_len, why,
			   sizeof(why)) < 0) {
		report(p, line, key, "bad address '%s': %s", s, why);
		return;
	}
	upp->has_addr = true;
}

static void up_tls_port(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct upstream_parse *upp = obj;

	get_uint(p, key, line, val, 1, 65535, &upp->port);
}

/*
 * Whether the @n bytes at @s are a tls_auth_name: a host name or an IP literal, with no empty
 * label ("", ".", "..", ".a", "a..b", "a.."), no space and no control character. One trailing
 * dot is the absolute form of the same name (RFC 9525 §6.3): *@len is the length without it.
 */
static bool is_auth_name(const char *s, size_t n, size_t *len)
{
	if (n > 0 && s[n - 1] == '.') {
		n--;
	}
	if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || s[n - 1] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || (c == '.' && s[i + 1] == '.')) {
			return false;
		}
	}
	*len = n;
	return true;
}

static void up_auth_name(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			 void *obj)
{
	struct upstream_parse *upp = obj;
	const char *s = get_scalar(p, key, line, "a host name", val);
	size_t len;

	if (!s) {
		return;
	}
	if (!is_auth_name(s, strlen(s), &len)) {
		report(p, line, key, "'%s' is not a host name", s);
		return;
	}
	if (get_string(p, key, line, val, &upp->up->auth_name)) {
		upp->up->auth_name[len] = 0;
	}
}

static void up_pinset(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct upstream_parse *upp = obj;
	struct config_upstream *up = upp->up;
	size_t n;

	up->pins = get_list_array(p, key, line, val, sizeof(*up->pins), "the pin set is empty", &n);
	if (!up->pins) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		struct pin_parse pp = {.pin = &up->pins[up->n_pins]};
		unsigned item_line = node_line(item);

		if (item->type != YAML_MAPPING_NODE) {
			report_type(p, key, item_line, "a mapping {digest: \"sha256\", value: ...}",
				    item);
			continue;
		}
		walk_mapping(p, item, pin_rules, N_ELEMS(pin_rules), " in a pin", &pp);
		if (!pp.has_digest) {
			report(p, item_line, "digest",
			       "missing in a pin (write digest: \"sha256\")");
		}
		if (!pp.has_value) {
			report(p, item_line, "value", "missing in a pin");
		}
		up->n_pins++;
	}
}

/*
 * Stubby's per-upstream tls_min_version. dotd has one minimum for all upstreams: ignoring a
 * higher one would quietly accept an older TLS than asked for, so check_whole() refuses that
 * and notes the others.
 */
static void up_tls_min(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct upstream_parse *upp = obj;
	int v;

	if (get_enum(p, key, line, val, tls_version_names, N_ELEMS(tls_version_names),
		     "GETDNS_TLS1_2 or GETDNS_TLS1_3", &v)) {
		upp->extra->tls_min_line = line;
		upp->extra->tls_min = v;
	}
}

/*
 * tsig_name, tsig_algorithm, tsig_secret: getdns signs queries and checks answers with TSIG
 * over TLS too. dotd does not, which only matters without strict authentication, and
 * check_whole() decides once tls_authentication is known. One message per upstream.
 */
static void up_tsig(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct upstream_parse *upp = obj;

	if (!upp->extra->tsig_line) {
		upp->extra->tsig_line = line;
		upp->extra->tsig_key = key;
	}
}

#define CLEAR_TEXT "dotd never uses clear-text UDP/TCP upstreams"

static const struct key_rule upstream_rules[] = {
	{"address_data", up_address, NULL},
	{"tls_port", up_tls_port, NULL},
	{"tls_auth_name", up_auth_name, NULL},
	{"tls_pubkey_pinset", up_pinset, NULL},
	{"port", NULL, CLEAR_TEXT},
	{"tsig_name", up_tsig, NULL},
	{"tsig_algorithm", up_tsig, NULL},
	{"tsig_secret", up_tsig, NULL},
	{"tls_cipher_list", NULL, NULL},
	{"tls_ciphersuites", NULL, NULL},
	{"tls_curves_list", NULL, NULL},
	{"tls_min_version", up_tls_min, NULL},
	{"tls_max_version", NULL, NULL},
	{"scope_id", NULL, NULL},
};

/* ---- upstreams the short way: tls://ADDR[:PORT][#AUTH_NAME][^PIN]... ---- */

#define TLS_URL_SYNTAX "tls://ADDR[:PORT][#AUTH_NAME][^PIN]..."

/* The @n bytes at @s as a port, 1..65535. */
static bool parse_port(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535) {
		return false;
	}
	*out = v;
	return true;
}

/*
 * Whether the @n bytes at @s (no trailing dot) are a host name as RFC 1123 §2.1 has them:
 * labels of 1 to 63 letters, digits and '-', neither first nor last, 253 bytes at most. If
 * not, the reason is in @why. A last label of digits only is refused (RFC 3696 §2): such a
 * name is an IPv4 address written wrong, and a resolver would never find it.
 */
static bool is_host_name(const char *s, size_t n, char *why, size_t why_len)
{
	size_t label = 0;
	bool digits = true;

	if (n > NAME_MAX_LEN) {
		snprintf(why, why_len, "it is longer than %d characters", NAME_MAX_LEN);
		return false;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (label == 0) {
				snprintf(why, why_len, "it has an empty label");
				return false;
			}
			if (s[i - 1] == '-') {
				snprintf(why, why_len, "a label ends with '-'");
				return false;
			}
			if (i == n && digits) {
				snprintf(why, why_len, "its last label is all digits");
				return false;
			}
			label = 0;
			digits = true;
			continue;
		}
		if ((unsigned char)c >= 0x80) {
			snprintf(why, why_len, "write an internationalised name in its xn-- form");
			return false;
		}
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '-') {
			snprintf(why, why_len,
				 "'%c' is not allowed (letters, digits, '-' and '.' only)", c);
			return false;
		}
		if (c == '-' && label == 0) {
			snprintf(why, why_len, "a label starts with '-'");
			return false;
		}
		digits = digits && c >= '0' && c <= '9';
		if (++label > 63) {
			snprintf(why, why_len, "a label is longer than 63 characters");
			return false;
		}
	}
	return true;
}

/*
 * An IPv6 address written without brackets in the @n bytes at @a (two ':' or more): RFC 3986
 * §3.2.2 wants brackets, and without them the last group may be a port. Report how to write
 * it: "2620:fe::fe:853" is the address 2620:fe::fe:853 as well as 2620:fe::fe on port 853.
 */
static void report_bare_ipv6(struct parse *p, const char *key, unsigned line, const char *text,
			     const char *a, size_t n)
{
	char whole[INET6_ADDRSTRLEN + 8];
	char head[INET6_ADDRSTRLEN + 8];
	const char *last = a + n;
	unsigned port = 0;
	bool whole_ok;
	bool head_ok;

	while (last[-1] != ':') {
		last--;
	}
	if (n >= sizeof(whole)) {
		report_bad(p, line, key, "upstream", text, "neither an IP address nor a host name");
		return;
	}
	memcpy(whole, a, n);
	whole[n] = '\0';
	memcpy(head, a, (size_t)(last - 1 - a));
	head[last - 1 - a] = '\0';
	whole_ok = is_ip(AF_INET6, whole);
	head_ok = parse_port(last, (size_t)(a + n - last), &port) && is_ip(AF_INET6, head);
	if (whole_ok && head_ok) {
		report_bad(p, line, key, "upstream", text,
			   "an IPv6 address goes in brackets: write tls://[%s]:%u for port %u, or "
			   "tls://[%s] for that address",
			   head, port, port, whole);
	} else if (head_ok) {
		report_bad(p, line, key, "upstream", text,
			   "an IPv6 address goes in brackets: write tls://[%s]:%u", head, port);
	} else if (whole_ok) {
		report_bad(p, line, key, "upstream", text,
			   "an IPv6 address goes in brackets: write tls://[%s]", whole);
	} else {
		report_bad(p, line, key, "upstream", text, "neither an IP address nor a host name");
	}
}

/* The port after the address, at @s (@n bytes, ":PORT" or nothing), into *@port. */
static bool get_url_port(struct parse *p, const char *key, unsigned line, const char *text,
			 const char *s, size_t n, unsigned *port)
{
	if (n == 0) {
		return true;
	}
	if (s[0] != ':') {
		report_bad(p, line, key, "upstream", text, "unexpected '%.*s' after the address",
			   (int)n, s);
		return false;
	}
	if (n == 1) {
		report_bad(p, line, key, "upstream", text, "no port after ':'");
		return false;
	}
	if (!parse_port(s + 1, n - 1, port)) {
		report_bad(p, line, key, "upstream", text, "the port must be a number 1..65535");
		return false;
	}
	return true;
}

/*
 * The ADDR[:PORT] of a tls:// upstream, the @n bytes at @a, into @up: an IPv4 address, an
 * IPv6 address in brackets, or a host name (up->host, lower case, without a trailing dot;
 * up->addr then has family AF_UNSPEC and only the port). With -ENOMEM's p->oom set, false.
 */
static bool get_url_addr(struct parse *p, const char *key, unsigned line, const char *text,
			 const char *a, size_t n, struct config_upstream *up)
{
	char ip[INET6_ADDRSTRLEN + 8];
	char why[WHY_LEN];
	unsigned port = DOT_PORT;
	const char *at = memchr(a, '@', n);
	const char *colon;
	size_t host_len;

	if (n == 0) {
		report_bad(p, line, key, "upstream", text, "no address after tls://");
		return false;
	}
	if (memchr(a, '/', n) || memchr(a, '?', n)) {
		report_bad(p, line, key, "upstream", text,
			   "DNS over TLS has no path nor query: " TLS_URL_SYNTAX);
		return false;
	}
	/* Stubby's and listen_addresses' IP@port: here a port follows ':', as in any URL. */
	if (at) {
		if (at > a && parse_port(at + 1, (size_t)(a + n - at - 1), &port)) {
			report_bad(p, line, key, "upstream", text,
				   "the port follows ':' in a tls:// upstream: write tls://%.*s:%u",
				   (int)(at - a), a, port);
		} else {
			report_bad(p, line, key, "upstream", text,
				   "'@' has no place in a tls:// upstream: " TLS_URL_SYNTAX);
		}
		return false;
	}
	memset(&up->addr, 0, sizeof(up->addr));
	if (a[0] == '[') {
		const char *close = memchr(a, ']', n);
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&up->addr;
		size_t ip_len = close ? (size_t)(close - a - 1) : 0;

		if (!close) {
			report_bad(p, line, key, "upstream", text, "no ']' after '['");
			return false;
		}
		if (ip_len >= sizeof(ip)) {
			ip_len = sizeof(ip) - 1;
		}
		memcpy(ip, a + 1, ip_len);
		ip[ip_len] = '\0';
		if (is_ip(AF_INET, ip)) {
			report_bad(p, line, key, "upstream", text,
				   "brackets are for IPv6 addresses only: write tls://%s", ip);
			return false;
		}
		if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1) {
			report_bad(p, line, key, "upstream", text, "'[%s]' is not an IPv6 address",
				   ip);
			return false;
		}
		if (!get_url_port(p, key, line, text, close + 1, (size_t)(a + n - close - 1),
				  &port)) {
			return false;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		up->addr_len = sizeof(*sin6);
		return true;
	}
	colon = memchr(a, ':', n);
	if (colon && memchr(colon + 1, ':', (size_t)(a + n - colon - 1))) {
		report_bare_ipv6(p, key, line, text, a, n);
		return false;
	}
	host_len = colon ? (size_t)(colon - a) : n;
	if (host_len == 0) {
		report_bad(p, line, key, "upstream", text, "no address before ':'");
		return false;
	}
	if (!get_url_port(p, key, line, text, a + host_len, n - host_len, &port)) {
		return false;
	}
	if (host_len < sizeof(ip)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&up->addr;

		memcpy(ip, a, host_len);
		ip[host_len] = '\0';
		if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			up->addr_len = sizeof(*sin);
			return true;
		}
	}
	/* Digits and dots only ("192.0.2.256", "9.9.9.9."): an IPv4 address gone wrong. */
	for (size_t i = 0; i < host_len && ((a[i] >= '0' && a[i] <= '9') || a[i] == '.'); i++) {
		if (i + 1 == host_len) {
			report_bad(p, line, key, "upstream", text, "'%.*s' is not an IPv4 address",
				   (int)host_len, a);
			return false;
		}
	}
	/* One trailing dot is the absolute form of the same name. */
	if (host_len > 1 && a[host_len - 1] == '.') {
		host_len--;
	}
	if (!is_host_name(a, host_len, why, sizeof(why))) {
		report_bad(p, line, key, "upstream", text, "'%.*s' is not a host name: %s",
			   (int)host_len, a, why);
		return false;
	}
	up->host = strndup(a, host_len);
	if (!up->host) {
		p->oom = true;
		return false;
	}
	for (char *c = up->host; *c; c++) {
		if (*c >= 'A' && *c <= 'Z') {
			*c = (char)(*c - 'A' + 'a');
		}
	}
	/* AF_UNSPEC, as calloc left it; the port where struct sockaddr_in keeps it. */
	((struct sockaddr_in *)&up->addr)->sin_port = htons((uint16_t)port);
	up->addr_len = 0;
	return true;
}

/* The ^PINs of a tls:// upstream: @s is the first '^'. */
static bool get_url_pins(struct parse *p, const char *key, unsigned line, const char *text,
			 const char *s, struct config_upstream *up)
{
	size_t n = 0;

	for (const char *c = s; *c; c++) {
		n += *c == '^';
	}
	up->pins = calloc(n, sizeof(*up->pins));
	if (!up->pins) {
		p->oom = true;
		return false;
	}
	while (*s == '^') {
		size_t len = strcspn(s + 1, "^");
		char *pin = strndup(s + 1, len);
		int n_bytes = 0;
		int rc;

		if (!pin) {
			p->oom = true;
			return false;
		}
		rc = len ? decode_pin(pin, &up->pins[up->n_pins], &n_bytes) : 0;
		if (len == 0) {
			report_bad(p, line, key, "upstream", text, "no pin after '^'");
		} else if (rc == -EMSGSIZE) {
			report_bad(
				p, line, key, "upstream", text,
				"the pin '%s' decodes to more than %d bytes, a SHA-256 pin has %d",
				pin, CONFIG_PIN_LEN, CONFIG_PIN_LEN);
		} else if (rc == -ERANGE) {
			report_bad(p, line, key, "upstream", text,
				   "the pin '%s' decodes to %d bytes, a SHA-256 pin has %d", pin,
				   n_bytes, CONFIG_PIN_LEN);
		} else if (rc < 0) {
			report_bad(p, line, key, "upstream", text,
				   "the pin '%s' is not valid base64", pin);
		}
		free(pin);
		if (len == 0 || rc < 0) {
			return false;
		}
		up->n_pins++;
		s += 1 + len;
	}
	return true;
}

/*
 * An upstream written as the string @text, tls://ADDR[:PORT][#AUTH_NAME][^PIN]..., into @up
 * (not its name). A host name is its own auth name unless #AUTH_NAME says otherwise: the
 * certificate must be valid for the name the address was looked up by, or for the one given.
 * One error per string: false after it.
 */
static bool get_tls_url(struct parse *p, const char *key, unsigned line, const char *text,
			struct config_upstream *up)
{
	const char *sep = strstr(text, "://");
	const char *rest;
	const char *hash;
	const char *caret;
	size_t addr_len;

	if (!sep) {
		report_bad(p, line, key, "upstream", text,
			   "no scheme: write " TLS_URL_SYNTAX ", or a mapping with address_data");
		return false;
	}
	/* RFC 3986 §3.1: the scheme is case-insensitive. */
	if (sep - text != 3 || strncasecmp(text, "tls", 3) != 0) {
		report_bad(p, line, key, "upstream", text,
			   "dotd speaks DNS over TLS only: " TLS_URL_SYNTAX);
		return false;
	}
	rest = sep + 3;
	hash = strchr(rest, '#');
	caret = strchr(rest, '^');
	if (hash && caret && caret < hash) {
		report_bad(p, line, key, "upstream", text,
			   "the #AUTH_NAME comes before the ^PINs: " TLS_URL_SYNTAX);
		return false;
	}
	addr_len = hash ? (size_t)(hash - rest) : caret ? (size_t)(caret - rest) : strlen(rest);
	if (!get_url_addr(p, key, line, text, rest, addr_len, up)) {
		return false;
	}
	if (hash) {
		size_t n = caret ? (size_t)(caret - hash - 1) : strlen(hash + 1);
		size_t len;

		if (n == 0) {
			report_bad(p, line, key, "upstream", text,
				   "no auth name after '#' (leave the '#' out for none)");
			return false;
		}
		if (!is_auth_name(hash + 1, n, &len)) {
			report_bad(p, line, key, "upstream", text, "'%.*s' is not a host name",
				   (int)n, hash + 1);
			return false;
		}
		up->auth_name = strndup(hash + 1, len);
	} else if (up->host) {
		up->auth_name = strdup(up->host);
	}
	if ((hash || up->host) && !up->auth_name) {
		p->oom = true;
		return false;
	}
	return !caret || get_url_pins(p, key, line, text, caret, up);
}

/*
 * YAML reads "- tls://9.9.9.9:" as a mapping of "tls://9.9.9.9" to nothing, for the ':' that
 * ends it. If @n is such a mapping, the string with its ':' back (owned by the caller), so
 * that get_tls_url() says what is wrong with it; otherwise, or out of memory, NULL.
 */
static char *url_read_as_mapping(struct parse *p, const yaml_node_t *n)
{
	const yaml_node_t *k;
	const yaml_node_t *v;
	char *text;

	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
		return NULL;
	}
	k = yaml_document_get_node(p->doc, n->data.mapping.pairs.start->key);
	v = yaml_document_get_node(p->doc, n->data.mapping.pairs.start->value);
	if (k->type != YAML_SCALAR_NODE || k->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    !node_is_null(v) || !strstr(node_text(k), "://")) {
		return NULL;
	}
	text = malloc(strlen(node_text(k)) + 2);
	if (!text) {
		p->oom = true;
		return NULL;
	}
	strcpy(text, node_text(k));
	strcat(text, ":");
	return text;
}

/* ---- top-level keys ---- */

/*
 * One item of a list of addresses, IP or IP@port (port 53), into @addr; its text, or NULL
 * when it is not one (reported: an unquoted IPv6 address, not a scalar, not an address).
 */
static const char *get_endpoint_item(struct parse *p, const char *key, yaml_node_t *item,
				     struct sockaddr_storage *addr, socklen_t *addr_len)
{
	unsigned line = node_line(item);
	char why[WHY_LEN];
	const char *s;

	if (report_unquoted_ipv6(p, key, line, item)) {
		return NULL;
	}
	s = get_scalar(p, key, line, "an address IP or IP@port", item);
	if (!s) {
		return NULL;
	}
	if (parse_endpoint(s, true, DNS_PORT, addr, addr_len, why, sizeof(why)) < 0) {
		report(p, line, key, "bad address '%s': %s", s, why);
		return NULL;
	}
	return s;
}

static void set_listen(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;
	size_t n;

	p->listen_line = line;
	cfg->listen = get_list_array(p, key, line, val, sizeof(*cfg->listen),
				     "the list is empty: dotd needs an address to listen on", &n);
	if (!cfg->listen) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		struct config_listen *l = &cfg->listen[cfg->n_listen];
		unsigned item_line = node_line(item);
		bool dup = false;
		const char *s = get_endpoint_item(p, key, item, &l->addr, &l->addr_len);

		if (!s) {
			continue;
		}
		for (size_t j = 0; j < cfg->n_listen && !dup; j++) {
			dup = endpoint_equal(&cfg->listen[j].addr, cfg->listen[j].addr_len,
					     &l->addr, l->addr_len);
		}
		if (dup) {
			report(p, item_line, key, "'%s' is listed twice", s);
			continue;
		}
		l->name = endpoint_name(&l->addr);
		if (!l->name) {
			p->oom = true;
			return;
		}
		cfg->n_listen++;
	}
}

/*
 * "IP@port" or "HOST@port". Set only for an upstream without errors: the checks after the
 * walk look at those only, so that a mistake is not reported again as a consequence.
 */
static void set_upstream_name(struct parse *p, struct config_upstream *up)
{
	char name[NAME_MAX_LEN + 8];

	if (up->host) {
		snprintf(name, sizeof(name), "%s@%u", up->host,
			 ntohs(((const struct sockaddr_in *)&up->addr)->sin_port));
		up->name = strdup(name);
	} else {
		up->name = endpoint_name(&up->addr);
	}
	if (!up->name) {
		p->oom = true;
	}
}

/*
 * A list of upstreams, mappings or tls:// strings, into *@out (*@n_out of them), with one
 * upstream_extra each in *@extra for the checks after the walk. An empty list is an error, with
 * the message @empty. The top level and forward zones take the same items.
 */
static void get_upstream_list(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      const char *empty, struct config_upstream **out, size_t *n_out,
			      struct upstream_extra **extra)
{
	size_t n;

	*out = get_list_array(p, key, line, val, sizeof(**out), empty, &n);
	if (!*out) {
		return;
	}
	*extra = calloc(n, sizeof(**extra));
	if (!*extra) {
		p->oom = true;
		return;
	}
	for (size_t i = 0; i < n && !p->oom; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		struct upstream_parse upp = {
			.up = &(*out)[*n_out], .extra = &(*extra)[*n_out], .port = DOT_PORT};
		unsigned item_line = node_line(item);
		char *joined = url_read_as_mapping(p, item);

		if (joined || (item->type == YAML_SCALAR_NODE && !node_is_null(item))) {
			upp.up->line = item_line;
			upp.extra->short_form = true;
			(*n_out)++;
			if (get_tls_url(p, key, item_line, joined ? joined : node_text(item),
					upp.up)) {
				set_upstream_name(p, upp.up);
			}
			free(joined);
			continue;
		}
		if (item->type != YAML_MAPPING_NODE) {
			report_type(p, key, item_line,
				    "a mapping with address_data, or a string " TLS_URL_SYNTAX,
				    item);
			continue;
		}
		upp.up->line = item_line;
		upp.extra->has_auth_key = mapping_has_key(p, item, "tls_auth_name") ||
					  mapping_has_key(p, item, "tls_pubkey_pinset");
		(*n_out)++;
		walk_mapping(p, item, upstream_rules, N_ELEMS(upstream_rules), " in an upstream",
			     &upp);
		if (!upp.addr_seen) {
			report(p, item_line, "address_data", "missing: every upstream needs one");
		}
		if (!upp.has_addr) {
			continue;
		}
		endpoint_set_port(&upp.up->addr, upp.port);
		set_upstream_name(p, upp.up);
	}
}

static void set_upstreams(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			  void *obj)
{
	struct config *cfg = obj;

	p->upstream_line = line;
	get_upstream_list(p, key, line, val, "the list is empty: dotd needs at least one upstream",
			  &cfg->upstreams, &cfg->n_upstreams, &p->up_extra);
}

static void set_auth(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;
	int v;

	if (!get_enum(p, key, line, val, auth_names, N_ELEMS(auth_names),
		      "GETDNS_AUTHENTICATION_REQUIRED or GETDNS_AUTHENTICATION_NONE", &v)) {
		p->auth_bad = true; /* the strict checks would only repeat this mistake */
		return;
	}
	cfg->auth = v == GETDNS_AUTHENTICATION_NONE ? CONFIG_AUTH_NONE : CONFIG_AUTH_REQUIRED;
}

static const char *const unset_clock_names[] = {
	[CONFIG_UNSET_CLOCK_FAIL] = "fail",
	[CONFIG_UNSET_CLOCK_ACCEPT_PINNED] = "accept_pinned",
};

/*
 * A setter of an enum @field that takes one of @names as written (get_word(): dotd's own keys,
 * no getdns constant, so no number); @what is what the message says was expected.
 */
#define WORD_SETTER(name, field, type, names, what)                                                \
	static void name(struct parse *p, const char *key, unsigned line, yaml_node_t *val,        \
			 void *obj)                                                                \
	{                                                                                          \
		struct config *cfg = obj;                                                          \
		size_t i;                                                                          \
                                                                                                   \
		if (get_word(p, key, line, val, (names), N_ELEMS(names), (what), &i)) {            \
			cfg->field = (type)i;                                                      \
		}                                                                                  \
	}

WORD_SETTER(set_unset_clock, unset_clock, enum config_unset_clock, unset_clock_names,
	    "fail or accept_pinned")

/*
 * Whether the regular file at @path has a line that opens a PEM certificate (RFC 7468 §5.1),
 * the only form wolfSSL reads from a CA file. Its certificates themselves are parsed by the
 * first connection (tls.h, tls_client_load()); this finds the file that is not a CA file at all
 * at start. A byte at a time through a fixed buffer, so that no line costs memory, and only the
 * first CA_SCAN_MAX octets (Debian's bundle is 0.2 MB; a file such as /proc/kcore is regular
 * too, and endless for this purpose). -errno if it cannot be read, -EFBIG if that much held no
 * certificate.
 */
#define CA_SCAN_MAX (16u << 20)
static int file_has_pem_cert(const char *path, bool *out)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	FILE *f = fopen(path, "re");
	size_t scanned = 0, n;
	long matched = 0; /* of begin, at the start of this line; -1: this line is not it */
	bool found = false;
	char buf[4096];
	int ret = 0;

	if (!f) {
		return -errno;
	}
	while (!found && scanned < CA_SCAN_MAX && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; i < n && !found; i++) {
			if (buf[i] == '\n') {
				matched = 0;
			} else if (matched >= 0 && buf[i] == begin[matched]) {
				found = ++matched == (long)sizeof(begin) - 1;
			} else {
				matched = -1;
			}
		}
		scanned += n;
	}
	if (ferror(f)) {
		ret = -EIO;
	} else if (!found && scanned >= CA_SCAN_MAX) {
		ret = -EFBIG;
	}
	fclose(f);
	if (ret == 0) {
		*out = found;
	}
	return ret;
}

/* Check @path at start, as a strict daemon should, rather than at the first handshake. */
static void set_ca(struct parse *p, const char *key, unsigned line, yaml_node_t *val, char **out,
		   bool want_dir)
{
	bool pem = false;
	struct stat st;
	int ret;

	if (!get_string(p, key, line, val, out)) {
		return;
	}
	if (stat(*out, &st) < 0) {
		report(p, line, key, "cannot read '%s': %s", *out, strerror(errno));
	} else if (want_dir && !S_ISDIR(st.st_mode)) {
		report(p, line, key, "'%s' is not a directory", *out);
	} else if (!want_dir && S_ISDIR(st.st_mode)) {
		report(p, line, key, "'%s' is a directory (use tls_ca_path)", *out);
	} else if (!want_dir && !S_ISREG(st.st_mode)) {
		/* A device or a FIFO would never end, or block the start. */
		report(p, line, key, "'%s' is not a regular file", *out);
	} else if (access(*out, want_dir ? R_OK | X_OK : R_OK) < 0) {
		report(p, line, key, "cannot read '%s': %s", *out, strerror(errno));
	} else if (!want_dir && (ret = file_has_pem_cert(*out, &pem)) == -EFBIG) {
		report(p, line, key, "'%s' holds no PEM certificate in its first %u MiB", *out,
		       CA_SCAN_MAX >> 20);
	} else if (!want_dir && ret < 0) {
		report(p, line, key, "cannot read '%s': %s", *out, strerror(-ret));
	} else if (!want_dir && !pem) {
		report(p, line, key, "'%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
		       *out);
	}
}

static void set_ca_file(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	set_ca(p, key, line, val, &cfg->ca_file, false);
}

static void set_ca_path(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	set_ca(p, key, line, val, &cfg->ca_path, true);
}

static void set_transports(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	size_t n;

	if (!get_list(p, key, line, val)) {
		return;
	}
	n = seq_len(val);
	if (n == 0) {
		report(p, line, key, "the list is empty: write [GETDNS_TRANSPORT_TLS]");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		unsigned item_line = node_line(item);
		int v;

		if (!get_enum(p, key, item_line, item, transport_names, N_ELEMS(transport_names),
			      "GETDNS_TRANSPORT_TLS", &v)) {
			continue;
		}
		if (v != GETDNS_TRANSPORT_TLS) {
			report(p, item_line, key,
			       "%s is not allowed: dotd never falls back to clear text, "
			       "write [GETDNS_TRANSPORT_TLS]",
			       enum_to_name(transport_names, N_ELEMS(transport_names), v));
		}
	}
}

static void set_resolution(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	int v;

	if (get_enum(p, key, line, val, resolution_names, N_ELEMS(resolution_names),
		     "GETDNS_RESOLUTION_STUB", &v) &&
	    v != GETDNS_RESOLUTION_STUB) {
		report(p, line, key,
		       "dotd is a stub resolver: only GETDNS_RESOLUTION_STUB is supported");
	}
}

static void set_idle_timeout(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			     void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 0, UINT_MAX, &cfg->idle_timeout_ms);
}

static void set_timeout(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 1, UINT_MAX, &cfg->timeout_ms);
}

static void set_log_level(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			  void *obj)
{
	struct config *cfg = obj;

	get_enum(p, key, line, val, log_level_names, N_ELEMS(log_level_names),
		 "GETDNS_LOG_EMERG..GETDNS_LOG_DEBUG or 0..7", &cfg->log_level);
}

static void set_round_robin(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			    void *obj)
{
	struct config *cfg = obj;

	get_flag(p, key, line, val, &cfg->round_robin);
}

static void set_padding(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;
	unsigned v;

	if (get_uint(p, key, line, val, 0, 65535, &v)) {
		cfg->padding_blocksize = v == 1 ? PADDING_SENSIBLE : v;
	}
}

static void set_ecs_private(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			    void *obj)
{
	struct config *cfg = obj;

	get_flag(p, key, line, val, &cfg->ecs_private);
}

static bool get_tls_version(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			    enum config_tls_version *out)
{
	int v;

	if (!get_enum(p, key, line, val, tls_version_names, N_ELEMS(tls_version_names),
		      "GETDNS_TLS1_2 or GETDNS_TLS1_3", &v)) {
		return false;
	}
	if (v < GETDNS_TLS1_2) {
		report(p, line, key, "%s: dotd requires TLS 1.2 or later",
		       enum_to_name(tls_version_names, N_ELEMS(tls_version_names), v));
		return false;
	}
	*out = v == GETDNS_TLS1_3 ? CONFIG_TLS_1_3 : CONFIG_TLS_1_2;
	return true;
}

static void set_tls_min(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	get_tls_version(p, key, line, val, &cfg->tls_min);
}

static void set_tls_max(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	if (get_tls_version(p, key, line, val, &cfg->tls_max)) {
		p->tls_max_line = line;
	}
}

static void set_max_in_flight(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      void *obj)
{
	struct config *cfg = obj;
	unsigned v;

	/* Stubby's 0 means "no limit": ours is the largest that keeps IDs unique per connection. */
	if (get_uint(p, key, line, val, 0, MAX_IN_FLIGHT_LIMIT, &v)) {
		cfg->max_in_flight = v == 0 ? MAX_IN_FLIGHT_LIMIT : v;
	}
}

static void set_conns(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 1, 16, &cfg->conns_per_upstream);
}

static void set_retries(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 1, 1000, &cfg->connection_retries);
}

static void set_backoff(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 1, 7 * 86400, &cfg->backoff_max_s);
}

static void set_timeout_per_try(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
				void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 1, 600000, &cfg->timeout_per_try_ms);
}

static const struct enum_name selection_names[] = {
	{"round_robin_upstreams", CONFIG_SELECT_DEFAULT},
	{"fastest", CONFIG_SELECT_FASTEST},
};

static void set_selection(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			  void *obj)
{
	struct config *cfg = obj;
	int v;

	if (get_enum(p, key, line, val, selection_names, N_ELEMS(selection_names),
		     "round_robin_upstreams or fastest", &v)) {
		cfg->selection = (enum config_selection)v;
	}
}

static void set_cache_size(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	struct config *cfg = obj;
	unsigned v;

	/* 0 turns the cache off; otherwise at least 64 KiB, the index's own size. */
	if (get_uint(p, key, line, val, 0, 1u << 30, &v)) {
		if (v > 0 && v < 65536) {
			report(p, line, key,
			       "'%u' is below the smallest cache, 65536 (0 turns it off)", v);
			return;
		}
		cfg->cache_size = v;
	}
}

static void set_cache_min_ttl(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 0, 86400, &cfg->cache_min_ttl);
}

static void set_cache_max_ttl(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      void *obj)
{
	struct config *cfg = obj;

	/* RFC 8767 §4: never more than 7 days. */
	get_uint(p, key, line, val, 1, 604800, &cfg->cache_max_ttl);
}

static void set_cache_max_neg(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 0, 604800, &cfg->cache_max_negative_ttl);
}

static void set_serve_stale(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			    void *obj)
{
	struct config *cfg = obj;

	get_uint(p, key, line, val, 0, 604800, &cfg->serve_stale_max);
}

/* "IP/bits" or "IP" into @px; -EINVAL with @why. */
static int parse_prefix(const char *text, struct config_prefix *px, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long bits;
	unsigned max;

	if (strlen(text) >= sizeof(buf)) {
		*why = "not an address prefix";
		return -EINVAL;
	}
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
	}
	memset(px, 0, sizeof(*px));
	if (inet_pton(AF_INET6, buf, px->addr) == 1) {
		px->family = AF_INET6;
		max = 128;
	} else if (inet_pton(AF_INET, buf, px->addr) == 1) {
		px->family = AF_INET;
		max = 32;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	bits = max;
	if (slash) {
		char *end;

		bits = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || bits > max) {
			*why = "the prefix length must be a number 0..32 (IPv4) or 0..128 (IPv6)";
			return -EINVAL;
		}
	}
	px->bits = (unsigned)bits;
	/* Clear the host bits, so that "192.168.1.7/16" means 192.168.0.0/16. */
	for (unsigned i = 0; i < max / 8; i++) {
		unsigned keep = px->bits > i * 8 ? px->bits - i * 8 : 0;

		if (keep < 8) {
			px->addr[i] &= (uint8_t)(0xff00u >> keep);
		}
	}
	return 0;
}

static int prefix_text(struct config_prefix *px)
{
	char addr[INET6_ADDRSTRLEN];
	char buf[INET6_ADDRSTRLEN + 8];

	inet_ntop(px->family, px->addr, addr, sizeof(addr));
	snprintf(buf, sizeof(buf), "%s/%u", addr, px->bits);
	px->text = strdup(buf);
	return px->text ? 0 : -ENOMEM;
}

/* Read a list of prefixes into *@out (*@n_out of them). */
static void get_prefixes(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			 struct config_prefix **out, size_t *n_out)
{
	size_t n;

	*out = get_list_array(p, key, line, val, sizeof(**out), NULL, &n);
	if (!*out) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		unsigned item_line = node_line(item);
		struct config_prefix *px = &(*out)[*n_out];
		const char *why = NULL;
		const char *text;

		if (report_unquoted_ipv6(p, key, item_line, item)) {
			continue;
		}
		text = get_scalar(p, key, item_line, "a prefix IP/bits", item);
		if (!text) {
			continue;
		}
		if (parse_prefix(text, px, &why) != 0) {
			report(p, item_line, key, "bad prefix '%s': %s", text, why);
			continue;
		}
		if (prefix_text(px) != 0) {
			p->oom = true;
			return;
		}
		(*n_out)++;
	}
}

static void set_acl(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;

	p->acl_line = line;
	get_prefixes(p, key, line, val, &cfg->acl, &cfg->n_acl);
}

static void set_metrics_acl(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			    void *obj)
{
	struct config *cfg = obj;

	p->metrics_acl_line = line;
	get_prefixes(p, key, line, val, &cfg->metrics_acl, &cfg->n_metrics_acl);
}

static int add_prefixes(const char *const *texts, size_t n, struct config_prefix **out,
			size_t *n_out)
{
	const char *why;

	*out = calloc(n, sizeof(**out));
	if (!*out) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		REQUIRE(parse_prefix(texts[i], &(*out)[i], &why) == 0);
		if (prefix_text(&(*out)[i]) != 0) {
			return -ENOMEM;
		}
		(*n_out)++;
	}
	return 0;
}

/* Loopback, and the private ranges of RFC 1918 and RFC 4193: a home network, not the world. */
static int add_default_acl(struct config *cfg)
{
	static const char *const defaults[] = {
		"127.0.0.0/8",	 "::1/128",	   "10.0.0.0/8",
		"172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
	};

	return add_prefixes(defaults, N_ELEMS(defaults), &cfg->acl, &cfg->n_acl);
}

/* Metrics tell a lot about a network's traffic: loopback only unless widened. */
static int add_default_metrics_acl(struct config *cfg)
{
	static const char *const defaults[] = {"127.0.0.0/8", "::1/128"};

	return add_prefixes(defaults, N_ELEMS(defaults), &cfg->metrics_acl, &cfg->n_metrics_acl);
}

static bool prefix_match(const struct config_prefix *px, const uint8_t *addr)
{
	unsigned full = px->bits / 8, rest = px->bits % 8;

	if (memcmp(px->addr, addr, full) != 0) {
		return false;
	}
	return rest == 0 || ((px->addr[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static bool prefixes_allow(const struct config_prefix *px, size_t n, const struct sockaddr *sa)
{
	const uint8_t *addr;
	int family = sa->sa_family;

	if (family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (px[i].family == family && prefix_match(&px[i], addr)) {
			return true;
		}
	}
	return false;
}

bool config_acl_allows(const struct config *cfg, const struct sockaddr *sa)
{
	return prefixes_allow(cfg->acl, cfg->n_acl, sa);
}

bool config_metrics_allows(const struct config *cfg, const struct sockaddr *sa)
{
	return prefixes_allow(cfg->metrics_acl, cfg->n_metrics_acl, sa);
}

bool config_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		return ((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr)[0] == 127;
	}
	if (sa->sa_family == AF_INET6) {
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	}
	return false;
}

static void set_user(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;

	get_string(p, key, line, val, &cfg->user);
}

/*
 * An absolute path of at most @max bytes: the daemon changes directory to nothing, but a
 * relative path would mean something else to dotd-ctl and to a reload started elsewhere.
 */
static void get_path(struct parse *p, const char *key, unsigned line, yaml_node_t *val, size_t max,
		     char **out)
{
	char *s = NULL;

	if (!get_string(p, key, line, val, &s)) {
		return;
	}
	if (s[0] != '/') {
		report(p, line, key, "'%s' is not an absolute path (one starting with /)", s);
		free(s);
		return;
	}
	if (strlen(s) > max) {
		report(p, line, key, "'%s' is longer than %zu bytes", s, max);
		free(s);
		return;
	}
	free(*out);
	*out = s;
}

/* sun_path of struct sockaddr_un holds 108 bytes on Linux, its terminating NUL included. */
#define UNIX_PATH_MAX_LEN 107

static void set_control_socket(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			       void *obj)
{
	struct config *cfg = obj;

	get_path(p, key, line, val, UNIX_PATH_MAX_LEN, &cfg->control_socket);
}

#define FILE_PATH_MAX_LEN 4000 /* PATH_MAX less room: a path longer than this is a mistake */

static void set_cache_file(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	struct config *cfg = obj;

	get_path(p, key, line, val, FILE_PATH_MAX_LEN, &cfg->cache_file);
}

static void set_hosts_file(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	struct config *cfg = obj;

	get_path(p, key, line, val, FILE_PATH_MAX_LEN, &cfg->hosts_file);
}

/*
 * A list of absolute paths into *@out (*@n_out of them). One path written without the list
 * is an error rather than a list of one: it says how to write it, so that a second file added
 * later has an obvious place.
 */
static void get_paths(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
		      char ***out, size_t *n_out)
{
	size_t n;

	if (val->type == YAML_SCALAR_NODE && !node_is_null(val)) {
		report(p, line, key,
		       "expected a list, got '%s': write a list even of one, [\"%s\"]",
		       node_text(val), node_text(val));
		return;
	}
	*out = get_list_array(p, key, line, val, sizeof(**out), NULL, &n);
	if (!*out) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		unsigned item_line = node_line(item);
		char *path = NULL;
		bool dup = false;

		get_path(p, key, item_line, item, FILE_PATH_MAX_LEN, &path);
		if (!path) {
			continue;
		}
		for (size_t j = 0; j < *n_out && !dup; j++) {
			dup = strcmp((*out)[j], path) == 0;
		}
		if (dup) {
			report(p, item_line, key, "'%s' is listed twice", path);
			free(path);
			continue;
		}
		(*out)[(*n_out)++] = path;
	}
}

static void set_blocklists(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	struct config *cfg = obj;

	get_paths(p, key, line, val, &cfg->blocklists, &cfg->n_blocklists);
}

static void set_allowlists(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	struct config *cfg = obj;

	get_paths(p, key, line, val, &cfg->allowlists, &cfg->n_allowlists);
}

static const char *const block_answer_names[] = {
	[CONFIG_BLOCK_NXDOMAIN] = "nxdomain",
	[CONFIG_BLOCK_NODATA] = "nodata",
	[CONFIG_BLOCK_NULL] = "null",
};

/*
 * nxdomain, nodata or null, in any case (NXDOMAIN is how RFCs spell it). Not by number, as
 * get_enum() would take them: these are no getdns constants. An unquoted null is YAML's null,
 * which here can only mean the value of that name.
 */
static void set_block_answer(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			     void *obj)
{
	struct config *cfg = obj;
	const char *s;

	if (node_is_null(val) && strcasecmp(node_text(val), "null") == 0) {
		cfg->block_answer = CONFIG_BLOCK_NULL;
		return;
	}
	s = get_scalar(p, key, line, "nxdomain, nodata or null", val);
	if (!s) {
		return;
	}
	for (size_t i = 0; i < N_ELEMS(block_answer_names); i++) {
		if (strcasecmp(s, block_answer_names[i]) == 0) {
			cfg->block_answer = (enum config_block_answer)i;
			return;
		}
	}
	report_type(p, key, line, "nxdomain, nodata or null", val);
}

static void set_special_zones(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      void *obj)
{
	struct config *cfg = obj;

	get_flag(p, key, line, val, &cfg->special_zones);
}

/* metrics_listen: IP@PORT, the port written out (there is no well-known one). */
static void set_metrics_listen(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			       void *obj)
{
	struct config *cfg = obj;
	char why[WHY_LEN];
	const char *s;

	if (report_unquoted_ipv6(p, key, line, val)) {
		return;
	}
	s = get_scalar(p, key, line, "an address IP@port", val);
	if (!s) {
		return;
	}
	if (!strchr(s, '@')) {
		report(p, line, key, "'%s' has no port: write it as IP@port, e.g. 127.0.0.1@9153",
		       s);
		return;
	}
	if (parse_endpoint(s, true, 0, &cfg->metrics_addr, &cfg->metrics_addr_len, why,
			   sizeof(why)) < 0) {
		report(p, line, key, "bad address '%s': %s", s, why);
		return;
	}
	free(cfg->metrics_name);
	cfg->metrics_name = endpoint_name(&cfg->metrics_addr);
	if (!cfg->metrics_name) {
		p->oom = true;
	}
}

#define LIMIT_SETTER(fn, field, lo, hi)                                                            \
	static void fn(struct parse *p, const char *key, unsigned line, yaml_node_t *val,          \
		       void *obj)                                                                  \
	{                                                                                          \
		struct config *cfg = obj;                                                          \
                                                                                                   \
		get_uint(p, key, line, val, (lo), (hi), &cfg->field);                              \
	}

LIMIT_SETTER(set_tcp_clients_max, tcp_clients_max, 1, 65536)

/* The most workers (threads) dotd runs, whatever the number of cores. */
#define WORKERS_MAX 64

/*
 * workers: N threads, each with its own loop, listeners (SO_REUSEPORT), cache and upstream
 * connections (resolver/worker.c); "auto" is one per CPU this process may run on (taskset,
 * a container's cpuset: what workers_steering: cpu pins them to), else per core online, up to
 * WORKERS_MAX.
 */
static void set_workers(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			void *obj)
{
	struct config *cfg = obj;
	long cores;

	if (val->type == YAML_SCALAR_NODE &&
	    strcmp((const char *)val->data.scalar.value, "auto") == 0) {
		cpu_set_t set;

		cores = sched_getaffinity(0, sizeof(set), &set) == 0
				? CPU_COUNT(&set)
				: sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = cores < 1 ? 1 : cores > WORKERS_MAX ? WORKERS_MAX : (unsigned)cores;
		return;
	}
	get_uint(p, key, line, val, 1, WORKERS_MAX, &cfg->workers);
}

static const char *const steering_names[] = {
	[CONFIG_STEERING_CPU] = "cpu",
	[CONFIG_STEERING_HASH] = "hash",
};

/* workers_steering: cpu or hash (resolver/steer.h). */
WORD_SETTER(set_steering, steering, enum config_steering, steering_names, "cpu or hash")
LIMIT_SETTER(set_tcp_queries_per_client, tcp_queries_per_client, 1, 65536)
LIMIT_SETTER(set_udp_queries_per_source, udp_queries_per_source, 1, 65536)
LIMIT_SETTER(set_queries_max, queries_max, 1, 1000000)
LIMIT_SETTER(set_tcp_buffer_max, tcp_buffer_max, 4096, 64u << 20)
LIMIT_SETTER(set_tcp_idle_timeout, tcp_idle_timeout_ms, 100, 3600000)
LIMIT_SETTER(set_tcp_messages_per_read, tcp_messages_per_read, 1, 65536)

/*
 * dnssec, dnssec_return_status, dnssec_return_only_secure, dnssec_return_validation_chain: in
 * getdns each of them set to true turns validation on (resolver/validator.c), and so here.
 * dnssec_return_only_secure also keeps back every answer that is not secure, as getdns does:
 * insecure ones get SERVFAIL too. The trust anchors are dnssec_trust_anchors, or the built-in
 * file (check_whole loads it).
 */
static void set_dnssec(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;
	int v;

	if (get_enum(p, key, line, val, extension_names, N_ELEMS(extension_names),
		     "GETDNS_EXTENSION_TRUE or GETDNS_EXTENSION_FALSE", &v) &&
	    v == GETDNS_EXTENSION_TRUE) {
		if (!p->dnssec_line) {
			p->dnssec_line = line;
		}
		cfg->dnssec = true;
		if (strcmp(key, "dnssec_return_only_secure") == 0) {
			cfg->dnssec_only_secure = true;
		}
	}
}

#define NO_VALIDATION                                                                              \
	"read and checked, but it has no effect while DNSSEC validation is off (set dnssec to "    \
	"GETDNS_EXTENSION_TRUE to turn it on)"

static void notice_no_validation(struct parse *p, unsigned line, const char *key)
{
	if (p->err) {
		fprintf(p->err, "%s:%u: notice: key '%s' is %s\n", p->source, line, key,
			NO_VALIDATION);
	}
}

/* Load the trust anchors of @paths into cfg->anchors; their own messages name file and line. */
static void load_anchors(struct parse *p, const char *key, unsigned line, const char *const *paths,
			 size_t n_paths)
{
	struct anchors *a = NULL;
	int rc = anchors_load_files(paths, n_paths, &a, p->err);

	if (rc == -ENOMEM) {
		p->oom = true;
	} else if (rc == -EINVAL) {
		report(p, line, key, "no usable trust anchors (the errors above)");
	} else if (rc < 0) {
		report(p, line, key, "cannot read the trust anchors: %s", strerror(-rc));
	} else {
		anchors_free(p->cfg->anchors);
		p->cfg->anchors = a;
	}
}

/*
 * dnssec_trust_anchors: files of DS and DNSKEY records in zone-file form, as Stubby takes
 * them: one file name, or a list of them (stubby.yml.example's form). getdns also takes the
 * records themselves as dictionaries, a form that only its JSON configuration writes
 * sensibly: an item that is not a file name is refused, with the way to write it instead.
 */
static void set_trust_anchors(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			      void *obj)
{
	struct config *cfg = obj;
	char *one = NULL;

	p->anchors_line = line;
	if (val->type == YAML_SCALAR_NODE && !node_is_null(val)) {
		get_path(p, key, line, val, FILE_PATH_MAX_LEN, &one);
		if (!one) {
			return;
		}
		cfg->trust_anchors = calloc(1, sizeof(*cfg->trust_anchors));
		if (!cfg->trust_anchors) {
			free(one);
			p->oom = true;
			return;
		}
		cfg->trust_anchors[cfg->n_trust_anchors++] = one;
	} else {
		for (size_t i = 0; val->type == YAML_SEQUENCE_NODE && i < seq_len(val); i++) {
			yaml_node_t *item = seq_item(p, val, i);

			if (item->type != YAML_SCALAR_NODE) {
				report(p, node_line(item), key,
				       "expected a file name: write the DS or DNSKEY records in "
				       "zone-file form into a file and name it here");
				return;
			}
		}
		get_paths(p, key, line, val, &cfg->trust_anchors, &cfg->n_trust_anchors);
	}
	if (cfg->n_trust_anchors == 0) {
		if (!p->n_errors && val->type == YAML_SEQUENCE_NODE) {
			report(p, line, key, "an empty list: remove the key for the built-in file");
		}
		return;
	}
	load_anchors(p, key, line, (const char *const *)cfg->trust_anchors, cfg->n_trust_anchors);
}

static int parse_zone(const char *s, struct config_zone *z, char *why, size_t why_len);

/*
 * dnssec_negative_trust_anchors: zones whose names are not validated (RFC 7646), for a
 * domain whose DNSSEC is broken. Domain names, as forward zones take them; never the root,
 * which would turn validation off for every name; no zone twice.
 */
static void set_ntas(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;
	unsigned n_errors = p->n_errors;
	size_t n;

	if (val->type == YAML_SCALAR_NODE && !node_is_null(val)) {
		report(p, line, key,
		       "expected a list, got '%s': write a list even of one, [\"%s\"]",
		       node_text(val), node_text(val));
		return;
	}
	cfg->ntas = get_list_array(p, key, line, val, sizeof(*cfg->ntas), NULL, &n);
	if (!cfg->ntas) {
		return;
	}
	for (size_t i = 0; i < n && !p->oom; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		unsigned item_line = node_line(item);
		const char *s = get_scalar(p, key, item_line, "a domain name", item);
		struct config_zone z = {0};
		char why[WHY_LEN];
		bool dup = false;
		int rc;

		if (!s) {
			continue;
		}
		rc = parse_zone(s, &z, why, sizeof(why));
		if (rc == -ENOMEM) {
			p->oom = true;
		} else if (rc < 0) {
			report(p, item_line, key, "'%s' is not a domain name: %s", s, why);
		} else if (z.zone_wire_len == 1) {
			report(p, item_line, key,
			       "'.' would turn validation off for every name: set dnssec to "
			       "GETDNS_EXTENSION_FALSE instead");
		} else {
			for (size_t j = 0; j < cfg->n_ntas && !dup; j++) {
				dup = strcmp(cfg->ntas[j].zone, z.zone) == 0;
				if (dup) {
					report(p, item_line, key,
					       "'%s' is listed twice (first at line %u)", z.zone,
					       cfg->ntas[j].line);
				}
			}
			if (!dup) {
				struct config_nta *nta = &cfg->ntas[cfg->n_ntas++];

				nta->zone = z.zone;
				nta->zone_wire = z.zone_wire;
				nta->zone_wire_len = z.zone_wire_len;
				nta->line = item_line;
				continue;
			}
		}
		free(z.zone);
		free(z.zone_wire);
	}
	if (cfg->n_ntas && p->n_errors == n_errors) {
		p->ntas_line = line;
	}
}

#define DNSSEC_ONLY                                                                                \
	"getdns fetches and updates its trust anchors with it (RFC 7958); dotd reads them from "   \
	"dnssec_trust_anchors, by default the system's file (dns-root-data), which the system "    \
	"keeps up to date"

/* ---- the home network: forward zones and bootstrap ---- */

/* Whether @ss is in the prefix @text. */
static bool in_prefix(const struct sockaddr_storage *ss, const char *text)
{
	struct config_prefix px;
	const char *why;

	REQUIRE(parse_prefix(text, &px, &why) == 0);
	return prefixes_allow(&px, 1, (const struct sockaddr *)ss);
}

/*
 * Whether plain DNS to @ss stays on this host or the local network: loopback (127.0.0.0/8,
 * ::1), RFC 1918 (10/8, 172.16/12, 192.168/16), RFC 4193 (fc00::/7) and link-local
 * (169.254/16, fe80::/10). Not 100.64.0.0/10 (RFC 6598, carrier-grade NAT): that is the
 * carrier's network, shared with its other customers. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) goes to its IPv4 address, and is judged as that.
 */
static bool is_private_address(const struct sockaddr_storage *ss)
{
	static const char *const private_nets[] = {
		"127.0.0.0/8",	  "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"169.254.0.0/16", "::1/128",	"fc00::/7",	 "fe80::/10",
	};
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_storage v4;

	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&v4;

		memset(&v4, 0, sizeof(v4));
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		ss = &v4;
	}
	for (size_t i = 0; i < N_ELEMS(private_nets); i++) {
		if (in_prefix(ss, private_nets[i])) {
			return true;
		}
	}
	return false;
}

/*
 * A list of plain DNS servers, IP or IP@port (port 53), into *@out (*@n_out of them). An empty
 * list is an error with the message @empty, unless it is NULL. With @private_only, each must be on
 * this host or the local network.
 */
static void get_plain_list(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   bool private_only, const char *empty, struct config_plain **out,
			   size_t *n_out)
{
	size_t n;

	*out = get_list_array(p, key, line, val, sizeof(**out), empty, &n);
	if (!*out) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		struct config_plain *pl = &(*out)[*n_out];
		unsigned item_line = node_line(item);
		bool dup = false;
		const char *s = get_endpoint_item(p, key, item, &pl->addr, &pl->addr_len);

		if (!s) {
			continue;
		}
		if (private_only && !is_private_address(&pl->addr)) {
			report(p, item_line, key,
			       "plain DNS only to private addresses: %s would carry names in clear "
			       "text across the internet; use upstream_recursive_servers with "
			       "tls:// for it%s",
			       s,
			       in_prefix(&pl->addr, "100.64.0.0/10")
				       ? " (100.64.0.0/10 is the carrier's shared address space, "
					 "RFC 6598, not the home network)"
				       : "");
			continue;
		}
		for (size_t j = 0; j < *n_out && !dup; j++) {
			dup = endpoint_equal(&(*out)[j].addr, (*out)[j].addr_len, &pl->addr,
					     pl->addr_len);
		}
		if (dup) {
			report(p, item_line, key, "'%s' is listed twice", s);
			continue;
		}
		pl->name = endpoint_name(&pl->addr);
		if (!pl->name) {
			p->oom = true;
			return;
		}
		(*n_out)++;
	}
}

/*
 * bootstrap: plain DNS servers that look up the host names of tls:// upstreams, and nothing
 * else. Any address: the user chose to show those names, the router's or the ISP's resolver.
 */
static void set_bootstrap(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			  void *obj)
{
	struct config *cfg = obj;
	unsigned n_errors = p->n_errors;

	get_plain_list(p, key, line, val, false, NULL, &cfg->bootstrap, &cfg->n_bootstrap);
	p->bootstrap_bad = p->n_errors != n_errors;
}

/*
 * The zone @s into @z: lower case and ending in '.' ("LAN" is "lan."), and in wire format.
 * A domain name rather than a host name: '_' (_msdcs.corp.example) and labels of digits only
 * (168.192.in-addr.arpa) are allowed. -EINVAL with the reason in @why, or -ENOMEM.
 */
static int parse_zone(const char *s, struct config_zone *z, char *why, size_t why_len)
{
	size_t n = strcmp(s, ".") == 0 ? 0 : strlen(s);
	size_t label = 0;
	size_t w = 0;

	if (n > 0 && s[n - 1] == '.') {
		n--;
		if (n == 0) {
			snprintf(why, why_len, "it has an empty label");
			return -EINVAL;
		}
	} else if (n == 0 && s[0] != '.') {
		snprintf(why, why_len, "it is empty (the root zone is \".\")");
		return -EINVAL;
	}
	if (n > NAME_MAX_LEN) {
		snprintf(why, why_len, "it is longer than %d characters", NAME_MAX_LEN);
		return -EINVAL;
	}
	for (size_t i = 0; n > 0 && i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (label == 0) {
				snprintf(why, why_len, "it has an empty label");
				return -EINVAL;
			}
			label = 0;
		} else if (c >= 0x80) {
			snprintf(why, why_len, "write an internationalised name in its xn-- form");
			return -EINVAL;
		} else if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
			   !(c >= '0' && c <= '9') && c != '-' && c != '_') {
			snprintf(why, why_len,
				 "'%c' is not allowed (letters, digits, '-', '_' and '.' only)", c);
			return -EINVAL;
		} else if (++label > 63) {
			snprintf(why, why_len, "a label is longer than 63 characters");
			return -EINVAL;
		}
	}
	z->zone = malloc(n + 2);
	z->zone_wire = malloc(n + 2);
	if (!z->zone || !z->zone_wire) {
		return -ENOMEM;
	}
	/* The text, lower case, with its final dot; the wire form, each label after its length. */
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		z->zone[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	z->zone[n] = '.';
	z->zone[n + 1] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(z->zone + i, ".");

		z->zone_wire[w++] = (uint8_t)len;
		memcpy(z->zone_wire + w, z->zone + i, len);
		w += len;
		i += len;
	}
	z->zone_wire[w++] = 0;
	z->zone_wire_len = w;
	return 0;
}

/* One forward_zones item while its keys are read. */
struct zone_parse {
	struct config_zone *zone;      /**< borrowed: the entry being filled */
	struct upstream_extra **extra; /**< borrowed: where its upstreams' extras go */
	unsigned zone_line;	       /**< line of zone, 0 while absent */
	unsigned upstreams_line;       /**< line of upstream_recursive_servers, 0 while absent */
	unsigned plain_line;	       /**< line of plain, 0 while absent */
};

static void zone_name(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct zone_parse *zp = obj;
	const char *s = get_scalar(p, key, line, "a domain name", val);
	char why[WHY_LEN];
	int rc;

	zp->zone_line = line;
	if (!s) {
		return;
	}
	rc = parse_zone(s, zp->zone, why, sizeof(why));
	if (rc == -ENOMEM) {
		p->oom = true;
	} else if (rc < 0) {
		report(p, line, key, "'%s' is not a domain name: %s", s, why);
	}
}

#define ZONE_ONE_WAY "a forward zone takes upstream_recursive_servers or plain, not both"

static void zone_upstreams(struct parse *p, const char *key, unsigned line, yaml_node_t *val,
			   void *obj)
{
	struct zone_parse *zp = obj;
	struct config_zone *z = zp->zone;

	zp->upstreams_line = line;
	if (zp->plain_line) {
		report(p, line, key, ZONE_ONE_WAY);
	}
	get_upstream_list(p, key, line, val,
			  "the list is empty: a forward zone needs at least one upstream",
			  &z->upstreams, &z->n_upstreams, zp->extra);
}

static void zone_plain(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct zone_parse *zp = obj;
	struct config_zone *z = zp->zone;

	zp->plain_line = line;
	if (zp->upstreams_line) {
		report(p, line, key, ZONE_ONE_WAY);
	}
	get_plain_list(p, key, line, val, true,
		       "the list is empty: a forward zone needs at least one server", &z->plain,
		       &z->n_plain);
}

static const struct key_rule zone_rules[] = {
	{"zone", zone_name, NULL},
	{"upstream_recursive_servers", zone_upstreams, NULL},
	{"plain", zone_plain, NULL},
};

/*
 * forward_zones: names at and under each zone go to its own servers. Checked here: the zone
 * and one way to reach it, the root zone never in clear text, no zone twice.
 */
static void set_zones(struct parse *p, const char *key, unsigned line, yaml_node_t *val, void *obj)
{
	struct config *cfg = obj;
	size_t n;

	cfg->zones = get_list_array(p, key, line, val, sizeof(*cfg->zones), NULL, &n);
	if (!cfg->zones) {
		return;
	}
	p->zone_extra = calloc(n ? n : 1, sizeof(*p->zone_extra));
	if (!p->zone_extra) {
		p->oom = true;
		return;
	}
	p->n_zone_extra = n;
	for (size_t i = 0; i < n && !p->oom; i++) {
		yaml_node_t *item = seq_item(p, val, i);
		struct config_zone *z = &cfg->zones[cfg->n_zones];
		struct zone_parse zp = {.zone = z, .extra = &p->zone_extra[cfg->n_zones]};
		unsigned item_line = node_line(item);

		if (item->type != YAML_MAPPING_NODE) {
			report_type(p, key, item_line,
				    "a mapping with zone, and upstream_recursive_servers or plain",
				    item);
			continue;
		}
		z->line = item_line;
		cfg->n_zones++;
		walk_mapping(p, item, zone_rules, N_ELEMS(zone_rules), " in a forward zone", &zp);
		if (!zp.zone_line) {
			report(p, item_line, "zone", "missing: every forward zone needs one");
		}
		if (!zp.upstreams_line && !zp.plain_line) {
			report(p, item_line, key,
			       "a forward zone needs upstream_recursive_servers (DNS over TLS) or "
			       "plain (plain DNS to private addresses)");
		}
		if (!z->zone) {
			continue;
		}
		if (zp.plain_line && z->zone_wire_len == 1) {
			report(p, zp.plain_line, "plain",
			       "the root zone '.' would send every query in clear text: use "
			       "upstream_recursive_servers with tls:// for it");
		}
		for (size_t j = 0; j + 1 < cfg->n_zones; j++) {
			if (cfg->zones[j].zone && strcmp(cfg->zones[j].zone, z->zone) == 0) {
				report(p, zp.zone_line, "zone",
				       "'%s' is listed twice (first at line %u)", z->zone,
				       cfg->zones[j].line);
				break;
			}
		}
	}
}

static const struct key_rule top_rules[] = {
	{"listen_addresses", set_listen, NULL},
	{"upstream_recursive_servers", set_upstreams, NULL},
	{"tls_authentication", set_auth, NULL},
	{"tls_unset_clock", set_unset_clock, NULL},
	{"tls_ca_file", set_ca_file, NULL},
	{"tls_ca_path", set_ca_path, NULL},
	{"dns_transport_list", set_transports, NULL},
	{"resolution_type", set_resolution, NULL},
	{"idle_timeout", set_idle_timeout, NULL},
	{"timeout", set_timeout, NULL},
	{"log_level", set_log_level, NULL},
	{"round_robin_upstreams", set_round_robin, NULL},
	{"tls_query_padding_blocksize", set_padding, NULL},
	{"edns_client_subnet_private", set_ecs_private, NULL},
	{"tls_min_version", set_tls_min, NULL},
	{"tls_max_version", set_tls_max, NULL},
	{"limit_outstanding_queries", set_max_in_flight, NULL},
	{"tls_connection_retries", set_retries, NULL},
	{"tls_backoff_time", set_backoff, NULL},
	{"timeout_per_try", set_timeout_per_try, NULL},
	{"upstream_selection", set_selection, NULL},
	{"connections_per_upstream", set_conns, NULL},
	{"cache_size", set_cache_size, NULL},
	{"cache_min_ttl", set_cache_min_ttl, NULL},
	{"cache_max_ttl", set_cache_max_ttl, NULL},
	{"cache_max_negative_ttl", set_cache_max_neg, NULL},
	{"serve_stale_max", set_serve_stale, NULL},
	{"access_control", set_acl, NULL},
	{"user", set_user, NULL},
	{"control_socket", set_control_socket, NULL},
	{"cache_file", set_cache_file, NULL},
	{"metrics_listen", set_metrics_listen, NULL},
	{"metrics_access_control", set_metrics_acl, NULL},
	{"tcp_clients_max", set_tcp_clients_max, NULL},
	{"workers", set_workers, NULL},
	{"workers_steering", set_steering, NULL},
	{"tcp_queries_per_client", set_tcp_queries_per_client, NULL},
	{"udp_queries_per_source", set_udp_queries_per_source, NULL},
	{"queries_max", set_queries_max, NULL},
	{"tcp_buffer_max", set_tcp_buffer_max, NULL},
	{"tcp_idle_timeout", set_tcp_idle_timeout, NULL},
	{"tcp_messages_per_read", set_tcp_messages_per_read, NULL},
	{"bootstrap", set_bootstrap, NULL},
	{"forward_zones", set_zones, NULL},
	{"special_use_zones", set_special_zones, NULL},
	{"hosts_file", set_hosts_file, NULL},
	{"blocklists", set_blocklists, NULL},
	{"allowlists", set_allowlists, NULL},
	{"block_answer", set_block_answer, NULL},
	/* Accepted for Stubby files, implemented by later work: a notice each. */
	{"tls_cipher_list", NULL, NULL},
	{"tls_ciphersuites", NULL, NULL},
	{"tls_curves_list", NULL, NULL},
	{"tcp_send_timeout", NULL, NULL},
	{"edns_maximum_udp_payload_size", NULL, NULL},
	{"dnssec", set_dnssec, NULL},
	{"dnssec_return_status", set_dnssec, NULL},
	{"dnssec_return_only_secure", set_dnssec, NULL},
	{"dnssec_return_validation_chain", set_dnssec, NULL},
	{"dnssec_trust_anchors", set_trust_anchors, NULL},
	{"dnssec_negative_trust_anchors", set_ntas, NULL},
	{"appdata_dir", NULL, DNSSEC_ONLY},
	{"trust_anchors_url", NULL, DNSSEC_ONLY},
	{"trust_anchors_verify_CA", NULL, DNSSEC_ONLY},
	{"trust_anchors_verify_email", NULL, DNSSEC_ONLY},
	{"trust_anchors_backoff_time", NULL, DNSSEC_ONLY},
};

/* Listen on loopback only, as Stubby does: 127.0.0.1@53 and ::1@53. */
static int add_default_listeners(struct config *cfg)
{
	static const char *const defaults[] = {"127.0.0.1", "::1"};
	char why[WHY_LEN];

	cfg->listen = calloc(N_ELEMS(defaults), sizeof(*cfg->listen));
	if (!cfg->listen) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < N_ELEMS(defaults); i++) {
		struct config_listen *l = &cfg->listen[i];
		int rc = parse_endpoint(defaults[i], false, DNS_PORT, &l->addr, &l->addr_len, why,
					sizeof(why));

		REQUIRE(rc == 0);
		l->name = endpoint_name(&l->addr);
		if (!l->name) {
			return -ENOMEM;
		}
		cfg->n_listen++;
	}
	return 0;
}

/* An upstream's keys whose meaning depends on top-level keys that may come after it. */
static void check_upstream_extra(struct parse *p, const struct upstream_extra *x)
{
	const struct config *cfg = p->cfg;
	/* config_tls_version is the wire's minor version byte, GETDNS_TLS1_2 is 1.2's. */
	int floor = cfg->tls_min == CONFIG_TLS_1_3 ? GETDNS_TLS1_3 : GETDNS_TLS1_2;
	char why[96];

	if (x->tls_min_line && x->tls_min > floor) {
		const char *name =
			enum_to_name(tls_version_names, N_ELEMS(tls_version_names), x->tls_min);

		report(p, x->tls_min_line, "tls_min_version",
		       "%s is not honoured per upstream, and dotd's minimum for every upstream is "
		       "TLS 1.%d: write tls_min_version: %s at the top level",
		       name, floor - GETDNS_TLS1_2 + 2, name);
	} else if (x->tls_min_line) {
		snprintf(why, sizeof(why),
			 "the top-level minimum, TLS 1.%d, applies to every upstream and is not "
			 "lower",
			 floor - GETDNS_TLS1_2 + 2);
		notice_ignored(p, x->tls_min_line, "tls_min_version", why);
	}
	if (!x->tsig_line || p->auth_bad) {
		return;
	}
	if (cfg->auth == CONFIG_AUTH_NONE) {
		report(p, x->tsig_line, x->tsig_key,
		       "dotd does not do TSIG, and under tls_authentication "
		       "GETDNS_AUTHENTICATION_NONE nothing else would authenticate this upstream's "
		       "answers: use GETDNS_AUTHENTICATION_REQUIRED with tls_auth_name or "
		       "tls_pubkey_pinset, or remove the tsig_* keys");
	} else {
		notice_ignored(
			p, x->tsig_line, x->tsig_key,
			"dotd does not do TSIG; strict TLS authentication authenticates this "
			"upstream's answers");
	}
}

/*
 * A host name upstream needs something to look its name up: the upstreams with an address
 * (over TLS), or bootstrap (plain DNS). One error, at the first host name. Not when an
 * upstream or bootstrap has its own error: it may be the one that was meant to.
 */
static void check_host_names(struct parse *p)
{
	const struct config *cfg = p->cfg;
	const struct config_upstream *host = NULL;

	if (cfg->n_bootstrap || p->bootstrap_bad) {
		return;
	}
	/* The top level's upstreams, then each forward zone's. */
	for (size_t z = 0; z <= cfg->n_zones; z++) {
		const struct config_upstream *ups =
			z ? cfg->zones[z - 1].upstreams : cfg->upstreams;
		size_t n = z ? cfg->zones[z - 1].n_upstreams : cfg->n_upstreams;

		for (size_t i = 0; i < n; i++) {
			if (!ups[i].name || !ups[i].host) {
				return; /* an address, or an upstream with an error */
			}
			host = host ? host : &ups[i];
		}
	}
	if (host) {
		report(p, host->line, "upstream_recursive_servers",
		       "upstream '%s' is a host name, and nothing can look it up: add an upstream "
		       "with an address (tls://IP#NAME or address_data), which looks it up over "
		       "TLS, or bootstrap: [IP, ...], plain DNS servers that then see the "
		       "upstreams' host names in clear text",
		       host->name);
	}
}

/* The checks of one list of upstreams, the top level's or a forward zone's. */
static void check_upstream_list(struct parse *p, const struct config_upstream *ups, size_t n,
				const struct upstream_extra *extra)
{
	for (size_t i = 0; i < n; i++) {
		check_upstream_extra(p, &extra[i]);
	}
	if (p->cfg->auth != CONFIG_AUTH_REQUIRED || p->auth_bad) {
		return;
	}
	/*
	 * RFC 8310 §5: strict privacy needs an authentication domain name or an SPKI pin set. One
	 * that is written but wrong has had its own error. A host name is its own auth name.
	 */
	for (size_t i = 0; i < n; i++) {
		const struct config_upstream *up = &ups[i];

		if (up->name && !up->auth_name && up->n_pins == 0 && !extra[i].has_auth_key) {
			report(p, up->line, "upstream_recursive_servers",
			       "upstream '%s' has neither %s, which tls_authentication "
			       "GETDNS_AUTHENTICATION_REQUIRED needs",
			       up->name,
			       extra[i].short_form ? "#AUTH_NAME nor ^PIN"
						   : "tls_auth_name nor tls_pubkey_pinset");
		}
	}
}

/* Checks that need the whole file: they run after every key has been read. */
static void check_whole(struct parse *p, const yaml_node_t *root)
{
	struct config *cfg = p->cfg;

	check_host_names(p);

	/* Validation asked for without dnssec_trust_anchors: the built-in file, checked too. */
	if (p->dnssec_line && !p->anchors_line) {
		if (config_root_anchor[0]) {
			const char *builtin = config_root_anchor;

			load_anchors(p, "dnssec", p->dnssec_line, &builtin, 1);
		} else {
			report(p, p->dnssec_line, "dnssec",
			       "this dotd was built without a default trust anchor file "
			       "(DOTD_ROOT_ANCHOR, Debian's dns-root-data): set "
			       "dnssec_trust_anchors");
		}
	}

	/* Read and checked, but without dnssec they do nothing: say so, it may be a slip. */
	if (!p->dnssec_line && p->anchors_line && cfg->anchors) {
		notice_no_validation(p, p->anchors_line, "dnssec_trust_anchors");
	}
	if (!p->dnssec_line && p->ntas_line) {
		notice_no_validation(p, p->ntas_line, "dnssec_negative_trust_anchors");
	}

	if (p->upstream_line == 0) {
		report(p, node_line(root), "upstream_recursive_servers",
		       "missing: dotd needs at least one upstream");
	}
	if (p->tls_max_line && cfg->tls_min > cfg->tls_max) {
		report(p, p->tls_max_line, "tls_max_version", "is lower than tls_min_version");
	}
	for (size_t z = 0; z <= cfg->n_zones; z++) {
		if (z == 0) {
			check_upstream_list(p, cfg->upstreams, cfg->n_upstreams, p->up_extra);
		} else {
			check_upstream_list(p, cfg->zones[z - 1].upstreams,
					    cfg->zones[z - 1].n_upstreams, p->zone_extra[z - 1]);
		}
	}
}

/* The line of a libyaml error; reader errors carry only a byte offset. */
static unsigned yaml_error_line(const yaml_parser_t *parser, const char *text, size_t len)
{
	unsigned line = 1;

	if (parser->error != YAML_READER_ERROR) {
		return (unsigned)parser->problem_mark.line + 1;
	}
	for (size_t i = 0; i < parser->problem_offset && i < len; i++) {
		line += text[i] == '\n';
	}
	return line;
}

/*
 * The first IPv6 address with "::" on line @line of @text, unquoted, as dotd would take it
 * ("[::1]:53" as "::1@53") into @out: YAML takes a ':' at the start or end of a plain value,
 * and '[', for syntax. False if there is none.
 */
static bool find_unquoted_ipv6(const char *text, size_t len, unsigned line, char *out,
			       size_t out_len)
{
	static const char addr_chars[] = "0123456789abcdefABCDEF:.[]@";
	const char *end = text + len;
	const char *c = text;

	for (unsigned l = 1; l < line && c < end; c++) {
		l += *c == '\n';
	}
	for (; c + 1 < end && *c != '\n' && *c != '"' && *c != '\'' && *c != '#'; c++) {
		const char *first = c;
		const char *last = c + 2;
		char token[INET6_ADDRSTRLEN + 16];
		struct sockaddr_storage ss;
		socklen_t ss_len;
		char why[WHY_LEN];
		const char *port = "";
		char *close;
		char *ip;
		size_t n;

		if (c[0] != ':' || c[1] != ':') {
			continue;
		}
		while (first > text && first[-1] && strchr(addr_chars, first[-1])) {
			first--;
		}
		while (last < end && *last && strchr(addr_chars, *last)) {
			last++;
		}
		n = (size_t)(last - first);
		if (n >= sizeof(token)) {
			return false;
		}
		memcpy(token, first, n);
		token[n] = '\0';
		/* '[' may open a flow list or a bracketed address, ']' close either. */
		ip = token + strspn(token, "[");
		close = strchr(ip, ']');
		if (close) {
			*close = '\0';
			port = close[1] == ':' || close[1] == '@' ? close + 2 : "";
		}
		snprintf(out, out_len, "%s%s%s", ip, *port ? "@" : "", port);
		return parse_endpoint(out, true, DNS_PORT, &ss, &ss_len, why, sizeof(why)) == 0;
	}
	return false;
}

/*
 * The first unquoted tls:// upstream with an IPv6 address in brackets on line @line of @text,
 * into @out: inside [...] or {...}, YAML takes its '[' and ']' for syntax. False if none.
 */
static bool find_unquoted_url(const char *text, size_t len, unsigned line, char *out,
			      size_t out_len)
{
	const char *end = text + len;
	const char *c = text;
	const char *close;
	const char *last;

	for (unsigned l = 1; l < line && c < end; c++) {
		l += *c == '\n';
	}
	for (; c + 7 < end && *c != '\n' && *c != '"' && *c != '\''; c++) {
		if (strncasecmp(c, "tls://[", 7) != 0) {
			continue;
		}
		close = memchr(c, ']', (size_t)(end - c));
		if (!close || memchr(c, '\n', (size_t)(close - c))) {
			return false;
		}
		last = close + 1;
		while (last < end && !strchr(" \t\r\n,]}", *last)) {
			last++;
		}
		if ((size_t)(last - c) >= out_len) {
			return false;
		}
		memcpy(out, c, (size_t)(last - c));
		out[last - c] = '\0';
		return true;
	}
	return false;
}

static void report_yaml_error(struct parse *p, const yaml_parser_t *parser, const char *text,
			      size_t len)
{
	unsigned line = yaml_error_line(parser, text, len);
	unsigned context_line = (unsigned)parser->context_mark.line + 1;
	const char *problem = parser->problem ? parser->problem : "syntax error";
	char ip[2 * (INET6_ADDRSTRLEN + 16)];
	char url[256];
	char hint[sizeof(url) + 80] = "";

	if (parser->error != YAML_READER_ERROR &&
	    (find_unquoted_url(text, len, line, url, sizeof(url)) ||
	     (parser->context && find_unquoted_url(text, len, context_line, url, sizeof(url))))) {
		snprintf(hint, sizeof(hint),
			 ": a tls:// upstream with brackets must be quoted here, write \"%s\"",
			 url);
	} else if (parser->error != YAML_READER_ERROR &&
		   (find_unquoted_ipv6(text, len, line, ip, sizeof(ip)) ||
		    (parser->context &&
		     find_unquoted_ipv6(text, len, context_line, ip, sizeof(ip))))) {
		snprintf(hint, sizeof(hint), ": an IPv6 address must be quoted here, write \"%s\"",
			 ip);
	}
	if (parser->context) {
		report(p, line, NULL, "%s (%s at line %u)%s", problem, parser->context,
		       (unsigned)parser->context_mark.line + 1, hint);
	} else {
		report(p, line, NULL, "%s%s", problem, hint);
	}
}

int config_load_string(const char *text, size_t len, const char *source, struct config **out,
		       FILE *err)
{
	struct parse p = {.source = source, .err = err};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_document_t extra;
	struct config *cfg;
	yaml_node_t *root;
	int rc;

	REQUIRE(text && source && out);
	if (!yaml_parser_initialize(&parser)) {
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		if (rc == -EINVAL) {
			report_yaml_error(&p, &parser, text, len);
		}
		goto cleanup_parser;
	}
	p.doc = &doc;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		rc = -ENOMEM;
		goto cleanup_doc;
	}
	p.cfg = cfg;
	cfg->refs = 1;
	cfg->workers = 1;
	cfg->steering = CONFIG_STEERING_CPU;
	cfg->auth = CONFIG_AUTH_REQUIRED;
	cfg->idle_timeout_ms = 10000;
	cfg->timeout_ms = 5000;
	cfg->log_level = LOG_NOTICE;
	cfg->round_robin = true;
	cfg->padding_blocksize = PADDING_SENSIBLE;
	cfg->ecs_private = true;
	cfg->tls_min = CONFIG_TLS_1_2;
	cfg->tls_max = CONFIG_TLS_ANY;
	cfg->max_in_flight = 100;
	cfg->conns_per_upstream = 2;
	cfg->connection_retries = 2;
	cfg->backoff_max_s = 3600; /* Stubby's default */
	cfg->timeout_per_try_ms = 800;
	cfg->selection = CONFIG_SELECT_DEFAULT;
	cfg->cache_size = 4u << 20;
	cfg->cache_min_ttl = 0;
	cfg->cache_max_ttl = 86400;
	cfg->cache_max_negative_ttl = 3600;
	cfg->serve_stale_max = 86400;
	cfg->tcp_clients_max = 128;
	cfg->tcp_queries_per_client = 128;
	cfg->udp_queries_per_source = 512;
	cfg->queries_max = 2048;
	cfg->tcp_buffer_max = 64 * 1024;
	cfg->tcp_idle_timeout_ms = 10000;
	cfg->tcp_messages_per_read = 32;
	cfg->special_zones = true;
	cfg->block_answer = CONFIG_BLOCK_NXDOMAIN;
	cfg->unset_clock = CONFIG_UNSET_CLOCK_FAIL;
	cfg->source = strdup(source);
	if (!cfg->source) {
		rc = -ENOMEM;
		goto cleanup_cfg;
	}

	root = yaml_document_get_root_node(&doc);
	if (!root || node_is_null(root)) {
		report(&p, 1, NULL, "the configuration is empty: expected a mapping of keys");
	} else if (root->type != YAML_MAPPING_NODE) {
		report(&p, node_line(root), NULL, "the top level is %s, not a mapping of keys",
		       root->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar");
	} else {
		walk_mapping(&p, root, top_rules, N_ELEMS(top_rules), "", cfg);
		if (!p.oom) {
			check_whole(&p, root);
		}
	}

	/* A second document would be silently ignored by a reader that stops at the first. */
	if (!p.oom && p.n_errors == 0) {
		if (!yaml_parser_load(&parser, &extra)) {
			report_yaml_error(&p, &parser, text, len);
		} else {
			yaml_node_t *more = yaml_document_get_root_node(&extra);

			if (more) {
				report(&p, node_line(more), NULL,
				       "a second YAML document: dotd reads exactly one");
			}
			yaml_document_delete(&extra);
		}
	}

	if (!p.oom && p.n_errors == 0 && p.listen_line == 0 && add_default_listeners(cfg) < 0) {
		p.oom = true;
	}
	if (!p.oom && p.n_errors == 0 && p.acl_line == 0 && add_default_acl(cfg) < 0) {
		p.oom = true;
	}
	if (!p.oom && p.n_errors == 0 && p.metrics_acl_line == 0 &&
	    add_default_metrics_acl(cfg) < 0) {
		p.oom = true;
	}
	if (p.oom) {
		rc = -ENOMEM;
		goto cleanup_cfg;
	}
	if (p.n_errors) {
		rc = -EINVAL;
		goto cleanup_cfg;
	}
	*out = cfg;
	cfg = NULL;
	rc = 0;
cleanup_cfg:
	config_free(cfg);
	free(p.up_extra);
	for (size_t i = 0; i < p.n_zone_extra; i++) {
		free(p.zone_extra[i]);
	}
	free(p.zone_extra);
cleanup_doc:
	yaml_document_delete(&doc);
cleanup_parser:
	yaml_parser_delete(&parser);
	return rc;
}

int config_load_file(const char *path, struct config **out, FILE *err)
{
	char *text = NULL;
	size_t len = 0;
	size_t cap = 0;
	FILE *f;
	int rc;

	REQUIRE(path && out);
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		goto report;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *bigger;

			if (cap > CONFIG_FILE_MAX) {
				rc = -EFBIG;
				goto cleanup_file;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > CONFIG_FILE_MAX) {
				/* One byte more tells a file of the limit from a bigger one. */
				cap = CONFIG_FILE_MAX + 1;
			}
			bigger = realloc(text, cap);
			if (!bigger) {
				rc = -ENOMEM;
				goto cleanup_file;
			}
			text = bigger;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			break;
		}
	}
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		goto cleanup_file;
	}
	fclose(f);
	rc = config_load_string(text, len, path, out, err);
	free(text);
	return rc;

cleanup_file:
	fclose(f);
	free(text);
report:
	if (err && rc == -EFBIG) {
		fprintf(err,
			"%s: cannot read: larger than %d bytes (1 MiB), the limit for a "
			"configuration file\n",
			path, CONFIG_FILE_MAX);
	} else if (err) {
		fprintf(err, "%s: cannot read: %s\n", path, strerror(-rc));
	}
	return rc;
}

int config_load_default(struct config **out, FILE *err)
{
	return config_load_string(config_default_yaml, config_default_yaml_len,
				  "<built-in default>", out, err);
}

/* ---- printing ---- */

/* @s escaped for the inside of a YAML double-quoted scalar. */
/*
 * Escape what YAML would not read back as the same text in a double-quoted scalar: quotes,
 * backslashes, ASCII control characters, and the Unicode characters YAML reads as line breaks
 * (U+0085, U+2028, U+2029: folded into a space) or refuses in a stream (the C1 controls,
 * U+FEFF, U+FFFE, U+FFFF). The input is valid UTF-8: libyaml refused it otherwise.
 */
static void print_escaped(FILE *out, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			fprintf(out, "\\%c", *c);
		} else if (*c < 0x20 || *c == 0x7f) {
			fprintf(out, "\\x%02x", *c);
		} else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
			fprintf(out, "\\u00%02x", c[1]);
			c++;
		} else if (c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9)) {
			fprintf(out, "\\u20%02x", c[2] - 0x80);
			c += 2;
		} else if (c[0] == 0xef && ((c[1] == 0xbb && c[2] == 0xbf) ||
					    (c[1] == 0xbf && (c[2] == 0xbe || c[2] == 0xbf)))) {
			fprintf(out, "\\u%04x",
				c[1] == 0xbb ? 0xfeff : 0xff00 | (c[2] - 0x80 + 0xc0));
			c += 2;
		} else {
			fputc(*c, out);
		}
	}
}

/* @s as a YAML double-quoted scalar. */
static void print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	print_escaped(out, s);
	fputc('"', out);
}

/* An address without its port, as address_data takes it. */
static void print_ip(FILE *out, const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
	}
	print_quoted(out, ip);
}

static unsigned endpoint_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6) {
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static const char *tls_version_name(enum config_tls_version v)
{
	return v == CONFIG_TLS_1_3 ? "GETDNS_TLS1_3" : "GETDNS_TLS1_2";
}

static void print_prefixes(FILE *out, const char *key, const struct config_prefix *px, size_t n)
{
	fprintf(out, "%s:", key);
	if (n == 0) {
		fputs(" []", out);
	}
	fputc('\n', out);
	for (size_t i = 0; i < n; i++) {
		fputs("  - ", out);
		print_quoted(out, px[i].text);
		fputc('\n', out);
	}
}

static void print_path(FILE *out, const char *key, const char *path, const char *unset)
{
	if (path) {
		fprintf(out, "%s: ", key);
		print_quoted(out, path);
		fputc('\n', out);
	} else {
		fprintf(out, "# %s: not set (%s)\n", key, unset);
	}
}

/*
 * One upstream as a list item whose '-' is at column @indent. A host name upstream has no
 * mapping form (address_data takes an address), so it is printed as tls://, its auth name
 * only if it is not the host name; the others as mappings, which take any tls_auth_name.
 */
static void print_upstream(FILE *out, const struct config_upstream *up, int indent)
{
	char b64[4 * ((CONFIG_PIN_LEN + 2) / 3) + 1];

	if (up->host) {
		fprintf(out, "%*s- \"tls://%s:%u", indent, "", up->host, endpoint_port(&up->addr));
		if (up->auth_name && strcmp(up->auth_name, up->host) != 0) {
			fputc('#', out);
			print_escaped(out, up->auth_name);
		}
		for (size_t j = 0; j < up->n_pins; j++) {
			b64_encode(up->pins[j].sha256, CONFIG_PIN_LEN, b64);
			fprintf(out, "^%s", b64);
		}
		fputs("\"\n", out);
		return;
	}
	fprintf(out, "%*s- address_data: ", indent, "");
	print_ip(out, &up->addr);
	fprintf(out, "\n%*s  tls_port: %u\n", indent, "", endpoint_port(&up->addr));
	if (up->auth_name) {
		fprintf(out, "%*s  tls_auth_name: ", indent, "");
		print_quoted(out, up->auth_name);
		fputc('\n', out);
	}
	if (up->n_pins) {
		fprintf(out, "%*s  tls_pubkey_pinset:\n", indent, "");
	}
	for (size_t j = 0; j < up->n_pins; j++) {
		b64_encode(up->pins[j].sha256, CONFIG_PIN_LEN, b64);
		fprintf(out, "%*s    - digest: \"sha256\"\n%*s      value: %s\n", indent, "",
			indent, "", b64);
	}
}

static void print_paths(FILE *out, const char *key, char *const *paths, size_t n)
{
	fprintf(out, "%s:%s\n", key, n ? "" : " []");
	for (size_t i = 0; i < n; i++) {
		fputs("  - ", out);
		print_quoted(out, paths[i]);
		fputc('\n', out);
	}
}

/* "KEY:" and its plain servers, the key at column @indent. */
static void print_plain(FILE *out, const char *key, const struct config_plain *pl, size_t n,
			int indent)
{
	fprintf(out, "%*s%s:%s\n", indent, "", key, n ? "" : " []");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%*s  - ", indent, "");
		print_quoted(out, pl[i].name);
		fputc('\n', out);
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	REQUIRE(cfg && out);
	fputs("# dotd: the effective configuration, from ", out);
	for (const char *c = cfg->source; *c; c++) {
		fputc((unsigned char)*c < 0x20 ? '?' : *c, out);
	}
	fputs("\n", out);
	fputs("resolution_type: GETDNS_RESOLUTION_STUB\n", out);
	fputs("dns_transport_list:\n  - GETDNS_TRANSPORT_TLS\n", out);
	fprintf(out, "tls_authentication: %s\n",
		cfg->auth == CONFIG_AUTH_NONE ? "GETDNS_AUTHENTICATION_NONE"
					      : "GETDNS_AUTHENTICATION_REQUIRED");
	fprintf(out, "tls_unset_clock: %s\n", unset_clock_names[cfg->unset_clock]);
	if (cfg->ca_file) {
		fputs("tls_ca_file: ", out);
		print_quoted(out, cfg->ca_file);
		fputc('\n', out);
	} else {
		fputs("# tls_ca_file: not set (the system's default CA store)\n", out);
	}
	if (cfg->ca_path) {
		fputs("tls_ca_path: ", out);
		print_quoted(out, cfg->ca_path);
		fputc('\n', out);
	} else {
		fputs("# tls_ca_path: not set (the system's default CA store)\n", out);
	}
	fprintf(out, "tls_query_padding_blocksize: %u\n", cfg->padding_blocksize);
	fprintf(out, "edns_client_subnet_private: %d\n", cfg->ecs_private ? 1 : 0);
	fprintf(out, "round_robin_upstreams: %d\n", cfg->round_robin ? 1 : 0);
	fprintf(out, "idle_timeout: %u\n", cfg->idle_timeout_ms);
	fprintf(out, "timeout: %u\n", cfg->timeout_ms);
	fprintf(out, "timeout_per_try: %u\n", cfg->timeout_per_try_ms);
	fprintf(out, "limit_outstanding_queries: %u\n", cfg->max_in_flight);
	fprintf(out, "connections_per_upstream: %u\n", cfg->conns_per_upstream);
	fprintf(out, "tls_connection_retries: %u\n", cfg->connection_retries);
	fprintf(out, "tls_backoff_time: %u\n", cfg->backoff_max_s);
	fprintf(out, "cache_size: %zu\n", cfg->cache_size);
	fprintf(out, "cache_min_ttl: %u\n", cfg->cache_min_ttl);
	fprintf(out, "cache_max_ttl: %u\n", cfg->cache_max_ttl);
	fprintf(out, "cache_max_negative_ttl: %u\n", cfg->cache_max_negative_ttl);
	fprintf(out, "serve_stale_max: %u\n", cfg->serve_stale_max);
	fprintf(out, "workers: %u\n", cfg->workers);
	fprintf(out, "workers_steering: %s\n", steering_names[cfg->steering]);
	fprintf(out, "tcp_clients_max: %u\n", cfg->tcp_clients_max);
	fprintf(out, "tcp_queries_per_client: %u\n", cfg->tcp_queries_per_client);
	fprintf(out, "udp_queries_per_source: %u\n", cfg->udp_queries_per_source);
	fprintf(out, "queries_max: %u\n", cfg->queries_max);
	fprintf(out, "tcp_buffer_max: %u\n", cfg->tcp_buffer_max);
	fprintf(out, "tcp_idle_timeout: %u\n", cfg->tcp_idle_timeout_ms);
	fprintf(out, "tcp_messages_per_read: %u\n", cfg->tcp_messages_per_read);
	if (cfg->user) {
		fputs("user: ", out);
		print_quoted(out, cfg->user);
		fputc('\n', out);
	} else {
		fputs("# user: not set (dotd keeps the user it was started as)\n", out);
	}
	print_prefixes(out, "access_control", cfg->acl, cfg->n_acl);
	print_path(out, "control_socket", cfg->control_socket, "no control socket");
	print_path(out, "cache_file", cfg->cache_file, "the cache starts empty");
	if (cfg->metrics_name) {
		fputs("metrics_listen: ", out);
		print_quoted(out, cfg->metrics_name);
		fputc('\n', out);
	} else {
		fputs("# metrics_listen: not set (no HTTP metrics)\n", out);
	}
	print_prefixes(out, "metrics_access_control", cfg->metrics_acl, cfg->n_metrics_acl);
	fprintf(out, "upstream_selection: %s\n",
		enum_to_name(selection_names, N_ELEMS(selection_names), (int)cfg->selection));
	fprintf(out, "log_level: %s\n",
		enum_to_name(log_level_names, N_ELEMS(log_level_names), cfg->log_level));
	fprintf(out, "tls_min_version: %s\n", tls_version_name(cfg->tls_min));
	if (cfg->tls_max == CONFIG_TLS_ANY) {
		fputs("# tls_max_version: not set (the highest the TLS library supports)\n", out);
	} else {
		fprintf(out, "tls_max_version: %s\n", tls_version_name(cfg->tls_max));
	}
	fputs("listen_addresses:\n", out);
	for (size_t i = 0; i < cfg->n_listen; i++) {
		fputs("  - ", out);
		print_quoted(out, cfg->listen[i].name);
		fputc('\n', out);
	}
	fputs("upstream_recursive_servers:\n", out);
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		print_upstream(out, &cfg->upstreams[i], 2);
	}
	fprintf(out, "special_use_zones: %d\n", cfg->special_zones ? 1 : 0);
	print_path(out, "hosts_file", cfg->hosts_file, "no hosts file");
	print_paths(out, "blocklists", cfg->blocklists, cfg->n_blocklists);
	print_paths(out, "allowlists", cfg->allowlists, cfg->n_allowlists);
	/* Quoted: another YAML reader would take a plain null for nothing at all. */
	fprintf(out, "block_answer: \"%s\"\n", block_answer_names[cfg->block_answer]);
	print_plain(out, "bootstrap", cfg->bootstrap, cfg->n_bootstrap, 0);
	fprintf(out, "dnssec: %s\n",
		cfg->dnssec ? "GETDNS_EXTENSION_TRUE" : "GETDNS_EXTENSION_FALSE");
	if (cfg->dnssec_only_secure) {
		fputs("dnssec_return_only_secure: GETDNS_EXTENSION_TRUE\n", out);
	}
	if (cfg->n_trust_anchors) {
		print_paths(out, "dnssec_trust_anchors", cfg->trust_anchors, cfg->n_trust_anchors);
	} else if (config_root_anchor[0]) {
		fprintf(out, "# dnssec_trust_anchors: not set (the built-in %s)\n",
			config_root_anchor);
	} else {
		fputs("# dnssec_trust_anchors: not set (and no built-in file)\n", out);
	}
	fprintf(out, "dnssec_negative_trust_anchors:%s\n", cfg->n_ntas ? "" : " []");
	for (size_t i = 0; i < cfg->n_ntas; i++) {
		fputs("  - ", out);
		print_quoted(out, cfg->ntas[i].zone);
		fputc('\n', out);
	}
	fprintf(out, "forward_zones:%s\n", cfg->n_zones ? "" : " []");
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct config_zone *z = &cfg->zones[i];

		fputs("  - zone: ", out);
		print_quoted(out, z->zone);
		fputc('\n', out);
		if (z->n_plain) {
			print_plain(out, "plain", z->plain, z->n_plain, 4);
		} else {
			fputs("    upstream_recursive_servers:\n", out);
		}
		for (size_t j = 0; j < z->n_upstreams; j++) {
			print_upstream(out, &z->upstreams[j], 6);
		}
	}
}

static void free_upstreams(struct config_upstream *ups, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ups[i].host);
		free(ups[i].name);
		free(ups[i].auth_name);
		free(ups[i].pins);
	}
	free(ups);
}

static void free_plain(struct config_plain *pl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pl[i].name);
	}
	free(pl);
}

struct config *config_ref(struct config *cfg)
{
	cfg->refs++; /* an atomic increment */
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg || --cfg->refs > 0) { /* an atomic decrement: the last one frees */
		return;
	}
	free_upstreams(cfg->upstreams, cfg->n_upstreams);
	free_plain(cfg->bootstrap, cfg->n_bootstrap);
	for (size_t i = 0; i < cfg->n_zones; i++) {
		free(cfg->zones[i].zone);
		free(cfg->zones[i].zone_wire);
		free_upstreams(cfg->zones[i].upstreams, cfg->zones[i].n_upstreams);
		free_plain(cfg->zones[i].plain, cfg->zones[i].n_plain);
	}
	free(cfg->zones);
	for (size_t i = 0; i < cfg->n_ntas; i++) {
		free(cfg->ntas[i].zone);
		free(cfg->ntas[i].zone_wire);
	}
	free(cfg->ntas);
	anchors_free(cfg->anchors);
	for (size_t i = 0; i < cfg->n_trust_anchors; i++) {
		free(cfg->trust_anchors[i]);
	}
	free(cfg->trust_anchors);
	for (size_t i = 0; i < cfg->n_blocklists; i++) {
		free(cfg->blocklists[i]);
	}
	free(cfg->blocklists);
	for (size_t i = 0; i < cfg->n_allowlists; i++) {
		free(cfg->allowlists[i]);
	}
	free(cfg->allowlists);
	free(cfg->hosts_file);
	for (size_t i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i].name);
	}
	free(cfg->listen);
	for (size_t i = 0; i < cfg->n_acl; i++) {
		free(cfg->acl[i].text);
	}
	free(cfg->acl);
	for (size_t i = 0; i < cfg->n_metrics_acl; i++) {
		free(cfg->metrics_acl[i].text);
	}
	free(cfg->metrics_acl);
	free(cfg->metrics_name);
	free(cfg->control_socket);
	free(cfg->cache_file);
	free(cfg->user);
	free(cfg->ca_file);
	free(cfg->ca_path);
	free(cfg->source);
	free(cfg);
}
