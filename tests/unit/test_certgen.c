/*
 * Unit tests of certs/certgen.c: certgen_main run in-process on a temporary
 * directory, its files inspected with OpenSSL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certs/certgen.h"

#define DAY 86400L

static const char *const files[] = {"ca.crt", "ca.key", "tls.crt", "tls.key"};

struct fixture {
    char root[64];      /* mkdtemp'd */
    char out[128];      /* root/out, created by certgen */
};

/* Runs certgen_main on "certs" followed by the NULL-terminated args. */
static int run_argv(const char *const *args)
{
    char *argv[64] = {"certs"};
    int argc = 1;

    while (*args && argc < 63)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    return certgen_main(argc, argv);
}
#define run(...) run_argv((const char *const[]){__VA_ARGS__, NULL})

/* The usual arguments, then extra ones. */
#define run_web(f, ...) run("--service", "web", "--namespace", "ns", "--out-dir", (f)->out, __VA_ARGS__)

static const char *path_of(const struct fixture *f, const char *name)
{
    static char path[PATH_MAX];

    snprintf(path, sizeof path, "%s/%s", f->out, name);
    return path;
}

/* The whole file as a new NUL-terminated string. */
static char *slurp(const struct fixture *f, const char *name)
{
    FILE *fp = fopen(path_of(f, name), "r");
    char *buf = calloc(1, 65536);

    assert_non_null(fp);
    assert_non_null(buf);
    assert_true(fread(buf, 1, 65535, fp) > 0);
    fclose(fp);
    return buf;
}

static void assert_same_file(const struct fixture *f, const char *name, const char *before)
{
    char *now = slurp(f, name);

    assert_string_equal(now, before);
    free(now);
}

static void assert_changed_file(const struct fixture *f, const char *name, const char *before)
{
    char *now = slurp(f, name);

    assert_string_not_equal(now, before);
    free(now);
}

static X509 *load_cert(const struct fixture *f, const char *name)
{
    FILE *fp = fopen(path_of(f, name), "r");
    X509 *cert;

    assert_non_null(fp);
    cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(cert);
    return cert;
}

static EVP_PKEY *load_key(const struct fixture *f, const char *name)
{
    FILE *fp = fopen(path_of(f, name), "r");
    EVP_PKEY *key;

    assert_non_null(fp);
    key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(key);
    return key;
}

