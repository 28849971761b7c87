/*
 * config: dotd's configuration, read from Stubby-compatible YAML (libyaml).
 *
 * A stubby.yml works unchanged: the keys listed in docs/CONFIG.md mean what they mean to Stubby
 * and take the same values (GETDNS_* names or their numbers). Keys that later work implements are
 * accepted and ignored with a notice, unless ignoring them would weaken security (DNSSEC
 * validation asked for): those are errors, as is any other key. Every error names the file,
 * line, key and reason. The loaded struct config is immutable and owned by the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONFIG_PIN_LEN 32 /* SHA-256 of the SubjectPublicKeyInfo (RFC 7469 §2.4) */

/** tls_authentication (RFC 8310 usage profiles). */
enum config_auth {
	CONFIG_AUTH_REQUIRED, /**< strict: every upstream authenticated by name and/or pins */
	CONFIG_AUTH_NONE,     /**< opportunistic: encrypted, authentication failures tolerated */
};

/** TLS protocol versions, as the wire's minor version byte: TLS 1.2 = 3, TLS 1.3 = 4. */
enum config_tls_version {
	CONFIG_TLS_ANY = 0, /**< tls_max_version unset: the library's highest */
	CONFIG_TLS_1_2 = 3,
	CONFIG_TLS_1_3 = 4,
};

/**
 * tls_unset_clock: what a certificate whose dates do not verify gets while the system clock is
 * before dotd's build date (a router before NTP: tls_clock_unset()).
 */
enum config_unset_clock {
	CONFIG_UNSET_CLOCK_FAIL,	  /**< refused, as at any other time (default) */
	CONFIG_UNSET_CLOCK_ACCEPT_PINNED, /**< accepted when the server's own key is pinned
					       (and its name, if set, matches) */
};

/** workers_steering: which worker a datagram goes to (resolver/steer.h). */
enum config_steering {
	CONFIG_STEERING_CPU,  /**< the one pinned to the CPU that received it (default) */
	CONFIG_STEERING_HASH, /**< the kernel's hash of the client's address and port */
};

/** upstream_selection: how the next upstream is chosen among the healthy ones. */
enum config_selection {
	CONFIG_SELECT_DEFAULT, /**< as round_robin_upstreams says: in order, or in turn */
	CONFIG_SELECT_FASTEST, /**< the lowest smoothed round-trip time, probing the others */
};

/** An access_control prefix: an address and how many of its leading bits match. */
struct config_prefix {
	int family;	  /**< AF_INET or AF_INET6 */
	uint8_t addr[16]; /**< network byte order; 4 bytes used for AF_INET */
	unsigned bits;
	char *text; /**< owned: as it is printed, "192.168.0.0/16" */
};

struct config_pin {
	uint8_t sha256[CONFIG_PIN_LEN];
};

/**
 * One DoT upstream, written as a mapping (address_data...) or as a string
 * tls://ADDR[:PORT][#AUTH_NAME][^PIN]... Both forms fill the same fields. A host name upstream
 * (tls://HOST) has no address yet: addr_len is 0 and addr.ss_family AF_UNSPEC, and the port
 * is kept, in network byte order, where struct sockaddr_in keeps it, which is where struct
 * sockaddr_in6 keeps it too: ((const struct sockaddr_in *)&addr)->sin_port. Whoever looks the
 * host up copies that port into each address found.
 */
struct config_upstream {
	struct sockaddr_storage addr; /**< address_data, with tls_port (default 853); for a host
					   name upstream, family AF_UNSPEC and only the port */
	socklen_t addr_len;	      /**< 0 for a host name upstream */
	char *host;		 /**< owned or NULL: tls://HOST, a host name to resolve (lower case,
				      no trailing dot); auth_name is then always set */
	char *name;		 /**< owned: "IP@port" for logs, e.g. "9.9.9.9@853"; "HOST@port" */
	char *auth_name;	 /**< owned, or NULL: tls_auth_name (name check and SNI); for a
				      host name upstream, the host name itself unless #AUTH_NAME
				      gave another, which is then the one the certificate must
				      match */
	struct config_pin *pins; /**< owned array of n_pins, or NULL: tls_pubkey_pinset */
	size_t n_pins;
	unsigned line; /**< line of the upstream in its file, for messages */
};

/**
 * A plain DNS server of a forward zone (plain:, private addresses only: loopback, RFC 1918,
 * RFC 4193, link-local), or of bootstrap: (any address).
 */
struct config_plain {
	struct sockaddr_storage addr; /**< IP with port (default 53) */
	socklen_t addr_len;
	char *name; /**< owned: "IP@port" */
};

