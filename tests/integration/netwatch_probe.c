/*
 * dotd-netwatch-probe: resolver/netwatch.c on its own, on a loop of its own, for
 * tests/integration/netwatch.sh (the real netlink socket, in a network namespace) and
 * netwatch_clock.sh (the clocks, under libfaketime). It prints one line per event on standard
 * output, line-buffered, and runs until SIGTERM or SIGINT, when it closes everything and exits
 * 0 (so that a sanitizer build checks the teardown too).
 *
 * usage: dotd-netwatch-probe [-n] [-c] [-v]
 *   -n  watch netlink      -c  compare the clocks      -v  netwatch's debug log on stderr
 *
 *   ready netlink=1
 *   event t_us=T kinds=K n_raw=N gone=A,B overflow=0 clock_jump_ms=J slept_ms=S overruns=O
 *
 * "ready" comes once the first dumps of links and addresses are done: from then on every change
 * is measured against them. T is CLOCK_REALTIME in microseconds when the callback ran (to
 * compare with `date +%s%N` before a change); gone= lists the addresses of NETWATCH_ADDR_GONE
 * ("-" for none), an IPv6 one with its "%scope".
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "log.h"
#include "netwatch.h"
#include "netwatch_int.h"

struct probe {
	uv_loop_t loop;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_timer_t ready; /**< polls netwatch_synced() until it says so */
	struct netwatch *w;
	bool closing;
};

static void print_addr(const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		fputs(ip, stdout);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		fputs(ip, stdout);
		if (sin6->sin6_scope_id != 0) {
			printf("%%%u", (unsigned)sin6->sin6_scope_id);
		}
	} else {
		printf("family%u", (unsigned)ss->ss_family);
	}
}

static void on_event(void *arg, const struct netwatch_event *ev)
{
	struct probe *pr = arg;
	struct timespec now;
	char kinds[128];

	clock_gettime(CLOCK_REALTIME, &now);
	printf("event t_us=%lld kinds=%s n_raw=%u gone=",
	       (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000,
	       netwatch_kinds_str(ev->kinds, kinds, sizeof(kinds)), ev->n_raw);
	if (ev->n_gone == 0) {
		fputs("-", stdout);
	}
	for (size_t i = 0; i < ev->n_gone; i++) {
		if (i > 0) {
			fputs(",", stdout);
		}
		print_addr(&ev->gone[i]);
	}
	printf(" overflow=%d clock_jump_ms=%" PRId64 " slept_ms=%" PRIu64 " overruns=%lu\n",
	       ev->gone_overflow, ev->clock_jump_ms, ev->slept_ms, netwatch_n_overruns(pr->w));
}

static void on_ready_check(uv_timer_t *t)
{
	struct probe *pr = t->data;

	if (!netwatch_synced(pr->w)) {
		return;
	}
	uv_timer_stop(t);
	printf("ready netlink=%d\n", netwatch_has_netlink(pr->w));
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct probe *pr = s->data;

	(void)signum;
	if (pr->closing) {
		return;
	}
	pr->closing = true;
	netwatch_close(pr->w);
	uv_close((uv_handle_t *)&pr->sigterm, NULL);
	uv_close((uv_handle_t *)&pr->sigint, NULL);
	uv_close((uv_handle_t *)&pr->ready, NULL);
}

int main(int argc, char **argv)
{
	struct netwatch_params p = {0};
	struct probe pr = {0};
	int opt, ret;

	while ((opt = getopt(argc, argv, "ncv")) != -1) {
		switch (opt) {
		case 'n':
			p.netlink = true;
			break;
		case 'c':
			p.clocks = true;
			break;
		case 'v':
			log_level_set(LOG_DEBUG);
			break;
		default:
			fprintf(stderr, "usage: %s [-n] [-c] [-v]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (uv_loop_init(&pr.loop) != 0) {
		return 1;
	}
	ret = netwatch_new(&pr.loop, &p, on_event, &pr, &pr.w);
	if (ret != 0) {
		fprintf(stderr, "netwatch_new: %s\n", uv_strerror(ret));
		return 1;
	}
	uv_signal_init(&pr.loop, &pr.sigterm);
	uv_signal_init(&pr.loop, &pr.sigint);
	pr.sigterm.data = &pr;
	pr.sigint.data = &pr;
	uv_signal_start(&pr.sigterm, on_signal, SIGTERM);
	uv_signal_start(&pr.sigint, on_signal, SIGINT);
	uv_timer_init(&pr.loop, &pr.ready);
	pr.ready.data = &pr;
	uv_timer_start(&pr.ready, on_ready_check, 0, 5);
	uv_run(&pr.loop, UV_RUN_DEFAULT);
	ret = uv_loop_close(&pr.loop);
	if (ret != 0) {
		fprintf(stderr, "uv_loop_close: %s (a handle left open)\n", uv_strerror(ret));
		return 1;
	}
	return 0;
}
