"""Shared fixtures for end-to-end tests: they play the kube-apiserver's part
against the real binary over real, verified TLS.

The binary is ``$PADDLEX_BIN`` (tests/e2e/run.py sets it); decorate tests
that need it with ``needs_binary``. Everything here is standard library plus
the ``openssl`` command.
"""
import atexit
import collections
import copy
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import weakref

_TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)
import jsonpatch  # noqa: E402  (ours, not a site-packages namesake)
assert os.path.dirname(os.path.realpath(jsonpatch.__file__)) == os.path.realpath(_TOOLS), \
    "jsonpatch imported from %s, not tests/tools" % jsonpatch.__file__

__all__ = ["binary", "have_binary", "needs_binary", "CertPaths", "make_test_certs",
           "default_certs", "free_port", "Server", "tls_context", "client", "request",
           "post_json", "review", "send_review", "mutate_and_apply", "run_review_cli", "cli",
           "PLURALS"]


# ------------------------------------------------------------------ binary

def binary():
    """The path in ``$PADDLEX_BIN`` (or None when unset)."""
    return os.environ.get("PADDLEX_BIN")


def have_binary():
    """True when ``$PADDLEX_BIN`` names an executable file."""
    path = binary()
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


#: decorator for tests (or TestCase classes) that run the real binary
needs_binary = unittest.skipUnless(have_binary(), "PADDLEX_BIN is not built yet")


# ------------------------------------------------------------ certificates

CertPaths = collections.namedtuple("CertPaths", "ca ca_key cert key")


def make_test_certs(dir, names=("localhost",), ips=("127.0.0.1",), days=2, ca=None, prefix=""):
    """Creates, with the openssl command, a test CA and a serving certificate
    for ``names`` (DNS SANs) and ``ips`` (IP SANs), as a real webhook would
    be given: RSA 2048, serverAuth, SANs (no CN fallback), key files 0600.

    ``ca`` is an existing ``(ca_cert, ca_key)`` pair to sign with instead of
    a new CA (rotation tests). ``prefix`` prefixes the file names, so several
    sets can share ``dir``. Returns CertPaths(ca, ca_key, cert, key)."""
    os.makedirs(dir, exist_ok=True)
    p = lambda name: os.path.join(dir, prefix + name)  # noqa: E731
    if ca is None:
        ca = (p("ca.crt"), p("ca.key"))
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca[1], "-out", ca[0],
                 "-days", str(days + 1), "-subj", "/CN=paddlex-webhook test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(ca[1], 0o600)
    sans = ["DNS:%s" % n for n in names] + ["IP:%s" % ip for ip in ips]
    with open(p("tls.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n"
                "subjectAltName=%s\n" % ",".join(sans))
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", p("tls.key"),
             "-out", p("tls.csr"), "-subj", "/CN=%s" % (names[0] if names else ips[0]))
    os.chmod(p("tls.key"), 0o600)
    _openssl("x509", "-req", "-in", p("tls.csr"), "-CA", ca[0], "-CAkey", ca[1],
             "-set_serial", "0x" + uuid.uuid4().hex[:16], "-days", str(days),
             "-extfile", p("tls.ext"), "-out", p("tls.crt"))
    return CertPaths(ca[0], ca[1], p("tls.crt"), p("tls.key"))


def _openssl(*args):
    done = subprocess.run(("openssl",) + args, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], done.stderr.strip()))


_default_certs = None


def default_certs():
    """One CertPaths for localhost/127.0.0.1 shared by the whole test run
    (created on first use, removed at exit). Do not modify the files."""
    global _default_certs
    if _default_certs is None:
        path = tempfile.mkdtemp(prefix="paddlex-certs-")
        atexit.register(shutil.rmtree, path, True)
        _default_certs = make_test_certs(path)
    return _default_certs


# ------------------------------------------------------------------ server

_live = weakref.WeakSet()


