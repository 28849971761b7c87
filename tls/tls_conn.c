/*
 * tls_conn: one DoT connection, the DNS-over-TLS layer over two others (docs/ARCHITECTURE.md,
 * "Transport layers"): the stream (stream.c: the libuv socket, its buffers, backpressure, write
 * and close deadlines, its local address) and TLS (tls_link.c: wolfSSL in memory over it).
 *
 *   stream on_data -> tls_link_read -> plaintext -> frame -> conn_on_message -> the query
 *   tls_conn_submit -> slot, ID -> out -> (flush handle, once per loop iteration)
 *                   -> tls_link_write -> tls_link_flush -> stream_flush
 *
 * Queries are pipelined (RFC 7766 §6.2.1.1) up to max_in_flight, each under an ID that is
 * unique on the connection, and answers are taken in any order (§7). One timer per connection
 * serves three purposes in turn: the handshake deadline; while queries are outstanding, the
 * liveness deadline (nothing received for liveness_ms: the connection is half-open, e.g. after a
 * route change, and is dropped); while idle, the idle timeout, shortened to the server's
 * edns-tcp-keepalive (RFC 7828 §3.2.2) so that we close first.
 *
 * A connection keeps the address it was opened to. When its upstream's addresses change (a host
 * name found again) and that one is no longer among them, it drains (tls_conn_drain()). Events
 * of the path come down from the upstream: its local address removed (tls_conn_addr_gone(): it
 * is closed at once, its queries sent again), or the network changed (tls_conn_suspect(): an
 * idle connection is closed, a busy one is probed).
 *
 * Lifetime: a connection lives in its upstream's list from tls_conn_open() until its stream has
 * reported on_closed and its timer and flush handle have closed; conn_free() then frees it.
 * Queries on it are borrowed and get exactly one callback (or none if cancelled). Every path
 * that calls back into the caller rechecks the state afterwards, since the callback may close
 * the connection.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dns_wire.h"
#include "log.h"
#include "tls_dnssec.h"
#include "tls_int.h"

#define RX_CAP (18 * 1024) /* one full TLS record (16 KiB + overhead) and then some */

static void conn_drive(struct tls_conn *c);
static void conn_flush(struct tls_conn *c);
static void conn_push(struct tls_conn *c);
static void conn_fail_all(struct tls_conn *c, int status);
static void conn_close(struct tls_conn *c, int status);
static void conn_timer_update(struct tls_conn *c);
static void on_timer(uv_timer_t *t);
static void conn_probe_check(struct tls_conn *c);
static void conn_probe(struct tls_conn *c);

/*
 * Random bits for upstream message IDs. Over TLS IDs need only be unique per connection (RFC
 * 7766 §6.2.1), but unpredictable ones cost nothing; over plain UDP they are what stands
 * against forged answers (RFC 5452 §9.2).
 */
uint16_t tls_random_u16(void)
{
	static _Thread_local uint16_t pool[256]; /* per worker thread: no lock */
	static _Thread_local unsigned left;

	if (left == 0) {
		if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool)) {
			/* getrandom() does not fail on 512 bytes once seeded; fall back anyway. */
			for (unsigned i = 0; i < 256; i++) {
				pool[i] = (uint16_t)rand();
			}
		}
		left = 256;
	}
	return pool[--left];
}

/* --- closing --- */

/*
 * Both the stream and the timer are closed: nothing of libuv refers to us any more. Queries
 * still here learn now, never from inside a call of the caller's (tls_upstream_query,
 * tls_query_cancel).
 */
static void conn_free(struct tls_conn *c)
{
	conn_fail_all(c, c->close_status);
	tls_upstream_conn_freed(c->up, c);
	tls_conn_session_release(c); /* dropped: the state is CLOSED */
	if (!c->was_ready && c->auth.decided) {
		tls_ecc_tables_drop(); /* cut short after its certificate's checks built some */
	}
	tls_link_free(&c->tls);
	dns_frame_free(&c->frame);
	free(c->out);
	free(c->issued);
	free(c->slots);
	free(c);
}

/* The timer's or the flush handle's close callback; the last of the three frees. */
static void on_handle_closed(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (h == (uv_handle_t *)&c->timer) {
		c->timer_open = false;
	} else {
		c->flush_open = false;
	}
	if (!c->stream_open && !c->timer_open && !c->flush_open) {
		conn_free(c);
	}
}

/* Close the connection's own handles (the stream closes its own). */
static void conn_close_own(struct tls_conn *c)
{
	if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	}
	if (c->flush_open && !uv_is_closing((uv_handle_t *)&c->flush)) {
		uv_close((uv_handle_t *)&c->flush, on_handle_closed);
	}
}

static void on_stream_closed(struct stream *st)
{
	struct tls_conn *c = st->owner;

	c->stream_open = false;
	c->state = TLS_CONN_CLOSED;
	conn_close_own(c);
	if (!c->timer_open && !c->flush_open) {
		conn_free(c);
	}
}

static void conn_close_handles(struct tls_conn *c)
{
	c->state = TLS_CONN_CLOSED;
	uv_timer_stop(&c->timer);
	conn_close_own(c);
	stream_close(&c->st);
}

/*
 * Close at once: pending writes are cancelled by libuv (their callbacks still run, with
 * UV_ECANCELED, before the close callbacks). Queries still on the connection get @status from
 * the last close callback.
 */
static void conn_close(struct tls_conn *c, int status)
{
	if (c->state >= TLS_CONN_CLOSED) {
		return;
	}
	c->close_status = status;
	conn_close_handles(c);
}

/*
 * Close @c because its path is gone or suspect, not its upstream: the queries on it, written or
 * not, go to another connection (conn_query_lost()), and nothing is counted against health.
 */
static void conn_restart(struct tls_conn *c)
{
	c->moved = true;
	conn_close(c, TLS_ERR_LOST);
}

void tls_conn_abort(struct tls_conn *c, int status)
{
	conn_close(c, status);
}

/* Close for a reason that counts against the upstream (RFC 7858 §3.1: remember failures). */
static void conn_fail(struct tls_conn *c, int status, const char *why)
{
	if (c->state >= TLS_CONN_CLOSED) {
		return;
	}
	if (c->state < TLS_CONN_READY) {
		/* Not reached or not authenticated there: another address may do better. */
		tls_upstream_addr_failed(c->up, &c->addr);
	}
	tls_upstream_failure(c->up, why);
	conn_close(c, status);
}

