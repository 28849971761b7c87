#!/usr/bin/env python3
"""upstream_hold.py: how a DoT server answers queries pipelined on one connection (RFC 7766
§6.2.1.1), with no dotd in the way: what part of dotd's miss latency the upstream sets.

A client of its own (Python's ssl module, TLS 1.3, the server's name and CA checked) sends a
steady stream of queries for names never asked before (NAME-PREFIX<i>.bench. A, EDNS(0) padded
to 128 octets as dotd pads, RFC 8467), one every GAP microseconds, for COUNT queries per gap,
and reads the answers as they come: the time from a query's write to its answer is its latency.
Each gap is run twice: on one connection (pipelined: a query may go out before the answer of
the one before came, as dotd and dnsperf do) and spread over CONNS connections, a query on a
connection only when it has none in flight (as dnsdist does). It prints one line per run:

  gap_us G mode pipelined|spread conns N queries Q p50_ms P p90_ms P p99_ms P in_flight_max M

A server that answers each query as it reads it shows the same figures for both modes at a gap
longer than its service time. One that holds an answer while the next query is read shows the
pipelined p50 near the gap (the answer waits for the next query) and the spread one near the
service time. With --quickack the client acknowledges each read at once (TCP_QUICKACK, as dotd
does while answers are awaited, tls/stream.h): a hold that goes away with it is the server's
Nagle waiting on the client's delayed ACK (docs/BENCHMARKS.md, "The upstream's Nagle").

usage: upstream_hold.py HOST PORT CA NAME [--gaps 2000,1000,500,300] [--count 2000]
                        [--conns 8] [--prefix h] [--quickack]
"""
import argparse
import select
import socket
import ssl
import struct
import time

PAD_BLOCK = 128


def query(qid, label):
    """A DNS query for LABEL.bench. A with an EDNS(0) padding option (RFC 7830, RFC 8467)."""
    name = b"".join(bytes([len(p)]) + p for p in (label, b"bench")) + b"\0"
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1) + name + struct.pack(">HH", 1, 1)
    opt_fixed = 11 + 4  # the OPT RR, and the padding option's code and length
    pad = (PAD_BLOCK - (len(msg) + opt_fixed) % PAD_BLOCK) % PAD_BLOCK
    msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 4 + pad) + struct.pack(">HH", 12, pad)
    msg += b"\0" * pad
    return struct.pack(">H", len(msg)) + msg


class Conn:
    def __init__(self, args, ctx):
        raw = socket.create_connection((args.host, args.port), timeout=5)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = ctx.wrap_socket(raw, server_hostname=args.name)
        self.s.setblocking(False)
        self.buf = b""
        self.in_flight = 0
        self.quickack = args.quickack

    def answers(self):
        """The IDs of the complete answers readable now."""
        ids = []
        while True:
            try:
                data = self.s.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                break
            if not data:
                raise RuntimeError("the server closed the connection")
            if self.quickack:
                # Acknowledge at once, not with the next query (tcp(7): not permanent).
                self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            self.buf += data
            if self.s.pending() == 0:
                break
        while len(self.buf) >= 2:
            n = struct.unpack(">H", self.buf[:2])[0]
            if len(self.buf) < 2 + n:
                break
            ids.append(struct.unpack(">H", self.buf[2:4])[0])
            self.buf = self.buf[2 + n:]
        self.in_flight -= len(ids)
        return ids


def run(args, ctx, gap_us, spread, serial):
    conns = [Conn(args, ctx) for _ in range(args.conns if spread else 1)]
    # Warm each connection (the handshake's tickets, the server's first read) with one query.
    for c in conns:
        c.s.setblocking(True)
        c.s.sendall(query(65535, b"warm"))
        c.in_flight = 1
        c.s.setblocking(False)
        while c.in_flight:
            select.select([c.s], [], [], 1)
            c.answers()
    sent_at = {}
    lat = []
    in_flight_max = 0
    gap = gap_us / 1e6
    next_at = time.perf_counter()
    i = 0
    pending = []  # queries not yet written: every connection busy (spread mode)
    deadline = None
    while len(lat) < args.count:
        now = time.perf_counter()
        if i < args.count and now >= next_at:
            pending.append(i)
            i += 1
            next_at += gap
        while pending:
            free = [c for c in conns if c.in_flight == 0] if spread else conns
            if not free:
                break
            c = free[0]
            qid = pending.pop(0)
            c.s.sendall(query(qid, b"%s%d-%d-%d" % (args.prefix.encode(), serial, gap_us, qid)))
            sent_at[qid] = time.perf_counter()
            c.in_flight += 1
            in_flight_max = max(in_flight_max, sum(x.in_flight for x in conns))
        timeout = max(0.0, next_at - time.perf_counter()) if i < args.count else 0.5
        readable, _, _ = select.select([c.s for c in conns], [], [], timeout)
        for c in conns:
            if c.s in readable or c.s.pending():
                for qid in c.answers():
                    if qid in sent_at:
                        lat.append(time.perf_counter() - sent_at.pop(qid))
        if i >= args.count and not readable:
            deadline = deadline or time.perf_counter() + 2
            if time.perf_counter() > deadline:
                break
    for c in conns:
        c.s.close()
    lat.sort()
    n = len(lat)

    def pct(p):
        return lat[min(n - 1, int(p * n))] * 1e3 if n else float("nan")

    print("gap_us %d mode %s conns %d queries %d p50_ms %.3f p90_ms %.3f p99_ms %.3f "
          "in_flight_max %d" % (gap_us, "spread" if spread else "pipelined", len(conns), n,
                                pct(0.5), pct(0.9), pct(0.99), in_flight_max), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("ca")
    ap.add_argument("name")
    ap.add_argument("--gaps", default="2000,1000,500,300")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--prefix", default="h")
    ap.add_argument("--quickack", action="store_true")
    args = ap.parse_args()
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    serial = int(time.time())
    for gap_us in (int(g) for g in args.gaps.split(",")):
        for spread in (False, True):
            run(args, ctx, gap_us, spread, serial)


if __name__ == "__main__":
    main()
