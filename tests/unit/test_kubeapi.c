/*
 * Unit tests of certs/kubeapi.c: loading the connection from kubeconfig
 * files and the environment, and failing cleanly. The requests themselves
 * are tested end to end against tests/e2e/kubeapi_standin.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs/kubeapi.h"

static const char *const files[] = {"config", "token"};

struct fixture {
    char dir[64];
    char path[128]; /* of the kubeconfig */
};

static void write_file(const struct fixture *f, const char *name, const char *text)
{
    char path[128];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Writes a kubeconfig (flow-style YAML) whose current context uses a cluster
 * and a user with the given fields. */
static void write_config(const struct fixture *f, const char *cluster, const char *user)
{
    char text[2048];

    snprintf(text, sizeof text,
             "current-context: c\n"
             "contexts: [{name: b, context: {cluster: x, user: x}}, {name: c, context: {cluster: k, user: u}}]\n"
             "clusters: [{name: k, cluster: {%s}}]\n"
             "users: [{name: u, user: {%s}}]\n",
             cluster, user);
    write_file(f, "config", text);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kubeapi.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/config", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];
    size_t i;

    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_loads_token_and_relative_ca(void **state)
{
    struct fixture *f = *state;
    struct kubeapi api;
    char ca[160];

    write_config(f, "server: 'https://10.0.0.1:6443//', certificate-authority: ca.pem", "token: abc.def-1");
    assert_int_equal(kubeapi_init(&api, f->path), 0);
    assert_string_equal(api.server, "https://10.0.0.1:6443");
    assert_string_equal(api.authorization, "Authorization: Bearer abc.def-1");
    snprintf(ca, sizeof ca, "%s/ca.pem", f->dir);
    assert_string_equal(api.ca.path, ca);
    assert_null(api.ca.data);
    assert_null(api.cert.path);
    assert_null(api.cert.data);
    assert_null(api.key.data);
    kubeapi_release(&api);
}

static void test_loads_inline_data_and_token_file(void **state)
{
    struct fixture *f = *state;
    struct kubeapi api;

    /* base64 of "ca-pem", "cert-pem", "key-pem" */
    write_config(f, "server: 'https://api.example.com', certificate-authority-data: Y2EtcGVt",
                 "client-certificate-data: Y2VydC1wZW0=, client-key-data: a2V5LXBlbQ==, tokenFile: token");
    write_file(f, "token", "tok-from-file\n");
    assert_int_equal(kubeapi_init(&api, f->path), 0);
    assert_int_equal(api.ca.len, 6);
    assert_memory_equal(api.ca.data, "ca-pem", 6);
    assert_int_equal(api.cert.len, 8);
    assert_memory_equal(api.cert.data, "cert-pem", 8);
    assert_int_equal(api.key.len, 7);
    assert_memory_equal(api.key.data, "key-pem", 7);
    assert_string_equal(api.authorization, "Authorization: Bearer tok-from-file");
    kubeapi_release(&api);
}

/* Each broken kubeconfig fails with a message naming the problem, and leaves
 * nothing to release (the sanitizer build checks for leaks). */
static void test_rejects_bad_kubeconfigs(void **state)
{
    static const struct {
        const char *cluster, *user, *error;
    } cases[] = {
        {"server: 'https://a', insecure-skip-tls-verify: true", "token: t", "insecure-skip-tls-verify"},
        {"server: 'http://a'", "token: t", "is not an https:// url"},
        {"certificate-authority: ca.pem", "token: t", "(none) is not an https:// url"},
        {"server: 'https://a', certificate-authority-data: '@@@'", "token: t", "not valid base64"},
        {"server: 'https://a'", "exec: {command: aws}", "exec or auth-provider"},
        {"server: 'https://a'", "client-certificate: c.pem", "both client-certificate and client-key"},
        {"server: 'https://a'", "token: 'a b'", "not allowed in a header"},
        {"server: 'https://a'", "tokenFile: missing", "missing: No such file"},
    };
    struct fixture *f = *state;
    struct kubeapi api;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("case %zu\n", i);
        write_config(f, cases[i].cluster, cases[i].user);
        assert_int_equal(kubeapi_init(&api, f->path), -1);
        assert_non_null(strstr(api.error, cases[i].error));
    }
}

static void test_rejects_bad_contexts(void **state)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"clusters: []\n", "no current-context"},
        {"current-context: c\ncontexts: [{name: b, context: {}}]\n", "context c not found"},
        {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n", "cluster of context c not found"},
        {"current-context: [c\n", "config: line 2: did not find expected"},
    };
    struct fixture *f = *state;
    struct kubeapi api;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("case %zu\n", i);
        write_file(f, "config", cases[i].text);
        assert_int_equal(kubeapi_init(&api, f->path), -1);
        assert_non_null(strstr(api.error, cases[i].error));
    }
    assert_int_equal(kubeapi_init(&api, "/nonexistent/kubeconfig"), -1);
    assert_non_null(strstr(api.error, "No such file"));
}

static void test_in_cluster_needs_the_service_environment(void **state)
{
    struct kubeapi api;

    (void)state;
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_int_equal(kubeapi_init(&api, NULL), -1);
    assert_non_null(strstr(api.error, "KUBERNETES_SERVICE_HOST"));
}

/* No server listening: the request fails with a reason, not a response. */
static void test_request_without_a_server(void **state)
{
    struct fixture *f = *state;
    struct kubeapi api;
    char *response = (char *)"unset";
    long status = 0;

    write_config(f, "server: 'https://127.0.0.1:1'", "token: t");
    assert_int_equal(kubeapi_init(&api, f->path), 0);
    assert_int_equal(kubeapi_request(&api, "GET", "/api/v1/namespaces", NULL, NULL, &status, &response), -1);
    assert_null(response);
    assert_non_null(strstr(api.error, "GET /api/v1/namespaces: "));
    kubeapi_release(&api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_token_and_relative_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loads_inline_data_and_token_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_kubeconfigs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_contexts, setup, teardown),
        cmocka_unit_test(test_in_cluster_needs_the_service_environment),
        cmocka_unit_test_setup_teardown(test_request_without_a_server, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
