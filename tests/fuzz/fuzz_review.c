/*
 * fuzz_review.c - libFuzzer target for review_handle() (SPEC §3.2), the
 * whole admission path: bytes -> AdmissionReview -> mutate/validate ->
 * response bytes.
 *
 * Every input is answered in both modes, with the built-in settings and
 * with a fixed multi-tenant policy. Beyond "no crash, no leak, no UB" the
 * answer must be what the apiserver accepts:
 *   - 400 exactly when the body is not JSON, nests deeper than
 *     REVIEW_MAX_JSON_DEPTH, is not a v1/v1beta1 AdmissionReview with a
 *     request object and a non-empty string uid, or is a CREATE/UPDATE of
 *     one of our kinds without an object; the reason is short plain text;
 *   - otherwise 200 with valid JSON: the same apiVersion, kind
 *     AdmissionReview, response.uid equal to request.uid, allowed a boolean
 *     that agrees with the result struct; /mutate never denies and /validate
 *     never patches; a denial has status.code 422/403 with reason
 *     Invalid/Forbidden and one well-formed cause per error;
 *   - a patch is patchType JSONPatch, strict base64 of a JSON array of
 *     add/remove/replace operations that applies strictly to
 *     request.object, never changes its apiVersion or kind; mutating the
 *     patched object again gives no patch (idempotency), and validating it
 *     never trips the spec.generated tamper check;
 *   - the same input gives the same bytes twice (no hidden state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "certs/seal.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "tests/fuzz/fuzz_util.h"
#include "webhook/review.h"

/* examples/policy.yaml as JSON: limits, allow-lists, namespace rules and
 * exemptions, so the fuzzer reaches every policy branch; namespaces kf-*
 * pick the Training Operator and lay pod defaults. */
static const char policy_text[] =
    "{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"WebhookPolicy\","
    " \"defaults\": {\"endpoint\": \"http://minio-service.kubeflow:9000\", \"port\": 8040,"
    "  \"downloaderImage\": \"registry.baidubce.com/paddleflow-public/curl:8.5.0\","
    "  \"uploaderImage\": \"registry.baidubce.com/paddleflow-public/mc:RELEASE.2024-01-13T08-44-48Z\","
    "  \"visualdlImage\": \"registry.baidubce.com/paddleflow-public/visualdl:2.5.3\","
    "  \"credentialsSecret\": \"minio-credentials\"},"
    " \"limits\": {\"maxGpuPerNode\": 8, \"maxWorkerReplicas\": 16, \"maxPsReplicas\": 8,"
    "  \"maxTotalGpus\": 64, \"maxPartitions\": 32},"
    " \"allow\": {\"imageRegistries\": [\"registry.baidubce.com/paddleflow-public/\", \"docker.io/paddlepaddle/\", \"docker.io/juicedata/\"],"
    "  \"sourceUriSchemes\": [\"bos\", \"s3\"],"
    "  \"endpointHosts\": [\"minio-service.kubeflow\", \"*.minio.svc.cluster.local\"],"
    "  \"pretrainModelHosts\": [\"paddle-imagenet-models-name.bj.bcebos.com\", \"paddleocr.bj.bcebos.com\"]},"
    " \"namespaces\": [{\"match\": \"team-*\", \"limits\": {\"maxGpuPerNode\": 2, \"maxTotalGpus\": 8}},"
    "  {\"match\": \"kubeflow\", \"limits\": {\"maxGpuPerNode\": 4}, \"allow\": {\"sourceUriSchemes\": [\"bos\", \"hdfs\"]}},"
    "  {\"match\": \"sandbox-?\", \"defaults\": {\"endpoint\": \"http://minio.sandbox.minio.svc.cluster.local:9000\"},"
    "   \"limits\": {\"maxGpuPerNode\": 0}},"
    "  {\"match\": \"kf-*\", \"defaults\": {\"trainingOperator\": \"kubeflow\", \"dataStorageClass\": \"nfs\","
    "   \"pod\": {\"tolerations\": [{\"key\": \"nvidia.com/gpu\", \"operator\": \"Exists\"}],"
    "    \"labels\": {\"team\": \"kf\"}, \"annotations\": {\"sidecar.istio.io/inject\": \"true\"},"
    "    \"resources\": {\"worker\": {\"limits\": {\"memory\": \"8Gi\"}}}}}}],"
    " \"exempt\": {\"users\": [\"system:serviceaccount:kubeflow:pipeline-runner\"], \"groups\": [\"system:masters\"]}}";

static struct policy *fixed_policy;

