/*
 * policyindex.c - exact names by hash, globs by literal prefix or suffix
 * (mutators/policyindex.h).
 */
#include "mutators/policyindex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/policymatch.h"

enum anchor { ANCHOR_NONE, ANCHOR_PREFIX, ANCHOR_SUFFIX };

struct entry {
    const char *pat;            /* borrowed */
    size_t len;
    size_t id;
    int glob;
    enum anchor anchor;         /* where a glob is filed */
    size_t alen;                /* the literal prefix's or suffix's length */
    uint64_t ahash;             /* its hash (a suffix is hashed from its end) */
};

/* The globs filed under one literal prefix or suffix: globs[start, end). */
struct bucket {
    enum anchor anchor;
    size_t alen;
    uint64_t hash;
    const char *bytes;          /* the literal: alen bytes */
    uint32_t start, end;
};

struct policyindex {
    size_t cap, n;
    struct entry *entries;      /* in the order filed */
    uint32_t *names;            /* every pattern: entry index + 1, 0 empty */
    size_t names_mask;
    struct entry *globs;        /* copies of the glob entries: unanchored first,
                                 * then by bucket, best first within each */
    size_t nglobs, nloose;      /* globs[0, nloose) have no literal to file by */
    struct bucket *buckets;     /* open addressing; alen 0 is empty */
    size_t buckets_mask;
    size_t max_prefix, max_suffix;  /* the longest literal filed of each */
    int built;
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = FNV_OFFSET;

    for (size_t i = 0; i < n; i++)
        h = fnv_step(h, (unsigned char)s[i]);
    return h;
}

/* The hash of the n bytes that end at end, read backwards. */
static uint64_t fnv_back(const char *end, size_t n)
{
    uint64_t h = FNV_OFFSET;

    for (size_t i = 1; i <= n; i++)
        h = fnv_step(h, (unsigned char)end[-(ptrdiff_t)i]);
    return h;
}

/* A table of at least twice n slots, a power of two. */
static size_t table_size(size_t n)
{
    size_t size = 16;

    while (size < 2 * n)
        size *= 2;
    return size;
}

static void *zalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        abort();
    return p;
}

struct policyindex *policyindex_new(size_t cap)
{
    struct policyindex *ix = zalloc(1, sizeof(*ix));

    if (cap >= UINT32_MAX / 4)
        abort();
    ix->cap = cap;
    ix->entries = zalloc(cap, sizeof(ix->entries[0]));
    ix->names_mask = table_size(cap) - 1;
    ix->names = zalloc(ix->names_mask + 1, sizeof(ix->names[0]));
    return ix;
}

void policyindex_free(struct policyindex *ix)
{
    if (!ix)
        return;
    free(ix->entries);
    free(ix->names);
    free(ix->globs);
    free(ix->buckets);
    free(ix);
}

/* The slot of the n bytes at s (hash h) in the names table: the one that
 * holds them, or the empty one where they would go. */
static size_t name_slot(const struct policyindex *ix, const char *s, size_t n, uint64_t h)
{
    size_t i = (size_t)h & ix->names_mask;

    for (;; i = (i + 1) & ix->names_mask) {
        const struct entry *e;

        if (!ix->names[i])
            return i;
        e = &ix->entries[ix->names[i] - 1];
        if (e->len == n && !memcmp(e->pat, s, n))
            return i;
    }
}

/* Where glob e is filed: the longer of its literal prefix and suffix. */
static void file_glob(struct entry *e)
{
    size_t prefix = strcspn(e->pat, "*?"), suffix = 0;

    if (prefix > e->len)
        prefix = e->len;
    while (suffix < e->len && e->pat[e->len - 1 - suffix] != '*' && e->pat[e->len - 1 - suffix] != '?')
        suffix++;
    if (prefix > POLICYINDEX_MAX_ANCHOR)
        prefix = POLICYINDEX_MAX_ANCHOR;
    if (suffix > POLICYINDEX_MAX_ANCHOR)
        suffix = POLICYINDEX_MAX_ANCHOR;
    if (prefix == 0 && suffix == 0) {
        e->anchor = ANCHOR_NONE;
        e->alen = 0;
    } else if (prefix >= suffix) {
        e->anchor = ANCHOR_PREFIX;
        e->alen = prefix;
        e->ahash = fnv(e->pat, prefix);
    } else {
        e->anchor = ANCHOR_SUFFIX;
        e->alen = suffix;
        e->ahash = fnv_back(e->pat + e->len, suffix);
    }
}

int policyindex_add(struct policyindex *ix, const char *pattern, size_t n, int glob, size_t id,
                    size_t *first)
{
    size_t slot = name_slot(ix, pattern, n, fnv(pattern, n));
    struct entry *e;

    if (ix->names[slot]) {
        *first = ix->entries[ix->names[slot] - 1].id;
        return -1;
    }
    if (ix->built || ix->n == ix->cap)
        abort();
    e = &ix->entries[ix->n];
    *e = (struct entry){ .pat = pattern, .len = n, .id = id, .glob = glob };
    if (glob) {
        file_glob(e);
        ix->nglobs++;
    }
    ix->names[slot] = (uint32_t)++ix->n;
    return 0;
}

