/*
 * hosts: names answered from a hosts file (hosts_file:, e.g. /etc/hosts): "ADDRESS NAME
 * [ALIAS...]" per line, '#' comments, IPv4 and IPv6 addresses. A name gets A and AAAA answers
 * from the lines that list it; an address gets a PTR answer with the first name listed for it
 * (in-addr.arpa, ip6.arpa). A malformed line is skipped with a warning naming the file and line.
 *
 * A struct hosts is immutable; a watcher (hosts_watch_start) reads the file again when it
 * changes (libuv fs events, on its directory, so that editors that replace the file are seen)
 * and hands over a new one.
 *
 * Names are matched case-insensitively; the data is lower case (an answer's owner name is the
 * client's spelling, which is the caller's to copy). Nothing is special about localhost here:
 * "127.0.0.1 localhost" is answered as written. Whether the hosts file or the special-use
 * localhost zone (RFC 6761 §6.3) wins for such names is the caller's choice (the order of its
 * policy stages).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct hosts;

#define HOSTS_TTL 60 /* the TTL of answers from the hosts file */

/* Bounds on what a load reads: a hosts file may be a downloaded block list of any size. */
#define HOSTS_FILE_MAX	   (16u << 20) /* bytes read; the lines past them are not */
#define HOSTS_LINE_MAX	   4096u /* bytes in a line, its end excluded; a longer one is skipped */
#define HOSTS_WARNINGS_MAX 20u	 /* warnings written per load; then only their count */

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
 *
 * A line is "ADDRESS NAME [ALIAS...]" separated by spaces or tabs, CRLF or LF, '#' to the end
 * of the line a comment. An address is IPv4 or IPv6 (inet_pton); one with a zone index
 * ("fe80::1%eth0") is skipped, since a DNS answer cannot carry it. A name is a DNS name:
 * labels of 1 to 63 letters, digits, '-' or '_', 253 characters in all, one trailing dot
 * allowed; another is skipped and the rest of its line used. Several lines of one name merge
 * (their addresses in file order, each once). The first usable name of a line is the PTR name
 * of its address, and the first line listing an address wins. Reading stops at
 * HOSTS_FILE_MAX bytes (a line cut there is not read), a line longer than HOSTS_LINE_MAX is
 * skipped, and past HOSTS_WARNINGS_MAX warnings only their count is written. When the file
 * cannot be read, why is written as "PATH: reason". A directory is -EISDIR; another file that
 * is not a regular one (a FIFO would block) -EINVAL.
 */
int hosts_load(const char *path, struct hosts **out, FILE *msgs);

void hosts_free(struct hosts *h);

/**
 * Whether @h knows @name (wire, uncompressed, any case, @len bytes). For @qtype A or AAAA,
 * @out->addrs has the addresses of that family (possibly none: the name is known, NODATA); for
 * PTR of an in-addr.arpa or ip6.arpa name, @out->ptr_name. For other types of a known name,
 * true with nothing (NODATA). false when the name is not in the file at all.
 *
 * The reverse name of an address in the file is known too: other types than PTR of it are
 * NODATA, as for a forward name (unbound's local-data does the same). A reverse name is four
 * decimal octets without leading zeros (in-addr.arpa) or 32 hex nibbles (ip6.arpa), least
 * significant first; a shorter one (a reverse zone) is not an address. @out is written only
 * when true is returned; a NULL @h or a malformed @name is false.
 */
bool hosts_lookup(const struct hosts *h, const uint8_t *name, size_t len, uint16_t qtype,
		  struct hosts_answer *out);

/** Names and addresses read (distinct names plus distinct addresses), for logs and statistics. */
size_t hosts_count(const struct hosts *h);

struct hosts_watch;

/** Called on the loop with a new hosts (owned by the callee) after the file changed. */
typedef void (*hosts_changed_fn)(void *arg, struct hosts *h);

/**
 * Watch @path: when it changes (written, replaced, created), read it again after a short
 * settling delay and call @changed. A file that cannot be read keeps the old hosts (a warning
 * says so). 0 or a negative errno.
 *
 * The first load is the caller's: start the watch before it, and a change in between is read
 * again rather than missed. The file need not exist (it is read once created), but its
 * directory must (-ENOENT). Events are settled: a burst is read 200 ms after its last event,
 * and at most 1 s after its first. Load warnings go to the log (LOG_MAIN). The directory's
 * entry is watched, not a symlink's target: an edit of the target is not seen.
 */
int hosts_watch_start(uv_loop_t *loop, const char *path, hosts_changed_fn changed, void *arg,
		      struct hosts_watch **out);

/** Stop watching; @w is freed in its last close callback. */
void hosts_watch_stop(struct hosts_watch *w);