/*
 * The server closed an established connection (close_notify, FIN or reset). Idle, or after it
 * answered, that is normal (RFC 7766 §6.2.3, RFC 7828 §3.2.2), not held against it, and the
 * queries still on it are sent again. With queries written and not one answered on it, it is a
 * failure (RFC 7858 §3.1): a server that takes every query and closes would otherwise be
 * connected to, and sent each query twice, for as long as it does that, and never backed off.
 */
static void conn_server_closed(struct tls_conn *c)
{
	c->up->stats.server_closes++;
	if (!c->answered && c->n_slots_used > 0) {
		c->up->tries_limited = true;
		conn_fail(c, TLS_ERR_LOST, "closed by the server without answering");
		return;
	}
	conn_close(c, TLS_ERR_LOST);
}

/*
 * Close politely: close_notify (RFC 8446 §6.1), then FIN once it has been written; the stream
 * closes hard if the peer never lets them out. Only used when nothing is in flight (idle
 * timeout, drained after a keepalive of 0, a network change on an idle connection).
 */
static void conn_close_gracefully(struct tls_conn *c)
{
	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	conn_push(c); /* what this iteration wrote goes before the close_notify */
	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	c->state = TLS_CONN_CLOSING;
	c->close_status = TLS_ERR_LOST;
	uv_timer_stop(&c->timer);
	tls_link_shutdown(&c->tls);
	stream_shutdown(&c->st); /* flushes the close_notify first */
}

static struct tls_query *wait_pop(struct tls_conn *c)
{
	struct tls_query *q = c->wait_head;

	if (q) {
		c->wait_head = q->next;
		if (!c->wait_head) {
			c->wait_tail = NULL;
		}
		q->next = NULL;
		c->n_waiting--;
	}
	return q;
}

/*
 * @q's connection is gone without its answer. A connection that was authenticated and then
 * lost or went silent (the server's idle close racing our write, RFC 7766 §6.2.3; a changed
 * path) says nothing about the query: it is sent once more, on a fresh connection. So does one
 * closed because its address is gone, ready or not. Any other failure (connect, handshake,
 * authentication, a broken answer) is the caller's to handle.
 */
static void conn_query_lost(struct tls_conn *c, struct tls_query *q, int status)
{
	bool written = q->in_flight;

	q->conn = NULL;
	q->in_flight = false;
	if ((c->was_ready || c->moved) && !c->up->closing && (!written || !q->resent) &&
	    (status == TLS_ERR_LOST || status == TLS_ERR_TIMEOUT)) {
		/* One that was never written (it waited for a slot, or for a drain) is not. */
		q->resent = q->resent || written;
		tls_upstream_requeue(c->up, q, status);
		return;
	}
	q->cb(q, status, NULL, 0, NULL);
}

/*
 * A draining connection (keepalive 0) writes nothing more: the queries waiting on it for a slot
 * go to another connection of the upstream now, rather than when this one has closed.
 */
static void conn_move_waiting(struct tls_conn *c)
{
	struct tls_query *q;

	while (c->state == TLS_CONN_READY && (q = wait_pop(c)) != NULL) {
		q->conn = NULL;
		tls_upstream_requeue(c->up, q, TLS_ERR_LOST);
	}
}

/* Give every query still on @c its failure (or another chance), and forget them. */
static void conn_fail_all(struct tls_conn *c, int status)
{
	struct tls_query *q;

	for (unsigned i = 0; i < c->n_slots; i++) {
		struct tls_slot *s = &c->slots[i];

		q = s->q;
		if (!s->used) {
			continue;
		}
		s->used = false;
		s->q = NULL;
		c->n_slots_used--;
		if (q) {
			conn_query_lost(c, q, status);
		}
	}
	while ((q = wait_pop(c)) != NULL) {
		conn_query_lost(c, q, status);
	}
}

/* --- writing --- */

/*
 * Queries are not encrypted one by one. Each is framed, given its ID and copied into out at
 * once (so that a frame shared with another try may take another ID right after); the flush
 * handle, a uv_prepare that runs once per loop iteration just before libuv polls, encrypts what
 * gathered in one wolfSSL_write and hands it to the kernel in one write. A burst of client
 * queries read in one iteration (libuv reads up to 32 datagrams per socket and event), and the
 * queries that freed slots let go after a read of answers, thus cost one TLS record and one
 * system call, not one each; the upstream, woken once, reads them at once too. Each message
 * stays whole within one write (RFC 7858 §3.3), and several in one record are allowed: TLS is
 * a byte stream to the DNS layer (RFC 7766 §8). Nothing waits for it: the handle runs before
 * the poll of the same iteration when the query was written from a timer or an idle handle,
 * and right after the other callbacks of the poll that read it otherwise. (A query written
 * from another prepare callback would wait for the next iteration; dotd has none.)
 */
#define OUT_RECORD (16 * 1024) /* the largest TLS record's plaintext (RFC 8446 §5.1) */

/* Hand the ciphertext wolfSSL produced to the stream. Called after every call into wolfSSL. */
static void conn_flush(struct tls_conn *c)
{
	int ret;

	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	ret = tls_link_flush(&c->tls);
	if (ret != 0) {
		log_info(LOG_TLS, "upstream '%s': write failed: %s", c->up->name, uv_strerror(ret));
		conn_close(c, TLS_ERR_LOST);
	}
}

/* Encrypt @len bytes of framed queries; the ciphertext waits in the stream. 0, or closed. */
static int conn_encrypt(struct tls_conn *c, const uint8_t *buf, size_t len)
{
	int err = 0;

	if (len == 0) {
		return 0;
	}
	c->up->stats.records++;
	if (tls_link_write(&c->tls, buf, len, &err) != 0) {
		log_info(LOG_TLS, "upstream '%s': TLS write failed (%d)", c->up->name, err);
		conn_close(c, TLS_ERR_LOST);
		return -EIO;
	}
	return 0;
}

/* Encrypt what gathered in out (one record, up to OUT_RECORD) and write it out now. */
static void conn_push(struct tls_conn *c)
{
	size_t len = c->out_len;

	uv_prepare_stop(&c->flush);
	c->out_len = 0;
	if (c->state != TLS_CONN_READY || conn_encrypt(c, c->out, len) != 0) {
		return; /* closed: the queries in it get their status from the close */
	}
	conn_flush(c);
}

