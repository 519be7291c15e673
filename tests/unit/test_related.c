/*
 * Unit tests of the order across kinds: the customize hook's
 * relatedResources (webhook/related.c) and the rule and gate the sync's
 * domain asks (mutators/order.c).
 *
 * The request and the related map are shaped as Metacontroller v4.11.22
 * sends them (metacontroller/metacontroller
 * pkg/controller/common/customize/api/v1/hooks.go: {controller, parent};
 * pkg/controller/composite/api/v1/hooks.go: related keyed
 * "<Kind>.<apiVersion>", then by name).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/order.h"
#include "webhook/related.h"

#define API "paddlex.paddlepaddle.org/v1alpha1"

/* An object of kind (new) with metadata.namespace ns (NULL: none) and the
 * spec given as a JSON object text. */
static json_t *object(const char *kind, const char *name, const char *ns, const char *spec)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:i}, s:o}", "apiVersion", API, "kind", kind, "metadata",
                          "name", name, "generation", 2, "spec", json_loads(spec, 0, NULL));

    if (ns)
        json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(ns));
    return o;
}

/* Gives o (borrowed) the condition type=status, for generation gen. */
static void condition(json_t *o, const char *type, const char *status, int gen)
{
    json_t *st = json_object_get(o, "status"), *conds;

    if (!st) {
        st = json_object();
        json_object_set_new(o, "status", st);
    }
    conds = json_object_get(st, "conditions");
    if (!conds) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    json_array_append_new(conds, json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "status", status,
                                           "observedGeneration", gen, "reason", "R", "message", "m",
                                           "lastTransitionTime", "2026-01-01T00:00:00Z"));
}

/* A related map holding o (stolen) as Metacontroller keys it. */
static void relate(json_t *related, json_t *o)
{
    char key[256];
    json_t *group;
    const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));

    snprintf(key, sizeof(key), "%s.%s", json_string_value(json_object_get(o, "kind")), API);
    group = json_object_get(related, key);
    if (!group) {
        group = json_object();
        json_object_set_new(related, key, group);
    }
    json_object_set_new(group, name, o);
}

/* json_equal(a, b), b stolen. */
static int equal_to(const json_t *a, json_t *b)
{
    int eq = json_equal((json_t *)a, b);

    json_decref(b);
    return eq;
}

static char *customize(const char *body, int *status)
{
    char *out = NULL;
    size_t len = 0;

    *status = related_customize(body, strlen(body), &out, &len);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

/* The customize answer for parent (stolen), parsed (new). */
static json_t *customize_ok(json_t *parent)
{
    json_t *req = json_pack("{s:{s:s}, s:o}", "controller", "kind", "CompositeController", "parent", parent);
    char *text = json_dumps(req, JSON_COMPACT), *out;
    int status;
    json_t *ans;

    out = customize(text, &status);
    if (status != 200)
        fail_msg("customize answered %d: %s", status, out);
    ans = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(ans);
    assert_true(json_is_array(json_object_get(ans, "relatedResources")));
    free(out);
    free(text);
    json_decref(req);
    return ans;
}

static void test_customize_rules(void **state)
{
    json_t *ans, *rule;

    (void)state;
    ans = customize_ok(object("Training", "ppocr-det", "team-a", "{\"dataset\": \"icdar2015\"}"));
    rule = json_array_get(json_object_get(ans, "relatedResources"), 0);
    assert_int_equal(json_array_size(json_object_get(ans, "relatedResources")), 1);
    assert_true(equal_to(rule, json_pack("{s:s, s:s, s:s, s:[s]}", "apiVersion", API, "resource", "datasets",
                                         "namespace", "team-a", "names", "icdar2015")));
    json_decref(ans);

    /* ModelHub: the Training named by modelName, else by its own name */
    ans = customize_ok(object("ModelHub", "hub", "team-a", "{\"modelName\": \"ppocr-det\"}"));
    rule = json_array_get(json_object_get(ans, "relatedResources"), 0);
    assert_string_equal(json_string_value(json_object_get(rule, "resource")), "trainings");
    assert_string_equal(json_string_value(json_array_get(json_object_get(rule, "names"), 0)), "ppocr-det");
    json_decref(ans);
    ans = customize_ok(object("ModelHub", "hub", "team-a", "{}"));
    rule = json_array_get(json_object_get(ans, "relatedResources"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(rule, "names"), 0)), "hub");
    json_decref(ans);

    /* Serving: every ModelHub of its namespace, no names */
    ans = customize_ok(object("Serving", "s", "team-a", "{\"modelName\": \"m\"}"));
    rule = json_array_get(json_object_get(ans, "relatedResources"), 0);
    assert_true(equal_to(rule, json_pack("{s:s, s:s, s:s}", "apiVersion", API, "resource", "modelhubs",
                                         "namespace", "team-a")));
    json_decref(ans);

    /* Dataset relates to nothing; a Training without a dataset names nothing */
    ans = customize_ok(object("Dataset", "d", "team-a", "{}"));
    assert_int_equal(json_array_size(json_object_get(ans, "relatedResources")), 0);
    json_decref(ans);
    ans = customize_ok(object("Training", "t", "team-a", "{}"));
    assert_int_equal(json_array_size(json_object_get(ans, "relatedResources")), 0);
    json_decref(ans);
}

