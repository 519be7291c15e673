/*
 * certgen: the `certs` subcommand (see certgen.h for the contract).
 */
#include "certs/certgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certs/kubeapi.h"
#include "mutators/json/readfile.h"

#define DAY 86400L
#define DEFAULT_DAYS 365
#define DEFAULT_CA_DAYS 3650
#define DEFAULT_RENEW_BEFORE 30
#define MAX_DAYS 36500             /* bound of every day count: a century */
#define MAX_HOSTS 32               /* --host occurrences */
#define MAX_NAMES (4 + MAX_HOSTS)  /* the service's four names, then the hosts */
#define SERVING_CN 2               /* index of NAME.NS.svc in struct names */
#define MAX_DNS_NAME 253
#define MAX_DNS_LABEL 63
#define MAX_PEM_FILE (64 * 1024)   /* a PEM file read back from the out dir */
#define REASON_MAX 256
#define TIME_TEXT_MAX 32
#define SERIAL_BITS 127            /* random with the top bit set: positive, 16 bytes */
#define CLOCK_SKEW (5 * 60)        /* notBefore backdating, seconds */
#define CURVE "P-256"
#define CA_COMMON_NAME "paddlex-webhook-ca"
#define SECRET_TYPE "kubernetes.io/tls"
#define CA_SECRET_SUFFIX "-ca"     /* --secret NAME keeps the CA pair in NAME-ca */
#define CA_SECRET_TYPE "Opaque"

static const char usage_synopsis[] =
    "usage: paddlex-webhook certs --service NAME --namespace NS --out-dir DIR\n"
    "           [--days N] [--ca-days N] [--renew-before N] [--host NAME|IP]...\n"
    "           [--secret NAME] [--patch-webhooks NAME] [--kubeconfig FILE]\n";

static const char usage_options[] =
    "\n"
    "  --days N               serving certificate validity (default 365)\n"
    "  --ca-days N            ca validity, more than --days (default 3650)\n"
    "  --renew-before N       reissue what expires within N days (default 30)\n"
    "  --host NAME|IP         extra subject alternative name, repeatable\n"
    "  --secret NAME          keep the files in Secrets NS/NAME (kubernetes.io/tls)\n"
    "                         and NS/NAME-ca (the ca pair): read first, written on change\n"
    "  --patch-webhooks NAME  set caBundle in the webhook configurations NAME\n"
    "  --kubeconfig FILE      api access (default: in-cluster service account)\n";

/* The serving certificate's subject alternative names, in order. */
struct names {
    char v[MAX_NAMES][MAX_DNS_NAME + 1];
    size_t n;
};

struct options {
    const char *service, *namespace, *out_dir;
    long days, ca_days, renew_before;
    const char *hosts[MAX_HOSTS];
    size_t n_hosts;
    const char *secret, *patch_webhooks, *kubeconfig;
    struct names names; /* derived from service, namespace and hosts */
    char ca_secret[MAX_DNS_NAME + sizeof CA_SECRET_SUFFIX]; /* secret + CA_SECRET_SUFFIX */
};

struct blob {
    unsigned char *data;
    size_t len;
};

/* A certificate and its key, with the PEM text they were read from or
 * written to (which is what the Secret and caBundle carry). Owns all four. */
struct credential {
    X509 *cert;
    EVP_PKEY *key;
    struct blob cert_pem, key_pem;
};

struct ext {
    int nid;
    const char *value; /* in openssl.cnf syntax */
};

/* What differs between the CA and the serving certificate, as data. */
struct profile {
    const char *label;
    const char *cert_file, *key_file;
    const struct ext *exts;
    size_t n_exts;
};

/* Subject key identifier first: the authority key identifier is taken from
 * the issuer's, which for the self-signed CA is this very certificate. */
static const struct ext ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
};

static const struct ext serving_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "serverAuth"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
};

static const struct profile ca_profile = {
    "ca certificate", "ca.crt", "ca.key", ca_exts, sizeof ca_exts / sizeof ca_exts[0],
};

static const struct profile serving_profile = {
    "serving certificate", "tls.crt", "tls.key", serving_exts, sizeof serving_exts / sizeof serving_exts[0],
};

