/*
 * Unit tests of mutators/patch.c: the shapes of the RFC 6902 patches that
 * patch_diff() writes, as the kube-apiserver will apply them strictly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/patch.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);

    if (!v)
        fail_msg("bad test JSON %s: %s", text, err.text);
    return v;
}

/* Asserts that the diff of from and to (JSON texts) is exactly want (a
 * JSON text of the operation list, compared as JSON values). */
static void assert_diff(const char *from, const char *to, const char *want)
{
    json_t *f = parse(from), *t = parse(to), *w = parse(want), *got = patch_diff(f, t);
    char *text;

    assert_non_null(got);
    if (!json_equal(got, w)) {
        text = json_dumps(got, JSON_COMPACT);
        fail_msg("diff %s -> %s\n got  %s\n want %s", from, to, text, want);
    }
    json_decref(got);
    json_decref(w);
    json_decref(t);
    json_decref(f);
}

static void test_equal_documents_give_no_operations(void **state)
{
    (void)state;
    assert_diff("{}", "{}", "[]");
    assert_diff("{\"a\":{\"b\":[1,{\"c\":null}]}}", "{\"a\":{\"b\":[1,{\"c\":null}]}}", "[]");
    /* member order does not matter */
    assert_diff("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", "[]");
}

static void test_member_add_remove_replace(void **state)
{
    (void)state;
    assert_diff("{\"a\":1}", "{\"a\":1,\"b\":2}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]");
    assert_diff("{\"a\":1,\"b\":2}", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]");
    assert_diff("{\"a\":1}", "{\"a\":\"1\"}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"1\"}]");
    /* 1, 1.0 and true are different values */
    assert_diff("{\"a\":1}", "{\"a\":1.0}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1.0}]");
    assert_diff("{\"a\":1}", "{\"a\":true}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":true}]");
}

static void test_add_carries_null_value(void **state)
{
    json_t *from = json_object(), *to = json_pack("{s:n}", "a"), *ops = patch_diff(from, to);

    (void)state;
    assert_int_equal(json_array_size(ops), 1);
    /* "value": null must be present: an add without value is refused */
    assert_non_null(json_object_get(json_array_get(ops, 0), "value"));
    assert_true(json_is_null(json_object_get(json_array_get(ops, 0), "value")));
    json_decref(ops);
    json_decref(to);
    json_decref(from);
}

static void test_nested_objects_recurse(void **state)
{
    (void)state;
    assert_diff("{\"spec\":{\"a\":1,\"b\":{\"c\":1}}}", "{\"spec\":{\"a\":2,\"b\":{\"c\":1,\"d\":3}}}",
                "[{\"op\":\"replace\",\"path\":\"/spec/a\",\"value\":2},"
                "{\"op\":\"add\",\"path\":\"/spec/b/d\",\"value\":3}]");
}

/* The apiserver applies patches strictly: add never creates a parent. */
static void test_missing_parent_map_added_whole(void **state)
{
    (void)state;
    assert_diff("{\"metadata\":{}}", "{\"metadata\":{},\"spec\":{\"a\":1,\"b\":{\"c\":2}}}",
                "[{\"op\":\"add\",\"path\":\"/spec\",\"value\":{\"a\":1,\"b\":{\"c\":2}}}]");
    assert_diff("{\"spec\":{}}", "{\"spec\":{\"x\":{\"y\":{\"z\":1}}}}",
                "[{\"op\":\"add\",\"path\":\"/spec/x\",\"value\":{\"y\":{\"z\":1}}}]");
}

static void test_arrays_and_type_changes_replaced_whole(void **state)
{
    (void)state;
    assert_diff("{\"l\":[1,2,3]}", "{\"l\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/l\",\"value\":[1,2]}]");
    assert_diff("{\"l\":[{\"a\":1}]}", "{\"l\":[{\"a\":2}]}",
                "[{\"op\":\"replace\",\"path\":\"/l\",\"value\":[{\"a\":2}]}]");
    assert_diff("{\"s\":[\"x\"]}", "{\"s\":{\"a\":1}}", "[{\"op\":\"replace\",\"path\":\"/s\",\"value\":{\"a\":1}}]");
    assert_diff("{\"s\":{\"a\":1}}", "{\"s\":\"x\"}", "[{\"op\":\"replace\",\"path\":\"/s\",\"value\":\"x\"}]");
}

