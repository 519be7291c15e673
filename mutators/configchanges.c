/*
 * configchanges.c - parsing of spec.configChanges.
 */
#include "mutators/configchanges.h"

#include "mutators/fields.h"
#include "mutators/strbuf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 32

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}

/* KEY: [A-Za-z_][A-Za-z0-9_]* ('.' [A-Za-z_][A-Za-z0-9_]*)* */
static int key_ok(const char *k, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (!is_ident_start((unsigned char)k[i]))
            return 0;
        while (i < n && (isalnum((unsigned char)k[i]) || k[i] == '_'))
            i++;
        if (i == n)
            return 1;
        if (k[i] != '.')
            return 0;
        i++;
        if (i == n)
            return 0;
    }
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* 1 when out already holds an entry for key[0..klen). */
static int has_key(const json_t *out, const char *key, size_t klen)
{
    size_t i;
    json_t *prev;

    json_array_foreach(out, i, prev) {
        const char *ps = json_string_value(prev);

        if (!strncmp(ps, key, klen) && ps[klen] == '=')
            return 1;
    }
    return 0;
}

/* Judges one trimmed entry; appends "KEY=VALUE" to out or an error. */
static void add_entry(const char *e, size_t n, const char *path, const struct project *p,
                      json_t *out, struct fielderr_list *errs)
{
    const char *eq = memchr(e, '=', n), *key = e, *val, *field;
    size_t klen, vlen;
    /* configChanges is valid UTF-8 (a jansson string) and entries are cut
     * at ASCII bytes: their slices need no second check */
    json_t *ev = json_stringn_nocheck(e, n), *kv = NULL;
    struct strbuf joined = STRBUF_INIT;

    if (!eq) {
        fielderr_add(errs, FIELDERR_INVALID, path, ev, "entry must be KEY=VALUE");
        goto out;
    }
    klen = (size_t)(eq - e);
    val = eq + 1;
    vlen = n - klen - 1;
    trim(&key, &klen);
    trim(&val, &vlen);
    if (!key_ok(key, klen)) {
        fielderr_add(errs, FIELDERR_INVALID, path, ev,
                     "key must be dot-separated identifiers [A-Za-z_][A-Za-z0-9_]*");
        goto out;
    }
    if (vlen == 0) {
        fielderr_add(errs, FIELDERR_INVALID, path, ev, "value must not be empty");
        goto out;
    }
    if (fields_has_control(json_string_value(ev), 0)) {
        fielderr_add(errs, FIELDERR_INVALID, path, ev, "value must not contain control characters");
        goto out;
    }
    field = p ? projects_reserved(p, key, klen) : NULL;
    if (field) {
        fielderr_add(errs, FIELDERR_FORBIDDEN, path, NULL, "key \"%.*s\" is set by the webhook: use %s",
                     (int)klen, key, field);
    } else if (has_key(out, key, klen)) {
        kv = json_stringn_nocheck(key, klen);
        fielderr_add(errs, FIELDERR_DUPLICATE, path, kv, NULL);
    } else if (val == key + klen + 1) {
        /* no space around '=': the entry's own text is "KEY=VALUE" */
        json_array_append_new(out, json_stringn_nocheck(key, klen + 1 + vlen));
    } else {
        strbuf_add(&joined, key, klen);
        strbuf_addch(&joined, '=');
        strbuf_add(&joined, val, vlen);
        json_array_append_new(out, json_stringn_nocheck(joined.buf, joined.len));
    }
out:
    strbuf_release(&joined);
    json_decref(kv);
    json_decref(ev);
}

/* A quote groups only where a quoted token can start: after '=', ',', ':',
 * an opening bracket or white space, so the apostrophe of O'Brien is text. */
static int opens_quote(const char *s, const char *c)
{
    return c == s || isspace((unsigned char)c[-1]) || strchr("=,:[{", c[-1]);
}

/* The bytes that mean something outside a quote; the rest is skipped. */
static const unsigned char syntax[256] = {
    ['\0'] = 1, [','] = 1, ['"'] = 1, ['\''] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
};

json_t *configchanges_parse(const char *s, const char *path, const struct project *p,
                            struct fielderr_list *errs)
{
    json_t *out = json_array();
    char stack[MAX_NESTING];
    size_t depth = 0, before = errs->len;
    char quote = 0;
    const char *start = s, *c;

    if (strlen(s) > CONFIGCHANGES_MAX_LEN) {
        fielderr_add(errs, FIELDERR_TOO_LONG, path, NULL, "must have at most %d bytes",
                     CONFIGCHANGES_MAX_LEN);
        goto fail;
    }
    for (c = s;; c++) {
        while (!quote && !syntax[(unsigned char)*c])
            c++;
        if (*c == '\0' || (*c == ',' && !quote && depth == 0)) {
            const char *e = start;
            size_t n = (size_t)(c - start);

            trim(&e, &n);
            if (n && json_array_size(out) + (errs->len - before) >= CONFIGCHANGES_MAX_ENTRIES) {
                fielderr_add(errs, FIELDERR_INVALID, path, NULL, "must have at most %d entries",
                             CONFIGCHANGES_MAX_ENTRIES);
                goto fail;
            }
            if (n)
                add_entry(e, n, path, p, out, errs);
            if (*c == '\0')
                break;
            start = c + 1;
        } else if (quote) {
            if (*c == '\\' && c[1])
                c++;
            else if (*c == quote)
                quote = 0;
        } else if ((*c == '"' || *c == '\'') && opens_quote(s, c)) {
            quote = *c;
        } else if (*c == '[' || *c == '{') {
            if (depth == MAX_NESTING) {
                fielderr_add(errs, FIELDERR_INVALID, path, NULL, "brackets nested too deeply");
                goto fail;
            }
            stack[depth++] = *c == '[' ? ']' : '}';
        } else if (*c == ']' || *c == '}') {
            if (depth == 0 || stack[depth - 1] != *c) {
                fielderr_add(errs, FIELDERR_INVALID, path, NULL, "unbalanced '%c'", *c);
                goto fail;
            }
            depth--;
        }
    }
    if (quote || depth) {
        fielderr_add(errs, FIELDERR_INVALID, path, NULL, quote ? "unterminated quote" : "unclosed bracket");
        goto fail;
    }
    if (errs->len > before)
        goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}
