/*
 * test_jsonparse.c - the parser against jansson's json_loadb().
 *
 * Differential: for every input both must agree on accept or refuse and,
 * when they accept, on the value. Inputs are hand-picked edge cases, every
 * JSON file under tests/cases, and deterministic mutations of them.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mutators/json/jsonparse.h"
#include "mutators/json/strbuf.h"

#define DEPTH 100

/* The skip set every input is also parsed with: a wildcard at the top, a
 * named path through objects, a wildcard in the middle, and paths of the
 * request members review.c and the sync hook leave unbuilt. */
static const char *const *const skip_paths[] = {
    JSONPARSE_PATH("*", "oldObject"),
    JSONPARSE_PATH("*", "options"),
    JSONPARSE_PATH("*", "b"),
    JSONPARSE_PATH("k2", "x"),
    JSONPARSE_PATH("request", "object", "metadata", "managedFields"),
    JSONPARSE_PATH("children", "*", "*", "spec"),
    NULL,
};
static const struct jsonparse_skip skip = { .paths = skip_paths };

/* Sets to null the member of v at path[at..] (objects only, "*" any key):
 * the model of what jsonparse_skipping() keeps. */
static void null_at(json_t *v, const char *const *path, size_t at)
{
    const char *key;
    json_t *m;
    void *tmp;

    if (!json_is_object(v))
        return;
    json_object_foreach_safe(v, tmp, key, m) {
        if (strcmp(path[at], "*") && strcmp(path[at], key))
            continue;
        if (!path[at + 1])
            json_object_set_new(v, key, json_null());
        else
            null_at(m, path, at + 1);
    }
}

static void null_skipped(json_t *v)
{
    for (size_t i = 0; skip_paths[i]; i++)
        null_at(v, skip_paths[i], 0);
}

/* jsonparse_skipping() refuses what jsonparse() refuses and otherwise
 * gives the same value with the skipped members null. */
static void agree_skipping(const char *buf, size_t len, const json_t *whole)
{
    struct jsonparse_error err;
    json_t *mine = jsonparse_skipping(buf, len, DEPTH, &skip, NULL, &err);
    json_t *want = whole ? json_deep_copy(whole) : NULL;

    if (want)
        null_skipped(want);
    if (!mine != !want || (mine && !json_equal(mine, want))) {
        print_error("skipping disagrees on %.*s: mine %s (%s)\n", (int)(len > 200 ? 200 : len), buf,
                    mine ? "ok" : "error", mine ? "" : err.text);
        fail();
    }
    json_decref(mine);
    json_decref(want);
}

static void agree(const char *buf, size_t len)
{
    struct jsonparse_error err;
    json_error_t jerr;
    json_t *mine = jsonparse(buf, len, DEPTH, NULL, &err);
    json_t *theirs = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);

    if (!mine != !theirs || (mine && !json_equal(mine, theirs))) {
        print_error("disagree on %.*s: mine %s (%s), jansson %s (%s)\n", (int)(len > 200 ? 200 : len), buf,
                    mine ? "ok" : "error", mine ? "" : err.text, theirs ? "ok" : "error",
                    theirs ? "" : jerr.text);
        fail();
    }
    if (!mine)
        assert_int_not_equal(err.status, JSONPARSE_OK);
    agree_skipping(buf, len, mine);
    json_decref(mine);
    json_decref(theirs);
}

static void agree_str(const char *s)
{
    agree(s, strlen(s));
}

