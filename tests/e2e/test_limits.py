"""End-to-end tests of the limits on untrusted input (SPEC §3.2, §6):
connection count, per-connection timeout, body size, JSON depth, and the
memory they bound, against the real binary over real TLS.

test_badinput.py already sends each kind of malformed request once to a
server with the default limits; this file drives the limits themselves,
with small ones so the tests are quick (--connection-timeout 2,
--max-connections 32, --max-body 64 KiB where the size does not matter):

- what libmicrohttpd documents, and these tests pin: a connection is closed
  after --connection-timeout seconds without traffic (during the TLS
  handshake, the headers or the body alike); at --max-connections the
  server stops accepting, so further clients wait in the kernel's listen
  backlog (they are not answered, and not served beyond the limit) until a
  slot frees;
- whatever a client does, the server stays alive and answers the others
  once the limit and the timeout allow it, and its memory (VmRSS of the
  process) stays bounded: under 64 MiB, the limit of
  manifests/webhook/deployment.yaml.

A client that trickles a byte more often than the idle timeout is cut by
the deadlines: a request's head is due --header-timeout after the accept or
the request's first byte, its body must then keep up --min-body-rate, and
the whole request is due --request-timeout after its first byte.

Nothing here measures speed: waits are bounds against hangs, derived from
the configured timeout plus a generous margin for a loaded machine.
"""
import http.client
import json
import socket
import ssl
import threading
import time
import unittest

from common import (Server, client, free_port, needs_binary, post_json, read_response, request, review, send_review,
                    tls_context)

AV = "paddlex.paddlepaddle.org/v1alpha1"
TIMEOUT = 2                 # --connection-timeout of the servers here
LIMIT = 32                  # --max-connections
MARGIN = 6                  # seconds of slack on every bound derived from TIMEOUT
IO_TIMEOUT = 20             # a guard against hangs
MIB = 1024 * 1024
MAX_BODY = 3 * MIB          # the default --max-body
SMALL_BODY = 64 * 1024      # --max-body where the size itself does not matter
POD_MEMORY = 96 * MIB       # manifests/webhook/deployment.yaml resources.limits.memory
POD_REQUEST = 32 * MIB      # ... resources.requests.memory

SERVING = {"apiVersion": AV, "kind": "Serving", "metadata": {"name": "ppocr", "namespace": "kubeflow"},
           "spec": {"image": "registry.baidubce.com/paddleflow-public/serving:v0.6.2"}}
# Every client here connects from 127.0.0.1: the per-address limit (a
# quarter of the slots by default; test_hostile.py drives it) is lifted to
# the global one, which is what these tests drive. So is the idle timeout:
# --header-timeout (5 s from the accept by default; RequestDeadlineTest
# drives it) is raised, as a burst of LIMIT handshakes accepted at once
# can take longer than that under a sanitizer on a loaded machine.
PER_ADDRESS = ["--max-connections-per-address", str(LIMIT)]
LIMITED = ["--connection-timeout", str(TIMEOUT), "--max-connections", str(LIMIT), "--threads", "2",
           "--header-timeout", "10"] + PER_ADDRESS


