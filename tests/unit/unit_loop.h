/*
 * unit_loop: running a libuv loop in a test until a condition holds or a time has passed, for
 * the tests that drive tls/ against servers in the same loop.
 */
#pragma once

#include <stdbool.h>
#include <uv.h>

/*
 * The tick's data is the flag it sets. uv_stop(): the tick may expire in the timer phase of
 * uv_run(UV_RUN_ONCE) (the loop's time is stale after a slow setup, as under qemu-user), and
 * with no timer left that run would then poll with no timeout at all, for ever.
 */
static inline void unit_on_tick(uv_timer_t *t)
{
	*(bool *)t->data = true;
	uv_stop(t->loop);
}

/* Run @loop until @cond holds or @ms have passed from now (not the loop's cached time). */
#define UNIT_RUN_UNTIL(loop, tick, expired, cond, ms)                                              \
	do {                                                                                       \
		*(expired) = false;                                                                \
		(tick)->data = (expired);                                                          \
		uv_update_time(loop);                                                              \
		uv_timer_start((tick), unit_on_tick, (ms), 0);                                     \
		while (!(cond) && !*(expired)) {                                                   \
			uv_run((loop), UV_RUN_ONCE);                                               \
		}                                                                                  \
		uv_timer_stop(tick);                                                               \
	} while (0)
