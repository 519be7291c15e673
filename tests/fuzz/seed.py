#!/usr/bin/env python3
"""Builds the seed corpora of the libFuzzer targets from the test data.

    seed.py --bin bin/paddlex-webhook --out build-fuzz/seeds

writes OUT/<target>/<name> for target review, sync, yaml and configchanges:

  review         every tests/cases/**/review.json as it is; for every
                 object.json the CREATE AdmissionReview the apiserver sends
                 (as tests/cases/run.py builds it), and for a sample also the
                 v1beta1, UPDATE, DELETE, policy-namespace and already-mutated
                 variants;
  sync           for every object.json that renders: the sync request
                 Metacontroller sends with no children observed, with every
                 rendered child observed in some state (running, done,
                 failed), finalizing, and with spec.action create/patch/delete;
  yaml           every object.json (the JSON path) and the same as YAML, the
                 examples/ and golden manifests, the policy example;
  configchanges  every string spec.configChanges in the cases, plus a few
                 written here for the quoting and bracket rules;
  jsonparse      a sample of the review bodies, plus JSON edge cases written
                 here (numbers, escapes, surrogates, duplicate keys, depth).

The binary (``render -o json``) gives the rendered children and mutated
objects. Inputs larger than the fuzzers' -max_len (64 KiB) are skipped.
The output is build output: never committed. Standard library plus
python3-yaml (already a test dependency) for the YAML seeds.
"""
import argparse
import copy
import glob
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_LEN = 64 * 1024
PLURALS = {"Dataset": "datasets", "Training": "trainings", "ModelHub": "modelhubs", "Serving": "servings"}