/* Every review is sealed and checked against seals, as the server does. */
static struct seal_keys fixed_keys;
static const struct sealer fixed_sealer = { &fixed_keys, seal_sign, seal_verify };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/fuzz-seal-XXXXXX", err[256];
    int fd = mkstemp(path);

    (void)argc, (void)argv;
    fixed_policy = fz_start(policy_text);
    if (fd < 0 || write(fd, "a fixed key for the fuzz target", 31) != 31 ||
        seal_keys_add_file(&fixed_keys, path, err, sizeof(err)) < 0)
        abort();
    close(fd);
    unlink(path);
    return 0;
}

static const char *const cause_reasons[] = {
    "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported",
    "FieldValueForbidden", "FieldValueTooLong", "FieldValueDuplicate",
    "FieldValueTooMany",        /* the cap's last cause (mutators/fielderr.h) */
    NULL,
};

static int one_of(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

/* json_equal(), where two absent values are also the same. */
static int same(const json_t *a, const json_t *b)
{
    return (!a && !b) || json_equal((json_t *)a, (json_t *)b);
}

/* 1 when v is the string s, every byte of it (a NUL inside is another string). */
static int is_exactly(const json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) &&
           !memcmp(json_string_value(v), s, strlen(s));
}

/* 1 when v is a string holding a NUL. */
static int has_nul(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v);
}

/* The HTTP status review_handle must give for this input, computed here
 * independently of review.c's own checks. review is the parse (or NULL). */
static int expected_status(const json_t *review)
{
    const json_t *request = json_object_get(review, "request"), *gvk, *object;
    const json_t *av = json_object_get(review, "apiVersion"), *opv = json_object_get(request, "operation");
    const char *uid = json_string_value(json_object_get(request, "uid"));
    const char *op = json_string_value(opv);
    const struct kind *k;

    if (!review || fz_depth(review) > REVIEW_MAX_JSON_DEPTH)
        return 400;
    if (!json_is_object(review) ||
        !(is_exactly(av, "admission.k8s.io/v1") || is_exactly(av, "admission.k8s.io/v1beta1")) ||
        !is_exactly(json_object_get(review, "kind"), "AdmissionReview") ||
        !json_is_object(request) || !uid || !*uid)
        return 400;
    /* exactly one of admission.k8s.io's operations, or nothing is judged */
    if (!is_exactly(opv, "CREATE") && !is_exactly(opv, "UPDATE") && !is_exactly(opv, "DELETE") &&
        !is_exactly(opv, "CONNECT"))
        return 400;
    gvk = json_object_get(request, "kind");
    if (has_nul(json_object_get(gvk, "group")) || has_nul(json_object_get(gvk, "version")) ||
        has_nul(json_object_get(gvk, "kind")) || has_nul(json_object_get(request, "namespace")))
        return 400;
    object = json_object_get(request, "object");
    k = json_is_object(gvk) ? kinds_find(json_string_value(json_object_get(gvk, "group")),
                                         json_string_value(json_object_get(gvk, "version")),
                                         json_string_value(json_object_get(gvk, "kind")))
                            : kinds_of_object(object);
    if (k && op && (!strcmp(op, "CREATE") || !strcmp(op, "UPDATE")) && !json_is_object(object))
        return 400;
    return 200;
}

static void check_status(const json_t *status, const struct review_result *res)
{
    const json_t *causes = json_object_get(json_object_get(status, "details"), "causes"), *c;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    size_t i;

    FZ_CHECK(json_is_object(status), "a denial without a status object");
    FZ_CHECK(!strcmp(json_string_value(json_object_get(status, "status")) ?: "", "Failure"),
             "status.status is not Failure");
    FZ_CHECK(reason && ((!strcmp(reason, "Invalid") && code == 422) ||
                        (!strcmp(reason, "Forbidden") && code == 403)),
             "status reason/code %s/%lld", reason ? reason : "(none)", (long long)code);
    FZ_CHECK(res->reason && !strcmp(res->reason, reason), "result reason disagrees with the body");
    FZ_CHECK(json_is_string(json_object_get(status, "message")), "status.message is not a string");
    FZ_CHECK(json_array_size(causes) > 0, "a denial without causes");
    json_array_foreach(causes, i, c) {
        const char *field = json_string_value(json_object_get(c, "field"));
        const char *msg = json_string_value(json_object_get(c, "message"));

        FZ_CHECK(json_object_size(c) == 3 && field && msg,
                 "cause %zu is not {field, reason, message} strings", i);
        FZ_CHECK(one_of(json_string_value(json_object_get(c, "reason")), cause_reasons),
                 "cause %zu has an unknown reason", i);
        FZ_CHECK(strstr(json_string_value(json_object_get(status, "message")), field),
                 "status.message does not name cause %zu's field %s", i, field);
    }
}

