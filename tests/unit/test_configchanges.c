/*
 * Unit tests of mutators/configchanges.c: splitting of spec.configChanges
 * (SPEC §4.1), its key and value rules, reserved keys and its caps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/configchanges.h"

#define PATH "spec.configChanges"

/* Parses s without a project and checks the entries equal the
 * NULL-terminated want list, in order, with no error. */
static void assert_entries_p(const char *s, const struct project *p, const char *const *want)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *out = configchanges_parse(s, PATH, p, &errs);
    size_t n = 0;

    if (!out) {
        char *line = errs.len ? fielderr_string(&errs.v[0]) : NULL;

        fail_msg("\"%s\" refused: %s", s, line ? line : "(no error)");
    }
    assert_int_equal(errs.len, 0);
    while (want[n])
        n++;
    if (json_array_size(out) != n)
        fail_msg("\"%s\": %zu entries, want %zu", s, json_array_size(out), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(out, i)), want[i]);
    json_decref(out);
    fielderr_release(&errs);
}
#define assert_entries(s, ...) assert_entries_p((s), NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define assert_no_entries(s) assert_entries_p((s), NULL, (const char *const[]){ NULL })

/* Parses s and returns the errors (NULL result required); the caller
 * releases errs. */
static void parse_errors(const char *s, const struct project *p, struct fielderr_list *errs)
{
    json_t *out = configchanges_parse(s, PATH, p, errs);

    if (out) {
        json_decref(out);
        fail_msg("\"%s\" accepted", s);
    }
    assert_true(errs->len > 0);
    for (size_t i = 0; i < errs->len; i++)
        assert_string_equal(errs->v[i].path, PATH);
}

/* The "<path>: <body>" line of the only error of s. */
static char *only_error(const char *s, const struct project *p)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    char *line;

    parse_errors(s, p, &errs);
    if (errs.len != 1)
        fail_msg("\"%s\": %zu errors, want 1", s, errs.len);
    line = fielderr_string(&errs.v[0]);
    fielderr_release(&errs);
    return line;
}

static void assert_error(const char *s, const struct project *p, const char *want)
{
    char *line = only_error(s, p);

    if (strcmp(line, want))
        fail_msg("\"%s\": got '%s', want '%s'", s, line, want);
    free(line);
}

static void test_splits_in_order(void **state)
{
    (void)state;
    assert_entries("Global.epoch_num=10,Global.log_smooth_window=2", "Global.epoch_num=10",
                   "Global.log_smooth_window=2");
    assert_entries("b=2,a=1", "b=2", "a=1");
    assert_entries("a=1", "a=1");
}

static void test_brackets_and_quotes_do_not_split(void **state)
{
    (void)state;
    assert_entries("Train.dataset.label_file_list=[\"a.txt\",\"b.txt\"],Global.x=1",
                   "Train.dataset.label_file_list=[\"a.txt\",\"b.txt\"]", "Global.x=1");
    assert_entries("a={x: 1, y: [2, 3]},b=2", "a={x: 1, y: [2, 3]}", "b=2");
    /* SPEC §4.1 groups only brackets, braces and quotes: parentheses are text */
    assert_entries("Global.smiley=:),b=2", "Global.smiley=:)", "b=2");
    /* an apostrophe inside a word is text, not a quote */
    assert_entries("Global.name=O'Brien,b=2", "Global.name=O'Brien", "b=2");
    assert_entries("a=\"x,y\",b='p,q'", "a=\"x,y\"", "b='p,q'");
    /* a quote of the other kind inside quotes is plain text */
    assert_entries("a=\"it's, fine\",b=1", "a=\"it's, fine\"", "b=1");
    /* brackets inside quotes do not count */
    assert_entries("a=\"[,\",b=1", "a=\"[,\"", "b=1");
    /* an escaped quote does not end the string */
    assert_entries("a=\"x\\\",y\",b=1", "a=\"x\\\",y\"", "b=1");
    assert_entries("a=[[1,2],[3,{k: [4,5]}]]", "a=[[1,2],[3,{k: [4,5]}]]");
}

static void test_trims_and_skips_empty_entries(void **state)
{
    (void)state;
    assert_entries("  a = 1 ,\tb=2\n", "a=1", "b=2");
    assert_entries("a=1,,b=2,", "a=1", "b=2");
    assert_entries(",a=1", "a=1");
    assert_entries("a = x y ", "a=x y");
    assert_no_entries("");
    assert_no_entries(" , ,, ");
}

static void test_value_may_hold_equals_and_unicode(void **state)
{
    (void)state;
    assert_entries("a=b=c", "a=b=c");
    assert_entries("Global.character_type=\xe4\xb8\xad\xe6\x96\x87", "Global.character_type=\xe4\xb8\xad\xe6\x96\x87");
    assert_entries("_a.b_1._c=1", "_a.b_1._c=1");
}