/* ---- reporting ---- */

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
    va_list ap;

    fputs("certs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* The reason of OpenSSL's last error, for a message; empties the queue. */
static const char *ssl_error(void)
{
    unsigned long err = ERR_peek_last_error();
    const char *text = err ? ERR_reason_error_string(err) : NULL;

    ERR_clear_error();
    return text ? text : "unknown openssl error";
}

/* Records why existing files cannot be kept. Returns 0 ("not usable"). The
 * OpenSSL errors of the failed check are expected, so they are dropped. */
__attribute__((format(printf, 2, 3)))
static int reason(char why[static REASON_MAX], const char *fmt, ...)
{
    va_list ap;

    /* Truncation only shortens the message, which is acceptable here. */
    va_start(ap, fmt);
    vsnprintf(why, REASON_MAX, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return 0;
}

/* Formats t as 2006-01-02T15:04:05Z into text, which it returns. */
static const char *format_time(const ASN1_TIME *t, char text[static TIME_TEXT_MAX])
{
    struct tm tm;

    if (!ASN1_TIME_to_tm(t, &tm) || strftime(text, TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        memcpy(text, "(unknown)", sizeof "(unknown)");
    return text;
}

/* ---- options ---- */

/* A Kubernetes DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
static int is_dns_label(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > MAX_DNS_LABEL || s[0] == '-' || s[len - 1] == '-')
        return 0;
    for (i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* A DNS subdomain: dot-separated DNS labels, at most 253 characters. */
static int is_dns_name(const char *s)
{
    const char *dot;

    if (strlen(s) > MAX_DNS_NAME)
        return 0;
    while ((dot = strchr(s, '.')) != NULL) {
        if (!is_dns_label(s, (size_t)(dot - s)))
            return 0;
        s = dot + 1;
    }
    return is_dns_label(s, strlen(s));
}

static int is_ip_address(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Parses a day count in [min, MAX_DAYS]. */
static int parse_days(const char *text, const char *option, long min, long *days)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > MAX_DAYS)
        return fail("%s: expected a number of days from %ld to %d, got '%.32s'", option, min, MAX_DAYS, text);
    *days = v;
    return 0;
}

/* Appends a formatted name unless it is already there. */
__attribute__((format(printf, 2, 3)))
static int add_name(struct names *names, const char *fmt, ...)
{
    va_list ap;
    size_t i;
    int n;

    if (names->n == MAX_NAMES)
        return fail("too many names");
    va_start(ap, fmt);
    n = vsnprintf(names->v[names->n], sizeof names->v[0], fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof names->v[0])
        return fail("name too long");
    for (i = 0; i < names->n; i++)
        if (strcmp(names->v[i], names->v[names->n]) == 0)
            return 0;
    names->n++;
    return 0;
}

/* Checks the options that getopt cannot and derives the names. */
static int check_options(struct options *o)
{
    const char *svc = o->service, *ns = o->namespace;
    size_t i;

    if (!svc || !ns || !o->out_dir || !*o->out_dir)
        return fail("--service, --namespace and --out-dir are required");
    if (!is_dns_label(svc, strlen(svc)))
        return fail("--service '%.64s' is not a dns label ([a-z0-9-], at most 63)", svc);
    if (!is_dns_label(ns, strlen(ns)))
        return fail("--namespace '%.64s' is not a dns label ([a-z0-9-], at most 63)", ns);
    if (o->secret && (!is_dns_name(o->secret) ||
                      (size_t)snprintf(o->ca_secret, sizeof o->ca_secret, "%s%s", o->secret, CA_SECRET_SUFFIX) >=
                          sizeof o->ca_secret ||
                      !is_dns_name(o->ca_secret)))
        return fail("--secret '%.64s' and its ca secret NAME%s must be dns subdomain names", o->secret,
                    CA_SECRET_SUFFIX);
    if (o->patch_webhooks && !is_dns_name(o->patch_webhooks))
        return fail("--patch-webhooks '%.64s' is not a dns subdomain name", o->patch_webhooks);
    if (o->ca_days <= o->days)
        return fail("--ca-days %ld must exceed --days %ld: the ca must outlive the serving certificate", o->ca_days,
                    o->days);
    if (add_name(&o->names, "%s", svc) < 0 || add_name(&o->names, "%s.%s", svc, ns) < 0 ||
        add_name(&o->names, "%s.%s.svc", svc, ns) < 0 || add_name(&o->names, "%s.%s.svc.cluster.local", svc, ns) < 0)
        return -1;
    for (i = 0; i < o->n_hosts; i++) {
        if (!is_ip_address(o->hosts[i]) && !is_dns_name(o->hosts[i]))
            return fail("--host '%.64s' is neither an ip address nor a lowercase dns name", o->hosts[i]);
        if (add_name(&o->names, "%s", o->hosts[i]) < 0)
            return -1;
    }
    return 0;
}

enum {
    OPT_SERVICE = 256, OPT_NAMESPACE, OPT_OUT_DIR, OPT_DAYS, OPT_CA_DAYS, OPT_RENEW_BEFORE,
    OPT_HOST, OPT_SECRET, OPT_PATCH_WEBHOOKS, OPT_KUBECONFIG, OPT_HELP,
};

static const struct option long_options[] = {
    {"service", required_argument, NULL, OPT_SERVICE},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"days", required_argument, NULL, OPT_DAYS},
    {"ca-days", required_argument, NULL, OPT_CA_DAYS},
    {"renew-before", required_argument, NULL, OPT_RENEW_BEFORE},
    {"host", required_argument, NULL, OPT_HOST},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"patch-webhooks", required_argument, NULL, OPT_PATCH_WEBHOOKS},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Fills o from argv. Returns 0, 1 for --help, -1 on a usage error (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
    int c;

    memset(o, 0, sizeof *o);
    o->days = DEFAULT_DAYS;
    o->ca_days = DEFAULT_CA_DAYS;
    o->renew_before = DEFAULT_RENEW_BEFORE;
    optind = 0; /* glibc: start afresh, so that certgen_main can run again */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_SERVICE: o->service = optarg; break;
        case OPT_NAMESPACE: o->namespace = optarg; break;
        case OPT_OUT_DIR: o->out_dir = optarg; break;
        case OPT_SECRET: o->secret = optarg; break;
        case OPT_PATCH_WEBHOOKS: o->patch_webhooks = optarg; break;
        case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
        case OPT_DAYS:
            if (parse_days(optarg, "--days", 1, &o->days) < 0)
                return -1;
            break;
        case OPT_CA_DAYS:
            if (parse_days(optarg, "--ca-days", 1, &o->ca_days) < 0)
                return -1;
            break;
        case OPT_RENEW_BEFORE:
            if (parse_days(optarg, "--renew-before", 0, &o->renew_before) < 0)
                return -1;
            break;
        case OPT_HOST:
            if (o->n_hosts == MAX_HOSTS)
                return fail("at most %d --host options", MAX_HOSTS);
            o->hosts[o->n_hosts++] = optarg;
            break;
        case OPT_HELP:
            return 1;
        default:
            return fail("unknown option or missing value: %.64s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail("unexpected argument: %.64s", argv[optind]);
    return check_options(o);
}

/* ---- files ---- */

static void blob_release(struct blob *b)
{
    OPENSSL_clear_free(b->data, b->len);
    b->data = NULL;
    b->len = 0;
}

static void credential_release(struct credential *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    blob_release(&c->cert_pem);
    blob_release(&c->key_pem);
    c->cert = NULL;
    c->key = NULL;
}

static int path_in(char path[static PATH_MAX], const char *dir, const char *name)
{
    if ((size_t)snprintf(path, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        return fail("%.64s...: path too long", dir);
    return 0;
}

/* Reads a whole regular file of at most MAX_PEM_FILE bytes into b (owned
 * by the caller). Returns 0, or -1 with errno set (ENOENT when missing,
 * EFBIG when too large; mutators/json/readfile.h). */
static int read_file(const char *path, struct blob *b)
{
    char err[READFILE_MAX_ERROR], *buf;
    size_t n;

    if (readfile_path(path, MAX_PEM_FILE, READFILE_SECRET, &buf, &n, err, sizeof(err)) < 0)
        return -1;
    b->data = (unsigned char *)buf;
    b->len = n;
    return 0;
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Replaces dir/name atomically with b: a temporary file created 0600 in the
 * same directory, chmod to mode, written, fsynced, renamed over. */
static int write_file(const char *dir, const char *name, const struct blob *b, mode_t mode)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int fd, rc = -1;

    if (path_in(path, dir, name) < 0)
        return -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name) >= sizeof tmp)
        return fail("%.64s...: path too long", dir);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return fail("%s: %s", tmp, strerror(errno));
    if (fchmod(fd, mode) == 0 && write_all(fd, b->data, b->len) == 0 && fsync(fd) == 0) {
        rc = close(fd);
        fd = -1;
        if (rc == 0)
            rc = rename(tmp, path);
    }
    if (rc < 0) {
        fail("%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
    }
    return rc;
}

static int prepare_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0) {
        printf("directory %s created\n", dir);
        return 0;
    }
    return errno == EEXIST ? 0 : fail("%s: %s", dir, strerror(errno));
}

/* ---- parsing and checking ---- */

static X509 *parse_cert(const struct blob *b)
{
    BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return cert;
}

/* An encrypted key is not ours: refuse it rather than prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static EVP_PKEY *parse_key(const struct blob *b)
{
    BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

    BIO_free(bio);
    return key;
}

/* Reads dir/name into b. Returns 0; 1 when the file does not exist (why
 * says so); -1 on another error (reported). */
static int read_existing(const char *dir, const char *name, struct blob *b, char why[static REASON_MAX])
{
    char path[PATH_MAX];

    if (path_in(path, dir, name) < 0)
        return -1;
    if (read_file(path, b) == 0)
        return 0;
    if (errno != ENOENT)
        return fail("%s: %s", path, strerror(errno));
    reason(why, "%s missing", name);
    return 1;
}

/* Loads p's two files from dir into c (empty). Returns 0 when both parse;
 * 1 when one is missing or unparseable (why says which); -1 on an I/O
 * error (reported). */
static int load_credential(const char *dir, const struct profile *p, struct credential *c,
                           char why[static REASON_MAX])
{
    int rc;

    if ((rc = read_existing(dir, p->cert_file, &c->cert_pem, why)) != 0 ||
        (rc = read_existing(dir, p->key_file, &c->key_pem, why)) != 0)
        return rc;
    c->cert = parse_cert(&c->cert_pem);
    c->key = parse_key(&c->key_pem);
    if (!c->cert || !c->key) {
        reason(why, "%s is not a pem %s", c->cert ? p->key_file : p->cert_file,
               c->cert ? "private key" : "certificate");
        return 1;
    }
    return 0;
}

/* Does cert expire at or before t? (An unreadable date counts as yes.) */
static int expires_before(const X509 *cert, time_t t)
{
    return X509_cmp_time(X509_get0_notAfter(cert), &t) <= 0;
}

/* Verifies cert for TLS server use, now, against ca as the only trust
 * anchor. Returns NULL when it verifies, else why not (static text). */
static const char *verify_chain(X509 *cert, X509 *ca)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    const char *problem = "out of memory";

    if (store && ctx && X509_STORE_add_cert(store, ca) == 1 && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1 &&
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) == 1)
        problem = X509_verify_cert(ctx) == 1 ? NULL : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return problem;
}

