"""End-to-end tests of the multi-tenant policy (SPEC §4.8).

The real server runs with --policy; reviews arrive from several namespaces
and users, as the kube-apiserver would send them. The file is then swapped
the two ways a cluster does it (write + rename, and a ConfigMap's "..data"
symlink swap), broken (the old policy stays, the failure is counted), and
broken at start (the server refuses to start). The offline
`review --policy` answers exactly as the server does. A policy of 10,000
rules answers as a short one does.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from common import (Server, binary, client, default_certs, free_port, mutate_and_apply, needs_binary,
                    request, review, run_review_cli, send_review)

HEADER = "apiVersion: paddlex.paddlepaddle.org/v1alpha1\nkind: WebhookPolicy\n"

POLICY = HEADER + """\
defaults:
  port: 9001
limits:
  maxGpuPerNode: 8
allow:
  imageRegistries: ["registry.baidubce.com/paddleflow-public/", "docker.io/"]
  sourceUriSchemes: [bos, s3]
  endpointHosts: ["minio-service.kubeflow", "*.minio.svc"]
namespaces:
  - match: "team-*"
    defaults: {endpoint: "http://team.minio.svc:9000"}
    limits: {maxGpuPerNode: 2, maxTotalGpus: 4}
  - match: "team-vision"
    limits: {maxGpuPerNode: 4}
exempt:
  users: ["system:serviceaccount:kubeflow:pipeline-runner"]
  groups: ["paddlex:admins"]
"""

# The same with team-* raised to 6 GPUs per node: a reload is visible as
# gpuPerNode 3 in team-a turning from denied to allowed.
POLICY_RAISED = POLICY.replace("maxGpuPerNode: 2,", "maxGpuPerNode: 6,")

BAD_POLICY = HEADER + """\
namespaces:
  - match: "team-*"
  - match: "lab-*"
    limits: {maxGpuPerNode: -1}
