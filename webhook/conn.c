/*
 * conn.c - a connection's record on the TLS port (see conn.h).
 */
#include "webhook/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "webhook/log.h"
#include "webhook/outbox.h"
#include "webhook/serverstate.h"
#include "webhook/tls.h"
#include "webhook/workers.h"

#define BODY_SMALL (64 * 1024)      /* a body this small may use all of --max-buffered ... */
#define BODY_RESERVE_DIV 4          /* ... larger ones leave 1/4 of it to the small ones */
#define BODY_WARM_MAX (4u << 20)    /* the largest body buffer a worker keeps for the next */
#define LINGER_MS 5000              /* longest a refused upload is read and dropped */
#define LINGER_EXTRA (4u << 20)     /* bytes dropped at most: twice --max-body and this */
#define DISCARD_MAX (16 * 1024)     /* bytes read at once while lingering */

/* The two lists a connection is in: which link, by its offset in struct
 * conn. */
#define LINK(k, off) ((struct link *)((char *)(k) + (off)))

void conn_list_push(struct conn **head, struct conn *k, size_t off)
{
    LINK(k, off)->prev = NULL;
    LINK(k, off)->next = *head;
    if (*head)
        LINK(*head, off)->prev = k;
    *head = k;
}

void conn_list_unlink(struct conn **head, struct conn *k, size_t off)
{
    struct link *l = LINK(k, off);

    if (l->prev)
        LINK(l->prev, off)->next = l->next;
    else
        *head = l->next;
    if (l->next)
        LINK(l->next, off)->prev = l->prev;
}

long long conn_now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* k's deadline becomes at, but never later than --request-timeout after
 * its request's first byte. */
void conn_due_by(struct server *s, struct conn *k, long long at)
{
    long long cap = k->begun + (long long)s->cfg->request_timeout * 1000;

    atomic_store(&k->deadline, at < cap ? at : cap);
}

/* Frees r's body and gives its bytes back to --max-buffered: once the
 * answer is made, a client that does not read it holds no budget. */
void conn_drop_body(struct server *s, struct request *r)
{
    struct worker *w = workers_self;

    atomic_fetch_sub(&s->buffered, r->len);
    if (r->k)
        r->k->awaiting = 0;
    if (w && r->cap > BODY_SMALL)
        w->warm_used = 1;
    /* a large body's buffer stays warm for the worker's next large body:
     * freed, its pages would go back to the system and each page of the
     * next one would fault in again (516 faults per MiB) */
    if (w && r->body && r->cap > BODY_SMALL && r->cap <= BODY_WARM_MAX && r->cap > w->warm_cap) {
        free(w->warm);
        w->warm = r->body;
        w->warm_cap = r->cap;
    } else {
        free(r->body);
    }
    r->body = NULL;
    r->len = r->cap = 0;
}

/* Appends an upload chunk under the body cap. What is received is charged
 * to one budget for all connections, --max-buffered; a body past
 * BODY_SMALL may use only 3/4 of it, so that large uploads, stalled or
 * not, leave room for the small reviews the apiserver sends. Returns 0, or
 * 413/503 when the body is refused (r->body is then freed). Each chunk
 * moves the body's deadline: --header-timeout plus what it has received
 * at --min-body-rate after its head. */