static int covers(X509 *cert, const char *name)
{
    if (is_ip_address(name))
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1;
}

/* Can the loaded CA stay? 1 yes; 0 no, why says why. */
static int ca_usable(const struct credential *ca, time_t renew_at, char why[static REASON_MAX])
{
    char until[TIME_TEXT_MAX];

    if (X509_check_private_key(ca->cert, ca->key) != 1)
        return reason(why, "ca.key does not match ca.crt");
    if (X509_check_ca(ca->cert) != 1 || X509_self_signed(ca->cert, 1) != 1)
        return reason(why, "ca.crt is not a self-signed ca certificate");
    if (expires_before(ca->cert, renew_at))
        return reason(why, "ca.crt expires %s, within the renewal window",
                      format_time(X509_get0_notAfter(ca->cert), until));
    return 1;
}

/* Can the loaded serving certificate stay under ca? 1 yes; 0 no, why says why. */
static int serving_usable(const struct credential *tls, const struct credential *ca, const struct names *names,
                          time_t renew_at, char why[static REASON_MAX])
{
    char until[TIME_TEXT_MAX];
    const char *problem;
    size_t i;

    if (X509_check_private_key(tls->cert, tls->key) != 1)
        return reason(why, "tls.key does not match tls.crt");
    if ((problem = verify_chain(tls->cert, ca->cert)) != NULL)
        return reason(why, "tls.crt does not verify against ca.crt: %s", problem);
    if (expires_before(tls->cert, renew_at))
        return reason(why, "tls.crt expires %s, within the renewal window",
                      format_time(X509_get0_notAfter(tls->cert), until));
    if (ASN1_TIME_compare(X509_get0_notAfter(tls->cert), X509_get0_notAfter(ca->cert)) > 0)
        return reason(why, "tls.crt outlives ca.crt");
    for (i = 0; i < names->n; i++)
        if (!covers(tls->cert, names->v[i]))
            return reason(why, "tls.crt does not cover %s", names->v[i]);
    return 1;
}

