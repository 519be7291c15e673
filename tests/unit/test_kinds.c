/*
 * Unit tests of mutators/kinds.c: the table of kinds, defaults (idempotent,
 * never touching what the user wrote), validation on a defaulted view, the
 * tamper check of spec.generated, caps and exemptions, and the child helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/kinds.h"
#include "mutators/json/strbuf.h"

static const struct context builtin_ctx = { .namespace = "kubeflow", .settings = &policy_builtin };

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON: %s: %s", err.text, text);
    return v;
}

static const json_t *spec_of(const json_t *obj)
{
    return json_object_get(obj, "spec");
}

#define OBJ(kind, meta, spec)                                                              \
    "{\"apiVersion\":\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"" kind "\","        \
    "\"metadata\":" meta ",\"spec\":" spec "}"
#define META "{\"name\":\"ppocr\",\"namespace\":\"kubeflow\"}"

static const char *const valid[] = {
    OBJ("Dataset", META, "{\"sourceUri\":\"bos://bucket/icdar2015\",\"sourceSecret\":\"data-center\"}"),
    OBJ("Training", META,
        "{\"project\":\"paddleocr\",\"image\":\"paddleocr:2.5\",\"configPath\":\"configs/a.yml\","
        "\"dataset\":\"icdar2015\",\"pvcName\":\"task-center\",\"workerReplicas\":2,"
        "\"configChanges\":\"Global.epoch_num=1\",\"pretrainModel\":\"https://h/m.pdparams\","
        "\"useVisualDL\":true}"),
    OBJ("ModelHub", META, "{\"pvcName\":\"task-center\",\"endpoint\":\"http://minio:9000/\"}"),
    OBJ("Serving", META, "{\"image\":\"serving:1\"}"),
};

static const struct kind *kind_of(const json_t *obj)
{
    const struct kind *k = kinds_of_object(obj);

    assert_non_null(k);
    return k;
}

/* The errors of kinds_validate on text, as one "; "-joined string (new). */
static char *validate_text(const char *text, const struct context *ctx, json_t **warnings_out)
{
    json_t *obj = parse(text), *before = json_deep_copy(obj), *warnings = json_array();
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    struct strbuf all = STRBUF_INIT;

    kinds_validate(kind_of(obj), obj, ctx, &errs, warnings);
    assert_true(json_equal(obj, before)); /* borrowed, unchanged */
    for (size_t i = 0; i < errs.len; i++) {
        char *line = fielderr_string(&errs.v[i]);

        strbuf_addf(&all, "%s%s", i ? "; " : "", line);
        free(line);
    }
    fielderr_release(&errs);
    if (warnings_out)
        *warnings_out = warnings;
    else
        json_decref(warnings);
    json_decref(before);
    json_decref(obj);
    return strbuf_detach(&all);
}

static void assert_valid(const char *text, const struct context *ctx)
{
    char *errs = validate_text(text, ctx, NULL);

    if (*errs)
        fail_msg("refused: %s", errs);
    free(errs);
}

static void assert_errors(const char *text, const struct context *ctx, const char *want)
{
    char *errs = validate_text(text, ctx, NULL);

    if (strcmp(errs, want))
        fail_msg("errors\n got  %s\n want %s", errs, want);
    free(errs);
}

/* ------------------------------------------------------------- table */

static void test_find(void **state)
{
    static const char *const names[] = { "Dataset", "Training", "ModelHub", "Serving" };
    static const char *const plurals[] = { "datasets", "trainings", "modelhubs", "servings" };

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        const struct kind *k = kinds_find("paddlex.paddlepaddle.org", "v1alpha1", names[i]);

        assert_non_null(k);
        assert_string_equal(k->name, names[i]);
        assert_string_equal(k->plural, plurals[i]);
        assert_ptr_equal(kinds_find("paddlex.paddlepaddle.org", NULL, names[i]), k);
        assert_true(k->nfields <= KINDS_MAX_FIELDS);    /* the engine's bound */
    }
    assert_null(kinds_find("paddlex.paddlepaddle.org", "v1alpha1", "training"));
    assert_null(kinds_find("paddlex.paddlepaddle.org", "v1", "Training"));
    assert_null(kinds_find("example.com", "v1alpha1", "Training"));
    assert_null(kinds_find(NULL, "v1alpha1", "Training"));
    assert_null(kinds_find("paddlex.paddlepaddle.org", "v1alpha1", NULL));
    assert_null(kinds_find("paddlex.paddlepaddle.org", "v1alpha1", "Pod"));
}

