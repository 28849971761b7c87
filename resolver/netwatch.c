/*
 * netwatch: the network under dotd, from three sources (netwatch.h): a NETLINK_ROUTE socket read
 * through uv_poll, a timer comparing the clocks, and netwatch_kick().
 *
 * Netlink is the kernel's voice, but a process with CAP_NET_ADMIN may send to our port too, and
 * the kernel's messages grow with its versions, so what arrives is input: a datagram that is
 * not the kernel's is dropped, a message that does not parse is skipped and logged at debug,
 * and nothing in either aborts.
 *
 * Only real changes reach the callback. Two small tables, links (ifindex: IFF_UP, IFF_RUNNING)
 * and addresses (ifindex, prefix length, address), are filled by dumps at the start; an
 * RTM_NEWLINK or RTM_NEWADDR that changes neither (a wireless event, an MTU set, an IPv6
 * lifetime renewed by each router advertisement) is dropped. When the kernel says events were
 * lost (ENOBUFS: our receive buffer overflowed), that is reported as a change of links and
 * routes, the tables are dumped again, and what the new dump shows different is reported too:
 * addresses it no longer lists as gone, at once.
 *
 * Ownership: struct netwatch owns its netlink socket, its four handles and both tables; it is
 * freed in the last close callback after netwatch_close(). Everything runs on the loop's thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "netwatch.h"
#include "netwatch_int.h"

/* The kernel never puts more than this in one datagram (a dump fills skbs of at most 32 KiB,
 * sized by the largest buffer we have read with): nothing is cut short for want of room. */
#define NL_BUF_SIZE  32768
#define NL_READS_MAX 32 /* datagrams per wakeup: a storm of events cannot starve the loop */
#define NL_RCVBUF    (512 * 1024) /* asked for; the kernel holds it to net.core.rmem_max */
#define LINKS_MAX    1024	  /* links remembered; past it a link's every message is a change */
#define ADDRS_MAX    4096	  /* addresses remembered, likewise */

#define LINK_FLAGS (IFF_UP | IFF_RUNNING)

struct link_entry {
	int ifindex;
	unsigned flags; /**< LINK_FLAGS as last heard */
	unsigned gen;	/**< the dump generation that last saw it */
};

struct addr_entry {
	int ifindex;
	unsigned gen; /**< the dump generation that last saw it */
	uint8_t family;
	uint8_t prefix_len;
	uint8_t addr[16]; /**< 4 bytes for AF_INET */
};

enum dump_state {
	DUMP_NONE,
	DUMP_LINKS,
	DUMP_ADDRS,
};

struct netwatch {
	uv_loop_t *loop; /**< borrowed */
	netwatch_cb cb;
	void *arg;
	struct mnl_socket *nl; /**< owned, or NULL: netlink was not asked for or did not open */
	unsigned portid;       /**< nl's port, which the kernel answers our dumps to */
	uv_poll_t poll;	       /**< on nl's socket, once poll_inited */
	uv_timer_t settle;     /**< the debounce */
	uv_timer_t clock;      /**< every NETWATCH_CLOCK_MS, when params.clocks */
	uv_timer_t kick;       /**< zero timeout: netwatch_kick()'s report, from the loop */
	unsigned handles_open;
	bool poll_inited;
	bool netlink_on; /**< the socket is open and polled */
	bool closing;

	struct netwatch_event pending; /**< gathered for the debounce (never ADDR_GONE) */
	uint64_t pending_since;	       /**< loop time of pending's first event */
	struct netwatch_event gone;    /**< addresses removed, reported after the datagrams read */
	unsigned kicked;	       /**< kinds of netwatch_kick() not reported yet */

	enum dump_state dump;
	unsigned dump_seq;
	unsigned seq;
	unsigned gen;	    /**< bumped by each dump; entries it (or an event) saw carry it */
	bool dump_resync;   /**< this dump follows lost events: drop what it does not list */
	bool dump_intr;	    /**< NLM_F_DUMP_INTR: the tables changed while dumped, entries missed */
	bool resync_wanted; /**< events were lost: dump again, once the socket is drained */
	bool links_filled;  /**< a dump of links is done: an unknown link is a new one */
	bool addrs_filled;  /**< a dump of addresses is done: likewise */
	bool links_full_logged;
	bool addrs_full_logged;

	struct link_entry *links; /**< owned */
	size_t n_links, cap_links;
	struct addr_entry *addrs; /**< owned */
	size_t n_addrs, cap_addrs;