/* ---- issuing ---- */

static int set_serial(X509 *cert)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, SERIAL_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));

    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_extensions(X509 *cert, X509 *signer, const struct profile *p)
{
    X509V3_CTX ctx;
    size_t i;

    X509V3_set_ctx(&ctx, signer, cert, NULL, NULL, 0);
    for (i = 0; i < p->n_exts; i++) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, p->exts[i].nid, p->exts[i].value);
        int ok = ext && X509_add_ext(cert, ext, -1);

        X509_EXTENSION_free(ext);
        if (!ok)
            return -1;
    }
    return 0;
}

static int add_names(X509 *cert, const struct names *names)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int rc = -1;
    size_t i;

    if (!gens)
        return -1;
    for (i = 0; i < names->n; i++) {
        int type = is_ip_address(names->v[i]) ? GEN_IPADD : GEN_DNS;
        GENERAL_NAME *gen = a2i_GENERAL_NAME(NULL, NULL, NULL, type, names->v[i], 0);

        if (!gen || !sk_GENERAL_NAME_push(gens, gen)) {
            GENERAL_NAME_free(gen);
            goto out;
        }
    }
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
        rc = 0;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

/* Returns a new certificate for key under profile p, signed by issuer, or
 * the self-signed CA when issuer is NULL; NULL on failure. */
