"""End-to-end tests of malformed and hostile input (SPEC §3.1, §3.2, §5, §6):
every bad request gets an answer (404, 405 with Allow, 400 with a short
plain-text reason, 413) or a closed connection, never a crash or a hang;
slow clients do not hold up others; what is not TLS 1.2+ is refused. After
every test the server must still be alive, healthy and answering reviews.
A last class checks SIGTERM: readiness turns 503, an in-flight request
finishes, the exit status is 0.
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import unittest
import warnings

from common import (Server, ServerTestCase, client, needs_binary, read_response, request, review, send_review,
                    tls_context)

AV = "paddlex.paddlepaddle.org/v1alpha1"
MAX_BODY = 3 * 1024 * 1024
IO_TIMEOUT = 20     # a guard against hangs, never a measure of speed

SERVING = {"apiVersion": AV, "kind": "Serving", "metadata": {"name": "ppocr", "namespace": "kubeflow"},
           "spec": {"image": "registry.baidubce.com/paddleflow-public/serving:v0.6.2"}}


def review_bytes(uid="bad-input"):
    return json.dumps(review(SERVING, uid=uid)).encode()


class RawTls:
    """A verified TLS connection on which the test writes raw HTTP bytes."""

    def __init__(self, srv, context=None):
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT)
        self.sock = (context or tls_context(srv.ca)).wrap_socket(raw, server_hostname="localhost")

    def send(self, data):
        self.sock.sendall(data)

    def send_quietly(self, data):
        """Sends, ignoring a server that already answered and hung up."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            return False

    def response(self):
        """(status, headers dict lowercased, body bytes) of one response."""
        return read_response(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def http_head(method, path, length=None, chunked=False, extra=""):
    h = "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" % (method, path)
    if length is not None:
        h += "Content-Length: %d\r\n" % length
    if chunked:
        h += "Transfer-Encoding: chunked\r\n"
    return (h + extra + "\r\n").encode()


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


@needs_binary
class BadInputTest(ServerTestCase):
    def setUp(self):
        self.conn = client(self.srv, timeout=IO_TIMEOUT)
        self.addCleanup(self.conn.close)

    def tearDown(self):
        """Whatever the test threw at it, the server is alive and serving."""
        self.assertIsNone(self.srv.proc.poll(), "server died: %s" % self.srv.stderr_text()[-2000:])
        conn = client(self.srv, timeout=IO_TIMEOUT)
        try:
            status, _, _ = request(conn, "GET", "/healthz")
            self.assertEqual(status, 200)
            answer = send_review(conn, "/validate", review(SERVING))
            self.assertTrue(answer["response"]["allowed"])
        finally:
            conn.close()

    def raw(self, context=None):
        r = RawTls(self.srv, context)
        self.addCleanup(r.close)
        return r

    def assert_plain_reason(self, status, headers, body, want_status):
        self.assertEqual(status, want_status, body)
        self.assertTrue(headers.get("Content-Type", headers.get("content-type", "")).startswith("text/plain"))
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        self.assertTrue(text.strip(), "a reason is given")
        self.assertLess(len(text), 300, "the reason is short")

    # ----------------------------------------------------------- routing

    def test_unknown_path_is_404(self):
        for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/mutate/x"), ("POST", "/Mutate"),
                             ("GET", "/healthz/"), ("GET", "/metrics/x")):
            with self.subTest(path=path):
                conn = client(self.srv, timeout=IO_TIMEOUT)
                try:
                    status, _, _ = request(conn, method, path, body=b"{}" if method == "POST" else None)
                finally:
                    conn.close()
                self.assertEqual(status, 404)

    def test_wrong_method_is_405_with_allow(self):
        for method, path, allow in (("GET", "/mutate", "POST"), ("PUT", "/validate", "POST"),
                                    ("DELETE", "/mutate", "POST"), ("POST", "/healthz", "GET"),
                                    ("PATCH", "/readyz", "GET")):
            with self.subTest(method=method, path=path):
                conn = client(self.srv, timeout=IO_TIMEOUT)
                try:
                    status, headers, _ = request(conn, method, path,
                                                 body=b"{}" if method != "GET" else None)
                finally:
                    conn.close()
                self.assertEqual(status, 405)
                self.assertEqual(headers.get("Allow"), allow)

    # ------------------------------------------------------------- 400s

    def test_malformed_reviews_are_400_with_a_reason(self):
        no_uid = review(SERVING)
        del no_uid["request"]["uid"]
        empty_uid = review(SERVING, uid="x")
        empty_uid["request"]["uid"] = ""
        good = review_bytes()
        bodies = {
            "not JSON": b"this is not json",
            "empty": b"",
            "binary": os.urandom(512),
            "invalid UTF-8": b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x":"\xff"}',
            "JSON array": b"[]",
            "not an AdmissionReview": json.dumps({"apiVersion": "v1", "kind": "Pod"}).encode(),
            "unknown version": good.replace(b"admission.k8s.io/v1", b"admission.k8s.io/v9"),
            "no request": b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
            "no request.uid": json.dumps(no_uid).encode(),
            "empty request.uid": json.dumps(empty_uid).encode(),
            "truncated": good[:len(good) // 2],
            "trailing garbage": good + b"}",
            "duplicate keys": good.replace(b'"kind": "AdmissionReview"',
                                           b'"kind": "AdmissionReview", "kind": "AdmissionReview"'),
            "deeply nested": b"[" * 10000,
            "deeply nested and closed": b"[" * 10000 + b"]" * 10000,
        }
        self.assertNotEqual(bodies["duplicate keys"], good)
        for name, body in bodies.items():
            for path in ("/mutate", "/validate"):
                with self.subTest(name, path=path):
                    status, headers, text = request(self.conn, "POST", path, body=body,
                                                    headers={"Content-Type": "application/json"})
                    self.assert_plain_reason(status, headers, text, 400)

    # ------------------------------------------------------------- 413s

    def test_announced_oversized_body_is_413(self):
        r = self.raw()
        r.send(http_head("POST", "/validate", length=MAX_BODY + 1))
        status, headers, body = r.response()
        self.assertEqual(status, 413, body)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"))

    def test_oversized_body_sent_whole_is_413(self):
        r = self.raw()
        r.send(http_head("POST", "/mutate", length=MAX_BODY + 1))
        block = b" " * 65536
        sent = 0
        while sent < MAX_BODY + 1 and r.send_quietly(block[:MAX_BODY + 1 - sent]):
            sent += min(len(block), MAX_BODY + 1 - sent)
        status, _, _ = r.response()
        self.assertEqual(status, 413)

    def test_oversized_chunked_body_is_413(self):
        r = self.raw()
        r.send(http_head("POST", "/validate", chunked=True))
        block = b"[" * 65536
        sent = 0
        while sent <= MAX_BODY and r.send_quietly(chunk(block)):
            sent += len(block)
        r.send_quietly(b"0\r\n\r\n")
        status, _, _ = r.response()
        self.assertEqual(status, 413)

    def test_body_of_exactly_the_limit_is_read(self):
        r = self.raw()
        r.send(http_head("POST", "/validate", length=MAX_BODY))
        r.send(b" " * MAX_BODY)
        status, _, body = r.response()
        self.assertEqual(status, 400, "read and judged as JSON, not refused for its size: %r" % body)

    def test_chunked_review_is_answered(self):
        body = review_bytes("chunked")
        r = self.raw()
        r.send(http_head("POST", "/validate", chunked=True))
        for i in range(0, len(body), 100):
            r.send(chunk(body[i:i + 100]))
        r.send(b"0\r\n\r\n")
        status, _, answer = r.response()
        self.assertEqual(status, 200, answer)
        self.assertEqual(json.loads(answer)["response"]["uid"], "chunked")

    # --------------------------------------------------- slow and hostile

    def test_slow_client_does_not_block_others(self):
        body = review_bytes("slow")
        slow = self.raw()
        slow.send(b"POST /validate HTTP/1.1\r\nHost: local")        # headers cut short
        for i in range(5):
            self.assertTrue(send_review(self.conn, "/validate", review(SERVING))["response"]["allowed"])
        slow.send(b"host\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), max(1, len(body) // 10)):
            slow.send(body[i:i + max(1, len(body) // 10)])         # a trickle, one piece at a time
            answer = send_review(self.conn, "/mutate", review(SERVING, uid="fast-%d" % i))
            self.assertEqual(answer["response"]["uid"], "fast-%d" % i)
        status, _, answer = slow.response()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(answer)["response"]["uid"], "slow")

    def server_cpu_seconds(self):
        fields = open("/proc/%d/stat" % self.srv.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_stalled_handshake_does_not_spin(self):
        # A client that sends part of a TLS handshake and stops: the worker
        # that owns the connection must wait for it, not poll it in a loop
        # (libmicrohttpd 0.9.75 keeps such a connection "ready"; see pull()
        # in webhook/server.c). Two such clients, one per worker at most.
        for head in (b"\x16\x03", b"\x16\x03\x01\x02\x00\x01\x00"):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=IO_TIMEOUT)
            self.addCleanup(s.close)
            s.sendall(head)
        time.sleep(0.3)
        before = self.server_cpu_seconds()
        time.sleep(2)
        used = self.server_cpu_seconds() - before
        # spinning costs a whole core (2 s here); waiting costs nothing
        self.assertLess(used, 0.5, "the server burnt %.2f s of CPU in 2 s on stalled handshakes" % used)
        self.assertTrue(send_review(self.conn, "/validate", review(SERVING))["response"]["allowed"])

    def test_short_answers_are_not_held_back(self):
        # A short answer first corks the socket in libmicrohttpd; the outbox
        # sends after it, so it must uncork, or the kernel holds every
        # later answer on the connection for its 200 ms cork limit.
        # A functional check with a wide margin, not a measure of speed.
        r = self.raw()
        times = []
        for i, path in enumerate(("/validate", "/validate", "/mutate", "/validate", "/mutate")):
            body = review_bytes("push-%d" % i)
            start = time.monotonic()
            r.send(http_head("POST", path, len(body)) + body)
            status, _, answer = r.response()
            times.append(time.monotonic() - start)
            self.assertEqual(status, 200, answer)
        self.assertLess(sorted(times)[len(times) // 2], 0.15,
                        "answers held back: %s" % ", ".join("%.0f ms" % (t * 1e3) for t in times))

    def test_idle_connections_do_not_block_others(self):
        idle = []
        for _ in range(32):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=IO_TIMEOUT)
            self.addCleanup(s.close)
            idle.append(s)
        for i in range(10):
            self.assertTrue(send_review(self.conn, "/validate", review(SERVING))["response"]["allowed"])

    def test_garbage_on_the_tls_port(self):
        for garbage in (os.urandom(4096), b"\x16\x03\x01\x00\x05hello", b"\x16\x03\x03\xff\xff" + b"A" * 100,
                        b"\x00" * 1024):
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=IO_TIMEOUT) as s:
                data = b""
                try:
                    s.sendall(garbage)
                    s.shutdown(socket.SHUT_WR)
                    while True:
                        got = s.recv(4096)
                        if not got:
                            break
                        data += got
                except OSError:
                    pass        # reset or already closed: refused
                self.assertFalse(data.startswith(b"HTTP/"), "no HTTP answer outside TLS")

    def test_plain_http_on_the_tls_port(self):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=IO_TIMEOUT) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            try:
                while True:
                    got = s.recv(4096)
                    if not got:
                        break
                    data += got
            except ConnectionResetError:
                pass
        self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:100])

    def test_tls_1_1_and_1_0_are_refused(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            versions = (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1)
        for version in versions:
            with self.subTest(version.name):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(self.srv.ca)
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)   # that is the point
                    ctx.minimum_version = ctx.maximum_version = version
                with socket.create_connection(("127.0.0.1", self.srv.port), timeout=IO_TIMEOUT) as raw:
                    try:
                        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                            self.fail("handshake succeeded with %s" % tls.version())
                    except ssl.SSLError as e:
                        if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
                            self.skipTest("this client cannot offer %s" % version.name)
                    except ConnectionResetError:
                        pass   # refused by closing: also a refusal

    def test_oversized_headers(self):
        r = self.raw()
        try:
            # the close may come while the 200 KB are still being sent
            r.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
            status, _, _ = r.response()
        except (AssertionError, ConnectionError, ssl.SSLError):
            return          # refused by closing the connection
        self.assertGreaterEqual(status, 400)

    def test_large_headers_within_the_limit_are_served(self):
        """libmicrohttpd's per-connection memory is 12 KiB: a bearer token
        of 8 KiB still fits with the rest of a request's headers."""
        r = self.raw()
        r.send(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + b"a" * 8192 + b"\r\n\r\n")
        status, _, _ = r.response()
        self.assertEqual(status, 200)

    def test_many_bad_requests_on_one_connection(self):
        for i in range(50):
            status, _, _ = request(self.conn, "POST", "/validate", body=b"{" * (i + 1),
                                   headers={"Content-Type": "application/json"})
            self.assertEqual(status, 400)


