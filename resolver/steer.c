/*
 * steer: workers pinned to CPUs and datagrams steered to the worker of the CPU that received
 * them (steer.h). The program is classic BPF, which any process may attach to its own sockets:
 * no bpf() system call, no capability.
 */
#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "steer.h"

/* The index a program returns for "not ours": past any group, so the kernel uses its hash. */
#define STEER_BY_HASH 0xffffffffu

int steer_plan_make(unsigned n_workers, const int *cpus, size_t n_cpus, struct steer *out)
{
	if (n_workers < 2 || n_cpus > STEER_CPUS_MAX) {
		return -EINVAL;
	}
	if (n_cpus < n_workers) {
		return -ERANGE;
	}
	for (size_t j = 1; j < n_cpus; j++) {
		if (cpus[j] <= cpus[j - 1]) {
			return -EINVAL;
		}
	}
	out->n_workers = n_workers;
	out->n_cpus = n_cpus;
	memcpy(out->cpus, cpus, n_cpus * sizeof(*cpus));
	return 0;
}

int steer_plan_current(unsigned n_workers, struct steer *out)
{
	cpu_set_t set;
	int cpus[STEER_CPUS_MAX];
	size_t n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		return -errno;
	}
	for (int c = 0; c < CPU_SETSIZE && n < STEER_CPUS_MAX; c++) {
		if (CPU_ISSET(c, &set)) {
			cpus[n++] = c;
		}
	}
	return steer_plan_make(n_workers, cpus, n, out);
}

static struct sock_filter stmt(unsigned short code, unsigned k)
{
	return (struct sock_filter){.code = code, .k = k};
}

static struct sock_filter jump(unsigned short code, unsigned k, unsigned char jt, unsigned char jf)
{
	return (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
}

int steer_program(const struct steer *s, struct sock_filter *code, size_t cap)
{
	bool contiguous = true;
	size_t n = 0;

	for (size_t j = 1; j < s->n_cpus; j++) {
		contiguous = contiguous && s->cpus[j] == s->cpus[0] + (int)j;
	}
	if (cap < (contiguous ? 7 : 2 * s->n_cpus + 2)) {
		return -ENOSPC;
	}
	/* A = the CPU this datagram was received on (the softirq's: the sender's, on loopback). */
	code[n++] = stmt(BPF_LD | BPF_W | BPF_ABS, (unsigned)(SKF_AD_OFF + SKF_AD_CPU));
	if (contiguous) {
		/* CPUs first..first+n-1: (A - first) % workers, others by hash. */
		unsigned first = (unsigned)s->cpus[0];

		code[n++] = jump(BPF_JMP | BPF_JGE | BPF_K, first, 0, 4);
		code[n++] = stmt(BPF_ALU | BPF_SUB | BPF_K, first);
		code[n++] = jump(BPF_JMP | BPF_JGE | BPF_K, (unsigned)s->n_cpus, 2, 0);
		code[n++] = stmt(BPF_ALU | BPF_MOD | BPF_K, s->n_workers);
		code[n++] = stmt(BPF_RET | BPF_A, 0);
		code[n++] = stmt(BPF_RET | BPF_K, STEER_BY_HASH);
		return (int)n;
	}
	/* A sparse set (taskset 0,2,5): one comparison per CPU. */
	for (size_t j = 0; j < s->n_cpus; j++) {
		code[n++] = jump(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)s->cpus[j], 0, 1);
		code[n++] = stmt(BPF_RET | BPF_K, (unsigned)(j % s->n_workers));
	}
	code[n++] = stmt(BPF_RET | BPF_K, STEER_BY_HASH);
	return (int)n;
}

int steer_pin_self(const struct steer *s, unsigned index)
{
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	for (size_t j = index; j < s->n_cpus; j += s->n_workers) {
		CPU_SET(s->cpus[j], &set);
	}
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return -ret;
}

int steer_unpin_self(const struct steer *s)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (size_t j = 0; j < s->n_cpus; j++) {
		CPU_SET(s->cpus[j], &set);
	}
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int steer_attach(const struct steer *s, int fd)
{
	size_t cap = 2 * s->n_cpus + 7; /* either form fits */
	struct sock_filter *code = calloc(cap, sizeof(*code));
	struct sock_fprog prog;
	int n, ret = 0;

	if (!code) {
		return -ENOMEM;
	}
	n = steer_program(s, code, cap);
	if (n < 0) {
		ret = n;
		goto cleanup;
	}
	prog.len = (unsigned short)n;
	prog.filter = code;
	/* The kernel copies the program: @code is ours to free. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) != 0) {
		ret = -errno;
	}
cleanup:
	free(code);
	return ret;
}