	struct netwatch_clocks clocks_prev;
	bool clocks_valid;

	unsigned long n_skipped;
	unsigned long n_overruns;

	alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
};

/* ---- reporting ---- */

static void on_settle(uv_timer_t *t)
{
	struct netwatch *w = t->data;
	struct netwatch_event ev = w->pending;

	if (w->closing) {
		return;
	}
	memset(&w->pending, 0, sizeof(w->pending));
	w->cb(w->arg, &ev);
}

/*
 * @kinds (from @n_raw netlink messages) join what waits for the network to settle: reported
 * NETWATCH_SETTLE_MS after the last event, or NETWATCH_SETTLE_MAX_MS after the first.
 */
static void pending_add(struct netwatch *w, unsigned kinds, unsigned n_raw)
{
	uint64_t now = uv_now(w->loop);
	uint64_t delay = NETWATCH_SETTLE_MS, deadline;

	if (w->closing) {
		return;
	}
	if (w->pending.kinds == 0) {
		w->pending_since = now;
	}
	w->pending.kinds |= kinds;
	w->pending.n_raw += n_raw;
	deadline = w->pending_since + NETWATCH_SETTLE_MAX_MS;
	if (now + delay > deadline) {
		delay = deadline > now ? deadline - now : 0;
	}
	uv_timer_start(&w->settle, on_settle, delay, 0);
}

/* An address removed: reported with the others of this batch of datagrams, undebounced. */
static void gone_add(struct netwatch *w, const struct sockaddr_storage *ss)
{
	struct netwatch_event *ev = &w->gone;

	ev->kinds |= NETWATCH_ADDR_GONE;
	ev->n_raw++;
	if (ev->n_gone < NETWATCH_MAX_GONE) {
		ev->gone[ev->n_gone++] = *ss;
	} else {
		ev->gone_overflow = true;
	}
}

static void gone_report(struct netwatch *w)
{
	struct netwatch_event ev = w->gone;

	if (w->closing || ev.kinds == 0) {
		return;
	}
	memset(&w->gone, 0, sizeof(w->gone));
	w->cb(w->arg, &ev);
}

static void on_kick(uv_timer_t *t)
{
	struct netwatch *w = t->data;
	struct netwatch_event ev = {.kinds = w->kicked};

	if (w->closing || ev.kinds == 0) {
		return;
	}
	w->kicked = 0;
	w->cb(w->arg, &ev);
}

void netwatch_kick(struct netwatch *w, unsigned kinds)
{
	if (w->closing || kinds == 0) {
		return;
	}
	w->kicked |= kinds;
	uv_timer_start(&w->kick, on_kick, 0, 0);
}

/* ---- the tables ---- */

static void skipped(struct netwatch *w, const struct nlmsghdr *nlh, const char *why)
{
	w->n_skipped++;
	log_debug(LOG_NET, "netlink: %s (type %u, %u bytes), skipped", why,
		  (unsigned)nlh->nlmsg_type, (unsigned)nlh->nlmsg_len);
}

static struct link_entry *link_find(struct netwatch *w, int ifindex)
{
	for (size_t i = 0; i < w->n_links; i++) {
		if (w->links[i].ifindex == ifindex) {
			return &w->links[i];
		}
	}
	return NULL;
}

/* Room for one more link, or NULL past LINKS_MAX (or without memory). */
static struct link_entry *link_new(struct netwatch *w)
{
	if (w->n_links == w->cap_links) {
		size_t cap = w->cap_links ? w->cap_links * 2 : 16;
		struct link_entry *links;

		if (cap > LINKS_MAX) {
			cap = LINKS_MAX;
		}
		if (w->n_links == cap) {
			return NULL;
		}
		links = realloc(w->links, cap * sizeof(*links));
		if (!links) {
			return NULL;
		}
		w->links = links;
		w->cap_links = cap;
	}
	return &w->links[w->n_links++];
}

static const char *link_flags_str(unsigned flags)
{
	if (!(flags & IFF_UP)) {
		return "down";
	}
	return flags & IFF_RUNNING ? "up, running" : "up, no carrier";
}

