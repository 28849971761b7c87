/*
 * netwatch: what tells dotd that the network under it changed, so that its upstream
 * connections do not sit on a dead path until a timeout says so.
 *
 * Three sources, one callback:
 *   - netlink (Linux): a NETLINK_ROUTE socket subscribed to links, IPv4 and IPv6 addresses and
 *     routes, read through uv_poll and parsed with libmnl. Only real changes are reported: a
 *     link whose IFF_UP or IFF_RUNNING (carrier) changed, an address added (not one whose
 *     lifetimes were renewed, nor an IPv6 one still tentative) or removed, a default route
 *     (destination length 0, main table) added, removed or replaced. When the kernel says
 *     events were lost (ENOBUFS), that is NETWATCH_LINK | NETWATCH_ROUTE, and links and
 *     addresses are read again: what is no longer there is reported as removed.
 *   - the clocks: a timer compares CLOCK_BOOTTIME and CLOCK_REALTIME with CLOCK_MONOTONIC. A
 *     jump of BOOTTIME against MONOTONIC is a suspend and resume (MONOTONIC stops while the
 *     system sleeps); a jump of REALTIME against MONOTONIC is the wall clock being set (NTP's
 *     first step on a router that booted without a clock, or a resume).
 *   - a caller: netwatch_kick(), for `dotd-ctl network-changed` (OpenWrt hotplug, VPN hooks,
 *     platforms without netlink).
 *
 * Debouncing: an address removed is reported at once, since connections bound to it are dead
 * now. Everything else is gathered until NETWATCH_SETTLE_MS pass without a new event (but no
 * longer than NETWATCH_SETTLE_MAX_MS after the first), then reported in one callback: a link
 * that flaps ten times costs one callback, not ten reconnects.
 *
 * Ownership: netwatch_close() closes the handles; the object is freed in the last close
 * callback. The callback never runs from inside netwatch_new(), netwatch_kick() or
 * netwatch_close().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define NETWATCH_SETTLE_MS     50
#define NETWATCH_SETTLE_MAX_MS 500
#define NETWATCH_CLOCK_MS      1000 /* how often the clocks are compared */
#define NETWATCH_JUMP_MS       2000 /* a difference that moved by more than this is a jump */
#define NETWATCH_MAX_GONE      16   /* addresses reported in one event; more set overflow */

/** Kinds of change, or-ed in netwatch_event.kinds. */
enum netwatch_kind {
	NETWATCH_ADDR_GONE = 1 << 0, /**< local addresses removed: in gone[] */
	NETWATCH_ADDR_NEW = 1 << 1,  /**< a local address added */
	NETWATCH_LINK = 1 << 2,	     /**< a link went up or down (admin state or carrier) */
	NETWATCH_ROUTE = 1 << 3,     /**< a default route added, removed or replaced */
	NETWATCH_SUSPEND = 1 << 4,   /**< the system slept (BOOTTIME jumped against MONOTONIC) */
	NETWATCH_CLOCK = 1 << 5,     /**< the wall clock was set (REALTIME jumped) */
	NETWATCH_MANUAL = 1 << 6,    /**< netwatch_kick(): dotd-ctl network-changed */
};

/*
 * An IPv6 link-local address in gone[] carries its link in sin6_scope_id. n_raw is 0 for an
 * event of the clocks or of netwatch_kick().
 */
struct netwatch_event {
	unsigned kinds;					 /**< or of enum netwatch_kind */
	struct sockaddr_storage gone[NETWATCH_MAX_GONE]; /**< NETWATCH_ADDR_GONE: port 0 */
	size_t n_gone;
	bool gone_overflow;    /**< more were removed than gone[] holds */
	int64_t clock_jump_ms; /**< NETWATCH_CLOCK: how far REALTIME moved (+ forward) */
	uint64_t slept_ms;     /**< NETWATCH_SUSPEND: how long the system slept */
	unsigned n_raw;	       /**< netlink messages gathered into this event (for logs) */
};

struct netwatch;

/** Called with each event; @ev is valid during the call only. */
typedef void (*netwatch_cb)(void *arg, const struct netwatch_event *ev);

struct netwatch_params {
	bool netlink; /**< watch NETLINK_ROUTE (Linux); a failure to open it is logged, and the
			   clocks and kicks still work */
	bool clocks;  /**< compare the clocks every NETWATCH_CLOCK_MS */
};

/**
 * Start watching on @loop. Returns 0, or a negative errno (-ENOMEM; a netlink socket that
 * cannot be opened is not an error: it is logged at notice and netlink stays off). The
 * handles do not keep the loop alive (uv_unref).
 */
int netwatch_new(uv_loop_t *loop, const struct netwatch_params *p, netwatch_cb cb, void *arg,
		 struct netwatch **out);

/** Report @kinds (NETWATCH_MANUAL, typically) from the loop, at once, without debouncing. */
void netwatch_kick(struct netwatch *w, unsigned kinds);

/** Whether the netlink socket is open (for status and logs). */
bool netwatch_has_netlink(const struct netwatch *w);

/** Close; freed in the last close callback. No callback runs after this call. */
void netwatch_close(struct netwatch *w);

/** "addr-gone,link", for logs: the names of the bits of @kinds, into @buf of @len bytes. */
const char *netwatch_kinds_str(unsigned kinds, char *buf, size_t len);