static void test_of_object(void **state)
{
    json_t *o = parse(valid[3]), *pod = parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}");
    json_t *none = parse("{}");

    (void)state;
    assert_string_equal(kind_of(o)->name, "Serving");
    assert_null(kinds_of_object(pod));
    assert_null(kinds_of_object(none));
    json_decref(o);
    json_decref(pod);
    json_decref(none);
}

/* ------------------------------------------------------------- mutate */

/* kinds_mutate() into o itself, as `render` runs it; the changes listed
 * are checked where they are the point (test_patch.c). */
static void mutate(json_t *o, const struct context *ctx)
{
    struct kinds_mutation m;

    kinds_mutate(kind_of(o), o, ctx, KINDS_INTO_OBJECT, &m);
    kinds_mutation_release(&m);
}

static void test_defaults_filled(void **state)
{
    json_t *o = parse(valid[3]);
    json_t *spec;

    (void)state;
    mutate(o, &builtin_ctx);
    spec = json_object_get(o, "spec");
    assert_string_equal(kinds_spec_string(spec_of(o), "namespace"), "kubeflow");
    assert_string_equal(kinds_spec_string(spec_of(o), "action"), "apply");
    assert_string_equal(kinds_spec_string(spec_of(o), "endpoint"), "http://minio-service.kubeflow:9000");
    assert_string_equal(kinds_spec_string(spec_of(o), "modelName"), "ppocr");
    assert_string_equal(kinds_spec_string(spec_of(o), "modelVersion"), "latest");
    assert_int_equal(kinds_spec_int(spec_of(o), "port"), 8040);
    assert_true(json_is_array(json_object_get(spec, "generated")));
    json_decref(o);
}

static void test_normalisation(void **state)
{
    json_t *t = parse(valid[1]), *m = parse(valid[2]);

    (void)state;
    mutate(t, &builtin_ctx);
    assert_string_equal(kinds_spec_string(spec_of(t), "project"), "PaddleOCR");
    assert_int_equal(kinds_spec_int(spec_of(t), "psReplicas"), 0);
    assert_int_equal(kinds_spec_int(spec_of(t), "gpuPerNode"), 0);
    assert_true(kinds_spec_bool(spec_of(t), "saveInference"));
    assert_true(kinds_spec_bool(spec_of(t), "needConvert"));
    mutate(m, &builtin_ctx);
    assert_string_equal(kinds_spec_string(spec_of(m), "endpoint"), "http://minio:9000");
    json_decref(t);
    json_decref(m);
}

static void test_mutate_idempotent_every_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        json_t *o = parse(valid[i]), *once;

        mutate(o, &builtin_ctx);
        once = json_deep_copy(o);
        mutate(o, &builtin_ctx);
        if (!json_equal(o, once))
            fail_msg("second mutate of %s changed it", kind_of(o)->name);
        json_decref(once);
        json_decref(o);
    }
}

/* What the user wrote stays, only what is absent is filled. */
static void test_explicit_values_kept(void **state)
{
    json_t *o = parse(OBJ("Training", META,
                          "{\"project\":\"PaddleOCR\",\"image\":\"a:1\",\"configPath\":\"a.yml\","
                          "\"dataset\":\"d\",\"pvcName\":\"p\",\"workerReplicas\":1,\"psReplicas\":3,"
                          "\"gpuPerNode\":2,\"saveInference\":false,\"action\":\"delete\"}"));

    (void)state;
    mutate(o, &builtin_ctx);
    assert_int_equal(kinds_spec_int(spec_of(o), "psReplicas"), 3);
    assert_int_equal(kinds_spec_int(spec_of(o), "gpuPerNode"), 2);
    assert_false(kinds_spec_bool(spec_of(o), "saveInference"));
    /* needConvert follows saveInference */
    assert_true(json_is_false(json_object_get(json_object_get(o, "spec"), "needConvert")));
    assert_string_equal(kinds_spec_string(spec_of(o), "action"), "delete");
    json_decref(o);
}

static void test_invalid_object_defaulted_but_not_rendered(void **state)
{
    json_t *o = parse(OBJ("Dataset", META, "{\"sourceUri\":\"nope\",\"partitions\":\"2\"}"));
    json_t *spec = json_object_get(o, "spec");

    (void)state;
    mutate(o, &builtin_ctx);
    assert_string_equal(kinds_spec_string(spec_of(o), "namespace"), "kubeflow");
    assert_string_equal(kinds_spec_string(spec_of(o), "action"), "apply");
    /* wrongly typed values are left for the validator, not coerced */
    assert_string_equal(json_string_value(json_object_get(spec, "partitions")), "2");
    assert_null(json_object_get(spec, "generated"));
    json_decref(o);
}

