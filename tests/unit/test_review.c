/*
 * Unit tests of webhook/review.c: the AdmissionReview codec (SPEC §3.2):
 * version and uid echo, the JSONPatch answer and its base64, denials in the
 * apiserver's shape, the operations and kinds let through untouched, and
 * the 400 answers to malformed input.
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

#include <jansson.h>

#include "certs/seal.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "mutators/json/arena.h"
#include "mutators/json/readfile.h"
#include "mutators/json/strbuf.h"
#include "webhook/review.h"
#include "webhook/sync.h"
#include "webhook/yaml.h"

#include "tests/unit/seal_fixture.h"

#define GVK(kind) "{\"group\":\"paddlex.paddlepaddle.org\",\"version\":\"v1alpha1\",\"kind\":\"" kind "\"}"
#define OBJECT(kind, name, spec)                                                              \
    "{\"apiVersion\":\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"" kind "\","           \
    "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"kubeflow\"},\"spec\":" spec "}"
#define SERVING_OK OBJECT("Serving", "ppocr", "{\"image\":\"serving:1\"}")
#define DATASET_BAD OBJECT("Dataset", "ds", "{\"partitions\":0,\"sourceSecret\":\"s\"}")

/* A whole review: version, uid, operation, request.kind, object (texts). */
static char *review_text(const char *version, const char *uid, const char *op, const char *gvk,
                         const char *object)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "{\"apiVersion\":\"admission.k8s.io/%s\",\"kind\":\"AdmissionReview\",\"request\":{"
                "\"uid\":\"%s\",\"kind\":%s,\"namespace\":\"kubeflow\",\"operation\":\"%s\","
                "\"userInfo\":{\"username\":\"admin\",\"groups\":[\"system:authenticated\"]},"
                "\"object\":%s,\"oldObject\":null,\"dryRun\":false}}",
                version, uid, gvk, op, object);
    return strbuf_detach(&sb);
}

struct answer {
    struct review_result res;
    json_t *doc;      /* the parsed body when 200 */
    json_t *response; /* borrowed from doc */
};

static void answer(enum review_mode mode, const char *body, size_t len, struct answer *a)
{
    json_error_t err;

    memset(a, 0, sizeof(*a));
    assert_int_equal(review_handle(mode, body, len, NULL, NULL, &a->res), 0);
    assert_non_null(a->res.body);
    assert_int_equal(strlen(a->res.body), a->res.len);
    if (a->res.http_status == 200) {
        a->doc = json_loadb(a->res.body, a->res.len, JSON_REJECT_DUPLICATES, &err);
        if (!a->doc)
            fail_msg("answer is not JSON: %s", err.text);
        a->response = json_object_get(a->doc, "response");
        assert_true(json_is_object(a->response));
    }
}

static void answer_text(enum review_mode mode, const char *body, struct answer *a)
{
    answer(mode, body, strlen(body), a);
}

static void answer_release(struct answer *a)
{
    json_decref(a->doc);
    review_result_release(&a->res);
}

/* The 400 answer to body: a short plain-text reason. */
static void assert_bad_request(const char *body, size_t len, const char *reason)
{
    struct answer a;

    answer(REVIEW_VALIDATE, body, len, &a);
    assert_int_equal(a.res.http_status, 400);
    if (!strstr(a.res.body, reason))
        fail_msg("400 reason \"%s\" lacks \"%s\"", a.res.body, reason);
    assert_true(a.res.len < 300);
    assert_int_equal(a.res.body[a.res.len - 1], '\n');
    answer_release(&a);
}

static size_t b64_value(char c)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(tab, c) : NULL;

    if (!p)
        fail_msg("'%c' is not base64", c);
    return (size_t)(p - tab);
}

/* Standard padded base64 to a new NUL-terminated string; fails the test on
 * anything else. */
static char *b64_decode(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(n / 4 * 3 + 1);

    assert_non_null(out);
    assert_int_equal(n % 4, 0);
    for (size_t i = 0; i < n; i += 4) {
        size_t v = b64_value(s[i]) << 18 | b64_value(s[i + 1]) << 12;

        out[o++] = (char)(v >> 16);
        if (s[i + 2] == '=') {
            assert_true(i + 4 == n && s[i + 3] == '=');
            break;
        }
        v |= b64_value(s[i + 2]) << 6;
        out[o++] = (char)(v >> 8 & 0xff);
        if (s[i + 3] == '=') {
            assert_true(i + 4 == n);
            break;
        }
        v |= b64_value(s[i + 3]);
        out[o++] = (char)(v & 0xff);
    }
    out[o] = '\0';
    return out;
}

/* The decoded patch of a mutate answer: a new JSON array. */
static json_t *patch_of(const struct answer *a)
{
    const char *b64 = json_string_value(json_object_get(a->response, "patch"));
    json_error_t err;
    char *text;
    json_t *ops;

    assert_non_null(b64);
    assert_string_equal(json_string_value(json_object_get(a->response, "patchType")), "JSONPatch");
    text = b64_decode(b64);
    ops = json_loads(text, 0, &err);
    if (!json_is_array(ops))
        fail_msg("patch is not a JSON array: %s", text);
    free(text);
    return ops;
}

