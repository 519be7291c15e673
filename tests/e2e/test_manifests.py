"""Static checks of manifests/: what `kubectl kustomize` builds.

No cluster is needed: every kustomization is built with `kubectl kustomize`
and the objects are checked as data (webhook configurations, Deployment,
RBAC, CRD schemas, cert-manager and self-signed variants, Metacontroller).
When the built binary is there ($PADDLEX_BIN), the CRD defaults are compared
with the ones `paddlex-webhook review mutate` fills, and the shipped policy is
loaded by it. Objects are judged with tests/tools/crdschema.py, patches applied
with tests/tools/jsonpatch.py, reviews built with common.py.

YAML is read with PyYAML when it is importable (Debian: python3-yaml), else
converted to JSON by `kubectl annotate --local -o json`, which needs no cluster.
Skipped, with the reason, when kubectl is not installed.
"""
import copy
import functools
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from common import cli, have_binary, mutate_and_apply, review, send_review  # puts tests/tools on sys.path
import crdschema  # noqa: E402  (tests/tools)

try:
    import yaml  # optional: python3-yaml
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MANIFESTS = os.path.join(ROOT, "manifests")
REFERENCE_CRDS = os.path.normpath(os.path.join(ROOT, "..", "shared", "reference", "crds"))
KUBECTL = shutil.which("kubectl")

GROUP = "paddlex.paddlepaddle.org"
VERSION = "v1alpha1"
NS = "paddlex-system"
NAME = "paddlex-webhook"
TLS_SECRET = "paddlex-webhook-tls"
IMAGE = "paddlex-webhook:latest"

BUILDS = {
    "base": "",
    "crds": "crds",
    "webhook": "webhook",
    "cert-manager": "overlays/cert-manager",
    "self-signed": "overlays/self-signed",
    "kubeflow": "overlays/kubeflow",
    "metacontroller": "metacontroller",
}
# The builds that install a working webhook.
INSTALLS = ("base", "cert-manager", "self-signed", "kubeflow")

KINDS = {
    # kind: (plural, singular)
    "Dataset": ("datasets", "dataset"),
    "Training": ("trainings", "training"),
    "ModelHub": ("modelhubs", "modelhub"),
    "Serving": ("servings", "serving"),
}
RESOURCES = sorted(p for p, _ in KINDS.values())

# SPEC §2: every spec field with its type, per kind.
COMMON_FIELDS = {"namespace": "string", "action": "string"}
SPEC_FIELDS = {
    "Dataset": {"partitions": "integer", "sourceUri": "string", "sourceSecret": "string"},
    "Training": {
        "project": "string", "image": "string", "configPath": "string",
        "dataset": "string", "pvcName": "string", "workerReplicas": "integer",
        "psReplicas": "integer", "gpuPerNode": "integer", "configChanges": "string",
        "pretrainModel": "string", "trainLabel": "string", "testLabel": "string",
        "useVisualDL": "boolean", "saveInference": "boolean", "needConvert": "boolean",
    },
    "ModelHub": {"endpoint": "string", "modelName": "string", "modelVersion": "string",
                 "pvcName": "string"},
    "Serving": {"image": "string", "modelName": "string", "modelVersion": "string",
                "endpoint": "string", "port": "integer"},
}
REQUIRED = {
    "Dataset": ["sourceSecret", "sourceUri"],
    "Training": ["configPath", "dataset", "image", "project", "pvcName", "workerReplicas"],
    "ModelHub": ["pvcName"],
    "Serving": ["image"],
}
# Constant built-in defaults, which the CRDs carry too.
DEFAULTS = {
    "Dataset": {"action": "apply", "partitions": 1},
    "Training": {"action": "apply", "psReplicas": 0, "gpuPerNode": 0,
                 "useVisualDL": False, "saveInference": True},
    "ModelHub": {"action": "apply", "modelVersion": "latest"},
    "Serving": {"action": "apply", "modelVersion": "latest"},
}
# Defaults the CRDs must not carry: they depend on other fields, or the
# policy replaces them (a CRD default is applied before mutating admission
# and would defeat the policy's `defaults`).
NO_SCHEMA_DEFAULT = ("namespace", "modelName", "needConvert", "endpoint", "port")
# Built-in defaults the webhook fills for the policy-dependent fields.
WEBHOOK_ONLY_DEFAULTS = {
    "ModelHub": {"endpoint": "http://minio-service.kubeflow:9000"},
    "Serving": {"endpoint": "http://minio-service.kubeflow:9000", "port": 8040},
}
# Minimal valid objects (only required fields), as in the seed's examples.
MINIMAL = {
    "Dataset": ("imagenet", {"sourceUri": "bos://paddleflow/imagenet/", "sourceSecret": "bos-secret"}),
    "Training": ("pp-ocr", {
        "project": "PaddleOCR",
        "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
        "configPath": "configs/rec/rec_icdar15_train.yml",
        "dataset": "icdar2015", "pvcName": "task-center", "workerReplicas": 1,
    }),
    "ModelHub": ("pp-ocr", {"pvcName": "task-center"}),
    "Serving": ("pp-ocr", {"image": "registry.baidubce.com/paddleflow-public/serving:v0.6.2"}),
}

# Values each pattern must accept / refuse (SPEC §2 rules).
RELPATH_OK = ["configs/rec/rec.yml", "a", "./a", ".hidden/x", "a/..b", "...", "train_list.txt", "a-b_c.d"]
RELPATH_BAD = ["/abs", "../x", "a/../b", "a/..", "..", "a b", "a;b", "$(x)", "a\nb"]
PATTERN_CASES = {
    ("*", "namespace"): (["kubeflow", "team-a", "a1"], ["-a", "Team", "a_b", "a.b"]),
    ("Dataset", "sourceUri"): (
        ["bos://paddleflow/imagenet/", "s3://bucket/path", "hdfs://nn:8020/data", "minio://host:9000/x",
         "gs://bucket/"],
        # http(s): no JuiceFS storage (SPEC §9.2, paddle-operator driver/juicefs.go JuiceFSSupportStorage)
        ["gs://bucket", "ftp://host/path", "https://host/x.tar", "http://host/data/x", "bos://bucket /x", "bos:/bucket/xyz", "bos://a/b\nc", "bos://a/b\x01c",
         "file:///etc/passwd"]),
    ("Dataset", "sourceSecret"): (["bos-secret", "a.b-c", "a"], ["A", "a..b", "-a", "a_b"]),
    ("Training", "image"): (["paddle", "registry.example.com/a/b:1@sha256:" + "a" * 64], ["a b", "a\tb"]),
    ("Training", "configPath"): (RELPATH_OK, RELPATH_BAD),
    ("Training", "trainLabel"): (RELPATH_OK, RELPATH_BAD),
    ("Training", "testLabel"): (RELPATH_OK, RELPATH_BAD),
    ("Training", "dataset"): (["icdar2015", "a.b"], ["ICDAR", "a b"]),
    ("Training", "pvcName"): (["task-center"], ["Task", "a/b"]),
    ("Training", "pretrainModel"): (
        ["https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams",
         "http://host/x/model.pdparams?token=1"],
        ["ftp://host/x.pdparams", "https://host/x.tar", "https://host/x.pdparams extra", "model.pdparams"]),
    ("ModelHub", "endpoint"): (
        ["http://minio-service.kubeflow:9000", "https://minio.example.com", "http://10.0.0.1:9000/",
         "http://[::1]:9000"],
        ["ftp://minio:9000", "http://user:pw@minio:9000", "http://minio/path", "minio:9000", "http://"]),
    ("ModelHub", "modelName"): (["pp-ocr", "a"], ["pp.ocr", "PP", "-a", "a" * 64]),
    ("ModelHub", "modelVersion"): (["latest", "v1", "1.0.0", "v1_2-3", "a" * 63],
                                   ["", "-v1", ".v1", "a" * 64, "v 1"]),
    ("Serving", "image"): (
        ["registry.baidubce.com/paddleflow-public/serving:v0.6.2", "nginx:1.25", "localhost:5000/serving:v1",
         "repo@sha256:" + "0" * 64, "repo:tag@sha256:" + "f" * 64],
        ["serving", "localhost:5000/serving", "repo@sha256:abc", "repo:tag with space"]),
    ("Serving", "endpoint"): (["http://minio-service.kubeflow:9000"], ["http://a@b"]),
}

