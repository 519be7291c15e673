"""End-to-end tests of admission (SPEC §3): the real binary over real,
verified TLS, played against as the kube-apiserver plays it.

Every object goes /mutate, then its patch is applied strictly (as the
apiserver applies it), then /validate judges the result; both
admission.k8s.io versions; one keep-alive connection carrying many
requests; several clients at once; the probes; and the offline `review`
command answering byte for byte as the server does.
"""
import copy
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import unittest
import uuid

import jsonpatch
from common import (ServerTestCase, client, make_test_certs, mutate_and_apply, needs_binary, request,
                    review, run_review_cli, send_review, tls_context)

AV = "paddlex.paddlepaddle.org/v1alpha1"


def obj(kind, name="ppocr", namespace="kubeflow", **spec):
    return {"apiVersion": AV, "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


DATASET = obj("Dataset", "icdar2015", sourceUri="bos://paddleflow-public.hkg.bcebos.com/icdar2015",
              sourceSecret="data-center")
TRAINING = obj("Training", project="paddleocr",
               image="registry.baidubce.com/paddleflow-public/paddleocr:2.5-gpu",
               configPath="configs/rec/rec_icdar15_train.yml", dataset="icdar2015",
               pvcName="task-center", workerReplicas=1, gpuPerNode=1,
               configChanges="Global.epoch_num=10,Global.log_smooth_window=2")
MODELHUB = obj("ModelHub", pvcName="task-center", endpoint="http://minio-service.kubeflow:9000/")
SERVING = obj("Serving", image="registry.baidubce.com/paddleflow-public/serving:v0.6.2")
VALID = {"Dataset": DATASET, "Training": TRAINING, "ModelHub": MODELHUB, "Serving": SERVING}


def with_spec(o, **changes):
    o = copy.deepcopy(o)
    o["spec"].update(changes)
    return o


def causes(response):
    return [(c["field"], c["message"]) for c in response["status"]["details"]["causes"]]


@needs_binary
class AdmissionTest(ServerTestCase):
    def setUp(self):
        self.conn = client(self.srv)
        self.addCleanup(self.conn.close)

    def validate(self, o, **kw):
        return send_review(self.conn, "/validate", review(o, **kw))["response"]

    def round_trip(self, o, **kw):
        """mutate, strict patch, validate, mutate again: (patched, verdict)."""
        answer, patched = mutate_and_apply(self.conn, o, **kw)
        self.assertTrue(answer["response"]["allowed"], "/mutate never denies")
        again, _ = mutate_and_apply(self.conn, patched, **kw)
        self.assertEqual(jsonpatch.decode_review_patch(again), [], "a second /mutate changes nothing")
        return patched, self.validate(patched, **kw)

    def test_valid_objects_of_every_kind_in_both_versions(self):
        for version in ("v1", "v1beta1"):
            for kind, o in VALID.items():
                with self.subTest(kind=kind, version=version):
                    patched, verdict = self.round_trip(o, version=version)
                    self.assertTrue(verdict["allowed"], verdict.get("status"))
                    self.assertEqual(patched["spec"]["namespace"], "kubeflow")
                    self.assertEqual(patched["spec"]["action"], "apply")
                    generated = patched["spec"]["generated"]
                    self.assertIsInstance(generated, list)
                    self.assertTrue(generated, "a valid object gets its children")

    def test_defaults_and_normalisation_reach_the_object(self):
        patched, _ = self.round_trip(TRAINING)
        spec = patched["spec"]
        self.assertEqual(spec["project"], "PaddleOCR")
        self.assertEqual((spec["psReplicas"], spec["useVisualDL"], spec["saveInference"],
                          spec["needConvert"]), (0, False, True, True))
        patched, _ = self.round_trip(MODELHUB)
        self.assertEqual(patched["spec"]["endpoint"], "http://minio-service.kubeflow:9000")
        self.assertEqual((patched["spec"]["modelName"], patched["spec"]["modelVersion"]), ("ppocr", "latest"))
        patched, _ = self.round_trip(SERVING)
        self.assertEqual(patched["spec"]["port"], 8040)

    def test_missing_spec_is_added_whole(self):
        o = copy.deepcopy(SERVING)
        del o["spec"]
        patched, verdict = self.round_trip(o)
        self.assertEqual(patched["spec"]["port"], 8040)
        self.assertEqual(causes(verdict), [("spec.image", "Required value")])

    def test_invalid_object_is_mutated_then_denied_with_every_error(self):
        bad = with_spec(TRAINING, workerReplicas=-1, dataset="Bad_Name", gpuPerNode="2")
        patched, verdict = self.round_trip(bad)
        self.assertNotIn("generated", patched["spec"], "children only for an object that validates")
        self.assertFalse(verdict["allowed"])
        status = verdict["status"]
        self.assertEqual((status["code"], status["reason"], status["status"]), (422, "Invalid", "Failure"))
        self.assertIn("spec.workerReplicas: Invalid value: -1: must be greater than or equal to 0",
                      status["message"])
        self.assertEqual([f for f, _ in causes(verdict)],
                         ["spec.dataset", "spec.workerReplicas", "spec.gpuPerNode"])
        for cause in status["details"]["causes"]:
            self.assertIn("%s: %s" % (cause["field"], cause["message"]), status["message"])
            self.assertEqual(cause["reason"], "FieldValueInvalid")

    def test_required_value_wording(self):
        o = copy.deepcopy(DATASET)
        del o["spec"]["sourceUri"]
        verdict = self.validate(o)
        self.assertIn("spec.sourceUri: Required value", verdict["status"]["message"])
        self.assertEqual(verdict["status"]["details"]["causes"][0]["reason"], "FieldValueRequired")

    def test_policy_cap_is_forbidden(self):
        patched, verdict = self.round_trip(with_spec(TRAINING, gpuPerNode=17))
        status = verdict["status"]
        self.assertEqual((status["code"], status["reason"]), (403, "Forbidden"))
        self.assertEqual(status["details"]["causes"][0]["reason"], "FieldValueForbidden")
        self.assertIn("maxGpuPerNode", status["message"])

    def test_visualdl_warning(self):
        _, verdict = self.round_trip(with_spec(TRAINING, useVisualDL=True, workerReplicas=2))
        self.assertTrue(verdict["allowed"])
        self.assertTrue(any("useVisualDL" in w for w in verdict.get("warnings", [])), verdict)

    def test_delete_and_connect_are_untouched(self):
        bad = with_spec(DATASET, partitions=0)
        for op in ("DELETE", "CONNECT"):
            with self.subTest(op):
                r = review(bad, operation=op, old=bad if op == "DELETE" else None)
                for path in ("/mutate", "/validate"):
                    response = send_review(self.conn, path, r)["response"]
                    self.assertEqual(set(response), {"uid", "allowed"})
                    self.assertTrue(response["allowed"])

    def test_other_kinds_are_untouched(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Not_Valid"},
               "spec": {"containers": [{"name": "c", "image": "BAD IMAGE"}]}}
        for version in ("v1", "v1beta1"):
            for path in ("/mutate", "/validate"):
                response = send_review(self.conn, path, review(pod, version=version))["response"]
                self.assertEqual(set(response), {"uid", "allowed"})
                self.assertTrue(response["allowed"])

    def test_dry_run_changes_nothing(self):
        for o in (TRAINING, with_spec(DATASET, partitions=0)):
            for path in ("/mutate", "/validate"):
                uid = str(uuid.uuid4())
                wet = send_review(self.conn, path, review(o, uid=uid))
                dry = send_review(self.conn, path, review(o, uid=uid, dry_run=True))
                self.assertEqual(wet, dry)

    def test_update_is_judged_on_its_own(self):
        good, bad = TRAINING, with_spec(TRAINING, workerReplicas=-1)
        patched, verdict = self.round_trip(good, operation="UPDATE", old=bad, server_metadata=True)
        self.assertTrue(verdict["allowed"], verdict.get("status"))
        self.assertEqual(patched["metadata"]["resourceVersion"], "4242", "metadata is left alone")
        _, verdict = self.round_trip(bad, operation="UPDATE", old=good, server_metadata=True)
        self.assertFalse(verdict["allowed"])

    def test_update_rerenders_edited_generated(self):
        patched, _ = self.round_trip(SERVING)
        edited = copy.deepcopy(patched)
        edited["spec"]["port"] = 9000
        verdict = self.validate(edited, operation="UPDATE", old=patched)
        self.assertFalse(verdict["allowed"], "stale spec.generated is refused by /validate")
        self.assertEqual([f for f, _ in causes(verdict)], ["spec.generated"])
        fixed, verdict = self.round_trip(edited, operation="UPDATE", old=patched)
        self.assertTrue(verdict["allowed"], verdict.get("status"))
        self.assertNotEqual(fixed["spec"]["generated"], patched["spec"]["generated"])

    def test_namespace_from_the_request(self):
        o = copy.deepcopy(SERVING)
        del o["metadata"]["namespace"]
        patched, verdict = self.round_trip(o, namespace="team-a")
        self.assertEqual(patched["spec"]["namespace"], "team-a")
        self.assertTrue(verdict["allowed"])
        verdict = self.validate(with_spec(SERVING, namespace="team-b"))
        self.assertEqual([f for f, _ in causes(verdict)], ["spec.namespace"])

    def test_offline_review_answers_as_the_server(self):
        objects = [TRAINING, with_spec(TRAINING, workerReplicas=-1), with_spec(DATASET, partitions=99),
                   with_spec(TRAINING, useVisualDL=True, workerReplicas=3)]
        for o in objects:
            for mode in ("mutate", "validate"):
                r = review(o)
                _, _, served = request(self.conn, "POST", "/" + mode, body=json.dumps(r).encode(),
                                       headers={"Content-Type": "application/json"})
                # the server seals with a key derived from its TLS key
                code, offline, err = run_review_cli(mode, r, ["--seal-key", self.srv.certs.key])
                self.assertEqual(code, 0, err)
                self.assertEqual(offline, served)

    def test_probes(self):
        for path in ("/healthz", "/readyz"):
            status, headers, body = request(self.conn, "GET", path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers.get("Content-Type", "").startswith("text/plain"))
            self.assertTrue(body.strip())

    def test_keep_alive_carries_many_requests(self):
        sockets = set()
        for i in range(150):
            path = ("/mutate", "/validate", "/healthz")[i % 3]
            if path == "/healthz":
                status, headers, _ = request(self.conn, "GET", path)
                self.assertEqual(status, 200)
            else:
                uid = "keepalive-%d" % i
                answer = send_review(self.conn, path, review(TRAINING, uid=uid))
                self.assertTrue(answer["response"]["allowed"])
            sockets.add(id(self.conn.sock))
            self.assertIsNotNone(self.conn.sock, "the server closed the connection after %d" % i)
        self.assertEqual(len(sockets), 1, "every request went over one connection")

    def test_concurrent_clients(self):
        threads, per_thread = 8, 50
        errors, answered = [], [0] * threads
        bad = with_spec(DATASET, partitions=0)

        def work(t):
            conn = client(self.srv, timeout=30)
            try:
                for i in range(per_thread):
                    o, allowed = (TRAINING, True) if (t + i) % 2 else (bad, False)
                    path = "/validate" if i % 3 else "/mutate"
                    uid = "t%d-%d-%s" % (t, i, uuid.uuid4())
                    response = send_review(conn, path, review(o, uid=uid))["response"]
                    if path == "/validate" and response["allowed"] != allowed:
                        errors.append("%s: allowed %s" % (uid, response["allowed"]))
                    answered[t] += 1
            except Exception as e:  # collected, reported below
                errors.append("thread %d: %s: %s" % (t, type(e).__name__, e))
            finally:
                conn.close()

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        self.assertFalse(any(w.is_alive() for w in workers), "a client hung")
        self.assertEqual(errors, [])
        self.assertEqual(answered, [per_thread] * threads)


@needs_binary
class TlsTest(ServerTestCase):
    """The server's certificate is verified as the apiserver verifies it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="paddlex-otherca-")
        cls.other = make_test_certs(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmp, True)

    def handshake(self, ctx, name="localhost"):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                return tls.version()

    def test_verified_with_the_test_ca(self):
        self.assertIn(self.handshake(tls_context(self.srv.ca)), ("TLSv1.2", "TLSv1.3"))
        conn = client(self.srv)
        self.addCleanup(conn.close)
        answer, _ = mutate_and_apply(conn, SERVING)
        self.assertTrue(answer["response"]["allowed"])

    def test_another_ca_is_refused(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.handshake(tls_context(self.other.ca))

    def test_wrong_host_name_is_refused(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.handshake(tls_context(self.srv.ca), name="evil.example.com")

    def test_an_answer_is_one_tls_record(self):
        """Header and body of an answer travel in one TLS record, so the
        client reads it at once: one SSL_read (Python's recv returns at
        most one record) gives the whole answer. Pipelined requests are
        each answered whole, in order."""
        body = json.dumps(review(TRAINING, uid="one-record")).encode()
        req = (b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = tls_context(self.srv.ca)
            ctx.minimum_version = ctx.maximum_version = version
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    for n in (1, 2):
                        tls.sendall(req * n)
                        for _ in range(n):
                            data = tls.recv(65536)
                            head, _, rest = data.partition(b"\r\n\r\n")
                            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                            self.assertGreater(length, 4096, "a Training answer carries its children")
                            self.assertEqual(len(rest), length, "%s: the body came in the same read" % version.name)
                            self.assertEqual(json.loads(rest)["response"]["uid"], "one-record")

    def test_tls_1_2_and_1_3_each_work(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            ctx = tls_context(self.srv.ca)
            ctx.minimum_version = ctx.maximum_version = version
            self.assertEqual(self.handshake(ctx), name)


if __name__ == "__main__":
    unittest.main()
