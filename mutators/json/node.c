/*
 * node.c - pool-built JSON values for the generated children.
 */
#include "mutators/json/node.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/json/jsondump.h"
#include "mutators/json/scan.h"

#if defined(__SANITIZE_ADDRESS__)
#define NODE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NODE_SANITIZED 1
#endif
#endif

/* A Training's children fit in one chunk; under AddressSanitizer every
 * allocation gets a chunk of its own, so overruns are caught. */
#ifdef NODE_SANITIZED
#define NODE_CHUNK 0
#else
#define NODE_CHUNK (32 * 1024)
#endif
#define ALIGN 8

struct node_chunk {
    struct node_chunk *next;
    size_t size, used;
    _Alignas(ALIGN) char data[];
};

static __thread struct node_pool *current;

void node_pool_begin(struct node_pool *pool)
{
    pool->chunks = NULL;
    pool->prev = current;
    current = pool;
}

void node_pool_end(struct node_pool *pool)
{
    while (pool->chunks) {
        struct node_chunk *next = pool->chunks->next;

        free(pool->chunks);
        pool->chunks = next;
    }
    current = pool->prev;
}

/* A new chunk with room for need bytes, in force. Out of line: the
 * builders inline alloc() and keep their fast path lean. */
static __attribute__((noinline)) struct node_chunk *new_chunk(size_t need)
{
    size_t size = need > NODE_CHUNK ? need : NODE_CHUNK;
    struct node_chunk *c = malloc(sizeof(*c) + size);

    if (!c)
        abort();
    c->size = size;
    c->used = 0;
    c->next = current->chunks;
    current->chunks = c;
    return c;
}

static inline void *alloc(size_t n)
{
    struct node_chunk *c = current->chunks;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);

    if (!c || c->size - c->used < need)
        c = new_chunk(need);
    c->used += need;
    return c->data + c->used - need;
}

static struct node *new_node(enum node_type type)
{
    struct node *n = alloc(sizeof(*n));

    memset(n, 0, sizeof(*n));
    n->type = type;
    return n;
}

struct node *node_strn(const char *s, size_t len)
{
    struct node *n = new_node(NODE_STRING);

    n->u.str.s = s;
    n->u.str.len = len;
    return n;
}

/* first, then the strings of ap up to NULL, joined in the pool. */
static const char *cat(const char *first, va_list ap)
{
    va_list count;
    const char *s;
    size_t len = 0;
    char *text, *q;

    va_copy(count, ap);
    for (s = first; s; s = va_arg(count, const char *))
        len += strlen(s);
    va_end(count);
    q = text = alloc(len + 1);
    *q = '\0';                  /* no strings: stpcpy() never runs */
    for (s = first; s; s = va_arg(ap, const char *))
        q = stpcpy(q, s);
    return text;
}

const char *node_vcat(va_list ap)
{
    return cat(va_arg(ap, const char *), ap);
}

const char *node_cat(const char *s, ...)
{
    va_list ap;
    const char *text;

    va_start(ap, s);
    text = cat(s, ap);
    va_end(ap);
    return text;
}

struct node *node_int(long long i)
{
    struct node *n = new_node(NODE_INT);

    n->u.i = i;
    return n;
}

struct node *node_true(void)
{
    return new_node(NODE_TRUE);
}

struct node *node_object(void)
{
    return new_node(NODE_OBJECT);
}

struct node *node_array(void)
{
    return new_node(NODE_ARRAY);
}

static void link_last(struct node *parent, struct node *child)
{
    child->next = NULL;
    if (parent->u.kids.last)
        parent->u.kids.last->next = child;
    else
        parent->u.kids.first = child;
    parent->u.kids.last = child;
}

static void add_member(struct node *obj, const char *key, size_t klen, struct node *value)
{
#ifdef NODE_SANITIZED
    if (jsondump_plain(key, klen) != klen)
        abort();        /* a key is a literal that needs no escaping */
#endif
    value->key = key;
    value->klen = klen;
    link_last(obj, value);
}

