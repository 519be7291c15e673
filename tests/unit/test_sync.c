/*
 * Unit tests of Metacontroller's sync hook, webhook/sync.c and its domain
 * mutators/lifecycle.c, through sync_handle(), bytes in and bytes out, as
 * the server calls it.
 *
 * Each test plays Metacontroller: it sends a parent and the children it
 * "observed" (objects with a status written by their operator) and checks
 * the desired children and the status that come back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certs/seal.h"
#include "mutators/kinds.h"
#include "mutators/lifecycle.h"
#include "mutators/policy.h"
#include "webhook/review.h"
#include "webhook/sync.h"

#include "tests/unit/seal_fixture.h"

#define API "paddlex.paddlepaddle.org/v1alpha1"
#define PADDLEJOB "batch.paddlepaddle.org/v1"
#define SAMPLESET "batch.paddlepaddle.org/v1alpha1"
#define ISVC "serving.kserve.io/v1beta1"

#define TRAINING_SPEC                                                                        \
    "\"project\": \"PaddleOCR\", \"image\": \"registry.baidubce.com/paddleflow-public/"     \
    "paddleocr:2.1.3-gpu-cuda10.2-cudnn7\", \"configPath\": \"configs/rec/rec_icdar15_train.yml\", " \
    "\"dataset\": \"icdar2015\", \"pvcName\": \"pipeline-pvc\", \"workerReplicas\": 1"

/* ------------------------------------------------------------ fixtures */

/* A parent of kind with spec given as the members of a JSON object (new). */
static json_t *parent(const char *kind, const char *name, const char *spec_members)
{
    char text[2048];
    json_error_t err;
    json_t *spec;

    snprintf(text, sizeof(text), "{%s}", spec_members);
    spec = json_loads(text, 0, &err);
    if (!spec)
        fail_msg("bad spec fixture: %s: %s", err.text, text);
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:i}, s:o}", "apiVersion", API, "kind", kind,
                     "metadata", "name", name, "namespace", "kubeflow", "uid",
                     "0d1c9b76-7b0e-4c54-9c39-7b6c8d0a0001", "generation", 3, "spec", spec);
}

static json_t *training(const char *extra)
{
    char members[1024];

    snprintf(members, sizeof(members), "%s%s%s", TRAINING_SPEC, *extra ? ", " : "", extra);
    return parent("Training", "pp-ocr", members);
}

/* A sync request around parent (stolen) and observed children (stolen). */
static json_t *request(json_t *par, json_t *children, int finalizing)
{
    return json_pack("{s:{s:s, s:s}, s:o, s:o, s:{}, s:b}", "controller", "apiVersion",
                     "metacontroller.k8s.io/v1alpha1", "kind", "CompositeController", "parent", par,
                     "children", children ? children : json_object(), "related", "finalizing",
                     finalizing);
}

/* Adds an observed child, as Metacontroller sends it, with the status given
 * as a JSON object text (or NULL); returns it (borrowed). */
static json_t *observe(json_t *children, const char *api_version, const char *kind, const char *name,
                       const char *status)
{
    char key[256];
    json_t *group, *obj;

    snprintf(key, sizeof(key), "%s.%s", kind, api_version);
    group = json_object_get(children, key);
    if (!group) {
        group = json_object();
        json_object_set_new(children, key, group);
    }
    obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:i, s:[{s:s}], s:{s:s, s:s}}, s:{s:s}}",
                    "apiVersion", api_version, "kind", kind, "metadata", "name", name, "namespace",
                    "kubeflow", "uid", "5f0c4d8e-0000-4000-8000-000000000001", "resourceVersion", "4711",
                    "generation", 1, "managedFields", "manager", "metacontroller", "annotations",
                    "metacontroller.k8s.io/last-applied-configuration", "{}", "note", "kept",
                    "spec", "observed", "yes");
    if (status)
        json_object_set_new(obj, "status", json_loads(status, 0, NULL));
    json_object_set_new(group, name, obj);
    return obj;
}

/* Sends text under policy p (NULL: built-in); returns the HTTP status and
 * the body (malloc'd) in *body. */
static int send_text(const char *text, size_t len, const struct policy *p, char **body)
{
    size_t outlen = 0;
    int status = sync_handle(text, len, p, NULL, body, &outlen);

    assert_non_null(*body);
    assert_int_equal(strlen(*body), outlen);
    return status;
}

/* Sends req (stolen) under policy p and returns the parsed 200 answer (new). */
static json_t *sync_under(json_t *req, const struct policy *p)
{
    char *text = json_dumps(req, JSON_COMPACT), *body = NULL;
    json_error_t err;
    json_t *answer;
    int status;

    json_decref(req);
    status = send_text(text, strlen(text), p, &body);
    free(text);
    if (status != 200)
        fail_msg("sync answered %d: %s", status, body);
    answer = json_loads(body, JSON_REJECT_DUPLICATES, &err);
    free(body);
    assert_non_null(answer);
    assert_true(json_is_object(json_object_get(answer, "status")));
    assert_true(json_is_array(json_object_get(answer, "children")));
    return answer;
}

static json_t *sync_ok(json_t *req)
{
    return sync_under(req, NULL);
}

/* Expects HTTP 400 whose reason contains want. */
static void expect_400(const char *text, const char *want)
{
    char *body = NULL;
    int status = send_text(text, strlen(text), NULL, &body);

    if (status != 400 || !strstr(body, want))
        fail_msg("want 400 with \"%s\", got %d: %s", want, status, body);
    free(body);
}

static const json_t *status_of(const json_t *answer)
{
    return json_object_get(answer, "status");
}

static const char *parent_phase(const json_t *answer)
{
    return json_string_value(json_object_get(status_of(answer), "phase"));
}

static const char *message(const json_t *answer)
{
    return json_string_value(json_object_get(status_of(answer), "message"));
}

static int has_name(const json_t *obj, const char *kind, const char *name)
{
    const char *k = json_string_value(json_object_get(obj, "kind"));
    const char *n = json_string_value(json_object_get(obj, "name"));

    if (!n)
        n = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    return k && n && !strcmp(k, kind) && !strcmp(n, name);
}

/* The returned child kind/name (borrowed), or NULL. */
static const json_t *child(const json_t *answer, const char *kind, const char *name)
{
    const json_t *c;
    size_t i;

    json_array_foreach(json_object_get(answer, "children"), i, c)
        if (has_name(c, kind, name))
            return c;
    return NULL;
}

/* status.children's entry for kind/name (borrowed); fails when absent. */
static const json_t *entry(const json_t *answer, const char *kind, const char *name)
{
    const json_t *e;
    size_t i;

    json_array_foreach(json_object_get(status_of(answer), "children"), i, e)
        if (has_name(e, kind, name))
            return e;
    fail_msg("no status entry for %s/%s", kind, name);
    return NULL;
}

static const char *phase(const json_t *answer, const char *kind, const char *name)
{
    return json_string_value(json_object_get(entry(answer, kind, name), "phase"));
}