/* --------------------------------------------------------------- echo */

static void test_echo_v1_and_v1beta1(void **state)
{
    static const char *const versions[] = { "v1", "v1beta1" };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char *body = review_text(versions[i], "uid-42", "CREATE", GVK("Serving"), SERVING_OK);
        char want[64];
        struct answer a;

        answer_text(REVIEW_VALIDATE, body, &a);
        assert_int_equal(a.res.http_status, 200);
        snprintf(want, sizeof(want), "admission.k8s.io/%s", versions[i]);
        assert_string_equal(json_string_value(json_object_get(a.doc, "apiVersion")), want);
        assert_string_equal(json_string_value(json_object_get(a.doc, "kind")), "AdmissionReview");
        assert_string_equal(json_string_value(json_object_get(a.response, "uid")), "uid-42");
        assert_true(json_is_true(json_object_get(a.response, "allowed")));
        assert_null(json_object_get(a.doc, "request"));
        answer_release(&a);
        free(body);
    }
}

/* The uid is echoed whole, however long; only the log copy is clipped. */
static void test_long_uid_echoed_whole(void **state)
{
    char uid[1001];
    char *body;
    struct answer a;

    (void)state;
    memset(uid, 'u', 1000);
    uid[1000] = '\0';
    body = review_text("v1", uid, "CREATE", GVK("Serving"), SERVING_OK);
    answer_text(REVIEW_MUTATE, body, &a);
    assert_string_equal(json_string_value(json_object_get(a.response, "uid")), uid);
    assert_int_equal(strlen(a.res.uid), REVIEW_MAX_FIELD);
    answer_release(&a);
    free(body);
}

static void test_result_fields_for_logs(void **state)
{
    char *body = review_text("v1", "u-1", "CREATE", GVK("Dataset"), DATASET_BAD);
    struct answer a;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    assert_string_equal(a.res.uid, "u-1");
    assert_string_equal(a.res.kind, "Dataset");
    assert_string_equal(a.res.namespace, "kubeflow");
    assert_string_equal(a.res.name, "ds");
    assert_string_equal(a.res.operation, "CREATE");
    assert_int_equal(a.res.allowed, 0);
    assert_string_equal(a.res.reason, "Invalid");
    answer_release(&a);
    free(body);
}

/* A name clipped for the logs is never cut inside a UTF-8 sequence. */
static void test_log_fields_clipped_on_utf8_boundary(void **state)
{
    struct strbuf name = STRBUF_INIT, body = STRBUF_INIT;
    struct answer a;

    (void)state;
    for (int i = 0; i < 62; i++)
        strbuf_addch(&name, 'a');
    strbuf_addstr(&name, "\xc3\xa9\xc3\xa9");
    strbuf_addf(&body, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                "\"uid\":\"u\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"ConfigMap\"},"
                "\"name\":\"%s\",\"operation\":\"CREATE\",\"object\":{}}}", name.buf);
    answer_text(REVIEW_MUTATE, body.buf, &a);
    assert_int_equal(a.res.http_status, 200);
    /* 64 bytes with the NUL: 62 'a' and half an 'é' fit, the half is dropped */
    assert_int_equal(strlen(a.res.name), 62);
    assert_int_equal(strncmp(a.res.name, name.buf, 62), 0);
    answer_release(&a);
    strbuf_release(&name);
    strbuf_release(&body);
}

/* ------------------------------------------------------------- mutate */

static void test_mutate_answers_base64_json_patch(void **state)
{
    char *body = review_text("v1", "m-1", "CREATE", GVK("Serving"), SERVING_OK);
    struct answer a;
    json_t *ops, *op;
    size_t i;
    int port = 0;

    (void)state;
    answer_text(REVIEW_MUTATE, body, &a);
    assert_true(json_is_true(json_object_get(a.response, "allowed")));
    assert_int_equal(a.res.patched, 1);
    ops = patch_of(&a);
    assert_true(json_array_size(ops) > 0);
    json_array_foreach(ops, i, op) {
        if (!strcmp(json_string_value(json_object_get(op, "path")), "/spec/port")) {
            assert_string_equal(json_string_value(json_object_get(op, "op")), "add");
            assert_int_equal(json_integer_value(json_object_get(op, "value")), 8040);
            port = 1;
        }
    }
    assert_true(port);
    json_decref(ops);
    answer_release(&a);
    free(body);
}

/* Patches of every length modulo 3 decode: the padding is right. The
 * object is invalid, so nothing is rendered and the name appears once. */
static void test_base64_padding(void **state)
{
    static const char *const names[] = { "a", "ab", "abc", "abcd" };
    int seen[3] = { 0 };

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct strbuf obj = STRBUF_INIT;
        char *body, *text;
        struct answer a;
        json_t *ops;
        json_error_t err;

        strbuf_addf(&obj, "{\"apiVersion\":\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"ModelHub\","
                    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"kubeflow\"},\"spec\":{\"pvcName\":\"P\"}}",
                    names[i]);
        body = review_text("v1", "p", "CREATE", GVK("ModelHub"), obj.buf);
        answer_text(REVIEW_MUTATE, body, &a);
        text = b64_decode(json_string_value(json_object_get(a.response, "patch")));
        seen[strlen(text) % 3] = 1;
        ops = json_loads(text, 0, &err);
        assert_true(json_is_array(ops));
        json_decref(ops);
        free(text);
        answer_release(&a);
        free(body);
        strbuf_release(&obj);
    }
    assert_true(seen[0] && seen[1] && seen[2]);
}

