"""A local HTTPS stand-in for the kube-apiserver, enough for `certs`.

It serves, from memory, core/v1 Secrets and admissionregistration.k8s.io/v1
Mutating/ValidatingWebhookConfigurations, and judges each request the way
the real apiserver does:

- TLS with its own CA (see make_pki); a client authenticates with the
  bearer token or a client certificate signed by that CA, else 401;
- GET of a missing object: 404 NotFound; POST of an existing one: 409
  AlreadyExists; PUT with a stale metadata.resourceVersion: 409 Conflict;
- POST/PUT bodies must be application/json, PATCH bodies
  application/json-patch+json or application/merge-patch+json (else 415);
  the body must decode (400) and name the right kind, name and namespace
  (400);
- JSON patches apply to the stored object as strictly as the apiserver
  applies them (tests/tools/jsonpatch.py): a missing parent or target, a bad
  index or a failed test is 422, as the apiserver answers;
- Secret validation: data values base64 (400), keys [-._a-zA-Z0-9]+, type
  kubernetes.io/tls requires tls.crt and tls.key, type immutable (422);
  webhook caBundle values base64 (400).

Every write bumps a global resourceVersion. race(path, n) makes a concurrent
writer change the object right after each of the next n GETs of path, so
that a client's read-modify-write meets a conflict. requests lists
(method, path, content type, auth) of every request served. authorize, when
set, plays RBAC: authorize(verb, group, resource, namespace, name) is asked
for every authenticated request (name None for a create, namespace None
for a cluster-scoped resource), and False is 403 Forbidden.
"""
import base64
import collections
import copy
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import uuid

import jsonpatch
from common import make_test_certs

TOKEN = "standin-token-0123456789"

SECRETS = re.compile(r"^/api/v1/namespaces/([a-z0-9-]+)/secrets(?:/([a-z0-9.-]+))?$")
WEBHOOKS = re.compile(r"^/apis/admissionregistration\.k8s\.io/v1/"
                      r"(mutatingwebhookconfigurations|validatingwebhookconfigurations)(?:/([a-z0-9.-]+))?$")
KINDS = {"mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
         "validatingwebhookconfigurations": "ValidatingWebhookConfiguration"}
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json")


Pki = collections.namedtuple("Pki", "server other_ca client_cert client_key")


def make_pki(workdir):
    """Makes in workdir, with the openssl command: the stand-in's serving
    certificate for 127.0.0.1 and its CA (common.make_test_certs), a client
    certificate signed by that CA, and an unrelated CA. Returns a Pki."""
    server = make_test_certs(workdir)
    other = make_test_certs(workdir, prefix="other-")
    client = os.path.join(workdir, "client")
    with open(client + ".ext", "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for args in (("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", client + ".key", "-out", client + ".csr", "-subj", "/CN=certs-client"),
                 ("x509", "-req", "-in", client + ".csr", "-CA", server.ca, "-CAkey", server.ca_key,
                  "-set_serial", "0x" + uuid.uuid4().hex[:16], "-days", "2", "-extfile", client + ".ext",
                  "-out", client + ".crt")):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
    return Pki(server, other.ca, client + ".crt", client + ".key")


class Failure(Exception):
    """An error answered as a metav1.Status."""

    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def invalid(message):
    return Failure(422, "Invalid", message)


def bad_request(message):
    return Failure(400, "BadRequest", message)