static size_t nchildren(const json_t *answer)
{
    return json_array_size(json_object_get(answer, "children"));
}

static int resyncs(const json_t *answer)
{
    return json_integer_value(json_object_get(answer, "resyncAfterSeconds")) == LIFECYCLE_RESYNC_SECONDS;
}

/* The children rendered for parent (new): an apply sync with everything
 * observed finished, so that nothing is withheld. */
static json_t *rendered(json_t *par)
{
    json_t *children = json_object(), *answer, *all;

    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    observe(children, "batch/v1", "Job", "pp-ocr-export",
            "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}");
    answer = sync_ok(request(par, children, 0));
    all = json_deep_copy(json_object_get(answer, "children"));
    json_decref(answer);
    return all;
}

/* ------------------------------------------------------ malformed input */

static void test_malformed_requests(void **state)
{
    char deep[2 * REVIEW_MAX_JSON_DEPTH + 8];
    char *body = NULL;

    (void)state;
    expect_400("", "not valid JSON");
    expect_400("{\"parent\": ", "not valid JSON");
    expect_400("{\"parent\": {}, \"parent\": {}}", "not valid JSON");   /* duplicate key */
    expect_400("[]", "not a JSON object");
    expect_400("\"sync\"", "not valid JSON");   /* jansson: an object or array only */
    expect_400("{}", "parent is missing");
    expect_400("{\"parent\": null}", "parent is missing");
    expect_400("{\"parent\": [1]}", "parent is missing");
    expect_400("{\"parent\": {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\"}}", "known kind");
    expect_400("{\"parent\": {\"apiVersion\": \"paddlex.paddlepaddle.org/v1\", \"kind\": \"Training\"}}",
               "known kind");
    expect_400("{\"parent\": {\"apiVersion\": \"" API "\", \"kind\": \"Pipeline\"}}", "known kind");
    expect_400("{\"parent\": {\"apiVersion\": \"" API "\"}}", "known kind");
    expect_400("{\"parent\": {\"apiVersion\": \"" API "\", \"kind\": \"Training\"}, \"children\": []}",
               "children is not a map");
    expect_400("{\"parent\": {\"apiVersion\": \"" API "\", \"kind\": \"Training\"}, "
               "\"children\": {\"Job.batch/v1\": []}}",
               "children is not a map");
    expect_400("{\"parent\": {\"apiVersion\": \"" API "\", \"kind\": \"Training\"}, "
               "\"children\": {\"Job.batch/v1\": {\"x\": \"y\"}}}",
               "children is not a map");
    expect_400("{\"parent\": {\"apiVersion\": \"" API "\", \"kind\": \"Training\"}, \"finalizing\": \"yes\"}",
               "finalizing is not a boolean");

    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    expect_400(deep, "nests too deeply");
    /* not NUL-terminated: only len bytes are read */
    assert_int_equal(send_text("{}garbage", 2, NULL, &body), 400);
    assert_non_null(strstr(body, "parent is missing"));
    free(body);
}

/* A request with what no decision reads made large: managedFields of the
 * parent and children, the parent's annotations (kubectl's last-applied
 * configuration), the controller, and the related objects' children and
 * annotations. n entries of each (0: none). */
static char *noisy_request(const char *action, int n)
{
    char spec[256];
    json_t *par, *children = json_object(), *req, *fields = json_object(), *mf, *ds;
    const char *key;
    json_t *group, *obj;
    void *tmp;
    char *text;

    snprintf(spec, sizeof(spec), "\"action\": \"%s\"", action);
    par = training(spec);
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Running\"}");
    observe(children, "batch/v1", "Job", "pp-ocr-export", "{\"active\": 1}");
    for (int i = 0; i < n; i++) {
        char k[64];

        snprintf(k, sizeof(k), "k:{\"type\":\"C%d\"}", i);
        json_object_set_new(fields, k, json_pack("{s:{}}", "f:status"));
    }
    mf = json_pack("[{s:s, s:s, s:O}]", "manager", "kube-controller-manager", "fieldsType", "FieldsV1",
                   "fieldsV1", fields);
    ds = json_pack("{s:s, s:s, s:{s:s, s:s, s:i}, s:{s:[s]}, s:{s:[{s:s, s:s}]}}", "apiVersion", API, "kind",
                   "Dataset", "metadata", "name", "icdar2015", "namespace", "kubeflow", "generation", 1,
                   "spec", "generated", "x", "status", "conditions", "type", "Ready", "status", "True");
    if (n) {
        json_object_set(json_object_get(par, "metadata"), "managedFields", mf);
        text = json_dumps(par, JSON_COMPACT);
        json_object_set_new(json_object_get(par, "metadata"), "annotations",
                            json_pack("{s:s}", "kubectl.kubernetes.io/last-applied-configuration", text));
        free(text);
        json_object_set(json_object_get(ds, "metadata"), "managedFields", mf);
        json_object_set(json_object_get(ds, "spec"), "generated", fields);
        json_object_foreach(children, key, group)
            json_object_foreach_safe(group, tmp, key, obj)
                json_object_set(json_object_get(obj, "metadata"), "managedFields", mf);
    }
    req = request(par, children, 0);
    json_object_set_new(req, "related", json_pack("{s:{s:o}}", "Dataset." API, "icdar2015", ds));
    if (n)
        json_object_set(json_object_get(req, "controller"), "spec", fields);
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    json_decref(mf);
    json_decref(fields);
    return text;
}

/* 1 when answers a and b (texts) are equal but for the conditions'
 * lastTransitionTime (the clock's: a second may pass between them). */
static int same_answer(const char *a, const char *b)
{
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL), *c;
    size_t i;
    int same;

    assert_non_null(x);
    assert_non_null(y);
    json_array_foreach(json_object_get(status_of(x), "conditions"), i, c)
        json_object_del(c, "lastTransitionTime");
    json_array_foreach(json_object_get(status_of(y), "conditions"), i, c)
        json_object_del(c, "lastTransitionTime");
    same = json_equal(x, y) && json_array_size(json_object_get(x, "children")) > 0;
    json_decref(x);
    json_decref(y);
    return same;
}

/* What no decision reads is checked as strictly as the rest (mutators/
 * json/jsonparse.h: not built) and changes nothing in the answer, whether
 * the children go back rendered (apply) or as observed (create: read a
 * second time, with their spec). */
