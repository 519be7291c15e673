#!/usr/bin/env python3
"""The quick-start demo: the webhook as the kube-apiserver sees it.

Creates a self-signed CA and serving certificate with `paddlex-webhook certs`,
starts `paddlex-webhook serve` on 127.0.0.1, and sends every custom resource
of the given manifests through POST /mutate (applying the JSONPatch the
strict way the apiserver does) and POST /validate over verified TLS, then one
broken Training to show the error list. Prints what a user would see.
"""
import argparse
import base64
import copy
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
import jsonpatch  # noqa: E402

PLURALS = {"Dataset": "datasets", "Training": "trainings", "ModelHub": "modelhubs", "Serving": "servings"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def review(obj):
    group, version = obj["apiVersion"].split("/")
    ns = obj.get("metadata", {}).get("namespace", "kubeflow")
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": PLURALS[obj["kind"]]}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
                        "requestKind": gvk, "requestResource": gvr,
                        "name": obj["metadata"].get("name", ""), "namespace": ns,
                        "operation": "CREATE",
                        "userInfo": {"username": "demo-user", "groups": ["system:authenticated"]},
                        "object": obj, "oldObject": None, "dryRun": False,
                        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}


def post(conn, path, body):
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise SystemExit("%s answered %d: %s" % (path, resp.status, data.decode(errors="replace")))
    return json.loads(data)["response"]


def show_children(obj):
    for child in obj.get("spec", {}).get("generated", []):
        after = child["metadata"].get("annotations", {}).get("paddlex.paddlepaddle.org/after")
        print("      - %s %s%s" % (child["kind"], child["metadata"]["name"],
                                   "  (after %s)" % after if after else ""))
        if child["kind"] == "PaddleJob":
            worker = child["spec"].get("worker") or child["spec"].get("ps")
            c = worker["template"]["spec"]["containers"][0]
            print("          %s %s" % (" ".join(c["command"]), " ".join(c["args"])))


def send(conn, obj):
    name = "%s/%s" % (obj["kind"], obj["metadata"].get("name"))
    res = post(conn, "/mutate", review(obj))
    ops = jsonpatch.decode_review_patch({"response": res}) if res.get("patch") else []
    mutated = jsonpatch.apply(copy.deepcopy(obj), ops)
    filled = [op["path"] for op in ops if op["path"] != "/spec/generated"]
    print("  %s" % name)
    print("    /mutate:   %d patch operations; defaults and normalisation: %s"
          % (len(ops), ", ".join(p.replace("/spec/", "") for p in filled) or "none"))
    verdict = post(conn, "/validate", review(mutated))
    if verdict["allowed"]:
        print("    /validate: allowed%s" % ("".join("\n    warning: " + w for w in verdict.get("warnings", []))))
        print("    children in spec.generated:")
        show_children(mutated)
    else:
        st = verdict["status"]
        print("    /validate: denied, %d %s" % (st["code"], st["reason"]))
        for cause in st["details"]["causes"]:
            print("      %s: %s" % (cause["field"], cause["message"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("manifests", nargs="+")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="paddlex-demo-")
    subprocess.run([args.bin, "certs", "--service", "localhost", "--namespace", "demo",
                    "--host", "127.0.0.1", "--out-dir", tmp], check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    log = open(os.path.join(tmp, "admission.log"), "w+")
    server = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:%d" % port,
                               "--tls-cert", os.path.join(tmp, "tls.crt"),
                               "--tls-key", os.path.join(tmp, "tls.key")], stdout=log)
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.crt"))
        for _ in range(100):
            try:
                conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().read() == b"ok\n":
                    break
            except OSError:
                time.sleep(0.05)
        print("paddlex-webhook serving on https://localhost:%d (self-signed CA in %s)\n" % (port, tmp))
        docs = []
        for path in args.manifests:
            with open(path) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
        print("The PP-OCR pipeline, as the kube-apiserver sends it:")
        for obj in docs:
            send(conn, obj)
        broken = copy.deepcopy(next(d for d in docs if d["kind"] == "Training"))
        broken["metadata"]["name"] = "Broken_Name"
        broken["spec"].update(workerReplicas=-1, gpuPerNode="2", project="PaddleNLP",
                              configChanges="Global.pretrained_model=/x,a=1,a=2")
        del broken["spec"]["image"]
        print("\nA broken Training: every error at once")
        send(conn, broken)
    finally:
        server.send_signal(signal.SIGTERM)
        rc = server.wait(timeout=15)
    log.seek(0)
    lines = [json.loads(l) for l in log if l.strip()]
    print("\nserver stopped (exit %d); it logged %d admissions, e.g.:\n  %s"
          % (rc, len(lines), json.dumps(lines[-1]) if lines else "-"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
