#!/usr/bin/env python3
"""make bench: the SPEC §7 figures, measured against nginx in the same run.

The webhook and nginx serve over the same certificate and TLS settings on
this machine; wrk (Debian's) drives both with the same realistic Training
review (the PP-OCR example with configChanges and pretrainModel). nginx
returns the webhook's own answer bytes as a canned response, which is the
ceiling for HTTP+TLS here. Rounds alternate between the two and medians are
reported, since the machine is shared and noisy.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import common  # noqa: E402
import yaml  # noqa: E402


def training_review(big=0):
    with open(os.path.join(ROOT, "examples", "pp-ocr.yaml")) as f:
        obj = next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "Training")
    spec = obj["spec"]
    spec.setdefault("configChanges", "Global.epoch_num=10,Global.log_smooth_window=2")
    spec.setdefault("pretrainModel", "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/"
                    "MobileNetV3_large_x0_5_pretrained.pdparams")
    if big:
        obj["metadata"].setdefault("annotations", {})["bench/padding"] = "x" * big
    return common.review(obj, uid="bench-0000-0000-0000-000000000000")


def wrk(url, body_file, threads, conns, seconds, latency=False):
    script = body_file + ".lua"
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'local f = io.open("%s", "rb")\nwrk.body = f:read("*a")\nf:close()\n' % body_file)
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "-s", script, url]
    if latency:
        cmd.insert(1, "--latency")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[int(pct)] = float(val) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return {"rps": rps, "total": total, "errors": errors, "latency_ms": lat}


def rss_kib(pid, field="VmHWM"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start_nginx(tmp, certs, port, answer, tls=True):
    conf = os.path.join(tmp, "nginx.conf")
    # nginx caps one configuration token at 4 KiB: the answer is cut into
    # chunks held by maps (looked up once per request) and joined by return.
    # In a quoted map value '\\' escapes, and '$' would start a variable:
    # it is written as ${dollar}, a geo variable holding a plain "$".
    def quoted(text):
        return text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "${dollar}")
    chunks, cur = [], ""
    for ch in answer:
        if len(cur) + len(quoted(ch)) > 3500:
            chunks.append(cur)
            cur = ""
        cur += quoted(ch)
    chunks.append(cur)
    maps = "    geo $dollar { default \"$\"; }\n" + "".join(
        "    map $scheme $answer%d { default '%s'; }\n" % (i, c) for i, c in enumerate(chunks))
    joined = "".join("$answer%d" % i for i in range(len(chunks)))
    tls_lines = (" ssl;\n        ssl_certificate %s;\n        ssl_certificate_key %s;\n"
                 "        ssl_protocols TLSv1.2 TLSv1.3" % (certs.cert, certs.key)) if tls else ""
    with open(conf, "w") as f:
        f.write("""worker_processes %d;
