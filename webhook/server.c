/*
 * server.c - libmicrohttpd over GnuTLS: one epoll daemon per worker thread.
 *
 * An acceptor thread takes each connection, while a slot is free, and
 * hands it to the worker with the fewest. Each worker runs a daemon of its
 * own, in rounds: wait for events, handle every ready connection, then
 * send what the round wrote (the outbox, below). The main thread only
 * waits: for SIGTERM/SIGINT (drain and stop), for its reload tick
 * (certificate and policy files; SIGHUP: at once), and to cut
 * connections past their deadline. A request's body is collected under a
 * cap and handed whole to the review codec.
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
#include "webhook/server.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "certs/seal.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "webhook/log.h"
#include "webhook/metrics.h"
#include "webhook/peers.h"
#include "webhook/policyfile.h"
#include "webhook/related.h"
#include "webhook/review.h"
#include "webhook/sync.h"
#include "webhook/syncport.h"
#include "webhook/tls.h"

#define SERVER_ERR_MAX 512
#define SERVER_MMAP_THRESHOLD (256 * 1024)
#define SERVER_TRIM_THRESHOLD (1024 * 1024)
#define OUTBOX_MAX (64 * 1024)      /* TLS bytes a connection holds until its worker's round ends */
#define ROUND_MAX (256 * 1024)      /* ... and all of a worker's connections together */
#define CORK_MAX (15 * 1024)        /* answers written as one TLS record (16 KiB with the header) */
#define OUTBOX_MIN 4096             /* an outbox's first buffer: most answers take one page */
#define SWEEP_MS 500                /* how often deadlines are checked */
#define BODY_SMALL (64 * 1024)      /* a body this small may use all of --max-buffered ... */
#define BODY_RESERVE_DIV 4          /* ... larger ones leave 1/4 of it to the small ones */
#define LINGER_MS 5000              /* longest a refused upload is read and dropped */
#define LINGER_EXTRA (4u << 20)     /* bytes dropped at most: twice --max-body and this */
#define DISCARD_MAX (16 * 1024)     /* bytes read at once while lingering */
#define ROUND_MS 100                /* longest wait of a worker for events */
/* libmicrohttpd's memory per connection (request line, headers, read
 * buffer; bodies are ours): it zeroes all of it after every request, so
 * its default 32 KiB cost a 32 KiB memset per answer, and all of it is
 * resident in every open connection (1000 keep-alive connections: 4 MiB
 * less at 12 KiB than at 16). The apiserver's headers take a few hundred
 * bytes; 8 KiB of them still fit; larger ones get 431. */
#define CONNECTION_MEMORY (12 * 1024)

/* What identifies a file's content without reading it; a kubelet "..data"
 * symlink swap changes the inode that stat() reaches. Mode and ctime too:
 * a load that failed is tried again after any change, a chmod included
 * (ctime also moves when content is rewritten with the mtime put back). */
struct file_sig {
    dev_t dev;
    ino_t ino;
    mode_t mode;
    off_t size;
    struct timespec mtime, ctime;
};

struct server {
    const struct server_config *cfg;
    struct metrics metrics;
    atomic_int draining;
    struct file_sig cert_sig, key_sig;
    struct file_sig policy_sig;
    pthread_mutex_t policy_lock;    /* guards the swap of policy, not its use */
    struct policy *policy;          /* one reference; NULL: built-in settings */
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

/* A thread with a libmicrohttpd daemon of its own, fed sockets by the
 * acceptor through a pipe. It runs the daemon in rounds: wait for events,
 * handle every connection that is ready, then send what the round wrote
 * (see push()). */
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
    int moved;                      /* this round read or wrote bytes, or ran a handler */
    int starved;                    /* this round a read found nothing to read */
};

/* An open connection, from libmicrohttpd's STARTED to its CLOSED notice
 * (the socket is closed after that notice, so while it is listed its fd is
 * its own), and after it while it lingers on a socket of its own (a dup).
 * deadline: CLOCK_MONOTONIC milliseconds by which its current stage (see
 * the top of the file) must be over; the main thread shuts the socket
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
    int shut;                       /* lingering: the write side is shut down */
    size_t dropped;                 /* lingering: bytes read and dropped */
    _Atomic long long deadline;
    long long begun;                /* ms: the current request's first byte (or the accept) */
    long long body_begun;           /* ms: its head was complete */
    struct sockaddr_storage addr;   /* the client's */
    char *out;                      /* TLS records written in this round */
    size_t len, cap;
};

static __thread struct worker *self;    /* the worker this thread is */

/* The two lists a connection is in: which link, by its offset in struct
 * conn. */
#define LINK(k, off) ((struct link *)((char *)(k) + (off)))

static void list_push(struct conn **head, struct conn *k, size_t off)
{
    LINK(k, off)->prev = NULL;
    LINK(k, off)->next = *head;
    if (*head)
        LINK(*head, off)->prev = k;
    *head = k;
}

static void list_unlink(struct conn **head, struct conn *k, size_t off)
{
    struct link *l = LINK(k, off);

    if (l->prev)
        LINK(l->prev, off)->next = l->next;
    else
        *head = l->next;
    if (l->next)
        LINK(l->next, off)->prev = l->prev;
}

struct request {
    struct conn *k;                 /* its connection's record, or NULL */
    char *body;
    size_t len, cap;                /* len bytes are charged to --max-buffered */
    size_t expect;                  /* the announced Content-Length, or 0 */
    int too_large;                  /* 413: announced over --max-body */
    gnutls_session_t corked;        /* the answer is gathered here into one record */
    struct timespec start;
};

