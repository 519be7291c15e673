/*
 * peers.h - connections counted by source address.
 *
 * The apiserver reaches the webhook from a few addresses; a hostile pod is
 * one. The acceptor counts, per address, the connections that have not
 * been answered yet (handshake, head or body under way), so that one
 * address cannot take every slot with slow or half-open clients while
 * another waits. A table of fixed size: at most one entry per connection
 * slot, allocated once. Not thread-safe: the caller holds its lock.
 */
#ifndef PEERS_H
#define PEERS_H

#include <stddef.h>
#include <sys/socket.h>

struct peer;

struct peers {
    struct peer *nodes;         /* capacity entries, each free or counting an address */
    struct peer **buckets;      /* nbuckets chains */
    struct peer *free;          /* unused entries */
    size_t nbuckets;
};

/* Room for capacity addresses at once (the connection limit: an address
 * without connections holds no entry). Returns 0 or -1 (out of memory). */
int peers_init(struct peers *p, unsigned capacity);

/* Counts one more connection from addr unless addr already has cap:
 * returns 0 when counted, -1 when refused (or the table is full, which a
 * caller that never counts more than capacity connections never sees).
 * IPv4-mapped IPv6 addresses count as their IPv4 address. */
int peers_take(struct peers *p, const struct sockaddr *addr, unsigned cap);

/* Gives back one connection counted for addr by peers_take(). */
void peers_give(struct peers *p, const struct sockaddr *addr);

/* Connections counted for addr now (for tests and logs). */
unsigned peers_count(const struct peers *p, const struct sockaddr *addr);

void peers_release(struct peers *p);

#endif