static void test_bad_keys(void **state)
{
    static const char *const bad[] = { "1a=1", "a..b=1", "a.=1", ".a=1", "a-b=1", "a b=1", "=1", "a.1b=1",
                                       "a[0]=1", "\xc3\xa9=1" };
    char want[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want), PATH ": Invalid value: \"%s\": key must be dot-separated identifiers "
                 "[A-Za-z_][A-Za-z0-9_]*", bad[i]);
        assert_error(bad[i], NULL, want);
    }
}

static void test_bad_entries_and_values(void **state)
{
    (void)state;
    assert_error("Global.epoch_num", NULL, PATH ": Invalid value: \"Global.epoch_num\": entry must be KEY=VALUE");
    assert_error("a=", NULL, PATH ": Invalid value: \"a=\": value must not be empty");
    assert_error("a=  ,b=1", NULL, PATH ": Invalid value: \"a=\": value must not be empty");
    assert_error("a=x\ty", NULL, PATH ": Invalid value: \"a=x\\ty\": value must not contain control characters");
    assert_error("a=x\x01y", NULL,
                 PATH ": Invalid value: \"a=x\\u0001y\": value must not contain control characters");
    assert_error("a=x\x7fy", NULL, PATH ": Invalid value: \"a=x\x7fy\": value must not contain control characters");
}

static void test_duplicates(void **state)
{
    (void)state;
    assert_error("a=1,a=2", NULL, PATH ": Duplicate value: \"a\"");
    assert_error(" a =1, a= 2", NULL, PATH ": Duplicate value: \"a\"");
    /* a key that is a prefix of another is not a duplicate */
    assert_entries("a.b=1,a.bc=2,a=3", "a.b=1", "a.bc=2", "a=3");
    /* keys are case-sensitive */
    assert_entries("a=1,A=2", "a=1", "A=2");
}

static void test_reserved_keys_name_the_field(void **state)
{
    const struct project *ocr = projects_find("PaddleOCR");
    const struct project *clas = projects_find("paddleclas");
    char *line;

    (void)state;
    assert_non_null(ocr);
    assert_non_null(clas);
    assert_error("Global.pretrained_model=x", ocr,
                 PATH ": Forbidden: key \"Global.pretrained_model\" is set by the webhook: use spec.pretrainModel");
    assert_error("Train.dataset.label_file_list=[x]", ocr,
                 PATH ": Forbidden: key \"Train.dataset.label_file_list\" is set by the webhook: use spec.trainLabel");
    assert_error("Eval.dataset.label_file_list=[x]", ocr,
                 PATH ": Forbidden: key \"Eval.dataset.label_file_list\" is set by the webhook: use spec.testLabel");
    assert_error("Global.use_visualdl=False", ocr,
                 PATH ": Forbidden: key \"Global.use_visualdl\" is set by the webhook: use spec.useVisualDL");
    line = only_error(" Global.save_model_dir = /x ", ocr);
    assert_non_null(strstr(line, "Forbidden: key \"Global.save_model_dir\" is set by the webhook"));
    free(line);
    /* what is reserved depends on the project */
    assert_error("Global.output_dir=/x", clas,
                 PATH ": Forbidden: key \"Global.output_dir\" is set by the webhook: use spec.pvcName");
    assert_entries_p("Global.save_model_dir=/x", clas, (const char *const[]){ "Global.save_model_dir=/x", NULL });
    /* without a project nothing is reserved */
    assert_entries("Global.pretrained_model=x", "Global.pretrained_model=x");
    /* reserved keys match exactly, not by prefix or case */
    assert_entries_p("Global.pretrained_model_x=1,global.pretrained_model=2", ocr,
                     (const char *const[]){ "Global.pretrained_model_x=1", "global.pretrained_model=2", NULL });
}

static void test_every_bad_entry_is_reported(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;

    (void)state;
    parse_errors("1a=1,b=,c=1,c=2,ok=1,Global.pretrained_model=m,noequals", projects_find("PaddleOCR"), &errs);
    assert_int_equal(errs.len, 5);
    assert_int_equal(errs.v[0].type, FIELDERR_INVALID);
    assert_int_equal(errs.v[1].type, FIELDERR_INVALID);
    assert_int_equal(errs.v[2].type, FIELDERR_DUPLICATE);
    assert_int_equal(errs.v[3].type, FIELDERR_FORBIDDEN);
    assert_int_equal(errs.v[4].type, FIELDERR_INVALID);
    fielderr_release(&errs);
}

static void test_appends_after_existing_errors(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *out;

    (void)state;
    fielderr_add(&errs, FIELDERR_REQUIRED, "spec.image", NULL, NULL);
    out = configchanges_parse("a=1,b=2", PATH, NULL, &errs);
    /* an earlier, unrelated error does not make a good field fail */
    assert_non_null(out);
    assert_int_equal(json_array_size(out), 2);
    assert_int_equal(errs.len, 1);
    json_decref(out);
    out = configchanges_parse("a=", PATH, NULL, &errs);
    assert_null(out);
    assert_int_equal(errs.len, 2);
    assert_string_equal(errs.v[0].path, "spec.image");
    fielderr_release(&errs);
}

