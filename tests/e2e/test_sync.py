"""End-to-end tests of POST /sync (SPEC §4.6, §4.7): the tests play
Metacontroller over real TLS against the built binary.

``Metacontroller`` below keeps the children a parent owns, as Metacontroller
does: it sends them with each sync, creates what the answer lists and does
not exist, updates what changed (recording the last-applied configuration),
deletes what the answer leaves out, and writes the answer's status into the
parent. The tests play the operators too, by writing each child's status
(paddle-operator, the Job controller, KServe, the SampleSet controller).
"""
import copy
import json
import unittest
import uuid

from common import ServerTestCase, client, needs_binary, post_json, request

try:
    from crdschema import validate_child
except ImportError:  # written by another engineer; checked when present
    validate_child = None

API = "paddlex.paddlepaddle.org/v1alpha1"
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"
AFTER = "paddlex.paddlepaddle.org/after"

#: the child types each CompositeController lists (manifests/metacontroller)
CHILD_TYPES = {
    "Training": ["PaddleJob.batch.paddlepaddle.org/v1", "Job.batch/v1", "Deployment.apps/v1", "Service.v1"],
    "Serving": ["InferenceService.serving.kserve.io/v1beta1"],
    "Dataset": ["SampleSet.batch.paddlepaddle.org/v1alpha1"],
    "ModelHub": ["Job.batch/v1"],
}

#: the PP-OCR pipeline of examples/pp-ocr.yaml
SPECS = {
    "Training": {
        "project": "PaddleOCR",
        "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
        "configPath": "configs/det/ch_ppocr_v2.0/ch_det_mv3_db_v2.0.yml",
        "dataset": "icdar2015",
        "pvcName": "ppocr-detection-pvc",
        "workerReplicas": 1,
        "gpuPerNode": 1,
        "useVisualDL": True,
        "configChanges": "Global.epoch_num=10,Global.log_smooth_window=2,Global.save_epoch_step=5",
        "pretrainModel": "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/"
                         "MobileNetV3_large_x0_5_pretrained.pdparams",
        "trainLabel": "train_icdar2015_label.txt",
        "testLabel": "test_icdar2015_label.txt",
    },
    "Dataset": {"partitions": 1, "sourceUri": "bos://paddleflow-public.hkg.bcebos.com/icdar2015/",
                "sourceSecret": "data-source"},
    "ModelHub": {"modelName": "ppocr-det", "modelVersion": "latest", "pvcName": "ppocr-detection-pvc"},
    "Serving": {"image": "registry.baidubce.com/paddleflow-public/serving:v0.6.2", "modelName": "ppocr-det",
                "modelVersion": "latest", "port": 9292},
}

NAMES = {"Training": "ppocr-det", "Dataset": "icdar2015", "ModelHub": "ppocr-det", "Serving": "ppocr-det"}

COMPLETE = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}
FAILED = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}], "failed": 1}


def cr(kind, **spec):
    """A parent as the apiserver stores it after admission."""
    s = copy.deepcopy(SPECS[kind])
    s.update(spec)
    return {"apiVersion": API, "kind": kind,
            "metadata": {"name": NAMES[kind], "namespace": "kubeflow", "uid": str(uuid.uuid4()),
                         "generation": 1, "resourceVersion": "100"},
            "spec": s}


def group_of(obj):
    return "%s.%s" % (obj["kind"], obj["apiVersion"])


