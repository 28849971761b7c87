/*
 * tls: the DNS-over-TLS upstream transport (RFC 7858, RFC 8310), the only code that sees wolfSSL.
 *
 * Objects:
 *   struct tls_client    the shared TLS context: trust anchors, protocol versions. One per
 *                        daemon; freed after every upstream using it is closed.
 *   struct tls_upstream  one configured upstream: address, authentication name, pin set, its
 *                        connection and counters. Freed in the last libuv close callback after
 *                        tls_upstream_close().
 *   struct tls_query     one query in flight, embedded in the caller's own query object.
 *
 * A query submitted with tls_upstream_query() gets exactly one call of its callback, unless the
 * caller cancels it first with tls_query_cancel(), after which none comes. The callback never
 * runs from inside tls_upstream_query() or tls_query_cancel(): failures are delivered from
 * libuv callbacks. The callback may submit or cancel other queries and may close the upstream.
 *
 * Layers, each with its own state: TCP (libuv owns the socket and reads ciphertext into our
 * buffer) -> TLS (wolfSSL reads and writes memory through custom I/O callbacks) -> DNS framing
 * (2-octet length prefix, dns_frame) -> matching of answers to queries by ID and question.
 *
 * A plain upstream (tls_upstream_new_plain(), tls_plain.c) is the same object without TLS: plain
 * DNS over UDP, retried over TCP when truncated, for forward zones on private networks only. It
 * shares the API, the callback contract, health, backoff, RTT and counters of a DoT upstream, so
 * the resolver chooses, fails over and counts both alike. tls_upstream_new_bootstrap() makes one
 * for any address, for the bootstrap: servers that look up upstreams' host names, and nothing
 * else.
 *
 * A DoT upstream may start without an address (a host name upstream, tls://dns.quad9.net, whose
 * addresses are not known yet): it is "resolving", never available, and takes no query until
 * tls_upstream_set_addresses() gives it some. Its certificate is checked against auth_name, the
 * host name, whatever addresses it was given (RFC 8310 §8.1).
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define TLS_PIN_LEN 32 /* SHA-256 of the DER SubjectPublicKeyInfo (RFC 7469 §2.4) */

/*
 * Failure statuses given to a query callback (negative errno values). For a plain upstream,
 * TLS_ERR_CONNECT also means that the server's port or host is unreachable (ICMP).
 */
#define TLS_ERR_AUTH	(-EACCES)	/* authentication failed (name, chain or pin) */
#define TLS_ERR_CONNECT (-ECONNREFUSED) /* TCP connect or TLS handshake failed */
#define TLS_ERR_LOST	(-ECONNRESET)	/* the connection closed before the answer came */
#define TLS_ERR_PROTO	(-EPROTO)	/* the upstream broke the protocol (framing, garbage) */
#define TLS_ERR_TIMEOUT (-ETIMEDOUT)	/* the connection went silent with queries outstanding */
#define TLS_ERR_NOMEM	(-ENOMEM)

/* What tls_upstream_available_at() says of an upstream that has no address yet: never. */
#define TLS_UPSTREAM_NEVER UINT64_MAX

/* The most addresses one upstream takes (tls_upstream_set_addresses()). */
#define TLS_UPSTREAM_MAX_ADDRS 16

struct tls_client;
struct tls_upstream;
struct tls_query;
struct tls_plain_queue;

struct tls_client_params {
	const char *ca_file; /**< borrowed during the call; NULL: not used */
	const char *ca_path; /**< borrowed during the call; NULL: not used */
	int tls_min;	     /**< minor version: 3 = TLS 1.2, 4 = TLS 1.3 */
	int tls_max;	     /**< 0 for the highest the library has */
};

/**
 * Initialise wolfSSL for the process, once; every function here that needs wolfSSL calls it
 * itself, so the daemon never does: nothing of wolfSSL runs until a first connection or
 * DNSSEC check needs it (docs/ARCHITECTURE.md, "Memory": its code is most of what an idle
 * dotd would map). Safe from any thread. 0, or -ENOMEM (again on every later call).
 */