/*
 * Once per loop iteration, before it polls: the queries gathered leave, and carry our ACK of
 * the answers read meanwhile; when none did, the ACK goes alone (conn_drive, stream.h).
 */
static void on_flush(uv_prepare_t *h)
{
	struct tls_conn *c = h->data;
	bool ack = c->ack_due && c->out_len == 0;

	c->ack_due = false;
	conn_push(c);
	if (ack && c->state == TLS_CONN_READY && c->n_slots_used > 0) {
		stream_ack_now(&c->st);
	}
}

/*
 * Write @len bytes of framed queries on ready @c: copied into out, encrypted and written by the
 * flush handle. 0, or a negative errno when @c was closed.
 */
static int conn_write(struct tls_conn *c, const uint8_t *buf, size_t len)
{
	if (c->out_len > 0 && c->out_len + len > OUT_RECORD) {
		/* A full record: encrypt it now, the socket write stays for the flush. */
		if (conn_encrypt(c, c->out, c->out_len) != 0) {
			return -EIO;
		}
		c->out_len = 0;
	}
	if (len >= OUT_RECORD) {
		/* A record of its own (a message of up to 64 KiB): not worth a copy. */
		if (conn_encrypt(c, buf, len) != 0) {
			return -EIO;
		}
	} else {
		if (c->out_cap - c->out_len < len) {
			size_t cap = c->out_cap ? 2 * c->out_cap : 1024;
			uint8_t *p;

			while (cap - c->out_len < len) {
				cap *= 2;
			}
			p = realloc(c->out, cap);
			if (!p) {
				conn_close(c, TLS_ERR_NOMEM);
				return -ENOMEM;
			}
			c->out = p;
			c->out_cap = cap;
		}
		memcpy(c->out + c->out_len, buf, len);
		c->out_len += len;
	}
	uv_prepare_start(&c->flush, on_flush);
	return 0;
}

/* The IDs written on @c whose answers have not come (RFC 7766 §7: late ones are not errors). */
static bool conn_id_issued(const struct tls_conn *c, uint16_t id)
{
	return c->issued[id >> 3] & (1u << (id & 7));
}

static void conn_id_set(struct tls_conn *c, uint16_t id, bool on)
{
	if (on) {
		c->issued[id >> 3] |= (uint8_t)(1u << (id & 7));
	} else {
		c->issued[id >> 3] &= (uint8_t) ~(1u << (id & 7));
	}
}

/*
 * An ID for @slot: the slot in the low bits, random high bits, and not one whose answer is
 * still due (so that a late answer is never taken for the new query's). After a few tries
 * any will do: a server that never answers thousands of IDs costs only that distinction.
 */
static uint16_t conn_id_new(struct tls_conn *c, unsigned slot)
{
	unsigned mask = c->n_slots - 1;
	uint16_t id = 0;

	for (int i = 0; i < 8; i++) {
		id = (uint16_t)((tls_random_u16() & ~mask) | slot);
		if (!conn_id_issued(c, id)) {
			break;
		}
	}
	conn_id_set(c, id, true);
	return id;
}

/*
 * A free slot: one exists, since at most half of them are used (a probe may add one). One that
 * never held an expired query is preferred, so that a late answer to it is still known.
 */
static unsigned conn_slot_find(const struct tls_conn *c)
{
	unsigned mask = c->n_slots - 1;
	unsigned start = tls_random_u16() & mask;
	unsigned slot = start;

	while (c->slots[slot].used || c->slots[slot].expired) {
		slot = (slot + 1) & mask;
		if (slot == start) {
			while (c->slots[slot].used) {
				slot = (slot + 1) & mask;
			}
			break;
		}
	}
	return slot;
}

/* Write waiting queries while slots are free. */
static void conn_send_waiting(struct tls_conn *c)
{
	bool was_idle = c->n_slots_used == 0;

	/* RFC 7828 §3.2.2: after a keepalive of 0 nothing more is written here. */
	while (c->wait_head && c->state == TLS_CONN_READY && !c->draining &&
	       c->n_slots_used < c->up->max_in_flight) {
		struct tls_query *q = wait_pop(c);
		unsigned slot = conn_slot_find(c);
		uint16_t id;

		/* The low bits name the slot, the high bits are random. */
		id = conn_id_new(c, slot);
		q->sent_at = uv_now(c->up->loop);
		c->slots[slot] =
			(struct tls_slot){.q = q, .id = id, .used = true, .sent_at = q->sent_at};
		c->n_slots_used++;
		q->id = id;
		q->in_flight = true;
		/* The frame may be shared with other tries: write the ID and copy it at once. */
		dns_put16(q->frame + 2, id);
		if (conn_write(c, q->frame, q->frame_len) != 0) {
			return;
		}
		c->up->stats.queries++;
	}
	if (c->state == TLS_CONN_READY && was_idle && c->n_slots_used > 0) {
		conn_timer_update(c);
	}
}

/* --- reading --- */

static void conn_protocol_error(struct tls_conn *c, const char *what)
{
	log_notice(LOG_TLS, "upstream '%s': %s, closing the connection", c->up->name, what);
	c->up->stats.proto_errors++;
	conn_fail(c, TLS_ERR_PROTO, what);
}

/* RFC 7828 §3.2.2: the server's TIMEOUT (100 ms units) in an answer; the latest wins. */
static void conn_keepalive(struct tls_conn *c, const uint8_t *msg, const struct dns_opt *opt)
{
	size_t off;
	uint16_t len;

	if (!opt->present || dns_opt_option(msg, opt, DNS_OPT_KEEPALIVE, &off, &len) != 0 ||
	    len != 2) {
		return;
	}
	c->keepalive_ms = 100u * dns_get16(msg + off);
	if (c->keepalive_ms == 0 && !c->draining) {
		/* §3.2.2: send nothing more here; close once the answers are in. */
		log_debug(LOG_TLS, "upstream '%s': keepalive 0, draining the connection",
			  c->up->name);
		c->draining = true;
	}
}

