#!/usr/bin/env python3
"""make bench, second part: how cost grows with what users and admins control.

Each row is a ratio to its floor, measured in the same run (the machine is
shared and noisy; only ratios travel):

- configChanges entries 0 -> 256: /mutate of the PP-OCR Training, against
  the same Training with no entries;
- policy namespace rules 0 -> 10,000: /validate against no policy (one
  server per policy, alternating rounds), the time `review validate
  --policy` takes to load it (minus no policy), and RSS across 20 forced
  reloads of the largest (`scaling.py --bin BIN --only policy`: these rows
  alone);
- bodies 1 KiB -> 3 MiB, plain (one long annotation) and dense (a
  managedFields-like list of small objects, up to just under the 100,000
  values a body may hold): /validate against nginx answering the same body
  with a canned answer (nginx reads it too);
- /sync of a Training with every child observed, with and without 8 KB of
  managedFields per child, over TLS and on the plain hook port
  (--sync-listen, which Kubeflow's Metacontroller calls): against nginx
  returning the same answer on the same kind of port.

Peak RSS is read after each section. wrk drives everything (2 threads).
"""
import copy
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import bench
import common

WRK_SECONDS = 3


def rate(url, body_file, conns=8, seconds=WRK_SECONDS, rounds=3):
    """Median req/s of a few short wrk runs, and the errors seen (wrk's
    socket errors count its 2 s timeouts: slow rows use few connections)."""
    runs = [bench.wrk(url, body_file, 2, conns, seconds) for _ in range(rounds)]
    errors = sum(r["errors"] for r in runs)
    if errors:
        print("  (%d errors from wrk on %s)" % (errors, url))
    return statistics.median(r["rps"] for r in runs), errors


def write(tmp, name, obj):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    return path


def training(entries=0, padding=0, dense=0):
    rev = bench.training_review()
    obj = rev["request"]["object"]
    if entries:
        obj["spec"]["configChanges"] = ",".join("Global.k%d=%d" % (i, i) for i in range(entries))
    if padding:
        obj["metadata"].setdefault("annotations", {})["bench/padding"] = "x" * padding
    if dense:
        # managedFields as the apiserver keeps them: many small objects
        obj["metadata"]["managedFields"] = [
            {"manager": "m%d" % i, "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:a%d" % i: {}, "f:b": {".": {}}}}
            for i in range(dense)]
    return rev


def policy(rules):
    doc = {"apiVersion": "paddlex.paddlepaddle.org/v1alpha1", "kind": "WebhookPolicy",
           "limits": {"maxGpuPerNode": 8}}
    if rules:
        # exact names and globs, none matching the review's namespace
        doc["namespaces"] = [{"match": ("team-%d" if i % 2 else "team-%d-*") % i,
                              "limits": {"maxGpuPerNode": 1 + i % 8}} for i in range(rules)]
    return doc