# Child status as each operator writes it, by child kind: running, done, failed.
STATES = {
    "PaddleJob": [{"phase": "Running"}, {"phase": "Completed"}, {"phase": "Failed"}],
    "Job": [{"active": 1}, {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
            {"conditions": [{"type": "Failed", "status": "True"}], "failed": 1}],
    "InferenceService": [{}, {"conditions": [{"type": "Ready", "status": "True"}], "url": "http://x.kubeflow"},
                         {"modelStatus": {"transitionStatus": "BlockedByFailedLoad"}}],
    "SampleSet": [{"phase": "Bound"}, {"phase": "Ready"}, {"phase": "Failed"}],
    "Deployment": [{"availableReplicas": 0}, {"availableReplicas": 1}, {"availableReplicas": 1}],
    "Service": [{}, {}, {}],
}

CONFIGCHANGES = [
    "Global.epoch_num=10,Global.log_smooth_window=2,Global.save_epoch_step=5",
    "Optimizer.lr.values=[0.001, 0.0001],Train.loader.batch_size_per_card=8",
    "Global.character_dict_path='ppocr/utils/a,b.txt', Arch.name=\"x,y\"",
    "A={k: [1, 2], m: (3, 4)},B=O'Brien,C='it''s'",
    " a.b = 1 ,, c=2 , ",
    "Global.use_visualdl=True,Global.save_model_dir=/x,Global.pretrained_model=/y",
    "TrainReader.batch_size=2,epoch=3,use_gpu=true,weights=output/model_final",
    "A=\"unterminated,B=1",
    "A=[1,{2]},B=1",
    "x" * 70 + "=" + "[" * 31 + "]" * 31,
    "A=\\\"q\\\",B='\\'',C=1",
    "K=v\u00e9rit\u00e9,L=\u4e2d\u6587",
]


JSON_EDGES = [
    b"0", b"-0", b"-0.0", b"1e308", b"1e309", b"-1e400", b"1e-400", b"4.9e-324", b"0.1", b"1E+2", b"01",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808", b"-9223372036854775809",
    b"1.", b".5", b"+1", b"--1", b"0x10", b"NaN", b"Infinity", b"true", b"tru", b"null", b'""',
    b'"\\u0000"', b'{"\\u0000":1}', b'"\\ud800"', b'"\\udc00"', b'"\\ud83d\\ude00"', b'"\\uD83D\\uDE00"',
    b'"\\ud83dx"', b'"\\u00e9\\u4e2d"', b'"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"', b'"\xc0\x80"', b'"\xed\xa0\x80"',
    b'"\xf4\x90\x80\x80"', b'"\xff"', b'"a\tb"', b'"\\/\\b\\f\\n\\r\\t\\"\\\\"', b'"\\x"', b'"\\u12"',
    b'{"a":1,"a":2}', b'{"a":{"b":1},"a":{}}', b'{"a":1,}', b'[1,]', b'[,]', b"[1 2]", b'{"a" 1}', b"{1:2}",
    b" \t\r\n[] \n", b"[]x", b"[] []", b"", b" ", b"\x00", b"[\x00]", b"\xef\xbb\xbf[]",
    b"[" * 100 + b"]" * 100, b"[" * 101 + b"]" * 101, b'{"a":' * 99 + b"1" + b"}" * 99,
    b'{"a":' * 100 + b"1" + b"}" * 100,
]


def load(path):
    with open(path, "rb") as f:
        return json.load(f)


def build_review(obj, operation="CREATE", version="v1", namespace=None, old=None, user="case-driver"):
    """The AdmissionReview the apiserver POSTs (tests/cases/run.py's shape)."""
    api_version = obj.get("apiVersion", "") if isinstance(obj, dict) else ""
    kind = obj.get("kind", "") if isinstance(obj, dict) else ""
    group, _, ver = api_version.rpartition("/") if isinstance(api_version, str) else ("", "", "")
    kind = kind if isinstance(kind, str) else ""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    gvk = {"group": group, "version": ver, "kind": kind}
    gvr = {"group": group, "version": ver, "resource": PLURALS.get(kind, kind.lower() + "s")}
    ns = namespace or (meta.get("namespace") if isinstance(meta.get("namespace"), str) else None) or "kubeflow"
    req = {"uid": "f" * 8 + "-0000-4000-8000-" + "0" * 12, "kind": gvk, "resource": gvr,
           "requestKind": dict(gvk), "requestResource": dict(gvr), "namespace": ns,
           "operation": operation,
           "userInfo": {"username": user, "groups": ["system:authenticated"]},
           "object": obj if operation != "DELETE" else None,
           "oldObject": old if operation in ("UPDATE", "DELETE") else None, "dryRun": False,
           "options": {"kind": operation.title() + "Options", "apiVersion": "meta.k8s.io/v1"}}
    if isinstance(meta.get("name"), str) and meta["name"]:
        req["name"] = meta["name"]
    return {"apiVersion": "admission.k8s.io/" + version, "kind": "AdmissionReview", "request": req}


class Out:
    def __init__(self, root, only):
        self.root = root
        self.only = only
        self.counts = {}

    def put(self, target, name, data):
        if target not in self.only:
            return
        if isinstance(data, (dict, list)):
            data = json.dumps(data, separators=(",", ":")).encode()
        elif isinstance(data, str):
            data = data.encode()
        if len(data) > MAX_LEN:
            return
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        digest = hashlib.sha1(data).hexdigest()[:12]
        with open(os.path.join(d, "%s-%s" % (name, digest)), "wb") as f:
            f.write(data)
        self.counts[target] = self.counts.get(target, 0) + 1


def render(binary, path):
    """[mutated object, children...] from `render -o json`, or None when invalid."""
    done = subprocess.run([binary, "render", "-o", "json", path], capture_output=True, timeout=30)
    if done.returncode != 0:
        return None
    items = json.loads(done.stdout).get("items", [])
    return items or None


def sync_requests(parent, children):
    """Sync bodies for parent with children observed in various states."""
    ctrl = {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController",
            "metadata": {"name": "paddlex-%ss" % parent["kind"].lower()}}
    parent = copy.deepcopy(parent)
    parent.setdefault("metadata", {}).update({"uid": "0000", "generation": 2, "resourceVersion": "7"})
    bodies = [("none", {"controller": ctrl, "parent": parent, "children": {}, "related": {},
                        "finalizing": False})]
    for state in range(3):
        observed = {}
        for i, child in enumerate(children):
            c = copy.deepcopy(child)
            st = STATES.get(c.get("kind"), [{}, {}, {}])
            # the first children are further along: running chains stop midway
            c["status"] = st[state if i == 0 else min(state, 1) if i < len(children) - 1 else 0]
            c["metadata"]["uid"] = "child-%d" % i
            if state == 1 and i == 0:
                applied = copy.deepcopy(child)
                c["metadata"].setdefault("annotations", {})[
                    "metacontroller.k8s.io/last-applied-configuration"] = json.dumps(applied)
            key = "%s.%s" % (c.get("kind"), c.get("apiVersion"))
            observed.setdefault(key, {})[c["metadata"]["name"]] = c
        bodies.append(("state%d" % state, {"controller": ctrl, "parent": parent, "children": observed,
                                           "related": {}, "finalizing": False}))
        if state == 1:
            bodies.append(("final", {"controller": ctrl, "parent": parent, "children": observed,
                                     "finalizing": True}))
            for action in ("create", "patch", "delete"):
                p = copy.deepcopy(parent)
                p["spec"]["action"] = action
                bodies.append((action, {"parent": p, "children": observed}))
    return bodies


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="paddlex-webhook, for render -o json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="review,sync,yaml,configchanges,jsonparse",
                    help="comma-separated targets to seed (make valgrind takes only review)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    try:
        import yaml
    except ImportError:
        yaml = None
    out = Out(args.out, only)
    cases = os.path.join(ROOT, "tests", "cases")

    for path in sorted(glob.glob(os.path.join(cases, "*", "*", "review.json"))):
        name = os.path.basename(os.path.dirname(path))
        with open(path, "rb") as f:
            out.put("review", name, f.read())

    objects = sorted(glob.glob(os.path.join(cases, "*", "*", "object.json")))
    for n, path in enumerate(objects):
        name = os.path.basename(os.path.dirname(path))
        obj = load(path)
        out.put("review", name, build_review(obj))
        with open(path, "rb") as f:
            out.put("yaml", name, f.read())
        if yaml is not None:
            out.put("yaml", name + "-yaml", yaml.safe_dump(obj, sort_keys=False))
        spec = obj.get("spec") if isinstance(obj, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("configChanges"), str):
            out.put("configchanges", name, spec["configChanges"])
        if n % 8 == 0 and isinstance(obj, dict):
            out.put("review", name + "-v1beta1", build_review(obj, version="v1beta1"))
            out.put("review", name + "-update", build_review(obj, "UPDATE", old=obj))
            out.put("review", name + "-delete", build_review(obj, "DELETE", old=obj))
            out.put("review", name + "-team", build_review(obj, namespace="team-a", user="alice"))
        wanted = "sync" in only or ("review" in only and n % 4 == 0)
        items = render(args.bin, path) if wanted and isinstance(obj, dict) else None
        if not items:
            continue
        mutated, children = items[0], items[1:]
        if n % 4 == 0:
            out.put("review", name + "-mutated", build_review(mutated))
        for tag, body in sync_requests(mutated, children):
            out.put("sync", "%s-%s" % (name, tag), body)

    for path in [os.path.join(ROOT, "examples", "pp-ocr.yaml"), os.path.join(ROOT, "examples", "policy.yaml"),
                 os.path.join(ROOT, "tests", "golden", "pp-ocr.yaml")] + \
            sorted(glob.glob(os.path.join(ROOT, "manifests", "**", "*.yaml"), recursive=True)):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out.put("yaml", os.path.basename(path), f.read())
    for i, s in enumerate(CONFIGCHANGES):
        out.put("configchanges", "own%d" % i, s)
    for i, s in enumerate(JSON_EDGES):
        out.put("jsonparse", "edge%d" % i, s)
    review_dir = os.path.join(args.out, "review")
    if "jsonparse" in only and os.path.isdir(review_dir):
        for name in sorted(os.listdir(review_dir))[::4]:
            with open(os.path.join(review_dir, name), "rb") as f:
                out.put("jsonparse", "review-" + name, f.read())

    for target in sorted(only):
        print("seed %-14s %5d inputs in %s" % (target, out.counts.get(target, 0),
                                              os.path.join(args.out, target)))
    return 0 if all(out.counts.get(t) for t in only) else 1


if __name__ == "__main__":
    sys.exit(main())