static void test_unread_members(void **state)
{
    static const char *const actions[] = { "apply", "create", "patch" };
    char *body = NULL, *plain_body = NULL, *text, *dup;
    size_t len;

    (void)state;
    for (size_t a = 0; a < sizeof(actions) / sizeof(actions[0]); a++) {
        char *plain = noisy_request(actions[a], 0);

        text = noisy_request(actions[a], 300);
        assert_int_equal(send_text(plain, strlen(plain), NULL, &plain_body), 200);
        assert_int_equal(send_text(text, strlen(text), NULL, &body), 200);
        assert_true(same_answer(body, plain_body));
        free(body);
        free(plain_body);
        free(plain);
        free(text);
    }
    /* a repeated key (escaped or not) or bad syntax inside unread text is a 400 */
    text = noisy_request("apply", 3);
    len = strlen(text);
    dup = malloc(2 * len);
    assert_non_null(dup);
    for (int i = 0; i < 3; i++) {
        static const char *const from[] = { "\"f:status\":{}", "\"manager\":\"kube-controller-manager\"",
                                            "\"observed\":\"yes\"" };
        static const char *const to[] = { "\"f:status\":{},\"f:st\\u0061tus\":{}",
                                          "\"manager\":\"a\",\"manager\":\"b\"", "\"observed\":yes" };
        const char *at = strstr(text, from[i]);

        assert_non_null(at);
        snprintf(dup, 2 * len, "%.*s%s%s", (int)(at - text), text, to[i], at + strlen(from[i]));
        expect_400(dup, "not valid JSON");
    }
    free(dup);
    free(text);
}

/* null members decode as Go's zero values, as Metacontroller's own do. */
static void test_null_members_are_empty(void **state)
{
    json_t *req = request(training(""), NULL, 0), *answer;

    (void)state;
    json_object_set_new(req, "children", json_null());
    json_object_set_new(req, "finalizing", json_null());
    answer = sync_ok(req);
    assert_string_equal(parent_phase(answer), "Pending");
    json_decref(answer);
}

/* ------------------------------------------------------- invalid parent */

static void test_invalid_parent(void **state)
{
    json_t *par = parent("Training", "pp-ocr",
                         "\"project\": \"PaddleOCR\", \"configPath\": \"configs/x.yml\", "
                         "\"dataset\": \"icdar2015\", \"pvcName\": \"pvc\", \"workerReplicas\": -1");
    json_t *children = json_object(), *answer;
    const char *msg;

    (void)state;
    /* nothing observed: nothing to keep, and the parent has failed */
    answer = sync_ok(request(json_deep_copy(par), json_object(), 0));
    assert_string_equal(parent_phase(answer), "Failed");
    assert_int_equal(json_integer_value(json_object_get(status_of(answer), "observedGeneration")), 3);
    msg = message(answer);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "spec.image: Required value"));
    assert_non_null(strstr(msg, "spec.workerReplicas: Invalid value: -1"));
    assert_int_equal(nchildren(answer), 0);
    assert_null(json_object_get(answer, "resyncAfterSeconds"));
    json_decref(answer);

    /* a running PaddleJob is kept as it is (SPEC §9.1): leaving it out
     * would make Metacontroller delete it (manage_children.go deletes
     * every owned child missing from the answer) */
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Running\"}");
    answer = sync_ok(request(par, children, 0));
    assert_string_equal(parent_phase(answer), "Running");
    msg = message(answer);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "spec.workerReplicas: Invalid value: -1"));
    assert_non_null(strstr(msg, "existing children are kept"));
    assert_int_equal(nchildren(answer), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(child(answer, "PaddleJob", "pp-ocr"),
                                                                          "spec"), "observed")), "yes");
    json_decref(answer);
}

/* --------------------------------------------------------------- ordering */