static X509 *build_cert(const struct options *o, const struct profile *p, EVP_PKEY *key,
                        const struct credential *issuer, time_t now)
{
    X509 *cert = X509_new();
    X509 *signer = issuer ? issuer->cert : cert;
    EVP_PKEY *signer_key = issuer ? issuer->key : key;
    const char *cn = issuer ? o->names.v[SERVING_CN] : CA_COMMON_NAME;
    long days = issuer ? o->days : o->ca_days;

    if (!cert || !X509_set_version(cert, X509_VERSION_3) || set_serial(cert) < 0 ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                    -1, -1, 0) ||
        !X509_set_issuer_name(cert, X509_get_subject_name(signer)) ||
        !X509_time_adj_ex(X509_getm_notBefore(cert), 0, -CLOCK_SKEW, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, &now) || !X509_set_pubkey(cert, key) ||
        add_extensions(cert, signer, p) < 0 || (issuer && add_names(cert, &o->names) < 0) ||
        !X509_sign(cert, signer_key, EVP_sha256())) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* Moves the contents of a memory BIO into b. */
static int bio_take(BIO *bio, struct blob *b)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);

    if (len <= 0 || !(b->data = malloc((size_t)len)))
        return -1;
    memcpy(b->data, data, (size_t)len);
    b->len = (size_t)len;
    return 0;
}

/* Fills c's PEM texts from its certificate and key (PKCS#8). */
static int pem_encode(struct credential *c)
{
    BIO *cert_bio = BIO_new(BIO_s_mem()), *key_bio = BIO_new(BIO_s_mem());
    int ok = cert_bio && key_bio && PEM_write_bio_X509(cert_bio, c->cert) &&
             PEM_write_bio_PrivateKey(key_bio, c->key, NULL, NULL, 0, NULL, NULL) &&
             bio_take(cert_bio, &c->cert_pem) == 0 && bio_take(key_bio, &c->key_pem) == 0;

    BIO_free(cert_bio);
    BIO_free(key_bio); /* a memory BIO wipes its buffer when freed */
    return ok ? 0 : -1;
}

