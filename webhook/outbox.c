/*
 * outbox.c - how a worker's TLS records leave (see outbox.h).
 */
#include "webhook/outbox.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "webhook/conn.h"
#include "webhook/serverstate.h"
#include "webhook/workers.h"

#define OUTBOX_MAX (64 * 1024)      /* TLS bytes a connection holds until its worker's round ends */
#define ROUND_MAX (256 * 1024)      /* ... and all of a worker's connections together */
#define OUTBOX_MIN 4096             /* an outbox's first buffer: most answers take one page */

static void mark_dirty(struct conn *k)
{
    if (!k->is_dirty)
        conn_list_push(&k->worker->dirty, k, offsetof(struct conn, dirty));
    k->is_dirty = 1;
}

void outbox_mark_clean(struct conn *k)
{
    if (k->is_dirty)
        conn_list_unlink(&k->worker->dirty, k, offsetof(struct conn, dirty));
    k->is_dirty = 0;
}

/* Sends what the socket takes of k's outbox; 0 once it is empty. */
int outbox_flush(struct conn *k)
{
    size_t done = 0;
    int off = 0;

    /* libmicrohttpd corks the socket to write an answer in pieces, and
     * pushes the last piece by setting TCP_NODELAY just after writing it;
     * but that write only reached the outbox. Still corked, the kernel
     * would hold an answer shorter than a segment for 200 ms. */
    setsockopt(k->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
    while (done < k->len) {
        ssize_t n = send(k->fd, k->out + done, k->len - done, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            done = k->len;      /* the connection is broken: its reads will tell */
            break;
        }
    }
    k->len -= done;
    k->worker->held -= done;
    if (k->len) {
        memmove(k->out, k->out + done, k->len);
        return -1;
    }
    /* an idle keep-alive connection holds no buffer; its worker keeps one
     * for the next outbox to fill */
    if (!k->worker->spare) {
        k->worker->spare = k->out;
        k->worker->spare_cap = k->cap;
    } else {
        free(k->out);
    }
    k->out = NULL;
    k->cap = 0;
    outbox_mark_clean(k);
    return 0;
}

void outbox_flush_round(struct worker *w)
{
    struct conn *k = w->dirty, *next;

    for (; k; k = next) {
        next = k->dirty.next;
        outbox_flush(k);
    }
}

/* The calling worker's connection on fd, or NULL. */
static struct conn *own_conn(int fd)
{
    return workers_self && fd >= 0 && (size_t)fd < workers_self->nfd ? workers_self->by_fd[fd] : NULL;
}

/* GnuTLS's write: into the connection's outbox, when it is one of this
 * thread's; else (libmicrohttpd closing connections from the main thread
 * at stop) straight to the socket. */
static ssize_t push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    int fd = (int)(intptr_t)ptr;
    struct conn *k = own_conn(fd);
    size_t n = 0;
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };

    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    if (workers_self)
        workers_self->moved = 1;
    if (k && k->len && (k->direct || k->len + n > OUTBOX_MAX || k->worker->held + n > ROUND_MAX) &&
        outbox_flush(k) < 0) {
        errno = EAGAIN;
        return -1;
    }
    if (!k || k->direct || n > OUTBOX_MAX || k->worker->held + n > ROUND_MAX)
        return sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (!k->out && k->worker->spare) {
        k->out = k->worker->spare;
        k->cap = k->worker->spare_cap;
        k->worker->spare = NULL;
    }
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap : OUTBOX_MIN;
        char *b;

        while (cap < k->len + n)
            cap *= 2;
        b = realloc(k->out, cap);
        if (!b) {
            errno = ENOMEM;
            return -1;
        }
        k->out = b;
        k->cap = cap;
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(k->out + k->len, iov[i].iov_base, iov[i].iov_len);
        k->len += iov[i].iov_len;
    }
    k->worker->held += n;
    mark_dirty(k);
    return (ssize_t)n;
}

/* GnuTLS's read, which notes for the worker's loop whether the round
 * moved bytes or found none. libmicrohttpd 0.9.75 marks a connection
 * "nothing to read" only for reads after the TLS handshake: one whose
 * handshake waits for the client stays on its ready list, and its
 * timeout of 0 would have the worker spin on a client that sent part of a
 * handshake and stopped, a core's worth for up to --connection-timeout. */