def sanitized(path):
    """True when the binary is an ASan/UBSan build (make check): its memory
    is the sanitizer's, not ours, so RSS bounds do not apply."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__ubsan_handle" in data


def rss(pid):
    """VmRSS of pid in bytes (0 once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples a process's VmRSS every 10 ms while in the with-block;
    ``peak`` is the highest seen."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            self._stop.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))
        return False


def review_bytes(uid="limits", obj=SERVING):
    return json.dumps(review(obj, uid=uid), separators=(",", ":")).encode()


def head(method, path, length=None, chunked=False, extra=b""):
    h = b"%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" % (
        method.encode(), path.encode())
    if length is not None:
        h += b"Content-Length: %d\r\n" % length
    if chunked:
        h += b"Transfer-Encoding: chunked\r\n"
    return h + extra + b"\r\n"


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def tls_socket(srv, timeout=IO_TIMEOUT):
    """A verified TLS connection to srv (the handshake is done)."""
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        return tls_context(srv.ca).wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def close_quietly(s):
    try:
        s.close()
    except OSError:
        pass


def send_quietly(s, data):
    try:
        s.sendall(data)
        return True
    except (OSError, ssl.SSLError):
        return False


def closed_by_server(s, within):
    """True when the server closes s (EOF, reset, TLS alert) within
    ``within`` seconds; False when s is still open then. Data the server
    sends first (an error answer) is read and ignored."""
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if not s.recv(65536):
                return True
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (OSError, ssl.SSLError):
            return True


def status_or_closed(s, timeout):
    """The status of the answer read from s within timeout, or None when
    the server closes the connection instead."""
    s.settimeout(timeout)
    try:
        return read_response(s)[0]
    except (ConnectionError, OSError, ssl.SSLError):
        return None


def served_within(srv, seconds):
    """Seconds until a fresh client gets GET /healthz answered 200 (each
    try bounded), or None when it did not within ``seconds``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        conn = client(srv, timeout=max(0.5, min(2.0, seconds - (time.monotonic() - t0))))
        try:
            if request(conn, "GET", "/healthz")[0] == 200:
                return time.monotonic() - t0
        except (OSError, ssl.SSLError, ConnectionError):
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    return None


def in_flight(srv):
    # a connection the sweep shut down is seen closed by its client a few
    # milliseconds before its worker gives back its slot under the
    # per-address limit: a fresh client from the same address in between
    # is refused at accept, so one refusal is retried
    for attempt in range(2):
        conn = client(srv, timeout=IO_TIMEOUT)
        try:
            status, _, text = request(conn, "GET", "/metrics")
            break
        except (ConnectionError, ssl.SSLError):
            if attempt:
                raise
            time.sleep(0.5)
        finally:
            conn.close()
    for line in text.splitlines():
        if line.startswith("paddlex_webhook_in_flight_requests"):
            return float(line.split()[-1])
    raise AssertionError("no paddlex_webhook_in_flight_requests in /metrics")


class Trickler:
    """``n`` TLS connections that each sent the start of a request's
    headers, then send one more header byte every ``interval`` seconds from
    a background thread, until stop()."""

    def __init__(self, srv, n, interval, path="/validate"):
        self.socks = []
        for _ in range(n):
            s = tls_socket(srv)
            s.sendall(b"POST %s HTTP/1.1\r\nHost: localhost\r\nX-Slow: " % path.encode())
            self.socks.append(s)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            for s in self.socks:
                send_quietly(s, b"a")

    def stop(self):
        """Stops sending; the connections stay open (idle) on our side."""
        self._stop.set()
        self._thread.join()

    def close(self):
        self.stop()
        for s in self.socks:
            close_quietly(s)


class LimitsCase(unittest.TestCase):
    """A fresh server per test (limits hold state: connections, memory).
    After every test, once the test's own connections are closed, the
    server must still be alive, serve a fresh client within the timeout,
    answer a review, and stop cleanly on SIGTERM."""

    ARGS = LIMITED

    def setUp(self):
        self.closers = []
        self.graceful_stop = True     # a known-gap test may leave a request running
        self.srv = Server(self.ARGS)
        self.srv.start()
        self.sanitized = sanitized(self.srv.bin)

    def tearDown(self):
        try:
            for close in reversed(self.closers):
                close()
            self.assertIsNone(self.srv.proc.poll(), "server died: %s" % self.srv.stderr_text()[-2000:])
            self.assertIsNotNone(served_within(self.srv, TIMEOUT + MARGIN), "server no longer serves")
            conn = client(self.srv, timeout=IO_TIMEOUT)
            try:
                self.assertTrue(send_review(conn, "/validate", review(SERVING))["response"]["allowed"])
            finally:
                conn.close()
            if self.graceful_stop:
                self.assertEqual(self.srv.stop(), 0, self.srv.stderr_text()[-2000:])
        finally:
            self.srv.kill()

    def assert_rss_below(self, value, bound, what):
        if self.sanitized:
            return      # a sanitizer's shadow memory and quarantine, not ours
        self.assertLess(value, bound, "%s: VmRSS %.1f MiB, bound %.0f MiB" % (what, value / MIB, bound / MIB))

    def track(self, s):
        """s (a socket, or anything with close()) is closed before the
        server is checked and stopped."""
        self.closers.append(lambda: close_quietly(s))
        return s


# ------------------------------------------------------------ connections

@needs_binary
class ConnectionLimitTest(LimitsCase):
    def test_idle_headers_at_the_limit_time_out_then_others_are_served(self):
        socks = []
        for _ in range(LIMIT):
            s = self.track(tls_socket(self.srv))
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: loc")      # and nothing more
            socks.append(s)
        waited = served_within(self.srv, TIMEOUT + MARGIN)
        self.assertIsNotNone(waited, "a fresh client is served once the idle connections time out")
        for i, s in enumerate(socks):
            self.assertTrue(closed_by_server(s, TIMEOUT + MARGIN), "idle connection %d still open" % i)

    def test_idle_tcp_without_tls_at_and_beyond_the_limit(self):
        """Connections that never start the TLS handshake hold a slot only
        until the timeout; those beyond the limit wait in the backlog."""
        socks = [self.track(socket.create_connection(("127.0.0.1", self.srv.port), timeout=IO_TIMEOUT))
                 for _ in range(LIMIT + 16)]
        self.assertIsNotNone(served_within(self.srv, 2 * TIMEOUT + MARGIN))
        for i, s in enumerate(socks):
            self.assertTrue(closed_by_server(s, 2 * TIMEOUT + MARGIN), "raw connection %d still open" % i)

    def test_header_trickle_slower_than_the_timeout_is_cut(self):
        slow = Trickler(self.srv, LIMIT, TIMEOUT + 1.5)
        self.track(slow)
        self.assertIsNotNone(served_within(self.srv, TIMEOUT + MARGIN))
        for i, s in enumerate(slow.socks):
            self.assertTrue(closed_by_server(s, TIMEOUT + MARGIN), "trickling connection %d still open" % i)

    def test_slowloris_below_the_limit_does_not_hold_up_others(self):
        slow = Trickler(self.srv, LIMIT - 8, 0.5)
        self.track(slow)
        with RssSampler(self.srv.proc.pid) as mem:
            conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
            deadline = time.monotonic() + 2 * TIMEOUT      # past the timeout: the trickle keeps them
            i = 0
            while time.monotonic() < deadline:
                answer = send_review(conn, "/mutate", review(SERVING, uid="fast-%d" % i))
                self.assertEqual(answer["response"]["uid"], "fast-%d" % i)
                i += 1
        self.assert_rss_below(mem.peak, POD_MEMORY, "slowloris below the limit")

    def test_slowloris_at_the_limit_frees_its_slots_when_it_pauses(self):
        """The documented behaviour: the timeout is per idle period, so the
        slots come back one timeout after the trickle pauses."""
        slow = Trickler(self.srv, LIMIT, 0.5)
        self.track(slow)
        time.sleep(TIMEOUT + 0.5)      # longer than the timeout: held by the trickle
        slow.stop()
        waited = served_within(self.srv, TIMEOUT + MARGIN)
        self.assertIsNotNone(waited, "served one timeout after the trickle paused")
        for i, s in enumerate(slow.socks):
            self.assertTrue(closed_by_server(s, TIMEOUT + MARGIN), "paused connection %d still open" % i)

    def test_more_clients_than_the_limit(self):
        """2 x LIMIT clients at once, each keeping its connection busy with a
        GET every 0.3 s: at most LIMIT are ever served at the same time, the
        rest wait (not answered, not crashed); once the busy ones leave, the
        waiting ones and fresh clients are served."""
        n = 2 * LIMIT
        lock = threading.Lock()
        state = {"now": 0, "max": 0, "served": 0, "errors": []}
        leave = threading.Event()

        def one(i):
            try:
                s = tls_socket(self.srv, timeout=4 * TIMEOUT + MARGIN)
            except (OSError, ssl.SSLError) as e:
                with lock:
                    state["errors"].append("%d: %s" % (i, type(e).__name__))
                return
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            try:
                while True:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    status, _, _ = read_response(s)
                    if status != 200:
                        raise AssertionError("GET /healthz answered %d" % status)
                    with lock:
                        state["served"] += 1
                    if leave.wait(0.3):
                        break
            except (OSError, ssl.SSLError, ConnectionError, AssertionError) as e:
                with lock:
                    state["errors"].append("%d: %s" % (i, e))
            finally:
                with lock:
                    state["now"] -= 1
                s.close()

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        with RssSampler(self.srv.proc.pid) as mem:
            for t in threads:
                t.start()
            time.sleep(TIMEOUT + 1)
            with lock:
                busy_max = state["max"]
            leave.set()
            for t in threads:
                t.join(IO_TIMEOUT)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hangs")
        self.assertLessEqual(busy_max, LIMIT, "more than --max-connections served at once")
        self.assertGreaterEqual(busy_max, LIMIT // 2, "the limit is not usable")
        self.assertEqual(state["errors"], [], "every client is served in the end")
        self.assert_rss_below(mem.peak, POD_MEMORY, "%d clients" % n)


# ------------------------------------------------------------------ bodies

@needs_binary
class BodyLimitTest(LimitsCase):
    ARGS = LIMITED + ["--max-body", str(SMALL_BODY)]

    def raw(self):
        return self.track(tls_socket(self.srv))

    def test_announced_too_large_on_every_post_path(self):
        for path in ("/mutate", "/validate", "/sync"):
            with self.subTest(path=path):
                s = self.raw()
                s.sendall(head("POST", path, length=SMALL_BODY + 1))
                status, headers, _ = read_response(s)
                self.assertEqual(status, 413)
                self.assertTrue(headers.get("content-type", "").startswith("text/plain"))

    def test_chunked_one_byte_over_the_limit_is_413_and_at_it_is_read(self):
        for path in ("/validate", "/sync"):
            for size, want in ((SMALL_BODY, 400), (SMALL_BODY + 1, 413)):
                with self.subTest(path=path, size=size):
                    s = self.raw()
                    s.sendall(head("POST", path, chunked=True))
                    sent = 0
                    while sent < size:
                        n = min(1000, size - sent)
                        if not send_quietly(s, chunk(b" " * n)):
                            break
                        sent += n
                    send_quietly(s, b"0\r\n\r\n")
                    status, _, body = read_response(s)
                    self.assertEqual(status, want, body[:200])

    def test_content_length_over_the_limit_sent_in_full_is_413(self):
        for path in ("/mutate", "/sync"):
            with self.subTest(path=path):
                s = self.raw()
                send_quietly(s, head("POST", path, length=SMALL_BODY + 1) + b" " * (SMALL_BODY + 1))
                status, _, _ = read_response(s)
                self.assertEqual(status, 413)

    def test_malformed_content_length(self):
        """Refused (400 from libmicrohttpd or 413 from us) or closed; never
        read as a small length, never a hang."""
        for value in (b"abc", b"-1", b"99999999999999999999999", b"1e9", b"0x10", b"12abc"):
            with self.subTest(value=value):
                s = self.raw()
                s.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: %s\r\n\r\n{}" % value)
                status = status_or_closed(s, IO_TIMEOUT)
                if status is not None:
                    self.assertIn(status, (400, 411, 413))

    def test_conflicting_content_lengths(self):
        s = self.raw()
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
                  b"Content-Length: %d\r\n\r\n{}" % (SMALL_BODY + 10))
        status = status_or_closed(s, TIMEOUT + MARGIN)
        if status is not None:      # else refused by closing (or by the idle timeout)
            self.assertIn(status, (400, 413))

    def test_http_1_0_post_without_a_length(self):
        """No Content-Length and no chunking: the body cannot be delimited.
        Answered (as an empty or refused body) or closed, within the timeout."""
        s = self.raw()
        s.sendall(b"POST /validate HTTP/1.0\r\nHost: localhost\r\n\r\n" + review_bytes("http10"))
        status = status_or_closed(s, TIMEOUT + MARGIN)
        if status is not None:
            self.assertIn(status, (400, 411, 413))

    def test_too_large_bodies_while_others_are_served(self):
        stop = threading.Event()
        counts = {"413": 0, "other": []}

        def flood():
            while not stop.is_set():
                try:
                    s = tls_socket(self.srv)
                    try:
                        send_quietly(s, head("POST", "/mutate", length=4 * SMALL_BODY) + b"[" * 4 * SMALL_BODY)
                        status, _, _ = read_response(s)
                    finally:
                        s.close()
                except (OSError, ssl.SSLError, ConnectionError):
                    continue
                if status == 413:
                    counts["413"] += 1
                else:
                    counts["other"].append(status)

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        self.closers.append(stop.set)
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        for i in range(30):
            answer = send_review(conn, "/validate", review(SERVING, uid="between-%d" % i))
            self.assertTrue(answer["response"]["allowed"])
        stop.set()
        for t in threads:
            t.join(IO_TIMEOUT)
        self.assertGreater(counts["413"], 0)
        self.assertEqual(counts["other"], [])


# ------------------------------------------------------------------- depth

def nested_review(total_depth, uid):
    """A Serving review whose text nests exactly total_depth deep: the
    review (1), request (2), object (3), spec (4), then arrays."""
    obj = json.loads(json.dumps(SERVING))
    inner = []
    for _ in range(total_depth - 5):
        inner = [inner]
    obj["spec"]["deep"] = inner
    return review_bytes(uid, obj)


def depth_of(text):
    depth = best = 0
    in_str = esc = False
    for c in text.decode():
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
            best = max(best, depth)
        elif c in "]}":
            depth -= 1
    return best


@needs_binary
class DepthLimitTest(LimitsCase):
    ARGS = ["--threads", "2"]
    MAX_DEPTH = 100     # REVIEW_MAX_JSON_DEPTH

    def test_depth_at_the_limit_is_answered_one_more_is_400(self):
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        at, over = nested_review(self.MAX_DEPTH, "at"), nested_review(self.MAX_DEPTH + 1, "over")
        self.assertEqual((depth_of(at), depth_of(over)), (self.MAX_DEPTH, self.MAX_DEPTH + 1))
        for path in ("/mutate", "/validate"):
            with self.subTest(path=path):
                answer = send_review(conn, path, json.loads(at))
                self.assertEqual(answer["response"]["uid"], "at")
                status, _, text = request(conn, "POST", path, body=over,
                                          headers={"Content-Type": "application/json"})
                self.assertEqual(status, 400, text)
                self.assertIn("nest", text)

    def test_sync_depth_limit(self):
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        inner = []
        for _ in range(self.MAX_DEPTH + 5):
            inner = [inner]
        status, _, text = post_json(conn, "/sync", {"parent": dict(SERVING, spec={"x": inner})})
        self.assertEqual(status, 400, text)

    def test_brackets_inside_strings_do_not_count(self):
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        obj = json.loads(json.dumps(SERVING))
        obj["metadata"]["annotations"] = {"a": "[" * 5000 + "{" * 5000, "b": '\\"[[[[' * 1000,
                                          "c": "\\" * 999 + '"' + "[" * 200}
        answer = send_review(conn, "/validate", review(obj, uid="strings"))
        self.assertEqual(answer["response"]["uid"], "strings")

    def test_whole_body_of_open_brackets(self):
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        for body in (b"[" * (MAX_BODY - 1), b"{\"a\":" * (MAX_BODY // 5)):
            with self.subTest(len=len(body)):
                status, _, text = request(conn, "POST", "/mutate", body=body,
                                          headers={"Content-Type": "application/json"})
                self.assertEqual(status, 400, text)


# ------------------------------------------------------ request deadline

HEADER_TIMEOUT = 3          # --header-timeout of the server here
REQUEST_TIMEOUT = 6         # --request-timeout of the server here
DUE = HEADER_TIMEOUT        # a head at most this long after accept or its first byte


@needs_binary
class RequestDeadlineTest(LimitsCase):
    """The deadlines that bound what the idle timeout cannot, however often
    bytes arrive: a head is due --header-timeout after the accept (or the
    request's first byte), a body --header-timeout after its head plus what
    it received at --min-body-rate, all of it --request-timeout after the
    first byte."""

    ARGS = LIMITED + ["--request-timeout", str(REQUEST_TIMEOUT), "--header-timeout", str(HEADER_TIMEOUT)]

    def test_slowloris_at_the_limit_is_cut_by_the_deadline(self):
        slow = Trickler(self.srv, LIMIT, 0.5)
        self.track(slow)
        t0 = time.monotonic()
        waited = served_within(self.srv, DUE + MARGIN)
        self.assertIsNotNone(waited, "a fresh client is served while %d connections trickle headers" % LIMIT)
        # cut by the deadline, not earlier by the idle timeout: they never idled
        self.assertGreaterEqual(waited, DUE - 1, "served before any deadline passed")
        for i, s in enumerate(slow.socks):
            left = max(0.5, DUE + MARGIN - (time.monotonic() - t0))
            self.assertTrue(closed_by_server(s, left), "trickling connection %d still open" % i)

    def test_slowloris_body_is_cut_by_the_deadline(self):
        body = review_bytes("trickled-body")
        socks = []
        for _ in range(LIMIT):
            s = self.track(tls_socket(self.srv))
            s.sendall(head("POST", "/validate", length=len(body)))
            socks.append(s)
        t0 = time.monotonic()
        for i in range(len(body)):
            if time.monotonic() - t0 > DUE + MARGIN:
                break
            if not all([send_quietly(s, body[i:i + 1]) for s in socks]):
                break
            time.sleep(0.5)
        self.assertIsNotNone(served_within(self.srv, DUE + MARGIN))
        for i, s in enumerate(socks):
            self.assertTrue(closed_by_server(s, MARGIN), "trickling upload %d still open" % i)
        self.assertLessEqual(in_flight(self.srv), 1)

    def test_a_slow_request_within_the_deadline_is_answered(self):
        """Idle for most of the idle timeout, then a body sent in pieces
        over most of --header-timeout: in time, so answered."""
        body = review_bytes("slow-but-in-time")
        s = self.track(tls_socket(self.srv))
        time.sleep(TIMEOUT - 0.7)
        s.sendall(head("POST", "/validate", length=len(body)))
        pieces = 5
        step = -(-len(body) // pieces)
        for i in range(0, len(body), step):
            time.sleep((HEADER_TIMEOUT - 1) / pieces)
            s.sendall(body[i:i + step])
        status, _, text = read_response(s)
        self.assertEqual(status, 200, text[:200])
        self.assertEqual(json.loads(text)["response"]["uid"], "slow-but-in-time")

    def test_each_answer_starts_a_new_deadline(self):
        """A keep-alive connection used every 0.5 TIMEOUT lives well past
        one deadline: every answer moves it. (At 0.7 TIMEOUT a loaded
        machine's client, slow to send its next request, once passed the
        idle timeout itself: 0.6 s was too thin a margin.)"""
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < 2 * DUE:
            self.assertEqual(send_review(conn, "/validate", review(SERVING, uid="k%d" % i))["response"]["uid"],
                             "k%d" % i)
            i += 1
            time.sleep(0.5 * TIMEOUT)


# ------------------------------------------------------- slow readers

TRAINING = {"apiVersion": AV, "kind": "Training", "metadata": {"name": "ppocr", "namespace": "kubeflow"},
            "spec": {"project": "PaddleOCR", "dataset": "icdar2015", "pvcName": "ppocr-pvc",
                     "configPath": "configs/det/ch_ppocr_v2.0/ch_det_mv3_db_v2.0.yml",
                     "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
                     "trainLabel": "train_icdar2015_label.txt", "testLabel": "test_icdar2015_label.txt",
                     "workerReplicas": 1, "gpuPerNode": 1,
                     # ~10 KB of overrides, repeated in several children: a ~40 KB answer
                     "configChanges": ",".join("Global.k%d=%s" % (i, "v" * 60) for i in range(150))}}


@needs_binary
class SlowReaderTest(LimitsCase):
    """An answer larger than the socket takes at once (a client with a
    2 KiB receive buffer that waits before reading) still arrives whole,
    without holding up others, and the connection serves on. (The idle
    timeout is longer here: the client sends nothing while it waits.)"""

    ARGS = ["--threads", "2", "--max-connections", str(LIMIT), "--connection-timeout", "10"] + PER_ADDRESS

    def test_a_slow_reader_gets_a_large_answer_whole(self):
        body = review_bytes("slow-reader", TRAINING)
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        raw.settimeout(IO_TIMEOUT)
        raw.connect(("127.0.0.1", self.srv.port))
        s = self.track(tls_context(self.srv.ca).wrap_socket(raw, server_hostname="localhost"))
        s.sendall(head("POST", "/mutate", length=len(body)) + body)
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        for i in range(5):      # others are answered while it does not read
            self.assertEqual(send_review(conn, "/validate", review(SERVING, uid="o%d" % i))["response"]["uid"],
                             "o%d" % i)
        time.sleep(1)
        status, _, text = read_response(s)
        self.assertEqual(status, 200)
        self.assertGreater(len(text), 32 * 1024, text[:300])
        answer = json.loads(text)["response"]
        self.assertEqual((answer["uid"], answer["allowed"]), ("slow-reader", True))
        s.sendall(head("GET", "/healthz"))
        self.assertEqual(read_response(s)[0], 200)


# ------------------------------------------------------- slow bodies

@needs_binary
class SlowBodyTest(LimitsCase):
    def test_body_trickled_slower_than_the_timeout_is_cut(self):
        body = review_bytes("trickled")
        s = self.track(tls_socket(self.srv))
        s.sendall(head("POST", "/validate", length=len(body)))
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        cut = False
        for i in range(len(body)):
            if not send_quietly(s, body[i:i + 1]):
                cut = True
                break
            # others are answered between the bytes
            self.assertEqual(send_review(conn, "/mutate", review(SERVING, uid="o%d" % i))["response"]["uid"],
                             "o%d" % i)
            if closed_by_server(s, TIMEOUT + 1.5):
                cut = True
                break
        self.assertTrue(cut, "a body trickled one byte per %.1f s was read to the end" % (TIMEOUT + 1.5))
        self.assertLess(i, 3, "the server waited more than one timeout between bytes")
        # the cut request was released: only the /metrics request itself is in flight
        self.assertLessEqual(in_flight(self.srv), 1)

    def test_body_stalled_before_its_end_is_cut(self):
        body = review_bytes("stalled")
        socks = []
        for _ in range(LIMIT // 2):
            s = self.track(tls_socket(self.srv))
            s.sendall(head("POST", "/validate", length=len(body)) + body[:-1])
            socks.append(s)
        for i, s in enumerate(socks):
            self.assertTrue(closed_by_server(s, TIMEOUT + MARGIN), "stalled upload %d still open" % i)
        self.assertLessEqual(in_flight(self.srv), 1)


@needs_binary
class NagleClientTest(LimitsCase):
    ARGS = ["--threads", "2"]

    def test_body_over_several_records_is_not_held_by_a_delayed_ack(self):
        """A client with Nagle's algorithm on (no TCP_NODELAY; Python's
        default) holds the short tail of a body longer than one TLS record
        until the records before it are acknowledged, while Linux delays
        that ACK up to 40 ms for a reply to ride on: the server
        acknowledges at once when it has read all there is and the body is
        incomplete (outbox.c pull(), TCP_QUICKACK). Serial requests on one
        keep-alive connection, head and body sent apart as http.client
        does: each held by a delayed ACK would take 40 ms or more."""
        body = large_review("nagle", 40 * 1024)
        s = self.track(tls_socket(self.srv))
        took = []
        for _ in range(9):
            t0 = time.monotonic()
            s.sendall(head("POST", "/validate", length=len(body)))
            s.sendall(body)
            status, _, _ = read_response(s)
            took.append(time.monotonic() - t0)
            self.assertEqual(status, 200)
        took.sort()
        self.assertLess(took[len(took) // 2], 0.030, "median of %s s" % ["%.3f" % t for t in took])


# ------------------------------------------------------------------ memory

def large_review(uid, size):
    """A legal Serving review of about size bytes: one big annotation."""
    base = review_bytes(uid)
    obj = json.loads(json.dumps(SERVING))
    obj["metadata"]["annotations"] = {"example.com/blob": "x" * (size - len(base) - 64)}
    body = review_bytes(uid, obj)
    assert size - 256 < len(body) <= size, len(body)
    return body


@needs_binary
class MemoryTest(LimitsCase):
    ARGS = ["--threads", "2", "--max-connections", str(LIMIT), "--connection-timeout", "10"] + PER_ADDRESS
    SIZE = int(2.9 * MIB)

    def test_concurrent_large_legal_bodies(self):
        """6 bodies of 2.9 MiB at once, three rounds: all answered with
        their uid (bodies past 64 KiB share 3/4 of --max-buffered, 18 of
        24 MiB: six fit), memory under the pod limit, and no growth from
        round to round."""
        bodies = [large_review("big-%d" % i, self.SIZE) for i in range(6)]
        after = []
        for rnd in range(3):
            results = [None] * len(bodies)

            def one(i):
                conn = client(self.srv, timeout=IO_TIMEOUT * 3)
                try:
                    status, _, answer = request(conn, "POST", "/mutate" if i % 2 else "/validate",
                                                body=bodies[i], headers={"Content-Type": "application/json"})
                    results[i] = (status, answer["response"]["uid"] if status == 200 else answer)
                except Exception as e:  # reported below, with the others
                    results[i] = (type(e).__name__, str(e))
                finally:
                    conn.close()

            threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(bodies))]
            with RssSampler(self.srv.proc.pid) as mem:
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(IO_TIMEOUT * 3)
            self.assertEqual(results, [(200, "big-%d" % i) for i in range(len(bodies))])
            self.assert_rss_below(mem.peak, POD_MEMORY, "6 concurrent 2.9 MiB bodies, round %d" % rnd)
            time.sleep(0.3)
            after.append(rss(self.srv.proc.pid))
        self.assert_rss_below(after[-1], POD_REQUEST, "after the rounds")
        self.assert_rss_below(after[-1], after[0] + 8 * MIB, "growth from round 1 to round 3")

    def test_large_buffers_given_back_after_a_quiet_spell(self):
        """Each worker keeps its last large body's buffer and its arena's
        large chunk warm for the next large body (conn.c conn_drop_body(),
        arena.c arena_end()); once no large body has come for 2 s
        (workers.c, WARM_IDLE_MS) it gives them back, so small reviews
        after a burst run in the memory they ran in before it (SPEC §7:
        under 16 MiB)."""
        if self.sanitized:
            self.skipTest("RSS is the sanitizer's")
        big = large_review("warm", self.SIZE)
        small = review_bytes("cool")
        # two connections at once: one on each worker (workers.c, hand_off())
        conns = [self.track(client(self.srv, timeout=IO_TIMEOUT)) for _ in range(2)]
        results = []

        def send(conn, body, times):
            for _ in range(times):
                status, _, _ = request(conn, "POST", "/mutate", body=body,
                                       headers={"Content-Type": "application/json"})
                results.append(status)

        threads = [threading.Thread(target=send, args=(c, big, 3), daemon=True) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join(IO_TIMEOUT * 3)
        warm = rss(self.srv.proc.pid)
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            for c in conns:
                send(c, small, 1)
            time.sleep(0.05)
        cool = rss(self.srv.proc.pid)
        self.assertEqual(set(results), {200})
        print("\nafter 2.9 MiB bodies: VmRSS %.1f MiB; after 3.5 s of small ones %.1f MiB" % (warm / MIB, cool / MIB))
        self.assertLess(cool, warm - 4 * MIB, "large buffers kept after a quiet spell")

    def test_plain_hook_port_keeps_no_large_chunk(self):
        """The plain hook port's threads are libmicrohttpd's, with no round
        to give memory back in after a quiet spell: a sync that needed a
        large arena chunk (an observed child with a 2.5 MiB status
        message, built for its phase) gives it back at once
        (syncport.c do_sync())."""
        if self.sanitized:
            self.skipTest("RSS is the sanitizer's")
        port = free_port()
        self.srv.stop()
        self.srv = Server(self.ARGS + ["--sync-listen", "127.0.0.1:%d" % port])
        self.srv.start()
        child = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "big", "namespace": "kubeflow"},
                 "status": {"message": "x" * int(2.5 * MIB)}}
        body = json.dumps({"parent": {"apiVersion": AV, "kind": "Serving",
                                      "metadata": {"name": "s", "namespace": "kubeflow", "uid": "u"},
                                      "spec": SERVING["spec"]},
                           "children": {"Job.batch/v1": {"big": child}}, "finalizing": False}).encode()
        before = rss(self.srv.proc.pid)

        def one():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT)
            try:
                for _ in range(3):
                    conn.request("POST", "/sync", body=body, headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    statuses.append(resp.status)
            finally:
                conn.close()

        statuses = []
        threads = [threading.Thread(target=one, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(IO_TIMEOUT * 3)
        time.sleep(0.3)
        after = rss(self.srv.proc.pid)
        self.assertEqual(statuses, [200] * 6)
        print("\nplain /sync of 2.5 MiB statuses: VmRSS %.1f MiB before, %.1f after" % (before / MIB, after / MIB))
        self.assertLess(after, before + 1.5 * MIB, "a large arena chunk kept by the plain port's threads")

    def test_element_dense_body_is_answered_within_bounds(self):
        """2.9 MiB of tiny JSON values (spec.generated: [{}, {}, ...], which
        every CRD's schema here allows) once cost ~80 bytes of jansson values
        per input byte (229 MiB for one /mutate) and CPU growing with the
        square of the size. The parser now refuses more than
        JSONPARSE_MAX_VALUES values (400) and arena chunks grow
        geometrically, so the answer is quick and memory stays bounded."""
        self.graceful_stop = False      # the request may still run when the test gives up
        obj = json.loads(json.dumps(SERVING))
        obj["spec"]["generated"] = [{}] * ((self.SIZE - len(review_bytes())) // 3)
        body = review_bytes("dense", obj)
        self.assertLess(len(body), MAX_BODY)
        conn = self.track(client(self.srv, timeout=IO_TIMEOUT))
        t0 = time.monotonic()
        with RssSampler(self.srv.proc.pid) as mem:
            status, _, _ = request(conn, "POST", "/mutate", body=body,
                                   headers={"Content-Type": "application/json"})
        elapsed = time.monotonic() - t0
        self.assertIn(status, (200, 400, 413))
        self.assertLess(elapsed, IO_TIMEOUT, "one dense 2.9 MiB review took %.0f s" % elapsed)
        if self.sanitized:
            self.skipTest("RSS is the sanitizer's")
        self.assertLess(mem.peak, POD_MEMORY, "one dense 2.9 MiB review: VmRSS %.0f MiB" % (mem.peak / MIB))

    def test_stalled_large_uploads_stay_under_the_pod_limit(self):
        """Each connection may buffer up to --max-body before the request is
        judged; all of them together at most --max-buffered (24 MiB; 18 MiB
        for bodies past 64 KiB), past which a request gets 503 at once. 24
        uploads of 2.9 MiB that stop one byte short stay under the pod
        limit."""
        body = large_review("stalled", self.SIZE)
        socks = []
        with RssSampler(self.srv.proc.pid) as mem:
            for _ in range(24):
                s = self.track(tls_socket(self.srv))
                s.sendall(head("POST", "/validate", length=len(body)) + body[:-1])
                socks.append(s)
            time.sleep(0.5)
        if self.sanitized:
            self.skipTest("RSS is the sanitizer's")
        self.assertLess(mem.peak, POD_MEMORY, "24 stalled 2.9 MiB uploads: VmRSS %.0f MiB" % (mem.peak / MIB))


if __name__ == "__main__":
    unittest.main()