static void test_no_patch_when_nothing_changes(void **state)
{
    char *body = review_text("v1", "m-2", "CREATE", GVK("Serving"), SERVING_OK), *again;
    struct answer a, b;
    json_t *ops, *object, *request, *review;
    json_error_t err;
    size_t i;
    json_t *op;

    (void)state;
    answer_text(REVIEW_MUTATE, body, &a);
    ops = patch_of(&a);
    /* apply the adds (all under /spec/) by hand, then ask again */
    review = json_loads(body, 0, &err);
    request = json_object_get(review, "request");
    object = json_object_get(request, "object");
    json_array_foreach(ops, i, op) {
        const char *path = json_string_value(json_object_get(op, "path"));

        assert_string_equal(json_string_value(json_object_get(op, "op")), "add");
        assert_int_equal(strncmp(path, "/spec/", 6), 0);
        assert_null(strchr(path + 6, '/'));
        json_object_set(json_object_get(object, "spec"), path + 6, json_object_get(op, "value"));
    }
    again = json_dumps(review, JSON_COMPACT);
    answer_text(REVIEW_MUTATE, again, &b);
    assert_null(json_object_get(b.response, "patch"));
    assert_null(json_object_get(b.response, "patchType"));
    assert_int_equal(b.res.patched, 0);
    answer_release(&b);
    free(again);
    json_decref(review);
    json_decref(ops);
    answer_release(&a);
    free(body);
}

/* /mutate leaves the verdict to /validate. */
static void test_mutate_never_denies(void **state)
{
    char *body = review_text("v1", "m-3", "CREATE", GVK("Dataset"), DATASET_BAD);
    struct answer a;

    (void)state;
    answer_text(REVIEW_MUTATE, body, &a);
    assert_true(json_is_true(json_object_get(a.response, "allowed")));
    assert_null(json_object_get(a.response, "status"));
    answer_release(&a);
    free(body);
}

/* ------------------------------------------------------------- validate */

static void test_denial_shape(void **state)
{
    char *body = review_text("v1", "v-1", "CREATE", GVK("Dataset"), DATASET_BAD);
    struct answer a;
    json_t *status, *details, *causes, *c;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    assert_true(json_is_false(json_object_get(a.response, "allowed")));
    assert_null(json_object_get(a.response, "patch"));
    status = json_object_get(a.response, "status");
    assert_string_equal(json_string_value(json_object_get(status, "status")), "Failure");
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 422);
    assert_string_equal(json_string_value(json_object_get(status, "reason")), "Invalid");
    assert_string_equal(json_string_value(json_object_get(status, "message")),
                        "Dataset.paddlex.paddlepaddle.org \"ds\" is invalid: [spec.partitions: Invalid value: 0: "
                        "must be greater than or equal to 1, spec.sourceUri: Required value]");
    details = json_object_get(status, "details");
    assert_string_equal(json_string_value(json_object_get(details, "name")), "ds");
    assert_string_equal(json_string_value(json_object_get(details, "group")), "paddlex.paddlepaddle.org");
    assert_string_equal(json_string_value(json_object_get(details, "kind")), "Dataset");
    causes = json_object_get(details, "causes");
    assert_int_equal(json_array_size(causes), 2);
    c = json_array_get(causes, 0);
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "FieldValueInvalid");
    assert_string_equal(json_string_value(json_object_get(c, "field")), "spec.partitions");
    assert_string_equal(json_string_value(json_object_get(c, "message")),
                        "Invalid value: 0: must be greater than or equal to 1");
    c = json_array_get(causes, 1);
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "FieldValueRequired");
    assert_string_equal(json_string_value(json_object_get(c, "message")), "Required value");
    answer_release(&a);
    free(body);
}

static void test_single_error_message_has_no_brackets(void **state)
{
    char *body = review_text("v1", "v-2", "CREATE", GVK("Serving"),
                             OBJECT("Serving", "s", "{\"image\":\"serving:1\",\"port\":0}"));
    struct answer a;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a.response, "status"), "message")),
                        "Serving.paddlex.paddlepaddle.org \"s\" is invalid: spec.port: Invalid value: 0: must be "
                        "greater than or equal to 1");
    answer_release(&a);
    free(body);
}

static void test_policy_only_denial_is_403(void **state)
{
    char *body = review_text("v1beta1", "v-3", "CREATE", GVK("Dataset"),
                             OBJECT("Dataset", "ds", "{\"partitions\":100,\"sourceUri\":\"s3://bucket/x\","
                                                     "\"sourceSecret\":\"s\"}"));
    struct answer a;
    json_t *status;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    status = json_object_get(a.response, "status");
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 403);
    assert_string_equal(json_string_value(json_object_get(status, "reason")), "Forbidden");
    assert_non_null(strstr(json_string_value(json_object_get(status, "message")), "\"ds\" is forbidden: "));
    assert_string_equal(a.res.reason, "Forbidden");
    answer_release(&a);
    free(body);
}

