/*
 * steer: which worker a datagram goes to, with `workers: N` and `workers_steering: cpu` (the
 * default). Each worker is pinned to its own CPUs, and a classic BPF program on the listeners'
 * SO_REUSEPORT groups (SO_ATTACH_REUSEPORT_CBPF) gives each datagram to the socket of the
 * worker pinned to the CPU the kernel received it on, so that no datagram wakes a thread on
 * another CPU. With `hash`, the kernel's hash of the client's address and port decides, and
 * the threads run where the scheduler puts them. docs/ARCHITECTURE.md, "Workers", has why
 * and the measurements; TCP listeners always go by hash (a connection's later segments are not
 * steered, so nothing would be kept local).
 *
 * The plan is made once at start, before any thread is pinned, from the CPUs the process may
 * run on (sched_getaffinity: taskset and cpusets are obeyed), and is read-only after: the main
 * resolver owns it, the workers borrow it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sock_filter;

/** The most CPUs a plan steers to; the others' datagrams go by hash. */
#define STEER_CPUS_MAX 1024

struct steer {
	unsigned n_workers;
	size_t n_cpus;		  /**< CPUs the process may run on, up to STEER_CPUS_MAX */
	int cpus[STEER_CPUS_MAX]; /**< ascending; cpus[j] is worker j % n_workers's */
};

/**
 * The plan for @n_workers (2 or more) over the CPUs in @cpus (@n_cpus, ascending). -ERANGE when
 * there are fewer CPUs than workers: steering would leave a worker without datagrams.
 */
int steer_plan_make(unsigned n_workers, const int *cpus, size_t n_cpus, struct steer *out);

/** The plan for @n_workers over the CPUs this process may run on now. */
int steer_plan_current(unsigned n_workers, struct steer *out);

/**
 * The BPF program of @s into @code (room for @cap instructions): for each CPU of the plan, the
 * index of its worker's socket in a group (the order the workers bound it, 0 first); for any
 * other CPU an index past the group, on which the kernel falls back to its hash. Returns the
 * number of instructions, or -ENOSPC.
 */
int steer_program(const struct steer *s, struct sock_filter *code, size_t cap);

/** Pin the calling thread to the CPUs of worker @index (0: the main thread). 0 or -errno. */
int steer_pin_self(const struct steer *s, unsigned index);

/**
 * Let the calling thread run on every CPU of @s again, as it could before steer_pin_self():
 * for a moment in which it makes threads that must not inherit its pin. 0 or -errno.
 */
int steer_unpin_self(const struct steer *s);

/**
 * Put @s's program on the SO_REUSEPORT group of the bound UDP socket @fd (each worker does it
 * for its own: the last one in force is the same program). 0 or -errno.
 */
int steer_attach(const struct steer *s, int fd);