static void test_edge_cases(void **state)
{
    static const char *const inputs[] = {
        "{}", "[]", "0", "-0", "1.5", "-1.5e10", "1E+2", "1e-2", "01", "1.", ".5", "-", "+1",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e400",
        "\"\"", "\"a\\u0000b\"", "{\"a\\u0000\":1}", "\"\\ud83d\\ude00\"", "\"\\ud83d\"",
        "\"\\ude00\"", "\"\\u12\"", "\"\\x\"", "\"a\nb\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xc0\x80\"", "\"\xe0\x80\x80\"", "\"\xf0\x80\x80\x80\"",
        "{\"a\":1,\"a\":2}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}", "{1:2}", "true", "tru",
        "nulll", " \t\r\n[ 1 , { \"k\" : [ ] } ] \n", "[", "{", "\"abc", "[1]x", "",
        "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "{\"k\":\"v\",\"k2\":{\"x\":[true,false,null]}}",
        "\"aaaaaaaaaaaaaaaaaaaaaaaa\\\"aaaaaaaaaaaaaaa\"", "\"aaaaaaaa\xc3\xa9" "aaaaaaaaaaaa\"",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        agree_str(inputs[i]);
}

/* Repeated keys inside a skipped member: in small objects, in large ones
 * (held keys sorted by hash), escaped or not, and nested (each object's
 * keys apart from its parent's). */
static void test_skipped_duplicates(void **state)
{
    struct strbuf many = STRBUF_INIT;
    static const char *const inputs[] = {
        "{\"r\":{\"b\":{\"a\":1,\"a\":2}}}",
        "{\"r\":{\"b\":{\"a\":1,\"\\u0061\":2}}}",
        "{\"r\":{\"b\":{\"\\u0061\":1,\"a\":2}}}",
        "{\"r\":{\"b\":{\"a\":{\"x\":1,\"x\":1},\"c\":2}}}",
        "{\"r\":{\"b\":{\"a\":{\"x\":1},\"x\":2}}}",
        "{\"r\":{\"b\":{\"a\":1,\"b\":[{\"a\":1}],\"\":2,\"ab\":3}}}",
        "{\"r\":{\"b\":{\"\":1,\"\":2}}}",
        "{\"r\":{\"b\":{\"a\\u0000\":1}}}",     /* a NUL in a key is refused there too */
        "{\"r\":{\"b\":{\"k:{\\\"type\\\":\\\"Ready\\\"}\":{},\"k:{\\\"type\\\":\\\"Ready\\\"}\":{}}}}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        agree_str(inputs[i]);
    for (int width = 3; width <= 300; width *= 10) {
        for (int dup = -1; dup < width; dup += 1 + width / 7) {  /* width keys, then a repeat of key dup */
            strbuf_release(&many);
            strbuf_addstr(&many, "{\"r\":{\"b\":{");
            for (int k = 0; k < width; k++)
                strbuf_addf(&many, k % 3 ? "%s\"k%d\":%d" : "%s\"\\u006b%d\":{\"k%d\":1}", k ? "," : "", k, k);
            if (dup >= 0)
                strbuf_addf(&many, ",\"k%d\":0", dup);
            strbuf_addstr(&many, "}}}");
            agree(many.buf, many.len);
        }
    }
    strbuf_release(&many);
}

static const char *const path_nothing[] = { "nothing", NULL };
static const char *const path_cd[] = { "c", "d", NULL };
static const char *const path_x[] = { "x", NULL };

/* The skip set's own limits, and where a repeat inside skipped text is
 * reported (the later key). */
static void test_skip_set(void **state)
{
    const char *const *const empty_path[] = { JSONPARSE_PATH("a"), (const char *const[]){ NULL }, NULL };
    const struct jsonparse_skip bad = { .paths = empty_path };
    const char *const *many[JSONPARSE_SKIP_MAX + 2];
    struct jsonparse_skip most = { .paths = many };
    struct jsonparse_error err;
    const char *text = "{\"x\":1,\"b\":2,\"c\":{\"d\":3}}";
    json_t *v;

    (void)state;
    assert_null(jsonparse_skipping("{}", 2, DEPTH, &bad, NULL, &err));
    assert_string_equal(err.text, "invalid skip set");
    for (size_t i = 0; i < JSONPARSE_SKIP_MAX; i++)
        many[i] = i + 1 < JSONPARSE_SKIP_MAX ? path_nothing : path_cd;
    many[JSONPARSE_SKIP_MAX] = NULL;
    v = jsonparse_skipping(text, strlen(text), DEPTH, &most, NULL, &err);
    assert_non_null(v);
    assert_true(json_is_null(json_object_get(json_object_get(v, "c"), "d")));
    assert_int_equal(json_integer_value(json_object_get(v, "b")), 2);
    json_decref(v);
    many[JSONPARSE_SKIP_MAX] = path_x;
    many[JSONPARSE_SKIP_MAX + 1] = NULL;
    assert_null(jsonparse_skipping(text, strlen(text), DEPTH, &most, NULL, &err));
    assert_string_equal(err.text, "invalid skip set");

    text = "{\"r\":{\"b\":{\"a\":1,\n\"c\":2,\n  \"a\":3}}}";
    assert_null(jsonparse_skipping(text, strlen(text), DEPTH, &skip, NULL, &err));
    assert_string_equal(err.text, "duplicate object key");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 3);
}

/* A byte that ends the plain run of a string (its closing quote, an
 * escape, a control, a multibyte or invalid UTF-8 sequence) at every
 * position of the sixteen- and eight-byte scans, in a string and as a key. */
#define A40 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B40 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_strings_at_every_offset(void **state)
{
    static const char *const specials[] = { "\"", "\\n", "\\\"", "\\u00e9", "\x01", "\x1f", "\x7f",
                                            "\xc3\xa9", "\xe2\x82\xac", "\xc3", "\xff" };
    char buf[160];

    (void)state;
    for (size_t s = 0; s < sizeof(specials) / sizeof(specials[0]); s++) {
        for (size_t at = 0; at < 40; at++) {
            int n = snprintf(buf, sizeof(buf), "{\"%.*s%sz\":\"%.*s%sz\"}", (int)at, A40,
                             specials[s], (int)at, B40, specials[s]);

            agree(buf, (size_t)n);
        }
    }
}

static void test_depth_cap(void **state)
{
    char buf[2 * DEPTH + 4];
    struct jsonparse_error err;
    json_t *v;

    (void)state;
    memset(buf, '[', DEPTH);
    memset(buf + DEPTH, ']', DEPTH);
    v = jsonparse(buf, 2 * DEPTH, DEPTH, NULL, &err);
    assert_non_null(v);
    json_decref(v);
    memset(buf, '[', DEPTH + 1);
    memset(buf + DEPTH + 1, ']', DEPTH + 1);
    assert_null(jsonparse(buf, 2 * DEPTH + 2, DEPTH, NULL, &err));
    assert_int_equal(err.status, JSONPARSE_TOO_DEEP);
}

static void test_error_position(void **state)
{
    struct jsonparse_error err;

    (void)state;
    assert_null(jsonparse("{\n  \"a\": x}", 11, DEPTH, NULL, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 8);
}

/* Every JSON file of the case suite, whole and mutated. */
static void walk(const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[1024];
        FILE *f;
        char *buf;
        long n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            walk(path, count);
            continue;
        }
        if (!strstr(e->d_name, ".json") || !(f = fopen(path, "rb")))
            continue;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        agree(buf, (size_t)n);
        /* deterministic mutations: truncations and byte flips */
        for (long i = 1; i < n; i += 1 + n / 16) {
            char saved = buf[i];

            agree(buf, (size_t)i);
            buf[i] = "\"\\{}[],:0\x01\xc3-e"[i % 14];
            agree(buf, (size_t)n);
            buf[i] = saved;
        }
        free(buf);
        (*count)++;
    }
    closedir(d);
}

static void test_case_files(void **state)
{
    unsigned count = 0;

    (void)state;
    walk("tests/cases", &count);
    assert_true(count > 100);
}

/* Where each skipped member's value lies: the last match of a path, none
 * (len 0) for a path nothing matched, white space around it left out. */
static void test_skip_spans(void **state)
{
    const char *text = "{\"k2\":{\"x\": [1, {\"y\":\"z\"}] ,\"w\":0},\"q\":{\"b\":\"one\"},\"p\":{\"b\":null}}";
    struct jsonparse_span spans[JSONPARSE_SKIP_MAX];
    struct jsonparse_error err;
    json_t *v;

    (void)state;
    memset(spans, 0xff, sizeof(spans));
    v = jsonparse_spans(text, strlen(text), DEPTH, &skip, spans, NULL, &err);
    assert_non_null(v);
    assert_int_equal(spans[3].len, strlen("[1, {\"y\":\"z\"}]"));
    assert_memory_equal(text + spans[3].at, "[1, {\"y\":\"z\"}]", spans[3].len);
    assert_int_equal(spans[2].len, 4);          /* "*", "b": the last, p's */
    assert_memory_equal(text + spans[2].at, "null", 4);
    assert_int_equal(spans[0].len, 0);
    assert_int_equal(spans[5].len, 0);
    json_decref(v);
}

/* A built path: its member is read into the tree as any other (repeated
 * keys in it refused as jansson's are), and its span kept as a skipped
 * one's; the other paths are still skipped. */
static void test_built_spans(void **state)
{
    static const struct jsonparse_skip built = { .paths = skip_paths, .built = 1u << 3 };   /* "k2", "x" */
    const char *text = "{\"k2\":{\"x\": [1, {\"y\":\"z\"}] ,\"w\":0},\"q\":{\"b\":\"one\"}}";
    const char *repeated = "{\"k2\":{\"x\":{\"y\":1,\"y\":2}}}";
    struct jsonparse_span spans[JSONPARSE_SKIP_MAX];
    struct jsonparse_error err;
    json_t *v, *want = json_loads("[1, {\"y\":\"z\"}]", 0, NULL);

    (void)state;
    v = jsonparse_spans(text, strlen(text), DEPTH, &built, spans, NULL, &err);
    assert_non_null(v);
    assert_true(json_equal(json_object_get(json_object_get(v, "k2"), "x"), want));
    assert_memory_equal(text + spans[3].at, "[1, {\"y\":\"z\"}]", spans[3].len);
    assert_true(json_is_null(json_object_get(json_object_get(v, "q"), "b")));
    assert_memory_equal(text + spans[2].at, "\"one\"", spans[2].len);
    json_decref(v);
    json_decref(want);
    assert_null(jsonparse_spans(repeated, strlen(repeated), DEPTH, &built, spans, NULL, &err));
    assert_string_equal(err.text, "duplicate object key");
}

/* A raw path: each member it names ("*" too) is kept as a string of its
 * JSON text, checked as a skipped one is. */
static void test_raw_members(void **state)
{
    static const struct jsonparse_skip raw = { .paths = skip_paths, .raw = 1u << 2 };     /* "*", "b" */
    const char *text = "{\"q\":{\"b\":\"o\\\"ne\"},\"p\":{\"b\":{\"x\": [1]}},\"k2\":{\"x\":2}}";
    const char *bad = "{\"q\":{\"b\":\"\\x\"}}";
    struct jsonparse_error err;
    json_t *v;

    (void)state;
    v = jsonparse_skipping(text, strlen(text), DEPTH, &raw, NULL, &err);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "q"), "b")), "\"o\\\"ne\"");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "p"), "b")), "{\"x\": [1]}");
    assert_true(json_is_null(json_object_get(json_object_get(v, "k2"), "x")));     /* skipped still */
    json_decref(v);
    assert_null(jsonparse_skipping(bad, strlen(bad), DEPTH, &raw, NULL, &err));
    assert_string_equal(err.text, "invalid escape");
}