/* One DNS message from the upstream: match it to its query by ID and question (RFC 7766 §7). */
static void conn_on_message(struct tls_conn *c, const uint8_t *msg, size_t len)
{
	struct tls_slot *s;
	struct tls_query *q;
	struct dns_opt opt;

	if (len < DNS_HDR_LEN || !(dns_flags(msg) & DNS_QR)) {
		conn_protocol_error(c, "message that is not an answer");
		return;
	}
	s = &c->slots[dns_id(msg) & (c->n_slots - 1)];
	if (s->expired && !s->used && s->id == dns_id(msg)) {
		/* The late answer of a cancelled query whose slot expired: not unsolicited. */
		s->expired = false;
		conn_id_set(c, s->id, false);
		return;
	}
	if (!s->used || s->id != dns_id(msg)) {
		if (conn_id_issued(c, dns_id(msg))) {
			/* Late: its slot expired and was taken over since (a path that stalled). */
			conn_id_set(c, dns_id(msg), false);
			return;
		}
		conn_protocol_error(c, "answer with an ID that matches no query");
		return;
	}
	q = s->q;
	/*
	 * The frame may be shared with a try on another upstream, which wrote its own ID into it
	 * since: this try's ID is the slot's.
	 */
	if (q) {
		dns_put16(q->frame + 2, s->id);
	}
	if (q ? dns_answer_check(q->frame + 2, q->qend, msg, len, &opt) != 0
	      : dns_opt_find(msg, len, &opt) != 0) {
		/* RFC 7766 §7, RFC 5452 §9.1: the whole question, or the connection is broken. */
		conn_protocol_error(c, "answer that does not match its query or does not parse");
		return;
	}
	conn_keepalive(c, msg, &opt);
	conn_id_set(c, s->id, false);
	s->used = false;
	s->q = NULL;
	c->n_slots_used--;
	c->answered = true;
	tls_upstream_success(c->up);
	if (!q) {
		return; /* its query was cancelled; the answer was still due */
	}
	tls_upstream_rtt(c->up, uv_now(c->up->loop) - q->sent_at);
	q->conn = NULL;
	q->in_flight = false;
	c->up->stats.answers++;
	q->cb(q, 0, msg, len, &opt);
}

/*
 * Decrypt and handle every complete message. No bound per call is needed: each answer either
 * frees a slot or closes the connection, so an upstream cannot make us loop longer than the
 * queries we have in flight.
 */
static void conn_read_plaintext(struct tls_conn *c)
{
	while (c->state == TLS_CONN_READY) {
		const uint8_t *msg;
		uint8_t *space;
		size_t room, len, n;
		int ret, err = 0;

		/* First take what is complete, so the frame never holds more than one message. */
		ret = dns_frame_next(&c->frame, &msg, &len);
		if (ret < 0) {
			conn_protocol_error(c, "zero-length DNS message");
			return;
		}
		if (ret == 1) {
			conn_on_message(c, msg, len);
			continue;
		}
		if (dns_frame_space(&c->frame, 4096, &space, &room) != 0) {
			conn_close(c, TLS_ERR_NOMEM);
			return;
		}
		switch (tls_link_read(&c->tls, space, room, &n, &err)) {
		case TLS_LINK_DATA:
			dns_frame_commit(&c->frame, n);
			continue;
		case TLS_LINK_WANT:
			return;
		case TLS_LINK_CLOSED:
			/* close_notify: the server is done with us (idle, RFC 7766 §6.2.3). */
			log_debug(LOG_TLS, "upstream '%s': closed by the server", c->up->name);
			conn_server_closed(c);
			return;
		case TLS_LINK_ERROR:
			break;
		}
		log_info(LOG_TLS, "upstream '%s': TLS read failed: %s", c->up->name,
			 tls_link_strerror(err));
		c->up->stats.proto_errors++;
		conn_fail(c, TLS_ERR_PROTO, "TLS read failed");
		return;
	}
}

static void conn_handshake_done(struct tls_conn *c)
{
	struct tls_upstream *u = c->up;

	if (!tls_auth_check(c)) {
		u->stats.auth_failures++;
		conn_fail(c, TLS_ERR_AUTH, "authentication failed");
		return;
	}
	if (wolfSSL_session_reused(c->tls.ssl)) {
		u->stats.handshakes_resumed++;
		u->resume_failures = 0;
		if (u->tickets) {
			tls_tickets_resume_reset(u->tickets, u->ticket_key, false);
		}
	} else {
		u->stats.handshakes_full++;
		if (c->offered_session) {
			/* Refused: the server rotated its ticket key, or they expired. */
			tls_upstream_sessions_drop(u);
		}
	}
	log_info(LOG_TLS, "upstream '%s': connected, %s %s%s", u->name,
		 wolfSSL_get_version(c->tls.ssl), wolfSSL_get_cipher_name(c->tls.ssl),
		 wolfSSL_session_reused(c->tls.ssl) ? ", resumed" : "");
	c->state = TLS_CONN_READY;
	c->was_ready = true;
	tls_conn_session_release(c);
	conn_timer_update(c);
	conn_send_waiting(c);
}

/*
 * Whether the server turned down the suites offered: a fatal handshake_failure or
 * insufficient_security alert (RFC 8446 §4.1.1, §6.2) before its certificate came, to a
 * ClientHello with the narrow TLS 1.3 list. Another reason for those alerts costs one more
 * handshake in the upstream's life, which then fails and is counted.
 */
static bool conn_suites_refused(struct tls_conn *c)
{
	WOLFSSL_ALERT_HISTORY h;

	if (!c->suites_narrow || c->auth.decided ||
	    wolfSSL_get_alert_history(c->tls.ssl, &h) != WOLFSSL_SUCCESS) {
		return false;
	}
	return h.last_rx.level == alert_fatal &&
	       (h.last_rx.code == handshake_failure || h.last_rx.code == insufficient_security);
}

/*
 * The handshake offered a stored session and failed before any certificate came: the server
 * took the ticket (or session ID) and then broke, rather than ignore it and go on with a full
 * handshake as it should (RFC 8446 §4.6.1, RFC 5077 §3.3). Offered again, the same ticket fails
 * the same way: the last one left is kept for reuse (tls_sessions_take()), so without this one
 * bad ticket would fail every connection to the upstream until a restart. The tickets are
 * dropped, and the queries go to a connection without one; if that fails too, it is counted.
 * A session was taken from the store for this connection, so each such restart follows a
 * ticket stored by a handshake that worked: they cannot follow one another.
 */
static bool conn_resumption_failed(const struct tls_conn *c)
{
	return c->offered_session && !c->auth.decided;
}

