/*
 * dns_frame: 2-octet length-prefixed stream reassembly. See dns_frame.h.
 *
 * The buffer only ever needs one prefix plus one message (2 + 65535 octets) beyond what has been
 * consumed: consumed bytes are dropped by moving the rest to the front before growing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_frame.h"
#include "dns_wire.h"

#define FRAME_MIN_CAP 4096
#define FRAME_MAX_CAP (2 + DNS_MAX_MSG + FRAME_MIN_CAP)

void dns_frame_init(struct dns_frame *f)
{
	memset(f, 0, sizeof(*f));
}

void dns_frame_free(struct dns_frame *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

int dns_frame_space(struct dns_frame *f, size_t want, uint8_t **space, size_t *n)
{
	if (f->head == f->len) {
		f->head = f->len = 0;
	}
	if (f->cap - f->len < want && f->head > 0) {
		memmove(f->buf, f->buf + f->head, f->len - f->head);
		f->len -= f->head;
		f->head = 0;
	}
	if (f->cap - f->len < want) {
		size_t cap = f->cap ? f->cap : FRAME_MIN_CAP;
		uint8_t *buf;

		while (cap - f->len < want && cap < FRAME_MAX_CAP) {
			cap *= 2;
		}
		if (cap > FRAME_MAX_CAP) {
			cap = FRAME_MAX_CAP;
		}
		if (cap - f->len < want) {
			return -ENOMEM;
		}
		buf = realloc(f->buf, cap);
		if (!buf) {
			return -ENOMEM;
		}
		f->buf = buf;
		f->cap = cap;
	}
	*space = f->buf + f->len;
	*n = f->cap - f->len;
	return 0;
}

void dns_frame_commit(struct dns_frame *f, size_t n)
{
	f->len += n;
}

int dns_frame_push(struct dns_frame *f, const uint8_t *data, size_t n)
{
	while (n > 0) {
		uint8_t *space;
		size_t room, take;
		int ret;

		/* Ask only for what a partial message can still use; the rest comes in turns. */
		ret = dns_frame_space(f, n < FRAME_MIN_CAP ? n : FRAME_MIN_CAP, &space, &room);
		if (ret != 0) {
			return ret;
		}
		take = n < room ? n : room;
		memcpy(space, data, take);
		dns_frame_commit(f, take);
		data += take;
		n -= take;
	}
	return 0;
}

int dns_frame_next(struct dns_frame *f, const uint8_t **msg, size_t *len)
{
	size_t avail = f->len - f->head;
	size_t mlen;

	if (avail < 2) {
		return 0;
	}
	mlen = dns_get16(f->buf + f->head);
	if (mlen == 0) {
		return -EBADMSG;
	}
	if (avail < 2 + mlen) {
		return 0;
	}
	*msg = f->buf + f->head + 2;
	*len = mlen;
	f->head += 2 + mlen;
	return 1;
}
