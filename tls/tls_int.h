/*
 * tls_int: the structures shared by the files of tls/. Not for use outside tls/.
 *
 * Ownership: a tls_upstream owns its connections and its stored sessions; a connection is freed
 * when its stream has reported on_closed and the close callbacks of its own timer and flush
 * handle have run (the last of the three), and then tells its upstream,
 * which is freed when it is closing and its last connection is gone. A plain upstream owns its
 * struct tls_plain instead (tls_plain.c: UDP socket, TCP connections), and is freed when that
 * reports its last handle closed. Queries are owned by the caller and only linked.
 */
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "dns_frame.h"
#include "stream.h"
#include "tls_link.h"
#include "tls.h"
#include "tls_policy.h"

struct tls_client {
	WOLFSSL_CTX *ctx; /**< owned; NULL until tls_client_load() */
	bool has_anchors; /**< trust anchors were loaded (else only pins can authenticate) */
	bool failed;	  /**< the configured trust anchors could not be loaded */
	char *ca_file;	  /**< owned or NULL */
	char *ca_path;	  /**< owned or NULL */
	int tls_min, tls_max;
};

/** Connection states, in order: comparisons like state >= TLS_CONN_CLOSING are meaningful. */
enum tls_conn_state {
	TLS_CONN_CONNECTING, /**< TCP connect under way */
	TLS_CONN_HANDSHAKE,  /**< TLS handshake under way */
	TLS_CONN_READY,	     /**< authenticated; queries flow */
	TLS_CONN_CLOSING,    /**< close_notify sent, waiting for the write side to drain */
	TLS_CONN_CLOSED,     /**< handles closing; memory freed in the last close callback */
};

/** What the connection's one timer is timing. */
enum tls_timer_mode {
	TLS_TIMER_HANDSHAKE, /**< connect plus handshake deadline */
	TLS_TIMER_LIVENESS,  /**< queries outstanding: something must arrive in liveness_ms */
	TLS_TIMER_IDLE,	     /**< nothing outstanding: close when idle too long */
	TLS_TIMER_DRAIN,     /**< its address is no longer the upstream's: drain, from the loop */
	TLS_TIMER_PROBE,     /**< the network changed: a probe was written; something must
				  arrive before the timer fires, or the path is dead */
	TLS_TIMER_UNREACH,   /**< the host refused the connect (EHOSTUNREACH): wait for a
				  network change on its way (TLS_UNREACH_WAIT_MS) before failing */
};

/** What the certificate verification of one handshake found (RFC 8310 §8, RFC 7469). */
struct tls_auth {
	bool decided;		     /**< the verify callback reached a decision (at the leaf, or
					  earlier on a certificate that failed) */
	bool chain_ok;		     /**< no certificate above the leaf failed verification */
	bool no_san;		     /**< the leaf has no subjectAltName (for logs) */
	struct tls_auth_facts facts; /**< what the leaf's turn found; tls_policy.h */
	enum tls_auth_verdict verdict;
	bool authenticated; /**< tls_auth_check() passed on the decision, or on a resumed session
			       (which only authenticated connections make) */
	bool clock_exempt;  /**< accepted on the leaf's pin alone while the clock was unset
			       (TLS_AUTH_OK_UNSET_CLOCK): its session is never stored, and
			       tls_upstream_clock_changed() closes it once the clock is set */
	int error;	    /**< first verification error (wolfSSL or X509_V_ERR_*), for logs */
	int error_depth;
};

/**
 * An in-flight slot: the query whose upstream ID selects it (id & mask == slot index). A slot
 * whose query was cancelled stays used until its answer comes, or until it has waited
 * liveness_ms; it then expires: it no longer counts against max_in_flight, a late answer to
 * its ID is still recognised and dropped, and a new query may take it over.
 */
struct tls_slot {
	struct tls_query *q; /**< borrowed; NULL when cancelled but the answer is still due */
	uint64_t sent_at;    /**< loop time the query was written */
	uint16_t id;
	bool used;    /**< in flight (counted in n_slots_used) */
	bool expired; /**< cancelled and waited too long: free, but its ID is remembered */
};