static void test_missing_spec_created(void **state)
{
    json_t *o = parse("{\"apiVersion\":\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"ModelHub\","
                      "\"metadata\":" META "}");

    (void)state;
    mutate(o, &builtin_ctx);
    assert_true(json_is_object(json_object_get(o, "spec")));
    assert_string_equal(kinds_spec_string(spec_of(o), "modelVersion"), "latest");
    json_decref(o);
}

static void test_non_object_spec_untouched(void **state)
{
    json_t *o = parse(OBJ("Serving", META, "[1]")), *before = json_deep_copy(o);

    (void)state;
    mutate(o, &builtin_ctx);
    assert_true(json_equal(o, before));
    json_decref(before);
    json_decref(o);
}

static void test_user_generated_replaced(void **state)
{
    json_t *o = parse(OBJ("Serving", META, "{\"image\":\"serving:1\",\"generated\":[{\"kind\":\"Pod\"}]}"));
    json_t *clean = parse(valid[3]);

    (void)state;
    mutate(o, &builtin_ctx);
    mutate(clean, &builtin_ctx);
    assert_true(json_equal(json_object_get(json_object_get(o, "spec"), "generated"),
                           json_object_get(json_object_get(clean, "spec"), "generated")));
    json_decref(clean);
    json_decref(o);
}

static void test_namespace_default_sources(void **state)
{
    struct context none = { .settings = &policy_builtin };
    struct context req = { .namespace = "team-a", .settings = &policy_builtin };
    json_t *o;

    (void)state;
    o = parse(OBJ("Serving", "{\"name\":\"s\"}", "{\"image\":\"s:1\"}"));
    mutate(o, &none);
    assert_string_equal(kinds_spec_string(spec_of(o), "namespace"), "kubeflow");
    json_decref(o);
    o = parse(OBJ("Serving", "{\"name\":\"s\"}", "{\"image\":\"s:1\"}"));
    mutate(o, &req);
    assert_string_equal(kinds_spec_string(spec_of(o), "namespace"), "team-a");
    json_decref(o);
    o = parse(OBJ("Serving", "{\"name\":\"s\",\"namespace\":\"team-b\"}", "{\"image\":\"s:1\"}"));
    mutate(o, &req);
    assert_string_equal(kinds_spec_string(spec_of(o), "namespace"), "team-b");
    json_decref(o);
}

static void test_settings_supply_defaults(void **state)
{
    struct settings s = policy_builtin;
    struct context ctx = { .namespace = "kubeflow", .settings = &s };
    json_t *o = parse(valid[3]);

    (void)state;
    s.port = 9100;
    s.endpoint = "https://minio.team.example";
    mutate(o, &ctx);
    assert_int_equal(kinds_spec_int(spec_of(o), "port"), 9100);
    assert_string_equal(kinds_spec_string(spec_of(o), "endpoint"), "https://minio.team.example");
    json_decref(o);
}

/* ------------------------------------------------------------- validate */

static void test_validate_view_same_with_or_without_mutate(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        json_t *o = parse(valid[i]), *warnings = NULL;
        char *text, *errs;

        assert_valid(valid[i], &builtin_ctx);
        mutate(o, &builtin_ctx);
        text = json_dumps(o, 0);
        errs = validate_text(text, &builtin_ctx, &warnings);
        assert_string_equal(errs, "");
        free(errs);
        free(text);
        json_decref(warnings);
        json_decref(o);
    }
}

static void test_absent_generated_warns(void **state)
{
    json_t *warnings = NULL;
    char *errs = validate_text(valid[0], &builtin_ctx, &warnings);
    int found = 0;
    size_t i;
    json_t *w;

    (void)state;
    assert_string_equal(errs, "");
    json_array_foreach(warnings, i, w) found |= strstr(json_string_value(w), "spec.generated") != NULL;
    assert_true(found);
    free(errs);
    json_decref(warnings);
}

static void test_tampered_generated_refused(void **state)
{
    json_t *o = parse(valid[0]), *gen;
    char *text;

    (void)state;
    mutate(o, &builtin_ctx);
    gen = json_object_get(json_object_get(o, "spec"), "generated");
    assert_true(json_array_size(gen) > 0);
    json_object_set_new(json_array_get(gen, 0), "extra", json_true());
    text = json_dumps(o, 0);
    assert_errors(text, &builtin_ctx,
                  "spec.generated: Forbidden: does not match the children rendered from the spec: it is "
                  "written by the mutating webhook and may not be edited");
    free(text);
    json_decref(o);
}

