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
 *     and ends at the same offset as jansson's JSON_DISABLE_EOF_CHECK.
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
    json_decref(mine);
    json_decref(ref);
    check_prefix(buf, size);
    return 0;
}
