/*
 * node.h - the children's JSON: built once, then written out.
 *
 * An expansion builds a few hundred values that nobody looks up by key.
 * As jansson values they cost a hashed insert each, and the walk that
 * wrote them out for the patch cost as much again: together more than half
 * of a /mutate. A node is a plain value carved from a pool that lives for
 * one expansion; an object keeps its members in insertion order in a list.
 *
 * The pool in force is thread-local, as jansson's allocator is: between
 * node_pool_begin() and node_pool_end() every builder on the thread takes
 * its memory from that pool (pools nest: the end restores the previous).
 * Nothing built may outlive node_pool_end(); results leave as JSON text
 * (node_dump) or a jansson value (node_to_json).
 *
 * A value joins at most one object or array, as jansson's "_new" setters
 * steal a reference. Strings are borrowed, not copied: their text must live
 * as long as the pool, as literals, the strings of the object expanded and
 * node_cat() text do; a temporary goes through node_cat() first. They are
 * checked for bytes to escape as they are written out, where they are
 * copied anyway. Keys are string literals of this program, written out as
 * they stand (sanitizer builds check they need no JSON escaping).
 * Allocation failure aborts, as everywhere in mutators/.
 */
#ifndef NODE_H
#define NODE_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "mutators/json/strbuf.h"

enum node_type { NODE_OBJECT, NODE_ARRAY, NODE_STRING, NODE_INT, NODE_TRUE };

/* 40 bytes: the children of a Training are ~450 of them, written anew for
 * every review, and under load every cache line written is one fetched. */
struct node {
    const char *key;            /* as an object's member, else NULL */
    struct node *next;          /* the next member or element */
    union {
        struct { struct node *first, *last; } kids;     /* object, array */
        struct { const char *s; size_t len; } str;
        long long i;
    } u;
    unsigned klen;              /* keys are literals of this program */
    unsigned char type;         /* enum node_type */
};

struct node_chunk;

struct node_pool {
    struct node_chunk *chunks;
    struct node_pool *prev;
};

/* Makes pool (uninitialised, the caller's) the thread's pool in force. */
void node_pool_begin(struct node_pool *pool);

/* Frees everything built from pool and restores the previous one. */
void node_pool_end(struct node_pool *pool);

/* A string of s[0..len), borrowed (see above). */
struct node *node_strn(const char *s, size_t len);

/* The strings up to NULL joined, as text in the pool in force (it lives as
 * long as the pool): for names and paths built on the way to nodes. */
const char *node_cat(const char *s, ...) __attribute__((sentinel));
const char *node_vcat(va_list ap);
struct node *node_int(long long i);
struct node *node_true(void);

/* A new empty object or array. */
struct node *node_object(void);
struct node *node_array(void);

/* A new object from key, value pairs ended by NULL; the keys are distinct. */
struct node *node_obj(const char *key, struct node *value, ...);

/* A new array of the values, ended by NULL. */
struct node *node_list(struct node *value, ...);

/* Sets obj[key] = value, replacing a member of that name in its place. */
void node_setn(struct node *obj, const char *key, size_t klen, struct node *value);

/* Appends value to the array. */
void node_append(struct node *array, struct node *value);

/* obj[key], or NULL (also when obj is NULL or not an object). */
struct node *node_getn(const struct node *obj, const char *key, size_t klen);

/* Inline, so that the length of a literal is counted at compile time. */
static inline struct node *node_str(const char *s)
{
    return node_strn(s, strlen(s));
}

static inline void node_set(struct node *obj, const char *key, struct node *value)
{
    node_setn(obj, key, strlen(key), value);
}

static inline struct node *node_get(const struct node *obj, const char *key)
{
    return node_getn(obj, key, strlen(key));
}

/* A deep copy (NULL for NULL), in the pool in force. */
struct node *node_copy(const struct node *n);

/* Appends n as compact JSON. */
void node_dump(struct strbuf *sb, const struct node *n);

/* node_dump(), ordering the members of every object in n by key (byte
 * order, in place) as it goes: canonical JSON, the text Go's encoder
 * writes and the admission seal covers. */
void node_dump_canonical(struct strbuf *sb, struct node *n);

/* 1 when n and v hold the same JSON value, as json_equal() judges:
 * objects by their members in any order, arrays in order. */
int node_equal_json(const struct node *n, const json_t *v);

/* n as a new jansson value. */
json_t *node_to_json(const struct node *n);

#endif
