/*
 * routes.c - the one table of endpoints (see routes.h).
 */
#include "webhook/routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct routes_entry routes[] = {
    { "/mutate", "POST", ROUTES_MUTATE, 0 },
    { "/validate", "POST", ROUTES_VALIDATE, 0 },
    { "/sync", "POST", ROUTES_SYNC, 1 },
    { "/customize", "POST", ROUTES_CUSTOMIZE, 1 },
    { "/healthz", "GET", ROUTES_HEALTHZ, 1 },
    { "/readyz", "GET", ROUTES_READYZ, 0 },
    { "/metrics", "GET", ROUTES_METRICS, 0 },
};

const struct routes_entry *routes_find(const char *url, int plain)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcmp(routes[i].path, url))
            return plain && !routes[i].plain ? NULL : &routes[i];
    return NULL;
}

int routes_method_ok(const struct routes_entry *rt, const char *method)
{
    return !strcmp(rt->method, method) || (!strcmp(rt->method, "GET") && !strcmp(method, "HEAD"));
}

long long routes_content_length(struct MHD_Connection *c, unsigned long long max)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long n;

    if (!cl)
        return 0;
    errno = 0;
    n = strtoull(cl, &end, 10);
    if (errno != 0 || end == cl || n > max)
        return -1;
    return (long long)n;
}