struct reply {
    unsigned status;
    char *body;                     /* malloc'd */
    size_t len;
    const char *content_type;
    const char *allow;              /* the Allow header of a 405 */
    enum metrics_result result;
    enum metrics_kind kind;
    enum metrics_op op;
};

typedef void route_fn(struct server *s, struct request *r, struct reply *out);

static route_fn do_mutate, do_validate, do_sync, do_customize, do_healthz, do_readyz, do_metrics;

static const struct route {
    const char *path;
    const char *method;
    route_fn *fn;
} routes[] = {
    { "/mutate", "POST", do_mutate },
    { "/validate", "POST", do_validate },
    { "/sync", "POST", do_sync },
    { "/customize", "POST", do_customize },
    { "/healthz", "GET", do_healthz },
    { "/readyz", "GET", do_readyz },
    { "/metrics", "GET", do_metrics },
};

void server_config_init(struct server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = "0.0.0.0:8443";
    cfg->max_body = SERVER_MAX_BODY_DEFAULT;
    cfg->max_buffered = SERVER_MAX_BUFFERED_DEFAULT;
    cfg->max_connections = 1024;
    cfg->connection_timeout = 30;
    cfg->request_timeout = 10;
    cfg->header_timeout = 5;
    cfg->min_body_rate = SERVER_MIN_BODY_RATE_DEFAULT;
    cfg->reload_interval_ms = 1000;
    cfg->drain_timeout = 10;
}

static double since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void text_reply(struct reply *out, unsigned status, const char *text)
{
    out->status = status;
    out->body = strdup(text);
    out->len = out->body ? strlen(out->body) : 0;
    out->content_type = "text/plain; charset=utf-8";
}

/* A reference to the current policy for one request (release it with
 * policy_unref()): a reload swaps s->policy meanwhile, and the old policy
 * lives until its last holder lets go. */
static struct policy *current_policy(struct server *s)
{
    struct policy *p;

    pthread_mutex_lock(&s->policy_lock);
    p = policy_ref(s->policy);
    pthread_mutex_unlock(&s->policy_lock);
    return p;
}

static void do_review(struct server *s, struct request *r, struct reply *out, enum review_mode mode)
{
    struct review_result res;
    struct policy *p = current_policy(s);
    int rc = review_handle(mode, r->body ? r->body : "", r->len, p, &s->sealer, &res);

    policy_unref(p);
    if (rc < 0) {
        text_reply(out, 500, "out of memory\n");
        out->result = MR_ERROR;
        return;
    }
    out->status = (unsigned)res.http_status;
    out->body = res.body;
    out->len = res.len;
    out->content_type = res.http_status == 200 ? "application/json" : "text/plain; charset=utf-8";
    out->kind = metrics_kind_of(res.kind);
    out->op = metrics_op_of(res.operation);
    if (res.http_status != 200) {
        out->result = MR_ERROR;
        metrics_denial(&s->metrics, MD_BAD_REQUEST);
    } else if (!res.allowed) {
        out->result = MR_DENIED;
        metrics_denial(&s->metrics, res.reason && !strcmp(res.reason, "Forbidden") ? MD_FORBIDDEN : MD_INVALID);
    } else {
        out->result = MR_ALLOWED;
    }
    log_admission(mode == REVIEW_MUTATE ? "/mutate" : "/validate", &res, since(&r->start));
}

static void do_mutate(struct server *s, struct request *r, struct reply *out)
{
    do_review(s, r, out, REVIEW_MUTATE);
}

static void do_validate(struct server *s, struct request *r, struct reply *out)
{
    do_review(s, r, out, REVIEW_VALIDATE);
}

/* The reply of a Metacontroller hook that answered status with out->body
 * (JSON for 200, a plain-text reason otherwise; NULL: out of memory). */
static void hook_reply(struct server *s, struct reply *out, int status)
{
    if (!out->body) {
        text_reply(out, 500, "out of memory\n");
        out->result = MR_ERROR;
        return;
    }
    out->status = (unsigned)status;
    out->content_type = status == 200 ? "application/json" : "text/plain; charset=utf-8";
    out->result = status == 200 ? MR_OK : MR_ERROR;
    if (status == 400)
        metrics_denial(&s->metrics, MD_BAD_REQUEST);
}

/* Metacontroller's sync hook (webhook/sync.h); same caps as admission. */
static void do_sync(struct server *s, struct request *r, struct reply *out)
{
    struct policy *p = current_policy(s);
    int status = sync_handle(r->body ? r->body : "", r->len, p, &s->sealer, &out->body, &out->len);

    policy_unref(p);
    hook_reply(s, out, status);
}

/* Metacontroller's customize hook (webhook/related.h). */
static void do_customize(struct server *s, struct request *r, struct reply *out)
{
    hook_reply(s, out, related_customize(r->body ? r->body : "", r->len, &out->body, &out->len));
}

/* The policy for a request on the plain hook port (webhook/syncport.h). */
static struct policy *syncport_policy(void *cls)
{
    return current_policy(cls);
}

static void do_healthz(struct server *s, struct request *r, struct reply *out)
{
    (void)s, (void)r;
    text_reply(out, 200, "ok\n");
}

static void do_readyz(struct server *s, struct request *r, struct reply *out)
{
    (void)r;
    if (atomic_load(&s->draining))
        text_reply(out, 503, "draining\n");
    else
        text_reply(out, 200, "ok\n");
}

