/*
 * Unit tests of mutators/patch.c: the JSON Patch that patch_write() makes
 * of a mutation (kinds_mutate()), as the kube-apiserver applies it
 * strictly (an "add" under a missing parent fails), and of the contract
 * it writes from: every change listed, nothing written twice.
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
#include "mutators/patch.h"
#include "mutators/policy.h"

static const struct context builtin_ctx = { .namespace = "kubeflow", .settings = &policy_builtin };

#define OBJ(kind, spec)                                                                    \
    "{\"apiVersion\":\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"" kind "\","        \
    "\"metadata\":{\"name\":\"ppocr\",\"namespace\":\"kubeflow\"}" spec "}"

#define TRAINING_SPEC                                                                      \
    "{\"project\":\"paddleocr\",\"image\":\"paddleocr:2.5\",\"configPath\":\"configs/a.yml\"," \
    "\"dataset\":\"icdar2015\",\"pvcName\":\"task-center\",\"workerReplicas\":2,"           \
    "\"configChanges\":\"Global.epoch_num=1\",\"trainLabel\":null}"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON %s: %s", text, err.text);
    return v;
}

/* A test sealer: the seal is the length and the first bytes of the text
 * it covers, so a test sees what was sealed. */
static int test_sign(const void *keys, const char *kind, const char *name, const json_t *spec,
                     const char *generated, size_t len, char *out)
{
    (void)keys;
    (void)kind;
    (void)name;
    (void)spec;
    if (!generated)
        return -1;
    snprintf(out, KINDS_SEAL_MAX, "%zu:%.40s", len, generated);
    return 0;
}

static int test_verify(const void *keys, const char *kind, const char *name, const json_t *spec,
                       const char *generated, size_t len, const char *seal)
{
    (void)keys;
    (void)kind;
    (void)name;
    (void)spec;
    (void)generated;
    (void)len;
    return seal && !strncmp(seal, "ok:", 3);
}

static const struct sealer test_sealer = { NULL, test_sign, test_verify };

/* Applies ops (a JSON Patch of paths /spec and /spec/<member>) to doc
 * strictly, as the apiserver does: an add under a missing parent, a
 * replace or remove of a missing member fail the test. */
static void apply(json_t *doc, const json_t *ops)
{
    size_t i;
    json_t *op;

    assert_true(json_is_array(ops));
    json_array_foreach(ops, i, op) {
        const char *o = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *v = json_object_get(op, "value"), *spec = json_object_get(doc, "spec");

        assert_non_null(o);
        assert_non_null(path);
        if (!strcmp(path, "/spec")) {
            assert_true(!strcmp(o, "add") ? !json_object_get(doc, "spec") : !strcmp(o, "replace"));
            assert_non_null(v);
            json_object_set(doc, "spec", v);
            continue;
        }
        assert_int_equal(strncmp(path, "/spec/", 6), 0);
        assert_true(json_is_object(spec));
        if (!strcmp(o, "remove")) {
            assert_int_equal(json_object_del(spec, path + 6), 0);
        } else {
            assert_non_null(v);
            if (!strcmp(o, "replace"))
                assert_non_null(json_object_get(spec, path + 6));
            else
                assert_string_equal(o, "add");
            json_object_set(spec, path + 6, v);
        }
    }
}

/* The patch of obj's mutation under ctx, as text (new), its operations
 * counted into *n. */
static char *patch_of(json_t *obj, const struct context *ctx, size_t *n)
{
    struct kinds_mutation m;
    struct strbuf sb = STRBUF_INIT;

    kinds_mutate(kinds_of_object(obj), obj, ctx, 0, &m);
    *n = patch_write(&m, &sb);
    kinds_mutation_release(&m);
    return sb.buf ? strbuf_detach(&sb) : strdup("");
}

/* Mutates a copy of text's object, applies the patch to the object as
 * sent, and checks the result mutates to no patch (idempotent); returns
 * the patched object (new). */
static json_t *patched(const char *text, const struct context *ctx)
{
    json_t *sent = parse(text), *work = json_deep_copy(sent), *ops;
    size_t n, again;
    char *p = patch_of(work, ctx, &n), *q;

    ops = n ? parse(p) : json_array();
    assert_int_equal(json_array_size(ops), n);
    apply(sent, ops);
    json_decref(work);
    work = json_deep_copy(sent);
    q = patch_of(work, ctx, &again);
    if (again)
        fail_msg("a second mutation patches again: %s", q);
    free(q);
    free(p);
    json_decref(ops);
    json_decref(work);
    return sent;
}

