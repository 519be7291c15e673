"""End-to-end tests of operations (SPEC §5, §6): the real binary over
verified TLS.

- certificate hot reload: a kubelet Secret volume ("..data" symlink swap)
  and a plain rename over the old files; new connections get the new pair,
  open ones keep theirs, a bad pair is refused and counted while the old
  one stays;
- TLS 1.0 and 1.1 refused, 1.2 and 1.3 served;
- /metrics: valid Prometheus text, counters that move by exactly what was sent;
- logs: one JSON line per admission on stdout, `--log-level`, errors on stderr;
- SIGTERM: /readyz 503, in-flight requests answered (a stuck one cut at
  --drain-timeout), idle keep-alive connections no reason to wait, exit
  status 0.

Timing is only ever a polling deadline (WITHIN), never a measure.
"""
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
import warnings

from common import (CertPaths, Server, binary, client, default_certs, make_test_certs, needs_binary, request,
                    review, send_review, tls_context)

AV = "paddlex.paddlepaddle.org/v1alpha1"
WITHIN = 20.0           # seconds a change may take to show: a deadline against hangs
RELOAD = ["--reload-interval", "200"]
KEYS = ("tls.crt", "tls.key")

TRAINING = {"apiVersion": AV, "kind": "Training", "metadata": {"name": "ocr", "namespace": "kubeflow"},
            "spec": {"project": "PaddleOCR", "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.6",
                     "configPath": "configs/det/det.yml", "dataset": "ocr-data", "pvcName": "task-pvc",
                     "workerReplicas": 1}}
INVALID = dict(TRAINING, spec=dict(TRAINING["spec"], workerReplicas=-1))
DATASET = {"apiVersion": AV, "kind": "Dataset", "metadata": {"name": "ocr-data", "namespace": "team-a"},
           "spec": {"sourceUri": "bos://bucket/ocr/data", "sourceSecret": "bos-keys"}}


def eventually(check, what):
    """Polls check() until it returns a true value, which it returns;
    fails after WITHIN seconds."""
    deadline = time.monotonic() + WITHIN
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not within %.0f s: %s" % (WITHIN, what))
        time.sleep(0.05)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def der(cert_path):
    return ssl.PEM_cert_to_DER_cert(read(cert_path).decode())


# ---------------------------------------------------------------- metrics

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
VALUE = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]Inf|NaN"
SAMPLE = re.compile(r"(?P<name>%s)(?:\{(?P<labels>%s(?:,%s)*,?)?\})? (?P<value>%s)(?: -?\d+)?"
                    % (NAME, LABEL.pattern, LABEL.pattern, VALUE))
COMMENT = re.compile(r"# (HELP|TYPE) (%s)(?: (.*))?" % NAME)
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def parse_metrics(text):
    """Parses the Prometheus text format (0.0.4) strictly: every line a
    HELP, a TYPE or a sample; one TYPE per family, before its samples; no
    label or series twice; histogram buckets cumulative up to +Inf, which
    equals _count. Raises AssertionError, else returns
    {(name, ((label, value), ...sorted)): float}."""
    if not text.endswith("\n"):
        raise AssertionError("the exposition does not end with a newline")
    types, samples = {}, {}
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith(("# HELP", "# TYPE")):
            m = COMMENT.fullmatch(line)
            if not m or (m.group(1) == "TYPE" and (m.group(3) not in TYPES or m.group(2) in types)):
                raise AssertionError("line %d: malformed, unknown or repeated: %r" % (n, line))
            if m.group(1) == "TYPE":
                types[m.group(2)] = m.group(3)
        elif not line.startswith("#"):
            m = SAMPLE.fullmatch(line)
            if not m:
                raise AssertionError("line %d: not a sample: %r" % (n, line))
            name, labels = m["name"], tuple(sorted(LABEL.findall(m["labels"] or "")))
            base, _, suffix = name.rpartition("_")
            family = base if "_" + suffix in SUFFIXES.get(types.get(base), ()) else name
            if family not in types:
                raise AssertionError("line %d: %s has no TYPE before it" % (n, name))
            if len(dict(labels)) != len(labels) or (name, labels) in samples:
                raise AssertionError("line %d: repeated label or series: %r" % (n, line))
            samples[(name, labels)] = float(m["value"])
    for family, kind in types.items():
        if kind == "histogram":
            check_histogram(samples, family)
    return samples


