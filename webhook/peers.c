/*
 * peers.c - a fixed-size hash table of connection counts by address.
 */
#include "webhook/peers.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PEERS_KEY 16                /* an IPv6 address; IPv4 in the first 4 bytes */

struct peer {
    unsigned char key[PEERS_KEY];
    unsigned char len;              /* 4 or 16 */
    unsigned count;
    struct peer *next;              /* in a bucket, or in the free list */
};

/* addr's key into key[]; its length, or 0 for a family without one (a
 * UNIX socket: never limited). */
static size_t key_of(const struct sockaddr *addr, unsigned char key[PEERS_KEY])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    memset(key, 0, PEERS_KEY);
    if (addr->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)addr)->sin_addr, 4);
        return 4;
    }
    if (addr->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;

        if (!memcmp(a, mapped, sizeof(mapped))) {
            memcpy(key, a + 12, 4);
            return 4;
        }
        memcpy(key, a, 16);
        return 16;
    }
    return 0;
}

/* FNV-1a over the key. */
static size_t bucket_of(const struct peers *p, const unsigned char *key, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 16777619u;
    return h & (p->nbuckets - 1);
}

static struct peer **find(const struct peers *p, const unsigned char *key, size_t len)
{
    struct peer **pp = &p->buckets[bucket_of(p, key, len)];

    while (*pp && ((*pp)->len != len || memcmp((*pp)->key, key, len)))
        pp = &(*pp)->next;
    return pp;
}

int peers_init(struct peers *p, unsigned capacity)
{
    memset(p, 0, sizeof(*p));
    p->nbuckets = 16;
    while (p->nbuckets < (size_t)capacity * 2)
        p->nbuckets *= 2;
    p->nodes = calloc(capacity ? capacity : 1, sizeof(*p->nodes));
    p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
    if (!p->nodes || !p->buckets) {
        peers_release(p);
        return -1;
    }
    for (unsigned i = 0; i < capacity; i++) {
        p->nodes[i].next = p->free;
        p->free = &p->nodes[i];
    }
    return 0;
}

int peers_take(struct peers *p, const struct sockaddr *addr, unsigned cap)
{
    unsigned char key[PEERS_KEY];
    size_t len = key_of(addr, key);
    struct peer **pp, *e;

    if (!len)
        return 0;
    pp = find(p, key, len);
    if (*pp) {
        if ((*pp)->count >= cap)
            return -1;
        (*pp)->count++;
        return 0;
    }
    if (!p->free || cap == 0)
        return -1;
    e = p->free;
    p->free = e->next;
    memcpy(e->key, key, PEERS_KEY);
    e->len = (unsigned char)len;
    e->count = 1;
    e->next = NULL;
    *pp = e;
    return 0;
}

void peers_give(struct peers *p, const struct sockaddr *addr)
{
    unsigned char key[PEERS_KEY];
    size_t len = key_of(addr, key);
    struct peer **pp, *e;

    if (!len)
        return;
    pp = find(p, key, len);
    e = *pp;
    if (!e || --e->count > 0)
        return;
    *pp = e->next;
    e->next = p->free;
    p->free = e;
}

unsigned peers_count(const struct peers *p, const struct sockaddr *addr)
{
    unsigned char key[PEERS_KEY];
    size_t len = key_of(addr, key);
    struct peer **pp;

    if (!len)
        return 0;
    pp = find(p, key, len);
    return *pp ? (*pp)->count : 0;
}

void peers_release(struct peers *p)
{
    free(p->nodes);
    free(p->buckets);
    memset(p, 0, sizeof(*p));
}