int tls_init(void);

/** Whether tls_init() has run. */
bool tls_initialised(void);

/** Release wolfSSL's global state, if it was initialised, after every tls object is freed. */
void tls_cleanup(void);

/** Free what wolfCrypt keeps for the calling thread; a worker's thread calls it as it ends. */
void tls_thread_cleanup(void);

/**
 * Make a TLS client context from @p, without building it: the wolfSSL context and its trust
 * anchors are made by tls_client_load(), or by the first connection that needs them. When
 * neither ca_file nor ca_path is given, the system's trust store is used. -ENOMEM only.
 */
int tls_client_new(const struct tls_client_params *p, struct tls_client **out);

/**
 * Build @c's wolfSSL context and read its trust anchors, if not done yet. 0, or -ENOMEM, or
 * -EINVAL if this wolfSSL refuses dotd's versions, suites or groups (logged); a later call
 * tries again. Trust anchors that cannot be loaded are logged, and the context is
 * built without them: only pinned upstreams can be authenticated through it, and
 * tls_client_failed() says so.
 */
int tls_client_load(struct tls_client *c);

/** Whether @c was loaded and its configured trust anchors (ca_file, ca_path) could not be. */
bool tls_client_failed(const struct tls_client *c);

/**
 * Whether the CA file @path holds a certificate that wolfSSL takes as a trust anchor, as
 * tls_client_load() will read it (the same build of a context, which skips the certificates
 * it cannot read), so that a damaged file is found at start without building @path's context.
 * It runs in a child process (fork), so that this one has still run no wolfSSL code. 0 with
 * *@ok set, or -errno if the check could not be made (-EIO: the child could not build one).
 */
int tls_ca_file_check(const char *path, bool *ok);

/** Whether @c's context is built and its trust anchors read (tls_client_load()). */
bool tls_client_loaded(const struct tls_client *c);

/** The parameters @c was made from; its strings are @c's, valid until it is freed. */
void tls_client_params_get(const struct tls_client *c, struct tls_client_params *out);

/** Free the context; every upstream using it must be freed already. */
void tls_client_free(struct tls_client *c);

struct tls_upstream_params {
	const struct sockaddr *addr; /**< borrowed during the call; with addr_len 0 (a DoT
					  upstream only) there is none yet: see
					  tls_upstream_set_addresses() */
	socklen_t addr_len;
	const char *name;		    /**< for logs, "IP@port"; copied */
	const char *auth_name;		    /**< copied; NULL: no name check and no SNI */
	const uint8_t (*pins)[TLS_PIN_LEN]; /**< copied; n_pins SHA-256 SPKI pins */
	size_t n_pins;
	bool strict;			  /**< RFC 8310 strict profile: fail unless authenticated */
	unsigned idle_timeout_ms;	  /**< close a connection idle this long (or the server's
					       shorter edns-tcp-keepalive, RFC 7828) */
	unsigned handshake_timeout_ms;	  /**< give up a TCP connect plus handshake after this */
	unsigned liveness_ms;		  /**< a connection with queries outstanding that receives
					       nothing for this long is dead (half-open) */
	unsigned max_in_flight;		  /**< queries outstanding on one connection */
	unsigned max_conns;		  /**< connections open at once to this upstream */
	unsigned failures_before_backoff; /**< tls_connection_retries */
	unsigned backoff_max_ms; /**< the cap of the exponential backoff (tls_backoff_time) */
	bool accept_pinned_unset_clock; /**< tls_unset_clock: accept_pinned: while
					     tls_clock_unset(), a certificate whose own key is in
					     the pin set is accepted although its dates (or those
					     of its chain) do not verify; see
					     tls_upstream_clock_changed() */
};

/**
 * Create an upstream on @loop using @client (borrowed; must outlive the upstream). With
 * p->addr_len 0 it has no address yet: tls_upstream_state() says TLS_UPSTREAM_RESOLVING,
 * tls_upstream_available_at() TLS_UPSTREAM_NEVER, and tls_upstream_query() refuses queries,
 * until tls_upstream_set_addresses().
 */