static void do_metrics(struct server *s, struct request *r, struct reply *out)
{
    struct strbuf sb = STRBUF_INIT;

    (void)r;
    metrics_render(&s->metrics, &sb);
    strbuf_addstr(&sb, "# HELP paddlex_webhook_open_connections Open connections by worker thread.\n"
                       "# TYPE paddlex_webhook_open_connections gauge\n");
    for (unsigned i = 0; i < s->nworkers; i++)
        strbuf_addf(&sb, "paddlex_webhook_open_connections{worker=\"%u\"} %u\n", i,
                    atomic_load(&s->workers[i].load));
    out->status = 200;
    out->len = sb.len;
    out->body = strbuf_detach(&sb);
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- the outbox: what a round writes, sent when the round ends ----
 *
 * libmicrohttpd writes each answer as it is made, header and body as two
 * TLS records, and the client wakes for each write. The TLS layer here
 * writes through push() instead, which keeps a connection's records in its
 * outbox; when the worker's round ends (every ready connection handled)
 * each outbox goes out in one send. Answers made in the same round then
 * reach their clients together, and a client reading several connections
 * wakes once for them. An outbox holds at most OUTBOX_MAX bytes, and all
 * of a worker's at most ROUND_MAX (a thousand connections answered in one
 * round would otherwise hold a thousand answers at once): past that
 * it is sent at once, and while the socket cannot take it push() says
 * "again", as the socket would, so libmicrohttpd waits for it to drain. */

static void mark_dirty(struct conn *k)
{
    if (!k->is_dirty)
        list_push(&k->worker->dirty, k, offsetof(struct conn, dirty));
    k->is_dirty = 1;
}

static void mark_clean(struct conn *k)
{
    if (k->is_dirty)
        list_unlink(&k->worker->dirty, k, offsetof(struct conn, dirty));
    k->is_dirty = 0;
}

/* Sends what the socket takes of k's outbox; 0 once it is empty. */
static int flush(struct conn *k)
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
    mark_clean(k);
    return 0;
}

static void flush_round(struct worker *w)
{
    struct conn *k = w->dirty, *next;

    for (; k; k = next) {
        next = k->dirty.next;
        flush(k);
    }
}

/* GnuTLS's write: into the connection's outbox, when it is one of this
 * thread's; else (libmicrohttpd closing connections from the main thread
 * at stop) straight to the socket. */
static ssize_t push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    int fd = (int)(intptr_t)ptr;
    struct conn *k = self && fd >= 0 && (size_t)fd < self->nfd ? self->by_fd[fd] : NULL;
    size_t n = 0;
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };

    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    if (self)
        self->moved = 1;
    if (k && k->len && (k->direct || k->len + n > OUTBOX_MAX || k->worker->held + n > ROUND_MAX) &&
        flush(k) < 0) {
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

    if (self && n >= 0) {
        self->moved = 1;
        /* the first bytes after an answer begin the next request: its
         * head is due in --header-timeout */
        if (n > 0 && (size_t)fd < self->nfd && (k = self->by_fd[fd]) && k->idle) {
            k->idle = 0;
            k->begun = now_ms();
            atomic_store(&k->deadline, k->begun + (long long)self->s->cfg->header_timeout * 1000);
        }
    } else if (self && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        self->starved = 1;
    }
    return n;
}

/* Makes k one of this worker's connections and its session read through
 * pull() and write through push(). */
static void outbox_attach(struct conn *k, struct MHD_Connection *c)
{
    struct worker *w = self;
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
    w->by_fd[k->fd] = k;
    gnutls_transport_set_pull_function(tls, pull);
    gnutls_transport_set_vec_push_function(tls, push);
}

/* From now on c's writes go straight to its socket: for an answer given
 * before the body, after which libmicrohttpd closes the connection with
 * the body unread; the connection then lingers (see linger()). */
static void write_through(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *k = ci ? ci->socket_context : NULL;

    if (k)
        k->direct = k->refused = 1;
}