static void test_warnings(void **state)
{
    char *body = review_text("v1", "w-1", "CREATE", GVK("Training"),
                             OBJECT("Training", "t", "{\"project\":\"PaddleOCR\",\"image\":\"a:1\","
                                                     "\"configPath\":\"a.yml\",\"dataset\":\"d\",\"pvcName\":\"p\","
                                                     "\"workerReplicas\":2,\"useVisualDL\":true}"));
    struct answer a;
    json_t *w;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    assert_true(json_is_true(json_object_get(a.response, "allowed")));
    w = json_object_get(a.response, "warnings");
    assert_true(json_is_array(w));
    assert_true(json_array_size(w) >= 1);
    answer_release(&a);
    free(body);
}

/* ------------------------------------------------- untouched requests */

static void assert_untouched(enum review_mode mode, const char *body)
{
    struct answer a;

    answer_text(mode, body, &a);
    assert_int_equal(a.res.http_status, 200);
    assert_true(json_is_true(json_object_get(a.response, "allowed")));
    assert_null(json_object_get(a.response, "patch"));
    assert_null(json_object_get(a.response, "status"));
    assert_int_equal(json_object_size(a.response), 2); /* uid, allowed */
    answer_release(&a);
}

static void test_delete_and_connect_untouched(void **state)
{
    static const char *const ops[] = { "DELETE", "CONNECT" };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char *with = review_text("v1", "d", ops[i], GVK("Dataset"), DATASET_BAD);
        char *without = review_text("v1", "d", ops[i], GVK("Dataset"), "null");

        assert_untouched(REVIEW_MUTATE, with);
        assert_untouched(REVIEW_VALIDATE, with);
        assert_untouched(REVIEW_MUTATE, without);
        assert_untouched(REVIEW_VALIDATE, without);
        free(with);
        free(without);
    }
}

static void test_other_kinds_untouched(void **state)
{
    char *pod = review_text("v1", "o", "CREATE", "{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}",
                            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"P\"}}");
    char *other = review_text("v1", "o", "CREATE",
                              "{\"group\":\"example.com\",\"version\":\"v1alpha1\",\"kind\":\"Dataset\"}",
                              DATASET_BAD);
    char *noobject = review_text("v1", "o", "UPDATE", "{\"group\":\"apps\",\"version\":\"v1\",\"kind\":\"Deployment\"}",
                                 "null");

    (void)state;
    assert_untouched(REVIEW_MUTATE, pod);
    assert_untouched(REVIEW_VALIDATE, pod);
    assert_untouched(REVIEW_VALIDATE, other);
    assert_untouched(REVIEW_MUTATE, noobject);
    free(pod);
    free(other);
    free(noobject);
}

/* Without request.kind, the object's own apiVersion and kind decide. */
static void test_kind_from_object_when_request_has_none(void **state)
{
    const char *body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                       "\"uid\":\"k\",\"operation\":\"CREATE\",\"object\":" DATASET_BAD "}}";
    struct answer a;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    assert_true(json_is_false(json_object_get(a.response, "allowed")));
    answer_release(&a);
}

/* ------------------------------------------------------------ malformed */

static void test_not_json(void **state)
{
    (void)state;
    assert_bad_request("", 0, "not valid JSON");
    assert_bad_request("hello", 5, "not valid JSON");
    assert_bad_request("{\"apiVersion\":", 14, "not valid JSON");
    assert_bad_request("\xff\xfe{}", 4, "not valid JSON");
    /* a body with trailing data after the document is not one document */
    assert_bad_request("{} {}", 5, "not valid JSON");
}

static void test_truncated_review(void **state)
{
    char *body = review_text("v1", "t", "CREATE", GVK("Serving"), SERVING_OK);

    (void)state;
    for (size_t cut = 1; cut < strlen(body); cut += 7)
        assert_bad_request(body, cut, "not valid JSON");
    free(body);
}

/* len is honoured: the bytes after it are never read as part of the body. */
static void test_length_honoured(void **state)
{
    char *body = review_text("v1", "l", "CREATE", GVK("Serving"), SERVING_OK);
    size_t n = strlen(body);
    char *padded = malloc(n + 8);
    struct answer a;

    (void)state;
    assert_non_null(padded);
    memcpy(padded, body, n);
    memcpy(padded + n, "garbage", 8);
    answer(REVIEW_VALIDATE, padded, n, &a);
    assert_int_equal(a.res.http_status, 200);
    answer_release(&a);
    free(padded);
    free(body);
}

static void test_duplicate_keys_refused(void **state)
{
    const char *body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                       "\"uid\":\"a\",\"uid\":\"b\",\"operation\":\"CREATE\",\"object\":{}}}";

    (void)state;
    assert_bad_request(body, strlen(body), "duplicate");
}