/* Replaces c with a new key and certificate of profile p (see build_cert)
 * and writes them to the out dir, the key first. */
static int issue(const struct options *o, const struct profile *p, struct credential *c,
                 const struct credential *issuer, const char *why, time_t now)
{
    char until[TIME_TEXT_MAX];

    credential_release(c);
    if (!(c->key = EVP_EC_gen(CURVE)) || !(c->cert = build_cert(o, p, c->key, issuer, now)) || pem_encode(c) < 0)
        return fail("cannot make the %s: %s", p->label, ssl_error());
    if (write_file(o->out_dir, p->key_file, &c->key_pem, 0600) < 0 ||
        write_file(o->out_dir, p->cert_file, &c->cert_pem, 0644) < 0)
        return -1;
    printf("%s issued (%s), valid until %s\n", p->label, why, format_time(X509_get0_notAfter(c->cert), until));
    return 0;
}

/* Is dir/name certainly absent? (Another error leaves the file to the loader.) */
static int missing(const char *dir, const char *name)
{
    char path[PATH_MAX];

    return path_in(path, dir, name) == 0 && access(path, F_OK) != 0 && errno == ENOENT;
}

/* Copies p's two files from Secret NS/secret (of type) into the out dir
 * where the out dir lacks them; a missing Secret or key copies nothing. */
static int seed(struct kubeapi *api, const struct options *o, const char *secret, const char *type,
                const struct profile *p)
{
    struct kubeapi_value values[] = {{p->cert_file, NULL, 0}, {p->key_file, NULL, 0}};
    static const mode_t modes[] = {0644, 0600};
    const size_t n = sizeof values / sizeof values[0];
    int found, rc = 0;
    size_t i;

    if ((found = kubeapi_read_secret(api, o->namespace, secret, type, values, n)) < 0)
        return fail("%s", api->error);
    if (found == 0)
        rc = prepare_dir(o->out_dir);
    for (i = 0; i < n; i++) { /* blob_release wipes and frees what was read */
        struct blob b = {values[i].data, values[i].len};

        if (rc == 0 && b.data && missing(o->out_dir, values[i].key)) {
            rc = write_file(o->out_dir, values[i].key, &b, modes[i]);
            if (rc == 0)
                printf("%s taken from secret %s/%s\n", values[i].key, o->namespace, secret);
        }
        blob_release(&b);
    }
    return rc;
}

/* Keeps or (re)issues the four files; ca and tls (empty) end up holding them. */
static int ensure_certificates(const struct options *o, struct credential *ca, struct credential *tls)
{
    char why[REASON_MAX], until[TIME_TEXT_MAX];
    time_t now = time(NULL);
    time_t renew_at = now + o->renew_before * DAY;
    int rc, ca_ok, tls_ok = 0;

    if (prepare_dir(o->out_dir) < 0 || (rc = load_credential(o->out_dir, &ca_profile, ca, why)) < 0)
        return -1;
    ca_ok = rc == 0 && ca_usable(ca, renew_at, why);
    if (ca_ok) {
        if ((rc = load_credential(o->out_dir, &serving_profile, tls, why)) < 0)
            return -1;
        tls_ok = rc == 0 && serving_usable(tls, ca, &o->names, renew_at, why);
    }
    if (tls_ok) {
        printf("certificates are valid until %s, kept\n", format_time(X509_get0_notAfter(tls->cert), until));
        return 0;
    }
    if (ca_ok && expires_before(ca->cert, now + o->days * DAY)) {
        reason(why, "ca.crt would expire before a new serving certificate");
        ca_ok = 0;
    }
    if (!ca_ok) {
        if (issue(o, &ca_profile, ca, NULL, why, now) < 0)
            return -1;
        reason(why, "new ca");
    }
    return issue(o, &serving_profile, tls, ca, why, now);
}

/* ---- publishing through the API ---- */

