/*
 * workers.h - the TLS port's threads: one acceptor, and workers that each
 * run a libmicrohttpd epoll daemon of their own.
 *
 * The acceptor takes each connection while a slot is free (at the limit
 * new ones wait in the listening socket's backlog), closes at once one
 * whose address already holds --max-connections-per-address unanswered
 * connections, and hands the rest to the worker with the fewest. A worker
 * runs its daemon in rounds: wait for events, handle every ready
 * connection, send what the round wrote (outbox.h), read and drop what
 * lingering connections still send (conn.h), write its log lines.
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <microhttpd.h>
#include <sys/socket.h>

struct server;
struct worker;

/* The worker the calling thread is; NULL on any other thread. */
extern __thread struct worker *workers_self;

/* The cores this process may use: the online ones, fewer when a cgroup v2
 * CPU limit (a pod's resources.limits.cpu) allows less, rounded up. */
unsigned workers_cores(void);

/* The listening socket the acceptor takes connections from, or
 * MHD_INVALID_SOCKET with errno set. */
MHD_socket workers_listen(const struct sockaddr_storage *addr);

/* Starts n workers on s->listen_fd, then the acceptor. Returns 0, or -1
 * with everything started stopped again. */
int workers_start(struct server *s, unsigned n);

/* Stops the acceptor and waits for it; the listening socket is shut down
 * (new connections are refused) but not closed. Idempotent. */
void workers_stop_accepting(struct server *s);

/* Stops the acceptor, the first running workers and every daemon (which
 * closes their connections); the listening socket is the caller's. */
void workers_stop(struct server *s, unsigned running);

#endif
