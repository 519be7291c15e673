/*
 * syncport.c - the plain-HTTP port of the Metacontroller hooks (see
 * syncport.h): a libmicrohttpd daemon with its own listening socket and
 * thread pool, next to the TLS server, sharing its configuration and its
 * policy.
 */
#include "webhook/syncport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mutators/json/arena.h"
#include "mutators/policy.h"
#include "webhook/log.h"
#include "webhook/related.h"
#include "webhook/routes.h"
#include "webhook/server.h"
#include "webhook/sync.h"

#define ADDR_MAX          (INET6_ADDRSTRLEN + 2)
#define CONNECTION_MEMORY (16 * 1024) /* as the TLS port: request line and headers */
#define BODY_CHUNK        16384       /* first allocation of a body */
#define ERR_MAX           256         /* a start-up error message */

struct syncport {
    const struct server_config *cfg;
    syncport_policy_fn *policy;
    void *cls;
    const struct sealer *sealer;
    struct MHD_Daemon *daemon;
    atomic_size_t buffered; /* bytes of bodies held, all connections */
};

/* A hook: body in, HTTP status and malloc'd answer out. */
typedef int hook_fn(struct syncport *sp, const char *body, size_t len, char **out, size_t *outlen);

static hook_fn do_sync, do_customize, do_healthz;

/* the plain port's handler of each route it serves (routes.h), and the
 * content type of its 200 (other answers are plain text) */
static const struct {
    hook_fn *fn;
    const char *content_type;
} hooks[ROUTES_COUNT] = {
    [ROUTES_SYNC] = { do_sync, "application/json" },
    [ROUTES_CUSTOMIZE] = { do_customize, "application/json" },
    [ROUTES_HEALTHZ] = { do_healthz, "text/plain; charset=utf-8" },
};

struct request {
    char *body;
    size_t len, cap;
    size_t expect; /* its Content-Length; 0: none given */
    int too_large; /* 1: over --max-body; 2: over --max-buffered */
};

static int do_sync(struct syncport *sp, const char *body, size_t len, char **out, size_t *outlen)
{
    struct policy *p = sp->policy(sp->cls);
    int status = sync_handle(body, len, p, sp->sealer, out, outlen);

    policy_unref(p);
    return status;
}

static int do_customize(struct syncport *sp, const char *body, size_t len, char **out, size_t *outlen)
{
    (void)sp;
    return related_customize(body, len, out, outlen);
}

static int do_healthz(struct syncport *sp, const char *body, size_t len, char **out, size_t *outlen)
{
    (void)sp, (void)body, (void)len;
    *out = strdup("ok\n");
    *outlen = *out ? 3 : 0;
    return 200;
}

/* Queues status with body (malloc'd, taken over; NULL: out of memory) of
 * content type type (NULL: plain text). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             const char *type, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!body)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type ? type : "text/plain; charset=utf-8");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
                                  const char *allow)
{
    char *body = strdup(text);

    return reply(c, status, body, body ? strlen(body) : 0, NULL, allow);
}

/* Appends a chunk under --max-body and the shared --max-buffered budget;
 * past either the rest is dropped and the request marked. */
static void collect(struct syncport *sp, struct request *r, const char *data, size_t n)
{
    size_t cap;
    char *nb;

    if (r->too_large)
        return;
    if (n > sp->cfg->max_body - r->len) {
        r->too_large = 1;
        return;
    }
    if (r->len + n > r->cap) {
        cap = r->cap ? r->cap : BODY_CHUNK;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > sp->cfg->max_body)
            cap = sp->cfg->max_body;
        if (atomic_fetch_add(&sp->buffered, cap - r->cap) + (cap - r->cap) > sp->cfg->max_buffered) {
            atomic_fetch_sub(&sp->buffered, cap - r->cap);
            r->too_large = 2;
            return;
        }
        nb = realloc(r->body, cap);
        if (!nb) {
            atomic_fetch_sub(&sp->buffered, cap - r->cap);
            r->too_large = 2;
            return;
        }
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
}

