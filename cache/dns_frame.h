/*
 * dns_frame: reassembly of DNS messages from a byte stream with the 2-octet length prefix of
 * RFC 1035 §4.2.2 / RFC 7766 §8 (client TCP and DoT alike).
 *
 * Bytes arrive in any chunking; complete messages come out one at a time, pointing into the
 * frame's own buffer. The buffer grows to hold at most one prefix plus one largest message, so a
 * peer cannot make it grow without bound. A zero length prefix is a protocol error. Owner: the
 * transport object that embeds it, which calls dns_frame_free() before it is freed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct dns_frame {
	uint8_t *buf; /**< owned */
	size_t cap;
	size_t head; /**< start of the unconsumed bytes */
	size_t len;  /**< end of the bytes received */
};

/** Initialise an empty frame; the buffer is allocated on first use. */
void dns_frame_init(struct dns_frame *f);

/** Free the buffer; the frame may be initialised again. */
void dns_frame_free(struct dns_frame *f);

/**
 * Make room for at least @want bytes at the end and return it: *@space and *@n describe the
 * free tail, where a reader may write directly (a libuv alloc callback, wolfSSL_read) before
 * calling dns_frame_commit(). -ENOMEM if it cannot grow.
 */
int dns_frame_space(struct dns_frame *f, size_t want, uint8_t **space, size_t *n);

/** Record that @n bytes were written into the space given by dns_frame_space(). */
void dns_frame_commit(struct dns_frame *f, size_t n);

/**
 * Copy @n bytes in. -ENOMEM when they do not fit: more than one largest message is pending, so
 * take messages with dns_frame_next() between pushes.
 */
int dns_frame_push(struct dns_frame *f, const uint8_t *data, size_t n);

/**
 * Take the next complete message: 1 with *@msg and *@len set (valid until the next call on the
 * frame), 0 if none is complete yet, -EBADMSG on a zero length prefix.
 */
int dns_frame_next(struct dns_frame *f, const uint8_t **msg, size_t *len);

/** Bytes received and not yet returned as messages (a partial message, a drip-feeding peer). */
static inline size_t dns_frame_pending(const struct dns_frame *f)
{
	return f->len - f->head;
}