static void test_every_error_reported(void **state)
{
    (void)state;
    assert_errors(OBJ("Dataset", "{\"name\":\"Bad\",\"namespace\":\"kubeflow\"}",
                      "{\"partitions\":0,\"sourceSecret\":\"x_y\",\"action\":\"go\",\"typo\":1}"),
                  &builtin_ctx,
                  "metadata.name: Invalid value: \"Bad\": a DNS-1035 label must consist of lower case "
                  "alphanumeric characters or '-', start with an alphabetic character, and end with an "
                  "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                  "'[a-z]([-a-z0-9]*[a-z0-9])?'); "
                  "spec.action: Unsupported value: \"go\": supported values: \"apply\", \"create\", "
                  "\"patch\", \"delete\"; "
                  "spec.partitions: Invalid value: 0: must be greater than or equal to 1; "
                  "spec.sourceUri: Required value; "
                  "spec.sourceSecret: Invalid value: \"x_y\": a lowercase RFC 1123 subdomain must consist "
                  "of lower case alphanumeric characters, '-' or '.', and must start and end with an "
                  "alphanumeric character (e.g. 'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'); "
                  "spec.typo: Forbidden: unknown field \"typo\"");
}

static void test_strict_types(void **state)
{
    (void)state;
    assert_errors(OBJ("Serving", META, "{\"image\":\"s:1\",\"port\":\"8080\"}"), &builtin_ctx,
                  "spec.port: Invalid value: \"string\": spec.port must be an integer");
    assert_errors(OBJ("Serving", META, "{\"image\":\"s:1\",\"port\":80.0}"), &builtin_ctx,
                  "spec.port: Invalid value: \"number\": spec.port must be an integer");
    assert_errors(OBJ("Serving", META, "{\"image\":true}"), &builtin_ctx,
                  "spec.image: Invalid value: \"boolean\": spec.image must be a string");
    /* null is absent (SPEC §9.4): modelName defaults to metadata.name */
    assert_errors(OBJ("Serving", META, "{\"image\":\"s:1\",\"modelName\":null}"), &builtin_ctx, "");
    assert_errors(OBJ("Dataset", META, "{\"sourceUri\":{},\"sourceSecret\":[\"s\"]}"), &builtin_ctx,
                  "spec.sourceUri: Invalid value: \"object\": spec.sourceUri must be a string; "
                  "spec.sourceSecret: Invalid value: \"array\": spec.sourceSecret must be a string");
    assert_errors(OBJ("Training", META,
                      "{\"project\":\"PaddleOCR\",\"image\":\"a\",\"configPath\":\"a\",\"dataset\":\"d\","
                      "\"pvcName\":\"p\",\"workerReplicas\":1,\"useVisualDL\":\"true\"}"),
                  &builtin_ctx, "spec.useVisualDL: Invalid value: \"string\": spec.useVisualDL must be a boolean");
}

static void test_metadata_rules(void **state)
{
    (void)state;
    assert_errors(OBJ("Serving", "{\"generateName\":\"s-\",\"namespace\":\"kubeflow\"}", "{\"image\":\"s:1\"}"),
                  &builtin_ctx,
                  "metadata.name: Required value: generateName is not supported: child names derive from "
                  "metadata.name");
    assert_errors(OBJ("Serving", "{\"name\":\"s\",\"namespace\":\"team-a\"}",
                      "{\"image\":\"s:1\",\"namespace\":\"team-b\"}"),
                  &builtin_ctx,
                  "spec.namespace: Invalid value: \"team-b\": must equal the object's namespace \"team-a\": "
                  "children live beside their owner");
    assert_errors("{\"apiVersion\":\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"Serving\","
                  "\"spec\":{\"image\":\"s:1\"}}",
                  &builtin_ctx, "metadata: Required value");
}

static void test_caps_are_policy_denials(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *o = parse(OBJ("Dataset", META, "{\"sourceUri\":\"s3://bucket/x\",\"sourceSecret\":\"s\",\"partitions\":65}"));
    json_t *w = json_array();

    (void)state;
    kinds_validate(kind_of(o), o, &builtin_ctx, &errs, w);
    assert_int_equal(errs.len, 1);
    assert_int_equal(errs.v[0].type, FIELDERR_FORBIDDEN);
    assert_true(errs.v[0].policy);
    assert_true(fielderr_all_policy(&errs));
    assert_string_equal(errs.v[0].detail, "65 exceeds the limit maxPartitions=64 (policy rule: built-in)");
    fielderr_release(&errs);
    json_decref(w);
    json_decref(o);
}