@atexit.register
def _kill_leftovers():
    for server in list(_live):
        server.kill()


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before any fork
except (OSError, AttributeError):
    _prctl = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child before exec: SIGKILL when the thread that started it
    dies, so no server outlives a killed test run (Linux only)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The binary serving on 127.0.0.1, as a context manager.

    ``with Server() as srv:`` starts ``PADDLEX_BIN serve --listen
    127.0.0.1:PORT --tls-cert .. --tls-key .. *extra_args`` and returns once
    ``GET /healthz`` answers 200 over verified TLS (else raises after
    ``timeout`` seconds, with the server's stderr). On exit it sends SIGTERM,
    waits ``term_timeout`` (5 s), and raises AssertionError unless the exit
    status equals ``expect_exit`` (None: any); when the with-block raised,
    it only stops the server. The process is killed on every path: failed
    start, failed test, interpreter exit, or the death of the thread that
    started it (start servers from the main thread). ``bin`` replaces
    ``$PADDLEX_BIN``; ``env`` adds environment variables.

    Attributes: ``port``, ``ca`` (CA file to trust), ``certs`` (CertPaths),
    ``proc`` (subprocess.Popen), ``returncode`` (after stop). stdout and
    stderr go to files: ``stdout_text()``, ``stderr_text()``.
    """

    def __init__(self, extra_args=(), certs=None, expect_exit=0, env=None, timeout=10.0, bin=None,
                 term_timeout=5.0):
        self.extra_args = list(extra_args)
        self.certs = certs or default_certs()
        self.ca = self.certs.ca
        self.expect_exit = expect_exit
        self.env = env
        self.timeout = timeout
        self.bin = bin or binary()
        self.term_timeout = term_timeout
        self.port = None
        self.proc = None
        self.returncode = None
        self._dir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(check=exc_type is None)
        return False

    def start(self):
        """Starts the process and waits until it is healthy (see class)."""
        if not self.bin or not os.path.exists(self.bin):
            raise unittest.SkipTest("PADDLEX_BIN is not built yet")
        self._dir = tempfile.mkdtemp(prefix="paddlex-server-")
        self.port = free_port()
        argv = [self.bin, "serve", "--listen", "127.0.0.1:%d" % self.port,
                "--tls-cert", self.certs.cert, "--tls-key", self.certs.key] + self.extra_args
        env = dict(os.environ, **(self.env or {}))
        with open(self._path("stdout"), "wb") as out, open(self._path("stderr"), "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env, preexec_fn=_die_with_parent)
        _live.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.kill()
            raise

    def _wait_healthy(self):
        deadline = time.monotonic() + self.timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with status %s before it was healthy; stderr:\n%s"
                                   % (self.proc.returncode, self.stderr_text()))
            conn = client(self, timeout=1.0)
            try:
                status, _, _ = request(conn, "GET", "/healthz")
                if status == 200:
                    return
                last = "GET /healthz answered %d" % status
            except (OSError, http.client.HTTPException) as e:
                last = "%s: %s" % (type(e).__name__, e)
            finally:
                conn.close()
            time.sleep(0.05)
        raise RuntimeError("server not healthy within %.0f s (last: %s); stderr:\n%s"
                           % (self.timeout, last, self.stderr_text()))

    def stop(self, check=True):
        """SIGTERM, wait term_timeout, then SIGKILL. With ``check``, raises
        AssertionError when the server had to be killed or its exit status
        is not ``expect_exit``. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.term_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                if check:
                    raise AssertionError("server still running %.1f s after SIGTERM; stderr:\n%s"
                                         % (self.term_timeout, self.stderr_text()))
        self.returncode = self.proc.returncode
        _live.discard(self)
        if check and self.expect_exit is not None and self.returncode != self.expect_exit:
            raise AssertionError("server exited with status %s, expected %s; stderr:\n%s"
                                 % (self.returncode, self.expect_exit, self.stderr_text()))
        return self.returncode

    def kill(self):
        """SIGKILL and reap, without any check (idempotent)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.returncode = self.proc.returncode
        _live.discard(self)

    def stdout_text(self):
        return self._read("stdout")

    def stderr_text(self):
        return self._read("stderr")

    def _path(self, name):
        return os.path.join(self._dir, name)

    def _read(self, name):
        if not self._dir:
            return ""
        with open(self._path(name), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def __del__(self):
        self.kill()
        if self._dir:
            shutil.rmtree(self._dir, True)


# ------------------------------------------------------------------ client

class _HTTPSConnection(http.client.HTTPSConnection):
    """Connects to ``ip`` while verifying the certificate for ``host``: the
    server listens on 127.0.0.1 and its certificate names localhost."""

    def __init__(self, host, port, ip, **kw):
        super().__init__(host, port, **kw)
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class ServerTestCase(unittest.TestCase):
    """One server shared by the tests of a class: ``cls.srv``, started before
    the first test, stopped after the last."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()


def read_response(s):
    """(status, headers lowercased, body) of one HTTP/1.1 response read from
    the socket ``s``; ConnectionError when it closes before the head."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = s.recv(65536)
        if not got:
            raise ConnectionError("closed before a response: %r" % buf[:200])
        buf += got
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        got = s.recv(65536)
        if not got:
            break
        body += got
    return int(lines[0].split()[1]), headers, body[:length]


def tls_context(ca):
    """A client context as the apiserver's: verifies the chain against ``ca``
    and the host name; TLS 1.2 or newer."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def client(server, timeout=10.0, context=None):
    """A keep-alive HTTPS connection to ``server`` (anything with ``port`` and
    ``ca``): connects to 127.0.0.1, verifies the certificate against the test
    CA for the name ``localhost``. ``context`` replaces the SSL context."""
    return _HTTPSConnection("localhost", server.port, "127.0.0.1", timeout=timeout,
                            context=context or tls_context(server.ca))


def request(conn, method, path, body=None, headers=None):
    """Sends one request on ``conn`` and reads the whole answer. Returns
    (status, headers, body): the body parsed when the Content-Type is JSON
    (AssertionError when that JSON is invalid), else decoded text."""
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    if resp.getheader("Content-Type", "").split(";")[0].strip() == "application/json":
        try:
            return resp.status, resp.headers, json.loads(data)
        except ValueError as e:
            raise AssertionError("%s %s: Content-Type is JSON but the body is not (%s): %r"
                                 % (method, path, e, data[:200])) from None
    return resp.status, resp.headers, data.decode("utf-8", "replace")


def post_json(conn, path, obj):
    """POSTs ``obj`` (encoded as JSON unless already bytes/str) as the
    apiserver does. Returns (status, headers, parsed JSON or text)."""
    body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj).encode()
    return request(conn, "POST", path, body=body,
                   headers={"Content-Type": "application/json", "Accept": "application/json, */*"})


