/*
 * fuzz_util.h - what the libFuzzer targets share: a loud invariant check,
 * strict base64, a strict RFC 6902 applier and JSON shape helpers.
 *
 * Header-only (static functions) so that each target is one translation
 * unit linked against build-fuzz/libpaddlex.a. Nothing here is fuzzed: it
 * is the oracle the targets judge the project's answers with.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/json/arena.h"
#include "mutators/policy.h"

/* An invariant that does not hold is a finding: print why, then abort()
 * so libFuzzer saves the input as a crash reproducer. */
static void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("INVARIANT VIOLATED: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define FZ_CHECK(cond, ...)          \
    do {                             \
        if (!(cond))                 \
            fz_fail(__VA_ARGS__);    \
    } while (0)

/* The targets' start, as main.c's: the jansson arena installed (a no-op
 * under ASan) and the policy of the JSON text parsed, once. */
static inline struct policy *fz_start(const char *policy_text)
{
    char err[512] = "not JSON";
    json_t *doc;
    struct policy *p;

    arena_install();
    doc = json_loads(policy_text, JSON_REJECT_DUPLICATES, NULL);
    p = doc ? policy_parse(doc, "fuzz-policy", err, sizeof(err)) : NULL;
    if (!p)
        fz_fail("the fuzzer's policy does not parse: %s", err);
    json_decref(doc);
    return p;
}

/* Nesting of arrays and objects: a scalar is 0, [] is 1. */
static inline int fz_depth(const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    int max = 0, d;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, item)
            if ((d = fz_depth(item)) > max)
                max = d;
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
            if ((d = fz_depth(item)) > max)
                max = d;
        return max + 1;
    }
    return 0;
}

/* 1 when the JSON text nests arrays and objects no deeper than max,
 * brackets inside strings skipped: the oracle's own cheap pre-check, so
 * that it never asks jansson to recurse without bound. */
static inline int fz_text_depth_ok(const char *s, size_t len, int max)
{
    int depth = 0, in_string = 0;

    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_string = 0;
        } else if (s[i] == '"') {
            in_string = 1;
        } else if (s[i] == '[' || s[i] == '{') {
            if (++depth > max)
                return 0;
        } else if (s[i] == ']' || s[i] == '}') {
            depth--;
        }
    }
    return 1;
}

/* Strict standard base64 (padding required, no white space) of s into a new
 * buffer of *n bytes (NUL-terminated too); NULL when s is not that. */
static inline unsigned char *fz_base64_decode(const char *s, size_t len, size_t *n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *out;
    size_t o = 0;

    if (len % 4)
        return NULL;
    out = malloc(len / 4 * 3 + 1);
    if (!out)
        abort();
    for (size_t i = 0; i < len; i += 4) {
        unsigned v = 0;
        int pad = 0;

        for (int j = 0; j < 4; j++) {
            const char *p = s[i + j] ? strchr(tab, s[i + j]) : NULL;

            if (s[i + j] == '=' && i + 4 == len && j >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!p || pad) {
                free(out);
                return NULL;
            }
            v = v << 6 | (unsigned)(p - tab);
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
        /* non-canonical padding bits are what a strict decoder refuses */
        if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff))) {
            free(out);
            return NULL;
        }
    }
    out[o] = '\0';
    *n = o;
    return out;
}

/* ------------------------------------------------------------ JSON Patch */

#define FZ_MAX_TOKENS 256

/* Splits a JSON Pointer into unescaped tokens (each malloc'd). Returns the
 * count, or -1 when ptr is malformed: not "" and not starting with '/', or a
 * '~' not followed by '0' or '1'. */
static inline int fz_pointer(const char *ptr, char **tok)
{
    int n = 0;

    if (!*ptr)
        return 0;
    if (*ptr != '/')
        return -1;
    while (*ptr == '/') {
        const char *end = strchr(ptr + 1, '/');
        size_t len = end ? (size_t)(end - ptr - 1) : strlen(ptr + 1);
        char *t = malloc(len + 1), *q = t;

        if (!t)
            abort();
        for (size_t i = 0; i < len; i++) {
            char c = ptr[1 + i];

            if (c == '~') {
                if (i + 1 < len && ptr[2 + i] == '0')
                    *q++ = '~';
                else if (i + 1 < len && ptr[2 + i] == '1')
                    *q++ = '/';
                else {
                    free(t);
                    goto bad;
                }
                i++;
            } else {
                *q++ = c;
            }
        }
        *q = '\0';
        if (n == FZ_MAX_TOKENS) {
            free(t);
            goto bad;
        }
        tok[n++] = t;
        ptr += 1 + len;
    }
    return n;
bad:
    while (n > 0)
        free(tok[--n]);
    return -1;
}