static void test_training_chain(void **state)
{
    json_t *children = json_object(), *answer, *pj, *export;

    (void)state;
    /* nothing observed: the PaddleJob only; export and convert wait */
    answer = sync_ok(request(training(""), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 1);
    assert_non_null(child(answer, "PaddleJob", "pp-ocr"));
    assert_string_equal(phase(answer, "PaddleJob", "pp-ocr"), "Pending");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Waiting");
    assert_string_equal(phase(answer, "Job", "pp-ocr-convert"), "Waiting");
    assert_string_equal(parent_phase(answer), "Pending");
    assert_non_null(strstr(message(answer), "Job/pp-ocr-export waits for PaddleJob/pp-ocr"));
    assert_true(resyncs(answer));
    json_decref(answer);

    /* running: still no export Job */
    pj = observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Running\"}");
    answer = sync_ok(request(training(""), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 1);
    assert_string_equal(phase(answer, "PaddleJob", "pp-ocr"), "Running");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Waiting");
    assert_string_equal(parent_phase(answer), "Running");
    assert_true(resyncs(answer));
    json_decref(answer);

    /* succeeded: the export Job appears, the convert Job still waits */
    json_object_set_new(pj, "status", json_pack("{s:s}", "phase", "Succeeded"));
    answer = sync_ok(request(training(""), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 2);
    assert_non_null(child(answer, "Job", "pp-ocr-export"));
    assert_null(child(answer, "Job", "pp-ocr-convert"));
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Pending");
    assert_string_equal(phase(answer, "Job", "pp-ocr-convert"), "Waiting");
    assert_string_equal(parent_phase(answer), "Running");
    assert_true(resyncs(answer));
    json_decref(answer);

    /* export complete: the convert Job appears; nothing waits */
    export = observe(children, "batch/v1", "Job", "pp-ocr-export",
                     "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}");
    answer = sync_ok(request(training(""), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 3);
    assert_non_null(child(answer, "Job", "pp-ocr-convert"));
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Succeeded");
    assert_string_equal(parent_phase(answer), "Running");
    assert_false(resyncs(answer));
    json_decref(answer);

    /* convert complete: the Training succeeded */
    observe(children, "batch/v1", "Job", "pp-ocr-convert",
            "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}");
    answer = sync_ok(request(training(""), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 3);
    assert_string_equal(parent_phase(answer), "Succeeded");
    assert_null(message(answer));
    json_decref(answer);

    /* an observed child stays even when its target no longer looks
     * finished: leaving it out would make Metacontroller delete it */
    json_object_set_new(pj, "status", json_pack("{s:s}", "phase", "Running"));
    json_object_set_new(export, "status", json_pack("{s:i}", "active", 1));
    json_object_del(json_object_get(children, "Job.batch/v1"), "pp-ocr-convert");
    answer = sync_ok(request(training(""), json_deep_copy(children), 0));
    assert_non_null(child(answer, "Job", "pp-ocr-export"));
    assert_null(child(answer, "Job", "pp-ocr-convert"));
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Running");
    assert_string_equal(phase(answer, "Job", "pp-ocr-convert"), "Waiting");
    json_decref(answer);
    json_decref(children);
}

static void test_failed_paddlejob_stops_the_chain(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Failed\"}");
    answer = sync_ok(request(training(""), children, 0));
    assert_int_equal(nchildren(answer), 1);
    assert_null(child(answer, "Job", "pp-ocr-export"));
    assert_string_equal(phase(answer, "PaddleJob", "pp-ocr"), "Failed");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Skipped");
    assert_string_equal(phase(answer, "Job", "pp-ocr-convert"), "Skipped");
    assert_string_equal(parent_phase(answer), "Failed");
    assert_non_null(strstr(message(answer), "PaddleJob/pp-ocr failed"));
    assert_false(resyncs(answer));
    json_decref(answer);
}

static void test_failed_export_stops_the_chain(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    observe(children, "batch/v1", "Job", "pp-ocr-export",
            "{\"conditions\": [{\"type\": \"Failed\", \"status\": \"True\"}]}");
    answer = sync_ok(request(training(""), children, 0));
    assert_int_equal(nchildren(answer), 2);
    assert_null(child(answer, "Job", "pp-ocr-convert"));
    assert_string_equal(phase(answer, "Job", "pp-ocr-convert"), "Skipped");
    assert_string_equal(parent_phase(answer), "Failed");
    assert_non_null(strstr(message(answer), "Job/pp-ocr-export failed"));
    json_decref(answer);
}

static void test_without_inference_the_paddlejob_ends_it(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    answer = sync_ok(request(training("\"saveInference\": false"), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 1);
    assert_false(resyncs(answer));
    json_decref(answer);
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    answer = sync_ok(request(training("\"saveInference\": false"), children, 0));
    assert_string_equal(parent_phase(answer), "Succeeded");
    json_decref(answer);
}

static void test_export_without_convert(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    observe(children, "batch/v1", "Job", "pp-ocr-export",
            "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}");
    answer = sync_ok(request(training("\"needConvert\": false"), children, 0));
    assert_int_equal(nchildren(answer), 2);
    assert_string_equal(parent_phase(answer), "Succeeded");
    json_decref(answer);
}

static void test_visualdl_is_not_ordered(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    answer = sync_ok(request(training("\"useVisualDL\": true"), json_deep_copy(children), 0));
    assert_non_null(child(answer, "PaddleJob", "pp-ocr"));
    assert_non_null(child(answer, "Deployment", "pp-ocr-visualdl"));
    assert_non_null(child(answer, "Service", "pp-ocr-visualdl"));
    assert_null(child(answer, "Job", "pp-ocr-export"));
    json_decref(answer);

    observe(children, "apps/v1", "Deployment", "pp-ocr-visualdl", "{\"availableReplicas\": 0}");
    observe(children, "v1", "Service", "pp-ocr-visualdl", NULL);
    answer = sync_ok(request(training("\"useVisualDL\": true"), json_deep_copy(children), 0));
    assert_string_equal(phase(answer, "Deployment", "pp-ocr-visualdl"), "Pending");
    assert_string_equal(phase(answer, "Service", "pp-ocr-visualdl"), "Ready");
    json_decref(answer);

    observe(children, "apps/v1", "Deployment", "pp-ocr-visualdl", "{\"availableReplicas\": 1}");
    answer = sync_ok(request(training("\"useVisualDL\": true"), children, 0));
    assert_string_equal(phase(answer, "Deployment", "pp-ocr-visualdl"), "Ready");
    /* VisualDL up while the PaddleJob is not observed yet: work started */
    assert_string_equal(parent_phase(answer), "Running");
    json_decref(answer);
}

/* ---------------------------------------------------------------- actions */

static void test_apply_returns_rendered_children(void **state)
{
    json_t *all = rendered(training("")), *children = json_object(), *answer;

    (void)state;
    assert_int_equal(json_array_size(all), 3);
    /* an observed child comes back as rendered (updated), without the
     * observed-only fields; an owned child not rendered any more is pruned */
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    observe(children, "batch/v1", "Job", "pp-ocr-export",
            "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}");
    observe(children, "apps/v1", "Deployment", "pp-ocr-visualdl", "{\"availableReplicas\": 1}");
    answer = sync_ok(request(training("\"action\": \"apply\""), children, 0));
    assert_true(json_equal(json_object_get(answer, "children"), all));
    assert_null(child(answer, "Deployment", "pp-ocr-visualdl"));
    json_decref(answer);
    json_decref(all);
}

static void test_rendered_children_are_complete(void **state)
{
    json_t *all = rendered(training("\"useVisualDL\": true")), *c, *md, *labels;
    size_t i;

    (void)state;
    assert_true(json_array_size(all) >= 5);
    json_array_foreach(all, i, c) {
        md = json_object_get(c, "metadata");
        labels = json_object_get(md, "labels");
        assert_non_null(json_string_value(json_object_get(c, "apiVersion")));
        assert_non_null(json_string_value(json_object_get(c, "kind")));
        assert_non_null(json_string_value(json_object_get(md, "name")));
        assert_string_equal(json_string_value(json_object_get(md, "namespace")), "kubeflow");
        assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")),
                            "paddlex-webhook");
        assert_string_equal(json_string_value(json_object_get(labels, "paddlex.paddlepaddle.org/training")),
                            "pp-ocr");
        assert_null(json_object_get(md, "ownerReferences"));   /* Metacontroller adds them */
        assert_null(json_object_get(c, "status"));
    }
    json_decref(all);
}

static void test_create_keeps_existing_children_as_observed(void **state)
{
    json_t *children = json_object(), *answer, *pj, *old;
    const json_t *got, *md;

    (void)state;
    pj = observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    /* an owned child the spec no longer renders: create never deletes */
    old = observe(children, "apps/v1", "Deployment", "pp-ocr-visualdl", "{\"availableReplicas\": 1}");
    (void)old;
    answer = sync_ok(request(training("\"action\": \"create\""), json_deep_copy(children), 0));
    got = child(answer, "PaddleJob", "pp-ocr");
    assert_non_null(got);
    /* exactly as observed (its spec is not the rendered one) ... */
    assert_string_equal(json_string_value(json_object_get(json_object_get(got, "spec"), "observed")), "yes");
    assert_null(json_object_get(json_object_get(got, "spec"), "worker"));
    /* ... minus what the apiserver and Metacontroller write */
    md = json_object_get(got, "metadata");
    assert_null(json_object_get(got, "status"));
    assert_null(json_object_get(md, "uid"));
    assert_null(json_object_get(md, "resourceVersion"));
    assert_null(json_object_get(md, "generation"));
    assert_null(json_object_get(md, "managedFields"));
    assert_null(json_object_get(json_object_get(md, "annotations"), "metacontroller.k8s.io/last-applied-configuration"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(md, "annotations"), "note")), "kept");
    /* missing children are rendered, subject to ordering */
    assert_non_null(child(answer, "Job", "pp-ocr-export"));
    assert_null(child(answer, "Job", "pp-ocr-convert"));
    assert_non_null(json_object_get(json_object_get(child(answer, "Job", "pp-ocr-export"), "spec"), "template"));
    assert_non_null(child(answer, "Deployment", "pp-ocr-visualdl"));
    assert_string_equal(phase(answer, "Deployment", "pp-ocr-visualdl"), "Ready");
    assert_true(resyncs(answer));
    json_decref(answer);

    /* the observed object is not modified by the answer */
    assert_non_null(json_object_get(pj, "status"));
    json_decref(children);
}

/* With Metacontroller's last-applied annotation, action create returns
 * exactly that configuration: its 3-way merge is then a no-op, where the
 * observed object would change the annotation (and, under updateStrategy
 * Recreate, delete and recreate the child). */
static void test_create_returns_the_last_applied_configuration(void **state)
{
    static const char *const applied =
        "{\"apiVersion\": \"" PADDLEJOB "\", \"kind\": \"PaddleJob\", "
        "\"metadata\": {\"name\": \"pp-ocr\", \"namespace\": \"kubeflow\"}, "
        "\"spec\": {\"applied\": \"before\"}}";
    json_t *children = json_object(), *answer, *pj, *want = json_loads(applied, 0, NULL);
    json_t *ann;

    (void)state;
    pj = observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Running\"}");
    ann = json_object_get(json_object_get(pj, "metadata"), "annotations");
    json_object_set_new(ann, "metacontroller.k8s.io/last-applied-configuration", json_string(applied));
    answer = sync_ok(request(training("\"action\": \"create\""), json_deep_copy(children), 0));
    assert_true(json_equal(want, (json_t *)child(answer, "PaddleJob", "pp-ocr")));
    json_decref(answer);

    /* an annotation about another object (or not JSON) is not trusted */
    json_object_set_new(ann, "metacontroller.k8s.io/last-applied-configuration",
                        json_string("{\"apiVersion\": \"" PADDLEJOB "\", \"kind\": \"PaddleJob\", "
                                    "\"metadata\": {\"name\": \"other\"}}"));
    answer = sync_ok(request(training("\"action\": \"create\""), json_deep_copy(children), 0));
    assert_string_equal(json_string_value(json_object_get(json_object_get(child(answer, "PaddleJob", "pp-ocr"), "spec"),
                                                          "observed")), "yes");
    json_decref(answer);
    json_object_set_new(ann, "metacontroller.k8s.io/last-applied-configuration", json_string("{not json"));
    answer = sync_ok(request(training("\"action\": \"create\""), children, 0));
    assert_string_equal(json_string_value(json_object_get(json_object_get(child(answer, "PaddleJob", "pp-ocr"), "spec"),
                                                          "observed")), "yes");
    json_decref(answer);
    json_decref(want);
}

static void test_patch_updates_existing_children_only(void **state)
{
    json_t *all = rendered(training("")), *children = json_object(), *answer;
    size_t i;
    const json_t *c;

    (void)state;
    /* nothing exists: nothing is created */
    answer = sync_ok(request(training("\"action\": \"patch\""), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 0);
    assert_string_equal(phase(answer, "PaddleJob", "pp-ocr"), "Absent");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Absent");
    assert_non_null(strstr(message(answer), "spec.action is patch"));
    assert_false(resyncs(answer));
    json_decref(answer);

    /* the PaddleJob exists: it comes back rendered; the Jobs stay absent
     * even though the PaddleJob finished; an unrendered child is kept */
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Completed\"}");
    observe(children, "apps/v1", "Deployment", "pp-ocr-visualdl", NULL);
    answer = sync_ok(request(training("\"action\": \"patch\""), children, 0));
    assert_int_equal(nchildren(answer), 2);
    json_array_foreach(all, i, c)
        if (has_name(c, "PaddleJob", "pp-ocr"))
            assert_true(json_equal((json_t *)c, (json_t *)child(answer, "PaddleJob", "pp-ocr")));
    assert_non_null(child(answer, "Deployment", "pp-ocr-visualdl"));
    assert_null(child(answer, "Job", "pp-ocr-export"));
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Absent");
    assert_string_equal(parent_phase(answer), "Running");
    json_decref(answer);
    json_decref(all);
}

static void test_delete_returns_no_children(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Running\"}");
    answer = sync_ok(request(training("\"action\": \"delete\""), children, 0));
    assert_int_equal(nchildren(answer), 0);
    assert_string_equal(phase(answer, "PaddleJob", "pp-ocr"), "Running");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Absent");
    assert_non_null(strstr(message(answer), "spec.action is delete"));
    assert_null(json_object_get(answer, "finalized"));
    json_decref(answer);
}

