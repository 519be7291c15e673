"""Tests of the test tooling: jsonpatch.py, crdschema.py and common.py.

They need no paddlex-webhook binary: common.py's server and CLI fixtures are
exercised against a small fake written in Python. The last class smoke-tests
the fixtures against the real binary and skips until it is built.
"""
import base64
import copy
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest

import common
import crdschema
import jsonpatch
from jsonpatch import JsonPatchError


# ================================================================ jsonpatch

def _apply(doc, *ops):
    return jsonpatch.apply(doc, list(ops))


class JsonPatchOpsTest(unittest.TestCase):
    def test_add_member_creates_and_replaces(self):
        self.assertEqual(_apply({"a": 1}, {"op": "add", "path": "/b", "value": 2}), {"a": 1, "b": 2})
        self.assertEqual(_apply({"a": 1}, {"op": "add", "path": "/a", "value": [3]}), {"a": [3]})

    def test_add_into_array(self):
        doc = {"l": [1, 2]}
        self.assertEqual(_apply(doc, {"op": "add", "path": "/l/0", "value": 0}), {"l": [0, 1, 2]})
        self.assertEqual(_apply(doc, {"op": "add", "path": "/l/2", "value": 3}), {"l": [1, 2, 3]})
        self.assertEqual(_apply(doc, {"op": "add", "path": "/l/-", "value": 9}), {"l": [1, 2, 9]})

    def test_add_null_and_nested_values(self):
        out = _apply({}, {"op": "add", "path": "/a", "value": None},
                     {"op": "add", "path": "/b", "value": {"c": [1]}},
                     {"op": "add", "path": "/b/c/-", "value": 2})
        self.assertEqual(out, {"a": None, "b": {"c": [1, 2]}})

    def test_remove(self):
        self.assertEqual(_apply({"a": 1, "b": 2}, {"op": "remove", "path": "/a"}), {"b": 2})
        self.assertEqual(_apply([1, 2, 3], {"op": "remove", "path": "/1"}), [1, 3])

    def test_replace(self):
        self.assertEqual(_apply({"a": 1}, {"op": "replace", "path": "/a", "value": "x"}), {"a": "x"})
        self.assertEqual(_apply([1, 2], {"op": "replace", "path": "/1", "value": 5}), [1, 5])

    def test_move(self):
        self.assertEqual(_apply({"a": {"b": 1}, "c": {}}, {"op": "move", "from": "/a/b", "path": "/c/d"}),
                         {"a": {}, "c": {"d": 1}})
        self.assertEqual(_apply([1, 2, 3], {"op": "move", "from": "/0", "path": "/-"}), [2, 3, 1])
        self.assertEqual(_apply({"a": 1}, {"op": "move", "from": "/a", "path": "/a"}), {"a": 1})

    def test_copy_is_deep(self):
        out = _apply({"a": {"x": [1]}}, {"op": "copy", "from": "/a", "path": "/b"},
                     {"op": "add", "path": "/b/x/-", "value": 2})
        self.assertEqual(out, {"a": {"x": [1]}, "b": {"x": [1, 2]}})

    def test_test_passes_on_equal_values(self):
        doc = {"a": {"x": 1, "y": [True, None, "s", 1.5]}}
        self.assertEqual(_apply(doc, {"op": "test", "path": "/a", "value": {"y": [True, None, "s", 1.5], "x": 1}}), doc)
        self.assertEqual(_apply(doc, {"op": "test", "path": "", "value": doc}), doc)

    def test_inputs_are_not_modified(self):
        doc, patch = {"a": {"b": [1]}}, [{"op": "add", "path": "/a/b/-", "value": {"c": 1}}]
        before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
        out = jsonpatch.apply(doc, patch)
        out["a"]["b"][1]["c"] = 2
        self.assertEqual((doc, patch), (before_doc, before_patch))

    def test_pointer_escapes(self):
        doc = {"a/b": {"c~d": 1}, "~1": 2}
        self.assertEqual(_apply(doc, {"op": "replace", "path": "/a~1b/c~0d", "value": 3})["a/b"]["c~d"], 3)
        self.assertEqual(_apply(doc, {"op": "remove", "path": "/~01"}), {"a/b": {"c~d": 1}})
        self.assertEqual(jsonpatch.pointer("metadata", "labels", "app.kubernetes.io/name"),
                         "/metadata/labels/app.kubernetes.io~1name")
        self.assertEqual(jsonpatch.parse_pointer("/a~1b/c~0d/~01"), ["a/b", "c~d", "~1"])
        self.assertEqual(jsonpatch.parse_pointer(""), [])
        self.assertEqual(jsonpatch.parse_pointer("/"), [""])

    def test_empty_key(self):
        self.assertEqual(_apply({}, {"op": "add", "path": "/", "value": 1}), {"": 1})