static enum MHD_Result send_reply(struct server *s, struct MHD_Connection *c, struct request *r,
                                  struct reply *rep)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    const union MHD_ConnectionInfo *ci;

    if (!rep->body)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(rep->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
    if (rep->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
    if (atomic_load(&s->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    /* libmicrohttpd writes the header and the body as two TLS records:
     * the client reads twice. Corked, the session gathers both, and
     * completed() writes them as one. Not for an answer before the body
     * (r is NULL): libmicrohttpd closes that connection on its own terms,
     * without calling the request complete. */
    if (r && rep->len <= CORK_MAX && (ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION)) &&
        ci->tls_session) {
        r->corked = ci->tls_session;
        gnutls_record_cork(r->corked);
    }
    ret = MHD_queue_response(c, rep->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const struct route *find_route(const char *url)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcmp(routes[i].path, url))
            return &routes[i];
    return NULL;
}

static int method_ok(const struct route *rt, const char *method)
{
    return !strcmp(rt->method, method) || (!strcmp(rt->method, "GET") && !strcmp(method, "HEAD"));
}

/* k's deadline becomes at, but never later than --request-timeout after
 * its request's first byte. */
static void due_by(struct server *s, struct conn *k, long long at)
{
    long long cap = k->begun + (long long)s->cfg->request_timeout * 1000;

    atomic_store(&k->deadline, at < cap ? at : cap);
}

/* Frees r's body and gives its bytes back to --max-buffered: once the
 * answer is made, a client that does not read it holds no budget. */
static void drop_body(struct server *s, struct request *r)
{
    atomic_fetch_sub(&s->buffered, r->len);
    free(r->body);
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
static int collect(struct server *s, struct request *r, const char *data, size_t n)
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
        nb = realloc(r->body, cap);
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
        due_by(s, r->k, r->k->body_begun + (long long)s->cfg->header_timeout * 1000 +
                            (long long)(r->len * 1000 / s->cfg->min_body_rate));
    return 0;
}

/* The Content-Length header: 0 without one, -1 when it is not a number or
 * announces more than the cap. */
static long long announced_length(struct server *s, struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long n;

    if (!cl)
        return 0;
    errno = 0;
    n = strtoull(cl, &end, 10);
    if (errno != 0 || end == cl || n > s->cfg->max_body)
        return -1;
    return (long long)n;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

/* A refusal in the middle of a body: libmicrohttpd 0.9.75 takes an answer
 * only before the body or after all of it, so this one is written to the
 * TLS session here, straight to the socket, and the caller returns MHD_NO:
 * libmicrohttpd closes the connection, which then lingers (see linger()). */
static void refuse_now(struct MHD_Connection *c, struct conn *k, unsigned status)
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

static void count_refusal(struct server *s, unsigned status)
{
    metrics_denial(&s->metrics, status == 413 ? MD_TOO_LARGE : MD_UNAVAILABLE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct server *s = cls;
    struct request *r = *req_cls;
    const struct route *rt = find_route(url);
    struct reply rep = { .result = MR_OK, .kind = MK_NONE, .op = MO_NONE };
    enum metrics_path mp = metrics_path_of(url);
    enum MHD_Result ret;
    long long length;
    int early = 0, refused;

    (void)version;
    if (self)
        self->moved = 1;    /* bytes GnuTLS held may feed a request with no read */
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        *req_cls = r;
        atomic_fetch_add(&s->metrics.in_flight, 1);
        r->k = conn_of(c);
        if (r->k) {
            r->k->body_begun = (long long)r->start.tv_sec * 1000 + r->start.tv_nsec / 1000000;
            if (r->k->idle) {
                /* a head GnuTLS had already read with the previous one */
                r->k->idle = 0;
                r->k->begun = r->k->body_begun;
            }
            due_by(s, r->k, r->k->body_begun + (long long)s->cfg->header_timeout * 1000);
        }
        length = announced_length(s, c);
        if (rt && method_ok(rt, method) && length >= 0) {
            r->expect = (size_t)length;
            return MHD_YES;
        }
        /* answered before the body is read; MHD then closes the connection */
        if (!rt)
            text_reply(&rep, MHD_HTTP_NOT_FOUND, "not found\n");
        else if (!method_ok(rt, method))
            text_reply(&rep, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n"), rep.allow = rt->method;
        else
            r->too_large = 413;
        early = 1;
        write_through(c);
    } else if (*upload_data_size) {
        refused = collect(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (!refused)
            return MHD_YES;
        /* cut at the limit, answered at once */
        drop_body(s, r);
        count_refusal(s, (unsigned)refused);
        metrics_request(&s->metrics, mp, MK_NONE, MO_NONE, MR_ERROR, since(&r->start));
        metrics_response(&s->metrics, mp, (unsigned)refused);
        refuse_now(c, r->k, (unsigned)refused);
        return MHD_NO;
    }
    if (!rep.body && r->too_large) {
        text_reply(&rep, MHD_HTTP_CONTENT_TOO_LARGE, "request body is larger than the limit\n");
        count_refusal(s, 413);
    }
    if (!rep.body && !rep.status)
        rt->fn(s, r, &rep);
    if (rep.status >= 400 && rep.result == MR_OK)
        rep.result = MR_ERROR;
    metrics_request(&s->metrics, mp, rep.kind, rep.op, rep.result, since(&r->start));
    metrics_response(&s->metrics, mp, rep.status);
    drop_body(s, r);
    if (r->k)
        due_by(s, r->k, now_ms() + (long long)s->cfg->request_timeout * 1000);
    ret = send_reply(s, c, early ? NULL : r, &rep);
    return ret;
}

/* A connection slot is given back: the connection closed, or never got
 * started. addr: the client's, when it was still counted in peers (not yet
 * answered), else NULL. Wakes the acceptor if it waits for a slot. */
static void release_slot(struct worker *w, const struct sockaddr *addr)
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
static void answered(struct server *s, struct conn *k)
{
    if (!k->unanswered)
        return;
    k->unanswered = 0;
    pthread_mutex_lock(&s->slots_lock);
    peers_give(&s->peers, (struct sockaddr *)&k->addr);
    pthread_mutex_unlock(&s->slots_lock);
}

static __thread int started;    /* a STARTED notice came during MHD_add_connection */

/* Takes k out of the server's list: the sweep no longer sees its socket,
 * which may then be closed (and its number reused). */
static void conn_unlist(struct server *s, struct conn *k)
{
    pthread_mutex_lock(&s->conns_lock);
    list_unlink(&s->conns, k, offsetof(struct conn, all));
    pthread_mutex_unlock(&s->conns_lock);
}

/* Ends a connection taken out of the list for good: its outbox freed, its
 * slot given back. */
static void conn_free(struct worker *w, struct conn *k)
{
    release_slot(w, k->unanswered ? (struct sockaddr *)&k->addr : NULL);
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
    mark_clean(k);
    pthread_mutex_lock(&s->conns_lock);
    k->fd = fd;
    pthread_mutex_unlock(&s->conns_lock);
    atomic_store(&k->deadline, now_ms() + LINGER_MS);
    list_push(&w->lingering, k, offsetof(struct conn, linger));
    return 0;
}

static void linger_end(struct server *s, struct worker *w, struct conn *k)
{
    list_unlink(&w->lingering, k, offsetof(struct conn, linger));
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
static void linger_round(struct server *s, struct worker *w)
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
            linger_end(s, w, k);
    }
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_cls,
                              enum MHD_ConnectionNotificationCode code)
{
    struct worker *w = cls;
    struct server *s = w->s;
    struct conn *k = *socket_cls;
    const union MHD_ConnectionInfo *ci;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        started = 1;
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
        k->begun = now_ms();
        atomic_store(&k->deadline, k->begun + (long long)s->cfg->header_timeout * 1000);
        outbox_attach(k, c);
        pthread_mutex_lock(&s->conns_lock);
        list_push(&s->conns, k, offsetof(struct conn, all));
        pthread_mutex_unlock(&s->conns_lock);
        *socket_cls = k;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        *socket_cls = NULL;
        if (!k) {
            /* no record: its address is libmicrohttpd's */
            ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            release_slot(w, ci ? ci->client_addr : NULL);
            return;
        }
        if (k->worker && k->refused && !atomic_load(&s->stop) && linger(s, w, k) == 0)
            return;
        if (k->worker) {
            flush(k);
            mark_clean(k);
            w->by_fd[k->fd] = NULL;
        }
        conn_unlist(s, k);
        conn_free(w, k);
    }
}

/* From the main thread: shuts down the sockets of connections past their
 * deadline; their worker sees the end of the stream and closes them. */
static void sweep_deadlines(struct server *s)
{
    long long now = now_ms();
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

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct request *r = *req_cls;
    struct conn *k;
    const union MHD_ConnectionInfo *ci;

    if (!r)
        return;
    k = r->k;
    if (k && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        answered(s, k);
        k->idle = 1;
        atomic_store(&k->deadline, now_ms() + ((long long)s->cfg->connection_timeout + 1) * 1000);
    }
    /* The corked answer goes to the outbox as one record; an outbox that
     * cannot take it (a client not reading its answers) ends the
     * connection, as nothing would write the rest. */
    if (r->corked && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && gnutls_record_uncork(r->corked, 0) < 0 &&
        (ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)))
        shutdown(ci->connect_fd, SHUT_RDWR);
    atomic_fetch_sub(&s->metrics.in_flight, 1);
    drop_body(s, r);
    free(r);
    *req_cls = NULL;
}

/* Parses "ADDR:PORT" or "[ADDR]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t hlen;
    char *end;
    long port;

    memset(ss, 0, sizeof(*ss));
    if (!colon)
        goto bad;
    hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']')
        h++, hlen -= 2;
    if (hlen >= sizeof(host))
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        goto bad;
    if (hlen == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        return 0;
    }
bad:
    snprintf(err, errlen, "--listen %s: want ADDR:PORT with a numeric address", listen);
    return -1;
}

static void file_sig(const char *path, struct file_sig *sig)
{
    struct stat st;

    memset(sig, 0, sizeof(*sig));
    if (stat(path, &st) == 0) {
        sig->dev = st.st_dev;
        sig->ino = st.st_ino;
        sig->mode = st.st_mode;
        sig->size = st.st_size;
        sig->mtime = st.st_mtim;
        sig->ctime = st.st_ctim;
    }
}

static int sig_differs(const struct file_sig *a, const struct file_sig *b)
{
    return a->dev != b->dev || a->ino != b->ino || a->mode != b->mode || a->size != b->size ||
           a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec ||
           a->ctime.tv_sec != b->ctime.tv_sec || a->ctime.tv_nsec != b->ctime.tv_nsec;
}

/* Loads the certificate pair when either file changed since the last try
 * (or always, when force: the first load and SIGHUP); stat() follows a
 * Secret volume's "..data" symlink swap to the new files. Only regular
 * files are read, never blocking (tls.c). A pair that does not load is
 * logged and counted (unless it is the first: the caller then stops), and
 * the previous pair stays. */
static void reload_certs(struct server *s, int first, int force)
{
    struct file_sig cert, key;
    char err[SERVER_ERR_MAX];

    file_sig(s->cfg->cert_file, &cert);
    file_sig(s->cfg->key_file, &key);
    if (!first && !force && !sig_differs(&cert, &s->cert_sig) && !sig_differs(&key, &s->key_sig))
        return;
    s->cert_sig = cert;
    s->key_sig = key;
    if (tls_load(s->cfg->cert_file, s->cfg->key_file, err, sizeof(err)) < 0) {
        if (!first)
            metrics_cert_reload(&s->metrics, 0);
        LOG(LOG_ERROR, first ? "certificate: %s" : "certificate reload: %s; keeping the previous one", err);
        return;
    }
    if (!first) {
        metrics_cert_reload(&s->metrics, 1);
        LOG(LOG_INFO, "certificate reloaded from %s", s->cfg->cert_file);
    }
    atomic_store(&s->metrics.cert_not_after, (long long)tls_not_after());
}

/* Loads the policy file when it changed since the last try (or always,
 * when force); stat() follows a ConfigMap's "..data" symlink swap to the
 * new file. An invalid new file is logged and counted, and the previous
 * policy kept. Returns -1 only when the first load fails. */
static int reload_policy(struct server *s, int first, int force)
{
    struct policy *p, *old;
    struct file_sig sig;
    char err[POLICYFILE_MAX_ERROR];      /* every problem of the file, one line */

    if (!s->cfg->policy_file)
        return 0;
    file_sig(s->cfg->policy_file, &sig);
    if (!first && !force && !sig_differs(&sig, &s->policy_sig))
        return 0;
    s->policy_sig = sig;
    p = policyfile_load(s->cfg->policy_file, err, sizeof(err));
    if (!p && first) {
        LOG(LOG_ERROR, "cannot serve with an invalid policy: %s", err);
        return -1;
    }
    if (!p) {
        metrics_policy_reload(&s->metrics, 0);
        LOG(LOG_ERROR, "policy reload: %s; keeping the previous policy", err);
        return 0;
    }
    pthread_mutex_lock(&s->policy_lock);
    old = s->policy;
    s->policy = p;
    pthread_mutex_unlock(&s->policy_lock);
    policy_unref(old);
    if (!first) {
        metrics_policy_reload(&s->metrics, 1);
        LOG(LOG_INFO, "policy reloaded from %s", s->cfg->policy_file);
    }
    return 0;
}

/* The cores this process may use: the online ones, fewer when a cgroup v2
 * CPU limit (a pod's resources.limits.cpu) allows less, rounded up. */
static unsigned cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    long long quota, period;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");

    if (n <= 0 || n >= 256)
        n = 1;
    if (f) {
        if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0 &&
            (quota + period - 1) / period < n)
            n = (long)((quota + period - 1) / period);
        fclose(f);
    }
    return (unsigned)n;
}