static void test_not_an_admission_review(void **state)
{
    static const char *const bodies[] = {
        "[]", "1", "\"x\"", "null", "{}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"request\":{\"uid\":\"a\"}}",
        "{\"apiVersion\":\"admission.k8s.io/v2\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"a\"}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReviewX\",\"request\":{\"uid\":\"a\"}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":[]}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"a\"}}",
        "{\"apiVersion\":1,\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"a\"}}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        const char *want = i < 4 ? "" : "AdmissionReview";

        assert_bad_request(bodies[i], strlen(bodies[i]), want);
    }
}

static void test_missing_uid(void **state)
{
    static const char *const requests[] = { "{}", "{\"uid\":\"\"}", "{\"uid\":7}", "{\"uid\":null}" };

    (void)state;
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        struct strbuf sb = STRBUF_INIT;

        strbuf_addf(&sb, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":%s}",
                    requests[i]);
        assert_bad_request(sb.buf, sb.len, "request.uid is missing");
        strbuf_release(&sb);
    }
}

static void test_missing_object_for_our_kind(void **state)
{
    char *a = review_text("v1", "o", "CREATE", GVK("Training"), "null");
    char *b = review_text("v1", "o", "UPDATE", GVK("Training"), "[]");

    (void)state;
    assert_bad_request(a, strlen(a), "request.object");
    assert_bad_request(b, strlen(b), "request.object");
    free(a);
    free(b);
}

static void test_numbers_out_of_range_answered(void **state)
{
    char *body = review_text("v1", "n", "CREATE", GVK("Serving"),
                             OBJECT("Serving", "s", "{\"image\":\"s:1\",\"port\":99999999999999999999999}"));
    struct answer a;

    (void)state;
    answer_text(REVIEW_VALIDATE, body, &a);
    /* never a crash nor a coercion: a 400, or a denial */
    if (a.res.http_status == 200)
        assert_true(json_is_false(json_object_get(a.response, "allowed")));
    else
        assert_int_equal(a.res.http_status, 400);
    answer_release(&a);
    free(body);
}

/* request.operation is exactly one of admission.k8s.io's four: anything
 * else (absent, null, another type, another case, "PATCH", a NUL and more)
 * was allowed unjudged before, failing open; it is a 400 now (issue 18). */
static void test_malformed_operation_refused(void **state)
{
    static const char *const ops[] = {
        NULL, "null", "7", "true", "[\"CREATE\"]", "{}", "\"\"", "\"create\"", "\"Create\"",
        "\"PATCH\"", "\"CREATE \"", "\" CREATE\"", "\"CREATE\\u0000x\"", "\"UPDATE\\u0000\"",
        "\"DELETEX\"",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct strbuf sb = STRBUF_INIT;

        strbuf_addf(&sb, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                    "\"request\":{\"uid\":\"op\",\"kind\":%s,\"namespace\":\"kubeflow\"%s%s,"
                    "\"object\":%s}}", GVK("Dataset"), ops[i] ? ",\"operation\":" : "",
                    ops[i] ? ops[i] : "", DATASET_BAD);
        assert_bad_request(sb.buf, sb.len, "request.operation must be CREATE, UPDATE, DELETE or CONNECT");
        strbuf_release(&sb);
    }
}

/* request.kind and request.namespace are matched whole: a NUL inside is a
 * 400, not a prefix that passes for Training or for a policy's namespace. */
static void test_nul_in_envelope_refused(void **state)
{
    static const char *const gvks[] = {
        "{\"group\":\"paddlex.paddlepaddle.org\\u0000x\",\"version\":\"v1alpha1\",\"kind\":\"Dataset\"}",
        "{\"group\":\"paddlex.paddlepaddle.org\",\"version\":\"v1alpha1\\u0000\",\"kind\":\"Dataset\"}",
        "{\"group\":\"paddlex.paddlepaddle.org\",\"version\":\"v1alpha1\",\"kind\":\"Dataset\\u0000x\"}",
    };
    const char *ns = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                     "\"uid\":\"n\",\"kind\":" GVK("Dataset") ",\"namespace\":\"team-a\\u0000x\","
                     "\"operation\":\"CREATE\",\"object\":" DATASET_BAD "}}";

    (void)state;
    for (size_t i = 0; i < sizeof(gvks) / sizeof(gvks[0]); i++) {
        char *body = review_text("v1", "g", "CREATE", gvks[i], DATASET_BAD);

        assert_bad_request(body, strlen(body), "must not contain NUL");
        free(body);
    }
    assert_bad_request(ns, strlen(ns), "must not contain NUL");
}

/* An exempt user or group is matched byte for byte: "system:masters" with
 * a NUL and more after it is another name (issue 18: the exemption went
 * through json_string_value() + strcmp()). */
