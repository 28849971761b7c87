/*
 * fuzz_frame: RFC 7766 §8 stream reassembly (dns_frame) under any chunking, checked against a
 * reference reading of the same stream. The stream is fed twice: copied in (dns_frame_push), and
 * as libuv's alloc/read callbacks and wolfSSL_read do it (dns_frame_space for 4096 octets, then
 * up to all the room given, dns_frame_commit). After each chunk every complete message is taken
 * (dns_frame_next): each must be exactly the next one of the stream, none may be left behind,
 * and a zero length prefix must give -EBADMSG, and again, ending the stream. Each message is
 * also read with dns_opt_find. The frame is freed at the end (a leak counts).
 *
 * Input: a control byte (bits 0-3: the number of chunk sizes less one; bit 4: expand; bit 5:
 * large chunks), the chunk sizes, then the stream. A chunk is 1 + 7 x its size octet (large:
 * 1 + 257 x), or expanded (1 + octet) x 112 (large: x 4112); never more than what is left,
 * nor than 4096 octets when copied (the contract of dns_frame_push) or the room when read.
 * Expanded, the stream is written from records [length:2][n:1][n pattern octets]: the length
 * prefix, then that many octets of the pattern repeated (zeros when n is 0), so that short
 * inputs give messages of up to 65535 octets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_frame.h"
#include "dns_wire.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define CTL_EXPAND 0x10
#define CTL_LARGE  0x20
#define STREAM_MAX (2 * (2 + DNS_MAX_MSG) + 4096)
#define PUSH_MAX   4096 /* a push after taking every message always fits */

/* Write the expanded stream of @in into @out; its length. */
static size_t expand(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, len = 0;

	while (i + 3 <= n && len + 2 <= STREAM_MAX) {
		size_t mlen = dns_get16(in + i), plen = in[i + 2];
		const uint8_t *pat = in + i + 3;

		if (plen > n - i - 3) {
			plen = n - i - 3;
		}
		memcpy(out + len, in + i, 2);
		len += 2;
		i += 3 + plen;
		if (mlen > STREAM_MAX - len) {
			mlen = STREAM_MAX - len;
		}
		/* The pattern, then doubled in place: few compares for the coverage to trace. */
		if (plen == 0 || mlen == 0) {
			memset(out + len, 0, mlen);
		} else {
			size_t done = plen < mlen ? plen : mlen;

			memcpy(out + len, pat, done);
			while (done < mlen) {
				size_t step = done < mlen - done ? done : mlen - done;

				memcpy(out + len + done, out + len, step);
				done += step;
			}
		}
		len += mlen;
	}
	return len;
}

/*
 * Take every complete message from @f, whose stream @s has @fed octets in it, the next message
 * of which starts at *@ref. False once the frame gave -EBADMSG.
 */
static bool drain(struct dns_frame *f, const uint8_t *s, size_t fed, size_t *ref)
{
	const uint8_t *msg;
	size_t len;
	int ret;

	while ((ret = dns_frame_next(f, &msg, &len)) == 1) {
		size_t want;
		struct dns_opt opt;

		CHECK(*ref + 2 <= fed);
		want = dns_get16(s + *ref);
		CHECK(want > 0 && len == want && *ref + 2 + want <= fed);
		CHECK(memcmp(msg, s + *ref + 2, len) == 0);
		(void)dns_opt_find(msg, len, &opt);
		*ref += 2 + want;
	}
	CHECK(dns_frame_pending(f) == fed - *ref);
	if (ret == 0) {
		/* Nothing complete is left: a partial prefix, or a partial message. */
		CHECK(*ref + 2 > fed ||
		      (dns_get16(s + *ref) > 0 && *ref + 2 + dns_get16(s + *ref) > fed));
		return true;
	}
	CHECK(ret == -EBADMSG && *ref + 2 <= fed && dns_get16(s + *ref) == 0);
	CHECK(dns_frame_next(f, &msg, &len) == -EBADMSG); /* it stays broken */
	return false;
}

static void feed(const uint8_t *s, size_t n, const uint8_t *sizes, size_t n_sizes, size_t base,
		 size_t scale, bool copy)
{
	struct dns_frame f;
	size_t fed = 0, ref = 0, k = 0;

	dns_frame_init(&f);
	while (fed < n) {
		size_t chunk = base + (size_t)sizes[k++ % n_sizes] * scale;

		if (chunk > n - fed) {
			chunk = n - fed;
		}
		if (copy) {
			if (chunk > PUSH_MAX) {
				chunk = PUSH_MAX;
			}
			CHECK(dns_frame_push(&f, s + fed, chunk) == 0);
		} else {
			uint8_t *space;
			size_t room;

			CHECK(dns_frame_space(&f, 4096, &space, &room) == 0 && room >= 4096);
			if (chunk > room) {
				chunk = room;
			}
			memcpy(space, s + fed, chunk);
			dns_frame_commit(&f, chunk);
		}
		fed += chunk;
		if (!drain(&f, s, fed, &ref)) {
			break; /* the connection would be closed */
		}
	}
	dns_frame_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t stream[STREAM_MAX];
	const uint8_t *s;
	size_t n_sizes, off, n, base = 1, scale;

	if (size < 2) {
		return 0;
	}
	n_sizes = 1 + (data[0] & 0xf);
	scale = (data[0] & CTL_LARGE) ? 257 : 7;
	off = 1 + n_sizes;
	if (size <= off) {
		return 0;
	}
	s = data + off;
	n = size - off;
	if (data[0] & CTL_EXPAND) {
		n = expand(s, n, stream);
		s = stream;
		scale *= 16; /* large messages in few chunks: fast enough to fuzz */
		base = scale;
	}
	feed(s, n, data + 1, n_sizes, base, scale, true);
	feed(s, n, data + 1, n_sizes, base, scale, false);
	return 0;
}