static void test_pointer_escaping(void **state)
{
    (void)state;
    assert_diff("{}", "{\"a/b\":1}", "[{\"op\":\"add\",\"path\":\"/a~1b\",\"value\":1}]");
    assert_diff("{}", "{\"c~d\":1}", "[{\"op\":\"add\",\"path\":\"/c~0d\",\"value\":1}]");
    /* ~ is escaped first, so "~1" is not read back as "/" */
    assert_diff("{}", "{\"~1\":1}", "[{\"op\":\"add\",\"path\":\"/~01\",\"value\":1}]");
    assert_diff("{\"~/\":1}", "{}", "[{\"op\":\"remove\",\"path\":\"/~0~1\"}]");
    assert_diff("{\"m\":{\"app.kubernetes.io/name\":\"a\"}}", "{\"m\":{\"app.kubernetes.io/name\":\"b\"}}",
                "[{\"op\":\"replace\",\"path\":\"/m/app.kubernetes.io~1name\",\"value\":\"b\"}]");
    /* the empty key is a valid token */
    assert_diff("{}", "{\"\":1}", "[{\"op\":\"add\",\"path\":\"/\",\"value\":1}]");
    assert_diff("{\"\":{\"\":1}}", "{\"\":{\"\":2}}", "[{\"op\":\"replace\",\"path\":\"//\",\"value\":2}]");
}

static void test_unicode_keys_and_values(void **state)
{
    (void)state;
    assert_diff("{}", "{\"\xe6\xa8\xa1\xe5\x9e\x8b\":\"\xc3\xa9\"}",
                "[{\"op\":\"add\",\"path\":\"/\xe6\xa8\xa1\xe5\x9e\x8b\",\"value\":\"\xc3\xa9\"}]");
}

static void test_sibling_paths_do_not_leak(void **state)
{
    (void)state;
    /* after recursing into one member, the next path starts afresh */
    assert_diff("{\"a\":{\"x\":1},\"b\":{\"y\":1},\"c\":1}", "{\"a\":{\"x\":2},\"b\":{\"y\":2}}",
                "[{\"op\":\"remove\",\"path\":\"/c\"},{\"op\":\"replace\",\"path\":\"/a/x\",\"value\":2},"
                "{\"op\":\"replace\",\"path\":\"/b/y\",\"value\":2}]");
}

static void test_non_object_roots_replace_whole_document(void **state)
{
    (void)state;
    assert_diff("[1]", "[2]", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[2]}]");
}

/* n levels of {"k": ...} around leaf (stolen); a new reference. */
static json_t *nest(int n, json_t *leaf)
{
    json_t *v = leaf;

    for (int i = 0; i < n; i++)
        v = json_pack("{s:o}", "k", v);
    return v;
}

/* Past the depth cap the subtree is replaced whole: the diff stays correct
 * and its recursion bounded. */
static void test_depth_cap_replaces_deep_subtrees(void **state)
{
    json_t *from = nest(500, json_integer(1)), *to = nest(500, json_integer(2));
    json_t *ops = patch_diff(from, to), *op;
    const char *path;

    (void)state;
    assert_non_null(ops);
    assert_int_equal(json_array_size(ops), 1);
    op = json_array_get(ops, 0);
    assert_string_equal(json_string_value(json_object_get(op, "op")), "replace");
    path = json_string_value(json_object_get(op, "path"));
    assert_true(strlen(path) > 0 && strlen(path) < 500 * 2);
    json_decref(ops);
    json_decref(to);
    json_decref(from);
}

/* The inputs are borrowed and left as they were. */
static void test_inputs_unchanged(void **state)
{
    json_t *from = parse("{\"a\":{\"b\":1},\"c\":[1]}"), *to = parse("{\"a\":{\"b\":2},\"d\":{}}");
    json_t *from_copy = json_deep_copy(from), *to_copy = json_deep_copy(to);
    json_t *ops = patch_diff(from, to);

    (void)state;
    assert_true(json_equal(from, from_copy));
    assert_true(json_equal(to, to_copy));
    json_decref(ops);
    json_decref(from);
    json_decref(to);
    json_decref(from_copy);
    json_decref(to_copy);
}