/* Acknowledges at once what came of a body still being received, so a
 * client with Nagle's algorithm on sends its held tail without waiting
 * for Linux's delayed ACK (40 ms; see conn_collect() in conn.c). */
static void quickack(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int one = 1;

    if (ci)
        setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
    struct syncport *sp = cls;
    struct request *r = *req_cls;
    const struct routes_entry *rt = routes_find(url, 1);
    char *out = NULL;
    size_t outlen = 0;
    long long length;
    int status, used;

    (void)version;
    if (!r) {
        /* answered before the body is read; MHD then closes the connection */
        if (!rt)
            return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
        if (!routes_method_ok(rt, method))
            return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", rt->method);
        length = routes_content_length(c, sp->cfg->max_body);
        if (length < 0)
            return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body is larger than the limit\n", NULL);
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->expect = (size_t)length;
        *req_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        collect(sp, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (r->expect == 0 || r->len < r->expect)
            quickack(c);    /* a whole body needs none: the answer carries it */
        return MHD_YES;
    }
    if (r->too_large == 2)
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too many request bodies in flight; retry\n",
                          NULL);
    if (r->too_large)
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body is larger than the limit\n", NULL);
    status = hooks[rt->id].fn(sp, r->body ? r->body : "", r->len, &out, &outlen);
    /* libmicrohttpd's threads have no quiet-spell round to give a large
     * arena chunk back in (workers.c cool()): they keep none */
    if (arena_large_kept(&used))
        arena_drop_large();
    if (!out)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    return reply(c, (unsigned)status, out, outlen, status == 200 ? hooks[rt->id].content_type : NULL, NULL);
}

/* Frees a request's body and gives its bytes back to the budget. */
static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct syncport *sp = cls;
    struct request *r = *req_cls;

    (void)c, (void)toe;
    if (!r)
        return;
    atomic_fetch_sub(&sp->buffered, r->cap);
    free(r->body);
    free(r);
    *req_cls = NULL;
}

int syncport_parse_addr(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char host[ADDR_MAX];
    size_t hlen;
    char *end;
    long port;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (!colon)
        goto bad;
    hlen = (size_t)(colon - listen);
    if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
        listen++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host))
        goto bad;
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        goto bad;
    if (hlen == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
bad:
    snprintf(err, errlen, "--sync-listen %s: want ADDR:PORT with a numeric address", listen ? listen : "");
    return -1;
}

struct syncport *syncport_start(const struct server_config *cfg, syncport_policy_fn *policy, void *cls,
                                const struct sealer *sealer)
{
    struct syncport *sp = calloc(1, sizeof(*sp));
    struct sockaddr_storage addr;
    char err[ERR_MAX];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

    if (!sp) {
        LOG(LOG_ERROR, "--sync-listen: out of memory");
        return NULL;
    }
    if (syncport_parse_addr(cfg->sync_listen, &addr, err, sizeof(err)) < 0) {
        LOG(LOG_ERROR, "%s", err);
        free(sp);
        return NULL;
    }
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    sp->cfg = cfg;
    sp->policy = policy;
    sp->cls = cls;
    sp->sealer = sealer;
    // clang-format off
    sp->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, sp,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)SYNCPORT_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, completed, sp,
        MHD_OPTION_END);
    // clang-format on
    if (!sp->daemon) {
        LOG(LOG_ERROR, "cannot listen on %s (--sync-listen): %s", cfg->sync_listen, strerror(errno));
        free(sp);
        return NULL;
    }
    LOG(LOG_INFO, "serving /sync, /customize and /healthz over plain HTTP on %s", cfg->sync_listen);
    return sp;
}

void syncport_stop(struct syncport *sp)
{
    if (!sp)
        return;
    MHD_stop_daemon(sp->daemon);
    free(sp);
}
