"""End-to-end tests of what each training operator gets (SPEC §9.2).

The real binary renders the PP-OCR pipeline (examples/pp-ocr.yaml) and
variants under policies that pick each operator (`render --policy`); every
child must validate against its reference CRD with nothing pruned
(tests/tools/crdschema.py), and the shape is checked against what the
operators' own source reads:

- kubeflow/training-operator v1.9.0: pkg/controller.v1/paddlepaddle/envvar.go
  (setPodEnv: a Master switches to PS mode, Master pods are the servers;
  getPortFromPaddleJob: the port named "master" of the container "paddle"),
  pkg/webhooks/paddlepaddle/paddlepaddle_webhook.go (validateSpec: Master and
  Worker only, a container named "paddle"), common_types.go (conditions);
- PaddleFlow/paddle-operator, branch sampleset: driver/juicefs.go (the
  engine Secret's keys, JuiceFSSupportStorage), base_controller.go
  (SecretObjectKey, SourceSecretObjectKey), paddlejob_helper.go
  (constructPodWithSampleSet names a volume after the SampleSet);
- kubeflow/pipelines: mlpipeline-minio-artifact, keys accesskey/secretkey.
"""
import copy
import json
import os
import subprocess
import tempfile
import unittest

import crdschema
from common import binary, needs_binary

from test_render import EXAMPLE, GROUP, REPO, TRAINING  # noqa: F401  (the shared fixtures)

ISTIO = "sidecar.istio.io/inject"
HEAD = "apiVersion: paddlex.paddlepaddle.org/v1alpha1\nkind: WebhookPolicy\n"


def pod_templates(child):
    """(where, template) of every pod template a child carries."""
    spec = child.get("spec", {})
    if "template" in spec:
        yield "spec.template", spec["template"]
    for role in ("worker", "ps", "heter"):
        if "template" in spec.get(role, {}):
            yield "spec.%s.template" % role, spec[role]["template"]
    for role, rs in spec.get("paddleReplicaSpecs", {}).items():
        yield "spec.paddleReplicaSpecs.%s.template" % role, rs["template"]


def containers(pod_spec):
    for field in ("initContainers", "containers"):
        for c in pod_spec.get(field, []):
            yield field, c