#define TLS_SESSIONS 4 /* tickets kept per upstream, each offered once (RFC 8446 App. C.4) */

/* Tickets kept, newest last (tls_sessions_take() and the rest, tls_tickets.c). */
struct tls_sessions {
	WOLFSSL_SESSION *s[TLS_SESSIONS]; /**< owned */
	unsigned n;
};

/*
 * One DoT connection: the DNS-over-TLS layer (this struct: framing, IDs, keepalive, liveness)
 * over the TLS layer (tls_link.h) over the stream layer (stream.h), each with its own state.
 */
struct tls_conn {
	struct stream st;	 /**< the stream layer: socket, buffers, write and close timers */
	struct tls_link tls;	 /**< the TLS layer over it */
	uv_timer_t timer;	 /**< handshake deadline, then liveness, idle, drain or probe */
	uv_prepare_t flush;	 /**< active while out holds queries or an ACK is due: encrypts
				      and writes them once per loop iteration, before libuv polls */
	struct tls_upstream *up; /**< borrowed: the upstream outlives its connections */
	struct sockaddr_storage addr; /**< where it connects: the upstream's address then */
	enum tls_conn_state state;
	enum tls_timer_mode timer_mode;
	bool draining;	       /**< no new queries: the server's keepalive is 0 (RFC 7828), or
				    its address is gone */
	bool moved;	       /**< its path is gone (its upstream address, its local address, or
				    a network change before it was ready): queries it loses go
				    to another connection, even before it was ready */
	bool was_ready;	       /**< it was authenticated and carried queries */
	bool offered_session;  /**< a stored session was offered for resumption */
	bool answered;	       /**< an answer came on it */
	bool suites_narrow;    /**< it offers the narrow TLS 1.3 suites (tls_suites_narrow()) */
	bool settle_check;     /**< opened right after a network change: its connect is checked at
				   TLS_SETTLE_CONNECT_MS (tls_upstream_settling()) */
	bool stream_open;      /**< the stream's on_closed has not come yet */
	bool timer_open;       /**< the timer's close callback has not come yet */
	bool flush_open;       /**< the flush handle's close callback has not come yet */
	bool ack_due;	       /**< answers were read and more are awaited: ACK at the flush */
	unsigned keepalive_ms; /**< the server's edns-tcp-keepalive, 0 until it sends one */
	uint64_t last_rx;      /**< loop time bytes last arrived (liveness) */
	uint64_t probe_sent;   /**< loop time a probe was written after a network change */
	int close_status;      /**< given to queries still here when the handles have closed */
	int unreach;	       /**< TLS_TIMER_UNREACH: the connect's error */

	struct dns_frame frame; /**< plaintext: DNS messages with their length prefix */
	uint8_t *out;		/**< owned: queries framed and with their IDs, written in this
				     loop iteration and not yet encrypted (tls_conn.c, "writing") */
	size_t out_len, out_cap;
	struct tls_query *wait_head; /**< queries waiting for the handshake or for a free slot */
	struct tls_query *wait_tail;
	unsigned n_waiting;
	struct tls_slot *slots; /**< owned: n_slots, a power of two >= 2 * max_in_flight */
	unsigned n_slots;
	unsigned n_slots_used; /**< in flight, cancelled ones included */
	uint8_t *issued;       /**< owned: 65536 bits, the IDs written whose answer is still due */
	struct tls_auth auth;
	WOLFSSL_SESSION *held_session; /**< owned: made during the handshake (TLS 1.2), stored by
					    tls_conn_session_release() once authenticated */
	struct tls_conn *next;	       /**< in the upstream's list of connections */
};

struct tls_plain;

