/*
 * fielderr.c - field error lists and their Kubernetes wording.
 */
#include "mutators/fielderr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/json/jsondump.h"
#include "mutators/json/strbuf.h"

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
    [FIELDERR_TOO_MANY] = { "Too many", "FieldValueTooMany" },
};

const char *fielderr_type_string(enum fielderr_type type)
{
    return types[type].text;
}

const char *fielderr_reason(enum fielderr_type type)
{
    return types[type].reason;
}

/* Cuts tail's path to the part it shares with path, ending where a path
 * segment does: "spec.a" and "spec.b" share "spec"; "spec" and "spec[0]"
 * share "spec"; "spec" and "metadata" nothing (""). */
static void common_path(char *tail, const char *path)
{
    size_t i = 0, cut = 0;

    while (tail[i] && tail[i] == path[i]) {
        if (tail[i] == '.' || tail[i] == '[')
            cut = i;
        i++;
    }
    if (!tail[i] && (!path[i] || path[i] == '.' || path[i] == '['))
        return;                 /* tail is path or one of its parents */
    if (!path[i] && (tail[i] == '.' || tail[i] == '['))
        cut = i;                /* path is one of tail's parents */
    tail[cut] = '\0';
}

/* Counts one error past the cap into the list's last entry. */
static void count_more(struct fielderr_list *l, int policy, const char *path)
{
    struct fielderr *e;

    if (l->more++) {            /* the last entry counts them */
        e = &l->v[l->len - 1];
        json_integer_set(e->value, (json_int_t)l->total);
        e->policy &= policy;
        common_path(e->path, path);
        return;
    }
    e = &l->v[l->len++];        /* grow() made the room */
    e->path = strdup(path);
    e->type = FIELDERR_TOO_MANY;
    e->value = json_integer((json_int_t)l->total);
    e->policy = policy;
    e->also = NULL;
    e->always = 0;
    if (asprintf(&e->detail, "only the first %d errors are listed", FIELDERR_MAX_KEPT) < 0 ||
        !e->path || !e->value)
        abort();
}

/* Room for one more entry in l. */
static void grow(struct fielderr_list *l)
{
    if (l->len < l->cap)
        return;
    l->cap = l->cap ? l->cap * 2 : 8;
    l->v = realloc(l->v, l->cap * sizeof(*l->v));
    if (!l->v)
        abort();
}

static void vadd(struct fielderr_list *l, enum fielderr_type type, int policy, const char *path,
                 const json_t *value, const char *fmt, va_list ap)
{
    struct fielderr *e;

    l->total++;
    grow(l);
    if (l->more || l->len >= FIELDERR_MAX_KEPT) {
        count_more(l, policy, path);
        return;
    }
    e = &l->v[l->len++];
    e->path = strdup(path);
    e->type = type;
    e->value = value ? json_incref((json_t *)value) : NULL;
    e->detail = NULL;
    e->policy = policy;
    e->also = NULL;
    e->always = 0;
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

void fielderr_always(struct fielderr_list *l, size_t from)
{
    for (size_t i = from; i < l->len; i++)
        l->v[i].always = 1;
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
        else if (l->more && i == l->len - 1)
            drop(&l->v[i]), l->more = 0;        /* every counted error with it */
        else
            drop(&l->v[i]);
    }
    l->len = n;
    l->total = l->len - (l->more ? 1 : 0) + l->more;
    if (l->more)
        json_integer_set(l->v[l->len - 1].value, (json_int_t)l->total);
}

void fielderr_release(struct fielderr_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        drop(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->len = l->cap = l->total = l->more = 0;
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
    size_t n = json_string_length(v);

    if (json_is_object(v) || json_is_array(v)) {
        strbuf_addstr(sb, json_is_object(v) ? "\"object\"" : "\"array\"");
    } else if (json_is_string(v) && n > FIELDERR_MAX_VALUE) {
        /* a long value is quoted in part: an error list of a hundred
         * entries never repeats a megabyte string a hundred times */
        const char *s = json_string_value(v);

        n = FIELDERR_MAX_VALUE;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;                /* not inside a UTF-8 sequence */
        jsondump_string(sb, s, n);
        sb->len--;              /* its closing quote */
        strbuf_addstr(sb, "...\"");
    } else {
        jsondump_append(sb, v);
    }
}

static void append_body(struct strbuf *sb, const struct fielderr *e)
{
    strbuf_addstr(sb, types[e->type].text);
    if (e->value && e->type != FIELDERR_REQUIRED && e->type != FIELDERR_FORBIDDEN &&
        e->type != FIELDERR_TOO_LONG) {
        strbuf_addstr(sb, ": ");
        append_value(sb, e->value);
    }
    if (e->detail && *e->detail) {
        strbuf_addstr(sb, ": ");
        strbuf_addstr(sb, e->detail);
    }
}

static void append_line(struct strbuf *sb, const struct fielderr *e)
{
    if (*e->path) {             /* "" when the errors counted by a cap share no path */
        strbuf_addstr(sb, e->path);
        strbuf_addstr(sb, ": ");
    }
    append_body(sb, e);
}

char *fielderr_body(const struct fielderr *e)
{
    struct strbuf sb = STRBUF_INIT;

    append_body(&sb, e);
    return strbuf_detach(&sb);
}

char *fielderr_string(const struct fielderr *e)
{
    struct strbuf sb = STRBUF_INIT;

    append_line(&sb, e);
    return strbuf_detach(&sb);
}

void fielderr_join(struct strbuf *sb, const struct fielderr_list *l)
{
    if (l->len > 1)
        strbuf_addch(sb, '[');
    for (size_t i = 0; i < l->len; i++) {
        if (i)
            strbuf_addstr(sb, ", ");
        append_line(sb, &l->v[i]);
    }
    if (l->len > 1)
        strbuf_addch(sb, ']');
}