/* A skipped string is only checked, not unescaped (string(), keep 0):
 * every escape and byte it refuses, it refuses there too. */
static void test_skipped_strings_checked(void **state)
{
    static const char *const strings[] = {
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00 and plain text\"",
        "\"{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"Job\\\"}\"",
        "\"a\\qb\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\ud800\\u0041\"", "\"\\udc00\"",
        "\"tab\tin\"", "\"\xc3(\"", "\"\xed\xa0\x80\"", "\"end\\\"", "\"\\",
    };
    char buf[256];

    (void)state;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        snprintf(buf, sizeof(buf), "{\"q\":{\"b\":%s},\"r\":1}", strings[i]);
        agree_str(buf);
    }
}

/* A skipped string's escapes and stops two at a time, at every position
 * of the sixteen-byte scan: runs of backslashes, an escape split over two
 * blocks, a closing quote after an escaped one, and the bytes after the
 * closing quote in its block (white space, which a string's check must
 * not refuse). */
static void test_skipped_pairs_at_every_offset(void **state)
{
    static const char *const specials[] = { "\\\"", "\\\\", "\\/", "\\n", "\\u00e9", "\\x", "\\",
                                            "\x01", "\xc3\xa9", "\xff", "\"" };
    const size_t n = sizeof(specials) / sizeof(specials[0]);
    char buf[200];

    (void)state;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            for (size_t at = 0; at < 34; at++) {
                int len = snprintf(buf, sizeof(buf), "{\"q\":{\"b\":\"%.*s%s%.*s%sz\"\n\t}}", (int)at, A40,
                                   specials[a], (int)(at % 5), B40, specials[b]);

                agree(buf, (size_t)len);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_skipped_duplicates),
        cmocka_unit_test(test_skip_set),
        cmocka_unit_test(test_skip_spans),
        cmocka_unit_test(test_built_spans),
        cmocka_unit_test(test_raw_members),
        cmocka_unit_test(test_skipped_strings_checked),
        cmocka_unit_test(test_skipped_pairs_at_every_offset),
        cmocka_unit_test(test_strings_at_every_offset),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_case_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
