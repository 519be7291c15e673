/*
 * test_yaml.c - YAML 1.1 scalar resolution, multi-document input, JSON
 * input, the caps, and that what yaml_dump_all() writes reads back equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "webhook/yaml.h"

static json_t *load(const char *text, char err[YAML_MAX_ERROR])
{
    return yaml_load_all(text, strlen(text), err);
}

/* "v: <scalar>" reads as {"v": <json>}. */
static void test_scalars(void **state)
{
    static const char *const cases[][2] = {
        { "1", "1" }, { "-12", "-12" }, { "+5", "5" }, { "0x1F", "31" }, { "-0x10", "-16" },
        { "0o17", "15" }, { "017", "15" }, { "0b101", "5" }, { "1_000", "1000" },
        { "1.5", "1.5" }, { "1e3", "1000.0" }, { ".5", "0.5" }, { "08", "8.0" },
        { "true", "true" }, { "True", "true" }, { "yes", "true" }, { "ON", "true" }, { "y", "true" },
        { "false", "false" }, { "no", "false" }, { "Off", "false" }, { "n", "false" },
        { "null", "null" }, { "~", "null" }, { "", "null" },
        { "\"1\"", "\"1\"" }, { "'true'", "\"true\"" }, { "\"\"", "\"\"" }, { "!!str 12", "\"12\"" },
        { "!!int 12", "12" }, { "!!float 1", "1.0" }, { "!!bool yes", "true" }, { "!!null ~", "null" },
        { "abc", "\"abc\"" }, { "1.2.3", "\"1.2.3\"" }, { "0x", "\"0x\"" }, { "0,1", "\"0,1\"" },
        { "2.1.3-gpu", "\"2.1.3-gpu\"" }, { "-m", "\"-m\"" }, { "Global.x=1;rm -rf /", "\"Global.x=1;rm -rf /\"" },
        { "|\n  a\n  b\n", "\"a\\nb\\n\"" }, { "[1, two, {x: 3}]", "[1, \"two\", {\"x\": 3}]" },
    };
    char err[YAML_MAX_ERROR], text[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *docs, *want;

        snprintf(text, sizeof(text), "v: %s\n", cases[i][0]);
        docs = load(text, err);
        want = json_loads(cases[i][1], JSON_DECODE_ANY, NULL);
        if (!docs || !json_equal(json_object_get(json_array_get(docs, 0), "v"), want))
            fail_msg("\"%s\" should read as %s (%s)", cases[i][0], cases[i][1], err);
        json_decref(docs);
        json_decref(want);
    }
}

static void test_refused(void **state)
{
    static const char *const cases[][2] = {
        { "v: .inf\n", "cannot be represented in JSON" },
        { "v: !!int abc\n", "not a valid !!int" },
        { "v: !custom x\n", "unsupported tag" },
        { "a: &x 1\nb: *x\n", "aliases" },
        { "a: 1\na: 2\n", "duplicate key" },
        { "? [a]\n: 1\n", "mapping keys must be scalars" },
        { "a: [\n", "line " },
        { "a: \"x\\0y\"\n\"k\\0\": 1\n", "without NUL" },
    };
    char err[YAML_MAX_ERROR];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *docs = load(cases[i][0], err);

        if (docs || !strstr(err, cases[i][1]))
            fail_msg("%s: expected an error with \"%s\", got \"%s\"", cases[i][0], cases[i][1], err);
    }
}

static void test_documents(void **state)
{
    char err[YAML_MAX_ERROR];
    json_t *docs = load("# comment\na: 1\n---\n---\n# only a comment\n---\nb: [x]\n...\n", err);

    (void)state;
    assert_non_null(docs);
    assert_int_equal(json_array_size(docs), 2);   /* empty documents are skipped */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(docs, 0), "a")), 1);
    json_decref(docs);

    /* JSON keeps JSON's types; several values may follow each other */
    docs = load("  {\"a\": 1.0, \"b\": \"\\/x\"}\n[2]\n", err);
    assert_non_null(docs);
    assert_int_equal(json_array_size(docs), 2);
    assert_true(json_is_real(json_object_get(json_array_get(docs, 0), "a")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(docs, 0), "b")), "/x");
    json_decref(docs);

    /* flow-style YAML that is not JSON falls through to YAML */
    docs = load("{a: 1, b: yes}", err);
    assert_non_null(docs);
    assert_true(json_is_true(json_object_get(json_array_get(docs, 0), "b")));
    json_decref(docs);
}

