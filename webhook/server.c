/*
 * server.c - the HTTPS server of the admission webhook: one request's way
 * through it, and the start, reload tick and drain of the whole.
 *
 * A request: the acceptor hands its connection to a worker (workers.h),
 * whose libmicrohttpd daemon reads the head and calls server_handle(): the
 * route is looked up (routes.h), the body collected under --max-body and
 * the --max-buffered budget (conn.h), the route's handler run (review.h,
 * sync.h, related.h, metrics.h), and the answer queued; libmicrohttpd
 * writes it through the outbox (outbox.h) and calls server_completed().
 * Each stage is bounded by the connection's deadline (conn.h).
 *
 * The main thread only waits: for SIGTERM/SIGINT (drain and stop), for
 * SIGHUP (reload.h re-reads the files at once), and to cut connections
 * past their deadline twice a second. The certificate and policy files are
 * watched by a thread of their own (reload.h).
 */
#include "webhook/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "certs/seal.h"
#include "mutators/json/strbuf.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "webhook/conn.h"
#include "webhook/log.h"
#include "webhook/metrics.h"
#include "webhook/outbox.h"
#include "webhook/peers.h"
#include "webhook/related.h"
#include "webhook/reload.h"
#include "webhook/review.h"
#include "webhook/routes.h"
#include "webhook/serverstate.h"
#include "webhook/sync.h"
#include "webhook/syncport.h"
#include "webhook/workers.h"

#define SERVER_ERR_MAX 512
#define SERVER_MMAP_THRESHOLD (256 * 1024)
#define SERVER_TRIM_THRESHOLD (1024 * 1024)
#define CORK_MAX (15 * 1024)        /* answers written as one TLS record (16 KiB with the header) */
#define SWEEP_MS 500                /* how often deadlines are checked */

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

static void text_reply(struct reply *out, unsigned status, const char *text)
{
    out->status = status;
    out->body = strdup(text);
    out->len = out->body ? strlen(out->body) : 0;
    out->content_type = "text/plain; charset=utf-8";
}

static struct policy *current_policy(struct server *s)
{
    return reload_policy_ref(&s->reload);
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

typedef void route_fn(struct server *s, struct request *r, struct reply *out);

/* the TLS port's handler of each route (routes.h) */
static route_fn *const handlers[ROUTES_COUNT] = {
    [ROUTES_MUTATE] = do_mutate,   [ROUTES_VALIDATE] = do_validate, [ROUTES_SYNC] = do_sync,
    [ROUTES_CUSTOMIZE] = do_customize, [ROUTES_HEALTHZ] = do_healthz, [ROUTES_READYZ] = do_readyz,
    [ROUTES_METRICS] = do_metrics,
};

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

static void count_refusal(struct server *s, unsigned status)
{
    metrics_denial(&s->metrics, status == 413 ? MD_TOO_LARGE : MD_UNAVAILABLE);
}

enum MHD_Result server_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct server *s = cls;
    struct request *r = *req_cls;
    const struct routes_entry *rt = routes_find(url, 0);
    struct reply rep = { .result = MR_OK, .kind = MK_NONE, .op = MO_NONE };
    enum metrics_path mp = metrics_path_of(url);
    enum MHD_Result ret;
    long long length;
    int early = 0, refused;

