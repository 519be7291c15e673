"""Monitoring (issue #20): manifests/monitoring/ checked with the real tools.

- promtool (Debian package prometheus; `make deps` installs it: a missing
  promtool FAILS these tests, it does not skip them): `promtool check rules`
  on the PrometheusRule's spec; `promtool test rules` on
  tests/monitoring/*_test.yaml, whose rules file must equal that spec
  (`make monitoring-rules` writes it); every alert has a case where it
  fires and one where it stays quiet, and summary/description/runbook.
- the Grafana dashboard: a `datasource` variable of type datasource for
  Prometheus that every panel and query uses; the panels the issue lists;
  every expression parses (`promtool check rules`, as recording rules).
- the live server: after mutate, validate, a denial, a 404 and a 405, GET
  /metrics passes `promtool check metrics`, and every metric name the rules
  and the dashboard use is a series it exports, every label they name one
  those series carry (or a target label Prometheus adds); the two
  last-reload gauges follow a broken and a repaired policy and key pair.
- Debian's Prometheus scrapes the live server over TLS verified as the
  ServiceMonitor says (the CA file, the server name) and loads the rules:
  every rule evaluates without error, none is pending or firing on a
  healthy server, every dashboard query and variable returns series; a
  2-day certificate, a broken policy and then a stopped server make
  CertificateExpiring, PolicyReloadFailing and PaddlexWebhookDown pending.
- `kubectl kustomize` of an overlay that adds the component to each install
  (a missing kubectl fails, as in test_manifests.py): the ServiceMonitor
  scrapes the Service's https port, path /metrics, verifying against ca.crt
  of Secret paddlex-webhook-tls for a name the certificate carries; the
  dashboard ConfigMap has the Grafana sidecar's label.

Field names of ServiceMonitor and PrometheusRule: the Prometheus Operator's
pkg/apis/monitoring/v1 (servicemonitor_types.go, tls_types.go
SafeTLSConfig, prometheusrule_types.go) and its CRD
example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml.

Run alone: /usr/bin/python3 tests/e2e/run.py --bin bin/paddlex-webhook -k test_monitoring
Write the rules file: /usr/bin/python3 tests/e2e/test_monitoring.py --write-rules
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import yaml  # Debian: python3-yaml (make deps)

import common
from common import Server, client, free_port, make_test_certs, needs_binary, post_json, request, review, send_review

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
COMPONENT = os.path.join(ROOT, "manifests", "monitoring")
RULE_OBJECT = os.path.join(COMPONENT, "prometheusrule.yaml")
DASHBOARD = os.path.join(COMPONENT, "dashboard.json")
RULE_TESTS = os.path.join(ROOT, "tests", "monitoring")
RULES_FILE = os.path.join(RULE_TESTS, "paddlex-webhook.rules.yaml")
INSTALLS = ("overlays/cert-manager", "overlays/self-signed")
WITHIN = 20.0

# Labels Prometheus puts on every scraped series (the Operator's
# relabelings of a ServiceMonitor target): allowed in rules and panels
# although the server does not write them.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
# Alerts the issue asks for, with the metric each is built on.
ALERTS = {
    "PaddlexWebhookDown": "paddlex_webhook_build_info",
    "PaddlexWebhookCertificateExpiringSoon": "paddlex_webhook_certificate_not_after_seconds",
    "PaddlexWebhookCertificateExpiring": "paddlex_webhook_certificate_not_after_seconds",
    "PaddlexWebhookAdmissionErrors": "paddlex_webhook_requests_total",
    "PaddlexWebhookServerErrors": "paddlex_webhook_responses_total",
    "PaddlexWebhookOverloaded": "paddlex_webhook_responses_total",
    "PaddlexWebhookAdmissionLatencyHigh": "paddlex_webhook_request_duration_seconds_bucket",
    "PaddlexWebhookPolicyReloadFailing": "paddlex_webhook_policy_last_reload_successful",
    "PaddlexWebhookCertificateReloadFailing": "paddlex_webhook_certificate_last_reload_successful",
}
# Metrics the dashboard must draw (the issue's panels).
DASHBOARD_METRICS = {
    "paddlex_webhook_requests_total", "paddlex_webhook_request_duration_seconds_bucket",
    "paddlex_webhook_denials_total", "paddlex_webhook_policy_reloads_total",
    "paddlex_webhook_certificate_reloads_total", "paddlex_webhook_certificate_not_after_seconds",
    "paddlex_webhook_in_flight_requests", "paddlex_webhook_open_connections",
}

AV = "paddlex.paddlepaddle.org/v1alpha1"
TRAINING = {"apiVersion": AV, "kind": "Training", "metadata": {"name": "ocr", "namespace": "kubeflow"},
            "spec": {"project": "PaddleOCR", "image": "registry.baidubce.com/paddleflow-public/paddleocr:2.6",
                     "configPath": "configs/det/det.yml", "dataset": "ocr-data", "pvcName": "task-pvc",
                     "workerReplicas": 1}}
DATASET = {"apiVersion": AV, "kind": "Dataset", "metadata": {"name": "ocr-data", "namespace": "team-a"},
           "spec": {"sourceUri": "bos://bucket/ocr/data", "sourceSecret": "bos-keys"}}


# ------------------------------------------------------------------ tools

def promtool(name="promtool"):
    """The promtool (or prometheus) command; fails, never skips, when it is
    not installed."""
    path = shutil.which(name)
    if not path:
        raise AssertionError("%s not found on PATH: `make deps` installs it "
                             "(Debian package prometheus)" % name)
    return path


def run(*argv, stdin=None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rule_spec():
    """The PrometheusRule's spec: a Prometheus rules file ({groups: [...]})."""
    obj = load_yaml(RULE_OBJECT)
    assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "PrometheusRule", obj
    return obj["spec"]