class Metacontroller:
    """Plays Metacontroller for one parent over one HTTPS connection."""

    def __init__(self, test, conn, parent):
        self.test = test
        self.conn = conn
        self.parent = parent
        self.children = {t: {} for t in CHILD_TYPES[parent["kind"]]}
        self.created, self.updated, self.deleted = [], [], []
        self.version = 1000

    def edit(self, **spec):
        """The user edits the parent's spec: a new generation."""
        self.parent["spec"].update(spec)
        self.parent["metadata"]["generation"] += 1

    def set_status(self, kind, name, status):
        """The child's operator writes its status."""
        for objs in self.children.values():
            if name in objs and objs[name]["kind"] == kind:
                objs[name]["status"] = status
                return
        raise AssertionError("%s/%s does not exist" % (kind, name))

    def exists(self, kind, name):
        return any(name in objs and objs[name]["kind"] == kind for objs in self.children.values())

    def names(self):
        return sorted("%s/%s" % (o["kind"], n) for objs in self.children.values() for n, o in objs.items())

    def sync(self, finalizing=False):
        """One sync: POST, check, then act on the answer as Metacontroller."""
        body = {"controller": {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController",
                               "metadata": {"name": "paddlex-%ss" % self.parent["kind"].lower()}},
                "parent": self.parent, "children": self.children, "related": {}, "finalizing": finalizing}
        status, headers, answer = post_json(self.conn, "/sync", body)
        self.test.assertEqual(status, 200, answer)
        self.test.assertEqual(headers.get("Content-Type"), "application/json")
        self.test.assertIsInstance(answer.get("status"), dict)
        self.test.assertIsInstance(answer.get("children"), list)
        self.test.assertEqual(answer["status"].get("observedGeneration"), self.parent["metadata"]["generation"])
        for child in answer["children"]:
            self.check_child(child)
        self.created, self.updated, self.deleted = [], [], []
        self.apply(answer["children"])
        self.parent["status"] = answer["status"]
        return answer

    def check_child(self, child):
        md = child.get("metadata", {})
        where = "%s/%s" % (child.get("kind"), md.get("name"))
        self.test.assertIn(group_of(child), self.children, "%s: not a child type of the controller" % where)
        self.test.assertEqual(md.get("namespace"), self.parent["metadata"]["namespace"], where)
        self.test.assertNotIn("ownerReferences", md, "%s: Metacontroller adds them" % where)
        self.test.assertNotIn("status", child, where)
        if validate_child is not None:
            self.test.assertEqual(validate_child(child), [], where)

    def apply(self, desired):
        keyed = {(group_of(c), c["metadata"]["name"]): c for c in desired}
        self.test.assertEqual(len(keyed), len(desired), "a child is listed twice")
        for group, objs in self.children.items():
            for name in list(objs):
                if (group, name) not in keyed:
                    del objs[name]
                    self.deleted.append("%s/%s" % (group.split(".")[0], name))
        for (group, name), child in keyed.items():
            old = self.children[group].get(name)
            obj = copy.deepcopy(child)
            md = obj["metadata"]
            md.setdefault("annotations", {})[LAST_APPLIED] = json.dumps(child, sort_keys=True)
            self.version += 1
            md["resourceVersion"] = str(self.version)
            md["ownerReferences"] = [{"apiVersion": API, "kind": self.parent["kind"], "controller": True,
                                      "name": self.parent["metadata"]["name"],
                                      "uid": self.parent["metadata"]["uid"]}]
            if old is None:
                md["uid"] = str(uuid.uuid4())
                self.created.append("%s/%s" % (child["kind"], name))
            else:
                md["uid"] = old["metadata"]["uid"]
                if "status" in old:
                    obj["status"] = old["status"]
                if json.loads(old["metadata"]["annotations"][LAST_APPLIED]) != child:
                    self.updated.append("%s/%s" % (child["kind"], name))
            self.children[group][name] = obj


def phases(answer):
    return {"%s/%s" % (e["kind"], e["name"]): e["phase"] for e in answer["status"]["children"]}


