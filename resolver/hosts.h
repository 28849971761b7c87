/*
 * hosts: names answered from a hosts file (hosts_file:, e.g. /etc/hosts): "ADDRESS NAME
 * [ALIAS...]" per line, '#' comments, IPv4 and IPv6 addresses. A name gets A and AAAA answers
 * from the lines that list it; an address gets a PTR answer with the first name listed for it
 * (in-addr.arpa, ip6.arpa). A malformed line is skipped with a warning naming the file and line.
 *
 * A struct hosts is immutable; a watcher (hosts_watch_start) reads the file again when it
 * changes (libuv fs events, on its directory, so that editors that replace the file are seen)
 * and hands over a new one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct hosts;

#define HOSTS_TTL 60 /* the TTL of answers from the hosts file */

/** What the hosts file says of a question. */
struct hosts_answer {
	/* A or AAAA: the addresses of the name, in file order (4 or 16 bytes each) */
	const uint8_t *const *addrs; /**< borrowed from the hosts */
	size_t n_addrs;
	/* PTR: the name of the address, wire format, lower case as written */
	const uint8_t *ptr_name; /**< borrowed, or NULL */
	size_t ptr_len;
};

/**
 * Read @path into a new hosts. Lines that cannot be used are written to @msgs (if not NULL) as
 * "PATH:LINE: reason" and skipped. 0; -errno when the file cannot be read; -ENOMEM.
 */
int hosts_load(const char *path, struct hosts **out, FILE *msgs);

void hosts_free(struct hosts *h);

/**
 * Whether @h knows @name (wire, uncompressed, any case, @len bytes). For @qtype A or AAAA,
 * @out->addrs has the addresses of that family (possibly none: the name is known, NODATA); for
 * PTR of an in-addr.arpa or ip6.arpa name, @out->ptr_name. For other types of a known name,
 * true with nothing (NODATA). false when the name is not in the file at all.
 */
bool hosts_lookup(const struct hosts *h, const uint8_t *name, size_t len, uint16_t qtype,
		  struct hosts_answer *out);

/** Names and addresses read, for logs and statistics. */
size_t hosts_count(const struct hosts *h);

struct hosts_watch;

/** Called on the loop with a new hosts (owned by the callee) after the file changed. */
typedef void (*hosts_changed_fn)(void *arg, struct hosts *h);

/**
 * Watch @path: when it changes (written, replaced, created), read it again after a short
 * settling delay and call @changed. A file that cannot be read keeps the old hosts (a warning
 * says so). 0 or a negative errno.
 */
int hosts_watch_start(uv_loop_t *loop, const char *path, hosts_changed_fn changed, void *arg,
		      struct hosts_watch **out);

/** Stop watching; @w is freed in its last close callback. */
void hosts_watch_stop(struct hosts_watch *w);