"""
BAD_POLICY_ERROR = "namespaces[1].limits.maxGpuPerNode: must be an integer ≥ 0"

GROUP = "paddlex.paddlepaddle.org/v1alpha1"
RELOAD_MS = "100"
WITHIN = 5.0        # seconds a change may take to show


def training(namespace, **spec):
    base = {"project": "PaddleOCR", "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.6",
            "configPath": "configs/det/det.yml", "dataset": "ocr-data", "pvcName": "task-pvc",
            "workerReplicas": 1, "gpuPerNode": 1}
    base.update(spec)
    return {"apiVersion": GROUP, "kind": "Training",
            "metadata": {"name": "ocr", "namespace": namespace}, "spec": base}


def dataset(namespace, **spec):
    base = {"sourceUri": "bos://bucket/ocr/data", "sourceSecret": "bos-keys"}
    base.update(spec)
    return {"apiVersion": GROUP, "kind": "Dataset",
            "metadata": {"name": "ocr-data", "namespace": namespace}, "spec": base}


def serving(namespace, **spec):
    base = {"image": "registry.baidubce.com/paddleflow-public/serving:v0.9.0"}
    base.update(spec)
    return {"apiVersion": GROUP, "kind": "Serving",
            "metadata": {"name": "ocr", "namespace": namespace}, "spec": base}


ADMIN = {}                                                   # kubernetes-admin, system:masters
RUNNER = {"user": "system:serviceaccount:kubeflow:pipeline-runner"}
ALICE = {"user": "alice", "groups": ["team-a-devs", "system:authenticated"]}
ADMINS = {"user": "bob", "groups": ["paddlex:admins", "system:authenticated"]}

# (name, object, reviewer, denials as (field, substrings of the cause message)),
# no denials meaning allowed
CASES = [
    ("team glob caps gpuPerNode", training("team-a", gpuPerNode=3), ALICE,
     [("spec.gpuPerNode", ["3 exceeds the limit maxGpuPerNode=2", "policy rule: namespaces[team-*]"])]),
    ("team glob allows its cap", training("team-a", gpuPerNode=2), ALICE, []),
    ("exact name beats the glob", training("team-vision", gpuPerNode=3), ALICE, []),
    ("exact name's own cap", training("team-vision", gpuPerNode=5), ALICE,
     [("spec.gpuPerNode", ["maxGpuPerNode=4", "policy rule: namespaces[team-vision]"])]),
    ("cluster cap elsewhere", training("default", gpuPerNode=9), ADMIN,
     [("spec.gpuPerNode", ["maxGpuPerNode=8", "policy rule: cluster"])]),
    ("cluster allows its cap", training("default", gpuPerNode=8), ADMIN, []),
    ("total GPUs", training("team-a", workerReplicas=3, gpuPerNode=2), ALICE,
     [("spec.gpuPerNode", ["workerReplicas x gpuPerNode = 6", "maxTotalGpus=4",
                           "policy rule: namespaces[team-*]"])]),
    ("exempt user", training("team-a", gpuPerNode=9, image="quay.io/x/y:1"), RUNNER, []),
    ("exempt group", training("team-a", gpuPerNode=9), ADMINS, []),
    ("image registry", training("default", image="quay.io/evil/miner:1"), ADMIN,
     [("spec.image", ['image "quay.io/evil/miner:1" is not under any prefix in allow.imageRegistries',
                      "policy rule: cluster"])]),
    ("docker hub short name", training("default", image="paddlepaddle/paddle:2.5.1"), ADMIN, []),
    ("registry prefix boundary", training("default", image="registry.baidubce.com/paddleflow-publicity/x:1"),
     ADMIN, [("spec.image", ["allow.imageRegistries"])]),
    ("source scheme", dataset("team-a", sourceUri="hdfs://namenode/ocr/data"), ALICE,
     [("spec.sourceUri", ['scheme "hdfs" is not in allow.sourceUriSchemes', "namespaces[team-*]"])]),
    ("source scheme allowed", dataset("team-a"), ALICE, []),
    ("endpoint host", serving("default", endpoint="http://minio.evil.example.com:9000"), ADMIN,
     [("spec.endpoint", ['host "minio.evil.example.com" is not in allow.endpointHosts', "policy rule: cluster"])]),
    ("endpoint host glob", serving("default", endpoint="http://store.minio.svc:9000"), ADMIN, []),
    ("several denials at once", training("team-a", gpuPerNode=3, image="quay.io/x/y:1"), ALICE,
     [("spec.gpuPerNode", ["maxGpuPerNode=2"]), ("spec.image", ["allow.imageRegistries"])]),
]


def write_atomically(path, text):
    """As an editor or `kubectl cp` + mv would: a new file renamed over."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def eventually(check, timeout=WITHIN, what="the condition"):
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("%s did not hold within %.0f s" % (what, timeout))
        time.sleep(0.05)


