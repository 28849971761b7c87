/*
 * notify: telling the service manager how dotd is doing, in systemd's notify protocol
 * (sd_notify(3)), without libsystemd: routers have no systemd, and the protocol is one
 * datagram per message on the AF_UNIX socket named by $NOTIFY_SOCKET.
 *
 * Without $NOTIFY_SOCKET (not started by systemd, or not with Type=notify) every call is a no-op
 * returning 0. The socket is opened and connected once, by notify_open() or the first message,
 * and $NOTIFY_SOCKET is then removed from the environment; see notify.c for why.
 *
 * The state is the process's, not a loop's: one socket per process, as systemd expects
 * messages from the main PID. Not thread-safe; dotd calls it from the main thread only (worker 1,
 * worker.h).
 */
#pragma once

/**
 * Read $NOTIFY_SOCKET and connect to it, once; later calls return what the first did. Call it
 * before dropping privileges: the socket stays usable by the unprivileged process. Returns 0
 * when connected or when $NOTIFY_SOCKET is unset, a negative errno when it names no usable
 * socket (logged once as a warning; never fatal, every later message then fails the same way).
 */
int notify_open(void);

/** Close the socket; the next call reads $NOTIFY_SOCKET again (for tests). */
void notify_close(void);

/**
 * Send @state as one datagram: newline-separated VARIABLE=value assignments as sd_notify(3)
 * takes them. Returns 0 or a negative errno (the first failure is logged as a warning).
 */
int notify_send(const char *state);

/** "READY=1" with "STATUS=@status" (when not NULL): startup, or a reload, is complete. */
int notify_ready(const char *status);

/**
 * "RELOADING=1" with "MONOTONIC_USEC=" CLOCK_MONOTONIC now, as Type=notify-reload (systemd 253
 * and later) requires: the reload begins. notify_ready() ends it.
 */
int notify_reloading(void);

/**
 * "STATUS=" a one-line summary, printf-style. Newlines and other control characters become
 * spaces, so the text cannot add assignments of its own.
 */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** "STOPPING=1" with "STATUS=stopping": the stop begins. */
int notify_stopping(void);
