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
	size_t entries;	  /**< domains read from it */
	size_t skipped;	  /**< lines that are none of the formats */
	int error;	  /**< 0, or the negative errno that stopped reading it */
};

/**
 * Read every file (block lists first, then allow lists) into a new blocklist. Blocking I/O:
 * run it off the loop. A file that cannot be read is an error for that file only (counted in
 * its stats, written to @msgs if not NULL); the others are used. 0, or -ENOMEM.
 */
int blocklist_load(const char *const *block, size_t n_block, const char *const *allow,
		   size_t n_allow, struct blocklist **out, FILE *msgs);

void blocklist_free(struct blocklist *b);

/**
 * The verdict for @name (wire format, uncompressed, @len bytes with the root label; any case):
 * the name and each of its parents are looked up. *@list (if not NULL) is set to the index
 * (in blocklist_files() order) of the list that decided, or -1 for BLOCKLIST_PASS.
 */
enum blocklist_verdict blocklist_lookup(const struct blocklist *b, const uint8_t *name,
					size_t len, int *list);

/** The files of @b, block lists first, in the order given; *@n of them. */
const struct blocklist_file_stats *blocklist_files(const struct blocklist *b, size_t *n);

/** Domains in @b in all (block and allow). */
size_t blocklist_size(const struct blocklist *b);

/**
 * Load off the loop (uv_queue_work): @done(@arg, status, blocklist, messages) is called on the
 * loop when the files are read; the callee owns the blocklist (NULL on failure) and the
 * messages string (malloc'd, may be NULL). The path arrays are copied. 0, or a negative errno
 * when the work cannot be queued (no callback then).
 */
typedef void (*blocklist_done_fn)(void *arg, int status, struct blocklist *b, char *msgs);
int blocklist_load_start(uv_loop_t *loop, const char *const *block, size_t n_block,
			 const char *const *allow, size_t n_allow, blocklist_done_fn done,
			 void *arg);
