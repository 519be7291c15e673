/*
 * configchanges.c - parsing of spec.configChanges.
 */
#include "mutators/configchanges.h"

#include "mutators/fields.h"
#include "mutators/json/strbuf.h"

#include <ctype.h>
#include <stdint.h>
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

/* The keys seen so far: open addressing over at least twice as many slots
 * as the field can have entries, so a lookup is a probe or two and a field
 * of CONFIGCHANGES_MAX_ENTRIES keys is checked in linear time (a scan of
 * every earlier entry was quadratic: 256 entries cost 30 times a plain
 * Training). A few keys use the stack. */
#define KEYSET_STACK 64

struct keyslot {
    const char *key;                    /* into the field's text; NULL: free */
    size_t len;
};

struct keyset {
    struct keyslot *slot, stack[KEYSET_STACK];
    size_t n;                           /* slots, a power of two */
};

/* Sized for a field of s; 0, or -1 when memory ran out. */
static int keyset_init(struct keyset *set, const char *s)
{
    size_t entries = 1;

    for (const char *c = s; (c = strchr(c, ',')); c++)
        entries++;
    if (entries > CONFIGCHANGES_MAX_ENTRIES + 1)
        entries = CONFIGCHANGES_MAX_ENTRIES + 1;
    for (set->n = KEYSET_STACK; set->n < 2 * entries; set->n *= 2)
        ;
    set->slot = set->n == KEYSET_STACK ? set->stack : malloc(set->n * sizeof(*set->slot));
    if (!set->slot)
        return -1;
    memset(set->slot, 0, set->n * sizeof(*set->slot));
    return 0;
}

static void keyset_release(struct keyset *set)
{
    if (set->slot != set->stack)
        free(set->slot);
}

/* Adds key[0..klen) to set; returns 0, or 1 when it was there already. */
static int keyset_add(struct keyset *set, const char *key, size_t klen)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    size_t i;

    for (i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    for (i = h & (set->n - 1); set->slot[i].key; i = (i + 1) & (set->n - 1))
        if (set->slot[i].len == klen && !memcmp(set->slot[i].key, key, klen))
            return 1;
    set->slot[i] = (struct keyslot){ key, klen };
    return 0;
}

/* Judges one trimmed entry; appends "KEY=VALUE" to out or an error. */
static void add_entry(const char *e, size_t n, const char *path, const struct project *p,
                      struct keyset *seen, json_t *out, struct fielderr_list *errs)
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
    } else if (keyset_add(seen, key, klen)) {
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
    struct keyset seen;
    char stack[MAX_NESTING];
    size_t depth = 0, before = errs->total;
    char quote = 0;
    const char *start = s, *c;

    if (keyset_init(&seen, s) < 0)
        abort();                        /* as every allocation in mutators/ */
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
            if (n && json_array_size(out) + (errs->total - before) >= CONFIGCHANGES_MAX_ENTRIES) {
                fielderr_add(errs, FIELDERR_INVALID, path, NULL, "must have at most %d entries",
                             CONFIGCHANGES_MAX_ENTRIES);
                goto fail;
            }
            if (n)
                add_entry(e, n, path, p, &seen, out, errs);
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
    if (errs->total > before)
        goto fail;
    keyset_release(&seen);
    return out;
fail:
    keyset_release(&seen);
    json_decref(out);
    return NULL;
}