class JsonPatchStrictTest(unittest.TestCase):
    def assertRefused(self, doc, *ops):
        before = copy.deepcopy(doc)
        with self.assertRaises(JsonPatchError):
            jsonpatch.apply(doc, list(ops))
        self.assertEqual(doc, before)

    def test_add_under_missing_parent(self):
        self.assertRefused({"metadata": {}}, {"op": "add", "path": "/metadata/labels/app", "value": "x"})
        self.assertRefused({}, {"op": "add", "path": "/spec/generated", "value": []})

    def test_add_under_scalar_parent(self):
        self.assertRefused({"a": "s"}, {"op": "add", "path": "/a/b", "value": 1})
        self.assertRefused({"a": None}, {"op": "add", "path": "/a/b", "value": 1})

    def test_array_indexes(self):
        doc = {"l": [1, 2]}
        self.assertRefused(doc, {"op": "add", "path": "/l/3", "value": 0})
        self.assertRefused(doc, {"op": "add", "path": "/l/01", "value": 0})
        self.assertRefused(doc, {"op": "add", "path": "/l/-1", "value": 0})
        self.assertRefused(doc, {"op": "add", "path": "/l/+1", "value": 0})
        self.assertRefused(doc, {"op": "add", "path": "/l/x", "value": 0})
        self.assertRefused(doc, {"op": "remove", "path": "/l/2"})
        self.assertRefused(doc, {"op": "remove", "path": "/l/-"})
        self.assertRefused(doc, {"op": "replace", "path": "/l/2", "value": 0})
        self.assertRefused(doc, {"op": "replace", "path": "/l/-", "value": 0})
        self.assertRefused(doc, {"op": "test", "path": "/l/-", "value": 0})
        self.assertRefused({"l": [[1]]}, {"op": "add", "path": "/l/00/0", "value": 0})

    def test_missing_members(self):
        self.assertRefused({"a": 1}, {"op": "remove", "path": "/b"})
        self.assertRefused({"a": 1}, {"op": "replace", "path": "/b", "value": 1})
        self.assertRefused({"a": 1}, {"op": "test", "path": "/b", "value": None})
        self.assertRefused({"a": 1}, {"op": "move", "from": "/b", "path": "/c"})
        self.assertRefused({"a": 1}, {"op": "copy", "from": "/b", "path": "/c"})
        self.assertRefused({"a": 1}, {"op": "move", "from": "/a", "path": "/x/y"})

    def test_move_into_own_child(self):
        self.assertRefused({"a": {"b": {}}}, {"op": "move", "from": "/a", "path": "/a/b/c"})

    def test_whole_document_targets(self):
        self.assertRefused({"a": 1}, {"op": "add", "path": "", "value": {}})
        self.assertRefused({"a": 1}, {"op": "replace", "path": "", "value": {}})
        self.assertRefused({"a": 1}, {"op": "remove", "path": ""})

    def test_test_compares_json_types(self):
        for have, want in ((1, 1.0), (1, True), (0, False), ("1", 1), (None, 0), ([1, 2], [2, 1]),
                           ({"a": 1}, {"a": 1, "b": None}), (1.5, 1.25)):
            self.assertRefused({"v": have}, {"op": "test", "path": "/v", "value": want})

    def test_bad_pointers(self):
        self.assertRefused({"a": 1}, {"op": "remove", "path": "a"})
        self.assertRefused({"a~2": 1}, {"op": "remove", "path": "/a~2"})
        self.assertRefused({"a~": 1}, {"op": "remove", "path": "/a~"})
        self.assertRefused({"a": 1}, {"op": "remove", "path": 1})

    def test_malformed_operations(self):
        self.assertRefused({}, {"op": "merge", "path": "/a", "value": 1})
        self.assertRefused({}, {"path": "/a", "value": 1})
        self.assertRefused({}, {"op": "add", "value": 1})
        self.assertRefused({}, {"op": "add", "path": "/a"})
        self.assertRefused({"a": 1}, {"op": "replace", "path": "/a"})
        self.assertRefused({"a": 1}, {"op": "test", "path": "/a"})
        self.assertRefused({"a": 1}, {"op": "move", "path": "/b"})
        self.assertRefused({"a": 1}, {"op": "copy", "path": "/b"})
        self.assertRefused({}, "add")
        with self.assertRaises(JsonPatchError):
            jsonpatch.apply({}, {"op": "add", "path": "/a", "value": 1})

    def test_error_names_the_operation(self):
        with self.assertRaisesRegex(JsonPatchError, r"operation 1 .*'/x/y'"):
            _apply({}, {"op": "add", "path": "/a", "value": 1}, {"op": "add", "path": "/x/y", "value": 1})

    def test_later_failure_discards_earlier_operations(self):
        self.assertRefused({}, {"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": "/b"})


class DecodeReviewPatchTest(unittest.TestCase):
    PATCH = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]

    def answer(self, version="v1", **response):
        response.setdefault("uid", "u")
        response.setdefault("allowed", True)
        return {"apiVersion": "admission.k8s.io/" + version, "kind": "AdmissionReview", "response": response}

    @staticmethod
    def b64(obj):
        return base64.b64encode(json.dumps(obj).encode()).decode()

    def test_decodes_v1(self):
        got = jsonpatch.decode_review_patch(self.answer(patchType="JSONPatch", patch=self.b64(self.PATCH)))
        self.assertEqual(got, self.PATCH)

    def test_response_alone(self):
        got = jsonpatch.decode_review_patch({"uid": "u", "allowed": True, "patchType": "JSONPatch",
                                             "patch": self.b64(self.PATCH)})
        self.assertEqual(got, self.PATCH)

    def test_no_patch_is_empty(self):
        self.assertEqual(jsonpatch.decode_review_patch(self.answer()), [])
        self.assertEqual(jsonpatch.decode_review_patch(self.answer(patchType="JSONPatch")), [])

    def test_patch_type_rules(self):
        with self.assertRaisesRegex(JsonPatchError, "patchType"):
            jsonpatch.decode_review_patch(self.answer(patch=self.b64(self.PATCH)))
        self.assertEqual(jsonpatch.decode_review_patch(self.answer("v1beta1", patch=self.b64(self.PATCH))),
                         self.PATCH)
        with self.assertRaisesRegex(JsonPatchError, "patchType"):
            jsonpatch.decode_review_patch(self.answer(patchType="MergePatch", patch=self.b64({})))

    def test_bad_payloads(self):
        for patch in ("not base64!", base64.b64encode(b"{").decode(), self.b64({"op": "add"}),
                      self.b64([1]), base64.b64encode(b"[NaN]").decode(), 12):
            with self.assertRaises(JsonPatchError, msg=repr(patch)):
                jsonpatch.decode_review_patch(self.answer(patchType="JSONPatch", patch=patch))


# ================================================================ crdschema

LABELS = {"app.kubernetes.io/managed-by": "paddlex-webhook", "app.kubernetes.io/part-of": "paddlex",
          "paddlex.paddlepaddle.org/training": "ocr"}


def _meta(name):
    return {"name": name, "namespace": "kubeflow", "labels": dict(LABELS)}