struct tls_upstream {
	uv_loop_t *loop;
	bool plain;	      /**< plain DNS (tls_upstream_new_plain): px, not client and conns */
	bool bootstrap;	      /**< plain, for bootstrap: only: A and AAAA queries only */
	struct tls_plain *px; /**< owned when plain, else NULL; freed by tls_plain.c */
	struct tls_client *client;    /**< borrowed; NULL when plain */
	struct sockaddr_storage addr; /**< the current address: where new connections go */
	socklen_t addr_len;
	struct sockaddr_storage *addrs; /**< owned array of n_addrs: every address (DoT); none
					     while a host name is not resolved yet */
	size_t n_addrs;
	size_t cur;		      /**< addrs[cur] is addr */
	char *name;		      /**< owned */
	char *auth_name;	      /**< owned or NULL */
	uint8_t (*pins)[TLS_PIN_LEN]; /**< owned array of n_pins */
	size_t n_pins;
	bool strict;
	bool accept_pinned_unset_clock; /**< tls_unset_clock: accept_pinned (tunable) */
	bool suites_wide; /**< it refused the narrow TLS 1.3 suites: offer them all (tls_ctx.c) */
	unsigned resume_failures; /**< resumptions failed in a row, without @tickets (which
				       count them for every worker, tls_tickets.c) */
	bool no_resume;		  /**< TLS_RESUME_FAILURES_MAX of them: no ticket offered to it */
	unsigned idle_timeout_ms;
	unsigned handshake_timeout_ms;
	unsigned liveness_ms;
	unsigned max_in_flight;
	unsigned max_conns;
	unsigned failures_before_backoff;
	unsigned backoff_max_ms;

	unsigned failures;	 /**< consecutive failures, reset by any success */
	uint64_t changed_at;	 /**< loop time of the last network change, 0 before any */
	unsigned settle_left;	 /**< free reconnects left after it (tls_upstream_settling()) */
	uint64_t backoff_until;	 /**< loop time; 0 when not backed off */
	uint64_t last_resort_at; /**< loop time a connection was last opened while backed off */
	bool tries_limited; /**< its last failure reached the server: a refused connect, a failed
			       handshake or authentication (tls_upstream_may_try()) */
	unsigned srtt_ms;   /**< smoothed RTT, 0 until the first answer */
	struct tls_sessions sessions; /**< its own tickets, when @tickets is NULL */
	struct tls_tickets *tickets;  /**< borrowed or NULL: where the tickets are kept instead */
	char *ticket_key;	      /**< owned: the key in @tickets */

	struct tls_conn *conns; /**< owned: every connection not yet freed */
	bool closing;
	void (*on_closed)(void *arg);
	void *on_closed_arg;
	struct tls_upstream_stats stats;
};

/* tls_auth.c */

/** wolfSSL's verify callback: gathers the facts and decides at the leaf (tls_auth.c). */
int tls_auth_on_verify(int preverify, WOLFSSL_X509_STORE_CTX *store);

/** Set up authentication of @ssl for @c: SNI, name check, verify callback context. */
int tls_auth_setup(struct tls_conn *c);

/** After the handshake: whether @c is authenticated as required; logs the outcome. */
bool tls_auth_check(struct tls_conn *c);

/* tls_upstream_clock_changed() and tls_clock_unset() are in tls_auth.c too. */

/* tls_ctx.c */

/**
 * Whether connections of @c offer fewer TLS 1.3 suites than they could (AES-256-GCM left out
 * where wolfCrypt has no AES instructions, tls_ctx.c), which a server may refuse.
 */
bool tls_suites_narrow(const struct tls_client *c);

/** Offer every AEAD suite on @ssl, AES-256-GCM among them: 0 or -EINVAL. */
int tls_suites_widen(WOLFSSL *ssl);

/** Whether session @s was made on a suite only the wider offer has (AES-256-GCM, TLS 1.3). */
bool tls_session_is_wide(const WOLFSSL_SESSION *s);

/**
 * @c has become READY, or is closing: store the session it holds if it is authenticated (and
 * not on its pin alone while the clock was unset: auth.clock_exempt), else drop it.
 */
void tls_conn_session_release(struct tls_conn *c);

/* tls_conn.c */

/** Open a new connection of @u (connect, then handshake) and link it into @u->conns. */
int tls_conn_open(struct tls_upstream *u, struct tls_conn **out);

