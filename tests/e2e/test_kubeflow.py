"""End-to-end tests of what a Kubeflow install needs (issue #21, SPEC §9.3):
the plain-HTTP hook port (``serve --sync-listen``), the customize hook, the
order across the four kinds and ``status.conditions``.

``Cluster`` plays Metacontroller v4.11.22 (the release Kubeflow Pipelines
ships) for the four CompositeControllers of manifests/overlays/kubeflow,
over the plain port, as its source does (metacontroller/metacontroller at
tag v4.11.22):
- pkg/controller/common/customize/manager.go: the customize hook is called
  with {controller, parent}; its relatedResources are cached per parent uid
  and generation; GetRelatedObjects lists, for a rule with a namespace and
  names, the objects of that namespace with those names (all of them
  without names);
- pkg/controller/composite/api/v1/hooks.go: the sync request is
  {controller, parent, children, related, finalizing}, children and related
  keyed "<Kind>.<apiVersion>" then by name
  (pkg/controller/common/api/v1/common.go);
- a change of a related object re-syncs the parents that relate to it
  (manager.go, onRelatedUpdate): here every parent is synced again after
  each change, in the order of the pipeline.
Parents are admitted first through /mutate on the TLS port, as the
apiserver would store them. The tests play the operators by writing the
children's status (SampleSet controller, paddle-operator, Job controller,
KServe).
"""
import copy
import http.client
import json
import os
import re
import socket
import time
import unittest
import uuid

from common import Server, client, free_port, mutate_and_apply, needs_binary, post_json, request
import crdschema  # noqa: E402  (tests/tools, on sys.path through common)

try:
    import yaml
except ImportError:  # pragma: no cover - Debian: python3-yaml, installed by make deps
    yaml = None

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "pp-ocr.yaml")
API = "paddlex.paddlepaddle.org/v1alpha1"
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"
RESOURCES = {"datasets": "Dataset", "trainings": "Training", "modelhubs": "ModelHub", "servings": "Serving"}
#: the child types of each CompositeController (manifests/metacontroller)
CHILD_TYPES = {
    "Training": ["PaddleJob.batch.paddlepaddle.org/v1", "Job.batch/v1", "Deployment.apps/v1", "Service.v1"],
    "Serving": ["InferenceService.serving.kserve.io/v1beta1"],
    "Dataset": ["SampleSet.batch.paddlepaddle.org/v1alpha1"],
    "ModelHub": ["Job.batch/v1"],
}
ORDER = ("Dataset", "Training", "ModelHub", "Serving")
COMPLETE = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}
FAILED = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}], "failed": 1}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def plain(port, timeout=10.0):
    """A keep-alive plain-HTTP connection to 127.0.0.1:port."""
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def pipeline():
    """The four objects of examples/pp-ocr.yaml."""
    if yaml is None:   # a failure, not a skip: make deps installs python3-yaml
        raise AssertionError("python3-yaml is not installed: run `make deps`")
    with open(EXAMPLE) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def key(obj):
    return (obj["kind"], obj["metadata"]["name"])


def group_of(obj):
    return "%s.%s" % (obj["kind"], obj["apiVersion"])


def condition(obj, type_):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