@needs_binary
class OperatorCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def policy(self, text):
        path = os.path.join(self.tmp.name, "policy.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(HEAD + text)
        return path

    def render(self, policy_text=None, docs=None, code=0):
        """`render -o json` of the example (or of docs) under a policy; the
        children, each checked against its reference schema."""
        args = [binary(), "render", "-o", "json"]
        if policy_text is not None:
            args += ["--policy", self.policy(policy_text)]
        if docs is None:
            r = subprocess.run(args + [EXAMPLE], capture_output=True, text=True, timeout=60)
        else:
            r = subprocess.run(args + ["-"], input="\n".join(json.dumps(d) for d in docs),
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, code, r.stderr)
        if code:
            return r.stderr
        items = json.loads(r.stdout)["items"]
        children = [d for d in items if d["apiVersion"] != GROUP]
        for c in children:
            self.assertEqual(crdschema.validate_child(c), [], "%s/%s" % (c["kind"], c["metadata"]["name"]))
        return children

    @staticmethod
    def find(children, kind, name):
        return next(c for c in children if c["kind"] == kind and c["metadata"]["name"] == name)


class TestKubeflow(OperatorCase):
    def test_pipeline(self):
        children = self.render("defaults:\n  trainingOperator: kubeflow\n")
        self.assertEqual([(c["apiVersion"], c["kind"], c["metadata"]["name"]) for c in children], [
            ("v1", "PersistentVolumeClaim", "icdar2015"), ("batch/v1", "Job", "icdar2015-sync"),
            ("kubeflow.org/v1", "PaddleJob", "ppocr-det"), ("apps/v1", "Deployment", "ppocr-det-visualdl"),
            ("v1", "Service", "ppocr-det-visualdl"), ("batch/v1", "Job", "ppocr-det-export"),
            ("batch/v1", "Job", "ppocr-det-convert"), ("batch/v1", "Job", "ppocr-det-upload"),
            ("serving.kserve.io/v1beta1", "InferenceService", "ppocr-det")])
        job = self.find(children, "PaddleJob", "ppocr-det")
        self.assertEqual(sorted(job["spec"]["paddleReplicaSpecs"]), ["Worker"])   # collective mode
        worker = job["spec"]["paddleReplicaSpecs"]["Worker"]
        self.assertEqual(worker["replicas"], 1)
        pod = worker["template"]["spec"]
        paddle = next(c for c in pod["containers"] if c["name"] == "paddle")
        self.assertIn({"name": "master", "containerPort": 36543, "protocol": "TCP"}, paddle["ports"])
        self.assertEqual(paddle["args"][:6], ["-m", "paddle.distributed.launch", "--gpus", "0", "--log_dir",
                                              "/mnt/task-center/log"])
        self.assertEqual(paddle["resources"]["limits"]["nvidia.com/gpu"], 1)
        # the data: the Dataset's claim, read-only, where the overrides point
        mount = next(m for m in paddle["volumeMounts"] if m["mountPath"] == "/mnt/data-center")
        self.assertTrue(mount["readOnly"])
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        self.assertEqual(volume["persistentVolumeClaim"], {"claimName": "icdar2015", "readOnly": True})
        self.assertIn("Train.dataset.data_dir=/mnt/data-center/", paddle["args"])
        # filled by the sync Job from the source with the source credentials
        sync = self.find(children, "Job", "icdar2015-sync")
        sc = sync["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(sc["args"], ["bos://paddleflow-public.hkg.bcebos.com/icdar2015/", "/mnt/data-center/"])
        self.assertIn("juicefs sync", sc["command"][2])
        self.assertEqual({e["valueFrom"]["secretKeyRef"]["name"] for e in sc["env"]}, {"data-source"})
        sync_volume = sync["spec"]["template"]["spec"]["volumes"][0]
        self.assertEqual(sync_volume["persistentVolumeClaim"]["claimName"], "icdar2015")
        pvc = self.find(children, "PersistentVolumeClaim", "icdar2015")
        self.assertEqual(pvc["spec"]["resources"]["requests"]["storage"], "10Gi")
        self.assertNotIn("storageClassName", pvc["spec"])

    def test_replica_mapping(self):
        """psReplicas -> Master (the servers), workerReplicas -> Worker (the
        trainers, with the GPUs), PADDLE_NNODES being their sum."""
        t = copy.deepcopy(TRAINING)
        t["spec"].update(workerReplicas=3, psReplicas=2, gpuPerNode=4)
        children = self.render("defaults:\n  trainingOperator: kubeflow\n", [t])
        specs = self.find(children, "PaddleJob", "det")["spec"]["paddleReplicaSpecs"]
        self.assertEqual({k: v["replicas"] for k, v in specs.items()}, {"Master": 2, "Worker": 3})
        for role, gpus in (("Master", None), ("Worker", 4)):
            c = specs[role]["template"]["spec"]["containers"][0]
            self.assertEqual(c["name"], "paddle")
            self.assertEqual(c["resources"].get("limits", {}).get("nvidia.com/gpu"), gpus)
            self.assertEqual(specs[role]["restartPolicy"], "OnFailure")
            self.assertEqual(c["args"][:2], ["-m", "paddle.distributed.launch"])
        self.assertEqual(specs["Master"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"], "master")

    def test_refuses_servers_without_trainers(self):
        t = copy.deepcopy(TRAINING)
        t["spec"].update(workerReplicas=0, psReplicas=2)
        err = self.render("defaults:\n  trainingOperator: kubeflow\n", [t], code=1)
        self.assertIn("spec.psReplicas: Forbidden: trainingOperator kubeflow", err)
        self.assertIn("Master beside its Worker trainers", err)
        # paddle-operator has a ps role of its own
        self.render(None, [t])

    def test_pipelines_secret_as_source(self):
        """A Dataset in Kubeflow's own MinIO names the Pipelines Secret: the
        sync Job reads its key names (accesskey, secretkey)."""
        ds = {"apiVersion": GROUP, "kind": "Dataset", "metadata": {"name": "d", "namespace": "ns"},
              "spec": {"sourceUri": "minio://minio-service.kubeflow:9000/mlpipeline/data/",
                       "sourceSecret": "mlpipeline-minio-artifact"}}
        children = self.render("defaults:\n  trainingOperator: kubeflow\n", [ds])
        env = self.find(children, "Job", "d-sync")["spec"]["template"]["spec"]["containers"][0]["env"]
        self.assertEqual([e["valueFrom"]["secretKeyRef"]["key"] for e in env], ["accesskey", "secretkey"])

    def test_every_project_and_switch_validates(self):
        for operator in ("paddle-operator", "kubeflow"):
            docs = []
            for project in ("PaddleOCR", "PaddleClas", "PaddleDetection"):
                for gpus, ps, flags in ((0, 0, False), (2, 1, True)):
                    t = copy.deepcopy(TRAINING)
                    t["metadata"]["name"] = "%s-%d" % (project.lower(), gpus)
                    t["spec"].update(project=project, gpuPerNode=gpus, psReplicas=ps, useVisualDL=flags,
                                     saveInference=flags, pretrainModel="https://h.example/m.pdparams")
                    docs.append(t)
            with self.subTest(operator=operator):
                children = self.render("defaults:\n  trainingOperator: %s\n" % operator, docs)
                self.assertEqual(len([c for c in children if c["kind"] == "PaddleJob"]), 6)

    def test_claim_size_and_class(self):
        children = self.render("defaults:\n  trainingOperator: kubeflow\n  dataClaimSize: 200Gi\n"
                               "  dataStorageClass: cephfs\n  dataSyncImage: registry.example/juicefs:1.1\n")
        pvc = self.find(children, "PersistentVolumeClaim", "icdar2015")
        self.assertEqual(pvc["spec"]["resources"]["requests"]["storage"], "200Gi")
        self.assertEqual(pvc["spec"]["storageClassName"], "cephfs")
        sync = self.find(children, "Job", "icdar2015-sync")
        self.assertEqual(sync["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/juicefs:1.1")

    def test_namespace_rule_picks_the_operator(self):
        t = copy.deepcopy(TRAINING)
        other = copy.deepcopy(TRAINING)
        other["metadata"]["namespace"] = "kubeflow-user"
        children = self.render('namespaces:\n  - match: "team-*"\n    defaults:\n      trainingOperator: kubeflow\n',
                               [t, other])
        self.assertEqual([c["apiVersion"] for c in children if c["kind"] == "PaddleJob"],
                         ["kubeflow.org/v1", "batch.paddlepaddle.org/v1"])


class TestPaddleOperator(OperatorCase):
    def test_sampleset_secrets(self):
        children = self.render(None)
        ss = self.find(children, "SampleSet", "icdar2015")
        # the engine's Secret (JuiceFS keys name, storage, metaurl, bucket),
        # distinct from the source credentials
        self.assertEqual(ss["spec"]["secretRef"], {"name": "data-center"})
        self.assertEqual(ss["spec"]["source"]["secretRef"], {"name": "data-source"})
        job = self.find(children, "PaddleJob", "ppocr-det")
        self.assertEqual(job["apiVersion"], "batch.paddlepaddle.org/v1")
        self.assertEqual(job["spec"]["sampleSetRef"], {"name": "icdar2015", "mountPath": "/mnt/data-center"})
        children = self.render("defaults:\n  trainingOperator: paddle-operator\n  engineSecret: juicefs-redis\n")
        self.assertEqual(self.find(children, "SampleSet", "icdar2015")["spec"]["secretRef"], {"name": "juicefs-redis"})

    def test_schemes(self):
        ds = {"apiVersion": GROUP, "kind": "Dataset", "metadata": {"name": "d", "namespace": "ns"},
              "spec": {"sourceUri": "https://data.example.com/icdar2015/", "sourceSecret": "s"}}
        for operator in ("paddle-operator", "kubeflow"):
            err = self.render("defaults:\n  trainingOperator: %s\n" % operator, [ds], code=1)
            self.assertIn('unsupported scheme "https": the JuiceFS engine reads bos, s3,', err)
        ok = copy.deepcopy(ds)
        ok["spec"]["sourceUri"] = "minio://minio-service.kubeflow:9000/data/icdar2015"
        self.render(None, [ok])

    def test_volume_names_reserved(self):
        ds = {"apiVersion": GROUP, "kind": "Dataset", "metadata": {"name": "dshm", "namespace": "ns"},
              "spec": {"sourceUri": "s3://bucket.example/icdar2015/", "sourceSecret": "s"}}
        err = self.render(None, [ds], code=1)
        self.assertIn('metadata.name: Forbidden: paddle-operator names a volume', err)
        t = copy.deepcopy(TRAINING)
        t["spec"]["dataset"] = "task-center"
        err = self.render(None, [t], code=1)
        self.assertIn('spec.dataset: Forbidden:', err)
        self.render("defaults:\n  trainingOperator: kubeflow\n", [ds, t])


class TestPods(OperatorCase):
    OPERATORS = (None, "defaults:\n  trainingOperator: kubeflow\n")

    def test_every_pod_template_istio_and_requests(self):
        for policy in self.OPERATORS:
            children = self.render(policy)
            n = 0
            for child in children:
                for where, tpl in pod_templates(child):
                    n += 1
                    with self.subTest(policy=policy, child=child["metadata"]["name"], at=where):
                        self.assertEqual(tpl["metadata"]["annotations"][ISTIO], "false")
                        for field, c in containers(tpl["spec"]):
                            requests = c["resources"]["requests"]
                            self.assertIn("cpu", requests, c["name"])
                            self.assertIn("memory", requests, c["name"])
                isvc = child.get("spec", {}).get("predictor")
                if isvc:
                    for c in isvc["containers"]:
                        self.assertEqual(sorted(c["resources"]["requests"]), ["cpu", "memory"])
            # PaddleJob worker, VisualDL, export, convert, upload (+ kubeflow's sync)
            self.assertEqual(n, 5 if policy is None else 6)

    def test_policy_says_otherwise(self):
        children = self.render("defaults:\n  pod:\n    annotations:\n      sidecar.istio.io/inject: \"true\"\n")
        for child in children:
            for where, tpl in pod_templates(child):
                self.assertEqual(tpl["metadata"]["annotations"][ISTIO], "true")

    def test_pod_defaults(self):
        policy = ("defaults:\n  pod:\n"
                  "    tolerations:\n    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}\n"
                  "    nodeSelector: {pool: gpu}\n    serviceAccountName: default-editor\n"
                  "    priorityClassName: batch-low\n    labels: {access-ml-pipeline: \"true\"}\n"
                  "    annotations: {team: ocr}\n"
                  "    resources:\n      worker: {requests: {cpu: \"8\", memory: 32Gi}}\n"
                  "      helper: {limits: {cpu: \"1\", memory: 2Gi}}\n"
                  "namespaces:\n  - match: gpu-free\n    defaults:\n      trainingOperator: kubeflow\n"
                  "      pod:\n        tolerations: []\n")
        for ns, tolerations in (("kubeflow", [{"key": "nvidia.com/gpu", "operator": "Exists",
                                               "effect": "NoSchedule"}]), ("gpu-free", [])):
            docs = []
            with open(EXAMPLE, encoding="utf-8") as f:
                import yaml  # python3-yaml: `make deps` installs it
                for d in yaml.safe_load_all(f):
                    if d:
                        d["metadata"]["namespace"] = ns
                        docs.append(d)
            children = self.render(policy, docs)
            for child in children:
                for where, tpl in pod_templates(child):
                    with self.subTest(ns=ns, child=child["metadata"]["name"], at=where):
                        spec = tpl["spec"]
                        self.assertEqual(spec["tolerations"], tolerations)
                        self.assertEqual(spec["nodeSelector"], {"pool": "gpu"})
                        self.assertEqual(spec["serviceAccountName"], "default-editor")
                        self.assertEqual(spec["priorityClassName"], "batch-low")
                        self.assertEqual(tpl["metadata"]["labels"]["access-ml-pipeline"], "true")
                        self.assertEqual(tpl["metadata"]["annotations"], {ISTIO: "false", "team": "ocr"})
                        for field, c in containers(spec):
                            if c["name"] == "paddle" and "worker" in where.lower():
                                self.assertEqual(c["resources"]["requests"], {"cpu": "8", "memory": "32Gi"})
                            if child["kind"] == "Job":
                                # limited, not requested: the apiserver requests the limit
                                limits = dict(c["resources"]["limits"])
                                limits.pop("nvidia.com/gpu", None)   # the export's device stays
                                self.assertEqual(limits, {"cpu": "1", "memory": "2Gi"})
                                self.assertNotIn("cpu", c["resources"].get("requests", {}))
                predictor = child.get("spec", {}).get("predictor")
                if predictor:
                    self.assertEqual(predictor["tolerations"], tolerations)
                    self.assertEqual(predictor["serviceAccountName"], "default-editor")
                    self.assertEqual(predictor["labels"], {"access-ml-pipeline": "true"})

    def test_bad_pod_policies_are_refused_at_load(self):
        for text, want in (
            ("defaults:\n  pod:\n    tolerations: [{key: gpu, operator: In}]\n",
             "defaults.pod.tolerations[0].operator: must be \"Exists\" or \"Equal\""),
            ("defaults:\n  pod:\n    resources: {worker: {requests: {cpu: lots}}}\n",
             "defaults.pod.resources.worker.requests[cpu]: must be a quantity"),
            ("defaults:\n  pod:\n    labels: {team: [a]}\n", "defaults.pod.labels[team]: must be a string"),
            ("defaults:\n  trainingOperator: volcano\n", "defaults.trainingOperator: Unsupported value"),
        ):
            with self.subTest(policy=text):
                err = self.render(text, [TRAINING], code=2)   # a usage error: the policy file
                self.assertIn(want, err)


class TestCredentials(OperatorCase):
    def upload_env(self, children):
        up = self.find(children, "Job", "ppocr-det-upload")
        env = up["spec"]["template"]["spec"]["containers"][0]["env"]
        return [(e["name"], e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                for e in env]

    def test_kubeflow_pipelines_secret_by_default(self):
        self.assertEqual(self.upload_env(self.render(None)), [
            ("MINIO_ACCESS_KEY", "mlpipeline-minio-artifact", "accesskey"),
            ("MINIO_SECRET_KEY", "mlpipeline-minio-artifact", "secretkey")])

    def test_configurable(self):
        children = self.render("defaults:\n  credentialsSecret: minio-creds\n  credentialsAccessKey: access-key\n"
                               "  credentialsSecretKey: secret-key\n")
        self.assertEqual(self.upload_env(children), [("MINIO_ACCESS_KEY", "minio-creds", "access-key"),
                                                     ("MINIO_SECRET_KEY", "minio-creds", "secret-key")])


if __name__ == "__main__":
    unittest.main()