/* Creates or updates Secret NS/name to hold items; no write when it already does. */
static int store(struct kubeapi *api, const struct options *o, const char *name, const char *type,
                 const struct kubeapi_bytes *items, size_t n_items)
{
    static const char *const outcomes[] = {
        [KUBEAPI_UNCHANGED] = "unchanged", [KUBEAPI_CREATED] = "created", [KUBEAPI_UPDATED] = "updated",
    };
    enum kubeapi_outcome outcome;

    if (kubeapi_apply_secret(api, o->namespace, name, type, items, n_items, &outcome) < 0)
        return fail("%s", api->error);
    printf("secret %s/%s %s\n", o->namespace, name, outcomes[outcome]);
    return 0;
}

/* The CA Secret is written first: nothing signed by a new CA is published
 * before its key is kept, so a failure in between costs no rotation. */
static int publish(struct kubeapi *api, const struct options *o, const struct credential *ca,
                   const struct credential *tls)
{
    static const char *const configurations[] = {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"};
    const struct kubeapi_bytes ca_items[] = {
        {ca_profile.cert_file, ca->cert_pem.data, ca->cert_pem.len},
        {ca_profile.key_file, ca->key_pem.data, ca->key_pem.len},
    };
    const struct kubeapi_bytes tls_items[] = {
        {serving_profile.cert_file, tls->cert_pem.data, tls->cert_pem.len},
        {serving_profile.key_file, tls->key_pem.data, tls->key_pem.len},
        {ca_profile.cert_file, ca->cert_pem.data, ca->cert_pem.len},
    };
    size_t i, updated, total;

    if (o->secret &&
        (store(api, o, o->ca_secret, CA_SECRET_TYPE, ca_items, sizeof ca_items / sizeof ca_items[0]) < 0 ||
         store(api, o, o->secret, SECRET_TYPE, tls_items, sizeof tls_items / sizeof tls_items[0]) < 0))
        return -1;
    for (i = 0; o->patch_webhooks && i < sizeof configurations / sizeof configurations[0]; i++) {
        if (kubeapi_patch_ca_bundle(api, configurations[i], o->patch_webhooks, ca->cert_pem.data, ca->cert_pem.len,
                                    &updated, &total) < 0)
            return fail("%s", api->error);
        if (updated == 0)
            printf("%s/%s: caBundle already current on %zu webhooks\n", configurations[i], o->patch_webhooks, total);
        else
            printf("%s/%s: caBundle updated on %zu of %zu webhooks\n", configurations[i], o->patch_webhooks,
                   updated, total);
    }
    return 0;
}

int certgen_main(int argc, char **argv)
{
    struct credential ca = {0}, tls = {0};
    struct kubeapi api;
    struct options o;
    int use_api, rc;

    rc = parse_options(argc, argv, &o);
    if (rc < 0) {
        fputs(usage_synopsis, stderr);
        return CERTGEN_EXIT_USAGE;
    }
    if (rc > 0) {
        printf("%s%s", usage_synopsis, usage_options);
        return EXIT_SUCCESS;
    }
    /* The API configuration first: a bad kubeconfig fails before any file changes. */
    use_api = o.secret || o.patch_webhooks;
    if (use_api && kubeapi_init(&api, o.kubeconfig) < 0) {
        fail("%s", api.error);
        return EXIT_FAILURE;
    }
    rc = EXIT_FAILURE;
    if ((!o.secret || (seed(&api, &o, o.secret, SECRET_TYPE, &serving_profile) == 0 &&
                       seed(&api, &o, o.ca_secret, CA_SECRET_TYPE, &ca_profile) == 0)) &&
        ensure_certificates(&o, &ca, &tls) == 0 && (!use_api || publish(&api, &o, &ca, &tls) == 0))
        rc = EXIT_SUCCESS;
    if (use_api)
        kubeapi_release(&api);
    credential_release(&ca);
    credential_release(&tls);
    return rc;
}

int certgen_not_after(const char *cert_path, time_t *not_after)
{
    struct blob pem = {0};
    X509 *cert = NULL;
    struct tm tm;
    int rc = -1;

    if (read_file(cert_path, &pem) == 0 && (cert = parse_cert(&pem)) != NULL &&
        ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) {
        *not_after = timegm(&tm);
        rc = 0;
    }
    ERR_clear_error();
    X509_free(cert);
    blob_release(&pem);
    return rc;
}