# The shortNames: none of Kubernetes' (ds, svc, deploy, ...), KServe's
# (isvc), Fluid's datasets, Kubeflow's (tfjob, pytorchjob, ...).
SHORT_NAMES = {"Dataset": "pxds", "Training": "pxtrain", "ModelHub": "pxhub", "Serving": "pxserve"}
TAKEN_SHORT_NAMES = {"ds", "svc", "deploy", "sts", "po", "cm", "ns", "pv", "pvc", "sa", "ep", "ing", "no", "rs",
                     "rc", "cj", "pdb", "hpa", "netpol", "sc", "crd", "cs", "ev", "limits", "quota", "csr",
                     "isvc", "ig", "tm", "sr", "dataset", "datasets", "mh", "hub", "serving", "training",
                     "train", "ksvc", "kservice", "route", "rt", "cfg", "rev", "pj", "paddlejob", "tfjob",
                     "pytorchjob", "mpijob", "xgboostjob", "cc", "cctl", "dec", "dctl", "wf", "cwf", "wftmpl",
                     "cwftmpl", "nb", "experiment", "trial", "profile", "viewer", "swf"}
CONDITION = {"type": "Ready", "status": "True", "observedGeneration": 3,
             "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "ModelTrained",
             "message": "the model is trained and exported"}
METACONTROLLER_VERSIONS = ("v4.11.22", "v4.17.2")


def metacontroller_schema(version):
    path = os.path.join(REFERENCE_CRDS, "compositecontrollers.metacontroller.k8s.io.v1alpha1.%s.json" % version)
    if not os.path.exists(path):
        raise AssertionError("no reference schema %s: ../shared is part of the checkout's surroundings" % path)
    return crdschema.load(path)


# ---------------------------------------------------------------- building

def require_kubectl():
    # a failure, not a skip: `make deps` installs kubectl when it is missing
    if not KUBECTL:
        raise AssertionError("kubectl not found on PATH: manifests/ checks need `kubectl kustomize` "
                             "(no cluster); run `make deps`")


def _split_json_stream(text):
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def parse_yaml_stream(text):
    """Multi-document YAML -> list of objects (empty documents dropped)."""
    if yaml is not None:
        return [d for d in yaml.safe_load_all(text) if d]
    # No PyYAML: kubectl decodes YAML offline. Removing an absent annotation
    # changes nothing but leaves an empty annotations map, dropped here.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        res = subprocess.run([KUBECTL, "annotate", "--local", "-f", path, "-o", "json",
                              "paddlex.paddlepaddle.org/test-noop-"],
                             capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(path)
    if res.returncode != 0:
        raise AssertionError("kubectl could not decode the YAML: " + res.stderr.strip())
    objs = []
    for o in _split_json_stream(res.stdout):
        objs.extend(o["items"] if o.get("kind") == "List" and "items" in o else [o])
    for o in objs:
        md = o.get("metadata") or {}
        if md.get("annotations") == {}:
            del md["annotations"]
    return objs


@functools.lru_cache(maxsize=None)
def _build(name):
    require_kubectl()
    path = os.path.join(MANIFESTS, BUILDS[name])
    res = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise AssertionError("kubectl kustomize %s failed:\n%s" % (path, res.stderr.strip()))
    return json.dumps(parse_yaml_stream(res.stdout))


def build(name):
    """Objects of one build; a fresh copy each call (tests may mutate it)."""
    return json.loads(_build(name))


def find(objs, kind, name=None, namespace=None):
    return [o for o in objs if o.get("kind") == kind
            and (name is None or o["metadata"].get("name") == name)
            and (namespace is None or o["metadata"].get("namespace") == namespace)]


def one(objs, kind, name=None):
    found = find(objs, kind, name)
    if len(found) != 1:
        raise AssertionError("expected exactly one %s%s, found %d"
                             % (kind, " " + name if name else "", len(found)))
    return found[0]