static void test_finalizing_returns_no_children(void **state)
{
    json_t *children = json_object(), *answer;

    (void)state;
    observe(children, PADDLEJOB, "PaddleJob", "pp-ocr", "{\"phase\": \"Running\"}");
    answer = sync_ok(request(training(""), children, 1));
    assert_int_equal(nchildren(answer), 0);
    assert_false(json_is_true(json_object_get(answer, "finalized")));
    assert_true(json_is_false(json_object_get(answer, "finalized")));
    json_decref(answer);

    /* once nothing is left, finalizing is done */
    answer = sync_ok(request(training(""), json_pack("{s:{}, s:{}}", "PaddleJob." PADDLEJOB, "Job.batch/v1"), 1));
    assert_int_equal(nchildren(answer), 0);
    assert_true(json_is_true(json_object_get(answer, "finalized")));
    json_decref(answer);

    /* a finalize request for an invalid parent also ends */
    answer = sync_ok(request(parent("Training", "pp-ocr", "\"workerReplicas\": 1"), NULL, 1));
    assert_string_equal(parent_phase(answer), "Failed");
    assert_true(json_is_true(json_object_get(answer, "finalized")));
    json_decref(answer);
}

/* ----------------------------------------------------------------- policy */

/* The policy's defaults shape the children, but its limits and allow-lists
 * were judged at admission (which knew the requester and its exemptions):
 * the sync hook never fails a parent, nor deletes its children, for them. */
/* A parent nobody sealed (made where the webhook does not run) is judged
 * afresh under the policy in force: its defaults, and its limits too. */
static void test_unsealed_parent_judged_under_policy(void **state)
{
    json_t *doc = json_loads("{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", "
                             "\"kind\": \"WebhookPolicy\", "
                             "\"defaults\": {\"visualdlImage\": \"registry.example.com/visualdl:2.5.3\", "
                             "\"downloaderImage\": \"registry.example.com/curl:8\", "
                             "\"uploaderImage\": \"registry.example.com/mc:1\"}, "
                             "\"limits\": {\"maxGpuPerNode\": 1}, "
                             /* its defaults inside its own list, or it is refused at load */
                             "\"allow\": {\"imageRegistries\": [\"registry.example.com/\", \"registry.baidubce.com/\"]}}",
                             0, NULL);
    char err[256] = "";
    struct policy *p = policy_parse(doc, "test", err, sizeof(err));
    json_t *answer;
    const json_t *c, *image;

    (void)state;
    if (!p)
        fail_msg("policy: %s", err);
    answer = sync_under(request(training("\"gpuPerNode\": 4, \"useVisualDL\": true"), NULL, 0), p);
    assert_string_equal(parent_phase(answer), "Failed");
    assert_int_equal(nchildren(answer), 0);
    assert_non_null(strstr(message(answer), "maxGpuPerNode=1"));
    json_decref(answer);
    answer = sync_under(request(training("\"gpuPerNode\": 1, \"useVisualDL\": true"), NULL, 0), p);
    assert_string_equal(parent_phase(answer), "Pending");
    assert_non_null(child(answer, "PaddleJob", "pp-ocr"));
    c = child(answer, "Deployment", "pp-ocr-visualdl");
    assert_non_null(c);
    image = json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(
                                c, "spec"), "template"), "spec"), "containers"), 0), "image");
    assert_string_equal(json_string_value(image), "registry.example.com/visualdl:2.5.3");
    json_decref(answer);
    policy_unref(p);
    json_decref(doc);
}