@needs_binary
class PolicyCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="paddlex-policy-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.policy = os.path.join(self.tmp, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(POLICY)

    def serve(self, policy=None):
        srv = Server(["--policy", policy or self.policy, "--reload-interval", RELOAD_MS])
        srv.start()
        self.addCleanup(srv.stop)
        conn = client(srv)
        self.addCleanup(conn.close)
        return srv, conn

    def validate(self, conn, obj, who=None):
        return send_review(conn, "/validate", review(obj, **(who or {})))["response"]

    def assert_verdict(self, response, denials, label=""):
        if not denials:
            self.assertTrue(response["allowed"], "%s: %s" % (label, response.get("status")))
            return
        self.assertFalse(response["allowed"], label)
        status = response["status"]
        self.assertEqual(status["code"], 403, label)
        self.assertEqual(status["reason"], "Forbidden", label)
        causes = status["details"]["causes"]
        self.assertEqual([c["field"] for c in causes], [d[0] for d in denials], label)
        for cause, (field, wants) in zip(causes, denials):
            self.assertEqual(cause["reason"], "FieldValueForbidden", label)
            for want in wants:
                self.assertIn(want, cause["message"], label)
                self.assertIn(want, status["message"], label)

    def gpu3_allowed(self, conn):
        return self.validate(conn, training("team-a", gpuPerNode=3), ALICE)["allowed"]

    def serve_fails(self, path):
        """serve with a good certificate and the given policy: must not start."""
        certs = default_certs()
        done = subprocess.run([binary(), "serve", "--listen", "127.0.0.1:%d" % free_port(),
                               "--tls-cert", certs.cert, "--tls-key", certs.key, "--policy", path],
                              capture_output=True, text=True, timeout=10)
        self.assertNotEqual(done.returncode, 0, done.stderr)
        return done.stderr

    @staticmethod
    def reloads(conn, result):
        status, _, text = request(conn, "GET", "/metrics")
        assert status == 200, status
        m = re.search(r'^paddlex_webhook_policy_reloads_total\{result="%s"\} (\d+)$' % result, text, re.M)
        assert m, "no policy reload counter in /metrics"
        return int(m.group(1))


class PolicyVerdictTest(PolicyCase):
    def test_verdicts_by_namespace_and_user(self):
        _, conn = self.serve()
        for name, obj, who, denials in CASES:
            with self.subTest(name):
                self.assert_verdict(self.validate(conn, obj, who), denials, name)

    def test_policy_and_schema_errors_together_are_invalid(self):
        _, conn = self.serve()
        response = self.validate(conn, training("team-a", gpuPerNode=3, workerReplicas=-1), ALICE)
        self.assertFalse(response["allowed"])
        self.assertEqual(response["status"]["code"], 422)
        self.assertEqual(response["status"]["reason"], "Invalid")
        reasons = {c["field"]: c["reason"] for c in response["status"]["details"]["causes"]}
        self.assertEqual(reasons, {"spec.workerReplicas": "FieldValueInvalid",
                                   "spec.gpuPerNode": "FieldValueForbidden"})

    def test_policy_defaults_flow_into_mutation(self):
        _, conn = self.serve()
        _, obj = mutate_and_apply(conn, serving("default"))
        self.assertEqual(obj["spec"]["port"], 9001)
        self.assertEqual(obj["spec"]["endpoint"], "http://minio-service.kubeflow:9000")
        _, obj = mutate_and_apply(conn, serving("team-a"), **ALICE)
        self.assertEqual(obj["spec"]["port"], 9001)
        self.assertEqual(obj["spec"]["endpoint"], "http://team.minio.svc:9000")
        isvc = obj["spec"]["generated"][0]
        env = isvc["spec"]["predictor"]["containers"][0]["env"]
        self.assertTrue(any(e.get("value", "").startswith("http://team.minio.svc:9000/") for e in env), env)
        # the mutated object passes /validate under the same policy
        self.assert_verdict(self.validate(conn, obj, ALICE), [])

    def test_offline_review_answers_alike(self):
        _, conn = self.serve()
        for name, obj, who, _ in CASES:
            for path, mode in (("/validate", "validate"), ("/mutate", "mutate")):
                with self.subTest(name, mode=mode):
                    req = review(obj, **who)
                    online = send_review(conn, path, req)
                    # the server seals with a key derived from its TLS key
                    code, offline, err = run_review_cli(mode, req, ["--policy", self.policy,
                                                                    "--seal-key", default_certs().key])
                    self.assertEqual(code, 0, err)
                    self.assertEqual(offline, online)

    def test_offline_review_refuses_an_invalid_policy(self):
        with open(self.policy, "w") as f:
            f.write(BAD_POLICY)
        code, out, err = run_review_cli("validate", review(training("team-a")), ["--policy", self.policy])
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertIn("%s: %s" % (self.policy, BAD_POLICY_ERROR), err)