daemon off;
pid %s/nginx.pid;
error_log %s/nginx.err warn;
events { worker_connections 4096; }
http {
    access_log off;
%s    server {
        listen 127.0.0.1:%d%s;
        keepalive_requests 100000000;
        # above the webhook's 3 MiB: at nginx's default of 1 MiB it answered
        # the scaling rows' 1 and 3 MiB bodies 413 unread and reset the
        # connection (wrk's socket errors on those rows, and a bogus floor)
        client_max_body_size 4m;
        location / { default_type application/json; return 200 "%s"; }
    }
}
""" % (os.cpu_count() or 1, tmp, tmp, maps, port, tls_lines, joined))
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def wait_ready(port, certs):
    ctx = common.tls_context(certs.ca)
    for _ in range(200):
        try:
            conn = common.client(type("S", (), {"port": port, "ca": certs.ca})(), context=ctx)
            status, _, _ = common.request(conn, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("server on %d did not come up" % port)


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def latency_of(runs, pct):
    """The median over runs of their pct-th latency percentile, in ms."""
    return statistics.median(r["latency_ms"].get(pct, 0) for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--soak", type=int, default=1000000, help="reviews in the RSS growth check")
    ap.add_argument("--no-scaling", action="store_true", help="only the SPEC §7 figures")
    args = ap.parse_args()
    threads = 2
    tmp = tempfile.mkdtemp(prefix="paddlex-bench-")
    certs = common.make_test_certs(tmp)
    rev = training_review()
    body = os.path.join(tmp, "review.json")
    with open(body, "w") as f:
        json.dump(rev, f)
    # sealed with the key the server derives from its TLS key: the same bytes
    rc, answer, err = common.run_review_cli("mutate", rev, ["--seal-key", certs.key], bin=args.bin)
    if rc != 0 or not answer["response"]["allowed"]:
        raise SystemExit("the bench review is not allowed: %s" % err)
    answer_bytes = json.dumps(answer, separators=(",", ":"))

    wport, nport = common.free_port(), common.free_port()
    wh = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:%d" % wport, "--tls-cert", certs.cert,
                           "--tls-key", certs.key, "--log-level", "warn"], stdout=subprocess.DEVNULL)
    ng = start_nginx(tmp, certs, nport, answer_bytes)
    try:
        wait_ready(wport, certs)
        wurl, nurl = "https://localhost:%d/mutate" % wport, "https://localhost:%d/mutate" % nport
        wrk(wurl, body, threads, args.conns, 2)  # warm-up
        wrk(nurl, body, threads, args.conns, 2)
        wruns, nruns = [], []
        for _ in range(args.rounds):
            wruns.append(wrk(wurl, body, threads, args.conns, args.seconds))
            nruns.append(wrk(nurl, body, threads, args.conns, args.seconds))
        serial, nserial = [], []
        for _ in range(args.rounds):    # alternating: the machine's noise hits both alike
            serial.append(wrk(wurl, body, 1, 1, args.seconds, latency=True))
            nserial.append(wrk(nurl, body, 1, 1, args.seconds, latency=True))
        # short answers on one connection: the path where a corked socket
        # once held every answer for 200 ms
        short = wrk(wurl.replace("/mutate", "/validate"), body, 1, 1, args.seconds, latency=True)
        peak = rss_kib(wh.pid)

        big = training_review(big=1 << 20)
        big_body = os.path.join(tmp, "big.json")
        with open(big_body, "w") as f:
            json.dump(big, f)
        big_run = wrk(wurl, big_body, threads, 8, args.seconds)
        big_serial = wrk(wurl, big_body, 1, 1, args.seconds, latency=True)

        big_peak = rss_kib(wh.pid)
        rss_before = rss_kib(wh.pid, "VmRSS")
        soaked = 0
        while soaked < args.soak:
            soaked += wrk(wurl, body, threads, args.conns, 10)["total"]
        rss_after = rss_kib(wh.pid, "VmRSS")
    finally:
        wh.send_signal(signal.SIGTERM)
        ng.send_signal(signal.SIGQUIT)
        wh.wait(timeout=20)
        ng.wait(timeout=20)

    cli = []
    for _ in range(30):
        t0 = time.perf_counter()
        common.run_review_cli("mutate", rev, bin=args.bin)
        cli.append(time.perf_counter() - t0)

    w_rps, n_rps = median_of(wruns, "rps"), median_of(nruns, "rps")
    errors = sum(r["errors"] for r in wruns + serial + [short]) + big_run["errors"] + big_serial["errors"]
    print("bench: %d rounds of %d s, wrk -t%d -c%d, TLS 1.3, review %d bytes, answer %d bytes"
          % (args.rounds, args.seconds, threads, args.conns, os.path.getsize(body), len(answer_bytes)))
    print("  webhook throughput   %10.0f req/s (median; runs %s)" % (w_rps, ", ".join("%.0f" % r["rps"] for r in wruns)))
    print("  nginx canned answer  %10.0f req/s (median; runs %s)" % (n_rps, ", ".join("%.0f" % r["rps"] for r in nruns)))
    print("  ratio webhook/nginx  %10.2f   (SPEC §7: >= 0.5)" % (w_rps / n_rps))
    print("  serial latency       p50 %.3f ms, p99 %.3f ms   (SPEC §7: p99 < 1 ms)"
          % (latency_of(serial, 50), latency_of(serial, 99)))
    print("  serial, nginx        p50 %.3f ms, p99 %.3f ms   (the same run: this machine's floor)"
          % (latency_of(nserial, 50), latency_of(nserial, 99)))
    print("  serial /validate     p50 %.3f ms, p99 %.3f ms   (short answers, one connection)"
          % (latency_of([short], 50), latency_of([short], 99)))
    print("  peak RSS             %10.1f MiB   (SPEC §7: < 16 MiB; Training reviews under load)" % (peak / 1024.0))
    print("  RSS over %d reviews  %.1f MiB -> %.1f MiB" % (soaked, rss_before / 1024.0, rss_after / 1024.0))
    print("  1 MiB object         %10.0f req/s, serial p50 %.2f ms, peak RSS %.1f MiB (8 connections)"
          % (big_run["rps"], big_serial["latency_ms"].get(50, 0), big_peak / 1024.0))
    print("  review from stdin    %10.2f ms per process (median of %d)" % (statistics.median(cli) * 1e3, len(cli)))
    print("  errors under load    %d" % errors)
    if not args.no_scaling:
        import scaling
        errors += scaling.run(args.bin, tmp, certs)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