/* ------------------------------------------------------ sealed parents */

/* The image of the answer's PaddleJob pp-ocr, or NULL. */
static const char *paddlejob_image(const json_t *answer)
{
    const json_t *job = child(answer, "PaddleJob", "pp-ocr");
    const json_t *spec = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
                                             job, "spec"), "worker"), "template"), "spec"), "containers");

    return json_string_value(json_object_get(json_array_get(spec, 0), "image"));
}

/* A Training as /mutate leaves it under sealer: its children and their
 * seal (new). */
static json_t *sealed_training(const struct sealer *sealer)
{
    struct context ctx = { .namespace = "kubeflow", .sealer = sealer };
    struct kinds_mutation m;
    json_t *par = training("\"saveInference\": false");

    policy_apply(NULL, &ctx);
    kinds_mutate(kinds_of_object(par), par, &ctx, KINDS_INTO_OBJECT, &m);
    assert_int_equal(m.errs.len, 0);
    kinds_mutation_release(&m);
    assert_non_null(json_object_get(json_object_get(par, "spec"), "seal"));
    return par;
}

/* The parent's spec.generated is read as text, and its seal verified over
 * those bytes (webhook/sync.c), as Go's encoding/json writes them
 * (Metacontroller's request: sorted keys, no white space, HTML-safe
 * escapes); white space falls back to the tree, which the seal still
 * covers; a changed child is not admitted and the spec is rendered
 * afresh. */
static void test_sealed_parent_verified_as_sent(void **state)
{
    struct seal_keys keys = { 0 };
    struct sealer sealer = { &keys, seal_sign, noting_verify };
    json_t *req;
    char *text, *body, *edited;
    static const struct {
        const char *what, *with;        /* an edit of spec.generated's text, or none */
        int over_text;
        const char *image;              /* what the answer's PaddleJob runs */
    } edits[] = {
        { NULL, NULL, 1, "paddleocr:2.1.3-gpu" },
        { "-gpu", "\\u002dgpu", 1, "paddleocr:2.1.3-gpu" },  /* Go's escape of a byte written raw */
        { "[{", "[ {", 0, "paddleocr:2.1.3-gpu" },              /* white space: verified over the tree */
        { "2.1.3-gpu", "6.6.6-gpu", 0, "paddleocr:2.1.3-gpu" }, /* not sealed: rendered afresh */
    };

    (void)state;
    seal_fixture_keys(&keys);
    req = request(sealed_training(&sealer), NULL, 0);
    text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(req);

    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        size_t outlen;
        json_t *answer;

        edited = edits[i].what ? replaced(text, "\"generated\"", edits[i].what, edits[i].with) : strdup(text);
        over_text = 0;
        assert_int_equal(sync_handle(edited, strlen(edited), NULL, &sealer, &body, &outlen), 200);
        answer = json_loads(body, 0, NULL);
        assert_int_equal(over_text, edits[i].over_text);
        assert_non_null(paddlejob_image(answer));
        if (!strstr(paddlejob_image(answer), edits[i].image))
            fail_msg("edit %zu: the PaddleJob runs %s", i, paddlejob_image(answer));
        json_decref(answer);
        free(body);
        free(edited);
    }
    free(text);
    seal_keys_release(&keys);
}

/* When the answer's children are the parent's sealed spec.generated,
 * every one and in order (all observed: the steady state), they go back
 * as the bytes Metacontroller sent (Go's escapes and all: "\u002d" here
 * stands for a '-' written anew); the answer means what the one written
 * from the tree means. With one child left out (action delete removes
 * them all) the answer is written anew. */
static void test_children_as_sent(void **state)
{
    struct seal_keys keys = { 0 };
    struct sealer sealer = { &keys, seal_sign, seal_verify };
    json_t *par, *children = json_object(), *req, *c;
    char *text, *escaped, *plain_body, *escaped_body, *deleted;
    size_t i, outlen;

    (void)state;
    seal_fixture_keys(&keys);
    par = sealed_training(&sealer);
    json_array_foreach(json_object_get(json_object_get(par, "spec"), "generated"), i, c)
        observe(children, json_string_value(json_object_get(c, "apiVersion")),
                json_string_value(json_object_get(c, "kind")),
                json_string_value(json_object_get(json_object_get(c, "metadata"), "name")),
                "{\"phase\": \"Running\"}");
    req = request(par, children, 0);
    text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(req);
    escaped = replaced(text, "\"generated\"", "-gpu", "\\u002dgpu");

    assert_int_equal(sync_handle(text, strlen(text), NULL, &sealer, &plain_body, &outlen), 200);
    assert_int_equal(sync_handle(escaped, strlen(escaped), NULL, &sealer, &escaped_body, &outlen), 200);
    assert_null(strstr(plain_body, "\\u002d"));
    assert_non_null(strstr(escaped_body, "\\u002dgpu"));       /* the bytes as sent */
    assert_true(same_answer(plain_body, escaped_body));

    deleted = replaced(escaped, "\"parent\"", "\"action\":\"apply\"", "\"action\":\"delete\"");
    free(escaped_body);
    assert_int_equal(sync_handle(deleted, strlen(deleted), NULL, &sealer, &escaped_body, &outlen), 200);
    assert_null(strstr(escaped_body, "\\u002d"));
    assert_string_equal(escaped_body + outlen - strlen(",\"children\":[]}"), ",\"children\":[]}");
    free(deleted);
    free(escaped_body);
    free(plain_body);
    free(escaped);
    free(text);
    seal_keys_release(&keys);
}

/* ------------------------------------------------------ status per kind */

struct phase_case {
    const char *status;     /* the observed child's status */
    const char *want;       /* its phase in status.children */
    const char *parent;     /* the parent's phase */
};

/* Observes a single child in each case and checks both phases, under
 * policy p (NULL: the built-in settings). */
static void run_cases_under(const struct policy *p, json_t *(*make)(void), const char *api_version,
                            const char *kind, const char *name, const struct phase_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *children = json_object(), *answer;

        observe(children, api_version, kind, name, cases[i].status);
        answer = sync_under(request(make(), children, 0), p);
        if (strcmp(phase(answer, kind, name), cases[i].want) || strcmp(parent_phase(answer), cases[i].parent))
            fail_msg("%s status %s: phase %s (want %s), parent %s (want %s)", kind,
                     cases[i].status ? cases[i].status : "none", phase(answer, kind, name), cases[i].want,
                     parent_phase(answer), cases[i].parent);
        json_decref(answer);
    }
}