/* Run wolfSSL on whatever ciphertext has arrived: the handshake, then the records. */
static void conn_drive(struct tls_conn *c)
{
	if (c->state == TLS_CONN_HANDSHAKE) {
		int err = 0;
		int ret = tls_link_handshake(&c->tls, &err);

		if (ret != 0) {
			tls_ecc_tables_drop(); /* 2.5 MB of ECC tables, not needed again soon */
		}
		conn_flush(c); /* the ClientHello, a Finished, or an alert */
		if (ret == 0 || c->state != TLS_CONN_HANDSHAKE) {
			return;
		}
		if (ret < 0) {
			if (c->auth.decided && c->auth.verdict != TLS_AUTH_OK) {
				tls_auth_check(c); /* logs why */
				c->up->stats.auth_failures++;
				c->up->tries_limited = true;
				conn_fail(c, TLS_ERR_AUTH, "authentication failed");
				return;
			}
			if (conn_suites_refused(c)) {
				/* Not the upstream's failure: its queries go to a wider offer. */
				log_notice(
					LOG_TLS, "upstream '%s': %s", c->up->name,
					"refused the TLS 1.3 suites offered: adding AES-256-GCM");
				c->up->suites_wide = true;
				conn_restart(c);
				return;
			}
			if (conn_resumption_failed(c)) {
				log_notice(LOG_TLS,
					   "upstream '%s': resuming a session failed (%s): "
					   "dropping its tickets, connecting afresh",
					   c->up->name, tls_link_strerror(err));
				tls_upstream_resumption_failed(c->up);
				conn_restart(c);
				return;
			}
			log_msg(tls_upstream_failure_level(c->up), LOG_TLS,
				"upstream '%s': TLS handshake failed: %s", c->up->name,
				tls_link_strerror(err));
			c->up->stats.conn_failures++;
			c->up->tries_limited = true;
			conn_fail(c, TLS_ERR_CONNECT, "TLS handshake failed");
			return;
		}
		conn_handshake_done(c);
	}
	if (c->state == TLS_CONN_READY) {
		unsigned before = c->n_slots_used;

		conn_read_plaintext(c);
		conn_flush(c); /* alerts, key updates */
		if (c->state != TLS_CONN_READY) {
			return;
		}
		if (c->draining && c->n_waiting > 0) {
			conn_move_waiting(c);
			if (c->state != TLS_CONN_READY) {
				return;
			}
		}
		if (c->draining && c->n_slots_used == 0) {
			c->up->stats.idle_closes++;
			conn_close_gracefully(c);
			return;
		}
		/* Freed slots let waiting queries go; then time whatever is outstanding. */
		if (c->n_slots_used < before) {
			conn_send_waiting(c);
		}
		/*
		 * Answers still to come: unless a query written before the loop next polls carries
		 * our ACK, on_flush sends it alone, or a server with Nagle on holds the next answer
		 * until our next query (stream.h).
		 */
		if (c->state == TLS_CONN_READY && c->n_slots_used > 0) {
			c->ack_due = true;
			uv_prepare_start(&c->flush, on_flush);
		}
		conn_timer_update(c);
	}
}

/*
 * When a connect made right after a network change is given up and made again: three round
 * trips as the answers measured them (an overestimate: they include the upstream's work),
 * within 100 ms and TLS_SETTLE_CONNECT_MS.
 */
static unsigned conn_settle_ms(const struct tls_upstream *u)
{
	unsigned ms = 3 * u->srtt_ms;

	if (ms < 100) {
		return 100;
	}
	return ms < TLS_SETTLE_CONNECT_MS ? ms : TLS_SETTLE_CONNECT_MS;
}

/* --- the stream's callbacks --- */

static void on_stream_data(struct stream *st)
{
	struct tls_conn *c = st->owner;

	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	/* Something arrived: the connection is alive (the liveness timer reads this). */
	c->last_rx = uv_now(c->up->loop);
	if (c->timer_mode == TLS_TIMER_PROBE && c->state == TLS_CONN_READY) {
		/* The path survived the network change: back to timing the answers. */
		c->probe_sent = 0;
		c->timer_mode = TLS_TIMER_IDLE;
		conn_timer_update(c);
	}
	conn_drive(c);
	if (c->state < TLS_CONN_CLOSING && stream_rx_stuck(&c->st)) {
		/* wolfSSL took nothing from a full buffer: it cannot make progress. */
		conn_protocol_error(c, "TLS input stalled");
	}
}

static void on_stream_eof(struct stream *st, int status)
{
	struct tls_conn *c = st->owner;

	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	if (c->state < TLS_CONN_READY) {
		log_msg(tls_upstream_failure_level(c->up), LOG_TLS,
			"upstream '%s': connection lost during the handshake: %s", c->up->name,
			uv_strerror(status));
		c->up->stats.conn_failures++;
		conn_fail(c, TLS_ERR_CONNECT, "connection lost during the handshake");
		return;
	}
	/* The server closed (or reset) an established connection: conn_server_closed(). */
	log_debug(LOG_TLS, "upstream '%s': connection closed by the server: %s", c->up->name,
		  status == UV_EOF ? "end of stream" : uv_strerror(status));
	conn_server_closed(c);
}

static void on_stream_error(struct stream *st, int status)
{
	struct tls_conn *c = st->owner;

	if (c->state >= TLS_CONN_CLOSED) {
		return;
	}
	log_info(LOG_TLS, "upstream '%s': write failed: %s", c->up->name, uv_strerror(status));
	conn_close(c, TLS_ERR_LOST);
}

static void conn_connect_failed(struct tls_conn *c, int status)
{
	log_msg(tls_upstream_failure_level(c->up), LOG_TLS, "upstream '%s': connect failed: %s",
		c->up->name, uv_strerror(status));
	c->up->stats.conn_failures++;
	c->up->tries_limited = status == UV_ECONNREFUSED; /* a reset from the server's side */
	conn_fail(c, TLS_ERR_CONNECT, "connect failed");
}