/* A link as an RTM_NEWLINK (an event or a dump's) shows it. */
static void link_seen(struct netwatch *w, int ifindex, unsigned flags, const char *name)
{
	struct link_entry *l = link_find(w, ifindex);

	flags &= LINK_FLAGS;
	if (l) {
		unsigned old = l->flags;

		l->gen = w->gen;
		if (old == flags) {
			return; /* a wireless event, an MTU, an address of the link layer */
		}
		l->flags = flags;
		log_debug(LOG_NET, "netwatch: link '%s' (%d) %s, was %s", name, ifindex,
			  link_flags_str(flags), link_flags_str(old));
		pending_add(w, NETWATCH_LINK, 1);
		return;
	}
	l = link_new(w);
	if (l) {
		*l = (struct link_entry){.ifindex = ifindex, .flags = flags, .gen = w->gen};
	} else if (!w->links_full_logged) {
		w->links_full_logged = true;
		log_info(LOG_NET, "netwatch: over %d links: each message of others is a change",
			 LINKS_MAX);
	}
	/* Before the first dump is done, an unknown link is one it has not listed yet. A new
	 * link that is down carries no traffic: it changes nothing until it comes up. */
	if (!w->links_filled || flags == 0) {
		return;
	}
	log_debug(LOG_NET, "netwatch: new link '%s' (%d) %s", name, ifindex, link_flags_str(flags));
	pending_add(w, NETWATCH_LINK, 1);
}

/* @l was removed (by RTM_DELLINK, or missing from a resync's dump). */
static void link_drop(struct netwatch *w, struct link_entry *l, const char *name)
{
	bool was_up = l->flags & IFF_UP;
	int ifindex = l->ifindex;

	*l = w->links[--w->n_links];
	if (was_up) {
		log_debug(LOG_NET, "netwatch: link '%s' (%d) removed while up", name, ifindex);
		pending_add(w, NETWATCH_LINK, 1);
	}
}

static struct addr_entry *addr_find(struct netwatch *w, const struct addr_entry *key)
{
	size_t len = key->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < w->n_addrs; i++) {
		struct addr_entry *a = &w->addrs[i];

		if (a->ifindex == key->ifindex && a->family == key->family &&
		    a->prefix_len == key->prefix_len && memcmp(a->addr, key->addr, len) == 0) {
			return a;
		}
	}
	return NULL;
}

static struct addr_entry *addr_new(struct netwatch *w)
{
	if (w->n_addrs == w->cap_addrs) {
		size_t cap = w->cap_addrs ? w->cap_addrs * 2 : 16;
		struct addr_entry *addrs;

		if (cap > ADDRS_MAX) {
			cap = ADDRS_MAX;
		}
		if (w->n_addrs == cap) {
			return NULL;
		}
		addrs = realloc(w->addrs, cap * sizeof(*addrs));
		if (!addrs) {
			return NULL;
		}
		w->addrs = addrs;
		w->cap_addrs = cap;
	}
	return &w->addrs[w->n_addrs++];
}

/* The socket address of @a, port 0; an IPv6 link-local one is scoped to its link. */
static void addr_sockaddr(const struct addr_entry *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->addr, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->addr, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
			sin6->sin6_scope_id = (uint32_t)a->ifindex;
		}
	}
}

static const char *addr_str(const struct addr_entry *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->addr, ip, sizeof(ip))) {
		snprintf(ip, sizeof(ip), "?");
	}
	snprintf(buf, len, "%s/%u on %d", ip, (unsigned)a->prefix_len, a->ifindex);
	return buf;
}

/* An address as an RTM_NEWADDR shows it; a tentative one (IPv6 DAD) is not usable yet. */
static void addr_seen(struct netwatch *w, const struct addr_entry *key, bool usable)
{
	struct addr_entry *a = addr_find(w, key);
	char s[INET6_ADDRSTRLEN + 32];

	if (a) {
		a->gen = w->gen;
		return; /* its lifetimes renewed, or its flags: the same address */
	}
	if (!usable) {
		return; /* counted when its duplicate detection is over: the next message says so */
	}
	a = addr_new(w);
	if (a) {
		*a = *key;
		a->gen = w->gen;
	} else if (!w->addrs_full_logged) {
		w->addrs_full_logged = true;
		log_info(LOG_NET, "netwatch: over %d addresses: each message of others is a change",
			 ADDRS_MAX);
	}
	if (!w->addrs_filled) {
		return;
	}
	log_debug(LOG_NET, "netwatch: address %s added", addr_str(key, s, sizeof(s)));
	pending_add(w, NETWATCH_ADDR_NEW, 1);
}