int tls_upstream_new(uv_loop_t *loop, struct tls_client *client,
		     const struct tls_upstream_params *p, struct tls_upstream **out);

/**
 * The addresses DoT upstream @u connects to, @n (1 to TLS_UPSTREAM_MAX_ADDRS) AF_INET or
 * AF_INET6 ones with their ports, copied: those of its host name, found again when their TTL
 * ran out. New connections go to one address at a time, the first at first; a connection to it
 * that fails before it is authenticated (connect, handshake, name or pin) moves the next ones
 * on to the next address, round the list. That address stays current while it is among the new
 * ones. Open connections to an address still among them stay; the others drain: they take no
 * new query, those waiting on them go to a connection to a current address, and they close
 * once their answers are in. No callback runs from inside the call. -EINVAL for a plain
 * upstream, one that is closing, no address, too many, or another family; -ENOMEM.
 */
int tls_upstream_set_addresses(struct tls_upstream *u, const struct sockaddr_storage *addrs,
			       size_t n);

/**
 * Create a plain DNS upstream on @loop (RFC 1035 §4.2, RFC 7766): each query goes over UDP from
 * one connected socket, and one whose answer has TC is sent again over TCP (one connection,
 * pipelined, opened when needed). @p is read as for tls_upstream_new(), with these meanings:
 *   auth_name, pins, n_pins, strict  ignored: there is nothing to authenticate
 *   max_in_flight         queries outstanding on the UDP socket, and on the TCP connection;
 *                         more wait in order
 *   handshake_timeout_ms  the deadline of a TCP connect
 *   liveness_ms           a TCP connection with queries outstanding that receives nothing for
 *                         this long is dead (UDP has no timer: the caller's per-try timer fails
 *                         over, and it cancels)
 *   idle_timeout_ms       the TCP connection is closed when idle this long
 *   max_conns             ignored: one UDP socket, one TCP connection at a time
 * Plain DNS is readable and forgeable by anyone on the path, so the transport itself refuses,
 * with -EPERM and before any socket exists, an address that tls_upstream_plain_allowed() does
 * not allow, whatever its caller checked. Other errors: -EINVAL for bad limits, -ENOMEM, or the
 * socket's error.
 */
int tls_upstream_new_plain(uv_loop_t *loop, const struct tls_upstream_params *p,
			   struct tls_upstream **out);

/**
 * Create a plain DNS upstream for bootstrap: only, as tls_upstream_new_plain() does, but for any
 * address: the user named these servers to look up the host names of DoT upstreams when no
 * upstream has an address, and gave away those names in clear text by doing so (docs/CONFIG.md,
 * bootstrap). It takes A and AAAA queries of class IN and refuses any other with -EPERM, so that
 * nothing but an address lookup can go to a server that may be across the internet. No other
 * caller may use it. -EINVAL without an address, and as tls_upstream_new_plain() otherwise.
 */
int tls_upstream_new_bootstrap(uv_loop_t *loop, const struct tls_upstream_params *p,
			       struct tls_upstream **out);

/**
 * Whether @addr may be a plain upstream: loopback (127.0.0.0/8, ::1), private (RFC 1918:
 * 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), unique local (RFC 4193: fc00::/7) or link-local
 * (169.254.0.0/16, fe80::/10). Anything else, IPv4-mapped and unspecified addresses included,
 * is refused.
 */
bool tls_upstream_plain_allowed(const struct sockaddr *addr, socklen_t addr_len);

/**
 * Apply the limits of @p (timeouts, max_in_flight, max_conns, retries, backoff) and its
 * accept_pinned_unset_clock to @u; the pool key (address, names, pins, strictness) is not
 * looked at. A configuration reload keeps @u, its connections and its tickets, and changes only
 * these. Connections already open keep the timers they armed until they re-arm them, and those
 * accepted under accept_pinned_unset_clock stay until tls_upstream_clock_changed().
 */