    (void)version;
    if (workers_self)
        workers_self->moved = 1;    /* bytes GnuTLS held may feed a request with no read */
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        *req_cls = r;
        atomic_fetch_add(&s->metrics.in_flight, 1);
        r->k = conn_of(c);
        if (r->k) {
            r->k->awaiting = 1;     /* until conn_drop_body() */
            r->k->body_begun = (long long)r->start.tv_sec * 1000 + r->start.tv_nsec / 1000000;
            if (r->k->idle) {
                /* a head GnuTLS had already read with the previous one */
                r->k->idle = 0;
                r->k->begun = r->k->body_begun;
            }
            conn_due_by(s, r->k, r->k->body_begun + (long long)s->cfg->header_timeout * 1000);
        }
        length = routes_content_length(c, s->cfg->max_body);
        if (rt && routes_method_ok(rt, method) && length >= 0) {
            r->expect = (size_t)length;
            return MHD_YES;
        }
        /* answered before the body is read; MHD then closes the connection */
        if (!rt)
            text_reply(&rep, MHD_HTTP_NOT_FOUND, "not found\n");
        else if (!routes_method_ok(rt, method))
            text_reply(&rep, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n"), rep.allow = rt->method;
        else
            r->too_large = 413;
        early = 1;
        outbox_write_through(c);
    } else if (*upload_data_size) {
        refused = conn_collect(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (!refused)
            return MHD_YES;
        /* cut at the limit, answered at once */
        conn_drop_body(s, r);
        count_refusal(s, (unsigned)refused);
        metrics_request(&s->metrics, mp, MK_NONE, MO_NONE, MR_ERROR, since(&r->start));
        metrics_response(&s->metrics, mp, (unsigned)refused);
        conn_refuse_now(c, r->k, (unsigned)refused);
        return MHD_NO;
    }
    if (!rep.body && r->too_large) {
        text_reply(&rep, MHD_HTTP_CONTENT_TOO_LARGE, "request body is larger than the limit\n");
        count_refusal(s, 413);
    }
    if (!rep.body && !rep.status)
        handlers[rt->id](s, r, &rep);
    if (rep.status >= 400 && rep.result == MR_OK)
        rep.result = MR_ERROR;
    metrics_request(&s->metrics, mp, rep.kind, rep.op, rep.result, since(&r->start));
    metrics_response(&s->metrics, mp, rep.status);
    conn_drop_body(s, r);
    if (r->k)
        conn_due_by(s, r->k, conn_now_ms() + (long long)s->cfg->request_timeout * 1000);
    ret = send_reply(s, c, early ? NULL : r, &rep);
    return ret;
}

void server_completed(void *cls, struct MHD_Connection *c, void **req_cls,
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
        conn_answered(s, k);
        k->idle = 1;
        atomic_store(&k->deadline, conn_now_ms() + ((long long)s->cfg->connection_timeout + 1) * 1000);
    }
    /* The corked answer goes to the outbox as one record; an outbox that
     * cannot take it (a client not reading its answers) ends the
     * connection, as nothing would write the rest. */
    if (r->corked && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && gnutls_record_uncork(r->corked, 0) < 0 &&
        (ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)))
        shutdown(ci->connect_fd, SHUT_RDWR);
    atomic_fetch_sub(&s->metrics.in_flight, 1);
    conn_drop_body(s, r);
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
    workers_stop_accepting(s);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        wait_signal(set, 50);
    while ((left = atomic_load(&s->metrics.in_flight)) > 0 && since(&t0) < s->cfg->drain_timeout);
    if (left > 0)
        LOG(LOG_WARN, "drain timeout: cutting the requests in flight (%d)", left);
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
    struct server s = { .cfg = cfg, .conns_lock = PTHREAD_MUTEX_INITIALIZER,
                        .slots_lock = PTHREAD_MUTEX_INITIALIZER, .slot_freed = PTHREAD_COND_INITIALIZER,
                        .listen_fd = MHD_INVALID_SOCKET };
    struct sockaddr_storage addr;
    char err[SERVER_ERR_MAX];
    unsigned long long refused = 0;
    int have_peers = 0, rc = 1;
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
    if (reload_init(&s.reload, cfg, &s.metrics) < 0)
        return 1;
    s.per_address = cfg->max_per_address ? cfg->max_per_address : (cfg->max_connections + 3) / 4;
    if (peers_init(&s.peers, cfg->max_connections) < 0)
        goto out;
    have_peers = 1;
    if (load_seal(&s, err, sizeof(err)) < 0) {
        LOG(LOG_ERROR, "%s", err);
        goto out;
    }
    /* every thread started from here inherits the mask: only this one
     * takes the signals. SIGHUP is "reload now": the files are read again
     * whatever their signature, and nothing else changes. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cfg->sync_listen && !(s.syncport = syncport_start(cfg, syncport_policy, &s, &s.sealer)))
        goto out;
    s.listen_fd = workers_listen(&addr);
    if (s.listen_fd == MHD_INVALID_SOCKET || workers_start(&s, cfg->threads ? cfg->threads : workers_cores()) < 0) {
        LOG(LOG_ERROR, "cannot listen on %s: %s", cfg->listen, strerror(errno));
        goto out;
    }
    if (reload_start(&s.reload) < 0) {
        LOG(LOG_ERROR, "cannot start the reload thread");
        workers_stop(&s, s.nworkers);
        goto out;
    }
    LOG(LOG_INFO, "serving on %s", cfg->listen);
    /* this thread only sweeps deadlines and waits for signals; the files
     * are checked by the reload thread (reload.h) */
    for (;;) {
        sig = wait_signal(&set, cfg->reload_interval_ms < SWEEP_MS ? cfg->reload_interval_ms : SWEEP_MS);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        conn_sweep(&s);
        note_refused(&s, &refused);
        if (sig == SIGHUP) {
            LOG(LOG_INFO, "SIGHUP: reloading the certificate and the policy");
            reload_now(&s.reload);
        }
    }
    LOG(LOG_INFO, "signal %d: shutting down", sig);
    drain(&s, &set);
    syncport_stop(s.syncport);
    s.syncport = NULL;
    workers_stop(&s, s.nworkers);
    LOG(LOG_INFO, "stopped");
    rc = 0;
out:
    syncport_stop(s.syncport);
    if (s.listen_fd != MHD_INVALID_SOCKET)
        close(s.listen_fd);
    seal_keys_release(&s.seal_keys);
    reload_release(&s.reload);
    if (have_peers)
        peers_release(&s.peers);
    return rc;
}
