/*
 * control: the control socket (control_socket: PATH) and the protocol dotd-ctl speaks on it.
 *
 * A Unix stream socket, mode 0660, owned by the user dotd runs as (it is created after the
 * privilege drop). One request per connection:
 *
 *   request   one line of at most CONTROL_REQUEST_MAX bytes, ended by "\n": the command's
 *             words separated by one TAB each (so that a FILE argument may hold spaces);
 *             no word may hold a TAB or a newline, and no word is empty.
 *   response  a status line, "ok\n" or "error\n", then the body, then dotd closes the
 *             connection. On "ok" the body is the command's output (possibly empty); on
 *             "error" it is the message, one or more lines, each ended by "\n".
 *
 * Commands (the words of the request):
 *
 *   status                   version, pid, uptime, config file, listeners, upstream states
 *   stats                    every counter, "name value" per line
 *   stats json               the same, one JSON object
 *   stats prometheus         the Prometheus text exposition format (version 0.0.4)
 *   upstreams                each upstream with state, RTT, backoff, connections, resumption
 *   reload                   read the config file again; "error" with the file's errors
 *   flush                    empty the cache
 *   flush NAME               drop every entry for NAME (any type)
 *   flush NAME TYPE          drop the entries for NAME and TYPE (a mnemonic or TYPEnnn)
 *   cache dump FILE          write the cache to FILE (atomically: temporary file, rename)
 *   cache load FILE          read FILE into the cache
 *   network-changed          the network changed (resolver_network_event, NETWATCH_MANUAL):
 *                            upstream connections are checked and backoffs cleared; no body
 *
 * An unknown command or wrong arguments get "error" with a message naming the command. A
 * client that does not send its whole request within CONTROL_TIMEOUT_MS, or does not read its
 * response by then, is disconnected; at most CONTROL_CLIENTS_MAX clients are served at once
 * (more are closed at once); a request line longer than CONTROL_REQUEST_MAX is refused with
 * "error". Nothing a client does costs more than its own connection.
 */
#pragma once

#include <sys/types.h>

#define CONTROL_REQUEST_MAX 4096
#define CONTROL_TIMEOUT_MS  5000
#define CONTROL_CLIENTS_MAX 16

/** The packaged configuration's control_socket, dotd-ctl's default -s. */
#define CONTROL_SOCKET_DEFAULT "/run/dotd/control.sock"

struct resolver;
struct control;

/**
 * Listen on @path for control clients of @r. What is at @path is replaced only if it is a
 * socket nobody listens on; anything else is refused (-EEXIST, -EADDRINUSE). The socket is
 * mode 0660 from its creation and, when @uid is not (uid_t)-1, given to @uid:@gid (the user
 * dotd is about to become). Errors are logged.
 */
int control_open(struct resolver *r, const char *path, uid_t uid, gid_t gid, struct control **out);

/**
 * Close the socket (and remove its path while the process may) and every client; @ctl is freed
 * after the last close callback, then @on_closed(@arg) runs (it may be NULL).
 */
void control_close(struct control *ctl, void (*on_closed)(void *arg), void *arg);