static void write_text(const struct fixture *f, const char *name, const char *text)
{
    FILE *fp = fopen(path_of(f, name), "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/test_certgen.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->out, sizeof f->out, "%s/out", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(path_of(f, files[i]));
    rmdir(f->out);
    rmdir(f->root);
    free(f);
    return 0;
}

/* The four files of a fresh run hold a proper CA and serving certificate. */
static void test_issues_ca_and_serving_certificate(void **state)
{
    static const char *const names[] = {"web", "web.ns", "web.ns.svc", "web.ns.svc.cluster.local",
                                        "webhook.example.com"};
    struct fixture *f = *state;
    GENERAL_NAMES *sans;
    X509 *ca, *tls;
    EVP_PKEY *tls_key;
    BIGNUM *serial;
    struct stat st;
    time_t not_after;
    char cn[64];
    size_t i;

    assert_int_equal(run_web(f, "--host", "webhook.example.com", "--host", "10.1.2.3", "--host", "2001:db8::1"), 0);

    assert_int_equal(stat(f->out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        assert_int_equal(stat(path_of(f, files[i]), &st), 0);
        assert_int_equal(st.st_mode & 0777, strstr(files[i], ".key") ? 0600 : 0644);
    }

    ca = load_cert(f, "ca.crt");
    tls = load_cert(f, "tls.crt");
    tls_key = load_key(f, "tls.key");
    assert_int_equal(X509_check_ca(ca), 1);
    assert_int_equal(X509_check_ca(tls), 0);
    assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_get_key_usage(tls), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_check_issued(ca, tls), X509_V_OK);
    assert_int_equal(X509_verify(tls, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_check_purpose(tls, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(X509_check_private_key(tls, tls_key), 1);
    assert_int_equal(EVP_PKEY_get_base_id(tls_key), EVP_PKEY_EC);
    assert_non_null(X509_get0_subject_key_id(tls));
    assert_non_null(X509_get0_authority_key_id(tls));

    X509_NAME_get_text_by_NID(X509_get_subject_name(tls), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "web.ns.svc");
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(X509_check_host(tls, names[i], 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
    assert_int_equal(X509_check_ip_asc(tls, "10.1.2.3", 0), 1);
    assert_int_equal(X509_check_ip_asc(tls, "2001:db8::1", 0), 1);
    sans = X509_get_ext_d2i(tls, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(sans), 7);
    GENERAL_NAMES_free(sans);

    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(tls), NULL);
    assert_true(BN_num_bits(serial) >= 64);
    assert_false(BN_is_negative(serial));
    BN_free(serial);

    assert_true(ASN1_TIME_compare(X509_get0_notAfter(ca), X509_get0_notAfter(tls)) > 0);
    assert_int_equal(certgen_not_after(path_of(f, "tls.crt"), &not_after), 0);
    assert_true(labs((long)(not_after - (time(NULL) + 365 * DAY))) < 60);
    assert_int_equal(certgen_not_after(path_of(f, "ca.crt"), &not_after), 0);
    assert_true(labs((long)(not_after - (time(NULL) + 3650 * DAY))) < 60);

    EVP_PKEY_free(tls_key);
    X509_free(tls);
    X509_free(ca);
}

/* A second run with the same request leaves the files untouched. */
static void test_keeps_valid_files(void **state)
{
    struct fixture *f = *state;
    char *before[4];
    struct stat st[4], now;
    size_t i;

    assert_int_equal(run_web(f, "--host", "10.1.2.3"), 0);
    for (i = 0; i < 4; i++) {
        before[i] = slurp(f, files[i]);
        assert_int_equal(stat(path_of(f, files[i]), &st[i]), 0);
    }
    assert_int_equal(run_web(f, "--host", "10.1.2.3"), 0);
    for (i = 0; i < 4; i++) {
        assert_same_file(f, files[i], before[i]);
        assert_int_equal(stat(path_of(f, files[i]), &now), 0);
        assert_int_equal(now.st_ino, st[i].st_ino); /* not even rewritten */
        free(before[i]);
    }
}

/* A name not covered yet reissues the serving certificate under the same CA. */
static void test_reissues_for_a_new_host(void **state)
{
    struct fixture *f = *state;
    char *ca, *tls;
    X509 *cert;

    assert_int_equal(run_web(f, "--days", "30"), 0);
    ca = slurp(f, "ca.crt");
    tls = slurp(f, "tls.crt");
    assert_int_equal(run_web(f, "--days", "30", "--host", "extra.example.com"), 0);
    assert_same_file(f, "ca.crt", ca);
    assert_changed_file(f, "tls.crt", tls);
    cert = load_cert(f, "tls.crt");
    assert_int_equal(X509_check_host(cert, "extra.example.com", 0, 0, NULL), 1);
    X509_free(cert);
    free(ca);
    free(tls);
}

/* A serving certificate within --renew-before of its end is reissued. */
static void test_reissues_near_expiry(void **state)
{
    struct fixture *f = *state;
    char *ca, *tls, *key;

    assert_int_equal(run_web(f, "--days", "10", "--ca-days", "100", "--renew-before", "20"), 0);
    ca = slurp(f, "ca.crt");
    tls = slurp(f, "tls.crt");
    key = slurp(f, "tls.key");
    assert_int_equal(run_web(f, "--days", "10", "--ca-days", "100", "--renew-before", "20"), 0);
    assert_same_file(f, "ca.crt", ca);
    assert_changed_file(f, "tls.crt", tls);
    assert_changed_file(f, "tls.key", key);
    free(ca);
    free(tls);
    free(key);
}

/* A CA within --renew-before of its end is reissued, and with it the
 * serving certificate, which verifies against the new CA. */
static void test_reissues_ca_near_expiry(void **state)
{
    struct fixture *f = *state;
    char *ca, *tls;
    X509 *ca_cert, *tls_cert;

    assert_int_equal(run_web(f, "--days", "10", "--ca-days", "15", "--renew-before", "20"), 0);
    ca = slurp(f, "ca.crt");
    tls = slurp(f, "tls.crt");
    assert_int_equal(run_web(f, "--days", "10", "--ca-days", "15", "--renew-before", "20"), 0);
    assert_changed_file(f, "ca.crt", ca);
    assert_changed_file(f, "tls.crt", tls);
    ca_cert = load_cert(f, "ca.crt");
    tls_cert = load_cert(f, "tls.crt");
    assert_int_equal(X509_verify(tls_cert, X509_get0_pubkey(ca_cert)), 1);
    X509_free(ca_cert);
    X509_free(tls_cert);
    free(ca);
    free(tls);
}

/* A CA that would expire before a new serving certificate is replaced when
 * the serving certificate must be reissued. */
static void test_ca_outlives_reissued_certificate(void **state)
{
    struct fixture *f = *state;
    char *ca;
    X509 *ca_cert, *tls_cert;

    assert_int_equal(run_web(f, "--days", "5", "--ca-days", "40"), 0);
    ca = slurp(f, "ca.crt");
    assert_int_equal(run_web(f, "--days", "100", "--ca-days", "200", "--host", "new.example.com"), 0);
    assert_changed_file(f, "ca.crt", ca);
    ca_cert = load_cert(f, "ca.crt");
    tls_cert = load_cert(f, "tls.crt");
    assert_true(ASN1_TIME_compare(X509_get0_notAfter(ca_cert), X509_get0_notAfter(tls_cert)) > 0);
    X509_free(ca_cert);
    X509_free(tls_cert);
    free(ca);
}

/* Damaged or mismatched files are replaced: only what must change changes. */
static void test_reissues_broken_files(void **state)
{
    struct fixture *f = *state;
    char *ca, *ca_key, *tls;

    assert_int_equal(run_web(f, "--days", "30"), 0);
    ca = slurp(f, "ca.crt");
    ca_key = slurp(f, "ca.key");

    write_text(f, "tls.key", ca_key); /* a valid key, but not tls.crt's */
    tls = slurp(f, "tls.crt");
    assert_int_equal(run_web(f, "--days", "30"), 0);
    assert_same_file(f, "ca.crt", ca);
    assert_changed_file(f, "tls.crt", tls);
    free(tls);

    write_text(f, "tls.crt", "not a certificate\n");
    assert_int_equal(run_web(f, "--days", "30"), 0);
    assert_same_file(f, "ca.crt", ca);
    tls = slurp(f, "tls.crt");
    assert_non_null(strstr(tls, "BEGIN CERTIFICATE"));
    free(tls);

    assert_int_equal(unlink(path_of(f, "ca.key")), 0);
    tls = slurp(f, "tls.crt");
    assert_int_equal(run_web(f, "--days", "30"), 0);
    assert_changed_file(f, "ca.crt", ca);
    assert_changed_file(f, "tls.crt", tls);
    free(tls);
    free(ca);
    free(ca_key);
}

/* Bad arguments exit with the usage status and touch nothing. */
static void test_rejects_bad_arguments(void **state)
{
    static const char *const cases[][12] = {
        {"--namespace", "ns", "--out-dir", "OUT"},
        {"--service", "web", "--out-dir", "OUT"},
        {"--service", "web", "--namespace", "ns"},
        {"--service", "Web", "--namespace", "ns", "--out-dir", "OUT"},
        {"--service", "web", "--namespace", "n.s", "--out-dir", "OUT"},
        {"--service", "web-", "--namespace", "ns", "--out-dir", "OUT"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--days", "0"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--days", "12x"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--days", "99999999999999999999"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--renew-before", "-1"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--days", "400", "--ca-days", "400"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--ca-days", "100"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--host", "bad_name"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--host", "a..b"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--host", "1.2.3.4/24"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--secret", "Bad"},
        /* the ca secret's name, web.<63 characters>-ca, breaks the 63-character label limit */
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--secret",
         "web.a23456789012345678901234567890123456789012345678901234567890123"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--patch-webhooks", "a/b"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "--bogus"},
        {"--service", "web", "--namespace", "ns", "--out-dir", "OUT", "extra"},
        {"--service", "web", "--namespace", "ns", "--out-dir"},
    };
    struct fixture *f = *state;
    const char *argv[13];
    size_t i, j;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (j = 0; cases[i][j]; j++)
            argv[j] = strcmp(cases[i][j], "OUT") == 0 ? f->out : cases[i][j];
        argv[j] = NULL;
        print_message("case %zu\n", i);
        assert_int_equal(run_argv(argv), CERTGEN_EXIT_USAGE);
        assert_int_equal(access(f->out, F_OK), -1);
    }
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(run("--help"), 0);
}

static void test_not_after_of_unreadable_files(void **state)
{
    struct fixture *f = *state;
    time_t t = 0;

    assert_int_equal(certgen_not_after("/nonexistent/tls.crt", &t), -1);
    assert_int_equal(mkdir(f->out, 0700), 0);
    write_text(f, "tls.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_int_equal(certgen_not_after(path_of(f, "tls.crt"), &t), -1);
    assert_int_equal(t, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issues_ca_and_serving_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_valid_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reissues_for_a_new_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reissues_near_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reissues_ca_near_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_outlives_reissued_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reissues_broken_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test(test_help),
        cmocka_unit_test_setup_teardown(test_not_after_of_unreadable_files, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