static void test_exemption_is_byte_exact(void **state)
{
    static const struct {
        const char *user, *groups;
        int allowed;
    } cases[] = {
        { "alice", "[\"system:masters\"]", 1 },
        { "alice", "[\"system:masters\\u0000x\"]", 0 },
        { "alice", "[\"system:masters\\u0000\"]", 0 },
        { "alice", "[\"system:authenticated\", \"system:masters\\u0000x\"]", 0 },
        { "root", "[]", 1 },
        { "root\\u0000x", "[]", 0 },
        { "root\\u0000", "[]", 0 },
    };
    json_t *doc = json_loads("{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": "
                             "\"WebhookPolicy\", \"limits\": {\"maxPartitions\": 2}, \"exempt\": "
                             "{\"users\": [\"root\"], \"groups\": [\"system:masters\"]}}", 0, NULL);
    char err[512];
    struct policy *p = policy_parse(doc, "policy.yaml", err, sizeof(err));

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct strbuf sb = STRBUF_INIT;
        struct review_result res;
        json_t *answer;

        strbuf_addf(&sb, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                    "\"request\":{\"uid\":\"x\",\"kind\":%s,\"namespace\":\"kubeflow\","
                    "\"operation\":\"CREATE\",\"userInfo\":{\"username\":\"%s\",\"groups\":%s},"
                    "\"object\":%s}}", GVK("Dataset"), cases[i].user, cases[i].groups,
                    OBJECT("Dataset", "ds", "{\"partitions\":9,\"sourceUri\":\"s3://bucket/x\","
                                            "\"sourceSecret\":\"s\"}"));
        assert_int_equal(review_handle(REVIEW_VALIDATE, sb.buf, sb.len, p, NULL, &res), 0);
        assert_int_equal(res.http_status, 200);
        answer = json_loadb(res.body, res.len, 0, NULL);
        if (json_is_true(json_object_get(json_object_get(answer, "response"), "allowed")) != cases[i].allowed)
            fail_msg("case %zu (%s, %s): allowed should be %d", i, cases[i].user, cases[i].groups,
                     cases[i].allowed);
        json_decref(answer);
        review_result_release(&res);
        strbuf_release(&sb);
    }
    policy_unref(p);
    json_decref(doc);
}

/* ------------------------------------------------------------ depth cap */

