"""End-to-end tests of SPEC §9.1: running work is never disturbed.

Objects are admitted by one server under one policy, then validated and
synced by servers that run a changed policy (new defaults, tighter limits),
as happens after a policy edit, a webhook upgrade, or between two replicas
that read the policy ConfigMap at different moments. The servers share the
serving key pair, so the admission seal verifies on each (the seal key is
derived from --tls-key unless --seal-key is given).

What the tests rely on, upstream:
- kube-apiserver ratchets unchanged values on UPDATE
  (apiextensions-apiserver pkg/apiserver/validation/ratcheting.go), and
  sends the garbage collector's finalizer removal as an UPDATE of an object
  whose metadata.deletionTimestamp is set;
- Metacontroller (pkg/controller/common/manage_children.go) recreates or
  updates a child whose desired form changed, and deletes every owned child
  the sync answer leaves out; ``Metacontroller`` in test_sync.py plays it.
"""
import copy
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import unittest

import jsonpatch
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from common import Server, client, default_certs, mutate_and_apply, needs_binary, review, send_review
from test_sync import COMPLETE, Metacontroller, cr

REGISTRY = "registry.baidubce.com/"

#: the policy objects are admitted under
BEFORE = {"apiVersion": "paddlex.paddlepaddle.org/v1alpha1", "kind": "WebhookPolicy",
          "defaults": {"downloaderImage": REGISTRY + "tools/curl:8.5.0",
                       "uploaderImage": REGISTRY + "tools/mc:2024",
                       "visualdlImage": REGISTRY + "tools/visualdl:2.5.3",
                       "credentialsSecret": "minio-before"},
          "limits": {"maxGpuPerNode": 8}}

#: the same policy after an edit of its defaults only
NEW_DEFAULTS = copy.deepcopy(BEFORE)
NEW_DEFAULTS["defaults"] = {"downloaderImage": REGISTRY + "tools/curl:9.0.0",
                            "uploaderImage": REGISTRY + "tools/mc:2026",
                            "visualdlImage": REGISTRY + "tools/visualdl:3.0.0",
                            "credentialsSecret": "minio-after"}

#: new defaults and tighter limits
TIGHTER = copy.deepcopy(NEW_DEFAULTS)
TIGHTER["limits"] = {"maxGpuPerNode": 2, "maxTotalGpus": 2, "maxWorkerReplicas": 2}


def training(**spec):
    """The PP-OCR Training with 4 GPUs per worker, as a user writes it."""
    obj = cr("Training", **dict({"gpuPerNode": 4}, **spec))
    for key in ("uid", "generation", "resourceVersion"):
        del obj["metadata"][key]
    return obj


