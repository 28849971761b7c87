/*
 * echo_floor: the floor of tests/bench/side.sh. A UDP DNS "responder" that does the least a
 * cache hit can cost: recvmmsg a batch of queries, set QR (and RA) in each, and sendmmsg the
 * same bytes back (the question, and whatever followed it, copied as they came). No parsing,
 * no lookup, no allocation: what it costs per query at a fixed rate is the kernel's share of
 * any UDP resolver on this machine (two syscalls amortised over a batch, the loopback path).
 *
 * With THREADS, that many threads each serve a socket of their own on the same address
 * (SO_REUSEPORT), the floor of dotd with as many workers. STEERING says which thread a datagram
 * goes to, as dotd's workers_steering does: "hash" (the default here), the kernel's hash of the
 * client's address and port; "cpu", thread i pinned to the i-th CPU allowed (every THREADS-th
 * after it too) and each datagram steered to the thread of the CPU that received it, by the same
 * plan and BPF program as dotd's (resolver/steer.c, linked in).
 *
 * WAIT says how a thread waits for the next batch: "block" (the default), in recvmmsg itself
 * (MSG_WAITFORONE), two syscalls per batch; "epoll", as an event loop does (libuv, so dotd):
 * epoll_wait on the socket, then a recvmmsg that does not block, then sendmmsg, three syscalls
 * and the epoll wake-up per batch. That is the floor of a server built on an event loop.
 *
 * usage: echo_floor ADDRESS PORT [THREADS [STEERING [WAIT]]]   (until SIGTERM or SIGINT; prints
 * its counters then)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "steer.h"

#define BATCH	  64
#define MAX_DGRAM 4096
#define DNS_HDR	  12

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

#define THREADS_MAX 16

static struct steer plan;
static bool steered;
static bool by_epoll;

struct server {
	pthread_t thread;
	unsigned index;
	int fd;
	int epfd; /* by_epoll: an epoll instance watching fd alone */
	unsigned long long answered, batches, dropped;
	unsigned char buf[BATCH][MAX_DGRAM];
	struct sockaddr_in peers[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
};

