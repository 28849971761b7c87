/*
 * netwatch_int: the inside of netwatch.c that its tests drive (tests/unit/test_netwatch.c, the
 * probe of tests/integration/netwatch.sh): the parser fed with handcrafted netlink messages,
 * the clock comparison fed with chosen readings, and a few read-only looks. Not for the daemon.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netwatch.h"

/** Readings of the three clocks the timer compares, in nanoseconds. */
struct netwatch_clocks {
	int64_t mono_ns; /**< CLOCK_MONOTONIC: stops while the system sleeps */
	int64_t boot_ns; /**< CLOCK_BOOTTIME: MONOTONIC plus the time slept */
	int64_t real_ns; /**< CLOCK_REALTIME: the wall clock, which may be set */
};

/**
 * Take @len bytes of netlink messages as one datagram from the kernel, as the poll callback
 * does with each it reads: links, addresses added and routes go to the debounce; addresses
 * removed are reported before this returns (so the callback may run from inside this call,
 * unlike netwatch_kick()). A message that does not parse is skipped (netwatch_n_skipped()).
 * @buf must be aligned as a struct nlmsghdr.
 */
void netwatch_feed(struct netwatch *w, const void *buf, size_t len);

/**
 * Compare @now with the previous reading, as the clock timer does every NETWATCH_CLOCK_MS
 * (the first reading only records); a jump goes to the debounce. netwatch_new() with
 * params.clocks takes the first reading itself; without it, the first call here does.
 */
void netwatch_clocks_check(struct netwatch *w, const struct netwatch_clocks *now);

/** Whether the first dumps of links and addresses are done (true without netlink). */
bool netwatch_synced(const struct netwatch *w);

/** Netlink messages and datagrams skipped since the start: malformed, or not the kernel's. */
unsigned long netwatch_n_skipped(const struct netwatch *w);

/** Times the kernel said events were lost (ENOBUFS, or a datagram cut short). */
unsigned long netwatch_n_overruns(const struct netwatch *w);