def seal(obj, key_file, version=2):
    """spec.seal as certs/seal.h defines it, written again here: the key is
    SHA-256 of a label and the key file; the text the canonical JSON of
    kind, name and spec without its seal (sorted keys, no white space; the
    test data is ASCII, where Python's escaping and the server's agree).
    v1 (releases before): HMAC-SHA256 over the text. v2: HMAC-SHA256 over
    "v2:" and the AES-256-GMAC of the text, IV all zero, under SHA-256 of
    another label and the key."""
    with open(key_file, "rb") as f:
        key = hashlib.sha256(b"paddlex-webhook admission seal v1\n" + f.read()).digest()
    spec = {k: v for k, v in obj["spec"].items() if k != "seal"}
    text = json.dumps({"kind": obj["kind"], "name": obj["metadata"]["name"], "spec": spec},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if version == 2:
        gmac_key = hashlib.sha256(b"paddlex-webhook admission seal v2 gmac\n" + key).digest()
        text = b"v2:" + AESGCM(gmac_key).encrypt(bytes(12), b"", text)
    mac = hmac.new(key, text, hashlib.sha256).hexdigest()
    return "v%d:%s:%s" % (version, hashlib.sha256(key).hexdigest()[:8], mac)


def stored(obj):
    """obj as the apiserver stores it after admission."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update({"uid": "8c0f8b0e-4f7e-4a55-9c1e-5b1f0e2a0001", "generation": 1,
                            "resourceVersion": "100"})
    return obj


@needs_binary
class LifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="paddlex-lifecycle-")
        cls.servers = {}
        for name, policy in (("before", BEFORE), ("defaults", NEW_DEFAULTS), ("tighter", TIGHTER)):
            path = os.path.join(cls.dir, name + ".json")
            with open(path, "w") as f:
                json.dump(policy, f)
            cls.servers[name] = Server(["--policy", path])
            cls.servers[name].start()
        key = os.path.join(cls.dir, "other-seal.key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        cls.servers["other-key"] = Server(["--policy", os.path.join(cls.dir, "before.json"), "--seal-key", key])
        cls.servers["other-key"].start()

    @classmethod
    def tearDownClass(cls):
        for srv in cls.servers.values():
            srv.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.conns = {name: client(srv) for name, srv in self.servers.items()}

    def tearDown(self):
        for conn in self.conns.values():
            conn.close()

    # ------------------------------------------------------------ helpers

    def admit(self, obj, on="before", **kw):
        """CREATE through /mutate then /validate on one server; the stored object."""
        answer, patched = mutate_and_apply(self.conns[on], obj, **kw)
        self.assertTrue(answer["response"]["allowed"])
        verdict = send_review(self.conns[on], "/validate", review(patched, **kw))
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))
        self.assertIn("seal", patched["spec"])
        return stored(patched)

    def update(self, old, new, on):
        """An UPDATE through /mutate then /validate on server ``on``:
        (mutate answer, patched object, validate answer)."""
        answer, patched = mutate_and_apply(self.conns[on], new, operation="UPDATE", old=old)
        verdict = send_review(self.conns[on], "/validate", review(patched, operation="UPDATE", old=old))
        return answer, patched, verdict

    def denial(self, verdict):
        self.assertFalse(verdict["response"]["allowed"])
        return verdict["response"]["status"]["message"]

    # ------------------------------------------------ children stay as admitted

    def test_policy_edit_changes_no_child(self):
        obj = self.admit(training())
        admitted = obj["spec"]["generated"]
        images = json.dumps(admitted)
        self.assertIn("tools/curl:8.5.0", images)
        self.assertIn("tools/visualdl:2.5.3", images)
        # Metacontroller creates the children through the first server ...
        mc = Metacontroller(self, self.conns["before"], obj)
        first = mc.sync()
        key = lambda c: (c["kind"], c["metadata"]["name"])  # noqa: E731
        created = {key(c): c for c in first["children"]}
        # ... then, after the edit, syncs through the others, in every phase
        for on in ("defaults", "tighter"):
            with self.subTest(server=on):
                mc.conn = self.conns[on]
                for status in ({"phase": "Running"}, {"phase": "Completed"}):
                    mc.set_status("PaddleJob", "ppocr-det", status)
                    answer = mc.sync()
                    self.assertEqual(mc.updated, [])
                    self.assertEqual(mc.deleted, [])
                    for child in answer["children"]:
                        want = created.get(key(child)) or next(c for c in admitted if key(c) == key(child))
                        self.assertEqual(child, want, key(child))
                    self.assertNotIn("invalid", answer["status"].get("message", ""))
                mc.set_status("Job", "ppocr-det-export", COMPLETE)
                answer = mc.sync()
                self.assertEqual(mc.updated, [])
                self.assertTrue(mc.exists("Job", "ppocr-det-convert"))
                for child in answer["children"]:
                    want = next(c for c in admitted if key(c) == key(child))
                    self.assertEqual(json.dumps(child, sort_keys=True), json.dumps(want, sort_keys=True))
        self.assertNotIn("curl:9.0.0", json.dumps(mc.children))

    def test_binary_change_changes_no_child(self):
        """Children sealed by an older binary, which rendered them otherwise,
        are materialised as they were, and still pass /validate."""
        obj = self.admit(training())
        key = default_certs().key
        self.assertEqual(seal(obj, key), obj["spec"]["seal"], "the canonical form drifted")
        old = copy.deepcopy(obj)
        paddlejob = old["spec"]["generated"][0]
        paddlejob["metadata"].setdefault("annotations", {})["rendered-by"] = "paddlex-webhook 0.0.9"
        paddlejob["spec"]["worker"]["template"]["spec"]["containers"][0]["args"].append("Global.old=1")
        # releases before wrote v1 seals; they hold as v2 ones do
        for version in (1, 2):
            old["spec"]["seal"] = seal(old, key, version)
            for on in ("defaults", "tighter"):
                with self.subTest(server=on, seal=version):
                    mc = Metacontroller(self, self.conns[on], copy.deepcopy(old))
                    answer = mc.sync()
                    self.assertEqual(answer["children"][0], paddlejob)
            verdict = send_review(self.conns["defaults"], "/validate", review(old))
            self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))
        # and without its seal, the same text is tampering
        del old["spec"]["seal"]
        self.assertIn("spec.generated: Forbidden",
                      self.denial(send_review(self.conns["defaults"], "/validate", review(old))))

    def test_other_key_judges_afresh(self):
        """A seal made under another key proves nothing: the object is judged
        under the rules and policy in force (here: admitted anyway)."""
        obj = self.admit(training(gpuPerNode=1))
        mc = Metacontroller(self, self.conns["other-key"], obj)
        mc.sync()
        self.assertEqual(mc.deleted, [])
        self.assertTrue(mc.exists("PaddleJob", "ppocr-det"))

    # --------------------------------------------------------- replica skew

    def test_no_denial_from_skew(self):
        """/mutate on a replica with the old policy, /validate on one with
        the new defaults: the sealed children are accepted."""
        answer, patched = mutate_and_apply(self.conns["before"], training())
        verdict = send_review(self.conns["defaults"], "/validate", review(patched))
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))
        # a later mutating webhook that adds metadata changes nothing
        patched["metadata"].setdefault("labels", {})["sidecar.istio.io/inject"] = "false"
        patched["metadata"].setdefault("annotations", {})["team"] = "ocr"
        verdict = send_review(self.conns["defaults"], "/validate", review(patched))
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))

    def test_hand_edited_generated_is_refused(self):
        answer, patched = mutate_and_apply(self.conns["before"], training())
        patched["spec"]["generated"][0]["spec"]["worker"]["replicas"] = 64
        for on in ("before", "defaults"):
            with self.subTest(server=on):
                message = self.denial(send_review(self.conns[on], "/validate", review(patched)))
                self.assertIn("spec.generated: Forbidden", message)

    # ------------------------------------------------------------ ratcheting

    def test_metadata_only_update_needs_no_patch(self):
        old = self.admit(training())
        new = copy.deepcopy(old)
        new["metadata"]["labels"] = {"owner": "ocr-team"}
        new["metadata"]["finalizers"] = ["example.com/keep"]
        answer, patched, verdict = self.update(old, new, on="tighter")
        self.assertNotIn("patch", answer["response"])
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))

    def test_finalizer_removal_of_a_deleted_object(self):
        """kubectl delete --cascade=foreground, then the garbage collector
        removes its finalizer: never refused, even when the object broke a
        limit that tightened since."""
        old = self.admit(training())
        old["metadata"]["deletionTimestamp"] = "2026-12-04T10:00:00Z"
        old["metadata"]["finalizers"] = ["foregroundDeletion"]
        new = copy.deepcopy(old)
        new["metadata"]["finalizers"] = []
        answer, patched, verdict = self.update(old, new, on="tighter")
        self.assertNotIn("patch", answer["response"])
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))
        # even a spec change of an object being deleted
        new["spec"]["gpuPerNode"] = 16
        answer, patched, verdict = self.update(old, new, on="tighter")
        self.assertNotIn("patch", answer["response"])
        self.assertTrue(verdict["response"]["allowed"])

    def test_delete_is_never_denied(self):
        old = self.admit(training())
        old["spec"]["generated"][0]["spec"]["worker"]["replicas"] = 64
        for path in ("/mutate", "/validate"):
            verdict = send_review(self.conns["tighter"], path, review(None, operation="DELETE", old=old))
            self.assertTrue(verdict["response"]["allowed"])
            self.assertNotIn("patch", verdict["response"])

    def test_unchanged_fields_ratchet(self):
        """gpuPerNode 4 was admitted; the limit is now 2 (and 2 in total).
        Changing another field is admitted, and the children are sealed
        again under the policy in force."""
        old = self.admit(training())
        new = copy.deepcopy(old)
        new["spec"]["configChanges"] += ",Global.epoch_num=20".replace("epoch_num", "print_batch_step")
        answer, patched, verdict = self.update(old, new, on="tighter")
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))
        self.assertNotEqual(patched["spec"]["generated"], old["spec"]["generated"])
        self.assertIn("curl:9.0.0", json.dumps(patched["spec"]["generated"]))
        self.assertNotEqual(patched["spec"]["seal"], old["spec"]["seal"])

    def test_worsening_change_is_judged_in_full(self):
        old = self.admit(training())
        for change, field in (({"gpuPerNode": 5}, "spec.gpuPerNode"),
                              ({"workerReplicas": 2}, "spec.gpuPerNode"),
                              ({"workerReplicas": 3, "gpuPerNode": 1}, "spec.workerReplicas")):
            with self.subTest(change=change):
                new = copy.deepcopy(old)
                new["spec"].update(change)
                answer, patched, verdict = self.update(old, new, on="tighter")
                message = self.denial(verdict)
                self.assertIn(field + ": Forbidden", message)
                self.assertEqual(verdict["response"]["status"]["code"], 403)
        # an unchanged invalid value is not failed again, a new one is
        old["spec"]["configPath"] = "../escape.yml"
        new = copy.deepcopy(old)
        new["metadata"]["labels"] = {"a": "b"}
        new["spec"]["testLabel"] = "/abs/path"
        answer, patched, verdict = self.update(old, new, on="before")
        message = self.denial(verdict)
        self.assertIn("spec.testLabel", message)
        self.assertNotIn("spec.configPath", message)

    def test_wrong_shapes_are_never_ratcheted(self):
        """What the expansion builds from is judged on every UPDATE: a value
        of the wrong type, a required field missing, a hard bound (gpuPerNode
        bounds a --gpus list), an unparsable configChanges, even when the old
        object had the same (a ratcheted wrong type once crashed the
        expansion)."""
        old = self.admit(training())
        for field, bad, want in (("configPath", ["a"], "spec.configPath: Invalid value: \"array\""),
                                 ("gpuPerNode", 2000, "spec.gpuPerNode: Invalid value: 2000"),
                                 ("configChanges", "a=1,a=2", "spec.configChanges: Duplicate value"),
                                 ("workerReplicas", None, "spec.workerReplicas: Required value")):
            with self.subTest(field=field):
                was = copy.deepcopy(old)
                if bad is None:
                    del was["spec"][field]
                else:
                    was["spec"][field] = bad
                new = copy.deepcopy(was)
                new["spec"]["psReplicas"] = 1           # another field changes
                answer, patched, verdict = self.update(was, new, on="before")
                self.assertIn(want, self.denial(verdict))

    def test_replace_keeps_the_admitted_children(self):
        """kubectl replace sends the spec without spec.generated and
        spec.seal: under a policy with new defaults the owner's spec is
        unchanged, so the admitted children and their seal stay."""
        old = self.admit(training())
        new = copy.deepcopy(old)
        del new["spec"]["generated"]
        del new["spec"]["seal"]
        answer, patched, verdict = self.update(old, new, on="defaults")
        self.assertTrue(verdict["response"]["allowed"], verdict["response"].get("status"))
        self.assertEqual(patched["spec"], old["spec"])

    # --------------------------------------------------- what was not admitted

    def test_unadmitted_parent_is_judged_afresh(self):
        """A Training made where the webhook does not run (kube-system) has
        no seal: it gets children only as the policy in force allows."""
        obj = cr("Training", workerReplicas=64, gpuPerNode=16)
        obj["metadata"]["namespace"] = "kube-system"
        obj["spec"]["namespace"] = "kube-system"
        mc = Metacontroller(self, self.conns["tighter"], obj)
        answer = mc.sync()
        self.assertEqual(mc.created, [])
        self.assertEqual(answer["children"], [])
        self.assertIn("maxGpuPerNode=2", answer["status"]["message"])
        # a forged seal and spec.generated change nothing
        forged = copy.deepcopy(self.admit(training()))
        forged["metadata"]["namespace"] = forged["spec"]["namespace"] = "kube-system"
        forged["spec"]["workerReplicas"] = 64
        forged["spec"]["generated"][0]["spec"]["worker"]["replicas"] = 64
        mc = Metacontroller(self, self.conns["tighter"], forged)
        answer = mc.sync()
        self.assertEqual(answer["children"], [])

    def test_invalid_parent_keeps_its_children(self):
        obj = self.admit(training())
        mc = Metacontroller(self, self.conns["before"], obj)
        mc.sync()
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Running"})
        # the seal is lost (hand-edited outside admission): judged afresh
        # under the tighter policy, the object is invalid now
        del obj["spec"]["seal"]
        mc.conn = self.conns["tighter"]
        answer = mc.sync()
        self.assertEqual(mc.deleted, [])
        self.assertEqual(mc.updated, [])
        self.assertTrue(mc.exists("PaddleJob", "ppocr-det"))
        self.assertIn("existing children are kept", answer["status"]["message"])
        self.assertIn("spec.gpuPerNode", answer["status"]["message"])
        self.assertEqual(answer["status"]["phase"], "Running")


if __name__ == "__main__":
    unittest.main()