static void on_stream_connect(struct stream *st, int status)
{
	struct tls_conn *c = st->owner;

	if (c->state != TLS_CONN_CONNECTING) {
		return; /* closed meanwhile; the handles are closing */
	}
	if (status != 0 && tls_upstream_settling(c->up, status)) {
		/*
		 * Right after a network change the kernel may still hold a neighbour entry that
		 * failed while the link was down (EHOSTUNREACH at once); a new connect asks again
		 * and succeeds. A few times per change, not counted, the queries moved to it.
		 */
		log_info(LOG_TLS,
			 "upstream '%s': connect failed right after a network change (%s), "
			 "trying once more",
			 c->up->name, uv_strerror(status));
		conn_restart(c);
		return;
	}
	if (status == UV_EHOSTUNREACH && c->timer_mode == TLS_TIMER_HANDSHAKE) {
		/* Perhaps a link that just came back, not reported yet: on_timer decides. */
		c->unreach = status;
		c->timer_mode = TLS_TIMER_UNREACH;
		uv_timer_start(&c->timer, on_timer, TLS_UNREACH_WAIT_MS, 0);
		return;
	}
	if (status != 0) {
		conn_connect_failed(c, status);
		return;
	}
	c->state = TLS_CONN_HANDSHAKE;
	conn_drive(c);
}

static const struct stream_ops conn_stream_ops = {
	.on_connect = on_stream_connect,
	.on_data = on_stream_data,
	.on_eof = on_stream_eof,
	.on_error = on_stream_error,
	.on_closed = on_stream_closed,
};

/*
 * The liveness timer. A connection on which a query has waited liveness_ms, and from which
 * nothing has arrived for as long, is dead (half-open, e.g. after a route change). A cancelled
 * query's slot that has waited liveness_ms for its answer expires instead: an answer the
 * upstream never sends must not use up the connection, nor make it look dead; but when nothing
 * at all has arrived since it was written, *@suspect is set, and the connection is probed: the
 * clients of those queries gave up, and nothing else would ever find out. Returns the ms
 * until the timer is next due (UINT64_MAX when nothing is outstanding any more), or 0 when the
 * connection is dead.
 */
static uint64_t conn_liveness_check(struct tls_conn *c, bool *suspect)
{
	uint64_t now = uv_now(c->up->loop);
	uint64_t live = c->up->liveness_ms;
	uint64_t oldest = UINT64_MAX, next = UINT64_MAX;

	for (unsigned i = 0; i < c->n_slots; i++) {
		struct tls_slot *s = &c->slots[i];

		if (!s->used) {
			continue;
		}
		if (s->q) {
			oldest = s->sent_at < oldest ? s->sent_at : oldest;
		} else if (s->sent_at + live <= now) {
			s->used = false;
			s->expired = true;
			c->n_slots_used--;
			/* Nothing at all since it was written: the upstream, or the path, is gone.
			 */
			*suspect = *suspect || c->last_rx <= s->sent_at;
		} else if (s->sent_at + live < next) {
			next = s->sent_at + live;
		}
	}
	if (oldest != UINT64_MAX) {
		uint64_t due = (oldest > c->last_rx ? oldest : c->last_rx) + live;

		if (now >= due) {
			return 0;
		}
		next = due < next ? due : next;
	}
	return next == UINT64_MAX ? UINT64_MAX : next - now;
}

static void on_timer(uv_timer_t *t)
{
	struct tls_conn *c = t->data;
	bool suspect = false;
	uint64_t next;

	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	switch (c->timer_mode) {
	case TLS_TIMER_HANDSHAKE:
		if (c->settle_check) {
			/* A SYN sent while the path came back may be lost (a neighbour not resolved
			 * yet): TCP would wait a second to send it again; a new connect asks now.
			 */
			c->settle_check = false;
			if (c->state == TLS_CONN_CONNECTING &&
			    tls_upstream_settling(c->up, UV_ETIMEDOUT)) {
				log_info(LOG_TLS,
					 "upstream '%s': no connect %u ms after a network change, "
					 "trying once more",
					 c->up->name, conn_settle_ms(c->up));
				conn_restart(c);
				return;
			}
			uv_timer_start(&c->timer, on_timer,
				       c->up->handshake_timeout_ms - conn_settle_ms(c->up), 0);
			return;
		}
		log_msg(tls_upstream_failure_level(c->up), LOG_TLS, "upstream '%s': %s timed out",
			c->up->name, c->state == TLS_CONN_CONNECTING ? "connect" : "TLS handshake");
		c->up->stats.conn_failures++;
		c->up->tries_limited = false; /* the tries wait on the one under way */
		conn_fail(c, TLS_ERR_CONNECT, "connect or handshake timed out");
		return;
	case TLS_TIMER_LIVENESS:
		next = conn_liveness_check(c, &suspect);
		/* After a keepalive of 0 nothing more is written, not even a probe (RFC 7828). */
		if (next > 0 && suspect && c->timer_mode == TLS_TIMER_LIVENESS && !c->draining) {
			log_debug(LOG_TLS,
				  "upstream '%s': answers due for %u ms and nothing received, "
				  "probing",
				  c->up->name, c->up->liveness_ms);
			conn_probe(c);
			return;
		}
		if (next > 0) {
			if (next != UINT64_MAX) {
				uv_timer_start(&c->timer, on_timer, next, 0);
			} else if (c->draining) {
				c->up->stats.idle_closes++;
				conn_close_gracefully(c);
			} else {
				conn_timer_update(c); /* only expired slots were left: idle */
				conn_send_waiting(c);
			}
			return;
		}
		log_notice(LOG_TLS,
			   "upstream '%s': nothing received for %u ms with %u queries "
			   "outstanding, dropping the connection",
			   c->up->name, c->up->liveness_ms, c->n_slots_used);
		c->up->stats.dead++;
		conn_fail(c, TLS_ERR_TIMEOUT, "connection went silent");
		return;
	case TLS_TIMER_IDLE:
		if (c->n_slots_used == 0 && c->n_waiting == 0) {
			log_debug(LOG_TLS, "upstream '%s': idle, closing", c->up->name);
			c->up->stats.idle_closes++;
			conn_close_gracefully(c);
		}
		return;
	case TLS_TIMER_PROBE:
		conn_probe_check(c);
		return;
	case TLS_TIMER_UNREACH:
		if (tls_upstream_settling(c->up, c->unreach)) {
			log_info(
				LOG_TLS,
				"upstream '%s': connect refused by this host (%s), and the network "
				"changed since: trying once more",
				c->up->name, uv_strerror(c->unreach));
			conn_restart(c);
			return;
		}
		conn_connect_failed(c, c->unreach);
		return;
	case TLS_TIMER_DRAIN:
		if (c->state < TLS_CONN_READY) {
			/* Nothing was written on it: its queries go to the new address. */
			conn_close(c, TLS_ERR_LOST);
			return;
		}
		conn_move_waiting(c);
		if (c->state != TLS_CONN_READY) {
			return;
		}
		if (c->n_slots_used == 0) {
			conn_close_gracefully(c);
			return;
		}
		/* conn_drive() closes it once the answers are in; liveness times them. */
		c->timer_mode = TLS_TIMER_IDLE;
		conn_timer_update(c);
		return;
	}
}

