/*
 * certgen: the `paddlex-webhook certs` subcommand (SPEC §5).
 *
 *   paddlex-webhook certs --service NAME --namespace NS --out-dir DIR
 *       [--days N]              serving certificate validity, default 365
 *       [--ca-days N]           CA validity, default 3650; must exceed --days
 *       [--renew-before N]      reissue what expires within N days, default 30
 *       [--host NAME|IP]...     extra subject alternative name
 *       [--secret NAME]         also keep the files in Secret NS/NAME
 *                               (kubernetes.io/tls: tls.crt, tls.key, ca.crt)
 *                               and NS/NAME-ca (Opaque: ca.crt, ca.key)
 *       [--patch-webhooks NAME] also set caBundle on every webhook of the
 *                               Mutating- and ValidatingWebhookConfiguration NAME
 *       [--kubeconfig FILE]     API access; default in-cluster
 *
 * Files, all PEM, written to DIR (created 0700 when missing), each atomically
 * (temporary file, fsync, rename): ca.crt and tls.crt mode 0644, ca.key and
 * tls.key mode 0600 (PKCS#8, unencrypted).
 *
 * Keys are ECDSA P-256, signatures SHA-256: small keys, fast handshakes, and
 * accepted by the kube-apiserver and GnuTLS. Every certificate has a random
 * 127-bit serial and is backdated 5 minutes for clock skew.
 * - CA: CN paddlex-webhook-ca, basicConstraints critical CA:TRUE, keyUsage
 *   critical keyCertSign+cRLSign, SKI, AKI.
 * - Serving: CN NAME.NS.svc; SANs NAME, NAME.NS, NAME.NS.svc,
 *   NAME.NS.svc.cluster.local and each --host (an IPv4/IPv6 address becomes an
 *   IP SAN); basicConstraints critical CA:FALSE, keyUsage critical
 *   digitalSignature, extendedKeyUsage serverAuth, SKI, AKI.
 *
 * Idempotent. The existing files are kept, byte for byte, when they parse,
 * each key matches its certificate, the CA is a self-signed CA, the serving
 * certificate verifies against it for TLS server use, covers every requested
 * name and does not outlive it, and neither expires within --renew-before
 * days. Otherwise the serving certificate is reissued with a new key; the CA
 * too when it is missing, invalid, within --renew-before of its expiry, or
 * would expire before the new serving certificate. A new CA always brings a
 * new serving certificate. Nothing is written when the files are kept.
 * (So --renew-before at or above --days reissues on every run.)
 *
 * With --secret, both Secrets are read first, and each file missing from DIR
 * is taken from them (tls.* from NAME, ca.* from NAME-ca; files already in
 * DIR win). So a run in a fresh pod keeps what the cluster holds, or renews
 * the serving certificate under the same CA, whose caBundle stays valid.
 * Afterwards each Secret is written only when its content differs, NAME-ca
 * first: nothing signed by a new CA is published before its key is kept.
 * NAME-ca holds the CA key; mount it nowhere.
 *
 * Output: one lowercase line per action on stdout, errors on stderr.
 */
#ifndef CERTS_CERTGEN_H
#define CERTS_CERTGEN_H

#include <time.h>

/* Exit status of certgen_main on bad arguments (0 done, 1 failed). */
#define CERTGEN_EXIT_USAGE 2

/*
 * Runs the subcommand; argv[0] is "certs" and argv is not modified other than
 * getopt's reordering of the pointers. Returns the process exit status: 0,
 * 1 on failure, CERTGEN_EXIT_USAGE on bad arguments. Safe to call repeatedly
 * in one process (resets getopt).
 */
int certgen_main(int argc, char **argv);

/*
 * Reads the PEM certificate at cert_path and stores its notAfter (UTC) in
 * *not_after. Returns 0, or -1 when the file cannot be read or parsed. Prints
 * nothing.
 */
int certgen_not_after(const char *cert_path, time_t *not_after);

#endif