int conn_collect(struct server *s, struct request *r, const char *data, size_t n)
{
    size_t limit = s->cfg->max_buffered, want;
    char *nb;

    if (n > s->cfg->max_body - r->len)
        return 413;
    want = r->len + n;
    if (want > BODY_SMALL)
        limit -= limit / BODY_RESERVE_DIV;
    if (atomic_fetch_add(&s->buffered, n) + n > limit) {
        atomic_fetch_sub(&s->buffered, n);
        return 503;
    }
    if (want > r->cap) {
        /* the announced length at once (pages are only touched as bytes
         * come); chunked bodies grow by doubling up to --max-body */
        size_t cap = r->expect >= want ? r->expect : r->cap ? r->cap : 16384;

        while (cap < want)
            cap *= 2;
        if (cap > s->cfg->max_body)
            cap = s->cfg->max_body;
        if (!r->body && cap > BODY_SMALL && workers_self && workers_self->warm_cap >= cap) {
            /* the worker's warm buffer: its pages are already mapped */
            r->body = workers_self->warm;
            r->cap = workers_self->warm_cap;
            workers_self->warm = NULL;
            workers_self->warm_cap = 0;
            cap = r->cap;
        }
        nb = cap == r->cap ? r->body : realloc(r->body, cap);
        if (!nb) {
            atomic_fetch_sub(&s->buffered, n);
            return 503;
        }
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len = want;
    if (r->k)
        conn_due_by(s, r->k, r->k->body_begun + (long long)s->cfg->header_timeout * 1000 +
                            (long long)(r->len * 1000 / s->cfg->min_body_rate));
    return 0;
}

struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

/* A refusal in the middle of a body: libmicrohttpd 0.9.75 takes an answer
 * only before the body or after all of it, so this one is written to the
 * TLS session here, straight to the socket, and the caller returns MHD_NO:
 * libmicrohttpd closes the connection, which then lingers (see linger()). */
void conn_refuse_now(struct MHD_Connection *c, struct conn *k, unsigned status)
{
    static const char body413[] = "request body is larger than the limit\n";
    static const char body503[] = "too many request bodies in flight; retry\n";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const char *body = status == 413 ? body413 : body503;
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, status == 413 ? "Content Too Large" : "Service Unavailable", strlen(body), body);

    if (k) {
        k->direct = 1;
        k->refused = 1;
    }
    if (ci && ci->tls_session && n > 0 && (size_t)n < sizeof(msg))
        gnutls_record_send(ci->tls_session, msg, (size_t)n);
}

/* A connection slot is given back: the connection closed, or never got
 * started. addr: the client's, when it was still counted in peers (not yet
 * answered), else NULL. Wakes the acceptor if it waits for a slot. */
void conn_release_slot(struct worker *w, const struct sockaddr *addr)
{
    struct server *s = w->s;

    atomic_fetch_sub(&w->load, 1);
    pthread_mutex_lock(&s->slots_lock);
    s->live--;
    if (addr)
        peers_give(&s->peers, addr);
    pthread_cond_signal(&s->slot_freed);
    pthread_mutex_unlock(&s->slots_lock);
}

/* k has its first answer: it no longer counts against its address. */
void conn_answered(struct server *s, struct conn *k)
{
    if (!k->unanswered)
        return;
    k->unanswered = 0;
    pthread_mutex_lock(&s->slots_lock);
    peers_give(&s->peers, (struct sockaddr *)&k->addr);
    pthread_mutex_unlock(&s->slots_lock);
}

__thread int conn_started;    /* a STARTED notice came during MHD_add_connection */

/* Takes k out of the server's list: the sweep no longer sees its socket,
 * which may then be closed (and its number reused). */
static void conn_unlist(struct server *s, struct conn *k)
{
    pthread_mutex_lock(&s->conns_lock);
    conn_list_unlink(&s->conns, k, offsetof(struct conn, all));
    pthread_mutex_unlock(&s->conns_lock);
}

/* Ends a connection taken out of the list for good: its outbox freed, its
 * slot given back. */
static void conn_free(struct worker *w, struct conn *k)
{
    conn_release_slot(w, k->unanswered ? (struct sockaddr *)&k->addr : NULL);
    if (k->worker)
        k->worker->held -= k->len;
    free(k->out);
    free(k);
}

/* At the CLOSED notice of a connection answered before its body was read:
 * keeps its socket open (a dup; libmicrohttpd closes its own descriptor)
 * so that linger_round() can send what is left of the answer, shut the
 * write side and drop what the client still sends, up to LINGER_EXTRA +
 * 2 x --max-body bytes or LINGER_MS. Closing with unread bytes would reset
 * the connection, and a client that writes its whole body before reading
 * would see the reset, not the answer. Returns 0, or -1 when k is to be
 * closed at once. */
static int linger(struct server *s, struct worker *w, struct conn *k)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
    int fd = fcntl(k->fd, F_DUPFD_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    ev.data.fd = fd;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return -1;
    }
    w->by_fd[k->fd] = NULL;
    outbox_mark_clean(k);
    pthread_mutex_lock(&s->conns_lock);
    k->fd = fd;
    pthread_mutex_unlock(&s->conns_lock);
    atomic_store(&k->deadline, conn_now_ms() + LINGER_MS);
    conn_list_push(&w->lingering, k, offsetof(struct conn, linger));
    return 0;
}