static void addr_gone(struct netwatch *w, const struct addr_entry *key)
{
	struct addr_entry *a = addr_find(w, key);
	struct sockaddr_storage ss;
	char s[INET6_ADDRSTRLEN + 32];

	if (a) {
		*a = w->addrs[--w->n_addrs];
	}
	log_debug(LOG_NET, "netwatch: address %s removed", addr_str(key, s, sizeof(s)));
	addr_sockaddr(key, &ss);
	gone_add(w, &ss);
}

/* ---- the messages ---- */

struct attrs {
	const struct nlattr **tb;
	uint16_t max;
};

static int on_attr(const struct nlattr *a, void *data)
{
	struct attrs *at = data;

	/* A type past our headers' is newer than them, and not one we read. */
	if (mnl_attr_type_valid(a, at->max) > 0) {
		at->tb[mnl_attr_get_type(a)] = a;
	}
	return MNL_CB_OK;
}

/*
 * The attributes after @hdr_len bytes of fixed header into @tb (@max + 1 slots); -EBADMSG.
 * mnl_attr_parse_payload() on the exact length, not mnl_attr_parse(): that one walks to the
 * message's length rounded up to 4, past the datagram when it is the last and its length odd.
 */
static int attrs_parse(const struct nlmsghdr *nlh, size_t hdr_len, const struct nlattr **tb,
		       uint16_t max)
{
	struct attrs at = {.tb = tb, .max = max};
	size_t len = mnl_nlmsg_get_payload_len(nlh), off = MNL_ALIGN(hdr_len);

	if (len < hdr_len) {
		return -EBADMSG;
	}
	memset(tb, 0, (max + 1u) * sizeof(*tb));
	if (len <= off) {
		return 0;
	}
	if (mnl_attr_parse_payload((const char *)mnl_nlmsg_get_payload(nlh) + off, len - off,
				   on_attr, &at) < MNL_CB_STOP) {
		return -EBADMSG;
	}
	return 0;
}

static void on_link_msg(struct netwatch *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const char *name = "?";
	struct link_entry *l;

	if (attrs_parse(nlh, sizeof(*ifi), tb, IFLA_MAX) != 0 || ifi->ifi_index <= 0) {
		skipped(w, nlh, "link message too short or without an interface");
		return;
	}
	/* The link itself is AF_UNSPEC. The bridge's messages about the same interface as a
	 * port (AF_BRIDGE) come to the same group: its RTM_DELLINK is the port leaving the
	 * bridge, not the link going away. */
	if (ifi->ifi_family != AF_UNSPEC) {
		return;
	}
	if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0) {
		name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	}
	if (nlh->nlmsg_type == RTM_NEWLINK) {
		link_seen(w, ifi->ifi_index, ifi->ifi_flags, name);
		return;
	}
	l = link_find(w, ifi->ifi_index);
	if (l) {
		link_drop(w, l, name);
	}
}

static void on_addr_msg(struct netwatch *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *at;
	struct addr_entry key = {0};
	uint32_t flags;
	size_t len;

	if (attrs_parse(nlh, sizeof(*ifa), tb, IFA_MAX) != 0) {
		skipped(w, nlh, "address message too short");
		return;
	}
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) {
		return; /* another family's (DECnet, MPLS): none of ours */
	}
	len = ifa->ifa_family == AF_INET ? 4 : 16;
	/* The local address is IFA_LOCAL when there is one: with a peer (ip addr add A peer B,
	 * PPP, point-to-point tunnels) IFA_ADDRESS is the peer's. Both families do this (the
	 * kernel's inet_fill_ifaddr and inet6_fill_ifaddr); without a peer the two are equal, or
	 * only IFA_ADDRESS is sent (IPv6). */
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at || mnl_attr_get_payload_len(at) != len || ifa->ifa_index == 0 ||
	    ifa->ifa_prefixlen > len * 8) {
		skipped(w, nlh, "address message without a well-formed address");
		return;
	}
	key.ifindex = (int)ifa->ifa_index;
	key.family = ifa->ifa_family;
	key.prefix_len = ifa->ifa_prefixlen;
	memcpy(key.addr, mnl_attr_get_payload(at), len);
	if (nlh->nlmsg_type == RTM_DELADDR) {
		addr_gone(w, &key);
		return;
	}
	/* IFA_FLAGS holds all 32 bits; ifa_flags only the first 8 (kernels before 3.14). */
	flags = ifa->ifa_flags;
	if (tb[IFA_FLAGS] && mnl_attr_validate(tb[IFA_FLAGS], MNL_TYPE_U32) == 0) {
		flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
	}
	addr_seen(w, &key, !(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)));
}

