"""End-to-end tests of `paddlex-webhook render` (SPEC §3.3, §4).

The real binary renders examples/pp-ocr.yaml; its output must equal the
golden files in tests/golden/ (regenerate them with PADDLEX_UPDATE_GOLDEN=1
after a deliberate change, and review the diff), and every child it
generates must validate against the reference CRD schemas with nothing
pruned (tests/tools/crdschema.py).
"""
import copy
import json
import os
import subprocess
import tempfile
import unittest

import crdschema
from common import binary, needs_binary

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "pp-ocr.yaml")
GOLDEN = os.path.join(REPO, "tests", "golden")
GROUP = "paddlex.paddlepaddle.org/v1alpha1"

TRAINING = {
    "apiVersion": GROUP, "kind": "Training",
    "metadata": {"name": "det", "namespace": "team-a"},
    "spec": {"project": "PaddleOCR", "image": "registry.example/ocr:2.1", "configPath": "configs/det/db.yml",
             "dataset": "icdar2015", "pvcName": "task-pvc", "workerReplicas": 1},
}


def render(*args, stdin=None, code=0, test=None):
    """Runs `render` and returns the CompletedProcess, checking the exit code."""
    r = subprocess.run([binary(), "render", *args], input=stdin, capture_output=True, text=True, timeout=60)
    if test is not None:
        test.assertEqual(r.returncode, code, "stdout:\n%s\nstderr:\n%s" % (r.stdout[-3000:], r.stderr))
    return r


def items(stdout):
    """The documents of a `render -o json` output (a v1 List)."""
    out = json.loads(stdout)
    assert out["apiVersion"] == "v1" and out["kind"] == "List", out
    return out["items"]


def ours(doc):
    return doc.get("apiVersion") == GROUP


def containers(child):
    """Every container and init container of a child, with its location."""
    spec = child.get("spec", {})
    pods = [spec.get("template", {}).get("spec")]
    pods += [spec.get(r, {}).get("template", {}).get("spec") for r in ("worker", "ps")]
    pods.append(spec.get("predictor"))
    for pod in filter(None, pods):
        for field in ("initContainers", "containers"):
            for c in pod.get(field, []):
                yield c


class RenderCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def render_json(self, *docs):
        """Renders docs (objects) given as a JSON stream on stdin; the items."""
        r = render("-o", "json", "-", stdin="\n".join(json.dumps(d) for d in docs), test=self)
        return items(r.stdout)

    def assert_children_valid(self, docs):
        """Every child validates; each CR's spec.generated is what follows it."""
        i = 0
        while i < len(docs):
            cr = docs[i]
            self.assertTrue(ours(cr), "expected a CR at %d, got %s" % (i, cr.get("kind")))
            generated = cr["spec"]["generated"]
            self.assertEqual(docs[i + 1:i + 1 + len(generated)], generated)
            for child in generated:
                self.assertEqual(crdschema.validate_child(child), [],
                                 "%s/%s" % (child["kind"], child["metadata"]["name"]))
                self.assertEqual(child["metadata"]["namespace"], cr["spec"]["namespace"])
                labels = child["metadata"]["labels"]
                self.assertEqual(labels["app.kubernetes.io/managed-by"], "paddlex-webhook")
                self.assertEqual(labels["app.kubernetes.io/part-of"], "paddlex")
                self.assertEqual(labels["paddlex.paddlepaddle.org/" + cr["kind"].lower()], cr["metadata"]["name"])
            i += 1 + len(generated)


