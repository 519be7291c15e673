#!/usr/bin/env python3
"""/sync from a client that leaves Nagle's algorithm on (no TCP_NODELAY).

Over TLS a body longer than one record (16 KiB) leaves the client as
several writes; with Nagle on, the client holds the short last one until
the server acknowledges the others, and Linux delays that ACK up to 40 ms
while it waits for a reply to carry it. The server now acknowledges at
once when it has read all there is of an incomplete body (TCP_QUICKACK,
webhook/outbox.c pull()). This
prints the median and p90 of serial /sync requests on one keep-alive
connection, with and without TCP_NODELAY on the client, for the bench's
sync request (27 KB) and the one with 8 KB managedFields per child (55 KB).

    python3 tests/bench/nodelay.py --bin bin/paddlex-webhook

A measurement, not a test: it asserts nothing, and wall time on a shared
machine is noisy; compare the NODELAY=0 rows with the NODELAY=1 rows of the
same run (before the fix: ~44 ms against ~0.3 ms).
"""
import argparse
import json
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import common     # noqa: E402
import scaling    # noqa: E402

REQUESTS = 40


def read_answer(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    while len(rest) < length:
        rest += s.recv(65536)
    return rest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="paddlex-nodelay-")
    certs = common.make_test_certs(tmp)
    srv = scaling.Servers(args.bin, tmp, certs)
    try:
        srv.webhook()
        for managed in (0, 400):
            body = json.dumps(scaling.sync_request(args.bin, certs.key, managed)).encode()
            req = (b"POST /sync HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body)) + body
            for nodelay in (0, 1):
                raw = socket.create_connection(("127.0.0.1", srv.port))
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, nodelay)
                s = ssl.create_default_context(cafile=certs.ca).wrap_socket(raw, server_hostname="localhost")
                times = []
                for _ in range(REQUESTS):
                    t0 = time.perf_counter()
                    s.sendall(req)
                    read_answer(s)
                    times.append((time.perf_counter() - t0) * 1e3)
                s.close()
                times = sorted(times[3:])
                print("/sync %6d B, client TCP_NODELAY=%d: median %6.2f ms  p90 %6.2f ms"
                      % (len(req), nodelay, statistics.median(times), times[int(0.9 * len(times))]))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
