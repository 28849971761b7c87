/*
 * echo_floor: the floor of tests/bench/side.sh. A UDP DNS "responder" that does the least a
 * cache hit can cost: recvmmsg a batch of queries, set QR (and RA) in each, and sendmmsg the
 * same bytes back (the question, and whatever followed it, copied as they came). No parsing,
 * no lookup, no allocation: what it costs per query at a fixed rate is the kernel's share of
 * any UDP resolver on this machine (two syscalls amortised over a batch, the loopback path).
 *
 * usage: echo_floor ADDRESS PORT   (runs until SIGTERM or SIGINT; prints its counters then)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH	  64
#define MAX_DGRAM 4096
#define DNS_HDR	  12

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static unsigned char buf[BATCH][MAX_DGRAM];
	struct sockaddr_in peers[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in sa;
	struct sigaction act;
	unsigned long long answered = 0, batches = 0, dropped = 0;
	int fd, one = 1, i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s ADDRESS PORT\n", argv[0]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: not an IPv4 address: %s\n", argv[0], argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("echo_floor: socket");
		return 1;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	/* No SA_RESTART: the signal interrupts the blocking recvmmsg. */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	printf("echo_floor: listening on %s@%s\n", argv[1], argv[2]);
	fflush(stdout);

	while (!stop) {
		int n, kept = 0, sent;

		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = MAX_DGRAM;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &peers[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("echo_floor: recvmmsg");
			return 1;
		}
		batches++;
		/* Compact the batch: answers go out in place, short datagrams are dropped. */
		for (i = 0; i < n; i++) {
			unsigned int len = msgs[i].msg_len;

			if (len < DNS_HDR || (buf[i][2] & 0x80)) {
				dropped++;
				continue;
			}
			buf[i][2] |= 0x80;
			buf[i][3] = (unsigned char)((buf[i][3] & 0x70) | 0x80);
			iov[i].iov_len = len;
			if (kept != i) {
				msgs[kept] = msgs[i];
			}
			kept++;
		}
		for (i = 0; i < kept;) {
			sent = sendmmsg(fd, msgs + i, (unsigned int)(kept - i), 0);
			if (sent < 0) {
				if (errno == EINTR) {
					continue;
				}
				/* A full send buffer loses the rest of the batch, as a server
				 * would. */
				dropped += (unsigned long long)(kept - i);
				break;
			}
			answered += (unsigned long long)sent;
			i += sent;
		}
	}
	printf("echo_floor: answered=%llu batches=%llu dropped=%llu\n", answered, batches, dropped);
	close(fd);
	return 0;
}
