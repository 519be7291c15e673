/*
 * server.h - the HTTPS server: routing, limits, reloads, draining.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#define SERVER_MAX_BODY_DEFAULT (3u * 1024 * 1024)  /* the apiserver's own request limit */
#define SERVER_MAX_BUFFERED_DEFAULT (24u * 1024 * 1024) /* all bodies held at once */
#define SERVER_MIN_BODY_RATE_DEFAULT (1024u * 1024)    /* bytes per second a body must keep up */

struct server_config {
    const char *listen;             /* "ADDR:PORT" or "[ADDR]:PORT"; default 0.0.0.0:8443 */
    const char *sync_listen;        /* plain-HTTP port of the Metacontroller hooks (webhook/syncport.h); NULL: none */
    const char *cert_file;
    const char *key_file;
    const char *policy_file;        /* NULL: built-in settings */
    const char *seal_key_file;      /* admission seal key; NULL: derived from key_file */
    const char *seal_key_previous;  /* a former seal key, still verified; may be NULL */
    size_t max_body;                /* bytes; larger bodies get 413 */
    size_t max_buffered;            /* bytes of all bodies held at once; past it 503 */
    unsigned threads;               /* worker threads; 0 = one per usable core */
    unsigned max_connections;       /* open connections at once */
    unsigned connection_timeout;    /* seconds a connection may idle */
    unsigned request_timeout;       /* seconds from a request's first byte to its answer */
    unsigned header_timeout;        /* seconds to a complete head, from accept or a request's first byte */
    size_t min_body_rate;           /* bytes per second a body must keep up, after header_timeout */
    unsigned max_per_address;       /* unanswered connections from one address; 0 = max_connections / 4 */
    unsigned reload_interval_ms;    /* how often certificate and policy files are checked */
    unsigned shutdown_delay;        /* seconds to keep serving with /readyz 503 after SIGTERM */
    unsigned drain_timeout;         /* seconds the requests in flight get after that */
};

/* Fills cfg with the defaults. */
void server_config_init(struct server_config *cfg);

/* Serves until SIGTERM or SIGINT, then drains and returns 0; returns 1 when
 * the server cannot start (the reason is logged). */
int server_run(const struct server_config *cfg);

#endif