static void on_route_msg(struct netwatch *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	uint32_t table;

	if (attrs_parse(nlh, sizeof(*rtm), tb, RTA_MAX) != 0) {
		skipped(w, nlh, "route message too short");
		return;
	}
	if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) || rtm->rtm_dst_len != 0 ||
	    (rtm->rtm_flags & RTM_F_CLONED)) {
		return; /* not a default route: the path to the upstreams is the default's */
	}
	/* rtm_table is 8 bits; RTA_TABLE holds the table past 255, and is what counts. */
	table = rtm->rtm_table;
	if (tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) == 0) {
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	}
	if (table != RT_TABLE_MAIN) {
		return;
	}
	log_debug(LOG_NET, "netwatch: IPv%c default route %s",
		  rtm->rtm_family == AF_INET ? '4' : '6',
		  nlh->nlmsg_type == RTM_NEWROUTE ? "added or replaced" : "removed");
	pending_add(w, NETWATCH_ROUTE, 1);
}

/* ---- dumps ---- */

/* Ask for a dump of @type (RTM_GETLINK, RTM_GETADDR): its answers come to the poll callback. */
static int dump_request(struct netwatch *w, uint16_t type)
{
	alignas(struct nlmsghdr) char req[NLMSG_SPACE(sizeof(struct ifinfomsg))];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	if (++w->seq == 0) {
		w->seq = 1; /* 0 is what events carry */
	}
	nlh->nlmsg_seq = w->seq;
	/* Both requests begin with the family: AF_UNSPEC, every family. ifinfomsg is the longer
	 * of the two headers (ifaddrmsg); the kernel reads only what the type needs. */
	if (type == RTM_GETLINK) {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

		ifi->ifi_family = AF_UNSPEC;
	} else {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

		ifa->ifa_family = AF_UNSPEC;
	}
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0) {
		return -errno;
	}
	w->dump_seq = w->seq;
	return 0;
}

/* The dump of links is over (@ok: to its end): drop, after a resync, the links it missed. */
static void dump_links_done(struct netwatch *w, bool ok)
{
	int ret;

	if (ok && w->dump_resync && !w->dump_intr) {
		for (size_t i = w->n_links; i-- > 0;) {
			if (w->links[i].gen != w->gen) {
				link_drop(w, &w->links[i], "?");
			}
		}
	}
	w->links_filled = true;
	w->dump_intr = false;
	w->dump = DUMP_ADDRS;
	ret = dump_request(w, RTM_GETADDR);
	if (ret != 0) {
		log_notice(LOG_NET, "netwatch: cannot ask for the addresses: %s", uv_strerror(ret));
		w->addrs_filled = true;
		w->dump = DUMP_NONE;
	}
}

static void dump_addrs_done(struct netwatch *w, bool ok)
{
	if (ok && w->dump_resync && !w->dump_intr) {
		for (size_t i = w->n_addrs; i-- > 0;) {
			if (w->addrs[i].gen != w->gen) {
				struct addr_entry a = w->addrs[i];

				addr_gone(w, &a);
			}
		}
	}
	w->addrs_filled = true;
	w->dump = DUMP_NONE;
}

static void dump_done(struct netwatch *w, bool ok)
{
	if (w->dump == DUMP_LINKS) {
		dump_links_done(w, ok);
	} else if (w->dump == DUMP_ADDRS) {
		dump_addrs_done(w, ok);
	}
}

/*
 * Dump the links, then the addresses. The first dump fills the tables without a word; a resync
 * (@resync, after lost events) reports what differs, and what it no longer lists is dropped.
 */
static void dump_start(struct netwatch *w, bool resync)
{
	int ret;

	w->gen++;
	w->dump_resync = resync;
	w->dump_intr = false;
	w->dump = DUMP_LINKS;
	ret = dump_request(w, RTM_GETLINK);
	if (ret != 0) {
		log_notice(LOG_NET, "netwatch: cannot ask for the links: %s", uv_strerror(ret));
		w->dump = DUMP_NONE;
		w->links_filled = true;
		w->addrs_filled = true;
	}
}

/* Events were lost: the kernel had more for us than our receive buffer held. */
static void netlink_lost(struct netwatch *w, const char *how)
{
	w->n_overruns++;
	log_info(LOG_NET,
		 "netwatch: netlink events lost (%s), "
		 "counted as a change of links and routes",
		 how);
	pending_add(w, NETWATCH_LINK | NETWATCH_ROUTE, 0);
	w->resync_wanted = true;
}