static void test_settings_caps_and_exemption(void **state)
{
    struct settings s = policy_builtin;
    struct context ctx = { .namespace = "team-a", .settings = &s };
    const char *text = OBJ("Training", "{\"name\":\"t\",\"namespace\":\"team-a\"}",
                           "{\"project\":\"PaddleOCR\",\"image\":\"a\",\"configPath\":\"a\",\"dataset\":\"d\","
                           "\"pvcName\":\"p\",\"workerReplicas\":4,\"gpuPerNode\":3}");

    (void)state;
    s.rule = "namespaces[team-*]";
    s.max_gpu_per_node = 2;
    assert_errors(text, &ctx,
                  "spec.gpuPerNode: Forbidden: 3 exceeds the limit maxGpuPerNode=2 (policy rule: namespaces[team-*])");
    s.max_gpu_per_node = 8;
    s.max_total_gpus = 10;
    assert_errors(text, &ctx,
                  "spec.gpuPerNode: Forbidden: workerReplicas x gpuPerNode = 12 exceeds the limit "
                  "maxTotalGpus=10 (policy rule: namespaces[team-*])");
    s.max_worker_replicas = 3;
    s.max_total_gpus = POLICY_NO_LIMIT;
    assert_errors(text, &ctx,
                  "spec.workerReplicas: Forbidden: 4 exceeds the limit maxWorkerReplicas=3 (policy rule: "
                  "namespaces[team-*])");
    ctx.exempt = 1;
    assert_valid(text, &ctx);
    /* exemption skips limits, not the schema */
    assert_errors(OBJ("Training", "{\"name\":\"t\",\"namespace\":\"team-a\"}",
                      "{\"project\":\"PaddleOCR\",\"image\":\"a\",\"configPath\":\"a\",\"dataset\":\"d\","
                      "\"pvcName\":\"p\",\"workerReplicas\":-4}"),
                  &ctx, "spec.workerReplicas: Invalid value: -4: must be greater than or equal to 0");
}

static void test_visualdl_warning(void **state)
{
    json_t *warnings = NULL;
    char *errs = validate_text(valid[1], &builtin_ctx, &warnings);
    int found = 0;
    size_t i;
    json_t *w;

    (void)state;
    assert_string_equal(errs, "");
    json_array_foreach(warnings, i, w) found |= strstr(json_string_value(w),
                                                       "spec.useVisualDL: VisualDL shows the logs of one "
                                                       "worker, but workerReplicas is 2") != NULL;
    assert_true(found);
    free(errs);
    json_decref(warnings);
}

/* ------------------------------------------------------------- render */

static void test_render(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *o = parse(valid[0]), *w = json_array(), *children, *bad;

    (void)state;
    children = kinds_render(kind_of(o), o, &builtin_ctx, &errs, w);
    assert_non_null(children);
    assert_true(json_array_size(children) > 0);
    assert_int_equal(errs.len, 0);
    json_decref(children);
    bad = parse(OBJ("Dataset", META, "{}"));
    assert_null(kinds_render(kind_of(bad), bad, &builtin_ctx, &errs, w));
    assert_int_equal(errs.len, 2);
    fielderr_release(&errs);
    json_decref(bad);
    json_decref(w);
    json_decref(o);
}

/* SPEC §9.4: a field sent as null is absent, for render (kinds_render,
 * kinds_mutate) as for review: defaults fill it, a null without a default
 * is removed, Required fires, and nothing says "must be a string". */