/* --- events of the path (tls_upstream_network_changed, tls_upstream_addr_gone) --- */

/* Queries on @c that still want their answer (not cancelled ones, not probes), or waiting. */
static unsigned conn_live_queries(const struct tls_conn *c)
{
	unsigned n = c->n_waiting;

	for (unsigned i = 0; i < c->n_slots; i++) {
		n += c->slots[i].used && c->slots[i].q;
	}
	return n;
}

/*
 * Ask the upstream something it answers at once (". IN NS", which every resolver holds from
 * its priming, RFC 8109), in a slot of its own whose answer is dropped like a cancelled
 * query's. Padded to 128 octets like the queries (RFC 8467 §4.1), so that it looks like one.
 */
static void conn_probe(struct tls_conn *c)
{
	static const uint8_t q[] = {
		0, 0, 0x01, 0x00, 0,	1, 0, 0, 0, 0, 0, 1, /* header: RD, QD 1, AR 1 */
		0, 0, 2,    0,	  1,			     /* ". IN NS" */
		0, 0, 41,   0x04, 0xd0, 0, 0, 0, 0,	     /* OPT: 1232 bytes, no flags */
	};
	uint8_t msg[2 + 128] = {0};
	size_t pad = 128 - sizeof(q) - 2 - 4;
	unsigned slot = conn_slot_find(c);
	uint16_t id = conn_id_new(c, slot);
	unsigned wait = TLS_PROBE_MS + 2 * c->up->srtt_ms;
	uint64_t now = uv_now(c->up->loop);

	memcpy(msg + 2, q, sizeof(q));
	dns_put16(msg, 128);
	dns_put16(msg + 2, id);
	dns_put16(msg + 2 + sizeof(q), (uint16_t)(4 + pad)); /* RDLEN */
	dns_put16(msg + 2 + sizeof(q) + 2, 12);		     /* Padding, RFC 7830 */
	dns_put16(msg + 2 + sizeof(q) + 4, (uint16_t)pad);
	c->slots[slot] = (struct tls_slot){.q = NULL, .id = id, .used = true, .sent_at = now};
	c->n_slots_used++;
	/* Now, with whatever this iteration wrote before it: its time runs from here. */
	if (conn_write(c, msg, sizeof(msg)) != 0) {
		return;
	}
	conn_push(c);
	if (c->state != TLS_CONN_READY) {
		return;
	}
	c->probe_sent = now;
	c->timer_mode = TLS_TIMER_PROBE;
	uv_timer_start(&c->timer, on_timer, wait, 0);
	log_debug(LOG_TLS,
		  "upstream '%s': the network changed, probing a connection with %u "
		  "queries outstanding",
		  c->up->name, conn_live_queries(c));
}

/* The probe's time is up and nothing arrived since it was written: the path is dead. */
static void conn_probe_check(struct tls_conn *c)
{
	log_notice(LOG_TLS,
		   "upstream '%s': nothing received %llu ms after the network changed, with %u "
		   "queries outstanding: dropping the connection, sending them again",
		   c->up->name, (unsigned long long)(uv_now(c->up->loop) - c->probe_sent),
		   conn_live_queries(c));
	c->up->stats.dead++;
	/* Not the upstream's failure: the path under it changed. */
	conn_close(c, TLS_ERR_TIMEOUT);
}

void tls_conn_suspect(struct tls_conn *c)
{
	if (c->state >= TLS_CONN_CLOSING) {
		return;
	}
	if (c->state < TLS_CONN_READY) {
		/* A connect or handshake on the old path: start it again on the new one. */
		conn_restart(c);
		return;
	}
	if (stream_path_moved(&c->st)) {
		/*
		 * The kernel would now send from another address (the default route moved to
		 * another link): what this connection sends from the old one is routed where its
		 * source may be filtered, and answers to it may not come back. Nothing to probe.
		 */
		log_info(LOG_TLS,
			 "upstream '%s': the route moved off the connection's address, "
			 "closing it",
			 c->up->name);
		conn_restart(c);
		return;
	}
	if (conn_live_queries(c) == 0) {
		c->up->stats.idle_closes++;
		conn_close_gracefully(c);
		return;
	}
	/* Draining (keepalive 0, RFC 7828 §3.2.2) writes nothing more: liveness times it. */
	if (c->timer_mode != TLS_TIMER_PROBE && c->timer_mode != TLS_TIMER_DRAIN && !c->draining) {
		conn_probe(c);
	}
}

bool tls_conn_addr_gone(struct tls_conn *c, const struct sockaddr *addr)
{
	if (c->state >= TLS_CONN_CLOSED || !stream_uses_local(&c->st, addr)) {
		return false;
	}
	/* Nothing sent from a removed address can be answered: its queries go elsewhere now. */
	conn_restart(c);
	return true;
}

void tls_conn_drain(struct tls_conn *c)
{
	if (c->state >= TLS_CONN_CLOSING || c->moved) {
		return;
	}
	c->moved = true;
	c->draining = true;
	/* From the loop: the caller (tls_upstream_set_addresses) must see no callback. */
	c->timer_mode = TLS_TIMER_DRAIN;
	uv_timer_start(&c->timer, on_timer, 0, 0);
}

/*
 * Time what the connection is waiting for: an answer (liveness) while queries are outstanding,
 * else the idle timeout, or the server's keepalive less a margin so that we close first.
 */
static void conn_timer_update(struct tls_conn *c)
{
	unsigned idle = c->up->idle_timeout_ms;

	if (c->state != TLS_CONN_READY || c->timer_mode == TLS_TIMER_DRAIN ||
	    c->timer_mode == TLS_TIMER_PROBE) {
		return; /* a drain or a probe is due first; it times what follows */
	}
	if (c->n_slots_used > 0) {
		if (c->timer_mode != TLS_TIMER_LIVENESS) {
			c->timer_mode = TLS_TIMER_LIVENESS;
			uv_timer_start(&c->timer, on_timer, c->up->liveness_ms, 0);
		}
		return;
	}
	if (c->keepalive_ms > 0) {
		unsigned margin = c->keepalive_ms / 10 < 500 ? c->keepalive_ms / 10 : 500;

		if (c->keepalive_ms - margin < idle) {
			idle = c->keepalive_ms - margin;
		}
	}
	c->timer_mode = TLS_TIMER_IDLE;
	uv_timer_start(&c->timer, on_timer, idle, 0);
}

