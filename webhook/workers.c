/*
 * workers.c - the acceptor and the worker threads of the TLS port (see
 * workers.h).
 */
#include "webhook/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mutators/json/arena.h"
#include "webhook/conn.h"
#include "webhook/log.h"
#include "webhook/outbox.h"
#include "webhook/serverstate.h"
#include "webhook/tls.h"

#define ROUND_MS 100                /* longest wait of a worker for events */
#define WARM_IDLE_MS 2000           /* a worker keeps large buffers warm this long after a large body */
/* libmicrohttpd's memory per connection (request line, headers, read
 * buffer; bodies are ours): it zeroes all of it after every request, so
 * its default 32 KiB cost a 32 KiB memset per answer, and all of it is
 * resident in every open connection (1000 keep-alive connections: 4 MiB
 * less at 12 KiB than at 16). The apiserver's headers take a few hundred
 * bytes; 8 KiB of them still fit; larger ones get 431. */
#define CONNECTION_MEMORY (12 * 1024)

__thread struct worker *workers_self;    /* the worker this thread is */

/* The cores this process may use: the online ones, fewer when a cgroup v2
 * CPU limit (a pod's resources.limits.cpu) allows less, rounded up. */
unsigned workers_cores(void)
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

/* Asks the acceptor to stop and waits for it: shutting the listening
 * socket down wakes an accept() and refuses new connections (the socket is
 * closed at the end). */
void workers_stop_accepting(struct server *s)
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
        conn_release_slot(w, addr);
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

            conn_started = 0;
            if (MHD_add_connection(w->daemon, h[i].fd, &h[i].addr.sa, len) != MHD_YES && !conn_started)
                conn_release_slot(w, &h[i].addr.sa);
        }
}

/* Gives back what the worker keeps for the next large body (its body
 * buffer, its arena's large chunk: up to 4 MiB each) once none has come
 * for WARM_IDLE_MS: a burst of large bodies warms them, the small reviews
 * after it need neither, and held they stay resident (SPEC §7: under
 * 16 MiB serving Training reviews). Only the worker's thread touches
 * them. */
static void cool(struct worker *w)
{
    long long now;
    int arena_used, kept = arena_large_kept(&arena_used);

    if (!w->warm && !kept)
        return;
    now = conn_now_ms();
    if (w->warm_used || arena_used) {
        w->warm_used = 0;
        w->warm_at = now;
        return;
    }
    if (now - w->warm_at < WARM_IDLE_MS)
        return;
    free(w->warm);
    w->warm = NULL;
    w->warm_cap = 0;
    arena_drop_large();
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[2];
    MHD_UNSIGNED_LONG_LONG due;
    int wait;

    workers_self = w;
    log_hold();
    while (!atomic_load(&w->s->stop)) {
        wait = MHD_get_timeout(w->daemon, &due) == MHD_YES && due < ROUND_MS ? (int)due : ROUND_MS;
        /* "at once" after a round that only found sockets with nothing to
         * read is libmicrohttpd waiting on a handshake (outbox.c, pull()): the
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
        outbox_flush_round(w);
        if (w->lingering)
            conn_linger_round(w->s, w);
        cool(w);
        log_flush();
    }
    log_release();
    return NULL;
}

/* The listening socket the acceptor takes connections from. */
MHD_socket workers_listen(const struct sockaddr_storage *addr)
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
void workers_stop(struct server *s, unsigned running)
{
    struct handoff h;

    workers_stop_accepting(s);
    atomic_store(&s->stop, 1);
    for (unsigned i = 0; i < running; i++)
        pthread_join(s->workers[i].thread, NULL);
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->workers[i];

        if (w->handoff[0] >= 0)
            while (read(w->handoff[0], &h, sizeof(h)) == (ssize_t)sizeof(h))
                close(h.fd);
        while (w->lingering)
            conn_linger_end(s, w, w->lingering);
        if (w->daemon)
            MHD_stop_daemon(w->daemon);
        if (w->ep >= 0)
            close(w->ep);
        if (w->handoff[0] >= 0)
            close(w->handoff[0]), close(w->handoff[1]);
        free(w->by_fd);
        free(w->spare);
        free(w->warm);
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
        MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, server_handle, s,
        MHD_OPTION_HTTPS_CERT_CALLBACK, tls_retrieve,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, conn_notify, w,
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
int workers_start(struct server *s, unsigned n)
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
    workers_stop(s, started_threads);
    return -1;
}