class Cluster:
    """The parents, their children, and Metacontroller between them (see the
    module docstring). ``hooks`` is the connection the hooks are called on."""

    def __init__(self, test, hooks, admission):
        self.test = test
        self.hooks = hooks
        self.admission = admission
        self.parents = {}
        self.children = {}
        self.customized = {}
        self.customize_calls = 0

    # ---- the apiserver
    def apply(self, obj):
        """kubectl apply: admitted through /mutate, stored with a uid."""
        answer, stored = mutate_and_apply(self.admission, obj)
        self.test.assertTrue(answer["response"]["allowed"], answer["response"].get("status"))
        md = stored["metadata"]
        md.update(uid=str(uuid.uuid4()), generation=1, resourceVersion="1",
                  creationTimestamp="2026-01-01T00:00:00Z")
        self.parents[key(stored)] = stored
        self.children[key(stored)] = {t: {} for t in CHILD_TYPES[stored["kind"]]}
        return stored

    # ---- Metacontroller
    def rules(self, parent):
        cache = (parent["metadata"]["uid"], parent["metadata"]["generation"])
        if cache not in self.customized:
            body = {"controller": {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController",
                                   "metadata": {"name": "paddlex-%ss" % parent["kind"].lower()}},
                    "parent": parent}
            status, headers, answer = post_json(self.hooks, "/customize", body)
            self.test.assertEqual(status, 200, answer)
            self.test.assertEqual(headers.get("Content-Type"), "application/json")
            self.test.assertEqual(sorted(answer), ["relatedResources"])
            self.customize_calls += 1
            self.customized[cache] = answer["relatedResources"]
        return self.customized[cache]

    def related(self, parent):
        out = {}
        ns = parent["metadata"]["namespace"]
        for rule in self.rules(parent):
            self.test.assertEqual(rule["apiVersion"], API)
            self.test.assertEqual(rule.get("namespace"), ns, "v4.11.22 lists every namespace without one")
            self.test.assertNotIn("labelSelector", rule)
            kind = RESOURCES[rule["resource"]]
            group = out.setdefault("%s.%s" % (kind, API), {})
            for (k, name), obj in self.parents.items():
                if k == kind and obj["metadata"]["namespace"] == ns and \
                        ("names" not in rule or name in rule["names"]):
                    group[name] = copy.deepcopy(obj)
        return out

    def sync(self, kind, name):
        parent = self.parents[(kind, name)]
        children = self.children[(kind, name)]
        body = {"controller": {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController"},
                "parent": parent, "children": children, "related": self.related(parent), "finalizing": False}
        status, headers, answer = post_json(self.hooks, "/sync", body)
        self.test.assertEqual(status, 200, answer)
        self.test.assertEqual(headers.get("Content-Type"), "application/json")
        desired = {(group_of(c), c["metadata"]["name"]): c for c in answer["children"]}
        for group, objs in children.items():
            for n in list(objs):
                if (group, n) not in desired:
                    del objs[n]
        for (group, n), child in desired.items():
            self.test.assertIn(group, children, "%s/%s is not a child type of the controller" % (group, n))
            old = children[group].get(n)
            obj = copy.deepcopy(child)
            obj["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(child, sort_keys=True)
            if old is not None and "status" in old:
                obj["status"] = old["status"]
            children[group][n] = obj
        parent["status"] = answer["status"]
        return answer

    def sync_all(self):
        """Every parent, in the pipeline's order; returns the answers by kind."""
        return {k: self.sync(k, n) for k in ORDER for (kk, n) in list(self.parents) if kk == k}

    # ---- the operators
    def child(self, kind, name):
        for objs in self.children.values():
            for group, by_name in objs.items():
                if group.startswith(kind + ".") and name in by_name:
                    return by_name[name]
        return None

    def set_status(self, kind, name, status):
        obj = self.child(kind, name)
        self.test.assertIsNotNone(obj, "%s/%s does not exist" % (kind, name))
        obj["status"] = status

    def exists(self, kind, name):
        return self.child(kind, name) is not None


def ready(parent):
    c = condition(parent, "Ready")
    return c and c["status"]


@needs_binary
class KubeflowTest(unittest.TestCase):
    """One server with both ports for the class."""

    @classmethod
    def setUpClass(cls):
        cls.sync_port = free_port()
        cls.srv = Server(extra_args=["--sync-listen", "127.0.0.1:%d" % cls.sync_port, "--max-body", "65536"])
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.hooks = plain(self.sync_port)
        self.tls = client(self.srv)

    def tearDown(self):
        self.hooks.close()
        self.tls.close()

    def cluster(self, objs=None):
        c = Cluster(self, self.hooks, self.tls)
        for o in objs if objs is not None else pipeline():
            c.apply(o)
        return c

    # ------------------------------------------------------ the plain port

    def test_plain_port_serves_only_the_hooks(self):
        status, headers, body = request(self.hooks, "GET", "/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        c = self.cluster([pipeline()[0]])
        answer = c.sync("Dataset", "icdar2015")
        self.assertEqual([x["kind"] for x in answer["children"]], ["SampleSet"])
        # admission is TLS-only: /mutate and /validate do not answer here,
        # with or without a valid AdmissionReview
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "1", "kind": {"group": "paddlex.paddlepaddle.org", "version": "v1alpha1",
                                                   "kind": "Dataset"},
                              "operation": "CREATE", "object": pipeline()[0]}}
        for path in ("/mutate", "/validate", "/metrics", "/readyz", "/", "/sync/", "/syncx"):
            conn = plain(self.sync_port)
            with self.subTest(path=path):
                status, headers, body = post_json(conn, path, review)
                self.assertEqual(status, 404, body)
                self.assertNotIn("application/json", headers.get("Content-Type", ""))
                self.assertNotIn("AdmissionReview", body)
            conn.close()
        conn = plain(self.sync_port)
        status, headers, _ = request(conn, "GET", "/sync")
        self.assertEqual((status, headers.get("Allow")), (405, "POST"))
        conn.close()

    def test_plain_port_limits_and_bad_input(self):
        # malformed hook requests get 400 with a reason, as on the TLS port
        for path, body, want in (("/sync", b"{", ""), ("/sync", b"[]", "not a JSON object"),
                                 ("/customize", b"{\"parent\": 3}", "parent"),
                                 ("/sync", b"{\"a\":1,\"a\":2}", "")):
            conn = plain(self.sync_port)
            with self.subTest(path=path, body=body):
                status, headers, text = post_json(conn, path, body)
                self.assertEqual(status, 400, text)
                self.assertIn(want, text)
            conn.close()
        # over --max-body (64 KiB here): announced, or sent chunked without a length
        conn = plain(self.sync_port)
        status, _, _ = post_json(conn, "/sync", b"{\"x\": \"" + b"a" * 70000 + b"\"}")
        self.assertEqual(status, 413)
        conn.close()
        conn = plain(self.sync_port)
        conn.putrequest("POST", "/sync")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"a" * 8192
        try:
            for _ in range(10):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the last chunk
        self.assertEqual(conn.getresponse().status, 413)
        conn.close()
        # TLS on the plain port is not spoken, plain HTTP on the TLS port is not answered
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            s.sendall(b"POST /sync HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            data = s.recv(100)
            self.assertFalse(data.startswith(b"HTTP/1.1 200"), data)
        # the server still answers on both ports
        self.assertEqual(request(plain(self.sync_port), "GET", "/healthz")[0], 200)
        self.assertEqual(request(client(self.srv), "GET", "/healthz")[0], 200)

    def test_customize_on_both_ports(self):
        c = self.cluster()
        training = c.parents[("Training", "ppocr-det")]
        body = {"controller": {}, "parent": training}
        for conn in (self.hooks, self.tls):
            status, headers, answer = post_json(conn, "/customize", body)
            self.assertEqual(status, 200, answer)
            self.assertEqual(answer, {"relatedResources": [
                {"apiVersion": API, "resource": "datasets", "namespace": "kubeflow", "names": ["icdar2015"]}]})

    def test_idle_connection_is_closed(self):
        srv = Server(extra_args=["--sync-listen", "127.0.0.1:%d" % free_port(), "--connection-timeout", "1"])
        port = int(srv.extra_args[1].rsplit(":", 1)[1])
        with srv:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"POST /sync HTTP/1.1\r\nHost: x\r\n")   # headers never finished
                t0 = time.monotonic()
                self.assertEqual(s.recv(100), b"")
                self.assertLess(time.monotonic() - t0, 8)

    def test_bad_sync_listen_stops_the_start(self):
        for arg in ("nonsense", "127.0.0.1:0", "127.0.0.1:70000", "localhost:8080", "[::1:80"):
            with self.subTest(arg=arg):
                srv = Server(extra_args=["--sync-listen", arg], expect_exit=1)
                with self.assertRaises(RuntimeError):
                    srv.start()
                self.assertIn("--sync-listen", srv.stderr_text())
        # a port in use
        srv = Server(extra_args=["--sync-listen", "127.0.0.1:%d" % self.sync_port])
        with self.assertRaises(RuntimeError):
            srv.start()
        self.assertIn("cannot listen", srv.stderr_text())

    # ---------------------------------------------------------- the order

    def test_pipeline_runs_in_order(self):
        c = self.cluster()
        first = c.sync_all()
        self.assertEqual(c.customize_calls, 4)
        # Dataset: its SampleSet at once; the other three wait for it, in turn
        self.assertTrue(c.exists("SampleSet", "icdar2015"))
        self.assertFalse(c.exists("PaddleJob", "ppocr-det"))
        self.assertFalse(c.exists("Job", "ppocr-det-upload"))
        self.assertFalse(c.exists("InferenceService", "ppocr-det"))
        # what does not depend on the Dataset starts: VisualDL
        self.assertTrue(c.exists("Deployment", "ppocr-det-visualdl"))
        msg = first["Training"]["status"]["message"]
        self.assertIn("PaddleJob/ppocr-det waits for Dataset/icdar2015 to be Ready", msg)
        self.assertIn("Job/ppocr-det-upload waits for Training/ppocr-det to be Ready",
                      first["ModelHub"]["status"]["message"])
        self.assertIn("InferenceService/ppocr-det waits for ModelHub/ppocr-det to be Ready",
                      first["Serving"]["status"]["message"])
        for kind in ORDER:
            self.assertEqual(ready(c.parents[(kind, "icdar2015" if kind == "Dataset" else "ppocr-det")]), "False")
        self.assertEqual(condition(c.parents[("Training", "ppocr-det")], "Ready")["reason"], "Waiting")
        self.assertGreater(first["Training"].get("resyncAfterSeconds", 0), 0)

        # the SampleSet is bound, then ready
        c.set_status("SampleSet", "icdar2015", {"phase": "Bound"})
        c.sync_all()
        self.assertFalse(c.exists("PaddleJob", "ppocr-det"))
        c.set_status("SampleSet", "icdar2015", {"phase": "Ready"})
        c.sync_all()
        self.assertEqual(ready(c.parents[("Dataset", "icdar2015")]), "True")
        self.assertEqual(condition(c.parents[("Dataset", "icdar2015")], "Ready")["reason"], "DataSynced")
        self.assertTrue(c.exists("PaddleJob", "ppocr-det"))
        self.assertFalse(c.exists("Job", "ppocr-det-export"))
        self.assertFalse(c.exists("Job", "ppocr-det-upload"))

        # training, export, convert
        c.set_status("PaddleJob", "ppocr-det", {"phase": "Running"})
        c.sync_all()
        self.assertEqual(condition(c.parents[("Training", "ppocr-det")], "Ready")["reason"], "Running")
        c.set_status("PaddleJob", "ppocr-det", {"phase": "Completed"})
        c.sync_all()
        self.assertTrue(c.exists("Job", "ppocr-det-export"))
        c.set_status("Job", "ppocr-det-export", COMPLETE)
        c.sync_all()
        self.assertEqual(ready(c.parents[("Training", "ppocr-det")]), "False")
        self.assertFalse(c.exists("Job", "ppocr-det-upload"))
        c.set_status("Job", "ppocr-det-convert", COMPLETE)
        answers = c.sync_all()
        self.assertEqual(ready(c.parents[("Training", "ppocr-det")]), "True")
        # the ModelHub's sync ran after the Training's: its upload is created now
        self.assertTrue(c.exists("Job", "ppocr-det-upload"))
        self.assertNotIn("message", answers["ModelHub"]["status"])
        self.assertFalse(c.exists("InferenceService", "ppocr-det"))

        # upload, then serving
        c.set_status("Job", "ppocr-det-upload", COMPLETE)
        c.sync_all()
        self.assertEqual(ready(c.parents[("ModelHub", "ppocr-det")]), "True")
        self.assertTrue(c.exists("InferenceService", "ppocr-det"))
        self.assertEqual(ready(c.parents[("Serving", "ppocr-det")]), "False")
        c.set_status("InferenceService", "ppocr-det",
                     {"url": "http://ppocr-det.kubeflow.example.com",
                      "conditions": [{"type": "Ready", "status": "True"}]})
        c.sync_all()
        serving = c.parents[("Serving", "ppocr-det")]
        self.assertEqual(ready(serving), "True")
        self.assertEqual(condition(serving, "Ready")["reason"], "ModelServed")
        self.assertEqual(serving["status"]["url"], "http://ppocr-det.kubeflow.example.com")
        for obj in c.parents.values():
            with self.subTest(parent=key(obj)):
                self.check_conditions(obj)
                self.assertEqual(condition(obj, "Failed")["status"], "False")
                # the whole object, status included, as the CRD stores it
                crd = os.path.join(HERE, "..", "..", "manifests", "crds",
                                   "paddlex.paddlepaddle.org_%ss.yaml" % obj["kind"].lower())
                self.assertEqual(crdschema.validate(crdschema.load(crd), obj), [])

    def check_conditions(self, obj):
        """metav1.Condition's shape (k8s.io/apimachinery pkg/apis/meta/v1/types.go)."""
        conds = obj["status"]["conditions"]
        self.assertEqual(sorted(c["type"] for c in conds), ["Failed", "Ready"])
        for c in conds:
            self.assertEqual(sorted(c), ["lastTransitionTime", "message", "observedGeneration", "reason",
                                         "status", "type"])
            self.assertIn(c["status"], ("True", "False", "Unknown"))
            self.assertRegex(c["reason"], r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
            self.assertRegex(c["lastTransitionTime"], TIME)
            self.assertEqual(c["observedGeneration"], obj["metadata"]["generation"])

    def test_transition_times_are_stable(self):
        c = self.cluster([pipeline()[0]])
        c.sync_all()
        ds = c.parents[("Dataset", "icdar2015")]
        before = copy.deepcopy(ds["status"]["conditions"])
        time.sleep(1.1)
        c.sync_all()
        c.sync_all()
        self.assertEqual(ds["status"]["conditions"], before)
        c.set_status("SampleSet", "icdar2015", {"phase": "Ready"})
        c.sync_all()
        after = {x["type"]: x for x in ds["status"]["conditions"]}
        was = {x["type"]: x for x in before}
        self.assertEqual(after["Ready"]["status"], "True")
        self.assertGreater(after["Ready"]["lastTransitionTime"], was["Ready"]["lastTransitionTime"])
        self.assertEqual(after["Failed"]["lastTransitionTime"], was["Failed"]["lastTransitionTime"])
        # a new generation: observedGeneration follows, the time does not move
        ds["metadata"]["generation"] = 2
        c.sync_all()
        now = {x["type"]: x for x in ds["status"]["conditions"]}
        self.assertEqual(now["Ready"]["observedGeneration"], 2)
        self.assertEqual(now["Ready"]["lastTransitionTime"], after["Ready"]["lastTransitionTime"])

    def test_no_waiting_without_the_related_object(self):
        # a model uploaded elsewhere is served at once; a ModelHub whose
        # Training is not in the namespace uploads at once
        objs = pipeline()
        c = self.cluster([o for o in objs if o["kind"] in ("ModelHub", "Serving")][1:])
        c.sync_all()
        self.assertTrue(c.exists("InferenceService", "ppocr-det"))
        c = self.cluster([o for o in objs if o["kind"] == "ModelHub"])
        c.sync_all()
        self.assertTrue(c.exists("Job", "ppocr-det-upload"))
        # a Training whose Dataset lives elsewhere starts at once
        c = self.cluster([o for o in objs if o["kind"] == "Training"])
        answers = c.sync_all()
        self.assertTrue(c.exists("PaddleJob", "ppocr-det"))
        self.assertNotIn("Dataset", answers["Training"]["status"].get("message", ""))

    def test_related_in_another_namespace_or_of_another_model_is_ignored(self):
        objs = pipeline()
        hub = copy.deepcopy([o for o in objs if o["kind"] == "ModelHub"][0])
        hub["metadata"]["namespace"] = "team-b"
        hub["spec"].pop("namespace", None)
        other = copy.deepcopy([o for o in objs if o["kind"] == "ModelHub"][0])
        other["metadata"]["name"] = "other"
        other["spec"]["modelVersion"] = "v2"
        serving = [o for o in objs if o["kind"] == "Serving"][0]
        c = self.cluster([hub, other, serving])
        c.sync_all()
        self.assertTrue(c.exists("InferenceService", "ppocr-det"))

    def test_failures(self):
        c = self.cluster()
        c.sync_all()
        c.set_status("SampleSet", "icdar2015", {"phase": "Ready"})
        c.sync_all()
        c.set_status("PaddleJob", "ppocr-det", {"phase": "Failed"})
        answers = c.sync_all()
        training = c.parents[("Training", "ppocr-det")]
        failed = condition(training, "Failed")
        self.assertEqual((failed["status"], failed["reason"]), ("True", "ChildFailed"))
        self.assertIn("PaddleJob/ppocr-det failed", failed["message"])
        self.assertEqual(condition(training, "Ready")["reason"], "Failed")
        # the ModelHub keeps waiting and says that its Training failed
        self.assertIn("Training/ppocr-det to be Ready (it failed)", answers["ModelHub"]["status"]["message"])
        self.assertFalse(c.exists("Job", "ppocr-det-upload"))
        self.assertEqual(condition(c.parents[("ModelHub", "ppocr-det")], "Failed")["status"], "False")

    def test_invalid_parent_is_failed(self):
        c = self.cluster([pipeline()[0]])
        ds = c.parents[("Dataset", "icdar2015")]
        ds["spec"]["partitions"] = 0
        ds["metadata"]["generation"] = 2
        c.sync_all()
        failed = condition(ds, "Failed")
        self.assertEqual(condition(ds, "Ready")["status"], "False")
        self.assertEqual((failed["status"], failed["reason"]), ("True", "InvalidSpec"))
        self.assertIn("spec.partitions", failed["message"])


if __name__ == "__main__":
    unittest.main()