static void *serve(void *arg)
{
	struct server *sv = arg;
	int i;

	if (steered && steer_pin_self(&plan, sv->index) != 0) {
		fprintf(stderr, "echo_floor: cannot pin thread %u\n", sv->index);
	}
	while (!stop) {
		int n, kept = 0, sent;

		memset(sv->msgs, 0, sizeof(sv->msgs));
		for (i = 0; i < BATCH; i++) {
			sv->iov[i].iov_base = sv->buf[i];
			sv->iov[i].iov_len = MAX_DGRAM;
			sv->msgs[i].msg_hdr.msg_iov = &sv->iov[i];
			sv->msgs[i].msg_hdr.msg_iovlen = 1;
			sv->msgs[i].msg_hdr.msg_name = &sv->peers[i];
			sv->msgs[i].msg_hdr.msg_namelen = sizeof(sv->peers[i]);
		}
		if (by_epoll) {
			struct epoll_event ev;

			if (epoll_wait(sv->epfd, &ev, 1, -1) < 0) {
				if (errno == EINTR) {
					continue;
				}
				perror("echo_floor: epoll_wait");
				return NULL;
			}
			n = recvmmsg(sv->fd, sv->msgs, BATCH, MSG_DONTWAIT, NULL);
		} else {
			n = recvmmsg(sv->fd, sv->msgs, BATCH, MSG_WAITFORONE, NULL);
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				continue;
			}
			perror("echo_floor: recvmmsg");
			return NULL;
		}
		sv->batches++;
		/* Compact the batch: answers go out in place, short datagrams are dropped. */
		for (i = 0; i < n; i++) {
			unsigned int len = sv->msgs[i].msg_len;

			if (len < DNS_HDR || (sv->buf[i][2] & 0x80)) {
				sv->dropped++;
				continue;
			}
			sv->buf[i][2] |= 0x80;
			sv->buf[i][3] = (unsigned char)((sv->buf[i][3] & 0x70) | 0x80);
			sv->iov[i].iov_len = len;
			if (kept != i) {
				sv->msgs[kept] = sv->msgs[i];
			}
			kept++;
		}
		for (i = 0; i < kept;) {
			sent = sendmmsg(sv->fd, sv->msgs + i, (unsigned int)(kept - i), 0);
			if (sent < 0) {
				if (errno == EINTR) {
					continue;
				}
				/* A full send buffer loses the rest of the batch, as a server
				 * would. */
				sv->dropped += (unsigned long long)(kept - i);
				break;
			}
			sv->answered += (unsigned long long)sent;
			i += sent;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct server sv[THREADS_MAX];
	struct sockaddr_in sa;
	struct sigaction act;
	sigset_t block, old;
	unsigned long long answered = 0, batches = 0, dropped = 0;
	int one = 1, n_threads = argc > 3 ? atoi(argv[3]) : 1;

	if (argc < 3 || argc > 6 || n_threads < 1 || n_threads > THREADS_MAX ||
	    (argc >= 5 && strcmp(argv[4], "cpu") != 0 && strcmp(argv[4], "hash") != 0) ||
	    (argc == 6 && strcmp(argv[5], "block") != 0 && strcmp(argv[5], "epoll") != 0)) {
		fprintf(stderr, "usage: %s ADDRESS PORT [THREADS [cpu|hash [block|epoll]]]\n",
			argv[0]);
		return 2;
	}
	by_epoll = argc == 6 && strcmp(argv[5], "epoll") == 0;
	if (argc >= 5 && strcmp(argv[4], "cpu") == 0 && n_threads > 1) {
		int ret = steer_plan_current((unsigned)n_threads, &plan);

		if (ret != 0) {
			fprintf(stderr, "%s: cannot steer by CPU: %s\n", argv[0], strerror(-ret));
			return 1;
		}
		steered = true;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: not an IPv4 address: %s\n", argv[0], argv[1]);
		return 2;
	}
	for (int t = 0; t < n_threads; t++) {
		sv[t].fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (sv[t].fd < 0 ||
		    setsockopt(sv[t].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    (n_threads > 1 &&
		     setsockopt(sv[t].fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
		    bind(sv[t].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			perror("echo_floor: socket");
			return 1;
		}
		sv[t].index = (unsigned)t;
		if (by_epoll) {
			struct epoll_event ev = {.events = EPOLLIN};

			sv[t].epfd = epoll_create1(EPOLL_CLOEXEC);
			if (sv[t].epfd < 0 ||
			    epoll_ctl(sv[t].epfd, EPOLL_CTL_ADD, sv[t].fd, &ev) != 0) {
				perror("echo_floor: epoll");
				return 1;
			}
		}
		/* Bound in order: thread t's socket is the group's t-th, as the program expects. */
		if (steered && steer_attach(&plan, sv[t].fd) != 0) {
			fprintf(stderr, "%s: cannot attach the steering program\n", argv[0]);
			return 1;
		}
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	/* No SA_RESTART: the signal interrupts the main thread's recvmmsg or epoll_wait. */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	printf("echo_floor: listening on %s@%s, %d thread%s%s%s\n", argv[1], argv[2], n_threads,
	       n_threads == 1 ? "" : "s", steered ? ", steered by CPU" : "",
	       by_epoll ? ", waiting in epoll_wait" : "");
	fflush(stdout);
	/* The other threads block the signals, so that the main one gets them. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int t = 1; t < n_threads; t++) {
		pthread_create(&sv[t].thread, NULL, serve, &sv[t]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	serve(&sv[0]);
	for (int t = 0; t < n_threads; t++) {
		answered += sv[t].answered;
		batches += sv[t].batches;
		dropped += sv[t].dropped;
	}
	printf("echo_floor: answered=%llu batches=%llu dropped=%llu", answered, batches, dropped);
	for (int t = 0; n_threads > 1 && t < n_threads; t++) {
		printf(" thread%d=%llu", t + 1, sv[t].answered);
	}
	printf("\n");
	fflush(stdout);
	_exit(0); /* the other threads may sit in recvmmsg or epoll_wait */
}