static void expect_400(const char *body, const char *want)
{
    int status;
    char *out = customize(body, &status);

    if (status != 400 || !strstr(out, want))
        fail_msg("want 400 with \"%s\", got %d: %s", want, status, out);
    free(out);
}

static void test_customize_malformed(void **state)
{
    (void)state;
    expect_400("", "");
    expect_400("[1]", "not a JSON object");
    expect_400("{\"parent\": 1}", "parent");
    expect_400("{\"parent\": {}, \"parent\": {}}", "");
    expect_400(
        "{\"parent\": {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"namespace\": \"a\"}}}",
        "known kind");
    expect_400("{\"parent\": {\"apiVersion\": \"" API
               "\", \"kind\": \"Training\", \"metadata\": {\"name\": \"t\"}, "
               "\"spec\": {\"dataset\": \"d\"}}}",
               "namespace");
}

/* The gate of parent (stolen) against related (stolen). */
static struct order_gate gate_of(json_t *parent, json_t *related)
{
    struct order_gate g;
    const char *kind = json_string_value(json_object_get(parent, "kind"));

    order_gate(kind, parent, related, &g);
    json_decref(parent);
    json_decref(related);
    return g;
}

static json_t *training(void)
{
    return object("Training", "ppocr-det", "kubeflow", "{\"dataset\": \"icdar2015\", \"pvcName\": \"pvc\"}");
}

static void test_training_waits_for_its_dataset(void **state)
{
    struct order_gate g;
    json_t *rel, *ds;

    (void)state;
    /* absent: no waiting */
    g = gate_of(training(), json_object());
    assert_false(g.waits);
    g = gate_of(training(), NULL);
    assert_false(g.waits);

    /* present, no conditions yet: the PaddleJob waits */
    rel = json_object();
    relate(rel, object("Dataset", "icdar2015", "kubeflow", "{}"));
    g = gate_of(training(), rel);
    assert_true(g.waits);
    assert_string_equal(g.kind, "PaddleJob");
    assert_string_equal(g.name, "ppocr-det");
    assert_string_equal(g.target, "Dataset/icdar2015 to be Ready");
    assert_true(order_withholds(&g, "PaddleJob", "ppocr-det"));
    assert_false(order_withholds(&g, "Job", "ppocr-det-export"));
    assert_false(order_withholds(&g, "Deployment", "ppocr-det-visualdl"));

    /* Ready False, then Failed */
    rel = json_object();
    ds = object("Dataset", "icdar2015", "kubeflow", "{}");
    condition(ds, "Ready", "False", 2);
    condition(ds, "Failed", "True", 2);
    relate(rel, ds);
    g = gate_of(training(), rel);
    assert_true(g.waits);
    assert_string_equal(g.target, "Dataset/icdar2015 to be Ready (it failed)");

    /* Ready True: nothing waits */
    rel = json_object();
    ds = object("Dataset", "icdar2015", "kubeflow", "{}");
    condition(ds, "Ready", "True", 2);
    relate(rel, ds);
    g = gate_of(training(), rel);
    assert_false(g.waits);
    assert_false(order_withholds(&g, "PaddleJob", "ppocr-det"));

    /* Ready True for an older generation: not Ready for the current spec */
    rel = json_object();
    ds = object("Dataset", "icdar2015", "kubeflow", "{}");
    condition(ds, "Ready", "True", 1);
    relate(rel, ds);
    g = gate_of(training(), rel);
    assert_true(g.waits);

    /* another Dataset, or the same name in another namespace: not related */
    rel = json_object();
    relate(rel, object("Dataset", "other", "kubeflow", "{}"));
    relate(rel, object("Dataset", "icdar2015x", "kubeflow", "{}"));
    g = gate_of(training(), rel);
    assert_false(g.waits);
    rel = json_object();
    relate(rel, object("Dataset", "icdar2015", "elsewhere", "{}"));
    g = gate_of(training(), rel);
    assert_false(g.waits);
}

