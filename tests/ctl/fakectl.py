#!/usr/bin/python3
# A stand-in for dotd's control socket, for tests/ctl/ctl.sh: it serves one client the way
# MODE says, so that dotd-ctl can be checked against answers dotd would never give.
#
# usage: fakectl.py SOCKET MODE [REPLY [REQUEST]]
#   reply   read the request line, save it to REQUEST, send REPLY's bytes, close
#   stall   as reply, then keep the connection open without a word more
#   close   read the request line, close without answering
#   silent  read the request line, never answer
#   refuse  send REPLY's bytes at once without reading anything, close
#   busy    listen with a backlog of 0, filled by a connection of our own; never accept
#   stale   bind and close: the socket file stays, nobody listens on it
# SOCKET.ready appears once SOCKET can be connected to (for stale: once it is closed). The
# server gives up after 30 s whatever happens, so that a broken test cannot hang.
import os
import socket
import sys
import time

LIFETIME = 30


def read_request(conn):
    data = b""
    while b"\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def main():
    path, mode = sys.argv[1], sys.argv[2]
    reply = b""
    if len(sys.argv) > 3:
        with open(sys.argv[3], "rb") as f:
            reply = f.read()
    request_file = sys.argv[4] if len(sys.argv) > 4 else None

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    if mode == "stale":
        srv.close()
        open(path + ".ready", "w").close()
        return
    srv.listen(0 if mode == "busy" else 4)
    if mode == "busy":
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        filler.connect(path)
    open(path + ".ready", "w").close()
    if mode == "busy":
        time.sleep(LIFETIME)
        return

    srv.settimeout(LIFETIME)
    conn, _ = srv.accept()
    conn.settimeout(LIFETIME)
    if mode == "refuse":
        conn.sendall(reply)
        conn.close()
        return
    request = read_request(conn)
    if request_file:
        with open(request_file, "wb") as f:
            f.write(request)
    if mode in ("reply", "stall"):
        conn.sendall(reply)
    if mode in ("stall", "silent"):
        time.sleep(LIFETIME)
    conn.close()


if __name__ == "__main__":
    try:
        main()
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        sys.exit(1)
