/*
 * arena.c - bump allocation for jansson, reset per request.
 */
#include "mutators/json/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_SANITIZED 1
#endif
#endif

#define ALIGN 16

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(ALIGN) char data[];
};

struct arena {
    struct chunk *chunks;     /* the one allocated from first */
    int active;
    int large_used;           /* a request used the large chunk (arena_end()) */
};

static __thread struct arena mine;
static int installed;         /* jansson allocates through arena_malloc() */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void release(struct arena *a)
{
    while (a->chunks) {
        struct chunk *next = a->chunks->next;

        free(a->chunks);
        a->chunks = next;
    }
}

static void on_thread_exit(void *arg)
{
    release(arg);
}

static void make_key(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

/* Each new chunk is at least twice the last, so a request holds few
 * chunks however much it allocates, and arena_free's search stays short. */
static struct chunk *new_chunk(const struct chunk *last, size_t need)
{
    size_t size = last ? 2 * last->size : ARENA_CHUNK;

    /* a power of two: a chunk kept warm (arena_end()) then fits the next
     * request's value of about the same size after the small ones */
    while (size < need)
        size *= 2;
    struct chunk *c = malloc(sizeof(*c) + size);

    if (c) {
        c->size = size;
        c->used = 0;
        c->next = NULL;
    }
    return c;
}

static void *arena_malloc(size_t n)
{
    struct arena *a = &mine;
    struct chunk *c;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);

    if (!a->active)
        return malloc(n);
    for (c = a->chunks; c; c = c->next)
        if (c->size - c->used >= need)
            break;
    if (!c) {
        c = new_chunk(a->chunks, need);
        if (!c)
            return NULL;
        c->next = a->chunks;
        a->chunks = c;
    }
    c->used += need;
    return c->data + c->used - need;
}

static int owns(const struct arena *a, const void *p)
{
    for (const struct chunk *c = a->chunks; c; c = c->next)
        if ((uintptr_t)p >= (uintptr_t)c->data && (uintptr_t)p < (uintptr_t)(c->data + c->size))
            return 1;
    return 0;
}

static void arena_free(void *p)
{
    if (p && !(mine.active && owns(&mine, p)))
        free(p);
}

void arena_install(void)
{
#ifndef ARENA_SANITIZED
    json_set_alloc_funcs(arena_malloc, arena_free);
    installed = 1;
#else
    (void)arena_malloc, (void)arena_free;
#endif
}

void arena_begin(void)
{
    pthread_once(&exit_once, make_key);
    if (!mine.chunks)
        pthread_setspecific(exit_key, &mine);
    mine.active = 1;
}

void arena_end(void)
{
    struct chunk **pp = &mine.chunks;
    size_t kept = 0;
    int large = 0;

    mine.active = 0;
    while (*pp) {
        struct chunk *c = *pp;

        /* one chunk past ARENA_KEEP stays too, up to ARENA_KEEP_LARGE:
         * the next large body's values then land on pages already mapped
         * instead of faulting in fresh ones (256 faults per MiB) */
        if (!large && c->size > ARENA_KEEP && c->size <= ARENA_KEEP_LARGE) {
            large = 1;
            /* more of it than a small request keeps: a large one */
            mine.large_used |= c->used > ARENA_KEEP;
            c->used = 0;
            pp = &c->next;
            continue;
        }
        if (kept + c->size > ARENA_KEEP) {
            *pp = c->next;
            free(c);
            continue;
        }
        kept += c->size;
        c->used = 0;
        pp = &c->next;
    }
}

/* The thread's chunk past ARENA_KEEP, or NULL. */
static struct chunk **large_chunk(void)
{
    for (struct chunk **pp = &mine.chunks; *pp; pp = &(*pp)->next)
        if ((*pp)->size > ARENA_KEEP)
            return pp;
    return NULL;
}

int arena_large_kept(int *used)
{
    *used = mine.large_used;
    mine.large_used = 0;
    return large_chunk() != NULL;
}

void arena_drop_large(void)
{
    struct chunk **pp = mine.active ? NULL : large_chunk();

    if (pp) {
        struct chunk *c = *pp;

        *pp = c->next;
        free(c);
    }
}

int arena_in_force(void)
{
    return installed && mine.active;
}

void arena_thread_release(void)
{
    release(&mine);
}