static void test_modelhub_waits_for_the_training_that_makes_its_model(void **state)
{
    struct order_gate g;
    json_t *rel, *t;
    const char *hub = "{\"modelName\": \"ppocr-det\", \"pvcName\": \"pvc\"}";

    (void)state;
    rel = json_object();
    relate(rel, training());
    g = gate_of(object("ModelHub", "hub", "kubeflow", hub), rel);
    assert_true(g.waits);
    assert_string_equal(g.kind, "Job");
    assert_string_equal(g.name, "hub-upload");
    assert_string_equal(g.target, "Training/ppocr-det to be Ready");

    rel = json_object();
    t = training();
    condition(t, "Ready", "True", 2);
    relate(rel, t);
    g = gate_of(object("ModelHub", "hub", "kubeflow", hub), rel);
    assert_false(g.waits);

    /* a Training of the same name writing to another claim is not the producer */
    rel = json_object();
    relate(rel, training());
    g = gate_of(
        object("ModelHub", "hub", "kubeflow", "{\"modelName\": \"ppocr-det\", \"pvcName\": \"other\"}"), rel);
    assert_false(g.waits);

    /* modelName defaults to the ModelHub's name */
    rel = json_object();
    relate(rel, training());
    g = gate_of(object("ModelHub", "ppocr-det", "kubeflow", "{\"pvcName\": \"pvc\"}"), rel);
    assert_true(g.waits);
    assert_string_equal(g.name, "ppocr-det-upload");
}

static json_t *hub(const char *name, const char *model, const char *version, const char *ready)
{
    char spec[256];
    json_t *h;

    snprintf(spec, sizeof(spec),
             "{\"modelName\": \"%s\", \"modelVersion\": \"%s\", \"endpoint\": \"http://minio:9000\"}", model,
             version);
    h = object("ModelHub", name, "kubeflow", spec);
    if (ready)
        condition(h, "Ready", ready, 2);
    return h;
}

static void test_serving_waits_for_the_modelhub_of_its_model_and_version(void **state)
{
    struct order_gate g;
    json_t *rel;
    const char *serving = "{\"modelName\": \"ppocr-det\", \"modelVersion\": \"v2\"}";

    (void)state;
    /* ModelHubs of other models or versions are not related */
    rel = json_object();
    relate(rel, hub("a", "ppocr-det", "v1", NULL));
    relate(rel, hub("b", "other", "v2", NULL));
    g = gate_of(object("Serving", "svc", "kubeflow", serving), rel);
    assert_false(g.waits);

    /* the one uploading ppocr-det v2 is not Ready yet */
    rel = json_object();
    relate(rel, hub("c", "ppocr-det", "v2", "False"));
    g = gate_of(object("Serving", "svc", "kubeflow", serving), rel);
    assert_true(g.waits);
    assert_string_equal(g.kind, "InferenceService");
    assert_string_equal(g.name, "svc");
    assert_string_equal(g.target, "ModelHub/c to be Ready");

    /* two upload it, one is Ready: enough */
    rel = json_object();
    relate(rel, hub("c", "ppocr-det", "v2", "False"));
    relate(rel, hub("d", "ppocr-det", "v2", "True"));
    g = gate_of(object("Serving", "svc", "kubeflow", serving), rel);
    assert_false(g.waits);

    /* a different endpoint is another store */
    rel = json_object();
    relate(rel, hub("c", "ppocr-det", "v2", "False"));
    g = gate_of(
        object("Serving", "svc", "kubeflow",
               "{\"modelName\": \"ppocr-det\", \"modelVersion\": \"v2\", \"endpoint\": \"http://s3:9000\"}"),
        rel);
    assert_false(g.waits);

    /* modelVersion defaults to latest on both sides */
    rel = json_object();
    relate(rel, hub("e", "ppocr-det", "latest", NULL));
    g = gate_of(object("Serving", "svc", "kubeflow", "{\"modelName\": \"ppocr-det\"}"), rel);
    assert_true(g.waits);
}

static void test_dataset_and_odd_input_never_wait(void **state)
{
    struct order_gate g;
    json_t *rel = json_object();

    (void)state;
    relate(rel, object("Dataset", "icdar2015", "kubeflow", "{}"));
    g = gate_of(object("Dataset", "icdar2015", "kubeflow", "{}"), rel);
    assert_false(g.waits);
    /* related groups that are not maps, objects that are not objects */
    rel = json_pack("{s:i, s:{s:i}}", "Dataset." API, 1, "Training." API, "x", 2);
    g = gate_of(training(), rel);
    assert_false(g.waits);
    assert_false(order_withholds(NULL, "PaddleJob", "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_customize_rules),
        cmocka_unit_test(test_customize_malformed),
        cmocka_unit_test(test_training_waits_for_its_dataset),
        cmocka_unit_test(test_modelhub_waits_for_the_training_that_makes_its_model),
        cmocka_unit_test(test_serving_waits_for_the_modelhub_of_its_model_and_version),
        cmocka_unit_test(test_dataset_and_odd_input_never_wait),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