void conn_linger_end(struct server *s, struct worker *w, struct conn *k)
{
    conn_list_unlink(&w->lingering, k, offsetof(struct conn, linger));
    conn_unlist(s, k);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    conn_free(w, k);
}

/* Sends what is left of k's outbox straight to its socket: 0 once empty. */
static int linger_send(struct conn *k)
{
    while (k->len) {
        ssize_t n = send(k->fd, k->out, k->len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -1;
        if (n <= 0) {
            k->worker->held -= k->len;
            k->len = 0;         /* broken: the reads will tell */
            break;
        }
        memmove(k->out, k->out + n, k->len - (size_t)n);
        k->len -= (size_t)n;
        k->worker->held -= (size_t)n;
    }
    return 0;
}

/* One round of every lingering connection of w: send, shut the write
 * side, drop what came; end those at EOF, error, bound or deadline (the
 * main thread shuts a lingering socket down at its deadline). */
void conn_linger_round(struct server *s, struct worker *w)
{
    static __thread char sink[DISCARD_MAX];
    size_t bound = 2 * s->cfg->max_body + LINGER_EXTRA;
    struct conn *k = w->lingering, *next;

    for (; k; k = next) {
        int end = 0;

        next = k->linger.next;
        if (linger_send(k) == 0 && !k->shut) {
            shutdown(k->fd, SHUT_WR);
            k->shut = 1;
        }
        for (;;) {
            ssize_t n = recv(k->fd, sink, sizeof(sink), MSG_DONTWAIT);

            if (n > 0) {
                k->dropped += (size_t)n;
                if (k->dropped <= bound)
                    continue;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            }
            end = 1;
            break;
        }
        if (end)
            conn_linger_end(s, w, k);
    }
}

void conn_notify(void *cls, struct MHD_Connection *c, void **socket_cls,
                              enum MHD_ConnectionNotificationCode code)
{
    struct worker *w = cls;
    struct server *s = w->s;
    struct conn *k = *socket_cls;
    const union MHD_ConnectionInfo *ci;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_started = 1;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci && ci->tls_session)
            tls_session_start(ci->tls_session);     /* before its handshake: tickets */
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k = ci ? calloc(1, sizeof(*k)) : NULL;
        if (!k)
            return;         /* not swept: only the idle timeout applies */
        k->fd = ci->connect_fd;
        k->unanswered = 1;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr)
            memcpy(&k->addr, ci->client_addr,
                   ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in));
        k->begun = conn_now_ms();
        atomic_store(&k->deadline, k->begun + (long long)s->cfg->header_timeout * 1000);
        outbox_attach(k, c);
        pthread_mutex_lock(&s->conns_lock);
        conn_list_push(&s->conns, k, offsetof(struct conn, all));
        pthread_mutex_unlock(&s->conns_lock);
        *socket_cls = k;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        *socket_cls = NULL;
        if (!k) {
            /* no record: its address is libmicrohttpd's */
            ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            conn_release_slot(w, ci ? ci->client_addr : NULL);
            return;
        }
        if (k->worker && k->refused && !atomic_load(&s->stop) && linger(s, w, k) == 0)
            return;
        if (k->worker) {
            outbox_flush(k);
            outbox_mark_clean(k);
            w->by_fd[k->fd] = NULL;
        }
        conn_unlist(s, k);
        conn_free(w, k);
    }
}

/* From the main thread: shuts down the sockets of connections past their
 * deadline; their worker sees the end of the stream and closes them. */
void conn_sweep(struct server *s)
{
    long long now = conn_now_ms();
    unsigned n = 0;

    pthread_mutex_lock(&s->conns_lock);
    for (struct conn *k = s->conns; k; k = k->all.next)
        if (atomic_load(&k->deadline) < now) {
            shutdown(k->fd, SHUT_RDWR);
            atomic_store(&k->deadline, LLONG_MAX);
            n++;
        }
    pthread_mutex_unlock(&s->conns_lock);
    if (n)
        LOG(LOG_WARN, "deadline: closed %u connection(s) too slow to send a request or take an answer", n);
}