def write_rules(path):
    with open(path, "w") as f:
        f.write("# Written by `make monitoring-rules` from manifests/monitoring/prometheusrule.yaml\n"
                "# (its spec); tests/e2e/test_monitoring.py fails when the two differ.\n")
        yaml.safe_dump(rule_spec(), f, sort_keys=False, width=1000)


def alerting_rules(spec):
    return [r for g in spec["groups"] for r in g["rules"] if "alert" in r]


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", ())


def dashboard_queries(dash):
    """[(panel title, target)] of every query of every panel."""
    return [(p.get("title"), t) for p in all_panels(dash) for t in p.get("targets", ())]


# ------------------------------------------------------------------ PromQL

TOKEN = re.compile(r'''
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]])
  | (?P<space>\s+)
''', re.X)
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}
MATCH_OPS = {"=", "!=", "=~", "!~"}


def grafana_to_promql(expr):
    """Grafana's variables replaced by what Prometheus would be sent."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$__interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def promql_names(expr):
    """(metric names, label names) an expression uses. Metric names: bare
    identifiers that are not functions, keywords or grouping clauses.
    Labels: those of matchers and of by/without/on/ignoring/group_* lists."""
    toks = []
    pos = 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise AssertionError("cannot read PromQL at %r in %r" % (expr[pos:pos + 20], expr))
        pos = m.end()
        if m.lastgroup != "space":
            toks.append((m.lastgroup, m.group()))
    metrics, labels = set(), set()
    i, brace, bracket = 0, False, False
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if text == "{":
            brace = True
        elif text == "}":
            brace = False
        elif text == "[":
            bracket = True
        elif text == "]":
            bracket = False
        elif bracket or kind != "ident":
            pass
        elif brace:
            if nxt in MATCH_OPS:
                if text == "__name__":
                    metrics.add(toks[i + 2][1].strip("\"'`"))
                else:
                    labels.add(text)
        elif text in GROUPING and nxt == "(":
            j = i + 2
            while toks[j][1] != ")":
                if toks[j][0] == "ident":
                    labels.add(toks[j][1])
                j += 1
            i = j
        elif nxt == "(" or nxt in ("by", "without") or text in KEYWORDS or text in GROUPING:
            pass                                    # a function, an aggregation, an operator
        else:
            metrics.add(text)
        i += 1
    return metrics, labels


class PromqlNamesTest(unittest.TestCase):
    """The name reader the checks below rely on."""

    def test_reads_names_labels_and_skips_the_rest(self):
        m, l = promql_names('histogram_quantile(0.99, sum by (path, le) (rate(a_bucket{job="x",path=~"/m|/v"}[5m])))'
                            ' > 1 and on(job) b_total offset 5m unless absent(c{code!="503"}) * 1e9 / 21 * 86400')
        self.assertEqual(m, {"a_bucket", "b_total", "c"})
        self.assertEqual(l, {"path", "le", "job", "code"})
        self.assertEqual(promql_names('{__name__="d",k="v"} - time()'), ({"d"}, {"k"}))


# ------------------------------------------------------------------ rules

class RulesTest(unittest.TestCase):

    def test_promtool_check_rules(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "paddlex-webhook.rules.yaml")
            write_rules(path)
            res = run(promtool(), "check", "rules", path)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("SUCCESS: %d rules found" % len(alerting_rules(rule_spec())), res.stdout)

    def test_rules_file_is_the_prometheusrule_spec(self):
        self.assertEqual(load_yaml(RULES_FILE), rule_spec(),
                         "tests/monitoring/paddlex-webhook.rules.yaml differs from the PrometheusRule: "
                         "run `make monitoring-rules`")

    def test_promtool_test_rules(self):
        tests = sorted(glob.glob(os.path.join(RULE_TESTS, "*_test.yaml")))
        self.assertTrue(tests, "no tests/monitoring/*_test.yaml")
        res = run(promtool(), "test", "rules", *tests)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.count("SUCCESS"), len(tests), res.stdout)

    def test_promtool_test_rules_fails_a_wrong_expectation(self):
        """A control: promtool does fail a test that expects an alert the
        series do not raise (so a passing run means something)."""
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(RULES_FILE, d)
            path = os.path.join(d, "wrong_test.yaml")
            with open(path, "w") as f:
                yaml.safe_dump({"rule_files": [os.path.basename(RULES_FILE)], "evaluation_interval": "1m",
                                "tests": [{"interval": "1m", "input_series": [{
                                    "series": 'paddlex_webhook_policy_last_reload_successful{job="paddlex-webhook"}',
                                    "values": "1x20"}],
                                    "alert_rule_test": [{"eval_time": "15m",
                                                         "alertname": "PaddlexWebhookPolicyReloadFailing",
                                                         "exp_alerts": [{"exp_labels": {
                                                             "severity": "warning", "job": "paddlex-webhook"}}]}]}]},
                               f)
            res = run(promtool(), "test", "rules", path)
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn("FAILED", res.stdout + res.stderr)

    def test_every_alert_fires_and_stays_quiet_in_a_test(self):
        fires, quiet = set(), set()
        for path in glob.glob(os.path.join(RULE_TESTS, "*_test.yaml")):
            doc = load_yaml(path)
            self.assertEqual(doc["rule_files"], [os.path.basename(RULES_FILE)], path)
            for case in doc["tests"]:
                for check in case.get("alert_rule_test", ()):
                    (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
        names = {r["alert"] for r in alerting_rules(rule_spec())}
        self.assertEqual(names, set(ALERTS))
        self.assertEqual(names - fires, set(), "alerts no test makes fire")
        self.assertEqual(names - quiet, set(), "alerts no test keeps quiet")

    def test_alerts_have_severity_runbook_and_their_metric(self):
        for rule in alerting_rules(rule_spec()):
            with self.subTest(rule["alert"]):
                self.assertIn(rule["labels"]["severity"], ("warning", "critical"))
                for key in ("summary", "description", "runbook"):
                    self.assertGreater(len(rule["annotations"].get(key, "")), 20, key)
                metrics, _ = promql_names(rule["expr"])
                self.assertIn(ALERTS[rule["alert"]], metrics)
                self.assertTrue(all(m.startswith("paddlex_webhook_") for m in metrics), metrics)
                self.assertIn('job="paddlex-webhook"', rule["expr"])

    def test_thresholds_are_the_issues(self):
        rules = {r["alert"]: r for r in alerting_rules(rule_spec())}
        self.assertIn("< 21 * 86400", rules["PaddlexWebhookCertificateExpiringSoon"]["expr"])
        self.assertIn("< 7 * 86400", rules["PaddlexWebhookCertificateExpiring"]["expr"])
        self.assertEqual(rules["PaddlexWebhookCertificateExpiring"]["labels"]["severity"], "critical")
        # the latency budget: well under the webhooks' timeoutSeconds
        budget = float(re.search(r"\)\s*>\s*([\d.]+)\s*$", rules["PaddlexWebhookAdmissionLatencyHigh"]["expr"])[1])
        for doc in yaml.safe_load_all(open(os.path.join(ROOT, "manifests", "webhook",
                                                        "webhookconfigurations.yaml"))):
            for hook in doc["webhooks"]:
                self.assertLessEqual(budget, hook["timeoutSeconds"] / 4, hook["name"])


# ------------------------------------------------------------------ dashboard

class DashboardTest(unittest.TestCase):

    def setUp(self):
        self.dash = load_dashboard()

    def test_datasource_variable_used_by_every_query(self):
        variables = {v["name"]: v for v in self.dash["templating"]["list"]}
        ds = variables.get("datasource")
        self.assertIsNotNone(ds, "no datasource variable")
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        want = {"type": "prometheus", "uid": "${datasource}"}
        for v in variables.values():
            if v["type"] == "query":
                self.assertEqual(v["datasource"], want, v["name"])
        queries = dashboard_queries(self.dash)
        self.assertGreater(len(queries), 10)
        for title, t in queries:
            self.assertEqual(t.get("datasource"), want, title)
        for p in all_panels(self.dash):
            if p.get("targets"):
                self.assertEqual(p.get("datasource"), want, p["title"])

    def test_importable(self):
        d = self.dash
        self.assertIsNone(d.get("id"), "an exported id makes the import overwrite another dashboard")
        self.assertTrue(d.get("uid") and d.get("title") and d.get("schemaVersion"))
        ids = [p["id"] for p in all_panels(d)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for p in all_panels(d):
            g = p["gridPos"]
            self.assertTrue(0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"])

    def test_panels_the_issue_asks_for(self):
        used = set()
        for title, t in dashboard_queries(self.dash):
            used |= promql_names(grafana_to_promql(t["expr"]))[0]
        self.assertEqual(DASHBOARD_METRICS - used, set(), "metrics no panel draws")
        titles = " | ".join(p.get("title", "") for p in all_panels(self.dash)).lower()
        for words in ("request rate", "p50", "p99", "denials by reason", "namespace", "reload",
                      "certificate days left", "in-flight", "open connections"):
            self.assertIn(words, titles)
        latency = [t["expr"] for title, t in dashboard_queries(self.dash) if "p99" in title.lower()]
        self.assertTrue(latency and all("by (path, kind, le)" in e for e in latency), latency)
        rate = [t["expr"] for title, t in dashboard_queries(self.dash) if title == "Request rate by path and kind"]
        self.assertTrue(rate and "by (path, kind)" in rate[0], rate)

    def test_every_expression_parses(self):
        """promtool check rules on every query as a recording rule, Grafana's
        variables replaced as Grafana would."""
        rules = [{"record": "paddlex_webhook_dashboard:query%d" % i, "expr": grafana_to_promql(t["expr"])}
                 for i, (_, t) in enumerate(dashboard_queries(self.dash))]
        rules += [{"record": "paddlex_webhook_dashboard:variable%d" % i,
                   "expr": re.fullmatch(r"label_values\((.*), *\w+\)", v["definition"])[1]
                   .replace("$job", ".*").replace("$namespace", ".*")}
                  for i, v in enumerate(self.dash["templating"]["list"]) if v["type"] == "query"]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dashboard.rules.yaml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            res = run(promtool(), "check", "rules", path)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)


# ------------------------------------------------------------------ live

def parse_exposition(text):
    """{metric name: set of label names} of the samples in the text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$", line)
        assert m, "not a sample: %r" % line
        out.setdefault(m[1], set()).update(re.findall(r'([a-zA-Z_]\w*)="', m[2] or ""))
    return out