/* ---- applying a patch, to check random diffs by their effect ---- */

static uint32_t rng = 2463534242u;

static unsigned next_rand(unsigned n)
{
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng % n;
}

static const char *const keys[] = { "a", "b", "c", "d", "e/f", "g~h" };

/* A random object: members drawn from keys in a random order, values small
 * integers or (above depth 0) objects again. */
static json_t *random_object(int depth)
{
    json_t *o = json_object();
    unsigned n = next_rand(6);

    for (unsigned i = 0; i < n; i++)
        json_object_set_new(o, keys[next_rand(6)],
                            depth > 0 && next_rand(3) == 0 ? random_object(depth - 1) : json_integer(next_rand(3)));
    return o;
}

/* to as a mutated copy of from: the same order, members set in place,
 * some deleted, new ones after. */
static json_t *mutated(json_t *from)
{
    json_t *to = json_copy(from);

    for (unsigned i = next_rand(4); i > 0; i--) {
        const char *k = keys[next_rand(6)];

        if (next_rand(3) == 0)
            json_object_del(to, k);
        else
            json_object_set_new(to, k, next_rand(2) ? json_integer(next_rand(3)) : random_object(1));
    }
    return to;
}

/* Applies add, remove and replace ops (object paths only) to doc. */
static void apply(json_t *doc, const json_t *ops)
{
    size_t i;
    json_t *op;

    json_array_foreach(ops, i, op) {
        const char *kind = json_string_value(json_object_get(op, "op"));
        char path[256], *tok, *slash, *r, *w;
        json_t *parent = doc;

        snprintf(path, sizeof(path), "%s", json_string_value(json_object_get(op, "path")));
        assert_true(path[0] == '/');
        for (tok = path + 1;; tok = slash + 1) {
            slash = strchr(tok, '/');
            if (slash)
                *slash = '\0';
            for (r = w = tok; *r; r++)
                *w++ = r[0] == '~' ? (*++r == '1' ? '/' : '~') : *r;
            *w = '\0';
            if (!slash)
                break;
            parent = json_object_get(parent, tok);
            assert_non_null(parent);
        }
        if (!strcmp(kind, "remove")) {
            assert_int_equal(json_object_del(parent, tok), 0);
        } else {
            assert_int_equal(!strcmp(kind, "replace"), json_object_get(parent, tok) != NULL);
            json_object_set(parent, tok, json_object_get(op, "value"));
        }
    }
}

/* Random pairs, mutated copies (the members' order shared) and unrelated
 * objects (orders apart): the patch turns from into to. */
static void test_random_diffs_apply(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_t *from = random_object(2), *to = i % 3 ? mutated(from) : random_object(2);
        json_t *ops = patch_diff(from, to), *doc = json_deep_copy(from);

        assert_non_null(ops);
        apply(doc, ops);
        if (!json_equal(doc, to)) {
            char *a = json_dumps(from, JSON_COMPACT), *b = json_dumps(to, JSON_COMPACT);

            fail_msg("diff %s -> %s does not apply", a, b);
        }
        json_decref(doc);
        json_decref(ops);
        json_decref(to);
        json_decref(from);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_documents_give_no_operations),
        cmocka_unit_test(test_member_add_remove_replace),
        cmocka_unit_test(test_add_carries_null_value),
        cmocka_unit_test(test_nested_objects_recurse),
        cmocka_unit_test(test_missing_parent_map_added_whole),
        cmocka_unit_test(test_arrays_and_type_changes_replaced_whole),
        cmocka_unit_test(test_pointer_escaping),
        cmocka_unit_test(test_unicode_keys_and_values),
        cmocka_unit_test(test_sibling_paths_do_not_leak),
        cmocka_unit_test(test_non_object_roots_replace_whole_document),
        cmocka_unit_test(test_depth_cap_replaces_deep_subtrees),
        cmocka_unit_test(test_inputs_unchanged),
        cmocka_unit_test(test_random_diffs_apply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
