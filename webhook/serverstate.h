/*
 * serverstate.h - the records the TLS server's modules share: the server,
 * its workers, their connections and the request in progress on one.
 *
 * Who does what (read in this order to follow one request):
 *   workers.c   the acceptor hands a socket to a worker; each worker runs a
 *               libmicrohttpd epoll daemon in rounds
 *   conn.c      a connection's record: deadlines by stage, the body budget,
 *               the per-address count, the lingering close after a refusal
 *   server.c    the request: route (routes.c), collect the body, run the
 *               handler, queue the answer; start, reload tick, drain
 *   outbox.c    how TLS records leave: gathered per round, one send each
 *   reload.c    the certificate and policy files, re-read on change
 * Only these files include this header.
 */
#ifndef SERVERSTATE_H
#define SERVERSTATE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "certs/seal.h"
#include "mutators/kinds.h"
#include "webhook/metrics.h"
#include "webhook/peers.h"
#include "webhook/reload.h"
#include "webhook/server.h"

struct policy;
struct syncport;

struct server {
    const struct server_config *cfg;
    struct metrics metrics;
    atomic_int draining;
    struct reload reload;           /* the certificate and the policy in force */
    atomic_size_t buffered;         /* bytes of request bodies held, all connections */
    pthread_mutex_t conns_lock;     /* guards the list, not the deadlines */
    struct conn *conns;             /* open connections, for the deadline sweep */
    MHD_socket listen_fd;
    pthread_t acceptor;
    int accepting;                  /* the acceptor runs */
    pthread_mutex_t slots_lock;     /* guards live, peers, and closing's waits */
    pthread_cond_t slot_freed;
    unsigned live;                  /* connections accepted and not yet closed */
    unsigned per_address;           /* unanswered connections one address may hold */
    struct peers peers;             /* unanswered connections by address */
    atomic_int closing;             /* the acceptor is asked to stop */
    struct worker *workers;
    unsigned nworkers;
    atomic_int stop;                /* asked of the workers by the main thread */
    struct seal_keys seal_keys;     /* loaded once, before the workers start */
    struct sealer sealer;           /* admission seals (SPEC §9.1), over seal_keys */
    struct syncport *syncport;      /* --sync-listen, or NULL */
};

/* An accepted socket on its way to a worker, with its client's address
 * (the acceptor counted it in peers under that address). */
struct handoff {
    int fd;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
};

/* A thread with a libmicrohttpd daemon of its own, fed sockets by the
 * acceptor through a pipe. It runs the daemon in rounds: wait for events,
 * handle every connection that is ready, then send what the round wrote
 * (outbox.h). */
struct worker {
    struct server *s;
    struct MHD_Daemon *daemon;
    pthread_t thread;
    int ep;                         /* epoll: the daemon's epoll and handoff[0] */
    int handoff[2];                 /* a pipe of accepted sockets (struct handoff) */
    atomic_uint load;               /* connections handed to it, not yet closed */
    atomic_int handed;              /* the pipe got sockets since the worker last took them */
    struct conn **by_fd;            /* its connections, by socket */
    size_t nfd;
    struct conn *dirty;             /* its connections with bytes to send */
    struct conn *lingering;         /* its closed connections still read and dropped */
    size_t held;                    /* bytes in its connections' outboxes */
    char *spare;                    /* an emptied outbox's buffer, for the next */
    size_t spare_cap;
    char *warm;                     /* a large body's buffer, kept for the next large body (conn.c) */
    size_t warm_cap;
    int warm_used;                  /* a large body came since the worker last looked (workers.c, cool()) */
    long long warm_at;              /* when it last saw one: CLOCK_MONOTONIC ms */
    int moved;                      /* this round read or wrote bytes, or ran a handler */
    int starved;                    /* this round a read found nothing to read */
};

/* An open connection, from libmicrohttpd's STARTED to its CLOSED notice
 * (the socket is closed after that notice, so while it is listed its fd is
 * its own), and after it while it lingers on a socket of its own (a dup).
 * deadline: CLOCK_MONOTONIC milliseconds by which its current stage (see
 * conn.h) must be over; the main thread shuts the socket
 * down past it. */
struct link {
    struct conn *prev, *next;
};

struct conn {
    struct link all;                /* in the server's list */
    struct link dirty;              /* in its worker's dirty list, when is_dirty */
    struct worker *worker;
    struct link linger;             /* in its worker's lingering list */
    int fd, is_dirty;
    int direct;                     /* 1: writes bypass the outbox */
    int idle;                       /* 1: answered, the next request not begun */
    int unanswered;                 /* 1: counted in peers until its first answer */
    int refused;                    /* 1: answered before its body was read: linger at close */
    int awaiting;                   /* 1: its request's body may still come (outbox.c pull()) */
    int shut;                       /* lingering: the write side is shut down */
    signed char nodelay, corked;    /* TCP_NODELAY, TCP_CORK as last set: 1, 0, -1 unknown (outbox.c) */
    size_t dropped;                 /* lingering: bytes read and dropped */
    _Atomic long long deadline;
    long long begun;                /* ms: the current request's first byte (or the accept) */
    long long body_begun;           /* ms: its head was complete */
    struct sockaddr_storage addr;   /* the client's */
    char *out;                      /* TLS records written in this round */
    size_t len, cap;
};

struct request {
    struct conn *k;                 /* its connection's record, or NULL */
    char *body;
    size_t len, cap;                /* len bytes are charged to --max-buffered */
    size_t expect;                  /* the announced Content-Length, or 0 */
    int too_large;                  /* 413: announced over --max-body */
    gnutls_session_t corked;        /* the answer is gathered here into one record */
    struct timespec start;
};


/* libmicrohttpd's request callbacks of the TLS port (server.c; cls: the
 * server): the access handler, and the request's end. */
enum MHD_Result server_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **req_cls);
void server_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe);

#endif