/** Queue @q on @c; it is written when @c is ready and has a free slot. */
void tls_conn_submit(struct tls_conn *c, struct tls_query *q);

/** Whether @c takes new queries: not closing, not draining. */
bool tls_conn_usable(const struct tls_conn *c);

/** Queries on @c, written or waiting. */
unsigned tls_conn_load(const struct tls_conn *c);

/** Close @c at once; queries on it get @status. */
void tls_conn_abort(struct tls_conn *c, int status);

/**
 * The address of @c is no longer its upstream's: from the loop, close it if it is not ready yet
 * (its queries go to a new connection), else move its waiting queries and close it once its
 * answers are in.
 */
void tls_conn_drain(struct tls_conn *c);

/**
 * The network changed under @c: a connect or handshake under way starts again (its queries go
 * to a new connection); one whose route moved off its local address (stream_path_moved()) is
 * closed and its queries sent again; an idle connection is closed; one with queries outstanding
 * is probed
 * and dropped if nothing arrives within TLS_PROBE_MS (plus twice the RTT), its queries sent
 * again. No callback from inside the call.
 */
void tls_conn_suspect(struct tls_conn *c);

/**
 * If @addr (port ignored) is the local address of @c, close @c at once, its queries sent again
 * on another connection from the loop, and return true.
 */
bool tls_conn_addr_gone(struct tls_conn *c, const struct sockaddr *addr);

/** 16 random bits (getrandom), for message IDs: tls_conn.c's and tls_plain.c's. */
uint16_t tls_random_u16(void);

/* tls_plain.c */

/** Open @u's plain transport: its state and its connected UDP socket (u->px). */
int tls_plain_open(struct tls_upstream *u);

/** Send @q, checked and with q->qend set, over @u's UDP socket (or queue it). */
void tls_plain_query(struct tls_upstream *u, struct tls_query *q);

/** Withdraw @q from the plain queue it is in; a late answer to it is dropped. */
void tls_plain_cancel(struct tls_query *q);

/** Close every handle of plain @u (closing already); tls_upstream_plain_freed() follows. */
void tls_plain_close(struct tls_upstream *u);

/** The network changed: connect the UDP socket afresh; its TCP connection is suspect. */
void tls_plain_network_changed(struct tls_upstream *u);

/** @addr was removed: the UDP socket and TCP connection bound to it start afresh. */
void tls_plain_addr_gone(struct tls_upstream *u, const struct sockaddr *addr);

/** Add the gauges of plain @u's sockets to @out. */
void tls_plain_stats(const struct tls_upstream *u, struct tls_upstream_stats *out);

/** Up or idle: the state of plain @u when it is not backed off. */
enum tls_upstream_state tls_plain_state(const struct tls_upstream *u);

/* tls_upstream.c */

/** Called by a connection from its last close callback, just before it is freed. */
void tls_upstream_conn_freed(struct tls_upstream *u, struct tls_conn *c);

/** Called by tls_plain.c when plain @u's last handle has closed and u->px is freed. */
void tls_upstream_plain_freed(struct tls_upstream *u);

/* How long after a network change a connect refused by the host's own stack is retried. */
#define TLS_SETTLE_MS	   2000
#define TLS_SETTLE_RETRIES 20 /* free reconnects per change, at most */
/*
 * A link's neighbour that failed while it was down answers EHOSTUNREACH at once until the
 * link's return is reported; netwatch reports it within NETWATCH_SETTLE_MS. A connect refused
 * so outside the window waits this long for that report before it counts as failed.
 */
#define TLS_UNREACH_WAIT_MS 80
/* In that window, a TCP connect not done after three RTTs (100 ms at least, this at most) is
 * made again, rather than wait for TCP's own first retransmission of the SYN, a second later
 * (RFC 6298 §2.1). */
#define TLS_SETTLE_CONNECT_MS 250

/** Whether @u is within TLS_SETTLE_MS of a network change, with free reconnects left. */
bool tls_upstream_settle_window(const struct tls_upstream *u);