void tls_upstream_tune(struct tls_upstream *u, const struct tls_upstream_params *p);

/*
 * A store of session tickets that upstreams in several threads share (tls_tickets.c): the
 * workers' upstreams with one pool key resume with each other's tickets. Thread-safe; freed
 * after every upstream using it.
 */
struct tls_tickets;

int tls_tickets_new(struct tls_tickets **out);
void tls_tickets_free(struct tls_tickets *t);

/** Tickets stored under @key now (for tests and counters). */
size_t tls_tickets_count(struct tls_tickets *t, const char *key);

/**
 * From now on @u keeps its tickets in @t under @key (copied), the pool key that says everything
 * its handshakes check: a ticket is only ever offered to an upstream with the same key. Called
 * before @u connects. 0 or -ENOMEM (then @u keeps its own).
 */
int tls_upstream_tickets_share(struct tls_upstream *u, struct tls_tickets *t, const char *key);

/**
 * Close every connection of @u (for a plain upstream, its UDP socket and TCP connection too);
 * queries still on it get TLS_ERR_LOST, from a libuv close callback. @u is freed when its last
 * libuv handle has closed, after which @on_closed(@arg) is called (it may be NULL).
 */
void tls_upstream_close(struct tls_upstream *u, void (*on_closed)(void *arg), void *arg);

/**
 * The network under @u changed (a link went down or up, the default route changed, the system
 * resumed from suspend, or `dotd-ctl network-changed`): its backoff and failure count are
 * cleared, so that the next query goes out at once; its connections are suspect: one whose
 * local address the kernel would no longer send from to its upstream (the default route moved
 * to another link) is closed at once and its queries sent again; an idle one (nothing written
 * and unanswered) is closed, one with queries outstanding is probed: it must
 * receive something within TLS_PROBE_MS or it is dropped and its queries sent again on a fresh
 * connection (RFC 7766 §6.2.3). No callback runs from inside the call. For a plain upstream,
 * its UDP socket is connected afresh (so that it picks a new source address) and its TCP
 * connection is treated as above.
 */
void tls_upstream_network_changed(struct tls_upstream *u);

/**
 * A path may have appeared (a local address added): clear the backoff and failure count of @u,
 * leaving its connections alone.
 */
void tls_upstream_backoff_clear(struct tls_upstream *u);

/** How long a suspect connection with queries outstanding has to show it is alive. */
#define TLS_PROBE_MS 250

/**
 * The local address @addr (port ignored) was removed from this host: every connection of @u
 * whose local address it is, is closed at once, and the queries on it are sent again on fresh
 * connections (queries not written yet are not counted as resent). For a plain upstream, the
 * UDP socket bound to it is connected afresh. Callbacks of queries that cannot be sent again
 * come from the loop, never from inside the call.
 */
void tls_upstream_addr_gone(struct tls_upstream *u, const struct sockaddr *addr);

/**
 * The wall clock was set (NETWATCH_CLOCK), or a reload changed accept_pinned_unset_clock: a
 * connection of @u that was accepted on its leaf pin alone while the clock was unset
 * (tls_upstream_params.accept_pinned_unset_clock) is closed, if the clock is no longer unset or
 * the exception is no longer allowed, and its queries go to a connection verified in full.
 */
void tls_upstream_clock_changed(struct tls_upstream *u);

/**
 * Whether the system clock (CLOCK_REALTIME) is before the time dotd was built (DOTD_BUILD_EPOCH,
 * the commit's date): a router that booted without a clock and has not run NTP yet.
 */
bool tls_clock_unset(void);

/** The name given at creation, for logs. */
const char *tls_upstream_name(const struct tls_upstream *u);