/* Logs, at most once a sweep, how many connections the per-address limit
 * refused since the last time. */
static void note_refused(struct server *s, unsigned long long *seen)
{
    unsigned long long n = atomic_load(&s->metrics.refused_per_address);

    if (n != *seen)
        LOG(LOG_WARN, "closed %llu connection(s) at accept: their address had %u unanswered ones",
            n - *seen, s->per_address);
    *seen = n;
}

/* Waits for a signal or the reload tick; returns the signal or 0. */
static int wait_signal(const sigset_t *set, unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    int sig = sigtimedwait(set, NULL, &ts);

    return sig > 0 ? sig : 0;
}

/* Asks the acceptor to stop and waits for it: shutting the listening
 * socket down wakes an accept() and refuses new connections (the socket is
 * closed at the end). */
static void stop_acceptor(struct server *s)
{
    if (!s->accepting)
        return;
    pthread_mutex_lock(&s->slots_lock);
    atomic_store(&s->closing, 1);
    pthread_cond_signal(&s->slot_freed);
    pthread_mutex_unlock(&s->slots_lock);
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    s->accepting = 0;
}

/* After SIGTERM: /readyz answers 503 (and every answer closes its
 * connection) while serving goes on for --shutdown-delay seconds; then the
 * listening socket closes and the requests in flight get up to
 * --drain-timeout seconds to finish. Open connections are no reason to
 * wait: the apiserver always keeps some idle, and MHD_stop_daemon closes
 * them. in_flight is first read one tick after the listening socket closes,
 * so that bytes already received have reached a handler; a request whose
 * headers arrive later is cut. */