/* 1 when t is an array index: "0" or [1-9][0-9]*, and at most max. */
static inline int fz_index(const char *t, size_t max, size_t *out)
{
    size_t v = 0;

    if (!*t || (t[0] == '0' && t[1]) || strlen(t) > 9)
        return 0;
    for (const char *p = t; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (size_t)(*p - '0');
    }
    if (v > max)
        return 0;
    *out = v;
    return 1;
}

/* Applies one operation to doc in place, as strictly as the kube-apiserver
 * (tests/tools/jsonpatch.py), and more strictly where our generator is
 * concerned: only add/remove/replace (patch.h never emits others), never
 * the whole document, and "add" never over an existing member (patch_write()
 * says replace then). Returns NULL, or why not. */
static inline const char *fz_apply_op(json_t *doc, const json_t *op)
{
    const char *kind = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    json_t *value = json_object_get(op, "value"), *parent = doc;
    char *tok[FZ_MAX_TOKENS];
    const char *why = NULL;
    int n;
    size_t idx;

    if (!json_is_object(op))
        return "operation is not an object";
    if (!kind || (strcmp(kind, "add") && strcmp(kind, "remove") && strcmp(kind, "replace")))
        return "op is not add, remove or replace";
    if (!path)
        return "path is missing or not a string";
    if (json_object_size(op) != (strcmp(kind, "remove") ? 3u : 2u))
        return "operation has members other than op, path and value";
    if (strcmp(kind, "remove") && !value)
        return "value is missing";
    n = fz_pointer(path, tok);
    if (n < 0)
        return "malformed JSON Pointer";
    if (n == 0)
        return "the whole document is the target";
    for (int i = 0; i < n - 1; i++) {
        if (json_is_object(parent))
            parent = json_object_get(parent, tok[i]);
        else if (json_is_array(parent) && fz_index(tok[i], json_array_size(parent) - 1, &idx))
            parent = json_array_get(parent, idx);
        else
            parent = NULL;
        if (!parent) {
            why = "a parent on the path does not exist";
            goto out;
        }
    }
    if (json_is_object(parent)) {
        int exists = json_object_get(parent, tok[n - 1]) != NULL;

        if (!strcmp(kind, "add") && exists)
            why = "add over an existing member (patch_write() emits replace)";
        else if (strcmp(kind, "add") && !exists)
            why = "remove/replace of a missing member";
        else if (!strcmp(kind, "remove"))
            json_object_del(parent, tok[n - 1]);
        else
            json_object_set(parent, tok[n - 1], value);
    } else if (json_is_array(parent)) {
        size_t len = json_array_size(parent);

        if (!strcmp(kind, "add") && !strcmp(tok[n - 1], "-"))
            json_array_append(parent, value);
        else if (!fz_index(tok[n - 1], !strcmp(kind, "add") ? len : len - 1, &idx) ||
                 (strcmp(kind, "add") && len == 0))
            why = "array index out of range or malformed";
        else if (!strcmp(kind, "add"))
            json_array_insert(parent, idx, value);
        else if (!strcmp(kind, "remove"))
            json_array_remove(parent, idx);
        else
            json_array_set(parent, idx, value);
    } else {
        why = "the parent is not an object or array";
    }
out:
    while (n > 0)
        free(tok[--n]);
    return why;
}

/* A new document: doc with every operation of ops applied in order, or
 * NULL with *why set. doc and ops are borrowed. */
static inline json_t *fz_apply_patch(const json_t *doc, const json_t *ops, const char **why)
{
    json_t *out = json_deep_copy(doc), *op;
    size_t i;

    *why = NULL;
    if (!json_is_array(ops)) {
        *why = "patch is not an array";
        json_decref(out);
        return NULL;
    }
    json_array_foreach(ops, i, op) {
        if ((*why = fz_apply_op(out, op))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Copies data into a new NUL-terminated buffer. */
static inline char *fz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