@needs_binary
class TestGolden(RenderCase):
    def check_golden(self, name, text):
        path = os.path.join(GOLDEN, name)
        if os.environ.get("PADDLEX_UPDATE_GOLDEN"):
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(text, f.read(), "render output differs from %s "
                             "(PADDLEX_UPDATE_GOLDEN=1 rewrites it)" % path)

    def test_yaml_matches_golden(self):
        r = render(EXAMPLE, test=self)
        self.assertEqual(r.stderr, "")
        self.check_golden("pp-ocr.yaml", r.stdout)

    def test_json_matches_golden(self):
        r = render("-o", "json", EXAMPLE, test=self)
        self.check_golden("pp-ocr.json", r.stdout)

    def test_pipeline_children(self):
        docs = items(render("-o", "json", EXAMPLE, test=self).stdout)
        self.assert_children_valid(docs)
        kinds = [(d["kind"], d["metadata"]["name"]) for d in docs if not ours(d)]
        self.assertEqual(kinds, [
            ("SampleSet", "icdar2015"), ("PaddleJob", "ppocr-det"), ("Deployment", "ppocr-det-visualdl"),
            ("Service", "ppocr-det-visualdl"), ("Job", "ppocr-det-export"), ("Job", "ppocr-det-convert"),
            ("Job", "ppocr-det-upload"), ("InferenceService", "ppocr-det")])
        job = next(d for d in docs if d["kind"] == "PaddleJob")
        args = job["spec"]["worker"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual(args[:10], ["-m", "paddle.distributed.launch", "--gpus", "0", "--log_dir",
                                     "/mnt/task-center/log", "tools/train.py", "-c",
                                     "configs/det/ch_ppocr_v2.0/ch_det_mv3_db_v2.0.yml", "-o"])
        self.assertEqual(args[10:13], ["Global.epoch_num=10", "Global.log_smooth_window=2",
                                       "Global.save_epoch_step=5"])
        # what the convert Job packs is what ModelHub uploads and Serving fetches
        upload = next(d for d in docs if d["metadata"]["name"] == "ppocr-det-upload")
        isvc = next(d for d in docs if d["kind"] == "InferenceService")
        convert = next(d for d in docs if d["metadata"]["name"] == "ppocr-det-convert")
        packed = convert["spec"]["template"]["spec"]["containers"][0]["args"][-1]
        up_args = upload["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual(up_args[2], packed)
        env = isvc["spec"]["predictor"]["containers"][0]["env"][0]
        self.assertEqual(env["value"], "%s/%s/%s" % (up_args[0], up_args[1], up_args[3]))

    def test_yaml_and_json_agree(self):
        docs = items(render("-o", "json", EXAMPLE, test=self).stdout)
        try:
            import yaml  # PyYAML, a YAML 1.1 reader, when installed
        except ImportError:
            self.fail("PyYAML is not installed: run `make deps` (python3-yaml)")
        self.assertEqual(list(yaml.safe_load_all(render(EXAMPLE, test=self).stdout)), docs)

    def test_rendered_crs_render_the_same(self):
        """Mutation is idempotent and passes its own tamper check."""
        docs = items(render("-o", "json", EXAMPLE, test=self).stdout)
        again = self.render_json(*[d for d in docs if ours(d)])
        self.assertEqual(again, docs)


@needs_binary
class TestInputs(RenderCase):
    def test_several_files_documents_and_formats(self):
        training = copy.deepcopy(TRAINING)
        serving = {"apiVersion": GROUP, "kind": "Serving", "metadata": {"name": "det"},
                   "spec": {"image": "registry.example/serving:v1", "modelName": "det"}}
        as_json = self.write("two.json", json.dumps(training) + "\n" + json.dumps(serving, indent=2))
        as_list = self.write("list.yaml", "apiVersion: v1\nkind: List\nitems:\n- " +
                             json.dumps(serving).replace("det", "other") + "\n")
        r = render("-o", "json", as_json, EXAMPLE, as_list, "-", stdin=json.dumps(TRAINING), test=self)
        docs = items(r.stdout)
        crs = [(d["kind"], d["metadata"]["name"]) for d in docs if ours(d)]
        self.assertEqual(crs, [("Training", "det"), ("Serving", "det"), ("Dataset", "icdar2015"),
                               ("Training", "ppocr-det"), ("ModelHub", "ppocr-det"),
                               ("Serving", "ppocr-det"), ("Serving", "other"), ("Training", "det")])
        self.assert_children_valid(docs)
        self.assertEqual([d for d in docs if ours(d)][-1]["spec"]["namespace"], "team-a")
        # no namespace anywhere: the offline default
        served = next(d for d in docs if d["kind"] == "Serving" and d["metadata"]["name"] == "det")
        self.assertEqual(served["spec"]["namespace"], "kubeflow")

    def test_yaml_scalars(self):
        text = ("apiVersion: %s\nkind: Training\nmetadata:\n  name: t\nspec:\n  project: paddleocr\n"
                "  image: 'registry.example/ocr:2.1'\n  configPath: configs/a.yml\n  dataset: d\n"
                "  pvcName: p\n  workerReplicas: 0x2\n  useVisualDL: yes\n  saveInference: off\n"
                "  configChanges: \"Global.epoch_num=10\"\n" % GROUP)
        docs = items(render("-o", "json", self.write("t.yaml", text), test=self).stdout)
        spec = docs[0]["spec"]
        self.assertEqual(spec["project"], "PaddleOCR")
        self.assertEqual(spec["workerReplicas"], 2)
        self.assertIs(spec["useVisualDL"], True)
        self.assertIs(spec["saveInference"], False)
        self.assertEqual([d["kind"] for d in docs[1:]], ["PaddleJob", "Deployment", "Service"])

    def test_every_project_and_switch_validates(self):
        docs = []
        for project in ("PaddleOCR", "PaddleClas", "PaddleDetection"):
            for gpus, ps, flags in ((0, 0, False), (2, 1, True)):
                t = copy.deepcopy(TRAINING)
                t["metadata"]["name"] = "%s-%d" % (project.lower(), gpus)
                t["spec"].update(project=project, gpuPerNode=gpus, psReplicas=ps, useVisualDL=flags,
                                 configChanges="Global.a=1,b.c=[1,2]")
                if flags:
                    t["spec"]["pretrainModel"] = "https://h.example/m/ResNet50_pretrained.pdparams"
                    if project != "PaddleDetection":
                        t["spec"].update(trainLabel="train.txt", testLabel="test.txt")
                docs.append(t)
        docs.append({"apiVersion": GROUP, "kind": "Dataset", "metadata": {"name": "ds"},
                     "spec": {"partitions": 3, "sourceUri": "s3://bucket/data/", "sourceSecret": "s3"}})
        docs.append({"apiVersion": GROUP, "kind": "ModelHub", "metadata": {"name": "hub"},
                     "spec": {"pvcName": "task-pvc", "endpoint": "https://minio.example:9000/"}})
        self.assert_children_valid(self.render_json(*docs))


@needs_binary
class TestHostileInput(RenderCase):
    HOSTILE = ["Global.x=1;rm -rf /", "Global.y=$(curl evil)", "Global.z=`id`|sh", "Global.w='a' \"b\" > /etc/x"]

    def test_hostile_values_are_single_inert_args(self):
        t = copy.deepcopy(TRAINING)
        t["spec"].update(configChanges=",".join(self.HOSTILE), psReplicas=1,
                         pretrainModel="https://h.example/m/M.pdparams?q=$(reboot)&r=;halt")
        docs = self.render_json(t)
        self.assert_children_valid(docs)
        children = docs[1:]
        job = children[0]
        for role in ("worker", "ps"):
            args = job["spec"][role]["template"]["spec"]["containers"][0]["args"]
            # one element each, verbatim but for '$' doubled against kubelet $(VAR) expansion
            for entry in self.HOSTILE:
                self.assertIn(entry.replace("$", "$$"), args)
        init = job["spec"]["worker"]["template"]["spec"]["initContainers"][0]
        self.assertEqual(init["command"], ["curl"])
        self.assertEqual(init["args"][-1], "https://h.example/m/M.pdparams?q=$$(reboot)&r=;halt")
        for child in children:
            for c in containers(child):
                text = "\n".join(c.get("command", []))
                for needle in ("rm -rf", "curl evil", "reboot", "halt", "`id`"):
                    self.assertNotIn(needle, text, "%s in the command of %s" % (needle, c["name"]))

    def test_hostile_values_are_refused(self):
        cases = [
            ("Training", {"configChanges": "$(curl evil)"}, "spec.configChanges"),
            ("Training", {"configPath": "configs/a.yml;rm -rf /"}, "spec.configPath"),
            ("Training", {"pretrainModel": "https://h.example/$(id) x.pdparams"}, "spec.pretrainModel"),
            ("ModelHub", {"endpoint": "http://minio:9000;rm -rf /"}, "spec.endpoint"),
            ("ModelHub", {"modelName": "m$(id)"}, "spec.modelName"),
            ("ModelHub", {"modelVersion": "v1;reboot"}, "spec.modelVersion"),
            ("Serving", {"endpoint": "http://user:pw@minio:9000"}, "spec.endpoint"),
        ]
        base = {"Training": TRAINING["spec"], "ModelHub": {"pvcName": "p"},
                "Serving": {"image": "registry.example/serving:v1"}}
        for kind, spec, path in cases:
            doc = {"apiVersion": GROUP, "kind": kind, "metadata": {"name": "x"},
                   "spec": dict(base[kind], **spec)}
            r = render("-", stdin=json.dumps(doc), code=1, test=self)
            self.assertEqual(r.stdout, "")
            self.assertIn("<stdin>: %s/x: %s: " % (kind, path), r.stderr)
        r = render("-", stdin=json.dumps(dict(TRAINING, metadata={"name": "x;rm -rf /"})), code=1, test=self)
        self.assertIn("metadata.name: Invalid value", r.stderr)


@needs_binary
class TestErrors(RenderCase):
    def test_every_field_error_and_nothing_printed(self):
        bad = copy.deepcopy(TRAINING)
        bad["spec"].update(workerReplicas=-1, gpuPerNode="2", extra=1)
        bad_serving = {"apiVersion": GROUP, "kind": "Serving", "metadata": {"name": "s"},
                       "spec": {"image": "registry.example/serving", "port": 70000}}
        path = self.write("bad.yaml", json.dumps(bad) + "\n---\n" + json.dumps(TRAINING) + "\n---\n" +
                          json.dumps(bad_serving) + "\n")
        r = render(path, code=1, test=self)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertIn("%s: Training/det: spec.workerReplicas: Invalid value: -1: "
                      "must be greater than or equal to 0" % path, lines)
        self.assertIn('%s: Training/det: spec.gpuPerNode: Invalid value: "string": '
                      'spec.gpuPerNode must be an integer' % path, lines)
        self.assertIn('%s: Training/det: spec.extra: Forbidden: unknown field "extra"' % path, lines)
        self.assertIn("%s: Serving/s: spec.port: Invalid value: 70000: "
                      "must be less than or equal to 65535" % path, lines)
        self.assertTrue(any(l.startswith("%s: Serving/s: spec.image: " % path) for l in lines))

    def test_unknown_kinds(self):
        path = self.write("k.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                          "apiVersion: %s\nkind: Pipeline\nmetadata: {name: p}\n---\n- not a mapping\n" % GROUP)
        r = render(path, code=1, test=self)
        self.assertIn('%s: ConfigMap/c: apiVersion: Unsupported value: "v1"' % path, r.stderr)
        self.assertIn('%s: Pipeline/p: kind: Unsupported value: "Pipeline"' % path, r.stderr)
        self.assertIn("%s: document 3: must be a mapping" % path, r.stderr)

    def test_input_errors_exit_2(self):
        r = render(self.write("bad.yaml", "a: [\nb: 1\n"), EXAMPLE, code=2, test=self)
        self.assertRegex(r.stderr, r"bad\.yaml: line \d+, column \d+: ")
        self.assertEqual(r.stdout, "")
        r = render(os.path.join(self.tmp.name, "missing.yaml"), code=2, test=self)
        self.assertIn("missing.yaml: cannot open: No such file or directory", r.stderr)
        r = render(self.write("alias.yaml", "a: &x 1\nb: *x\n"), code=2, test=self)
        self.assertIn("aliases", r.stderr)
        render(code=2, test=self)
        render("-o", "xml", EXAMPLE, code=2, test=self)
        r = render("--policy", os.path.join(self.tmp.name, "none.yaml"), EXAMPLE, code=2, test=self)
        self.assertIn("none.yaml", r.stderr)

    def test_policy_applies(self):
        policy = self.write("policy.yaml", "apiVersion: %s\nkind: WebhookPolicy\n"
                            "limits: {maxGpuPerNode: 0}\n" % GROUP)
        r = render("--policy", policy, EXAMPLE, code=1, test=self)
        self.assertIn("Training/ppocr-det: spec.gpuPerNode: Forbidden: ", r.stderr)


if __name__ == "__main__":
    unittest.main()
