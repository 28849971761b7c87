/*
 * origin: a client transport as the query pipeline sees it, the one interface between the two.
 * A message comes in on an origin and its answer goes back through it; query.c knows nothing
 * else of the transport behind (listen.c: a UDP listener, or one client TCP connection).
 *
 * Ownership: each transport embeds its struct origin and owns it; the ops table is static and
 * const, one per kind of transport. An origin handed to query_receive() is borrowed for that
 * call. A query that outlives the call (it waits for an upstream) takes a hold with
 * origin_hold() and gives it back with origin_release(), exactly once each: while held, the
 * origin's memory stays valid even if its transport has closed (answers to it are then
 * dropped). The hold is also where the transport counts the query against its limits.
 * origin_release() may free the transport: that happens when its handles have all closed (it
 * is then in its close path already) and nothing else holds it, following the rule that an
 * object owning libuv handles is freed only after its last close callback.
 *
 * Everything runs on the resolver's loop; no locking.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns_client_query;
struct origin;

/**
 * The kind of transport. query.c counts the two apart (queries_udp, queries_tcp), and answers
 * nothing at all to UDP from outside access_control: its source address may be forged, and an
 * answer would reflect traffic onto a victim (RFC 5358). TCP's handshake proves the address.
 */
enum origin_transport {
	ORIGIN_UDP,
	ORIGIN_TCP,
};

/** What a kind of transport does for the query pipeline. */
struct origin_ops {
	enum origin_transport transport;

	/**
	 * Send one answer. @buf holds 2 octets of room, then the @len octets of the message; the
	 * transport may write the room (TCP puts the length prefix there, RFC 1035 §4.2.2). @buf
	 * is the caller's scratch: whatever must outlive the call is copied. @peer is where the
	 * answer goes (UDP); a connection ignores it. A transport that has closed drops the
	 * answer (RFC 7766 §6.2.4), and one that cannot send it now may drop it as the network
	 * could: the client asks again.
	 */
	void (*reply)(struct origin *o, const struct sockaddr *peer, uint8_t *buf, size_t len);

	/**
	 * The largest answer to @cq this transport carries, for the message to be built to
	 * (truncated with TC past it): UDP, what the client's EDNS allows up to our own limit
	 * (dns_msg_udp_limit); TCP, 65535 octets.
	 */
	size_t (*answer_max)(const struct origin *o, const struct dns_client_query *cq);

	/**
	 * A query from @peer will wait for an upstream: hold @o and count the query against the
	 * limits (queries_max; TCP, tcp_queries_per_client; UDP, udp_queries_per_source). 0;
	 * -EBUSY when the query is over a limit and is to be dropped (UDP, which cannot push back:
	 * the client retries); -ENOMEM. On failure nothing is held.
	 */
	int (*hold)(struct origin *o, const struct sockaddr *peer);

	/**
	 * The query that hold() took with @peer no longer waits. Its share is given back (a TCP
	 * client paused for using up its share may be read again) and @o may be freed.
	 */
	void (*release)(struct origin *o, const struct sockaddr *peer);
};

/** Embedded in each transport's struct, which finds itself back with ORIGIN_ENTRY. */
struct origin {
	const struct origin_ops *ops; /**< borrowed: static */
};

/** The transport struct of @type that embeds origin @o as @member. */
#define ORIGIN_ENTRY(o, type, member) ((type *)((char *)(o)-offsetof(type, member)))

static inline enum origin_transport origin_transport(const struct origin *o)
{
	return o->ops->transport;
}

/** Send the answer in @buf (2 octets of room, then @len octets) to @peer; see origin_ops. */
static inline void origin_reply(struct origin *o, const struct sockaddr *peer, uint8_t *buf,
				size_t len)
{
	o->ops->reply(o, peer, buf, len);
}

/** The largest answer to @cq that @o carries. */
static inline size_t origin_answer_max(const struct origin *o, const struct dns_client_query *cq)
{
	return o->ops->answer_max(o, cq);
}

/** Hold @o for a query from @peer that waits for an upstream: 0, -EBUSY (over a limit), -ENOMEM. */
static inline int origin_hold(struct origin *o, const struct sockaddr *peer)
{
	return o->ops->hold(o, peer);
}

/** Give back the hold origin_hold(@o, @peer) took. @o may be freed. */
static inline void origin_release(struct origin *o, const struct sockaddr *peer)
{
	o->ops->release(o, peer);
}