static const char *anchor_bytes(const struct entry *e)
{
    return e->anchor == ANCHOR_SUFFIX ? e->pat + e->len - e->alen : e->pat;
}

/* 1 when x is a better match than y: longer, then filed first. */
static int better(const struct entry *x, const struct entry *y)
{
    return x->len != y->len ? x->len > y->len : x->id < y->id;
}

/* Unanchored first, then grouped by literal, best first within a group. */
static int by_bucket(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c;

    if (x->anchor != y->anchor)
        return (int)x->anchor - (int)y->anchor;
    if (x->alen != y->alen)
        return x->alen < y->alen ? -1 : 1;
    if (x->ahash != y->ahash)
        return x->ahash < y->ahash ? -1 : 1;
    if ((c = memcmp(anchor_bytes(x), anchor_bytes(y), x->alen)) != 0)
        return c;
    return better(x, y) ? -1 : better(y, x);
}

/* The bucket slot of a literal (anchor, hash, n bytes at s): the one that
 * holds it, or the empty one where it would go. */
static size_t bucket_slot(const struct policyindex *ix, enum anchor anchor, uint64_t h, const char *s, size_t n)
{
    size_t i = (size_t)(h ^ (uint64_t)anchor * 0x9e3779b97f4a7c15ULL) & ix->buckets_mask;

    for (;; i = (i + 1) & ix->buckets_mask) {
        const struct bucket *b = &ix->buckets[i];

        if (!b->alen)
            return i;
        if (b->anchor == anchor && b->hash == h && b->alen == n && !memcmp(b->bytes, s, n))
            return i;
    }
}

void policyindex_build(struct policyindex *ix)
{
    size_t k = 0;

    if (ix->built)
        abort();
    ix->built = 1;
    ix->globs = zalloc(ix->nglobs, sizeof(ix->globs[0]));
    for (size_t i = 0; i < ix->n; i++)
        if (ix->entries[i].glob)
            ix->globs[k++] = ix->entries[i];
    qsort(ix->globs, ix->nglobs, sizeof(ix->globs[0]), by_bucket);
    ix->buckets_mask = table_size(ix->nglobs) - 1;
    ix->buckets = zalloc(ix->buckets_mask + 1, sizeof(ix->buckets[0]));
    for (size_t i = 0; i < ix->nglobs; i++) {
        const struct entry *e = &ix->globs[i];
        struct bucket *b;

        if (e->anchor == ANCHOR_NONE) {
            ix->nloose = i + 1;
            continue;
        }
        b = &ix->buckets[bucket_slot(ix, e->anchor, e->ahash, anchor_bytes(e), e->alen)];
        if (!b->alen)
            *b = (struct bucket){ .anchor = e->anchor, .alen = e->alen, .hash = e->ahash,
                                  .bytes = anchor_bytes(e), .start = (uint32_t)i };
        b->end = (uint32_t)i + 1;
        if (e->anchor == ANCHOR_PREFIX && e->alen > ix->max_prefix)
            ix->max_prefix = e->alen;
        if (e->anchor == ANCHOR_SUFFIX && e->alen > ix->max_suffix)
            ix->max_suffix = e->alen;
    }
}

/* The best glob of globs[start, end) that matches name, if it beats *best. */
static void try_globs(const struct policyindex *ix, size_t start, size_t end, const char *name,
                      const struct entry **best)
{
    for (size_t i = start; i < end; i++) {
        const struct entry *e = &ix->globs[i];

        if (*best && !better(e, *best))
            return;         /* the rest of the bucket is worse still */
        if (policymatch_glob(e->pat, name)) {
            *best = e;
            return;
        }
    }
}

static void try_bucket(const struct policyindex *ix, enum anchor anchor, uint64_t h, const char *s, size_t n,
                       const char *name, const struct entry **best)
{
    const struct bucket *b = &ix->buckets[bucket_slot(ix, anchor, h, s, n)];

    if (b->alen)
        try_globs(ix, b->start, b->end, name, best);
}

size_t policyindex_find(const struct policyindex *ix, const char *name, size_t n)
{
    const struct entry *best = NULL;
    size_t slot;
    uint64_t h;

    if (!ix || !ix->built)
        return POLICYINDEX_NONE;
    slot = name_slot(ix, name, n, fnv(name, n));
    if (ix->names[slot] && !ix->entries[ix->names[slot] - 1].glob)
        return ix->entries[ix->names[slot] - 1].id;
    if (!ix->nglobs || name[n] != '\0' || memchr(name, '\0', n))
        return POLICYINDEX_NONE;
    try_globs(ix, 0, ix->nloose, name, &best);
    h = FNV_OFFSET;
    for (size_t k = 1; k <= n && k <= ix->max_prefix; k++) {
        h = fnv_step(h, (unsigned char)name[k - 1]);
        try_bucket(ix, ANCHOR_PREFIX, h, name, k, name, &best);
    }
    h = FNV_OFFSET;
    for (size_t k = 1; k <= n && k <= ix->max_suffix; k++) {
        h = fnv_step(h, (unsigned char)name[n - k]);
        try_bucket(ix, ANCHOR_SUFFIX, h, name + n - k, k, name, &best);
    }
    return best ? best->id : POLICYINDEX_NONE;
}
