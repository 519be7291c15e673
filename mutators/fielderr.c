/*
 * fielderr.c - field error lists and their Kubernetes wording.
 */
#include "mutators/fielderr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/jsondump.h"
#include "mutators/strbuf.h"

static const struct {
    const char *text;
    const char *reason;
} types[] = {
    [FIELDERR_REQUIRED] = { "Required value", "FieldValueRequired" },
    [FIELDERR_INVALID] = { "Invalid value", "FieldValueInvalid" },
    [FIELDERR_NOT_SUPPORTED] = { "Unsupported value", "FieldValueNotSupported" },
    [FIELDERR_FORBIDDEN] = { "Forbidden", "FieldValueForbidden" },
    [FIELDERR_TOO_LONG] = { "Too long", "FieldValueTooLong" },
    [FIELDERR_DUPLICATE] = { "Duplicate value", "FieldValueDuplicate" },
};

const char *fielderr_type_string(enum fielderr_type type)
{
    return types[type].text;
}

const char *fielderr_reason(enum fielderr_type type)
{
    return types[type].reason;
}

static void vadd(struct fielderr_list *l, enum fielderr_type type, int policy, const char *path,
                 const json_t *value, const char *fmt, va_list ap)
{
    struct fielderr *e;

    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            abort();
    }
    e = &l->v[l->len++];
    e->path = strdup(path);
    e->type = type;
    e->value = value ? json_incref((json_t *)value) : NULL;
    e->detail = NULL;
    e->policy = policy;
    e->also = NULL;
    if (fmt && vasprintf(&e->detail, fmt, ap) < 0)
        abort();
    if (!e->path)
        abort();
}

void fielderr_add(struct fielderr_list *l, enum fielderr_type type, const char *path,
                  const json_t *value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vadd(l, type, 0, path, value, fmt, ap);
    va_end(ap);
}

void fielderr_add_policy(struct fielderr_list *l, const char *path, const json_t *value,
                         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vadd(l, FIELDERR_FORBIDDEN, 1, path, value, fmt, ap);
    va_end(ap);
}

void fielderr_also(struct fielderr_list *l, size_t from, const char *path)
{
    for (size_t i = from; i < l->len; i++)
        l->v[i].also = path;
}

static void drop(struct fielderr *e)
{
    free(e->path);
    free(e->detail);
    json_decref(e->value);
}

void fielderr_filter(struct fielderr_list *l, size_t from,
                     int (*keep)(const struct fielderr *e, void *arg), void *arg)
{
    size_t n = from;

    for (size_t i = from; i < l->len; i++) {
        if (keep(&l->v[i], arg))
            l->v[n++] = l->v[i];
        else
            drop(&l->v[i]);
    }
    l->len = n;
}

void fielderr_release(struct fielderr_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        drop(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->len = l->cap = 0;
}

int fielderr_all_policy(const struct fielderr_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        if (!l->v[i].policy)
            return 0;
    return l->len > 0;
}

/* Kubernetes prints the bad value with Go's %q for strings and %v for the
 * rest; JSON's encoding of a scalar is the same for what we meet. */
static void append_value(struct strbuf *sb, const json_t *v)
{
    if (json_is_object(v) || json_is_array(v))
        strbuf_addstr(sb, json_is_object(v) ? "\"object\"" : "\"array\"");
    else
        jsondump_append(sb, v);
}

char *fielderr_body(const struct fielderr *e)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addstr(&sb, types[e->type].text);
    if (e->value && e->type != FIELDERR_REQUIRED && e->type != FIELDERR_FORBIDDEN &&
        e->type != FIELDERR_TOO_LONG) {
        strbuf_addstr(&sb, ": ");
        append_value(&sb, e->value);
    }
    if (e->detail && *e->detail) {
        strbuf_addstr(&sb, ": ");
        strbuf_addstr(&sb, e->detail);
    }
    return strbuf_detach(&sb);
}

char *fielderr_string(const struct fielderr *e)
{
    struct strbuf sb = STRBUF_INIT;
    char *body = fielderr_body(e);

    strbuf_addstr(&sb, e->path);
    strbuf_addstr(&sb, ": ");
    strbuf_addstr(&sb, body);
    free(body);
    return strbuf_detach(&sb);
}