static void drain(struct server *s, const sigset_t *set)
{
    struct timespec t0;
    int left;

    atomic_store(&s->draining, 1);
    LOG(LOG_INFO, "draining: /readyz answers 503");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (since(&t0) < s->cfg->shutdown_delay)
        wait_signal(set, 100);
    stop_acceptor(s);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        wait_signal(set, 50);
    while ((left = atomic_load(&s->metrics.in_flight)) > 0 && since(&t0) < s->cfg->drain_timeout);
    if (left > 0)
        LOG(LOG_WARN, "drain timeout: cutting the requests in flight (%d)", left);
}

/* Hands fd to the worker with the fewest connections (ties in turn).
 * libmicrohttpd's own accept in each worker would let one worker take a
 * burst of connections, all of a client's, while the other idles. */
static void hand_off(struct server *s, int fd, const struct sockaddr *addr, unsigned *turn)
{
    struct worker *w = &s->workers[*turn % s->nworkers];

    for (unsigned i = 1; i < s->nworkers; i++) {
        struct worker *o = &s->workers[(*turn + i) % s->nworkers];

        if (atomic_load(&o->load) < atomic_load(&w->load))
            w = o;
    }
    struct handoff h = { .fd = fd };

    memcpy(&h.addr, addr, addr->sa_family == AF_INET6 ? sizeof(h.addr.in6) : sizeof(h.addr.in));
    (*turn)++;
    atomic_fetch_add(&w->load, 1);
    if (write(w->handoff[1], &h, sizeof(h)) != (ssize_t)sizeof(h)) {
        LOG(LOG_ERROR, "cannot hand a connection to a worker: %s", strerror(errno));
        close(fd);
        release_slot(w, addr);
        return;
    }
    atomic_store(&w->handed, 1);    /* after the write: a worker that sees it finds the socket */
}

/* The acceptor: while fewer than --max-connections are open it accepts the
 * next connection and hands it on; at the limit new ones wait in the
 * listening socket's backlog. A connection from an address that already
 * has --max-connections-per-address unanswered ones is closed at once, so
 * that one client's slow or half-open connections leave slots, and the
 * backlog, to the others. */
static void *accept_loop(void *arg)
{
    struct server *s = arg;
    struct sockaddr_storage addr;
    socklen_t len;
    unsigned turn = 0;
    int fd, over;

    for (;;) {
        pthread_mutex_lock(&s->slots_lock);
        while (s->live >= s->cfg->max_connections && !atomic_load(&s->closing))
            pthread_cond_wait(&s->slot_freed, &s->slots_lock);
        if (atomic_load(&s->closing)) {
            pthread_mutex_unlock(&s->slots_lock);
            return NULL;
        }
        s->live++;
        pthread_mutex_unlock(&s->slots_lock);
        len = sizeof(addr);
        fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            pthread_mutex_lock(&s->slots_lock);
            over = peers_take(&s->peers, (struct sockaddr *)&addr, s->per_address) < 0;
            if (over)
                s->live--;
            pthread_mutex_unlock(&s->slots_lock);
            if (!over) {
                hand_off(s, fd, (struct sockaddr *)&addr, &turn);
                continue;
            }
            atomic_fetch_add(&s->metrics.refused_per_address, 1);
            close(fd);
            continue;
        }
        pthread_mutex_lock(&s->slots_lock);
        s->live--;
        pthread_mutex_unlock(&s->slots_lock);
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (!atomic_load(&s->closing)) {
            /* out of descriptors or memory: others must close first */
            LOG(LOG_ERROR, "accept: %s", strerror(errno));
            usleep(ROUND_MS * 1000);
        }
    }
}