/*
 * After lost events, dump again once what the socket holds is read (@drained): a message read
 * after the request counts as newer than the dump (it marks its entry seen), which an event
 * queued before the overrun is not (an address it adds may be gone since, its removal lost).
 */
static void resync_maybe(struct netwatch *w, bool drained)
{
	if (!drained || !w->resync_wanted || w->dump != DUMP_NONE || !w->netlink_on) {
		return;
	}
	w->resync_wanted = false;
	dump_start(w, true);
}

static void on_nlmsg_error(struct netwatch *w, const struct nlmsghdr *nlh, bool ours)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err)) {
		skipped(w, nlh, "error message too short");
		return;
	}
	if (!ours) {
		return; /* an acknowledgment asked for by someone else's request */
	}
	if (err->error != 0) {
		log_info(LOG_NET, "netwatch: the kernel refused a dump: %s", strerror(-err->error));
		dump_done(w, false);
	}
}

/*
 * One message. libmnl walks the attributes; the messages we walk ourselves (feed_parse()):
 * mnl_cb_run() refuses one marked NLM_F_DUMP_INTR, stopping there with EINTR and the rest of
 * the datagram unread, and we want it: an interrupted dump still lists what it lists, the
 * change that interrupted it comes as an event of its own, and only the removal of what it
 * did not list is off (dump_intr).
 */