/**
 * One forward_zones item: the names at and under zone go to its own upstreams, DoT (the
 * upstream_recursive_servers syntax) or plain DNS (plain:, private addresses only), never
 * both: exactly one of n_upstreams and n_plain is non-zero. Zones may nest ("lan." and
 * "printer.lan."): the longest that matches a name is its zone. No zone appears twice, and
 * the root zone "." has DoT upstreams only. The top-level TLS settings (tls_authentication,
 * tls_ca_*, tls_min_version...) apply to a zone's upstreams as to the others.
 */
struct config_zone {
	char *zone;	      /**< owned: canonical text, lower case, ending in ".": "lan.", "." */
	uint8_t *zone_wire;   /**< owned: the same in wire format (lower case) */
	size_t zone_wire_len; /**< including the root label */
	struct config_upstream *upstreams; /**< owned array of n_upstreams: DoT forwarders */
	size_t n_upstreams;
	struct config_plain *plain; /**< owned array of n_plain: plain forwarders */
	size_t n_plain;
	unsigned line;
};

/** block_answer: what a blocked name gets. */
enum config_block_answer {
	CONFIG_BLOCK_NXDOMAIN, /**< NXDOMAIN (default) */
	CONFIG_BLOCK_NODATA,   /**< NOERROR without records */
	CONFIG_BLOCK_NULL,     /**< 0.0.0.0 for A, :: for AAAA, NODATA for other types */
};

/** A negative trust anchor (RFC 7646): a zone whose names are not validated. */
struct config_nta {
	char *zone; /**< owned: canonical text, lower case, ending in ".": "corp.example." */
	uint8_t *zone_wire;   /**< owned: the same in wire format (lower case) */
	size_t zone_wire_len; /**< including the root label */
	unsigned line;
};

struct anchors; /* dnssec_anchors.h */

/** The built-in trust anchor file (DOTD_ROOT_ANCHOR at build time), "" when there is none. */
extern const char config_root_anchor[];

struct config_listen {
	struct sockaddr_storage addr; /**< IP with port (default 53) */
	socklen_t addr_len;
	char *name; /**< owned: "IP@port" for logs */
};

