/*
 * blocklist_int: what resolver/blocklist.c shows its unit test, its fuzz target and its
 * benchmark beyond blocklist.h (the daemon uses blocklist.h only): loading lists from memory
 * through the same line reader the files go through, walking the names stored, the memory
 * used, and the keyed hash.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "blocklist.h"

#define BLOCKLIST_LINE_MAX  1024  /* octets before the '\n' (a '\r' counts); longer: skipped */
#define BLOCKLIST_MAX_LISTS 65535 /* files per blocklist: the list index is 16 bits */

/** One list to read. */
struct blocklist_source {
	const char *path; /**< borrowed: its name in stats and messages, the file read if !data */
	bool allow;	  /**< an allow list */
	const char *data; /**< borrowed: the contents, or NULL to read the file @path */
	size_t len;	  /**< octets of @data */
};

/**
 * blocklist_load() over @n sources in the order given (which is blocklist_files() order; the
 * daemon's order is block lists first). A source with @data is fed to the line reader
 * @chunk octets at a time (0: all at once), as read(2) would hand over a file, so that lines
 * cut across reads are tested. 0, -EINVAL (more than BLOCKLIST_MAX_LISTS), or -ENOMEM.
 */
int blocklist_load_sources(const struct blocklist_source *src, size_t n, size_t chunk,
			   struct blocklist **out, FILE *msgs);

/** One list from memory (its path in the stats is "(buffer)"). As blocklist_load_sources(). */
int blocklist_load_buffer(const char *data, size_t len, bool allow, struct blocklist **out,
			  FILE *msgs);

#define BLOCKLIST_F_BLOCK 1u /* on a block list */
#define BLOCKLIST_F_ALLOW 2u /* on an allow list, or an @@ exception of a block list */

/**
 * Called for each name stored, in the order first read: @name in wire format, lower case,
 * with the root label (@len octets), its BLOCKLIST_F_* flags, and the index of the list that
 * decides for it (the first allow list naming it if any, else the first block list).
 */
typedef void (*blocklist_name_fn)(void *arg, const uint8_t *name, size_t len, unsigned flags,
				  int list);
void blocklist_foreach(const struct blocklist *b, blocklist_name_fn fn, void *arg);

/** What a blocklist holds in memory. */
struct blocklist_mem {
	size_t arena_bytes;  /**< the names and their 6-octet headers */
	size_t slots;	     /**< hash table slots (8 octets each) */
	size_t table_bytes;  /**< slots * 8 */
	unsigned max_labels; /**< labels of the longest name (lookups skip deeper suffixes) */
};

void blocklist_mem_get(const struct blocklist *b, struct blocklist_mem *m);

/** SipHash-2-4 of @p (@len octets) under @key (key[0]: its first 8 octets, little-endian). */
uint64_t blocklist_siphash(const uint64_t key[2], const uint8_t *p, size_t len);