/* "[[...]]" nested depth levels deep (a new string), after prefix. */
static char *nested(const char *prefix, size_t depth)
{
    size_t p = strlen(prefix);
    char *text = malloc(p + 2 * depth + 1);

    memcpy(text, prefix, p);
    memset(text + p, '[', depth);
    memset(text + p + depth, ']', depth);
    text[p + 2 * depth] = '\0';
    return text;
}

static void test_caps(void **state)
{
    const char *doc = "---\na: 1\n";
    size_t len = (YAML_MAX_DOCUMENTS + 1) * strlen(doc);
    char err[YAML_MAX_ERROR], *text;
    json_t *docs;

    (void)state;
    /* depth, in YAML and in JSON: the cap is allowed, one more is not */
    text = nested("", YAML_MAX_DEPTH);
    docs = load(text, err);
    assert_non_null(docs);
    json_decref(docs);
    free(text);
    text = nested("", YAML_MAX_DEPTH + 1);
    assert_null(load(text, err));
    assert_non_null(strstr(err, "nesting"));
    free(text);
    text = nested("v: ", YAML_MAX_DEPTH);
    assert_null(load(text, err));
    assert_non_null(strstr(err, "nesting"));
    free(text);

    /* documents */
    text = malloc(len + 1);
    for (size_t i = 0; i <= YAML_MAX_DOCUMENTS; i++)
        memcpy(text + i * strlen(doc), doc, strlen(doc));
    text[len] = '\0';
    assert_null(load(text, err));
    assert_non_null(strstr(err, "documents"));
    free(text);

    /* input size */
    text = malloc(YAML_MAX_INPUT + 1);
    memset(text, '#', YAML_MAX_INPUT + 1);
    assert_null(yaml_load_all(text, YAML_MAX_INPUT + 1, err));
    assert_non_null(strstr(err, "larger"));
    free(text);
}

static void test_round_trip(void **state)
{
    static const char *const strings[] = {
        "true", "yes", "on", "y", "N", "null", "~", "", "8040", "0x1F", "1_000", "017", "1e3", ".inf",
        "1:20", "2001-12-14", "0,1", "-m", "--gpus", "a: b", "- x", "#x", "x #y", "'q'", "\"dq\"",
        "set -eu\nexec \"$@\" \"$key=$found\"\n", " lead", "trail ", "$(curl evil)", "é ü 中",
        "Train.dataset.label_file_list=[\"/mnt/data-center/a.txt\"]", "<<", "=", "*alias", "&anchor",
        "!tag", "%directive", "@at", "`tick`", "{x}", "[y]", "a\tb", "\x01",
    };
    json_t *doc = json_pack("{s:i, s:f, s:f, s:b, s:n, s:[], s:{}}", "int", -3, "real", 1.0, "real2", 2.5e-8,
                            "bool", 1, "null", "empty_list", "empty_map");
    json_t *list = json_array(), *docs = json_array(), *back;
    char err[YAML_MAX_ERROR], *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    (void)state;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        json_array_append_new(list, json_string(strings[i]));
    json_object_set_new(doc, "strings", list);
    json_object_set_new(doc, "true", json_string("key that reads as a bool"));
    json_array_append_new(docs, doc);
    json_array_append_new(docs, json_pack("{s:s}", "second", "document"));
    assert_int_equal(yaml_dump_all(docs, f), 0);
    fclose(f);
    back = yaml_load_all(out, len, err);
    if (!back || !json_equal(back, docs))
        fail_msg("round trip differs (%s):\n%s", err, out);
    assert_non_null(strstr(out, "---\n"));
    json_decref(back);
    json_decref(docs);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