def scrape(srv):
    conn = client(srv)
    try:
        status, _, text = request(conn, "GET", "/metrics")
    finally:
        conn.close()
    assert status == 200, status
    return text


def gauge(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, "no %s in /metrics" % name
    return float(m[1])


def eventually(check, what):
    deadline = time.monotonic() + WITHIN
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not within %.0f s: %s" % (WITHIN, what))
        time.sleep(0.05)


def replace_file(path, data):
    """Writes a new file over path by rename (a new inode, as a volume update)."""
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


@needs_binary
class LiveMetricsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        promtool()
        with Server() as srv:
            conn = client(srv)
            try:
                send_review(conn, "/mutate", review(DATASET))
                send_review(conn, "/validate", review(TRAINING))
                denied = send_review(conn, "/validate", review(dict(TRAINING, spec=dict(TRAINING["spec"],
                                                                                         workerReplicas=-1))))
                assert denied["response"]["allowed"] is False, denied
                assert request(conn, "GET", "/nowhere")[0] == 404
                assert request(conn, "GET", "/validate")[0] == 405
                assert post_json(conn, "/validate", b"{")[0] == 400
            finally:
                conn.close()
            cls.text = scrape(srv)
        cls.exported = parse_exposition(cls.text)

    def test_promtool_check_metrics(self):
        res = run(promtool(), "check", "metrics", stdin=self.text)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual((res.stdout + res.stderr).strip(), "", "promtool lint findings")

    def test_traffic_shows(self):
        self.assertIn('paddlex_webhook_responses_total{path="other",code="404"} 1', self.text)
        self.assertIn('paddlex_webhook_responses_total{path="/validate",code="405"} 1', self.text)
        self.assertIn('paddlex_webhook_request_duration_seconds_count{path="/mutate",kind="Dataset"} 1', self.text)
        self.assertIn('paddlex_webhook_denials_total{reason="Invalid"} 1', self.text)

    def check_names(self, where, exprs, legends=()):
        for expr in exprs:
            metrics, labels = promql_names(expr)
            self.assertTrue(metrics, "%s: no metric in %r" % (where, expr))
            for m in metrics:
                self.assertIn(m, self.exported, "%s: %s is not exported by the server (%r)" % (where, m, expr))
            carried = set().union(*(self.exported[m] for m in metrics)) | TARGET_LABELS
            self.assertEqual(labels - carried, set(), "%s: labels no series of %s carries" % (where, metrics))
        for legend in legends:
            used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
            self.assertEqual(used - set().union(*self.exported.values()) - TARGET_LABELS, set(),
                             "%s: legend %r" % (where, legend))

    def test_rules_use_only_exported_metrics(self):
        for rule in alerting_rules(rule_spec()):
            with self.subTest(rule["alert"]):
                self.check_names(rule["alert"], [rule["expr"]])

    def test_dashboard_uses_only_exported_metrics(self):
        dash = load_dashboard()
        for title, t in dashboard_queries(dash):
            with self.subTest(title):
                self.check_names(title, [grafana_to_promql(t["expr"])], [t.get("legendFormat", "")])
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                with self.subTest(v["name"]):
                    inner, label = re.fullmatch(r"label_values\((.*), *(\w+)\)", v["definition"]).groups()
                    self.check_names(v["name"], [grafana_to_promql(inner)])
                    self.assertIn(label, TARGET_LABELS)


@needs_binary
class ReloadGaugeTest(unittest.TestCase):
    """The gauges PaddlexWebhook{Policy,Certificate}ReloadFailing alert on."""

    def test_policy_gauge_follows_a_broken_then_repaired_policy(self):
        with tempfile.TemporaryDirectory() as d:
            policy = os.path.join(d, "policy.yaml")
            with open(os.path.join(ROOT, "examples", "policy.yaml"), "rb") as f:
                good = f.read()
            replace_file(policy, good)
            with Server(["--policy", policy, "--reload-interval", "200"]) as srv:
                name = "paddlex_webhook_policy_last_reload_successful"
                self.assertEqual(gauge(scrape(srv), name), 1)
                replace_file(policy, b"limits: [\n")
                eventually(lambda: gauge(scrape(srv), name) == 0, "the gauge at 0 after a broken policy")
                self.assertIn('paddlex_webhook_policy_reloads_total{result="failure"} 1', scrape(srv))
                replace_file(policy, good + b"\n")
                eventually(lambda: gauge(scrape(srv), name) == 1, "the gauge back at 1")
                self.assertIn('paddlex_webhook_policy_reloads_total{result="success"} 1', scrape(srv))

    def test_certificate_gauge_follows_a_mismatched_then_good_pair(self):
        with tempfile.TemporaryDirectory() as d:
            first = make_test_certs(os.path.join(d, "a"))
            other = make_test_certs(os.path.join(d, "b"), ca=(first.ca, first.ca_key))
            live = os.path.join(d, "live")
            os.mkdir(live)
            for src, dst in ((first.cert, "tls.crt"), (first.key, "tls.key")):
                shutil.copy(src, os.path.join(live, dst))
            certs = first._replace(cert=os.path.join(live, "tls.crt"), key=os.path.join(live, "tls.key"))
            with Server(["--reload-interval", "200"], certs=certs) as srv:
                name = "paddlex_webhook_certificate_last_reload_successful"
                self.assertEqual(gauge(scrape(srv), name), 1)
                with open(other.key, "rb") as f:
                    replace_file(certs.key, f.read())        # a key that does not match tls.crt
                eventually(lambda: gauge(scrape(srv), name) == 0, "the gauge at 0 after a mismatched pair")
                with open(other.cert, "rb") as f:
                    replace_file(certs.cert, f.read())       # now the pair matches
                eventually(lambda: gauge(scrape(srv), name) == 1, "the gauge back at 1")


class Prometheus:
    """Debian's prometheus, scraping one target every second as the
    ServiceMonitor's endpoint does (https, /metrics, CA file, server name),
    with the rules loaded and evaluated every second. Killed on every path."""

    def __init__(self, target_port, ca, server_name, rules):
        self.dir = tempfile.mkdtemp(prefix="paddlex-prometheus-")
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules],
            "scrape_configs": [{
                "job_name": "paddlex-webhook", "scheme": "https", "metrics_path": "/metrics",
                "tls_config": {"ca_file": ca, "server_name": server_name, "insecure_skip_verify": False},
                # the target labels the Operator's relabelings add
                "static_configs": [{"targets": ["127.0.0.1:%d" % target_port],
                                    "labels": {"namespace": "paddlex-system", "pod": "paddlex-webhook-0"}}],
            }],
        }
        path = os.path.join(self.dir, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        with open(os.path.join(self.dir, "log"), "wb") as log:
            self.proc = subprocess.Popen(
                [promtool("prometheus"), "--config.file=" + path,
                 "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=common._die_with_parent)
        try:
            eventually(self.ready, "prometheus ready")
        except BaseException:
            self.close()
            raise

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited %s: %s" % (self.proc.returncode, self.log()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params, doseq=True))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def rules(self):
        return [r for g in self.api("rules")["groups"] for r in g["rules"]]

    def alert_state(self, name):
        """inactive, pending or firing."""
        return next(r["state"] for r in self.rules() if r.get("name") == name)

    def log(self):
        with open(os.path.join(self.dir, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, True)


@needs_binary
class PrometheusTest(unittest.TestCase):
    """The rules and the dashboard as Prometheus runs them, on the real
    server's series. Traffic is healthy (allowed, a denial, a 404 on no
    route), so no alert may be pending."""

    def traffic(self):
        conn = client(self.srv)
        try:
            send_review(conn, "/mutate", review(DATASET))
            send_review(conn, "/validate", review(TRAINING))
            send_review(conn, "/validate", review(dict(TRAINING, spec=dict(TRAINING["spec"], workerReplicas=-1))))
            self.assertEqual(request(conn, "GET", "/nowhere")[0], 404)
        finally:
            conn.close()

    def test_prometheus_scrapes_evaluates_and_alerts(self):
        d = tempfile.mkdtemp(prefix="paddlex-monitoring-")
        self.addCleanup(shutil.rmtree, d, True)
        policy = os.path.join(d, "policy.yaml")
        with open(os.path.join(ROOT, "examples", "policy.yaml"), "rb") as f:
            replace_file(policy, f.read())
        rules = os.path.join(d, "paddlex-webhook.rules.yaml")
        write_rules(rules)
        # 60 days: no certificate alert; then a 2-day pair under the same CA
        good = make_test_certs(os.path.join(d, "good"), days=60)
        short = make_test_certs(os.path.join(d, "short"), days=2, ca=(good.ca, good.ca_key))
        live = os.path.join(d, "live")
        os.mkdir(live)
        certs = good._replace(cert=os.path.join(live, "tls.crt"), key=os.path.join(live, "tls.key"))
        for src, dst in ((good.cert, certs.cert), (good.key, certs.key)):
            shutil.copy(src, dst)
        self.srv = Server(["--policy", policy, "--reload-interval", "200"], certs=certs)
        self.srv.start()
        self.addCleanup(self.srv.stop, False)
        prom = Prometheus(self.srv.port, self.srv.ca, "localhost", rules)
        self.addCleanup(prom.close)

        eventually(lambda: [float(s["value"][1]) for s in prom.query('up{job="paddlex-webhook"}')] == [1.0],
                   "Prometheus scraping the server over verified TLS")
        self.traffic()
        eventually(lambda: prom.query('paddlex_webhook_requests_total{result="denied"}'), "the traffic scraped")
        self.traffic()                          # counters that move between scrapes: rates above 0
        time.sleep(2.5)

        dash = load_dashboard()
        for title, t in dashboard_queries(dash):
            with self.subTest(title):
                self.assertTrue(prom.query(grafana_to_promql(t["expr"])), "no series for %r" % t["expr"])
        for v in dash["templating"]["list"]:
            if v["type"] == "query":
                with self.subTest(v["name"]):
                    inner, label = re.fullmatch(r"label_values\((.*), *(\w+)\)", v["definition"]).groups()
                    series = prom.api("series", **{"match[]": grafana_to_promql(inner)})
                    self.assertTrue(series and all(s.get(label) for s in series), (v["name"], series))

        eventually(lambda: all(r.get("lastEvaluation", "").startswith("2") for r in prom.rules()),
                   "every rule evaluated")
        for r in prom.rules():
            self.assertEqual((r["name"], r["health"], r.get("lastError", "")), (r["name"], "ok", ""))
            self.assertEqual((r["name"], r["state"]), (r["name"], "inactive"), "on a healthy server")
        self.assertEqual(len(prom.rules()), len(ALERTS))

        for src, dst in ((short.key, certs.key), (short.cert, certs.cert)):
            with open(src, "rb") as f:
                replace_file(dst, f.read())
        eventually(lambda: prom.alert_state("PaddlexWebhookCertificateExpiring") == "pending",
                   "CertificateExpiring pending with 2 days left")
        self.assertEqual(prom.alert_state("PaddlexWebhookCertificateExpiringSoon"), "inactive")

        replace_file(policy, b"limits: [\n")
        eventually(lambda: prom.alert_state("PaddlexWebhookPolicyReloadFailing") == "pending",
                   "PolicyReloadFailing pending after a broken policy")
        self.assertEqual(prom.alert_state("PaddlexWebhookDown"), "inactive")
        self.srv.stop()
        eventually(lambda: prom.alert_state("PaddlexWebhookDown") == "pending",
                   "PaddlexWebhookDown pending once the server is gone")


# ------------------------------------------------------------------ kustomize

class ComponentBuildTest(unittest.TestCase):

    def build(self, install):
        """kubectl kustomize of an overlay that adds the component to install.
        A missing kubectl fails, as in test_manifests.py: make deps installs it."""
        kubectl = shutil.which("kubectl")
        if not kubectl:
            raise AssertionError("kubectl not found on PATH: the component's build needs `kubectl kustomize` "
                                 "(no cluster); run `make deps`")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                "resources": [os.path.relpath(os.path.join(ROOT, "manifests", install), d)],
                                "components": [os.path.relpath(COMPONENT, d)]}, f)
            res = run(kubectl, "kustomize", d)
        self.assertEqual(res.returncode, 0, res.stderr)
        return [o for o in yaml.safe_load_all(res.stdout) if o]

    def test_component_kind(self):
        k = load_yaml(os.path.join(COMPONENT, "kustomization.yaml"))
        self.assertEqual((k["apiVersion"], k["kind"]), ("kustomize.config.k8s.io/v1alpha1", "Component"))

    def test_overlays_with_the_component_build(self):
        for install in INSTALLS:
            with self.subTest(install):
                objs = self.build(install)
                by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
                service = by[("Service", "paddlex-webhook")]
                mon = by[("ServiceMonitor", "paddlex-webhook")]
                rule = by[("PrometheusRule", "paddlex-webhook")]
                cm = by[("ConfigMap", "paddlex-webhook-dashboard")]
                for o in (mon, rule, cm):
                    self.assertEqual(o["metadata"]["namespace"], service["metadata"]["namespace"])
                self.assertEqual(mon["apiVersion"], "monitoring.coreos.com/v1")
                self.assertEqual(rule["spec"], rule_spec())
                # the ServiceMonitor selects the Service, and scrapes its port as served
                sel = mon["spec"]["selector"]["matchLabels"]
                self.assertTrue(sel and all(service["metadata"]["labels"].get(k) == v for k, v in sel.items()))
                self.assertEqual(mon["spec"]["namespaceSelector"]["matchNames"], [service["metadata"]["namespace"]])
                [ep] = mon["spec"]["endpoints"]
                self.assertIn(ep["port"], [p["name"] for p in service["spec"]["ports"]])
                self.assertEqual((ep["path"], ep["scheme"]), ("/metrics", "https"))
                tls = ep["tlsConfig"]
                self.assertEqual(tls["ca"], {"secret": {"name": "paddlex-webhook-tls", "key": "ca.crt"}})
                self.assertFalse(tls.get("insecureSkipVerify", False))
                self.assertEqual(tls["serverName"], "%s.%s.svc" % (service["metadata"]["name"],
                                                                     service["metadata"]["namespace"]))
                deploy = by[("Deployment", "paddlex-webhook")]
                volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
                self.assertEqual(volumes["certs"]["secret"]["secretName"], "paddlex-webhook-tls")
                # the dashboard, as the Grafana sidecar finds it
                self.assertEqual(cm["metadata"]["labels"].get("grafana_dashboard"), "1")
                [(key, data)] = cm["data"].items()
                self.assertTrue(key.endswith(".json"))
                self.assertEqual(json.loads(data), load_dashboard())

    def test_certificates_carry_the_server_name(self):
        objs = self.build("overlays/cert-manager")
        cert = next(o for o in objs if o["kind"] == "Certificate" and o["metadata"]["name"] == "paddlex-webhook")
        mon = next(o for o in objs if o["kind"] == "ServiceMonitor")
        self.assertEqual(cert["spec"]["secretName"], "paddlex-webhook-tls")
        self.assertIn(mon["spec"]["endpoints"][0]["tlsConfig"]["serverName"], cert["spec"]["dnsNames"])


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-rules"]:
        write_rules(RULES_FILE)
        print("wrote", os.path.relpath(RULES_FILE))
    else:
        sys.exit("usage: test_monitoring.py --write-rules (the tests run from tests/e2e/run.py)")