/** Counters of one upstream since it was created. */
struct tls_upstream_stats {
	uint64_t queries;	     /**< queries written to a connection */
	uint64_t answers;	     /**< answers matched to a query */
	uint64_t connections;	     /**< TCP connections attempted */
	uint64_t handshakes_full;    /**< TLS handshakes completed without resumption */
	uint64_t handshakes_resumed; /**< TLS handshakes completed by resumption */
	uint64_t auth_failures;	     /**< connections closed for failed authentication */
	uint64_t conn_failures;	     /**< connect or handshake failures and timeouts */
	uint64_t proto_errors;	     /**< connections closed for a protocol violation */
	uint64_t dead;		     /**< connections closed for silence (liveness) */
	uint64_t server_closes;	     /**< connections the server closed (not failures) */
	uint64_t idle_closes;	     /**< connections we closed for idleness or keepalive */
	uint64_t backoffs;	     /**< times the upstream was backed off */
	uint64_t tickets;	     /**< session tickets received and stored */
	uint64_t resent;	     /**< queries sent again after their connection was lost */

	/* Gauges, read from the connections by tls_upstream_stats_get(). */
	uint64_t in_flight;  /**< queries written and not answered yet (cancelled ones included:
				  their answers are still due; not on a plain upstream, which
				  keeps nothing for them) */
	uint64_t queued;     /**< queries waiting for a handshake or a free slot */
	uint64_t conns_open; /**< connections not yet closed, from the connect to the close (for a
				  plain upstream its TCP ones; the UDP socket is not counted) */

	/* Counters of plain upstreams only (0 for DoT). */
	uint64_t truncated; /**< UDP answers with TC, their queries sent again over TCP */
	uint64_t dropped;   /**< messages that matched no query in flight (ID, question) or did
			       not parse, dropped: spoofed, or late after a cancel (RFC 5452 §9.1) */

	/* Counters of DoT upstreams only (0 for plain). */
	uint64_t records; /**< TLS records the queries went in: those written on a connection in
			     one loop iteration share one (up to 16 KiB; a larger query, cut into
			     records of 16 KiB by TLS, counts once) */
};

/** What an upstream is doing now, as tls_upstream_state() sees it. */
enum tls_upstream_state {
	TLS_UPSTREAM_IDLE,	 /**< no connection open or being set up */
	TLS_UPSTREAM_CONNECTING, /**< a connection is being set up, none is ready */
	TLS_UPSTREAM_UP,	 /**< a connection is authenticated and takes queries */
	TLS_UPSTREAM_BACKED_OFF, /**< failed repeatedly: not chosen until available_at */
	TLS_UPSTREAM_RESOLVING,	 /**< no address yet (a host name upstream): never chosen */
};

#define TLS_UPSTREAM_N_STATES (TLS_UPSTREAM_RESOLVING + 1)

/**
 * The loop time (ms, uv_now) from which @u should be used again: at or before now when it is
 * healthy, later while it is backed off after repeated failures, TLS_UPSTREAM_NEVER while it has
 * no address.
 */
uint64_t tls_upstream_available_at(const struct tls_upstream *u);

/* While an upstream is backed off, at most one connection a second is opened to it. */
#define TLS_LAST_RESORT_MS 1000

/**
 * Whether a query may be given to @u now even if it is backed off (the resolver's last resort,
 * when every upstream is): yes unless its last failure reached the server (a refused connect, a
 * failed handshake or authentication), a connection was opened to it during the backoff less
 * than TLS_LAST_RESORT_MS ago, and none of its connections is usable or under way to join. A
 * refused port fails each connect at once: without this, every miss sent the server a SYN (or
 * a whole handshake). A network this host cannot reach (ENETUNREACH, EHOSTUNREACH) sends
 * nothing, and a link that comes back is found at the next miss, before netwatch says so.
 */
bool tls_upstream_may_try(const struct tls_upstream *u);

/** The smoothed round-trip time of @u's answers in ms (RFC 6298 style), 0 until measured. */
unsigned tls_upstream_srtt(const struct tls_upstream *u);

/** The counters of @u, and its gauges as they are now. */
void tls_upstream_stats_get(const struct tls_upstream *u, struct tls_upstream_stats *out);

