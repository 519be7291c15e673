/*
 * yaml.c - libyaml events to json_t and back.
 */
#include "webhook/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "mutators/json/jsondump.h"
#include "mutators/json/jsonparse.h"

#define TAG_PREFIX "tag:yaml.org,2002:"
#define MAX_NUMBER 64   /* bytes of a scalar that may still be a number */

/* What a scalar resolves to under YAML 1.1 (go-yaml v2's table). */
enum scalar_type { T_STRING, T_NULL, T_TRUE, T_FALSE, T_INT, T_FLOAT, T_NOT_JSON };

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

/* s without '_' into buf; 0, or -1 when s does not fit (then not a number). */
static int strip_underscores(const char *s, size_t n, char buf[MAX_NUMBER])
{
    size_t j = 0;

    if (n >= MAX_NUMBER)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            buf[j++] = s[i];
    buf[j] = '\0';
    return 0;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int float_syntax(const char *s)
{
    size_t digits = 0;

    if (*s == '-' || *s == '+')
        s++;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, digits++;
    }
    if (!digits)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* An integer in the forms go-yaml v2 accepts; 0 and *out set, or -1. */
static int parse_int(const char *s, long long *out)
{
    const char *p = s + (*s == '-' || *s == '+');
    int base = 10;
    char *end;

    if (!(*p >= '0' && *p <= '9'))
        return -1;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8;
    else if (p[0] == '0' && p[1])
        base = 8;
    if (base == 2 || (base == 8 && (p[1] == 'o' || p[1] == 'O')) || base == 16)
        p += 2;
    /* strtoll would skip spaces and take a second sign */
    if (!((*p >= '0' && *p <= '9') || (base == 16 && isxdigit((unsigned char)*p))))
        return -1;
    errno = 0;
    {
        /* unsigned, so that -9223372036854775808 fits */
        unsigned long long u = strtoull(p, &end, base);

        if (*end || errno || u > (unsigned long long)LLONG_MAX + (*s == '-'))
            return -1;
        *out = *s == '-' ? (long long)(0 - u) : (long long)u;
    }
    return 0;
}

/* Resolves a plain scalar; *i or *d is set for T_INT / T_FLOAT. */
static enum scalar_type resolve(const char *s, size_t n, long long *i, double *d)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
    static const char *const trues[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                         "on", "On", "ON", NULL };
    static const char *const falses[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                          "off", "Off", "OFF", NULL };
    static const char *const specials[] = { ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf",
                                            "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", NULL };
    char buf[MAX_NUMBER];
    char *end;

    if (strlen(s) != n)
        return T_STRING;
    if (one_of(s, nulls))
        return T_NULL;
    if (one_of(s, trues))
        return T_TRUE;
    if (one_of(s, falses))
        return T_FALSE;
    if (one_of(s, specials))
        return T_NOT_JSON;
    if (strip_underscores(s, n, buf) < 0)
        return T_STRING;
    if (parse_int(buf, i) == 0)
        return T_INT;
    if (float_syntax(buf)) {
        errno = 0;
        *d = strtod(buf, &end);
        return isfinite(*d) ? T_FLOAT : T_NOT_JSON;
    }
    return T_STRING;
}

/* Parsing */

struct frame {
    json_t *node;   /* borrowed: owned by its parent, or by the loader's root */
    char *key;      /* a mapping's pending key (malloc'd), NULL when a key is due */
};

struct loader {
    yaml_parser_t parser;
    json_t *docs;                       /* the result */
    json_t *root;                       /* the document being built (own reference) */
    struct frame stack[YAML_MAX_DEPTH];
    int depth;
    char *err;
};

static int fail(struct loader *l, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct loader *l, const yaml_mark_t *mark, const char *fmt, ...)
{
    char what[YAML_MAX_ERROR];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (mark)
        snprintf(l->err, YAML_MAX_ERROR, "line %zu, column %zu: %.200s", mark->line + 1,
                 mark->column + 1, what);
    else
        snprintf(l->err, YAML_MAX_ERROR, "%s", what);
    return -1;
}

/* The value of a scalar event (new), or NULL after fail(). */
static json_t *scalar_value(struct loader *l, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t n = ev->data.scalar.length;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    enum scalar_type t = T_STRING;
    long long i = 0;
    double d = 0;
    json_t *v;

    if (tag && strcmp(tag, "!") != 0) {
        if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
            fail(l, &ev->start_mark, "unsupported tag \"%.64s\"", tag);
            return NULL;
        }
        tag += strlen(TAG_PREFIX);
        if (strcmp(tag, "str") != 0) {
            t = resolve(s, n, &i, &d);
            if (!(!strcmp(tag, "null") && t == T_NULL) &&
                !(!strcmp(tag, "bool") && (t == T_TRUE || t == T_FALSE)) &&
                !(!strcmp(tag, "int") && t == T_INT) &&
                !(!strcmp(tag, "float") && (t == T_FLOAT || t == T_INT))) {
                fail(l, &ev->start_mark, "\"%.64s\" is not a valid !!%.16s", s, tag);
                return NULL;
            }
            if (!strcmp(tag, "float") && t == T_INT)
                t = T_FLOAT, d = (double)i;
        }
    } else if (plain && ev->data.scalar.plain_implicit) {
        t = resolve(s, n, &i, &d);
    }
    switch (t) {
    case T_NULL: return json_null();
    case T_TRUE: return json_true();
    case T_FALSE: return json_false();
    case T_INT: return json_integer(i);
    case T_FLOAT: return json_real(d);
    case T_NOT_JSON:
        fail(l, &ev->start_mark, "\"%.64s\" cannot be represented in JSON", s);
        return NULL;
    case T_STRING: break;
    }
    v = json_stringn(s, n);
    if (!v)
        fail(l, &ev->start_mark, "scalar is not valid UTF-8");
    return v;
}