def check_histogram(samples, family):
    buckets = {}
    for (name, labels), count in samples.items():
        if name == family + "_bucket":
            rest = tuple(kv for kv in labels if kv[0] != "le")
            buckets.setdefault(rest, []).append((float(dict(labels)["le"]), count))
    for rest, pairs in buckets.items():
        pairs.sort()
        counts = [c for _, c in pairs]
        if counts != sorted(counts) or pairs[-1][0] != math.inf:
            raise AssertionError("%s%s: buckets not cumulative up to +Inf: %r" % (family, rest, pairs))
        if samples.get((family + "_count", rest)) != counts[-1]:
            raise AssertionError("%s%s: +Inf bucket differs from _count" % (family, rest))


def scrape(srv, context=None):
    """GET /metrics on a new connection, checked (Content-Type, format) and parsed."""
    conn = client(srv, context=context)
    try:
        status, headers, text = request(conn, "GET", "/metrics")
    finally:
        conn.close()
    if status != 200 or not headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
        raise AssertionError("GET /metrics answered %d %s" % (status, headers.get("Content-Type")))
    return parse_metrics(text)


def series(samples, name):
    """{labels dict as sorted tuple: value} of one metric name."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def moved(before, after, name):
    """The series of name whose value changed, by how much; an absent series counts 0."""
    b, a = series(before, name), series(after, name)
    out = {labels: a.get(labels, 0) - b.get(labels, 0) for labels in set(a) | set(b)}
    return {labels: d for labels, d in out.items() if d}


def served(srv, context=None):
    """(DER, notAfter in unix seconds) of the certificate a new connection gets."""
    conn = client(srv, context=context)
    try:
        request(conn, "GET", "/healthz")
        return (conn.sock.getpeercert(binary_form=True),
                ssl.cert_time_to_seconds(conn.sock.getpeercert()["notAfter"]))
    finally:
        conn.close()


def reloads(samples, result):
    return value(samples, "paddlex_webhook_certificate_reloads_total", result=result)


# ------------------------------------------------------------ certificates

class SecretVolume:
    """A directory laid out as the kubelet projects a Secret: the files in
    a "..<timestamp>" directory, "..data" pointing at it, each key a symlink
    through "..data". update() writes a new directory, swaps "..data"
    atomically (a symlink made under a temporary name, renamed over) and
    removes the old directory, as the kubelet's AtomicWriter does."""

    def __init__(self, root, cert, key):
        self.root, self.current, self.count = root, None, 0
        self.update(cert, key)
        for name in KEYS:
            os.symlink(os.path.join("..data", name), os.path.join(root, name))

    def paths(self, ca):
        return CertPaths(ca, None, os.path.join(self.root, "tls.crt"), os.path.join(self.root, "tls.key"))

    def update(self, cert, key):
        """cert and key are the new files' bytes."""
        self.count += 1
        new = "..2026_01_01_00_00_%02d.%d" % (self.count, os.getpid())
        os.mkdir(os.path.join(self.root, new))
        for name, data in zip(KEYS, (cert, key)):
            with open(os.path.join(self.root, new, name), "wb") as f:
                f.write(data)
        os.symlink(new, os.path.join(self.root, "..data_tmp"))
        os.rename(os.path.join(self.root, "..data_tmp"), os.path.join(self.root, "..data"))
        if self.current:
            shutil.rmtree(os.path.join(self.root, self.current))
        self.current = new


def replace_by_rename(dir, cert, key):
    """Writes each file beside its target and renames it over, one after
    the other, as a tool writing plain files (not a Secret volume) does."""
    for name, data in zip(KEYS, (cert, key)):
        tmp = os.path.join(dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(dir, name))


