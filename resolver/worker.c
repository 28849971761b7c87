/*
 * worker: the threads of `workers: N` (worker.h). Each runs its own loop with its own struct
 * resolver, started by resolver_start_worker(); the main thread talks to it only through
 * worker_call(), a function run on the worker's loop while the caller waits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resolver.h"
#include "worker.h"

/* A function for a worker's loop, on the caller's stack until done. */
struct worker_call {
	struct worker_call *next;
	void (*fn)(struct resolver *r, void *arg);
	void *arg;
	bool done;
};

struct worker {
	struct resolver r; /**< the worker's own, used on its thread only */
	struct resolver *main;
	unsigned id; /**< 2..N: the main thread is worker 1 */
	pthread_t thread;
	bool joinable;
	uv_loop_t loop;
	uv_async_t wake; /**< calls queued, or stop asked */

	/* Under lock: between the two threads. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_call *calls, **calls_tail;
	bool started; /**< resolver_start_worker() has returned: start_ret */
	int start_ret;
	bool stop;	  /**< asked to stop: no more calls */
	bool wake_closed; /**< @wake is closing: nothing may be sent to it */
	bool ended;	  /**< its loop has ended: no more calls run */
};

struct workers {
	struct worker **w;
	size_t n;
};

/* On @w's thread: close @wake, after which nothing is sent to it. */
static void wake_close(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->wake_closed = true;
	pthread_mutex_unlock(&w->lock);
	uv_close((uv_handle_t *)&w->wake, NULL);
}

static void on_wake(uv_async_t *h)
{
	struct worker *w = h->data;
	struct worker_call *c;
	bool stop;

	pthread_mutex_lock(&w->lock);
	while ((c = w->calls)) {
		w->calls = c->next;
		if (!w->calls) {
			w->calls_tail = &w->calls;
		}
		pthread_mutex_unlock(&w->lock);
		c->fn(&w->r, c->arg);
		pthread_mutex_lock(&w->lock);
		c->done = true;
		pthread_cond_broadcast(&w->cond);
	}
	stop = w->stop && !w->wake_closed;
	pthread_mutex_unlock(&w->lock);
	if (stop) {
		resolver_stop(&w->r);
		wake_close(w);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct worker_call *c;
	int ret;

	ret = resolver_start_worker(&w->r, &w->loop, w->main, w->id);
	pthread_mutex_lock(&w->lock);
	w->started = true;
	w->start_ret = ret;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (ret != 0) {
		resolver_stop(&w->r);
		wake_close(w);
	}
	uv_run(&w->loop, UV_RUN_DEFAULT);
	resolver_free(&w->r);
	if (uv_loop_close(&w->loop) != 0) {
		log_err(LOG_MAIN, "worker %u: handles left open at exit", w->id);
	}
	tls_thread_cleanup();
	pthread_mutex_lock(&w->lock);
	w->ended = true;
	/* Calls queued after the last wake-up do not run: their callers go on. */
	while ((c = w->calls)) {
		w->calls = c->next;
		c->done = true;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Run @fn on @w's loop and wait for it; -ESHUTDOWN when @w stops or has stopped. */
static int worker_call(struct worker *w, void (*fn)(struct resolver *r, void *arg), void *arg)
{
	struct worker_call c = {.fn = fn, .arg = arg};

	pthread_mutex_lock(&w->lock);
	if (w->stop || w->wake_closed || w->ended) {
		pthread_mutex_unlock(&w->lock);
		return -ESHUTDOWN;
	}
	*w->calls_tail = &c;
	w->calls_tail = &c.next;
	uv_async_send(&w->wake);
	while (!c.done) {
		pthread_cond_wait(&w->cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void worker_free(struct worker *w)
{
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

/* Make worker @id and start its thread; *@out once its resolver has started (or failed). */
static int worker_new(struct resolver *main, unsigned id, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	int ret;

	if (!w) {
		return -ENOMEM;
	}
	w->main = main;
	w->id = id;
	w->calls_tail = &w->calls;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		return -ENOMEM;
	}
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -ENOMEM;
	}
	ret = uv_loop_init(&w->loop);
	if (ret == 0) {
		ret = uv_async_init(&w->loop, &w->wake, on_wake);
		if (ret != 0) {
			uv_loop_close(&w->loop);
		}
	}
	if (ret != 0) {
		worker_free(w);
		return ret;
	}
	w->wake.data = w;
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret != 0) {
		uv_close((uv_handle_t *)&w->wake, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
		worker_free(w);
		return -ret;
	}
	w->joinable = true;
	{
		char name[16]; /* "top -H" and /proc/PID/task/TID/comm show which is which */

		snprintf(name, sizeof(name), "dotd-w%u", id);
		pthread_setname_np(w->thread, name);
	}
	pthread_mutex_lock(&w->lock);
	while (!w->started) {
		pthread_cond_wait(&w->cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	*out = w; /* even when its start failed: the caller joins it */
	return w->start_ret;
}

int workers_start(struct resolver *main, unsigned n, struct workers **out)
{
	struct workers *ws = calloc(1, sizeof(*ws));
	int ret = 0;

	if (!ws || (n > 1 && !(ws->w = calloc(n - 1, sizeof(*ws->w))))) {
		free(ws);
		return -ENOMEM;
	}
	for (unsigned id = 2; id <= n && ret == 0; id++) {
		struct worker *w = NULL;

		ret = worker_new(main, id, &w);
		if (w) {
			ws->w[ws->n++] = w;
		}
		if (ret != 0) {
			log_err(LOG_MAIN, "worker %u cannot start: %s", id, strerror(-ret));
		}
	}
	if (ret != 0) {
		workers_stop(ws);
		workers_free(ws);
		return ret;
	}
	log_notice(LOG_MAIN, "%u workers serving, each with its own loop, listeners and cache", n);
	*out = ws;
	return 0;
}

size_t workers_count(const struct workers *ws)
{
	return ws ? ws->n : 0;
}

void workers_each(struct workers *ws, void (*fn)(struct resolver *r, void *arg), void *arg)
{
	for (size_t i = 0; ws && i < ws->n; i++) {
		worker_call(ws->w[i], fn, arg);
	}
}

void workers_stop(struct workers *ws)
{
	for (size_t i = 0; ws && i < ws->n; i++) {
		struct worker *w = ws->w[i];

		pthread_mutex_lock(&w->lock);
		if (!w->stop && !w->wake_closed && !w->ended) {
			uv_async_send(&w->wake);
		}
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
	}
}

void workers_free(struct workers *ws)
{
	if (!ws) {
		return;
	}
	for (size_t i = 0; i < ws->n; i++) {
		struct worker *w = ws->w[i];

		if (w->joinable) {
			pthread_join(w->thread, NULL);
		}
		worker_free(w);
	}
	free(ws->w);
	free(ws);
}