static void nlmsg_one(struct netwatch *w, const struct nlmsghdr *nlh)
{
	bool ours = w->dump != DUMP_NONE && w->nl && nlh->nlmsg_pid == w->portid &&
		    nlh->nlmsg_seq == w->dump_seq;

	if (ours && (nlh->nlmsg_flags & NLM_F_DUMP_INTR)) {
		w->dump_intr = true;
	}
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link_msg(w, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr_msg(w, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		on_route_msg(w, nlh);
		break;
	case NLMSG_DONE:
		if (ours) {
			dump_done(w, true);
		}
		break;
	case NLMSG_ERROR:
		on_nlmsg_error(w, nlh, ours);
		break;
	default:
		break; /* NLMSG_NOOP, and types of groups we did not join */
	}
}

/*
 * Not mnl_nlmsg_ok(): it compares (int)nlmsg_len with what is left, so a length past INT_MAX
 * passes as negative and mnl_nlmsg_next() jumps gigabytes (libmnl 1.0.4, Debian 12's; fixed
 * upstream since). mnl_cb_run() walks with both: one more reason to walk ourselves.
 */
static bool nlmsg_ok(const struct nlmsghdr *nlh, size_t left)
{
	return left >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= left;
}

static void feed_parse(struct netwatch *w, const void *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;

	while (nlmsg_ok((const struct nlmsghdr *)p, left)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		size_t step = MNL_ALIGN(nlh->nlmsg_len);

		nlmsg_one(w, nlh);
		if (step > left) {
			step = left; /* the last message, its padding not sent */
		}
		p += step;
		left -= step;
	}
	if (left > 0) {
		w->n_skipped++;
		log_debug(LOG_NET, "netlink: %zu bytes that are not a whole message, skipped",
			  left);
	}
}

void netwatch_feed(struct netwatch *w, const void *buf, size_t len)
{
	if (w->closing) {
		return;
	}
	feed_parse(w, buf, len);
	gone_report(w);
}

/* ---- the socket ---- */

/*
 * One datagram into w->buf: its length, 0 for one to skip, or -errno (-EAGAIN: no more).
 * recvmsg() rather than mnl_socket_recvfrom(), to see who sent it.
 */
static ssize_t netlink_recv(struct netwatch *w)
{
	struct sockaddr_nl sa;
	struct iovec iov = {.iov_base = w->buf, .iov_len = sizeof(w->buf)};
	struct msghdr msg = {
		.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = recvmsg(mnl_socket_get_fd(w->nl), &msg, MSG_DONTWAIT);

	if (n < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (msg.msg_namelen != sizeof(sa) || sa.nl_pid != 0) {
		w->n_skipped++;
		log_debug(LOG_NET, "netlink: a datagram from port %u, not the kernel, dropped",
			  msg.msg_namelen == sizeof(sa) ? (unsigned)sa.nl_pid : 0u);
		return 0;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		netlink_lost(w, "a datagram cut short");
		return 0;
	}
	return n;
}

static void netlink_off(struct netwatch *w, const char *why)
{
	log_notice(LOG_NET, "netwatch: netlink off (%s): network changes are no longer seen", why);
	w->netlink_on = false;
	uv_poll_stop(&w->poll);
}

static void on_netlink_readable(uv_poll_t *h, int status, int events)
{
	struct netwatch *w = h->data;
	bool lost = false, drained = false;
	int i, ret = 0;

	(void)events;
	if (w->closing || !w->netlink_on) {
		return;
	}
	for (i = 0; i < NL_READS_MAX; i++) {
		ssize_t n = netlink_recv(w);

		if (n == -EINTR) {
			continue;
		}
		if (n == -EAGAIN) {
			drained = true;
			break;
		}
		if (n == -ENOBUFS) {
			netlink_lost(w, "receive buffer overrun");
			lost = true;
			continue;
		}
		if (n < 0) {
			ret = (int)n;
			break;
		}
		if (n == 0) {
			continue;
		}
		feed_parse(w, w->buf, (size_t)n);
	}
	/* libuv stops a poll handle whose socket reports POLLERR, and calls back with UV_EBADF
	 * (src/unix/poll.c). A netlink socket reports POLLERR for an overrun (sk_err = ENOBUFS),
	 * which the recvmsg above took: watch again. POLLERR without it would come back at once,
	 * every iteration: netlink is off then. */
	if (ret == 0 && status < 0) {
		if (lost) {
			log_debug(LOG_NET, "netwatch: poll error after an overrun, watching again");
			ret = uv_poll_start(&w->poll, UV_READABLE, on_netlink_readable);
		} else {
			ret = status;
		}
	}
	if (ret != 0) {
		netlink_off(w, uv_strerror(ret));
	}
	resync_maybe(w, drained);
	gone_report(w);
}

/* Open, join the groups and ask for the first dump; -errno, and netlink stays off. */
static int netlink_open(struct netwatch *w)
{
	static const unsigned groups[] = {
		RTNLGRP_LINK,	    RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
		RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
	};
	struct mnl_socket *nl;
	int rcvbuf = NL_RCVBUF;
	int ret;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl) {
		return -errno;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto cleanup;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		unsigned g = groups[i];

		if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
			ret = -errno;
			goto cleanup;
		}
	}
	/* A bigger buffer makes overruns rarer under a burst (a thousand routes from a BGP
	 * feed); it is a bound, not memory taken. Failing that, the default does. */
	(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ret = uv_poll_init(w->loop, &w->poll, mnl_socket_get_fd(nl));
	if (ret != 0) {
		goto cleanup;
	}
	/* From here the socket is w's: closed when w is freed, after the poll handle. */
	w->nl = nl;
	w->portid = mnl_socket_get_portid(nl);
	w->poll.data = w;
	w->poll_inited = true;
	w->handles_open++;
	uv_unref((uv_handle_t *)&w->poll);
	w->links_filled = false;
	w->addrs_filled = false;
	dump_start(w, false);
	ret = uv_poll_start(&w->poll, UV_READABLE, on_netlink_readable);
	if (ret != 0) {
		return ret;
	}
	w->netlink_on = true;
	return 0;

cleanup:
	mnl_socket_close(nl);
	return ret;
}

/* ---- the clocks ---- */

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Every reading through clock_gettime(), never a raw system call: libfaketime, which the clock
 * tests run dotd under, replaces that function and must see the REALTIME reading. */
static void clocks_read(struct netwatch_clocks *c)
{
	c->mono_ns = clock_ns(CLOCK_MONOTONIC);
	c->boot_ns = clock_ns(CLOCK_BOOTTIME);
	c->real_ns = clock_ns(CLOCK_REALTIME);
}

void netwatch_clocks_check(struct netwatch *w, const struct netwatch_clocks *now)
{
	const struct netwatch_clocks *prev = &w->clocks_prev;
	const int64_t jump_ns = (int64_t)NETWATCH_JUMP_MS * 1000000;
	int64_t slept, moved;
	unsigned kinds = 0;

	if (w->closing) {
		return;
	}
	if (!w->clocks_valid) {
		w->clocks_prev = *now;
		w->clocks_valid = true;
		return;
	}
	/* Both differences stay put while the system runs (NTP slews MONOTONIC and REALTIME
	 * alike; a loop held up does not matter), whatever the time between readings. */
	slept = (now->boot_ns - now->mono_ns) - (prev->boot_ns - prev->mono_ns);
	moved = (now->real_ns - now->mono_ns) - (prev->real_ns - prev->mono_ns);
	w->clocks_prev = *now;
	if (slept > jump_ns) {
		kinds |= NETWATCH_SUSPEND;
	}
	if (moved > jump_ns || moved < -jump_ns) {
		kinds |= NETWATCH_CLOCK;
	}
	if (kinds == 0) {
		return;
	}
	pending_add(w, kinds, 0);
	if (kinds & NETWATCH_SUSPEND) {
		w->pending.slept_ms += (uint64_t)(slept / 1000000);
		log_debug(LOG_NET, "netwatch: the system slept %lld ms",
			  (long long)(slept / 1000000));
	}
	if (kinds & NETWATCH_CLOCK) {
		w->pending.clock_jump_ms += moved / 1000000;
		log_debug(LOG_NET, "netwatch: the wall clock moved %+lld ms",
			  (long long)(moved / 1000000));
	}
}

static void on_clock_tick(uv_timer_t *t)
{
	struct netwatch *w = t->data;
	struct netwatch_clocks now;

	if (w->closing) {
		return;
	}
	clocks_read(&now);
	netwatch_clocks_check(w, &now);
}

/* ---- the object ---- */

int netwatch_new(uv_loop_t *loop, const struct netwatch_params *p, netwatch_cb cb, void *arg,
		 struct netwatch **out)
{
	uv_timer_t *timers[3];
	struct netwatch *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	w->links_filled = true; /* until a dump is asked for */
	w->addrs_filled = true;
	timers[0] = &w->settle;
	timers[1] = &w->clock;
	timers[2] = &w->kick;
	for (size_t i = 0; i < 3; i++) {
		uv_timer_init(loop, timers[i]);
		timers[i]->data = w;
		uv_unref((uv_handle_t *)timers[i]);
		w->handles_open++;
	}
	if (p->clocks) {
		struct netwatch_clocks now;

		clocks_read(&now);
		netwatch_clocks_check(w, &now);
		uv_timer_start(&w->clock, on_clock_tick, NETWATCH_CLOCK_MS, NETWATCH_CLOCK_MS);
	}
	if (p->netlink) {
		ret = netlink_open(w);
		if (ret != 0) {
			log_notice(LOG_NET,
				   "netwatch: cannot watch netlink (%s): network changes "
				   "are seen only through dotd-ctl network-changed",
				   uv_strerror(ret));
		}
	}
	*out = w;
	return 0;
}

bool netwatch_has_netlink(const struct netwatch *w)
{
	return w->netlink_on;
}

bool netwatch_synced(const struct netwatch *w)
{
	return w->links_filled && w->addrs_filled;
}

unsigned long netwatch_n_skipped(const struct netwatch *w)
{
	return w->n_skipped;
}

unsigned long netwatch_n_overruns(const struct netwatch *w)
{
	return w->n_overruns;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct netwatch *w = h->data;

	if (--w->handles_open > 0) {
		return;
	}
	/* The poll handle is closed: the socket may go. */
	if (w->nl) {
		mnl_socket_close(w->nl);
	}
	free(w->links);
	free(w->addrs);
	free(w);
}

void netwatch_close(struct netwatch *w)
{
	if (w->closing) {
		return;
	}
	w->closing = true;
	w->netlink_on = false;
	if (w->poll_inited) {
		uv_close((uv_handle_t *)&w->poll, on_handle_closed);
	}
	uv_close((uv_handle_t *)&w->settle, on_handle_closed);
	uv_close((uv_handle_t *)&w->clock, on_handle_closed);
	uv_close((uv_handle_t *)&w->kick, on_handle_closed);
}

const char *netwatch_kinds_str(unsigned kinds, char *buf, size_t len)
{
	static const char *const names[] = {
		"addr-gone", "addr-new", "link", "route", "suspend", "clock", "manual",
	};
	const size_t n_names = sizeof(names) / sizeof(names[0]);
	size_t off = 0;

	if (len == 0) {
		return buf;
	}
	buf[0] = '\0';
	if (kinds == 0) {
		snprintf(buf, len, "none");
		return buf;
	}
	for (size_t i = 0; i < n_names && off < len; i++) {
		if (kinds & (1u << i)) {
			int n = snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]);

			off += n > 0 ? (size_t)n : 0;
		}
	}
	if ((kinds >> n_names) != 0 && off < len) {
		snprintf(buf + off, len - off, "%s0x%x", off ? "," : "",
			 kinds & ~((1u << n_names) - 1));
	}
	return buf;
}