/**
 * The state of @u now: resolving while it has no address; backed off while
 * tls_upstream_available_at() is in the future (that is what decides whether it is chosen), else
 * up, connecting or idle by its connections. A plain upstream is up once an answer has come and
 * no failure since, else idle.
 */
enum tls_upstream_state tls_upstream_state(const struct tls_upstream *u);

/** "idle", "connecting", "up", "backed-off" or "resolving", as logs and statistics spell @st. */
const char *tls_upstream_state_name(enum tls_upstream_state st);

struct dns_opt;

/**
 * The answer to @q: @status 0 with @answer (@len bytes, valid during the call only) whose every
 * record has been checked by dns_opt_find(), which also gave @opt; or a TLS_ERR_* with
 * @answer and @opt NULL.
 */
typedef void (*tls_query_cb)(struct tls_query *q, int status, const uint8_t *answer, size_t len,
			     const struct dns_opt *opt);

/**
 * One query. The caller fills frame, frame_len and cb; the rest is private to tls/. The frame
 * is the DNS message with its 2-octet length prefix (RFC 7766 §8), so that it goes to the
 * kernel whole, in one write (RFC 7858 §3.3): with the other queries written on its connection
 * in the same loop iteration, in one TLS record. It must stay valid and unchanged, but for the
 * message ID which tls/ writes just before taking a copy, until the callback or the cancel.
 * Several queries may share one frame (tries of one client query on several upstreams): the ID
 * is written and the frame copied in one step. A plain upstream sends the
 * message as it is (its EDNS OPT, padding included, as the caller wrote it: padding hides
 * nothing in clear text but costs only bytes) over UDP without the prefix, over TCP with it;
 * each try gets a fresh random ID (RFC 5452 §9.2), written just before the message is handed
 * to the kernel (or copied, when the socket cannot take it at once).
 */
struct tls_query {
	uint8_t *frame; /**< borrowed: 2-octet length, then a DNS query */
	size_t frame_len;
	tls_query_cb cb; /**< called once: status 0 with the answer, or a TLS_ERR_* */

	/* private */
	struct tls_conn *conn;	/**< connection it waits on or was written to, or NULL */
	struct tls_query *next; /**< in the connection's waiting list */
	size_t qend;		/**< end of the question in the message */
	uint64_t sent_at;	/**< loop time it was written, for the round-trip time */
	uint16_t id;		/**< upstream ID while in flight */
	bool in_flight;
	bool resent;		    /**< sent again after its connection was lost: once only */
	struct tls_plain_queue *pq; /**< plain: the queue it is in (tls_plain.c), or NULL */
	int status;		    /**< plain: the failure it is waiting to be given */
};

/**
 * Send @q to @u: on an open connection with room, or on a new one up to max_conns, or queued on
 * the least loaded. Returns 0 (the callback will come) or a negative errno if @q is malformed or
 * no connection can be started (no callback). When an authenticated connection is lost or goes
 * silent before @q's answer came (a server's idle close racing our write, RFC 7766 §6.2.3; a
 * dead path), @q is sent once more on a fresh connection to @u before it fails. On a plain
 * upstream @q goes out over UDP at once, unless max_in_flight are outstanding there; a failure
 * to send is given through the callback. -EDESTADDRREQ (no callback) while @u has no address;
 * -EPERM for a bootstrap upstream and a query that is not A or AAAA in class IN.
 */
int tls_upstream_query(struct tls_upstream *u, struct tls_query *q);

/**
 * Whether @q has been written on an established, authenticated connection (plain: handed to
 * the UDP socket, or written on a TCP connection).
 */
bool tls_query_sent(const struct tls_query *q);

/** Withdraw @q: no callback will come; a late answer to it is discarded. */
void tls_query_cancel(struct tls_query *q);

/**
 * Compute the pin of a DER certificate: SHA-256 of its SubjectPublicKeyInfo (RFC 7469 §2.4).
 * -EINVAL if the certificate cannot be parsed.
 */
int tls_spki_pin(const uint8_t *der, size_t der_len, uint8_t out[TLS_PIN_LEN]);