@needs_binary
class SyncTest(ServerTestCase):
    def setUp(self):
        self.conn = client(self.srv)

    def tearDown(self):
        self.conn.close()

    def mc(self, parent):
        return Metacontroller(self, self.conn, parent)

    # ---------------------------------------------------------- Training

    def test_training_lifecycle(self):
        mc = self.mc(cr("Training"))
        answer = mc.sync()
        self.assertEqual(sorted(mc.created), ["Deployment/ppocr-det-visualdl", "PaddleJob/ppocr-det",
                                              "Service/ppocr-det-visualdl"])
        self.assertEqual(answer["status"]["phase"], "Pending")
        self.assertEqual(phases(answer)["Job/ppocr-det-export"], "Waiting")
        self.assertEqual(phases(answer)["Job/ppocr-det-convert"], "Waiting")
        self.assertGreater(answer.get("resyncAfterSeconds", 0), 0)

        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Running", "mode": "Single"})
        answer = mc.sync()
        self.assertEqual(mc.created, [])
        self.assertFalse(mc.exists("Job", "ppocr-det-export"))
        self.assertEqual(answer["status"]["phase"], "Running")
        self.assertGreater(answer.get("resyncAfterSeconds", 0), 0)

        # paddle-operator's word for success
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Completed", "mode": "Single"})
        answer = mc.sync()
        self.assertEqual(mc.created, ["Job/ppocr-det-export"])
        export = mc.children["Job.batch/v1"]["ppocr-det-export"]
        self.assertEqual(export["metadata"]["annotations"][AFTER], "PaddleJob/ppocr-det")
        self.assertEqual(phases(answer)["Job/ppocr-det-convert"], "Waiting")
        self.assertEqual(answer["status"]["phase"], "Running")

        mc.set_status("Job", "ppocr-det-export", {"active": 1})
        answer = mc.sync()
        self.assertEqual(mc.created, [])
        self.assertEqual(phases(answer)["Job/ppocr-det-export"], "Running")

        mc.set_status("Job", "ppocr-det-export", COMPLETE)
        answer = mc.sync()
        self.assertEqual(mc.created, ["Job/ppocr-det-convert"])
        self.assertEqual(mc.children["Job.batch/v1"]["ppocr-det-convert"]["metadata"]["annotations"][AFTER],
                         "Job/ppocr-det-export")
        self.assertNotIn("resyncAfterSeconds", answer)

        mc.set_status("Deployment", "ppocr-det-visualdl", {"availableReplicas": 1, "replicas": 1})
        mc.set_status("Job", "ppocr-det-convert", COMPLETE)
        answer = mc.sync()
        self.assertEqual(answer["status"]["phase"], "Succeeded")
        self.assertEqual(phases(answer), {
            "PaddleJob/ppocr-det": "Succeeded", "Deployment/ppocr-det-visualdl": "Ready",
            "Service/ppocr-det-visualdl": "Ready", "Job/ppocr-det-export": "Succeeded",
            "Job/ppocr-det-convert": "Succeeded"})
        self.assertEqual((mc.created, mc.updated, mc.deleted), ([], [], []))

        # steady state: syncing again changes nothing
        answer = mc.sync()
        self.assertEqual((mc.created, mc.updated, mc.deleted), ([], [], []))
        self.assertEqual(answer["status"]["phase"], "Succeeded")

    def test_failed_paddlejob_stops_the_chain(self):
        mc = self.mc(cr("Training", useVisualDL=False))
        mc.sync()
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Failed"})
        for _ in range(3):
            answer = mc.sync()
            self.assertEqual(mc.names(), ["PaddleJob/ppocr-det"])
            self.assertEqual(answer["status"]["phase"], "Failed")
            self.assertIn("PaddleJob/ppocr-det failed", answer["status"]["message"])
            self.assertEqual(phases(answer)["Job/ppocr-det-export"], "Skipped")
            self.assertEqual(phases(answer)["Job/ppocr-det-convert"], "Skipped")
            self.assertNotIn("resyncAfterSeconds", answer)

    def test_failed_export_stops_the_chain(self):
        mc = self.mc(cr("Training", useVisualDL=False))
        mc.sync()
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Completed"})
        mc.sync()
        mc.set_status("Job", "ppocr-det-export", FAILED)
        answer = mc.sync()
        self.assertFalse(mc.exists("Job", "ppocr-det-convert"))
        self.assertEqual(answer["status"]["phase"], "Failed")
        self.assertIn("Job/ppocr-det-export failed", answer["status"]["message"])

    def test_training_without_export(self):
        mc = self.mc(cr("Training", useVisualDL=False, saveInference=False))
        mc.sync()
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Completed"})
        answer = mc.sync()
        self.assertEqual(mc.names(), ["PaddleJob/ppocr-det"])
        self.assertEqual(answer["status"]["phase"], "Succeeded")

    def test_observed_child_is_kept_when_its_target_regresses(self):
        # Metacontroller deletes what the answer leaves out: a created child
        # must stay even when its target no longer looks finished
        mc = self.mc(cr("Training", useVisualDL=False))
        mc.sync()
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Completed"})
        mc.sync()
        self.assertTrue(mc.exists("Job", "ppocr-det-export"))
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Restarting"})
        mc.sync()
        self.assertEqual(mc.deleted, [])
        self.assertTrue(mc.exists("Job", "ppocr-det-export"))

    # ----------------------------------------------------------- actions

    def test_action_apply_updates_and_prunes(self):
        mc = self.mc(cr("Training"))
        mc.sync()
        mc.edit(workerReplicas=2, useVisualDL=False)
        answer = mc.sync()
        self.assertEqual(mc.updated, ["PaddleJob/ppocr-det"])
        self.assertEqual(sorted(mc.deleted), ["Deployment/ppocr-det-visualdl", "Service/ppocr-det-visualdl"])
        self.assertEqual(answer["status"]["phase"], "Pending")

    def test_action_create_never_updates(self):
        mc = self.mc(cr("Training", action="create"))
        mc.sync()
        self.assertEqual(sorted(mc.created), ["Deployment/ppocr-det-visualdl", "PaddleJob/ppocr-det",
                                              "Service/ppocr-det-visualdl"])
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Running"})
        mc.edit(workerReplicas=2, useVisualDL=False)
        answer = mc.sync()
        self.assertEqual((mc.created, mc.updated, mc.deleted), ([], [], []))
        self.assertEqual(mc.children["PaddleJob.batch.paddlepaddle.org/v1"]["ppocr-det"]["spec"]["worker"]["replicas"], 1)
        self.assertEqual(answer["status"]["phase"], "Running")
        # missing children are still created, in order
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Completed"})
        mc.sync()
        self.assertEqual(mc.created, ["Job/ppocr-det-export"])
        self.assertEqual(mc.updated, [])

    def test_action_patch_updates_existing_only(self):
        mc = self.mc(cr("Training", action="patch", useVisualDL=False))
        answer = mc.sync()
        self.assertEqual(mc.names(), [])
        self.assertEqual(set(phases(answer).values()), {"Absent"})
        self.assertIn("spec.action is patch", answer["status"]["message"])
        # created earlier under apply, then switched to patch with a new spec
        mc.edit(action="apply")
        mc.sync()
        mc.set_status("PaddleJob", "ppocr-det", {"phase": "Completed"})
        mc.edit(action="patch", workerReplicas=2)
        answer = mc.sync()
        self.assertEqual(mc.updated, ["PaddleJob/ppocr-det"])
        self.assertEqual(mc.created, [])
        self.assertFalse(mc.exists("Job", "ppocr-det-export"))
        self.assertEqual(phases(answer)["Job/ppocr-det-export"], "Absent")

    def test_action_delete_removes_children(self):
        mc = self.mc(cr("Training"))
        mc.sync()
        mc.edit(action="delete")
        answer = mc.sync()
        self.assertEqual(answer["children"], [])
        self.assertEqual(mc.names(), [])
        self.assertEqual(len(mc.deleted), 3)
        self.assertIn("spec.action is delete", answer["status"]["message"])
        answer = mc.sync()
        self.assertEqual(answer["status"]["phase"], "Pending")
        mc.edit(action="apply")
        mc.sync()
        self.assertEqual(len(mc.created), 3)

    def test_finalizing_removes_children(self):
        mc = self.mc(cr("Training"))
        mc.sync()
        answer = mc.sync(finalizing=True)
        self.assertEqual(answer["children"], [])
        self.assertIs(answer["finalized"], False)
        self.assertEqual(len(mc.deleted), 3)
        answer = mc.sync(finalizing=True)
        self.assertIs(answer["finalized"], True)

    # ------------------------------------------------------- other kinds

    def test_serving_reports_url(self):
        mc = self.mc(cr("Serving"))
        answer = mc.sync()
        self.assertEqual(mc.created, ["InferenceService/ppocr-det"])
        self.assertEqual(answer["status"]["phase"], "Pending")
        mc.set_status("InferenceService", "ppocr-det", {"conditions": [{"type": "Ready", "status": "False"}]})
        self.assertEqual(mc.sync()["status"]["phase"], "Pending")
        url = "http://ppocr-det.kubeflow.example.com"
        mc.set_status("InferenceService", "ppocr-det", {
            "url": url, "conditions": [{"type": "PredictorReady", "status": "True"},
                                       {"type": "Ready", "status": "True"}]})
        answer = mc.sync()
        self.assertEqual(answer["status"]["phase"], "Ready")
        self.assertEqual(answer["status"]["url"], url)
        self.assertEqual(answer["status"]["children"],
                         [{"kind": "InferenceService", "name": "ppocr-det", "phase": "Ready", "url": url}])

    def test_dataset_sampleset(self):
        mc = self.mc(cr("Dataset"))
        mc.sync()
        self.assertEqual(mc.created, ["SampleSet/icdar2015"])
        # paddle-operator's SampleSet phases (sampleset branch, common/constants.go)
        for word, child, parent in (("Bound", "Running", "Running"), ("Mount", "Running", "Running"),
                                    ("Syncing", "Running", "Running"), ("PartialReady", "Running", "Running"),
                                    ("Ready", "Ready", "Ready"), ("SyncFailed", "Failed", "Failed")):
            mc.set_status("SampleSet", "icdar2015", {"phase": word})
            answer = mc.sync()
            self.assertEqual(phases(answer)["SampleSet/icdar2015"], child, word)
            self.assertEqual(answer["status"]["phase"], parent, word)

    def test_modelhub_upload(self):
        mc = self.mc(cr("ModelHub"))
        mc.sync()
        self.assertEqual(mc.created, ["Job/ppocr-det-upload"])
        mc.set_status("Job", "ppocr-det-upload", {"active": 1})
        self.assertEqual(mc.sync()["status"]["phase"], "Running")
        mc.set_status("Job", "ppocr-det-upload", COMPLETE)
        self.assertEqual(mc.sync()["status"]["phase"], "Succeeded")

    # ----------------------------------------------------------- refusals

    def test_invalid_parent_is_reported(self):
        parent = cr("Training", workerReplicas=-1)
        del parent["spec"]["image"]
        mc = self.mc(parent)
        answer = mc.sync()
        self.assertEqual(answer["children"], [])
        self.assertEqual(answer["status"]["phase"], "Failed")
        self.assertIn("spec.image: Required value", answer["status"]["message"])
        self.assertIn("spec.workerReplicas: Invalid value: -1", answer["status"]["message"])

    def test_malformed_requests(self):
        training = cr("Training")
        cases = [
            (b"not json", "not valid JSON"),
            (b"[]", "not a JSON object"),
            ({"children": {}}, "parent is missing"),
            ({"parent": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}}, "known kind"),
            ({"parent": training, "children": []}, "children is not a map"),
            ({"parent": training, "children": {"Job.batch/v1": {"x": 1}}}, "children is not a map"),
            ({"parent": training, "finalizing": "true"}, "finalizing is not a boolean"),
            (b"[" * 5000, "nests too deeply"),
        ]
        for body, why in cases:
            with self.subTest(why=why):
                status, headers, text = post_json(self.conn, "/sync", body)
                self.assertEqual(status, 400)
                self.assertTrue(headers.get("Content-Type", "").startswith("text/plain"))
                self.assertIn(why, text)
        status, headers, _ = request(self.conn, "GET", "/sync")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "POST")

    def test_metrics_count_syncs(self):
        self.mc(cr("Dataset")).sync()
        conn = client(self.srv)
        try:
            status, _, text = request(conn, "GET", "/metrics")
        finally:
            conn.close()
        self.assertEqual(status, 200)
        self.assertIn('paddlex_webhook_requests_total{path="/sync"', text)


if __name__ == "__main__":
    unittest.main()