static void run_cases(json_t *(*make)(void), const char *api_version, const char *kind,
                      const char *name, const struct phase_case *cases, size_t n)
{
    run_cases_under(NULL, make, api_version, kind, name, cases, n);
}

/* A policy of defaults.trainingOperator kubeflow (release: policy_unref). */
static struct policy *kubeflow_policy(void)
{
    json_t *doc = json_loads("{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", "
                             "\"kind\": \"WebhookPolicy\", \"defaults\": {\"trainingOperator\": \"kubeflow\"}}",
                             0, NULL);
    char err[256] = "";
    struct policy *p = policy_parse(doc, "test", err, sizeof(err));

    json_decref(doc);
    if (!p)
        fail_msg("policy: %s", err);
    return p;
}

static json_t *lone_training(void)
{
    return training("\"saveInference\": false");
}

static json_t *serving(void)
{
    return parent("Serving", "ocr-serving",
                  "\"image\": \"registry.baidubce.com/paddleflow-public/serving:v0.6.2\"");
}

static json_t *dataset(void)
{
    return parent("Dataset", "icdar2015",
                  "\"sourceUri\": \"bos://paddleflow-public.hkg.bcebos.com/icdar2015\", "
                  "\"sourceSecret\": \"data-center\"");
}

static json_t *modelhub(void)
{
    return parent("ModelHub", "pp-ocr-hub", "\"pvcName\": \"pipeline-pvc\"");
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_paddlejob_phases(void **state)
{
    static const struct phase_case cases[] = {
        { NULL, "Pending", "Pending" },
        { "{}", "Pending", "Pending" },
        { "{\"phase\": \"Pending\"}", "Pending", "Pending" },
        { "{\"phase\": \"Starting\"}", "Pending", "Pending" },
        { "{\"phase\": \"Unknown\"}", "Pending", "Pending" },
        { "{\"phase\": 7}", "Pending", "Pending" },
        { "{\"phase\": \"Running\"}", "Running", "Running" },
        { "{\"phase\": \"Restarting\"}", "Running", "Running" },
        { "{\"phase\": \"Completing\"}", "Running", "Running" },
        { "{\"phase\": \"Succeeded\"}", "Succeeded", "Succeeded" },
        { "{\"phase\": \"Succeed\"}", "Succeeded", "Succeeded" },
        { "{\"phase\": \"Completed\"}", "Succeeded", "Succeeded" },
        { "{\"phase\": \"Failed\"}", "Failed", "Failed" },
        { "{\"phase\": \"Aborted\"}", "Failed", "Failed" },
        { "{\"phase\": \"Terminated\"}", "Failed", "Failed" },
    };

    (void)state;
    run_cases(lone_training, PADDLEJOB, "PaddleJob", "pp-ocr", cases, N(cases));
}

static void test_job_phases(void **state)
{
    static const struct phase_case cases[] = {
        { NULL, "Pending", "Pending" },
        { "{\"active\": 0}", "Pending", "Pending" },
        { "{\"active\": 1}", "Running", "Running" },
        { "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"False\"}], \"active\": 1}", "Running", "Running" },
        { "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}", "Succeeded", "Succeeded" },
        { "{\"conditions\": [{\"type\": \"Failed\", \"status\": \"True\", \"reason\": \"BackoffLimitExceeded\"}]}",
          "Failed", "Failed" },
        { "{\"conditions\": \"broken\"}", "Pending", "Pending" },
    };

    (void)state;
    run_cases(modelhub, "batch/v1", "Job", "pp-ocr-hub-upload", cases, N(cases));
}

static void test_inferenceservice_phases(void **state)
{
    static const struct phase_case cases[] = {
        { NULL, "Pending", "Pending" },
        { "{\"conditions\": [{\"type\": \"Ready\", \"status\": \"False\"}]}", "Pending", "Pending" },
        { "{\"conditions\": [{\"type\": \"Ready\", \"status\": \"Unknown\"}]}", "Pending", "Pending" },
        { "{\"modelStatus\": {\"transitionStatus\": \"BlockedByFailedLoad\"}}", "Failed", "Failed" },
        { "{\"modelStatus\": {\"transitionStatus\": \"InProgress\"}}", "Pending", "Pending" },
        { "{\"conditions\": [{\"type\": \"PredictorReady\", \"status\": \"True\"}, "
          "{\"type\": \"Ready\", \"status\": \"True\"}]}", "Ready", "Ready" },
    };

    (void)state;
    run_cases(serving, ISVC, "InferenceService", "ocr-serving", cases, N(cases));
}

static void test_inferenceservice_url(void **state)
{
    json_t *children = json_object(), *answer;
    const char *url = "http://ocr-serving.kubeflow.example.com";

    (void)state;
    answer = sync_ok(request(serving(), json_deep_copy(children), 0));
    assert_int_equal(nchildren(answer), 1);
    assert_non_null(child(answer, "InferenceService", "ocr-serving"));
    assert_null(json_object_get(status_of(answer), "url"));
    json_decref(answer);

    observe(children, ISVC, "InferenceService", "ocr-serving",
            "{\"url\": \"http://ocr-serving.kubeflow.example.com\", "
            "\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}");
    answer = sync_ok(request(serving(), children, 0));
    assert_string_equal(parent_phase(answer), "Ready");
    assert_string_equal(json_string_value(json_object_get(entry(answer, "InferenceService", "ocr-serving"), "url")), url);
    assert_string_equal(json_string_value(json_object_get(status_of(answer), "url")), url);
    json_decref(answer);
}

/* The Training Operator's conditions (v1.9.0 pkg/apis/kubeflow.org/v1
 * common_types.go JobConditionType); a finished job keeps its Running
 * condition with status False. */
static void test_kubeflow_paddlejob_phases(void **state)
{
    static const struct phase_case cases[] = {
        { NULL, "Pending", "Pending" },
        { "{}", "Pending", "Pending" },
        { "{\"conditions\": [{\"type\": \"Created\", \"status\": \"True\"}]}", "Pending", "Pending" },
        { "{\"conditions\": [{\"type\": \"Created\", \"status\": \"True\"}, "
          "{\"type\": \"Running\", \"status\": \"True\"}]}", "Running", "Running" },
        { "{\"conditions\": [{\"type\": \"Restarting\", \"status\": \"True\"}]}", "Running", "Running" },
        { "{\"conditions\": [{\"type\": \"Running\", \"status\": \"False\"}, "
          "{\"type\": \"Succeeded\", \"status\": \"True\"}]}", "Succeeded", "Succeeded" },
        { "{\"conditions\": [{\"type\": \"Running\", \"status\": \"False\"}, "
          "{\"type\": \"Failed\", \"status\": \"True\"}]}", "Failed", "Failed" },
        { "{\"phase\": \"Succeeded\"}", "Pending", "Pending" },   /* not paddle-operator's phase */
    };
    struct policy *p = kubeflow_policy();
    json_t *answer;

    (void)state;
    run_cases_under(p, lone_training, "kubeflow.org/v1", "PaddleJob", "pp-ocr", cases, N(cases));
    /* what it renders is the Training Operator's kind */
    answer = sync_under(request(lone_training(), NULL, 0), p);
    assert_string_equal(json_string_value(json_object_get(child(answer, "PaddleJob", "pp-ocr"), "apiVersion")),
                        "kubeflow.org/v1");
    json_decref(answer);
    policy_unref(p);
}

/* Under kubeflow the export Job waits for the Training Operator's
 * Succeeded condition, and a Failed one stops the chain. */
static void test_kubeflow_training_chain(void **state)
{
    struct policy *p = kubeflow_policy();
    json_t *children = json_object(), *answer, *pj;

    (void)state;
    pj = observe(children, "kubeflow.org/v1", "PaddleJob", "pp-ocr",
                 "{\"conditions\": [{\"type\": \"Running\", \"status\": \"True\"}]}");
    answer = sync_under(request(training(""), json_deep_copy(children), 0), p);
    assert_int_equal(nchildren(answer), 1);
    assert_string_equal(phase(answer, "PaddleJob", "pp-ocr"), "Running");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Waiting");
    json_decref(answer);

    json_object_set_new(pj, "status", json_pack("{s:[{s:s, s:s}, {s:s, s:s}]}", "conditions", "type", "Running",
                                                "status", "False", "type", "Succeeded", "status", "True"));
    answer = sync_under(request(training(""), json_deep_copy(children), 0), p);
    assert_int_equal(nchildren(answer), 2);
    assert_non_null(child(answer, "Job", "pp-ocr-export"));
    assert_string_equal(phase(answer, "Job", "pp-ocr-convert"), "Waiting");
    json_decref(answer);

    json_object_set_new(pj, "status", json_pack("{s:[{s:s, s:s}]}", "conditions", "type", "Failed", "status", "True"));
    answer = sync_under(request(training(""), json_deep_copy(children), 0), p);
    assert_int_equal(nchildren(answer), 1);
    assert_string_equal(parent_phase(answer), "Failed");
    assert_string_equal(phase(answer, "Job", "pp-ocr-export"), "Skipped");
    json_decref(answer);
    json_decref(children);
    policy_unref(p);
}

/* A Dataset under kubeflow: a claim (Bound is Ready) and its sync Job. */
static void test_kubeflow_dataset_children(void **state)
{
    static const struct phase_case claims[] = {
        { NULL, "Pending", "Pending" },
        { "{\"phase\": \"Pending\"}", "Pending", "Pending" },
        { "{\"phase\": \"Bound\"}", "Ready", "Running" },   /* the sync Job is still to finish */
        { "{\"phase\": \"Lost\"}", "Failed", "Failed" },
    };
    struct policy *p = kubeflow_policy();
    json_t *answer, *children = json_object();

    (void)state;
    run_cases_under(p, dataset, "v1", "PersistentVolumeClaim", "icdar2015", claims, N(claims));
    observe(children, "v1", "PersistentVolumeClaim", "icdar2015", "{\"phase\": \"Bound\"}");
    observe(children, "batch/v1", "Job", "icdar2015-sync", "{\"conditions\": [{\"type\": \"Complete\", \"status\": \"True\"}]}");
    answer = sync_under(request(dataset(), children, 0), p);
    assert_string_equal(phase(answer, "Job", "icdar2015-sync"), "Succeeded");
    assert_string_equal(parent_phase(answer), "Succeeded");
    json_decref(answer);
    policy_unref(p);
}

/* Every SampleSetPhase of paddle-operator's sampleset branch
 * (controllers/extensions/common/constants.go); SyncFailed stays until
 * the spec changes (SampleSetController.reconcileSyncFailed). */
static void test_sampleset_phases(void **state)
{
    static const struct phase_case cases[] = {
        { NULL, "Pending", "Pending" },
        { "{\"phase\": \"\"}", "Pending", "Pending" },
        { "{\"phase\": \"Bound\"}", "Running", "Running" },
        { "{\"phase\": \"Mount\"}", "Running", "Running" },
        { "{\"phase\": \"Syncing\"}", "Running", "Running" },
        { "{\"phase\": \"SyncFailed\"}", "Failed", "Failed" },
        { "{\"phase\": \"PartialReady\"}", "Running", "Running" },
        { "{\"phase\": \"Ready\"}", "Ready", "Ready" },
        { "{\"phase\": \"Elsewhere\"}", "Pending", "Pending" },
    };

    (void)state;
    run_cases(dataset, SAMPLESET, "SampleSet", "icdar2015", cases, N(cases));
}

static void test_modelhub_and_dataset_children(void **state)
{
    json_t *answer;

    (void)state;
    answer = sync_ok(request(modelhub(), NULL, 0));
    assert_int_equal(nchildren(answer), 1);
    assert_non_null(child(answer, "Job", "pp-ocr-hub-upload"));
    assert_string_equal(parent_phase(answer), "Pending");
    json_decref(answer);
    answer = sync_ok(request(dataset(), NULL, 0));
    assert_int_equal(nchildren(answer), 1);
    assert_non_null(child(answer, "SampleSet", "icdar2015"));
    json_decref(answer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_unread_members),
        cmocka_unit_test(test_null_members_are_empty),
        cmocka_unit_test(test_invalid_parent),
        cmocka_unit_test(test_training_chain),
        cmocka_unit_test(test_failed_paddlejob_stops_the_chain),
        cmocka_unit_test(test_failed_export_stops_the_chain),
        cmocka_unit_test(test_without_inference_the_paddlejob_ends_it),
        cmocka_unit_test(test_export_without_convert),
        cmocka_unit_test(test_visualdl_is_not_ordered),
        cmocka_unit_test(test_apply_returns_rendered_children),
        cmocka_unit_test(test_rendered_children_are_complete),
        cmocka_unit_test(test_create_keeps_existing_children_as_observed),
        cmocka_unit_test(test_create_returns_the_last_applied_configuration),
        cmocka_unit_test(test_patch_updates_existing_children_only),
        cmocka_unit_test(test_delete_returns_no_children),
        cmocka_unit_test(test_finalizing_returns_no_children),
        cmocka_unit_test(test_unsealed_parent_judged_under_policy),
        cmocka_unit_test(test_sealed_parent_verified_as_sent),
        cmocka_unit_test(test_children_as_sent),
        cmocka_unit_test(test_paddlejob_phases),
        cmocka_unit_test(test_job_phases),
        cmocka_unit_test(test_inferenceservice_phases),
        cmocka_unit_test(test_inferenceservice_url),
        cmocka_unit_test(test_sampleset_phases),
        cmocka_unit_test(test_kubeflow_paddlejob_phases),
        cmocka_unit_test(test_kubeflow_training_chain),
        cmocka_unit_test(test_kubeflow_dataset_children),
        cmocka_unit_test(test_modelhub_and_dataset_children),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