static void test_null_is_absent(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *o = parse(OBJ("Training", META,
                          "{\"project\":\"PaddleOCR\",\"image\":\"paddleocr:2.5\",\"configPath\":\"a.yml\","
                          "\"dataset\":\"d\",\"pvcName\":\"p\",\"workerReplicas\":1,\"gpuPerNode\":null,"
                          "\"pretrainModel\":null,\"action\":null,\"saveInference\":null}"));
    json_t *w = json_array(), *children;

    (void)state;
    children = kinds_render(kind_of(o), o, &builtin_ctx, &errs, w);
    assert_int_equal(errs.len, 0);
    assert_non_null(children);
    json_decref(children);
    mutate(o, &builtin_ctx);
    assert_int_equal(kinds_spec_int(spec_of(o), "gpuPerNode"), 0);
    assert_string_equal(kinds_spec_string(spec_of(o), "action"), "apply");
    assert_true(json_is_true(json_object_get(spec_of(o), "saveInference")));
    assert_null(json_object_get(spec_of(o), "pretrainModel"));
    assert_non_null(json_object_get(spec_of(o), "generated"));
    json_decref(o);
    assert_errors(OBJ("Training", META, "{\"project\":null,\"image\":\"paddleocr:2.5\",\"configPath\":\"a.yml\","
                                        "\"dataset\":\"d\",\"pvcName\":null,\"workerReplicas\":null}"),
                  &builtin_ctx,
                  "spec.project: Required value; spec.pvcName: Required value; "
                  "spec.workerReplicas: Required value");
    assert_errors(OBJ("Serving", "{\"name\":null,\"namespace\":\"kubeflow\"}", "null"), &builtin_ctx,
                  "metadata.name: Required value; spec.image: Required value");
    json_decref(w);
}

static void test_child_metadata(void **state)
{
    json_t *o = parse(valid[1]), *child, *md, *labels;
    struct node_pool pool;
    struct owner owner;

    (void)state;
    mutate(o, &builtin_ctx);
    kinds_owner(kind_of(o), o, &owner);
    node_pool_begin(&pool);
    child = node_to_json(kinds_child(&owner, "batch/v1", "Job", "ppocr-export", "PaddleJob/ppocr"));
    assert_string_equal(json_string_value(json_object_get(child, "apiVersion")), "batch/v1");
    assert_string_equal(json_string_value(json_object_get(child, "kind")), "Job");
    md = json_object_get(child, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "name")), "ppocr-export");
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "kubeflow");
    labels = json_object_get(md, "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")), "paddlex-webhook");
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/part-of")), "paddlex");
    assert_string_equal(json_string_value(json_object_get(labels, "paddlex.paddlepaddle.org/training")), "ppocr");
    assert_string_equal(json_string_value(json_object_get(json_object_get(md, "annotations"),
                                                          "paddlex.paddlepaddle.org/after")),
                        "PaddleJob/ppocr");
    json_decref(child);
    child = node_to_json(kinds_child(&owner, "v1", "Service", "ppocr-visualdl", NULL));
    assert_null(json_object_get(json_object_get(child, "metadata"), "annotations"));
    json_decref(child);
    node_pool_end(&pool);
    json_decref(o);
}

static void test_spec_helpers(void **state)
{
    json_t *o = parse(OBJ("Training", META, "{\"a\":\"x\",\"n\":7,\"b\":true,\"s\":\"7\"}"));
    json_t *nometa = parse("{}");

    (void)state;
    assert_string_equal(kinds_spec_string(spec_of(o), "a"), "x");
    assert_null(kinds_spec_string(spec_of(o), "n"));
    assert_int_equal(kinds_spec_int(spec_of(o), "n"), 7);
    assert_int_equal(kinds_spec_int(spec_of(o), "s"), 0);
    assert_int_equal(kinds_spec_bool(spec_of(o), "b"), 1);
    assert_int_equal(kinds_spec_bool(spec_of(o), "a"), 0);
    assert_string_equal(kinds_name(o), "ppocr");
    assert_null(kinds_name(nometa));
    assert_null(kinds_default_model_name(nometa, &builtin_ctx));
    json_decref(nometa);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_of_object),
        cmocka_unit_test(test_defaults_filled),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_mutate_idempotent_every_kind),
        cmocka_unit_test(test_explicit_values_kept),
        cmocka_unit_test(test_invalid_object_defaulted_but_not_rendered),
        cmocka_unit_test(test_missing_spec_created),
        cmocka_unit_test(test_non_object_spec_untouched),
        cmocka_unit_test(test_user_generated_replaced),
        cmocka_unit_test(test_namespace_default_sources),
        cmocka_unit_test(test_settings_supply_defaults),
        cmocka_unit_test(test_validate_view_same_with_or_without_mutate),
        cmocka_unit_test(test_absent_generated_warns),
        cmocka_unit_test(test_tampered_generated_refused),
        cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_strict_types),
        cmocka_unit_test(test_metadata_rules),
        cmocka_unit_test(test_caps_are_policy_denials),
        cmocka_unit_test(test_settings_caps_and_exemption),
        cmocka_unit_test(test_visualdl_warning),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_null_is_absent),
        cmocka_unit_test(test_child_metadata),
        cmocka_unit_test(test_spec_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