def paddle_container(gpus=2):
    c = {"name": "paddle", "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu",
         "command": ["python"],
         "args": ["-m", "paddle.distributed.launch", "--gpus", "0,1", "--log_dir", "/mnt/task-center/log",
                  "tools/train.py", "-c", "configs/det/det_mv3_db.yml", "-o", "Global.epoch_num=10",
                  "Global.save_model_dir=/mnt/task-center/models/"],
         "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"},
                          {"name": "task-center", "mountPath": "/mnt/task-center"}]}
    if gpus:
        c["resources"] = {"limits": {"nvidia.com/gpu": gpus}}
    return c


def pod_template(container, init=None):
    spec = {"containers": [container],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}},
                        {"name": "task-center", "persistentVolumeClaim": {"claimName": "task-center"}}]}
    if init:
        spec["initContainers"] = [init]
    return {"metadata": {"labels": dict(LABELS)}, "spec": spec}


def paddlejob():
    init = {"name": "pretrain-model", "image": "curlimages/curl:8.5.0",
            "command": ["curl", "-fsSL", "-o", "/mnt/task-center/pretrain_model/m.pdparams",
                        "https://paddle-imagenet-models-name.bj.bcebos.com/m.pdparams"],
            "volumeMounts": [{"name": "task-center", "mountPath": "/mnt/task-center"}]}
    return {"apiVersion": "batch.paddlepaddle.org/v1", "kind": "PaddleJob", "metadata": _meta("ocr"),
            "spec": {"cleanPodPolicy": "OnCompletion", "withGloo": 1, "intranet": "PodIP",
                     "sampleSetRef": {"name": "icdar2015", "mountPath": "/mnt/data-center"},
                     "worker": {"replicas": 2, "template": pod_template(paddle_container(), init)},
                     "ps": {"replicas": 1, "template": pod_template(paddle_container(0))}}}


def kubeflow_paddlejob():
    master = paddle_container(0)
    master["ports"] = [{"name": "master", "containerPort": 36543, "protocol": "TCP"}]
    worker = paddle_container()
    worker["ports"] = [{"name": "master", "containerPort": 36543, "protocol": "TCP"}]
    return {"apiVersion": "kubeflow.org/v1", "kind": "PaddleJob", "metadata": _meta("ocr"),
            "spec": {"runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 3},
                     "paddleReplicaSpecs": {
                         "Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": pod_template(master)},
                         "Worker": {"replicas": 2, "restartPolicy": "OnFailure", "template": pod_template(worker)}}}}


def claim():
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta("icdar2015"),
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}}


def sampleset():
    return {"apiVersion": "batch.paddlepaddle.org/v1alpha1", "kind": "SampleSet", "metadata": _meta("icdar2015"),
            "spec": {"partitions": 1, "source": {"uri": "bos://paddleflow-public.hkg.bcebos.com/icdar2015",
                                                 "secretRef": {"name": "data-center"}},
                     "secretRef": {"name": "data-center"}}}


def samplejob():
    return {"apiVersion": "batch.paddlepaddle.org/v1alpha1", "kind": "SampleJob", "metadata": _meta("warmup"),
            "spec": {"type": "warmup", "sampleSetRef": {"name": "icdar2015"},
                     "warmupOptions": {"paths": ["/train"], "strategyName": "random"}}}


def inference_service():
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": _meta("ocr-serving"),
            "spec": {"predictor": {"minReplicas": 1, "containers": [{
                "name": "kserve-container", "image": "registry.baidubce.com/paddleflow-public/serving:v0.6.2",
                "command": ["python3", "-m", "paddle_serving_server.serve"],
                "args": ["--model", "/mnt/models/ocr/server", "--port", "8040"],
                "ports": [{"containerPort": 8040, "protocol": "TCP"}],
                "env": [{"name": "STORAGE_URI",
                         "value": "http://minio-service.kubeflow:9000/model-center/ocr/latest/ocr.tar.gz"}]}]}}}


def job():
    c = {"name": "upload", "image": "minio/mc:RELEASE.2023-01-28T20-29-38Z",
         "command": ["/bin/sh", "-c", "mc cp \"$1\" \"$2\"", "upload"],
         "args": ["/mnt/task-center/ocr.tar.gz", "minio/model-center/ocr/latest/ocr.tar.gz"],
         "env": [{"name": "MINIO_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "minio", "key": "access-key"}}}],
         "volumeMounts": [{"name": "task-center", "mountPath": "/mnt/task-center"}]}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": dict(_meta("ocr-upload"), annotations={"paddlex.paddlepaddle.org/after": "Job/ocr-convert"}),
            "spec": {"backoffLimit": 3, "template": {"metadata": {"labels": dict(LABELS)}, "spec": {
                "restartPolicy": "Never", "containers": [c],
                "volumes": [{"name": "task-center", "persistentVolumeClaim": {"claimName": "task-center"}}]}}}}


def deployment():
    labels = {"app.kubernetes.io/name": "ocr-visualdl"}
    c = {"name": "visualdl", "image": "paddlepaddle/visualdl:2.2.0",
         "args": ["--logdir", "/mnt/task-center/models/vdl/", "--port", "8040", "--host", "0.0.0.0"],
         "ports": [{"containerPort": 8040, "name": "http"}],
         "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
         "volumeMounts": [{"name": "task-center", "mountPath": "/mnt/task-center", "readOnly": True}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("ocr-visualdl"),
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": dict(LABELS, **labels)}, "spec": {
                         "containers": [c],
                         "volumes": [{"name": "task-center", "persistentVolumeClaim": {"claimName": "task-center"}}]}}}}


def service():
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta("ocr-visualdl"),
            "spec": {"selector": {"app.kubernetes.io/name": "ocr-visualdl"},
                     "ports": [{"name": "http", "port": 8040, "targetPort": "http", "protocol": "TCP"}]}}


VALID_CHILDREN = (paddlejob, kubeflow_paddlejob, claim, sampleset, samplejob, inference_service, job, deployment,
                  service)