static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    int fd = (int)(intptr_t)ptr;
    ssize_t n = recv(fd, buf, len, 0);
    struct conn *k;

    if (workers_self && n >= 0) {
        workers_self->moved = 1;
        /* the first bytes after an answer begin the next request: its
         * head is due in --header-timeout */
        if (n > 0 && (k = own_conn(fd)) && k->idle) {
            k->idle = 0;
            k->begun = conn_now_ms();
            atomic_store(&k->deadline, k->begun + (long long)workers_self->s->cfg->header_timeout * 1000);
        }
    } else if (workers_self && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        workers_self->starved = 1;
        /* Read dry while a request's body may still come: acknowledge what
         * came now. A client with Nagle's algorithm on (no TCP_NODELAY)
         * holds the short tail of its body, behind the 16 KiB TLS records
         * before it, until they are acknowledged, while Linux delays that
         * ACK up to 40 ms for a reply to ride on, which comes only once
         * the body is whole: every body over one TLS record took 40 ms
         * more (issue #19). TCP_QUICKACK sends the pending ACK at once
         * (tcp_setsockopt: tcp_cleanup_rbuf). Only here, where the client
         * may be waiting for it: libmicrohttpd reads a TLS connection
         * until GnuTLS says again (connection_https.c, recv_tls_adapter),
         * so a body still to come always ends a read here, and one that
         * came whole costs no call (it cost one per chunk read before). */
        if ((k = own_conn(fd)) && k->awaiting) {
            int one = 1;
            int e = errno;

            setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
            errno = e;
        }
    }
    return n;
}

/* libmicrohttpd 0.9.75 sets TCP_NODELAY after each answer on a connection
 * it did not accept itself (src/microhttpd/mhd_send.c, post_send_setopt():
 * the cork state of a socket given to MHD_add_connection() stays unknown,
 * so the option is set again every time, twice an answer here), and
 * outbox_flush() uncorks before each send: three system calls an answer
 * that change nothing, each ~1.2 us on a paravirtualised machine. This
 * definition takes the place of libc's in the whole process (the linker
 * exports it: libmicrohttpd refers to it). On a connection of the calling
 * worker, TCP_NODELAY set on while it is on and the socket uncorked, or
 * TCP_CORK set off while it is off, is answered at once: Linux would only
 * push pending segments (tcp(7)), and with TCP_NODELAY on and no cork
 * there are none it could send. Every other call is the system call. */
int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    struct conn *k = level == IPPROTO_TCP && (name == TCP_NODELAY || name == TCP_CORK) && value &&
                     len == sizeof(int) ? own_conn(fd) : NULL;
    int on;
    long rc;

    if (!k)
        return (int)syscall(SYS_setsockopt, fd, level, name, value, len);
    on = *(const int *)value != 0;
    if (name == TCP_NODELAY && on && k->nodelay == 1 && k->corked == 0)
        return 0;
    if (name == TCP_CORK && !on && k->corked == 0)
        return 0;
    rc = syscall(SYS_setsockopt, fd, level, name, value, len);
    if (rc == 0 && name == TCP_NODELAY)
        k->nodelay = (signed char)on;
    else if (rc == 0)
        k->corked = (signed char)on;
    return (int)rc;
}

/* Makes k one of this worker's connections and its session read through
 * pull() and write through push(). */
void outbox_attach(struct conn *k, struct MHD_Connection *c)
{
    struct worker *w = workers_self;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t tls = ci ? ci->tls_session : NULL;

    if (!w || !tls || gnutls_transport_get_int(tls) != k->fd)
        return;
    if ((size_t)k->fd >= w->nfd) {
        size_t nfd = w->nfd ? w->nfd : 64;
        struct conn **t;

        while (nfd <= (size_t)k->fd)
            nfd *= 2;
        t = realloc(w->by_fd, nfd * sizeof(*t));
        if (!t)
            return;
        memset(t + w->nfd, 0, (nfd - w->nfd) * sizeof(*t));
        w->by_fd = t;
        w->nfd = nfd;
    }
    k->worker = w;
    k->nodelay = k->corked = -1;
    w->by_fd[k->fd] = k;
    gnutls_transport_set_pull_function(tls, pull);
    gnutls_transport_set_vec_push_function(tls, push);
}

/* From now on c's writes go straight to its socket: for an answer given
 * before the body, after which libmicrohttpd closes the connection with
 * the body unread; the connection then lingers (conn.h). */
void outbox_write_through(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *k = ci ? ci->socket_context : NULL;

    if (k)
        k->direct = k->refused = 1;
}
