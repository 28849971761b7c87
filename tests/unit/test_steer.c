/*
 * test_steer: the CPU steering of workers (resolver/steer.c). The plan refuses what cannot be
 * steered; the BPF program, run here by a small interpreter of the instructions it uses, maps
 * every CPU of the plan to its worker and any other to the kernel's hash, for contiguous and
 * sparse CPU sets; a worker's thread is pinned to its CPUs only. Then the kernel itself: two
 * SO_REUSEPORT sockets on 127.0.0.1 with the program, and datagrams sent from threads pinned to
 * each CPU in turn, each from a socket (so a port) of its own, which the hash alone would spread
 * over both: every one reaches the socket of the sender's CPU.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "steer.h"
#include "unit.h"

#define BY_HASH 0xffffffffu

/*
 * The instructions steer_program() emits, run on a datagram received on @cpu; what the
 * kernel's classic BPF would return (Documentation/networking/filter.rst), or 0xdead on an
 * instruction it does not emit.
 */
static unsigned run(const struct sock_filter *code, int n, unsigned cpu)
{
	unsigned a = 0;

	for (int pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &code[pc];

		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (i->k != (unsigned)(SKF_AD_OFF + SKF_AD_CPU)) {
				return 0xdead;
			}
			a = cpu;
			break;
		case BPF_ALU | BPF_SUB | BPF_K:
			a -= i->k;
			break;
		case BPF_ALU | BPF_MOD | BPF_K:
			a %= i->k;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == i->k ? i->jt : i->jf;
			break;
		case BPF_RET | BPF_A:
			return a;
		case BPF_RET | BPF_K:
			return i->k;
		default:
			return 0xdead;
		}
	}
	return 0xdead; /* ran off the end: the kernel refuses such a program */
}

static struct steer plan;

static void test_plan(void)
{
	int two[] = {0, 1}, three[] = {0, 1, 2}, unsorted[] = {1, 0}, twice[] = {3, 3};

	CU_ASSERT_EQUAL(steer_plan_make(2, two, 2, &plan), 0);
	CU_ASSERT_EQUAL(plan.n_workers, 2);
	CU_ASSERT_EQUAL(plan.n_cpus, 2);
	CU_ASSERT_EQUAL(steer_plan_make(3, three, 3, &plan), 0);
	/* A worker without a CPU would get no datagram: refused, the caller steers by hash. */
	CU_ASSERT_EQUAL(steer_plan_make(3, two, 2, &plan), -ERANGE);
	CU_ASSERT_EQUAL(steer_plan_make(4, three, 3, &plan), -ERANGE);
	CU_ASSERT_EQUAL(steer_plan_make(1, two, 2, &plan), -EINVAL);
	CU_ASSERT_EQUAL(steer_plan_make(2, unsorted, 2, &plan), -EINVAL);
	CU_ASSERT_EQUAL(steer_plan_make(2, twice, 2, &plan), -EINVAL);
	CU_ASSERT_EQUAL(steer_plan_make(2, two, STEER_CPUS_MAX + 1, &plan), -EINVAL);
	/* What failed wrote nothing: the last plan made stands. */
	CU_ASSERT_EQUAL(plan.n_workers, 3);
}

/* Run @s's program for CPUs 0..@upto and compare with @want (BY_HASH: not ours). */
static void program_check(const struct steer *s, const unsigned *want, unsigned upto)
{
	struct sock_filter code[2 * 16 + 7];
	int n = steer_program(s, code, sizeof(code) / sizeof(code[0]));

	CU_ASSERT_FATAL(n > 0);
	for (unsigned cpu = 0; cpu <= upto; cpu++) {
		unsigned got = run(code, n, cpu);

		if (got != want[cpu]) {
			printf("\n  cpu %u: socket %u, want %u\n", cpu, got, want[cpu]);
		}
		CU_ASSERT_EQUAL(got, want[cpu]);
	}
}

static void test_program(void)
{
	int from0[] = {0, 1, 2, 3}, from2[] = {2, 3, 4, 5, 6}, sparse[] = {1, 3, 4, 9};
	unsigned want0[] = {0, 1, 0, 1, BY_HASH, BY_HASH};
	unsigned want2[] = {BY_HASH, BY_HASH, 0, 1, 2, 0, 1, BY_HASH, BY_HASH};
	unsigned want_sparse[] = {BY_HASH, 0,	    BY_HASH, 1, 0,	BY_HASH,
				  BY_HASH, BY_HASH, BY_HASH, 1, BY_HASH};
	struct sock_filter small[4];

	CU_ASSERT_EQUAL_FATAL(steer_plan_make(2, from0, 4, &plan), 0);
	program_check(&plan, want0, 5);
	/* taskset -c 2-6 with 3 workers: CPUs 2, 5 for the first, 3, 6 the second, 4 the third. */
	CU_ASSERT_EQUAL_FATAL(steer_plan_make(3, from2, 5, &plan), 0);
	program_check(&plan, want2, 8);
	/* taskset -c 1,3,4,9: one comparison per CPU. */
	CU_ASSERT_EQUAL_FATAL(steer_plan_make(2, sparse, 4, &plan), 0);
	program_check(&plan, want_sparse, 10);
	CU_ASSERT_EQUAL(steer_program(&plan, small, 4), -ENOSPC);
}

/* The CPUs this process may run on, the first @cap of them; how many. */
static size_t cpus_allowed(int *cpus, size_t cap)
{
	cpu_set_t set;
	size_t n = 0;

	CU_ASSERT_FATAL(sched_getaffinity(0, sizeof(set), &set) == 0);
	for (int c = 0; c < CPU_SETSIZE && n < cap; c++) {
		if (CPU_ISSET(c, &set)) {
			cpus[n++] = c;
		}
	}
	return n;
}