class PolicyReloadTest(PolicyCase):
    def test_rename_over_is_picked_up(self):
        _, conn = self.serve()
        self.assertFalse(self.gpu3_allowed(conn))
        write_atomically(self.policy, POLICY_RAISED)
        eventually(lambda: self.gpu3_allowed(conn), what="the raised policy")
        self.assertEqual(self.reloads(conn, "success"), 1)
        self.assertEqual(self.reloads(conn, "failure"), 0)

    def test_configmap_symlink_swap_is_picked_up(self):
        # the kubelet's AtomicWriter layout: policy.yaml -> ..data/policy.yaml,
        # ..data -> ..<timestamp>/, swapped by renaming a new ..data link over
        mount = os.path.join(self.tmp, "configmap")
        os.makedirs(os.path.join(mount, "..2024_01_01_00_00_00.1"))
        with open(os.path.join(mount, "..2024_01_01_00_00_00.1", "policy.yaml"), "w") as f:
            f.write(POLICY)
        os.symlink("..2024_01_01_00_00_00.1", os.path.join(mount, "..data"))
        os.symlink("..data/policy.yaml", os.path.join(mount, "policy.yaml"))
        _, conn = self.serve(os.path.join(mount, "policy.yaml"))
        self.assertFalse(self.gpu3_allowed(conn))

        os.makedirs(os.path.join(mount, "..2024_01_01_00_01_00.2"))
        with open(os.path.join(mount, "..2024_01_01_00_01_00.2", "policy.yaml"), "w") as f:
            f.write(POLICY_RAISED)
        os.symlink("..2024_01_01_00_01_00.2", os.path.join(mount, "..data_tmp"))
        os.rename(os.path.join(mount, "..data_tmp"), os.path.join(mount, "..data"))
        shutil.rmtree(os.path.join(mount, "..2024_01_01_00_00_00.1"))
        eventually(lambda: self.gpu3_allowed(conn), what="the swapped ConfigMap policy")
        self.assertEqual(self.reloads(conn, "success"), 1)

    def test_invalid_new_file_keeps_the_old_policy(self):
        srv, conn = self.serve()
        write_atomically(self.policy, BAD_POLICY)
        eventually(lambda: self.reloads(conn, "failure") == 1, what="a counted reload failure")
        self.assertFalse(self.gpu3_allowed(conn), "the previous policy should still apply")
        self.assert_verdict(self.validate(conn, training("team-vision", gpuPerNode=5), ALICE),
                            [("spec.gpuPerNode", ["maxGpuPerNode=4"])])
        eventually(lambda: BAD_POLICY_ERROR in srv.stderr_text(), what="the logged error")
        logged = [json.loads(line) for line in srv.stderr_text().splitlines() if BAD_POLICY_ERROR in line]
        self.assertEqual(logged[0]["level"], "error")
        # not retried while the file stays the same
        time.sleep(0.5)
        self.assertEqual(self.reloads(conn, "failure"), 1)
        # a removed file is a failure too, and a good file afterwards is taken
        os.unlink(self.policy)
        eventually(lambda: self.reloads(conn, "failure") == 2, what="the missing file counted")
        write_atomically(self.policy, POLICY_RAISED)
        eventually(lambda: self.gpu3_allowed(conn), what="the good policy after the bad ones")
        self.assertEqual(self.reloads(conn, "success"), 1)

    def test_requests_during_reloads(self):
        # requests keep being answered, each under one whole policy, while the
        # file flips between two versions
        _, conn = self.serve()
        deadline = time.monotonic() + 2.0
        flips = 0
        seen = set()
        while time.monotonic() < deadline:
            write_atomically(self.policy, POLICY_RAISED if flips % 2 == 0 else POLICY)
            flips += 1
            for _ in range(5):
                response = self.validate(conn, training("team-a", gpuPerNode=3), ALICE)
                seen.add(response["allowed"])
                if not response["allowed"]:
                    self.assertEqual(response["status"]["code"], 403)
        self.assertEqual(seen, {True, False})


