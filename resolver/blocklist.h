/*
 * blocklist: the names dotd refuses to resolve (blocklists:) and the exceptions that win over
 * them (allowlists:). A listed domain covers its subdomains. Three formats, recognised per
 * line, as people download them:
 *
 *   hosts format      "0.0.0.0 ads.example" or "127.0.0.1 a.example b.example" ("::" too)
 *   one domain        "ads.example"
 *   adblock subset    "||ads.example^" (options after '$' and anything else: skipped)
 *
 * '#' and '!' start comments; blank lines are skipped; a line that is none of these is skipped
 * and counted (its number is logged for the first few). Names are matched case-insensitively.
 *
 * In detail: CRLF and tabs are white space; a '#' after white space ends a line; a line over
 * 1024 octets is skipped. A name has letters, digits, '-' and '_', labels of 1 to 63 octets,
 * at most 253 octets and one optional trailing dot; anything else (a '*', a '/', raw UTF-8: an
 * IDN must be written in its xn-- form) skips the line. A hosts line may have any address (its
 * names are taken all the same); the names of a hosts file's own lines (localhost,
 * localhost.localdomain, local, broadcasthost, ip6-localhost, ip6-loopback, ip6-localnet,
 * ip6-mcastprefix, ip6-allnodes, ip6-allrouters, ip6-allhosts, 0.0.0.0) are ignored in every
 * format, so that no list blocks localhost. Adblock: "||domain^", optionally "$options", is
 * taken (whatever the options); "@@||domain^" is an exception, so in a block list it is an
 * allow entry; any other adblock rule (paths, wildcards, "##" element hiding) is skipped.
 *
 * Verdicts: a name is allowed when it or any of its parents is on an allow list, whatever the
 * block lists say at any level (allowing example.com un-blocks ads.example.com, as an adblock
 * exception does; allow a single name to un-block just it); otherwise it is blocked when it or
 * a parent is on a block list. A name listed several times is stored once.
 *
 * A struct blocklist is immutable once loaded, so that a reload builds a new one off the event
 * loop (blocklist_load_start) and swaps it in one step; queries in flight keep the one they
 * looked at through their configuration snapshot.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct blocklist;

/** What blocklist_lookup() says of a name. */
enum blocklist_verdict {
	BLOCKLIST_PASS,	 /**< on no list */
	BLOCKLIST_BLOCK, /**< on a block list, on no allow list */
	BLOCKLIST_ALLOW, /**< on an allow list (whether or not it is also blocked) */
};

/** Per list file, for statistics and logs. */
struct blocklist_file_stats {
	const char *path; /**< borrowed from the blocklist */
	bool allow;	  /**< an allow list */
	size_t entries;	  /**< domains read from it (one it names twice counts once) */
	size_t skipped;	  /**< lines that are none of the formats, or with a bad name (once) */
	int error;	  /**< 0, or the negative errno that stopped reading it (what was read
			       before stays) */
};

/**
 * Read every file (block lists first, then allow lists) into a new blocklist. Blocking I/O:
 * run it off the loop. A file that cannot be read is an error for that file only (counted in
 * its stats, written to @msgs if not NULL); the others are used. 0, -EINVAL (more than 65535
 * files), or -ENOMEM.
 */
int blocklist_load(const char *const *block, size_t n_block, const char *const *allow,
		   size_t n_allow, struct blocklist **out, FILE *msgs);

void blocklist_free(struct blocklist *b);

/**
 * The verdict for @name (wire format, uncompressed, @len bytes with the root label; any case):
 * the name and each of its parents are looked up. *@list (if not NULL) is set to the index
 * (in blocklist_files() order) of the list that decided, or -1 for BLOCKLIST_PASS: that of the
 * closest listed name of the kind that decided (the first list naming it). A malformed name
 * passes.
 */
enum blocklist_verdict blocklist_lookup(const struct blocklist *b, const uint8_t *name, size_t len,
					int *list);

/** The files of @b, block lists first, in the order given; *@n of them. */
const struct blocklist_file_stats *blocklist_files(const struct blocklist *b, size_t *n);

/** Domains in @b in all (block and allow), each counted once. */
size_t blocklist_size(const struct blocklist *b);

/**
 * Load off the loop (uv_queue_work): @done(@arg, status, blocklist, messages) is called on the
 * loop when the files are read; the callee owns the blocklist (NULL on failure) and the
 * messages string (malloc'd, may be NULL). The path arrays are copied. 0, or a negative errno
 * when the work cannot be queued (no callback then). @done is called exactly once; with
 * -ECANCELED and neither blocklist nor messages if the work was cancelled before it ran.
 */
typedef void (*blocklist_done_fn)(void *arg, int status, struct blocklist *b, char *msgs);
int blocklist_load_start(uv_loop_t *loop, const char *const *block, size_t n_block,
			 const char *const *allow, size_t n_allow, blocklist_done_fn done,
			 void *arg);