@needs_binary
class CertReloadTest(unittest.TestCase):
    """Pairs a and b have different CAs, keys, serials and notAfter days;
    clients trust both CAs, and tell the pairs apart by the DER they get."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="paddlex-reload-")
        cls.a = make_test_certs(os.path.join(cls.tmp, "a"))
        cls.b = make_test_certs(os.path.join(cls.tmp, "b"), days=3)
        cls.ctx = tls_context(cls.a.ca)
        cls.ctx.load_verify_locations(cls.b.ca)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vol-", dir=self.tmp)

    def pair(self, p):
        return read(p.cert), read(p.key)

    def serve(self, paths):
        srv = Server(RELOAD, certs=paths)
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def connect(self, srv):
        """A keep-alive connection, used once: (connection, its socket)."""
        conn = client(srv, context=self.ctx)
        self.addCleanup(conn.close)
        self.assertEqual(request(conn, "GET", "/healthz")[0], 200)
        return conn, conn.sock

    def assert_still_works(self, conn, sock, want_der):
        status, _, _ = request(conn, "GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertIs(conn.sock, sock, "the old connection was not reopened")
        self.assertEqual(sock.getpeercert(binary_form=True), want_der)

    def assert_swapped(self, srv, conn, sock, before, new):
        """New connections get pair new; conn (opened before) keeps its
        certificate and still works; not-after shows the new certificate."""
        old_der = sock.getpeercert(binary_form=True)
        eventually(lambda: served(srv, self.ctx)[0] == der(new.cert), "new connections get the new certificate")
        self.assert_still_works(conn, sock, old_der)
        after = scrape(srv, self.ctx)
        self.assertEqual(value(after, "paddlex_webhook_certificate_not_after_seconds"), served(srv, self.ctx)[1])
        self.assertGreater(reloads(after, "success"), reloads(before, "success"))
        return after

    def test_secret_volume_swap(self):
        vol = SecretVolume(self.dir, *self.pair(self.a))
        srv = self.serve(vol.paths(self.a.ca))
        conn, sock = self.connect(srv)
        self.assertEqual(sock.getpeercert(binary_form=True), der(self.a.cert))
        before = scrape(srv, self.ctx)
        vol.update(*self.pair(self.b))
        after = self.assert_swapped(srv, conn, sock, before, self.b)
        # one atomic swap is exactly one reload
        self.assertEqual(reloads(after, "success") - reloads(before, "success"), 1)
        self.assertEqual(reloads(after, "failure"), reloads(before, "failure"))
        self.assertIn('"certificate reloaded from %s"' % srv.certs.cert, srv.stderr_text())

    def fresh(self, srv, ctx, session=None):
        """GET /healthz on a new connection offering session (a ticket):
        (its session, whether it resumed, the certificate's DER). The
        answer is read to the end: under TLS 1.3 the ticket comes after the
        handshake."""
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    got = s.recv(65536)
                    if not got:
                        break
                    data += got
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:80])
                return s.session, s.session_reused, s.getpeercert(binary_form=True)

    def test_sessions_resume_until_the_pair_is_swapped(self):
        """Tickets (webhook/tls.c): a second connection resumes the first's
        session, over TLS 1.2 and 1.3; after a certificate swap the ticket
        key is new, so a session of the old pair is not resumed and the
        client gets the new certificate by a full handshake; a restarted
        server, whose key was only ever in memory, resumes nothing."""
        vol = SecretVolume(self.dir, *self.pair(self.a))
        srv = self.serve(vol.paths(self.a.ca))
        sessions = {}
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = tls_context(self.a.ca)
            ctx.load_verify_locations(self.b.ca)
            ctx.minimum_version = ctx.maximum_version = version
            with self.subTest(version=version.name):
                session, reused, cert = self.fresh(srv, ctx)
                self.assertFalse(reused)
                self.assertEqual(cert, der(self.a.cert))
                for _ in range(3):
                    again, reused, cert = self.fresh(srv, ctx, session)
                    self.assertTrue(reused, "the ticket was not taken")
                    self.assertEqual(cert, der(self.a.cert))
                sessions[version] = (ctx, again)
        # a SIGHUP re-reads the same files: the pair and its tickets stay
        # (webhook/tls.c, files_digest), nothing is retired
        before = reloads(scrape(srv, self.ctx), "success")
        srv.proc.send_signal(signal.SIGHUP)
        eventually(lambda: reloads(scrape(srv, self.ctx), "success") > before, "the SIGHUP re-read the files")
        for version, (ctx, session) in sessions.items():
            with self.subTest(version=version.name, after="SIGHUP"):
                self.assertTrue(self.fresh(srv, ctx, session)[1], "a re-read of the same pair dropped the ticket")
        vol.update(*self.pair(self.b))
        eventually(lambda: served(srv, self.ctx)[0] == der(self.b.cert), "new connections get the new certificate")
        for version, (ctx, session) in sessions.items():
            with self.subTest(version=version.name, after="swap"):
                fresh, reused, cert = self.fresh(srv, ctx, session)
                self.assertFalse(reused, "a session of the swapped-out pair resumed")
                self.assertEqual(cert, der(self.b.cert))
                self.assertTrue(self.fresh(srv, ctx, fresh)[1], "sessions of the new pair resume")
                sessions[version] = (ctx, fresh)
        srv.stop()
        srv = self.serve(vol.paths(self.b.ca))
        for version, (ctx, session) in sessions.items():
            with self.subTest(version=version.name, after="restart"):
                self.assertFalse(self.fresh(srv, ctx, session)[1], "a ticket outlived the process")

    def test_bad_pairs_keep_the_old_certificate(self):
        vol = SecretVolume(self.dir, *self.pair(self.a))
        srv = self.serve(vol.paths(self.a.ca))
        conn, sock = self.connect(srv)
        bad = [("key of another certificate", read(self.b.cert), read(self.a.key), "does not belong"),
               ("garbage", b"garbage\n", b"garbage\n", "no usable certificate"),
               ("empty key", read(self.b.cert), b"", "is empty")]
        for i, (what, cert, key, message) in enumerate(bad, 1):
            with self.subTest(what):
                vol.update(cert, key)
                eventually(lambda: reloads(scrape(srv, self.ctx), "failure") == i, "the failure is counted")
                self.assertEqual(served(srv, self.ctx)[0], der(self.a.cert), "the old certificate stays")
                self.assert_still_works(conn, sock, der(self.a.cert))
                errors = [json.loads(line) for line in srv.stderr_text().splitlines()
                          if '"level":"error"' in line]
                self.assertEqual(len(errors), i, errors)
                self.assertIn(message, errors[-1]["msg"])
                self.assertIn("keeping the previous one", errors[-1]["msg"])
        self.assertEqual(srv.stdout_text(), "", "errors go to stderr only")
        metrics = scrape(srv, self.ctx)
        self.assertEqual(reloads(metrics, "success"), 0)
        self.assertEqual(value(metrics, "paddlex_webhook_certificate_not_after_seconds"), served(srv, self.ctx)[1])
        # and a good pair after the bad ones is taken
        vol.update(*self.pair(self.b))
        self.assert_swapped(srv, conn, sock, metrics, self.b)

    def test_rename_over_the_old_files(self):
        replace_by_rename(self.dir, *self.pair(self.a))
        srv = self.serve(CertPaths(self.a.ca, None, *(os.path.join(self.dir, n) for n in KEYS)))
        conn, sock = self.connect(srv)
        before = scrape(srv, self.ctx)
        # Two renames are not one atomic change: a check between them may see
        # a mismatched pair (counted as a failure) and catch up at the next.
        replace_by_rename(self.dir, *self.pair(self.b))
        self.assert_swapped(srv, conn, sock, before, self.b)


# --------------------------------------------------------------------- TLS

def version_context(version, ca=None):
    """A context speaking only version (1.0 and 1.1 need OpenSSL's security
    level 0); a client context when ca is given, else a server one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if ca else ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # old versions are the point
        ctx.minimum_version = ctx.maximum_version = version
    if ca:
        ctx.load_verify_locations(ca)
    return ctx


def handshake(port, ctx):
    """The negotiated version of a handshake with 127.0.0.1:port as localhost."""
    with socket.create_connection(("127.0.0.1", port), timeout=WITHIN) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version()


@needs_binary
class TlsVersionTest(unittest.TestCase):

    def legacy_server(self, version):
        """A Python TLS server that accepts version, for one handshake: the
        control that shows the client really offers it."""
        certs = default_certs()
        ctx = version_context(version)
        ctx.load_cert_chain(certs.cert, certs.key)
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)

        def accept():
            conn, _ = listener.accept()
            try:
                ctx.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

        threading.Thread(target=accept, daemon=True).start()
        return listener.getsockname()[1]

    def test_versions(self):
        names = {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1",
                 ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}
        with Server() as srv:
            for version, name in names.items():
                ctx = version_context(version, srv.ca)
                with self.subTest(name):
                    if name in ("TLSv1.2", "TLSv1.3"):
                        self.assertEqual(handshake(srv.port, ctx), name)
                        conn = client(srv, context=ctx)
                        self.assertEqual(request(conn, "GET", "/healthz")[0], 200)
                        conn.close()
                        continue
                    self.assertEqual(handshake(self.legacy_server(version), ctx), name, "control")
                    with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                        handshake(srv.port, ctx)


