/*
 * fuzz_jsonparse.c - differential libFuzzer target: mutators/json/jsonparse.c
 * (the request body parser) against jansson's json_loadb(), whose values
 * jsonparse.h promises to build, and jsondump (the answer writer) against
 * both.
 *
 * For every input, with the nesting cap of the admission path:
 *   - jsonparse accepts exactly what json_loadb(JSON_DECODE_ANY |
 *     JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL) accepts, except that deeper
 *     nesting than the cap is refused with JSONPARSE_TOO_DEEP;
 *   - what both accept is the same value (json_equal: same types, same
 *     members in any order, same array order, same string bytes);
 *   - a refusal has a non-empty reason and a 1-based line and column;
 *   - jsondump_append() of the value is JSON that reads back, through
 *     jsonparse and through jansson, to an equal value;
 *   - with "used" (a value followed by more, as yaml.c reads a stream of
 *     JSON documents), an object or array read by both is the same value
 *     and ends at the same offset as jansson's JSON_DISABLE_EOF_CHECK;
 *   - with a skip set (review.c and sync.c read requests with one), the
 *     same inputs are refused, and the value is the same but where a path
 *     ends: null for a skipped member, its JSON text for a raw one (which
 *     reads back to the member), the member itself for a built one, whose
 *     span holds its text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/json/jsondump.h"
#include "mutators/json/jsonparse.h"
#include "mutators/json/strbuf.h"
#include "tests/fuzz/fuzz_util.h"
#include "webhook/review.h"

#define FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define MAX_DEPTH REVIEW_MAX_JSON_DEPTH

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void check_dump(const json_t *v)
{
    struct strbuf sb = STRBUF_INIT;
    struct jsonparse_error err;
    json_error_t jerr;
    json_t *again;

    jsondump_append(&sb, v);
    again = jsonparse(sb.buf, sb.len, MAX_DEPTH, NULL, &err);
    FZ_CHECK(again, "jsondump output does not parse again (%s): %.300s", err.text, sb.buf);
    FZ_CHECK(json_equal(again, (json_t *)v), "jsondump output reads back differently: %.300s", sb.buf);
    json_decref(again);
    again = json_loadb(sb.buf, sb.len, FLAGS, &jerr);
    FZ_CHECK(again, "jansson refuses jsondump output (%s): %.300s", jerr.text, sb.buf);
    FZ_CHECK(json_equal(again, (json_t *)v), "jansson reads jsondump output differently: %.300s", sb.buf);
    json_decref(again);
    strbuf_release(&sb);
}

/* The first value of buf, as yaml.c's load_json() reads a stream. */
static void check_prefix(const char *buf, size_t size)
{
    struct jsonparse_error err;
    json_error_t jerr;
    size_t used = 0;
    json_t *mine, *ref = NULL;

    memset(&err, 0, sizeof(err));
    mine = jsonparse(buf, size, MAX_DEPTH, &used, &err);
    if (mine)
        FZ_CHECK(used > 0 && used <= size, "used %zu out of 1..%zu", used, size);
    if (fz_text_depth_ok(buf, size, MAX_DEPTH) && !memchr(buf, '\0', size))
        ref = json_loadb(buf, size, FLAGS | JSON_DISABLE_EOF_CHECK, &jerr);
    if (mine && ref && (json_is_object(ref) || json_is_array(ref))) {
        FZ_CHECK(json_equal(mine, ref), "first value differs from jansson's");
        FZ_CHECK(used == (size_t)jerr.position, "first value ends at %zu, jansson says %d", used,
                 jerr.position);
    } else if (ref && (json_is_object(ref) || json_is_array(ref)) && strcmp(err.text, "number too long")) {
        fz_fail("jsonparse refuses a first value jansson reads (%s): %.300s", err.text, dump(ref));
    }
    json_decref(mine);
    json_decref(ref);
}

/* A built path, a raw one through any key, a skipped one two levels
 * down: the three ways a skip set keeps what it names. */
enum { FZ_BUILT, FZ_RAW, FZ_SKIPPED };
static const char *const *const fz_paths[] = {
    [FZ_BUILT] = JSONPARSE_PATH("a"),
    [FZ_RAW] = JSONPARSE_PATH("*", "b"),
    [FZ_SKIPPED] = JSONPARSE_PATH("*", "*", "c"),
    NULL,
};
static const struct jsonparse_skip fz_skip = {
    .paths = fz_paths, .built = 1u << FZ_BUILT, .raw = 1u << FZ_RAW,
};

/* The path that ends at member key at level among live ones, as
 * jsonparse.c's skip_member() finds it (the first by index), or -1 with
 * *next the live paths that go on through it. */
static int fz_ending(const char *key, size_t level, uint64_t live, uint64_t *next)
{
    *next = 0;
    for (int i = 0; fz_paths[i]; i++) {
        const char *seg = live >> i & 1 ? fz_paths[i][level] : NULL;    /* a path not live may be shorter */

        if (!seg || (strcmp(seg, "*") && strcmp(seg, key)))
            continue;
        if (!fz_paths[i][level + 1])
            return i;
        *next |= 1ULL << i;
    }
    return -1;
}

