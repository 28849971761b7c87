/*
 * fuzz_frame: RFC 7766 §8 stream reassembly (dns_frame) under random chunkings: the first
 * bytes of the input give the chunk sizes, the rest is the stream, fed both as a copy
 * (dns_frame_push) and as libuv's alloc/read callbacks do (dns_frame_space, then commit).
 * Every message that comes out is read with dns_opt_find. A zero length ends the stream.
 */
#include <stdlib.h>
#include <string.h>

#include "dns_frame.h"
#include "dns_wire.h"

static bool drain(struct dns_frame *f)
{
	const uint8_t *msg;
	size_t len;
	int ret;

	while ((ret = dns_frame_next(f, &msg, &len)) == 1) {
		struct dns_opt opt;

		if (len == 0 || len > DNS_MAX_MSG) {
			abort();
		}
		(void)dns_opt_find(msg, len, &opt);
	}
	return ret == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_frame f;
	size_t n_sizes, off;
	const uint8_t *sizes;

	if (size < 2) {
		return 0;
	}
	n_sizes = 1 + data[0] % 16;
	if (size < 1 + n_sizes) {
		return 0;
	}
	sizes = data + 1;
	off = 1 + n_sizes;
	for (int mode = 0; mode < 2; mode++) {
		size_t pos = off, k = 0;

		dns_frame_init(&f);
		while (pos < size) {
			size_t chunk = 1 + (size_t)sizes[k++ % n_sizes] * 7;

			if (chunk > size - pos) {
				chunk = size - pos;
			}
			if (mode == 0) {
				if (dns_frame_push(&f, data + pos, chunk) != 0) {
					break;
				}
			} else {
				uint8_t *space;
				size_t room;

				if (dns_frame_space(&f, 4096, &space, &room) != 0) {
					break;
				}
				if (chunk > room) {
					chunk = room;
				}
				memcpy(space, data + pos, chunk);
				dns_frame_commit(&f, chunk);
			}
			pos += chunk;
			if (!drain(&f)) {
				break; /* a zero length: the connection would be closed */
			}
		}
		dns_frame_free(&f);
	}
	return 0;
}
