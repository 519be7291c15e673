/*
 * outbox.h - how the TLS port's records leave: what a worker's round
 * writes is sent when the round ends.
 *
 * libmicrohttpd writes each answer as it is made, header and body as two
 * TLS records, and the client wakes for each write. The TLS layer here
 * writes through a push function of ours instead, which keeps a
 * connection's records in its outbox; when the worker's round ends (every
 * ready connection handled) each outbox goes out in one send. Answers made
 * in the same round then reach their clients together, and a client
 * reading several connections wakes once for them. An outbox holds at most
 * 64 KiB, and all of a worker's at most 256 KiB (a thousand connections
 * answered in one round would otherwise hold a thousand answers at once):
 * past that it is sent at once, and while the socket cannot take it the
 * push says "again", as the socket would, so libmicrohttpd waits for it to
 * drain.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

struct conn;
struct worker;
struct MHD_Connection;

/* Makes k one of the calling worker's connections and its TLS session
 * read and write through the outbox. */
void outbox_attach(struct conn *k, struct MHD_Connection *c);

/* Sends what the socket takes of k's outbox; 0 once it is empty (its
 * buffer then goes back to the worker), -1 while bytes are left. */
int outbox_flush(struct conn *k);

/* Sends every outbox the worker's round filled. */
void outbox_flush_round(struct worker *w);

/* Takes k off its worker's list of outboxes to send (its bytes stay). */
void outbox_mark_clean(struct conn *k);

/* From now on c's writes go straight to its socket: for an answer given
 * before the body, after which libmicrohttpd closes the connection with
 * the body unread; the connection then lingers (conn.h). */
void outbox_write_through(struct MHD_Connection *c);

#endif