struct config {
	_Atomic unsigned refs;	      /**< config_ref(); the last config_free() frees it */
	char *source;		      /**< owned: file name, or "<built-in default>" */
	struct config_listen *listen; /**< owned array: listen_addresses */
	size_t n_listen;
	struct config_upstream *upstreams; /**< owned array: upstream_recursive_servers */
	size_t n_upstreams;
	enum config_auth auth;		 /**< tls_authentication, default REQUIRED */
	char *ca_file;			 /**< owned or NULL: tls_ca_file */
	char *ca_path;			 /**< owned or NULL: tls_ca_path */
	unsigned idle_timeout_ms;	 /**< idle_timeout, default 10000 */
	unsigned timeout_ms;		 /**< timeout, default 5000 */
	int log_level;			 /**< log_level 0..7, default 5 (NOTICE) */
	bool round_robin;		 /**< round_robin_upstreams, default 1 */
	unsigned padding_blocksize;	 /**< tls_query_padding_blocksize, default 128; 0 off */
	bool ecs_private;		 /**< edns_client_subnet_private, default 1 */
	enum config_tls_version tls_min; /**< tls_min_version, default TLS 1.2 */
	enum config_tls_version tls_max; /**< tls_max_version, default ANY */
	unsigned max_in_flight;		 /**< limit_outstanding_queries per connection, 100 */
	unsigned conns_per_upstream;	 /**< connections_per_upstream, default 2 */
	unsigned connection_retries;	 /**< tls_connection_retries, default 2 */
	unsigned backoff_max_s;		 /**< tls_backoff_time in seconds, default 3600 */
	unsigned timeout_per_try_ms;	 /**< timeout_per_try, default 800 */
	enum config_selection selection; /**< upstream_selection, default DEFAULT */
	size_t cache_size;		 /**< cache_size in bytes, default 4 MiB; 0: no cache */
	unsigned cache_min_ttl;		 /**< cache_min_ttl (s), default 0 */
	unsigned cache_max_ttl;		 /**< cache_max_ttl (s), default 86400 */
	unsigned cache_max_negative_ttl; /**< cache_max_negative_ttl (s), default 3600 */
	unsigned serve_stale_max;	 /**< serve_stale_max (s), default 86400; 0: off */
	struct config_prefix *acl;	 /**< owned array: access_control (or its default) */
	size_t n_acl;
	char *user;			 /**< owned or NULL: user: to run as after binding */
	unsigned workers;		 /**< threads serving, each its own loop; default 1 */
	enum config_steering steering;	 /**< workers_steering, default cpu */
	unsigned tcp_clients_max;	 /**< client TCP connections at once, default 128 */
	unsigned tcp_queries_per_client; /**< queries in flight per TCP client, default 128 */
	unsigned udp_queries_per_source; /**< queries in flight per UDP source address, 512 */
	unsigned queries_max;		 /**< client queries in flight in all, default 2048 */
	unsigned tcp_buffer_max;	 /**< bytes of answers queued for one TCP client, 64 KiB */
	unsigned tcp_idle_timeout_ms;	 /**< client TCP idle, from the last whole message, 10 s */
	unsigned tcp_messages_per_read;	 /**< TCP messages handled per read callback, 32 */
	char *control_socket;		 /**< owned or NULL: control_socket, an absolute path */
	char *cache_file;		 /**< owned or NULL: cache_file, an absolute path */
	struct sockaddr_storage metrics_addr; /**< metrics_listen, when metrics_name is set */
	socklen_t metrics_addr_len;
	char *metrics_name;		   /**< owned or NULL: metrics_listen as "IP@port" */
	struct config_prefix *metrics_acl; /**< owned array: metrics_access_control (or loopback) */
	size_t n_metrics_acl;
	struct config_zone *zones; /**< owned array: forward_zones, in file order */
	size_t n_zones;
	bool special_zones; /**< special_use_zones, default 1: localhost, local, invalid,
			       home.arpa, resolver.arpa and RFC 6303's reverse zones stay local */
	char *hosts_file;   /**< owned or NULL: hosts_file, an absolute path */
	char **blocklists;  /**< owned array of n_blocklists absolute paths */
	size_t n_blocklists;
	char **allowlists; /**< owned array of n_allowlists absolute paths */
	size_t n_allowlists;
	enum config_block_answer block_answer; /**< block_answer, default nxdomain */
	enum config_unset_clock unset_clock;   /**< tls_unset_clock, default fail */
	/**
	 * Owned array: bootstrap, plain DNS servers that look up the host names of host name
	 * upstreams (top level and zones), and nothing else, only when no upstream has an
	 * address; otherwise those look the names up, over TLS. At least one of the two exists
	 * whenever a host name upstream does.
	 */
	struct config_plain *bootstrap;
	size_t n_bootstrap;
	bool dnssec;		 /**< validate answers (dnssec or a dnssec_return_* key true) */
	bool dnssec_only_secure; /**< dnssec_return_only_secure: insecure answers fail too */
	char **trust_anchors;	 /**< owned array of n_trust_anchors absolute paths:
				      dnssec_trust_anchors; none means config_root_anchor */
	size_t n_trust_anchors;
	struct anchors *anchors; /**< owned or NULL: those files, loaded and checked */
	struct config_nta *ntas; /**< owned array: dnssec_negative_trust_anchors, file order */
	size_t n_ntas;
};

/**
 * Parse YAML @text (@len bytes) named @source in messages. On success store a new config in
 * *@out and return 0. On error print every problem found as "SOURCE:LINE: key 'K': REASON" to
 * @err and return -EINVAL (nothing is stored). Notices (ignored keys) also go to @err.
 */
int config_load_string(const char *text, size_t len, const char *source, struct config **out,
		       FILE *err);

/** As config_load_string() on the contents of file @path; -errno if it cannot be read. */
int config_load_file(const char *path, struct config **out, FILE *err);

/** The embedded default (etc/dotd.yml as built in); never fails unless out of memory. */
int config_load_default(struct config **out, FILE *err);

/** Print the effective configuration, every key with its value, as YAML (dotd -i). */
void config_print(const struct config *cfg, FILE *out);

/**
 * Another reference to @cfg, which is immutable once loaded: the workers (worker.h) share one,
 * each thread dropping its references with config_free(). Thread-safe.
 */
struct config *config_ref(struct config *cfg);

/** Drop a reference to @cfg: the last frees it and everything it owns. NULL is allowed. */
void config_free(struct config *cfg);

/** Whether @sa (AF_INET or AF_INET6) falls in one of the access_control prefixes of @cfg. */
bool config_acl_allows(const struct config *cfg, const struct sockaddr *sa);

/** Whether @sa may fetch metrics: in metrics_access_control (default: loopback only). */
bool config_metrics_allows(const struct config *cfg, const struct sockaddr *sa);

/** Whether @sa is a loopback address (127.0.0.0/8 or ::1). */
bool config_is_loopback(const struct sockaddr *sa);

/** The embedded default configuration text (generated from etc/dotd.yml at build time). */
extern const char config_default_yaml[];
extern const size_t config_default_yaml_len;
