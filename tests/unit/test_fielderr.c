/*
 * Unit tests of mutators/fielderr.c: the Kubernetes wording of field errors,
 * and the cap that keeps a list (and so an answer) bounded whatever the
 * input (issue 18: 99,900 unknown fields made 99,900 causes, 14.9 MB).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/fielderr.h"
#include "mutators/kinds.h"

static void test_wording(void **state)
{
    struct fielderr_list l = FIELDERR_LIST_INIT;
    json_t *v = json_integer(70000);
    char *s;

    (void)state;
    fielderr_add(&l, FIELDERR_INVALID, "spec.port", v, "must be between 1 and %d", 65535);
    fielderr_add(&l, FIELDERR_REQUIRED, "spec.sourceUri", NULL, NULL);
    s = fielderr_string(&l.v[0]);
    assert_string_equal(s, "spec.port: Invalid value: 70000: must be between 1 and 65535");
    free(s);
    s = fielderr_string(&l.v[1]);
    assert_string_equal(s, "spec.sourceUri: Required value");
    free(s);
    assert_int_equal(l.len, 2);
    assert_int_equal(l.total, 2);
    fielderr_release(&l);
    json_decref(v);
}

/* The one list formatter: one error alone, several in brackets, none
 * empty; appended after what the buffer holds. */
static void test_join(void **state)
{
    struct fielderr_list l = FIELDERR_LIST_INIT;
    struct strbuf sb = STRBUF_INIT;
    json_t *v = json_integer(-1);

    (void)state;
    fielderr_join(&sb, &l);
    assert_int_equal(sb.len, 0);
    fielderr_add(&l, FIELDERR_INVALID, "spec.partitions", v, "must be greater than or equal to 1");
    strbuf_addstr(&sb, "x: ");
    fielderr_join(&sb, &l);
    assert_string_equal(sb.buf, "x: spec.partitions: Invalid value: -1: must be greater than or equal to 1");
    fielderr_add(&l, FIELDERR_REQUIRED, "spec.sourceUri", NULL, NULL);
    sb.len = 0;
    fielderr_join(&sb, &l);
    assert_string_equal(sb.buf, "[spec.partitions: Invalid value: -1: must be greater than or equal to 1, "
                                "spec.sourceUri: Required value]");
    strbuf_release(&sb);
    fielderr_release(&l);
    json_decref(v);
}

/* The first FIELDERR_MAX_KEPT errors are kept whole; the rest are one
 * "Too many" entry holding the count, under the path they share. */
static void test_cap(void **state)
{
    struct fielderr_list l = FIELDERR_LIST_INIT;
    char path[64], *s;

    (void)state;
    for (int i = 0; i < 99900; i++) {
        snprintf(path, sizeof(path), "spec.k%05d", i);
        fielderr_add(&l, FIELDERR_FORBIDDEN, path, NULL, "unknown field \"k%05d\"", i);
    }
    assert_int_equal(l.total, 99900);
    assert_int_equal(l.len, FIELDERR_MAX_KEPT + 1);
    assert_true(l.cap <= 2 * (FIELDERR_MAX_KEPT + 1));
    s = fielderr_string(&l.v[FIELDERR_MAX_KEPT - 1]);
    assert_string_equal(s, "spec.k00099: Forbidden: unknown field \"k00099\"");
    free(s);
    s = fielderr_string(&l.v[FIELDERR_MAX_KEPT]);
    assert_string_equal(s, "spec: Too many: 99900: only the first 100 errors are listed");
    free(s);
    assert_string_equal(fielderr_reason(l.v[FIELDERR_MAX_KEPT].type), "FieldValueTooMany");
    assert_false(fielderr_all_policy(&l));
    fielderr_release(&l);
    assert_int_equal(l.total, 0);
}

/* The cap's path: the longest prefix, at a segment, of the counted paths. */
static void test_cap_path(void **state)
{
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        { "spec.generated[1].image", "spec.generated[1].env", "spec.generated[1]" },
        { "spec.generated[1]", "spec.generated[12]", "spec.generated" },
        { "spec", "spec.x", "spec" },
        { "spec.x", "spec", "spec" },
        { "spec.ab", "spec.abc", "spec" },
        { "spec.a", "spec.a", "spec.a" },
        { "spec.a", "metadata.name", "" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fielderr_list l = FIELDERR_LIST_INIT;

        for (int j = 0; j < FIELDERR_MAX_KEPT; j++)
            fielderr_add(&l, FIELDERR_REQUIRED, "metadata.name", NULL, NULL);
        fielderr_add(&l, FIELDERR_REQUIRED, cases[i].a, NULL, NULL);
        fielderr_add(&l, FIELDERR_REQUIRED, cases[i].b, NULL, NULL);
        if (strcmp(l.v[FIELDERR_MAX_KEPT].path, cases[i].want) != 0)
            fail_msg("%s + %s: \"%s\", want \"%s\"", cases[i].a, cases[i].b, l.v[FIELDERR_MAX_KEPT].path,
                     cases[i].want);
        fielderr_release(&l);
    }
}

/* Counted errors still decide 403 (all policy) against 422. */
static void test_cap_policy(void **state)
{
    struct fielderr_list l = FIELDERR_LIST_INIT;

    (void)state;
    for (int i = 0; i < FIELDERR_MAX_KEPT + 5; i++)
        fielderr_add_policy(&l, "spec.image", NULL, "denied");
    assert_true(fielderr_all_policy(&l));
    fielderr_add(&l, FIELDERR_INVALID, "spec.image", NULL, "bad");
    assert_false(fielderr_all_policy(&l));
    fielderr_release(&l);
}