void node_setn(struct node *obj, const char *key, size_t klen, struct node *value)
{
    for (struct node **pp = &obj->u.kids.first; *pp; pp = &(*pp)->next) {
        if ((*pp)->klen != klen || memcmp((*pp)->key, key, klen) != 0)
            continue;
        value->key = (*pp)->key;
        value->klen = klen;
        value->next = (*pp)->next;
        if (obj->u.kids.last == *pp)
            obj->u.kids.last = value;
        *pp = value;
        return;
    }
    add_member(obj, key, klen, value);
}

void node_append(struct node *array, struct node *value)
{
    link_last(array, value);
}

struct node *node_obj(const char *key, struct node *value, ...)
{
    struct node *o = node_object();
    va_list ap;

    va_start(ap, value);
    while (key) {
        add_member(o, key, strlen(key), value);
        key = va_arg(ap, const char *);
        if (key)
            value = va_arg(ap, struct node *);
    }
    va_end(ap);
    return o;
}

struct node *node_list(struct node *value, ...)
{
    struct node *a = node_array();
    va_list ap;

    va_start(ap, value);
    for (; value; value = va_arg(ap, struct node *))
        node_append(a, value);
    va_end(ap);
    return a;
}

struct node *node_getn(const struct node *obj, const char *key, size_t klen)
{
    if (!obj || obj->type != NODE_OBJECT)
        return NULL;
    for (struct node *m = obj->u.kids.first; m; m = m->next)
        if (m->klen == klen && !memcmp(m->key, key, klen))
            return m;
    return NULL;
}

struct node *node_copy(const struct node *n)
{
    struct node *c;

    if (!n)
        return NULL;
    c = new_node(n->type);
    c->u = n->u;
    if (n->type == NODE_OBJECT || n->type == NODE_ARRAY) {
        c->u.kids.first = c->u.kids.last = NULL;
        for (const struct node *m = n->u.kids.first; m; m = m->next) {
            struct node *mc = node_copy(m);

            mc->key = m->key;       /* pool text: shared, never changed */
            mc->klen = m->klen;
            link_last(c, mc);
        }
    }
    return c;
}

/* Decimal digits of i, without snprintf's format parsing. */
static void dump_int(struct strbuf *sb, long long i)
{
    if (i < 0)
        strbuf_addch(sb, '-');
    strbuf_adddec(sb, i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i, 1);
}

/* Room for n more bytes (and a NUL) at sb's end; returns where they go. */
static inline char *room(struct strbuf *sb, size_t n)
{
    if (sb->alloc - sb->len < n + 1)
        strbuf_grow(sb, n);
    return sb->buf + sb->len;
}

static inline void put(struct strbuf *sb, char c)
{
    *room(sb, 1) = c;
    sb->len++;
}

/* s as a JSON string: copied whole, then checked where it landed (one
 * load for a short string, scan.h) and written again escaped in the rare
 * case it needs it. */
static inline void dump_string(struct strbuf *sb, const char *s, size_t len)
{
    char *q = room(sb, len + 2 + 15);

    q[0] = '"';
    memcpy(q + 1, s, len);
    if (!scan_plain_padded((const unsigned char *)q + 1, len)) {
        jsondump_string(sb, s, len);
        return;
    }
    q[len + 1] = '"';
    sb->len += len + 2;
}

/* Key order; most keys of an object differ in their first byte. */
static inline int key_before_or_at(const struct node *a, const struct node *b)
{
    unsigned char x = (unsigned char)a->key[0], y = (unsigned char)b->key[0];

    return x != y ? x < y : strcmp(a->key, b->key) <= 0;
}

/* Orders the members of object n by key, in place: insertion into a list,
 * as an object has a handful of members, most of them built in order
 * already, so the tail is tried first. */
static void order_members(struct node *n)
{
    struct node *sorted = NULL, *tail = NULL, *m, *next, **at;

    for (m = n->u.kids.first; m; m = next) {
        next = m->next;
        if (tail && key_before_or_at(tail, m)) {
            at = &tail->next;
        } else {
            for (at = &sorted; *at && key_before_or_at(*at, m); at = &(*at)->next)
                ;
        }
        m->next = *at;
        *at = m;
        if (!m->next)
            tail = m;
    }
    n->u.kids.first = sorted;
    n->u.kids.last = tail;
}