static char *nested(char open, char close, int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);

    assert_non_null(s);
    memset(s, open, (size_t)depth);
    memset(s + depth, close, (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

static void test_parse_depth(void **state)
{
    char *s = nested('[', ']', REVIEW_MAX_JSON_DEPTH), *deeper = nested('[', ']', REVIEW_MAX_JSON_DEPTH + 1);
    char why[256];
    json_t *v;

    (void)state;
    v = review_parse(s, strlen(s), why, sizeof(why));
    assert_non_null(v);
    json_decref(v);
    assert_null(review_parse(deeper, strlen(deeper), why, sizeof(why)));
    assert_string_equal(why, "request body nests too deeply");
    /* brackets inside strings do not count, escaped quotes do not end them */
    v = review_parse("[\"[[[[\"]", 8, why, sizeof(why));
    assert_non_null(v);
    json_decref(v);
    v = review_parse("[\"\\\"[[[[\"]", 10, why, sizeof(why));
    assert_non_null(v);
    json_decref(v);
    assert_null(review_parse("", 0, why, sizeof(why)));
    assert_non_null(strstr(why, "not valid JSON"));
    free(s);
    free(deeper);
}

static void test_deep_nesting_refused_before_parsing(void **state)
{
    char *deep = nested('[', ']', 10000);
    struct strbuf sb = STRBUF_INIT;
    int i;

    (void)state;
    assert_bad_request(deep, strlen(deep), "nests too deeply");
    /* unterminated too: the cap holds before the parser sees the end */
    assert_bad_request(deep, 10000, "nests too deeply");
    free(deep);
    /* deep inside an otherwise valid review */
    strbuf_addstr(&sb, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
                       "\"uid\":\"d\",\"operation\":\"CREATE\",\"object\":{\"x\":");
    for (i = 0; i < REVIEW_MAX_JSON_DEPTH; i++)
        strbuf_addstr(&sb, "{\"a\":");
    strbuf_addstr(&sb, "1");
    for (i = 0; i < REVIEW_MAX_JSON_DEPTH; i++)
        strbuf_addch(&sb, '}');
    strbuf_addstr(&sb, "}}}");
    assert_bad_request(sb.buf, sb.len, "nests too deeply");
    strbuf_release(&sb);
}

/* ---------------------------------------------------------------- dryRun */

static void test_dry_run_changes_nothing(void **state)
{
    char *wet = review_text("v1", "dr", "CREATE", GVK("Dataset"), DATASET_BAD);
    struct strbuf dry = STRBUF_INIT;
    const char *at = strstr(wet, "\"dryRun\":false");
    struct answer a, b;

    (void)state;
    assert_non_null(at);
    strbuf_add(&dry, wet, (size_t)(at - wet));
    strbuf_addstr(&dry, "\"dryRun\":true");
    strbuf_addstr(&dry, at + strlen("\"dryRun\":false"));
    for (int mode = REVIEW_MUTATE; mode <= REVIEW_VALIDATE; mode++) {
        answer_text((enum review_mode)mode, wet, &a);
        answer_text((enum review_mode)mode, dry.buf, &b);
        assert_string_equal(a.res.body, b.res.body);
        answer_release(&a);
        answer_release(&b);
    }
    strbuf_release(&dry);
    free(wet);
}

/* An object's managedFields, annotations and status are read as strictly
 * as the rest but never judged: the answers are the same with them, and a
 * repeated key inside them is still refused. */
static void test_unread_object_members(void **state)
{
    static const char extra[] =
        "\"managedFields\":[{\"manager\":\"kubectl\",\"fieldsV1\":{\"f:spec\":{\"f:image\":{}}}}],"
        "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"},";
    char *plain = review_text("v1", "un", "CREATE", GVK("Dataset"), DATASET_BAD);
    struct strbuf full = STRBUF_INIT, dup = STRBUF_INIT;
    const char *md = strstr(plain, "\"metadata\":{") + strlen("\"metadata\":{");
    const char *spec = strstr(plain, "\"spec\":");
    struct answer a, b;

    (void)state;
    strbuf_add(&full, plain, (size_t)(md - plain));
    strbuf_addstr(&full, extra);
    strbuf_add(&full, md, (size_t)(spec - md));
    strbuf_addstr(&full, "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\"}]},");
    strbuf_addstr(&full, spec);
    for (int mode = REVIEW_MUTATE; mode <= REVIEW_VALIDATE; mode++) {
        answer_text((enum review_mode)mode, plain, &a);
        answer_text((enum review_mode)mode, full.buf, &b);
        assert_string_equal(a.res.body, b.res.body);
        answer_release(&a);
        answer_release(&b);
    }
    strbuf_add(&dup, plain, (size_t)(md - plain));
    strbuf_addstr(&dup, "\"managedFields\":[{\"manager\":\"a\",\"manager\":\"b\"}],");
    strbuf_addstr(&dup, md);
    assert_bad_request(dup.buf, dup.len, "duplicate");
    strbuf_release(&full);
    strbuf_release(&dup);
    free(plain);
}

/* The review of object (text) as /validate gets it, with a sealer. */
static void validate_sealed(const struct sealer *sealer, const char *object, struct answer *a)
{
    char *body = review_text("v1", "sv", "CREATE", GVK("Serving"), object);
    json_error_t err;

    memset(a, 0, sizeof(*a));
    assert_int_equal(review_handle(REVIEW_VALIDATE, body, strlen(body), NULL, sealer, &a->res), 0);
    assert_int_equal(a->res.http_status, 200);
    a->doc = json_loadb(a->res.body, a->res.len, 0, &err);
    a->response = json_object_get(a->doc, "response");
    free(body);
}

/* /validate takes a sealed spec.generated as the request's text: the seal
 * verifies over it as sent, over Go's escapes of the same characters, and
 * (the fallback) over any other text of the same value; a byte changed is
 * refused, and so is a seal moved to other children. */
static void test_validate_sealed_text(void **state)
{
    struct seal_keys keys = { .n = 0 };
    struct sealer sealer = { &keys, seal_sign, noting_verify };
    char *body = review_text("v1", "sm", "CREATE", GVK("Serving"), SERVING_OK), *compact, *text;
    json_t *review, *object, *ops, *op;
    struct answer a;
    size_t i;
    static const struct {
        const char *what, *with;        /* an edit of spec.generated's text, or none */
        int allowed, over_text;
    } edits[] = {
        { NULL, NULL, 1, 1 },
        { "-", "\\u002d", 1, 1 },         /* Go's escape of a character node_dump() writes raw */
        { "[{", "[ {", 1, 0 },             /* white space: parsed after all, and sealed still */
        { "serving:1", "serving:2", 0, 0 }, /* a byte of the children: the seal does not cover it */
    };

    (void)state;
    seal_fixture_keys(&keys);
    /* the object as the apiserver stores it after /mutate */
    memset(&a, 0, sizeof(a));
    assert_int_equal(review_handle(REVIEW_MUTATE, body, strlen(body), NULL, &sealer, &a.res), 0);
    a.doc = json_loadb(a.res.body, a.res.len, 0, NULL);
    a.response = json_object_get(a.doc, "response");
    ops = patch_of(&a);
    review = json_loads(body, 0, NULL);
    object = json_object_get(json_object_get(review, "request"), "object");
    json_array_foreach(ops, i, op)
        json_object_set(json_object_get(object, "spec"), json_string_value(json_object_get(op, "path")) + 6,
                        json_object_get(op, "value"));
    assert_non_null(json_object_get(json_object_get(object, "spec"), "seal"));
    compact = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
    answer_release(&a);

    for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        text = edits[i].what ? replaced(compact, "\"generated\"", edits[i].what, edits[i].with) : strdup(compact);
        validate_sealed(&sealer, text, &a);
        assert_int_equal(json_is_true(json_object_get(a.response, "allowed")), edits[i].allowed);
        if (edits[i].allowed)
            assert_int_equal(over_text, edits[i].over_text);
        else
            assert_non_null(strstr(a.res.body, "spec.generated"));
        assert_null(json_object_get(a.response, "warnings"));
        answer_release(&a);
        free(text);
    }

    free(compact);
    json_decref(ops);
    json_decref(review);
    free(body);
    seal_keys_release(&keys);
}