static void test_structure_errors(void **state)
{
    (void)state;
    assert_error("a=\"x,b=1", NULL, PATH ": Invalid value: unterminated quote");
    assert_error("a='x", NULL, PATH ": Invalid value: unterminated quote");
    assert_error("a=[1,2", NULL, PATH ": Invalid value: unclosed bracket");
    assert_error("a={[}]", NULL, PATH ": Invalid value: unbalanced '}'");
    assert_error("a=1],b=2", NULL, PATH ": Invalid value: unbalanced ']'");
}

static void test_nesting_cap(void **state)
{
    char s[128];
    size_t n = 0;

    (void)state;
    n += (size_t)snprintf(s, sizeof(s), "a=");
    for (int i = 0; i < 32; i++)
        s[n++] = '[';
    for (int i = 0; i < 32; i++)
        s[n++] = ']';
    s[n] = '\0';
    assert_entries_p(s, NULL, (const char *const[]){ s, NULL });
    snprintf(s, sizeof(s), "a=%.*s", 33, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    assert_error(s, NULL, PATH ": Invalid value: brackets nested too deeply");
}

static void test_length_cap(void **state)
{
    size_t n = CONFIGCHANGES_MAX_LEN;
    char *s = malloc(n + 2);
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *out;

    (void)state;
    assert_non_null(s);
    memcpy(s, "a=", 2);
    memset(s + 2, 'x', n - 2);
    s[n] = '\0';
    out = configchanges_parse(s, PATH, NULL, &errs);
    assert_non_null(out);
    json_decref(out);
    s[n] = 'x';
    s[n + 1] = '\0';
    parse_errors(s, NULL, &errs);
    assert_int_equal(errs.len, 1);
    assert_int_equal(errs.v[0].type, FIELDERR_TOO_LONG);
    assert_string_equal(errs.v[0].detail, "must have at most 16384 bytes");
    fielderr_release(&errs);
    free(s);
}

/* "k0=1,k1=1,..." with n entries, in a new string */
static char *entries(size_t n)
{
    char *s = malloc(n * 12 + 1);
    size_t len = 0;

    assert_non_null(s);
    s[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, 13, "%sk%zu=1", i ? "," : "", i);
    return s;
}

static void test_entry_cap(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    char *s = entries(CONFIGCHANGES_MAX_ENTRIES);
    json_t *out;

    (void)state;
    out = configchanges_parse(s, PATH, NULL, &errs);
    assert_non_null(out);
    assert_int_equal(json_array_size(out), CONFIGCHANGES_MAX_ENTRIES);
    json_decref(out);
    free(s);
    s = entries(CONFIGCHANGES_MAX_ENTRIES + 1);
    parse_errors(s, NULL, &errs);
    assert_int_equal(errs.len, 1);
    assert_string_equal(errs.v[0].detail, "must have at most 256 entries");
    fielderr_release(&errs);
    free(s);
}

/* Duplicates are found among as many keys as the cap allows, wherever
 * they stand (the key set is a hash table past its stack slots). */
static void test_duplicates_among_many(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    char *s = entries(CONFIGCHANGES_MAX_ENTRIES - 1), *t;

    (void)state;
    assert_non_null(t = malloc(strlen(s) + 32));
    snprintf(t, strlen(s) + 32, "%s,k0=2", s);     /* the first key, again, last */
    parse_errors(t, NULL, &errs);
    assert_int_equal(errs.len, 1);
    assert_int_equal(errs.v[0].type, FIELDERR_DUPLICATE);
    assert_string_equal(json_string_value(errs.v[0].value), "k0");
    fielderr_release(&errs);
    snprintf(t, strlen(s) + 32, "%s,k200=2", s);   /* one from the middle */
    parse_errors(t, NULL, &errs);
    assert_int_equal(errs.len, 1);
    assert_string_equal(json_string_value(errs.v[0].value), "k200");
    fielderr_release(&errs);
    free(t);
    free(s);
}

/* Bad entries count towards the cap too: a flood of them is one error
 * list of bounded length, not thousands of causes. */
static void test_error_flood_is_capped(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    size_t n = 2000;
    char *s = malloc(n * 2 + 1);

    (void)state;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 2 * i, "x,", 2);
    s[2 * n] = '\0';
    parse_errors(s, NULL, &errs);
    assert_true(errs.len <= CONFIGCHANGES_MAX_ENTRIES + 1);
    fielderr_release(&errs);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits_in_order),
        cmocka_unit_test(test_brackets_and_quotes_do_not_split),
        cmocka_unit_test(test_trims_and_skips_empty_entries),
        cmocka_unit_test(test_value_may_hold_equals_and_unicode),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_bad_entries_and_values),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_reserved_keys_name_the_field),
        cmocka_unit_test(test_every_bad_entry_is_reported),
        cmocka_unit_test(test_appends_after_existing_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_nesting_cap),
        cmocka_unit_test(test_length_cap),
        cmocka_unit_test(test_entry_cap),
        cmocka_unit_test(test_duplicates_among_many),
        cmocka_unit_test(test_error_flood_is_capped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