/* v, read with fz_skip, against whole, read without, at level with the
 * paths live that lead here (none inside an array). */
static void check_kept(const json_t *v, const json_t *whole, size_t level, uint64_t live)
{
    const char *key;
    json_t *w;

    if (!live || !json_is_object(whole)) {
        FZ_CHECK(json_equal((json_t *)v, (json_t *)whole), "a member no path names differs when skipping");
        return;
    }
    FZ_CHECK(json_is_object(v) && json_object_size(v) == json_object_size(whole), "an object's members differ");
    json_object_foreach((json_t *)whole, key, w) {
        const json_t *m = json_object_get(v, key);
        uint64_t next;
        int end = fz_ending(key, level, live, &next);
        struct jsonparse_error err;
        json_t *again;

        FZ_CHECK(m, "member %s lost when skipping", key);
        if (end == FZ_SKIPPED) {
            FZ_CHECK(json_is_null(m), "skipped member %s kept", key);
        } else if (end == FZ_RAW) {
            FZ_CHECK(json_is_string(m), "raw member %s not kept as text", key);
            again = jsonparse(json_string_value(m), json_string_length(m), MAX_DEPTH, NULL, &err);
            FZ_CHECK(again && json_equal(again, w), "raw member %s's text reads back otherwise", key);
            json_decref(again);
        } else if (end == FZ_BUILT) {
            FZ_CHECK(json_equal((json_t *)m, w), "built member %s differs", key);
        } else {
            check_kept(m, w, level + 1, next);
        }
    }
}

static void check_skipping(const char *buf, size_t size, const json_t *whole)
{
    struct jsonparse_span spans[JSONPARSE_SKIP_MAX];
    struct jsonparse_error err;
    json_t *v = jsonparse_spans(buf, size, MAX_DEPTH, &fz_skip, spans, NULL, &err);

    FZ_CHECK(!v == !whole, "skipping %s what the whole read %s (%s)", v ? "accepts" : "refuses",
             whole ? "accepts" : "refuses", err.text);
    if (!v)
        return;
    check_kept(v, whole, 0, (1ULL << FZ_SKIPPED << 1) - 1);
    if (json_is_object(whole) && json_object_get(whole, "a")) {
        json_t *again = jsonparse(buf + spans[FZ_BUILT].at, spans[FZ_BUILT].len, MAX_DEPTH, NULL, &err);

        FZ_CHECK(again && json_equal(again, json_object_get(whole, "a")), "the built member's span is not its text");
        json_decref(again);
    }
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct jsonparse_error err;
    json_error_t jerr;
    json_t *mine, *ref = NULL;

    memset(&err, 0, sizeof(err));
    mine = jsonparse(buf, size, MAX_DEPTH, NULL, &err);
    /* jansson's reader drops raw NUL bytes wherever they are ("[2\0]" is
     * [2] to it); JSON has no place for them, so jsonparse must refuse */
    if (memchr(buf, '\0', size)) {
        FZ_CHECK(!mine, "jsonparse accepts a raw NUL byte");
        return 0;
    }
    /* jansson recurses; keep it within its own cap of 2048 */
    if (fz_text_depth_ok(buf, size, 1024))
        ref = json_loadb(buf, size, FLAGS, &jerr);
    if (!mine) {
        FZ_CHECK(err.status == JSONPARSE_SYNTAX || err.status == JSONPARSE_TOO_DEEP, "bad status %d",
                 (int)err.status);
        FZ_CHECK(memchr(err.text, '\0', sizeof(err.text)) && err.text[0], "no reason given");
        FZ_CHECK(err.line >= 1 && err.column >= 1, "line/column not 1-based");
    }
    if (ref && fz_depth(ref) > MAX_DEPTH) {
        FZ_CHECK(!mine && err.status == JSONPARSE_TOO_DEEP,
                 "nesting %d deeper than the cap %d is not refused as too deep", fz_depth(ref), MAX_DEPTH);
    } else if (ref) {
        /* jsonparse caps a number literal at 128 characters (MAX_NUMBER in
         * jsonparse.c; jansson has no cap); tolerated, and reported */
        if (!mine && !strcmp(err.text, "number too long"))
            goto out;
        if (!mine) {
            char *r = dump(ref);

            fz_fail("jsonparse refuses what jansson accepts (%s, line %zu, column %zu): %.300s", err.text,
                    err.line, err.column, r);
        }
        if (!json_equal(mine, ref)) {
            char *a = dump(mine), *b = dump(ref);

            fz_fail("jsonparse and jansson read different values:\n jsonparse %.300s\n jansson   %.300s", a, b);
        }
    } else if (mine) {
        fz_fail("jsonparse accepts what jansson refuses (%s): %.300s", jerr.text, dump(mine));
    }
out:
    if (mine)
        check_dump(mine);
    check_skipping(buf, size, mine);
    json_decref(mine);
    json_decref(ref);
    check_prefix(buf, size);
    return 0;
}