/**
 * A connect of @u failed with @status: true (TLS_SETTLE_RETRIES times per change at most) when it
 * was within TLS_SETTLE_MS of a network change and the host itself said unreachable (or the connect
 * was not done in TLS_SETTLE_CONNECT_MS: UV_ETIMEDOUT), so that the connection is made once
 * more instead of counting a failure.
 */
bool tls_upstream_settling(struct tls_upstream *u, int status);

/** A connection failed in a way that counts against the upstream's health. */
void tls_upstream_failure(struct tls_upstream *u, const char *why);

/**
 * The level at which to log a failure of @u about to be counted: LOG_WARNING, or LOG_DEBUG
 * while @u is backed off (tls_upstream_failure()'s comment says why).
 */
int tls_upstream_failure_level(const struct tls_upstream *u);

/**
 * A connection to @addr failed before it was authenticated: if that is the current address,
 * the next connection goes to the next one.
 */
void tls_upstream_addr_failed(struct tls_upstream *u, const struct sockaddr_storage *addr);

/**
 * An answer arrived: the upstream is healthy. (A handshake alone does not count: a server that
 * completes handshakes and then sends garbage must still back off.)
 */
void tls_upstream_success(struct tls_upstream *u);

/** An answer arrived @rtt_ms after its query was written. */
void tls_upstream_rtt(struct tls_upstream *u, uint64_t rtt_ms);

/**
 * Send @q again, on a fresh connection of @u if one may be opened, else on the least loaded
 * usable one: its connection was lost before its answer came (RFC 7766 §6.2.3). Gives @q
 * @status through its callback when that is not possible.
 */
void tls_upstream_requeue(struct tls_upstream *u, struct tls_query *q, int status);

/** Take a stored session for a new connection (the caller frees it), or NULL. */
WOLFSSL_SESSION *tls_upstream_session_take(struct tls_upstream *u);

/*
 * tls_tickets.c: a list of sessions, newest last, as an upstream keeps them and as the shared
 * store keeps them per key. take: the newest (the last one is offered again, duplicated); put:
 * takes @s over, dropping the oldest when full; drop: frees them all.
 */
WOLFSSL_SESSION *tls_sessions_take(struct tls_sessions *l);
void tls_sessions_put(struct tls_sessions *l, WOLFSSL_SESSION *s);
void tls_sessions_drop(struct tls_sessions *l);

/* tls_tickets.c: the shared store behind the three below. */
WOLFSSL_SESSION *tls_tickets_take(struct tls_tickets *t, const char *key);
bool tls_tickets_put(struct tls_tickets *t, const char *key, WOLFSSL_SESSION *s);
void tls_tickets_drop(struct tls_tickets *t, const char *key);
/**
 * A resumption under @key failed: its tickets go. Whether no ticket is offered under it any
 * more; *@now when this failure was the @max-th.
 */
bool tls_tickets_resume_failed(struct tls_tickets *t, const char *key, unsigned max, bool *now);
/** Whether @key reached that limit: no ticket is stored or taken under it. */
bool tls_tickets_resume_refused(struct tls_tickets *t, const char *key);
/** A resumption under @key succeeded (@refusal_too false), or a reload kept it (true). */
void tls_tickets_resume_reset(struct tls_tickets *t, const char *key, bool refusal_too);

/** Forget every stored session (the server refused one: they are stale). */
void tls_upstream_sessions_drop(struct tls_upstream *u);

/*
 * A handshake offering a stored session failed before any certificate came (tls_conn.c,
 * conn_resumption_failed()): its sessions are dropped, and after TLS_RESUME_FAILURES_MAX such
 * failures in a row (a resumed handshake that works resets the count; with a shared ticket
 * store, every worker's count towards it) none is offered to it any more, until a reload
 * (tls_upstream_tune()).
 */
#define TLS_RESUME_FAILURES_MAX 2
void tls_upstream_resumption_failed(struct tls_upstream *u);

/** Store @s, a session from a ticket the server just sent; takes it over (drops the oldest). */
void tls_upstream_session_put(struct tls_upstream *u, WOLFSSL_SESSION *s);