static int keep_from_50(const struct fielderr *e, void *arg)
{
    (void)arg;
    return e->type == FIELDERR_TOO_MANY || strcmp(e->path, "spec.k050") >= 0;
}

static int keep_none(const struct fielderr *e, void *arg)
{
    (void)e;
    (void)arg;
    return 0;
}

/* Ratcheting filters a capped list: the total follows what is left, and
 * the cap's entry, dropped, takes every error it counted with it. */
static void test_cap_filtered(void **state)
{
    struct fielderr_list l = FIELDERR_LIST_INIT;
    char path[32], *s;

    (void)state;
    for (int i = 0; i < 150; i++) {
        snprintf(path, sizeof(path), "spec.k%03d", i);
        fielderr_add(&l, FIELDERR_FORBIDDEN, path, NULL, "unknown");
    }
    assert_int_equal(l.more, 50);
    fielderr_filter(&l, 0, keep_from_50, NULL);
    assert_int_equal(l.len, 51);
    assert_int_equal(l.total, 100);
    s = fielderr_string(&l.v[50]);
    assert_string_equal(s, "spec: Too many: 100: only the first 100 errors are listed");
    free(s);
    /* more errors still go to the cap's entry, which stays last */
    fielderr_add(&l, FIELDERR_REQUIRED, "spec.x", NULL, NULL);
    assert_int_equal(l.len, 51);
    assert_int_equal(l.total, 101);
    assert_int_equal(l.v[50].type, FIELDERR_TOO_MANY);
    fielderr_filter(&l, 0, keep_none, NULL);
    assert_int_equal(l.len, 0);
    assert_int_equal(l.total, 0);
    assert_int_equal(l.more, 0);
    fielderr_add(&l, FIELDERR_REQUIRED, "spec.y", NULL, NULL);
    assert_int_equal(l.len, 1);
    assert_int_equal(l.v[0].type, FIELDERR_REQUIRED);
    fielderr_release(&l);
}

/* A long string value is quoted in part, never cutting a UTF-8 sequence. */
static void test_long_value_clipped(void **state)
{
    struct fielderr_list l = FIELDERR_LIST_INIT;
    size_t n = 3 * FIELDERR_MAX_VALUE;
    char *text = malloc(n + 1), *body;
    json_t *v;

    (void)state;
    assert_non_null(text);
    for (size_t i = 0; i + 2 <= n; i += 2)
        memcpy(text + i, "\xc3\xa9", 2);        /* é: a cut at an odd byte would split it */
    text[n] = '\0';
    v = json_string(text);
    fielderr_add(&l, FIELDERR_INVALID, "spec.image", v, "too long");
    body = fielderr_body(&l.v[0]);
    assert_true(strlen(body) < FIELDERR_MAX_VALUE + 64);
    assert_non_null(strstr(body, "\xc3\xa9...\": too long"));
    free(body);
    fielderr_release(&l);
    json_decref(v);
    free(text);
}

/* End to end on a kind: an object with thousands of unknown fields is
 * judged with 101 entries, and the verdict is still a denial. */
static void test_kind_with_many_unknown_fields(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    struct context ctx = { .namespace = "kubeflow", .settings = &policy_builtin };
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", KINDS_API_VERSION,
                            "kind", "Dataset", "metadata", "name", "ds", "spec", "sourceUri",
                            "s3://bucket/data", "sourceSecret", "s");
    json_t *spec = json_object_get(obj, "spec"), *warnings = json_array(), *children;
    char key[32];

    (void)state;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "x%d", i);
        json_object_set_new(spec, key, json_true());
    }
    kinds_validate(kinds_of_object(obj), obj, &ctx, &errs, warnings);
    assert_int_equal(errs.total, 5000);
    assert_int_equal(errs.len, FIELDERR_MAX_KEPT + 1);
    assert_string_equal(errs.v[FIELDERR_MAX_KEPT].path, "spec");
    fielderr_release(&errs);
    /* render refuses it too, although its list is long past the cap */
    children = kinds_render(kinds_of_object(obj), obj, &ctx, &errs, warnings);
    assert_null(children);
    fielderr_release(&errs);
    /* and a list already full when an object comes still learns that the
     * object failed: the engine compares totals, not kept entries */
    for (int i = 0; i < FIELDERR_MAX_KEPT + 10; i++)
        fielderr_add(&errs, FIELDERR_REQUIRED, "earlier", NULL, NULL);
    json_object_clear(spec);
    json_object_set_new(spec, "sourceUri", json_string("s3://bucket/data"));
    children = kinds_render(kinds_of_object(obj), obj, &ctx, &errs, warnings);
    assert_null(children);      /* sourceSecret is required */
    assert_int_equal(errs.total, FIELDERR_MAX_KEPT + 11);
    fielderr_release(&errs);
    json_decref(warnings);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wording),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_cap_path),
        cmocka_unit_test(test_cap_policy),
        cmocka_unit_test(test_cap_filtered),
        cmocka_unit_test(test_long_value_clipped),
        cmocka_unit_test(test_kind_with_many_unknown_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