class Servers:
    """The webhook (with a policy file) and nginx (with a canned answer)."""

    def __init__(self, bin, tmp, certs):
        self.bin, self.tmp, self.certs = bin, tmp, certs
        self.proc = self.nginx = None

    def webhook(self, policy_file=None):
        self.stop_webhook()
        self.port, self.sport = common.free_port(), common.free_port()
        argv = [self.bin, "serve", "--listen", "127.0.0.1:%d" % self.port,
                "--sync-listen", "127.0.0.1:%d" % self.sport, "--tls-cert", self.certs.cert,
                "--tls-key", self.certs.key, "--seal-key", self.certs.key, "--log-level", "error",
                "--max-connections", "64"]
        if policy_file:
            argv += ["--policy", policy_file]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        bench.wait_ready(self.port, self.certs)
        return "https://localhost:%d" % self.port

    def plain(self):
        """The webhook's plain hook port (--sync-listen), as Kubeflow's
        Metacontroller calls it."""
        return "http://127.0.0.1:%d" % self.sport

    def canned(self, answer, tls=True):
        self.stop_nginx()
        self.nport = common.free_port()
        ntmp = os.path.join(self.tmp, "nginx-%d" % self.nport)
        os.makedirs(ntmp)
        self.nginx = bench.start_nginx(ntmp, self.certs, self.nport, answer, tls=tls)
        url = ("https://localhost:%d" if tls else "http://127.0.0.1:%d") % self.nport
        got = ""
        for _ in range(200):    # up once it answers
            got = subprocess.run(["curl", "-sS", "--cacert", self.certs.ca, "-d", "{}", url + "/"],
                                 capture_output=True, text=True, timeout=30).stdout
            if got:
                break
            time.sleep(0.05)
        if got != answer:
            raise SystemExit("nginx does not answer the canned bytes (%d of %d)" % (len(got), len(answer)))
        return url

    def peak_mib(self):
        return bench.rss_kib(self.proc.pid) / 1024.0

    def stop_webhook(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def stop_nginx(self):
        if self.nginx:
            self.nginx.send_signal(3)   # SIGQUIT: graceful
            self.nginx.wait(timeout=20)
            self.nginx = None

    def stop(self):
        self.stop_webhook()
        self.stop_nginx()


POLICY_RULES = (0, 1000, 10000)
POLICY_RELOADS = 20


def metric(url, ca, name):
    """The value of one sample of the server's /metrics, as a float."""
    out = subprocess.run(["curl", "-sS", "--cacert", ca, url + "/metrics"], capture_output=True, text=True,
                         timeout=30).stdout
    for line in out.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise SystemExit("no %s in /metrics" % name)


def policy_rows(bin, tmp, certs, log=print, rounds=5):
    """/validate under 0, 1,000 and 10,000 namespace rules (none matching
    the review's namespace), as a ratio to no policy: one server per policy,
    all up at once, measured in alternating rounds so the machine's noise
    hits each alike. Then the load time (`review validate --policy`, the
    whole process, minus the same without a policy) and peak RSS, and RSS
    across forced reloads of the largest policy."""
    errors = 0
    log("scaling: policy namespace rules (/validate, ratio to no policy; load time by `review`)")
    body = write(tmp, "plain.json", training())
    servers, urls, files = [], [], []
    try:
        for n in POLICY_RULES:
            files.append(write(tmp, "policy%d.json" % n, policy(n)) if n else None)
            servers.append(Servers(bin, tmp, certs))
            urls.append(servers[-1].webhook(files[-1]))
        runs = [[] for _ in POLICY_RULES]
        for r in range(rounds):
            for k in range(len(urls)):     # each round starts with the next server
                i = (r + k) % len(urls)
                rps, err = rate(urls[i] + "/validate", body, rounds=1)
                runs[i].append(rps)
                errors += err
        t_none = None
        for i, n in enumerate(POLICY_RULES):
            args = ["--policy", files[i]] if files[i] else []
            times = []
            for _ in range(7):
                t0 = time.perf_counter()
                common.run_review_cli("validate", bench.training_review(), args, bin=bin)
                times.append(time.perf_counter() - t0)
            t = statistics.median(times)
            t_none = t if t_none is None else t_none
            rps, base = statistics.median(runs[i]), statistics.median(runs[0])
            log("  %5d rules  %9.0f req/s   %.2f x none   load %.1f ms   peak RSS %.1f MiB"
                % (n, rps, rps / base, (t - t_none) * 1e3, servers[i].peak_mib()))
        # reloads: SIGHUP forces one; /metrics counts it when it is done
        big, url = servers[-1], urls[-1]
        name = 'paddlex_webhook_policy_reloads_total{result="success"}'
        rss0 = bench.rss_kib(big.proc.pid, "VmRSS")
        for _ in range(POLICY_RELOADS):
            done = metric(url, certs.ca, name)
            big.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while metric(url, certs.ca, name) <= done:
                if time.monotonic() > deadline:
                    raise SystemExit("the policy reload did not finish in 30 s")
                time.sleep(0.05)
        rps, err = rate(url + "/validate", body, rounds=1)
        errors += err
        log("  %d reloads of %d rules: RSS %.1f -> %.1f MiB, then %.0f req/s"
            % (POLICY_RELOADS, POLICY_RULES[-1], rss0 / 1024.0, bench.rss_kib(big.proc.pid, "VmRSS") / 1024.0,
               rps))
    finally:
        for srv in servers:
            srv.stop()
    return errors


def answer_of(bin, mode, review, key):
    rc, answer, err = common.run_review_cli(mode, review, ["--seal-key", key], bin=bin)
    if rc != 0:
        raise SystemExit("bench review refused: %s" % err)
    return json.dumps(answer, separators=(",", ":"))


def sync_request(bin, key, managed=0):
    """A sync request for the PP-OCR Training with every child observed."""
    rev = bench.training_review()
    rc, answer, err = common.run_review_cli("mutate", rev, ["--seal-key", key], bin=bin)
    patched = common.jsonpatch.apply(rev["request"]["object"], common.jsonpatch.decode_review_patch(answer))
    patched["metadata"].update({"uid": "0d1c9b76-7b0e-4c54-9c39-7b6c8d0a0001", "generation": 1})
    children = {}
    for child in patched["spec"]["generated"]:
        obj = copy.deepcopy(child)
        md = obj["metadata"]
        md.update({"uid": "5f0c4d8e-0000-4000-8000-%012d" % len(children), "resourceVersion": "4711",
                   "generation": 1, "creationTimestamp": "2026-12-04T10:00:00Z"})
        md.setdefault("annotations", {})["metacontroller.k8s.io/last-applied-configuration"] = \
            json.dumps(child, sort_keys=True, separators=(",", ":"))
        if managed:
            md["managedFields"] = [{"manager": "kube-controller-manager", "operation": "Update",
                                    "apiVersion": child["apiVersion"], "fieldsType": "FieldsV1",
                                    "fieldsV1": {"f:status": {"f:x%d" % i: {} for i in range(managed)}}}]
        obj["status"] = {"phase": "Running", "conditions": [{"type": "Complete", "status": "False"}]}
        group = children.setdefault("%s.%s" % (obj["kind"], obj["apiVersion"]), {})
        group[md["name"]] = obj
    return {"controller": {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController",
                           "metadata": {"name": "paddlex-trainings"}},
            "parent": patched, "children": children, "related": {}, "finalizing": False}


def run(bin, tmp, certs, log=print):
    srv = Servers(bin, tmp, certs)
    errors = 0
    try:
        # ------------------------------------------------ configChanges entries
        url = srv.webhook() + "/mutate"
        base = None
        log("scaling: configChanges entries (/mutate, ratio to none)")
        for n in (0, 16, 64, 256):
            body = write(tmp, "cc%d.json" % n, training(entries=n))
            rps, err = rate(url, body)
            errors += err
            base = base or rps
            log("  %4d entries  %9.0f req/s   %.2f x none   (cost %.2f x)" % (n, rps, rps / base, base / rps))
        log("  peak RSS %.1f MiB" % srv.peak_mib())

        # --------------------------------------------------------- policy rules
        errors += policy_rows(bin, tmp, certs, log)

        # --------------------------------------------------------------- bodies
        log("scaling: request bodies (/validate, ratio to nginx reading the same body)")
        url = srv.webhook() + "/validate"
        for label, kw in (("1 KiB plain", {}), ("64 KiB plain", {"padding": 64 << 10}),
                          ("1 MiB plain", {"padding": 1 << 20}), ("3 MiB plain", {"padding": 3 * (1 << 20) - 8192}),
                          ("1 MiB dense", {"dense": 7000}), ("dense, 95k values", {"dense": 10500})):
            rev = training(**kw)
            body = write(tmp, "body.json", rev)
            size = os.path.getsize(body)
            if size > 3 << 20:
                continue
            nurl = srv.canned(answer_of(bin, "validate", rev, certs.key)) + "/validate"
            conns = 8 if size < 1 << 20 else 2
            rps, err = rate(url, body, conns=conns)
            nrps, _ = rate(nurl, body, conns=conns)
            errors += err
            log("  %-17s %8d B  %8.0f req/s   nginx %8.0f   %.2f x nginx   peak RSS %.1f MiB"
                % (label, size, rps, nrps, rps / nrps, srv.peak_mib()))

        # ----------------------------------------------------------------- sync
        log("scaling: /sync of a Training, every child observed (ratio to nginx's canned answer on the same"
            " kind of port)")
        tls_url = srv.webhook() + "/sync"
        for label, managed in (("no managedFields", 0), ("8 KB managedFields", 400)):
            req = sync_request(bin, certs.key, managed)
            body = write(tmp, "sync.json", req)
            out = subprocess.run(["curl", "-sS", "--cacert", certs.ca, "-H", "Content-Type: application/json",
                                  "--data-binary", "@" + body, tls_url], capture_output=True, text=True, timeout=30)
            # over TLS, and on the plain hook port Kubeflow's Metacontroller calls
            for port, url, tls in (("TLS", tls_url, True), ("plain", srv.plain() + "/sync", False)):
                nurl = srv.canned(out.stdout.strip(), tls=tls) + "/sync"
                rps, err = rate(url, body)
                nrps, _ = rate(nurl, body)
                errors += err
                log("  %-20s %-5s %7d B  %8.0f req/s   nginx %8.0f   %.2f x nginx"
                    % (label, port, os.path.getsize(body), rps, nrps, rps / nrps))
        log("  peak RSS %.1f MiB" % srv.peak_mib())
    finally:
        srv.stop()
    return errors


def main():
    """Only the policy rows: `scaling.py --bin bin/paddlex-webhook --only policy`."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--only", choices=["policy"], required=True, help="the rows to run")
    ap.add_argument("--rounds", type=int, default=5, help="alternating wrk rounds per policy")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="paddlex-scaling-")
    certs = common.make_test_certs(tmp)
    return 0 if policy_rows(args.bin, tmp, certs, rounds=args.rounds) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