/* Takes the sockets the acceptor handed over into the daemon. A socket
 * that libmicrohttpd refuses before its STARTED notice gets no CLOSED
 * notice either: its slot is given back here. */
static void take_connections(struct worker *w)
{
    struct handoff h[32];
    ssize_t n;

    /* records are written whole (smaller than PIPE_BUF), so reads get whole ones */
    while ((n = read(w->handoff[0], h, sizeof(h))) > 0)
        for (size_t i = 0; i < (size_t)n / sizeof(h[0]); i++) {
            socklen_t len = h[i].addr.sa.sa_family == AF_INET6 ? sizeof(h[i].addr.in6) : sizeof(h[i].addr.in);

            started = 0;
            if (MHD_add_connection(w->daemon, h[i].fd, &h[i].addr.sa, len) != MHD_YES && !started)
                release_slot(w, &h[i].addr.sa);
        }
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[2];
    MHD_UNSIGNED_LONG_LONG due;
    int wait;

    self = w;
    log_hold();
    while (!atomic_load(&w->s->stop)) {
        wait = MHD_get_timeout(w->daemon, &due) == MHD_YES && due < ROUND_MS ? (int)due : ROUND_MS;
        /* "at once" after a round that only found sockets with nothing to
         * read is libmicrohttpd waiting on a handshake (see pull()): the
         * client's bytes will come as an event */
        if (wait == 0 && w->starved && !w->moved)
            wait = ROUND_MS;
        /* libmicrohttpd polls its own epoll in MHD_run: a wait of 0 needs
         * no call here, the pipe is looked at by its flag */
        if (wait)
            epoll_wait(w->ep, ev, 2, wait);
        w->moved = w->starved = 0;
        if (atomic_exchange(&w->handed, 0))
            take_connections(w);
        if (MHD_run(w->daemon) != MHD_YES) {
            LOG(LOG_ERROR, "worker: libmicrohttpd failed a round; retrying");
            usleep(ROUND_MS * 1000);
        }
        flush_round(w);
        if (w->lingering)
            linger_round(w->s, w);
        log_flush();
    }
    log_release();
    return NULL;
}

/* The listening socket the acceptor takes connections from. */
static MHD_socket open_listener(const struct sockaddr_storage *addr)
{
    int one = 1;
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    MHD_socket fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return MHD_INVALID_SOCKET;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return MHD_INVALID_SOCKET;
    }
    return fd;
}

/* Stops the acceptor, the workers that run and every daemon; the
 * listening socket is the caller's to close. */
static void stop_workers(struct server *s, unsigned running)
{
    struct handoff h;

    stop_acceptor(s);
    atomic_store(&s->stop, 1);
    for (unsigned i = 0; i < running; i++)
        pthread_join(s->workers[i].thread, NULL);
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->workers[i];

        if (w->handoff[0] >= 0)
            while (read(w->handoff[0], &h, sizeof(h)) == (ssize_t)sizeof(h))
                close(h.fd);
        while (w->lingering)
            linger_end(s, w, w->lingering);
        if (w->daemon)
            MHD_stop_daemon(w->daemon);
        if (w->ep >= 0)
            close(w->ep);
        if (w->handoff[0] >= 0)
            close(w->handoff[0]), close(w->handoff[1]);
        free(w->by_fd);
        free(w->spare);
    }
    free(s->workers);
}

/* A worker's daemon, hand-off pipe and epoll set over both. The pipe can
 * hold a socket for every connection slot, so the acceptor never waits
 * on it. */
static int start_worker(struct server *s, struct worker *w)
{
    const union MHD_DaemonInfo *di;
    struct epoll_event ev = { .events = EPOLLIN };

    w->s = s;
    w->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, handle, s,
        MHD_OPTION_HTTPS_CERT_CALLBACK, tls_retrieve,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, w,
        MHD_OPTION_END);
    di = w->daemon ? MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!di || pipe2(w->handoff, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    fcntl(w->handoff[1], F_SETPIPE_SZ, (int)(s->cfg->max_connections * sizeof(struct handoff)));
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0)
        return -1;
    /* either only wakes the worker: which one, MHD_run and the flag tell */
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, di->epoll_fd, &ev) < 0)
        return -1;
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, w->handoff[0], &ev);
}

/* One daemon and thread per worker, then the acceptor that feeds them. */
static int start_workers(struct server *s, unsigned n)
{
    unsigned i, started_threads = 0;

    s->workers = calloc(n, sizeof(*s->workers));
    if (!s->workers)
        return -1;
    s->nworkers = n;
    for (i = 0; i < n; i++)
        s->workers[i].ep = s->workers[i].handoff[0] = s->workers[i].handoff[1] = -1;
    for (i = 0; i < n; i++)
        if (start_worker(s, &s->workers[i]) < 0)
            goto fail;
    for (; started_threads < n; started_threads++)
        if (pthread_create(&s->workers[started_threads].thread, NULL, work, &s->workers[started_threads]) != 0)
            goto fail;
    if (pthread_create(&s->acceptor, NULL, accept_loop, s) != 0)
        goto fail;
    s->accepting = 1;
    return 0;
fail:
    stop_workers(s, started_threads);
    return -1;
}

