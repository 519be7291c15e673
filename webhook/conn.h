/*
 * conn.h - a connection's record on the TLS port, from libmicrohttpd's
 * STARTED notice to its close: its deadline, its share of the body budget,
 * its count against its address, and the lingering close after a refusal.
 *
 * Deadlines (CLOCK_MONOTONIC milliseconds, one per connection, swept by the
 * main thread) bound what libmicrohttpd's idle timer cannot, as it restarts
 * with every byte:
 *   accept, or a request's first byte   head due in --header-timeout
 *   head complete                       body due at --header-timeout plus
 *                                       what it received at --min-body-rate
 *   (both capped at --request-timeout from the request's first byte)
 *   answer made                         taken by the client in --request-timeout
 *   answer taken                        idle: --connection-timeout
 * A connection answered before its body was read (413, 503, 404, 405)
 * lingers: the rest of the body is read and dropped, up to a bound, so a
 * client that writes all before it reads gets the answer, not a reset.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct conn;
struct request;
struct server;
struct worker;

/* 1 once a STARTED notice came on this thread (workers.c clears it before
 * MHD_add_connection to learn whether the socket got a record). */
extern __thread int conn_started;

/* CLOCK_MONOTONIC milliseconds. */
long long conn_now_ms(void);

/* The two lists a connection is in (the server's, for the sweep; its
 * worker's dirty or lingering one), by the offset of their link in struct
 * conn. */
void conn_list_push(struct conn **head, struct conn *k, size_t off);
void conn_list_unlink(struct conn **head, struct conn *k, size_t off);

/* libmicrohttpd's connection notice (MHD_OPTION_NOTIFY_CONNECTION, cls:
 * the worker): STARTED makes the record, CLOSED ends it or lets it linger. */
void conn_notify(void *cls, struct MHD_Connection *c, void **socket_cls,
                 enum MHD_ConnectionNotificationCode code);

/* c's record, or NULL. */
struct conn *conn_of(struct MHD_Connection *c);

/* k's deadline becomes at, but never later than --request-timeout after
 * its request's first byte. */
void conn_due_by(struct server *s, struct conn *k, long long at);

/* Appends an upload chunk to r's body under --max-body and --max-buffered
 * (see conn.c). Returns 0, or 413/503 when the body is refused. */
int conn_collect(struct server *s, struct request *r, const char *data, size_t n);

/* Frees r's body and gives its bytes back to --max-buffered. */
void conn_drop_body(struct server *s, struct request *r);

/* Writes a 413 or 503 in the middle of a body straight to the socket; the
 * caller then returns MHD_NO and the connection lingers. */
void conn_refuse_now(struct MHD_Connection *c, struct conn *k, unsigned status);

/* k has its first answer: it no longer counts against its address. */
void conn_answered(struct server *s, struct conn *k);

/* A connection slot is given back (addr: the client's while it still
 * counted in peers, else NULL); wakes the acceptor if it waits. */
void conn_release_slot(struct worker *w, const struct sockaddr *addr);

/* One round of w's lingering connections: send, shut the write side,
 * drop what came; end those done. */
void conn_linger_round(struct server *s, struct worker *w);

/* Ends a lingering connection now. */
void conn_linger_end(struct server *s, struct worker *w, struct conn *k);

/* Shuts down the sockets of connections past their deadline (their
 * worker then sees the end of the stream and closes them); from the main
 * thread. */
void conn_sweep(struct server *s);

#endif