# ----------------------------------------------------------------- metrics

@needs_binary
class MetricsTest(unittest.TestCase):

    def test_counters_move_by_what_was_sent(self):
        with Server() as srv:
            before = scrape(srv)
            conn = client(srv)
            for path, sent in (("/validate", review(TRAINING)), ("/validate", review(TRAINING)),
                               ("/validate", review(INVALID)),
                               ("/mutate", review(DATASET, operation="UPDATE", old=DATASET))):
                send_review(conn, path, sent)
            self.assertEqual(request(conn, "POST", "/validate", body=b"{", headers={})[0], 400)
            conn.close()
            after = scrape(srv)
            not_after = served(srv)[1]
        self.assertEqual(moved(before, after, "paddlex_webhook_requests_total"), {
            (("kind", "Training"), ("operation", "CREATE"), ("path", "/validate"), ("result", "allowed")): 2,
            (("kind", "Training"), ("operation", "CREATE"), ("path", "/validate"), ("result", "denied")): 1,
            (("kind", "Dataset"), ("operation", "UPDATE"), ("path", "/mutate"), ("result", "allowed")): 1,
            (("kind", ""), ("operation", ""), ("path", "/validate"), ("result", "error")): 1,
            (("kind", ""), ("operation", ""), ("path", "/metrics"), ("result", "ok")): 1,  # the first scrape
        })
        self.assertEqual(moved(before, after, "paddlex_webhook_request_duration_seconds_count"), {
            (("kind", "Training"), ("path", "/validate")): 3, (("kind", ""), ("path", "/validate")): 1,
            (("kind", "Dataset"), ("path", "/mutate")): 1, (("kind", ""), ("path", "/metrics")): 1})
        self.assertEqual(moved(before, after, "paddlex_webhook_responses_total"), {
            (("code", "200"), ("path", "/validate")): 3, (("code", "400"), ("path", "/validate")): 1,
            (("code", "200"), ("path", "/mutate")): 1, (("code", "200"), ("path", "/metrics")): 1})
        self.assertEqual(moved(before, after, "paddlex_webhook_denials_total"),
                         {(("reason", "Invalid"),): 1, (("reason", "BadRequest"),): 1})
        version = subprocess.run([binary(), "version"], capture_output=True, text=True, check=True).stdout
        self.assertEqual(series(after, "paddlex_webhook_build_info"), {(("version", version.split()[-1]),): 1})
        self.assertEqual(value(after, "paddlex_webhook_certificate_not_after_seconds"), not_after)

    def test_parser_rejects_what_prometheus_rejects(self):
        good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n"
        self.assertEqual(parse_metrics(good), {("a_total", (("x", "1"),)): 2.0})
        for bad in (good[:-1], good + "a_total{x=\"1\"} 3\n", good + "b 1\n", good + "# TYPE a_total gauge\n",
                    good.replace("2\n", "two\n"), good.replace('x="1"', "x=1"), good + "# HELP\n",
                    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0\n'):
            with self.subTest(bad=bad), self.assertRaises(AssertionError):
                parse_metrics(bad)


# -------------------------------------------------------------------- logs

def json_lines(text):
    return [json.loads(line) for line in text.splitlines()]


@needs_binary
class WorkerBalanceTest(unittest.TestCase):

    def test_a_burst_of_connections_is_shared_evenly(self):
        """Connections arriving together (a client opening its pool) go to
        the worker with the fewest, so both workers serve; each one's count
        comes back down when its connections close."""
        ctx = tls_context(default_certs().ca)
        with Server(["--threads", "2"]) as srv:
            raw = [socket.create_connection(("127.0.0.1", srv.port), timeout=WITHIN) for _ in range(31)]
            conns = [ctx.wrap_socket(s, server_hostname="localhost") for s in raw]
            try:
                for s in conns:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    self.assertEqual(s.recv(4096).split(b" ")[1], b"200")
                open_now = series(scrape(srv), "paddlex_webhook_open_connections")
                self.assertEqual(sorted(dict(k)["worker"] for k in open_now), ["0", "1"])
                self.assertEqual(sum(open_now.values()), 32, open_now)    # and the scrape's own
                self.assertLessEqual(max(open_now.values()) - min(open_now.values()), 1, open_now)
            finally:
                for s in conns:
                    s.close()
            eventually(lambda: sum(series(scrape(srv), "paddlex_webhook_open_connections").values()) == 1,
                       "the closed connections leave the count")


@needs_binary
class LogTest(unittest.TestCase):
    SENT = ((TRAINING, "/validate", True), (INVALID, "/validate", False), (DATASET, "/mutate", True))

    def send_all(self, srv):
        """Sends SENT plus probes and a scrape; returns {uid: (obj, path, allowed)}."""
        conn = client(srv)
        sent = {}
        for obj, path, allowed in self.SENT:
            uid = str(uuid.uuid4())
            answer = send_review(conn, path, review(obj, uid=uid))
            self.assertEqual(answer["response"]["allowed"], allowed)
            sent[uid] = (obj, path, allowed)
        for path in ("/healthz", "/readyz", "/metrics"):
            request(conn, "GET", path)
        conn.close()
        return sent

    def test_one_json_line_per_admission(self):
        with Server() as srv:
            sent = self.send_all(srv)
            lines = json_lines(srv.stdout_text())
        self.assertEqual(len(lines), len(sent), "one line per admission, none for probes")
        for line in lines:
            obj, path, allowed = sent[line["uid"]]
            self.assertEqual((line["path"], line["kind"], line["namespace"], line["name"], line["operation"],
                              line["allowed"]),
                             (path, obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"], "CREATE",
                              allowed))
            self.assertIsInstance(line["durationMs"], (int, float))
            self.assertGreaterEqual(line["durationMs"], 0)
            self.assertEqual(line["level"], "info")
        stderr = json_lines(srv.stderr_text())
        self.assertTrue(stderr and all({"ts", "level", "msg"} <= set(e) for e in stderr), stderr)
        self.assertIn("serving on 127.0.0.1:%d" % srv.port, [e["msg"] for e in stderr])

    def test_log_level_warn_keeps_only_warnings_and_errors(self):
        with Server(["--log-level", "warn"]) as srv:
            self.send_all(srv)
        self.assertEqual(srv.stdout_text(), "")
        self.assertEqual([e for e in json_lines(srv.stderr_text()) if e["level"] in ("debug", "info")], [])


# ----------------------------------------------------------------- SIGTERM

def accepts_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=WITHIN).close()
        return True
    except ConnectionRefusedError:
        return False