/* The reference counts of v and every value in it, in walk order. */
static void counts_of(const json_t *v, struct strbuf *out)
{
    const char *key;
    json_t *m;
    size_t i;

    strbuf_addf(out, "%zu,", (size_t)v->refcount);
    if (json_is_object(v))
        json_object_foreach((json_t *)v, key, m)
            counts_of(m, out);
    else if (json_is_array(v))
        json_array_foreach(v, i, m)
            counts_of(m, out);
}

#define TRAINING_OK                                                                               \
    OBJECT("Training", "t", "{\"project\":\"PaddleOCR\",\"image\":\"registry.baidubce.com/paddleflow-public/" \
                            "paddleocr:2.1.3\",\"configPath\":\"a.yml\",\"dataset\":\"d\",\"pvcName\":\"p\","   \
                            "\"workerReplicas\":2,\"gpuPerNode\":1,\"useVisualDL\":true}")

/* With the arena in force, review.c and sync.c leave the trees they build
 * to it (arena_in_force()): nothing from outside may be referenced from
 * them, or its count would stay raised for good. The example policy's
 * values (defaults, pod settings, limits, allow-lists) keep their counts
 * over reviews and syncs that read them. */
static void test_policy_counts_unchanged(void **state)
{
    static const char *const objects[][2] = {
        { "Training", TRAINING_OK }, { "Serving", SERVING_OK }, { "Dataset", DATASET_BAD },
    };
    struct seal_keys keys = { .n = 0 };
    struct sealer sealer = { &keys, seal_sign, seal_verify };
    struct strbuf before = STRBUF_INIT, after = STRBUF_INIT, sync = STRBUF_INIT;
    char err[YAML_MAX_ERROR], *text, *body, *out;
    size_t len, outlen;
    json_t *docs;
    struct policy *p;
    int on;

    (void)state;
    arena_install();
    arena_begin();
    on = arena_in_force();
    arena_end();
    if (!on)
        skip();     /* a sanitizer build: the arena is off, every tree is freed */
    seal_fixture_keys(&keys);
    assert_int_equal(readfile_path("examples/policy.yaml", 1 << 20, 0, &text, &len, err, sizeof(err)), 0);
    docs = yaml_load_all(text, len, err);
    assert_non_null(docs);
    p = policy_parse(json_array_get(docs, 0), "examples/policy.yaml", err, sizeof(err));
    if (!p)
        fail_msg("policy: %s", err);
    counts_of(docs, &before);
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        char gvk[128];
        struct review_result res;

        snprintf(gvk, sizeof(gvk), GVK("%s"), objects[i][0]);
        body = review_text("v1", "c-1", "CREATE", gvk, objects[i][1]);
        for (int mode = REVIEW_MUTATE; mode <= REVIEW_VALIDATE; mode++) {
            assert_int_equal(review_handle((enum review_mode)mode, body, strlen(body), p, &sealer, &res), 0);
            assert_int_equal(res.http_status, 200);
            review_result_release(&res);
        }
        free(body);
    }
    /* a parent nobody sealed: rendered under the policy */
    strbuf_addf(&sync, "{\"parent\":%s,\"children\":{},\"related\":{},\"finalizing\":false}", TRAINING_OK);
    assert_int_equal(sync_handle(sync.buf, sync.len, p, &sealer, &out, &outlen), 200);
    free(out);
    counts_of(docs, &after);
    assert_string_equal(after.buf, before.buf);
    policy_unref(p);
    json_decref(docs);
    free(text);
    strbuf_release(&before);
    strbuf_release(&after);
    strbuf_release(&sync);
    seal_keys_release(&keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_v1_and_v1beta1),
        cmocka_unit_test(test_long_uid_echoed_whole),
        cmocka_unit_test(test_result_fields_for_logs),
        cmocka_unit_test(test_log_fields_clipped_on_utf8_boundary),
        cmocka_unit_test(test_mutate_answers_base64_json_patch),
        cmocka_unit_test(test_base64_padding),
        cmocka_unit_test(test_no_patch_when_nothing_changes),
        cmocka_unit_test(test_mutate_never_denies),
        cmocka_unit_test(test_denial_shape),
        cmocka_unit_test(test_single_error_message_has_no_brackets),
        cmocka_unit_test(test_policy_only_denial_is_403),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_delete_and_connect_untouched),
        cmocka_unit_test(test_other_kinds_untouched),
        cmocka_unit_test(test_kind_from_object_when_request_has_none),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_truncated_review),
        cmocka_unit_test(test_length_honoured),
        cmocka_unit_test(test_duplicate_keys_refused),
        cmocka_unit_test(test_not_an_admission_review),
        cmocka_unit_test(test_missing_uid),
        cmocka_unit_test(test_missing_object_for_our_kind),
        cmocka_unit_test(test_numbers_out_of_range_answered),
        cmocka_unit_test(test_malformed_operation_refused),
        cmocka_unit_test(test_nul_in_envelope_refused),
        cmocka_unit_test(test_exemption_is_byte_exact),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_deep_nesting_refused_before_parsing),
        cmocka_unit_test(test_dry_run_changes_nothing),
        cmocka_unit_test(test_unread_object_members),
        cmocka_unit_test(test_validate_sealed_text),
        cmocka_unit_test(test_policy_counts_unchanged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