static void dump(struct strbuf *sb, struct node *n, int canonical);

/* A member or element: strings here, the rest by recursion. */
static inline void dump_item(struct strbuf *sb, struct node *m, int canonical)
{
    if (m->type == NODE_STRING)
        dump_string(sb, m->u.str.s, m->u.str.len);
    else
        dump(sb, m, canonical);
}

/* n as compact JSON, the strbuf's NUL left to the caller; canonical: each
 * object's members ordered by key first (in place), on the walk that
 * writes them (a walk of its own cost as much as the ordering). */
static void dump(struct strbuf *sb, struct node *n, int canonical)
{
    struct node *m;
    char *q;
    size_t k;

    switch (n->type) {
    case NODE_OBJECT:
        if (canonical)
            order_members(n);
        put(sb, '{');
        for (m = n->u.kids.first; m; m = m->next) {
            /* [,]"key": -- a key is a literal that needs no escaping */
            q = room(sb, m->klen + 4);
            k = 0;
            if (m != n->u.kids.first)
                q[k++] = ',';
            q[k++] = '"';
            memcpy(q + k, m->key, m->klen);
            k += m->klen;
            q[k++] = '"';
            q[k++] = ':';
            sb->len += k;
            dump_item(sb, m, canonical);
        }
        put(sb, '}');
        break;
    case NODE_ARRAY:
        put(sb, '[');
        for (m = n->u.kids.first; m; m = m->next) {
            if (m != n->u.kids.first)
                put(sb, ',');
            dump_item(sb, m, canonical);
        }
        put(sb, ']');
        break;
    case NODE_STRING:
        dump_string(sb, n->u.str.s, n->u.str.len);
        break;
    case NODE_INT:
        dump_int(sb, n->u.i);
        break;
    case NODE_TRUE:
        strbuf_add(sb, "true", 4);
        break;
    }
}

void node_dump(struct strbuf *sb, const struct node *n)
{
    dump(sb, (struct node *)n, 0);     /* unchanged: nothing is ordered */
    room(sb, 0)[0] = '\0';
}

void node_dump_canonical(struct strbuf *sb, struct node *n)
{
    dump(sb, n, 1);
    room(sb, 0)[0] = '\0';
}

int node_equal_json(const struct node *n, const json_t *v)
{
    const struct node *m;
    size_t count = 0;

    switch (n->type) {
    case NODE_OBJECT:
        if (!json_is_object(v))
            return 0;
        for (m = n->u.kids.first; m; m = m->next, count++)
            if (!node_equal_json(m, json_object_getn(v, m->key, m->klen) ?: json_null()))
                return 0;
        return count == json_object_size(v);    /* node keys are distinct */
    case NODE_ARRAY:
        if (!json_is_array(v))
            return 0;
        for (m = n->u.kids.first; m; m = m->next, count++)
            if (!node_equal_json(m, json_array_get(v, count) ?: json_null()))
                return 0;
        return count == json_array_size(v);
    case NODE_STRING:
        return json_is_string(v) && json_string_length(v) == n->u.str.len &&
               !memcmp(json_string_value(v), n->u.str.s, n->u.str.len);
    case NODE_INT:
        return json_is_integer(v) && json_integer_value(v) == n->u.i;
    case NODE_TRUE:
        return json_is_true(v);
    }
    return 0;
}

json_t *node_to_json(const struct node *n)
{
    const struct node *m;
    json_t *v = NULL;

    switch (n->type) {
    case NODE_OBJECT:
        v = json_object();
        for (m = n->u.kids.first; m; m = m->next)
            json_object_setn_new_nocheck(v, m->key, m->klen, node_to_json(m));
        break;
    case NODE_ARRAY:
        v = json_array();
        for (m = n->u.kids.first; m; m = m->next)
            json_array_append_new(v, node_to_json(m));
        break;
    case NODE_STRING:
        v = json_stringn_nocheck(n->u.str.s, n->u.str.len);
        break;
    case NODE_INT:
        v = json_integer(n->u.i);
        break;
    case NODE_TRUE:
        v = json_true();
        break;
    }
    if (!v)
        abort();
    return v;
}