int tls_conn_open(struct tls_upstream *u, struct tls_conn **out)
{
	WOLFSSL_SESSION *session;
	struct tls_conn *c;
	bool narrow;
	int ret;

	/* At start the context waits for this: the first connection of its upstreams makes it. */
	if (!u->client->ctx) {
		ret = tls_client_load(u->client);
		if (ret != 0) {
			return ret;
		}
		if (tls_client_failed(u->client)) {
			log_err(LOG_TLS, "only pinned upstreams can be authenticated until a "
					 "reload names trust anchors that load");
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->up = u;
	c->close_status = TLS_ERR_LOST;
	c->addr = u->addr;
	dns_frame_init(&c->frame);
	c->n_slots = 2;
	while (c->n_slots < 2 * u->max_in_flight) {
		c->n_slots *= 2;
	}
	c->slots = calloc(c->n_slots, sizeof(*c->slots));
	c->issued = calloc(65536 / 8, 1);
	if (!c->slots || !c->issued) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = tls_link_init(&c->tls, u->client->ctx, &c->st, c);
	if (ret != 0) {
		goto cleanup;
	}
	ret = tls_auth_setup(c);
	if (ret != 0) {
		goto cleanup;
	}
	/* RFC 7858 §3.4, RFC 8310 §9: resume with a ticket of this upstream, if one is left. */
	wolfSSL_UseSessionTicket(c->tls.ssl);
	session = tls_upstream_session_take(u);
	narrow = tls_suites_narrow(u->client);
	if (session && narrow && !u->suites_wide && tls_session_is_wide(session)) {
		/*
		 * Made on the wider offer: another worker (the tickets are shared) or this upstream
		 * before a reload saw the server refuse the narrow one. A narrow ClientHello cannot
		 * carry it (wolfSSL fails the handshake on the PSK's hash), so offer what it needs.
		 */
		log_info(LOG_TLS, "upstream '%s': a ticket made on AES-256-GCM: offering it too",
			 u->name);
		u->suites_wide = true;
	}
	if (u->suites_wide) {
		ret = tls_suites_widen(c->tls.ssl);
		if (ret != 0) {
			if (session) {
				wolfSSL_SESSION_free(session);
			}
			goto cleanup;
		}
	}
	c->suites_narrow = narrow && !u->suites_wide;
	if (session) {
		c->offered_session = wolfSSL_set_session(c->tls.ssl, session) == WOLFSSL_SUCCESS;
		wolfSSL_SESSION_free(session);
	}
	/* A write the peer does not take for as long as an answer may take is as dead. */
	ret = stream_open(&c->st, u->loop, (const struct sockaddr *)&c->addr, RX_CAP,
			  u->liveness_ms, &conn_stream_ops, c);
	if (ret != 0) {
		log_msg(tls_upstream_failure_level(u), LOG_TLS, "upstream '%s': connect failed: %s",
			u->name, uv_strerror(ret));
		goto cleanup;
	}
	/* From here on the connection is freed by closing its stream and timer. */
	c->stream_open = true;
	uv_timer_init(u->loop, &c->timer);
	c->timer.data = c;
	c->timer_open = true;
	uv_prepare_init(u->loop, &c->flush);
	c->flush.data = c;
	c->flush_open = true;
	c->next = u->conns;
	u->conns = c;
	u->stats.connections++;
	if (u->backoff_until > uv_now(u->loop)) {
		u->last_resort_at = uv_now(u->loop); /* tls_upstream_may_try() */
	}
	c->timer_mode = TLS_TIMER_HANDSHAKE;
	c->settle_check =
		u->handshake_timeout_ms > conn_settle_ms(u) && tls_upstream_settle_window(u);
	uv_timer_start(&c->timer, on_timer,
		       c->settle_check ? conn_settle_ms(u) : u->handshake_timeout_ms, 0);
	log_debug(LOG_TLS, "upstream '%s': connecting%s", u->name, session ? " (resuming)" : "");
	*out = c;
	return 0;

cleanup:
	tls_link_free(&c->tls);
	free(c->issued);
	free(c->slots);
	free(c);
	return ret;
}

bool tls_conn_usable(const struct tls_conn *c)
{
	/*
	 * While probed, or refused by the host and waiting for a network change, new queries go
	 * to a fresh connection rather than wait for the verdict.
	 */
	return c->state < TLS_CONN_CLOSING && !c->draining && c->timer_mode != TLS_TIMER_PROBE &&
	       c->timer_mode != TLS_TIMER_UNREACH;
}

unsigned tls_conn_load(const struct tls_conn *c)
{
	return c->n_slots_used + c->n_waiting;
}

void tls_conn_submit(struct tls_conn *c, struct tls_query *q)
{
	q->conn = c;
	q->next = NULL;
	q->in_flight = false;
	if (c->wait_tail) {
		c->wait_tail->next = q;
	} else {
		c->wait_head = q;
	}
	c->wait_tail = q;
	c->n_waiting++;
	if (c->state == TLS_CONN_READY) {
		conn_send_waiting(c);
	}
}

bool tls_query_sent(const struct tls_query *q)
{
	return (q->conn || q->pq) && q->in_flight;
}

void tls_query_cancel(struct tls_query *q)
{
	struct tls_conn *c = q->conn;

	if (q->pq) {
		tls_plain_cancel(q);
		return;
	}
	if (!c) {
		return;
	}
	if (q->in_flight) {
		/* Keep the slot: the answer is still due, and must not look unsolicited. */
		c->slots[q->id & (c->n_slots - 1)].q = NULL;
	} else {
		struct tls_query **pp = &c->wait_head;

		while (*pp && *pp != q) {
			pp = &(*pp)->next;
		}
		REQUIRE(*pp == q);
		*pp = q->next;
		c->n_waiting--;
		if (c->wait_tail == q) {
			c->wait_tail = NULL;
			for (struct tls_query *p = c->wait_head; p; p = p->next) {
				c->wait_tail = p;
			}
		}
	}
	q->conn = NULL;
	q->next = NULL;
	q->in_flight = false;
}