def merge_patch(doc, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_patch(ctype, doc, patch):
    if ctype == "application/merge-patch+json":
        return merge_patch(doc, patch)
    if not isinstance(patch, list):
        raise bad_request("json patch must be a list of operations")
    try:
        return jsonpatch.apply(doc, patch)
    except jsonpatch.JsonPatchError as e:
        raise invalid(str(e))


def check_base64(value, field):
    try:
        base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        raise bad_request("%s: illegal base64 data" % field)


def validate_secret(obj, old):
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request("data must be an object")
    for key, value in data.items():
        if not DATA_KEY.match(key):
            raise invalid("data[%s]: Invalid value: a valid config key must consist of alphanumeric "
                          "characters, '-', '_' or '.'" % key)
        check_base64(value, "data[%s]" % key)
    obj.setdefault("type", "Opaque")
    if obj["type"] == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                raise invalid("data[%s]: Required value" % key)
    if old is not None and old.get("type") != obj["type"]:
        raise invalid("type: Invalid value: %r: field is immutable" % obj["type"])


def validate_webhooks(obj, old):
    hooks = obj.get("webhooks") or []
    if not isinstance(hooks, list):
        raise bad_request("webhooks must be a list")
    for i, hook in enumerate(hooks):
        bundle = hook.get("clientConfig", {}).get("caBundle")
        if bundle is not None:
            check_base64(bundle, "webhooks[%d].clientConfig.caBundle" % i)


class Standin:
    def __init__(self, pki):
        """pki: a Pki from make_pki."""
        self.objects = {}
        self.requests = []
        self.races = {}
        self.authorize = None
        self.version = 1000
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server.cert, pki.server.key)
        ctx.load_verify_locations(pki.server.ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        standin = self

        class Handler(RequestHandler):
            owner = standin

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.server.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- the store --

    def seed(self, path, obj):
        """Stores obj at path as if created through the API."""
        with self.lock:
            self.objects[path] = self.stamp(copy.deepcopy(obj))

    def get(self, path):
        with self.lock:
            return copy.deepcopy(self.objects.get(path))

    def race(self, path, times=1):
        """A concurrent writer changes path right after each of its next `times` GETs."""
        self.races[path] = times

    def writes(self):
        return [r for r in self.requests if r[0] != "GET"]

    def stamp(self, obj):
        self.version += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.version)
        meta.setdefault("uid", "uid-%d" % self.version)
        return obj

    # -- request handling, under the lock --

    def serve(self, method, path, ctype, body):
        secret = SECRETS.match(path)
        hooks = WEBHOOKS.match(path)
        if not (secret or hooks):
            raise Failure(404, "NotFound", "the server could not find the requested resource")
        match = secret or hooks
        name = match.group(2)
        if secret:
            kind, api_version, namespace = "Secret", "v1", match.group(1)
            validate = validate_secret
        else:
            kind, api_version, namespace = KINDS[match.group(1)], "admissionregistration.k8s.io/v1", None
            validate = validate_webhooks
        self.check_access(method, api_version, kind, namespace, name)
        if name is None:
            if method != "POST":
                raise Failure(405, "MethodNotAllowed", "method %s not allowed on a collection" % method)
            return self.create(path, ctype, body, kind, api_version, namespace, validate)
        current = self.objects.get(path)
        if method == "GET":
            if current is None:
                raise Failure(404, "NotFound", '%s "%s" not found' % (kind.lower() + "s", name))
            obj = copy.deepcopy(current)
            if self.races.get(path, 0) > 0:
                self.races[path] -= 1
                current.setdefault("metadata", {}).setdefault("annotations", {})["raced"] = str(self.version)
                self.stamp(current)
            return 200, obj
        if current is None:
            raise Failure(404, "NotFound", '%s "%s" not found' % (kind.lower() + "s", name))
        if method == "PUT":
            obj = decode(ctype, body, ("application/json",))
        elif method == "PATCH":
            patch = decode(ctype, body, PATCH_TYPES)
            obj = apply_patch(ctype, current, patch)
        else:
            raise Failure(405, "MethodNotAllowed", "method %s not allowed" % method)
        check_identity(obj, kind, api_version, name, namespace)
        sent_version = obj.get("metadata", {}).get("resourceVersion")
        if sent_version and sent_version != current["metadata"]["resourceVersion"]:
            raise Failure(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been '
                          "modified; please apply your changes to the latest version and try again"
                          % (kind.lower() + "s", name))
        validate(obj, current)
        self.objects[path] = self.stamp(obj)
        return 200, copy.deepcopy(obj)

    def check_access(self, method, api_version, kind, namespace, name):
        group = api_version.rpartition("/")[0]
        resource = kind.lower() + "s"
        verb = VERBS.get(method, method.lower())
        if self.authorize and not self.authorize(verb, group, resource, namespace, name):
            where = ' in the namespace "%s"' % namespace if namespace else " at the cluster scope"
            raise Failure(403, "Forbidden", '%s "%s" is forbidden: User "standin" cannot %s resource "%s" in API '
                          'group "%s"%s' % (resource, name or "", verb, resource, group, where))

    def create(self, path, ctype, body, kind, api_version, namespace, validate):
        obj = decode(ctype, body, ("application/json",))
        name = obj.get("metadata", {}).get("name") if isinstance(obj, dict) else None
        if not name:
            raise invalid("metadata.name: Required value: name or generateName is required")
        check_identity(obj, kind, api_version, name, namespace)
        item = path + "/" + name
        if item in self.objects:
            raise Failure(409, "AlreadyExists", '%s "%s" already exists' % (kind.lower() + "s", name))
        if obj["metadata"].get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        validate(obj, None)
        self.objects[item] = self.stamp(obj)
        return 201, copy.deepcopy(obj)


def decode(ctype, body, allowed):
    if ctype not in allowed:
        raise Failure(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                      "accepted media types include: " + ", ".join(allowed))
    try:
        return json.loads(body)
    except ValueError as e:
        raise bad_request("error decoding body: %s" % e)


def check_identity(obj, kind, api_version, name, namespace):
    if not isinstance(obj, dict):
        raise bad_request("body is not an object")
    if obj.get("kind") != kind or obj.get("apiVersion") != api_version:
        raise bad_request("the body kind %s/%s does not match %s/%s"
                          % (obj.get("apiVersion"), obj.get("kind"), api_version, kind))
    meta = obj.get("metadata", {})
    if meta.get("name") != name:
        raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                          % (meta.get("name"), name))
    if namespace is not None and meta.get("namespace", namespace) != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on "
                          "the request")


class RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner = None  # the Standin, set by a subclass

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, obj):
        payload = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if self.connection.getpeercert():
            auth = "cert"
        elif self.headers.get("Authorization") == "Bearer " + TOKEN:
            auth = "token"
        else:
            auth = None
        standin = self.owner
        with standin.lock:
            standin.requests.append((self.command, self.path, ctype, auth))
            try:
                if auth is None:
                    raise Failure(401, "Unauthorized", "Unauthorized")
                code, obj = standin.serve(self.command, self.path, ctype, body)
            except Failure as f:
                code, obj = f.code, f.status()
        self.answer(code, obj)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any
