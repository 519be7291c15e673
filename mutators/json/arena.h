/*
 * arena.h - per-request memory for jansson.
 *
 * A review builds and drops a few thousand small jansson values; with
 * malloc, allocating and freeing them one by one was a third of the
 * server's CPU time. Between arena_begin() and arena_end() every jansson
 * allocation on the calling thread is carved from that thread's chunks and
 * every free of such memory is a no-op; arena_end() makes the chunks free
 * again at once. Nothing jansson allocates inside the bracket may outlive
 * it: callers hand results out as malloc'd text, never as json_t.
 *
 * jansson's allocation hooks take no context, so the arena in force is
 * thread-local. Under AddressSanitizer arena_install() does nothing, so the
 * sanitizer sees every allocation.
 */
#ifndef ARENA_H
#define ARENA_H

#include <stddef.h>

#define ARENA_CHUNK (64 * 1024)      /* bytes of a chunk */
#define ARENA_KEEP (256 * 1024)      /* bytes a thread keeps between requests */
#define ARENA_KEEP_LARGE (4u << 20)  /* ... and one larger chunk, at most this, for the next large body */

/* Routes jansson's allocations through the arena; call once before any
 * jansson use and before threads start. */
void arena_install(void);

/* Starts a request on this thread. Brackets do not nest. */
void arena_begin(void);

/* Ends it: everything allocated since arena_begin() is gone. */
void arena_end(void);

/* 1 when this thread keeps a chunk past ARENA_KEEP for the next large
 * body; *used: a request used more of it than ARENA_KEEP since the last
 * call. A worker asks after its rounds, to give the chunk back once large
 * bodies stop coming (workers.c). */
int arena_large_kept(int *used);

/* Frees that chunk (outside a request only). */
void arena_drop_large(void);

/* 1 when jansson's allocations on this thread come from the arena now
 * (installed, between arena_begin() and arena_end()): a tree built since
 * goes at arena_end() whole, and the walk of json_decref() over it, value
 * by value, may be left out. Only while the tree holds no reference to a
 * value from outside the bracket (a policy's): that value's count would
 * stay raised for good. review.c and sync.c rely on it for the request
 * and answer trees; test_review checks that a policy's counts come back. */
int arena_in_force(void);

/* Frees this thread's chunks (the main thread's before exit; worker
 * threads' are freed when they exit). */
void arena_thread_release(void);

#endif