/* A spec member by member: defaults added, canonical spellings and nulls
 * with a default replaced, a null without one removed, the children
 * added last. */
static void test_member_operations(void **state)
{
    json_t *obj = parse(OBJ("Training", ",\"spec\":" TRAINING_SPEC)), *ops, *op;
    size_t n, i;
    char *p = patch_of(obj, &builtin_ctx, &n);
    int seen_project = 0, seen_label = 0, seen_ns = 0;

    (void)state;
    ops = parse(p);
    assert_int_equal(json_array_size(ops), n);
    json_array_foreach(ops, i, op) {
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *o = json_string_value(json_object_get(op, "op"));

        if (!strcmp(path, "/spec/project")) {
            assert_string_equal(o, "replace");
            assert_string_equal(json_string_value(json_object_get(op, "value")), "PaddleOCR");
            seen_project = 1;
        } else if (!strcmp(path, "/spec/trainLabel")) {
            assert_string_equal(o, "remove");
            assert_null(json_object_get(op, "value"));
            seen_label = 1;
        } else if (!strcmp(path, "/spec/namespace")) {
            assert_string_equal(o, "add");
            seen_ns = 1;
        }
    }
    assert_true(seen_project && seen_label && seen_ns);
    op = json_array_get(ops, n - 1);
    assert_string_equal(json_string_value(json_object_get(op, "path")), "/spec/generated");
    assert_true(json_is_array(json_object_get(op, "value")));
    free(p);
    json_decref(ops);
    json_decref(obj);
    json_decref(patched(OBJ("Training", ",\"spec\":" TRAINING_SPEC), &builtin_ctx));
}

/* An absent spec is added whole (no "add" under a missing parent), a null
 * one replaced whole; either holds every default, in field order. */
static void test_spec_made_whole(void **state)
{
    static const char *const cases[][2] = {
        { OBJ("ModelHub", ""), "add" },
        { OBJ("ModelHub", ",\"spec\":null"), "replace" },
    };
    json_t *obj, *ops, *want;
    size_t n;
    char *p;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        obj = parse(cases[i][0]);
        p = patch_of(obj, &builtin_ctx, &n);
        assert_int_equal(n, 1);
        ops = parse(p);
        assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "op")), cases[i][1]);
        assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "path")), "/spec");
        want = parse("{\"namespace\":\"kubeflow\",\"action\":\"apply\","
                     "\"endpoint\":\"http://minio-service.kubeflow:9000\",\"modelName\":\"ppocr\","
                     "\"modelVersion\":\"latest\"}");
        assert_true(json_equal(json_object_get(json_array_get(ops, 0), "value"), want));
        /* the members in the order the fields are judged */
        assert_int_equal(strncmp(strstr(p, "\"value\":{"), "\"value\":{\"namespace\":", 21), 0);
        free(p);
        json_decref(want);
        json_decref(ops);
        json_decref(obj);
        json_decref(patched(cases[i][0], &builtin_ctx));
    }
}

/* A spec that is no object is the validator's: no patch at all. */
static void test_spec_not_an_object(void **state)
{
    json_t *obj = parse(OBJ("Serving", ",\"spec\":[\"image\"]"));
    size_t n;
    char *p = patch_of(obj, &builtin_ctx, &n);

    (void)state;
    assert_int_equal(n, 0);
    assert_string_equal(p, "");
    assert_true(json_is_array(json_object_get(obj, "spec")));
    free(p);
    json_decref(obj);
}

/* An invalid object gets its defaults, no children, and the reasons. */
static void test_invalid_lists_reasons(void **state)
{
    json_t *obj = parse(OBJ("Dataset", ",\"spec\":{}"));
    struct kinds_mutation m;
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    kinds_mutate(kinds_of_object(obj), obj, &builtin_ctx, 0, &m);
    assert_null(m.children);
    assert_int_equal(m.errs.len, 2);
    assert_string_equal(m.errs.v[0].path, "spec.sourceUri");
    assert_int_equal(m.text.len, 0);
    assert_int_equal(patch_write(&m, &sb), m.nchanges);
    assert_null(strstr(sb.buf, "generated"));
    kinds_mutation_release(&m);
    strbuf_release(&sb);
    json_decref(obj);
}