def selector_matches(selector, labels):
    """Kubernetes LabelSelector semantics (matchLabels + matchExpressions)."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def crds():
    """The four CustomResourceDefinitions by kind."""
    return {o["spec"]["names"]["kind"]: o for o in find(build("crds"), "CustomResourceDefinition")}


def schema_of(crd):
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


# ---------------------------------------------------- schema interpretation

def schema_errors(schema, value):
    """Errors of value against a (sub)schema, as the apiserver judges a custom
    resource; a field it would prune is reported as ``pruned: <path>``."""
    return crdschema.validate(schema, value)


def apply_schema_defaults(schema, value):
    """Structural defaulting as the apiserver does it on decode."""
    if isinstance(value, dict):
        for k, sub in (schema.get("properties") or {}).items():
            if k not in value and "default" in sub:
                value[k] = copy.deepcopy(sub["default"])
            if k in value:
                apply_schema_defaults(sub, value[k])
    elif isinstance(value, list) and "items" in schema:
        for v in value:
            apply_schema_defaults(schema["items"], v)
    return value


def walk_schema(schema, path="$"):
    yield path, schema
    for k, sub in (schema.get("properties") or {}).items():
        yield from walk_schema(sub, path + "." + k)
    if isinstance(schema.get("items"), dict):
        yield from walk_schema(schema["items"], path + "[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk_schema(schema["additionalProperties"], path + ".*")


# -------------------------------------------------------------------- RBAC

class Rbac:
    """Evaluates what a subject may do from the Roles and bindings of a build."""

    def __init__(self, objs):
        self.objs = objs

    def _role(self, ref, namespace):
        kind = ref["kind"]
        found = find(self.objs, kind, ref["name"], namespace if kind == "Role" else None)
        if not found:
            raise AssertionError("binding refers to %s %s, not in the build" % (kind, ref["name"]))
        return found[0]

    def rules(self, sa_ns, sa_name, namespace):
        """Rules granted to a ServiceAccount for a request in namespace
        (None: a cluster-scoped resource)."""
        out = []
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for b in find(self.objs, kind):
                bns = b["metadata"].get("namespace")
                if kind == "RoleBinding" and bns != namespace:
                    continue
                for s in b.get("subjects") or []:
                    if s.get("kind") == "ServiceAccount" and s.get("name") == sa_name \
                            and s.get("namespace", bns) == sa_ns:
                        out.extend(self._role(b["roleRef"], bns).get("rules") or [])
        return out

    def allowed(self, sa, verb, group, resource, namespace=None, name=None):
        sa_ns, sa_name = sa
        for r in self.rules(sa_ns, sa_name, namespace):
            if verb not in r.get("verbs", []) or group not in r.get("apiGroups", []) \
                    or resource not in r.get("resources", []):
                continue
            names = r.get("resourceNames")
            if names and name not in names:
                continue
            return True
        return False


# ------------------------------------------------------------------ binary

def mutated(obj, policy=None):
    """obj after `review mutate` (strict JSON Patch, as the apiserver)."""
    answer, out = mutate_and_apply(cli("mutate", ["--policy", policy] if policy else []), obj)
    resp = answer["response"]
    if not resp["allowed"]:
        raise AssertionError("mutate refused a valid %s: %s" % (obj["kind"], json.dumps(resp.get("status"))))
    return out


def cr(kind, name, spec, namespace="kubeflow"):
    return {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": copy.deepcopy(spec)}


# =================================================================== tests

class TestBuilds(unittest.TestCase):
    """Every kustomization builds, and holds what it should."""

    @classmethod
    def setUpClass(cls):
        require_kubectl()

    def test_every_kustomization_builds(self):
        for name in BUILDS:
            with self.subTest(build=name):
                self.assertTrue(build(name), "empty build")

    def test_no_duplicate_objects(self):
        for name in BUILDS:
            seen = set()
            for o in build(name):
                key = (o["apiVersion"].split("/")[0], o["kind"], o["metadata"].get("namespace"),
                       o["metadata"]["name"])
                with self.subTest(build=name, object=key):
                    self.assertNotIn(key, seen)
                seen.add(key)

    def test_base_content(self):
        kinds = sorted(o["kind"] for o in build("base"))
        self.assertEqual(kinds, sorted([
            "CustomResourceDefinition"] * 4 + ["ClusterRole"] * 2 + [
            "Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment",
            "PodDisruptionBudget", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]))

    def test_base_needs_no_extra_controller(self):
        # The base installs on a bare cluster: no Metacontroller or
        # cert-manager kinds in it or in the self-signed overlay.
        for name in ("base", "self-signed"):
            for o in build(name):
                with self.subTest(build=name, kind=o["kind"]):
                    self.assertNotIn(o["apiVersion"].split("/")[0],
                                     ("metacontroller.k8s.io", "cert-manager.io"))

    def test_overlays_extend_the_base(self):
        base = {(o["kind"], o["metadata"]["name"]) for o in build("base")}
        for name in ("cert-manager", "self-signed", "kubeflow"):
            got = {(o["kind"], o["metadata"]["name"]) for o in build(name)}
            with self.subTest(build=name):
                self.assertLessEqual(base, got)

    def test_images(self):
        for name in INSTALLS:
            for o in build(name):
                if o["kind"] not in ("Deployment", "Job"):
                    continue
                spec = o["spec"]["template"]["spec"]
                for c in spec.get("initContainers", []) + spec["containers"]:
                    with self.subTest(build=name, object=o["metadata"]["name"], container=c["name"]):
                        self.assertEqual(c["image"], IMAGE)
                        self.assertEqual(c.get("imagePullPolicy"), "IfNotPresent")

    def test_namespaced_objects_live_in_paddlex_system(self):
        cluster = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                   "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "CompositeController"}
        for name in BUILDS:
            for o in build(name):
                with self.subTest(build=name, object=(o["kind"], o["metadata"]["name"])):
                    if o["kind"] in cluster:
                        self.assertNotIn("namespace", o["metadata"])
                    else:
                        self.assertEqual(o["metadata"].get("namespace"), NS)


class TestWebhookConfigurations(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_kubectl()

    def configs(self, build_name):
        objs = build(build_name)
        return [("MutatingWebhookConfiguration", "mutate", one(objs, "MutatingWebhookConfiguration", NAME)),
                ("ValidatingWebhookConfiguration", "validate", one(objs, "ValidatingWebhookConfiguration", NAME))]

    def test_webhook_fields(self):
        for b in INSTALLS:
            for kind, verb, cfg in self.configs(b):
                with self.subTest(build=b, kind=kind):
                    self.assertEqual(len(cfg["webhooks"]), 1)
                    w = cfg["webhooks"][0]
                    self.assertEqual(w["name"], "%s.%s" % (verb, GROUP))
                    self.assertEqual(w["admissionReviewVersions"], ["v1", "v1beta1"])
                    self.assertEqual(w["sideEffects"], "None")
                    self.assertLessEqual(w["timeoutSeconds"], 10)
                    self.assertEqual(w["timeoutSeconds"], 5)
                    self.assertEqual(w["failurePolicy"], "Fail")
                    self.assertEqual(w["matchPolicy"], "Equivalent")
                    if verb == "mutate":
                        self.assertEqual(w["reinvocationPolicy"], "Never")
                    else:
                        self.assertNotIn("reinvocationPolicy", w)
                    self.assertNotIn("url", w["clientConfig"])
                    self.assertEqual(w["clientConfig"]["service"], {
                        "name": NAME, "namespace": NS, "path": "/" + verb, "port": 443})
                    self.assertNotIn("objectSelector", w)

    def test_rules_list_exactly_the_four_resources(self):
        for b in INSTALLS:
            for kind, _, cfg in self.configs(b):
                with self.subTest(build=b, kind=kind):
                    rules = cfg["webhooks"][0]["rules"]
                    self.assertEqual(len(rules), 1)
                    r = rules[0]
                    self.assertEqual(r["apiGroups"], [GROUP])
                    self.assertEqual(r["apiVersions"], [VERSION])
                    self.assertEqual(sorted(r["operations"]), ["CREATE", "UPDATE"])
                    self.assertEqual(sorted(r["resources"]), RESOURCES)
                    self.assertEqual(r["scope"], "Namespaced")
                    for res in r["resources"]:
                        self.assertNotIn("*", res)
                        self.assertNotIn("/", res)  # no status subresource

    def test_namespace_selector_exempts_system_namespaces(self):
        for b in INSTALLS:
            for kind, _, cfg in self.configs(b):
                sel = cfg["webhooks"][0]["namespaceSelector"]
                for ns, want in (("kube-system", False), (NS, False), ("kubeflow", True),
                                 ("default", True), ("team-a", True)):
                    with self.subTest(build=b, kind=kind, namespace=ns):
                        labels = {"kubernetes.io/metadata.name": ns}
                        self.assertEqual(selector_matches(sel, labels), want)

    def test_service_exists_for_client_config(self):
        objs = build("base")
        svc = one(objs, "Service", NAME)
        self.assertEqual(svc["metadata"]["namespace"], NS)
        self.assertEqual([p["port"] for p in svc["spec"]["ports"]], [443])

    def test_ca_bundle_left_to_overlays(self):
        # A caBundle in the base would be stale on every install.
        for kind, _, cfg in self.configs("base"):
            with self.subTest(kind=kind):
                self.assertNotIn("caBundle", cfg["webhooks"][0]["clientConfig"])


class TestDeployment(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.objs = build("base")
        cls.dep = one(cls.objs, "Deployment", NAME)
        cls.pod = cls.dep["spec"]["template"]["spec"]
        (cls.ctr,) = cls.pod["containers"]

    def test_replicas_and_selector(self):
        self.assertEqual(self.dep["spec"]["replicas"], 2)
        self.assertTrue(selector_matches(self.dep["spec"]["selector"],
                                         self.dep["spec"]["template"]["metadata"]["labels"]))
        self.assertEqual(self.dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)

    def test_args(self):
        self.assertEqual(self.ctr["args"], ["serve", "--listen", "0.0.0.0:8443", "--tls-cert", "/certs/tls.crt",
                                            "--tls-key", "/certs/tls.key", "--policy", "/policy/policy.yaml"])
        self.assertNotIn("command", self.ctr)  # the image's ENTRYPOINT is the binary

    def test_pod_security(self):
        psc = self.pod["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True)
        self.assertEqual(psc["runAsUser"], 65532)
        self.assertEqual(psc["seccompProfile"]["type"], "RuntimeDefault")
        self.assertIs(self.pod["automountServiceAccountToken"], False)
        self.assertEqual(self.pod["serviceAccountName"], NAME)
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            self.assertFalse(self.pod.get(key, False))
        csc = self.ctr["securityContext"]
        self.assertIs(csc["runAsNonRoot"], True)
        self.assertEqual(csc["runAsUser"], 65532)
        self.assertIs(csc["readOnlyRootFilesystem"], True)
        self.assertIs(csc["allowPrivilegeEscalation"], False)
        self.assertEqual(csc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", csc["capabilities"])
        self.assertFalse(csc.get("privileged", False))
        self.assertEqual(csc["seccompProfile"]["type"], "RuntimeDefault")

    def test_service_account_mounts_no_token(self):
        sa = one(self.objs, "ServiceAccount", NAME)
        self.assertIs(sa.get("automountServiceAccountToken"), False)

    def test_probes(self):
        port = {p["name"]: p["containerPort"] for p in self.ctr["ports"]}
        self.assertEqual(list(port.values()), [8443])
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            with self.subTest(probe=probe):
                get = self.ctr[probe]["httpGet"]
                self.assertEqual(get["scheme"], "HTTPS")
                self.assertEqual(get["path"], path)
                self.assertEqual(port.get(get["port"], get["port"]), 8443)
        if "startupProbe" in self.ctr:
            get = self.ctr["startupProbe"]["httpGet"]
            self.assertEqual((get["scheme"], port.get(get["port"], get["port"])), ("HTTPS", 8443))

    def test_resources(self):
        res = self.ctr["resources"]
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                with self.subTest(part=part, resource=r):
                    self.assertIn(r, res[part])

    def test_graceful_shutdown(self):
        grace = self.pod.get("terminationGracePeriodSeconds", 30)
        pre = self.ctr.get("lifecycle", {}).get("preStop", {})
        sleep = 0
        if "exec" in pre:
            self.assertEqual(pre["exec"]["command"][0], "/bin/sleep")  # exists in debian-slim
            sleep = int(pre["exec"]["command"][1])
        # preStop + the longest admission (timeoutSeconds 5) must fit.
        self.assertGreater(grace, sleep + 5)

    def test_spread(self):
        terms = self.pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        self.assertTrue(any(t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
                            and selector_matches(t["podAffinityTerm"]["labelSelector"],
                                                 self.dep["spec"]["template"]["metadata"]["labels"])
                            for t in terms))
        self.assertNotIn("requiredDuringSchedulingIgnoredDuringExecution", self.pod["affinity"]["podAntiAffinity"])

    def test_volumes(self):
        vols = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["mountPath"]: m for m in self.ctr["volumeMounts"]}
        self.assertEqual(vols[mounts["/certs"]["name"]]["secret"]["secretName"], TLS_SECRET)
        self.assertEqual(vols[mounts["/policy"]["name"]]["configMap"]["name"], "paddlex-webhook-policy")
        for path, m in mounts.items():
            with self.subTest(mount=path):
                self.assertTrue(m.get("readOnly"))
                # subPath mounts are never updated: rotation would be missed.
                self.assertNotIn("subPath", m)

    def test_policy_configmap(self):
        cm = one(self.objs, "ConfigMap", "paddlex-webhook-policy")
        self.assertEqual(list(cm["data"]), ["policy.yaml"])
        text = cm["data"]["policy.yaml"]
        self.assertRegex(text, r"(?m)^apiVersion: paddlex\.paddlepaddle\.org/v1alpha1$")
        self.assertRegex(text, r"(?m)^kind: WebhookPolicy$")

    def test_service(self):
        svc = one(self.objs, "Service", NAME)
        labels = self.dep["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(selector_matches({"matchLabels": svc["spec"]["selector"]}, labels))
        (p,) = svc["spec"]["ports"]
        ports = {x["name"]: x["containerPort"] for x in self.ctr["ports"]}
        self.assertEqual(p["port"], 443)
        self.assertEqual(ports.get(p["targetPort"], p["targetPort"]), 8443)

    def test_pdb(self):
        pdb = one(self.objs, "PodDisruptionBudget", NAME)
        self.assertEqual(pdb["spec"]["minAvailable"], 1)
        self.assertLess(pdb["spec"]["minAvailable"], self.dep["spec"]["replicas"])  # drains can proceed
        self.assertTrue(selector_matches(pdb["spec"]["selector"], self.dep["spec"]["template"]["metadata"]["labels"]))

    def test_namespace_enforces_restricted(self):
        ns = one(self.objs, "Namespace", NS)
        self.assertEqual(ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce"), "restricted")


class TestRbac(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_kubectl()

    RBAC_KINDS = ("Role", "ClusterRole")

    def test_no_wildcards_and_no_cluster_wide_secret_reads(self):
        for b in BUILDS:
            for o in build(b):
                if o["kind"] not in self.RBAC_KINDS:
                    continue
                for r in o.get("rules") or []:
                    with self.subTest(build=b, role=o["metadata"]["name"], rule=r):
                        for key in ("verbs", "apiGroups", "resources", "resourceNames"):
                            self.assertNotIn("*", r.get(key, []))
                        self.assertNotIn("escalate", r["verbs"])
                        self.assertNotIn("bind", r["verbs"])
                        self.assertNotIn("impersonate", r["verbs"])
                        if "secrets" in r.get("resources", []):
                            self.assertEqual(o["kind"], "Role", "secrets only through a namespaced Role")
                            self.assertFalse({"list", "watch"} & set(r["verbs"]))
                            if set(r["verbs"]) - {"create"}:
                                self.assertLessEqual(set(r.get("resourceNames") or ["*"]),
                                                     {TLS_SECRET, TLS_SECRET + "-ca"})

    def test_no_binding_to_builtin_roles(self):
        for b in BUILDS:
            for o in build(b):
                if o["kind"] in ("RoleBinding", "ClusterRoleBinding"):
                    with self.subTest(build=b, binding=o["metadata"]["name"]):
                        self.assertNotIn(o["roleRef"]["name"], ("cluster-admin", "admin", "edit"))

    def test_server_has_no_rights(self):
        for b in INSTALLS:
            objs = build(b)
            for kind in ("RoleBinding", "ClusterRoleBinding"):
                for o in find(objs, kind):
                    for s in o.get("subjects") or []:
                        with self.subTest(build=b, binding=o["metadata"]["name"]):
                            self.assertFalse(s.get("kind") == "ServiceAccount" and s.get("name") == NAME
                                             and s.get("namespace") == NS)

    def test_certs_job_rights(self):
        rbac = Rbac(build("self-signed"))
        sa = (NS, "paddlex-webhook-certs")
        for verb in ("get", "update"):
            self.assertTrue(rbac.allowed(sa, verb, "", "secrets", NS, TLS_SECRET), verb)
        self.assertTrue(rbac.allowed(sa, "create", "", "secrets", NS, None))
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            for verb in ("get", "patch"):
                self.assertTrue(rbac.allowed(sa, verb, "admissionregistration.k8s.io", kind, None, NAME))
            self.assertFalse(rbac.allowed(sa, "patch", "admissionregistration.k8s.io", kind, None, "other"))
            self.assertFalse(rbac.allowed(sa, "delete", "admissionregistration.k8s.io", kind, None, NAME))
        denied = [("get", "", "secrets", NS, "other"), ("list", "", "secrets", NS, None),
                  ("create", "", "secrets", "kube-system", None), ("get", "", "secrets", "kube-system", TLS_SECRET),
                  ("delete", "", "secrets", NS, TLS_SECRET), ("create", "", "pods", NS, None)]
        for d in denied:
            with self.subTest(denied=d):
                self.assertFalse(rbac.allowed(sa, *d))


class TestSelfSignedOverlay(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.objs = build("self-signed")
        cls.job = one(cls.objs, "Job", "paddlex-webhook-certs")
        cls.pod = cls.job["spec"]["template"]["spec"]
        (cls.ctr,) = cls.pod["containers"]

    def test_job(self):
        self.assertEqual(self.job["metadata"]["namespace"], NS)
        self.assertEqual(self.ctr["args"], ["certs", "--service", NAME, "--namespace", NS, "--out-dir", "/tmp/certs",
                                            "--secret", TLS_SECRET, "--patch-webhooks", NAME])
        self.assertGreater(self.job["spec"]["ttlSecondsAfterFinished"], 0)
        self.assertGreater(self.job["spec"]["backoffLimit"], 0)
        self.assertIn(self.pod["restartPolicy"], ("Never", "OnFailure"))
        self.assertEqual(self.pod["serviceAccountName"], "paddlex-webhook-certs")
        self.assertNotEqual(self.pod.get("automountServiceAccountToken"), False)  # it calls the API
        one(self.objs, "ServiceAccount", "paddlex-webhook-certs")

    def test_job_security_matches_the_server(self):
        dep = one(self.objs, "Deployment", NAME)["spec"]["template"]["spec"]
        self.assertEqual(self.pod["securityContext"], dep["securityContext"])
        self.assertEqual(self.ctr["securityContext"], dep["containers"][0]["securityContext"])
        self.assertIn("limits", self.ctr["resources"])

    def test_tmp_is_an_empty_dir(self):
        vols = {v["name"]: v for v in self.pod["volumes"]}
        (m,) = [m for m in self.ctr["volumeMounts"] if m["mountPath"] == "/tmp"]
        self.assertIn("emptyDir", vols[m["name"]])


class TestCertManagerOverlay(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.objs = build("cert-manager")

    def test_issuer_chain(self):
        issuers = {o["metadata"]["name"]: o for o in find(self.objs, "Issuer")}
        certs = {o["metadata"]["name"]: o for o in find(self.objs, "Certificate")}
        serving = [c for c in certs.values() if c["spec"]["secretName"] == TLS_SECRET]
        self.assertEqual(len(serving), 1)
        serving = serving[0]
        ca_issuer = issuers[serving["spec"]["issuerRef"]["name"]]
        self.assertIn("ca", ca_issuer["spec"])
        ca_cert = [c for c in certs.values() if c["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]]
        self.assertEqual(len(ca_cert), 1)
        self.assertIs(ca_cert[0]["spec"]["isCA"], True)
        root = issuers[ca_cert[0]["spec"]["issuerRef"]["name"]]
        self.assertEqual(root["spec"], {"selfSigned": {}})
        for o in list(issuers.values()) + list(certs.values()):
            self.assertEqual(o["metadata"]["namespace"], NS)
        self.assertEqual(sorted(serving["spec"]["dnsNames"]), sorted([
            NAME, "%s.%s" % (NAME, NS), "%s.%s.svc" % (NAME, NS), "%s.%s.svc.cluster.local" % (NAME, NS)]))
        self.assertIn("server auth", serving["spec"].get("usages", ["server auth"]))

    def test_ca_injection(self):
        serving = [c for c in find(self.objs, "Certificate") if c["spec"]["secretName"] == TLS_SECRET][0]
        want = "%s/%s" % (serving["metadata"]["namespace"], serving["metadata"]["name"])
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            with self.subTest(kind=kind):
                ann = one(self.objs, kind, NAME)["metadata"].get("annotations", {})
                self.assertEqual(ann.get("cert-manager.io/inject-ca-from"), want)
        for crd in find(self.objs, "CustomResourceDefinition"):
            with self.subTest(crd=crd["metadata"]["name"]):
                # No conversion webhook, so nothing to inject.
                self.assertNotIn("conversion", crd["spec"])
                self.assertNotIn("cert-manager.io/inject-ca-from", crd["metadata"].get("annotations", {}))


class TestCrds(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.crds = crds()

    def spec_schema(self, kind):
        return schema_of(self.crds[kind])["properties"]["spec"]

    def test_names(self):
        self.assertEqual(sorted(self.crds), sorted(KINDS))
        for kind, (plural, singular) in KINDS.items():
            with self.subTest(kind=kind):
                crd = self.crds[kind]
                self.assertEqual(crd["metadata"]["name"], "%s.%s" % (plural, GROUP))
                self.assertEqual(crd["spec"]["group"], GROUP)
                self.assertEqual(crd["spec"]["scope"], "Namespaced")
                n = crd["spec"]["names"]
                self.assertEqual((n["plural"], n["singular"], n["kind"]), (plural, singular, kind))
                self.assertEqual(n["categories"], ["paddlex"])
                self.assertEqual(n["shortNames"], [SHORT_NAMES[kind]])
                (v,) = crd["spec"]["versions"]
                self.assertEqual(v["name"], VERSION)
                self.assertTrue(v["served"] and v["storage"])
                self.assertEqual(v["subresources"], {"status": {}})

    def test_structural(self):
        for kind in KINDS:
            root = schema_of(self.crds[kind])
            for path, node in walk_schema(root):
                with self.subTest(kind=kind, path=path):
                    self.assertTrue("type" in node or node.get("x-kubernetes-int-or-string"),
                                    "no type")
                    for banned in ("anyOf", "oneOf", "allOf", "not", "$ref", "nullable"):
                        self.assertNotIn(banned, node)
                    if "properties" in node:
                        self.assertNotIn("additionalProperties", node)
            with self.subTest(kind=kind, path="preserve-unknown"):
                spec = root["properties"]["spec"]
                self.assertNotIn("x-kubernetes-preserve-unknown-fields", root)
                self.assertNotIn("x-kubernetes-preserve-unknown-fields", spec)
                gen = spec["properties"]["generated"]
                self.assertEqual(gen["type"], "array")
                self.assertEqual(gen["items"]["type"], "object")
                self.assertIs(gen["items"]["x-kubernetes-preserve-unknown-fields"], True)

    def test_spec_fields_and_types(self):
        for kind, fields in SPEC_FIELDS.items():
            props = self.spec_schema(kind)["properties"]
            want = dict(COMMON_FIELDS, **fields)
            with self.subTest(kind=kind):
                self.assertEqual(sorted(props), sorted(list(want) + ["generated", "seal"]))
            for f, t in want.items():
                with self.subTest(kind=kind, field=f):
                    self.assertEqual(props[f]["type"], t)
                    if t == "integer":
                        self.assertEqual(props[f].get("format"), "int32")
            with self.subTest(kind=kind, field="required"):
                self.assertEqual(sorted(self.spec_schema(kind).get("required", [])), REQUIRED[kind])

    def test_defaults(self):
        for kind in KINDS:
            props = self.spec_schema(kind)["properties"]
            got = {f: s["default"] for f, s in props.items() if "default" in s}
            with self.subTest(kind=kind):
                self.assertEqual(got, DEFAULTS[kind])
                for f in NO_SCHEMA_DEFAULT:
                    self.assertNotIn("default", props.get(f, {}), f)
            for f, v in got.items():
                with self.subTest(kind=kind, field=f):
                    # The apiserver refuses a CRD whose default fails its own schema.
                    self.assertEqual(schema_errors(props[f], v), [])
            for f, v in WEBHOOK_ONLY_DEFAULTS.get(kind, {}).items():
                with self.subTest(kind=kind, field=f, documented=v):
                    self.assertIn(str(v), props[f].get("description", ""))

    def test_enums_and_bounds(self):
        for kind in KINDS:
            props = self.spec_schema(kind)["properties"]
            with self.subTest(kind=kind):
                self.assertEqual(props["action"]["enum"], ["apply", "create", "patch", "delete"])
        t = self.spec_schema("Training")["properties"]
        for f in ("workerReplicas", "psReplicas", "gpuPerNode"):
            with self.subTest(field=f):
                self.assertEqual(t[f]["minimum"], 0)
                self.assertNotIn("maximum", t[f])  # caps are policy
        d = self.spec_schema("Dataset")["properties"]
        self.assertEqual(d["partitions"]["minimum"], 1)
        self.assertNotIn("maximum", d["partitions"])
        self.assertEqual((d["sourceUri"]["minLength"], d["sourceUri"]["maxLength"]), (10, 2048))
        port = self.spec_schema("Serving")["properties"]["port"]
        self.assertEqual((port["minimum"], port["maximum"]), (1, 65535))
        for kind in ("ModelHub", "Serving"):
            props = self.spec_schema(kind)["properties"]
            self.assertEqual(props["modelName"]["maxLength"], 63)
            self.assertEqual(props["modelVersion"]["maxLength"], 63)

    def test_short_names_collide_with_nothing(self):
        names = [n for crd in self.crds.values() for n in crd["spec"]["names"].get("shortNames", [])]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(set(names) & TAKEN_SHORT_NAMES, set())
        plurals = {p for p, _ in KINDS.values()} | {s for _, s in KINDS.values()}
        self.assertEqual(set(names) & plurals, set())

    def test_patterns(self):
        for kind in KINDS:
            for path, node in walk_schema(schema_of(self.crds[kind])):
                if "pattern" not in node:
                    continue
                with self.subTest(kind=kind, path=path):
                    p = node["pattern"]
                    re.compile(p)
                    # Kubernetes compiles patterns with Go's RE2.
                    for construct in ("(?=", "(?!", "(?<=", "(?<!", "(?P<"):
                        self.assertNotIn(construct, p)
                    self.assertIsNone(re.search(r"\\[1-9]", p), "back-reference")
                    self.assertTrue(p.startswith("^") and p.endswith("$"), "anchored")
        for (kind, field), (good, bad) in PATTERN_CASES.items():
            for k in (KINDS if kind == "*" else [kind]):
                s = self.spec_schema(k)["properties"][field]
                for v in good:
                    with self.subTest(kind=k, field=field, accepts=v):
                        self.assertEqual(schema_errors(s, v), [])
                for v in bad:
                    with self.subTest(kind=k, field=field, refuses=v):
                        self.assertNotEqual(schema_errors(s, v), [])

    def test_minimal_objects_validate(self):
        for kind, (name, spec) in MINIMAL.items():
            obj = apply_schema_defaults(schema_of(self.crds[kind]), cr(kind, name, spec))
            with self.subTest(kind=kind):
                self.assertEqual(schema_errors(schema_of(self.crds[kind]), obj), [])
            with self.subTest(kind=kind, unknown_field=True):
                obj["spec"]["workerReplica"] = 1  # a typo is not preserved
                self.assertIn("pruned: spec.workerReplica", schema_errors(schema_of(self.crds[kind]), obj))

    def test_status(self):
        for kind in KINDS:
            st = schema_of(self.crds[kind])["properties"]["status"]
            p = st["properties"]
            with self.subTest(kind=kind):
                self.assertEqual(p["phase"]["enum"], ["Pending", "Running", "Succeeded", "Failed", "Ready"])
                self.assertEqual((p["observedGeneration"]["type"], p["observedGeneration"].get("format")),
                                 ("integer", "int64"))
                self.assertEqual(p["message"]["type"], "string")
                child = p["children"]["items"]
                self.assertEqual(sorted(child["properties"]), ["kind", "name", "phase", "url"])
                self.assertEqual(sorted(child["required"]), ["kind", "name"])
                sample = {"phase": "Running", "observedGeneration": 3, "message": "",
                          "children": [{"kind": "PaddleJob", "name": "pp-ocr", "phase": "Running"}],
                          "conditions": [CONDITION, dict(CONDITION, type="Failed", status="False",
                                                         reason="NoFailure")]}
                self.assertEqual(schema_errors(st, sample), [])
                # metav1.Condition's schema (apimachinery pkg/apis/meta/v1/types.go)
                conds = p["conditions"]
                self.assertEqual((conds["x-kubernetes-list-type"], conds["x-kubernetes-list-map-keys"]),
                                 ("map", ["type"]))
                item = conds["items"]
                self.assertEqual(sorted(item["properties"]), sorted(CONDITION))
                self.assertEqual(sorted(item["required"]),
                                 ["lastTransitionTime", "message", "reason", "status", "type"])
                self.assertEqual(item["properties"]["status"]["enum"], ["True", "False", "Unknown"])
                self.assertEqual(item["properties"]["lastTransitionTime"]["format"], "date-time")
                for bad in ({"status": "Yes"}, {"reason": ""}, {"reason": "has space"},
                            {"lastTransitionTime": "yesterday"}, {"type": "bad type"}):
                    with self.subTest(bad=bad):
                        self.assertNotEqual(schema_errors(st, {"conditions": [dict(CONDITION, **bad)]}), [])
                dup = {"conditions": [CONDITION, dict(CONDITION)]}
                self.assertNotEqual(schema_errors(st, dup), [])

    def test_printer_columns(self):
        want = {
            "Training": ["Project", "Workers", "GPUs"],
            "Serving": ["URL"],
            "Dataset": ["Source"],
            "ModelHub": ["Version"],
        }
        for kind in KINDS:
            cols = self.crds[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
            names = [c["name"] for c in cols]
            with self.subTest(kind=kind):
                for n in want[kind] + ["Ready", "Phase", "Age"]:
                    self.assertIn(n, names)
                ready = [c for c in cols if c["name"] == "Ready"][0]
                self.assertEqual(ready["jsonPath"], '.status.conditions[?(@.type=="Ready")].status')
                self.assertEqual(len(names), len(set(names)))
            root = schema_of(self.crds[kind])
            for c in cols:
                with self.subTest(kind=kind, column=c["name"]):
                    self.assertIn(c["type"], ("integer", "number", "string", "boolean", "date"))
                    path = re.sub(r"\[\?\(.*?\)\]", "", c["jsonPath"])
                    node = root
                    for part in path.strip(".").split("."):
                        if node.get("type") == "object" and "properties" not in node:
                            break  # metadata: checked by the apiserver itself
                        if node.get("type") == "array":
                            node = node["items"]
                        self.assertIn(part, node.get("properties", {}), c["jsonPath"])
                        node = node["properties"][part]
                    if c["name"] == "Age":
                        self.assertEqual(c["jsonPath"], ".metadata.creationTimestamp")

    def test_examples_validate(self):
        # Any CR the project ships as an example must pass the CRD schema
        # (examples of refused input belong under a folder named "invalid").
        files = sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.y*ml"), recursive=True)
                       + glob.glob(os.path.join(ROOT, "examples", "**", "*.json"), recursive=True))
        files = [f for f in files if "invalid" not in os.path.relpath(f, ROOT).split(os.sep)]
        seen = 0
        for path in files:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            try:
                docs = json.loads(text) if path.endswith(".json") else parse_yaml_stream(text)
            except (ValueError, AssertionError):
                continue  # not a manifest (or deliberately broken input)
            for d in docs if isinstance(docs, list) else [docs]:
                if not isinstance(d, dict) or d.get("apiVersion") != "%s/%s" % (GROUP, VERSION) \
                        or d.get("kind") not in self.crds:
                    continue
                seen += 1
                obj = apply_schema_defaults(schema_of(self.crds[d["kind"]]), copy.deepcopy(d))
                with self.subTest(example=os.path.relpath(path, ROOT), name=d.get("metadata", {}).get("name")):
                    self.assertEqual(schema_errors(schema_of(self.crds[d["kind"]]), obj), [])
        if not seen:
            self.skipTest("no PaddleX custom resources under examples/")


class TestMetacontroller(unittest.TestCase):

    CHILDREN = {
        "trainings": {("batch.paddlepaddle.org/v1", "paddlejobs"), ("kubeflow.org/v1", "paddlejobs"),
                      ("batch/v1", "jobs"), ("apps/v1", "deployments"), ("v1", "services")},
        "servings": {("serving.kserve.io/v1beta1", "inferenceservices")},
        # paddle-operator: a SampleSet; kubeflow: a claim and its sync Job
        "datasets": {("batch.paddlepaddle.org/v1alpha1", "samplesets"), ("v1", "persistentvolumeclaims"),
                     ("batch/v1", "jobs")},
        "modelhubs": {("batch/v1", "jobs")},
    }
    # The chosen update methods (see manifests/metacontroller/compositecontrollers.yaml):
    # what runs to completion is never recreated behind the owner's back
    # (SPEC §9.1), what its controller rolls out is updated in place.
    METHODS = {"paddlejobs": "OnDelete", "jobs": "OnDelete", "deployments": "InPlace", "services": "InPlace",
               "inferenceservices": "InPlace", "samplesets": "InPlace", "persistentvolumeclaims": "OnDelete"}
    METACONTROLLER = ("metacontroller", "metacontroller")

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.objs = build("metacontroller")
        cls.ccs = {c["spec"]["parentResource"]["resource"]: c for c in find(cls.objs, "CompositeController")}

    def test_one_controller_per_kind(self):
        self.assertEqual(sorted(self.ccs), RESOURCES)
        self.assertEqual(len(find(self.objs, "CompositeController")), 4)
        for res, cc in self.ccs.items():
            with self.subTest(parent=res):
                self.assertEqual(cc["apiVersion"], "metacontroller.k8s.io/v1alpha1")
                self.assertEqual(cc["spec"]["parentResource"]["apiVersion"], "%s/%s" % (GROUP, VERSION))
                self.assertIs(cc["spec"]["generateSelector"], True)
                self.assertGreater(cc["spec"]["resyncPeriodSeconds"], 0)

    def test_children_and_update_strategies(self):
        for res, cc in self.ccs.items():
            got = {(c["apiVersion"], c["resource"]) for c in cc["spec"]["childResources"]}
            with self.subTest(parent=res):
                self.assertEqual(got, self.CHILDREN[res])
            for c in cc["spec"]["childResources"]:
                with self.subTest(parent=res, child=c["resource"]):
                    method = c["updateStrategy"]["method"]
                    self.assertIn(method, ("OnDelete", "Recreate", "InPlace", "RollingRecreate", "RollingInPlace"))
                    if c["resource"] in ("jobs", "paddlejobs"):
                        # A run to completion: Recreate would repeat a finished one.
                        self.assertEqual(method, "OnDelete")
                    self.assertEqual(method, self.METHODS[c["resource"]])

    def test_sync_hook(self):
        for res, cc in self.ccs.items():
            hooks = cc["spec"]["hooks"]
            # a Dataset waits for nothing: no customize hook (webhook/related.h)
            self.assertEqual(sorted(hooks), ["sync"] if res == "datasets" else ["customize", "sync"])
            for hook in hooks:
                with self.subTest(parent=res, hook=hook):
                    w = hooks[hook]["webhook"]
                    self.assertNotIn("url", w)  # url would override service + path
                    self.assertEqual(w["path"], "/" + hook)
                    self.assertEqual(w["service"], {"name": NAME, "namespace": NS, "port": 443, "protocol": "https"})
                    ca = w["caBundle"]["secretRef"]
                    self.assertEqual((ca["name"], ca["namespace"], ca.get("key", "ca.crt")),
                                     (TLS_SECRET, NS, "ca.crt"))

    def test_valid_for_current_metacontroller(self):
        # The caBundle needs v4.16 or later: valid against v4.17.2, and
        # pruned (kubectl apply refuses it) by v4.11.22, which the kubeflow
        # overlay is for.
        for version, want in (("v4.17.2", []), ("v4.11.22", ["caBundle"])):
            schema = metacontroller_schema(version)
            for res, cc in self.ccs.items():
                with self.subTest(version=version, parent=res):
                    errs = crdschema.validate(schema, cc)
                    self.assertEqual(sorted({e.rsplit(".", 1)[-1] for e in errs}), want, errs)

    def test_rbac_covers_the_children_and_status(self):
        rbac = Rbac(self.objs)
        mc = self.METACONTROLLER
        for res, children in self.CHILDREN.items():
            for api, child in children:
                group = api.split("/")[0] if "/" in api else ""
                for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
                    with self.subTest(child=child, verb=verb):
                        self.assertTrue(rbac.allowed(mc, verb, group, child, "kubeflow"))
            for verb in ("get", "list", "watch"):
                self.assertTrue(rbac.allowed(mc, verb, GROUP, res, "kubeflow"))
            for verb in ("update", "patch"):
                self.assertTrue(rbac.allowed(mc, verb, GROUP, res + "/status", "kubeflow"))
                # The spec belongs to the user and the webhook.
                self.assertFalse(rbac.allowed(mc, verb, GROUP, res, "kubeflow"))
            self.assertTrue(rbac.allowed(mc, "update", GROUP, res + "/finalizers", "kubeflow"))
        # caBundle.secretRef: that one Secret, nothing else.
        self.assertTrue(rbac.allowed(mc, "get", "", "secrets", NS, TLS_SECRET))
        self.assertFalse(rbac.allowed(mc, "get", "", "secrets", NS, "other"))
        self.assertFalse(rbac.allowed(mc, "list", "", "secrets", NS))
        self.assertFalse(rbac.allowed(mc, "get", "", "secrets", "kubeflow", TLS_SECRET))

    def test_children_match_reference_crds(self):
        if not os.path.isdir(REFERENCE_CRDS):
            self.fail("no reference CRDs at %s: ../shared is part of the checkout's surroundings" % REFERENCE_CRDS)
        ref = set()
        for path in glob.glob(os.path.join(REFERENCE_CRDS, "*.json")):
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            ref.add(("%s/%s" % (d["group"], d["version"]), d["plural"]))
        for res, cc in self.ccs.items():
            for c in cc["spec"]["childResources"]:
                api = c["apiVersion"]
                if "." not in api.split("/")[0]:
                    continue  # built-in API
                with self.subTest(parent=res, child=c["resource"]):
                    self.assertIn((api, c["resource"]), ref)


class TestKubeflowOverlay(unittest.TestCase):
    """manifests/overlays/kubeflow: for Kubeflow Pipelines' Metacontroller
    v4.11.22 (StatefulSet kubeflow/metacontroller, pods labelled
    app: metacontroller, ServiceAccount kubeflow/meta-controller-service:
    kubeflow/pipelines manifests/kustomize/third-party/metacontroller/base)."""

    SA = ("kubeflow", "meta-controller-service")
    HOOK_PORT = 8080

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.objs = build("kubeflow")
        cls.ccs = {c["spec"]["parentResource"]["resource"]: c for c in find(cls.objs, "CompositeController")}
        cls.dep = one(cls.objs, "Deployment", NAME)
        (cls.ctr,) = cls.dep["spec"]["template"]["spec"]["containers"]
        cls.svc = one(cls.objs, "Service", NAME)

    def test_compositecontrollers_valid_for_both_metacontroller_versions(self):
        self.assertEqual(sorted(self.ccs), RESOURCES)
        for version in METACONTROLLER_VERSIONS:
            schema = metacontroller_schema(version)
            for res, cc in self.ccs.items():
                with self.subTest(version=version, parent=res):
                    # pruned fields count as errors: kubectl apply's strict
                    # field validation refuses them
                    self.assertEqual(crdschema.validate(schema, cc), [])
        self.assertNotIn("caBundle", json.dumps(self.ccs))

    def test_children_as_the_other_installs(self):
        base = {c["spec"]["parentResource"]["resource"]: c for c in find(build("metacontroller"), "CompositeController")}
        for res, cc in self.ccs.items():
            with self.subTest(parent=res):
                self.assertEqual(cc["spec"]["childResources"], base[res]["spec"]["childResources"])
                self.assertEqual(sorted(cc["spec"]["hooks"]), sorted(base[res]["spec"]["hooks"]))

    def hook_url(self, webhook):
        """The URL Metacontroller v4.11.22 calls (pkg/hooks/webhook.go,
        webhookURL: url, else <protocol>://<name>.<namespace>:<port><path>,
        protocol http and port 80 by default)."""
        if "url" in webhook:
            return webhook["url"]
        svc = webhook["service"]
        return "%s://%s.%s:%s%s" % (svc.get("protocol", "http"), svc["name"], svc["namespace"],
                                    svc.get("port", 80), webhook["path"])

    def test_hooks_reach_the_plain_port(self):
        for res, cc in self.ccs.items():
            for hook, spec in cc["spec"]["hooks"].items():
                with self.subTest(parent=res, hook=hook):
                    self.assertEqual(self.hook_url(spec["webhook"]),
                                     "http://%s.%s:%d/%s" % (NAME, NS, self.HOOK_PORT, hook))
        # the Service's port 8080 leads to the container port the server
        # listens on with --sync-listen
        (port,) = [p for p in self.svc["spec"]["ports"] if p["port"] == self.HOOK_PORT]
        ports = {p["name"]: p["containerPort"] for p in self.ctr["ports"]}
        target = ports.get(port["targetPort"], port["targetPort"])
        args = self.ctr["args"]
        self.assertEqual(args[args.index("--sync-listen") + 1], "0.0.0.0:%d" % target)
        self.assertTrue(port["name"].startswith("http"))  # Istio's protocol selection by name
        # admission stays on TLS
        self.assertEqual(args[args.index("--listen") + 1], "0.0.0.0:8443")
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            self.assertEqual(one(self.objs, kind, NAME)["webhooks"][0]["clientConfig"]["service"]["port"], 443)

    def test_admission_tls_from_cert_manager(self):
        serving = [c for c in find(self.objs, "Certificate") if c["spec"]["secretName"] == TLS_SECRET]
        self.assertEqual(len(serving), 1)
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            ann = one(self.objs, kind, NAME)["metadata"].get("annotations", {})
            self.assertEqual(ann.get("cert-manager.io/inject-ca-from"), "%s/%s" % (NS, NAME))

    def test_rbac_for_kubeflow_metacontroller(self):
        rbac = Rbac(self.objs)
        children = [("batch.paddlepaddle.org", "paddlejobs"), ("kubeflow.org", "paddlejobs"),
                    ("batch.paddlepaddle.org", "samplesets"), ("batch", "jobs"), ("apps", "deployments"),
                    ("", "services"), ("serving.kserve.io", "inferenceservices")]
        for group, child in children:
            for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
                with self.subTest(child=(group, child), verb=verb):
                    self.assertTrue(rbac.allowed(self.SA, verb, group, child, "team-a"))
        for res in RESOURCES:
            for verb in ("get", "list", "watch"):   # parents, and related objects (customize)
                self.assertTrue(rbac.allowed(self.SA, verb, GROUP, res, "team-a"))
            for verb in ("update", "patch"):
                self.assertTrue(rbac.allowed(self.SA, verb, GROUP, res + "/status", "team-a"))
                self.assertFalse(rbac.allowed(self.SA, verb, GROUP, res, "team-a"))
            self.assertTrue(rbac.allowed(self.SA, "update", GROUP, res + "/finalizers", "team-a"))
        # upstream Metacontroller's identity gets nothing; no CA Secret to read
        self.assertFalse(rbac.allowed(("metacontroller", "metacontroller"), "get", GROUP, "trainings", "team-a"))
        self.assertFalse(rbac.allowed(self.SA, "get", "", "secrets", NS, TLS_SECRET))
        self.assertEqual(find(self.objs, "Role"), [])

    def test_network_policy(self):
        (np,) = find(self.objs, "NetworkPolicy")
        self.assertEqual(np["metadata"]["namespace"], NS)
        self.assertTrue(selector_matches(np["spec"]["podSelector"], self.dep["spec"]["template"]["metadata"]["labels"]))
        self.assertIn("Ingress", np["spec"]["policyTypes"])
        ports = {p["name"]: p["containerPort"] for p in self.ctr["ports"]}

        def admitted(ns_labels, pod_labels, port):
            """NetworkPolicy semantics: some rule lists the port (or none)
            and some peer of it matches (or it has none)."""
            for rule in np["spec"].get("ingress") or []:
                rports = [ports.get(p["port"], p["port"]) for p in rule.get("ports") or []]
                if rports and port not in rports:
                    continue
                peers = rule.get("from")
                if not peers:
                    return True
                for peer in peers:
                    if "ipBlock" in peer:
                        continue
                    if selector_matches(peer.get("namespaceSelector", {}), ns_labels) and \
                            selector_matches(peer.get("podSelector", {}), pod_labels) and \
                            ("namespaceSelector" in peer or ns_labels.get("kubernetes.io/metadata.name") == NS):
                        return True
            return False

        kubeflow = {"kubernetes.io/metadata.name": "kubeflow"}
        mc = {"app": "metacontroller", "kustomize.component": "metacontroller"}
        self.assertTrue(admitted(kubeflow, mc, self.HOOK_PORT))
        for ns, pod in ((kubeflow, {"app": "ml-pipeline"}), ({"kubernetes.io/metadata.name": "team-a"}, mc),
                        ({"kubernetes.io/metadata.name": NS}, {"app": "x"}), ({}, {})):
            with self.subTest(namespace=ns, pod=pod):
                self.assertFalse(admitted(ns, pod, self.HOOK_PORT))
        # the TLS port: the apiserver is no pod, so open to every source
        self.assertTrue(admitted({}, {}, 8443))
        self.assertTrue(admitted({"kubernetes.io/metadata.name": "team-a"}, {"app": "x"}, 8443))
        self.assertFalse(admitted({}, {}, 9999))
        for rule in np["spec"]["ingress"]:
            self.assertNotIn("ipBlock", json.dumps(rule))

    def test_policy_is_kubeflows(self):
        cm = one(self.objs, "ConfigMap", "paddlex-webhook-policy")
        self.assertRegex(cm["data"]["policy.yaml"], r"(?m)^  endpoint: http://minio-service\.kubeflow:9000$")
        # SPEC §9.2: the Training Operator Kubeflow ships, Pipelines' MinIO Secret
        self.assertRegex(cm["data"]["policy.yaml"], r"(?m)^  trainingOperator: kubeflow$")
        self.assertRegex(cm["data"]["policy.yaml"], r"(?m)^  credentialsSecret: mlpipeline-minio-artifact$")


class TestAggregatedRoles(unittest.TestCase):
    """crds/roles.yaml: in every install, aggregated into Kubernetes' and
    Kubeflow's admin/edit/view (kubeflow/manifests kubeflow-roles select
    rbac.authorization.kubeflow.org/aggregate-to-kubeflow-{admin,edit,view})."""

    K8S = "rbac.authorization.k8s.io/aggregate-to-"
    KF = "rbac.authorization.kubeflow.org/aggregate-to-kubeflow-"
    ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    @classmethod
    def setUpClass(cls):
        require_kubectl()

    def grants(self, role):
        """{(resource, verb)} of the role, for our group only."""
        out = set()
        for r in role["rules"]:
            self.assertEqual(r["apiGroups"], [GROUP])
            self.assertNotIn("resourceNames", r)
            out |= {(res, v) for res in r["resources"] for v in r["verbs"]}
        return out

    def test_roles_in_every_install(self):
        status = [r + "/status" for r in RESOURCES]
        for b in INSTALLS + ("crds",):
            objs = build(b)
            edit, view = one(objs, "ClusterRole", "paddlex-edit"), one(objs, "ClusterRole", "paddlex-view")
            with self.subTest(build=b, role="edit"):
                labels = edit["metadata"]["labels"]
                for key in (self.K8S + "admin", self.K8S + "edit", self.KF + "admin", self.KF + "edit"):
                    self.assertEqual(labels.get(key), "true", key)
                for key in (self.K8S + "view", self.KF + "view"):
                    self.assertNotIn(key, labels)   # view must not grant writes
                got = self.grants(edit)
                for res in RESOURCES:
                    self.assertEqual(sorted(v for r, v in got if r == res), self.ALL, res)
                # status belongs to the sync hook: read only
                self.assertEqual({v for r, v in got if r in status}, {"get", "list", "watch"})
            with self.subTest(build=b, role="view"):
                labels = view["metadata"]["labels"]
                self.assertEqual(labels.get(self.K8S + "view"), "true")
                self.assertEqual(labels.get(self.KF + "view"), "true")
                for key in (self.K8S + "edit", self.K8S + "admin", self.KF + "edit", self.KF + "admin"):
                    self.assertNotIn(key, labels)
                self.assertEqual(self.grants(view),
                                 {(r, v) for r in RESOURCES + status for v in ("get", "list", "watch")})
            with self.subTest(build=b, bindings=True):
                for kind in ("RoleBinding", "ClusterRoleBinding"):
                    for o in find(objs, kind):
                        self.assertNotIn(o["roleRef"]["name"], ("paddlex-edit", "paddlex-view"))


class TestAgainstBinary(unittest.TestCase):
    """The CRD defaults are the webhook's own; the shipped policy loads."""

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        if not have_binary():
            raise AssertionError("PADDLEX_BIN is not built: no comparison of CRD and webhook defaults")
        cls.crds = crds()

    def test_webhook_fills_the_crd_defaults(self):
        for kind, (name, spec) in MINIMAL.items():
            out = mutated(cr(kind, name, spec))["spec"]
            for f, v in DEFAULTS[kind].items():
                with self.subTest(kind=kind, field=f):
                    self.assertIn(f, out, "the webhook does not fill spec.%s" % f)
                    self.assertEqual(out[f], v)
                    self.assertIs(type(out[f]), type(v))
            for f, v in WEBHOOK_ONLY_DEFAULTS.get(kind, {}).items():
                with self.subTest(kind=kind, field=f, webhook_only=True):
                    self.assertEqual(out.get(f), v)

    def test_crd_defaulting_changes_nothing(self):
        # In a cluster the apiserver applies the CRD defaults before the
        # mutating webhook runs: the result must be the same as offline.
        for kind, (name, spec) in MINIMAL.items():
            plain = mutated(cr(kind, name, spec))
            pre = apply_schema_defaults(schema_of(self.crds[kind]), cr(kind, name, spec))
            defaulted = mutated(pre)
            with self.subTest(kind=kind):
                self.assertEqual(defaulted["spec"], plain["spec"])

    def test_mutated_objects_pass_the_crd_schema(self):
        for kind, (name, spec) in MINIMAL.items():
            out = mutated(cr(kind, name, spec))
            with self.subTest(kind=kind):
                self.assertEqual(schema_errors(schema_of(self.crds[kind]), out), [])

    def test_patterns_agree_with_the_webhook(self):
        # A value one accepts and the other refuses would give users an error
        # from the apiserver that the webhook (and `render`) never reports,
        # or the reverse.
        for (kind, field), (good, bad) in PATTERN_CASES.items():
            for k in (KINDS if kind == "*" else [kind]):
                field_schema = schema_of(self.crds[k])["properties"]["spec"]["properties"][field]
                name, spec = MINIMAL[k]
                for v in good + bad:
                    crd_ok = not schema_errors(field_schema, v)
                    obj = cr(k, name, dict(spec, **{field: v}),
                             namespace=v if field == "namespace" and crd_ok else "kubeflow")
                    _, out = mutate_and_apply(cli("mutate"), obj)
                    resp = send_review(cli("validate"), "/validate", review(out))["response"]
                    causes = ((resp.get("status") or {}).get("details") or {}).get("causes") or []
                    webhook_ok = resp["allowed"] or all(c.get("field") != "spec." + field for c in causes)
                    with self.subTest(kind=k, field=field, value=v):
                        self.assertEqual(webhook_ok, crd_ok, (resp.get("status") or {}).get("message"))

    def test_shipped_policy_loads(self):
        for b in INSTALLS:
            with self.subTest(build=b):
                self.policy_loads(b)

    def policy_loads(self, b):
        cm = one(build(b), "ConfigMap", "paddlex-webhook-policy")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "policy.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(cm["data"]["policy.yaml"])
            name, spec = MINIMAL["Training"]
            obj = mutated(cr("Training", name, spec), path)
            resp = send_review(cli("validate", ["--policy", path]), "/validate", review(obj))["response"]
            self.assertTrue(resp["allowed"], json.dumps(resp.get("status")))


if __name__ == "__main__":
    unittest.main()