class PolicyStartTest(PolicyCase):
    def test_invalid_file_stops_the_start(self):
        with open(self.policy, "w") as f:
            f.write(BAD_POLICY)
        err = self.serve_fails(self.policy)
        self.assertIn("%s: %s" % (self.policy, BAD_POLICY_ERROR), err)
        self.assertIn("invalid policy", err)

    def test_missing_file_stops_the_start(self):
        err = self.serve_fails(os.path.join(self.tmp, "absent.yaml"))
        self.assertIn("absent.yaml: cannot open: No such file or directory", err)

    def test_malformed_yaml_stops_the_start(self):
        with open(self.policy, "w") as f:
            f.write(HEADER + "limits: [maxGpuPerNode\n")
        err = self.serve_fails(self.policy)
        self.assertIn(self.policy + ": ", err)

    def test_example_policy_starts(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "policy.yaml")
        _, conn = self.serve(os.path.abspath(example))
        self.assert_verdict(self.validate(conn, training("team-x", gpuPerNode=3), ALICE),
                            [("spec.gpuPerNode", ["maxGpuPerNode=2", "namespaces[team-*]"])])


def many_rules(n, extra=""):
    """A policy of n namespaces[] entries, as an admin of many teams writes
    it: team-<i> exact names and lab-<i>-* globs, then *-prod, under a
    cluster cap of 8 GPUs per node."""
    lines = [HEADER, "limits: {maxGpuPerNode: 8}\nnamespaces:\n"]
    for i in range(n):
        if i % 2:
            lines.append("- {match: team-%d, limits: {maxGpuPerNode: %d}}\n" % (i, 1 + i % 4))
        else:
            lines.append("- {match: lab-%d-*, limits: {maxGpuPerNode: 2}}\n" % i)
    lines.append("- {match: '*-prod', limits: {maxGpuPerNode: 5}}\n")
    return "".join(lines) + extra


class PolicyManyRulesTest(PolicyCase):
    """10,000 rules (mutators/policyindex.c): the same verdicts as a short
    policy, the exact name before the longest glob, and a repeated match
    refused at start with both its places."""

    def test_verdicts_under_ten_thousand_rules(self):
        with open(self.policy, "w") as f:
            f.write(many_rules(10000))
        _, conn = self.serve()
        for namespace, rule, cap in (("team-4321", "namespaces[team-4321]", 2),
                                     ("team-9999", "namespaces[team-9999]", 4),
                                     ("lab-17-x", None, 8),                 # lab-17 is odd: no such glob
                                     ("lab-9998-ocr", "namespaces[lab-9998-*]", 2),
                                     ("ops-prod", "namespaces[*-prod]", 5),
                                     ("lab-16-prod", "namespaces[lab-16-*]", 2)):   # longer than *-prod
            with self.subTest(namespace):
                response = self.validate(conn, training(namespace, gpuPerNode=7), ALICE)
                if rule is None:
                    self.assert_verdict(response, [])
                else:
                    self.assert_verdict(response, [("spec.gpuPerNode", [
                        "7 exceeds the limit maxGpuPerNode=%d" % cap, "policy rule: %s" % rule])])
        response = self.validate(conn, training("kubeflow", gpuPerNode=9), ALICE)
        self.assert_verdict(response, [("spec.gpuPerNode", ["maxGpuPerNode=8", "policy rule: cluster"])])

    def test_repeated_match_stops_the_start(self):
        with open(self.policy, "w") as f:
            f.write(many_rules(10000, "- {match: team-1}\n- {match: lab-9998-*}\n"))
        err = "\n".join(json.loads(line)["msg"] for line in self.serve_fails(self.policy).splitlines())
        self.assertIn('namespaces[10001].match: "team-1" is already matched by namespaces[1]; '
                      'namespaces[10002].match: "lab-9998-*" is already matched by namespaces[9998]', err)


if __name__ == "__main__":
    unittest.main()