class CrdSchemaChildrenTest(unittest.TestCase):
    def assertValid(self, obj):
        self.assertEqual(crdschema.validate_child(obj), [])

    def assertError(self, obj, path, fragment=""):
        errors = crdschema.validate_child(obj)
        hits = [e for e in errors if path in crdschema.paths([e]) and fragment in e]
        self.assertTrue(hits, "no error at %s containing %r in %s" % (path, fragment, errors))

    def test_valid_children_pass(self):
        for make in VALID_CHILDREN:
            with self.subTest(make.__name__):
                self.assertValid(make())

    def test_unknown_kind(self):
        self.assertError({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, "<root>",
                         "Unsupported value")
        self.assertError({"apiVersion": "batch.paddlepaddle.org/v1alpha1", "kind": "PaddleJob"}, "<root>")
        self.assertEqual(crdschema.validate_child([]), ["<root>: Invalid value: array: must be an object"])

    def test_misspelled_fields_are_pruned(self):
        pj = paddlejob()
        pj["spec"]["worker"]["template"]["spec"]["containers"][0]["volumeMount"] = []
        pj["spec"]["worker"]["template"]["spec"]["restartpolicy"] = "Never"
        pj["spec"]["cleanPodPolicies"] = "Never"
        errors = crdschema.validate_child(pj)
        self.assertIn("pruned: spec.worker.template.spec.containers[0].volumeMount", errors)
        self.assertIn("pruned: spec.worker.template.spec.restartpolicy", errors)
        self.assertIn("pruned: spec.cleanPodPolicies", errors)
        d = deployment()
        d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/"
        self.assertError(d, "spec.template.spec.containers[0].readinessProbe.httpGet.paht", "pruned")
        s = service()
        s["spec"]["port"] = 1
        self.assertError(s, "spec.port", "pruned")
        isvc = inference_service()
        isvc["spec"]["predictor"]["containers"][0]["enviroment"] = []
        self.assertError(isvc, "spec.predictor.containers[0].enviroment", "pruned")

    def test_status_and_unknown_metadata_are_pruned(self):
        j = job()
        j["status"] = {}
        j["metadata"]["owner"] = "x"
        errors = crdschema.validate_child(j)
        self.assertIn("pruned: status", errors)
        self.assertIn("pruned: metadata.owner", errors)

    def test_null_member_is_pruned_null_item_is_invalid(self):
        ss = sampleset()
        ss["spec"]["secretRef"]["name"] = None
        self.assertError(ss, "spec.secretRef.name", "pruned")
        pj = paddlejob()
        args = pj["spec"]["worker"]["template"]["spec"]["containers"][0]["args"]
        args.append(None)
        self.assertError(pj, "spec.worker.template.spec.containers[0].args[%d]" % (len(args) - 1),
                         "must not be null")

    def test_wrong_types(self):
        pj = paddlejob()
        pj["spec"]["worker"]["replicas"] = "2"
        pj["spec"]["withGloo"] = True
        pj["spec"]["ps"]["replicas"] = 1.0
        pj["spec"]["sampleSetRef"] = "icdar2015"
        pj["spec"]["worker"]["template"]["spec"]["containers"][0]["args"][0] = 1
        errors = crdschema.validate_child(pj)
        self.assertIn('spec.worker.replicas: Invalid value: "string": must be of type integer', errors)
        self.assertIn('spec.withGloo: Invalid value: "boolean": must be of type integer', errors)
        self.assertIn('spec.ps.replicas: Invalid value: "number": must be of type integer', errors)
        self.assertIn('spec.sampleSetRef: Invalid value: "string": must be of type object', errors)
        self.assertIn('spec.worker.template.spec.containers[0].args[0]: Invalid value: "integer": '
                      'must be of type string', errors)

    def test_int32_range(self):
        isvc = inference_service()
        isvc["spec"]["predictor"]["minReplicas"] = 2**31
        self.assertError(isvc, "spec.predictor.minReplicas", "int32")

    def test_enum(self):
        ss = sampleset()
        ss["spec"]["cache"] = {"levels": [{"mediumType": "NVME", "path": "/dev/shm"}]}
        self.assertError(ss, "spec.cache.levels[0].mediumType", 'Unsupported value: "NVME"')
        sj = samplejob()
        sj["spec"]["type"] = "Warmup"
        self.assertError(sj, "spec.type", "Unsupported value")

    def test_required_and_bounds(self):
        pj = paddlejob()
        del pj["spec"]["sampleSetRef"]["mountPath"]
        del pj["spec"]["ps"]["replicas"]
        ss = sampleset()
        ss["spec"]["partitions"] = 0
        ss["spec"]["source"]["uri"] = "bos://a/b"
        self.assertError(pj, "spec.sampleSetRef.mountPath", "Required value")
        self.assertError(pj, "spec.ps.replicas", "Required value")
        self.assertError(ss, "spec.partitions", "greater than or equal to 1")
        self.assertError(ss, "spec.source.uri", "at least 10 characters")
        sj = samplejob()
        sj["spec"]["warmupOptions"]["paths"] = []
        self.assertError(sj, "spec.warmupOptions.paths", "at least 1 items")

    def test_int_or_string(self):
        def with_gpu(value):
            pj = paddlejob()
            pj["spec"]["worker"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = value
            return pj
        path = "spec.worker.template.spec.containers[0].resources.limits[nvidia.com/gpu]"
        self.assertValid(with_gpu(4))
        self.assertValid(with_gpu("4"))
        self.assertError(with_gpu("4 GPUs"), path, "pattern")
        self.assertError(with_gpu(True), path, "integer or a string")
        self.assertError(with_gpu(1.5), path, "integer or a string")
        self.assertError(with_gpu("500m"), path, "whole number")
        d = deployment()
        d["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
        self.assertValid(d)
        d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = [1]
        self.assertError(d, "spec.strategy.rollingUpdate.maxSurge", "integer or a string")

    def test_list_map_duplicates_use_defaults(self):
        isvc = inference_service()
        ports = isvc["spec"]["predictor"]["containers"][0]["ports"]
        ports.append({"containerPort": 8040})
        self.assertError(isvc, "spec.predictor.containers[0].ports[1]", "Duplicate value")
        ports[1]["protocol"] = "UDP"
        self.assertValid(isvc)

    def test_metadata_rules(self):
        ss = sampleset()
        ss["metadata"]["name"] = "Bad_Name"
        ss["metadata"]["namespace"] = "kube.flow"
        ss["metadata"]["labels"]["bad key!"] = "x"
        ss["metadata"]["labels"]["ok"] = "-bad-value"
        ss["metadata"]["annotations"] = {"paddlex.paddlepaddle.org/after": "ok", "/x": "bad"}
        errors = crdschema.validate_child(ss)
        for path in ("metadata.name", "metadata.namespace", "metadata.labels", "metadata.labels[ok]",
                     "metadata.annotations"):
            self.assertIn(path, crdschema.paths(errors), errors)
        del ss["metadata"]["name"]
        self.assertError(ss, "metadata.name", "Required value")

    def test_name_rules_per_kind(self):
        s = service()
        s["metadata"]["name"] = "1-visualdl"
        self.assertError(s, "metadata.name", "DNS-1035")
        j = job()
        j["metadata"]["name"] = "a" * 64
        self.assertError(j, "metadata.name", "63")
        isvc = inference_service()
        isvc["metadata"]["name"] = "9ocr"
        self.assertError(isvc, "metadata.name", "DNS-1035")

    def test_pod_semantics(self):
        pj = paddlejob()
        pod = pj["spec"]["worker"]["template"]["spec"]
        pod["containers"][0]["volumeMounts"][1]["name"] = "taskcenter"
        pod["containers"][0]["env"] = [{"name": "1BAD", "value": "x"}]
        pod["initContainers"][0]["name"] = "paddle"
        pod["volumes"][0]["hostPath"] = {"path": "/dev/shm"}
        pod["containers"][0]["resources"]["requests"] = {"nvidia.com/gpu": 1}
        errors = crdschema.validate_child(pj)
        base = "spec.worker.template.spec."
        for path in ("containers[0].volumeMounts[1].name", "containers[0].env[0].name", "containers[0].name",
                     "volumes[0]", "containers[0].resources.requests[nvidia.com/gpu]"):
            self.assertIn(base + path, crdschema.paths(errors), errors)
        d = deployment()
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "2Gi"
        self.assertError(d, "spec.template.spec.containers[0].resources.requests[memory]", "less than or equal")

    def test_job_rules(self):
        j = job()
        del j["spec"]["template"]["spec"]["restartPolicy"]
        self.assertError(j, "spec.template.spec.restartPolicy", "Required value")
        j["spec"]["template"]["spec"]["restartPolicy"] = "Always"
        self.assertError(j, "spec.template.spec.restartPolicy", "Unsupported value")
        j = job()
        j["spec"]["selector"] = {"matchLabels": {"a": "b"}}
        j["spec"]["backoffLimit"] = -1
        self.assertError(j, "spec.selector", "manualSelector")
        self.assertError(j, "spec.backoffLimit", "greater than or equal to 0")
        del j["spec"]["template"]
        self.assertError(j, "spec.template", "Required value")

    def test_deployment_and_service_rules(self):
        d = deployment()
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "other"
        self.assertError(d, "spec.template.metadata.labels", "does not match")
        del d["spec"]["selector"]
        self.assertError(d, "spec.selector", "Required value")
        s = service()
        s["spec"]["ports"][0]["port"] = 0
        s["spec"]["ports"][0]["protocol"] = "HTTP"
        s["spec"]["ports"].append({"port": 80})
        errors = crdschema.validate_child(s)
        for path in ("spec.ports[0].port", "spec.ports[0].protocol", "spec.ports[1].name"):
            self.assertIn(path, crdschema.paths(errors), errors)
        s["spec"]["ports"] = []
        self.assertError(s, "spec.ports", "Required value")

    def test_kubeflow_paddlejob_rules(self):
        """The Training Operator's webhook (v1.9.0 pkg/webhooks/paddlepaddle
        validateSpec): Master and Worker only, a container named paddle; its
        name is a DNS-1035 label (validatePaddleJob)."""
        job = kubeflow_paddlejob()
        self.assertEqual(crdschema.validate_child(job), [])
        job["spec"]["paddleReplicaSpecs"]["PS"] = copy.deepcopy(job["spec"]["paddleReplicaSpecs"]["Master"])
        self.assertError(job, "spec.paddleReplicaSpecs[PS]", "Unsupported value")
        job = kubeflow_paddlejob()
        job["spec"]["paddleReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["name"] = "trainer"
        self.assertError(job, "spec.paddleReplicaSpecs[Worker].template.spec.containers", "named \"paddle\"")
        job = kubeflow_paddlejob()
        job["spec"]["sampleSetRef"] = {"name": "icdar2015"}   # paddle-operator's field: pruned here
        self.assertIn("spec.sampleSetRef", crdschema.paths(crdschema.validate_child(job)))
        job = kubeflow_paddlejob()
        job["metadata"]["name"] = "1ocr"
        self.assertError(job, "metadata.name", "DNS-1035")

    def test_claim_rules(self):
        pvc = claim()
        self.assertEqual(crdschema.validate_child(pvc), [])
        pvc["spec"]["accessModes"] = ["ReadWriteSometimes"]
        self.assertError(pvc, "spec.accessModes[0]", "Unsupported value")
        pvc = claim()
        del pvc["spec"]["resources"]["requests"]["storage"]
        self.assertError(pvc, "spec.resources.requests[storage]", "Required value")

    def test_many_children_are_cheap(self):
        children = [make() for make in VALID_CHILDREN] * 300
        self.assertFalse(any(crdschema.validate_child(c) for c in children))


class CrdSchemaValidateTest(unittest.TestCase):
    def test_reference_files_load(self):
        for (api_version, kind) in crdschema.CHILD_KINDS[:4]:
            ref = crdschema.reference(api_version, kind)
            self.assertEqual("%s/%s" % (ref["group"], ref["version"]), api_version)
            self.assertEqual((ref["kind"], ref["scope"]), (kind, "Namespaced"))
            self.assertIs(ref, crdschema.reference(api_version, kind))

    def test_validate_checks_type_meta_and_name(self):
        ref = crdschema.reference("batch.paddlepaddle.org/v1alpha1", "SampleSet")
        self.assertEqual(crdschema.validate(ref, sampleset()), [])
        obj = dict(sampleset(), apiVersion="batch.paddlepaddle.org/v1", kind="Sampleset", metadata={})
        self.assertEqual(set(crdschema.paths(crdschema.validate(ref, obj))), {"apiVersion", "kind", "metadata.name"})

    def test_load_crd_manifest(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "trainings.paddlex.paddlepaddle.org"},
               "spec": {"group": "paddlex.paddlepaddle.org", "scope": "Namespaced",
                        "names": {"kind": "Training", "plural": "trainings"},
                        "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": {
                            "openAPIV3Schema": {"type": "object", "properties": {
                                "spec": {"type": "object", "properties": {"image": {"type": "string"}},
                                         "required": ["image"]}}}}}]}}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "crds.json")
            with open(path, "w") as f:
                json.dump({"apiVersion": "v1", "kind": "List", "items": [crd]}, f)
            schema = crdschema.load(path, kind="trainings")
        self.assertEqual((schema["kind"], schema["version"], schema["plural"]), ("Training", "v1alpha1", "trainings"))
        obj = {"apiVersion": "paddlex.paddlepaddle.org/v1alpha1", "kind": "Training",
               "metadata": {"name": "t", "namespace": "n"}, "spec": {"imgae": "x"}}
        self.assertEqual(crdschema.validate(schema, obj), ["pruned: spec.imgae", "spec.image: Required value"])

    def check(self, schema, value):
        return crdschema.validate(schema, value)

    def test_scalar_types(self):
        self.assertEqual(self.check({"type": "number"}, 1), [])
        self.assertEqual(self.check({"type": "number"}, 1.5), [])
        self.assertTrue(self.check({"type": "number"}, True))
        self.assertTrue(self.check({"type": "integer"}, False))
        self.assertTrue(self.check({"type": "boolean"}, 0))
        self.assertTrue(self.check({"type": "string"}, None))
        self.assertEqual(self.check({"type": "string", "nullable": True}, None), [])

    def test_number_bounds(self):
        s = {"type": "integer", "minimum": 1, "maximum": 3, "exclusiveMaximum": True}
        self.assertEqual(self.check(s, 2), [])
        self.assertEqual(crdschema.paths(self.check(s, 3)), ["<root>"])
        self.assertTrue(self.check(s, 0))
        self.assertTrue(self.check({"type": "integer", "multipleOf": 2}, 3))

    def test_pattern_uses_search(self):
        self.assertEqual(self.check({"type": "string", "pattern": "b"}, "abc"), [])
        self.assertEqual(self.check({"type": "string", "pattern": "^/.*"}, "/x"), [])
        self.assertTrue(self.check({"type": "string", "pattern": "^/.*"}, "x/"))

    def test_objects_open_and_closed(self):
        closed = {"type": "object", "properties": {"a": {"type": "string"}}}
        self.assertEqual(self.check({"type": "object", "properties": {"o": closed}}, {"o": {"b": 1}}),
                         ["pruned: o.b"])
        self.assertEqual(self.check({"type": "object"}, {"b": 1}), ["pruned: b"])
        preserve = dict(closed, **{"x-kubernetes-preserve-unknown-fields": True})
        self.assertEqual(self.check(preserve, {"a": "x", "b": {"c": 1}}), [])
        self.assertTrue(self.check(preserve, {"a": 1}))
        mapping = {"type": "object", "additionalProperties": {"type": "integer"}}
        self.assertEqual(self.check(mapping, {"x": 1}), [])
        self.assertEqual(crdschema.paths(self.check(mapping, {"x": "1"})), ["[x]"])
        self.assertEqual(self.check({"type": "object", "additionalProperties": True}, {"x": [1]}), [])

    def test_arrays(self):
        s = {"type": "array", "items": {"type": "string"}, "maxItems": 2}
        self.assertEqual(self.check(s, ["a"]), [])
        self.assertTrue(self.check(s, ["a", "b", "c"]))
        self.assertEqual(crdschema.paths(self.check(s, ["a", 1])), ["[1]"])
        st = {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
        self.assertEqual(crdschema.paths(self.check(st, ["a", "b", "a"])), ["[2]"])

    def test_junctors(self):
        any_of = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 2}]}
        self.assertEqual(self.check(any_of, 1), [])
        self.assertEqual(self.check(any_of, "ab"), [])
        self.assertTrue(self.check(any_of, "a"))
        one_of = {"oneOf": [{"minimum": 0}, {"maximum": 10}]}
        self.assertEqual(self.check(one_of, 20), [])
        self.assertTrue(self.check(one_of, 5))
        all_of = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                  "allOf": [{"required": ["a"]}, {"properties": {"a": {"maximum": 3}}}]}
        self.assertEqual(self.check(all_of, {"a": 1, "b": 2}), [])
        self.assertEqual(len(self.check(all_of, {"a": 4})), 1)
        self.assertTrue(self.check(all_of, {"b": 1}))
        self.assertTrue(self.check({"type": "string", "not": {"enum": ["x"]}}, "x"))

    def test_required_satisfied_by_default(self):
        s = {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"]}
        self.assertEqual(self.check(s, {}), [])

    def test_embedded_resource(self):
        s = {"type": "object", "properties": {"child": {
            "type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True}}}
        ok = {"child": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}}
        self.assertEqual(self.check(s, ok), [])
        bad = {"child": {"metadata": {"name": "C", "bogus": 1}}}
        self.assertEqual(set(crdschema.paths(self.check(s, bad))),
                         {"child.apiVersion", "child.kind", "child.metadata.name", "child.metadata.bogus"})


# ================================================================== common

FAKE_BINARY = textwrap.dedent(r'''
    """A stand-in for paddlex-webhook: `serve` and `review mutate`, with
    failure modes chosen by FAKE_* environment variables."""
    import base64, json, os, signal, ssl, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def answer(review):
        patch = [{"op": "add", "path": "/metadata/labels", "value": {"fake": "yes"}}]
        if os.environ.get("FAKE_BAD_PATCH"):
            patch = [{"op": "add", "path": "/spec/missing/x", "value": 1}]
        uid = review["request"]["uid"]
        if os.environ.get("FAKE_WRONG_UID"):
            uid = "not-" + uid
        return {"apiVersion": review["apiVersion"], "kind": "AdmissionReview",
                "response": {"uid": uid, "allowed": True, "patchType": "JSONPatch",
                             "patch": base64.b64encode(json.dumps(patch).encode()).decode()}}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args):
            pass
        def send(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            if self.path == "/healthz":
                self.send(200, b"ok\n", "text/plain")
            else:
                self.send(404, b"not found\n", "text/plain")
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                review = json.loads(body)
                review["request"]["uid"]
            except Exception:
                return self.send(400, b"bad review\n", "text/plain")
            self.send(200, json.dumps(answer(review)).encode(), "application/json")

    def serve(args):
        opts = dict(zip(args[::2], args[1::2]))
        if os.environ.get("FAKE_FAIL_START"):
            sys.exit("fake: cannot start: " + os.environ["FAKE_FAIL_START"])
        host, port = opts["--listen"].rsplit(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts["--tls-cert"], opts["--tls-key"])
        httpd = ThreadingHTTPServer((host, int(port)), Handler)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        def on_term(*_):
            if os.environ.get("FAKE_IGNORE_TERM"):
                return
            threading.Thread(target=httpd.shutdown).start()
        signal.signal(signal.SIGTERM, on_term)
        print("fake: serving", file=sys.stderr, flush=True)
        httpd.serve_forever(poll_interval=0.05)
        sys.exit(int(os.environ.get("FAKE_EXIT", "0")))

    if sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif sys.argv[1:3] == ["review", "mutate"]:
        try:
            review = json.load(sys.stdin)
        except ValueError:
            sys.exit("fake: stdin is not JSON")
        json.dump(answer(review), sys.stdout)
''')


class FakeBinaryCase(unittest.TestCase):
    """Provides self.fake: an executable stand-in for the binary."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="paddlex-fake-")
        cls.fake = os.path.join(cls.dir, "fake-webhook")
        with open(cls.fake, "w") as f:
            f.write("#!%s\n%s" % (sys.executable, FAKE_BINARY))
        os.chmod(cls.fake, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def server(self, **kw):
        return common.Server(bin=self.fake, **kw)


class ReviewTest(unittest.TestCase):
    TRAINING = {"apiVersion": "paddlex.paddlepaddle.org/v1alpha1", "kind": "Training",
                "metadata": {"name": "ocr"}, "spec": {"project": "PaddleOCR"}}

    def test_create_v1(self):
        rv = common.review(self.TRAINING, namespace="team-a")
        self.assertEqual((rv["apiVersion"], rv["kind"]), ("admission.k8s.io/v1", "AdmissionReview"))
        req = rv["request"]
        self.assertEqual(req["kind"], {"group": "paddlex.paddlepaddle.org", "version": "v1alpha1", "kind": "Training"})
        self.assertEqual(req["resource"], {"group": "paddlex.paddlepaddle.org", "version": "v1alpha1",
                                           "resource": "trainings"})
        self.assertEqual((req["requestKind"], req["requestResource"]), (req["kind"], req["resource"]))
        self.assertEqual((req["name"], req["namespace"], req["operation"]), ("ocr", "team-a", "CREATE"))
        self.assertEqual(req["object"]["metadata"]["namespace"], "team-a")
        self.assertIsNone(req["oldObject"])
        self.assertIs(req["dryRun"], False)
        self.assertEqual(req["options"]["kind"], "CreateOptions")
        self.assertEqual(req["userInfo"], {"username": "kubernetes-admin",
                                           "groups": ["system:masters", "system:authenticated"]})
        self.assertEqual(len(req["uid"]), 36)
        self.assertNotIn("namespace", self.TRAINING["metadata"])
        self.assertNotEqual(req["uid"], common.review(self.TRAINING)["request"]["uid"])

    def test_namespace_defaults_and_conflicts(self):
        self.assertEqual(common.review(self.TRAINING)["request"]["namespace"], "default")
        obj = copy.deepcopy(self.TRAINING)
        obj["metadata"]["namespace"] = "team-b"
        self.assertEqual(common.review(obj)["request"]["namespace"], "team-b")
        with self.assertRaises(ValueError):
            common.review(obj, namespace="team-a")

    def test_update_delete_and_v1beta1(self):
        with self.assertRaises(ValueError):
            common.review(self.TRAINING, operation="UPDATE")
        rv = common.review(self.TRAINING, operation="UPDATE", old=self.TRAINING, version="v1beta1", uid="u1")
        self.assertEqual((rv["apiVersion"], rv["request"]["uid"]), ("admission.k8s.io/v1beta1", "u1"))
        self.assertEqual(rv["request"]["oldObject"]["metadata"]["name"], "ocr")
        self.assertEqual(rv["request"]["options"]["kind"], "UpdateOptions")
        rv = common.review(self.TRAINING, operation="DELETE")
        self.assertIsNone(rv["request"]["object"])
        self.assertEqual(rv["request"]["oldObject"]["spec"], self.TRAINING["spec"])
        self.assertEqual(rv["request"]["options"]["kind"], "DeleteOptions")

    def test_users_dry_run_kind_and_server_metadata(self):
        sa = "system:serviceaccount:kubeflow:pipeline-runner"
        info = common.review(self.TRAINING, user=sa)["request"]["userInfo"]
        self.assertEqual(info["groups"], ["system:serviceaccounts", "system:serviceaccounts:kubeflow",
                                          "system:authenticated"])
        self.assertIn("uid", info)
        self.assertEqual(common.review(self.TRAINING, user="alice", groups=["devs"])["request"]["userInfo"],
                         {"username": "alice", "groups": ["devs"]})
        rv = common.review(self.TRAINING, dry_run=True, kind="Serving")
        self.assertIs(rv["request"]["dryRun"], True)
        self.assertEqual(rv["request"]["options"]["dryRun"], ["All"])
        self.assertEqual(rv["request"]["resource"]["resource"], "servings")
        rv = common.review(self.TRAINING, operation="UPDATE", old=self.TRAINING, server_metadata=True)
        for o in (rv["request"]["object"], rv["request"]["oldObject"]):
            self.assertTrue({"uid", "resourceVersion", "generation", "managedFields"} <= o["metadata"].keys())


class CertsTest(unittest.TestCase):
    def test_certs_verify_and_keys_are_private(self):
        with tempfile.TemporaryDirectory() as d:
            certs = common.make_test_certs(d, names=("localhost", "paddlex-webhook.kubeflow.svc"))
            done = subprocess.run(["openssl", "verify", "-CAfile", certs.ca, certs.cert],
                                  capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            text = subprocess.run(["openssl", "x509", "-in", certs.cert, "-noout", "-text"],
                                  capture_output=True, text=True).stdout
            for want in ("DNS:localhost", "DNS:paddlex-webhook.kubeflow.svc", "IP Address:127.0.0.1",
                         "TLS Web Server Authentication"):
                self.assertIn(want, text)
            self.assertEqual(stat.S_IMODE(os.stat(certs.key).st_mode), 0o600)
            self.assertEqual(stat.S_IMODE(os.stat(certs.ca_key).st_mode), 0o600)
            again = common.make_test_certs(d, ca=(certs.ca, certs.ca_key), prefix="next-")
            self.assertEqual(again.ca, certs.ca)
            self.assertEqual(subprocess.run(["openssl", "verify", "-CAfile", certs.ca, again.cert],
                                            capture_output=True).returncode, 0)


class ServerFixtureTest(FakeBinaryCase):
    def test_serves_over_verified_tls_and_stops_cleanly(self):
        with self.server() as srv:
            conn = common.client(srv)
            self.assertEqual(common.request(conn, "GET", "/healthz")[0], 200)
            sock = conn.sock
            status, headers, body = common.post_json(conn, "/mutate", {"nope": 1})
            self.assertEqual((status, body), (400, "bad review\n"))
            self.assertIs(conn.sock, sock, "keep-alive connection was replaced")
            self.assertIn("fake: serving", srv.stderr_text())
            proc = srv.proc
        self.assertEqual(proc.returncode, 0)

    def test_mutate_and_apply(self):
        obj = {"apiVersion": "paddlex.paddlepaddle.org/v1alpha1", "kind": "Dataset", "metadata": {"name": "d"}}
        with self.server() as srv:
            conn = common.client(srv)
            answer, patched = common.mutate_and_apply(conn, obj, namespace="ns", version="v1beta1")
            self.assertEqual(answer["apiVersion"], "admission.k8s.io/v1beta1")
            self.assertEqual(patched["metadata"], {"name": "d", "namespace": "ns", "labels": {"fake": "yes"}})
        with self.server(env={"FAKE_BAD_PATCH": "1"}) as srv:
            with self.assertRaises(JsonPatchError):
                common.mutate_and_apply(common.client(srv), obj)
        with self.server(env={"FAKE_WRONG_UID": "1"}) as srv:
            with self.assertRaisesRegex(AssertionError, "uid"):
                common.mutate_and_apply(common.client(srv), obj)

    def test_untrusted_ca_is_refused(self):
        with tempfile.TemporaryDirectory() as d, self.server() as srv:
            other = common.make_test_certs(d)
            conn = common.client(srv, context=common.tls_context(other.ca))
            with self.assertRaises(ssl.SSLCertVerificationError):
                common.request(conn, "GET", "/healthz")

    def test_failed_start_reports_stderr(self):
        srv = self.server(env={"FAKE_FAIL_START": "no key"})
        with self.assertRaisesRegex(RuntimeError, "fake: cannot start: no key"):
            srv.__enter__()
        self.assertIsNotNone(srv.proc.poll())

    def test_exit_status_is_checked(self):
        with self.assertRaisesRegex(AssertionError, "status 3"):
            with self.server(env={"FAKE_EXIT": "3"}):
                pass
        with self.server(env={"FAKE_EXIT": "3"}, expect_exit=3):
            pass

    def test_server_ignoring_sigterm_is_killed(self):
        srv = self.server(env={"FAKE_IGNORE_TERM": "1"}, term_timeout=0.5)
        with self.assertRaisesRegex(AssertionError, "still running"):
            with srv:
                pass
        self.assertIsNotNone(srv.proc.poll())

    def test_failing_test_body_still_stops_server(self):
        with self.assertRaises(KeyError):
            with self.server() as srv:
                raise KeyError("test failed")
        self.assertEqual(srv.proc.returncode, 0)

    def test_review_cli(self):
        rv = common.review({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
        code, out, err = common.run_review_cli("mutate", rv, bin=self.fake)
        self.assertEqual((code, out["response"]["uid"]), (0, rv["request"]["uid"]))
        code, out, err = common.run_review_cli("mutate", b"{", bin=self.fake)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("not JSON", err)
        answer, patched = common.mutate_and_apply(common.cli("mutate", bin=self.fake),
                                                  {"apiVersion": "v1", "kind": "Pod", "metadata": {}})
        self.assertEqual(patched["metadata"]["labels"], {"fake": "yes"})


@common.needs_binary
class BinarySmokeTest(unittest.TestCase):
    """The fixtures against the real binary: only what every later test
    relies on (healthz over TLS, a clean SIGTERM, review answers the uid)."""

    def test_server_fixture(self):
        with common.Server() as srv:
            self.assertEqual(common.request(common.client(srv), "GET", "/healthz")[0], 200)

    def test_review_cli_answers_uid(self):
        rv = common.review(sampleset())
        code, out, err = common.run_review_cli("validate", rv)
        self.assertEqual(code, 0, err)
        self.assertEqual(out["response"]["uid"], rv["request"]["uid"])


if __name__ == "__main__":
    unittest.main()