/* The children are written once: the patch's generated value is the very
 * text the seal covers, in canonical key order. */
static void test_children_text_sealed_once(void **state)
{
    struct context ctx = builtin_ctx;
    json_t *obj = parse(OBJ("Training", ",\"spec\":" TRAINING_SPEC));
    struct kinds_mutation m;
    struct strbuf sb = STRBUF_INIT;
    char want[KINDS_SEAL_MAX];
    const struct kinds_change *last;

    (void)state;
    ctx.sealer = &test_sealer;
    kinds_mutate(kinds_of_object(obj), obj, &ctx, 0, &m);
    assert_non_null(m.children);
    assert_true(m.text.len > 0);
    assert_int_equal(strncmp(m.text.buf, "[{\"apiVersion\":", 15), 0);
    snprintf(want, sizeof(want), "%zu:%.40s", m.text.len, m.text.buf);
    last = &m.changes[m.nchanges - 1];
    assert_string_equal(last->member, "seal");
    assert_string_equal(json_string_value(last->value), want);
    assert_string_equal(m.changes[m.nchanges - 2].member, "generated");
    assert_null(m.changes[m.nchanges - 2].value);
    patch_write(&m, &sb);
    assert_non_null(strstr(sb.buf, m.text.buf));
    /* nothing of it is set in the object itself */
    assert_null(json_object_get(json_object_get(obj, "spec"), "generated"));
    kinds_mutation_release(&m);
    strbuf_release(&sb);
    json_decref(obj);
}

/* An UPDATE that leaves the spec as a sealed oldObject had it keeps the
 * old children and seal, whatever is rendered now. */
static void test_update_keeps_sealed_children(void **state)
{
    struct context ctx = builtin_ctx;
    json_t *old = patched(OBJ("ModelHub", ",\"spec\":{\"pvcName\":\"task-center\"}"), &builtin_ctx);
    json_t *spec = json_object_get(old, "spec"), *obj, *ops;
    size_t n;
    char *p;

    (void)state;
    json_object_set_new(spec, "generated", json_pack("[{s:s}]", "kind", "Old"));
    json_object_set_new(spec, "seal", json_string("ok:old"));
    obj = json_deep_copy(old);
    json_object_del(json_object_get(obj, "spec"), "generated");     /* a replace dropped them */
    json_object_del(json_object_get(obj, "spec"), "seal");
    ctx.sealer = &test_sealer;
    ctx.old = old;
    p = patch_of(obj, &ctx, &n);
    ops = parse(p);
    assert_int_equal(n, 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "path")), "/spec/generated");
    assert_true(json_equal(json_object_get(json_array_get(ops, 0), "value"), json_object_get(spec, "generated")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "value")), "ok:old");
    free(p);
    json_decref(ops);
    json_decref(obj);
    json_decref(old);
}

/* KINDS_INTO_OBJECT: the same changes, set in the object, the children
 * as jansson values in the order built; no text. */
static void test_into_object(void **state)
{
    json_t *obj = parse(OBJ("ModelHub", ",\"spec\":{\"pvcName\":\"task-center\"}")), *gen;
    struct kinds_mutation m;

    (void)state;
    kinds_mutate(kinds_of_object(obj), obj, &builtin_ctx, KINDS_INTO_OBJECT, &m);
    gen = json_object_get(json_object_get(obj, "spec"), "generated");
    assert_true(json_is_array(gen));
    assert_ptr_equal(m.changes[m.nchanges - 1].value, gen);
    assert_int_equal(m.text.len, 0);
    assert_string_equal(json_object_iter_key(json_object_iter(json_array_get(gen, 0))), "apiVersion");
    kinds_mutation_release(&m);
    kinds_mutate(kinds_of_object(obj), obj, &builtin_ctx, KINDS_INTO_OBJECT, &m);
    assert_int_equal(m.nchanges, 0);
    kinds_mutation_release(&m);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_operations),
        cmocka_unit_test(test_spec_made_whole),
        cmocka_unit_test(test_spec_not_an_object),
        cmocka_unit_test(test_invalid_lists_reasons),
        cmocka_unit_test(test_children_text_sealed_once),
        cmocka_unit_test(test_update_keeps_sealed_children),
        cmocka_unit_test(test_into_object),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