/* Loads the seal keys: --seal-key (else the TLS key file, as it is now),
 * then --seal-key-previous, which only verifies. */
static int load_seal(struct server *s, char *err, size_t errlen)
{
    const struct server_config *cfg = s->cfg;

    if (seal_keys_add_file(&s->seal_keys, cfg->seal_key_file ? cfg->seal_key_file : cfg->key_file, err,
                           errlen) < 0)
        return -1;
    if (!cfg->seal_key_file)
        LOG(LOG_WARN, "admission seals use a key derived from --tls-key: a new serving key makes "
                      "existing seals unverifiable; give --seal-key in a cluster");
    if (cfg->seal_key_previous && seal_keys_add_file(&s->seal_keys, cfg->seal_key_previous, err, errlen) < 0)
        return -1;
    s->sealer = (struct sealer){ &s->seal_keys, seal_sign, seal_verify };
    return 0;
}

int server_run(const struct server_config *cfg)
{
    struct server s = { .cfg = cfg, .policy_lock = PTHREAD_MUTEX_INITIALIZER,
                        .conns_lock = PTHREAD_MUTEX_INITIALIZER, .slots_lock = PTHREAD_MUTEX_INITIALIZER,
                        .slot_freed = PTHREAD_COND_INITIALIZER };
    struct timespec reloaded;
    struct sockaddr_storage addr;
    char err[SERVER_ERR_MAX];
    unsigned long long refused = 0;
    sigset_t set;
    int sig;

    metrics_init(&s.metrics);
    /* A fixed threshold keeps large buffers (bodies, big answers, arena
     * chunks) in their own mappings, given back to the system when freed;
     * glibc's default raises it after each such free, after which large
     * requests leave the heap grown for good. Below the threshold, a
     * heap's free top is kept up to SERVER_TRIM_THRESHOLD: each request
     * uses about that much and frees it, and giving it back every time
     * (glibc's 128 KiB) costs an madvise, a TLB flush on every core and a
     * page fault per page of the next request. */
    mallopt(M_MMAP_THRESHOLD, SERVER_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, SERVER_TRIM_THRESHOLD);
    if (parse_listen(cfg->listen, &addr, err, sizeof(err)) < 0) {
        LOG(LOG_ERROR, "%s", err);
        return 1;
    }
    reload_certs(&s, 1, 1);
    if (!tls_not_after()) {
        LOG(LOG_ERROR, "cannot serve without a certificate: see the error above");
        return 1;
    }
    s.per_address = cfg->max_per_address ? cfg->max_per_address : (cfg->max_connections + 3) / 4;
    if (reload_policy(&s, 1, 1) < 0 || peers_init(&s.peers, cfg->max_connections) < 0) {
        tls_release();
        policy_unref(s.policy);
        return 1;
    }
    if (load_seal(&s, err, sizeof(err)) < 0) {
        LOG(LOG_ERROR, "%s", err);
        seal_keys_release(&s.seal_keys);
        tls_release();
        policy_unref(s.policy);
        peers_release(&s.peers);
        return 1;
    }
    /* worker threads inherit the mask: only this thread takes the signals.
     * SIGHUP is "reload now": the files are read again whatever their
     * signature, and nothing else changes. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cfg->sync_listen && !(s.syncport = syncport_start(cfg, syncport_policy, &s, &s.sealer))) {
        seal_keys_release(&s.seal_keys);
        tls_release();
        policy_unref(s.policy);
        return 1;
    }
    s.listen_fd = open_listener(&addr);
    if (s.listen_fd == MHD_INVALID_SOCKET || start_workers(&s, cfg->threads ? cfg->threads : cores()) < 0) {
        LOG(LOG_ERROR, "cannot listen on %s: %s", cfg->listen, strerror(errno));
        syncport_stop(s.syncport);
        if (s.listen_fd != MHD_INVALID_SOCKET)
            close(s.listen_fd);
        seal_keys_release(&s.seal_keys);
        tls_release();
        policy_unref(s.policy);
        peers_release(&s.peers);
        return 1;
    }
    LOG(LOG_INFO, "serving on %s", cfg->listen);
    clock_gettime(CLOCK_MONOTONIC, &reloaded);
    for (;;) {
        sig = wait_signal(&set, cfg->reload_interval_ms < SWEEP_MS ? cfg->reload_interval_ms : SWEEP_MS);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        sweep_deadlines(&s);
        note_refused(&s, &refused);
        if (sig == SIGHUP)
            LOG(LOG_INFO, "SIGHUP: reloading the certificate and the policy");
        if (sig == SIGHUP || since(&reloaded) * 1000 >= cfg->reload_interval_ms) {
            reload_certs(&s, 0, sig == SIGHUP);
            reload_policy(&s, 0, sig == SIGHUP);
            clock_gettime(CLOCK_MONOTONIC, &reloaded);
        }
    }
    LOG(LOG_INFO, "signal %d: shutting down", sig);
    drain(&s, &set);
    syncport_stop(s.syncport);
    stop_workers(&s, s.nworkers);
    close(s.listen_fd);
    seal_keys_release(&s.seal_keys);
    tls_release();
    policy_unref(s.policy);
    peers_release(&s.peers);
    LOG(LOG_INFO, "stopped");
    return 0;
}