struct pin_arg {
	unsigned index;
	int ret, unpin_ret;
	cpu_set_t got, child, unpinned;
};

static void *child_thread(void *p)
{
	struct pin_arg *a = p;

	pthread_getaffinity_np(pthread_self(), sizeof(a->child), &a->child);
	return NULL;
}

/* Pinned, then a thread made while pinned, then unpinned: what each could run on. */
static void *pin_thread(void *p)
{
	struct pin_arg *a = p;
	pthread_t t;

	a->ret = steer_pin_self(&plan, a->index);
	pthread_getaffinity_np(pthread_self(), sizeof(a->got), &a->got);
	if (pthread_create(&t, NULL, child_thread, a) == 0) {
		pthread_join(t, NULL);
	}
	a->unpin_ret = steer_unpin_self(&plan);
	pthread_getaffinity_np(pthread_self(), sizeof(a->unpinned), &a->unpinned);
	return NULL;
}

static void test_pin(void)
{
	int cpus[STEER_CPUS_MAX];
	size_t n = cpus_allowed(cpus, STEER_CPUS_MAX);
	struct pin_arg a = {.index = 1};
	pthread_t t;

	if (n < 2) {
		printf("(one CPU allowed: nothing to pin apart) ");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(steer_plan_make(2, cpus, n, &plan), 0);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, pin_thread, &a) == 0);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(a.ret, 0);
	/* Worker 2 (index 1): the second CPU allowed, and every second one after it. */
	for (size_t j = 0; j < n; j++) {
		CU_ASSERT_EQUAL(CPU_ISSET(cpus[j], &a.got) != 0, j % 2 == 1);
	}
	/* A thread made while pinned inherits the pin (why local.c unpins around libuv's pool);
	 * unpinned, the thread may run on every CPU of the plan again. */
	CU_ASSERT(CPU_EQUAL(&a.child, &a.got));
	CU_ASSERT_EQUAL(a.unpin_ret, 0);
	CU_ASSERT_EQUAL((size_t)CPU_COUNT(&a.unpinned), n);
	for (size_t j = 0; j < n; j++) {
		CU_ASSERT(CPU_ISSET(cpus[j], &a.unpinned));
	}
}

#define SOURCES 24

struct send_arg {
	int cpu;
	unsigned short port;
	int ret;
};

/* On @cpu: SOURCES datagrams to 127.0.0.1@port, each from a new socket (a port of its own). */
static void *send_thread(void *p)
{
	struct send_arg *a = p;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = a->port};
	cpu_set_t set;

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	a->ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	sched_yield(); /* run on it from here on */
	for (int i = 0; i < SOURCES && a->ret == 0; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		if (fd < 0 || sendto(fd, "q", 1, 0, (struct sockaddr *)&to, sizeof(to)) != 1) {
			a->ret = -1;
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	return NULL;
}

/* Datagrams waiting on @fd now. */
static int drain(int fd)
{
	char b[16];
	int n = 0;

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0) {
		n++;
	}
	return n;
}

static void test_kernel(void)
{
	int cpus[STEER_CPUS_MAX], fd[2], one = 1, got[2], ret;
	size_t n = cpus_allowed(cpus, STEER_CPUS_MAX);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	if (n < 2) {
		printf("(one CPU allowed: nothing to steer apart) ");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(steer_plan_make(2, cpus, n, &plan), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 2; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_FATAL(fd[i] >= 0);
		CU_ASSERT_FATAL(setsockopt(fd[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ==
				0);
		/* The first takes a free port; the second joins its group, as index 1. */
		CU_ASSERT_FATAL(bind(fd[i], (struct sockaddr *)&sa, sizeof(sa)) == 0);
		CU_ASSERT_FATAL(getsockname(fd[i], (struct sockaddr *)&sa, &len) == 0);
	}
	ret = steer_attach(&plan, fd[1]);
#ifdef TEST_EMULATED
	/* qemu-user (make cross) does not pass SO_ATTACH_REUSEPORT_CBPF on to the kernel: dotd
	 * then warns and steers by hash. A native run must attach. */
	if (ret == -ENOPROTOOPT) {
		printf("(the emulator has no SO_ATTACH_REUSEPORT_CBPF) ");
		close(fd[0]);
		close(fd[1]);
		return;
	}
#endif
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	for (size_t j = 0; j < 2; j++) {
		struct send_arg a = {.cpu = cpus[j], .port = sa.sin_port};
		pthread_t t;

		CU_ASSERT_FATAL(pthread_create(&t, NULL, send_thread, &a) == 0);
		pthread_join(t, NULL);
		CU_ASSERT_EQUAL(a.ret, 0);
		usleep(20000);
		got[0] = drain(fd[0]);
		got[1] = drain(fd[1]);
		if (got[j] != SOURCES) {
			printf("\n  sent on CPU %d: %d and %d received\n", cpus[j], got[0], got[1]);
		}
		/* All to the socket of the CPU's worker: index j. */
		CU_ASSERT_EQUAL(got[j], SOURCES);
		CU_ASSERT_EQUAL(got[1 - j], 0);
	}
	close(fd[0]);
	close(fd[1]);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{"plan: a CPU for each worker", test_plan},
		{"program: each CPU to its worker, others by hash", test_program},
		{"pin: a worker on its CPUs only", test_pin},
		{"kernel: datagrams to the sender's CPU's socket", test_kernel},
		CU_TEST_INFO_NULL,
	};

	return unit_run("steer", tests);
}
