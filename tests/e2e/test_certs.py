"""End-to-end tests of `paddlex-webhook certs` (SPEC §5).

The real binary writes certificates that the openssl CLI and a real TLS
handshake must accept, and talks to kubeapi_standin, a local HTTPS stand-in
for the kube-apiserver that judges each request as the real one would.
"""
import base64
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import unittest

from common import binary, needs_binary
from kubeapi_standin import TOKEN, Standin, make_pki
from test_manifests import Rbac, build, one, require_kubectl

FILES = ("ca.crt", "ca.key", "tls.crt", "tls.key")
SECRETS = "/api/v1/namespaces/ns/secrets"
SECRET = SECRETS + "/web-tls"
CA_SECRET = SECRETS + "/web-tls-ca"
MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/web"
VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/web"
JSON, JSON_PATCH = "application/json", "application/json-patch+json"


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def read(path):
    with open(path, "rb") as f:
        return f.read()


class CertsCase(unittest.TestCase):
    """A temporary out dir and a runner for the binary."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.out = os.path.join(self.tmp.name, "out")

    def run_bin(self, *args, code=0, env=None):
        r = subprocess.run([binary(), *args], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, code, "stdout: %s\nstderr: %s" % (r.stdout, r.stderr))
        return r

    def certs(self, *extra, code=0, env=None):
        """Runs certs for service web in namespace ns, then the extra arguments."""
        return self.run_bin("certs", "--service", "web", "--namespace", "ns", "--out-dir", self.out, *extra,
                            code=code, env=env)

    def file(self, name):
        return os.path.join(self.out, name)

    def contents(self):
        return {name: read(self.file(name)) for name in FILES}


@needs_binary
class CertsFilesTest(CertsCase):

    def test_certificates_verify_and_name_the_service(self):
        self.certs("--host", "10.0.0.7", "--host", "webhook.example.com", "--host", "fd00::7")
        self.assertEqual(openssl("verify", "-purpose", "sslserver", "-CAfile", self.file("ca.crt"),
                                 self.file("tls.crt")).strip(), self.file("tls.crt") + ": OK")
        sans = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", self.file("tls.crt"))
        names = {n.strip() for n in sans.splitlines()[1].split(",")}
        self.assertEqual(names, {"DNS:web", "DNS:web.ns", "DNS:web.ns.svc", "DNS:web.ns.svc.cluster.local",
                                 "DNS:webhook.example.com", "IP Address:10.0.0.7", "IP Address:FD00:0:0:0:0:0:0:7"})
        subject = openssl("x509", "-noout", "-subject", "-in", self.file("tls.crt"))
        self.assertEqual(subject.strip(), "subject=CN = web.ns.svc")
        ca_ext = openssl("x509", "-noout", "-ext", "basicConstraints,keyUsage", "-in", self.file("ca.crt"))
        self.assertIn("Basic Constraints: critical\n    CA:TRUE", ca_ext)
        self.assertIn("Certificate Sign, CRL Sign", ca_ext)
        tls_ext = openssl("x509", "-noout", "-ext", "basicConstraints,extendedKeyUsage", "-in",
                          self.file("tls.crt"))
        self.assertIn("CA:FALSE", tls_ext)
        self.assertIn("TLS Web Server Authentication", tls_ext)
        for name in FILES:
            mode = stat.S_IMODE(os.stat(self.file(name)).st_mode)
            self.assertEqual(mode, 0o600 if name.endswith(".key") else 0o644, name)

    def test_ca_outlives_the_serving_certificate(self):
        self.certs("--days", "20", "--ca-days", "40")

        def end(name):
            text = openssl("x509", "-noout", "-enddate", "-in", self.file(name)).strip()
            return ssl.cert_time_to_seconds(text.split("=", 1)[1])

        self.assertGreater(end("ca.crt"), end("tls.crt"))
        self.assertAlmostEqual(end("ca.crt") - end("tls.crt"), 20 * 86400, delta=120)

    def test_tls_handshake_checks_the_service_name(self):
        self.certs()
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(self.file("tls.crt"), self.file("tls.key"))
        client_ctx = ssl.create_default_context(cafile=self.file("ca.crt"))
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)

        def serve(count):
            for _ in range(count):
                conn, _ = listener.accept()
                try:
                    server_ctx.wrap_socket(conn, server_side=True).close()
                except (ssl.SSLError, OSError):
                    conn.close()

        thread = threading.Thread(target=serve, args=(2,), daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="web.ns.svc") as tls:
                self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                client_ctx.wrap_socket(raw, server_hostname="other.ns.svc")
        thread.join(10)

    def test_second_run_keeps_the_files(self):
        self.certs("--host", "10.0.0.7")
        before = self.contents()
        r = self.certs("--host", "10.0.0.7")
        self.assertRegex(r.stdout, r"^certificates are valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, kept\n$")
        self.assertEqual(self.contents(), before)

    def test_new_host_reissues_only_the_serving_certificate(self):
        self.certs()
        before = self.contents()
        r = self.certs("--host", "extra.example.com")
        self.assertIn("serving certificate issued (tls.crt does not cover extra.example.com)", r.stdout)
        after = self.contents()
        self.assertEqual(after["ca.crt"], before["ca.crt"])
        self.assertEqual(after["ca.key"], before["ca.key"])
        self.assertNotEqual(after["tls.crt"], before["tls.crt"])
        self.assertNotEqual(after["tls.key"], before["tls.key"])
        openssl("verify", "-CAfile", self.file("ca.crt"), self.file("tls.crt"))

    def test_near_expiry_reissues(self):
        self.certs("--days", "10", "--renew-before", "20")
        before = self.contents()
        r = self.certs("--days", "10", "--renew-before", "20")
        self.assertIn("within the renewal window", r.stdout)
        self.assertNotEqual(self.contents()["tls.crt"], before["tls.crt"])

    def test_bad_arguments_exit_2(self):
        cases = [("--days", "x"), ("--days", "30", "--ca-days", "30"), ("--host", "under_score"),
                 ("--unknown",), ("positional",)]
        r = self.run_bin("certs", "--out-dir", self.out, code=2)
        self.assertIn("--service, --namespace and --out-dir are required", r.stderr)
        for extra in cases:
            with self.subTest(extra=extra):
                r = self.certs(*extra, code=2)
                self.assertIn("usage: paddlex-webhook certs", r.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_help_exits_0(self):
        r = self.run_bin("certs", "--help")
        self.assertIn("--patch-webhooks", r.stdout)


def kubeconfig_yaml(server, cluster, user):
    """A kubeconfig whose current context (not the first) uses cluster and user fields."""
    def fields(d):
        return "".join("    %s: %s\n" % (k, v) for k, v in d.items())

    return ("apiVersion: v1\nkind: Config\ncurrent-context: standin\n"
            "contexts:\n"
            "- name: elsewhere\n  context: {cluster: nowhere, user: nobody}\n"
            "- name: standin\n  context:\n    cluster: standin-cluster\n    user: standin-user\n"
            "clusters:\n"
            "- name: nowhere\n  cluster: {server: 'https://192.0.2.1:6443'}\n"
            "- name: standin-cluster\n  cluster:\n    server: %s/\n%s"
            "users:\n"
            "- name: nobody\n  user: {token: wrong}\n"
            "- name: standin-user\n  user:\n%s") % (server, fields(cluster), fields(user) or "    {}\n")


def webhook(name, bundle=None):
    config = {"service": {"name": "web", "namespace": "ns", "path": "/mutate"}}
    if bundle is not None:
        config["caBundle"] = bundle
    return {"name": name, "clientConfig": config, "sideEffects": "None", "admissionReviewVersions": ["v1"]}


@needs_binary
class CertsApiTest(CertsCase):

    @classmethod
    def setUpClass(cls):
        cls.pki_tmp = tempfile.TemporaryDirectory()
        cls.pki = make_pki(cls.pki_tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.pki_tmp.cleanup()

    def setUp(self):
        super().setUp()
        self.api = Standin(self.pki).start()
        self.addCleanup(self.api.stop)
        self.api.seed(MUTATING, {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "web"},
            "webhooks": [webhook("a.paddlex.paddlepaddle.org", base64.b64encode(b"stale").decode()),
                         webhook("b.paddlex.paddlepaddle.org")]})
        self.api.seed(VALIDATING, {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "web"}, "webhooks": [webhook("v.paddlex.paddlepaddle.org")]})
        kube_dir = os.path.join(self.tmp.name, "kube")
        os.mkdir(kube_dir)
        shutil.copy(self.pki.server.ca, os.path.join(kube_dir, "api-ca.crt"))
        # A relative file name resolves against the kubeconfig's directory.
        self.kubeconfig = self.write_kubeconfig({"certificate-authority": "api-ca.crt"}, {"token": TOKEN})

    def write_kubeconfig(self, cluster, user, name="config"):
        path = os.path.join(self.tmp.name, "kube", name)
        with open(path, "w") as f:
            f.write(kubeconfig_yaml(self.api.url, cluster, user))
        return path

    @staticmethod
    def pem_data(path):
        return base64.b64encode(read(path)).decode()

    def publish(self, *extra, code=0, kubeconfig=None):
        return self.certs("--secret", "web-tls", "--patch-webhooks", "web",
                          "--kubeconfig", kubeconfig or self.kubeconfig, *extra, code=code)

    def assert_published(self):
        for path, kind, keys in ((SECRET, "kubernetes.io/tls", ("tls.crt", "tls.key", "ca.crt")),
                                 (CA_SECRET, "Opaque", ("ca.crt", "ca.key"))):
            secret = self.api.get(path)
            self.assertEqual(secret["type"], kind)
            for key in keys:
                self.assertEqual(base64.b64decode(secret["data"][key]), read(self.file(key)), (path, key))
        bundle = base64.b64encode(read(self.file("ca.crt"))).decode()
        for path in (MUTATING, VALIDATING):
            hooks = self.api.get(path)["webhooks"]
            self.assertEqual([h["clientConfig"]["caBundle"] for h in hooks], [bundle] * len(hooks), path)

    def test_creates_the_secret_and_sets_every_ca_bundle(self):
        r = self.publish()
        self.assert_published()
        # read both Secrets (to seed the out dir), then write the CA's first
        self.assertEqual(self.api.requests, [
            ("GET", SECRET, "", "token"), ("GET", CA_SECRET, "", "token"),
            ("GET", CA_SECRET, "", "token"), ("POST", SECRETS, JSON, "token"),
            ("GET", SECRET, "", "token"), ("POST", SECRETS, JSON, "token"),
            ("GET", MUTATING, "", "token"), ("PATCH", MUTATING, JSON_PATCH, "token"),
            ("GET", VALIDATING, "", "token"), ("PATCH", VALIDATING, JSON_PATCH, "token")])
        self.assertIn("secret ns/web-tls-ca created\nsecret ns/web-tls created\n", r.stdout)
        self.assertIn("mutatingwebhookconfigurations/web: caBundle updated on 2 of 2 webhooks\n", r.stdout)
        self.assertIn("validatingwebhookconfigurations/web: caBundle updated on 1 of 1 webhooks\n", r.stdout)
        self.assertEqual(self.api.get(MUTATING)["webhooks"][0]["name"], "a.paddlex.paddlepaddle.org")

    def test_second_run_writes_nothing(self):
        self.publish()
        del self.api.requests[:]
        r = self.publish()
        self.assertEqual(self.api.writes(), [])
        self.assertIn("secret ns/web-tls-ca unchanged\nsecret ns/web-tls unchanged\n", r.stdout)
        self.assertIn("mutatingwebhookconfigurations/web: caBundle already current on 2 webhooks\n", r.stdout)
        self.assert_published()

    def test_rerun_in_a_fresh_pod_writes_nothing(self):
        """The Job's pod starts with an empty out dir: the Secrets fill it."""
        self.publish()
        before = self.contents()
        shutil.rmtree(self.out)
        del self.api.requests[:]
        r = self.publish()
        self.assertEqual(self.api.writes(), [])
        self.assertEqual(self.contents(), before)
        for name in FILES:
            self.assertIn("%s taken from secret ns/web-tls%s\n" % (name, "-ca" if name.startswith("ca.") else ""),
                          r.stdout)
            mode = stat.S_IMODE(os.stat(self.file(name)).st_mode)
            self.assertEqual(mode, 0o600 if name.endswith(".key") else 0o644, name)
        self.assertIn(", kept\n", r.stdout)

    def test_renewal_in_a_fresh_pod_keeps_the_ca(self):
        """A serving certificate within --renew-before is reissued under the
        CA the cluster already trusts: no CA write, no caBundle patch."""
        self.publish("--days", "10", "--renew-before", "20")
        before = self.contents()
        ca_secret = self.api.get(CA_SECRET)
        shutil.rmtree(self.out)
        del self.api.requests[:]
        r = self.publish("--days", "10", "--renew-before", "20")
        self.assertIn("within the renewal window", r.stdout)
        self.assertEqual([w[:2] for w in self.api.writes()], [("PUT", SECRET)])
        self.assertEqual(self.api.get(CA_SECRET), ca_secret)
        after = self.contents()
        for name in ("ca.crt", "ca.key"):
            self.assertEqual(after[name], before[name], name)
        self.assertNotEqual(after["tls.crt"], before["tls.crt"])
        self.assertNotEqual(after["tls.key"], before["tls.key"])
        openssl("verify", "-CAfile", self.file("ca.crt"), self.file("tls.crt"))
        self.assert_published()

    def test_lost_ca_secret_brings_a_new_ca(self):
        """Without the CA key (deleted, or written by a version that did not
        keep it) the next run makes a new CA once, and patches caBundle."""
        self.publish()
        before = self.contents()
        del self.api.objects[CA_SECRET]
        shutil.rmtree(self.out)
        del self.api.requests[:]
        r = self.publish()
        self.assertIn("ca certificate issued (ca.crt missing)", r.stdout)
        self.assertNotEqual(self.contents()["ca.crt"], before["ca.crt"])
        self.assertEqual([w[:2] for w in self.api.writes()],
                         [("POST", SECRETS), ("PUT", SECRET), ("PATCH", MUTATING), ("PATCH", VALIDATING)])
        self.assert_published()

    def test_reissued_certificates_update_the_secret_in_place(self):
        self.publish()
        self.api.seed(SECRET, dict(self.api.get(SECRET), metadata={
            "name": "web-tls", "namespace": "ns", "labels": {"team": "ml"}}))
        self.api.objects[SECRET]["data"]["extra"] = base64.b64encode(b"kept").decode()
        r = self.publish("--host", "new.example.com")
        self.assertIn("secret ns/web-tls updated\n", r.stdout)
        self.assertIn(("PUT", SECRET, JSON, "token"), self.api.requests)
        secret = self.api.get(SECRET)
        self.assertEqual(secret["metadata"]["labels"], {"team": "ml"})
        self.assertEqual(base64.b64decode(secret["data"]["extra"]), b"kept")
        self.assert_published()

    def test_self_signed_overlay_job_within_its_rbac(self):
        """The overlay's Job, with its own arguments, against an API that
        grants exactly the overlay's RBAC to the Job's service account. Each
        run, in a fresh pod, renews the CA and the serving certificate, so
        every verb the Job needs is used."""
        require_kubectl()
        objs = build("self-signed")
        job = one(objs, "Job", "paddlex-webhook-certs")
        pod = job["spec"]["template"]["spec"]
        account = (job["metadata"]["namespace"], pod["serviceAccountName"])
        rbac = Rbac(objs)
        self.api.authorize = lambda *request: rbac.allowed(account, *request)
        args = pod["containers"][0]["args"]
        name = args[args.index("--patch-webhooks") + 1]
        for path in (MUTATING, VALIDATING):
            self.api.seed(path.replace("/web", "/" + name), dict(self.api.get(path), metadata={"name": name}))
        args = [self.out if a == "/tmp/certs" else a for a in args]
        args += ["--kubeconfig", self.kubeconfig, "--days", "10", "--ca-days", "15", "--renew-before", "20"]
        for _ in range(2):
            shutil.rmtree(self.out, ignore_errors=True)
            self.run_bin(*args)
        self.assertEqual({r[0] for r in self.api.writes()}, {"POST", "PUT", "PATCH"})
        args[args.index("--secret") + 1] = "other"
        self.assertIn("http 403", self.run_bin(*args, code=1).stderr)

    def test_secret_of_another_type_is_refused(self):
        for path, name, have, want in ((SECRET, "web-tls", "Opaque", "kubernetes.io/tls"),
                                       (CA_SECRET, "web-tls-ca", "kubernetes.io/tls", "Opaque")):
            with self.subTest(name):
                self.api.objects.clear()
                self.api.seed(path, {"apiVersion": "v1", "kind": "Secret", "type": have,
                                     "metadata": {"name": name, "namespace": "ns"}, "data": {}})
                r = self.publish(code=1)
                self.assertIn("secret ns/%s has type %s, not %s" % (name, have, want), r.stderr)
                self.assertEqual(self.api.writes(), [])

    def test_concurrent_changes_are_retried(self):
        self.publish()
        self.api.seed(SECRET, dict(self.api.get(SECRET), data={"tls.crt": "", "tls.key": ""}))
        self.api.seed(MUTATING, dict(self.api.get(MUTATING), webhooks=[webhook("a"), webhook("b")]))
        del self.api.requests[:]
        self.api.race(SECRET, 2)    # the first GET is the read that seeds the out dir
        self.api.race(MUTATING)
        self.publish()
        self.assertEqual([w[:2] for w in self.api.writes()],
                         [("PUT", SECRET), ("PUT", SECRET), ("PATCH", MUTATING), ("PATCH", MUTATING)])
        self.assert_published()

    def test_endless_conflicts_give_up(self):
        self.publish("--days", "10", "--renew-before", "20")
        self.api.race(SECRET, 100)
        del self.api.requests[:]
        r = self.publish("--days", "10", "--renew-before", "20", code=1)
        self.assertIn("http 409", r.stderr)
        self.assertEqual([w[0] for w in self.api.writes()], ["PUT"] * 3)

    def test_missing_webhook_configuration_fails(self):
        del self.api.objects[VALIDATING]
        r = self.publish(code=1)
        self.assertIn("validatingwebhookconfigurations/web not found", r.stderr)

    def test_inline_client_certificate(self):
        config = self.write_kubeconfig({"certificate-authority-data": self.pem_data(self.pki.server.ca)},
                                       {"client-certificate-data": self.pem_data(self.pki.client_cert),
                                        "client-key-data": self.pem_data(self.pki.client_key)}, name="inline")
        self.publish(kubeconfig=config)
        self.assertEqual({r[3] for r in self.api.requests}, {"cert"})
        self.assert_published()

    def test_untrusted_server_is_refused(self):
        config = self.write_kubeconfig({"certificate-authority": self.pki.other_ca},
                                       {"token": TOKEN}, name="other")
        r = self.publish(kubeconfig=config, code=1)
        self.assertIn("certificate", r.stderr)
        self.assertEqual(self.api.requests, [])

    def test_wrong_token_is_refused(self):
        config = self.write_kubeconfig({"certificate-authority": "api-ca.crt"}, {"token": "nope"}, name="bad")
        r = self.publish(kubeconfig=config, code=1)
        self.assertIn("http 401", r.stderr)
        self.assertEqual(self.api.get(SECRET), None)

    def test_insecure_skip_tls_verify_is_refused(self):
        config = self.write_kubeconfig({"insecure-skip-tls-verify": "true"}, {"token": TOKEN}, name="insecure")
        r = self.publish(kubeconfig=config, code=1)
        self.assertIn("insecure-skip-tls-verify", r.stderr)
        self.assertEqual(self.api.requests, [])
        self.assertFalse(os.path.exists(self.out))

    def test_in_cluster_needs_the_service_environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE_")}
        r = self.certs("--secret", "web-tls", code=1, env=env)
        self.assertIn("KUBERNETES_SERVICE_HOST", r.stderr)


if __name__ == "__main__":
    unittest.main()