/* Places v (stolen) in the node being built. */
static int place(struct loader *l, const yaml_mark_t *mark, json_t *v)
{
    struct frame *top = l->depth ? &l->stack[l->depth - 1] : NULL;
    int rc = 0;

    if (!top) {
        l->root = v;
        return 0;
    }
    if (json_is_array(top->node)) {
        json_array_append_new(top->node, v);
        return 0;
    }
    if (!top->key) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            rc = fail(l, mark, "mapping keys must be strings without NUL characters");
        else if (json_object_get(top->node, json_string_value(v)))
            rc = fail(l, mark, "duplicate key \"%.64s\"", json_string_value(v));
        else if (!(top->key = strdup(json_string_value(v))))
            rc = fail(l, mark, "out of memory");
        json_decref(v);
        return rc;
    }
    json_object_set_new(top->node, top->key, v);
    free(top->key);
    top->key = NULL;
    return 0;
}

/* A mapping key is read from a scalar's raw text, as go-yaml does for the
 * map keys of a manifest ("on: x" keeps the key "on"). */
static json_t *key_value(const yaml_event_t *ev)
{
    return json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
}

static int expecting_key(const struct loader *l)
{
    const struct frame *top = l->depth ? &l->stack[l->depth - 1] : NULL;

    return top && json_is_object(top->node) && !top->key;
}

/* Handles one event; 1 at the end of the stream, 0 to go on, -1 on error. */
static int on_event(struct loader *l, const yaml_event_t *ev)
{
    json_t *v;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_END_EVENT:
        if (l->root && !json_is_null(l->root)) {
            if (json_array_size(l->docs) >= YAML_MAX_DOCUMENTS)
                return fail(l, &ev->start_mark, "more than %d documents", YAML_MAX_DOCUMENTS);
            json_array_append(l->docs, l->root);
        }
        json_decref(l->root);
        l->root = NULL;
        return 0;
    case YAML_ALIAS_EVENT:
        return fail(l, &ev->start_mark, "aliases (*%.64s) are not supported", ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        v = expecting_key(l) ? key_value(ev) : scalar_value(l, ev);
        if (!v)
            return expecting_key(l) ? fail(l, &ev->start_mark, "key is not valid UTF-8") : -1;
        return place(l, &ev->start_mark, v);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (expecting_key(l))
            return fail(l, &ev->start_mark, "mapping keys must be scalars");
        if (l->depth == YAML_MAX_DEPTH)
            return fail(l, &ev->start_mark, "nesting deeper than %d levels", YAML_MAX_DEPTH);
        v = ev->type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
        if (place(l, &ev->start_mark, v) < 0)
            return -1;
        l->stack[l->depth++] = (struct frame){ v, NULL };
        return 0;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        l->depth--;
        free(l->stack[l->depth].key);
        l->stack[l->depth].key = NULL;
        return 0;
    default:
        return 0;
    }
}

static json_t *load_yaml(const char *buf, size_t len, char *err)
{
    struct loader l = { .docs = json_array(), .err = err };
    yaml_event_t ev;
    int rc = 0;

    if (!yaml_parser_initialize(&l.parser)) {
        fail(&l, NULL, "out of memory");
        json_decref(l.docs);
        return NULL;
    }
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf, len);
    while (rc == 0) {
        if (!yaml_parser_parse(&l.parser, &ev)) {
            rc = fail(&l, &l.parser.problem_mark, "%s%s%s", l.parser.problem ? l.parser.problem : "malformed YAML",
                      l.parser.context ? " " : "", l.parser.context ? l.parser.context : "");
            break;
        }
        rc = on_event(&l, &ev);
        yaml_event_delete(&ev);
    }
    while (l.depth > 0)
        free(l.stack[--l.depth].key);
    json_decref(l.root);
    yaml_parser_delete(&l.parser);
    if (rc < 0) {
        json_decref(l.docs);
        return NULL;
    }
    return l.docs;
}

