/*
 * fuzz_configchanges.c - libFuzzer target for configchanges_parse()
 * (SPEC §4.1), with no project and with each supported project.
 *
 * The input is the value of spec.configChanges as the mutators see it: a
 * NUL-terminated, valid UTF-8 string (json_string_value() of the field), so
 * the input is cut at its first NUL and inputs that are not UTF-8 are
 * skipped. Invariants:
 *   - NULL exactly when errors were appended, all under the given path;
 *     more than CONFIGCHANGES_MAX_LEN bytes is one "Too long" error;
 *   - otherwise at most CONFIGCHANGES_MAX_ENTRIES "KEY=VALUE" strings: KEY
 *     dot-separated identifiers, unique, not reserved by the project, both
 *     trimmed and found in the input, VALUE non-empty without control
 *     characters;
 *   - parsing the accepted entries joined with ',' gives them back;
 *   - a project only adds "Forbidden" errors for its reserved keys: where
 *     no project accepts, a project accepts the same entries or refuses
 *     with Forbidden errors only; where no project refuses, it refuses.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/configchanges.h"
#include "mutators/fielderr.h"
#include "mutators/projects.h"
#include "tests/fuzz/fuzz_util.h"

#define PATH "spec.configChanges"

static const char *const project_names[] = { "PaddleOCR", "PaddleClas", "PaddleDetection" };

static int key_ok(const char *k, size_t n)
{
    int start = 1;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];

        if (c == '.') {
            if (start)
                return 0;
            start = 1;
        } else if (start) {
            if (!isalpha(c) && c != '_')
                return 0;
            start = 0;
        } else if (!isalnum(c) && c != '_') {
            return 0;
        }
    }
    return !start;
}

/* C0, DEL and C1 (U+0080..U+009F, bytes C2 80..C2 9F) in valid UTF-8. */
static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return 1;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return 1;
    }
    return 0;
}

static void check_errors(const struct fielderr_list *errs)
{
    for (size_t i = 0; i < errs->len; i++)
        FZ_CHECK(errs->v[i].path && !strcmp(errs->v[i].path, PATH), "error %zu under path %s", i,
                 errs->v[i].path ? errs->v[i].path : "(null)");
}

static void check_entries(const char *s, const json_t *out, const struct project *p)
{
    json_t *e;
    size_t i;

    FZ_CHECK(json_is_array(out), "result is not an array");
    FZ_CHECK(json_array_size(out) <= CONFIGCHANGES_MAX_ENTRIES, "more than %d entries",
             CONFIGCHANGES_MAX_ENTRIES);
    json_array_foreach(out, i, e) {
        const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
        size_t klen, vlen;
        char *key;

        FZ_CHECK(eq, "entry %zu is not KEY=VALUE", i);
        klen = (size_t)(eq - kv);
        vlen = strlen(eq + 1);
        FZ_CHECK(key_ok(kv, klen), "entry %zu: bad key in \"%s\"", i, kv);
        FZ_CHECK(vlen > 0, "entry %zu: empty value", i);
        FZ_CHECK(!isspace((unsigned char)eq[1]) && !isspace((unsigned char)eq[vlen]),
                 "entry %zu: value not trimmed", i);
        FZ_CHECK(!has_control(eq + 1, vlen), "entry %zu: control character in the value", i);
        FZ_CHECK(strstr(s, eq + 1), "entry %zu: value not found in the input", i);
        key = strndup(kv, klen);
        if (!key)
            abort();
        FZ_CHECK(strstr(s, key), "entry %zu: key not found in the input", i);
        FZ_CHECK(!p || !projects_reserved(p, key, klen), "entry %zu: reserved key %s accepted", i, key);
        for (size_t j = 0; j < i; j++) {
            const char *other = json_string_value(json_array_get(out, j));

            FZ_CHECK(strncmp(other, kv, klen + 1), "entries %zu and %zu have the same key %s", j, i, key);
        }
        free(key);
    }
}

/* Parses the entries joined with ',' and requires them back. */
static void check_round_trip(const json_t *out, const struct project *p)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    size_t len = 1, i;
    char *joined, *q;
    json_t *e, *again;

    json_array_foreach(out, i, e)
        len += json_string_length(e) + 1;
    joined = q = malloc(len);
    if (!joined)
        abort();
    json_array_foreach(out, i, e) {
        if (i)
            *q++ = ',';
        memcpy(q, json_string_value(e), json_string_length(e));
        q += json_string_length(e);
    }
    *q = '\0';
    if (strlen(joined) <= CONFIGCHANGES_MAX_LEN) {
        again = configchanges_parse(joined, PATH, p, &errs);
        FZ_CHECK(again, "the accepted entries joined again are refused (%zu errors): %s", errs.len,
                 errs.len ? errs.v[0].detail : "");
        FZ_CHECK(json_equal(again, (json_t *)out), "the accepted entries joined again parse differently");
        json_decref(again);
    }
    fielderr_release(&errs);
    free(joined);
}

/* Parses s with project p; returns the result (new) and leaves errors in errs. */
static json_t *parse_checked(const char *s, const struct project *p, struct fielderr_list *errs)
{
    json_t *out = configchanges_parse(s, PATH, p, errs);

    check_errors(errs);
    FZ_CHECK(!out == (errs->len > 0), "result %s but %zu errors", out ? "non-NULL" : "NULL", errs->len);
    if (strlen(s) > CONFIGCHANGES_MAX_LEN)
        FZ_CHECK(errs->len == 1 && errs->v[0].type == FIELDERR_TOO_LONG, "an over-long value is not one Too long error");
    if (out) {
        check_entries(s, out, p);
        check_round_trip(out, p);
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    json_t *utf8 = json_string(s);   /* NULL when not valid UTF-8 */
    struct fielderr_list base_errs = FIELDERR_LIST_INIT;
    json_t *base;

    if (!utf8) {
        free(s);
        return 0;
    }
    json_decref(utf8);
    base = parse_checked(s, NULL, &base_errs);
    for (size_t i = 0; i < sizeof(project_names) / sizeof(project_names[0]); i++) {
        const struct project *p = projects_find(project_names[i]);
        struct fielderr_list errs = FIELDERR_LIST_INIT;
        json_t *out;

        FZ_CHECK(p, "project %s not found", project_names[i]);
        out = parse_checked(s, p, &errs);
        if (base && out) {
            FZ_CHECK(json_equal(base, out), "%s accepts other entries than no project", project_names[i]);
        } else if (base) {
            for (size_t j = 0; j < errs.len; j++)
                FZ_CHECK(errs.v[j].type == FIELDERR_FORBIDDEN,
                         "%s refuses what no project accepts, not only as Forbidden", project_names[i]);
        } else {
            FZ_CHECK(!out, "%s accepts what no project refuses", project_names[i]);
        }
        json_decref(out);
        fielderr_release(&errs);
    }
    json_decref(base);
    fielderr_release(&base_errs);
    free(s);
    return 0;
}