# ---------------------------------------------------------- AdmissionReview

#: plural resource names of the kinds tests send (others: lowercase + s)
PLURALS = {
    "Dataset": "datasets", "Training": "trainings", "ModelHub": "modelhubs", "Serving": "servings",
    "PaddleJob": "paddlejobs", "SampleSet": "samplesets", "SampleJob": "samplejobs",
    "InferenceService": "inferenceservices", "Job": "jobs", "Deployment": "deployments",
    "Service": "services", "Pod": "pods", "ConfigMap": "configmaps", "Secret": "secrets",
    "Namespace": "namespaces", "Endpoints": "endpoints", "Ingress": "ingresses",
    "NetworkPolicy": "networkpolicies",
}
_CLUSTER_SCOPED = {"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
                   "CustomResourceDefinition", "StorageClass", "PriorityClass",
                   "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def _gvk(api_version, kind):
    group, _, version = (api_version or "").rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def _user_info(user, groups):
    """userInfo as the authenticators fill it: a client-certificate admin by
    default; service accounts get their uid and groups."""
    user = user or "kubernetes-admin"
    info = {"username": user}
    if user.startswith("system:serviceaccount:"):
        namespace = user.split(":")[2]
        info["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, user))
        default = ["system:serviceaccounts", "system:serviceaccounts:" + namespace]
    elif user == "kubernetes-admin":
        default = ["system:masters"]
    else:
        default = []
    info["groups"] = list(groups) if groups is not None else default + ["system:authenticated"]
    return info


def review(obj, operation="CREATE", version="v1", namespace=None, uid=None, old=None, user=None,
           groups=None, dry_run=False, kind=None, server_metadata=False):
    """Builds the AdmissionReview the kube-apiserver would POST for ``obj``.

    - ``version``: ``v1`` or ``v1beta1`` (admission.k8s.io);
    - ``operation``: CREATE (object, oldObject null), UPDATE (needs ``old``),
      DELETE (object null, oldObject ``old`` or ``obj``), CONNECT;
    - kind/resource/requestKind/requestResource from the object's apiVersion
      and kind, the resource being the plural (PLURALS); ``kind`` overrides
      the kind name (a string) or the whole group/version/kind (a dict);
    - ``namespace`` defaults to metadata.namespace, then ``default`` (kubectl's
      default); as the apiserver does before admission, a namespaced object
      without metadata.namespace gets it, and a different one is refused
      (ValueError: the apiserver answers 400 before any webhook);
    - name from metadata.name (omitted when empty, e.g. generateName);
    - userInfo for ``user`` (default kubernetes-admin, groups system:masters,
      system:authenticated) or the given ``groups``;
    - ``uid`` a fresh uuid4 unless given; ``dryRun`` always present;
      ``options`` Create/Update/DeleteOptions (null for CONNECT);
    - ``server_metadata``: also add what the apiserver has filled by then
      (managedFields; on UPDATE/DELETE the stored uid, resourceVersion,
      generation, creationTimestamp in oldObject and object).

    ``obj`` and ``old`` are copied, never modified."""
    operation = operation.upper()
    obj, old = copy.deepcopy(obj), copy.deepcopy(old)
    if operation == "UPDATE" and old is None:
        raise ValueError("UPDATE needs old")
    if operation == "DELETE" and old is None:
        old, obj = obj, None
    source = obj if obj is not None else old
    gvk = _gvk(source.get("apiVersion"), source.get("kind"))
    if isinstance(kind, dict):
        gvk = dict(kind)
    elif kind:
        gvk["kind"] = kind
    resource = {"group": gvk["group"], "version": gvk["version"],
                "resource": PLURALS.get(gvk["kind"], gvk["kind"].lower() + "s")}
    req = {"uid": uid or str(uuid.uuid4()), "kind": gvk, "resource": resource,
           "requestKind": dict(gvk), "requestResource": dict(resource)}
    name = (source.get("metadata") or {}).get("name")
    if name:
        req["name"] = name
    if gvk["kind"] not in _CLUSTER_SCOPED:
        namespace = namespace or (source.get("metadata") or {}).get("namespace") or "default"
        for o in (obj, old):
            if isinstance(o, dict):
                meta = o.setdefault("metadata", {})
                if meta.setdefault("namespace", namespace) != namespace:
                    raise ValueError("the namespace of the provided object (%s) does not match the "
                                     "namespace sent on the request (%s)" % (meta["namespace"], namespace))
        req["namespace"] = namespace
    if server_metadata:
        _add_server_metadata(obj, old, operation)
    req["operation"] = operation
    req["userInfo"] = _user_info(user, groups)
    req["object"] = obj if operation != "DELETE" else None
    req["oldObject"] = old if operation in ("UPDATE", "DELETE") else None
    req["dryRun"] = bool(dry_run)
    req["options"] = None
    if operation in _OPTIONS:
        options = {"kind": _OPTIONS[operation], "apiVersion": "meta.k8s.io/v1"}
        if operation == "DELETE":
            options["propagationPolicy"] = "Background"
        else:
            options["fieldManager"] = "kubectl-client-side-apply"
            options["fieldValidation"] = "Strict"
        if dry_run:
            options["dryRun"] = ["All"]
        req["options"] = options
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/" + version, "request": req}


def _add_server_metadata(obj, old, operation):
    stored = {"uid": str(uuid.uuid4()), "resourceVersion": "4242", "generation": 1,
              "creationTimestamp": "2024-01-02T03:04:05Z"}
    managed = [{"manager": "kubectl-client-side-apply", "operation": "Update",
                "apiVersion": (obj or old).get("apiVersion"), "time": "2024-01-02T03:04:05Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
    for o in (obj, old):
        if not isinstance(o, dict):
            continue
        meta = o.setdefault("metadata", {})
        meta.setdefault("managedFields", managed)
        if operation in ("UPDATE", "DELETE"):
            for k, v in stored.items():
                meta.setdefault(k, v)


def send_review(conn_or_fn, path, review_obj):
    """Sends an AdmissionReview and returns the answer, after the checks the
    kube-apiserver makes: HTTP 200 with JSON, same apiVersion, kind
    AdmissionReview, response.uid equal to request.uid, boolean allowed.

    ``conn_or_fn`` is an HTTPS connection (POST to ``path``) or a callable
    taking the review and returning the answer (e.g. ``cli("mutate")``)."""
    if callable(conn_or_fn):
        answer = conn_or_fn(review_obj)
    else:
        status, headers, answer = post_json(conn_or_fn, path, review_obj)
        if status != 200 or not isinstance(answer, dict):
            raise AssertionError("POST %s answered %d %s: %r"
                                 % (path, status, headers.get("Content-Type"), answer))
    if not isinstance(answer, dict):
        raise AssertionError("answer is not a JSON object: %r" % (answer,))
    for key, want in (("apiVersion", review_obj["apiVersion"]), ("kind", "AdmissionReview")):
        if answer.get(key) != want:
            raise AssertionError("answer %s is %r, expected %r" % (key, answer.get(key), want))
    response = answer.get("response")
    if not isinstance(response, dict):
        raise AssertionError("answer has no response object: %r" % (answer,))
    if response.get("uid") != review_obj["request"]["uid"]:
        raise AssertionError("response.uid %r does not match request.uid %r"
                             % (response.get("uid"), review_obj["request"]["uid"]))
    if not isinstance(response.get("allowed"), bool):
        raise AssertionError("response.allowed is not a boolean: %r" % (response.get("allowed"),))
    return answer


def mutate_and_apply(conn_or_fn, obj, **kw):
    """Builds ``review(obj, **kw)``, sends it to /mutate (see send_review),
    and applies its patch to request.object exactly as the apiserver would
    (jsonpatch.apply, strict). Returns (answer, patched object); the patched
    object equals request.object when there is no patch."""
    review_obj = review(obj, **kw)
    answer = send_review(conn_or_fn, "/mutate", review_obj)
    patch = jsonpatch.decode_review_patch(answer)
    return answer, jsonpatch.apply(review_obj["request"]["object"], patch)


# --------------------------------------------------------------------- CLI

def run_review_cli(mode, review_obj, extra_args=(), bin=None, timeout=10):
    """Runs ``PADDLEX_BIN review <mode> *extra_args`` with the review on
    stdin (a dict is JSON-encoded; bytes/str are sent as they are). Returns
    (exit status, stdout parsed as JSON or the raw text, stderr text)."""
    stdin = review_obj if isinstance(review_obj, (bytes, str)) else json.dumps(review_obj)
    stdin = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run([bin or binary(), "review", mode] + list(extra_args), input=stdin,
                          capture_output=True, timeout=timeout)
    out = done.stdout.decode("utf-8", "replace")
    try:
        out = json.loads(out)
    except ValueError:
        pass
    return done.returncode, out, done.stderr.decode("utf-8", "replace")


def cli(mode, extra_args=(), bin=None):
    """A callable for send_review/mutate_and_apply that answers through
    ``review <mode>``; a non-zero exit status raises AssertionError."""
    def answer(review_obj):
        code, out, err = run_review_cli(mode, review_obj, extra_args, bin=bin)
        if code != 0:
            raise AssertionError("review %s exited %d: %s" % (mode, code, err))
        return out
    return answer
