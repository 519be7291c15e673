/*
 * routes.h - the one table of the server's endpoints, for both ports.
 *
 * The TLS port serves every route; the plain port of --sync-listen
 * (syncport.h) only those marked plain: Metacontroller's hooks and
 * /healthz. Each port maps a route's id to its handler.
 */
#ifndef ROUTES_H
#define ROUTES_H

#include <microhttpd.h>

enum routes_id {
    ROUTES_MUTATE,
    ROUTES_VALIDATE,
    ROUTES_SYNC,
    ROUTES_CUSTOMIZE,
    ROUTES_HEALTHZ,
    ROUTES_READYZ,
    ROUTES_METRICS,
    ROUTES_COUNT
};

struct routes_entry {
    const char *path;
    const char *method;     /* GET routes also answer HEAD */
    enum routes_id id;
    int plain;              /* 1: also served on the plain --sync-listen port */
};

/* The route of url (an exact path), or NULL; with plain, only routes the
 * plain port serves. */
const struct routes_entry *routes_find(const char *url, int plain);

/* 1 when method is the route's (HEAD for a GET route), else 0. */
int routes_method_ok(const struct routes_entry *rt, const char *method);

/* The request's Content-Length: 0 without one, -1 when it is not a number
 * or announces more than max bytes. Both ports refuse such a body before
 * reading it. */
long long routes_content_length(struct MHD_Connection *c, unsigned long long max);

#endif