@needs_binary
class ShutdownTest(unittest.TestCase):
    def test_sigterm_exits_0(self):
        srv = Server()
        srv.start()
        try:
            conn = client(srv)
            self.assertTrue(send_review(conn, "/validate", review(SERVING))["response"]["allowed"])
            conn.close()
        finally:
            self.assertEqual(srv.stop(), 0, srv.stderr_text()[-2000:])

    def test_readyz_turns_503_while_draining(self):
        srv = Server(["--shutdown-delay", "30"])
        srv.start()
        try:
            conn = client(srv)
            self.assertEqual(request(conn, "GET", "/readyz")[0], 200)
            conn.close()
            srv.proc.send_signal(signal.SIGTERM)
            # the signal is handled asynchronously: ask until it shows, within a bound
            deadline = time.monotonic() + IO_TIMEOUT
            status = None
            while status != 503 and time.monotonic() < deadline:
                conn = client(srv)
                status = request(conn, "GET", "/readyz")[0]
                conn.close()
            self.assertEqual(status, 503)
            conn = client(srv)
            self.assertEqual(request(conn, "GET", "/healthz")[0], 200, "alive while draining")
            conn.close()
        finally:
            srv.kill()

    def test_in_flight_request_finishes_after_sigterm(self):
        srv = Server()
        srv.start()
        try:
            body = review_bytes("in-flight")
            r = RawTls(srv)
            r.send(http_head("POST", "/validate", length=len(body)))
            r.send(body[:len(body) // 2])
            srv.proc.send_signal(signal.SIGTERM)
            r.send(body[len(body) // 2:])
            status, _, answer = r.response()
            r.close()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(answer)["response"]["uid"], "in-flight")
            self.assertEqual(srv.proc.wait(timeout=IO_TIMEOUT), 0, srv.stderr_text()[-2000:])
        except subprocess.TimeoutExpired:
            self.fail("server did not exit after SIGTERM")
        finally:
            srv.kill()


if __name__ == "__main__":
    unittest.main()