/* The decoded patch ops of a 200 answer's response (new), or NULL for none. */
static json_t *patch_of(const json_t *response)
{
    const json_t *patch = json_object_get(response, "patch");
    const char *type = json_string_value(json_object_get(response, "patchType"));
    unsigned char *raw;
    json_t *ops, *op;
    json_error_t jerr;
    size_t n, i;

    if (!patch) {
        FZ_CHECK(!json_object_get(response, "patchType"), "patchType without a patch");
        return NULL;
    }
    FZ_CHECK(type && !strcmp(type, "JSONPatch"), "patch without patchType JSONPatch");
    FZ_CHECK(json_is_string(patch), "patch is not a string");
    raw = fz_base64_decode(json_string_value(patch), json_string_length(patch), &n);
    FZ_CHECK(raw, "patch is not strict base64");
    ops = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FZ_CHECK(ops, "patch is not JSON: %s", jerr.text);
    free(raw);
    FZ_CHECK(json_array_size(ops) > 0, "an empty patch is sent (no patch when nothing changes)");
    json_array_foreach(ops, i, op)
        FZ_CHECK(json_is_object(op), "patch operation %zu is not an object", i);
    return ops;
}

/* review with request.object replaced by object, as text (malloc'd). */
static char *with_object(const json_t *review, const json_t *object)
{
    json_t *copy = json_deep_copy(review);
    char *text;

    json_object_set(json_object_get(copy, "request"), "object", (json_t *)object);
    text = json_dumps(copy, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(copy);
    if (!text)
        abort();
    return text;
}

/* Mutates and validates the patched object again: no patch, and no
 * spec.generated tamper error. */
static void check_patched(const json_t *review, const json_t *patched, const struct policy *p)
{
    char *text = with_object(review, patched);
    size_t len = strlen(text);
    struct review_result res;
    json_t *answer, *response, *causes, *c;
    size_t i;

    if (2 + fz_depth(patched) > REVIEW_MAX_JSON_DEPTH) {
        /* spec.generated made it deeper than the cap: a 400 is right */
        free(text);
        return;
    }
    FZ_CHECK(review_handle(REVIEW_MUTATE, text, len, p, &fixed_sealer, &res) == 0, "second mutate ran out of memory");
    FZ_CHECK(res.http_status == 200, "second mutate of the patched object answered %d: %s",
             res.http_status, res.body);
    answer = json_loadb(res.body, res.len, JSON_ALLOW_NUL, NULL);
    response = json_object_get(answer, "response");
    FZ_CHECK(!json_object_get(response, "patch"),
             "not idempotent: mutating the patched object patches again: %s", res.body);
    json_decref(answer);
    review_result_release(&res);

    FZ_CHECK(review_handle(REVIEW_VALIDATE, text, len, p, &fixed_sealer, &res) == 0, "validate ran out of memory");
    FZ_CHECK(res.http_status == 200, "validate of the patched object answered %d", res.http_status);
    answer = json_loadb(res.body, res.len, JSON_ALLOW_NUL, NULL);
    causes = json_object_get(json_object_get(json_object_get(json_object_get(answer, "response"), "status"),
                                             "details"),
                             "causes");
    json_array_foreach(causes, i, c)
        FZ_CHECK(strcmp(json_string_value(json_object_get(c, "field")) ?: "", "spec.generated"),
                 "the mutated object fails the spec.generated tamper check: %s", res.body);
    json_decref(answer);
    review_result_release(&res);
    free(text);
}

static void check_answer(enum review_mode mode, const json_t *review, const struct review_result *res,
                         const struct policy *p)
{
    const json_t *request = json_object_get(review, "request"), *object, *w;
    json_t *answer, *response, *allowed, *ops, *patched;
    const char *key, *why;
    json_error_t jerr;
    json_t *v;
    size_t i;

    FZ_CHECK(res->body[res->len] == '\0' && !memchr(res->body, '\0', res->len),
             "answer holds a NUL byte or is not terminated");
    answer = json_loadb(res->body, res->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FZ_CHECK(answer, "200 answer is not JSON: %s: %.200s", jerr.text, res->body);
    FZ_CHECK(json_object_size(answer) == 3, "answer has members other than apiVersion, kind, response");
    FZ_CHECK(json_equal(json_object_get(answer, "apiVersion"), json_object_get(review, "apiVersion")),
             "answer apiVersion differs from the request's");
    FZ_CHECK(!strcmp(json_string_value(json_object_get(answer, "kind")) ?: "", "AdmissionReview"),
             "answer kind is not AdmissionReview");
    response = json_object_get(answer, "response");
    FZ_CHECK(json_is_object(response), "answer.response is not an object");
    FZ_CHECK(json_equal(json_object_get(response, "uid"), json_object_get(request, "uid")),
             "response.uid differs from request.uid");
    FZ_CHECK(!strncmp(res->uid, json_string_value(json_object_get(request, "uid")), strlen(res->uid)),
             "result uid is not a prefix of request.uid");
    allowed = json_object_get(response, "allowed");
    FZ_CHECK(json_is_boolean(allowed), "response.allowed is not a boolean");
    FZ_CHECK(json_is_true(allowed) == !!res->allowed, "result allowed disagrees with the body");
    json_object_foreach(response, key, v)
        FZ_CHECK(one_of(key, (const char *const[]){ "uid", "allowed", "patchType", "patch", "status",
                                                    "warnings", NULL }),
                 "unexpected response member %s", key);
    w = json_object_get(response, "warnings");
    if (w) {
        FZ_CHECK(json_array_size(w) > 0, "warnings present but empty");
        json_array_foreach(w, i, v)
            FZ_CHECK(json_is_string(v), "warning %zu is not a string", i);
    }
    if (json_is_false(allowed)) {
        FZ_CHECK(mode == REVIEW_VALIDATE, "/mutate denied: the verdict is /validate's");
        check_status(json_object_get(response, "status"), res);
    } else {
        FZ_CHECK(!json_object_get(response, "status") && !res->reason, "an allowed answer with a status");
    }
    ops = patch_of(response);
    FZ_CHECK(!!ops == !!res->patched, "result patched disagrees with the body");
    if (ops) {
        FZ_CHECK(mode == REVIEW_MUTATE, "/validate answered a patch");
        object = json_object_get(request, "object");
        patched = fz_apply_patch(object, ops, &why);
        FZ_CHECK(patched, "patch does not apply to request.object: %s", why);
        FZ_CHECK(same(json_object_get(patched, "apiVersion"), json_object_get(object, "apiVersion")) &&
                     same(json_object_get(patched, "kind"), json_object_get(object, "kind")),
                 "the patch changes apiVersion or kind");
        FZ_CHECK(!json_equal(patched, (json_t *)object), "a patch that changes nothing");
        check_patched(review, patched, p);
        json_decref(patched);
        json_decref(ops);
    }
    json_decref(answer);
}

static void check_one(enum review_mode mode, const char *body, size_t size, const json_t *review,
                      const struct policy *p)
{
    struct review_result res, again;
    int want = expected_status(review);

    FZ_CHECK(review_handle(mode, body, size, p, &fixed_sealer, &res) == 0 && res.body, "review_handle ran out of memory");
    FZ_CHECK(res.http_status == want, "status %d, expected %d: %.200s", res.http_status, want, res.body);
    if (res.http_status == 400) {
        FZ_CHECK(res.len > 0 && res.len < 300 && res.body[res.len - 1] == '\n' &&
                     strlen(res.body) == res.len,
                 "a 400 reason must be one short line of text");
    } else {
        check_answer(mode, review, &res, p);
    }
    FZ_CHECK(review_handle(mode, body, size, p, &fixed_sealer, &again) == 0, "review_handle ran out of memory");
    FZ_CHECK(again.len == res.len && !memcmp(again.body, res.body, res.len),
             "the same input answered twice gives different bytes");
    review_result_release(&again);
    review_result_release(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    json_t *review = NULL;

    /* the oracle parses with jansson's own depth limit out of the way */
    /* jansson's reader drops raw NUL bytes ("[2\0]" is [2] to it); JSON
     * has no place for them, so such a body is malformed: 400 */
    if (fz_text_depth_ok(body, size, 4 * REVIEW_MAX_JSON_DEPTH) && !memchr(body, '\0', size))
        review = json_loadb(body, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    check_one(REVIEW_MUTATE, body, size, review, NULL);
    check_one(REVIEW_VALIDATE, body, size, review, NULL);
    check_one(REVIEW_MUTATE, body, size, review, fixed_policy);
    check_one(REVIEW_VALIDATE, body, size, review, fixed_policy);
    json_decref(review);
    return 0;
}