/* A sequence of JSON values; NULL when the input is not JSON (err set). */
static json_t *load_json(const char *buf, size_t len, char *err)
{
    json_t *docs = json_array(), *v;
    struct jsonparse_error jerr;
    size_t off = 0, used;

    for (;;) {
        while (off < len && strchr(" \t\r\n", buf[off]))
            off++;
        if (off == len)
            return docs;
        v = jsonparse(buf + off, len - off, YAML_MAX_DEPTH, &used, &jerr);
        if (!v && jerr.status == JSONPARSE_TOO_DEEP) {
            snprintf(err, YAML_MAX_ERROR, "nesting deeper than %d levels", YAML_MAX_DEPTH);
            goto fail;
        }
        if (!v) {
            snprintf(err, YAML_MAX_ERROR, "line %zu, column %zu: %s", jerr.line, jerr.column, jerr.text);
            goto fail;
        }
        off += used;
        if (json_array_size(docs) >= YAML_MAX_DOCUMENTS) {
            json_decref(v);
            snprintf(err, YAML_MAX_ERROR, "more than %d documents", YAML_MAX_DOCUMENTS);
            goto fail;
        }
        if (!json_is_null(v))
            json_array_append(docs, v);
        json_decref(v);
    }
fail:
    json_decref(docs);
    return NULL;
}

json_t *yaml_load_all(const char *buf, size_t len, char err[YAML_MAX_ERROR])
{
    size_t i = 0;
    json_t *docs;

    err[0] = '\0';
    if (len > YAML_MAX_INPUT) {
        snprintf(err, YAML_MAX_ERROR, "input is larger than %u bytes", YAML_MAX_INPUT);
        return NULL;
    }
    while (i < len && strchr(" \t\r\n", buf[i]))
        i++;
    /* JSON is read as JSON (numbers keep their type, "\/" is an escape);
     * a flow-style YAML document that is not JSON falls through */
    if (i < len && (buf[i] == '{' || buf[i] == '[')) {
        docs = load_json(buf, len, err);
        if (docs)
            return docs;
    }
    return load_yaml(buf, len, err);
}

/* Writing */

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(e, ev) ? 0 : -1;
}

/* 1 when a YAML 1.1 reader could take plain s for something else than this
 * string: a null, boolean or number, or something number-like (timestamps,
 * sexagesimals, versions). Quoting too much is harmless. */
static int needs_quotes(const char *s, size_t n)
{
    long long i;
    double d;
    const char *p = s;

    if (strlen(s) != n || resolve(s, n, &i, &d) != T_STRING || !strcmp(s, "<<") || !strcmp(s, "="))
        return 1;
    if (*p == '-' || *p == '+')
        p++;
    if (*p == '.')
        p++;
    if (!(*p >= '0' && *p <= '9'))
        return 0;
    for (; *p; p++)
        if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:.+-", *p))
            return 0;
    return 1;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t n, yaml_scalar_style_t style)
{
    yaml_event_t ev;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
        return -1;
    return emit(e, &ev);
}

static int emit_string(yaml_emitter_t *e, const char *s, size_t n)
{
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

    if (needs_quotes(s, n))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else if (memchr(s, '\n', n))
        style = YAML_LITERAL_SCALAR_STYLE;   /* scripts stay readable; libyaml falls back if unfit */
    return emit_scalar(e, s, n, style);
}

static int emit_node(yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    const char *key;
    json_t *item;
    size_t i;
    char num[JSONDUMP_NUMBER_SIZE];

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            emit(e, &ev) < 0)
            return -1;
        json_object_foreach((json_t *)v, key, item)
            if (emit_string(e, key, strlen(key)) < 0 || emit_node(e, item) < 0)
                return -1;
        return yaml_mapping_end_event_initialize(&ev) ? emit(e, &ev) : -1;
    case JSON_ARRAY:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            emit(e, &ev) < 0)
            return -1;
        json_array_foreach(v, i, item)
            if (emit_node(e, item) < 0)
                return -1;
        return yaml_sequence_end_event_initialize(&ev) ? emit(e, &ev) : -1;
    case JSON_STRING:
        return emit_string(e, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
    case JSON_REAL:
        /* as JSON writes them: 1.0 stays "1.0", a float when read back */
        return emit_scalar(e, num, jsondump_number(num, v), YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    default:
        return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
}

int yaml_dump_all(const json_t *docs, FILE *out)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    const json_t *doc;
    size_t i;
    int rc = -1;

    if (!yaml_emitter_initialize(&e))
        return -1;
    yaml_emitter_set_output_file(&e, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_indent(&e, 2);
    yaml_emitter_set_width(&e, -1);   /* never fold long lines */
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || emit(&e, &ev) < 0)
        goto out;
    json_array_foreach(docs, i, doc) {
        if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0) || emit(&e, &ev) < 0 ||
            emit_node(&e, doc) < 0 || !yaml_document_end_event_initialize(&ev, 1) || emit(&e, &ev) < 0)
            goto out;
    }
    if (!yaml_stream_end_event_initialize(&ev) || emit(&e, &ev) < 0 || !yaml_emitter_flush(&e))
        goto out;
    rc = 0;
out:
    yaml_emitter_delete(&e);
    return rc;
}