@needs_binary
class DrainTest(unittest.TestCase):

    def serve(self, *args):
        srv = Server(args, term_timeout=WITHIN)
        srv.start()
        self.addCleanup(srv.kill)
        return srv

    def start_slow_request(self, srv):
        """Sends the headers and half the body of a review: (connection, the rest)."""
        body = json.dumps(review(TRAINING, uid="in-flight")).encode()
        slow = client(srv)
        self.addCleanup(slow.close)
        slow.putrequest("POST", "/validate")
        slow.putheader("Content-Type", "application/json")
        slow.putheader("Content-Length", str(len(body)))
        slow.endheaders()
        slow.send(body[:len(body) // 2])
        return slow, body[len(body) // 2:]

    def test_in_flight_request_is_answered(self):
        srv = self.serve("--shutdown-delay", "2", "--drain-timeout", "60")
        slow, rest = self.start_slow_request(srv)
        probe = client(srv)
        self.assertEqual(request(probe, "GET", "/readyz")[0], 200)
        srv.proc.send_signal(signal.SIGTERM)

        def ready_status():
            status, headers, _ = request(probe, "GET", "/readyz")
            return status == 503 and headers

        headers = eventually(ready_status, "/readyz answers 503 after SIGTERM")
        self.assertEqual(headers.get("Connection"), "close", "draining answers close the connection")
        eventually(lambda: not accepts_connections(srv.port), "the listener closes after --shutdown-delay")
        self.assertIsNone(srv.proc.poll(), "draining while a request is in flight")
        slow.send(rest)
        resp = slow.getresponse()
        answer = json.loads(resp.read())
        self.assertEqual(resp.status, 200)
        self.assertEqual(answer["response"]["uid"], "in-flight")
        self.assertTrue(answer["response"]["allowed"])
        self.assertEqual(srv.stop(), 0)

    def test_drain_timeout_cuts_a_stuck_request(self):
        srv = self.serve("--shutdown-delay", "1", "--drain-timeout", "1")
        self.start_slow_request(srv)      # its headers are read during the delay
        self.assertEqual(srv.stop(), 0)
        self.assertIn('"drain timeout: cutting the requests in flight (1)"', srv.stderr_text())

    def test_idle_keep_alive_connection_does_not_hold_shutdown(self):
        srv = self.serve("--drain-timeout", "300")
        idle = client(srv)
        self.addCleanup(idle.close)
        self.assertEqual(request(idle, "GET", "/healthz")[0], 200)
        # stop() fails unless the process exits 0 within WITHIN, far below 300 s
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
